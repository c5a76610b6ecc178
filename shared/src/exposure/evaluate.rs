//! The judge: each internet-open ingress rule of each group attached to a
//! flow-logged interface, measured against the window's traffic.
//!
//! A rule is open to the internet when its peer is `0.0.0.0/0` or `::/0`.
//! A flow counts as the rule's use when it was accepted inbound on one of the
//! interfaces the rule's group is attached to, was not return traffic of a
//! connection the interface opened (initiator `interface`), matches the
//! rule's protocol (`-1` matches all), its port range (TCP and UDP; ICMP
//! flows carry no type in the aggregates, so any ICMP flow matches an ICMP
//! rule), its address family (`0.0.0.0/0` is judged by IPv4 traffic only,
//! `::/0` by IPv6 only), and was last seen at or after the time the rule is
//! judged from. Several groups on one interface is the normal case: a flow
//! is attributed to every rule of every group that admits it.
//!
//! A rule is judged from the latest of: the window's start, its last change
//! (CloudTrail `AuthorizeSecurityGroupIngress` / `ModifySecurityGroupRules`),
//! and the first hour any of its group's interfaces was flow-logged. Only
//! interfaces with coverage (flow-log records, `NODATA` or `SKIPDATA`) in
//! the window count: with no flow logs there is no claim.
//!
//! Pure: the inventory, the traffic and the changes come in, one
//! [`RuleUsage`] per judged rule goes out.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::inventory::{Interface, Inventory, Resource};
use crate::guard::permission::{Direction, GroupRule, Peer, Permission, Protocol};

/// How many sources a record lists.
pub const TOP_SOURCES: usize = 10;
/// How many distinct observed ports a record lists.
pub const OBSERVED_PORTS: usize = 50;

/// The direction of an aggregate, relative to its interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlowDirection {
    Ingress,
    Egress,
}

/// Who opened the connection an aggregate's flows belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Initiator {
    /// The remote side: inbound use.
    Remote,
    /// The interface itself: the inbound half is return traffic, never use.
    Interface,
    /// The record cannot tell (default format, no `tcp-flags`): counted as
    /// use, the conservative side for a finding that says "unused".
    Unknown,
}

/// The security group's (and network ACL's) decision on the flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum FlowAction {
    Accept,
    Reject,
}

/// Where the source of the flows is, relative to the interface's VPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceClass {
    Internet,
    SameVpc,
    Peered,
    Private,
}

impl SourceClass {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Internet => "internet",
            Self::SameVpc => "same_vpc",
            Self::Peered => "peered",
            Self::Private => "private",
        }
    }
}

/// One source address and how many flows it sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceCount {
    pub address: String,
    pub flows: u64,
}

/// One hourly aggregate of the window, with the key fields and values the
/// judge reads (built from the archive's aggregate documents by the
/// evaluation function).
#[derive(Debug, Clone, PartialEq)]
pub struct TrafficRow {
    pub interface_id: String,
    pub direction: FlowDirection,
    pub initiator: Initiator,
    /// IANA protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6).
    pub protocol: u8,
    /// 0 for protocols without ports.
    pub dst_port: u16,
    pub action: FlowAction,
    pub source_class: SourceClass,
    /// 4 or 6.
    pub ip_version: u8,
    /// Start of the hour, epoch seconds.
    pub hour: i64,
    pub packets: u64,
    pub bytes: u64,
    pub flows: u64,
    /// The aggregate's estimate of its distinct sources.
    pub distinct_sources: u64,
    /// Its HyperLogLog sketch (`AggregateDoc`'s `hll`, base64), to count
    /// the distinct sources of several aggregates together.
    pub sketch: Option<String>,
    pub top_sources: Vec<SourceCount>,
    /// Epoch seconds.
    pub first_seen: i64,
    pub last_seen: i64,
}

/// The window's traffic of one account and region: the aggregates, and
/// which interfaces were flow-logged from which hour on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Traffic {
    pub rows: Vec<TrafficRow>,
    /// Interface id → the first hour (epoch seconds) with a coverage entry.
    pub coverage: BTreeMap<String, i64>,
}

/// How many distinct sources a set of aggregates had together:
/// [`SketchUnion`] merges their HyperLogLog sketches; [`LargestRow`] is the
/// lower bound without them.
pub trait SourceUnion {
    fn distinct_sources(&self, rows: &[&TrafficRow]) -> u64;
}

/// The largest single estimate: a lower bound of the union.
pub struct LargestRow;

impl SourceUnion for LargestRow {
    fn distinct_sources(&self, rows: &[&TrafficRow]) -> u64 {
        rows.iter().map(|r| r.distinct_sources).max().unwrap_or(0)
    }
}

/// The union of the aggregates' sketches; a row without a readable sketch
/// counts by its own estimate (the union is at least the largest).
pub struct SketchUnion;

impl SourceUnion for SketchUnion {
    fn distinct_sources(&self, rows: &[&TrafficRow]) -> u64 {
        let mut union: Option<crate::flowlogs::hll::Hll> = None;
        let mut unsketched = 0;
        for row in rows {
            let sketch = row
                .sketch
                .as_deref()
                .and_then(|text| crate::flowlogs::hll::Hll::from_base64(text).ok());
            match (sketch, union.as_mut()) {
                (Some(sketch), Some(union)) => union.merge(&sketch),
                (Some(sketch), None) => union = Some(sketch),
                (None, _) => unsketched = unsketched.max(row.distinct_sources),
            }
        }
        union.map_or(0, |u| u.estimate()).max(unsketched)
    }
}

/// The period judged and its rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Judging<'a> {
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    /// A rule judged for less than this is `too_new`.
    pub min_observation: Duration,
    /// The last change of each rule (by rule id) since the window's start.
    pub changes: &'a BTreeMap<String, DateTime<Utc>>,
}

/// The verdict on one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageState {
    /// No accepted inbound flow it admits.
    Unused,
    /// Accepted inbound flows, none from the internet.
    UsedInternally,
    /// Accepted inbound flows from the internet.
    Used,
    /// Judged for less than the minimum observation, and not seen used.
    TooNew,
}

impl UsageState {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Unused => "unused",
            Self::UsedInternally => "used_internally",
            Self::Used => "used",
            Self::TooNew => "too_new",
        }
    }
}

/// What to do with the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecommendedAction {
    /// Revoke it: nothing used it.
    Remove,
    /// Replace the internet with the sources that used it (the VPC, peers,
    /// private ranges).
    RestrictSources,
    /// Narrow the ports to those observed.
    Narrow,
    /// It is used as it stands.
    Keep,
    /// Judge it again once it has been observed long enough.
    Wait,
}

/// The recommendation, with the observed ports a narrowing keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    pub action: RecommendedAction,
    pub desc: String,
}

/// A protocol and destination port seen accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedPort {
    pub protocol: u8,
    pub port: u16,
    pub flows: u64,
}

/// Accepted inbound flows the rule admits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Accepted {
    pub flows: u64,
    pub packets: u64,
    pub bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<DateTime<Utc>>,
    /// Flows by source class (`internet`, `same_vpc`, `peered`, `private`).
    #[serde(default)]
    pub by_source_class: BTreeMap<SourceClass, u64>,
    /// Internet sources, most flows first.
    #[serde(default)]
    pub top_sources: Vec<SourceCount>,
    #[serde(default)]
    pub ports: Vec<ObservedPort>,
}

/// Rejected inbound attempts on the rule's protocol, ports and family:
/// the network ACL refused them, or nothing admitted them (scanning).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Rejected {
    pub flows: u64,
    pub packets: u64,
    pub distinct_sources: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<DateTime<Utc>>,
    #[serde(default)]
    pub top_sources: Vec<SourceCount>,
}

/// An interface the rule's group is attached to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InterfaceUse {
    pub interface_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface_type: Option<String>,
    #[serde(default)]
    pub private_ips: Vec<IpAddr>,
    #[serde(default)]
    pub public_ips: Vec<IpAddr>,
    #[serde(default)]
    pub ipv6_addresses: Vec<IpAddr>,
    pub resource: Resource,
    /// Whether the interface was flow-logged in the window (only those are
    /// judged).
    pub flow_logged: bool,
}

/// The group a rule belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupSummary {
    pub group_id: String,
    pub group_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
}

/// One internet-open ingress rule, judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleUsage {
    pub group: GroupSummary,
    pub rule_id: String,
    pub permission: Permission,
    pub state: UsageState,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub judged_from: DateTime<Utc>,
    /// Set when the rule changed in the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<DateTime<Utc>>,
    pub interfaces: Vec<InterfaceUse>,
    pub accepted: Accepted,
    pub rejected: Rejected,
    pub recommendation: Recommendation,
}

/// Whether a rule's peer is the whole internet (`0.0.0.0/0` or `::/0`), and
/// the IP version it admits.
pub fn internet_family(permission: &Permission) -> Option<u8> {
    match &permission.peer {
        Peer::Ipv4(net) if net.prefix_len() == 0 => Some(4),
        Peer::Ipv6(net) if net.prefix_len() == 0 => Some(6),
        _ => None,
    }
}

/// Judges every internet-open ingress rule of every group attached to a
/// flow-logged interface of the inventory. Ordered by group, then rule id.
pub fn evaluate(
    inventory: &Inventory,
    traffic: &Traffic,
    judging: &Judging<'_>,
    union: &dyn SourceUnion,
) -> Vec<RuleUsage> {
    let mut usages = Vec::new();
    for (group_id, group) in inventory.attached_groups() {
        let interfaces: Vec<&Interface> = inventory.interfaces_of(group_id).collect();
        let logged: BTreeSet<&str> = interfaces
            .iter()
            .map(|i| i.interface_id.as_str())
            .filter(|id| traffic.coverage.contains_key(*id))
            .collect();
        let Some(first_logged) = logged.iter().map(|id| traffic.coverage[*id]).min() else {
            continue;
        };
        let mut rules: Vec<&GroupRule> = inventory
            .rules
            .get(group_id)
            .into_iter()
            .flatten()
            .filter(|rule| rule.direction == Direction::Ingress)
            .filter(|rule| internet_family(&rule.permission).is_some())
            .collect();
        rules.sort_by(|a, b| a.rule_id.cmp(&b.rule_id));
        let summary = GroupSummary {
            group_id: group.id.clone(),
            group_name: group.name.clone(),
            vpc_id: interfaces.iter().find_map(|i| i.vpc_id.clone()),
        };
        for rule in rules {
            usages.push(judge_rule(
                &summary,
                rule,
                &interfaces,
                &logged,
                first_logged,
                traffic,
                judging,
                union,
            ));
        }
    }
    usages
}

#[allow(clippy::too_many_arguments)]
fn judge_rule(
    group: &GroupSummary,
    rule: &GroupRule,
    interfaces: &[&Interface],
    logged: &BTreeSet<&str>,
    first_logged: i64,
    traffic: &Traffic,
    judging: &Judging<'_>,
    union: &dyn SourceUnion,
) -> RuleUsage {
    let changed_at = judging.changes.get(&rule.rule_id).copied();
    let logged_from = DateTime::from_timestamp(first_logged, 0).unwrap_or(judging.window_start);
    let judged_from = [Some(judging.window_start), changed_at, Some(logged_from)]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(judging.window_start);
    let family = internet_family(&rule.permission).unwrap_or(4);
    let from = judged_from.timestamp();
    let until = judging.window_end.timestamp();
    let matching = |action: FlowAction| -> Vec<&TrafficRow> {
        traffic
            .rows
            .iter()
            .filter(|row| {
                row.action == action
                    && row.direction == FlowDirection::Ingress
                    && row.initiator != Initiator::Interface
                    && row.ip_version == family
                    && row.last_seen >= from
                    && row.hour < until
                    && logged.contains(row.interface_id.as_str())
                    && admits(&rule.permission, row.protocol, row.dst_port)
            })
            .collect()
    };
    let accepted_rows = matching(FlowAction::Accept);
    let rejected_rows = matching(FlowAction::Reject);
    let accepted = accepted_of(&accepted_rows);
    let rejected = Rejected {
        flows: rejected_rows.iter().map(|r| r.flows).sum(),
        packets: rejected_rows.iter().map(|r| r.packets).sum(),
        distinct_sources: union.distinct_sources(&rejected_rows),
        last_seen: rejected_rows
            .iter()
            .map(|r| r.last_seen)
            .max()
            .and_then(|t| DateTime::from_timestamp(t, 0)),
        top_sources: top_sources(&rejected_rows),
    };
    let from_internet = accepted
        .by_source_class
        .get(&SourceClass::Internet)
        .is_some_and(|flows| *flows > 0);
    let observed_long_enough = judging.window_end - judged_from >= judging.min_observation;
    let state = if from_internet {
        UsageState::Used
    } else if !observed_long_enough {
        UsageState::TooNew
    } else if accepted.flows > 0 {
        UsageState::UsedInternally
    } else {
        UsageState::Unused
    };
    let recommendation = recommend(state, &rule.permission, &accepted, judged_from, judging);
    RuleUsage {
        group: group.clone(),
        rule_id: rule.rule_id.clone(),
        permission: rule.permission.clone(),
        state,
        window_start: judging.window_start,
        window_end: judging.window_end,
        judged_from,
        changed_at,
        interfaces: interfaces
            .iter()
            .map(|interface| InterfaceUse {
                interface_id: interface.interface_id.clone(),
                interface_type: interface.interface_type.clone(),
                private_ips: interface.private_ips.clone(),
                public_ips: interface.public_ips.clone(),
                ipv6_addresses: interface.ipv6_addresses.clone(),
                resource: interface.resource.clone(),
                flow_logged: logged.contains(interface.interface_id.as_str()),
            })
            .collect(),
        accepted,
        rejected,
        recommendation,
    }
}

/// Whether a rule's protocol and ports admit flows of `protocol` to `port`.
fn admits(permission: &Permission, protocol: u8, port: u16) -> bool {
    match permission.protocol {
        Protocol::All => true,
        Protocol::Tcp | Protocol::Udp => {
            let number = if permission.protocol == Protocol::Tcp {
                6
            } else {
                17
            };
            protocol == number
                && permission
                    .ports
                    .is_some_and(|p| p.from <= i32::from(port) && i32::from(port) <= p.to)
        }
        // ICMP type and code are not in the aggregates: any ICMP flow.
        Protocol::Icmp => protocol == 1,
        Protocol::Icmpv6 => protocol == 58,
        Protocol::Number(n) => protocol == n,
    }
}

fn accepted_of(rows: &[&TrafficRow]) -> Accepted {
    let mut by_source_class = BTreeMap::new();
    let mut ports: BTreeMap<(u8, u16), u64> = BTreeMap::new();
    for row in rows {
        *by_source_class.entry(row.source_class).or_insert(0) += row.flows;
        *ports.entry((row.protocol, row.dst_port)).or_insert(0) += row.flows;
    }
    let internet: Vec<&TrafficRow> = rows
        .iter()
        .copied()
        .filter(|r| r.source_class == SourceClass::Internet)
        .collect();
    let mut ports: Vec<ObservedPort> = ports
        .into_iter()
        .map(|((protocol, port), flows)| ObservedPort {
            protocol,
            port,
            flows,
        })
        .collect();
    ports.sort_by(|a, b| {
        b.flows
            .cmp(&a.flows)
            .then((a.protocol, a.port).cmp(&(b.protocol, b.port)))
    });
    ports.truncate(OBSERVED_PORTS);
    ports.sort_by_key(|p| (p.protocol, p.port));
    Accepted {
        flows: rows.iter().map(|r| r.flows).sum(),
        packets: rows.iter().map(|r| r.packets).sum(),
        bytes: rows.iter().map(|r| r.bytes).sum(),
        first_seen: rows
            .iter()
            .map(|r| r.first_seen)
            .min()
            .and_then(|t| DateTime::from_timestamp(t, 0)),
        last_seen: rows
            .iter()
            .map(|r| r.last_seen)
            .max()
            .and_then(|t| DateTime::from_timestamp(t, 0)),
        by_source_class,
        top_sources: top_sources(&internet),
        ports,
    }
}

/// The sources with the most flows over all rows, [`TOP_SOURCES`] of them.
fn top_sources(rows: &[&TrafficRow]) -> Vec<SourceCount> {
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for row in rows {
        for source in &row.top_sources {
            *counts.entry(source.address.as_str()).or_insert(0) += source.flows;
        }
    }
    let mut top: Vec<SourceCount> = counts
        .into_iter()
        .map(|(address, flows)| SourceCount {
            address: address.to_owned(),
            flows,
        })
        .collect();
    top.sort_by(|a, b| b.flows.cmp(&a.flows).then(a.address.cmp(&b.address)));
    top.truncate(TOP_SOURCES);
    top
}

fn recommend(
    state: UsageState,
    permission: &Permission,
    accepted: &Accepted,
    judged_from: DateTime<Utc>,
    judging: &Judging<'_>,
) -> Recommendation {
    let since = crate::timestamps::rfc3339(&judged_from);
    let (action, desc) = match state {
        UsageState::Unused => (
            RecommendedAction::Remove,
            format!("revoke {permission}: no inbound flow it admits was accepted since {since}"),
        ),
        UsageState::UsedInternally => {
            let classes: Vec<&str> = accepted
                .by_source_class
                .keys()
                .map(SourceClass::as_str)
                .collect();
            (
                RecommendedAction::RestrictSources,
                format!(
                    "replace the internet in {permission} with the sources that used it ({}): nothing from the internet since {since}",
                    classes.join(", ")
                ),
            )
        }
        UsageState::Used => match narrower_ports(permission, accepted) {
            Some(ports) => (
                RecommendedAction::Narrow,
                format!("narrow {permission} to the ports observed: {ports}"),
            ),
            None => (
                RecommendedAction::Keep,
                format!("keep {permission}: used from the internet"),
            ),
        },
        UsageState::TooNew => (
            RecommendedAction::Wait,
            format!(
                "judged only since {since}, less than {} hours: evaluated again later",
                judging.min_observation.num_hours()
            ),
        ),
    };
    Recommendation { action, desc }
}

/// The observed ports, when they are fewer than the rule's range (a
/// range of TCP or UDP ports, or all protocols).
fn narrower_ports(permission: &Permission, accepted: &Accepted) -> Option<String> {
    let wide = match (permission.protocol, permission.ports) {
        (Protocol::All, _) => true,
        (Protocol::Tcp | Protocol::Udp, Some(ports)) => ports.to > ports.from,
        _ => false,
    };
    let observed = accepted.ports.len();
    let range = permission
        .ports
        .map_or(u64::MAX, |p| (p.to - p.from + 1) as u64);
    if !wide || observed == 0 || observed as u64 >= range {
        return None;
    }
    let named: Vec<String> = accepted
        .ports
        .iter()
        .map(|p| match p.protocol {
            6 => format!("tcp/{}", p.port),
            17 => format!("udp/{}", p.port),
            1 => "icmp".to_owned(),
            58 => "icmpv6".to_owned(),
            n => format!("protocol {n}"),
        })
        .collect();
    Some(named.join(", "))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::exposure::inventory::GroupRef;
    use crate::exposure::inventory::tests::interface;
    use crate::guard::permission::RuleItem;
    use crate::ids::{AccountId, Region};

    const HOUR: i64 = 3_600;
    const ENI_A: &str = "eni-0aaaaaaaaaaaaaaa1";
    const ENI_B: &str = "eni-0bbbbbbbbbbbbbbb2";

    fn time(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap()
    }

    fn rule(id: &str, protocol: &str, from: i32, to: i32, cidr: &str) -> GroupRule {
        let mut item = RuleItem {
            security_group_rule_id: id.into(),
            ip_protocol: protocol.into(),
            from_port: Some(from),
            to_port: Some(to),
            ..Default::default()
        };
        if cidr.contains(':') {
            item.cidr_ipv6 = Some(cidr.into());
        } else {
            item.cidr_ipv4 = Some(cidr.into());
        }
        item.to_rule().unwrap()
    }

    fn attached(id: &str, groups: &[&str]) -> Interface {
        let mut eni = interface("interface", "web", false, Some("i-0abc1234def567890"));
        eni.interface_id = id.into();
        eni.groups = groups
            .iter()
            .map(|g| GroupRef {
                id: (*g).into(),
                name: format!("{g}-name"),
            })
            .collect();
        eni
    }

    /// `web` (sg-0a) on A and B; `admin` (sg-0b) on A only.
    fn inventory(web: Vec<GroupRule>, admin: Vec<GroupRule>) -> Inventory {
        Inventory {
            account: AccountId::parse("111122223333").unwrap(),
            region: Region::parse("us-east-1").unwrap(),
            interfaces: vec![
                attached(ENI_A, &["sg-0a", "sg-0b"]),
                attached(ENI_B, &["sg-0a"]),
            ],
            rules: [("sg-0a".to_owned(), web), ("sg-0b".to_owned(), admin)].into(),
            vpcs: BTreeMap::new(),
            peerings: vec![],
        }
    }

    /// An accepted inbound TCP row from the internet on day 20.
    fn row(interface: &str, port: u16) -> TrafficRow {
        let hour = time(20, 10).timestamp();
        TrafficRow {
            interface_id: interface.into(),
            direction: FlowDirection::Ingress,
            initiator: Initiator::Remote,
            protocol: 6,
            dst_port: port,
            action: FlowAction::Accept,
            source_class: SourceClass::Internet,
            ip_version: 4,
            hour,
            packets: 10,
            bytes: 1_000,
            flows: 2,
            distinct_sources: 2,
            sketch: None,
            top_sources: vec![SourceCount {
                address: "198.51.100.7".into(),
                flows: 2,
            }],
            first_seen: hour + 60,
            last_seen: hour + 120,
        }
    }

    fn traffic(rows: Vec<TrafficRow>) -> Traffic {
        Traffic {
            rows,
            coverage: [
                (ENI_A.to_owned(), time(16, 0).timestamp()),
                (ENI_B.to_owned(), time(16, 0).timestamp()),
            ]
            .into(),
        }
    }

    fn judge_with(
        inventory: &Inventory,
        traffic: &Traffic,
        changes: &BTreeMap<String, DateTime<Utc>>,
    ) -> BTreeMap<String, RuleUsage> {
        let judging = Judging {
            window_start: time(16, 0),
            window_end: time(30, 0),
            min_observation: Duration::hours(24),
            changes,
        };
        evaluate(inventory, traffic, &judging, &LargestRow)
            .into_iter()
            .map(|usage| (usage.rule_id.clone(), usage))
            .collect()
    }

    fn judge(inventory: &Inventory, traffic: &Traffic) -> BTreeMap<String, RuleUsage> {
        judge_with(inventory, traffic, &BTreeMap::new())
    }

    #[test]
    fn a_rule_is_used_on_any_interface_of_its_group_and_only_internet_rules_are_judged() {
        let inventory = inventory(
            vec![
                rule("sgr-01", "tcp", 443, 443, "0.0.0.0/0"),
                rule("sgr-02", "tcp", 80, 80, "0.0.0.0/0"),
                rule("sgr-03", "tcp", 443, 443, "10.0.0.0/8"),
            ],
            vec![],
        );
        let usages = judge(&inventory, &traffic(vec![row(ENI_B, 443)]));
        assert_eq!(usages.keys().collect::<Vec<_>>(), ["sgr-01", "sgr-02"]);
        let https = &usages["sgr-01"];
        assert_eq!(https.state, UsageState::Used);
        assert_eq!(https.accepted.flows, 2);
        assert_eq!(
            https.accepted.last_seen,
            Some(time(20, 10) + Duration::seconds(120))
        );
        assert_eq!(https.accepted.top_sources[0].address, "198.51.100.7");
        assert_eq!(https.recommendation.action, RecommendedAction::Keep);
        assert_eq!(https.interfaces.len(), 2);
        assert_eq!(https.group.group_name, "sg-0a-name");
        let http = &usages["sgr-02"];
        assert_eq!(http.state, UsageState::Unused);
        assert_eq!(http.recommendation.action, RecommendedAction::Remove);
        assert_eq!(http.judged_from, time(16, 0));
    }

    #[test]
    fn a_flow_counts_for_every_group_on_its_interface_but_not_for_groups_elsewhere() {
        let inventory = inventory(
            vec![rule("sgr-0a1", "tcp", 22, 22, "0.0.0.0/0")],
            vec![rule("sgr-0b1", "tcp", 0, 65535, "0.0.0.0/0")],
        );
        let on_a = judge(&inventory, &traffic(vec![row(ENI_A, 22)]));
        assert_eq!(on_a["sgr-0a1"].state, UsageState::Used);
        assert_eq!(on_a["sgr-0b1"].state, UsageState::Used);
        // sg-0b is not on B: B's traffic says nothing of it.
        let on_b = judge(&inventory, &traffic(vec![row(ENI_B, 22)]));
        assert_eq!(on_b["sgr-0a1"].state, UsageState::Used);
        assert_eq!(on_b["sgr-0b1"].state, UsageState::Unused);
    }

    #[test]
    fn return_traffic_never_counts_and_unknown_initiators_do() {
        let inventory = inventory(vec![rule("sgr-01", "tcp", 0, 65535, "0.0.0.0/0")], vec![]);
        let mut returning = row(ENI_A, 49_152);
        returning.initiator = Initiator::Interface;
        assert_eq!(
            judge(&inventory, &traffic(vec![returning.clone()]))["sgr-01"].state,
            UsageState::Unused
        );
        returning.initiator = Initiator::Unknown;
        assert_eq!(
            judge(&inventory, &traffic(vec![returning]))["sgr-01"].state,
            UsageState::Used
        );
        let mut outbound = row(ENI_A, 443);
        outbound.direction = FlowDirection::Egress;
        assert_eq!(
            judge(&inventory, &traffic(vec![outbound]))["sgr-01"].state,
            UsageState::Unused
        );
    }

    #[test]
    fn ipv6_rules_are_judged_by_ipv6_traffic_only() {
        let inventory = inventory(
            vec![
                rule("sgr-04", "tcp", 443, 443, "0.0.0.0/0"),
                rule("sgr-06", "tcp", 443, 443, "::/0"),
            ],
            vec![],
        );
        let mut v6 = row(ENI_A, 443);
        v6.ip_version = 6;
        v6.top_sources[0].address = "2001:db8::7".into();
        let usages = judge(&inventory, &traffic(vec![v6]));
        assert_eq!(usages["sgr-04"].state, UsageState::Unused);
        assert_eq!(usages["sgr-06"].state, UsageState::Used);
        assert_eq!(
            usages["sgr-06"].accepted.top_sources[0].address,
            "2001:db8::7"
        );
    }

    #[test]
    fn protocols_port_ranges_and_icmp_match_as_ec2_admits() {
        let inventory = inventory(
            vec![
                rule("sgr-a11", "-1", -1, -1, "0.0.0.0/0"),
                rule("sgr-4a4", "tcp", 8000, 8999, "0.0.0.0/0"),
                rule("sgr-0d0", "udp", 8080, 8080, "0.0.0.0/0"),
                rule("sgr-1c1", "icmp", 8, -1, "0.0.0.0/0"),
                rule("sgr-6c6", "icmpv6", -1, -1, "::/0"),
            ],
            vec![],
        );
        let mut ping = row(ENI_A, 0);
        ping.protocol = 1;
        let usages = judge(&inventory, &traffic(vec![row(ENI_A, 8080), ping]));
        assert_eq!(usages["sgr-a11"].state, UsageState::Used);
        assert_eq!(usages["sgr-4a4"].state, UsageState::Used);
        assert_eq!(
            usages["sgr-0d0"].state,
            UsageState::Unused,
            "TCP is not UDP"
        );
        assert_eq!(usages["sgr-1c1"].state, UsageState::Used);
        assert_eq!(usages["sgr-6c6"].state, UsageState::Unused, "IPv4 ICMP");
        // The range saw one port of a thousand: narrow it.
        let range = &usages["sgr-4a4"];
        assert_eq!(range.recommendation.action, RecommendedAction::Narrow);
        assert!(
            range.recommendation.desc.ends_with("tcp/8080"),
            "{}",
            range.recommendation.desc
        );
        let all = &usages["sgr-a11"];
        assert_eq!(all.recommendation.action, RecommendedAction::Narrow);
        assert!(
            all.recommendation.desc.ends_with("icmp, tcp/8080"),
            "{}",
            all.recommendation.desc
        );
    }

    #[test]
    fn internal_use_rejected_scans_and_the_source_union() {
        let inventory = inventory(vec![rule("sgr-01", "tcp", 22, 22, "0.0.0.0/0")], vec![]);
        let mut internal = row(ENI_A, 22);
        internal.source_class = SourceClass::SameVpc;
        let mut peered = row(ENI_B, 22);
        peered.source_class = SourceClass::Peered;
        let mut scan = row(ENI_A, 22);
        scan.action = FlowAction::Reject;
        scan.flows = 40;
        scan.distinct_sources = 17;
        scan.top_sources = vec![
            SourceCount {
                address: "192.0.2.1".into(),
                flows: 30,
            },
            SourceCount {
                address: "192.0.2.2".into(),
                flows: 10,
            },
        ];
        let mut scan_later = scan.clone();
        scan_later.hour += HOUR;
        scan_later.last_seen += HOUR;
        scan_later.distinct_sources = 5;
        let usage = &judge(
            &inventory,
            &traffic(vec![internal, peered, scan, scan_later.clone()]),
        )["sgr-01"];
        assert_eq!(usage.state, UsageState::UsedInternally);
        assert_eq!(
            usage.recommendation.action,
            RecommendedAction::RestrictSources
        );
        assert!(
            usage.recommendation.desc.contains("(same_vpc, peered)"),
            "{}",
            usage.recommendation.desc
        );
        assert!(
            usage.accepted.top_sources.is_empty(),
            "internal sources are not listed"
        );
        assert_eq!(usage.rejected.flows, 80);
        assert_eq!(usage.rejected.distinct_sources, 17, "the largest estimate");
        assert_eq!(
            usage.rejected.last_seen,
            DateTime::from_timestamp(scan_later.last_seen, 0)
        );
        assert_eq!(usage.rejected.top_sources[0].flows, 60);
    }

    #[test]
    fn a_changed_rule_is_judged_from_its_change_and_a_young_one_is_too_new() {
        let inventory = inventory(
            vec![
                rule("sgr-01", "tcp", 22, 22, "0.0.0.0/0"),
                rule("sgr-02", "tcp", 23, 23, "0.0.0.0/0"),
            ],
            vec![],
        );
        // Used on the 20th, changed on the 25th: the use is before the change.
        let changes: BTreeMap<String, DateTime<Utc>> = [
            ("sgr-01".to_owned(), time(25, 0)),
            ("sgr-02".to_owned(), time(29, 12)),
        ]
        .into();
        let usages = judge_with(
            &inventory,
            &traffic(vec![row(ENI_A, 22), row(ENI_A, 23)]),
            &changes,
        );
        let changed = &usages["sgr-01"];
        assert_eq!(changed.judged_from, time(25, 0));
        assert_eq!(changed.changed_at, Some(time(25, 0)));
        assert_eq!(changed.state, UsageState::Unused);
        let young = &usages["sgr-02"];
        assert_eq!(young.state, UsageState::TooNew, "12 hours < 24");
        assert_eq!(young.recommendation.action, RecommendedAction::Wait);
        // Seen used from the internet after the change: used, however young.
        let mut late = row(ENI_A, 23);
        late.hour = time(29, 20).timestamp();
        late.last_seen = late.hour + 60;
        let usages = judge_with(&inventory, &traffic(vec![late]), &changes);
        assert_eq!(usages["sgr-02"].state, UsageState::Used);
    }

    #[test]
    fn only_flow_logged_interfaces_are_judged_from_their_first_hour() {
        let inventory = inventory(vec![rule("sgr-01", "tcp", 22, 22, "0.0.0.0/0")], vec![]);
        let mut partial = traffic(vec![row(ENI_B, 22)]);
        partial.coverage.remove(ENI_B);
        partial
            .coverage
            .insert(ENI_A.into(), time(18, 0).timestamp());
        let usage = &judge(&inventory, &partial)["sgr-01"];
        assert_eq!(usage.state, UsageState::Unused, "B is not flow-logged");
        assert_eq!(usage.judged_from, time(18, 0));
        let logged: Vec<bool> = usage.interfaces.iter().map(|i| i.flow_logged).collect();
        assert_eq!(logged, [true, false]);
        let none = Traffic::default();
        assert!(
            judge(&inventory, &none).is_empty(),
            "no flow logs, no claim"
        );
    }

    #[test]
    fn distinct_sources_of_several_hours_are_the_union_of_their_sketches() {
        use crate::flowlogs::hll::Hll;
        let sketch = |addresses: std::ops::Range<u32>| {
            let mut hll = Hll::new();
            for n in addresses {
                hll.insert(std::net::IpAddr::V4(std::net::Ipv4Addr::from(
                    0xC633_6400 + n,
                )));
            }
            hll
        };
        // 60 sources one hour, 60 the next, 30 of them the same: 90 in all.
        let (first, second) = (sketch(0..60), sketch(30..90));
        let mut one = row(ENI_A, 22);
        one.distinct_sources = first.estimate();
        one.sketch = Some(first.to_base64());
        let mut two = row(ENI_A, 22);
        two.distinct_sources = second.estimate();
        two.sketch = Some(second.to_base64());
        let union = SketchUnion.distinct_sources(&[&one, &two]);
        assert!((85..=95).contains(&union), "{union}");
        assert_eq!(
            LargestRow.distinct_sources(&[&one, &two]),
            one.distinct_sources.max(two.distinct_sources)
        );
        // A row without a sketch still counts by its estimate.
        let mut bare = row(ENI_A, 22);
        bare.distinct_sources = 500;
        assert_eq!(SketchUnion.distinct_sources(&[&one, &bare]), 500);
    }
}
