//! The per-region forwarder Lambda: subscribes Inspector Classic assessment
//! templates to the central SNS topic of its region.
use fanin::config::ForwarderConfig;
use fanin_forwarder::{build_forwarder, handle_forwarder};
use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    fanin::telemetry::init_json_logs();
    let forwarder = build_forwarder(ForwarderConfig::from_env()?).await;
    run(service_fn(|event| handle_forwarder(&forwarder, event))).await
}
