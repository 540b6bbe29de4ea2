//! Notifications: PagerDuty Events API v2 behind Prism with the vendor spec, Slack webhooks,
//! and the outbox across a kill -9.

use crate::common;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use crate::common::notify::{PagerDuty, ROUTING_KEY, Slack};
use crate::common::{cli_with, text};
use serde_json::Value;

fn workspace(extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("test setup");
    common::init(dir.path());
    let cfg = dir.path().join("release-console.toml");
    let mut s = std::fs::read_to_string(&cfg).expect("test setup");
    s.push_str(extra);
    std::fs::write(&cfg, s).expect("test setup");
    dir
}

fn run(ws: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let o = cli_with(ws, env, args);
    assert!(o.status.success(), "{args:?}: {}", text(&o));
    o
}

fn outbox(ws: &Path) -> Vec<Value> {
    let o = run(ws, &[], &["--json", "notify", "list", "--all"]);
    serde_json::from_slice(&o.stdout).expect("test setup")
}

fn incident(ws: &Path, env: &[(&str, &str)], severity: &str, message: &str) -> String {
    let o = run(
        ws,
        env,
        &[
            "status",
            "--action",
            "create",
            "--status",
            "investigating",
            "--component",
            "collaboration",
            "--message",
            message,
            "--severity",
            severity,
        ],
    );
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

#[test]
fn pagerduty_pages_p1_not_p3_resolves_with_the_same_key_and_retries_a_429() {
    let pd = PagerDuty::start();
    let ws = workspace(&format!(
        "\n[notify.pagerduty]\napi_base = \"{}\"\nrouting_key_env = \"PD_KEY\"\n\
         changes = [\"release.*\"]\n",
        pd.api_base
    ));
    let env = [("PD_KEY", ROUTING_KEY)];
    // The first answer is PagerDuty's 429: the console backs off and sends again.
    pd.state.lock().unwrap().script.push((
        429,
        r#"{"status":"throttle event","message":"Requests for this service are arriving too quickly. Please retry later."}"#.into(),
        None,
    ));
    let p1 = incident(ws.path(), &env, "P1", "Sync is down for half the users");
    let p3 = incident(ws.path(), &env, "P3", "A typo on the downloads page");
    run(
        ws.path(),
        &env,
        &[
            "status",
            "--action",
            "resolve",
            "--incident-id",
            &p1,
            "--message",
            "Sync is back",
        ],
    );
    run(ws.path(), &env, &["release", "new", "1.4.0"]);

    let seen = pd.seen();
    let alerts: Vec<&Value> = seen
        .iter()
        .filter(|s| s.path == "/v2/enqueue")
        .map(|s| &s.body)
        .collect();
    // 429, then the trigger again (accepted), then the resolve; nothing for the P3.
    assert_eq!(alerts.len(), 3, "{alerts:#?}");
    assert_eq!(alerts[0], alerts[1], "a retry sends the same event");
    let trigger = alerts[1];
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(trigger["dedup_key"], p1.as_str());
    assert_eq!(trigger["routing_key"], ROUTING_KEY);
    assert_eq!(trigger["payload"]["severity"], "error", "P1 is error");
    assert_eq!(trigger["payload"]["source"], "WireTuner");
    assert_eq!(trigger["payload"]["component"], "collaboration");
    assert_eq!(
        trigger["payload"]["custom_details"]["incident"],
        p1.as_str()
    );
    assert!(
        trigger["payload"]["summary"]
            .as_str()
            .unwrap()
            .contains("Sync is down"),
        "{trigger}"
    );
    assert_eq!(alerts[2]["event_action"], "resolve");
    assert_eq!(alerts[2]["dedup_key"], p1.as_str());
    assert!(
        !alerts.iter().any(|a| a["dedup_key"] == p3.as_str()),
        "a P3 does not page: {alerts:#?}"
    );
    // The release milestone went as a change event.
    let changes: Vec<&Value> = seen
        .iter()
        .filter(|s| s.path == "/v2/change/enqueue")
        .map(|s| &s.body)
        .collect();
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!(changes[0]["payload"]["summary"], "WireTuner 1.4.0 created");
    assert!(
        pd.prism.violations().is_empty(),
        "{:?}",
        pd.prism.violations()
    );

    let ob = outbox(ws.path());
    let trig = ob
        .iter()
        .find(|d| d["target"]["action"] == "trigger")
        .unwrap();
    assert_eq!(trig["state"], "sent");
    assert_eq!(trig["attempts"], 2);
    assert!(
        trig["answer"].as_str().unwrap().contains("Event processed"),
        "{trig}"
    );
    // The routing key is added at send time, never stored.
    let stored = std::fs::read_to_string(ws.path().join("notify/outbox.json")).unwrap();
    let log = std::fs::read_to_string(ws.path().join("audit.log")).unwrap();
    assert!(!stored.contains(ROUTING_KEY) && !log.contains(ROUTING_KEY));
}

#[test]
fn a_pagerduty_400_is_shown_with_its_errors_and_not_retried() {
    let pd = PagerDuty::start();
    let ws = workspace(&format!(
        "\n[notify.pagerduty]\napi_base = \"{}\"\nrouting_key_env = \"PD_KEY\"\n",
        pd.api_base
    ));
    let env = [("PD_KEY", "not-the-key")];
    let id = incident(ws.path(), &env, "P0", "The API is down");
    assert_eq!(pd.seen().len(), 1, "a 400 is not retried");
    let ob = outbox(ws.path());
    assert_eq!(ob.len(), 1);
    assert_eq!(ob[0]["state"], "failed");
    assert_eq!(ob[0]["attempts"], 1);
    assert_eq!(ob[0]["event"]["subject"], id.as_str());
    let answer = ob[0]["answer"].as_str().unwrap();
    assert!(
        answer.contains("400") && answer.contains("Invalid routing key"),
        "{answer}"
    );
    let o = cli_with(ws.path(), &[], &["notify", "list"]);
    assert!(text(&o).contains("FAILED"), "{}", text(&o));
    let audit = run(
        ws.path(),
        &[],
        &["--json", "audit", "list", "--action", "notify.failed"],
    );
    assert!(
        text(&audit).contains("Invalid routing key"),
        "{}",
        text(&audit)
    );

    // With the right key, a retry sends it once more and it lands.
    let o = run(ws.path(), &[("PD_KEY", ROUTING_KEY)], &["notify", "retry"]);
    assert!(text(&o).contains("sent pagerduty trigger"), "{}", text(&o));
    assert_eq!(pd.seen().len(), 2);
    assert_eq!(outbox(ws.path())[0]["state"], "sent");
    assert!(
        pd.prism.violations().is_empty(),
        "{:?}",
        pd.prism.violations()
    );
}

fn slack_config(channels: &[(&str, &str)]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for (channel, var) in channels {
        let _ = write!(
            out,
            "\n[[notify.slack]]\nchannel = \"{channel}\"\nwebhook_env = \"{var}\"\n\
             events = [\"release.*\"]\n"
        );
    }
    out
}

#[test]
fn slack_honours_retry_after_and_names_each_documented_error() {
    let slack = Slack::start();
    let hooks = [
        ("#devops", "HOOK_OK", "limited"),
        ("#gone", "HOOK_GONE", "gone"),
        ("#archived", "HOOK_ARCHIVED", "archived"),
        ("#locked", "HOOK_LOCKED", "locked"),
        ("#bad", "HOOK_BAD", "bad"),
    ];
    let ws = workspace(&slack_config(
        &hooks.iter().map(|(c, v, _)| (*c, *v)).collect::<Vec<_>>(),
    ));
    let urls: Vec<(String, String)> = hooks
        .iter()
        .map(|(_, v, h)| ((*v).to_owned(), slack.url(h)))
        .collect();
    let env: Vec<(&str, &str)> = urls.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let o = run(ws.path(), &env, &["release", "new", "2.0.0"]);
    let out = text(&o);

    let seen = slack.seen();
    let limited: Vec<_> = seen.iter().filter(|s| s.path == "limited").collect();
    assert_eq!(limited.len(), 2, "429 then sent: {seen:#?}");
    let gap = limited[1].at.duration_since(limited[0].at);
    assert!(
        gap >= Duration::from_millis(1900),
        "Retry-After: 2 was honoured ({gap:?})"
    );
    for h in ["gone", "archived", "locked", "bad"] {
        assert_eq!(
            seen.iter().filter(|s| s.path == h).count(),
            1,
            "{h} is not retried"
        );
    }
    let msg = &limited[1].body;
    assert_eq!(msg["text"], "WireTuner 2.0.0 created");
    assert_eq!(msg["blocks"][0]["type"], "header");
    assert!(
        msg["blocks"].to_string().contains("ev-"),
        "the idempotency key is in the message: {msg}"
    );

    let ob = outbox(ws.path());
    let by = |c: &str| {
        ob.iter()
            .find(|d| d["target"]["channel"] == c)
            .unwrap_or_else(|| panic!("{c}: {ob:#?}"))
    };
    assert_eq!(by("#devops")["state"], "sent");
    for (channel, code) in [
        ("#gone", "channel_not_found"),
        ("#archived", "channel_is_archived"),
        ("#locked", "action_prohibited"),
        ("#bad", "invalid_payload"),
    ] {
        let d = by(channel);
        assert_eq!(d["state"], "failed", "{d}");
        assert!(d["answer"].as_str().unwrap().contains(code), "{d}");
    }
    assert!(
        out.contains("FAILED") && out.contains("channel_not_found"),
        "{out}"
    );
    // The webhook URLs are secrets: not in the outbox, the audit log or the output.
    let stored = std::fs::read_to_string(ws.path().join("notify/outbox.json")).unwrap();
    let log = std::fs::read_to_string(ws.path().join("audit.log")).unwrap();
    for (_, url) in &urls {
        assert!(!stored.contains(url.as_str()) && !log.contains(url.as_str()));
        assert!(!out.contains(url.as_str()));
    }
}

#[cfg(unix)]
#[test]
fn killed_between_the_action_and_the_send_it_is_sent_exactly_once_at_the_next_start() {
    let slack = Slack::start();
    let ws = workspace(&slack_config(&[("#devops", "HOOK")]));
    let url = slack.url("ok");
    let env = [("HOOK", url.as_str())];
    // Opening the workspace starts the outbox at the log's end.
    run(ws.path(), &env, &["notify", "list"]);

    // Hold the outbox's lock, so the command can act (and audit) but cannot queue or send.
    let lock = release_console::store::lock(&ws.path().join("notify"), "outbox").unwrap();
    let mut child = common::bin()
        .arg("--workspace")
        .arg(ws.path())
        .args(["release", "new", "3.1.0"])
        .env("HOOK", &url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let release = ws.path().join("releases/3.1.0/release.json");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !release.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the release was not created"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    child.wait().unwrap();
    drop(lock);
    assert!(slack.seen().is_empty(), "nothing was sent before the kill");

    // The next start finds the audited action and sends it; later starts send nothing more.
    let o = run(ws.path(), &env, &["notify", "flush"]);
    assert!(
        text(&o).contains("sent slack #devops (release.created)"),
        "{}",
        text(&o)
    );
    run(ws.path(), &env, &["notify", "flush"]);
    run(ws.path(), &env, &["release", "list"]);
    let seen = slack.seen();
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert_eq!(seen[0].body["text"], "WireTuner 3.1.0 created");
    let ob = outbox(ws.path());
    assert_eq!(ob.len(), 1);
    assert_eq!(ob[0]["state"], "sent");
}

#[test]
fn killed_mid_send_a_webhook_is_uncertain_until_retried_never_sent_twice_by_itself() {
    let slack = Slack::start();
    let ws = workspace(&slack_config(&[("#devops", "HOOK")]));
    let hang = slack.url("hang");
    let mut child = common::bin()
        .arg("--workspace")
        .arg(ws.path())
        .args(["release", "new", "3.2.0"])
        .env("HOOK", &hang)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while slack.seen().is_empty() {
        assert!(std::time::Instant::now() < deadline, "nothing was sent");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let ok = slack.url("ok");
    let env = [("HOOK", ok.as_str())];
    let o = run(ws.path(), &env, &["notify", "flush"]);
    assert_eq!(
        slack.seen().len(),
        1,
        "not sent again by itself: {}",
        text(&o)
    );
    let ob = outbox(ws.path());
    assert_eq!(ob[0]["state"], "uncertain");
    assert!(
        ob[0]["answer"]
            .as_str()
            .unwrap()
            .contains("may have arrived")
    );

    let id = ob[0]["id"].as_str().unwrap().to_owned();
    run(ws.path(), &env, &["notify", "retry", &id]);
    let seen = slack.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].path, "ok");
    assert_eq!(outbox(ws.path())[0]["state"], "sent");
}

#[test]
fn a_webhook_answering_after_the_timeout_is_sent_once_left_uncertain_and_resent_by_a_person() {
    let slack = Slack::start();
    // One second to answer; nothing is sent as the command exits.
    let ws = workspace(&format!(
        "\n[notify]\ntimeout_secs = 1\ncli_wait_secs = 0\n{}",
        slack_config(&[("#devops", "HOOK")])
    ));
    let slow = slack.url("slow");
    let env = [("HOOK", slow.as_str())];
    run(ws.path(), &env, &["release", "new", "2.1.0"]);
    assert!(slack.seen().is_empty(), "nothing sent yet");

    let o = cli_with(ws.path(), &env, &["notify", "flush", "--wait", "20"]);
    let out = text(&o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "an uncertain delivery needs a person: {out}"
    );
    assert!(out.contains("UNCERTAIN"), "{out}");
    // Whatever arrives late is counted too.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(slack.seen().len(), 1, "sent exactly once: {out}");
    let ob = outbox(ws.path());
    assert_eq!(ob[0]["state"], "uncertain", "{ob:#?}");
    assert_eq!(ob[0]["attempts"], 1);
    let answer = ob[0]["answer"].as_str().unwrap();
    assert!(
        answer.starts_with("uncertain: maybe delivered") && answer.contains("timed out"),
        "{answer}"
    );
    let id = ob[0]["id"].as_str().unwrap().to_owned();
    let list = text(&run(ws.path(), &[], &["notify", "list"]));
    assert!(list.contains("UNCERTAIN"), "{list}");
    assert!(
        list.contains(&format!(
            "uncertain: maybe delivered: not sent again by itself; `notify resend {id}`"
        )),
        "{list}"
    );

    // Neither another flush nor a retry of "all that failed" sends it again.
    run(ws.path(), &env, &["notify", "flush", "--wait", "5"]);
    let o = run(ws.path(), &env, &["notify", "retry"]);
    assert!(
        text(&o).contains("0 delivery(ies) queued again"),
        "{}",
        text(&o)
    );
    assert_eq!(slack.seen().len(), 1);
    let audit = text(&run(
        ws.path(),
        &[],
        &["--json", "audit", "list", "--action", "notify.uncertain"],
    ));
    assert!(
        audit.contains(&id),
        "the uncertain outcome is audited: {audit}"
    );

    // A person sends it again: once more, audited.
    let ok = slack.url("ok");
    let o = run(
        ws.path(),
        &[("HOOK", ok.as_str())],
        &["notify", "resend", &id],
    );
    assert!(text(&o).contains("sent slack #devops"), "{}", text(&o));
    let seen = slack.seen();
    assert_eq!(seen.len(), 2, "{seen:#?}");
    assert_eq!(seen[1].path, "ok");
    assert_eq!(seen[0].body, seen[1].body, "the same message");
    assert_eq!(outbox(ws.path())[0]["state"], "sent");
    let audit = text(&run(
        ws.path(),
        &[],
        &["--json", "audit", "list", "--action", "notify.retry"],
    ));
    assert!(audit.contains(&id), "the resend is audited: {audit}");
    // A delivery already sent is not sent again, even when named.
    let o = cli_with(
        ws.path(),
        &[("HOOK", ok.as_str())],
        &["notify", "resend", &id],
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("is sent"), "{}", text(&o));
    assert_eq!(slack.seen().len(), 2);
}

#[test]
fn a_timed_out_page_is_sent_again_by_its_dedup_key_a_timed_out_change_event_is_uncertain() {
    let pd = PagerDuty::start();
    let ws = workspace(&format!(
        "\n[notify]\ntimeout_secs = 1\ncli_wait_secs = 0\n\
         [notify.pagerduty]\napi_base = \"{}\"\nrouting_key_env = \"PD_KEY\"\n\
         changes = [\"release.*\"]\n",
        pd.api_base
    ));
    let env = [("PD_KEY", ROUTING_KEY)];
    let p1 = incident(ws.path(), &env, "P1", "Sync is down for half the users");
    run(ws.path(), &env, &["release", "new", "1.5.0"]);
    assert!(pd.seen().is_empty(), "nothing sent yet");
    // The first two requests (the trigger, then the change event) arrive and are answered
    // after the console stopped waiting.
    pd.state.lock().unwrap().slow = vec![Duration::from_secs(2); 2];
    let o = cli_with(ws.path(), &env, &["notify", "flush", "--wait", "30"]);
    std::thread::sleep(Duration::from_secs(3));
    let seen = pd.seen();
    let alerts: Vec<&Value> = seen
        .iter()
        .filter(|s| s.path == "/v2/enqueue")
        .map(|s| &s.body)
        .collect();
    let changes = seen
        .iter()
        .filter(|s| s.path == "/v2/change/enqueue")
        .count();
    assert_eq!(alerts.len(), 2, "the trigger went again: {}", text(&o));
    assert_eq!(alerts[0], alerts[1], "with the same dedup_key");
    assert_eq!(alerts[0]["dedup_key"], p1.as_str());
    assert_eq!(changes, 1, "the change event went once: {}", text(&o));
    let ob = outbox(ws.path());
    let trig = ob
        .iter()
        .find(|d| d["target"]["action"] == "trigger")
        .unwrap();
    assert_eq!(trig["state"], "sent", "{trig}");
    assert_eq!(trig["attempts"], 2);
    let change = ob
        .iter()
        .find(|d| d["target"]["kind"] == "pager_duty_change")
        .unwrap_or_else(|| panic!("{ob:#?}"));
    assert_eq!(change["state"], "uncertain", "{change}");
    assert!(
        change["answer"]
            .as_str()
            .unwrap()
            .starts_with("uncertain: maybe delivered"),
        "{change}"
    );
    assert!(
        pd.prism.violations().is_empty(),
        "{:?}",
        pd.prism.violations()
    );
}

#[test]
fn bad_notify_settings_are_refused_naming_the_key() {
    for (extra, needle) in [
        (
            "\n[notify.pagerduty]\npage_on = [\"P9\"]\n",
            "notify.pagerduty.page_on",
        ),
        (
            "\n[[notify.slack]]\nchannel = \"#x\"\nwebhook_env = \"https://hooks.slack.com/services/T/B/X\"\nevents = [\"*\"]\n",
            "notify.slack.webhook_env",
        ),
        (
            "\n[[notify.slack]]\nchannel = \"#x\"\nwebhook_env = \"H\"\nevents = []\n",
            "events",
        ),
    ] {
        let ws = workspace(extra);
        let o = cli_with(ws.path(), &[], &["release", "list"]);
        assert!(!o.status.success());
        let t = text(&o);
        assert!(t.contains(needle), "{extra}: {t}");
        assert!(
            !t.contains("hooks.slack.com"),
            "the value is not echoed: {t}"
        );
    }
}

#[test]
fn a_flag_stage_change_is_announced_once_its_plan_shows_it() {
    let slack = Slack::start();
    let ws = workspace(
        "\n[[notify.slack]]\nchannel = \"#devops\"\nwebhook_env = \"HOOK\"\nevents = [\"flag.*\"]\n",
    );
    let url = slack.url("ok");
    let env = [("HOOK", url.as_str())];
    let key = "ui_new_exporter";
    run(
        ws.path(),
        &env,
        &[
            "flags",
            "create",
            key,
            "--name",
            "New exporter",
            "--tag",
            "team:frontend",
            "--tag",
            "type:release",
        ],
    );
    assert!(
        slack.seen().is_empty(),
        "creating a flag is not a stage change"
    );
    run(
        ws.path(),
        &env,
        &["flags", "advance", key, "--override", "no traffic yet"],
    );
    run(ws.path(), &env, &["flags", "rollback", key]);
    let texts: Vec<String> = slack
        .seen()
        .iter()
        .map(|s| s.body["text"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        texts,
        [
            format!("Flag {key} now at 10%"),
            format!("Flag {key} rolled back to 0%")
        ]
    );
    let first = &slack.seen()[0].body;
    assert!(
        first["blocks"].to_string().contains("no traffic yet"),
        "the override reason is in the message: {first}"
    );
    assert!(outbox(ws.path()).iter().all(|d| d["state"] == "sent"));
}

fn verify(ws: &Path) -> Result<(), String> {
    let ws = release_console::workspace::Workspace::open(ws).expect("open");
    ws.verify_audit_with(release_console::projections::ALL)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn deliveries(ws: &Path) -> Value {
    let file = ws.join("notify/outbox.json");
    let v: Value = serde_json::from_slice(&std::fs::read(file).expect("outbox")).expect("json");
    v["deliveries"].clone()
}

/// The outbox is a projection of the log: each change of a delivery is an entry carrying its
/// whole record (no secret in it); a change whose entry was appended but whose save a crash cut
/// off is named by `audit verify` and rolled forward by the next command, which does not send
/// it again; a delivery edited by hand is named.
#[test]
fn an_outbox_change_the_log_has_but_its_file_lacks_is_rolled_forward_and_an_edit_is_named() {
    let slack = Slack::start();
    let ws = workspace(&slack_config(&[("#devops", "HOOK")]));
    let url = slack.url("ok");
    let env = [("HOOK", url.as_str())];
    run(ws.path(), &env, &["notify", "list"]);
    let file = ws.path().join("notify/outbox.json");
    let before = std::fs::read(&file).expect("outbox");

    run(ws.path(), &env, &["release", "new", "3.3.0"]);
    assert_eq!(slack.seen().len(), 1);
    let o = run(ws.path(), &[], &["--json", "audit", "list"]);
    let all: Vec<Value> = serde_json::from_slice(&o.stdout).expect("entries");
    let changes: Vec<Value> = all
        .into_iter()
        .filter(|e| {
            e["action"]
                .as_str()
                .is_some_and(|a| a.starts_with("notify."))
        })
        .collect();
    let actions: Vec<&str> = changes
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, ["notify.queued", "notify.sending", "notify.sent"]);
    for e in &changes {
        assert_eq!(e["after"]["delivery"]["id"], e["target"], "{e:#}");
        assert_eq!(e["after"]["delivery"].get("audit_seq"), None, "{e:#}");
        assert!(
            !e.to_string().contains("/services/T0/B0"),
            "no webhook URL in the log: {e:#}"
        );
    }
    let sent = changes.last().expect("the end").clone();
    assert_eq!(sent["after"]["delivery"]["state"], "sent");
    assert_eq!(sent["after"]["delivery"]["attempts"], 1);
    assert!(
        !std::fs::read_to_string(&file)
            .expect("outbox")
            .contains("/services/T0/B0")
    );
    let written = deliveries(ws.path());
    assert_eq!(written[0]["audit_seq"], sent["seq"]);
    verify(ws.path()).expect("in agreement");

    // The three changes appended, their saves cut off.
    std::fs::write(&file, &before).expect("the outbox as it was");
    let id = sent["target"].as_str().expect("id").to_owned();
    let err = verify(ws.path()).expect_err("the file disagrees with the log");
    assert!(
        err.contains(&format!(
            "{} disagrees with the log: it has no delivery {id}, but entry #{} (notify.sent) \
             recorded it",
            file.display(),
            sent["seq"]
        )),
        "{err}"
    );
    let o = cli_with(ws.path(), &env, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(0), "recovered first: {}", text(&o));
    assert_eq!(deliveries(ws.path()), written, "rolled forward");
    // Its mark is as it was, so the next command reads the release's entry again: the
    // delivery is found, not queued or sent twice.
    run(ws.path(), &env, &["notify", "flush"]);
    assert_eq!(slack.seen().len(), 1, "not sent again");
    assert_eq!(deliveries(ws.path()), written);
    verify(ws.path()).expect("in agreement");

    // A delivery edited by hand (made to look failed, so that a Retry would send it again).
    let text_of = std::fs::read_to_string(&file).expect("outbox");
    std::fs::write(
        &file,
        text_of.replacen("\"state\": \"sent\"", "\"state\": \"failed\"", 1),
    )
    .expect("edit");
    assert_ne!(std::fs::read_to_string(&file).expect("outbox"), text_of);
    let err = verify(ws.path()).expect_err("edited");
    assert!(
        err.contains(&format!(
            "{} disagrees with the log: delivery {id} is not what entry #{} (notify.sent) \
             recorded: state is \"sent\" in the log, \"failed\" in the file",
            file.display(),
            sent["seq"]
        )),
        "{err}"
    );
    let o = cli_with(ws.path(), &env, &["audit", "verify"]);
    assert_ne!(o.status.code(), Some(0), "named: {}", text(&o));
    assert!(text(&o).contains("notify/outbox.json"), "{}", text(&o));
}

/// An outbox saved before it was a projection of the log (no entry numbers, no console) and
/// the entries of then (a `notify.sent` without the delivery's record, one `notify.retry`
/// naming two deliveries) still load and verify; the next change of such a delivery carries
/// its record and is judged from then on.
#[test]
fn an_outbox_and_entries_from_before_it_was_a_projection_load_and_verify() {
    use release_console::audit::{Event, event};
    let slack = Slack::start();
    let ws = workspace(&slack_config(&[("#devops", "HOOK")]));
    let url = slack.url("ok");
    let env = [("HOOK", url.as_str())];
    run(ws.path(), &env, &["notify", "list"]);
    let opened = release_console::workspace::Workspace::open(ws.path()).expect("open");
    opened
        .record(Event::NotifyFailed(event::Delivery {
            target: "ev-1-00000000/slack:devops".into(),
            before: event::DeliveryState {
                state: "sending".into(),
            },
            after: event::DeliveryEnd {
                state: "failed".into(),
                to: "slack #devops".into(),
                event: "release.created".into(),
                answer: "channel_not_found".into(),
                delivery: None,
            },
        }))
        .expect("record");
    opened
        .record(Event::NotifyRetry(event::NotifyRetry {
            target: "ev-0-00000000/slack:devops ev-9-00000000/slack:devops".into(),
            before: (),
            after: event::Deliveries {
                deliveries: vec!["ev-0-00000000/slack:devops".into()],
                delivery: None,
            },
        }))
        .expect("record");
    let file = ws.path().join("notify/outbox.json");
    let mut ob: Value = serde_json::from_slice(&std::fs::read(&file).expect("outbox")).unwrap();
    ob["deliveries"] = serde_json::json!([{
        "id": "ev-1-00000000/slack:devops",
        "event": {"key": "ev-1-00000000", "name": "release.created", "at": "2026-01-02T03:04:05Z",
                  "title": "WireTuner 0.9.0 created", "subject": "0.9.0", "action": "release.create",
                  "actor": "ana", "facts": [], "links": [], "audit_seq": 2},
        "target": {"kind": "slack", "channel": "#devops"},
        "body": {"text": "WireTuner 0.9.0 created",
                 "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "0.9.0"}}]},
        "state": "failed",
        "queued_at": "2026-01-02T03:04:05Z",
        "attempts": 1,
        "done_at": "2026-01-02T03:04:06Z",
        "answer": "channel_not_found"
    }]);
    std::fs::write(&file, serde_json::to_vec_pretty(&ob).unwrap()).unwrap();
    drop(opened);

    verify(ws.path()).expect("old entries and an old outbox verify");
    let listed = outbox(ws.path());
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert_eq!(listed[0]["state"], "failed");
    let o = cli_with(ws.path(), &env, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // A person retries it: its change carries its record, and it is judged from then on.
    run(
        ws.path(),
        &env,
        &["notify", "retry", "ev-1-00000000/slack:devops"],
    );
    assert_eq!(slack.seen().len(), 1, "sent once");
    let d = &deliveries(ws.path())[0];
    assert_eq!(d["state"], "sent", "{d:#}");
    assert!(d["audit_seq"].as_u64().is_some_and(|s| s > 0), "{d:#}");
    let retry = common::audit_entries(
        ws.path(),
        "notify.retry",
        Some("ev-1-00000000/slack:devops"),
    );
    assert_eq!(retry.len(), 1, "one entry per delivery: {retry:#?}");
    assert_eq!(retry[0]["after"]["delivery"]["state"], "pending");
    verify(ws.path()).expect("in agreement");
}
