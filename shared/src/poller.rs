//! The collector as a long-running queue poller (ECS, EC2, or the demo):
//! the same pipeline, with SQS receive/delete done here instead of by the
//! Lambda event source mapping.

use std::time::Duration;

use tokio::time::Instant;
use tracing::{info, warn};

use crate::aws::sqs::QueueClient;
use crate::pipeline::Collector;

/// Processing time allowed per batch; keep the queue's visibility timeout above it.
const BATCH_BUDGET: Duration = Duration::from_secs(120);

/// Polls until `stop` resolves. Messages the pipeline reports as failed are
/// left on the queue, so SQS redelivers them after the visibility timeout
/// and moves them to the dead-letter queue after `maxReceiveCount`.
pub async fn run(
    collector: &Collector,
    queue: &QueueClient,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    loop {
        let received = tokio::select! {
            _ = &mut stop => {
                info!("poller stopping");
                return;
            }
            received = queue.receive(10, 20) => received,
        };
        let received = match received {
            Ok(received) => received,
            Err(error) => {
                warn!(error = %error, "receive failed");
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
        if received.is_empty() {
            continue;
        }
        let handles: Vec<(String, String)> = received
            .iter()
            .map(|r| (r.message.message_id.clone(), r.receipt_handle.clone()))
            .collect();
        let report = collector
            .process(
                received.into_iter().map(|r| r.message).collect(),
                Instant::now() + BATCH_BUDGET,
            )
            .await;
        crate::lambda::log_report(&report);
        let done: Vec<String> = handles
            .into_iter()
            .filter(|(id, _)| !report.failed_message_ids.contains(id))
            .map(|(_, handle)| handle)
            .collect();
        match queue.delete(&done).await {
            Ok(0) => {}
            Ok(refused) => warn!(
                refused,
                "some deletes were refused; those messages will be redelivered"
            ),
            Err(error) => {
                warn!(error = %error, "delete failed; those messages will be redelivered")
            }
        }
    }
}
