//! The collector binary as a long-running poller (`--poll`): the same
//! pipeline, receiving from and deleting on the queue itself.

use std::process::Stdio;
use std::time::Duration;

use fanin_devstack::lambda_host::workspace_binary;
use fanin_devstack::scenario;

use crate::{deployed_with_inspector2, documents_by_uid};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_poller_drains_the_queue() {
    let (stack, deployed, events) =
        deployed_with_inspector2("333333333333", "eu-west-1", 2, 3).await;
    let central = deployed.central.clone();

    let mut poller = tokio::process::Command::new(workspace_binary("fanin-collector"))
        .arg("--poll")
        .envs(scenario::collector_env(&stack, &deployed))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let esm = crate::mapping(&stack, &deployed).await;
    let mut stored = 0;
    for _ in 0..120 {
        stored = documents_by_uid(&stack, &central).await.len();
        if stored == events.len() && esm.depth().await.unwrap() == (0, 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(stored, events.len());
    assert!(
        poller.try_wait().unwrap().is_none(),
        "the poller keeps running"
    );
    poller.kill().await.unwrap();
    assert_eq!(esm.depth().await.unwrap(), (0, 0), "every message deleted");
    assert_eq!(
        scenario::archived_records(&stack, &central)
            .await
            .unwrap()
            .len(),
        events.len()
    );
}
