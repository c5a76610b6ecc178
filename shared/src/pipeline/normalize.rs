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
                enrich::enrich(&id, lookup, &inventory.groups, &finding.reported_network());
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
