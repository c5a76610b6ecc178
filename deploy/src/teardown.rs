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
            StackSetName::CentralPrimary
            | StackSetName::CentralExposure
            | StackSetName::CentralPrivileges => {
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

/// What a StackSet's template retains (`DeletionPolicy: Retain`), as
/// (output that names it, what it is, why it is kept).
type Kept = (&'static str, &'static str, &'static str);

/// What central-primary.yaml keeps.
const KEPT_BY_CENTRAL: [Kept; 4] = [
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

/// What central-exposure.yaml keeps.
const KEPT_BY_EXPOSURE: [Kept; 3] = [
    (
        "FlowLogBucketName",
        "flow-log bucket s3://",
        "the flow logs outlive the stack; stop the accounts' flow logs first",
    ),
    (
        "KeyArn",
        "KMS key ",
        "schedule its deletion once the flow-log bucket is gone",
    ),
    (
        "FlowLogDeadLetterQueueUrl",
        "flow-log dead-letter queue ",
        "the objects it names were never aggregated",
    ),
];

/// What central-privileges.yaml keeps.
const KEPT_BY_PRIVILEGES: [Kept; 3] = [
    (
        "TrailBucketName",
        "trail bucket s3://",
        "the trail outlives the stack; stop or repoint the organization trail first",
    ),
    (
        "KeyArn",
        "KMS key ",
        "schedule its deletion once the trail bucket is gone and no trail encrypts with it",
    ),
    (
        "TrailDeadLetterQueueUrl",
        "trail dead-letter queue ",
        "the objects it names were never aggregated",
    ),
];

/// Names what central-primary.yaml, central-exposure.yaml or
/// central-privileges.yaml retains, from the central stack's outputs, or
/// says so in general when they cannot be read.
async fn retained_by_central(
    config: &SdkConfig,
    deployment: &Deployment,
    client: &Client,
    plan: &crate::plan::StackSetPlan,
) -> Vec<String> {
    let generic = vec![match plan.name {
        StackSetName::CentralExposure => "the flow-log bucket it created, its KMS key and the flow-log dead-letter queue (DeletionPolicy Retain): delete them by hand once the flow logs are no longer needed".to_owned(),
        StackSetName::CentralPrivileges => "the trail bucket it created, its KMS key and the trail dead-letter queue (DeletionPolicy Retain): delete them by hand once the trail is no longer needed".to_owned(),
        _ => "the findings bucket, its KMS key, the dead-letter queue and a created OpenSearch domain (DeletionPolicy Retain): delete them by hand once the archive is no longer needed".to_owned(),
    }];
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
    let retained = retained_from_outputs(plan, &instances);
    if retained.is_empty() {
        generic
    } else {
        retained
    }
}

/// The retained resources of `plan`'s instances, named from their outputs.
/// Resources the deployment brought (an existing OpenSearch domain, an
/// existing flow-log bucket) are not fanin's to keep and are left out.
fn retained_from_outputs(
    plan: &crate::plan::StackSetPlan,
    instances: &std::collections::BTreeMap<
        (fanin::ids::AccountId, fanin::ids::Region),
        crate::outputs::InstanceOutputs,
    >,
) -> Vec<String> {
    let parameter = |key: &str| {
        plan.parameters
            .iter()
            .find(|p| p.parameter_key == key)
            .map(|p| p.parameter_value.as_str())
    };
    let kept: &[Kept] = match plan.name {
        StackSetName::CentralPrimary => &KEPT_BY_CENTRAL,
        StackSetName::CentralExposure => &KEPT_BY_EXPOSURE,
        StackSetName::CentralPrivileges => &KEPT_BY_PRIVILEGES,
        _ => &[],
    };
    // A domain given with OpenSearchMode existing, a bucket given with
    // FlowLogBucketName: not created here.
    let created_domain = parameter("OpenSearchMode").is_none_or(|mode| mode == "create");
    let created_flow_log_bucket = parameter("FlowLogBucketName").is_none_or(str::is_empty);
    let created_trail_bucket = parameter("TrailBucketName").is_none_or(str::is_empty);
    let mut retained = Vec::new();
    for ((account, region), outputs) in instances {
        for (output, what, why) in kept {
            let brought = match (plan.name, *output) {
                (StackSetName::CentralPrimary, "OpenSearchEndpoint") => !created_domain,
                (StackSetName::CentralExposure, "FlowLogBucketName") => !created_flow_log_bucket,
                (StackSetName::CentralPrivileges, "TrailBucketName") => !created_trail_bucket,
                _ => false,
            };
            if brought {
                continue;
            }
            if let Some(value) = outputs
                .get(*output)
                .filter(|v| !v.is_empty() && *v != "none")
            {
                retained.push(format!(
                    "{what}{value} in {account}/{region} (DeletionPolicy Retain: {why})"
                ));
            }
        }
    }
    retained
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::deployment::Parameter;
    use crate::deployment::fixtures::self_managed;

    fn outputs(
        pairs: &[(&str, &str)],
    ) -> BTreeMap<(fanin::ids::AccountId, fanin::ids::Region), crate::outputs::InstanceOutputs>
    {
        BTreeMap::from([(
            (
                fanin::ids::AccountId::parse("222222222222").unwrap(),
                fanin::ids::Region::parse("us-east-1").unwrap(),
            ),
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )])
    }

    #[test]
    fn the_exposure_stack_names_its_bucket_key_and_dead_letters() {
        let mut exposure = plan(&self_managed())
            .into_iter()
            .find(|p| p.name == StackSetName::CentralExposure)
            .unwrap();
        let instances = outputs(&[
            (
                "FlowLogBucketName",
                "fanin-flow-logs-222222222222-us-east-1",
            ),
            ("KeyArn", "arn:aws:kms:us-east-1:222222222222:key/k"),
            (
                "FlowLogDeadLetterQueueUrl",
                "https://sqs/fanin-flow-logs-dead-letters",
            ),
            ("FlowLogQueueUrl", "https://sqs/fanin-flow-logs"),
        ]);
        let retained = retained_from_outputs(&exposure, &instances);
        assert_eq!(retained.len(), 3, "{retained:?}");
        assert!(retained[0].starts_with(
            "flow-log bucket s3://fanin-flow-logs-222222222222-us-east-1 in 222222222222/us-east-1"
        ));
        assert!(retained[1].contains("key/k"));
        assert!(retained[2].contains("fanin-flow-logs-dead-letters"));
        assert!(!retained.iter().any(|r| r.ends_with("/fanin-flow-logs (")));

        // An existing bucket is its owner's, not fanin's to report.
        exposure
            .parameters
            .push(Parameter::new("FlowLogBucketName", "org-log-archive"));
        let instances = outputs(&[
            ("FlowLogBucketName", "org-log-archive"),
            ("KeyArn", "arn:aws:kms:us-east-1:222222222222:key/k"),
        ]);
        let retained = retained_from_outputs(&exposure, &instances);
        assert_eq!(retained.len(), 1, "{retained:?}");
        assert!(retained[0].starts_with("KMS key "));
    }

    #[test]
    fn the_privileges_stack_names_its_trail_bucket_key_and_dead_letters() {
        let mut privileges = plan(&self_managed())
            .into_iter()
            .find(|p| p.name == StackSetName::CentralPrivileges)
            .unwrap();
        let instances = outputs(&[
            ("TrailBucketName", "fanin-trail-222222222222-us-east-1"),
            ("KeyArn", "arn:aws:kms:us-east-1:222222222222:key/t"),
            (
                "TrailDeadLetterQueueUrl",
                "https://sqs/fanin-cloudtrail-dead-letters",
            ),
            ("TrailQueueUrl", "https://sqs/fanin-cloudtrail"),
            ("PrivilegesFunctionName", "fanin-privileges"),
        ]);
        let retained = retained_from_outputs(&privileges, &instances);
        assert_eq!(retained.len(), 3, "{retained:?}");
        assert!(retained[0].starts_with(
            "trail bucket s3://fanin-trail-222222222222-us-east-1 in 222222222222/us-east-1"
        ));
        assert!(retained[0].contains("stop or repoint the organization trail first"));
        assert!(retained[1].starts_with("KMS key arn:aws:kms:us-east-1:222222222222:key/t"));
        assert!(
            retained[2]
                .starts_with("trail dead-letter queue https://sqs/fanin-cloudtrail-dead-letters")
        );
        assert!(
            !retained
                .iter()
                .any(|r| r.contains("https://sqs/fanin-cloudtrail in"))
        );

        // An existing trail bucket is its owner's, not fanin's to report.
        privileges
            .parameters
            .push(Parameter::new("TrailBucketName", "org-log-archive"));
        let instances = outputs(&[
            ("TrailBucketName", "org-log-archive"),
            ("KeyArn", "arn:aws:kms:us-east-1:222222222222:key/t"),
        ]);
        let retained = retained_from_outputs(&privileges, &instances);
        assert_eq!(retained.len(), 1, "{retained:?}");
        assert!(retained[0].starts_with("KMS key "));
    }

    #[test]
    fn the_primary_stack_names_a_domain_only_when_it_created_it() {
        let mut central = plan(&self_managed())
            .into_iter()
            .find(|p| p.name == StackSetName::CentralPrimary)
            .unwrap();
        let instances = outputs(&[
            ("BucketName", "fanin-findings-222222222222-us-east-1"),
            ("OpenSearchEndpoint", "https://search.example"),
        ]);
        assert_eq!(retained_from_outputs(&central, &instances).len(), 2);
        central
            .parameters
            .push(Parameter::new("OpenSearchMode", "existing"));
        let retained = retained_from_outputs(&central, &instances);
        assert_eq!(retained.len(), 1);
        assert!(retained[0].starts_with("findings bucket s3://"));
    }
}
