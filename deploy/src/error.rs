//! What can go wrong while deploying, and whether trying again can help.

use std::path::PathBuf;
use std::time::Duration;

use fanin::ports::CallError;

use crate::plan::StackSetName;

/// One account/region result of a StackSet operation that did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceFailure {
    pub account: String,
    pub region: String,
    pub status: String,
    pub reason: String,
}

impl std::fmt::Display for InstanceFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{} {}: {}",
            self.account, self.region, self.status, self.reason
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{}:\n  {}", path.display(), problems.join("\n  "))]
    InvalidDeployment {
        path: PathBuf,
        problems: Vec<String>,
    },
    /// The message names the variable, never the value.
    #[error("{0}")]
    ExternalId(String),
    #[error("{}: {bytes} bytes, CloudFormation takes template bodies up to {limit}", path.display())]
    TemplateTooLarge {
        path: PathBuf,
        bytes: usize,
        limit: usize,
    },
    #[error("the parameter files do not match the templates:\n  {}", problems.join("\n  "))]
    Parameters { problems: Vec<String> },
    #[error(
        "the AWS credentials act in account {actual}, but deployment.json names {expected} as AdministratorAccountId"
    )]
    WrongAccount { expected: String, actual: String },
    #[error(transparent)]
    Aws(#[from] CallError),
    #[error(
        "{stack_set}: operation {operation_id} ended {status}{}{}",
        reason_suffix(reason),
        failures_suffix(failures)
    )]
    OperationFailed {
        stack_set: StackSetName,
        operation_id: String,
        status: String,
        reason: Option<String>,
        failures: Vec<InstanceFailure>,
    },
    #[error(
        "{stack_set}: operation {operation_id} still {status} after {waited:?}; it goes on in AWS, check the console before running again"
    )]
    OperationTimedOut {
        stack_set: StackSetName,
        operation_id: String,
        status: String,
        waited: Duration,
    },
    #[error("{stack_set}: no stack found for the instance in account {account}, region {region}")]
    InstanceStackNotFound {
        stack_set: StackSetName,
        account: String,
        region: String,
    },
    #[error("{stack_set}: instances are left after deleting them, so the StackSet stays:\n  {}", instances.join("\n  "))]
    InstancesRemain {
        stack_set: StackSetName,
        instances: Vec<String>,
    },
    #[error("packaging failed: {0}")]
    Build(String),
    /// The guard's policy file is missing, unreadable or invalid; nothing
    /// was uploaded.
    #[error("guard policy {}: {problem}", path.display())]
    GuardPolicy { path: PathBuf, problem: String },
    #[error("{}: not a zip file", path.display())]
    NotAZip { path: PathBuf },
    #[error(
        "s3://{bucket}/{key}: S3 stored SHA-256 {stored}, the local zip has {expected}; nothing is deployed from it"
    )]
    ChecksumMismatch {
        bucket: String,
        key: String,
        expected: String,
        stored: String,
    },
    #[error("{operation} answered without {missing}")]
    IncompleteAnswer {
        operation: &'static str,
        missing: &'static str,
    },
}

impl Error {
    /// Whether running the same command again later can succeed without
    /// anyone changing anything.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Aws(call) => call.is_transient(),
            Self::OperationTimedOut { .. } | Self::IncompleteAnswer { .. } => true,
            _ => false,
        }
    }
}

fn reason_suffix(reason: &Option<String>) -> String {
    reason
        .as_deref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default()
}

fn failures_suffix(failures: &[InstanceFailure]) -> String {
    if failures.is_empty() {
        return String::new();
    }
    let lines: Vec<String> = failures.iter().map(|f| format!("\n  {f}")).collect();
    format!(":{}", lines.concat())
}
