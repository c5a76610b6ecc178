//! [`SearchIndexer`] over the official `opensearch` client.
//!
//! TLS certificates are always verified (the client's default, never
//! changed here); SigV4 signs requests for Amazon OpenSearch Service.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_credential_types::provider::SharedCredentialsProvider;
use opensearch::OpenSearch;
use opensearch::http::headers::{CONTENT_TYPE, HeaderMap, HeaderValue};
use opensearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use opensearch::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::config::SearchAuth;
use crate::ports::{BulkItemStatus, CallError, SearchIndexer, StoredDocument};

/// One request, connection to last byte. A `_bulk` body is capped at
/// `FANIN_BULK_MAX_BYTES` (5 MB by default), which a healthy domain indexes in
/// well under a second; after ten seconds the cluster is hung or drowning,
/// and the items are better retried (with back-off, within the invocation's
/// deadline) than waited for until Lambda's hard timeout.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

pub struct OpenSearchIndexer {
    client: OpenSearch,
}

impl OpenSearchIndexer {
    /// `credentials` and `region` are used only with [`SearchAuth::SigV4`].
    pub fn new(
        url: &url::Url,
        auth: &SearchAuth,
        credentials: Option<SharedCredentialsProvider>,
        region: Option<aws_types::region::Region>,
    ) -> anyhow::Result<Self> {
        let mut builder = TransportBuilder::new(SingleNodeConnectionPool::new(url.clone()))
            .disable_proxy()
            .timeout(REQUEST_TIMEOUT);
        match auth {
            SearchAuth::SigV4 { service } => {
                let credentials =
                    credentials.ok_or_else(|| anyhow::anyhow!("SigV4 needs AWS credentials"))?;
                let region = region.ok_or_else(|| anyhow::anyhow!("SigV4 needs an AWS region"))?;
                builder = builder
                    .auth(opensearch::auth::Credentials::AwsSigV4(credentials, region))
                    .service_name(service);
            }
            SearchAuth::Basic { username, password } => {
                builder = builder.auth(opensearch::auth::Credentials::Basic(
                    username.clone(),
                    password.expose().to_owned(),
                ));
            }
            SearchAuth::None => {}
        }
        Ok(Self {
            client: OpenSearch::new(builder.build()?),
        })
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
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        let response = self
            .client
            .send(method, path, headers, None::<&()>, body, None)
            .await
            .map_err(|e| {
                let code = if e.is_timeout() {
                    "Timeout"
                } else {
                    "connection"
                };
                CallError::transient(operation, code, e.to_string())
            })?;
        let status = response.status_code();
        let text = response
            .text()
            .await
            .map_err(|e| CallError::transient(operation, "read", e.to_string()))?;
        if status.is_success() {
            return Ok(text);
        }
        Err(classify_status(operation, status, &text))
    }
}

fn classify_status(operation: &'static str, status: StatusCode, body: &str) -> CallError {
    let code = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/type")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| status.as_u16().to_string());
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
            Method::Put,
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
            .call("Mget", Method::Post, &path, "application/json", Some(body))
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
                Method::Post,
                "/_bulk",
                "application/x-ndjson",
                Some(ndjson),
            )
            .await?;
        super::answers::bulk(&answer)
    }
}
