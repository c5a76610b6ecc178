//! `fanin-bench`: the benchmark report's own measurements and its assembly.
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "fanin-bench", about = "fanin's benchmark report")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {}
}
