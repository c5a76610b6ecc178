//! `fanin-devstack demo [--json]`: the whole pipeline on the local stack.
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
        _ => bail!("usage: fanin-devstack demo [--json]"),
    }
}
