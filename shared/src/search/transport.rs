//! fanin's own OpenSearch transport: one request at a time to one node,
//! through the process's shared HTTPS connector ([`crate::tls`]), signed
//! with SigV4 for Amazon OpenSearch Service (`es`) and Serverless (`aoss`),
//! or with HTTP basic authentication, or not at all (loopback only, checked
//! by the configuration).
//!
//! What it keeps of the `opensearch` client it replaces: paths are resolved
//! against the endpoint's URL (so an endpoint behind a path prefix works),
//! each request ends within [`REQUEST_TIMEOUT`] unless told otherwise, no proxy is used, and
//! credentials are asked of their provider for each request (the provider
//! caches them).

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    PayloadChecksumKind, SignableBody, SignableRequest, SigningParams, SigningSettings, sign,
};
use aws_smithy_runtime_api::client::http::{HttpConnector, SharedHttpConnector};
use aws_smithy_runtime_api::client::identity::Identity;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use base64::Engine;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};
pub use http::{Method, StatusCode};

use crate::config::SearchAuth;
use crate::ports::CallError;

/// One request, connection to last byte. A `_bulk` body is capped at
/// `FANIN_BULK_MAX_BYTES` (5 MB by default), which a healthy domain indexes in
/// well under a second; after ten seconds the cluster is hung or drowning,
/// and the items are better retried (with back-off, within the invocation's
/// deadline) than waited for until Lambda's hard timeout.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How a request proves who sends it.
#[derive(Clone)]
enum Signer {
    SigV4 {
        service: String,
        credentials: SharedCredentialsProvider,
        region: String,
    },
    /// The whole `Authorization` header value.
    Basic(HeaderValue),
    None,
}

/// One OpenSearch node (or Dashboards endpoint). Clones share the
/// connector: its connection pool and its TLS configuration.
#[derive(Clone)]
pub struct SearchTransport {
    connector: SharedHttpConnector,
    /// The endpoint, its path ending with `/`, so that paths join under it.
    base: url::Url,
    signer: Signer,
    /// One request, connection to last byte.
    timeout: Duration,
}

/// An answer, whatever its status.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: String,
}

impl SearchTransport {
    /// `credentials` and `region` are used only with [`SearchAuth::SigV4`].
    pub fn new(
        url: &url::Url,
        auth: &SearchAuth,
        credentials: Option<SharedCredentialsProvider>,
        region: Option<aws_types::region::Region>,
    ) -> anyhow::Result<Self> {
        let signer = match auth {
            SearchAuth::SigV4 { service } => Signer::SigV4 {
                service: service.clone(),
                credentials: credentials
                    .ok_or_else(|| anyhow::anyhow!("SigV4 needs AWS credentials"))?,
                region: region
                    .ok_or_else(|| anyhow::anyhow!("SigV4 needs an AWS region"))?
                    .to_string(),
            },
            SearchAuth::Basic { username, password } => {
                let token = base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{}", password.expose()));
                let mut value = HeaderValue::from_str(&format!("Basic {token}"))?;
                value.set_sensitive(true);
                Signer::Basic(value)
            }
            SearchAuth::None => Signer::None,
        };
        let mut base = url.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        Ok(Self {
            connector: crate::tls::https_connector(crate::aws::CONNECT_TIMEOUT),
            base,
            signer,
            timeout: REQUEST_TIMEOUT,
        })
    }

    /// Each request ends within `timeout` instead of [`REQUEST_TIMEOUT`].
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Scheme, host and port only, for reports.
    pub fn endpoint(&self) -> String {
        self.base.origin().ascii_serialization()
    }

    /// Sends one request (`path` may carry a query); any HTTP status is an
    /// answer. Failing to connect, to send or to read the answer in time is
    /// transient (`Timeout`, `connection`, `read`); failing to sign is
    /// transient too (`credentials`: the provider could not answer).
    pub async fn send(
        &self,
        operation: &'static str,
        method: Method,
        path: &str,
        headers: &[(HeaderName, HeaderValue)],
        body: Vec<u8>,
    ) -> Result<Answer, CallError> {
        let request = self
            .request(method, path, headers, body)
            .map_err(|e| rejected(operation, "request", e.to_string()))?;
        let request = self.sign(operation, request).await?;
        let request = request.map(SdkBody::from).try_into().map_err(
            |e: aws_smithy_runtime_api::http::HttpError| {
                rejected(operation, "request", e.to_string())
            },
        )?;
        let exchange = async {
            let response = self.connector.call(request).await.map_err(|e| {
                let code = if e.is_timeout() {
                    "Timeout"
                } else {
                    "connection"
                };
                CallError::transient(operation, code, e.to_string())
            })?;
            let status = StatusCode::from_u16(response.status().as_u16())
                .map_err(|e| CallError::transient(operation, "read", e.to_string()))?;
            let bytes = ByteStream::new(response.into_body())
                .collect()
                .await
                .map_err(|e| CallError::transient(operation, "read", e.to_string()))?
                .into_bytes();
            Ok(Answer {
                status,
                body: String::from_utf8_lossy(&bytes).into_owned(),
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or_else(|_| {
                Err(CallError::transient(
                    operation,
                    "Timeout",
                    format!("no complete answer within {:?}", self.timeout),
                ))
            })
    }

    /// The unsigned request: the path joined under the endpoint, the given
    /// headers, basic authentication if configured.
    fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(HeaderName, HeaderValue)],
        body: Vec<u8>,
    ) -> anyhow::Result<http::Request<Vec<u8>>> {
        let url = self.base.join(path.trim_start_matches('/'))?;
        let mut request = http::Request::builder()
            .method(method)
            .uri(url.as_str())
            .body(body)?;
        for (name, value) in headers {
            request.headers_mut().insert(name.clone(), value.clone());
        }
        if let Signer::Basic(value) = &self.signer {
            request.headers_mut().insert(AUTHORIZATION, value.clone());
        }
        Ok(request)
    }

    /// Adds SigV4's headers when configured: `Authorization`, `x-amz-date`,
    /// `x-amz-content-sha256` (the body's hash, which Serverless requires)
    /// and `x-amz-security-token` with temporary credentials.
    async fn sign(
        &self,
        operation: &'static str,
        mut request: http::Request<Vec<u8>>,
    ) -> Result<http::Request<Vec<u8>>, CallError> {
        let Signer::SigV4 {
            service,
            credentials,
            region,
        } = &self.signer
        else {
            return Ok(request);
        };
        let credentials = credentials
            .provide_credentials()
            .await
            .map_err(|e| CallError::transient(operation, "credentials", e.to_string()))?;
        let identity: Identity = credentials.into();
        sign_request(&mut request, &identity, service, region, SystemTime::now())
            .map_err(|e| rejected(operation, "signing", e.to_string()))?;
        Ok(request)
    }
}

/// Signs `request` in place with SigV4 for `service` in `region` at `time`.
fn sign_request(
    request: &mut http::Request<Vec<u8>>,
    identity: &Identity,
    service: &str,
    region: &str,
    time: SystemTime,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let params = SigningParams::V4(
        aws_sigv4::sign::v4::SigningParams::builder()
            .identity(identity)
            .region(region)
            .name(service)
            .time(time)
            .settings(settings)
            .build()?,
    );
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| Ok((name.as_str(), value.to_str()?)))
        .collect::<Result<Vec<_>, http::header::ToStrError>>()?;
    let signable = SignableRequest::new(
        request.method().as_str(),
        request.uri().to_string(),
        headers.into_iter(),
        SignableBody::Bytes(request.body()),
    )?;
    let (instructions, _signature) = sign(signable, &params)?.into_parts();
    instructions.apply_to_request_http1x(request);
    Ok(())
}

fn rejected(operation: &'static str, code: &str, message: String) -> CallError {
    CallError::Rejected {
        operation,
        code: code.to_owned(),
        message,
    }
}

/// The `Content-Type` header, for [`SearchTransport::send`].
pub fn content_type(value: &'static str) -> (HeaderName, HeaderValue) {
    (CONTENT_TYPE, HeaderValue::from_static(value))
}

#[cfg(test)]
mod tests {
    use aws_credential_types::Credentials;

    use super::*;
    use crate::config::Secret;

    fn transport(url: &str, auth: SearchAuth) -> SearchTransport {
        let credentials = SharedCredentialsProvider::new(Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            Some("session-token".into()),
            None,
            "test",
        ));
        SearchTransport::new(
            &url::Url::parse(url).unwrap(),
            &auth,
            Some(credentials),
            Some(aws_types::region::Region::new("eu-west-1")),
        )
        .unwrap()
    }

    async fn signed(service: &str, body: &[u8]) -> http::Request<Vec<u8>> {
        let transport = transport(
            "https://search-x.eu-west-1.es.amazonaws.com",
            SearchAuth::SigV4 {
                service: service.into(),
            },
        );
        let request = transport
            .request(
                Method::POST,
                "/_bulk",
                &[content_type("application/x-ndjson")],
                body.to_vec(),
            )
            .unwrap();
        transport.sign("Bulk", request).await.unwrap()
    }

    #[tokio::test]
    async fn sigv4_signs_for_es_and_aoss_with_the_body_hash() {
        let body = b"{\"index\":{}}\n{}\n";
        let body_hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(body));
        for service in ["es", "aoss"] {
            let request = signed(service, body).await;
            let header = |name: &str| request.headers()[name].to_str().unwrap().to_owned();
            let authorization = header("authorization");
            assert!(
                authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"),
                "{authorization}"
            );
            assert!(
                authorization.contains(&format!("/eu-west-1/{service}/aws4_request")),
                "{authorization}"
            );
            assert!(
                authorization.contains("SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token"),
                "{authorization}"
            );
            assert_eq!(header("x-amz-content-sha256"), body_hash);
            assert_eq!(header("x-amz-date").len(), "20261201T041500Z".len());
            assert_eq!(header("x-amz-security-token"), "session-token");
        }
    }

    #[test]
    fn the_signature_depends_on_the_body_and_the_time() {
        let identity: Identity = Credentials::new("AKID", "secret", None, None, "test").into();
        let sign_at = |body: &[u8], seconds: u64| {
            let mut request = http::Request::builder()
                .method(Method::PUT)
                .uri("https://example.aoss.amazonaws.com/findings")
                .body(body.to_vec())
                .unwrap();
            let time = SystemTime::UNIX_EPOCH + Duration::from_secs(seconds);
            sign_request(&mut request, &identity, "aoss", "us-east-1", time).unwrap();
            request.headers()["authorization"]
                .to_str()
                .unwrap()
                .to_owned()
        };
        let reference = sign_at(b"{}", 1_764_560_000);
        assert_eq!(sign_at(b"{}", 1_764_560_000), reference);
        assert_ne!(sign_at(b"{ }", 1_764_560_000), reference);
        assert_ne!(sign_at(b"{}", 1_764_560_001), reference);
    }

    #[tokio::test]
    async fn basic_authentication_and_no_authentication() {
        let basic = transport(
            "https://search.example.com",
            SearchAuth::Basic {
                username: "admin".into(),
                password: Secret::new("pa:ss"),
            },
        );
        let request = basic.request(Method::GET, "/", &[], Vec::new()).unwrap();
        let request = basic.sign("Get", request).await.unwrap();
        // base64("admin:pa:ss")
        assert_eq!(request.headers()["authorization"], "Basic YWRtaW46cGE6c3M=");
        assert!(request.headers().get("x-amz-date").is_none());

        let open = transport("http://127.0.0.1:9200", SearchAuth::None);
        let request = open.request(Method::GET, "/", &[], Vec::new()).unwrap();
        let request = open.sign("Get", request).await.unwrap();
        assert!(request.headers().get("authorization").is_none());
    }

    #[test]
    fn paths_join_under_the_endpoint_with_their_query() {
        let uri = |endpoint: &str, path: &str| {
            transport(endpoint, SearchAuth::None)
                .request(Method::GET, path, &[], Vec::new())
                .unwrap()
                .uri()
                .to_string()
        };
        assert_eq!(
            uri("https://search.example.com", "/_bulk"),
            "https://search.example.com/_bulk"
        );
        assert_eq!(
            uri(
                "https://example.com/dashboards",
                "api/saved_objects/_import?overwrite=true"
            ),
            "https://example.com/dashboards/api/saved_objects/_import?overwrite=true"
        );
        assert_eq!(
            transport("https://search.example.com:9200/x/", SearchAuth::None).endpoint(),
            "https://search.example.com:9200"
        );
    }
}
