//! The report as a table for people (`fanin-coverage report`). Pure.

use std::fmt::Write;

use crate::report::{Check, ClassicCheck, Report, Row};

fn check(value: &Check) -> &'static str {
    match value {
        Check::Yes => "yes",
        Check::No => "NO",
        Check::Disabled => "DISABLED",
        Check::NotApplicable => "n/a",
        Check::Unknown { .. } => "?",
    }
}

fn classic(value: &ClassicCheck) -> String {
    match value {
        ClassicCheck::NotApplicable => "n/a".into(),
        ClassicCheck::Checked {
            templates,
            subscribed,
        } => format!("{subscribed}/{templates}"),
        ClassicCheck::Unknown { .. } => "?".into(),
    }
}

fn gap(row: &Row) -> String {
    if row.gaps.is_empty() {
        return "no".into();
    }
    let kinds: Vec<&str> = row.gaps.iter().map(|g| g.as_str()).collect();
    format!("YES ({})", kinds.join(", "))
}

/// One line per account and region, then what was not checked and why a
/// `?` is there.
pub fn table(report: &Report) -> String {
    let events_header = format!("inspector2 {}h", report.hours);
    let header = [
        "account",
        "name",
        "region",
        events_header.as_str(),
        "classic subscribed",
        "read role",
        "forwarder",
        "rules",
        "gap",
    ];
    let lines: Vec<[String; 9]> = report
        .rows
        .iter()
        .map(|row| {
            [
                row.account.to_string(),
                row.account_name.clone(),
                row.region.to_string(),
                row.inspector2_events
                    .map_or_else(|| "?".to_owned(), |n| n.to_string()),
                classic(&row.classic),
                check(&row.read_role).to_owned(),
                check(&row.forwarder).to_owned(),
                check(&row.inspector2_rule).to_owned(),
                gap(row),
            ]
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for line in &lines {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut write_line = |cells: &[&str]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        let _ = writeln!(out, "{}", padded.join("  ").trim_end());
    };
    write_line(&header);
    for line in &lines {
        let cells: Vec<&str> = line.iter().map(String::as_str).collect();
        write_line(&cells);
    }
    let with_gaps = report.rows_with_gaps().count();
    let _ = writeln!(
        out,
        "organization {}: {} account-region(s) checked, {with_gaps} with a gap",
        report.organization_id,
        report.rows.len()
    );
    if !report.excluded_accounts.is_empty() {
        let ids: Vec<String> = report
            .excluded_accounts
            .iter()
            .map(|a| a.to_string())
            .collect();
        let _ = writeln!(out, "excluded: {}", ids.join(", "));
    }
    if !report.inactive_accounts.is_empty() {
        let ids: Vec<String> = report
            .inactive_accounts
            .iter()
            .map(|a| a.to_string())
            .collect();
        let _ = writeln!(out, "not active: {}", ids.join(", "));
    }
    if let Some(error) = &report.events_error {
        let _ = writeln!(out, "?: event counts unknown: {error}");
    }
    for row in &report.rows {
        for (what, value) in [
            ("read role", &row.read_role),
            ("forwarder", &row.forwarder),
            ("rules", &row.inspector2_rule),
        ] {
            if let Check::Unknown { reason } = value
                && row.read_role != Check::No
            {
                let _ = writeln!(out, "?: {} {} {what}: {reason}", row.account, row.region);
            }
        }
        if let ClassicCheck::Unknown { reason } = &row.classic
            && row.read_role != Check::No
        {
            let _ = writeln!(out, "?: {} {} classic: {reason}", row.account, row.region);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use fanin::ids::{AccountId, Region};

    use super::*;
    use crate::report::GapKind;

    #[test]
    fn the_table_has_one_aligned_line_per_row_and_says_which_gaps() {
        let row = |account: &str, gaps: Vec<GapKind>, rule: Check| Row {
            account: AccountId::parse(account).unwrap(),
            account_name: "app".into(),
            region: Region::parse("us-east-1").unwrap(),
            inspector2_events: Some(12),
            classic: ClassicCheck::Checked {
                templates: 1,
                subscribed: 1,
            },
            read_role: Check::Yes,
            forwarder: Check::Yes,
            inspector2_rule: rule,
            gaps,
        };
        let report = Report {
            generated_at: DateTime::<Utc>::UNIX_EPOCH,
            hours: 24,
            organization_id: "o-abcdefghij".into(),
            rows: vec![
                row("111111111111", vec![], Check::Yes),
                row(
                    "222222222222",
                    vec![GapKind::Inspector2RuleMissing],
                    Check::No,
                ),
            ],
            excluded_accounts: vec![AccountId::parse("999999999999").unwrap()],
            inactive_accounts: vec![],
            events_error: None,
        };
        let text = table(&report);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("account       name  region     inspector2 24h"));
        assert_eq!(
            lines[1],
            "111111111111  app   us-east-1  12              1/1                 yes        yes        yes    no"
        );
        assert!(
            lines[2].ends_with("NO     YES (inspector2_rule_missing)"),
            "{}",
            lines[2]
        );
        assert_eq!(
            lines[3],
            "organization o-abcdefghij: 2 account-region(s) checked, 1 with a gap"
        );
        assert_eq!(lines[4], "excluded: 999999999999");
    }
}
