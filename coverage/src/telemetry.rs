//! Logs: JSON lines on stdout under Lambda (CloudWatch Logs), human lines on
//! stderr on the command line, so `report --json` stays parseable.

/// Installs the `tracing` subscriber; `RUST_LOG` sets the filter.
pub fn init(under_lambda: bool) {
    if under_lambda {
        fanin::telemetry::init_json_logs();
        return;
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
