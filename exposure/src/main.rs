//! The unused-exposure Lambda: S3 notifications of new flow-log objects
//! (through its queue) and the scheduled evaluation.
use fanin_exposure::config::ExposureConfig;
use fanin_exposure::{Exposure, handle_event};
use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    fanin::telemetry::init_json_logs();
    let exposure = Exposure::build(ExposureConfig::from_env()?).await?;
    run(service_fn(|event| handle_event(&exposure, event))).await
}
