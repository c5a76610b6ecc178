//! The least-privilege Lambda: S3 notifications of new CloudTrail objects
//! (through its queue) and the scheduled evaluation.
use fanin_privileges::config::PrivilegesConfig;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    fanin::telemetry::init_json_logs();
    let _config = PrivilegesConfig::from_env()?;
    Err("the least-privilege function is being assembled (issue 12)".into())
}
