//! One security-group permission with one peer: the unit the guard compares.
//!
//! AWS writes permissions in four shapes, all read here into [`Permission`]:
//! - `describe_security_groups`' `IpPermissions` (PascalCase), the shape of
//!   the policy's exact sets ([`IpPermission`]);
//! - the same in camelCase as AWS Config records a group's configuration
//!   (plus Config's legacy `ipRanges` string list), also [`IpPermission`];
//! - CloudTrail's `requestParameters.ipPermissions.items[]`, each list
//!   wrapped in `{"items": [...]}` ([`TrailIpPermission`]);
//! - one security-group rule with its id, as `DescribeSecurityGroupRules`
//!   answers and CloudTrail's `responseElements.securityGroupRuleSet.items[]`
//!   carry it ([`RuleItem`]).
//!
//! An `IpPermissions` entry with several peers is several permissions here,
//! one per peer, as EC2 itself stores them (one rule id each). Two
//! permissions grant the same access when [`Permission::access`] is equal:
//! the description is not part of it.

use std::fmt;

use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

/// Why a permission cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PermissionError {
    #[error("unknown protocol {0:?} (tcp, udp, icmp, icmpv6, -1 or a number 0-255)")]
    Protocol(String),
    #[error("{protocol} needs FromPort and ToPort")]
    MissingPorts { protocol: String },
    #[error("port range {from}-{to} is not within 0-65535 with FromPort <= ToPort")]
    PortRange { from: i32, to: i32 },
    #[error("ICMP type/code {from}/{to} is not within -1-255")]
    IcmpRange { from: i32, to: i32 },
    #[error("{0:?} is not an IPv4 CIDR")]
    Ipv4(String),
    #[error("{0:?} is not an IPv6 CIDR")]
    Ipv6(String),
    #[error("{0:?} is not a prefix list id (pl-...)")]
    PrefixList(String),
    #[error("{0:?} is not a security group id (sg-...)")]
    GroupId(String),
    #[error("a rule needs exactly one peer (CIDR, prefix list or group), found {0}")]
    PeerCount(usize),
}

/// The IP protocol of a permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// `-1`: every protocol, every port.
    All,
    Tcp,
    Udp,
    Icmp,
    Icmpv6,
    /// Any other IANA protocol number: every port.
    Number(u8),
}

impl Protocol {
    /// Reads `tcp`, `udp`, `icmp`, `icmpv6`, `-1` (or `all`) or a number.
    pub fn parse(raw: &str) -> Result<Self, PermissionError> {
        let protocol = match raw.trim().to_ascii_lowercase().as_str() {
            "-1" | "all" => Self::All,
            "tcp" | "6" => Self::Tcp,
            "udp" | "17" => Self::Udp,
            "icmp" | "1" => Self::Icmp,
            "icmpv6" | "58" => Self::Icmpv6,
            other => other
                .parse::<u8>()
                .map(Self::Number)
                .map_err(|_| PermissionError::Protocol(raw.to_owned()))?,
        };
        Ok(protocol)
    }

    /// The name EC2 answers with.
    pub fn as_aws(&self) -> String {
        match self {
            Self::All => "-1".to_owned(),
            Self::Tcp => "tcp".to_owned(),
            Self::Udp => "udp".to_owned(),
            Self::Icmp => "icmp".to_owned(),
            Self::Icmpv6 => "icmpv6".to_owned(),
            Self::Number(n) => n.to_string(),
        }
    }

    /// Whether ports (or ICMP type and code) mean something for it.
    fn has_ports(&self) -> bool {
        matches!(self, Self::Tcp | Self::Udp | Self::Icmp | Self::Icmpv6)
    }
}

/// The ports of a TCP or UDP permission, or the ICMP type and code (`-1`
/// for all) of an ICMP one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ports {
    pub from: i32,
    pub to: i32,
}

impl Ports {
    /// Whether `self` allows everything `inner` does.
    pub fn contains(&self, inner: &Ports) -> bool {
        self.from <= inner.from && inner.to <= self.to
    }
}

/// Where traffic comes from (ingress) or goes to (egress).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Peer {
    Ipv4(Ipv4Net),
    Ipv6(Ipv6Net),
    PrefixList(String),
    /// A referenced security group, with its owner when another account's.
    Group {
        group_id: String,
        user_id: Option<String>,
    },
}

impl Peer {
    pub fn ipv4(raw: &str) -> Result<Self, PermissionError> {
        raw.trim()
            .parse::<Ipv4Net>()
            .map(|net| Self::Ipv4(net.trunc()))
            .map_err(|_| PermissionError::Ipv4(raw.to_owned()))
    }

    pub fn ipv6(raw: &str) -> Result<Self, PermissionError> {
        raw.trim()
            .parse::<Ipv6Net>()
            .map(|net| Self::Ipv6(net.trunc()))
            .map_err(|_| PermissionError::Ipv6(raw.to_owned()))
    }

    pub fn prefix_list(raw: &str) -> Result<Self, PermissionError> {
        if is_aws_id(raw, "pl-") {
            Ok(Self::PrefixList(raw.to_owned()))
        } else {
            Err(PermissionError::PrefixList(raw.to_owned()))
        }
    }

    pub fn group(group_id: &str, user_id: Option<&str>) -> Result<Self, PermissionError> {
        if !is_aws_id(group_id, "sg-") {
            return Err(PermissionError::GroupId(group_id.to_owned()));
        }
        Ok(Self::Group {
            group_id: group_id.to_owned(),
            user_id: user_id
                .filter(|u| u.len() == 12 && u.bytes().all(|b| b.is_ascii_digit()))
                .map(str::to_owned),
        })
    }

    /// The peer without the owner of a referenced group (EC2 fills the owner
    /// in when the request left it out, so access compares without it).
    fn access_key(&self) -> Peer {
        match self {
            Self::Group { group_id, .. } => Self::Group {
                group_id: group_id.clone(),
                user_id: None,
            },
            other => other.clone(),
        }
    }
}

/// `prefix` followed by 1 to 32 lowercase hex digits: how EC2 ids look.
pub fn is_aws_id(raw: &str, prefix: &str) -> bool {
    raw.strip_prefix(prefix).is_some_and(|rest| {
        !rest.is_empty()
            && rest.len() <= 32
            && rest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// One permission: protocol, ports and one peer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "FlatPermission", try_from = "FlatPermission")]
pub struct Permission {
    pub protocol: Protocol,
    /// `None` for protocols without ports (`-1` and numbered ones).
    pub ports: Option<Ports>,
    pub peer: Peer,
    pub description: Option<String>,
}

/// What a permission grants, without its description.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Access {
    pub protocol: Protocol,
    pub ports: Option<Ports>,
    pub peer: Peer,
}

impl Permission {
    /// Builds a permission, checking the ports against the protocol.
    pub fn new(
        protocol: Protocol,
        from_port: Option<i32>,
        to_port: Option<i32>,
        peer: Peer,
        description: Option<String>,
    ) -> Result<Self, PermissionError> {
        let ports = match protocol {
            Protocol::Tcp | Protocol::Udp => {
                let (Some(from), Some(to)) = (from_port, to_port) else {
                    return Err(PermissionError::MissingPorts {
                        protocol: protocol.as_aws(),
                    });
                };
                // EC2 answers -1/-1 for "all ports" on some old rules.
                let (from, to) = if from == -1 && to == -1 {
                    (0, 65535)
                } else {
                    (from, to)
                };
                if !(0..=65535).contains(&from) || !(0..=65535).contains(&to) || from > to {
                    return Err(PermissionError::PortRange { from, to });
                }
                Some(Ports { from, to })
            }
            Protocol::Icmp | Protocol::Icmpv6 => {
                let from = from_port.unwrap_or(-1);
                let to = to_port.unwrap_or(-1);
                if !(-1..=255).contains(&from) || !(-1..=255).contains(&to) {
                    return Err(PermissionError::IcmpRange { from, to });
                }
                Some(Ports { from, to })
            }
            Protocol::All | Protocol::Number(_) => None,
        };
        Ok(Self {
            protocol,
            ports,
            peer,
            description: description.filter(|d| !d.is_empty()),
        })
    }

    /// What it grants, for comparing permissions.
    pub fn access(&self) -> Access {
        Access {
            protocol: self.protocol,
            ports: self.ports,
            peer: self.peer.access_key(),
        }
    }

    /// Whether it allows traffic on `protocol` at `port` (any ICMP for ICMP).
    pub fn allows_port(&self, protocol: Protocol, ports: &Ports) -> bool {
        match (self.protocol, protocol) {
            (Protocol::All, _) => true,
            (a, b) if a != b => false,
            _ if !self.protocol.has_ports() => true,
            (Protocol::Icmp | Protocol::Icmpv6, _) => self.ports.is_some_and(|own| {
                (own.from == -1 || own.from == ports.from) && (own.to == -1 || own.to == ports.to)
            }),
            _ => self.ports.is_some_and(|own| own.contains(ports)),
        }
    }
}

impl fmt::Display for Permission {
    /// `tcp/443 from 0.0.0.0/0`, `all from sg-0abc`, `icmp 8/-1 from ::/0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.protocol, self.ports) {
            (Protocol::All, _) => write!(f, "all")?,
            (Protocol::Icmp | Protocol::Icmpv6, Some(p)) => {
                write!(f, "{} {}/{}", self.protocol.as_aws(), p.from, p.to)?
            }
            (protocol, Some(p)) if p.from == p.to => write!(f, "{}/{}", protocol.as_aws(), p.from)?,
            (protocol, Some(p)) => write!(f, "{}/{}-{}", protocol.as_aws(), p.from, p.to)?,
            (protocol, None) => write!(f, "{}", protocol.as_aws())?,
        }
        match &self.peer {
            Peer::Ipv4(net) => write!(f, " {net}"),
            Peer::Ipv6(net) => write!(f, " {net}"),
            Peer::PrefixList(id) => write!(f, " {id}"),
            Peer::Group { group_id, user_id } => match user_id {
                Some(user) => write!(f, " {user}/{group_id}"),
                None => write!(f, " {group_id}"),
            },
        }
    }
}

/// The flat record shape of a permission (the shape of one
/// `SecurityGroupRule`, snake_case), how records and the index carry it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlatPermission {
    pub protocol: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_port: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_port: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr_ipv4: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr_ipv6: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_list_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referenced_group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referenced_user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl From<Permission> for FlatPermission {
    fn from(permission: Permission) -> Self {
        let mut flat = FlatPermission {
            protocol: permission.protocol.as_aws(),
            from_port: permission.ports.map(|p| p.from),
            to_port: permission.ports.map(|p| p.to),
            description: permission.description,
            ..Default::default()
        };
        match permission.peer {
            Peer::Ipv4(net) => flat.cidr_ipv4 = Some(net.to_string()),
            Peer::Ipv6(net) => flat.cidr_ipv6 = Some(net.to_string()),
            Peer::PrefixList(id) => flat.prefix_list_id = Some(id),
            Peer::Group { group_id, user_id } => {
                flat.referenced_group_id = Some(group_id);
                flat.referenced_user_id = user_id;
            }
        }
        flat
    }
}

impl TryFrom<FlatPermission> for Permission {
    type Error = PermissionError;

    fn try_from(flat: FlatPermission) -> Result<Self, Self::Error> {
        let peer = one_peer(
            flat.cidr_ipv4.as_deref(),
            flat.cidr_ipv6.as_deref(),
            flat.prefix_list_id.as_deref(),
            flat.referenced_group_id.as_deref(),
            flat.referenced_user_id.as_deref(),
        )?;
        Permission::new(
            Protocol::parse(&flat.protocol)?,
            flat.from_port,
            flat.to_port,
            peer,
            flat.description,
        )
    }
}

/// The one peer of a rule given as optional fields.
fn one_peer(
    ipv4: Option<&str>,
    ipv6: Option<&str>,
    prefix_list: Option<&str>,
    group: Option<&str>,
    user: Option<&str>,
) -> Result<Peer, PermissionError> {
    let mut peers = Vec::new();
    if let Some(raw) = ipv4 {
        peers.push(Peer::ipv4(raw)?);
    }
    if let Some(raw) = ipv6 {
        peers.push(Peer::ipv6(raw)?);
    }
    if let Some(raw) = prefix_list {
        peers.push(Peer::prefix_list(raw)?);
    }
    if let Some(raw) = group {
        peers.push(Peer::group(raw, user)?);
    }
    if peers.len() != 1 {
        return Err(PermissionError::PeerCount(peers.len()));
    }
    Ok(peers.remove(0))
}

/// Whether a rule applies to traffic in or out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Ingress,
    Egress,
}

/// One rule of a group as EC2 holds it: its id and its permission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRule {
    pub rule_id: String,
    pub direction: Direction,
    pub permission: Permission,
}

// --- describe_security_groups (policy) and AWS Config ----------------------

/// One `IpPermissions` entry, in `describe_security_groups`' PascalCase (the
/// policy's shape) or AWS Config's camelCase.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpPermission {
    #[serde(rename = "IpProtocol", alias = "ipProtocol")]
    pub ip_protocol: String,
    #[serde(rename = "FromPort", alias = "fromPort", default)]
    pub from_port: Option<i32>,
    #[serde(rename = "ToPort", alias = "toPort", default)]
    pub to_port: Option<i32>,
    /// `[{CidrIp}]`; AWS Config also writes a plain list of strings here.
    #[serde(rename = "IpRanges", alias = "ipRanges", default)]
    pub ip_ranges: Vec<IpRange>,
    /// AWS Config's name for the `[{cidrIp}]` list.
    #[serde(rename = "Ipv4Ranges", alias = "ipv4Ranges", default)]
    pub ipv4_ranges: Vec<IpRange>,
    #[serde(rename = "Ipv6Ranges", alias = "ipv6Ranges", default)]
    pub ipv6_ranges: Vec<Ipv6Range>,
    #[serde(rename = "PrefixListIds", alias = "prefixListIds", default)]
    pub prefix_list_ids: Vec<PrefixListId>,
    #[serde(rename = "UserIdGroupPairs", alias = "userIdGroupPairs", default)]
    pub user_id_group_pairs: Vec<UserIdGroupPair>,
}

/// An IPv4 range: `{CidrIp, Description}` or Config's bare string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IpRange {
    Object {
        #[serde(rename = "CidrIp", alias = "cidrIp")]
        cidr_ip: String,
        #[serde(
            rename = "Description",
            alias = "description",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        description: Option<String>,
    },
    Bare(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ipv6Range {
    #[serde(rename = "CidrIpv6", alias = "cidrIpv6")]
    pub cidr_ipv6: String,
    #[serde(
        rename = "Description",
        alias = "description",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrefixListId {
    #[serde(rename = "PrefixListId", alias = "prefixListId")]
    pub prefix_list_id: String,
    #[serde(
        rename = "Description",
        alias = "description",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserIdGroupPair {
    #[serde(rename = "GroupId", alias = "groupId")]
    pub group_id: String,
    #[serde(
        rename = "UserId",
        alias = "userId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub user_id: Option<String>,
    #[serde(
        rename = "Description",
        alias = "description",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<String>,
}

impl IpPermission {
    /// One permission per peer, duplicates (Config lists IPv4 ranges twice)
    /// once.
    pub fn flatten(&self) -> Result<Vec<Permission>, PermissionError> {
        let protocol = Protocol::parse(&self.ip_protocol)?;
        let make = |peer: Peer, description: Option<&String>| {
            Permission::new(
                protocol,
                self.from_port,
                self.to_port,
                peer,
                description.cloned(),
            )
        };
        let mut out: Vec<Permission> = Vec::new();
        let mut push = |permission: Permission| {
            if !out.iter().any(|p| p.access() == permission.access()) {
                out.push(permission);
            }
        };
        for range in self.ip_ranges.iter().chain(&self.ipv4_ranges) {
            let (cidr, description) = match range {
                IpRange::Object {
                    cidr_ip,
                    description,
                } => (cidr_ip.as_str(), description.as_ref()),
                IpRange::Bare(cidr) => (cidr.as_str(), None),
            };
            push(make(Peer::ipv4(cidr)?, description)?);
        }
        for range in &self.ipv6_ranges {
            push(make(
                Peer::ipv6(&range.cidr_ipv6)?,
                range.description.as_ref(),
            )?);
        }
        for list in &self.prefix_list_ids {
            push(make(
                Peer::prefix_list(&list.prefix_list_id)?,
                list.description.as_ref(),
            )?);
        }
        for pair in &self.user_id_group_pairs {
            push(make(
                Peer::group(&pair.group_id, pair.user_id.as_deref())?,
                pair.description.as_ref(),
            )?);
        }
        Ok(out)
    }
}

// --- CloudTrail requestParameters ------------------------------------------

/// `{"items": [...]}`, CloudTrail's wrapping of every list of an EC2 call.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Items<T> {
    #[serde(default = "Vec::new")]
    pub items: Vec<T>,
}

impl<T> Default for Items<T> {
    fn default() -> Self {
        Self { items: Vec::new() }
    }
}

/// One `requestParameters.ipPermissions.items[]` entry of an EC2 call.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrailIpPermission {
    pub ip_protocol: String,
    #[serde(default)]
    pub from_port: Option<i32>,
    #[serde(default)]
    pub to_port: Option<i32>,
    #[serde(default)]
    pub groups: Items<UserIdGroupPair>,
    #[serde(default)]
    pub ip_ranges: Items<IpRange>,
    #[serde(default)]
    pub ipv6_ranges: Items<Ipv6Range>,
    #[serde(default)]
    pub prefix_list_ids: Items<PrefixListId>,
}

impl TrailIpPermission {
    /// One permission per peer.
    pub fn flatten(&self) -> Result<Vec<Permission>, PermissionError> {
        IpPermission {
            ip_protocol: self.ip_protocol.clone(),
            from_port: self.from_port,
            to_port: self.to_port,
            ip_ranges: self.ip_ranges.items.clone(),
            ipv4_ranges: Vec::new(),
            ipv6_ranges: self.ipv6_ranges.items.clone(),
            prefix_list_ids: self.prefix_list_ids.items.clone(),
            user_id_group_pairs: self.groups.items.clone(),
        }
        .flatten()
    }
}

// --- one rule with its id --------------------------------------------------

/// One security-group rule as `DescribeSecurityGroupRules` answers it and
/// CloudTrail's `responseElements.securityGroupRuleSet.items[]` records it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleItem {
    pub security_group_rule_id: String,
    #[serde(default)]
    pub group_id: Option<String>,
    #[serde(default)]
    pub group_owner_id: Option<String>,
    #[serde(default)]
    pub is_egress: bool,
    pub ip_protocol: String,
    #[serde(default)]
    pub from_port: Option<i32>,
    #[serde(default)]
    pub to_port: Option<i32>,
    #[serde(default)]
    pub cidr_ipv4: Option<String>,
    #[serde(default)]
    pub cidr_ipv6: Option<String>,
    #[serde(default)]
    pub prefix_list_id: Option<String>,
    #[serde(default)]
    pub referenced_group_info: Option<ReferencedGroup>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferencedGroup {
    #[serde(default)]
    pub group_id: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
}

impl RuleItem {
    /// The rule with its id; the rule id must look like one.
    pub fn to_rule(&self) -> Result<GroupRule, PermissionError> {
        if !is_aws_id(&self.security_group_rule_id, "sgr-") {
            return Err(PermissionError::GroupId(
                self.security_group_rule_id.clone(),
            ));
        }
        let (group, user) = match &self.referenced_group_info {
            Some(r) => (r.group_id.as_deref(), r.user_id.as_deref()),
            None => (None, None),
        };
        let peer = one_peer(
            self.cidr_ipv4.as_deref(),
            self.cidr_ipv6.as_deref(),
            self.prefix_list_id.as_deref(),
            group,
            user,
        )?;
        Ok(GroupRule {
            rule_id: self.security_group_rule_id.clone(),
            direction: if self.is_egress {
                Direction::Egress
            } else {
                Direction::Ingress
            },
            permission: Permission::new(
                Protocol::parse(&self.ip_protocol)?,
                self.from_port,
                self.to_port,
                peer,
                self.description.clone(),
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_entry_with_several_peers_is_several_permissions() {
        let entry: IpPermission = serde_json::from_value(json!({
            "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
            "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            "Ipv6Ranges": [{"CidrIpv6": "::/0", "Description": "web"}],
            "PrefixListIds": [{"PrefixListId": "pl-63a5400a"}],
            "UserIdGroupPairs": [{"GroupId": "sg-0123456789abcdef0", "UserId": "111122223333"}]
        }))
        .unwrap();
        let permissions = entry.flatten().unwrap();
        let shown: Vec<String> = permissions.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "tcp/443 0.0.0.0/0",
                "tcp/443 ::/0",
                "tcp/443 pl-63a5400a",
                "tcp/443 111122223333/sg-0123456789abcdef0"
            ]
        );
        assert_eq!(permissions[1].description.as_deref(), Some("web"));
    }

    #[test]
    fn config_camel_case_with_its_legacy_string_ranges_reads_once() {
        let entry: IpPermission = serde_json::from_value(json!({
            "ipProtocol": "-1",
            "ipRanges": ["10.0.0.0/8"],
            "ipv4Ranges": [{"cidrIp": "10.0.0.0/8"}],
            "ipv6Ranges": [], "prefixListIds": [], "userIdGroupPairs": []
        }))
        .unwrap();
        let permissions = entry.flatten().unwrap();
        assert_eq!(permissions.len(), 1);
        assert_eq!(permissions[0].to_string(), "all 10.0.0.0/8");
        assert_eq!(permissions[0].ports, None);
    }

    #[test]
    fn ports_are_checked_against_the_protocol() {
        let peer = Peer::ipv4("0.0.0.0/0").unwrap();
        assert!(matches!(
            Permission::new(Protocol::Tcp, None, None, peer.clone(), None),
            Err(PermissionError::MissingPorts { .. })
        ));
        assert!(matches!(
            Permission::new(Protocol::Tcp, Some(443), Some(80), peer.clone(), None),
            Err(PermissionError::PortRange { .. })
        ));
        let all_ports = Permission::new(Protocol::Udp, Some(-1), Some(-1), peer.clone(), None);
        assert_eq!(all_ports.unwrap().ports, Some(Ports { from: 0, to: 65535 }));
        let icmp = Permission::new(Protocol::Icmp, Some(8), Some(-1), peer.clone(), None).unwrap();
        assert_eq!(icmp.to_string(), "icmp 8/-1 0.0.0.0/0");
        let gre = Permission::new(Protocol::parse("47").unwrap(), Some(1), Some(2), peer, None);
        assert_eq!(gre.unwrap().ports, None);
        assert!(Protocol::parse("sctp").is_err());
    }

    #[test]
    fn access_ignores_the_description_and_a_referenced_groups_owner() {
        let a = Permission::new(
            Protocol::Tcp,
            Some(22),
            Some(22),
            Peer::group("sg-0abc", Some("111122223333")).unwrap(),
            Some("bastion".into()),
        )
        .unwrap();
        let b = Permission::new(
            Protocol::Tcp,
            Some(22),
            Some(22),
            Peer::group("sg-0abc", None).unwrap(),
            None,
        )
        .unwrap();
        assert_eq!(a.access(), b.access());
        assert_ne!(a, b);
    }

    #[test]
    fn cidrs_compare_by_their_network() {
        assert_eq!(
            Peer::ipv4("10.1.2.3/8").unwrap(),
            Peer::ipv4("10.0.0.0/8").unwrap()
        );
        assert!(Peer::ipv4("10.0.0.0/33").is_err());
        assert!(Peer::ipv6("2001:db8::1/64").is_ok());
        assert!(Peer::prefix_list("pl-XYZ").is_err());
        assert!(Peer::group("sg-../../etc", None).is_err());
    }

    #[test]
    fn a_rule_item_and_its_flat_record_round_trip() {
        let item: RuleItem = serde_json::from_value(json!({
            "securityGroupRuleId": "sgr-0b15794cdb17bf29c",
            "groupId": "sg-0123456789abcdef0",
            "groupOwnerId": "111122223333",
            "isEgress": false,
            "ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
            "cidrIpv6": "::/0"
        }))
        .unwrap();
        let rule = item.to_rule().unwrap();
        assert_eq!(rule.direction, Direction::Ingress);
        let flat = serde_json::to_value(&rule.permission).unwrap();
        assert_eq!(
            flat,
            json!({"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_ipv6": "::/0"})
        );
        let back: Permission = serde_json::from_value(flat).unwrap();
        assert_eq!(back, rule.permission);
        let two_peers: Result<Permission, _> = serde_json::from_value(
            json!({"protocol": "-1", "cidr_ipv4": "0.0.0.0/0", "cidr_ipv6": "::/0"}),
        );
        assert!(two_peers.is_err());
    }

    #[test]
    fn port_checks_follow_the_protocol() {
        let web = Permission::new(
            Protocol::Tcp,
            Some(80),
            Some(443),
            Peer::ipv4("0.0.0.0/0").unwrap(),
            None,
        )
        .unwrap();
        assert!(web.allows_port(Protocol::Tcp, &Ports { from: 443, to: 443 }));
        assert!(!web.allows_port(Protocol::Tcp, &Ports { from: 22, to: 22 }));
        assert!(!web.allows_port(Protocol::Udp, &Ports { from: 443, to: 443 }));
    }
}
