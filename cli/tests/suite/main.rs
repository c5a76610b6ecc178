//! `fanin`'s command-line tests, one binary (each file a module): `cargo test
//! -p fanin-cli --test suite saved_objects::` runs one file's tests.

mod guard_render;
mod saved_objects;
