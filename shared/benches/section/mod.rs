//! Writes a benchmark's part of the report that `scripts/bench` assembles:
//! `$FANIN_BENCH_OUT/<name>.json` (default `<workspace>/target/bench`), in
//! the shape of `fanin_bench::section::Section` (bench/src/section.rs).

use std::path::PathBuf;

use serde_json::{Value, json};

/// One goal and how the figure stands against it.
pub struct Goal<'a> {
    pub name: &'a str,
    pub target: &'a str,
    pub measured: String,
    pub met: bool,
}

/// The section's content.
pub struct Section<'a> {
    pub title: &'a str,
    pub command: &'a str,
    pub markdown: String,
    pub goals: Vec<Goal<'a>>,
    pub data: Value,
}

/// Writes `section` as `<out>/<name>.json` and says where.
pub fn write(name: &str, section: Section) {
    let out = std::env::var_os("FANIN_BENCH_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/bench")));
    std::fs::create_dir_all(&out).expect("the report directory");
    let goals: Vec<Value> = section
        .goals
        .iter()
        .map(|goal| {
            json!({"name": goal.name, "target": goal.target, "measured": goal.measured, "met": goal.met})
        })
        .collect();
    let body = json!({
        "title": section.title,
        "command": section.command,
        "markdown": section.markdown,
        "goals": goals,
        "data": section.data,
    });
    let path = out.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_vec_pretty(&body).unwrap()).expect("the section file");
    println!("report section: {}", path.display());
}

/// `1234567.8` as `1,234,568`.
pub fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}
