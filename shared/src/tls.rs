//! One TLS configuration for every HTTPS client of a process.
//!
//! The AWS SDK's clients and fanin's OpenSearch transport
//! ([`crate::search::transport`]) connect through the same HTTP stack:
//! `aws-smithy-http-client` (hyper and rustls with aws-lc), whose connectors
//! are built by [`aws_smithy_http_client::default_connector`], the very
//! function behind the SDK's default HTTPS client. Both therefore get the
//! same rustls configuration (TLS 1.2 and 1.3, the SDK's cipher suites,
//! certificates always verified) and the same root store: the system's CA
//! certificates, read once per process and kept by that crate.
//!
//! Before, the OpenSearch client (the `opensearch` crate over its own
//! reqwest) loaded the system store a second time at cold start, through
//! `rustls-platform-verifier`, and could not be given a prepared TLS
//! configuration (docs/design.md, "TLS").

use std::time::Duration;

use aws_smithy_runtime_api::client::http::{HttpConnectorSettings, SharedHttpConnector};

/// An HTTPS (and HTTP, for loopback endpoints) connector with the AWS SDK's
/// TLS configuration and root store, and this connect timeout (the caller
/// bounds each whole request). Requests through it go to the address they
/// name: no proxy.
pub fn https_connector(connect_timeout: Duration) -> anyhow::Result<SharedHttpConnector> {
    let settings = HttpConnectorSettings::builder()
        .connect_timeout(connect_timeout)
        .build();
    aws_smithy_http_client::default_connector(
        &settings,
        aws_smithy_async::rt::sleep::default_async_sleep(),
    )
    .ok_or_else(|| anyhow::anyhow!("aws-smithy-http-client was built without rustls"))
}
