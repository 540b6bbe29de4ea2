//! The CLI end to end, as CI runs it: exit codes, one-line errors, JSON output.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

/// The binary acting as `ci-bot`, so audit entries name a known actor.
fn bin() -> Command {
    let mut c = common::bin();
    c.env("USER", "ci-bot");
    c
}

fn run(ws: &Path, args: &[&str]) -> Output {
    bin()
        .arg("--workspace")
        .arg(ws)
        .args(args)
        .output()
        .expect("run release-console")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn init() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let ws = dir.path().join("ws");
    let o = bin()
        .arg("init")
        .arg(&ws)
        .arg("--product")
        .arg("WireTuner")
        .output()
        .expect("init");
    assert!(o.status.success(), "{}", stderr(&o));
    (dir, ws)
}

#[test]
fn release_and_checklist_flow_with_json() {
    let (_d, ws) = init();
    let o = run(&ws, &["release", "new", "0.1.0"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&ws, &["release", "new", "0.1.1", "--hotfix-of", "0.1.0"]);
    assert!(
        stdout(&o).contains("created WireTuner 0.1.1 (hotfix of 0.1.0, runbook \"hotfix\")"),
        "{}",
        stdout(&o)
    );

    let o = run(
        &ws,
        &[
            "checklist",
            "tick",
            "pre.review-flags",
            "--note",
            "all off",
            "--release",
            "0.1.0",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).trim(),
        "ticked pre.review-flags for 0.1.0 as ci-bot"
    );

    let o = run(&ws, &["--json", "checklist", "show", "--release", "0.1.0"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["release"], "0.1.0");
    let phase = &v["phases"][0];
    assert_eq!(
        (phase["done"].as_u64(), phase["total"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(phase["items"][0]["state"]["by"], "ci-bot");
    assert_eq!(phase["items"][0]["state"]["note"], "all off");

    // The newest release (the hotfix) is the default, with its own runbook.
    let o = run(&ws, &["checklist", "show"]);
    assert!(
        stdout(&o).contains("WireTuner 0.1.1: Hotfix checklist"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("[ ] hotfix.branch"), "{}", stdout(&o));

    let o = run(
        &ws,
        &[
            "checklist",
            "untick",
            "pre.review-flags",
            "--release",
            "0.1.0",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&ws, &["--json", "audit", "list", "--action", "checklist"]);
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).expect("json");
    let actions: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, ["checklist.tick", "checklist.untick"]);
    assert_eq!(entries[1]["before"]["done"], true);
    assert_eq!(entries[1]["after"]["done"], false);

    let o = run(&ws, &["--json", "release", "list"]);
    let list: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(list.len(), 2);
    assert_eq!(list[1]["kind"], "hotfix");
    assert_eq!(list[1]["of"], "0.1.0");
}

#[test]
fn audit_show_prints_what_an_entry_changed_field_by_field() {
    let (_d, ws) = init();
    assert!(run(&ws, &["release", "new", "0.1.0"]).status.success());
    for verb in ["tick", "untick", "tick"] {
        let o = run(&ws, &["checklist", verb, "pre.validate-staging"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let o = run(&ws, &["--json", "audit", "list", "--action", "checklist"]);
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).expect("json");
    let seq = entries[2]["seq"].as_u64().expect("seq").to_string();

    let o = run(&ws, &["audit", "show", &seq]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.lines()
            .next()
            .is_some_and(|l| l.contains("ci-bot  checklist.tick  0.1.0/pre.validate-staging")),
        "{out}"
    );
    assert!(out.contains("\n  done: false -> true\n"), "{out}");
    // The same actor both times, no note: unchanged, listed only with --all.
    assert!(!out.contains("by: ci-bot"), "{out}");
    assert!(
        out.contains("field(s) unchanged; --all lists them"),
        "{out}"
    );
    let all = stdout(&run(&ws, &["audit", "show", &seq, "--all"]));
    assert!(all.contains("\n  by: ci-bot\n"), "{all}");

    let o = run(&ws, &["--json", "audit", "show", &seq]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["entry"]["action"], "checklist.tick");
    let done = v["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["path"] == "done")
        .expect("done");
    assert_eq!(
        (&done["kind"], &done["before"], &done["after"]),
        (
            &serde_json::json!("changed"),
            &serde_json::json!(false),
            &serde_json::json!(true)
        )
    );

    let o = run(&ws, &["audit", "show", "999"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("there is no entry #999"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn usage_and_config_errors_exit_2_with_one_line_naming_where() {
    let (_d, ws) = init();
    let o = run(&ws, &["release", "new", "1.2"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: version \"1.2\": not a semantic version"),
        "{err}"
    );

    run(&ws, &["release", "new", "1.2.0"]);
    let o = run(&ws, &["checklist", "tick", "deploy.publish-installers"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(
            "cannot tick \"deploy.publish-installers\": Phase 1: Pre-release is not complete"
        ),
        "{}",
        stderr(&o)
    );

    let o = run(&ws, &["checklist", "tick", "no.such"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no checklist item \"no.such\""),
        "{}",
        stderr(&o)
    );

    let cfg = ws.join("release-console.toml");
    let text = std::fs::read_to_string(&cfg).expect("config");
    std::fs::write(
        &cfg,
        text.replace(
            "provider = \"local\"\napi_base = \"https://app",
            "provider = \"optimizely\"\napi_base = \"https://app",
        ),
    )
    .expect("write");
    let o = run(&ws, &["release", "list"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("release-console.toml:")
            && err.contains("key `flags.provider`: unknown variant `optimizely`"),
        "{err}"
    );

    let o = bin()
        .args(["checklist", "frobnicate"])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(2), "clap usage errors exit 2");

    let empty = tempfile::tempdir().expect("tempdir");
    let o = run(empty.path(), &["release", "list"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("not a release workspace"),
        "{}",
        stderr(&o)
    );
}

/// The `error:` line of a failed command, which must be its only one.
#[track_caller]
fn error_line(o: &Output) -> String {
    assert!(!o.status.success(), "{}", stderr(o));
    let err = stderr(o);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    lines[0].to_owned()
}

/// A nested error (a state file or the configuration that cannot be read, under the
/// workspace's error) says the operating system's words once, however the CLI prints its
/// chain (issue 28).
#[test]
fn a_nested_error_says_its_cause_once() {
    let (_d, ws) = init();
    let o = run(&ws, &["release", "new", "0.1.0"]);
    assert!(o.status.success(), "{}", stderr(&o));

    let checklist = ws.join("releases/0.1.0/checklist.json");
    let _ = std::fs::remove_file(&checklist);
    std::fs::create_dir_all(&checklist).expect("a folder where the checklist was");
    let os_says = std::fs::read(&checklist)
        .expect_err("a folder is no file")
        .to_string();
    let err = error_line(&run(&ws, &["checklist", "show"]));
    assert!(err.contains("checklist.json: read: "), "{err}");
    assert_eq!(err.matches(&os_says).count(), 1, "{err}");

    std::fs::write(
        ws.join("release-console.toml"),
        b"[product]\nname = \"\xff\"\n",
    )
    .expect("write a config that is not UTF-8");
    let err = error_line(&run(&ws, &["release", "list"]));
    assert!(err.contains("release-console.toml: cannot read: "), "{err}");
    assert_eq!(err.matches("valid UTF-8").count(), 1, "{err}");
}

/// A workspace whose configuration is there but is no file (a folder of that name) says so,
/// with the operating system's words, from its folder and with --workspace: it was taken for
/// no workspace at all, and a command run in it used the demo workspace instead.
#[test]
fn a_configuration_that_is_a_folder_is_named_not_replaced_by_the_demo() {
    let home = tempfile::tempdir().expect("home");
    let cwd = tempfile::tempdir().expect("cwd");
    let config = cwd.path().join("release-console.toml");
    std::fs::create_dir(&config).expect("a folder named as the configuration");
    let os_says = std::fs::read_to_string(&config)
        .expect_err("a folder is no file")
        .to_string();
    let run_in = |args: &[&str]| {
        bin()
            .args(args)
            .current_dir(cwd.path())
            .env_remove("RELEASE_CONSOLE_WORKSPACE")
            .env("HOME", home.path())
            .env("XDG_DATA_HOME", home.path().join("data"))
            .output()
            .expect("run")
    };
    for args in [
        &["release", "list"][..],
        &["--workspace", ".", "release", "list"][..],
    ] {
        let o = run_in(args);
        let err = error_line(&o);
        assert!(
            err.contains("release-console.toml") && err.contains(&os_says),
            "{args:?}: {err}"
        );
        assert!(!stderr(&o).contains("demo workspace"), "{}", stderr(&o));
    }
}

/// Writes a workspace with five audit entries and returns the log's lines.
fn audited() -> (tempfile::TempDir, std::path::PathBuf, Vec<String>) {
    let (d, ws) = init();
    run(&ws, &["release", "new", "1.0.0"]);
    for item in [
        "pre.review-flags",
        "pre.validate-staging",
        "pre.release-notes",
    ] {
        assert!(
            run(&ws, &["checklist", "tick", item, "--note", "by hand"])
                .status
                .success()
        );
    }
    let lines: Vec<String> = std::fs::read_to_string(ws.join("audit.log"))
        .expect("log")
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), 5);
    let o = run(&ws, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(
        stdout(&o).starts_with("audit log intact: 5 entries"),
        "{}",
        stdout(&o)
    );
    (d, ws, lines)
}

fn verify_after(ws: &Path, lines: &[String], tail: &str) -> (Option<i32>, String) {
    std::fs::write(ws.join("audit.log"), lines.join("\n") + tail).expect("rewrite");
    let o = run(ws, &["audit", "verify"]);
    (o.status.code(), stdout(&o))
}

#[test]
fn audit_verify_catches_an_edited_line() {
    let (_d, ws, mut lines) = audited();
    lines[2] = lines[2].replace("ci-bot", "mallory");
    let (code, out) = verify_after(&ws, &lines, "\n");
    assert_eq!(code, Some(1));
    assert!(
        out.contains("audit.log:3: line 3 was changed after it was written"),
        "{out}"
    );
}

#[test]
fn audit_verify_catches_an_edited_last_line() {
    let (_d, ws, mut lines) = audited();
    lines[4] = lines[4].replace("pre.release-notes", "pre.other");
    let (code, out) = verify_after(&ws, &lines, "\n");
    assert_eq!(code, Some(1));
    assert!(out.contains("audit.log:5: line 5 was changed after it was written: it does not match the hash recorded in audit.head"), "{out}");
}

#[test]
fn audit_verify_catches_a_deleted_line() {
    let (_d, ws, mut lines) = audited();
    lines.remove(1);
    let (code, out) = verify_after(&ws, &lines, "\n");
    assert_eq!(code, Some(1));
    assert!(
        out.contains("audit.log:2: holds entry #3 where entry #2 belongs"),
        "{out}"
    );
}

#[test]
fn audit_verify_catches_reordered_lines() {
    let (_d, ws, mut lines) = audited();
    lines.swap(3, 4);
    let (code, out) = verify_after(&ws, &lines, "\n");
    assert_eq!(code, Some(1));
    assert!(
        out.contains("audit.log:4: holds entry #5 where entry #4 belongs"),
        "{out}"
    );
}

#[test]
fn audit_verify_catches_truncation() {
    let (_d, ws, lines) = audited();
    let (code, out) = verify_after(&ws, &lines[..3], "\n");
    assert_eq!(code, Some(1));
    assert!(
        out.contains("audit.log:4: audit.log ends after 3 entries but audit.head records 5"),
        "{out}"
    );
    // Cut mid-line.
    let (code, out) = verify_after(&ws, &lines[..4], &format!("\n{}", &lines[4][..20]));
    assert_eq!(code, Some(1));
    assert!(
        out.contains("audit.log:5: incomplete entry (cut off mid-line)"),
        "{out}"
    );
    // And an append refuses to build on a log that lost entries.
    let (_, _) = verify_after(&ws, &lines[..3], "\n");
    let o = run(&ws, &["checklist", "untick", "pre.review-flags"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("audit.head records 5: the log was truncated"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn help_lists_every_command() {
    let o = bin().arg("--help").output().expect("help");
    let help = stdout(&o);
    // The commands section, one `  NAME  description` line each.
    let listed: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .and_then(|rest| rest.split("Options:").next())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        listed,
        [
            "init",
            "release",
            "checklist",
            "audit",
            "pipeline",
            "verify",
            "publish",
            "deploy",
            "status",
            "flags",
            "findings",
            "kpi",
            "metrics",
            "runbook",
            "notify",
            "secrets",
            "workspace",
            "doctor",
            "keys",
            "bench",
            "help"
        ],
        "{help}"
    );
}

#[test]
fn without_a_workspace_the_demo_is_unpacked_into_the_data_dir_once() {
    let home = tempfile::tempdir().expect("home");
    let cwd = tempfile::tempdir().expect("cwd");
    let demo = |args: &[&str]| {
        bin()
            .args(args)
            .current_dir(cwd.path())
            .env("HOME", home.path())
            .env("XDG_DATA_HOME", home.path().join("data"))
            .output()
            .expect("run")
    };
    let o = demo(&["release", "list"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("note: using the demo workspace at"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).starts_with("0.1.0"), "{}", stdout(&o));
    let root = home.path().join("data/release-console/demo-workspace");
    let config = std::fs::read_to_string(root.join("release-console.toml")).expect("demo config");
    assert!(config.contains("name = \"WireTuner\""));
    assert!(config.contains("provider = \"local\""));

    // A second run reuses it (and what was done in it).
    assert!(
        demo(&[
            "checklist",
            "tick",
            "pre.review-flags",
            "--note",
            "reviewed"
        ])
        .status
        .success()
    );
    let o = demo(&["--json", "release", "show"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["phases"][0]["done"], 1);
    // A workspace in the current directory wins over the demo.
    assert!(
        bin()
            .arg("init")
            .arg(cwd.path())
            .output()
            .expect("init")
            .status
            .success()
    );
    let o = demo(&["release", "list"]);
    assert!(!stderr(&o).contains("demo"), "{}", stderr(&o));
    assert!(stdout(&o).contains("no releases yet"), "{}", stdout(&o));
}

#[test]
fn audit_verify_catches_a_log_deleted_with_its_head() {
    let (_dir, ws, _) = audited();
    std::fs::remove_file(ws.join("audit.log")).expect("remove log");
    std::fs::remove_file(ws.join("audit.head")).expect("remove head");
    let o = run(&ws, &["audit", "verify"]);
    assert!(!o.status.success(), "{}", stderr(&o));
    assert!(
        text_of(&o).contains("audit.log and audit.head were deleted"),
        "{}",
        text_of(&o)
    );
}

fn text_of(o: &Output) -> String {
    format!("{}{}", stdout(o), stderr(o))
}

/// A Statuspage API key is 32 lower-case hex digits: to a shell, a valid variable name.
const PASTED_KEY: &str = "89a2c0ffee1d2e3f40516273849aeb4c";

#[test]
fn a_secret_pasted_into_an_env_key_is_refused_naming_the_line_and_never_echoed() {
    let (_d, ws) = init();
    let cfg = ws.join("release-console.toml");
    let original = std::fs::read_to_string(&cfg).expect("config");
    for (from, to, key) in [
        (
            "api_key_env = \"STATUSPAGE_API_KEY\"",
            format!("api_key_env = \"{PASTED_KEY}\""),
            "status_page.api_key_env",
        ),
        (
            "session_token_env = \"AWS_SESSION_TOKEN\"",
            format!("session_token_env = \"{PASTED_KEY}\""),
            "publish.session_token_env",
        ),
        (
            "apple_certificate_password_env = \"APPLE_CERTIFICATE_PASSWORD\"",
            format!("apple_certificate_password_env = \"{PASTED_KEY}\""),
            "signing.apple_certificate_password_env",
        ),
        (
            "token_env = \"LAUNCHDARKLY_ACCESS_TOKEN\"",
            format!("token_env = \"{PASTED_KEY}\""),
            "flags.token_env",
        ),
        (
            "token_env = \"LAUNCHDARKLY_ACCESS_TOKEN\"",
            "token_secret = \"sk-live-0ddba11\"\ntoken_env = \"LAUNCHDARKLY_ACCESS_TOKEN\""
                .to_owned(),
            "flags.token_secret",
        ),
    ] {
        assert!(original.contains(from), "{from} in {original}");
        let config = original.replacen(from, &to, 1);
        std::fs::write(&cfg, &config).expect("write");
        let line = config
            .lines()
            .position(|l| l == to.lines().next().unwrap_or_default())
            .expect("line")
            + 1;
        for args in [&["release", "list"][..], &["status", "components"][..]] {
            let o = run(&ws, args);
            assert_eq!(o.status.code(), Some(2), "{key}: {}", text_of(&o));
            let err = stderr(&o);
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(!text_of(&o).contains(PASTED_KEY), "echoed: {err}");
            assert!(!text_of(&o).contains("sk-live-0ddba11"), "echoed: {err}");
            if key.ends_with("_env") {
                assert!(
                    err.contains(&format!(
                        "release-console.toml:{line}:1: key `{key}`: must name an environment \
                         variable (upper-case letters, digits and `_`, not starting with a \
                         digit); its value is not shown in case it is a secret"
                    )),
                    "{key}: {err}"
                );
            } else {
                assert!(err.contains(&format!("key `{key}`: ")), "{err}");
                assert!(err.contains("is not shown in case it is a secret"), "{err}");
            }
        }
    }
}

#[test]
fn secrets_read_from_the_environment_are_masked_in_task_logs() {
    const SESSION: &str = "FwoGZXIvYXdzEXAMPLEsessiontoken7c1d";
    const APPLE_PASS: &str = "apple-p12-pass-5e4f3a";
    let (_d, ws) = init();
    assert!(run(&ws, &["release", "new", "0.1.0"]).status.success());
    // A builder that needs both and prints them by mistake.
    let def = ws.join("packaging/pipelines/default.toml");
    let mut text_def = std::fs::read_to_string(&def).expect("definition");
    text_def.push_str(
        "\n[platforms.leaky]\ntitle = \"Prints its secrets\"\nhost_os = \"linux\"\n\
         builder = [\"bash\", \"packaging/leaky.sh\"]\nchecklist_kind = \"pipeline.leaky\"\n\
         pass_env = [\"AWS_SESSION_TOKEN\", \"APPLE_CERTIFICATE_PASSWORD\"]\n",
    );
    std::fs::write(&def, text_def).expect("definition");
    std::fs::write(
        ws.join("packaging/leaky.sh"),
        "echo ::step:: Leak\necho \"token=$AWS_SESSION_TOKEN\"\n\
         echo \"p12=$APPLE_CERTIFICATE_PASSWORD\"\n",
    )
    .expect("builder");
    let o = bin()
        .arg("--workspace")
        .arg(&ws)
        .args([
            "pipeline",
            "run",
            "--version",
            "0.1.0",
            "--platform",
            "leaky",
        ])
        .env("AWS_SESSION_TOKEN", SESSION)
        .env("APPLE_CERTIFICATE_PASSWORD", APPLE_PASS)
        .output()
        .expect("run");
    // The builder makes no installer, so the run fails after it; what it printed is the point.
    let out = text_of(&o);
    assert!(out.contains("token=<redacted>"), "{out}");
    assert!(out.contains("p12=<redacted>"), "{out}");
    let logs: Vec<String> = std::fs::read_dir(ws.join("releases/0.1.0/logs"))
        .expect("logs")
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).expect("log"))
        .collect();
    assert!(
        logs.iter()
            .any(|l| l.contains("token=<redacted>") && l.contains("p12=<redacted>")),
        "{logs:?}"
    );
    for text in logs.iter().chain([&out]) {
        assert!(
            !text.contains(SESSION) && !text.contains(APPLE_PASS),
            "{text}"
        );
    }
}

#[test]
fn after_two_crashes_between_append_and_head_the_next_command_works_and_verify_passes() {
    let (_d, ws) = init();
    assert!(run(&ws, &["release", "new", "1.0.0"]).status.success());
    let head = std::fs::read(ws.join("audit.head")).expect("head");
    let checklist = ws.join("releases/1.0.0/checklist.json");
    for item in ["pre.review-flags", "pre.validate-staging"] {
        assert!(
            run(&ws, &["checklist", "tick", item, "--note", "by hand"])
                .status
                .success()
        );
    }
    // Both ticks were killed after their entry was appended, before the head moved and the
    // state was written.
    std::fs::write(ws.join("audit.head"), head).expect("old head");
    std::fs::remove_file(&checklist).expect("no state yet");

    let o = run(
        &ws,
        &[
            "checklist",
            "tick",
            "pre.release-notes",
            "--note",
            "by hand",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&ws, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(
        stdout(&o).starts_with("audit log intact: 5 entries"),
        "{}",
        stdout(&o)
    );
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&checklist).expect("checklist")).expect("json");
    for (item, seq) in [
        ("pre.review-flags", 3),
        ("pre.validate-staging", 4),
        ("pre.release-notes", 5),
    ] {
        assert_eq!(state["items"][item]["done"], true, "{item}: {state}");
        assert_eq!(state["items"][item]["audit_seq"], seq, "{item}: {state}");
    }
}

#[test]
fn audit_verify_names_a_state_file_that_disagrees_with_the_log() {
    let (_d, ws, _lines) = audited();
    let path = ws.join("releases/1.0.0/checklist.json");
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("checklist")).expect("json");
    state["items"]["pre.release-notes"]["done"] = serde_json::json!(false);
    std::fs::write(&path, state.to_string()).expect("edit");
    let o = run(&ws, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains(&format!(
            "{} disagrees with the log: item pre.release-notes is unticked as of entry #5, but \
             its last change in the log is entry #5 (checklist.tick)",
            path.display()
        )),
        "{}",
        stdout(&o)
    );
}

#[test]
fn output_into_a_closed_pipe_ends_quietly_as_a_unix_tool_does() {
    let (_d, ws) = init();
    let o = run(&ws, &["release", "new", "1.0.0"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The reader is gone before the command writes a line (as `| head -0` would leave it).
    let mut child = bin()
        .arg("--workspace")
        .arg(&ws)
        .args(["checklist", "show"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let o = child.wait_with_output().expect("wait");
    assert_eq!(o.status.code(), Some(141), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
}

/// `bench --only team` at small sizes against the `weed mini` it starts itself: every figure is
/// in the JSON, and the writers' log lost and doubled nothing.
#[test]
fn bench_team_reports_every_figure_and_loses_nothing() {
    const WRITERS: u64 = 3;
    const CHANGES: u64 = 10;
    let scratch = tempfile::tempdir().expect("scratch");
    let o = bin()
        .args([
            "--json",
            "bench",
            "--only",
            "team",
            "--team-writers",
            &WRITERS.to_string(),
            "--team-changes",
            &CHANGES.to_string(),
            "--team-visibility",
            "3",
            "--team-entries",
            "300",
            "--team-replay",
            "3000",
            "--scratch",
        ])
        .arg(scratch.path())
        .output()
        .expect("run bench");
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&o)));
    let t = &v["team"];
    let w = &t["writers"];
    let num = |v: &serde_json::Value, k: &str| {
        v[k].as_f64()
            .unwrap_or_else(|| panic!("no number {k} in {v}"))
    };
    // Every change was acknowledged or given up after lost races; the bucket holds exactly
    // the acknowledged ones.
    assert_eq!(
        w["acknowledged"].as_u64().expect("acknowledged") + w["gave_up"].as_u64().expect("gave_up"),
        WRITERS * CHANGES,
        "{w}"
    );
    assert_eq!(w["bucket_entries"], w["acknowledged"], "{w}");
    assert_eq!(w["lost"], 0, "{w}");
    assert_eq!(w["doubled"], 0, "{w}");
    assert_eq!(w["verify_passed_in_every_cache"], true, "{w}");
    assert_eq!(w["state_agrees_in_every_cache"], true, "{w}");
    assert!(
        num(w, "committed_per_sec") > 0.0 && num(w, "raw_put_per_sec") > 0.0,
        "{w}"
    );
    assert_eq!(w["goal_per_sec"], 100.0, "{w}");

    let vis = &t["visibility"];
    assert_eq!(vis["changes"], 3, "{vis}");
    assert_eq!(vis["poll_every_ms"], 1500.0, "{vis}");
    assert!(num(vis, "max_ms") >= num(vis, "median_ms"), "{vis}");
    // A change is seen at the latest one poll and one sync after it was made.
    assert!(num(vis, "max_ms") < 1500.0 + 5000.0, "{vis}");

    let open = &t["open"];
    assert_eq!(open["entries"], 300, "{open}");
    // Sealed segments hold whole ranges only: 300 entries are none yet.
    assert_eq!(open["segment_entries"], 1024, "{open}");
    assert_eq!(open["segments"], 0, "{open}");
    assert_eq!(open["goal_secs"], 2.0, "{open}");
    assert!(open["meets_goal"].is_boolean(), "{open}");
    for k in [
        "cold_secs",
        "warm_secs",
        "cold_entries_per_sec",
        "raw_get_per_sec",
        "seed_put_per_sec",
    ] {
        assert!(num(open, k) > 0.0, "{k}: {open}");
    }

    let replay = &t["replay"];
    assert_eq!(replay["entries"], 3000, "{replay}");
    assert!(num(replay, "entries_per_sec") > 0.0, "{replay}");
    assert!(num(replay, "parse_only_entries_per_sec") > 0.0, "{replay}");
    assert_eq!(replay["goal_entries_per_sec"], 500_000.0, "{replay}");
}

/// `doctor`: one aligned line per tool, secret and the signing key, then a summary line; the
/// signing key as `keys new` made it (state and fingerprint), as Settings shows it.
#[test]
fn doctor_is_one_aligned_line_per_item_with_the_signing_key_and_a_summary() {
    let (dir, ws) = init();
    let keys = dir.path().join("keys");
    let with_keys = |args: &[&str]| {
        bin()
            .env("RELEASE_CONSOLE_KEYS_DIR", &keys)
            .arg("--workspace")
            .arg(&ws)
            .args(args)
            .output()
            .expect("run")
    };
    let o = with_keys(&["doctor"]);
    let text = stdout(&o);
    let key_line = |text: &str| {
        text.lines()
            .skip_while(|l| !l.starts_with("Signing key"))
            .nth(1)
            .unwrap_or_default()
            .to_owned()
    };
    assert!(key_line(&text).starts_with("  UNSIGNED"), "{text}");
    assert!(
        text.lines()
            .last()
            .is_some_and(|l| l.contains("tools found") && l.ends_with("signing key: UNSIGNED")),
        "{text}"
    );
    // Every item line starts its name in the same column.
    let items: Vec<&str> = text.lines().filter(|l| l.starts_with("  ")).collect();
    let column = |l: &str| {
        let rest = l.trim_start();
        let state_end = l.len() - rest.len() + rest.find("  ").unwrap_or(0);
        state_end + l[state_end..].len() - l[state_end..].trim_start().len()
    };
    assert!(items.len() >= 3, "{text}");
    assert!(
        items
            .iter()
            .filter(|l| !l.starts_with("  ("))
            .all(|l| column(l) == column(items[0])),
        "{text}"
    );

    assert!(with_keys(&["keys", "new"]).status.success());
    let o = with_keys(&["--json", "doctor"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let fingerprint = v["signing_key"]["fingerprint"]
        .as_str()
        .expect("a fingerprint")
        .to_owned();
    assert_eq!(v["signing_key"]["signing"], "signed");
    let text = stdout(&with_keys(&["doctor"]));
    assert!(key_line(&text).starts_with("  SIGNED"), "{text}");
    assert!(key_line(&text).contains(&fingerprint), "{text}");
    assert!(
        text.lines()
            .last()
            .is_some_and(|l| l.ends_with(&format!("signing key: SIGNED ({fingerprint})"))),
        "{text}"
    );
}

/// `init`'s hint is a command that runs as printed; a second tick is refused saying by whom
/// and when the item was ticked, on the one `error:` line every refusal has.
#[test]
fn the_init_hint_runs_and_a_second_tick_says_who_ticked_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ws = dir.path().join("ws");
    let o = bin().arg("init").arg(&ws).output().expect("init");
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let hint = out
        .lines()
        .find_map(|l| l.strip_prefix("next: release-console "))
        .unwrap_or_else(|| panic!("no hint in {out}"));
    let args: Vec<&str> = hint.split_whitespace().collect();
    let o = bin().args(&args).output().expect("the hint");
    assert!(o.status.success(), "{hint}: {}", stderr(&o));

    let tick = ["checklist", "tick", "pre.validate-staging"];
    assert!(run(&ws, &tick).status.success());
    let o = run(&ws, &tick);
    assert!(!o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.starts_with(
            "error: release 0.1.0: \"pre.validate-staging\" is already ticked by ci-bot at 20"
        ),
        "{err}"
    );
}
