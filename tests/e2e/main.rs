//! End-to-end tests of fanin on the local stack: real moto, osmem-server and
//! the project's gateway on loopback, the real Lambda binaries under
//! cargo-lambda's local runtime, and the devstack playing the SQS event
//! source mapping. Each test builds its own stack and central resources.
//!
//! Needs `scripts/setup` (the Python tools) and `cargo build --workspace
//! --bins` (the Lambda binaries): `scripts/test` does both.

mod bad_input;
mod calls;
mod concurrency;
mod contracts;
mod coverage;
mod dashboards;
mod deployment;
mod export;
mod exposure;
mod exposure_cli;
mod faults;
mod guard;
mod guard_cli;
mod guardduty;
mod history;
mod load;
mod operator;
mod outsiders;
mod pipeline;
mod poller;
mod privileges;
mod published;
mod redrive;

use std::collections::BTreeMap;

use fanin_devstack::esm::EventSourceMapping;
use fanin_devstack::scenario::{self, Central, Deployed, LocalStack};
use serde_json::Value;

/// The central queue's event source mapping, with the deployed batch size.
pub async fn mapping(stack: &LocalStack, deployed: &Deployed) -> EventSourceMapping {
    assert!(
        deployed.mapping.report_batch_item_failures,
        "the deployed mapping reports partial batch failures"
    );
    deployed
        .event_source_mapping(stack)
        .await
        .expect("queue exists")
}

/// fanin deployed for one application account and region, `instances`
/// instances there, and `per_instance` Inspector2 findings about each
/// emitted through the deployed rules. Returns the emitted events.
pub async fn deployed_with_inspector2(
    account: &str,
    region: &str,
    instances: usize,
    per_instance: usize,
) -> (LocalStack, Deployed, Vec<Value>) {
    let stack = LocalStack::start().await.unwrap();
    let deployed = fanin_devstack::deployment::deploy(&stack, &[account], &[region])
        .await
        .unwrap();
    let facts = scenario::create_workloads(&stack, account, region, instances)
        .await
        .unwrap();
    let events = scenario::inspector2_fleet_findings(&facts, per_instance, 1_767_225_600);
    scenario::emit_inspector2(&stack, account, region, &events)
        .await
        .unwrap();
    (stack, deployed, events)
}

/// Documents of the latest-state index by finding ARN.
pub async fn documents_by_uid(stack: &LocalStack, central: &Central) -> BTreeMap<String, Value> {
    scenario::indexed_documents(stack, central)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, doc)| (doc["finding_info"]["uid"].as_str().unwrap().to_owned(), doc))
        .collect()
}
