//! In-memory implementations of every port, for handler tests, benchmarks
//! and trying the pipeline without AWS. They keep what was written, count
//! calls per operation, and can be told to fail.

use std::collections::{BTreeMap, HashMap, HashSet};
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
    /// Objects written, by key.
    pub objects: Mutex<HashMap<String, Vec<u8>>>,
    /// Index documents by `_id`: (external version, document).
    pub documents: Mutex<HashMap<String, (i64, Value)>>,
    /// Ledger ids.
    pub ledger: Mutex<HashSet<String>>,
    /// While true, PutObject under `findings/` fails transiently.
    pub archive_down: Mutex<bool>,
    calls: Mutex<BTreeMap<&'static str, usize>>,
}

impl InMemory {
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
impl ObjectWriter for InMemory {
    async fn put_object(&self, key: &str, body: Vec<u8>, _: ObjectKind) -> Result<(), CallError> {
        self.count("PutObject");
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
}

#[async_trait]
impl SearchIndexer for InMemory {
    async fn install_template(&self, _: &str, _: &Value) -> Result<(), CallError> {
        self.count("PutIndexTemplate");
        Ok(())
    }

    async fn existing_ids(&self, _: &str, ids: &[String]) -> Result<HashSet<String>, CallError> {
        self.count("Mget");
        let ledger = self.ledger.lock().expect("not poisoned");
        Ok(ids
            .iter()
            .filter(|id| ledger.contains(*id))
            .cloned()
            .collect())
    }

    /// Applies `index` (external versioning: 409 when not newer) and
    /// `create` (409 when present) as OpenSearch does.
    async fn bulk(&self, ndjson: Vec<u8>) -> Result<Vec<BulkItemStatus>, CallError> {
        self.count("Bulk");
        let text = String::from_utf8(ndjson)
            .map_err(|e| CallError::transient("Bulk", "decode", e.to_string()))?;
        let lines: Vec<&str> = text.lines().collect();
        let mut statuses = Vec::new();
        for pair in lines.chunks(2) {
            let action: Value = serde_json::from_str(pair[0]).unwrap_or_default();
            let document: Value = pair
                .get(1)
                .and_then(|d| serde_json::from_str(d).ok())
                .unwrap_or_default();
            let status = if let Some(index) = action.get("index") {
                let version = index["version"].as_i64().unwrap_or_default();
                let id = index["_id"].as_str().unwrap_or_default().to_owned();
                let mut documents = self.documents.lock().expect("not poisoned");
                match documents.get(&id) {
                    Some((stored, _)) if *stored >= version => 409,
                    _ => {
                        documents.insert(id, (version, document));
                        201
                    }
                }
            } else {
                let id = action["create"]["_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                if self.ledger.lock().expect("not poisoned").insert(id) {
                    201
                } else {
                    409
                }
            };
            statuses.push(BulkItemStatus {
                status,
                error_type: None,
                reason: None,
            });
        }
        Ok(statuses)
    }
}

/// Ports that all point at one [`InMemory`].
pub fn ports(world: std::sync::Arc<InMemory>) -> crate::pipeline::Ports {
    crate::pipeline::Ports {
        sessions: world.clone(),
        classic: world.clone(),
        inventory: world.clone(),
        objects: world.clone(),
        search: world,
    }
}
