//! `fanin-bench report`: the sections the measurements wrote, assembled into
//! one Markdown report with the machine, the commit, the command and the
//! goals on top.
//!
//! The report goes between the markers [`BEGIN`] and [`END`] of its file, so a
//! hand-written part around it (in `docs/performance.md`, what changed
//! because of the report) survives the next run.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::section::Section;

pub const BEGIN: &str =
    "<!-- fanin-bench report: begin (written by scripts/bench; edit outside the markers) -->";
pub const END: &str = "<!-- fanin-bench report: end -->";

/// The sections in report order; others follow in name order.
pub const ORDER: [&str; 7] = [
    "collector-cpu",
    "cold-start",
    "memory-throughput",
    "calls",
    "sizes",
    "parser-flowlogs",
    "parser-cloudtrail",
];

/// Where and how the report was measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub command: String,
    pub commit: String,
    pub date: String,
    pub machine: Vec<(String, String)>,
}

/// A section read from the sections directory, or the reason it is missing.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Measured {
        section: Section,
        /// Where and when it was measured (`<name>.run`, written by
        /// `scripts/bench`): a report run with `--only` keeps the other
        /// sections of earlier runs, each with its own commit.
        at: Option<String>,
    },
    /// `<name>.error` holds what went wrong, or nothing was written.
    Missing { reason: String },
}

/// Reads every expected section and any other `*.json` in `dir`.
pub fn read_sections(dir: &Path) -> anyhow::Result<Vec<(String, Part)>> {
    let mut names: Vec<String> = ORDER.iter().map(|name| name.to_string()).collect();
    let mut others = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "json")
            && let Some(stem) = path.file_stem().and_then(|stem| stem.to_str())
            && !names.iter().any(|name| name == stem)
        {
            others.push(stem.to_owned());
        }
    }
    others.sort();
    names.extend(others);
    names
        .into_iter()
        .map(|name| {
            let part = read_part(dir, &name)?;
            Ok((name, part))
        })
        .collect()
}

fn read_part(dir: &Path, name: &str) -> anyhow::Result<Part> {
    let json = dir.join(format!("{name}.json"));
    if json.is_file() {
        let bytes = std::fs::read(&json)?;
        let section = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a report section", json.display()))?;
        let at = std::fs::read_to_string(dir.join(format!("{name}.run")))
            .ok()
            .map(|text| text.trim().to_owned())
            .filter(|text| !text.is_empty());
        return Ok(Part::Measured { section, at });
    }
    let error = dir.join(format!("{name}.error"));
    let reason = std::fs::read_to_string(&error)
        .map(|text| text.trim().to_owned())
        .unwrap_or_else(|_| "not run".to_owned());
    Ok(Part::Missing { reason })
}

/// The report's Markdown, between its markers.
pub fn render(run: &Run, parts: &[(String, Part)]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{BEGIN}\n");
    let _ = writeln!(out, "## The latest report\n");
    let _ = writeln!(
        out,
        "Written by `{}` on {}, commit `{}`.\n",
        run.command, run.date, run.commit
    );
    let _ = writeln!(out, "| machine | |\n| --- | --- |");
    for (key, value) in &run.machine {
        let _ = writeln!(out, "| {key} | {value} |");
    }
    let _ = writeln!(out, "\n### Goals\n");
    let _ = writeln!(
        out,
        "| what | goal | measured | |\n| --- | --- | --- | --- |"
    );
    for (_, part) in parts {
        if let Part::Measured { section, .. } = part {
            for goal in &section.goals {
                let verdict = if goal.met { "met" } else { "**missed**" };
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {verdict} |",
                    goal.name, goal.target, goal.measured
                );
            }
        }
    }
    let missing: Vec<&str> = parts
        .iter()
        .filter(|(_, part)| matches!(part, Part::Missing { .. }))
        .map(|(name, _)| name.as_str())
        .collect();
    if !missing.is_empty() {
        let _ = writeln!(
            out,
            "\nNot measured in this run: {} (reasons below).",
            missing.join(", ")
        );
    }
    for (name, part) in parts {
        match part {
            Part::Measured { section, at } => {
                let _ = writeln!(out, "\n### {}\n", section.title);
                match at {
                    Some(at) => {
                        let _ = writeln!(out, "Command: `{}` ({at})\n", section.command);
                    }
                    None => {
                        let _ = writeln!(out, "Command: `{}`\n", section.command);
                    }
                }
                let _ = writeln!(out, "{}", section.markdown.trim_end());
            }
            Part::Missing { reason } => {
                let _ = writeln!(out, "\n### `{name}`: not measured\n");
                let _ = writeln!(out, "```text\n{reason}\n```");
            }
        }
    }
    let _ = writeln!(out, "\n{END}");
    out
}

/// Puts `report` between the markers of `existing`, or after it when it has
/// none.
pub fn splice(existing: &str, report: &str) -> String {
    match (existing.find(BEGIN), existing.find(END)) {
        (Some(begin), Some(end)) if begin < end => format!(
            "{}{}{}",
            &existing[..begin],
            report.trim_end(),
            &existing[end + END.len()..]
        ),
        _ if existing.trim().is_empty() => {
            format!("# Performance\n\n{report}")
        }
        _ => format!("{}\n\n{report}", existing.trim_end()),
    }
}

/// Reads the sections in `dir` and writes the report into `out`.
pub fn write(dir: &Path, out: &Path, run: &Run) -> anyhow::Result<PathBuf> {
    let parts = read_sections(dir)?;
    let report = render(run, &parts);
    let existing = std::fs::read_to_string(out).unwrap_or_default();
    std::fs::write(out, splice(&existing, &report))
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(out.to_owned())
}

/// The machine the report was measured on, from `/proc` and `rustc`.
pub fn machine() -> Vec<(String, String)> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map(|(_, model)| model.trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get().to_string())
        .unwrap_or_else(|_| "unknown".to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown".to_owned());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|text| text.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned());
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".to_owned());
    let rustc = std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    vec![
        ("CPU".to_owned(), cpu),
        ("cores".to_owned(), cores),
        ("memory".to_owned(), memory),
        ("kernel".to_owned(), kernel),
        ("load average when the report was written".to_owned(), load),
        ("compiler".to_owned(), rustc),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::section::Goal;

    fn section(title: &str, goals: Vec<Goal>) -> Section {
        Section {
            title: title.to_owned(),
            command: "cargo bench -p fanin --bench collector".to_owned(),
            markdown: "| a | b |\n| --- | --- |\n| 1 | 2 |\n".to_owned(),
            goals,
            data: serde_json::Value::Null,
        }
    }

    fn run() -> Run {
        Run {
            command: "scripts/bench".to_owned(),
            commit: "abc1234".to_owned(),
            date: "2026-12-01".to_owned(),
            machine: vec![("cores".to_owned(), "2".to_owned())],
        }
    }

    #[test]
    fn sections_come_in_report_order_with_missing_ones_named() {
        let dir = std::env::temp_dir().join(format!("fanin-bench-report-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, section: &Section| {
            std::fs::write(
                dir.join(format!("{name}.json")),
                serde_json::to_vec(section).unwrap(),
            )
            .unwrap()
        };
        write("zz-extra", &section("Extra", vec![]));
        write("cold-start", &section("Cold start", vec![]));
        let cpu = section(
            "Collector CPU",
            vec![Goal {
                name: "Inspector2 against the generic floor".to_owned(),
                target: "≥ 85 %".to_owned(),
                measured: "78 %".to_owned(),
                met: false,
            }],
        );
        write("collector-cpu", &cpu);
        std::fs::write(
            dir.join("collector-cpu.run"),
            "commit `0ld0ne1`, 2026-11-30 10:00 UTC\n",
        )
        .unwrap();
        std::fs::write(dir.join("sizes.error"), "cargo lambda build failed\n").unwrap();

        let parts = read_sections(&dir).unwrap();
        let names: Vec<&str> = parts.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names[..3],
            ["collector-cpu", "cold-start", "memory-throughput"]
        );
        assert_eq!(names.last(), Some(&"zz-extra"));
        assert_eq!(
            parts[0].1,
            Part::Measured {
                section: cpu,
                at: Some("commit `0ld0ne1`, 2026-11-30 10:00 UTC".to_owned())
            }
        );
        let sizes = parts.iter().find(|(name, _)| name == "sizes").unwrap();
        assert_eq!(
            sizes.1,
            Part::Missing {
                reason: "cargo lambda build failed".to_owned()
            }
        );

        let text = render(&run(), &parts);
        assert!(
            text.contains("| Inspector2 against the generic floor | ≥ 85 % | 78 % | **missed** |")
        );
        assert!(text.contains("commit `abc1234`"));
        assert!(text.contains(
            "Command: `cargo bench -p fanin --bench collector` (commit `0ld0ne1`, 2026-11-30 10:00 UTC)\n"
        ));
        assert!(
            text.contains("### Cold start\n\nCommand: `cargo bench -p fanin --bench collector`\n")
        );
        assert!(
            text.contains("### `sizes`: not measured\n\n```text\ncargo lambda build failed\n```")
        );
        let cpu_at = text.find("### Collector CPU").unwrap();
        let cold_at = text.find("### Cold start").unwrap();
        let extra_at = text.find("### Extra").unwrap();
        assert!(cpu_at < cold_at && cold_at < extra_at);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_report_replaces_only_what_is_between_its_markers() {
        let first = render(&run(), &[]);
        let page = splice("", &first);
        assert!(page.starts_with("# Performance\n\n"));
        let edited = page.replace("# Performance\n\n", "# Performance\n\nIntro.\n\n")
            + "\n## What changed because of it\n\nSHA-256 at opt-level 3.\n";
        let mut second_run = run();
        second_run.commit = "def5678".to_owned();
        let again = splice(&edited, &render(&second_run, &[]));
        assert!(again.contains("Intro.\n\n"));
        assert!(again.contains("## What changed because of it\n\nSHA-256 at opt-level 3.\n"));
        assert!(again.contains("commit `def5678`"));
        assert!(!again.contains("abc1234"));
        assert_eq!(again.matches(BEGIN).count(), 1);
    }
}
