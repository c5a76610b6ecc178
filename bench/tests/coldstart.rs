//! `fanin-bench cold-start` on the debug hello world and the debug collector:
//! both become ready (a real `/next` request is seen) and the section parses.
//! No time is asserted.
use std::path::PathBuf;
use std::process::Command;

use fanin_bench::section::Section;

fn debug_binary(name: &str) -> PathBuf {
    // target/debug/deps/coldstart-… → target/debug/<name>
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join(name)
}

#[test]
fn hello_and_collector_become_ready() {
    let collector = debug_binary("fanin-collector");
    assert!(
        collector.exists(),
        "build the workspace first: {}",
        collector.display()
    );
    let out = std::env::temp_dir().join(format!("fanin-cold-start-{}", std::process::id()));
    let status = Command::new(env!("CARGO_BIN_EXE_fanin-bench"))
        .args([
            "cold-start",
            "--runs",
            "2",
            "--hello",
            env!("CARGO_BIN_EXE_fanin-hello-lambda"),
        ])
        .arg(format!("--binary=collector={}", collector.display()))
        .arg("--out")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let raw = std::fs::read_to_string(out.join("cold-start.json")).unwrap();
    std::fs::remove_dir_all(&out).unwrap();
    let section: Section = serde_json::from_str(&raw).unwrap();
    for name in ["hello", "collector"] {
        let runs = section.data[name]["runs_ms"].as_array().unwrap();
        assert_eq!(runs.len(), 2, "{name}");
        assert!(runs.iter().all(|r| r.as_f64().unwrap() > 0.0), "{name}");
    }
    assert_eq!(section.goals.len(), 1);
    assert_eq!(section.goals[0].name, "cold start, collector");
}
