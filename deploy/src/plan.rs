//! The seven StackSets in the order they must go out, where each one goes, and
//! which instances a run must create or delete. Pure: no AWS calls here.
//!
//! Order: the code buckets first (the Lambdas read their zips from them), then
//! the central account's primary region (queue, bus, collector role) that
//! the regional topics subscribe to and the application roles and rules
//! point at, then the unused-exposure and least-privilege functions beside
//! it (their roles must exist before the application accounts' read roles
//! trust them), then the central regions, then the application accounts.

use std::collections::{BTreeMap, BTreeSet};

use fanin::ids::{AccountId, Region};
use serde::Serialize;

use crate::deployment::{AutoDeployment, CallAs, Deployment, Parameter, PermissionModel};

/// The StackSets of `cloudformation/README.md`, ordered as they deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(into = "&'static str")]
pub enum StackSetName {
    Artifacts,
    CentralPrimary,
    CentralExposure,
    CentralPrivileges,
    CentralRegional,
    ApplicationGlobal,
    ApplicationRegional,
}

impl StackSetName {
    /// Deployment order; removal runs it backwards.
    pub const ALL: [StackSetName; 7] = [
        Self::Artifacts,
        Self::CentralPrimary,
        Self::CentralExposure,
        Self::CentralPrivileges,
        Self::CentralRegional,
        Self::ApplicationGlobal,
        Self::ApplicationRegional,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Artifacts => "fanin-artifacts",
            Self::CentralPrimary => "fanin-central-primary",
            Self::CentralExposure => "fanin-central-exposure",
            Self::CentralPrivileges => "fanin-central-privileges",
            Self::CentralRegional => "fanin-central-regional",
            Self::ApplicationGlobal => "fanin-application-global",
            Self::ApplicationRegional => "fanin-application-regional",
        }
    }

    /// The template under `cloudformation/`.
    pub fn template_file(self) -> &'static str {
        match self {
            Self::Artifacts => "artifacts.yaml",
            Self::CentralPrimary => "central-primary.yaml",
            Self::CentralExposure => "central-exposure.yaml",
            Self::CentralPrivileges => "central-privileges.yaml",
            Self::CentralRegional => "central-regional.yaml",
            Self::ApplicationGlobal => "application-global.yaml",
            Self::ApplicationRegional => "application-regional.yaml",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|name| name.as_str() == raw)
    }
}

impl From<StackSetName> for &'static str {
    fn from(name: StackSetName) -> Self {
        name.as_str()
    }
}

impl std::fmt::Display for StackSetName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountFilterKind {
    /// Only the listed accounts of the OUs.
    Intersection,
    /// Every account of the OUs but the listed ones.
    Difference,
}

/// Who a StackSet's instances are for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Targets {
    /// Self-managed: explicit accounts.
    Accounts(Vec<AccountId>),
    /// Service-managed: OUs, optionally filtered by account.
    OrganizationalUnits {
        ids: Vec<String>,
        filter: Option<(AccountFilterKind, Vec<AccountId>)>,
    },
}

/// One StackSet as this deployment wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackSetPlan {
    pub name: StackSetName,
    pub permission_model: PermissionModel,
    pub call_as: CallAs,
    pub targets: Targets,
    /// Primary region first.
    pub regions: Vec<Region>,
    /// Service-managed only.
    pub auto_deployment: Option<AutoDeployment>,
    /// From the parameter file; fanin-deploy adds the derived ones.
    pub parameters: Vec<Parameter>,
}

/// The StackSets of `deployment`, in deployment order.
pub fn plan(deployment: &Deployment) -> Vec<StackSetPlan> {
    let all_regions = deployment.ordered_regions();
    let primary_only = vec![deployment.primary_region.clone()];
    let central = deployment.central_account_id.clone();
    StackSetName::ALL
        .into_iter()
        .map(|name| {
            let regions = match name {
                StackSetName::CentralPrimary
                | StackSetName::CentralExposure
                | StackSetName::CentralPrivileges
                | StackSetName::ApplicationGlobal => primary_only.clone(),
                _ => all_regions.clone(),
            };
            let (permission_model, call_as, targets, auto_deployment) =
                match (name, deployment.permission_model) {
                    // The code buckets live in the deploying account, which a
                    // service-managed StackSet cannot reach when it is the
                    // management account: always self-managed.
                    (StackSetName::Artifacts, _) => (
                        PermissionModel::SelfManaged,
                        CallAs::Myself,
                        Targets::Accounts(vec![deployment.administrator_account_id.clone()]),
                        None,
                    ),
                    (
                        StackSetName::CentralPrimary
                        | StackSetName::CentralExposure
                        | StackSetName::CentralPrivileges
                        | StackSetName::CentralRegional,
                        model,
                    ) => {
                        let targets = match model {
                            PermissionModel::SelfManaged => {
                                Targets::Accounts(vec![central.clone()])
                            }
                            PermissionModel::ServiceManaged => Targets::OrganizationalUnits {
                                ids: deployment
                                    .central_organizational_unit_id
                                    .iter()
                                    .cloned()
                                    .collect(),
                                filter: Some((
                                    AccountFilterKind::Intersection,
                                    vec![central.clone()],
                                )),
                            },
                        };
                        // One fixed account: nothing to deploy automatically.
                        let auto =
                            (model == PermissionModel::ServiceManaged).then_some(AutoDeployment {
                                enabled: false,
                                retain_stacks_on_account_removal: false,
                            });
                        (model, deployment.call_as, targets, auto)
                    }
                    (_, PermissionModel::SelfManaged) => (
                        PermissionModel::SelfManaged,
                        CallAs::Myself,
                        Targets::Accounts(deployment.application_targets.accounts.clone()),
                        None,
                    ),
                    (_, PermissionModel::ServiceManaged) => (
                        PermissionModel::ServiceManaged,
                        deployment.call_as,
                        Targets::OrganizationalUnits {
                            ids: deployment
                                .application_targets
                                .organizational_unit_ids
                                .clone(),
                            filter: Some((AccountFilterKind::Difference, vec![central.clone()])),
                        },
                        Some(
                            deployment
                                .application_targets
                                .auto_deployment
                                .unwrap_or_default(),
                        ),
                    ),
                };
            StackSetPlan {
                name,
                permission_model,
                call_as,
                targets,
                regions,
                auto_deployment,
                parameters: deployment
                    .parameters
                    .get(&name)
                    .cloned()
                    .unwrap_or_default(),
            }
        })
        .collect()
}

/// A stack instance as `ListStackInstances` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingInstance {
    pub account: AccountId,
    pub region: Region,
    pub organizational_unit_id: Option<String>,
    /// In real AWS, the instance stack's ARN in the target account.
    pub stack_id: Option<String>,
    pub status: String,
}

/// One Create/DeleteStackInstances call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRequest {
    pub targets: Targets,
    pub regions: Vec<Region>,
}

/// The instances the plan wants that do not exist yet, as few calls as
/// possible while creating nothing else: accounts (or OUs) that miss the same
/// regions share a call.
pub fn missing_instances(
    plan: &StackSetPlan,
    existing: &[ExistingInstance],
) -> Vec<InstanceRequest> {
    match &plan.targets {
        Targets::Accounts(accounts) => {
            let covered = |account: &AccountId, region: &Region| {
                existing
                    .iter()
                    .any(|i| &i.account == account && &i.region == region)
            };
            account_requests(group_by_missing_regions(plan, accounts, covered))
        }
        Targets::OrganizationalUnits { ids, filter } => {
            // Which accounts of an OU exist is AWS's business: an (OU, region)
            // is covered once any instance reports it (an INTERSECTION filter
            // narrows that to the listed accounts).
            let counts = |instance: &ExistingInstance| match filter {
                Some((AccountFilterKind::Intersection, accounts)) => {
                    accounts.contains(&instance.account)
                }
                _ => true,
            };
            let covered = |ou: &String, region: &Region| {
                existing.iter().any(|i| {
                    i.organizational_unit_id.as_ref() == Some(ou)
                        && &i.region == region
                        && counts(i)
                })
            };
            group_by_missing_regions(plan, ids, covered)
                .into_iter()
                .map(|(regions, ids)| InstanceRequest {
                    targets: Targets::OrganizationalUnits {
                        ids,
                        filter: filter.clone(),
                    },
                    regions,
                })
                .collect()
        }
    }
}

/// One request per group of accounts that share the same regions.
fn account_requests(groups: BTreeMap<Vec<Region>, Vec<AccountId>>) -> Vec<InstanceRequest> {
    groups
        .into_iter()
        .map(|(regions, accounts)| InstanceRequest {
            targets: Targets::Accounts(accounts),
            regions,
        })
        .collect()
}

/// Targets keyed by the plan regions they miss (in plan order); targets
/// missing none are left out.
fn group_by_missing_regions<T: Clone>(
    plan: &StackSetPlan,
    targets: &[T],
    covered: impl Fn(&T, &Region) -> bool,
) -> BTreeMap<Vec<Region>, Vec<T>> {
    let mut by_missing: BTreeMap<Vec<Region>, Vec<T>> = BTreeMap::new();
    for target in targets {
        let missing: Vec<Region> = plan
            .regions
            .iter()
            .filter(|region| !covered(target, region))
            .cloned()
            .collect();
        if !missing.is_empty() {
            by_missing.entry(missing).or_default().push(target.clone());
        }
    }
    by_missing
}

/// The calls that delete every existing instance, and nothing that does not
/// exist (a self-managed account/region pair that is not an instance would
/// fail the whole operation).
pub fn instances_to_delete(
    plan: &StackSetPlan,
    existing: &[ExistingInstance],
) -> Vec<InstanceRequest> {
    if existing.is_empty() {
        return Vec::new();
    }
    let regions_of = |instances: &mut dyn Iterator<Item = &ExistingInstance>| -> Vec<Region> {
        let set: BTreeSet<Region> = instances.map(|i| i.region.clone()).collect();
        set.into_iter().collect()
    };
    match &plan.targets {
        Targets::Accounts(_) => {
            let mut by_regions: BTreeMap<Vec<Region>, Vec<AccountId>> = BTreeMap::new();
            let accounts: BTreeSet<&AccountId> = existing.iter().map(|i| &i.account).collect();
            for account in accounts {
                let regions = regions_of(&mut existing.iter().filter(|i| &i.account == account));
                by_regions.entry(regions).or_default().push(account.clone());
            }
            account_requests(by_regions)
        }
        Targets::OrganizationalUnits { ids, filter } => {
            // The planned OUs plus any an instance reports (an OU dropped from
            // deployment.json since the last deploy still has to go).
            let mut all: BTreeSet<String> = ids.iter().cloned().collect();
            all.extend(
                existing
                    .iter()
                    .filter_map(|i| i.organizational_unit_id.clone()),
            );
            vec![InstanceRequest {
                targets: Targets::OrganizationalUnits {
                    ids: all.into_iter().collect(),
                    filter: filter.clone(),
                },
                regions: regions_of(&mut existing.iter()),
            }]
        }
    }
}

/// Instances the plan does not want (a region or account removed from
/// deployment.json). Reported, never deleted by `deploy`.
pub fn unplanned_instances<'a>(
    plan: &StackSetPlan,
    existing: &'a [ExistingInstance],
) -> Vec<&'a ExistingInstance> {
    existing
        .iter()
        .filter(|i| {
            let account_wanted = match &plan.targets {
                Targets::Accounts(accounts) => accounts.contains(&i.account),
                Targets::OrganizationalUnits { .. } => true,
            };
            !account_wanted || !plan.regions.contains(&i.region)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployment::fixtures::{self_managed, service_managed};

    fn account(id: &str) -> AccountId {
        AccountId::parse(id).unwrap()
    }

    fn region(name: &str) -> Region {
        Region::parse(name).unwrap()
    }

    fn instance(acct: &str, reg: &str, ou: Option<&str>) -> ExistingInstance {
        ExistingInstance {
            account: account(acct),
            region: region(reg),
            organizational_unit_id: ou.map(str::to_owned),
            stack_id: None,
            status: "CURRENT".into(),
        }
    }

    #[test]
    fn stack_sets_go_out_in_dependency_order() {
        let plans = plan(&self_managed());
        let names: Vec<&str> = plans.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "fanin-artifacts",
                "fanin-central-primary",
                "fanin-central-exposure",
                "fanin-central-privileges",
                "fanin-central-regional",
                "fanin-application-global",
                "fanin-application-regional"
            ]
        );
        let regions = |p: &StackSetPlan| -> Vec<String> {
            p.regions.iter().map(ToString::to_string).collect()
        };
        assert_eq!(regions(&plans[0]), ["us-east-1", "eu-west-1"]);
        assert_eq!(regions(&plans[1]), ["us-east-1"]);
        assert_eq!(regions(&plans[2]), ["us-east-1"]);
        assert_eq!(regions(&plans[3]), ["us-east-1"]);
        assert_eq!(regions(&plans[4]), ["us-east-1", "eu-west-1"]);
        assert_eq!(regions(&plans[5]), ["us-east-1"]);
        assert_eq!(regions(&plans[6]), ["us-east-1", "eu-west-1"]);
        assert_eq!(
            plans[0].targets,
            Targets::Accounts(vec![account("111111111111")])
        );
        assert_eq!(
            plans[1].targets,
            Targets::Accounts(vec![account("222222222222")])
        );
        // The exposure function: the central account only, after the
        // primary stack it imports from and before the read roles trust it.
        assert_eq!(plans[2].name, StackSetName::CentralExposure);
        assert_eq!(plans[2].name.template_file(), "central-exposure.yaml");
        assert_eq!(
            plans[2].targets,
            Targets::Accounts(vec![account("222222222222")])
        );
        // The least-privilege function likewise, right after it.
        assert_eq!(plans[3].name, StackSetName::CentralPrivileges);
        assert_eq!(plans[3].name.template_file(), "central-privileges.yaml");
        assert_eq!(
            plans[3].targets,
            Targets::Accounts(vec![account("222222222222")])
        );
        assert_eq!(
            plans[6].targets,
            Targets::Accounts(vec![account("333333333333"), account("444444444444")])
        );
        assert!(plans.iter().all(|p| p.auto_deployment.is_none()));
    }

    #[test]
    fn service_managed_targets_ous_with_account_filters() {
        let plans = plan(&service_managed());
        assert_eq!(plans[0].permission_model, PermissionModel::SelfManaged);
        assert_eq!(
            plans[1].targets,
            Targets::OrganizationalUnits {
                ids: vec!["ou-ab12-00000000".into()],
                filter: Some((
                    AccountFilterKind::Intersection,
                    vec![account("222222222222")]
                )),
            }
        );
        assert_eq!(plans[1].auto_deployment.map(|a| a.enabled), Some(false));
        assert_eq!(plans[2].name, StackSetName::CentralExposure);
        assert_eq!(plans[2].targets, plans[1].targets);
        assert_eq!(plans[2].regions, plans[1].regions);
        assert_eq!(plans[2].auto_deployment.map(|a| a.enabled), Some(false));
        assert_eq!(plans[3].name, StackSetName::CentralPrivileges);
        assert_eq!(plans[3].targets, plans[1].targets);
        assert_eq!(plans[3].regions, plans[1].regions);
        assert_eq!(plans[3].auto_deployment.map(|a| a.enabled), Some(false));
        assert_eq!(
            plans[6].targets,
            Targets::OrganizationalUnits {
                ids: vec!["ou-ab12-11111111".into(), "ou-ab12-22222222".into()],
                filter: Some((AccountFilterKind::Difference, vec![account("222222222222")])),
            }
        );
        assert_eq!(plans[6].auto_deployment, Some(AutoDeployment::default()));
        assert_eq!(plans[6].permission_model, PermissionModel::ServiceManaged);
    }

    #[test]
    fn only_missing_account_regions_are_created() {
        let plans = plan(&self_managed());
        let regional = &plans[6];
        let all = missing_instances(regional, &[]);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].regions, [region("us-east-1"), region("eu-west-1")]);

        let existing = [
            instance("333333333333", "us-east-1", None),
            instance("333333333333", "eu-west-1", None),
            instance("444444444444", "us-east-1", None),
        ];
        let requests = missing_instances(regional, &existing);
        assert_eq!(
            requests,
            [InstanceRequest {
                targets: Targets::Accounts(vec![account("444444444444")]),
                regions: vec![region("eu-west-1")],
            }]
        );
        let complete = [
            existing.to_vec(),
            vec![instance("444444444444", "eu-west-1", None)],
        ]
        .concat();
        assert!(missing_instances(regional, &complete).is_empty());
    }

    #[test]
    fn ou_regions_count_as_covered_once_an_instance_reports_them() {
        let plans = plan(&service_managed());
        let existing = [
            instance("555555555555", "us-east-1", Some("ou-ab12-11111111")),
            instance("555555555555", "eu-west-1", Some("ou-ab12-11111111")),
            instance("666666666666", "us-east-1", Some("ou-ab12-22222222")),
        ];
        let requests = missing_instances(&plans[6], &existing);
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].regions, [region("eu-west-1")]);
        assert!(matches!(
            &requests[0].targets,
            Targets::OrganizationalUnits { ids, .. } if ids == &["ou-ab12-22222222".to_owned()]
        ));

        // Central: another account of the central OU does not count.
        let central = [instance(
            "777777777777",
            "us-east-1",
            Some("ou-ab12-00000000"),
        )];
        assert_eq!(missing_instances(&plans[1], &central).len(), 1);
        let central = [instance(
            "222222222222",
            "us-east-1",
            Some("ou-ab12-00000000"),
        )];
        assert!(missing_instances(&plans[1], &central).is_empty());
    }

    #[test]
    fn deletion_names_only_existing_pairs() {
        let plans = plan(&self_managed());
        let existing = [
            instance("333333333333", "us-east-1", None),
            instance("333333333333", "eu-west-1", None),
            instance("444444444444", "us-east-1", None),
        ];
        let mut requests = instances_to_delete(&plans[6], &existing);
        requests.sort_by_key(|r| r.regions.len());
        assert_eq!(
            requests,
            [
                InstanceRequest {
                    targets: Targets::Accounts(vec![account("444444444444")]),
                    regions: vec![region("us-east-1")],
                },
                InstanceRequest {
                    targets: Targets::Accounts(vec![account("333333333333")]),
                    regions: vec![region("eu-west-1"), region("us-east-1")],
                },
            ]
        );
        assert!(instances_to_delete(&plans[6], &[]).is_empty());

        let plans = plan(&service_managed());
        let existing = [instance(
            "555555555555",
            "eu-west-1",
            Some("ou-ab12-33333333"),
        )];
        let requests = instances_to_delete(&plans[6], &existing);
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].regions, [region("eu-west-1")]);
        assert!(matches!(
            &requests[0].targets,
            Targets::OrganizationalUnits { ids, .. } if ids.len() == 3
        ));
    }

    #[test]
    fn unplanned_instances_are_found() {
        let plans = plan(&self_managed());
        let existing = [
            instance("333333333333", "us-east-1", None),
            instance("999999999999", "us-east-1", None),
            instance("333333333333", "ap-south-1", None),
        ];
        let extra = unplanned_instances(&plans[6], &existing);
        assert_eq!(extra.len(), 2);
    }

    #[test]
    fn names_round_trip() {
        for name in StackSetName::ALL {
            assert_eq!(StackSetName::parse(name.as_str()), Some(name));
        }
        assert_eq!(StackSetName::parse("fanin"), None);
    }
}
