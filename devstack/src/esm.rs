//! Plays the Lambda SQS event source mapping against a local queue: receive
//! a batch, invoke the function with an SQS event, delete what succeeded,
//! leave the `batchItemFailures` for redelivery (and so, after
//! `maxReceiveCount`, for the queue's redrive to the dead-letter queue).
//!
//! The batch size is the deployed mapping's (up to 10,000, gathered from
//! several receives of at most 10, as Lambda does). One liberty is taken
//! with time: failed messages are made visible again at once instead of
//! after the queue's visibility timeout, so a redelivery takes milliseconds
//! instead of minutes; their receive count still grows as on AWS.

use std::time::Duration;

use anyhow::Context;
use aws_sdk_sqs::types::QueueAttributeName;
use fanin::aws::sqs::QueueClient;
use serde::Serialize;
use serde_json::{Value, json};

use crate::lambda_host::LocalLambda;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MappingStats {
    pub invocations: usize,
    pub messages_delivered: usize,
    pub messages_deleted: usize,
    pub failures_reported: usize,
    /// Time spent inside the function's invocations (receives and deletes
    /// excluded): what the collector itself took.
    pub invoke_time: Duration,
    /// Every body delivered, by message id: what a redelivery test sends again.
    #[serde(skip)]
    pub delivered: std::collections::BTreeMap<String, String>,
}

pub struct EventSourceMapping {
    pub queue: QueueClient,
    pub queue_arn: String,
    pub region: String,
    pub batch_size: i32,
    /// The visibility timeout a failed message gets (0: visible at once).
    /// Lambda leaves failures in flight for the queue's visibility timeout;
    /// tests shorten that to this.
    pub failure_visibility_seconds: i32,
    sqs: aws_sdk_sqs::Client,
}

impl EventSourceMapping {
    pub async fn new(
        config: &aws_config::SdkConfig,
        queue_url: &str,
        batch_size: i32,
    ) -> anyhow::Result<Self> {
        let sqs = aws_sdk_sqs::Client::new(config);
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .context("reading the queue ARN")?;
        let queue_arn = attributes
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .cloned()
            .context("queue without ARN")?;
        let region = queue_arn
            .split(':')
            .nth(3)
            .unwrap_or("us-east-1")
            .to_owned();
        Ok(Self {
            queue: QueueClient::new(config, queue_url.to_owned()),
            queue_arn,
            region,
            batch_size: batch_size.clamp(1, 10_000),
            failure_visibility_seconds: 0,
            sqs,
        })
    }

    /// Messages visible plus in flight.
    pub async fn depth(&self) -> anyhow::Result<(u64, u64)> {
        let answer = self
            .sqs
            .get_queue_attributes()
            .queue_url(self.queue.queue_url())
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await?;
        let read = |name| {
            answer
                .attributes()
                .and_then(|a| a.get(&name))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Ok((
            read(QueueAttributeName::ApproximateNumberOfMessages),
            read(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        ))
    }

    /// One receive → invoke → delete round. Returns how many messages it delivered.
    pub async fn round(
        &self,
        function: &mut LocalLambda,
        stats: &mut MappingStats,
    ) -> anyhow::Result<usize> {
        let mut received = Vec::new();
        while received.len() < self.batch_size as usize {
            let want = (self.batch_size as usize - received.len()).min(10) as i32;
            let wait = if received.is_empty() { 1 } else { 0 };
            let more = self.queue.receive(want, wait).await?;
            if more.is_empty() {
                break;
            }
            received.extend(more);
        }
        if received.is_empty() {
            return Ok(0);
        }
        let records: Vec<Value> = received
            .iter()
            .map(|r| {
                json!({
                    "messageId": r.message.message_id,
                    "receiptHandle": r.receipt_handle,
                    "body": r.message.body,
                    "attributes": {
                        "ApproximateReceiveCount": r.message.receive_count.to_string(),
                        "SentTimestamp": "0",
                        "SenderId": "devstack",
                        "ApproximateFirstReceiveTimestamp": "0",
                    },
                    "messageAttributes": {},
                    "md5OfBody": "",
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn,
                    "awsRegion": self.region,
                })
            })
            .collect();
        for r in &received {
            stats
                .delivered
                .insert(r.message.message_id.clone(), r.message.body.clone());
        }
        stats.invocations += 1;
        stats.messages_delivered += records.len();
        let invoked = tokio::time::Instant::now();
        let answer = function.invoke(&json!({"Records": records})).await?;
        stats.invoke_time += invoked.elapsed();
        let failed: Vec<String> = answer
            .get("batchItemFailures")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i.get("itemIdentifier")?.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        stats.failures_reported += failed.len();
        let done: Vec<String> = received
            .iter()
            .filter(|r| !failed.contains(&r.message.message_id))
            .map(|r| r.receipt_handle.clone())
            .collect();
        self.queue.delete(&done).await?;
        stats.messages_deleted += done.len();
        for r in received
            .iter()
            .filter(|r| failed.contains(&r.message.message_id))
        {
            let shortened = self
                .sqs
                .change_message_visibility()
                .queue_url(self.queue.queue_url())
                .receipt_handle(&r.receipt_handle)
                .visibility_timeout(self.failure_visibility_seconds)
                .send()
                .await;
            match shortened {
                Ok(_) => {}
                // Its visibility ran out while the function worked and
                // another consumer received it (this handle is stale), or
                // it is visible again: what the call was for.
                Err(error)
                    if error.as_service_error().is_some_and(|e| {
                        e.is_receipt_handle_is_invalid() || e.is_message_not_inflight()
                    }) => {}
                Err(error) => {
                    return Err(error).context("making a failed message visible again");
                }
            }
        }
        Ok(received.len())
    }

    /// Rounds until the queue is empty (nothing visible, nothing in flight)
    /// or `limit` passes.
    pub async fn drain(
        &self,
        function: &mut LocalLambda,
        limit: Duration,
    ) -> anyhow::Result<MappingStats> {
        let mut stats = MappingStats::default();
        self.drain_into(function, limit, &mut stats).await?;
        Ok(stats)
    }

    /// [`Self::drain`], adding to `stats` (a run drained in several waves).
    pub async fn drain_into(
        &self,
        function: &mut LocalLambda,
        limit: Duration,
        stats: &mut MappingStats,
    ) -> anyhow::Result<()> {
        let started = tokio::time::Instant::now();
        while started.elapsed() < limit {
            if self.round(function, stats).await? == 0 {
                let (visible, in_flight) = self.depth().await?;
                if visible == 0 && in_flight == 0 {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
        anyhow::bail!("queue not drained within {limit:?}: {stats:?}")
    }
}

/// Every message now in `queue_url` (until `want` are seen or 20 s pass),
/// made visible again at once so the mapping still gets them: what a test
/// reads off a queue without consuming it.
pub async fn peek_queue(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    want: usize,
) -> anyhow::Result<Vec<String>> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut bodies = Vec::new();
    let mut handles = Vec::new();
    while bodies.len() < want && std::time::Instant::now() < deadline {
        let answer = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .with_context(|| format!("receiving from {queue_url}"))?;
        for message in answer.messages() {
            bodies.push(message.body().unwrap_or_default().to_owned());
            handles.push(message.receipt_handle().unwrap_or_default().to_owned());
        }
    }
    for handle in handles {
        sqs.change_message_visibility()
            .queue_url(queue_url)
            .receipt_handle(handle)
            .visibility_timeout(0)
            .send()
            .await
            .with_context(|| format!("releasing a message of {queue_url}"))?;
    }
    Ok(bodies)
}

/// The S3 event records of a notification `body` as (event name, bucket,
/// decoded key); empty for anything else (the `s3:TestEvent` S3 sends when
/// notifications are set).
pub fn s3_records(body: &str) -> Vec<(String, String, String)> {
    let body: Value = serde_json::from_str(body).unwrap_or_default();
    body["Records"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|record| {
            let raw_key = record["s3"]["object"]["key"].as_str().unwrap_or_default();
            // S3 sends keys URL-encoded, spaces as '+'.
            let key = form_urlencoded::parse(format!("k={raw_key}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            (
                record["eventName"].as_str().unwrap_or_default().to_owned(),
                record["s3"]["bucket"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                key,
            )
        })
        .collect()
}
