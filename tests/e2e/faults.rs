//! OpenSearch down during a batch: its messages come back, and land once
//! OpenSearch is back, without duplicates in the index or the archive.

use fanin_devstack::scenario;

use crate::{deployed_with_inspector2, documents_by_uid, mapping};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opensearch_outage_is_retried_without_duplicates() {
    let (stack, deployed, events) =
        deployed_with_inspector2("222222222222", "eu-west-1", 3, 4).await;
    let central = deployed.central.clone();

    let mut collector = scenario::start_collector(&stack, &deployed).await.unwrap();
    let esm = mapping(&stack, &deployed).await;
    stack.gateway.set_opensearch_down(true);
    let mut stats = Default::default();
    let delivered = esm.round(&mut collector, &mut stats).await.unwrap();
    assert!(delivered > 0);
    assert_eq!(
        stats.failures_reported, delivered,
        "every message of the batch goes back to the queue"
    );
    assert!(
        scenario::archived_records(&stack, &central)
            .await
            .unwrap()
            .is_empty(),
        "nothing archived while the index is down"
    );

    stack.gateway.set_opensearch_down(false);
    let rest = esm
        .drain(&mut collector, scenario::DRAIN_LIMIT)
        .await
        .unwrap();
    assert_eq!(rest.failures_reported, 0);
    let documents = documents_by_uid(&stack, &central).await;
    assert_eq!(documents.len(), events.len());
    let archived = scenario::archived_records(&stack, &central).await.unwrap();
    assert_eq!(archived.len(), events.len(), "each finding archived once");
    assert_eq!(scenario::dlq_depth(&stack, &central).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_always_fails_ends_in_the_dead_letter_queue() {
    let (stack, deployed, _events) =
        deployed_with_inspector2("111111111111", "us-east-1", 1, 3).await;
    let central = deployed.central.clone();

    // OpenSearch stays down: every delivery fails transiently.
    stack.gateway.set_opensearch_down(true);
    let mut collector = scenario::start_collector(&stack, &deployed).await.unwrap();
    let stats = mapping(&stack, &deployed)
        .await
        .drain(&mut collector, scenario::DRAIN_LIMIT)
        .await
        .unwrap();
    assert_eq!(stats.messages_deleted, 0, "nothing was acknowledged");
    assert_eq!(
        stats.messages_delivered,
        3 * 3,
        "each message delivered maxReceiveCount (3) times, then redriven"
    );
    assert_eq!(scenario::dlq_depth(&stack, &central).await.unwrap(), 3);
    assert!(
        scenario::archived_records(&stack, &central)
            .await
            .unwrap()
            .is_empty()
    );
}
