//! The security-group guard function: one Lambda per application account
//! and region, two kinds of event, one policy.
//!
//! - A CloudTrail security-group call delivered by EventBridge
//!   ([`realtime`]): the guard judges every rule the call added or changed
//!   against the covering selector (`fanin::guard::evaluate`) and, in
//!   `enforce` mode, revokes the unapproved ones by rule id, first, before
//!   anything else is looked up.
//! - An AWS Config custom-rule invocation ([`continuous`]): the guard
//!   compares each group with its desired rules, reports COMPLIANT /
//!   NON_COMPLIANT to Config, and, only where remediation is switched on
//!   three times (the stack, the selector, enforce mode), makes the group
//!   equal to the desired set.
//!
//! Both end in [`fanin::guard::record::GuardRecord`]s put on the account's
//! event bus ([`emit`]), which the StackSet forwards to the central bus and
//! the collector stores as OCSF findings. Outside systems sit behind the
//! traits of [`ports`]; [`aws`] holds their AWS adapters and [`fakes`] the
//! in-memory ones the handler tests use. `main.rs` builds a [`Guard`] once
//! per cold start ([`aws::build_guard`]) and hands [`handle_event`] to the
//! runtime.

pub mod actions;
pub mod aws;
pub mod config;
pub mod continuous;
pub mod emit;
pub mod fakes;
pub mod ports;
pub mod realtime;

use std::sync::Arc;

use chrono::Utc;
use fanin::guard::policy::Policy;
use fanin::guard::record::Outcome;
use fanin::ports::CallError;
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;
use tracing::info;

use config::GuardConfig;
use ports::{ComplianceReporter, Notifier, RecordSink, SecurityGroups};

/// Everything an invocation needs, built once per cold start.
pub struct Guard {
    pub config: GuardConfig,
    pub policy: Policy,
    pub groups: Arc<dyn SecurityGroups>,
    pub compliance: Arc<dyn ComplianceReporter>,
    pub records: Arc<dyn RecordSink>,
    /// `None` when `FANIN_GUARD_TOPIC_ARN` is empty.
    pub notifier: Option<Arc<dyn Notifier>>,
}

/// What an invocation did, as the handler answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AnswerKind {
    Change,
    Compliance,
    Ignored,
}

/// One group's Config evaluation, in the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvaluationSummary {
    pub group_id: String,
    pub compliance: String,
}

/// The handler's answer (tests and operators read it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Answer {
    pub kind: AnswerKind,
    /// Records put on the bus.
    pub records: usize,
    /// The outcome of each record.
    pub decisions: Vec<Outcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A change: from CloudTrail's event time to the last revoke's answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_to_revert_ms: Option<i64>,
    /// A change: from receiving the event to the last revoke's answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guard_ms: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evaluations: Vec<EvaluationSummary>,
}

impl Answer {
    /// An event the guard does not act on, and why (logged, no record).
    pub fn ignored(reason: impl Into<String>) -> Self {
        let reason = reason.into();
        info!(reason = %reason, "event ignored");
        Self {
            kind: AnswerKind::Ignored,
            records: 0,
            decisions: Vec::new(),
            reason: Some(reason),
            time_to_revert_ms: None,
            guard_ms: None,
            evaluations: Vec::new(),
        }
    }
}

/// Why an invocation fails (and is delivered again by EventBridge or
/// Config). Every variant is reported after the records were emitted,
/// except a failed call before any decision.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error(transparent)]
    Call(#[from] CallError),
    /// A revoke or a remediation failed: recorded, then the invocation
    /// fails so that a retry revokes it (or finds it gone).
    #[error("{failed} rule action(s) failed on {group_id}; recorded, retrying")]
    ActionsFailed { group_id: String, failed: usize },
    #[error("EventBridge refused {0} guard record(s)")]
    RecordsRefused(usize),
    #[error("AWS Config refused the evaluations of {0:?}")]
    EvaluationsRefused(Vec<String>),
    #[error("a guard record could not be encoded: {0}")]
    Encode(#[from] serde_json::Error),
}

impl GuardError {
    /// Whether a retry can help (everything but an encoding bug).
    pub fn is_transient(&self) -> bool {
        !matches!(self, Self::Encode(_))
    }
}

impl Guard {
    /// Handles one event: a Config rule invocation (it has `invokingEvent`)
    /// or a CloudTrail call.
    pub async fn handle(&self, event: &Value) -> Result<Answer, GuardError> {
        let received_at = Utc::now();
        if event.get("invokingEvent").is_some() {
            continuous::handle(self, event, received_at).await
        } else {
            realtime::handle(self, event, received_at).await
        }
    }
}

/// The Lambda handler: the guard's answer, or an error that makes the
/// runtime report a failed invocation (and the caller retry).
pub async fn handle_event(
    guard: &Guard,
    event: LambdaEvent<Value>,
) -> Result<Answer, lambda_runtime::Error> {
    match guard.handle(&event.payload).await {
        Ok(answer) => {
            info!(
                kind = ?answer.kind,
                records = answer.records,
                decisions = ?answer.decisions,
                time_to_revert_ms = answer.time_to_revert_ms,
                guard_ms = answer.guard_ms,
                "guard done"
            );
            Ok(answer)
        }
        Err(error) => {
            tracing::error!(error = %error, transient = error.is_transient(), "guard failed");
            Err(error.into())
        }
    }
}
