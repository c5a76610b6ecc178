//! `fanin-bench stack --load LABEL=FILE ...`: the sections `calls` and
//! `memory-throughput` from the reports of `fanin-devstack load` runs (the
//! StackSets deployed into moto, the collector binary behind the
//! event-source-mapping player, every call counted at the devstack gateway).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

use crate::section::{Goal, Section};

/// The figures of one `fanin-devstack load` report that the sections use.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LoadRun {
    pub findings_sent: usize,
    pub accounts: usize,
    pub regions: usize,
    pub findings_indexed: usize,
    pub archived_versions: usize,
    pub collector_invocations: usize,
    pub collector_batch_size: i32,
    pub collect_seconds: f64,
    pub collector_seconds: f64,
    pub findings_per_second: f64,
    pub aws_calls_per_finding: f64,
    pub collector_aws_calls: std::collections::BTreeMap<String, u64>,
    pub opensearch_requests_per_finding: f64,
    pub collector_peak_memory_mib: f64,
}

pub fn read(path: &Path) -> anyhow::Result<LoadRun> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a fanin-devstack load report", path.display()))
}

fn calls_text(run: &LoadRun) -> String {
    run.collector_aws_calls
        .iter()
        .map(|(call, count)| format!("{call} {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The section `calls`: one row per run.
pub fn calls_section(runs: &[LoadRun], command: &str) -> Section {
    let mut markdown = String::from(
        "Inspector2 findings sent to the collector's queue (`--via queue`), 4 instances per account-region; \
         only the collector's calls, counted at the devstack gateway. Every run reconciles exactly (each \
         finding in the index and the archive) or fails.\n\n\
         | findings | accounts × regions | batch size | invocations | AWS calls per finding | OpenSearch requests per finding | AWS calls |\n\
         | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for run in runs {
        let _ = writeln!(
            markdown,
            "| {} | {} × {} | {} | {} | {:.3} | {:.3} | {} |",
            run.findings_sent,
            run.accounts,
            run.regions,
            run.collector_batch_size,
            run.collector_invocations,
            run.aws_calls_per_finding,
            run.opensearch_requests_per_finding,
            calls_text(run)
        );
    }
    let goals = runs
        .iter()
        .filter(|run| run.collector_batch_size == 100 && run.accounts == 1 && run.regions == 1)
        .map(|run| Goal {
            name: "AWS calls per finding at batch 100, one account and region".to_owned(),
            target: "< 0.2".to_owned(),
            measured: format!("{:.3}", run.aws_calls_per_finding),
            met: run.aws_calls_per_finding < 0.2,
        })
        .collect();
    Section {
        title: "AWS and OpenSearch calls per finding on the local stack".to_owned(),
        command: command.to_owned(),
        markdown,
        goals,
        data: serde_json::to_value(
            runs.iter()
                .map(|run| run.aws_calls_per_finding)
                .collect::<Vec<_>>(),
        )
        .unwrap_or_default(),
    }
}

/// The section `memory-throughput`: peak memory and findings per second.
pub fn memory_section(runs: &[LoadRun], command: &str) -> Section {
    let mut markdown = String::from(
        "The collector binary's peak resident memory (VmHWM) over the run, and findings per second: of the \
         collector's own time (inside its invocations) and of the whole drain (receives, invocations, \
         deletes: mostly moto's SQS).\n\n\
         | batch size | findings | accounts × regions | peak resident memory | findings/s, collector's time | findings/s, whole drain |\n\
         | --- | --- | --- | --- | --- | --- |\n",
    );
    for run in runs {
        let _ = writeln!(
            markdown,
            "| {} | {} | {} × {} | {:.1} MiB | {:.0} | {:.0} |",
            run.collector_batch_size,
            run.findings_sent,
            run.accounts,
            run.regions,
            run.collector_peak_memory_mib,
            run.findings_per_second,
            run.findings_sent as f64 / run.collect_seconds.max(f64::EPSILON),
        );
    }
    let goals = runs
        .iter()
        .filter(|run| run.collector_batch_size == 1000)
        .map(|run| Goal {
            name: "collector peak memory, 1,000-message batches".to_owned(),
            target: "< 32 MiB".to_owned(),
            measured: format!("{:.1} MiB", run.collector_peak_memory_mib),
            met: run.collector_peak_memory_mib < 32.0,
        })
        .collect();
    Section {
        title: "Collector memory and end-to-end throughput".to_owned(),
        command: command.to_owned(),
        markdown,
        goals,
        data: serde_json::Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(batch: i32, calls: f64, memory: f64) -> LoadRun {
        LoadRun {
            findings_sent: 1000,
            accounts: 1,
            regions: 1,
            findings_indexed: 1000,
            archived_versions: 1000,
            collector_invocations: (1000 / batch) as usize,
            collector_batch_size: batch,
            collect_seconds: 40.0,
            collector_seconds: 10.0,
            findings_per_second: 100.0,
            aws_calls_per_finding: calls,
            collector_aws_calls: [("ec2:DescribeInstances".to_owned(), 10)].into(),
            opensearch_requests_per_finding: 0.04,
            collector_peak_memory_mib: memory,
        }
    }

    #[test]
    fn goals_come_from_the_runs_they_name() {
        let runs = [
            run(10, 0.301, 30.0),
            run(100, 0.031, 31.0),
            run(1000, 0.004, 55.3),
        ];
        let calls = calls_section(&runs, "scripts/bench --only stack");
        assert_eq!(calls.goals.len(), 1);
        assert_eq!(calls.goals[0].measured, "0.031");
        assert!(calls.goals[0].met);
        assert!(
            calls
                .markdown
                .contains("| 1000 | 1 × 1 | 100 | 10 | 0.031 | 0.040 | ec2:DescribeInstances 10 |")
        );
        let memory = memory_section(&runs, "scripts/bench --only stack");
        assert_eq!(memory.goals.len(), 1);
        assert_eq!(memory.goals[0].measured, "55.3 MiB");
        assert!(!memory.goals[0].met);
        assert!(
            memory
                .markdown
                .contains("| 1000 | 1000 | 1 × 1 | 55.3 MiB | 100 | 25 |")
        );
    }
}
