//! Collector benchmark: the CPU the pipeline spends per finding, beside two
//! floors over the same input bytes, in interleaved rounds.
//!
//! Each source (Inspector Classic through SNS, Inspector2 and GuardDuty
//! through EventBridge) is one SQS batch of the deployed size (100
//! messages, distinct findings on 50 instances behind shared security
//! groups). Per batch:
//!
//! - **pipeline**: `Collector::process_batch`, the whole path from the SQS
//!   body to the bulk body and the gzip archive object, on ports that cost
//!   next to nothing (the index answers every bulk item without reading the
//!   documents, the ledger knows nothing, the object store keeps sizes,
//!   sessions, findings and the inventory are in-memory maps);
//! - **generic floor**: parse the same bodies (and the SNS `Message` inside)
//!   into `serde_json::Value`, then write what the pipeline wrote (every
//!   bulk line and archive line, kept as `Value`) and gzip the archive the
//!   same way;
//! - **strict floor**: parse the same bodies into typed structs (fanin's
//!   finding models in a typed envelope), then write fanin's typed OCSF
//!   records and ledger documents where the pipeline wrote them (the small
//!   bulk action lines stay `Value`), and the same gzip.
//!
//! The floors parse and write; they look nothing up, decide nothing and
//! enrich nothing, so no collector can run below them. Every round runs the
//! three variants of every source one after the other (criterion ids
//! `collector/<source>/<variant>/r<round>`), so a neighbour's load on this
//! shared machine hits all alike; the time is this thread's CPU time, and
//! the ratio per source is the median over rounds of floor / pipeline.
//! It writes the report section `collector-cpu`, with a gzip-level table
//! over the archive's NDJSON.

// Shared with the other benches, which use all of their helpers.
#[allow(dead_code)]
mod costless;
#[allow(dead_code)]
mod section;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use costless::{CostlessIndex, Sessions, Written};
use cpu_time::ThreadTime;
use criterion::Criterion;
use fanin::aws::sts::CachedSessions;
use fanin::decode::{AcceptedTopics, Fetch, InboundMessage, Notification, Provenance};
use fanin::fakes::InMemory;
use fanin::guardduty::GuardDutyProvenance;
use fanin::ids::{AccountId, Partition};
use fanin::ledger::LedgerDocument;
use fanin::model::{
    ClassicFinding, GroupRef, IngressRule, Inspector2Finding, InstanceRecord, InterfaceRecord,
    SecurityGroupRecord,
};
use fanin::normalize::SourceFinding;
use fanin::normalize::vulnerability;
use fanin::pipeline::resolve::Inventory;
use fanin::pipeline::{Collector, Ports, Settings};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::hint::black_box;

const BATCH: usize = 100;
const INSTANCES: usize = 50;
const GROUPS: usize = 10;
const ROUNDS: usize = 5;
const CENTRAL_ACCOUNT: &str = "123456789012";
const SOURCE_ACCOUNT: &str = "111111111111";
const GOAL_GENERIC: f64 = 0.85;
const GOAL_STRICT: f64 = 0.70;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
}

fn instance_id(i: usize) -> String {
    format!("i-{:017x}", i % INSTANCES)
}

/// Instances with two interfaces' worth of groups: one of ten web groups
/// and a group every instance shares.
fn network_world() -> InMemory {
    let mut world = InMemory::default();
    let shared = "sg-0000000000000c0de".to_owned();
    for i in 0..INSTANCES {
        let group = format!("sg-{:017x}", i % GROUPS);
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
                    security_groups: vec![
                        GroupRef {
                            id: group.clone(),
                            name: Some("web".into()),
                        },
                        GroupRef {
                            id: shared.clone(),
                            name: Some("baseline".into()),
                        },
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            },
        );
        for (id, name, rules) in [
            (group.clone(), "web", web_rules()),
            (shared.clone(), "baseline", baseline_rules()),
        ] {
            world
                .groups
                .entry(id.clone())
                .or_insert(SecurityGroupRecord {
                    group_id: id,
                    group_name: Some(name.into()),
                    vpc_id: Some("vpc-0123456789abcdef0".into()),
                    ingress: rules,
                });
        }
    }
    world
}

fn rule(protocol: &str, from: i32, to: i32, range: &str) -> IngressRule {
    IngressRule {
        protocol: protocol.into(),
        from_port: Some(from),
        to_port: Some(to),
        ipv4_ranges: vec![range.into()],
        ..Default::default()
    }
}

fn web_rules() -> Vec<IngressRule> {
    vec![
        rule("tcp", 443, 443, "0.0.0.0/0"),
        rule("tcp", 80, 80, "0.0.0.0/0"),
        rule("tcp", 8080, 8090, "10.0.0.0/8"),
    ]
}

fn baseline_rules() -> Vec<IngressRule> {
    vec![
        rule("tcp", 22, 22, "10.0.0.0/8"),
        rule("icmp", -1, -1, "10.0.0.0/8"),
    ]
}

fn message(i: usize, body: String) -> InboundMessage {
    InboundMessage {
        message_id: format!("m{i}"),
        body,
        receive_count: 1,
    }
}

/// Classic findings in the world's Inspector, and the notifications naming them.
fn classic_batch(world: &mut InMemory) -> Vec<InboundMessage> {
    let template: ClassicFinding =
        serde_json::from_str(&fixture("classic-finding.json")).expect("fixture");
    let sns = fixture("sns-finding-reported.json");
    (0..BATCH)
        .map(|i| {
            let suffix = format!("0-{i:08}");
            let mut finding = template.clone();
            finding.arn = finding.arn.replace("0-dddd4444", &suffix);
            if let Some(asset) = finding.asset_attributes.as_mut() {
                asset.agent_id = Some(instance_id(i));
            }
            world.classic.insert(finding.arn.clone(), finding);
            message(i, sns.replace("0-dddd4444", &suffix))
        })
        .collect()
}

fn inspector2_batch() -> Vec<InboundMessage> {
    let template: Value =
        serde_json::from_str(&fixture("inspector2-ec2-finding-event.json")).expect("fixture");
    (0..BATCH)
        .map(|i| {
            let mut event = template.clone();
            event["detail"]["findingArn"] =
                format!("arn:aws:inspector2:us-east-1:{SOURCE_ACCOUNT}:finding/{i:032x}").into();
            event["detail"]["resources"][0]["id"] = instance_id(i).into();
            message(i, event.to_string())
        })
        .collect()
}

/// A published GuardDuty EC2 finding (port probe) in its EventBridge
/// envelope, as the finding's own account's bus delivers it.
fn guardduty_batch() -> Vec<InboundMessage> {
    let detail: Value = serde_json::from_str(&fixture(
        "published/guardduty/elastic-ec2-port-probe-finding.json",
    ))
    .expect("fixture");
    let envelope: Value =
        serde_json::from_str(&fixture("published/guardduty/eventbridge-envelope.json"))
            .expect("fixture");
    (0..BATCH)
        .map(|i| {
            let id = format!("{i:032x}");
            let mut detail = detail.clone();
            detail["accountId"] = SOURCE_ACCOUNT.into();
            detail["region"] = "us-east-1".into();
            detail["id"] = id.clone().into();
            detail["arn"] = format!(
                "arn:aws:guardduty:us-east-1:{SOURCE_ACCOUNT}:detector/37da5a0204286ccd967d2395320d4dcd/finding/{id}"
            )
            .into();
            detail["resource"]["instanceDetails"]["instanceId"] = instance_id(i).into();
            let mut event = envelope.clone();
            event["account"] = SOURCE_ACCOUNT.into();
            event["region"] = "us-east-1".into();
            event["detail"] = detail;
            message(i, event.to_string())
        })
        .collect()
}

fn partition() -> Partition {
    Partition::parse("aws").expect("partition")
}

fn provenance() -> Provenance {
    Provenance {
        partition: partition(),
        topics: AcceptedTopics::Named {
            account: AccountId::parse(CENTRAL_ACCOUNT).expect("account"),
            name: "fanin-inspector-classic".into(),
        },
        inspector2_admin_accounts: Default::default(),
        guardduty_admin_accounts: Default::default(),
    }
}

fn collector(world: Arc<InMemory>, index: CostlessIndex) -> Collector {
    let ports = Ports {
        sessions: Arc::new(CachedSessions::new(
            Sessions(world.clone()),
            Duration::from_secs(300),
        )),
        classic: world.clone(),
        inventory: world.clone(),
        objects: Arc::new(index.clone()),
        search: Arc::new(index),
        directory: world,
    };
    Collector::new(
        Settings {
            partition: partition(),
            provenance: provenance(),
            index_prefix: "bench".into(),
            bulk_max_bytes: 5 << 20,
            max_concurrency: 8,
            claim_ttl: fanin::pipeline::DEFAULT_CLAIM_TTL,
        },
        ports,
    )
}

/// A typed EventBridge event, as the strict floor reads it.
#[derive(Deserialize)]
#[allow(dead_code)]
struct Event<T> {
    version: String,
    id: String,
    #[serde(rename = "detail-type")]
    detail_type: String,
    source: String,
    account: String,
    time: String,
    region: String,
    resources: Vec<String>,
    detail: T,
}

/// A typed SNS notification and the Inspector Classic message inside it.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(dead_code)]
struct SnsNotification {
    #[serde(rename = "Type")]
    kind: String,
    message_id: String,
    topic_arn: String,
    message: String,
    timestamp: String,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct ClassicMessage {
    template: String,
    run: String,
    time: String,
    finding: String,
    event: String,
    target: String,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Source {
    Classic,
    Inspector2,
    GuardDuty,
}

impl Source {
    const ALL: [Source; 3] = [Source::Classic, Source::Inspector2, Source::GuardDuty];

    fn name(self) -> &'static str {
        match self {
            Source::Classic => "inspector-classic",
            Source::Inspector2 => "inspector2",
            Source::GuardDuty => "guardduty",
        }
    }

    fn parse_typed(self, body: &str) {
        match self {
            Source::Classic => {
                let sns: SnsNotification = serde_json::from_str(body).expect("typed SNS");
                let inner: ClassicMessage =
                    serde_json::from_str(&sns.message).expect("typed message");
                black_box((sns, inner));
            }
            Source::Inspector2 => {
                let event: Event<Inspector2Finding> =
                    serde_json::from_str(body).expect("typed event");
                black_box(event);
            }
            Source::GuardDuty => {
                let event: Event<fanin::guardduty::model::Finding> =
                    serde_json::from_str(body).expect("typed event");
                black_box(event);
            }
        }
    }
}

/// fanin's typed output for one line of what the pipeline wrote.
#[derive(Serialize)]
#[serde(untagged)]
enum Typed {
    Vulnerability(Box<fanin::ocsf::VulnerabilityFinding>),
    Detection(Box<fanin::guardduty::ocsf::DetectionFinding>),
    Ledger(LedgerDocument),
    /// A bulk action line: small, and kept as the generic value.
    Action(Value),
}

/// One source's batch and everything its floors write.
struct Case {
    source: Source,
    collector: Collector,
    messages: Vec<InboundMessage>,
    /// The pipeline's output, line by line, as values: bulk bodies, then
    /// archive objects (their NDJSON before gzip).
    generic_bulk: Vec<Vec<Value>>,
    generic_archive: Vec<Vec<Value>>,
    strict_bulk: Vec<Vec<Typed>>,
    strict_archive: Vec<Vec<Typed>>,
    written: Arc<Mutex<Written>>,
    /// Bytes per batch the pipeline wrote: bulk bodies, archive objects (gzip).
    bulk_bytes: usize,
    archive_bytes: usize,
    archive_ndjson: Vec<u8>,
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("gzip");
    out
}

fn lines(ndjson: &[u8]) -> Vec<Value> {
    ndjson
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("an NDJSON line"))
        .collect()
}

/// The typed records of the batch's findings, by `metadata.uid`, built with
/// the same context the pipeline gives them.
fn typed_records(
    source: Source,
    world: &InMemory,
    messages: &[InboundMessage],
    uids: &HashMap<String, String>,
) -> HashMap<String, Typed> {
    let inventory = Inventory {
        instances: world.instances.clone(),
        groups: world.groups.clone(),
        problem: None,
    };
    let partition = partition();
    let mut records = HashMap::new();
    for message in messages {
        let (origin, finding): (_, Box<dyn SourceFinding>) =
            match fanin::decode::decode(&message.body, &provenance()).expect("decodes") {
                Notification::Finding { origin, finding } => (origin, finding),
                Notification::Reference {
                    origin,
                    fetch: Fetch::ClassicDetails(arn),
                } => (
                    origin,
                    Box::new(world.classic[arn.as_str()].clone()) as Box<dyn SourceFinding>,
                ),
                other => panic!("not a finding: {other:?}"),
            };
        let context = fanin::pipeline::normalize::context_for(finding.as_ref(), &inventory);
        let uid = uids[finding.uid()].clone();
        let typed = match source {
            Source::Classic => {
                let classic = &world.classic[finding.uid()];
                Typed::Vulnerability(Box::new(vulnerability::classic_to_ocsf(
                    classic,
                    &origin,
                    &partition,
                    context,
                    uid.clone(),
                )))
            }
            Source::Inspector2 => {
                let event: Event<Inspector2Finding> =
                    serde_json::from_str(&message.body).expect("typed event");
                Typed::Vulnerability(Box::new(vulnerability::inspector2_to_ocsf(
                    &event.detail,
                    &origin,
                    &partition,
                    context,
                    uid.clone(),
                )))
            }
            Source::GuardDuty => {
                let trusted = GuardDutyProvenance {
                    partition: partition.clone(),
                    admin_accounts: Default::default(),
                };
                let event =
                    fanin::guardduty::decode(&message.body, &trusted).expect("a GuardDuty event");
                let record =
                    fanin::guardduty::normalize::normalize(&event, &partition, context, Utc::now())
                        .expect("normalizes");
                Typed::Detection(Box::new(record.record))
            }
        };
        records.insert(uid, typed);
    }
    records
}

/// The typed line for a line the pipeline wrote.
fn typed_line(line: &Value, records: &mut HashMap<String, Typed>) -> Typed {
    if let Some(uid) = line.pointer("/metadata/uid").and_then(Value::as_str) {
        // The index and the history hold the same version: serialize it
        // again for each, as the pipeline writes it each time.
        return match &records[uid] {
            Typed::Vulnerability(record) => Typed::Vulnerability(record.clone()),
            Typed::Detection(record) => Typed::Detection(record.clone()),
            _ => unreachable!("records are findings"),
        };
    }
    if line.get("archive_key").is_some() {
        return Typed::Ledger(serde_json::from_value(line.clone()).expect("a ledger document"));
    }
    Typed::Action(line.clone())
}

impl Case {
    fn new(source: Source, runtime: &tokio::runtime::Runtime) -> Self {
        let mut world = network_world();
        let messages = match source {
            Source::Classic => classic_batch(&mut world),
            Source::Inspector2 => inspector2_batch(),
            Source::GuardDuty => guardduty_batch(),
        };
        let world = Arc::new(world);

        // One run that keeps what it writes: the floors write the same.
        let keeping = CostlessIndex {
            keep: true,
            ..Default::default()
        };
        let report = runtime.block_on(
            collector(world.clone(), keeping.clone()).process_batch(messages.clone(), deadline()),
        );
        assert!(report.failed_message_ids.is_empty(), "{report:?}");
        assert_eq!(report.findings_stored, BATCH, "{report:?}");
        let written = std::mem::take(&mut *keeping.written.lock().unwrap());
        let generic_bulk: Vec<Vec<Value>> =
            written.bulk_bodies.iter().map(|body| lines(body)).collect();
        let archive_ndjson: Vec<u8> = written
            .objects
            .iter()
            .filter(|(key, _)| key.ends_with(".gz"))
            .flat_map(|(_, body)| gunzip(body))
            .collect();
        let generic_archive: Vec<Vec<Value>> = written
            .objects
            .iter()
            .filter(|(key, _)| key.ends_with(".gz"))
            .map(|(_, body)| lines(&gunzip(body)))
            .collect();
        let uids: HashMap<String, String> = generic_archive
            .iter()
            .flatten()
            .map(|doc| {
                (
                    doc.pointer("/finding_info/uid")
                        .and_then(Value::as_str)
                        .expect("finding_info.uid")
                        .to_owned(),
                    doc.pointer("/metadata/uid")
                        .and_then(Value::as_str)
                        .expect("metadata.uid")
                        .to_owned(),
                )
            })
            .collect();
        assert_eq!(uids.len(), BATCH, "one archived version per finding");
        let mut records = typed_records(source, &world, &messages, &uids);
        let strict_bulk = generic_bulk
            .iter()
            .map(|body| body.iter().map(|l| typed_line(l, &mut records)).collect())
            .collect();
        let strict_archive = generic_archive
            .iter()
            .map(|body| body.iter().map(|l| typed_line(l, &mut records)).collect())
            .collect();

        let costless = CostlessIndex::default();
        let written_sizes = costless.written.clone();
        Case {
            source,
            collector: collector(world, costless),
            messages,
            generic_bulk,
            generic_archive,
            strict_bulk,
            strict_archive,
            written: written_sizes,
            bulk_bytes: written.bulk_bytes,
            archive_bytes: written.object_bytes,
            archive_ndjson,
        }
    }

    fn pipeline(&self, runtime: &tokio::runtime::Runtime) {
        let messages = self.messages.clone();
        let report = runtime.block_on(self.collector.process_batch(messages, deadline()));
        debug_assert_eq!(report.findings_stored, BATCH);
        black_box(report);
    }

    fn generic_floor(&self) {
        for message in &self.messages {
            let outer: Value = serde_json::from_str(&message.body).expect("JSON");
            if let Some(inner) = outer.get("Message").and_then(Value::as_str) {
                black_box(serde_json::from_str::<Value>(inner).expect("JSON"));
            }
            black_box(outer);
        }
        for body in &self.generic_bulk {
            black_box(ndjson(body));
        }
        for object in &self.generic_archive {
            black_box(fanin::archive::gzip(&ndjson(object)));
        }
    }

    fn strict_floor(&self) {
        for message in &self.messages {
            self.source.parse_typed(&message.body);
        }
        for body in &self.strict_bulk {
            black_box(ndjson(body));
        }
        for object in &self.strict_archive {
            black_box(fanin::archive::gzip(&ndjson(object)));
        }
    }
}

fn ndjson<T: Serialize>(lines: &[T]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in lines {
        serde_json::to_writer(&mut out, line).expect("serializes");
        out.push(b'\n');
    }
    out
}

fn deadline() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(60)
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Variant {
    Pipeline,
    Generic,
    Strict,
}

impl Variant {
    const ALL: [Variant; 3] = [Variant::Pipeline, Variant::Generic, Variant::Strict];

    fn name(self) -> &'static str {
        match self {
            Variant::Pipeline => "pipeline",
            Variant::Generic => "generic-floor",
            Variant::Strict => "strict-floor",
        }
    }
}

/// CPU time per batch of each sample, by (source, variant, round).
type Samples = HashMap<(Source, Variant, usize), Vec<f64>>;

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Size and CPU of each gzip level over the archive's NDJSON.
fn gzip_levels(ndjson: &[u8]) -> Vec<(u32, usize, f64)> {
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;
    const REPEATS: usize = 20;
    [1, 3, 6, 9]
        .into_iter()
        .map(|level| {
            let mut size = 0;
            let started = ThreadTime::now();
            for _ in 0..REPEATS {
                let mut encoder = GzEncoder::new(Vec::new(), Compression::new(level));
                encoder.write_all(ndjson).expect("gzip");
                size = black_box(encoder.finish().expect("gzip")).len();
            }
            let seconds = started.elapsed().as_secs_f64() / REPEATS as f64;
            let ms_per_mb = seconds * 1e3 / (ndjson.len() as f64 / 1e6);
            (level, size, ms_per_mb)
        })
        .collect()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let cases: Vec<Case> = Source::ALL
        .into_iter()
        .map(|source| Case::new(source, &runtime))
        .collect();

    let samples: Arc<Mutex<Samples>> = Arc::default();
    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    for round in 0..ROUNDS {
        for case in &cases {
            for variant in Variant::ALL {
                let id = format!(
                    "collector/{}/{}/r{round}",
                    case.source.name(),
                    variant.name()
                );
                let samples = samples.clone();
                criterion.bench_function(&id, |b| {
                    b.iter_custom(|iterations| {
                        let mut spent = Duration::ZERO;
                        for _ in 0..iterations {
                            let started = ThreadTime::now();
                            match variant {
                                Variant::Pipeline => case.pipeline(&runtime),
                                Variant::Generic => case.generic_floor(),
                                Variant::Strict => case.strict_floor(),
                            }
                            spent += started.elapsed();
                        }
                        samples
                            .lock()
                            .unwrap()
                            .entry((case.source, variant, round))
                            .or_default()
                            .push(spent.as_secs_f64() / iterations as f64);
                        spent
                    })
                });
            }
        }
    }
    criterion.final_summary();
    let samples = std::mem::take(&mut *samples.lock().unwrap());
    if samples.is_empty() {
        // A filter that matched nothing, or `--list`: nothing to report.
        return;
    }
    report(&cases, samples);
}

struct Figures {
    /// µs of CPU per finding, median over rounds.
    pipeline: f64,
    generic: f64,
    strict: f64,
    /// Median over rounds of floor / pipeline.
    generic_ratio: f64,
    strict_ratio: f64,
}

fn figures(source: Source, samples: &mut Samples) -> Option<Figures> {
    let mut per_round: HashMap<Variant, Vec<f64>> = HashMap::new();
    let mut generic_ratios = Vec::new();
    let mut strict_ratios = Vec::new();
    for round in 0..ROUNDS {
        let mut batch = |variant| {
            samples
                .get_mut(&(source, variant, round))
                .map(|values| median(values))
        };
        let (Some(pipeline), Some(generic), Some(strict)) = (
            batch(Variant::Pipeline),
            batch(Variant::Generic),
            batch(Variant::Strict),
        ) else {
            continue;
        };
        for (variant, value) in [
            (Variant::Pipeline, pipeline),
            (Variant::Generic, generic),
            (Variant::Strict, strict),
        ] {
            per_round.entry(variant).or_default().push(value);
        }
        generic_ratios.push(generic / pipeline);
        strict_ratios.push(strict / pipeline);
    }
    if generic_ratios.is_empty() {
        return None;
    }
    let mut per_finding =
        |variant| median(per_round.get_mut(&variant).unwrap()) * 1e6 / BATCH as f64;
    Some(Figures {
        pipeline: per_finding(Variant::Pipeline),
        generic: per_finding(Variant::Generic),
        strict: per_finding(Variant::Strict),
        generic_ratio: median(&mut generic_ratios),
        strict_ratio: median(&mut strict_ratios),
    })
}

fn percent(ratio: f64) -> String {
    format!("{:.0} %", ratio * 100.0)
}

fn report(cases: &[Case], mut samples: Samples) {
    let mut rows = String::new();
    let mut goals = Vec::new();
    let mut data = serde_json::Map::new();
    for case in cases {
        let Some(f) = figures(case.source, &mut samples) else {
            continue;
        };
        let name = case.source.name();
        rows.push_str(&format!(
            "| {name} | **{:.1}** | {:.1} | {:.1} | **{}** | **{}** | {:.1} | {:.1} |\n",
            f.pipeline,
            f.generic,
            f.strict,
            percent(f.generic_ratio),
            percent(f.strict_ratio),
            case.bulk_bytes as f64 / 1024.0 / BATCH as f64,
            case.archive_bytes as f64 / 1024.0 / BATCH as f64,
        ));
        println!(
            "{name:<18} pipeline {:>7.1} µs/finding  generic floor {:>6.1}  strict floor {:>6.1}  {} of generic  {} of strict",
            f.pipeline,
            f.generic,
            f.strict,
            percent(f.generic_ratio),
            percent(f.strict_ratio)
        );
        goals.push(section::Goal {
            name: match case.source {
                Source::Classic => "collector CPU, Inspector Classic, against the generic floor",
                Source::Inspector2 => "collector CPU, Inspector2, against the generic floor",
                Source::GuardDuty => "collector CPU, GuardDuty, against the generic floor",
            },
            target: "≥ 85 %",
            measured: percent(f.generic_ratio),
            met: f.generic_ratio >= GOAL_GENERIC,
        });
        goals.push(section::Goal {
            name: match case.source {
                Source::Classic => "collector CPU, Inspector Classic, against the strict floor",
                Source::Inspector2 => "collector CPU, Inspector2, against the strict floor",
                Source::GuardDuty => "collector CPU, GuardDuty, against the strict floor",
            },
            target: "≥ 70 %",
            measured: percent(f.strict_ratio),
            met: f.strict_ratio >= GOAL_STRICT,
        });
        let measured = {
            let w = case.written.lock().unwrap();
            serde_json::json!({"bulk": w.bulk_bytes, "archive": w.object_bytes})
        };
        data.insert(
            name.into(),
            serde_json::json!({
                "pipeline_us_per_finding": f.pipeline,
                "generic_floor_us_per_finding": f.generic,
                "strict_floor_us_per_finding": f.strict,
                "generic_ratio": f.generic_ratio,
                "strict_ratio": f.strict_ratio,
                "bulk_bytes_per_batch": case.bulk_bytes,
                "archive_bytes_per_batch": case.archive_bytes,
                "measured_batch_bytes": measured,
            }),
        );
    }
    let ndjson: Vec<u8> = cases
        .iter()
        .flat_map(|c| c.archive_ndjson.iter().copied())
        .collect();
    let levels = gzip_levels(&ndjson);
    let mut level_rows = String::new();
    for (level, size, ms_per_mb) in &levels {
        level_rows.push_str(&format!(
            "| {level} | {:.1} | {:.1} % | {ms_per_mb:.1} |\n",
            *size as f64 / 1024.0,
            *size as f64 * 100.0 / ndjson.len() as f64
        ));
    }
    data.insert(
        "gzip_levels".into(),
        levels
            .iter()
            .map(|(level, size, ms)| serde_json::json!({"level": level, "bytes": size, "ms_per_mb": ms}))
            .collect(),
    );
    data.insert("ndjson_bytes".into(), ndjson.len().into());
    let markdown = format!(
        "One SQS batch of {BATCH} messages per source (distinct findings on {INSTANCES} instances behind shared security groups), \
this thread's CPU time, median over {ROUNDS} interleaved rounds (each round runs the pipeline and both floors of every source); each ratio is the median of the rounds' floor / pipeline. \
The **pipeline** is `Collector::process_batch` from the SQS bodies to the bulk body and the gzip archive object, on ports that cost next to nothing \
(the index reads only the bulk action lines, the ledger knows nothing, objects are counted). \
The **generic floor** parses the same bodies (and the SNS `Message` inside) into `serde_json::Value` and writes the same bulk and archive lines from `Value`s, plus the same gzip; \
the **strict floor** parses them into typed structs (fanin's finding models) and writes fanin's typed OCSF records and ledger documents, plus the same gzip.\n\n\
| source | pipeline µs/finding | generic floor µs | strict floor µs | % of generic floor | % of strict floor | bulk KiB/finding | archive KiB/finding (gzip) |\n\
| --- | --- | --- | --- | --- | --- | --- | --- |\n{rows}\n\
The archive's gzip over the batches' NDJSON ({:.1} KiB), by level (the archive uses `archive::gzip`):\n\n\
| level | KiB | of the NDJSON | ms of CPU per MB |\n| --- | --- | --- | --- |\n{level_rows}",
        ndjson.len() as f64 / 1024.0
    );
    section::write(
        "collector-cpu",
        section::Section {
            title: "Collector CPU per finding",
            command: "cargo bench -p fanin --bench collector",
            markdown,
            goals,
            data: Value::Object(data),
        },
    );
}
