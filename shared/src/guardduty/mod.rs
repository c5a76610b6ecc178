//! Amazon GuardDuty as a fanin source: "GuardDuty Finding" events from
//! EventBridge, stored as OCSF 1.7.0 Detection Findings (class 2004).
//!
//! GuardDuty publishes each finding to the default event bus of the account
//! it is about and, in an organization, of the delegated administrator
//! (with the administrator as the event's `account`); the central rule
//! forwards both to the central queue. The parts, in the order a message
//! goes through them:
//!
//! - [`decode`]: the event and its provenance (account, region, partition,
//!   ARN shape), every rejection with a quarantine reason code;
//! - [`normalize::enrichment_need`] and [`normalize::reported_network`]:
//!   the EC2 look-up the finding asks for, and what GuardDuty itself says
//!   about the instance's interfaces, for [`crate::enrich::enrich`], the
//!   same network enrichment Inspector findings get;
//! - [`normalize::normalize`]: the OCSF record ([`ocsf`]) with its version,
//!   everything unmapped kept under `unmapped.guardduty`;
//! - [`template`]: the index template of class 2004.
//!
//! All of it is pure; the mapping is documented in `docs/schema.md`.
pub mod decode;
pub mod model;
pub mod normalize;
pub mod ocsf;
pub mod template;

pub use decode::{DecodeError, GuardDutyEvent, GuardDutyProvenance, decode, decode_event};
pub use normalize::{DetectionRecord, Ec2Need, enrichment_need, reported_network};
