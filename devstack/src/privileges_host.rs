//! The least-privilege function as it runs in AWS: the real
//! `fanin-privileges` binary under the local Lambda runtime, with the
//! environment CloudFormation gave the deployed function and the credentials
//! of its `fanin-privileges` role, fed by the event-source mapping on
//! `fanin-cloudtrail` (played by [`crate::esm`]) and invoked by the
//! schedule's constant input for the evaluation.
//!
//! The trail objects' notifications reach the queue through moto's own S3
//! notifications, which the deployment sets as the template says
//! ([`crate::deployment`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::deployment::Deployed;
use crate::esm::{EventSourceMapping, MappingStats};
use crate::exposure_host::role_credentials;
use crate::lambda_host::{LocalLambda, workspace_binary};
use crate::scenario::{LocalStack, PRIMARY_REGION};

/// The deployed function's name, its binary's, and its role's.
pub const PRIVILEGES_FUNCTION: &str = "fanin-privileges";

/// The input of the schedule rule `fanin-privileges-evaluate`.
pub fn scheduled_input() -> Value {
    serde_json::json!({"fanin": "evaluate"})
}

/// One running `fanin-privileges` and the mapping that feeds it. Stops when
/// dropped.
pub struct PrivilegesHost {
    pub function_arn: String,
    /// The environment it runs with: the deployed one plus the local
    /// endpoints and the role's credentials.
    pub environment: BTreeMap<String, String>,
    pub mapping: EventSourceMapping,
    lambda: Mutex<LocalLambda>,
}

impl PrivilegesHost {
    /// Plays the event-source mapping until `fanin-cloudtrail` is empty (or
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
    /// `accounts`) and returns the function's answer.
    pub async fn invoke_evaluation(&self, body: Value) -> anyhow::Result<Value> {
        self.lambda.lock().await.invoke(&body).await
    }

    /// The function process's exit status if it ends within `limit` (a
    /// function that fails at start, on a bad environment for instance),
    /// `None` while it keeps polling the runtime.
    pub async fn exit_within(&self, limit: Duration) -> anyhow::Result<Option<ExitStatus>> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.lambda.lock().await.exit_status()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Where the function's logs go.
    pub async fn log_path(&self) -> std::path::PathBuf {
        self.lambda.lock().await.log_path.clone()
    }
}

/// Starts the deployed `fanin-privileges`.
pub async fn start_privileges(
    stack: &LocalStack,
    deployed: &Deployed,
) -> anyhow::Result<PrivilegesHost> {
    start_privileges_binary(stack, deployed, &workspace_binary(PRIVILEGES_FUNCTION)).await
}

/// [`start_privileges`] with another binary standing in for
/// `fanin-privileges`.
pub async fn start_privileges_binary(
    stack: &LocalStack,
    deployed: &Deployed,
    binary: &Path,
) -> anyhow::Result<PrivilegesHost> {
    let credentials =
        role_credentials(stack, &deployed.privileges.role_arn, PRIVILEGES_FUNCTION).await?;
    let mut environment = deployed.privileges.environment.clone();
    environment.extend(crate::deployment::local_overrides(
        stack,
        PRIMARY_REGION,
        Some(&credentials),
    ));
    let env: Vec<(String, String)> = environment
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let lambda = LocalLambda::start(PRIVILEGES_FUNCTION, binary, &env)
        .await
        .context("starting fanin-privileges")?;
    let mapping = deployed.privileges_mapping(stack).await?;
    Ok(PrivilegesHost {
        function_arn: deployed.privileges.function_arn.clone(),
        environment,
        mapping,
        lambda: Mutex::new(lambda),
    })
}
