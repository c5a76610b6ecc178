//! Runs a project Lambda as a real Lambda process: cargo-lambda's local
//! runtime serves the Runtime and Invoke APIs, and the prebuilt binary polls
//! it exactly as it polls the Runtime API in AWS.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

use crate::procs::{free_port, local_dir, log_dir};

/// The workspace root (where cargo-lambda finds a manifest).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A workspace binary: `$FANIN_BIN_DIR/<name>`, else `target/debug/<name>`.
pub fn workspace_binary(name: &str) -> PathBuf {
    let dir = std::env::var_os("FANIN_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target").join("debug"));
    dir.join(name)
}

/// A running function: the local runtime plus the function process.
pub struct LocalLambda {
    pub name: String,
    pub invoke_url: String,
    /// Where the function's stdout and stderr (its JSON logs) go.
    pub log_path: PathBuf,
    http: reqwest::Client,
    _runtime: Child,
    function: Child,
}

impl LocalLambda {
    /// Starts `binary` as function `name` with `env` (plus the Lambda
    /// runtime variables), and waits until the runtime answers.
    pub async fn start(
        name: &str,
        binary: &Path,
        env: &[(String, String)],
    ) -> anyhow::Result<Self> {
        if !binary.exists() {
            bail!(
                "{} is not built: run `cargo build --workspace --bins` first",
                binary.display()
            );
        }
        let cargo_lambda = local_dir().join("venv").join("bin").join("cargo-lambda");
        if !cargo_lambda.exists() {
            bail!("cargo-lambda is not installed: run scripts/setup");
        }
        let port = free_port().await;
        std::fs::create_dir_all(log_dir())?;
        let runtime_log =
            std::fs::File::create(log_dir().join(format!("{name}-runtime-{port}.log")))?;
        let runtime = Command::new(&cargo_lambda)
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                "-A",
                "127.0.0.1",
                "-P",
                &port.to_string(),
            ])
            .current_dir(workspace_root())
            .stdin(Stdio::null())
            .stdout(Stdio::from(runtime_log.try_clone()?))
            .stderr(Stdio::from(runtime_log))
            .kill_on_drop(true)
            .spawn()
            .context("starting cargo-lambda's local runtime")?;
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .build()?;
        wait_for_port(port)
            .await
            .with_context(|| format!("cargo-lambda runtime for {name} did not start"))?;

        let log_path = log_dir().join(format!("{name}-{port}.log"));
        let function_log = std::fs::File::create(&log_path)?;
        let function = Command::new(binary)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("AWS_LAMBDA_RUNTIME_API", format!("{base}/.rt"))
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
            .stdin(Stdio::null())
            .stdout(Stdio::from(function_log.try_clone()?))
            .stderr(Stdio::from(function_log))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        Ok(Self {
            name: name.to_owned(),
            invoke_url: format!("{base}/2015-03-31/functions/_/invocations"),
            log_path,
            http,
            _runtime: runtime,
            function,
        })
    }

    /// The function process's peak resident memory (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.function.id()?)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// The function process's exit status once it has ended (a Lambda that
    /// fails at start ends before its first invocation).
    pub fn exit_status(&mut self) -> anyhow::Result<Option<std::process::ExitStatus>> {
        Ok(self.function.try_wait()?)
    }

    /// Invokes the function synchronously and returns its answer.
    pub async fn invoke(
        &mut self,
        payload: &serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        if let Some(status) = self.function.try_wait()? {
            bail!("function {} exited ({status}); see .local/logs", self.name);
        }
        let response = self
            .http
            .post(&self.invoke_url)
            .json(payload)
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("invoking {} answered {status}: {text}", self.name);
        }
        serde_json::from_str(&text)
            .with_context(|| format!("{} answered non-JSON: {text}", self.name))
    }
}

async fn wait_for_port(port: u16) -> anyhow::Result<()> {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("nothing listens on 127.0.0.1:{port} after 10 s")
}
