//! Objects read from a bucket as they arrive, for the ingests that follow S3
//! notifications (CloudTrail here; the flow-log ingest has the same shape):
//! the body's chunks ([`ObjectBody`]) behind a trait the ingest owns
//! ([`ObjectReader`]), its S3 adapter, an in-memory fake, a blocking
//! [`std::io::Read`] over the chunks ([`read_blocking`]) so decompression and
//! parsing run off the async threads holding a few chunks, never the object,
//! and the object's identity ([`object_id`]).

use std::collections::{HashMap, VecDeque};
use std::io::Read;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use aws_config::SdkConfig;
use bytes::{Buf, Bytes};
use futures::StreamExt;
use futures::stream::BoxStream;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::ports::CallError;

/// An object's body as it arrives, chunk by chunk.
pub struct ObjectBody {
    pub chunks: BoxStream<'static, Result<Bytes, CallError>>,
}

/// A bucket, read.
///
/// Failure contract: a missing object or version is `Rejected` (it will not
/// appear by retrying), a refused read `Denied`, throttling, 5xx and
/// connection failures `Transient`; an error in the middle of the body's
/// stream is `Transient`.
#[async_trait]
pub trait ObjectReader: Send + Sync {
    async fn open(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<ObjectBody, CallError>;
}

/// Hex of the first 16 bytes of SHA-256 over
/// `bucket + "/" + key + "@" + (versionId or eTag)`: names what an object
/// gives, so processing it again rewrites the same archive object and ids.
pub fn object_id(bucket: &str, key: &str, version_id: Option<&str>, e_tag: Option<&str>) -> String {
    let version = version_id.or(e_tag).unwrap_or("");
    let digest = Sha256::digest(format!("{bucket}/{key}@{version}").as_bytes());
    hex::encode(&digest[..16])
}

/// S3 notifications carry keys form-encoded (`+` for a space, `%XX`).
pub fn url_decode(raw: &str) -> Option<String> {
    let plus_as_space = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_as_space)
        .decode_utf8()
        .ok()
        .map(|key| key.into_owned())
}

/// What an S3 event notification body holds.
#[derive(Debug)]
pub enum S3Notification {
    /// `s3:TestEvent`, sent when the notification is configured: nothing to
    /// do.
    Test,
    Records(Vec<aws_lambda_events::s3::S3EventRecord>),
}

/// Decodes an SQS body holding an S3 event notification; the error says
/// why it is not one.
///
/// The notification comes from S3 itself, or through an SNS topic the
/// queue is subscribed to (S3 → SNS → SQS: the fan-out a log-archive
/// bucket needs when another consumer, a SIEM, already takes its
/// notifications, since S3 refuses two destinations for the same events
/// and prefix). Without raw message delivery SNS wraps it in an envelope
/// whose `Message` is the notification; any other SNS message (a
/// `SubscriptionConfirmation`) is refused, so it is set aside for the
/// queue's owner to decide on: fanin never confirms a subscription. A
/// bucket that sends its events to
/// EventBridge instead (the other way around the one-destination limit)
/// reaches the queue through a rule as an `Object Created` event of
/// `aws.s3`: it is read as the one record S3 would have sent
/// ([`from_eventbridge`]).
pub fn decode_s3_notification(body: &str) -> Result<S3Notification, String> {
    let mut value: serde_json::Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
    if let (Some(kind), Some(_)) = (value["Type"].as_str(), value["TopicArn"].as_str()) {
        if kind != "Notification" {
            return Err(format!(
                "an SNS {} message, not a notification",
                crate::ids::truncate_for_message(kind)
            ));
        }
        let envelope: aws_lambda_events::sns::SnsMessage =
            serde_json::from_value(value).map_err(|e| format!("an SNS envelope: {e}"))?;
        value = serde_json::from_str(&envelope.message)
            .map_err(|e| format!("an SNS notification's message: {e}"))?;
    }
    if value.get("detail-type").is_some() && value.get("detail").is_some() {
        return from_eventbridge(value).map(|record| S3Notification::Records(vec![record]));
    }
    if value.get("s3Bucket").is_some() && value.get("s3ObjectKey").is_some() {
        return from_cloudtrail_delivery(value).map(S3Notification::Records);
    }
    if value["Event"] == "s3:TestEvent" {
        return Ok(S3Notification::Test);
    }
    // S3 always sends `userIdentity` and `requestParameters`; some senders
    // of the same shape (moto, S3-compatible stores) leave them out. fanin
    // reads neither, so a record without them is read as if they were empty.
    if let Some(records) = value.get_mut("Records").and_then(|r| r.as_array_mut()) {
        for record in records.iter_mut().filter_map(|r| r.as_object_mut()) {
            for unread in ["userIdentity", "requestParameters"] {
                record
                    .entry(unread)
                    .or_insert_with(|| serde_json::json!({}));
            }
        }
    }
    let event: aws_lambda_events::s3::S3Event =
        serde_json::from_value(value).map_err(|e| e.to_string())?;
    if event.records.is_empty() {
        return Err("no Records".into());
    }
    Ok(S3Notification::Records(event.records))
}

/// The `detail` of S3's `Object Created` event on EventBridge (Amazon S3
/// User Guide, "EventBridge event message structure"). aws_lambda_events
/// has the envelope ([`aws_lambda_events::eventbridge::EventBridgeEvent`],
/// which asks its detail to serialize too) but not this detail.
#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
struct ObjectCreatedDetail {
    bucket: CreatedInBucket,
    object: CreatedObject,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
struct CreatedInBucket {
    name: String,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
struct CreatedObject {
    key: String,
    #[serde(default)]
    size: Option<i64>,
    #[serde(default)]
    etag: Option<String>,
    #[serde(default)]
    version_id: Option<String>,
    #[serde(default)]
    sequencer: Option<String>,
}

/// An EventBridge event of S3 as the record an S3 event notification
/// holds for the same object (EventBridge gives the key as it is: see
/// [`created`]). Any other event (`Object Deleted`, another source) is
/// refused with its type.
fn from_eventbridge(
    value: serde_json::Value,
) -> Result<aws_lambda_events::s3::S3EventRecord, String> {
    use aws_lambda_events::eventbridge::EventBridgeEvent;
    let kind = |value: &serde_json::Value, field: &str| {
        crate::ids::truncate_for_message(value[field].as_str().unwrap_or("?"))
    };
    if value["source"] != "aws.s3" || value["detail-type"] != "Object Created" {
        return Err(format!(
            "an EventBridge event of {} ({}), not an S3 object creation",
            kind(&value, "source"),
            kind(&value, "detail-type")
        ));
    }
    let event: EventBridgeEvent<ObjectCreatedDetail> =
        serde_json::from_value(value).map_err(|e| format!("an S3 event on EventBridge: {e}"))?;
    let detail = event.detail;
    // S3's notification names for the API calls EventBridge gives as reasons.
    let name = match detail.reason.as_deref() {
        Some("PutObject") | None => "Put",
        Some("PostObject") => "Post",
        Some("CopyObject") => "Copy",
        Some("CompleteMultipartUpload") => "CompleteMultipartUpload",
        Some(_) => "Other",
    };
    let mut record = created(detail.bucket.name, &detail.object.key, name);
    record.aws_region = event.region;
    record.event_time = event.time.unwrap_or_default();
    record.s3.object.size = detail.object.size;
    record.s3.object.e_tag = detail.object.etag;
    record.s3.object.version_id = detail.object.version_id;
    record.s3.object.sequencer = detail.object.sequencer;
    Ok(record)
}

/// The notification a trail sends to its own SNS topic when it delivers
/// log files (AWS CloudTrail User Guide, "Configuring Amazon SNS
/// notifications for CloudTrail"): the bucket and the delivered keys, as
/// they are. Each key becomes the record S3 would have sent for it.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct TrailDelivery {
    s3_bucket: String,
    s3_object_key: Vec<String>,
}

fn from_cloudtrail_delivery(
    value: serde_json::Value,
) -> Result<Vec<aws_lambda_events::s3::S3EventRecord>, String> {
    let delivery: TrailDelivery = serde_json::from_value(value)
        .map_err(|e| format!("a CloudTrail delivery notification: {e}"))?;
    if delivery.s3_object_key.is_empty() {
        return Err("a CloudTrail delivery notification without keys".into());
    }
    Ok(delivery
        .s3_object_key
        .iter()
        .map(|key| created(delivery.s3_bucket.clone(), key, "Put"))
        .collect())
}

/// The record of an S3 notification for `key` (as it is) created in
/// `bucket` by `how` (`Put`, `Copy`, ...). An S3 notification form-encodes
/// its key; this one is percent-encoded, every byte but letters and
/// digits, so the readers' [`url_decode`] gives it back exactly (a `+`
/// stays a `+`).
fn created(bucket: String, key: &str, how: &str) -> aws_lambda_events::s3::S3EventRecord {
    let mut record = aws_lambda_events::s3::S3EventRecord::default();
    record.event_source = Some("aws:s3".into());
    record.event_name = Some(format!("ObjectCreated:{how}"));
    record.s3.bucket.name = Some(bucket);
    record.s3.object.key = Some(
        percent_encoding::utf8_percent_encode(key, percent_encoding::NON_ALPHANUMERIC).to_string(),
    );
    record
}

/// Chunks in flight between the download and the blocking reader.
const CHANNEL_CHUNKS: usize = 8;

/// Runs `read` on a blocking thread over the body's bytes as they arrive.
/// A download error reaches `read` as an I/O error wrapping the
/// [`CallError`] (see [`call_error_of`]) and is answered as `Err` after
/// `read` returns.
pub async fn read_blocking<T, F>(body: ObjectBody, read: F) -> Result<T, ReadFailure>
where
    T: Send + 'static,
    F: FnOnce(ChannelReader) -> T + Send + 'static,
{
    let (sender, receiver) = mpsc::channel(CHANNEL_CHUNKS);
    let reader = tokio::task::spawn_blocking(move || read(ChannelReader::new(receiver)));
    let mut chunks = body.chunks;
    let mut failure = None;
    while let Some(chunk) = chunks.next().await {
        match chunk {
            Ok(bytes) => {
                if sender.send(Ok(bytes)).await.is_err() {
                    // The reader stopped (an unreadable object): its answer says why.
                    break;
                }
            }
            Err(error) => {
                let _ = sender.send(Err(error.clone())).await;
                failure = Some(error);
                break;
            }
        }
    }
    drop(sender);
    let answer = reader
        .await
        .map_err(|e| ReadFailure::Reader(e.to_string()))?;
    match failure {
        Some(error) => Err(ReadFailure::Download(error)),
        None => Ok(answer),
    }
}

/// Why [`read_blocking`] has no answer.
#[derive(Debug, thiserror::Error)]
pub enum ReadFailure {
    #[error(transparent)]
    Download(CallError),
    #[error("the reader failed: {0}")]
    Reader(String),
}

/// The download's error inside an I/O error from a [`ChannelReader`].
pub fn call_error_of(error: &std::io::Error) -> Option<&CallError> {
    error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<CallError>())
}

/// A blocking [`Read`] over the chunks the async side sends.
pub struct ChannelReader {
    receiver: mpsc::Receiver<Result<Bytes, CallError>>,
    current: Bytes,
}

impl ChannelReader {
    fn new(receiver: mpsc::Receiver<Result<Bytes, CallError>>) -> Self {
        Self {
            receiver,
            current: Bytes::new(),
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.receiver.blocking_recv() {
                None => return Ok(0),
                Some(Ok(bytes)) => self.current = bytes,
                Some(Err(error)) => return Err(std::io::Error::other(error)),
            }
        }
        let n = out.len().min(self.current.len());
        out[..n].copy_from_slice(&self.current[..n]);
        self.current.advance(n);
        Ok(n)
    }
}

/// [`ObjectReader`] over S3 GetObject: the body handed on as the SDK
/// streams it, never collected.
pub struct S3ObjectReader {
    client: aws_sdk_s3::Client,
}

impl S3ObjectReader {
    pub fn new(config: &SdkConfig, force_path_style: bool) -> Self {
        let s3_config = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(force_path_style)
            .build();
        Self {
            client: aws_sdk_s3::Client::from_conf(s3_config),
        }
    }
}

#[async_trait]
impl ObjectReader for S3ObjectReader {
    async fn open(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<ObjectBody, CallError> {
        let answer = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_owned))
            .send()
            .await
            .map_err(|e| crate::aws::classify("GetObject", e))?;
        let chunks = futures::stream::unfold(answer.body, |mut body| async move {
            match body.next().await {
                None => None,
                Some(Ok(bytes)) => Some((Ok(bytes), body)),
                Some(Err(error)) => Some((
                    Err(CallError::transient("GetObject", "read", error.to_string())),
                    body,
                )),
            }
        });
        Ok(ObjectBody {
            chunks: Box::pin(chunks),
        })
    }
}

/// A bucket in memory, served in chunks of `chunk_size` bytes.
pub struct InMemoryObjects {
    pub objects: Mutex<HashMap<(String, String), Vec<u8>>>,
    pub chunk_size: usize,
    /// Failures the next opens answer, in order.
    pub failures: Mutex<VecDeque<CallError>>,
    pub opens: AtomicUsize,
}

impl Default for InMemoryObjects {
    fn default() -> Self {
        Self {
            objects: Mutex::default(),
            chunk_size: 64 * 1024,
            failures: Mutex::default(),
            opens: AtomicUsize::new(0),
        }
    }
}

impl InMemoryObjects {
    pub fn put(&self, bucket: &str, key: &str, body: Vec<u8>) {
        self.objects
            .lock()
            .unwrap()
            .insert((bucket.to_owned(), key.to_owned()), body);
    }
}

#[async_trait]
impl ObjectReader for InMemoryObjects {
    async fn open(
        &self,
        bucket: &str,
        key: &str,
        _version_id: Option<&str>,
    ) -> Result<ObjectBody, CallError> {
        self.opens.fetch_add(1, Ordering::SeqCst);
        if let Some(failure) = self.failures.lock().unwrap().pop_front() {
            return Err(failure);
        }
        let body = self
            .objects
            .lock()
            .unwrap()
            .get(&(bucket.to_owned(), key.to_owned()))
            .cloned()
            .ok_or_else(|| CallError::Rejected {
                operation: "GetObject",
                code: "NoSuchKey".into(),
                message: "The specified key does not exist.".into(),
            })?;
        let body = Bytes::from(body);
        let chunk_size = self.chunk_size.max(1);
        let chunks: Vec<Result<Bytes, CallError>> = (0..body.len())
            .step_by(chunk_size)
            .map(|at| Ok(body.slice(at..(at + chunk_size).min(body.len()))))
            .collect();
        Ok(ObjectBody {
            chunks: Box::pin(futures::stream::iter(chunks)),
        })
    }
}

/// Writes `documents` as one gzip NDJSON archive object at `key`.
pub async fn archive_documents<T: serde::Serialize>(
    store: &dyn crate::ports::ObjectStore,
    key: &str,
    documents: &[T],
) -> Result<(), CallError> {
    let mut ndjson = Vec::new();
    for document in documents {
        serde_json::to_writer(&mut ndjson, document).expect("documents serialize");
        ndjson.push(b'\n');
    }
    store
        .put_object(
            key,
            crate::archive::gzip(&ndjson),
            crate::ports::ObjectKind::GzipNdjson,
        )
        .await
}

/// An index of documents made from archived objects, and its template.
pub struct DerivedIndex<'a> {
    pub search: &'a dyn crate::ports::SearchIndexer,
    /// Its template (name, body), installed once per process before the
    /// first write; `None` when another part installs it (the quarantine's).
    pub template: Option<(&'a tokio::sync::OnceCell<()>, String, serde_json::Value)>,
    pub index: String,
    pub bulk_max_bytes: usize,
    /// How long the bulk writes may retry refused items.
    pub budget: std::time::Duration,
    /// What a document is, for the log lines (`flow`, `usage`).
    pub what: &'static str,
}

/// Puts `(id, JSON document)` pairs in the index (`_id` = id, so a rewrite
/// of the same object changes nothing). A document the index refuses for
/// good is logged, not retried: its archive object holds it. A transient
/// refusal is an error, for the object to be processed again.
pub async fn index_documents(
    target: &DerivedIndex<'_>,
    documents: Vec<(String, String)>,
) -> Result<(), CallError> {
    use crate::search::bulk::{BulkOp, ItemOutcome};
    let ops: Vec<BulkOp> = documents
        .into_iter()
        .map(|(id, document)| BulkOp::Put {
            index: target.index.clone(),
            id,
            document: document.into(),
        })
        .collect();
    if ops.is_empty() {
        return Ok(());
    }
    if let Some((installed, name, template)) = &target.template {
        installed
            .get_or_try_init(|| async { target.search.install_template(name, template).await })
            .await?;
    }
    let deadline = tokio::time::Instant::now() + target.budget;
    let outcomes = crate::search::writer::bulk_with_retry(
        target.search,
        &ops,
        target.bulk_max_bytes,
        crate::retry::RetryPolicy::BULK_ITEMS,
        deadline,
    )
    .await;
    let mut refused = 0;
    for (op, outcome) in ops.iter().zip(outcomes) {
        match outcome {
            ItemOutcome::Done | ItemOutcome::Conflict => {}
            ItemOutcome::Retry(why) => return Err(CallError::transient("Bulk", "retry", why)),
            ItemOutcome::Permanent(why) => {
                refused += 1;
                tracing::error!(document_id = %op.id(), reason = %why, what = target.what, "document refused by the index");
            }
        }
    }
    if refused > 0 {
        tracing::error!(
            refused,
            what = target.what,
            "documents refused by the index"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What SQS receives from an SNS topic without raw message delivery
    /// (the envelope's fields as the SNS Developer Guide lists them).
    fn through_sns(kind: &str, message: &str) -> String {
        serde_json::json!({
            "Type": kind,
            "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
            "TopicArn": "arn:aws:sns:eu-west-1:111122223333:log-archive-objects",
            "Subject": "Amazon S3 Notification",
            "Message": message,
            "Timestamp": "2026-11-30T10:05:01.123Z",
            "SignatureVersion": "1",
            "Signature": "EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2egU3N858fiTDN6bkkOxYDVrY0Ad8L10Hs3zH81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9b5+gLPoBc1Q=",
            "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem",
            "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:eu-west-1:111122223333:log-archive-objects:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55"
        })
        .to_string()
    }

    #[test]
    fn an_object_created_event_from_eventbridge_reads_as_s3_would_send_it() {
        // The shape of the S3 User Guide's example, with a key that S3's own
        // notifications would form-encode (`=`, `+`, a space).
        let key = "logs/AWSLogs/aws-account-id=111122223333/aws-service=vpcflowlogs/aws-region=eu-west-1/year=2026/month=11/day=30/a+b c.log.gz";
        let event = serde_json::json!({
            "version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103",
            "detail-type": "Object Created", "source": "aws.s3",
            "account": "111122223333", "time": "2026-11-30T10:05:00Z", "region": "eu-west-1",
            "resources": ["arn:aws:s3:::archive"],
            "detail": {
                "version": "0",
                "bucket": {"name": "archive"},
                "object": {"key": key, "size": 5, "etag": "b1946ac92492d2347c6235b4d2611184",
                    "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e", "sequencer": "617f08299329d189"},
                "request-id": "N4N7GDK58NMKJ12R", "requester": "delivery.logs.amazonaws.com",
                "source-ip-address": "1.2.3.4", "reason": "CompleteMultipartUpload"
            }
        });
        let Ok(S3Notification::Records(records)) = decode_s3_notification(&event.to_string())
        else {
            panic!("read");
        };
        let [record] = &records[..] else {
            panic!("{records:?}");
        };
        assert_eq!(
            record.event_name.as_deref(),
            Some("ObjectCreated:CompleteMultipartUpload")
        );
        assert_eq!(record.s3.bucket.name.as_deref(), Some("archive"));
        let sent = record.s3.object.key.as_deref().unwrap();
        assert_eq!(url_decode(sent).as_deref(), Some(key));
        assert_eq!(
            record.s3.object.version_id.as_deref(),
            Some("IYV3p45BT0ac8hjHg1houSdS1a.Mro8e")
        );
        // Through an SNS topic the same event reads the same.
        let wrapped = decode_s3_notification(&through_sns("Notification", &event.to_string()));
        assert!(matches!(wrapped, Ok(S3Notification::Records(r)) if r == records));
        // A deletion, or another service's event, is no object to read.
        let mut deleted = event.clone();
        deleted["detail-type"] = "Object Deleted".into();
        assert_eq!(
            decode_s3_notification(&deleted.to_string()).unwrap_err(),
            "an EventBridge event of aws.s3 (Object Deleted), not an S3 object creation"
        );
        let mut no_key = event;
        no_key["detail"]["object"] = serde_json::json!({});
        assert!(
            decode_s3_notification(&no_key.to_string())
                .unwrap_err()
                .starts_with("an S3 event on EventBridge")
        );
    }

    #[test]
    fn a_trails_own_delivery_notification_names_each_delivered_object() {
        // The shape the CloudTrail User Guide shows, through the trail's topic.
        let keys = [
            "AWSLogs/o-exampleorgid/111122223333/CloudTrail/eu-west-1/2026/11/30/111122223333_CloudTrail_eu-west-1_20261130T1005Z_LnPgDQnpkSKEsppV.json.gz",
            "AWSLogs/o-exampleorgid/444455556666/CloudTrail/eu-west-1/2026/11/30/444455556666_CloudTrail_eu-west-1_20261130T1005Z_a+b.json.gz",
        ];
        let message = serde_json::json!({"s3Bucket": "org-trail", "s3ObjectKey": keys}).to_string();
        let Ok(S3Notification::Records(records)) =
            decode_s3_notification(&through_sns("Notification", &message))
        else {
            panic!("read");
        };
        let read: Vec<(Option<&str>, Option<String>)> = records
            .iter()
            .map(|r| {
                (
                    r.s3.bucket.name.as_deref(),
                    r.s3.object.key.as_deref().and_then(url_decode),
                )
            })
            .collect();
        assert_eq!(read, keys.map(|k| (Some("org-trail"), Some(k.to_owned()))));
        assert!(
            records
                .iter()
                .all(|r| r.event_name.as_deref() == Some("ObjectCreated:Put"))
        );
        for bad in [
            r#"{"s3Bucket": "org-trail", "s3ObjectKey": []}"#,
            r#"{"s3Bucket": "org-trail", "s3ObjectKey": [7]}"#,
        ] {
            let why = decode_s3_notification(&through_sns("Notification", bad)).unwrap_err();
            assert!(
                why.starts_with("a CloudTrail delivery notification"),
                "{why}"
            );
        }
    }

    #[test]
    fn notifications_read_alike_from_s3_and_through_an_sns_topic() {
        let direct = r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"eu-west-1","eventTime":"2026-11-30T10:05:00.000Z","eventName":"ObjectCreated:Put","userIdentity":{"principalId":"AWS:AROAEXAMPLE"},"requestParameters":{"sourceIPAddress":"203.0.113.1"},"responseElements":{},"s3":{"s3SchemaVersion":"1.0","configurationId":"c","bucket":{"name":"archive","arn":"arn:aws:s3:::archive"},"object":{"key":"AWSLogs/111122223333/vpcflowlogs/eu-west-1/2026/11/30/f.log.gz","size":10,"eTag":"e"}}}]}"#;
        for body in [direct.to_owned(), through_sns("Notification", direct)] {
            let Ok(S3Notification::Records(records)) = decode_s3_notification(&body) else {
                panic!("{body}");
            };
            assert_eq!(records.len(), 1);
            assert_eq!(
                records[0].s3.object.key.as_deref(),
                Some("AWSLogs/111122223333/vpcflowlogs/eu-west-1/2026/11/30/f.log.gz")
            );
        }
        let test_event = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-30T10:00:00.000Z","Bucket":"archive","RequestId":"r","HostId":"h"}"#;
        assert!(matches!(
            decode_s3_notification(&through_sns("Notification", test_event)),
            Ok(S3Notification::Test)
        ));
        // A subscription is never confirmed from here: the message is refused
        // (and so set aside where its owner can find its SubscribeURL).
        let confirmation = decode_s3_notification(&through_sns(
            "SubscriptionConfirmation",
            "You have chosen to subscribe to the topic",
        ))
        .unwrap_err();
        assert_eq!(
            confirmation,
            "an SNS SubscriptionConfirmation message, not a notification"
        );
        let not_json = decode_s3_notification(&through_sns("Notification", "hello")).unwrap_err();
        assert!(
            not_json.starts_with("an SNS notification's message"),
            "{not_json}"
        );
        let no_records = decode_s3_notification(&through_sns("Notification", "{}")).unwrap_err();
        assert!(!no_records.is_empty());
    }

    #[tokio::test]
    async fn the_blocking_reader_sees_every_byte_and_a_download_error() {
        let objects = InMemoryObjects {
            chunk_size: 3,
            ..Default::default()
        };
        objects.put("b", "k", b"hello, world".to_vec());
        let body = objects.open("b", "k", None).await.unwrap();
        let text = read_blocking(body, |mut reader| {
            let mut text = String::new();
            reader.read_to_string(&mut text).unwrap();
            text
        })
        .await
        .unwrap();
        assert_eq!(text, "hello, world");
        let failing = ObjectBody {
            chunks: Box::pin(futures::stream::iter(vec![
                Ok(Bytes::from_static(b"he")),
                Err(CallError::transient("GetObject", "read", "reset")),
            ])),
        };
        let answer = read_blocking(failing, |mut reader| {
            let mut text = String::new();
            let error = reader.read_to_string(&mut text).unwrap_err();
            call_error_of(&error).map(CallError::is_transient)
        })
        .await;
        assert!(matches!(answer, Err(ReadFailure::Download(e)) if e.is_transient()));
        assert_eq!(
            object_id("b", "k", Some("v1"), Some("e")),
            object_id("b", "k", Some("v1"), None)
        );
        assert_ne!(
            object_id("b", "k", None, Some("e1")),
            object_id("b", "k", None, Some("e2"))
        );
        assert_eq!(url_decode("a+b%3Dc").unwrap(), "a b=c");
    }
}
