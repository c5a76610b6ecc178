//! The unused-exposure stack as the StackSets deploy it on the local stack:
//! a flow-log object written under `AWSLogs/` of the created bucket reaches
//! `fanin-flow-logs` as an S3 event notification (an object outside the
//! filters does not), and the hosted `fanin-exposure` receives it from the
//! played event-source mapping; the function's role may assume the read
//! roles and put usage records that the central bus passes to the findings
//! queue.
//!
//! The second test follows the object through the function into the
//! archive and the index; it is ignored until the flow-log ingest
//! (`exposure/src/ingest.rs`) lands: the function's skeleton answers every
//! batch with "not built yet".
//!
//! Needs `scripts/setup` and `cargo build --workspace --all-targets` (the
//! deployment packages every Lambda binary, `fanin-exposure` included).

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use fanin_devstack::deployment::{self, EXTERNAL_ID};
use fanin_devstack::esm::{peek_queue, s3_records};
use fanin_devstack::exposure_host;
use fanin_devstack::scenario::{
    CENTRAL_ACCOUNT, LocalStack, PRIMARY_REGION, s3_client, sdk_config,
};

use serde_json::{Value, json};

use crate::common::{assert_bus_delivers, assert_read_role_trusts, function_credentials, gzip};

const APPLICATION_ACCOUNT: &str = "111111111111";

/// A default-format (version 2) flow-log object as VPC Flow Logs writes it
/// to S3: a header line, then one record per line, gzip-compressed.
fn flow_log_object() -> Vec<u8> {
    let text = "\
version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status
2 111111111111 eni-0a1b2c3d4e5f60001 203.0.113.12 10.0.1.5 49152 443 6 10 840 1796040000 1796040060 ACCEPT OK
2 111111111111 eni-0a1b2c3d4e5f60001 198.51.100.7 10.0.1.5 51515 22 6 1 40 1796040000 1796040060 REJECT OK
2 111111111111 eni-0a1b2c3d4e5f60001 10.0.1.5 203.0.113.12 443 49152 6 8 2100 1796040000 1796040060 ACCEPT OK
";
    gzip(text.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_log_object_reaches_the_hosted_function_through_the_deployed_notification() {
    let stack = LocalStack::start().await.unwrap();
    let deployed = deployment::deploy(&stack, &[APPLICATION_ACCOUNT], &[PRIMARY_REGION])
        .await
        .unwrap();
    let exposure = &deployed.exposure;

    // What the template gave the function, as config.rs reads it.
    let bucket = format!("fanin-flow-logs-{CENTRAL_ACCOUNT}-{PRIMARY_REGION}");
    assert_eq!(exposure.flow_log_bucket, bucket);
    assert_eq!(exposure.function_name, "fanin-exposure");
    assert!(
        exposure.queue_url.ends_with("/fanin-flow-logs"),
        "{}",
        exposure.queue_url
    );
    assert!(
        exposure.dlq_url.ends_with("/fanin-flow-logs-dead-letters"),
        "{}",
        exposure.dlq_url
    );
    let env = &exposure.environment;
    for (variable, expected) in [
        ("FANIN_FLOW_LOG_BUCKET", bucket.as_str()),
        ("FANIN_BUCKET", deployed.central.bucket.as_str()),
        ("FANIN_EVENT_BUS", "fanin-findings"),
        ("FANIN_ROLE_NAME", deployed.central.read_role_name.as_str()),
        ("FANIN_EXTERNAL_ID", EXTERNAL_ID),
        ("FANIN_INDEX_PREFIX", deployed.central.index_prefix.as_str()),
        ("FANIN_CENTRAL_ACCOUNT_ID", CENTRAL_ACCOUNT),
        ("FANIN_PARTITION", "aws"),
        ("FANIN_EXPOSURE_WINDOW_DAYS", "14"),
        ("FANIN_EXPOSURE_MIN_HOURS", "24"),
    ] {
        assert_eq!(
            env.get(variable).map(String::as_str),
            Some(expected),
            "{variable}"
        );
    }
    // The endpoint central-primary exports, imported by central-exposure.
    assert_eq!(
        env.get("FANIN_OPENSEARCH_URL"),
        deployed.collector_environment.get("FANIN_OPENSEARCH_URL")
    );
    assert_eq!(exposure.mapping.batch_size, 10);
    assert!(exposure.mapping.report_batch_item_failures);
    assert_eq!(exposure.mapping.max_receive_count, 5);
    assert_eq!(
        exposure
            .triggers
            .get("fanin-exposure-evaluate")
            .map(String::as_str),
        Some("rate(1 day)")
    );
    let input: Value = serde_json::from_str(&exposure.trigger_inputs["fanin-exposure-evaluate"])
        .expect("the schedule's input is JSON");
    assert_eq!(input, exposure_host::scheduled_input());

    // A flow-log object under AWSLogs/ is announced on the queue; an object
    // outside the filters is not.
    let admin = sdk_config(&stack.gateway.aws_url, PRIMARY_REGION, None);
    let s3 = s3_client(&admin);
    let key = format!(
        "AWSLogs/{APPLICATION_ACCOUNT}/vpcflowlogs/{PRIMARY_REGION}/2026/11/30/{APPLICATION_ACCOUNT}_vpcflowlogs_{PRIMARY_REGION}_fl-0123456789abcdef0_20261130T1200Z_5f0c1a2b.log.gz"
    );
    s3.put_object()
        .bucket(&bucket)
        .key(format!(
            "AWSLogs/{APPLICATION_ACCOUNT}/vpcflowlogs/notes.txt"
        ))
        .body(ByteStream::from_static(b"not a flow log"))
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket(&bucket)
        .key(&key)
        .body(ByteStream::from(flow_log_object()))
        .send()
        .await
        .unwrap();
    // The Parquet format's objects (Hive-compatible prefixes here) too.
    let parquet_key = format!(
        "AWSLogs/aws-account-id={APPLICATION_ACCOUNT}/aws-service=vpcflowlogs/aws-region={PRIMARY_REGION}/year=2026/month=11/day=30/{APPLICATION_ACCOUNT}_vpcflowlogs_{PRIMARY_REGION}_fl-0123456789abcdef0_20261130T1200Z_5f0c1a2b.log.parquet"
    );
    s3.put_object()
        .bucket(&bucket)
        .key(&parquet_key)
        .body(ByteStream::from_static(b"PAR1"))
        .send()
        .await
        .unwrap();
    let sqs = aws_sdk_sqs::Client::new(&stack.moto_config(PRIMARY_REGION, None));
    let bodies = peek_queue(&sqs, &exposure.queue_url, 3).await.unwrap();
    let mut records: Vec<_> = bodies.iter().flat_map(|b| s3_records(b)).collect();
    records.sort();
    let mut expected = [
        ("ObjectCreated:Put".to_owned(), bucket.clone(), key.clone()),
        (
            "ObjectCreated:Put".to_owned(),
            bucket.clone(),
            parquet_key.clone(),
        ),
    ];
    expected.sort();
    assert_eq!(records, expected, "{bodies:?}");
    // The test event S3 sends when the notifications are set is the only
    // other message.
    assert_eq!(bodies.len(), 3, "{bodies:?}");
    assert!(
        bodies.iter().any(|b| b.contains("s3:TestEvent")),
        "{bodies:?}"
    );

    // The hosted function gets the notification from the played mapping.
    let host = exposure_host::start_exposure(&stack, &deployed)
        .await
        .unwrap();
    let mut stats = fanin_devstack::esm::MappingStats::default();
    let delivered = host.round(&mut stats).await;
    assert_eq!(stats.invocations, 1);
    let mut delivered_records: Vec<_> = stats
        .delivered
        .values()
        .flat_map(|b| s3_records(b))
        .collect();
    delivered_records.sort();
    assert_eq!(delivered_records, expected);
    // What the function did with it depends on the ingest (exposure/src/
    // ingest.rs), asserted by the exposure's own end-to-end tests; here it
    // is only reported.
    eprintln!("fanin-exposure answered the batch: {delivered:?}");

    // The function's role: the read role of an application account trusts
    // it (with the ExternalId), and its usage records reach the findings
    // queue through the central bus's rule.
    let role = sdk_config(
        &stack.gateway.aws_url,
        PRIMARY_REGION,
        Some(function_credentials(&host.environment, "fanin-exposure")),
    );
    let read_role = format!(
        "arn:aws:iam::{APPLICATION_ACCOUNT}:role/{}",
        deployed.central.read_role_name
    );
    assert_read_role_trusts(&role, &read_role, "fanin-exposure").await;
    let record = json!({"record_version": 1, "uid": format!("{APPLICATION_ACCOUNT}/{PRIMARY_REGION}/sg-0123456789abcdef0/sgr-0123456789abcdef0")});
    assert_bus_delivers(
        &role,
        &env["FANIN_EVENT_BUS"],
        &sqs,
        &deployed.central.queue_url,
        "fanin.exposure",
        "Security Group Rule Usage",
        &record,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hosted_function_aggregates_a_notified_object_into_the_archive_and_the_index() {
    let stack = LocalStack::start().await.unwrap();
    let deployed = deployment::deploy(&stack, &[APPLICATION_ACCOUNT], &[PRIMARY_REGION])
        .await
        .unwrap();
    let exposure = &deployed.exposure;
    let admin = sdk_config(&stack.gateway.aws_url, PRIMARY_REGION, None);
    let s3 = s3_client(&admin);
    let key = format!(
        "AWSLogs/{APPLICATION_ACCOUNT}/vpcflowlogs/{PRIMARY_REGION}/2026/11/30/{APPLICATION_ACCOUNT}_vpcflowlogs_{PRIMARY_REGION}_fl-0123456789abcdef0_20261130T1200Z_5f0c1a2b.log.gz"
    );
    s3.put_object()
        .bucket(&exposure.flow_log_bucket)
        .key(&key)
        .body(ByteStream::from(flow_log_object()))
        .send()
        .await
        .unwrap();

    let host = exposure_host::start_exposure(&stack, &deployed)
        .await
        .unwrap();
    let stats = host.drain(Duration::from_secs(120)).await.unwrap();
    // The object's notification and S3's test event, both acknowledged.
    assert_eq!(stats.messages_delivered, 2, "{stats:?}");
    assert_eq!(stats.failures_reported, 0, "{stats:?}");
    let dead = aws_sdk_sqs::Client::new(&stack.moto_config(PRIMARY_REGION, None))
        .get_queue_attributes()
        .queue_url(&exposure.dlq_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    assert_eq!(
        dead.attributes()
            .and_then(
                |a| a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            )
            .map(String::as_str),
        Some("0")
    );

    // One archive object in the object's partition, named from the source
    // object's identity (the name itself: the ingest tests).
    let partition = format!(
        "flow-aggregates/region={PRIMARY_REGION}/accountId={APPLICATION_ACCOUNT}/eventDay=20261130/"
    );
    let listed = s3
        .list_objects_v2()
        .bucket(&deployed.central.bucket)
        .prefix("flow-aggregates/")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let aggregate_key = keys[0].to_owned();
    let object_id = aggregate_key
        .strip_prefix(&partition)
        .and_then(|name| name.strip_suffix(".json.gz"))
        .unwrap_or_else(|| panic!("{aggregate_key} is not in {partition}"));
    assert!(
        object_id.len() == 32 && object_id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{aggregate_key}"
    );
    let object = s3
        .get_object()
        .bucket(&deployed.central.bucket)
        .key(&aggregate_key)
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&object[..]), &mut text)
        .unwrap();
    let docs: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(!docs.is_empty());
    assert!(docs.iter().all(|d| d["id"].is_string()), "{text}");

    // The same documents in <prefix>-flows, by id.
    let index = format!("{}-flows", deployed.central.index_prefix);
    let http = reqwest::Client::new();
    http.post(format!("{}/{index}/_refresh", stack.opensearch_url()))
        .send()
        .await
        .unwrap();
    let count: Value = http
        .get(format!("{}/{index}/_count", stack.opensearch_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(count["count"], docs.len(), "{count}");
}
