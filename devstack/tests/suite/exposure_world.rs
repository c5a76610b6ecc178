//! The unused-exposure world on the local stack: its rules exist in EC2
//! with the ids it expects verdicts for, its flow-log objects are in the
//! bucket, and CloudTrail's history dates the late rule three days ago and
//! the baseline before the window.
//!
//! Then how a log-archive bucket's objects reach the queue when its
//! notifications go elsewhere: through an SNS topic, and through
//! EventBridge (each test with a moto of its own).
//!
//! Starts its own moto and osmem-server; needs `scripts/setup` to have run.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_cloudtrail::primitives::DateTime as SdkTime;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use fanin::objects::{S3Notification, decode_s3_notification, url_decode};
use fanin_devstack::exposure_world;
use fanin_devstack::scenario::{LocalStack, s3_client, sdk_config};
use serde_json::Value;

const ACCOUNT: &str = "111111111111";
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
const BUCKET: &str = "fanin-flow-logs-123456789012-us-east-1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_world_has_its_rules_flow_logs_and_history() {
    let stack = LocalStack::start().await.unwrap();
    let now = chrono::Utc::now();
    let world = exposure_world::build(&stack, ACCOUNT, &REGIONS, BUCKET, now, 11)
        .await
        .unwrap();

    let mut states: BTreeMap<&str, usize> = BTreeMap::new();
    for rule in &world.expected {
        *states.entry(rule.state).or_default() += 1;
    }
    assert_eq!(
        states,
        BTreeMap::from([("unused", 4), ("used", 8), ("used_internally", 2)]),
        "{:#?}",
        world.expected
    );
    assert_eq!(world.malformed_lines, 1);
    assert_eq!(world.instances.len(), 4);
    let web = &world.instances[0];
    assert_eq!(web.group_ids.len(), 3, "several groups per interface");

    // Every expected rule is a rule of EC2, open to the internet, on a group
    // attached to the interfaces it names.
    let credentials = stack.account_credentials(ACCOUNT).await.unwrap();
    for region in REGIONS {
        let ec2 = aws_sdk_ec2::Client::new(&stack.moto_config(region, Some(credentials.clone())));
        let described = ec2.describe_security_group_rules().send().await.unwrap();
        for rule in world.expected.iter().filter(|r| r.region == region) {
            let found = described
                .security_group_rules()
                .iter()
                .find(|r| r.security_group_rule_id() == Some(rule.rule_id.as_str()))
                .unwrap_or_else(|| panic!("{} not in EC2", rule.rule_id));
            assert_eq!(found.group_id(), Some(rule.group_id.as_str()));
            assert_eq!(found.from_port(), Some(rule.from_port));
            assert!(
                found.cidr_ipv4() == Some(rule.cidr.as_str())
                    || found.cidr_ipv6() == Some(rule.cidr.as_str())
            );
            assert!(!rule.interfaces.is_empty());
        }
        let interfaces = ec2.describe_network_interfaces().send().await.unwrap();
        for instance in world.instances.iter().filter(|i| i.region == region) {
            let interface = interfaces
                .network_interfaces()
                .iter()
                .find(|i| i.network_interface_id() == Some(instance.interface_id.as_str()))
                .expect("the interface is described");
            let groups: BTreeSet<&str> = interface
                .groups()
                .iter()
                .filter_map(|g| g.group_id())
                .collect();
            let wanted: BTreeSet<&str> = instance.group_ids.iter().map(String::as_str).collect();
            assert_eq!(groups, wanted);
        }
    }

    // The flow-log objects: text in the first region, Parquet in the second.
    let s3 = s3_client(&stack.moto_config("us-east-1", None));
    let listed: BTreeSet<String> = s3
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix(format!("AWSLogs/{ACCOUNT}/vpcflowlogs/"))
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    let written: BTreeSet<String> = world.objects.iter().cloned().collect();
    assert_eq!(listed, written);
    assert!(
        written
            .iter()
            .any(|k| k.contains("/us-east-1/") && k.ends_with(".log.gz"))
    );
    assert!(
        written
            .iter()
            .any(|k| k.contains("/eu-west-1/") && k.ends_with(".log.parquet"))
    );

    // CloudTrail: from the window's start, only the late rule's authorization.
    for region in REGIONS {
        let trail = aws_sdk_cloudtrail::Client::new(&sdk_config(
            &stack.gateway.aws_url,
            region,
            Some(credentials.clone()),
        ));
        let events = trail
            .lookup_events()
            .lookup_attributes(
                LookupAttribute::builder()
                    .attribute_key(LookupAttributeKey::EventName)
                    .attribute_value("AuthorizeSecurityGroupIngress")
                    .build()
                    .unwrap(),
            )
            .start_time(SdkTime::from_secs(world.window_start.timestamp()))
            .send()
            .await
            .unwrap();
        assert_eq!(events.events().len(), 1, "{region}: {:?}", events.events());
        let record: Value =
            serde_json::from_str(events.events()[0].cloud_trail_event().unwrap()).unwrap();
        let late = world
            .expected
            .iter()
            .find(|r| r.region == region && r.from_port == 9443)
            .unwrap();
        assert_eq!(
            record["requestParameters"]["groupId"],
            late.group_id.as_str()
        );
        assert_eq!(
            record["responseElements"]["securityGroupRuleSet"]["items"][0]["securityGroupRuleId"],
            late.rule_id.as_str()
        );
        let days_ago = (now.timestamp() - events.events()[0].event_time().unwrap().secs()) / 86_400;
        assert_eq!(days_ago, 3);
        let all = trail
            .lookup_events()
            .lookup_attributes(
                LookupAttribute::builder()
                    .attribute_key(LookupAttributeKey::EventName)
                    .attribute_value("AuthorizeSecurityGroupIngress")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            all.events().len(),
            7,
            "{region}: six baseline rules and the late one"
        );
    }
}

/// A moto of the test's own with `bucket` in it: the server, its
/// configuration, its S3 and SQS clients.
async fn moto_with_bucket(
    bucket: &str,
) -> (
    fanin_devstack::procs::ChildServer,
    aws_config::SdkConfig,
    aws_sdk_s3::Client,
    aws_sdk_sqs::Client,
) {
    let moto = fanin_devstack::procs::MotoServer::start()
        .await
        .expect("moto starts (run scripts/setup)");
    let config = sdk_config(&moto.url, "us-east-1", None);
    let s3 = s3_client(&config);
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    let sqs = aws_sdk_sqs::Client::new(&config);
    (moto, config, s3, sqs)
}

/// A queue's URL, made.
async fn queue(sqs: &aws_sdk_sqs::Client, name: &str) -> String {
    let made = sqs.create_queue().queue_name(name).send().await.unwrap();
    made.queue_url().unwrap().to_owned()
}

/// An object whose creation is the point (its body is never read here).
async fn put_placeholder(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) {
    let body = b"not read here".to_vec().into();
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(body)
        .send()
        .await
        .unwrap();
}

/// The bodies the queue receives: polled until `least` came (five seconds
/// at most), then once more after a pause, so that one too many shows.
async fn bodies(sqs: &aws_sdk_sqs::Client, url: &str, least: usize) -> Vec<String> {
    async fn receive(sqs: &aws_sdk_sqs::Client, url: &str, into: &mut Vec<String>) {
        let received = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        into.extend(
            received
                .messages()
                .iter()
                .filter_map(|m| m.body().map(str::to_owned)),
        );
    }
    let mut bodies = Vec::new();
    for _ in 0..50 {
        receive(sqs, url, &mut bodies).await;
        if bodies.len() >= least {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    receive(sqs, url, &mut bodies).await;
    bodies
}

/// A log-archive bucket that already notifies an SNS topic (another
/// consumer takes its notifications) reaches fanin's queue through a
/// subscription: with raw message delivery (as `central-exposure.yaml` and
/// `central-privileges.yaml` subscribe) the queue holds S3's notification,
/// without it SNS's envelope; moto's S3 and SNS write both, and fanin reads
/// the same object from each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_that_notifies_a_topic_reaches_the_queue_through_a_subscription() {
    let bucket = "log-archive-flow-logs";
    let (_moto, config, s3, sqs) = moto_with_bucket(bucket).await;
    let sns = aws_sdk_sns::Client::new(&config);
    let topic = sns
        .create_topic()
        .name("log-archive-objects")
        .send()
        .await
        .unwrap();
    let topic_arn = topic.topic_arn().unwrap();
    let mut queues = Vec::new();
    for raw in [true, false] {
        let name = format!("fanin-flow-logs-raw-{raw}");
        let url = queue(&sqs, &name).await;
        sns.subscribe()
            .topic_arn(topic_arn)
            .protocol("sqs")
            .endpoint(format!("arn:aws:sqs:us-east-1:123456789012:{name}"))
            .attributes("RawMessageDelivery", raw.to_string())
            .send()
            .await
            .unwrap();
        queues.push((raw, url));
    }
    s3.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(
            aws_sdk_s3::types::NotificationConfiguration::builder()
                .topic_configurations(
                    aws_sdk_s3::types::TopicConfiguration::builder()
                        .topic_arn(topic_arn)
                        .events(aws_sdk_s3::types::Event::S3ObjectCreated)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    // The Hive-compatible layout: `=` in every partition.
    let key = "AWSLogs/aws-account-id=111111111111/aws-service=vpcflowlogs/aws-region=eu-west-1/year=2026/month=11/day=30/111111111111_vpcflowlogs_eu-west-1_fl-1_20261130T1005Z_a.log.gz";
    put_placeholder(&s3, bucket, key).await;

    for (raw, url) in &queues {
        // S3's test event (sent when the notification is configured), then
        // the object's.
        let bodies = bodies(&sqs, url, 2).await;
        assert_eq!(bodies.len(), 2, "raw delivery {raw}: {bodies:?}");
        let mut objects = Vec::new();
        for body in &bodies {
            let value: Value = serde_json::from_str(body).unwrap();
            assert_eq!(value.get("TopicArn").is_some(), !raw, "{body}");
            match decode_s3_notification(body) {
                Ok(S3Notification::Test) => {}
                Ok(S3Notification::Records(records)) => objects.extend(records),
                Err(why) => panic!("raw delivery {raw}: {why}: {body}"),
            }
        }
        assert_eq!(objects.len(), 1, "raw delivery {raw}");
        assert_eq!(objects[0].s3.bucket.name.as_deref(), Some(bucket));
        let sent_key = objects[0].s3.object.key.as_deref().unwrap();
        assert_eq!(
            url_decode(sent_key).as_deref(),
            Some(key),
            "raw delivery {raw}"
        );
    }
}

/// A bucket that sends its events to EventBridge reaches the queue through
/// a rule like the one `FlowLogEventBridge` creates (the bucket's name,
/// keys under `AWSLogs/`), and fanin reads moto's event as the object's
/// notification; an object outside the pattern sends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_that_sends_events_to_eventbridge_reaches_the_queue_through_a_rule() {
    let bucket = "log-archive-with-eventbridge";
    let (_moto, config, s3, sqs) = moto_with_bucket(bucket).await;
    let events = aws_sdk_eventbridge::Client::new(&config);
    let url = queue(&sqs, "fanin-flow-logs").await;
    let pattern = serde_json::json!({
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [bucket]},
            "object": {"key": [{"wildcard": "*AWSLogs/*.log.gz"}, {"wildcard": "*AWSLogs/*.parquet"}]}}
    });
    events
        .put_rule()
        .name("fanin-flow-log-objects")
        .event_pattern(pattern.to_string())
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule("fanin-flow-log-objects")
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn("arn:aws:sqs:us-east-1:123456789012:fanin-flow-logs")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    s3.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(
            aws_sdk_s3::types::NotificationConfiguration::builder()
                .event_bridge_configuration(
                    aws_sdk_s3::types::EventBridgeConfiguration::builder().build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let key = "AWSLogs/111111111111/vpcflowlogs/eu-west-1/2026/11/30/111111111111_vpcflowlogs_eu-west-1_fl-1_20261130T1005Z_a.log.gz";
    for written in [key, "AWSLogs/111111111111/elsewhere/notes.txt"] {
        put_placeholder(&s3, bucket, written).await;
    }

    let bodies = bodies(&sqs, &url, 1).await;
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let Ok(S3Notification::Records(records)) = decode_s3_notification(&bodies[0]) else {
        panic!("{}", bodies[0]);
    };
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].s3.bucket.name.as_deref(), Some(bucket));
    assert!(
        records[0]
            .event_name
            .as_deref()
            .is_some_and(|name| name.starts_with("ObjectCreated:")),
        "{records:?}"
    );
    let sent = records[0].s3.object.key.as_deref().unwrap();
    assert_eq!(url_decode(sent).as_deref(), Some(key));
}
