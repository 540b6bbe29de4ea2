//! `findings import|list` on real scanner output (the vendor samples in `tests/fixtures/vendor`):
//! Trivy JSON with and without the scanner's suppressions, Grype JSON, Trivy's SARIF.

use std::path::PathBuf;

use crate::common::{cli, init, ok, text, vendor};
use serde_json::Value;

fn json(o: &std::process::Output) -> Value {
    assert!(o.status.success(), "{}", text(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

fn workspace() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("dir");
    let root = dir.path().join("ws");
    init(&root);
    assert!(cli(&root, &["release", "new", "1.4.0"]).status.success());
    (dir, root)
}

#[test]
fn scanner_output_is_told_by_content_stored_per_release_and_audited() {
    let (_d, ws) = workspace();
    let files = [
        vendor("trivy/alpine-39-high-critical.json"),
        vendor("grype/image.json"),
        vendor("trivy/alpine-310.sarif.json"),
        vendor("trivy/npm-with-suppressed.json"),
        vendor("grype/empty.json"),
    ];
    let mut args = vec!["--json", "findings", "import"];
    args.extend(files.iter().map(String::as_str));
    let done = json(&cli(&ws, &args));
    let formats: Vec<(&str, u64)> = done["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            (
                f[1].as_str().expect("format"),
                f[2].as_u64().expect("count"),
            )
        })
        .collect();
    assert_eq!(
        formats,
        [
            ("trivy", 2),
            ("grype", 2),
            ("sarif", 4),
            ("trivy", 2),
            ("grype", 0)
        ]
    );
    assert_eq!(done["version"], "1.4.0");
    assert_eq!(done["new"], done["total"]);

    let list = json(&cli(&ws, &["--json", "findings", "list"]));
    let all = list.as_array().expect("list");
    assert_eq!(all.len() as u64, done["total"].as_u64().expect("total"));
    // Most severe first; Trivy's CRITICAL in musl and musl-utils, with the fixed version.
    assert_eq!(all[0]["severity"], "CRITICAL");
    let musl: Vec<&Value> = all
        .iter()
        .filter(|f| f["id"] == "CVE-2019-14697" && f["scanner"] == "trivy")
        .collect();
    assert_eq!(musl.len(), 2, "{list:#}");
    assert!(
        musl.iter()
            .all(|f| f["fixed"] == "1.1.20-r5" && f["severity"] == "CRITICAL"),
        "{list:#}"
    );
    // Grype: "Low" is LOW with every fixed version; a match without a fix has none.
    let g1 = all
        .iter()
        .find(|f| f["id"] == "CVE-1999-0001")
        .expect("grype match");
    assert_eq!(g1["severity"], "LOW");
    assert_eq!(g1["fixed"], "1.2.1, 2.1.3, 3.4.0");
    assert_eq!(g1["package"], "package-1");
    let g2 = all
        .iter()
        .find(|f| f["id"] == "CVE-1999-0002")
        .expect("grype match");
    assert_eq!(
        (&g2["severity"], &g2["fixed"]),
        (&"CRITICAL".into(), &Value::Null)
    );
    // SARIF: severity from the rule's CVSS score, package facts from Trivy's message.
    let s = all
        .iter()
        .find(|f| f["id"] == "CVE-2019-1549")
        .expect("sarif result");
    assert_eq!(
        (&s["severity"], &s["package"], &s["installed"], &s["fixed"]),
        (
            &"MEDIUM".into(),
            &"libcrypto1.1".into(),
            &"1.1.1c-r0".into(),
            &"1.1.1d-r0".into()
        )
    );
    // What the scanner itself suppressed is shown as such, with its reason.
    let suppressed: Vec<&Value> = all.iter().filter(|f| !f["suppressed"].is_null()).collect();
    assert_eq!(suppressed.len(), 1, "{list:#}");
    assert_eq!(
        suppressed[0]["suppressed"],
        "not_affected: vulnerable_code_not_in_execute_path"
    );
    let out = text(&cli(&ws, &["findings", "list"]));
    assert!(
        out.contains(
            "[suppressed by the scanner: not_affected: vulnerable_code_not_in_execute_path]"
        ),
        "{out}"
    );

    // Imported again: nothing new, and the first-seen time is kept.
    let first_seen = all[0]["first_seen"].clone();
    let again = json(&cli(
        &ws,
        &[
            "--json",
            "findings",
            "import",
            &files[0],
            "--version",
            "1.4.0",
        ],
    ));
    assert_eq!(again["new"], 0);
    let list = json(&cli(
        &ws,
        &["--json", "findings", "list", "--version", "1.4.0"],
    ));
    assert_eq!(list[0]["first_seen"], first_seen);

    let audit = std::fs::read_to_string(ws.join("audit.log")).expect("audit");
    assert_eq!(audit.matches("\"action\":\"findings.import\"").count(), 2);
    assert!(cli(&ws, &["audit", "verify"]).status.success());
}

#[test]
fn a_file_that_is_not_scanner_output_is_named_and_nothing_is_stored() {
    let (d, ws) = workspace();
    // The SARIF *schema* is JSON, but not a SARIF log.
    let schema = vendor("sarif/sarif-schema-2.1.0.json");
    let good = vendor("grype/image.json");
    let o = cli(&ws, &["findings", "import", &good, &schema]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains(&format!(
            "{schema}: not scanner output the console reads: expected Trivy JSON"
        )),
        "{}",
        text(&o)
    );
    let notes = d.path().join("notes.txt");
    std::fs::write(&notes, "not json").expect("notes");
    let o = cli(&ws, &["findings", "import", notes.to_str().expect("utf-8")]);
    assert!(text(&o).contains("notes.txt: not JSON"), "{}", text(&o));
    // A device or a FIFO is refused before it is opened (it could block or never end).
    for special in ["/dev/zero", "/dev/null"] {
        let o = cli(&ws, &["findings", "import", special]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(
            text(&o).contains(&format!(
                "{special}: not a regular file (a FIFO, socket or device): not read"
            )),
            "{}",
            text(&o)
        );
    }
    // A file past the cap is read up to it, then refused by name.
    let big = d.path().join("big.json");
    std::fs::File::create(&big)
        .and_then(|f| f.set_len(300 << 20))
        .expect("a sparse 300 MiB file");
    let o = cli(&ws, &["findings", "import", big.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("big.json: larger than 256 MiB: not a scanner report the console reads"),
        "{}",
        text(&o)
    );
    assert!(!ws.join("releases/1.4.0/findings.json").exists());
    let o = cli(&ws, &["findings", "list"]);
    assert!(text(&o).contains("1.4.0: no findings"), "{}", text(&o));

    // With the audit log refusing appends, an import stores nothing either.
    std::fs::remove_file(ws.join("audit.head")).expect("head");
    let o = cli(&ws, &["findings", "import", &good]);
    assert_ne!(o.status.code(), Some(0));
    assert!(!ws.join("releases/1.4.0/findings.json").exists());
}

fn blocking(ws: &std::path::Path) -> Vec<String> {
    json(&cli(ws, &["--json", "findings", "list"]))
        .as_array()
        .expect("list")
        .iter()
        .filter(|f| !f["blocks"].is_null())
        .map(|f| {
            format!(
                "{} {}",
                f["id"].as_str().expect("id"),
                f["package"].as_str().expect("package")
            )
        })
        .collect()
}

#[test]
fn blocking_findings_are_accepted_with_a_reason_until_a_date_then_block_again() {
    let (_d, ws) = workspace();
    let trivy = vendor("trivy/alpine-39-high-critical.json");
    assert!(cli(&ws, &["findings", "import", &trivy]).status.success());
    // The policy blocks CRITICAL and HIGH: both musl packages.
    assert_eq!(
        blocking(&ws),
        ["CVE-2019-14697 musl", "CVE-2019-14697 musl-utils"]
    );
    let out = text(&cli(&ws, &["findings", "list"]));
    assert!(
        out.contains("1.4.0: 2 findings, 2 blocking the release"),
        "{out}"
    );

    let soon = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 30))
        .strftime("%Y-%m-%d")
        .to_string();
    let far = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 120))
        .strftime("%Y-%m-%d")
        .to_string();
    let accept = |until: &str, reason: &str| {
        cli(
            &ws,
            &[
                "findings",
                "accept",
                "CVE-2019-14697",
                "--package",
                "musl",
                "--reason",
                reason,
                "--until",
                until,
            ],
        )
    };
    // Longer than the policy allows, without a reason, or in the past: refused.
    let o = accept(&far, "not reachable from the installer");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("more than 90 days away"), "{}", text(&o));
    let o = accept(&soon, "  ");
    assert!(text(&o).contains("--reason must say why"), "{}", text(&o));
    let o = accept("2020-01-01", "old");
    assert!(text(&o).contains("is not in the future"), "{}", text(&o));
    let o = cli(
        &ws,
        &[
            "findings",
            "accept",
            "CVE-0000-0000",
            "--reason",
            "x",
            "--until",
            &soon,
        ],
    );
    assert!(
        text(&o).contains("1.4.0 has no finding CVE-0000-0000"),
        "{}",
        text(&o)
    );
    assert_eq!(blocking(&ws).len(), 2, "nothing was accepted");

    // Accepted for musl only: musl-utils still blocks; who, until when and why are shown.
    let o = accept(&soon, "musl is not linked into the installer");
    ok(&o);
    assert_eq!(blocking(&ws), ["CVE-2019-14697 musl-utils"]);
    let out = text(&cli(&ws, &["findings", "list"]));
    assert!(
        out.contains("accepted until") && out.contains("musl is not linked"),
        "{out}"
    );

    // Revoked: it blocks again.
    assert!(
        cli(&ws, &["findings", "revoke", "CVE-2019-14697"])
            .status
            .success()
    );
    assert_eq!(blocking(&ws).len(), 2);

    // An acceptance that runs out blocks again, saying so.
    let until = (jiff::Timestamp::now() + jiff::SignedDuration::from_secs(2)).to_string();
    assert!(accept(&until, "for two seconds").status.success());
    assert_eq!(blocking(&ws).len(), 1);
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let list = json(&cli(&ws, &["--json", "findings", "list"]));
    let musl = list
        .as_array()
        .expect("list")
        .iter()
        .find(|f| f["package"] == "musl")
        .expect("musl");
    assert!(
        musl["blocks"]
            .as_str()
            .is_some_and(|b| b.contains("its acceptance expired")),
        "{musl:#}"
    );

    let audit = std::fs::read_to_string(ws.join("audit.log")).expect("audit");
    assert_eq!(audit.matches("\"action\":\"findings.accept\"").count(), 2);
    assert_eq!(audit.matches("\"action\":\"findings.revoke\"").count(), 1);
}

#[test]
fn a_finding_the_scanner_suppressed_is_shown_as_such_and_blocks_only_if_the_policy_says() {
    let (_d, ws) = workspace();
    let cfg = ws.join("release-console.toml");
    let config = std::fs::read_to_string(&cfg).expect("config");
    // Block everything down to LOW, so the scanner's suppressed LOW finding is in play.
    let config = config.replace(
        "block = [\n    \"CRITICAL\",\n    \"HIGH\",\n]",
        "block = [\"CRITICAL\", \"HIGH\", \"MEDIUM\", \"LOW\"]",
    );
    assert!(config.contains("\"LOW\"]"), "{config}");
    std::fs::write(&cfg, &config).expect("config");
    let npm = vendor("trivy/npm-with-suppressed.json");
    assert!(cli(&ws, &["findings", "import", &npm]).status.success());
    assert_eq!(
        blocking(&ws),
        ["CVE-2017-20165 debug", "CVE-2017-16137 debug"],
        "suppressed by the scanner is not accepted by default"
    );
    std::fs::write(
        &cfg,
        config.replace(
            "scanner_suppressions_accept = false",
            "scanner_suppressions_accept = true",
        ),
    )
    .expect("config");
    assert_eq!(blocking(&ws), ["CVE-2017-20165 debug"]);
}

fn fixture(rel: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel);
    p.to_str().expect("utf-8").to_owned()
}

#[test]
fn snyk_test_json_is_read_one_finding_per_vulnerability_and_package_with_its_ignores() {
    let (_d, ws) = workspace();
    let done = json(&cli(
        &ws,
        &[
            "--json",
            "findings",
            "import",
            &fixture("snyk/maven-project.json"),
            &fixture("snyk/all-projects.json"),
        ],
    ));
    // Four paths to three vulnerabilities, one ignore; and a list of two projects.
    assert_eq!(done["files"][0][1], "snyk");
    assert_eq!(done["files"][0][2], 4);
    assert_eq!(done["files"][1][1], "snyk");
    assert_eq!(done["files"][1][2], 1);
    let list = json(&cli(&ws, &["--json", "findings", "list"]));
    let by_id = |id: &str| {
        list.as_array()
            .expect("list")
            .iter()
            .find(|f| f["id"] == id)
            .unwrap_or_else(|| panic!("no {id} in {list:#}"))
            .clone()
    };
    // The CVE is the id when there is exactly one, so Trivy's and Snyk's findings meet.
    let log4j = by_id("CVE-2021-44228");
    assert_eq!(log4j["severity"], "CRITICAL");
    assert_eq!(log4j["package"], "org.apache.logging.log4j:log4j-core");
    assert_eq!(log4j["installed"], "2.14.1");
    assert_eq!(log4j["fixed"], "2.15.0");
    assert_eq!(log4j["scanner"], "snyk");
    assert!(
        log4j["title"]
            .as_str()
            .is_some_and(|t| t.contains("SNYK-JAVA-ORGAPACHELOGGINGLOG4J-2314720"))
    );
    // No CVE: Snyk's id; no fixedIn: no fix.
    let guava = by_id("SNYK-JAVA-COMGOOGLEGUAVA-1015415");
    assert_eq!(guava["severity"], "LOW");
    assert!(guava["fixed"].is_null());
    // An ignore is the scanner's suppression, with its reason and expiry, and still blocks.
    let ignored = by_id("CVE-2018-19360");
    assert_eq!(
        ignored["suppressed"],
        "ignored in Snyk until 2027-03-01T00:00:00.000Z: polymorphic typing is off"
    );
    assert_eq!(by_id("CVE-2020-8203")["package"], "lodash");
    let blocks = blocking(&ws);
    assert!(
        blocks.iter().any(|b| b.contains("CVE-2018-19360")),
        "{blocks:?}"
    );
    assert_eq!(blocks.len(), 4, "{blocks:?}");
}

/// `scanner_suppressions_accept = true` in the workspace's config.
fn accept_scanner_suppressions(ws: &std::path::Path) {
    let cfg = ws.join("release-console.toml");
    let config = std::fs::read_to_string(&cfg).expect("config");
    let edited = config.replace(
        "scanner_suppressions_accept = false",
        "scanner_suppressions_accept = true",
    );
    assert_ne!(config, edited);
    std::fs::write(&cfg, edited).expect("config");
}

/// The Snyk fixture with its ignore of CVE-2018-19360 expiring at `expires`.
fn snyk_with_ignore_expiring(dir: &std::path::Path, expires: &str) -> String {
    let mut v: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("snyk/maven-project.json")).expect("fixture"),
    )
    .expect("json");
    v["filtered"]["ignore"][0]["filtered"]["ignored"][0]["expires"] = expires.into();
    let path = dir.join(format!("snyk-{}.json", expires.replace(':', "")));
    std::fs::write(&path, v.to_string()).expect("write");
    path.to_str().expect("utf-8").to_owned()
}

#[test]
fn an_expired_snyk_ignore_does_not_clear_a_block() {
    let (d, ws) = workspace();
    accept_scanner_suppressions(&ws);
    let ignored = |ws: &std::path::Path| blocking(ws).iter().any(|b| b.contains("CVE-2018-19360"));
    // An ignore that still runs counts as accepted (the policy says so).
    let later = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 30)).to_string();
    let file = snyk_with_ignore_expiring(d.path(), &later);
    assert!(cli(&ws, &["findings", "import", &file]).status.success());
    assert!(!ignored(&ws), "{:?}", blocking(&ws));
    // One that ended yesterday does not; the list says why it blocks.
    let yesterday = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24)).to_string();
    let file = snyk_with_ignore_expiring(d.path(), &yesterday);
    assert!(cli(&ws, &["findings", "import", &file]).status.success());
    assert!(ignored(&ws), "{:?}", blocking(&ws));
    let list = json(&cli(&ws, &["--json", "findings", "list"]));
    let jackson = list
        .as_array()
        .expect("list")
        .iter()
        .find(|f| f["id"] == "CVE-2018-19360")
        .expect("finding");
    assert!(
        jackson["blocks"]
            .as_str()
            .is_some_and(|b| b.contains("the scanner's suppression of it expired")),
        "{jackson:#}"
    );
    // An expiry that is not a time does not count either.
    let file = snyk_with_ignore_expiring(d.path(), "next spring");
    assert!(cli(&ws, &["findings", "import", &file]).status.success());
    assert!(ignored(&ws), "{:?}", blocking(&ws));
}

#[test]
fn a_sarif_security_severity_that_is_not_a_score_is_unknown_and_blocks_until_accepted() {
    for bad in [
        Value::from("NaN"),
        Value::from("inf"),
        Value::from("11"),
        Value::from("high"),
        Value::from(-1),
    ] {
        let (d, ws) = workspace();
        let mut v: Value = serde_json::from_str(
            &std::fs::read_to_string(vendor("trivy/alpine-310.sarif.json")).expect("sample"),
        )
        .expect("json");
        let rules = v["runs"][0]["tool"]["driver"]["rules"]
            .as_array_mut()
            .expect("rules");
        let rule = rules
            .iter_mut()
            .find(|r| r["id"] == "CVE-2019-1551")
            .expect("rule");
        rule["properties"]["security-severity"] = bad.clone();
        let file = d.path().join("trivy.sarif.json");
        std::fs::write(&file, v.to_string()).expect("write");
        let o = cli(&ws, &["findings", "import", file.to_str().expect("utf-8")]);
        assert!(o.status.success(), "{bad}: {}", text(&o));
        // The MEDIUM ones (5.3) do not block under the default policy; the unreadable do.
        assert_eq!(
            blocking(&ws),
            ["CVE-2019-1551 libcrypto1.1", "CVE-2019-1551 libssl1.1"],
            "{bad}"
        );
        let list = json(&cli(&ws, &["--json", "findings", "list"]));
        let f = list
            .as_array()
            .expect("list")
            .iter()
            .find(|f| f["id"] == "CVE-2019-1551")
            .expect("finding");
        assert_eq!(f["severity"], "UNKNOWN", "{bad}: {f:#}");
        assert!(
            f["blocks"].as_str().is_some_and(
                |b| b.contains("its severity is unknown") && b.contains("is not a CVSS score")
            ),
            "{bad}: {f:#}"
        );
        let until = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 30))
            .strftime("%Y-%m-%d")
            .to_string();
        let o = cli(
            &ws,
            &[
                "findings",
                "accept",
                "CVE-2019-1551",
                "--reason",
                "triaged by hand: not reachable",
                "--until",
                &until,
            ],
        );
        ok(&o);
        assert!(blocking(&ws).is_empty(), "{bad}: {:?}", blocking(&ws));
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

fn accept_musl(ws: &std::path::Path, reason: &str) {
    let until = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 30))
        .strftime("%Y-%m-%d")
        .to_string();
    ok(&cli(
        ws,
        &[
            "findings",
            "accept",
            "CVE-2019-14697",
            "--package",
            "musl",
            "--reason",
            reason,
            "--until",
            &until,
        ],
    ));
}

/// The audit log speaks for `findings.json`: an import, an acceptance or a revocation whose
/// entry was appended but whose save a crash cut off is named by `audit verify`, and rolled
/// forward by the next command into the very file the change would have written.
#[test]
fn an_import_acceptance_or_revocation_the_log_has_but_its_file_lacks_is_rolled_forward() {
    let (_d, root) = workspace();
    let ws = release_console::workspace::Workspace::open(&root).expect("open");
    let file = root.join("releases/1.4.0/findings.json");
    ok(&cli(
        &root,
        &[
            "findings",
            "import",
            &vendor("trivy/alpine-39-high-critical.json"),
        ],
    ));
    let first = last_entry(&ws);
    assert_eq!(
        first.after["merged"].as_array().map(Vec::len),
        Some(2),
        "the import's entry carries the release's findings: {}",
        first.after
    );
    verify(&ws).expect("in agreement");

    // An import cut off before its save.
    let before = std::fs::read(&file).expect("findings");
    ok(&cli(
        &root,
        &["findings", "import", &vendor("grype/image.json")],
    ));
    let import = last_entry(&ws);
    assert_eq!(import.action, "findings.import");
    let written = std::fs::read(&file).expect("findings");
    std::fs::write(&file, &before).expect("the file as it was");
    let err = verify(&ws).expect_err("the file disagrees with the log");
    assert!(
        err.contains(&format!(
            "{} disagrees with the log: the release's findings list holds 2 findings as of \
             entry #{}, but its last change in the log is entry #{} (findings.import)",
            file.display(),
            first.seq,
            import.seq
        )),
        "{err}"
    );
    let o = cli(&root, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(0), "recovered first: {}", text(&o));
    assert_eq!(
        std::fs::read(&file).expect("findings"),
        written,
        "rolled forward into what the import wrote"
    );
    verify(&ws).expect("in agreement");

    // An acceptance cut off before its save: the finding still blocks until it is rolled
    // forward, then it does not.
    let before = std::fs::read(&file).expect("findings");
    accept_musl(&root, "musl is not linked into the installer");
    let accept = last_entry(&ws);
    let written = std::fs::read(&file).expect("findings");
    std::fs::write(&file, &before).expect("the file as it was");
    let err = verify(&ws).expect_err("the file disagrees with the log");
    assert!(
        err.contains(&format!(
            "{} disagrees with the log: it holds no acceptance of CVE-2019-14697, but entry #{} \
             (findings.accept) changed them",
            file.display(),
            accept.seq
        )),
        "{err}"
    );
    let musl = "CVE-2019-14697 musl".to_owned();
    assert!(
        !blocking(&root).contains(&musl),
        "the next command rolls it forward before it reads"
    );
    assert_eq!(std::fs::read(&file).expect("findings"), written);

    // A revocation cut off before its save.
    let before = std::fs::read(&file).expect("findings");
    ok(&cli(
        &root,
        &["findings", "revoke", "CVE-2019-14697", "--package", "musl"],
    ));
    let revoke = last_entry(&ws);
    assert_eq!(revoke.after["acceptances"], serde_json::json!([]));
    let written = std::fs::read(&file).expect("findings");
    std::fs::write(&file, &before).expect("the file as it was");
    let err = verify(&ws).expect_err("the file disagrees with the log");
    assert!(
        err.contains(&format!(
            "the acceptance record of CVE-2019-14697 holds 1 acceptances as of entry #{}, but \
             its last change in the log is entry #{} (findings.revoke)",
            accept.seq, revoke.seq
        )),
        "{err}"
    );
    assert!(blocking(&root).contains(&musl), "revoked: it blocks again");
    assert_eq!(std::fs::read(&file).expect("findings"), written);
    verify(&ws).expect("in agreement");
    assert_eq!(
        ws.recover_with(release_console::projections::ALL)
            .expect("recover"),
        0,
        "nothing left to roll forward"
    );
}

/// A findings file edited by hand (an acceptance made to last longer, a finding dropped) is
/// named by `audit verify`, not taken for the log's.
#[test]
fn a_findings_file_edited_by_hand_fails_verify_naming_it() {
    let (_d, root) = workspace();
    let ws = release_console::workspace::Workspace::open(&root).expect("open");
    let file = root.join("releases/1.4.0/findings.json");
    ok(&cli(
        &root,
        &[
            "findings",
            "import",
            &vendor("trivy/alpine-39-high-critical.json"),
        ],
    ));
    accept_musl(&root, "not reachable");
    verify(&ws).expect("in agreement");
    let original = std::fs::read_to_string(&file).expect("findings");

    let mut edited: Value = serde_json::from_str(&original).expect("json");
    edited["acceptances"][0]["until"] = serde_json::json!("2099-01-01T00:00:00Z");
    std::fs::write(&file, edited.to_string()).expect("edit");
    let err = verify(&ws).expect_err("caught");
    assert!(
        err.contains(&format!(
            "{} disagrees with the log: the acceptances of CVE-2019-14697 are not the ones entry #",
            file.display()
        )) && err.contains("until is \"20")
            && err.contains("\"2099-01-01T00:00:00Z\" in the file"),
        "{err}"
    );
    let o = cli(&root, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("findings.json disagrees with the log"),
        "{}",
        text(&o)
    );

    let mut edited: Value = serde_json::from_str(&original).expect("json");
    edited["findings"]
        .as_array_mut()
        .expect("findings")
        .retain(|f| f["package"] != "musl-utils");
    std::fs::write(&file, edited.to_string()).expect("edit");
    let err = verify(&ws).expect_err("caught");
    assert!(
        err.contains("the release's findings are not the ones entry #")
            && err.contains("the log has 2, the file 1"),
        "{err}"
    );
    std::fs::write(&file, &original).expect("restore");
    verify(&ws).expect("in agreement again");
}

/// Entries written before they carried the findings (an earlier version's) are not replayed
/// and do not fail `audit verify`; an entry whose record cannot be read is marked not applied.
#[test]
fn findings_entries_older_than_their_records_verify_and_an_unreadable_one_is_not_applied() {
    use release_console::audit::Event;
    let (_d, root) = workspace();
    let ws = release_console::workspace::Workspace::open(&root).expect("open");
    // As an earlier version wrote them: counts only, the acceptance alone, a null revocation.
    let old = [
        (
            "findings.import",
            "1.4.0",
            serde_json::json!({"findings": 0}),
            serde_json::json!({"files": [], "new": 2, "findings": 2, "blocking": 2}),
        ),
        (
            "findings.accept",
            "1.4.0/CVE-2019-14697",
            Value::Null,
            serde_json::json!({"id": "CVE-2019-14697", "package": "musl", "reason": "old",
                               "until": "2099-01-01T00:00:00Z", "by": "old",
                               "at": "2020-01-01T00:00:00Z"}),
        ),
        (
            "findings.revoke",
            "1.4.0/CVE-2019-14697",
            serde_json::json!([{"id": "CVE-2019-14697"}]),
            Value::Null,
        ),
    ];
    for (action, target, before, after) in &old {
        ws.record(Event::parse(action, target, before, after))
            .expect("an old entry");
    }
    verify(&ws).expect("old entries are not judged");
    assert_eq!(
        ws.recover_with(release_console::projections::ALL)
            .expect("recover"),
        0
    );
    assert!(!root.join("releases/1.4.0/findings.json").exists());

    // One whose findings cannot be read: not applied, and said so in the log.
    ws.record(Event::parse(
        "findings.import",
        "1.4.0",
        &serde_json::json!({"findings": 0}),
        &serde_json::json!({"files": [], "new": 1, "findings": 1, "blocking": 0,
                            "merged": [{"id": 5}]}),
    ))
    .expect("an unreadable import");
    let bad = last_entry(&ws);
    assert_eq!(
        ws.recover_with(release_console::projections::ALL)
            .expect("recover"),
        1
    );
    let marked = last_entry(&ws);
    assert_eq!(marked.action, "findings.import.not_applied");
    assert_eq!(marked.after["entry"], bad.seq);
    assert!(
        marked.after["reason"]
            .as_str()
            .is_some_and(|r| r.contains("its findings cannot be read")),
        "{marked:?}"
    );
    verify(&ws).expect("in agreement: the change did not take effect");
}

/// An import whose findings would take more than an entry may carry is refused whole, saying
/// so: nothing recorded, nothing stored.
#[test]
fn an_import_too_large_for_its_entry_is_refused_saying_so() {
    let (d, root) = workspace();
    let title = "x".repeat(1000);
    let matches: Vec<Value> = (0..4000)
        .map(|n| {
            serde_json::json!({
                "vulnerability": {"id": format!("CVE-2026-{n:05}"), "severity": "Low",
                                  "description": title},
                "artifact": {"name": format!("pkg{n}"), "version": "1.0.0"},
            })
        })
        .collect();
    let scan = d.path().join("huge-grype.json");
    std::fs::write(&scan, serde_json::json!({ "matches": matches }).to_string()).expect("scan");
    let entries = std::fs::read_to_string(root.join("audit.log"))
        .expect("log")
        .lines()
        .count();
    let o = cli(&root, &["findings", "import", &scan.display().to_string()]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("1.4.0 would hold 4000 findings after this import")
            && text(&o).contains("more than the 1024 KiB an entry may carry; nothing was imported"),
        "{}",
        text(&o)
    );
    assert_eq!(
        std::fs::read_to_string(root.join("audit.log"))
            .expect("log")
            .lines()
            .count(),
        entries,
        "nothing recorded"
    );
    assert!(!root.join("releases/1.4.0/findings.json").exists());

    // Titles are cut to a bound, so an entry's size follows from how many findings it has.
    let few: Vec<Value> = matches.into_iter().take(10).collect();
    std::fs::write(&scan, serde_json::json!({ "matches": few }).to_string()).expect("scan");
    ok(&cli(
        &root,
        &["findings", "import", &scan.display().to_string()],
    ));
    let list = json(&cli(&root, &["--json", "findings", "list"]));
    let shown = list[0]["title"].as_str().expect("title");
    assert_eq!(shown.chars().count(), 300, "{shown}");
    assert!(shown.ends_with('…'));
}
