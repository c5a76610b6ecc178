//! An account's authorization details (the shape of IAM's
//! `GetAccountAuthorizationDetails`) and what each principal is granted.
//!
//! OWNER: helper "grants". The types below are the contract the report and
//! the evaluation code against.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::principal::Principal;

/// How an action is granted to a principal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// The policies that allow it (managed policy ARNs, `inline:<name>`,
    /// `group:<name>/inline:<name>`).
    pub via: BTreeSet<String>,
    /// Every allowing statement has a `Condition` (not evaluated: the
    /// action counts as granted, and the report says so).
    pub conditional: bool,
    /// Every allowing statement names resources other than `*`.
    pub resource_scoped: bool,
}

/// A part of a policy that was not evaluated, and why: never silently
/// ignored.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NotEvaluated {
    /// The policy (as in [`Grant::via`]).
    pub policy: String,
    /// The statement's `Sid`, or its index.
    pub statement: String,
    /// Why, in a sentence an operator reads.
    pub reason: String,
}

/// What one principal is granted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantSet {
    /// Allowed actions (after unconditional `Deny`s and the permissions
    /// boundary), by `service:Action`.
    pub actions: BTreeMap<String, Grant>,
    /// Actions removed by an unconditional `Deny` on every resource.
    pub denied: BTreeSet<String>,
    /// Action patterns that match no action of the catalogue.
    pub unknown_patterns: BTreeSet<String>,
    pub not_evaluated: Vec<NotEvaluated>,
}

/// One user or role of an account, with what it is granted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipalEntry {
    pub principal: Principal,
    pub name: String,
    /// `CreateDate`, RFC 3339: a principal created inside the window is
    /// judged from its creation.
    pub created: Option<chrono::DateTime<chrono::Utc>>,
    /// For roles: the principals outside the organization that the trust
    /// policy admits (account ids, ARNs, `*`, federated providers), empty
    /// when none.
    pub external_trust: Vec<String>,
    pub grants: GrantSet,
}
