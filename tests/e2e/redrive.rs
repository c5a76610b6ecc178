//! `fanin redrive`: after a fix, quarantined and dead-lettered messages go
//! back through the pipeline; a dry run lists them and moves nothing; a
//! reason filter leaves the others where they are.

use std::collections::BTreeSet;

use fanin::decode::InboundMessage;
use fanin::quarantine::{self, QuarantineReason};
use fanin_cli::redrive::{self, Places, Selection};
use fanin_devstack::scenario::{self, LocalStack, PRIMARY_REGION};
use serde_json::json;

const MEMBER: &str = "111111111111";

fn inspector2_event(detail: &serde_json::Value) -> String {
    json!({
        "version": "0", "id": "5c1a0e9e-redrive", "detail-type": "Inspector2 Finding",
        "source": "aws.inspector2", "account": MEMBER, "region": PRIMARY_REGION,
        "time": "2026-01-01T00:00:00Z", "resources": [], "detail": detail,
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redrive_puts_set_aside_messages_back_after_a_fix() {
    let stack = LocalStack::start().await.unwrap();
    let deployed = fanin_devstack::deployment::deploy(&stack, &[MEMBER], &[PRIMARY_REGION])
        .await
        .unwrap();
    let central = deployed.central.clone();
    let facts = scenario::create_workloads(&stack, MEMBER, PRIMARY_REGION, 2)
        .await
        .unwrap();
    let refused = inspector2_event(&scenario::inspector2_ec2_finding(
        &facts[0],
        0,
        1_767_225_600,
    ));
    let dead = inspector2_event(&scenario::inspector2_ec2_finding(
        &facts[1],
        1,
        1_767_225_600,
    ));
    let config = stack.moto_config(PRIMARY_REGION, None);
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::new(&config);
    // Before the fix: a finding the index refused (a mapping since fixed),
    // set aside as the collector does it; one a long outage sent to the
    // DLQ; and a message that will never be valid.
    let (key, object) = quarantine::object(
        &InboundMessage {
            message_id: "m-refused".into(),
            body: refused.clone(),
            receive_count: 1,
        },
        &QuarantineReason::IndexRejected("mapper_parsing_exception".into()),
        chrono::Utc::now(),
    );
    s3.put_object()
        .bucket(&central.bucket)
        .key(&key)
        .body(object.into())
        .send()
        .await
        .unwrap();
    sqs.send_message()
        .queue_url(&central.dlq_url)
        .message_body(&dead)
        .send()
        .await
        .unwrap();
    scenario::send_raw(&stack, &central, &["{\"truncated\": ".to_owned()])
        .await
        .unwrap();
    let mut collector = scenario::start_collector(&stack, &deployed).await.unwrap();
    let mapping = crate::mapping(&stack, &deployed).await;
    mapping
        .drain(&mut collector, scenario::DRAIN_LIMIT)
        .await
        .unwrap();
    let reasons = |objects: &[(String, serde_json::Value)]| -> BTreeSet<String> {
        objects
            .iter()
            .map(|(_, o)| o["reason"].as_str().unwrap().to_owned())
            .collect()
    };
    let set_aside = scenario::quarantined(&stack, &central).await.unwrap();
    assert_eq!(
        reasons(&set_aside),
        ["index_rejected", "malformed_json"]
            .map(String::from)
            .into()
    );

    let places = Places {
        bucket: central.bucket.clone(),
        queue_url: central.queue_url.clone(),
        dead_letter_queue_url: central.dlq_url.clone(),
    };
    let dry = redrive::redrive(
        &s3,
        &sqs,
        &places,
        &Selection {
            dry_run: true,
            ..Selection::default()
        },
    )
    .await
    .unwrap();
    assert_eq!((dry.moved.len(), dry.dead_letters), (3, 1), "{dry:?}");
    assert!(
        dry.moved
            .iter()
            .any(|m| m.why.starts_with("index_rejected: ") && m.id == key)
    );
    assert_eq!(
        scenario::quarantined(&stack, &central).await.unwrap().len(),
        2
    );
    assert_eq!(scenario::dlq_depth(&stack, &central).await.unwrap(), 1);
    assert_eq!(
        mapping.depth().await.unwrap(),
        (0, 0),
        "a dry run moves nothing"
    );

    let moved = redrive::redrive(
        &s3,
        &sqs,
        &places,
        &Selection {
            reasons: ["index_rejected".to_owned()].into(),
            ..Selection::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        (moved.by_reason.get("index_rejected"), moved.dead_letters),
        (Some(&1), 1),
        "{moved:?}"
    );
    mapping
        .drain(&mut collector, scenario::DRAIN_LIMIT)
        .await
        .unwrap();

    let indexed: BTreeSet<String> = scenario::indexed_documents(&stack, &central)
        .await
        .unwrap()
        .iter()
        .map(|(_, d)| d["finding_info"]["uid"].as_str().unwrap().to_owned())
        .collect();
    let uid = |body: &str| {
        serde_json::from_str::<serde_json::Value>(body).unwrap()["detail"]["findingArn"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(indexed, [uid(&refused), uid(&dead)].into());
    let left = scenario::quarantined(&stack, &central).await.unwrap();
    assert_eq!(
        reasons(&left),
        ["malformed_json"].map(String::from).into(),
        "the filtered-out message stays"
    );
    assert_eq!(scenario::dlq_depth(&stack, &central).await.unwrap(), 0);
}
