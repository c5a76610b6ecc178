//! The forwarder's Lambda handler and its cold-start wiring around
//! [`fanin::forward::Forwarder`], which subscribes Inspector Classic
//! assessment templates to the central SNS topic of its region.
//!
//! `main.rs` only builds the forwarder here and hands the handler to the
//! runtime, so tests call the same handler directly.

use std::sync::Arc;

use fanin::aws::inspector::InspectorClassicTemplates;
use fanin::config::ForwarderConfig;
use fanin::forward::{Forwarder, ForwarderReport};
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use tracing::info;

/// Builds the forwarder: called once per cold start.
pub async fn build_forwarder(config: ForwarderConfig) -> Forwarder {
    let sdk = fanin::aws::load_sdk_config("fanin-forwarder").await;
    Forwarder::new(config, Arc::new(InspectorClassicTemplates::new(&sdk)))
}

/// The forwarder's handler: a CloudTrail `CreateAssessmentTemplate` event
/// subscribes that template; any other event (the schedule, a deployment
/// trigger) sweeps every template. A template that could not be subscribed
/// fails the invocation, so the runtime retries it.
pub async fn handle_forwarder(
    forwarder: &Forwarder,
    event: LambdaEvent<Value>,
) -> Result<ForwarderReport, lambda_runtime::Error> {
    let report = forwarder.handle(&event.payload).await?;
    info!(
        examined = report.examined,
        subscribed = report.subscribed.len(),
        already = report.already_subscribed,
        skipped = report.skipped,
        "forwarder done"
    );
    Ok(report)
}
