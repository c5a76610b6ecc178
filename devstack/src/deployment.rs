//! fanin deployed into the local stack the way an organization deploys it:
//! the self-managed StackSet roles, then `fanin-deploy` with the checked-in
//! `stacksets/self-managed/` definition (accounts, regions and the OpenSearch
//! endpoint replaced by the local ones), then everything the pipeline needs
//! read back from what the stacks created: outputs, the Lambda functions'
//! settings and the collector's event-source mapping.
//!
//! moto creates the resources but never runs function code, so the local
//! Lambda host runs the real binaries with the deployed functions'
//! environment; only the endpoints and credentials differ
//! ([`local_overrides`]). moto's own copy of the event-source mapping is
//! disabled and [`crate::esm`] plays it with the deployed batch size.
//!
//! moto's CloudFormation creates the flow-log and trail buckets but ignores
//! their `NotificationConfiguration`; moto's S3 does deliver notifications
//! set through the API (filters applied, a test event first, as AWS does).
//! So the notifications of `central-exposure.yaml` and
//! `central-privileges.yaml` are read from the templates and set on the
//! deployed buckets with `PutBucketNotificationConfiguration`
//! ([`queue_notifications`], [`set_queue_notifications`]); from then on
//! every object written under `AWSLogs/` reaches its queue through moto
//! itself.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use aws_credential_types::Credentials;
use fanin::ids::{AccountId, Region};
use fanin_deploy::deployment::Parameter;
use fanin_deploy::outputs::Outputs;
use fanin_deploy::package::{ArtifactFiles, Artifacts};
use fanin_deploy::plan::StackSetName;
use fanin_deploy::{Deployment, PermissionModel};
use serde::Serialize;
use tokio::sync::OnceCell;

use crate::lambda_host::{workspace_binary, workspace_root};
use crate::procs::local_dir;
use crate::scenario::{CENTRAL_ACCOUNT, LocalStack, PRIMARY_REGION, s3_client, sdk_config};

/// The organization id the local deployment scopes its policies to.
pub const ORGANIZATION_ID: &str = "o-faninlocal01";
/// The ExternalId of the local deployment (real ones come from `FANIN_EXTERNAL_ID`).
pub const EXTERNAL_ID: &str = "devstack-external-id-0123456789";
const CODE_BUCKET_PREFIX: &str = "fanin-code-123456789012";

/// What the deployment created, as the pipeline sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Deployed {
    pub central: Central,
    /// The collector function's environment, as CloudFormation set it.
    pub collector_environment: BTreeMap<String, String>,
    /// The collector's event-source mapping, as CloudFormation set it.
    pub mapping: MappingSettings,
    /// The unused-exposure stack (`fanin-central-exposure`).
    pub exposure: Exposure,
    /// The least-privilege stack (`fanin-central-privileges`).
    pub privileges: Privileges,
    /// Each application account and region's forwarder environment.
    pub forwarders: BTreeMap<String, BTreeMap<String, String>>,
    /// Each application account and region's rules that invoke the
    /// forwarder: rule name → its event pattern or schedule.
    pub forwarder_triggers: BTreeMap<String, BTreeMap<String, String>>,
    /// Every StackSet's outputs: `{"<stackset>": {"<account>/<region>": {...}}}`.
    pub outputs: serde_json::Value,
    pub application_accounts: Vec<String>,
    pub regions: Vec<String>,
    /// The definition it was deployed from (for `fanin-deploy remove`).
    #[serde(skip)]
    pub deployment: Deployment,
}

/// The central resources, from the central stacks' outputs and the
/// collector's settings.
#[derive(Debug, Clone, Serialize)]
pub struct Central {
    pub bucket: String,
    pub queue_url: String,
    pub dlq_url: String,
    pub queue_arn: String,
    /// Region → the Inspector Classic topic of that region.
    pub topic_arns: BTreeMap<String, String>,
    pub bus_arn: String,
    pub collector_function: String,
    pub index_prefix: String,
    pub external_id: String,
    pub read_role_name: String,
}

/// What `central-exposure.yaml` deployed, from its outputs and the
/// function's settings.
#[derive(Debug, Clone, Serialize)]
pub struct Exposure {
    pub flow_log_bucket: String,
    pub queue_url: String,
    pub queue_arn: String,
    pub dlq_url: String,
    pub function_name: String,
    pub function_arn: String,
    /// The role the function runs as (`fanin-exposure`).
    pub role_arn: String,
    /// The function's environment, as CloudFormation set it.
    pub environment: BTreeMap<String, String>,
    /// Its event-source mapping on `fanin-flow-logs`, as CloudFormation set it.
    pub mapping: MappingSettings,
    /// Its schedule rule (`fanin-exposure-evaluate`) → schedule expression;
    /// the devstack invokes the evaluation itself.
    pub triggers: BTreeMap<String, String>,
    /// Rule → the constant input its target sent the function (what
    /// [`crate::exposure_host::ExposureHost::invoke_evaluation`] sends).
    pub trigger_inputs: BTreeMap<String, String>,
}

/// What `central-privileges.yaml` deployed, from its outputs and the
/// function's settings.
#[derive(Debug, Clone, Serialize)]
pub struct Privileges {
    /// The trail bucket (`fanin-trail-<account>-<region>`).
    pub trail_bucket: String,
    pub queue_url: String,
    pub queue_arn: String,
    pub dlq_url: String,
    pub function_name: String,
    pub function_arn: String,
    /// The role the function runs as (`fanin-privileges`).
    pub role_arn: String,
    /// The key of the trail bucket, the function's logs and environment.
    pub key_arn: String,
    /// The function's environment, as CloudFormation set it.
    pub environment: BTreeMap<String, String>,
    /// Its event-source mapping on `fanin-cloudtrail`, as CloudFormation set it.
    pub mapping: MappingSettings,
    /// Its schedule rule (`fanin-privileges-evaluate`) → schedule
    /// expression; the devstack invokes the evaluation itself.
    pub triggers: BTreeMap<String, String>,
    /// Rule → the constant input its target sent the function (what
    /// [`crate::privileges_host::PrivilegesHost::invoke_evaluation`] sends).
    pub trigger_inputs: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MappingSettings {
    pub batch_size: i32,
    pub maximum_batching_window_seconds: i32,
    pub report_batch_item_failures: bool,
    pub maximum_concurrency: Option<i32>,
    pub max_receive_count: u32,
}

impl Deployed {
    /// The collector's event-source mapping, played locally with the
    /// deployed batch size.
    pub async fn event_source_mapping(
        &self,
        stack: &LocalStack,
    ) -> anyhow::Result<crate::esm::EventSourceMapping> {
        crate::esm::EventSourceMapping::new(
            &stack.moto_config(PRIMARY_REGION, None),
            &self.central.queue_url,
            self.mapping.batch_size,
        )
        .await
    }

    /// The exposure function's event-source mapping on `fanin-flow-logs`,
    /// played locally with the deployed batch size.
    pub async fn exposure_mapping(
        &self,
        stack: &LocalStack,
    ) -> anyhow::Result<crate::esm::EventSourceMapping> {
        crate::esm::EventSourceMapping::new(
            &stack.moto_config(PRIMARY_REGION, None),
            &self.exposure.queue_url,
            self.exposure.mapping.batch_size,
        )
        .await
    }

    /// The privileges function's event-source mapping on
    /// `fanin-cloudtrail`, played locally with the deployed batch size.
    pub async fn privileges_mapping(
        &self,
        stack: &LocalStack,
    ) -> anyhow::Result<crate::esm::EventSourceMapping> {
        crate::esm::EventSourceMapping::new(
            &stack.moto_config(PRIMARY_REGION, None),
            &self.privileges.queue_url,
            self.privileges.mapping.batch_size,
        )
        .await
    }

    /// The forwarder environment of one application account and region.
    pub fn forwarder_environment(
        &self,
        account: &str,
        region: &str,
    ) -> anyhow::Result<&BTreeMap<String, String>> {
        self.forwarders
            .get(&format!("{account}/{region}"))
            .with_context(|| format!("no forwarder deployed in {account}/{region}"))
    }
}

/// Deploys fanin for `application_accounts` in `regions` (the first region
/// of [`PRIMARY_REGION`] and `regions` is the primary one) and reads back
/// what the pipeline needs.
pub async fn deploy(
    stack: &LocalStack,
    application_accounts: &[&str],
    regions: &[&str],
) -> anyhow::Result<Deployed> {
    deploy_with(
        stack,
        application_accounts,
        regions,
        &DeployOptions::default(),
    )
    .await
}

/// What a deployment may change from the repository's defaults.
#[derive(Debug, Clone, Default)]
pub struct DeployOptions {
    /// The guard policy to deploy instead of `policies/guard.yaml` (what
    /// `GuardPolicy` in deployment.json names).
    pub guard_policy: Option<std::path::PathBuf>,
    /// `GuardRemediation=true`: the guard role may authorize, for
    /// selectors with `remediation: true`.
    pub guard_remediation: bool,
}

/// [`deploy`] with `options`.
pub async fn deploy_with(
    stack: &LocalStack,
    application_accounts: &[&str],
    regions: &[&str],
    options: &DeployOptions,
) -> anyhow::Result<Deployed> {
    let mut regions: Vec<&str> = regions.to_vec();
    if !regions.contains(&PRIMARY_REGION) {
        regions.insert(0, PRIMARY_REGION);
    }
    let mut deployment = local_deployment(stack, application_accounts, &regions)?;
    if options.guard_remediation {
        for name in [
            StackSetName::ApplicationGlobal,
            StackSetName::ApplicationRegional,
        ] {
            let parameters = deployment.parameters.entry(name).or_default();
            parameters.retain(|p| p.parameter_key != "GuardRemediation");
            parameters.push(Parameter::new("GuardRemediation", "true"));
        }
    }
    create_stack_set_roles(stack, &deployment, application_accounts).await?;

    let admin = stack.moto_config(PRIMARY_REGION, None);
    let artifacts = match &options.guard_policy {
        Some(path) => local_artifacts().await?.with_guard_policy(path)?,
        None => local_artifacts().await?.clone(),
    };
    fanin_deploy::deploy(&admin, &deployment, &artifacts, EXTERNAL_ID)
        .await
        .context("fanin-deploy deploy")?;
    let outputs = fanin_deploy::outputs::outputs(&admin, &deployment)
        .await
        .context("fanin-deploy outputs")?;
    read_back(stack, deployment, &outputs, application_accounts, &regions).await
}

/// moto delivers an event to an SQS target through a default input template
/// that leaves out `account`, which AWS always sends (and the collector
/// checks against the finding). The central bus's queue targets get an input
/// transformer that writes the whole event as AWS does.
async fn deliver_whole_events(config: &aws_config::SdkConfig, bus_arn: &str) -> anyhow::Result<()> {
    use aws_sdk_eventbridge::types::{InputTransformer, Target};
    let events = aws_sdk_eventbridge::Client::new(config);
    let rules = events.list_rules().event_bus_name(bus_arn).send().await?;
    for rule in rules.rules() {
        let Some(name) = rule.name() else { continue };
        let targets = events
            .list_targets_by_rule()
            .rule(name)
            .event_bus_name(bus_arn)
            .send()
            .await?;
        let whole: Vec<Target> = targets
            .targets()
            .iter()
            .filter(|t| t.arn().contains(":sqs:") && t.input_transformer().is_none())
            .map(|t| {
                let mut paths = std::collections::HashMap::new();
                for field in ["id", "detail-type", "source", "account", "time", "region", "resources", "detail"] {
                    paths.insert(field.to_owned(), format!("$.{field}"));
                }
                let transformer = InputTransformer::builder()
                    .set_input_paths_map(Some(paths))
                    .input_template(r#"{"version": "0", "id": "<id>", "detail-type": "<detail-type>", "source": "<source>", "account": "<account>", "time": <time>, "region": "<region>", "resources": <resources>, "detail": <detail>}"#)
                    .build()
                    .expect("a template is set");
                let mut target = t.clone();
                target.input_transformer = Some(transformer);
                target
            })
            .collect();
        if !whole.is_empty() {
            events
                .put_targets()
                .rule(name)
                .event_bus_name(bus_arn)
                .set_targets(Some(whole))
                .send()
                .await?;
        }
    }
    Ok(())
}

/// Distinguishes this process's concurrent rewrites of the moto templates.
static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The templates as moto reads them: moto creates an `AWS::KMS::Key` from its
/// `Tags` as if they were the KMS API's `TagKey`/`TagValue` pairs (and fails
/// on CloudFormation's `Key`/`Value`), so the key tags are rewritten in a
/// copy under `.local/`. Nothing else changes.
pub fn templates_for_moto(directory: &std::path::Path) -> anyhow::Result<std::path::PathBuf> {
    let copy = crate::procs::local_dir().join("templates-for-moto");
    std::fs::create_dir_all(&copy)?;
    for entry in std::fs::read_dir(directory)? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        let mut out = String::with_capacity(text.len());
        let mut in_key = false;
        for line in text.lines() {
            if !line.starts_with(' ') && !line.is_empty() {
                in_key = false;
            }
            if line.starts_with("  ") && !line.starts_with("   ") {
                in_key = false;
            }
            if line.trim() == "Type: AWS::KMS::Key" {
                in_key = true;
            }
            let trimmed = line.trim_start();
            let indent = &line[..line.len() - trimmed.len()];
            match trimmed {
                t if in_key && t.starts_with("- Key: ") => {
                    out.push_str(&format!("{indent}- TagKey: {}", &t[7..]))
                }
                t if in_key && t.starts_with("Value: ") => {
                    let previous = out.lines().last().unwrap_or_default();
                    if previous.trim_start().starts_with("- TagKey: ") {
                        out.push_str(&format!("{indent}TagValue: {}", &t[7..]))
                    } else {
                        out.push_str(line)
                    }
                }
                _ => out.push_str(line),
            }
            out.push('\n');
        }
        // Written aside and renamed into place: tests deploying at the same
        // time read these files while another rewrites them, and a reader
        // must never see a half-written template (moto answers it with 500).
        let name = path.file_name().expect("a file in the directory");
        let aside = copy.join(format!(
            ".{}.{}.{}",
            name.to_string_lossy(),
            std::process::id(),
            WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::write(&aside, out)?;
        std::fs::rename(&aside, copy.join(name))?;
    }
    Ok(copy)
}

/// `stacksets/self-managed/` with the local accounts, regions and search endpoint.
fn local_deployment(
    stack: &LocalStack,
    application_accounts: &[&str],
    regions: &[&str],
) -> anyhow::Result<Deployment> {
    let path = workspace_root().join("stacksets/self-managed/deployment.json");
    let mut deployment =
        Deployment::load(&path).with_context(|| format!("loading {}", path.display()))?;
    anyhow::ensure!(deployment.permission_model == PermissionModel::SelfManaged);
    deployment.administrator_account_id = AccountId::parse(CENTRAL_ACCOUNT)?;
    deployment.central_account_id = AccountId::parse(CENTRAL_ACCOUNT)?;
    deployment.organization_id = ORGANIZATION_ID.to_owned();
    deployment.primary_region = Region::parse(PRIMARY_REGION)?;
    deployment.regions = regions
        .iter()
        .map(|r| Region::parse(r))
        .collect::<Result<_, _>>()?;
    deployment.application_targets.accounts = application_accounts
        .iter()
        .map(|a| AccountId::parse(a))
        .collect::<Result<_, _>>()?;
    deployment.code_bucket_prefix = CODE_BUCKET_PREFIX.to_owned();
    deployment.templates_directory = templates_for_moto(&deployment.templates_directory)?;
    use_local_opensearch(stack, &mut deployment);
    // moto rewrites `account` to the receiving bus's account when it forwards
    // an event to another account's bus (AWS keeps the source account), so
    // every Inspector2 event reaches the local queue with the central
    // account: the central account plays the Inspector2 administrator.
    deployment
        .parameters
        .entry(StackSetName::CentralPrimary)
        .or_default()
        .push(Parameter::new("Inspector2AdminAccountIds", CENTRAL_ACCOUNT));
    deployment
        .validate()
        .map_err(|problems| anyhow::anyhow!("local deployment: {}", problems.join("; ")))?;
    Ok(deployment)
}

/// No OpenSearch domain in the local stack (moto has none): the collector
/// uses the gateway's OpenSearch listener as an existing endpoint.
pub fn use_local_opensearch(stack: &LocalStack, deployment: &mut Deployment) {
    let central = deployment
        .parameters
        .entry(StackSetName::CentralPrimary)
        .or_default();
    central.retain(|p| {
        !matches!(
            p.parameter_key.as_str(),
            "OpenSearchMode"
                | "OpenSearchEndpoint"
                | "OpenSearchExistingName"
                | "OpenSearchAdminRoleArn"
                | "DomainName"
        )
    });
    central.extend([
        Parameter::new("OpenSearchMode", "existing"),
        Parameter::new("OpenSearchEndpoint", stack.opensearch_url()),
        Parameter::new("OpenSearchExistingName", "fanin-local"),
    ]);
    // central-exposure and central-privileges get the endpoint from
    // central-primary and name the same domain in their roles' policies.
    for set in [
        StackSetName::CentralExposure,
        StackSetName::CentralPrivileges,
    ] {
        let parameters = deployment.parameters.entry(set).or_default();
        parameters.retain(|p| {
            !matches!(
                p.parameter_key.as_str(),
                "OpenSearchMode" | "OpenSearchExistingName" | "DomainName"
            )
        });
        parameters.extend([
            Parameter::new("OpenSearchMode", "existing"),
            Parameter::new("OpenSearchExistingName", "fanin-local"),
        ]);
    }
}

/// What a self-managed organization creates once, as ordinary stacks: the
/// administration role in the deploying account, and the fanin permissions
/// boundary and the execution role in every target account.
pub async fn create_stack_set_roles(
    stack: &LocalStack,
    deployment: &Deployment,
    application_accounts: &[&str],
) -> anyhow::Result<()> {
    let dir = workspace_root().join("stacksets/self-managed");
    let administration = std::fs::read_to_string(dir.join("administration-role.yaml"))?;
    let execution = std::fs::read_to_string(dir.join("execution-role.yaml"))?;
    let boundary =
        std::fs::read_to_string(workspace_root().join("stacksets/permissions-boundary.yaml"))?;
    create_stack(
        stack,
        CENTRAL_ACCOUNT,
        "fanin-stackset-administration",
        &administration,
        &[],
    )
    .await?;
    let mut accounts = vec![CENTRAL_ACCOUNT];
    accounts.extend(application_accounts.iter().copied());
    for account in accounts {
        create_permissions_boundary(stack, account, &boundary).await?;
        create_stack(
            stack,
            account,
            "fanin-stackset-execution",
            &execution,
            &[
                ("AdministratorAccountId", CENTRAL_ACCOUNT),
                ("CodeBucketPrefix", &deployment.code_bucket_prefix),
            ],
        )
        .await?;
    }
    Ok(())
}

/// The fanin permissions boundary of `account`, as its administrator
/// creates it before the StackSets (`stacksets/permissions-boundary.yaml`).
pub async fn create_permissions_boundary(
    stack: &LocalStack,
    account: &str,
    template: &str,
) -> anyhow::Result<()> {
    create_stack(stack, account, "fanin-permissions-boundary", template, &[]).await
}

async fn create_stack(
    stack: &LocalStack,
    account: &str,
    name: &str,
    template: &str,
    parameters: &[(&str, &str)],
) -> anyhow::Result<()> {
    let config = account_config(stack, account, PRIMARY_REGION).await?;
    let cloudformation = aws_sdk_cloudformation::Client::new(&config);
    let mut request = cloudformation
        .create_stack()
        .stack_name(name)
        .template_body(template)
        .capabilities(aws_sdk_cloudformation::types::Capability::CapabilityNamedIam);
    for (key, value) in parameters {
        request = request.parameters(
            aws_sdk_cloudformation::types::Parameter::builder()
                .parameter_key(*key)
                .parameter_value(*value)
                .build(),
        );
    }
    request
        .send()
        .await
        .with_context(|| format!("creating stack {name} in {account}"))?;
    Ok(())
}

/// A config acting in `account` (its administrator), talking to moto.
pub async fn account_config(
    stack: &LocalStack,
    account: &str,
    region: &str,
) -> anyhow::Result<aws_config::SdkConfig> {
    let credentials: Option<Credentials> = if account == CENTRAL_ACCOUNT {
        None
    } else {
        Some(stack.account_credentials(account).await?)
    };
    Ok(sdk_config(&stack.moto.url, region, credentials))
}

/// Zips of the debug binaries built by `cargo build`, with the repository's
/// guard policy (`policies/guard.yaml`, what `stacksets/*/deployment.json`
/// deploy by default), made once per process (the release arm64 build is
/// `fanin-deploy deploy`'s job, not the tests'). A test that needs another
/// policy takes [`Artifacts::with_guard_policy`] of these.
pub async fn local_artifacts() -> anyhow::Result<&'static Artifacts> {
    static ARTIFACTS: OnceCell<Artifacts> = OnceCell::const_new();
    ARTIFACTS
        .get_or_try_init(|| async {
            tokio::task::spawn_blocking(|| {
                let dir = local_dir().join("devstack-artifacts");
                std::fs::create_dir_all(&dir)?;
                let zip = |name: &str| {
                    let binary = workspace_binary(name);
                    anyhow::ensure!(
                        binary.is_file(),
                        "{} is missing: the deployment packages the {name} Lambda; build the workspace first (cargo build --workspace --all-targets)",
                        binary.display()
                    );
                    zip_binary(&binary, &dir)
                };
                Ok::<_, anyhow::Error>(Artifacts::from_files(&ArtifactFiles {
                    collector_zip: zip("fanin-collector")?,
                    forwarder_zip: zip("fanin-forwarder")?,
                    coverage_zip: zip("fanin-coverage")?,
                    guard_zip: zip("fanin-guard")?,
                    exposure_zip: zip("fanin-exposure")?,
                    privileges_zip: zip("fanin-privileges")?,
                    guard_policy: workspace_root().join("policies/guard.yaml"),
                })?)
            })
            .await?
        })
        .await
}

/// `<dir>/<name>.zip` holding the binary as `bootstrap` (the provided.al2023
/// layout); rebuilt only when the binary is newer than the zip.
fn zip_binary(binary: &Path, dir: &Path) -> anyhow::Result<PathBuf> {
    let name = binary
        .file_name()
        .and_then(|n| n.to_str())
        .context("binary without a name")?;
    let zip_path = dir.join(format!("{name}.zip"));
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if let (Some(zip_time), Some(binary_time)) = (modified(&zip_path), modified(binary))
        && zip_time >= binary_time
    {
        return Ok(zip_path);
    }
    let bytes = std::fs::read(binary)
        .with_context(|| format!("reading {} (run cargo build first)", binary.display()))?;
    let partial = dir.join(format!("{name}.zip.partial"));
    let mut writer = zip::ZipWriter::new(std::fs::File::create(&partial)?);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1))
        .unix_permissions(0o755);
    writer.start_file("bootstrap", options)?;
    writer.write_all(&bytes)?;
    writer.finish()?;
    std::fs::rename(&partial, &zip_path)?;
    Ok(zip_path)
}

async fn read_back(
    stack: &LocalStack,
    deployment: Deployment,
    outputs: &Outputs,
    application_accounts: &[&str],
    regions: &[&str],
) -> anyhow::Result<Deployed> {
    let output = |set: StackSetName, account: &str, region: &str, key: &str| {
        outputs
            .value(set, account, region, key)
            .map(str::to_owned)
            .with_context(|| format!("no output {key} of {} in {account}/{region}", set.as_str()))
    };
    let primary = StackSetName::CentralPrimary;
    let mut topic_arns = BTreeMap::new();
    for region in regions {
        let topic = output(
            StackSetName::CentralRegional,
            CENTRAL_ACCOUNT,
            region,
            "TopicArn",
        )?;
        if topic != "none" {
            topic_arns.insert(region.to_string(), topic);
        }
    }
    let collector_function = output(
        primary,
        CENTRAL_ACCOUNT,
        PRIMARY_REGION,
        "CollectorFunctionName",
    )?;
    let central_config = stack.moto_config(PRIMARY_REGION, None);
    let lambda = aws_sdk_lambda::Client::new(&central_config);
    let (_, collector_environment) = function_settings(&lambda, &collector_function).await?;
    let queue_arn = output(primary, CENTRAL_ACCOUNT, PRIMARY_REGION, "QueueArn")?;
    let queue_url = output(primary, CENTRAL_ACCOUNT, PRIMARY_REGION, "QueueUrl")?;
    let max_receive_count = max_receive_count(&central_config, &queue_url).await?;
    let mapping =
        take_over_mapping(&lambda, &collector_function, &queue_arn, max_receive_count).await?;
    let bus_arn = output(primary, CENTRAL_ACCOUNT, PRIMARY_REGION, "BusArn")?;
    deliver_whole_events(&central_config, &bus_arn).await?;
    // The coverage check's schedule rule is on the central account's default
    // bus, which also receives GuardDuty findings as their administrator;
    // the devstack runs the check itself (`crate::coverage`).
    let (coverage_arn, _) = function_settings(&lambda, "fanin-coverage").await?;
    take_over_triggers(&central_config, &coverage_arn).await?;
    let exposure = read_back_exposure(&deployment, outputs, &central_config, &lambda).await?;
    let privileges = read_back_privileges(&deployment, outputs, &central_config, &lambda).await?;

    let mut forwarders = BTreeMap::new();
    let mut forwarder_triggers = BTreeMap::new();
    for account in application_accounts {
        for region in regions {
            let function = output(
                StackSetName::ApplicationRegional,
                account,
                region,
                "ForwarderFunctionName",
            )?;
            if function == "none" {
                continue; // a region without Inspector Classic has no forwarder
            }
            let config = account_config(stack, account, region).await?;
            let lambda = aws_sdk_lambda::Client::new(&config);
            let (function_arn, environment) = function_settings(&lambda, &function).await?;
            let triggers = take_over_triggers(&config, &function_arn).await?;
            forwarders.insert(format!("{account}/{region}"), environment);
            forwarder_triggers.insert(format!("{account}/{region}"), triggers);
        }
    }
    let env = |key: &str| {
        collector_environment
            .get(key)
            .cloned()
            .with_context(|| format!("the deployed collector has no {key}"))
    };
    let central = Central {
        bucket: output(primary, CENTRAL_ACCOUNT, PRIMARY_REGION, "BucketName")?,
        dlq_url: output(
            primary,
            CENTRAL_ACCOUNT,
            PRIMARY_REGION,
            "DeadLetterQueueUrl",
        )?,
        bus_arn: output(primary, CENTRAL_ACCOUNT, PRIMARY_REGION, "BusArn")?,
        queue_url,
        queue_arn,
        topic_arns,
        collector_function,
        index_prefix: env("FANIN_INDEX_PREFIX")?,
        external_id: env("FANIN_EXTERNAL_ID")?,
        read_role_name: env("FANIN_ROLE_NAME")?,
    };
    Ok(Deployed {
        central,
        collector_environment,
        mapping,
        exposure,
        privileges,
        forwarders,
        forwarder_triggers,
        outputs: outputs.to_json(),
        application_accounts: application_accounts.iter().map(|a| a.to_string()).collect(),
        regions: regions.iter().map(|r| r.to_string()).collect(),
        deployment,
    })
}

/// The exposure stack's resources; its mapping and schedule taken over like
/// the collector's and the coverage check's, its bucket's notifications set
/// as the template says.
async fn read_back_exposure(
    deployment: &Deployment,
    outputs: &Outputs,
    central_config: &aws_config::SdkConfig,
    lambda: &aws_sdk_lambda::Client,
) -> anyhow::Result<Exposure> {
    let set = StackSetName::CentralExposure;
    let output = |key: &str| {
        outputs
            .value(set, CENTRAL_ACCOUNT, PRIMARY_REGION, key)
            .map(str::to_owned)
            .with_context(|| {
                format!("no output {key} of {set} in {CENTRAL_ACCOUNT}/{PRIMARY_REGION}")
            })
    };
    let function_name = output("ExposureFunctionName")?;
    let (function_arn, environment) = function_settings(lambda, &function_name).await?;
    let queue_url = output("FlowLogQueueUrl")?;
    let queue_arn = output("FlowLogQueueArn")?;
    let max_receive_count = max_receive_count(central_config, &queue_url).await?;
    let mapping = take_over_mapping(lambda, &function_name, &queue_arn, max_receive_count).await?;
    let trigger_inputs = target_inputs(central_config, &function_arn).await?;
    let triggers = take_over_triggers(central_config, &function_arn).await?;
    let flow_log_bucket = output("FlowLogBucketName")?;
    // An existing bucket (FlowLogBucketName) is its owner's to wire.
    let created_bucket = deployment
        .parameters
        .get(&set)
        .and_then(|parameters| {
            parameters
                .iter()
                .find(|p| p.parameter_key == "FlowLogBucketName")
        })
        .is_none_or(|p| p.parameter_value.is_empty());
    if created_bucket {
        let template = deployment.templates_directory.join(set.template_file());
        let notifications = queue_notifications(
            &std::fs::read_to_string(&template)?,
            FLOW_LOG_BUCKET,
            &queue_arn,
        )
        .with_context(|| format!("reading the notifications of {}", template.display()))?;
        set_queue_notifications(central_config, &flow_log_bucket, notifications).await?;
    }
    Ok(Exposure {
        flow_log_bucket,
        queue_url,
        queue_arn,
        dlq_url: output("FlowLogDeadLetterQueueUrl")?,
        function_name,
        function_arn,
        role_arn: output("ExposureRoleArn")?,
        environment,
        mapping,
        triggers,
        trigger_inputs,
    })
}

/// The privileges stack's resources, taken over and wired like the exposure
/// stack's ([`read_back_exposure`]).
async fn read_back_privileges(
    deployment: &Deployment,
    outputs: &Outputs,
    central_config: &aws_config::SdkConfig,
    lambda: &aws_sdk_lambda::Client,
) -> anyhow::Result<Privileges> {
    let set = StackSetName::CentralPrivileges;
    let output = |key: &str| {
        outputs
            .value(set, CENTRAL_ACCOUNT, PRIMARY_REGION, key)
            .map(str::to_owned)
            .with_context(|| {
                format!("no output {key} of {set} in {CENTRAL_ACCOUNT}/{PRIMARY_REGION}")
            })
    };
    let function_name = output("PrivilegesFunctionName")?;
    let (function_arn, environment) = function_settings(lambda, &function_name).await?;
    let queue_url = output("TrailQueueUrl")?;
    let queue_arn = output("TrailQueueArn")?;
    let max_receive_count = max_receive_count(central_config, &queue_url).await?;
    let mapping = take_over_mapping(lambda, &function_name, &queue_arn, max_receive_count).await?;
    let trigger_inputs = target_inputs(central_config, &function_arn).await?;
    let triggers = take_over_triggers(central_config, &function_arn).await?;
    let trail_bucket = output("TrailBucketName")?;
    // An existing bucket (TrailBucketName) is its owner's to wire.
    let created_bucket = deployment
        .parameters
        .get(&set)
        .and_then(|parameters| {
            parameters
                .iter()
                .find(|p| p.parameter_key == "TrailBucketName")
        })
        .is_none_or(|p| p.parameter_value.is_empty());
    if created_bucket {
        let template = deployment.templates_directory.join(set.template_file());
        let notifications = queue_notifications(
            &std::fs::read_to_string(&template)?,
            TRAIL_BUCKET,
            &queue_arn,
        )
        .with_context(|| format!("reading the notifications of {}", template.display()))?;
        set_queue_notifications(central_config, &trail_bucket, notifications).await?;
    }
    Ok(Privileges {
        trail_bucket,
        queue_url,
        queue_arn,
        dlq_url: output("TrailDeadLetterQueueUrl")?,
        function_name,
        function_arn,
        role_arn: output("PrivilegesRoleArn")?,
        key_arn: output("KeyArn")?,
        environment,
        mapping,
        triggers,
        trigger_inputs,
    })
}

/// The constant input of each rule target that invokes `function_arn`.
async fn target_inputs(
    config: &aws_config::SdkConfig,
    function_arn: &str,
) -> anyhow::Result<BTreeMap<String, String>> {
    let events = aws_sdk_eventbridge::Client::new(config);
    let names = events
        .list_rule_names_by_target()
        .target_arn(function_arn)
        .send()
        .await?;
    let mut inputs = BTreeMap::new();
    for name in names.rule_names() {
        let targets = events.list_targets_by_rule().rule(name).send().await?;
        if let Some(input) = targets
            .targets()
            .iter()
            .find(|t| t.arn() == function_arn)
            .and_then(|t| t.input())
        {
            inputs.insert(name.clone(), input.to_owned());
        }
    }
    Ok(inputs)
}

/// The bucket resource of `central-exposure.yaml`.
pub const FLOW_LOG_BUCKET: &str = "FlowLogBucket";
/// The bucket resource of `central-privileges.yaml`.
pub const TRAIL_BUCKET: &str = "TrailBucket";

/// The `QueueConfigurations` of the template's bucket resource `bucket`
/// ([`FLOW_LOG_BUCKET`], [`TRAIL_BUCKET`]), in the S3 API's shape, each
/// sending to `queue_arn` (the template's `!GetAtt Queue.Arn`, the only
/// queue it declares).
pub fn queue_notifications(
    template: &str,
    bucket: &str,
    queue_arn: &str,
) -> anyhow::Result<Vec<aws_sdk_s3::types::QueueConfiguration>> {
    use aws_sdk_s3::types::{
        Event, FilterRule, FilterRuleName, NotificationConfigurationFilter, QueueConfiguration,
        S3KeyFilter,
    };
    let template: serde_norway::Value = serde_norway::from_str(template)?;
    let configurations = template["Resources"][bucket]["Properties"]["NotificationConfiguration"]
        ["QueueConfigurations"]
        .as_sequence()
        .with_context(|| format!("{bucket} has no NotificationConfiguration.QueueConfigurations"))?;
    let mut notifications = Vec::new();
    for configuration in configurations {
        let event = configuration["Event"]
            .as_str()
            .context("a queue configuration without Event")?;
        let queue = match &configuration["Queue"] {
            serde_norway::Value::Tagged(tagged) if tagged.tag == "GetAtt" => {
                tagged.value.as_str().unwrap_or_default().to_owned()
            }
            other => anyhow::bail!("a queue configuration's Queue is not !GetAtt: {other:?}"),
        };
        anyhow::ensure!(
            queue == "Queue.Arn",
            "notifications to {queue}, not Queue.Arn"
        );
        let mut rules = Vec::new();
        for rule in configuration["Filter"]["S3Key"]["Rules"]
            .as_sequence()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let name = rule["Name"]
                .as_str()
                .context("a filter rule without Name")?;
            let value = rule["Value"]
                .as_str()
                .context("a filter rule without Value")?;
            rules.push(
                FilterRule::builder()
                    .name(FilterRuleName::from(name))
                    .value(value)
                    .build(),
            );
        }
        notifications.push(
            QueueConfiguration::builder()
                .queue_arn(queue_arn)
                .events(Event::from(event))
                .filter(
                    NotificationConfigurationFilter::builder()
                        .key(S3KeyFilter::builder().set_filter_rules(Some(rules)).build())
                        .build(),
                )
                .build()?,
        );
    }
    Ok(notifications)
}

/// What CloudFormation would have set on the bucket (moto's does not).
async fn set_queue_notifications(
    config: &aws_config::SdkConfig,
    bucket: &str,
    notifications: Vec<aws_sdk_s3::types::QueueConfiguration>,
) -> anyhow::Result<()> {
    let s3 = s3_client(config);
    s3.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(
            aws_sdk_s3::types::NotificationConfiguration::builder()
                .set_queue_configurations(Some(notifications))
                .build(),
        )
        .send()
        .await
        .with_context(|| format!("setting the notifications of {bucket}"))?;
    Ok(())
}

/// A function's ARN and environment variables, as CloudFormation set them.
async fn function_settings(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
) -> anyhow::Result<(String, BTreeMap<String, String>)> {
    let configuration = lambda
        .get_function_configuration()
        .function_name(function)
        .send()
        .await
        .with_context(|| format!("reading the configuration of {function}"))?;
    let arn = configuration
        .function_arn()
        .with_context(|| format!("{function} without ARN"))?
        .to_owned();
    let environment = configuration
        .environment()
        .and_then(|e| e.variables())
        .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    Ok((arn, environment))
}

/// Reads the rules that invoke `function` and removes their Lambda targets
/// from moto, which cannot run them (and treats a schedule rule as matching
/// every event); the devstack sends the function those events itself.
async fn take_over_triggers(
    config: &aws_config::SdkConfig,
    function_arn: &str,
) -> anyhow::Result<BTreeMap<String, String>> {
    let events = aws_sdk_eventbridge::Client::new(config);
    let names = events
        .list_rule_names_by_target()
        .target_arn(function_arn)
        .send()
        .await
        .context("listing the forwarder's rules")?;
    let mut triggers = BTreeMap::new();
    for name in names.rule_names() {
        let rule = events.describe_rule().name(name).send().await?;
        let trigger = rule
            .schedule_expression()
            .or(rule.event_pattern())
            .unwrap_or_default();
        triggers.insert(name.clone(), trigger.to_owned());
        let targets = events.list_targets_by_rule().rule(name).send().await?;
        let ids: Vec<String> = targets
            .targets()
            .iter()
            .filter(|t| t.arn() == function_arn)
            .map(|t| t.id().to_owned())
            .collect();
        events
            .remove_targets()
            .rule(name)
            .set_ids(Some(ids))
            .send()
            .await
            .with_context(|| format!("taking over rule {name}"))?;
    }
    Ok(triggers)
}

/// Reads the collector's mapping and disables moto's copy of it (moto would
/// try to run the function in a container); [`crate::esm`] plays it instead.
async fn take_over_mapping(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    queue_arn: &str,
    max_receive_count: u32,
) -> anyhow::Result<MappingSettings> {
    let mappings = lambda
        .list_event_source_mappings()
        .function_name(function)
        .send()
        .await
        .context("listing the collector's event-source mappings")?;
    let mapping = mappings
        .event_source_mappings()
        .iter()
        .find(|m| m.event_source_arn() == Some(queue_arn))
        .with_context(|| format!("no event-source mapping from {queue_arn} to {function}"))?;
    let uuid = mapping.uuid().context("mapping without UUID")?;
    lambda
        .update_event_source_mapping()
        .uuid(uuid)
        .enabled(false)
        .send()
        .await
        .context("disabling moto's copy of the mapping")?;
    Ok(MappingSettings {
        batch_size: mapping.batch_size().unwrap_or(10),
        maximum_batching_window_seconds: mapping.maximum_batching_window_in_seconds().unwrap_or(0),
        report_batch_item_failures: mapping
            .function_response_types()
            .contains(&aws_sdk_lambda::types::FunctionResponseType::ReportBatchItemFailures),
        maximum_concurrency: mapping
            .scaling_config()
            .and_then(|s| s.maximum_concurrency()),
        max_receive_count,
    })
}

async fn max_receive_count(config: &aws_config::SdkConfig, queue_url: &str) -> anyhow::Result<u32> {
    let sqs = aws_sdk_sqs::Client::new(config);
    let answer = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy)
        .send()
        .await?;
    let policy = answer
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy))
        .context("the deployed queue has no redrive policy")?;
    let policy: serde_json::Value = serde_json::from_str(policy)?;
    let count = &policy["maxReceiveCount"];
    count
        .as_u64()
        .or_else(|| count.as_str().and_then(|s| s.parse().ok()))
        .map(|c| c as u32)
        .context("redrive policy without maxReceiveCount")
}

/// The variables that differ between AWS and the local stack: endpoints,
/// credentials and S3 addressing. Everything else comes from the deployment.
pub fn local_overrides(
    stack: &LocalStack,
    region: &str,
    credentials: Option<&Credentials>,
) -> Vec<(String, String)> {
    let mut vars = vec![
        ("AWS_ENDPOINT_URL".to_owned(), stack.gateway.aws_url.clone()),
        ("AWS_REGION".to_owned(), region.to_owned()),
        ("FANIN_S3_FORCE_PATH_STYLE".to_owned(), "true".to_owned()),
        ("RUST_LOG".to_owned(), "info".to_owned()),
    ];
    match credentials {
        Some(c) => {
            vars.push(("AWS_ACCESS_KEY_ID".to_owned(), c.access_key_id().to_owned()));
            vars.push((
                "AWS_SECRET_ACCESS_KEY".to_owned(),
                c.secret_access_key().to_owned(),
            ));
            if let Some(token) = c.session_token() {
                vars.push(("AWS_SESSION_TOKEN".to_owned(), token.to_owned()));
            }
        }
        None => {
            vars.push(("AWS_ACCESS_KEY_ID".to_owned(), "testing".to_owned()));
            vars.push(("AWS_SECRET_ACCESS_KEY".to_owned(), "testing".to_owned()));
        }
    }
    vars
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The contract's notifications, read from the repository's template:
    /// every object created under `AWSLogs/` ending `.log.gz` or `.parquet`.
    #[test]
    fn the_templates_flow_log_notifications_are_the_contracts() {
        let template =
            std::fs::read_to_string(workspace_root().join("cloudformation/central-exposure.yaml"))
                .unwrap();
        let queue = "arn:aws:sqs:us-east-1:123456789012:fanin-flow-logs";
        let notifications = queue_notifications(&template, FLOW_LOG_BUCKET, queue).unwrap();
        /// (queue, events, key filter rules as (name, value)).
        type Described = (String, Vec<String>, Vec<(String, String)>);
        let described: Vec<Described> = notifications
            .iter()
            .map(|n| {
                let rules = n
                    .filter()
                    .and_then(|f| f.key())
                    .map(|k| k.filter_rules())
                    .unwrap_or_default()
                    .iter()
                    .map(|r| {
                        (
                            r.name().map(|n| n.as_str().to_owned()).unwrap_or_default(),
                            r.value().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect();
                (
                    n.queue_arn().to_owned(),
                    n.events().iter().map(|e| e.as_str().to_owned()).collect(),
                    rules,
                )
            })
            .collect();
        let expected = |suffix: &str| {
            (
                queue.to_owned(),
                vec!["s3:ObjectCreated:*".to_owned()],
                vec![
                    ("prefix".to_owned(), "AWSLogs/".to_owned()),
                    ("suffix".to_owned(), suffix.to_owned()),
                ],
            )
        };
        assert_eq!(described, [expected(".log.gz"), expected(".parquet")]);

        // A notification to anything but the template's queue is refused.
        let elsewhere = template.replace("Queue: !GetAtt Queue.Arn", "Queue: !GetAtt Other.Arn");
        assert!(queue_notifications(&elsewhere, FLOW_LOG_BUCKET, queue).is_err());
    }

    /// The trail bucket's notification, read from the repository's
    /// template: every object created under `AWSLogs/` ending `.json.gz`
    /// (the trail's log files; digests end `.json.gz` too and are skipped by
    /// the function).
    #[test]
    fn the_templates_trail_notification_is_the_contracts() {
        let template = std::fs::read_to_string(
            workspace_root().join("cloudformation/central-privileges.yaml"),
        )
        .unwrap();
        let queue = "arn:aws:sqs:us-east-1:123456789012:fanin-cloudtrail";
        let notifications = queue_notifications(&template, TRAIL_BUCKET, queue).unwrap();
        assert_eq!(notifications.len(), 1);
        let notification = &notifications[0];
        assert_eq!(notification.queue_arn(), queue);
        assert_eq!(
            notification
                .events()
                .iter()
                .map(|e| e.as_str())
                .collect::<Vec<_>>(),
            ["s3:ObjectCreated:*"]
        );
        let rules: Vec<(String, String)> = notification
            .filter()
            .and_then(|f| f.key())
            .map(|k| k.filter_rules())
            .unwrap_or_default()
            .iter()
            .map(|r| {
                (
                    r.name().map(|n| n.as_str().to_owned()).unwrap_or_default(),
                    r.value().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            rules,
            [
                ("prefix".to_owned(), "AWSLogs/".to_owned()),
                ("suffix".to_owned(), ".json.gz".to_owned()),
            ]
        );
        // The exposure template has no trail bucket.
        let exposure =
            std::fs::read_to_string(workspace_root().join("cloudformation/central-exposure.yaml"))
                .unwrap();
        assert!(queue_notifications(&exposure, TRAIL_BUCKET, queue).is_err());
    }
}
