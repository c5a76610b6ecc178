//! The coverage check on the local stack: an organization in moto, and the
//! deployed `fanin-coverage` function's environment with the local endpoints.

use std::collections::BTreeMap;

use anyhow::Context;
use aws_sdk_organizations::types::{CreateAccountState, OrganizationFeatureSet};

use crate::lambda_host::workspace_binary;
use crate::scenario::{LocalStack, PRIMARY_REGION};

/// The organization, with the central account (moto's default account) as
/// its management account.
pub struct LocalOrganization {
    pub id: String,
    /// Account name → id of each account created (moto picks the ids).
    pub accounts: BTreeMap<String, String>,
}

/// Creates the organization and one account per name.
pub async fn create_organization(
    stack: &LocalStack,
    names: &[&str],
) -> anyhow::Result<LocalOrganization> {
    let organizations =
        aws_sdk_organizations::Client::new(&stack.moto_config(PRIMARY_REGION, None));
    let created = organizations
        .create_organization()
        .feature_set(OrganizationFeatureSet::All)
        .send()
        .await
        .context("creating the organization")?;
    let id = created
        .organization()
        .and_then(|o| o.id())
        .context("organization without id")?
        .to_owned();
    let mut accounts = BTreeMap::new();
    for name in names {
        let answer = organizations
            .create_account()
            .account_name(*name)
            .email(format!("{name}@example.com"))
            .send()
            .await
            .with_context(|| format!("creating account {name}"))?;
        let status = answer
            .create_account_status()
            .context("no account status")?;
        anyhow::ensure!(
            status.state() == Some(&CreateAccountState::Succeeded),
            "account {name}: {status:?}"
        );
        let account = status.account_id().context("no account id")?;
        accounts.insert((*name).to_owned(), account.to_owned());
    }
    Ok(LocalOrganization { id, accounts })
}

/// The deployed coverage function's environment, with the local endpoints
/// and credentials (the central account's).
pub async fn coverage_env(stack: &LocalStack) -> anyhow::Result<Vec<(String, String)>> {
    let lambda = aws_sdk_lambda::Client::new(&stack.moto_config(PRIMARY_REGION, None));
    let configuration = lambda
        .get_function_configuration()
        .function_name("fanin-coverage")
        .send()
        .await
        .context("the deployed coverage function")?;
    let mut env: BTreeMap<String, String> = configuration
        .environment()
        .and_then(|e| e.variables())
        .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    env.extend(crate::deployment::local_overrides(
        stack,
        PRIMARY_REGION,
        None,
    ));
    Ok(env.into_iter().collect())
}

/// Runs `fanin-coverage report` with `args` and the deployed environment;
/// returns its standard output.
pub async fn run_report(stack: &LocalStack, args: &[&str]) -> anyhow::Result<String> {
    let env = coverage_env(stack).await?;
    let output = tokio::process::Command::new(workspace_binary("fanin-coverage"))
        .arg("report")
        .args(args)
        .env_clear()
        .envs(env)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .await
        .context("running fanin-coverage (cargo build --workspace --bins first)")?;
    anyhow::ensure!(
        output.status.success(),
        "fanin-coverage report failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8(output.stdout)?)
}
