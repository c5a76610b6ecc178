//! The coverage report: observations in, rows and gaps out. Pure.
//!
//! One row per (active, not excluded) account of the organization and
//! configured region. A row has a gap when something fanin needs there is
//! missing or could not be checked; [`GapKind`] names each.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use fanin::ids::{AccountId, Region};
use fanin::ports::CallError;
use serde::Serialize;

use crate::ports::{
    EventCounts, Organization, OrganizationAccount, Presence, TemplateSubscriptions,
};

/// Regions where Inspector Classic exists: the forwarder, the Classic topic
/// and template subscriptions only exist there. The same list as the
/// `InspectorClassic` mapping of `cloudformation/application-regional.yaml`
/// (a test keeps them equal).
pub const CLASSIC_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-southeast-2",
    "eu-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-north-1",
    "us-gov-east-1",
    "us-gov-west-1",
];

pub fn has_inspector_classic(region: &Region) -> bool {
    CLASSIC_REGIONS.contains(&region.as_str())
}

/// What is wrong in one account and region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GapKind {
    /// The collector cannot assume the read role: no Classic details, no
    /// enrichment, and nothing else can be checked there.
    ReadRoleUnusable,
    /// The rule forwarding Inspector2 findings is gone or disabled.
    Inspector2RuleMissing,
    /// The forwarder Lambda is gone: new Classic templates are not subscribed.
    ForwarderMissing,
    /// Classic templates exist and none reports to the central topic.
    ClassicNotSubscribed,
    /// A check failed (throttling, a permission the read role lacks, the
    /// index unreachable): coverage there is unknown.
    CheckFailed,
}

impl GapKind {
    pub const ALL: [GapKind; 5] = [
        GapKind::ReadRoleUnusable,
        GapKind::Inspector2RuleMissing,
        GapKind::ForwarderMissing,
        GapKind::ClassicNotSubscribed,
        GapKind::CheckFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadRoleUnusable => "read_role_unusable",
            Self::Inspector2RuleMissing => "inspector2_rule_missing",
            Self::ForwarderMissing => "forwarder_missing",
            Self::ClassicNotSubscribed => "classic_not_subscribed",
            Self::CheckFailed => "check_failed",
        }
    }
}

/// The outcome of one yes/no check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Check {
    Yes,
    No,
    /// Exists but inactive (a disabled rule).
    Disabled,
    /// Not expected here (no forwarder where Inspector Classic never existed).
    NotApplicable,
    Unknown {
        reason: String,
    },
}

/// The Classic template subscriptions of one account and region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ClassicCheck {
    NotApplicable,
    Checked { templates: usize, subscribed: usize },
    Unknown { reason: String },
}

/// What the checker observed in one account and region. `None`: not looked
/// at (the read role was unusable, or the region has no Inspector Classic).
#[derive(Debug, Clone)]
pub struct RegionObservation {
    pub region: Region,
    pub forwarder: Option<Result<Presence, CallError>>,
    pub inspector2_rule: Option<Result<Presence, CallError>>,
    pub classic: Option<Result<TemplateSubscriptions, CallError>>,
}

/// What the checker observed in one account.
#[derive(Debug, Clone)]
pub struct AccountObservation {
    pub account: OrganizationAccount,
    /// The AssumeRole with the ExternalId.
    pub read_role: Result<(), CallError>,
    pub regions: Vec<RegionObservation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub account: AccountId,
    pub account_name: String,
    pub region: Region,
    /// Inspector2 findings indexed in the window; `None` when the index
    /// could not be asked.
    pub inspector2_events: Option<u64>,
    pub classic: ClassicCheck,
    pub read_role: Check,
    pub forwarder: Check,
    pub inspector2_rule: Check,
    pub gaps: Vec<GapKind>,
}

impl Row {
    pub fn has_gap(&self) -> bool {
        !self.gaps.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub generated_at: DateTime<Utc>,
    pub hours: u32,
    pub organization_id: String,
    pub rows: Vec<Row>,
    /// Accounts listed but not checked on purpose (configuration).
    pub excluded_accounts: Vec<AccountId>,
    /// Accounts not ACTIVE (suspended, closing): not checked.
    pub inactive_accounts: Vec<AccountId>,
    /// Why the event counts are unknown, when they are.
    pub events_error: Option<String>,
}

impl Report {
    pub fn rows_with_gaps(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| r.has_gap())
    }

    /// Account-regions with `kind` among their gaps.
    pub fn count(&self, kind: GapKind) -> usize {
        self.rows.iter().filter(|r| r.gaps.contains(&kind)).count()
    }
}

/// The accounts the checker must look at: active and not excluded, in
/// account order.
pub fn accounts_to_check<'a>(
    organization: &'a Organization,
    excluded: &BTreeSet<AccountId>,
) -> Vec<&'a OrganizationAccount> {
    let mut accounts: Vec<_> = organization
        .accounts
        .iter()
        .filter(|a| a.is_active() && !excluded.contains(&a.id))
        .collect();
    accounts.sort_by(|a, b| a.id.cmp(&b.id));
    accounts
}

/// Builds the report from what was observed.
pub fn build_report(
    generated_at: DateTime<Utc>,
    hours: u32,
    organization: &Organization,
    excluded: &BTreeSet<AccountId>,
    counts: &Result<EventCounts, CallError>,
    observations: &[AccountObservation],
) -> Report {
    let mut rows: Vec<Row> = observations
        .iter()
        .flat_map(|observed| {
            observed
                .regions
                .iter()
                .map(move |region| build_row(observed, region, counts))
        })
        .collect();
    rows.sort_by(|a, b| (&a.account, &a.region).cmp(&(&b.account, &b.region)));
    let mut excluded_accounts: Vec<AccountId> = organization
        .accounts
        .iter()
        .filter(|a| excluded.contains(&a.id))
        .map(|a| a.id.clone())
        .collect();
    excluded_accounts.sort();
    let mut inactive_accounts: Vec<AccountId> = organization
        .accounts
        .iter()
        .filter(|a| !a.is_active() && !excluded.contains(&a.id))
        .map(|a| a.id.clone())
        .collect();
    inactive_accounts.sort();
    Report {
        generated_at,
        hours,
        organization_id: organization.id.clone(),
        rows,
        excluded_accounts,
        inactive_accounts,
        events_error: counts.as_ref().err().map(ToString::to_string),
    }
}

fn build_row(
    observed: &AccountObservation,
    region: &RegionObservation,
    counts: &Result<EventCounts, CallError>,
) -> Row {
    let account = observed.account.id.clone();
    let classic_here = has_inspector_classic(&region.region);
    let inspector2_events = counts.as_ref().ok().map(|counts| {
        counts
            .get(&(account.clone(), region.region.clone()))
            .copied()
            .unwrap_or(0)
    });
    let mut gaps = BTreeSet::new();
    if inspector2_events.is_none() {
        gaps.insert(GapKind::CheckFailed);
    }
    let read_role = match &observed.read_role {
        Ok(()) => Check::Yes,
        Err(error) if error.is_transient() => Check::Unknown {
            reason: reason(error),
        },
        Err(_) => Check::No,
    };
    let (forwarder, inspector2_rule, classic) = if read_role == Check::Yes {
        let forwarder = if classic_here {
            presence_check(region.forwarder.as_ref())
        } else {
            Check::NotApplicable
        };
        let classic = if classic_here {
            match region.classic.as_ref() {
                Some(Ok(t)) => ClassicCheck::Checked {
                    templates: t.templates,
                    subscribed: t.subscribed,
                },
                Some(Err(error)) => ClassicCheck::Unknown {
                    reason: reason(error),
                },
                None => ClassicCheck::Unknown {
                    reason: "not checked".into(),
                },
            }
        } else {
            ClassicCheck::NotApplicable
        };
        (
            forwarder,
            presence_check(region.inspector2_rule.as_ref()),
            classic,
        )
    } else {
        let unknown = || Check::Unknown {
            reason: "read role unusable".into(),
        };
        let classic = if classic_here {
            ClassicCheck::Unknown {
                reason: "read role unusable".into(),
            }
        } else {
            ClassicCheck::NotApplicable
        };
        let forwarder = if classic_here {
            unknown()
        } else {
            Check::NotApplicable
        };
        (forwarder, unknown(), classic)
    };
    match &read_role {
        Check::No => {
            gaps.insert(GapKind::ReadRoleUnusable);
        }
        Check::Unknown { .. } => {
            gaps.insert(GapKind::CheckFailed);
        }
        _ => {}
    }
    if read_role == Check::Yes {
        match &forwarder {
            Check::No | Check::Disabled => {
                gaps.insert(GapKind::ForwarderMissing);
            }
            Check::Unknown { .. } => {
                gaps.insert(GapKind::CheckFailed);
            }
            _ => {}
        }
        match &inspector2_rule {
            Check::No | Check::Disabled => {
                gaps.insert(GapKind::Inspector2RuleMissing);
            }
            Check::Unknown { .. } => {
                gaps.insert(GapKind::CheckFailed);
            }
            _ => {}
        }
        match &classic {
            ClassicCheck::Checked {
                templates,
                subscribed,
            } if *templates > 0 && *subscribed == 0 => {
                gaps.insert(GapKind::ClassicNotSubscribed);
            }
            ClassicCheck::Unknown { .. } => {
                gaps.insert(GapKind::CheckFailed);
            }
            _ => {}
        }
    }
    Row {
        account,
        account_name: fanin::ids::truncate_for_message(&observed.account.name),
        region: region.region.clone(),
        inspector2_events,
        classic,
        read_role,
        forwarder,
        inspector2_rule,
        gaps: gaps.into_iter().collect(),
    }
}

fn presence_check(observed: Option<&Result<Presence, CallError>>) -> Check {
    match observed {
        Some(Ok(Presence::Present)) => Check::Yes,
        Some(Ok(Presence::Disabled)) => Check::Disabled,
        Some(Ok(Presence::Missing)) => Check::No,
        Some(Err(error)) => Check::Unknown {
            reason: reason(error),
        },
        None => Check::Unknown {
            reason: "not checked".into(),
        },
    }
}

/// The error as a short, single-line reason (codes kept, outside text capped).
fn reason(error: &CallError) -> String {
    fanin::ids::truncate_for_message(&error.to_string())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn account(id: &str, status: &str) -> OrganizationAccount {
        OrganizationAccount {
            id: AccountId::parse(id).unwrap(),
            status: status.into(),
            name: format!("name-{id}"),
        }
    }

    fn region(name: &str) -> Region {
        Region::parse(name).unwrap()
    }

    fn healthy(name: &str) -> RegionObservation {
        RegionObservation {
            region: region(name),
            forwarder: has_inspector_classic(&region(name)).then_some(Ok(Presence::Present)),
            inspector2_rule: Some(Ok(Presence::Present)),
            classic: has_inspector_classic(&region(name)).then_some(Ok(TemplateSubscriptions {
                templates: 1,
                subscribed: 1,
            })),
        }
    }

    fn denied() -> CallError {
        CallError::Denied {
            operation: "AssumeRole",
            code: "AccessDenied".into(),
            message: "not authorized".into(),
        }
    }

    fn organization() -> Organization {
        Organization {
            id: "o-abcdefghij".into(),
            accounts: vec![
                account("222222222222", "ACTIVE"),
                account("111111111111", "ACTIVE"),
                account("333333333333", "SUSPENDED"),
                account("999999999999", "ACTIVE"),
            ],
        }
    }

    fn counts() -> Result<EventCounts, CallError> {
        Ok(BTreeMap::from([(
            (
                AccountId::parse("111111111111").unwrap(),
                region("us-east-1"),
            ),
            7,
        )]))
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-30T05:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn only_active_accounts_outside_the_exclusions_are_checked() {
        let organization = organization();
        let excluded = BTreeSet::from([AccountId::parse("999999999999").unwrap()]);
        let ids: Vec<&str> = accounts_to_check(&organization, &excluded)
            .iter()
            .map(|a| a.id.as_str())
            .collect();
        assert_eq!(ids, ["111111111111", "222222222222"]);
    }

    #[test]
    fn a_healthy_organization_has_no_gap_and_counts_its_events() {
        let organization = organization();
        let excluded = BTreeSet::from([AccountId::parse("999999999999").unwrap()]);
        let observations: Vec<AccountObservation> = accounts_to_check(&organization, &excluded)
            .into_iter()
            .map(|a| AccountObservation {
                account: a.clone(),
                read_role: Ok(()),
                regions: vec![healthy("us-east-1"), healthy("ca-central-1")],
            })
            .collect();
        let report = build_report(
            now(),
            24,
            &organization,
            &excluded,
            &counts(),
            &observations,
        );
        assert_eq!(report.rows.len(), 4);
        assert_eq!(report.rows_with_gaps().count(), 0, "{:#?}", report.rows);
        assert_eq!(report.rows[1].region.as_str(), "us-east-1");
        assert_eq!(report.rows[1].inspector2_events, Some(7));
        assert_eq!(
            report.rows[0].inspector2_events,
            Some(0),
            "no documents: zero"
        );
        assert_eq!(report.rows[0].region.as_str(), "ca-central-1");
        assert_eq!(report.rows[0].forwarder, Check::NotApplicable);
        assert_eq!(report.rows[0].classic, ClassicCheck::NotApplicable);
        assert_eq!(report.excluded_accounts[0].as_str(), "999999999999");
        assert_eq!(report.inactive_accounts[0].as_str(), "333333333333");
    }

    #[test]
    fn each_missing_piece_is_its_own_gap() {
        let organization = organization();
        let excluded = BTreeSet::new();
        let mut broken = healthy("us-east-1");
        broken.inspector2_rule = Some(Ok(Presence::Missing));
        broken.forwarder = Some(Ok(Presence::Missing));
        broken.classic = Some(Ok(TemplateSubscriptions {
            templates: 2,
            subscribed: 0,
        }));
        let mut disabled = healthy("eu-west-1");
        disabled.inspector2_rule = Some(Ok(Presence::Disabled));
        let observations = vec![
            AccountObservation {
                account: account("111111111111", "ACTIVE"),
                read_role: Ok(()),
                regions: vec![broken, disabled],
            },
            AccountObservation {
                account: account("222222222222", "ACTIVE"),
                read_role: Err(denied()),
                regions: vec![RegionObservation {
                    region: region("us-east-1"),
                    forwarder: None,
                    inspector2_rule: None,
                    classic: None,
                }],
            },
        ];
        let report = build_report(
            now(),
            24,
            &organization,
            &excluded,
            &counts(),
            &observations,
        );
        let gaps: Vec<(&str, &str, Vec<GapKind>)> = report
            .rows
            .iter()
            .map(|r| (r.account.as_str(), r.region.as_str(), r.gaps.clone()))
            .collect();
        assert_eq!(
            gaps,
            vec![
                (
                    "111111111111",
                    "eu-west-1",
                    vec![GapKind::Inspector2RuleMissing]
                ),
                (
                    "111111111111",
                    "us-east-1",
                    vec![
                        GapKind::Inspector2RuleMissing,
                        GapKind::ForwarderMissing,
                        GapKind::ClassicNotSubscribed
                    ]
                ),
                ("222222222222", "us-east-1", vec![GapKind::ReadRoleUnusable]),
            ]
        );
        let unusable = &report.rows[2];
        assert_eq!(unusable.read_role, Check::No);
        assert!(matches!(unusable.inspector2_rule, Check::Unknown { .. }));
        assert_eq!(report.count(GapKind::Inspector2RuleMissing), 2);
        assert_eq!(report.count(GapKind::ReadRoleUnusable), 1);
    }

    #[test]
    fn a_partly_subscribed_region_is_shown_not_flagged() {
        // Templates outside the forwarder's tag filter stay unsubscribed on purpose.
        let mut observed = healthy("us-east-1");
        observed.classic = Some(Ok(TemplateSubscriptions {
            templates: 3,
            subscribed: 1,
        }));
        let observations = vec![AccountObservation {
            account: account("111111111111", "ACTIVE"),
            read_role: Ok(()),
            regions: vec![observed],
        }];
        let report = build_report(
            now(),
            24,
            &organization(),
            &BTreeSet::new(),
            &counts(),
            &observations,
        );
        assert!(report.rows[0].gaps.is_empty());
    }

    #[test]
    fn what_cannot_be_checked_is_a_gap_of_its_own() {
        let mut observed = healthy("us-east-1");
        observed.inspector2_rule = Some(Err(CallError::Denied {
            operation: "DescribeRule",
            code: "AccessDeniedException".into(),
            message: "no events:DescribeRule".into(),
        }));
        let throttled = AccountObservation {
            account: account("222222222222", "ACTIVE"),
            read_role: Err(CallError::transient(
                "AssumeRole",
                "Throttling",
                "slow down",
            )),
            regions: vec![healthy("us-east-1")],
        };
        let observations = vec![
            AccountObservation {
                account: account("111111111111", "ACTIVE"),
                read_role: Ok(()),
                regions: vec![observed],
            },
            throttled,
        ];
        let search_down = Err(CallError::transient("Search", "503", "unavailable"));
        let report = build_report(
            now(),
            24,
            &organization(),
            &BTreeSet::new(),
            &search_down,
            &observations,
        );
        for row in &report.rows {
            assert_eq!(row.gaps, vec![GapKind::CheckFailed], "{row:?}");
            assert_eq!(row.inspector2_events, None);
        }
        assert!(report.events_error.as_deref().unwrap().contains("503"));
    }

    #[test]
    fn classic_regions_match_the_regional_template() {
        let template = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../cloudformation/application-regional.yaml"),
        )
        .unwrap();
        let mut from_template: Vec<&str> = template
            .lines()
            .filter(|l| l.contains("{ RulesPackages: \"arn:"))
            .map(|l| l.trim().split(':').next().unwrap())
            .collect();
        from_template.sort();
        let mut ours = CLASSIC_REGIONS.to_vec();
        ours.sort();
        assert_eq!(ours, from_template);
    }
}
