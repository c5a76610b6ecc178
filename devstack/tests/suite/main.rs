//! The devstack's tests on real moto, osmem-server and the gateway, one binary
//! (each file a module): `cargo test -p fanin-devstack --test suite gateway::`
//! runs one file's tests.

mod cloudtrail_history;
mod common;
mod exposure_stack;
mod exposure_world;
mod gateway;
mod guard_host;
mod guard_stack;
mod privileges_stack;
