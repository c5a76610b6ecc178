//! The least-privilege function: one Lambda in the central account's
//! primary region, two kinds of event.
//!
//! - An SQS batch of S3 event notifications for new CloudTrail log objects
//!   ([`ingest`]): each object is streamed, read record by record and
//!   aggregated per (principal, action) (`fanin::privileges::usage`); the
//!   aggregates go to the archive and the index.
//! - The scheduled evaluation ([`evaluate`]): per account, the authorization
//!   details read through the read role ([`authz`]) are judged against the
//!   window's usage (`fanin::privileges::report`), and one record per
//!   principal goes to the central bus, which the collector stores as an
//!   OCSF finding.

pub mod authz;
pub mod config;
pub mod evaluate;
pub mod ingest;
