//! The least-privilege Lambda: S3 notifications of new CloudTrail objects
//! (through its queue) and the scheduled evaluation.
use fanin_privileges::config::PrivilegesConfig;
use fanin_privileges::{Privileges, handle_event};
use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    fanin::telemetry::init_json_logs();
    let privileges = Privileges::build(PrivilegesConfig::from_env()?).await?;
    run(service_fn(|event| handle_event(&privileges, event))).await
}
