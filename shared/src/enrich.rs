//! Network enrichment: what fanin adds to a finding under `unmapped.fanin`.
//!
//! Pure functions from what the finding says and what the network inventory
//! (EC2) reports to a [`FaninContext`]. The inventory look-ups themselves are
//! batched per (account, region) by the pipeline; nothing here does I/O.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::model::{GroupRef, IngressRule, InstanceRecord, InterfaceRecord, SecurityGroupRecord};

/// What a finding says about its host's network, used when EC2 cannot be
/// asked or no longer knows the instance.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportedNetwork {
    pub vpc_id: Option<String>,
    pub subnet_id: Option<String>,
    pub interfaces: Vec<InterfaceRecord>,
    /// Addresses the finding lists without saying on which interface.
    pub loose_private_ips: Vec<String>,
    pub loose_public_ips: Vec<String>,
    pub loose_ipv6_addresses: Vec<String>,
}

/// Why a finding is or is not enriched. Stored with every record, so an
/// analyst can filter on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrichmentStatus {
    /// EC2 described the instance and its security groups.
    Enriched,
    /// The instance is terminated (or terminating): network context is what
    /// EC2 still reports, else what the finding reported.
    InstanceTerminated,
    /// EC2 no longer knows the instance: network context is what the finding reported.
    InstanceNotFound,
    /// The cross-account role could not be assumed (missing, or trust/ExternalId mismatch).
    RoleUnavailable,
    /// The role was assumed but EC2 refused the read calls.
    Ec2AccessDenied,
    /// The resource is not an EC2 instance (container image, Lambda function).
    NotApplicable,
    /// The finding names no EC2 instance.
    NoInstance,
}

impl EnrichmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enriched => "enriched",
            Self::InstanceTerminated => "instance_terminated",
            Self::InstanceNotFound => "instance_not_found",
            Self::RoleUnavailable => "role_unavailable",
            Self::Ec2AccessDenied => "ec2_access_denied",
            Self::NotApplicable => "not_applicable",
            Self::NoInstance => "no_instance",
        }
    }
}

/// The one documented key under OCSF `unmapped`: `unmapped.fanin`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaninContext {
    /// `inspector-classic` or `inspector2`.
    pub source: &'static str,
    pub enrichment: EnrichmentOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<InstanceContext>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkContext>,
    /// Source attributes OCSF has no place for (rules package, Classic
    /// attributes, Inspector2 score details, open port range...).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnrichmentOutcome {
    pub status: EnrichmentStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceContext {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    /// `{key, value}` pairs: tag keys never become index fields.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<crate::model::KeyValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetworkContext {
    /// `ec2` when EC2 described the instance now, `finding` when the context
    /// is what the source reported.
    pub observed_from: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
    pub private_ips: Vec<String>,
    pub public_ips: Vec<String>,
    pub ipv6_addresses: Vec<String>,
    pub interfaces: Vec<InterfaceRecord>,
    pub security_groups: Vec<SecurityGroupContext>,
    /// Every (protocol, port range) some attached group opens to 0.0.0.0/0 or ::/0.
    pub internet_open_ports: Vec<OpenPort>,
    /// An interface with a public address (IPv4, or any IPv6 address) has a
    /// security group that opens a port to the internet for that family, or
    /// the finding itself reports a path from an internet gateway.
    pub internet_exposed: bool,
    /// What the source's own network analysis reports (Inspector2
    /// `NETWORK_REACHABILITY`): the open ports and the path to them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reachability: Vec<ReportedReachability>,
}

/// One open port range a finding reports reachable, and by which path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportedReachability {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_port: Option<u16>,
    /// The path's steps in order, from where traffic enters.
    pub path: Vec<PathStep>,
    /// The path starts at an internet gateway.
    pub from_internet: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PathStep {
    pub component_id: String,
    pub component_type: String,
}

impl NetworkContext {
    /// The context of a finding whose only network fact is its own
    /// reachability analysis (the instance could not be described and the
    /// finding reports no addresses).
    pub fn reported_only(reachability: Vec<ReportedReachability>) -> Self {
        Self {
            observed_from: "finding",
            vpc_id: None,
            subnet_id: None,
            private_ips: Vec::new(),
            public_ips: Vec::new(),
            ipv6_addresses: Vec::new(),
            interfaces: Vec::new(),
            security_groups: Vec::new(),
            internet_open_ports: Vec::new(),
            internet_exposed: false,
            reachability,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SecurityGroupContext {
    pub group_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// False when the group's rules could not be read (only id/name known).
    pub rules_known: bool,
    pub ingress: Vec<IngressContext>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IngressContext {
    pub protocol: String,
    pub from_port: i32,
    pub to_port: i32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cidr_sources: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub source_groups: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub prefix_lists: Vec<String>,
    pub open_to_internet: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct OpenPort {
    pub protocol: String,
    pub from_port: i32,
    pub to_port: i32,
    pub group_id: String,
    pub source: String,
}

/// What the inventory said about the instance a finding names.
#[derive(Debug, Clone, Copy)]
pub enum InstanceLookup<'a> {
    Found(&'a InstanceRecord),
    NotFound,
    /// The inventory could not be asked; the status says why.
    Unavailable(EnrichmentStatus, &'a str),
}

/// Builds the enrichment of one finding; `reported` is what the finding
/// says of its network (taken, not copied, into the context when used).
pub fn enrich(
    instance_id: &str,
    lookup: InstanceLookup<'_>,
    groups: &HashMap<String, SecurityGroupRecord>,
    reported: ReportedNetwork,
) -> (EnrichmentOutcome, InstanceContext, Option<NetworkContext>) {
    let bare_instance = InstanceContext {
        id: instance_id.to_owned(),
        state: None,
        instance_type: None,
        image_id: None,
        tags: Vec::new(),
    };
    match lookup {
        InstanceLookup::Found(record) => {
            let instance = InstanceContext {
                id: record.instance_id.clone(),
                state: Some(record.state.clone()),
                instance_type: record.instance_type.clone(),
                image_id: record.image_id.clone(),
                tags: record
                    .tags
                    .iter()
                    .map(|(key, value)| crate::model::KeyValue {
                        key: key.clone(),
                        value: Some(value.clone()),
                    })
                    .collect(),
            };
            if matches!(record.state.as_str(), "terminated" | "shutting-down") {
                // A terminated instance keeps no ENIs for long: use what EC2
                // still reports, else what the finding reported.
                let network = if record.interfaces.is_empty() {
                    reported_context(reported, groups)
                } else {
                    Some(network_context("ec2", observed(record), groups))
                };
                let outcome = EnrichmentOutcome {
                    status: EnrichmentStatus::InstanceTerminated,
                    reason: Some(format!("instance is {}", record.state)),
                };
                return (outcome, instance, network);
            }
            let network = network_context("ec2", observed(record), groups);
            let outcome = EnrichmentOutcome {
                status: EnrichmentStatus::Enriched,
                reason: None,
            };
            (outcome, instance, Some(network))
        }
        InstanceLookup::NotFound => {
            let outcome = EnrichmentOutcome {
                status: EnrichmentStatus::InstanceNotFound,
                reason: Some("EC2 does not know the instance (terminated long ago?); network context as reported by the finding".into()),
            };
            (outcome, bare_instance, reported_context(reported, groups))
        }
        InstanceLookup::Unavailable(status, reason) => {
            let outcome = EnrichmentOutcome {
                status,
                reason: Some(reason.to_owned()),
            };
            (outcome, bare_instance, reported_context(reported, groups))
        }
    }
}

fn reported_context(
    reported: ReportedNetwork,
    groups: &HashMap<String, SecurityGroupRecord>,
) -> Option<NetworkContext> {
    let empty = reported.vpc_id.is_none()
        && reported.subnet_id.is_none()
        && reported.interfaces.is_empty()
        && reported.loose_private_ips.is_empty()
        && reported.loose_public_ips.is_empty()
        && reported.loose_ipv6_addresses.is_empty();
    if empty {
        return None;
    }
    Some(network_context("finding", reported, groups))
}

/// What EC2 reports about an instance's network, in the shape findings use.
fn observed(record: &InstanceRecord) -> ReportedNetwork {
    ReportedNetwork {
        vpc_id: record.vpc_id.clone(),
        subnet_id: record.subnet_id.clone(),
        interfaces: record.interfaces.clone(),
        ..Default::default()
    }
}

fn network_context(
    observed_from: &'static str,
    source: ReportedNetwork,
    groups: &HashMap<String, SecurityGroupRecord>,
) -> NetworkContext {
    let ReportedNetwork {
        vpc_id,
        subnet_id,
        interfaces,
        loose_private_ips,
        loose_public_ips,
        loose_ipv6_addresses: loose_ipv6,
    } = source;
    let mut private_ips = Vec::new();
    let mut public_ips = Vec::new();
    let mut ipv6_addresses = Vec::new();
    let mut attached: BTreeSet<GroupRef> = BTreeSet::new();
    for interface in &interfaces {
        private_ips.extend(interface.private_ips.iter().cloned());
        public_ips.extend(interface.public_ips.iter().cloned());
        ipv6_addresses.extend(interface.ipv6_addresses.iter().cloned());
        attached.extend(interface.security_groups.iter().cloned());
    }
    private_ips.extend(loose_private_ips.iter().cloned());
    public_ips.extend(loose_public_ips.iter().cloned());
    ipv6_addresses.extend(loose_ipv6.iter().cloned());
    dedup_in_order(&mut private_ips);
    dedup_in_order(&mut public_ips);
    dedup_in_order(&mut ipv6_addresses);

    let mut seen_group_ids = BTreeSet::new();
    let mut security_groups = Vec::new();
    let mut internet_open_ports = BTreeSet::new();
    for group in attached {
        if !seen_group_ids.insert(group.id.clone()) {
            continue;
        }
        let context = match groups.get(&group.id) {
            Some(record) => group_context(record, &mut internet_open_ports),
            None => SecurityGroupContext {
                group_id: group.id.clone(),
                group_name: group.name.clone(),
                vpc_id: None,
                rules_known: false,
                ingress: Vec::new(),
            },
        };
        security_groups.push(context);
    }
    let internet_open_ports: Vec<OpenPort> = internet_open_ports.into_iter().collect();
    let open_to = |group_ids: &[&str], source: &str| {
        internet_open_ports
            .iter()
            .any(|p| p.source == source && group_ids.contains(&p.group_id.as_str()))
    };
    let interface_exposed = interfaces.iter().any(|interface| {
        let ids: Vec<&str> = interface
            .security_groups
            .iter()
            .map(|g| g.id.as_str())
            .collect();
        (!interface.public_ips.is_empty() && open_to(&ids, "0.0.0.0/0"))
            || (!interface.ipv6_addresses.is_empty() && open_to(&ids, "::/0"))
    });
    let all_group_ids: Vec<&str> = security_groups
        .iter()
        .map(|g| g.group_id.as_str())
        .collect();
    let loose_exposed = !loose_public_ips.is_empty() && open_to(&all_group_ids, "0.0.0.0/0");
    let internet_exposed = interface_exposed || loose_exposed;
    NetworkContext {
        observed_from,
        vpc_id,
        subnet_id,
        private_ips,
        public_ips,
        ipv6_addresses,
        interfaces,
        security_groups,
        internet_open_ports,
        internet_exposed,
        reachability: Vec::new(),
    }
}

fn group_context(
    record: &SecurityGroupRecord,
    open: &mut BTreeSet<OpenPort>,
) -> SecurityGroupContext {
    let ingress = record
        .ingress
        .iter()
        .map(|rule| {
            let (from_port, to_port) = port_range(rule);
            let cidr_sources: Vec<String> = rule
                .ipv4_ranges
                .iter()
                .chain(&rule.ipv6_ranges)
                .cloned()
                .collect();
            let internet_sources: Vec<&String> =
                cidr_sources.iter().filter(|c| is_internet(c)).collect();
            for source in &internet_sources {
                open.insert(OpenPort {
                    protocol: rule.protocol.clone(),
                    from_port,
                    to_port,
                    group_id: record.group_id.clone(),
                    source: (*source).clone(),
                });
            }
            IngressContext {
                protocol: rule.protocol.clone(),
                from_port,
                to_port,
                open_to_internet: !internet_sources.is_empty(),
                cidr_sources,
                source_groups: rule.source_groups.clone(),
                prefix_lists: rule.prefix_lists.clone(),
            }
        })
        .collect();
    SecurityGroupContext {
        group_id: record.group_id.clone(),
        group_name: record.group_name.clone(),
        vpc_id: record.vpc_id.clone(),
        rules_known: true,
        ingress,
    }
}

/// The port range a rule opens; protocol `all` (and ICMP's -1) means every port.
fn port_range(rule: &IngressRule) -> (i32, i32) {
    match (rule.protocol.as_str(), rule.from_port, rule.to_port) {
        ("tcp" | "udp", Some(from), Some(to)) if from >= 0 && to >= 0 => (from, to),
        ("tcp" | "udp", _, _) | ("all", _, _) => (0, 65535),
        (_, Some(from), Some(to)) => (from, to),
        _ => (-1, -1),
    }
}

fn is_internet(cidr: &str) -> bool {
    matches!(cidr, "0.0.0.0/0" | "::/0")
}

fn dedup_in_order(values: &mut Vec<String>) {
    let mut seen = BTreeSet::new();
    values.retain(|v| seen.insert(v.clone()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(id: &str, rules: Vec<IngressRule>) -> SecurityGroupRecord {
        SecurityGroupRecord {
            group_id: id.into(),
            group_name: Some(format!("{id}-name")),
            vpc_id: Some("vpc-1".into()),
            ingress: rules,
        }
    }

    fn rule(
        protocol: &str,
        from: Option<i32>,
        to: Option<i32>,
        v4: &[&str],
        v6: &[&str],
    ) -> IngressRule {
        IngressRule {
            protocol: protocol.into(),
            from_port: from,
            to_port: to,
            ipv4_ranges: v4.iter().map(|s| s.to_string()).collect(),
            ipv6_ranges: v6.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn instance(state: &str, with_interface: bool) -> InstanceRecord {
        let interfaces = if with_interface {
            vec![InterfaceRecord {
                interface_id: "eni-1".into(),
                device_index: Some(0),
                subnet_id: Some("subnet-1".into()),
                vpc_id: Some("vpc-1".into()),
                private_ips: vec!["10.0.0.5".into(), "10.0.0.6".into()],
                public_ips: vec!["203.0.113.7".into()],
                ipv6_addresses: vec!["2001:db8::5".into()],
                security_groups: vec![
                    GroupRef {
                        id: "sg-web".into(),
                        name: None,
                    },
                    GroupRef {
                        id: "sg-db".into(),
                        name: None,
                    },
                ],
                ..Default::default()
            }]
        } else {
            Vec::new()
        };
        InstanceRecord {
            instance_id: "i-0123456789abcdef0".into(),
            state: state.into(),
            vpc_id: Some("vpc-1".into()),
            subnet_id: Some("subnet-1".into()),
            interfaces,
            ..Default::default()
        }
    }

    #[test]
    fn internet_open_ports_are_flagged_per_group_and_family() {
        let groups: HashMap<_, _> = [
            group(
                "sg-web",
                vec![
                    rule("tcp", Some(443), Some(443), &["0.0.0.0/0"], &["::/0"]),
                    rule("tcp", Some(22), Some(22), &["10.0.0.0/8"], &[]),
                ],
            ),
            group("sg-db", vec![rule("all", None, None, &["0.0.0.0/0"], &[])]),
        ]
        .into_iter()
        .map(|g| (g.group_id.clone(), g))
        .collect();
        let record = instance("running", true);
        let (outcome, _, network) = enrich(
            &record.instance_id,
            InstanceLookup::Found(&record),
            &groups,
            ReportedNetwork::default(),
        );
        assert_eq!(outcome.status, EnrichmentStatus::Enriched);
        let network = network.unwrap();
        assert_eq!(network.observed_from, "ec2");
        assert_eq!(network.private_ips, ["10.0.0.5", "10.0.0.6"]);
        assert_eq!(network.public_ips, ["203.0.113.7"]);
        let open: Vec<_> = network
            .internet_open_ports
            .iter()
            .map(|p| {
                (
                    p.protocol.as_str(),
                    p.from_port,
                    p.to_port,
                    p.group_id.as_str(),
                    p.source.as_str(),
                )
            })
            .collect();
        assert_eq!(
            open,
            [
                ("all", 0, 65535, "sg-db", "0.0.0.0/0"),
                ("tcp", 443, 443, "sg-web", "0.0.0.0/0"),
                ("tcp", 443, 443, "sg-web", "::/0"),
            ]
        );
        assert!(network.internet_exposed);
        let ssh = &network
            .security_groups
            .iter()
            .find(|g| g.group_id == "sg-web")
            .unwrap()
            .ingress[1];
        assert!(!ssh.open_to_internet);
    }

    #[test]
    fn terminated_and_missing_instances_fall_back_to_the_reported_network() {
        let reported = ReportedNetwork {
            vpc_id: Some("vpc-9".into()),
            subnet_id: Some("subnet-9".into()),
            loose_private_ips: vec!["10.9.9.9".into()],
            ..Default::default()
        };
        let record = instance("terminated", false);
        let groups = HashMap::new();
        let (outcome, instance, network) = enrich(
            &record.instance_id,
            InstanceLookup::Found(&record),
            &groups,
            reported.clone(),
        );
        assert_eq!(outcome.status, EnrichmentStatus::InstanceTerminated);
        assert_eq!(instance.state.as_deref(), Some("terminated"));
        let network = network.unwrap();
        assert_eq!(
            (network.observed_from, network.private_ips.as_slice()),
            ("finding", &["10.9.9.9".to_string()][..])
        );

        let (outcome, _, network) = enrich(
            "i-0123456789abcdef0",
            InstanceLookup::NotFound,
            &groups,
            reported.clone(),
        );
        assert_eq!(outcome.status, EnrichmentStatus::InstanceNotFound);
        assert_eq!(network.unwrap().vpc_id.as_deref(), Some("vpc-9"));

        let (outcome, _, _) = enrich(
            "i-0123456789abcdef0",
            InstanceLookup::Unavailable(EnrichmentStatus::RoleUnavailable, "AccessDenied"),
            &groups,
            reported.clone(),
        );
        assert_eq!(
            (outcome.status, outcome.reason.as_deref()),
            (EnrichmentStatus::RoleUnavailable, Some("AccessDenied"))
        );
    }
}
