//! Structured JSON logs for the Lambdas and the poller.

/// Whether each log line carries its own timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timestamps {
    /// Under Lambda: CloudWatch Logs stamps every line it receives.
    LeftToCloudWatch,
    /// Anywhere else (the poller on ECS, EC2, systemd, a terminal): nothing
    /// else records when a line was written.
    OnEachLine,
}

impl Timestamps {
    /// Lambda sets `AWS_LAMBDA_FUNCTION_NAME` in every function's
    /// environment; its absence means the process is not a Lambda function.
    pub fn for_environment(get: impl Fn(&str) -> Option<String>) -> Self {
        match get("AWS_LAMBDA_FUNCTION_NAME") {
            Some(name) if !name.is_empty() => Self::LeftToCloudWatch,
            _ => Self::OnEachLine,
        }
    }
}

/// Installs a JSON `tracing` subscriber; `RUST_LOG` sets the filter (default
/// `info`). Lines carry a `timestamp` (RFC 3339, UTC) unless running under
/// Lambda.
pub fn init_json_logs() {
    init_json_logs_with(Timestamps::for_environment(|name| std::env::var(name).ok()));
}

pub fn init_json_logs_with(timestamps: Timestamps) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let format = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(false);
    let _ = match timestamps {
        Timestamps::LeftToCloudWatch => format.without_time().try_init(),
        Timestamps::OnEachLine => format.try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_only_outside_lambda() {
        let under_lambda =
            |name: &str| (name == "AWS_LAMBDA_FUNCTION_NAME").then(|| "fanin-collector".to_owned());
        assert_eq!(
            Timestamps::for_environment(under_lambda),
            Timestamps::LeftToCloudWatch
        );
        assert_eq!(
            Timestamps::for_environment(|_| None),
            Timestamps::OnEachLine
        );
        assert_eq!(
            Timestamps::for_environment(|_| Some(String::new())),
            Timestamps::OnEachLine,
            "an empty variable is not a Lambda function"
        );
    }
}
