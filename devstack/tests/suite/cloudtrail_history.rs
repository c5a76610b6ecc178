//! CloudTrail's event history on the local stack, read with the official
//! `aws-sdk-cloudtrail` client: a security-group call made through the
//! gateway is found by `LookupEvents` with the matching attribute, time
//! window and account, dated by the clock offset in force when it was made.
//!
//! Starts its own moto; needs `scripts/setup` to have run.

use std::time::{Duration, Instant};

use aws_sdk_cloudtrail::primitives::DateTime as SdkTime;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use aws_sdk_ec2::types::{IpPermission, IpRange};
use fanin_devstack::gateway::{self, GatewayOptions};
use fanin_devstack::procs::MotoServer;
use fanin_devstack::scenario::{admin_credentials, sdk_config};
use serde_json::Value;

const APP: &str = "111111111111";
const REGION: &str = "eu-west-1";

async fn open_port(ec2: &aws_sdk_ec2::Client, group_id: &str, port: i32) {
    ec2.authorize_security_group_ingress()
        .group_id(group_id)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(port)
                .to_port(port)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_events_finds_calls_made_through_the_gateway_dated_by_the_offset() {
    let moto = MotoServer::start()
        .await
        .expect("moto starts (run scripts/setup)");
    let gw = gateway::start(GatewayOptions {
        moto_url: moto.url.clone(),
        opensearch_upstream: None,
    })
    .await
    .unwrap();
    let creds = admin_credentials(&moto.url, APP, "history").await.unwrap();
    let config = sdk_config(&gw.aws_url, REGION, Some(creds.clone()));
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let trail = aws_sdk_cloudtrail::Client::new(&config);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.7.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc_id = vpc.vpc().unwrap().vpc_id().unwrap();
    let group = ec2
        .create_security_group()
        .group_name("history")
        .description("history")
        .vpc_id(vpc_id)
        .send()
        .await
        .unwrap();
    let group_id = group.group_id().unwrap().to_owned();

    // "Twenty days ago" the group was opened on 443, "three days ago" on 8443.
    gw.cloudtrail()
        .set_clock_offset(chrono::Duration::days(-20));
    open_port(&ec2, &group_id, 443).await;
    gw.cloudtrail().set_clock_offset(chrono::Duration::days(-3));
    open_port(&ec2, &group_id, 8443).await;
    gw.cloudtrail().set_clock_offset(chrono::Duration::zero());

    let authorize = LookupAttribute::builder()
        .attribute_key(LookupAttributeKey::EventName)
        .attribute_value("AuthorizeSecurityGroupIngress")
        .build()
        .unwrap();
    let now = chrono::Utc::now();
    // The records are kept once played, just after the answers.
    let deadline = Instant::now() + Duration::from_secs(20);
    let events = loop {
        let answer = trail
            .lookup_events()
            .lookup_attributes(authorize.clone())
            .start_time(SdkTime::from_secs(
                (now - chrono::Duration::days(30)).timestamp(),
            ))
            .end_time(SdkTime::from_secs(now.timestamp()))
            .send()
            .await
            .unwrap();
        if answer.events().len() >= 2 || Instant::now() > deadline {
            break answer.events().to_vec();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(events.len(), 2, "{events:?}");
    // Newest first: the 8443 rule, dated three days ago.
    let ports: Vec<i64> = events
        .iter()
        .map(|e| {
            let record: Value = serde_json::from_str(e.cloud_trail_event().unwrap()).unwrap();
            assert_eq!(record["eventName"], "AuthorizeSecurityGroupIngress");
            assert_eq!(record["recipientAccountId"], APP);
            assert_eq!(record["requestParameters"]["groupId"], group_id.as_str());
            record["requestParameters"]["ipPermissions"]["items"][0]["fromPort"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(ports, [8443, 443]);
    let days_ago = |e: &aws_sdk_cloudtrail::types::Event| {
        (now.timestamp() - e.event_time().unwrap().secs()) / 86_400
    };
    assert_eq!(days_ago(&events[0]), 3);
    assert_eq!(days_ago(&events[1]), 20);
    assert_eq!(events[0].username(), Some("history"));
    assert_eq!(events[0].event_source(), Some("ec2.amazonaws.com"));
    assert_eq!(
        events[0].resources()[0].resource_name(),
        Some(group_id.as_str())
    );

    // A window starting ten days ago holds only the later rule.
    let recent = trail
        .lookup_events()
        .lookup_attributes(authorize.clone())
        .start_time(SdkTime::from_secs(
            (now - chrono::Duration::days(10)).timestamp(),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(recent.events().len(), 1);
    assert_eq!(days_ago(&recent.events()[0]), 3);

    // One event per page, the second page through NextToken.
    let first = trail
        .lookup_events()
        .lookup_attributes(authorize.clone())
        .max_results(1)
        .send()
        .await
        .unwrap();
    assert_eq!(first.events().len(), 1);
    let second = trail
        .lookup_events()
        .lookup_attributes(authorize.clone())
        .max_results(1)
        .set_next_token(first.next_token().map(str::to_owned))
        .send()
        .await
        .unwrap();
    assert_eq!(
        second.events()[0].event_id(),
        events[1].event_id(),
        "the second page starts where the first ended"
    );

    // Another region of the same account, and another account, see nothing.
    let elsewhere =
        aws_sdk_cloudtrail::Client::new(&sdk_config(&gw.aws_url, "us-east-1", Some(creds)));
    let none = elsewhere.lookup_events().send().await.unwrap();
    assert!(none.events().is_empty());
    let other = admin_credentials(&moto.url, "222222222222", "history")
        .await
        .unwrap();
    let other = aws_sdk_cloudtrail::Client::new(&sdk_config(&gw.aws_url, REGION, Some(other)));
    assert!(
        other
            .lookup_events()
            .send()
            .await
            .unwrap()
            .events()
            .is_empty()
    );

    // MaxResults above CloudTrail's 50 is refused as CloudTrail refuses it.
    let refused = trail
        .lookup_events()
        .max_results(51)
        .send()
        .await
        .unwrap_err();
    assert!(format!("{:?}", refused.into_service_error()).contains("InvalidMaxResults"),);
}
