//! `fanin`, the operator's command line. Today: `fanin redrive`, which puts
//! quarantined and dead-lettered messages back into the pipeline after a fix
//! (`docs/design.md`, "Replaying a quarantined message").
pub mod dashboards;
pub mod redrive;
