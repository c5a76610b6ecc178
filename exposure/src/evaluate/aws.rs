//! AWS and OpenSearch adapters of [`super::ports`]: one method per call,
//! paginated, errors classified once (`fanin::aws::classify`).

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use chrono::{DateTime, NaiveDate, Utc};
use fanin::exposure::evaluate::Traffic;
use fanin::exposure::record::{DETAIL_TYPE, LinkedVulnerability, SOURCE, UsageRecord};
use fanin::guard::cloudtrail::{ChangeKind, parse_change};
use fanin::ids::{AccountId, Region};
use fanin::ports::{AccountSession, CallError};
use fanin::search::opensearch::OpenSearchIndexer;
use serde_json::{Value, json};

use super::ports::{AggregateArchive, RecordBus, RuleChangeLog, VulnerabilityIndex};
use super::rows;

/// The archive prefix of ingest's aggregates.
pub const AGGREGATES_PREFIX: &str = "flow-aggregates/";

/// [`RuleChangeLog`] over CloudTrail `LookupEvents` (management events of
/// the last 90 days, in the account and region).
pub struct CloudTrailChanges {
    base: SdkConfig,
}

impl CloudTrailChanges {
    pub fn new(base: SdkConfig) -> Self {
        Self { base }
    }
}

/// The calls that add or change an ingress rule.
const CHANGE_EVENTS: [&str; 2] = ["AuthorizeSecurityGroupIngress", "ModifySecurityGroupRules"];

#[async_trait]
impl RuleChangeLog for CloudTrailChanges {
    async fn rule_changes(
        &self,
        session: &AccountSession,
        region: &Region,
        since: DateTime<Utc>,
    ) -> Result<BTreeMap<String, DateTime<Utc>>, CallError> {
        let client = aws_sdk_cloudtrail::Client::new(&fanin::aws::account_config(
            &self.base, session, region,
        ));
        let mut records = Vec::new();
        for name in CHANGE_EVENTS {
            let attribute = LookupAttribute::builder()
                .attribute_key(LookupAttributeKey::EventName)
                .attribute_value(name)
                .build()
                .map_err(|e| CallError::Rejected {
                    operation: "LookupEvents",
                    code: "Build".into(),
                    message: e.to_string(),
                })?;
            let mut pages = client
                .lookup_events()
                .lookup_attributes(attribute)
                .start_time(aws_smithy_types::DateTime::from_secs(since.timestamp()))
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| fanin::aws::classify("LookupEvents", e))?;
                records.extend(
                    page.events()
                        .iter()
                        .filter_map(|e| e.cloud_trail_event())
                        .map(str::to_owned),
                );
            }
        }
        Ok(changes_of(&session.account, &records))
    }
}

/// The last change of each rule among CloudTrail records (the
/// `CloudTrailEvent` JSON of `LookupEvents`), read by the guard's parser in
/// the EventBridge envelope it takes. Records that do not read, failed calls,
/// other accounts' records and egress calls are left out.
pub fn changes_of(account: &AccountId, records: &[String]) -> BTreeMap<String, DateTime<Utc>> {
    let mut changes: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    for record in records {
        let Ok(detail) = serde_json::from_str::<Value>(record) else {
            continue;
        };
        let envelope = json!({
            "detail-type": fanin::guard::cloudtrail::DETAIL_TYPE,
            "account": detail.get("recipientAccountId").cloned().unwrap_or(Value::Null),
            "detail": detail,
        });
        let Ok(change) = parse_change(&envelope) else {
            continue;
        };
        if change.error_code.is_some() || &change.account != account {
            continue;
        }
        if !matches!(
            change.kind,
            ChangeKind::AuthorizeSecurityGroupIngress | ChangeKind::ModifySecurityGroupRules
        ) {
            continue;
        }
        let rules = change
            .added
            .iter()
            .map(|rule| &rule.rule_id)
            .chain(&change.rule_ids);
        for rule_id in rules {
            let last = changes.entry(rule_id.clone()).or_insert(change.event_time);
            *last = (*last).max(change.event_time);
        }
    }
    changes
}

/// [`AggregateArchive`] over the central bucket.
pub struct S3Aggregates {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Aggregates {
    pub fn new(config: &SdkConfig, bucket: String, force_path_style: bool) -> Self {
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(force_path_style)
            .build();
        Self {
            client: aws_sdk_s3::Client::from_conf(s3),
            bucket,
        }
    }

    /// The common prefixes one level under `prefix`.
    async fn folders(&self, prefix: &str) -> Result<Vec<String>, CallError> {
        let mut folders = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .delimiter("/")
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| fanin::aws::classify("ListObjectsV2", e))?;
            folders.extend(
                page.common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix())
                    .map(str::to_owned),
            );
        }
        Ok(folders)
    }

    async fn keys(&self, prefix: &str) -> Result<Vec<String>, CallError> {
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| fanin::aws::classify("ListObjectsV2", e))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key())
                    .map(str::to_owned),
            );
        }
        Ok(keys)
    }
}

/// `flow-aggregates/region=<r>/accountId=<a>/eventDay=<d>/`.
pub fn day_prefix(account: &AccountId, region: &Region, day: NaiveDate) -> String {
    format!(
        "{AGGREGATES_PREFIX}region={region}/accountId={account}/eventDay={}/",
        day.format("%Y%m%d")
    )
}

/// The value of `<name>=<value>/` at the end of a folder, checked.
fn folder_value<'a>(folder: &'a str, name: &str) -> Option<&'a str> {
    folder
        .trim_end_matches('/')
        .rsplit('/')
        .next()?
        .strip_prefix(name)?
        .strip_prefix('=')
}

#[async_trait]
impl AggregateArchive for S3Aggregates {
    async fn partitions(
        &self,
        days: &[NaiveDate],
    ) -> Result<BTreeSet<(AccountId, Region)>, CallError> {
        let mut partitions = BTreeSet::new();
        for region_folder in self.folders(AGGREGATES_PREFIX).await? {
            let Some(region) =
                folder_value(&region_folder, "region").and_then(|r| Region::parse(r).ok())
            else {
                continue;
            };
            for account_folder in self.folders(&region_folder).await? {
                let Some(account) = folder_value(&account_folder, "accountId")
                    .and_then(|a| AccountId::parse(a).ok())
                else {
                    continue;
                };
                let day_folders = self.folders(&account_folder).await?;
                let any_day = days
                    .iter()
                    .any(|day| day_folders.contains(&day_prefix(&account, &region, *day)));
                if any_day {
                    partitions.insert((account, region.clone()));
                }
            }
        }
        Ok(partitions)
    }

    async fn traffic(
        &self,
        account: &AccountId,
        region: &Region,
        days: &[NaiveDate],
    ) -> Result<Traffic, CallError> {
        let mut traffic = Traffic::default();
        for day in days {
            for key in self.keys(&day_prefix(account, region, *day)).await? {
                let answer = self
                    .client
                    .get_object()
                    .bucket(&self.bucket)
                    .key(&key)
                    .send()
                    .await
                    .map_err(|e| fanin::aws::classify("GetObject", e))?;
                let bytes = answer
                    .body
                    .collect()
                    .await
                    .map_err(|e| CallError::transient("GetObject", "read", e.to_string()))?
                    .into_bytes();
                match rows::add_object(&mut traffic, bytes.as_ref()) {
                    Ok(0) => {}
                    Ok(unreadable) => {
                        tracing::warn!(key = %key, unreadable, "aggregate lines left out")
                    }
                    Err(error) => {
                        tracing::warn!(key = %key, error = %error, "aggregate object left out")
                    }
                }
            }
        }
        Ok(traffic)
    }
}

/// [`VulnerabilityIndex`] over the latest 2002 index.
pub struct OpenSearchVulnerabilities {
    pub search: OpenSearchIndexer,
    /// `<prefix>-findings`.
    pub index: String,
}

/// The most findings one evaluation links.
const MAX_LINKED: usize = 10_000;

/// The search of open critical findings of `instance_ids`.
pub fn vulnerability_query(instance_ids: &[String]) -> Value {
    json!({
        "size": MAX_LINKED,
        "_source": ["finding_info.uid", "finding_info.title", "severity_id",
                    "device.instance_uid", "vulnerabilities.cve.uid"],
        "query": {"bool": {
            "filter": [
                {"terms": {"device.instance_uid": instance_ids}},
                {"range": {"severity_id": {"gte": fanin::exposure::ocsf::CRITICAL}}},
            ],
            "must_not": [{"term": {"status_id": 4}}],
        }},
    })
}

/// The linked findings of a `_search` answer.
pub fn linked_findings(answer: &Value) -> Vec<LinkedVulnerability> {
    let hits = answer
        .pointer("/hits/hits")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    hits.iter()
        .filter_map(|hit| {
            let source = hit.get("_source")?;
            let text = |pointer: &str| {
                source
                    .pointer(pointer)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            let instance_id = text("/device/instance_uid")?;
            if !fanin::ids::is_instance_id(&instance_id) {
                return None;
            }
            let mut cves: Vec<String> = source
                .get("vulnerabilities")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|v| v.pointer("/cve/uid").and_then(Value::as_str))
                .map(str::to_owned)
                .collect();
            cves.dedup();
            Some(LinkedVulnerability {
                finding_uid: text("/finding_info/uid")?,
                instance_id,
                severity_id: source.get("severity_id")?.as_u64()?.min(99) as u8,
                title: text("/finding_info/title"),
                cves,
            })
        })
        .collect()
}

#[async_trait]
impl VulnerabilityIndex for OpenSearchVulnerabilities {
    async fn critical_findings(
        &self,
        instance_ids: &[String],
    ) -> Result<Vec<LinkedVulnerability>, CallError> {
        if instance_ids.is_empty() {
            return Ok(Vec::new());
        }
        let body =
            serde_json::to_vec(&vulnerability_query(instance_ids)).expect("a query serializes");
        let text = self
            .search
            .call(
                "Search",
                fanin::search::opensearch::Method::POST,
                &format!("/{}/_search?ignore_unavailable=true", self.index),
                "application/json",
                Some(body),
            )
            .await?;
        let answer: Value = serde_json::from_str(&text)
            .map_err(|e| CallError::transient("Search", "unreadable", e.to_string()))?;
        Ok(linked_findings(&answer))
    }
}

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

#[async_trait]
impl RecordBus for EventBridgeBus {
    async fn put(&self, records: &[UsageRecord]) -> Result<Vec<usize>, CallError> {
        let entries: Vec<PutEventsRequestEntry> = records
            .iter()
            .map(|record| {
                PutEventsRequestEntry::builder()
                    .source(SOURCE)
                    .detail_type(DETAIL_TYPE)
                    .event_bus_name(&self.bus)
                    .detail(serde_json::to_string(record).expect("records serialize"))
                    .build()
            })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A CloudTrail record as `LookupEvents` answers it in `CloudTrailEvent`.
    fn record(
        name: &str,
        time: &str,
        request: Value,
        response: Value,
        error: Option<&str>,
    ) -> String {
        let mut record = json!({
            "eventVersion": "1.09",
            "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/dev/alice",
                "accountId": "111122223333", "principalId": "AROAEXAMPLE:alice"},
            "eventTime": time, "eventSource": "ec2.amazonaws.com", "eventName": name,
            "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.1", "userAgent": "aws-cli/2",
            "requestParameters": request, "responseElements": response,
            "requestID": "f5f4b1c2-0000-0000-0000-000000000000",
            "eventID": "0a1b2c3d-0000-0000-0000-000000000000",
            "readOnly": false, "eventType": "AwsApiCall", "managementEvent": true,
            "recipientAccountId": "111122223333", "eventCategory": "Management"
        });
        if let Some(code) = error {
            record["errorCode"] = json!(code);
        }
        record.to_string()
    }

    #[test]
    fn rule_changes_are_read_from_cloudtrail_records_with_the_guards_parser() {
        let authorize = |time: &str, rule: &str, error: Option<&str>| {
            record(
                "AuthorizeSecurityGroupIngress",
                time,
                json!({"groupId": "sg-0a1b2c3d4e5f60718", "ipPermissions": {"items": [
                    {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
                     "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}),
                json!({"_return": true, "securityGroupRuleSet": {"items": [
                    {"groupOwnerId": "111122223333", "groupId": "sg-0a1b2c3d4e5f60718",
                     "securityGroupRuleId": rule, "isEgress": false, "ipProtocol": "tcp",
                     "fromPort": 22, "toPort": 22, "cidrIpv4": "0.0.0.0/0"}]}}),
                error,
            )
        };
        let modify = record(
            "ModifySecurityGroupRules",
            "2026-11-27T09:30:00Z",
            json!({"ModifySecurityGroupRulesRequest": {"GroupId": "sg-0a1b2c3d4e5f60718",
                "SecurityGroupRule": {"SecurityGroupRuleId": "sgr-0c1d2e3f405162738", "tag": 1,
                    "SecurityGroupRule": {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIpv4": "0.0.0.0/0"}}}}),
            json!({"ModifySecurityGroupRulesResponse": {"return": true}}),
            None,
        );
        let records = vec![
            authorize("2026-11-20T10:00:00Z", "sgr-0b1c2d3e4f5061728", None),
            authorize("2026-11-25T10:00:00Z", "sgr-0b1c2d3e4f5061728", None),
            authorize(
                "2026-11-26T10:00:00Z",
                "sgr-0d1e2f30415263748",
                Some("InvalidPermission.Duplicate"),
            ),
            modify,
            "not json".to_owned(),
        ];
        let account = AccountId::parse("111122223333").unwrap();
        let changes = changes_of(&account, &records);
        let shown: Vec<(String, String)> = changes
            .iter()
            .map(|(rule, time)| (rule.clone(), time.to_rfc3339()))
            .collect();
        assert_eq!(
            shown,
            [
                (
                    "sgr-0b1c2d3e4f5061728".to_owned(),
                    "2026-11-25T10:00:00+00:00".to_owned()
                ),
                (
                    "sgr-0c1d2e3f405162738".to_owned(),
                    "2026-11-27T09:30:00+00:00".to_owned()
                ),
            ]
        );
        let other = AccountId::parse("444455556666").unwrap();
        assert!(changes_of(&other, &records).is_empty());
    }

    #[test]
    fn the_vulnerability_search_asks_open_critical_findings_of_the_instances() {
        let query = vulnerability_query(&["i-0a1b2c3d4e5f60720".to_owned()]);
        assert_eq!(
            query.pointer("/query/bool/filter/0/terms/device.instance_uid/0"),
            Some(&json!("i-0a1b2c3d4e5f60720"))
        );
        assert_eq!(
            query.pointer("/query/bool/filter/1/range/severity_id/gte"),
            Some(&json!(5))
        );
        assert_eq!(
            query.pointer("/query/bool/must_not/0/term/status_id"),
            Some(&json!(4))
        );
        let answer = json!({"hits": {"hits": [
            {"_source": {"finding_info": {"uid": "arn:aws:inspector2:us-east-1:111122223333:finding/0f1e", "title": "CVE-2024-6387 - openssh"},
                "severity_id": 5, "device": {"instance_uid": "i-0a1b2c3d4e5f60720"},
                "vulnerabilities": [{"cve": {"uid": "CVE-2024-6387"}}]}},
            {"_source": {"finding_info": {"uid": "x"}, "severity_id": 6, "device": {"instance_uid": "../i"}}}
        ]}});
        let linked = linked_findings(&answer);
        assert_eq!(
            linked.len(),
            1,
            "an id that is not an instance id is left out"
        );
        assert_eq!(linked[0].cves, ["CVE-2024-6387"]);
        assert_eq!(linked[0].severity_id, 5);
    }

    #[test]
    fn day_prefixes_and_folder_values() {
        let prefix = day_prefix(
            &AccountId::parse("111122223333").unwrap(),
            &Region::parse("us-east-1").unwrap(),
            NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
        );
        assert_eq!(
            prefix,
            "flow-aggregates/region=us-east-1/accountId=111122223333/eventDay=20261130/"
        );
        assert_eq!(
            folder_value("flow-aggregates/region=us-east-1/", "region"),
            Some("us-east-1")
        );
        assert_eq!(folder_value("flow-aggregates/other/", "region"), None);
    }
}
