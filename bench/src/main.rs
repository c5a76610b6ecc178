//! `fanin-bench`: the benchmark report's own measurements and its assembly.
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use fanin_bench::coldstart::{self, Binary};
use fanin_bench::section::Section;
use fanin_bench::sizes;

#[derive(Parser)]
#[command(name = "fanin-bench", about = "fanin's benchmark report")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Each Lambda binary's time to ready against a hello world (section `cold-start`).
    ColdStart {
        /// NAME=PATH of a Lambda binary; repeat for each.
        #[arg(long = "binary", value_parser = name_path)]
        binaries: Vec<(String, PathBuf)>,
        /// The hello-world Lambda (`fanin-hello-lambda`), built with the same profile.
        #[arg(long)]
        hello: PathBuf,
        /// Interleaved rounds.
        #[arg(long, default_value_t = 20)]
        runs: usize,
        /// How long a process may take to ask for its first invocation.
        #[arg(long, default_value_t = 30)]
        timeout_seconds: u64,
        /// Markdown about an earlier measurement, added under the table.
        #[arg(long)]
        note: Option<String>,
        /// The section's directory (default `$FANIN_BENCH_OUT`, else `target/bench`).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Each Lambda's bootstrap and bootstrap.zip size per architecture (section `sizes`).
    Sizes {
        /// ARCH=DIR of a cargo-lambda output directory; repeat for each architecture.
        #[arg(long = "lambda-dir", value_parser = name_path)]
        dirs: Vec<(String, PathBuf)>,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The sections `calls` and `memory-throughput` from `fanin-devstack load` reports.
    Stack {
        /// A `fanin-devstack load` JSON report; repeat for each run.
        #[arg(long = "load")]
        loads: Vec<PathBuf>,
        #[arg(long)]
        out: Option<PathBuf>,
    },
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

fn name_path(raw: &str) -> Result<(String, PathBuf), String> {
    let (name, path) = raw.split_once('=').ok_or("expected NAME=PATH")?;
    Ok((name.to_string(), PathBuf::from(path)))
}

fn write(out: Option<PathBuf>, name: &str, section: &Section) -> anyhow::Result<()> {
    let dir = out
        .or_else(|| std::env::var_os("FANIN_BENCH_OUT").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("target/bench"));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(section)?)
        .with_context(|| format!("writing {}", path.display()))?;
    println!("{}", section.markdown);
    eprintln!("wrote {}", path.display());
    Ok(())
}

fn command_line() -> String {
    std::env::args().collect::<Vec<_>>().join(" ")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::ColdStart {
            binaries,
            hello,
            runs,
            timeout_seconds,
            note,
            out,
        } => {
            anyhow::ensure!(runs > 0, "--runs must be at least 1");
            let binaries: Vec<Binary> = binaries
                .into_iter()
                .map(|(name, path)| Binary { name, path })
                .collect();
            let times = coldstart::measure(
                &hello,
                &binaries,
                runs,
                Duration::from_secs(timeout_seconds),
            )
            .await?;
            let section = coldstart::section(&times, runs, &command_line(), note.as_deref());
            write(out, "cold-start", &section)
        }
        Command::Sizes { dirs, out } => {
            let mut all = Vec::new();
            for (arch, dir) in dirs {
                all.extend(sizes::read(&arch, &dir)?);
            }
            write(out, "sizes", &sizes::section(&all, &command_line()))
        }
        Command::Stack { loads, out } => {
            let runs = loads
                .iter()
                .map(|path| fanin_bench::stack::read(path))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let command = "scripts/bench --only stack";
            write(
                out.clone(),
                "calls",
                &fanin_bench::stack::calls_section(&runs, command),
            )?;
            write(
                out,
                "memory-throughput",
                &fanin_bench::stack::memory_section(&runs, command),
            )
        }
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
            Ok(())
        }
    }
}
