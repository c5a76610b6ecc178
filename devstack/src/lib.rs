//! The local stack fanin's tests and demo run on.
//!
//! - [`procs`] starts the real servers (moto, osmem-server) from `.local/` on free
//!   loopback ports and stops them when dropped.
//! - [`gateway`] is the one AWS endpoint the Lambdas talk to locally: it serves
//!   Inspector Classic itself ([`classic`]), forwards everything else to moto,
//!   enforces what moto does not (role existence and ExternalId on AssumeRole),
//!   counts every call by caller, service and operation, and fronts OpenSearch
//!   with a switch that takes it "down" for fault tests.
//! - [`cloudtrail`] plays CloudTrail for EC2 security-group calls and
//!   delivers the events to the rules' Lambda targets like EventBridge;
//!   [`config_service`] serves what moto lacks of AWS Config and plays the
//!   guard's Config rule; [`guard_host`] runs one `fanin-guard` per
//!   application account and region; [`exposure_host`] runs the central
//!   `fanin-exposure` fed by its flow-log queue, [`privileges_host`] the
//!   central `fanin-privileges` fed by its trail queue.
//! - [`exposure_world`] builds security-group rules of known use and their
//!   flow logs for the unused-exposure tests and the demo, and
//!   [`exposure_scene`] plays them through ingest and the evaluation.
//! - [`flowlogs`] writes VPC Flow Logs with known traffic to S3 as AWS
//!   delivers them (default and custom text formats, Parquet).
//! - [`dashboards`] stands in for the OpenSearch Dashboards saved-objects API.
pub mod classic;
pub mod cloudtrail;
pub mod config_service;
pub mod coverage;
pub mod dashboards;
pub mod demo;
pub mod deployment;
pub mod esm;
pub mod exposure_host;
pub mod exposure_scene;
pub mod exposure_world;
pub mod flowlogs;
pub mod gateway;
pub mod guard_host;
pub mod lambda_host;
pub mod load;
pub mod operator;
pub mod privileges_host;
pub mod privileges_scene;
pub mod privileges_world;
pub mod procs;
pub mod scenario;
pub mod trails;
