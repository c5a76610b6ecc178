//! Helpers of more than one file of the suite.

use std::collections::BTreeMap;
use std::io::Write;

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use fanin_devstack::deployment::EXTERNAL_ID;
use fanin_devstack::esm::peek_queue;
use serde_json::Value;

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

/// The read role `read_role` trusts a function acting as `role` with the
/// deployment's ExternalId, and refuses it with another.
pub async fn assert_read_role_trusts(role: &SdkConfig, read_role: &str, session: &str) {
    let sts = aws_sdk_sts::Client::new(role);
    if let Err(error) = sts
        .assume_role()
        .role_arn(read_role)
        .role_session_name(session)
        .external_id(EXTERNAL_ID)
        .send()
        .await
    {
        panic!("the read role trusts {session} with the ExternalId: {error:?}");
    }
    assert!(
        sts.assume_role()
            .role_arn(read_role)
            .role_session_name(session)
            .external_id("another-external-id-0000")
            .send()
            .await
            .is_err(),
        "a wrong ExternalId is refused"
    );
}

/// A record put on the central bus `bus` by a function acting as `role`
/// reaches the findings queue (read by `sqs`, the central account's) through
/// the bus's rule, whole and once.
pub async fn assert_bus_delivers(
    role: &SdkConfig,
    bus: &str,
    sqs: &aws_sdk_sqs::Client,
    findings_queue: &str,
    source: &str,
    detail_type: &str,
    record: &Value,
) {
    let put = aws_sdk_eventbridge::Client::new(role)
        .put_events()
        .entries(
            aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                .event_bus_name(bus)
                .source(source)
                .detail_type(detail_type)
                .detail(record.to_string())
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(put.failed_entry_count(), 0);
    let findings = peek_queue(sqs, findings_queue, 1).await.unwrap();
    let passed: Vec<Value> = findings
        .iter()
        .filter_map(|b| serde_json::from_str::<Value>(b).ok())
        .filter(|e| e["source"] == source)
        .collect();
    assert_eq!(passed.len(), 1, "{findings:?}");
    assert_eq!(passed[0]["detail-type"], detail_type);
    assert_eq!(&passed[0]["detail"], record);
}
