//! fanin's core: everything between a queue message and a stored finding.
//!
//! The collector runs one chain of stages over each SQS batch
//! ([`pipeline`]):
//!
//! `decode` → resolve (fetch Classic details) → `enrich` → `normalize` to
//! OCSF → partition by (account, region, day) → `archive` / `search` encode →
//! send.
//!
//! Only the resolve/enrich look-ups and the sends touch the network, and only
//! through the traits in [`ports`], whose AWS and OpenSearch adapters live in
//! [`aws`] and [`search`]. Decoders, normalizers and encoders are pure
//! functions, tested on the fixtures under `tests/fixtures/`. The forwarder's
//! logic is in [`forward`].
#![recursion_limit = "256"]
pub mod archive;
pub mod aws;
pub mod config;
pub mod decode;
pub mod directory;
pub mod enrich;
pub mod fakes;
pub mod forward;
pub mod guardduty;
pub mod ids;
pub mod lambda;
pub mod ledger;
pub mod model;
pub mod normalize;
pub mod ocsf;
pub mod pipeline;
pub mod poller;
pub mod ports;
pub mod quarantine;
pub mod retry;
pub mod search;
pub mod telemetry;
pub mod timestamps;
