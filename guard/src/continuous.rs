//! The continuous path: an AWS Config custom-rule invocation. Each security
//! group in the event (one on a change, every group of the account and
//! region on the schedule) is compared with its desired rules, reported to
//! Config, optionally remediated, and recorded.
//!
//! The invocation follows the documented Lambda event: `invokingEvent` is a
//! JSON string whose `messageType` is `ConfigurationItemChangeNotification`
//! (the item, its `configuration` the group in camelCase describe shape),
//! `OversizedConfigurationItemChangeNotification` (a summary: the guard
//! describes the group itself) or `ScheduledNotification`.

use std::collections::BTreeMap;

use aws_lambda_events::event::config::ConfigEvent;
use chrono::{DateTime, Utc};
use fanin::guard::evaluate::{Actor, GroupFacts};
use fanin::guard::permission::{Direction, GroupRule, IpPermission};
use fanin::guard::policy::Mode;
use fanin::guard::record::{self, GuardRecord, Outcome, RuleAction, RuleDecision};
use fanin::ids::{AccountId, Region};
use serde::Deserialize;
use serde_json::Value;
use tracing::warn;

use crate::actions::{authorize_exact, revoke_by_id};
use crate::emit::{compliance_summary, emit, internet_exposed, record_about};
use crate::ports::{Evaluation, GroupDescription, GroupLookup};
use crate::{Answer, AnswerKind, EvaluationSummary, Guard, GuardError};

/// The resource type the rule is scoped to.
pub const RESOURCE_TYPE: &str = "AWS::EC2::SecurityGroup";
/// Config's limit of evaluations per `PutEvaluations`.
pub const PUT_EVALUATIONS_BATCH: usize = 100;
/// Config's limit on an annotation.
const ANNOTATION_LIMIT: usize = 256;

const COMPLIANT: &str = "COMPLIANT";
const NON_COMPLIANT: &str = "NON_COMPLIANT";
const NOT_APPLICABLE: &str = "NOT_APPLICABLE";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InvokingEvent {
    message_type: String,
    #[serde(default)]
    configuration_item: Option<ConfigurationItem>,
    #[serde(default)]
    configuration_item_summary: Option<ConfigurationItem>,
    #[serde(default)]
    notification_creation_time: Option<String>,
}

/// A configuration item (or an oversized item's summary, without
/// `configuration`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigurationItem {
    #[serde(default)]
    configuration_item_capture_time: Option<String>,
    #[serde(default)]
    configuration_item_status: Option<String>,
    #[serde(default)]
    resource_type: String,
    #[serde(default)]
    resource_id: String,
    #[serde(default)]
    configuration: Option<Value>,
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
}

/// The group as Config records it (`configuration`), camelCase.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupConfiguration {
    group_id: String,
    #[serde(default)]
    group_name: String,
    #[serde(default)]
    vpc_id: Option<String>,
    #[serde(default)]
    ip_permissions: Vec<IpPermission>,
    #[serde(default)]
    ip_permissions_egress: Vec<IpPermission>,
    #[serde(default)]
    tags: Vec<ConfigTag>,
}

#[derive(Debug, Deserialize)]
struct ConfigTag {
    key: String,
    #[serde(default)]
    value: String,
}

/// One group's evaluation and, when covered, its record.
struct Evaluated {
    evaluation: Evaluation,
    record: Option<GuardRecord>,
    failed_actions: usize,
}

pub(crate) async fn handle(
    guard: &Guard,
    event: &Value,
    received_at: DateTime<Utc>,
) -> Result<Answer, GuardError> {
    let config_event: ConfigEvent = match serde_json::from_value(event.clone()) {
        Ok(parsed) => parsed,
        Err(error) => return Ok(Answer::ignored(format!("not a Config rule event: {error}"))),
    };
    let Some(token) = config_event.result_token.clone().filter(|t| !t.is_empty()) else {
        return Ok(Answer::ignored("a Config event without resultToken"));
    };
    let invoking: InvokingEvent = match config_event
        .invoking_event
        .as_deref()
        .map(serde_json::from_str)
    {
        Some(Ok(invoking)) => invoking,
        Some(Err(error)) => return Ok(Answer::ignored(format!("invalid invokingEvent: {error}"))),
        None => return Ok(Answer::ignored("a Config event without invokingEvent")),
    };
    let Ok(account) = AccountId::parse(config_event.account_id.as_deref().unwrap_or_default())
    else {
        return Ok(Answer::ignored("a Config event without a valid accountId"));
    };
    let notified_at =
        parse_time(invoking.notification_creation_time.as_deref()).unwrap_or(received_at);
    let region = guard.config.region.clone();

    let evaluated = match invoking.message_type.as_str() {
        "ScheduledNotification" => sweep(guard, &account, &region, notified_at).await?,
        "ConfigurationItemChangeNotification" | "OversizedConfigurationItemChangeNotification" => {
            let Some(item) = invoking
                .configuration_item
                .or(invoking.configuration_item_summary)
            else {
                return Ok(Answer::ignored("a change notification without its item"));
            };
            vec![
                one_item(
                    guard,
                    &account,
                    &region,
                    item,
                    config_event.event_left_scope,
                    notified_at,
                )
                .await?,
            ]
        }
        other => {
            return Ok(Answer::ignored(format!(
                "Config message type {:?} is not evaluated",
                other.chars().take(64).collect::<String>()
            )));
        }
    };

    // Report to Config, then record, then fail if an action failed.
    let evaluations: Vec<Evaluation> = evaluated.iter().map(|e| e.evaluation.clone()).collect();
    let mut refused = Vec::new();
    for batch in evaluations.chunks(PUT_EVALUATIONS_BATCH) {
        refused.extend(guard.compliance.put_evaluations(&token, batch).await?);
    }
    let records: Vec<GuardRecord> = evaluated.iter().filter_map(|e| e.record.clone()).collect();
    let sent = emit(guard, &records, record::COMPLIANCE_DETAIL_TYPE).await?;
    if !refused.is_empty() {
        return Err(GuardError::EvaluationsRefused(refused));
    }
    if let Some(failed) = evaluated.iter().find(|e| e.failed_actions > 0) {
        return Err(GuardError::ActionsFailed {
            group_id: failed.evaluation.resource_id.clone(),
            failed: failed.failed_actions,
        });
    }
    Ok(Answer {
        kind: AnswerKind::Compliance,
        records: sent,
        decisions: records.iter().map(|r| r.outcome).collect(),
        reason: None,
        time_to_revert_ms: None,
        guard_ms: None,
        evaluations: evaluations
            .iter()
            .map(|e| EvaluationSummary {
                group_id: e.resource_id.clone(),
                compliance: e.compliance.clone(),
            })
            .collect(),
    })
}

fn parse_time(raw: Option<&str>) -> Option<DateTime<Utc>> {
    raw.and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn not_applicable(resource_id: &str, at: DateTime<Utc>, why: &str) -> Evaluated {
    Evaluated {
        evaluation: Evaluation {
            resource_type: RESOURCE_TYPE.to_owned(),
            resource_id: resource_id.to_owned(),
            compliance: NOT_APPLICABLE.to_owned(),
            annotation: Some(why.to_owned()),
            ordering_timestamp: at,
        },
        record: None,
        failed_actions: 0,
    }
}

/// A change notification: the group from the item (or described, when the
/// item is oversized).
async fn one_item(
    guard: &Guard,
    account: &AccountId,
    region: &Region,
    item: ConfigurationItem,
    left_scope: bool,
    notified_at: DateTime<Utc>,
) -> Result<Evaluated, GuardError> {
    let at = parse_time(item.configuration_item_capture_time.as_deref()).unwrap_or(notified_at);
    let resource_id = item.resource_id.chars().take(256).collect::<String>();
    if item.resource_type != RESOURCE_TYPE {
        return Ok(not_applicable(&resource_id, at, "not a security group"));
    }
    let deleted = matches!(
        item.configuration_item_status.as_deref(),
        Some("ResourceDeleted" | "ResourceDeletedNotRecorded" | "ResourceNotRecorded")
    );
    if left_scope || deleted {
        return Ok(not_applicable(
            &resource_id,
            at,
            "the group is deleted or out of scope",
        ));
    }
    let from_item = item
        .configuration
        .map(serde_json::from_value::<GroupConfiguration>)
        .transpose();
    // The item as Config recorded it, when every part of it reads and it is
    // the group the notification names; otherwise the group as EC2 has it.
    let recorded = match from_item {
        Ok(Some(configuration))
            if configuration.group_id == resource_id
                && fanin::guard::permission::is_aws_id(&resource_id, "sg-") =>
        {
            let mut tags = item.tags.unwrap_or_default();
            for tag in configuration.tags {
                tags.entry(tag.key).or_insert(tag.value);
            }
            let mut rules = Vec::new();
            let mut unreadable = false;
            for (direction, entries) in [
                (Direction::Ingress, &configuration.ip_permissions),
                (Direction::Egress, &configuration.ip_permissions_egress),
            ] {
                for entry in entries {
                    match entry.flatten() {
                        // Config items carry no rule ids: looked up when needed.
                        Ok(permissions) => {
                            rules.extend(permissions.into_iter().map(|permission| GroupRule {
                                rule_id: String::new(),
                                direction,
                                permission,
                            }))
                        }
                        Err(error) => {
                            warn!(group_id = %resource_id, error = %error, "unreadable permission in the Config item: the group is described instead");
                            unreadable = true;
                        }
                    }
                }
            }
            (!unreadable).then(|| GroupFacts {
                account: account.clone(),
                region: region.clone(),
                group_id: configuration.group_id,
                group_name: configuration.group_name,
                vpc_id: configuration.vpc_id,
                tags,
                rules,
            })
        }
        _ => None,
    };
    let facts = match recorded {
        Some(facts) => Some((facts, false)),
        None => {
            // Oversized (or unreadable): the group as EC2 has it now.
            if !fanin::guard::permission::is_aws_id(&resource_id, "sg-") {
                return Ok(not_applicable(&resource_id, at, "not a security group id"));
            }
            match guard
                .groups
                .describe_group(&GroupLookup::Id(resource_id.clone()))
                .await?
            {
                None => None,
                Some(group) => Some((live_facts(guard, account, region, group).await?, true)),
            }
        }
    };
    let Some((facts, with_ids)) = facts else {
        return Ok(not_applicable(
            &resource_id,
            at,
            "the group no longer exists",
        ));
    };
    evaluate_group(guard, facts, with_ids, at, "change").await
}

async fn live_facts(
    guard: &Guard,
    account: &AccountId,
    region: &Region,
    group: GroupDescription,
) -> Result<GroupFacts, GuardError> {
    let rules = guard
        .groups
        .describe_rules(std::slice::from_ref(&group.group_id))
        .await?
        .into_iter()
        .map(|described| described.rule)
        .collect();
    Ok(GroupFacts {
        account: account.clone(),
        region: region.clone(),
        group_id: group.group_id,
        group_name: group.group_name,
        vpc_id: group.vpc_id,
        tags: group.tags,
        rules,
    })
}

/// The schedule: every group of the account and region.
async fn sweep(
    guard: &Guard,
    account: &AccountId,
    region: &Region,
    at: DateTime<Utc>,
) -> Result<Vec<Evaluated>, GuardError> {
    let groups = guard.groups.list_groups().await?;
    let mut rules: BTreeMap<String, Vec<GroupRule>> = BTreeMap::new();
    for described in guard.groups.describe_rules(&[]).await? {
        rules
            .entry(described.group_id)
            .or_default()
            .push(described.rule);
    }
    let mut evaluated = Vec::new();
    for group in groups {
        let facts = GroupFacts {
            account: account.clone(),
            region: region.clone(),
            rules: rules.remove(&group.group_id).unwrap_or_default(),
            group_id: group.group_id,
            group_name: group.group_name,
            vpc_id: group.vpc_id,
            tags: group.tags,
        };
        evaluated.push(evaluate_group(guard, facts, true, at, "scheduled").await?);
    }
    Ok(evaluated)
}

/// One group against its desired rules: the evaluation, remediation where
/// it is switched on, and the record.
async fn evaluate_group(
    guard: &Guard,
    facts: GroupFacts,
    with_ids: bool,
    at: DateTime<Utc>,
    trigger: &str,
) -> Result<Evaluated, GuardError> {
    let Some(coverage) = guard.policy.covering(&facts) else {
        return Ok(not_applicable(
            &facts.group_id,
            at,
            "no selector of the guard policy covers this group",
        ));
    };
    let mut diff = coverage.desired_state(&facts);
    if !with_ids && !diff.extra.is_empty() {
        // Config items carry no rule ids: the extra rules' ids as EC2 has them.
        let live = guard
            .groups
            .describe_rules(std::slice::from_ref(&facts.group_id))
            .await?;
        for extra in &mut diff.extra {
            if let Some(found) = live.iter().find(|d| {
                d.rule.direction == extra.direction
                    && d.rule.permission.access() == extra.permission.access()
            }) {
                extra.rule_id = found.rule.rule_id.clone();
            }
        }
    }
    let remediate = guard.config.remediation
        && coverage.selector.remediation
        && coverage.mode() == Mode::Enforce
        && !coverage.break_glass
        && !diff.compliant();

    let mut actions = Vec::new();
    let mut rules_after = facts.rules.clone();
    if remediate {
        // Extras whose id was not found are gone already.
        let (present, gone): (Vec<GroupRule>, Vec<GroupRule>) = diff
            .extra
            .iter()
            .cloned()
            .partition(|r| !r.rule_id.is_empty());
        let (revoked, _) = revoke_by_id(guard.groups.as_ref(), &facts.group_id, &present).await;
        let nobody = Actor::default();
        for (rule, result) in present.iter().zip(revoked).chain(gone.iter().map(|rule| {
            (
                rule,
                crate::actions::ActionResult {
                    action: RuleAction::AlreadyGone,
                    error: None,
                },
            )
        })) {
            if result.action != RuleAction::Failed {
                rules_after.retain(|r| {
                    !(r.direction == rule.direction
                        && r.permission.access() == rule.permission.access())
                });
            }
            actions.push(RuleDecision {
                rule_id: rule.rule_id.clone(),
                direction: rule.direction,
                before: Some(rule.permission.clone()),
                after: (result.action == RuleAction::Failed).then(|| rule.permission.clone()),
                verdict: coverage.judge(&nobody, rule),
                action: result.action,
                error: result.error,
            });
        }
        let missing: Vec<(Direction, fanin::guard::permission::Permission)> = diff
            .missing
            .iter()
            .map(|m| (m.direction, m.permission.clone()))
            .collect();
        let authorized = authorize_exact(guard.groups.as_ref(), &facts.group_id, &missing).await;
        for ((direction, permission), result) in missing.into_iter().zip(authorized) {
            if result.action != RuleAction::Failed {
                rules_after.push(GroupRule {
                    rule_id: String::new(),
                    direction,
                    permission: permission.clone(),
                });
            }
            actions.push(RuleDecision {
                rule_id: String::new(),
                direction,
                before: None,
                after: (result.action != RuleAction::Failed).then(|| permission.clone()),
                verdict: fanin::guard::evaluate::Verdict::InDesiredSet,
                action: result.action,
                error: result.error,
            });
        }
    }
    let failed_actions = actions
        .iter()
        .filter(|a| a.action == RuleAction::Failed)
        .count();
    let (outcome, status) = if diff.compliant() {
        (Outcome::Compliant, COMPLIANT)
    } else if remediate && failed_actions == 0 {
        // Config keeps what the evaluation found: the group was not
        // compliant. Remediation's own change brings the next evaluation,
        // which finds it compliant.
        (Outcome::Remediated, NON_COMPLIANT)
    } else if failed_actions > 0 {
        (Outcome::Failed, NON_COMPLIANT)
    } else {
        (Outcome::NonCompliant, NON_COMPLIANT)
    };
    let annotation = if outcome == Outcome::Remediated {
        cut(format!("remediated: {}", diff.annotation()))
    } else {
        diff.annotation()
    };
    let attached = guard.groups.describe_interfaces(&facts.group_id).await?;
    let record = GuardRecord {
        compliance: Some(compliance_summary(
            &diff,
            status,
            annotation.clone(),
            actions,
            Some(trigger),
        )),
        internet_exposed: internet_exposed(
            &attached,
            &rules_after,
            coverage.selector.rules(Direction::Ingress),
        ),
        attached,
        ..record_about(guard, &facts, &coverage, "compliance", outcome)
    };
    Ok(Evaluated {
        evaluation: Evaluation {
            resource_type: RESOURCE_TYPE.to_owned(),
            resource_id: facts.group_id,
            compliance: status.to_owned(),
            annotation: Some(annotation),
            ordering_timestamp: at,
        },
        record: Some(record),
        failed_actions,
    })
}

/// Cut to Config's annotation limit on a character boundary.
fn cut(mut text: String) -> String {
    if text.len() > ANNOTATION_LIMIT {
        let mut end = ANNOTATION_LIMIT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}
