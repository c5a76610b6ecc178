//! Sizes: each Lambda's `bootstrap` and `bootstrap.zip`, per architecture,
//! under cargo-lambda's output directories (`<dir>/<bin>/bootstrap[.zip]`).

use std::path::Path;

use anyhow::Context;

use crate::section::Section;

/// One Lambda's sizes on one architecture.
#[derive(Debug, Clone, PartialEq)]
pub struct Size {
    pub arch: String,
    pub lambda: String,
    pub bootstrap: Option<u64>,
    pub zip: Option<u64>,
}

/// Reads the sizes of every `<dir>/<bin>/bootstrap` and `bootstrap.zip`.
pub fn read(arch: &str, dir: &Path) -> anyhow::Result<Vec<Size>> {
    let mut sizes = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        let len = |name: &str| {
            std::fs::metadata(entry.path().join(name))
                .ok()
                .map(|m| m.len())
        };
        let (bootstrap, zip) = (len("bootstrap"), len("bootstrap.zip"));
        if bootstrap.is_none() && zip.is_none() {
            continue;
        }
        sizes.push(Size {
            arch: arch.into(),
            lambda: entry.file_name().to_string_lossy().into_owned(),
            bootstrap,
            zip,
        });
    }
    sizes.sort_by(|a, b| a.lambda.cmp(&b.lambda));
    Ok(sizes)
}

fn cell(bytes: Option<u64>) -> String {
    match bytes {
        Some(b) => format!("{b} ({:.2} MiB)", b as f64 / (1024.0 * 1024.0)),
        None => "—".into(),
    }
}

/// The `sizes` section.
pub fn section(sizes: &[Size], command: &str) -> Section {
    let mut markdown = String::from(
        "| architecture | Lambda | bootstrap, bytes (MiB) | bootstrap.zip, bytes (MiB) |\n|---|---|---:|---:|\n",
    );
    for s in sizes {
        markdown.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            s.arch,
            s.lambda,
            cell(s.bootstrap),
            cell(s.zip)
        ));
    }
    let data = sizes
        .iter()
        .map(|s| {
            serde_json::json!({"arch": s.arch, "lambda": s.lambda,
            "bootstrap_bytes": s.bootstrap, "zip_bytes": s.zip})
        })
        .collect();
    Section {
        title: "Binary and zip sizes".into(),
        command: command.into(),
        markdown,
        goals: Vec::new(),
        data: serde_json::Value::Array(data),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cargo_lambda_layout() {
        let dir = std::env::temp_dir().join(format!("fanin-sizes-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("fanin-collector")).unwrap();
        std::fs::write(dir.join("fanin-collector/bootstrap"), [0u8; 10]).unwrap();
        std::fs::write(dir.join("fanin-collector/bootstrap.zip"), [0u8; 4]).unwrap();
        std::fs::create_dir_all(dir.join("empty")).unwrap();
        let sizes = read("x86_64", &dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            sizes,
            vec![Size {
                arch: "x86_64".into(),
                lambda: "fanin-collector".into(),
                bootstrap: Some(10),
                zip: Some(4)
            }]
        );
        assert!(
            section(&sizes, "c")
                .markdown
                .contains("| x86_64 | fanin-collector | 10 ")
        );
    }
}
