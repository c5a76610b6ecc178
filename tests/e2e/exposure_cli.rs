//! `fanin exposure process` on the local stack, run as the operator runs it
//! (central credentials, no places on the command line): the flow-log
//! bucket and queue come from the exposure stack's outputs; the objects of
//! the asked days, accounts and regions, in both key layouts, each become
//! one S3 notification on the queue, and nothing else does.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use fanin_devstack::flowlogs::{Action, Flow, FlowLog, Format, Layout, put_objects};
use fanin_devstack::scenario::{LocalStack, PRIMARY_REGION};
use serde_json::Value;

const APP_A: &str = "111111111111";
const APP_B: &str = "222222222222";
const OTHER_REGION: &str = "eu-west-1";

/// The exposure StackSet's instance as fanin-deploy names it, with the two
/// outputs the command reads (the bucket versioned, as the real one is).
const STACK: &str = r#"{
  "Resources": {
    "FlowLogBucket": {"Type": "AWS::S3::Bucket", "Properties": {
      "BucketName": "fanin-flow-logs-123456789012-us-east-1",
      "VersioningConfiguration": {"Status": "Enabled"}}},
    "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "fanin-flow-logs"}}
  },
  "Outputs": {
    "FlowLogBucketName": {"Value": {"Ref": "FlowLogBucket"}},
    "FlowLogQueueUrl": {"Value": {"Ref": "Queue"}}
  }
}"#;

fn day_flows(log: &mut FlowLog, day: u32) {
    let at = Utc.with_ymd_and_hms(2026, 11, day, 9, 0, 0).unwrap();
    log.flows.push(Flow::inbound_tcp(
        "eni-0a1b2c3d4e5f60001",
        "203.0.113.10".parse().unwrap(),
        40_001,
        "10.0.0.10".parse().unwrap(),
        443,
        Action::Accept,
        at,
        4,
    ));
    // A second hour: a second object that day.
    log.flows.push(Flow::inbound_tcp(
        "eni-0a1b2c3d4e5f60001",
        "198.51.100.3".parse().unwrap(),
        40_002,
        "10.0.0.10".parse().unwrap(),
        22,
        Action::Reject,
        at + chrono::Duration::hours(2),
        1,
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn process_queues_one_notification_per_object_of_the_asked_days() {
    let stack = LocalStack::start().await.unwrap();
    let central = stack.moto_config(PRIMARY_REGION, None);
    let cloudformation = aws_sdk_cloudformation::Client::new(&central);
    cloudformation
        .create_stack()
        .stack_name(format!(
            "StackSet-fanin-central-exposure-{}",
            "7c1d2b8e-3f4a-4e55-9a51-0d7d1c6e2f10"
        ))
        .template_body(STACK)
        .send()
        .await
        .unwrap();
    let bucket = "fanin-flow-logs-123456789012-us-east-1";
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&central)
            .force_path_style(true)
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::new(&central);
    let queue_url = sqs
        .get_queue_url()
        .queue_name("fanin-flow-logs")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();

    // Days 18 to 21 in three flow logs: A in us-east-1 (default text), A in
    // eu-west-1 (Parquet, Hive layout with hour folders), B in us-east-1.
    let mut written = Vec::new();
    let mut logs = vec![
        FlowLog::new(
            APP_A,
            PRIMARY_REGION,
            "fl-0a0000000000000a1",
            Format::DefaultText,
        ),
        FlowLog::new(APP_A, OTHER_REGION, "fl-0a0000000000000a2", Format::Parquet),
        FlowLog::new(
            APP_B,
            PRIMARY_REGION,
            "fl-0b0000000000000b1",
            Format::CustomV5Text,
        ),
    ];
    logs[1].layout = Layout::Hive;
    logs[1].hourly_partitions = true;
    for log in &mut logs {
        for day in 18..=21 {
            day_flows(log, day);
        }
        let objects = log.objects().unwrap();
        put_objects(&s3, bucket, &objects).await.unwrap();
        written.extend(
            objects
                .into_iter()
                .map(|o| (log.account.clone(), log.region.clone(), o)),
        );
    }
    assert_eq!(written.len(), 3 * 4 * 2);
    // Not a flow-log file: never notified.
    s3.put_object()
        .bucket(bucket)
        .key("AWSLogs/111111111111/vpcflowlogs/us-east-1/2026/11/19/README.txt")
        .body(b"not a flow log".to_vec().into())
        .send()
        .await
        .unwrap();

    let output = fanin_devstack::operator::fanin(
        &stack,
        &[
            "exposure",
            "process",
            "--from",
            "2026-11-19",
            "--to",
            "2026-11-20",
            "--account",
            APP_A,
        ],
    )
    .await
    .unwrap();
    // Days 19 and 20 of account A, both regions: 2 logs x 2 days x 2 hours.
    let expected: BTreeSet<String> = written
        .iter()
        .filter(|(account, _, o)| {
            account == APP_A && (19..=20).contains(&chrono::Datelike::day(&o.hour))
        })
        .map(|(_, _, o)| o.key.clone())
        .collect();
    assert_eq!(expected.len(), 8);
    assert!(
        output.contains("queued 8 notifications for 8 flow-log objects"),
        "{output}"
    );

    let bodies = drain(&sqs, &queue_url).await;
    assert_eq!(bodies.len(), 8, "one message per object");
    let mut notified = BTreeSet::new();
    for body in &bodies {
        let records = body["Records"].as_array().unwrap();
        assert_eq!(records.len(), 1, "one record per message: {body}");
        let record = &records[0];
        assert_eq!(record["eventSource"], "aws:s3");
        assert_eq!(record["eventName"], "ObjectCreated:Put");
        assert_eq!(record["s3"]["bucket"]["name"], bucket);
        assert_eq!(
            record["s3"]["bucket"]["arn"],
            format!("arn:aws:s3:::{bucket}")
        );
        let encoded = record["s3"]["object"]["key"].as_str().unwrap();
        let key: String = form_urlencoded::parse(format!("k={encoded}").as_bytes())
            .next()
            .unwrap()
            .1
            .into_owned();
        let head = s3
            .head_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            record["s3"]["object"]["versionId"].as_str(),
            head.version_id(),
            "the version S3 would notify"
        );
        assert_eq!(
            record["s3"]["object"]["size"].as_i64(),
            head.content_length()
        );
        notified.insert(key);
    }
    assert_eq!(notified, expected);

    // Every account and one region, no flags but the days: account B's two
    // objects of day 21 and account A's two in us-east-1.
    let output = fanin_devstack::operator::fanin(
        &stack,
        &[
            "exposure",
            "process",
            "--from",
            "2026-11-21",
            "--to",
            "2026-11-21",
            "--region",
            PRIMARY_REGION,
        ],
    )
    .await
    .unwrap();
    assert!(
        output.contains("queued 4 notifications for 4 flow-log objects"),
        "{output}"
    );
    let keys: BTreeSet<String> = drain(&sqs, &queue_url)
        .await
        .iter()
        .map(|b| {
            b["Records"][0]["s3"]["object"]["key"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(keys.len(), 4);
    assert!(
        keys.iter().all(|k| k.contains("/us-east-1/2026/11/21/")),
        "{keys:?}"
    );

    // An account id that cannot name a key is refused before any call.
    let refused = fanin_devstack::operator::command(
        &stack,
        &[
            "exposure",
            "process",
            "--from",
            "2026-11-21",
            "--to",
            "2026-11-21",
            "--account",
            "../x",
        ],
    )
    .output()
    .await
    .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--account"));
}

/// Every message on the queue (received and deleted), as JSON.
async fn drain(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Vec<Value> {
    let mut bodies = Vec::new();
    let mut empty = 0;
    while empty < 2 {
        let answer = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        if answer.messages().is_empty() {
            empty += 1;
            continue;
        }
        for message in answer.messages() {
            bodies.push(serde_json::from_str(message.body().unwrap()).unwrap());
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(message.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bodies
}

/// The installed flows template on a real cluster: an aggregate document
/// with epoch-second hours and HyperLogLog registers is indexed, filtered by
/// hour and aggregated by port and interface as the dashboards ask; the
/// registers stay out of the mapping.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flows_index_takes_aggregates_as_installed() {
    use fanin::config::SearchAuth;
    use fanin::search::install::{self, Change, IsmSettings};
    use fanin::search::opensearch::OpenSearchIndexer;
    use serde_json::json;

    let osmem = fanin_devstack::procs::OsmemServer::start().await.unwrap();
    let url = url::Url::parse(&osmem.url).unwrap();
    let indexer = OpenSearchIndexer::new(&url, &SearchAuth::None, None, None).unwrap();
    let report = install::install(&indexer, "acme", &IsmSettings::default())
        .await
        .unwrap();
    assert!(
        report
            .items
            .iter()
            .any(|i| i.name == "acme-flows" && i.change == Change::Created),
        "{report}"
    );
    let http = reqwest::Client::new();
    let hour = 1_795_000_000 / 3600 * 3600;
    for (id, port, interface) in [("a", 443, "eni-1"), ("b", 22, "eni-1"), ("c", 443, "eni-2")] {
        http.put(format!("{}/acme-flows/_doc/{id}", osmem.url))
            .json(&json!({
                "id": id, "account_id": "111111111111", "region": "us-east-1",
                "interface_id": interface, "direction": "ingress", "initiator": "remote",
                "protocol": 6, "dst_port": port, "action": "ACCEPT", "source_class": "internet",
                "ip_version": 4, "hour": hour, "first_seen": hour + 5, "last_seen": hour + 55,
                "packets": 10, "bytes": 600, "flows": 1, "distinct_sources": 1,
                "top_sources": [{"address": "203.0.113.7", "count": 1}],
                "hll": "AAECAwQFBgc=",
            }))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
    }
    http.post(format!("{}/acme-flows/_refresh", osmem.url))
        .send()
        .await
        .unwrap();
    let answer = fanin_tests::search(
        &osmem.url,
        "acme-flows*",
        &json!({
            "size": 0,
            "query": {"bool": {"filter": [{"range": {"hour": {"gte": hour, "lte": hour, "format": "epoch_second"}}}]}},
            "aggs": {
                "ports": {"terms": {"field": "dst_port"}},
                "interfaces": {"terms": {"field": "interface_id"}},
            },
        }),
    )
    .await;
    assert_eq!(answer["hits"]["total"]["value"], 3, "{answer}");
    let buckets = |name: &str| -> Vec<(String, u64)> {
        answer["aggregations"][name]["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["key"].to_string().trim_matches('"').to_owned(),
                    b["doc_count"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(
        buckets("ports"),
        [("443".to_owned(), 2), ("22".to_owned(), 1)]
    );
    assert_eq!(
        buckets("interfaces"),
        [("eni-1".to_owned(), 2), ("eni-2".to_owned(), 1)]
    );
    let mapping: serde_json::Value = http
        .get(format!("{}/acme-flows/_mapping", osmem.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let properties = &mapping["acme-flows"]["mappings"]["properties"];
    assert_eq!(properties["hour"]["type"], "date", "{mapping}");
    assert!(properties.get("hll").is_none(), "{mapping}");
}
