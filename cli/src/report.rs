//! `fanin report`: one self-contained HTML file (inline CSS, inline SVG
//! charts; no script, font or other network resource): totals, open
//! findings by severity (bar chart), by account and by region, the top
//! risks, the internet-exposed critical findings and a per-account table.
//!
//! Every number carries a `data-metric` attribute naming it, so a reader (a
//! test, a script) finds it without parsing the layout. Every string from a
//! finding is escaped: titles are written by whoever controls the scanned
//! software, so they are text, never markup.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::findings::{Finding, Tally, severity_name};

/// Rows in the top-risks list.
pub const TOP_RISKS: usize = 25;

/// HTML-escapes text for element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A number with its metric name.
fn metric(name: &str, value: impl std::fmt::Display) -> String {
    format!(
        "<span class=\"n\" data-metric=\"{}\">{value}</span>",
        escape(name)
    )
}

/// Open critical and high findings, highest score first (no score last),
/// then critical before high.
pub fn top_risks(findings: &[Finding]) -> Vec<&Finding> {
    let mut risks: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.open && f.is_critical_or_high())
        .collect();
    risks.sort_by(|a, b| {
        b.score
            .unwrap_or(-1.0)
            .total_cmp(&a.score.unwrap_or(-1.0))
            .then_with(|| b.severity_id.cmp(&a.severity_id))
            .then_with(|| a.finding_uid.cmp(&b.finding_uid))
    });
    risks.truncate(TOP_RISKS);
    risks
}

/// Open critical findings on resources reachable from the internet.
pub fn exposed_critical(findings: &[Finding]) -> Vec<&Finding> {
    findings
        .iter()
        .filter(|f| f.open && f.severity_id == 5 && f.internet_exposed)
        .collect()
}

/// Per account: open findings, by severity, and the exposed critical ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountRow {
    pub open: u64,
    pub critical: u64,
    pub high: u64,
    pub medium: u64,
    pub low: u64,
    pub exposed_critical: u64,
}

pub fn accounts(findings: &[Finding]) -> BTreeMap<String, AccountRow> {
    let mut rows: BTreeMap<String, AccountRow> = BTreeMap::new();
    for finding in findings.iter().filter(|f| f.open) {
        let account = if finding.account.is_empty() {
            "unknown"
        } else {
            &finding.account
        };
        let row = rows.entry(account.to_owned()).or_default();
        row.open += 1;
        match finding.severity_id {
            5 => row.critical += 1,
            4 => row.high += 1,
            3 => row.medium += 1,
            2 => row.low += 1,
            _ => {}
        }
        if finding.severity_id == 5 && finding.internet_exposed {
            row.exposed_critical += 1;
        }
    }
    rows
}

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem;color:#1d2430;background:#fff}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d5dae1}
.meta{color:#5b6573;font-size:.9rem}.cards{display:flex;gap:1rem;flex-wrap:wrap}
.card{border:1px solid #d5dae1;border-radius:6px;padding:.8rem 1.2rem;min-width:9rem}
.card .n{font-size:1.8rem;font-weight:600;display:block}.card .l{color:#5b6573;font-size:.85rem}
table{border-collapse:collapse;margin-top:.5rem;font-size:.9rem}th,td{text-align:left;padding:.3rem .7rem;border-bottom:1px solid #eceff3}
td.num,th.num{text-align:right}td.t{max-width:40rem;overflow-wrap:anywhere}.cols{display:flex;gap:3rem;flex-wrap:wrap}
svg text{font-size:12px;fill:#1d2430}
";

/// Bar colours by severity id (OCSF), worst darkest.
fn severity_colour(severity_id: u64) -> &'static str {
    match severity_id {
        5 | 6 => "#8e1b1b",
        4 => "#d1495b",
        3 => "#edae49",
        2 => "#66a182",
        1 => "#00798c",
        _ => "#8d99ae",
    }
}

/// A horizontal bar chart of (label, value, colour, metric).
fn bar_chart(rows: &[(String, u64, &str, String)]) -> String {
    const BAR: u32 = 22;
    const LABEL: u32 = 120;
    const WIDTH: u32 = 360;
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1);
    let height = (rows.len() as u32).max(1) * (BAR + 6);
    let mut svg = format!(
        "<svg role=\"img\" aria-label=\"bar chart\" width=\"{}\" height=\"{height}\" viewBox=\"0 0 {} {height}\" xmlns=\"http://www.w3.org/2000/svg\">",
        LABEL + WIDTH + 60,
        LABEL + WIDTH + 60
    );
    for (n, (label, value, colour, metric_name)) in rows.iter().enumerate() {
        let y = n as u32 * (BAR + 6);
        let width = ((*value as f64 / max as f64) * f64::from(WIDTH)).round() as u32;
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\">{}</text><rect x=\"{LABEL}\" y=\"{y}\" width=\"{width}\" height=\"{BAR}\" fill=\"{colour}\"/><text x=\"{}\" y=\"{}\" data-metric=\"{}\">{value}</text>",
            y + 16,
            escape(label),
            LABEL + width + 6,
            y + 16,
            escape(metric_name)
        );
    }
    svg.push_str("</svg>");
    svg
}

fn count_table(title: &str, metric_prefix: &str, counts: &BTreeMap<String, u64>) -> String {
    let mut rows: Vec<(&String, &u64)> = counts.iter().collect();
    rows.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let mut html = format!(
        "<div><h3>{}</h3><table><thead><tr><th>{}</th><th class=\"num\">open</th></tr></thead><tbody>",
        escape(title),
        escape(title)
    );
    for (name, count) in rows {
        let _ = write!(
            html,
            "<tr><td>{}</td><td class=\"num\">{}</td></tr>",
            escape(name),
            metric(&format!("{metric_prefix}:{name}"), count)
        );
    }
    html.push_str("</tbody></table></div>");
    html
}

fn score_text(score: Option<f64>) -> String {
    score
        .map(|s| format!("{s:.1}"))
        .unwrap_or_else(|| "–".to_owned())
}

/// The report (pure). `origin` says where the data came from; `generated`
/// is the time of the run.
pub fn render(findings: &[Finding], origin: &str, generated: &str) -> String {
    let tally = Tally::of(findings);
    let exposed = exposed_critical(findings);
    let risks = top_risks(findings);
    let mut html = String::with_capacity(16 * 1024);
    let _ = write!(
        html,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <title>fanin findings report</title><style>{STYLE}</style></head><body>\
         <h1>fanin findings report</h1><p class=\"meta\">From {} · generated {}</p>",
        escape(origin),
        escape(generated)
    );
    let open_critical = tally.by_severity.get("Critical").copied().unwrap_or(0);
    let _ = write!(
        html,
        "<div class=\"cards\">\
         <div class=\"card\">{}<span class=\"l\">findings</span></div>\
         <div class=\"card\">{}<span class=\"l\">open</span></div>\
         <div class=\"card\">{}<span class=\"l\">open critical</span></div>\
         <div class=\"card\">{}<span class=\"l\">internet-exposed critical</span></div>\
         <div class=\"card\">{}<span class=\"l\">accounts</span></div></div>",
        metric("findings", tally.findings),
        metric("open", tally.open),
        metric("open-critical", open_critical),
        metric("exposed-critical", exposed.len()),
        metric("accounts", tally.by_account.len()),
    );

    html.push_str("<h2>Open findings by severity</h2>");
    let bars: Vec<(String, u64, &str, String)> = [5u64, 4, 3, 2, 1, 0, 99, 6]
        .into_iter()
        .filter_map(|id| {
            let name = severity_name(id);
            tally.by_severity.get(name).map(|&count| {
                (
                    name.to_owned(),
                    count,
                    severity_colour(id),
                    format!("open-by-severity:{name}"),
                )
            })
        })
        .collect();
    if bars.is_empty() {
        html.push_str("<p>No open findings.</p>");
    } else {
        html.push_str(&bar_chart(&bars));
    }

    html.push_str("<h2>Open findings by account and region</h2><div class=\"cols\">");
    html.push_str(&count_table(
        "account",
        "open-by-account",
        &tally.by_account,
    ));
    html.push_str(&count_table("region", "open-by-region", &tally.by_region));
    html.push_str(&count_table("source", "open-by-source", &tally.by_source));
    html.push_str("</div>");

    let _ = write!(
        html,
        "<h2>Top risks</h2><p class=\"meta\">Open critical and high findings, highest score first: {} shown.</p>\
         <table><thead><tr><th>severity</th><th class=\"num\">score</th><th>title</th><th>account</th><th>region</th><th>resource</th></tr></thead><tbody>",
        metric("top-risks", risks.len())
    );
    for finding in &risks {
        let _ = write!(
            html,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"t\">{}</td><td>{}</td><td>{}</td><td class=\"t\">{}</td></tr>",
            severity_name(finding.severity_id),
            score_text(finding.score),
            escape(&finding.title),
            escape(&finding.account),
            escape(&finding.region),
            escape(&finding.resource)
        );
    }
    html.push_str("</tbody></table>");

    let _ = write!(
        html,
        "<h2>Internet-exposed critical findings</h2><p class=\"meta\">{} open critical finding(s) on resources a security group opens to the internet.</p>\
         <table><thead><tr><th>resource</th><th>open ports</th><th>title</th><th>account</th><th>region</th></tr></thead><tbody>",
        metric("exposed-critical-rows", exposed.len())
    );
    for finding in &exposed {
        let _ = write!(
            html,
            "<tr><td class=\"t\">{}</td><td>{}</td><td class=\"t\">{}</td><td>{}</td><td>{}</td></tr>",
            escape(&finding.resource),
            escape(&finding.open_ports.join(", ")),
            escape(&finding.title),
            escape(&finding.account),
            escape(&finding.region)
        );
    }
    html.push_str("</tbody></table>");

    html.push_str(
        "<h2>Accounts</h2><table><thead><tr><th>account</th><th class=\"num\">open</th><th class=\"num\">critical</th>\
         <th class=\"num\">high</th><th class=\"num\">medium</th><th class=\"num\">low</th><th class=\"num\">exposed critical</th></tr></thead><tbody>",
    );
    for (account, row) in accounts(findings) {
        let cell = |name: &str, value: u64| {
            format!(
                "<td class=\"num\">{}</td>",
                metric(&format!("account:{account}:{name}"), value)
            )
        };
        let _ = write!(
            html,
            "<tr><td>{}</td>{}{}{}{}{}{}</tr>",
            escape(&account),
            cell("open", row.open),
            cell("critical", row.critical),
            cell("high", row.high),
            cell("medium", row.medium),
            cell("low", row.low),
            cell("exposed-critical", row.exposed_critical)
        );
    }
    html.push_str("</tbody></table></body></html>\n");
    html
}

/// `fanin report`'s flags.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    #[command(flatten)]
    pub stack: crate::places::StackFlags,
    /// Where to write the report.
    #[arg(long, value_name = "FILE", default_value = "fanin-report.html")]
    pub out: std::path::PathBuf,
    /// Read the latest-state index instead of the S3 archive.
    #[arg(long)]
    pub from_index: bool,
    /// The central bucket (default: output `BucketName` of the central stack).
    #[arg(long, value_name = "BUCKET")]
    pub bucket: Option<String>,
    #[command(flatten)]
    pub search: crate::search::SearchFlags,
}

/// Runs `fanin report` and prints where the file is.
pub async fn run(args: Args) -> anyhow::Result<()> {
    use anyhow::Context;
    let config = crate::places::aws_config(&args.stack).await;
    let mut stack = crate::places::StackReader::new(&config, &args.stack);
    let (findings, origin) = if args.from_index {
        let search = crate::search::Search::connect(&config, &mut stack, &args.search).await?;
        let findings = crate::findings::findings_from_index(&search).await?;
        (
            findings,
            format!("index {}-* at {}", search.prefix, search.url),
        )
    } else {
        let bucket = stack
            .place(crate::places::Place::Bucket, args.bucket.as_deref())
            .await?;
        let s3 = crate::places::s3_client(&config);
        let versions = crate::archive::read_all(&s3, &bucket).await?;
        (
            crate::findings::latest_from_archive(&versions),
            format!("archive s3://{bucket}"),
        )
    };
    let generated = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string();
    let html = render(&findings, &origin, &generated);
    std::fs::write(&args.out, html).with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "wrote {} ({} findings, {} open)",
        args.out.display(),
        findings.len(),
        findings.iter().filter(|f| f.open).count()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(uid: &str, severity_id: u64, score: Option<f64>, exposed: bool) -> Finding {
        Finding {
            class_uid: 2002,
            finding_uid: uid.into(),
            account: "111111111111".into(),
            region: "eu-west-1".into(),
            severity_id,
            source: "Inspector".into(),
            open: true,
            title: format!("<script>alert('{uid}')</script> & co"),
            score,
            resource: "i-0abc".into(),
            internet_exposed: exposed,
            open_ports: vec!["tcp 22".into()],
            time: 0,
        }
    }

    #[test]
    fn titles_are_text_not_markup() {
        let html = render(&[finding("a", 5, Some(9.8), true)], "archive <b>", "now");
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(&#39;a&#39;)&lt;/script&gt; &amp; co"));
        assert!(html.contains("From archive &lt;b&gt;"));
        assert!(
            !html.contains("src=") && !html.contains("href="),
            "nothing external"
        );
        assert_eq!(escape("a\u{0}b\"c"), "a\u{fffd}b&quot;c");
    }

    #[test]
    fn numbers_carry_their_metric() {
        let mut closed = finding("c", 5, Some(10.0), true);
        closed.open = false;
        let findings = [
            finding("a", 5, Some(9.8), true),
            finding("b", 4, None, false),
            finding("d", 4, Some(7.0), true),
            closed,
        ];
        let html = render(&findings, "archive", "now");
        for (name, value) in [
            ("findings", 4),
            ("open", 3),
            ("open-critical", 1),
            ("exposed-critical", 1),
            ("open-by-severity:High", 2),
            ("open-by-account:111111111111", 3),
            ("account:111111111111:high", 2),
            ("account:111111111111:exposed-critical", 1),
            ("top-risks", 3),
        ] {
            assert!(
                html.contains(&format!("data-metric=\"{name}\">{value}<")),
                "{name} = {value}"
            );
        }
        let order: Vec<&str> = top_risks(&findings)
            .iter()
            .map(|f| f.finding_uid.as_str())
            .collect();
        assert_eq!(order, ["a", "d", "b"], "by score, unscored last");
    }
}
