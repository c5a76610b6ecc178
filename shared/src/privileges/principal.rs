//! Who made a call, named as IAM names it, so that usage read from
//! CloudTrail joins the principals read from the account's authorization
//! details.

use serde::{Deserialize, Serialize};

/// The kinds of principal told apart. Assumed-role sessions are not a kind:
/// they fold into their [`PrincipalKind::Role`] (or service-linked role).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    /// An IAM user (`arn:<p>:iam::<acct>:user/<path><name>`).
    User,
    /// An IAM role, its sessions included (`arn:<p>:iam::<acct>:role/<path><name>`).
    Role,
    /// A role whose path is `/aws-service-role/`: its permissions are AWS's,
    /// reported but never judged.
    ServiceLinkedRole,
    /// A federated user of `GetFederationToken`
    /// (`arn:<p>:sts::<acct>:federated-user/<name>`): no IAM entity of its own.
    FederatedUser,
    /// The account's root user (`arn:<p>:iam::<acct>:root`).
    Root,
}

/// A principal: its IAM ARN (the role's, never the session's), its account
/// and its kind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Principal {
    pub arn: String,
    pub account: String,
    pub kind: PrincipalKind,
}
