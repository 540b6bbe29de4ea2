//! `CloudWatch` as the KPI source, against a real moto server over loopback: metrics put with
//! `PutMetricData`, read back by the console's signed `GetMetricData`; the rollout gate goes
//! green on healthy values and red when the error rate breaches its threshold.

use crate::common;

use std::path::Path;

use crate::common::{Moto, cli_with, text};
use serde_json::{Value, json};

const ENV: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "AKIATESTCONSOLE"),
    ("AWS_SECRET_ACCESS_KEY", "moto-test-secret-key-xyz"),
    ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
];

/// The seed's KPIs mapped to `CloudWatch` metrics of namespace `WireTuner/Collab`.
const METRICS: [(&str, &str, f64); 5] = [
    ("snapshot_duration", "SnapshotDurationP95", 310.0),
    ("ot_transform_latency", "OtTransformLatencyP95", 22.0),
    ("queue_depth", "QueueDepth", 30.0),
    ("error_rate", "ErrorRate", 0.2),
    ("event_replay_rate", "EventReplayRate", 990.0),
];

fn put(api: &common::MotoApi, metric: &str, value: f64, age_secs: i64) {
    let at = jiff::Timestamp::now().as_second() - age_secs;
    let body = json!({
        "Namespace": "WireTuner/Collab",
        "MetricData": [{
            "MetricName": metric,
            "Dimensions": [{"Name": "Service", "Value": "collab"}],
            "Timestamp": at,
            "Value": value,
        }],
    });
    api.call("GraniteServiceVersion20100801.PutMetricData", &body);
}

fn configure(ws: &Path, moto: &Moto) {
    let path = ws.join("release-console.toml");
    let mut cfg: toml::Table = std::fs::read_to_string(&path)
        .expect("config")
        .parse()
        .expect("toml");
    let kpi = cfg["kpi"].as_table_mut().expect("[kpi]");
    kpi.insert("provider".into(), "cloudwatch".into());
    for m in kpi["metrics"].as_array_mut().expect("metrics") {
        let t = m.as_table_mut().expect("metric");
        let name = t["name"].as_str().expect("name").to_owned();
        if let Some((_, metric, _)) = METRICS.iter().find(|(n, _, _)| *n == name) {
            t.insert("namespace".into(), "WireTuner/Collab".into());
            t.insert("metric".into(), (*metric).into());
            let mut dims = toml::Table::new();
            dims.insert("Service".into(), "collab".into());
            t.insert("dimensions".into(), dims.into());
            t.insert("stat".into(), "Maximum".into());
        }
    }
    let mut aws = toml::Table::new();
    aws.insert("region".into(), "eu-west-1".into());
    aws.insert("endpoint".into(), moto.endpoint.as_str().into());
    cfg.insert("aws".into(), aws.into());
    std::fs::write(&path, toml::to_string(&cfg).expect("toml")).expect("write");
}

fn gate(ws: &Path) -> Value {
    let o = cli_with(ws, &ENV, &["--json", "kpi", "--since", "30m"]);
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)))
}

/// moto, the test's CloudWatch client of it, and a workspace whose KPIs read from it.
fn setup() -> (Moto, common::MotoApi, tempfile::TempDir, std::path::PathBuf) {
    let moto = Moto::start();
    let api = moto.api("monitoring", "eu-west-1", "1.0");
    let dir = tempfile::tempdir().expect("dir");
    let ws = dir.path().join("ws");
    common::init(&ws);
    configure(&ws, &moto);
    (moto, api, dir, ws)
}

#[test]
fn cloudwatch_metrics_open_the_gate_until_the_error_rate_breaches() {
    let (_moto, api, _dir, ws) = setup();

    // No data yet: unknown, never green.
    let g = gate(&ws);
    assert_eq!(g["gate"]["state"], "unknown", "{g}");

    for (_, metric, value) in METRICS {
        for age in [600, 300, 60] {
            put(&api, metric, value, age);
        }
    }
    let g = gate(&ws);
    assert_eq!(g["gate"]["state"], "green", "{g}");
    let err = g["kpis"]
        .as_array()
        .expect("kpis")
        .iter()
        .find(|k| k["def"]["name"] == "error_rate")
        .expect("error_rate")
        .clone();
    assert_eq!(err["series"].as_array().map(Vec::len), Some(3), "{err}");
    assert_eq!(err["worst"], 0.2);

    // One bad minute of errors: red, naming the KPI.
    put(&api, "ErrorRate", 2.5, 30);
    let o = cli_with(&ws, &ENV, &["kpi", "--since", "30m"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("gate: RED"), "{}", text(&o));
    assert!(text(&o).contains("error_rate"), "{}", text(&o));
    assert!(!text(&o).contains(ENV[1].1), "the secret is never shown");
}

#[test]
fn without_aws_credentials_the_kpi_source_says_what_it_tried() {
    let dir = tempfile::tempdir().expect("dir");
    let ws = dir.path().join("ws");
    common::init(&ws);
    let moto_less = Moto::start();
    configure(&ws, &moto_less);
    let o = cli_with(
        &ws,
        &[
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials"),
            ("AWS_PROFILE", "ci"),
        ],
        &["kpi"],
    );
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains(
            "no AWS credentials: $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY are not set"
        ) && text(&o).contains("profile \"ci\" is not in /nonexistent/credentials"),
        "{}",
        text(&o)
    );
}

#[test]
fn each_kpi_shows_its_cloudwatch_alarms_state_beside_the_plot() {
    let (_moto, api, _dir, ws) = setup();
    let call = |target: &str, body: Value| {
        api.call(&format!("GraniteServiceVersion20100801.{target}"), &body)
    };
    call(
        "PutMetricAlarm",
        json!({
            "AlarmName": "collab-error-rate-high",
            "Namespace": "WireTuner/Collab",
            "MetricName": "ErrorRate",
            "Dimensions": [{"Name": "Service", "Value": "collab"}],
            "Statistic": "Maximum",
            "Period": 60,
            "EvaluationPeriods": 1,
            "Threshold": 1.0,
            "ComparisonOperator": "GreaterThanThreshold",
        }),
    );
    call(
        "SetAlarmState",
        json!({
            "AlarmName": "collab-error-rate-high",
            "StateValue": "ALARM",
            "StateReason": "Threshold Crossed: 1 datapoint [2.5] was greater than 1.0",
        }),
    );
    for (_, metric, value) in METRICS {
        put(&api, metric, value, 60);
    }
    let g = gate(&ws);
    let kpi = |name: &str| {
        g["kpis"]
            .as_array()
            .expect("kpis")
            .iter()
            .find(|k| k["def"]["name"] == name)
            .unwrap_or_else(|| panic!("{name}: {g}"))
            .clone()
    };
    let err = kpi("error_rate");
    assert_eq!(err["alarms"][0]["name"], "collab-error-rate-high", "{err}");
    assert_eq!(err["alarms"][0]["state"], "ALARM");
    assert!(
        err["alarms"][0]["reason"]
            .as_str()
            .expect("reason")
            .contains("Threshold Crossed")
    );
    assert!(
        kpi("queue_depth").get("alarms").is_none(),
        "no alarm on that metric"
    );
    // The gate rules stay the same: the alarm is shown, the samples judge.
    assert_eq!(g["gate"]["state"], "green", "{g}");
    let o = cli_with(&ws, &ENV, &["kpi", "--since", "30m"]);
    assert!(
        text(&o).contains("alarm collab-error-rate-high: ALARM"),
        "{}",
        text(&o)
    );

    // An alarm named in the config that CloudWatch does not have is said so.
    let path = ws.join("release-console.toml");
    let mut cfg: toml::Table = std::fs::read_to_string(&path)
        .expect("config")
        .parse()
        .expect("toml");
    for m in cfg["kpi"]["metrics"].as_array_mut().expect("metrics") {
        let t = m.as_table_mut().expect("metric");
        if t["name"].as_str() == Some("queue_depth") {
            t.insert("alarms".into(), vec!["collab-queue-deep"].into());
        }
    }
    std::fs::write(&path, toml::to_string(&cfg).expect("toml")).expect("write");
    let g = gate(&ws);
    let q = g["kpis"]
        .as_array()
        .expect("kpis")
        .iter()
        .find(|k| k["def"]["name"] == "queue_depth")
        .expect("queue_depth")
        .clone();
    assert!(
        q["alarm_error"]
            .as_str()
            .expect("alarm_error")
            .contains("no alarm named \"collab-queue-deep\""),
        "{q}"
    );
}
