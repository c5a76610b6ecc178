//! The local stack fanin's tests and demo run on.
//!
//! - [`procs`] starts the real servers (moto, osmem-server) from `.local/` on free
//!   loopback ports and stops them when dropped.
//! - [`gateway`] is the one AWS endpoint the Lambdas talk to locally: it serves
//!   Inspector Classic itself ([`classic`]), forwards everything else to moto,
//!   enforces what moto does not (role existence and ExternalId on AssumeRole),
//!   counts every call by caller, service and operation, and fronts OpenSearch
//!   with a switch that takes it "down" for fault tests.
//! - [`dashboards`] stands in for the OpenSearch Dashboards saved-objects API.
pub mod classic;
pub mod coverage;
pub mod dashboards;
pub mod demo;
pub mod deployment;
pub mod esm;
pub mod gateway;
pub mod lambda_host;
pub mod load;
pub mod operator;
pub mod procs;
pub mod scenario;
