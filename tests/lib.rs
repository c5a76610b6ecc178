//! Helpers of the end-to-end tests.

use std::io::Write;
use std::process::{Command, Stdio};

/// Validates documents with pydantic-ocsf (an independent OCSF reader).
/// Returns the validator's report; fails if any document is invalid.
pub fn validate_ocsf(documents: &[serde_json::Value]) -> anyhow::Result<String> {
    let python = fanin_devstack::procs::local_dir()
        .join("venv")
        .join("bin")
        .join("python");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("validate_ocsf.py");
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input: String = documents.iter().map(|d| format!("{d}\n")).collect();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output()?;
    writer.join().expect("writer thread")?;
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    anyhow::ensure!(output.status.success(), "OCSF validation failed:\n{report}");
    Ok(report)
}

/// `POST <osmem>/<target>/_search` with `body`, after a refresh of `target`
/// (an index, alias, pattern or comma list): the answer as JSON.
pub async fn search(osmem: &str, target: &str, body: &serde_json::Value) -> serde_json::Value {
    let http = reqwest::Client::new();
    http.post(format!("{osmem}/{target}/_refresh"))
        .send()
        .await
        .expect("osmem-server answers");
    http.post(format!("{osmem}/{target}/_search"))
        .json(body)
        .send()
        .await
        .expect("osmem-server answers")
        .json()
        .await
        .expect("a JSON answer")
}
