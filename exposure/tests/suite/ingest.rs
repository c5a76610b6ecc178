//! The ingest handler in process, on in-memory ports: what a user would
//! check is the archive object, the index documents and the quarantine.

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use fanin::fakes::InMemory;
use fanin::flowlogs::aggregate::{AggregateDoc, DocBody, TrafficDoc};
use fanin::flowlogs::classify::{Direction, Initiator, NetworkMap, SourceClass};
use fanin::flowlogs::parse::Action;
use fanin::ports::CallError;
use fanin_exposure::ingest::ports::{CachedNetworkMaps, InMemoryFlowLogs, InMemoryNetworkMaps};
use fanin_exposure::ingest::{self, Ingest, IngestSettings};
use serde_json::{Value, json};

const BUCKET: &str = "fanin-flow-logs-222222222222-us-east-1";
const ACCOUNT: &str = "111122223333";

struct World {
    ingest: Ingest,
    flow_logs: Arc<InMemoryFlowLogs>,
    store: Arc<InMemory>,
    maps: Arc<InMemoryNetworkMaps>,
}

fn world(name: &str) -> World {
    let flow_logs = Arc::new(InMemoryFlowLogs {
        chunk_size: 97,
        ..Default::default()
    });
    let store = Arc::new(InMemory::default());
    let maps = Arc::new(InMemoryNetworkMaps::default());
    let mut map = NetworkMap::new();
    map.insert_interface(
        "eni-1235b8ca123456789",
        Some("vpc-abcdefab012345678".into()),
        ["10.0.0.62".parse().unwrap()],
    );
    map.insert_vpc_cidr("vpc-abcdefab012345678", "10.0.0.0/16".parse().unwrap());
    maps.insert(ACCOUNT, "eu-west-1", map);
    let spool_dir =
        std::env::temp_dir().join(format!("fanin-ingest-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&spool_dir).unwrap();
    let ingest = Ingest {
        objects: flow_logs.clone(),
        archive: store.clone(),
        search: store.clone(),
        maps: CachedNetworkMaps::new(maps.clone(), ingest::ports::NETWORK_MAP_TTL),
        flows_template: Default::default(),
        settings: IngestSettings {
            flow_log_bucket: BUCKET.into(),
            index_prefix: "fanin".into(),
            bulk_max_bytes: 1 << 20,
            spool_dir,
        },
    };
    World {
        ingest,
        flow_logs,
        store,
        maps,
    }
}

fn key(file: &str) -> String {
    format!("AWSLogs/{ACCOUNT}/vpcflowlogs/eu-west-1/2026/11/30/{file}")
}

fn gzip(text: &str) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap()
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../tests/fixtures/flowlogs/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// The notification S3 sends for one new object, in an SQS record.
fn notification(message_id: &str, bucket: &str, key: &str) -> Value {
    let body = json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-30T10:05:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AROAEXAMPLE:delivery"},
        "requestParameters": {"sourceIPAddress": "203.0.113.1"},
        "responseElements": {"x-amz-request-id": "R1", "x-amz-id-2": "H1"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "flow-logs",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "A1"}, "arn": format!("arn:aws:s3:::{bucket}")},
            "object": {"key": key.replace('=', "%3D"), "size": 1234, "eTag": "0123456789abcdef", "versionId": "v1", "sequencer": "0055AED6DCD90281E5"}}
    }]});
    sqs_record(message_id, &body.to_string())
}

fn sqs_record(message_id: &str, body: &str) -> Value {
    json!({"messageId": message_id, "receiptHandle": "r", "body": body,
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
        "md5OfBody": "x", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:222222222222:fanin-flow-logs", "awsRegion": "us-east-1"})
}

async fn deliver(world: &World, records: Vec<Value>) -> Vec<String> {
    let answer = ingest::handle(&world.ingest, json!({ "Records": records }))
        .await
        .unwrap();
    answer["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
        .collect()
}

fn archived(world: &World) -> Vec<(String, Vec<AggregateDoc>)> {
    let objects = world.store.objects.lock().unwrap();
    let mut archived: Vec<(String, Vec<AggregateDoc>)> = objects
        .iter()
        .filter(|(key, _)| key.starts_with("flow-aggregates/"))
        .map(|(key, body)| {
            let mut text = String::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_string(&mut text)
                .unwrap();
            let documents = text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            (key.clone(), documents)
        })
        .collect();
    archived.sort_by(|a, b| a.0.cmp(&b.0));
    archived
}

fn traffic(documents: &[AggregateDoc]) -> Vec<&TrafficDoc> {
    documents.iter().filter_map(AggregateDoc::traffic).collect()
}

#[tokio::test]
async fn a_text_object_becomes_one_archive_object_and_its_index_documents() {
    let world = world("text");
    let file = "111122223333_vpcflowlogs_eu-west-1_fl-1_20261130T1005Z_a.log.gz";
    world
        .flow_logs
        .put(BUCKET, &key(file), gzip(&fixture("default-v2.log")));
    let failures = deliver(&world, vec![notification("m-1", BUCKET, &key(file))]).await;
    assert!(failures.is_empty());
    let archived = archived(&world);
    assert_eq!(archived.len(), 1);
    let (archive_key, documents) = &archived[0];
    assert!(
        archive_key.starts_with(&format!(
            "flow-aggregates/region=eu-west-1/accountId={ACCOUNT}/eventDay=20261130/"
        )),
        "{archive_key}"
    );
    assert!(archive_key.ends_with(".json.gz"));
    let object_id = archive_key
        .rsplit('/')
        .next()
        .unwrap()
        .trim_end_matches(".json.gz");
    assert_eq!(object_id.len(), 32);
    // 5 traffic keys and 5 interface-hours of coverage.
    assert_eq!(traffic(documents).len(), 5);
    assert_eq!(documents.len(), 10);
    assert!(
        documents
            .iter()
            .all(|d| d.object_id == object_id && d.account == ACCOUNT)
    );
    let index = world.store.index("fanin-flows");
    assert_eq!(index.len(), documents.len());
    for document in documents {
        let stored = &index[&document.id].source;
        assert_eq!(stored, &serde_json::to_value(document).unwrap());
    }
    let rdp = traffic(documents)
        .into_iter()
        .find(|t| t.dst_port == 3389)
        .unwrap();
    assert_eq!(
        (rdp.action, rdp.flows, rdp.bytes),
        (Action::Reject, 1, 4249)
    );
}

#[tokio::test]
async fn a_custom_format_object_is_read_with_its_own_header_and_the_network_map() {
    let world = world("custom");
    let file = "111122223333_vpcflowlogs_eu-west-1_fl-2_20261130T1005Z_b.log.gz";
    world
        .flow_logs
        .put(BUCKET, &key(file), gzip(&fixture("tcp-flags-v3.log")));
    assert!(
        deliver(&world, vec![notification("m-1", BUCKET, &key(file))])
            .await
            .is_empty()
    );
    let documents = &archived(&world)[0].1;
    let opened: Vec<&TrafficDoc> = traffic(documents)
        .into_iter()
        .filter(|t| t.direction == Direction::Ingress && t.initiator == Initiator::Remote)
        .collect();
    assert_eq!(opened.len(), 2, "two hours");
    assert!(
        opened
            .iter()
            .all(|t| t.dst_port == 5001 && t.source_class == SourceClass::Internet)
    );
    assert_eq!(opened.iter().map(|t| t.flows).sum::<u64>(), 3);
    assert_eq!(world.maps.calls.load(Ordering::SeqCst), 1);
}

fn parquet_object() -> Vec<u8> {
    use arrow_array::{ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    let schema = Arc::new(Schema::new(vec![
        Field::new("version", DataType::Int32, true),
        Field::new("account_id", DataType::Utf8, true),
        Field::new("interface_id", DataType::Utf8, true),
        Field::new("srcaddr", DataType::Utf8, true),
        Field::new("dstaddr", DataType::Utf8, true),
        Field::new("srcport", DataType::Int32, true),
        Field::new("dstport", DataType::Int32, true),
        Field::new("protocol", DataType::Int32, true),
        Field::new("packets", DataType::Int64, true),
        Field::new("bytes", DataType::Int64, true),
        Field::new("start", DataType::Int64, true),
        Field::new("end", DataType::Int64, true),
        Field::new("action", DataType::Utf8, true),
        Field::new("log_status", DataType::Utf8, true),
        Field::new("tcp_flags", DataType::Int32, true),
        Field::new("flow_direction", DataType::Utf8, true),
        Field::new("ecs_task_id", DataType::Utf8, true),
    ]));
    let strings = |v: [Option<&str>; 3]| Arc::new(StringArray::from(v.to_vec())) as ArrayRef;
    let ints = |v: [Option<i32>; 3]| Arc::new(Int32Array::from(v.to_vec())) as ArrayRef;
    let longs = |v: [Option<i64>; 3]| Arc::new(Int64Array::from(v.to_vec())) as ArrayRef;
    let eni = Some("eni-1235b8ca123456789");
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            ints([Some(5); 3]),
            strings([Some(ACCOUNT); 3]),
            strings([eni, eni, eni]),
            strings([Some("198.51.100.7"), Some("198.51.100.8"), None]),
            strings([Some("10.0.0.62"), Some("10.0.0.62"), None]),
            ints([Some(50000), Some(50001), None]),
            ints([Some(443), Some(443), None]),
            ints([Some(6), Some(6), None]),
            longs([Some(10), Some(12), None]),
            longs([Some(1000), Some(1200), None]),
            longs([
                Some(1_764_496_800),
                Some(1_764_496_900),
                Some(1_764_496_800),
            ]),
            longs([
                Some(1_764_496_860),
                Some(1_764_496_960),
                Some(1_764_496_860),
            ]),
            strings([Some("ACCEPT"), Some("ACCEPT"), None]),
            strings([Some("OK"), Some("OK"), Some("NODATA")]),
            ints([Some(2), Some(3), None]),
            strings([Some("ingress"), Some("ingress"), None]),
            strings([Some("task"), None, None]),
        ],
    )
    .unwrap();
    let mut bytes = Vec::new();
    let mut writer = parquet::arrow::ArrowWriter::try_new(&mut bytes, schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    bytes
}

#[tokio::test]
async fn a_parquet_object_in_the_hive_layout_aggregates_like_text() {
    let world = world("parquet");
    let key = format!(
        "AWSLogs/aws-account-id={ACCOUNT}/aws-service=vpcflowlogs/aws-region=eu-west-1/year=2026/month=11/day=30/hour=10/f.parquet"
    );
    world.flow_logs.put(BUCKET, &key, parquet_object());
    assert!(
        deliver(&world, vec![notification("m-1", BUCKET, &key)])
            .await
            .is_empty()
    );
    let archived = archived(&world);
    assert_eq!(archived.len(), 1);
    let documents = &archived[0].1;
    let https = traffic(documents);
    assert_eq!(https.len(), 1);
    let https = https[0];
    assert_eq!(
        (
            https.dst_port,
            https.flows,
            https.packets,
            https.bytes,
            https.distinct_sources
        ),
        (443, 2, 22, 2200, 2)
    );
    assert_eq!(
        (https.direction, https.initiator),
        (Direction::Ingress, Initiator::Remote)
    );
    let coverage = documents
        .iter()
        .find_map(|d| match d.body {
            DocBody::Coverage(c) => Some(c),
            DocBody::Traffic(_) => None,
        })
        .unwrap();
    assert_eq!((coverage.records, coverage.nodata), (3, 1));
    let leftovers = std::fs::read_dir(&world.ingest.settings.spool_dir)
        .unwrap()
        .count();
    assert_eq!(leftovers, 0, "the spool file is removed");
}

#[tokio::test]
async fn malformed_lines_are_set_aside_with_their_numbers_and_the_rest_aggregates() {
    let world = world("malformed");
    let file = "111122223333_vpcflowlogs_eu-west-1_fl-1_20261130T1010Z_c.log.gz";
    let text = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n\
        2 111122223333 eni-1235b8ca123456789 198.51.100.1 10.0.0.62 40000 22 6 1 60 1764496800 1764496860 ACCEPT OK\n\
        2 111122223333 eni-1235b8ca123456789 198.51.100.1 10.0.0.62 40000\n\
        2 111122223333 eni-1235b8ca123456789 198.51.100.2 10.0.0.62 40001 22 6 1 60 1764496800 1764496860 ACCEPT OK\n\
        2 111122223333 eni-1235b8ca123456789 198.51.100.2 10.0.0.62 40001 22 6 1 60 1764496800 1764496860 PERHAPS OK\n";
    world.flow_logs.put(BUCKET, &key(file), gzip(text));
    assert!(
        deliver(&world, vec![notification("m-1", BUCKET, &key(file))])
            .await
            .is_empty()
    );
    let ssh = traffic(&archived(&world)[0].1)[0].clone();
    assert_eq!((ssh.dst_port, ssh.flows, ssh.distinct_sources), (22, 2, 2));
    let objects = world.store.objects.lock().unwrap().clone();
    let (quarantine_key, body) = objects
        .iter()
        .find(|(k, _)| k.starts_with("quarantine/reason=flowlog_malformed/eventDay=20261130/"))
        .unwrap();
    let quarantined: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(quarantined["bucket"], BUCKET);
    assert_eq!(quarantined["key"], key(file));
    assert_eq!(quarantined["version_id"], "v1");
    assert_eq!(quarantined["malformed_lines"], 2);
    assert_eq!(
        quarantined["lines"],
        json!([
            {"line": 3, "reason": "expected 14 fields, found 6",
             "text": "2 111122223333 eni-1235b8ca123456789 198.51.100.1 10.0.0.62 40000"},
            {"line": 5, "reason": "bad value for action",
             "text": "2 111122223333 eni-1235b8ca123456789 198.51.100.2 10.0.0.62 40001 22 6 1 60 1764496800 1764496860 PERHAPS OK"},
        ])
    );
    let health = world.store.index("fanin-quarantine");
    assert_eq!(health.len(), 1);
    let document = &health.values().next().unwrap().source;
    assert_eq!(document["reason"], "flowlog_malformed");
    assert_eq!(document["source"], "vpcflowlogs");
    assert_eq!(document["account_id"], ACCOUNT);
    assert_eq!(document["key"], quarantine_key.as_str());
}

#[derive(serde::Deserialize)]
struct QuarantinedMessageView {
    message_id: String,
    detail: String,
    body: String,
}

/// The messages set aside as unreadable, as the archive holds them.
fn unreadable(world: &World) -> Vec<QuarantinedMessageView> {
    let objects = world.store.objects.lock().unwrap();
    objects
        .iter()
        .filter(|(k, _)| k.starts_with("quarantine/reason=flowlog_unreadable/"))
        .map(|(_, body)| serde_json::from_slice(body).unwrap())
        .collect()
}

#[tokio::test]
async fn foreign_buckets_other_layouts_and_non_notifications_are_set_aside() {
    let world = world("foreign");
    let file = key("f.log.gz");
    world.flow_logs.put(
        "someone-elses-bucket",
        &file,
        gzip(&fixture("default-v2.log")),
    );
    let failures = deliver(
        &world,
        vec![
            notification("m-foreign", "someone-elses-bucket", &file),
            notification("m-layout", BUCKET, "AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/30/f.json.gz"),
            sqs_record("m-garbage", "{not json"),
            sqs_record("m-test", r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-30T10:00:00.000Z","Bucket":"b","RequestId":"r","HostId":"h"}"#),
        ],
    )
    .await;
    assert!(failures.is_empty());
    assert!(archived(&world).is_empty());
    assert_eq!(
        world.flow_logs.opens.load(Ordering::SeqCst),
        0,
        "nothing was read"
    );
    let set_aside = unreadable(&world);
    let mut ids: Vec<&str> = set_aside.iter().map(|q| q.message_id.as_str()).collect();
    ids.sort();
    assert_eq!(
        ids,
        ["m-foreign", "m-garbage", "m-layout"],
        "the test event is only acknowledged"
    );
    let foreign = set_aside
        .iter()
        .find(|q| q.message_id == "m-foreign")
        .unwrap();
    assert_eq!(foreign.detail, "the notification is from another bucket");
    assert!(
        foreign.body.contains("someone-elses-bucket"),
        "the body is kept to replay"
    );
    assert_eq!(world.store.index("fanin-quarantine").len(), 3);
}

/// `record`'s body as SQS holds it when the bucket notifies an SNS topic
/// and the queue is subscribed without raw message delivery.
fn through_sns(record: &Value, kind: &str) -> Value {
    let envelope = json!({
        "Type": kind, "MessageId": "9b1a3c1e-0000-4000-8000-000000000001",
        "TopicArn": "arn:aws:sns:us-east-1:222222222222:log-archive-objects",
        "Subject": "Amazon S3 Notification",
        "Message": record["body"],
        "Timestamp": "2026-11-30T10:05:01.000Z", "SignatureVersion": "1",
        "Signature": "c2lnbmF0dXJl",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe"
    });
    sqs_record(record["messageId"].as_str().unwrap(), &envelope.to_string())
}

/// The event S3 puts on EventBridge for the same object (the key as it
/// is), in an SQS record as the rule delivers it.
fn from_eventbridge(message_id: &str, bucket: &str, key: &str) -> Value {
    let event = json!({
        "version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created", "source": "aws.s3", "account": "222222222222",
        "time": "2026-11-30T10:05:00Z", "region": "us-east-1",
        "resources": [format!("arn:aws:s3:::{bucket}")],
        "detail": {"version": "0", "bucket": {"name": bucket},
            "object": {"key": key, "size": 1234, "etag": "0123456789abcdef", "version-id": "v1",
                "sequencer": "0055AED6DCD90281E5"},
            "request-id": "R1", "requester": "delivery.logs.amazonaws.com",
            "source-ip-address": "203.0.113.1", "reason": "PutObject"}
    });
    sqs_record(message_id, &event.to_string())
}

#[tokio::test]
async fn notifications_through_sns_or_eventbridge_aggregate_like_a_direct_one() {
    let file = "111122223333_vpcflowlogs_eu-west-1_fl-1_20261130T1005Z_a.log.gz";
    let mut results = Vec::new();
    for route in ["direct", "sns", "eventbridge"] {
        let world = world(route);
        world
            .flow_logs
            .put(BUCKET, &key(file), gzip(&fixture("default-v2.log")));
        let direct = notification("m-1", BUCKET, &key(file));
        let record = match route {
            "sns" => through_sns(&direct, "Notification"),
            "eventbridge" => from_eventbridge("m-1", BUCKET, &key(file)),
            _ => direct,
        };
        let failures = deliver(&world, vec![record]).await;
        assert!(failures.is_empty(), "{route}");
        results.push(archived(&world));
    }
    assert_eq!(results[0].len(), 1);
    assert_eq!(
        results[0], results[1],
        "the same archive object and documents through SNS"
    );
    assert_eq!(
        results[0], results[2],
        "the same archive object and documents through EventBridge"
    );

    // A subscription confirmation is nobody's notification: set aside with
    // its body (its SubscribeURL is for the topic's owner), never followed.
    let world = world("sns-confirmation");
    let confirmation = through_sns(
        &sqs_record("m-confirm", "You have chosen to subscribe to the topic"),
        "SubscriptionConfirmation",
    );
    assert!(deliver(&world, vec![confirmation]).await.is_empty());
    let set_aside = unreadable(&world);
    assert_eq!(set_aside.len(), 1);
    assert_eq!(set_aside[0].message_id, "m-confirm");
    assert!(
        set_aside[0]
            .detail
            .contains("an SNS SubscriptionConfirmation message, not a notification"),
        "{}",
        set_aside[0].detail
    );
    assert!(set_aside[0].body.contains("SubscriptionConfirmation"));
}

#[tokio::test]
async fn a_transient_failure_retries_the_message_and_a_missing_object_is_set_aside() {
    let world = world("transient");
    let file = key("t.log.gz");
    world
        .flow_logs
        .put(BUCKET, &file, gzip(&fixture("default-v2.log")));
    world
        .flow_logs
        .failures
        .lock()
        .unwrap()
        .push_back(CallError::transient(
            "GetObject",
            "SlowDown",
            "Please reduce your request rate.",
        ));
    let failures = deliver(
        &world,
        vec![
            notification("m-1", BUCKET, &file),
            notification("m-gone", BUCKET, &key("gone.log.gz")),
        ],
    )
    .await;
    assert_eq!(failures, ["m-1"]);
    assert!(archived(&world).is_empty());
    let gone = world
        .store
        .objects
        .lock()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("quarantine/reason=flowlog_unreadable/"))
        .count();
    assert_eq!(gone, 1, "a missing object is permanent");
    // SQS delivers it again: it goes through.
    assert!(
        deliver(&world, vec![notification("m-1", BUCKET, &file)])
            .await
            .is_empty()
    );
    assert_eq!(archived(&world).len(), 1);
}

#[tokio::test]
async fn an_index_that_keeps_refusing_retries_the_message() {
    let world = world("refusing");
    let file = key("i.log.gz");
    world
        .flow_logs
        .put(BUCKET, &file, gzip(&fixture("default-v2.log")));
    *world.store.reject_next_items.lock().unwrap() = 1_000;
    assert_eq!(
        deliver(&world, vec![notification("m-1", BUCKET, &file)]).await,
        ["m-1"]
    );
}

#[tokio::test]
async fn re_delivery_rewrites_the_same_object_and_ids() {
    let world = world("redelivery");
    let file = key("r.log.gz");
    world
        .flow_logs
        .put(BUCKET, &file, gzip(&fixture("tcp-flags-v3.log")));
    assert!(
        deliver(&world, vec![notification("m-1", BUCKET, &file)])
            .await
            .is_empty()
    );
    let first = archived(&world);
    let first_bytes = world.store.objects.lock().unwrap()[&first[0].0].clone();
    let first_index = world.store.index("fanin-flows");
    assert!(
        deliver(&world, vec![notification("m-2", BUCKET, &file)])
            .await
            .is_empty()
    );
    let second = archived(&world);
    assert_eq!(second.len(), 1, "the same key");
    assert_eq!(
        world.store.objects.lock().unwrap()[&second[0].0],
        first_bytes
    );
    let second_index = world.store.index("fanin-flows");
    let mut first_ids: Vec<&String> = first_index.keys().collect();
    let mut second_ids: Vec<&String> = second_index.keys().collect();
    first_ids.sort();
    second_ids.sort();
    assert_eq!(first_ids, second_ids);
}
