//! The report as CloudWatch metrics in the `fanin` namespace.
//!
//! `CoverageGaps` without dimensions counts the account-regions with at
//! least one gap (the alarm watches it); with the `Kind` dimension, the
//! account-regions with that kind. Every kind is published, zeros included,
//! so a gap that closes shows as 0 rather than as missing data.
//!
//! They are published as CloudWatch embedded metric format (EMF) lines on
//! the Lambda's standard output: CloudWatch Logs turns each into a metric
//! value, with no `PutMetricData` call and no permission beyond the log
//! group. (`aws-sdk-cloudwatch` speaks only the rpcv2Cbor protocol today,
//! which the local stack's moto does not implement, so PutMetricData could
//! not be tested end to end; an EMF line is checked byte for byte.)

use async_trait::async_trait;
use fanin::ports::CallError;
use serde_json::{Map, Value, json};

use crate::ports::{MetricSink, MetricValue};
use crate::report::{GapKind, Report};

pub const NAMESPACE: &str = "fanin";
pub const GAPS: &str = "CoverageGaps";
pub const CHECKED: &str = "CoverageAccountRegions";

pub fn metrics_of(report: &Report) -> Vec<MetricValue> {
    let mut values = vec![
        MetricValue {
            name: GAPS,
            dimension: None,
            value: report.rows_with_gaps().count() as f64,
        },
        MetricValue {
            name: CHECKED,
            dimension: None,
            value: report.rows.len() as f64,
        },
    ];
    values.extend(GapKind::ALL.iter().map(|kind| MetricValue {
        name: GAPS,
        dimension: Some(("Kind", kind.as_str())),
        value: report.count(*kind) as f64,
    }));
    values
}

/// One EMF document per value (its own dimension set), stamped `timestamp_ms`.
pub fn emf_documents(values: &[MetricValue], timestamp_ms: i64) -> Vec<Value> {
    values
        .iter()
        .map(|value| {
            let dimensions: Vec<&str> = value.dimension.iter().map(|(name, _)| *name).collect();
            let mut document = Map::new();
            document.insert(
                "_aws".into(),
                json!({
                    "Timestamp": timestamp_ms,
                    "CloudWatchMetrics": [{
                        "Namespace": NAMESPACE,
                        "Dimensions": [dimensions],
                        "Metrics": [{"Name": value.name, "Unit": "Count"}],
                    }],
                }),
            );
            if let Some((name, dimension)) = value.dimension {
                document.insert(name.into(), json!(dimension));
            }
            document.insert(value.name.into(), json!(value.value));
            Value::Object(document)
        })
        .collect()
}

/// Publishes metrics as EMF lines on standard output (Lambda sends them to
/// the function's log group, where CloudWatch extracts the metrics).
pub struct EmbeddedMetrics;

#[async_trait]
impl MetricSink for EmbeddedMetrics {
    async fn publish(&self, values: &[MetricValue]) -> Result<(), CallError> {
        use std::io::Write;
        let now = chrono::Utc::now().timestamp_millis();
        let mut lines = String::new();
        for document in emf_documents(values, now) {
            lines.push_str(&document.to_string());
            lines.push('\n');
        }
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(lines.as_bytes())
            .and_then(|()| stdout.flush())
            .map_err(|e| CallError::transient("PublishMetrics", "stdout", e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use fanin::ids::{AccountId, Region};

    use super::*;
    use crate::report::{Check, ClassicCheck, Row};

    #[test]
    fn total_counts_rows_and_each_kind_is_published_with_zeros() {
        let row = |gaps: Vec<GapKind>| Row {
            account: AccountId::parse("111111111111").unwrap(),
            account_name: String::new(),
            region: Region::parse("us-east-1").unwrap(),
            inspector2_events: Some(0),
            classic: ClassicCheck::NotApplicable,
            read_role: Check::Yes,
            forwarder: Check::Yes,
            inspector2_rule: Check::Yes,
            gaps,
        };
        let report = Report {
            generated_at: Utc::now(),
            hours: 24,
            organization_id: "o-abcdefghij".into(),
            rows: vec![
                row(vec![
                    GapKind::Inspector2RuleMissing,
                    GapKind::ForwarderMissing,
                ]),
                row(vec![GapKind::Inspector2RuleMissing]),
                row(vec![]),
            ],
            excluded_accounts: vec![],
            inactive_accounts: vec![],
            events_error: None,
        };
        let values = metrics_of(&report);
        let value = |name: &str, kind: Option<&str>| {
            values
                .iter()
                .find(|v| v.name == name && v.dimension.map(|d| d.1) == kind)
                .unwrap()
                .value
        };
        assert_eq!(value(GAPS, None), 2.0);
        assert_eq!(value(CHECKED, None), 3.0);
        assert_eq!(value(GAPS, Some("inspector2_rule_missing")), 2.0);
        assert_eq!(value(GAPS, Some("forwarder_missing")), 1.0);
        assert_eq!(value(GAPS, Some("read_role_unusable")), 0.0);
        assert_eq!(values.len(), 2 + GapKind::ALL.len());
    }

    #[test]
    fn each_value_is_one_emf_document() {
        let values = [
            MetricValue {
                name: GAPS,
                dimension: None,
                value: 3.0,
            },
            MetricValue {
                name: GAPS,
                dimension: Some(("Kind", "read_role_unusable")),
                value: 2.0,
            },
        ];
        let documents = emf_documents(&values, 1_796_274_000_000);
        assert_eq!(
            documents[0],
            json!({
                "_aws": {"Timestamp": 1_796_274_000_000_i64, "CloudWatchMetrics": [{
                    "Namespace": "fanin", "Dimensions": [[]],
                    "Metrics": [{"Name": "CoverageGaps", "Unit": "Count"}],
                }]},
                "CoverageGaps": 3.0,
            })
        );
        assert_eq!(
            documents[1],
            json!({
                "_aws": {"Timestamp": 1_796_274_000_000_i64, "CloudWatchMetrics": [{
                    "Namespace": "fanin", "Dimensions": [["Kind"]],
                    "Metrics": [{"Name": "CoverageGaps", "Unit": "Count"}],
                }]},
                "Kind": "read_role_unusable",
                "CoverageGaps": 2.0,
            })
        );
    }
}
