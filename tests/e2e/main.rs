//! End-to-end tests of fanin on the local stack: real moto, osmem-server and
//! the project's gateway on loopback, the real Lambda binaries under
//! cargo-lambda's local runtime, and the devstack playing the SQS event
//! source mapping. Each test builds its own stack and central resources.
//!
//! Needs `scripts/setup` (the Python tools) and `cargo build --workspace
//! --bins` (the Lambda binaries): `scripts/test` does both.

mod bad_input;
mod calls;
mod deployment;
mod faults;
mod pipeline;
mod poller;

use std::collections::BTreeMap;

use fanin_devstack::esm::EventSourceMapping;
use fanin_devstack::scenario::{self, Central, Deployed, LocalStack, PRIMARY_REGION};
use serde_json::Value;

/// The central queue's event source mapping, with the deployed batch size.
pub async fn mapping(stack: &LocalStack, deployed: &Deployed) -> EventSourceMapping {
    assert!(
        deployed.mapping.report_batch_item_failures,
        "the deployed mapping reports partial batch failures"
    );
    EventSourceMapping::new(
        &stack.moto_config(PRIMARY_REGION, None),
        &deployed.central.queue_url,
        deployed.mapping.batch_size,
    )
    .await
    .expect("queue exists")
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
