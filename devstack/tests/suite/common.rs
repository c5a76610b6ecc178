//! Helpers of more than one file of the suite.

use std::collections::BTreeMap;
use std::io::Write;

use aws_credential_types::Credentials;

/// The credentials a hosted function was started with (its environment's
/// `AWS_*` variables): what the function itself acts as.
pub fn function_credentials(
    environment: &BTreeMap<String, String>,
    name: &'static str,
) -> Credentials {
    Credentials::new(
        &environment["AWS_ACCESS_KEY_ID"],
        &environment["AWS_SECRET_ACCESS_KEY"],
        environment.get("AWS_SESSION_TOKEN").cloned(),
        None,
        name,
    )
}

/// `bytes` gzip-compressed, as the log services deliver their objects.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}
