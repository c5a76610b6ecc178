//! The record of one judged rule: what the evaluation puts on the central
//! bus (`source: fanin.exposure`, `detail-type: Security Group Rule
//! Usage`) and what the collector turns into an OCSF Compliance Finding
//! (`super::ocsf`).
//!
//! One rule is one finding across evaluations: the uid
//! `<account>/<region>/<group_id>/<rule_id>` is the same every day, each
//! evaluation a new version of it (its `evaluated_at`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::evaluate::{RuleUsage, SourceCount, TOP_SOURCES};

/// The records' EventBridge `source`.
pub const SOURCE: &str = "fanin.exposure";
/// The records' EventBridge `detail-type`.
pub const DETAIL_TYPE: &str = "Security Group Rule Usage";
/// The record format's version.
pub const RECORD_VERSION: u32 = 1;

/// At most this many interfaces are listed (the rest are counted).
pub const MAX_INTERFACES: usize = 100;
/// At most this many linked vulnerability findings are listed.
pub const MAX_VULNERABILITIES: usize = 20;
/// A PutEvents entry is at most 256 KB; a record is kept well under it.
pub const MAX_RECORD_BYTES: usize = 200 * 1024;

/// One open vulnerability finding (OCSF 2002, severity_id >= 5) of an
/// instance behind the rule's interfaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkedVulnerability {
    /// The finding's `finding_info.uid` (its ARN).
    pub finding_uid: String,
    pub instance_id: String,
    pub severity_id: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// CVE ids, when the finding names them.
    #[serde(default)]
    pub cves: Vec<String>,
}

/// One internet-open ingress rule, judged, with what the collector needs to
/// store it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageRecord {
    pub record_version: u32,
    /// `<account>/<region>/<group_id>/<rule_id>`.
    pub uid: String,
    pub account: String,
    pub region: String,
    /// When the evaluation ran (the finding version's time).
    pub evaluated_at: DateTime<Utc>,
    #[serde(flatten)]
    pub usage: RuleUsage,
    /// How many interfaces the group is attached to (the list is capped).
    pub interface_count: usize,
    /// Critical open vulnerability findings of the instances behind the
    /// interfaces.
    #[serde(default)]
    pub vulnerabilities: Vec<LinkedVulnerability>,
}

/// The uid of a rule's record.
pub fn uid(account: &str, region: &str, group_id: &str, rule_id: &str) -> String {
    format!("{account}/{region}/{group_id}/{rule_id}")
}

impl UsageRecord {
    /// The record of a judged rule, its lists capped so that the PutEvents
    /// entry stays under [`MAX_RECORD_BYTES`].
    pub fn new(
        account: &str,
        region: &str,
        evaluated_at: DateTime<Utc>,
        mut usage: RuleUsage,
        mut vulnerabilities: Vec<LinkedVulnerability>,
    ) -> Self {
        let interface_count = usage.interfaces.len();
        // The flow-logged interfaces first: they are the ones judged.
        usage.interfaces.sort_by_key(|i| !i.flow_logged);
        usage.interfaces.truncate(MAX_INTERFACES);
        usage.accepted.top_sources.truncate(TOP_SOURCES);
        usage.rejected.top_sources.truncate(TOP_SOURCES);
        vulnerabilities.sort_by(|a, b| {
            b.severity_id
                .cmp(&a.severity_id)
                .then(a.finding_uid.cmp(&b.finding_uid))
        });
        vulnerabilities.truncate(MAX_VULNERABILITIES);
        let mut record = Self {
            record_version: RECORD_VERSION,
            uid: uid(account, region, &usage.group.group_id, &usage.rule_id),
            account: account.to_owned(),
            region: region.to_owned(),
            evaluated_at,
            usage,
            interface_count,
            vulnerabilities,
        };
        record.fit();
        record
    }

    /// Halves the longest lists until the record fits.
    fn fit(&mut self) {
        while self.size() > MAX_RECORD_BYTES {
            let usage = &mut self.usage;
            let lists = [
                usage.interfaces.len(),
                usage.accepted.ports.len(),
                self.vulnerabilities.len(),
            ];
            let longest = lists.iter().copied().max().unwrap_or(0);
            if longest <= 1 {
                usage.accepted.top_sources.clear();
                usage.rejected.top_sources.clear();
                break;
            }
            let keep = longest / 2;
            if lists[0] == longest {
                usage.interfaces.truncate(keep);
            } else if lists[1] == longest {
                usage.accepted.ports.truncate(keep);
            } else {
                self.vulnerabilities.truncate(keep);
            }
        }
    }

    fn size(&self) -> usize {
        serde_json::to_vec(self).map_or(usize::MAX, |bytes| bytes.len())
    }

    /// The rejected attempts' top sources (scanning), for the summary.
    pub fn scanners(&self) -> &[SourceCount] {
        &self.usage.rejected.top_sources
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::TimeZone;

    use super::*;
    use crate::exposure::evaluate::{
        Accepted, GroupSummary, InterfaceUse, Recommendation, RecommendedAction, Rejected,
        UsageState,
    };
    use crate::exposure::inventory::{Resource, ResourceKind};
    use crate::guard::permission::{Peer, Permission, Protocol};

    pub(crate) fn usage(interfaces: usize) -> RuleUsage {
        let time = Utc.with_ymd_and_hms(2026, 11, 16, 0, 0, 0).unwrap();
        RuleUsage {
            group: GroupSummary {
                group_id: "sg-0a1b2c3d4e5f60718".into(),
                group_name: "web".into(),
                vpc_id: Some("vpc-0a1b2c3d4e5f60718".into()),
            },
            rule_id: "sgr-0a1b2c3d4e5f60718".into(),
            permission: Permission::new(
                Protocol::Tcp,
                Some(22),
                Some(22),
                Peer::ipv4("0.0.0.0/0").unwrap(),
                None,
            )
            .unwrap(),
            state: UsageState::Unused,
            window_start: time,
            window_end: time + chrono::Duration::days(14),
            judged_from: time,
            changed_at: None,
            interfaces: (0..interfaces)
                .map(|n| InterfaceUse {
                    interface_id: format!("eni-{n:017x}"),
                    interface_type: Some("interface".into()),
                    private_ips: vec!["10.0.0.1".parse().unwrap()],
                    public_ips: vec![],
                    ipv6_addresses: vec![],
                    resource: Resource {
                        kind: ResourceKind::Ec2Instance,
                        uid: Some(format!("i-{n:017x}")),
                        name: None,
                    },
                    flow_logged: n % 2 == 1,
                })
                .collect(),
            accepted: Accepted::default(),
            rejected: Rejected::default(),
            recommendation: Recommendation {
                action: RecommendedAction::Remove,
                desc: "revoke".into(),
            },
        }
    }

    #[test]
    fn the_uid_names_the_rule_and_the_detail_is_flat() {
        let time = Utc.with_ymd_and_hms(2026, 11, 30, 6, 0, 0).unwrap();
        let record = UsageRecord::new("111122223333", "eu-west-1", time, usage(2), vec![]);
        assert_eq!(
            record.uid,
            "111122223333/eu-west-1/sg-0a1b2c3d4e5f60718/sgr-0a1b2c3d4e5f60718"
        );
        let detail = serde_json::to_value(&record).unwrap();
        assert_eq!(detail["record_version"], 1);
        assert_eq!(detail["state"], "unused");
        assert_eq!(detail["permission"]["from_port"], 22);
        assert_eq!(detail["permission"]["cidr_ipv4"], "0.0.0.0/0");
        assert_eq!(detail["interfaces"][0]["resource"]["kind"], "ec2_instance");
        assert_eq!(detail["interfaces"][0]["flow_logged"], true, "logged first");
        let back: UsageRecord = serde_json::from_value(detail).unwrap();
        assert_eq!(back, record);
    }

    #[test]
    fn lists_are_capped_so_an_entry_fits_put_events() {
        let time = Utc.with_ymd_and_hms(2026, 11, 30, 6, 0, 0).unwrap();
        let mut big = usage(5_000);
        big.accepted.by_source_class = BTreeMap::new();
        let vulnerabilities = (0..50)
            .map(|n| LinkedVulnerability {
                finding_uid: format!("arn:aws:inspector2:eu-west-1:111122223333:finding/{n:032x}"),
                instance_id: "i-00000000000000001".into(),
                severity_id: if n == 49 { 6 } else { 5 },
                title: Some("CVE".repeat(100)),
                cves: vec!["CVE-2026-0001".into()],
            })
            .collect();
        let record = UsageRecord::new("111122223333", "eu-west-1", time, big, vulnerabilities);
        assert_eq!(record.interface_count, 5_000);
        assert_eq!(record.usage.interfaces.len(), MAX_INTERFACES);
        assert_eq!(record.vulnerabilities.len(), MAX_VULNERABILITIES);
        assert_eq!(
            record.vulnerabilities[0].severity_id, 6,
            "most severe first"
        );
        assert!(serde_json::to_vec(&record).unwrap().len() < MAX_RECORD_BYTES);
    }
}
