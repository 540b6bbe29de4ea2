//! What makes the demo workspace walkable with no credentials and no network: its own
//! throwaway code-signing CA and certificate (made in-process on first use by `signing.rs`,
//! trusted only by this workspace, labelled as a demo everywhere it shows), and KPI samples for
//! the last 48 hours (topped up to now each time the demo opens), so the flag stages have data
//! to gate on;
//! and a tiny product repository (`[source] repo`, made with `git` on first use) with tagged
//! releases, so hotfix branches and release notes work offline.

pub mod signing;

use std::path::Path;
use std::process::Command;

use jiff::{SignedDuration, Timestamp};

use crate::audit::Event;
use crate::kpi::Series;
use crate::store;
use crate::workspace::Workspace;
use crate::workspace::config::DEMO_PFX_PASSWORD;

pub use signing::{CA_CN, LEAF_CN, ORGANIZATION};

/// The folder of the demo's signing material, and its files (the demo's `[signing]` names
/// them, relative to the workspace).
pub const SIGNING_DIR: &str = "demo-signing";
pub const CA_FILE: &str = "demo-ca.pem";
pub const CERT_FILE: &str = "demo-code-signing.pem";
pub const PFX_FILE: &str = "demo-code-signing.pfx";
/// Samples cover this much time back from now.
const KPI_HISTORY: SignedDuration = SignedDuration::from_hours(48);
const KPI_STEP_SECS: i64 = 300;

/// What [`refresh`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Refreshed {
    /// The signing material was made now.
    pub signing_made: bool,
    /// Why it could not be made (a file that could not be written), if so: the preflight then
    /// says the certificate is missing, and the next refresh tries again.
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
        match make_signing(ws, now) {
            Ok(()) => out.signing_made = true,
            Err(e) => {
                tracing::warn!("the demo's signing certificate: {e}");
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

/// Makes the demo CA, a code-signing certificate it issued, and the PFX the builders sign
/// with, in-process ([`signing::make`]); the CA's key never leaves memory, so nothing else can
/// ever be issued under it. Each file is written atomically, the PFX (which holds the signing
/// key) last, so a crash part-way leaves no PFX and the next refresh makes them all again;
/// on Unix they are owner-only (the store's temporary files are `0600`). Audited.
fn make_signing(ws: &Workspace, now: Timestamp) -> Result<(), String> {
    let dir = ws.root().join(SIGNING_DIR);
    let made = signing::make(now, DEMO_PFX_PASSWORD)?;
    let readme = format!(
        "A THROWAWAY demo code-signing certificate, made by release-console for this demo \
         workspace only.\n\n- demo-ca.pem: the demo root CA. Its private key was never \
         written anywhere: it issued one certificate and was gone.\n- demo-code-signing.pem / \
         .pfx: \"{LEAF_CN}\", the only certificate it issued. The PFX password is \
         \"{DEMO_PFX_PASSWORD}\": it protects nothing.\n\nNothing outside this workspace \
         trusts this CA, and nothing should: never use it for a real product.\n"
    );
    for (name, bytes) in [
        (CA_FILE, made.ca_pem.as_bytes()),
        (CERT_FILE, made.leaf_pem.as_bytes()),
        ("README.txt", readme.as_bytes()),
        (PFX_FILE, made.pfx.as_slice()),
    ] {
        store::write_atomic(&dir.join(name), bytes).map_err(|e| e.to_string())?;
    }
    ws.record(Event::DemoSigning(Event::values(
        SIGNING_DIR,
        serde_json::Value::Null,
        serde_json::json!({
            "ca": format!("/CN={CA_CN}/O={ORGANIZATION}"),
            "certificate": LEAF_CN,
            "certificate_sha256": made.leaf_sha256,
        }),
    )))
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
    ws.record(Event::DemoRepository(Event::values(
        rel,
        serde_json::Value::Null,
        serde_json::json!({"tags": ["v0.0.9", "v0.1.0"], "commits": DEMO_HISTORY.len()}),
    )))
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
        Event::KpiDemoSamples(Event::values(
            "demo",
            serde_json::Value::Null,
            serde_json::json!({"samples": count, "until": now}),
        )),
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
