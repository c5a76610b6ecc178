//! The guard Lambda: reverts unapproved security-group rules (CloudTrail
//! events) and reports desired-state compliance (AWS Config rule).
use fanin_guard::aws::build_guard;
use fanin_guard::config::GuardConfig;
use fanin_guard::handle_event;
use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    fanin::telemetry::init_json_logs();
    let guard = build_guard(GuardConfig::from_env()?).await?;
    run(service_fn(|event| handle_event(&guard, event))).await
}
