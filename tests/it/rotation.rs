//! `secrets calendar|rotated`: the seed's rotation schedule over recorded rotations and the real
//! signing certificate's expiry.

use std::path::{Path, PathBuf};

use crate::common::{Pki, cli, cli_with, init, ok, text};
use serde_json::Value;

fn workspace() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("dir");
    let root = dir.path().join("ws");
    init(&root);
    let cfg = root.join("release-console.toml");
    let mut text = std::fs::read_to_string(&cfg).expect("config");
    text = text.replacen(
        "provider = \"local\"\napi_base = \"https://app.launchdarkly.com\"",
        "provider = \"unleash\"\napi_base = \"https://app.launchdarkly.com\"",
        1,
    );
    assert!(
        text.contains("provider = \"unleash\""),
        "config has [flags] provider:\n{text}"
    );
    text.push_str(
        "\n[[rotation]]\nname = \"/wiretuner/db/credentials\"\nkind = \"database_password\"\n\n\
         [[rotation]]\nname = \"/wiretuner/launchdarkly/sdk-key-production\"\nkind = \"api_key\"\n",
    );
    std::fs::write(&cfg, text).expect("write");
    (dir, root)
}

fn calendar(ws: &Path, env: &[(&str, &str)]) -> (i32, Vec<Value>) {
    let o = cli_with(ws, env, &["--json", "secrets", "calendar"]);
    let v: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    (
        o.status.code().expect("code"),
        v.as_array().expect("list").clone(),
    )
}

fn entry<'a>(cal: &'a [Value], name: &str) -> &'a Value {
    cal.iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {cal:#?}"))
}

fn days_ago(n: i64) -> String {
    (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * n)).to_string()
}

#[test]
fn recorded_rotations_are_due_on_the_seeds_schedule() {
    let (_d, ws) = workspace();
    // Never rotated here: the age is unknown, which is said, not failed.
    let (code, cal) = calendar(&ws, &[]);
    assert_eq!(code, 0);
    let names: Vec<&str> = cal
        .iter()
        .map(|e| e["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        [
            "/wiretuner/db/credentials",
            "/wiretuner/launchdarkly/sdk-key-production",
            "LAUNCHDARKLY_ACCESS_TOKEN"
        ],
        "the [flags] token of a non-local provider is tracked too"
    );
    assert!(cal.iter().all(|e| e["state"] == "unknown"));

    // The database password rotated 100 days ago is 10 days overdue (90-day schedule).
    let o = cli(
        &ws,
        &[
            "secrets",
            "rotated",
            "/wiretuner/db/credentials",
            "--at",
            &days_ago(100),
            "--note",
            "quarterly",
        ],
    );
    ok(&o);
    // An API key rotated 100 days ago is due in 80 days (180-day schedule): soon.
    let o = cli(
        &ws,
        &[
            "secrets",
            "rotated",
            "/wiretuner/launchdarkly/sdk-key-production",
            "--at",
            &days_ago(100),
        ],
    );
    ok(&o);
    // One rotated 10 days ago is due in 170 days: later.
    let o = cli(
        &ws,
        &[
            "secrets",
            "rotated",
            "LAUNCHDARKLY_ACCESS_TOKEN",
            "--at",
            &days_ago(10),
        ],
    );
    ok(&o);
    let (code, cal) = calendar(&ws, &[]);
    assert_eq!(code, 1, "an overdue secret fails the calendar");
    assert_eq!(entry(&cal, "/wiretuner/db/credentials")["state"], "overdue");
    assert_eq!(
        entry(&cal, "/wiretuner/db/credentials")["last_rotated"]["note"],
        "quarterly"
    );
    assert_eq!(
        entry(&cal, "/wiretuner/launchdarkly/sdk-key-production")["state"],
        "soon"
    );
    assert_eq!(
        entry(&cal, "/wiretuner/launchdarkly/sdk-key-production")["every_days"],
        180
    );
    assert_eq!(entry(&cal, "LAUNCHDARKLY_ACCESS_TOKEN")["state"], "later");
    assert_eq!(cal[0]["name"], "/wiretuner/db/credentials", "soonest first");
    let o = cli(&ws, &["secrets", "calendar"]);
    assert!(
        text(&o)
            .contains("OVERDUE     /wiretuner/db/credentials (database password, every 90 days)"),
        "{}",
        text(&o)
    );

    // Rotating it today clears it; each record is audited.
    assert!(
        cli(&ws, &["secrets", "rotated", "/wiretuner/db/credentials"])
            .status
            .success()
    );
    assert_eq!(calendar(&ws, &[]).0, 0);
    let o = cli(&ws, &["--json", "audit", "list"]);
    let audit: Value = serde_json::from_slice(&o.stdout).expect("audit");
    let rotated = audit
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action"] == "secret.rotated")
        .count();
    assert_eq!(rotated, 4);

    // A typo and a rotation in the future are refused, naming why.
    let o = cli(&ws, &["secrets", "rotated", "/wiretuner/db/creds"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("is not a secret this workspace tracks"),
        "{}",
        text(&o)
    );
    let future = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(48)).to_string();
    let o = cli(
        &ws,
        &[
            "secrets",
            "rotated",
            "/wiretuner/db/credentials",
            "--at",
            &future,
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("in the future"), "{}", text(&o));
}

#[test]
fn a_signing_certificate_is_due_before_it_expires() {
    let pki = Pki::new();
    let (_d, ws) = workspace();
    let pfx = pki.path("leaf.pfx");
    let env = [
        ("WINDOWS_PFX_PATH", pfx.to_str().expect("utf-8")),
        ("WINDOWS_PFX_PASSWORD", "pw"),
    ];
    let (_, cal) = calendar(&ws, &env);
    let cert = entry(&cal, "windows signing certificate (WireTuner Inc)");
    assert_eq!(cert["kind"], "signing_certificate");
    assert_eq!(cert["state"], "later");
    // Due [signing] min_valid_days (30) before the expiry.
    let expires: jiff::Timestamp = cert["expires"]
        .as_str()
        .expect("expires")
        .parse()
        .expect("ts");
    let due: jiff::Timestamp = cert["due"].as_str().expect("due").parse().expect("ts");
    assert_eq!(
        expires.duration_since(due),
        jiff::SignedDuration::from_hours(24 * 30)
    );
    // It is rotated by replacing it, not by a record.
    let o = cli_with(
        &ws,
        &env,
        &[
            "secrets",
            "rotated",
            "windows signing certificate (WireTuner Inc)",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("rotated by replacing it"), "{}", text(&o));
}

#[test]
fn a_calendar_window_past_ten_years_is_a_usage_error_not_a_panic() {
    let (_d, ws) = workspace();
    for days in ["4000000000", "3651"] {
        let o = cli(&ws, &["secrets", "calendar", "--days", days]);
        assert_eq!(o.status.code(), Some(2), "--days {days}: {}", text(&o));
        assert!(text(&o).contains("--days"), "{}", text(&o));
        assert!(!text(&o).contains("panicked"), "{}", text(&o));
    }
    let o = cli(&ws, &["secrets", "calendar", "--days", "3650"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn the_calendar_date_math_saturates_instead_of_panicking() {
    let (_d, ws) = workspace();
    // A rotation near the last date there is (a hand-edited file): its due date is past it.
    std::fs::create_dir_all(ws.join("secrets")).expect("dir");
    std::fs::write(
        ws.join("secrets/rotations.json"),
        r#"{"/wiretuner/db/credentials":[{"at":"9999-12-01T00:00:00Z","by":"someone"}]}"#,
    )
    .expect("rotations");
    let ws = release_console::workspace::Workspace::open(&ws).expect("open");
    // A window no date can hold: everything due is within it.
    let cal = release_console::rotation::calendar(&ws, jiff::Timestamp::now(), u32::MAX)
        .expect("calendar");
    let db = cal
        .iter()
        .find(|e| e.name == "/wiretuner/db/credentials")
        .expect("db");
    assert_eq!(db.due, Some(jiff::Timestamp::MAX));
    assert_eq!(db.state, release_console::rotation::Due::Soon);
}

#[test]
fn day_counts_a_date_cannot_hold_are_refused_when_the_config_loads() {
    for (table, key, value, range) in [
        ("", "every_days", "4000000", "0 to 3650 days"),
        (
            "[findings]\n",
            "max_acceptance_days",
            "4000000",
            "1 to 3650 days",
        ),
        ("[findings]\n", "max_acceptance_days", "0", "1 to 3650 days"),
        ("[signing]\n", "min_valid_days", "4000000", "0 to 3650 days"),
    ] {
        let (_d, ws) = workspace();
        let cfg = ws.join("release-console.toml");
        let mut config = std::fs::read_to_string(&cfg).expect("config");
        let full_key = if table.is_empty() {
            // The second [[rotation]] entry, at the end of the file.
            config.push_str(&format!("{key} = {value}\n"));
            format!("rotation.{key}")
        } else {
            let name = table.trim().trim_matches(['[', ']']);
            // Replace the key where `init` wrote it.
            let start = config.find(table).expect("table");
            let at = start + config[start..].find(&format!("{key} = ")).expect("key");
            let end = at + config[at..].find('\n').expect("eol");
            config.replace_range(at..end, &format!("{key} = {value}"));
            format!("{name}.{key}")
        };
        std::fs::write(&cfg, &config).expect("write");
        let line = config
            .lines()
            .enumerate()
            .filter(|(_, l)| l.starts_with(&format!("{key} = {value}")))
            .map(|(i, _)| i + 1)
            .last()
            .expect("line");
        for args in [&["secrets", "calendar"][..], &["release", "list"][..]] {
            let o = cli(&ws, args);
            assert_eq!(o.status.code(), Some(2), "{key} = {value}: {}", text(&o));
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(
                err.contains(&format!(
                    "release-console.toml:{line}:1: key `{full_key}`: {value} is outside {range}"
                )),
                "{key} = {value}: {err}"
            );
        }
    }
}

fn verify(ws: &release_console::workspace::Workspace) -> Result<(), String> {
    ws.verify_audit_with(release_console::projections::ALL)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn last_entry(ws: &release_console::workspace::Workspace) -> release_console::audit::AuditEntry {
    ws.audit()
        .entries()
        .expect("entries")
        .pop()
        .expect("an entry")
}

/// The audit log speaks for `secrets/rotations.json`: a rotation whose entry was appended but
/// whose save a crash cut off is named by `audit verify` and rolled forward by the next command
/// (with the rotations before it, which its entry carries); a hand edit is named; entries an
/// earlier version wrote (the rotation alone) are not replayed and verify.
#[test]
fn a_rotation_the_log_has_but_its_file_lacks_is_rolled_forward_and_a_hand_edit_is_named() {
    use release_console::audit::Event;
    let (_d, root) = workspace();
    let ws = release_console::workspace::Workspace::open(&root).expect("open");
    let file = root.join("secrets/rotations.json");
    let db = "/wiretuner/db/credentials";
    // As an earlier version recorded one: the rotation alone, in the file with no entry.
    ws.record(Event::parse(
        "secret.rotated",
        db,
        &Value::Null,
        &serde_json::json!({"at": days_ago(200), "by": "old", "note": "by an old console"}),
    ))
    .expect("an old entry");
    std::fs::create_dir_all(file.parent().expect("folder")).expect("folder");
    std::fs::write(
        &file,
        serde_json::json!({ db: [{"at": days_ago(200), "by": "old", "note": "by an old console"}] })
            .to_string(),
    )
    .expect("an old file");
    verify(&ws).expect("old records are not judged");
    assert_eq!(
        ws.recover_with(release_console::projections::ALL)
            .expect("recover"),
        0
    );

    ok(&cli(
        &root,
        &[
            "secrets",
            "rotated",
            db,
            "--at",
            &days_ago(100),
            "--note",
            "q3",
        ],
    ));
    let first = last_entry(&ws);
    assert_eq!(
        first.after["earlier"][0]["note"], "by an old console",
        "the entry carries the rotations before it: {}",
        first.after
    );
    verify(&ws).expect("in agreement");

    // A rotation cut off before its save.
    let before = std::fs::read(&file).expect("rotations");
    ok(&cli(&root, &["secrets", "rotated", db, "--note", "q4"]));
    let second = last_entry(&ws);
    let written = std::fs::read(&file).expect("rotations");
    std::fs::write(&file, &before).expect("the file as it was");
    let err = verify(&ws).expect_err("the file disagrees with the log");
    assert!(
        err.contains(&format!(
            "{} disagrees with the log: the rotations of {db} hold 2 as of entry #{}, but its \
             last change in the log is entry #{} (secret.rotated)",
            file.display(),
            first.seq,
            second.seq
        )),
        "{err}"
    );
    let (code, cal) = calendar(&root, &[]);
    assert_eq!(code, 0, "rotated today after the roll forward: {cal:#?}");
    assert_eq!(entry(&cal, db)["last_rotated"]["note"], "q4");
    assert_eq!(entry(&cal, db)["last_rotated"]["audit_seq"], second.seq);
    assert_eq!(std::fs::read(&file).expect("rotations"), written);
    verify(&ws).expect("in agreement");

    // Someone moves the last rotation later by hand.
    let original = String::from_utf8(written).expect("text");
    let mut edited: Value = serde_json::from_str(&original).expect("json");
    edited[db][2]["at"] = serde_json::json!(jiff::Timestamp::now().to_string());
    std::fs::write(&file, edited.to_string()).expect("edit");
    let err = verify(&ws).expect_err("caught");
    assert!(
        err.contains(&format!(
            "{} disagrees with the log: the rotations of {db} are not the ones entry #{} \
             (secret.rotated) saved",
            file.display(),
            second.seq
        )),
        "{err}"
    );
    let o = cli(&root, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("rotations.json disagrees with the log"),
        "{}",
        text(&o)
    );
    std::fs::write(&file, &original).expect("restore");
    verify(&ws).expect("in agreement again");

    // A note is a sentence, not a document.
    let long = "n".repeat(501);
    let o = cli(&root, &["secrets", "rotated", db, "--note", &long]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("at most 500"), "{}", text(&o));
}
