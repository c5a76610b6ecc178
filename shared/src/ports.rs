//! The outside systems fanin talks to, as small traits the core owns.
//!
//! Each returns fanin's own types. The failure contract is the same for all:
//! a [`CallError`] says whether retrying can help ([`CallError::is_transient`]).
//! Implementations do not retry on top of the SDK's standard retry policy;
//! the pipeline decides what a failure means for each message.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_credential_types::Credentials;

use crate::ids::{AccountId, Region};
use crate::model::{ClassicFinding, InstanceRecord, KeyValue, SecurityGroupRecord};

/// A failed call to an outside system, with the service's error code kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The caller is not allowed (missing role, ExternalId mismatch, missing
    /// permission). Permanent until someone changes IAM.
    #[error("{operation}: access denied ({code}): {message}")]
    Denied {
        operation: &'static str,
        code: String,
        message: String,
    },
    /// Throttling, 5xx, timeouts, connection failures: retrying can help.
    #[error("{operation}: transient failure ({code}): {message}")]
    Transient {
        operation: &'static str,
        code: String,
        message: String,
    },
    /// The request itself is wrong (validation, unknown resource): permanent.
    #[error("{operation}: rejected ({code}): {message}")]
    Rejected {
        operation: &'static str,
        code: String,
        message: String,
    },
}

impl CallError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient { .. })
    }
    pub fn transient(
        operation: &'static str,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::Transient {
            operation,
            code: code.into(),
            message: message.into(),
        }
    }
}

/// Credentials that act in one source account.
#[derive(Debug, Clone)]
pub struct AccountSession {
    pub account: AccountId,
    pub credentials: Credentials,
}

/// Gives a session in a source account (STS AssumeRole with ExternalId).
///
/// Failure contract: `Denied` when the role is missing or does not trust the
/// collector (the findings of that account are stored with
/// `role_unavailable`, or set aside when nothing can be fetched without the
/// role); `Transient` otherwise.
#[async_trait]
pub trait SessionProvider: Send + Sync {
    async fn session(&self, account: &AccountId) -> Result<AccountSession, CallError>;
}

/// One DescribeFindings answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DescribedFindings {
    pub findings: Vec<ClassicFinding>,
    pub failed: Vec<FailedItem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedItem {
    pub arn: String,
    pub failure_code: String,
    pub retryable: bool,
}

/// Inspector Classic findings of one account and region.
///
/// Contract: `arns` holds 1 to [`CLASSIC_DESCRIBE_LIMIT`] ARNs; every ARN is
/// answered either in `findings` or in `failed`.
#[async_trait]
pub trait ClassicFindingsSource: Send + Sync {
    async fn describe_findings(
        &self,
        session: &AccountSession,
        region: &Region,
        arns: &[String],
    ) -> Result<DescribedFindings, CallError>;
}

/// DescribeFindings takes at most 10 ARNs a call.
pub const CLASSIC_DESCRIBE_LIMIT: usize = 10;

/// EC2 as a network inventory of one account and region.
///
/// Contract: unknown ids are left out of the answer (not an error); every
/// page is read, so one call here is one SDK paginator.
#[async_trait]
pub trait NetworkInventory: Send + Sync {
    async fn describe_instances(
        &self,
        session: &AccountSession,
        region: &Region,
        instance_ids: &[String],
    ) -> Result<Vec<InstanceRecord>, CallError>;

    async fn describe_security_groups(
        &self,
        session: &AccountSession,
        region: &Region,
        group_ids: &[String],
    ) -> Result<Vec<SecurityGroupRecord>, CallError>;
}

/// What an object holds, for its content headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// gzip-compressed NDJSON.
    GzipNdjson,
    /// A plain JSON document.
    Json,
}

/// The findings bucket: whole objects written (server-side encryption is
/// always requested) and read back.
///
/// Contract: a write of the same key and body is idempotent. A missing key is
/// an answer (`false`, `None`), not an error.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    async fn put_object(&self, key: &str, body: Vec<u8>, kind: ObjectKind)
    -> Result<(), CallError>;
    /// Whether the object exists (HeadObject).
    async fn object_exists(&self, key: &str) -> Result<bool, CallError>;
    /// The object's bytes (GetObject), `None` when it does not exist.
    async fn get_object(&self, key: &str) -> Result<Option<Vec<u8>>, CallError>;
}

/// The action a bulk item asked for, as the answer names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BulkAction {
    Index,
    Create,
    Update,
    Delete,
}

/// The result of one bulk item, in request order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkItemStatus {
    pub action: BulkAction,
    /// The `_id` the cluster says it acted on.
    pub id: String,
    pub status: u16,
    pub error_type: Option<String>,
    pub reason: Option<String>,
}

/// A stored document with what an optimistic write needs to replace it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDocument {
    pub source: serde_json::Value,
    /// `_seq_no` and `_primary_term`, for `if_seq_no`/`if_primary_term`.
    pub seq_no: i64,
    pub primary_term: i64,
}

/// The search cluster.
///
/// Contract: `bulk` answers one status per item, in order, or fails as a
/// whole (`Transient` for 429/5xx/connection errors).
#[async_trait]
pub trait SearchIndexer: Send + Sync {
    /// Installs the index template (idempotent).
    async fn install_template(
        &self,
        name: &str,
        template: &serde_json::Value,
    ) -> Result<(), CallError>;
    /// The documents of `ids` that exist in `index` (one `_mget`), by id. A
    /// missing index answers an empty map.
    async fn get_documents(
        &self,
        index: &str,
        ids: &[String],
    ) -> Result<HashMap<String, StoredDocument>, CallError>;
    /// Sends one NDJSON bulk body.
    async fn bulk(&self, ndjson: Vec<u8>) -> Result<Vec<BulkItemStatus>, CallError>;
    /// Whether an index or an alias of this name exists (`HEAD /<name>`).
    async fn index_exists(&self, name: &str) -> Result<bool, CallError>;
    /// Creates an index with its settings, mappings and aliases
    /// (`PUT /<name>`). An index of that name already there (a concurrent
    /// cold start) is an answer, [`IndexCreation::AlreadyExists`], not an
    /// error; a name taken by an alias is `Rejected`.
    async fn create_index(
        &self,
        name: &str,
        body: &serde_json::Value,
    ) -> Result<IndexCreation, CallError>;
}

/// What `create_index` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexCreation {
    Created,
    /// `resource_already_exists_exception`: nothing was changed.
    AlreadyExists,
}

/// An ISM policy as the cluster stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPolicy {
    /// The `policy` object the cluster answered (with its own additions:
    /// `policy_id`, `last_updated_time`, default retries...).
    pub policy: serde_json::Value,
    pub seq_no: i64,
    pub primary_term: i64,
}

/// What the cluster answered for an ISM policy.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicyLookup {
    Found(StoredPolicy),
    /// ISM answered that no policy has this id.
    Missing,
    /// The cluster has no ISM plugin (it answered 400 or 404 for the ISM
    /// path itself), with what it said.
    Unavailable(String),
}

/// Administering the search cluster: reading back what fanin installs, and
/// the Index State Management plugin. Used by the installer, never by the
/// collector.
///
/// Contract: a missing template is `None`, a missing policy
/// [`PolicyLookup::Missing`], a cluster without ISM
/// [`PolicyLookup::Unavailable`]; `put_ism_policy` with `if_seq_no` answers
/// `Rejected` (code `version_conflict_engine_exception`) when the policy
/// changed since it was read.
#[async_trait]
pub trait SearchAdmin: SearchIndexer {
    /// The endpoint, for the installer's report (no credentials in it).
    fn endpoint(&self) -> String;
    /// The stored index template (`GET /_index_template/<name>`): its
    /// `index_template` object.
    async fn get_template(&self, name: &str) -> Result<Option<serde_json::Value>, CallError>;
    async fn get_ism_policy(&self, id: &str) -> Result<PolicyLookup, CallError>;
    /// Creates the policy (`if_unchanged: None`) or replaces the one read
    /// with `(seq_no, primary_term)`. `body` is `{"policy": {...}}`.
    async fn put_ism_policy(
        &self,
        id: &str,
        body: &serde_json::Value,
        if_unchanged: Option<(i64, i64)>,
    ) -> Result<(), CallError>;
}

/// Which accounts belong to the organization.
///
/// Contract: `None` when the directory is not known (no account list yet, or
/// it cannot be read for a permanent reason): the caller must then treat the
/// account as its own. `Transient` only when retrying can help.
#[async_trait]
pub trait AccountDirectory: Send + Sync {
    async fn is_member(&self, account: &AccountId) -> Result<Option<bool>, CallError>;
}

/// An Inspector Classic assessment template as the forwarder sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct AssessmentTemplate {
    pub arn: String,
    pub name: String,
    pub user_attributes: Vec<KeyValue>,
}

/// One event subscription of a template: (event, topic ARN).
pub type EventSubscription = (String, String);

/// Inspector Classic templates of the forwarder's own account and region.
///
/// Contract: list calls read every page; `describe_templates` takes up to 10
/// ARNs and leaves unknown ones out.
#[async_trait]
pub trait TemplateSubscriber: Send + Sync {
    async fn list_templates(&self) -> Result<Vec<String>, CallError>;
    async fn describe_templates(
        &self,
        arns: &[String],
    ) -> Result<Vec<AssessmentTemplate>, CallError>;
    async fn template_tags(&self, arn: &str) -> Result<Vec<KeyValue>, CallError>;
    async fn subscriptions(&self, arn: &str) -> Result<Vec<EventSubscription>, CallError>;
    async fn subscribe(&self, arn: &str, event: &str, topic_arn: &str) -> Result<(), CallError>;
}
