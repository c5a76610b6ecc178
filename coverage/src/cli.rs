//! `fanin-coverage report [--hours N] [--json]`: the report, read-only (it
//! neither publishes metrics nor writes the account list; the scheduled
//! Lambda does).

use chrono::Utc;
use clap::{Parser, Subcommand};

use crate::checker::Checker;
use crate::config::parse_hours;

#[derive(Debug, Parser)]
#[command(
    name = "fanin-coverage",
    about = "Which accounts and regions of the organization reach fanin"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Prints one line per account and region, with its gaps.
    Report {
        /// Count the Inspector2 findings updated in the last N hours (1 to 720; default FANIN_COVERAGE_HOURS or 24).
        #[arg(long, value_parser = parse_hours)]
        hours: Option<u32>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

impl Command {
    /// Reads the command line; prints usage and exits on a bad one.
    pub fn from_args() -> Self {
        Cli::parse().command
    }
}

pub async fn run(checker: &Checker, command: Command) -> anyhow::Result<()> {
    let Command::Report { hours, json } = command;
    let hours = hours.unwrap_or(checker.settings.hours);
    let (_, report) = checker.report(hours, Utc::now()).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", crate::render::table(&report));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_read() {
        let cli =
            Cli::try_parse_from(["fanin-coverage", "report", "--hours", "6", "--json"]).unwrap();
        assert_eq!(
            cli.command,
            Command::Report {
                hours: Some(6),
                json: true
            }
        );
        assert!(Cli::try_parse_from(["fanin-coverage", "report", "--hours", "0"]).is_err());
        assert!(Cli::try_parse_from(["fanin-coverage"]).is_err());
    }
}
