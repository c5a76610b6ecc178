//! AWS adapters of the [`crate::ports`] traits: one method per SDK call,
//! paginated, no retry loop on top of the SDK's standard retry policy. Every
//! client gets the timeouts and bounded attempts of [`load_sdk_config`], and
//! every error is classified once, by [`classify`], from the SDK's own retry
//! classification and the typed HTTP status.
//!
//! Per-account clients are built from one shared `SdkConfig` (one HTTP
//! connection pool) with the account session's credentials and the region.

pub mod ec2;
pub mod inspector;
pub mod s3;
pub mod sqs;
pub mod sts;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{AppName, BehaviorVersion, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_runtime::retries::classifiers::{THROTTLING_ERRORS, TRANSIENT_ERRORS};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::ProvideErrorKind;

use crate::ids::Region;
use crate::ports::{AccountSession, CallError};

/// Time to open a TCP (and TLS) connection. An AWS endpoint in the same
/// region connects in milliseconds; this is the SDK's own "standard"
/// defaults-mode value.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(3_100);
/// Longest silence while reading an answer.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// One attempt, connection to last byte. fanin's largest request is an
/// archive object of one (account, region, day) of a batch, a few MB at
/// most; its slowest answer is a page of DescribeInstances. Both take well
/// under a second; six seconds means something hangs.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(6);
/// One operation, all its attempts and back-offs. Three hung attempts (18 s)
/// fit, and a call still ends within a third of the collector's default
/// 60 s timeout, leaving the rest of the invocation to answer SQS.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(20);
/// Attempts per operation (the SDK's standard strategy, with its retry
/// quota so that an outage does not multiply the load).
pub const MAX_ATTEMPTS: u32 = 3;
/// The ceiling of the SDK's exponential back-off between attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The timeouts every AWS client of fanin gets.
pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// The timeouts of a long poll (SQS `ReceiveMessage` with `WaitTimeSeconds`):
/// the server is silent for up to `wait` by design, so the read, attempt and
/// operation timeouts start after it.
pub fn long_poll_timeout_config(wait: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(wait + READ_TIMEOUT)
        .operation_attempt_timeout(wait + ATTEMPT_TIMEOUT)
        .operation_timeout(wait + OPERATION_TIMEOUT)
        .build()
}

/// The SDK's standard retry strategy with bounded attempts and back-off.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_max_backoff(MAX_BACKOFF)
}

/// Loads the ambient AWS configuration with fanin's timeouts and retry
/// strategy, naming fanin in every User-Agent so its calls are easy to find
/// in CloudTrail, on the HTTP client whose TLS context the OpenSearch
/// transport shares ([`crate::tls`]).
pub async fn load_sdk_config(app_name: &str) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(crate::tls::sdk_http_client())
        .timeout_config(timeout_config())
        .retry_config(retry_config());
    if let Ok(name) = AppName::new(app_name.to_owned()) {
        loader = loader.app_name(name);
    }
    loader.load().await
}

/// The shared config with a source account's credentials and a region.
pub fn account_config(base: &SdkConfig, session: &AccountSession, region: &Region) -> SdkConfig {
    base.to_builder()
        .credentials_provider(SharedCredentialsProvider::new(session.credentials.clone()))
        .region(aws_types::region::Region::new(region.to_string()))
        .build()
}

/// Codes AWS uses for "you may not do this". The SDK's classifiers know what
/// to retry, not what is forbidden: this one list is fanin's own.
const DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthFailure",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "OptInRequired",
    "RegionDisabledException",
];

/// Codes a retry cures because of fanin's own state, beyond what the SDK
/// retries: an expired session is renewed by the session cache on the next
/// delivery.
const RENEWABLE_CODES: &[&str] = &["ExpiredToken", "ExpiredTokenException"];

/// The HTTP statuses the SDK's `HttpStatusCodeClassifier` retries by default
/// (private in `aws-smithy-runtime`).
const TRANSIENT_STATUSES: &[u16] = &[500, 502, 503, 504];

/// Classifies an SDK error as the SDK's own retry classifiers would, keeping
/// the AWS error code: the error's modeled retryable kind, then its code
/// against the SDK's throttling and transient lists, then the HTTP status of
/// the raw answer. Denied codes are fanin's; everything else a service
/// answered is rejected (permanent).
pub fn classify<E>(operation: &'static str, error: SdkError<E, HttpResponse>) -> CallError
where
    E: ProvideErrorMetadata + ProvideErrorKind + std::error::Error + Send + Sync + 'static,
{
    match &error {
        SdkError::ServiceError(service) => classify_answer(
            operation,
            service.err().retryable_error_kind().is_some(),
            ProvideErrorMetadata::code(service.err()),
            ProvideErrorMetadata::message(service.err()),
            service.raw().status().as_u16(),
        ),
        // Construction (credentials included), timeout, dispatch and
        // unparseable responses: network or service trouble, worth retrying
        // later; only a request the client itself refuses to send is not.
        SdkError::DispatchFailure(failure) if failure.is_user() => CallError::Rejected {
            operation,
            code: "DispatchFailure".to_owned(),
            message: DisplayChain(&error).to_string(),
        },
        other => CallError::transient(
            operation,
            sdk_error_kind(other),
            DisplayChain(&error).to_string(),
        ),
    }
}

/// The decision on an answer a service gave, from its parts.
fn classify_answer(
    operation: &'static str,
    modeled_retryable: bool,
    code: Option<&str>,
    message: Option<&str>,
    status: u16,
) -> CallError {
    let message = message.unwrap_or_default().to_owned();
    let Some(code) = code else {
        let code = format!("HTTP{status}");
        return if TRANSIENT_STATUSES.contains(&status) || status == 429 {
            CallError::Transient {
                operation,
                code,
                message,
            }
        } else if status == 401 || status == 403 {
            CallError::Denied {
                operation,
                code,
                message,
            }
        } else {
            CallError::Rejected {
                operation,
                code,
                message,
            }
        };
    };
    let code = code.to_owned();
    if DENIED_CODES.contains(&code.as_str()) {
        CallError::Denied {
            operation,
            code,
            message,
        }
    } else if modeled_retryable
        || THROTTLING_ERRORS.contains(&code.as_str())
        || TRANSIENT_ERRORS.contains(&code.as_str())
        || RENEWABLE_CODES.contains(&code.as_str())
        || TRANSIENT_STATUSES.contains(&status)
    {
        CallError::Transient {
            operation,
            code,
            message,
        }
    } else {
        CallError::Rejected {
            operation,
            code,
            message,
        }
    }
}

fn sdk_error_kind<E, R>(error: &SdkError<E, R>) -> &'static str {
    match error {
        SdkError::ConstructionFailure(_) => "ConstructionFailure",
        SdkError::TimeoutError(_) => "Timeout",
        SdkError::DispatchFailure(_) => "DispatchFailure",
        SdkError::ResponseError(_) => "ResponseError",
        SdkError::ServiceError(_) => "ServiceError",
        _ => "Unknown",
    }
}

/// Displays an error with its sources, which is where the SDK puts the detail.
struct DisplayChain<'a>(&'a dyn std::error::Error);

impl std::fmt::Display for DisplayChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(inner) = source {
            write!(f, ": {inner}")?;
            source = inner.source();
        }
        Ok(())
    }
}

/// Whether a Lambda payload is an SQS batch (`Records[].eventSource ==
/// "aws:sqs"`): the functions that also run on a schedule route on it.
pub fn is_sqs_batch(payload: &serde_json::Value) -> bool {
    payload["Records"]
        .as_array()
        .and_then(|records| records.first())
        .is_some_and(|record| record["eventSource"] == "aws:sqs")
}

#[cfg(test)]
mod tests {
    use aws_sdk_sts::operation::assume_role::AssumeRoleError;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    /// What the SDK hands back after a service answered `status` with `code`.
    fn answered(status: u16, code: Option<&str>) -> SdkError<AssumeRoleError, HttpResponse> {
        let mut metadata = ErrorMetadata::builder().message("from the service");
        if let Some(code) = code {
            metadata = metadata.code(code);
        }
        SdkError::service_error(
            AssumeRoleError::generic(metadata.build()),
            HttpResponse::new(status.try_into().unwrap(), SdkBody::empty()),
        )
    }

    fn transient(code: &str) -> CallError {
        CallError::transient("AssumeRole", code, "from the service")
    }

    #[test]
    fn throttling_of_every_service_is_transient_with_its_code() {
        for (status, code) in [
            (400, "EC2ThrottledException"),
            (400, "RequestThrottledException"),
            (400, "PriorRequestNotComplete"),
            (503, "SlowDown"),
            (400, "Throttling"),
            (400, "ThrottlingException"),
            (503, "RequestLimitExceeded"),
            (400, "RequestTimeout"),
        ] {
            assert_eq!(
                classify("AssumeRole", answered(status, Some(code))),
                transient(code),
                "{status} {code}"
            );
        }
    }

    #[test]
    fn server_errors_are_transient_with_or_without_a_code() {
        assert_eq!(
            classify("AssumeRole", answered(503, None)),
            transient("HTTP503")
        );
        assert_eq!(
            classify("AssumeRole", answered(500, Some("InternalError"))),
            transient("InternalError")
        );
        assert_eq!(
            classify("AssumeRole", answered(429, None)),
            transient("HTTP429")
        );
        assert_eq!(
            classify("AssumeRole", answered(400, Some("ExpiredToken"))),
            transient("ExpiredToken"),
            "the session cache renews an expired session"
        );
    }

    #[test]
    fn access_denied_is_denied() {
        assert_eq!(
            classify("AssumeRole", answered(403, Some("AccessDenied"))),
            CallError::Denied {
                operation: "AssumeRole",
                code: "AccessDenied".into(),
                message: "from the service".into(),
            }
        );
        assert!(matches!(
            classify("AssumeRole", answered(403, None)),
            CallError::Denied { code, .. } if code == "HTTP403"
        ));
    }

    #[test]
    fn other_answers_are_rejected() {
        assert_eq!(
            classify("AssumeRole", answered(400, Some("ValidationError"))),
            CallError::Rejected {
                operation: "AssumeRole",
                code: "ValidationError".into(),
                message: "from the service".into(),
            }
        );
        assert!(matches!(
            classify("AssumeRole", answered(501, Some("NotImplemented"))),
            CallError::Rejected { .. }
        ));
    }

    #[test]
    fn no_answer_is_transient_unless_the_request_was_refused_locally() {
        let timeout: SdkError<AssumeRoleError, HttpResponse> =
            SdkError::timeout_error("attempt timeout after 6s");
        assert!(matches!(
            classify("AssumeRole", timeout),
            CallError::Transient { code, .. } if code == "Timeout"
        ));
        let reset: SdkError<AssumeRoleError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::io("connection reset by peer".into()));
        assert!(matches!(
            classify("AssumeRole", reset),
            CallError::Transient { code, message, .. }
                if code == "DispatchFailure" && message.contains("connection reset")
        ));
        let refused: SdkError<AssumeRoleError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::user("invalid header value".into()));
        assert!(matches!(
            classify("AssumeRole", refused),
            CallError::Rejected { .. }
        ));
    }

    #[test]
    fn every_client_gets_bounded_timeouts_and_attempts() {
        let timeouts = timeout_config();
        assert_eq!(timeouts.connect_timeout(), Some(CONNECT_TIMEOUT));
        assert_eq!(timeouts.read_timeout(), Some(READ_TIMEOUT));
        assert_eq!(timeouts.operation_attempt_timeout(), Some(ATTEMPT_TIMEOUT));
        assert_eq!(timeouts.operation_timeout(), Some(OPERATION_TIMEOUT));
        assert!(ATTEMPT_TIMEOUT * MAX_ATTEMPTS <= OPERATION_TIMEOUT);
        let long_poll = long_poll_timeout_config(Duration::from_secs(20));
        assert_eq!(
            long_poll.operation_attempt_timeout(),
            Some(Duration::from_secs(20) + ATTEMPT_TIMEOUT)
        );
        let retries = retry_config();
        assert_eq!(retries.max_attempts(), MAX_ATTEMPTS);
        assert_eq!(retries.max_backoff(), MAX_BACKOFF);
    }
}
