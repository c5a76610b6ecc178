//! The security-group guard end to end, as issue 10 lists it: fanin deployed
//! by its StackSets for two application accounts in two regions, one
//! `fanin-guard` per account and region (the devstack's guard host), changes
//! played by an operator of each account with the EC2 SDK through the
//! gateway (which plays CloudTrail and EventBridge), and the AWS Config rule
//! played by the devstack. Asserted on what a user checks: the group's rules
//! in EC2, the compliance in Config, the records in S3 and the index.
//!
//! What each assertion depends on besides the local stack (written before
//! these parts were merged; the integrator adjusts them):
//! - [guard]: the `fanin-guard` binary (`target/debug/fanin-guard`) and its
//!   answer `{"kind": "change"|"compliance"|"ignored", ...}`;
//! - [policy]: `tests/fixtures/guard/e2e-policy.yaml` in the format
//!   `docs/guard.md` documents, deployed as the deployment's `GuardPolicy`
//!   with `GuardRemediation=true`;
//! - [record]: the guard record's and its OCSF document's field names
//!   ([`TIME_TO_REVERT_KEY`]), and the annotation's wording.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, Ipv6Range, ResourceType, Tag, TagSpecification,
};
use fanin_devstack::cloudtrail::PlayedEvent;
use fanin_devstack::deployment::DeployOptions;
use fanin_devstack::guard_host;
use fanin_devstack::scenario::{self, LocalStack, sdk_config};
use serde_json::{Value, json};

const APPS: [&str; 2] = ["111111111111", "222222222222"];
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
const POLICY_PATH: &str = "tests/fixtures/guard/e2e-policy.yaml";
const OPERATOR_ROLE: &str = "sg-operator";
/// [record] A key of the guard's OCSF document holding the time to revert
/// (any key containing this text, at any depth).
const TIME_TO_REVERT_KEY: &str = "time_to_revert";
/// How long a revert may take end to end locally (delivery included).
const REVERT_LIMIT: Duration = Duration::from_secs(10);

/// One application account and region, as its operator and its
/// administrator see it.
struct Place {
    account: &'static str,
    region: &'static str,
    /// The operator's session, through the gateway (recorded by CloudTrail).
    operator: aws_sdk_ec2::Client,
    /// The administrator, straight at moto (not recorded).
    admin: aws_sdk_ec2::Client,
    admin_credentials: aws_sdk_sts::config::Credentials,
    vpc_id: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guard_reverts_keeps_audits_and_reports_compliance_in_two_accounts_and_regions() {
    let stack = LocalStack::start().await.unwrap();
    // The test's policy and remediation, deployed as an operator would:
    // GuardPolicy and GuardRemediation=true.
    let options = DeployOptions {
        guard_policy: Some(fanin_devstack::lambda_host::workspace_root().join(POLICY_PATH)),
        guard_remediation: true,
    };
    let deployed = fanin_devstack::deployment::deploy_with(&stack, &APPS, &REGIONS, &options)
        .await
        .unwrap();
    let guards = guard_host::start_guards(&stack, &deployed, &APPS, &REGIONS)
        .await
        .unwrap(); // [guard]

    let mut places = Vec::new();
    for account in APPS {
        for region in REGIONS {
            places.push(place(&stack, account, region).await);
        }
    }
    // Rule ids that must each be in exactly one record.
    let mut recorded_rules: BTreeMap<String, &'static str> = BTreeMap::new();
    for place in &places {
        let at = format!("{}/{}", place.account, place.region);
        let web = create_group(place, "web", &[("tier", "web")]).await;

        // Unapproved: SSH from the internet on an enforced group is reverted.
        let ssh = authorize(place, &web, tcp(22, &["0.0.0.0/0"], &[])).await;
        assert_eq!(ssh.len(), 1);
        let started = Instant::now();
        while ingress_rule_ids(place, &web).await.contains(&ssh[0]) {
            assert!(
                started.elapsed() < REVERT_LIMIT,
                "{at}: {} not reverted",
                ssh[0]
            ); // [guard]
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let event = delivered(&stack, &ssh[0]).await;
        let delivery = &event.deliveries[0];
        assert_eq!(
            (delivery.outcome.as_str(), delivery.attempts),
            ("delivered", 1)
        );
        assert_eq!(delivery.answer.as_ref().unwrap()["kind"], "change"); // [guard]
        let answered_in = millis_between(&event.recorded_at, &delivery.finished_at);
        assert!(
            answered_in < 1000,
            "{at}: the guard answered in {answered_in} ms"
        ); // [guard]
        recorded_rules.insert(ssh[0].clone(), "reverted");

        // Approved: exactly the policy's permission is kept.
        let https = authorize(place, &web, tcp(443, &["0.0.0.0/0"], &["::/0"])).await;
        assert_eq!(https.len(), 2);
        delivered(&stack, &https[0]).await;
        let kept = ingress_rule_ids(place, &web).await;
        assert!(
            https.iter().all(|r| kept.contains(r)),
            "{at}: approved rules kept"
        ); // [guard]
        for rule in &https {
            recorded_rules.insert(rule.clone(), "approved");
        }

        // Break-glass: an enforced group with the tag is left alone.
        let glass = create_group(
            place,
            "glass",
            &[("tier", "web"), ("fanin-break-glass", "true")],
        )
        .await;
        let opened = authorize(place, &glass, tcp(22, &["0.0.0.0/0"], &[])).await;
        delivered(&stack, &opened[0]).await;
        assert!(
            ingress_rule_ids(place, &glass).await.contains(&opened[0]),
            "{at}: break-glass"
        ); // [guard] [policy]
        recorded_rules.insert(opened[0].clone(), "break-glass");

        // Audit mode changes nothing (the would-be revert is recorded).
        let legacy = create_group(place, "legacy", &[]).await;
        let rdp = authorize(place, &legacy, tcp(3389, &["0.0.0.0/0"], &[])).await;
        delivered(&stack, &rdp[0]).await;
        assert!(
            ingress_rule_ids(place, &legacy).await.contains(&rdp[0]),
            "{at}: audit"
        ); // [guard] [policy]
        recorded_rules.insert(rdp[0].clone(), "audit");
    }

    // The guard's own revokes reach it (CloudTrail records them like any
    // call) and are ignored.
    let own = own_revokes(&stack, places.len()).await;
    for event in &own {
        let answer = event.deliveries[0].answer.as_ref().unwrap();
        assert_eq!(answer["kind"], "ignored", "{answer}"); // [guard]
    }

    // The Config path: a group made non-compliant out of band (no CloudTrail
    // event reaches the guard), then evaluated.
    for place in &places {
        let at = format!("{}/{}", place.account, place.region);
        let drifted = create_group(place, "drifted", &[("tier", "web")]).await;
        place
            .admin
            .authorize_security_group_ingress()
            .group_id(&drifted)
            .ip_permissions(tcp(22, &["10.0.0.0/8"], &[]))
            .ip_permissions(tcp(443, &["0.0.0.0/0"], &[]))
            .send()
            .await
            .unwrap();
        let answer = stack
            .gateway
            .config()
            .evaluate_change(place.account, place.region, &drifted)
            .await
            .unwrap(); // [guard]
        assert_eq!(answer["kind"], "compliance", "{answer}");
        let result = evaluation(&stack, place, &drifted).await;
        assert_eq!(result["ComplianceType"], "NON_COMPLIANT", "{at}: {result}");
        let annotation = result["Annotation"].as_str().unwrap_or_default();
        // [record] The annotation names the extra and the missing permissions.
        assert!(
            annotation.contains("22") && annotation.contains("10.0.0.0/8"),
            "{at}: {annotation}"
        );
        assert!(annotation.contains("::/0"), "{at}: {annotation}");
        // Remediation on for this selector: the group is the desired set.
        assert_eq!(
            ingress_permissions(place, &drifted).await,
            BTreeSet::from([
                ("tcp".to_owned(), 443, 443, "0.0.0.0/0".to_owned()),
                ("tcp".to_owned(), 443, 443, "::/0".to_owned()),
            ]),
            "{at}: remediated to the desired set"
        ); // [guard] [policy]
        stack
            .gateway
            .config()
            .evaluate_change(place.account, place.region, &drifted)
            .await
            .unwrap();
        assert_eq!(
            evaluation(&stack, place, &drifted).await["ComplianceType"],
            "COMPLIANT"
        );

        // Audit selector: reported, not changed.
        let legacy = create_group(place, "legacy-config", &[]).await;
        place
            .admin
            .authorize_security_group_ingress()
            .group_id(&legacy)
            .ip_permissions(tcp(22, &["0.0.0.0/0"], &[]))
            .send()
            .await
            .unwrap();
        stack
            .gateway
            .config()
            .evaluate_change(place.account, place.region, &legacy)
            .await
            .unwrap();
        assert_eq!(
            evaluation(&stack, place, &legacy).await["ComplianceType"],
            "NON_COMPLIANT"
        );
        assert_eq!(
            ingress_permissions(place, &legacy).await.len(),
            1,
            "{at}: audit changes nothing"
        );
    }

    // Every decision through the pipeline: in S3 and the index exactly once.
    scenario::collect(&stack, &deployed).await.unwrap();
    let central = &deployed.central;
    let archived = scenario::archived_records(&stack, central).await.unwrap();
    let detections = indexed(&stack, &format!("{}-detections", central.index_prefix)).await;
    // A rule is judged in the decision of the call that made it (another
    // decision may list it among the group's extra rules, not judge it).
    let judges = |document: &Value, rule: &str| {
        document["resources"][0]["data"]["rules"]
            .as_array()
            .is_some_and(|rules| rules.iter().any(|r| r["rule_id"] == rule))
    };
    for (rule, decision) in &recorded_rules {
        let in_s3: Vec<&Value> = archived
            .iter()
            .map(|(_, r)| r)
            .filter(|r| r["class_uid"] == 2004 && judges(r, rule))
            .collect();
        assert_eq!(in_s3.len(), 1, "{decision} {rule}: one record in S3"); // [guard] [record]
        let in_index = detections.iter().filter(|d| judges(d, rule)).count();
        assert_eq!(in_index, 1, "{decision} {rule}: one document in the index");
        if *decision == "reverted" {
            let time = find_key(in_s3[0], TIME_TO_REVERT_KEY);
            assert!(
                time.is_some_and(|t| t.as_f64().is_some_and(|ms| ms > 0.0)),
                "{rule}: time to revert recorded: {}",
                in_s3[0]
            ); // [record]
        }
    }
    let compliance = indexed(&stack, &format!("{}-compliance", central.index_prefix)).await;
    assert!(
        compliance.iter().any(|d| d["class_uid"] == 2003),
        "compliance findings are stored"
    ); // [record]
    assert_eq!(scenario::dlq_depth(&stack, central).await.unwrap(), 0);
    assert!(
        scenario::quarantined(&stack, central)
            .await
            .unwrap()
            .is_empty()
    );
    drop(guards);
}

/// An operator session of `account` (role `sg-operator`, assumed through the
/// gateway) and a VPC to work in.
async fn place(stack: &LocalStack, account: &'static str, region: &'static str) -> Place {
    let admin_credentials = stack.account_credentials(account).await.unwrap();
    let operator = stack
        .person_credentials(account, OPERATOR_ROLE, "operator")
        .await
        .unwrap();
    let admin =
        aws_sdk_ec2::Client::new(&stack.moto_config(region, Some(admin_credentials.clone())));
    let vpc = admin
        .create_vpc()
        .cidr_block("10.20.0.0/16")
        .send()
        .await
        .unwrap();
    Place {
        account,
        region,
        operator: aws_sdk_ec2::Client::new(&sdk_config(
            &stack.gateway.aws_url,
            region,
            Some(operator),
        )),
        admin,
        admin_credentials,
        vpc_id: vpc.vpc().unwrap().vpc_id().unwrap().to_owned(),
    }
}

/// Creates a group as the operator (CloudTrail records it).
async fn create_group(place: &Place, name: &str, tags: &[(&str, &str)]) -> String {
    let mut request = place
        .operator
        .create_security_group()
        .group_name(name)
        .description(name)
        .vpc_id(&place.vpc_id);
    if !tags.is_empty() {
        let mut spec = TagSpecification::builder().resource_type(ResourceType::SecurityGroup);
        for (k, v) in tags {
            spec = spec.tags(Tag::builder().key(*k).value(*v).build());
        }
        request = request.tag_specifications(spec.build());
    }
    request.send().await.unwrap().group_id().unwrap().to_owned()
}

fn tcp(port: i32, ipv4: &[&str], ipv6: &[&str]) -> IpPermission {
    let mut permission = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(port)
        .to_port(port);
    for cidr in ipv4 {
        permission = permission.ip_ranges(IpRange::builder().cidr_ip(*cidr).build());
    }
    for cidr in ipv6 {
        permission = permission.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(*cidr).build());
    }
    permission.build()
}

/// Authorizes as the operator; answers the created rule ids.
async fn authorize(place: &Place, group: &str, permission: IpPermission) -> Vec<String> {
    let answer = place
        .operator
        .authorize_security_group_ingress()
        .group_id(group)
        .ip_permissions(permission)
        .send()
        .await
        .unwrap();
    answer
        .security_group_rules()
        .iter()
        .filter_map(|r| r.security_group_rule_id().map(str::to_owned))
        .collect()
}

/// The played CloudTrail event that created `rule_id`, once its deliveries
/// are done.
async fn delivered(stack: &LocalStack, rule_id: &str) -> PlayedEvent {
    let started = Instant::now();
    loop {
        let found = stack.gateway.cloudtrail().played().into_iter().find(|e| {
            e.event["detail"]["responseElements"]["securityGroupRuleSet"]["items"]
                .as_array()
                .is_some_and(|items| items.iter().any(|i| i["securityGroupRuleId"] == rule_id))
        });
        if let Some(event) = found.filter(|e| e.done) {
            assert_eq!(event.deliveries.len(), 1, "one guard rule: {event:?}");
            return event;
        }
        assert!(
            started.elapsed() < REVERT_LIMIT,
            "no delivered event for {rule_id}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The guard's own RevokeSecurityGroupIngress events, once `count` of them
/// are delivered.
async fn own_revokes(stack: &LocalStack, count: usize) -> Vec<PlayedEvent> {
    let started = Instant::now();
    loop {
        let own: Vec<PlayedEvent> = stack
            .gateway
            .cloudtrail()
            .played()
            .into_iter()
            .filter(|e| {
                e.event["detail"]["eventName"] == "RevokeSecurityGroupIngress"
                    && e.event["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]
                        ["userName"]
                        == guard_host::GUARD_ROLE
            })
            .collect();
        if own.len() >= count && own.iter().all(|e| e.done) {
            assert_eq!(own.len(), count, "one revoke by each guard");
            return own;
        }
        assert!(
            started.elapsed() < REVERT_LIMIT,
            "{} of {count} own revokes: {own:?}",
            own.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn millis_between(from: &str, to: &str) -> i64 {
    let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).unwrap();
    (parse(to) - parse(from)).num_milliseconds()
}

async fn ingress_rule_ids(place: &Place, group: &str) -> BTreeSet<String> {
    let rules = place
        .admin
        .describe_security_group_rules()
        .filters(Filter::builder().name("group-id").values(group).build())
        .send()
        .await
        .unwrap();
    rules
        .security_group_rules()
        .iter()
        .filter(|r| r.is_egress() == Some(false))
        .filter_map(|r| r.security_group_rule_id().map(str::to_owned))
        .collect()
}

/// (protocol, from, to, source) of each ingress rule.
async fn ingress_permissions(place: &Place, group: &str) -> BTreeSet<(String, i32, i32, String)> {
    let rules = place
        .admin
        .describe_security_group_rules()
        .filters(Filter::builder().name("group-id").values(group).build())
        .send()
        .await
        .unwrap();
    rules
        .security_group_rules()
        .iter()
        .filter(|r| r.is_egress() == Some(false))
        .map(|r| {
            let source = r
                .cidr_ipv4()
                .or(r.cidr_ipv6())
                .or(r.prefix_list_id())
                .or(r.referenced_group_info().and_then(|g| g.group_id()))
                .unwrap_or_default();
            (
                r.ip_protocol().unwrap_or_default().to_owned(),
                r.from_port().unwrap_or(-1),
                r.to_port().unwrap_or(-1),
                source.to_owned(),
            )
        })
        .collect()
}

/// The Config stand-in's evaluation of `group` by the guard's rule.
async fn evaluation(stack: &LocalStack, place: &Place, group: &str) -> Value {
    let date = chrono::Utc::now().format("%Y%m%d");
    let answer: Value = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("{}/", stack.gateway.aws_url))
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={}/{date}/{}/config/aws4_request, SignedHeaders=host, Signature=0",
                place.admin_credentials.access_key_id(),
                place.region
            ),
        )
        .header("x-amz-target", "StarlingDoveService.GetComplianceDetailsByConfigRule")
        .header("content-type", "application/x-amz-json-1.1")
        .body(json!({"ConfigRuleName": "fanin-security-groups"}).to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["EvaluationResults"]
        .as_array()
        .and_then(|results| {
            results.iter().find(|r| {
                r["EvaluationResultIdentifier"]["EvaluationResultQualifier"]["ResourceId"] == group
            })
        })
        .cloned()
        .unwrap_or_else(|| panic!("no evaluation of {group}: {answer}"))
}

/// Every document of one index.
async fn indexed(stack: &LocalStack, index: &str) -> Vec<Value> {
    let answer = fanin_tests::search(
        &stack.osmem.url,
        index,
        &json!({"size": 10000, "query": {"match_all": {}}}),
    )
    .await;
    answer["hits"]["hits"]
        .as_array()
        .map(|hits| hits.iter().map(|h| h["_source"].clone()).collect())
        .unwrap_or_default()
}

/// The first value, at any depth, of a key containing `needle`.
fn find_key<'a>(value: &'a Value, needle: &str) -> Option<&'a Value> {
    match value {
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if k.contains(needle) {
                Some(v)
            } else {
                find_key(v, needle)
            }
        }),
        Value::Array(items) => items.iter().find_map(|v| find_key(v, needle)),
        _ => None,
    }
}
