//! [`SearchIndexer`] over fanin's own transport ([`super::transport`]).
//!
//! TLS certificates are always verified, with the same TLS configuration and
//! root store as the AWS SDK's clients ([`crate::tls`]); SigV4 signs requests
//! for Amazon OpenSearch Service.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_credential_types::provider::SharedCredentialsProvider;
use serde_json::{Value, json};

pub use super::transport::{Method, StatusCode};
use super::transport::{SearchTransport, content_type};
use crate::config::SearchAuth;
use crate::ports::{
    BulkItemStatus, CallError, IndexCreation, PolicyLookup, SearchAdmin, SearchIndexer,
    StoredDocument, StoredPolicy,
};

/// Clones share one transport: its connection pool and its TLS
/// configuration.
#[derive(Clone)]
pub struct OpenSearchIndexer {
    transport: SearchTransport,
}

impl OpenSearchIndexer {
    /// `credentials` and `region` are used only with [`SearchAuth::SigV4`].
    pub fn new(
        url: &url::Url,
        auth: &SearchAuth,
        credentials: Option<SharedCredentialsProvider>,
        region: Option<aws_types::region::Region>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            transport: SearchTransport::new(url, auth, credentials, region)?,
        })
    }

    /// The transport itself, for requests the ports do not make (the
    /// Dashboards saved-objects import of the operator CLI).
    pub fn transport(&self) -> &SearchTransport {
        &self.transport
    }

    /// One request; the answer's body on 2xx, else the error the status
    /// and the answer's `error.type` say (401/403 denied; 408, 429 and 5xx
    /// transient; the rest rejected). The operator CLI's searches use it too.
    pub async fn call(
        &self,
        operation: &'static str,
        method: Method,
        path: &str,
        content_type: &'static str,
        body: Option<Vec<u8>>,
    ) -> Result<String, CallError> {
        let (status, text) = self
            .answer(operation, method, path, content_type, body)
            .await?;
        if status.is_success() {
            return Ok(text);
        }
        Err(classify_status(operation, status, &text))
    }

    /// Sends one request; any HTTP status is an answer.
    async fn answer(
        &self,
        operation: &'static str,
        method: Method,
        path: &str,
        mime: &'static str,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, String), CallError> {
        let answer = self
            .transport
            .send(
                operation,
                method,
                path,
                &[content_type(mime)],
                body.unwrap_or_default(),
            )
            .await?;
        Ok((answer.status, answer.body))
    }
}

/// The `error.type` of an error answer, if it has one.
fn error_type(body: &str) -> Option<String> {
    serde_json::from_str::<Value>(body).ok().and_then(|v| {
        v.pointer("/error/type")
            .and_then(Value::as_str)
            .map(str::to_owned)
    })
}

fn classify_status(operation: &'static str, status: StatusCode, body: &str) -> CallError {
    let code = error_type(body).unwrap_or_else(|| status.as_u16().to_string());
    let message = crate::ids::truncate_for_message(body);
    match status.as_u16() {
        401 | 403 => CallError::Denied {
            operation,
            code,
            message,
        },
        408 | 429 | 500..=599 => CallError::Transient {
            operation,
            code,
            message,
        },
        _ => CallError::Rejected {
            operation,
            code,
            message,
        },
    }
}

#[async_trait]
impl SearchIndexer for OpenSearchIndexer {
    async fn install_template(&self, name: &str, template: &Value) -> Result<(), CallError> {
        let path = format!("/_index_template/{name}");
        let body = serde_json::to_vec(template).expect("a JSON value serializes");
        self.call(
            "PutIndexTemplate",
            Method::PUT,
            &path,
            "application/json",
            Some(body),
        )
        .await?;
        Ok(())
    }

    async fn get_documents(
        &self,
        index: &str,
        ids: &[String],
    ) -> Result<HashMap<String, StoredDocument>, CallError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let path = format!("/{index}/_mget");
        let body = serde_json::to_vec(&json!({"ids": ids})).expect("a JSON value serializes");
        let answer = match self
            .call("Mget", Method::POST, &path, "application/json", Some(body))
            .await
        {
            Ok(answer) => answer,
            // The ledger index does not exist before the first archive write.
            Err(CallError::Rejected { code, .. })
                if code == "index_not_found_exception" || code == "404" =>
            {
                return Ok(HashMap::new());
            }
            Err(other) => return Err(other),
        };
        super::answers::mget(&answer, ids)
    }

    async fn bulk(&self, ndjson: Vec<u8>) -> Result<Vec<BulkItemStatus>, CallError> {
        let answer = self
            .call(
                "Bulk",
                Method::POST,
                "/_bulk",
                "application/x-ndjson",
                Some(ndjson),
            )
            .await?;
        super::answers::bulk(&answer)
    }

    async fn index_exists(&self, name: &str) -> Result<bool, CallError> {
        let path = format!("/{name}");
        let (status, text) = self
            .answer("IndexExists", Method::HEAD, &path, "application/json", None)
            .await?;
        match status.as_u16() {
            200..=299 => Ok(true),
            404 => Ok(false),
            _ => Err(classify_status("IndexExists", status, &text)),
        }
    }

    async fn create_index(&self, name: &str, body: &Value) -> Result<IndexCreation, CallError> {
        let path = format!("/{name}");
        let body = serde_json::to_vec(body).expect("a JSON value serializes");
        match self
            .call(
                "CreateIndex",
                Method::PUT,
                &path,
                "application/json",
                Some(body),
            )
            .await
        {
            Ok(_) => Ok(IndexCreation::Created),
            Err(CallError::Rejected { code, .. })
                if code == "resource_already_exists_exception" =>
            {
                Ok(IndexCreation::AlreadyExists)
            }
            Err(other) => Err(other),
        }
    }
}

#[async_trait]
impl SearchAdmin for OpenSearchIndexer {
    fn endpoint(&self) -> String {
        self.transport.endpoint()
    }

    async fn get_template(&self, name: &str) -> Result<Option<Value>, CallError> {
        let path = format!("/_index_template/{name}");
        let (status, text) = self
            .answer(
                "GetIndexTemplate",
                Method::GET,
                &path,
                "application/json",
                None,
            )
            .await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(classify_status("GetIndexTemplate", status, &text));
        }
        let answer: Value = serde_json::from_str(&text).map_err(|e| {
            CallError::transient("GetIndexTemplate", "unreadable_answer", e.to_string())
        })?;
        Ok(answer
            .get("index_templates")
            .and_then(Value::as_array)
            .and_then(|all| all.iter().find(|t| t["name"] == name))
            .map(|t| t["index_template"].clone()))
    }

    async fn get_ism_policy(&self, id: &str) -> Result<PolicyLookup, CallError> {
        let path = format!("/_plugins/_ism/policies/{id}");
        let (status, text) = self
            .answer("GetIsmPolicy", Method::GET, &path, "application/json", None)
            .await?;
        match status.as_u16() {
            200..=299 => {
                let answer: Value = serde_json::from_str(&text).map_err(|e| {
                    CallError::transient("GetIsmPolicy", "unreadable_answer", e.to_string())
                })?;
                let (Some(seq_no), Some(primary_term), Some(policy)) = (
                    answer["_seq_no"].as_i64(),
                    answer["_primary_term"].as_i64(),
                    answer.get("policy"),
                ) else {
                    return Err(CallError::transient(
                        "GetIsmPolicy",
                        "unreadable_answer",
                        crate::ids::truncate_for_message(&text),
                    ));
                };
                Ok(PolicyLookup::Found(StoredPolicy {
                    policy: policy.clone(),
                    seq_no,
                    primary_term,
                }))
            }
            // ISM's own answer for an unknown policy id.
            404 if error_type(&text).as_deref() == Some("status_exception") => {
                Ok(PolicyLookup::Missing)
            }
            // No handler for the path: the plugin is not there.
            400 | 404 => Ok(PolicyLookup::Unavailable(format!(
                "{}: {}",
                status.as_u16(),
                crate::ids::truncate_for_message(&text)
            ))),
            _ => Err(classify_status("GetIsmPolicy", status, &text)),
        }
    }

    async fn put_ism_policy(
        &self,
        id: &str,
        body: &Value,
        if_unchanged: Option<(i64, i64)>,
    ) -> Result<(), CallError> {
        let path = match if_unchanged {
            None => format!("/_plugins/_ism/policies/{id}"),
            Some((seq_no, primary_term)) => format!(
                "/_plugins/_ism/policies/{id}?if_seq_no={seq_no}&if_primary_term={primary_term}"
            ),
        };
        let body = serde_json::to_vec(body).expect("a JSON value serializes");
        self.call(
            "PutIsmPolicy",
            Method::PUT,
            &path,
            "application/json",
            Some(body),
        )
        .await?;
        Ok(())
    }
}
