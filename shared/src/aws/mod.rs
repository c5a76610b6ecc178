//! AWS adapters of the [`crate::ports`] traits: one method per SDK call,
//! paginated, no retry loop on top of the SDK's standard retry policy.
//!
//! Per-account clients are built from one shared `SdkConfig` (one HTTP
//! connection pool) with the account session's credentials and the region.

pub mod ec2;
pub mod inspector;
pub mod s3;
pub mod sqs;
pub mod sts;

use aws_config::{AppName, BehaviorVersion, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::ids::Region;
use crate::ports::{AccountSession, CallError};

/// Loads the ambient AWS configuration, naming fanin in every User-Agent so
/// its calls are easy to find in CloudTrail.
pub async fn load_sdk_config(app_name: &str) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
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

/// Codes AWS uses for "you may not do this".
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

/// Codes that mean "try again later", beyond 5xx answers.
const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "SlowDown",
    "RequestTimeout",
    "RequestTimeoutException",
    "ServiceUnavailable",
    "InternalError",
    "InternalFailure",
    "InternalException",
    "ExpiredToken",
    "ExpiredTokenException",
    "IDPCommunicationError",
];

/// Classifies an SDK error, keeping the AWS error code.
pub fn classify<E, R>(operation: &'static str, error: SdkError<E, R>) -> CallError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match &error {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("Unknown").to_owned();
            let message = service.err().message().unwrap_or_default().to_owned();
            let status = http_status(service.raw());
            if DENIED_CODES.contains(&code.as_str()) {
                CallError::Denied {
                    operation,
                    code,
                    message,
                }
            } else if TRANSIENT_CODES.contains(&code.as_str()) || status.is_some_and(|s| s >= 500) {
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
        // Construction, timeout, dispatch and unparseable responses: network
        // or service trouble, worth retrying later.
        other => CallError::transient(
            operation,
            sdk_error_kind(other),
            format!("{}", DisplayChain(&error)),
        ),
    }
}

fn http_status<R: std::fmt::Debug>(raw: &R) -> Option<u16> {
    // The raw response type differs per service; its Debug output names the status.
    let text = format!("{raw:?}");
    let at = text.find("status: StatusCode(")?;
    text[at + 19..].split(')').next()?.parse().ok()
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
