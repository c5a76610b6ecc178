//! The AWS adapters of the evaluation's ports.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use chrono::{DateTime, Utc};
use fanin::ids::AccountId;
use fanin::ports::CallError;
use fanin::privileges::authz::PrincipalEntry;
use fanin::privileges::record::{DETAIL_TYPE, PrivilegeRecord, SOURCE};
use fanin::privileges::usage::WindowUsage;

use super::ports::{GrantsReader, RecordBus, UsageArchive};

/// [`RecordBus`] over EventBridge `PutEvents`.
pub struct EventBridgeBus {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

impl EventBridgeBus {
    pub fn new(config: &SdkConfig, bus: String) -> Self {
        Self {
            client: aws_sdk_eventbridge::Client::new(config),
            bus,
        }
    }
}

/// The PutEvents entry of a record.
pub fn entry(bus: &str, record: &PrivilegeRecord) -> PutEventsRequestEntry {
    PutEventsRequestEntry::builder()
        .source(SOURCE)
        .detail_type(DETAIL_TYPE)
        .event_bus_name(bus)
        .resources(&record.uid)
        .detail(serde_json::to_string(record).expect("records serialize"))
        .build()
}

#[async_trait]
impl RecordBus for EventBridgeBus {
    async fn put(&self, records: &[PrivilegeRecord]) -> Result<Vec<usize>, CallError> {
        let entries: Vec<PutEventsRequestEntry> = records
            .iter()
            .map(|record| entry(&self.bus, record))
            .collect();
        let answer = self
            .client
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| fanin::aws::classify("PutEvents", e))?;
        Ok(answer
            .entries()
            .iter()
            .enumerate()
            .filter(|(_, entry)| entry.error_code().is_some())
            .map(|(position, _)| position)
            .collect())
    }
}

/// [`UsageArchive`] over the archive's `iam-usage/` objects
/// ([`crate::ingest::read_window`]).
pub struct ArchiveUsage {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl ArchiveUsage {
    pub fn new(config: &SdkConfig, bucket: String, force_path_style: bool) -> Self {
        let s3_config = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(force_path_style)
            .build();
        Self {
            client: aws_sdk_s3::Client::from_conf(s3_config),
            bucket,
        }
    }
}

#[async_trait]
impl UsageArchive for ArchiveUsage {
    async fn window(
        &self,
        accounts: Option<&[String]>,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> anyhow::Result<WindowUsage> {
        crate::ingest::read_window(&self.client, &self.bucket, accounts, start, end).await
    }
}

/// [`GrantsReader`] over each account's authorization details
/// ([`crate::authz::AuthorizationReader`]), expanded against the embedded
/// catalogue.
pub struct AuthorizationGrants {
    pub reader: std::sync::Arc<dyn crate::authz::AuthorizationReader>,
}

#[async_trait]
impl GrantsReader for AuthorizationGrants {
    async fn principals(
        &self,
        account: &AccountId,
        organization: &std::collections::BTreeSet<String>,
    ) -> Result<Vec<PrincipalEntry>, CallError> {
        let details = self.reader.authorization_details(account).await?;
        let catalogue = fanin::privileges::catalogue::Catalogue::embedded();
        Ok(details.principals(catalogue, &|candidate| organization.contains(candidate)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fanin::privileges::report::{Report, Window};

    #[test]
    fn an_entry_names_the_source_detail_type_bus_and_principal() {
        let entry_json = serde_json::json!({
            "principal": {"arn": "arn:aws:iam::111122223333:role/app", "account": "111122223333", "kind": "role"},
            "name": "app", "created": null, "external_trust": [],
            "grants": {"actions": {}, "denied": [], "unknown_patterns": [], "not_evaluated": []},
        });
        let principal: PrincipalEntry = serde_json::from_value(entry_json).unwrap();
        let now = Utc::now();
        let report = Report::build(
            &principal,
            None,
            Window {
                start: now,
                end: now,
            },
        );
        let record = PrivilegeRecord::new(report, "us-east-1", now, false, &|_| None);
        let entry = entry("fanin-findings", &record);
        assert_eq!(entry.source(), Some("fanin.privileges"));
        assert_eq!(entry.detail_type(), Some("IAM Principal Privileges"));
        assert_eq!(entry.event_bus_name(), Some("fanin-findings"));
        assert_eq!(entry.resources(), ["arn:aws:iam::111122223333:role/app"]);
        let detail: PrivilegeRecord = serde_json::from_str(entry.detail().unwrap()).unwrap();
        assert_eq!(detail, record);
    }
}
