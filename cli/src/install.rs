//! `fanin install`: everything the cluster and its Dashboards need, made
//! idempotently: every class's latest-state and history index templates, the
//! ledger and quarantine templates, the write aliases, the ISM policy that
//! rolls the history over ([`fanin::search::install`]), then the saved
//! objects ([`crate::dashboards`]) through the Dashboards saved-objects API.
//! A second run changes nothing and says so.

use anyhow::Context;
use fanin::search::install::{self, IsmSettings};
use url::Url;

use crate::dashboards;
use crate::places::{StackFlags, StackReader, aws_config};
use crate::search::{Search, SearchFlags, endpoint};

/// `fanin install` arguments.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackFlags,
    #[command(flatten)]
    pub search: SearchFlags,
    /// The OpenSearch Dashboards base URL (default: `<OpenSearch
    /// endpoint>/_dashboards/`, where Amazon OpenSearch Service serves it).
    /// https, or http on loopback only; authenticated as the cluster is.
    #[arg(long, value_name = "URL")]
    pub dashboards_url: Option<String>,
    /// Install the index templates, aliases and ISM policy only, not the
    /// saved objects.
    #[arg(long)]
    pub skip_dashboards: bool,
    /// Roll a history index over once it holds this much (ISM `min_size`).
    #[arg(long, value_name = "SIZE", default_value = "30gb")]
    pub history_rollover_size: String,
    /// Roll a history index over once it is this old (ISM `min_index_age`).
    #[arg(long, value_name = "AGE", default_value = "30d")]
    pub history_rollover_age: String,
    /// Delete a history index this long after it rolled over.
    #[arg(long, value_name = "AGE", default_value = "400d")]
    pub history_retention: String,
}

/// Where the saved objects go: the flag, else the domain's own Dashboards.
pub fn dashboards_url(flag: Option<&str>, search: &Url) -> anyhow::Result<Url> {
    let raw = match flag {
        Some(raw) => raw.to_owned(),
        None => search.join("_dashboards/")?.to_string(),
    };
    let mut url = endpoint(&raw).context("the Dashboards URL (--dashboards-url)")?;
    // The import path is joined to it: a base without a final slash would
    // lose its last segment.
    if !url.path().ends_with('/') {
        url.set_path(&format!("{}/", url.path()));
    }
    Ok(url)
}

/// Runs `fanin install` and prints what it created, updated or left.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let ism = IsmSettings::new(
        &args.history_rollover_size,
        &args.history_rollover_age,
        &args.history_retention,
    )?;
    let config = aws_config(&args.stack).await;
    let mut stack = StackReader::new(&config, &args.stack);
    let search = Search::connect(&config, &mut stack, &args.search).await?;
    let report = install::install(search.indexer(), &search.prefix, &ism)
        .await
        .with_context(|| {
            format!(
                "installing templates, aliases and the ISM policy on {}: the identity needs the \
                 cluster's admin permissions (docs/deploy.md)",
                search.url
            )
        })?;
    print!("{report}");
    if args.skip_dashboards {
        println!("saved objects: skipped (--skip-dashboards)");
        return Ok(());
    }
    let url = dashboards_url(args.dashboards_url.as_deref(), &search.url)?;
    let objects = dashboards::saved_objects(&search.prefix);
    let client = search.client_of(&config, &url)?;
    let imported = dashboards::import(client.transport(), &objects)
        .await
        .with_context(|| {
            format!("importing the saved objects into {url} (or pass --skip-dashboards)")
        })?;
    println!(
        "saved objects: {} imported into {url} (index patterns, visualizations, 3 dashboards; overwritten in place)",
        imported.objects
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dashboards_default_to_the_domain_s_own_path() {
        let search = Url::parse("https://search-x.eu-west-1.es.amazonaws.com").unwrap();
        assert_eq!(
            dashboards_url(None, &search).unwrap().as_str(),
            "https://search-x.eu-west-1.es.amazonaws.com/_dashboards/"
        );
        assert_eq!(
            dashboards_url(Some("https://dash.example.com/base"), &search)
                .unwrap()
                .as_str(),
            "https://dash.example.com/base/"
        );
        assert!(dashboards_url(Some("http://dash.example.com"), &search).is_err());
        assert!(dashboards_url(Some("http://127.0.0.1:5601"), &search).is_ok());
    }
}
