//! `fanin-devstack demo [--json]`: the whole pipeline on the local stack.
//! `fanin-devstack load [--findings N] [--accounts N] [--regions R,..] [--batch-size N] [--via queue|eventbridge]`: the load run, as JSON.
use anyhow::bail;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("demo") => {
            let summary = fanin_devstack::demo::run().await?;
            if args.iter().any(|a| a == "--json") {
                println!("{}", serde_json::to_string(&summary)?);
            } else {
                fanin_devstack::demo::print_table(&summary);
            }
            Ok(())
        }
        Some("load") => {
            let mut plan = fanin_devstack::load::LoadPlan::full();
            let value = |flag: &str| {
                args.iter()
                    .position(|a| a == flag)
                    .and_then(|i| args.get(i + 1))
                    .map(|v| v.parse::<usize>())
                    .transpose()
            };
            if let Some(findings) = value("--findings")? {
                plan.findings = findings;
            }
            if let Some(accounts) = value("--accounts")? {
                plan.accounts = accounts;
            }
            if let Some(batch_size) = value("--batch-size")? {
                plan.batch_size = Some(i32::try_from(batch_size)?);
            }
            if let Some(i) = args.iter().position(|a| a == "--regions") {
                plan.regions = args
                    .get(i + 1)
                    .map(String::as_str)
                    .unwrap_or("")
                    .split(',')
                    .map(str::to_owned)
                    .collect();
            }
            if let Some(i) = args.iter().position(|a| a == "--via") {
                plan.via = args.get(i + 1).map(String::as_str).unwrap_or("").parse()?;
            }
            let report = fanin_devstack::load::run(&plan).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        _ => bail!(
            "usage: fanin-devstack demo [--json] | load [--findings N] [--accounts N] [--regions R,..] [--batch-size N] [--via queue|eventbridge]"
        ),
    }
}
