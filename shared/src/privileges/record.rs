//! The record of one judged principal: what the evaluation puts on the
//! central bus (`source: fanin.privileges`, `detail-type: IAM Principal
//! Privileges`) and what the collector turns into an OCSF Compliance
//! Finding (`super::ocsf`).
//!
//! One principal is one finding across evaluations: the uid is its ARN,
//! each evaluation a new version of it (its `evaluated_at`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::report::{AccessLevel, Report};

/// The records' EventBridge `source`.
pub const SOURCE: &str = "fanin.privileges";
/// The records' EventBridge `detail-type`.
pub const DETAIL_TYPE: &str = "IAM Principal Privileges";
/// The record format's version.
pub const RECORD_VERSION: u32 = 1;
/// A PutEvents entry is at most 256 KB; a record is kept well under it.
pub const MAX_RECORD_BYTES: usize = 200 * 1024;

/// The verdict on a principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrivilegeState {
    /// Granted actions it did not use in the window.
    Unused,
    /// It used every action it is granted.
    NoneUnused,
    /// Created less than the minimum observation before the evaluation:
    /// reported, not judged.
    TooNew,
}

impl PrivilegeState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unused => "unused",
            Self::NoneUnused => "none_unused",
            Self::TooNew => "too_new",
        }
    }
}

/// How long each list of the report was before the record capped it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub used: usize,
    pub unused: usize,
    pub unused_services: usize,
    pub used_not_granted: usize,
    pub unknown_mappings: usize,
    pub not_evaluated: usize,
    /// Of them, calls refused (`errorCode` AccessDenied ...), over every
    /// list.
    pub denied_attempts: u64,
}

/// One judged principal, with what the collector needs to store it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrivilegeRecord {
    pub record_version: u32,
    /// The principal's ARN.
    pub uid: String,
    pub account: String,
    /// The region the evaluation ran in (IAM is global; the finding needs
    /// one).
    pub region: String,
    pub evaluated_at: DateTime<Utc>,
    pub state: PrivilegeState,
    /// The report, its lists capped so the entry fits PutEvents.
    pub report: Report,
    /// The lists' lengths before capping.
    pub totals: Totals,
    /// Unused actions by access level (`list`, `read`, `tagging`, `write`,
    /// `permissions_management`, `unknown`), over the whole list.
    pub unused_by_level: BTreeMap<String, usize>,
    /// The ranking's weight of what is unused
    /// ([`Report::unused_weight`]).
    pub unused_weight: u64,
}

impl PrivilegeRecord {
    /// The record of a report. `too_new` when the principal was created less
    /// than the minimum observation before the evaluation.
    pub fn new(
        report: Report,
        region: &str,
        evaluated_at: DateTime<Utc>,
        too_new: bool,
        level_of: &dyn Fn(&str) -> Option<AccessLevel>,
    ) -> Self {
        let state = if too_new {
            PrivilegeState::TooNew
        } else if report.unused.is_empty() {
            PrivilegeState::NoneUnused
        } else {
            PrivilegeState::Unused
        };
        let mut unused_by_level: BTreeMap<String, usize> = BTreeMap::new();
        for unused in &report.unused {
            let level = level_of(&unused.action).map_or("unknown", AccessLevel::as_str);
            *unused_by_level.entry(level.to_owned()).or_default() += 1;
        }
        let denied_attempts = report.used.iter().map(|u| u.denied).sum::<u64>()
            + report
                .used_not_granted
                .iter()
                .map(|u| u.denied)
                .sum::<u64>()
            + report
                .unknown_mappings
                .iter()
                .map(|u| u.denied)
                .sum::<u64>();
        let totals = Totals {
            used: report.used.len(),
            unused: report.unused.len(),
            unused_services: report.unused_services.len(),
            used_not_granted: report.used_not_granted.len(),
            unknown_mappings: report.unknown_mappings.len(),
            not_evaluated: report.not_evaluated.len(),
            denied_attempts,
        };
        let mut record = Self {
            record_version: RECORD_VERSION,
            uid: report.principal.arn.clone(),
            account: report.principal.account.clone(),
            region: region.to_owned(),
            evaluated_at,
            state,
            unused_weight: report.unused_weight(level_of),
            report,
            totals,
            unused_by_level,
        };
        record.fit();
        record
    }

    /// Halves the longest list until the record fits (the suggested
    /// policy's statements among them).
    fn fit(&mut self) {
        while self.size() > MAX_RECORD_BYTES {
            let report = &mut self.report;
            let lists = [
                report.unused.len(),
                report.used.len(),
                report.used_not_granted.len(),
                report.unknown_mappings.len(),
                report.not_evaluated.len(),
                report.unused_services.len(),
                report.unknown_patterns.len(),
                report.suggested_policy.statement.len(),
            ];
            let longest = lists.iter().copied().max().unwrap_or(0);
            if longest <= 1 {
                break;
            }
            let keep = longest / 2;
            match lists.iter().position(|l| *l == longest) {
                Some(0) => report.unused.truncate(keep),
                Some(1) => report.used.truncate(keep),
                Some(2) => report.used_not_granted.truncate(keep),
                Some(3) => report.unknown_mappings.truncate(keep),
                Some(4) => report.not_evaluated.truncate(keep),
                Some(5) => report.unused_services.truncate(keep),
                Some(6) => report.unknown_patterns.truncate(keep),
                _ => report.suggested_policy.statement.truncate(keep),
            }
        }
    }

    fn size(&self) -> usize {
        serde_json::to_vec(self).map_or(usize::MAX, |bytes| bytes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privileges::report::tests::{at, entry, role, window};

    fn level(action: &str) -> Option<AccessLevel> {
        (action == "iam:PassRole").then_some(AccessLevel::PermissionsManagement)
    }

    #[test]
    fn the_uid_is_the_principals_arn_and_the_detail_reads_back() {
        let report = Report::build(&entry(role("app")), None, window());
        let record = PrivilegeRecord::new(report, "us-east-1", at(30), false, &level);
        assert_eq!(record.uid, "arn:aws:iam::111122223333:role/app");
        assert_eq!(record.account, "111122223333");
        assert_eq!(record.state, PrivilegeState::Unused);
        assert_eq!(record.totals.unused, 5);
        assert_eq!(record.unused_by_level["permissions_management"], 1);
        assert_eq!(record.unused_by_level["unknown"], 4);
        assert_eq!(record.unused_weight, 8 + 4 * 4);
        let detail = serde_json::to_value(&record).unwrap();
        assert_eq!(detail["record_version"], 1);
        assert_eq!(detail["state"], "unused");
        assert_eq!(detail["report"]["principal"]["kind"], "role");
        let back: PrivilegeRecord = serde_json::from_value(detail).unwrap();
        assert_eq!(back, record);
    }

    #[test]
    fn lists_are_capped_so_an_entry_fits_put_events_and_the_totals_stay() {
        let mut big = entry(role("admin"));
        for n in 0..20_000 {
            big.grants.actions.insert(
                format!("service{}:SomeRatherLongActionName{n:05}", n % 300),
                crate::privileges::report::tests::grant(
                    "arn:aws:iam::aws:policy/AdministratorAccess",
                ),
            );
        }
        let report = Report::build(&big, None, window());
        let record = PrivilegeRecord::new(report, "us-east-1", at(30), false, &level);
        assert!(serde_json::to_vec(&record).unwrap().len() < MAX_RECORD_BYTES);
        assert_eq!(record.totals.unused, 20_005);
        assert!(record.report.unused.len() < 20_005);
        assert_eq!(
            record.unused_by_level.values().sum::<usize>(),
            20_005,
            "counted over the whole list"
        );
    }

    #[test]
    fn nothing_unused_is_none_unused_and_too_new_wins() {
        let mut empty = entry(role("tidy"));
        empty.grants.actions.clear();
        let report = Report::build(&empty, None, window());
        let record = PrivilegeRecord::new(report.clone(), "us-east-1", at(30), false, &level);
        assert_eq!(record.state, PrivilegeState::NoneUnused);
        let young = PrivilegeRecord::new(report, "us-east-1", at(30), true, &level);
        assert_eq!(young.state, PrivilegeState::TooNew);
    }
}
