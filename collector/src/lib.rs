//! The collector's entry points around fanin's pipeline
//! ([`fanin::pipeline::Collector`]):
//!
//! - [`handler`]: the SQS-triggered Lambda handler and its cold-start wiring
//!   (configuration to clients to a [`Collector`](fanin::pipeline::Collector));
//! - [`poller`]: the same pipeline as a long-running queue poller (`--poll`).
//!
//! `main.rs` only picks one and hands it the runtime or the signals, so tests
//! call the same handler and poller directly.
pub mod handler;
pub mod poller;
