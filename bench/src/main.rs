//! `fanin-bench`: the benchmark report's own measurements and its assembly.
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "fanin-bench", about = "fanin's benchmark report")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Assembles the sections in DIR into the report in OUT (between its markers).
    Report {
        #[arg(long, default_value = "target/bench")]
        sections: PathBuf,
        #[arg(long, default_value = "docs/performance.md")]
        out: PathBuf,
        /// The command that ran the measurements, as the report names it.
        #[arg(long, default_value = "scripts/bench")]
        command: String,
        /// The commit measured (`git describe --always --dirty`).
        #[arg(long)]
        commit: String,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Report {
            sections,
            out,
            command,
            commit,
        } => {
            let run = fanin_bench::report::Run {
                command,
                commit,
                date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
                machine: fanin_bench::report::machine(),
            };
            let written = fanin_bench::report::write(&sections, &out, &run)?;
            println!("report: {}", written.display());
        }
    }
    Ok(())
}
