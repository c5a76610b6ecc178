//! Pipeline benchmark: decode → fetch → enrich → normalize → encode → store
//! on in-memory ports, in Lambda-sized batches of 10, for both sources.
//!
//! `cargo bench -p fanin --bench pipeline` prints findings per second, CPU
//! time per finding, outside calls per finding, the peak heap of one
//! 1,000-message batch of each source and the peak resident memory of the
//! process (what a Lambda's memory setting must hold).
//!
//! `FANIN_BENCH_FINDINGS=<n>` runs `n` findings per source instead of
//! 10,000, and `FANIN_BENCH_MEMORY=0` skips the 1,000-message batches: a
//! small count keeps a profile under callgrind short.

// The costless ports, shared with the collector bench.
#[allow(dead_code)]
mod costless;

use std::sync::Arc;
use std::time::{Duration, Instant};

use fanin::aws::sts::CachedSessions;
use fanin::decode::InboundMessage;
use fanin::fakes::InMemory;
use fanin::ids::AccountId;
use fanin::ids::Partition;
use fanin::model::{
    ClassicFinding, GroupRef, IngressRule, InstanceRecord, InterfaceRecord, SecurityGroupRecord,
};
use fanin::pipeline::{Collector, Settings};
use fanin::ports::SearchIndexer;
use peak_alloc::PeakAlloc;
use serde_json::Value;

/// Counts the heap, for the peak of one batch.
#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

const DEFAULT_FINDINGS_PER_SOURCE: usize = 10_000;
/// The batch whose peak heap is measured (the memory goal's batch).
const MEMORY_BATCH: usize = 1_000;
const BATCH: usize = 10;
const INSTANCES: usize = 200;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
}

fn instance_id(i: usize) -> String {
    format!("i-{:017x}", i)
}

/// Instances behind security groups, shared by every finding.
fn network_world() -> InMemory {
    let mut world = InMemory::default();
    for i in 0..INSTANCES {
        let group = format!("sg-{:017x}", i % 20);
        world.instances.insert(
            instance_id(i),
            InstanceRecord {
                instance_id: instance_id(i),
                state: "running".into(),
                vpc_id: Some("vpc-0123456789abcdef0".into()),
                subnet_id: Some("subnet-0123456789abcdef0".into()),
                interfaces: vec![InterfaceRecord {
                    interface_id: format!("eni-{:017x}", i),
                    private_ips: vec![format!("10.0.{}.{}", i / 250, i % 250 + 1)],
                    public_ips: vec![format!("54.0.{}.{}", i / 250, i % 250 + 1)],
                    security_groups: vec![GroupRef {
                        id: group.clone(),
                        name: Some("web".into()),
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            },
        );
        world
            .groups
            .entry(group.clone())
            .or_insert(SecurityGroupRecord {
                group_id: group,
                group_name: Some("web".into()),
                vpc_id: None,
                ingress: vec![
                    IngressRule {
                        protocol: "tcp".into(),
                        from_port: Some(443),
                        to_port: Some(443),
                        ipv4_ranges: vec!["0.0.0.0/0".into()],
                        ..Default::default()
                    },
                    IngressRule {
                        protocol: "tcp".into(),
                        from_port: Some(22),
                        to_port: Some(22),
                        ipv4_ranges: vec!["10.0.0.0/8".into()],
                        ..Default::default()
                    },
                ],
            });
    }
    world
}

fn findings_per_source() -> usize {
    std::env::var("FANIN_BENCH_FINDINGS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_FINDINGS_PER_SOURCE)
}

/// Classic findings in the fake source, and the notifications that name them.
fn classic_bodies(world: &mut InMemory, template: &ClassicFinding, count: usize) -> Vec<String> {
    let sns = fixture("sns-finding-reported.json");
    let mut bodies = Vec::with_capacity(count);
    for i in 0..count {
        let suffix = format!("0-{:08}", i);
        let mut finding = template.clone();
        finding.arn = finding.arn.replace("0-dddd4444", &suffix);
        if let Some(asset) = finding.asset_attributes.as_mut() {
            asset.agent_id = Some(instance_id(i % INSTANCES));
        }
        world.classic.insert(finding.arn.clone(), finding);
        bodies.push(sns.replace("0-dddd4444", &suffix));
    }
    bodies
}

fn inspector2_bodies(count: usize) -> Vec<String> {
    let template: Value =
        serde_json::from_str(&fixture("inspector2-ec2-finding-event.json")).expect("json");
    (0..count)
        .map(|i| {
            let mut event = template.clone();
            event["detail"]["findingArn"] =
                format!("arn:aws:inspector2:us-east-1:111111111111:finding/{i:032x}").into();
            event["detail"]["resources"][0]["id"] = instance_id(i % INSTANCES).into();
            event.to_string()
        })
        .collect()
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
        .and_then(|line| line.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn cpu_time() -> Duration {
    // utime + stime of this process, in clock ticks (100 Hz on Linux).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let ticks: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn collector(world: &Arc<InMemory>) -> Collector {
    collector_with(world, None)
}

fn collector_with(world: &Arc<InMemory>, search: Option<Arc<dyn SearchIndexer>>) -> Collector {
    let mut ports = fanin::fakes::ports(world.clone());
    if let Some(search) = search {
        ports.search = search;
    }
    ports.sessions = Arc::new(CachedSessions::new(
        costless::Sessions(world.clone()),
        Duration::from_secs(300),
    ));
    Collector::new(
        Settings {
            partition: Partition::parse("aws").expect("partition"),
            provenance: fanin::decode::Provenance {
                partition: Partition::parse("aws").expect("partition"),
                topics: fanin::decode::AcceptedTopics::Named {
                    account: AccountId::parse("123456789012").expect("account"),
                    name: "fanin-inspector-classic".into(),
                },
                inspector2_admin_accounts: Default::default(),
                guardduty_admin_accounts: Default::default(),
            },
            index_prefix: "bench".into(),
            bulk_max_bytes: 5 << 20,
            max_concurrency: 8,
            claim_ttl: fanin::pipeline::DEFAULT_CLAIM_TTL,
        },
        ports,
    )
}

fn messages(bodies: Vec<String>) -> Vec<InboundMessage> {
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| InboundMessage {
            message_id: format!("m{i}"),
            body,
            receive_count: 1,
        })
        .collect()
}

async fn run(name: &str, world: Arc<InMemory>, bodies: Vec<String>) {
    let collector = collector(&world);
    let messages = messages(bodies);
    let total = messages.len();
    let cpu_before = cpu_time();
    let started = Instant::now();
    let mut stored = 0;
    for batch in messages.chunks(BATCH) {
        let report = collector
            .process_batch(
                batch.to_vec(),
                tokio::time::Instant::now() + Duration::from_secs(60),
            )
            .await;
        assert!(report.failed_message_ids.is_empty(), "{report:?}");
        stored += report.findings_stored;
    }
    let elapsed = started.elapsed();
    let cpu = cpu_time() - cpu_before;
    assert_eq!(stored, total);
    let calls = world.calls();
    let aws: usize = [
        "AssumeRole",
        "DescribeFindings",
        "DescribeInstances",
        "DescribeSecurityGroups",
        "PutObject",
    ]
    .iter()
    .map(|op| calls.get(op).copied().unwrap_or(0))
    .sum();
    let search: usize = ["Mget", "Bulk"]
        .iter()
        .map(|op| calls.get(op).copied().unwrap_or(0))
        .sum();
    println!(
        "{name:<18} {total:>6} findings  {:>8.0} findings/s  {:>6.1} µs CPU/finding  {:.2} AWS calls/finding  {:.2} OpenSearch requests/finding  calls {calls:?}",
        total as f64 / elapsed.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / total as f64,
        aws as f64 / total as f64,
        search as f64 / total as f64,
    );
}

/// Size against CPU of each gzip level over the NDJSON the batch archived
/// (the choice of `fanin::archive::GZIP_LEVEL`).
fn gzip_levels(name: &str, world: &InMemory) {
    use std::io::{Read, Write};
    let mut ndjson = Vec::new();
    for (key, body) in world.objects.lock().expect("not poisoned").iter() {
        if key.starts_with("findings/") {
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut ndjson)
                .expect("gzip");
        }
    }
    for level in [1, 3, 6, 9] {
        let mut best = Duration::MAX;
        let mut size = 0;
        for _ in 0..5 {
            let started = Instant::now();
            let mut encoder = flate2::write::GzEncoder::new(
                Vec::with_capacity(ndjson.len() / 8),
                flate2::Compression::new(level),
            );
            encoder.write_all(&ndjson).expect("gzip");
            size = encoder.finish().expect("gzip").len();
            best = best.min(started.elapsed());
        }
        println!(
            "{name:<18} gzip level {level}: {:.1} MiB NDJSON -> {:.2} MiB ({:.1} %), {:.1} ms ({:.0} MB/s, {:.1} µs/finding)",
            ndjson.len() as f64 / (1 << 20) as f64,
            size as f64 / (1 << 20) as f64,
            size as f64 * 100.0 / ndjson.len() as f64,
            best.as_secs_f64() * 1e3,
            ndjson.len() as f64 / best.as_secs_f64() / 1e6,
            best.as_secs_f64() * 1e6 / MEMORY_BATCH as f64,
        );
    }
}

/// The heap one batch of `bodies` adds at its peak, over the heap before it,
/// with a search cluster that keeps nothing (the objects written stay in
/// the fake store: a few hundred KiB).
async fn batch_peak(name: &str, world: Arc<InMemory>, bodies: Vec<String>) {
    let collector = collector_with(&world, Some(Arc::new(costless::CostlessIndex::default())));
    let batch = messages(bodies);
    let total = batch.len();
    let before = HEAP.current_usage();
    HEAP.reset_peak_usage();
    let report = collector
        .process_batch(
            batch,
            tokio::time::Instant::now() + Duration::from_secs(600),
        )
        .await;
    let peak = HEAP.peak_usage();
    assert!(report.failed_message_ids.is_empty(), "{report:?}");
    assert_eq!(report.findings_stored, total);
    println!(
        "{name:<18} one batch of {total} messages: peak heap {:.1} MiB above the {:.1} MiB before it",
        (peak - before) as f64 / (1 << 20) as f64,
        before as f64 / (1 << 20) as f64,
    );
    gzip_levels(name, &world);
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let classic_template: ClassicFinding =
        serde_json::from_str(&fixture("classic-finding.json")).expect("fixture");
    let count = findings_per_source();
    let memory = !std::env::var("FANIN_BENCH_MEMORY").is_ok_and(|v| v == "0");
    runtime.block_on(async {
        if memory {
            let mut world = network_world();
            let bodies = classic_bodies(&mut world, &classic_template, MEMORY_BATCH);
            batch_peak("inspector-classic", Arc::new(world), bodies).await;
            let bodies = inspector2_bodies(MEMORY_BATCH);
            batch_peak("inspector2", Arc::new(network_world()), bodies).await;
        }

        let mut world = network_world();
        let bodies = classic_bodies(&mut world, &classic_template, count);
        run("inspector-classic", Arc::new(world), bodies).await;
        run(
            "inspector2",
            Arc::new(network_world()),
            inspector2_bodies(count),
        )
        .await;
    });
    println!(
        "peak resident memory of the benchmark process: {} MiB (includes the fakes, which keep every document, finding and message in memory)",
        peak_rss_kib() / 1024
    );
}
