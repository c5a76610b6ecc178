//! One measurement's part of the report, as its producer writes it to
//! `$FANIN_BENCH_OUT/<name>.json` (default `target/bench`). Producers outside
//! this crate (the criterion benchmarks in `shared/benches`, the devstack)
//! write the same JSON shape without depending on this crate.

use serde::{Deserialize, Serialize};

/// A section of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Section {
    /// The section's heading, without `#`.
    pub title: String,
    /// The command that measures it, as a reader would rerun it.
    pub command: String,
    /// The body: tables and prose, without the heading.
    pub markdown: String,
    /// The goals this section measures.
    #[serde(default)]
    pub goals: Vec<Goal>,
    /// The raw figures, for tools.
    #[serde(default)]
    pub data: serde_json::Value,
}

/// One goal and how the measurement stands against it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Goal {
    /// What is measured ("in-process CPU, Inspector2, against the generic floor").
    pub name: String,
    /// The goal ("≥ 85 % of the floor").
    pub target: String,
    /// The figure ("78 %").
    pub measured: String,
    pub met: bool,
}
