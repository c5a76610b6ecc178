//! `fanin privileges`: the least-privilege report of a principal
//! (`--principal <arn>`) or of every user and role of an account
//! (`--account <id>`), in the manner of CloudTracker: what it used, what it
//! is granted and did not use, what it used without a grant, each with its
//! last use, then the policy its use suggests. Its subcommands: `process`
//! (queue a range of days of trail objects, `crate::privileges_process`)
//! and `evaluate` (the scheduled evaluation run in process: records on the
//! central bus).
//!
//! The report is computed as the evaluation computes it
//! (`fanin_privileges::evaluate::Evaluate::reports`): the window's usage
//! from the archive, the authorization details through the account's read
//! role (`--role-name`, ExternalId from `--external-id` or
//! `FANIN_EXTERNAL_ID`). The archive bucket comes from the central stack's
//! outputs (`crate::places`) unless `--bucket` gives it.

use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use fanin::ids::Partition;
use fanin::privileges::principal::PrincipalKind;
use fanin::privileges::record::PrivilegeRecord;
use fanin::privileges::report::Report;
use fanin::sources::privileges::is_principal_arn;
use fanin_privileges::evaluate::{
    Evaluate, EvaluateRequest, Evaluation, Places, Reports, Settings, ports,
};
use serde_json::{Value, json};

use crate::places::{Place, StackFlags, StackReader};
use crate::privileges_process::ProcessArgs;

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Queue the CloudTrail objects of a range of days for the
    /// fanin-privileges function, as the trail bucket's notifications would.
    Process(ProcessArgs),
    /// Judge every user and role against the window's usage now, as the
    /// daily schedule does, and put the records on the central bus.
    Evaluate(EvaluateArgs),
}

/// Where the report and the evaluation read and write.
#[derive(clap::Args, Debug, Clone)]
pub struct AwsFlags {
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
    /// A principal created less than this many days before the window's
    /// end is reported as too new to judge.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u64).range(1..=400))]
    pub min_days: u64,
}

/// `fanin privileges --principal <arn> | --account <id>`.
#[derive(clap::Args, Debug, Clone)]
pub struct ReportArgs {
    /// The user or role (`arn:aws:iam::<account>:role/<name>`, or
    /// `user/...`).
    #[arg(
        long,
        value_name = "ARN",
        required_unless_present = "account",
        conflicts_with = "account"
    )]
    pub principal: Option<String>,
    /// Every user and role of this account, the most over-privileged first.
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,
    /// The window, in days (1 to 400).
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u64).range(1..=400))]
    pub window_days: u64,
    /// The window's end, RFC 3339 (default: now).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// The reports as one JSON document.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub aws: AwsFlags,
}

/// `fanin privileges evaluate`.
#[derive(clap::Args, Debug, Clone)]
pub struct EvaluateArgs {
    /// The window, in days (1 to 400).
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u64).range(1..=400))]
    pub window_days: u64,
    /// The window's end, RFC 3339 (default: now).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Only this account (repeatable; default: every account with trail
    /// objects in the window).
    #[arg(long = "account", value_name = "ID")]
    pub accounts: Vec<String>,
    /// The summary and every record as one JSON document.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub aws: AwsFlags,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Some(Command::Process(process)) => crate::privileges_process::run(process).await,
        Some(Command::Evaluate(evaluate)) => run_evaluate(evaluate).await,
        None => run_report(args.report).await,
    }
}

/// The account and kind of a principal's ARN, checked as the collector
/// checks a record's.
pub fn principal_of_arn(arn: &str) -> anyhow::Result<(String, PrincipalKind)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, partition, _, _, account, _] = parts.as_slice() else {
        bail!("--principal: not an IAM ARN: {arn:?}");
    };
    let partition = Partition::parse(partition).context("--principal")?;
    fanin::ids::AccountId::parse(account).context("--principal")?;
    [
        PrincipalKind::User,
        PrincipalKind::Role,
        PrincipalKind::ServiceLinkedRole,
    ]
    .into_iter()
    .find(|kind| is_principal_arn(arn, &partition, account, *kind))
    .map(|kind| ((*account).to_owned(), kind))
    .with_context(|| {
        format!("--principal: not the ARN of an IAM user or role (arn:aws:iam::<account>:role/<name>): {arn:?}")
    })
}

/// The evaluation with the operator's credentials and the central stack's
/// places.
async fn evaluation(aws: &AwsFlags) -> anyhow::Result<Evaluate> {
    let stack_flags = StackFlags {
        stack_set: aws.stack_set.clone(),
        region: None,
    };
    let config = crate::places::aws_config(&stack_flags).await;
    let mut stack = StackReader::new(&config, &stack_flags);
    let bucket = stack.place(Place::Bucket, aws.bucket.as_deref()).await?;
    let external_id = aws
        .external_id
        .clone()
        .or_else(|| std::env::var("FANIN_EXTERNAL_ID").ok())
        .context("the read role's ExternalId: --external-id or FANIN_EXTERNAL_ID")?;
    let region = config
        .region()
        .map(|r| fanin::ids::Region::parse(r.as_ref()))
        .transpose()?
        .context("an AWS region (AWS_REGION or the profile's)")?;
    let places = Places {
        bucket,
        // Path-style with a custom endpoint, as `crate::places::s3_client`.
        force_path_style: config.endpoint_url().is_some(),
        event_bus: aws.event_bus.clone(),
        role_name: aws.role_name.clone(),
        external_id,
        partition: Partition::parse(region.partition_name())?,
        session_duration: Duration::from_secs(3_600),
    };
    let settings = Settings {
        window: Duration::from_secs(90 * 86_400),
        min_observation: Duration::from_secs(aws.min_days * 86_400),
        region: region.to_string(),
        retry_pause: Duration::from_millis(500),
        access_levels: std::sync::Arc::new(|action| {
            fanin::privileges::catalogue::Catalogue::embedded().access_level(action)
        }),
        // The operator works in the central account.
        central_account: aws_sdk_sts::Client::new(&config)
            .get_caller_identity()
            .send()
            .await
            .ok()
            .and_then(|identity| identity.account().map(str::to_owned)),
    };
    Ok(Evaluate::new(settings, ports(&config, &places)))
}

/// The request of the report's flags.
pub fn report_request(args: &ReportArgs) -> anyhow::Result<(EvaluateRequest, Option<String>)> {
    let (account, principal) = match (&args.principal, &args.account) {
        (Some(arn), _) => (principal_of_arn(arn)?.0, Some(arn.clone())),
        (None, Some(account)) => (account.clone(), None),
        (None, None) => bail!("--principal or --account"),
    };
    let request = EvaluateRequest::parse(&json!({
        "fanin": "evaluate",
        "window_days": args.window_days,
        "until": args.until,
        "accounts": [account],
    }))?;
    Ok((request, principal))
}

async fn run_report(args: ReportArgs) -> anyhow::Result<()> {
    let (request, principal) = report_request(&args)?;
    let evaluate = evaluation(&args.aws).await?;
    let mut reports = evaluate.reports(&request, Utc::now()).await?;
    for problem in &reports.problems {
        eprintln!("fanin: {problem}");
    }
    if let Some(arn) = &principal {
        reports
            .reports
            .retain(|(report, _)| &report.principal.arn == arn);
        if reports.reports.is_empty() && reports.problems.is_empty() {
            bail!("{arn}: no such user or role in its account's authorization details");
        }
    }
    reports
        .reports
        .sort_by_cached_key(|(report, _)| std::cmp::Reverse(report.rank_key(&|_| None)));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&render_json(&reports))?);
    } else {
        print!("{}", render_reports(&reports));
    }
    Ok(())
}

async fn run_evaluate(args: EvaluateArgs) -> anyhow::Result<()> {
    let request = EvaluateRequest::parse(&json!({
        "fanin": "evaluate",
        "window_days": args.window_days,
        "until": args.until,
        "accounts": args.accounts,
    }))?;
    let evaluate = evaluation(&args.aws).await?;
    let evaluation = evaluate.run(&request, Utc::now()).await?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "summary": evaluation.summary,
                "records": evaluation.records,
            }))?
        );
    } else {
        print!("{}", render_evaluation(&evaluation));
    }
    Ok(())
}

/// `{"window": ..., "reports": [...], "problems": [...]}`: each report
/// with `too_new`.
pub fn render_json(reports: &Reports) -> Value {
    json!({
        "window": reports.window,
        "reports": reports.reports.iter().map(|(report, too_new)| {
            let mut value = serde_json::to_value(report).expect("reports serialize");
            value["too_new"] = json!(too_new);
            value
        }).collect::<Vec<_>>(),
        "problems": reports.problems,
    })
}

fn day_time(seconds: i64) -> String {
    DateTime::<Utc>::from_timestamp(seconds, 0).map_or_else(
        || seconds.to_string(),
        |t| t.format("%Y-%m-%d %H:%M").to_string(),
    )
}

fn kind_name(kind: PrincipalKind) -> &'static str {
    match kind {
        PrincipalKind::User => "user",
        PrincipalKind::Role => "role",
        PrincipalKind::ServiceLinkedRole => "service-linked role",
        PrincipalKind::FederatedUser => "federated user",
        PrincipalKind::Root => "root",
    }
}

/// Every report of a request, one after the other (pure).
pub fn render_reports(reports: &Reports) -> String {
    let mut text = String::new();
    for (n, (report, too_new)) in reports.reports.iter().enumerate() {
        if n > 0 {
            text.push('\n');
        }
        text.push_str(&render_report(report, *too_new));
    }
    if reports.reports.is_empty() {
        text.push_str("No user or role to report.\n");
    }
    text
}

/// One principal's report: used, granted but unused, used but not granted
/// (each action with its last use), what was not evaluated, then the
/// suggested policy (pure).
pub fn render_report(report: &Report, too_new: bool) -> String {
    let mut text = format!(
        "{} ({}, account {})\nwindow {} to {}, judged from {}\n",
        report.principal.arn,
        kind_name(report.principal.kind),
        report.principal.account,
        fanin::timestamps::rfc3339(&report.window.start),
        fanin::timestamps::rfc3339(&report.window.end),
        fanin::timestamps::rfc3339(&report.judged_from),
    );
    if !report.judged {
        text.push_str("Reported, not judged: its permissions are AWS's.\n");
    } else if too_new {
        text.push_str("Too new to judge: created within the minimum observation.\n");
    }
    if !report.external_trust.is_empty() {
        text.push_str(&format!(
            "Assumable from outside the organization by: {}\n",
            report.external_trust.join(", ")
        ));
    }
    let width = report
        .used
        .iter()
        .map(|u| u.action.len())
        .chain(report.unused.iter().map(|u| u.action.len()))
        .chain(report.used_not_granted.iter().map(|u| u.action.len()))
        .chain(report.unknown_mappings.iter().map(|u| u.action.len()))
        .max()
        .unwrap_or(0);
    let notes = |conditional: bool, scoped: bool| {
        let mut notes = Vec::new();
        if conditional {
            notes.push("conditional");
        }
        if scoped {
            notes.push("some resources");
        }
        if notes.is_empty() {
            String::new()
        } else {
            format!("  [{}]", notes.join(", "))
        }
    };
    text.push_str(&format!(
        "\nUsed ({} of {} granted)\n",
        report.used.len(),
        report.granted
    ));
    for used in &report.used {
        let denied = if used.denied > 0 {
            format!(", {} denied", used.denied)
        } else {
            String::new()
        };
        text.push_str(&format!(
            "    {:width$}  last {}  {} call(s){denied}{}\n",
            used.action,
            day_time(used.last_used),
            used.count,
            notes(used.conditional, used.resource_scoped),
        ));
    }
    text.push_str(&format!("\nGranted but unused ({})\n", report.unused.len()));
    if !report.unused_services.is_empty() {
        text.push_str(&format!(
            "    services not used at all: {}\n",
            report.unused_services.join(", ")
        ));
    }
    for unused in &report.unused {
        text.push_str(&format!(
            "  - {:width$}  via {}{}\n",
            unused.action,
            unused.via.join(", "),
            notes(unused.conditional, unused.resource_scoped),
        ));
    }
    text.push_str(&format!(
        "\nUsed but not granted ({})\n",
        report.used_not_granted.len()
    ));
    for used in &report.used_not_granted {
        let why = if used.denied_by_policy {
            ", removed by a Deny"
        } else {
            ""
        };
        text.push_str(&format!(
            "  + {:width$}  last {}  {} call(s), {} denied{why}\n",
            used.action,
            day_time(used.last_used),
            used.count,
            used.denied,
        ));
    }
    if !report.unknown_mappings.is_empty() {
        text.push_str(&format!(
            "\nEvent names with no known IAM action ({})\n",
            report.unknown_mappings.len()
        ));
        for unknown in &report.unknown_mappings {
            text.push_str(&format!(
                "  ? {:width$}  last {}  {} call(s) as {}\n",
                unknown.action,
                day_time(unknown.last_used),
                unknown.count,
                unknown.event_names.join(", "),
            ));
        }
    }
    if !report.not_evaluated.is_empty() || !report.unknown_patterns.is_empty() {
        text.push_str(&format!(
            "\nNot evaluated ({})\n",
            report.not_evaluated.len() + report.unknown_patterns.len()
        ));
        for part in &report.not_evaluated {
            text.push_str(&format!(
                "    {} {}: {}\n",
                part.policy, part.statement, part.reason
            ));
        }
        for pattern in &report.unknown_patterns {
            text.push_str(&format!(
                "    {pattern}: matches no action of the catalogue\n"
            ));
        }
    }
    text.push_str(&format!(
        "\nSuggested policy ({})\n",
        fanin::privileges::report::SUGGESTED_POLICY_NOTE
    ));
    text.push_str(
        &serde_json::to_string_pretty(&report.suggested_policy).expect("policies serialize"),
    );
    text.push('\n');
    text
}

/// One line per record, in the evaluation's rank, then the summary (pure).
pub fn render_evaluation(evaluation: &Evaluation) -> String {
    let mut rows = vec![[
        "STATE".to_owned(),
        "UNUSED".to_owned(),
        "GRANTED".to_owned(),
        "EXTERNAL".to_owned(),
        "PRINCIPAL".to_owned(),
    ]];
    for record in &evaluation.records {
        rows.push(row(record));
    }
    let widths: Vec<usize> = (0..5)
        .map(|column| rows.iter().map(|r| r[column].len()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        text.push_str(line.join("  ").trim_end());
        text.push('\n');
    }
    let summary = &evaluation.summary;
    text.push_str(&format!(
        "\n{} principal(s) of {} account(s) judged ({} not judged), {} record(s) put, {} refused; window {} to {}\n",
        summary.principals,
        summary.accounts,
        summary.not_judged,
        summary.records,
        summary.records_failed,
        summary.window_start,
        summary.window_end,
    ));
    for problem in &summary.problems {
        text.push_str(&format!("problem: {problem}\n"));
    }
    text
}

fn row(record: &PrivilegeRecord) -> [String; 5] {
    [
        record.state.as_str().to_owned(),
        record.totals.unused.to_string(),
        record.report.granted.to_string(),
        if record.report.external_trust.is_empty() {
            "-".to_owned()
        } else {
            record.report.external_trust.join(",")
        },
        record.uid.clone(),
    ]
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::TimeZone;
    use clap::Parser;
    use fanin::privileges::authz::{Grant, GrantSet, NotEvaluated, PrincipalEntry};
    use fanin::privileges::principal::Principal;
    use fanin::privileges::report::Window;
    use fanin::privileges::usage::{ActionUse, Mapping, PrincipalUsage};

    use super::*;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, 9, 30, 0).unwrap()
    }

    /// A role granted `s3:Get*` (two actions) and `iam:PassRole`
    /// (conditional), assumable from another organization's account; it
    /// read objects (HeadObject → s3:GetObject), tried `iam:CreateUser`
    /// (denied) and made a call of unknown mapping.
    fn report() -> Report {
        let principal = Principal {
            arn: "arn:aws:iam::111122223333:role/deploy".into(),
            account: "111122223333".into(),
            kind: PrincipalKind::Role,
        };
        let grant = |via: &str, conditional: bool| Grant {
            via: [via.to_owned()].into(),
            conditional,
            resource_scoped: false,
        };
        let entry = PrincipalEntry {
            principal: principal.clone(),
            name: "deploy".into(),
            created: None,
            external_trust: vec!["444455556666".into()],
            grants: GrantSet {
                actions: BTreeMap::from([
                    ("s3:GetObject".to_owned(), grant("inline:read", false)),
                    ("s3:GetBucketPolicy".to_owned(), grant("inline:read", false)),
                    ("iam:PassRole".to_owned(), grant("inline:pass", true)),
                ]),
                not_evaluated: vec![NotEvaluated {
                    policy: "service control policies".into(),
                    statement: "*".into(),
                    reason: "not read".into(),
                }],
                ..GrantSet::default()
            },
        };
        let call = |day: u32, count, denied, mapping, name: &str| ActionUse {
            first_seen: at(day).timestamp(),
            last_seen: at(day).timestamp(),
            count,
            denied,
            mapping,
            event_names: [name.to_owned()].into(),
        };
        let usage = PrincipalUsage {
            principal,
            actions: BTreeMap::from([
                (
                    "s3:GetObject".to_owned(),
                    call(20, 12, 0, Mapping::Mapped, "HeadObject"),
                ),
                (
                    "iam:CreateUser".to_owned(),
                    call(21, 2, 2, Mapping::Derived, "CreateUser"),
                ),
                (
                    "s3:FrobObject".to_owned(),
                    call(22, 1, 0, Mapping::Unknown, "FrobObject"),
                ),
            ]),
        };
        Report::build(
            &entry,
            Some(&usage),
            Window {
                start: at(1),
                end: at(30),
            },
        )
    }

    #[test]
    fn the_text_report_lists_used_unused_and_not_granted_with_last_use_then_the_policy() {
        let text = render_report(&report(), false);
        let expected = "\
arn:aws:iam::111122223333:role/deploy (role, account 111122223333)
window 2026-11-01T09:30:00.000Z to 2026-11-30T09:30:00.000Z, judged from 2026-11-01T09:30:00.000Z
Assumable from outside the organization by: 444455556666

Used (1 of 3 granted)
    s3:GetObject        last 2026-11-20 09:30  12 call(s)

Granted but unused (2)
    services not used at all: iam
  - iam:PassRole        via inline:pass  [conditional]
  - s3:GetBucketPolicy  via inline:read

Used but not granted (1)
  + iam:CreateUser      last 2026-11-21 09:30  2 call(s), 2 denied

Event names with no known IAM action (1)
  ? s3:FrobObject       last 2026-11-22 09:30  1 call(s) as FrobObject

Not evaluated (1)
    service control policies *: not read

Suggested policy (Allows the actions used successfully in the window, on every resource: narrow Resource and add Condition before attaching it.)
{
  \"Version\": \"2012-10-17\",
  \"Statement\": [
    {
      \"Sid\": \"UsedS3\",
      \"Effect\": \"Allow\",
      \"Action\": [
        \"s3:GetObject\"
      ],
      \"Resource\": \"*\"
    }
  ]
}
";
        assert_eq!(text, expected);
    }

    #[test]
    fn the_json_report_carries_every_list_and_too_new() {
        let reports = Reports {
            window: report().window,
            reports: vec![(report(), true)],
            accounts: 1,
            problems: vec!["444455556666: not judged: denied".into()],
        };
        let value = render_json(&reports);
        let first = &value["reports"][0];
        assert_eq!(
            first["principal"]["arn"],
            "arn:aws:iam::111122223333:role/deploy"
        );
        assert_eq!(first["too_new"], true);
        assert_eq!(first["used"][0]["action"], "s3:GetObject");
        assert_eq!(first["used"][0]["last_used"], at(20).timestamp());
        assert_eq!(first["unused"][1]["action"], "s3:GetBucketPolicy");
        assert_eq!(first["unused_services"], json!(["iam"]));
        assert_eq!(first["used_not_granted"][0]["denied"], 2);
        assert_eq!(
            first["unknown_mappings"][0]["event_names"],
            json!(["FrobObject"])
        );
        assert_eq!(
            first["suggested_policy"]["Statement"][0]["Action"],
            json!(["s3:GetObject"])
        );
        assert_eq!(value["problems"][0], "444455556666: not judged: denied");
        assert_eq!(value["window"]["start"], "2026-11-01T09:30:00Z");
        let text = render_reports(&reports);
        assert!(text.contains("Too new to judge"), "{text}");
    }

    #[derive(clap::Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Top,
    }
    #[derive(clap::Subcommand)]
    enum Top {
        Privileges(Args),
    }

    fn parse(line: &[&str]) -> Result<Args, clap::Error> {
        let mut argv = vec!["fanin", "privileges"];
        argv.extend_from_slice(line);
        Cli::try_parse_from(argv).map(|cli| match cli.command {
            Top::Privileges(args) => args,
        })
    }

    #[test]
    fn flags_and_subcommands() {
        let args = parse(&[
            "--principal",
            "arn:aws:iam::111122223333:role/deploy",
            "--json",
        ])
        .unwrap();
        assert!(args.command.is_none());
        assert!(args.report.json);
        assert_eq!(args.report.window_days, 90);
        let (request, principal) = report_request(&args.report).unwrap();
        assert_eq!(request.accounts[0].as_str(), "111122223333");
        assert_eq!(
            principal.as_deref(),
            Some("arn:aws:iam::111122223333:role/deploy")
        );
        let args = parse(&[
            "--account",
            "111122223333",
            "--window-days",
            "30",
            "--until",
            "2026-11-30T00:00:00Z",
        ])
        .unwrap();
        let (request, principal) = report_request(&args.report).unwrap();
        assert_eq!(request.window_days, Some(30));
        assert!(principal.is_none());
        assert!(parse(&[]).is_err(), "a principal or an account");
        assert!(parse(&["--principal", "x", "--account", "111122223333"]).is_err());
        assert!(parse(&["--account", "1", "--window-days", "0"]).is_err());
        let args = parse(&[
            "evaluate",
            "--account",
            "111122223333",
            "--window-days",
            "30",
        ])
        .unwrap();
        assert!(
            matches!(args.command, Some(Command::Evaluate(ref e)) if e.accounts == ["111122223333"])
        );
        assert!(matches!(
            parse(&["process", "--from", "2026-11-01", "--to", "2026-11-30"]),
            Ok(Args {
                command: Some(Command::Process(_)),
                ..
            })
        ));
        assert!(
            parse(&["--account", "111122223333", "evaluate"]).is_err(),
            "flags conflict with subcommands"
        );
    }

    #[test]
    fn principal_arns_are_checked() {
        assert_eq!(
            principal_of_arn("arn:aws:iam::111122223333:user/ops/alice").unwrap(),
            ("111122223333".to_owned(), PrincipalKind::User)
        );
        assert_eq!(
            principal_of_arn("arn:aws:iam::111122223333:role/aws-service-role/support.amazonaws.com/AWSServiceRoleForSupport").unwrap().1,
            PrincipalKind::ServiceLinkedRole
        );
        assert!(principal_of_arn("arn:aws:sts::111122223333:assumed-role/deploy/s").is_err());
        assert!(principal_of_arn("arn:aws:iam::11112222333:role/x").is_err());
        assert!(principal_of_arn("arn:aws:iam::111122223333:role/../x y").is_err());
        assert!(principal_of_arn("deploy").is_err());
    }
}
