//! Unused exposure: the network interfaces behind each security group, and
//! which internet-open ingress rules carried traffic in a window. Pure; the
//! AWS reads and the scheduled evaluation are in the `exposure/` crate.
//!
//! - [`inventory`]: interfaces, their groups and the resource behind each
//!   (read from the interface's own fields), the groups' rules, VPC CIDRs
//!   and peerings, and the network map the flow-log aggregation classifies
//!   sources with.
//! - [`evaluate`]: the judge, inventory + the window's hourly aggregates →
//!   one [`evaluate::RuleUsage`] per internet-open ingress rule.
//! - [`record`]: the [`record::UsageRecord`] put on the central bus.
//! - [`ocsf`]: the collector's mapping of a record to an OCSF 2003
//!   Compliance Finding (`crate::sources::exposure` decodes it).
//!
//! `docs/exposure.md` describes the method and its limits.

pub mod evaluate;
pub mod inventory;
pub mod ocsf;
pub mod record;
