//! Alarm flooding: any AWS account can subscribe its Inspector Classic
//! templates to the central topic. Its notifications are acknowledged and
//! counted (one `outside notification acknowledged` line each, what the
//! OutsideNotifications metric filter counts), never set aside or alarmed;
//! a member account without its read role is still set aside.

use fanin_devstack::scenario::{self, LocalStack};
use serde_json::json;

const MEMBER: &str = "111111111111";
const MEMBER_WITHOUT_ROLE: &str = "888888888888";
const OUTSIDER: &str = "777777777777";
const REGION: &str = "us-east-1";

fn classic_notification(topic_arn: &str, account: &str) -> String {
    let prefix =
        format!("arn:aws:inspector:{REGION}:{account}:target/0-aaaa1111/template/0-bbbb2222");
    json!({
        "Type": "Notification",
        "MessageId": format!("00000000-0000-4000-8000-{account}"),
        "TopicArn": topic_arn,
        "Message": json!({
            "template": prefix,
            "run": format!("{prefix}/run/0-cccc3333"),
            "time": "2026-01-01T00:00:00.000Z",
            "event": "FINDING_REPORTED",
            "finding": format!("{prefix}/run/0-cccc3333/finding/0-dddd4444"),
            "target": format!("arn:aws:inspector:{REGION}:{account}:target/0-aaaa1111"),
        })
        .to_string(),
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_from_outside_the_organization_are_counted_not_set_aside() {
    let stack = LocalStack::start().await.unwrap();
    let deployed = fanin_devstack::deployment::deploy(&stack, &[MEMBER], &[REGION])
        .await
        .unwrap();
    let central = deployed.central.clone();
    // The organization's accounts, as the coverage check writes them.
    let list = json!({
        "generated_at": "2026-11-30T00:00:00Z",
        "organization_id": "o-fanin0000",
        "accounts": [
            {"id": MEMBER, "status": "ACTIVE"},
            {"id": MEMBER_WITHOUT_ROLE, "status": "ACTIVE"},
        ],
    });
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&stack.moto_config(REGION, None))
            .force_path_style(true)
            .build(),
    )
    .put_object()
    .bucket(&central.bucket)
    .key(fanin::directory::ACCOUNT_LIST_KEY)
    .body(list.to_string().into_bytes().into())
    .send()
    .await
    .unwrap();

    let topic = &central.topic_arns[REGION];
    scenario::send_raw(
        &stack,
        &central,
        &[
            classic_notification(topic, OUTSIDER),
            classic_notification(topic, OUTSIDER).replace("dddd4444", "eeee5555"),
            classic_notification(topic, MEMBER_WITHOUT_ROLE),
        ],
    )
    .await
    .unwrap();
    let mut collector = scenario::start_collector(&stack, &deployed).await.unwrap();
    let stats = crate::mapping(&stack, &deployed)
        .await
        .drain(&mut collector, scenario::DRAIN_LIMIT)
        .await
        .unwrap();
    assert_eq!(stats.messages_deleted, 3, "every message acknowledged");

    let set_aside = scenario::quarantined(&stack, &central).await.unwrap();
    let reasons: Vec<&str> = set_aside
        .iter()
        .map(|(_, o)| o["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        ["role_unavailable"],
        "only the member is set aside"
    );
    assert!(
        set_aside[0].1["body"]
            .as_str()
            .unwrap()
            .contains(MEMBER_WITHOUT_ROLE)
    );

    let log = std::fs::read_to_string(&collector.log_path).unwrap();
    let counted = log
        .lines()
        .filter(|l| l.contains("\"message\":\"outside notification acknowledged\""))
        .count();
    let alarmed = log
        .lines()
        .filter(|l| l.contains("\"message\":\"message quarantined\""))
        .count();
    assert_eq!((counted, alarmed), (2, 1), "{log}");
    assert_eq!(scenario::dlq_depth(&stack, &central).await.unwrap(), 0);
}
