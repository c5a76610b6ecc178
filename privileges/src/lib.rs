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
//!
//! `main.rs` builds a [`Privileges`] once per cold start and hands
//! [`handle_event`] to the runtime.

pub mod authz;
pub mod config;
pub mod evaluate;
pub mod ingest;

use std::sync::Arc;

use fanin::privileges::catalogue::Catalogue;
use lambda_runtime::LambdaEvent;
use serde_json::Value;

use crate::config::PrivilegesConfig;

/// What one cold start builds: the configuration and the clients of both
/// paths, both answering from the embedded action catalogue.
pub struct Privileges {
    pub config: PrivilegesConfig,
    pub ingest: ingest::Ingest,
    pub evaluate: evaluate::Evaluate,
}

impl Privileges {
    pub async fn build(config: PrivilegesConfig) -> anyhow::Result<Self> {
        let sdk = fanin::aws::load_sdk_config("fanin-privileges").await;
        let evaluate = evaluate::Evaluate::with_sdk(&config, sdk.clone())?;
        let ingest = ingest::Ingest::with_sdk(&config, &sdk)?.with_catalogue(Arc::new(|action| {
            Catalogue::embedded().canonical(action).is_some()
        }));
        Ok(Self {
            config,
            ingest,
            evaluate,
        })
    }
}

/// Routes an invocation: an SQS batch (`Records[].eventSource ==
/// "aws:sqs"`) to [`ingest`], anything else to [`evaluate`].
pub async fn handle_event(
    privileges: &Privileges,
    event: LambdaEvent<Value>,
) -> Result<Value, lambda_runtime::Error> {
    let (payload, _context) = event.into_parts();
    if fanin::aws::is_sqs_batch(&payload) {
        Ok(ingest::handle(&privileges.ingest, payload).await?)
    } else {
        Ok(evaluate::handle(&privileges.evaluate, payload).await?)
    }
}
