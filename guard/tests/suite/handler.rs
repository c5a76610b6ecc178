//! Handler tests: the guard's answer, its calls to EC2 (through the fake)
//! and the records it puts on the bus, for each kind of event.

use std::collections::BTreeMap;
use std::sync::Arc;

use fanin::guard::permission::{Direction, GroupRule, Peer, Permission, Protocol};
use fanin::guard::policy::Policy;
use fanin::guard::record::{self, AttachedInterface, GuardRecord, Outcome, RuleAction};
use fanin_guard::config::GuardConfig;
use fanin_guard::fakes::{FakeBus, FakeConfig, FakeEc2, FakeNotifier};
use fanin_guard::ports::GroupDescription;
use fanin_guard::{Answer, AnswerKind, Guard, GuardError};
use serde_json::{Value, json};

const ACCOUNT: &str = "111122223333";
const OWN_ROLE: &str = "arn:aws:iam::111122223333:role/fanin-guard";
const GROUP: &str = "sg-0123456789abcdef0";

const POLICY: &str = r#"
version: 1
break_glass_tag: fanin-break-glass
approvers: ["arn:aws:iam::111122223333:role/network-admins"]
selectors:
  - name: web
    match: { tags: { tier: web } }
    mode: enforce
    remediation: true
    ingress:
      exact:
        - IpProtocol: tcp
          FromPort: 443
          ToPort: 443
          IpRanges: [{CidrIp: 0.0.0.0/0, Description: https}]
          Ipv6Ranges: [{CidrIpv6: "::/0", Description: https v6}]
  - name: app
    match: { tags: { tier: app } }
    mode: enforce
    ingress: { internet_ports: ["tcp/443"] }
  - name: audit-only
    match: { tags: { tier: audit } }
    ingress: { internet_ports: ["tcp/443"] }
  - name: legacy
    match: { groups: ["Test"] }
    ingress:
      exact:
        - {IpProtocol: tcp, FromPort: 443, ToPort: 443, IpRanges: [{CidrIp: 0.0.0.0/0}]}
"#;

struct World {
    guard: Guard,
    ec2: Arc<FakeEc2>,
    config: Arc<FakeConfig>,
    bus: Arc<FakeBus>,
    sns: Arc<FakeNotifier>,
}

fn world(remediation: bool) -> World {
    let ec2 = Arc::new(FakeEc2::default());
    let config = Arc::new(FakeConfig::default());
    let bus = Arc::new(FakeBus::default());
    let sns = Arc::new(FakeNotifier::default());
    let vars = [
        ("FANIN_GUARD_POLICY_BUCKET", "fanin-code-us-east-1"),
        ("FANIN_GUARD_POLICY_KEY", "fanin/0/guard-policy.yaml"),
        (
            "FANIN_GUARD_TOPIC_ARN",
            "arn:aws:sns:us-east-1:111122223333:guard",
        ),
        ("FANIN_GUARD_OWN_ROLES", OWN_ROLE),
        (
            "FANIN_GUARD_REMEDIATION",
            if remediation { "true" } else { "false" },
        ),
        ("AWS_REGION", "us-east-1"),
    ];
    let guard_config = GuardConfig::from_lookup(|name| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
    })
    .unwrap();
    let guard = Guard {
        config: guard_config,
        policy: Policy::parse(POLICY).unwrap(),
        groups: ec2.clone(),
        compliance: config.clone(),
        records: bus.clone(),
        notifier: Some(sns.clone()),
    };
    World {
        guard,
        ec2,
        config,
        bus,
        sns,
    }
}

fn group(id: &str, name: &str, tags: &[(&str, &str)]) -> GroupDescription {
    GroupDescription {
        group_id: id.to_owned(),
        group_name: name.to_owned(),
        vpc_id: Some("vpc-0a1b2c3d".to_owned()),
        owner_id: Some(ACCOUNT.to_owned()),
        tags: tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn rule(
    id: &str,
    direction: Direction,
    protocol: &str,
    ports: Option<(i32, i32)>,
    peer: Peer,
) -> GroupRule {
    GroupRule {
        rule_id: id.to_owned(),
        direction,
        permission: Permission::new(
            Protocol::parse(protocol).unwrap(),
            ports.map(|p| p.0),
            ports.map(|p| p.1),
            peer,
            None,
        )
        .unwrap(),
    }
}

fn v4(cidr: &str) -> Peer {
    Peer::ipv4(cidr).unwrap()
}

fn v6(cidr: &str) -> Peer {
    Peer::ipv6(cidr).unwrap()
}

fn public_interface() -> AttachedInterface {
    AttachedInterface {
        interface_id: "eni-0a1b2c3d4e5f60718".into(),
        interface_type: Some("interface".into()),
        resource_id: Some("i-0a1b2c3d4e5f60718".into()),
        description: None,
        private_ips: vec!["10.0.1.10".into()],
        public_ips: vec!["198.51.100.20".into()],
        ipv6_addresses: vec![],
    }
}

/// A CloudTrail call as EventBridge delivers it.
fn call(name: &str, issuer: &str, request: Value, response: Value) -> Value {
    json!({
        "version": "0", "id": "6f8b2e4a-1111-2222-3333-444455556666",
        "detail-type": "AWS API Call via CloudTrail", "source": "aws.ec2",
        "account": ACCOUNT, "time": "2026-11-30T12:00:01Z", "region": "us-east-1", "resources": [],
        "detail": {
            "eventVersion": "1.10",
            "userIdentity": {
                "type": "AssumedRole", "principalId": "AROAEXAMPLE:session",
                "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{}/session", issuer.rsplit('/').next().unwrap()),
                "accountId": ACCOUNT,
                "sessionContext": {"sessionIssuer": {"type": "Role", "arn": issuer, "accountId": ACCOUNT}}
            },
            "eventTime": "2026-11-30T12:00:00Z", "eventSource": "ec2.amazonaws.com",
            "eventName": name, "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7",
            "userAgent": "aws-cli/2.15.0", "requestParameters": request, "responseElements": response,
            "requestID": "f5f4b1c2-0000-0000-0000-000000000000",
            "eventID": "0a1b2c3d-0000-0000-0000-000000000001",
            "readOnly": false, "eventType": "AwsApiCall", "managementEvent": true,
            "recipientAccountId": ACCOUNT, "eventCategory": "Management"
        }
    })
}

const DEVELOPER: &str = "arn:aws:iam::111122223333:role/developer";

fn rule_item(id: &str, extra: Value) -> Value {
    let mut item = json!({"groupOwnerId": ACCOUNT, "groupId": GROUP, "securityGroupRuleId": id, "isEgress": false});
    item.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    item
}

/// One ingress call with six permissions: IPv4 and IPv6 SSH from anywhere,
/// all traffic from a referenced group, a port range from a prefix list,
/// HTTPS from anywhere and UDP from a private range.
fn several_permissions(issuer: &str) -> Value {
    call(
        "AuthorizeSecurityGroupIngress",
        issuer,
        json!({"groupId": GROUP, "ipPermissions": {"items": [
            {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
             "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]},
             "ipv6Ranges": {"items": [{"cidrIpv6": "::/0"}]}},
            {"ipProtocol": "-1", "groups": {"items": [{"groupId": "sg-0fedcba9876543210", "userId": ACCOUNT}]}},
            {"ipProtocol": "tcp", "fromPort": 8000, "toPort": 8100, "prefixListIds": {"items": [{"prefixListId": "pl-63a5400a"}]}},
            {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}},
            {"ipProtocol": "udp", "fromPort": 1000, "toPort": 2000, "ipRanges": {"items": [{"cidrIp": "10.0.0.0/8"}]}}
        ]}}),
        json!({"_return": true, "securityGroupRuleSet": {"items": [
            rule_item("sgr-0a1", json!({"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "cidrIpv4": "0.0.0.0/0"})),
            rule_item("sgr-0a2", json!({"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "cidrIpv6": "::/0"})),
            rule_item("sgr-0a3", json!({"ipProtocol": "-1", "fromPort": -1, "toPort": -1,
                "referencedGroupInfo": {"groupId": "sg-0fedcba9876543210", "userId": ACCOUNT}})),
            rule_item("sgr-0a4", json!({"ipProtocol": "tcp", "fromPort": 8000, "toPort": 8100, "prefixListId": "pl-63a5400a"})),
            rule_item("sgr-0a5", json!({"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "cidrIpv4": "0.0.0.0/0"})),
            rule_item("sgr-0a6", json!({"ipProtocol": "udp", "fromPort": 1000, "toPort": 2000, "cidrIpv4": "10.0.0.0/8"}))
        ]}}),
    )
}

/// The group as EC2 holds it after the six-permission call.
fn group_after_several(world: &World, tier: &str, extra_tags: &[(&str, &str)]) {
    let mut tags = vec![("tier", tier)];
    tags.extend_from_slice(extra_tags);
    world.ec2.add_group(
        group(GROUP, "app-servers", &tags),
        vec![
            rule(
                "sgr-0a1",
                Direction::Ingress,
                "tcp",
                Some((22, 22)),
                v4("0.0.0.0/0"),
            ),
            rule(
                "sgr-0a2",
                Direction::Ingress,
                "tcp",
                Some((22, 22)),
                v6("::/0"),
            ),
            rule(
                "sgr-0a3",
                Direction::Ingress,
                "-1",
                None,
                Peer::group("sg-0fedcba9876543210", Some(ACCOUNT)).unwrap(),
            ),
            rule(
                "sgr-0a4",
                Direction::Ingress,
                "tcp",
                Some((8000, 8100)),
                Peer::prefix_list("pl-63a5400a").unwrap(),
            ),
            rule(
                "sgr-0a5",
                Direction::Ingress,
                "tcp",
                Some((443, 443)),
                v4("0.0.0.0/0"),
            ),
            rule(
                "sgr-0a6",
                Direction::Ingress,
                "udp",
                Some((1000, 2000)),
                v4("10.0.0.0/8"),
            ),
            rule("sgr-0e1", Direction::Egress, "-1", None, v4("0.0.0.0/0")),
        ],
    );
    world.ec2.add_interface(GROUP, public_interface());
}

fn records(world: &World) -> Vec<(String, GuardRecord)> {
    world
        .bus
        .entries()
        .into_iter()
        .map(|e| {
            (
                e.detail_type.to_owned(),
                serde_json::from_str(&e.detail).unwrap(),
            )
        })
        .collect()
}

fn actions(record: &GuardRecord) -> Vec<(String, RuleAction)> {
    record
        .rules
        .iter()
        .map(|r| (r.rule_id.clone(), r.action))
        .collect()
}

fn rule_ids(world: &World, group_id: &str) -> Vec<String> {
    world
        .ec2
        .rules(group_id)
        .into_iter()
        .map(|r| r.rule_id)
        .collect()
}

#[tokio::test]
async fn several_permissions_in_one_call_unapproved_ones_are_revoked_by_id() {
    let world = world(false);
    group_after_several(&world, "app", &[]);
    let answer = world
        .guard
        .handle(&several_permissions(DEVELOPER))
        .await
        .unwrap();

    assert_eq!(answer.kind, AnswerKind::Change);
    assert_eq!(answer.decisions, [Outcome::Reverted]);
    assert_eq!(answer.records, 1);
    // One revoke, by rule id, of exactly the two internet SSH rules.
    assert_eq!(
        world.ec2.writes(),
        [format!(
            "RevokeSecurityGroupIngress {GROUP} [\"sgr-0a1\", \"sgr-0a2\"]"
        )]
    );
    assert_eq!(
        rule_ids(&world, GROUP),
        ["sgr-0a3", "sgr-0a4", "sgr-0a5", "sgr-0a6", "sgr-0e1"]
    );
    // The revoke comes before any enrichment call.
    let calls = world.ec2.calls();
    let revoke_at = calls.iter().position(|c| c.starts_with("Revoke")).unwrap();
    assert_eq!(
        revoke_at, 1,
        "only the group lookup precedes the revoke: {calls:?}"
    );

    let records = records(&world);
    let (detail_type, record) = &records[0];
    assert_eq!(detail_type, record::DECISION_DETAIL_TYPE);
    assert_eq!(
        record.uid,
        format!("{ACCOUNT}/us-east-1/{GROUP}/0a1b2c3d-0000-0000-0000-000000000001")
    );
    assert_eq!(
        actions(record),
        [
            ("sgr-0a1".into(), RuleAction::Revoked),
            ("sgr-0a2".into(), RuleAction::Revoked),
            ("sgr-0a3".into(), RuleAction::Kept),
            ("sgr-0a4".into(), RuleAction::Kept),
            ("sgr-0a5".into(), RuleAction::Kept),
            ("sgr-0a6".into(), RuleAction::Kept),
        ]
    );
    let ssh = &record.rules[0];
    assert_eq!(ssh.before.as_ref().unwrap().to_string(), "tcp/22 0.0.0.0/0");
    assert_eq!(ssh.after, None);
    assert_eq!(
        record.rules[1].before.as_ref().unwrap().to_string(),
        "tcp/22 ::/0"
    );
    let change = record.change.as_ref().unwrap();
    assert_eq!(change.source_ip.as_deref(), Some("198.51.100.7"));
    assert_eq!(change.actor.session_issuer_arn.as_deref(), Some(DEVELOPER));
    assert_eq!(record.selector, "app");
    // HTTPS from anywhere stays, on an interface with a public address.
    assert!(record.internet_exposed);
    assert_eq!(record.attached[0].public_ips, ["198.51.100.20"]);
    let timing = record.timing.as_ref().unwrap();
    assert!(timing.revoked_at.is_some());
    assert_eq!(answer.time_to_revert_ms, timing.time_to_revert_ms);
    assert!(answer.guard_ms.unwrap() < 1000, "{answer:?}");
    // A person hears of it.
    let messages = world.sns.messages();
    assert_eq!(messages.len(), 1);
    assert!(messages[0].0.len() <= 100);
    assert!(messages[0].0.contains("reverted"), "{}", messages[0].0);
    assert!(messages[0].1.contains("sgr-0a1"), "{}", messages[0].1);
}

#[tokio::test]
async fn an_approver_keeps_every_rule() {
    let world = world(false);
    group_after_several(&world, "app", &[]);
    let answer = world
        .guard
        .handle(&several_permissions(
            "arn:aws:iam::111122223333:role/network-admins",
        ))
        .await
        .unwrap();
    assert_eq!(answer.decisions, [Outcome::Approved]);
    assert!(world.ec2.writes().is_empty());
    let (_, record) = &records(&world)[0];
    assert!(record.rules.iter().all(|r| r.action == RuleAction::Kept));
    assert!(world.sns.messages().is_empty(), "approved is not notified");
}

#[tokio::test]
async fn audit_mode_changes_nothing_and_records_would_revert() {
    let world = world(false);
    group_after_several(&world, "audit", &[]);
    let answer = world
        .guard
        .handle(&several_permissions(DEVELOPER))
        .await
        .unwrap();
    assert_eq!(answer.decisions, [Outcome::WouldRevert]);
    assert!(world.ec2.writes().is_empty());
    assert_eq!(rule_ids(&world, GROUP).len(), 7);
    let (_, record) = &records(&world)[0];
    assert_eq!(
        record
            .rules
            .iter()
            .filter(|r| r.action == RuleAction::WouldRevoke)
            .count(),
        2
    );
    assert_eq!(record.timing.as_ref().unwrap().time_to_revert_ms, None);
}

#[tokio::test]
async fn a_break_glass_group_is_left_alone() {
    let world = world(false);
    group_after_several(&world, "app", &[("fanin-break-glass", "true")]);
    let answer = world
        .guard
        .handle(&several_permissions(DEVELOPER))
        .await
        .unwrap();
    assert_eq!(answer.decisions, [Outcome::BreakGlass]);
    assert!(world.ec2.writes().is_empty());
    let (_, record) = &records(&world)[0];
    assert!(record.group.break_glass);
}

#[tokio::test]
async fn the_guards_own_calls_and_failed_calls_are_ignored() {
    let world = world(false);
    group_after_several(&world, "app", &[]);
    let own = world
        .guard
        .handle(&several_permissions(OWN_ROLE))
        .await
        .unwrap();
    assert_eq!(own.kind, AnswerKind::Ignored);
    assert_eq!(own.reason.as_deref(), Some("the guard's own call"));

    let mut failed = several_permissions(DEVELOPER);
    failed["detail"]["errorCode"] = json!("Client.InvalidPermission.Duplicate");
    let answer = world.guard.handle(&failed).await.unwrap();
    assert_eq!(answer.kind, AnswerKind::Ignored);
    assert!(
        answer
            .reason
            .unwrap()
            .contains("Client.InvalidPermission.Duplicate")
    );

    assert!(world.ec2.calls().is_empty(), "nothing looked up");
    assert!(world.bus.entries().is_empty(), "no record");
}

#[tokio::test]
async fn a_group_no_selector_covers_is_ignored() {
    let world = world(false);
    group_after_several(&world, "none", &[]);
    let answer = world
        .guard
        .handle(&several_permissions(DEVELOPER))
        .await
        .unwrap();
    assert_eq!(answer.kind, AnswerKind::Ignored);
    assert!(world.ec2.writes().is_empty());
    assert!(world.bus.entries().is_empty());
}

#[tokio::test]
async fn a_rule_already_gone_is_success() {
    let world = world(false);
    group_after_several(&world, "app", &[]);
    // Someone revoked one of the two rules before the guard.
    world.ec2.remove_rule(GROUP, "sgr-0a2");
    let answer = world
        .guard
        .handle(&several_permissions(DEVELOPER))
        .await
        .unwrap();
    assert_eq!(answer.decisions, [Outcome::Reverted]);
    let (_, record) = &records(&world)[0];
    assert_eq!(record.rules[0].action, RuleAction::Revoked);
    assert_eq!(record.rules[1].action, RuleAction::AlreadyGone);
    assert!(!rule_ids(&world, GROUP).contains(&"sgr-0a1".to_owned()));
}

#[tokio::test]
async fn a_failed_revoke_is_recorded_then_the_invocation_fails() {
    let world = world(false);
    group_after_several(&world, "app", &[]);
    world.ec2.fail_revokes(Some("UnauthorizedOperation"));
    let error = world
        .guard
        .handle(&several_permissions(DEVELOPER))
        .await
        .unwrap_err();
    assert!(
        matches!(error, GuardError::ActionsFailed { failed: 2, .. }),
        "{error}"
    );
    let (_, record) = &records(&world)[0];
    assert_eq!(record.outcome, Outcome::Failed);
    assert_eq!(record.rules[0].action, RuleAction::Failed);
    assert_eq!(
        record.rules[0].error.as_deref(),
        Some("UnauthorizedOperation")
    );
    assert!(record.rules[0].after.is_some(), "the rule still stands");

    // The retry revokes it.
    world.ec2.fail_revokes(None);
    let retry = world
        .guard
        .handle(&several_permissions(DEVELOPER))
        .await
        .unwrap();
    assert_eq!(retry.decisions, [Outcome::Reverted]);
}

#[tokio::test]
async fn records_eventbridge_refuses_fail_the_invocation() {
    let world = world(false);
    group_after_several(&world, "app", &[]);
    world.bus.refuse_all();
    let error = world
        .guard
        .handle(&several_permissions(DEVELOPER))
        .await
        .unwrap_err();
    assert!(matches!(error, GuardError::RecordsRefused(1)), "{error}");
}

fn modify(rule_id: &str, description: &str, port: i32) -> Value {
    call(
        "ModifySecurityGroupRules",
        DEVELOPER,
        json!({"ModifySecurityGroupRulesRequest": {"GroupId": GROUP,
            "SecurityGroupRule": {"SecurityGroupRuleId": rule_id, "tag": 1,
                "SecurityGroupRule": {"Description": description, "IpProtocol": "tcp",
                    "FromPort": port, "ToPort": port, "CidrIpv4": "0.0.0.0/0"}}}}),
        json!({"ModifySecurityGroupRulesResponse": {"return": true}}),
    )
}

#[tokio::test]
async fn a_description_change_of_an_approved_rule_is_approved_a_port_change_is_not() {
    let world = world(false);
    let mut https = rule(
        "sgr-0b1",
        Direction::Ingress,
        "tcp",
        Some((443, 443)),
        v4("0.0.0.0/0"),
    );
    https.permission.description = Some("new words".into());
    let ssh = rule(
        "sgr-0b2",
        Direction::Ingress,
        "tcp",
        Some((22, 22)),
        v4("0.0.0.0/0"),
    );
    world
        .ec2
        .add_group(group(GROUP, "web", &[("tier", "web")]), vec![https, ssh]);

    let kept = world
        .guard
        .handle(&modify("sgr-0b1", "new words", 443))
        .await
        .unwrap();
    assert_eq!(kept.decisions, [Outcome::Approved]);
    assert!(world.ec2.writes().is_empty());

    // The same call changing a rule to SSH from anywhere is reverted.
    let reverted = world
        .guard
        .handle(&modify("sgr-0b2", "ssh", 22))
        .await
        .unwrap();
    assert_eq!(reverted.decisions, [Outcome::Reverted]);
    assert_eq!(
        world.ec2.writes(),
        [format!("RevokeSecurityGroupIngress {GROUP} [\"sgr-0b2\"]")]
    );
    let (_, record) = &records(&world)[1];
    assert_eq!(actions(record), [("sgr-0b2".into(), RuleAction::Revoked)]);
    // The group now lacks the IPv6 half of HTTPS.
    let compliance = record.compliance.as_ref().unwrap();
    assert_eq!(compliance.status, "NON_COMPLIANT");
    assert_eq!(compliance.annotation, "missing ingress tcp/443 ::/0");
}

#[tokio::test]
async fn the_published_cloudtrail_record_is_reverted() {
    let world = world(false);
    let event: Value = serde_json::from_str(include_str!(
        "../../../tests/fixtures/guard/cloudtrail-authorize-ingress.json"
    ))
    .unwrap();
    let group_id = "sg-0632fa4ee8a8468a4";
    world.ec2.add_group(
        GroupDescription {
            owner_id: Some("776520358045".into()),
            ..group(group_id, "lab", &[("tier", "app")])
        },
        vec![rule(
            "sgr-09be5c962afdc06ed",
            Direction::Ingress,
            "tcp",
            Some((22, 22)),
            v4("0.0.0.0/0"),
        )],
    );
    let answer = world.guard.handle(&event).await.unwrap();
    assert_eq!(answer.decisions, [Outcome::Reverted]);
    assert!(world.ec2.rules(group_id).is_empty());
    let (_, record) = &records(&world)[0];
    let change = record.change.as_ref().unwrap();
    assert_eq!(
        change.actor.arn.as_deref(),
        Some("arn:aws:sts::776520358045:assumed-role/voclabs/user289515=Jia_Jia")
    );
    assert_eq!(change.source_ip.as_deref(), Some("112.119.155.35"));
    assert_eq!(record.account, "776520358045");
}

// --- the Config path ---------------------------------------------------------

fn config_event(invoking: Value, left_scope: bool) -> Value {
    json!({
        "version": "1.0", "invokingEvent": invoking.to_string(), "ruleParameters": "{}",
        "resultToken": "token-1", "eventLeftScope": left_scope,
        "executionRoleArn": "arn:aws:iam::111122223333:role/config", "configRuleArn":
        "arn:aws:config:us-east-1:111122223333:config-rule/config-rule-abc",
        "configRuleName": "fanin-security-groups", "configRuleId": "config-rule-abc", "accountId": ACCOUNT
    })
}

/// A web group with an extra SSH rule, lacking HTTPS over IPv6.
fn web_group(world: &World) {
    world.ec2.add_group(
        group(GROUP, "web", &[("tier", "web")]),
        vec![
            rule(
                "sgr-0c1",
                Direction::Ingress,
                "tcp",
                Some((22, 22)),
                v4("0.0.0.0/0"),
            ),
            rule(
                "sgr-0c2",
                Direction::Ingress,
                "tcp",
                Some((443, 443)),
                v4("0.0.0.0/0"),
            ),
        ],
    );
}

fn web_item_change() -> Value {
    config_event(
        json!({
            "configurationItem": {
                "configurationItemCaptureTime": "2026-11-30T11:59:00.000Z",
                "configurationItemStatus": "OK", "resourceType": "AWS::EC2::SecurityGroup",
                "resourceId": GROUP, "awsAccountId": ACCOUNT, "awsRegion": "us-east-1",
                "tags": {"tier": "web"},
                "configuration": {
                    "groupId": GROUP, "groupName": "web", "vpcId": "vpc-0a1b2c3d", "ownerId": ACCOUNT,
                    "ipPermissions": [
                        {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": ["0.0.0.0/0"],
                         "ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}], "ipv6Ranges": [], "prefixListIds": [], "userIdGroupPairs": []},
                        {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "ipRanges": ["0.0.0.0/0"],
                         "ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}], "ipv6Ranges": [], "prefixListIds": [], "userIdGroupPairs": []}
                    ],
                    "ipPermissionsEgress": [],
                    "tags": [{"key": "tier", "value": "web"}]
                }
            },
            "notificationCreationTime": "2026-11-30T11:59:30.000Z",
            "messageType": "ConfigurationItemChangeNotification", "recordVersion": "1.3"
        }),
        false,
    )
}

#[tokio::test]
async fn the_published_config_item_is_non_compliant_with_its_annotation() {
    let world = world(false);
    let event: Value = serde_json::from_str(include_str!(
        "../../../tests/fixtures/guard/config-security-group-change.json"
    ))
    .unwrap();
    let answer = world.guard.handle(&event).await.unwrap();
    assert_eq!(answer.kind, AnswerKind::Compliance);
    assert_eq!(answer.decisions, [Outcome::NonCompliant]);
    let evaluations = world.config.evaluations();
    assert_eq!(evaluations.len(), 1);
    let (token, evaluation) = &evaluations[0];
    assert_eq!(token, "myResultToken");
    assert_eq!(evaluation.resource_id, "sg-77707e10");
    assert_eq!(evaluation.resource_type, "AWS::EC2::SecurityGroup");
    assert_eq!(evaluation.compliance, "NON_COMPLIANT");
    assert_eq!(
        evaluation.annotation.as_deref(),
        Some(
            "extra ingress tcp/4000-5000 0.0.0.0/0; extra ingress tcp/23 0.0.0.0/0; \
             extra ingress tcp/22 0.0.0.0/0; missing ingress tcp/443 0.0.0.0/0"
        )
    );
    assert_eq!(
        evaluation.ordering_timestamp.to_rfc3339(),
        "2015-09-16T21:48:57.411+00:00"
    );
    let records = records(&world);
    let (detail_type, record) = &records[0];
    assert_eq!(detail_type, record::COMPLIANCE_DETAIL_TYPE);
    assert_eq!(record.uid, "481746159046/us-east-1/sg-77707e10/compliance");
    assert_eq!(
        record.group.tags.get("Name").map(String::as_str),
        Some("Test")
    );
    let compliance = record.compliance.as_ref().unwrap();
    assert_eq!(compliance.extra.len(), 3);
    assert_eq!(compliance.trigger.as_deref(), Some("change"));
    assert!(world.ec2.writes().is_empty());
}

#[tokio::test]
async fn remediation_makes_the_group_equal_to_the_desired_set() {
    let world = world(true);
    web_group(&world);
    let answer = world.guard.handle(&web_item_change()).await.unwrap();
    assert_eq!(answer.decisions, [Outcome::Remediated]);
    assert_eq!(
        world.ec2.writes(),
        [
            format!("RevokeSecurityGroupIngress {GROUP} [\"sgr-0c1\"]"),
            format!("AuthorizeSecurityGroupIngress {GROUP} [\"tcp/443 ::/0\"]"),
        ]
    );
    let now: Vec<String> = world
        .ec2
        .rules(GROUP)
        .iter()
        .map(|r| r.permission.to_string())
        .collect();
    assert_eq!(now, ["tcp/443 0.0.0.0/0", "tcp/443 ::/0"]);
    let added = world.ec2.rules(GROUP).pop().unwrap();
    assert_eq!(
        added.permission.description.as_deref(),
        Some("https v6"),
        "exactly the policy's permission"
    );
    // Config keeps what was found; the annotation says it was remediated.
    let (_, evaluation) = &world.config.evaluations()[0];
    assert_eq!(evaluation.compliance, "NON_COMPLIANT");
    assert!(
        evaluation
            .annotation
            .as_deref()
            .is_some_and(|a| a.starts_with("remediated: extra ingress")),
        "{evaluation:?}"
    );
    let (_, record) = &records(&world)[0];
    let remediation = &record.compliance.as_ref().unwrap().remediation;
    let done: Vec<RuleAction> = remediation.iter().map(|r| r.action).collect();
    assert_eq!(done, [RuleAction::Revoked, RuleAction::Authorized]);

    // Evaluated again, the group is compliant and nothing changes.
    let again = world
        .guard
        .handle(&web_item_change_now(&world))
        .await
        .unwrap();
    assert_eq!(again.decisions, [Outcome::Compliant]);
    assert_eq!(world.ec2.writes().len(), 2);
}

/// An oversized notification: the guard describes the group itself.
fn web_item_change_now(_world: &World) -> Value {
    config_event(
        json!({
            "configurationItemSummary": {
                "changeType": "UPDATE", "configurationItemVersion": "1.3",
                "configurationItemCaptureTime": "2026-11-30T12:05:00.000Z",
                "configurationStateId": 2, "awsAccountId": ACCOUNT, "configurationItemStatus": "OK",
                "resourceType": "AWS::EC2::SecurityGroup", "resourceId": GROUP, "resourceName": "web",
                "awsRegion": "us-east-1"
            },
            "notificationCreationTime": "2026-11-30T12:05:30.000Z",
            "messageType": "OversizedConfigurationItemChangeNotification", "recordVersion": "1.0"
        }),
        false,
    )
}

#[tokio::test]
async fn remediation_is_refused_when_the_stack_switch_is_off() {
    let world = world(false);
    web_group(&world);
    let answer = world.guard.handle(&web_item_change()).await.unwrap();
    assert_eq!(answer.decisions, [Outcome::NonCompliant]);
    assert!(world.ec2.writes().is_empty());
    let (_, evaluation) = &world.config.evaluations()[0];
    assert_eq!(evaluation.compliance, "NON_COMPLIANT");
    assert_eq!(
        evaluation.annotation.as_deref(),
        Some("extra ingress tcp/22 0.0.0.0/0; missing ingress tcp/443 ::/0")
    );
    let (_, record) = &records(&world)[0];
    let extra = &record.compliance.as_ref().unwrap().extra;
    assert_eq!(extra[0].rule_id, "sgr-0c1", "the rule id looked up in EC2");
}

#[tokio::test]
async fn an_oversized_item_is_described_by_the_guard() {
    let world = world(false);
    web_group(&world);
    let answer = world
        .guard
        .handle(&web_item_change_now(&world))
        .await
        .unwrap();
    assert_eq!(answer.decisions, [Outcome::NonCompliant]);
    assert!(
        world
            .ec2
            .calls()
            .iter()
            .any(|c| c.starts_with("DescribeSecurityGroupRules"))
    );
    let (_, evaluation) = &world.config.evaluations()[0];
    assert_eq!(evaluation.compliance, "NON_COMPLIANT");
    assert_eq!(
        evaluation.ordering_timestamp.to_rfc3339(),
        "2026-11-30T12:05:00+00:00"
    );
}

#[tokio::test]
async fn the_schedule_evaluates_every_group() {
    let world = world(false);
    web_group(&world);
    world.ec2.add_group(
        group("sg-0aaaaaaaaaaaaaaa1", "api", &[("tier", "app")]),
        vec![rule(
            "sgr-0d1",
            Direction::Ingress,
            "tcp",
            Some((443, 443)),
            v6("::/0"),
        )],
    );
    world
        .ec2
        .add_group(group("sg-0bbbbbbbbbbbbbbb2", "other", &[]), vec![]);
    let event = config_event(
        json!({"awsAccountId": ACCOUNT, "notificationCreationTime": "2026-11-30T00:00:00.000Z",
               "messageType": "ScheduledNotification", "recordVersion": "1.0"}),
        false,
    );
    let answer = world.guard.handle(&event).await.unwrap();
    let mut seen: Vec<(String, String)> = world
        .config
        .evaluations()
        .into_iter()
        .map(|(_, e)| (e.resource_id, e.compliance))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("sg-0123456789abcdef0".into(), "NON_COMPLIANT".into()),
            ("sg-0aaaaaaaaaaaaaaa1".into(), "COMPLIANT".into()),
            ("sg-0bbbbbbbbbbbbbbb2".into(), "NOT_APPLICABLE".into()),
        ]
    );
    assert_eq!(answer.records, 2, "uncovered groups have no record");
    let (_, record) = &records(&world)[0];
    assert_eq!(
        record.compliance.as_ref().unwrap().trigger.as_deref(),
        Some("scheduled")
    );
    assert_eq!(
        world
            .ec2
            .calls()
            .iter()
            .filter(|c| c.starts_with("DescribeSecurityGroupRules"))
            .count(),
        1,
        "one sweep of every rule"
    );
}

#[tokio::test]
async fn a_deleted_group_is_not_applicable() {
    let world = world(false);
    let event = config_event(
        json!({
            "configurationItem": {
                "configurationItemCaptureTime": "2026-11-30T11:59:00.000Z",
                "configurationItemStatus": "ResourceDeleted", "resourceType": "AWS::EC2::SecurityGroup",
                "resourceId": GROUP, "awsAccountId": ACCOUNT, "awsRegion": "us-east-1",
                "configuration": null
            },
            "notificationCreationTime": "2026-11-30T11:59:30.000Z",
            "messageType": "ConfigurationItemChangeNotification", "recordVersion": "1.3"
        }),
        false,
    );
    let answer: Answer = world.guard.handle(&event).await.unwrap();
    assert_eq!(answer.records, 0);
    let (_, evaluation) = &world.config.evaluations()[0];
    assert_eq!(evaluation.compliance, "NOT_APPLICABLE");
    assert!(world.ec2.calls().is_empty());

    // Out of scope reads the same.
    let left = world.guard.handle(&config_event(
        json!({"configurationItem": {"configurationItemStatus": "OK", "resourceType": "AWS::EC2::SecurityGroup",
               "resourceId": GROUP, "configurationItemCaptureTime": "2026-11-30T11:59:00.000Z"},
               "notificationCreationTime": "2026-11-30T11:59:30.000Z",
               "messageType": "ConfigurationItemChangeNotification"}),
        true,
    )).await.unwrap();
    assert_eq!(left.evaluations[0].compliance, "NOT_APPLICABLE");
}

/// A new group's event judges only the default egress rule EC2 gave it: an
/// ingress rule already there was added by a later call, which its own event
/// judges (judging it here too would record it twice).
#[tokio::test]
async fn a_new_groups_event_judges_only_its_default_egress_rule() {
    let world = world(false);
    world.ec2.add_group(
        group(GROUP, "web-new", &[("tier", "web")]),
        vec![
            rule("sgr-0e1", Direction::Egress, "-1", None, v4("0.0.0.0/0")),
            rule(
                "sgr-0e2",
                Direction::Ingress,
                "tcp",
                Some((22, 22)),
                v4("0.0.0.0/0"),
            ),
        ],
    );
    let created = call(
        "CreateSecurityGroup",
        DEVELOPER,
        json!({"groupName": "web-new", "groupDescription": "web", "vpcId": "vpc-0a1b2c3d"}),
        json!({"_return": true, "groupId": GROUP}),
    );
    let answer = world.guard.handle(&created).await.unwrap();
    assert_eq!(answer.decisions, [Outcome::Approved], "{answer:?}");
    assert!(world.ec2.writes().is_empty());
    let (_, record) = &records(&world)[0];
    let judged: Vec<&str> = record.rules.iter().map(|r| r.rule_id.as_str()).collect();
    assert_eq!(judged, ["sgr-0e1"]);
    assert_eq!(
        rule_ids(&world, GROUP).len(),
        2,
        "the SSH rule waits for its own event"
    );
}
