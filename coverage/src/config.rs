//! The coverage check's configuration, read once at start.
//!
//! The part it shares with the collector (bucket, search endpoint, read role
//! name and ExternalId, partition, encryption) is validated by the
//! collector's own [`CollectorConfig::from_lookup`], so both read the same
//! variables the same way.

use std::collections::BTreeSet;

use fanin::config::{CollectorConfig, ConfigError};
use fanin::ids::{AccountId, Region};

/// How far back "Inspector2 events seen" looks by default.
pub const DEFAULT_HOURS: u32 = 24;
/// At most 30 days back: beyond that the latest-state index says little.
pub const MAX_HOURS: u32 = 720;

#[derive(Debug, Clone, PartialEq)]
pub struct CoverageConfig {
    pub common: CollectorConfig,
    /// The regions fanin is deployed to (`FANIN_REGIONS`, comma separated).
    pub regions: Vec<Region>,
    /// The central account, owner of the Inspector Classic topics.
    pub central_account: AccountId,
    pub topic_name: String,
    /// Accounts of the organization fanin is not deployed to on purpose (the
    /// central and management accounts, usually): listed, never checked.
    pub excluded_accounts: BTreeSet<AccountId>,
    /// `FANIN_COVERAGE_HOURS`: the window of the scheduled check.
    pub hours: u32,
    /// A role in the management account to read the organization through;
    /// `None`: the central account reads it itself (management account or
    /// Organizations delegated administrator).
    pub organizations_role_arn: Option<String>,
}

fn problem(variable: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        problem: problem.into(),
    }
}

impl CoverageConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let common = CollectorConfig::from_lookup(&get)?;
        let regions = get("FANIN_REGIONS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(|r| Region::parse(r).map_err(|e| problem("FANIN_REGIONS", e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        if regions.is_empty() {
            return Err(problem(
                "FANIN_REGIONS",
                "is required (comma-separated regions)",
            ));
        }
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
        let excluded_accounts = get("FANIN_COVERAGE_EXCLUDED_ACCOUNTS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(|a| {
                AccountId::parse(a)
                    .map_err(|e| problem("FANIN_COVERAGE_EXCLUDED_ACCOUNTS", e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        let hours = match get("FANIN_COVERAGE_HOURS") {
            None => DEFAULT_HOURS,
            Some(raw) => parse_hours(&raw).map_err(|p| problem("FANIN_COVERAGE_HOURS", p))?,
        };
        let organizations_role_arn = get("FANIN_ORGANIZATIONS_ROLE_ARN")
            .filter(|r| !r.is_empty())
            .map(|arn| {
                let ok = arn.starts_with("arn:")
                    && arn.contains(":iam::")
                    && arn.contains(":role/")
                    && arn.len() <= 2048;
                if ok {
                    Ok(arn)
                } else {
                    Err(problem(
                        "FANIN_ORGANIZATIONS_ROLE_ARN",
                        "not an IAM role ARN",
                    ))
                }
            })
            .transpose()?;
        Ok(Self {
            common,
            regions,
            central_account,
            topic_name,
            excluded_accounts,
            hours,
            organizations_role_arn,
        })
    }
}

/// Hours within 1 to [`MAX_HOURS`].
pub fn parse_hours(raw: &str) -> Result<u32, String> {
    let hours: u32 = raw.trim().parse().map_err(|_| {
        format!(
            "not a number of hours: {:?}",
            fanin::ids::truncate_for_message(raw)
        )
    })?;
    if (1..=MAX_HOURS).contains(&hours) {
        Ok(hours)
    } else {
        Err(format!("must be within 1..={MAX_HOURS}"))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(overrides: &[(&str, &str)]) -> Result<CoverageConfig, ConfigError> {
        let mut vars: HashMap<&str, &str> = [
            ("FANIN_BUCKET", "central-findings"),
            (
                "FANIN_OPENSEARCH_URL",
                "https://search-x.eu-west-1.es.amazonaws.com",
            ),
            ("FANIN_ROLE_NAME", "fanin-collector-read"),
            ("FANIN_EXTERNAL_ID", "o-abc123-fanin-external"),
            ("FANIN_REGIONS", "us-east-1, eu-west-1"),
            ("FANIN_CENTRAL_ACCOUNT_ID", "999999999999"),
        ]
        .into_iter()
        .collect();
        vars.extend(overrides.iter().copied());
        CoverageConfig::from_lookup(|name| {
            vars.get(name)
                .filter(|v| !v.is_empty())
                .map(|v| v.to_string())
        })
    }

    #[test]
    fn defaults() {
        let config = config(&[]).unwrap();
        assert_eq!(
            config.regions,
            vec![
                Region::parse("us-east-1").unwrap(),
                Region::parse("eu-west-1").unwrap()
            ]
        );
        assert_eq!(config.hours, 24);
        assert_eq!(config.topic_name, "fanin-inspector-classic");
        assert!(config.excluded_accounts.is_empty());
        assert_eq!(config.organizations_role_arn, None);
    }

    #[test]
    fn exclusions_and_role_are_read() {
        let config = config(&[
            (
                "FANIN_COVERAGE_EXCLUDED_ACCOUNTS",
                "999999999999,123456789012",
            ),
            (
                "FANIN_ORGANIZATIONS_ROLE_ARN",
                "arn:aws:iam::000000000000:role/fanin-organization-read",
            ),
            ("FANIN_COVERAGE_HOURS", "48"),
        ])
        .unwrap();
        assert_eq!(config.excluded_accounts.len(), 2);
        assert_eq!(config.hours, 48);
        assert!(config.organizations_role_arn.is_some());
    }

    #[test]
    fn each_bad_variable_is_named() {
        for (name, value) in [
            ("FANIN_REGIONS", ""),
            ("FANIN_REGIONS", "us-east-1,Mars"),
            ("FANIN_CENTRAL_ACCOUNT_ID", "12"),
            ("FANIN_TOPIC_NAME", "a topic"),
            ("FANIN_COVERAGE_EXCLUDED_ACCOUNTS", "123"),
            ("FANIN_COVERAGE_HOURS", "0"),
            ("FANIN_COVERAGE_HOURS", "721"),
            ("FANIN_COVERAGE_HOURS", "soon"),
            ("FANIN_ORGANIZATIONS_ROLE_ARN", "fanin-organization-read"),
            ("FANIN_BUCKET", "Bad_Bucket"),
        ] {
            assert_eq!(
                config(&[(name, value)]).unwrap_err().variable,
                name,
                "{name}={value}"
            );
        }
    }
}
