//! The unused-exposure function: one Lambda in the central account's
//! primary region, two kinds of event.
//!
//! - An SQS batch of S3 event notifications for new VPC Flow Logs objects
//!   ([`ingest`]): each object is streamed (gzip text or Parquet), parsed
//!   with its header's field list, and aggregated per hour
//!   (`fanin::flowlogs`); the aggregates go to the archive and the index,
//!   malformed lines to the quarantine.
//! - The scheduled evaluation ([`evaluate`]): per account and region, the
//!   interfaces and their groups (`fanin::exposure::inventory`) are judged
//!   against the window's aggregates (`fanin::exposure::evaluate`), and one
//!   record per internet-open rule goes to the central bus, which the
//!   collector stores as an OCSF finding.
//!
//! `main.rs` builds an [`Exposure`] once per cold start and hands
//! [`handle_event`] to the runtime.

pub mod config;
pub mod evaluate;
pub mod ingest;
pub mod inventory;

use lambda_runtime::LambdaEvent;
use serde_json::Value;

use crate::config::ExposureConfig;

/// What one cold start builds: the configuration and the clients of both
/// paths.
pub struct Exposure {
    pub config: ExposureConfig,
    pub ingest: ingest::Ingest,
    pub evaluate: evaluate::Evaluate,
}

impl Exposure {
    pub async fn build(config: ExposureConfig) -> anyhow::Result<Self> {
        let sdk = fanin::aws::load_sdk_config("fanin-exposure").await;
        // One OpenSearch client (one connection pool, one root store) for
        // both halves of the function.
        let search = search_client(&config, &sdk)?;
        let evaluate = evaluate::Evaluate::with_search(&config, sdk.clone(), search.clone());
        // Ingest classifies sources with the same read-role sessions and
        // EC2 reader as the evaluation.
        let maps = std::sync::Arc::new(inventory::ReadRoleNetworkMaps {
            sessions: evaluate.ports.sessions.clone(),
            reader: evaluate.ports.network.clone(),
        });
        let ingest = ingest::Ingest::with_sdk(&config, &sdk, maps, search)?;
        Ok(Self {
            config,
            ingest,
            evaluate,
        })
    }
}

/// The function's OpenSearch client, with the ambient credentials.
pub(crate) fn search_client(
    config: &ExposureConfig,
    sdk: &aws_config::SdkConfig,
) -> anyhow::Result<fanin::search::opensearch::OpenSearchIndexer> {
    let store = &config.store;
    fanin::search::opensearch::OpenSearchIndexer::new(
        &store.opensearch_url,
        &store.search_auth,
        sdk.credentials_provider(),
        sdk.region().cloned(),
    )
}

/// Routes an invocation: an SQS batch (`Records[].eventSource ==
/// "aws:sqs"`) to [`ingest`], anything else to [`evaluate`].
pub async fn handle_event(
    exposure: &Exposure,
    event: LambdaEvent<Value>,
) -> Result<Value, lambda_runtime::Error> {
    let (payload, _context) = event.into_parts();
    if fanin::aws::is_sqs_batch(&payload) {
        Ok(ingest::handle(&exposure.ingest, payload).await?)
    } else {
        Ok(evaluate::handle(&exposure.evaluate, payload).await?)
    }
}
