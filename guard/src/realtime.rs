//! The real-time path: one CloudTrail security-group call, one group, one
//! record. Revoke first (by rule id, so a concurrent approved change is
//! never touched), look up the group's state and attachments after, so the
//! time to revert is not spent on enrichment.

use chrono::{DateTime, Utc};
use fanin::guard::cloudtrail::{ChangeEvent, ChangeKind, parse_change};
use fanin::guard::evaluate::{Coverage, GroupFacts, Verdict};
use fanin::guard::permission::{Direction, GroupRule, Peer, Protocol};
use fanin::guard::policy::Mode;
use fanin::guard::record::{
    self, ChangeSummary, GuardRecord, RuleAction, RuleDecision, Timing, change_outcome,
};
use serde_json::Value;

use crate::actions::revoke_by_id;
use crate::emit::{compliance_summary, emit, internet_exposed, record_about};
use crate::ports::{GroupLookup, SecurityGroups};
use crate::{Answer, AnswerKind, Guard, GuardError};

pub(crate) async fn handle(
    guard: &Guard,
    event: &Value,
    received_at: DateTime<Utc>,
) -> Result<Answer, GuardError> {
    let change = match parse_change(event) {
        Ok(change) => change,
        Err(error) => return Ok(Answer::ignored(format!("not a judged call: {error}"))),
    };
    if let Some(code) = &change.error_code {
        return Ok(Answer::ignored(format!("the call failed ({code})")));
    }
    if change.actor.is_one_of(&guard.config.own_roles) {
        return Ok(Answer::ignored("the guard's own call"));
    }
    if change.region != guard.config.region {
        return Ok(Answer::ignored(format!(
            "a call in {}, the guard runs in {}",
            change.region, guard.config.region
        )));
    }
    let lookup = match (&change.group_id, &change.group_name) {
        (Some(id), _) => GroupLookup::Id(id.clone()),
        (None, Some(name)) => GroupLookup::Name(name.clone()),
        (None, None) => return Ok(Answer::ignored("the call names no group")),
    };
    let Some(group) = guard.groups.describe_group(&lookup).await? else {
        return Ok(Answer::ignored("the group no longer exists"));
    };
    let mut facts = GroupFacts {
        account: change.account.clone(),
        region: change.region.clone(),
        group_id: group.group_id.clone(),
        group_name: group.group_name.clone(),
        vpc_id: group.vpc_id.clone(),
        tags: group.tags.clone(),
        rules: Vec::new(),
    };
    let Some(coverage) = guard.policy.covering(&facts) else {
        return Ok(Answer::ignored(format!(
            "no selector covers {}",
            facts.group_id
        )));
    };

    // Decide and revoke.
    let changed = changed_rules(guard.groups.as_ref(), &change, &facts.group_id).await?;
    let judged: Vec<(GroupRule, Verdict)> = changed
        .into_iter()
        .map(|rule| {
            let verdict = coverage.judge(&change.actor, &rule);
            (rule, verdict)
        })
        .collect();
    let enforce = coverage.mode() == Mode::Enforce;
    let to_revoke: Vec<GroupRule> = judged
        .iter()
        .filter(|(_, verdict)| enforce && !verdict.approved())
        .map(|(rule, _)| rule.clone())
        .collect();
    let (revoked, revoked_at) =
        revoke_by_id(guard.groups.as_ref(), &facts.group_id, &to_revoke).await;
    let rules = rule_decisions(judged, &to_revoke, revoked);

    // Then the state after, for the record.
    facts.rules = guard
        .groups
        .describe_rules(std::slice::from_ref(&facts.group_id))
        .await?
        .into_iter()
        .map(|described| described.rule)
        .collect();
    let attached = guard.groups.describe_interfaces(&facts.group_id).await?;
    let record = change_record(
        guard,
        &change,
        &facts,
        &coverage,
        rules,
        attached,
        Timing::new(change.event_time, received_at, revoked_at),
    );
    let failed = record
        .rules
        .iter()
        .filter(|r| r.action == RuleAction::Failed)
        .count();
    let answer = Answer {
        kind: AnswerKind::Change,
        records: emit(
            guard,
            std::slice::from_ref(&record),
            record::DECISION_DETAIL_TYPE,
        )
        .await?,
        decisions: vec![record.outcome],
        reason: None,
        time_to_revert_ms: record.timing.as_ref().and_then(|t| t.time_to_revert_ms),
        guard_ms: record.timing.as_ref().and_then(|t| t.guard_ms),
        evaluations: Vec::new(),
    };
    if failed > 0 {
        return Err(GuardError::ActionsFailed {
            group_id: facts.group_id,
            failed,
        });
    }
    Ok(answer)
}

/// The rules the call added or changed: from the event when it carries
/// their ids, else from the group's rules now.
async fn changed_rules(
    groups: &dyn SecurityGroups,
    change: &ChangeEvent,
    group_id: &str,
) -> Result<Vec<GroupRule>, GuardError> {
    let adds = matches!(
        change.kind,
        ChangeKind::AuthorizeSecurityGroupIngress | ChangeKind::AuthorizeSecurityGroupEgress
    );
    match change.kind {
        ChangeKind::RevokeSecurityGroupIngress | ChangeKind::RevokeSecurityGroupEgress => {
            return Ok(Vec::new());
        }
        _ if adds && !change.added.is_empty() => return Ok(change.added.clone()),
        _ => {}
    }
    let current: Vec<GroupRule> = groups
        .describe_rules(&[group_id.to_owned()])
        .await?
        .into_iter()
        .map(|described| described.rule)
        .collect();
    Ok(match change.kind {
        ChangeKind::ModifySecurityGroupRules => current
            .into_iter()
            .filter(|rule| change.rule_ids.contains(&rule.rule_id))
            .collect(),
        // EC2 creates a group with only its default egress rule (all
        // traffic to 0.0.0.0/0); any other rule present was added by a later
        // call whose own event judges it (judging it here too would race
        // with that event and record the rule twice).
        ChangeKind::CreateSecurityGroup => current
            .into_iter()
            .filter(|rule| {
                rule.direction == Direction::Egress
                    && rule.permission.protocol == Protocol::All
                    && rule.permission.peer == Peer::ipv4("0.0.0.0/0").expect("a CIDR")
            })
            .collect(),
        _ => current
            .into_iter()
            .filter(|rule| {
                change.requested.iter().any(|(direction, permission)| {
                    *direction == rule.direction && permission.access() == rule.permission.access()
                })
            })
            .collect(),
    })
}

fn rule_decisions(
    judged: Vec<(GroupRule, Verdict)>,
    revoked_rules: &[GroupRule],
    revoked: Vec<crate::actions::ActionResult>,
) -> Vec<RuleDecision> {
    judged
        .into_iter()
        .map(|(rule, verdict)| {
            let position = revoked_rules.iter().position(|r| r.rule_id == rule.rule_id);
            let (action, error) = match position {
                Some(i) => (revoked[i].action, revoked[i].error.clone()),
                None if verdict.approved() => (RuleAction::Kept, None),
                None => (RuleAction::WouldRevoke, None),
            };
            let after = match action {
                RuleAction::Revoked | RuleAction::AlreadyGone => None,
                _ => Some(rule.permission.clone()),
            };
            RuleDecision {
                rule_id: rule.rule_id,
                direction: rule.direction,
                before: Some(rule.permission),
                after,
                verdict,
                action,
                error,
            }
        })
        .collect()
}

fn change_record(
    guard: &Guard,
    change: &ChangeEvent,
    facts: &GroupFacts,
    coverage: &Coverage<'_>,
    rules: Vec<RuleDecision>,
    attached: Vec<fanin::guard::record::AttachedInterface>,
    timing: Timing,
) -> GuardRecord {
    let diff = coverage.desired_state(facts);
    let status = if diff.compliant() {
        "COMPLIANT"
    } else {
        "NON_COMPLIANT"
    };
    let ingress = coverage.selector.rules(Direction::Ingress);
    let outcome = change_outcome(&rules, coverage.break_glass);
    GuardRecord {
        change: Some(ChangeSummary {
            event_id: change.event_id.clone(),
            event_name: change.kind,
            event_time: change.event_time,
            actor: change.actor.clone(),
            source_ip: change.source_ip.clone(),
            user_agent: change.user_agent.clone(),
            request_id: change.request_id.clone(),
        }),
        rules,
        compliance: Some(compliance_summary(
            &diff,
            status,
            diff.annotation(),
            Vec::new(),
            None,
        )),
        internet_exposed: internet_exposed(&attached, &facts.rules, ingress),
        attached,
        timing: Some(timing),
        ..record_about(guard, facts, coverage, &change.event_id, outcome)
    }
}
