//! The scheduled evaluation: inventory + the window's aggregates → one
//! record per internet-open rule on the central bus.
//!
//! One run ([`Evaluate::run`]) is a chain of stages:
//!
//! request → window and days → the accounts and regions with aggregates
//! (archive) → per account and region: session (read role), inventory
//! (EC2), rule changes (CloudTrail), traffic (archive) → judge
//! (`fanin::exposure::evaluate`, pure) → one search of the critical
//! vulnerability findings of every instance behind a judged rule → records
//! → PutEvents in batches of 10, refused entries retried → summary.
//!
//! An account or region that cannot be read (no role, throttled) is left
//! out of the run and named in the summary's `problems`; the next run
//! judges it. CloudTrail or the vulnerability search failing does not stop
//! the run either: rules are then judged from the window's start, records
//! carry no link, and the summary says so.

pub mod aws;
pub mod fakes;
pub mod ports;
pub mod rows;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDate, Utc};
use fanin::exposure::evaluate::{Judging, RuleUsage, SketchUnion, UsageState, evaluate};
use fanin::exposure::inventory::ResourceKind;
use fanin::exposure::record::{LinkedVulnerability, UsageRecord};
use fanin::ids::{AccountId, Region};
use fanin::ports::SessionProvider;
use serde::Serialize;
use serde_json::Value;

use crate::config::ExposureConfig;
use crate::inventory::{Ec2Network, NetworkReader};
use ports::{AggregateArchive, RecordBus, RuleChangeLog, VulnerabilityIndex};

/// PutEvents takes at most 10 entries.
pub const PUT_BATCH: usize = 10;
/// Attempts of a refused entry (the first included).
pub const PUT_ATTEMPTS: u32 = 3;
/// The longest window a request may ask (the archive keeps more, CloudTrail
/// `LookupEvents` 90 days).
pub const MAX_WINDOW_DAYS: u64 = 90;

/// What the run is told.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub window: Duration,
    pub min_observation: Duration,
    /// The pause before retrying refused PutEvents entries (times the
    /// attempt).
    pub retry_pause: Duration,
}

/// The outside systems.
#[derive(Clone)]
pub struct EvaluatePorts {
    pub sessions: Arc<dyn SessionProvider>,
    pub network: Arc<dyn NetworkReader>,
    pub changes: Arc<dyn RuleChangeLog>,
    pub archive: Arc<dyn AggregateArchive>,
    pub vulnerabilities: Arc<dyn VulnerabilityIndex>,
    pub bus: Arc<dyn RecordBus>,
}

/// The evaluation path of the function, built once per cold start.
pub struct Evaluate {
    pub settings: Settings,
    pub ports: EvaluatePorts,
}

/// Refresh a cached session this long before it expires.
const SESSION_REFRESH_MARGIN: Duration = Duration::from_secs(300);

impl Evaluate {
    pub fn new(settings: Settings, ports: EvaluatePorts) -> Self {
        Self { settings, ports }
    }

    /// The AWS and OpenSearch adapters, with the ambient credentials (the
    /// function's role, or the operator's for `fanin exposure evaluate`).
    pub async fn build(config: &ExposureConfig) -> anyhow::Result<Self> {
        let sdk = fanin::aws::load_sdk_config("fanin-exposure").await;
        Self::with_sdk(config, sdk)
    }

    pub fn with_sdk(config: &ExposureConfig, sdk: aws_config::SdkConfig) -> anyhow::Result<Self> {
        let search = crate::search_client(config, &sdk)?;
        Ok(Self::with_search(config, sdk, search))
    }

    /// As [`Self::with_sdk`], on an OpenSearch client the caller shares
    /// (the function's one client, also the ingest's).
    pub fn with_search(
        config: &ExposureConfig,
        sdk: aws_config::SdkConfig,
        search: fanin::search::opensearch::OpenSearchIndexer,
    ) -> Self {
        let store = &config.store;
        let sessions = fanin::aws::sts::CachedSessions::new(
            fanin::aws::sts::StsSessions::new(
                &sdk,
                store.partition.clone(),
                store.role_name.clone(),
                store.external_id.expose().to_owned(),
                store.session_duration,
            ),
            SESSION_REFRESH_MARGIN,
        );
        let ports = EvaluatePorts {
            sessions: Arc::new(sessions),
            network: Arc::new(Ec2Network::new(sdk.clone())),
            changes: Arc::new(aws::CloudTrailChanges::new(sdk.clone())),
            archive: Arc::new(aws::S3Aggregates::new(
                &sdk,
                store.bucket.clone(),
                store.s3_force_path_style,
            )),
            vulnerabilities: Arc::new(aws::OpenSearchVulnerabilities {
                search,
                index: fanin::search::template::latest_name(
                    &store.index_prefix,
                    fanin::normalize::FindingClass::VulnerabilityFinding,
                ),
            }),
            bus: Arc::new(aws::EventBridgeBus::new(&sdk, config.event_bus.clone())),
        };
        let settings = Settings {
            window: config.window,
            min_observation: config.min_observation,
            retry_pause: Duration::from_millis(500),
        };
        Self::new(settings, ports)
    }
}

/// `{"fanin": "evaluate", "window_days"?, "until"?, "accounts"?, "regions"?}`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvaluateRequest {
    pub window_days: Option<u64>,
    pub until: Option<DateTime<Utc>>,
    pub accounts: Vec<AccountId>,
    pub regions: Vec<Region>,
}

impl EvaluateRequest {
    /// Reads and checks the event (the schedule's constant input, or an
    /// operator's invocation).
    pub fn parse(payload: &Value) -> anyhow::Result<Self> {
        if payload.get("fanin").and_then(Value::as_str) != Some("evaluate") {
            bail!("not an evaluation request: {{\"fanin\": \"evaluate\"}} expected");
        }
        let window_days = match payload.get("window_days") {
            None | Some(Value::Null) => None,
            Some(value) => Some(
                value
                    .as_u64()
                    .filter(|days| (1..=MAX_WINDOW_DAYS).contains(days))
                    .with_context(|| {
                        format!("window_days: a whole number from 1 to {MAX_WINDOW_DAYS}")
                    })?,
            ),
        };
        let until = match payload.get("until") {
            None | Some(Value::Null) => None,
            Some(value) => Some(
                value
                    .as_str()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.to_utc())
                    .context("until: an RFC 3339 time")?,
            ),
        };
        let list = |key: &str| -> Vec<String> {
            payload
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        };
        let accounts = list("accounts")
            .iter()
            .map(|a| AccountId::parse(a))
            .collect::<Result<Vec<_>, _>>()
            .context("accounts")?;
        let regions = list("regions")
            .iter()
            .map(|r| Region::parse(r))
            .collect::<Result<Vec<_>, _>>()
            .context("regions")?;
        Ok(Self {
            window_days,
            until,
            accounts,
            regions,
        })
    }
}

/// What one run did, as the function answers and the CLI prints.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub kind: &'static str,
    pub window_start: String,
    pub window_end: String,
    /// Accounts judged.
    pub accounts: usize,
    /// (account, region) pairs judged.
    pub partitions: usize,
    /// Rules judged.
    pub rules: usize,
    /// Records the bus accepted.
    pub records: usize,
    /// Records the bus refused after every attempt.
    pub records_failed: usize,
    pub by_state: BTreeMap<&'static str, usize>,
    /// Unused or internally used rules with a critical vulnerability behind.
    pub critical: usize,
    /// What could not be read, one line each.
    pub problems: Vec<String>,
}

/// A run's summary and its records.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub summary: Summary,
    pub records: Vec<UsageRecord>,
}

/// The days of the archive a window covers (both ends' days included).
pub fn window_days(start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<NaiveDate> {
    let mut days = Vec::new();
    let mut day = start.date_naive();
    while day <= end.date_naive() {
        days.push(day);
        let Some(next) = day.succ_opt() else { break };
        day = next;
    }
    days
}

impl Evaluate {
    /// One evaluation at `now`: records put on the bus, the summary answered.
    pub async fn run(
        &self,
        request: &EvaluateRequest,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Evaluation> {
        let window = match request.window_days {
            Some(days) => chrono::Duration::days(days as i64),
            None => chrono::Duration::from_std(self.settings.window)?,
        };
        let end = request.until.unwrap_or(now);
        let start = end - window;
        let days = window_days(start, end);
        let mut summary = Summary {
            kind: "evaluation",
            window_start: fanin::timestamps::rfc3339(&start),
            window_end: fanin::timestamps::rfc3339(&end),
            ..Summary::default()
        };
        let partitions: Vec<(AccountId, Region)> = self
            .ports
            .archive
            .partitions(&days)
            .await
            .context("listing the flow aggregates")?
            .into_iter()
            .filter(|(account, region)| {
                (request.accounts.is_empty() || request.accounts.contains(account))
                    && (request.regions.is_empty() || request.regions.contains(region))
            })
            .collect();

        let min_observation = chrono::Duration::from_std(self.settings.min_observation)?;
        let mut judged: Vec<(AccountId, Region, RuleUsage)> = Vec::new();
        let mut accounts = BTreeSet::new();
        for (account, region) in partitions {
            match self
                .judge_partition(
                    &account,
                    &region,
                    start,
                    end,
                    min_observation,
                    &days,
                    &mut summary,
                )
                .await
            {
                Ok(usages) => {
                    summary.partitions += 1;
                    accounts.insert(account.clone());
                    judged.extend(
                        usages
                            .into_iter()
                            .map(|usage| (account.clone(), region.clone(), usage)),
                    );
                }
                Err(problem) => {
                    tracing::warn!(account_id = %account, region = %region, error = %problem, "account and region not judged");
                    summary
                        .problems
                        .push(format!("{account} {region}: not judged: {problem}"));
                }
            }
        }
        summary.accounts = accounts.len();
        summary.rules = judged.len();

        let vulnerabilities = self.vulnerabilities(&judged, &mut summary).await;
        let records: Vec<UsageRecord> = judged
            .into_iter()
            .map(|(account, region, usage)| {
                let instances = instance_ids(&usage);
                let linked = vulnerabilities
                    .iter()
                    .filter(|v| instances.contains(&v.instance_id))
                    .cloned()
                    .collect();
                UsageRecord::new(account.as_str(), region.as_str(), now, usage, linked)
            })
            .collect();
        for record in &records {
            *summary
                .by_state
                .entry(record.usage.state.as_str())
                .or_insert(0) += 1;
            let failing = matches!(
                record.usage.state,
                UsageState::Unused | UsageState::UsedInternally
            );
            if failing
                && record
                    .vulnerabilities
                    .iter()
                    .any(|v| v.severity_id >= fanin::exposure::ocsf::CRITICAL)
            {
                summary.critical += 1;
            }
        }
        let failed = self.put_all(&records).await?;
        summary.records = records.len() - failed;
        summary.records_failed = failed;
        Ok(Evaluation { summary, records })
    }

    #[allow(clippy::too_many_arguments)]
    async fn judge_partition(
        &self,
        account: &AccountId,
        region: &Region,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        min_observation: chrono::Duration,
        days: &[NaiveDate],
        summary: &mut Summary,
    ) -> Result<Vec<RuleUsage>, fanin::ports::CallError> {
        let session = self.ports.sessions.session(account).await?;
        let inventory = self.ports.network.inventory(&session, region).await?;
        let changes = match self
            .ports
            .changes
            .rule_changes(&session, region, start)
            .await
        {
            Ok(changes) => changes,
            Err(problem) => {
                tracing::warn!(account_id = %account, region = %region, error = %problem, "rule changes unknown: judged from the window's start");
                summary.problems.push(format!(
                    "{account} {region}: rule changes unknown, judged from the window's start: {problem}"
                ));
                BTreeMap::new()
            }
        };
        let traffic = self.ports.archive.traffic(account, region, days).await?;
        let judging = Judging {
            window_start: start,
            window_end: end,
            min_observation,
            changes: &changes,
        };
        Ok(evaluate(&inventory, &traffic, &judging, &SketchUnion))
    }

    /// One search for every instance behind a judged rule.
    async fn vulnerabilities(
        &self,
        judged: &[(AccountId, Region, RuleUsage)],
        summary: &mut Summary,
    ) -> Vec<LinkedVulnerability> {
        let instances: BTreeSet<String> = judged
            .iter()
            .flat_map(|(_, _, usage)| instance_ids(usage))
            .collect();
        let instances: Vec<String> = instances.into_iter().collect();
        if instances.is_empty() {
            return Vec::new();
        }
        match self
            .ports
            .vulnerabilities
            .critical_findings(&instances)
            .await
        {
            Ok(found) => found,
            Err(problem) => {
                tracing::warn!(error = %problem, "vulnerability findings unknown: records without the link");
                summary.problems.push(format!(
                    "vulnerability findings unknown, records carry no link: {problem}"
                ));
                Vec::new()
            }
        }
    }

    /// Puts every record, 10 at a time; refused entries are retried up to
    /// [`PUT_ATTEMPTS`] times. Answers how many were refused every time; a
    /// failed call (not an entry) fails the run.
    async fn put_all(&self, records: &[UsageRecord]) -> anyhow::Result<usize> {
        let mut failed = 0;
        for batch in records.chunks(PUT_BATCH) {
            let mut pending: Vec<&UsageRecord> = batch.iter().collect();
            for attempt in 1..=PUT_ATTEMPTS {
                let owned: Vec<UsageRecord> = pending.iter().map(|r| (*r).clone()).collect();
                let refused = self
                    .ports
                    .bus
                    .put(&owned)
                    .await
                    .context("putting usage records on the central bus")?;
                pending = refused
                    .into_iter()
                    .filter_map(|position| pending.get(position).copied())
                    .collect();
                if pending.is_empty() {
                    break;
                }
                if attempt < PUT_ATTEMPTS {
                    tokio::time::sleep(self.settings.retry_pause * attempt).await;
                }
            }
            for record in &pending {
                tracing::warn!(finding_id = %record.uid, "usage record refused by the bus");
            }
            failed += pending.len();
        }
        Ok(failed)
    }
}

/// The instances behind a judged rule's interfaces.
fn instance_ids(usage: &RuleUsage) -> BTreeSet<String> {
    usage
        .interfaces
        .iter()
        .filter(|i| i.resource.kind == ResourceKind::Ec2Instance)
        .filter_map(|i| i.resource.uid.clone())
        .collect()
}

/// The function's answer to an evaluation event: its summary.
pub async fn handle(evaluate: &Evaluate, payload: Value) -> anyhow::Result<Value> {
    let request = EvaluateRequest::parse(&payload)?;
    let evaluation = evaluate.run(&request, Utc::now()).await?;
    tracing::info!(
        rules = evaluation.summary.rules,
        records = evaluation.summary.records,
        problems = evaluation.summary.problems.len(),
        "evaluation done"
    );
    Ok(serde_json::to_value(&evaluation.summary)?)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn requests_are_checked() {
        let request = EvaluateRequest::parse(&json!({
            "fanin": "evaluate", "window_days": 7, "until": "2026-11-30T06:00:00Z",
            "accounts": ["111122223333"], "regions": ["us-east-1"]
        }))
        .unwrap();
        assert_eq!(request.window_days, Some(7));
        assert_eq!(request.accounts[0].as_str(), "111122223333");
        assert!(EvaluateRequest::parse(&json!({"fanin": "ingest"})).is_err());
        assert!(EvaluateRequest::parse(&json!({"fanin": "evaluate", "window_days": 0})).is_err());
        assert!(
            EvaluateRequest::parse(&json!({"fanin": "evaluate", "until": "yesterday"})).is_err()
        );
        assert!(
            EvaluateRequest::parse(&json!({"fanin": "evaluate", "accounts": ["../x"]})).is_err()
        );
    }

    #[test]
    fn a_window_covers_the_days_of_both_ends() {
        let end = DateTime::parse_from_rfc3339("2026-11-30T06:00:00Z")
            .unwrap()
            .to_utc();
        let days = window_days(end - chrono::Duration::days(2), end);
        let shown: Vec<String> = days.iter().map(|d| d.to_string()).collect();
        assert_eq!(shown, ["2026-11-28", "2026-11-29", "2026-11-30"]);
    }
}
