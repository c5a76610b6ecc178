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
use wide::u8x16;

use super::fields::{DEFAULT_FIELDS, Field, Format, FormatError};

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
    pub account_id: Option<Text<'a>>,
    pub interface_id: Option<Text<'a>>,
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
    pub vpc_id: Option<Text<'a>>,
    pub subnet_id: Option<Text<'a>>,
    pub instance_id: Option<Text<'a>>,
    /// Bitmask of the TCP flags seen in the interval (FIN 1, SYN 2, RST 4,
    /// SYN-ACK 18), OR-ed over the interval.
    pub tcp_flags: Option<u16>,
    /// `type`: `IPv4`, `IPv6` or `EFA`.
    pub traffic_type: Option<Text<'a>>,
    pub pkt_srcaddr: Option<IpAddr>,
    pub pkt_dstaddr: Option<IpAddr>,
    pub region: Option<Text<'a>>,
    pub az_id: Option<Text<'a>>,
    pub sublocation_type: Option<Text<'a>>,
    pub sublocation_id: Option<Text<'a>>,
    pub pkt_src_aws_service: Option<Text<'a>>,
    pub pkt_dst_aws_service: Option<Text<'a>>,
    pub flow_direction: Option<FlowDirection>,
    pub traffic_path: Option<u8>,
}

/// Printable ASCII (an id, a name, a region) borrowed from a line: checked
/// when the line is read, so that neither a document nor a log line gets a
/// control character from a flow log, and read as `&str` only where it is
/// used (most records only look their interface up by its bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Text<'a>(&'a [u8]);

impl<'a> Text<'a> {
    pub fn as_bytes(self) -> &'a [u8] {
        self.0
    }

    pub fn as_str(self) -> &'a str {
        // Printable ASCII is UTF-8: the empty default is never taken.
        std::str::from_utf8(self.0).unwrap_or_default()
    }
}

impl std::fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
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

/// How far ahead of the line it reads [`FlowLogReader::for_each_line`]
/// asks for the text ([`ask_ahead`]).
pub const TEXT_AHEAD: usize = 1024;
const CACHE_LINE: usize = 64;

/// Asks for the cache lines of `buffer[from..=end]` (a line and its
/// newline) moved [`TEXT_AHEAD`] bytes on: called at each line, every
/// cache line of the text is asked for about ten lines before it is
/// read. Read from a large buffer, the text otherwise waits for memory at
/// many lines' first load (the processor's own prefetching does not keep
/// ahead of the parser on the machines measured), and asking for one
/// cache line a line of text, about half of them, gains nothing
/// (docs/exposure.md, "Throughput"). A line of up to 128 bytes spans at
/// most three cache lines, asked for without a branch; a longer one loops
/// for the rest. Text a decoder has just written is in the cache already,
/// where the hints cost a few instructions a line; on targets without a
/// hint (arm64) only the bounds are checked.
#[inline(always)]
pub fn ask_ahead(buffer: &[u8], from: usize, end: usize) {
    let (first, last) = (from + TEXT_AHEAD, end + TEXT_AHEAD);
    for at in [first, first + CACHE_LINE, last] {
        if let Some(byte) = buffer.get(at) {
            super::prefetch(byte);
        }
    }
    let mut at = first + 2 * CACHE_LINE;
    while at < last {
        if let Some(byte) = buffer.get(at) {
            super::prefetch(byte);
        }
        at += CACHE_LINE;
    }
}

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
///
/// Each field is read where it lies, eight or sixteen bytes at a time: its
/// end (the next space) from the same words its value is read from, with
/// no branch per byte and none that depends on a value's length (lengths
/// vary at random from line to line: such a branch would mispredict). A
/// line that is not one field per single space takes
/// [`parse_irregular`].
#[inline(always)]
fn parse_into<'a>(
    format: &Format,
    line: &'a [u8],
    record: &mut Record<'a>,
) -> Result<(), Malformed> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let fields = format.fields();
    let mut start = 0;
    for &field in fields {
        let value = Value::at(line, start);
        if value.end <= start {
            // An empty field (a run of spaces, a space at the start) or
            // too few fields.
            return parse_irregular(fields, line, record);
        }
        set(record, field, value)?;
        start = value.end + 1;
    }
    if start != line.len() + 1 {
        // More fields, or spaces at the end.
        return parse_irregular(fields, line, record);
    }
    Ok(())
}

/// [`parse_into`] for a line of fewer than [`MASKED_LINE`] bytes whose
/// spaces the reader has already found ([`scan_line`]): each field's end is
/// the lowest bit left in the mask, with no search at all, and its value
/// is read from the reader's buffer ([`Window`]).
#[inline(always)]
fn parse_masked<'a>(
    format: &Format,
    line: &'a [u8],
    masked: Masked<'a>,
    record: &mut Record<'a>,
) -> Result<(), Malformed> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let Masked { spaces, window } = masked;
    let fields = format.fields();
    if format.is_default() {
        return parse_default_masked(fields, line, window, spaces, record);
    }
    let mut ends = line_ends(spaces, line.len());
    let mut start = 0;
    for &field in fields {
        let end = ends.trailing_zeros() as usize;
        if end <= start {
            // An empty field (a run of spaces, a space at the start) or
            // too few fields.
            return parse_irregular(fields, line, record);
        }
        ends &= ends - 1;
        set(record, field, Value::new(window, start, end))?;
        start = end + 1;
    }
    if start != line.len() + 1 {
        // More fields, or spaces at the end.
        return parse_irregular(fields, line, record);
    }
    Ok(())
}

/// [`parse_masked`] for the default format ([`DEFAULT_FIELDS`], what AWS
/// writes unless a flow log is given a format, so what most objects hold):
/// the same steps written out field by field, so that each field's type is
/// known where it is read, with no dispatch on the field (a loop over the
/// fields jumps through a table once a field and keeps its state on the
/// stack across the jump).
#[inline(always)]
fn parse_default_masked<'a>(
    fields: &[Field],
    line: &'a [u8],
    window: Window<'a>,
    spaces: u128,
    record: &mut Record<'a>,
) -> Result<(), Malformed> {
    let mut ends = line_ends(spaces, line.len());
    let mut start = 0;
    macro_rules! fields {
        ($($at:literal)*) => {$(
            let end = ends.trailing_zeros() as usize;
            if end <= start {
                return parse_irregular(fields, line, record);
            }
            ends &= ends - 1;
            set(record, DEFAULT_FIELDS[$at], Value::new(window, start, end))?;
            start = end + 1;
        )*};
    }
    fields!(0 1 2 3 4 5 6 7 8 9 10 11 12 13);
    const _: () = assert!(DEFAULT_FIELDS.len() == 14);
    // The last field's ends are not read again.
    let _ = ends;
    if start != line.len() + 1 {
        return parse_irregular(fields, line, record);
    }
    Ok(())
}

/// [`parse_masked`] for a line of [`MASKED_LINE`] to [`LONG_LINE`] bytes
/// (custom formats with the fields of versions 3 to 5 write such lines):
/// the same steps over its spaces in two halves, first the fields that
/// end in the lower one, then the others (one loop each: a field's end
/// is found in one `u128`, and the first loop's exit mispredicts at most
/// once a line).
#[inline(always)]
fn parse_long_masked<'a>(
    format: &Format,
    line: &'a [u8],
    masked: LongMasked<'a>,
    record: &mut Record<'a>,
) -> Result<(), Malformed> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let LongMasked { spaces, window } = masked;
    let fields = format.fields();
    // Every place from the line's end on ends a field, as in `line_ends`
    // (a line without its `\r` may end in the lower half).
    let len = line.len() as u32;
    let mut lower = spaces[0] | u128::MAX.checked_shl(len).unwrap_or(0);
    let mut upper = spaces[1] | u128::MAX << len.saturating_sub(MASKED_LINE as u32);
    let mut left = fields.iter();
    let mut start = 0;
    while lower != 0 {
        let Some(&field) = left.next() else {
            break;
        };
        let end = lower.trailing_zeros() as usize;
        if end <= start {
            return parse_irregular(fields, line, record);
        }
        lower &= lower - 1;
        set(record, field, Value::new(window, start, end))?;
        start = end + 1;
    }
    for &field in left {
        // Past 128 fields in the upper half, an end of 256, then an empty
        // field.
        let end = MASKED_LINE + upper.trailing_zeros() as usize;
        if end <= start {
            return parse_irregular(fields, line, record);
        }
        upper &= upper.wrapping_sub(1);
        set(record, field, Value::new(window, start, end))?;
        start = end + 1;
    }
    if start != line.len() + 1 {
        return parse_irregular(fields, line, record);
    }
    Ok(())
}

/// The ends of a line's fields for [`parse_masked`]: its spaces, and every
/// place from its end (`len`, under [`MASKED_LINE`]) on. The line's end is
/// the last field's end (a carriage return is no space: no bit of `spaces`
/// lies at or past it); past it each field would end where it starts, so
/// a line of too few fields is an empty one's case, with no check of each
/// end against the line's.
#[inline(always)]
fn line_ends(spaces: u128, len: usize) -> u128 {
    spaces | u128::MAX << (len % MASKED_LINE)
}

/// Lines shorter than this are scanned for their spaces with their newline
/// ([`scan_line`]), one bit each in a `u128` (the default format's lines
/// are about 110 bytes); longer ones up to [`LONG_LINE`] in a second step,
/// and longer ones still find each field's end as they read it
/// ([`parse_into`]).
const MASKED_LINE: usize = 128;

/// A line's spaces, one bit per byte, and the buffer from its start.
#[derive(Clone, Copy)]
struct Masked<'a> {
    spaces: u128,
    window: Window<'a>,
}

/// Lines from [`MASKED_LINE`] bytes to shorter than this are scanned in a
/// second step ([`scan_line`]), their spaces in two `u128`s.
const LONG_LINE: usize = 2 * MASKED_LINE;

/// The bytes of the reader's buffer a long line is read in.
const LONG_WINDOW: usize = LONG_LINE + 8;

/// A long line's spaces, the lower half's first, and the buffer from its
/// start.
#[derive(Clone, Copy)]
struct LongMasked<'a> {
    spaces: [u128; 2],
    window: Window<'a, LONG_WINDOW>,
}

/// How the reader's scan found a line: its spaces, or only its end.
#[derive(Clone, Copy)]
enum Scanned<'a> {
    Short(Masked<'a>),
    Long(LongMasked<'a>),
    Unmasked,
}

/// The line that starts at `from` in `buffer`: where it ends (its
/// newline), and its spaces when it is shorter than [`MASKED_LINE`] and the
/// buffer holds a [`WINDOW`] from its start. The window's first
/// [`MASKED_LINE`] bytes are sought for both bytes in one go (no loop, so
/// no exit to mispredict where line lengths vary), so a line is read once
/// for its end and its fields; a line of up to [`LONG_LINE`] bytes has the
/// next [`MASKED_LINE`] sought the same way ([`scan_long`]). A longer
/// line's end, or one near the buffer's end (one line of a buffer at
/// most), is found by `memchr`. `None` when no newline follows in the
/// buffer.
#[inline(always)]
fn scan_line(buffer: &[u8], from: usize) -> Option<(usize, Scanned<'_>)> {
    let rest = buffer.get(from..)?;
    let Some(window) = rest.first_chunk::<WINDOW>() else {
        return scan_rest(rest, from, 0);
    };
    let (newlines, spaces) = window_masks(window);
    if newlines == 0 {
        return scan_long(rest, from, spaces);
    }
    let inside = newlines.trailing_zeros();
    let masked = Masked {
        spaces: spaces & ((1 << inside) - 1),
        window: Window(window),
    };
    Some((from + inside as usize, Scanned::Short(masked)))
}

/// [`scan_line`] for a line with no newline in its first [`MASKED_LINE`]
/// bytes, whose spaces there are `lower`: not cold, as every line of a
/// format with many fields takes it.
#[inline(never)]
fn scan_long(rest: &[u8], from: usize, lower: u128) -> Option<(usize, Scanned<'_>)> {
    let Some(window) = rest.first_chunk::<LONG_WINDOW>() else {
        return scan_rest(rest, from, MASKED_LINE);
    };
    let (newlines, spaces) = window_masks(&window[MASKED_LINE..]);
    if newlines == 0 {
        return scan_rest(rest, from, LONG_LINE);
    }
    let inside = newlines.trailing_zeros();
    let masked = LongMasked {
        spaces: [lower, spaces & ((1 << inside) - 1)],
        window: Window(window),
    };
    Some((from + MASKED_LINE + inside as usize, Scanned::Long(masked)))
}

/// [`scan_line`] for the line at the start of `rest` (at `from` in the
/// buffer), with no newline in its first `skip` bytes.
#[inline(never)]
fn scan_rest(rest: &[u8], from: usize, skip: usize) -> Option<(usize, Scanned<'_>)> {
    let inside = skip + memchr(b'\n', rest.get(skip..)?)?;
    Some((from + inside, Scanned::Unmasked))
}

/// The newlines and the spaces of the first [`MASKED_LINE`] bytes of
/// `bytes` (which holds at least that many), one bit per byte (the first
/// byte's the lowest).
#[inline(always)]
fn window_masks(bytes: &[u8]) -> (u128, u128) {
    let (mut newlines, mut spaces) = ([0u64; 2], [0u64; 2]);
    let head = bytes
        .first_chunk::<MASKED_LINE>()
        .unwrap_or(&[0; MASKED_LINE]);
    for (at, chunk) in head.chunks_exact(16).enumerate() {
        let chunk = u8x16::new(chunk.try_into().unwrap_or_default());
        let shift = 16 * (at % 4);
        newlines[at / 4] |= u64::from(chunk.simd_eq(u8x16::splat(b'\n')).to_bitmask()) << shift;
        spaces[at / 4] |= u64::from(chunk.simd_eq(u8x16::splat(b' ')).to_bitmask()) << shift;
    }
    let join = |[low, high]: [u64; 2]| u128::from(low) | u128::from(high) << 64;
    (join(newlines), join(spaces))
}

/// A line the fast path does not take: fields split by runs of spaces, and
/// the field count reported when it is wrong.
#[cold]
#[inline(never)]
fn parse_irregular<'a>(
    fields: &[Field],
    line: &'a [u8],
    record: &mut Record<'a>,
) -> Result<(), Malformed> {
    *record = Record::default();
    let mut found = 0;
    let mut start = 0;
    for end in memchr::memchr_iter(b' ', line).chain([line.len()]) {
        if end > start {
            if let Some(&field) = fields.get(found) {
                set(record, field, Value::new(line, start, end))?;
            }
            found += 1;
        }
        start = end + 1;
    }
    if found != fields.len() {
        return Err(Malformed::FieldCount {
            expected: fields.len(),
            found,
        });
    }
    Ok(())
}

const ONES: u64 = u64::from_ne_bytes([1; 8]);
const HIGH: u64 = ONES * 0x80;

/// The eight bytes of `line` from `at` (spaces past its end), the first in
/// the low byte.
#[inline(always)]
fn word_at(line: &[u8], at: usize) -> u64 {
    match line.get(at..).and_then(|rest| rest.first_chunk::<8>()) {
        Some(eight) => u64::from_le_bytes(*eight),
        None => word_near_end(line, at),
    }
}

/// [`word_at`] for the last seven bytes of a line and past it: the line's
/// last word shifted down (no copy of a variable length).
#[inline(never)]
fn word_near_end(line: &[u8], at: usize) -> u64 {
    let spaces = ONES * u64::from(b' ');
    let inside = line.len().saturating_sub(at);
    if inside == 0 {
        return spaces;
    }
    match line.last_chunk::<8>() {
        Some(last) => {
            let last = u64::from_le_bytes(*last);
            (last >> (8 * (8 - inside))) | (spaces << (8 * inside))
        }
        None => {
            let mut eight = [b' '; 8];
            eight[..inside].copy_from_slice(&line[at..]);
            u64::from_le_bytes(eight)
        }
    }
}

/// The high bit of each byte of `word` equal to `byte`, exactly (no carry
/// crosses a byte).
#[inline(always)]
fn bytes_equal(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * u64::from(byte));
    !(((x & !HIGH) + !HIGH) | x | !HIGH)
}

/// Where a line's fields are read from: the line itself, every read of a
/// word checked against its end ([`word_at`]), or the reader's buffer
/// from the line's start on ([`Window`]), which holds a word past any
/// place in the line, so no read is checked at all.
trait LineBytes<'a>: Copy {
    /// The eight bytes from `at` (`at` within the line), the first in the
    /// low byte; those past the line's end are spaces or whatever follows
    /// it, which no reader of a value looks at.
    fn word(self, at: usize) -> u64;
    /// `start..end` of the line.
    fn range(self, start: usize, end: usize) -> &'a [u8];
}

impl<'a> LineBytes<'a> for &'a [u8] {
    #[inline(always)]
    fn word(self, at: usize) -> u64 {
        word_at(self, at)
    }

    #[inline(always)]
    fn range(self, start: usize, end: usize) -> &'a [u8] {
        self.get(start..end).unwrap_or_default()
    }
}

/// The bytes of the reader's buffer from a line's start, for a line of
/// fewer than [`MASKED_LINE`] bytes: a word from any place in the line
/// lies within them.
const WINDOW: usize = MASKED_LINE + 8;

/// A line of fewer than `W - 8` bytes ([`MASKED_LINE`] or [`LONG_LINE`]),
/// read in the reader's buffer from its start: places are taken modulo
/// `W - 8` (a power of two), which does not change any place in the line
/// and proves every word read in bounds, with no check (a line's own
/// slice needs one a read).
#[derive(Clone, Copy)]
struct Window<'a, const W: usize = WINDOW>(&'a [u8; W]);

impl<'a, const W: usize> LineBytes<'a> for Window<'a, W> {
    #[inline(always)]
    fn word(self, at: usize) -> u64 {
        let at = at % (W - 8);
        let eight = self.0[at..at + 8].try_into().unwrap_or([b' '; 8]);
        u64::from_le_bytes(eight)
    }

    #[inline(always)]
    fn range(self, start: usize, end: usize) -> &'a [u8] {
        self.0.get(start..end).unwrap_or_default()
    }
}

/// One field of a line: `line[start..end]`, not empty. Its bytes are read
/// eight or sixteen at a time only where its type needs them.
#[derive(Clone, Copy)]
struct Value<'a, L = &'a [u8]> {
    line: L,
    start: usize,
    end: usize,
    _line: std::marker::PhantomData<&'a [u8]>,
}

impl<'a> Value<'a> {
    /// The field that starts at `start`: it ends at the first space from
    /// there, or at the line's end. Sixteen bytes a step, so that a field's
    /// end is found in one step whatever its length up to sixteen (an
    /// empty value, `end <= start`, when `start` is a space or past the end).
    #[inline(always)]
    fn at(line: &'a [u8], start: usize) -> Self {
        let head = u128::from(word_at(line, start)) | u128::from(word_at(line, start + 8)) << 64;
        let mut spaces = u128::from(bytes_equal(head as u64, b' '))
            | u128::from(bytes_equal((head >> 64) as u64, b' ')) << 64;
        let mut at = start;
        while spaces == 0 {
            at += 16;
            spaces = u128::from(bytes_equal(word_at(line, at), b' '))
                | u128::from(bytes_equal(word_at(line, at + 8), b' ')) << 64;
        }
        let end = (at + (spaces.trailing_zeros() / 8) as usize).min(line.len());
        Value::new(line, start, end)
    }
}

impl<'a, L: LineBytes<'a>> Value<'a, L> {
    /// `line[start..end]`.
    #[inline(always)]
    fn new(line: L, start: usize, end: usize) -> Self {
        Self {
            line,
            start,
            end,
            _line: std::marker::PhantomData,
        }
    }

    /// The bytes `start..start + 8`, the first in the low byte.
    #[inline(always)]
    fn word(&self) -> u64 {
        self.line.word(self.start)
    }

    /// The bytes `start..start + 16`, the first in the low byte.
    #[inline(always)]
    fn head(&self) -> u128 {
        u128::from(self.word()) | u128::from(self.line.word(self.start + 8)) << 64
    }

    fn len(&self) -> usize {
        self.end - self.start
    }

    #[inline(always)]
    fn bytes(&self) -> &'a [u8] {
        self.line.range(self.start, self.end)
    }

    /// Whether the value is `-`.
    #[inline(always)]
    fn is_dash(&self) -> bool {
        // One comparison, not two branches (lengths of one vary at random).
        let first = self.word() as u8;
        (self.len() << 8 | usize::from(first)) == (1 << 8 | usize::from(b'-'))
    }

    /// Printable ASCII, checked sixteen bytes at a time.
    #[inline(always)]
    fn text(&self) -> Option<Text<'a>> {
        let mut at = self.start;
        while at < self.end {
            let sixteen = u8x16::new(
                (u128::from(self.line.word(at)) | u128::from(self.line.word(at + 8)) << 64)
                    .to_le_bytes(),
            );
            let inside = (1u32 << (self.end - at).min(16)) - 1;
            let printable = sixteen
                .max(u8x16::splat(b'!'))
                .min(u8x16::splat(b'~'))
                .simd_eq(sixteen)
                .to_bitmask();
            if printable & inside != inside {
                return None;
            }
            at += 16;
        }
        Some(Text(self.bytes()))
    }

    /// An unsigned decimal that fits `T`: up to sixteen digits eight at a
    /// time, in place; longer ones by [`number`].
    #[inline(always)]
    fn number<T: TryFrom<u64>>(&self) -> Option<T> {
        let len = self.len();
        let value = if len <= 8 {
            digits(self.word(), len)?
        } else if len <= 16 {
            // Ten digits (a time in seconds, to the year 2286) are the usual
            // case: their first two read without the eight-digit method.
            let high = if len == 10 {
                two_digits(self.word())?
            } else {
                digits(self.word(), len - 8)?
            };
            let low = digits(self.line.word(self.start + len - 8), 8)?;
            high * 100_000_000 + low
        } else {
            return number(self.bytes());
        };
        T::try_from(value).ok()
    }

    /// [`Value::number`] for a field that is one digit in every line (the
    /// version): that digit read alone, a branch that always goes one way.
    #[inline(always)]
    fn digit_or_number<T: TryFrom<u64>>(&self) -> Option<T> {
        if self.len() == 1 {
            let digit = (self.word() as u8).wrapping_sub(b'0');
            return if digit <= 9 {
                T::try_from(u64::from(digit)).ok()
            } else {
                None
            };
        }
        self.number()
    }

    /// An IPv4 or IPv6 address.
    #[inline(always)]
    fn address(&self) -> Option<IpAddr> {
        if let Some(v4) = self.ipv4() {
            return Some(IpAddr::V4(v4));
        }
        self.ipv6().map(IpAddr::V6)
    }

    #[cold]
    #[inline(never)]
    fn ipv6(&self) -> Option<Ipv6Addr> {
        let text = self.text()?;
        text.as_str().parse().ok()
    }

    /// A dotted quad (four decimal octets of one to three digits), read
    /// from its sixteen bytes at once: the dots found in one comparison,
    /// every byte checked to be a digit or a dot in another, and each octet
    /// read from its digits right-aligned in a word, without a loop or a
    /// branch per octet. Leading zeros are read as decimal, as AWS never
    /// writes them.
    #[inline(always)]
    fn ipv4(&self) -> Option<Ipv4Addr> {
        let len = self.len();
        if !(7..=15).contains(&len) {
            return None;
        }
        let inside = (1u32 << len) - 1;
        let head = self.head();
        let sixteen = u8x16::new(head.to_le_bytes());
        let dots = sixteen.simd_eq(u8x16::splat(b'.')).to_bitmask() & inside;
        let digits = sixteen
            .max(u8x16::splat(b'0'))
            .min(u8x16::splat(b'9'))
            .simd_eq(sixteen)
            .to_bitmask()
            & inside;
        // Exactly three dots: a third one, and none after it (clearing the
        // lowest bit three times, where a population count is a dozen
        // instructions without a target feature).
        let rest = dots & dots.wrapping_sub(1);
        let last = rest & rest.wrapping_sub(1);
        if last == 0 || last & last.wrapping_sub(1) != 0 || dots | digits != inside {
            return None;
        }
        let first = dots.trailing_zeros();
        let second = rest.trailing_zeros();
        let third = last.trailing_zeros();
        let values = head & u128::from_ne_bytes([0x0f; 16]);
        // The first two octets lie in the first eight bytes (the second
        // dot is at most the eighth byte), the last two in the eight after
        // the second dot: two words, so that each octet's window is a
        // shift of a word rather than of all sixteen bytes.
        let (front, back) = (values as u64, (values >> (8 * (second + 1))) as u64);
        // One to three digits of `word` from `from` to `to`, right-aligned
        // in three bytes; a length out of range makes a value over 255.
        let octet = |word: u64, from: u32, to: u32| -> u32 {
            let count = to.wrapping_sub(from);
            let window = (word >> ((8 * from) & 63)) as u32 & 0x00ff_ffff;
            let aligned = (window << (24u32.wrapping_sub(8 * count) & 31)) & 0x00ff_ffff;
            let value = (aligned & 0xff) * 100 + (aligned >> 8 & 0xff) * 10 + (aligned >> 16);
            value | u32::from(!(1..=3).contains(&count)) << 8
        };
        let octets = [
            octet(front, 0, first),
            octet(front, first + 1, second),
            octet(back, 0, third - second - 1),
            octet(back, third - second, len as u32 - second - 1),
        ];
        if octets.iter().fold(0, |all, octet| all | octet) > 0xff {
            return None;
        }
        Some(Ipv4Addr::new(
            octets[0] as u8,
            octets[1] as u8,
            octets[2] as u8,
            octets[3] as u8,
        ))
    }
}

/// The number the first two bytes of `word` write in decimal; `None` if
/// one is not a digit.
#[inline(always)]
fn two_digits(word: u64) -> Option<u64> {
    let first = (word as u8).wrapping_sub(b'0');
    let second = ((word >> 8) as u8).wrapping_sub(b'0');
    (first <= 9 && second <= 9).then(|| u64::from(first) * 10 + u64::from(second))
}

/// The number the first `len` (1 to 8) bytes of `word` write in decimal
/// (Lemire's eight-digit method); `None` if one is not a digit.
#[inline(always)]
fn digits(word: u64, len: usize) -> Option<u64> {
    const HIGH_NIBBLES: u64 = ONES * 0xf0;
    // The digits moved to the word's high bytes, zero bytes before them
    // (digits of value zero; the check expects them, and only them, to
    // read as zero). Callers pass 1 to 8 (fields are never empty); the
    // mask keeps the shift in range whatever they pass.
    let shift = (8 * (8 - len as u32)) & 63;
    let word = word << shift;
    let digits = (word & HIGH_NIBBLES) | ((word.wrapping_add(ONES * 6) & HIGH_NIBBLES) >> 4);
    if digits != (ONES * 0x33) & (u64::MAX << shift) {
        return None;
    }
    let v = (word & (ONES * 0x0f)).wrapping_mul(2561) >> 8;
    let v = (v & 0x00ff_00ff_00ff_00ff).wrapping_mul(6_553_601) >> 16;
    Some((v & 0x0000_ffff_0000_ffff).wrapping_mul(42_949_672_960_001) >> 32)
}

/// One field's value into the record. `-` (absent) reads as no number, no
/// address and no action, status or direction, so those values are read
/// first and only one that does not read is checked for a dash
/// ([`absent_or_bad`]); a text value is checked before it is read, as `-`
/// is printable text.
#[inline(always)]
fn set<'a, L: LineBytes<'a>>(
    record: &mut Record<'a>,
    field: Field,
    value: Value<'a, L>,
) -> Result<(), Malformed> {
    macro_rules! read {
        ($slot:ident, $read:expr) => {
            match $read {
                Some(read) => record.$slot = Some(read),
                // The value's bytes made only here: a `Value` handed to the
                // call would be stored to the stack for every field.
                None => return absent_or_bad(record, field, value.bytes()),
            }
        };
    }
    macro_rules! text {
        ($slot:ident) => {{
            if value.is_dash() {
                record.$slot = None;
                return Ok(());
            }
            read!($slot, value.text())
        }};
    }
    let bytes = value.bytes();
    match field {
        Field::Version => read!(version, value.digit_or_number()),
        Field::AccountId => text!(account_id),
        Field::InterfaceId => text!(interface_id),
        Field::SrcAddr => read!(srcaddr, value.address()),
        Field::DstAddr => read!(dstaddr, value.address()),
        Field::SrcPort => read!(srcport, value.number()),
        Field::DstPort => read!(dstport, value.number()),
        Field::Protocol => read!(protocol, value.number()),
        Field::Packets => read!(packets, value.number()),
        Field::Bytes => read!(bytes, value.number()),
        Field::Start => read!(start, value.number()),
        Field::End => read!(end, value.number()),
        Field::Action => read!(
            action,
            match bytes {
                b"ACCEPT" => Some(Action::Accept),
                b"REJECT" => Some(Action::Reject),
                _ => None,
            }
        ),
        Field::LogStatus => read!(
            log_status,
            match bytes {
                b"OK" => Some(LogStatus::Ok),
                b"NODATA" => Some(LogStatus::NoData),
                b"SKIPDATA" => Some(LogStatus::SkipData),
                _ => None,
            }
        ),
        Field::VpcId => text!(vpc_id),
        Field::SubnetId => text!(subnet_id),
        Field::InstanceId => text!(instance_id),
        Field::TcpFlags => read!(tcp_flags, value.number()),
        Field::Type => text!(traffic_type),
        Field::PktSrcAddr => read!(pkt_srcaddr, value.address()),
        Field::PktDstAddr => read!(pkt_dstaddr, value.address()),
        Field::Region => text!(region),
        Field::AzId => text!(az_id),
        Field::SublocationType => text!(sublocation_type),
        Field::SublocationId => text!(sublocation_id),
        Field::PktSrcAwsService => text!(pkt_src_aws_service),
        Field::PktDstAwsService => text!(pkt_dst_aws_service),
        Field::FlowDirection => read!(
            flow_direction,
            match bytes {
                b"ingress" => Some(FlowDirection::Ingress),
                b"egress" => Some(FlowDirection::Egress),
                _ => None,
            }
        ),
        Field::TrafficPath => read!(traffic_path, value.number()),
        Field::Skipped => {}
    }
    Ok(())
}

/// A value that did not read as its field's type: absent when it is `-`,
/// else malformed.
#[cold]
#[inline(never)]
fn absent_or_bad(record: &mut Record<'_>, field: Field, value: &[u8]) -> Result<(), Malformed> {
    if value == b"-" {
        clear(record, field);
        return Ok(());
    }
    Err(Malformed::BadValue {
        field: field.name().unwrap_or("a skipped field"),
    })
}

/// A field's value made absent (`-`): the reader reuses one record from
/// line to line, so a field is written whatever its value.
#[cold]
#[inline(never)]
fn clear(record: &mut Record<'_>, field: Field) {
    match field {
        Field::Version => record.version = None,
        Field::AccountId => record.account_id = None,
        Field::InterfaceId => record.interface_id = None,
        Field::SrcAddr => record.srcaddr = None,
        Field::DstAddr => record.dstaddr = None,
        Field::SrcPort => record.srcport = None,
        Field::DstPort => record.dstport = None,
        Field::Protocol => record.protocol = None,
        Field::Packets => record.packets = None,
        Field::Bytes => record.bytes = None,
        Field::Start => record.start = None,
        Field::End => record.end = None,
        Field::Action => record.action = None,
        Field::LogStatus => record.log_status = None,
        Field::VpcId => record.vpc_id = None,
        Field::SubnetId => record.subnet_id = None,
        Field::InstanceId => record.instance_id = None,
        Field::TcpFlags => record.tcp_flags = None,
        Field::Type => record.traffic_type = None,
        Field::PktSrcAddr => record.pkt_srcaddr = None,
        Field::PktDstAddr => record.pkt_dstaddr = None,
        Field::Region => record.region = None,
        Field::AzId => record.az_id = None,
        Field::SublocationType => record.sublocation_type = None,
        Field::SublocationId => record.sublocation_id = None,
        Field::PktSrcAwsService => record.pkt_src_aws_service = None,
        Field::PktDstAwsService => record.pkt_dst_aws_service = None,
        Field::FlowDirection => record.flow_direction = None,
        Field::TrafficPath => record.traffic_path = None,
        Field::Skipped => {}
    }
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
    pub fn next_line(&mut self) -> std::io::Result<Option<Line<'_>>> {
        Ok(self.next_raw()?.map(|(format, raw)| match raw {
            Raw::Line { number, bytes } => parsed(format, number, bytes),
            Raw::TooLong { number, text } => too_long(number, text),
        }))
    }

    /// Every remaining non-empty line, parsed, to `each`, by reference:
    /// the record is built once where it is read, where [`Self::next_line`]
    /// returns it (350 bytes) by value. The lines that lie whole in the
    /// reader's buffer are found with their spaces in one pass
    /// ([`scan_line`]); a line across the buffer's end takes
    /// [`Self::next_line`]'s way. What a reader of a whole object uses.
    pub fn for_each_line(&mut self, mut each: impl FnMut(&Line<'_>)) -> std::io::Result<()> {
        loop {
            if self.first_record.is_none() {
                // The whole lines in the reader's buffer, scanned in place.
                if self.consume > 0 {
                    self.inner.consume(self.consume);
                    self.consume = 0;
                }
                let buffer = self.inner.fill_buf()?;
                let mut from = 0;
                // One record for the buffer's lines, each line writing every
                // field of the format ([`set`] clears a `-`): not 350 bytes
                // cleared a line.
                let mut reused = Line::Record {
                    line: 0,
                    record: Record::default(),
                };
                while let Some((end, scanned)) = scan_line(buffer, from) {
                    let bytes = &buffer[from..end];
                    ask_ahead(buffer, from, end);
                    from = end + 1;
                    self.line_number += 1;
                    if is_blank(bytes) {
                        continue;
                    }
                    if bytes.len() > MAX_LINE_BYTES {
                        each(&too_long(self.line_number, &bytes[..1024]));
                        continue;
                    }
                    match &mut reused {
                        Line::Record { line, .. } => *line = self.line_number,
                        Line::Malformed { .. } => {
                            reused = Line::Record {
                                line: self.line_number,
                                record: Record::default(),
                            }
                        }
                    }
                    read_into(&self.format, bytes, scanned, &mut reused);
                    each(&reused);
                }
                self.consume = from;
            }
            // The line across the buffer's end, the first record of an
            // object without a header, or the object's end.
            let Some((format, raw)) = self.next_raw()? else {
                return Ok(());
            };
            match raw {
                Raw::Line { number, bytes } => parse_each(format, number, bytes, &mut each),
                Raw::TooLong { number, text } => each(&too_long(number, text)),
            }
        }
    }

    /// The next non-empty line's bytes (without its newline) and number,
    /// with the format to read it with.
    #[inline(always)]
    fn next_raw(&mut self) -> std::io::Result<Option<(&Format, Raw<'_>)>> {
        if let Some(first) = self.first_record.take() {
            self.spill = first;
            let raw = Raw::Line {
                number: 1,
                bytes: &self.spill,
            };
            return Ok(Some((&self.format, raw)));
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
            let number = self.line_number;
            if let Some(at) = found {
                self.consume = at + 1;
                if is_blank(&self.inner.fill_buf()?[..at]) {
                    continue;
                }
                let line = &self.inner.fill_buf()?[..at];
                let raw = if line.len() > MAX_LINE_BYTES {
                    Raw::TooLong {
                        number,
                        text: &line[..1024],
                    }
                } else {
                    Raw::Line {
                        number,
                        bytes: line,
                    }
                };
                return Ok(Some((&self.format, raw)));
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
                let raw = Raw::TooLong {
                    number,
                    text: &self.spill,
                };
                return Ok(Some((&self.format, raw)));
            }
            if self.spill.last() == Some(&b'\n') {
                self.spill.pop();
            }
            if is_blank(&self.spill) {
                continue;
            }
            let raw = Raw::Line {
                number,
                bytes: &self.spill,
            };
            return Ok(Some((&self.format, raw)));
        }
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

/// Parses one line into a record built where `each` reads it (a record
/// is 350 bytes: returned by value it would be copied).
#[inline(always)]
fn parse_each(format: &Format, number: u64, bytes: &[u8], each: &mut impl FnMut(&Line<'_>)) {
    let mut line = Line::Record {
        line: number,
        record: Record::default(),
    };
    read_into(format, bytes, Scanned::Unmasked, &mut line);
    each(&line);
}

/// Reads `bytes` into `line`, a fresh `Line::Record`; a malformed line
/// turns it into `Line::Malformed` with the reason.
#[inline(always)]
fn read_into<'a>(format: &Format, bytes: &'a [u8], scanned: Scanned<'a>, line: &mut Line<'a>) {
    let Line::Record {
        line: number,
        record,
    } = line
    else {
        return;
    };
    let read = match scanned {
        Scanned::Short(masked) => parse_masked(format, bytes, masked, record),
        Scanned::Long(masked) => parse_long_masked(format, bytes, masked, record),
        Scanned::Unmasked => parse_into(format, bytes, record),
    };
    if let Err(reason) = read {
        *line = Line::Malformed {
            line: *number,
            reason,
            text: bytes,
        };
    }
}

/// One line as the reader finds it, before parsing.
enum Raw<'a> {
    Line {
        number: u64,
        bytes: &'a [u8],
    },
    /// Longer than [`MAX_LINE_BYTES`]: its first 1,024 bytes.
    TooLong {
        number: u64,
        text: &'a [u8],
    },
}

fn too_long(number: u64, text: &[u8]) -> Line<'_> {
    Line::Malformed {
        line: number,
        reason: Malformed::TooLong {
            limit: MAX_LINE_BYTES,
        },
        text,
    }
}

/// Whether a line is only whitespace: told by its first byte for every
/// line that starts with a field.
#[inline(always)]
fn is_blank(line: &[u8]) -> bool {
    match line.first() {
        Some(first) if !first.is_ascii_whitespace() => false,
        _ => line.iter().all(u8::is_ascii_whitespace),
    }
}

#[inline(always)]
fn parsed<'a>(format: &Format, line_number: u64, line: &'a [u8]) -> Line<'a> {
    let mut parsed = Line::Record {
        line: line_number,
        record: Record::default(),
    };
    read_into(format, line, Scanned::Unmasked, &mut parsed);
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4(bytes: &[u8]) -> Option<Ipv4Addr> {
        Value::new(bytes, 0, bytes.len()).ipv4()
    }

    fn address(bytes: &[u8]) -> Option<IpAddr> {
        Value::new(bytes, 0, bytes.len()).address()
    }

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
        assert_eq!(record.account_id.map(Text::as_str), Some("123456789010"));
        assert_eq!(
            record.interface_id.map(Text::as_str),
            Some("eni-1235b8ca123456789")
        );
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

    /// Every field of every version reads `-` as absent, also after a
    /// line that set it (the reader reuses its record), and a value that
    /// is neither its type nor `-` is malformed, naming its field: numbers,
    /// addresses and keywords are read before the dash is looked for, text
    /// after.
    #[test]
    fn every_field_reads_a_dash_as_absent_and_a_bad_value_by_name() {
        let fields = [
            ("version", "5", true),
            ("account-id", "123456789010", false),
            ("interface-id", "eni-a", false),
            ("srcaddr", "10.0.0.1", true),
            ("dstaddr", "2001:db8::1", true),
            ("srcport", "443", true),
            ("dstport", "49152", true),
            ("protocol", "6", true),
            ("packets", "10", true),
            ("bytes", "840", true),
            ("start", "1700000000", true),
            ("end", "1700000060", true),
            ("action", "ACCEPT", true),
            ("log-status", "OK", true),
            ("vpc-id", "vpc-1", false),
            ("subnet-id", "subnet-1", false),
            ("instance-id", "i-1", false),
            ("tcp-flags", "2", true),
            ("type", "IPv4", false),
            ("pkt-srcaddr", "10.0.0.9", true),
            ("pkt-dstaddr", "10.0.0.2", true),
            ("region", "us-east-1", false),
            ("az-id", "use1-az1", false),
            ("sublocation-type", "wavelength", false),
            ("sublocation-id", "wl-1", false),
            ("pkt-src-aws-service", "S3", false),
            ("pkt-dst-aws-service", "EC2", false),
            ("flow-direction", "ingress", true),
            ("traffic-path", "1", true),
            ("reject-reason", "BPA", false),
        ];
        let header: Vec<&str> = fields.iter().map(|(name, ..)| *name).collect();
        let typed: Vec<&str> = fields.iter().map(|(_, value, _)| *value).collect();
        let dashes = vec!["-"; fields.len()];
        let object = format!(
            "{}\n{}\n{}\n",
            header.join(" "),
            typed.join(" "),
            dashes.join(" ")
        );
        let mut records = Vec::new();
        FlowLogReader::new(object.as_bytes())
            .unwrap()
            .for_each_line(|line| match line {
                Line::Record { record, .. } => records.push(format!("{record:?}")),
                Line::Malformed { reason, .. } => panic!("{reason}"),
            })
            .unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].matches("None").count(), 0, "{}", records[0]);
        assert_eq!(records[1], format!("{:?}", Record::default()));
        let format = Format::from_header(&header.join(" ")).unwrap();
        for (at, (name, _, typed_first)) in fields.iter().enumerate() {
            if *name == "reject-reason" {
                // Skipped, never read.
                continue;
            }
            let mut values = typed.clone();
            // A control character is no text; a word is no number, address
            // or keyword.
            values[at] = if *typed_first { "x" } else { "a\u{1}b" };
            let reason = parse_record(&format, values.join(" ").as_bytes()).unwrap_err();
            assert_eq!(reason, Malformed::BadValue { field: name }, "{name}");
        }
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
            // DEL, and a control byte past a text's first sixteen.
            (
                "2 12345678901\u{7f} eni-1 10.0.0.1 10.0.0.2 1 22 6 1 1 1 2 ACCEPT OK",
                "bad value for account-id",
            ),
            (
                "2 123456789010 eni-0123456789abc\u{1b}ef 10.0.0.1 10.0.0.2 1 22 6 1 1 1 2 ACCEPT OK",
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
                Line::Record { line, record } => {
                    format!("{line}:{}", record.interface_id.unwrap().as_str())
                }
                Line::Malformed { line, reason, .. } => format!("{line}:{reason}"),
            });
        }
        assert_eq!(seen, ["2:eni-a", "4:expected 4 fields, found 3", "5:eni-b"]);
    }

    #[test]
    fn a_dash_after_a_value_reads_absent_in_every_format() {
        // Long lines (over the scanned length) and short ones, a custom
        // format's fields typed then `-`, and a malformed line between.
        let object = "version interface-id srcaddr dstaddr tcp-flags flow-direction vpc-id\n\
                      5 eni-a 10.0.0.1 10.0.0.2 2 ingress vpc-1\n\
                      5 eni-a 10.0.0.1 10.0.0.2 - - -\n\
                      5 eni-a 10.0.0.1 10.0.0.2 19 egress\n\
                      5 eni-b - - - - vpc-2\n";
        let padded = object.replace("vpc-1", &format!("vpc-{}", "1".repeat(130)));
        for object in [object, padded.as_str()] {
            let mut each = Vec::new();
            FlowLogReader::new(object.as_bytes())
                .unwrap()
                .for_each_line(|line| each.push(format!("{line:?}")))
                .unwrap();
            let mut reader = FlowLogReader::new(object.as_bytes()).unwrap();
            let mut one_by_one = Vec::new();
            while let Some(line) = reader.next_line().unwrap() {
                one_by_one.push(format!("{line:?}"));
            }
            assert_eq!(each, one_by_one);
            assert!(each[1].contains("tcp_flags: None") && each[1].contains("vpc_id: None"));
            assert!(each[2].contains("FieldCount"));
            assert!(each[3].contains("srcaddr: None") && each[3].contains("vpc-2"));
        }
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
            assert_eq!(record.interface_id.map(Text::as_str), Some("eni-after"));
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
        assert_eq!(
            record.interface_id.map(Text::as_str),
            Some("eni-1235b8ca123456789")
        );
        assert_eq!(record.dstaddr, Some("172.31.16.21".parse().unwrap()));
        assert_eq!(record.log_status, Some(LogStatus::Ok));
    }

    #[test]
    fn a_line_that_is_not_utf8_reads_field_by_field() {
        let format = Format::from_header("interface-id some-future-field dstport").unwrap();
        // A stray byte in a column fanin skips is harmless...
        let record = parse_record(&format, b"eni-a caf\xe9 22").unwrap();
        assert_eq!(
            (record.interface_id.map(Text::as_str), record.dstport),
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

    /// `line`, the first of `buffer`, found by the reader's scan and read
    /// by the path the scan leads to: the same record or error as the plain
    /// split.
    fn scanned_reads_as_plain(
        format: &Format,
        line: &str,
        buffer: &str,
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        let (end, found) = scan_line(buffer.as_bytes(), 0).unwrap();
        proptest::prop_assert_eq!(end, line.len());
        let line = line.as_bytes();
        let mut plain = Record::default();
        let plain = parse_irregular(
            format.fields(),
            line.strip_suffix(b"\r").unwrap_or(line),
            &mut plain,
        )
        .map(|()| plain);
        let mut scanned = Record::default();
        let read = match found {
            Scanned::Short(masked) => {
                proptest::prop_assert!(line.len() < MASKED_LINE);
                parse_masked(format, line, masked, &mut scanned)
            }
            Scanned::Long(masked) => {
                proptest::prop_assert!((MASKED_LINE..LONG_LINE).contains(&line.len()));
                parse_long_masked(format, line, masked, &mut scanned)
            }
            Scanned::Unmasked => {
                proptest::prop_assert!(
                    line.len() >= LONG_LINE
                        || buffer.len() < WINDOW
                        || (line.len() >= MASKED_LINE && buffer.len() < LONG_WINDOW)
                );
                parse_into(format, line, &mut scanned)
            }
        };
        let scanned = read.map(|()| scanned);
        proptest::prop_assert_eq!(scanned, plain);
        Ok(())
    }

    type Seven = (String, String, String, String, String, String, String);

    /// Values (or `-`) of the default format's fields, its first seven and
    /// its last seven.
    fn default_values() -> impl proptest::strategy::Strategy<Value = (Seven, Seven)> {
        (
            (
                "[0-9]{1,2}|-",
                "[0-9]{12}|-",
                "eni-[0-9a-f]{8,17}|-",
                "((25[0-5]|2[0-4][0-9]|1?[0-9]{1,2})\\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]{1,2})|2001:db8::[0-9a-f]{1,4}|-",
                "((25[0-5]|2[0-4][0-9]|1?[0-9]{1,2})\\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]{1,2})|-",
                "[0-9]{1,4}|-",
                "[0-9]{1,4}|-",
            ),
            (
                "[0-9]{1,2}|-",
                "[0-9]{1,19}|-",
                "[0-9]{1,19}|-",
                "[0-9]{1,11}|-",
                "[0-9]{1,11}|-",
                "ACCEPT|REJECT|-",
                "OK|NODATA|SKIPDATA|-",
            ),
        )
    }

    /// `fields` with one changed (`change` below their count: replaced by
    /// `other`; equal to it: the last dropped; one more: `other` added),
    /// joined by single spaces but one space doubled before field
    /// `double` (a space before the first when 0, after the last when one
    /// more than their count), and a carriage return when asked.
    fn changed_line(
        mut fields: Vec<String>,
        change: usize,
        other: String,
        double: usize,
        carriage: bool,
    ) -> String {
        let count = fields.len();
        if change < count {
            fields[change] = other;
        } else if change == count {
            fields.pop();
        } else if change == count + 1 {
            fields.push(other);
        }
        let mut line = String::from(if double == 0 { " " } else { "" });
        for (at, field) in fields.iter().enumerate() {
            if at > 0 {
                line.push_str(if at == double { "  " } else { " " });
            }
            line.push_str(field);
        }
        if double == count + 1 {
            line.push(' ');
        }
        if carriage {
            line.push('\r');
        }
        line
    }

    /// Lines of every length about the scan's two bounds ([`MASKED_LINE`],
    /// [`LONG_LINE`]), with and without a carriage return (which a line's
    /// last field ends before, in the lower half for a line of 128 bytes
    /// with it), each read by the path its length leads to as the plain
    /// split reads it, and read at all.
    #[test]
    fn lines_about_the_scans_bounds_read_as_the_plain_split() {
        let format = Format::from_header("interface-id packets").unwrap();
        for bound in [MASKED_LINE, LONG_LINE] {
            for len in bound - 3..=bound + 3 {
                for carriage in ["", "\r"] {
                    // `eni-` and a name, a space, five digits.
                    let name = "a".repeat(len - carriage.len() - 10);
                    let line = format!("eni-{name} 12345{carriage}");
                    assert_eq!(line.len(), len);
                    let record = parse_record(&format, line.as_bytes()).unwrap();
                    assert_eq!(record.packets, Some(12345), "{len} bytes {carriage:?}");
                    let buffer = format!("{line}\n{}", " ".repeat(300));
                    scanned_reads_as_plain(&format, &line, &buffer).unwrap();
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn the_fast_path_reads_as_the_plain_split(
            line in "(([0-9]{1,20}|[0-9]{1,4}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}|-|eni-[0-9a-f]{1,17}|[A-Z]{2,6}|\u{7}|\u{e9})[ ]{1,2}){1,9}[0-9]{0,3}"
        ) {
            let format =
                Format::from_header("version interface-id srcaddr dstport packets start action").unwrap();
            let line = line.as_bytes();
            let mut plain = Record::default();
            let plain = parse_irregular(format.fields(), line, &mut plain).map(|()| plain);
            proptest::prop_assert_eq!(parse_record(&format, line), plain);
        }

        #[test]
        fn the_scanned_path_reads_as_the_plain_split(
            line in "(([0-9]{1,20}|[0-9]{1,4}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}|-|eni-[0-9a-f]{1,17}|[A-Z]{2,6}|\u{7}|\u{e9})[ ]{1,2}){1,12}[0-9]{0,3}\r?",
            next in "[ -~]{0,200}",
        ) {
            let format =
                Format::from_header("version interface-id srcaddr dstport packets start action").unwrap();
            scanned_reads_as_plain(&format, &line, &format!("{line}\n{next}"))?;
        }

        /// The default format's written-out path ([`parse_default_masked`])
        /// against the plain split: valid lines (a third of the cases),
        /// lines with one field replaced by a value of another kind, one
        /// field too few or too many, and a doubled space somewhere.
        #[test]
        fn the_default_formats_path_reads_as_the_plain_split(
            (head, tail) in default_values(),
            change in 0..24usize,
            other in "[0-9]{1,21}|[A-Z]{2,8}|eni-[0-9a-f]{3}|[0-9]{3}\\.[0-9]|\\u{7}",
            double in 0..16usize,
            carriage in proptest::bool::ANY,
            // What follows the line in the reader's buffer: enough for the
            // window the fast path reads the line in.
            next in "[ -~\n]{136,150}",
        ) {
            let fields = vec![
                head.0, head.1, head.2, head.3, head.4, head.5, head.6,
                tail.0, tail.1, tail.2, tail.3, tail.4, tail.5, tail.6,
            ];
            let line = changed_line(fields, change, other, double, carriage);
            let format = Format::default_v2();
            proptest::prop_assert!(format.is_default());
            scanned_reads_as_plain(&format, &line, &format!("{line}\n{next}"))?;
        }

        /// A custom format with fields of versions 3 to 5 (lines of about
        /// 100 to 290 bytes: short ones, long ones read in two halves
        /// ([`parse_long_masked`]), and longer ones) against the plain
        /// split, with the same changes as above, and from none to more
        /// than enough bytes after the line for either window.
        #[test]
        fn a_custom_formats_paths_read_as_the_plain_split(
            (head, tail) in default_values(),
            more in (
                "vpc-[0-9a-f]{8,17}|-",
                "subnet-[0-9a-f]{8,17}|-",
                "i-[0-9a-f]{8,17}|-",
                "[0-9]{1,3}|-",
                "ingress|egress|-",
                "[a-z]{2}-[a-z]{4,9}-[0-9]|-",
                "((25[0-5]|2[0-4][0-9]|1?[0-9]{1,2})\\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]{1,2})|-",
            ),
            change in 0..32usize,
            other in "[0-9]{1,21}|[A-Z]{2,8}|eni-[0-9a-f]{3}|[0-9]{3}\\.[0-9]|\\u{7}",
            double in 0..23usize,
            carriage in proptest::bool::ANY,
            next in "[ -~\n]{0,300}",
        ) {
            let fields = vec![
                head.0, head.1, head.2, head.3, head.4, head.5, head.6,
                tail.0, tail.1, tail.2, tail.3, tail.4, tail.5, tail.6,
                more.0, more.1, more.2, more.3, more.4, more.5, more.6,
            ];
            let line = changed_line(fields, change, other, double, carriage);
            let format = Format::from_header(
                "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status vpc-id subnet-id instance-id tcp-flags flow-direction region pkt-srcaddr",
            )
            .unwrap();
            scanned_reads_as_plain(&format, &line, &format!("{line}\n{next}"))?;
        }

        #[test]
        fn addresses_read_as_the_standard_library_reads_them(
            text in "[0-9.]{0,17}|([0-9]{1,4}\\.){3}[0-9]{1,4}|[0-9a-f:.]{2,40}",
            before in "[0-9. ]{0,9}",
        ) {
            let line = format!("{before}{text}");
            let value = Value::new(line.as_bytes(), before.len(), line.len());
            let ours = value.address();
            match text.parse::<IpAddr>() {
                Ok(theirs) => proptest::prop_assert_eq!(ours, Some(theirs)),
                // The standard library refuses leading zeros (`01.2.3.4`),
                // which this reads as decimal; nothing else.
                Err(_) => proptest::prop_assert!(
                    ours.is_none()
                        || text.split('.').any(|octet| octet.len() > 1 && octet.starts_with('0')),
                    "{text} read as {ours:?}"
                ),
            }
        }

        #[test]
        fn numbers_read_in_place_as_by_digit(
            n in proptest::prelude::any::<u64>(),
            width in 1u32..=20,
            before in "[0-9a-z ]{0,9}",
            zeros in 0usize..3,
            stray in proptest::option::of((0usize..20, "[^0-9]")),
        ) {
            // Every length of number, not mostly nineteen and twenty digits.
            let n = 10u64.checked_pow(width).map_or(n, |bound| n % bound);
            let mut digits = format!("{}{n}", "0".repeat(zeros));
            if let Some((at, byte)) = &stray {
                let at = at % digits.len();
                digits.replace_range(at..=at, byte);
            }
            let line = format!("{before}{digits}");
            let value = Value::new(line.as_bytes(), before.len(), line.len());
            proptest::prop_assert_eq!(value.number::<u64>(), number::<u64>(digits.as_bytes()));
            proptest::prop_assert_eq!(value.number::<u16>(), number::<u16>(digits.as_bytes()));
            if stray.is_none() && digits.len() <= 20 {
                proptest::prop_assert_eq!(value.number::<u64>(), Some(n));
            }
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
            if let Ok(mut reader) = FlowLogReader::new(&object[..]) {
                let _ = reader.for_each_line(|_| ());
            }
        }

        #[test]
        fn each_line_is_the_next_line(
            lines in proptest::collection::vec(
                "(2 123456789010 eni-[0-9a-f]{1,17} [0-9.]{7,15} 10\\.0\\.0\\.[0-9]{1,3} [0-9]{1,5} [0-9]{1,5} 6 [0-9]{1,3} [0-9]{1,6} 1418530010 1418530070 (ACCEPT|REJECT) OK|2 123456789010 eni-[0-9a-f]{1,17} [0-9.]{7,15} 10\\.0\\.0\\.[0-9]{1,3} - - 1 [0-9]{1,3} [0-9]{1,6} 1418530010 1418530070 (ACCEPT|-) OK|2 123456789010 eni-[0-9a-f]{1,17} - - - - - - - 1418530010 1418530070 - (NODATA|SKIPDATA)|[ -~]{0,40}|[ -~]{100,160}|)\r?",
                0..12,
            ),
            capacity in proptest::prop_oneof![7usize..64, 64usize..1024, proptest::strategy::Just(8192)],
        ) {
            let object = format!("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n{}", lines.join("\n"));
            let read = |capacity| FlowLogReader::new(std::io::BufReader::with_capacity(capacity, object.as_bytes())).unwrap();
            let mut one_by_one = Vec::new();
            let mut reader = read(capacity);
            while let Some(line) = reader.next_line().unwrap() {
                one_by_one.push(format!("{line:?}"));
            }
            let mut each = Vec::new();
            read(capacity).for_each_line(|line| each.push(format!("{line:?}"))).unwrap();
            proptest::prop_assert_eq!(each, one_by_one);
        }
    }
}
