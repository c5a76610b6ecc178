//! In-memory implementations of every port, for handler tests, benchmarks
//! and trying the pipeline without AWS. They keep what was written, count
//! calls per operation, and can be told to fail.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use aws_credential_types::Credentials;
use serde_json::Value;

use crate::ids::{AccountId, Region};
use crate::model::{ClassicFinding, InstanceRecord, SecurityGroupRecord};
use crate::ports::*;

/// One fake of all outside systems.
#[derive(Default)]
pub struct InMemory {
    /// Inspector Classic findings by ARN.
    pub classic: HashMap<String, ClassicFinding>,
    /// DescribeFindings failedItems to answer.
    pub failed: Vec<FailedItem>,
    pub instances: HashMap<String, InstanceRecord>,
    pub groups: HashMap<String, SecurityGroupRecord>,
    /// Accounts whose role denies AssumeRole.
    pub denied_accounts: std::collections::HashSet<String>,
    /// The organization's member accounts; `None`: no account list.
    pub organization: Option<std::collections::HashSet<String>>,
    /// Objects written, by key.
    pub objects: Mutex<HashMap<String, Vec<u8>>>,
    /// Documents by index, then `_id`, with OpenSearch's write semantics.
    pub indices: Mutex<HashMap<String, HashMap<String, FakeDocument>>>,
    /// While true, PutObject under `findings/` fails transiently.
    pub archive_down: Mutex<bool>,
    /// The next this many bulk items answer 429 (`es_rejected_execution_exception`)
    /// without being applied, as a busy cluster does.
    pub reject_next_items: Mutex<usize>,
    /// Index templates installed, by name.
    pub templates: Mutex<HashMap<String, Value>>,
    /// Aliases, by name: the index each writes to.
    pub aliases: Mutex<HashMap<String, String>>,
    /// Whether the cluster has the ISM plugin (off by default, as on
    /// osmem-server).
    pub ism_available: bool,
    /// ISM policies by id: the stored `policy` object and its `_seq_no`.
    pub ism_policies: Mutex<HashMap<String, (Value, i64)>>,
    seq_no: Mutex<i64>,
    calls: Mutex<BTreeMap<&'static str, usize>>,
}

/// A stored document: its version (external or internal), `_seq_no` and body.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeDocument {
    pub version: i64,
    pub seq_no: i64,
    pub source: Value,
}

/// The primary term of every fake document.
const PRIMARY_TERM: i64 = 1;

impl InMemory {
    /// The index a name stands for: an alias's write index, or the name.
    fn resolve(&self, name: &str) -> String {
        self.aliases
            .lock()
            .expect("not poisoned")
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_owned())
    }

    /// The documents of one index (or of an alias's index), by `_id`.
    pub fn index(&self, index: &str) -> HashMap<String, FakeDocument> {
        let index = self.resolve(index);
        self.indices
            .lock()
            .expect("not poisoned")
            .get(&index)
            .cloned()
            .unwrap_or_default()
    }

    /// Replaces one document's body, as another writer would.
    pub fn overwrite(&self, index: &str, id: &str, source: Value) {
        let seq_no = self.next_seq_no();
        self.indices
            .lock()
            .expect("not poisoned")
            .entry(index.to_owned())
            .or_default()
            .entry(id.to_owned())
            .and_modify(|d| {
                d.source = source.clone();
                d.seq_no = seq_no;
            })
            .or_insert(FakeDocument {
                version: 1,
                seq_no,
                source,
            });
    }

    fn next_seq_no(&self) -> i64 {
        let mut seq_no = self.seq_no.lock().expect("not poisoned");
        *seq_no += 1;
        *seq_no
    }

    /// Applies one bulk action as OpenSearch does; answers its status.
    fn apply(&self, kind: &str, action: &Value, source: Value) -> u16 {
        let index = self.resolve(action["_index"].as_str().unwrap_or_default());
        let id = action["_id"].as_str().unwrap_or_default().to_owned();
        let seq_no = self.next_seq_no();
        let mut indices = self.indices.lock().expect("not poisoned");
        let documents = indices.entry(index).or_default();
        let stored = documents.get(&id);
        let written = |version| FakeDocument {
            version,
            seq_no,
            source: source.clone(),
        };
        let next_version = stored.map_or(1, |d| d.version + 1);
        match kind {
            "create" if stored.is_some() => 409,
            "create" => {
                documents.insert(id, written(1));
                201
            }
            "delete" => match documents.remove(&id) {
                Some(_) => 200,
                None => 404,
            },
            _ if action.get("version_type").and_then(Value::as_str) == Some("external") => {
                let version = action["version"].as_i64().unwrap_or_default();
                match stored {
                    Some(d) if d.version >= version => 409,
                    _ => {
                        documents.insert(id, written(version));
                        201
                    }
                }
            }
            _ if action.get("if_seq_no").is_some() => {
                let expected = (
                    action["if_seq_no"].as_i64(),
                    action["if_primary_term"].as_i64(),
                );
                match stored {
                    Some(d) if expected == (Some(d.seq_no), Some(PRIMARY_TERM)) => {
                        documents.insert(id, written(next_version));
                        200
                    }
                    _ => 409,
                }
            }
            _ => {
                documents.insert(id, written(next_version));
                if next_version == 1 { 201 } else { 200 }
            }
        }
    }

    fn count(&self, operation: &'static str) {
        *self
            .calls
            .lock()
            .expect("not poisoned")
            .entry(operation)
            .or_default() += 1;
    }

    /// Calls made per operation (AssumeRole, DescribeFindings, ...).
    pub fn calls(&self) -> BTreeMap<&'static str, usize> {
        self.calls.lock().expect("not poisoned").clone()
    }

    pub fn reset_calls(&self) {
        self.calls.lock().expect("not poisoned").clear();
    }
}

#[async_trait]
impl SessionProvider for InMemory {
    async fn session(&self, account: &AccountId) -> Result<AccountSession, CallError> {
        self.count("AssumeRole");
        tokio::task::yield_now().await;
        if self.denied_accounts.contains(account.as_str()) {
            return Err(CallError::Denied {
                operation: "AssumeRole",
                code: "AccessDenied".into(),
                message: format!("not authorized to assume the role in {account}"),
            });
        }
        Ok(AccountSession {
            account: account.clone(),
            credentials: Credentials::new("AKID", "secret", None, None, "fake"),
        })
    }
}

#[async_trait]
impl ClassicFindingsSource for InMemory {
    async fn describe_findings(
        &self,
        _: &AccountSession,
        _: &Region,
        arns: &[String],
    ) -> Result<DescribedFindings, CallError> {
        self.count("DescribeFindings");
        if arns.is_empty() || arns.len() > CLASSIC_DESCRIBE_LIMIT {
            return Err(CallError::Rejected {
                operation: "DescribeFindings",
                code: "ValidationException".into(),
                message: format!("{} ARNs", arns.len()),
            });
        }
        Ok(DescribedFindings {
            findings: arns
                .iter()
                .filter_map(|a| self.classic.get(a).cloned())
                .collect(),
            failed: self
                .failed
                .iter()
                .filter(|f| arns.contains(&f.arn))
                .cloned()
                .collect(),
        })
    }
}

#[async_trait]
impl NetworkInventory for InMemory {
    async fn describe_instances(
        &self,
        _: &AccountSession,
        _: &Region,
        ids: &[String],
    ) -> Result<Vec<InstanceRecord>, CallError> {
        self.count("DescribeInstances");
        Ok(ids
            .iter()
            .filter_map(|id| self.instances.get(id).cloned())
            .collect())
    }

    async fn describe_security_groups(
        &self,
        _: &AccountSession,
        _: &Region,
        ids: &[String],
    ) -> Result<Vec<SecurityGroupRecord>, CallError> {
        self.count("DescribeSecurityGroups");
        Ok(ids
            .iter()
            .filter_map(|id| self.groups.get(id).cloned())
            .collect())
    }
}

#[async_trait]
impl ObjectStore for InMemory {
    async fn put_object(&self, key: &str, body: Vec<u8>, _: ObjectKind) -> Result<(), CallError> {
        self.count("PutObject");
        tokio::task::yield_now().await;
        if *self.archive_down.lock().expect("not poisoned") && key.starts_with("findings/") {
            return Err(CallError::transient(
                "PutObject",
                "ServiceUnavailable",
                "archive down",
            ));
        }
        self.objects
            .lock()
            .expect("not poisoned")
            .insert(key.to_owned(), body);
        Ok(())
    }

    async fn object_exists(&self, key: &str) -> Result<bool, CallError> {
        self.count("HeadObject");
        Ok(self.objects.lock().expect("not poisoned").contains_key(key))
    }

    async fn get_object(&self, key: &str) -> Result<Option<Vec<u8>>, CallError> {
        self.count("GetObject");
        Ok(self.objects.lock().expect("not poisoned").get(key).cloned())
    }
}

#[async_trait]
impl SearchIndexer for InMemory {
    async fn install_template(&self, name: &str, template: &Value) -> Result<(), CallError> {
        self.count("PutIndexTemplate");
        self.templates
            .lock()
            .expect("not poisoned")
            .insert(name.to_owned(), template.clone());
        Ok(())
    }

    async fn get_documents(
        &self,
        index: &str,
        ids: &[String],
    ) -> Result<HashMap<String, StoredDocument>, CallError> {
        self.count("Mget");
        tokio::task::yield_now().await;
        let documents = self.index(index);
        Ok(ids
            .iter()
            .filter_map(|id| {
                let stored = documents.get(id)?;
                let document = StoredDocument {
                    source: stored.source.clone(),
                    seq_no: stored.seq_no,
                    primary_term: PRIMARY_TERM,
                };
                Some((id.clone(), document))
            })
            .collect())
    }

    /// Applies `index` (external versioning, `if_seq_no`, or plain),
    /// `create` and `delete` as OpenSearch does. Like OpenSearch, a request
    /// with a negative external version is refused as a whole.
    async fn bulk(&self, ndjson: Vec<u8>) -> Result<Vec<BulkItemStatus>, CallError> {
        self.count("Bulk");
        tokio::task::yield_now().await;
        let text = String::from_utf8(ndjson)
            .map_err(|e| CallError::transient("Bulk", "decode", e.to_string()))?;
        let mut lines = text.lines();
        let mut actions: Vec<(String, Value, Value)> = Vec::new();
        while let Some(line) = lines.next() {
            let action: Value = serde_json::from_str(line).unwrap_or_default();
            let Some((kind, meta)) = action.as_object().and_then(|o| o.iter().next()) else {
                return Err(CallError::Rejected {
                    operation: "Bulk",
                    code: "illegal_argument_exception".into(),
                    message: "malformed action line".into(),
                });
            };
            let source = if kind == "delete" {
                Value::Null
            } else {
                lines
                    .next()
                    .and_then(|d| serde_json::from_str(d).ok())
                    .unwrap_or_default()
            };
            if meta["version"].as_i64().is_some_and(|v| v < 0) {
                return Err(CallError::Rejected {
                    operation: "Bulk",
                    code: "action_request_validation_exception".into(),
                    message: "Validation Failed: 1: illegal version value [-1] for version type [EXTERNAL];".into(),
                });
            }
            actions.push((kind.clone(), meta.clone(), source));
        }
        let mut statuses = Vec::new();
        for (kind, meta, source) in actions {
            let action = serde_json::from_value(Value::String(kind.clone()))
                .map_err(|e| CallError::transient("Bulk", "decode", e.to_string()))?;
            let id = meta["_id"].as_str().unwrap_or_default().to_owned();
            let rejected = {
                let mut left = self.reject_next_items.lock().expect("not poisoned");
                let rejected = *left > 0;
                *left = left.saturating_sub(1);
                rejected
            };
            statuses.push(if rejected {
                BulkItemStatus {
                    action,
                    id,
                    status: 429,
                    error_type: Some("es_rejected_execution_exception".into()),
                    reason: Some("rejected execution".into()),
                }
            } else {
                BulkItemStatus {
                    action,
                    id,
                    status: self.apply(&kind, &meta, source),
                    error_type: None,
                    reason: None,
                }
            });
        }
        Ok(statuses)
    }

    async fn index_exists(&self, name: &str) -> Result<bool, CallError> {
        self.count("IndexExists");
        Ok(self
            .aliases
            .lock()
            .expect("not poisoned")
            .contains_key(name)
            || self
                .indices
                .lock()
                .expect("not poisoned")
                .contains_key(name))
    }

    /// Creates the index and its aliases (a later alias of the same name
    /// points at this index), as OpenSearch does.
    async fn create_index(&self, name: &str, body: &Value) -> Result<IndexCreation, CallError> {
        self.count("CreateIndex");
        let mut aliases = self.aliases.lock().expect("not poisoned");
        let mut indices = self.indices.lock().expect("not poisoned");
        if aliases.contains_key(name) {
            return Err(CallError::Rejected {
                operation: "CreateIndex",
                code: "invalid_index_name_exception".into(),
                message: format!("an alias is named {name}"),
            });
        }
        if indices.contains_key(name) {
            return Ok(IndexCreation::AlreadyExists);
        }
        let wanted: Vec<String> = body["aliases"]
            .as_object()
            .map(|a| a.keys().cloned().collect())
            .unwrap_or_default();
        if let Some(taken) = wanted.iter().find(|a| indices.contains_key(*a)) {
            return Err(CallError::Rejected {
                operation: "CreateIndex",
                code: "invalid_alias_name_exception".into(),
                message: format!("an index exists with the same name as the alias [{taken}]"),
            });
        }
        indices.insert(name.to_owned(), HashMap::new());
        for alias in wanted {
            aliases.insert(alias, name.to_owned());
        }
        Ok(IndexCreation::Created)
    }
}

#[async_trait]
impl SearchAdmin for InMemory {
    fn endpoint(&self) -> String {
        "in-memory".into()
    }

    async fn get_template(&self, name: &str) -> Result<Option<Value>, CallError> {
        self.count("GetIndexTemplate");
        Ok(self
            .templates
            .lock()
            .expect("not poisoned")
            .get(name)
            .cloned())
    }

    /// A stored policy comes back with what ISM adds to it (its id and the
    /// time of the last update).
    async fn get_ism_policy(&self, id: &str) -> Result<PolicyLookup, CallError> {
        self.count("GetIsmPolicy");
        if !self.ism_available {
            return Ok(PolicyLookup::Unavailable(
                "400: no handler found for uri".into(),
            ));
        }
        Ok(
            match self.ism_policies.lock().expect("not poisoned").get(id) {
                Some((policy, seq_no)) => PolicyLookup::Found(StoredPolicy {
                    policy: policy.clone(),
                    seq_no: *seq_no,
                    primary_term: PRIMARY_TERM,
                }),
                None => PolicyLookup::Missing,
            },
        )
    }

    async fn put_ism_policy(
        &self,
        id: &str,
        body: &Value,
        if_unchanged: Option<(i64, i64)>,
    ) -> Result<(), CallError> {
        self.count("PutIsmPolicy");
        let rejected = |code: &str, message: &str| CallError::Rejected {
            operation: "PutIsmPolicy",
            code: code.into(),
            message: message.into(),
        };
        if !self.ism_available {
            return Err(rejected("400", "no handler found for uri"));
        }
        let seq_no = self.next_seq_no();
        let mut policies = self.ism_policies.lock().expect("not poisoned");
        let stored = policies.get(id).map(|(_, s)| (*s, PRIMARY_TERM));
        if stored != if_unchanged {
            return Err(rejected(
                "version_conflict_engine_exception",
                "the policy changed since it was read",
            ));
        }
        let mut policy = body["policy"].clone();
        policy["policy_id"] = Value::String(id.to_owned());
        policy["last_updated_time"] = Value::from(seq_no);
        policies.insert(id.to_owned(), (policy, seq_no));
        Ok(())
    }
}

#[async_trait]
impl AccountDirectory for InMemory {
    async fn is_member(&self, account: &AccountId) -> Result<Option<bool>, CallError> {
        self.count("AccountList");
        Ok(self
            .organization
            .as_ref()
            .map(|members| members.contains(account.as_str())))
    }
}

/// Ports that all point at one [`InMemory`].
pub fn ports(world: std::sync::Arc<InMemory>) -> crate::pipeline::Ports {
    crate::pipeline::Ports {
        sessions: world.clone(),
        classic: world.clone(),
        inventory: world.clone(),
        objects: world.clone(),
        directory: world.clone(),
        search: world,
    }
}
