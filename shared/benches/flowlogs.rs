//! Flow-log benchmark: parse + aggregate in process beside a floor, and the
//! aggregator's memory for a day of a 1,000-interface VPC.
//!
//! The floor splits the same bytes into lines and fields (memchr) and
//! touches every field, without typing or aggregating anything: the least
//! any parser of this text must do. It asks for the text ahead as the
//! reader does (`ask_ahead`), so that neither waits on memory the other
//! does not. Rounds alternate floor, parse only and
//! parse + aggregate on one core; each measure repeats its pass until it
//! has taken at least 0.6 s of the thread's CPU time (so a 10 ms tick is
//! under 2 % of it), and the best round of each is reported as records per
//! second per core, with their ratio. The same traffic in a custom format
//! (the parser's general path) is measured against its own floor too.
//!
//! The day: 1,000 interfaces × 24 hours × 500 records of mixed traffic
//! (in-VPC service calls, the interfaces' own outbound connections and
//! their answers, internet clients, scans) added as parsed records; the
//! aggregator's keys and bytes, and the process's peak resident memory.
//!
//! See docs/exposure.md, "Throughput", for the command.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fanin::flowlogs::aggregate::Aggregator;
use fanin::flowlogs::classify::NetworkMap;
use fanin::flowlogs::fields::Format;
use fanin::flowlogs::parse::{FlowLogReader, Line, ask_ahead, parse_record};
use memchr::memchr;

const RECORDS: usize = 1_000_000;
const ROUNDS: usize = 5;
/// The custom format's measure: fewer records (its text, 170 bytes a line,
/// stays under the default's, so the peak resident memory reported is
/// still the day's and the default text's) and rounds.
const CUSTOM_RECORDS: usize = 500_000;
const CUSTOM_ROUNDS: usize = 3;
const INTERFACES: u32 = 1000;
const DAY_RECORDS_PER_INTERFACE_HOUR: u32 = 500;
const HOUR0: u64 = 1_764_460_800; // 2026-11-30T00:00:00Z

/// xorshift64*: reproducible traffic without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn interface_address(i: u32) -> String {
    format!("10.0.{}.{}", i / 250, i % 250 + 1)
}

fn network_map() -> NetworkMap {
    let mut map = NetworkMap::new();
    for i in 0..INTERFACES {
        map.insert_interface(
            format!("eni-{i:017x}"),
            Some("vpc-0123456789abcdef0".into()),
            [interface_address(i).parse().unwrap()],
        );
    }
    map.insert_vpc_cidr("vpc-0123456789abcdef0", "10.0.0.0/16".parse().unwrap());
    map.insert_peered_cidr("vpc-0123456789abcdef0", "10.1.0.0/16".parse().unwrap());
    map
}

/// The custom format measured beside the default: the default's fields
/// and four of versions 3 to 5, as organizations that set a format write
/// it (lines of about 170 bytes).
const CUSTOM_HEADER: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status vpc-id subnet-id tcp-flags flow-direction";

/// One line of mixed traffic on interface `i`: the default format, or
/// [`CUSTOM_HEADER`]'s (the same draws, so the same traffic).
fn line(out: &mut String, rng: &mut Rng, i: u32, hour: u64, custom: bool) {
    use std::fmt::Write;
    let me = interface_address(i);
    let start = hour + rng.below(3600);
    let end = start + 60;
    let ephemeral = 32768 + rng.below(28000);
    let public = format!(
        "{}.{}.{}.{}",
        rng.below(200) + 11,
        rng.below(256),
        rng.below(256),
        rng.below(254) + 1
    );
    // Also the custom format's TCP flags (SYN 2, FIN 1, SYN-ACK 18, OR-ed)
    // and direction.
    let (src, dst, sport, dport, proto, action, flags, direction) = match rng.below(100) {
        // In-VPC clients of the interface's services.
        0..40 => {
            let service = [443, 5432, 6379][rng.below(3) as usize];
            let client = format!("10.0.{}.{}", rng.below(4), rng.below(250) + 1);
            (client, me, ephemeral, service, 6, "ACCEPT", 3, "ingress")
        }
        // The interface's own calls out, and their answers.
        40..60 => (me, public, ephemeral, 443, 6, "ACCEPT", 3, "egress"),
        60..80 => (public, me, 443, ephemeral, 6, "ACCEPT", 19, "ingress"),
        // Scans.
        80..95 => {
            let port = [22, 23, 3389, 445, 8080][rng.below(5) as usize];
            (
                public,
                me,
                40000 + rng.below(20000),
                port,
                6,
                "REJECT",
                2,
                "ingress",
            )
        }
        // Internet clients of a public service; some DNS.
        95..98 => (public, me, ephemeral, 443, 6, "ACCEPT", 3, "ingress"),
        _ => (
            me,
            "10.0.0.2".to_owned(),
            ephemeral,
            53,
            17,
            "ACCEPT",
            0,
            "egress",
        ),
    };
    let packets = rng.below(50) + 1;
    let bytes = packets * (rng.below(1400) + 40);
    let _ = write!(
        out,
        "2 123456789012 eni-{i:017x} {src} {dst} {sport} {dport} {proto} {packets} {bytes} {start} {end} {action} OK"
    );
    if custom {
        let _ = write!(
            out,
            " vpc-0123456789abcdef0 subnet-{:017x} {flags} {direction}",
            i / 250
        );
    }
    out.push('\n');
}

fn text(records: usize, custom: bool) -> Vec<u8> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = String::with_capacity(records * if custom { 170 } else { 110 });
    if custom {
        out.push_str(CUSTOM_HEADER);
    } else {
        out.push_str("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status");
    }
    out.push('\n');
    for _ in 0..records {
        let i = rng.below(u64::from(INTERFACES)) as u32;
        let hour = HOUR0 + 3600 * rng.below(2);
        line(&mut out, &mut rng, i, hour, custom);
    }
    out.into_bytes()
}

/// Lines and fields, touched, nothing else. The text is asked for ahead
/// as the reader asks for it ([`ask_ahead`]), so that the floor and the
/// parser wait for the same bytes the same way.
fn floor(bytes: &[u8]) -> (usize, usize) {
    let (mut lines, mut touched) = (0, 0usize);
    let mut from = 0;
    while from < bytes.len() {
        let end = memchr(b'\n', &bytes[from..]).map_or(bytes.len(), |at| from + at);
        ask_ahead(bytes, from, end);
        let mut line = &bytes[from..end];
        from = end + 1;
        lines += 1;
        while !line.is_empty() {
            let at = memchr(b' ', line).unwrap_or(line.len());
            touched = touched.wrapping_add(usize::from(line[0]) + at);
            line = &line[(at + 1).min(line.len())..];
        }
    }
    (lines, std::hint::black_box(touched))
}

/// Parsing alone, to tell the parser's cost from the aggregation's.
fn parse_only(bytes: &[u8]) -> u64 {
    let mut reader = FlowLogReader::new(bytes).unwrap();
    let mut ports = 0u64;
    reader
        .for_each_line(|line| {
            if let Line::Record { record, .. } = line {
                ports += u64::from(record.dstport.unwrap_or(0));
            }
        })
        .unwrap();
    std::hint::black_box(ports)
}

fn parse_and_aggregate(bytes: &[u8], map: &Arc<NetworkMap>) -> (u64, usize) {
    let mut reader = FlowLogReader::new(bytes).unwrap();
    let mut aggregator = Aggregator::new(map.clone());
    reader
        .for_each_line(|line| match line {
            Line::Record { record, .. } => aggregator.add(record),
            Line::Malformed { reason, .. } => panic!("{reason}"),
        })
        .unwrap();
    // The last sources still pending are part of the work.
    aggregator.flush();
    (aggregator.stats().aggregated, aggregator.key_count())
}

fn peak_resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// This thread's CPU time (user + system, from `/proc/thread-self/stat`,
/// in clock ticks of 10 ms): per-core throughput on a shared machine,
/// whatever else runs.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let after_name = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<u64> = after_name
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// Runs `pass` until it has taken at least `MEASURED` of CPU time, and
/// returns the time of one pass: a measure of many 10 ms ticks, whatever
/// the length of one pass.
fn per_pass<T>(mut pass: impl FnMut() -> T) -> (Duration, T) {
    let started = cpu_time();
    let mut passes = 0u32;
    loop {
        let result = pass();
        passes += 1;
        let spent = cpu_time() - started;
        if spent >= MEASURED {
            return (spent / passes, result);
        }
    }
}

/// The least CPU time of one measure.
const MEASURED: Duration = Duration::from_millis(600);

mod section;

fn rate(records: usize, time: Duration) -> f64 {
    records as f64 / time.as_secs_f64()
}

fn main() {
    let map = Arc::new(network_map());
    let bytes = text(RECORDS, false);
    println!(
        "flow logs: {RECORDS} default-format records, {:.1} MB of text, {INTERFACES} interfaces, {ROUNDS} interleaved rounds on one core, CPU time",
        bytes.len() as f64 / 1e6
    );
    let (mut best_floor, mut best_parse) = (Duration::MAX, Duration::MAX);
    let mut best_parse_only = Duration::MAX;
    let mut keys = 0;
    for _ in 0..ROUNDS {
        let (time, (lines, _)) = per_pass(|| floor(&bytes));
        best_floor = best_floor.min(time);
        assert_eq!(lines, RECORDS + 1);
        let (time, _) = per_pass(|| parse_only(&bytes));
        best_parse_only = best_parse_only.min(time);
        let (time, (aggregated, key_count)) = per_pass(|| parse_and_aggregate(&bytes, &map));
        best_parse = best_parse.min(time);
        assert_eq!(aggregated as usize, RECORDS);
        keys = key_count;
    }
    let floor_rate = rate(RECORDS, best_floor);
    let parse_rate = rate(RECORDS, best_parse);
    println!(
        "floor (lines and fields)      {:>12.0} records/s/core  {:>6.0} ns/record",
        floor_rate,
        1e9 / floor_rate
    );
    let parse_only_rate = rate(RECORDS, best_parse_only);
    println!(
        "parse only                    {:>12.0} records/s/core  {:>6.0} ns/record",
        parse_only_rate,
        1e9 / parse_only_rate
    );
    println!(
        "parse + aggregate             {:>12.0} records/s/core  {:>6.0} ns/record  ({keys} keys)",
        parse_rate,
        1e9 / parse_rate
    );
    println!(
        "parse + aggregate / floor     {:>11.0}%   (goal: >= 1,000,000 records/s/core and >= 50%)",
        100.0 * parse_rate / floor_rate
    );
    drop(bytes);

    // The same traffic in a custom format (the parser's general path: a
    // dispatch per field, and lines too long for the scanned one).
    let custom = text(CUSTOM_RECORDS, true);
    let (mut custom_floor, mut custom_parse) = (Duration::MAX, Duration::MAX);
    for _ in 0..CUSTOM_ROUNDS {
        let (time, (lines, _)) = per_pass(|| floor(&custom));
        custom_floor = custom_floor.min(time);
        assert_eq!(lines, CUSTOM_RECORDS + 1);
        let (time, (aggregated, _)) = per_pass(|| parse_and_aggregate(&custom, &map));
        custom_parse = custom_parse.min(time);
        assert_eq!(aggregated as usize, CUSTOM_RECORDS);
    }
    let custom_floor_rate = rate(CUSTOM_RECORDS, custom_floor);
    let custom_rate = rate(CUSTOM_RECORDS, custom_parse);
    println!(
        "custom format ({} fields, {CUSTOM_RECORDS} records, {:.1} MB): floor {:.0} ns/record, parse + aggregate {:.0} ns/record ({:.0} records/s/core), {:.0}% of its floor",
        CUSTOM_HEADER.split(' ').count(),
        custom.len() as f64 / 1e6,
        1e9 / custom_floor_rate,
        1e9 / custom_rate,
        custom_rate,
        100.0 * custom_rate / custom_floor_rate
    );
    drop(custom);

    // A day of a 1,000-interface VPC, as parsed records.
    let before = peak_resident_kib();
    let started = Instant::now();
    let format = Format::default_v2();
    let mut aggregator = Aggregator::new(map.clone());
    let mut rng = Rng(42);
    let mut buffer = String::with_capacity(256);
    let mut records = 0u64;
    for hour in 0..24 {
        for i in 0..INTERFACES {
            for _ in 0..DAY_RECORDS_PER_INTERFACE_HOUR {
                buffer.clear();
                line(&mut buffer, &mut rng, i, HOUR0 + 3600 * hour, false);
                let record = parse_record(&format, buffer.trim_end().as_bytes()).unwrap();
                aggregator.add(&record);
                records += 1;
            }
        }
    }
    aggregator.flush();
    let elapsed = started.elapsed();
    let peak = peak_resident_kib();
    println!(
        "a day of {INTERFACES} interfaces: {records} records in {:.1} s, {} keys, aggregator ~{:.0} MiB, peak resident {:.0} MiB (before the day: {:.0} MiB)",
        elapsed.as_secs_f64(),
        aggregator.key_count(),
        aggregator.approximate_bytes() as f64 / 1048576.0,
        peak as f64 / 1024.0,
        before as f64 / 1024.0,
    );
    let ratio = parse_rate / floor_rate;
    let markdown = format!(
        "{} default-format (version 2) records, {INTERFACES} interfaces, CPU time of one thread, best of {ROUNDS} interleaved rounds (each measure at least {} ms of repeated passes).\n\n\
         | what | records/s/core | ns/record |\n| --- | --- | --- |\n\
         | floor: split the same bytes into lines and fields | {} | {:.0} |\n\
         | parse only | {} | {:.0} |\n\
         | **parse + aggregate** ({keys} keys) | **{}** | **{:.0}** |\n\n\
         Parse + aggregate is **{:.0} %** of the floor. The same traffic in a custom format of {} fields (`{CUSTOM_HEADER}`, {} records, best of {CUSTOM_ROUNDS} rounds), which the parser reads field by field through its general path: floor {:.0} ns/record, parse + aggregate {:.0} ns/record ({} records/s/core), **{:.0} %** of its floor. A day of a {INTERFACES}-interface VPC ({} records, {} keys): peak resident memory {:.0} MiB.\n",
        section::thousands(RECORDS as f64),
        MEASURED.as_millis(),
        section::thousands(floor_rate),
        1e9 / floor_rate,
        section::thousands(parse_only_rate),
        1e9 / parse_only_rate,
        section::thousands(parse_rate),
        1e9 / parse_rate,
        100.0 * ratio,
        CUSTOM_HEADER.split(' ').count(),
        section::thousands(CUSTOM_RECORDS as f64),
        1e9 / custom_floor_rate,
        1e9 / custom_rate,
        section::thousands(custom_rate),
        100.0 * custom_rate / custom_floor_rate,
        section::thousands(records as f64),
        aggregator.key_count(),
        peak as f64 / 1024.0,
    );
    section::write(
        "parser-flowlogs",
        section::Section {
            title: "VPC Flow Logs: parse + aggregate (issue 11)",
            command: "cargo bench -p fanin --bench flowlogs",
            markdown,
            goals: vec![
                section::Goal {
                    name: "flow logs, parse + aggregate",
                    target: "≥ 1,000,000 records/s/core",
                    measured: section::thousands(parse_rate),
                    met: parse_rate >= 1e6,
                },
                section::Goal {
                    name: "flow logs, parse + aggregate against its floor",
                    target: "≥ 50 %",
                    measured: format!("{:.0} %", 100.0 * ratio),
                    met: ratio >= 0.5,
                },
            ],
            data: serde_json::json!({
                "records": RECORDS, "floor_records_per_second": floor_rate,
                "parse_records_per_second": parse_only_rate,
                "parse_aggregate_records_per_second": parse_rate, "keys": keys,
                "custom_records": CUSTOM_RECORDS, "custom_floor_records_per_second": custom_floor_rate,
                "custom_parse_aggregate_records_per_second": custom_rate,
                "day_records": records, "day_keys": aggregator.key_count(), "day_peak_kib": peak,
            }),
        },
    );
}
