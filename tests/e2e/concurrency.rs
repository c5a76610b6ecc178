//! Two collectors on one queue, every message delivered twice: each finding
//! version is archived once and indexed once, and nothing is lost.

use std::collections::BTreeMap;

use fanin_devstack::scenario;

use crate::{deployed_with_inspector2, documents_by_uid, mapping};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_collectors_with_duplicated_messages_archive_each_version_once() {
    let (stack, deployed, events) =
        deployed_with_inspector2("444444444444", "eu-west-1", 6, 10).await;
    let central = deployed.central.clone();
    // Every event a second time: the queue holds two copies of each.
    scenario::emit_inspector2(&stack, "444444444444", "eu-west-1", &events)
        .await
        .unwrap();

    let mut first = scenario::start_collector(&stack, &deployed).await.unwrap();
    let mut second = scenario::start_collector(&stack, &deployed).await.unwrap();
    let mut one = mapping(&stack, &deployed).await;
    let mut two = mapping(&stack, &deployed).await;
    // Small batches, so the two players interleave on the same versions;
    // a message one collector could not claim waits a moment, as it would
    // for its visibility timeout.
    for player in [&mut one, &mut two] {
        player.batch_size = 10;
        player.failure_visibility_seconds = 1;
    }
    let (a, b) = tokio::join!(
        one.drain(&mut first, scenario::DRAIN_LIMIT),
        two.drain(&mut second, scenario::DRAIN_LIMIT),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        a.messages_deleted + b.messages_deleted,
        2 * events.len(),
        "every copy acknowledged: {a:?} {b:?}"
    );
    assert!(
        a.invocations > 0 && b.invocations > 0,
        "both collectors worked"
    );

    let archived = scenario::archived_records(&stack, &central).await.unwrap();
    let mut per_version: BTreeMap<String, usize> = BTreeMap::new();
    for (_, record) in &archived {
        *per_version
            .entry(record["metadata"]["uid"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    let duplicates: Vec<_> = per_version.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        duplicates.is_empty(),
        "archived more than once: {duplicates:?}"
    );
    assert_eq!(per_version.len(), events.len(), "every version archived");
    assert_eq!(documents_by_uid(&stack, &central).await.len(), events.len());
    assert_eq!(scenario::dlq_depth(&stack, &central).await.unwrap(), 0);
}
