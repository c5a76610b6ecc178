//! `fanin-deploy deploy | outputs | remove --deployment stacksets/<model>/deployment.json`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use fanin_deploy::{ArtifactFiles, Artifacts, Deployment, ExternalId};

/// Deploys fanin's StackSets with the default AWS credential chain
/// (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, ... are honoured).
#[derive(Parser)]
#[command(name = "fanin-deploy", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate the guard's policy, package the Lambdas, upload them with
    /// the policy, create or update every StackSet and its instances. Needs
    /// FANIN_EXTERNAL_ID.
    Deploy {
        #[arg(long)]
        deployment: PathBuf,
        /// Use --collector-zip, --forwarder-zip, --coverage-zip,
        /// --guard-zip, --exposure-zip and --privileges-zip instead of
        /// building.
        #[arg(long, requires_all = ["collector_zip", "forwarder_zip", "coverage_zip", "guard_zip", "exposure_zip", "privileges_zip"])]
        skip_build: bool,
        #[arg(long, requires = "skip_build")]
        collector_zip: Option<PathBuf>,
        #[arg(long, requires = "skip_build")]
        forwarder_zip: Option<PathBuf>,
        #[arg(long, requires = "skip_build")]
        coverage_zip: Option<PathBuf>,
        #[arg(long, requires = "skip_build")]
        guard_zip: Option<PathBuf>,
        #[arg(long, requires = "skip_build")]
        exposure_zip: Option<PathBuf>,
        #[arg(long, requires = "skip_build")]
        privileges_zip: Option<PathBuf>,
        /// The workspace to build (default: the current directory).
        #[arg(long, default_value = ".")]
        workspace: PathBuf,
    },
    /// Print the outputs of every stack instance.
    Outputs {
        #[arg(long)]
        deployment: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Delete every stack instance and StackSet (the findings bucket and
    /// its KMS key are kept).
    Remove {
        #[arg(long)]
        deployment: PathBuf,
        /// Confirms the deletion.
        #[arg(long)]
        yes: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("fanin-deploy: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Deploy {
            deployment,
            skip_build,
            collector_zip,
            forwarder_zip,
            coverage_zip,
            guard_zip,
            exposure_zip,
            privileges_zip,
            workspace,
        } => {
            let deployment = Deployment::load(&deployment)?;
            // Before the long build: a missing secret should fail at once.
            let external_id = ExternalId::from_env()?;
            let guard_policy = deployment.guard_policy.clone();
            let artifacts = match (
                skip_build,
                collector_zip,
                forwarder_zip,
                coverage_zip,
                guard_zip,
                exposure_zip,
                privileges_zip,
            ) {
                (
                    true,
                    Some(collector),
                    Some(forwarder),
                    Some(coverage),
                    Some(guard),
                    Some(exposure),
                    Some(privileges),
                ) => Artifacts::from_files(&ArtifactFiles {
                    collector_zip: collector,
                    forwarder_zip: forwarder,
                    coverage_zip: coverage,
                    guard_zip: guard,
                    exposure_zip: exposure,
                    privileges_zip: privileges,
                    guard_policy,
                })?,
                _ => {
                    let out_dir = workspace.join("target/fanin-deploy");
                    tokio::task::spawn_blocking(move || {
                        fanin_deploy::package(&workspace, &out_dir, &guard_policy)
                    })
                    .await
                    .context("the build task failed")??
                }
            };
            let config = fanin::aws::load_sdk_config("fanin-deploy").await;
            let report =
                fanin_deploy::deploy(&config, &deployment, &artifacts, external_id.expose())
                    .await?;
            print!("{report}");
        }
        Command::Outputs { deployment, json } => {
            let deployment = Deployment::load(&deployment)?;
            let config = fanin::aws::load_sdk_config("fanin-deploy").await;
            let outputs = fanin_deploy::outputs(&config, &deployment).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&outputs.to_json())?);
            } else {
                print!("{outputs}");
            }
        }
        Command::Remove { deployment, yes } => {
            let deployment = Deployment::load(&deployment)?;
            if !yes {
                anyhow::bail!(
                    "remove deletes the seven fanin StackSets and all their stack instances (central account {}, application targets, code buckets in {}); run again with --yes",
                    deployment.central_account_id,
                    deployment.administrator_account_id
                );
            }
            let config = fanin::aws::load_sdk_config("fanin-deploy").await;
            let report = fanin_deploy::teardown(&config, &deployment).await?;
            print!("{report}");
        }
    }
    Ok(())
}
