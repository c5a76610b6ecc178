//! One TLS configuration for every HTTPS client of a process.
//!
//! The AWS SDK's clients ([`sdk_http_client`], set by
//! [`crate::aws::load_sdk_config`]) and fanin's OpenSearch transport
//! ([`https_connector`], used by [`crate::search::transport`]) connect
//! through the same HTTP stack, `aws-smithy-http-client` (hyper, rustls with
//! aws-lc, the SDK's TLS versions and cipher suites, certificates always
//! verified), with the same [`TlsContext`]: the same root certificates, read
//! once per process.
//!
//! The roots are the system's CA bundle, one file (`SSL_CERT_FILE`, else
//! the first of the usual places that exists: `/etc/ssl/certs/ca-certificates.crt`
//! on Debian, `/etc/pki/tls/certs/ca-bundle.crt` on Amazon Linux...). The
//! SDK's own default reads the certificate directory as well
//! (`/etc/ssl/certs`: one file per root, each twice through its hash link),
//! which is where nearly all of the start-up time went (docs/design.md,
//! "TLS"); the distributions build the bundle from the same roots
//! (`update-ca-certificates`, `update-ca-trust`). With `SSL_CERT_DIR` set,
//! or without any bundle file, the SDK's own loading is used instead.

use std::sync::OnceLock;
use std::time::Duration;

use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore};
use aws_smithy_http_client::{Builder, Connector};
use aws_smithy_runtime_api::client::http::{
    HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use base64::Engine;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// The TLS implementation of every client: rustls with aws-lc, as the SDK's
/// default client.
fn provider() -> Provider {
    Provider::Rustls(CryptoMode::AwsLc)
}

/// The process's one TLS context, its roots read on first use.
pub fn context() -> TlsContext {
    static CONTEXT: OnceLock<TlsContext> = OnceLock::new();
    CONTEXT
        .get_or_init(|| {
            TlsContext::builder()
                .with_trust_store(trust_store())
                .build()
                .expect("a TLS context of root certificates only builds")
        })
        .clone()
}

/// The HTTP client of every AWS SDK client of fanin.
pub fn sdk_http_client() -> SharedHttpClient {
    Builder::new()
        .tls_provider(provider())
        .tls_context(context())
        .build_https()
}

/// An HTTPS (and HTTP, for loopback endpoints) connector with the SDK
/// clients' TLS context and this connect timeout (the caller bounds each
/// whole request). Requests through it go to the address they name: no
/// proxy.
pub fn https_connector(connect_timeout: Duration) -> SharedHttpConnector {
    let settings = HttpConnectorSettings::builder()
        .connect_timeout(connect_timeout)
        .build();
    let mut builder = Connector::builder().connector_settings(settings);
    if let Some(sleep) = aws_smithy_async::rt::sleep::default_async_sleep() {
        builder = builder.sleep_impl(sleep);
    }
    SharedHttpConnector::new(
        builder
            .tls_provider(provider())
            .tls_context(context())
            .build(),
    )
}

/// The system's CA bundle file, or the SDK's own loading of the system's
/// roots when `SSL_CERT_DIR` asks for a directory or no bundle exists.
fn trust_store() -> TrustStore {
    if std::env::var_os("SSL_CERT_DIR").is_some() {
        return TrustStore::default();
    }
    let Some(file) = openssl_probe::probe().cert_file else {
        return TrustStore::default();
    };
    match std::fs::read(&file) {
        Ok(pem) => {
            let roots = usable_roots(&pem);
            if roots.is_empty() {
                tracing::warn!(file = %file.display(), "no usable root certificate in the CA bundle: reading the system's store");
                return TrustStore::default();
            }
            TrustStore::empty()
                .with_native_roots(false)
                .with_pem_certificate(roots)
        }
        Err(error) => {
            tracing::warn!(file = %file.display(), %error, "the CA bundle is unreadable: reading the system's store");
            TrustStore::default()
        }
    }
}

/// The certificates of a PEM bundle that rustls accepts as trust anchors,
/// as PEM again: the SDK's trust store takes PEM and refuses a whole
/// context for one certificate it cannot parse, where the system's own
/// loading skips it.
fn usable_roots(pem: &[u8]) -> Vec<u8> {
    let mut usable = String::new();
    for der in CertificateDer::pem_slice_iter(pem).flatten() {
        if rustls::RootCertStore::empty().add(der.clone()).is_err() {
            continue;
        }
        let base64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        usable.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in base64.as_bytes().chunks(64) {
            usable.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            usable.push('\n');
        }
        usable.push_str("-----END CERTIFICATE-----\n");
    }
    usable.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The machine's bundle, where the tests run (Debian's place, or
    /// `SSL_CERT_FILE`).
    fn system_bundle() -> Vec<u8> {
        let file = openssl_probe::probe()
            .cert_file
            .expect("a CA bundle on the test machine");
        std::fs::read(file).unwrap()
    }

    #[test]
    fn the_bundle_s_roots_survive_the_round_trip() {
        let bundle = system_bundle();
        let original: Vec<_> = CertificateDer::pem_slice_iter(&bundle).flatten().collect();
        let usable = usable_roots(&bundle);
        let kept: Vec<_> = CertificateDer::pem_slice_iter(&usable)
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(kept.len() > 50, "{} roots kept", kept.len());
        // Byte for byte the same certificates, in the same order.
        assert!(kept.iter().all(|c| original.contains(c)));
        let mut store = rustls::RootCertStore::empty();
        let (added, refused) = store.add_parsable_certificates(kept);
        assert_eq!(refused, 0);
        assert_eq!(added, store.len());
    }

    #[test]
    fn what_is_not_a_usable_certificate_is_left_out() {
        let usable = usable_roots(&system_bundle());
        let end = b"-----END CERTIFICATE-----\n";
        let first_block =
            &usable[..usable.windows(end.len()).position(|w| w == end).unwrap() + end.len()];
        let broken = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let mut mixed = broken.to_vec();
        mixed.extend_from_slice(first_block);
        mixed.extend_from_slice(b"not PEM at all\n");
        assert_eq!(usable_roots(&mixed), first_block);
        assert!(usable_roots(broken).is_empty());
        assert!(usable_roots(b"not PEM at all").is_empty());
    }
}
