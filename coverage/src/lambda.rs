//! The scheduled Lambda's handler (an EventBridge schedule invokes it; the
//! event itself carries nothing the check needs).

use chrono::Utc;
use lambda_runtime::LambdaEvent;
use serde_json::Value;

use crate::checker::{Checker, ScheduledSummary};

pub async fn handle_scheduled(
    checker: &Checker,
    _event: LambdaEvent<Value>,
) -> Result<ScheduledSummary, lambda_runtime::Error> {
    Ok(checker.scheduled(Utc::now()).await?)
}
