//! What to deploy where: `stacksets/<model>/deployment.json` and the
//! per-StackSet parameter files next to it, parsed and validated before any
//! value reaches an AWS call, a log line or an S3 key.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use fanin::ids::{AccountId, Region, truncate_for_message};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::plan::StackSetName;

/// How CloudFormation gets permission in the target accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PermissionModel {
    /// IAM roles you create: the administration role in the deploying
    /// account, the execution role in every target account
    /// (`stacksets/self-managed/*.yaml`).
    SelfManaged,
    /// AWS Organizations trusted access: targets are OUs, new accounts get
    /// the application stacks automatically. Never reaches the management
    /// account.
    ServiceManaged,
}

/// Whether a service-managed caller is the management account or a
/// delegated administrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CallAs {
    #[default]
    #[serde(rename = "SELF")]
    Myself,
    DelegatedAdmin,
}

/// The self-managed roles. The artifacts StackSet always uses them (its only
/// target is the deploying account, which a service-managed StackSet cannot
/// reach when it is the management account).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SelfManagedRoles {
    #[serde(default = "default_administration_role_name")]
    pub administration_role_name: String,
    #[serde(default = "default_execution_role_name")]
    pub execution_role_name: String,
}

impl Default for SelfManagedRoles {
    fn default() -> Self {
        Self {
            administration_role_name: default_administration_role_name(),
            execution_role_name: default_execution_role_name(),
        }
    }
}

fn default_administration_role_name() -> String {
    "AWSCloudFormationStackSetAdministrationRole".into()
}

fn default_execution_role_name() -> String {
    "AWSCloudFormationStackSetExecutionRole".into()
}

fn default_outputs_role_name() -> String {
    "OrganizationAccountAccessRole".into()
}

fn default_templates_directory() -> PathBuf {
    PathBuf::from("../../cloudformation")
}

fn default_parameters_directory() -> PathBuf {
    PathBuf::from("parameters")
}

fn default_guard_policy() -> PathBuf {
    PathBuf::from("../../policies/guard.yaml")
}

/// Where the application StackSets go: accounts (self-managed) or OUs
/// (service-managed).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ApplicationTargets {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<AccountId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub organizational_unit_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_deployment: Option<AutoDeployment>,
}

/// Service-managed only: deploy to accounts that join a target OU later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AutoDeployment {
    pub enabled: bool,
    pub retain_stacks_on_account_removal: bool,
}

impl Default for AutoDeployment {
    fn default() -> Self {
        Self {
            enabled: true,
            retain_stacks_on_account_removal: false,
        }
    }
}

/// How fast a StackSet operation rolls out and how many failures it tolerates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct OperationPreferences {
    #[serde(default)]
    pub failure_tolerance_percentage: u8,
    #[serde(default = "default_max_concurrent_percentage")]
    pub max_concurrent_percentage: u8,
    #[serde(default)]
    pub region_concurrency_type: RegionConcurrency,
    /// AWS's default, STRICT_FAILURE_TOLERANCE, lowers the account
    /// concurrency to the failure tolerance + 1 (one account at a time with
    /// a tolerance of 0); SOFT_FAILURE_TOLERANCE keeps MaxConcurrentPercentage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency_mode: Option<ConcurrencyMode>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConcurrencyMode {
    StrictFailureTolerance,
    SoftFailureTolerance,
}

fn default_max_concurrent_percentage() -> u8 {
    100
}

impl Default for OperationPreferences {
    fn default() -> Self {
        Self {
            failure_tolerance_percentage: 0,
            max_concurrent_percentage: default_max_concurrent_percentage(),
            region_concurrency_type: RegionConcurrency::Parallel,
            concurrency_mode: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RegionConcurrency {
    #[default]
    Parallel,
    Sequential,
}

/// One `{"ParameterKey": .., "ParameterValue": ..}` entry, the format of
/// `aws cloudformation ... --parameters file://...`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Parameter {
    pub parameter_key: String,
    pub parameter_value: String,
}

impl Parameter {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            parameter_key: key.into(),
            parameter_value: value.into(),
        }
    }
}

/// The contents of `deployment.json`, plus the parameter files it points to.
///
/// Paths are resolved against the directory of `deployment.json` by
/// [`Deployment::load`]; a `Deployment` built in code uses them as given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Deployment {
    /// Free text for the humans editing the file; ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub permission_model: PermissionModel,
    /// Service-managed only.
    #[serde(default)]
    pub call_as: CallAs,
    /// The account the StackSets live in and the tool runs as (management
    /// account or delegated administrator for service-managed).
    pub administrator_account_id: AccountId,
    pub central_account_id: AccountId,
    /// Service-managed only: the OU holding the central account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub central_organizational_unit_id: Option<String>,
    pub organization_id: String,
    /// The central queue, bus, bucket and collector live here; the StackSets
    /// themselves are created in this region of the administrator account.
    pub primary_region: Region,
    /// Every region the organization uses (the primary region included).
    pub regions: Vec<Region>,
    pub application_targets: ApplicationTargets,
    /// Code buckets are `<CodeBucketPrefix>-<region>`.
    pub code_bucket_prefix: String,
    #[serde(default)]
    pub self_managed_roles: SelfManagedRoles,
    /// Role `outputs` assumes in target accounts to read instance stacks.
    #[serde(default = "default_outputs_role_name")]
    pub outputs_role_name: String,
    #[serde(default)]
    pub operation_preferences: OperationPreferences,
    #[serde(default = "default_templates_directory")]
    pub templates_directory: PathBuf,
    #[serde(default = "default_parameters_directory")]
    pub parameters_directory: PathBuf,
    /// The security-group guard's policy file (YAML, docs/guard.md),
    /// uploaded beside the zips; by default `policies/guard.yaml` at the
    /// repository root. Read and validated with the code
    /// ([`crate::guard_policy::load`]), before any upload.
    #[serde(default = "default_guard_policy")]
    pub guard_policy: PathBuf,
    /// Read from `<ParametersDirectory>/<stackset-name>.json`, not from
    /// `deployment.json` itself.
    #[serde(skip)]
    pub parameters: BTreeMap<StackSetName, Vec<Parameter>>,
}

/// Parameters fanin-deploy sets itself; a parameter file must not.
pub const DERIVED_PARAMETERS: &[&str] = &[
    "OrganizationId",
    "CentralAccountId",
    "PrimaryRegion",
    "CodeBucketPrefix",
    "CollectorCodeKey",
    "ForwarderCodeKey",
    "CoverageCodeKey",
    "GuardCodeKey",
    "GuardPolicyKey",
    "ExposureCodeKey",
    "PrivilegesCodeKey",
    "CentralOpenSearchEndpoint",
    "Regions",
    "ExternalId",
];

impl Deployment {
    /// Reads `deployment.json` and the seven parameter files, resolves the
    /// template and parameter directories and the guard's policy file
    /// against its folder, and validates everything.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = read(path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut deployment: Deployment =
            serde_json::from_str(&text).map_err(|source| Error::Json {
                path: path.to_owned(),
                source,
            })?;
        deployment.templates_directory = base.join(&deployment.templates_directory);
        deployment.parameters_directory = base.join(&deployment.parameters_directory);
        deployment.guard_policy = base.join(&deployment.guard_policy);
        for name in StackSetName::ALL {
            let file = deployment
                .parameters_directory
                .join(format!("{}.json", name.as_str()));
            let parameters: Vec<Parameter> =
                serde_json::from_str(&read(&file)?).map_err(|source| Error::Json {
                    path: file.clone(),
                    source,
                })?;
            deployment.parameters.insert(name, parameters);
        }
        deployment
            .validate()
            .map_err(|problems| Error::InvalidDeployment {
                path: path.to_owned(),
                problems,
            })?;
        Ok(deployment)
    }

    /// Every problem at once, so one edit can fix them all.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if !is_organization_id(&self.organization_id) {
            problems.push(format!(
                "OrganizationId must look like o-abcd123456, got {:?}",
                truncate_for_message(&self.organization_id)
            ));
        }
        self.validate_regions(&mut problems);
        self.validate_targets(&mut problems);
        let longest_region = self.regions.iter().map(|r| r.as_str().len()).max();
        if let Err(problem) = check_code_bucket_prefix(&self.code_bucket_prefix, longest_region) {
            problems.push(problem);
        }
        for (field, name) in [
            (
                "SelfManagedRoles.AdministrationRoleName",
                &self.self_managed_roles.administration_role_name,
            ),
            (
                "SelfManagedRoles.ExecutionRoleName",
                &self.self_managed_roles.execution_role_name,
            ),
            ("OutputsRoleName", &self.outputs_role_name),
        ] {
            if !is_role_name(name) {
                problems.push(format!(
                    "{field} must be 1 to 64 of [A-Za-z0-9+=,.@_-], got {:?}",
                    truncate_for_message(name)
                ));
            }
        }
        let preferences = &self.operation_preferences;
        if preferences.failure_tolerance_percentage > 100 {
            problems
                .push("OperationPreferences.FailureTolerancePercentage must be 0 to 100".into());
        }
        if !(1..=100).contains(&preferences.max_concurrent_percentage) {
            problems.push("OperationPreferences.MaxConcurrentPercentage must be 1 to 100".into());
        }
        self.validate_parameters(&mut problems);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    fn validate_regions(&self, problems: &mut Vec<String>) {
        if self.regions.is_empty() {
            problems.push("Regions must list every region the organization uses".into());
        }
        if !self.regions.contains(&self.primary_region) {
            problems.push(format!(
                "Regions must include the PrimaryRegion {}",
                self.primary_region
            ));
        }
        if has_duplicates(&self.regions) {
            problems.push("Regions lists a region twice".into());
        }
    }

    fn validate_targets(&self, problems: &mut Vec<String>) {
        let targets = &self.application_targets;
        match self.permission_model {
            PermissionModel::SelfManaged => {
                if targets.accounts.is_empty() {
                    problems.push(
                        "ApplicationTargets.Accounts must list the application accounts (self-managed)"
                            .into(),
                    );
                }
                if !targets.organizational_unit_ids.is_empty() || targets.auto_deployment.is_some()
                {
                    problems.push(
                        "ApplicationTargets.OrganizationalUnitIds and AutoDeployment need PermissionModel SERVICE_MANAGED"
                            .into(),
                    );
                }
                if self.central_organizational_unit_id.is_some() {
                    problems.push(
                        "CentralOrganizationalUnitId needs PermissionModel SERVICE_MANAGED".into(),
                    );
                }
                if self.call_as != CallAs::Myself {
                    problems.push(
                        "CallAs DELEGATED_ADMIN needs PermissionModel SERVICE_MANAGED".into(),
                    );
                }
                if targets.accounts.contains(&self.central_account_id) {
                    problems.push(format!(
                        "ApplicationTargets.Accounts must not list the central account {}",
                        self.central_account_id
                    ));
                }
                if has_duplicates(&targets.accounts) {
                    problems.push("ApplicationTargets.Accounts lists an account twice".into());
                }
            }
            PermissionModel::ServiceManaged => {
                if targets.organizational_unit_ids.is_empty() {
                    problems.push(
                        "ApplicationTargets.OrganizationalUnitIds must list the application OUs (service-managed)"
                            .into(),
                    );
                }
                if !targets.accounts.is_empty() {
                    problems.push(
                        "ApplicationTargets.Accounts needs PermissionModel SELF_MANAGED; service-managed StackSets target OUs"
                            .into(),
                    );
                }
                for ou in &targets.organizational_unit_ids {
                    if !is_organizational_unit_id(ou) {
                        problems.push(format!(
                            "ApplicationTargets.OrganizationalUnitIds: not an OU or root id: {:?}",
                            truncate_for_message(ou)
                        ));
                    }
                }
                match &self.central_organizational_unit_id {
                    Some(ou) if is_organizational_unit_id(ou) => {}
                    Some(ou) => problems.push(format!(
                        "CentralOrganizationalUnitId: not an OU or root id: {:?}",
                        truncate_for_message(ou)
                    )),
                    None => problems.push(
                        "CentralOrganizationalUnitId is required (service-managed): the OU that holds the central account"
                            .into(),
                    ),
                }
                if self.call_as == CallAs::Myself
                    && self.central_account_id == self.administrator_account_id
                {
                    problems.push(
                        "the central account cannot be the management account: service-managed StackSets never deploy to it"
                            .into(),
                    );
                }
            }
        }
    }

    fn validate_parameters(&self, problems: &mut Vec<String>) {
        // A shared parameter (QueueName, BusName, ...) names one resource that
        // several StackSets refer to, so it must have one value everywhere.
        let mut shared_values: BTreeMap<&str, (&str, StackSetName)> = BTreeMap::new();
        for (name, parameters) in &self.parameters {
            let mut seen = BTreeSet::new();
            for parameter in parameters {
                let key = parameter.parameter_key.as_str();
                if !is_parameter_key(key) {
                    problems.push(format!(
                        "parameters/{}.json: not a CloudFormation parameter name: {:?}",
                        name.as_str(),
                        truncate_for_message(key)
                    ));
                    continue;
                }
                if !seen.insert(key) {
                    problems.push(format!(
                        "parameters/{}.json: {key} is set twice",
                        name.as_str()
                    ));
                }
                if DERIVED_PARAMETERS.contains(&key) {
                    problems.push(format!(
                        "parameters/{}.json: {key} is set by fanin-deploy (from deployment.json, the packaged code or FANIN_EXTERNAL_ID); remove it",
                        name.as_str()
                    ));
                }
                match shared_values.get(key) {
                    Some((value, first)) if *value != parameter.parameter_value => {
                        problems.push(format!(
                            "parameters/{}.json: {key} differs from parameters/{}.json; shared parameters must have one value",
                            name.as_str(),
                            first.as_str()
                        ));
                    }
                    Some(_) => {}
                    None => {
                        shared_values.insert(key, (&parameter.parameter_value, *name));
                    }
                }
            }
        }
    }

    /// The administrator account's region the StackSets live in.
    pub fn stack_set_region(&self) -> &Region {
        &self.primary_region
    }

    /// Regions with the primary region first, so a SEQUENTIAL rollout starts there.
    pub fn ordered_regions(&self) -> Vec<Region> {
        let mut regions = vec![self.primary_region.clone()];
        regions.extend(
            self.regions
                .iter()
                .filter(|r| **r != self.primary_region)
                .cloned(),
        );
        regions
    }

    pub fn code_bucket(&self, region: &Region) -> String {
        format!("{}-{}", self.code_bucket_prefix, region)
    }

    pub fn administration_role_arn(&self) -> String {
        format!(
            "arn:{}:iam::{}:role/{}",
            partition_of(&self.primary_region),
            self.administrator_account_id,
            self.self_managed_roles.administration_role_name
        )
    }
}

/// The ExternalId the collector presents to the read roles: from
/// `FANIN_EXTERNAL_ID`, never from a file in the repository.
#[derive(Clone)]
pub struct ExternalId(String);

impl ExternalId {
    pub const VARIABLE: &'static str = "FANIN_EXTERNAL_ID";

    /// 16 to 1224 of the characters STS accepts (`[\w+=,.@:/-]`). The error
    /// never contains the value.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let length = raw.chars().count();
        if length < 16 {
            return Err(Error::ExternalId(format!(
                "{} must be at least 16 characters (it has {length})",
                Self::VARIABLE
            )));
        }
        if length > 1224 {
            return Err(Error::ExternalId(format!(
                "{} must be at most 1224 characters",
                Self::VARIABLE
            )));
        }
        if !raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c))
        {
            return Err(Error::ExternalId(format!(
                "{} may only contain letters, digits and _+=,.@:/-",
                Self::VARIABLE
            )));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn from_env() -> Result<Self, Error> {
        match std::env::var(Self::VARIABLE) {
            Ok(value) => Self::parse(&value),
            Err(_) => Err(Error::ExternalId(format!(
                "{} is not set: export a random secret of 16+ characters (e.g. `openssl rand -hex 24`); keep it out of the repository",
                Self::VARIABLE
            ))),
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ExternalId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExternalId(<redacted>)")
    }
}

/// `aws`, `aws-cn` or `aws-us-gov` for a region name.
pub fn partition_of(region: &Region) -> &'static str {
    let name = region.as_str();
    if name.starts_with("cn-") {
        "aws-cn"
    } else if name.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

fn has_duplicates<T: Ord>(items: &[T]) -> bool {
    items.iter().collect::<BTreeSet<&T>>().len() != items.len()
}

fn is_lower_alphanumeric(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// `o-` and 10 to 32 lowercase letters or digits.
pub fn is_organization_id(raw: &str) -> bool {
    raw.strip_prefix("o-")
        .is_some_and(|rest| (10..=32).contains(&rest.len()) && is_lower_alphanumeric(rest))
}

/// `ou-<4..32>-<8..32>` or a root id `r-<4..32>`.
pub fn is_organizational_unit_id(raw: &str) -> bool {
    if let Some(rest) = raw.strip_prefix("r-") {
        return (4..=32).contains(&rest.len()) && is_lower_alphanumeric(rest);
    }
    let Some(rest) = raw.strip_prefix("ou-") else {
        return false;
    };
    let Some((root, unit)) = rest.split_once('-') else {
        return false;
    };
    (4..=32).contains(&root.len())
        && (8..=32).contains(&unit.len())
        && is_lower_alphanumeric(root)
        && is_lower_alphanumeric(unit)
}

fn is_role_name(raw: &str) -> bool {
    (1..=64).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

fn is_parameter_key(raw: &str) -> bool {
    (1..=255).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The prefix plus `-<region>` must be a valid S3 bucket name.
fn check_code_bucket_prefix(prefix: &str, longest_region: Option<usize>) -> Result<(), String> {
    // 42 is what the templates' CodeBucketPrefix pattern allows.
    let max = (63 - 1 - longest_region.unwrap_or("ap-southeast-1".len())).min(42);
    let allowed = prefix
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let starts_well = prefix
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if allowed
        && starts_well
        && (3..=max).contains(&prefix.len())
        && !prefix.ends_with('-')
        && !prefix.starts_with("xn--")
    {
        Ok(())
    } else {
        Err(format!(
            "CodeBucketPrefix must be 3 to {max} of [a-z0-9-], start with a letter or digit and not end with '-' (buckets are <prefix>-<region>), got {:?}",
            truncate_for_message(prefix)
        ))
    }
}

/// Deployments for the unit tests of this crate.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::Deployment;

    pub const SELF_MANAGED: &str = r#"{
        "Comment": "example",
        "PermissionModel": "SELF_MANAGED",
        "AdministratorAccountId": "111111111111",
        "CentralAccountId": "222222222222",
        "OrganizationId": "o-exampleorg1",
        "PrimaryRegion": "us-east-1",
        "Regions": ["eu-west-1", "us-east-1"],
        "ApplicationTargets": {"Accounts": ["333333333333", "444444444444"]},
        "CodeBucketPrefix": "fanin-code-111111111111"
    }"#;

    pub const SERVICE_MANAGED: &str = r#"{
        "PermissionModel": "SERVICE_MANAGED",
        "CallAs": "DELEGATED_ADMIN",
        "AdministratorAccountId": "111111111111",
        "CentralAccountId": "222222222222",
        "CentralOrganizationalUnitId": "ou-ab12-00000000",
        "OrganizationId": "o-exampleorg1",
        "PrimaryRegion": "us-east-1",
        "Regions": ["us-east-1", "eu-west-1"],
        "ApplicationTargets": {
            "OrganizationalUnitIds": ["ou-ab12-11111111", "ou-ab12-22222222"],
            "AutoDeployment": {"Enabled": true, "RetainStacksOnAccountRemoval": false}
        },
        "CodeBucketPrefix": "fanin-code",
        "OperationPreferences": {"FailureTolerancePercentage": 10, "MaxConcurrentPercentage": 50, "RegionConcurrencyType": "SEQUENTIAL", "ConcurrencyMode": "SOFT_FAILURE_TOLERANCE"}
    }"#;

    pub fn self_managed() -> Deployment {
        serde_json::from_str(SELF_MANAGED).unwrap()
    }

    pub fn service_managed() -> Deployment {
        serde_json::from_str(SERVICE_MANAGED).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{SELF_MANAGED, SERVICE_MANAGED};
    use super::*;

    fn parse(text: &str) -> Deployment {
        serde_json::from_str(text).unwrap()
    }

    fn problems(deployment: &Deployment) -> String {
        deployment.validate().unwrap_err().join("\n")
    }

    #[test]
    fn self_managed_example_parses_with_defaults() {
        let deployment = parse(SELF_MANAGED);
        deployment.validate().unwrap();
        assert_eq!(deployment.permission_model, PermissionModel::SelfManaged);
        assert_eq!(
            deployment.self_managed_roles.execution_role_name,
            "AWSCloudFormationStackSetExecutionRole"
        );
        assert_eq!(
            deployment.operation_preferences,
            OperationPreferences::default()
        );
        assert_eq!(
            deployment.administration_role_arn(),
            "arn:aws:iam::111111111111:role/AWSCloudFormationStackSetAdministrationRole"
        );
        let ordered: Vec<String> = deployment
            .ordered_regions()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(ordered, ["us-east-1", "eu-west-1"]);
        assert_eq!(
            deployment.code_bucket(&Region::parse("eu-west-1").unwrap()),
            "fanin-code-111111111111-eu-west-1"
        );
    }

    #[test]
    fn service_managed_example_parses() {
        let deployment = parse(SERVICE_MANAGED);
        deployment.validate().unwrap();
        assert_eq!(deployment.call_as, CallAs::DelegatedAdmin);
        assert_eq!(
            deployment.operation_preferences.region_concurrency_type,
            RegionConcurrency::Sequential
        );
        assert_eq!(
            deployment.operation_preferences.concurrency_mode,
            Some(ConcurrencyMode::SoftFailureTolerance)
        );
    }

    #[test]
    fn malformed_ids_are_rejected_while_parsing() {
        for (field, bad) in [
            ("\"111111111111\"", "\"11111111111\""),
            ("\"eu-west-1\"", "\"eu west 1\""),
        ] {
            let text = SELF_MANAGED.replacen(field, bad, 1);
            assert!(serde_json::from_str::<Deployment>(&text).is_err(), "{bad}");
        }
        let unknown = SELF_MANAGED.replace("\"Comment\"", "\"Coment\"");
        assert!(serde_json::from_str::<Deployment>(&unknown).is_err());
    }

    #[test]
    fn validation_reports_every_problem() {
        let mut deployment = parse(SELF_MANAGED);
        deployment.organization_id = "o-x".into();
        deployment.code_bucket_prefix = "Fanin_Code".into();
        deployment.regions = vec![Region::parse("eu-west-1").unwrap()];
        deployment
            .application_targets
            .accounts
            .push(AccountId::parse("222222222222").unwrap());
        deployment.outputs_role_name = "bad role".into();
        let text = problems(&deployment);
        for expected in [
            "OrganizationId",
            "CodeBucketPrefix",
            "PrimaryRegion",
            "central account",
            "OutputsRoleName",
        ] {
            assert!(text.contains(expected), "{expected} missing in {text}");
        }
    }

    #[test]
    fn models_do_not_mix_targets() {
        let mut deployment = parse(SELF_MANAGED);
        deployment.application_targets.organizational_unit_ids = vec!["ou-ab12-11111111".into()];
        assert!(problems(&deployment).contains("SERVICE_MANAGED"));

        let mut deployment = parse(SERVICE_MANAGED);
        deployment.central_organizational_unit_id = None;
        deployment
            .application_targets
            .organizational_unit_ids
            .push("ou-bad".into());
        let text = problems(&deployment);
        assert!(
            text.contains("CentralOrganizationalUnitId is required"),
            "{text}"
        );
        assert!(text.contains("\"ou-bad\""), "{text}");
    }

    #[test]
    fn service_managed_cannot_target_the_management_account() {
        let mut deployment = parse(SERVICE_MANAGED);
        deployment.call_as = CallAs::Myself;
        deployment.central_account_id = deployment.administrator_account_id.clone();
        assert!(problems(&deployment).contains("management account"));
    }

    #[test]
    fn parameter_files_may_not_set_derived_or_diverging_values() {
        let mut deployment = parse(SELF_MANAGED);
        deployment.parameters.insert(
            StackSetName::CentralPrimary,
            vec![
                Parameter::new("QueueName", "fanin-findings"),
                Parameter::new("ExternalId", "0123456789abcdef"),
            ],
        );
        deployment.parameters.insert(
            StackSetName::CentralRegional,
            vec![
                Parameter::new("QueueName", "other"),
                Parameter::new("TopicName", "t"),
                Parameter::new("TopicName", "t"),
                Parameter::new("Bad Key", "x"),
            ],
        );
        let text = problems(&deployment);
        assert!(text.contains("ExternalId is set by fanin-deploy"), "{text}");
        assert!(text.contains("QueueName differs"), "{text}");
        assert!(text.contains("TopicName is set twice"), "{text}");
        assert!(
            text.contains("not a CloudFormation parameter name"),
            "{text}"
        );
        assert!(!text.contains("0123456789abcdef"));
    }

    #[test]
    fn the_example_files_in_the_repository_load() {
        let stacksets = Path::new(env!("CARGO_MANIFEST_DIR")).join("../stacksets");
        for model in ["self-managed", "service-managed"] {
            let deployment = Deployment::load(&stacksets.join(model).join("deployment.json"))
                .unwrap_or_else(|e| panic!("{model}: {e}"));
            assert_eq!(deployment.parameters.len(), StackSetName::ALL.len());
            assert!(
                deployment
                    .templates_directory
                    .join(StackSetName::CentralPrimary.template_file())
                    .is_file(),
                "{model}: TemplatesDirectory does not lead to cloudformation/"
            );
            assert_eq!(
                deployment.guard_policy.canonicalize().unwrap(),
                stacksets
                    .join("../policies/guard.yaml")
                    .canonicalize()
                    .unwrap(),
                "{model}: the default GuardPolicy is policies/guard.yaml"
            );
            crate::guard_policy::load(&deployment.guard_policy)
                .unwrap_or_else(|e| panic!("{model}: {e}"));
        }
    }

    #[test]
    fn guard_policy_is_resolved_against_the_deployment_file() {
        let dir = std::env::temp_dir().join(format!("fanin-deploy-policy-{}", std::process::id()));
        let model = dir.join("model");
        std::fs::create_dir_all(model.join("parameters")).unwrap();
        for name in StackSetName::ALL {
            std::fs::write(
                model
                    .join("parameters")
                    .join(format!("{}.json", name.as_str())),
                "[]",
            )
            .unwrap();
        }
        let with_policy = SELF_MANAGED.replacen(
            "\"Comment\"",
            "\"GuardPolicy\": \"../policies/strict.yaml\", \"Comment\"",
            1,
        );
        let path = model.join("deployment.json");
        std::fs::write(&path, with_policy).unwrap();
        let deployment = Deployment::load(&path).unwrap();
        assert_eq!(
            deployment.guard_policy,
            model.join("../policies/strict.yaml")
        );

        std::fs::write(&path, SELF_MANAGED).unwrap();
        let deployment = Deployment::load(&path).unwrap();
        assert_eq!(
            deployment.guard_policy,
            model.join("../../policies/guard.yaml")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ids_follow_the_organizations_patterns() {
        assert!(is_organization_id("o-exampleorg1"));
        assert!(!is_organization_id("o-short"));
        assert!(!is_organization_id("o-UPPERCASE123"));
        assert!(is_organizational_unit_id("ou-ab12-cdef3456"));
        assert!(is_organizational_unit_id("r-ab12"));
        assert!(!is_organizational_unit_id("ou-ab12-cdef"));
        assert!(!is_organizational_unit_id("ou-ab12cdef3456"));
        assert!(!is_organizational_unit_id("ou-AB12-cdef3456"));
    }

    #[test]
    fn bucket_prefix_leaves_room_for_the_region() {
        assert!(check_code_bucket_prefix("fanin-code", Some(9)).is_ok());
        assert!(check_code_bucket_prefix(&"a".repeat(42), Some(9)).is_ok());
        assert!(check_code_bucket_prefix(&"a".repeat(43), Some(9)).is_err());
        assert!(check_code_bucket_prefix(&"a".repeat(40), Some(22)).is_ok());
        assert!(check_code_bucket_prefix(&"a".repeat(41), Some(22)).is_err());
        for bad in ["ab", "-fanin", "fanin-", "fanin.code", "Fanin", "xn--fanin"] {
            assert!(check_code_bucket_prefix(bad, Some(9)).is_err(), "{bad}");
        }
    }

    #[test]
    fn external_id_is_checked_and_never_shown() {
        assert!(ExternalId::parse("0123456789abcdef").is_ok());
        let short = ExternalId::parse("secret-short").unwrap_err().to_string();
        assert!(short.contains("at least 16"), "{short}");
        assert!(!short.contains("secret-short"));
        let bad = ExternalId::parse("0123456789abcdef secret")
            .unwrap_err()
            .to_string();
        assert!(!bad.contains("secret"), "{bad}");
        let id = ExternalId::parse("0123456789abcdef").unwrap();
        assert_eq!(format!("{id:?}"), "ExternalId(<redacted>)");
    }

    #[test]
    fn partitions_follow_region_names() {
        let partition = |name: &str| partition_of(&Region::parse(name).unwrap());
        assert_eq!(partition("eu-west-1"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
    }
}
