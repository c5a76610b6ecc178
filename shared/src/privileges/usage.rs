//! Usage per (principal, action): what the ingest writes for each trail
//! object ([`UsageDoc`], to the archive and the index) and what the
//! evaluation merges over a window ([`WindowUsage`]).
//!
//! OWNER: helper "trail" (the aggregator and the documents' ids); the types
//! below are the contract the report and the evaluation code against.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::principal::{Principal, PrincipalKind};

/// How a CloudTrail event name became an IAM action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mapping {
    /// `<service prefix>:<eventName>`, and the catalogue has that action.
    Derived,
    /// A known difference (`s3:ListObjects` is `s3:ListBucket`, Lambda's
    /// versioned names, ...), from the table in `super::actions`.
    Mapped,
    /// Neither: the action is `<prefix>:<eventName>` as a guess, reported as
    /// unknown and never counted as the use of a granted action.
    Unknown,
}

/// One (principal, action) of one trail object: the archive's and the
/// index's document (`<prefix>-iam-usage`, `_id` = [`UsageDoc::id`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageDoc {
    /// Hex of the first 16 bytes of SHA-256 over `object_id`, the
    /// principal's ARN and the action: the same object gives the same ids.
    pub id: String,
    /// The trail object's identity (as the flow-log ingest's).
    pub object_id: String,
    /// The principal's account.
    pub account: String,
    pub principal_arn: String,
    pub principal_kind: PrincipalKind,
    /// `service:Action` as the catalogue spells it (or the guess, when
    /// [`Mapping::Unknown`]).
    pub action: String,
    pub mapping: Mapping,
    /// The CloudTrail names the action was seen under (usually one).
    pub event_names: Vec<String>,
    /// The account and region whose trail object this is (where the calls
    /// were recorded).
    pub recipient_account: String,
    pub region: String,
    /// The object's day, `YYYY-MM-DD`.
    pub day: String,
    /// First and last `eventTime`, epoch seconds.
    pub first_seen: i64,
    pub last_seen: i64,
    /// Calls, the denied ones included.
    pub count: u64,
    /// Calls refused (`errorCode` AccessDenied, UnauthorizedOperation,
    /// Client.UnauthorizedOperation, ...AccessDeniedException).
    pub denied: u64,
}

/// One action of one principal over a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionUse {
    pub first_seen: i64,
    pub last_seen: i64,
    pub count: u64,
    pub denied: u64,
    pub mapping: Mapping,
    pub event_names: BTreeSet<String>,
}

/// One principal's actions over a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipalUsage {
    pub principal: Principal,
    /// By action (`service:Action`).
    pub actions: BTreeMap<String, ActionUse>,
}

/// Every principal's usage over a window, merged from [`UsageDoc`]s.
/// Memory is bounded by (principal, action) keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowUsage {
    /// By principal ARN.
    pub principals: BTreeMap<String, PrincipalUsage>,
    /// The accounts whose trail objects were read (recipient accounts).
    pub accounts: BTreeSet<String>,
}
