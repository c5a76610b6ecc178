//! Bad input never loops and is never lost: each message is quarantined with
//! its reason, or stored with an enrichment status that says what is missing.

use std::collections::BTreeMap;

use fanin_devstack::scenario::{self, LocalStack};
use serde_json::{Value, json};

use crate::{documents_by_uid, mapping};

const NO_ROLE_ACCOUNT: &str = "444444444444";
const LIVE_ACCOUNT: &str = "555555555555";

fn sns(message: &str) -> String {
    json!({"Type": "Notification", "MessageId": "x", "TopicArn": "arn:aws:sns:us-east-1:123456789012:fanin-inspector-classic", "Message": message}).to_string()
}

/// An Inspector2 finding event as the central rule delivers it: raw, with
/// the sending account.
fn inspector2_event(account: &str, detail: &Value) -> String {
    json!({"version": "0", "id": "e", "source": "aws.inspector2", "detail-type": "Inspector2 Finding",
        "account": account, "region": "us-east-1", "time": "2026-01-01T00:00:00Z", "resources": [], "detail": detail})
    .to_string()
}

fn classic_arn(partition: &str, account: &str) -> String {
    format!(
        "arn:{partition}:inspector:us-east-1:{account}:target/0-aaaaaaaa/template/0-bbbbbbbb/run/0-cccccccc/finding/0-dddddddd"
    )
}

fn classic(arn: &str) -> String {
    sns(&json!({"event": "FINDING_REPORTED", "finding": arn, "template": "t", "run": "r", "time": "2026-01-01T00:00:00Z", "target": "x"}).to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_messages_are_set_aside_with_their_reason() {
    let stack = LocalStack::start().await.unwrap();
    let deployed = fanin_devstack::deployment::deploy(&stack, &[LIVE_ACCOUNT], &["us-east-1"])
        .await
        .unwrap();
    let central = deployed.central.clone();
    // An account that exists, with an instance, but no read role for fanin.
    let facts = scenario::create_workloads(&stack, NO_ROLE_ACCOUNT, "us-east-1", 1)
        .await
        .unwrap();
    let inspector2_without_role = scenario::inspector2_ec2_finding(&facts[0], 0, 1_767_225_600);
    let bodies = vec![
        "{this is not json".to_owned(),
        sns(&json!({"event": "SOMETHING_NEW", "template": "t"}).to_string()),
        json!({"source": "aws.securityhub", "detail-type": "Security Hub Findings - Imported", "detail": {}})
            .to_string(),
        sns("plain text, not JSON"),
        classic(&classic_arn("aws-cn", "111111111111")),
        classic(&classic_arn("aws", "11111111111x")),
        classic(&classic_arn("aws", NO_ROLE_ACCOUNT)),
        inspector2_event(NO_ROLE_ACCOUNT, &inspector2_without_role),
        sns(&json!({"event": "ASSESSMENT_RUN_COMPLETED", "template": "t", "run": "r"}).to_string()),
    ];
    scenario::send_raw(&stack, &central, &bodies).await.unwrap();
    // An instance terminated between the assessment run and the collector.
    let live = scenario::create_workloads(&stack, LIVE_ACCOUNT, "us-east-1", 2)
        .await
        .unwrap();
    let classic = scenario::run_classic(&stack, &deployed, LIVE_ACCOUNT, "us-east-1", 1)
        .await
        .unwrap();
    assert_eq!(classic.len(), 2);
    scenario::terminate_instance(&stack, LIVE_ACCOUNT, "us-east-1", &live[0].instance_id)
        .await
        .unwrap();

    let mut collector = scenario::start_collector(&stack, &deployed).await.unwrap();
    let stats = mapping(&stack, &deployed)
        .await
        .drain(&mut collector, scenario::DRAIN_LIMIT)
        .await
        .unwrap();
    assert_eq!(
        stats.messages_delivered,
        bodies.len() + 2,
        "each message is delivered once: nothing loops"
    );
    assert_eq!(stats.failures_reported, 0);
    assert_eq!(scenario::dlq_depth(&stack, &central).await.unwrap(), 0);

    let quarantined = scenario::quarantined(&stack, &central).await.unwrap();
    let mut by_reason: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, object) in &quarantined {
        let reason = object["reason"].as_str().unwrap().to_owned();
        assert!(
            key.starts_with(&format!("quarantine/reason={reason}/eventDay=")),
            "{key}"
        );
        assert!(!object["detail"].as_str().unwrap().is_empty());
        by_reason
            .entry(reason)
            .or_default()
            .push(object["body"].as_str().unwrap().to_owned());
    }
    let expected: BTreeMap<String, Vec<String>> = [
        ("malformed_json", vec![bodies[0].clone()]),
        ("unknown_event", vec![bodies[1].clone(), bodies[2].clone()]),
        ("sns_message_not_json", vec![bodies[3].clone()]),
        ("foreign_partition", vec![bodies[4].clone()]),
        ("invalid_identifier", vec![bodies[5].clone()]),
        ("role_unavailable", vec![bodies[6].clone()]),
    ]
    .into_iter()
    .map(|(reason, mut bodies)| {
        bodies.sort();
        (reason.to_owned(), bodies)
    })
    .collect();
    for list in by_reason.values_mut() {
        list.sort();
    }
    assert_eq!(
        by_reason, expected,
        "every bad message is quarantined once, with its original body"
    );

    // The deployed quarantine alarm counts the collector's log lines that its
    // metric filter matches: exactly one per quarantined message.
    let quarantine_filter = metric_filter("QuarantineMetricFilter");
    let logged = std::fs::read_to_string(&collector.log_path).unwrap();
    let matching = logged
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| quarantine_filter.matches(line))
        .count();
    assert_eq!(matching, quarantined.len(), "{quarantine_filter:?}");
    // A notification from outside the organization is counted by its own
    // filter (metric OutsideNotifications, no alarm), never by the
    // quarantine alarm's, and the other way round.
    let outside_filter = metric_filter("OutsideNotificationsMetricFilter");
    let outside_line = json!({"fields": {"message": "outside notification acknowledged", "account_id": "999999999999"}});
    let quarantine_line =
        json!({"fields": {"message": "message quarantined", "reason": "role_unavailable"}});
    assert!(outside_filter.matches(&outside_line), "{outside_filter:?}");
    assert!(
        !outside_filter.matches(&quarantine_line),
        "{outside_filter:?}"
    );
    assert!(
        !quarantine_filter.matches(&outside_line),
        "{quarantine_filter:?}"
    );
    assert!(
        quarantine_filter.matches(&quarantine_line),
        "{quarantine_filter:?}"
    );

    // The Inspector2 finding of the account without a role is stored anyway,
    // and so are the findings of a terminated instance.
    let documents = documents_by_uid(&stack, &central).await;
    assert_eq!(documents.len(), 3);
    let orphan = documents
        .values()
        .find(|d| d["cloud"]["account"]["uid"] == NO_ROLE_ACCOUNT)
        .unwrap();
    assert_eq!(
        orphan["unmapped"]["fanin"]["enrichment"]["status"],
        "role_unavailable"
    );
    assert_eq!(
        orphan["unmapped"]["fanin"]["network"]["observed_from"],
        "finding"
    );
    assert_eq!(orphan["device"]["vpc_uid"], facts[0].vpc_id.as_str());
    let status_of = |instance: &str| {
        let document = documents
            .values()
            .find(|d| d["device"]["instance_uid"] == instance)
            .unwrap();
        (
            document["unmapped"]["fanin"]["enrichment"]["status"]
                .as_str()
                .unwrap()
                .to_owned(),
            document["unmapped"]["fanin"]["instance"]["state"]
                .as_str()
                .unwrap()
                .to_owned(),
        )
    };
    assert_eq!(
        status_of(&live[0].instance_id),
        ("instance_terminated".to_owned(), "terminated".to_owned())
    );
    assert_eq!(
        status_of(&live[1].instance_id),
        ("enriched".to_owned(), "running".to_owned())
    );
    assert_eq!(
        scenario::archived_records(&stack, &central)
            .await
            .unwrap()
            .len(),
        3
    );
}

/// A metric filter of the collector log group (`{ $.a.b = "value" }`).
#[derive(Debug)]
struct MetricFilter {
    /// The JSON pointer of `$.a.b`.
    field: String,
    value: String,
}

impl MetricFilter {
    fn matches(&self, line: &Value) -> bool {
        line.pointer(&self.field).and_then(Value::as_str) == Some(self.value.as_str())
    }
}

/// The filter pattern of the metric filter resource `name` in
/// `central-primary.yaml`, read from the template.
fn metric_filter(name: &str) -> MetricFilter {
    let template = std::fs::read_to_string(
        fanin_devstack::lambda_host::workspace_root().join("cloudformation/central-primary.yaml"),
    )
    .unwrap();
    let resource = &template[template.find(&format!("\n  {name}:\n")).unwrap()..];
    let line = resource
        .lines()
        .find(|l| l.trim_start().starts_with("FilterPattern:"))
        .unwrap();
    let inner = line.split_once("{ $.").unwrap().1;
    let (path, rest) = inner.split_once(" = \"").unwrap();
    let value = rest.split_once('"').unwrap().0;
    MetricFilter {
        field: format!("/{}", path.replace('.', "/")),
        value: value.to_owned(),
    }
}

/// Forgery and poisoning from the issue, in one batch with 19 innocent
/// findings: each forged or impossible message is set aside under its own
/// reason, the poisoned values are kept aside in a stored finding, and the
/// innocent findings are all stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_poisoned_messages_never_win_nor_take_their_neighbours() {
    const OTHER_MEMBER: &str = "777777777777";
    let stack = LocalStack::start().await.unwrap();
    let deployed = fanin_devstack::deployment::deploy(&stack, &[LIVE_ACCOUNT], &["us-east-1"])
        .await
        .unwrap();
    let central = deployed.central.clone();
    let facts = scenario::create_workloads(&stack, LIVE_ACCOUNT, "us-east-1", 2)
        .await
        .unwrap();
    let updated = 1_767_225_600; // 2026-01-01T00:00:00Z
    let innocent: Vec<Value> = (0..19)
        .map(|i| scenario::inspector2_ec2_finding(&facts[i % 2], i, updated))
        .collect();
    // The target of the forgeries: a real finding, updated later for real.
    let target = scenario::inspector2_ec2_finding(&facts[0], 100, updated);
    let mut real_update = target.clone();
    real_update["updatedAt"] = scenario::inspector2_time(updated + 60, 1);
    let mut forged_closed = target.clone();
    forged_closed["status"] = json!("CLOSED");
    forged_closed["updatedAt"] = json!("9999-12-31T23:59:59Z");
    let mut before_1970 = scenario::inspector2_ec2_finding(&facts[1], 101, updated);
    before_1970["updatedAt"] = json!("1969-12-31T23:59:59Z");
    let mut year_10000 = scenario::inspector2_ec2_finding(&facts[1], 102, updated);
    year_10000["updatedAt"] = json!(253_402_300_800_i64);
    let mut bad_address = scenario::inspector2_ec2_finding(&facts[1], 103, updated);
    bad_address["resources"][0]["details"]["awsEc2Instance"]["ipV4Addresses"] =
        json!(["999.1.1.1", facts[1].private_ip]);
    // SQS and EventBridge take 256 KiB per message: the largest title an
    // event can carry (the handler test stores a 1 MB one).
    let mut huge_title = scenario::inspector2_ec2_finding(&facts[1], 104, updated);
    huge_title["title"] = json!("T".repeat(200_000));

    let genuine_topic = deployed.central.topic_arns.values().next().unwrap().clone();
    let forged: Vec<(String, &str)> = vec![
        // Another member account claims LIVE_ACCOUNT's finding.
        (
            inspector2_event(OTHER_MEMBER, &forged_closed),
            "event_account_mismatch",
        ),
        // An Inspector2 event inside an envelope of the genuine topic.
        (
            sns_from(
                &genuine_topic,
                &inspector2_event(LIVE_ACCOUNT, &forged_closed),
            ),
            "inspector2_in_sns",
        ),
        // A Classic notification from a topic of another account.
        (
            sns_from(
                "arn:aws:sns:us-east-1:666666666666:fanin-inspector-classic",
                &classic_notification(&classic_arn("aws", LIVE_ACCOUNT)),
            ),
            "untrusted_topic",
        ),
        // The right account, but an update time no version may have.
        (
            inspector2_event(LIVE_ACCOUNT, &forged_closed),
            "version_out_of_range",
        ),
        (
            inspector2_event(LIVE_ACCOUNT, &before_1970),
            "version_out_of_range",
        ),
        (
            inspector2_event(LIVE_ACCOUNT, &year_10000),
            "version_out_of_range",
        ),
        // A region of another partition under `aws`.
        (
            classic(&classic_arn("aws", LIVE_ACCOUNT).replace("us-east-1", "cn-north-1")),
            "foreign_partition",
        ),
    ];
    let mut bodies: Vec<String> = forged.iter().map(|(body, _)| body.clone()).collect();
    bodies.extend(innocent.iter().map(|d| inspector2_event(LIVE_ACCOUNT, d)));
    bodies.push(inspector2_event(LIVE_ACCOUNT, &real_update));
    bodies.push(inspector2_event(LIVE_ACCOUNT, &bad_address));
    bodies.push(inspector2_event(LIVE_ACCOUNT, &huge_title));
    scenario::send_raw(&stack, &central, &bodies).await.unwrap();

    let mut collector = scenario::start_collector(&stack, &deployed).await.unwrap();
    let stats = mapping(&stack, &deployed)
        .await
        .drain(&mut collector, scenario::DRAIN_LIMIT)
        .await
        .unwrap();
    assert_eq!(stats.messages_delivered, bodies.len(), "nothing loops");
    assert_eq!(stats.failures_reported, 0);
    assert_eq!(scenario::dlq_depth(&stack, &central).await.unwrap(), 0);

    let mut quarantined: Vec<(String, String)> = scenario::quarantined(&stack, &central)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, object)| {
            (
                object["body"].as_str().unwrap().to_owned(),
                object["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    quarantined.sort();
    let mut expected: Vec<(String, String)> = forged
        .iter()
        .map(|(body, reason)| (body.clone(), reason.to_string()))
        .collect();
    expected.sort();
    assert_eq!(quarantined, expected, "each forgery under its own reason");

    // 19 innocent findings, the target (its real update), the finding with
    // a bad address and the one with a huge title: 22 documents, 22 records.
    let documents = documents_by_uid(&stack, &central).await;
    assert_eq!(documents.len(), 22);
    assert_eq!(
        scenario::archived_records(&stack, &central)
            .await
            .unwrap()
            .len(),
        22
    );
    for finding in &innocent {
        assert!(documents.contains_key(finding["findingArn"].as_str().unwrap()));
    }
    let shown = &documents[target["findingArn"].as_str().unwrap()];
    assert_eq!(
        (shown["status"].as_str(), shown["status_detail"].as_str()),
        (Some("New"), Some("ACTIVE")),
        "the forged Resolved state never reached the index"
    );

    let stored = &documents[bad_address["findingArn"].as_str().unwrap()];
    assert_eq!(
        stored["unmapped"]["fanin"]["unparsed"],
        json!([{"field": "resources[0].details.awsEc2Instance.ipV4Addresses", "value": "999.1.1.1"}])
    );
    assert_eq!(stored["device"]["ip"], facts[1].private_ip.as_str());
    assert_eq!(
        stored["unmapped"]["fanin"]["network"]["private_ips"],
        json!([facts[1].private_ip])
    );

    let capped = &documents[huge_title["findingArn"].as_str().unwrap()];
    let title = capped["finding_info"]["title"].as_str().unwrap();
    assert_eq!(
        title,
        format!("{}…[truncated 198976 bytes]", "T".repeat(1024))
    );
    assert!(
        capped["unmapped"]["fanin"]["truncated"]
            .as_array()
            .unwrap()
            .contains(&json!({"field": "finding_info.title", "original_bytes": 200_000}))
    );

    // The collector logs each set-aside value with the finding it was in.
    let logged = std::fs::read_to_string(&collector.log_path).unwrap();
    assert!(
        logged
            .lines()
            .any(|line| line.contains("finding values set aside or cut")
                && line.contains(bad_address["findingArn"].as_str().unwrap())),
        "a warning names the finding with the bad address"
    );
}

/// ACTIVE then CLOSED in the same second (the "Jan 1, 2026, 1:00:00 AM"
/// form), in either order, in one batch or two: both states are archived
/// and the index ends on CLOSED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_state_in_the_same_second_is_never_lost() {
    let stack = LocalStack::start().await.unwrap();
    let deployed = fanin_devstack::deployment::deploy(&stack, &[LIVE_ACCOUNT], &["us-east-1"])
        .await
        .unwrap();
    let central = deployed.central.clone();
    let facts = scenario::create_workloads(&stack, LIVE_ACCOUNT, "us-east-1", 1)
        .await
        .unwrap();
    let updated = 1_767_229_200; // 2026-01-01T01:00:00Z
    // The same finding as ACTIVE and as CLOSED, both updated at 1:00:00 AM.
    let states = |index: usize| {
        let mut active = scenario::inspector2_ec2_finding(&facts[0], index, updated);
        active["updatedAt"] = json!("Jan 1, 2026, 1:00:00 AM");
        let mut closed = active.clone();
        closed["status"] = json!("CLOSED");
        (
            active["findingArn"].as_str().unwrap().to_owned(),
            inspector2_event(LIVE_ACCOUNT, &active),
            inspector2_event(LIVE_ACCOUNT, &closed),
        )
    };
    // (one batch | two batches) x (ACTIVE first | CLOSED first).
    let [
        one_active_first,
        one_closed_first,
        two_active_first,
        two_closed_first,
    ] = [0, 1, 2, 3].map(states);
    let mut collector = scenario::start_collector(&stack, &deployed).await.unwrap();
    let mapping = mapping(&stack, &deployed).await;
    let first_round = vec![
        one_active_first.1.clone(),
        one_active_first.2.clone(),
        one_closed_first.2.clone(),
        one_closed_first.1.clone(),
        two_active_first.1.clone(),
        two_closed_first.2.clone(),
    ];
    let second_round = vec![two_active_first.2.clone(), two_closed_first.1.clone()];
    let mut delivered = 0;
    for round in [first_round, second_round] {
        scenario::send_raw(&stack, &central, &round).await.unwrap();
        let stats = mapping
            .drain(&mut collector, scenario::DRAIN_LIMIT)
            .await
            .unwrap();
        assert_eq!(stats.failures_reported, 0);
        delivered += stats.messages_delivered;
    }
    assert_eq!(delivered, 8);
    assert!(
        scenario::quarantined(&stack, &central)
            .await
            .unwrap()
            .is_empty()
    );

    let documents = documents_by_uid(&stack, &central).await;
    let records = scenario::archived_records(&stack, &central).await.unwrap();
    for (arn, _, _) in [
        &one_active_first,
        &one_closed_first,
        &two_active_first,
        &two_closed_first,
    ] {
        let document = &documents[arn.as_str()];
        assert_eq!(
            (
                document["status"].as_str(),
                document["status_detail"].as_str()
            ),
            (Some("Resolved"), Some("CLOSED")),
            "{arn}: the index ends on CLOSED"
        );
        assert_eq!(document["time_dt"], "2026-01-01T01:00:00.000Z");
        let mut archived: Vec<&str> = records
            .iter()
            .filter(|(_, r)| r["finding_info"]["uid"] == arn.as_str())
            .map(|(_, r)| r["status_detail"].as_str().unwrap())
            .collect();
        archived.sort();
        assert_eq!(
            archived,
            ["ACTIVE", "CLOSED"],
            "{arn}: both states archived"
        );
    }
}

fn sns_from(topic: &str, message: &str) -> String {
    json!({"Type": "Notification", "MessageId": "x", "TopicArn": topic, "Message": message})
        .to_string()
}

fn classic_notification(arn: &str) -> String {
    json!({"event": "FINDING_REPORTED", "finding": arn, "template": "t", "run": "r", "time": "2026-01-01T00:00:00Z", "target": "x"}).to_string()
}
