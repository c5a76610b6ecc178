//! `fanin`, the operator's command line. Today: `fanin redrive`, which puts
//! quarantined and dead-lettered messages back into the pipeline after a fix
//! (`docs/design.md`, "Replaying a quarantined message"); `fanin export`,
//! which writes the archive as OCSF Parquet for Amazon Security Lake
//! (`docs/export.md`).
pub mod export;
pub mod redrive;
