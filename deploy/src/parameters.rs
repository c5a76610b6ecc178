//! The complete parameter list of each StackSet: the parameter file's values
//! plus the ones fanin-deploy derives (accounts, regions, code keys,
//! ExternalId), limited to what the template declares.
//!
//! The list is always complete and explicit, never "use previous value":
//! real AWS merges stack set parameters with instance overrides, moto only
//! uses what it is given, and a complete list means the same in both.

use std::collections::BTreeMap;

use crate::deployment::{Deployment, ExternalId, Parameter};
use crate::package::Artifacts;
use crate::plan::StackSetName;
use crate::upload::CodeVersions;

/// The S3 version of the collector zip in the function's region.
pub const COLLECTOR_CODE_VERSION: &str = "CollectorCodeVersion";
/// The S3 version of the forwarder zip in the function's region.
pub const FORWARDER_CODE_VERSION: &str = "ForwarderCodeVersion";
/// The S3 version of the guard zip in the function's region.
pub const GUARD_CODE_VERSION: &str = "GuardCodeVersion";
/// The S3 version of the guard's policy object in the function's region.
pub const GUARD_POLICY_VERSION: &str = "GuardPolicyVersion";
/// The S3 version of the exposure zip in the function's region.
pub const EXPOSURE_CODE_VERSION: &str = "ExposureCodeVersion";
/// The S3 version of the privileges zip in the function's region.
pub const PRIVILEGES_CODE_VERSION: &str = "PrivilegesCodeVersion";
/// Every parameter whose value is a version id of one region's code bucket.
const VERSION_PARAMETERS: [&str; 6] = [
    COLLECTOR_CODE_VERSION,
    FORWARDER_CODE_VERSION,
    GUARD_CODE_VERSION,
    GUARD_POLICY_VERSION,
    EXPOSURE_CODE_VERSION,
    PRIVILEGES_CODE_VERSION,
];
/// What the version parameters hold until the upload has told the real
/// ones; no StackSet call is made with it ([`has_pending_versions`]).
const PENDING_UPLOAD: &str = "pending-upload";
/// The OpenSearch endpoint central-primary's collector writes to, for the
/// exposure and privileges functions (central-exposure.yaml,
/// central-privileges.yaml): known once central-primary is
/// deployed ([`central_search_endpoint`], [`with_central_search_endpoint`]).
pub const CENTRAL_OPENSEARCH_ENDPOINT: &str = "CentralOpenSearchEndpoint";
/// What it holds until then; no StackSet call is made with it.
const PENDING_CENTRAL_PRIMARY: &str = "pending-central-primary";

/// A parameter the template declares (from `GetTemplateSummary`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredParameter {
    pub key: String,
    pub has_default: bool,
}

/// The values fanin-deploy sets itself; each goes only to templates that
/// declare it.
pub fn derived_parameters(
    deployment: &Deployment,
    artifacts: &Artifacts,
    external_id: &ExternalId,
) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("OrganizationId", deployment.organization_id.clone()),
        (
            "CentralAccountId",
            deployment.central_account_id.to_string(),
        ),
        ("PrimaryRegion", deployment.primary_region.to_string()),
        ("CodeBucketPrefix", deployment.code_bucket_prefix.clone()),
        ("CollectorCodeKey", artifacts.collector_key()),
        ("ForwarderCodeKey", artifacts.forwarder_key()),
        ("CoverageCodeKey", artifacts.coverage_key()),
        ("GuardCodeKey", artifacts.guard_key()),
        ("GuardPolicyKey", artifacts.guard_policy_key()),
        ("ExposureCodeKey", artifacts.exposure_key()),
        ("PrivilegesCodeKey", artifacts.privileges_key()),
        (
            "Regions",
            deployment
                .regions
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join(","),
        ),
        ("ExternalId", external_id.expose().to_owned()),
        (COLLECTOR_CODE_VERSION, PENDING_UPLOAD.to_owned()),
        (FORWARDER_CODE_VERSION, PENDING_UPLOAD.to_owned()),
        (GUARD_CODE_VERSION, PENDING_UPLOAD.to_owned()),
        (GUARD_POLICY_VERSION, PENDING_UPLOAD.to_owned()),
        (EXPOSURE_CODE_VERSION, PENDING_UPLOAD.to_owned()),
        (PRIVILEGES_CODE_VERSION, PENDING_UPLOAD.to_owned()),
        (
            CENTRAL_OPENSEARCH_ENDPOINT,
            PENDING_CENTRAL_PRIMARY.to_owned(),
        ),
    ])
}

/// Whether `parameters` declares a code or policy version (its values then
/// depend on the region: each region's code bucket has its own version ids).
pub fn declares_code_versions(parameters: &[Parameter]) -> bool {
    parameters
        .iter()
        .any(|p| VERSION_PARAMETERS.contains(&p.parameter_key.as_str()))
}

/// The endpoint central-primary's parameters give when it uses an existing
/// domain or collection (`OpenSearchMode` `existing`); `None` in create
/// mode, where only its `OpenSearchEndpoint` output knows the domain's.
pub fn central_search_endpoint(central_primary: &[Parameter]) -> Option<&str> {
    let value = |key: &str| {
        central_primary
            .iter()
            .find(|p| p.parameter_key == key)
            .map(|p| p.parameter_value.as_str())
    };
    match value("OpenSearchMode") {
        Some("existing") => value("OpenSearchEndpoint").filter(|v| !v.is_empty()),
        _ => None,
    }
}

/// Whether `parameters` still wait for central-primary's endpoint.
pub fn has_pending_search_endpoint(parameters: &[Parameter]) -> bool {
    parameters.iter().any(|p| {
        p.parameter_key == CENTRAL_OPENSEARCH_ENDPOINT
            && p.parameter_value == PENDING_CENTRAL_PRIMARY
    })
}

/// `parameters` with central-primary's endpoint.
pub fn with_central_search_endpoint(parameters: &[Parameter], endpoint: &str) -> Vec<Parameter> {
    parameters
        .iter()
        .map(|p| match p.parameter_key.as_str() {
            CENTRAL_OPENSEARCH_ENDPOINT => Parameter::new(CENTRAL_OPENSEARCH_ENDPOINT, endpoint),
            _ => p.clone(),
        })
        .collect()
}

/// Whether a version parameter still waits for the upload.
pub fn has_pending_versions(parameters: &[Parameter]) -> bool {
    parameters.iter().any(|p| {
        VERSION_PARAMETERS.contains(&p.parameter_key.as_str())
            && p.parameter_value == PENDING_UPLOAD
    })
}

/// `parameters` with the code and policy versions of one region's bucket.
pub fn with_code_versions(parameters: &[Parameter], versions: &CodeVersions) -> Vec<Parameter> {
    parameters
        .iter()
        .map(|p| {
            let version = match p.parameter_key.as_str() {
                COLLECTOR_CODE_VERSION => &versions.collector,
                FORWARDER_CODE_VERSION => &versions.forwarder,
                GUARD_CODE_VERSION => &versions.guard,
                GUARD_POLICY_VERSION => &versions.guard_policy,
                EXPOSURE_CODE_VERSION => &versions.exposure,
                PRIVILEGES_CODE_VERSION => &versions.privileges,
                _ => return p.clone(),
            };
            Parameter::new(p.parameter_key.clone(), version.clone())
        })
        .collect()
}

/// Merges the file's values and the derived ones in the template's order.
/// Problems name keys, never values (ExternalId is one of them).
pub fn resolve_parameters(
    name: StackSetName,
    declared: &[DeclaredParameter],
    from_file: &[Parameter],
    derived: &BTreeMap<&'static str, String>,
) -> Result<Vec<Parameter>, Vec<String>> {
    let mut problems = Vec::new();
    for parameter in from_file {
        if !declared.iter().any(|d| d.key == parameter.parameter_key) {
            problems.push(format!(
                "parameters/{name}.json sets {}, which {} does not declare",
                parameter.parameter_key,
                name.template_file()
            ));
        }
    }
    let mut resolved = Vec::new();
    for declaration in declared {
        let key = declaration.key.as_str();
        if let Some(value) = derived.get(key) {
            resolved.push(Parameter::new(key, value.clone()));
        } else if let Some(parameter) = from_file.iter().find(|p| p.parameter_key == key) {
            resolved.push(parameter.clone());
        } else if !declaration.has_default {
            problems.push(format!(
                "{} requires {key}: set it in parameters/{name}.json",
                name.template_file()
            ));
        }
    }
    if problems.is_empty() {
        Ok(resolved)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(key: &str, has_default: bool) -> DeclaredParameter {
        DeclaredParameter {
            key: key.into(),
            has_default,
        }
    }

    fn derived() -> BTreeMap<&'static str, String> {
        BTreeMap::from([
            ("CentralAccountId", "222222222222".to_owned()),
            ("ExternalId", "very-secret-external-id".to_owned()),
        ])
    }

    #[test]
    fn code_versions_replace_the_pending_values_per_region() {
        let declared = [
            declared("ForwarderCodeVersion", false),
            declared("BusName", true),
        ];
        let mut derived = derived();
        derived.insert(FORWARDER_CODE_VERSION, PENDING_UPLOAD.to_owned());
        let resolved = resolve_parameters(
            StackSetName::ApplicationRegional,
            &declared,
            &[Parameter::new("BusName", "fanin-findings")],
            &derived,
        )
        .unwrap();
        assert!(declares_code_versions(&resolved));
        assert!(has_pending_versions(&resolved));
        let versions = CodeVersions {
            collector: "c-1".into(),
            forwarder: "f-eu".into(),
            guard: "g-eu".into(),
            guard_policy: "p-eu".into(),
            exposure: "e-eu".into(),
            privileges: "v-eu".into(),
        };
        let regional = with_code_versions(&resolved, &versions);
        assert!(!has_pending_versions(&regional));
        assert_eq!(
            regional,
            [
                Parameter::new("ForwarderCodeVersion", "f-eu"),
                Parameter::new("BusName", "fanin-findings"),
            ]
        );
        assert!(!declares_code_versions(&regional[1..]));
    }

    #[test]
    fn the_guard_gets_its_code_and_policy_keys_and_each_regions_versions() {
        let artifact = |sha256: &str| crate::package::Artifact {
            path: "x".into(),
            sha256: sha256.repeat(64),
        };
        let artifacts = Artifacts {
            collector: artifact("1"),
            forwarder: artifact("2"),
            coverage: artifact("3"),
            guard: artifact("4"),
            exposure: artifact("6"),
            privileges: artifact("7"),
            guard_policy: artifact("5"),
        };
        let deployment = crate::deployment::fixtures::self_managed();
        let external_id = ExternalId::parse("0123456789abcdef").unwrap();
        let derived = derived_parameters(&deployment, &artifacts, &external_id);
        assert_eq!(
            derived["GuardCodeKey"],
            format!("fanin/{}/guard.zip", "4".repeat(64))
        );
        assert_eq!(
            derived["GuardPolicyKey"],
            format!("fanin/{}/guard-policy.yaml", "5".repeat(64))
        );

        let declared = [
            declared("GuardCodeKey", false),
            declared("GuardCodeVersion", false),
            declared("GuardPolicyKey", false),
            declared("GuardPolicyVersion", false),
            declared("GuardRemediation", true),
        ];
        let file = [Parameter::new("GuardRemediation", "false")];
        let resolved = resolve_parameters(
            StackSetName::ApplicationRegional,
            &declared,
            &file,
            &derived,
        )
        .unwrap();
        assert!(declares_code_versions(&resolved));
        assert!(has_pending_versions(&resolved));
        let versions = CodeVersions {
            collector: "c-eu".into(),
            forwarder: "f-eu".into(),
            guard: "g-eu".into(),
            guard_policy: "p-eu".into(),
            exposure: "e-eu".into(),
            privileges: "v-eu".into(),
        };
        let regional = with_code_versions(&resolved, &versions);
        assert!(!has_pending_versions(&regional));
        assert_eq!(
            regional,
            [
                Parameter::new("GuardCodeKey", derived["GuardCodeKey"].clone()),
                Parameter::new("GuardCodeVersion", "g-eu"),
                Parameter::new("GuardPolicyKey", derived["GuardPolicyKey"].clone()),
                Parameter::new("GuardPolicyVersion", "p-eu"),
                Parameter::new("GuardRemediation", "false"),
            ]
        );
        // A policy version alone still makes the parameters regional.
        assert!(declares_code_versions(&regional[3..4]));
    }

    #[test]
    fn the_privileges_stack_gets_its_code_key_its_regions_version_and_the_endpoint() {
        let artifact = |sha256: &str| crate::package::Artifact {
            path: "x".into(),
            sha256: sha256.repeat(64),
        };
        let artifacts = Artifacts {
            collector: artifact("1"),
            forwarder: artifact("2"),
            coverage: artifact("3"),
            guard: artifact("4"),
            exposure: artifact("6"),
            privileges: artifact("7"),
            guard_policy: artifact("5"),
        };
        let deployment = crate::deployment::fixtures::self_managed();
        let external_id = ExternalId::parse("0123456789abcdef").unwrap();
        let derived = derived_parameters(&deployment, &artifacts, &external_id);
        assert_eq!(
            derived["PrivilegesCodeKey"],
            format!("fanin/{}/privileges.zip", "7".repeat(64))
        );

        let declared = [
            declared("PrivilegesCodeKey", false),
            declared(PRIVILEGES_CODE_VERSION, false),
            declared(CENTRAL_OPENSEARCH_ENDPOINT, false),
            declared("ExternalId", false),
            declared("PrivilegesWindowDays", true),
        ];
        let file = [Parameter::new("PrivilegesWindowDays", "90")];
        let resolved =
            resolve_parameters(StackSetName::CentralPrivileges, &declared, &file, &derived)
                .unwrap();
        assert!(declares_code_versions(&resolved));
        assert!(has_pending_versions(&resolved));
        assert!(has_pending_search_endpoint(&resolved));
        let versions = CodeVersions {
            collector: "c-1".into(),
            forwarder: "f-1".into(),
            guard: "g-1".into(),
            guard_policy: "p-1".into(),
            exposure: "e-1".into(),
            privileges: "v-1".into(),
        };
        let ready = with_central_search_endpoint(
            &with_code_versions(&resolved, &versions),
            "https://search.example.com",
        );
        assert!(!has_pending_versions(&ready));
        assert!(!has_pending_search_endpoint(&ready));
        assert_eq!(
            ready,
            [
                Parameter::new("PrivilegesCodeKey", derived["PrivilegesCodeKey"].clone()),
                Parameter::new(PRIVILEGES_CODE_VERSION, "v-1"),
                Parameter::new(CENTRAL_OPENSEARCH_ENDPOINT, "https://search.example.com"),
                Parameter::new("ExternalId", "0123456789abcdef"),
                Parameter::new("PrivilegesWindowDays", "90"),
            ]
        );
    }

    #[test]
    fn the_exposure_gets_the_endpoint_central_primary_writes_to() {
        let existing = [
            Parameter::new("OpenSearchMode", "existing"),
            Parameter::new("OpenSearchEndpoint", "https://search.example.com"),
        ];
        assert_eq!(
            central_search_endpoint(&existing),
            Some("https://search.example.com")
        );
        // Create mode (explicit or the default): only the output knows it.
        assert_eq!(
            central_search_endpoint(&[Parameter::new("OpenSearchMode", "create")]),
            None
        );
        assert_eq!(central_search_endpoint(&[]), None);

        let declared = [
            declared(CENTRAL_OPENSEARCH_ENDPOINT, false),
            declared("OpenSearchEndpoint", true),
            declared("BusName", true),
        ];
        let mut derived = derived();
        derived.insert(
            CENTRAL_OPENSEARCH_ENDPOINT,
            PENDING_CENTRAL_PRIMARY.to_owned(),
        );
        let resolved = resolve_parameters(
            StackSetName::CentralExposure,
            &declared,
            &[Parameter::new("BusName", "fanin-findings")],
            &derived,
        )
        .unwrap();
        assert!(has_pending_search_endpoint(&resolved));
        let ready = with_central_search_endpoint(&resolved, "https://search.example.com");
        assert!(!has_pending_search_endpoint(&ready));
        assert_eq!(
            ready,
            [
                Parameter::new(CENTRAL_OPENSEARCH_ENDPOINT, "https://search.example.com"),
                Parameter::new("BusName", "fanin-findings"),
            ]
        );
    }

    #[test]
    fn derived_values_go_only_where_declared() {
        let declared = [
            declared("CentralAccountId", false),
            declared("BusName", true),
            declared("QueueName", true),
        ];
        let file = [Parameter::new("BusName", "fanin-findings")];
        let resolved = resolve_parameters(
            StackSetName::ApplicationGlobal,
            &declared,
            &file,
            &derived(),
        )
        .unwrap();
        assert_eq!(
            resolved,
            [
                Parameter::new("CentralAccountId", "222222222222"),
                Parameter::new("BusName", "fanin-findings"),
            ]
        );
    }

    #[test]
    fn unknown_and_missing_keys_are_reported_without_values() {
        let declared = [declared("ExternalId", false), declared("AlarmEmail", false)];
        let file = [Parameter::new("QueueNmae", "typo")];
        let problems =
            resolve_parameters(StackSetName::CentralPrimary, &declared, &file, &derived())
                .unwrap_err()
                .join("\n");
        assert!(problems.contains("sets QueueNmae, which central-primary.yaml does not declare"));
        assert!(problems.contains("central-primary.yaml requires AlarmEmail"));
        assert!(!problems.contains("very-secret"));
    }
}
