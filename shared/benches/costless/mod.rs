//! Ports for the benchmarks that cost next to nothing, so a benchmark
//! measures the collector and not its fakes: a search cluster that answers
//! every bulk item as done from the action lines alone (never reading a
//! document) and whose ledger knows nothing, an object store that counts,
//! and the in-memory sessions behind the production session cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use fanin::fakes::InMemory;
use fanin::ids::AccountId;
use fanin::ports::{
    AccountSession, BulkAction, BulkItemStatus, CallError, IndexCreation, ObjectKind, ObjectStore,
    SearchIndexer, SessionProvider, StoredDocument,
};
use serde::Deserialize;
use serde_json::Value;

/// What the costless ports saw, when asked to keep it.
#[derive(Default)]
pub struct Written {
    pub bulk_bodies: Vec<Vec<u8>>,
    pub objects: Vec<(String, Vec<u8>)>,
    pub bulk_bytes: usize,
    pub object_bytes: usize,
}

/// An index that answers every bulk item as done. It reads only the action
/// lines (for the `_id`s the pipeline matches answers by), never a document.
#[derive(Clone, Default)]
pub struct CostlessIndex {
    pub written: Arc<Mutex<Written>>,
    pub keep: bool,
}

#[derive(Deserialize)]
struct ActionMeta {
    #[serde(rename = "_id")]
    id: String,
}

#[async_trait]
impl SearchIndexer for CostlessIndex {
    async fn install_template(&self, _name: &str, _template: &Value) -> Result<(), CallError> {
        Ok(())
    }

    async fn get_documents(
        &self,
        _index: &str,
        _ids: &[String],
    ) -> Result<HashMap<String, StoredDocument>, CallError> {
        Ok(HashMap::new())
    }

    async fn bulk(&self, ndjson: Vec<u8>) -> Result<Vec<BulkItemStatus>, CallError> {
        let mut answers = Vec::new();
        let mut lines = ndjson.split(|b| *b == b'\n').filter(|l| !l.is_empty());
        while let Some(line) = lines.next() {
            let action: std::collections::BTreeMap<BulkAction, ActionMeta> =
                serde_json::from_slice(line).expect("a bulk action line");
            let (action, meta) = action.into_iter().next().expect("one action");
            if action != BulkAction::Delete {
                lines.next();
            }
            answers.push(BulkItemStatus {
                action,
                id: meta.id,
                status: if action == BulkAction::Create {
                    201
                } else {
                    200
                },
                error_type: None,
                reason: None,
            });
        }
        let mut written = self.written.lock().unwrap();
        written.bulk_bytes += ndjson.len();
        if self.keep {
            written.bulk_bodies.push(ndjson);
        }
        Ok(answers)
    }

    async fn index_exists(&self, _name: &str) -> Result<bool, CallError> {
        Ok(true)
    }

    async fn create_index(&self, _name: &str, _body: &Value) -> Result<IndexCreation, CallError> {
        Ok(IndexCreation::AlreadyExists)
    }
}

#[async_trait]
impl ObjectStore for CostlessIndex {
    async fn put_object(
        &self,
        key: &str,
        body: Vec<u8>,
        _kind: ObjectKind,
    ) -> Result<(), CallError> {
        let mut written = self.written.lock().unwrap();
        written.object_bytes += body.len();
        if self.keep {
            written.objects.push((key.to_owned(), body));
        }
        Ok(())
    }

    async fn object_exists(&self, _key: &str) -> Result<bool, CallError> {
        Ok(false)
    }

    async fn get_object(&self, _key: &str) -> Result<Option<Vec<u8>>, CallError> {
        Ok(None)
    }
}

/// The in-memory sessions behind the production cache, as `build_collector`
/// wires STS.
pub struct Sessions(pub Arc<InMemory>);

#[async_trait]
impl SessionProvider for Sessions {
    async fn session(&self, account: &AccountId) -> Result<AccountSession, CallError> {
        self.0.session(account).await
    }
}
