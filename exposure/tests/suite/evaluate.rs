//! The evaluation on fakes: one account with two groups on two interfaces
//! (a web instance with a critical CVE and a load balancer), traffic that
//! uses some rules and not others, a rule changed hours ago, an account
//! whose read role refuses, and a bus that refuses an entry once. The
//! records put on the bus are asserted one by one.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use fanin::exposure::evaluate::{
    FlowAction, FlowDirection, Initiator, RecommendedAction, SourceClass, SourceCount, Traffic,
    TrafficRow,
};
use fanin::exposure::inventory::{GroupRef, Interface, Inventory, Resource, ResourceKind};
use fanin::exposure::record::{LinkedVulnerability, UsageRecord};
use fanin::guard::permission::{GroupRule, RuleItem};
use fanin::ids::{AccountId, Region};
use fanin_exposure::evaluate::fakes::{
    FakeArchive, FakeBus, FakeChanges, FakeNetwork, FakeSessions, FakeVulnerabilities,
};
use fanin_exposure::evaluate::{Evaluate, EvaluatePorts, EvaluateRequest, Settings};
use serde_json::json;

const ACCOUNT: &str = "111122223333";
const DENIED: &str = "444455556666";
const WEB_SG: &str = "sg-0a1b2c3d4e5f60718";
const ADMIN_SG: &str = "sg-0b1c2d3e4f5061729";
const INSTANCE_ENI: &str = "eni-0a1b2c3d4e5f60719";
const ALB_ENI: &str = "eni-0a1b2c3d4e5f6071a";
const INSTANCE: &str = "i-0a1b2c3d4e5f60720";

const HTTPS: &str = "sgr-00000000000000001";
const HTTP: &str = "sgr-00000000000000002";
const HTTPS_V6: &str = "sgr-00000000000000003";
const SSH: &str = "sgr-00000000000000004";
const ALT_HTTP: &str = "sgr-00000000000000005";
const PRIVATE: &str = "sgr-00000000000000006";
const EGRESS: &str = "sgr-00000000000000007";

fn time(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap()
}

fn account(raw: &str) -> AccountId {
    AccountId::parse(raw).unwrap()
}

fn region() -> Region {
    Region::parse("us-east-1").unwrap()
}

fn rule(id: &str, group: &str, egress: bool, protocol: &str, port: i32, cidr: &str) -> GroupRule {
    let mut item = RuleItem {
        security_group_rule_id: id.into(),
        group_id: Some(group.into()),
        is_egress: egress,
        ip_protocol: protocol.into(),
        from_port: Some(port),
        to_port: Some(port),
        ..Default::default()
    };
    if cidr.contains(':') {
        item.cidr_ipv6 = Some(cidr.into());
    } else {
        item.cidr_ipv4 = Some(cidr.into());
    }
    item.to_rule().unwrap()
}

fn interface(id: &str, description: &str, instance: Option<&str>, groups: &[&str]) -> Interface {
    Interface {
        interface_id: id.into(),
        vpc_id: Some("vpc-0a1b2c3d4e5f60718".into()),
        subnet_id: Some("subnet-0a1b2c3d4e5f60718".into()),
        interface_type: Some("interface".into()),
        description: Some(description.into()),
        requester_id: None,
        requester_managed: instance.is_none(),
        instance_id: instance.map(str::to_owned),
        private_ips: vec!["10.0.1.25".parse().unwrap()],
        public_ips: vec!["203.0.113.25".parse().unwrap()],
        ipv6_addresses: vec!["2001:db8::25".parse().unwrap()],
        groups: groups
            .iter()
            .map(|g| GroupRef {
                id: (*g).into(),
                name: if *g == WEB_SG { "web" } else { "admin" }.into(),
            })
            .collect(),
        resource: Resource {
            kind: ResourceKind::Unknown,
            uid: None,
            name: None,
        },
    }
    .classified()
}

fn inventory() -> Inventory {
    Inventory {
        account: account(ACCOUNT),
        region: region(),
        interfaces: vec![
            interface(
                INSTANCE_ENI,
                "web server",
                Some(INSTANCE),
                &[WEB_SG, ADMIN_SG],
            ),
            interface(
                ALB_ENI,
                "ELB app/public-web/50dc6c495c0c9188",
                None,
                &[WEB_SG],
            ),
        ],
        rules: [
            (
                WEB_SG.to_owned(),
                vec![
                    rule(HTTPS, WEB_SG, false, "tcp", 443, "0.0.0.0/0"),
                    rule(HTTP, WEB_SG, false, "tcp", 80, "0.0.0.0/0"),
                    rule(HTTPS_V6, WEB_SG, false, "tcp", 443, "::/0"),
                    rule(PRIVATE, WEB_SG, false, "tcp", 9000, "10.0.0.0/8"),
                    rule(EGRESS, WEB_SG, true, "-1", -1, "0.0.0.0/0"),
                ],
            ),
            (
                ADMIN_SG.to_owned(),
                vec![
                    rule(SSH, ADMIN_SG, false, "tcp", 22, "0.0.0.0/0"),
                    rule(ALT_HTTP, ADMIN_SG, false, "tcp", 8080, "0.0.0.0/0"),
                ],
            ),
        ]
        .into(),
        vpcs: BTreeMap::new(),
        peerings: vec![],
    }
}

#[allow(clippy::too_many_arguments)]
fn row(
    interface: &str,
    port: u16,
    action: FlowAction,
    initiator: Initiator,
    class: SourceClass,
    ip_version: u8,
    day: u32,
    flows: u64,
    source: &str,
) -> TrafficRow {
    let hour = time(day, 10).timestamp();
    TrafficRow {
        interface_id: interface.into(),
        direction: FlowDirection::Ingress,
        initiator,
        protocol: 6,
        dst_port: port,
        action,
        source_class: class,
        ip_version,
        hour,
        packets: flows * 5,
        bytes: flows * 500,
        flows,
        distinct_sources: flows.min(40),
        sketch: None,
        top_sources: vec![SourceCount {
            address: source.into(),
            flows,
        }],
        first_seen: hour + 5,
        last_seen: hour + 3_000,
    }
}

fn traffic() -> Traffic {
    use FlowAction::{Accept, Reject};
    use Initiator::{Interface as Own, Remote, Unknown};
    use SourceClass::{Internet, SameVpc};
    Traffic {
        rows: vec![
            // HTTPS from the internet on the load balancer.
            row(
                ALB_ENI,
                443,
                Accept,
                Remote,
                Internet,
                4,
                20,
                120,
                "198.51.100.23",
            ),
            // HTTPS over IPv6 on the instance, initiator unknown (default format).
            row(
                INSTANCE_ENI,
                443,
                Accept,
                Unknown,
                Internet,
                6,
                21,
                7,
                "2001:db8:ff::7",
            ),
            // Port 80: only return traffic of the instance's own connections,
            // and a scan the ACL rejected.
            row(
                INSTANCE_ENI,
                80,
                Accept,
                Own,
                Internet,
                4,
                22,
                300,
                "192.0.2.80",
            ),
            row(
                INSTANCE_ENI,
                80,
                Reject,
                Remote,
                Internet,
                4,
                23,
                412,
                "192.0.2.44",
            ),
            // SSH from inside the VPC only.
            row(
                INSTANCE_ENI,
                22,
                Accept,
                Remote,
                SameVpc,
                4,
                24,
                9,
                "10.0.1.5",
            ),
        ],
        coverage: [
            (INSTANCE_ENI.to_owned(), time(16, 6).timestamp()),
            (ALB_ENI.to_owned(), time(16, 6).timestamp()),
        ]
        .into(),
    }
}

fn days() -> Vec<NaiveDate> {
    (16..=30)
        .map(|day| NaiveDate::from_ymd_opt(2026, 11, day).unwrap())
        .collect()
}

struct World {
    evaluate: Evaluate,
    bus: Arc<FakeBus>,
    vulnerabilities: Arc<FakeVulnerabilities>,
    changes: Arc<FakeChanges>,
}

fn world(refuse: &[&str], changes_denied: bool) -> World {
    let bus = Arc::new(FakeBus {
        refuse: refuse.iter().map(|uid| (*uid).to_owned()).collect(),
        refusals: 1,
        ..FakeBus::default()
    });
    let vulnerabilities = Arc::new(FakeVulnerabilities {
        findings: vec![LinkedVulnerability {
            finding_uid:
                "arn:aws:inspector2:us-east-1:111122223333:finding/0f1e2d3c4b5a69788796a5b4c3d2e1f0"
                    .into(),
            instance_id: INSTANCE.into(),
            severity_id: 5,
            title: Some("CVE-2024-6387 - openssh".into()),
            cves: vec!["CVE-2024-6387".into()],
        }],
        ..FakeVulnerabilities::default()
    });
    let changes = Arc::new(FakeChanges {
        changes: [(
            (account(ACCOUNT), region()),
            [(ALT_HTTP.to_owned(), time(29, 18))].into(),
        )]
        .into(),
        denied: changes_denied,
        ..FakeChanges::default()
    });
    let ports = EvaluatePorts {
        sessions: Arc::new(FakeSessions {
            denied: BTreeSet::from([account(DENIED)]),
        }),
        network: Arc::new(FakeNetwork {
            inventories: [((account(ACCOUNT), region()), inventory())].into(),
        }),
        changes: changes.clone(),
        archive: Arc::new(FakeArchive {
            traffic: [
                ((account(ACCOUNT), region()), (days(), traffic())),
                ((account(DENIED), region()), (days(), Traffic::default())),
            ]
            .into(),
        }),
        vulnerabilities: vulnerabilities.clone(),
        bus: bus.clone(),
    };
    let settings = Settings {
        window: Duration::from_secs(14 * 86_400),
        min_observation: Duration::from_secs(24 * 3_600),
        retry_pause: Duration::ZERO,
    };
    World {
        evaluate: Evaluate::new(settings, ports),
        bus,
        vulnerabilities,
        changes,
    }
}

fn uid(group: &str, rule: &str) -> String {
    format!("{ACCOUNT}/us-east-1/{group}/{rule}")
}

fn request() -> EvaluateRequest {
    EvaluateRequest::parse(&json!({"fanin": "evaluate", "until": "2026-11-30T06:00:00Z"})).unwrap()
}

fn accepted(world: &World) -> BTreeMap<String, UsageRecord> {
    world
        .bus
        .accepted
        .lock()
        .unwrap()
        .iter()
        .map(|record| (record.uid.clone(), record.clone()))
        .collect()
}

#[tokio::test]
async fn every_internet_rule_is_judged_and_put_on_the_bus() {
    let world = world(&[&uid(WEB_SG, HTTP)], false);
    let now = time(30, 6);
    let evaluation = world.evaluate.run(&request(), now).await.unwrap();

    let records = accepted(&world);
    let states: Vec<(&str, &str)> = records
        .values()
        .map(|r| (r.usage.rule_id.as_str(), r.usage.state.as_str()))
        .collect();
    assert_eq!(
        states,
        [
            (HTTPS, "used"),
            (HTTP, "unused"),
            (HTTPS_V6, "used"),
            (SSH, "used_internally"),
            (ALT_HTTP, "too_new"),
        ],
        "the private and egress rules are not judged"
    );

    // Port 80: return traffic is not use; the scan is rejected attempts;
    // the instance's critical CVE is linked.
    let http = &records[&uid(WEB_SG, HTTP)];
    let detail = serde_json::to_value(http).unwrap();
    assert_eq!(
        detail,
        json!({
            "record_version": 1,
            "uid": uid(WEB_SG, HTTP),
            "account": ACCOUNT,
            "region": "us-east-1",
            "evaluated_at": "2026-11-30T06:00:00Z",
            "group": {"group_id": WEB_SG, "group_name": "web", "vpc_id": "vpc-0a1b2c3d4e5f60718"},
            "rule_id": HTTP,
            "permission": {"protocol": "tcp", "from_port": 80, "to_port": 80, "cidr_ipv4": "0.0.0.0/0"},
            "state": "unused",
            "window_start": "2026-11-16T06:00:00Z",
            "window_end": "2026-11-30T06:00:00Z",
            "judged_from": "2026-11-16T06:00:00Z",
            "interfaces": [
                {"interface_id": INSTANCE_ENI, "interface_type": "interface",
                 "private_ips": ["10.0.1.25"], "public_ips": ["203.0.113.25"], "ipv6_addresses": ["2001:db8::25"],
                 "resource": {"kind": "ec2_instance", "uid": INSTANCE}, "flow_logged": true},
                {"interface_id": ALB_ENI, "interface_type": "interface",
                 "private_ips": ["10.0.1.25"], "public_ips": ["203.0.113.25"], "ipv6_addresses": ["2001:db8::25"],
                 "resource": {"kind": "application_load_balancer", "uid": "app/public-web/50dc6c495c0c9188", "name": "public-web"},
                 "flow_logged": true},
            ],
            "accepted": {"flows": 0, "packets": 0, "bytes": 0, "by_source_class": {}, "top_sources": [], "ports": []},
            "rejected": {"flows": 412, "packets": 2060, "distinct_sources": 40, "last_seen": "2026-11-23T10:50:00Z",
                         "top_sources": [{"address": "192.0.2.44", "flows": 412}]},
            "recommendation": {"action": "remove",
                "desc": "revoke tcp/80 0.0.0.0/0: no inbound flow it admits was accepted since 2026-11-16T06:00:00.000Z"},
            "interface_count": 2,
            "vulnerabilities": [{
                "finding_uid": "arn:aws:inspector2:us-east-1:111122223333:finding/0f1e2d3c4b5a69788796a5b4c3d2e1f0",
                "instance_id": INSTANCE, "severity_id": 5, "title": "CVE-2024-6387 - openssh", "cves": ["CVE-2024-6387"]
            }],
        })
    );

    let https = &records[&uid(WEB_SG, HTTPS)];
    assert_eq!(https.usage.accepted.flows, 120);
    assert_eq!(https.usage.accepted.top_sources[0].address, "198.51.100.23");
    assert_eq!(
        https.usage.accepted.last_seen,
        Some(time(20, 10) + chrono::Duration::seconds(3_000))
    );
    let v6 = &records[&uid(WEB_SG, HTTPS_V6)];
    assert_eq!(v6.usage.accepted.flows, 7, "only the IPv6 flows");
    let ssh = &records[&uid(ADMIN_SG, SSH)];
    assert_eq!(
        ssh.usage.recommendation.action,
        RecommendedAction::RestrictSources
    );
    assert_eq!(
        ssh.usage.interfaces.len(),
        1,
        "admin is on the instance only"
    );
    assert_eq!(ssh.vulnerabilities.len(), 1);
    let young = &records[&uid(ADMIN_SG, ALT_HTTP)];
    assert_eq!(young.usage.judged_from, time(29, 18));
    assert_eq!(young.usage.changed_at, Some(time(29, 18)));

    // One vulnerability search for the one instance; CloudTrail asked from
    // the window's start.
    assert_eq!(
        *world.vulnerabilities.asked.lock().unwrap(),
        [vec![INSTANCE.to_owned()]]
    );
    assert_eq!(*world.changes.asked.lock().unwrap(), [time(16, 6)]);
    // Five records: one batch, then the refused one again.
    assert_eq!(*world.bus.batch_sizes.lock().unwrap(), [5, 1]);

    let summary = serde_json::to_value(&evaluation.summary).unwrap();
    assert_eq!(summary["kind"], "evaluation");
    assert_eq!(summary["accounts"], 1);
    assert_eq!(summary["rules"], 5);
    assert_eq!(summary["records"], 5);
    assert_eq!(summary["records_failed"], 0);
    assert_eq!(
        summary["by_state"],
        json!({"too_new": 1, "unused": 1, "used": 2, "used_internally": 1})
    );
    assert_eq!(
        summary["critical"], 2,
        "unused HTTP and internal SSH on the CVE"
    );
    let problems = summary["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0]
            .as_str()
            .unwrap()
            .starts_with("444455556666 us-east-1: not judged"),
        "{problems:?}"
    );
}

#[tokio::test]
async fn without_cloudtrail_rules_are_judged_from_the_window_start_and_a_stubborn_refusal_is_counted()
 {
    let world = world(&[&uid(WEB_SG, HTTPS)], true);
    // Refused three times: the fake refuses only once, so ask for more.
    let world = World {
        bus: Arc::new(FakeBus {
            refuse: [uid(WEB_SG, HTTPS)].into(),
            refusals: 10,
            ..FakeBus::default()
        }),
        ..world
    };
    let evaluate = Evaluate::new(
        world.evaluate.settings.clone(),
        EvaluatePorts {
            bus: world.bus.clone(),
            ..world.evaluate.ports.clone()
        },
    );
    let request = EvaluateRequest::parse(&json!({
        "fanin": "evaluate", "until": "2026-11-30T06:00:00Z", "accounts": [ACCOUNT]
    }))
    .unwrap();
    let evaluation = evaluate.run(&request, time(30, 6)).await.unwrap();
    let records = accepted(&world);
    assert_eq!(records.len(), 4);
    assert!(!records.contains_key(&uid(WEB_SG, HTTPS)));
    let young = &records[&uid(ADMIN_SG, ALT_HTTP)];
    assert_eq!(young.usage.state.as_str(), "unused", "no change known");
    assert_eq!(young.usage.judged_from, time(16, 6));
    assert_eq!(evaluation.summary.records, 4);
    assert_eq!(evaluation.summary.records_failed, 1);
    assert_eq!(*world.bus.batch_sizes.lock().unwrap(), [5, 1, 1]);
    assert_eq!(
        evaluation.summary.problems.len(),
        1,
        "the denied account is filtered out"
    );
    assert!(evaluation.summary.problems[0].contains("rule changes unknown"));
}
