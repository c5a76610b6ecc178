//! The load run: many Inspector2 findings from many accounts and regions
//! through the deployed pipeline on the local stack, then an exact
//! reconciliation and the figures (`fanin-devstack load`).
//!
//! Every finding sent must be in the index once (its `_id` is the SHA-256 of
//! its ARN) and in the archive once (one record per `metadata.uid`), with the
//! queue and the dead-letter queue empty and nothing quarantined.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use anyhow::{Context, ensure};
use serde::Serialize;
use serde_json::{Value, json};

use crate::esm::{EventSourceMapping, MappingStats};
use crate::lambda_host::LocalLambda;
use crate::scenario::{self, LocalStack};

/// The most messages on the queue at once (see `run`).
const QUEUE_WAVE: usize = 200;

/// What to send.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub accounts: usize,
    pub regions: Vec<String>,
    pub findings: usize,
    pub instances_per_region: usize,
    /// How the findings reach the central queue.
    pub via: Emission,
    /// The event-source mapping's batch size; the deployed one when `None`.
    pub batch_size: Option<i32>,
}

/// The way into the central queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Emission {
    /// PutEvents in each member account and region, through the forwarding
    /// rule, the central bus and its rule: the whole deployed path.
    EventBridge,
    /// The central rule's deliveries written straight to the queue
    /// (`scenario::enqueue_inspector2`), for runs larger than moto's
    /// EventBridge can carry in reasonable time.
    Queue,
}

impl std::str::FromStr for Emission {
    type Err = anyhow::Error;
    fn from_str(value: &str) -> anyhow::Result<Self> {
        match value {
            "eventbridge" => Ok(Self::EventBridge),
            "queue" => Ok(Self::Queue),
            other => anyhow::bail!("--via takes eventbridge or queue, not {other:?}"),
        }
    }
}

impl LoadPlan {
    /// The load: 100,000 findings from 20 accounts x 3 regions.
    pub fn full() -> Self {
        Self {
            accounts: 20,
            regions: ["us-east-1", "eu-west-1", "ap-southeast-2"]
                .map(str::to_owned)
                .to_vec(),
            findings: 100_000,
            instances_per_region: 4,
            via: Emission::Queue,
            batch_size: None,
        }
    }

    fn account_ids(&self) -> Vec<String> {
        (0..self.accounts)
            .map(|i| format!("{}", 500_000_000_000u64 + i as u64))
            .collect()
    }
}

/// The reconciliation and the figures.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub findings_sent: usize,
    pub via: Emission,
    pub accounts: usize,
    pub regions: usize,
    pub findings_indexed: usize,
    pub archived_records: usize,
    pub archived_versions: usize,
    pub quarantined: usize,
    pub queue_left: (u64, u64),
    pub dead_letter_messages: u64,
    pub collector_invocations: usize,
    pub collector_batch_size: i32,
    /// Time spent draining the queue (receives, invocations, deletes).
    pub collect_seconds: f64,
    /// Time inside the collector's invocations.
    pub collector_seconds: f64,
    /// Findings per second of the collector's own time.
    pub findings_per_second: f64,
    pub aws_calls_per_finding: f64,
    pub collector_aws_calls: BTreeMap<String, u64>,
    pub opensearch_requests_per_finding: f64,
    pub collector_peak_memory_mib: f64,
    pub total_seconds: f64,
}

/// Runs the plan and fails unless everything reconciles exactly.
pub async fn run(plan: &LoadPlan) -> anyhow::Result<LoadReport> {
    let started = Instant::now();
    let stack = LocalStack::start().await?;
    let accounts = plan.account_ids();
    let account_refs: Vec<&str> = accounts.iter().map(String::as_str).collect();
    let region_refs: Vec<&str> = plan.regions.iter().map(String::as_str).collect();
    eprintln!(
        "load: deploying for {} accounts x {} regions",
        accounts.len(),
        region_refs.len()
    );
    let mut deployed = crate::deployment::deploy(&stack, &account_refs, &region_refs).await?;
    if let Some(batch_size) = plan.batch_size {
        deployed.mapping.batch_size = batch_size;
    }
    let central = deployed.central.clone();

    stack.gateway.reset_calls();
    let mut collector = scenario::start_collector(&stack, &deployed).await?;
    let esm = deployed.event_source_mapping(&stack).await?;
    let mut stats = MappingStats::default();
    let mut collect_seconds = 0.0;
    let (mut queued, mut sent) = (0, 0);
    // Waves keep the queue at most `QUEUE_WAVE` deep: moto's ReceiveMessage
    // computes every queue attribute (a pass over all messages) for each
    // message it returns, so its cost grows with the depth (a 6,000-deep
    // queue takes 0.5 s per receive and trips the SDK's timeout; 1,000 still
    // spends nine tenths of the run in moto); real SQS does not.

    let places: Vec<(&str, &str)> = account_refs
        .iter()
        .flat_map(|a| region_refs.iter().map(move |r| (*a, *r)))
        .collect();
    let wave_size = QUEUE_WAVE.max(usize::try_from(deployed.mapping.batch_size).unwrap_or(0));
    let mut expected: BTreeSet<String> = BTreeSet::new();
    for (n, (account, region)) in places.iter().enumerate() {
        // The findings split as evenly as they go over the places.
        let share = plan.findings / places.len() + usize::from(n < plan.findings % places.len());
        let facts =
            scenario::create_workloads(&stack, account, region, plan.instances_per_region).await?;
        let per_instance = share.div_ceil(facts.len().max(1));
        let mut events = scenario::inspector2_fleet_findings(&facts, per_instance, 1_767_225_600);
        events.truncate(share);
        for event in &events {
            expected.insert(
                event["findingArn"]
                    .as_str()
                    .context("finding without ARN")?
                    .to_owned(),
            );
        }
        for wave in events.chunks(wave_size) {
            if queued + wave.len() > wave_size {
                collect_seconds += drain(&esm, &mut collector, &mut stats, sent).await?;
                queued = 0;
            }
            match plan.via {
                Emission::EventBridge => {
                    scenario::emit_inspector2(&stack, account, region, wave).await?
                }
                Emission::Queue => {
                    scenario::enqueue_inspector2(&stack, &central, account, region, wave).await?
                }
            }
            queued += wave.len();
            sent += wave.len();
        }
        eprintln!(
            "load: {account} {region}: {} findings sent, {} collected so far",
            events.len(),
            stats.messages_deleted
        );
    }
    collect_seconds += drain(&esm, &mut collector, &mut stats, sent).await?;
    esm.drain_into(
        &mut collector,
        std::time::Duration::from_secs(60),
        &mut stats,
    )
    .await?;
    ensure!(
        expected.len() == plan.findings,
        "{} distinct findings planned, {} asked",
        expected.len(),
        plan.findings
    );

    eprintln!("load: reconciling");
    let findings_indexed = indexed_among(&stack, &central, &expected).await?;
    let archived = scenario::archived_records(&stack, &central).await?;
    let mut versions: BTreeMap<String, usize> = BTreeMap::new();
    let mut archived_findings: BTreeSet<String> = BTreeSet::new();
    for (_, record) in &archived {
        *versions
            .entry(
                record["metadata"]["uid"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
            .or_default() += 1;
        archived_findings.insert(
            record["finding_info"]["uid"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    let mut collector_aws_calls = BTreeMap::new();
    let mut opensearch_requests = 0;
    for call in stack.gateway.calls() {
        if call.caller == "fanin-collector" {
            *collector_aws_calls
                .entry(format!("{}:{}", call.service, call.operation))
                .or_default() += call.count;
        } else if call.caller == "opensearch" {
            opensearch_requests += call.count;
        }
    }
    let per_finding = |n: u64| (n as f64 / plan.findings as f64 * 1000.0).round() / 1000.0;
    let report = LoadReport {
        findings_sent: plan.findings,
        via: plan.via,
        accounts: accounts.len(),
        regions: region_refs.len(),
        findings_indexed,
        archived_records: archived.len(),
        archived_versions: versions.len(),
        quarantined: scenario::bucket_keys(&stack, &central, "quarantine/")
            .await?
            .len(),
        queue_left: esm.depth().await?,
        dead_letter_messages: scenario::dlq_depth(&stack, &central).await?,
        collector_invocations: stats.invocations,
        collector_batch_size: deployed.mapping.batch_size,
        collect_seconds: (collect_seconds * 10.0).round() / 10.0,
        collector_seconds: (stats.invoke_time.as_secs_f64() * 10.0).round() / 10.0,
        findings_per_second: (plan.findings as f64 / stats.invoke_time.as_secs_f64()).round(),
        aws_calls_per_finding: per_finding(collector_aws_calls.values().sum()),
        collector_aws_calls,
        opensearch_requests_per_finding: per_finding(opensearch_requests),
        collector_peak_memory_mib: collector
            .peak_rss_kib()
            .map(|k| (k as f64 / 1024.0 * 10.0).round() / 10.0)
            .unwrap_or(0.0),
        total_seconds: (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
    };
    ensure!(
        report.findings_indexed == plan.findings,
        "indexed {} of {}: {report:?}",
        report.findings_indexed,
        plan.findings
    );
    ensure!(
        report.archived_records == plan.findings
            && report.archived_versions == plan.findings
            && archived_findings == expected,
        "archive does not reconcile: {report:?}"
    );
    ensure!(
        report.quarantined == 0 && report.dead_letter_messages == 0 && report.queue_left == (0, 0),
        "messages left or set aside: {report:?}"
    );
    Ok(report)
}

/// Runs the mapping until every message sent so far is deleted (or the
/// queue is empty); returns how long it took.
async fn drain(
    esm: &EventSourceMapping,
    collector: &mut LocalLambda,
    stats: &mut MappingStats,
    sent: usize,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    while stats.messages_deleted < sent {
        if esm.round(collector, stats).await? == 0 {
            break;
        }
    }
    // Anything left (retries, messages still in flight) drains as usual.
    if stats.messages_deleted < sent {
        esm.drain_into(collector, std::time::Duration::from_secs(1800), stats)
            .await?;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// How many of the expected findings the latest-state index holds, read by
/// `_id` (SHA-256 of the ARN) with `_mget` in chunks.
async fn indexed_among(
    stack: &LocalStack,
    central: &scenario::Central,
    expected: &BTreeSet<String>,
) -> anyhow::Result<usize> {
    let http = reqwest::Client::new();
    let index = format!("{}-findings", central.index_prefix);
    let ids: Vec<String> = expected
        .iter()
        .map(|arn| fanin::normalize::document_id(arn))
        .collect();
    let mut found = 0;
    for chunk in ids.chunks(1000) {
        let answer: Value = http
            .post(format!("{}/{index}/_mget?_source=false", stack.osmem.url))
            .json(&json!({ "ids": chunk }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        found += answer["docs"]
            .as_array()
            .map(|docs| docs.iter().filter(|d| d["found"] == json!(true)).count())
            .unwrap_or(0);
    }
    Ok(found)
}
