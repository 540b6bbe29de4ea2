//! `metrics` on a workspace with a known history: every figure worked out by hand below.

use std::path::Path;

use crate::common::{cli, ok, text};
use jiff::{SignedDuration, Timestamp};
use release_console::metrics;
use release_console::workspace::Workspace;
use serde_json::{Value, json};

/// The history is laid out back from the moment the test runs (so that the CLI, which measures
/// up to its own now, sees the same window).
fn now() -> Timestamp {
    static NOW: std::sync::OnceLock<Timestamp> = std::sync::OnceLock::new();
    *NOW.get_or_init(Timestamp::now)
}

fn at(days_before: i64, plus_minutes: i64) -> Timestamp {
    now() - SignedDuration::from_hours(24 * days_before) + SignedDuration::from_mins(plus_minutes)
}

fn set_created(root: &Path, version: &str, when: Timestamp) {
    let path = root.join("releases").join(version).join("release.json");
    let mut v: Value = serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    v["created_at"] = json!(when);
    std::fs::write(&path, serde_json::to_vec_pretty(&v).expect("json")).expect("write");
}

fn incident(id: &str, severity: &str, detected: Timestamp, resolved: Option<Timestamp>) -> Value {
    json!({
        "id": id, "name": format!("{severity} incident"), "severity": severity,
        "components": [], "status": if resolved.is_some() { "resolved" } else { "investigating" },
        "provider": "local", "page_incident_id": "", "shortlink": null,
        "detected_at": detected, "created_at": detected, "first_response_at": detected,
        "resolved_at": resolved, "timeline": [],
    })
}

fn plan(key: &str, created: Timestamp, archived: Option<Timestamp>) -> Value {
    json!({ "key": key, "created_at": created, "history": [], "archived_at": archived })
}

/// Releases (regular 0.9.0 outside the window; 1.0.0, 1.1.0, 1.2.0, 1.3.0; hotfix 1.2.1 of
/// 1.2.0; 1.1.0 yanked), four incidents, three flags.
fn history() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("dir");
    let root = dir.path().join("ws");
    let ws = Workspace::init(&root, "WireTuner").expect("init");
    for (v, days) in [
        ("0.9.0", 400),
        ("1.0.0", 70),
        ("1.1.0", 56),
        ("1.2.0", 40),
        ("1.3.0", 30),
    ] {
        ws.create_release(v, None).expect("release");
        set_created(&root, v, at(days, 0));
    }
    ws.create_release("1.2.1", Some("1.2.0")).expect("hotfix");
    set_created(&root, "1.2.1", at(38, 0));
    // What `publish yank` will write (issue 12), and a yank of a release outside the window.
    ws.record(
        "publish.yank",
        "1.1.0",
        Value::Null,
        json!({"reason": "crash on start"}),
    )
    .expect("audit");
    ws.record(
        "publish.yank",
        "0.9.0",
        Value::Null,
        json!({"reason": "old"}),
    )
    .expect("audit");
    let incidents = json!({ "incidents": [
        incident("INC-1", "P1", at(10, 0), Some(at(10, 90))),
        incident("INC-2", "P1", at(5, 0), Some(at(5, 240))),
        incident("INC-3", "P2", at(3, 0), Some(at(3, 30))),
        incident("INC-4", "P0", at(1, 0), None),
        incident("INC-0", "P1", at(300, 0), Some(at(300, 600))),
    ]});
    std::fs::create_dir_all(root.join("status")).expect("status dir");
    std::fs::write(root.join("status/incidents.json"), incidents.to_string()).expect("incidents");
    let plans = json!({
        "ui_new_canvas": plan("ui_new_canvas", at(100, 0), Some(at(50, 0))),
        "api_batch_export": plan("api_batch_export", at(20, 0), Some(at(10, 0))),
        "collab_cursors": plan("collab_cursors", at(90, 0), None),
        "export_pdf": plan("export_pdf", at(400, 0), Some(at(300, 0))),
    });
    std::fs::create_dir_all(root.join("flags")).expect("flags dir");
    std::fs::write(root.join("flags/plans.json"), plans.to_string()).expect("plans");
    (dir, root)
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-6)
}

#[test]
fn metrics_from_a_known_history_match_the_figures_worked_out_by_hand() {
    let (_d, root) = history();
    let ws = Workspace::open(&root).expect("open");
    let m = metrics::compute(&ws, metrics::parse_window("180d").expect("window"), now())
        .expect("metrics");

    // Regular releases in the window: 1.0.0 (-70 d), 1.1.0 (-56), 1.2.0 (-40), 1.3.0 (-30):
    // intervals 14, 16 and 10 days, 13.33 on average, within the two-week target.
    let f = &m.release_frequency;
    let versions: Vec<&str> = f.releases.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(versions, ["1.0.0", "1.1.0", "1.2.0", "1.3.0"]);
    assert_eq!(f.intervals_days.len(), 3);
    for (got, want) in f.intervals_days.iter().zip([14.0, 16.0, 10.0]) {
        assert!(close(Some(*got), want), "{got} != {want}");
    }
    assert!(close(f.mean_interval_days, 40.0 / 3.0));
    assert_eq!(f.meets_target, Some(true));

    // P1: 90 min and 240 min, 2.75 h on average (INC-0 is outside the window): misses < 2 h.
    let p1 = &m.mttr[1];
    assert_eq!((p1.resolved, p1.open), (2, 0));
    assert!(close(p1.mean_hours, 2.75));
    assert_eq!(p1.meets_target, Some(false));
    let p0 = &m.mttr[0];
    assert_eq!((p0.resolved, p0.open, p0.mean_hours), (0, 1, None));
    assert!(close(m.mttr[2].mean_hours, 0.5));
    assert_eq!(m.mttr[2].target_hours, None);

    // Five releases in the window; 1.1.0 was yanked and 1.2.0 needed a hotfix: 3 of 5.
    let d = &m.deployment_success;
    assert_eq!(d.releases.len(), 5);
    assert!(close(d.rate, 0.6));
    assert_eq!(d.meets_target, Some(false));
    let failed: Vec<(&str, &[String])> = d
        .releases
        .iter()
        .filter(|o| !o.failures.is_empty())
        .map(|o| (o.version.as_str(), o.failures.as_slice()))
        .collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert_eq!(failed[0].0, "1.1.0");
    assert!(failed[0].1[0].starts_with("publish.yank by "));
    assert_eq!(failed[1], ("1.2.0", &["hotfix 1.2.1".to_owned()][..]));
    assert!(d.source.contains("2 audit entries"), "{}", d.source);

    // Flags archived in the window: 50 and 10 days, 30 on average; one live for 90 days.
    let l = &m.flag_lifespan;
    assert_eq!(l.retired.len(), 2);
    assert!(close(l.mean_days, 30.0));
    assert_eq!(l.meets_target, Some(true));
    assert_eq!(l.live_over_target.len(), 1);
    assert_eq!(l.live_over_target[0].0, "collab_cursors");
    assert!(l.source.starts_with("2 flags archived in the window, of 4"));
}

#[test]
fn the_cli_prints_the_same_figures_and_refuses_a_bad_window() {
    let (_d, root) = history();
    let o = cli(&root, &["--json", "metrics", "--since", "3650d"]);
    ok(&o);
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    // Ten years: 0.9.0 and its yank count too, so 6 releases, 3 of them successful.
    assert_eq!(
        v["deployment_success"]["releases"].as_array().map(Vec::len),
        Some(6)
    );
    assert!((v["deployment_success"]["rate"].as_f64().expect("rate") - 0.5).abs() < 1e-9);
    let o = cli(&root, &["metrics"]);
    assert!(o.status.success());
    let out = text(&o);
    assert!(
        out.contains("Deployment success rate (target: > 95%)"),
        "{out}"
    );
    assert!(out.contains("1.1.0: publish.yank by"), "{out}");
    assert!(out.contains("collab_cursors: live for"), "{out}");
    let o = cli(&root, &["metrics", "--since", "six months"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("--since \"six months\": expected a length such as 180d"));
}
