//! Flow-log objects in: S3 notification → stream → parse → aggregate →
//! archive + index; malformed lines to the quarantine.
use serde_json::Value;

use crate::config::ExposureConfig;

pub struct Ingest {}

impl Ingest {
    pub async fn build(_config: &ExposureConfig) -> anyhow::Result<Self> {
        Ok(Self {})
    }
}

pub async fn handle(_ingest: &Ingest, _payload: Value) -> anyhow::Result<Value> {
    anyhow::bail!("flow-log ingest is not built yet")
}
