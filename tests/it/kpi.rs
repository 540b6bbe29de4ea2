//! KPIs from a real Prometheus (the Debian package, started here) scraping metrics this test
//! serves over loopback: the gate is green while the error rate is low and turns red, blocking a
//! rollout, when it crosses 0.5%.

use crate::common;

use crate::common::{cli, ok, text};

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Prometheus {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Serves `/metrics` in the Prometheus text format with the current values.
fn serve_metrics(values: Arc<Mutex<(f64, f64)>>) -> String {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let values = values.clone();
            async move {
                let (errors, queue) = *values.lock().expect("values");
                format!(
                    "# TYPE app_error_ratio_percent gauge\napp_error_ratio_percent {errors}\n# TYPE app_queue_depth gauge\napp_queue_depth{{queue=\"ot\"}} {queue}\napp_queue_depth{{queue=\"snapshots\"}} 1\n"
                )
            }
        }),
    );
    common::serve(app)
}

fn start_prometheus(target: &str) -> Prometheus {
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: app\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .expect("config");
    let port = common::free_port();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus is installed (./scripts/test.sh installs it)");
    Prometheus {
        child,
        base: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    }
}

fn workspace(prometheus: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("dir");
    let root = dir.path().join("ws");
    common::init(&root);
    let cfg = root.join("release-console.toml");
    let config = std::fs::read_to_string(&cfg).expect("config");
    let start = config.find("[kpi]").expect("kpi table");
    // [kpi] and its [[kpi.metrics]] run to the next top-level table.
    let rest = &config[start..];
    let end = rest
        .match_indices("\n[")
        .find(|(i, _)| !rest[i + 1..].starts_with("[[kpi.metrics]]"))
        .map_or(config.len(), |(i, _)| start + i + 1);
    let kpi = format!(
        "[kpi]\nprovider = \"prometheus\"\napi_base = \"{prometheus}\"\n\n\
         [[kpi.metrics]]\nname = \"error_rate\"\ntitle = \"Error rate\"\nunit = \"%\"\nquery = \"max(app_error_ratio_percent)\"\nthreshold = 0.5\ndirection = \"below\"\ngating = true\n\n\
         [[kpi.metrics]]\nname = \"queue_depth\"\ntitle = \"Queue depth\"\nquery = \"app_queue_depth\"\nthreshold = 100.0\ndirection = \"below\"\ngating = true\n"
    );
    let config = format!("{}{kpi}\n{}", &config[..start], &config[end..])
        // No hold, so only the KPI gate decides.
        .replace(
            "min_hold_hours = [\n    2,\n    24,\n]",
            "min_hold_hours = [0, 0]",
        );
    assert!(config.contains("min_hold_hours = [0, 0]"), "{config}");
    std::fs::write(&cfg, config).expect("config");
    (dir, root)
}

fn gate(ws: &Path) -> (Option<i32>, serde_json::Value) {
    let o = cli(ws, &["--json", "kpi", "--since", "5m"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&o)));
    (o.status.code(), v)
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_mins(1);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn a_real_prometheus_gates_a_rollout_on_the_error_rate() {
    let values = Arc::new(Mutex::new((0.12, 7.0)));
    let target = serve_metrics(values.clone());
    let prometheus = start_prometheus(&target);
    let (_dir, ws) = workspace(&prometheus.base);

    // Healthy: green once Prometheus has scraped both series.
    wait_for("a green gate", || gate(&ws).1["gate"]["state"] == "green");
    let (code, v) = gate(&ws);
    assert_eq!(code, Some(0), "{v:#}");
    let kpis = v["kpis"].as_array().expect("kpis");
    let queue = kpis
        .iter()
        .find(|k| k["def"]["name"] == "queue_depth")
        .expect("queue");
    assert_eq!(
        queue["current"], 7.0,
        "the worst of the two queue series: {queue:#}"
    );
    assert!(queue["series"].as_array().is_some_and(|s| !s.is_empty()));

    let o = cli(
        &ws,
        &[
            "flags",
            "create",
            "ui_new_exporter",
            "--name",
            "New exporter",
        ],
    );
    ok(&o);
    let o = cli(&ws, &["flags", "advance", "ui_new_exporter"]);
    ok(&o);

    // The error rate crosses 0.5%: the gate turns red and names the breach.
    values.lock().expect("values").0 = 0.8;
    wait_for("a red gate", || gate(&ws).1["gate"]["state"] == "red");
    let (code, v) = gate(&ws);
    assert_eq!(code, Some(1));
    assert_eq!(
        v["gate"]["detail"], "error_rate reached 0.80% (limit 0.50%)",
        "{v:#}"
    );
    let o = cli(
        &ws,
        &["flags", "advance", "ui_new_exporter", "--override", "   "],
    );
    assert_eq!(o.status.code(), Some(1), "a blank reason is no override");
    assert!(
        text(&o).contains("error_rate reached 0.80%"),
        "{}",
        text(&o)
    );

    // A query Prometheus rejects is reported, and the gate is not green.
    let cfg = ws.join("release-console.toml");
    let broken = std::fs::read_to_string(&cfg).expect("config").replace(
        "max(app_error_ratio_percent)",
        "max(app_error_ratio_percent",
    );
    std::fs::write(&cfg, broken).expect("config");
    let (code, v) = gate(&ws);
    assert_eq!(code, Some(1));
    assert_eq!(v["gate"]["state"], "unknown", "{v:#}");
    assert!(
        v["gate"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("Prometheus rejected")),
        "{v:#}"
    );
}

#[test]
fn a_real_prometheus_series_that_turns_nan_turns_the_gate_red() {
    let values = Arc::new(Mutex::new((0.1, 3.0)));
    let target = serve_metrics(values.clone());
    let prometheus = start_prometheus(&target);
    let (_dir, ws) = workspace(&prometheus.base);
    wait_for("a green gate", || gate(&ws).1["gate"]["state"] == "green");
    // The exporter divides by zero requests during an outage: NaN, which Prometheus stores.
    values.lock().expect("values").0 = f64::NAN;
    wait_for("a red gate", || gate(&ws).1["gate"]["state"] == "red");
    let (code, v) = gate(&ws);
    assert_eq!(code, Some(1));
    assert!(
        v["gate"]["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("error_rate was not a number (NaN)")),
        "{v:#}"
    );
}
