//! Configuration of both Lambdas, read once at cold start.
//!
//! Validation is pure (`from_lookup` takes any variable source) and fails
//! fast with the name of the variable at fault.

use std::time::Duration;

use url::Url;

use std::collections::BTreeSet;

use crate::decode::{AcceptedTopics, Provenance};
use crate::guardduty::GuardDutyProvenance;
use crate::ids::{AccountId, Arn, Partition, Region};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration: {variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

fn problem(variable: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        problem: problem.into(),
    }
}

/// How the collector authenticates to OpenSearch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchAuth {
    /// SigV4 for Amazon OpenSearch Service (`es`) or Serverless (`aoss`).
    SigV4 { service: String },
    /// HTTP basic authentication (fine-grained access control's internal
    /// user database): the operator CLI only, from its environment.
    Basic { username: String, password: Secret },
    /// No authentication: accepted only for loopback endpoints.
    None,
}

/// Server-side encryption requested on every object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encryption {
    Kms { key_id: Option<String> },
    S3Managed,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CollectorConfig {
    pub bucket: String,
    pub opensearch_url: Url,
    pub search_auth: SearchAuth,
    pub index_prefix: String,
    pub role_name: String,
    pub external_id: Secret,
    pub partition: Partition,
    pub encryption: Encryption,
    pub s3_force_path_style: bool,
    pub bulk_max_bytes: usize,
    pub max_concurrency: usize,
    pub session_duration: Duration,
    /// The life of a ledger claim (`FANIN_CLAIM_TTL_SECONDS`).
    pub claim_ttl: Duration,
    /// Poller mode only: the queue to poll.
    pub queue_url: Option<String>,
    /// Which senders the collector believes: accepted SNS topics and
    /// Inspector2 administrator accounts (see `decode::Provenance`).
    pub provenance: Provenance,
    /// Which GuardDuty events the collector believes: those of the finding's
    /// own account and of these delegated administrators
    /// (`FANIN_GUARDDUTY_ADMIN_ACCOUNTS`, comma-separated; unset or empty,
    /// the central account `FANIN_CENTRAL_ACCOUNT_ID`, as the templates'
    /// `GuardDutyAdminAccountId` defaults to it).
    pub guardduty: GuardDutyProvenance,
    /// Poller mode only: messages gathered into one batch, as the Lambda
    /// event-source mapping's `BatchSize` (`FANIN_BATCH_SIZE`).
    pub batch_size: usize,
    /// Poller mode only: how long to keep gathering after the first message
    /// of a batch, as the mapping's `MaximumBatchingWindowInSeconds`
    /// (`FANIN_MAXIMUM_BATCHING_WINDOW_SECONDS`).
    pub maximum_batching_window: Duration,
}

/// A value kept out of `Debug` output and so out of logs and panics (the
/// ExternalId). Read it with [`Secret::expose`] where it is sent.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl CollectorConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            get(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| problem(name, "is required"))
        };
        let bucket = required("FANIN_BUCKET")?;
        validate_bucket(&bucket).map_err(|p| problem("FANIN_BUCKET", p))?;

        let raw_url = required("FANIN_OPENSEARCH_URL")?;
        let opensearch_url =
            Url::parse(&raw_url).map_err(|e| problem("FANIN_OPENSEARCH_URL", e.to_string()))?;
        // A password in the URL would reach every Debug print of the
        // configuration; OpenSearch authentication is SigV4 (or none on loopback).
        if !opensearch_url.username().is_empty() || opensearch_url.password().is_some() {
            return Err(problem(
                "FANIN_OPENSEARCH_URL",
                "credentials in the URL are not accepted; use FANIN_OPENSEARCH_AUTH",
            ));
        }
        let loopback = is_loopback(&opensearch_url);
        match opensearch_url.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => {
                return Err(problem(
                    "FANIN_OPENSEARCH_URL",
                    "plain http is accepted only for loopback endpoints; use https",
                ));
            }
            other => {
                return Err(problem(
                    "FANIN_OPENSEARCH_URL",
                    format!("unsupported scheme {other:?}"),
                ));
            }
        }
        let search_auth = match get("FANIN_OPENSEARCH_AUTH").as_deref().unwrap_or("sigv4") {
            "sigv4" => SearchAuth::SigV4 {
                service: get("FANIN_OPENSEARCH_SERVICE").unwrap_or_else(|| "es".into()),
            },
            "none" if loopback => SearchAuth::None,
            "none" => {
                return Err(problem(
                    "FANIN_OPENSEARCH_AUTH",
                    "`none` is accepted only for loopback endpoints",
                ));
            }
            other => {
                return Err(problem(
                    "FANIN_OPENSEARCH_AUTH",
                    format!("expected sigv4 or none, got {other:?}"),
                ));
            }
        };
        if let SearchAuth::SigV4 { service } = &search_auth
            && !matches!(service.as_str(), "es" | "aoss")
        {
            return Err(problem("FANIN_OPENSEARCH_SERVICE", "expected es or aoss"));
        }

        let index_prefix = get("FANIN_INDEX_PREFIX").unwrap_or_else(|| "fanin".into());
        let prefix_ok = !index_prefix.is_empty()
            && index_prefix.len() <= 64
            && index_prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !index_prefix.starts_with('-');
        if !prefix_ok {
            return Err(problem(
                "FANIN_INDEX_PREFIX",
                "lowercase letters, digits and '-' only, 1 to 64",
            ));
        }

        let role_name = required("FANIN_ROLE_NAME")?;
        let role_ok = role_name.len() <= 64
            && role_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
        if !role_ok {
            return Err(problem("FANIN_ROLE_NAME", "not a valid IAM role name"));
        }
        let external_id = required("FANIN_EXTERNAL_ID")?;
        let external_ok = (2..=1224).contains(&external_id.len())
            && external_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+=,.@:/_-".contains(&b));
        if !external_ok {
            return Err(problem(
                "FANIN_EXTERNAL_ID",
                "2 to 1224 characters of [A-Za-z0-9+=,.@:/_-]",
            ));
        }

        let partition = Partition::parse(&get("FANIN_PARTITION").unwrap_or_else(|| "aws".into()))
            .map_err(|e| problem("FANIN_PARTITION", e.to_string()))?;
        let mut provenance = provenance_from_lookup(&get, partition.clone())?;
        let guardduty = GuardDutyProvenance {
            partition: partition.clone(),
            admin_accounts: guardduty_admin_accounts(&get)?,
        };
        provenance.guardduty_admin_accounts = guardduty.admin_accounts.clone();
        let encryption = match get("FANIN_S3_SSE").as_deref().unwrap_or("aws:kms") {
            "aws:kms" => Encryption::Kms {
                key_id: get("FANIN_S3_KMS_KEY_ID").filter(|k| !k.is_empty()),
            },
            "AES256" => Encryption::S3Managed,
            other => {
                return Err(problem(
                    "FANIN_S3_SSE",
                    format!("expected aws:kms or AES256, got {other:?}"),
                ));
            }
        };
        let number = |name: &'static str,
                      default: usize,
                      range: std::ops::RangeInclusive<usize>|
         -> Result<usize, ConfigError> {
            let value = match get(name) {
                None => default,
                Some(raw) => raw
                    .parse()
                    .map_err(|_| problem(name, format!("not a number: {raw:?}")))?,
            };
            if range.contains(&value) {
                Ok(value)
            } else {
                Err(problem(name, format!("must be within {range:?}")))
            }
        };
        let batch_size = number("FANIN_BATCH_SIZE", 100, 1..=10_000)?;
        let batching_window_seconds = number("FANIN_MAXIMUM_BATCHING_WINDOW_SECONDS", 5, 0..=300)?;
        if batch_size > 10 && batching_window_seconds == 0 {
            // The event-source mapping's own rule: more than one receive needs time to gather.
            return Err(problem(
                "FANIN_MAXIMUM_BATCHING_WINDOW_SECONDS",
                "must be at least 1 when FANIN_BATCH_SIZE is above 10",
            ));
        }
        Ok(Self {
            bucket,
            opensearch_url,
            search_auth,
            index_prefix,
            role_name,
            external_id: Secret::new(external_id),
            partition,
            encryption,
            s3_force_path_style: get("FANIN_S3_FORCE_PATH_STYLE").as_deref() == Some("true"),
            bulk_max_bytes: number(
                "FANIN_BULK_MAX_BYTES",
                5 * 1024 * 1024,
                // Amazon OpenSearch Service takes 10 MiB per request on its smallest instances.
                64 * 1024..=10 * 1024 * 1024,
            )?,
            max_concurrency: number("FANIN_MAX_CONCURRENCY", 8, 1..=64)?,
            session_duration: Duration::from_secs(number(
                "FANIN_SESSION_DURATION_SECONDS",
                3600,
                // From Lambda, AssumeRole is role chaining, which AWS caps at one hour.
                900..=3600,
            )? as u64),
            // Below the deployed visibility timeout (390 s), so a redelivery
            // after a crash finds the claim expired.
            claim_ttl: Duration::from_secs(number("FANIN_CLAIM_TTL_SECONDS", 60, 2..=900)? as u64),
            queue_url: get("FANIN_QUEUE_URL").filter(|q| !q.is_empty()),
            provenance,
            guardduty,
            batch_size,
            maximum_batching_window: Duration::from_secs(batching_window_seconds as u64),
        })
    }
}

// --- Provenance settings -----------------------------------------------------
//
// FANIN_TOPIC_ARNS: comma-separated SNS topic ARNs whose envelopes are opened;
// else FANIN_CENTRAL_ACCOUNT_ID and FANIN_TOPIC_NAME (default
// `fanin-inspector-classic`) accept that topic name of that account in every
// region of the partition. One of the two is required: without it no SNS
// envelope would be believed.
// FANIN_INSPECTOR2_ADMIN_ACCOUNTS: comma-separated account ids of Inspector2
// delegated administrators (may be empty).
// FANIN_GUARDDUTY_ADMIN_ACCOUNTS: the same for GuardDuty; unset or empty, the
// central account (FANIN_CENTRAL_ACCOUNT_ID), where GuardDuty's delegated
// administrator is by default (docs/deploy.md).

fn provenance_from_lookup(
    get: &impl Fn(&str) -> Option<String>,
    partition: Partition,
) -> Result<Provenance, ConfigError> {
    let listed = |name: &'static str| -> Vec<String> {
        get(name)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let topic_arns = listed("FANIN_TOPIC_ARNS");
    let topics = if !topic_arns.is_empty() {
        let mut accepted = BTreeSet::new();
        for raw in topic_arns {
            let arn =
                Arn::parse(&raw, "sns").map_err(|e| problem("FANIN_TOPIC_ARNS", e.to_string()))?;
            if arn.partition != partition || !partition.contains(&arn.region) {
                return Err(problem(
                    "FANIN_TOPIC_ARNS",
                    format!("{raw} is not in partition {partition}"),
                ));
            }
            accepted.insert(raw);
        }
        AcceptedTopics::Listed(accepted)
    } else {
        let raw_account = get("FANIN_CENTRAL_ACCOUNT_ID").unwrap_or_default();
        if raw_account.trim().is_empty() {
            return Err(problem(
                "FANIN_CENTRAL_ACCOUNT_ID",
                "is required unless FANIN_TOPIC_ARNS lists the accepted topics",
            ));
        }
        let account = AccountId::parse(&raw_account)
            .map_err(|e| problem("FANIN_CENTRAL_ACCOUNT_ID", e.to_string()))?;
        let name = get("FANIN_TOPIC_NAME").unwrap_or_else(|| "fanin-inspector-classic".into());
        if !is_topic_name(&name) {
            return Err(problem("FANIN_TOPIC_NAME", "not a valid SNS topic name"));
        }
        AcceptedTopics::Named { account, name }
    };
    let inspector2_admin_accounts = listed("FANIN_INSPECTOR2_ADMIN_ACCOUNTS")
        .iter()
        .map(|raw| AccountId::parse(raw))
        .collect::<Result<BTreeSet<_>, _>>()
        .map_err(|e| problem("FANIN_INSPECTOR2_ADMIN_ACCOUNTS", e.to_string()))?;
    Ok(Provenance {
        partition,
        topics,
        inspector2_admin_accounts,
        // Set from FANIN_GUARDDUTY_ADMIN_ACCOUNTS by the caller.
        guardduty_admin_accounts: BTreeSet::new(),
    })
}

/// FANIN_GUARDDUTY_ADMIN_ACCOUNTS, else the central account (when known).
fn guardduty_admin_accounts(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<BTreeSet<AccountId>, ConfigError> {
    let listed = account_list(get, "FANIN_GUARDDUTY_ADMIN_ACCOUNTS")?;
    if !listed.is_empty() {
        return Ok(listed);
    }
    account_list(get, "FANIN_CENTRAL_ACCOUNT_ID")
}

/// A comma-separated list of account ids (empty when unset).
fn account_list(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
) -> Result<BTreeSet<AccountId>, ConfigError> {
    get(variable)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|raw| AccountId::parse(raw).map_err(|e| problem(variable, e.to_string())))
        .collect()
}

fn is_topic_name(name: &str) -> bool {
    (1..=256).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// True for `localhost` and loopback addresses: the only hosts plain http and
/// no authentication are accepted for.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// S3 bucket naming rules (general purpose buckets).
pub fn validate_bucket(bucket: &str) -> Result<(), &'static str> {
    let ok = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && bucket.as_bytes()[0].is_ascii_alphanumeric()
        && bucket.as_bytes()[bucket.len() - 1].is_ascii_alphanumeric()
        && !bucket.contains("..");
    if ok {
        Ok(())
    } else {
        Err("not a valid S3 bucket name")
    }
}

/// An EventBridge bus name (not an ARN): 1 to 256 of `[A-Za-z0-9._-/]`.
pub fn is_bus_name(name: &str) -> bool {
    (1..=256).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b))
}

/// A whole number from 1 to `max` in `variable`, `default` when unset or
/// blank.
pub fn whole_number(
    get: impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    match get(variable).filter(|raw| !raw.trim().is_empty()) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| ConfigError {
                variable,
                problem: format!("a whole number from 1 to {max}"),
            }),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ForwarderConfig {
    pub central_account: AccountId,
    pub topic_name: String,
    pub partition: Partition,
    pub region: Region,
    /// `None`: subscribe every template. `Some((key, value))`: only templates
    /// whose user attributes or tags carry `key=value`.
    pub template_filter: Option<(String, String)>,
}

impl ForwarderConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let central_account =
            AccountId::parse(&get("FANIN_CENTRAL_ACCOUNT_ID").unwrap_or_default())
                .map_err(|e| problem("FANIN_CENTRAL_ACCOUNT_ID", e.to_string()))?;
        let topic_name =
            get("FANIN_TOPIC_NAME").unwrap_or_else(|| "fanin-inspector-classic".into());
        let topic_ok = (1..=256).contains(&topic_name.len())
            && topic_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !topic_ok {
            return Err(problem("FANIN_TOPIC_NAME", "not a valid SNS topic name"));
        }
        let partition = Partition::parse(&get("FANIN_PARTITION").unwrap_or_else(|| "aws".into()))
            .map_err(|e| problem("FANIN_PARTITION", e.to_string()))?;
        let region = Region::parse(&get("AWS_REGION").unwrap_or_default())
            .map_err(|e| problem("AWS_REGION", e.to_string()))?;
        let template_filter = match get("FANIN_TEMPLATE_TAG").as_deref() {
            None | Some("") => Some((
                "ScanType".to_owned(),
                "ScheduledRun-across-Fleet".to_owned(),
            )),
            Some("*") => None,
            Some(pair) => {
                let (key, value) = pair
                    .split_once('=')
                    .filter(|(k, _)| !k.is_empty())
                    .ok_or_else(|| problem("FANIN_TEMPLATE_TAG", "expected key=value or *"))?;
                Some((key.to_owned(), value.to_owned()))
            }
        };
        Ok(Self {
            central_account,
            topic_name,
            partition,
            region,
            template_filter,
        })
    }

    pub fn topic_arn(&self) -> String {
        format!(
            "arn:{}:sns:{}:{}:{}",
            self.partition, self.region, self.central_account, self.topic_name
        )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn collector(overrides: &[(&str, &str)]) -> Result<CollectorConfig, ConfigError> {
        let mut vars: HashMap<&str, &str> = [
            ("FANIN_BUCKET", "central-findings"),
            (
                "FANIN_OPENSEARCH_URL",
                "https://search-x.eu-west-1.es.amazonaws.com",
            ),
            ("FANIN_ROLE_NAME", "fanin-read"),
            ("FANIN_EXTERNAL_ID", "o-abc123-fanin"),
            ("FANIN_CENTRAL_ACCOUNT_ID", "999999999999"),
        ]
        .into_iter()
        .collect();
        vars.extend(overrides.iter().copied());
        CollectorConfig::from_lookup(|name| {
            vars.get(name)
                .filter(|v| !v.is_empty())
                .map(|v| v.to_string())
        })
    }

    #[test]
    fn defaults_are_secure() {
        let config = collector(&[]).unwrap();
        assert_eq!(
            config.search_auth,
            SearchAuth::SigV4 {
                service: "es".into()
            }
        );
        assert_eq!(config.encryption, Encryption::Kms { key_id: None });
        assert_eq!(config.index_prefix, "fanin");
    }

    #[test]
    fn plain_http_and_no_auth_only_on_loopback() {
        let err =
            collector(&[("FANIN_OPENSEARCH_URL", "http://search.example.com:9200")]).unwrap_err();
        assert_eq!(err.variable, "FANIN_OPENSEARCH_URL");
        assert!(
            collector(&[
                ("FANIN_OPENSEARCH_URL", "http://127.0.0.1:9200"),
                ("FANIN_OPENSEARCH_AUTH", "none")
            ])
            .is_ok()
        );
        let err = collector(&[("FANIN_OPENSEARCH_AUTH", "none")]).unwrap_err();
        assert_eq!(err.variable, "FANIN_OPENSEARCH_AUTH");
    }

    #[test]
    fn each_bad_variable_is_named() {
        for (name, value) in [
            ("FANIN_BUCKET", "Bad_Bucket"),
            ("FANIN_BUCKET", ""),
            ("FANIN_INDEX_PREFIX", "Fanin"),
            ("FANIN_ROLE_NAME", "role/with/slash"),
            ("FANIN_EXTERNAL_ID", "x"),
            ("FANIN_S3_SSE", "none"),
            ("FANIN_BULK_MAX_BYTES", "12"),
            ("FANIN_BULK_MAX_BYTES", "20971520"),
            ("FANIN_SESSION_DURATION_SECONDS", "7200"),
            (
                "FANIN_OPENSEARCH_URL",
                "https://admin:hunter2@search.example.com",
            ),
            ("FANIN_BATCH_SIZE", "0"),
            ("FANIN_BATCH_SIZE", "10001"),
            ("FANIN_MAXIMUM_BATCHING_WINDOW_SECONDS", "301"),
        ] {
            assert_eq!(
                collector(&[(name, value)]).unwrap_err().variable,
                name,
                "{name}={value}"
            );
        }
    }

    #[test]
    fn provenance_names_the_topics_and_administrators() {
        let config = collector(&[(
            "FANIN_INSPECTOR2_ADMIN_ACCOUNTS",
            "222222222222, 333333333333",
        )])
        .unwrap();
        assert_eq!(
            config.provenance.topics,
            AcceptedTopics::Named {
                account: AccountId::parse("999999999999").unwrap(),
                name: "fanin-inspector-classic".into(),
            }
        );
        let admins: Vec<&str> = config
            .provenance
            .inspector2_admin_accounts
            .iter()
            .map(AccountId::as_str)
            .collect();
        assert_eq!(admins, ["222222222222", "333333333333"]);
        assert!(
            collector(&[])
                .unwrap()
                .provenance
                .inspector2_admin_accounts
                .is_empty()
        );

        let listed = collector(&[
            ("FANIN_CENTRAL_ACCOUNT_ID", ""),
            (
                "FANIN_TOPIC_ARNS",
                "arn:aws:sns:eu-west-1:999999999999:a,arn:aws:sns:us-east-1:999999999999:b",
            ),
        ])
        .unwrap();
        let AcceptedTopics::Listed(arns) = listed.provenance.topics else {
            panic!("explicit topics are listed")
        };
        assert_eq!(arns.len(), 2);

        for (name, value) in [
            ("FANIN_CENTRAL_ACCOUNT_ID", ""),
            ("FANIN_CENTRAL_ACCOUNT_ID", "12345"),
            ("FANIN_TOPIC_NAME", "bad/name"),
            ("FANIN_TOPIC_ARNS", "arn:aws:sqs:eu-west-1:999999999999:a"),
            ("FANIN_TOPIC_ARNS", "arn:aws:sns:cn-north-1:999999999999:a"),
            ("FANIN_INSPECTOR2_ADMIN_ACCOUNTS", "222222222222,nope"),
        ] {
            assert_eq!(
                collector(&[(name, value)]).unwrap_err().variable,
                name,
                "{name}={value}"
            );
        }
    }

    #[test]
    fn guardduty_administrators_are_listed_accounts() {
        let config = collector(&[(
            "FANIN_GUARDDUTY_ADMIN_ACCOUNTS",
            "444444444444 ,555555555555",
        )])
        .unwrap();
        let admins: Vec<&str> = config
            .guardduty
            .admin_accounts
            .iter()
            .map(AccountId::as_str)
            .collect();
        assert_eq!(admins, ["444444444444", "555555555555"]);
        assert_eq!(config.guardduty.partition.as_str(), "aws");
        let central: Vec<String> = collector(&[])
            .unwrap()
            .guardduty
            .admin_accounts
            .iter()
            .map(|a| a.to_string())
            .collect();
        assert_eq!(central, ["999999999999"], "the central account by default");
        let listed_topics = collector(&[
            ("FANIN_CENTRAL_ACCOUNT_ID", ""),
            ("FANIN_TOPIC_ARNS", "arn:aws:sns:eu-west-1:999999999999:a"),
        ])
        .unwrap();
        assert!(listed_topics.guardduty.admin_accounts.is_empty());
        let err =
            collector(&[("FANIN_GUARDDUTY_ADMIN_ACCOUNTS", "444444444444,../x")]).unwrap_err();
        assert_eq!(err.variable, "FANIN_GUARDDUTY_ADMIN_ACCOUNTS");
    }

    #[test]
    fn the_poller_gathers_like_the_deployed_event_source_mapping() {
        let config = collector(&[]).unwrap();
        // BatchSize and MaximumBatchingWindow defaults of central-primary.yaml.
        assert_eq!(config.batch_size, 100);
        assert_eq!(config.maximum_batching_window, Duration::from_secs(5));
        let config = collector(&[
            ("FANIN_BATCH_SIZE", "10"),
            ("FANIN_MAXIMUM_BATCHING_WINDOW_SECONDS", "0"),
        ])
        .unwrap();
        assert_eq!(
            (config.batch_size, config.maximum_batching_window),
            (10, Duration::ZERO)
        );
        let err = collector(&[
            ("FANIN_BATCH_SIZE", "11"),
            ("FANIN_MAXIMUM_BATCHING_WINDOW_SECONDS", "0"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "FANIN_MAXIMUM_BATCHING_WINDOW_SECONDS");
    }

    #[test]
    fn debug_output_never_shows_the_external_id() {
        let config =
            collector(&[("FANIN_EXTERNAL_ID", "o-abc123-very-secret-external-id")]).unwrap();
        assert_eq!(
            config.external_id.expose(),
            "o-abc123-very-secret-external-id"
        );
        for shown in [format!("{config:?}"), format!("{config:#?}")] {
            assert!(!shown.contains("very-secret"), "{shown}");
            assert!(shown.contains("external_id: <redacted>"), "{shown}");
        }
    }

    #[test]
    fn forwarder_builds_the_regional_topic_arn() {
        let vars: HashMap<&str, &str> = [
            ("FANIN_CENTRAL_ACCOUNT_ID", "999999999999"),
            ("AWS_REGION", "ap-southeast-2"),
            ("FANIN_TEMPLATE_TAG", "*"),
        ]
        .into_iter()
        .collect();
        let config = ForwarderConfig::from_lookup(|n| vars.get(n).map(|v| v.to_string())).unwrap();
        assert_eq!(
            config.topic_arn(),
            "arn:aws:sns:ap-southeast-2:999999999999:fanin-inspector-classic"
        );
        assert_eq!(config.template_filter, None);
    }
}
