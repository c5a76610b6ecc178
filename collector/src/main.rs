//! The central collector: an SQS-triggered Lambda, or with `--poll` a
//! long-running poller of the same queue (ECS, EC2, the local demo) that
//! stops cleanly on SIGTERM or SIGINT and then exits 0.
use fanin::config::CollectorConfig;
use fanin_collector::{handler, poller};
use lambda_runtime::{Error, run, service_fn};
use tokio::signal::unix::{SignalKind, signal};

#[tokio::main]
async fn main() -> Result<(), Error> {
    fanin::telemetry::init_json_logs();
    let config = CollectorConfig::from_env()?;
    if std::env::args().any(|arg| arg == "--poll") {
        // Handlers first: from here on a SIGTERM is a request, not the default kill.
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        let queue_url = config
            .queue_url
            .clone()
            .ok_or("--poll needs FANIN_QUEUE_URL")?;
        let collector = handler::build_collector(&config).await?;
        let sdk = fanin::aws::load_sdk_config("fanin-collector").await;
        let queue = fanin::aws::sqs::QueueClient::new(&sdk, queue_url);
        let stop = async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
        };
        poller::run(
            &collector,
            &queue,
            &poller::PollPolicy::from_config(&config),
            stop,
        )
        .await;
        return Ok(());
    }
    let collector = handler::build_collector(&config).await?;
    run(service_fn(|event| handler::handle_sqs(&collector, event))).await
}
