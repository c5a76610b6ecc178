//! Who the tool runs as, and configs that act in other accounts.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use fanin::aws::classify;
use fanin::ids::{AccountId, Region};
use fanin::ports::CallError;
use tokio::sync::Mutex;

use crate::deployment::{Deployment, partition_of};
use crate::error::Error;

/// `base` with `region`.
pub(crate) fn in_region(base: &SdkConfig, region: &Region) -> SdkConfig {
    base.to_builder()
        .region(aws_config::Region::new(region.to_string()))
        .build()
}

/// The account the credentials of `config` act in.
pub(crate) async fn caller_account(config: &SdkConfig) -> Result<AccountId, Error> {
    let identity = aws_sdk_sts::Client::new(config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| classify("GetCallerIdentity", e))?;
    identity
        .account()
        .and_then(|a| AccountId::parse(a).ok())
        .ok_or(Error::IncompleteAnswer {
            operation: "GetCallerIdentity",
            missing: "the account id",
        })
}

/// Fails unless the credentials act in the deployment's administrator
/// account, where the StackSets live.
pub(crate) async fn require_administrator(
    config: &SdkConfig,
    deployment: &Deployment,
) -> Result<(), Error> {
    let actual = caller_account(config).await?;
    if actual == deployment.administrator_account_id {
        Ok(())
    } else {
        Err(Error::WrongAccount {
            expected: deployment.administrator_account_id.to_string(),
            actual: actual.to_string(),
        })
    }
}

/// Configs acting in target accounts through `role_name`, one AssumeRole
/// per account. The caller's own account needs no role.
pub(crate) struct AccountConfigs {
    base: SdkConfig,
    caller: AccountId,
    role_name: String,
    partition: &'static str,
    credentials: Mutex<BTreeMap<AccountId, Credentials>>,
}

impl AccountConfigs {
    pub async fn new(base: &SdkConfig, deployment: &Deployment) -> Result<Self, Error> {
        let base = in_region(base, &deployment.primary_region);
        Ok(Self {
            caller: caller_account(&base).await?,
            base,
            role_name: deployment.outputs_role_name.clone(),
            partition: partition_of(&deployment.primary_region),
            credentials: Mutex::new(BTreeMap::new()),
        })
    }

    pub async fn config(&self, account: &AccountId, region: &Region) -> Result<SdkConfig, Error> {
        if *account == self.caller {
            return Ok(in_region(&self.base, region));
        }
        let mut cache = self.credentials.lock().await;
        let credentials = match cache.get(account) {
            Some(credentials) => credentials.clone(),
            None => {
                let credentials = self.assume(account).await?;
                cache.insert(account.clone(), credentials.clone());
                credentials
            }
        };
        Ok(self
            .base
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .region(aws_config::Region::new(region.to_string()))
            .build())
    }

    async fn assume(&self, account: &AccountId) -> Result<Credentials, CallError> {
        let role_arn = format!(
            "arn:{}:iam::{account}:role/{}",
            self.partition, self.role_name
        );
        let answer = aws_sdk_sts::Client::new(&self.base)
            .assume_role()
            .role_arn(&role_arn)
            .role_session_name("fanin-deploy")
            .send()
            .await
            .map_err(|e| classify("AssumeRole", e))?;
        let issued = answer.credentials().ok_or_else(|| {
            CallError::transient("AssumeRole", "NoCredentials", "answer without credentials")
        })?;
        Ok(Credentials::new(
            issued.access_key_id(),
            issued.secret_access_key(),
            Some(issued.session_token().to_owned()),
            std::time::SystemTime::try_from(*issued.expiration()).ok(),
            "fanin-deploy",
        ))
    }
}
