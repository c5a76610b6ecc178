//! The function's environment, set by `cloudformation/central-exposure.yaml`.
//!
//! The store's variables are the collector's (`FANIN_BUCKET`,
//! `FANIN_OPENSEARCH_URL`, `FANIN_INDEX_PREFIX`, `FANIN_ROLE_NAME`,
//! `FANIN_EXTERNAL_ID`, `FANIN_PARTITION`, `FANIN_CENTRAL_ACCOUNT_ID`, ...),
//! read by [`CollectorConfig::from_lookup`] so both functions validate them
//! alike; the exposure's own are below.

use std::time::Duration;

use fanin::config::{CollectorConfig, ConfigError};
use fanin::ids::AccountId;

/// Read once per cold start.
#[derive(Debug, Clone, PartialEq)]
pub struct ExposureConfig {
    /// The archive bucket, the index, the read role and its ExternalId, the
    /// partition, the central account: as the collector's.
    pub store: CollectorConfig,
    /// The bucket the flow logs are delivered to (`FANIN_FLOW_LOG_BUCKET`):
    /// a notification from any other bucket is set aside.
    pub flow_log_bucket: String,
    /// The central bus the usage records are put on (`FANIN_EVENT_BUS`).
    pub event_bus: String,
    /// The evaluation's window (`FANIN_EXPOSURE_WINDOW_DAYS`, default 14,
    /// 1 to 90).
    pub window: Duration,
    /// A rule (or its change) younger than this is reported, not judged
    /// (`FANIN_EXPOSURE_MIN_HOURS`, default 24, 1 to 2160).
    pub min_observation: Duration,
}

impl ExposureConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let store = CollectorConfig::from_lookup(&get)?;
        let problem = |variable: &'static str, problem: &str| ConfigError {
            variable,
            problem: problem.to_owned(),
        };
        let flow_log_bucket = get("FANIN_FLOW_LOG_BUCKET")
            .filter(|name| fanin::config::validate_bucket(name).is_ok())
            .ok_or_else(|| {
                problem(
                    "FANIN_FLOW_LOG_BUCKET",
                    "a valid S3 bucket name is required",
                )
            })?;
        let event_bus = get("FANIN_EVENT_BUS")
            .filter(|name| fanin::config::is_bus_name(name))
            .ok_or_else(|| problem("FANIN_EVENT_BUS", "an event bus name is required"))?;
        let window_days = fanin::config::whole_number(&get, "FANIN_EXPOSURE_WINDOW_DAYS", 14, 90)?;
        let min_hours = fanin::config::whole_number(&get, "FANIN_EXPOSURE_MIN_HOURS", 24, 2160)?;
        Ok(Self {
            store,
            flow_log_bucket,
            event_bus,
            window: Duration::from_secs(window_days * 86_400),
            min_observation: Duration::from_secs(min_hours * 3_600),
        })
    }

    /// The central account: the only one whose usage records the collector
    /// believes.
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
            (
                "FANIN_FLOW_LOG_BUCKET",
                "fanin-flow-logs-222222222222-us-east-1",
            ),
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

    fn read(vars: &HashMap<String, String>) -> Result<ExposureConfig, ConfigError> {
        ExposureConfig::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_are_a_fortnight_judged_after_a_day() {
        let config = read(&environment(&[])).unwrap();
        assert_eq!(config.window, Duration::from_secs(14 * 86_400));
        assert_eq!(config.min_observation, Duration::from_secs(24 * 3_600));
        assert_eq!(config.central_account().unwrap().as_str(), "222222222222");
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        for (variable, value) in [
            ("FANIN_EXPOSURE_WINDOW_DAYS", "0"),
            ("FANIN_EXPOSURE_WINDOW_DAYS", "91"),
            ("FANIN_EXPOSURE_MIN_HOURS", "a day"),
            ("FANIN_FLOW_LOG_BUCKET", "Not_A_Bucket"),
            ("FANIN_EVENT_BUS", "bus name with spaces"),
        ] {
            let error = read(&environment(&[(variable, value)])).unwrap_err();
            assert_eq!(error.variable, variable, "{value}");
        }
    }
}
