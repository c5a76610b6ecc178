//! The first two stages, both pure: decode each message (every error is
//! permanent: quarantined), then group what is left by (account, region).

use std::collections::BTreeMap;

use tracing::info;

use super::fate::{Fate, Fates};
use crate::decode::{self, Fetch, InboundMessage, Notification, Provenance};
use crate::ids::ClassicFindingArn;
use crate::normalize::{Origin, SourceFinding};
use crate::quarantine::QuarantineReason;

/// The source name of a finding fetched from Inspector Classic (its
/// `SourceFinding::source_name`).
const CLASSIC_SOURCE: &str = "inspector-classic";

/// A message that asks for a finding, complete or to fetch.
#[derive(Debug)]
pub struct Decoded {
    pub message_id: String,
    pub origin: Origin,
    pub wants: Wanted,
}

#[derive(Debug)]
pub enum Wanted {
    Finding(Box<dyn SourceFinding>),
    Fetch(Fetch),
}

/// The work of one (account, region): what to fetch, and what is complete.
#[derive(Debug, Default)]
pub struct GroupWork {
    /// Classic ARNs to describe, each once, with the messages that named it.
    pub classic: BTreeMap<String, (ClassicFindingArn, Vec<String>)>,
    /// Complete findings, with the message that carried each.
    pub complete: Vec<(Box<dyn SourceFinding>, String)>,
}

impl GroupWork {
    /// Every message of the group.
    pub fn message_ids(&self) -> Vec<String> {
        self.classic
            .values()
            .flat_map(|(_, ids)| ids.iter().cloned())
            .chain(self.complete.iter().map(|(_, id)| id.clone()))
            .collect()
    }
}

/// Decodes every message; an undecodable one is quarantined under its
/// reason, an acknowledged event is done with.
pub fn decode(
    messages: &[InboundMessage],
    provenance: &Provenance,
    fates: &mut Fates,
) -> Vec<Decoded> {
    let mut decoded = Vec::new();
    for message in messages {
        let message_id = message.message_id.clone();
        // Provenance and partition are checked by the decoder itself.
        match decode::decode(&message.body, provenance) {
            Ok(Notification::Acknowledge { event }) => {
                info!(message_id = %message_id, event = %event, "classic lifecycle event acknowledged");
                fates.set(&message_id, Fate::Acknowledged);
            }
            Ok(Notification::Finding { origin, finding }) => {
                fates.note_origin(&message_id, finding.source_name(), origin.clone());
                decoded.push(Decoded {
                    message_id,
                    origin,
                    wants: Wanted::Finding(finding),
                })
            }
            Ok(Notification::Reference { origin, fetch }) => {
                let source = match &fetch {
                    Fetch::ClassicDetails(_) => CLASSIC_SOURCE,
                };
                fates.note_origin(&message_id, source, origin.clone());
                decoded.push(Decoded {
                    message_id,
                    origin,
                    wants: Wanted::Fetch(fetch),
                })
            }
            Err(error) => fates.set(
                &message_id,
                Fate::Quarantine(QuarantineReason::Decode(error)),
            ),
        }
    }
    decoded
}

/// Groups the findings by the (account, region) they are about: one session
/// and one set of look-ups per group. A reference named by several messages
/// is fetched once.
pub fn group_by_origin(decoded: Vec<Decoded>) -> BTreeMap<Origin, GroupWork> {
    let mut groups: BTreeMap<Origin, GroupWork> = BTreeMap::new();
    for Decoded {
        message_id,
        origin,
        wants,
    } in decoded
    {
        let group = groups.entry(origin).or_default();
        match wants {
            Wanted::Finding(finding) => group.complete.push((finding, message_id)),
            Wanted::Fetch(Fetch::ClassicDetails(arn)) => group
                .classic
                .entry(arn.as_str().to_owned())
                .or_insert_with(|| (arn, Vec::new()))
                .1
                .push(message_id),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::AcceptedTopics;
    use crate::ids::{AccountId, Partition};

    fn provenance() -> Provenance {
        Provenance {
            partition: Partition::parse("aws").unwrap(),
            topics: AcceptedTopics::Named {
                account: AccountId::parse("999999999999").unwrap(),
                name: "fanin-inspector".into(),
            },
            inspector2_admin_accounts: Default::default(),
            guardduty_admin_accounts: Default::default(),
        }
    }

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/../tests/fixtures/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn message(id: &str, body: String) -> InboundMessage {
        InboundMessage {
            message_id: id.into(),
            body,
            receive_count: 1,
        }
    }

    const CLASSIC: &str = "arn:aws:inspector:eu-west-1:111111111111:target/0-aaaa1111/template/0-bbbb2222/run/0-cccc3333/finding/0-dddd4444";

    fn classic(event: &str) -> String {
        serde_json::json!({"event": event, "finding": CLASSIC}).to_string()
    }

    #[test]
    fn messages_are_decoded_grouped_by_origin_and_references_fetched_once() {
        let inspector2 = fixture("inspector2-ec2-finding-event.json");
        let messages = vec![
            message("c1", classic("FINDING_REPORTED")),
            message("c2", classic("FINDING_REPORTED")),
            message("i1", inspector2),
            message("run", classic("ASSESSMENT_RUN_COMPLETED")),
            message("junk", "{not json".into()),
        ];
        let mut fates = Fates::default();
        let decoded = decode(&messages, &provenance(), &mut fates);
        assert_eq!(decoded.len(), 3);
        assert_eq!(fates.get("run"), Some(&Fate::Acknowledged));
        assert!(matches!(
            fates.get("junk"),
            Some(Fate::Quarantine(reason)) if reason.code() == "malformed_json"
        ));
        let groups = group_by_origin(decoded);
        let classic_origin = groups
            .iter()
            .find(|(origin, _)| {
                origin.region.as_str() == "eu-west-1" && origin.account.as_str() == "111111111111"
            })
            .map(|(_, work)| work)
            .expect("the Classic group");
        assert_eq!(classic_origin.classic.len(), 1, "one ARN, fetched once");
        assert_eq!(
            classic_origin.classic[CLASSIC].1,
            ["c1", "c2"],
            "both messages wait on the one fetch"
        );
        let complete: Vec<_> = groups
            .values()
            .flat_map(|work| work.complete.iter())
            .map(|(finding, id)| (finding.source_name(), id.as_str()))
            .collect();
        assert_eq!(complete, [("inspector2", "i1")]);
    }
}
