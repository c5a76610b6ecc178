//! The real servers of the local stack (moto, osmem-server), started as child
//! processes on free loopback ports and killed when their [`ChildServer`] is
//! dropped.
//!
//! Both tools are installed by `scripts/setup` into `.local/venv` (see
//! [`local_dir`]). Each server's stdout and stderr go to
//! `.local/logs/<name>-<port>.log`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

/// How long a server may take to answer its first request.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The project's local folder: `$FANIN_LOCAL_DIR` if set, else
/// `<workspace root>/.local`.
pub fn local_dir() -> PathBuf {
    match std::env::var_os("FANIN_LOCAL_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(".local"),
    }
}

/// The folder the child servers' logs go to (`<local_dir>/logs`).
pub fn log_dir() -> PathBuf {
    local_dir().join("logs")
}

/// The Python virtual environment `scripts/setup` installs the tools into.
pub fn venv_dir() -> PathBuf {
    local_dir().join("venv")
}

/// A free TCP port on 127.0.0.1 for a child server to listen on, not handed
/// out again in this process before every other port of its range has been.
///
/// The child binds the port some time after this returns (moto takes a
/// second to start), so a port the kernel hands out (`bind` to port 0, or an
/// outgoing connection) could be taken by someone else meanwhile, and
/// another test's server would then answer this one's readiness probe: two
/// tests would share one moto (CI saw `Stack ... already exists` on a fresh
/// stack). The ports come from below the kernel's ephemeral range
/// (`net.ipv4.ip_local_port_range`), which no automatic assignment uses, and
/// from a counter that starts at a place of this process's id, so
/// concurrent processes start far apart; each is checked free by binding it.
pub async fn free_port() -> u16 {
    static NEXT: std::sync::Mutex<Option<u16>> = std::sync::Mutex::new(None);
    let (low, high) = reserved_range();
    let span = u32::from(high - low);
    for _ in 0..span {
        let port = {
            let mut next = NEXT.lock().expect("the port counter is never poisoned");
            let port = next.unwrap_or_else(|| {
                low + u16::try_from(std::process::id() % span).expect("below span")
            });
            *next = Some(if port + 1 >= high { low } else { port + 1 });
            port
        };
        if tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return port;
        }
    }
    panic!("no free port on 127.0.0.1 in {low}..{high}");
}

/// The ports [`free_port`] hands out: from 10000 to the start of the
/// kernel's ephemeral range (32768 when it cannot be read), at least a
/// thousand (where the ephemeral range starts lower, they overlap it).
fn reserved_range() -> (u16, u16) {
    const LOW: u16 = 10_000;
    let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    (LOW, ephemeral_start.max(LOW + 1_000))
}

/// A server running as a child process. Killed when dropped.
#[derive(Debug)]
pub struct ChildServer {
    /// Base URL, e.g. `http://127.0.0.1:40123` (no trailing slash).
    pub url: String,
    /// The log file that receives the server's stdout and stderr.
    pub log: PathBuf,
    child: Child,
}

impl ChildServer {
    /// The OS process id, while the child runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_default()
    }

    /// Kills the server and waits for it to exit.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.child.kill().await.context("killing child server")
    }

    /// Spawns `program args...` with output to `.local/logs/<name>-<port>.log`
    /// and waits until `GET <url><probe>` answers with any HTTP status.
    async fn spawn(
        name: &str,
        program: &Path,
        args: &[String],
        port: u16,
        probe_paths: &[&str],
    ) -> anyhow::Result<Self> {
        let logs = log_dir();
        std::fs::create_dir_all(&logs)
            .with_context(|| format!("creating log folder {}", logs.display()))?;
        let log = logs.join(format!("{name}-{port}.log"));
        let out = std::fs::File::create(&log)
            .with_context(|| format!("creating log file {}", log.display()))?;
        let err = out.try_clone().context("cloning log file handle")?;
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!(
                    "starting {name} ({}); run scripts/setup to install the local stack tools",
                    program.display()
                )
            })?;
        let mut server = ChildServer {
            url: format!("http://127.0.0.1:{port}"),
            log,
            child,
        };
        server.wait_ready(name, probe_paths).await?;
        Ok(server)
    }

    async fn wait_ready(&mut self, name: &str, probe_paths: &[&str]) -> anyhow::Result<()> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()
            .context("building HTTP client")?;
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().context("polling child")? {
                bail!(
                    "{name} exited early ({status}); last log lines from {}:\n{}",
                    self.log.display(),
                    log_tail(&self.log)
                );
            }
            for path in probe_paths {
                if http.get(format!("{}{path}", self.url)).send().await.is_ok() {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                bail!(
                    "{name} did not answer on {} within {:?}; last log lines from {}:\n{}",
                    self.url,
                    READY_TIMEOUT,
                    self.log.display(),
                    log_tail(&self.log)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

fn require_file(path: &Path, what: &str) -> anyhow::Result<()> {
    if path.is_file() {
        Ok(())
    } else {
        bail!(
            "{what} is not installed ({} is missing): run scripts/setup",
            path.display()
        )
    }
}

/// moto's server (`moto_server` from `.local/venv`), every AWS API but
/// Inspector Classic.
pub struct MotoServer;

impl MotoServer {
    /// The `moto_server` executable.
    pub fn binary() -> PathBuf {
        venv_dir().join("bin").join("moto_server")
    }

    /// Starts `moto_server -H 127.0.0.1 -p <free port>` and waits until
    /// `GET /moto-api/` answers.
    pub async fn start() -> anyhow::Result<ChildServer> {
        let program = Self::binary();
        require_file(&program, "moto (moto_server)")?;
        let port = free_port().await;
        let args = vec![
            "-H".to_string(),
            "127.0.0.1".to_string(),
            "-p".to_string(),
            port.to_string(),
        ];
        ChildServer::spawn("moto", &program, &args, port, &["/moto-api/"]).await
    }
}

/// osmem-server, the in-memory OpenSearch REST API.
pub struct OsmemServer;

impl OsmemServer {
    /// The osmem-server executable, as the installed Python package reports it.
    pub async fn binary() -> anyhow::Result<PathBuf> {
        let python = venv_dir().join("bin").join("python");
        require_file(&python, "the local stack's Python environment")?;
        let out = Command::new(&python)
            .args([
                "-c",
                "import osmem_server; print(osmem_server.resolve_binary())",
            ])
            .stdin(Stdio::null())
            .output()
            .await
            .with_context(|| format!("running {}", python.display()))?;
        if !out.status.success() {
            bail!(
                "osmem-server is not installed in {} (run scripts/setup): {}",
                venv_dir().display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        require_file(&path, "osmem-server")?;
        Ok(path)
    }

    /// Starts `<osmem-server> -addr 127.0.0.1:<free port> -no-stdin-watch`
    /// (exiting by itself if this process disappears) and waits until `GET /`
    /// answers.
    pub async fn start() -> anyhow::Result<ChildServer> {
        let program = Self::binary().await?;
        let port = free_port().await;
        let args = vec![
            "-addr".to_string(),
            format!("127.0.0.1:{port}"),
            "-no-stdin-watch".to_string(),
            "-parent-pid".to_string(),
            std::process::id().to_string(),
        ];
        ChildServer::spawn("osmem", &program, &args, port, &["/", "/_cluster/health"]).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn free_ports_are_never_handed_out_twice_nor_from_the_ephemeral_range() {
        let (low, high) = reserved_range();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let port = free_port().await;
            assert!((low..high).contains(&port), "{port} outside {low}..{high}");
            assert!(seen.insert(port), "{port} handed out twice");
        }
    }

    #[test]
    fn local_dir_ends_in_dot_local_by_default() {
        if std::env::var_os("FANIN_LOCAL_DIR").is_none() {
            assert!(local_dir().ends_with(".local"));
        }
    }
}
