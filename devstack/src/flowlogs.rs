//! VPC Flow Logs with known traffic, written the way AWS delivers them to S3.
//!
//! A test describes traffic as [`Flow`]s (one direction of one connection on
//! one interface, optionally with the answer AWS logs in the other
//! direction), which interfaces stayed silent (`NODATA`) or lost records
//! (`SKIPDATA`), and asks for a [`FlowLog`] in one [`Format`]: the default
//! version 2 text, a custom version 5 text with every field up to version 5,
//! or Parquet. [`FlowLog::objects`] renders the objects (pure, deterministic
//! for a seed): one per hour of traffic, named and keyed as AWS names them,
//!
//! `AWSLogs/<account>/vpcflowlogs/<region>/YYYY/MM/DD/<account>_vpcflowlogs_<region>_<flow-log-id>_<YYYYMMDDTHHmmZ>_<hash>.log.gz`
//!
//! (`.log.parquet` for Parquet; the Hive-compatible layout on request), and
//! [`put_objects`] writes them to a bucket.
//!
//! Text objects are gzip with a header line naming the fields; Parquet
//! objects are gzip-compressed Parquet whose column names are the field
//! names with `_` for `-` and whose types are the documented ones (INT_32
//! for version, ports, protocol, tcp-flags and traffic-path; INT_64 for
//! packets, bytes, start and end; STRING otherwise), every column nullable
//! (a `-` is a null).

use std::collections::BTreeMap;
use std::io::Write;
use std::net::IpAddr;
use std::sync::Arc;

use anyhow::Context;
use arrow_array::{ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use sha2::{Digest, Sha256};

/// The default format's fields (version 2), in order.
pub const DEFAULT_FIELDS: [&str; 14] = [
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
];

/// A custom format with every field of versions 2 to 5, in the documented
/// order.
pub const V5_FIELDS: [&str; 29] = [
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
    "vpc-id",
    "subnet-id",
    "instance-id",
    "tcp-flags",
    "type",
    "pkt-srcaddr",
    "pkt-dstaddr",
    "region",
    "az-id",
    "sublocation-type",
    "sublocation-id",
    "pkt-src-aws-service",
    "pkt-dst-aws-service",
    "flow-direction",
    "traffic-path",
];

/// The TCP flag values flow logs record (OR-ed over the capture window).
pub mod tcp_flags {
    pub const FIN: u8 = 1;
    pub const SYN: u8 = 2;
    pub const RST: u8 = 4;
    pub const SYN_ACK: u8 = 18;
}

/// How a flow log's records are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The default format (version 2 fields), gzip text with a header.
    DefaultText,
    /// A custom format with [`V5_FIELDS`], gzip text with a header.
    CustomV5Text,
    /// [`V5_FIELDS`] as Parquet.
    Parquet,
}

impl Format {
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Format::DefaultText => &DEFAULT_FIELDS,
            Format::CustomV5Text | Format::Parquet => &V5_FIELDS,
        }
    }

    /// The record's `version`: the highest version among the fields.
    fn version(self) -> i64 {
        match self {
            Format::DefaultText => 2,
            Format::CustomV5Text | Format::Parquet => 5,
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Format::DefaultText | Format::CustomV5Text => ".log.gz",
            Format::Parquet => ".log.parquet",
        }
    }
}

/// Where in the bucket the objects go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// `AWSLogs/<account>/vpcflowlogs/<region>/YYYY/MM/DD/`
    #[default]
    Plain,
    /// `AWSLogs/aws-account-id=<account>/aws-service=vpcflowlogs/aws-region=<region>/year=YYYY/month=MM/day=DD/`
    Hive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Accept,
    Reject,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Accept => "ACCEPT",
            Action::Reject => "REJECT",
        }
    }
}

/// The direction of a record relative to the interface it is logged on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }

    fn reverse(self) -> Direction {
        match self {
            Direction::Ingress => Direction::Egress,
            Direction::Egress => Direction::Ingress,
        }
    }
}

/// What the v3-v5 fields say about an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceFacts {
    pub interface_id: String,
    pub vpc_id: String,
    pub subnet_id: String,
    /// `None` for an interface that is not an instance's (`-`).
    pub instance_id: Option<String>,
    pub az_id: String,
}

/// One direction of one connection on one interface, as one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    pub interface_id: String,
    pub direction: Direction,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    /// IANA protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6).
    pub protocol: u8,
    pub action: Action,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub packets: u64,
    pub bytes: u64,
    /// OR of [`tcp_flags`] (0 for UDP and ICMP).
    pub tcp_flags: u8,
    /// Also write the other direction of an accepted connection (the
    /// answer: addresses and ports swapped, SYN becomes SYN-ACK).
    pub with_reply: bool,
    /// `traffic-path` of an egress record (1 same VPC, 8 internet gateway);
    /// `None` writes `-`.
    pub traffic_path: Option<u8>,
}

impl Flow {
    /// A TCP connection `remote` opened to `local:port` on `interface_id`,
    /// accepted or rejected; accepted ones are logged both ways.
    #[allow(clippy::too_many_arguments)]
    pub fn inbound_tcp(
        interface_id: &str,
        remote: IpAddr,
        remote_port: u16,
        local: IpAddr,
        port: u16,
        action: Action,
        start: DateTime<Utc>,
        packets: u64,
    ) -> Flow {
        let accepted = action == Action::Accept;
        Flow {
            interface_id: interface_id.to_owned(),
            direction: Direction::Ingress,
            src: remote,
            dst: local,
            src_port: remote_port,
            dst_port: port,
            protocol: 6,
            action,
            start,
            end: start + chrono::Duration::seconds(50),
            packets,
            bytes: packets * 60,
            tcp_flags: if accepted {
                tcp_flags::SYN | tcp_flags::FIN
            } else {
                tcp_flags::SYN
            },
            with_reply: accepted,
            traffic_path: None,
        }
    }

    /// A TCP connection `local` on `interface_id` opened to `remote:port`
    /// (accepted, logged both ways): its answer arrives at the interface's
    /// `local_port` from `remote:port`.
    pub fn outbound_tcp(
        interface_id: &str,
        local: IpAddr,
        local_port: u16,
        remote: IpAddr,
        port: u16,
        start: DateTime<Utc>,
        packets: u64,
    ) -> Flow {
        Flow {
            interface_id: interface_id.to_owned(),
            direction: Direction::Egress,
            src: local,
            dst: remote,
            src_port: local_port,
            dst_port: port,
            protocol: 6,
            action: Action::Accept,
            start,
            end: start + chrono::Duration::seconds(50),
            packets,
            bytes: packets * 400,
            tcp_flags: tcp_flags::SYN | tcp_flags::FIN,
            with_reply: true,
            traffic_path: Some(8),
        }
    }

    /// The answer's record: the other direction, addresses and ports
    /// swapped; a SYN is answered by SYN-ACK.
    fn reply(&self) -> Flow {
        let mut flags = 0;
        if self.tcp_flags & tcp_flags::SYN != 0 {
            flags |= tcp_flags::SYN_ACK;
        }
        flags |= self.tcp_flags & (tcp_flags::FIN | tcp_flags::RST);
        Flow {
            interface_id: self.interface_id.clone(),
            direction: self.direction.reverse(),
            src: self.dst,
            dst: self.src,
            src_port: self.dst_port,
            dst_port: self.src_port,
            protocol: self.protocol,
            action: self.action,
            start: self.start,
            end: self.end,
            packets: self.packets,
            bytes: self.bytes.saturating_mul(3),
            tcp_flags: flags,
            with_reply: false,
            traffic_path: match self.direction {
                // The answer to inbound traffic leaves the way it came.
                Direction::Ingress => self.traffic_path.or(Some(8)),
                Direction::Egress => None,
            },
        }
    }
}

/// A capture window with no record for an interface: `NODATA` (nothing
/// flowed) or `SKIPDATA` (records were lost).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    pub interface_id: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub skipped: bool,
}

/// One flow log (one `fl-…` id) of one account and region, and its traffic.
#[derive(Debug, Clone)]
pub struct FlowLog {
    pub account: String,
    pub region: String,
    pub flow_log_id: String,
    pub format: Format,
    pub layout: Layout,
    /// Optional key prefix before `AWSLogs/` (the flow log's destination
    /// folder), without a trailing slash.
    pub prefix: Option<String>,
    /// Also partition by hour (`HH/` or `hour=HH/`).
    pub hourly_partitions: bool,
    pub interfaces: Vec<InterfaceFacts>,
    pub flows: Vec<Flow>,
    pub gaps: Vec<Gap>,
    /// Lines written as garbage at the end of the first text object (none
    /// for Parquet, which has no lines).
    pub malformed_lines: usize,
    /// Seeds the objects' hashes.
    pub seed: u64,
}

/// One object as AWS would deliver it.
#[derive(Debug, Clone)]
pub struct FlowLogObject {
    pub key: String,
    pub body: Vec<u8>,
    /// Records written (traffic, NODATA and SKIPDATA; malformed lines not).
    pub records: usize,
    pub malformed_lines: usize,
    /// The hour the object covers.
    pub hour: DateTime<Utc>,
}

/// One record's fields before they are written.
struct Row<'a> {
    interface: Option<&'a InterfaceFacts>,
    interface_id: &'a str,
    flow: Option<Flow>,
    start: i64,
    end: i64,
    log_status: &'static str,
}

/// A field's value: a number, a string or `-`.
enum Value {
    Int(i64),
    Text(String),
    Missing,
}

impl FlowLog {
    /// A flow log in `format` with no traffic yet.
    pub fn new(account: &str, region: &str, flow_log_id: &str, format: Format) -> FlowLog {
        FlowLog {
            account: account.to_owned(),
            region: region.to_owned(),
            flow_log_id: flow_log_id.to_owned(),
            format,
            layout: Layout::Plain,
            prefix: None,
            hourly_partitions: false,
            interfaces: Vec::new(),
            flows: Vec::new(),
            gaps: Vec::new(),
            malformed_lines: 0,
            seed: 0,
        }
    }

    /// Renders the objects, one per hour that has records, in time order.
    pub fn objects(&self) -> anyhow::Result<Vec<FlowLogObject>> {
        let mut hours: BTreeMap<i64, Vec<Row<'_>>> = BTreeMap::new();
        for flow in &self.flows {
            let mut records = vec![flow.clone()];
            if flow.with_reply && flow.action == Action::Accept {
                records.push(flow.reply());
            }
            for record in records {
                hours
                    .entry(hour_of(record.start))
                    .or_default()
                    .push(self.row_of_flow(record));
            }
        }
        for gap in &self.gaps {
            hours.entry(hour_of(gap.start)).or_default().push(Row {
                interface: self.interface(&gap.interface_id),
                interface_id: &gap.interface_id,
                flow: None,
                start: gap.start.timestamp(),
                end: gap.end.timestamp(),
                log_status: if gap.skipped { "SKIPDATA" } else { "NODATA" },
            });
        }
        let mut objects = Vec::new();
        for (index, (hour, mut rows)) in hours.into_iter().enumerate() {
            rows.sort_by_key(|r| (r.start, r.end));
            let hour = Utc
                .timestamp_opt(hour, 0)
                .single()
                .context("an hour out of range")?;
            let malformed = if index == 0 && self.format != Format::Parquet {
                self.malformed_lines
            } else {
                0
            };
            let body = match self.format {
                Format::Parquet => self.parquet(&rows)?,
                Format::DefaultText | Format::CustomV5Text => self.text(&rows, malformed)?,
            };
            objects.push(FlowLogObject {
                key: self.key(hour, &body),
                records: rows.len(),
                malformed_lines: malformed,
                body,
                hour,
            });
        }
        Ok(objects)
    }

    fn interface(&self, interface_id: &str) -> Option<&InterfaceFacts> {
        self.interfaces
            .iter()
            .find(|i| i.interface_id == interface_id)
    }

    fn row_of_flow(&self, flow: Flow) -> Row<'_> {
        let interface = self.interface(&flow.interface_id);
        Row {
            interface,
            interface_id: interface.map_or("", |i| i.interface_id.as_str()),
            start: flow.start.timestamp(),
            end: flow.end.timestamp(),
            log_status: "OK",
            flow: Some(flow),
        }
    }

    /// The object's key: the day's folder and the documented file name, its
    /// hash from the seed and the content.
    fn key(&self, hour: DateTime<Utc>, body: &[u8]) -> String {
        let mut digest = Sha256::new();
        digest.update(self.seed.to_be_bytes());
        digest.update(body);
        let hash = &hex::encode(digest.finalize())[..8];
        let (account, region) = (&self.account, &self.region);
        let (year, month, day, hh) = (hour.year(), hour.month(), hour.day(), hour.hour());
        let mut folder = match self.layout {
            Layout::Plain => {
                format!("AWSLogs/{account}/vpcflowlogs/{region}/{year:04}/{month:02}/{day:02}/")
            }
            Layout::Hive => format!(
                "AWSLogs/aws-account-id={account}/aws-service=vpcflowlogs/aws-region={region}/year={year:04}/month={month:02}/day={day:02}/"
            ),
        };
        if self.hourly_partitions {
            folder.push_str(&match self.layout {
                Layout::Plain => format!("{hh:02}/"),
                Layout::Hive => format!("hour={hh:02}/"),
            });
        }
        let prefix = self
            .prefix
            .as_deref()
            .map(|p| format!("{}/", p.trim_end_matches('/')))
            .unwrap_or_default();
        format!(
            "{prefix}{folder}{account}_vpcflowlogs_{region}_{}_{}_{hash}{}",
            self.flow_log_id,
            hour.format("%Y%m%dT%H%MZ"),
            self.format.suffix()
        )
    }

    fn value(&self, row: &Row<'_>, field: &str) -> Value {
        use Value::{Int, Missing, Text};
        let flow = row.flow.as_ref();
        let family = flow.map(|f| if f.src.is_ipv6() { "IPv6" } else { "IPv4" });
        match field {
            "version" => Int(self.format.version()),
            "account-id" => Text(self.account.clone()),
            "interface-id" => Text(row.interface_id.to_owned()),
            "start" => Int(row.start),
            "end" => Int(row.end),
            "log-status" => Text(row.log_status.to_owned()),
            _ if flow.is_none() => Missing,
            "srcaddr" | "pkt-srcaddr" => flow.map_or(Missing, |f| Text(f.src.to_string())),
            "dstaddr" | "pkt-dstaddr" => flow.map_or(Missing, |f| Text(f.dst.to_string())),
            "srcport" => flow.map_or(Missing, |f| Int(port_of(f, f.src_port))),
            "dstport" => flow.map_or(Missing, |f| Int(port_of(f, f.dst_port))),
            "protocol" => flow.map_or(Missing, |f| Int(i64::from(f.protocol))),
            "packets" => flow.map_or(Missing, |f| Int(f.packets as i64)),
            "bytes" => flow.map_or(Missing, |f| Int(f.bytes as i64)),
            "action" => flow.map_or(Missing, |f| Text(f.action.as_str().to_owned())),
            "vpc-id" => row.interface.map_or(Missing, |i| Text(i.vpc_id.clone())),
            "subnet-id" => row.interface.map_or(Missing, |i| Text(i.subnet_id.clone())),
            "instance-id" => row
                .interface
                .and_then(|i| i.instance_id.clone())
                .map_or(Missing, Text),
            "tcp-flags" => flow.map_or(Missing, |f| Int(i64::from(f.tcp_flags))),
            "type" => family.map_or(Missing, |t| Text(t.to_owned())),
            "region" => Text(self.region.clone()),
            "az-id" => row.interface.map_or(Missing, |i| Text(i.az_id.clone())),
            "flow-direction" => flow.map_or(Missing, |f| Text(f.direction.as_str().to_owned())),
            "traffic-path" => flow
                .filter(|f| f.direction == Direction::Egress)
                .and_then(|f| f.traffic_path)
                .map_or(Missing, |p| Int(i64::from(p))),
            _ => Missing,
        }
    }

    fn text(&self, rows: &[Row<'_>], malformed: usize) -> anyhow::Result<Vec<u8>> {
        let fields = self.format.fields();
        let mut gzip = GzEncoder::new(Vec::new(), Compression::default());
        writeln!(gzip, "{}", fields.join(" "))?;
        for row in rows {
            let line: Vec<String> = fields
                .iter()
                .map(|field| match self.value(row, field) {
                    Value::Int(n) => n.to_string(),
                    Value::Text(t) => t,
                    Value::Missing => "-".to_owned(),
                })
                .collect();
            writeln!(gzip, "{}", line.join(" "))?;
        }
        for n in 0..malformed {
            // Too few fields, then a number that is not one.
            if n % 2 == 0 {
                writeln!(
                    gzip,
                    "{} {} eni-truncated",
                    self.format.version(),
                    self.account
                )?;
            } else {
                let mut line = vec!["x"; fields.len()];
                line[0] = "two";
                writeln!(gzip, "{}", line.join(" "))?;
            }
        }
        Ok(gzip.finish()?)
    }

    fn parquet(&self, rows: &[Row<'_>]) -> anyhow::Result<Vec<u8>> {
        let fields = self.format.fields();
        let mut columns: Vec<ArrayRef> = Vec::new();
        let mut schema = Vec::new();
        for field in fields {
            let name = field.replace('-', "_");
            let values = rows.iter().map(|row| self.value(row, field));
            match parquet_type(field) {
                DataType::Int32 => {
                    let array: Int32Array = values
                        .map(|v| match v {
                            Value::Int(n) => i32::try_from(n).ok(),
                            _ => None,
                        })
                        .collect();
                    columns.push(Arc::new(array));
                    schema.push(Field::new(name, DataType::Int32, true));
                }
                DataType::Int64 => {
                    let array: Int64Array = values
                        .map(|v| match v {
                            Value::Int(n) => Some(n),
                            _ => None,
                        })
                        .collect();
                    columns.push(Arc::new(array));
                    schema.push(Field::new(name, DataType::Int64, true));
                }
                _ => {
                    let array: StringArray = values
                        .map(|v| match v {
                            Value::Text(t) => Some(t),
                            Value::Int(n) => Some(n.to_string()),
                            Value::Missing => None,
                        })
                        .collect();
                    columns.push(Arc::new(array));
                    schema.push(Field::new(name, DataType::Utf8, true));
                }
            }
        }
        let batch = RecordBatch::try_new(Arc::new(Schema::new(schema)), columns)?;
        let properties = WriterProperties::builder()
            .set_compression(parquet::basic::Compression::GZIP(Default::default()))
            .build();
        let mut body = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut body, batch.schema(), Some(properties))?;
        writer.write(&batch)?;
        writer.close()?;
        Ok(body)
    }
}

/// A field's documented Parquet type.
pub fn parquet_type(field: &str) -> DataType {
    match field {
        "version" | "srcport" | "dstport" | "protocol" | "tcp-flags" | "traffic-path" => {
            DataType::Int32
        }
        "packets" | "bytes" | "start" | "end" => DataType::Int64,
        _ => DataType::Utf8,
    }
}

/// Ports of protocols without ports are written 0.
fn port_of(flow: &Flow, port: u16) -> i64 {
    match flow.protocol {
        6 | 17 | 132 => i64::from(port),
        _ => 0,
    }
}

fn hour_of(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(3600) * 3600
}

/// Writes `objects` to `bucket` (an `s3:ObjectCreated:Put` each).
pub async fn put_objects(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    objects: &[FlowLogObject],
) -> anyhow::Result<()> {
    for object in objects {
        s3.put_object()
            .bucket(bucket)
            .key(&object.key)
            .body(object.body.clone().into())
            .send()
            .await
            .with_context(|| format!("writing s3://{bucket}/{}", object.key))?;
    }
    Ok(())
}

/// A deterministic source of ephemeral ports and addresses for a seed
/// (splitmix64).
#[derive(Debug, Clone)]
pub struct Draw(u64);

impl Draw {
    pub fn new(seed: u64) -> Draw {
        Draw(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A port in Linux's ephemeral range 32768-60999.
    pub fn ephemeral_port(&mut self) -> u16 {
        32_768 + (self.next_u64() % 28_232) as u16
    }

    /// A public IPv4 address in a documentation-free, routable /16
    /// (`base.x.y`), never a private one.
    pub fn public_v4(&mut self, base: [u8; 2]) -> IpAddr {
        let n = self.next_u64();
        IpAddr::from([base[0], base[1], (n >> 8) as u8, (n as u8).max(1)])
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use arrow_array::Array;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::*;

    const ACCOUNT: &str = "111122223333";

    fn at(hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, hour, minute, 0).unwrap()
    }

    fn world(format: Format) -> FlowLog {
        let mut log = FlowLog::new(ACCOUNT, "eu-west-1", "fl-0123456789abcdef0", format);
        log.interfaces.push(InterfaceFacts {
            interface_id: "eni-web".into(),
            vpc_id: "vpc-1".into(),
            subnet_id: "subnet-1".into(),
            instance_id: Some("i-web".into()),
            az_id: "euw1-az1".into(),
        });
        log.flows.push(Flow::inbound_tcp(
            "eni-web",
            "203.0.113.7".parse().unwrap(),
            40_000,
            "10.0.1.5".parse().unwrap(),
            443,
            Action::Accept,
            at(10, 5),
            10,
        ));
        log.flows.push(Flow::inbound_tcp(
            "eni-web",
            "198.51.100.9".parse().unwrap(),
            51_000,
            "10.0.1.5".parse().unwrap(),
            22,
            Action::Reject,
            at(11, 0),
            2,
        ));
        log.gaps.push(Gap {
            interface_id: "eni-web".into(),
            start: at(11, 30),
            end: at(11, 40),
            skipped: false,
        });
        log.seed = 7;
        log
    }

    fn lines(object: &FlowLogObject) -> Vec<String> {
        let mut text = String::new();
        flate2::read::GzDecoder::new(&object.body[..])
            .read_to_string(&mut text)
            .unwrap();
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn default_text_objects_are_keyed_and_written_as_aws_delivers_them() {
        let objects = world(Format::DefaultText).objects().unwrap();
        assert_eq!(objects.len(), 2, "one object per hour of traffic");
        let first = &objects[0];
        assert!(
            first.key.starts_with(
                "AWSLogs/111122223333/vpcflowlogs/eu-west-1/2026/11/20/111122223333_vpcflowlogs_eu-west-1_fl-0123456789abcdef0_20261120T1000Z_"
            ),
            "{}",
            first.key
        );
        assert!(first.key.ends_with(".log.gz"));
        let lines = lines(first);
        assert_eq!(lines[0], DEFAULT_FIELDS.join(" "));
        let start = at(10, 5).timestamp();
        assert_eq!(
            lines[1],
            format!(
                "2 {ACCOUNT} eni-web 203.0.113.7 10.0.1.5 40000 443 6 10 600 {start} {} ACCEPT OK",
                start + 50
            )
        );
        assert_eq!(
            lines[2],
            format!(
                "2 {ACCOUNT} eni-web 10.0.1.5 203.0.113.7 443 40000 6 10 1800 {start} {} ACCEPT OK",
                start + 50
            ),
            "the answer of an accepted connection is logged too"
        );
        let second = self::lines(&objects[1]);
        let rejected = at(11, 0).timestamp();
        assert!(
            second[1].ends_with(&format!(
                "22 6 2 120 {rejected} {} REJECT OK",
                rejected + 50
            )),
            "{}",
            second[1]
        );
        assert_eq!(
            second[2],
            format!(
                "2 {ACCOUNT} eni-web - - - - - - - {} {} - NODATA",
                at(11, 30).timestamp(),
                at(11, 40).timestamp()
            )
        );
        assert_eq!(second.len(), 3, "a rejected attempt has no answer");
        // Deterministic: the same world renders the same keys and bytes.
        let again = world(Format::DefaultText).objects().unwrap();
        assert_eq!(again[0].key, first.key);
        assert_eq!(again[0].body, first.body);
    }

    #[test]
    fn custom_v5_records_carry_direction_flags_and_interface_facts() {
        let mut log = world(Format::CustomV5Text);
        log.malformed_lines = 2;
        log.layout = Layout::Hive;
        log.hourly_partitions = true;
        let objects = log.objects().unwrap();
        assert!(objects[0].key.starts_with(
            "AWSLogs/aws-account-id=111122223333/aws-service=vpcflowlogs/aws-region=eu-west-1/year=2026/month=11/day=20/hour=10/"
        ));
        let lines = lines(&objects[0]);
        assert_eq!(lines[0], V5_FIELDS.join(" "));
        let inbound: Vec<&str> = lines[1].split(' ').collect();
        let reply: Vec<&str> = lines[2].split(' ').collect();
        let column = |name: &str| V5_FIELDS.iter().position(|f| *f == name).unwrap();
        assert_eq!(inbound[0], "5");
        assert_eq!(inbound[column("vpc-id")], "vpc-1");
        assert_eq!(inbound[column("instance-id")], "i-web");
        assert_eq!(inbound[column("tcp-flags")], "3");
        assert_eq!(inbound[column("flow-direction")], "ingress");
        assert_eq!(inbound[column("traffic-path")], "-");
        assert_eq!(reply[column("tcp-flags")], "19");
        assert_eq!(reply[column("flow-direction")], "egress");
        assert_eq!(reply[column("traffic-path")], "8");
        assert_eq!(inbound[column("type")], "IPv4");
        assert_eq!(objects[0].malformed_lines, 2);
        assert_eq!(
            lines.len(),
            1 + 2 + 2,
            "header, two records, two malformed lines"
        );
        assert!(lines[3].split(' ').count() < V5_FIELDS.len());
        assert_eq!(objects[1].malformed_lines, 0);
    }

    #[test]
    fn parquet_objects_have_the_documented_columns_and_types() {
        let objects = world(Format::Parquet).objects().unwrap();
        assert!(objects[1].key.ends_with(".log.parquet"));
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(objects[1].body.clone()))
                .unwrap()
                .build()
                .unwrap();
        let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
        let batch = &batches[0];
        assert_eq!(batch.num_rows(), 2);
        let schema = batch.schema();
        assert_eq!(
            schema.field_with_name("dstport").unwrap().data_type(),
            &DataType::Int32
        );
        assert_eq!(
            schema.field_with_name("packets").unwrap().data_type(),
            &DataType::Int64
        );
        assert_eq!(
            schema.field_with_name("log_status").unwrap().data_type(),
            &DataType::Utf8
        );
        assert_eq!(
            schema
                .field_with_name("flow_direction")
                .unwrap()
                .data_type(),
            &DataType::Utf8
        );
        let dstport = batch
            .column_by_name("dstport")
            .unwrap()
            .as_any()
            .downcast_ref::<Int32Array>()
            .unwrap();
        assert_eq!(dstport.value(0), 22);
        assert!(dstport.is_null(1), "the NODATA record's port is null");
        let status = batch
            .column_by_name("log_status")
            .unwrap()
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(status.value(1), "NODATA");
    }
}
