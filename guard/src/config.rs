//! The guard's configuration, read once at cold start from the environment
//! the StackSet template sets. Validation is pure (`from_lookup`) and names
//! the variable at fault.

use fanin::config::ConfigError;
use fanin::ids::{Partition, Region};

/// Where the policy object is, and what the guard does with its decisions.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardConfig {
    pub policy_bucket: String,
    pub policy_key: String,
    /// The object version to read (`None`: the bucket is not versioned).
    pub policy_version: Option<String>,
    /// The bus records go to (`default`).
    pub event_bus: String,
    /// SNS topic for notifications (`None`: no notifications).
    pub topic_arn: Option<String>,
    /// Role ARNs whose calls are the guard's own, never reacted to.
    pub own_roles: Vec<String>,
    /// Whether Config remediation may change groups at all.
    pub remediation: bool,
    pub partition: Partition,
    pub region: Region,
}

fn problem(variable: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        problem: problem.into(),
    }
}

impl GuardConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| problem(name, "not set"))
        };
        let policy_bucket = required("FANIN_GUARD_POLICY_BUCKET")?;
        if !valid_bucket(&policy_bucket) {
            return Err(problem(
                "FANIN_GUARD_POLICY_BUCKET",
                "not a valid S3 bucket name",
            ));
        }
        let policy_key = required("FANIN_GUARD_POLICY_KEY")?;
        if policy_key.len() > 1024 || policy_key.chars().any(char::is_control) {
            return Err(problem("FANIN_GUARD_POLICY_KEY", "not a valid S3 key"));
        }
        let policy_version = get("FANIN_GUARD_POLICY_VERSION")
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty());
        if let Some(version) = &policy_version
            && (version.len() > 1024 || !version.chars().all(|c| c.is_ascii_graphic()))
        {
            return Err(problem(
                "FANIN_GUARD_POLICY_VERSION",
                "not an S3 version id",
            ));
        }
        let event_bus = get("FANIN_GUARD_EVENT_BUS")
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "default".to_owned());
        let bus_ok = event_bus.len() <= 1600
            && event_bus
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_./:".contains(&b));
        if !bus_ok {
            return Err(problem(
                "FANIN_GUARD_EVENT_BUS",
                "not an event bus name or ARN",
            ));
        }
        let partition = Partition::parse(&get("FANIN_PARTITION").unwrap_or_else(|| "aws".into()))
            .map_err(|e| problem("FANIN_PARTITION", e.to_string()))?;
        let region = Region::parse(&get("AWS_REGION").unwrap_or_default())
            .map_err(|e| problem("AWS_REGION", e.to_string()))?;
        let topic_arn = get("FANIN_GUARD_TOPIC_ARN")
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty());
        if let Some(arn) = &topic_arn
            && !is_arn_of(arn, "sns", partition.as_str())
        {
            return Err(problem(
                "FANIN_GUARD_TOPIC_ARN",
                "not an SNS topic ARN of this partition",
            ));
        }
        let own_roles: Vec<String> = get("FANIN_GUARD_OWN_ROLES")
            .unwrap_or_default()
            .split(',')
            .map(|role| role.trim().to_owned())
            .filter(|role| !role.is_empty())
            .collect();
        if let Some(bad) = own_roles
            .iter()
            .find(|role| !is_arn_of(role, "iam", partition.as_str()) || !role.contains(":role/"))
        {
            return Err(problem(
                "FANIN_GUARD_OWN_ROLES",
                format!(
                    "{:?} is not an IAM role ARN",
                    bad.chars().take(128).collect::<String>()
                ),
            ));
        }
        if own_roles.is_empty() {
            return Err(problem(
                "FANIN_GUARD_OWN_ROLES",
                "not set: the guard must know its own role to ignore its own calls",
            ));
        }
        let remediation = match get("FANIN_GUARD_REMEDIATION").as_deref().map(str::trim) {
            None | Some("") | Some("false") => false,
            Some("true") => true,
            Some(_) => {
                return Err(problem(
                    "FANIN_GUARD_REMEDIATION",
                    "expected \"true\" or \"false\"",
                ));
            }
        };
        Ok(Self {
            policy_bucket,
            policy_key,
            policy_version,
            event_bus,
            topic_arn,
            own_roles,
            remediation,
            partition,
            region,
        })
    }
}

/// `arn:<partition>:<service>:...` with printable characters only.
fn is_arn_of(arn: &str, service: &str, partition: &str) -> bool {
    let mut parts = arn.splitn(6, ':');
    parts.next() == Some("arn")
        && parts.next() == Some(partition)
        && parts.next() == Some(service)
        && arn.len() <= 2048
        && arn.chars().all(|c| c.is_ascii_graphic())
        && arn.split(':').count() >= 6
}

fn valid_bucket(bucket: &str) -> bool {
    (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && bucket.as_bytes()[0].is_ascii_alphanumeric()
        && bucket.as_bytes()[bucket.len() - 1].is_ascii_alphanumeric()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(overrides: &[(&str, &str)]) -> Result<GuardConfig, ConfigError> {
        let mut vars = vec![
            ("FANIN_GUARD_POLICY_BUCKET", "fanin-code-us-east-1"),
            ("FANIN_GUARD_POLICY_KEY", "fanin/abc/guard-policy.yaml"),
            ("FANIN_GUARD_POLICY_VERSION", "3HL4kqtJlcpXroDTDmJ"),
            ("FANIN_GUARD_EVENT_BUS", "default"),
            ("FANIN_GUARD_TOPIC_ARN", ""),
            (
                "FANIN_GUARD_OWN_ROLES",
                "arn:aws:iam::111122223333:role/fanin-guard",
            ),
            ("FANIN_GUARD_REMEDIATION", "false"),
            ("FANIN_PARTITION", "aws"),
            ("AWS_REGION", "us-east-1"),
        ];
        for (name, value) in overrides {
            vars.retain(|(n, _)| n != name);
            vars.push((name, value));
        }
        GuardConfig::from_lookup(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn the_template_environment_reads() {
        let config = config(&[]).unwrap();
        assert_eq!(
            config.policy_version.as_deref(),
            Some("3HL4kqtJlcpXroDTDmJ")
        );
        assert_eq!(config.topic_arn, None);
        assert_eq!(
            config.own_roles,
            ["arn:aws:iam::111122223333:role/fanin-guard"]
        );
        assert!(!config.remediation);
        let on = super::GuardConfig {
            remediation: true,
            ..config.clone()
        };
        assert_eq!(
            self::config(&[("FANIN_GUARD_REMEDIATION", "true")]).unwrap(),
            on
        );
    }

    #[test]
    fn each_bad_variable_is_named() {
        for (name, value) in [
            ("FANIN_GUARD_POLICY_BUCKET", ""),
            ("FANIN_GUARD_POLICY_BUCKET", "Bad_Bucket"),
            ("FANIN_GUARD_POLICY_KEY", ""),
            (
                "FANIN_GUARD_TOPIC_ARN",
                "arn:aws:sqs:us-east-1:111122223333:q",
            ),
            ("FANIN_GUARD_OWN_ROLES", ""),
            ("FANIN_GUARD_OWN_ROLES", "arn:aws:iam::111122223333:user/x"),
            ("FANIN_GUARD_REMEDIATION", "yes"),
            ("FANIN_GUARD_EVENT_BUS", "bad bus"),
            ("AWS_REGION", "nowhere"),
        ] {
            let error = config(&[(name, value)]).unwrap_err();
            assert_eq!(error.variable, name, "{name}={value:?}");
        }
    }
}
