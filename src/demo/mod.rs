//! What makes the demo workspace walkable with no credentials and no network: its own
//! throwaway code-signing CA and certificate (made with `openssl` on first use, trusted only by
//! this workspace, labelled as a demo everywhere it shows), and KPI samples for the last 48
//! hours (topped up to now each time the demo opens), so the flag stages have data to gate on;
//! and a tiny product repository (`[source] repo`, made with `git` on first use) with tagged
//! releases, so hotfix branches and release notes work offline.

use std::path::Path;
use std::process::Command;

use jiff::{SignedDuration, Timestamp};

use crate::kpi::Series;
use crate::store;
use crate::workspace::Workspace;
use crate::workspace::config::DEMO_PFX_PASSWORD;

/// The folder of the demo's signing material.
pub const SIGNING_DIR: &str = "demo-signing";
/// Subject of the demo CA and of the demo signing certificate.
pub const CA_SUBJECT: &str = "/CN=WireTuner Demo Root CA (throwaway)/O=release-console demo";
pub const LEAF_CN: &str = "WireTuner Demo (throwaway certificate)";
/// Samples cover this much time back from now.
const KPI_HISTORY: SignedDuration = SignedDuration::from_hours(48);
const KPI_STEP_SECS: i64 = 300;

/// What [`refresh`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Refreshed {
    /// The signing material was made now.
    pub signing_made: bool,
    /// Why it could not be made (no `openssl`), if so: the demo builds unsigned then.
    pub signing_problem: Option<String>,
    pub kpi_samples_added: usize,
    /// The demo's product repository was made now.
    pub repository_made: bool,
    /// Why it could not be made (no `git`), if so.
    pub repository_problem: Option<String>,
}

/// Brings the demo workspace up to date: signing material when missing, KPI samples up to
/// `now`. Only for a workspace whose `[signing] demo_certificate` is set (the demo's).
pub fn refresh(ws: &Workspace, now: Timestamp) -> Refreshed {
    let mut out = Refreshed::default();
    let pfx = ws.config().signing.demo_certificate.trim().to_owned();
    if pfx.is_empty() {
        return out;
    }
    if !ws.root().join(&pfx).is_file() {
        match make_signing(ws) {
            Ok(()) => out.signing_made = true,
            Err(e) => {
                tracing::warn!("the demo builds unsigned: {e}");
                out.signing_problem = Some(e);
            }
        }
    }
    if let Some(src) = &ws.config().source
        && !ws.root().join(&src.repo).exists()
    {
        match make_repository(ws, &src.repo) {
            Ok(()) => out.repository_made = true,
            Err(e) => {
                tracing::warn!("the demo has no product repository: {e}");
                out.repository_problem = Some(e);
            }
        }
    }
    match top_up_kpis(ws, now) {
        Ok(n) => out.kpi_samples_added = n,
        Err(e) => tracing::warn!("demo KPI samples: {e}"),
    }
    out
}

fn openssl(dir: &Path, args: &[&str]) -> Result<(), String> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("cannot run openssl ({e}); install it to sign the demo's builds"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "openssl {} failed: {}",
            args.first().copied().unwrap_or_default(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Makes the demo CA, a code-signing certificate it issued, and the PFX the builders sign
/// with; the CA's key is deleted, so nothing else can ever be issued under it. Audited.
fn make_signing(ws: &Workspace) -> Result<(), String> {
    let dir = ws.root().join(SIGNING_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let ext = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
               extendedKeyUsage=codeSigning\nsubjectKeyIdentifier=hash\n\
               authorityKeyIdentifier=keyid\n";
    std::fs::write(dir.join("leaf.ext"), ext).map_err(|e| e.to_string())?;
    let leaf_subject = format!("/CN={LEAF_CN}/O=release-console demo");
    let pass = format!("pass:{DEMO_PFX_PASSWORD}");
    openssl(
        &dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "demo-ca.pem",
            "-days",
            "3650",
            "-subj",
            CA_SUBJECT,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    )?;
    openssl(
        &dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            &leaf_subject,
        ],
    )?;
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "demo-ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "demo-code-signing.pem",
            "-days",
            "825",
            "-extfile",
            "leaf.ext",
        ],
    )?;
    openssl(
        &dir,
        &[
            "pkcs12",
            "-export",
            "-out",
            "demo-code-signing.pfx",
            "-inkey",
            "leaf.key",
            "-in",
            "demo-code-signing.pem",
            "-certfile",
            "demo-ca.pem",
            "-passout",
            &pass,
        ],
    )?;
    for f in ["ca.key", "leaf.key", "leaf.csr", "leaf.ext", "demo-ca.srl"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    std::fs::write(
        dir.join("README.txt"),
        format!(
            "A THROWAWAY demo code-signing certificate, made by release-console for this demo \
             workspace only.\n\n- demo-ca.pem: the demo root CA. Its private key was deleted \
             right after it issued one certificate.\n- demo-code-signing.pem / .pfx: \"{LEAF_CN}\", \
             the only certificate it issued. The PFX password is \"{DEMO_PFX_PASSWORD}\": it \
             protects nothing.\n\nNothing outside this workspace trusts this CA, and nothing \
             should: never use it for a real product.\n"
        ),
    )
    .map_err(|e| e.to_string())?;
    ws.record(
        "demo.signing",
        SIGNING_DIR,
        serde_json::Value::Null,
        serde_json::json!({"ca": CA_SUBJECT, "certificate": LEAF_CN}),
    )
    .map_err(|e| e.to_string())?;
    Ok(())
}

/// The demo product's history: (author, file, content, message, tag). Dates are fixed, one
/// day apart from `REPO_EPOCH`, so every demo has the same commits.
const DEMO_HISTORY: &[(&str, &str, &str, &str, Option<&str>)] = &[
    (
        "Ann Lee",
        "lib/main.dart",
        "void main() => runApp(WireTuner());\n",
        "feat: canvas with pan and zoom",
        None,
    ),
    (
        "Bob Ray",
        "lib/pen.dart",
        "class PenTool {}\n",
        "feat(tools): vector pen tool",
        None,
    ),
    (
        "Ann Lee",
        "lib/main.dart",
        "void main() => runApp(const WireTuner());\n",
        "fix: blank window on first start",
        Some("v0.0.9"),
    ),
    (
        "Cy Ng",
        "lib/export.dart",
        "class SvgExport {}\n",
        "feat(export): SVG export",
        None,
    ),
    (
        "Bob Ray",
        "lib/pen.dart",
        "class PenTool { final smooth = true; }\n",
        "perf(tools): smoother pen strokes",
        Some("v0.1.0"),
    ),
    (
        "Di Park",
        "lib/layers.dart",
        "class Layers {}\n",
        "feat(layers): layer panel",
        None,
    ),
    (
        "Cy Ng",
        "lib/export.dart",
        "class SvgExport { final layers = true; }\n",
        "fix(export): keep layer names in SVG",
        None,
    ),
];
const REPO_EPOCH: i64 = 1_764_576_000; // 2025-12-01T08:00:00Z

fn git(dir: &Path, args: &[&str], env: &[(&str, String)]) -> Result<(), String> {
    // An argv, not a shell line; none of the caller's GIT_* variables.
    let mut cmd = Command::new("git");
    cmd.env_clear();
    for name in crate::runner::process::BASE_ENV {
        if let Some(v) = std::env::var_os(name) {
            cmd.env(name, v);
        }
    }
    let out = cmd
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("cannot run git ({e}); install it for the demo's repository"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "git {} failed: {}",
            args.first().copied().unwrap_or_default(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Makes the demo product's repository: a few commits with fixed authors and dates, tags
/// `v0.0.9` and `v0.1.0` (annotated), and two commits on main since. Audited.
fn make_repository(ws: &Workspace, rel: &str) -> Result<(), String> {
    let dir = ws.root().join(rel);
    // Built beside, then renamed: a half-made repository is never taken for the demo's.
    let tmp = ws.root().join(format!("{rel}.partial"));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| format!("create {}: {e}", tmp.display()))?;
    git(&tmp, &["init", "-q", "-b", "main"], &[])?;
    git(&tmp, &["config", "user.name", "WireTuner Demo"], &[])?;
    git(
        &tmp,
        &["config", "user.email", "demo@wiretuner.invalid"],
        &[],
    )?;
    for (i, (author, file, content, message, tag)) in DEMO_HISTORY.iter().enumerate() {
        let path = tmp.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        std::fs::write(&path, content).map_err(|e| e.to_string())?;
        let date = format!(
            "@{} +0000",
            REPO_EPOCH + 86_400 * i64::try_from(i).unwrap_or(0)
        );
        let email = format!(
            "{}@wiretuner.invalid",
            author.to_lowercase().replace(' ', ".")
        );
        let env = [
            ("GIT_AUTHOR_NAME", (*author).to_owned()),
            ("GIT_AUTHOR_EMAIL", email),
            ("GIT_AUTHOR_DATE", date.clone()),
            ("GIT_COMMITTER_DATE", date),
        ];
        git(&tmp, &["add", "--", file], &env)?;
        git(&tmp, &["commit", "-q", "-m", message], &env)?;
        if let Some(tag) = tag {
            git(
                &tmp,
                &["tag", "-a", "-m", &format!("WireTuner {}", &tag[1..]), tag],
                &env,
            )?;
        }
    }
    std::fs::rename(&tmp, &dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    ws.record(
        "demo.repository",
        rel,
        serde_json::Value::Null,
        serde_json::json!({"tags": ["v0.0.9", "v0.1.0"], "commits": DEMO_HISTORY.len()}),
    )
    .map_err(|e| e.to_string())?;
    Ok(())
}

/// A healthy, slowly varying value for `kpi` at `t` (seconds): deterministic, so a demo
/// reads the same whenever it is opened.
fn demo_value(kpi: &crate::workspace::config::KpiDef, t: f64) -> f64 {
    let wave = (t / 5400.0).sin() * 0.5 + (t / 1300.0).cos() * 0.25;
    match kpi.name.as_str() {
        "event_replay_rate" => 1000.0 + 60.0 * wave,
        "snapshot_duration" => 320.0 + 50.0 * wave,
        "ot_transform_latency" => 28.0 + 6.0 * wave,
        "queue_depth" => (35.0 + 15.0 * wave).round(),
        "error_rate" => 0.18 + 0.06 * wave,
        "active_sessions" => (200.0 + 40.0 * wave).round(),
        _ => match (kpi.threshold, kpi.direction) {
            (Some(th), crate::workspace::config::Direction::Below) => th * (0.6 + 0.1 * wave),
            (Some(th), crate::workspace::config::Direction::Above) => th * (1.25 + 0.1 * wave),
            (None, _) => 100.0 + 10.0 * wave,
        },
    }
}

#[expect(
    clippy::cast_possible_truncation,
    reason = "sample times are Unix seconds, far inside i64"
)]
fn whole_secs(t: f64) -> i64 {
    t.floor() as i64
}

/// Adds samples every 5 minutes from the last one (or 48 hours ago) up to `now`; one audit
/// entry for the batch.
fn top_up_kpis(ws: &Workspace, now: Timestamp) -> Result<usize, String> {
    let path = ws.root().join("kpi").join("samples.json");
    let kpis = ws.config().kpi.metrics.clone();
    let oldest = (now - KPI_HISTORY).as_second();
    let end = now.as_second();
    let mut planned: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    let existing: std::collections::BTreeMap<String, Series> = store::read_json(&path)
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    for k in &kpis {
        let last = existing
            .get(&k.name)
            .and_then(|s| s.last())
            .map_or(oldest - KPI_STEP_SECS, |(t, _)| whole_secs(*t));
        let mut t = (last.max(oldest - KPI_STEP_SECS) / KPI_STEP_SECS + 1) * KPI_STEP_SECS;
        let mut add = Vec::new();
        while t <= end {
            let v = demo_value(k, t as f64);
            add.push((t as f64, (v * 1000.0).round() / 1000.0));
            t += KPI_STEP_SECS;
        }
        if !add.is_empty() {
            planned.push((k.name.clone(), add));
        }
    }
    let count: usize = planned.iter().map(|(_, s)| s.len()).sum();
    if count == 0 {
        return Ok(0);
    }
    ws.change(
        "kpi.demo-samples",
        "demo",
        serde_json::Value::Null,
        serde_json::json!({"samples": count, "until": now}),
        |_| {
            store::update_json(
                &path,
                |all: &mut std::collections::BTreeMap<String, Series>| {
                    for (name, add) in &planned {
                        let series = all.entry(name.clone()).or_default();
                        series.extend_from_slice(add);
                        let excess = series.len().saturating_sub(10_000);
                        series.drain(..excess);
                    }
                    Ok::<_, store::StateError>(())
                },
            )
        },
    )
    .map_err(|e| e.to_string())?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_values_stay_healthy() {
        for k in crate::workspace::config::default_kpis() {
            for i in 0..2000 {
                let v = demo_value(&k, f64::from(i) * 300.0);
                if let Some(th) = k.threshold {
                    let ok = match k.direction {
                        crate::workspace::config::Direction::Below => v < th,
                        crate::workspace::config::Direction::Above => v > th,
                    };
                    assert!(ok, "{} = {v} against {th}", k.name);
                }
            }
        }
    }
}
