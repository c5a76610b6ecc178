//! `fanin summary`: open findings by severity, account, region and source,
//! as plain aligned tables (or JSON), from the index's aggregations or from
//! the archive.

use std::collections::BTreeMap;

use crate::findings::{Tally, severity_name};

/// Severity rows in the order an analyst reads them, worst first.
const SEVERITY_ORDER: [u64; 8] = [6, 5, 4, 3, 2, 1, 99, 0];

/// The tables (pure). Values that came from documents (account ids,
/// regions, product names) are printed with control characters escaped.
pub fn render(tally: &Tally, origin: &str) -> String {
    let mut out = format!(
        "open findings: {} of {} ({origin})\n",
        tally.open, tally.findings
    );
    let severities: Vec<(String, u64)> = SEVERITY_ORDER
        .iter()
        .map(|&id| severity_name(id))
        .filter_map(|name| tally.by_severity.get(name).map(|&n| (name.to_owned(), n)))
        .collect();
    for (title, rows) in [
        ("severity", severities),
        ("account", by_count(&tally.by_account)),
        ("region", by_count(&tally.by_region)),
        ("source", by_count(&tally.by_source)),
    ] {
        out.push('\n');
        out.push_str(&table(title, &rows));
    }
    out
}

/// Rows sorted by count, largest first, then by name.
fn by_count(counts: &BTreeMap<String, u64>) -> Vec<(String, u64)> {
    let mut rows: Vec<(String, u64)> = counts.iter().map(|(k, &v)| (k.clone(), v)).collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    rows
}

fn table(title: &str, rows: &[(String, u64)]) -> String {
    let rows: Vec<(String, String)> = rows
        .iter()
        .map(|(name, count)| (name.escape_default().to_string(), count.to_string()))
        .collect();
    let name_width = rows
        .iter()
        .map(|(n, _)| n.chars().count())
        .chain([title.len()])
        .max()
        .unwrap_or(0);
    let count_width = rows
        .iter()
        .map(|(_, c)| c.len())
        .chain(["open".len()])
        .max()
        .unwrap_or(0);
    let mut out = format!("{title:<name_width$}  {:>count_width$}\n", "open");
    out.push_str(&format!(
        "{}  {}\n",
        "-".repeat(name_width),
        "-".repeat(count_width)
    ));
    if rows.is_empty() {
        out.push_str("(none)\n");
    }
    for (name, count) in rows {
        out.push_str(&format!("{name:<name_width$}  {count:>count_width$}\n"));
    }
    out
}

/// `fanin summary`'s flags.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    #[command(flatten)]
    pub stack: crate::places::StackFlags,
    #[command(flatten)]
    pub search: crate::search::SearchFlags,
    /// Count from the S3 archive (the newest version of each finding)
    /// instead of the index.
    #[arg(long)]
    pub from_archive: bool,
    /// The central bucket, with --from-archive (default: output
    /// `BucketName` of the central stack).
    #[arg(long, value_name = "BUCKET")]
    pub bucket: Option<String>,
    /// Print the counts as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// Runs `fanin summary` and prints the tables.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let config = crate::places::aws_config(&args.stack).await;
    let mut stack = crate::places::StackReader::new(&config, &args.stack);
    let (tally, origin) = if args.from_archive {
        let bucket = stack
            .place(crate::places::Place::Bucket, args.bucket.as_deref())
            .await?;
        let s3 = crate::places::s3_client(&config);
        let versions = crate::archive::read_all(&s3, &bucket).await?;
        let findings = crate::findings::latest_from_archive(&versions);
        (Tally::of(&findings), format!("archive s3://{bucket}"))
    } else {
        let search = crate::search::Search::connect(&config, &mut stack, &args.search).await?;
        let tally = crate::findings::tally_from_index(&search).await?;
        (tally, format!("index {}-*", search.prefix))
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&tally)?);
    } else {
        print!("{}", render(&tally, &origin));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_aligned_and_ordered() {
        let tally = Tally {
            findings: 5,
            open: 4,
            by_severity: BTreeMap::from([("High".to_owned(), 1), ("Critical".to_owned(), 3)]),
            by_account: BTreeMap::from([
                ("111111111111".to_owned(), 1),
                ("222222222222".to_owned(), 3),
            ]),
            by_region: BTreeMap::from([("eu-west-1".to_owned(), 4)]),
            by_source: BTreeMap::from([("Inspector\u{1b}[31m".to_owned(), 4)]),
        };
        let text = render(&tally, "index");
        assert!(text.starts_with("open findings: 4 of 5 (index)\n"));
        assert!(
            text.contains("severity  open\n--------  ----\nCritical     3\nHigh         1\n"),
            "{text}"
        );
        assert!(
            text.contains("222222222222     3\n111111111111     1\n"),
            "{text}"
        );
        assert!(!text.contains('\u{1b}'), "control characters are escaped");
    }
}
