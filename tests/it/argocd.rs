//! `deploy backend|status|history|rollback` against the stateful Argo CD fake of
//! `common::argo` (the published API, with Prism checking every request and response against
//! Argo CD's spec).

use crate::common;

use std::path::Path;

use crate::common::argo::{self, Fault, TOKEN, workspace};
use crate::common::{cli_with, ok, text};
use serde_json::{Value, json};

fn run(ws: &Path, args: &[&str]) -> std::process::Output {
    cli_with(ws, &[("ARGOCD_AUTH_TOKEN", TOKEN)], args)
}

fn ticked(ws: &Path, item: &str) -> bool {
    let o = common::cli(ws, &["--json", "checklist", "show", "--release", "1.2.0"]);
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    v["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .flat_map(|p| p["items"].as_array().expect("items"))
        .find(|i| i["id"] == item)
        .is_some_and(|i| i["state"]["done"] == true)
}

fn audit_actions(ws: &Path) -> Vec<(String, String)> {
    let o = common::cli(ws, &["--json", "audit", "list"]);
    let v: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    v.as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_owned(),
                e["target"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn deploy_backend_syncs_to_the_release_waits_for_healthy_ticks_the_item_and_rolls_back() {
    let argo = argo::start();
    let (_d, ws) = workspace(&argo, "collab-api", 0.5);
    // Prism is live: a body that breaks the spec is refused before it reaches the fake.
    let bad = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST"])
        .args([
            "-H",
            "content-type: application/json",
            "-d",
            r#"{"revision": 7}"#,
        ])
        .arg(format!(
            "{}/api/v1/applications/collab-api/sync",
            argo.prism.url
        ))
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&bad.stdout), "422");
    // Prism logs the probe's violation a moment later: wait for it before counting.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while argo.prism.violations().is_empty() {
        assert!(std::time::Instant::now() < deadline, "{}", argo.prism.log());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let before = argo.prism.violations().len();

    let o = run(
        &ws,
        &["deploy", "backend", "--version", "1.2.0", "--dry-run"],
    );
    ok(&o);
    assert!(
        text(&o).contains("would sync collab-api to v1.2.0"),
        "{}",
        text(&o)
    );

    let o = run(&ws, &["deploy", "backend", "--version", "1.2.0"]);
    ok(&o);
    let t = text(&o);
    assert!(t.contains("collab-api is Synced at"), "{t}");
    assert!(
        t.contains("Progressing"),
        "the watch saw the rollout progress: {t}"
    );
    {
        let f = argo.fake.lock().expect("fake");
        let syncs: Vec<&Value> = f
            .requests
            .iter()
            .filter(|r| r.1.ends_with("/sync"))
            .map(|r| &r.2)
            .collect();
        // The 422 probe never reached the fake: only ours did.
        assert_eq!(syncs.len(), 1, "{syncs:?}");
        assert_eq!(
            syncs[0],
            &json!({"name": "collab-api", "revision": "v1.2.0", "prune": false})
        );
    }
    assert!(
        ticked(&ws, "deploy.backend"),
        "Backend rolling update is ticked"
    );
    assert!(audit_actions(&ws).contains(&("deploy.backend".into(), "1.2.0".into())));

    // Status and history as Argo CD has them now.
    let s: Value = serde_json::from_slice(&run(&ws, &["--json", "deploy", "status"]).stdout)
        .expect("status json");
    assert_eq!(s["sync"], "Synced");
    assert_eq!(s["health"], "Healthy");
    assert_eq!(s["resources"][0]["name"], "collab-api");
    let h: Value = serde_json::from_slice(&run(&ws, &["--json", "deploy", "history"]).stdout)
        .expect("history json");
    assert_eq!(h.as_array().map(Vec::len), Some(2));
    assert_eq!(h[1]["revision"], "v1.2.0");

    // Roll back to the first entry: audited against the release, watched until its operation
    // succeeded and the application is Healthy at v1.1.0, though Argo CD reports it OutOfSync
    // (Git still asks for v1.2.0), as it does after every rollback.
    let o = run(
        &ws,
        &["deploy", "rollback", "--to", "1", "--version", "1.2.0"],
    );
    ok(&o);
    assert!(
        text(&o).contains("collab-api rolled back to v1.1.0 and Healthy (OutOfSync against Git"),
        "{}",
        text(&o)
    );
    let s: Value = serde_json::from_slice(&run(&ws, &["--json", "deploy", "status"]).stdout)
        .expect("status json");
    assert_eq!(s["sync"], "OutOfSync", "{s}");
    assert_eq!(s["health"], "Healthy", "{s}");
    assert_eq!(s["history"][2]["revision"], "v1.1.0", "{s}");
    assert_eq!(
        argo.fake
            .lock()
            .expect("fake")
            .requests
            .iter()
            .rev()
            .find(|r| r.1.ends_with("/rollback"))
            .map(|r| r.2.clone()),
        Some(json!({"name": "collab-api", "id": 1, "prune": false}))
    );
    assert!(audit_actions(&ws).contains(&("deploy.rollback".into(), "1.2.0".into())));
    // An id that is not in the history is named.
    let o = run(&ws, &["deploy", "rollback", "--to", "9"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("has no history entry 9 (known: 1, 2, 3)"),
        "{}",
        text(&o)
    );

    let after = argo.prism.violations();
    assert_eq!(
        after.len(),
        before,
        "Prism saw requests or responses off the spec: {after:?}"
    );
}

#[test]
fn a_sync_or_rollback_whose_answer_is_lost_is_adopted_and_one_that_never_arrived_is_sent_again() {
    let argo = argo::start();
    let (_d, ws) = workspace(&argo, "collab-api", 0.5);
    let posts = |tail: &str| {
        argo.fake
            .lock()
            .expect("fake")
            .requests
            .iter()
            .filter(|r| r.0 == "POST" && r.1.ends_with(tail))
            .count()
    };
    // Argo CD starts the sync, and a gateway answers 504: the console finds the operation
    // and watches it, instead of asking for a second one.
    argo.fake.lock().expect("fake").faults = vec![Fault::AfterEffect(504)];
    let o = run(&ws, &["deploy", "backend", "--version", "1.2.0"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("504") && t.contains("it may have arrived"),
        "{t}"
    );
    assert!(
        t.contains("the request had arrived: adopting the operation"),
        "{t}"
    );
    assert!(t.contains("collab-api is Synced at"), "{t}");
    assert_eq!(posts("/sync"), 1, "one sync, one operation");

    // The gateway answers 503 and the sync never reached Argo CD: no operation of ours
    // shows, so it is asked for again, once.
    argo.fake.lock().expect("fake").faults = vec![Fault::BeforeEffect(503)];
    let o = run(&ws, &["deploy", "backend", "--version", "1.2.0"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("it did not arrive; asking again"), "{t}");
    assert_eq!(posts("/sync"), 3);

    // A rollback answered 500 after Argo CD started it (an origin's error after acting): the
    // operation is looked for before anything is posted again, adopted, watched to its end.
    argo.fake.lock().expect("fake").faults = vec![Fault::AfterEffect(500)];
    let o = run(
        &ws,
        &["deploy", "rollback", "--to", "1", "--version", "1.2.0"],
    );
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("it arrived and failed, perhaps after acting")
            && t.contains("the request had arrived: adopting the operation"),
        "{t}"
    );
    assert!(t.contains("rolled back to v1.1.0 and Healthy"), "{t}");
    assert_eq!(posts("/rollback"), 1, "one rollback");
    let h: Value = serde_json::from_slice(&run(&ws, &["--json", "deploy", "history"]).stdout)
        .expect("history json");
    let revisions: Vec<&str> = h
        .as_array()
        .expect("history")
        .iter()
        .map(|e| e["revision"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(revisions, ["v1.1.0", "v1.2.0", "v1.2.0", "v1.1.0"]);
    let v = argo.prism.violations();
    assert!(v.iter().all(|l| !l.contains("Violation")), "{v:?}");
}

#[test]
fn degraded_timeout_unauthorized_and_missing_applications_fail_naming_why() {
    let argo = argo::start();
    // Degraded: the unhealthy resource and its message; audited; nothing ticked.
    let (_d, ws) = workspace(&argo, "broken-api", 0.5);
    let o = run(&ws, &["deploy", "backend", "--version", "1.2.0"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("the application is Degraded: Deployment/collab-api Degraded: Deployment \"collab-api\" exceeded its progress deadline"),
        "{t}"
    );
    assert!(!ticked(&ws, "deploy.backend"));
    assert!(audit_actions(&ws).contains(&("deploy.backend.failed".into(), "1.2.0".into())));

    // Progressing past the timeout.
    let (_d2, ws) = workspace(&argo, "stuck-api", 0.02);
    let o = run(&ws, &["deploy", "backend", "--version", "1.2.0"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("still Progressing after"), "{}", text(&o));
    assert!(text(&o).contains("(timeout_mins)"), "{}", text(&o));

    // A refused token names the variable and never shows the token.
    let (_d3, ws) = workspace(&argo, "collab-api", 0.5);
    let o = cli_with(
        &ws,
        &[("ARGOCD_AUTH_TOKEN", "wrong-token-xyz")],
        &["deploy", "status"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("401 Unauthorized: Argo CD refused the token in $ARGOCD_AUTH_TOKEN"),
        "{t}"
    );
    assert!(!t.contains("wrong-token-xyz"), "{t}");
    // No token at all.
    let o = common::cli(&ws, &["deploy", "status"]);
    assert!(
        text(&o).contains("Argo CD needs an API token in $ARGOCD_AUTH_TOKEN"),
        "{}",
        text(&o)
    );

    // An application Argo CD does not have.
    let (_d4, ws) = workspace(&argo, "nope", 0.5);
    let o = run(&ws, &["deploy", "backend", "--version", "1.2.0"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("404 Not Found: no application \"nope\""),
        "{}",
        text(&o)
    );
    let v = argo.prism.violations();
    assert!(v.iter().all(|l| !l.contains("Violation")), "{v:?}");
}

#[cfg(unix)]
#[test]
fn cancelling_a_rollout_terminates_the_argo_cd_operation() {
    let argo = argo::start();
    let (_d, ws) = workspace(&argo, "stuck-api", 5.0);
    let child = common::bin()
        .arg("--workspace")
        .arg(&ws)
        .args(["deploy", "backend", "--version", "1.2.0"])
        .env("ARGOCD_AUTH_TOKEN", TOKEN)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("deploy");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !argo
        .fake
        .lock()
        .expect("fake")
        .requests
        .iter()
        .any(|r| r.1.ends_with("/sync"))
    {
        assert!(std::time::Instant::now() < deadline, "no sync within 30 s");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid")),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("SIGINT");
    let out = child.wait_with_output().expect("wait");
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    let f = argo.fake.lock().expect("fake");
    assert!(
        f.requests
            .iter()
            .any(|r| r.0 == "DELETE" && r.1 == "/api/v1/applications/stuck-api/operation"),
        "the operation was terminated: {:?}",
        f.requests
    );
    assert_eq!(
        f.apps["stuck-api"].op.as_ref().map(|o| o.phase.as_str()),
        Some("Failed")
    );
    drop(f);
    assert!(audit_actions(&ws).contains(&("deploy.backend.failed".into(), "1.2.0".into())));
}
