//! An account's authorization details (the shape of IAM's
//! `GetAccountAuthorizationDetails`) and what each principal is granted.
//!
//! [`Grant`], [`NotEvaluated`], [`GrantSet`] and [`PrincipalEntry`] are
//! what the report and the evaluation read. [`AuthorizationDetails`] is the
//! API's answer; [`AuthorizationDetails::principals`] expands it (with
//! [`super::policy`] and the [`Catalogue`]) into one entry per user and
//! role. `docs/privileges.md` ("Permissions") describes what is and is not
//! evaluated.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::catalogue::Catalogue;
use super::policy::{Effect, PolicyDocument, PolicyGrants, Problem, merge_grant};
use super::principal::{Principal, PrincipalKind};

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

/// `GetAccountAuthorizationDetails`' answer (all pages merged), in the
/// API's JSON shape. Policy documents stay as IAM returns them (URL-encoded
/// JSON strings; the CLI's decoded objects are read too) until
/// [`PolicyDocument::read`]. Lists given as a single object (as in some
/// published examples) are read as one-element lists.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AuthorizationDetails {
    #[serde(default, deserialize_with = "one_or_many")]
    pub user_detail_list: Vec<UserDetail>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub group_detail_list: Vec<GroupDetail>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub role_detail_list: Vec<RoleDetail>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub policies: Vec<ManagedPolicyDetail>,
    #[serde(default)]
    pub is_truncated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserDetail {
    #[serde(default)]
    pub path: String,
    pub user_name: String,
    #[serde(default)]
    pub user_id: String,
    pub arn: String,
    #[serde(default)]
    pub create_date: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub user_policy_list: Vec<InlinePolicy>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub group_list: Vec<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub attached_managed_policies: Vec<AttachedPolicy>,
    #[serde(default)]
    pub permissions_boundary: Option<AttachedPermissionsBoundary>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupDetail {
    #[serde(default)]
    pub path: String,
    pub group_name: String,
    #[serde(default)]
    pub group_id: String,
    pub arn: String,
    #[serde(default)]
    pub create_date: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub group_policy_list: Vec<InlinePolicy>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub attached_managed_policies: Vec<AttachedPolicy>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleDetail {
    #[serde(default)]
    pub path: String,
    pub role_name: String,
    #[serde(default)]
    pub role_id: String,
    pub arn: String,
    #[serde(default)]
    pub create_date: Option<DateTime<Utc>>,
    /// The trust policy (URL-encoded JSON, or decoded).
    #[serde(default)]
    pub assume_role_policy_document: Option<Value>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub role_policy_list: Vec<InlinePolicy>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub attached_managed_policies: Vec<AttachedPolicy>,
    #[serde(default)]
    pub permissions_boundary: Option<AttachedPermissionsBoundary>,
}

/// An inline policy (`UserPolicyList`, `GroupPolicyList`, `RolePolicyList`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InlinePolicy {
    pub policy_name: String,
    #[serde(default)]
    pub policy_document: Value,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttachedPolicy {
    #[serde(default)]
    pub policy_name: String,
    pub policy_arn: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttachedPermissionsBoundary {
    #[serde(default)]
    pub permissions_boundary_type: Option<String>,
    pub permissions_boundary_arn: String,
}

/// A managed policy (`Policies`), with its versions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ManagedPolicyDetail {
    #[serde(default)]
    pub policy_name: String,
    pub arn: String,
    #[serde(default)]
    pub default_version_id: Option<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub policy_version_list: Vec<PolicyVersion>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyVersion {
    #[serde(default)]
    pub document: Option<Value>,
    #[serde(default)]
    pub version_id: String,
    #[serde(default)]
    pub is_default_version: bool,
}

impl ManagedPolicyDetail {
    /// The default version's document.
    pub fn default_document(&self) -> Option<&Value> {
        let default = self
            .policy_version_list
            .iter()
            .find(|version| version.is_default_version)
            .or_else(|| {
                self.policy_version_list
                    .iter()
                    .find(|version| Some(&version.version_id) == self.default_version_id.as_ref())
            })?;
        default.document.as_ref()
    }
}

/// A list that some writers give as a single object.
fn one_or_many<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany<T> {
        Many(Vec<T>),
        One(T),
    }
    Ok(match Option::<OneOrMany<T>>::deserialize(deserializer)? {
        None => Vec::new(),
        Some(OneOrMany::Many(items)) => items,
        Some(OneOrMany::One(item)) => vec![item],
    })
}

/// The parts of every principal's permissions that fanin does not read,
/// one line each: they can only narrow (or, for resource policies, widen)
/// what the identity policies grant.
const NOT_READ: [(&str, &str); 3] = [
    (
        "service-control-policies",
        "not read: the organization's SCPs (and RCPs) can deny what is granted here",
    ),
    (
        "resource-policies",
        "not read: resource-based policies (buckets, keys, queues, ...) can grant or deny more",
    ),
    (
        "session-policies",
        "not read: session policies passed when a role is assumed can narrow a session",
    ),
];

impl AuthorizationDetails {
    /// Adds a further page of the answer.
    pub fn extend(&mut self, page: AuthorizationDetails) {
        self.user_detail_list.extend(page.user_detail_list);
        self.group_detail_list.extend(page.group_detail_list);
        self.role_detail_list.extend(page.role_detail_list);
        self.policies.extend(page.policies);
        self.is_truncated = page.is_truncated;
        self.marker = page.marker;
    }

    /// Every user and role with what it is granted: users by their inline
    /// and attached policies and those of their groups, roles by theirs;
    /// unconditional `Deny`s remove, the permissions boundary intersects;
    /// everything not evaluated is said in [`GrantSet::not_evaluated`].
    /// Roles get the principals outside the organization their trust
    /// policy admits (`is_org_account` says which accounts are inside).
    pub fn principals(
        &self,
        catalogue: &Catalogue,
        is_org_account: &dyn Fn(&str) -> bool,
    ) -> Vec<PrincipalEntry> {
        let mut entries = Vec::new();
        for user in &self.user_detail_list {
            let mut sources = self.inline_sources(&user.user_policy_list, "");
            sources.extend(self.managed_sources(&user.attached_managed_policies));
            let mut missing = Vec::new();
            for group_name in &user.group_list {
                let Some(group) = self
                    .group_detail_list
                    .iter()
                    .find(|group| &group.group_name == group_name)
                else {
                    missing.push(NotEvaluated {
                        policy: format!("group:{group_name}"),
                        statement: "-".into(),
                        reason: "not read: the group is not in the authorization details".into(),
                    });
                    continue;
                };
                let prefix = format!("group:{group_name}/");
                sources.extend(self.inline_sources(&group.group_policy_list, &prefix));
                sources.extend(
                    self.managed_sources(&group.attached_managed_policies)
                        .into_iter()
                        .map(|(via, document)| (format!("{prefix}{via}"), document)),
                );
            }
            let mut grants = self.grant_set(sources, user.permissions_boundary.as_ref(), catalogue);
            grants.not_evaluated.extend(missing);
            grants.not_evaluated.sort();
            entries.push(PrincipalEntry {
                principal: principal(&user.arn, PrincipalKind::User),
                name: user.user_name.clone(),
                created: user.create_date,
                external_trust: Vec::new(),
                grants,
            });
        }
        for role in &self.role_detail_list {
            let mut sources = self.inline_sources(&role.role_policy_list, "");
            sources.extend(self.managed_sources(&role.attached_managed_policies));
            let mut grants = self.grant_set(sources, role.permissions_boundary.as_ref(), catalogue);
            grants.not_evaluated.sort();
            let kind = if role.path.starts_with("/aws-service-role/") {
                PrincipalKind::ServiceLinkedRole
            } else {
                PrincipalKind::Role
            };
            let principal = principal(&role.arn, kind);
            let external_trust = match &role.assume_role_policy_document {
                Some(trust) => external_trust(
                    &PolicyDocument::read(trust),
                    &principal.account,
                    is_org_account,
                ),
                None => Vec::new(),
            };
            entries.push(PrincipalEntry {
                principal,
                name: role.role_name.clone(),
                created: role.create_date,
                external_trust,
                grants,
            });
        }
        entries
    }

    fn inline_sources(
        &self,
        policies: &[InlinePolicy],
        prefix: &str,
    ) -> Vec<(String, PolicyDocument)> {
        policies
            .iter()
            .map(|policy| {
                (
                    format!("{prefix}inline:{}", policy.policy_name),
                    PolicyDocument::read(&policy.policy_document),
                )
            })
            .collect()
    }

    /// The attached managed policies' default documents; one that the
    /// answer does not hold reads as a document with a problem.
    fn managed_sources(&self, attached: &[AttachedPolicy]) -> Vec<(String, PolicyDocument)> {
        attached
            .iter()
            .map(|policy| {
                (
                    policy.policy_arn.clone(),
                    self.managed_document(&policy.policy_arn),
                )
            })
            .collect()
    }

    fn managed_document(&self, arn: &str) -> PolicyDocument {
        let document = self
            .policies
            .iter()
            .find(|policy| policy.arn == arn)
            .and_then(ManagedPolicyDetail::default_document);
        match document {
            Some(document) => PolicyDocument::read(document),
            None => PolicyDocument {
                problems: vec![Problem {
                    statement: "-".into(),
                    reason:
                        "the managed policy's default version is not in the authorization details"
                            .into(),
                }],
                ..PolicyDocument::default()
            },
        }
    }

    fn grant_set(
        &self,
        sources: Vec<(String, PolicyDocument)>,
        boundary: Option<&AttachedPermissionsBoundary>,
        catalogue: &Catalogue,
    ) -> GrantSet {
        let mut set = GrantSet::default();
        let mut denied = BTreeSet::new();
        for (via, document) in &sources {
            let grants = PolicyGrants::of(document, via, catalogue);
            for (action, grant) in grants.allowed {
                merge_grant(&mut set.actions, &action, grant);
            }
            denied.extend(grants.denied);
            set.unknown_patterns.extend(grants.unknown_patterns);
            set.not_evaluated.extend(grants.not_evaluated);
        }
        if let Some(boundary) = boundary {
            let via = format!("boundary:{}", boundary.permissions_boundary_arn);
            let document = self.managed_document(&boundary.permissions_boundary_arn);
            let limits = PolicyGrants::of(&document, &via, catalogue);
            if document.statements.is_empty() {
                // An unreadable boundary: nothing is removed on its account.
                set.not_evaluated.extend(limits.not_evaluated);
            } else {
                let outside: Vec<String> = set
                    .actions
                    .keys()
                    .filter(|action| !limits.allowed.contains_key(*action))
                    .cloned()
                    .collect();
                for action in outside {
                    set.actions.remove(&action);
                }
                for (action, limit) in &limits.allowed {
                    if let Some(grant) = set.actions.get_mut(action) {
                        grant.conditional |= limit.conditional;
                        grant.resource_scoped |= limit.resource_scoped;
                    }
                }
                denied.extend(limits.denied);
                set.not_evaluated.extend(limits.not_evaluated);
            }
        }
        for action in denied {
            if set.actions.remove(&action).is_some() {
                set.denied.insert(action);
            }
        }
        for (policy, reason) in NOT_READ {
            set.not_evaluated.push(NotEvaluated {
                policy: policy.into(),
                statement: "-".into(),
                reason: reason.into(),
            });
        }
        set
    }
}

/// The principal of an IAM user or role ARN
/// (`arn:<partition>:iam::<account>:...`).
fn principal(arn: &str, kind: PrincipalKind) -> Principal {
    Principal {
        arn: arn.to_owned(),
        account: arn_account(arn).unwrap_or_default().to_owned(),
        kind,
    }
}

/// The account field of an ARN, when it is 12 digits.
fn arn_account(arn: &str) -> Option<&str> {
    let account = arn.strip_prefix("arn:")?.split(':').nth(3)?;
    is_account_id(account).then_some(account)
}

fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// The principals outside the organization a trust policy admits: AWS
/// account ids and ARNs of accounts `is_org_account` does not know, `*`,
/// and federated providers other than the role's own account's SAML/OIDC
/// providers; none from a statement that an `aws:PrincipalOrgID` (or
/// `aws:PrincipalOrgPaths`) condition restricts. Services are not
/// external. Sorted, without duplicates.
pub fn external_trust(
    trust: &PolicyDocument,
    role_account: &str,
    is_org_account: &dyn Fn(&str) -> bool,
) -> Vec<String> {
    let mut external = BTreeSet::new();
    for statement in &trust.statements {
        if statement.effect != Effect::Allow
            || statement.has_condition_key("aws:PrincipalOrgID")
            || statement.has_condition_key("aws:PrincipalOrgPaths")
        {
            continue;
        }
        if statement.not_principal.is_some() {
            external.insert("*".to_owned());
        }
        match &statement.principal {
            Some(Value::String(star)) if star == "*" => {
                external.insert("*".to_owned());
            }
            Some(Value::Object(kinds)) => {
                for (kind, values) in kinds {
                    let values = match values {
                        Value::String(one) => vec![one.as_str()],
                        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                        _ => Vec::new(),
                    };
                    for value in values {
                        let outside = match kind.as_str() {
                            "AWS" => match trusted_account(value) {
                                Some(account) => {
                                    !is_org_account(account) && account != role_account
                                }
                                None => true,
                            },
                            "Federated" => arn_account(value) != Some(role_account),
                            "Service" => false,
                            _ => true,
                        };
                        if outside {
                            external.insert(value.to_owned());
                        }
                    }
                }
            }
            _ => {}
        }
    }
    external.into_iter().collect()
}

/// The account an `AWS` trust principal names (`123456789012`,
/// `arn:aws:iam::123456789012:root`, a user or role ARN); `None` for `*`
/// and anything else.
fn trusted_account(value: &str) -> Option<&str> {
    if is_account_id(value) {
        return Some(value);
    }
    arn_account(value)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The AWS CLI's published `get-account-authorization-details` example
    /// (`tests/fixtures/README.md`): decoded documents, a group's
    /// `AttachedManagedPolicies` as a single object, a truncated page.
    const CLI_EXAMPLE: &str = include_str!(
        "../../../tests/fixtures/iam/get-account-authorization-details-cli-example.json"
    );

    fn entry<'a>(entries: &'a [PrincipalEntry], name: &str) -> &'a PrincipalEntry {
        entries.iter().find(|entry| entry.name == name).unwrap()
    }

    fn reasons(entry: &PrincipalEntry) -> Vec<String> {
        entry
            .grants
            .not_evaluated
            .iter()
            .map(|line| format!("{} {}: {}", line.policy, line.statement, line.reason))
            .collect()
    }

    #[test]
    fn the_published_cli_example_reads_into_users_and_roles() {
        let details: AuthorizationDetails = serde_json::from_str(CLI_EXAMPLE).unwrap();
        assert!(details.is_truncated);
        assert_eq!(
            details.group_detail_list[0].attached_managed_policies.len(),
            1
        );
        let entries = details.principals(Catalogue::embedded(), &|_| true);
        let names: Vec<&str> = entries.iter().map(|entry| entry.name.as_str()).collect();
        assert_eq!(names, ["Alice", "Bob", "Charlie", "EC2role"]);
        let role = entry(&entries, "EC2role");
        assert_eq!(role.principal.kind, PrincipalKind::Role);
        assert_eq!(role.principal.account, "123456789012");
        assert_eq!(
            role.created.unwrap().to_rfc3339(),
            "2014-07-30T17:09:20+00:00"
        );
        assert!(role.external_trust.is_empty(), "a service is not external");
        // AmazonS3FullAccess is attached but not on this page: said, not guessed.
        assert!(role.grants.actions.is_empty());
        assert!(reasons(role).contains(
            &"arn:aws:iam::aws:policy/AmazonS3FullAccess -: not read: the managed policy's default version is not in the authorization details".to_owned()
        ));
        assert!(reasons(role).contains(
            &"service-control-policies -: not read: the organization's SCPs (and RCPs) can deny what is granted here".to_owned()
        ));
        assert_eq!(role.grants.not_evaluated.len(), 5);
    }

    #[test]
    fn an_unconditional_deny_removes_actions_a_group_grants() {
        let mut details: AuthorizationDetails = serde_json::from_str(CLI_EXAMPLE).unwrap();
        // Give the Admins group the policy the example does hold.
        details.group_detail_list[0].attached_managed_policies = vec![AttachedPolicy {
            policy_name: "create-update-delete-set-managed-policies".into(),
            policy_arn:
                "arn:aws:iam::123456789012:policy/create-update-delete-set-managed-policies".into(),
        }];
        let entries = details.principals(Catalogue::embedded(), &|_| true);
        let alice = entry(&entries, "Alice");
        assert_eq!(alice.grants.actions.len(), 9);
        let grant = &alice.grants.actions["iam:CreatePolicy"];
        assert_eq!(
            grant.via,
            BTreeSet::from([
                "group:Admins/arn:aws:iam::123456789012:policy/create-update-delete-set-managed-policies".to_owned()
            ])
        );
        let bob = entry(&entries, "Bob");
        assert!(
            bob.grants.actions.is_empty(),
            "{:?}",
            bob.grants.actions.keys()
        );
        assert_eq!(bob.grants.denied.len(), 9);
        assert!(bob.grants.denied.contains("iam:SetDefaultPolicyVersion"));
    }

    fn encoded(document: serde_json::Value) -> Value {
        let text = document.to_string();
        Value::String(
            percent_encoding::utf8_percent_encode(&text, percent_encoding::NON_ALPHANUMERIC)
                .to_string(),
        )
    }

    #[test]
    fn boundaries_intersect_and_trust_outside_the_organization_is_named() {
        let details: AuthorizationDetails = serde_json::from_value(json!({
            "RoleDetailList": [{
                "RoleName": "deployer", "Path": "/", "Arn": "arn:aws:iam::111111111111:role/deployer",
                "AssumeRolePolicyDocument": encoded(json!({"Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::222222222222:root", "333333333333"]}, "Action": "sts:AssumeRole"},
                    {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole",
                     "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}},
                    {"Effect": "Allow", "Principal": {"Federated": ["arn:aws:iam::111111111111:saml-provider/corp", "accounts.google.com"]}, "Action": "sts:AssumeRoleWithWebIdentity"}
                ]})),
                "RolePolicyList": [{"PolicyName": "work", "PolicyDocument": encoded(json!({"Statement":
                    {"Effect": "Allow", "Action": ["s3:Get*", "s3:PutObject", "iam:PassRole"], "Resource": "*"}}))}],
                "AttachedManagedPolicies": [],
                "PermissionsBoundary": {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": "arn:aws:iam::111111111111:policy/limit"}
            }, {
                "RoleName": "AWSServiceRoleForSupport", "Path": "/aws-service-role/support.amazonaws.com/",
                "Arn": "arn:aws:iam::111111111111:role/aws-service-role/support.amazonaws.com/AWSServiceRoleForSupport"
            }],
            "Policies": [{"PolicyName": "limit", "Arn": "arn:aws:iam::111111111111:policy/limit", "DefaultVersionId": "v2",
                "PolicyVersionList": [
                    {"VersionId": "v1", "IsDefaultVersion": false, "Document": encoded(json!({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}))},
                    {"VersionId": "v2", "IsDefaultVersion": true, "Document": encoded(json!({"Statement": [
                        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
                        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*", "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}}
                    ]}))}
                ]}]
        }))
        .unwrap();
        let entries =
            details.principals(Catalogue::embedded(), &|account| account == "333333333333");
        let deployer = entry(&entries, "deployer");
        assert_eq!(
            deployer.external_trust,
            ["accounts.google.com", "arn:aws:iam::222222222222:root"]
        );
        assert!(deployer.grants.actions.contains_key("s3:GetObject"));
        assert!(deployer.grants.actions.contains_key("s3:PutObject"));
        assert!(!deployer.grants.actions["s3:PutObject"].conditional);
        assert!(
            deployer.grants.actions["iam:PassRole"].conditional,
            "the boundary's condition"
        );
        assert!(
            deployer
                .grants
                .actions
                .keys()
                .all(|a| a.starts_with("s3:") || a == "iam:PassRole")
        );
        let linked = entry(&entries, "AWSServiceRoleForSupport");
        assert_eq!(linked.principal.kind, PrincipalKind::ServiceLinkedRole);
    }

    #[test]
    fn a_boundary_removes_what_it_does_not_allow() {
        let details: AuthorizationDetails = serde_json::from_value(json!({
            "UserDetailList": [{
                "UserName": "dev", "Arn": "arn:aws:iam::111111111111:user/dev",
                "UserPolicyList": [{"PolicyName": "all", "PolicyDocument": encoded(json!({"Statement":
                    {"Effect": "Allow", "Action": ["s3:GetObject", "iam:CreateUser"], "Resource": "*"}}))}],
                "PermissionsBoundary": {"PermissionsBoundaryArn": "arn:aws:iam::111111111111:policy/b"}
            }],
            "Policies": [{"Arn": "arn:aws:iam::111111111111:policy/b", "PolicyVersionList": [
                {"VersionId": "v1", "IsDefaultVersion": true, "Document": encoded(json!({"Statement":
                    {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}))}]}]
        }))
        .unwrap();
        let entries = details.principals(Catalogue::embedded(), &|_| true);
        let dev = entry(&entries, "dev");
        assert_eq!(
            dev.grants.actions.keys().collect::<Vec<_>>(),
            ["s3:GetObject"]
        );
        assert_eq!(
            dev.grants.actions["s3:GetObject"].via,
            BTreeSet::from(["inline:all".to_owned()])
        );
    }
}
