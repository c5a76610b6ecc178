//! The least-privilege stack as the StackSets deploy it on the local stack:
//! the function, queue, dead-letter queue, role, key and schedule of
//! `central-privileges.yaml` with the environment `privileges/src/config.rs`
//! reads; a CloudTrail object written under `AWSLogs/` of the created trail
//! bucket (organization and per-account layouts) reaches `fanin-cloudtrail`
//! as an S3 event notification (an object outside the filter does not); the
//! host starts the real `fanin-privileges` on that deployment, which keeps
//! running and takes the notification through the played mapping; the
//! function's role may assume the read roles and put privilege records that
//! the central bus passes to the findings queue.
//!
//! Needs `scripts/setup` and `cargo build --workspace --all-targets` (the
//! deployment packages every Lambda binary, `fanin-privileges` included).

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use fanin_devstack::deployment::{self, EXTERNAL_ID, ORGANIZATION_ID};
use fanin_devstack::esm::{MappingStats, peek_queue, s3_records};
use fanin_devstack::privileges_host;
use fanin_devstack::scenario::{
    CENTRAL_ACCOUNT, LocalStack, PRIMARY_REGION, s3_client, sdk_config,
};

use serde_json::{Value, json};

use crate::common::{assert_bus_delivers, assert_read_role_trusts, function_credentials, gzip};

const APPLICATION_ACCOUNT: &str = "111111111111";

/// A CloudTrail log file as CloudTrail delivers it: gzip JSON with one
/// `Records` array (one management event of an assumed-role session here).
fn trail_object() -> Vec<u8> {
    let records = json!({"Records": [{
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLEROLEID0001:deployer",
            "arn": format!("arn:aws:sts::{APPLICATION_ACCOUNT}:assumed-role/app-deployer/deployer"),
            "accountId": APPLICATION_ACCOUNT,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROAEXAMPLEROLEID0001",
                    "arn": format!("arn:aws:iam::{APPLICATION_ACCOUNT}:role/app-deployer"),
                    "accountId": APPLICATION_ACCOUNT,
                    "userName": "app-deployer"
                }
            }
        },
        "eventTime": "2026-11-30T12:00:00Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "ListBuckets",
        "awsRegion": PRIMARY_REGION,
        "sourceIPAddress": "203.0.113.12",
        "userAgent": "aws-cli/2.22.0",
        "requestParameters": null,
        "responseElements": null,
        "eventID": "6f2b9d0e-1c3a-4b5d-8e7f-0a1b2c3d4e5f",
        "readOnly": true,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": APPLICATION_ACCOUNT,
        "eventCategory": "Management"
    }]});
    gzip(records.to_string().as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trail_object_reaches_the_queue_of_the_deployed_privileges_function() {
    let stack = LocalStack::start().await.unwrap();
    let deployed = deployment::deploy(&stack, &[APPLICATION_ACCOUNT], &[PRIMARY_REGION])
        .await
        .unwrap();
    let privileges = &deployed.privileges;

    // What the template created and gave the function, as config.rs reads it.
    let bucket = format!("fanin-trail-{CENTRAL_ACCOUNT}-{PRIMARY_REGION}");
    assert_eq!(privileges.trail_bucket, bucket);
    assert_eq!(privileges.function_name, "fanin-privileges");
    assert_eq!(
        privileges.role_arn,
        format!("arn:aws:iam::{CENTRAL_ACCOUNT}:role/fanin-privileges")
    );
    assert!(
        privileges.queue_url.ends_with("/fanin-cloudtrail"),
        "{}",
        privileges.queue_url
    );
    assert!(
        privileges
            .dlq_url
            .ends_with("/fanin-cloudtrail-dead-letters"),
        "{}",
        privileges.dlq_url
    );
    assert!(
        privileges.key_arn.starts_with(&format!(
            "arn:aws:kms:{PRIMARY_REGION}:{CENTRAL_ACCOUNT}:key/"
        )),
        "{}",
        privileges.key_arn
    );
    let env = &privileges.environment;
    for (variable, expected) in [
        ("FANIN_TRAIL_BUCKET", bucket.as_str()),
        ("FANIN_BUCKET", deployed.central.bucket.as_str()),
        ("FANIN_EVENT_BUS", "fanin-findings"),
        ("FANIN_ROLE_NAME", deployed.central.read_role_name.as_str()),
        ("FANIN_EXTERNAL_ID", EXTERNAL_ID),
        ("FANIN_INDEX_PREFIX", deployed.central.index_prefix.as_str()),
        ("FANIN_CENTRAL_ACCOUNT_ID", CENTRAL_ACCOUNT),
        ("FANIN_PARTITION", "aws"),
        ("FANIN_PRIVILEGES_WINDOW_DAYS", "90"),
        ("FANIN_PRIVILEGES_MIN_DAYS", "7"),
    ] {
        assert_eq!(
            env.get(variable).map(String::as_str),
            Some(expected),
            "{variable}"
        );
    }
    // The endpoint central-primary's collector writes to, passed by
    // fanin-deploy as CentralOpenSearchEndpoint.
    assert_eq!(
        env.get("FANIN_OPENSEARCH_URL"),
        deployed.collector_environment.get("FANIN_OPENSEARCH_URL")
    );
    assert_eq!(privileges.mapping.batch_size, 10);
    assert!(privileges.mapping.report_batch_item_failures);
    assert_eq!(privileges.mapping.max_receive_count, 5);
    assert_eq!(
        privileges
            .triggers
            .get("fanin-privileges-evaluate")
            .map(String::as_str),
        Some("rate(1 day)")
    );
    let input: Value =
        serde_json::from_str(&privileges.trigger_inputs["fanin-privileges-evaluate"])
            .expect("the schedule's input is JSON");
    assert_eq!(input, privileges_host::scheduled_input());

    // Trail objects under AWSLogs/ (organization and per-account layouts)
    // are announced on the queue; an object outside the filter is not.
    let admin = sdk_config(&stack.gateway.aws_url, PRIMARY_REGION, None);
    let s3 = s3_client(&admin);
    let file = format!(
        "{APPLICATION_ACCOUNT}_CloudTrail_{PRIMARY_REGION}_20261130T1205Z_Ab12Cd34Ef56Gh78.json.gz"
    );
    let organization_key = format!(
        "AWSLogs/{ORGANIZATION_ID}/{APPLICATION_ACCOUNT}/CloudTrail/{PRIMARY_REGION}/2026/11/30/{file}"
    );
    let account_key =
        format!("AWSLogs/{APPLICATION_ACCOUNT}/CloudTrail/{PRIMARY_REGION}/2026/11/30/{file}");
    s3.put_object()
        .bucket(&bucket)
        .key(format!(
            "AWSLogs/{ORGANIZATION_ID}/{APPLICATION_ACCOUNT}/CloudTrail/notes.txt"
        ))
        .body(ByteStream::from_static(b"not a trail object"))
        .send()
        .await
        .unwrap();
    for key in [&organization_key, &account_key] {
        s3.put_object()
            .bucket(&bucket)
            .key(key)
            .body(ByteStream::from(trail_object()))
            .send()
            .await
            .unwrap();
    }
    let sqs = aws_sdk_sqs::Client::new(&stack.moto_config(PRIMARY_REGION, None));
    let bodies = peek_queue(&sqs, &privileges.queue_url, 3).await.unwrap();
    let mut records: Vec<_> = bodies.iter().flat_map(|b| s3_records(b)).collect();
    records.sort();
    let mut expected = [
        (
            "ObjectCreated:Put".to_owned(),
            bucket.clone(),
            organization_key.clone(),
        ),
        (
            "ObjectCreated:Put".to_owned(),
            bucket.clone(),
            account_key.clone(),
        ),
    ];
    expected.sort();
    assert_eq!(records, expected, "{bodies:?}");
    // The test event S3 sends when the notification is set is the only
    // other message.
    assert_eq!(bodies.len(), 3, "{bodies:?}");
    assert!(
        bodies.iter().any(|b| b.contains("s3:TestEvent")),
        "{bodies:?}"
    );

    // The host starts the real binary with that environment and the role's
    // credentials; it keeps running and gets the notifications from the
    // played mapping.
    let host = privileges_host::start_privileges(&stack, &deployed)
        .await
        .unwrap();
    assert_eq!(host.function_arn, privileges.function_arn);
    for (variable, value) in env {
        assert_eq!(host.environment.get(variable), Some(value), "{variable}");
    }
    if let Some(status) = host.exit_within(Duration::from_secs(15)).await.unwrap() {
        let log = std::fs::read_to_string(host.log_path().await).unwrap_or_default();
        panic!("fanin-privileges ended at start ({status}): {log}");
    }
    let mut stats = MappingStats::default();
    let answer = host.round(&mut stats).await;
    assert_eq!(stats.invocations, 1, "{answer:?}");
    let mut delivered: Vec<_> = stats
        .delivered
        .values()
        .flat_map(|b| s3_records(b))
        .collect();
    delivered.sort();
    assert_eq!(delivered, expected);

    // The function's role: the read role of an application account trusts
    // it (with the ExternalId), and its privilege records reach the
    // findings queue through the central bus's rule.
    let role = sdk_config(
        &stack.gateway.aws_url,
        PRIMARY_REGION,
        Some(function_credentials(&host.environment, "fanin-privileges")),
    );
    let read_role = format!(
        "arn:aws:iam::{APPLICATION_ACCOUNT}:role/{}",
        deployed.central.read_role_name
    );
    assert_read_role_trusts(&role, &read_role, "fanin-privileges").await;
    let record = json!({
        "record_version": 1,
        "uid": format!("arn:aws:iam::{APPLICATION_ACCOUNT}:role/app-deployer"),
    });
    assert_bus_delivers(
        &role,
        &env["FANIN_EVENT_BUS"],
        &sqs,
        &deployed.central.queue_url,
        "fanin.privileges",
        "IAM Principal Privileges",
        &record,
    )
    .await;
}
