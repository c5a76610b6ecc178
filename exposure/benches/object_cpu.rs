//! The CPU of one 100 MB gzip object of flow-log text (the lines of
//! `ingest_100mb.rs`) through gunzip, the reader, the aggregation, the
//! documents and their gzip JSON-lines archive: the function's own work
//! without the S3 read and the bulk writes, in CPU time of one thread.
//! The compressed body is generated first and held in memory.
//!
//! See docs/exposure.md, "Throughput", for the command and the figures.
use std::io::{BufReader, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fanin::flowlogs::aggregate::Aggregator;
use fanin::flowlogs::classify::NetworkMap;
use fanin::flowlogs::parse::{FlowLogReader, Line};
use fanin::ids::{AccountId, Region};

const COMPRESSED_BYTES: usize = 100 * 1024 * 1024;

fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<u64> = after
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    Duration::from_millis((f[11] + f[12]) * 10)
}

fn main() {
    let started = Instant::now();
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(b"version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n").unwrap();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut lines: u64 = 0;
    let mut text = String::with_capacity(256 * 1024);
    let mut text_bytes = 0usize;
    while encoder.get_ref().len() < COMPRESSED_BYTES {
        text.clear();
        for _ in 0..2000 {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let r = state.wrapping_mul(0x2545_f491_4f6c_dd1d);
            let interface = r % 1000;
            let start = 1_764_460_800 + (lines % 86_400);
            let (port, action) = match r >> 60 {
                0..=9 => (443, "ACCEPT"),
                10..=12 => (22, "REJECT"),
                _ => (5432, "ACCEPT"),
            };
            use std::fmt::Write as _;
            let _ = writeln!(
                text,
                "2 123456789012 eni-{interface:017x} {}.{}.{}.{} 10.0.{}.{} {} {port} 6 {} {} {start} {} {action} OK",
                (r >> 8) % 200 + 11,
                (r >> 16) % 256,
                (r >> 24) % 256,
                (r >> 32) % 254 + 1,
                interface / 250,
                interface % 250 + 1,
                32768 + (r >> 40) % 28000,
                (r >> 20) % 50 + 1,
                (r >> 28) % 60000 + 40,
                start + 60,
            );
            lines += 1;
        }
        text_bytes += text.len();
        encoder.write_all(text.as_bytes()).unwrap();
    }
    let body = encoder.finish().unwrap();
    println!(
        "generated {} MB gzip of {} MB text, {} records in {:.1} s",
        body.len() / 1_000_000,
        text_bytes / 1_000_000,
        lines,
        started.elapsed().as_secs_f64()
    );

    let cpu0 = cpu_time();
    let wall0 = Instant::now();
    let decoder = flate2::read::MultiGzDecoder::new(&body[..]);
    let mut reader = FlowLogReader::new(BufReader::with_capacity(256 * 1024, decoder)).unwrap();
    let mut aggregator = Aggregator::new(Arc::new(NetworkMap::new()));
    reader
        .for_each_line(|line| {
            if let Line::Record { record, .. } = line {
                aggregator.add(record);
            }
        })
        .unwrap();
    let cpu1 = cpu_time();
    let documents = aggregator.documents(
        &AccountId::parse("222222222222").unwrap(),
        &Region::parse("us-east-1").unwrap(),
        "object",
    );
    let mut archive = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for d in &documents {
        serde_json::to_writer(&mut archive, d).unwrap();
        archive.write_all(b"\n").unwrap();
    }
    let archive = archive.finish().unwrap();
    let cpu2 = cpu_time();
    println!(
        "gunzip + parse + aggregate: {:.2} s CPU ({:.0} ns/record); documents + archive: {:.2} s CPU ({} documents, archive {:.1} MB); wall {:.2} s",
        (cpu1 - cpu0).as_secs_f64(),
        (cpu1 - cpu0).as_secs_f64() * 1e9 / lines as f64,
        (cpu2 - cpu1).as_secs_f64(),
        documents.len(),
        archive.len() as f64 / 1e6,
        wall0.elapsed().as_secs_f64()
    );
}
