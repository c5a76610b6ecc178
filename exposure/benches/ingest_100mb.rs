//! One 100 MB gzip flow-log object through the real ingest code: the
//! notification, the streamed GetObject (a fake serving the body in 1 MiB
//! chunks, generated and compressed on the fly so the benchmark holds no
//! copy of it), the gzip decoder, the parser, the aggregation, the archive
//! object and the bulk writes (to in-memory ports). Prints the time and the
//! process's peak resident memory, which is what the function's memory
//! setting must hold.
//!
//! See docs/exposure.md, "Throughput", for the command.

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use fanin::fakes::InMemory;
use std::collections::HashMap;

use fanin::ports::{
    BulkAction, BulkItemStatus, CallError, IndexCreation, SearchIndexer, StoredDocument,
};
use fanin_exposure::ingest::ports::{
    CachedNetworkMaps, GeneratedFlowLogs, InMemoryNetworkMaps, NETWORK_MAP_TTL,
};
use fanin_exposure::ingest::{self, Ingest, IngestSettings};
use futures::stream::BoxStream;
use serde_json::{Value, json};

const COMPRESSED_BYTES: usize = 100 * 1024 * 1024;
const CHUNK: usize = 1024 * 1024;
const BUCKET: &str = "fanin-flow-logs-222222222222-us-east-1";

struct Generator {
    encoder: flate2::write::GzEncoder<Vec<u8>>,
    sent: usize,
    state: u64,
    lines: u64,
    done: bool,
}

impl Generator {
    fn next_u64(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Lines until a chunk of compressed bytes is ready.
    fn chunk(&mut self) -> Option<Bytes> {
        if self.done {
            return None;
        }
        let mut text = String::with_capacity(256 * 1024);
        while self.encoder.get_ref().len() < CHUNK {
            if self.sent + self.encoder.get_ref().len() >= COMPRESSED_BYTES {
                break;
            }
            text.clear();
            for _ in 0..2000 {
                let r = self.next_u64();
                let interface = r % 1000;
                let start = 1_764_460_800 + (self.lines % 86_400);
                let (port, action) = match r >> 60 {
                    0..=9 => (443, "ACCEPT"),
                    10..=12 => (22, "REJECT"),
                    _ => (5432, "ACCEPT"),
                };
                use std::fmt::Write as _;
                let _ = writeln!(
                    text,
                    "2 123456789012 eni-{interface:017x} {}.{}.{}.{} 10.0.{}.{} {} {port} 6 {} {} {start} {} {action} OK",
                    (r >> 8) % 200 + 11,
                    (r >> 16) % 256,
                    (r >> 24) % 256,
                    (r >> 32) % 254 + 1,
                    interface / 250,
                    interface % 250 + 1,
                    32768 + (r >> 40) % 28000,
                    (r >> 20) % 50 + 1,
                    (r >> 28) % 60000 + 40,
                    start + 60,
                );
                self.lines += 1;
            }
            self.encoder.write_all(text.as_bytes()).unwrap();
        }
        if self.sent + self.encoder.get_ref().len() >= COMPRESSED_BYTES {
            let encoder = std::mem::replace(
                &mut self.encoder,
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()),
            );
            self.done = true;
            let rest = encoder.finish().unwrap();
            self.sent += rest.len();
            return Some(Bytes::from(rest));
        }
        let chunk = std::mem::take(self.encoder.get_mut());
        self.sent += chunk.len();
        Some(Bytes::from(chunk))
    }
}

fn body() -> BoxStream<'static, Result<Bytes, CallError>> {
    let mut generator = Generator {
        encoder: flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()),
        sent: 0,
        state: 0x9e37_79b9_7f4a_7c15,
        lines: 0,
        done: false,
    };
    generator
        .encoder
        .write_all(b"version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n")
        .unwrap();
    Box::pin(futures::stream::iter(std::iter::from_fn(move || {
        generator.chunk().map(Ok)
    })))
}

/// An index that takes every item and keeps nothing, so the peak memory is
/// the function's, not a fake cluster's.
struct Discarding {
    documents: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl SearchIndexer for Discarding {
    async fn install_template(&self, _: &str, _: &Value) -> Result<(), CallError> {
        Ok(())
    }
    async fn get_documents(
        &self,
        _: &str,
        _: &[String],
    ) -> Result<HashMap<String, StoredDocument>, CallError> {
        Ok(HashMap::new())
    }
    async fn bulk(&self, ndjson: Vec<u8>) -> Result<Vec<BulkItemStatus>, CallError> {
        let text = String::from_utf8(ndjson).unwrap();
        let statuses: Vec<BulkItemStatus> = text
            .lines()
            .step_by(2)
            .map(|action| {
                let action: Value = serde_json::from_str(action).unwrap();
                BulkItemStatus {
                    action: BulkAction::Index,
                    id: action["index"]["_id"].as_str().unwrap().to_owned(),
                    status: 201,
                    error_type: None,
                    reason: None,
                }
            })
            .collect();
        self.documents
            .fetch_add(statuses.len(), std::sync::atomic::Ordering::SeqCst);
        Ok(statuses)
    }
    async fn index_exists(&self, _: &str) -> Result<bool, CallError> {
        Ok(true)
    }
    async fn create_index(&self, _: &str, _: &Value) -> Result<IndexCreation, CallError> {
        Ok(IndexCreation::AlreadyExists)
    }
}

fn peak_resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let store = Arc::new(InMemory::default());
    let index = Arc::new(Discarding {
        documents: Default::default(),
    });
    let ingest = Ingest {
        objects: Arc::new(GeneratedFlowLogs { make: body }),
        archive: store.clone(),
        search: index.clone(),
        maps: CachedNetworkMaps::new(Arc::new(InMemoryNetworkMaps::default()), NETWORK_MAP_TTL),
        flows_template: Default::default(),
        settings: IngestSettings {
            flow_log_bucket: BUCKET.into(),
            index_prefix: "fanin".into(),
            bulk_max_bytes: 5 * 1024 * 1024,
            spool_dir: std::env::temp_dir(),
        },
    };
    let key = "AWSLogs/123456789012/vpcflowlogs/eu-west-1/2026/11/30/123456789012_vpcflowlogs_eu-west-1_fl-1_20261130T0000Z_big.log.gz";
    let body = json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-30T10:05:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:X"}, "requestParameters": {"sourceIPAddress": "203.0.113.1"},
        "responseElements": {}, "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
            "bucket": {"name": BUCKET, "ownerIdentity": {"principalId": "A"}, "arn": "arn:aws:s3:::b"},
            "object": {"key": key, "size": COMPRESSED_BYTES, "eTag": "e"}}}]});
    let event = json!({"Records": [{"messageId": "m-1", "receiptHandle": "r", "body": body.to_string(),
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "eventSource": "aws:sqs"}]});
    let started = Instant::now();
    let answer = ingest::handle(&ingest, event).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(answer["batchItemFailures"], json!([]));
    let documents = index.documents.load(std::sync::atomic::Ordering::SeqCst);
    let archive_bytes: usize = store
        .objects
        .lock()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with("flow-aggregates/"))
        .map(|(_, v)| v.len())
        .sum();
    println!(
        "100 MB gzip object: {:.1} s end to end (generation and compression of the body included), {documents} documents, archive object {:.1} MB, peak resident {:.0} MiB",
        elapsed.as_secs_f64(),
        archive_bytes as f64 / 1e6,
        peak_resident_kib() as f64 / 1024.0
    );
}
