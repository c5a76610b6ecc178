//! The security-group guard as it runs in AWS: one `fanin-guard` function
//! per application account and region, with the environment CloudFormation
//! gave the deployed function and the credentials of the account's
//! `fanin-guard` role, registered in the gateway under the function's ARN so
//! the CloudTrail player ([`crate::cloudtrail`]) and the Config rule player
//! ([`crate::config_service`]) invoke it.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use aws_credential_types::Credentials;

use crate::cloudtrail::LambdaTargets;
use crate::config_service::GUARD_FUNCTION;
use crate::deployment::Deployed;
use crate::lambda_host::{LocalLambda, workspace_binary};
use crate::scenario::{self, LocalStack, PRIMARY_REGION};

/// The role the guard function runs as in each application account.
pub const GUARD_ROLE: &str = "fanin-guard";

/// One running guard.
pub struct Guard {
    pub function_arn: String,
    pub lambda: LocalLambda,
}

/// The running guards, keyed by (account, region). They stop, and leave the
/// gateway's registry, when this is dropped.
pub struct GuardHost {
    guards: BTreeMap<(String, String), Guard>,
    targets: LambdaTargets,
}

impl GuardHost {
    /// The guard of `account` in `region`.
    pub fn guard(&self, account: &str, region: &str) -> Option<&Guard> {
        self.guards.get(&(account.to_owned(), region.to_owned()))
    }

    pub fn guards(&self) -> impl Iterator<Item = (&(String, String), &Guard)> {
        self.guards.iter()
    }
}

impl Drop for GuardHost {
    fn drop(&mut self) {
        for guard in self.guards.values() {
            self.targets.unregister(&guard.function_arn);
        }
    }
}

/// Starts the deployed `fanin-guard` of every account in `accounts` and
/// region in `regions` (`deployed.regions` when empty).
pub async fn start_guards(
    stack: &LocalStack,
    deployed: &Deployed,
    accounts: &[&str],
    regions: &[&str],
) -> anyhow::Result<GuardHost> {
    let regions: Vec<&str> = if regions.is_empty() {
        deployed.regions.iter().map(String::as_str).collect()
    } else {
        regions.to_vec()
    };
    start_guard_binary(stack, &workspace_binary(GUARD_FUNCTION), accounts, &regions).await
}

/// [`start_guards`] with another binary standing in for `fanin-guard`.
pub async fn start_guard_binary(
    stack: &LocalStack,
    binary: &Path,
    accounts: &[&str],
    regions: &[&str],
) -> anyhow::Result<GuardHost> {
    let mut host = GuardHost {
        guards: BTreeMap::new(),
        targets: stack.gateway.lambda_targets().clone(),
    };
    for account in accounts {
        let admin = stack.account_credentials(account).await?;
        let credentials = guard_credentials(stack, account, &admin).await?;
        for region in regions {
            let guard = start_guard(stack, binary, account, region, &admin, &credentials)
                .await
                .with_context(|| format!("starting the guard of {account}/{region}"))?;
            host.targets
                .register(&guard.function_arn, &guard.lambda.invoke_url);
            host.guards
                .insert(((*account).to_owned(), (*region).to_owned()), guard);
        }
    }
    Ok(host)
}

/// A session of the account's `fanin-guard` role (moto's STS, as Lambda's
/// service would assume it).
async fn guard_credentials(
    stack: &LocalStack,
    account: &str,
    admin: &Credentials,
) -> anyhow::Result<Credentials> {
    let sts = aws_sdk_sts::Client::new(&stack.moto_config(PRIMARY_REGION, Some(admin.clone())));
    scenario::assume_role(
        &sts,
        &format!("arn:aws:iam::{account}:role/{GUARD_ROLE}"),
        GUARD_FUNCTION,
        "fanin-guard",
    )
    .await
}

async fn start_guard(
    stack: &LocalStack,
    binary: &Path,
    account: &str,
    region: &str,
    admin: &Credentials,
    credentials: &Credentials,
) -> anyhow::Result<Guard> {
    let lambda = aws_sdk_lambda::Client::new(&stack.moto_config(region, Some(admin.clone())));
    let configuration = lambda
        .get_function_configuration()
        .function_name(GUARD_FUNCTION)
        .send()
        .await
        .with_context(|| format!("reading the deployed {GUARD_FUNCTION}"))?;
    let function_arn = configuration
        .function_arn()
        .context("a function without ARN")?
        .to_owned();
    let mut env: BTreeMap<String, String> = configuration
        .environment()
        .and_then(|e| e.variables())
        .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    env.extend(crate::deployment::local_overrides(
        stack,
        region,
        Some(credentials),
    ));
    let env: Vec<(String, String)> = env.into_iter().collect();
    let lambda = LocalLambda::start(
        &format!("{GUARD_FUNCTION}-{account}-{region}"),
        binary,
        &env,
    )
    .await?;
    Ok(Guard {
        function_arn,
        lambda,
    })
}
