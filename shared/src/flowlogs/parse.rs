//! One flow-log line into a typed [`Record`] that borrows from the line (no
//! allocation per record), and a [`FlowLogReader`] over any
//! [`std::io::BufRead`] that yields records and malformed lines with their
//! 1-based line number (the header is line 1).
//!
//! As AWS documents: `-` is an absent value (a field that does not apply,
//! or that could not be computed), and a record whose `log-status` is
//! `NODATA` or `SKIPDATA` carries no traffic, only the interface and the
//! interval. A malformed line (wrong field count, a value that does not
//! read as its field's type) is an error with a reason; the reader goes on
//! with the next line.

use std::io::{BufRead, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use memchr::memchr;

use super::fields::{Field, Format, FormatError};

/// `action`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum Action {
    Accept,
    Reject,
}

/// `log-status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogStatus {
    /// Data is logging normally.
    Ok,
    /// No traffic to or from the interface during the interval.
    NoData,
    /// Some records were skipped during the interval (capacity, error).
    SkipData,
}

/// `flow-direction` (version 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowDirection {
    Ingress,
    Egress,
}

/// One record; `None` where the format has no such column or the value is
/// `-`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record<'a> {
    pub version: Option<u8>,
    pub account_id: Option<&'a str>,
    pub interface_id: Option<&'a str>,
    pub srcaddr: Option<IpAddr>,
    pub dstaddr: Option<IpAddr>,
    pub srcport: Option<u16>,
    pub dstport: Option<u16>,
    pub protocol: Option<u8>,
    pub packets: Option<u64>,
    pub bytes: Option<u64>,
    /// Epoch seconds of the first packet of the interval.
    pub start: Option<i64>,
    /// Epoch seconds of the last packet of the interval.
    pub end: Option<i64>,
    pub action: Option<Action>,
    pub log_status: Option<LogStatus>,
    pub vpc_id: Option<&'a str>,
    pub subnet_id: Option<&'a str>,
    pub instance_id: Option<&'a str>,
    /// Bitmask of the TCP flags seen in the interval (FIN 1, SYN 2, RST 4,
    /// SYN-ACK 18), OR-ed over the interval.
    pub tcp_flags: Option<u16>,
    /// `type`: `IPv4`, `IPv6` or `EFA`.
    pub traffic_type: Option<&'a str>,
    pub pkt_srcaddr: Option<IpAddr>,
    pub pkt_dstaddr: Option<IpAddr>,
    pub region: Option<&'a str>,
    pub az_id: Option<&'a str>,
    pub sublocation_type: Option<&'a str>,
    pub sublocation_id: Option<&'a str>,
    pub pkt_src_aws_service: Option<&'a str>,
    pub pkt_dst_aws_service: Option<&'a str>,
    pub flow_direction: Option<FlowDirection>,
    pub traffic_path: Option<u8>,
}

/// Why a line is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("expected {expected} fields, found {found}")]
    FieldCount { expected: usize, found: usize },
    #[error("bad value for {field}")]
    BadValue { field: &'static str },
    #[error("line longer than {limit} bytes")]
    TooLong { limit: usize },
}

/// Lines longer than this are malformed (a record is at most a few hundred
/// bytes even with every field); the reader never holds more of one line.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Parses one line (without its newline) with `format`. Fields are
/// separated by one or more spaces; a trailing `\r` is ignored.
pub fn parse_record<'a>(format: &Format, line: &'a [u8]) -> Result<Record<'a>, Malformed> {
    let mut record = Record::default();
    parse_into(format, line, &mut record)?;
    Ok(record)
}

/// [`parse_record`] into a record the caller holds (all `None`): inlined
/// into the reader, which builds the record where it returns it instead of
/// copying it there.
#[inline(always)]
fn parse_into<'a>(
    format: &Format,
    line: &'a [u8],
    record: &mut Record<'a>,
) -> Result<(), Malformed> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let fields = format.fields();
    let mut found = 0;
    // Text fields are checked one by one (printable ASCII, so UTF-8): a
    // stray byte in a skipped column is harmless, and one in a read column
    // names that column.
    let mut spaces = Spaces::new(line);
    let mut start = 0;
    while let Some(at) = spaces.next() {
        if at > start {
            if let Some(&field) = fields.get(found) {
                set(record, field, &line[start..at])?;
            }
            found += 1;
        }
        start = at + 1;
    }
    if found != fields.len() {
        return Err(Malformed::FieldCount {
            expected: fields.len(),
            found,
        });
    }
    Ok(())
}

/// The positions of the spaces of a line, then the line's length (the end
/// of its last field): one place for the caller to handle a field, so
/// that its work is inlined. Spaces are found eight bytes at a time
/// (fields are a few bytes long: cheaper than a vectorized search per
/// field, and without a branch per byte).
struct Spaces<'a> {
    line: &'a [u8],
    /// Offset of the chunk `mask` comes from.
    base: usize,
    /// The high bit of each byte of the current chunk that is a space.
    mask: u64,
    /// Whether the line's end was yielded.
    done: bool,
}

impl<'a> Spaces<'a> {
    const SPACES: u64 = u64::from_ne_bytes([b' '; 8]);
    const LOW_SEVEN: u64 = 0x7f7f_7f7f_7f7f_7f7f;

    #[inline(always)]
    fn new(line: &'a [u8]) -> Self {
        let mut spaces = Self {
            line,
            base: 0,
            mask: 0,
            done: false,
        };
        spaces.mask = spaces.chunk(0);
        spaces
    }

    /// The spaces of the eight bytes at `base` (fewer at the end of the
    /// line).
    #[inline(always)]
    fn chunk(&self, base: usize) -> u64 {
        let rest = self.line.get(base..).unwrap_or_default();
        let word = match rest.first_chunk::<8>() {
            Some(eight) => u64::from_le_bytes(*eight),
            None => {
                let mut eight = [0u8; 8];
                eight[..rest.len()].copy_from_slice(rest);
                u64::from_le_bytes(eight)
            }
        };
        let x = word ^ Self::SPACES;
        // The high bit of each byte of `x` that is zero (a space), exactly:
        // no carry crosses a byte. The zeros past the line are not spaces.
        !(((x & Self::LOW_SEVEN) + Self::LOW_SEVEN) | x | Self::LOW_SEVEN)
    }

    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            self.base += 8;
            if self.base >= self.line.len() {
                if self.done {
                    return None;
                }
                self.done = true;
                return Some(self.line.len());
            }
            self.mask = self.chunk(self.base);
        }
        let at = self.base + (self.mask.trailing_zeros() / 8) as usize;
        self.mask &= self.mask - 1;
        Some(at)
    }
}

#[inline(always)]
fn set<'a>(record: &mut Record<'a>, field: Field, bytes: &'a [u8]) -> Result<(), Malformed> {
    if bytes == b"-" {
        return Ok(());
    }
    let bad = || Malformed::BadValue {
        field: field.name().unwrap_or("a skipped field"),
    };
    match field {
        Field::Version => record.version = Some(number(bytes).ok_or_else(bad)?),
        Field::AccountId => record.account_id = Some(text(bytes).ok_or_else(bad)?),
        Field::InterfaceId => record.interface_id = Some(text(bytes).ok_or_else(bad)?),
        Field::SrcAddr => record.srcaddr = Some(address(bytes).ok_or_else(bad)?),
        Field::DstAddr => record.dstaddr = Some(address(bytes).ok_or_else(bad)?),
        Field::SrcPort => record.srcport = Some(number(bytes).ok_or_else(bad)?),
        Field::DstPort => record.dstport = Some(number(bytes).ok_or_else(bad)?),
        Field::Protocol => record.protocol = Some(number(bytes).ok_or_else(bad)?),
        Field::Packets => record.packets = Some(number(bytes).ok_or_else(bad)?),
        Field::Bytes => record.bytes = Some(number(bytes).ok_or_else(bad)?),
        Field::Start => record.start = Some(number(bytes).ok_or_else(bad)?),
        Field::End => record.end = Some(number(bytes).ok_or_else(bad)?),
        Field::Action => {
            record.action = Some(match bytes {
                b"ACCEPT" => Action::Accept,
                b"REJECT" => Action::Reject,
                _ => return Err(bad()),
            })
        }
        Field::LogStatus => {
            record.log_status = Some(match bytes {
                b"OK" => LogStatus::Ok,
                b"NODATA" => LogStatus::NoData,
                b"SKIPDATA" => LogStatus::SkipData,
                _ => return Err(bad()),
            })
        }
        Field::VpcId => record.vpc_id = Some(text(bytes).ok_or_else(bad)?),
        Field::SubnetId => record.subnet_id = Some(text(bytes).ok_or_else(bad)?),
        Field::InstanceId => record.instance_id = Some(text(bytes).ok_or_else(bad)?),
        Field::TcpFlags => record.tcp_flags = Some(number(bytes).ok_or_else(bad)?),
        Field::Type => record.traffic_type = Some(text(bytes).ok_or_else(bad)?),
        Field::PktSrcAddr => record.pkt_srcaddr = Some(address(bytes).ok_or_else(bad)?),
        Field::PktDstAddr => record.pkt_dstaddr = Some(address(bytes).ok_or_else(bad)?),
        Field::Region => record.region = Some(text(bytes).ok_or_else(bad)?),
        Field::AzId => record.az_id = Some(text(bytes).ok_or_else(bad)?),
        Field::SublocationType => record.sublocation_type = Some(text(bytes).ok_or_else(bad)?),
        Field::SublocationId => record.sublocation_id = Some(text(bytes).ok_or_else(bad)?),
        Field::PktSrcAwsService => record.pkt_src_aws_service = Some(text(bytes).ok_or_else(bad)?),
        Field::PktDstAwsService => record.pkt_dst_aws_service = Some(text(bytes).ok_or_else(bad)?),
        Field::FlowDirection => {
            record.flow_direction = Some(match bytes {
                b"ingress" => FlowDirection::Ingress,
                b"egress" => FlowDirection::Egress,
                _ => return Err(bad()),
            })
        }
        Field::TrafficPath => record.traffic_path = Some(number(bytes).ok_or_else(bad)?),
        Field::Skipped => {}
    }
    Ok(())
}

/// An unsigned decimal that fits `T` (at most 20 digits, no sign).
fn number<T: TryFrom<u64>>(value: &[u8]) -> Option<T> {
    if value.is_empty() || value.len() > 20 {
        return None;
    }
    // Up to 19 digits cannot overflow a u64: no check per digit.
    let (head, last) = if value.len() == 20 {
        value.split_at(19)
    } else {
        (value, &[][..])
    };
    let mut n: u64 = 0;
    let mut bad = false;
    for &b in head {
        let digit = b.wrapping_sub(b'0');
        bad |= digit > 9;
        n = n.wrapping_mul(10).wrapping_add(u64::from(digit));
    }
    if bad {
        return None;
    }
    for &b in last {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(digit))?;
    }
    T::try_from(n).ok()
}

/// Printable ASCII only: ids, names and regions are, and a log line or a
/// document never gets control characters from a flow log.
fn text(value: &[u8]) -> Option<&str> {
    if value.iter().all(|b| b.is_ascii_graphic()) {
        std::str::from_utf8(value).ok()
    } else {
        None
    }
}

fn address(value: &[u8]) -> Option<IpAddr> {
    if let Some(v4) = ipv4(value) {
        return Some(IpAddr::V4(v4));
    }
    let text = text(value)?;
    text.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
}

/// Dotted quad, by hand: the common case, four times cheaper than
/// `str::parse`.
fn ipv4(value: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut index = 0;
    let mut current: u16 = 0;
    let mut digits = 0;
    for &b in value {
        if b == b'.' {
            if digits == 0 || index == 3 {
                return None;
            }
            octets[index] = current as u8;
            index += 1;
            current = 0;
            digits = 0;
        } else {
            let digit = b.wrapping_sub(b'0');
            if digit > 9 || digits == 3 {
                return None;
            }
            current = current * 10 + u16::from(digit);
            if current > 255 {
                return None;
            }
            digits += 1;
        }
    }
    if index != 3 || digits == 0 {
        return None;
    }
    octets[3] = current as u8;
    Some(Ipv4Addr::from(octets))
}

/// What a reader yields for one line.
// Yielded one at a time and never stored: boxing the record would allocate
// per line, which is what the parser avoids.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    Record {
        /// 1-based; the header is line 1.
        line: u64,
        record: Record<'a>,
    },
    Malformed {
        line: u64,
        reason: Malformed,
        /// The line's bytes (at most [`MAX_LINE_BYTES`]).
        text: &'a [u8],
    },
}

/// Why an object cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("reading the object: {0}")]
    Io(#[from] std::io::Error),
    #[error("the object has no lines")]
    Empty,
    #[error("the header line is not a flow-log format: {0}")]
    Header(#[from] FormatError),
}

/// Reads the lines of one text object. The header is read first
/// ([`FlowLogReader::new`]); then [`FlowLogReader::next_line`] yields each
/// line, borrowed from the reader's buffer when it lies whole in it (the
/// common case) and copied once otherwise. Empty lines are skipped.
pub struct FlowLogReader<R> {
    inner: R,
    format: Format,
    headerless: bool,
    /// The first line, when it was a record (no header): yielded first.
    first_record: Option<Vec<u8>>,
    line_number: u64,
    /// Bytes of the previous line still to consume from `inner`.
    consume: usize,
    spill: Vec<u8>,
}

impl<R: BufRead> FlowLogReader<R> {
    /// Reads the header line. A first line that is not a header is read as
    /// a record of the default format ([`Format::default_v2`]), which
    /// [`FlowLogReader::headerless`] then says.
    pub fn new(mut inner: R) -> Result<Self, ReadError> {
        let mut first = Vec::new();
        loop {
            first.clear();
            let read = (&mut inner)
                .take(MAX_LINE_BYTES as u64)
                .read_until(b'\n', &mut first)?;
            if read == 0 {
                return Err(ReadError::Empty);
            }
            if !first.iter().all(u8::is_ascii_whitespace) {
                break;
            }
        }
        let text = String::from_utf8_lossy(&first).trim().to_owned();
        let (format, headerless, first_record) = if Format::is_header(&text) {
            (Format::from_header(&text)?, false, None)
        } else {
            (Format::default_v2(), true, Some(text.into_bytes()))
        };
        Ok(Self {
            inner,
            format,
            headerless,
            first_record,
            line_number: 1,
            consume: 0,
            spill: Vec::new(),
        })
    }

    pub fn format(&self) -> &Format {
        &self.format
    }

    /// Whether the object had no header (read with the default format).
    pub fn headerless(&self) -> bool {
        self.headerless
    }

    /// The next non-empty line, parsed; `None` at the end of the object.
    #[inline(always)]
    pub fn next_line(&mut self) -> std::io::Result<Option<Line<'_>>> {
        if let Some(first) = self.first_record.take() {
            self.spill = first;
            return Ok(Some(self.parsed_spill(1)));
        }
        loop {
            if self.consume > 0 {
                self.inner.consume(self.consume);
                self.consume = 0;
            }
            let (found, available) = {
                let buffer = self.inner.fill_buf()?;
                (memchr(b'\n', buffer), buffer.len())
            };
            if available == 0 {
                return Ok(None);
            }
            self.line_number += 1;
            let line_number = self.line_number;
            if let Some(at) = found {
                self.consume = at + 1;
                if is_blank(&self.inner.fill_buf()?[..at]) {
                    continue;
                }
                let format = &self.format;
                let line = &self.inner.fill_buf()?[..at];
                if line.len() > MAX_LINE_BYTES {
                    return Ok(Some(Line::Malformed {
                        line: line_number,
                        reason: Malformed::TooLong {
                            limit: MAX_LINE_BYTES,
                        },
                        text: &line[..1024],
                    }));
                }
                return Ok(Some(parsed(format, line_number, line)));
            }
            // The line goes on past the buffer: gather it, at most
            // MAX_LINE_BYTES of it.
            self.spill.clear();
            (&mut self.inner)
                .take(MAX_LINE_BYTES as u64)
                .read_until(b'\n', &mut self.spill)?;
            if self.spill.last() != Some(&b'\n') && self.spill.len() >= MAX_LINE_BYTES {
                self.skip_rest_of_line()?;
                self.spill.truncate(1024);
                return Ok(Some(Line::Malformed {
                    line: line_number,
                    reason: Malformed::TooLong {
                        limit: MAX_LINE_BYTES,
                    },
                    text: &self.spill,
                }));
            }
            if self.spill.last() == Some(&b'\n') {
                self.spill.pop();
            }
            if is_blank(&self.spill) {
                continue;
            }
            return Ok(Some(self.parsed_spill(line_number)));
        }
    }

    fn parsed_spill(&self, line_number: u64) -> Line<'_> {
        parsed(&self.format, line_number, &self.spill)
    }

    fn skip_rest_of_line(&mut self) -> std::io::Result<()> {
        loop {
            let buffer = self.inner.fill_buf()?;
            if buffer.is_empty() {
                return Ok(());
            }
            match memchr(b'\n', buffer) {
                Some(at) => {
                    self.inner.consume(at + 1);
                    return Ok(());
                }
                None => {
                    let all = buffer.len();
                    self.inner.consume(all);
                }
            }
        }
    }
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

#[inline(always)]
fn parsed<'a>(format: &Format, line_number: u64, line: &'a [u8]) -> Line<'a> {
    let mut parsed = Line::Record {
        line: line_number,
        record: Record::default(),
    };
    if let Line::Record { record, .. } = &mut parsed
        && let Err(reason) = parse_into(format, line, record)
    {
        return Line::Malformed {
            line: line_number,
            reason,
            text: line,
        };
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_record(line: &str) -> Result<Record<'_>, Malformed> {
        parse_record(&Format::default_v2(), line.as_bytes())
    }

    #[test]
    fn a_default_record_reads_typed() {
        let record = default_record(
            "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
        )
        .unwrap();
        assert_eq!(record.version, Some(2));
        assert_eq!(record.account_id, Some("123456789010"));
        assert_eq!(record.interface_id, Some("eni-1235b8ca123456789"));
        assert_eq!(record.srcaddr, Some("172.31.16.139".parse().unwrap()));
        assert_eq!(record.dstaddr, Some("172.31.16.21".parse().unwrap()));
        assert_eq!((record.srcport, record.dstport), (Some(20641), Some(22)));
        assert_eq!(record.protocol, Some(6));
        assert_eq!((record.packets, record.bytes), (Some(20), Some(4249)));
        assert_eq!(
            (record.start, record.end),
            (Some(1418530010), Some(1418530070))
        );
        assert_eq!(record.action, Some(Action::Accept));
        assert_eq!(record.log_status, Some(LogStatus::Ok));
        assert_eq!(record.tcp_flags, None);
    }

    #[test]
    fn dashes_are_absent_values() {
        let record = default_record(
            "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA",
        )
        .unwrap();
        assert_eq!(record.srcaddr, None);
        assert_eq!(record.packets, None);
        assert_eq!(record.action, None);
        assert_eq!(record.log_status, Some(LogStatus::NoData));
        assert_eq!(record.start, Some(1431280876));
    }

    #[test]
    fn malformed_lines_say_why() {
        let good = "2 123456789010 eni-1 10.0.0.1 10.0.0.2 1 22 6 1 1 1 2 ACCEPT OK";
        assert!(default_record(good).is_ok());
        let cases = [
            (
                "2 123456789010 eni-1 10.0.0.1",
                "expected 14 fields, found 4",
            ),
            (
                "2 123456789010 eni-1 10.0.0.1 10.0.0.2 1 22 6 1 1 1 2 ACCEPT OK extra",
                "expected 14 fields, found 15",
            ),
            (
                "2 123456789010 eni-1 10.0.0.1 10.0.0.2 1 70000 6 1 1 1 2 ACCEPT OK",
                "bad value for dstport",
            ),
            (
                "2 123456789010 eni-1 10.0.0.256 10.0.0.2 1 22 6 1 1 1 2 ACCEPT OK",
                "bad value for srcaddr",
            ),
            (
                "2 123456789010 eni-1 10.0.0.1 10.0.0.2 1 22 6 1 1 1 2 MAYBE OK",
                "bad value for action",
            ),
            (
                "2 123456789010 eni-1 10.0.0.1 10.0.0.2 1 22 6 -1 1 1 2 ACCEPT OK",
                "bad value for packets",
            ),
            (
                "2 123456789010 eni-1 10.0.0.1 10.0.0.2 1 22 6 1 1 1 2 ACCEPT FINE",
                "bad value for log-status",
            ),
            (
                "2 123456789010 eni-\u{7}1 10.0.0.1 10.0.0.2 1 22 6 1 1 1 2 ACCEPT OK",
                "bad value for interface-id",
            ),
        ];
        for (line, reason) in cases {
            assert_eq!(
                default_record(line).unwrap_err().to_string(),
                reason,
                "{line}"
            );
        }
    }

    #[test]
    fn numbers_are_unsigned_decimals_that_fit_their_type() {
        assert_eq!(number::<u64>(b"0"), Some(0));
        assert_eq!(number::<u64>(b"1418530010"), Some(1_418_530_010));
        assert_eq!(
            number::<u64>(b"9999999999999999999"),
            Some(9_999_999_999_999_999_999)
        );
        assert_eq!(number::<u64>(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(number::<u64>(b"00000000000000000042"), Some(42));
        assert_eq!(number::<u16>(b"65535"), Some(65535));
        for bad in [
            &b"18446744073709551616"[..],
            b"99999999999999999999",
            b"100000000000000000000",
            b"",
            b"-1",
            b"+1",
            b"1a",
            b"1 ",
            b"12345678901234567x9",
            b"1234567890123456789x",
            b"1.5",
        ] {
            assert_eq!(number::<u64>(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(number::<u16>(b"65536"), None);
        assert_eq!(number::<u8>(b"256"), None);
        // A malformed number makes the line malformed, with the field's name.
        assert_eq!(
            default_record("2 123456789010 eni-1 10.0.0.1 10.0.0.2 1 22 6 1 1 1x 2 ACCEPT OK")
                .unwrap_err()
                .to_string(),
            "bad value for start"
        );
    }

    #[test]
    fn addresses_read_both_families_and_refuse_near_misses() {
        assert_eq!(ipv4(b"0.0.0.0"), Some(Ipv4Addr::new(0, 0, 0, 0)));
        assert_eq!(ipv4(b"255.255.255.255"), Some(Ipv4Addr::BROADCAST));
        for bad in [
            &b"1.2.3"[..],
            b"1.2.3.4.5",
            b"1..2.3",
            b"1.2.3.",
            b"1234.1.1.1",
            b"",
        ] {
            assert_eq!(ipv4(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(
            address(b"2001:db8:1234:a100:8d6e:3477:df66:f105"),
            Some("2001:db8:1234:a100:8d6e:3477:df66:f105".parse().unwrap())
        );
        assert_eq!(address(b"2001:db8::zz"), None);
    }

    #[test]
    fn the_reader_numbers_lines_from_the_header_and_goes_on_after_a_bad_one() {
        let object = "version interface-id srcaddr dstaddr\n\
                      3 eni-a 10.0.0.1 10.0.0.2\n\
                      \n\
                      3 eni-a 10.0.0.1\n\
                      3 eni-b 10.0.0.3 10.0.0.4\r\n";
        // A small buffer makes lines cross its end.
        let mut reader =
            FlowLogReader::new(std::io::BufReader::with_capacity(16, object.as_bytes())).unwrap();
        assert!(!reader.headerless());
        let mut seen = Vec::new();
        while let Some(line) = reader.next_line().unwrap() {
            seen.push(match line {
                Line::Record { line, record } => format!("{line}:{}", record.interface_id.unwrap()),
                Line::Malformed { line, reason, .. } => format!("{line}:{reason}"),
            });
        }
        assert_eq!(seen, ["2:eni-a", "4:expected 4 fields, found 3", "5:eni-b"]);
    }

    #[test]
    fn an_object_without_a_header_is_read_with_the_default_format() {
        let object = "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA\n\
                      2 123456789010 eni-11111111aaaaaaaaa - - - - - - - 1431280876 1431280934 - SKIPDATA\n";
        let mut reader = FlowLogReader::new(object.as_bytes()).unwrap();
        assert!(reader.headerless());
        let Some(Line::Record { line: 1, record }) = reader.next_line().unwrap() else {
            panic!("first line");
        };
        assert_eq!(record.log_status, Some(LogStatus::NoData));
        let Some(Line::Record { line: 2, record }) = reader.next_line().unwrap() else {
            panic!("second line");
        };
        assert_eq!(record.log_status, Some(LogStatus::SkipData));
        assert!(reader.next_line().unwrap().is_none());
    }

    #[test]
    fn an_overlong_line_is_malformed_and_the_next_one_reads() {
        let object = format!(
            "version interface-id\n2 {}\n2 eni-after\n",
            "x".repeat(MAX_LINE_BYTES * 2)
        );
        for capacity in [8 * 1024, 4 * MAX_LINE_BYTES] {
            let mut reader = FlowLogReader::new(std::io::BufReader::with_capacity(
                capacity,
                object.as_bytes(),
            ))
            .unwrap();
            match reader.next_line().unwrap().unwrap() {
                Line::Malformed { line, reason, text } => {
                    assert_eq!(
                        (line, reason),
                        (
                            2,
                            Malformed::TooLong {
                                limit: MAX_LINE_BYTES
                            }
                        )
                    );
                    assert_eq!(text.len(), 1024);
                }
                other => panic!("{other:?}"),
            }
            let Some(Line::Record { line: 3, record }) = reader.next_line().unwrap() else {
                panic!("third line");
            };
            assert_eq!(record.interface_id, Some("eni-after"));
        }
    }

    #[test]
    fn empty_objects_and_bad_headers_are_refused_whole() {
        assert!(matches!(
            FlowLogReader::new(&b""[..]),
            Err(ReadError::Empty)
        ));
        assert!(matches!(
            FlowLogReader::new(&b"version srcaddr\n"[..]),
            Err(ReadError::Header(FormatError::NoInterface))
        ));
    }

    #[test]
    fn fields_split_on_runs_of_spaces_across_word_boundaries() {
        // Separators at every offset of the eight-byte words, doubled and
        // trailing.
        let line = "2  123456789010 eni-1235b8ca123456789 172.31.16.139   172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK  ";
        let record = default_record(line).unwrap();
        assert_eq!(record.interface_id, Some("eni-1235b8ca123456789"));
        assert_eq!(record.dstaddr, Some("172.31.16.21".parse().unwrap()));
        assert_eq!(record.log_status, Some(LogStatus::Ok));
    }

    #[test]
    fn a_line_that_is_not_utf8_reads_field_by_field() {
        let format = Format::from_header("interface-id some-future-field dstport").unwrap();
        // A stray byte in a column fanin skips is harmless...
        let record = parse_record(&format, b"eni-a caf\xe9 22").unwrap();
        assert_eq!(
            (record.interface_id, record.dstport),
            (Some("eni-a"), Some(22))
        );
        // ...and one in a column it reads names that column.
        assert_eq!(
            parse_record(&format, b"eni-\xe9 x 22")
                .unwrap_err()
                .to_string(),
            "bad value for interface-id"
        );
        // UTF-8 that is not ASCII is refused in text fields too.
        assert_eq!(
            parse_record(&format, "eni-é x 22".as_bytes())
                .unwrap_err()
                .to_string(),
            "bad value for interface-id"
        );
    }

    proptest::proptest! {
        #[test]
        fn fields_are_those_of_a_plain_split(line in "[ a-c.]{0,40}") {
            let mut fields = Vec::new();
            let mut spaces = Spaces::new(line.as_bytes());
            let mut start = 0;
            while let Some(at) = spaces.next() {
                if at > start {
                    fields.push(&line[start..at]);
                }
                start = at + 1;
            }
            let plain: Vec<&str> = line.split(' ').filter(|v| !v.is_empty()).collect();
            proptest::prop_assert_eq!(fields, plain);
        }

        #[test]
        fn parsing_never_panics(line in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = parse_record(&Format::default_v2(), &line);
            let _ = parse_record(&Format::from_header("version interface-id srcaddr tcp-flags flow-direction x").unwrap(), &line);
        }

        #[test]
        fn the_reader_never_panics(object in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            if let Ok(mut reader) = FlowLogReader::new(std::io::BufReader::with_capacity(7, &object[..])) {
                while let Ok(Some(_)) = reader.next_line() {}
            }
        }
    }
}
