//! `fanin`: the operator's command line. Each command lives in its module
//! of the library (`fanin_cli::<command>`); this file only dispatches.
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use fanin_cli::{backfill, export, exposure, guard, install, privileges, redrive, report, summary};

#[derive(Parser)]
#[command(
    name = "fanin",
    about = "Operate a fanin deployment. Run in the central account: every place (bucket, queues, \
             OpenSearch endpoint, index prefix) comes from the central stack's outputs unless a flag \
             gives it.",
    version
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install the index templates, write aliases and ISM policy on the
    /// cluster and the saved objects (dashboards) in its Dashboards;
    /// idempotent.
    Install(install::Args),
    /// Put quarantined and dead-lettered messages back on the findings queue
    /// after a fix (re-queued first, deleted after; see docs/design.md, "Replaying a quarantined message").
    Redrive(redrive::Args),
    /// Rebuild the index (latest state and history) from the S3 archive;
    /// resumable from a checkpoint, with a final count against the archive.
    Backfill(backfill::Args),
    /// Open findings by severity, account, region and source, from the index
    /// (or the archive).
    Summary(summary::Args),
    /// Write a self-contained HTML report from the archive (or the index).
    Report(report::Args),
    /// Write the archive's finding versions of a date range as OCSF 1.3.0
    /// Parquet in the Amazon Security Lake custom source layout (docs/export.md).
    Export(export::Args),
    /// The security-group guard's policy: `validate` it, or `check` it
    /// against the current groups of accounts and regions (a dry run that
    /// changes nothing; docs/guard.md).
    Guard(guard::Args),
    /// Unused exposure: `process` queues the flow-log objects of a range of
    /// days for the fanin-exposure function, as the bucket's notifications
    /// would; `evaluate` judges the internet-open rules now
    /// (docs/exposure.md).
    Exposure(exposure::Args),
    /// Least privilege from CloudTrail: `--principal <arn>` or `--account
    /// <id>` prints what was used, granted but unused and used but not
    /// granted, with the suggested policy; `process` queues the trail
    /// objects of a range of days; `evaluate` puts the findings' records on
    /// the central bus now (docs/privileges.md).
    Privileges(privileges::Args),
}

#[tokio::main]
async fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Install(args) => install::run(args).await,
        Command::Redrive(args) => redrive::run(args).await,
        Command::Backfill(args) => backfill::run(args).await,
        Command::Summary(args) => summary::run(args).await,
        Command::Report(args) => report::run(args).await,
        Command::Export(args) => export::run(args).await,
        Command::Guard(args) => guard::run(args).await,
        Command::Exposure(args) => exposure::run(args).await,
        Command::Privileges(args) => privileges::run(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("fanin: {error:#}");
            ExitCode::FAILURE
        }
    }
}
