//! The operator's command line (`fanin`, the real binary) run against the
//! local stack as an operator in the central account would run it: no
//! places on the command line, the central stack's outputs give them.

use anyhow::Context;

use crate::lambda_host::workspace_binary;
use crate::scenario::{LocalStack, PRIMARY_REGION};

/// `fanin <args>` with the central account's credentials on the local
/// stack, and nothing else from this process's environment.
pub fn command(stack: &LocalStack, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(workspace_binary("fanin"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .env("AWS_ENDPOINT_URL", &stack.moto.url)
        .env("AWS_REGION", PRIMARY_REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing");
    command
}

/// Runs `fanin <args>` ([`command`]); its standard output, or an error with
/// its standard error.
pub async fn fanin(stack: &LocalStack, args: &[&str]) -> anyhow::Result<String> {
    let output = command(stack, args)
        .output()
        .await
        .context("running fanin (cargo build --workspace --bins first)")?;
    anyhow::ensure!(
        output.status.success(),
        "fanin {} failed: {}",
        args.first().unwrap_or(&""),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8(output.stdout)?)
}
