//! The scheduled evaluation: inventory + the window's aggregates → one
//! record per internet-open rule on the central bus.
use serde_json::Value;

use crate::config::ExposureConfig;

pub struct Evaluate {}

impl Evaluate {
    pub async fn build(_config: &ExposureConfig) -> anyhow::Result<Self> {
        Ok(Self {})
    }
}

pub async fn handle(_evaluate: &Evaluate, _payload: Value) -> anyhow::Result<Value> {
    anyhow::bail!("the exposure evaluation is not built yet")
}
