//! The gateway and the Inspector Classic endpoint, checked with the official
//! Rust SDK clients against real moto and osmem-server processes.
//!
//! Each test starts its own servers (a few seconds each) so the tests stay
//! independent; they need `scripts/setup` to have run.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use aws_config::{AppName, BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_sdk_inspector::error::ProvideErrorMetadata;
use aws_sdk_inspector::types::{Attribute, FailedItemErrorCode, InspectorEvent, Severity};
use fanin_devstack::classic::{self, INSPECTOR_EVENTS};
use fanin_devstack::gateway::{
    self, ErrorKind, Fault, FaultRule, GatewayHandle, GatewayOptions, When,
};
use fanin_devstack::procs::{ChildServer, MotoServer, OsmemServer};
use fanin_devstack::scenario::{admin_credentials, s3_client};
use serde_json::{Value, json};

const CENTRAL_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const CENTRAL_ACCOUNT: &str = "123456789012";
const APP_ACCOUNT: &str = "111122223333";

fn central_creds() -> Credentials {
    Credentials::new(CENTRAL_KEY, "central-secret", None, None, "test")
}

async fn sdk_config(endpoint: &str, region: &str, app: &str, creds: Credentials) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(creds)
        .app_name(AppName::new(app.to_string()).unwrap())
        .load()
        .await
}

async fn moto_and_gateway() -> (ChildServer, GatewayHandle) {
    let moto = MotoServer::start()
        .await
        .expect("moto starts (run scripts/setup)");
    let gw = gateway::start(GatewayOptions {
        moto_url: moto.url.clone(),
        opensearch_upstream: None,
    })
    .await
    .expect("gateway starts");
    (moto, gw)
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn admin(gw: &GatewayHandle, path: &str, body: Value) -> (u16, Value) {
    let response = http()
        .post(format!("{}{path}", gw.aws_url))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// IAM CreateRole as the given access key (moto reads only the key id).
async fn create_role(endpoint: &str, access_key_id: &str, name: &str, trust: &Value) {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("Action", "CreateRole"),
            ("Version", "2010-05-08"),
            ("RoleName", name),
            ("AssumeRolePolicyDocument", &trust.to_string()),
        ])
        .finish();
    let response = http()
        .post(format!("{endpoint}/"))
        .header(
            "authorization",
            format!("AWS4-HMAC-SHA256 Credential={access_key_id}/20250101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0"),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
}

fn trust_policy(external_id: Option<&str>) -> Value {
    let mut statement = json!({
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{CENTRAL_ACCOUNT}:root")},
        "Action": "sts:AssumeRole",
    });
    if let Some(id) = external_id {
        statement["Condition"] = json!({"StringEquals": {"sts:ExternalId": id}});
    }
    json!({"Version": "2012-10-17", "Statement": [statement]})
}

#[tokio::test]
async fn classic_templates_subscriptions_and_paging() {
    let (_moto, gw) = moto_and_gateway().await;
    let conf = sdk_config(&gw.aws_url, "us-east-1", "fanin-forwarder", central_creds()).await;
    let inspector = aws_sdk_inspector::Client::new(&conf);
    let sns = aws_sdk_sns::Client::new(&conf);
    let topic = sns
        .create_topic()
        .name("fanin-findings")
        .send()
        .await
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_string();

    let target = inspector
        .create_assessment_target()
        .assessment_target_name("all-instances")
        .send()
        .await
        .unwrap()
        .assessment_target_arn()
        .to_string();
    assert!(target.starts_with(&format!(
        "arn:aws:inspector:us-east-1:{CENTRAL_ACCOUNT}:target/0-"
    )));
    let duplicate = inspector
        .create_assessment_target()
        .assessment_target_name("all-instances")
        .send()
        .await
        .unwrap_err();
    assert_eq!(duplicate.code(), Some("InvalidInputException"));

    let scan_type = Attribute::builder()
        .key("ScanType")
        .value("ScheduledRun-across-Fleet")
        .build()
        .unwrap();
    let template = inspector
        .create_assessment_template()
        .assessment_target_arn(&target)
        .assessment_template_name("daily")
        .duration_in_seconds(900)
        .set_rules_package_arns(Some(classic::rules_package_arns("us-east-1")))
        .user_attributes_for_findings(scan_type.clone())
        .send()
        .await
        .unwrap()
        .assessment_template_arn()
        .to_string();
    assert!(template.starts_with(&format!("{target}/template/0-")));

    for _ in 0..2 {
        inspector
            .subscribe_to_event()
            .resource_arn(&template)
            .event(InspectorEvent::FindingReported)
            .topic_arn(&topic)
            .send()
            .await
            .unwrap();
    }
    let subs = inspector
        .list_event_subscriptions()
        .resource_arn(&template)
        .send()
        .await
        .unwrap();
    assert_eq!(subs.subscriptions().len(), 1);
    let sub = &subs.subscriptions()[0];
    assert_eq!(sub.topic_arn(), topic);
    assert_eq!(sub.resource_arn(), template);
    assert_eq!(sub.event_subscriptions().len(), 1);
    assert_eq!(
        sub.event_subscriptions()[0].event(),
        &InspectorEvent::FindingReported
    );
    assert!(sub.event_subscriptions()[0].subscribed_at().secs() > 1_600_000_000);

    let missing_topic = inspector
        .subscribe_to_event()
        .resource_arn(&template)
        .event(InspectorEvent::FindingReported)
        .topic_arn(format!("arn:aws:sns:us-east-1:{CENTRAL_ACCOUNT}:nope"))
        .send()
        .await
        .unwrap_err();
    assert!(
        missing_topic
            .into_service_error()
            .is_no_such_entity_exception()
    );
    let other_region = inspector
        .subscribe_to_event()
        .resource_arn(&template)
        .event(InspectorEvent::FindingReported)
        .topic_arn(format!(
            "arn:aws:sns:eu-west-1:{CENTRAL_ACCOUNT}:fanin-findings"
        ))
        .send()
        .await
        .unwrap_err();
    assert!(
        other_region
            .into_service_error()
            .is_invalid_input_exception()
    );

    let bogus = format!("{target}/template/0-NotThere");
    let described = inspector
        .describe_assessment_templates()
        .assessment_template_arns(&template)
        .assessment_template_arns(&bogus)
        .send()
        .await
        .unwrap();
    assert_eq!(described.assessment_templates().len(), 1);
    let t = &described.assessment_templates()[0];
    assert_eq!(t.name(), "daily");
    assert_eq!(t.duration_in_seconds(), 900);
    assert_eq!(
        t.user_attributes_for_findings(),
        std::slice::from_ref(&scan_type)
    );
    assert_eq!(t.assessment_run_count(), 0);
    assert_eq!(
        described.failed_items()[&bogus].failure_code(),
        &FailedItemErrorCode::ItemDoesNotExist
    );

    inspector
        .set_tags_for_resource()
        .resource_arn(&template)
        .tags(
            aws_sdk_inspector::types::Tag::builder()
                .key("team")
                .value("sec")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let tags = inspector
        .list_tags_for_resource()
        .resource_arn(&template)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().len(), 1);
    assert_eq!(tags.tags()[0].value(), Some("sec"));

    // Paging: 12 templates in all, pages of 5.
    for i in 0..11 {
        inspector
            .create_assessment_template()
            .assessment_target_arn(&target)
            .assessment_template_name(format!("extra-{i}"))
            .duration_in_seconds(180)
            .set_rules_package_arns(Some(vec![]))
            .send()
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page = inspector
            .list_assessment_templates()
            .max_results(5)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        pages += 1;
        seen.extend(page.assessment_template_arns().iter().cloned());
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!((pages, seen.len()), (3, 12));
    assert_eq!(seen[0], template);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 12);

    // Another region is another Inspector.
    let eu = aws_sdk_inspector::Client::new(
        &sdk_config(&gw.aws_url, "eu-west-1", "fanin-forwarder", central_creds()).await,
    );
    let eu_list = eu.list_assessment_templates().send().await.unwrap();
    assert!(eu_list.assessment_template_arns().is_empty());

    inspector
        .unsubscribe_from_event()
        .resource_arn(&template)
        .event(InspectorEvent::FindingReported)
        .topic_arn(&topic)
        .send()
        .await
        .unwrap();
    let subs = inspector.list_event_subscriptions().send().await.unwrap();
    assert!(subs.subscriptions().is_empty());

    let run = inspector
        .start_assessment_run()
        .assessment_template_arn(&template)
        .send()
        .await
        .unwrap()
        .assessment_run_arn()
        .to_string();
    let runs = inspector
        .describe_assessment_runs()
        .assessment_run_arns(&run)
        .send()
        .await
        .unwrap();
    assert_eq!(
        runs.assessment_runs()[0].state(),
        &aws_sdk_inspector::types::AssessmentRunState::CollectingData
    );
    let findings = inspector
        .list_findings()
        .assessment_run_arns(&run)
        .send()
        .await
        .unwrap();
    assert!(findings.finding_arns().is_empty());
    let packages = inspector.list_rules_packages().send().await.unwrap();
    assert_eq!(packages.rules_package_arns().len(), 5);

    assert_eq!(
        gw.call_count("fanin-forwarder", "inspector", "SubscribeToEvent"),
        4
    );
    assert_eq!(gw.call_count("fanin-forwarder", "sns", "CreateTopic"), 1);
    assert_eq!(
        gw.call_count("fanin-forwarder", "inspector", "ListAssessmentTemplates"),
        4
    );
    assert_eq!(INSPECTOR_EVENTS.len(), 5);
}

#[tokio::test]
async fn completed_run_publishes_findings_of_real_instances() {
    let (moto, gw) = moto_and_gateway().await;
    let region = "eu-west-1";

    // The central account: one topic in the region, subscribed by a queue in
    // the primary region.
    let central_eu = sdk_config(&gw.aws_url, region, "fanin-setup", central_creds()).await;
    let central_us = sdk_config(&gw.aws_url, "us-east-1", "fanin-setup", central_creds()).await;
    let sqs = aws_sdk_sqs::Client::new(&central_us);
    let queue_url = sqs
        .create_queue()
        .queue_name("fanin-findings")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    let sns = aws_sdk_sns::Client::new(&central_eu);
    let topic = sns
        .create_topic()
        .name("fanin-inspector")
        .send()
        .await
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_string();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&queue_arn)
        .send()
        .await
        .unwrap();

    // The application account: the collector's role, created by an
    // administrator of that account.
    let app_admin = admin_credentials(&moto.url, APP_ACCOUNT, "setup")
        .await
        .unwrap();
    create_role(
        &gw.aws_url,
        app_admin.access_key_id(),
        "fanin-collector",
        &trust_policy(Some("fanin-external-id")),
    )
    .await;
    let collector_sts = aws_sdk_sts::Client::new(
        &sdk_config(&gw.aws_url, "us-east-1", "fanin-collector", central_creds()).await,
    );
    let assumed = collector_sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{APP_ACCOUNT}:role/fanin-collector"))
        .role_session_name("collector")
        .external_id("fanin-external-id")
        .send()
        .await
        .unwrap();
    let c = assumed.credentials().unwrap();
    let app_creds = Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        None,
        "test",
    );

    // Two instances in the application account.
    let app_setup = sdk_config(&gw.aws_url, region, "fanin-setup", app_admin.clone()).await;
    let ec2 = aws_sdk_ec2::Client::new(&app_setup);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.20.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc()
        .unwrap()
        .vpc_id()
        .unwrap()
        .to_string();
    let subnet = ec2
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block("10.20.1.0/24")
        .send()
        .await
        .unwrap()
        .subnet()
        .unwrap()
        .subnet_id()
        .unwrap()
        .to_string();
    ec2.modify_subnet_attribute()
        .subnet_id(&subnet)
        .map_public_ip_on_launch(
            aws_sdk_ec2::types::AttributeBooleanValue::builder()
                .value(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let sg = ec2
        .create_security_group()
        .group_name("web")
        .description("web servers")
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();
    ec2.run_instances()
        .image_id("ami-0123456789abcdef0")
        .min_count(2)
        .max_count(2)
        .subnet_id(&subnet)
        .security_group_ids(&sg)
        .tag_specifications(
            aws_sdk_ec2::types::TagSpecification::builder()
                .resource_type(aws_sdk_ec2::types::ResourceType::Instance)
                .tags(
                    aws_sdk_ec2::types::Tag::builder()
                        .key("Name")
                        .value("web")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let described = ec2.describe_instances().send().await.unwrap();
    let instances: HashMap<String, aws_sdk_ec2::types::Instance> = described
        .reservations()
        .iter()
        .flat_map(|r| r.instances().iter())
        .map(|i| (i.instance_id().unwrap().to_string(), i.clone()))
        .collect();
    assert_eq!(instances.len(), 2);

    // Inspector in the application account, as the forwarder would set it up.
    let inspector_setup = aws_sdk_inspector::Client::new(&app_setup);
    let target = inspector_setup
        .create_assessment_target()
        .assessment_target_name("fleet")
        .send()
        .await
        .unwrap()
        .assessment_target_arn()
        .to_string();
    assert!(target.starts_with(&format!("arn:aws:inspector:{region}:{APP_ACCOUNT}:target/")));
    let scan_type = Attribute::builder()
        .key("ScanType")
        .value("ScheduledRun-across-Fleet")
        .build()
        .unwrap();
    let template = inspector_setup
        .create_assessment_template()
        .assessment_target_arn(&target)
        .assessment_template_name("fleet-daily")
        .duration_in_seconds(900)
        .set_rules_package_arns(Some(classic::rules_package_arns(region)))
        .user_attributes_for_findings(scan_type.clone())
        .send()
        .await
        .unwrap()
        .assessment_template_arn()
        .to_string();
    for event in [
        InspectorEvent::FindingReported,
        InspectorEvent::AssessmentRunCompleted,
    ] {
        inspector_setup
            .subscribe_to_event()
            .resource_arn(&template)
            .event(event)
            .topic_arn(&topic)
            .send()
            .await
            .unwrap();
    }
    let run = inspector_setup
        .start_assessment_run()
        .assessment_template_arn(&template)
        .send()
        .await
        .unwrap()
        .assessment_run_arn()
        .to_string();

    let (status, outcome) = admin(
        &gw,
        "/_devstack/inspector/complete-run",
        json!({"assessmentRunArn": run, "findingsPerInstance": 5}),
    )
    .await;
    assert_eq!(status, 200, "{outcome}");
    let finding_arns: Vec<String> = outcome["findingArns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(finding_arns.len(), 10);
    assert_eq!(outcome["published"], 11);
    assert!(
        finding_arns
            .iter()
            .all(|a| a.starts_with(&format!("{run}/finding/0-")))
    );
    let (status, again) = admin(
        &gw,
        "/_devstack/inspector/complete-run",
        json!({"assessmentRunArn": run, "findingsPerInstance": 5}),
    )
    .await;
    assert_eq!(status, 409, "{again}");

    // Every message arrives at the queue, shaped like Inspector's.
    let mut messages = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while messages.len() < 11 && Instant::now() < deadline {
        let got = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for m in got.messages() {
            let envelope: Value = serde_json::from_str(m.body().unwrap()).unwrap();
            assert_eq!(envelope["TopicArn"], topic.as_str());
            messages.push(
                serde_json::from_str::<Value>(envelope["Message"].as_str().unwrap()).unwrap(),
            );
            sqs.delete_message()
                .queue_url(&queue_url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    assert_eq!(messages.len(), 11);
    let reported: BTreeSet<String> = messages
        .iter()
        .filter(|m| m["event"] == "FINDING_REPORTED")
        .map(|m| m["finding"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(reported, finding_arns.iter().cloned().collect());
    for m in &messages {
        assert_eq!(m["template"], template.as_str());
        assert_eq!(m["run"], run.as_str());
        assert_eq!(m["target"], target.as_str());
        let time = m["time"].as_str().unwrap();
        assert!(time.ends_with('Z') && time.len() == 24, "{time}");
    }
    let completed: Vec<&Value> = messages
        .iter()
        .filter(|m| m["event"] == "ASSESSMENT_RUN_COMPLETED")
        .collect();
    assert_eq!(completed.len(), 1);
    assert!(completed[0].get("finding").is_none());

    // The collector describes them with the assumed role.
    let collector = aws_sdk_inspector::Client::new(
        &sdk_config(&gw.aws_url, region, "fanin-collector", app_creds.clone()).await,
    );
    let out = collector
        .describe_findings()
        .set_finding_arns(Some(finding_arns.clone()))
        .send()
        .await
        .unwrap();
    assert!(out.failed_items().is_empty(), "{:?}", out.failed_items());
    assert_eq!(out.findings().len(), 10);
    let mut severities = BTreeSet::new();
    let mut best_practices = HashMap::<String, usize>::new();
    for f in out.findings() {
        assert!(finding_arns.contains(&f.arn().to_string()));
        assert_eq!(f.schema_version(), 1);
        assert_eq!(f.service(), Some("Inspector"));
        assert_eq!(
            f.asset_type(),
            Some(&aws_sdk_inspector::types::AssetType::Ec2Instance)
        );
        assert_eq!(f.confidence(), 10);
        assert_eq!(f.indicator_of_compromise(), Some(false));
        let id = f.id().unwrap();
        let title = f.title().unwrap();
        assert!(!f.description().unwrap().is_empty());
        assert!(!f.recommendation().unwrap().is_empty());
        let severity = f.severity().unwrap().clone();
        let numeric = f.numeric_severity();
        let expected = match severity {
            Severity::High => 9.0,
            Severity::Medium => 6.0,
            Severity::Low => 3.0,
            _ => 0.0,
        };
        assert_eq!(numeric, expected);
        severities.insert(severity.as_str().to_string());
        assert!(f.created_at().secs() > 1_600_000_000);
        assert_eq!(f.created_at(), f.updated_at());
        let service = f.service_attributes().unwrap();
        assert_eq!(service.schema_version(), 1);
        assert_eq!(service.assessment_run_arn(), Some(run.as_str()));
        let package = service.rules_package_arn().unwrap();
        assert!(package.starts_with("arn:aws:inspector:eu-west-1:357557129151:rulespackage/0-"));
        assert_eq!(f.user_attributes(), std::slice::from_ref(&scan_type));
        let attr = |k: &str| {
            f.attributes()
                .iter()
                .find(|a| a.key() == k)
                .and_then(|a| a.value())
                .map(str::to_string)
        };

        let asset = f.asset_attributes().unwrap();
        assert_eq!(asset.schema_version(), 1);
        let iid = asset.agent_id().unwrap();
        let instance = &instances[iid];
        assert_eq!(attr("INSTANCE_ID").as_deref(), Some(iid));
        if id.starts_with("CVE-") {
            assert_eq!(title, format!("Instance {iid} is vulnerable to {id}"));
            assert_eq!(attr("CVE_ID").as_deref(), Some(id));
            assert!(attr("package_name").is_some());
            assert!(package.ends_with("0-ubA5XvBh"), "CVE package of eu-west-1");
        } else {
            assert!(attr("CVE_ID").is_none());
            if severity != Severity::Informational {
                *best_practices.entry(iid.to_string()).or_default() += 1;
            }
        }
        assert_eq!(asset.ami_id(), instance.image_id());
        assert_eq!(asset.hostname(), instance.private_dns_name());
        assert_eq!(
            asset.ipv4_addresses(),
            &[instance.private_ip_address().unwrap().to_string()]
        );
        assert!(
            asset
                .tags()
                .iter()
                .any(|t| t.key() == "Name" && t.value() == Some("web"))
        );
        assert_eq!(asset.network_interfaces().len(), 1);
        let ni = &asset.network_interfaces()[0];
        let eni = &instance.network_interfaces()[0];
        assert_eq!(ni.network_interface_id(), eni.network_interface_id());
        assert_eq!(ni.subnet_id(), Some(subnet.as_str()));
        assert_eq!(ni.vpc_id(), Some(vpc.as_str()));
        assert_eq!(ni.private_ip_address(), instance.private_ip_address());
        assert!(ni.private_ip_address().unwrap().starts_with("10.20.1."));
        assert_eq!(ni.private_dns_name(), eni.private_dns_name());
        assert_eq!(ni.private_ip_addresses().len(), 1);
        assert_eq!(
            ni.private_ip_addresses()[0].private_ip_address(),
            instance.private_ip_address()
        );
        assert_eq!(ni.public_ip(), instance.public_ip_address());
        assert!(ni.public_ip().is_some());
        assert_eq!(
            ni.public_dns_name(),
            eni.association().and_then(|a| a.public_dns_name())
        );
        assert!(ni.ipv6_addresses().is_empty());
        assert_eq!(ni.security_groups().len(), 1);
        assert_eq!(ni.security_groups()[0].group_id(), Some(sg.as_str()));
        assert_eq!(ni.security_groups()[0].group_name(), Some("web"));
    }
    assert_eq!(
        severities,
        ["High", "Informational", "Low", "Medium"]
            .map(String::from)
            .into_iter()
            .collect()
    );
    assert_eq!(
        best_practices.len(),
        2,
        "a best-practice finding per instance"
    );

    // 11 ARNs are too many.
    let mut eleven = finding_arns.clone();
    eleven.push(format!("{run}/finding/0-Extra001"));
    let err = collector
        .describe_findings()
        .set_finding_arns(Some(eleven))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ValidationException"));

    // Another account's finding does not exist for the central account.
    let central_inspector = aws_sdk_inspector::Client::new(
        &sdk_config(&gw.aws_url, region, "fanin-central", central_creds()).await,
    );
    let other = central_inspector
        .describe_findings()
        .finding_arns(&finding_arns[0])
        .send()
        .await
        .unwrap();
    assert!(other.findings().is_empty());
    assert_eq!(
        other.failed_items()[&finding_arns[0]].failure_code(),
        &FailedItemErrorCode::ItemDoesNotExist
    );

    // The one-shot failure hook.
    let (status, _) = admin(
        &gw,
        "/_devstack/inspector/fail-next-describe",
        json!({"arn": finding_arns[1], "retryable": true}),
    )
    .await;
    assert_eq!(status, 200);
    let first = collector
        .describe_findings()
        .finding_arns(&finding_arns[1])
        .finding_arns(&finding_arns[2])
        .send()
        .await
        .unwrap();
    assert_eq!(first.findings().len(), 1);
    let failed = &first.failed_items()[&finding_arns[1]];
    assert_eq!(failed.failure_code(), &FailedItemErrorCode::InternalError);
    assert!(failed.retryable());
    let second = collector
        .describe_findings()
        .finding_arns(&finding_arns[1])
        .send()
        .await
        .unwrap();
    assert_eq!(second.findings().len(), 1);

    let listed = collector
        .list_findings()
        .assessment_run_arns(&run)
        .max_results(100)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.finding_arns(), finding_arns.as_slice());
    let runs = collector
        .describe_assessment_runs()
        .assessment_run_arns(&run)
        .send()
        .await
        .unwrap();
    let described_run = &runs.assessment_runs()[0];
    assert_eq!(
        described_run.state(),
        &aws_sdk_inspector::types::AssessmentRunState::Completed
    );
    assert_eq!(described_run.finding_counts().values().sum::<i32>(), 10);
    assert!(described_run.completed_at().is_some());

    // The counts.
    assert_eq!(
        gw.call_count("fanin-collector", "inspector", "DescribeFindings"),
        4
    );
    assert_eq!(gw.call_count("fanin-collector", "sts", "AssumeRole"), 1);
    assert_eq!(gw.call_count("fanin-setup", "ec2", "RunInstances"), 1);
    assert!(gw.call_count("fanin-setup", "sqs", "ReceiveMessage") > 0);
    let calls = http()
        .get(format!("{}/_devstack/calls", gw.aws_url))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert!(calls["calls"].as_array().unwrap().contains(&json!({
        "caller": "fanin-collector", "service": "inspector", "operation": "DescribeFindings", "count": 4
    })));
    let (status, _) = admin(&gw, "/_devstack/calls/reset", json!({})).await;
    assert_eq!(status, 200);
    assert!(gw.calls().is_empty());
}

#[tokio::test]
async fn assume_role_enforces_role_and_external_id() {
    let (moto, gw) = moto_and_gateway().await;
    let account = "222233334444";
    let admin_creds = admin_credentials(&moto.url, account, "setup")
        .await
        .unwrap();
    create_role(
        &moto.url,
        admin_creds.access_key_id(),
        "with-external-id",
        &trust_policy(Some("right-id")),
    )
    .await;
    create_role(
        &moto.url,
        admin_creds.access_key_id(),
        "open",
        &trust_policy(None),
    )
    .await;

    let sts = aws_sdk_sts::Client::new(
        &sdk_config(&gw.aws_url, "us-east-1", "fanin-test", central_creds()).await,
    );
    let assume = |role: &str, external_id: Option<&str>| {
        sts.assume_role()
            .role_arn(format!("arn:aws:iam::{account}:role/{role}"))
            .role_session_name("test")
            .set_external_id(external_id.map(str::to_string))
            .send()
    };

    for (role, external_id) in [
        ("missing", None),
        ("with-external-id", Some("wrong-id")),
        ("with-external-id", None),
    ] {
        let err = assume(role, external_id).await.unwrap_err();
        assert_eq!(
            err.code(),
            Some("AccessDenied"),
            "{role} {external_id:?}: {err:?}"
        );
        let message = err.message().unwrap_or_default().to_string();
        assert!(
            message.contains("is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::222233334444:role/"),
            "{message}"
        );
        assert!(
            message.contains(&format!("arn:aws:sts::{CENTRAL_ACCOUNT}:")),
            "{message}"
        );
        let raw = err.raw_response().unwrap();
        assert_eq!(raw.status().as_u16(), 403);
    }

    let ok = assume("with-external-id", Some("right-id")).await.unwrap();
    let c = ok.credentials().unwrap();
    let as_role = aws_sdk_sts::Client::new(
        &sdk_config(
            &gw.aws_url,
            "us-east-1",
            "fanin-test",
            Credentials::new(
                c.access_key_id(),
                c.secret_access_key(),
                Some(c.session_token().to_string()),
                None,
                "test",
            ),
        )
        .await,
    );
    let identity = as_role.get_caller_identity().send().await.unwrap();
    assert_eq!(identity.account(), Some(account));
    assume("open", None).await.unwrap();

    assert_eq!(gw.call_count("fanin-test", "sts", "AssumeRole"), 5);
    assert_eq!(gw.call_count("fanin-test", "sts", "GetCallerIdentity"), 1);
}

#[tokio::test]
async fn s3_and_sqs_are_forwarded_and_counted() {
    let (_moto, gw) = moto_and_gateway().await;
    let conf = sdk_config(&gw.aws_url, "us-east-1", "fanin-collector", central_creds()).await;
    let s3 = s3_client(&conf);
    s3.create_bucket()
        .bucket("fanin-archive")
        .send()
        .await
        .unwrap();
    let body = b"{\"finding\": 1}\n".repeat(1000);
    s3.put_object()
        .bucket("fanin-archive")
        .key("inspector/2026/finding-1.json")
        .body(body.clone().into())
        .send()
        .await
        .unwrap();
    let head = s3
        .head_object()
        .bucket("fanin-archive")
        .key("inspector/2026/finding-1.json")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(body.len() as i64));
    let got = s3
        .get_object()
        .bucket("fanin-archive")
        .key("inspector/2026/finding-1.json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        body.as_slice()
    );
    let listed = s3
        .list_objects_v2()
        .bucket("fanin-archive")
        .prefix("inspector/")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.key_count(), Some(1));
    s3.delete_object()
        .bucket("fanin-archive")
        .key("inspector/2026/finding-1.json")
        .send()
        .await
        .unwrap();

    let sqs = aws_sdk_sqs::Client::new(&conf);
    let queue = sqs.create_queue().queue_name("q").send().await.unwrap();
    sqs.send_message()
        .queue_url(queue.queue_url().unwrap())
        .message_body("hello")
        .send()
        .await
        .unwrap();

    for op in [
        "CreateBucket",
        "PutObject",
        "HeadObject",
        "GetObject",
        "ListObjectsV2",
        "DeleteObject",
    ] {
        assert_eq!(
            gw.call_count("fanin-collector", "s3", op),
            1,
            "{op}: {:?}",
            gw.calls()
        );
    }
    assert_eq!(gw.call_count("fanin-collector", "sqs", "SendMessage"), 1);
    assert_eq!(gw.call_count("fanin-collector", "sqs", "CreateQueue"), 1);
}

#[tokio::test]
async fn opensearch_goes_down_and_comes_back() {
    let osmem = OsmemServer::start()
        .await
        .expect("osmem-server starts (run scripts/setup)");
    // Nothing in this test talks AWS: the moto URL is never used.
    let gw = gateway::start(GatewayOptions {
        moto_url: "http://127.0.0.1:9".to_string(),
        opensearch_upstream: Some(osmem.url.clone()),
    })
    .await
    .unwrap();
    let os = gw.opensearch_url.clone().unwrap();
    let client = http();
    let bulk = "{\"index\":{\"_index\":\"findings\",\"_id\":\"a\"}}\n{\"title\":\"x\"}\n";
    let post_bulk = || {
        client
            .post(format!("{os}/_bulk?refresh=true"))
            .header("content-type", "application/x-ndjson")
            .body(bulk)
            .send()
    };

    let response = post_bulk().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["errors"], false, "{answer}");

    let (status, _) = admin(&gw, "/_devstack/opensearch/down", json!({})).await;
    assert_eq!(status, 200);
    let down = post_bulk().await.unwrap();
    assert_eq!(down.status().as_u16(), 503);
    let error: Value = down.json().await.unwrap();
    assert_eq!(error["status"], 503);
    let root = client.get(format!("{os}/")).send().await.unwrap();
    assert_eq!(root.status().as_u16(), 503);

    let (status, _) = admin(&gw, "/_devstack/opensearch/up", json!({})).await;
    assert_eq!(status, 200);
    let search: Value = client
        .post(format!("{os}/findings/_search"))
        .json(&json!({"query": {"match_all": {}}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(search["hits"]["total"]["value"], 1, "{search}");

    gw.set_opensearch_down(true);
    assert_eq!(post_bulk().await.unwrap().status().as_u16(), 503);
    gw.set_opensearch_down(false);

    assert_eq!(gw.call_count("opensearch", "opensearch", "_bulk"), 3);
    assert_eq!(gw.call_count("opensearch", "opensearch", "_search"), 1);
    assert_eq!(gw.call_count("opensearch", "opensearch", "GET"), 1);
    gw.shutdown().await;
}

/// A config whose clients make one attempt of at most `attempt`, so each
/// injected fault reaches the test as the SDK sees it.
async fn one_attempt_config(endpoint: &str, attempt: Duration) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(central_creds())
        .app_name(AppName::new("fanin-collector").unwrap())
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(attempt)
                .build(),
        )
        .load()
        .await
}

fn throttle(service: &str, operation: &str) -> FaultRule {
    FaultRule::new(
        service,
        Fault::Error {
            error: ErrorKind::Throttling,
            status: None,
        },
    )
    .operation(operation)
    .when(When::Next { count: 1 })
}

#[tokio::test]
async fn injected_errors_reach_the_sdk_in_each_services_format() {
    let (_moto, gw) = moto_and_gateway().await;
    // moto's first EC2 call loads its catalogue: seconds.
    let conf = one_attempt_config(&gw.aws_url, Duration::from_secs(30)).await;
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let sts = aws_sdk_sts::Client::new(&conf);
    let inspector = aws_sdk_inspector::Client::new(&conf);
    let s3 = s3_client(&conf);
    s3.create_bucket().bucket("archive").send().await.unwrap();

    // Throttling, each in its service's words, classified transient by fanin
    // with the code kept; the window of one request then closes.
    let rule = gw.inject(throttle("ec2", "DescribeInstances"));
    let error = ec2.describe_instances().send().await.unwrap_err();
    assert_eq!(error.code(), Some("RequestLimitExceeded"));
    assert_eq!(error.raw_response().unwrap().status().as_u16(), 503);
    assert_eq!(
        fanin::aws::classify("DescribeInstances", error),
        fanin::ports::CallError::transient(
            "DescribeInstances",
            "RequestLimitExceeded",
            "Request limit exceeded."
        )
    );
    ec2.describe_instances().send().await.unwrap();
    assert_eq!(gw.injected(rule), 1);

    create_role(&gw.aws_url, CENTRAL_KEY, "reader", &trust_policy(None)).await;
    gw.inject(throttle("sts", "AssumeRole"));
    let assume = || {
        sts.assume_role()
            .role_arn(format!("arn:aws:iam::{CENTRAL_ACCOUNT}:role/reader"))
            .role_session_name("s")
            .send()
    };
    let error = assume().await.unwrap_err();
    assert_eq!(error.code(), Some("Throttling"));
    assert!(fanin::aws::classify("AssumeRole", error).is_transient());

    gw.inject(throttle("s3", "PutObject"));
    let put = || {
        s3.put_object()
            .bucket("archive")
            .key("k")
            .body(b"x".to_vec().into())
            .send()
    };
    let error = put().await.unwrap_err();
    assert_eq!(error.code(), Some("SlowDown"));
    assert!(fanin::aws::classify("PutObject", error).is_transient());
    put().await.unwrap();

    gw.inject(throttle("inspector", "ListAssessmentTemplates"));
    let error = inspector
        .list_assessment_templates()
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("ThrottlingException"));
    assert!(fanin::aws::classify("ListAssessmentTemplates", error).is_transient());
    inspector.list_assessment_templates().send().await.unwrap();

    // Internal errors and denials.
    gw.inject(
        FaultRule::new(
            "ec2",
            Fault::Error {
                error: ErrorKind::Internal,
                status: None,
            },
        )
        .when(When::Next { count: 1 }),
    );
    let error = ec2.describe_security_groups().send().await.unwrap_err();
    assert_eq!(error.code(), Some("InternalError"));
    assert!(fanin::aws::classify("DescribeSecurityGroups", error).is_transient());
    gw.inject(
        FaultRule::new(
            "sts",
            Fault::Error {
                error: ErrorKind::AccessDenied,
                status: None,
            },
        )
        .when(When::Next { count: 1 }),
    );
    let error = assume().await.unwrap_err();
    assert_eq!(error.code(), Some("AccessDenied"));
    assert!(matches!(
        fanin::aws::classify("AssumeRole", error),
        fanin::ports::CallError::Denied { .. }
    ));
    assume().await.unwrap();

    // The same rules through the admin endpoint.
    let (status, added) = admin(
        &gw,
        "/_devstack/faults",
        json!({"service": "ec2", "operation": "DescribeVpcs",
               "fault": {"kind": "error", "error": "unavailable", "status": 503},
               "when": {"kind": "next", "count": 1}}),
    )
    .await;
    assert_eq!(status, 200, "{added}");
    let error = ec2.describe_vpcs().send().await.unwrap_err();
    assert_eq!(error.code(), Some("Unavailable"));
    let listed: Value = http()
        .get(format!("{}/_devstack/faults", gw.aws_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let last = listed["faults"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["id"].clone(), last["injected"].clone()),
        (added["id"].clone(), json!(1))
    );
    admin(&gw, "/_devstack/faults/clear", json!({})).await;
    assert!(gw.faults().is_empty());
}

#[tokio::test]
async fn resets_truncations_hangs_and_latency_reach_the_sdk() {
    let (_moto, gw) = moto_and_gateway().await;
    let conf = one_attempt_config(&gw.aws_url, Duration::from_secs(2)).await;
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    // moto's first EC2 call loads its catalogue: not under a fault's clock.
    aws_sdk_ec2::Client::new(&one_attempt_config(&gw.aws_url, Duration::from_secs(30)).await)
        .describe_vpcs()
        .send()
        .await
        .unwrap();
    let once = |fault| {
        FaultRule::new("ec2", fault)
            .operation("DescribeVpcs")
            .when(When::Next { count: 1 })
    };

    gw.inject(once(Fault::Reset));
    let error = ec2.describe_vpcs().send().await.unwrap_err();
    let text = format!(
        "{}",
        aws_smithy_types::error::display::DisplayErrorContext(&error)
    );
    assert!(
        matches!(&error, aws_sdk_ec2::error::SdkError::DispatchFailure(f) if f.is_io()),
        "{text}"
    );
    let classified = fanin::aws::classify("DescribeVpcs", error);
    assert!(classified.is_transient(), "{classified}");

    gw.inject(once(Fault::Truncate));
    let error = ec2.describe_vpcs().send().await.unwrap_err();
    let classified = fanin::aws::classify("DescribeVpcs", error);
    assert!(classified.is_transient(), "{classified}");

    gw.inject(once(Fault::Hang));
    let started = Instant::now();
    let error = ec2.describe_vpcs().send().await.unwrap_err();
    assert!(
        matches!(error, aws_sdk_ec2::error::SdkError::TimeoutError(_)),
        "{error:?}"
    );
    assert!(started.elapsed() >= Duration::from_secs(2));

    gw.inject(once(Fault::Latency { millis: 700 }));
    let started = Instant::now();
    ec2.describe_vpcs().send().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(700));

    // Faults are over: the same client works, and every call was counted.
    ec2.describe_vpcs().send().await.unwrap();
    assert_eq!(gw.call_count("fanin-collector", "ec2", "DescribeVpcs"), 6);
    gw.shutdown().await;
}

#[tokio::test]
async fn opensearch_answers_429_for_a_share_of_bulk_items() {
    let osmem = OsmemServer::start()
        .await
        .expect("osmem-server starts (run scripts/setup)");
    let gw = gateway::start(GatewayOptions {
        moto_url: "http://127.0.0.1:9".to_string(),
        opensearch_upstream: Some(osmem.url.clone()),
    })
    .await
    .unwrap();
    let url = url::Url::parse(gw.opensearch_url.as_deref().unwrap()).unwrap();
    let indexer = fanin::search::opensearch::OpenSearchIndexer::new(
        &url,
        &fanin::config::SearchAuth::None,
        None,
        None,
    )
    .unwrap();
    use fanin::ports::SearchIndexer;

    let rule = gw.inject(
        FaultRule::new(
            "opensearch",
            Fault::BulkItemRejections {
                share: 0.5,
                seed: 11,
            },
        )
        .operation("_bulk")
        .when(When::Next { count: 1 }),
    );
    let body: String = (0..40)
        .map(|i| {
            format!("{{\"index\":{{\"_index\":\"findings\",\"_id\":\"d{i}\"}}}}\n{{\"n\":{i}}}\n")
        })
        .collect();
    let statuses = indexer.bulk(body.clone().into_bytes()).await.unwrap();
    assert_eq!(statuses.len(), 40);
    let rejected: Vec<usize> = (0..40).filter(|&i| statuses[i].status == 429).collect();
    assert!(
        (8..=32).contains(&rejected.len()),
        "about half of 40 rejected: {rejected:?}"
    );
    for &i in &rejected {
        assert_eq!(
            statuses[i].error_type.as_deref(),
            Some("es_rejected_execution_exception")
        );
    }
    assert!(
        (0..40)
            .filter(|i| !rejected.contains(i))
            .all(|i| statuses[i].status == 201)
    );
    // A rejected item was not written; the others were.
    let client = http();
    client
        .post(format!("{}/findings/_refresh", osmem.url))
        .send()
        .await
        .unwrap();
    let count: Value = client
        .get(format!("{}/findings/_count", osmem.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(count["count"], json!(40 - rejected.len()), "{count}");
    assert_eq!(gw.injected(rule), 1);

    // The window is over: the same body is accepted whole.
    let again = indexer.bulk(body.into_bytes()).await.unwrap();
    assert!(
        again.iter().all(|s| s.status == 201 || s.status == 200),
        "{again:?}"
    );

    // A whole-request 429 is a transient failure with OpenSearch's error type.
    gw.inject(
        FaultRule::new(
            "opensearch",
            Fault::Error {
                error: ErrorKind::Throttling,
                status: None,
            },
        )
        .when(When::Next { count: 1 }),
    );
    let error = indexer
        .bulk(b"{\"index\":{\"_index\":\"findings\",\"_id\":\"z\"}}\n{}\n".to_vec())
        .await
        .unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert!(
        matches!(&error, fanin::ports::CallError::Transient { code, .. } if code == "es_rejected_execution_exception"),
        "{error}"
    );
    gw.shutdown().await;
}
