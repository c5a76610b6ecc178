//! fanin's core: everything between a queue message and a stored finding,
//! with no Lambda runtime in it (the handlers live in the `collector/` and
//! `forwarder/` crates).
//!
//! The collector runs one chain of stages over each batch
//! ([`pipeline::Collector::process_batch`]):
//!
//! decode → group by (account, region) → resolve (sessions, fetches, EC2
//! inventory) → enrich and normalize to OCSF → plan the store → send → fates.
//!
//! Sources ([`sources`]) decode their own messages and map their findings to
//! an OCSF class; from [`normalize::FindingRecord`] on, nothing knows the
//! source. Only the resolve and send stages touch the network, and only
//! through the traits in [`ports`], whose AWS and OpenSearch adapters live in
//! [`aws`] and [`search`]. Decoders, normalizers and the store's plans are
//! pure functions, tested on the fixtures under `tests/fixtures/`. The
//! forwarder's logic is in [`forward`].
#![recursion_limit = "256"]
pub mod archive;
pub mod aws;
pub mod config;
pub mod decode;
pub mod directory;
pub mod enrich;
pub mod exposure;
pub mod fakes;
pub mod flowlogs;
pub mod forward;
pub mod guard;
pub mod guardduty;
pub mod ids;
pub mod ledger;
pub mod model;
pub mod normalize;
pub mod objects;
pub mod ocsf;
pub mod pipeline;
pub mod ports;
pub mod privileges;
pub mod quarantine;
pub mod retry;
pub mod search;
pub mod sources;
pub mod telemetry;
pub mod timestamps;
pub mod tls;
