//! fanin coverage: which accounts and regions of the organization actually
//! reach fanin, so a member account that deletes its Inspector2 rule, its
//! forwarder or its read role is noticed instead of silently dropping out.
//!
//! One pass ([`checker::Checker::report`]) reads the organization's accounts
//! ([`ports::OrganizationDirectory`]), counts the Inspector2 findings the
//! index saw per account and region in one aggregation
//! ([`ports::EventCounter`]), then per account assumes the read role
//! (`fanin::ports::SessionProvider`) and looks, per region, for the forwarder,
//! the Inspector2 rule and the Classic template subscriptions through it
//! ([`ports::AccountInspector`]). [`report`] turns those observations into
//! rows and gaps (pure, tested on data); [`render`] prints them; [`metrics`]
//! and [`accounts`] turn them into CloudWatch metrics and the
//! `state/organization-accounts.json` object the collector reads.
//!
//! The AWS and OpenSearch adapters are in [`aws`] and [`search`]; the
//! command line is [`cli`], the scheduled Lambda [`lambda`].

pub mod accounts;
pub mod aws;
pub mod checker;
pub mod cli;
pub mod config;
pub mod lambda;
pub mod metrics;
pub mod ports;
pub mod render;
pub mod report;
pub mod search;
pub mod telemetry;

pub use config::CoverageConfig;
