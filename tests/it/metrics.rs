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

/// An incident as a file written before resolutions were kept has it: no `resolution` field.
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

/// A live plan created `created` days ago that reached 100% `full` days ago.
fn full_plan(key: &str, created: i64, full: i64) -> Value {
    let change = |days: i64, what: &str, percent: u32| {
        json!({"at": at(days, 0), "what": what, "percent": percent, "actor": "t",
               "override_reason": null})
    };
    json!({ "key": key, "created_at": at(created, 0), "archived_at": null,
            "history": [change(created, "create", 0), change(full + 1, "advance", 50),
                        change(full, "advance", 100)] })
}

/// One step's end of a procedure run, `from`..`to` seconds after the run's first step began
/// (`first`), with the snapshot `snapshot` named when the step restores one.
#[expect(
    clippy::too_many_arguments,
    reason = "a test's table of runs, one row each"
)]
fn step_end(
    ws: &Workspace,
    run: &str,
    procedure: &str,
    first: Timestamp,
    (step, from, to): (&str, i64, i64),
    state: release_console::runner::TaskState,
    params: &[(&str, &str)],
    snapshot: Option<&str>,
) {
    use release_console::dr::history::{Snapshot, StepEnd, record_end};
    record_end(
        ws,
        &StepEnd {
            run: run.to_owned(),
            procedure: procedure.to_owned(),
            step: step.to_owned(),
            state,
            first_step: first,
            started_at: first + SignedDuration::from_secs(from),
            ended_at: first + SignedDuration::from_secs(to),
            params: params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            stand_in: None,
            snapshot: snapshot.map(|s| Snapshot::named(s, Some(60))),
            demo_history: None,
        },
    )
    .expect("step end");
}

/// `minutes` before `t`, as RDS names an automated snapshot taken then.
fn snapshot_named(t: Timestamp, minutes: i64) -> String {
    format!(
        "wiretuner-prod-{}",
        (t - SignedDuration::from_mins(minutes)).strftime("%Y-%m-%d-%H-%M")
    )
}

/// Whole minutes, so that a snapshot's name (to the minute) says its time exactly.
fn minute(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second() / 60 * 60).expect("minute")
}

/// Procedure runs: A within both objectives; B over both; C stopped at its restore (its RTO not
/// judged, its snapshot's age still measured); D a restore run again after the wait failed
/// (judged on the second restore); F a snapshot whose name carries no time; a forced drain;
/// and one run outside the window.
fn drills(ws: &Workspace) {
    use release_console::runner::TaskState::{Failed, Succeeded};
    let db = |s: &str| {
        vec![
            ("instance", "wiretuner-prod".to_owned()),
            ("snapshot", s.to_owned()),
            ("restored_instance", "wiretuner-prod-restored".to_owned()),
        ]
    };
    let run = |name: &str,
               days: i64,
               snapshot: Option<(i64, Option<&str>)>,
               steps: &[(&str, i64, i64, release_console::runner::TaskState)]| {
        let first = minute(at(days, 0));
        let snap = snapshot.map(|(minutes, fixed)| {
            fixed.map_or_else(|| snapshot_named(first, minutes), str::to_owned)
        });
        let params = snap.as_deref().map(db).unwrap_or_default();
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        for (step, from, to, state) in steps {
            step_end(
                ws,
                name,
                "db-restore",
                first,
                (step, *from, *to),
                *state,
                &params,
                (*step == "restore").then_some(snap.as_deref()).flatten(),
            );
        }
    };
    // A: snapshot 30 min before the run, restore 2 min in: 32 min old; 12 min in all.
    run(
        "A",
        60,
        Some((30, None)),
        &[
            ("list-snapshots", 0, 20, Succeeded),
            ("restore", 120, 180, Succeeded),
            ("wait-available", 190, 720, Succeeded),
        ],
    );
    // B: 90 + 1 min old; 20 min in all.
    run(
        "B",
        50,
        Some((90, None)),
        &[
            ("list-snapshots", 0, 20, Succeeded),
            ("restore", 60, 120, Succeeded),
            ("wait-available", 130, 1200, Succeeded),
        ],
    );
    // C: 10 + 1 min old; the restore failed.
    run(
        "C",
        40,
        Some((10, None)),
        &[
            ("list-snapshots", 0, 20, Succeeded),
            ("restore", 60, 90, Failed),
        ],
    );
    // D: the wait failed, the restore ran again (5 min in: 25 min old) and the wait after it
    // succeeded at 10 min.
    run(
        "D",
        30,
        Some((20, None)),
        &[
            ("list-snapshots", 0, 10, Succeeded),
            ("restore", 60, 120, Succeeded),
            ("wait-available", 130, 200, Failed),
            ("restore", 300, 360, Succeeded),
            ("wait-available", 370, 600, Succeeded),
        ],
    );
    // F: a snapshot named by hand: its age is unknown; 14 min in all.
    run(
        "F",
        20,
        Some((0, Some("wiretuner-prod-before-migration"))),
        &[
            ("list-snapshots", 0, 10, Succeeded),
            ("restore", 60, 120, Succeeded),
            ("wait-available", 130, 840, Succeeded),
        ],
    );
    // Outside the 180-day window, over its RTO: not counted.
    run(
        "OLD",
        300,
        Some((10, None)),
        &[
            ("list-snapshots", 0, 10, Succeeded),
            ("restore", 60, 120, Succeeded),
            ("wait-available", 130, 3000, Succeeded),
        ],
    );
    // A forced drain: both steps, 3 min; no snapshot, so no RPO.
    let first = minute(at(15, 0));
    for (step, from, to) in [("scale-down", 0, 100), ("flush-sessions", 120, 180)] {
        step_end(
            ws,
            "DRAIN",
            "collab-drain",
            first,
            (step, from, to),
            Succeeded,
            &[("force", "true")],
            None,
        );
    }
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
    ws.record(release_console::audit::Event::parse(
        "publish.yank",
        "1.1.0",
        &Value::Null,
        &json!({"reason": "crash on start"}),
    ))
    .expect("audit");
    ws.record(release_console::audit::Event::parse(
        "publish.yank",
        "0.9.0",
        &Value::Null,
        &json!({"reason": "old"}),
    ))
    .expect("audit");
    let resolved = |id: &str, severity: &str, days: i64, how: Option<&str>| {
        let mut i = incident(id, severity, at(days, 0), Some(at(days, 30)));
        if let Some(how) = how {
            i["resolution"] = json!(how);
        }
        i
    };
    let mut inc1 = incident("INC-1", "P1", at(10, 0), Some(at(10, 90)));
    inc1["resolution"] = json!("fixed");
    let mut inc2 = incident("INC-2", "P1", at(5, 0), Some(at(5, 240)));
    inc2["resolution"] = json!("false-alarm");
    let mut inc3 = incident("INC-3", "P2", at(3, 0), Some(at(3, 30)));
    inc3["resolution"] = json!("no-impact");
    let mut inc0 = incident("INC-0", "P1", at(300, 0), Some(at(300, 600)));
    inc0["resolution"] = json!("false-alarm");
    let incidents = json!({ "incidents": [
        inc1, inc2, inc3,
        incident("INC-4", "P0", at(1, 0), None),
        inc0,
        resolved("INC-5", "P3", 20, Some("fixed")),
        resolved("INC-6", "P3", 21, Some("fixed")),
        // Resolved without saying how: not in the rate.
        resolved("INC-7", "P3", 22, None),
    ]});
    std::fs::create_dir_all(root.join("status")).expect("status dir");
    std::fs::write(root.join("status/incidents.json"), incidents.to_string()).expect("incidents");
    let plans = json!({
        "ui_new_canvas": plan("ui_new_canvas", at(100, 0), Some(at(50, 0))),
        "api_batch_export": plan("api_batch_export", at(20, 0), Some(at(10, 0))),
        "collab_cursors": plan("collab_cursors", at(90, 0), None),
        "export_pdf": plan("export_pdf", at(400, 0), Some(at(300, 0))),
        // At 100% for 30 days: 16 days past its date; for 5 days: 9 days to go.
        "ui_full_old": full_plan("ui_full_old", 50, 30),
        "ui_full_new": full_plan("ui_full_new", 20, 5),
    });
    std::fs::create_dir_all(root.join("flags")).expect("flags dir");
    std::fs::write(root.join("flags/plans.json"), plans.to_string()).expect("plans");
    drills(&ws);
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
    assert!(l.source.starts_with("2 flags archived in the window, of 6"));
}

#[test]
fn the_quarterly_review_judges_drills_pages_and_retirement_from_a_known_history() {
    let (_d, root) = history();
    let ws = Workspace::open(&root).expect("open");
    let m = metrics::compute(&ws, metrics::parse_window("180d").expect("window"), now())
        .expect("metrics");

    // Drills: A, B, C, D, F and the drain in the window, oldest first; OLD is not.
    let d = &m.drills;
    let runs: Vec<&str> = d.runs.iter().map(|r| r.run.as_str()).collect();
    assert_eq!(runs, ["A", "B", "C", "D", "F", "DRAIN"]);
    let took: Vec<Option<f64>> = d
        .runs
        .iter()
        .map(release_console::dr::history::Run::took_secs)
        .collect();
    assert_eq!(
        took,
        [
            Some(720.0),
            Some(1200.0),
            None,
            Some(600.0),
            Some(840.0),
            Some(180.0)
        ]
    );
    let rto: Vec<Option<bool>> = d
        .runs
        .iter()
        .map(release_console::dr::history::Run::within_rto)
        .collect();
    assert_eq!(
        rto,
        [
            Some(true),
            Some(false),
            None,
            Some(true),
            Some(true),
            Some(true)
        ]
    );
    assert_eq!((d.rto_judged, d.rto_within), (5, 4));
    assert_eq!(d.rto_meets_target, Some(false), "B took 20 min of 15");
    // Snapshot ages when the restore began: A 32 min, B 91, C 11 (the run stopped, the restore
    // still began), D 25 (its second restore), F unknown; the drain restores none.
    let ages: Vec<Option<f64>> = d
        .runs
        .iter()
        .map(|r| r.restore.as_ref().and_then(|x| x.age_secs))
        .collect();
    assert_eq!(
        ages,
        [
            Some(32.0 * 60.0),
            Some(91.0 * 60.0),
            Some(11.0 * 60.0),
            Some(25.0 * 60.0),
            None,
            None
        ]
    );
    assert!(d.runs[5].restore.is_none());
    let unknown = d.runs[4].restore.as_ref().expect("F restored");
    assert_eq!(
        (unknown.snapshot.taken_at, unknown.within_rpo),
        (None, None),
        "never guessed"
    );
    assert_eq!((d.rpo_judged, d.rpo_within, d.rpo_unknown), (4, 3, 1));
    assert_eq!(
        d.rpo_meets_target,
        Some(false),
        "B's snapshot was 91 min old"
    );
    assert!(d.source.starts_with("6 procedure runs"), "{}", d.source);

    // Pages: INC-1 fixed, INC-2 false alarm, INC-3 no impact, INC-5 and INC-6 fixed: 2 of 5;
    // INC-7 said nothing (not counted), INC-4 is open, INC-0 is outside the window.
    let pages = &m.false_positives;
    let ids: Vec<&str> = pages.pages.iter().map(|x| x.id.as_str()).collect();
    assert_eq!(ids, ["INC-7", "INC-6", "INC-5", "INC-1", "INC-2", "INC-3"]);
    assert_eq!((pages.with_resolution, pages.false_positives), (5, 2));
    assert!(close(pages.rate, 0.4));
    assert_eq!(pages.meets_target, Some(false));
    // This workspace has no [notify.pagerduty]: no severity pages on-call.
    assert_eq!(pages.paged_false_positives, 0);

    // Retirement: two live flags at 100%, one 16 days past its date.
    let retire = &m.flag_retirement;
    let flags: Vec<(&str, String)> = retire
        .flags
        .iter()
        .map(|f| (f.key.as_str(), format!("{:.0}", f.days_past)))
        .collect();
    assert_eq!(
        flags,
        [
            ("ui_full_old", "16".to_owned()),
            ("ui_full_new", "-9".to_owned())
        ]
    );
    assert_eq!(retire.past_due, 1);
    assert_eq!(retire.meets_target, Some(false));

    // A 35-day window: D, F and the drain (C, 40 days ago, is out).
    let m = metrics::compute(&ws, metrics::parse_window("35d").expect("window"), now())
        .expect("metrics");
    let d = &m.drills;
    assert_eq!(d.runs.len(), 3);
    assert_eq!((d.rto_judged, d.rto_within), (3, 3));
    assert_eq!(d.rto_meets_target, Some(true));
    // One restore with a known age (D's): fewer than two, too few to judge.
    assert_eq!((d.rpo_judged, d.rpo_unknown), (1, 1));
    assert_eq!(d.rpo_meets_target, None);
    assert_eq!(
        metrics::verdict_from(d.rpo_meets_target, d.rpo_judged, d.min_records),
        metrics::Verdict::TooFew {
            records: 1,
            needed: 2
        }
    );
    // A 15-day window holds three resolutions (INC-1..3): too few to judge.
    let m = metrics::compute(&ws, metrics::parse_window("15d").expect("window"), now())
        .expect("metrics");
    let pages = &m.false_positives;
    assert_eq!((pages.with_resolution, pages.false_positives), (3, 2));
    assert!(close(pages.rate, 2.0 / 3.0));
    assert_eq!(pages.meets_target, None, "3 resolutions, 5 needed");
    assert_eq!(
        metrics::verdict_from(pages.meets_target, pages.with_resolution, pages.min_records),
        metrics::Verdict::TooFew {
            records: 3,
            needed: 5
        }
    );
}

#[test]
fn the_false_positive_target_is_at_most_one_in_five() {
    // Exactly one in five meets it; the minimum counts resolutions, not incidents.
    let dir = tempfile::tempdir().expect("dir");
    let root = dir.path().join("ws");
    Workspace::init(&root, "WireTuner").expect("init");
    let mut list = Vec::new();
    for (n, how) in ["fixed", "fixed", "fixed", "fixed", "false-alarm"]
        .iter()
        .enumerate()
    {
        let days = i64::try_from(n).expect("small") + 1;
        let mut i = incident(&format!("INC-{n}"), "P2", at(days, 0), Some(at(days, 10)));
        i["resolution"] = json!(how);
        list.push(i);
    }
    std::fs::create_dir_all(root.join("status")).expect("status dir");
    std::fs::write(
        root.join("status/incidents.json"),
        json!({ "incidents": list }).to_string(),
    )
    .expect("incidents");
    let ws = Workspace::open(&root).expect("open");
    let m = metrics::compute(&ws, metrics::parse_window("30d").expect("window"), now())
        .expect("metrics");
    let p = &m.false_positives;
    assert!(close(p.rate, 0.2));
    assert_eq!(p.meets_target, Some(true));
    assert_eq!(m.drills.runs.len(), 0);
    assert_eq!(m.drills.rto_meets_target, None);
    assert_eq!(m.flag_retirement.meets_target, None);
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
    assert!(
        out.contains("RTO: 4 of 5 completed runs within: MISSES TARGET"),
        "{out}"
    );
    assert!(
        out.contains(
            "snapshot wiretuner-prod-before-migration: its age when the restore began is unknown"
        ),
        "{out}"
    );
    assert!(
        out.contains("40.0%: 2 of 5 incidents resolved as no-impact or false-alarm: MISSES TARGET"),
        "{out}"
    );
    assert!(
        out.contains("ui_full_old: 16 days past its retirement date"),
        "{out}"
    );
    let v: Value =
        serde_json::from_slice(&cli(&root, &["--json", "metrics"]).stdout).expect("json");
    assert_eq!(v["false_positives"]["false_positives"], 2);
    assert_eq!(v["drills"]["runs"][1]["outcome"]["within_rto"], false);
    let o = cli(&root, &["metrics", "--since", "six months"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("--since \"six months\": expected a length such as 180d"));
}

#[test]
fn the_demo_starts_with_a_quarterly_history_once_and_the_log_speaks_for_it() {
    let dir = tempfile::tempdir().expect("dir");
    let root = dir.path().join("demo");
    let ws = release_console::workspace::unpack_demo(&root).expect("demo");
    assert!(metrics::demo::add(&ws, now()).expect("history"));
    assert!(!metrics::demo::add(&ws, now()).expect("again"), "only once");
    let m = metrics::compute(&ws, metrics::parse_window("180d").expect("window"), now())
        .expect("metrics");
    // Every quarterly figure has records: four drills (one snapshot without a time), six
    // resolved incidents (a P3 of no impact and a P1 false alarm, which paged), two live flags
    // at 100% (one 46 days past its date).
    let d = &m.drills;
    assert_eq!(d.runs.len(), 4);
    assert!(d.runs.iter().all(|r| r.demo_history.is_some()));
    assert_eq!((d.rto_judged, d.rto_within), (4, 3));
    assert_eq!((d.rpo_judged, d.rpo_within, d.rpo_unknown), (2, 1, 1));
    let pages = &m.false_positives;
    assert_eq!((pages.with_resolution, pages.false_positives), (6, 2));
    assert_eq!(pages.paged_false_positives, 1);
    assert_eq!(pages.meets_target, Some(false));
    let retire = &m.flag_retirement;
    assert_eq!((retire.flags.len(), retire.past_due), (2, 1));
    assert_eq!(retire.flags[0].key, "ui_new_exporter");
    assert_eq!(format!("{:.0}", retire.flags[0].days_past), "46");
    // The imported incidents and plans are what the log says.
    let o = cli(&root, &["audit", "verify"]);
    ok(&o);
    // The local provider has the flags the plans speak of.
    let o = cli(&root, &["flags", "list"]);
    ok(&o);
    assert!(text(&o).contains("ui_new_exporter"), "{}", text(&o));
}
