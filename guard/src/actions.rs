//! The two changes the guard makes to a group, with their idempotence:
//! revoking rules by id (a rule already gone is success) and authorizing
//! exact permissions (one already there is success).
//!
//! One call per direction; when EC2 refuses the whole call because one rule
//! is gone (or one permission already exists), each is retried alone so the
//! others are still done and each gets its own result.

use chrono::{DateTime, Utc};
use fanin::guard::permission::{Direction, GroupRule, Permission};
use fanin::guard::record::RuleAction;
use fanin::ports::CallError;

use crate::ports::SecurityGroups;

/// EC2's answers to revoking a rule that is no longer there.
const GONE_CODES: &[&str] = &[
    "InvalidSecurityGroupRuleId.NotFound",
    "InvalidPermission.NotFound",
];
/// EC2's answer to authorizing a permission the group already has.
const DUPLICATE_CODE: &str = "InvalidPermission.Duplicate";

/// The AWS error code of a failed call.
pub fn error_code(error: &CallError) -> &str {
    match error {
        CallError::Denied { code, .. }
        | CallError::Transient { code, .. }
        | CallError::Rejected { code, .. } => code,
    }
}

/// Whether EC2 answered that the rule to revoke is not there.
pub fn is_gone(error: &CallError) -> bool {
    GONE_CODES.contains(&error_code(error))
}

/// Whether EC2 answered that the permission to authorize is there already.
pub fn is_duplicate(error: &CallError) -> bool {
    error_code(error) == DUPLICATE_CODE
}

/// What happened to one rule or permission.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionResult {
    pub action: RuleAction,
    /// The error code when `action` is `Failed`.
    pub error: Option<String>,
}

impl ActionResult {
    fn done(action: RuleAction) -> Self {
        Self {
            action,
            error: None,
        }
    }

    fn failed(error: &CallError) -> Self {
        Self {
            action: RuleAction::Failed,
            error: Some(error_code(error).to_owned()),
        }
    }
}

/// Revokes `rules` by id, one call per direction. Answers each rule's
/// result (in the order given) and when the last revoke answered.
pub async fn revoke_by_id(
    groups: &dyn SecurityGroups,
    group_id: &str,
    rules: &[GroupRule],
) -> (Vec<ActionResult>, Option<DateTime<Utc>>) {
    let mut results: Vec<Option<ActionResult>> = vec![None; rules.len()];
    let mut answered_at = None;
    for direction in [Direction::Ingress, Direction::Egress] {
        let indexes: Vec<usize> = (0..rules.len())
            .filter(|&i| rules[i].direction == direction)
            .collect();
        if indexes.is_empty() {
            continue;
        }
        let ids: Vec<String> = indexes.iter().map(|&i| rules[i].rule_id.clone()).collect();
        let answer = groups.revoke_rules(group_id, direction, &ids).await;
        answered_at = Some(Utc::now());
        match answer {
            Ok(()) => {
                for &i in &indexes {
                    results[i] = Some(ActionResult::done(RuleAction::Revoked));
                }
            }
            Err(error) if GONE_CODES.contains(&error_code(&error)) && ids.len() > 1 => {
                for &i in &indexes {
                    let one = std::slice::from_ref(&rules[i].rule_id);
                    let answer = groups.revoke_rules(group_id, direction, one).await;
                    answered_at = Some(Utc::now());
                    results[i] = Some(revoke_result(answer));
                }
            }
            Err(error) => {
                for &i in &indexes {
                    results[i] = Some(revoke_result(Err(error.clone())));
                }
            }
        }
    }
    let results = results
        .into_iter()
        .map(|r| r.expect("every rule has a direction"))
        .collect();
    (results, answered_at)
}

fn revoke_result(answer: Result<(), CallError>) -> ActionResult {
    match answer {
        Ok(()) => ActionResult::done(RuleAction::Revoked),
        Err(error) if GONE_CODES.contains(&error_code(&error)) => {
            ActionResult::done(RuleAction::AlreadyGone)
        }
        Err(error) => ActionResult::failed(&error),
    }
}

/// Authorizes exactly `permissions` (each with its direction), one call per
/// direction. A permission already there counts as authorized.
pub async fn authorize_exact(
    groups: &dyn SecurityGroups,
    group_id: &str,
    permissions: &[(Direction, Permission)],
) -> Vec<ActionResult> {
    let mut results: Vec<Option<ActionResult>> = vec![None; permissions.len()];
    for direction in [Direction::Ingress, Direction::Egress] {
        let indexes: Vec<usize> = (0..permissions.len())
            .filter(|&i| permissions[i].0 == direction)
            .collect();
        if indexes.is_empty() {
            continue;
        }
        let batch: Vec<Permission> = indexes.iter().map(|&i| permissions[i].1.clone()).collect();
        match groups.authorize(group_id, direction, &batch).await {
            Ok(()) => {
                for &i in &indexes {
                    results[i] = Some(ActionResult::done(RuleAction::Authorized));
                }
            }
            Err(error) if error_code(&error) == DUPLICATE_CODE && batch.len() > 1 => {
                for &i in &indexes {
                    let one = std::slice::from_ref(&permissions[i].1);
                    let answer = groups.authorize(group_id, direction, one).await;
                    results[i] = Some(authorize_result(answer));
                }
            }
            Err(error) => {
                for &i in &indexes {
                    results[i] = Some(authorize_result(Err(error.clone())));
                }
            }
        }
    }
    results
        .into_iter()
        .map(|r| r.expect("every permission has a direction"))
        .collect()
}

fn authorize_result(answer: Result<(), CallError>) -> ActionResult {
    match answer {
        Ok(()) => ActionResult::done(RuleAction::Authorized),
        Err(error) if error_code(&error) == DUPLICATE_CODE => {
            ActionResult::done(RuleAction::Authorized)
        }
        Err(error) => ActionResult::failed(&error),
    }
}
