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

use crate::scenario::{self, LocalStack};

/// What to send.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub accounts: usize,
    pub regions: Vec<String>,
    pub findings: usize,
    pub instances_per_region: usize,
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
    /// Time from the first invocation to the empty queue.
    pub collect_seconds: f64,
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
    let deployed = crate::deployment::deploy(&stack, &account_refs, &region_refs).await?;
    let central = deployed.central.clone();

    let places: Vec<(&str, &str)> = account_refs
        .iter()
        .flat_map(|a| region_refs.iter().map(move |r| (*a, *r)))
        .collect();
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
        scenario::emit_inspector2(&stack, account, region, &events).await?;
        eprintln!("load: {account} {region}: {} findings sent", events.len());
    }
    ensure!(
        expected.len() == plan.findings,
        "{} distinct findings planned, {} asked",
        expected.len(),
        plan.findings
    );

    eprintln!("load: collecting");
    stack.gateway.reset_calls();
    let mut collector = scenario::start_collector(&stack, &deployed).await?;
    let esm = deployed.event_source_mapping(&stack).await?;
    let collect_started = Instant::now();
    let limit = std::time::Duration::from_secs(600 + plan.findings as u64 / 20);
    let stats = esm.drain(&mut collector, limit).await?;
    let collect_seconds = collect_started.elapsed().as_secs_f64();

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
        findings_per_second: (plan.findings as f64 / collect_seconds).round(),
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
