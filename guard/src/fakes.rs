//! In-memory fakes of [`crate::ports`] for the handler tests, answering as
//! the AWS services do (checked by the contract test against moto in
//! `guard/tests/suite/contract.rs`): revoking a rule id that does not exist fails
//! the whole call with `InvalidSecurityGroupRuleId.NotFound`, authorizing a
//! permission the group has fails with `InvalidPermission.Duplicate`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use fanin::guard::permission::{Direction, GroupRule, Permission};
use fanin::guard::record::AttachedInterface;
use fanin::ports::CallError;

use crate::ports::{
    ComplianceReporter, DescribedRule, Evaluation, GroupDescription, GroupLookup, Notifier,
    RecordEntry, RecordSink, SecurityGroups,
};

#[derive(Debug, Default)]
struct Ec2State {
    groups: BTreeMap<String, (GroupDescription, Vec<GroupRule>)>,
    interfaces: BTreeMap<String, Vec<AttachedInterface>>,
    next_rule: u32,
    revoke_failure: Option<String>,
    calls: Vec<String>,
}

/// EC2 security groups in memory.
#[derive(Debug, Default)]
pub struct FakeEc2 {
    state: Mutex<Ec2State>,
}

fn rejected(operation: &'static str, code: &str) -> CallError {
    CallError::Rejected {
        operation,
        code: code.to_owned(),
        message: format!("fake: {code}"),
    }
}

impl FakeEc2 {
    pub fn add_group(&self, group: GroupDescription, rules: Vec<GroupRule>) {
        let mut state = self.state.lock().unwrap();
        state.groups.insert(group.group_id.clone(), (group, rules));
    }

    pub fn add_interface(&self, group_id: &str, interface: AttachedInterface) {
        let mut state = self.state.lock().unwrap();
        state
            .interfaces
            .entry(group_id.to_owned())
            .or_default()
            .push(interface);
    }

    /// Removes a rule behind the guard's back (a concurrent revoke).
    pub fn remove_rule(&self, group_id: &str, rule_id: &str) {
        let mut state = self.state.lock().unwrap();
        if let Some((_, rules)) = state.groups.get_mut(group_id) {
            rules.retain(|r| r.rule_id != rule_id);
        }
    }

    /// Makes every revoke fail with this code (`None`: succeed again).
    pub fn fail_revokes(&self, code: Option<&str>) {
        self.state.lock().unwrap().revoke_failure = code.map(str::to_owned);
    }

    /// The group's rules now.
    pub fn rules(&self, group_id: &str) -> Vec<GroupRule> {
        let state = self.state.lock().unwrap();
        state
            .groups
            .get(group_id)
            .map(|(_, rules)| rules.clone())
            .unwrap_or_default()
    }

    /// The calls made, as `Operation group-or-args`.
    pub fn calls(&self) -> Vec<String> {
        self.state.lock().unwrap().calls.clone()
    }

    /// The changing calls made (revokes and authorizations).
    pub fn writes(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|c| c.starts_with("Revoke") || c.starts_with("Authorize"))
            .collect()
    }
}

#[async_trait]
impl SecurityGroups for FakeEc2 {
    async fn describe_group(
        &self,
        lookup: &GroupLookup,
    ) -> Result<Option<GroupDescription>, CallError> {
        let mut state = self.state.lock().unwrap();
        state
            .calls
            .push(format!("DescribeSecurityGroups {lookup:?}"));
        Ok(state
            .groups
            .values()
            .find(|(group, _)| match lookup {
                GroupLookup::Id(id) => &group.group_id == id,
                GroupLookup::Name(name) => &group.group_name == name,
            })
            .map(|(group, _)| group.clone()))
    }

    async fn list_groups(&self) -> Result<Vec<GroupDescription>, CallError> {
        let mut state = self.state.lock().unwrap();
        state.calls.push("DescribeSecurityGroups all".to_owned());
        Ok(state.groups.values().map(|(g, _)| g.clone()).collect())
    }

    async fn describe_rules(&self, group_ids: &[String]) -> Result<Vec<DescribedRule>, CallError> {
        let mut state = self.state.lock().unwrap();
        state
            .calls
            .push(format!("DescribeSecurityGroupRules {group_ids:?}"));
        Ok(state
            .groups
            .iter()
            .filter(|(id, _)| group_ids.is_empty() || group_ids.contains(id))
            .flat_map(|(id, (_, rules))| {
                rules.iter().map(|rule| DescribedRule {
                    group_id: id.clone(),
                    rule: rule.clone(),
                })
            })
            .collect())
    }

    async fn describe_interfaces(
        &self,
        group_id: &str,
    ) -> Result<Vec<AttachedInterface>, CallError> {
        let mut state = self.state.lock().unwrap();
        state
            .calls
            .push(format!("DescribeNetworkInterfaces {group_id}"));
        Ok(state.interfaces.get(group_id).cloned().unwrap_or_default())
    }

    async fn revoke_rules(
        &self,
        group_id: &str,
        direction: Direction,
        rule_ids: &[String],
    ) -> Result<(), CallError> {
        let mut state = self.state.lock().unwrap();
        let operation = match direction {
            Direction::Ingress => "RevokeSecurityGroupIngress",
            Direction::Egress => "RevokeSecurityGroupEgress",
        };
        state
            .calls
            .push(format!("{operation} {group_id} {rule_ids:?}"));
        if let Some(code) = state.revoke_failure.clone() {
            return Err(rejected(operation, &code));
        }
        let Some((_, rules)) = state.groups.get_mut(group_id) else {
            return Err(rejected(operation, "InvalidGroup.NotFound"));
        };
        let all_there = rule_ids.iter().all(|id| {
            rules
                .iter()
                .any(|r| &r.rule_id == id && r.direction == direction)
        });
        if !all_there {
            return Err(rejected(operation, "InvalidSecurityGroupRuleId.NotFound"));
        }
        rules.retain(|r| !rule_ids.contains(&r.rule_id));
        Ok(())
    }

    async fn authorize(
        &self,
        group_id: &str,
        direction: Direction,
        permissions: &[Permission],
    ) -> Result<(), CallError> {
        let mut state = self.state.lock().unwrap();
        let operation = match direction {
            Direction::Ingress => "AuthorizeSecurityGroupIngress",
            Direction::Egress => "AuthorizeSecurityGroupEgress",
        };
        let shown: Vec<String> = permissions.iter().map(ToString::to_string).collect();
        state
            .calls
            .push(format!("{operation} {group_id} {shown:?}"));
        let first = state.next_rule;
        let Some((_, rules)) = state.groups.get_mut(group_id) else {
            return Err(rejected(operation, "InvalidGroup.NotFound"));
        };
        let duplicate = permissions.iter().any(|p| {
            rules
                .iter()
                .any(|r| r.direction == direction && r.permission.access() == p.access())
        });
        if duplicate {
            return Err(rejected(operation, "InvalidPermission.Duplicate"));
        }
        for (n, permission) in permissions.iter().enumerate() {
            rules.push(GroupRule {
                rule_id: format!("sgr-f{:06x}", first as usize + n),
                direction,
                permission: permission.clone(),
            });
        }
        state.next_rule += permissions.len() as u32;
        Ok(())
    }
}

/// AWS Config's evaluations in memory.
#[derive(Debug, Default)]
pub struct FakeConfig {
    evaluations: Mutex<Vec<(String, Evaluation)>>,
}

impl FakeConfig {
    /// Every evaluation reported, with its result token.
    pub fn evaluations(&self) -> Vec<(String, Evaluation)> {
        self.evaluations.lock().unwrap().clone()
    }
}

#[async_trait]
impl ComplianceReporter for FakeConfig {
    async fn put_evaluations(
        &self,
        result_token: &str,
        evaluations: &[Evaluation],
    ) -> Result<Vec<String>, CallError> {
        if evaluations.len() > 100 {
            return Err(rejected("PutEvaluations", "ValidationException"));
        }
        let mut stored = self.evaluations.lock().unwrap();
        stored.extend(
            evaluations
                .iter()
                .map(|e| (result_token.to_owned(), e.clone())),
        );
        Ok(Vec::new())
    }
}

/// The event bus in memory.
#[derive(Debug, Default)]
pub struct FakeBus {
    entries: Mutex<Vec<RecordEntry>>,
    refuse: Mutex<bool>,
}

impl FakeBus {
    pub fn entries(&self) -> Vec<RecordEntry> {
        self.entries.lock().unwrap().clone()
    }

    /// Makes EventBridge refuse every entry.
    pub fn refuse_all(&self) {
        *self.refuse.lock().unwrap() = true;
    }
}

#[async_trait]
impl RecordSink for FakeBus {
    async fn put_records(&self, entries: &[RecordEntry]) -> Result<usize, CallError> {
        if entries.len() > 10 {
            return Err(rejected("PutEvents", "ValidationException"));
        }
        if *self.refuse.lock().unwrap() {
            return Ok(entries.len());
        }
        self.entries.lock().unwrap().extend_from_slice(entries);
        Ok(0)
    }
}

/// SNS in memory.
#[derive(Debug, Default)]
pub struct FakeNotifier {
    messages: Mutex<Vec<(String, String)>>,
}

impl FakeNotifier {
    pub fn messages(&self) -> Vec<(String, String)> {
        self.messages.lock().unwrap().clone()
    }
}

#[async_trait]
impl Notifier for FakeNotifier {
    async fn notify(&self, subject: &str, message: &str) -> Result<(), CallError> {
        self.messages
            .lock()
            .unwrap()
            .push((subject.to_owned(), message.to_owned()));
        Ok(())
    }
}
