//! The unused-exposure function as it runs in AWS: the real `fanin-exposure`
//! binary under the local Lambda runtime, with the environment
//! CloudFormation gave the deployed function and the credentials of its
//! `fanin-exposure` role, fed by the event-source mapping on
//! `fanin-flow-logs` (played by [`crate::esm`]) and invoked by the
//! schedule's constant input for the evaluation.
//!
//! The flow-log notifications reach the queue through moto's own S3
//! notifications, which the deployment sets as the template says
//! ([`crate::deployment`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use aws_credential_types::Credentials;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::deployment::Deployed;
use crate::esm::{EventSourceMapping, MappingStats};
use crate::lambda_host::{LocalLambda, workspace_binary};
use crate::scenario::{self, LocalStack, PRIMARY_REGION};

/// The deployed function's name, its binary's, and its role's.
pub const EXPOSURE_FUNCTION: &str = "fanin-exposure";

/// The input of the schedule rule `fanin-exposure-evaluate`.
pub fn scheduled_input() -> Value {
    serde_json::json!({"fanin": "evaluate"})
}

/// One running `fanin-exposure` and the mapping that feeds it. Stops when
/// dropped.
pub struct ExposureHost {
    pub function_arn: String,
    /// The environment it runs with: the deployed one plus the local
    /// endpoints and the role's credentials.
    pub environment: BTreeMap<String, String>,
    pub mapping: EventSourceMapping,
    lambda: Mutex<LocalLambda>,
}

impl ExposureHost {
    /// Plays the event-source mapping until `fanin-flow-logs` is empty (or
    /// `limit` passes): receive, invoke, delete what succeeded, leave the
    /// `batchItemFailures` for redelivery and, after 5 receives, the
    /// dead-letter queue.
    pub async fn drain(&self, limit: Duration) -> anyhow::Result<MappingStats> {
        let mut lambda = self.lambda.lock().await;
        self.mapping.drain(&mut lambda, limit).await
    }

    /// One receive → invoke → delete round of the mapping.
    pub async fn round(&self, stats: &mut MappingStats) -> anyhow::Result<usize> {
        let mut lambda = self.lambda.lock().await;
        self.mapping.round(&mut lambda, stats).await
    }

    /// Invokes the scheduled path with `body` (what the rule sends is
    /// [`scheduled_input`]; a test may add `window_days`, `until`,
    /// `accounts`, `regions`) and returns the function's answer.
    pub async fn invoke_evaluation(&self, body: Value) -> anyhow::Result<Value> {
        self.lambda.lock().await.invoke(&body).await
    }

    /// Where the function's logs go.
    pub async fn log_path(&self) -> std::path::PathBuf {
        self.lambda.lock().await.log_path.clone()
    }
}

/// Starts the deployed `fanin-exposure`.
pub async fn start_exposure(
    stack: &LocalStack,
    deployed: &Deployed,
) -> anyhow::Result<ExposureHost> {
    start_exposure_binary(stack, deployed, &workspace_binary(EXPOSURE_FUNCTION)).await
}

/// [`start_exposure`] with another binary standing in for `fanin-exposure`.
pub async fn start_exposure_binary(
    stack: &LocalStack,
    deployed: &Deployed,
    binary: &Path,
) -> anyhow::Result<ExposureHost> {
    let credentials =
        role_credentials(stack, &deployed.exposure.role_arn, EXPOSURE_FUNCTION).await?;
    let mut environment = deployed.exposure.environment.clone();
    environment.extend(crate::deployment::local_overrides(
        stack,
        PRIMARY_REGION,
        Some(&credentials),
    ));
    let env: Vec<(String, String)> = environment
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let lambda = LocalLambda::start(EXPOSURE_FUNCTION, binary, &env)
        .await
        .context("starting fanin-exposure")?;
    let mapping = deployed.exposure_mapping(stack).await?;
    Ok(ExposureHost {
        function_arn: deployed.exposure.function_arn.clone(),
        environment,
        mapping,
        lambda: Mutex::new(lambda),
    })
}

/// A session of the function's role, as Lambda's service would assume it
/// (from moto's STS; the function's own AssumeRole of the read roles then
/// goes through the gateway, which checks their trust policies).
pub(crate) async fn role_credentials(
    stack: &LocalStack,
    role_arn: &str,
    session_name: &str,
) -> anyhow::Result<Credentials> {
    let sts = aws_sdk_sts::Client::new(&stack.moto_config(PRIMARY_REGION, None));
    scenario::assume_role(&sts, role_arn, session_name, "fanin-role-session").await
}
