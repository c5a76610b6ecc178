//! One coverage pass: read the organization, count recent events, look at
//! each account through its read role, build the report. The scheduled pass
//! also publishes the metrics, writes the account list and logs each gap.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use aws_credential_types::provider::SharedCredentialsProvider;
use chrono::{DateTime, Utc};
use fanin::aws::s3::S3Objects;
use fanin::aws::sts::StsSessions;
use fanin::ids::{AccountId, Partition, Region};
use fanin::ports::{CallError, ObjectKind, ObjectStore, SessionProvider};
use futures::StreamExt;
use serde::Serialize;
use tracing::{info, warn};

use crate::accounts::{ACCOUNT_LIST_KEY, account_list, encode};
use crate::aws::{OrganizationsDirectory, ReadRoleInspector};
use crate::config::CoverageConfig;
use crate::metrics::{EmbeddedMetrics, metrics_of};
use crate::ports::{
    AccountInspector, EventCounter, MetricSink, Organization, OrganizationAccount,
    OrganizationDirectory,
};
use crate::report::{
    AccountObservation, RegionObservation, Report, accounts_to_check, build_report,
    has_inspector_classic,
};
use crate::search::OpenSearchEvents;

/// Accounts looked at concurrently (each: one AssumeRole, then a few calls
/// per region).
const ACCOUNT_CONCURRENCY: usize = 8;
/// The read-role sessions are used for seconds; STS's minimum is 15 minutes.
const SESSION_DURATION: Duration = Duration::from_secs(900);

#[derive(Debug, Clone)]
pub struct Settings {
    pub regions: Vec<Region>,
    pub partition: Partition,
    pub central_account: AccountId,
    pub topic_name: String,
    pub excluded_accounts: BTreeSet<AccountId>,
    /// The scheduled pass's window.
    pub hours: u32,
}

impl Settings {
    /// The central Inspector Classic topic of `region`.
    pub fn topic_arn(&self, region: &Region) -> String {
        format!(
            "arn:{}:sns:{}:{}:{}",
            self.partition, region, self.central_account, self.topic_name
        )
    }
}

pub struct Ports {
    pub directory: Arc<dyn OrganizationDirectory>,
    pub events: Arc<dyn EventCounter>,
    pub sessions: Arc<dyn SessionProvider>,
    pub inspector: Arc<dyn AccountInspector>,
    pub objects: Arc<dyn ObjectStore>,
    pub metrics: Arc<dyn MetricSink>,
}

pub struct Checker {
    pub settings: Settings,
    pub ports: Ports,
}

/// What the scheduled pass returns (and Lambda logs as its result).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduledSummary {
    pub organization_id: String,
    pub accounts_listed: usize,
    pub account_regions_checked: usize,
    pub account_regions_with_gaps: usize,
}

impl Checker {
    /// The report for the last `hours`, with the organization it covers.
    /// Fails only when the organization cannot be read; every other failure
    /// is a `check_failed` gap in the report.
    pub async fn report(
        &self,
        hours: u32,
        now: DateTime<Utc>,
    ) -> Result<(Organization, Report), CallError> {
        let organization = self.ports.directory.organization().await?;
        let since = now - chrono::Duration::hours(i64::from(hours));
        let accounts = accounts_to_check(&organization, &self.settings.excluded_accounts);
        let observe = futures::stream::iter(accounts)
            .map(|account| self.observe(account))
            .buffered(ACCOUNT_CONCURRENCY)
            .collect::<Vec<_>>();
        let (counts, observations) =
            tokio::join!(self.ports.events.inspector2_counts(since), observe);
        let report = build_report(
            now,
            hours,
            &organization,
            &self.settings.excluded_accounts,
            &counts,
            &observations,
        );
        Ok((organization, report))
    }

    async fn observe(&self, account: &OrganizationAccount) -> AccountObservation {
        let session = match self.ports.sessions.session(&account.id).await {
            Ok(session) => session,
            Err(error) => {
                return AccountObservation {
                    account: account.clone(),
                    read_role: Err(error),
                    regions: self
                        .settings
                        .regions
                        .iter()
                        .map(|region| RegionObservation {
                            region: region.clone(),
                            forwarder: None,
                            inspector2_rule: None,
                            classic: None,
                        })
                        .collect(),
                };
            }
        };
        let mut regions = Vec::new();
        for region in &self.settings.regions {
            let inspector = &self.ports.inspector;
            let topic_arn = self.settings.topic_arn(region);
            let rule = inspector.inspector2_rule(&session, region);
            let (forwarder, classic, rule) = if has_inspector_classic(region) {
                let (forwarder, classic, rule) = tokio::join!(
                    inspector.forwarder(&session, region),
                    inspector.classic_subscriptions(&session, region, &topic_arn),
                    rule
                );
                (Some(forwarder), Some(classic), rule)
            } else {
                (None, None, rule.await)
            };
            regions.push(RegionObservation {
                region: region.clone(),
                forwarder,
                inspector2_rule: Some(rule),
                classic,
            });
        }
        AccountObservation {
            account: account.clone(),
            read_role: Ok(()),
            regions,
        }
    }

    /// The scheduled check: the report over the configured window, its
    /// metrics, one log line per gap, and the account list for the collector.
    pub async fn scheduled(&self, now: DateTime<Utc>) -> Result<ScheduledSummary, CallError> {
        let (organization, report) = self.report(self.settings.hours, now).await?;
        for row in report.rows_with_gaps() {
            for gap in &row.gaps {
                warn!(
                    account_id = %row.account,
                    region = %row.region,
                    gap = gap.as_str(),
                    "coverage gap"
                );
            }
        }
        self.ports.metrics.publish(&metrics_of(&report)).await?;
        let list = account_list(&organization, now);
        self.ports
            .objects
            .put_object(ACCOUNT_LIST_KEY, encode(&list), ObjectKind::Json)
            .await?;
        let summary = ScheduledSummary {
            organization_id: organization.id.clone(),
            accounts_listed: organization.accounts.len(),
            account_regions_checked: report.rows.len(),
            account_regions_with_gaps: report.rows_with_gaps().count(),
        };
        info!(
            accounts = summary.accounts_listed,
            checked = summary.account_regions_checked,
            with_gaps = summary.account_regions_with_gaps,
            "coverage checked"
        );
        Ok(summary)
    }
}

/// Builds the checker from its configuration: called once at start.
pub async fn build(config: &CoverageConfig) -> anyhow::Result<Checker> {
    let common = &config.common;
    let sdk = fanin::aws::load_sdk_config("fanin-coverage").await;
    let organizations_sdk = match &config.organizations_role_arn {
        Some(role_arn) => {
            let provider = aws_config::sts::AssumeRoleProvider::builder(role_arn)
                .session_name("fanin-coverage")
                .configure(&sdk)
                .build()
                .await;
            sdk.to_builder()
                .credentials_provider(SharedCredentialsProvider::new(provider))
                .build()
        }
        None => sdk.clone(),
    };
    let events = OpenSearchEvents::new(
        &common.opensearch_url,
        &common.search_auth,
        sdk.credentials_provider(),
        sdk.region().cloned(),
        &common.index_prefix,
    )?;
    let ports = Ports {
        directory: Arc::new(OrganizationsDirectory::new(&organizations_sdk)),
        events: Arc::new(events),
        sessions: Arc::new(StsSessions::new(
            &sdk,
            common.partition.clone(),
            common.role_name.clone(),
            common.external_id.expose().to_owned(),
            SESSION_DURATION,
        )),
        inspector: Arc::new(ReadRoleInspector::new(sdk.clone())),
        objects: Arc::new(S3Objects::new(
            &sdk,
            common.bucket.clone(),
            common.encryption.clone(),
            common.s3_force_path_style,
        )),
        metrics: Arc::new(EmbeddedMetrics),
    };
    let settings = Settings {
        regions: config.regions.clone(),
        partition: common.partition.clone(),
        central_account: config.central_account.clone(),
        topic_name: config.topic_name.clone(),
        excluded_accounts: config.excluded_accounts.clone(),
        hours: config.hours,
    };
    Ok(Checker { settings, ports })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use async_trait::async_trait;
    use aws_credential_types::Credentials;
    use fanin::ports::AccountSession;

    use super::*;
    use crate::ports::{EventCounts, MetricValue, Presence, TemplateSubscriptions};
    use crate::report::GapKind;

    struct FixedOrganization(Organization);

    #[async_trait]
    impl OrganizationDirectory for FixedOrganization {
        async fn organization(&self) -> Result<Organization, CallError> {
            Ok(self.0.clone())
        }
    }

    struct FixedCounts;

    #[async_trait]
    impl EventCounter for FixedCounts {
        async fn inspector2_counts(&self, _: DateTime<Utc>) -> Result<EventCounts, CallError> {
            Ok(BTreeMap::from([(
                (
                    AccountId::parse("111111111111").unwrap(),
                    Region::parse("us-east-1").unwrap(),
                ),
                3,
            )]))
        }
    }

    /// Accounts whose read role is gone are denied.
    struct Sessions {
        without_role: Vec<&'static str>,
    }

    #[async_trait]
    impl SessionProvider for Sessions {
        async fn session(&self, account: &AccountId) -> Result<AccountSession, CallError> {
            if self.without_role.contains(&account.as_str()) {
                return Err(CallError::Denied {
                    operation: "AssumeRole",
                    code: "AccessDenied".into(),
                    message: "no such role".into(),
                });
            }
            Ok(AccountSession {
                account: account.clone(),
                credentials: Credentials::new("AKID", "secret", None, None, "test"),
            })
        }
    }

    /// Accounts whose Inspector2 rule is gone; everything else present.
    struct Resources {
        without_rule: Vec<&'static str>,
    }

    #[async_trait]
    impl AccountInspector for Resources {
        async fn forwarder(&self, _: &AccountSession, _: &Region) -> Result<Presence, CallError> {
            Ok(Presence::Present)
        }
        async fn inspector2_rule(
            &self,
            session: &AccountSession,
            _: &Region,
        ) -> Result<Presence, CallError> {
            Ok(if self.without_rule.contains(&session.account.as_str()) {
                Presence::Missing
            } else {
                Presence::Present
            })
        }
        async fn classic_subscriptions(
            &self,
            _: &AccountSession,
            region: &Region,
            topic_arn: &str,
        ) -> Result<TemplateSubscriptions, CallError> {
            assert!(topic_arn.starts_with(&format!("arn:aws:sns:{region}:999999999999:")));
            Ok(TemplateSubscriptions {
                templates: 0,
                subscribed: 0,
            })
        }
    }

    #[derive(Default)]
    struct Recorded {
        objects: Mutex<Vec<(String, Vec<u8>)>>,
        metrics: Mutex<Vec<MetricValue>>,
    }

    #[async_trait]
    impl ObjectStore for Recorded {
        async fn put_object(
            &self,
            key: &str,
            body: Vec<u8>,
            _: ObjectKind,
        ) -> Result<(), CallError> {
            self.objects.lock().unwrap().push((key.to_owned(), body));
            Ok(())
        }

        async fn object_exists(&self, key: &str) -> Result<bool, CallError> {
            Ok(self.objects.lock().unwrap().iter().any(|(k, _)| k == key))
        }

        async fn get_object(&self, key: &str) -> Result<Option<Vec<u8>>, CallError> {
            let objects = self.objects.lock().unwrap();
            Ok(objects
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, b)| b.clone()))
        }
    }

    #[async_trait]
    impl MetricSink for Recorded {
        async fn publish(&self, values: &[MetricValue]) -> Result<(), CallError> {
            self.metrics.lock().unwrap().extend_from_slice(values);
            Ok(())
        }
    }

    fn checker(recorded: Arc<Recorded>) -> Checker {
        let account = |id: &str| OrganizationAccount {
            id: AccountId::parse(id).unwrap(),
            status: "ACTIVE".into(),
            name: format!("app-{id}"),
        };
        let organization = Organization {
            id: "o-abcdefghij".into(),
            accounts: vec![
                account("999999999999"),
                account("111111111111"),
                account("222222222222"),
            ],
        };
        Checker {
            settings: Settings {
                regions: vec![
                    Region::parse("us-east-1").unwrap(),
                    Region::parse("ca-central-1").unwrap(),
                ],
                partition: Partition::parse("aws").unwrap(),
                central_account: AccountId::parse("999999999999").unwrap(),
                topic_name: "fanin-inspector-classic".into(),
                excluded_accounts: BTreeSet::from([AccountId::parse("999999999999").unwrap()]),
                hours: 24,
            },
            ports: Ports {
                directory: Arc::new(FixedOrganization(organization)),
                events: Arc::new(FixedCounts),
                sessions: Arc::new(Sessions {
                    without_role: vec!["222222222222"],
                }),
                inspector: Arc::new(Resources {
                    without_rule: vec!["111111111111"],
                }),
                objects: recorded.clone(),
                metrics: recorded,
            },
        }
    }

    #[tokio::test]
    async fn the_scheduled_check_publishes_the_gaps_and_writes_the_account_list() {
        let recorded = Arc::new(Recorded::default());
        let checker = checker(recorded.clone());
        let summary = checker.scheduled(Utc::now()).await.unwrap();
        assert_eq!(summary.accounts_listed, 3);
        assert_eq!(summary.account_regions_checked, 4);
        assert_eq!(summary.account_regions_with_gaps, 4);

        let objects = recorded.objects.lock().unwrap();
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0].0, "state/organization-accounts.json");
        let list: crate::accounts::AccountList = serde_json::from_slice(&objects[0].1).unwrap();
        assert_eq!(list.accounts.len(), 3, "excluded accounts are listed too");

        let metrics = recorded.metrics.lock().unwrap();
        let value = |kind: Option<&str>| {
            metrics
                .iter()
                .find(|m| m.name == "CoverageGaps" && m.dimension.map(|d| d.1) == kind)
                .unwrap()
                .value
        };
        assert_eq!(value(None), 4.0);
        assert_eq!(value(Some(GapKind::Inspector2RuleMissing.as_str())), 2.0);
        assert_eq!(value(Some(GapKind::ReadRoleUnusable.as_str())), 2.0);
        assert_eq!(value(Some(GapKind::ForwarderMissing.as_str())), 0.0);
    }

    #[tokio::test]
    async fn the_report_counts_events_and_names_each_gap() {
        let checker = checker(Arc::new(Recorded::default()));
        let (_, report) = checker.report(6, Utc::now()).await.unwrap();
        assert_eq!(report.hours, 6);
        let first = &report.rows[0];
        assert_eq!(
            (first.account.as_str(), first.region.as_str()),
            ("111111111111", "ca-central-1")
        );
        let east = &report.rows[1];
        assert_eq!(east.inspector2_events, Some(3));
        assert_eq!(east.gaps, vec![GapKind::Inspector2RuleMissing]);
        assert_eq!(report.rows[2].gaps, vec![GapKind::ReadRoleUnusable]);
    }
}
