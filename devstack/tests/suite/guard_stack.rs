//! The local stack's CloudTrail and AWS Config for the security-group guard,
//! checked with the official Rust SDK clients against real moto: EC2 calls
//! through the gateway become CloudTrail events delivered to the Lambda
//! targets of matching EventBridge rules (here a recording HTTP listener
//! registered under a Lambda ARN), and the Config stand-in keeps the
//! evaluations a rule function reports.
//!
//! Each test starts its own moto; they need `scripts/setup` to have run.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::{AppName, BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, Ipv6Range, PrefixListId, SecurityGroupRuleRequest,
    SecurityGroupRuleUpdate, UserIdGroupPair,
};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use fanin_devstack::cloudtrail::PlayedEvent;
use fanin_devstack::gateway::{self, GatewayHandle, GatewayOptions};
use fanin_devstack::procs::{ChildServer, MotoServer};
use fanin_devstack::scenario::{admin_credentials, assume_role};
use serde_json::{Value, json};

const APP_A: &str = "111111111111";
const APP_B: &str = "222222222222";
const OPERATOR_ROLE: &str = "sg-admin";

/// The rule the guard's StackSet deploys (the issue 10 contract).
fn contract_pattern() -> Value {
    json!({
        "source": ["aws.ec2"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {
            "eventSource": ["ec2.amazonaws.com"],
            "eventName": ["AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress",
                          "ModifySecurityGroupRules", "RevokeSecurityGroupIngress",
                          "RevokeSecurityGroupEgress", "CreateSecurityGroup"],
        },
    })
}

fn guard_arn(account: &str, region: &str) -> String {
    format!("arn:aws:lambda:{region}:{account}:function:fanin-guard")
}

async fn config(endpoint: &str, region: &str, creds: Credentials) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(creds)
        .app_name(AppName::new("sg-operator").unwrap())
        .load()
        .await
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn moto_and_gateway() -> (ChildServer, GatewayHandle) {
    let moto = MotoServer::start()
        .await
        .expect("moto starts (run scripts/setup)");
    let gw = gateway::start(GatewayOptions {
        moto_url: moto.url.clone(),
        opensearch_upstream: None,
    })
    .await
    .expect("gateway starts");
    (moto, gw)
}

/// An administrator of `account` (moto directly), then an operator session
/// of role `sg-admin` named `alice` assumed through the gateway.
async fn operator(moto: &str, gw: &GatewayHandle, account: &str) -> (Credentials, Credentials) {
    let admin = admin_credentials(moto, account, "setup").await.unwrap();
    let iam = aws_sdk_iam::Client::new(&config(moto, "us-east-1", admin.clone()).await);
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{account}:root")}, "Action": "sts:AssumeRole"}]});
    iam.create_role()
        .role_name(OPERATOR_ROLE)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap();
    let sts = aws_sdk_sts::Client::new(&config(&gw.aws_url, "us-east-1", admin.clone()).await);
    let alice = assume_role(
        &sts,
        &format!("arn:aws:iam::{account}:role/{OPERATOR_ROLE}"),
        "alice",
        "alice",
    )
    .await
    .unwrap();
    (admin, alice)
}

/// The guard's rule in `account`/`region`, targeting `target_arn`.
async fn guard_rule(moto: &str, admin: &Credentials, region: &str, target_arn: &str) {
    let events = aws_sdk_eventbridge::Client::new(&config(moto, region, admin.clone()).await);
    events
        .put_rule()
        .name("fanin-guard-security-group-changes")
        .event_pattern(contract_pattern().to_string())
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule("fanin-guard-security-group-changes")
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("guard")
                .arn(target_arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    // A rule for other events, whose target must never be invoked.
    events
        .put_rule()
        .name("other-events")
        .event_pattern(json!({"source": ["fanin.guard"]}).to_string())
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule("other-events")
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("other")
                .arn(target_arn.replace("fanin-guard", "other"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// A local function that records what it is sent and fails its first
/// `failures` invocations.
#[derive(Clone, Default)]
struct Recorder {
    received: Arc<Mutex<Vec<Value>>>,
    failures: Arc<Mutex<u32>>,
}

impl Recorder {
    async fn start(gw: &GatewayHandle, arns: &[String], failures: u32) -> Self {
        let recorder = Recorder::default();
        *recorder.failures.lock().unwrap() = failures;
        let app = axum::Router::new()
            .fallback(
                |State(r): State<Recorder>, axum::Json(event): axum::Json<Value>| async move {
                    r.received.lock().unwrap().push(event);
                    let mut failures = r.failures.lock().unwrap();
                    if *failures > 0 {
                        *failures -= 1;
                        return (
                            StatusCode::INTERNAL_SERVER_ERROR,
                            axum::Json(json!({"errorType": "Injected", "errorMessage": "first attempt fails"})),
                        )
                            .into_response();
                    }
                    axum::Json(json!({"kind": "recorded"})).into_response()
                },
            )
            .with_state(recorder.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let url = format!(
            "http://{}/2015-03-31/functions/_/invocations",
            listener.local_addr().unwrap()
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        for arn in arns {
            gw.lambda_targets().register(arn, &url);
        }
        recorder
    }

    fn received(&self) -> Vec<Value> {
        self.received.lock().unwrap().clone()
    }
}

/// Waits until every played event is done and `count` of them are; answers them.
async fn played(gw: &GatewayHandle, count: usize) -> Vec<PlayedEvent> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let events = gw.cloudtrail().played();
        if events.len() >= count && events.iter().all(|e| e.done) {
            return events;
        }
        assert!(
            Instant::now() < deadline,
            "expected {count} played events, have {events:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn by_name<'a>(events: &'a [PlayedEvent], account: &str, name: &str) -> Vec<&'a PlayedEvent> {
    events
        .iter()
        .filter(|e| e.event["account"] == account && e.event["detail"]["eventName"] == name)
        .collect()
}

#[tokio::test]
async fn security_group_calls_become_cloudtrail_events_delivered_to_the_guard_rule() {
    let (moto, gw) = moto_and_gateway().await;
    let (admin_a, alice_a) = operator(&moto.url, &gw, APP_A).await;
    let (admin_b, alice_b) = operator(&moto.url, &gw, APP_B).await;
    guard_rule(
        &moto.url,
        &admin_a,
        "us-east-1",
        &guard_arn(APP_A, "us-east-1"),
    )
    .await;
    guard_rule(
        &moto.url,
        &admin_b,
        "eu-west-1",
        &guard_arn(APP_B, "eu-west-1"),
    )
    .await;
    let guard_a = Recorder::start(&gw, &[guard_arn(APP_A, "us-east-1")], 0).await;
    // B's guard fails its first invocation: the event is delivered again.
    let guard_b = Recorder::start(&gw, &[guard_arn(APP_B, "eu-west-1")], 1).await;
    let other = Recorder::start(
        &gw,
        &[
            guard_arn(APP_A, "us-east-1").replace("fanin-guard", "other"),
            guard_arn(APP_B, "eu-west-1").replace("fanin-guard", "other"),
        ],
        0,
    )
    .await;

    // Setup as the administrator at moto: nothing is recorded.
    let ec2_admin =
        aws_sdk_ec2::Client::new(&config(&moto.url, "us-east-1", admin_a.clone()).await);
    let vpc = ec2_admin
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc_id = vpc.vpc().unwrap().vpc_id().unwrap().to_owned();
    let peer = ec2_admin
        .create_security_group()
        .group_name("peer")
        .description("peer")
        .vpc_id(&vpc_id)
        .send()
        .await
        .unwrap();
    let peer_id = peer.group_id().unwrap().to_owned();
    let prefix_list = ec2_admin
        .create_managed_prefix_list()
        .prefix_list_name("offices")
        .address_family("IPv4")
        .max_entries(5)
        .send()
        .await
        .unwrap();
    let prefix_list_id = prefix_list
        .prefix_list()
        .unwrap()
        .prefix_list_id()
        .unwrap()
        .to_owned();
    assert!(gw.cloudtrail().played().is_empty());

    // The operator's calls through the gateway.
    let ec2 = aws_sdk_ec2::Client::new(&config(&gw.aws_url, "us-east-1", alice_a.clone()).await);
    let web = ec2
        .create_security_group()
        .group_name("web")
        .description("web tier")
        .vpc_id(&vpc_id)
        .send()
        .await
        .unwrap();
    let web_id = web.group_id().unwrap().to_owned();
    let authorized = ec2
        .authorize_security_group_ingress()
        .group_id(&web_id)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(443)
                .to_port(443)
                .ip_ranges(
                    IpRange::builder()
                        .cidr_ip("0.0.0.0/0")
                        .description("web")
                        .build(),
                )
                .ipv6_ranges(Ipv6Range::builder().cidr_ipv6("::/0").build())
                .build(),
        )
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(8000)
                .to_port(8100)
                .prefix_list_ids(
                    PrefixListId::builder()
                        .prefix_list_id(&prefix_list_id)
                        .build(),
                )
                .build(),
        )
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("-1")
                .user_id_group_pairs(
                    UserIdGroupPair::builder()
                        .group_id(&peer_id)
                        .user_id(APP_A)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    // moto answers only the last permission's rules; CloudTrail has them all.
    assert!(!authorized.security_group_rules().is_empty());

    let events = played(&gw, 2).await;
    let created = by_name(&events, APP_A, "CreateSecurityGroup");
    assert_eq!(created.len(), 1);
    assert_eq!(
        created[0].event["detail"]["requestParameters"],
        json!({"groupName": "web", "groupDescription": "web tier", "vpcId": vpc_id})
    );
    assert_eq!(
        created[0].event["detail"]["responseElements"]["groupId"],
        web_id
    );

    let authorize = by_name(&events, APP_A, "AuthorizeSecurityGroupIngress");
    assert_eq!(authorize.len(), 1);
    let event = &authorize[0].event;
    assert_eq!(event["source"], "aws.ec2");
    assert_eq!(event["detail-type"], "AWS API Call via CloudTrail");
    assert_eq!(event["region"], "us-east-1");
    let detail = &event["detail"];
    assert_eq!(detail["eventSource"], "ec2.amazonaws.com");
    assert_eq!(detail["recipientAccountId"], APP_A);
    assert_eq!(detail["readOnly"], false);
    assert_eq!(detail["managementEvent"], true);
    assert!(
        detail["userAgent"]
            .as_str()
            .unwrap()
            .contains("app/sg-operator"),
        "{detail}"
    );
    assert!(detail.get("errorCode").is_none());
    assert_eq!(detail["requestID"], detail["responseElements"]["requestId"]);
    assert_eq!(detail["requestID"].as_str().unwrap().len(), 36, "a UUID");
    let identity = &detail["userIdentity"];
    assert_eq!(identity["type"], "AssumedRole");
    assert_eq!(
        identity["arn"],
        format!("arn:aws:sts::{APP_A}:assumed-role/{OPERATOR_ROLE}/alice")
    );
    assert_eq!(identity["accountId"], APP_A);
    assert_eq!(identity["accessKeyId"], alice_a.access_key_id());
    assert!(
        identity["principalId"]
            .as_str()
            .unwrap()
            .ends_with(":alice"),
        "{identity}"
    );
    let issuer = &identity["sessionContext"]["sessionIssuer"];
    assert_eq!(issuer["type"], "Role");
    assert_eq!(
        issuer["arn"],
        format!("arn:aws:iam::{APP_A}:role/{OPERATOR_ROLE}")
    );
    assert_eq!(issuer["userName"], OPERATOR_ROLE);
    assert_eq!(issuer["accountId"], APP_A);
    assert!(identity["sessionContext"]["attributes"]["creationDate"].is_string());

    assert_eq!(detail["requestParameters"]["groupId"], web_id);
    let items = detail["requestParameters"]["ipPermissions"]["items"]
        .as_array()
        .unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["fromPort"], 443);
    assert_eq!(
        items[0]["ipRanges"]["items"],
        json!([{"cidrIp": "0.0.0.0/0", "description": "web"}])
    );
    assert_eq!(
        items[0]["ipv6Ranges"]["items"],
        json!([{"cidrIpv6": "::/0"}])
    );
    assert_eq!(items[1]["toPort"], 8100);
    assert_eq!(
        items[1]["prefixListIds"]["items"],
        json!([{"prefixListId": prefix_list_id}])
    );
    assert_eq!(items[2]["ipProtocol"], "-1");
    assert_eq!(
        items[2]["groups"]["items"],
        json!([{"groupId": peer_id, "userId": APP_A}])
    );

    let described = ec2_admin
        .describe_security_group_rules()
        .filters(Filter::builder().name("group-id").values(&web_id).build())
        .send()
        .await
        .unwrap();
    let ingress: BTreeSet<String> = described
        .security_group_rules()
        .iter()
        .filter(|r| r.is_egress() == Some(false))
        .map(|r| r.security_group_rule_id().unwrap().to_owned())
        .collect();
    let rule_set = detail["responseElements"]["securityGroupRuleSet"]["items"]
        .as_array()
        .unwrap();
    let recorded: BTreeSet<String> = rule_set
        .iter()
        .map(|r| r["securityGroupRuleId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(recorded.len(), 4, "one rule per source: {rule_set:#?}");
    assert_eq!(recorded, ingress);
    let ipv6 = rule_set.iter().find(|r| r["cidrIpv6"] == "::/0").unwrap();
    assert_eq!(
        (
            &ipv6["groupId"],
            &ipv6["groupOwnerId"],
            &ipv6["isEgress"],
            &ipv6["ipProtocol"],
            &ipv6["fromPort"]
        ),
        (
            &json!(web_id),
            &json!(APP_A),
            &json!(false),
            &json!("tcp"),
            &json!(443)
        )
    );
    let referenced = rule_set
        .iter()
        .find(|r| r["referencedGroupInfo"].is_object())
        .unwrap();
    assert_eq!(referenced["referencedGroupInfo"]["groupId"], peer_id);
    assert!(
        rule_set
            .iter()
            .any(|r| r["prefixListId"] == prefix_list_id.as_str())
    );

    // Delivered once to the guard's target, never to the other rule's.
    assert_eq!(authorize[0].deliveries.len(), 1);
    let delivery = &authorize[0].deliveries[0];
    assert_eq!(
        (delivery.outcome.as_str(), delivery.attempts),
        ("delivered", 1)
    );
    assert_eq!(delivery.target_arn, guard_arn(APP_A, "us-east-1"));
    assert_eq!(delivery.rule, "fanin-guard-security-group-changes");
    assert_eq!(delivery.answer, Some(json!({"kind": "recorded"})));
    let received = guard_a.received();
    assert_eq!(received.len(), 2);
    assert!(
        received
            .iter()
            .any(|r| r["detail"]["eventID"] == detail["eventID"])
    );

    // A description change.
    let ipv4_rule = rule_set
        .iter()
        .find(|r| r["cidrIpv4"] == "0.0.0.0/0")
        .unwrap();
    let ipv4_rule_id = ipv4_rule["securityGroupRuleId"].as_str().unwrap();
    ec2.modify_security_group_rules()
        .group_id(&web_id)
        .security_group_rules(
            SecurityGroupRuleUpdate::builder()
                .security_group_rule_id(ipv4_rule_id)
                .security_group_rule(
                    SecurityGroupRuleRequest::builder()
                        .ip_protocol("tcp")
                        .from_port(443)
                        .to_port(443)
                        .cidr_ipv4("0.0.0.0/0")
                        .description("public web")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    // An egress rule.
    let egress = ec2
        .authorize_security_group_egress()
        .group_id(&web_id)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(5432)
                .to_port(5432)
                .ip_ranges(IpRange::builder().cidr_ip("10.0.0.0/8").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let egress_rule = egress.security_group_rules()[0]
        .security_group_rule_id()
        .unwrap()
        .to_owned();
    // A failed call is recorded too.
    let failed = ec2
        .authorize_security_group_ingress()
        .group_id("sg-0000000000000dead")
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .ip_ranges(IpRange::builder().cidr_ip("10.0.0.0/8").build())
                .build(),
        )
        .send()
        .await;
    assert!(failed.is_err());

    // Account B, another region, with a guard that fails once.
    let (ec2_b_admin, ec2_b) = (
        aws_sdk_ec2::Client::new(&config(&moto.url, "eu-west-1", admin_b.clone()).await),
        aws_sdk_ec2::Client::new(&config(&gw.aws_url, "eu-west-1", alice_b.clone()).await),
    );
    let vpc_b = ec2_b_admin
        .create_vpc()
        .cidr_block("10.1.0.0/16")
        .send()
        .await
        .unwrap();
    let group_b = ec2_b_admin
        .create_security_group()
        .group_name("db")
        .description("db")
        .vpc_id(vpc_b.vpc().unwrap().vpc_id().unwrap())
        .send()
        .await
        .unwrap();
    ec2_b
        .authorize_security_group_ingress()
        .group_id(group_b.group_id().unwrap())
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(5432)
                .to_port(5432)
                .ipv6_ranges(Ipv6Range::builder().cidr_ipv6("2001:db8::/32").build())
                .build(),
        )
        .send()
        .await
        .unwrap();

    let events = played(&gw, 6).await;
    let modify = by_name(&events, APP_A, "ModifySecurityGroupRules");
    assert_eq!(modify.len(), 1);
    let request =
        &modify[0].event["detail"]["requestParameters"]["ModifySecurityGroupRulesRequest"];
    assert_eq!(request["GroupId"], web_id);
    assert_eq!(
        request["SecurityGroupRule"]["SecurityGroupRuleId"],
        ipv4_rule_id
    );
    assert_eq!(
        request["SecurityGroupRule"]["SecurityGroupRule"]["Description"],
        "public web"
    );
    assert_eq!(
        request["SecurityGroupRule"]["SecurityGroupRule"]["FromPort"],
        443
    );
    assert_eq!(modify[0].deliveries[0].outcome, "delivered");

    let egress = by_name(&events, APP_A, "AuthorizeSecurityGroupEgress");
    assert_eq!(egress.len(), 1);
    assert_eq!(
        egress[0].event["detail"]["responseElements"]["securityGroupRuleSet"]["items"],
        json!([{"groupOwnerId": APP_A, "groupId": web_id, "securityGroupRuleId": egress_rule,
                "isEgress": true, "ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432,
                "cidrIpv4": "10.0.0.0/8"}]),
        "only the new egress rule, not the default allow-all"
    );
    let failures: Vec<_> = by_name(&events, APP_A, "AuthorizeSecurityGroupIngress")
        .into_iter()
        .filter(|e| e.event["detail"].get("errorCode").is_some())
        .collect();
    assert_eq!(failures.len(), 1);
    let failure = &failures[0].event["detail"];
    assert_eq!(failure["errorCode"], "Client.InvalidGroup.NotFound");
    assert!(
        failure["errorMessage"]
            .as_str()
            .unwrap()
            .contains("sg-0000000000000dead")
    );
    assert_eq!(failure["responseElements"], Value::Null);
    assert_eq!(
        failure["requestParameters"]["groupId"],
        "sg-0000000000000dead"
    );
    assert_eq!(failures[0].deliveries[0].outcome, "delivered");

    let in_b = by_name(&events, APP_B, "AuthorizeSecurityGroupIngress");
    assert_eq!(in_b.len(), 1);
    assert_eq!(in_b[0].event["region"], "eu-west-1");
    assert_eq!(
        in_b[0].event["detail"]["userIdentity"]["arn"],
        format!("arn:aws:sts::{APP_B}:assumed-role/{OPERATOR_ROLE}/alice")
    );
    let delivery = &in_b[0].deliveries[0];
    assert_eq!(
        (delivery.outcome.as_str(), delivery.attempts),
        ("delivered", 2)
    );
    assert_eq!(delivery.target_arn, guard_arn(APP_B, "eu-west-1"));
    assert_eq!(
        guard_b.received().len(),
        2,
        "the failed attempt and the retry"
    );
    assert!(guard_b.received().iter().all(|e| e["account"] == APP_B));
    assert_eq!(
        guard_a.received().len(),
        5,
        "A's create, authorize, modify, egress and failed call"
    );
    assert!(
        other.received().is_empty(),
        "no event matches the other rule"
    );

    // The admin endpoint shows the same, and resets.
    let listed: Value = http()
        .get(format!("{}/_devstack/cloudtrail", gw.aws_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["events"].as_array().unwrap().len(), 6);
    http()
        .post(format!("{}/_devstack/cloudtrail/reset", gw.aws_url))
        .send()
        .await
        .unwrap();
    assert!(gw.cloudtrail().played().is_empty());
}

/// An AWS JSON 1.1 call to the gateway's Config endpoint.
async fn config_call(
    gw: &GatewayHandle,
    creds: &Credentials,
    region: &str,
    operation: &str,
    body: Value,
) -> (u16, Value) {
    let date = chrono::Utc::now().format("%Y%m%d");
    let response = http()
        .post(format!("{}/", gw.aws_url))
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={}/{date}/{region}/config/aws4_request, SignedHeaders=host, Signature=0",
                creds.access_key_id()
            ),
        )
        .header("x-amz-target", format!("StarlingDoveService.{operation}"))
        .header("content-type", "application/x-amz-json-1.1")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn config_rule_player_and_evaluations() {
    let (moto, gw) = moto_and_gateway().await;
    let (admin, alice) = operator(&moto.url, &gw, APP_A).await;
    let guard = Recorder::start(&gw, &[guard_arn(APP_A, "us-east-1")], 0).await;
    let ec2 = aws_sdk_ec2::Client::new(&config(&moto.url, "us-east-1", admin.clone()).await);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .unwrap();
    let group = ec2
        .create_security_group()
        .group_name("web")
        .description("web tier")
        .vpc_id(vpc.vpc().unwrap().vpc_id().unwrap())
        .tag_specifications(
            aws_sdk_ec2::types::TagSpecification::builder()
                .resource_type(aws_sdk_ec2::types::ResourceType::SecurityGroup)
                .tags(
                    aws_sdk_ec2::types::Tag::builder()
                        .key("tier")
                        .value("web")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let group_id = group.group_id().unwrap().to_owned();
    ec2.authorize_security_group_ingress()
        .group_id(&group_id)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .ipv6_ranges(Ipv6Range::builder().cidr_ipv6("::/0").build())
                .build(),
        )
        .send()
        .await
        .unwrap();

    // A configuration change, played to the registered function.
    let answer = gw
        .config()
        .evaluate_change(APP_A, "us-east-1", &group_id)
        .await
        .unwrap();
    assert_eq!(answer, json!({"kind": "recorded"}));
    let received = guard.received();
    assert_eq!(received.len(), 1);
    let invocation = &received[0];
    assert_eq!(invocation["configRuleName"], "fanin-security-groups");
    assert_eq!(invocation["accountId"], APP_A);
    assert_eq!(invocation["eventLeftScope"], false);
    let invoking: Value =
        serde_json::from_str(invocation["invokingEvent"].as_str().unwrap()).unwrap();
    assert_eq!(
        invoking["messageType"],
        "ConfigurationItemChangeNotification"
    );
    let item = &invoking["configurationItem"];
    assert_eq!(item["resourceType"], "AWS::EC2::SecurityGroup");
    assert_eq!(item["resourceId"], group_id);
    assert_eq!(item["tags"], json!({"tier": "web"}));
    let configuration = &item["configuration"];
    assert_eq!(configuration["groupId"], group_id);
    assert_eq!(configuration["ownerId"], APP_A);
    let ssh: Vec<&Value> = configuration["ipPermissions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["fromPort"] == 22)
        .collect();
    assert_eq!(ssh.len(), 1, "{configuration}");
    assert_eq!(ssh[0]["ipv4Ranges"], json!([{"cidrIp": "0.0.0.0/0"}]));
    assert_eq!(ssh[0]["ipRanges"], json!(["0.0.0.0/0"]));
    assert_eq!(ssh[0]["ipv6Ranges"], json!([{"cidrIpv6": "::/0"}]));
    let token = invocation["resultToken"].as_str().unwrap();

    // The function reports: a forged token is refused, the issued one kept.
    let evaluation = |token: &str| {
        json!({"ResultToken": token, "Evaluations": [{
        "ComplianceResourceType": "AWS::EC2::SecurityGroup", "ComplianceResourceId": group_id,
        "ComplianceType": "NON_COMPLIANT", "Annotation": "extra: tcp/22 from 0.0.0.0/0, ::/0; missing: tcp/443",
        "OrderingTimestamp": 1_700_000_000.5}]})
    };
    let (status, refused) = config_call(
        &gw,
        &alice,
        "us-east-1",
        "PutEvaluations",
        evaluation("forged-token"),
    )
    .await;
    assert_eq!(
        (status, refused["__type"].as_str()),
        (400, Some("InvalidResultTokenException"))
    );
    let (status, _) = config_call(
        &gw,
        &alice,
        "eu-west-1",
        "PutEvaluations",
        evaluation(token),
    )
    .await;
    assert_eq!(
        status, 400,
        "a token is only good in the account and region it was issued for"
    );
    let (status, put) = config_call(
        &gw,
        &alice,
        "us-east-1",
        "PutEvaluations",
        evaluation(token),
    )
    .await;
    assert_eq!((status, &put), (200, &json!({"FailedEvaluations": []})));

    let (status, details) = config_call(
        &gw,
        &alice,
        "us-east-1",
        "GetComplianceDetailsByConfigRule",
        json!({"ConfigRuleName": "fanin-security-groups", "ComplianceTypes": ["NON_COMPLIANT"]}),
    )
    .await;
    assert_eq!(status, 200);
    let results = details["EvaluationResults"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["ComplianceType"], "NON_COMPLIANT");
    assert_eq!(
        results[0]["Annotation"],
        "extra: tcp/22 from 0.0.0.0/0, ::/0; missing: tcp/443"
    );
    assert_eq!(
        results[0]["EvaluationResultIdentifier"]["EvaluationResultQualifier"]["ResourceId"],
        group_id
    );
    let (_, compliance) = config_call(
        &gw,
        &alice,
        "us-east-1",
        "DescribeComplianceByConfigRule",
        json!({"ConfigRuleNames": ["fanin-security-groups"]}),
    )
    .await;
    assert_eq!(
        compliance["ComplianceByConfigRules"][0]["Compliance"]["ComplianceType"],
        "NON_COMPLIANT"
    );

    // The periodic trigger, and a deleted group leaving scope.
    let periodic: Value = http()
        .post(format!("{}/_devstack/config/evaluate", gw.aws_url))
        .json(&json!({"account": APP_A, "region": "us-east-1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(periodic, json!({"answer": {"kind": "recorded"}}));
    ec2.delete_security_group()
        .group_id(&group_id)
        .send()
        .await
        .unwrap();
    gw.config()
        .evaluate_change(APP_A, "us-east-1", &group_id)
        .await
        .unwrap();
    let received = guard.received();
    assert_eq!(received.len(), 3);
    let scheduled: Value =
        serde_json::from_str(received[1]["invokingEvent"].as_str().unwrap()).unwrap();
    assert_eq!(scheduled["messageType"], "ScheduledNotification");
    assert_eq!(scheduled["awsAccountId"], APP_A);
    assert_eq!(received[2]["eventLeftScope"], true);
    let deleted: Value =
        serde_json::from_str(received[2]["invokingEvent"].as_str().unwrap()).unwrap();
    assert_eq!(
        deleted["configurationItem"]["configurationItemStatus"],
        "ResourceDeleted"
    );

    // Without a registered function, the player says so.
    let error = gw
        .config()
        .evaluate_periodic(APP_B, "us-east-1")
        .await
        .unwrap_err();
    assert!(
        format!("{error:#}").contains("no local function registered"),
        "{error:#}"
    );
}
