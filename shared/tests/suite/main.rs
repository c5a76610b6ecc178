//! Integration tests of the `fanin` core, one binary (each file a module):
//! `cargo test -p fanin --test suite published::` runs one file's tests.

mod cloudtrail_fixtures;
mod flowlog_fixtures;
mod guardduty;
mod handler;
mod properties;
mod published;
mod store;
mod support;
