//! The central queue, for the long-running poller (and the local event
//! source mapping of the devstack).

use aws_config::SdkConfig;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
    MessageSystemAttributeName, QueueAttributeName,
};

use crate::decode::InboundMessage;
use crate::ports::CallError;

/// A received message with the handle needed to delete it.
#[derive(Debug, Clone)]
pub struct Received {
    pub message: InboundMessage,
    pub receipt_handle: String,
}

pub struct QueueClient {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl QueueClient {
    pub fn new(config: &SdkConfig, queue_url: String) -> Self {
        Self {
            client: aws_sdk_sqs::Client::new(config),
            queue_url,
        }
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    /// The queue's `VisibilityTimeout`.
    pub async fn visibility_timeout(&self) -> Result<std::time::Duration, CallError> {
        let answer = self
            .client
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(QueueAttributeName::VisibilityTimeout)
            .send()
            .await
            .map_err(|e| crate::aws::classify("GetQueueAttributes", e))?;
        let seconds = answer
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::VisibilityTimeout))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Ok(std::time::Duration::from_secs(seconds))
    }

    /// Long-polls for up to `max` (1 to 10) messages.
    pub async fn receive(&self, max: i32, wait_seconds: i32) -> Result<Vec<Received>, CallError> {
        let answer = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(max)
            .wait_time_seconds(wait_seconds)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .customize()
            .config_override(aws_sdk_sqs::config::Builder::default().timeout_config(
                crate::aws::long_poll_timeout_config(std::time::Duration::from_secs(
                    wait_seconds.max(0) as u64,
                )),
            ))
            .send()
            .await
            .map_err(|e| crate::aws::classify("ReceiveMessage", e))?;
        Ok(answer
            .messages()
            .iter()
            .filter_map(|m| {
                let receive_count = m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1);
                Some(Received {
                    message: InboundMessage {
                        message_id: m.message_id()?.to_owned(),
                        body: m.body().unwrap_or_default().to_owned(),
                        receive_count,
                    },
                    receipt_handle: m.receipt_handle()?.to_owned(),
                })
            })
            .collect())
    }

    /// Deletes handled messages, 10 per call. Returns how many SQS refused.
    pub async fn delete(&self, handles: &[String]) -> Result<usize, CallError> {
        let mut failed = 0;
        for chunk in handles.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, handle)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(handle)
                        .build()
                        .expect("id and receipt handle are set")
                })
                .collect();
            let answer = self
                .client
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| crate::aws::classify("DeleteMessageBatch", e))?;
            failed += answer.failed().len();
        }
        Ok(failed)
    }

    /// Makes received messages visible again at once (visibility timeout 0),
    /// 10 per call, so another consumer can take them without waiting for
    /// the queue's visibility timeout. Returns how many SQS refused (those
    /// come back when their visibility timeout ends).
    pub async fn release(&self, handles: &[String]) -> Result<usize, CallError> {
        let mut failed = 0;
        for chunk in handles.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, handle)| {
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(handle)
                        .visibility_timeout(0)
                        .build()
                        .expect("id and receipt handle are set")
                })
                .collect();
            let answer = self
                .client
                .change_message_visibility_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| crate::aws::classify("ChangeMessageVisibilityBatch", e))?;
            failed += answer.failed().len();
        }
        Ok(failed)
    }
}
