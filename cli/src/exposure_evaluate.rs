//! `fanin exposure evaluate`: the unused-exposure evaluation run in
//! process with the operator's credentials, as the scheduled function runs
//! it: the accounts and regions with flow aggregates in the window are
//! read through their read role (`--role-name`, ExternalId from
//! `--external-id` or `FANIN_EXTERNAL_ID`), judged, and one usage record
//! per internet-open rule is put on the central bus, which the collector
//! stores as an OCSF Compliance Finding. Prints a table, or the summary
//! and the records as JSON (`--json`).
//!
//! The archive bucket and the OpenSearch endpoint come from the central
//! stack's outputs (`crate::places`) unless given by their flags; the bus
//! is the central stack's `BusName` (default `fanin-findings`). The read
//! role trusts the central principals (`docs/guard.md`), so the operator
//! runs it from one of those.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use fanin::normalize::FindingClass;
use fanin::search::template::latest_name;
use fanin_exposure::evaluate::aws::{
    CloudTrailChanges, EventBridgeBus, OpenSearchVulnerabilities, S3Aggregates,
};
use fanin_exposure::evaluate::{Evaluate, EvaluatePorts, EvaluateRequest, Evaluation, Settings};
use fanin_exposure::inventory::Ec2Network;
use serde_json::json;

use crate::places::{Place, StackFlags, StackReader};
use crate::search::{SearchFlags, auth, endpoint};

#[derive(clap::Args, Debug, Clone)]
pub struct EvaluateArgs {
    /// The window judged, in days (1 to 90).
    #[arg(long, default_value_t = 14, value_parser = clap::value_parser!(u64).range(1..=90))]
    pub window_days: u64,
    /// The window's end, RFC 3339 (default: now).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Only this account (repeatable; default: every account with flow
    /// aggregates in the window).
    #[arg(long = "account", value_name = "ID")]
    pub accounts: Vec<String>,
    /// Only this region (repeatable).
    #[arg(long = "region", value_name = "REGION")]
    pub regions: Vec<String>,
    /// A rule judged for fewer hours than this is `too_new`.
    #[arg(long, default_value_t = 24)]
    pub min_hours: u64,
    /// The summary and every record as one JSON document.
    #[arg(long)]
    pub json: bool,
    /// The read role assumed in each account.
    #[arg(long, default_value = crate::guard::DEFAULT_ROLE_NAME, value_name = "NAME")]
    pub role_name: String,
    /// The read role's ExternalId (default: FANIN_EXTERNAL_ID).
    #[arg(long, value_name = "ID")]
    pub external_id: Option<String>,
    /// The central archive bucket (default: output `BucketName`).
    #[arg(long, value_name = "NAME")]
    pub bucket: Option<String>,
    /// The central event bus (the central stack's `BusName`).
    #[arg(long, default_value = "fanin-findings", value_name = "NAME")]
    pub event_bus: String,
    /// The StackSet whose instance in this account and region (the AWS
    /// configuration's) is the central stack.
    #[arg(long, default_value = "fanin-central-primary", value_name = "NAME")]
    pub stack_set: String,
    #[command(flatten)]
    pub search: SearchFlags,
}

impl EvaluateArgs {
    /// The central stack: in the AWS configuration's region (`--region`
    /// filters the accounts' regions here).
    fn stack(&self) -> StackFlags {
        StackFlags {
            stack_set: self.stack_set.clone(),
            region: None,
        }
    }
}

/// The evaluation request of the flags (checked as the function checks
/// its event).
pub fn request(args: &EvaluateArgs) -> anyhow::Result<EvaluateRequest> {
    EvaluateRequest::parse(&json!({
        "fanin": "evaluate",
        "window_days": args.window_days,
        "until": args.until,
        "accounts": args.accounts,
        "regions": args.regions,
    }))
}

pub async fn run(args: EvaluateArgs) -> anyhow::Result<()> {
    let request = request(&args)?;
    let stack_flags = args.stack();
    let config = crate::places::aws_config(&stack_flags).await;
    let mut stack = StackReader::new(&config, &stack_flags);
    let bucket = stack.place(Place::Bucket, args.bucket.as_deref()).await?;
    let raw_endpoint = stack
        .place(
            Place::OpenSearchEndpoint,
            args.search.opensearch_endpoint.as_deref(),
        )
        .await?;
    let prefix = stack
        .index_prefix(args.search.index_prefix.as_deref())
        .await?;
    let url = endpoint(&raw_endpoint)?;
    let search_auth = auth(
        |name| std::env::var(name).ok(),
        &url,
        args.search.opensearch_service.as_deref(),
    )?;
    let indexer = fanin::search::opensearch::OpenSearchIndexer::new(
        &url,
        &search_auth,
        config.credentials_provider(),
        config.region().cloned(),
    )
    .context("building the OpenSearch client")?;
    let external_id = args
        .external_id
        .clone()
        .or_else(|| std::env::var("FANIN_EXTERNAL_ID").ok())
        .context("the read role's ExternalId: --external-id or FANIN_EXTERNAL_ID")?;
    let partition = config
        .region()
        .map(|r| fanin::ids::Region::parse(r.as_ref()))
        .transpose()?
        .map_or("aws", |r| r.partition_name());
    let sessions = fanin::aws::sts::CachedSessions::new(
        fanin::aws::sts::StsSessions::new(
            &config,
            fanin::ids::Partition::parse(partition)?,
            args.role_name.clone(),
            external_id,
            Duration::from_secs(3_600),
        ),
        Duration::from_secs(300),
    );
    // Path-style with a custom endpoint, as `crate::places::s3_client`.
    let force_path_style = config.endpoint_url().is_some();
    let ports = EvaluatePorts {
        sessions: Arc::new(sessions),
        network: Arc::new(Ec2Network::new(config.clone())),
        changes: Arc::new(CloudTrailChanges::new(config.clone())),
        archive: Arc::new(S3Aggregates::new(&config, bucket, force_path_style)),
        vulnerabilities: Arc::new(OpenSearchVulnerabilities {
            search: indexer,
            index: latest_name(&prefix, FindingClass::VulnerabilityFinding),
        }),
        bus: Arc::new(EventBridgeBus::new(&config, args.event_bus.clone())),
    };
    let settings = Settings {
        window: Duration::from_secs(args.window_days * 86_400),
        min_observation: Duration::from_secs(args.min_hours * 3_600),
        retry_pause: Duration::from_millis(500),
    };
    let evaluation = Evaluate::new(settings, ports)
        .run(&request, chrono::Utc::now())
        .await?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&render_json(&evaluation))?
        );
    } else {
        print!("{}", render_text(&evaluation));
    }
    Ok(())
}

/// `{"summary": ..., "records": [...]}`.
pub fn render_json(evaluation: &Evaluation) -> serde_json::Value {
    json!({"summary": evaluation.summary, "records": evaluation.records})
}

/// One line per judged rule, the failing ones with a critical vulnerability
/// first, then the summary (pure).
pub fn render_text(evaluation: &Evaluation) -> String {
    let mut records: Vec<_> = evaluation.records.iter().collect();
    records.sort_by_key(|r| {
        (
            std::cmp::Reverse(fanin::exposure::ocsf::risk_score(r)),
            r.uid.clone(),
        )
    });
    let mut rows = vec![[
        "RISK".to_owned(),
        "STATE".to_owned(),
        "ACCOUNT".to_owned(),
        "REGION".to_owned(),
        "GROUP".to_owned(),
        "RULE".to_owned(),
        "PERMISSION".to_owned(),
        "ACCEPTED".to_owned(),
        "REJECTED".to_owned(),
        "CVES".to_owned(),
    ]];
    for record in records {
        let usage = &record.usage;
        rows.push([
            fanin::exposure::ocsf::risk_score(record).to_string(),
            usage.state.as_str().to_owned(),
            record.account.clone(),
            record.region.clone(),
            usage.group.group_id.clone(),
            usage.rule_id.clone(),
            usage.permission.to_string(),
            usage.accepted.flows.to_string(),
            usage.rejected.flows.to_string(),
            record.vulnerabilities.len().to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|column| rows.iter().map(|row| row[column].len()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    let summary = &evaluation.summary;
    let states: Vec<String> = summary
        .by_state
        .iter()
        .map(|(state, count)| format!("{state} {count}"))
        .collect();
    text.push_str(&format!(
        "\n{} rule(s) judged in {} account(s), {} record(s) put ({} refused), window {} to {}: {}; {} with a critical vulnerability\n",
        summary.rules,
        summary.accounts,
        summary.records,
        summary.records_failed,
        summary.window_start,
        summary.window_end,
        if states.is_empty() { "nothing judged".to_owned() } else { states.join(", ") },
        summary.critical,
    ));
    for problem in &summary.problems {
        text.push_str(&format!("problem: {problem}\n"));
    }
    text
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: EvaluateArgs,
    }

    #[test]
    fn flags_become_the_functions_request() {
        let cli = Cli::try_parse_from([
            "fanin",
            "--window-days",
            "7",
            "--until",
            "2026-11-30T06:00:00Z",
            "--account",
            "111122223333",
            "--json",
        ])
        .unwrap();
        let request = request(&cli.args).unwrap();
        assert_eq!(request.window_days, Some(7));
        assert_eq!(request.accounts[0].as_str(), "111122223333");
        assert!(Cli::try_parse_from(["fanin", "--window-days", "91"]).is_err());
        let bad = Cli::try_parse_from(["fanin", "--until", "yesterday"]).unwrap();
        assert!(request_of(&bad).is_err());
    }

    fn request_of(cli: &Cli) -> anyhow::Result<EvaluateRequest> {
        request(&cli.args)
    }

    #[test]
    fn the_table_ranks_the_riskiest_rule_first() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/exposure/");
        let record = |name: &str| {
            serde_json::from_str::<fanin::exposure::record::UsageRecord>(
                &std::fs::read_to_string(format!("{path}{name}.json")).unwrap(),
            )
            .unwrap()
        };
        let evaluation = Evaluation {
            summary: fanin_exposure::evaluate::Summary {
                kind: "evaluation",
                rules: 2,
                accounts: 1,
                records: 2,
                by_state: [("unused", 1), ("used", 1)].into(),
                critical: 1,
                ..Default::default()
            },
            records: vec![record("record-used"), record("record-unused-critical")],
        };
        let text = render_text(&evaluation);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("RISK  STATE"), "{text}");
        assert!(lines[1].starts_with("87    unused"), "{text}");
        assert!(lines[1].contains("tcp/22 0.0.0.0/0"), "{text}");
        assert!(lines[2].contains("used"), "{text}");
        assert!(
            text.contains("unused 1, used 1; 1 with a critical vulnerability"),
            "{text}"
        );
        let json = render_json(&evaluation);
        assert_eq!(json["records"].as_array().unwrap().len(), 2);
        assert_eq!(json["summary"]["kind"], "evaluation");
    }
}
