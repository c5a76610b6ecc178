//! The central collector: an SQS-triggered Lambda, or with `--poll` a
//! long-running poller of the same queue (ECS, EC2, the local demo).
use fanin::{config::CollectorConfig, lambda, poller};
use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    fanin::telemetry::init_json_logs();
    let config = CollectorConfig::from_env()?;
    let collector = lambda::build_collector(&config).await?;
    if std::env::args().any(|arg| arg == "--poll") {
        let queue_url = config
            .queue_url
            .clone()
            .ok_or("--poll needs FANIN_QUEUE_URL")?;
        let queue = fanin::aws::sqs::QueueClient::new(
            &fanin::aws::load_sdk_config("fanin-collector").await,
            queue_url,
        );
        poller::run(&collector, &queue, async {
            tokio::signal::ctrl_c().await.unwrap_or_default()
        })
        .await;
        return Ok(());
    }
    run(service_fn(|event| lambda::handle_sqs(&collector, event))).await
}
