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
        json!({"source": "aws.guardduty", "detail-type": "GuardDuty Finding", "detail": {}}).to_string(),
        sns("plain text, not JSON"),
        classic(&classic_arn("aws-cn", "111111111111")),
        classic(&classic_arn("aws", "11111111111x")),
        classic(&classic_arn("aws", NO_ROLE_ACCOUNT)),
        json!({"version": "0", "source": "aws.inspector2", "detail-type": "Inspector2 Finding", "detail": inspector2_without_role}).to_string(),
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
