//! The CLI's OpenSearch connection: the collector's client
//! ([`OpenSearchIndexer`]), with the operator's authentication, and the few
//! calls the commands make on it (bulk with retries, searches, the index
//! templates and write aliases of the contract in `docs/design.md`).
//!
//! Authentication: SigV4 with the CLI's AWS credentials (service `es`, or
//! `aoss` for a Serverless endpoint), or HTTP basic when
//! `FANIN_OPENSEARCH_USERNAME` and `FANIN_OPENSEARCH_PASSWORD` are set (never
//! flags, never logged). Certificates are always verified; plain http is
//! accepted only for loopback endpoints.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use anyhow::{Context, bail};
use aws_config::SdkConfig;
use fanin::config::{SearchAuth, Secret, is_loopback};
use fanin::normalize::FindingClass;
use fanin::ports::{CallError, SearchIndexer};
use fanin::retry::{Backoff, RetryPolicy};
use fanin::search::bulk::{self, BulkOp, ItemOutcome};
use fanin::search::opensearch::OpenSearchIndexer;
use fanin::search::template;
use opensearch::http::Method;
use serde_json::{Value, json};
use url::Url;

use crate::places::{Place, StackReader};

/// The environment variables of basic authentication.
pub const USERNAME_VARIABLE: &str = "FANIN_OPENSEARCH_USERNAME";
pub const PASSWORD_VARIABLE: &str = "FANIN_OPENSEARCH_PASSWORD";

/// Bulk bodies the CLI sends: the collector's default cap.
const BULK_MAX_BYTES: usize = 5 * 1024 * 1024;

/// Items the cluster refused for load: an operator's command can wait longer
/// than a Lambda invocation, so more attempts and longer pauses.
const CLI_BULK_ITEMS: RetryPolicy = RetryPolicy {
    max_attempts: 8,
    first_delay: Duration::from_millis(500),
    max_delay: Duration::from_secs(15),
};

/// How long one bulk call with its retries may take.
const BULK_DEADLINE: Duration = Duration::from_secs(600);

/// Where the index is, for the commands that read or write it.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct SearchFlags {
    /// The OpenSearch endpoint (default: output `OpenSearchEndpoint` of the
    /// central stack). https, or http on loopback only.
    #[arg(long, value_name = "URL")]
    pub opensearch_endpoint: Option<String>,
    /// The prefix of the index names (default: parameter `IndexPrefix` of
    /// the central stack, else `fanin`).
    #[arg(long, value_name = "PREFIX")]
    pub index_prefix: Option<String>,
    /// The SigV4 service: `es` (a domain) or `aoss` (Serverless); default
    /// `aoss` for `*.aoss.amazonaws.com` endpoints, else `es`. Unused with
    /// basic authentication (FANIN_OPENSEARCH_USERNAME and
    /// FANIN_OPENSEARCH_PASSWORD set).
    #[arg(long, value_name = "SERVICE", value_parser = ["es", "aoss"])]
    pub opensearch_service: Option<String>,
}

/// Checks the endpoint (pure): https, or http on a loopback host only.
pub fn endpoint(raw: &str) -> anyhow::Result<Url> {
    let url = Url::parse(raw).with_context(|| {
        format!(
            "the OpenSearch endpoint {:?} is not a URL: pass --opensearch-endpoint https://...",
            fanin::ids::truncate_for_message(raw)
        )
    })?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => bail!(
            "plain http is accepted only for loopback endpoints: use https for {}",
            url.host_str().unwrap_or("?")
        ),
        other => bail!("the OpenSearch endpoint has scheme {other:?}: use https"),
    }
}

/// The authentication from the environment (`lookup`) and the endpoint
/// (pure). Both basic variables or neither: one alone is a mistake.
pub fn auth(
    lookup: impl Fn(&str) -> Option<String>,
    url: &Url,
    service: Option<&str>,
) -> anyhow::Result<SearchAuth> {
    let present = |name: &str| lookup(name).filter(|v| !v.is_empty());
    match (present(USERNAME_VARIABLE), present(PASSWORD_VARIABLE)) {
        (Some(username), Some(password)) => Ok(SearchAuth::Basic {
            username,
            password: Secret::new(password),
        }),
        (None, None) => {
            let serverless = url
                .host_str()
                .is_some_and(|h| h.ends_with(".aoss.amazonaws.com"));
            let service = service.unwrap_or(if serverless { "aoss" } else { "es" });
            Ok(SearchAuth::SigV4 {
                service: service.to_owned(),
            })
        }
        (Some(_), None) => bail!("{USERNAME_VARIABLE} is set but {PASSWORD_VARIABLE} is not"),
        (None, Some(_)) => bail!("{PASSWORD_VARIABLE} is set but {USERNAME_VARIABLE} is not"),
    }
}

/// The latest-state index (or alias) of a class: `Settings::index_of`.
pub fn latest_index(prefix: &str, class: FindingClass) -> String {
    format!("{prefix}-{}", class.index_suffix())
}

/// The history write alias of a class (contract: `<latest>-history`).
pub fn history_alias(prefix: &str, class: FindingClass) -> String {
    format!("{}-history", latest_index(prefix, class))
}

/// The ledger index (`Settings::ledger_index`).
pub fn ledger_index(prefix: &str) -> String {
    format!("{prefix}-ledger")
}

/// The cluster, as the CLI uses it.
pub struct Search {
    indexer: OpenSearchIndexer,
    pub prefix: String,
    pub url: Url,
}

impl Search {
    /// Connects to the endpoint of `flags` or the central stack.
    pub async fn connect(
        config: &SdkConfig,
        stack: &mut StackReader,
        flags: &SearchFlags,
    ) -> anyhow::Result<Self> {
        let raw = stack
            .place(
                Place::OpenSearchEndpoint,
                flags.opensearch_endpoint.as_deref(),
            )
            .await?;
        let prefix = stack.index_prefix(flags.index_prefix.as_deref()).await?;
        let url = endpoint(&raw)?;
        let auth = auth(
            |name| std::env::var(name).ok(),
            &url,
            flags.opensearch_service.as_deref(),
        )?;
        let credentials = config.credentials_provider();
        let indexer = OpenSearchIndexer::new(&url, &auth, credentials, config.region().cloned())
            .context("building the OpenSearch client")?;
        Ok(Self {
            indexer,
            prefix,
            url,
        })
    }

    /// `_search` on `indices` (comma-separated; missing ones are skipped).
    pub async fn search(&self, indices: &str, body: &Value) -> Result<Value, CallError> {
        let path = format!("/{indices}/_search?ignore_unavailable=true");
        let text = self
            .indexer
            .call(
                "Search",
                Method::Post,
                &path,
                "application/json",
                Some(serde_json::to_vec(body).expect("a JSON value serializes")),
            )
            .await?;
        serde_json::from_str(&text)
            .map_err(|e| CallError::transient("Search", "decode", e.to_string()))
    }

    /// Documents in `index` (0 when it does not exist).
    pub async fn count(&self, index: &str) -> Result<u64, CallError> {
        self.indexer
            .call(
                "Refresh",
                Method::Post,
                &format!("/{index}/_refresh?ignore_unavailable=true"),
                "application/json",
                None,
            )
            .await
            // Only freshness depends on it: a user allowed to count but not
            // to refresh still gets a count, at most a second old.
            .ok();
        let answer = self
            .indexer
            .call(
                "Count",
                Method::Get,
                &format!("/{index}/_count?ignore_unavailable=true"),
                "application/json",
                None,
            )
            .await;
        match answer {
            Ok(text) => Ok(serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("count").and_then(Value::as_u64))
                .unwrap_or(0)),
            Err(CallError::Rejected { code, .. })
                if code == "index_not_found_exception" || code == "404" =>
            {
                Ok(0)
            }
            Err(other) => Err(other),
        }
    }

    /// The class's index template (as the collector installs it at cold
    /// start) and the write aliases of the contract: the latest-state name
    /// over `<latest>-000001` and `<latest>-history` over
    /// `<latest>-history-000001`, each created only when the name is not
    /// there yet (an existing concrete index keeps working as is).
    pub async fn prepare_class(&self, class: FindingClass) -> Result<(), CallError> {
        let latest = latest_index(&self.prefix, class);
        self.indexer
            .install_template(&latest, &template::class_template(class, &self.prefix))
            .await?;
        self.ensure_write_alias(&latest).await?;
        self.ensure_write_alias(&history_alias(&self.prefix, class))
            .await
    }

    async fn ensure_write_alias(&self, name: &str) -> Result<(), CallError> {
        match self
            .indexer
            .call(
                "IndexExists",
                Method::Head,
                &format!("/{name}"),
                "application/json",
                None,
            )
            .await
        {
            Ok(_) => return Ok(()),
            // A HEAD answer has no body: the code is the status.
            Err(CallError::Rejected { code, .. })
                if code == "404" || code == "index_not_found_exception" => {}
            Err(other) => return Err(other),
        }
        let body = json!({"aliases": {name: {"is_write_index": true}}});
        match self
            .indexer
            .call(
                "CreateIndex",
                Method::Put,
                &format!("/{name}-000001"),
                "application/json",
                Some(serde_json::to_vec(&body).expect("a JSON value serializes")),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(CallError::Rejected { code, .. })
                if code == "resource_already_exists_exception" =>
            {
                Ok(())
            }
            Err(other) => Err(other),
        }
    }

    /// The external versions the ledger holds for these version uids (the
    /// collector's exact versions; absent on a new cluster).
    pub async fn ledger_versions(
        &self,
        version_uids: &[String],
    ) -> Result<HashMap<String, i64>, CallError> {
        let found = self
            .indexer
            .get_documents(&ledger_index(&self.prefix), version_uids)
            .await?;
        Ok(found
            .into_iter()
            .filter_map(|(id, doc)| Some((id, doc.source.get("version")?.as_i64()?)))
            .collect())
    }

    /// Sends `ops` in size-capped bulk requests and retries the items worth
    /// retrying (429, 5xx, a whole request failing transiently) with
    /// backoff, as the collector does; a request refused as a whole (400)
    /// is split until the item at fault is alone. One outcome per op.
    pub async fn bulk_with_retry(&self, ops: &[BulkOp]) -> Vec<ItemOutcome> {
        let deadline = tokio::time::Instant::now() + BULK_DEADLINE;
        let mut outcomes = vec![ItemOutcome::Retry("not sent".into()); ops.len()];
        let mut pending: Vec<usize> = (0..ops.len()).collect();
        let mut backoff = Backoff::new(CLI_BULK_ITEMS, deadline);
        loop {
            let mut requests: VecDeque<Vec<usize>> =
                bulk::encode(pending.iter().map(|&i| &ops[i]), BULK_MAX_BYTES)
                    .into_iter()
                    .map(|chunk| chunk.ops.iter().map(|&p| pending[p]).collect())
                    .collect();
            while let Some(targets) = requests.pop_front() {
                let body: Vec<u8> = bulk::encode(targets.iter().map(|&i| &ops[i]), usize::MAX)
                    .into_iter()
                    .flat_map(|chunk| chunk.body)
                    .collect();
                match self.indexer.bulk(body).await {
                    Ok(statuses) => {
                        let sent: Vec<&BulkOp> = targets.iter().map(|&i| &ops[i]).collect();
                        match bulk::outcomes(&sent, &statuses) {
                            Ok(read) => {
                                for (&target, outcome) in targets.iter().zip(read) {
                                    outcomes[target] = outcome;
                                }
                            }
                            Err(why) => {
                                for &target in &targets {
                                    outcomes[target] = ItemOutcome::Retry(why.clone());
                                }
                            }
                        }
                    }
                    Err(CallError::Rejected { .. }) if targets.len() > 1 => {
                        let (left, right) = targets.split_at(targets.len() / 2);
                        requests.push_front(right.to_vec());
                        requests.push_front(left.to_vec());
                    }
                    Err(error @ (CallError::Rejected { .. } | CallError::Denied { .. })) => {
                        for &target in &targets {
                            outcomes[target] = ItemOutcome::Permanent(error.to_string());
                        }
                    }
                    Err(error) => {
                        for &target in &targets {
                            outcomes[target] = ItemOutcome::Retry(error.to_string());
                        }
                    }
                }
            }
            pending.retain(|&i| matches!(outcomes[i], ItemOutcome::Retry(_)));
            if pending.is_empty() || !backoff.retry().await {
                break;
            }
        }
        outcomes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_on_loopback() {
        assert!(endpoint("https://search-x.eu-west-1.es.amazonaws.com").is_ok());
        assert!(endpoint("http://127.0.0.1:9200").is_ok());
        assert!(endpoint("http://localhost:9200").is_ok());
        let remote = endpoint("http://search.example.com:9200")
            .unwrap_err()
            .to_string();
        assert!(remote.contains("use https"), "{remote}");
        assert!(endpoint("ftp://127.0.0.1").is_err());
        assert!(endpoint("not a url").is_err());
    }

    #[test]
    fn basic_auth_from_both_variables_else_sigv4() {
        let url = endpoint("https://search-x.eu-west-1.es.amazonaws.com").unwrap();
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(
            auth(env(&[]), &url, None).unwrap(),
            SearchAuth::SigV4 {
                service: "es".into()
            }
        );
        let aoss = endpoint("https://abc.us-east-1.aoss.amazonaws.com").unwrap();
        assert_eq!(
            auth(env(&[]), &aoss, None).unwrap(),
            SearchAuth::SigV4 {
                service: "aoss".into()
            }
        );
        let basic = auth(
            env(&[(USERNAME_VARIABLE, "admin"), (PASSWORD_VARIABLE, "s3cret")]),
            &url,
            None,
        )
        .unwrap();
        assert_eq!(
            basic,
            SearchAuth::Basic {
                username: "admin".into(),
                password: Secret::new("s3cret")
            }
        );
        assert!(
            !format!("{basic:?}").contains("s3cret"),
            "the password stays out of Debug output"
        );
        let half = auth(env(&[(USERNAME_VARIABLE, "admin")]), &url, None)
            .unwrap_err()
            .to_string();
        assert!(half.contains(PASSWORD_VARIABLE), "{half}");
    }

    #[test]
    fn names_follow_the_contract() {
        assert_eq!(
            latest_index("fanin", FindingClass::VulnerabilityFinding),
            "fanin-findings"
        );
        assert_eq!(
            history_alias("fanin", FindingClass::DetectionFinding),
            "fanin-detections-history"
        );
    }
}
