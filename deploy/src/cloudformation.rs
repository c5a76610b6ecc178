//! CloudFormation, thin: one method per SDK call, paginated, answering in
//! this crate's types. Failures keep the AWS error code ([`CallError`]); the
//! SDK's standard retry policy is the only retry.

use std::collections::BTreeMap;

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types as cfn;
use fanin::aws::classify;
use fanin::ids::{AccountId, Region};
use fanin::ports::CallError;

use crate::deployment::{
    AutoDeployment, CallAs, ConcurrencyMode, OperationPreferences, Parameter, PermissionModel,
    RegionConcurrency,
};
use crate::error::{Error, InstanceFailure};
use crate::parameters::DeclaredParameter;
use crate::plan::{
    AccountFilterKind, ExistingInstance, InstanceRequest, StackSetName, StackSetPlan, Targets,
};
use crate::wait::{OperationState, OperationStatus, OperationWatch};

/// The parameters `template_body` declares, as CloudFormation parses them.
pub(crate) async fn template_parameters(
    client: &Client,
    template_body: &str,
) -> Result<Vec<DeclaredParameter>, CallError> {
    let summary = client
        .get_template_summary()
        .template_body(template_body)
        .send()
        .await
        .map_err(|e| classify("GetTemplateSummary", e))?;
    Ok(summary
        .parameters()
        .iter()
        .filter_map(|p| {
            Some(DeclaredParameter {
                key: p.parameter_key()?.to_owned(),
                has_default: p.default_value().is_some(),
            })
        })
        .collect())
}

/// What `CreateStackSet`/`UpdateStackSet` send besides the plan.
pub(crate) struct StackSetDefinition<'a> {
    pub template_body: &'a str,
    pub parameters: &'a [Parameter],
    pub administration_role_arn: String,
    pub execution_role_name: String,
}

/// The calls on one StackSet, made as the plan's `CallAs`.
pub(crate) struct StackSetApi<'a> {
    client: &'a Client,
    name: StackSetName,
    call_as: cfn::CallAs,
}

impl<'a> StackSetApi<'a> {
    pub fn new(client: &'a Client, plan: &StackSetPlan) -> Self {
        Self {
            client,
            name: plan.name,
            call_as: match plan.call_as {
                CallAs::Myself => cfn::CallAs::SelfValue,
                CallAs::DelegatedAdmin => cfn::CallAs::DelegatedAdmin,
            },
        }
    }

    /// Whether the StackSet exists (a deleted one does not).
    pub async fn exists(&self) -> Result<bool, CallError> {
        let answer = self
            .client
            .describe_stack_set()
            .stack_set_name(self.name.as_str())
            .call_as(self.call_as.clone())
            .send()
            .await;
        match answer {
            Ok(output) => Ok(output
                .stack_set()
                .and_then(|s| s.status())
                .is_some_and(|s| *s != cfn::StackSetStatus::Deleted)),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_stack_set_not_found_exception()) =>
            {
                Ok(false)
            }
            Err(error) => Err(classify("DescribeStackSet", error)),
        }
    }

    pub async fn create(
        &self,
        plan: &StackSetPlan,
        definition: &StackSetDefinition<'_>,
    ) -> Result<(), CallError> {
        let mut request = self
            .client
            .create_stack_set()
            .stack_set_name(self.name.as_str())
            .description(description(self.name))
            .template_body(definition.template_body)
            .set_parameters(Some(sdk_parameters(definition.parameters)))
            .capabilities(cfn::Capability::CapabilityNamedIam)
            .call_as(self.call_as.clone())
            .client_request_token(uuid::Uuid::new_v4().to_string());
        request = match plan.permission_model {
            PermissionModel::SelfManaged => request
                .permission_model(cfn::PermissionModels::SelfManaged)
                .administration_role_arn(&definition.administration_role_arn)
                .execution_role_name(&definition.execution_role_name),
            PermissionModel::ServiceManaged => request
                .permission_model(cfn::PermissionModels::ServiceManaged)
                .set_auto_deployment(plan.auto_deployment.map(sdk_auto_deployment)),
        };
        request
            .send()
            .await
            .map_err(|e| classify("CreateStackSet", e))?;
        Ok(())
    }

    /// Updates the StackSet and, with no targets named, every instance it
    /// has. Returns the operation id.
    pub async fn update(
        &self,
        plan: &StackSetPlan,
        definition: &StackSetDefinition<'_>,
        preferences: &OperationPreferences,
    ) -> Result<String, CallError> {
        let operation_id = uuid::Uuid::new_v4().to_string();
        let mut request = self
            .client
            .update_stack_set()
            .stack_set_name(self.name.as_str())
            .description(description(self.name))
            .template_body(definition.template_body)
            .set_parameters(Some(sdk_parameters(definition.parameters)))
            .capabilities(cfn::Capability::CapabilityNamedIam)
            .operation_preferences(sdk_preferences(preferences, &plan.regions))
            .operation_id(&operation_id)
            .call_as(self.call_as.clone());
        request = match plan.permission_model {
            PermissionModel::SelfManaged => request
                .administration_role_arn(&definition.administration_role_arn)
                .execution_role_name(&definition.execution_role_name),
            PermissionModel::ServiceManaged => {
                request.set_auto_deployment(plan.auto_deployment.map(sdk_auto_deployment))
            }
        };
        let answer = request
            .send()
            .await
            .map_err(|e| classify("UpdateStackSet", e))?;
        Ok(answer.operation_id().unwrap_or(&operation_id).to_owned())
    }

    pub async fn list_instances(&self) -> Result<Vec<ExistingInstance>, Error> {
        let mut pages = self
            .client
            .list_stack_instances()
            .stack_set_name(self.name.as_str())
            .call_as(self.call_as.clone())
            .into_paginator()
            .send();
        let mut instances = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("ListStackInstances", e))?;
            for summary in page.summaries() {
                let account = summary
                    .account()
                    .and_then(|a| AccountId::parse(a).ok())
                    .ok_or(Error::IncompleteAnswer {
                        operation: "ListStackInstances",
                        missing: "a valid account id",
                    })?;
                let region = summary.region().and_then(|r| Region::parse(r).ok()).ok_or(
                    Error::IncompleteAnswer {
                        operation: "ListStackInstances",
                        missing: "a valid region",
                    },
                )?;
                instances.push(ExistingInstance {
                    account,
                    region,
                    organizational_unit_id: summary.organizational_unit_id().map(str::to_owned),
                    stack_id: summary.stack_id().map(str::to_owned),
                    status: summary
                        .status()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                });
            }
        }
        Ok(instances)
    }

    /// Creates the instances of `request`, with the StackSet's own
    /// parameters or, given `overrides`, with those (the complete list:
    /// moto replaces the parameters with the overrides, AWS merges them).
    /// Returns the operation id.
    pub async fn create_instances(
        &self,
        request: &InstanceRequest,
        overrides: Option<&[Parameter]>,
        preferences: &OperationPreferences,
    ) -> Result<String, CallError> {
        let call = InstanceCall::new(request, preferences);
        let answer = self
            .client
            .create_stack_instances()
            .stack_set_name(self.name.as_str())
            .set_accounts(call.accounts)
            .set_deployment_targets(call.deployment_targets)
            .set_regions(Some(call.regions))
            .set_parameter_overrides(overrides.map(sdk_parameters))
            .operation_preferences(call.preferences)
            .operation_id(&call.operation_id)
            .call_as(self.call_as.clone())
            .send()
            .await
            .map_err(|e| classify("CreateStackInstances", e))?;
        Ok(answer
            .operation_id()
            .unwrap_or(&call.operation_id)
            .to_owned())
    }

    /// Sets the parameter overrides of the existing instances of `request`
    /// (the complete list) and updates their stacks. Returns the operation id.
    pub async fn update_instances(
        &self,
        request: &InstanceRequest,
        overrides: &[Parameter],
        preferences: &OperationPreferences,
    ) -> Result<String, CallError> {
        let call = InstanceCall::new(request, preferences);
        let answer = self
            .client
            .update_stack_instances()
            .stack_set_name(self.name.as_str())
            .set_accounts(call.accounts)
            .set_deployment_targets(call.deployment_targets)
            .set_regions(Some(call.regions))
            .set_parameter_overrides(Some(sdk_parameters(overrides)))
            .operation_preferences(call.preferences)
            .operation_id(&call.operation_id)
            .call_as(self.call_as.clone())
            .send()
            .await
            .map_err(|e| classify("UpdateStackInstances", e))?;
        Ok(answer
            .operation_id()
            .unwrap_or(&call.operation_id)
            .to_owned())
    }

    /// Deletes the instances of `request` and their stacks. Returns the
    /// operation id.
    pub async fn delete_instances(
        &self,
        request: &InstanceRequest,
        preferences: &OperationPreferences,
    ) -> Result<String, CallError> {
        let call = InstanceCall::new(request, preferences);
        let answer = self
            .client
            .delete_stack_instances()
            .stack_set_name(self.name.as_str())
            .set_accounts(call.accounts)
            .set_deployment_targets(call.deployment_targets)
            .set_regions(Some(call.regions))
            .retain_stacks(false)
            .operation_preferences(call.preferences)
            .operation_id(&call.operation_id)
            .call_as(self.call_as.clone())
            .send()
            .await
            .map_err(|e| classify("DeleteStackInstances", e))?;
        Ok(answer
            .operation_id()
            .unwrap_or(&call.operation_id)
            .to_owned())
    }

    pub async fn delete(&self) -> Result<(), CallError> {
        self.client
            .delete_stack_set()
            .stack_set_name(self.name.as_str())
            .call_as(self.call_as.clone())
            .send()
            .await
            .map_err(|e| classify("DeleteStackSet", e))?;
        Ok(())
    }
}

impl OperationWatch for StackSetApi<'_> {
    fn stack_set(&self) -> StackSetName {
        self.name
    }

    async fn operation(&self, operation_id: &str) -> Result<OperationState, Error> {
        let answer = self
            .client
            .describe_stack_set_operation()
            .stack_set_name(self.name.as_str())
            .operation_id(operation_id)
            .call_as(self.call_as.clone())
            .send()
            .await
            .map_err(|e| classify("DescribeStackSetOperation", e))?;
        let operation = answer
            .stack_set_operation()
            .ok_or(Error::IncompleteAnswer {
                operation: "DescribeStackSetOperation",
                missing: "the operation",
            })?;
        let status = match operation.status() {
            Some(cfn::StackSetOperationStatus::Queued) => OperationStatus::Queued,
            Some(cfn::StackSetOperationStatus::Running) => OperationStatus::Running,
            Some(cfn::StackSetOperationStatus::Stopping) => OperationStatus::Stopping,
            Some(cfn::StackSetOperationStatus::Succeeded) => OperationStatus::Succeeded,
            Some(cfn::StackSetOperationStatus::Failed) => OperationStatus::Failed,
            Some(cfn::StackSetOperationStatus::Stopped) => OperationStatus::Stopped,
            Some(other) => OperationStatus::Other(other.as_str().to_owned()),
            None => OperationStatus::Other("UNKNOWN".into()),
        };
        Ok(OperationState {
            status,
            reason: operation.status_reason().map(str::to_owned),
        })
    }

    async fn failures(&self, operation_id: &str) -> Result<Vec<InstanceFailure>, Error> {
        let mut pages = self
            .client
            .list_stack_set_operation_results()
            .stack_set_name(self.name.as_str())
            .operation_id(operation_id)
            .call_as(self.call_as.clone())
            .into_paginator()
            .send();
        let mut failures = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("ListStackSetOperationResults", e))?;
            for result in page.summaries() {
                let status = result.status().map(|s| s.as_str()).unwrap_or("UNKNOWN");
                if status == "SUCCEEDED" {
                    continue;
                }
                failures.push(InstanceFailure {
                    account: result.account().unwrap_or("?").to_owned(),
                    region: result.region().unwrap_or("?").to_owned(),
                    status: status.to_owned(),
                    reason: result.status_reason().unwrap_or_default().to_owned(),
                });
            }
        }
        Ok(failures)
    }
}

/// Reads the outputs of one stack; `None` when no such stack exists (what
/// moto answers for the StackId it lists for an instance).
pub(crate) async fn stack_outputs(
    client: &Client,
    stack_name_or_id: &str,
) -> Result<Option<BTreeMap<String, String>>, CallError> {
    let answer = client
        .describe_stacks()
        .stack_name(stack_name_or_id)
        .send()
        .await;
    let output = match answer {
        Ok(output) => output,
        Err(error)
            if error.code() == Some("ValidationError")
                && error
                    .message()
                    .is_some_and(|m| m.contains("does not exist")) =>
        {
            return Ok(None);
        }
        Err(error) => return Err(classify("DescribeStacks", error)),
    };
    let Some(stack) = output.stacks().first() else {
        return Ok(None);
    };
    if stack.stack_status() == Some(&cfn::StackStatus::DeleteComplete) {
        return Ok(None);
    }
    Ok(Some(
        stack
            .outputs()
            .iter()
            .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
            .collect(),
    ))
}

/// Names of the stacks that are not deleted.
pub(crate) async fn live_stack_names(client: &Client) -> Result<Vec<String>, CallError> {
    let mut pages = client.list_stacks().into_paginator().send();
    let mut names = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify("ListStacks", e))?;
        names.extend(
            page.stack_summaries()
                .iter()
                .filter(|s| s.stack_status() != Some(&cfn::StackStatus::DeleteComplete))
                .filter_map(|s| s.stack_name().map(str::to_owned)),
        );
    }
    Ok(names)
}

fn description(name: StackSetName) -> String {
    format!(
        "fanin {name} ({}), managed by fanin-deploy",
        name.template_file()
    )
}

fn sdk_parameters(parameters: &[Parameter]) -> Vec<cfn::Parameter> {
    parameters
        .iter()
        .map(|p| {
            cfn::Parameter::builder()
                .parameter_key(&p.parameter_key)
                .parameter_value(&p.parameter_value)
                .build()
        })
        .collect()
}

fn sdk_auto_deployment(auto: AutoDeployment) -> cfn::AutoDeployment {
    let builder = cfn::AutoDeployment::builder().enabled(auto.enabled);
    // AWS accepts RetainStacksOnAccountRemoval only with Enabled.
    if auto.enabled {
        builder
            .retain_stacks_on_account_removal(auto.retain_stacks_on_account_removal)
            .build()
    } else {
        builder.build()
    }
}

fn sdk_preferences(
    preferences: &OperationPreferences,
    regions: &[Region],
) -> cfn::StackSetOperationPreferences {
    let builder = match preferences.region_concurrency_type {
        RegionConcurrency::Parallel => cfn::StackSetOperationPreferences::builder()
            .region_concurrency_type(cfn::RegionConcurrencyType::Parallel),
        // One region after the other, the primary region first.
        RegionConcurrency::Sequential => cfn::StackSetOperationPreferences::builder()
            .region_concurrency_type(cfn::RegionConcurrencyType::Sequential)
            .set_region_order(Some(regions.iter().map(ToString::to_string).collect())),
    };
    builder
        .set_concurrency_mode(preferences.concurrency_mode.map(|mode| match mode {
            ConcurrencyMode::StrictFailureTolerance => cfn::ConcurrencyMode::StrictFailureTolerance,
            ConcurrencyMode::SoftFailureTolerance => cfn::ConcurrencyMode::SoftFailureTolerance,
        }))
        .failure_tolerance_percentage(i32::from(preferences.failure_tolerance_percentage))
        .max_concurrent_percentage(i32::from(preferences.max_concurrent_percentage))
        .build()
}

/// What Create- and DeleteStackInstances send. A fresh operation id makes a
/// retried request (by the SDK) the same operation.
struct InstanceCall {
    operation_id: String,
    accounts: Option<Vec<String>>,
    deployment_targets: Option<cfn::DeploymentTargets>,
    regions: Vec<String>,
    preferences: cfn::StackSetOperationPreferences,
}

impl InstanceCall {
    fn new(request: &InstanceRequest, preferences: &OperationPreferences) -> Self {
        let (accounts, deployment_targets) = sdk_targets(&request.targets);
        Self {
            operation_id: uuid::Uuid::new_v4().to_string(),
            accounts,
            deployment_targets,
            regions: request.regions.iter().map(ToString::to_string).collect(),
            preferences: sdk_preferences(preferences, &request.regions),
        }
    }
}

/// Self-managed targets go in `Accounts`; service-managed ones in
/// `DeploymentTargets` (AWS rejects the other combination).
fn sdk_targets(targets: &Targets) -> (Option<Vec<String>>, Option<cfn::DeploymentTargets>) {
    match targets {
        Targets::Accounts(accounts) => (
            Some(accounts.iter().map(ToString::to_string).collect()),
            None,
        ),
        Targets::OrganizationalUnits { ids, filter } => {
            let mut builder =
                cfn::DeploymentTargets::builder().set_organizational_unit_ids(Some(ids.clone()));
            if let Some((kind, accounts)) = filter {
                builder = builder
                    .account_filter_type(match kind {
                        AccountFilterKind::Intersection => cfn::AccountFilterType::Intersection,
                        AccountFilterKind::Difference => cfn::AccountFilterType::Difference,
                    })
                    .set_accounts(Some(accounts.iter().map(ToString::to_string).collect()));
            }
            (None, Some(builder.build()))
        }
    }
}
