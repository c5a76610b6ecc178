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

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, bail};
use aws_config::SdkConfig;
use fanin::config::{SearchAuth, Secret, is_loopback};
use fanin::normalize::FindingClass;
use fanin::ports::{CallError, SearchIndexer};
use fanin::retry::RetryPolicy;
use fanin::search::bulk::{BulkOp, ItemOutcome};
use fanin::search::opensearch::{Method, OpenSearchIndexer};
use fanin::search::{install, template, writer};
use serde_json::Value;
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
    template::latest_name(prefix, class)
}

/// The history write alias of a class (`<latest>-history`).
pub fn history_alias(prefix: &str, class: FindingClass) -> String {
    template::history_alias(&latest_index(prefix, class))
}

/// The ledger index (`Settings::ledger_index`).
pub fn ledger_index(prefix: &str) -> String {
    format!("{prefix}-ledger")
}

/// The cluster, as the CLI uses it.
pub struct Search {
    indexer: OpenSearchIndexer,
    /// How it authenticates, for another endpoint of the same domain
    /// (its Dashboards).
    auth: SearchAuth,
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
            auth,
            prefix,
            url,
        })
    }

    /// The collector's client of this cluster (for the installer's port).
    pub fn indexer(&self) -> &OpenSearchIndexer {
        &self.indexer
    }

    /// A client of another endpoint of the same domain, authenticated the
    /// same way: its OpenSearch Dashboards (`https://<domain>/_dashboards/`).
    pub fn client_of(&self, config: &SdkConfig, url: &Url) -> anyhow::Result<OpenSearchIndexer> {
        OpenSearchIndexer::new(
            url,
            &self.auth,
            config.credentials_provider(),
            config.region().cloned(),
        )
        .context("building the Dashboards client")
    }

    /// `_search` on `indices` (comma-separated; missing ones are skipped).
    pub async fn search(&self, indices: &str, body: &Value) -> Result<Value, CallError> {
        let path = format!("/{indices}/_search?ignore_unavailable=true");
        let text = self
            .indexer
            .call(
                "Search",
                Method::POST,
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
                Method::POST,
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
                Method::GET,
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

    /// The class's templates and write aliases, as the collector installs
    /// them at cold start ([`install::bootstrap_class`]).
    pub async fn prepare_class(&self, class: FindingClass) -> Result<(), CallError> {
        install::bootstrap_class(&self.indexer, &self.prefix, class).await
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

    /// [`writer::bulk_with_retry`], with the collector's size cap and a
    /// patience fit for an operator's command.
    pub async fn bulk_with_retry(&self, ops: &[BulkOp]) -> Vec<ItemOutcome> {
        let deadline = tokio::time::Instant::now() + BULK_DEADLINE;
        writer::bulk_with_retry(&self.indexer, ops, BULK_MAX_BYTES, CLI_BULK_ITEMS, deadline).await
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
