//! Cold start: each Lambda binary's time to ready, against a hello world.
//!
//! A loopback Lambda Runtime API records the moment each started process first
//! asks for `GET /2018-06-01/runtime/invocation/next`; the time to ready runs
//! from just before the spawn to that request. The API never answers: the
//! process is killed and the next one started. Rounds interleave the hello
//! world and every binary so that drift on the machine falls on all alike.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use tokio::sync::mpsc;

use crate::section::{Goal, Section};

/// The hello world's name in the results.
pub const HELLO: &str = "hello";

/// One binary to measure.
#[derive(Debug, Clone)]
pub struct Binary {
    pub name: String,
    pub path: PathBuf,
}

/// One binary's times to ready, in rounds' order.
#[derive(Debug, Clone)]
pub struct Times {
    pub name: String,
    pub millis: Vec<f64>,
}

impl Times {
    fn sorted(&self) -> Vec<f64> {
        let mut v = self.millis.clone();
        v.sort_by(f64::total_cmp);
        v
    }
    pub fn min(&self) -> f64 {
        self.sorted()[0]
    }
    pub fn median(&self) -> f64 {
        let v = self.sorted();
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    }
    /// Nearest-rank 90th percentile.
    pub fn p90(&self) -> f64 {
        let v = self.sorted();
        let rank = ((0.9 * v.len() as f64).ceil() as usize).max(1);
        v[rank - 1]
    }
}

/// What every started process finds in its environment: the Lambda's own
/// variables, static dummy credentials, and every `FANIN_*` setting a fanin
/// Lambda requires, pointing at unused loopback endpoints (nothing is called
/// before the first invocation).
fn environment(api: &str, name: &str) -> Vec<(&'static str, String)> {
    let unused = "127.0.0.1:9";
    vec![
        ("AWS_LAMBDA_RUNTIME_API", api.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", name.to_string()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "cold-start".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "AKIDCOLDSTART".into()),
        ("AWS_SECRET_ACCESS_KEY", "cold-start-secret".into()),
        ("AWS_SESSION_TOKEN", "cold-start-token".into()),
        ("AWS_ENDPOINT_URL", format!("http://{unused}")),
        ("FANIN_BUCKET", "central-findings".into()),
        ("FANIN_OPENSEARCH_URL", format!("https://{unused}")),
        ("FANIN_ROLE_NAME", "fanin-read".into()),
        ("FANIN_EXTERNAL_ID", "o-abc123-fanin".into()),
        ("FANIN_CENTRAL_ACCOUNT_ID", "999999999999".into()),
        ("FANIN_GUARD_POLICY_BUCKET", "central-guard".into()),
        ("FANIN_GUARD_POLICY_KEY", "guard/policy.json".into()),
        ("FANIN_REGIONS", "us-east-1".into()),
        ("FANIN_FLOW_LOG_BUCKET", "central-flow-logs".into()),
        ("FANIN_TRAIL_BUCKET", "central-trail".into()),
        ("FANIN_EVENT_BUS", "fanin".into()),
        (
            "FANIN_GUARD_OWN_ROLES",
            "arn:aws:iam::999999999999:role/fanin-guard".into(),
        ),
        ("RUST_LOG", "warn".into()),
    ]
}

#[derive(Clone)]
struct Api {
    next: mpsc::UnboundedSender<Instant>,
}

async fn next(State(api): State<Arc<Api>>) -> &'static str {
    let _ = api.next.send(Instant::now());
    // Never answer: the process is killed once its request is recorded.
    std::future::pending::<()>().await;
    ""
}

/// Runs `rounds` interleaved rounds: in each, the hello world and then every
/// binary once. Returns the hello world's times first.
pub async fn measure(
    hello: &Path,
    binaries: &[Binary],
    rounds: usize,
    timeout: Duration,
) -> anyhow::Result<Vec<Times>> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .with_state(Arc::new(Api { next: tx }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let api = listener.local_addr()?.to_string();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let mut all = vec![Binary {
        name: HELLO.into(),
        path: hello.to_path_buf(),
    }];
    all.extend(binaries.iter().cloned());
    let mut times: Vec<Times> = all
        .iter()
        .map(|b| Times {
            name: b.name.clone(),
            millis: Vec::new(),
        })
        .collect();
    for _ in 0..rounds {
        for (binary, times) in all.iter().zip(times.iter_mut()) {
            while rx.try_recv().is_ok() {}
            let mut command = tokio::process::Command::new(&binary.path);
            command
                .env_clear()
                .envs(environment(&api, &binary.name))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .kill_on_drop(true);
            let start = Instant::now();
            let mut child = command
                .spawn()
                .with_context(|| format!("starting {}", binary.path.display()))?;
            let ready = tokio::select! {
                r = rx.recv() => r,
                _ = child.wait() => None,
                _ = tokio::time::sleep(timeout) => None,
            };
            let _ = child.start_kill();
            let output = child.wait_with_output().await?;
            let Some(ready) = ready else {
                bail!(
                    "{} never asked for /next: {}",
                    binary.name,
                    String::from_utf8_lossy(&output.stderr)
                );
            };
            times
                .millis
                .push(ready.duration_since(start).as_secs_f64() * 1000.0);
        }
    }
    server.abort();
    Ok(times)
}

/// The `cold-start` section.
pub fn section(times: &[Times], rounds: usize, command: &str, before: Option<&str>) -> Section {
    let hello = times[0].median();
    let mut markdown = format!(
        "Time from just before spawn to the process's first `GET /2018-06-01/runtime/invocation/next` \
         on a loopback Runtime API, {rounds} interleaved rounds, against a plain `lambda_runtime` \
         hello world built with the same profile.\n\n\
         | binary | min (ms) | median (ms) | p90 (ms) | median / hello |\n|---|---:|---:|---:|---:|\n"
    );
    let mut goals = Vec::new();
    let mut data = serde_json::Map::new();
    for t in times {
        let ratio = t.median() / hello;
        markdown.push_str(&format!(
            "| {} | {:.2} | {:.2} | {:.2} | {:.2} × |\n",
            t.name,
            t.min(),
            t.median(),
            t.p90(),
            ratio
        ));
        data.insert(
            t.name.clone(),
            serde_json::json!({"min_ms": t.min(), "median_ms": t.median(), "p90_ms": t.p90(),
                "ratio_to_hello": ratio, "runs_ms": t.millis}),
        );
        if t.name != HELLO {
            goals.push(Goal {
                name: format!("cold start, {}", t.name),
                target: "≤ 2 × hello".into(),
                measured: format!("{ratio:.2} ×"),
                met: ratio <= 2.0,
            });
        }
    }
    if let Some(before) = before {
        markdown.push('\n');
        markdown.push_str(before);
        markdown.push('\n');
    }
    Section {
        title: "Cold start".into(),
        command: command.into(),
        markdown,
        goals,
        data: serde_json::Value::Object(data),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics() {
        let t = Times {
            name: "x".into(),
            millis: vec![5.0, 1.0, 3.0, 2.0, 4.0],
        };
        assert_eq!(t.min(), 1.0);
        assert_eq!(t.median(), 3.0);
        assert_eq!(t.p90(), 5.0);
        let t = Times {
            name: "x".into(),
            millis: vec![4.0, 1.0, 3.0, 2.0],
        };
        assert_eq!(t.median(), 2.5);
    }
}
