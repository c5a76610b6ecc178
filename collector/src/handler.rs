//! The collector's Lambda handler and its cold-start wiring.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use fanin::aws::ec2::Ec2Inventory;
use fanin::aws::inspector::InspectorClassicFindings;
use fanin::aws::s3::S3Objects;
use fanin::aws::sts::{CachedSessions, StsSessions};
use fanin::config::{CollectorConfig, Encryption};
use fanin::decode::InboundMessage;
use fanin::directory::BucketAccountList;
use fanin::pipeline::{BatchReport, Collector, Ports, Settings};
use fanin::search::opensearch::OpenSearchIndexer;
use lambda_runtime::LambdaEvent;
use tokio::time::Instant;
use tracing::info;

/// Sessions are renewed this long before they expire.
const SESSION_REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// Time kept back from the Lambda deadline to answer SQS in time.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(5);

/// Builds the collector from its configuration: called once per cold start.
pub async fn build_collector(config: &CollectorConfig) -> anyhow::Result<Collector> {
    if config.encryption == (Encryption::Kms { key_id: None }) {
        tracing::warn!(
            "FANIN_S3_SSE=aws:kms without FANIN_S3_KMS_KEY_ID uses the aws/s3 managed key, which readers in other accounts cannot use"
        );
    }
    let sdk = fanin::aws::load_sdk_config("fanin-collector").await;
    let sessions = CachedSessions::new(
        StsSessions::new(
            &sdk,
            config.partition.clone(),
            config.role_name.clone(),
            config.external_id.expose().to_owned(),
            config.session_duration,
        ),
        SESSION_REFRESH_MARGIN,
    );
    let search = OpenSearchIndexer::new(
        &config.opensearch_url,
        &config.search_auth,
        sdk.credentials_provider(),
        sdk.region().cloned(),
    )?;
    let objects: Arc<S3Objects> = Arc::new(S3Objects::new(
        &sdk,
        config.bucket.clone(),
        config.encryption.clone(),
        config.s3_force_path_style,
    ));
    let ports = Ports {
        sessions: Arc::new(sessions),
        classic: Arc::new(InspectorClassicFindings::new(sdk.clone())),
        inventory: Arc::new(Ec2Inventory::new(sdk.clone())),
        directory: Arc::new(BucketAccountList::new(objects.clone())),
        objects,
        search: Arc::new(search),
    };
    let settings = Settings {
        partition: config.partition.clone(),
        provenance: config.provenance.clone(),
        index_prefix: config.index_prefix.clone(),
        bulk_max_bytes: config.bulk_max_bytes,
        max_concurrency: config.max_concurrency,
        claim_ttl: config.claim_ttl,
    };
    Ok(Collector::new(settings, ports))
}

/// Converts an SQS event record into fanin's message type.
pub fn inbound(record: SqsMessage) -> InboundMessage {
    InboundMessage {
        receive_count: record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|c| c.parse().ok())
            .unwrap_or(1),
        message_id: record.message_id.unwrap_or_default(),
        body: record.body.unwrap_or_default(),
    }
}

/// The collector's SQS handler: partial batch responses, never a whole-batch error.
pub async fn handle_sqs(
    collector: &Collector,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, lambda_runtime::Error> {
    let remaining = time_left(event.context.deadline, std::time::SystemTime::now())
        .saturating_sub(DEADLINE_MARGIN);
    let messages: Vec<InboundMessage> = event.payload.records.into_iter().map(inbound).collect();
    let report = collector
        .process_batch(messages, Instant::now() + remaining)
        .await;
    log_report(&report);
    Ok(batch_response(report.failed_message_ids))
}

/// The `batchItemFailures` answer for the messages to retry.
pub fn batch_response(failed_message_ids: Vec<String>) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failed_message_ids
        .into_iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    response
}

/// The time left before the runtime's deadline (`Lambda-Runtime-Deadline-Ms`,
/// epoch milliseconds). Local emulators (cargo-lambda) send the function's
/// timeout instead of an instant: a value that cannot be a time after 2001 is
/// read as that timeout.
pub fn time_left(deadline_ms: u64, now: std::time::SystemTime) -> Duration {
    const NOT_AN_INSTANT_BEFORE_MS: u64 = 978_307_200_000; // 2001-01-01
    if deadline_ms < NOT_AN_INSTANT_BEFORE_MS {
        return Duration::from_millis(deadline_ms);
    }
    (std::time::UNIX_EPOCH + Duration::from_millis(deadline_ms))
        .duration_since(now)
        .unwrap_or_default()
}

/// The one log line per batch, for the Lambda and the poller alike.
pub fn log_report(report: &BatchReport) {
    info!(
        received = report.received,
        stored = report.findings_stored,
        already_stored = report.findings_already_stored,
        lifecycle = report.lifecycle_acknowledged,
        outsiders = report.outsiders,
        claimed_elsewhere = report.findings_claimed_elsewhere,
        objects = report.objects_written,
        retried = report.failed_message_ids.len(),
        quarantined = ?report.quarantined,
        enrichment = ?report.enrichment,
        "batch processed"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_is_an_instant_or_an_emulator_s_timeout() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_796_000_000);
        assert_eq!(
            time_left(1_796_000_000_000 + 42_000, now),
            Duration::from_secs(42)
        );
        assert_eq!(time_left(1_795_999_999_000, now), Duration::ZERO);
        assert_eq!(time_left(600_000, now), Duration::from_secs(600));
    }
}
