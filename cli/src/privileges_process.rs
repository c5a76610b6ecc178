//! `fanin privileges process`: the CloudTrail objects of a range of days
//! queued for the least-privilege function. OWNER: helper "trail".

/// `fanin privileges process --from --to [--account] [--region]`.
#[derive(Debug, clap::Args)]
pub struct ProcessArgs {}

pub async fn run(_args: ProcessArgs) -> anyhow::Result<()> {
    anyhow::bail!("`fanin privileges process` is being built (issue 12)")
}
