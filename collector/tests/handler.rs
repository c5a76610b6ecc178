//! The collector's Lambda handler called as the runtime calls it: an SQS
//! event in, `batchItemFailures` out, with the pipeline on in-memory fakes.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use fanin::decode::{AcceptedTopics, Provenance};
use fanin::fakes::InMemory;
use fanin::ids::{AccountId, Partition};
use fanin::pipeline::{Collector, DEFAULT_CLAIM_TTL, Settings};
use fanin::ports::FailedItem;
use fanin_collector::handler::handle_sqs;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn collector(world: Arc<InMemory>) -> Collector {
    Collector::new(
        Settings {
            partition: Partition::parse("aws").unwrap(),
            provenance: Provenance {
                partition: Partition::parse("aws").unwrap(),
                topics: AcceptedTopics::Named {
                    account: AccountId::parse("123456789012").unwrap(),
                    name: "fanin-inspector-classic".into(),
                },
                inspector2_admin_accounts: Default::default(),
                guardduty_admin_accounts: Default::default(),
            },
            index_prefix: "fanin".into(),
            bulk_max_bytes: 1 << 20,
            max_concurrency: 4,
            claim_ttl: DEFAULT_CLAIM_TTL,
        },
        fanin::fakes::ports(world),
    )
}

/// An SQS event as the event-source mapping sends it.
fn sqs_event(records: &[(&str, String)]) -> LambdaEvent<aws_lambda_events::event::sqs::SqsEvent> {
    let records: Vec<Value> = records
        .iter()
        .map(|(id, body)| {
            json!({
                "messageId": id,
                "receiptHandle": format!("handle-{id}"),
                "body": body,
                "attributes": {"ApproximateReceiveCount": "3"},
                "eventSource": "aws:sqs",
            })
        })
        .collect();
    let payload = serde_json::from_value(json!({ "Records": records })).unwrap();
    let mut context = Context::default();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    context.deadline = now_ms + 60_000;
    LambdaEvent::new(payload, context)
}

#[tokio::test]
async fn the_handler_answers_only_the_messages_to_retry_and_stores_the_rest() {
    let mut world = InMemory::default();
    let retry_arn = "arn:aws:inspector:eu-west-1:111111111111:target/0-aaaa1111/template/0-bbbb2222/run/0-cccc3333/finding/0-dddd4444";
    world.failed = vec![FailedItem {
        arn: retry_arn.into(),
        failure_code: "INTERNAL_ERROR".into(),
        retryable: true,
    }];
    let world = Arc::new(world);
    let event = sqs_event(&[
        ("stored", fixture("inspector2-ecr-finding-event.json")),
        ("retried", fixture("sns-finding-reported.json")),
        ("malformed", "{not json".into()),
    ]);

    let response = handle_sqs(&collector(world.clone()), event).await.unwrap();

    let failures: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failures, ["retried"], "only the retryable failed item");
    let stored: Vec<Value> = world
        .index("fanin-findings")
        .into_values()
        .map(|d| d.source)
        .collect();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0]["finding_info"]["uid"],
        "arn:aws:inspector2:us-east-1:111111111111:finding/ecr0000000000000000000000000001"
    );
    let objects = world.objects.lock().unwrap();
    let quarantine: Vec<Value> = objects
        .iter()
        .filter(|(key, _)| key.starts_with("quarantine/reason=malformed_json/"))
        .map(|(_, body)| serde_json::from_slice(body).unwrap())
        .collect();
    assert_eq!(quarantine.len(), 1, "the malformed message is set aside");
    assert_eq!(quarantine[0]["message_id"], "malformed");
    assert_eq!(
        quarantine[0]["receive_count"], 3,
        "the SQS attribute reaches the quarantine record"
    );
    assert!(
        objects.keys().any(|key| key
            .starts_with("findings/classUid=2002/region=us-east-1/accountId=111111111111/")),
        "the stored finding is archived: {:?}",
        objects.keys().collect::<Vec<_>>()
    );
}
