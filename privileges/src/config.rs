//! The function's environment, set by `cloudformation/central-privileges.yaml`.
//!
//! The store's variables are the collector's (`FANIN_BUCKET`,
//! `FANIN_OPENSEARCH_URL`, `FANIN_INDEX_PREFIX`, `FANIN_ROLE_NAME`,
//! `FANIN_EXTERNAL_ID`, `FANIN_PARTITION`, `FANIN_CENTRAL_ACCOUNT_ID`, ...),
//! read by [`CollectorConfig::from_lookup`] so every function validates them
//! alike; the least-privilege function's own are below.

use std::time::Duration;

use fanin::config::{CollectorConfig, ConfigError};
use fanin::ids::AccountId;

/// Read once per cold start.
#[derive(Debug, Clone, PartialEq)]
pub struct PrivilegesConfig {
    /// The archive bucket, the index, the read role and its ExternalId, the
    /// partition, the central account: as the collector's.
    pub store: CollectorConfig,
    /// The bucket the organization trail delivers to
    /// (`FANIN_TRAIL_BUCKET`): a notification from any other bucket is set
    /// aside.
    pub trail_bucket: String,
    /// The central bus the privilege records are put on (`FANIN_EVENT_BUS`).
    pub event_bus: String,
    /// The evaluation's window (`FANIN_PRIVILEGES_WINDOW_DAYS`, default 90,
    /// 1 to 400).
    pub window: Duration,
    /// A principal created less than this before the evaluation is reported,
    /// not judged (`FANIN_PRIVILEGES_MIN_DAYS`, default 7, 1 to 400).
    pub min_observation: Duration,
}

impl PrivilegesConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let store = CollectorConfig::from_lookup(&get)?;
        let problem = |variable: &'static str, problem: &str| ConfigError {
            variable,
            problem: problem.to_owned(),
        };
        let trail_bucket = get("FANIN_TRAIL_BUCKET")
            .filter(|name| fanin::config::validate_bucket(name).is_ok())
            .ok_or_else(|| problem("FANIN_TRAIL_BUCKET", "a valid S3 bucket name is required"))?;
        let event_bus = get("FANIN_EVENT_BUS")
            .filter(|name| fanin::config::is_bus_name(name))
            .ok_or_else(|| problem("FANIN_EVENT_BUS", "an event bus name is required"))?;
        let window_days =
            fanin::config::whole_number(&get, "FANIN_PRIVILEGES_WINDOW_DAYS", 90, 400)?;
        let min_days = fanin::config::whole_number(&get, "FANIN_PRIVILEGES_MIN_DAYS", 7, 400)?;
        Ok(Self {
            store,
            trail_bucket,
            event_bus,
            window: Duration::from_secs(window_days * 86_400),
            min_observation: Duration::from_secs(min_days * 86_400),
        })
    }

    /// The central account: the only one whose privilege records the
    /// collector believes.
    pub fn central_account(&self) -> Option<&AccountId> {
        self.store.provenance.central_account()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn environment(extra: &[(&str, &str)]) -> HashMap<String, String> {
        let mut vars: HashMap<String, String> = [
            ("FANIN_BUCKET", "fanin-findings-222222222222-us-east-1"),
            ("FANIN_OPENSEARCH_URL", "https://search.example.com"),
            ("FANIN_ROLE_NAME", "fanin-read"),
            ("FANIN_EXTERNAL_ID", "an-external-id"),
            ("FANIN_CENTRAL_ACCOUNT_ID", "222222222222"),
            ("FANIN_TRAIL_BUCKET", "fanin-trail-222222222222-us-east-1"),
            ("FANIN_EVENT_BUS", "fanin-findings"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        for (k, v) in extra {
            vars.insert((*k).to_owned(), (*v).to_owned());
        }
        vars
    }

    fn read(vars: &HashMap<String, String>) -> Result<PrivilegesConfig, ConfigError> {
        PrivilegesConfig::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_are_ninety_days_judged_after_a_week() {
        let config = read(&environment(&[])).unwrap();
        assert_eq!(config.window, Duration::from_secs(90 * 86_400));
        assert_eq!(config.min_observation, Duration::from_secs(7 * 86_400));
        assert_eq!(config.trail_bucket, "fanin-trail-222222222222-us-east-1");
        assert_eq!(config.central_account().unwrap().as_str(), "222222222222");
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        for (variable, value) in [
            ("FANIN_PRIVILEGES_WINDOW_DAYS", "0"),
            ("FANIN_PRIVILEGES_WINDOW_DAYS", "401"),
            ("FANIN_PRIVILEGES_MIN_DAYS", "a week"),
            ("FANIN_TRAIL_BUCKET", "Not_A_Bucket"),
            (
                "FANIN_EVENT_BUS",
                "arn:aws:events:us-east-1:222222222222:event-bus/x y",
            ),
        ] {
            let error = read(&environment(&[(variable, value)])).unwrap_err();
            assert_eq!(error.variable, variable, "{variable}={value}");
        }
    }
}
