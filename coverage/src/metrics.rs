//! The report as CloudWatch metrics in the `fanin` namespace. Pure.
//!
//! `CoverageGaps` without dimensions counts the account-regions with at
//! least one gap (the alarm watches it); with the `Kind` dimension, the
//! account-regions with that kind. Every kind is published, zeros included,
//! so a gap that closes shows as 0 rather than as missing data.

use crate::ports::MetricValue;
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
}
