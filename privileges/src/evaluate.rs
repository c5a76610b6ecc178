//! The scheduled evaluation: the window's usage + each account's
//! authorization details → one record per judged principal on the central
//! bus.
//!
//! One run ([`Evaluate::run`]) is a chain of stages:
//!
//! request → window → the window's usage, merged from the archive
//! ([`ports::UsageArchive`]) → the accounts (the request's, else those
//! with trail objects in the window) → per account: what each user and role
//! is granted ([`ports::GrantsReader`]) → one report per principal
//! (`fanin::privileges::report`, pure) → records, ranked → PutEvents in
//! batches of 10, refused entries retried → summary.
//!
//! Every judged user and role gets a record each run: `unused` (granted
//! actions unused, OCSF Fail), `none_unused` (Pass: the finding of a
//! principal that was failing resolves) or `too_new` (created less than
//! the minimum observation ago). Service-linked roles are counted, not
//! judged. An account whose authorization details cannot be read is left
//! out of the run and named in the summary's `problems`.

pub mod aws;
pub mod fakes;
pub mod ports;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use fanin::ids::AccountId;
use fanin::privileges::record::{PrivilegeRecord, PrivilegeState};
use fanin::privileges::report::{AccessLevel, Report, Window};
use serde::Serialize;
use serde_json::Value;

use crate::config::PrivilegesConfig;
use ports::{GrantsReader, RecordBus, UsageArchive};

/// PutEvents takes at most 10 entries.
pub const PUT_BATCH: usize = 10;
/// Attempts of a refused entry (the first included).
pub const PUT_ATTEMPTS: u32 = 3;
/// The longest window a request may ask (as `FANIN_PRIVILEGES_WINDOW_DAYS`).
pub const MAX_WINDOW_DAYS: u64 = 400;
/// A read-role session is renewed this long before it expires.
const SESSION_REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// An action's access level, from the catalogue.
pub type AccessLevels = Arc<dyn Fn(&str) -> Option<AccessLevel> + Send + Sync>;

/// What the run is told.
#[derive(Clone)]
pub struct Settings {
    pub window: Duration,
    pub min_observation: Duration,
    /// The region records name (the function's).
    pub region: String,
    /// The pause before retrying refused PutEvents entries (times the
    /// attempt).
    pub retry_pause: Duration,
    /// The access level of an action (the catalogue's); `None` weighs as
    /// Write and is counted `unknown`.
    pub access_levels: AccessLevels,
    /// The central account: of the organization, though its trail objects
    /// may not be in the window (a role it may assume is not trusted from
    /// outside).
    pub central_account: Option<String>,
}

/// The outside systems.
#[derive(Clone)]
pub struct EvaluatePorts {
    pub usage: Arc<dyn UsageArchive>,
    pub grants: Arc<dyn GrantsReader>,
    pub bus: Arc<dyn RecordBus>,
}

/// The evaluation path of the function, built once per cold start.
pub struct Evaluate {
    pub settings: Settings,
    pub ports: EvaluatePorts,
}

impl Evaluate {
    pub fn new(settings: Settings, ports: EvaluatePorts) -> Self {
        Self { settings, ports }
    }

    /// The AWS adapters, with the ambient credentials (the function's role,
    /// or the operator's for `fanin privileges evaluate`).
    pub fn with_sdk(config: &PrivilegesConfig, sdk: aws_config::SdkConfig) -> anyhow::Result<Self> {
        let region = sdk
            .region()
            .map(ToString::to_string)
            .context("the evaluation needs a region (AWS_REGION)")?;
        let store = &config.store;
        let places = Places {
            bucket: store.bucket.clone(),
            force_path_style: store.s3_force_path_style,
            event_bus: config.event_bus.clone(),
            role_name: store.role_name.clone(),
            external_id: store.external_id.expose().to_owned(),
            partition: store.partition.clone(),
            session_duration: store.session_duration,
        };
        let settings = Settings {
            window: config.window,
            min_observation: config.min_observation,
            region,
            retry_pause: Duration::from_millis(500),
            access_levels: Arc::new(|action| {
                fanin::privileges::catalogue::Catalogue::embedded().access_level(action)
            }),
            central_account: config.central_account().map(|a| a.as_str().to_owned()),
        };
        Ok(Self::new(settings, ports(&sdk, &places)))
    }
}

/// Where the adapters read and write: the function's configuration, or
/// the CLI's flags and the central stack's outputs.
#[derive(Debug, Clone)]
pub struct Places {
    /// The central archive bucket (`iam-usage/`).
    pub bucket: String,
    pub force_path_style: bool,
    pub event_bus: String,
    /// The read role assumed in each account, and its ExternalId.
    pub role_name: String,
    pub external_id: String,
    pub partition: fanin::ids::Partition,
    pub session_duration: Duration,
}

/// The AWS adapters of every port: the usage archive is the ingest's
/// `read_window`, the grants the authorization reader's through each
/// account's read role, the bus EventBridge.
pub fn ports(sdk: &aws_config::SdkConfig, places: &Places) -> EvaluatePorts {
    let sessions = fanin::aws::sts::CachedSessions::new(
        fanin::aws::sts::StsSessions::new(
            sdk,
            places.partition.clone(),
            places.role_name.clone(),
            places.external_id.clone(),
            places.session_duration,
        ),
        SESSION_REFRESH_MARGIN,
    );
    EvaluatePorts {
        usage: Arc::new(aws::ArchiveUsage::new(
            sdk,
            places.bucket.clone(),
            places.force_path_style,
        )),
        grants: Arc::new(aws::AuthorizationGrants {
            reader: Arc::new(crate::authz::ReadRoleAuthorization::new(
                Arc::new(sessions),
                sdk.clone(),
            )),
        }),
        bus: Arc::new(aws::EventBridgeBus::new(sdk, places.event_bus.clone())),
    }
}

/// `{"fanin": "evaluate", "window_days"?, "until"?, "accounts"?}`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvaluateRequest {
    pub window_days: Option<u64>,
    pub until: Option<DateTime<Utc>>,
    pub accounts: Vec<AccountId>,
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
        let accounts = match payload.get("accounts") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    item.as_str()
                        .context("accounts: account ids")
                        .and_then(|raw| Ok(AccountId::parse(raw)?))
                })
                .collect::<anyhow::Result<Vec<_>>>()
                .context("accounts")?,
            Some(_) => bail!("accounts: a list of account ids"),
        };
        Ok(Self {
            window_days,
            until,
            accounts,
        })
    }
}

/// What one run did, as the function answers and the CLI prints.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub kind: &'static str,
    pub window_start: String,
    pub window_end: String,
    /// Accounts whose authorization details were read.
    pub accounts: usize,
    /// Users and roles judged.
    pub principals: usize,
    /// Service-linked roles and root: reported, not judged.
    pub not_judged: usize,
    /// Records the bus accepted.
    pub records: usize,
    /// Records the bus refused after every attempt.
    pub records_failed: usize,
    pub by_state: BTreeMap<&'static str, usize>,
    /// Judged roles with unused actions that principals outside the
    /// organization can assume.
    pub externally_trusted: usize,
    /// What could not be read, one line each.
    pub problems: Vec<String>,
}

/// Every principal's report of a request, with whether it is too new to
/// judge.
#[derive(Debug, Clone, PartialEq)]
pub struct Reports {
    pub window: Window,
    pub reports: Vec<(Report, bool)>,
    /// Accounts whose authorization details were read.
    pub accounts: usize,
    pub problems: Vec<String>,
}

impl Default for Reports {
    fn default() -> Self {
        let epoch = DateTime::<Utc>::UNIX_EPOCH;
        Self {
            window: Window {
                start: epoch,
                end: epoch,
            },
            reports: Vec::new(),
            accounts: 0,
            problems: Vec::new(),
        }
    }
}

/// A run's summary and its records, ranked.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub summary: Summary,
    pub records: Vec<PrivilegeRecord>,
}

impl Evaluate {
    /// The window a request asks for at `now`.
    pub fn window(&self, request: &EvaluateRequest, now: DateTime<Utc>) -> anyhow::Result<Window> {
        let length = match request.window_days {
            Some(days) => chrono::Duration::days(days as i64),
            None => chrono::Duration::from_std(self.settings.window)?,
        };
        let end = request.until.unwrap_or(now);
        Ok(Window {
            start: end - length,
            end,
        })
    }

    /// The reports of a request at `now`: the window's usage, then per
    /// account what each user and role is granted. An account that cannot
    /// be read is named in `problems`.
    pub async fn reports(
        &self,
        request: &EvaluateRequest,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Reports> {
        let window = self.window(request, now)?;
        let mut reports = Reports {
            window,
            ..Reports::default()
        };
        let asked: Vec<String> = request.accounts.iter().map(|a| a.to_string()).collect();
        let usage = self
            .ports
            .usage
            .window(
                (!asked.is_empty()).then_some(asked.as_slice()),
                window.start,
                window.end,
            )
            .await
            .context("reading the window's usage")?;
        let accounts: Vec<AccountId> = if request.accounts.is_empty() {
            usage
                .accounts
                .iter()
                .filter_map(|raw| match AccountId::parse(raw) {
                    Ok(account) => Some(account),
                    Err(problem) => {
                        reports
                            .problems
                            .push(format!("usage of a bad account id: {problem}"));
                        None
                    }
                })
                .collect()
        } else {
            request.accounts.clone()
        };
        let min_observation = chrono::Duration::from_std(self.settings.min_observation)?;
        // The organization as far as fanin sees it: every account its trail
        // covers, those asked for, and the central one.
        let organization: std::collections::BTreeSet<String> = usage
            .accounts
            .iter()
            .cloned()
            .chain(accounts.iter().map(|account| account.as_str().to_owned()))
            .chain(self.settings.central_account.clone())
            .collect();
        for account in &accounts {
            let entries = match self.ports.grants.principals(account, &organization).await {
                Ok(entries) => entries,
                Err(problem) => {
                    tracing::warn!(account_id = %account, error = %problem, "account not judged");
                    reports
                        .problems
                        .push(format!("{account}: not judged: {problem}"));
                    continue;
                }
            };
            reports.accounts += 1;
            for entry in &entries {
                let report =
                    Report::build(entry, usage.principals.get(&entry.principal.arn), window);
                let too_new = entry
                    .created
                    .is_some_and(|created| created > window.end - min_observation);
                reports.reports.push((report, too_new));
            }
        }
        Ok(reports)
    }

    /// One evaluation at `now`: records put on the bus, the summary answered.
    pub async fn run(
        &self,
        request: &EvaluateRequest,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Evaluation> {
        let Reports {
            window,
            reports,
            accounts,
            problems,
        } = self.reports(request, now).await?;
        let mut summary = Summary {
            kind: "evaluation",
            window_start: fanin::timestamps::rfc3339(&window.start),
            window_end: fanin::timestamps::rfc3339(&window.end),
            accounts,
            problems,
            ..Summary::default()
        };
        let levels = self.settings.access_levels.as_ref();
        let (mut judged, not_judged): (Vec<_>, Vec<_>) =
            reports.into_iter().partition(|(report, _)| report.judged);
        summary.not_judged = not_judged.len();
        // Ranked: judged before too new, then assumable from outside the
        // organization first, then by the weight of what is unused.
        judged.sort_by_cached_key(|(report, too_new)| {
            std::cmp::Reverse((!too_new, report.rank_key(levels)))
        });
        let records: Vec<PrivilegeRecord> = judged
            .into_iter()
            .map(|(report, too_new)| {
                PrivilegeRecord::new(report, &self.settings.region, now, too_new, levels)
            })
            .collect();
        summary.principals = records.len();
        for record in &records {
            *summary.by_state.entry(record.state.as_str()).or_insert(0) += 1;
            if record.state == PrivilegeState::Unused && !record.report.external_trust.is_empty() {
                summary.externally_trusted += 1;
            }
        }
        let failed = self.put_all(&records).await?;
        summary.records = records.len() - failed;
        summary.records_failed = failed;
        Ok(Evaluation { summary, records })
    }

    /// Puts every record, 10 at a time; refused entries are retried up to
    /// [`PUT_ATTEMPTS`] times. Answers how many were refused every time; a
    /// failed call (not an entry) fails the run.
    async fn put_all(&self, records: &[PrivilegeRecord]) -> anyhow::Result<usize> {
        let mut failed = 0;
        for batch in records.chunks(PUT_BATCH) {
            let mut pending: Vec<&PrivilegeRecord> = batch.iter().collect();
            for attempt in 1..=PUT_ATTEMPTS {
                let owned: Vec<PrivilegeRecord> = pending.iter().map(|r| (*r).clone()).collect();
                let refused = self
                    .ports
                    .bus
                    .put(&owned)
                    .await
                    .context("putting privilege records on the central bus")?;
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
                tracing::warn!(finding_id = %record.uid, "privilege record refused by the bus");
            }
            failed += pending.len();
        }
        Ok(failed)
    }
}

/// The function's answer to an evaluation event: its summary.
pub async fn handle(evaluate: &Evaluate, payload: Value) -> Result<Value, lambda_runtime::Error> {
    let request = EvaluateRequest::parse(&payload)?;
    let evaluation = evaluate.run(&request, Utc::now()).await?;
    tracing::info!(
        principals = evaluation.summary.principals,
        records = evaluation.summary.records,
        problems = evaluation.summary.problems.len(),
        "evaluation done"
    );
    Ok(serde_json::to_value(&evaluation.summary)?)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::TimeZone;
    use fanin::privileges::authz::{Grant, GrantSet, PrincipalEntry};
    use fanin::privileges::principal::{Principal, PrincipalKind};
    use fanin::privileges::usage::{ActionUse, Mapping, PrincipalUsage, WindowUsage};
    use serde_json::json;

    use super::fakes::{FakeBus, FakeGrants, FakeUsage};
    use super::*;

    const A: &str = "111122223333";
    const B: &str = "444455556666";

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, 6, 0, 0).unwrap()
    }

    fn principal(account: &str, kind: PrincipalKind, resource: &str) -> Principal {
        Principal {
            arn: format!("arn:aws:iam::{account}:{resource}"),
            account: account.into(),
            kind,
        }
    }

    fn entry(principal: Principal, actions: &[&str]) -> PrincipalEntry {
        PrincipalEntry {
            name: principal.arn.rsplit('/').next().unwrap().to_owned(),
            principal,
            created: Some(at(1) - chrono::Duration::days(365)),
            external_trust: vec![],
            grants: GrantSet {
                actions: actions
                    .iter()
                    .map(|a| {
                        let grant = Grant {
                            via: ["inline:p".to_owned()].into(),
                            ..Grant::default()
                        };
                        ((*a).to_owned(), grant)
                    })
                    .collect(),
                ..GrantSet::default()
            },
        }
    }

    fn used(principal: &Principal, actions: &[(&str, u64, u64)]) -> PrincipalUsage {
        PrincipalUsage {
            principal: principal.clone(),
            actions: actions
                .iter()
                .map(|(action, count, denied)| {
                    let call = ActionUse {
                        first_seen: at(10).timestamp(),
                        last_seen: at(20).timestamp(),
                        count: *count,
                        denied: *denied,
                        mapping: Mapping::Derived,
                        event_names: BTreeSet::new(),
                    };
                    ((*action).to_owned(), call)
                })
                .collect(),
        }
    }

    use std::collections::BTreeSet;

    fn level(action: &str) -> Option<AccessLevel> {
        if action.starts_with("iam:") {
            Some(AccessLevel::PermissionsManagement)
        } else if action.contains(":Put") || action.contains(":Delete") {
            Some(AccessLevel::Write)
        } else {
            Some(AccessLevel::Read)
        }
    }

    struct World {
        evaluate: Evaluate,
        usage: Arc<FakeUsage>,
        bus: Arc<FakeBus>,
    }

    /// Account A: `app` (uses s3:GetObject, not s3:PutObject nor
    /// iam:PassRole), `tidy` (uses all it has), `deploy` (assumable from
    /// B, one unused read action), `new` (created 2 days before the end),
    /// a service-linked role. Account B: a user with nothing used; its
    /// details are refused when `deny_b`.
    fn world(deny_b: bool, bus: FakeBus) -> World {
        let app = principal(A, PrincipalKind::Role, "role/app");
        let tidy = principal(A, PrincipalKind::User, "user/tidy");
        let deploy = principal(A, PrincipalKind::Role, "role/deploy");
        let young = principal(A, PrincipalKind::Role, "role/new");
        let linked = principal(
            A,
            PrincipalKind::ServiceLinkedRole,
            "role/aws-service-role/support.amazonaws.com/AWSServiceRoleForSupport",
        );
        let idle = principal(B, PrincipalKind::User, "user/idle");
        let mut deploy_entry = entry(deploy.clone(), &["s3:GetObject", "s3:GetBucketPolicy"]);
        deploy_entry.external_trust = vec!["999988887777".into()];
        let mut young_entry = entry(young.clone(), &["s3:GetObject"]);
        young_entry.created = Some(at(28));
        let grants = FakeGrants {
            accounts: BTreeMap::from([
                (
                    A.to_owned(),
                    vec![
                        entry(
                            app.clone(),
                            &["s3:GetObject", "s3:PutObject", "iam:PassRole"],
                        ),
                        entry(tidy.clone(), &["s3:GetObject"]),
                        deploy_entry,
                        young_entry,
                        entry(linked, &["support:*"]),
                    ],
                ),
                (B.to_owned(), vec![entry(idle, &["ec2:DescribeInstances"])]),
            ]),
            denied: if deny_b {
                [B.to_owned()].into()
            } else {
                BTreeSet::new()
            },
        };
        let usage = WindowUsage {
            principals: [
                used(&app, &[("s3:GetObject", 10, 0), ("sts:AssumeRole", 1, 1)]),
                used(&tidy, &[("s3:GetObject", 2, 0)]),
                used(&deploy, &[("s3:GetObject", 2, 0)]),
            ]
            .into_iter()
            .map(|u| (u.principal.arn.clone(), u))
            .collect(),
            accounts: [A.to_owned(), B.to_owned()].into(),
        };
        let usage = Arc::new(FakeUsage {
            usage,
            ..FakeUsage::default()
        });
        let bus = Arc::new(bus);
        let settings = Settings {
            window: Duration::from_secs(29 * 86_400),
            min_observation: Duration::from_secs(7 * 86_400),
            region: "us-east-1".into(),
            retry_pause: Duration::from_millis(1),
            access_levels: Arc::new(level),
            central_account: None,
        };
        let evaluate = Evaluate::new(
            settings,
            EvaluatePorts {
                usage: usage.clone(),
                grants: Arc::new(grants),
                bus: bus.clone(),
            },
        );
        World {
            evaluate,
            usage,
            bus,
        }
    }

    fn request() -> Value {
        json!({"fanin": "evaluate", "until": "2026-11-30T06:00:00Z"})
    }

    #[tokio::test]
    async fn one_record_per_judged_principal_ranked_with_what_is_unused() {
        let world = world(false, FakeBus::default());
        let summary = handle(&world.evaluate, request()).await.unwrap();
        let put = world.bus.put.lock().unwrap().clone();
        let order: Vec<(&str, &str)> = put
            .iter()
            .map(|r| (r.uid.as_str(), r.state.as_str()))
            .collect();
        assert_eq!(
            order,
            [
                // Assumable from outside the organization: first, though
                // only one read action is unused.
                ("arn:aws:iam::111122223333:role/deploy", "unused"),
                // Permissions management + Write unused.
                ("arn:aws:iam::111122223333:role/app", "unused"),
                ("arn:aws:iam::444455556666:user/idle", "unused"),
                ("arn:aws:iam::111122223333:user/tidy", "none_unused"),
                ("arn:aws:iam::111122223333:role/new", "too_new"),
            ]
        );
        let app = &put[1];
        let unused: Vec<&str> = app
            .report
            .unused
            .iter()
            .map(|u| u.action.as_str())
            .collect();
        assert_eq!(unused, ["iam:PassRole", "s3:PutObject"]);
        assert_eq!(app.report.used_not_granted[0].action, "sts:AssumeRole");
        assert_eq!(app.report.used_not_granted[0].denied, 1);
        assert_eq!(app.unused_by_level["permissions_management"], 1);
        assert_eq!(app.region, "us-east-1");
        assert_eq!(app.evaluated_at.date_naive(), Utc::now().date_naive());
        let deploy = &put[0];
        assert_eq!(deploy.report.unused[0].action, "s3:GetBucketPolicy");
        assert_eq!(deploy.report.window.start, at(1));
        assert_eq!(deploy.report.window.end, at(30));
        assert!(
            put[3].report.unused.is_empty(),
            "Pass when nothing is unused"
        );
        assert_eq!(summary["principals"], 5);
        assert_eq!(summary["not_judged"], 1, "the service-linked role");
        assert_eq!(summary["accounts"], 2);
        assert_eq!(summary["records"], 5);
        assert_eq!(summary["externally_trusted"], 1);
        assert_eq!(summary["by_state"]["unused"], 3);
        assert_eq!(summary["window_start"], "2026-11-01T06:00:00.000Z");
        assert_eq!(*world.bus.calls.lock().unwrap(), [5]);
        let asked = world.usage.asked.lock().unwrap();
        assert_eq!(asked[0], (None, at(1), at(30)));
    }

    #[tokio::test]
    async fn an_unreadable_account_is_named_and_the_others_judged() {
        let world = world(true, FakeBus::default());
        let evaluation = world
            .evaluate
            .run(&EvaluateRequest::parse(&request()).unwrap(), at(30))
            .await
            .unwrap();
        assert_eq!(evaluation.summary.accounts, 1);
        assert_eq!(evaluation.summary.problems.len(), 1);
        assert!(
            evaluation.summary.problems[0].starts_with("444455556666: not judged"),
            "{:?}",
            evaluation.summary.problems
        );
        assert!(evaluation.records.iter().all(|r| r.account == A));
    }

    #[tokio::test]
    async fn the_requests_accounts_and_window_are_asked_and_refused_entries_retried() {
        let bus = FakeBus {
            refuse: ["arn:aws:iam::444455556666:user/idle".to_owned()].into(),
            refusals: PUT_ATTEMPTS,
            ..FakeBus::default()
        };
        let world = world(false, bus);
        let request = json!({"fanin": "evaluate", "until": "2026-11-30T06:00:00Z",
            "window_days": 10, "accounts": [B]});
        let summary = handle(&world.evaluate, request).await.unwrap();
        let asked = world.usage.asked.lock().unwrap().clone();
        assert_eq!(asked, [(Some(vec![B.to_owned()]), at(20), at(30))]);
        assert_eq!(summary["principals"], 1);
        assert_eq!(summary["records"], 0);
        assert_eq!(summary["records_failed"], 1);
        assert_eq!(*world.bus.calls.lock().unwrap(), [1, 1, 1]);
        assert!(world.bus.put.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn twelve_records_go_in_batches_of_ten_and_a_refusal_is_retried_once() {
        let principals: Vec<PrincipalEntry> = (0..12)
            .map(|n| {
                entry(
                    principal(A, PrincipalKind::Role, &format!("role/r{n:02}")),
                    &["s3:GetObject"],
                )
            })
            .collect();
        let bus = Arc::new(FakeBus {
            refuse: ["arn:aws:iam::111122223333:role/r03".to_owned()].into(),
            refusals: 1,
            ..FakeBus::default()
        });
        let evaluate = Evaluate::new(
            Settings {
                window: Duration::from_secs(86_400),
                min_observation: Duration::from_secs(86_400),
                region: "us-east-1".into(),
                retry_pause: Duration::from_millis(1),
                access_levels: Arc::new(|action| {
                    fanin::privileges::catalogue::Catalogue::embedded().access_level(action)
                }),
                central_account: None,
            },
            EvaluatePorts {
                usage: Arc::new(FakeUsage::default()),
                grants: Arc::new(FakeGrants {
                    accounts: BTreeMap::from([(A.to_owned(), principals)]),
                    ..FakeGrants::default()
                }),
                bus: bus.clone(),
            },
        );
        let request = json!({"fanin": "evaluate", "accounts": [A]});
        let summary = handle(&evaluate, request).await.unwrap();
        assert_eq!(summary["records"], 12);
        assert_eq!(summary["records_failed"], 0);
        assert_eq!(*bus.calls.lock().unwrap(), [10, 1, 2]);
        assert_eq!(bus.put.lock().unwrap().len(), 12);
    }

    #[test]
    fn requests_are_checked() {
        let request = EvaluateRequest::parse(&json!({
            "fanin": "evaluate", "window_days": 30, "until": "2026-11-30T06:00:00Z",
            "accounts": ["111122223333"]
        }))
        .unwrap();
        assert_eq!(request.window_days, Some(30));
        assert_eq!(request.accounts[0].as_str(), "111122223333");
        assert!(EvaluateRequest::parse(&json!({"fanin": "ingest"})).is_err());
        assert!(EvaluateRequest::parse(&json!({"fanin": "evaluate", "window_days": 0})).is_err());
        assert!(EvaluateRequest::parse(&json!({"fanin": "evaluate", "window_days": 401})).is_err());
        assert!(
            EvaluateRequest::parse(&json!({"fanin": "evaluate", "until": "yesterday"})).is_err()
        );
        assert!(
            EvaluateRequest::parse(&json!({"fanin": "evaluate", "accounts": ["../x"]})).is_err()
        );
        assert!(EvaluateRequest::parse(&json!({"fanin": "evaluate", "accounts": "1"})).is_err());
    }
}
