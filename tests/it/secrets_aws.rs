//! Secrets from AWS Secrets Manager (`*_secret = "aws-sm:ID#key"`), against a real moto
//! server: the Argo CD token read from a JSON secret and used, in no output, log or audit
//! entry; a missing secret and a missing JSON key named; a bad source refused
//! when the config loads.

use crate::common;

use std::path::Path;

use crate::common::argo::{self, TOKEN};
use crate::common::{Moto, cli_with, ok, text};
use serde_json::json;

const ENV: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "AKIATESTCONSOLE"),
    ("AWS_SECRET_ACCESS_KEY", "moto-test-secret-key-xyz"),
    ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
];

fn set(ws: &Path, moto: &Moto, token_secret: &str) {
    let path = ws.join("release-console.toml");
    let mut cfg: toml::Table = std::fs::read_to_string(&path)
        .expect("config")
        .parse()
        .expect("toml");
    cfg["deploy"]["argocd"]
        .as_table_mut()
        .expect("[deploy.argocd]")
        .insert("token_secret".into(), token_secret.into());
    let mut aws = toml::Table::new();
    aws.insert("endpoint".into(), moto.endpoint.as_str().into());
    cfg.insert("aws".into(), aws.into());
    std::fs::write(&path, toml::to_string(&cfg).expect("toml")).expect("write");
}

#[test]
fn the_argo_cd_token_comes_from_secrets_manager_and_is_never_shown() {
    let moto = Moto::start();
    let argo = argo::start();
    let (_d, ws) = argo::workspace(&argo, "collab-api", 0.5);
    let sm = moto.api("secretsmanager", "us-east-1", "1.1");
    sm.call(
        "secretsmanager.CreateSecret",
        &json!({
            "Name": "/wiretuner/argocd/token",
            "SecretString": json!({"token": TOKEN, "user": "release-bot"}).to_string(),
        }),
    );

    // The token is not in the environment: only Secrets Manager has it.
    set(&ws, &moto, "aws-sm:/wiretuner/argocd/token#token");
    let o = cli_with(&ws, &ENV, &["deploy", "status"]);
    ok(&o);
    assert!(text(&o).contains("collab-api: Synced"), "{}", text(&o));
    assert!(!text(&o).contains(TOKEN), "the token is never shown");

    // A whole rollout with it: the token is in no output, log or audit entry.
    let o = cli_with(&ws, &ENV, &["deploy", "backend", "--version", "1.2.0"]);
    ok(&o);
    assert!(!text(&o).contains(TOKEN));
    let mut files = vec![ws.join("audit.log")];
    for dir in ["logs", "logs/tasks"] {
        if let Ok(rd) = std::fs::read_dir(ws.join(dir)) {
            files.extend(rd.flatten().map(|e| e.path()).filter(|p| p.is_file()));
        }
    }
    for f in files {
        let body = std::fs::read_to_string(&f).unwrap_or_default();
        assert!(!body.contains(TOKEN), "{} holds the token", f.display());
    }

    // A secret that does not exist, and a key its JSON does not have: named.
    set(&ws, &moto, "aws-sm:/wiretuner/argocd/nope");
    let o = cli_with(&ws, &ENV, &["deploy", "status"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("aws-sm:/wiretuner/argocd/nope: no such secret in AWS Secrets Manager")
            && text(&o).contains("ResourceNotFoundException"),
        "{}",
        text(&o)
    );
    set(&ws, &moto, "aws-sm:/wiretuner/argocd/token#password");
    let o = cli_with(&ws, &ENV, &["deploy", "status"]);
    assert!(
        text(&o).contains("the secret's JSON has no key \"password\""),
        "{}",
        text(&o)
    );
    // A source that is not one: refused when the config loads, naming the key.
    set(&ws, &moto, "vault:/x");
    let o = cli_with(&ws, &ENV, &["deploy", "status"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("key `deploy.argocd.token_secret`: \"vault:\" is not a secret source: a secret source is env:NAME, keyring:NAME or aws-sm:SECRET-ID[#json-key]"),
        "{}",
        text(&o)
    );
}

#[test]
fn rotation_dates_come_from_describe_secret_and_an_overdue_one_warns_before_a_release() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().expect("dir");
    common::init(dir.path());
    let ws = dir.path();
    let sm = moto.api("secretsmanager", "us-east-1", "1.1");
    for name in [
        "/wiretuner/db/credentials",
        "/wiretuner/launchdarkly/sdk-key-production",
    ] {
        sm.call(
            "secretsmanager.CreateSecret",
            &json!({ "Name": name, "SecretString": "s3cr3t-value-never-shown" }),
        );
    }
    let path = ws.join("release-console.toml");
    let mut table: toml::Table = std::fs::read_to_string(&path)
        .expect("config")
        .parse()
        .expect("toml");
    let mut aws = toml::Table::new();
    aws.insert("endpoint".into(), moto.endpoint.as_str().into());
    table.insert("aws".into(), aws.into());
    let mut cfg = toml::to_string(&table).expect("toml");
    cfg.push_str(
        "\n[[rotation]]\nname = \"/wiretuner/db/credentials\"\nkind = \"database_password\"\nstore = \"aws-sm\"\n\n\
         [[rotation]]\nname = \"/wiretuner/launchdarkly/sdk-key-production\"\nkind = \"api_key\"\nstore = \"aws-sm\"\nevery_days = 0\n\n\
         [[rotation]]\nname = \"/wiretuner/signing/macos\"\nkind = \"api_key\"\nstore = \"aws-sm\"\n",
    );
    std::fs::write(&path, cfg).expect("write");
    let created = jiff::Timestamp::now();

    let o = cli_with(ws, &ENV, &["--json", "secrets", "calendar"]);
    let cal: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let by_name = |n: &str| {
        cal.as_array()
            .expect("list")
            .iter()
            .find(|e| e["name"] == format!("aws-sm:{n}"))
            .unwrap_or_else(|| panic!("{n}: {cal:#}"))
            .clone()
    };
    let db = by_name("/wiretuner/db/credentials");
    assert_eq!(db["last_rotated"]["by"], "AWS Secrets Manager");
    assert_eq!(
        db["last_rotated"]["note"], "LastChangedDate",
        "never rotated: last changed"
    );
    let at: jiff::Timestamp = db["last_rotated"]["at"]
        .as_str()
        .expect("at")
        .parse()
        .expect("ts");
    assert!(
        (at.as_second() - created.as_second()).abs() < 120,
        "the date is AWS's: {at} vs {created}"
    );
    let due: jiff::Timestamp = db["due"].as_str().expect("due").parse().expect("ts");
    assert_eq!(
        due,
        at + jiff::SignedDuration::from_hours(24 * 90),
        "due 90 days after"
    );
    assert_eq!(db["every_days"], 90);
    let ld = by_name("/wiretuner/launchdarkly/sdk-key-production");
    assert_eq!(ld["state"], "overdue");
    assert!(!o.status.success(), "an overdue secret exits 1");
    let missing = by_name("/wiretuner/signing/macos");
    assert_eq!(missing["state"], "unknown");
    assert!(
        missing["problem"]
            .as_str()
            .expect("problem")
            .contains("no such secret in AWS Secrets Manager"),
        "{missing}"
    );
    assert!(!text(&o).contains("s3cr3t-value-never-shown"));

    // Before a release: the gate warns (and does not block), preflight says so too.
    run_ok(ws, &["release", "new", "1.0.0"]);
    let o = cli_with(ws, &ENV, &["--json", "release", "gates"]);
    let gates: serde_json::Value = serde_json::from_slice(&o.stdout).expect("gates json");
    let rot = gates
        .as_array()
        .and_then(|g| g.iter().find(|g| g["gate"] == "secret rotation"))
        .unwrap_or_else(|| panic!("{gates:#}"))
        .clone();
    assert_eq!(rot["state"], "open", "{rot}");
    let reason = rot["reason"].as_str().expect("reason");
    assert!(
        reason.contains("OVERDUE") && reason.contains("sdk-key-production"),
        "{reason}"
    );
    let o = cli_with(
        ws,
        &ENV,
        &["pipeline", "preflight", "--platform", "windows-on-linux"],
    );
    assert!(
        text(&o).contains("sdk-key-production is overdue for rotation"),
        "{}",
        text(&o)
    );
}

fn run_ok(ws: &Path, args: &[&str]) {
    let o = cli_with(ws, &ENV, args);
    assert!(o.status.success(), "{args:?}: {}", text(&o));
}

#[test]
fn the_pfx_password_comes_from_secrets_manager_and_is_redacted_from_the_builders_output() {
    const PASS: &str = "pfx-password-from-aws-9f2c";
    let moto = Moto::start();
    let pki = common::Pki::new();
    common::sh(
        &pki.path(""),
        &format!(
            "openssl pkcs12 -export -out aws.pfx -inkey leaf.key -in leaf.pem -certfile ca.pem \
             -passout 'pass:{PASS}'"
        ),
    );
    let sm = moto.api("secretsmanager", "us-east-1", "1.1");
    sm.call(
        "secretsmanager.CreateSecret",
        &json!({
            "Name": "/wiretuner/signing/windows",
            "SecretString": json!({"pfx_password": PASS}).to_string(),
        }),
    );
    let dir = tempfile::tempdir().expect("dir");
    let ws = dir.path().join("ws");
    common::init(&ws);
    run_ok(&ws, &["release", "new", "0.1.0"]);
    std::fs::write(ws.join("payload/WireTuner.exe"), b"MZ").expect("payload");
    let path = ws.join("release-console.toml");
    let mut cfg: toml::Table = std::fs::read_to_string(&path)
        .expect("config")
        .parse()
        .expect("toml");
    cfg["signing"].as_table_mut().expect("[signing]").insert(
        "windows_pfx_password_secret".into(),
        "aws-sm:/wiretuner/signing/windows#pfx_password".into(),
    );
    let mut aws = toml::Table::new();
    aws.insert("endpoint".into(), moto.endpoint.as_str().into());
    cfg.insert("aws".into(), aws.into());
    std::fs::write(&path, toml::to_string(&cfg).expect("toml")).expect("write");
    let def = ws.join("packaging/pipelines/default.toml");
    let mut text_def = std::fs::read_to_string(&def).expect("definition");
    text_def.push_str(
        "\n[platforms.leaky]\ntitle = \"Prints its password\"\nhost_os = \"linux\"\n\
         builder = [\"bash\", \"packaging/leaky.sh\"]\nchecklist_kind = \"pipeline.leaky\"\n\
         signs_with_pfx = true\n",
    );
    std::fs::write(&def, text_def).expect("definition");
    std::fs::write(
        ws.join("packaging/leaky.sh"),
        "echo ::step:: Leak\necho \"leaky: pw=$WINDOWS_PFX_PASSWORD\"\n",
    )
    .expect("builder");
    let pfx = pki.path("aws.pfx");
    let env = [
        ENV[0],
        ENV[1],
        ENV[2],
        ("WINDOWS_PFX_PATH", pfx.to_str().expect("utf-8")),
    ];

    // Preflight reads it from AWS (the variable is not set) and opens the PFX with it.
    let o = cli_with(
        &ws,
        &env,
        &["--json", "pipeline", "preflight", "--platform", "leaky"],
    );
    let pre: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    let checks = pre[0]["checks"].as_array().expect("checks");
    let pass = checks
        .iter()
        .find(|c| c["name"] == "password aws-sm:/wiretuner/signing/windows#pfx_password")
        .unwrap_or_else(|| panic!("{pre:#}"));
    assert_eq!(pass["ok"], true, "{pass}");
    assert_eq!(pass["detail"], "set (value not shown)");
    let cert = checks
        .iter()
        .find(|c| c["name"] == "signing certificate")
        .expect("certificate check");
    assert!(
        cert["detail"]
            .as_str()
            .expect("detail")
            .starts_with("valid until"),
        "{cert}"
    );

    // The builder gets it in its environment; whatever it prints is masked.
    let o = cli_with(
        &ws,
        &env,
        &[
            "pipeline",
            "run",
            "--version",
            "0.1.0",
            "--platform",
            "leaky",
        ],
    );
    let out = text(&o);
    assert!(out.contains("leaky: pw=<redacted>"), "{out}");
    assert!(!out.contains(PASS), "{out}");
    let logs = ws.join("releases/0.1.0/logs");
    for e in std::fs::read_dir(&logs).expect("logs").flatten() {
        let log = std::fs::read_to_string(e.path()).expect("log");
        assert!(!log.contains(PASS), "{}", e.path().display());
    }
    assert!(
        !std::fs::read_to_string(ws.join("audit.log"))
            .expect("audit")
            .contains(PASS)
    );
}
