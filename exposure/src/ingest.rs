//! Flow-log objects in: S3 notification → stream → parse → aggregate →
//! archive + index; malformed lines to the quarantine.
//!
//! One SQS message (an S3 event notification, [`notification`]) names one
//! or more objects of the flow-log bucket. Each object is streamed from
//! [`ports::FlowLogObjects`] (gzip text through [`text`], Parquet through
//! [`parquet`]), parsed with its own header's field list, and aggregated
//! per hour with the account's network map ([`ports::NetworkMaps`], cached
//! 15 minutes). Then, all idempotent (names from the object's id):
//!
//! 1. ONE archive object
//!    `flow-aggregates/region=<r>/accountId=<a>/eventDay=<YYYYMMDD>/<object-id>.json.gz`,
//!    gzip NDJSON of `fanin::flowlogs::aggregate::AggregateDoc`;
//! 2. the same documents in `<prefix>-flows`, `_id` = the document's id;
//! 3. when lines were malformed: one quarantine object
//!    `quarantine/reason=flowlog_malformed/eventDay=<YYYYMMDD>/<object-id>.json`
//!    (the first 1,000 lines with their number, reason and text) and its
//!    document in `<prefix>-quarantine`.
//!
//! A message that is not a flow-log notification of the configured bucket,
//! and an object that cannot be read (not gzip, no usable header, gone), is
//! set aside whole under `quarantine/reason=flowlog_unreadable/` and
//! acknowledged. Transient failures (S3 or OpenSearch throttling, 5xx,
//! connection trouble) put the message in `batchItemFailures`, so SQS
//! delivers it again, at most `maxReceiveCount` times before its DLQ.

pub mod aws;
pub mod notification;
pub mod parquet;
pub mod ports;
pub mod text;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use fanin::flowlogs::aggregate::{AggregateDoc, Aggregator};
use fanin::ports::{CallError, ObjectKind, ObjectStore, SearchIndexer};
use fanin::quarantine::{HealthDocument, QuarantinedMessage};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::config::ExposureConfig;
use notification::{Encoding, FlowLogObject, Notification, Unreadable};
use ports::{CachedNetworkMaps, FlowLogObjects, NetworkMaps};

/// Malformed lines listed in a quarantine object (all are counted).
pub const MALFORMED_LISTED: usize = 1000;
/// The most bytes of a malformed line kept.
pub const MALFORMED_TEXT_BYTES: usize = 1024;
/// The quarantine's `source` for flow logs.
pub const SOURCE: &str = "vpcflowlogs";
/// How long bulk retries may go on for one message.
const BULK_BUDGET: Duration = Duration::from_secs(60);

/// What ingest needs, built once per cold start.
pub struct Ingest {
    pub objects: Arc<dyn FlowLogObjects>,
    pub archive: Arc<dyn ObjectStore>,
    pub search: Arc<dyn SearchIndexer>,
    pub maps: CachedNetworkMaps,
    pub settings: IngestSettings,
    /// The flows index template, installed before the first write of the
    /// process (as the collector installs its classes'), so the index never
    /// starts from a dynamic mapping.
    pub flows_template: tokio::sync::OnceCell<()>,
}

#[derive(Debug, Clone)]
pub struct IngestSettings {
    /// The only bucket whose notifications are read.
    pub flow_log_bucket: String,
    pub index_prefix: String,
    pub bulk_max_bytes: usize,
    /// Where Parquet objects are spooled (`/tmp` in Lambda).
    pub spool_dir: PathBuf,
}

impl IngestSettings {
    pub fn flows_index(&self) -> String {
        format!("{}-flows", self.index_prefix)
    }

    pub fn quarantine_index(&self) -> String {
        format!("{}-quarantine", self.index_prefix)
    }
}

impl Ingest {
    /// The AWS and OpenSearch adapters on `sdk`, with `maps` for the
    /// network maps (the inventory's, wired by [`crate::Exposure::build`]).
    pub fn with_sdk(
        config: &ExposureConfig,
        sdk: &aws_config::SdkConfig,
        maps: Arc<dyn NetworkMaps>,
        search: fanin::search::opensearch::OpenSearchIndexer,
    ) -> anyhow::Result<Self> {
        let store = &config.store;
        Ok(Self {
            objects: Arc::new(aws::S3FlowLogObjects::new(sdk, store.s3_force_path_style)),
            archive: Arc::new(fanin::aws::s3::S3Objects::new(
                sdk,
                store.bucket.clone(),
                store.encryption.clone(),
                store.s3_force_path_style,
            )),
            search: Arc::new(search),
            maps: CachedNetworkMaps::new(maps, ports::NETWORK_MAP_TTL),
            flows_template: tokio::sync::OnceCell::new(),
            settings: IngestSettings {
                flow_log_bucket: config.flow_log_bucket.clone(),
                index_prefix: store.index_prefix.clone(),
                bulk_max_bytes: store.bulk_max_bytes,
                spool_dir: std::env::temp_dir(),
            },
        })
    }
}

/// Why one object failed.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// An outside call failed (its own transient/permanent decision).
    #[error(transparent)]
    Call(#[from] CallError),
    /// The object's content cannot be read: permanent.
    #[error("{0}")]
    Unreadable(String),
}

impl ObjectError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Call(call) if call.is_transient())
    }
}

/// One object's aggregation and what could not be read of it.
pub struct ObjectAggregation {
    pub aggregator: Aggregator,
    pub malformed: MalformedLines,
    /// Column names fanin does not know (skipped).
    pub unknown_fields: Vec<String>,
    /// The object had no header (read with the default format).
    pub headerless: bool,
}

/// Malformed lines: all counted, the first [`MALFORMED_LISTED`] kept.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct MalformedLines {
    pub count: u64,
    pub listed: Vec<MalformedLine>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MalformedLine {
    /// 1-based; the header is line 1 (for Parquet, the row number).
    pub line: u64,
    pub reason: String,
    /// At most [`MALFORMED_TEXT_BYTES`], lossily decoded.
    pub text: String,
}

impl MalformedLines {
    pub fn push(&mut self, line: u64, reason: &str, text: &[u8]) {
        self.count += 1;
        if self.listed.len() >= MALFORMED_LISTED {
            return;
        }
        let mut text =
            String::from_utf8_lossy(&text[..text.len().min(MALFORMED_TEXT_BYTES)]).into_owned();
        while text.len() > MALFORMED_TEXT_BYTES {
            text.pop();
        }
        self.listed.push(MalformedLine {
            line,
            reason: reason.to_owned(),
            text,
        });
    }
}

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Processed or set aside: delete it.
    Done,
    /// Deliver again (a transient failure).
    Retry(String),
}

/// The Lambda entry point for an SQS batch: the partial batch response.
pub async fn handle(ingest: &Ingest, payload: Value) -> anyhow::Result<Value> {
    let event: SqsEvent = serde_json::from_value(payload)?;
    let mut failures = Vec::new();
    for message in &event.records {
        let id = message.message_id.clone().unwrap_or_default();
        if let Fate::Retry(why) = process_message(ingest, message, Utc::now()).await {
            tracing::warn!(message_id = %id, reason = %why, "flow-log message retried");
            failures.push(json!({ "itemIdentifier": id }));
        }
    }
    Ok(json!({ "batchItemFailures": failures }))
}

/// One message: every object it names, or the message set aside.
pub async fn process_message(ingest: &Ingest, message: &SqsMessage, now: DateTime<Utc>) -> Fate {
    let body = message.body.as_deref().unwrap_or("");
    let records = match notification::decode(body) {
        Ok(Notification::Test) => return Fate::Done,
        Ok(Notification::Records(records)) => records,
        Err(why) => return set_aside(ingest, message, &why, now).await,
    };
    let mut fate = Fate::Done;
    for record in &records {
        let object = match notification::locate(record, &ingest.settings.flow_log_bucket) {
            Ok(object) => object,
            Err(why) => {
                if let Fate::Retry(why) = set_aside(ingest, message, &why, now).await {
                    fate = Fate::Retry(why);
                }
                continue;
            }
        };
        match process_object(ingest, &object).await {
            Ok(report) => tracing::info!(
                account_id = %object.account,
                region = %object.region,
                object_id = %report.object_id,
                records = report.records,
                documents = report.documents,
                malformed = report.malformed,
                "flow-log object aggregated"
            ),
            Err(error) if error.is_transient() => fate = Fate::Retry(error.to_string()),
            Err(error) => {
                tracing::error!(account_id = %object.account, region = %object.region,
                    error = %error, "flow-log object set aside");
                let why = Unreadable::Object(error.to_string());
                if let Fate::Retry(why) = set_aside(ingest, message, &why, now).await {
                    fate = Fate::Retry(why);
                }
            }
        }
    }
    fate
}

/// What one object gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectReport {
    pub object_id: String,
    pub archive_key: String,
    pub records: u64,
    pub documents: usize,
    pub malformed: u64,
}

/// One object, end to end.
pub async fn process_object(
    ingest: &Ingest,
    object: &FlowLogObject,
) -> Result<ObjectReport, ObjectError> {
    let object_id = object.object_id();
    let map = match ingest
        .maps
        .network_map(&object.account, &object.region)
        .await
    {
        Ok(map) => map,
        Err(error) if error.is_transient() => return Err(error.into()),
        Err(error) => {
            tracing::warn!(account_id = %object.account, region = %object.region,
                error = %error, "no network map: classified by the fallbacks");
            Arc::default()
        }
    };
    let body = ingest
        .objects
        .open(&object.bucket, &object.key, object.version_id.as_deref())
        .await
        .map_err(|error| match error {
            error if error.is_transient() => ObjectError::Call(error),
            error => ObjectError::Unreadable(error.to_string()),
        })?;
    let mut aggregation = match object.encoding {
        Encoding::GzipText => text::aggregate(body, map).await?,
        Encoding::Parquet => {
            parquet::aggregate(body, map, &ingest.settings.spool_dir, &object_id).await?
        }
    };
    let documents = aggregation
        .aggregator
        .documents(&object.account, &object.region, &object_id);
    let archive_key = archive_key(object, &object_id);
    write_archive(ingest, &archive_key, &documents).await?;
    index(ingest, &documents).await?;
    if aggregation.malformed.count > 0 {
        quarantine_malformed(ingest, object, &object_id, &aggregation.malformed).await?;
    }
    Ok(ObjectReport {
        object_id,
        archive_key,
        records: aggregation.aggregator.stats().records,
        documents: documents.len(),
        malformed: aggregation.malformed.count,
    })
}

/// `flow-aggregates/region=<r>/accountId=<a>/eventDay=<YYYYMMDD>/<object-id>.json.gz`
pub fn archive_key(object: &FlowLogObject, object_id: &str) -> String {
    format!(
        "flow-aggregates/region={}/accountId={}/eventDay={}/{object_id}.json.gz",
        object.region,
        object.account,
        object.day.format("%Y%m%d")
    )
}

async fn write_archive(
    ingest: &Ingest,
    key: &str,
    documents: &[AggregateDoc],
) -> Result<(), ObjectError> {
    Ok(fanin::objects::archive_documents(ingest.archive.as_ref(), key, documents).await?)
}

async fn index(ingest: &Ingest, documents: &[AggregateDoc]) -> Result<(), ObjectError> {
    let prefix = &ingest.settings.index_prefix;
    let target = fanin::objects::DerivedIndex {
        search: ingest.search.as_ref(),
        template: Some((
            &ingest.flows_template,
            fanin::search::template::flows_name(prefix),
            fanin::search::template::flows_template(prefix),
        )),
        index: ingest.settings.flows_index(),
        bulk_max_bytes: ingest.settings.bulk_max_bytes,
        budget: BULK_BUDGET,
        what: "flow",
    };
    let documents = documents
        .iter()
        .map(|document| {
            let text = serde_json::to_string(document).expect("documents serialize");
            (document.id.clone(), text)
        })
        .collect();
    Ok(fanin::objects::index_documents(&target, documents).await?)
}

/// One document in the quarantine index (whose template the collector and
/// `fanin install` put).
async fn index_quarantined(ingest: &Ingest, id: String, document: String) -> Result<(), CallError> {
    let target = fanin::objects::DerivedIndex {
        search: ingest.search.as_ref(),
        template: None,
        index: ingest.settings.quarantine_index(),
        bulk_max_bytes: ingest.settings.bulk_max_bytes,
        budget: BULK_BUDGET,
        what: "quarantine",
    };
    fanin::objects::index_documents(&target, vec![(id, document)]).await
}

/// The quarantine object of an object's malformed lines. `reason` and
/// `quarantined_at` as every quarantine object has them (the time is the
/// index document's: the object's day, so a retry writes the same bytes).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MalformedObject<'a> {
    pub reason: &'static str,
    pub quarantined_at: String,
    pub bucket: &'a str,
    pub key: &'a str,
    pub version_id: Option<&'a str>,
    pub malformed_lines: u64,
    pub lines: &'a [MalformedLine],
}

async fn quarantine_malformed(
    ingest: &Ingest,
    object: &FlowLogObject,
    object_id: &str,
    malformed: &MalformedLines,
) -> Result<(), ObjectError> {
    let key = format!(
        "quarantine/reason=flowlog_malformed/eventDay={}/{object_id}.json",
        object.day.format("%Y%m%d")
    );
    let time = object
        .day
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc();
    let body = serde_json::to_vec_pretty(&MalformedObject {
        reason: "flowlog_malformed",
        quarantined_at: fanin::timestamps::rfc3339(&time),
        bucket: &object.bucket,
        key: &object.key,
        version_id: object.version_id.as_deref(),
        malformed_lines: malformed.count,
        lines: &malformed.listed,
    })
    .expect("serializes");
    ingest
        .archive
        .put_object(&key, body, ObjectKind::Json)
        .await?;
    let (id, document) = health_document(
        &key,
        "flowlog_malformed",
        time,
        Some((object.account.as_str(), object.region.as_str())),
    );
    Ok(index_quarantined(ingest, id, document).await?)
}

fn health_document(
    key: &str,
    reason: &str,
    time: DateTime<Utc>,
    origin: Option<(&str, &str)>,
) -> (String, String) {
    let document = HealthDocument {
        time: time.timestamp_millis(),
        reason,
        source: SOURCE,
        account_id: origin.map(|(account, _)| account),
        region: origin.map(|(_, region)| region),
        key,
    };
    (
        hex::encode(Sha256::digest(key.as_bytes())),
        serde_json::to_string(&document).expect("serializes"),
    )
}

/// Sets a whole message aside (`flowlog_unreadable`): the body kept byte
/// for byte to replay, keyed by its hash and the day.
async fn set_aside(
    ingest: &Ingest,
    message: &SqsMessage,
    why: &Unreadable,
    now: DateTime<Utc>,
) -> Fate {
    let body = message.body.clone().unwrap_or_default();
    let reason = "flowlog_unreadable";
    let key = format!(
        "quarantine/reason={reason}/eventDay={}/{}.json",
        now.format("%Y%m%d"),
        hex::encode(Sha256::digest(body.as_bytes()))
    );
    let record = QuarantinedMessage {
        reason: reason.into(),
        detail: why.to_string(),
        message_id: message.message_id.clone().unwrap_or_default(),
        receive_count: message
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|n| n.parse().ok())
            .unwrap_or(1),
        quarantined_at: fanin::timestamps::rfc3339(&now),
        body,
    };
    let stored = async {
        ingest
            .archive
            .put_object(
                &key,
                serde_json::to_vec_pretty(&record).expect("serializes"),
                ObjectKind::Json,
            )
            .await?;
        let (id, document) = health_document(&key, reason, now, None);
        index_quarantined(ingest, id, document).await
    };
    match stored.await {
        Ok(()) => {
            tracing::warn!(message_id = %record.message_id, reason = %why, key = %key,
                "flow-log message set aside");
            Fate::Done
        }
        Err(error) => Fate::Retry(format!("setting aside failed: {error}")),
    }
}
