//! The StackSets deployment itself: every instance where it belongs, the
//! wiring and the security settings an operator would check in the
//! console, the read role's trust enforced at the wire, and `remove`
//! taking it all away again except what is kept on purpose.

use std::collections::BTreeSet;

use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::QueueAttributeName;
use fanin::ids::{AccountId, Region};
use fanin_devstack::deployment::{self, account_config};
use fanin_devstack::scenario::{CENTRAL_ACCOUNT, LocalStack, PRIMARY_REGION, sdk_config};
use serde_json::{Value, json};

const ACCOUNTS: [&str; 3] = ["111111111111", "222222222222", "333333333333"];
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
/// ca-central-1 never had Inspector Classic: no topic, no forwarder there,
/// but its Inspector2 findings are forwarded all the same.
const WITHOUT_CLASSIC: &str = "ca-central-1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stacksets_create_the_wiring_securely_and_remove_it_cleanly() {
    let stack = LocalStack::start().await.unwrap();
    let all_regions = [REGIONS[0], REGIONS[1], WITHOUT_CLASSIC];
    let deployed = deployment::deploy(&stack, &ACCOUNTS, &all_regions)
        .await
        .unwrap();
    let outputs = &deployed.outputs;
    let instances = |set: &str| -> BTreeSet<String> {
        outputs[set]
            .as_object()
            .map(|i| i.keys().cloned().collect())
            .unwrap_or_default()
    };
    let every = |accounts: &[&str], regions: &[&str]| -> BTreeSet<String> {
        accounts
            .iter()
            .flat_map(|a| regions.iter().map(move |r| format!("{a}/{r}")))
            .collect()
    };
    // Every instance where the order of the issue puts it, with outputs.
    assert_eq!(
        instances("fanin-artifacts"),
        every(&[CENTRAL_ACCOUNT], &all_regions)
    );
    assert_eq!(
        instances("fanin-central-primary"),
        every(&[CENTRAL_ACCOUNT], &[PRIMARY_REGION])
    );
    assert_eq!(
        instances("fanin-central-exposure"),
        every(&[CENTRAL_ACCOUNT], &[PRIMARY_REGION])
    );
    assert_eq!(
        instances("fanin-central-privileges"),
        every(&[CENTRAL_ACCOUNT], &[PRIMARY_REGION])
    );
    assert_eq!(
        instances("fanin-central-regional"),
        every(&[CENTRAL_ACCOUNT], &all_regions)
    );
    assert_eq!(
        instances("fanin-application-global"),
        every(&ACCOUNTS, &[PRIMARY_REGION])
    );
    assert_eq!(
        instances("fanin-application-regional"),
        every(&ACCOUNTS, &all_regions)
    );
    let primary = &outputs["fanin-central-primary"][format!("{CENTRAL_ACCOUNT}/{PRIMARY_REGION}")];
    let out = |key: &str| primary[key].as_str().unwrap().to_owned();
    let central = &deployed.central;

    // Each region's Inspector Classic topic delivers to the central queue.
    for region in REGIONS {
        let topic = &central.topic_arns[region];
        assert_eq!(
            topic,
            &format!("arn:aws:sns:{region}:{CENTRAL_ACCOUNT}:fanin-inspector-classic")
        );
        let sns = aws_sdk_sns::Client::new(&stack.moto_config(region, None));
        let subscriptions = sns
            .list_subscriptions_by_topic()
            .topic_arn(topic)
            .send()
            .await
            .unwrap();
        let endpoints: Vec<_> = subscriptions
            .subscriptions()
            .iter()
            .map(|s| (s.protocol().unwrap(), s.endpoint().unwrap()))
            .collect();
        assert_eq!(endpoints, vec![("sqs", central.queue_arn.as_str())]);
    }
    let regional = |set: &str, account: &str, key: &str| {
        outputs[set][format!("{account}/{WITHOUT_CLASSIC}")][key].clone()
    };
    assert_eq!(
        regional("fanin-central-regional", CENTRAL_ACCOUNT, "TopicArn"),
        "none"
    );
    assert!(!central.topic_arns.contains_key(WITHOUT_CLASSIC));
    for account in ACCOUNTS {
        assert_eq!(
            regional(
                "fanin-application-regional",
                account,
                "ForwarderFunctionName"
            ),
            "none"
        );
    }

    // The queue: KMS with the fanin key, the DLQ after maxReceiveCount 10
    // (AWS: at least 5 for a Lambda source, so a run of collector crashes
    // does not dead-letter valid messages), a visibility timeout of at least
    // six times the function timeout plus the batching window, retention
    // beyond a weekend.
    let sqs = aws_sdk_sqs::Client::new(&stack.moto_config(PRIMARY_REGION, None));
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&central.queue_url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let attribute = |name: QueueAttributeName| attributes.attributes().unwrap()[&name].clone();
    let queue_key = attribute(QueueAttributeName::KmsMasterKeyId);
    assert!(
        out("KeyArn").ends_with(&format!(":key/{queue_key}")),
        "{queue_key}"
    );
    assert!(
        attribute(QueueAttributeName::MessageRetentionPeriod)
            .parse::<u64>()
            .unwrap()
            >= 3 * 86_400
    );
    let redrive: Value =
        serde_json::from_str(&attribute(QueueAttributeName::RedrivePolicy)).unwrap();
    assert_eq!(deployed.mapping.max_receive_count, 10);
    let visibility: i64 = attribute(QueueAttributeName::VisibilityTimeout)
        .parse()
        .unwrap();
    let central_lambda = aws_sdk_lambda::Client::new(&stack.moto_config(PRIMARY_REGION, None));
    let collector = central_lambda
        .get_function_configuration()
        .function_name(&central.collector_function)
        .send()
        .await
        .unwrap();
    let function_timeout = i64::from(collector.timeout().unwrap());
    let window = i64::from(deployed.mapping.maximum_batching_window_seconds);
    assert!(
        visibility >= 6 * function_timeout + window,
        "visibility {visibility} s < 6 x {function_timeout} s + {window} s"
    );
    assert!(
        redrive["deadLetterTargetArn"]
            .as_str()
            .unwrap()
            .ends_with(":fanin-findings-dlq")
    );
    assert!(deployed.mapping.report_batch_item_failures);

    // The bucket: SSE-KMS with the fanin key, and the collector writes with
    // that key. (moto does not apply a template's public access block; the
    // template checks cover it.)
    let s3 = aws_sdk_s3::Client::new(&stack.moto_config(PRIMARY_REGION, None));
    let encryption = s3
        .get_bucket_encryption()
        .bucket(&central.bucket)
        .send()
        .await
        .unwrap();
    let rule = &encryption
        .server_side_encryption_configuration()
        .unwrap()
        .rules()[0];
    let default = rule.apply_server_side_encryption_by_default().unwrap();
    assert_eq!(default.sse_algorithm().as_str(), "aws:kms");
    assert_eq!(default.kms_master_key_id(), Some(out("KeyArn").as_str()));
    let env = &deployed.collector_environment;
    assert_eq!(env["FANIN_S3_SSE"], "aws:kms");
    assert_eq!(env["FANIN_S3_KMS_KEY_ID"], out("KeyArn"));
    assert_eq!(env["FANIN_BUCKET"], central.bucket);

    // The read role of every application account trusts only the collector,
    // coverage, exposure and privileges roles, only with the ExternalId, and
    // may only read.
    for account in ACCOUNTS {
        let iam = iam_of(&stack, account).await;
        let role = iam
            .get_role()
            .role_name(&central.read_role_name)
            .send()
            .await
            .unwrap();
        let trust: Value = serde_json::from_str(&urlencoding_decode(
            role.role().unwrap().assume_role_policy_document().unwrap(),
        ))
        .unwrap();
        let statement = &trust["Statement"][0];
        assert_eq!(
            statement["Principal"]["AWS"],
            json!([
                out("CollectorRoleArn"),
                format!("arn:aws:iam::{CENTRAL_ACCOUNT}:role/fanin-coverage"),
                deployed.exposure.role_arn,
                deployed.privileges.role_arn
            ])
        );
        assert_eq!(
            statement["Condition"]["StringEquals"]["sts:ExternalId"],
            central.external_id
        );
        let policy = iam
            .get_role_policy()
            .role_name(&central.read_role_name)
            .policy_name("read-findings-and-network-context")
            .send()
            .await
            .unwrap();
        let policy = policy_json(&urlencoding_decode(policy.policy_document()));
        let mut actions: Vec<&str> = policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| match &s["Action"] {
                Value::Array(actions) => actions.iter().map(|a| a.as_str().unwrap()).collect(),
                single => vec![single.as_str().unwrap()],
            })
            .collect();
        actions.sort_unstable();
        assert_eq!(
            actions,
            [
                "cloudtrail:LookupEvents",
                "ec2:DescribeInstances",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSecurityGroupRules",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeVpcPeeringConnections",
                "ec2:DescribeVpcs",
                "events:DescribeRule",
                "iam:GetAccountAuthorizationDetails",
                "inspector:DescribeFindings",
                "inspector:ListAssessmentTemplates",
                "inspector:ListEventSubscriptions",
                "lambda:GetFunctionConfiguration"
            ]
        );
    }

    // Each application region forwards Inspector2 findings to the central
    // bus of the outputs, through the event-forwarding role of its account.
    for account in ACCOUNTS {
        let global = &outputs["fanin-application-global"][format!("{account}/{PRIMARY_REGION}")];
        assert_eq!(
            global["ReadRoleArn"],
            format!("arn:aws:iam::{account}:role/{}", central.read_role_name)
        );
        for region in all_regions {
            let config = account_config(&stack, account, region).await.unwrap();
            let events = aws_sdk_eventbridge::Client::new(&config);
            let rule = outputs["fanin-application-regional"][format!("{account}/{region}")]
                ["Inspector2RuleArn"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned();
            let targets = events
                .list_targets_by_rule()
                .rule(&rule)
                .send()
                .await
                .unwrap();
            let target = &targets.targets()[0];
            assert_eq!(target.arn(), out("BusArn"));
            assert_eq!(target.role_arn(), global["EventForwardRoleArn"].as_str());
        }
    }

    // Every fanin role carries the fanin permissions boundary of its own
    // account, and the boundary is there (moto does not enforce boundaries;
    // scripts/check-templates checks their content).
    let central_iam = iam_of(&stack, CENTRAL_ACCOUNT).await;
    let mut bounded = vec![
        (CENTRAL_ACCOUNT, "fanin-collector"),
        (CENTRAL_ACCOUNT, "fanin-replay"),
    ];
    for account in ACCOUNTS {
        for role in [
            central.read_role_name.as_str(),
            "fanin-forwarder",
            "fanin-event-forward",
            "fanin-assessment-run",
            "fanin-guard",
        ] {
            bounded.push((account, role));
        }
    }
    for (account, role) in bounded {
        let iam = iam_of(&stack, account).await;
        let boundary_arn = format!("arn:aws:iam::{account}:policy/fanin-permissions-boundary");
        let got = iam.get_role().role_name(role).send().await.unwrap();
        let boundary = got.role().unwrap().permissions_boundary();
        assert_eq!(
            boundary.and_then(|b| b.permissions_boundary_arn()),
            Some(boundary_arn.as_str()),
            "{account} {role}"
        );
        iam.get_policy()
            .policy_arn(&boundary_arn)
            .send()
            .await
            .unwrap();
    }

    // The replay role: assumable by the central account, may only send to
    // the findings queue.
    let replay = central_iam
        .get_role()
        .role_name("fanin-replay")
        .send()
        .await
        .unwrap();
    assert_eq!(replay.role().unwrap().arn(), out("ReplayRoleArn"));
    let trust: Value = serde_json::from_str(&urlencoding_decode(
        replay
            .role()
            .unwrap()
            .assume_role_policy_document()
            .unwrap(),
    ))
    .unwrap();
    assert_eq!(
        trust["Statement"][0]["Principal"]["AWS"],
        format!("arn:aws:iam::{CENTRAL_ACCOUNT}:root")
    );
    let replay_policy = central_iam
        .get_role_policy()
        .role_name("fanin-replay")
        .policy_name("replay")
        .send()
        .await
        .unwrap();
    let replay_policy = policy_json(&urlencoding_decode(replay_policy.policy_document()));
    let send = &replay_policy["Statement"][0];
    assert_eq!(send["Action"], "sqs:SendMessage");
    assert_eq!(send["Resource"], central.queue_arn);

    // The functions pin the version of the code object whose SHA-256
    // fanin-deploy compared: each region's own version.
    let artifacts = deployment::local_artifacts().await.unwrap();
    let cloudformation =
        aws_sdk_cloudformation::Client::new(&stack.moto_config(PRIMARY_REGION, None));
    let instance_parameter =
        |set: &'static str, account: &'static str, region: &'static str, key: &'static str| {
            let cloudformation = cloudformation.clone();
            async move {
                let instance = cloudformation
                    .describe_stack_instance()
                    .stack_set_name(set)
                    .stack_instance_account(account)
                    .stack_instance_region(region)
                    .send()
                    .await
                    .unwrap();
                let overridden = instance
                    .stack_instance()
                    .unwrap()
                    .parameter_overrides()
                    .iter()
                    .find(|p| p.parameter_key() == Some(key))
                    .and_then(|p| p.parameter_value())
                    .map(str::to_owned);
                if overridden.is_some() {
                    return overridden;
                }
                // A StackSet of one region carries the value itself.
                cloudformation
                    .describe_stack_set()
                    .stack_set_name(set)
                    .send()
                    .await
                    .unwrap()
                    .stack_set()
                    .unwrap()
                    .parameters()
                    .iter()
                    .find(|p| p.parameter_key() == Some(key))
                    .and_then(|p| p.parameter_value())
                    .map(str::to_owned)
            }
        };
    let code_object = |region: &'static str, key: String| {
        let s3 = aws_sdk_s3::Client::new(&stack.moto_config(region, None));
        async move {
            s3.head_object()
                .bucket(format!("fanin-code-123456789012-{region}"))
                .key(key)
                .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
                .send()
                .await
                .unwrap()
        }
    };
    let collector_object = code_object(PRIMARY_REGION, artifacts.collector_key()).await;
    assert_eq!(
        collector_object.checksum_sha256(),
        Some(artifacts.collector.sha256_base64().as_str())
    );
    let pinned = instance_parameter(
        "fanin-central-primary",
        CENTRAL_ACCOUNT,
        PRIMARY_REGION,
        "CollectorCodeVersion",
    )
    .await;
    assert_eq!(pinned.as_deref(), collector_object.version_id());
    let exposure_object = code_object(PRIMARY_REGION, artifacts.exposure_key()).await;
    let pinned = instance_parameter(
        "fanin-central-exposure",
        CENTRAL_ACCOUNT,
        PRIMARY_REGION,
        "ExposureCodeVersion",
    )
    .await;
    assert_eq!(pinned.as_deref(), exposure_object.version_id());
    let privileges_object = code_object(PRIMARY_REGION, artifacts.privileges_key()).await;
    assert_eq!(
        privileges_object.checksum_sha256(),
        Some(artifacts.privileges.sha256_base64().as_str())
    );
    let pinned = instance_parameter(
        "fanin-central-privileges",
        CENTRAL_ACCOUNT,
        PRIMARY_REGION,
        "PrivilegesCodeVersion",
    )
    .await;
    assert_eq!(pinned.as_deref(), privileges_object.version_id());
    let mut forwarder_versions = BTreeSet::new();
    for region in all_regions {
        let object = code_object(region, artifacts.forwarder_key()).await;
        assert_eq!(
            object.checksum_sha256(),
            Some(artifacts.forwarder.sha256_base64().as_str())
        );
        for account in ACCOUNTS {
            let pinned = instance_parameter(
                "fanin-application-regional",
                account,
                region,
                "ForwarderCodeVersion",
            )
            .await;
            assert_eq!(pinned.as_deref(), object.version_id(), "{account}/{region}");
        }
        forwarder_versions.insert(object.version_id().unwrap().to_owned());
    }
    assert_eq!(
        forwarder_versions.len(),
        all_regions.len(),
        "one version per region's bucket"
    );

    // The security-group guard in every application account and region:
    // its zip and its policy pinned to each region's own versions, the
    // policy object holding the repository's policy file, and the function's
    // environment pointing at exactly that object.
    let policy_file =
        std::fs::read(fanin_devstack::lambda_host::workspace_root().join("policies/guard.yaml"))
            .unwrap();
    for region in all_regions {
        let guard_object = code_object(region, artifacts.guard_key()).await;
        assert_eq!(
            guard_object.checksum_sha256(),
            Some(artifacts.guard.sha256_base64().as_str())
        );
        let policy_object = code_object(region, artifacts.guard_policy_key()).await;
        assert_eq!(
            policy_object.checksum_sha256(),
            Some(artifacts.guard_policy.sha256_base64().as_str())
        );
        let stored = aws_sdk_s3::Client::new(&stack.moto_config(region, None))
            .get_object()
            .bucket(format!("fanin-code-123456789012-{region}"))
            .key(artifacts.guard_policy_key())
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes();
        assert_eq!(stored.as_ref(), policy_file.as_slice(), "{region}");
        for account in ACCOUNTS {
            for (key, object) in [
                ("GuardCodeVersion", &guard_object),
                ("GuardPolicyVersion", &policy_object),
            ] {
                let pinned =
                    instance_parameter("fanin-application-regional", account, region, key).await;
                assert_eq!(
                    pinned.as_deref(),
                    object.version_id(),
                    "{key} {account}/{region}"
                );
            }
            let regional = &outputs["fanin-application-regional"][format!("{account}/{region}")];
            assert_eq!(regional["GuardFunctionName"], "fanin-guard");
            assert_eq!(regional["GuardConfigRuleName"], "fanin-security-groups");
            let config = account_config(&stack, account, region).await.unwrap();
            let guard = aws_sdk_lambda::Client::new(&config)
                .get_function_configuration()
                .function_name("fanin-guard")
                .send()
                .await
                .unwrap();
            let environment = guard.environment().unwrap().variables().unwrap();
            let expected = [
                (
                    "FANIN_GUARD_POLICY_BUCKET",
                    format!("fanin-code-123456789012-{region}"),
                ),
                ("FANIN_GUARD_POLICY_KEY", artifacts.guard_policy_key()),
                (
                    "FANIN_GUARD_POLICY_VERSION",
                    policy_object.version_id().unwrap().to_owned(),
                ),
                ("FANIN_GUARD_EVENT_BUS", "default".to_owned()),
                ("FANIN_GUARD_TOPIC_ARN", String::new()),
                (
                    "FANIN_GUARD_OWN_ROLES",
                    format!("arn:aws:iam::{account}:role/fanin-guard"),
                ),
                ("FANIN_GUARD_REMEDIATION", "false".to_owned()),
                ("FANIN_PARTITION", "aws".to_owned()),
            ];
            for (name, value) in expected {
                assert_eq!(
                    environment.get(name),
                    Some(&value),
                    "{name} {account}/{region}"
                );
            }
            assert_eq!(
                guard.role(),
                Some(format!("arn:aws:iam::{account}:role/fanin-guard").as_str())
            );
            // Security-group changes reach the function; its records go to
            // the central bus through the event-forwarding role.
            let events = aws_sdk_eventbridge::Client::new(&config);
            let changes = events
                .describe_rule()
                .name("fanin-guard-security-group-changes")
                .send()
                .await
                .unwrap();
            let pattern: Value = serde_json::from_str(changes.event_pattern().unwrap()).unwrap();
            assert_eq!(pattern["source"], json!(["aws.ec2"]));
            assert_eq!(
                pattern["detail"]["eventName"],
                json!([
                    "AuthorizeSecurityGroupIngress",
                    "AuthorizeSecurityGroupEgress",
                    "ModifySecurityGroupRules",
                    "RevokeSecurityGroupIngress",
                    "RevokeSecurityGroupEgress",
                    "CreateSecurityGroup"
                ])
            );
            let targets = events
                .list_targets_by_rule()
                .rule("fanin-guard-security-group-changes")
                .send()
                .await
                .unwrap();
            assert_eq!(targets.targets()[0].arn(), guard.function_arn().unwrap());
            let to_central = events
                .list_targets_by_rule()
                .rule("fanin-guard-to-central")
                .send()
                .await
                .unwrap();
            assert_eq!(to_central.targets()[0].arn(), out("BusArn"));
            assert_eq!(
                to_central.targets()[0].role_arn(),
                Some(format!("arn:aws:iam::{account}:role/fanin-event-forward").as_str())
            );
        }
    }
    // The guard's role may revoke but never add a rule while remediation is
    // off (the default): its only policy is the describe-and-revoke one.
    for account in ACCOUNTS {
        let iam = iam_of(&stack, account).await;
        let names = iam
            .list_role_policies()
            .role_name("fanin-guard")
            .send()
            .await
            .unwrap();
        assert_eq!(names.policy_names(), ["guard-security-groups"], "{account}");
        let policy = iam
            .get_role_policy()
            .role_name("fanin-guard")
            .policy_name("guard-security-groups")
            .send()
            .await
            .unwrap();
        let policy = policy_json(&urlencoding_decode(policy.policy_document()));
        let actions: Vec<String> = policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| !s.is_null())
            .flat_map(|s| match &s["Action"] {
                Value::Array(actions) => actions.clone(),
                single => vec![single.clone()],
            })
            .map(|a| a.as_str().unwrap().to_owned())
            .collect();
        assert!(
            actions.contains(&"ec2:RevokeSecurityGroupIngress".to_owned()),
            "{actions:?}"
        );
        assert!(
            !actions
                .iter()
                .any(|a| a.to_ascii_lowercase().starts_with("ec2:authorize")),
            "{account}: {actions:?}"
        );
    }

    // An object under the right key but with other bytes is not trusted:
    // the next deploy uploads the zip again (a new version) and pins that.
    let eu_code = aws_sdk_s3::Client::new(&stack.moto_config(REGIONS[1], None));
    let bucket = format!("fanin-code-123456789012-{}", REGIONS[1]);
    eu_code
        .put_object()
        .bucket(&bucket)
        .key(artifacts.forwarder_key())
        .body(b"PK\x03\x04 not the forwarder".to_vec().into())
        .send()
        .await
        .unwrap();
    let admin = stack.moto_config(PRIMARY_REGION, None);
    let again = fanin_deploy::deploy(
        &admin,
        &deployed.deployment,
        artifacts,
        deployment::EXTERNAL_ID,
    )
    .await
    .unwrap();
    let uploaded: Vec<(&str, &str)> = again
        .uploads
        .iter()
        .filter(|u| u.uploaded)
        .map(|u| (u.bucket.as_str(), u.key.as_str()))
        .collect();
    let forwarder_key = artifacts.forwarder_key();
    assert_eq!(
        uploaded,
        [(bucket.as_str(), forwarder_key.as_str())],
        "{again}"
    );
    let repaired = code_object(REGIONS[1], artifacts.forwarder_key()).await;
    assert_eq!(
        repaired.checksum_sha256(),
        Some(artifacts.forwarder.sha256_base64().as_str())
    );
    assert!(!forwarder_versions.contains(repaired.version_id().unwrap()));
    for account in ACCOUNTS {
        let pinned = instance_parameter(
            "fanin-application-regional",
            account,
            REGIONS[1],
            "ForwarderCodeVersion",
        )
        .await;
        assert_eq!(pinned.as_deref(), repaired.version_id(), "{account}");
    }

    // At the wire: the ExternalId is required.
    let sts = aws_sdk_sts::Client::new(&sdk_config(&stack.gateway.aws_url, PRIMARY_REGION, None));
    let role_arn = format!(
        "arn:aws:iam::{}:role/{}",
        ACCOUNTS[0], central.read_role_name
    );
    let denied = sts
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("check")
        .external_id("not-the-external-id")
        .send()
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Some("AccessDenied"));
    sts.assume_role()
        .role_arn(&role_arn)
        .role_session_name("check")
        .external_id(&central.external_id)
        .send()
        .await
        .unwrap();

    // remove: every StackSet and stack instance goes; the findings bucket
    // stays (DeletionPolicy: Retain), so no finding is lost by a tear-down.
    let report = fanin_deploy::teardown::teardown(&admin, &deployed.deployment)
        .await
        .unwrap();
    assert_eq!(report.deleted_stack_sets.len(), 7, "{report}");
    assert_eq!(
        report.deleted_instances,
        3 + 1 + 1 + 1 + 3 + 3 + 9,
        "{report}"
    );
    let cloudformation = aws_sdk_cloudformation::Client::new(&admin);
    let remaining = cloudformation.list_stack_sets().send().await.unwrap();
    assert!(
        remaining
            .summaries()
            .iter()
            .all(|s| s.status().map(|s| s.as_str()) == Some("DELETED")),
        "{remaining:?}"
    );
    for account in ACCOUNTS {
        let iam = iam_of(&stack, account).await;
        let gone = iam
            .get_role()
            .role_name(&central.read_role_name)
            .send()
            .await
            .unwrap_err();
        assert_eq!(gone.code(), Some("NoSuchEntity"), "{account}");
    }
    s3.head_bucket()
        .bucket(&central.bucket)
        .send()
        .await
        .unwrap();
    assert!(
        report.retained.iter().any(|r| r.contains(&central.bucket)),
        "{report}"
    );
    assert!(
        report
            .retained
            .iter()
            .any(|r| r.contains(&deployed.exposure.flow_log_bucket)),
        "{report}"
    );
    // The trail bucket and its key outlive the stack too, and are named.
    s3.head_bucket()
        .bucket(&deployed.privileges.trail_bucket)
        .send()
        .await
        .unwrap();
    for kept in [
        &deployed.privileges.trail_bucket,
        &deployed.privileges.key_arn,
        &deployed.privileges.dlq_url,
    ] {
        assert!(
            report.retained.iter().any(|r| r.contains(kept.as_str())),
            "{kept}: {report}"
        );
    }
}

/// IAM acting in `account`, as its administrator.
async fn iam_of(stack: &LocalStack, account: &str) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(
        &account_config(stack, account, PRIMARY_REGION)
            .await
            .unwrap(),
    )
}

/// moto 5.2 answers GetRolePolicy for a template's inline policy with the
/// Python form of the document (single quotes, and `None` where a statement
/// was `!If [.., .., !Ref AWS::NoValue]`, which AWS leaves out); IAM answers
/// JSON.
fn policy_json(text: &str) -> Value {
    serde_json::from_str(text)
        .or_else(|_| serde_json::from_str(&text.replace('\'', "\"").replace("None", "null")))
        .unwrap_or_else(|e| panic!("policy document is not JSON ({e}): {text}"))
}

/// IAM returns policy documents URL-encoded.
fn urlencoding_decode(text: &str) -> String {
    form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The service-managed definition deploys through AWS Organizations: the
/// central StackSets reach the central account through its OU, the
/// application StackSets every account of the application OU. (moto hides
/// service-managed instance stacks, so this checks the resources
/// themselves; outputs and remove are covered by the self-managed test.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_managed_definition_deploys_through_organizational_units() {
    let stack = LocalStack::start().await.unwrap();
    let organizations = Organizations::new(&stack.moto.url);
    let organization = organizations
        .call("CreateOrganization", json!({"FeatureSet": "ALL"}))
        .await;
    let organization_id = organization["Organization"]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    let root = organizations.call("ListRoots", json!({})).await["Roots"][0]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    let central_ou = organizations.create_ou(&root, "security").await;
    let application_ou = organizations.create_ou(&root, "workloads").await;
    let central = organizations
        .create_account("security", &central_ou, &root)
        .await;
    let applications = [
        organizations
            .create_account("app-one", &application_ou, &root)
            .await,
        organizations
            .create_account("app-two", &application_ou, &root)
            .await,
    ];

    let path = fanin_devstack::lambda_host::workspace_root()
        .join("stacksets/service-managed/deployment.json");
    let mut definition = fanin_deploy::Deployment::load(&path).unwrap();
    definition.administrator_account_id = AccountId::parse(CENTRAL_ACCOUNT).unwrap();
    definition.central_account_id = AccountId::parse(&central).unwrap();
    definition.central_organizational_unit_id = Some(central_ou.clone());
    definition.organization_id = organization_id;
    definition.primary_region = Region::parse(PRIMARY_REGION).unwrap();
    definition.regions = REGIONS.iter().map(|r| Region::parse(r).unwrap()).collect();
    definition.application_targets.organizational_unit_ids = vec![application_ou];
    definition.code_bucket_prefix = "fanin-code-123456789012".to_owned();
    definition.templates_directory =
        deployment::templates_for_moto(&definition.templates_directory).unwrap();
    deployment::use_local_opensearch(&stack, &mut definition);
    definition.validate().unwrap();
    // The deploying account keeps its code buckets in a self-managed StackSet.
    deployment::create_stack_set_roles(&stack, &definition, &[])
        .await
        .unwrap();
    // Each member account's administrator creates the permissions boundary
    // first (docs/deploy.md).
    let boundary = std::fs::read_to_string(
        fanin_devstack::lambda_host::workspace_root().join("stacksets/permissions-boundary.yaml"),
    )
    .unwrap();
    for account in std::iter::once(&central).chain(&applications) {
        deployment::create_permissions_boundary(&stack, account, &boundary)
            .await
            .unwrap();
    }
    let artifacts = deployment::local_artifacts().await.unwrap();
    let admin = stack.moto_config(PRIMARY_REGION, None);
    fanin_deploy::deploy(&admin, &definition, artifacts, deployment::EXTERNAL_ID)
        .await
        .unwrap();

    // The central resources are in the central account, found through its OU.
    let central_config = account_config(&stack, &central, PRIMARY_REGION)
        .await
        .unwrap();
    let queues = aws_sdk_sqs::Client::new(&central_config)
        .list_queues()
        .send()
        .await
        .unwrap();
    for queue in ["/fanin-findings", "/fanin-cloudtrail"] {
        assert!(
            queues.queue_urls().iter().any(|u| u.ends_with(queue)),
            "{queue}: {queues:?}"
        );
    }
    // The least-privilege function, with the trail bucket of that account.
    let privileges = aws_sdk_lambda::Client::new(&central_config)
        .get_function_configuration()
        .function_name("fanin-privileges")
        .send()
        .await
        .unwrap();
    assert_eq!(
        privileges.environment().unwrap().variables().unwrap()["FANIN_TRAIL_BUCKET"],
        format!("fanin-trail-{central}-{PRIMARY_REGION}")
    );
    for region in REGIONS {
        let config = account_config(&stack, &central, region).await.unwrap();
        let topics = aws_sdk_sns::Client::new(&config)
            .list_topics()
            .send()
            .await
            .unwrap();
        assert!(
            topics.topics().iter().any(|t| t.topic_arn()
                == Some(&format!(
                    "arn:aws:sns:{region}:{central}:fanin-inspector-classic"
                ))),
            "{topics:?}"
        );
    }
    // Every account of the application OU got the read role (trusting the
    // central account's collector) and a forwarder in every region.
    for account in &applications {
        let role = iam_of(&stack, account)
            .await
            .get_role()
            .role_name("fanin-collector-read")
            .send()
            .await
            .unwrap();
        let trust = urlencoding_decode(role.role().unwrap().assume_role_policy_document().unwrap());
        assert!(
            trust.contains(&format!("arn:aws:iam::{central}:role/fanin-collector")),
            "{trust}"
        );
        for region in REGIONS {
            let config = account_config(&stack, account, region).await.unwrap();
            let lambda = aws_sdk_lambda::Client::new(&config);
            let forwarder = lambda
                .get_function_configuration()
                .function_name("fanin-forwarder")
                .send()
                .await
                .unwrap();
            let env = forwarder.environment().unwrap().variables().unwrap();
            assert_eq!(env["FANIN_CENTRAL_ACCOUNT_ID"], central);
        }
    }
}

/// The few Organizations calls the test needs, sent to moto as AWS JSON 1.1.
struct Organizations {
    url: String,
    http: reqwest::Client,
}

impl Organizations {
    fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    async fn call(&self, operation: &str, body: Value) -> Value {
        self.http
            .post(&self.url)
            .header("X-Amz-Target", format!("AWSOrganizationsV20161128.{operation}"))
            .header("Content-Type", "application/x-amz-json-1.1")
            .header(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/organizations/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body(body.to_string())
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn create_ou(&self, parent: &str, name: &str) -> String {
        self.call(
            "CreateOrganizationalUnit",
            json!({"ParentId": parent, "Name": name}),
        )
        .await["OrganizationalUnit"]["Id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn create_account(&self, name: &str, ou: &str, root: &str) -> String {
        let created = self
            .call(
                "CreateAccount",
                json!({"AccountName": name, "Email": format!("{name}@example.com")}),
            )
            .await;
        let account = created["CreateAccountStatus"]["AccountId"]
            .as_str()
            .unwrap()
            .to_owned();
        self.call(
            "MoveAccount",
            json!({"AccountId": account, "SourceParentId": root, "DestinationParentId": ou}),
        )
        .await;
        account
    }
}
