//! The enrich-and-normalize stage (pure): each resolved finding, with the
//! network context its group's inventory gives it, becomes a
//! [`FindingRecord`]; a finding version carried by several messages becomes
//! one record that remembers them all.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::fate::{Fate, Fates};
use super::resolve::{Inventory, Resolved};
use crate::enrich::{self, EnrichmentOutcome, EnrichmentStatus, FaninContext, InstanceLookup};
use crate::ids::Partition;
use crate::normalize::{EnrichmentTarget, FindingRecord, SourceFinding};
use crate::quarantine::QuarantineReason;

/// A normalized finding version and the messages that carried it.
#[derive(Debug, Clone, PartialEq)]
pub struct Carried {
    pub record: FindingRecord,
    pub message_ids: Vec<String>,
}

/// Enriches and normalizes every resolved finding at `now`; a finding that
/// cannot be normalized is quarantined. The records come out one per
/// version, ordered by version id.
pub fn enrich_and_normalize(
    resolved: Vec<Resolved>,
    partition: &Partition,
    now: DateTime<Utc>,
    fates: &mut Fates,
) -> Vec<Carried> {
    let mut carried: BTreeMap<String, Carried> = BTreeMap::new();
    for group in resolved {
        for (finding, message_ids) in group.findings {
            let context = context_for(finding.as_ref(), &group.inventory);
            match FindingRecord::new(
                finding.as_ref(),
                group.origin.clone(),
                partition,
                context,
                now,
            ) {
                Ok(record) => match carried.get_mut(&record.version_uid) {
                    Some(existing) => existing.message_ids.extend(message_ids),
                    None => {
                        carried.insert(
                            record.version_uid.clone(),
                            Carried {
                                record,
                                message_ids,
                            },
                        );
                    }
                },
                Err(error) => fates.set_all(
                    &message_ids,
                    Fate::Quarantine(QuarantineReason::Normalize(error)),
                ),
            }
        }
    }
    carried.into_values().collect()
}

/// The fanin context of one finding: its enrichment target looked up in the
/// group's inventory.
pub fn context_for(finding: &dyn SourceFinding, inventory: &Inventory) -> FaninContext {
    let bare = |status, reason: Option<String>| FaninContext {
        source: finding.source_name(),
        enrichment: EnrichmentOutcome { status, reason },
        instance: None,
        network: None,
        details: BTreeMap::new(),
    };
    match finding.enrichment_target() {
        EnrichmentTarget::NotApplicable(kind) => bare(
            EnrichmentStatus::NotApplicable,
            Some(format!("{kind} resources have no EC2 network context")),
        ),
        EnrichmentTarget::NoInstance => bare(EnrichmentStatus::NoInstance, None),
        EnrichmentTarget::Instance(id) => {
            let lookup = match &inventory.problem {
                Some((status, reason)) => InstanceLookup::Unavailable(*status, reason),
                None => match inventory.instances.get(&id) {
                    Some(record) => InstanceLookup::Found(record),
                    None => InstanceLookup::NotFound,
                },
            };
            let (enrichment, instance, network) =
                enrich::enrich(&id, lookup, &inventory.groups, finding.reported_network());
            FaninContext {
                source: finding.source_name(),
                enrichment,
                instance: Some(instance),
                network,
                details: BTreeMap::new(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::Value;

    use super::*;
    use crate::decode::{AcceptedTopics, Notification, Provenance};
    use crate::model::{InstanceRecord, InterfaceRecord};
    use crate::normalize::Origin;

    fn decoded(fixture: &str) -> (Origin, Box<dyn SourceFinding>) {
        let body = std::fs::read_to_string(format!(
            "{}/../tests/fixtures/{fixture}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let provenance = Provenance {
            partition: Partition::parse("aws").unwrap(),
            topics: AcceptedTopics::Listed(Default::default()),
            inspector2_admin_accounts: Default::default(),
            guardduty_admin_accounts: Default::default(),
        };
        match crate::decode::decode(&body, &provenance).unwrap() {
            Notification::Finding { origin, finding } => (origin, finding),
            other => panic!("not a complete finding: {other:?}"),
        }
    }

    fn normalize(resolved: Vec<Resolved>) -> (Vec<Carried>, Fates) {
        let mut fates = Fates::default();
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap();
        let records =
            enrich_and_normalize(resolved, &Partition::parse("aws").unwrap(), now, &mut fates);
        (records, fates)
    }

    fn document(carried: &Carried) -> Value {
        serde_json::from_str(&carried.record.document).unwrap()
    }

    #[test]
    fn a_version_carried_twice_is_one_record_with_both_messages() {
        let (origin, first) = decoded("inspector2-ecr-finding-event.json");
        let (_, again) = decoded("inspector2-ecr-finding-event.json");
        let (records, _) = normalize(vec![Resolved {
            origin,
            findings: vec![(first, vec!["m1".into()]), (again, vec!["m2".into()])],
            inventory: Inventory::default(),
        }]);
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].message_ids, ["m1", "m2"]);
        assert_eq!(
            records[0].record.enrichment,
            EnrichmentStatus::NotApplicable
        );
        let document = document(&records[0]);
        assert_eq!(document["class_uid"], 2002);
        assert_eq!(document["metadata"]["uid"], records[0].record.version_uid);
        assert_eq!(document["unmapped"]["fanin"]["source"], "inspector2");
    }

    #[test]
    fn the_group_inventory_enriches_or_says_why_not() {
        let instance = InstanceRecord {
            instance_id: "i-0fedcba9876543210".into(),
            state: "running".into(),
            interfaces: vec![InterfaceRecord {
                interface_id: "eni-0123456789abcdef0".into(),
                private_ips: vec!["10.0.0.7".into()],
                ..Default::default()
            }],
            ..Default::default()
        };
        let found = Inventory {
            instances: [(instance.instance_id.clone(), instance)].into(),
            ..Default::default()
        };
        let denied = Inventory {
            problem: Some((
                EnrichmentStatus::RoleUnavailable,
                "AssumeRole denied".into(),
            )),
            ..Default::default()
        };
        for (inventory, status) in [
            (found, EnrichmentStatus::Enriched),
            (denied, EnrichmentStatus::RoleUnavailable),
            (Inventory::default(), EnrichmentStatus::InstanceNotFound),
        ] {
            let (origin, finding) = decoded("inspector2-ec2-finding-event.json");
            let (records, _) = normalize(vec![Resolved {
                origin,
                findings: vec![(finding, vec!["m".into()])],
                inventory,
            }]);
            assert_eq!(records[0].record.enrichment, status);
            let document = document(&records[0]);
            assert_eq!(
                document["unmapped"]["fanin"]["enrichment"]["status"],
                status.as_str()
            );
            assert_eq!(
                document["unmapped"]["fanin"]["instance"]["id"],
                "i-0fedcba9876543210"
            );
        }
    }

    #[test]
    fn a_version_outside_the_believable_range_is_quarantined() {
        let (origin, finding) = decoded("inspector2-ecr-finding-event.json");
        let mut fates = Fates::default();
        let long_ago = Utc.with_ymd_and_hms(2016, 1, 1, 0, 0, 0).unwrap();
        let records = enrich_and_normalize(
            vec![Resolved {
                origin,
                findings: vec![(finding, vec!["m".into()])],
                inventory: Inventory::default(),
            }],
            &Partition::parse("aws").unwrap(),
            long_ago,
            &mut fates,
        );
        assert!(records.is_empty());
        assert!(matches!(
            fates.get("m"),
            Some(Fate::Quarantine(reason)) if reason.code() == "version_out_of_range"
        ));
    }
}
