//! What a record means for the interface it was logged on: its direction,
//! who opened the connection, and where the other end is.
//!
//! The [`NetworkMap`] says, per (account, region), which addresses each
//! interface has and which CIDRs its VPC and the VPCs peered with it hold.
//! It is pure data, built by `fanin::exposure::inventory` from
//! `DescribeNetworkInterfaces`, `DescribeVpcs` and
//! `DescribeVpcPeeringConnections`: create it with [`NetworkMap::new`] and
//! fill it with [`NetworkMap::insert_interface`],
//! [`NetworkMap::insert_vpc_cidr`] and [`NetworkMap::insert_peered_cidr`].
//! An interface or VPC the map does not know is not an error: the rules
//! below fall back as documented on each function.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use ipnet::{IpNet, Ipv6Net};
use serde::{Deserialize, Serialize};
use wide::u32x4;

use super::parse::{FlowDirection, Record};

/// One interface's VPC and addresses (private, public, IPv6).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceNetwork {
    pub vpc_id: Option<String>,
    pub addresses: Vec<IpAddr>,
}

/// One VPC's own CIDR blocks (IPv4 and IPv6) and those of the VPCs peered
/// with it (active peerings, the other side's blocks).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VpcNetwork {
    pub cidrs: Vec<IpNet>,
    pub peered_cidrs: Vec<IpNet>,
}

/// The interfaces and VPCs of one account and region.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkMap {
    interfaces: HashMap<String, InterfaceNetwork>,
    vpcs: HashMap<String, VpcNetwork>,
}

impl NetworkMap {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) an interface with its VPC and addresses.
    pub fn insert_interface(
        &mut self,
        interface_id: impl Into<String>,
        vpc_id: Option<String>,
        addresses: impl IntoIterator<Item = IpAddr>,
    ) {
        self.interfaces.insert(
            interface_id.into(),
            InterfaceNetwork {
                vpc_id,
                addresses: addresses.into_iter().collect(),
            },
        );
    }

    /// Adds one of a VPC's own CIDR blocks.
    pub fn insert_vpc_cidr(&mut self, vpc_id: impl Into<String>, cidr: IpNet) {
        let vpc = self.vpcs.entry(vpc_id.into()).or_default();
        if !vpc.cidrs.contains(&cidr) {
            vpc.cidrs.push(cidr);
        }
    }

    /// Adds a CIDR block of a VPC peered with `vpc_id` (call it for both
    /// sides of a peering).
    pub fn insert_peered_cidr(&mut self, vpc_id: impl Into<String>, cidr: IpNet) {
        let vpc = self.vpcs.entry(vpc_id.into()).or_default();
        if !vpc.peered_cidrs.contains(&cidr) {
            vpc.peered_cidrs.push(cidr);
        }
    }

    pub fn interface(&self, interface_id: &str) -> Option<&InterfaceNetwork> {
        self.interfaces.get(interface_id)
    }

    pub fn vpc(&self, vpc_id: &str) -> Option<&VpcNetwork> {
        self.vpcs.get(vpc_id)
    }

    pub fn interface_count(&self) -> usize {
        self.interfaces.len()
    }

    /// What the rules below need of one interface, resolved once.
    pub fn view(&self, interface_id: &str) -> InterfaceView {
        self.view_in(interface_id, &mut SharedNetworks::default())
    }

    /// [`NetworkMap::view`], with each VPC's networks built once in
    /// `shared` and held by all its interfaces' views: the aggregation of
    /// many interfaces of one VPC reads one copy, which stays in cache.
    /// `shared` is keyed by VPC id: one per map (the aggregator's, which
    /// holds one map).
    pub(crate) fn view_in(&self, interface_id: &str, shared: &mut SharedNetworks) -> InterfaceView {
        let interface = self.interface(interface_id);
        let vpc_id = interface.and_then(|i| i.vpc_id.as_deref());
        let networks = match vpc_id.and_then(|id| Some((id, self.vpc(id)?))) {
            Some((id, vpc)) => shared
                .vpcs
                .entry(id.to_owned())
                .or_insert_with(|| {
                    Arc::new(VpcNetworks {
                        vpc: Networks::new(&vpc.cidrs),
                        peered: Networks::new(&vpc.peered_cidrs),
                    })
                })
                .clone(),
            None => shared.none.clone(),
        };
        let addresses = interface.map(|i| &i.addresses[..]).unwrap_or_default();
        InterfaceView {
            known: interface.is_some(),
            first_address: addresses.first().copied(),
            more_addresses: addresses.get(1..).unwrap_or_default().to_vec(),
            v4: V4Tests::new(addresses, &networks),
            networks,
        }
    }
}

/// Each VPC's networks, built once for the views of its interfaces.
#[derive(Debug, Default)]
pub(crate) struct SharedNetworks {
    vpcs: HashMap<String, Arc<VpcNetworks>>,
    none: Arc<VpcNetworks>,
}

/// A VPC's CIDR blocks and those of the VPCs peered with it.
#[derive(Debug, Default, PartialEq, Eq)]
struct VpcNetworks {
    vpc: Networks,
    peered: Networks,
}

/// CIDR blocks as the tests of every record want them: IPv4 ones as a
/// network and a mask (one AND and one compare each), IPv6 ones as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Networks {
    v4: Vec<(u32, u32)>,
    v6: Vec<Ipv6Net>,
}

impl Networks {
    fn new(cidrs: &[IpNet]) -> Self {
        let mut networks = Self::default();
        for cidr in cidrs {
            match cidr {
                IpNet::V4(net) => networks
                    .v4
                    .push((u32::from(net.network()), u32::from(net.netmask()))),
                IpNet::V6(net) => networks.v6.push(*net),
            }
        }
        networks
    }

    fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    fn contains(&self, address: IpAddr) -> bool {
        match address {
            IpAddr::V4(v4) => {
                let bits = u32::from(v4);
                self.v4
                    .iter()
                    .any(|&(network, mask)| bits & mask == network)
            }
            IpAddr::V6(v6) => self.v6.iter().any(|net| net.contains(&v6)),
        }
    }
}

/// One interface's addresses and networks, as the aggregation holds them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InterfaceView {
    /// Whether the map knows the interface at all.
    pub known: bool,
    /// Its addresses: the first in place (most interfaces have one or
    /// two), the others apart.
    first_address: Option<IpAddr>,
    more_addresses: Vec<IpAddr>,
    /// Its VPC's networks, shared with the other interfaces of the VPC.
    networks: Arc<VpcNetworks>,
    /// The same, in place for IPv4 records, when they fit.
    pub(crate) v4: Option<V4Tests>,
}

impl InterfaceView {
    fn owns(&self, address: IpAddr) -> bool {
        self.first_address == Some(address) || self.more_addresses.contains(&address)
    }

    fn in_vpc(&self, address: IpAddr) -> bool {
        self.networks.vpc.contains(address)
    }
}

/// An interface's tests of IPv4 addresses in place, as [`place_v4`] makes
/// them: its IPv4 addresses and its VPC's and the peered VPCs' IPv4 blocks,
/// when they fit (at most [`OWN_V4`] addresses and [`BLOCKS_V4`] blocks of
/// each kind; most interfaces have one or two addresses and most VPCs one
/// block). No pointer to follow, and every test made at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct V4Tests {
    /// The interface's IPv4 addresses widened; [`NO_ADDRESS`] (no IPv4
    /// address widens to it) in the places it does not have.
    own: [u64; OWN_V4],
    vpc: BlocksV4,
    peered: BlocksV4,
    /// Whether the VPC has any block (of either family): the direction
    /// then follows the VPC's blocks, else private ranges.
    has_vpc: bool,
}

const OWN_V4: usize = 2;
const BLOCKS_V4: usize = 4;
const NO_ADDRESS: u64 = 1 << 32;

/// At most [`BLOCKS_V4`] IPv4 blocks as networks and masks; an unused place
/// is network 1 under mask 0, which no address matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BlocksV4 {
    networks: [u32; BLOCKS_V4],
    masks: [u32; BLOCKS_V4],
}

impl BlocksV4 {
    fn new(blocks: &[(u32, u32)]) -> Option<Self> {
        if blocks.len() > BLOCKS_V4 {
            return None;
        }
        let mut fitted = Self {
            networks: [1; BLOCKS_V4],
            masks: [0; BLOCKS_V4],
        };
        for (at, &(network, mask)) in blocks.iter().enumerate() {
            fitted.networks[at] = network;
            fitted.masks[at] = mask;
        }
        Some(fitted)
    }

    fn contains(&self, address: u32) -> bool {
        let masked = u32x4::splat(address) & u32x4::new(self.masks);
        masked.simd_eq(u32x4::new(self.networks)).any()
    }
}

impl V4Tests {
    fn new(addresses: &[IpAddr], networks: &VpcNetworks) -> Option<Self> {
        let mut own = [NO_ADDRESS; OWN_V4];
        let mut v4 = addresses.iter().filter_map(|address| match address {
            IpAddr::V4(v4) => Some(u64::from(u32::from(*v4))),
            IpAddr::V6(_) => None,
        });
        for place in &mut own {
            *place = v4.next().unwrap_or(NO_ADDRESS);
        }
        if v4.next().is_some() {
            return None;
        }
        Some(Self {
            own,
            vpc: BlocksV4::new(&networks.vpc.v4)?,
            peered: BlocksV4::new(&networks.peered.v4)?,
            has_vpc: !networks.vpc.is_empty(),
        })
    }

    fn owns(&self, address: u32) -> bool {
        let address = u64::from(address);
        self.own
            .iter()
            .fold(false, |owned, &own| owned | (own == address))
    }
}

/// [`direction`], [`remote_address`] and [`source_class`] at once for a
/// record of two IPv4 addresses, by an interface's [`V4Tests`]: the same
/// rules, every test made and the results combined, with no branch on the
/// addresses (they vary from record to record without a pattern, so such
/// branches mispredict). A record without `flow-direction` (every IPv4
/// record of the default format) is placed by its addresses and ports and
/// must have no `pkt-srcaddr` or `pkt-dstaddr`; one with it (custom
/// formats of version 5) takes its direction from it, and its remote end
/// from the packet-level address where there is one, which must then be
/// IPv4 too. `None` for any other record.
#[inline(always)]
pub(crate) fn place_v4(
    record: &Record<'_>,
    tests: &V4Tests,
) -> Option<(Direction, Ipv4Addr, SourceClass)> {
    let (Some(IpAddr::V4(source)), Some(IpAddr::V4(destination))) =
        (record.srcaddr, record.dstaddr)
    else {
        return None;
    };
    let (source, destination) = (u32::from(source), u32::from(destination));
    if let Some(given) = record.flow_direction {
        return place_v4_given(record, tests, given, source, destination);
    }
    if record.pkt_srcaddr.is_some() || record.pkt_dstaddr.is_some() {
        return None;
    }
    let (vpc_source, vpc_destination) =
        (tests.vpc.contains(source), tests.vpc.contains(destination));
    // Private ranges place a record only for an interface whose VPC has no
    // block (its own case, the same for all its records: a branch that
    // predicts); the remote end's is tested once it is known.
    let (inside_source, inside_destination) = if tests.has_vpc {
        (vpc_source, vpc_destination)
    } else {
        both_private_v4(source, destination)
    };
    let ports_say_egress = record
        .srcport
        .zip(record.dstport)
        .is_some_and(|(source_port, destination_port)| destination_port > source_port);
    let ingress = tests.owns(destination)
        | (!tests.owns(source)
            & ((inside_destination & !inside_source)
                | (!(inside_source & !inside_destination) & !ports_say_egress)));
    let remote = if ingress { source } else { destination };
    let in_vpc = if ingress { vpc_source } else { vpc_destination };
    let class = class_v4(in_vpc, tests.peered.contains(remote), is_private_v4(remote));
    Some((direction_of(ingress), Ipv4Addr::from(remote), class))
}

/// [`place_v4`] of a record whose format gives its direction.
#[inline(always)]
fn place_v4_given(
    record: &Record<'_>,
    tests: &V4Tests,
    given: FlowDirection,
    source: u32,
    destination: u32,
) -> Option<(Direction, Ipv4Addr, SourceClass)> {
    let ingress = given == FlowDirection::Ingress;
    let packet = std::hint::select_unpredictable(ingress, record.pkt_srcaddr, record.pkt_dstaddr);
    let remote = match packet {
        None => std::hint::select_unpredictable(ingress, source, destination),
        Some(IpAddr::V4(address)) => u32::from(address),
        Some(IpAddr::V6(_)) => return None,
    };
    let class = class_v4(
        tests.vpc.contains(remote),
        tests.peered.contains(remote),
        is_private_v4(remote),
    );
    Some((direction_of(ingress), Ipv4Addr::from(remote), class))
}

/// The class of a remote end by the first test that holds: in the VPC,
/// peered, private, else internet.
#[inline(always)]
fn class_v4(in_vpc: bool, peered: bool, private: bool) -> SourceClass {
    const CLASSES: [SourceClass; 8] = [
        SourceClass::Internet,
        SourceClass::Private,
        SourceClass::Peered,
        SourceClass::Peered,
        SourceClass::SameVpc,
        SourceClass::SameVpc,
        SourceClass::SameVpc,
        SourceClass::SameVpc,
    ];
    CLASSES[usize::from(in_vpc) << 2 | usize::from(peered) << 1 | usize::from(private)]
}

fn direction_of(ingress: bool) -> Direction {
    if ingress {
        Direction::Ingress
    } else {
        Direction::Egress
    }
}

/// The traffic's direction relative to the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Ingress,
    Egress,
}

/// Who opened the connection the record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Initiator {
    /// The other end: inbound use of the interface's open port.
    Remote,
    /// The interface itself: the record is (or answers) its own outbound
    /// connection, which a stateful security group lets back in without
    /// any inbound rule.
    Interface,
    /// The record cannot tell.
    Unknown,
}

/// Where the other end of the traffic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum SourceClass {
    Internet,
    SameVpc,
    Peered,
    Private,
}

/// The record's direction on the interface, in this order:
///
/// 1. the `flow-direction` field (version 5), when the format has it;
/// 2. the interface's own addresses (from the map): `dstaddr` or
///    `pkt-dstaddr` is one of them → ingress; else `srcaddr` or
///    `pkt-srcaddr` is → egress;
/// 3. the VPC's CIDRs: the destination in the VPC and the source not →
///    ingress; the source in it and the destination not → egress;
/// 4. private ranges (for an interface the map does not know): the
///    destination private and the source not → ingress; the reverse →
///    egress;
/// 5. otherwise (both ends alike): ingress when the destination port is
///    lower than or equal to the source port (the lower port is the
///    service's), or when a port is missing; egress otherwise.
///
/// Every fallback leans towards ingress, so a flow it cannot place may
/// count as use of an open port, never hide one: a wrong guess costs a
/// missed finding, not a false one.
pub fn direction(record: &Record<'_>, view: &InterfaceView) -> Direction {
    if let Some(direction) = record.flow_direction {
        return match direction {
            FlowDirection::Ingress => Direction::Ingress,
            FlowDirection::Egress => Direction::Egress,
        };
    }
    let destinations = [record.dstaddr, record.pkt_dstaddr];
    let sources = [record.srcaddr, record.pkt_srcaddr];
    let any = |addresses: &[Option<IpAddr>; 2], test: &dyn Fn(IpAddr) -> bool| {
        addresses.iter().flatten().any(|&address| test(address))
    };
    if any(&destinations, &|a| view.owns(a)) {
        return Direction::Ingress;
    }
    if any(&sources, &|a| view.owns(a)) {
        return Direction::Egress;
    }
    let (source, destination) = (record.srcaddr, record.dstaddr);
    if let (Some(source), Some(destination)) = (source, destination) {
        if !view.networks.vpc.is_empty() {
            match (view.in_vpc(source), view.in_vpc(destination)) {
                (false, true) => return Direction::Ingress,
                (true, false) => return Direction::Egress,
                _ => {}
            }
        } else {
            match (is_private(source), is_private(destination)) {
                (false, true) => return Direction::Ingress,
                (true, false) => return Direction::Egress,
                _ => {}
            }
        }
    }
    match (record.srcport, record.dstport) {
        (Some(source_port), Some(destination_port)) if destination_port > source_port => {
            Direction::Egress
        }
        _ => Direction::Ingress,
    }
}

/// TCP's protocol number.
pub const TCP: u8 = 6;
/// UDP's protocol number.
pub const UDP: u8 = 17;

const SYN: u16 = 0x02;
const SYN_ACK: u16 = 0x12;

/// Who opened the connection.
///
/// TCP with `tcp-flags` (version 3 and later): flags are OR-ed over the
/// interval and AWS records only FIN, SYN, RST and SYN-ACK. Ingress with
/// SYN-ACK (18) is the answer to the interface's own SYN → `interface`;
/// ingress with SYN without SYN-ACK → `remote`. Egress mirrors it (SYN-ACK
/// out: the interface answers a remote → `remote`; SYN out → `interface`).
///
/// Without flags (the default format, UDP, ICMP, or a long connection whose
/// interval saw neither SYN nor SYN-ACK): ingress to an ephemeral port
/// (≥ 32768) from a lower port is taken as the answer to a connection the
/// interface opened (`interface`, inferred); anything else is `unknown`.
/// The default format cannot tell more: `unknown` counts as use.
pub fn initiator(record: &Record<'_>, direction: Direction) -> Initiator {
    if record.protocol == Some(TCP)
        && let Some(flags) = record.tcp_flags
    {
        let answered = flags & SYN_ACK == SYN_ACK;
        let opened = flags & SYN == SYN && !answered;
        match (direction, answered, opened) {
            (Direction::Ingress, true, _) => return Initiator::Interface,
            (Direction::Ingress, false, true) => return Initiator::Remote,
            (Direction::Egress, true, _) => return Initiator::Remote,
            (Direction::Egress, false, true) => return Initiator::Interface,
            _ => {}
        }
    }
    let (Some(source_port), Some(destination_port)) = (record.srcport, record.dstport) else {
        return Initiator::Unknown;
    };
    // Selects, not branches: records of every kind come interleaved.
    let (local, remote) = std::hint::select_unpredictable(
        direction == Direction::Ingress,
        (destination_port, source_port),
        (source_port, destination_port),
    );
    std::hint::select_unpredictable(
        (local >= 32768) & (remote < local),
        Initiator::Interface,
        Initiator::Unknown,
    )
}

/// The address of the other end: the (packet-level, when the format has
/// it) source for ingress, the destination for egress. Through a NAT
/// gateway, a load balancer or a transit gateway, `pkt-srcaddr` and
/// `pkt-dstaddr` are the original ends.
pub fn remote_address(record: &Record<'_>, direction: Direction) -> Option<IpAddr> {
    match direction {
        Direction::Ingress => record.pkt_srcaddr.or(record.srcaddr),
        Direction::Egress => record.pkt_dstaddr.or(record.dstaddr),
    }
}

/// Where `address` is: in the interface's VPC → `same_vpc`; in a peered
/// VPC → `peered`; in a private range (RFC 1918, 100.64.0.0/10, fc00::/7,
/// link-local) → `private`; else `internet`.
pub fn source_class(address: IpAddr, view: &InterfaceView) -> SourceClass {
    if view.in_vpc(address) {
        SourceClass::SameVpc
    } else if view.networks.peered.contains(address) {
        SourceClass::Peered
    } else if is_private(address) {
        SourceClass::Private
    } else {
        SourceClass::Internet
    }
}

/// RFC 1918, shared address space (100.64.0.0/10), unique local (fc00::/7)
/// and link-local (169.254.0.0/16, fe80::/10).
pub fn is_private(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_private_v4(u32::from(v4)),
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            first & 0xfe00 == 0xfc00 || first & 0xffc0 == 0xfe80
        }
    }
}

/// [`is_private_v4`] of both ends, for [`place_v4`] without VPC blocks.
#[cold]
#[inline(never)]
fn both_private_v4(source: u32, destination: u32) -> (bool, bool) {
    (is_private_v4(source), is_private_v4(destination))
}

/// [`is_private`] of an IPv4 address's bits, every range tested at once.
fn is_private_v4(bits: u32) -> bool {
    // 10/8, 172.16/12, 192.168/16, 100.64/10, 169.254/16.
    (bits & 0xff00_0000 == 0x0a00_0000)
        | (bits & 0xfff0_0000 == 0xac10_0000)
        | (bits & 0xffff_0000 == 0xc0a8_0000)
        | (bits & 0xffc0_0000 == 0x6440_0000)
        | (bits & 0xffff_0000 == 0xa9fe_0000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flowlogs::fields::Format;
    use crate::flowlogs::parse::parse_record;
    use proptest::prelude::*;

    fn map() -> NetworkMap {
        let mut map = NetworkMap::new();
        map.insert_interface(
            "eni-web",
            Some("vpc-a".into()),
            ["10.0.0.62".parse().unwrap(), "52.1.1.1".parse().unwrap()],
        );
        map.insert_vpc_cidr("vpc-a", "10.0.0.0/16".parse().unwrap());
        map.insert_peered_cidr("vpc-a", "10.20.0.0/16".parse().unwrap());
        map
    }

    fn record(line: &str) -> Record<'_> {
        parse_record(
            &Format::from_header("interface-id srcaddr dstaddr srcport dstport protocol tcp-flags")
                .unwrap(),
            line.as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn networks_hold_both_families() {
        let networks = Networks::new(&[
            "10.0.0.0/16".parse().unwrap(),
            "2600:1f18:abcd::/56".parse().unwrap(),
            "192.168.7.0/24".parse().unwrap(),
        ]);
        for (address, inside) in [
            ("10.0.255.1", true),
            ("10.1.0.1", false),
            ("192.168.7.9", true),
            ("192.168.8.9", false),
            ("2600:1f18:abcd:ff::1", true),
            ("2600:1f18:abce::1", false),
        ] {
            assert_eq!(
                networks.contains(address.parse().unwrap()),
                inside,
                "{address}"
            );
        }
        assert!(Networks::new(&[]).is_empty());
    }

    #[test]
    fn direction_follows_the_documented_order() {
        let view = map().view("eni-web");
        let unknown = map().view("eni-unknown");
        assert!(!unknown.known);
        let cases = [
            // The interface's own address.
            (
                "eni-web 203.0.113.5 10.0.0.62 40000 22 6 -",
                &view,
                Direction::Ingress,
            ),
            (
                "eni-web 10.0.0.62 203.0.113.5 22 40000 6 -",
                &view,
                Direction::Egress,
            ),
            // Neither is the interface's: the VPC's CIDRs.
            (
                "eni-web 203.0.113.5 10.0.9.9 40000 22 6 -",
                &view,
                Direction::Ingress,
            ),
            (
                "eni-web 10.0.9.9 203.0.113.5 22 40000 6 -",
                &view,
                Direction::Egress,
            ),
            // Unknown interface: private ranges.
            (
                "eni-unknown 203.0.113.5 10.9.9.9 40000 22 6 -",
                &unknown,
                Direction::Ingress,
            ),
            (
                "eni-unknown 10.9.9.9 203.0.113.5 22 40000 6 -",
                &unknown,
                Direction::Egress,
            ),
            // Both alike: ports, leaning to ingress.
            (
                "eni-unknown 10.1.1.1 10.2.2.2 40000 443 6 -",
                &unknown,
                Direction::Ingress,
            ),
            (
                "eni-unknown 10.1.1.1 10.2.2.2 443 40000 6 -",
                &unknown,
                Direction::Egress,
            ),
            (
                "eni-unknown 10.1.1.1 10.2.2.2 80 80 6 -",
                &unknown,
                Direction::Ingress,
            ),
            (
                "eni-unknown 10.1.1.1 10.2.2.2 - - 1 -",
                &unknown,
                Direction::Ingress,
            ),
        ];
        for (line, view, expected) in cases {
            assert_eq!(direction(&record(line), view), expected, "{line}");
        }
        let with_field = parse_record(
            &Format::from_header("interface-id srcaddr dstaddr flow-direction").unwrap(),
            b"eni-web 10.0.0.62 203.0.113.5 ingress",
        )
        .unwrap();
        assert_eq!(direction(&with_field, &view), Direction::Ingress);
    }

    #[test]
    fn initiator_from_flags_then_ports() {
        let cases = [
            // SYN in: a remote opened it.
            (
                "eni-web 52.213.180.42 10.0.0.62 43416 5001 6 2",
                Direction::Ingress,
                Initiator::Remote,
            ),
            (
                "eni-web 52.213.180.42 10.0.0.62 43638 5001 6 3",
                Direction::Ingress,
                Initiator::Remote,
            ),
            // SYN-ACK in: the interface opened it.
            (
                "eni-web 52.213.180.42 10.0.0.62 443 40000 6 18",
                Direction::Ingress,
                Initiator::Interface,
            ),
            (
                "eni-web 52.213.180.42 10.0.0.62 443 40000 6 19",
                Direction::Ingress,
                Initiator::Interface,
            ),
            // SYN-ACK out: the interface answers a remote.
            (
                "eni-web 10.0.0.62 52.213.180.42 5001 43416 6 18",
                Direction::Egress,
                Initiator::Remote,
            ),
            (
                "eni-web 10.0.0.62 52.213.180.42 40000 443 6 2",
                Direction::Egress,
                Initiator::Interface,
            ),
            // FIN only: ports decide.
            (
                "eni-web 52.213.180.42 10.0.0.62 43418 5001 6 1",
                Direction::Ingress,
                Initiator::Unknown,
            ),
            (
                "eni-web 52.213.180.42 10.0.0.62 443 40001 6 1",
                Direction::Ingress,
                Initiator::Interface,
            ),
            // No flags (UDP, default format).
            (
                "eni-web 8.8.8.8 10.0.0.62 53 50000 17 -",
                Direction::Ingress,
                Initiator::Interface,
            ),
            (
                "eni-web 8.8.8.8 10.0.0.62 50000 53 17 -",
                Direction::Ingress,
                Initiator::Unknown,
            ),
            (
                "eni-web 203.0.113.12 10.0.0.62 0 0 1 -",
                Direction::Ingress,
                Initiator::Unknown,
            ),
            (
                "eni-web 10.0.0.62 8.8.8.8 50000 53 17 -",
                Direction::Egress,
                Initiator::Interface,
            ),
            // Both ends on the same high port: neither is the lower one.
            (
                "eni-web 8.8.8.8 10.0.0.62 50000 50000 17 -",
                Direction::Ingress,
                Initiator::Unknown,
            ),
            (
                "eni-web 10.0.0.62 8.8.8.8 32768 32767 17 -",
                Direction::Egress,
                Initiator::Interface,
            ),
        ];
        for (line, direction, expected) in cases {
            assert_eq!(initiator(&record(line), direction), expected, "{line}");
        }
    }

    #[test]
    fn source_classes() {
        let view = map().view("eni-web");
        let class = |a: &str| source_class(a.parse().unwrap(), &view);
        assert_eq!(class("10.0.3.4"), SourceClass::SameVpc);
        assert_eq!(class("10.20.3.4"), SourceClass::Peered);
        assert_eq!(class("192.168.1.1"), SourceClass::Private);
        assert_eq!(class("100.64.0.1"), SourceClass::Private);
        assert_eq!(class("fd00::1"), SourceClass::Private);
        assert_eq!(class("fe80::1"), SourceClass::Private);
        assert_eq!(class("203.0.113.12"), SourceClass::Internet);
        assert_eq!(class("2001:db8::1"), SourceClass::Internet);
    }

    /// Addresses of every kind the rules tell apart: the interface's own,
    /// in its VPC, peered, private, public.
    const ADDRESSES: [&str; 10] = [
        "10.0.0.5",
        "10.0.0.6",
        "10.0.1.9",
        "10.1.2.3",
        "172.16.5.4",
        "192.168.1.1",
        "100.64.1.1",
        "169.254.169.254",
        "52.1.2.3",
        "203.0.113.9",
    ];
    const BLOCKS: [&str; 8] = [
        "10.0.0.0/16",
        "10.0.0.0/24",
        "10.1.0.0/16",
        "172.16.0.0/12",
        "52.0.0.0/8",
        "0.0.0.0/0",
        "203.0.113.0/31",
        "2600:1f18::/56",
    ];

    fn an_address() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            4 => proptest::sample::select(&ADDRESSES[..]).prop_map(|a| a.parse().unwrap()),
            1 => any::<u32>().prop_map(|bits| IpAddr::V4(Ipv4Addr::from(bits))),
            1 => Just("2600:1f18::7".parse().unwrap()),
        ]
    }

    fn blocks() -> impl Strategy<Value = Vec<IpNet>> {
        proptest::collection::vec(
            proptest::sample::select(&BLOCKS[..]).prop_map(|b| b.parse().unwrap()),
            0..6,
        )
    }

    proptest! {
        /// The in-place IPv4 tests place a record as the rules do, for every
        /// mix of addresses and blocks, and are taken whenever they fit.
        #[test]
        fn ipv4_records_are_placed_in_place_as_by_the_rules(
            known in any::<bool>(),
            addresses in proptest::collection::vec(an_address(), 0..4),
            vpc in blocks(),
            peered in blocks(),
            source in an_address(),
            destination in an_address(),
            ports in (proptest::option::of(any::<u16>()), proptest::option::of(any::<u16>())),
            given in proptest::option::of(any::<bool>()),
            packet in (
                proptest::option::of(an_address()),
                proptest::option::of(an_address()),
            ),
        ) {
            let mut map = NetworkMap::new();
            if known {
                map.insert_interface("eni-x", Some("vpc-x".into()), addresses.clone());
            }
            for block in &vpc {
                map.insert_vpc_cidr("vpc-x", *block);
            }
            for block in &peered {
                map.insert_peered_cidr("vpc-x", *block);
            }
            let view = map.view("eni-x");
            let port = |port: Option<u16>| port.map_or("-".to_owned(), |p| p.to_string());
            let address = |a: Option<IpAddr>| a.map_or("-".to_owned(), |a| a.to_string());
            let flow = given.map_or("-", |ingress| if ingress { "ingress" } else { "egress" });
            let line = format!(
                "eni-x {source} {destination} {} {} 6 {flow} {} {}",
                port(ports.0),
                port(ports.1),
                address(packet.0),
                address(packet.1)
            );
            let format = Format::from_header(
                "interface-id srcaddr dstaddr srcport dstport protocol flow-direction pkt-srcaddr pkt-dstaddr",
            );
            let record = parse_record(&format.unwrap(), line.as_bytes()).unwrap();
            let direction = direction(&record, &view);
            let remote = remote_address(&record, direction).unwrap();
            let expected = (direction, remote, source_class(remote, &view));
            // Distinct blocks: the map keeps a block once.
            let v4 = |blocks: &[IpNet]| {
                let mut v4: Vec<_> = blocks.iter().filter(|b| matches!(b, IpNet::V4(_))).collect();
                v4.sort();
                v4.dedup();
                v4.len()
            };
            let fits = !known
                || (addresses.iter().filter(|a| a.is_ipv4()).count() <= OWN_V4
                    && v4(&vpc) <= BLOCKS_V4
                    && v4(&peered) <= BLOCKS_V4);
            prop_assert_eq!(view.v4.is_some(), fits);
            let placed = view.v4.as_ref().and_then(|tests| place_v4(&record, tests));
            // With a given direction only the remote end's packet-level
            // address counts, and must be IPv4; without, there must be none.
            let packet_fits = match given {
                Some(ingress) => {
                    let remote = if ingress { packet.0 } else { packet.1 };
                    remote.is_none_or(|a| a.is_ipv4())
                }
                None => packet == (None, None),
            };
            prop_assert_eq!(
                placed.is_some(),
                fits && source.is_ipv4() && destination.is_ipv4() && packet_fits
            );
            if let Some((direction, remote, class)) = placed {
                prop_assert_eq!((direction, IpAddr::V4(remote), class), expected, "{}", line);
            }
        }
    }
}
