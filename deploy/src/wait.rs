//! Waiting for a StackSet operation: poll until it ends, fail with the
//! operation's reason and every account/region that did not succeed.

use std::time::Duration;

use crate::error::{Error, InstanceFailure};
use crate::plan::StackSetName;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperationStatus {
    Queued,
    Running,
    Stopping,
    Succeeded,
    Failed,
    Stopped,
    /// A status this version does not know; treated as still running.
    Other(String),
}

impl OperationStatus {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Queued => "QUEUED",
            Self::Running => "RUNNING",
            Self::Stopping => "STOPPING",
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::Stopped => "STOPPED",
            Self::Other(status) => status,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationState {
    pub status: OperationStatus,
    pub reason: Option<String>,
}

/// Where the wait loop reads an operation from.
pub(crate) trait OperationWatch {
    fn stack_set(&self) -> StackSetName;
    /// `DescribeStackSetOperation`.
    async fn operation(&self, operation_id: &str) -> Result<OperationState, Error>;
    /// The results of `ListStackSetOperationResults` that did not succeed.
    async fn failures(&self, operation_id: &str) -> Result<Vec<InstanceFailure>, Error>;
}

/// How often to ask and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitPolicy {
    /// The first check is immediate; then this, doubling up to `max_delay`.
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// Give up (the operation itself goes on in AWS) after this long.
    pub timeout: Duration,
}

impl Default for WaitPolicy {
    fn default() -> Self {
        Self {
            first_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(30),
            // Large organizations roll out for a long time.
            timeout: Duration::from_secs(3 * 60 * 60),
        }
    }
}

/// What to do after one look at the operation.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Next {
    Done,
    Fail,
    Poll,
}

fn next_step(status: &OperationStatus) -> Next {
    match status {
        OperationStatus::Succeeded => Next::Done,
        OperationStatus::Failed | OperationStatus::Stopped => Next::Fail,
        OperationStatus::Queued
        | OperationStatus::Running
        | OperationStatus::Stopping
        | OperationStatus::Other(_) => Next::Poll,
    }
}

/// Returns once the operation SUCCEEDED; FAILED or STOPPED become
/// [`Error::OperationFailed`] with the per-instance failures, and an
/// operation still going after `policy.timeout` becomes
/// [`Error::OperationTimedOut`].
pub(crate) async fn wait_for_operation(
    watch: &impl OperationWatch,
    operation_id: &str,
    policy: &WaitPolicy,
) -> Result<(), Error> {
    let started = tokio::time::Instant::now();
    let mut delay = policy.first_delay;
    loop {
        let state = watch.operation(operation_id).await?;
        match next_step(&state.status) {
            Next::Done => {
                tracing::info!(
                    stack_set = %watch.stack_set(),
                    operation_id,
                    "operation succeeded"
                );
                return Ok(());
            }
            Next::Fail => {
                let failures = watch.failures(operation_id).await?;
                return Err(Error::OperationFailed {
                    stack_set: watch.stack_set(),
                    operation_id: operation_id.to_owned(),
                    status: state.status.as_str().to_owned(),
                    reason: state.reason,
                    failures,
                });
            }
            Next::Poll => {
                let waited = started.elapsed();
                if waited >= policy.timeout {
                    return Err(Error::OperationTimedOut {
                        stack_set: watch.stack_set(),
                        operation_id: operation_id.to_owned(),
                        status: state.status.as_str().to_owned(),
                        waited,
                    });
                }
                tracing::debug!(
                    stack_set = %watch.stack_set(),
                    operation_id,
                    status = state.status.as_str(),
                    "operation in progress"
                );
                tokio::time::sleep(delay.min(policy.timeout - waited)).await;
                delay = (delay * 2).min(policy.max_delay);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use super::*;

    /// Answers the given states in order, then keeps answering the last one.
    struct Scripted {
        states: Mutex<VecDeque<OperationStatus>>,
        polls: Mutex<usize>,
        failures: Vec<InstanceFailure>,
    }

    impl Scripted {
        fn new(states: &[OperationStatus]) -> Self {
            Self {
                states: Mutex::new(states.iter().cloned().collect()),
                polls: Mutex::new(0),
                failures: vec![InstanceFailure {
                    account: "333333333333".into(),
                    region: "eu-west-1".into(),
                    status: "FAILED".into(),
                    reason: "ResourceLogicalId:Queue, ResourceStatusReason:denied".into(),
                }],
            }
        }
        fn polls(&self) -> usize {
            *self.polls.lock().unwrap()
        }
    }

    impl OperationWatch for Scripted {
        fn stack_set(&self) -> StackSetName {
            StackSetName::ApplicationRegional
        }
        async fn operation(&self, _: &str) -> Result<OperationState, Error> {
            *self.polls.lock().unwrap() += 1;
            let mut states = self.states.lock().unwrap();
            let status = if states.len() > 1 {
                states.pop_front().unwrap()
            } else {
                states.front().cloned().unwrap()
            };
            Ok(OperationState {
                reason: (status == OperationStatus::Failed)
                    .then(|| "The Operation failed to satisfy the failure tolerance".into()),
                status,
            })
        }
        async fn failures(&self, _: &str) -> Result<Vec<InstanceFailure>, Error> {
            Ok(self.failures.clone())
        }
    }

    fn quick() -> WaitPolicy {
        WaitPolicy {
            first_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
            timeout: Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn waits_through_queued_and_running() {
        use OperationStatus::*;
        let watch = Scripted::new(&[Queued, Running, Other("NEW".into()), Succeeded]);
        wait_for_operation(&watch, "op-1", &quick()).await.unwrap();
        assert_eq!(watch.polls(), 4);
    }

    #[tokio::test]
    async fn a_failed_operation_names_its_reason_and_instances() {
        use OperationStatus::*;
        let watch = Scripted::new(&[Running, Failed]);
        let error = wait_for_operation(&watch, "op-2", &quick())
            .await
            .unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("fanin-application-regional: operation op-2 ended FAILED"),
            "{text}"
        );
        assert!(text.contains("failure tolerance"), "{text}");
        assert!(
            text.contains("333333333333/eu-west-1 FAILED: ResourceLogicalId:Queue"),
            "{text}"
        );
        assert!(!error.is_transient());
    }

    #[tokio::test]
    async fn a_stopped_operation_fails() {
        let watch = Scripted::new(&[OperationStatus::Stopped]);
        let error = wait_for_operation(&watch, "op-3", &quick())
            .await
            .unwrap_err();
        assert!(matches!(error, Error::OperationFailed { ref status, .. } if status == "STOPPED"));
    }

    #[tokio::test]
    async fn gives_up_after_the_timeout() {
        let watch = Scripted::new(&[OperationStatus::Running]);
        let policy = WaitPolicy {
            timeout: Duration::from_millis(20),
            ..quick()
        };
        let error = wait_for_operation(&watch, "op-4", &policy)
            .await
            .unwrap_err();
        assert!(matches!(error, Error::OperationTimedOut { .. }), "{error}");
        assert!(error.is_transient());
        assert!(watch.polls() >= 2);
    }
}
