//! fanin-deploy: packages the Lambdas and deploys fanin's CloudFormation
//! StackSets (`cloudformation/*.yaml`) as `stacksets/<model>/deployment.json`
//! describes, reads their outputs back, and removes them.
//!
//! - [`deployment`]: the definition and parameter files, validated;
//! - [`plan`]: the seven StackSets in order, their targets, and which
//!   instances to create or delete (pure);
//! - [`parameters`]: each StackSet's complete parameter list (pure);
//! - [`package`]: the zips, built by cargo-lambda or brought by the caller;
//! - [`guard_policy`]: the security-group guard's policy, validated and
//!   named by its content like the zips;
//! - [`deploy()`], [`outputs()`], [`teardown()`]: the three operations, on
//!   the thin CloudFormation, S3 and STS adapters (`cloudformation`,
//!   `upload`, `sessions`) and the operation wait loop (`wait`).
//!
//! The devstack and the end-to-end tests call the same functions against moto.

mod cloudformation;
pub mod deploy;
pub mod deployment;
pub mod error;
pub mod guard_policy;
pub mod outputs;
pub mod package;
pub mod parameters;
pub mod plan;
mod sessions;
pub mod teardown;
mod upload;
mod wait;

pub use deploy::{Report, StackSetReport, deploy};
pub use deployment::{Deployment, ExternalId, PermissionModel};
pub use error::Error;
pub use outputs::{InstanceOutputs, Outputs, outputs};
pub use package::{Artifact, ArtifactFiles, Artifacts, package};
pub use plan::StackSetName;
pub use teardown::{TeardownReport, teardown};
pub use upload::Upload;
