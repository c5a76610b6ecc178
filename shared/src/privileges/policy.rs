//! IAM policy documents and their expansion into actions.
//!
//! [`PolicyDocument::read`] takes a document as IAM returns it (a
//! URL-encoded JSON string) or already decoded (the AWS CLI's output), and
//! reads it leniently: `Statement` as one object or an array, `Action`,
//! `Resource`, ... as one string or an array. Whatever does not have a
//! documented shape is kept as a [`PolicyDocument::problems`] entry, which
//! [`PolicyGrants`] turns into a [`NotEvaluated`] line: never silently
//! ignored.
//!
//! [`PolicyGrants::of`] expands an identity policy against the catalogue:
//! - `Allow` + `Action`: the matched actions, with [`Grant::conditional`]
//!   when the statement has a `Condition` and [`Grant::resource_scoped`]
//!   when its `Resource` is not `*`;
//! - `Allow` + `NotAction`: every action of the catalogue but those, with
//!   a line saying it is broad (actions AWS adds later are allowed too);
//! - `Deny` without `Condition` on `Resource: "*"`: the actions are denied;
//!   any other `Deny` is not evaluated (the actions stay granted) and said.

use std::collections::{BTreeMap, BTreeSet};

use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};

use super::authz::{Grant, NotEvaluated};
use super::catalogue::Catalogue;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// `Action` or `NotAction` (as written, patterns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actions {
    Action(Vec<String>),
    NotAction(Vec<String>),
}

/// `Resource` or `NotResource`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resources {
    Resource(Vec<String>),
    NotResource(Vec<String>),
}

impl Resources {
    /// `Resource` names `*` (every resource).
    pub fn is_every_resource(&self) -> bool {
        matches!(self, Resources::Resource(list) if list.iter().any(|r| r == "*"))
    }
}

/// One statement, as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// Position in the document (from 0): named when there is no `Sid`.
    pub index: usize,
    pub sid: Option<String>,
    pub effect: Effect,
    pub actions: Actions,
    /// `None` in trust policies, which have none.
    pub resources: Option<Resources>,
    pub principal: Option<Value>,
    pub not_principal: Option<Value>,
    /// Operator → key → values; empty when there is none.
    pub condition: Map<String, Value>,
}

impl Statement {
    /// The `Sid`, or `#<index>`.
    pub fn label(&self) -> String {
        match &self.sid {
            Some(sid) if !sid.is_empty() => sid.clone(),
            _ => format!("#{}", self.index),
        }
    }

    /// Whether any condition names this key (case-insensitive), under any
    /// operator.
    pub fn has_condition_key(&self, key: &str) -> bool {
        self.condition.values().any(|keys| {
            keys.as_object()
                .is_some_and(|keys| keys.keys().any(|k| k.eq_ignore_ascii_case(key)))
        })
    }
}

/// A part of a document that does not have a documented shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The statement's label, or `document`.
    pub statement: String,
    pub reason: String,
}

/// A policy document, read leniently.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PolicyDocument {
    pub version: Option<String>,
    pub statements: Vec<Statement>,
    /// Everything that did not read, with where: reported, never dropped.
    pub problems: Vec<Problem>,
}

impl PolicyDocument {
    /// Reads a document as IAM answers it (a URL-encoded JSON string, RFC
    /// 3986), as plain JSON text, or already decoded.
    pub fn read(document: &Value) -> PolicyDocument {
        match document {
            Value::String(text) => Self::read_text(text),
            Value::Object(_) => Self::from_value(document),
            other => Self::unreadable(format!("the document is a {}", json_kind(other))),
        }
    }

    /// Reads a document from its text, URL-encoded or not.
    pub fn read_text(text: &str) -> PolicyDocument {
        let trimmed = text.trim();
        let decoded;
        let json = if trimmed.starts_with('{') {
            trimmed
        } else {
            match percent_decode_str(trimmed).decode_utf8() {
                Ok(text) => {
                    decoded = text.into_owned();
                    decoded.as_str()
                }
                Err(_) => return Self::unreadable("the URL-encoded document is not UTF-8".into()),
            }
        };
        match serde_json::from_str::<Value>(json) {
            Ok(value @ Value::Object(_)) => Self::from_value(&value),
            Ok(other) => Self::unreadable(format!("the document is a {}", json_kind(&other))),
            Err(error) => Self::unreadable(format!("the document is not JSON: {error}")),
        }
    }

    fn unreadable(reason: String) -> PolicyDocument {
        PolicyDocument {
            problems: vec![Problem {
                statement: "document".into(),
                reason,
            }],
            ..PolicyDocument::default()
        }
    }

    fn from_value(value: &Value) -> PolicyDocument {
        let mut document = PolicyDocument::default();
        let Some(object) = value.as_object() else {
            return Self::unreadable(format!("the document is a {}", json_kind(value)));
        };
        for (key, value) in object {
            match key.as_str() {
                "Version" => match value.as_str() {
                    Some(version) => document.version = Some(version.to_owned()),
                    None => document.problem("document", "Version is not a string"),
                },
                "Id" => {}
                "Statement" => {
                    let statements: Vec<&Value> = match value {
                        Value::Array(items) => items.iter().collect(),
                        single => vec![single],
                    };
                    for (index, statement) in statements.into_iter().enumerate() {
                        match read_statement(index, statement) {
                            Ok((statement, problems)) => {
                                document.problems.extend(problems);
                                document.statements.push(statement);
                            }
                            Err(problem) => document.problems.push(problem),
                        }
                    }
                }
                other => document.problem("document", &format!("unknown element {other}")),
            }
        }
        if !object.contains_key("Statement") {
            document.problem("document", "no Statement");
        }
        document
    }

    fn problem(&mut self, statement: &str, reason: &str) {
        self.problems.push(Problem {
            statement: statement.into(),
            reason: reason.into(),
        });
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// One string or an array of strings.
fn strings(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::String(one) => Some(vec![one.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect(),
        _ => None,
    }
}

/// A statement, with the problems of its parts; `Err` when it cannot be
/// evaluated at all (no readable `Effect` or actions).
fn read_statement(index: usize, value: &Value) -> Result<(Statement, Vec<Problem>), Problem> {
    let Some(object) = value.as_object() else {
        return Err(Problem {
            statement: format!("#{index}"),
            reason: format!("the statement is a {}", json_kind(value)),
        });
    };
    let sid = object.get("Sid").and_then(Value::as_str).map(str::to_owned);
    let label = match &sid {
        Some(sid) if !sid.is_empty() => sid.clone(),
        _ => format!("#{index}"),
    };
    let fail = |reason: String| Problem {
        statement: label.clone(),
        reason,
    };
    let mut problems = Vec::new();
    let effect = match object.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        Some(other) => return Err(fail(format!("unknown Effect {other:?}"))),
        None => return Err(fail("no Effect".into())),
    };
    let actions = match (object.get("Action"), object.get("NotAction")) {
        (Some(action), None) => Actions::Action(
            strings(action)
                .ok_or_else(|| fail("Action is not a string or a list of strings".into()))?,
        ),
        (None, Some(not_action)) => Actions::NotAction(
            strings(not_action)
                .ok_or_else(|| fail("NotAction is not a string or a list of strings".into()))?,
        ),
        (Some(_), Some(_)) => return Err(fail("both Action and NotAction".into())),
        (None, None) => return Err(fail("neither Action nor NotAction".into())),
    };
    let resources = match (object.get("Resource"), object.get("NotResource")) {
        (Some(resource), None) => match strings(resource) {
            Some(list) => Some(Resources::Resource(list)),
            None => return Err(fail("Resource is not a string or a list of strings".into())),
        },
        (None, Some(not_resource)) => match strings(not_resource) {
            Some(list) => Some(Resources::NotResource(list)),
            None => {
                return Err(fail(
                    "NotResource is not a string or a list of strings".into(),
                ));
            }
        },
        (Some(_), Some(_)) => return Err(fail("both Resource and NotResource".into())),
        (None, None) => None,
    };
    let condition = match object.get("Condition") {
        None => Map::new(),
        Some(Value::Object(condition)) => condition.clone(),
        Some(other) => {
            return Err(fail(format!("Condition is a {}", json_kind(other))));
        }
    };
    for key in object.keys() {
        if !matches!(
            key.as_str(),
            "Sid"
                | "Effect"
                | "Action"
                | "NotAction"
                | "Resource"
                | "NotResource"
                | "Principal"
                | "NotPrincipal"
                | "Condition"
        ) {
            problems.push(fail(format!("unknown element {key}")));
        }
    }
    Ok((
        Statement {
            index,
            sid,
            effect,
            actions,
            resources,
            principal: object.get("Principal").cloned(),
            not_principal: object.get("NotPrincipal").cloned(),
            condition,
        },
        problems,
    ))
}

/// What one identity policy (or permissions boundary) grants and denies,
/// before it is combined with the principal's other policies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyGrants {
    /// Allowed actions, `service:Action` in the catalogue's spelling.
    pub allowed: BTreeMap<String, Grant>,
    /// Actions an unconditional `Deny` on every resource removes.
    pub denied: BTreeSet<String>,
    /// Action patterns that match no action of the catalogue.
    pub unknown_patterns: BTreeSet<String>,
    pub not_evaluated: Vec<NotEvaluated>,
}

impl PolicyGrants {
    /// Expands a document named `via` (a managed policy ARN,
    /// `inline:<name>`, ...) against the catalogue.
    pub fn of(document: &PolicyDocument, via: &str, catalogue: &Catalogue) -> PolicyGrants {
        let mut grants = PolicyGrants::default();
        for problem in &document.problems {
            grants.not_evaluated(
                via,
                &problem.statement,
                format!("not read: {}", problem.reason),
            );
        }
        for statement in &document.statements {
            grants.add_statement(statement, via, catalogue);
        }
        grants
    }

    fn not_evaluated(&mut self, via: &str, statement: &str, reason: String) {
        self.not_evaluated.push(NotEvaluated {
            policy: via.to_owned(),
            statement: statement.to_owned(),
            reason,
        });
    }

    fn add_statement(&mut self, statement: &Statement, via: &str, catalogue: &Catalogue) {
        let label = statement.label();
        if statement.principal.is_some() || statement.not_principal.is_some() {
            self.not_evaluated(
                via,
                &label,
                "Principal in an identity policy is not evaluated".into(),
            );
        }
        let actions = self.matched_actions(statement, catalogue);
        let conditional = !statement.condition.is_empty();
        let every_resource = statement
            .resources
            .as_ref()
            .is_none_or(Resources::is_every_resource);
        match statement.effect {
            Effect::Allow => {
                if let Actions::NotAction(except) = &statement.actions {
                    self.not_evaluated(
                        via,
                        &label,
                        format!(
                            "broad: Allow with NotAction {} grants every other action, those AWS adds later included; evaluated as the catalogue's {} actions",
                            except.join(", "),
                            actions.len()
                        ),
                    );
                }
                if let Some(Resources::NotResource(except)) = &statement.resources {
                    self.not_evaluated(
                        via,
                        &label,
                        format!(
                            "NotResource {} not evaluated: the actions count as granted, scoped to resources",
                            except.join(", ")
                        ),
                    );
                }
                for action in actions {
                    let grant = Grant {
                        via: BTreeSet::from([via.to_owned()]),
                        conditional,
                        resource_scoped: !every_resource,
                    };
                    merge_grant(&mut self.allowed, action, grant);
                }
            }
            Effect::Deny if !conditional && every_resource => {
                self.denied.extend(actions.into_iter().map(str::to_owned));
            }
            Effect::Deny => {
                let why = match (conditional, every_resource) {
                    (true, true) => "a condition",
                    (false, _) => "specific resources",
                    (true, false) => "a condition and specific resources",
                };
                self.not_evaluated(
                    via,
                    &label,
                    format!(
                        "Deny with {why} not evaluated: its {} actions stay granted",
                        actions.len()
                    ),
                );
            }
        }
    }

    fn matched_actions<'c>(
        &mut self,
        statement: &Statement,
        catalogue: &'c Catalogue,
    ) -> Vec<&'c str> {
        let mut expand = |patterns: &[String]| -> BTreeSet<&'c str> {
            let mut matched = BTreeSet::new();
            for pattern in patterns {
                let expanded = catalogue.expand(pattern);
                if expanded.is_empty() {
                    self.unknown_patterns.insert(pattern.clone());
                }
                matched.extend(expanded);
            }
            matched
        };
        match &statement.actions {
            Actions::Action(patterns) => expand(patterns).into_iter().collect(),
            Actions::NotAction(patterns) => {
                let except = expand(patterns);
                catalogue
                    .actions()
                    .filter(|action| !except.contains(action))
                    .collect()
            }
        }
    }
}

/// Adds a grant of `action`: the policies are united; it stays conditional
/// (resource-scoped) only while every allowing statement is.
pub fn merge_grant(grants: &mut BTreeMap<String, Grant>, action: &str, grant: Grant) {
    match grants.get_mut(action) {
        Some(existing) => {
            existing.via.extend(grant.via);
            existing.conditional &= grant.conditional;
            existing.resource_scoped &= grant.resource_scoped;
        }
        None => {
            grants.insert(action.to_owned(), grant);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn catalogue() -> Catalogue {
        Catalogue::parse(
            "s3:GetObject\tRead\n\
             s3:GetBucketPolicy\tRead\n\
             s3:ListBucket\tList\n\
             s3:PutObject\tWrite\n\
             s3:DeleteBucket\tWrite\n\
             iam:PassRole\tWrite\n\
             iam:ListRoles\tList\n",
        )
        .unwrap()
    }

    fn grants(document: Value) -> PolicyGrants {
        PolicyGrants::of(
            &PolicyDocument::read(&document),
            "inline:test",
            &catalogue(),
        )
    }

    #[test]
    fn a_url_encoded_document_as_iam_returns_it_reads() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3AGet%2A%22%2C%22Resource%22%3A%22%2A%22%7D%7D";
        let document = PolicyDocument::read(&json!(encoded));
        assert!(document.problems.is_empty(), "{:?}", document.problems);
        assert_eq!(document.version.as_deref(), Some("2012-10-17"));
        assert_eq!(
            document.statements[0].actions,
            Actions::Action(vec!["s3:Get*".into()])
        );
        let plain = PolicyDocument::read(&json!(
            r#"{"Statement":[{"Effect":"Deny","NotAction":["iam:*"],"Resource":"*"}]}"#
        ));
        assert_eq!(
            plain.statements[0].actions,
            Actions::NotAction(vec!["iam:*".into()])
        );
    }

    #[test]
    fn allow_with_wildcards_grants_the_catalogue_actions() {
        let grants = grants(json!({"Statement": [
            {"Effect": "Allow", "Action": ["s3:Get*", "iam:listroles"], "Resource": "*"},
            {"Effect": "Allow", "Action": "ec2:Nothing*", "Resource": "*"}
        ]}));
        assert_eq!(
            grants.allowed.keys().collect::<Vec<_>>(),
            ["iam:ListRoles", "s3:GetBucketPolicy", "s3:GetObject"]
        );
        let grant = &grants.allowed["s3:GetObject"];
        assert!(!grant.conditional && !grant.resource_scoped);
        assert_eq!(grant.via, BTreeSet::from(["inline:test".to_owned()]));
        assert_eq!(
            grants.unknown_patterns,
            BTreeSet::from(["ec2:Nothing*".to_owned()])
        );
    }

    #[test]
    fn conditions_and_resources_mark_the_grant_until_an_unrestricted_statement_grants_it() {
        let grants = grants(json!({"Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*",
             "Condition": {"Bool": {"aws:SecureTransport": "true"}}},
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b"},
            {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": "*"},
            {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": "*",
             "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
        ]}));
        assert!(grants.allowed["s3:GetObject"].conditional);
        assert!(grants.allowed["s3:GetObject"].resource_scoped);
        assert!(!grants.allowed["s3:ListBucket"].conditional);
        assert!(grants.allowed["s3:ListBucket"].resource_scoped);
        assert!(!grants.allowed["s3:PutObject"].conditional);
        assert!(grants.not_evaluated.is_empty());
    }

    #[test]
    fn not_action_allows_the_rest_of_the_catalogue_and_says_it_is_broad() {
        let grants = grants(
            json!({"Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}}),
        );
        assert_eq!(
            grants.allowed.keys().collect::<Vec<_>>(),
            [
                "s3:DeleteBucket",
                "s3:GetBucketPolicy",
                "s3:GetObject",
                "s3:ListBucket",
                "s3:PutObject"
            ]
        );
        assert_eq!(grants.not_evaluated.len(), 1);
        assert!(
            grants.not_evaluated[0]
                .reason
                .starts_with("broad: Allow with NotAction iam:*")
        );
    }

    #[test]
    fn only_an_unconditional_deny_on_every_resource_denies() {
        let grants = grants(json!({"Statement": [
            {"Sid": "NoDelete", "Effect": "Deny", "Action": "s3:Delete*", "Resource": "*"},
            {"Sid": "NoPass", "Effect": "Deny", "Action": "iam:PassRole", "Resource": "*",
             "Condition": {"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}}},
            {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/*"}
        ]}));
        assert_eq!(
            grants.denied,
            BTreeSet::from(["s3:DeleteBucket".to_owned()])
        );
        let lines: Vec<(&str, &str)> = grants
            .not_evaluated
            .iter()
            .map(|line| (line.statement.as_str(), line.reason.as_str()))
            .collect();
        assert_eq!(
            lines,
            [
                (
                    "NoPass",
                    "Deny with a condition not evaluated: its 1 actions stay granted"
                ),
                (
                    "#2",
                    "Deny with specific resources not evaluated: its 1 actions stay granted"
                )
            ]
        );
    }

    #[test]
    fn every_unknown_shape_is_reported() {
        let document = PolicyDocument::read(&json!({
            "Version": "2012-10-17",
            "Extra": 1,
            "Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Odd": true},
                {"Effect": "Maybe", "Action": "s3:GetObject"},
                {"Sid": "S", "Effect": "Allow", "Action": 3},
                {"Effect": "Allow"},
                "text"
            ]
        }));
        let reasons: Vec<String> = document
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.statement, p.reason))
            .collect();
        assert_eq!(
            reasons,
            [
                "document: unknown element Extra",
                "#0: unknown element Odd",
                "#1: unknown Effect \"Maybe\"",
                "S: Action is not a string or a list of strings",
                "#3: neither Action nor NotAction",
                "#4: the statement is a string",
            ]
        );
        assert_eq!(document.statements.len(), 1);
        let grants = PolicyGrants::of(&document, "p", &catalogue());
        assert_eq!(grants.not_evaluated.len(), 6);
        assert!(grants.allowed.contains_key("s3:GetObject"));
        assert_eq!(
            PolicyDocument::read(&json!("%7Bnot json")).problems[0].statement,
            "document"
        );
        assert_eq!(PolicyDocument::read(&json!(null)).problems.len(), 1);
    }
}
