//! `fanin-coverage report [--hours N] [--json]` prints which accounts and
//! regions reach fanin; under Lambda it is the scheduled coverage check.
use fanin_coverage::{CoverageConfig, checker, cli, lambda, telemetry};
use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let under_lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
    telemetry::init(under_lambda);
    let command = (!under_lambda).then(cli::Command::from_args);
    let config = CoverageConfig::from_env()?;
    let checker = checker::build(&config).await?;
    match command {
        Some(command) => Ok(cli::run(&checker, command).await?),
        None => {
            run(service_fn(|event| {
                lambda::handle_scheduled(&checker, event)
            }))
            .await
        }
    }
}
