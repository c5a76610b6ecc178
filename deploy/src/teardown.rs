//! `teardown`: deletes the instances and StackSets in reverse order and says
//! what CloudFormation keeps on purpose.

use aws_config::SdkConfig;
use aws_sdk_cloudformation::Client;
use serde::Serialize;

use crate::cloudformation::StackSetApi;
use crate::deployment::Deployment;
use crate::error::Error;
use crate::outputs::stack_set_outputs;
use crate::plan::{StackSetName, instances_to_delete, plan};
use crate::sessions::{AccountConfigs, in_region, require_administrator};
use crate::upload::empty_code_buckets;
use crate::wait::{WaitPolicy, wait_for_operation};

#[derive(Debug, Clone, Default, Serialize)]
pub struct TeardownReport {
    /// StackSets deleted, in the order they went.
    pub deleted_stack_sets: Vec<StackSetName>,
    /// How many instances each deletion removed.
    pub deleted_instances: usize,
    /// Object versions removed from the code buckets.
    pub deleted_code_objects: usize,
    /// What is still there, and why.
    pub retained: Vec<String>,
}

impl std::fmt::Display for TeardownReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for name in &self.deleted_stack_sets {
            writeln!(f, "deleted {name}")?;
        }
        writeln!(
            f,
            "{} stack instances and {} code objects deleted",
            self.deleted_instances, self.deleted_code_objects
        )?;
        for kept in &self.retained {
            writeln!(f, "kept: {kept}")?;
        }
        Ok(())
    }
}

/// Deletes every instance (stacks not retained) and every StackSet of
/// `deployment`, applications first, code buckets last, waiting for each
/// operation. StackSets that do not exist are skipped, so running it again
/// after a failure finishes the job.
///
/// The findings bucket, its KMS key, the dead-letter queue and a created
/// OpenSearch domain have `DeletionPolicy: Retain` in `central-primary.yaml`:
/// they stay, and the report names them.
pub async fn teardown(
    config: &SdkConfig,
    deployment: &Deployment,
) -> Result<TeardownReport, Error> {
    crate::deploy::check(deployment)?;
    let home = in_region(config, deployment.stack_set_region());
    require_administrator(&home, deployment).await?;
    let client = Client::new(&home);
    let policy = WaitPolicy::default();
    let mut report = TeardownReport::default();
    for plan in plan(deployment).into_iter().rev() {
        let api = StackSetApi::new(&client, &plan);
        if !api.exists().await? {
            continue;
        }
        match plan.name {
            StackSetName::CentralPrimary => {
                report
                    .retained
                    .extend(retained_by_central(config, deployment, &client, &plan).await);
            }
            StackSetName::Artifacts => {
                report.deleted_code_objects += empty_code_buckets(config, deployment).await?;
            }
            _ => {}
        }
        let existing = api.list_instances().await?;
        for request in instances_to_delete(&plan, &existing) {
            let operation_id = api
                .delete_instances(&request, &deployment.operation_preferences)
                .await?;
            tracing::info!(stack_set = %plan.name, operation_id, "deleting stack instances");
            wait_for_operation(&api, &operation_id, &policy).await?;
        }
        report.deleted_instances += existing.len();
        let left = api.list_instances().await?;
        if !left.is_empty() {
            return Err(Error::InstancesRemain {
                stack_set: plan.name,
                instances: left
                    .iter()
                    .map(|i| format!("{}/{} {}", i.account, i.region, i.status))
                    .collect(),
            });
        }
        api.delete().await?;
        tracing::info!(stack_set = %plan.name, "deleted stack set");
        report.deleted_stack_sets.push(plan.name);
    }
    Ok(report)
}

/// Names what central-primary.yaml retains, from the central stack's
/// outputs, or says so in general when they cannot be read.
async fn retained_by_central(
    config: &SdkConfig,
    deployment: &Deployment,
    client: &Client,
    plan: &crate::plan::StackSetPlan,
) -> Vec<String> {
    let generic = vec![
        "the findings bucket, its KMS key, the dead-letter queue and a created OpenSearch domain (DeletionPolicy Retain): delete them by hand once the archive is no longer needed".to_owned(),
    ];
    let outputs = match AccountConfigs::new(config, deployment).await {
        Ok(accounts) => stack_set_outputs(client, &accounts, plan).await,
        Err(error) => Err(error),
    };
    let instances = match outputs {
        Ok(Some(instances)) => instances,
        Ok(None) => return generic,
        Err(error) => {
            tracing::warn!(error = %error, "cannot read the central stack's outputs");
            return generic;
        }
    };
    let kept = [
        (
            "BucketName",
            "findings bucket s3://",
            "the archive outlives the stack",
        ),
        (
            "KeyArn",
            "KMS key ",
            "schedule its deletion once the bucket is gone",
        ),
        (
            "DeadLetterQueueUrl",
            "dead-letter queue ",
            "what is in it was never stored",
        ),
        (
            "OpenSearchEndpoint",
            "OpenSearch domain at ",
            "if fanin created it",
        ),
    ];
    // A domain given with OpenSearchMode existing is not fanin's to keep.
    let created_domain = plan
        .parameters
        .iter()
        .find(|p| p.parameter_key == "OpenSearchMode")
        .is_none_or(|p| p.parameter_value == "create");
    let mut retained = Vec::new();
    for ((account, region), outputs) in instances {
        for (output, what, why) in kept {
            if output == "OpenSearchEndpoint" && !created_domain {
                continue;
            }
            if let Some(value) = outputs
                .get(output)
                .filter(|v| !v.is_empty() && *v != "none")
            {
                retained.push(format!(
                    "{what}{value} in {account}/{region} (DeletionPolicy Retain: {why})"
                ));
            }
        }
    }
    if retained.is_empty() {
        generic
    } else {
        retained
    }
}
