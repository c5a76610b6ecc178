//! `deploy`: creates or updates the seven StackSets and their instances in
//! order, uploading the code once the code buckets exist.

use std::collections::BTreeMap;
use std::path::Path;

use aws_config::SdkConfig;
use aws_sdk_cloudformation::Client;
use fanin::ids::Region;
use serde::Serialize;

use crate::cloudformation::{StackSetApi, StackSetDefinition, template_parameters};
use crate::deployment::{Deployment, ExternalId, Parameter};
use crate::error::Error;
use crate::package::Artifacts;
use crate::parameters::{
    central_search_endpoint, declares_code_versions, derived_parameters,
    has_pending_search_endpoint, has_pending_versions, resolve_parameters,
    with_central_search_endpoint, with_code_versions,
};
use crate::plan::{
    ExistingInstance, InstanceRequest, StackSetName, StackSetPlan, Targets, missing_instances,
    plan, unplanned_instances,
};
use crate::sessions::{in_region, require_administrator};
use crate::upload::{CodeVersions, Upload, code_versions, upload_code};
use crate::wait::{WaitPolicy, wait_for_operation};

/// What one `deploy` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub stack_sets: Vec<StackSetReport>,
    pub uploads: Vec<Upload>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StackSetReport {
    pub name: StackSetName,
    /// `created`, or `updated` (every existing instance with it).
    pub action: &'static str,
    /// `account/region` or `ou/region` of each instance created.
    pub created_instances: Vec<String>,
    pub operation_ids: Vec<String>,
    /// Instances deployment.json no longer names; left alone.
    pub unplanned_instances: Vec<String>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for stack_set in &self.stack_sets {
            writeln!(f, "{}: {}", stack_set.name, stack_set.action)?;
            for instance in &stack_set.created_instances {
                writeln!(f, "  new instance {instance}")?;
            }
            for instance in &stack_set.unplanned_instances {
                writeln!(
                    f,
                    "  instance {instance} is not in deployment.json: left in place (remove it with DeleteStackInstances)"
                )?;
            }
        }
        for upload in &self.uploads {
            let what = if upload.uploaded {
                "uploaded"
            } else {
                "already there"
            };
            writeln!(
                f,
                "code s3://{}/{} {what} (version {}, SHA-256 {})",
                upload.bucket, upload.key, upload.version_id, upload.checksum_sha256
            )?;
        }
        Ok(())
    }
}

/// One StackSet ready to go: its plan, template and complete parameters.
struct Prepared {
    plan: StackSetPlan,
    template_body: String,
    parameters: Vec<Parameter>,
    /// Where the values differ by region (the code versions), the complete
    /// parameters of each region's instances; empty otherwise.
    regional_parameters: BTreeMap<Region, Vec<Parameter>>,
}

/// Creates or updates every StackSet of `deployment` and its instances, in
/// order, waiting for each operation; the zips go to the code buckets right
/// after the artifacts StackSet. Templates and parameters are all checked
/// before the first change.
///
/// `config` must act in the administrator account; the StackSets live in
/// its primary region. `external_id` is the collector's ExternalId
/// (16+ characters); it goes only into the `ExternalId` parameters.
pub async fn deploy(
    config: &SdkConfig,
    deployment: &Deployment,
    artifacts: &Artifacts,
    external_id: &str,
) -> Result<Report, Error> {
    let external_id = ExternalId::parse(external_id)?;
    check(deployment)?;
    let home = in_region(config, deployment.stack_set_region());
    require_administrator(&home, deployment).await?;
    let client = Client::new(&home);
    let prepared = prepare(&client, deployment, artifacts, &external_id).await?;

    let policy = WaitPolicy::default();
    let mut report = Report::default();
    let mut versions = BTreeMap::new();
    let mut search_endpoint: Option<String> = None;
    for mut stack_set in prepared {
        if let Some(endpoint) = &search_endpoint {
            stack_set.parameters = with_central_search_endpoint(&stack_set.parameters, endpoint);
        }
        let stack_set = pin_code_versions(stack_set, deployment, &versions)?;
        report
            .stack_sets
            .push(apply(&client, deployment, &stack_set, &policy).await?);
        match stack_set.plan.name {
            StackSetName::Artifacts => {
                report.uploads = upload_code(config, deployment, artifacts).await?;
                versions = code_versions(&report.uploads, artifacts)?;
            }
            StackSetName::CentralPrimary => {
                search_endpoint =
                    Some(deployed_search_endpoint(config, deployment, &client, &stack_set).await?);
            }
            _ => {}
        }
    }
    Ok(report)
}

/// The endpoint central-primary's collector writes to: its parameter in
/// existing mode, else its `OpenSearchEndpoint` output (the created
/// domain's), read from the central account's instance.
async fn deployed_search_endpoint(
    config: &SdkConfig,
    deployment: &Deployment,
    client: &Client,
    central_primary: &Prepared,
) -> Result<String, Error> {
    if let Some(endpoint) = central_search_endpoint(&central_primary.parameters) {
        return Ok(endpoint.to_owned());
    }
    let accounts = crate::sessions::AccountConfigs::new(config, deployment).await?;
    let outputs =
        crate::outputs::stack_set_outputs(client, &accounts, &central_primary.plan).await?;
    outputs
        .as_ref()
        .and_then(|instances| {
            instances.get(&(
                deployment.central_account_id.clone(),
                deployment.primary_region.clone(),
            ))
        })
        .and_then(|outputs| outputs.get("OpenSearchEndpoint"))
        .filter(|endpoint| !endpoint.is_empty())
        .cloned()
        .ok_or_else(|| Error::Parameters {
            problems: vec![format!(
                "{}: no OpenSearchEndpoint output in {}/{}, which {} and {} need",
                StackSetName::CentralPrimary,
                deployment.central_account_id,
                deployment.primary_region,
                StackSetName::CentralExposure,
                StackSetName::CentralPrivileges
            )],
        })
}

/// The StackSet's parameters with the primary region's code versions, and
/// each region's versions for its instances. A StackSet that declares a
/// version but comes before the upload is a planning error.
fn pin_code_versions(
    mut prepared: Prepared,
    deployment: &Deployment,
    versions: &BTreeMap<Region, CodeVersions>,
) -> Result<Prepared, Error> {
    if !declares_code_versions(&prepared.parameters) {
        return Ok(prepared);
    }
    let version_of = |region: &Region| {
        versions.get(region).ok_or_else(|| Error::Parameters {
            problems: vec![format!(
                "{}: no code version for {region}: the code buckets are uploaded with the artifacts StackSet, which must come first and cover every region",
                prepared.plan.name
            )],
        })
    };
    let primary = version_of(&deployment.primary_region)?;
    let mut regional = BTreeMap::new();
    for region in &prepared.plan.regions {
        regional.insert(
            region.clone(),
            with_code_versions(&prepared.parameters, version_of(region)?),
        );
    }
    prepared.parameters = with_code_versions(&prepared.parameters, primary);
    prepared.regional_parameters = regional;
    Ok(prepared)
}

/// Validates a deployment that may have been built in code.
pub(crate) fn check(deployment: &Deployment) -> Result<(), Error> {
    deployment
        .validate()
        .map_err(|problems| Error::InvalidDeployment {
            path: "deployment".into(),
            problems,
        })
}

async fn prepare(
    client: &Client,
    deployment: &Deployment,
    artifacts: &Artifacts,
    external_id: &ExternalId,
) -> Result<Vec<Prepared>, Error> {
    let derived = derived_parameters(deployment, artifacts, external_id);
    let mut problems = Vec::new();
    let mut prepared = Vec::new();
    for plan in plan(deployment) {
        let template_body = read_template(&deployment.templates_directory, plan.name)?;
        let declared = template_parameters(client, &template_body).await?;
        match resolve_parameters(plan.name, &declared, &plan.parameters, &derived) {
            Ok(parameters) => prepared.push(Prepared {
                plan,
                template_body,
                parameters,
                regional_parameters: BTreeMap::new(),
            }),
            Err(mut found) => problems.append(&mut found),
        }
    }
    if problems.is_empty() {
        Ok(prepared)
    } else {
        Err(Error::Parameters { problems })
    }
}

/// The largest template CloudFormation takes as a body (larger ones need an
/// S3 TemplateURL, which this tool does not use).
const MAX_TEMPLATE_BODY_BYTES: usize = 51_200;

fn read_template(directory: &Path, name: StackSetName) -> Result<String, Error> {
    let path = directory.join(name.template_file());
    let body = std::fs::read_to_string(&path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    if body.len() > MAX_TEMPLATE_BODY_BYTES {
        return Err(Error::TemplateTooLarge {
            path,
            bytes: body.len(),
            limit: MAX_TEMPLATE_BODY_BYTES,
        });
    }
    Ok(body)
}

async fn apply(
    client: &Client,
    deployment: &Deployment,
    prepared: &Prepared,
    policy: &WaitPolicy,
) -> Result<StackSetReport, Error> {
    let plan = &prepared.plan;
    if has_pending_versions(&prepared.parameters) {
        return Err(Error::Parameters {
            problems: vec![format!(
                "{}: code versions unknown before the upload",
                plan.name
            )],
        });
    }
    if has_pending_search_endpoint(&prepared.parameters) {
        return Err(Error::Parameters {
            problems: vec![format!(
                "{}: the OpenSearch endpoint is unknown before {} is deployed",
                plan.name,
                StackSetName::CentralPrimary
            )],
        });
    }
    // One region needs no overrides: the StackSet's values are its own.
    let regional = (plan.regions.len() > 1 && !prepared.regional_parameters.is_empty())
        .then_some(&prepared.regional_parameters);
    let api = StackSetApi::new(client, plan);
    let definition = StackSetDefinition {
        template_body: &prepared.template_body,
        parameters: &prepared.parameters,
        administration_role_arn: deployment.administration_role_arn(),
        execution_role_name: deployment.self_managed_roles.execution_role_name.clone(),
    };
    let preferences = &deployment.operation_preferences;
    let mut operation_ids = Vec::new();
    // UpdateStackSet without targets updates every existing instance, so no
    // UpdateStackInstances follows, except to set per-region code versions.
    let action = if api.exists().await? {
        let operation_id = api.update(plan, &definition, preferences).await?;
        tracing::info!(stack_set = %plan.name, operation_id, "updating stack set");
        wait_for_operation(&api, &operation_id, policy).await?;
        operation_ids.push(operation_id);
        "updated"
    } else {
        api.create(plan, &definition).await?;
        tracing::info!(stack_set = %plan.name, "created stack set");
        "created"
    };

    let existing = api.list_instances().await?;
    // The instances of each region pin their own region's code versions:
    // each instance's overrides are set again on every deployment (the
    // update above kept the previous ones, which name the previous code
    // consistently).
    if let Some(regional) = regional {
        for request in existing_by_region(plan, &existing) {
            let overrides = &regional[&request.regions[0]];
            let operation_id = api
                .update_instances(&request, overrides, preferences)
                .await?;
            tracing::info!(
                stack_set = %plan.name,
                operation_id,
                region = %request.regions[0],
                "pinning the code versions of a region"
            );
            wait_for_operation(&api, &operation_id, policy).await?;
            operation_ids.push(operation_id);
        }
    }
    let mut created_instances = Vec::new();
    for request in missing_instances(plan, &existing) {
        let requests = match regional {
            Some(_) => split_by_region(&request),
            None => vec![request],
        };
        for request in requests {
            let overrides = regional.map(|r| r[&request.regions[0]].as_slice());
            let operation_id = api
                .create_instances(&request, overrides, preferences)
                .await?;
            tracing::info!(
                stack_set = %plan.name,
                operation_id,
                regions = request.regions.len(),
                "creating stack instances"
            );
            wait_for_operation(&api, &operation_id, policy).await?;
            operation_ids.push(operation_id);
            let targets: Vec<String> = match &request.targets {
                Targets::Accounts(accounts) => accounts.iter().map(ToString::to_string).collect(),
                Targets::OrganizationalUnits { ids, .. } => ids.clone(),
            };
            for target in &targets {
                for region in &request.regions {
                    created_instances.push(format!("{target}/{region}"));
                }
            }
        }
    }
    let unplanned = unplanned_instances(plan, &existing)
        .into_iter()
        .map(|i| format!("{}/{}", i.account, i.region))
        .collect();
    Ok(StackSetReport {
        name: plan.name,
        action,
        created_instances,
        operation_ids,
        unplanned_instances: unplanned,
    })
}

/// One request per region of `request`, with the same targets.
fn split_by_region(request: &InstanceRequest) -> Vec<InstanceRequest> {
    request
        .regions
        .iter()
        .map(|region| InstanceRequest {
            targets: request.targets.clone(),
            regions: vec![region.clone()],
        })
        .collect()
}

/// For each planned region with instances already, one request for the
/// targets that have an instance there (self-managed: those accounts;
/// service-managed: the planned OUs).
fn existing_by_region(plan: &StackSetPlan, existing: &[ExistingInstance]) -> Vec<InstanceRequest> {
    plan.regions
        .iter()
        .filter_map(|region| {
            let here: Vec<&ExistingInstance> =
                existing.iter().filter(|i| &i.region == region).collect();
            if here.is_empty() {
                return None;
            }
            let targets = match &plan.targets {
                Targets::Accounts(accounts) => {
                    let present: Vec<_> = accounts
                        .iter()
                        .filter(|a| here.iter().any(|i| &i.account == *a))
                        .cloned()
                        .collect();
                    if present.is_empty() {
                        return None;
                    }
                    Targets::Accounts(present)
                }
                Targets::OrganizationalUnits { .. } => plan.targets.clone(),
            };
            Some(InstanceRequest {
                targets,
                regions: vec![region.clone()],
            })
        })
        .collect()
}
