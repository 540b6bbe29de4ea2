//! The disaster-recovery runbooks run for real: stand-in `aws` and `kubectl` on PATH that record
//! their arguments, and a loopback `redis-server` that the forced drain empties. The demo
//! workspace runs its procedures against its own stand-ins (`[dr] stand_ins`): the tools on
//! PATH never run there, and the RTO is judged only for a run whose every step succeeded.

use crate::common;

use std::path::PathBuf;
use std::process::{Child, Command, Output};

use crate::common::{bin, init, ok, text};
use serde_json::Value;

struct Fixture {
    _dir: tempfile::TempDir,
    ws: PathBuf,
    tools: PathBuf,
    calls: PathBuf,
}

/// A workspace and a folder of stand-in tools: each appends its name and arguments (one per
/// line, then a blank line) to `calls`, prints something, and exits with `$FAIL_<NAME>` or 0.
fn fixture() -> Fixture {
    fixture_with(init, &["aws", "kubectl"])
}

/// The demo workspace, with fake `aws`, `kubectl` and `redis-cli` first on PATH that record
/// every call: the demo must run none of them.
fn demo() -> Fixture {
    fixture_with(
        |ws| {
            release_console::workspace::unpack_demo(ws).expect("demo");
        },
        &["aws", "kubectl", "redis-cli"],
    )
}

fn fixture_with(make: impl FnOnce(&std::path::Path), fakes: &[&str]) -> Fixture {
    let dir = tempfile::tempdir().expect("dir");
    let ws = dir.path().join("ws");
    make(&ws);
    let tools = dir.path().join("bin");
    std::fs::create_dir(&tools).expect("bin");
    let calls = dir.path().join("calls.txt");
    for name in fakes {
        let script = format!(
            "#!/bin/sh\n{{ echo {name}; for a in \"$@\"; do echo \"$a\"; done; echo; }} >> '{}'\n\
             echo \"{name} stand-in ran: $*\"\nexit \"${{FAIL_{}:-0}}\"\n",
            calls.display(),
            name.to_uppercase().replace('-', "_")
        );
        let path = tools.join(name);
        std::fs::write(&path, script).expect("tool");
        common::sh(dir.path(), &format!("chmod +x '{}'", path.display()));
    }
    Fixture {
        _dir: dir,
        ws,
        tools,
        calls,
    }
}

impl Fixture {
    fn run(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        let path = format!(
            "{}:{}",
            self.tools.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut c = bin();
        c.arg("--workspace")
            .arg(&self.ws)
            .args(args)
            .env("PATH", path);
        for (k, v) in env {
            c.env(k, v);
        }
        c.stdin(std::process::Stdio::null());
        c.output().expect("run")
    }

    /// Each recorded call: the tool's name and its arguments.
    fn calls(&self) -> Vec<Vec<String>> {
        std::fs::read_to_string(&self.calls)
            .unwrap_or_default()
            .split("\n\n")
            .filter(|c| !c.trim().is_empty())
            .map(|c| c.lines().map(str::to_owned).collect())
            .collect()
    }

    fn audit(&self, action: &str) -> Vec<Value> {
        common::audit_entries(&self.ws, action, None)
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn the_database_restore_runs_each_command_exactly_after_its_confirmation() {
    let f = fixture();
    let snapshot = "wiretuner-prod-2024-01-15-00-00";
    let param = format!("snapshot={snapshot}");

    // --dry-run prints the exact commands and runs nothing.
    let o = f.run(
        &[],
        &[
            "runbook",
            "run",
            "db-restore",
            "--param",
            &param,
            "--dry-run",
        ],
    );
    ok(&o);
    let out = text(&o);
    assert!(
        out.contains(&format!(
            "$ aws rds restore-db-instance-from-db-snapshot --db-instance-identifier \
         wiretuner-prod-restored --db-snapshot-identifier {snapshot}"
        )),
        "{out}"
    );
    assert!(
        out.contains("destructive: confirm by typing wiretuner-prod-restored"),
        "{out}"
    );
    assert!(f.calls().is_empty());

    // Without a terminal and without --confirm: the listing runs, the restore does not.
    let o = f.run(&[], &["runbook", "run", "db-restore", "--param", &param]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("is destructive: type \"wiretuner-prod-restored\" to confirm it"),
        "{}",
        text(&o)
    );
    assert_eq!(f.calls().len(), 1);
    // The wrong name is refused, quoting what was typed.
    let o = f.run(
        &[],
        &[
            "runbook",
            "run",
            "db-restore",
            "--param",
            &param,
            "--step",
            "restore",
            "--confirm",
            "wiretuner-prod",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("(typed \"wiretuner-prod\")"),
        "{}",
        text(&o)
    );
    assert_eq!(f.calls().len(), 1);

    // Confirmed: every step, with exactly these arguments.
    let o = f.run(
        &[],
        &[
            "--json",
            "runbook",
            "run",
            "db-restore",
            "--param",
            &param,
            "--confirm",
            "wiretuner-prod-restored",
        ],
    );
    ok(&o);
    let done: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(done["within_rto"], true);
    assert_eq!(done["rto_minutes"], 15);
    let calls = f.calls();
    assert_eq!(calls.len(), 4);
    assert_eq!(
        calls[1],
        strings(&[
            "aws",
            "rds",
            "describe-db-snapshots",
            "--db-instance-identifier",
            "wiretuner-prod"
        ])
    );
    assert_eq!(
        calls[2],
        strings(&[
            "aws",
            "rds",
            "restore-db-instance-from-db-snapshot",
            "--db-instance-identifier",
            "wiretuner-prod-restored",
            "--db-snapshot-identifier",
            snapshot
        ])
    );
    // The restore is done (and the RTO judged) when the restored instance is available.
    assert_eq!(
        calls[3],
        strings(&[
            "aws",
            "rds",
            "wait",
            "db-instance-available",
            "--db-instance-identifier",
            "wiretuner-prod-restored"
        ])
    );
    // Every step run is audited with its command, before it ran; the task's log holds the
    // tool's output and the RTO.
    let steps = f.audit("runbook.step");
    assert_eq!(steps.len(), 4, "{steps:#?}");
    assert_eq!(steps[2]["target"], "db-restore/restore");
    assert_eq!(steps[2]["after"]["confirmed"], "wiretuner-prod-restored");
    assert!(
        steps[2]["after"]["command"]
            .as_str()
            .is_some_and(|c| c.ends_with(&format!("--db-snapshot-identifier {snapshot}")))
    );
    let logs: Vec<PathBuf> = std::fs::read_dir(f.ws.join("logs/runbooks"))
        .expect("logs")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(logs.iter().any(|l| {
        std::fs::read_to_string(l).is_ok_and(|t| {
            t.contains("aws stand-in ran: rds restore-db-instance-from-db-snapshot")
                && t.contains("RTO clock: ")
                && !t.contains("STAND-IN")
        })
    }));

    // Each step's end is audited for the quarterly review: the lone listing earlier, then the
    // three steps of the confirmed run; the restore names its snapshot and the time in its name.
    let ends = f.audit("runbook.step.end");
    assert_eq!(ends.len(), 4, "{ends:#?}");
    assert_ne!(ends[0]["after"]["run"], ends[1]["after"]["run"]);
    assert_eq!(ends[2]["target"], "db-restore/restore");
    assert_eq!(ends[2]["after"]["state"], "succeeded");
    assert_eq!(ends[2]["after"]["snapshot"]["id"], snapshot);
    assert_eq!(
        ends[2]["after"]["snapshot"]["taken_at"],
        "2024-01-15T00:00:00Z"
    );
    assert_eq!(ends[2]["after"]["snapshot"]["rpo_minutes"], 60);
    assert!(
        ends[1]["after"].get("snapshot").is_none(),
        "the listing restores nothing"
    );
    // `metrics` reads the two runs back: the listing alone is not judged, the whole run is
    // within its RTO, and its snapshot (from 2024) was far older than the hour the RPO allows.
    let o = f.run(&[], &["--json", "metrics", "--since", "1d"]);
    ok(&o);
    let m: Value = serde_json::from_slice(&o.stdout).expect("json");
    let runs = m["drills"]["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 2, "{runs:#?}");
    assert_eq!(runs[0]["outcome"]["outcome"], "in_progress");
    assert_eq!(runs[1]["outcome"]["within_rto"], true);
    assert_eq!(runs[1]["restore"]["within_rpo"], false);
    assert!(
        runs[1]["restore"]["age_secs"]
            .as_f64()
            .is_some_and(|a| a > 365.0 * 86_400.0),
        "{runs:#?}"
    );
    assert_eq!(m["drills"]["rto_judged"], 1);
}

#[test]
fn a_failing_step_stops_the_procedure_and_is_audited() {
    let f = fixture();
    let o = f.run(
        &[("FAIL_AWS", "3")],
        &[
            "runbook",
            "run",
            "db-restore",
            "--param",
            "snapshot=s1",
            "--confirm",
            "wiretuner-prod-restored",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("the steps after it were not run"),
        "{}",
        text(&o)
    );
    assert_eq!(f.calls().len(), 1, "the restore never ran");
    let failed = f.audit("runbook.step.failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["target"], "db-restore/list-snapshots");
    // Bad parameters are named before anything runs.
    let o = f.run(&[], &["runbook", "run", "db-restore"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("give \"snapshot\""), "{}", text(&o));
    let o = f.run(
        &[],
        &["runbook", "run", "db-restore", "--param", "snapshot"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("expected NAME=VALUE"), "{}", text(&o));
    assert_eq!(f.calls().len(), 1);
}

struct Redis {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn redis() -> Redis {
    let dir = tempfile::tempdir().expect("dir");
    let port = common::free_port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server (Debian package redis-server)");
    let r = Redis {
        child,
        port,
        _dir: dir,
    };
    for _ in 0..100 {
        if cli_redis(&r, &["PING"]) == "PONG" {
            return r;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("redis-server did not answer on port {port}");
}

fn cli_redis(r: &Redis, args: &[&str]) -> String {
    Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &r.port.to_string()])
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

#[test]
fn the_forced_drain_scales_the_deployment_down_and_empties_a_real_redis() {
    let f = fixture();
    let r = redis();
    for i in 0..5 {
        cli_redis(&r, &["SET", &format!("session:{i}"), "live"]);
    }
    assert_eq!(cli_redis(&r, &["DBSIZE"]), "5");
    let port = format!("redis_port={}", r.port);

    // Graceful: the deployment scales to zero, the sessions stay.
    let o = f.run(
        &[],
        &[
            "runbook",
            "run",
            "collab-drain",
            "--param",
            &port,
            "--confirm",
            "wiretuner-collaboration",
        ],
    );
    ok(&o);
    assert!(
        text(&o).contains("skipped (runs only with force=true)"),
        "{}",
        text(&o)
    );
    assert_eq!(
        f.calls(),
        [strings(&[
            "kubectl",
            "--namespace",
            "default",
            "scale",
            "deployment",
            "wiretuner-collaboration",
            "--replicas=0"
        ])]
    );
    assert_eq!(cli_redis(&r, &["DBSIZE"]), "5");

    // Forced: the real redis-cli flushes the session store.
    let o = f.run(
        &[],
        &[
            "runbook",
            "run",
            "collab-drain",
            "--param",
            &port,
            "--param",
            "force=true",
            "--confirm",
            "wiretuner-collaboration",
        ],
    );
    ok(&o);
    assert_eq!(cli_redis(&r, &["DBSIZE"]), "0");
    let steps = f.audit("runbook.step");
    assert_eq!(
        steps.last().map(|s| s["target"].clone()),
        Some("collab-drain/flush-sessions".into())
    );
    assert!(
        steps
            .last()
            .and_then(|s| s["after"]["command"].as_str())
            .is_some_and(|c| c.contains(&format!("-p {} -n 0 FLUSHDB", r.port))),
        "{steps:#?}"
    );
}

#[test]
fn runbook_list_names_the_checklists_and_the_procedures() {
    let f = fixture();
    let o = f.run(&[], &["--json", "runbook", "list"]);
    ok(&o);
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    let ids: Vec<(&str, &str)> = v
        .as_array()
        .expect("list")
        .iter()
        .map(|r| {
            (
                r["id"].as_str().expect("id"),
                r["kind"].as_str().expect("kind"),
            )
        })
        .collect();
    assert_eq!(
        ids,
        [
            ("release", "checklist"),
            ("hotfix", "checklist"),
            ("db-restore", "procedure"),
            ("collab-drain", "procedure")
        ]
    );
    // A workspace's own version of a procedure is used, and a broken one is named.
    std::fs::create_dir_all(f.ws.join("runbooks")).expect("dir");
    std::fs::write(
        f.ws.join("runbooks/dr_database_restore.toml"),
        "id = 'db-restore'\n",
    )
    .expect("write");
    let o = f.run(&[], &["runbook", "list"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("dr_database_restore.toml"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_parameter_value_that_would_be_read_as_an_option_is_refused_and_nothing_runs() {
    let f = fixture();
    // `kubectl scale deployment --all` would drain every deployment in the namespace.
    for args in [
        &[
            "runbook",
            "run",
            "collab-drain",
            "--param",
            "deployment=--all",
            "--dry-run",
        ][..],
        &[
            "runbook",
            "run",
            "collab-drain",
            "--param",
            "deployment=--all",
            "--confirm=--all",
        ][..],
        &["runbook", "show", "collab-drain", "--param", "namespace=-A"][..],
    ] {
        let o = f.run(&[], args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(
            err.contains("collab-drain: parameter \"deployment\"")
                || err.contains("collab-drain: parameter \"namespace\""),
            "{err}"
        );
        assert!(err.contains("starts with `-`"), "{err}");
        assert!(!text(&o).contains("scale deployment --all"), "{}", text(&o));
    }
    assert!(f.calls().is_empty(), "nothing ran: {:?}", f.calls());
    assert!(f.audit("runbook.step").is_empty());
}

/// Every task log under the workspace's `logs/runbooks/`, concatenated.
fn runbook_logs(f: &Fixture) -> String {
    std::fs::read_dir(f.ws.join("logs/runbooks"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

#[test]
fn the_demo_runs_its_procedures_against_its_stand_ins_never_the_tools_on_path() {
    let f = demo();
    let snapshot = "snapshot=wiretuner-prod-2024-01-15-00-00";
    // Listed, shown and dry-run, each says so.
    let o = f.run(&[], &["runbook", "list"]);
    ok(&o);
    assert!(
        text(&o).contains("against the stand-ins in dr-stand-ins/ (no real command runs)"),
        "{}",
        text(&o)
    );
    let o = f.run(&[], &["runbook", "show", "db-restore", "--param", snapshot]);
    ok(&o);
    let out = text(&o);
    assert!(
        out.contains("STAND-INS: every step runs its program from dr-stand-ins/"),
        "{out}"
    );
    assert_eq!(
        out.matches("stand-in: dr-stand-ins/aws runs in its place; the real aws is not run")
            .count(),
        3,
        "{out}"
    );

    // The whole restore: every step runs the demo's stand-in, none the `aws` on PATH.
    let o = f.run(
        &[],
        &[
            "runbook",
            "run",
            "db-restore",
            "--param",
            snapshot,
            "--confirm",
            "wiretuner-prod-restored",
        ],
    );
    ok(&o);
    let out = text(&o);
    assert!(
        out.contains("stand-in: dr-stand-ins/aws runs in its place; the real aws is not run"),
        "{out}"
    );
    assert!(
        out.contains("every step succeeded in ") && out.contains("within the RTO of 15 min"),
        "{out}"
    );
    assert!(f.calls().is_empty(), "no real aws ran: {:?}", f.calls());
    let logs = runbook_logs(&f);
    assert!(
        logs.contains("DEMO STAND-IN: no AWS call was made"),
        "{logs}"
    );
    assert!(
        logs.contains("STAND-IN: dr-stand-ins/aws runs in place of `aws`; the real aws is not run"),
        "{logs}"
    );
    assert!(
        logs.contains("\"DBSnapshotIdentifier\": \"wiretuner-prod-2024-01-15-00-00\""),
        "{logs}"
    );
    assert!(
        logs.contains("wiretuner-prod-restored is available (made up: no instance exists)"),
        "{logs}"
    );
    let steps = f.audit("runbook.step");
    assert_eq!(steps.len(), 3, "{steps:#?}");
    assert!(
        steps
            .iter()
            .all(|s| s["after"]["stand_in"] == "dr-stand-ins/aws"),
        "{steps:#?}"
    );
    let finished = f.audit("task.finish");
    assert!(
        finished.iter().any(|e| e["target"]
            .as_str()
            .is_some_and(|t| t.contains("runbook db-restore: restore (stand-in)"))),
        "{finished:#?}"
    );

    // The forced drain: kubectl and redis-cli are the demo's too.
    let o = f.run(
        &[],
        &[
            "--json",
            "runbook",
            "run",
            "collab-drain",
            "--param",
            "force=true",
            "--confirm",
            "wiretuner-collaboration",
        ],
    );
    ok(&o);
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["within_rto"], true, "{v:#}");
    assert_eq!(v["steps"][1]["stand_in"], "dr-stand-ins/redis-cli", "{v:#}");
    assert!(f.calls().is_empty(), "nothing on PATH ran: {:?}", f.calls());
    assert!(runbook_logs(&f).contains("DEMO STAND-IN: no Redis server was contacted"));
}

#[test]
fn a_failed_or_partial_run_gets_no_rto_verdict() {
    let f = demo();
    // The demo's aws knows no such snapshot: the restore fails, and the run has no verdict.
    let o = f.run(
        &[],
        &[
            "runbook",
            "run",
            "db-restore",
            "--param",
            "snapshot=wiretuner-prod-1999-01-01-00-00",
            "--confirm",
            "wiretuner-prod-restored",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("FAILED at step 2 (restore); RTO not judged"),
        "{out}"
    );
    assert!(
        out.contains(
            "the stand-in dr-stand-ins/aws failed: exit status: 254 (the real aws was not run)"
        ),
        "{out}"
    );
    assert!(
        !out.contains("within the RTO") && !out.contains("OVER the RTO"),
        "{out}"
    );
    assert!(runbook_logs(&f).contains("DBSnapshotNotFound"));
    let o = f.run(
        &[],
        &[
            "--json",
            "runbook",
            "run",
            "db-restore",
            "--param",
            "snapshot=nope",
            "--confirm",
            "wiretuner-prod-restored",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["within_rto"], Value::Null, "{v:#}");
    assert_eq!(v["result"]["outcome"], "stopped", "{v:#}");
    assert_eq!(v["result"]["number"], 2, "{v:#}");
    assert_eq!(v["result"]["state"], "failed", "{v:#}");

    // One step of three succeeded: no verdict either.
    let o = f.run(
        &[],
        &[
            "runbook",
            "run",
            "db-restore",
            "--param",
            "snapshot=nope",
            "--step",
            "list-snapshots",
        ],
    );
    ok(&o);
    let out = text(&o);
    assert!(
        out.contains("1 of 3 steps succeeded so far; RTO judged once every step has succeeded"),
        "{out}"
    );
    assert!(
        !out.contains("within the RTO") && !out.contains("OVER the RTO"),
        "{out}"
    );
    // With the real tools (no stand-ins), a failed first step has no verdict too.
    let f = fixture();
    let o = f.run(
        &[("FAIL_AWS", "3")],
        &["runbook", "run", "db-restore", "--param", "snapshot=s1"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("FAILED at step 1 (list-snapshots); RTO not judged"),
        "{}",
        text(&o)
    );
    assert!(f.calls().len() == 1 && f.calls()[0][0] == "aws");
}

#[test]
fn with_stand_ins_set_a_step_without_one_runs_nothing() {
    let f = fixture();
    let cfg = f.ws.join("release-console.toml");
    let mut config = std::fs::read_to_string(&cfg).expect("config");
    config.push_str("\n[dr]\nstand_ins = \"my-stand-ins\"\n");
    std::fs::write(&cfg, config).expect("write");
    std::fs::create_dir(f.ws.join("my-stand-ins")).expect("folder");
    let o = f.run(
        &[],
        &[
            "runbook",
            "run",
            "db-restore",
            "--param",
            "snapshot=s1",
            "--step",
            "list-snapshots",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("not run: no stand-in my-stand-ins/aws for `aws`"),
        "{}",
        text(&o)
    );
    assert!(
        f.calls().is_empty(),
        "the aws on PATH never ran: {:?}",
        f.calls()
    );
    assert!(
        f.audit("runbook.step").is_empty(),
        "nothing was run, so nothing is audited as run"
    );
}

/// A procedure is shown before every parameter has a value (`{snapshot}` where it goes, and
/// what is still to give), and a step that needs none of the missing ones runs on its own:
/// the snapshots are listed before one is picked.
#[test]
fn a_procedure_is_shown_and_its_first_step_runs_before_the_snapshot_is_picked() {
    let f = fixture();
    let o = f.run(&[], &["runbook", "show", "db-restore"]);
    ok(&o);
    let out = text(&o);
    assert!(
        out.contains("$ aws rds describe-db-snapshots --db-instance-identifier wiretuner-prod")
            && out.contains("--db-snapshot-identifier {snapshot}")
            && out.contains(
                "snapshot = (not given: --param snapshot=VALUE; the steps that use {snapshot} \
                 cannot run yet)"
            ),
        "{out}"
    );
    let o = f.run(&[], &["--json", "runbook", "show", "db-restore"]);
    ok(&o);
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["missing"], serde_json::json!(["snapshot"]), "{v:#}");
    // An unknown parameter is still refused.
    let o = f.run(
        &[],
        &["runbook", "show", "db-restore", "--param", "snapshots=x"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("no parameter \"snapshots\""),
        "{}",
        text(&o)
    );
    assert!(f.calls().is_empty());

    // The listing runs without a snapshot; the restore does not, naming what it needs.
    let o = f.run(
        &[],
        &["runbook", "run", "db-restore", "--step", "list-snapshots"],
    );
    ok(&o);
    assert_eq!(f.calls().len(), 1);
    let o = f.run(
        &[],
        &[
            "runbook",
            "run",
            "db-restore",
            "--step",
            "restore",
            "--confirm",
            "wiretuner-prod-restored",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("give \"snapshot\""), "{}", text(&o));
    assert_eq!(f.calls().len(), 1, "the restore never ran");
}

/// A value holding a placeholder is refused, naming the parameter, and nothing runs: filled in
/// one parameter after another, `instance={snapshot}` listed (and restored into) the
/// snapshot's name while the plan said `instance = {snapshot}`.
#[test]
fn a_value_holding_a_placeholder_is_refused_and_nothing_runs() {
    let f = fixture();
    let o = f.run(
        &[],
        &[
            "runbook",
            "show",
            "db-restore",
            "--param",
            "instance={snapshot}",
            "--param",
            "snapshot=snap-1",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("parameter \"instance\" is \"{snapshot}\", which holds `{` or `}`"),
        "{}",
        text(&o)
    );
    let o = f.run(
        &[],
        &[
            "runbook",
            "run",
            "db-restore",
            "--step",
            "list-snapshots",
            "--param",
            "instance={snapshot}",
            "--param",
            "snapshot=snap-1",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(f.calls().is_empty(), "{:?}", f.calls());
    assert!(f.audit("runbook.step").is_empty());
}
