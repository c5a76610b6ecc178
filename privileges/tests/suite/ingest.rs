//! The ingest handler in process, on in-memory ports: what a user would
//! check is the archive object, the index documents and the quarantine.

use std::io::{Read, Write};
use std::sync::Arc;

use fanin::fakes::InMemory;
use fanin::objects::InMemoryObjects;
use fanin::ports::CallError;
use fanin::privileges::usage::{Mapping, UsageDoc};
use fanin_privileges::ingest::{self, Ingest, IngestSettings};
use serde_json::{Value, json};

const BUCKET: &str = "fanin-trail-222222222222-us-east-1";
const ACCOUNT: &str = "123456789012";

struct World {
    ingest: Ingest,
    trail: Arc<InMemoryObjects>,
    store: Arc<InMemory>,
}

fn world() -> World {
    let trail = Arc::new(InMemoryObjects {
        chunk_size: 101,
        ..Default::default()
    });
    let store = Arc::new(InMemory::default());
    let ingest = Ingest {
        objects: trail.clone(),
        archive: store.clone(),
        search: store.clone(),
        is_action: Arc::new(|action: &str| {
            [
                "ec2:StartInstances",
                "iam:CreateUser",
                "s3:ListBucket",
                "sqs:SendMessage",
            ]
            .contains(&action)
        }),
        usage_template: Default::default(),
        settings: IngestSettings {
            trail_bucket: BUCKET.into(),
            index_prefix: "fanin".into(),
            bulk_max_bytes: 1 << 20,
        },
    };
    World {
        ingest,
        trail,
        store,
    }
}

fn key(kind: &str) -> String {
    format!(
        "org/AWSLogs/o-exampleorgid/{ACCOUNT}/{kind}/us-east-2/2014/03/06/{ACCOUNT}_CloudTrail_us-east-2_20140306T2125Z_Mu0KsOhtH1ar15ZZ.json.gz"
    )
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn fixture() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/cloudtrail/user-guide-records.json"
    ))
    .unwrap()
}

fn notification(message_id: &str, bucket: &str, key: &str) -> Value {
    let body = json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2014-03-06T21:30:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AROAEXAMPLE:cloudtrail"},
        "requestParameters": {"sourceIPAddress": "203.0.113.1"},
        "responseElements": {"x-amz-request-id": "R1", "x-amz-id-2": "H1"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "trail",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "A1"}, "arn": format!("arn:aws:s3:::{bucket}")},
            "object": {"key": key, "size": 1234, "eTag": "0123456789abcdef", "versionId": "v1", "sequencer": "0055AED6DCD90281E5"}}
    }]});
    sqs_record(message_id, &body.to_string())
}

/// `body` in an SQS record as the event-source mapping hands it over.
fn sqs_record(message_id: &str, body: &str) -> Value {
    json!({"messageId": message_id, "receiptHandle": "r", "body": body,
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
        "md5OfBody": "x", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:222222222222:fanin-cloudtrail", "awsRegion": "us-east-1"})
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

fn objects_under(world: &World, prefix: &str) -> Vec<(String, Vec<u8>)> {
    let mut found: Vec<(String, Vec<u8>)> = world
        .store
        .objects
        .lock()
        .unwrap()
        .iter()
        .filter(|(key, _)| key.starts_with(prefix))
        .map(|(key, body)| (key.clone(), body.clone()))
        .collect();
    found.sort();
    found
}

fn archived(world: &World) -> Vec<(String, Vec<UsageDoc>)> {
    objects_under(world, "iam-usage/")
        .into_iter()
        .map(|(key, body)| {
            let mut text = String::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_string(&mut text)
                .unwrap();
            (
                key,
                text.lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_trail_object_becomes_one_archive_object_and_its_index_documents() {
    let world = world();
    world
        .trail
        .put(BUCKET, &key("CloudTrail"), gzip(&fixture()));
    let failures = deliver(
        &world,
        vec![notification("m-1", BUCKET, &key("CloudTrail"))],
    )
    .await;
    assert!(failures.is_empty());
    let archived = archived(&world);
    assert_eq!(archived.len(), 1);
    let (archive_key, documents) = &archived[0];
    let object_id = fanin::objects::object_id(
        BUCKET,
        &key("CloudTrail"),
        Some("v1"),
        Some("0123456789abcdef"),
    );
    assert_eq!(
        archive_key,
        &format!("iam-usage/accountId={ACCOUNT}/eventDay=20140306/{object_id}.json.gz")
    );
    let summary: Vec<(&str, &str, Mapping, u64, u64)> = documents
        .iter()
        .map(|d| {
            (
                d.principal_arn.as_str(),
                d.action.as_str(),
                d.mapping,
                d.count,
                d.denied,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "arn:aws:iam::123456789012:role/RoleToBeAssumed",
                "s3:ListBucket",
                Mapping::Mapped,
                1,
                0
            ),
            (
                "arn:aws:iam::123456789012:user/Alice",
                "ec2:StartInstances",
                Mapping::Derived,
                1,
                0
            ),
            (
                "arn:aws:iam::123456789012:user/Alice",
                "iam:CreateUser",
                Mapping::Derived,
                1,
                1
            ),
            (
                "arn:aws:sts::123456789012:federated-user/Bob",
                "sqs:SendMessage",
                Mapping::Mapped,
                1,
                0
            ),
        ]
    );
    assert!(documents.iter().all(|d| d.object_id == object_id
        && d.recipient_account == ACCOUNT
        && d.region == "us-east-2"
        && d.day == "2014-03-06"));
    let index = world.store.index("fanin-iam-usage");
    assert_eq!(index.len(), documents.len());
    for document in documents {
        assert_eq!(
            index[&document.id].source,
            serde_json::to_value(document).unwrap()
        );
    }
    assert!(
        world
            .store
            .templates
            .lock()
            .unwrap()
            .contains_key("fanin-iam-usage")
    );
    // Delivered again: the same object and ids, nothing added.
    deliver(
        &world,
        vec![notification("m-2", BUCKET, &key("CloudTrail"))],
    )
    .await;
    assert_eq!(world.store.index("fanin-iam-usage").len(), documents.len());
    assert_eq!(objects_under(&world, "iam-usage/").len(), 1);
}

#[tokio::test]
async fn malformed_records_are_listed_with_their_index_and_the_rest_is_read() {
    let world = world();
    let object = br#"{"Records":[
        {"eventTime":"2014-03-06T21:22:54Z","eventSource":"ec2.amazonaws.com","eventName":"StartInstances","recipientAccountId":"123456789012","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/Alice"}},
        {"eventTime":"yesterday","eventSource":"ec2.amazonaws.com","eventName":"StartInstances"},
        {"eventSource":42}
    ]}"#;
    world.trail.put(BUCKET, &key("CloudTrail"), gzip(object));
    assert!(
        deliver(
            &world,
            vec![notification("m-1", BUCKET, &key("CloudTrail"))]
        )
        .await
        .is_empty()
    );
    assert_eq!(archived(&world)[0].1.len(), 1);
    let quarantined = objects_under(
        &world,
        "quarantine/reason=cloudtrail_malformed/eventDay=20140306/",
    );
    assert_eq!(quarantined.len(), 1);
    let listing: Value = serde_json::from_slice(&quarantined[0].1).unwrap();
    assert_eq!(listing["reason"], "cloudtrail_malformed");
    assert_eq!(listing["malformed_records"], 2);
    assert_eq!(listing["records"][0]["index"], 1);
    assert_eq!(listing["records"][0]["reason"], "bad_time");
    assert_eq!(listing["records"][1]["index"], 2);
    assert_eq!(listing["records"][1]["reason"], "missing_field");
    assert_eq!(world.store.index("fanin-quarantine").len(), 1);
}

#[tokio::test]
async fn foreign_buckets_and_broken_objects_are_set_aside_digests_skipped_outages_retried() {
    let world = world();
    world.trail.put(
        BUCKET,
        &key("CloudTrail"),
        gzip(b"{\"Records\":[{\"eventName\""),
    );
    let failures = deliver(
        &world,
        vec![
            notification("foreign", "someone-elses-bucket", &key("CloudTrail")),
            notification("broken", BUCKET, &key("CloudTrail")),
            notification("digest", BUCKET, &key("CloudTrail-Digest")),
        ],
    )
    .await;
    assert!(failures.is_empty());
    let set_aside = objects_under(&world, "quarantine/reason=cloudtrail_unreadable/");
    assert_eq!(set_aside.len(), 2);
    let details: Vec<String> = set_aside
        .iter()
        .map(|(_, body)| {
            serde_json::from_slice::<Value>(body).unwrap()["detail"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(
        details.iter().any(|d| d.contains("another bucket")),
        "{details:?}"
    );
    assert!(
        details
            .iter()
            .any(|d| d.contains("not a CloudTrail log object")),
        "{details:?}"
    );
    assert!(objects_under(&world, "iam-usage/").is_empty());

    world
        .trail
        .failures
        .lock()
        .unwrap()
        .push_back(CallError::transient("GetObject", "SlowDown", "slow down"));
    world
        .trail
        .put(BUCKET, &key("CloudTrail"), gzip(&fixture()));
    let failures = deliver(
        &world,
        vec![notification("slow", BUCKET, &key("CloudTrail"))],
    )
    .await;
    assert_eq!(failures, ["slow"]);
    assert!(
        deliver(
            &world,
            vec![notification("slow", BUCKET, &key("CloudTrail"))]
        )
        .await
        .is_empty()
    );
    assert_eq!(objects_under(&world, "iam-usage/").len(), 1);
}

/// The devstack's generator writes what the ingest reads back: a session
/// folded into its role, a denied call, a name that differs from its
/// action, a call through a service not counted.
#[tokio::test]
async fn the_devstack_trail_generator_is_read_back_by_the_ingest() {
    use fanin_devstack::trails::{TrailCall, TrailPrincipal, trail_objects};
    let world = world();
    let at = |hour: u32| {
        chrono::NaiveDate::from_ymd_opt(2014, 3, 6)
            .unwrap()
            .and_hms_opt(hour, 0, 0)
            .unwrap()
            .and_utc()
    };
    let session = |name: &str| TrailPrincipal::Session {
        account: ACCOUNT.into(),
        role: "team/app".into(),
        session: name.into(),
    };
    let call = |principal: TrailPrincipal,
                source: &str,
                name: &str,
                error: Option<&str>,
                hour,
                via: Option<&str>| TrailCall {
        principal,
        event_source: source.into(),
        event_name: name.into(),
        error_code: error.map(str::to_owned),
        time: at(hour),
        invoked_by: via.map(str::to_owned),
    };
    let calls = [
        call(
            session("a"),
            "s3.amazonaws.com",
            "ListObjectsV2",
            None,
            1,
            None,
        ),
        call(
            session("b"),
            "s3.amazonaws.com",
            "ListObjects",
            None,
            2,
            None,
        ),
        call(
            session("b"),
            "iam.amazonaws.com",
            "CreateUser",
            Some("AccessDenied"),
            3,
            None,
        ),
        call(
            session("c"),
            "s3.amazonaws.com",
            "ListObjects",
            None,
            4,
            Some("cloudformation.amazonaws.com"),
        ),
    ];
    let objects = trail_objects("o-exampleorgid", "us-east-2", &calls);
    assert_eq!(objects.len(), 1);
    let (key, body) = &objects[0];
    world.trail.put(BUCKET, key, body.clone());
    assert!(
        deliver(&world, vec![notification("m-1", BUCKET, key)])
            .await
            .is_empty()
    );
    let documents = &archived(&world)[0].1;
    let summary: Vec<(&str, &str, u64, u64, i64, i64)> = documents
        .iter()
        .map(|d| {
            (
                d.principal_arn.as_str(),
                d.action.as_str(),
                d.count,
                d.denied,
                d.first_seen,
                d.last_seen,
            )
        })
        .collect();
    let role = "arn:aws:iam::123456789012:role/team/app";
    assert_eq!(
        summary,
        [
            (
                role,
                "iam:CreateUser",
                1,
                1,
                at(3).timestamp(),
                at(3).timestamp()
            ),
            (
                role,
                "s3:ListBucket",
                2,
                0,
                at(1).timestamp(),
                at(2).timestamp()
            ),
        ]
    );
    assert_eq!(documents[1].event_names, ["ListObjects", "ListObjectsV2"]);
}

/// A trail that publishes its deliveries to its own SNS topic: the queue
/// subscribed to it (with or without raw delivery) reads each delivered
/// object as the S3 notification would name it, and the usage is the same.
#[tokio::test]
async fn a_trails_own_delivery_notification_reads_like_the_buckets() {
    fn usage(world: &World) -> Vec<(String, String, u64)> {
        let archived = archived(world);
        assert_eq!(archived.len(), 1);
        let mut usage: Vec<(String, String, u64)> = archived[0]
            .1
            .iter()
            .map(|d| (d.principal_arn.clone(), d.action.clone(), d.count))
            .collect();
        usage.sort();
        usage
    }
    let direct = world();
    direct
        .trail
        .put(BUCKET, &key("CloudTrail"), gzip(&fixture()));
    let notified = vec![notification("m-1", BUCKET, &key("CloudTrail"))];
    assert!(deliver(&direct, notified).await.is_empty());

    let message = json!({"s3Bucket": BUCKET, "s3ObjectKey": [key("CloudTrail")]}).to_string();
    let envelope = json!({
        "Type": "Notification", "MessageId": "5b6f1e3c-0000-4000-8000-000000000002",
        "TopicArn": "arn:aws:sns:us-east-1:222222222222:org-trail-deliveries",
        "Message": message, "Timestamp": "2014-03-06T21:30:01.000Z",
        "SignatureVersion": "1", "Signature": "c2lnbmF0dXJl",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe"
    })
    .to_string();
    for body in [message, envelope] {
        let through_topic = world();
        through_topic
            .trail
            .put(BUCKET, &key("CloudTrail"), gzip(&fixture()));
        let record = sqs_record("m-2", &body);
        assert!(deliver(&through_topic, vec![record]).await.is_empty());
        assert_eq!(usage(&through_topic), usage(&direct), "{body}");
    }
}
