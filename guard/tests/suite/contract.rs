//! The contract of [`SecurityGroups`], run against the in-memory fake and
//! against the AWS adapter on moto, so the fake answers as EC2 does; and the
//! whole real-time path against moto, which measures the guard's own time
//! from receiving an event to the revoke's answer.

use std::sync::Arc;

use fanin::guard::permission::{Direction, Peer, Permission, Protocol};
use fanin::guard::policy::Policy;
use fanin::guard::record::Outcome;
use fanin_devstack::procs::MotoServer;
use fanin_devstack::scenario::sdk_config;
use fanin_guard::actions::{is_duplicate, is_gone};
use fanin_guard::aws::{Ec2SecurityGroups, guard_from_sdk};
use fanin_guard::config::GuardConfig;
use fanin_guard::fakes::FakeEc2;
use fanin_guard::ports::{GroupDescription, GroupLookup, SecurityGroups};
use serde_json::json;

fn permission(
    protocol: &str,
    ports: Option<(i32, i32)>,
    peer: Peer,
    description: Option<&str>,
) -> Permission {
    Permission::new(
        Protocol::parse(protocol).unwrap(),
        ports.map(|p| p.0),
        ports.map(|p| p.1),
        peer,
        description.map(str::to_owned),
    )
    .unwrap()
}

/// What every [`SecurityGroups`] must do. `group_id` names an empty group
/// called `contract`, `other_group` another group of the same VPC.
async fn security_groups_contract(groups: &dyn SecurityGroups, group_id: &str, other_group: &str) {
    let found = groups
        .describe_group(&GroupLookup::Id(group_id.to_owned()))
        .await
        .unwrap()
        .expect("the group");
    assert_eq!(found.group_name, "contract");
    assert_eq!(
        groups
            .describe_group(&GroupLookup::Id("sg-0000000000000dead".into()))
            .await
            .unwrap(),
        None,
        "an unknown group is None, not an error"
    );

    // Every kind of peer, in one call.
    let wanted = vec![
        permission(
            "tcp",
            Some((22, 22)),
            Peer::ipv4("0.0.0.0/0").unwrap(),
            Some("ssh"),
        ),
        permission("tcp", Some((22, 22)), Peer::ipv6("::/0").unwrap(), None),
        permission(
            "tcp",
            Some((8000, 8100)),
            Peer::prefix_list("pl-63a5400a").unwrap(),
            None,
        ),
        permission("-1", None, Peer::group(other_group, None).unwrap(), None),
    ];
    groups
        .authorize(group_id, Direction::Ingress, &wanted)
        .await
        .unwrap();
    let duplicate = groups
        .authorize(group_id, Direction::Ingress, &wanted[..1])
        .await
        .unwrap_err();
    assert!(is_duplicate(&duplicate), "{duplicate:?}");

    let rules: Vec<_> = groups
        .describe_rules(&[group_id.to_owned()])
        .await
        .unwrap()
        .into_iter()
        .filter(|d| d.rule.direction == Direction::Ingress)
        .collect();
    assert_eq!(rules.len(), 4, "{rules:?}");
    for want in &wanted {
        let rule = rules
            .iter()
            .find(|d| d.rule.permission.access() == want.access())
            .unwrap_or_else(|| panic!("{want} not described: {rules:?}"));
        assert_eq!(rule.group_id, group_id);
        assert!(rule.rule.rule_id.starts_with("sgr-"));
    }
    let ssh = rules
        .iter()
        .find(|d| d.rule.permission.access() == wanted[0].access())
        .unwrap();
    assert_eq!(ssh.rule.permission.description.as_deref(), Some("ssh"));

    // Revoke by id: only that rule goes; again, it is gone.
    let ids = vec![ssh.rule.rule_id.clone()];
    groups
        .revoke_rules(group_id, Direction::Ingress, &ids)
        .await
        .unwrap();
    let after = groups.describe_rules(&[group_id.to_owned()]).await.unwrap();
    assert!(!after.iter().any(|d| d.rule.rule_id == ids[0]));
    assert_eq!(
        after
            .iter()
            .filter(|d| d.rule.direction == Direction::Ingress)
            .count(),
        3
    );
    let gone = groups
        .revoke_rules(group_id, Direction::Ingress, &ids)
        .await
        .unwrap_err();
    assert!(is_gone(&gone), "{gone:?}");

    // Listing every group finds both; describing every rule includes ours.
    let listed = groups.list_groups().await.unwrap();
    assert!(listed.iter().any(|g| g.group_id == group_id));
    assert!(listed.iter().any(|g| g.group_id == other_group));
    let every = groups.describe_rules(&[]).await.unwrap();
    assert!(every.iter().any(|d| d.group_id == group_id));
}

#[tokio::test]
async fn the_fake_keeps_the_contract() {
    let fake = FakeEc2::default();
    for (id, name) in [
        ("sg-0c0c0c0c0c0c0c0c1", "contract"),
        ("sg-0c0c0c0c0c0c0c0c2", "other"),
    ] {
        fake.add_group(
            GroupDescription {
                group_id: id.into(),
                group_name: name.into(),
                vpc_id: Some("vpc-0c0c".into()),
                owner_id: None,
                tags: Default::default(),
            },
            vec![],
        );
    }
    security_groups_contract(&fake, "sg-0c0c0c0c0c0c0c0c1", "sg-0c0c0c0c0c0c0c0c2").await;
}

/// A VPC with a subnet and two groups tagged `tier=app` on moto; answers
/// (client, subnet, group, other group).
async fn moto_groups(sdk: &aws_config::SdkConfig) -> (aws_sdk_ec2::Client, String, String, String) {
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.20.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc_id = vpc.vpc().unwrap().vpc_id().unwrap().to_owned();
    let subnet = ec2
        .create_subnet()
        .vpc_id(&vpc_id)
        .cidr_block("10.20.1.0/24")
        .send()
        .await
        .unwrap();
    let subnet_id = subnet.subnet().unwrap().subnet_id().unwrap().to_owned();
    let mut ids = Vec::new();
    for name in ["contract", "other"] {
        let group = ec2
            .create_security_group()
            .group_name(name)
            .description("guard contract")
            .vpc_id(&vpc_id)
            .tag_specifications(
                aws_sdk_ec2::types::TagSpecification::builder()
                    .resource_type(aws_sdk_ec2::types::ResourceType::SecurityGroup)
                    .tags(
                        aws_sdk_ec2::types::Tag::builder()
                            .key("tier")
                            .value("app")
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
        ids.push(group.group_id().unwrap().to_owned());
    }
    (ec2, subnet_id, ids[0].clone(), ids[1].clone())
}

#[tokio::test]
async fn the_ec2_adapter_keeps_the_contract_on_moto() {
    let moto = MotoServer::start().await.unwrap();
    let sdk = sdk_config(&moto.url, "us-east-1", None);
    let (ec2, subnet_id, group_id, other) = moto_groups(&sdk).await;
    let adapter = Ec2SecurityGroups::new(&sdk);
    security_groups_contract(&adapter, &group_id, &other).await;

    // The interfaces that use the group.
    let interface = ec2
        .create_network_interface()
        .subnet_id(&subnet_id)
        .groups(&group_id)
        .description("guard contract")
        .send()
        .await
        .unwrap();
    let interface_id = interface
        .network_interface()
        .unwrap()
        .network_interface_id()
        .unwrap()
        .to_owned();
    let attached = adapter.describe_interfaces(&group_id).await.unwrap();
    assert_eq!(attached.len(), 1, "{attached:?}");
    assert_eq!(attached[0].interface_id, interface_id);
    assert_eq!(attached[0].private_ips.len(), 1);
    assert!(attached[0].private_ips[0].starts_with("10.20.1."));
    assert!(
        adapter
            .describe_interfaces(&other)
            .await
            .unwrap()
            .is_empty()
    );
}

/// The real-time path on moto: an unapproved SSH rule is revoked by id and
/// recorded on the bus; prints the guard's own time to revert.
#[tokio::test]
async fn an_unapproved_rule_is_revoked_on_moto_within_a_second() {
    let moto = MotoServer::start().await.unwrap();
    let sdk = sdk_config(&moto.url, "us-east-1", None);
    let (ec2, _, group_id, _) = moto_groups(&sdk).await;
    // Two calls (moto answers only the last permission's rule when a call
    // has several).
    let mut items = Vec::new();
    for port in [22, 443] {
        let added = ec2
            .authorize_security_group_ingress()
            .group_id(&group_id)
            .ip_permissions(
                aws_sdk_ec2::types::IpPermission::builder()
                    .ip_protocol("tcp")
                    .from_port(port)
                    .to_port(port)
                    .ip_ranges(
                        aws_sdk_ec2::types::IpRange::builder()
                            .cidr_ip("0.0.0.0/0")
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
        items.extend(added.security_group_rules().iter().map(|r| {
            json!({"groupOwnerId": "123456789012", "groupId": group_id,
                   "securityGroupRuleId": r.security_group_rule_id().unwrap(), "isEgress": false,
                   "ipProtocol": r.ip_protocol().unwrap(), "fromPort": r.from_port().unwrap(),
                   "toPort": r.to_port().unwrap(), "cidrIpv4": r.cidr_ipv4().unwrap()})
        }));
    }
    assert_eq!(items.len(), 2);
    let ssh_rule = items.iter().find(|i| i["fromPort"] == 22).unwrap()["securityGroupRuleId"]
        .as_str()
        .unwrap()
        .to_owned();

    let config = GuardConfig::from_lookup(|name| {
        Some(
            match name {
                "FANIN_GUARD_POLICY_BUCKET" => "fanin-code-us-east-1",
                "FANIN_GUARD_POLICY_KEY" => "fanin/0/guard-policy.yaml",
                "FANIN_GUARD_OWN_ROLES" => "arn:aws:iam::123456789012:role/fanin-guard",
                "AWS_REGION" => "us-east-1",
                _ => return None,
            }
            .to_owned(),
        )
    })
    .unwrap();
    let policy = Policy::parse(
        "version: 1\nselectors:\n  - name: app\n    match: { tags: { tier: app } }\n    mode: enforce\n    ingress: { internet_ports: [\"tcp/443\"] }\n",
    )
    .unwrap();
    let guard = guard_from_sdk(&sdk, config, policy);
    let event = json!({
        "version": "0", "id": "6f8b2e4a-1111-2222-3333-444455556666",
        "detail-type": "AWS API Call via CloudTrail", "source": "aws.ec2",
        "account": "123456789012", "time": chrono::Utc::now().to_rfc3339(), "region": "us-east-1", "resources": [],
        "detail": {
            "eventVersion": "1.10",
            "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE",
                "arn": "arn:aws:iam::123456789012:user/developer", "accountId": "123456789012"},
            "eventTime": chrono::Utc::now().to_rfc3339(), "eventSource": "ec2.amazonaws.com",
            "eventName": "AuthorizeSecurityGroupIngress", "awsRegion": "us-east-1",
            "sourceIPAddress": "198.51.100.7", "userAgent": "aws-cli/2.15.0",
            "requestParameters": {"groupId": group_id},
            "responseElements": {"_return": true, "securityGroupRuleSet": {"items": items}},
            "eventID": "0a1b2c3d-0000-0000-0000-0000000000aa", "recipientAccountId": "123456789012"
        }
    });
    let guard = Arc::new(guard);
    let answer = guard.handle(&event).await.unwrap();
    assert_eq!(answer.decisions, [Outcome::Reverted], "{answer:?}");
    let guard_ms = answer.guard_ms.unwrap();
    eprintln!("guard time from receiving the event to the revoke's answer on moto: {guard_ms} ms");
    assert!(guard_ms < 1000, "{guard_ms} ms");

    let left: Vec<String> = ec2
        .describe_security_group_rules()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-id")
                .values(&group_id)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .security_group_rules()
        .iter()
        .filter(|r| r.is_egress() == Some(false))
        .map(|r| r.security_group_rule_id().unwrap().to_owned())
        .collect();
    assert_eq!(left.len(), 1, "only HTTPS stays: {left:?}");
    assert!(!left.contains(&ssh_rule));
}
