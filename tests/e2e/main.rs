//! End-to-end tests of fanin on the local stack: real moto, osmem-server and
//! the project's gateway on loopback, the real Lambda binaries under
//! cargo-lambda's local runtime, and the devstack playing the SQS event
//! source mapping. Each test builds its own stack and central resources.
//!
//! Needs `scripts/setup` (the Python tools) and `cargo build --workspace
//! --bins` (the Lambda binaries): `scripts/test` does both.

mod bad_input;
mod calls;
mod faults;
mod pipeline;
mod poller;

use std::collections::BTreeMap;

use fanin_devstack::esm::EventSourceMapping;
use fanin_devstack::scenario::{self, Central, LocalStack, PRIMARY_REGION};
use serde_json::Value;

/// The central queue's event source mapping (batch size 10, as deployed).
pub async fn mapping(stack: &LocalStack, central: &Central) -> EventSourceMapping {
    EventSourceMapping::new(
        &stack.moto_config(PRIMARY_REGION, None),
        &central.queue_url,
        10,
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

/// A unique, valid resource name per test.
pub fn name(test: &str) -> String {
    format!("t{}-{test}", std::process::id() % 100_000)
}
