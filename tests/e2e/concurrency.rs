//! Two collectors on one queue, every message delivered twice: each finding
//! version is archived once and indexed once, and nothing is lost.

use std::collections::BTreeMap;

use fanin_devstack::scenario::{self, LocalStack};

use crate::{documents_by_uid, mapping};

const ACCOUNT: &str = "444444444444";
const REGION: &str = "eu-west-1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_collectors_with_duplicated_messages_archive_each_version_once() {
    let stack = LocalStack::start().await.unwrap();
    let deployed = fanin_devstack::deployment::deploy(&stack, &[ACCOUNT], &[REGION])
        .await
        .unwrap();
    let central = deployed.central.clone();
    let facts = scenario::create_workloads(&stack, ACCOUNT, REGION, 4)
        .await
        .unwrap();
    let events = scenario::inspector2_fleet_findings(&facts, 6, 1_767_225_600);
    // Every event twice in a row: the two copies of a version sit next to
    // each other on the queue, so the two collectors take them at once.
    let doubled: Vec<_> = events.iter().flat_map(|e| [e.clone(), e.clone()]).collect();
    scenario::emit_inspector2(&stack, ACCOUNT, REGION, &doubled)
        .await
        .unwrap();

    let mut first = scenario::start_collector(&stack, &deployed).await.unwrap();
    let mut second = scenario::start_collector(&stack, &deployed).await.unwrap();
    let mut one = mapping(&stack, &deployed).await;
    let mut two = mapping(&stack, &deployed).await;
    // One message a batch, so the two collectors work on the two copies of
    // one version at the same time; a message one collector could not claim
    // waits a moment, as it would for its visibility timeout.
    for player in [&mut one, &mut two] {
        player.batch_size = 1;
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
