//! CloudTrail objects in: S3 notification → stream → read record by record
//! → aggregate per (principal, action) → archive + index; malformed records
//! to the quarantine.
//!
//! One SQS message (an S3 event notification, [`notification`]) names one
//! or more objects of the trail bucket. Each log object is streamed
//! ([`fanin::objects::ObjectReader`]), gunzipped on a blocking thread and
//! read record by record (`fanin::privileges::trail`), and aggregated
//! (`fanin::privileges::usage::Aggregator`). Then, all idempotent (names
//! from the object's id):
//!
//! 1. ONE archive object
//!    `iam-usage/accountId=<recipient account>/eventDay=<YYYYMMDD>/<object-id>.json.gz`,
//!    gzip NDJSON of `UsageDoc`;
//! 2. the same documents in `<prefix>-iam-usage`, `_id` = the document's id;
//! 3. when records were malformed: one quarantine object
//!    `quarantine/reason=cloudtrail_malformed/eventDay=<YYYYMMDD>/<object-id>.json`
//!    (the first 1,000 with their index in `Records` and reason) and its
//!    document in `<prefix>-quarantine`.
//!
//! Digest and Insights objects are acknowledged and counted. A message that
//! is not a CloudTrail notification of the configured bucket, and an object
//! that cannot be read (not gzip, not JSON with `Records`, gone), is set
//! aside whole under `quarantine/reason=cloudtrail_unreadable/` and
//! acknowledged. Transient failures put the message in `batchItemFailures`.
//!
//! [`read_window`] is the other side: the evaluation's merge of a window's
//! archive objects.

pub mod notification;

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use chrono::{DateTime, NaiveDate, Utc};
use fanin::objects::{ObjectReader, ReadFailure};
use fanin::ports::{CallError, ObjectKind, ObjectStore, SearchIndexer};
use fanin::privileges::trail::{self, TrailError};
use fanin::privileges::usage::{Aggregator, MalformedRecord, UsageDoc, UsageStats, WindowUsage};
use fanin::quarantine::{HealthDocument, QuarantinedMessage};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::config::PrivilegesConfig;
use notification::{Located, Notification, TrailObject, Unreadable};

/// The quarantine's `source` for CloudTrail.
pub const SOURCE: &str = "cloudtrail";
/// How long bulk retries may go on for one message.
const BULK_BUDGET: Duration = Duration::from_secs(60);

/// Whether the action catalogue has an action (`service:Action`).
pub type IsAction = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// What ingest needs, built once per cold start.
pub struct Ingest {
    pub objects: Arc<dyn ObjectReader>,
    pub archive: Arc<dyn ObjectStore>,
    pub search: Arc<dyn SearchIndexer>,
    /// The catalogue's answer (see `fanin::privileges::actions::resolve`).
    pub is_action: IsAction,
    pub settings: IngestSettings,
    /// The usage index template, installed before the first write.
    pub usage_template: tokio::sync::OnceCell<()>,
}

#[derive(Debug, Clone)]
pub struct IngestSettings {
    /// The only bucket whose notifications are read.
    pub trail_bucket: String,
    pub index_prefix: String,
    pub bulk_max_bytes: usize,
}

impl IngestSettings {
    pub fn usage_index(&self) -> String {
        fanin::search::template::usage_name(&self.index_prefix)
    }

    pub fn quarantine_index(&self) -> String {
        format!("{}-quarantine", self.index_prefix)
    }
}

impl Ingest {
    /// The AWS and OpenSearch adapters on `sdk`. The catalogue is not
    /// wired here: every action resolves through the exception table or
    /// as `Unknown` until [`Ingest::with_catalogue`] is given
    /// `Catalogue::embedded()`'s answer (done where the function is built).
    pub fn with_sdk(
        config: &PrivilegesConfig,
        sdk: &aws_config::SdkConfig,
    ) -> anyhow::Result<Self> {
        let store = &config.store;
        let search = fanin::search::opensearch::OpenSearchIndexer::new(
            &store.opensearch_url,
            &store.search_auth,
            sdk.credentials_provider(),
            sdk.region().cloned(),
        )?;
        Ok(Self {
            objects: Arc::new(fanin::objects::S3ObjectReader::new(
                sdk,
                store.s3_force_path_style,
            )),
            archive: Arc::new(fanin::aws::s3::S3Objects::new(
                sdk,
                store.bucket.clone(),
                store.encryption.clone(),
                store.s3_force_path_style,
            )),
            search: Arc::new(search),
            is_action: Arc::new(|_| false),
            usage_template: tokio::sync::OnceCell::new(),
            settings: IngestSettings {
                trail_bucket: config.trail_bucket.clone(),
                index_prefix: store.index_prefix.clone(),
                bulk_max_bytes: store.bulk_max_bytes,
            },
        })
    }

    /// The catalogue's answer to "is this an action".
    pub fn with_catalogue(mut self, is_action: IsAction) -> Self {
        self.is_action = is_action;
        self
    }
}

/// Why one object failed.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
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

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    Done,
    Retry(String),
}

/// The Lambda entry point for an SQS batch: the partial batch response.
pub async fn handle(ingest: &Ingest, payload: Value) -> Result<Value, lambda_runtime::Error> {
    let event: SqsEvent = serde_json::from_value(payload)?;
    let mut failures = Vec::new();
    for message in &event.records {
        let id = message.message_id.clone().unwrap_or_default();
        if let Fate::Retry(why) = process_message(ingest, message, Utc::now()).await {
            tracing::warn!(message_id = %id, reason = %why, "cloudtrail message retried");
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
        let object = match notification::locate(record, &ingest.settings.trail_bucket) {
            Ok(Located::Log(object)) => object,
            Ok(Located::Skipped(kind)) => {
                tracing::info!(kind = ?kind, "cloudtrail digest or insight object skipped");
                continue;
            }
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
                documents = report.documents,
                records = report.stats.records,
                calls = report.stats.calls,
                denied = report.stats.denied,
                skipped_service = report.stats.skipped_service,
                skipped_other_account = report.stats.skipped_other_account,
                skipped_shared_copy = report.stats.skipped_shared_copy,
                skipped_not_action = report.stats.skipped_not_action,
                unattributed = report.stats.unattributed,
                unknown_mapping = report.stats.unknown_mapping,
                malformed = report.stats.malformed,
                "cloudtrail object aggregated"
            ),
            Err(error) if error.is_transient() => fate = Fate::Retry(error.to_string()),
            Err(error) => {
                tracing::error!(account_id = %object.account, region = %object.region,
                    error = %error, "cloudtrail object set aside");
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
    pub documents: usize,
    pub stats: UsageStats,
}

/// One object's documents and what could not be read of it.
pub struct ObjectUsage {
    pub documents: Vec<UsageDoc>,
    pub stats: UsageStats,
    pub malformed: Vec<MalformedRecord>,
}

/// The most decompressed bytes of one object read. CloudTrail delivers
/// about every five minutes per account and region, so an object is
/// usually kilobytes to a few tens of MB; a larger one is set aside (it is
/// streamed, so the limit bounds the time spent on it, not the memory).
pub const MAX_DECOMPRESSED: u64 = 768 * 1024 * 1024;

/// The blocking half: gzip → records → usage documents.
///
/// The object is streamed end to end: the decompressed JSON goes through
/// the trail reader's bounded window (`fanin::privileges::window`, 256 KiB,
/// growing only for a record larger than that, up to 16 MiB), each record
/// read from the window's bytes with its strings borrowed, so memory is the
/// window plus the aggregation's keys, whatever the object's size.
pub fn read_object(
    source: impl Read,
    is_action: &dyn Fn(&str) -> bool,
    object: &TrailObject,
    object_id: &str,
) -> Result<ObjectUsage, ObjectError> {
    let mut decompressed = flate2::read::MultiGzDecoder::new(source).take(MAX_DECOMPRESSED + 1);
    let mut aggregator = Aggregator::new(is_action);
    let read = trail::read_reader(&mut decompressed, |index, record| {
        aggregator.add(index, record)
    });
    if decompressed.limit() == 0 {
        return Err(ObjectError::Unreadable(format!(
            "more than {MAX_DECOMPRESSED} bytes decompressed"
        )));
    }
    read.map_err(|error| match error {
        TrailError::Io(io) => match fanin::objects::call_error_of(&io) {
            Some(call) => ObjectError::Call(call.clone()),
            None => ObjectError::Unreadable(format!("not a readable gzip object: {io}")),
        },
        TrailError::Format(why) => {
            ObjectError::Unreadable(format!("not a CloudTrail log object: {why}"))
        }
        too_large @ TrailError::TooLarge(_) => ObjectError::Unreadable(too_large.to_string()),
    })?;
    Ok(ObjectUsage {
        documents: aggregator.documents(
            object_id,
            object.account.as_str(),
            object.region.as_str(),
            &object.day.format("%Y-%m-%d").to_string(),
        ),
        stats: aggregator.stats().clone(),
        malformed: aggregator.malformed().to_vec(),
    })
}

/// One object, end to end.
pub async fn process_object(
    ingest: &Ingest,
    object: &TrailObject,
) -> Result<ObjectReport, ObjectError> {
    let object_id = object.object_id();
    let body = ingest
        .objects
        .open(&object.bucket, &object.key, object.version_id.as_deref())
        .await
        .map_err(|error| match error {
            error if error.is_transient() => ObjectError::Call(error),
            error => ObjectError::Unreadable(error.to_string()),
        })?;
    let is_action = ingest.is_action.clone();
    let (for_reader, id_for_reader) = (object.clone(), object_id.clone());
    let usage = fanin::objects::read_blocking(body, move |source| {
        read_object(source, &*is_action, &for_reader, &id_for_reader)
    })
    .await
    .map_err(|failure| match failure {
        ReadFailure::Download(error) => ObjectError::Call(error),
        ReadFailure::Reader(why) => ObjectError::Unreadable(why),
    })??;
    let archive_key = archive_key(object, &object_id);
    write_archive(ingest, &archive_key, &usage.documents).await?;
    index(ingest, &usage.documents).await?;
    if usage.stats.malformed > 0 {
        quarantine_malformed(ingest, object, &object_id, &usage).await?;
    }
    Ok(ObjectReport {
        object_id,
        archive_key,
        documents: usage.documents.len(),
        stats: usage.stats,
    })
}

/// `iam-usage/accountId=<recipient account>/eventDay=<YYYYMMDD>/<object-id>.json.gz`
pub fn archive_key(object: &TrailObject, object_id: &str) -> String {
    format!(
        "{}{object_id}.json.gz",
        day_prefix(object.account.as_str(), object.day)
    )
}

/// `iam-usage/accountId=<account>/eventDay=<YYYYMMDD>/`
fn day_prefix(account: &str, day: NaiveDate) -> String {
    format!(
        "iam-usage/accountId={account}/eventDay={}/",
        day.format("%Y%m%d")
    )
}

async fn write_archive(
    ingest: &Ingest,
    key: &str,
    documents: &[UsageDoc],
) -> Result<(), ObjectError> {
    Ok(fanin::objects::archive_documents(ingest.archive.as_ref(), key, documents).await?)
}

async fn index(ingest: &Ingest, documents: &[UsageDoc]) -> Result<(), ObjectError> {
    let prefix = &ingest.settings.index_prefix;
    let target = fanin::objects::DerivedIndex {
        search: ingest.search.as_ref(),
        template: Some((
            &ingest.usage_template,
            fanin::search::template::usage_name(prefix),
            fanin::search::template::usage_template(prefix),
        )),
        index: ingest.settings.usage_index(),
        bulk_max_bytes: ingest.settings.bulk_max_bytes,
        budget: BULK_BUDGET,
        what: "usage",
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

/// The quarantine object of an object's malformed records.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MalformedObject<'a> {
    pub reason: &'static str,
    pub quarantined_at: String,
    pub bucket: &'a str,
    pub key: &'a str,
    pub version_id: Option<&'a str>,
    pub malformed_records: u64,
    pub records: &'a [MalformedRecord],
}

async fn quarantine_malformed(
    ingest: &Ingest,
    object: &TrailObject,
    object_id: &str,
    usage: &ObjectUsage,
) -> Result<(), ObjectError> {
    let reason = "cloudtrail_malformed";
    let key = format!(
        "quarantine/reason={reason}/eventDay={}/{object_id}.json",
        object.day.format("%Y%m%d")
    );
    // The object's day, so a retry writes the same bytes.
    let time = object
        .day
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc();
    let body = serde_json::to_vec_pretty(&MalformedObject {
        reason,
        quarantined_at: fanin::timestamps::rfc3339(&time),
        bucket: &object.bucket,
        key: &object.key,
        version_id: object.version_id.as_deref(),
        malformed_records: usage.stats.malformed,
        records: &usage.malformed,
    })
    .expect("serializes");
    ingest
        .archive
        .put_object(&key, body, ObjectKind::Json)
        .await?;
    let (id, document) = health_document(
        &key,
        reason,
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

/// Sets a whole message aside (`cloudtrail_unreadable`): the body kept byte
/// for byte to replay, keyed by its hash and the day.
async fn set_aside(
    ingest: &Ingest,
    message: &SqsMessage,
    why: &Unreadable,
    now: DateTime<Utc>,
) -> Fate {
    let body = message.body.clone().unwrap_or_default();
    let reason = "cloudtrail_unreadable";
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
                "cloudtrail message set aside");
            Fate::Done
        }
        Err(error) => Fate::Retry(format!("setting aside failed: {error}")),
    }
}

/// The usage of a window: every `iam-usage/` archive object of the days
/// from `start` to `end` (of `accounts`, or of every account with objects),
/// merged. Documents whose calls are all outside `[start, end]` are left
/// out. Memory is bounded by (principal, action) keys.
pub async fn read_window(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    accounts: Option<&[String]>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> anyhow::Result<WindowUsage> {
    let accounts: Vec<String> = match accounts {
        Some(accounts) => accounts.to_vec(),
        None => list_accounts(s3, bucket).await?,
    };
    let mut window = WindowUsage::default();
    for account in &accounts {
        if fanin::ids::AccountId::parse(account).is_err() {
            anyhow::bail!(
                "not an account id: {}",
                fanin::ids::truncate_for_message(account)
            );
        }
        let mut day = start.date_naive();
        while day <= end.date_naive() {
            for key in list_keys(s3, bucket, &day_prefix(account, day)).await? {
                let object = s3.get_object().bucket(bucket).key(&key).send().await?;
                let bytes = object.body.collect().await?.into_bytes();
                let mut text = String::new();
                flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_string(&mut text)?;
                for line in text.lines().filter(|line| !line.is_empty()) {
                    let document: UsageDoc =
                        serde_json::from_str(line).map_err(|e| anyhow::anyhow!("{key}: {e}"))?;
                    if document.last_seen >= start.timestamp()
                        && document.first_seen <= end.timestamp()
                    {
                        window.add(&document);
                    }
                }
            }
            day = day.succ_opt().expect("a day after");
        }
    }
    Ok(window)
}

async fn list_keys(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> anyhow::Result<Vec<String>> {
    let mut keys = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        keys.extend(
            page?
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
    }
    Ok(keys)
}

/// The accounts with usage objects (`iam-usage/accountId=<a>/`).
async fn list_accounts(s3: &aws_sdk_s3::Client, bucket: &str) -> anyhow::Result<Vec<String>> {
    let mut accounts = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix("iam-usage/accountId=")
        .delimiter("/")
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for prefix in page?.common_prefixes() {
            let account = prefix
                .prefix()
                .and_then(|p| p.strip_prefix("iam-usage/accountId="))
                .and_then(|p| p.strip_suffix('/'))
                .filter(|account| fanin::ids::AccountId::parse(account).is_ok());
            if let Some(account) = account {
                accounts.push(account.to_owned());
            }
        }
    }
    Ok(accounts)
}
