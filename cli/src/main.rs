//! `fanin`: the operator's command line.
use std::collections::BTreeSet;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use fanin_cli::export;
use fanin_cli::redrive::{self, Places, Selection};

#[derive(Parser)]
#[command(name = "fanin", about = "Operate a fanin deployment", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Put quarantined and dead-lettered messages back on the findings queue
    /// after a fix (re-queued first, deleted after; see docs/design.md, "Replaying a quarantined message").
    Redrive {
        /// The central bucket (output `BucketName` of fanin-central-primary).
        #[arg(long)]
        bucket: String,
        /// The findings queue (output `QueueUrl`).
        #[arg(long)]
        queue_url: String,
        /// Its dead-letter queue (output `DeadLetterQueueUrl`).
        #[arg(long)]
        dead_letter_queue_url: String,
        /// Only quarantined messages with this reason code (repeatable).
        #[arg(long = "reason")]
        reasons: Vec<String>,
        /// Leave the quarantine alone.
        #[arg(long)]
        skip_quarantine: bool,
        /// Leave the dead-letter queue alone.
        #[arg(long)]
        skip_dead_letters: bool,
        /// List what would move and why it was set aside; move nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write the archive's finding versions of a date range as OCSF 1.3.0
    /// Parquet in the Amazon Security Lake custom source layout (docs/export.md).
    Export(export::Args),
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("fanin: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Redrive {
            bucket,
            queue_url,
            dead_letter_queue_url,
            reasons,
            skip_quarantine,
            skip_dead_letters,
            dry_run,
        } => {
            let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            let s3 = aws_sdk_s3::Client::new(&config);
            let sqs = aws_sdk_sqs::Client::new(&config);
            let report = redrive::redrive(
                &s3,
                &sqs,
                &Places {
                    bucket,
                    queue_url,
                    dead_letter_queue_url,
                },
                &Selection {
                    reasons: reasons.into_iter().collect::<BTreeSet<_>>(),
                    skip_quarantine,
                    skip_dead_letters,
                    dry_run,
                },
            )
            .await?;
            let verb = if dry_run { "would move" } else { "moved" };
            for moved in &report.moved {
                println!("{verb}  {:<18} {}  ({})", moved.from, moved.id, moved.why);
            }
            println!(
                "{verb} {} quarantined and {} dead-lettered message(s)",
                report.moved.len() - report.dead_letters,
                report.dead_letters
            );
            Ok(())
        }
        Command::Export(args) => export::run(args).await,
    }
}
