//! AWS adapters of the coverage ports: Organizations and the read-role
//! checks (Lambda, EventBridge, Inspector Classic). One method per SDK call,
//! every page read, errors classified by `fanin::aws::classify`. Metrics go
//! out as CloudWatch embedded metric format log lines ([`crate::metrics`]).

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_eventbridge::types::RuleState;
use fanin::aws::inspector::InspectorClassicTemplates;
use fanin::aws::{account_config, classify};
use fanin::forward::FINDING_REPORTED;
use fanin::ids::{AccountId, Region};
use fanin::ports::{AccountSession, CallError, TemplateSubscriber};
use tracing::warn;

use crate::ports::{
    AccountInspector, Organization, OrganizationAccount, OrganizationDirectory, Presence,
    TemplateSubscriptions,
};

/// The forwarder's name in `cloudformation/application-regional.yaml`.
pub const FORWARDER_FUNCTION: &str = "fanin-forwarder";
/// The Inspector2 forwarding rule's name in the same template.
pub const INSPECTOR2_RULE: &str = "fanin-inspector2-to-central";

pub struct OrganizationsDirectory {
    client: aws_sdk_organizations::Client,
}

impl OrganizationsDirectory {
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            client: aws_sdk_organizations::Client::new(config),
        }
    }
}

#[async_trait]
impl OrganizationDirectory for OrganizationsDirectory {
    async fn organization(&self) -> Result<Organization, CallError> {
        let described = self
            .client
            .describe_organization()
            .send()
            .await
            .map_err(|e| classify("DescribeOrganization", e))?;
        let id = described
            .organization()
            .and_then(|o| o.id())
            .filter(|id| is_organization_id(id))
            .ok_or_else(|| {
                CallError::transient("DescribeOrganization", "decode", "no valid organization id")
            })?
            .to_owned();
        let mut pages = self.client.list_accounts().into_paginator().send();
        let mut accounts = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("ListAccounts", e))?;
            for account in page.accounts() {
                let raw_id = account.id().unwrap_or_default();
                let Ok(id) = AccountId::parse(raw_id) else {
                    warn!(account_id = %fanin::ids::truncate_for_message(raw_id), "organization lists an account id that is not 12 digits; left out");
                    continue;
                };
                accounts.push(OrganizationAccount {
                    id,
                    status: account_status(account),
                    name: account.name().unwrap_or_default().to_owned(),
                });
            }
        }
        Ok(Organization { id, accounts })
    }
}

/// `o-` and 10 to 32 lowercase letters or digits (Organizations' pattern).
fn is_organization_id(id: &str) -> bool {
    id.strip_prefix("o-").is_some_and(|rest| {
        (10..=32).contains(&rest.len())
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// `State` (ACTIVE, SUSPENDED, PENDING_CLOSURE, CLOSED, ...), which replaced
/// `Status` on 2026-09-09; `Status` for answers that only carry that one.
fn account_status(account: &aws_sdk_organizations::types::Account) -> String {
    account
        .state()
        .map(|s| s.as_str().to_owned())
        .or_else(|| account.status().map(|s| s.as_str().to_owned()))
        .unwrap_or_else(|| "UNKNOWN".to_owned())
}

/// Looks at one account's fanin resources through its read role.
pub struct ReadRoleInspector {
    base: SdkConfig,
}

impl ReadRoleInspector {
    pub fn new(base: SdkConfig) -> Self {
        Self { base }
    }
}

fn not_found(error: &CallError) -> bool {
    matches!(error, CallError::Rejected { code, .. } if code == "ResourceNotFoundException")
}

#[async_trait]
impl AccountInspector for ReadRoleInspector {
    async fn forwarder(
        &self,
        session: &AccountSession,
        region: &Region,
    ) -> Result<Presence, CallError> {
        let lambda = aws_sdk_lambda::Client::new(&account_config(&self.base, session, region));
        match lambda
            .get_function_configuration()
            .function_name(FORWARDER_FUNCTION)
            .send()
            .await
        {
            Ok(_) => Ok(Presence::Present),
            Err(e) => match classify("GetFunctionConfiguration", e) {
                error if not_found(&error) => Ok(Presence::Missing),
                error => Err(error),
            },
        }
    }

    async fn inspector2_rule(
        &self,
        session: &AccountSession,
        region: &Region,
    ) -> Result<Presence, CallError> {
        let events = aws_sdk_eventbridge::Client::new(&account_config(&self.base, session, region));
        match events.describe_rule().name(INSPECTOR2_RULE).send().await {
            Ok(rule) => Ok(match rule.state() {
                Some(RuleState::Disabled) => Presence::Disabled,
                _ => Presence::Present,
            }),
            Err(e) => match classify("DescribeRule", e) {
                error if not_found(&error) => Ok(Presence::Missing),
                error => Err(error),
            },
        }
    }

    async fn classic_subscriptions(
        &self,
        session: &AccountSession,
        region: &Region,
        topic_arn: &str,
    ) -> Result<TemplateSubscriptions, CallError> {
        let templates =
            InspectorClassicTemplates::new(&account_config(&self.base, session, region));
        let arns = templates.list_templates().await?;
        let mut subscribed = 0;
        for arn in &arns {
            let subscriptions = templates.subscriptions(arn).await?;
            if subscriptions
                .iter()
                .any(|(event, topic)| event == FINDING_REPORTED && topic == topic_arn)
            {
                subscribed += 1;
            }
        }
        Ok(TemplateSubscriptions {
            templates: arns.len(),
            subscribed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organization_ids_follow_the_pattern() {
        assert!(is_organization_id("o-faninlocal01"));
        assert!(!is_organization_id("o-short"));
        assert!(!is_organization_id("o-UPPERCASE123"));
        assert!(!is_organization_id("r-abcdefghij"));
    }
}
