//! The collector pipeline on the fixtures, with in-memory fakes of the
//! outside systems: normalization of both sources, and what each failure
//! means for each message.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use fanin::decode::{AcceptedTopics, InboundMessage, Provenance};
use fanin::fakes::InMemory;
use fanin::ids::{AccountId, Partition};
use fanin::model::{
    ClassicFinding, GroupRef, IngressRule, InstanceRecord, InterfaceRecord, SecurityGroupRecord,
};
use fanin::pipeline::{Collector, Settings};
use fanin::ports::FailedItem;
use serde_json::{Value, json};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// The fake world of these tests: the fixture instance behind a group
/// that opens SSH to the internet.
fn world() -> InMemory {
    let mut world = InMemory::default();
    world.instances.insert(
        "i-0a1b2c3d4e5f60718".into(),
        InstanceRecord {
            instance_id: "i-0a1b2c3d4e5f60718".into(),
            state: "running".into(),
            vpc_id: Some("vpc-0123456789abcdef0".into()),
            subnet_id: Some("subnet-0123456789abcdef0".into()),
            interfaces: vec![InterfaceRecord {
                interface_id: "eni-0123456789abcdef0".into(),
                private_ips: vec!["10.20.1.15".into()],
                public_ips: vec!["203.0.113.10".into()],
                security_groups: vec![GroupRef {
                    id: "sg-0123456789abcdef0".into(),
                    name: Some("web".into()),
                }],
                ..Default::default()
            }],
            ..Default::default()
        },
    );
    world.groups.insert(
        "sg-0123456789abcdef0".into(),
        SecurityGroupRecord {
            group_id: "sg-0123456789abcdef0".into(),
            group_name: Some("web".into()),
            vpc_id: None,
            ingress: vec![IngressRule {
                protocol: "tcp".into(),
                from_port: Some(22),
                to_port: Some(22),
                ipv4_ranges: vec!["0.0.0.0/0".into()],
                ..Default::default()
            }],
        },
    );
    world
}

/// The fixtures' topic (`sns-finding-reported.json`) is the central one;
/// `222222222222` is an Inspector2 delegated administrator.
/// A published GuardDuty finding (`tests/fixtures/published/guardduty/`)
/// moved onto the fake world's instance in account `111111111111`,
/// us-east-1, as its own account's bus delivers it (or `delivered_by`).
fn guardduty_body(delivered_by: &str) -> String {
    let mut detail: Value = serde_json::from_str(&fixture(
        "published/guardduty/elastic-ec2-port-probe-finding.json",
    ))
    .unwrap();
    detail["accountId"] = "111111111111".into();
    detail["region"] = "us-east-1".into();
    detail["arn"] = "arn:aws:guardduty:us-east-1:111111111111:detector/37da5a0204286ccd967d2395320d4dcd/finding/36bf27df0abbb872c9524161a24168ae".into();
    detail["resource"]["instanceDetails"]["instanceId"] = "i-0a1b2c3d4e5f60718".into();
    json!({
        "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "GuardDuty Finding", "source": "aws.guardduty",
        "account": delivered_by, "time": "2026-01-01T00:00:00Z", "region": "us-east-1",
        "resources": [], "detail": detail,
    })
    .to_string()
}

#[tokio::test]
async fn a_guardduty_finding_is_a_detection_with_the_same_network_context() {
    let world = Arc::new(world());
    let report = collector(world.clone())
        .process_batch(
            vec![
                message("own", guardduty_body("111111111111")),
                message("forged", guardduty_body("333333333333")),
            ],
            deadline(),
        )
        .await;
    assert_eq!(report.findings_stored, 1, "{report:?}");
    let detections = world.index("fanin-detections");
    assert_eq!(detections.len(), 1);
    assert!(world.index("fanin-findings").is_empty());
    let document = &detections.values().next().unwrap().source;
    assert_eq!(document["class_uid"], 2004);
    assert_eq!(document["metadata"]["product"]["name"], "GuardDuty");
    assert_eq!(document["unmapped"]["fanin"]["source"], "guardduty");
    assert_eq!(
        document["unmapped"]["fanin"]["enrichment"]["status"],
        "enriched"
    );
    assert_eq!(document["device"]["vpc_uid"], "vpc-0123456789abcdef0");
    assert_eq!(
        document["unmapped"]["fanin"]["network"]["internet_exposed"],
        true
    );
    let objects = world.objects.lock().unwrap();
    let archived: Vec<&String> = objects
        .keys()
        .filter(|k| k.starts_with("findings/"))
        .collect();
    assert_eq!(archived.len(), 1, "{archived:?}");
    assert!(
        archived[0].starts_with("findings/classUid=2004/region=us-east-1/accountId=111111111111/"),
        "{}",
        archived[0]
    );
    let quarantined: Vec<&String> = objects
        .keys()
        .filter(|k| k.starts_with("quarantine/"))
        .collect();
    assert_eq!(quarantined.len(), 1);
    assert!(
        quarantined[0].contains("event_account_mismatch"),
        "{}",
        quarantined[0]
    );
}

fn provenance() -> Provenance {
    Provenance {
        partition: Partition::parse("aws").unwrap(),
        topics: AcceptedTopics::Named {
            account: AccountId::parse("123456789012").unwrap(),
            name: "fanin-inspector-classic".into(),
        },
        inspector2_admin_accounts: [AccountId::parse("222222222222").unwrap()].into(),
        guardduty_admin_accounts: Default::default(),
    }
}

fn collector(world: Arc<InMemory>) -> Collector {
    let ports = fanin::fakes::ports(world);
    Collector::new(
        Settings {
            partition: Partition::parse("aws").unwrap(),
            provenance: provenance(),
            index_prefix: "fanin".into(),
            bulk_max_bytes: 1 << 20,
            max_concurrency: 4,
            claim_ttl: fanin::pipeline::DEFAULT_CLAIM_TTL,
        },
        ports,
    )
}

fn message(id: &str, body: String) -> InboundMessage {
    InboundMessage {
        message_id: id.into(),
        body,
        receive_count: 1,
    }
}

fn deadline() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(30)
}

fn classic_world() -> InMemory {
    let finding: ClassicFinding = serde_json::from_str(&fixture("classic-finding.json")).unwrap();
    let mut world = world();
    world.classic.insert(finding.arn.clone(), finding);
    world
}

#[tokio::test]
async fn a_classic_finding_is_fetched_enriched_and_normalized() {
    let world = Arc::new(classic_world());
    let report = collector(world.clone())
        .process_batch(
            vec![message("m1", fixture("sns-finding-reported.json"))],
            deadline(),
        )
        .await;
    assert_eq!(
        (report.findings_stored, report.failed_message_ids.len()),
        (1, 0),
        "{report:?}"
    );
    let documents = world.index("fanin-findings");
    let stored = documents.values().next().unwrap();
    let (version, document) = (stored.version, &stored.source);
    assert_eq!(
        version / 1_000_000,
        1_767_229_200_456,
        "the external version orders by updatedAt in ms first"
    );
    assert_eq!(document["class_uid"], 2002);
    assert_eq!(document["type_uid"], 200201);
    assert_eq!(
        (
            document["severity_id"].as_u64(),
            document["severity"].as_str()
        ),
        (Some(4), Some("High"))
    );
    assert_eq!(
        document["finding_info"]["modified_time_dt"],
        "2026-01-01T01:00:00.456Z"
    );
    assert_eq!(
        document["vulnerabilities"][0]["cve"]["uid"],
        "CVE-2021-44228"
    );
    assert_eq!(document["cloud"]["account"]["uid"], "111111111111");
    assert_eq!(document["device"]["vpc_uid"], "vpc-0123456789abcdef0");
    let network = &document["unmapped"]["fanin"]["network"];
    assert_eq!(network["public_ips"], json!(["203.0.113.10"]));
    assert_eq!(network["internet_open_ports"][0]["from_port"], 22);
    assert_eq!(
        document["unmapped"]["fanin"]["details"]["user_attributes"]["ScanType"],
        "ScheduledRun-across-Fleet"
    );
    let objects = world.objects.lock().unwrap();
    assert_eq!(objects.len(), 1);
    assert!(objects.keys().next().unwrap().starts_with(
        "findings/classUid=2002/region=eu-west-1/accountId=111111111111/eventDay=20260101/"
    ));
}

#[tokio::test]
async fn a_best_practice_finding_maps_without_a_cve() {
    let finding: ClassicFinding =
        serde_json::from_str(&fixture("classic-best-practice-finding.json")).unwrap();
    let body = fixture("sns-finding-reported.json").replace("0-dddd4444", "0-eeee5555");
    let mut world = world();
    world.classic.insert(finding.arn.clone(), finding);
    let world = Arc::new(world);
    collector(world.clone())
        .process_batch(vec![message("m1", body)], deadline())
        .await;
    let documents = world.index("fanin-findings");
    let document = &documents.values().next().unwrap().source;
    assert!(document["vulnerabilities"][0].get("cve").is_none());
    assert_eq!(
        document["vulnerabilities"][0]["advisory"]["uid"],
        "Disable password authentication over SSH"
    );
    assert_eq!(
        document["vulnerabilities"][0]["remediation"]["desc"],
        "Set PasswordAuthentication to no in sshd_config."
    );
    assert_eq!(
        document["finding_info"]["types"][0],
        "Software and Configuration Checks/Industry and Regulatory Standards"
    );
}

#[tokio::test]
async fn inspector2_events_in_both_timestamp_forms_are_stored() {
    let world = Arc::new(InMemory::default());
    let messages = vec![
        message("ec2", fixture("inspector2-ec2-finding-event.json")),
        message("ecr", fixture("inspector2-ecr-finding-event.json")),
    ];
    let report = collector(world.clone())
        .process_batch(messages, deadline())
        .await;
    assert_eq!(report.findings_stored, 2, "{report:?}");
    let documents = world.index("fanin-findings");
    let by_uid: HashMap<String, &Value> = documents
        .values()
        .map(|d| {
            (
                d.source["finding_info"]["uid"].as_str().unwrap().to_owned(),
                &d.source,
            )
        })
        .collect();
    let ec2 = by_uid["arn:aws:inspector2:us-east-1:111111111111:finding/0f1e2d3c4b5a69788796a5b4c3d2e1f0"];
    assert_eq!(
        ec2["finding_info"]["modified_time_dt"],
        "2024-06-20T01:47:55.779Z"
    );
    assert_eq!(ec2["severity_id"], 5);
    assert_eq!(
        ec2["vulnerabilities"][0]["affected_packages"][0]["fixed_in_version"],
        "0:8.7p1-38.amzn2023.0.2"
    );
    assert_eq!(
        ec2["unmapped"]["fanin"]["enrichment"]["status"],
        "instance_not_found"
    );
    assert_eq!(ec2["device"]["vpc_uid"], "vpc-0aaaabbbbccccdddd");
    // Inspector lists private and public addresses together; fanin tells them apart.
    assert_eq!(
        ec2["unmapped"]["fanin"]["network"]["private_ips"],
        json!(["10.0.0.12"])
    );
    assert_eq!(
        ec2["unmapped"]["fanin"]["network"]["public_ips"],
        json!(["54.0.0.12"])
    );
    assert_eq!(ec2["device"]["ip"], "10.0.0.12");
    assert_eq!(ec2["resources"][0]["type"], "AwsEc2Instance");
    assert!(
        ec2["vulnerabilities"][0].get("advisory").is_none(),
        "a CVE finding has no advisory"
    );
    let ecr =
        by_uid["arn:aws:inspector2:us-east-1:111111111111:finding/ecr0000000000000000000000000001"];
    assert_eq!(
        ecr["finding_info"]["modified_time_dt"],
        "2024-06-18T00:27:04.000Z"
    );
    assert_eq!(
        ecr["unmapped"]["fanin"]["enrichment"]["status"],
        "not_applicable"
    );
    assert!(ecr.get("device").is_none());
}

#[tokio::test]
async fn failed_items_are_retried_or_quarantined_by_their_retryable_flag() {
    let mut world = classic_world();
    let arn = |f: &str| {
        format!(
            "arn:aws:inspector:eu-west-1:111111111111:target/0-aaaa1111/template/0-bbbb2222/run/0-cccc3333/finding/{f}"
        )
    };
    world.failed = vec![
        FailedItem {
            arn: arn("0-retry001"),
            failure_code: "INTERNAL_ERROR".into(),
            retryable: true,
        },
        FailedItem {
            arn: arn("0-gone0001"),
            failure_code: "ITEM_DOES_NOT_EXIST".into(),
            retryable: false,
        },
    ];
    let world = Arc::new(world);
    let sns = fixture("sns-finding-reported.json");
    let messages = vec![
        message("ok", sns.clone()),
        message("retry", sns.replace("0-dddd4444", "0-retry001")),
        message("gone", sns.replace("0-dddd4444", "0-gone0001")),
    ];
    let report = collector(world.clone())
        .process_batch(messages, deadline())
        .await;
    assert_eq!(report.failed_message_ids, vec!["retry".to_string()]);
    assert_eq!(
        report.quarantined.get("classic_item_does_not_exist"),
        Some(&1)
    );
    assert_eq!(
        world.calls()["DescribeFindings"],
        1,
        "three ARNs, one DescribeFindings"
    );
    let objects = world.objects.lock().unwrap();
    let quarantined: Vec<&String> = objects
        .keys()
        .filter(|k| k.starts_with("quarantine/"))
        .collect();
    assert_eq!(quarantined.len(), 1);
    assert!(quarantined[0].starts_with("quarantine/reason=classic_item_does_not_exist/"));
}

#[tokio::test]
async fn an_archive_outage_retries_and_the_retry_writes_once() {
    let world = Arc::new(classic_world());
    *world.archive_down.lock().unwrap() = true;
    let collector = collector(world.clone());
    let body = fixture("sns-finding-reported.json");
    let report = collector
        .process_batch(vec![message("m1", body.clone())], deadline())
        .await;
    assert_eq!(
        report.failed_message_ids,
        vec!["m1".to_string()],
        "not archived, so retried"
    );
    assert!(
        world.index("fanin-ledger").is_empty(),
        "not in the ledger while not archived"
    );

    *world.archive_down.lock().unwrap() = false;
    let retry = collector
        .process_batch(vec![message("m1", body.clone())], deadline())
        .await;
    assert_eq!(
        (retry.findings_stored, retry.failed_message_ids.len()),
        (1, 0)
    );
    let again = collector
        .process_batch(vec![message("m1-dup", body)], deadline())
        .await;
    assert_eq!(
        (again.findings_stored, again.findings_already_stored),
        (0, 1)
    );
    assert_eq!(
        world.objects.lock().unwrap().len(),
        1,
        "one archive object in all"
    );
}

/// The Inspector2 fixture as the central rule would deliver it from `account`,
/// with `edit` applied to the finding.
fn inspector2_body(account: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut event: Value =
        serde_json::from_str(&fixture("inspector2-ec2-finding-event.json")).unwrap();
    event["account"] = account.into();
    edit(&mut event["detail"]);
    event.to_string()
}

fn sns_around(topic: &str, message: &str) -> String {
    let mut envelope: Value = serde_json::from_str(&fixture("sns-finding-reported.json")).unwrap();
    envelope["TopicArn"] = topic.into();
    envelope["Message"] = message.into();
    envelope.to_string()
}

#[tokio::test]
async fn forged_origins_and_impossible_versions_are_quarantined_by_reason() {
    let world = Arc::new(classic_world());
    let genuine_topic = "arn:aws:sns:eu-west-1:123456789012:fanin-inspector-classic";
    let classic_message = {
        let envelope: Value = serde_json::from_str(&fixture("sns-finding-reported.json")).unwrap();
        envelope["Message"].as_str().unwrap().to_owned()
    };
    let messages = vec![
        message("forged-account", inspector2_body("333333333333", |_| {})),
        message(
            "in-sns",
            sns_around(genuine_topic, &inspector2_body("111111111111", |_| {})),
        ),
        message(
            "foreign-topic",
            sns_around(
                "arn:aws:sns:eu-west-1:666666666666:fanin-inspector-classic",
                &classic_message,
            ),
        ),
        message(
            "future",
            inspector2_body("111111111111", |d| {
                d["updatedAt"] = "9999-12-31T23:59:59Z".into();
                d["status"] = "CLOSED".into();
            }),
        ),
        message(
            "before-1970",
            inspector2_body("111111111111", |d| {
                d["updatedAt"] = "1969-07-20T20:17:00Z".into()
            }),
        ),
        message(
            "cn-region",
            inspector2_body("111111111111", |d| {
                d["findingArn"] = "arn:aws:inspector2:cn-north-1:111111111111:finding/f".into()
            }),
        ),
        message("administrator", inspector2_body("222222222222", |_| {})),
        message(
            "own-account",
            inspector2_body("111111111111", |d| {
                d["findingArn"] = "arn:aws:inspector2:us-east-1:111111111111:finding/other".into()
            }),
        ),
    ];
    let report = collector(world.clone())
        .process_batch(messages, deadline())
        .await;
    let expected: std::collections::BTreeMap<String, usize> = [
        ("event_account_mismatch", 1),
        ("inspector2_in_sns", 1),
        ("untrusted_topic", 1),
        ("version_out_of_range", 2),
        ("foreign_partition", 1),
    ]
    .into_iter()
    .map(|(reason, count)| (reason.to_owned(), count))
    .collect();
    assert_eq!(report.quarantined, expected, "{report:?}");
    assert_eq!(
        report.findings_stored, 2,
        "the administrator's and the account's own"
    );
    assert!(report.failed_message_ids.is_empty());
    let objects = world.objects.lock().unwrap();
    for reason in expected.keys() {
        assert!(
            objects
                .keys()
                .any(|k| k.starts_with(&format!("quarantine/reason={reason}/"))),
            "{reason}"
        );
    }
}

/// ACTIVE and CLOSED with the same second-precision `updatedAt`.
fn same_second_states() -> (String, String) {
    let at = |status: &'static str| {
        inspector2_body("111111111111", move |d| {
            d["updatedAt"] = "Jan 1, 2026, 1:00:00 AM".into();
            d["status"] = status.into();
        })
    };
    (at("ACTIVE"), at("CLOSED"))
}

#[tokio::test]
async fn a_newer_state_in_the_same_second_wins_in_one_batch_or_two() {
    let (active, closed) = same_second_states();
    let orders = [
        vec![vec![active.clone(), closed.clone()]],
        vec![vec![closed.clone(), active.clone()]],
        vec![vec![active.clone()], vec![closed.clone()]],
        vec![vec![closed.clone()], vec![active.clone()]],
    ];
    for batches in orders {
        let world = Arc::new(InMemory::default());
        let collector = collector(world.clone());
        let mut stored = 0;
        for (i, bodies) in batches.iter().enumerate() {
            let messages = bodies
                .iter()
                .enumerate()
                .map(|(j, body)| message(&format!("m{i}-{j}"), body.clone()))
                .collect();
            let report = collector.process_batch(messages, deadline()).await;
            assert!(report.failed_message_ids.is_empty(), "{report:?}");
            stored += report.findings_stored;
        }
        assert_eq!(stored, 2, "two contents are two versions: {batches:?}");
        assert_eq!(world.index("fanin-ledger").len(), 2);
        let documents = world.index("fanin-findings");
        let stored = documents.values().next().unwrap();
        let (version, document) = (stored.version, &stored.source);
        assert_eq!(document["status_detail"], "CLOSED", "{batches:?}");
        assert_eq!(version / 1_000_000, 1_767_229_200_000);
        let archived: usize = world
            .objects
            .lock()
            .unwrap()
            .iter()
            .filter(|(key, _)| key.starts_with("findings/"))
            .map(|(_, body)| {
                let mut text = String::new();
                std::io::Read::read_to_string(
                    &mut flate2::read::GzDecoder::new(&body[..]),
                    &mut text,
                )
                .unwrap();
                text.lines().count()
            })
            .sum();
        assert_eq!(archived, 2, "both states archived: {batches:?}");
    }
}

#[tokio::test]
async fn bad_values_are_set_aside_and_huge_strings_capped_in_a_stored_finding() {
    let world = Arc::new(InMemory::default());
    let body = inspector2_body("111111111111", |d| {
        d["title"] = "T".repeat(1_000_000).into();
        d["firstObservedAt"] = "the day before yesterday".into();
        d["resources"][0]["details"]["awsEc2Instance"]["ipV4Addresses"] =
            json!(["999.1.1.1", "10.0.0.12"]);
        d["resources"][0]["region"] = "cn-north-1".into();
    });
    let report = collector(world.clone())
        .process_batch(vec![message("m1", body)], deadline())
        .await;
    assert_eq!(report.findings_stored, 1, "{report:?}");
    let documents = world.index("fanin-findings");
    let document = &documents.values().next().unwrap().source;
    let title = document["finding_info"]["title"].as_str().unwrap();
    assert_eq!(
        title,
        format!("{}…[truncated 998976 bytes]", "T".repeat(1024))
    );
    let fanin = &document["unmapped"]["fanin"];
    assert!(
        fanin["truncated"]
            .as_array()
            .unwrap()
            .contains(&json!({"field": "finding_info.title", "original_bytes": 1_000_000}))
    );
    assert_eq!(
        fanin["unparsed"],
        json!([
            {"field": "firstObservedAt", "value": "the day before yesterday"},
            {"field": "resources[0].region", "value": "cn-north-1"},
            {"field": "resources[0].details.awsEc2Instance.ipV4Addresses", "value": "999.1.1.1"},
        ])
    );
    assert_eq!(fanin["network"]["private_ips"], json!(["10.0.0.12"]));
    assert_eq!(document["device"]["ip"], "10.0.0.12");
    assert_eq!(document["resources"][0]["region"], "us-east-1");
    assert!(document["finding_info"].get("first_seen_time").is_none());
}

#[tokio::test]
async fn history_keeps_every_version_once_and_the_latest_index_the_newest() {
    let world = Arc::new(world());
    let collector = collector(world.clone());
    let at =
        |time: &'static str| inspector2_body("111111111111", move |d| d["updatedAt"] = time.into());
    let (first, newest, older) = (
        at("2026-01-01T00:00:00Z"),
        at("2026-01-03T00:00:00Z"),
        at("2026-01-02T00:00:00Z"),
    );
    // The older update arrives after the newest; then everything again.
    let batches = [
        vec![first.clone()],
        vec![newest.clone()],
        vec![older.clone()],
        vec![first, newest, older],
    ];
    for (i, bodies) in batches.iter().enumerate() {
        let messages = bodies
            .iter()
            .enumerate()
            .map(|(j, body)| message(&format!("m{i}-{j}"), body.clone()))
            .collect();
        let report = collector.process_batch(messages, deadline()).await;
        assert!(report.failed_message_ids.is_empty(), "{report:?}");
    }
    let latest = world.index("fanin-findings");
    assert_eq!(latest.len(), 1);
    let newest_version = latest.values().next().unwrap();
    assert_eq!(
        newest_version.source["finding_info"]["modified_time_dt"],
        "2026-01-03T00:00:00.000Z"
    );
    let history = world.index("fanin-findings-history");
    assert_eq!(history.len(), 3, "one document per version, none twice");
    for (id, document) in &history {
        assert_eq!(
            document.source["metadata"]["uid"].as_str(),
            Some(id.as_str())
        );
        assert_eq!(
            document.source["finding_info"]["uid"],
            newest_version.source["finding_info"]["uid"]
        );
    }
    // Both names are write aliases over their first indices.
    let aliases = world.aliases.lock().unwrap().clone();
    assert_eq!(aliases["fanin-findings"], "fanin-findings-000001");
    assert_eq!(
        aliases["fanin-findings-history"],
        "fanin-findings-history-000001"
    );
}

#[tokio::test]
async fn a_quarantined_message_gets_a_health_document_and_its_failure_is_only_counted() {
    let world = Arc::new(world());
    let collector = collector(world.clone());
    let bad_version = inspector2_body("111111111111", |d| {
        d["updatedAt"] = "2014-06-01T00:00:00Z".into()
    });
    let report = collector
        .process_batch(
            vec![
                message("broken", "{not json".into()),
                message("too-old", bad_version),
            ],
            deadline(),
        )
        .await;
    assert!(report.failed_message_ids.is_empty(), "{report:?}");
    assert_eq!(report.quarantine_health_failed, 0);
    let keys: Vec<String> = world
        .objects
        .lock()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("quarantine/"))
        .cloned()
        .collect();
    assert_eq!(keys.len(), 2);
    let health = world.index("fanin-quarantine");
    assert_eq!(health.len(), 2);
    let mut documents: Vec<Value> = health.values().map(|d| d.source.clone()).collect();
    documents.sort_by_key(|d| d["reason"].as_str().unwrap().to_owned());
    assert_eq!(documents[0]["reason"], "malformed_json");
    assert_eq!(documents[0]["source"], "unknown");
    assert!(documents[0].get("account_id").is_none());
    assert_eq!(documents[1]["reason"], "version_out_of_range");
    assert_eq!(
        (
            &documents[1]["source"],
            &documents[1]["account_id"],
            &documents[1]["region"]
        ),
        (
            &json!("inspector2"),
            &json!("111111111111"),
            &json!("us-east-1")
        )
    );
    for document in &documents {
        assert!(keys.contains(&document["key"].as_str().unwrap().to_owned()));
    }

    // The cluster refusing the health document (429 on every attempt):
    // the message is quarantined all the same, the failure counted.
    *world.reject_next_items.lock().unwrap() = 100;
    let report = collector
        .process_batch(
            vec![message("broken-again", "{still not json".into())],
            deadline(),
        )
        .await;
    assert!(report.failed_message_ids.is_empty(), "{report:?}");
    assert_eq!(report.quarantined["malformed_json"], 1);
    assert_eq!(report.quarantine_health_failed, 1);
    assert_eq!(world.index("fanin-quarantine").len(), 2);
    assert_eq!(
        world
            .objects
            .lock()
            .unwrap()
            .keys()
            .filter(|k| k.starts_with("quarantine/"))
            .count(),
        3
    );
}
