//! The CloudTracker-style report of one principal over a window: what it
//! is granted and used, granted and did not use, used without a grant, and
//! the least-privilege policy its use suggests.
//!
//! Pure: [`Report::build`] takes what the authorization details say the
//! principal is granted (wildcards, `NotAction` and `Deny`s already
//! expanded into actions by `super::authz`) and what the trail says it did
//! (`super::usage`), and compares them action by action. IAM action names
//! are case-insensitive: they are compared lowercased and reported as the
//! grant spells them.
//!
//! A principal created inside the window is judged from its creation: a
//! use recorded before it belongs to an earlier principal of the same name
//! (deleted and created again), and is left out.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::authz::{NotEvaluated, PrincipalEntry};
use super::principal::{Principal, PrincipalKind};
use super::usage::{ActionUse, Mapping, PrincipalUsage};

/// The time a report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// IAM's access levels, as the catalogue names them, ordered by what an
/// unused grant of that level risks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessLevel {
    List,
    Read,
    Tagging,
    Write,
    PermissionsManagement,
}

impl AccessLevel {
    /// The catalogue's spelling (`List`, `Read`, `Tagging`, `Write`,
    /// `Permissions management`). The source writes `Permissions
    /// management, Write` and `Tagging, Write` for some actions: the first,
    /// more specific, level is kept.
    pub fn parse(level: &str) -> Option<Self> {
        match level
            .split(',')
            .next()?
            .trim()
            .to_ascii_lowercase()
            .as_str()
        {
            "list" => Some(Self::List),
            "read" => Some(Self::Read),
            "tagging" => Some(Self::Tagging),
            "write" => Some(Self::Write),
            "permissions management" | "permissions_management" => {
                Some(Self::PermissionsManagement)
            }
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::List => "list",
            Self::Read => "read",
            Self::Tagging => "tagging",
            Self::Write => "write",
            Self::PermissionsManagement => "permissions_management",
        }
    }

    /// What one unused action of this level weighs in the ranking: writing
    /// and changing permissions weigh more than reading.
    pub fn weight(self) -> u64 {
        match self {
            Self::List | Self::Read => 1,
            Self::Tagging => 2,
            Self::Write => 4,
            Self::PermissionsManagement => 8,
        }
    }
}

/// A granted action the principal used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsedAction {
    pub action: String,
    /// Epoch seconds of the last call (denied ones included).
    pub last_used: i64,
    pub count: u64,
    /// Calls refused even though the action is granted (an SCP, a resource
    /// policy, a boundary or a condition said no).
    pub denied: u64,
    /// The grant is conditional (its `Condition` not evaluated).
    pub conditional: bool,
    pub resource_scoped: bool,
}

/// A granted action the principal did not use in the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnusedAction {
    pub action: String,
    /// The policies granting it.
    pub via: Vec<String>,
    pub conditional: bool,
    pub resource_scoped: bool,
}

/// An action the principal called without an evaluated grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotGrantedUse {
    pub action: String,
    pub last_used: i64,
    pub count: u64,
    pub denied: u64,
    /// An unconditional `Deny` of the principal's own policies removes it.
    pub denied_by_policy: bool,
}

/// A call whose event name maps to no known IAM action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnknownMapping {
    /// The guess `<prefix>:<eventName>`.
    pub action: String,
    pub event_names: Vec<String>,
    pub last_used: i64,
    pub count: u64,
    pub denied: u64,
}

/// The report of one principal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub principal: Principal,
    pub name: String,
    pub window: Window,
    /// `max(window.start, created)`: the use before it is not this
    /// principal's.
    pub judged_from: DateTime<Utc>,
    /// Service-linked roles and root are reported, never judged: their
    /// permissions are AWS's, or all of them.
    pub judged: bool,
    pub external_trust: Vec<String>,
    /// Granted and used, by action.
    pub used: Vec<UsedAction>,
    /// Granted and not used in the window, by action.
    pub unused: Vec<UnusedAction>,
    /// Services with granted actions none of which was used.
    pub unused_services: Vec<String>,
    /// Used (or attempted) without a grant.
    pub used_not_granted: Vec<NotGrantedUse>,
    pub unknown_mappings: Vec<UnknownMapping>,
    pub not_evaluated: Vec<NotEvaluated>,
    /// Action patterns of its policies that match no catalogue action.
    pub unknown_patterns: Vec<String>,
    /// How many actions are granted.
    pub granted: usize,
    /// An IAM policy document allowing what was used successfully
    /// ([`SUGGESTED_POLICY_NOTE`] says what it does not narrow).
    pub suggested_policy: PolicyDocument,
}

/// What every suggested policy leaves to the operator (said beside it: a
/// policy document has no place for a note).
pub const SUGGESTED_POLICY_NOTE: &str = "Allows the actions used successfully in the window, on every resource: narrow Resource and add Condition before attaching it.";

/// An IAM policy document, its elements in IAM's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyDocument {
    #[serde(rename = "Version")]
    pub version: String,
    #[serde(rename = "Statement")]
    pub statement: Vec<PolicyStatement>,
}

/// One `Allow` statement of a suggested policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyStatement {
    #[serde(rename = "Sid")]
    pub sid: String,
    #[serde(rename = "Effect")]
    pub effect: String,
    #[serde(rename = "Action")]
    pub action: Vec<String>,
    #[serde(rename = "Resource")]
    pub resource: String,
}

fn service_of(action: &str) -> &str {
    action
        .split_once(':')
        .map_or(action, |(service, _)| service)
}

impl Report {
    /// Compares what `entry` is granted with what it used in `window`.
    pub fn build(entry: &PrincipalEntry, usage: Option<&PrincipalUsage>, window: Window) -> Report {
        let judged_from = entry
            .created
            .map_or(window.start, |created| created.max(window.start));
        let from = judged_from.timestamp();
        let judged = matches!(
            entry.principal.kind,
            PrincipalKind::User | PrincipalKind::Role
        );
        let grants = &entry.grants;
        let granted_lower: BTreeMap<String, &str> = grants
            .actions
            .keys()
            .map(|action| (action.to_ascii_lowercase(), action.as_str()))
            .collect();
        let denied_lower: BTreeSet<String> = grants
            .denied
            .iter()
            .map(|action| action.to_ascii_lowercase())
            .collect();
        let calls: Vec<(&String, &ActionUse)> = usage
            .into_iter()
            .flat_map(|usage| &usage.actions)
            .filter(|(_, used)| used.last_seen >= from)
            .collect();

        let mut used = Vec::new();
        let mut used_not_granted = Vec::new();
        let mut unknown_mappings = Vec::new();
        let mut used_granted: BTreeSet<&str> = BTreeSet::new();
        for (action, call) in calls {
            if call.mapping == Mapping::Unknown {
                unknown_mappings.push(UnknownMapping {
                    action: action.clone(),
                    event_names: call.event_names.iter().cloned().collect(),
                    last_used: call.last_seen,
                    count: call.count,
                    denied: call.denied,
                });
                continue;
            }
            let lower = action.to_ascii_lowercase();
            match granted_lower.get(&lower) {
                Some(granted) => {
                    let grant = &grants.actions[*granted];
                    used_granted.insert(granted);
                    used.push(UsedAction {
                        action: (*granted).to_owned(),
                        last_used: call.last_seen,
                        count: call.count,
                        denied: call.denied,
                        conditional: grant.conditional,
                        resource_scoped: grant.resource_scoped,
                    });
                }
                None => used_not_granted.push(NotGrantedUse {
                    action: action.clone(),
                    last_used: call.last_seen,
                    count: call.count,
                    denied: call.denied,
                    denied_by_policy: denied_lower.contains(&lower),
                }),
            }
        }
        used.sort_by(|a, b| a.action.cmp(&b.action));
        let unused: Vec<UnusedAction> = grants
            .actions
            .iter()
            .filter(|(action, _)| !used_granted.contains(action.as_str()))
            .map(|(action, grant)| UnusedAction {
                action: action.clone(),
                via: grant.via.iter().cloned().collect(),
                conditional: grant.conditional,
                resource_scoped: grant.resource_scoped,
            })
            .collect();
        let used_services: BTreeSet<String> = used
            .iter()
            .map(|u| service_of(&u.action).to_ascii_lowercase())
            .collect();
        let unused_services: Vec<String> = grants
            .actions
            .keys()
            .map(|action| service_of(action).to_ascii_lowercase())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter(|service| !used_services.contains(service))
            .collect();
        let mut not_evaluated = grants.not_evaluated.clone();
        not_evaluated.sort();
        let suggested_policy = suggested_policy(
            used.iter()
                .filter(|u| u.count > u.denied)
                .map(|u| u.action.as_str()),
        );
        Report {
            principal: entry.principal.clone(),
            name: entry.name.clone(),
            window,
            judged_from,
            judged,
            external_trust: entry.external_trust.clone(),
            granted: grants.actions.len(),
            used,
            unused,
            unused_services,
            used_not_granted,
            unknown_mappings,
            not_evaluated,
            unknown_patterns: grants.unknown_patterns.iter().cloned().collect(),
            suggested_policy,
        }
    }

    /// The ranking's weight of what is granted and unused: each unused
    /// action weighs its access level ([`AccessLevel::weight`]; an action
    /// the catalogue does not level counts as Write).
    pub fn unused_weight(&self, level_of: &dyn Fn(&str) -> Option<AccessLevel>) -> u64 {
        self.unused
            .iter()
            .map(|u| level_of(&u.action).unwrap_or(AccessLevel::Write).weight())
            .sum()
    }

    /// The order findings rank in, highest first: roles that principals
    /// outside the organization can assume, then the weight of what is
    /// unused, then the number of unused actions, then the ARN.
    pub fn rank_key(
        &self,
        level_of: &dyn Fn(&str) -> Option<AccessLevel>,
    ) -> (bool, u64, usize, std::cmp::Reverse<String>) {
        (
            !self.external_trust.is_empty() && !self.unused.is_empty(),
            self.unused_weight(level_of),
            self.unused.len(),
            std::cmp::Reverse(self.principal.arn.clone()),
        )
    }
}

/// An IAM policy document allowing `actions`: one statement per service,
/// actions sorted, on every resource (usage does not say which).
pub fn suggested_policy<'a>(actions: impl IntoIterator<Item = &'a str>) -> PolicyDocument {
    let mut by_service: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for action in actions {
        by_service
            .entry(service_of(action).to_ascii_lowercase())
            .or_default()
            .insert(action);
    }
    let statement = by_service
        .into_iter()
        .map(|(service, actions)| {
            let sid: String = service
                .split(|c: char| !c.is_ascii_alphanumeric())
                .map(|word| {
                    let mut chars = word.chars();
                    chars.next().map_or(String::new(), |first| {
                        first.to_ascii_uppercase().to_string() + chars.as_str()
                    })
                })
                .collect();
            PolicyStatement {
                sid: format!("Used{sid}"),
                effect: "Allow".to_owned(),
                action: actions.into_iter().map(str::to_owned).collect(),
                resource: "*".to_owned(),
            }
        })
        .collect();
    PolicyDocument {
        version: "2012-10-17".to_owned(),
        statement,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::privileges::authz::{Grant, GrantSet};

    pub(crate) const ACCOUNT: &str = "111122223333";

    pub(crate) fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, 0, 0, 0).unwrap()
    }

    pub(crate) fn window() -> Window {
        Window {
            start: at(1),
            end: at(30),
        }
    }

    pub(crate) fn role(name: &str) -> Principal {
        Principal {
            arn: format!("arn:aws:iam::{ACCOUNT}:role/{name}"),
            account: ACCOUNT.into(),
            kind: PrincipalKind::Role,
        }
    }

    pub(crate) fn grant(via: &str) -> Grant {
        Grant {
            via: [via.to_owned()].into(),
            conditional: false,
            resource_scoped: false,
        }
    }

    /// `s3:Get*` expanded (three actions), `iam:PassRole` conditional,
    /// `ec2:DescribeInstances`; `s3:DeleteBucket` denied.
    pub(crate) fn entry(principal: Principal) -> PrincipalEntry {
        let mut actions = BTreeMap::new();
        for action in ["s3:GetObject", "s3:GetBucketPolicy", "s3:GetObjectAcl"] {
            actions.insert(action.to_owned(), grant("inline:read-s3"));
        }
        actions.insert(
            "ec2:DescribeInstances".to_owned(),
            grant("arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess"),
        );
        actions.insert(
            "iam:PassRole".to_owned(),
            Grant {
                conditional: true,
                ..grant("inline:pass")
            },
        );
        PrincipalEntry {
            name: principal.arn.rsplit('/').next().unwrap().to_owned(),
            principal,
            created: None,
            external_trust: vec![],
            grants: GrantSet {
                actions,
                denied: ["s3:DeleteBucket".to_owned()].into(),
                unknown_patterns: ["s3:Gett*".to_owned()].into(),
                not_evaluated: vec![NotEvaluated {
                    policy: "scp".into(),
                    statement: "*".into(),
                    reason: "service control policies are not read".into(),
                }],
            },
        }
    }

    pub(crate) fn call(
        day: u32,
        count: u64,
        denied: u64,
        mapping: Mapping,
        event: &str,
    ) -> ActionUse {
        ActionUse {
            first_seen: at(day).timestamp() - 3600,
            last_seen: at(day).timestamp(),
            count,
            denied,
            mapping,
            event_names: [event.to_owned()].into(),
        }
    }

    pub(crate) fn usage(principal: &Principal, calls: &[(&str, ActionUse)]) -> PrincipalUsage {
        PrincipalUsage {
            principal: principal.clone(),
            actions: calls
                .iter()
                .map(|(action, call)| ((*action).to_owned(), call.clone()))
                .collect(),
        }
    }

    #[test]
    fn expanded_wildcards_split_into_used_and_unused() {
        let principal = role("app");
        let usage = usage(
            &principal,
            &[
                // HeadObject is s3:GetObject: mapped, named differently.
                (
                    "s3:GetObject",
                    call(20, 12, 0, Mapping::Mapped, "HeadObject"),
                ),
                ("iam:PassRole", call(10, 1, 0, Mapping::Derived, "PassRole")),
            ],
        );
        let report = Report::build(&entry(principal), Some(&usage), window());
        let used: Vec<&str> = report.used.iter().map(|u| u.action.as_str()).collect();
        assert_eq!(used, ["iam:PassRole", "s3:GetObject"]);
        assert_eq!(report.used[1].last_used, at(20).timestamp());
        assert_eq!(report.used[1].count, 12);
        assert!(report.used[0].conditional, "the grant's condition is said");
        let unused: Vec<&str> = report.unused.iter().map(|u| u.action.as_str()).collect();
        assert_eq!(
            unused,
            [
                "ec2:DescribeInstances",
                "s3:GetBucketPolicy",
                "s3:GetObjectAcl"
            ]
        );
        assert_eq!(report.unused[1].via, ["inline:read-s3"]);
        assert_eq!(report.unused_services, ["ec2"]);
        assert_eq!(report.granted, 5);
        assert_eq!(report.judged_from, at(1));
        assert!(report.judged);
        assert_eq!(report.not_evaluated.len(), 1);
        assert_eq!(report.unknown_patterns, ["s3:Gett*"]);
        assert_eq!(
            serde_json::to_string(&report.suggested_policy).unwrap(),
            concat!(
                r#"{"Version":"2012-10-17","Statement":["#,
                r#"{"Sid":"UsedIam","Effect":"Allow","Action":["iam:PassRole"],"Resource":"*"},"#,
                r#"{"Sid":"UsedS3","Effect":"Allow","Action":["s3:GetObject"],"Resource":"*"}]}"#,
            ),
            "IAM's element order, one statement per service"
        );
    }

    #[test]
    fn denied_attempts_are_used_not_granted_and_say_when_a_deny_removed_the_action() {
        let principal = role("app");
        let usage = usage(
            &principal,
            &[
                // Not granted at all, refused.
                (
                    "iam:CreateUser",
                    call(12, 2, 2, Mapping::Derived, "CreateUser"),
                ),
                // Granted by an Allow, removed by the principal's own Deny.
                (
                    "s3:DeleteBucket",
                    call(13, 1, 1, Mapping::Derived, "DeleteBucket"),
                ),
                // Not granted by what was read, yet it succeeded (a
                // resource policy, say).
                (
                    "sqs:SendMessage",
                    call(14, 3, 0, Mapping::Derived, "SendMessage"),
                ),
                // Granted, but refused by something not evaluated.
                (
                    "ec2:DescribeInstances",
                    call(15, 4, 4, Mapping::Derived, "DescribeInstances"),
                ),
            ],
        );
        let report = Report::build(&entry(principal), Some(&usage), window());
        let not_granted: Vec<(&str, u64, u64, bool)> = report
            .used_not_granted
            .iter()
            .map(|u| (u.action.as_str(), u.count, u.denied, u.denied_by_policy))
            .collect();
        assert_eq!(
            not_granted,
            [
                ("iam:CreateUser", 2, 2, false),
                ("s3:DeleteBucket", 1, 1, true),
                ("sqs:SendMessage", 3, 0, false),
            ]
        );
        assert_eq!(report.used_not_granted[0].last_used, at(12).timestamp());
        assert_eq!(report.used.len(), 1);
        assert_eq!(report.used[0].denied, 4);
        assert!(
            report.suggested_policy.statement.is_empty(),
            "only successful use is suggested"
        );
        assert!(!report.unused_services.contains(&"ec2".to_owned()));
    }

    #[test]
    fn an_unknown_mapping_is_reported_and_never_counts_as_use() {
        let principal = role("app");
        let usage = usage(
            &principal,
            &[(
                "s3:GetObjectAclV9",
                call(20, 5, 0, Mapping::Unknown, "GetObjectAclV9"),
            )],
        );
        let report = Report::build(&entry(principal), Some(&usage), window());
        assert_eq!(report.unknown_mappings.len(), 1);
        assert_eq!(report.unknown_mappings[0].event_names, ["GetObjectAclV9"]);
        assert_eq!(report.unknown_mappings[0].count, 5);
        assert!(report.used.is_empty());
        assert!(report.used_not_granted.is_empty());
        assert_eq!(report.unused.len(), 5);
    }

    #[test]
    fn a_principal_created_mid_window_is_judged_from_its_creation() {
        let principal = role("app");
        let mut created = entry(principal.clone());
        created.created = Some(at(15));
        let usage = usage(
            &principal,
            &[
                // The earlier role of the same name used these.
                (
                    "s3:GetObject",
                    call(10, 1, 0, Mapping::Derived, "GetObject"),
                ),
                (
                    "iam:CreateUser",
                    call(14, 1, 0, Mapping::Derived, "CreateUser"),
                ),
                (
                    "s3:GetObjectAcl",
                    call(16, 1, 0, Mapping::Derived, "GetObjectAcl"),
                ),
            ],
        );
        let report = Report::build(&created, Some(&usage), window());
        assert_eq!(report.judged_from, at(15));
        let used: Vec<&str> = report.used.iter().map(|u| u.action.as_str()).collect();
        assert_eq!(used, ["s3:GetObjectAcl"]);
        assert!(report.used_not_granted.is_empty());
        assert!(report.unused.iter().any(|u| u.action == "s3:GetObject"));
        let mut before = entry(principal);
        before.created = Some(at(1) - chrono::Duration::days(300));
        assert_eq!(Report::build(&before, None, window()).judged_from, at(1));
    }

    #[test]
    fn actions_compare_case_insensitively_and_service_linked_roles_are_not_judged() {
        let principal = Principal {
            kind: PrincipalKind::ServiceLinkedRole,
            ..role("aws-service-role/AWSServiceRoleForSupport")
        };
        let usage = usage(
            &principal,
            &[(
                "S3:getobject",
                call(20, 1, 0, Mapping::Derived, "GetObject"),
            )],
        );
        let report = Report::build(&entry(principal), Some(&usage), window());
        assert!(!report.judged);
        assert_eq!(report.used[0].action, "s3:GetObject");
    }

    #[test]
    fn external_trust_ranks_first_then_the_weight_of_what_is_unused() {
        let level = |action: &str| match action {
            "iam:PassRole" => Some(AccessLevel::PermissionsManagement),
            action if action.contains(":Describe") || action.contains(":Get") => {
                Some(AccessLevel::Read)
            }
            _ => None,
        };
        let quiet = Report::build(&entry(role("a-quiet")), None, window());
        let mut trusted = entry(role("b-trusted"));
        trusted.external_trust = vec!["444455556666".into()];
        let p = trusted.principal.clone();
        // Uses all but one read action: little unused, but assumable from
        // outside the organization.
        let calls: Vec<(&str, ActionUse)> = [
            "s3:GetObject",
            "s3:GetBucketPolicy",
            "iam:PassRole",
            "ec2:DescribeInstances",
        ]
        .into_iter()
        .map(|a| (a, call(20, 1, 0, Mapping::Derived, "x")))
        .collect();
        let trusted = Report::build(&trusted, Some(&usage(&p, &calls)), window());
        assert_eq!(quiet.unused_weight(&level), 8 + 4);
        assert_eq!(trusted.unused_weight(&level), 1);
        let mut reports = [quiet.clone(), trusted.clone()];
        reports.sort_by_key(|r| std::cmp::Reverse(r.rank_key(&level)));
        assert_eq!(reports[0].name, "b-trusted");
        assert_eq!(
            AccessLevel::parse("Permissions management"),
            Some(AccessLevel::PermissionsManagement)
        );
        assert_eq!(AccessLevel::parse("Write"), Some(AccessLevel::Write));
        assert_eq!(AccessLevel::parse("Admin"), None);
    }
}
