//! An account's authorization details through its read role:
//! `GetAccountAuthorizationDetails`, every page, into the pure model
//! `fanin::privileges::authz::AuthorizationDetails` (policy documents kept
//! URL-encoded as IAM returns them; the model decodes them). Every error
//! keeps its AWS code ([`fanin::aws::classify`]).
//!
//! [`AuthorizationReader`] is the port the evaluation reads through;
//! [`ReadRoleAuthorization`] its AWS adapter.

use std::sync::Arc;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_iam::types as iam;
use chrono::{DateTime, Utc};
use fanin::ids::AccountId;
use fanin::ports::{AccountSession, CallError, SessionProvider};
use fanin::privileges::authz::{
    AttachedPermissionsBoundary, AttachedPolicy, AuthorizationDetails, GroupDetail, InlinePolicy,
    ManagedPolicyDetail, PolicyVersion, RoleDetail, UserDetail,
};
use serde_json::Value;

/// Reads who is granted what in an account.
///
/// Failure contract: `Denied` when the read role is missing, does not trust
/// fanin or lacks `iam:GetAccountAuthorizationDetails` (the account's
/// principals are reported as not evaluated, not judged); `Transient` on
/// throttling and 5xx (the next evaluation tries again). Only complete
/// answers (every page) are returned.
#[async_trait]
pub trait AuthorizationReader: Send + Sync {
    async fn authorization_details(
        &self,
        account: &AccountId,
    ) -> Result<AuthorizationDetails, CallError>;
}

/// [`AuthorizationReader`] over IAM through each account's read role.
pub struct ReadRoleAuthorization {
    pub sessions: Arc<dyn SessionProvider>,
    base: SdkConfig,
}

impl ReadRoleAuthorization {
    pub fn new(sessions: Arc<dyn SessionProvider>, base: SdkConfig) -> Self {
        Self { sessions, base }
    }

    /// IAM is global: the base configuration's region (and endpoint)
    /// serve, with the session's credentials.
    fn client(&self, session: &AccountSession) -> aws_sdk_iam::Client {
        let config = self
            .base
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(session.credentials.clone()))
            .build();
        aws_sdk_iam::Client::new(&config)
    }
}

#[async_trait]
impl AuthorizationReader for ReadRoleAuthorization {
    async fn authorization_details(
        &self,
        account: &AccountId,
    ) -> Result<AuthorizationDetails, CallError> {
        let session = self.sessions.session(account).await?;
        read_all_pages(&self.client(&session)).await
    }
}

/// Every page of `GetAccountAuthorizationDetails`, merged.
pub async fn read_all_pages(
    client: &aws_sdk_iam::Client,
) -> Result<AuthorizationDetails, CallError> {
    let mut details = AuthorizationDetails::default();
    let mut pages = client
        .get_account_authorization_details()
        .max_items(1000)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| fanin::aws::classify("GetAccountAuthorizationDetails", e))?;
        details.extend(AuthorizationDetails {
            user_detail_list: page.user_detail_list().iter().map(user).collect(),
            group_detail_list: page.group_detail_list().iter().map(group).collect(),
            role_detail_list: page.role_detail_list().iter().map(role).collect(),
            policies: page.policies().iter().map(managed_policy).collect(),
            is_truncated: page.is_truncated(),
            marker: page.marker().map(str::to_owned),
        });
    }
    details.is_truncated = false;
    details.marker = None;
    Ok(details)
}

fn text(value: Option<&str>) -> String {
    value.unwrap_or_default().to_owned()
}

fn time(value: Option<&aws_sdk_iam::primitives::DateTime>) -> Option<DateTime<Utc>> {
    let value = value?;
    DateTime::from_timestamp(value.secs(), value.subsec_nanos())
}

fn document(value: Option<&str>) -> Value {
    value.map_or(Value::Null, |text| Value::String(text.to_owned()))
}

fn inline(policies: &[iam::PolicyDetail]) -> Vec<InlinePolicy> {
    policies
        .iter()
        .map(|policy| InlinePolicy {
            policy_name: text(policy.policy_name()),
            policy_document: document(policy.policy_document()),
        })
        .collect()
}

fn attached(policies: &[iam::AttachedPolicy]) -> Vec<AttachedPolicy> {
    policies
        .iter()
        .map(|policy| AttachedPolicy {
            policy_name: text(policy.policy_name()),
            policy_arn: text(policy.policy_arn()),
        })
        .collect()
}

fn boundary(
    value: Option<&iam::AttachedPermissionsBoundary>,
) -> Option<AttachedPermissionsBoundary> {
    let value = value?;
    Some(AttachedPermissionsBoundary {
        permissions_boundary_type: value
            .permissions_boundary_type()
            .map(|t| t.as_str().to_owned()),
        permissions_boundary_arn: text(value.permissions_boundary_arn()),
    })
}

fn user(detail: &iam::UserDetail) -> UserDetail {
    UserDetail {
        path: text(detail.path()),
        user_name: text(detail.user_name()),
        user_id: text(detail.user_id()),
        arn: text(detail.arn()),
        create_date: time(detail.create_date()),
        user_policy_list: inline(detail.user_policy_list()),
        group_list: detail.group_list().to_vec(),
        attached_managed_policies: attached(detail.attached_managed_policies()),
        permissions_boundary: boundary(detail.permissions_boundary()),
    }
}

fn group(detail: &iam::GroupDetail) -> GroupDetail {
    GroupDetail {
        path: text(detail.path()),
        group_name: text(detail.group_name()),
        group_id: text(detail.group_id()),
        arn: text(detail.arn()),
        create_date: time(detail.create_date()),
        group_policy_list: inline(detail.group_policy_list()),
        attached_managed_policies: attached(detail.attached_managed_policies()),
    }
}

fn role(detail: &iam::RoleDetail) -> RoleDetail {
    RoleDetail {
        path: text(detail.path()),
        role_name: text(detail.role_name()),
        role_id: text(detail.role_id()),
        arn: text(detail.arn()),
        create_date: time(detail.create_date()),
        assume_role_policy_document: detail
            .assume_role_policy_document()
            .map(|text| Value::String(text.to_owned())),
        role_policy_list: inline(detail.role_policy_list()),
        attached_managed_policies: attached(detail.attached_managed_policies()),
        permissions_boundary: boundary(detail.permissions_boundary()),
    }
}

fn managed_policy(detail: &iam::ManagedPolicyDetail) -> ManagedPolicyDetail {
    ManagedPolicyDetail {
        policy_name: text(detail.policy_name()),
        arn: text(detail.arn()),
        default_version_id: detail.default_version_id().map(str::to_owned),
        policy_version_list: detail
            .policy_version_list()
            .iter()
            .map(|version| PolicyVersion {
                document: version
                    .document()
                    .map(|text| Value::String(text.to_owned())),
                version_id: text(version.version_id()),
                is_default_version: version.is_default_version(),
            })
            .collect(),
    }
}

/// An in-memory [`AuthorizationReader`] for the evaluation's tests: the
/// details of each account, or the error it answers with; an account it
/// does not know is `Denied`, as a missing read role is.
#[derive(Debug, Clone, Default)]
pub struct FakeAuthorization {
    pub accounts: std::collections::BTreeMap<String, Result<AuthorizationDetails, CallError>>,
}

#[async_trait]
impl AuthorizationReader for FakeAuthorization {
    async fn authorization_details(
        &self,
        account: &AccountId,
    ) -> Result<AuthorizationDetails, CallError> {
        match self.accounts.get(account.as_str()) {
            Some(answer) => answer.clone(),
            None => Err(CallError::Denied {
                operation: "GetAccountAuthorizationDetails",
                code: "AccessDenied".into(),
                message: format!("no read role in {account}"),
            }),
        }
    }
}
