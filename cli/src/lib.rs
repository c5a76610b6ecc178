//! `fanin`, the operator's command line: one module per command, each with
//! its flags (`Args`) and its `run`; `main.rs` only dispatches.
//!
//! - [`install`]: index templates, write aliases, the ISM policy and the
//!   saved objects, idempotently;
//! - [`redrive`]: quarantined and dead-lettered messages back into the
//!   pipeline after a fix (`docs/design.md`, "Replaying a quarantined message");
//! - [`backfill`]: the index (latest state and history) rebuilt from the
//!   S3 archive, resumable;
//! - [`summary`]: open findings by severity, account, region and source in
//!   the terminal;
//! - [`report`]: a self-contained HTML report;
//! - [`export`]: the archive as OCSF 1.3.0 Parquet for Amazon Security Lake
//!   (`docs/export.md`);
//! - [`guard`]: the security-group guard's policy validated, and evaluated
//!   against accounts' current groups without changing anything (dry run);
//! - [`exposure`]: flow-log objects of a range of days queued again for
//!   the unused-exposure function;
//! - [`exposure_evaluate`]: the unused-exposure evaluation run in process;
//! - [`dashboards`]: the OpenSearch Dashboards saved objects fanin ships.
//!
//! What they share: [`places`] (the central stack's outputs, overridable by
//! flags), [`search`] (the OpenSearch connection), [`archive`] (reading the
//! archive back) and [`findings`] (the latest state of each finding and
//! the counts shown).
pub mod archive;
pub mod backfill;
pub mod dashboards;
pub mod export;
pub mod exposure;
pub mod exposure_evaluate;
pub mod findings;
pub mod guard;
pub mod install;
pub mod places;
pub mod privileges;
pub mod privileges_process;
pub mod redrive;
pub mod report;
pub mod search;
pub mod summary;
