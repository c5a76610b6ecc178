//! The published flow-log examples of the VPC User Guide ("Flow log record
//! examples"), kept under `tests/fixtures/flowlogs/`: every line parses as
//! documented, and the aggregates say what the guide says of the traffic.

use std::sync::Arc;

use fanin::flowlogs::aggregate::{AggregateDoc, Aggregator, Coverage, DocBody, TrafficDoc};
use fanin::flowlogs::classify::{self, Direction, Initiator, NetworkMap, SourceClass};
use fanin::flowlogs::fields::Format;
use fanin::flowlogs::parse::{Action, FlowLogReader, Line, LogStatus, Record, Text, parse_record};
use fanin::ids::{AccountId, Region};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../tests/fixtures/flowlogs/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Parses the whole fixture with its header: every line must be a record.
fn records(bytes: &[u8]) -> Vec<Record<'static>> {
    let text: &'static str = Box::leak(String::from_utf8(bytes.to_vec()).unwrap().into_boxed_str());
    let mut lines = text.lines();
    let format = Format::from_header(lines.next().unwrap()).unwrap();
    lines
        .map(|line| {
            parse_record(&format, line.as_bytes()).unwrap_or_else(|e| panic!("{line}: {e}"))
        })
        .collect()
}

#[test]
fn the_reader_yields_every_published_line_with_its_number() {
    for (name, count) in [
        ("default-v2.log", 7),
        ("tcp-flags-v3.log", 8),
        ("nat-gateway.log", 6),
        ("transit-gateway.log", 4),
        ("traffic-path-v5.log", 2),
    ] {
        let bytes = fixture(name);
        let mut reader = FlowLogReader::new(&bytes[..]).unwrap();
        assert!(!reader.headerless(), "{name}");
        let mut numbers = Vec::new();
        while let Some(line) = reader.next_line().unwrap() {
            match line {
                Line::Record { line, .. } => numbers.push(line),
                Line::Malformed { line, reason, .. } => panic!("{name} line {line}: {reason}"),
            }
        }
        assert_eq!(numbers, (2..count + 2).collect::<Vec<u64>>(), "{name}");
    }
}

fn documents(name: &str, map: NetworkMap) -> (Vec<AggregateDoc>, Aggregator) {
    let mut aggregator = Aggregator::new(Arc::new(map));
    for record in records(&fixture(name)) {
        aggregator.add(&record);
    }
    let documents = aggregator.documents(
        &AccountId::parse("123456789010").unwrap(),
        &Region::parse("us-east-1").unwrap(),
        "0123456789abcdef0123456789abcdef",
    );
    (documents, aggregator)
}

fn traffic(documents: &[AggregateDoc]) -> Vec<(&AggregateDoc, &TrafficDoc)> {
    documents
        .iter()
        .filter_map(|d| Some((d, d.traffic()?)))
        .collect()
}

fn ip(text: &str) -> std::net::IpAddr {
    text.parse().unwrap()
}

#[test]
fn default_format_records_read_as_documented() {
    let records = records(&fixture("default-v2.log"));
    assert_eq!(records.len(), 7);
    let ssh = &records[0];
    assert_eq!(
        ssh.interface_id.map(Text::as_str),
        Some("eni-1235b8ca123456789")
    );
    assert_eq!(
        (ssh.srcaddr, ssh.dstaddr),
        (Some(ip("172.31.16.139")), Some(ip("172.31.16.21")))
    );
    assert_eq!(
        (ssh.dstport, ssh.protocol, ssh.action),
        (Some(22), Some(6), Some(Action::Accept))
    );
    assert_eq!(records[1].action, Some(Action::Reject));
    assert_eq!(records[2].log_status, Some(LogStatus::NoData));
    assert_eq!((records[2].srcaddr, records[2].action), (None, None));
    assert_eq!(records[3].log_status, Some(LogStatus::SkipData));
    assert_eq!(
        records[3].interface_id.map(Text::as_str),
        Some("eni-11111111aaaaaaaaa")
    );
    assert_eq!(
        records[6].srcaddr,
        Some(ip("2001:db8:1234:a100:8d6e:3477:df66:f105"))
    );
}

#[test]
fn default_format_aggregates_fall_back_without_a_network_map() {
    let (documents, aggregator) = documents("default-v2.log", NetworkMap::new());
    let stats = aggregator.stats();
    assert_eq!(
        (
            stats.records,
            stats.aggregated,
            stats.nodata,
            stats.skipdata
        ),
        (7, 5, 1, 1)
    );
    let traffic = traffic(&documents);
    let by_port = |port: u16, action: Action| {
        traffic
            .iter()
            .find(|(_, t)| t.dst_port == port && t.action == action && t.protocol == 6)
            .unwrap()
            .1
    };
    // SSH between two private addresses: the lower port is the service's.
    let ssh = by_port(22, Action::Accept);
    assert_eq!(
        (ssh.direction, ssh.initiator, ssh.source_class),
        (Direction::Ingress, Initiator::Unknown, SourceClass::Private)
    );
    let ssh_v6 = traffic.iter().find(|(_, t)| t.ip_version == 6).unwrap().1;
    assert_eq!(
        (ssh_v6.dst_port, ssh_v6.source_class, ssh_v6.direction),
        (22, SourceClass::Internet, Direction::Ingress)
    );
    assert_eq!((ssh_v6.packets, ssh_v6.bytes), (54, 8855));
    let rdp = by_port(3389, Action::Reject);
    assert_eq!((rdp.direction, rdp.flows), (Direction::Ingress, 1));
    // The ping in (accepted) and its answer out (rejected by the ACL).
    let icmp: Vec<&TrafficDoc> = traffic
        .iter()
        .filter(|(_, t)| t.protocol == 1)
        .map(|(_, t)| *t)
        .collect();
    assert_eq!(icmp.len(), 2);
    assert!(icmp.iter().any(|t| t.direction == Direction::Ingress
        && t.action == Action::Accept
        && t.source_class == SourceClass::Internet
        && t.dst_port == 0));
    assert!(
        icmp.iter()
            .any(|t| t.direction == Direction::Egress && t.action == Action::Reject)
    );
    let coverage: Vec<(&str, Coverage)> = documents
        .iter()
        .filter_map(|d| match d.body {
            DocBody::Coverage(c) if d.hour == 1431280876 / 3600 * 3600 => {
                Some((d.interface_id.as_str(), c))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        coverage,
        [
            (
                "eni-11111111aaaaaaaaa",
                Coverage {
                    records: 1,
                    nodata: 0,
                    skipdata: 1
                }
            ),
            (
                "eni-1235b8ca123456789",
                Coverage {
                    records: 1,
                    nodata: 1,
                    skipdata: 0
                }
            ),
        ]
    );
}

fn web_server_map() -> NetworkMap {
    let mut map = NetworkMap::new();
    map.insert_interface(
        "eni-1235b8ca123456789",
        Some("vpc-abcdefab012345678".into()),
        [ip("10.0.0.62")],
    );
    map.insert_vpc_cidr("vpc-abcdefab012345678", "10.0.0.0/16".parse().unwrap());
    map
}

#[test]
fn tcp_flags_tell_who_opened_each_connection() {
    let records = records(&fixture("tcp-flags-v3.log"));
    assert_eq!(
        records.len(),
        8,
        "the published double space reads as one separator"
    );
    assert_eq!(records[0].tcp_flags, Some(2));
    assert_eq!(records[1].tcp_flags, Some(18));
    assert_eq!(
        records[0].vpc_id.map(Text::as_str),
        Some("vpc-abcdefab012345678")
    );
    assert_eq!(records[0].traffic_type.map(Text::as_str), Some("IPv4"));
    assert_eq!(records[0].pkt_srcaddr, Some(ip("52.213.180.42")));
    // bytes before packets in this format.
    assert_eq!((records[0].bytes, records[0].packets), (Some(568), Some(8)));
    let (documents, _) = documents("tcp-flags-v3.log", web_server_map());
    let traffic = traffic(&documents);
    let first_hour = 1566848875 / 3600 * 3600;
    let opened = traffic
        .iter()
        .find(|(d, t)| {
            d.hour == first_hour
                && t.direction == Direction::Ingress
                && t.initiator == Initiator::Remote
        })
        .unwrap()
        .1;
    // Two SYNs from the client to port 5001.
    assert_eq!(
        (opened.dst_port, opened.flows, opened.packets, opened.bytes),
        (5001, 2, 78, 101269)
    );
    assert_eq!(
        (opened.distinct_sources, opened.source_class),
        (1, SourceClass::Internet)
    );
    assert_eq!(opened.top_sources[0].address, ip("52.213.180.42"));
    assert_eq!(
        (opened.first_seen, opened.last_seen),
        (1566848875, 1566848933)
    );
    // The server's SYN-ACKs out answer a remote: kept under the service's
    // port, one key for both client ports.
    let answered: Vec<(u16, u64)> = traffic
        .iter()
        .filter(|(d, t)| {
            d.hour == first_hour
                && t.direction == Direction::Egress
                && t.initiator == Initiator::Remote
        })
        .map(|(_, t)| (t.dst_port, t.flows))
        .collect();
    assert_eq!(answered, [(5001, 2)]);
    // The FIN-only interval: no SYN, a service port → unknown.
    let closing = traffic
        .iter()
        .find(|(_, t)| t.direction == Direction::Ingress && t.initiator == Initiator::Unknown)
        .unwrap()
        .1;
    assert_eq!((closing.dst_port, closing.bytes), (5001, 23294588));
    // The short connection of the later hour: SYN+FIN (3) in, SYN-ACK+FIN (19) out.
    let later: Vec<&TrafficDoc> = traffic
        .iter()
        .filter(|(d, _)| d.hour != first_hour)
        .map(|(_, t)| *t)
        .collect();
    assert_eq!(later.len(), 2);
    assert!(later.iter().all(|t| t.initiator == Initiator::Remote));
}

#[test]
fn nat_gateway_records_name_the_original_ends() {
    let records = records(&fixture("nat-gateway.log"));
    assert_eq!(records.len(), 6);
    assert_eq!(
        records[0].instance_id.map(Text::as_str),
        None,
        "a requester-managed interface has no instance"
    );
    assert_eq!(
        records[4].instance_id.map(Text::as_str),
        Some("i-01234567890123456")
    );
    let mut map = NetworkMap::new();
    map.insert_interface(
        "eni-1235b8ca123456789",
        Some("vpc-a".into()),
        [ip("10.0.0.220")],
    );
    map.insert_vpc_cidr("vpc-a", "10.0.0.0/16".parse().unwrap());
    let view = map.view("eni-1235b8ca123456789");
    let placed: Vec<(Direction, SourceClass)> = records[..4]
        .iter()
        .map(|r| {
            let direction = classify::direction(r, &view);
            let remote = classify::remote_address(r, direction).unwrap();
            (direction, classify::source_class(remote, &view))
        })
        .collect();
    assert_eq!(
        placed,
        [
            // The instance's packet to the internet host, in through the NAT.
            (Direction::Ingress, SourceClass::SameVpc),
            (Direction::Egress, SourceClass::Internet),
            // The host's answer, then out to the instance (pkt-dstaddr).
            (Direction::Ingress, SourceClass::Internet),
            (Direction::Egress, SourceClass::SameVpc),
        ]
    );
    // This format has no start: nothing can be put in an hour.
    let (documents, aggregator) = documents("nat-gateway.log", map);
    assert!(documents.is_empty());
    assert_eq!(aggregator.stats().incomplete, 6);
}

#[test]
fn transit_gateway_traffic_from_another_vpc_is_private_not_peered() {
    let mut map = NetworkMap::new();
    map.insert_interface(
        "eni-33333333333333333",
        Some("vpc-abcdefab012345678".into()),
        [ip("10.40.2.236")],
    );
    map.insert_vpc_cidr("vpc-abcdefab012345678", "10.40.0.0/16".parse().unwrap());
    let records = records(&fixture("transit-gateway.log"));
    assert_eq!(records[2].pkt_srcaddr, Some(ip("10.20.33.164")));
    assert_eq!(records[2].srcaddr, Some(ip("10.40.1.175")));
    let view = map.view("eni-33333333333333333");
    let request = &records[0];
    let direction = classify::direction(request, &view);
    assert_eq!(direction, Direction::Ingress);
    assert_eq!(classify::initiator(request, direction), Initiator::Remote);
    assert_eq!(
        classify::source_class(classify::remote_address(request, direction).unwrap(), &view),
        SourceClass::Private
    );
    let answer = &records[1];
    assert_eq!(classify::direction(answer, &view), Direction::Egress);
    // No start field in this format either.
    let (_, aggregator) = documents("transit-gateway.log", map);
    assert_eq!(aggregator.stats().incomplete, 4);
}

#[test]
fn version_5_fields_and_flow_direction() {
    let records = records(&fixture("traffic-path-v5.log"));
    let inbound = &records[0];
    assert_eq!(inbound.version, Some(5));
    assert_eq!(inbound.region.map(Text::as_str), Some("ap-southeast-2"));
    assert_eq!(inbound.az_id.map(Text::as_str), Some("apse2-az3"));
    assert_eq!(
        (inbound.sublocation_type, inbound.sublocation_id),
        (None, None)
    );
    assert_eq!(inbound.pkt_src_aws_service.map(Text::as_str), Some("S3"));
    assert_eq!(inbound.traffic_path, None);
    assert_eq!(records[1].traffic_path, Some(8));
    assert_eq!(records[1].pkt_dst_aws_service.map(Text::as_str), Some("S3"));
    let (documents, _) = documents("traffic-path-v5.log", NetworkMap::new());
    let traffic = traffic(&documents);
    assert_eq!(traffic.len(), 2);
    // The instance's own download from S3: return traffic, not use.
    let ingress = traffic
        .iter()
        .find(|(_, t)| t.direction == Direction::Ingress)
        .unwrap()
        .1;
    assert_eq!(
        (ingress.initiator, ingress.dst_port, ingress.bytes),
        // Kept under S3's port, not the instance's ephemeral one.
        (Initiator::Interface, 80, 15044)
    );
    let egress = traffic
        .iter()
        .find(|(_, t)| t.direction == Direction::Egress)
        .unwrap()
        .1;
    assert_eq!(
        (egress.initiator, egress.dst_port),
        (Initiator::Interface, 80)
    );
}
