//! Flow-log benchmark: parse + aggregate in process beside a floor, and the
//! aggregator's memory for a day of a 1,000-interface VPC.
//!
//! The floor splits the same bytes into lines and fields (memchr, as the
//! parser does) and touches every field, without typing or aggregating
//! anything: the least any parser of this text must do. Rounds alternate
//! floor, parse only and parse + aggregate on one core; each measure
//! repeats its pass until it has taken at least 0.6 s of the thread's CPU
//! time (so a 10 ms tick is under 2 % of it), and the best round of each is
//! reported as records per second per core, with their ratio.
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
use fanin::flowlogs::parse::{FlowLogReader, Line, parse_record};
use memchr::memchr;

const RECORDS: usize = 1_000_000;
const ROUNDS: usize = 5;
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

/// One default-format line of mixed traffic on interface `i`.
fn line(out: &mut String, rng: &mut Rng, i: u32, hour: u64) {
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
    let (src, dst, sport, dport, proto, action) = match rng.below(100) {
        // In-VPC clients of the interface's services.
        0..40 => {
            let service = [443, 5432, 6379][rng.below(3) as usize];
            let client = format!("10.0.{}.{}", rng.below(4), rng.below(250) + 1);
            (client, me, ephemeral, service, 6, "ACCEPT")
        }
        // The interface's own calls out, and their answers.
        40..60 => (me, public, ephemeral, 443, 6, "ACCEPT"),
        60..80 => (public, me, 443, ephemeral, 6, "ACCEPT"),
        // Scans.
        80..95 => {
            let port = [22, 23, 3389, 445, 8080][rng.below(5) as usize];
            (public, me, 40000 + rng.below(20000), port, 6, "REJECT")
        }
        // Internet clients of a public service; some DNS.
        95..98 => (public, me, ephemeral, 443, 6, "ACCEPT"),
        _ => (me, "10.0.0.2".to_owned(), ephemeral, 53, 17, "ACCEPT"),
    };
    let packets = rng.below(50) + 1;
    let bytes = packets * (rng.below(1400) + 40);
    let _ = writeln!(
        out,
        "2 123456789012 eni-{i:017x} {src} {dst} {sport} {dport} {proto} {packets} {bytes} {start} {end} {action} OK"
    );
}

fn text(records: usize) -> Vec<u8> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = String::with_capacity(records * 110);
    out.push_str("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n");
    for _ in 0..records {
        let i = rng.below(u64::from(INTERFACES)) as u32;
        let hour = HOUR0 + 3600 * rng.below(2);
        line(&mut out, &mut rng, i, hour);
    }
    out.into_bytes()
}

/// Lines and fields, touched, nothing else.
fn floor(bytes: &[u8]) -> (usize, usize) {
    let (mut lines, mut touched) = (0, 0usize);
    let mut rest = bytes;
    while !rest.is_empty() {
        let end = memchr(b'\n', rest).unwrap_or(rest.len());
        let mut line = &rest[..end];
        rest = &rest[(end + 1).min(rest.len())..];
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
    let bytes = text(RECORDS);
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
                line(&mut buffer, &mut rng, i, HOUR0 + 3600 * hour);
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
         Parse + aggregate is **{:.0} %** of the floor. A day of a {INTERFACES}-interface VPC ({} records, {} keys): peak resident memory {:.0} MiB.\n",
        section::thousands(RECORDS as f64),
        MEASURED.as_millis(),
        section::thousands(floor_rate),
        1e9 / floor_rate,
        section::thousands(parse_only_rate),
        1e9 / parse_only_rate,
        section::thousands(parse_rate),
        1e9 / parse_rate,
        100.0 * ratio,
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
                "day_records": records, "day_keys": aggregator.key_count(), "day_peak_kib": peak,
            }),
        },
    );
}
