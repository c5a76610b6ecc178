//! Usage per (principal, action): what the ingest writes for each trail
//! object ([`UsageDoc`], to the archive and the index) and what the
//! evaluation merges over a window ([`WindowUsage`]).
//!
//! The types below are the contract the report and the evaluation code
//! against. [`Aggregator`] folds one object's records into its documents;
//! memory is bounded by its (principal, action) keys and the distinct
//! (event source, event name) pairs it has resolved, never by the records.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::actions::{self, Resolution};
use super::principal::{Principal, PrincipalKind};
use super::trail::{Actor, DENIED_CODES, Malformed, Record};

/// The aggregation's tables: a fixed-seed hasher (keys are ARNs and names
/// from one account's own trail, not chosen to collide).
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

fn table<K, V>() -> HashMap<K, V> {
    HashMap::with_hasher(foldhash::fast::FixedState::with_seed(0x5eed))
}

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

impl UsageDoc {
    /// Hex of the first 16 bytes of SHA-256 over
    /// `object_id + "\n" + principal ARN + "\n" + action` (a newline is in
    /// none of them).
    pub fn id_of(object_id: &str, principal_arn: &str, action: &str) -> String {
        let mut hasher = Sha256::new();
        for (at, part) in [object_id, principal_arn, action].into_iter().enumerate() {
            if at > 0 {
                hasher.update(b"\n");
            }
            hasher.update(part.as_bytes());
        }
        hex::encode(&hasher.finalize()[..16])
    }
}

impl ActionUse {
    fn merge(&mut self, other: &ActionUse) {
        self.first_seen = self.first_seen.min(other.first_seen);
        self.last_seen = self.last_seen.max(other.last_seen);
        self.count += other.count;
        self.denied += other.denied;
        // The same action is mapped alike everywhere; if catalogues
        // differed between objects, the surer mapping wins.
        self.mapping = self.mapping.min(other.mapping);
        self.event_names.extend(other.event_names.iter().cloned());
    }
}

impl WindowUsage {
    /// Adds one document (the same document added twice counts twice:
    /// read each archive object once).
    pub fn add(&mut self, document: &UsageDoc) {
        self.accounts.insert(document.recipient_account.clone());
        let use_ = ActionUse {
            first_seen: document.first_seen,
            last_seen: document.last_seen,
            count: document.count,
            denied: document.denied,
            mapping: document.mapping,
            event_names: document.event_names.iter().cloned().collect(),
        };
        let principal = self
            .principals
            .entry(document.principal_arn.clone())
            .or_insert_with(|| PrincipalUsage {
                principal: Principal {
                    arn: document.principal_arn.clone(),
                    account: document.account.clone(),
                    kind: document.principal_kind,
                },
                actions: BTreeMap::new(),
            });
        match principal.actions.get_mut(&document.action) {
            Some(existing) => existing.merge(&use_),
            None => {
                principal.actions.insert(document.action.clone(), use_);
            }
        }
    }

    /// Folds another window's usage (another batch of objects) into this.
    pub fn merge(&mut self, other: WindowUsage) {
        self.accounts.extend(other.accounts);
        for (arn, usage) in other.principals {
            match self.principals.get_mut(&arn) {
                None => {
                    self.principals.insert(arn, usage);
                }
                Some(mine) => {
                    for (action, use_) in usage.actions {
                        match mine.actions.get_mut(&action) {
                            Some(existing) => existing.merge(&use_),
                            None => {
                                mine.actions.insert(action, use_);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// What one object's records were, counted (the ingest logs it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageStats {
    /// Elements of `Records`.
    pub records: u64,
    /// Calls aggregated (a principal's own API calls).
    pub calls: u64,
    /// Of those, refused ([`DENIED_CODES`]).
    pub denied: u64,
    /// Made by AWS services, for a principal or on their own.
    pub skipped_service: u64,
    /// `AWSAccount` callers: another account, identity not shared.
    pub skipped_other_account: u64,
    /// The other account's copy of a shared event.
    pub skipped_shared_copy: u64,
    /// Sign-in, console and other events that are not API calls, and
    /// sign-in events of `signin.amazonaws.com`.
    pub skipped_not_action: u64,
    /// Identities without an IAM principal (SAML, web identity, Identity
    /// Center users before a role, unknown).
    pub unattributed: u64,
    /// Records that could not be read.
    pub malformed: u64,
    /// Calls whose action is [`Mapping::Unknown`].
    pub unknown_mapping: u64,
}

/// A malformed record: its index in `Records` and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MalformedRecord {
    pub index: u64,
    pub reason: &'static str,
    pub detail: String,
}

/// Malformed records listed per object (all are counted).
pub const MALFORMED_LISTED: usize = 1000;

#[derive(Debug)]
struct Accumulated {
    first_seen: i64,
    last_seen: i64,
    count: u64,
    denied: u64,
    mapping: Mapping,
    /// Indexes in [`Aggregator::event_names`] (usually one).
    event_names: Vec<u32>,
}

#[derive(Debug)]
struct PrincipalAccumulated {
    account: String,
    kind: PrincipalKind,
    /// By index in [`Aggregator::actions`].
    actions: HashMap<u32, Accumulated>,
}

/// An event name's resolution, with the action and the name interned.
#[derive(Debug, Clone, Copy)]
enum Resolved {
    Action {
        action: u32,
        mapping: Mapping,
        event_name: u32,
    },
    NotAnAction,
}

/// One object's aggregation: (principal ARN, action) → use.
pub struct Aggregator<'c> {
    is_action: &'c dyn Fn(&str) -> bool,
    /// Event source → event name → its resolution, so a name is resolved
    /// (and its strings built) once per object.
    resolved: HashMap<String, HashMap<String, Resolved>>,
    /// The actions and event names resolved, interned: a call costs two
    /// string lookups for its event and one for its principal.
    actions: Vec<String>,
    action_ids: HashMap<String, u32>,
    event_names: Vec<String>,
    principals: HashMap<String, PrincipalAccumulated>,
    stats: UsageStats,
    malformed: Vec<MalformedRecord>,
}

impl<'c> Aggregator<'c> {
    /// `is_action`: whether the catalogue has an action
    /// (`Catalogue::embedded()`'s answer), see [`actions::resolve`].
    pub fn new(is_action: &'c dyn Fn(&str) -> bool) -> Self {
        Self {
            is_action,
            resolved: table(),
            actions: Vec::new(),
            action_ids: table(),
            event_names: Vec::new(),
            principals: table(),
            stats: UsageStats::default(),
            malformed: Vec::new(),
        }
    }

    pub fn stats(&self) -> &UsageStats {
        &self.stats
    }

    /// The first [`MALFORMED_LISTED`] malformed records.
    pub fn malformed(&self) -> &[MalformedRecord] {
        &self.malformed
    }

    /// (principal, action) keys held.
    pub fn key_count(&self) -> usize {
        self.principals.values().map(|p| p.actions.len()).sum()
    }

    /// An event's resolution, resolved at its first call.
    fn resolve(&mut self, event_source: &str, event_name: &str) -> Resolved {
        if let Some(resolved) = self
            .resolved
            .get(event_source)
            .and_then(|names| names.get(event_name))
        {
            return *resolved;
        }
        let resolved = match actions::resolve(event_source, event_name, self.is_action) {
            Resolution::NotAnAction => Resolved::NotAnAction,
            Resolution::Action { action, mapping } => {
                let next = self.actions.len() as u32;
                let action = *self.action_ids.entry(action).or_insert_with_key(|action| {
                    self.actions.push(action.clone());
                    next
                });
                self.event_names.push(event_name.to_owned());
                Resolved::Action {
                    action,
                    mapping,
                    event_name: self.event_names.len() as u32 - 1,
                }
            }
        };
        self.resolved
            .entry(event_source.to_owned())
            .or_insert_with(table)
            .insert(event_name.to_owned(), resolved);
        resolved
    }

    /// One element of `Records`, as [`super::trail::read_records`] hands it.
    pub fn add(&mut self, index: u64, record: Result<&Record<'_>, Malformed>) {
        self.stats.records += 1;
        let call = match record.and_then(|record| record.call()) {
            Ok(call) => call,
            Err(why) => {
                self.stats.malformed += 1;
                if self.malformed.len() < MALFORMED_LISTED {
                    self.malformed.push(MalformedRecord {
                        index,
                        reason: why.code(),
                        detail: why.to_string(),
                    });
                }
                return;
            }
        };
        let principal = match call.actor {
            Actor::Principal(principal) => principal,
            Actor::Service => return self.stats.skipped_service += 1,
            Actor::OtherAccount => return self.stats.skipped_other_account += 1,
            Actor::SharedCopy => return self.stats.skipped_shared_copy += 1,
            Actor::NotAnApiCall => return self.stats.skipped_not_action += 1,
            Actor::Unattributed => return self.stats.unattributed += 1,
        };
        let Resolved::Action {
            action,
            mapping,
            event_name,
        } = self.resolve(call.event_source, call.event_name)
        else {
            return self.stats.skipped_not_action += 1;
        };
        let denied = call
            .error_code
            .is_some_and(|code| DENIED_CODES.contains(&code));
        self.stats.calls += 1;
        self.stats.denied += u64::from(denied);
        self.stats.unknown_mapping += u64::from(mapping == Mapping::Unknown);
        let entry = match self.principals.get_mut(principal.arn.as_ref()) {
            Some(entry) => entry,
            None => self
                .principals
                .entry(principal.arn.clone().into_owned())
                .or_insert_with(|| PrincipalAccumulated {
                    account: principal.account.to_owned(),
                    kind: principal.kind,
                    actions: table(),
                }),
        };
        match entry.actions.get_mut(&action) {
            Some(use_) => {
                use_.first_seen = use_.first_seen.min(call.time);
                use_.last_seen = use_.last_seen.max(call.time);
                use_.count += 1;
                use_.denied += u64::from(denied);
                // Several names, one action: the surest mapping says it.
                use_.mapping = use_.mapping.min(mapping);
                if !use_.event_names.contains(&event_name) {
                    use_.event_names.push(event_name);
                }
            }
            None => {
                entry.actions.insert(
                    action,
                    Accumulated {
                        first_seen: call.time,
                        last_seen: call.time,
                        count: 1,
                        denied: u64::from(denied),
                        mapping,
                        event_names: vec![event_name],
                    },
                );
            }
        }
    }

    /// The object's documents, sorted by principal and action.
    /// `recipient_account`, `region` and `day` (`YYYY-MM-DD`) are the
    /// object's, from its key.
    pub fn documents(
        &self,
        object_id: &str,
        recipient_account: &str,
        region: &str,
        day: &str,
    ) -> Vec<UsageDoc> {
        let mut documents: Vec<UsageDoc> = self
            .principals
            .iter()
            .flat_map(|(arn, principal)| {
                principal.actions.iter().map(move |(&action, use_)| {
                    let action = &self.actions[action as usize];
                    let event_names: BTreeSet<&String> = use_
                        .event_names
                        .iter()
                        .map(|&name| &self.event_names[name as usize])
                        .collect();
                    UsageDoc {
                        id: UsageDoc::id_of(object_id, arn, action),
                        object_id: object_id.to_owned(),
                        account: principal.account.clone(),
                        principal_arn: arn.clone(),
                        principal_kind: principal.kind,
                        action: action.clone(),
                        mapping: use_.mapping,
                        event_names: event_names.into_iter().cloned().collect(),
                        recipient_account: recipient_account.to_owned(),
                        region: region.to_owned(),
                        day: day.to_owned(),
                        first_seen: use_.first_seen,
                        last_seen: use_.last_seen,
                        count: use_.count,
                        denied: use_.denied,
                    }
                })
            })
            .collect();
        documents.sort_by(|a, b| (&a.principal_arn, &a.action).cmp(&(&b.principal_arn, &b.action)));
        documents
    }
}

#[cfg(test)]
mod tests {
    use super::super::trail::read_slice;
    use super::*;

    fn catalogue(action: &str) -> bool {
        [
            "s3:GetObject",
            "s3:ListBucket",
            "sts:AssumeRole",
            "ec2:DescribeInstances",
        ]
        .contains(&action)
    }

    fn record(time: &str, identity: &str, source: &str, name: &str, extra: &str) -> String {
        format!(
            r#"{{"eventVersion":"1.09","eventTime":"{time}","eventSource":"{source}","eventName":"{name}","awsRegion":"eu-west-1","recipientAccountId":"111122223333","userIdentity":{identity}{extra}}}"#
        )
    }

    const ALICE: &str = r#"{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333"}"#;
    const APP: &str = r#"{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/app/s1","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/app"}}}"#;
    const APP_OTHER_SESSION: &str = r#"{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/app/s2","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/app"}}}"#;

    fn aggregate(records: &[String]) -> (Vec<UsageDoc>, UsageStats, Vec<MalformedRecord>) {
        let bytes = format!(r#"{{"Records":[{}]}}"#, records.join(","));
        let mut aggregator = Aggregator::new(&catalogue);
        read_slice(bytes.as_bytes(), |index, record| {
            aggregator.add(index, record)
        })
        .unwrap();
        (
            aggregator.documents(
                "ab".repeat(16).as_str(),
                "111122223333",
                "eu-west-1",
                "2026-11-30",
            ),
            aggregator.stats().clone(),
            aggregator.malformed().to_vec(),
        )
    }

    #[test]
    fn calls_fold_per_principal_and_action_with_first_last_count_and_denied() {
        let (documents, stats, malformed) = aggregate(&[
            record(
                "2026-11-30T10:00:00Z",
                APP,
                "s3.amazonaws.com",
                "GetObject",
                "",
            ),
            record(
                "2026-11-30T09:00:00Z",
                APP_OTHER_SESSION,
                "s3.amazonaws.com",
                "HeadObject",
                "",
            ),
            record(
                "2026-11-30T11:00:00Z",
                APP,
                "s3.amazonaws.com",
                "GetObject",
                r#","errorCode":"AccessDenied""#,
            ),
            record(
                "2026-11-30T12:00:00Z",
                ALICE,
                "ec2.amazonaws.com",
                "DescribeInstances",
                r#","errorCode":"Client.UnauthorizedOperation""#,
            ),
            record(
                "2026-11-30T12:00:01Z",
                ALICE,
                "ec2.amazonaws.com",
                "RunInstances",
                r#","errorCode":"Client.InvalidParameterValue""#,
            ),
            record(
                "2026-11-30T12:00:02Z",
                ALICE,
                "signin.amazonaws.com",
                "ConsoleLogin",
                "",
            ),
            record(
                "2026-11-30T12:00:03Z",
                r#"{"type":"AWSService","invokedBy":"ec2.amazonaws.com"}"#,
                "sts.amazonaws.com",
                "AssumeRole",
                "",
            ),
            record("not a time", ALICE, "s3.amazonaws.com", "GetObject", ""),
        ]);
        assert_eq!(
            malformed,
            vec![MalformedRecord {
                index: 7,
                reason: "bad_time",
                detail: "eventTime is not an RFC 3339 time".into()
            }]
        );
        assert_eq!(
            stats,
            UsageStats {
                records: 8,
                calls: 5,
                denied: 2,
                skipped_service: 1,
                skipped_not_action: 1,
                malformed: 1,
                unknown_mapping: 1,
                ..UsageStats::default()
            }
        );
        type Row<'a> = (&'a str, &'a str, Mapping, Vec<String>, i64, i64, u64, u64);
        let summary: Vec<Row> = documents
            .iter()
            .map(|d| {
                (
                    d.principal_arn.as_str(),
                    d.action.as_str(),
                    d.mapping,
                    d.event_names.clone(),
                    d.first_seen,
                    d.last_seen,
                    d.count,
                    d.denied,
                )
            })
            .collect();
        let t = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp();
        assert_eq!(
            summary,
            vec![
                (
                    "arn:aws:iam::111122223333:role/app",
                    "s3:GetObject",
                    Mapping::Derived,
                    vec!["GetObject".to_owned(), "HeadObject".to_owned()],
                    t("2026-11-30T09:00:00Z"),
                    t("2026-11-30T11:00:00Z"),
                    3,
                    1
                ),
                (
                    "arn:aws:iam::111122223333:user/alice",
                    "ec2:DescribeInstances",
                    Mapping::Derived,
                    vec!["DescribeInstances".to_owned()],
                    t("2026-11-30T12:00:00Z"),
                    t("2026-11-30T12:00:00Z"),
                    1,
                    1
                ),
                (
                    "arn:aws:iam::111122223333:user/alice",
                    "ec2:RunInstances",
                    Mapping::Unknown,
                    vec!["RunInstances".to_owned()],
                    t("2026-11-30T12:00:01Z"),
                    t("2026-11-30T12:00:01Z"),
                    1,
                    0
                ),
            ]
        );
        let role = &documents[0];
        assert_eq!(role.principal_kind, PrincipalKind::Role);
        assert_eq!(role.recipient_account, "111122223333");
        assert_eq!(role.day, "2026-11-30");
        assert_eq!(
            role.id,
            UsageDoc::id_of(
                &"ab".repeat(16),
                "arn:aws:iam::111122223333:role/app",
                "s3:GetObject"
            )
        );
        assert_eq!(role.id.len(), 32);
        assert_ne!(documents[1].id, documents[2].id);
    }

    #[test]
    fn the_same_object_gives_the_same_documents_and_the_window_merges_them() {
        let records = [
            record(
                "2026-11-30T10:00:00Z",
                APP,
                "s3.amazonaws.com",
                "GetObject",
                "",
            ),
            record(
                "2026-11-30T10:05:00Z",
                ALICE,
                "s3.amazonaws.com",
                "ListObjectsV2",
                "",
            ),
        ];
        let (first, _, _) = aggregate(&records);
        let (again, _, _) = aggregate(&records);
        assert_eq!(first, again);
        let mut day_one = WindowUsage::default();
        for document in &first {
            day_one.add(document);
        }
        let mut later = first[0].clone();
        later.first_seen += 86_400;
        later.last_seen += 86_400;
        later.count = 4;
        later.denied = 2;
        later.recipient_account = "444455556666".into();
        later.event_names = vec!["HeadObject".into()];
        let mut day_two = WindowUsage::default();
        day_two.add(&later);
        day_one.merge(day_two);
        assert_eq!(
            day_one.accounts,
            BTreeSet::from(["111122223333".to_owned(), "444455556666".to_owned()])
        );
        let app = &day_one.principals["arn:aws:iam::111122223333:role/app"];
        assert_eq!(app.principal.kind, PrincipalKind::Role);
        let get = &app.actions["s3:GetObject"];
        assert_eq!((get.count, get.denied), (5, 2));
        assert_eq!(get.first_seen, first[0].first_seen);
        assert_eq!(get.last_seen, first[0].last_seen + 86_400);
        assert_eq!(
            get.event_names,
            BTreeSet::from(["GetObject".to_owned(), "HeadObject".to_owned()])
        );
        let alice = &day_one.principals["arn:aws:iam::111122223333:user/alice"];
        assert_eq!(alice.actions["s3:ListBucket"].mapping, Mapping::Mapped);
    }
}
