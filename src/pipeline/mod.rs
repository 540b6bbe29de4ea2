//! Installer pipelines: definitions as data (`packaging/pipelines/*.toml`), preflight checks,
//! running the builders as tasks, collecting artifacts, SHA256SUMS, and resumable state.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::digest::Sha256;
use crate::runner::{ProcessSpec, TaskContext, TaskError, TaskId, TaskResult};
use crate::store;
use crate::workspace::{Release, Workspace};

pub mod projection;
pub mod remote;
pub mod run;
pub mod skips;
pub mod team;
pub mod tools;

/// Free disk space a build needs at least.
pub const MIN_FREE_BYTES: u64 = 1024 * 1024 * 1024;
/// The builder contract: these variables carry the signing certificate to every builder.
pub const PFX_PATH_VAR: &str = "WINDOWS_PFX_PATH";
pub const PFX_PASSWORD_VAR: &str = "WINDOWS_PFX_PASSWORD";

/// All platforms of a pipeline definition file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    pub platforms: BTreeMap<String, PlatformDef>,
}

/// How to build one platform's installer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformDef {
    pub title: String,
    /// `linux`, `macos` or `windows`: where the builder can run.
    pub host_os: String,
    /// Program and leading arguments, e.g. `["bash", "packaging/windows/build.sh"]`; paths are
    /// relative to the workspace. (A remote platform's builder runs in the CI workflow.)
    #[serde(default)]
    pub builder: Vec<String>,
    /// Arguments; `{version}`, `{product}`, `{payload_dir}` and `{out_dir}` are filled in.
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub skip_signing_args: Vec<String>,
    #[serde(default)]
    pub dry_run_args: Vec<String>,
    /// Added by `--resume`: the builder skips the steps an earlier run finished.
    #[serde(default)]
    pub resume_args: Vec<String>,
    /// Task kind of the build: checklist items with this `auto_tick_on` tick when it succeeds.
    pub checklist_kind: String,
    /// The platform (of `platforms` in the workspace config) whose installer this builds, when
    /// the name is not that platform (`windows-on-linux` builds `windows`). A release that
    /// records the platform as not shipped settles the checklist items this build would tick.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<crate::workspace::config::Platform>,
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    #[serde(default)]
    pub tools: Vec<ToolReq>,
    /// Whether the builder signs with the PFX from `[signing]` (checked in preflight).
    #[serde(default)]
    pub signs_with_pfx: bool,
    /// Environment variables the builder reads (checked by name in preflight, never by value).
    #[serde(default)]
    pub env: Vec<EnvReq>,
    /// Optional variables the builder may read when set (a cache folder, `CI`); not checked.
    #[serde(default)]
    pub pass_env: Vec<String>,
    /// Where it builds: `local` (this host, the default) or `github` (the workflow of
    /// `[remote.github]`, on GitHub's runners).
    #[serde(default)]
    pub runner: RunnerKind,
    /// The workflow's `platform` input for this platform (default: the platform's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_platform: Option<String>,
}

/// Where a platform builds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunnerKind {
    #[default]
    Local,
    /// GitHub Actions, through `[remote.github]`.
    Github,
}

/// An environment variable a builder needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvReq {
    pub name: String,
    /// What to set it to, shown when it is missing.
    pub fix: String,
    /// Only needed when signing.
    #[serde(default)]
    pub signing: bool,
    /// Another variable that can stand in for this one (e.g. a keychain profile instead of a
    /// password).
    #[serde(default)]
    pub unless: Option<String>,
}

impl PlatformDef {
    /// Every variable the builder may inherit: what it declares (with the variables that can
    /// stand in for them) and `pass_env`. Nothing else of this process's environment (tokens,
    /// keys) reaches it; [`crate::runner::process::BASE_ENV`] is always kept.
    pub fn inherited_env(&self) -> Vec<String> {
        self.env
            .iter()
            .flat_map(|e| std::iter::once(e.name.clone()).chain(e.unless.clone()))
            .chain(self.pass_env.iter().cloned())
            .collect()
    }

    /// The product platform whose installer this builds: `platform`, else the definition's
    /// `name` when it names one; `None` for a builder of something else.
    pub fn ships(&self, name: &str) -> Option<crate::workspace::config::Platform> {
        self.platform
            .or_else(|| crate::workspace::config::Platform::parse(name))
    }

    /// Whether this host can build the platform (a dry run works anywhere its interpreter does).
    pub fn runs_here(&self) -> bool {
        self.host_os == host_os()
    }

    /// Whether it builds on a CI engine rather than on this host.
    pub fn is_remote(&self) -> bool {
        self.runner != RunnerKind::Local
    }

    /// The title for an unsigned build: what it says about signing replaced by UNSIGNED.
    pub fn title_unsigned(&self) -> String {
        let t = &self.title;
        for (signed, unsigned) in [
            ("built and signed", "built UNSIGNED"),
            ("signed and notarized", "UNSIGNED"),
        ] {
            if t.contains(signed) {
                return t.replace(signed, unsigned);
            }
        }
        format!("{t} (UNSIGNED: signing skipped)")
    }

    /// Whether a build can start from here: on this host, or on its CI engine.
    pub fn can_build_from_here(&self) -> bool {
        self.is_remote() || self.runs_here()
    }
}

fn default_timeout_secs() -> u64 {
    3600
}

/// A tool the builder needs on PATH.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolReq {
    pub name: String,
    #[serde(default)]
    pub version_args: Vec<String>,
    /// How to install it, shown when it is missing.
    pub install: String,
    /// Only needed when signing.
    #[serde(default)]
    pub signing: bool,
}

/// A definition that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("{path}: {message}")]
    Definition { path: PathBuf, message: String },
    #[error("platform {platform:?} is not defined in {path}; defined: {known}")]
    UnknownPlatform {
        platform: String,
        path: PathBuf,
        known: String,
    },
    #[error(transparent)]
    State(#[from] store::StateError),
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// A file is not what its builder hashed at its Checksums step.
    #[error(
        "{name}: its builder printed SHA-256 {builder} at its Checksums step, but the file now \
         hashes to {now}: it changed after it was built; build it again"
    )]
    ChangedSinceBuilt {
        name: String,
        builder: String,
        now: String,
    },
    /// The build's files could not be stored in the shared workspace's bucket, or recorded.
    #[error("the build's files were not stored in the shared workspace: {0}")]
    Shared(String),
}

impl Definition {
    /// Loads the definition the workspace config names.
    pub fn load(ws: &Workspace) -> Result<(Self, PathBuf), PipelineError> {
        let path = ws.root().join(&ws.config().pipeline.definition);
        let text = std::fs::read_to_string(&path).map_err(|e| PipelineError::Definition {
            path: path.clone(),
            message: format!("cannot read: {e}"),
        })?;
        let def: Definition = toml::from_str(&text).map_err(|e| {
            let line = e.span().map_or(0, |s| {
                text[..s.start.min(text.len())].matches('\n').count() + 1
            });
            PipelineError::Definition {
                path: path.clone(),
                message: format!("line {line}: {}", e.message().trim()),
            }
        })?;
        Ok((def, path))
    }

    /// The platforms to build: `only` (or the configured list), each checked to exist.
    pub fn select<'a>(
        &'a self,
        path: &Path,
        names: &[String],
    ) -> Result<Vec<(&'a str, &'a PlatformDef)>, PipelineError> {
        names
            .iter()
            .map(|n| {
                self.platforms
                    .get_key_value(n)
                    .map(|(k, v)| (k.as_str(), v))
                    .ok_or_else(|| PipelineError::UnknownPlatform {
                        platform: n.clone(),
                        path: path.to_owned(),
                        known: self
                            .platforms
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
            })
            .collect()
    }
}

/// One preflight check: what, whether it passed, what was found, how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
    pub fix: String,
    /// Passed, with something to know (amber): e.g. signing skipped.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub warning: bool,
}

impl Check {
    /// A check; its fix is kept only when it failed.
    pub fn new(name: &str, ok: bool, detail: String, fix: &str) -> Self {
        Self {
            name: name.to_owned(),
            ok,
            detail,
            fix: if ok { String::new() } else { fix.to_owned() },
            warning: false,
        }
    }
}

/// Preflight of one platform: skipped (wrong host) or a list of checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Preflight {
    pub platform: String,
    pub skipped: Option<String>,
    pub checks: Vec<Check>,
    /// Run for an unsigned build (signing checks left out).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub skip_signing: bool,
}

impl Preflight {
    pub fn is_ready(&self) -> bool {
        self.skipped.is_none() && self.checks.iter().all(|c| c.ok)
    }
}

/// Preflight of each platform in turn (they share the host's tools and disk).
pub async fn preflight_all(
    ws: &Workspace,
    platforms: &[(&str, &PlatformDef)],
    opts: &RunOptions,
) -> Vec<Preflight> {
    let mut out = Vec::with_capacity(platforms.len());
    for (name, pdef) in platforms {
        out.push(preflight(ws, name, pdef, opts).await);
    }
    out
}

/// The task kind of a dry run (a real build's kind is its platform's `checklist_kind`, so its
/// success ticks that checklist item).
pub const DRY_RUN_KIND: &str = "pipeline.dry-run";
/// Added to a platform's kind for a build with signing skipped (it ticks nothing).
pub const UNSIGNED_SUFFIX: &str = ".unsigned";

/// The task that builds (or dry-runs) one platform of `release`: named `build-{platform}` or
/// `dry-run-{platform}`, with the platform's timeout.
///
/// An unsigned build (`skip_signing`) has its own kind, `<checklist_kind>.unsigned`, so it
/// never ticks an item that asks for a signed installer.
pub fn build_task_spec(
    ws: &Workspace,
    release: &Release,
    platform: &str,
    pdef: &PlatformDef,
    opts: &RunOptions,
) -> crate::runner::TaskSpec {
    let (prefix, kind) = if opts.dry_run {
        ("dry-run", DRY_RUN_KIND.to_owned())
    } else if opts.skip_signing {
        (
            "build-unsigned",
            format!("{}{UNSIGNED_SUFFIX}", pdef.checklist_kind),
        )
    } else {
        ("build", pdef.checklist_kind.clone())
    };
    ws.task_spec(
        &format!("{prefix}-{platform}"),
        &kind,
        Some(release),
        Duration::from_secs(pdef.timeout_secs),
    )
}

/// Options of a run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub skip_signing: bool,
    pub dry_run: bool,
    /// Continue a failed or cancelled run from the step that did not finish.
    pub resume: bool,
}

fn host_os() -> &'static str {
    std::env::consts::OS
}

/// The first non-empty output line of a short tool run; `Err` with that line (or why it could
/// not run) when it fails.
async fn first_line_of(program: &Path, args: &[String]) -> Result<String, String> {
    let (ok, text) =
        crate::runner::process::capture(program, args, Duration::from_secs(20)).await?;
    let line = version_line(&text);
    if ok { Ok(line) } else { Err(line) }
}

/// The version a tool printed: its first non-empty line, without a trailing clause that
/// introduces the next lines (`osslsigncode 2.9, using:` is `osslsigncode 2.9`).
fn version_line(text: &str) -> String {
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    match line.strip_suffix(':') {
        Some(head) => head
            .rsplit_once(',')
            .map_or(head, |(before, _)| before)
            .trim()
            .to_owned(),
        None => line.to_owned(),
    }
}

/// Runs the checks for `platform`: host OS, builder, tools with versions, signing variables and
/// certificate expiry, payload, free disk. Secret values are never read into the result.
pub async fn preflight(
    ws: &Workspace,
    name: &str,
    def: &PlatformDef,
    opts: &RunOptions,
) -> Preflight {
    if def.is_remote() {
        return remote::preflight(ws, name, def, opts).await;
    }
    let mut checks = Vec::new();
    let mut check = |name: &str, ok: bool, detail: String, fix: &str| {
        checks.push(Check::new(name, ok, detail, fix));
    };
    let program_found = def
        .builder
        .first()
        .is_some_and(|p| crate::runner::process::find_on_path(p).is_some());
    if def.host_os != host_os() && opts.dry_run && program_found {
        // The plan can be shown anywhere the builder's interpreter runs.
        check(
            "host",
            true,
            format!(
                "needs a {} host to build; this is {} (dry run only)",
                def.host_os,
                host_os()
            ),
            "",
        );
    } else if def.host_os != host_os() {
        return Preflight {
            platform: name.to_owned(),
            skipped: Some(format!(
                "needs a {} host; this is {}",
                def.host_os,
                host_os()
            )),
            checks,
            skip_signing: opts.skip_signing,
        };
    }
    let builder = def.builder.last().map(|b| ws.root().join(b));
    match &builder {
        Some(b) if b.is_file() => check("builder", true, b.display().to_string(), ""),
        Some(b) => check(
            "builder",
            false,
            format!("{} not found", b.display()),
            "restore packaging/ in the workspace (release-console init writes it)",
        ),
        None => check(
            "builder",
            false,
            "no builder command".into(),
            "set `builder` in the pipeline definition",
        ),
    }
    for tool in def
        .tools
        .iter()
        .filter(|t| !t.signing || !opts.skip_signing)
    {
        match crate::runner::process::find_on_path(&tool.name) {
            Some(path) => {
                let version = if tool.version_args.is_empty() {
                    Ok(String::new())
                } else {
                    first_line_of(&path, &tool.version_args).await
                };
                match version {
                    Ok(v) => check(
                        &format!("tool {}", tool.name),
                        true,
                        format!("{} {v}", path.display()),
                        "",
                    ),
                    Err(e) => check(
                        &format!("tool {}", tool.name),
                        false,
                        format!("{} does not run: {e}", path.display()),
                        &tool.install,
                    ),
                }
            }
            None => match crate::os::locate_program(&tool.name) {
                // Installing it would not help: the setting points elsewhere, and a wrong
                // setting is never bypassed for PATH.
                crate::os::ProgramAt::ConfiguredBroken(p) => check(
                    &format!("tool {}", tool.name),
                    false,
                    format!(
                        "the configured path {} ([tools] in {}) is not a program this system \
                         can run (missing, a folder, or not executable)",
                        p.display(),
                        crate::workspace::CONFIG_FILE
                    ),
                    &format!(
                        "correct the path of {} in Settings > Tools, or clear it there to use \
                         the one on PATH ({} = \"...\" under [tools] in {})",
                        tool.name,
                        tool.name,
                        ws.root().join(crate::workspace::CONFIG_FILE).display()
                    ),
                ),
                _ => check(
                    &format!("tool {}", tool.name),
                    false,
                    "not on PATH, and no path set for it in Settings > Tools".into(),
                    &tool.install,
                ),
            },
        }
    }
    for var in def.env.iter().filter(|v| !v.signing || !opts.skip_signing) {
        let set = |n: &str| std::env::var_os(n).is_some_and(|v| !v.is_empty());
        let stand_in = var.unless.as_deref().filter(|u| set(u));
        let ok = set(&var.name) || stand_in.is_some();
        let detail = match (set(&var.name), stand_in) {
            (true, _) => "set (value not shown)".to_owned(),
            (false, Some(u)) => format!("not needed: {u} is set"),
            (false, None) => "not set".to_owned(),
        };
        check(&format!("env {}", var.name), ok, detail, &var.fix);
    }
    if let (true, false, Some(demo)) = (def.signs_with_pfx, opts.skip_signing, demo_pfx(ws)) {
        check(
            "signing certificate",
            demo.is_file(),
            format!(
                "the demo's throwaway certificate {} (trusted only by this workspace)",
                demo.display()
            ),
            "unpack the demo again, or set [signing] demo_certificate to \"\" and use a real PFX",
        );
    } else if def.signs_with_pfx && !opts.skip_signing {
        let signing = &ws.config().signing;
        let path_var = &signing.windows_pfx_path_env;
        let pass_var = &signing.windows_pfx_password_env;
        let pfx = std::env::var_os(path_var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let cfg = ws.config().clone();
        let password = tokio::task::spawn_blocking(move || cfg.windows_pfx_password())
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
        let source = if signing.windows_pfx_password_secret.trim().is_empty() {
            format!("env {pass_var}")
        } else {
            format!("password {}", signing.windows_pfx_password_secret.trim())
        };
        let has_pass = matches!(password, Ok(Some(_)));
        check(
            &format!("env {path_var}"),
            pfx.is_some(),
            if pfx.is_some() {
                "set".into()
            } else {
                "not set".into()
            },
            &format!("export {path_var}=/path/to/code-signing.pfx (or run with --skip-signing)"),
        );
        check(
            &source,
            has_pass,
            match &password {
                Ok(Some(_)) => "set (value not shown)".into(),
                Ok(None) => "not set".into(),
                Err(e) => e.clone(),
            },
            &format!(
                "export {pass_var}=... (the PFX password), or set [signing] \
                 windows_pfx_password_secret"
            ),
        );
        if let (Some(pfx), Ok(Some(password))) = (pfx, &password) {
            let (ok, detail) = certificate_expiry(&pfx, password.expose());
            check(
                "signing certificate",
                ok,
                detail,
                "renew the code-signing certificate (it must be valid for 30 more days)",
            );
        }
    }
    let payload = ws.root().join(&ws.config().pipeline.payload_dir);
    let files = std::fs::read_dir(&payload).map_or(0, |d| d.flatten().count());
    check(
        "payload",
        files > 0,
        format!("{} ({files} entries)", payload.display()),
        "build the app first (flutter build) or set [pipeline] payload_dir",
    );
    match crate::os::free_bytes(ws.root()) {
        Some(free) => check(
            "free disk",
            free >= MIN_FREE_BYTES,
            format!("{} free", crate::verify::human_bytes(free)),
            "free at least 1 GiB on the workspace's disk",
        ),
        None => check(
            "free disk",
            false,
            "cannot read free space".into(),
            "check the workspace's disk",
        ),
    }
    let signs = def.signs_with_pfx
        || def.tools.iter().any(|t| t.signing)
        || def.env.iter().any(|e| e.signing);
    if signs && opts.skip_signing {
        checks.push(Check {
            warning: true,
            ..Check::new(
                "signing",
                true,
                "SKIPPED: the installer will be UNSIGNED (a test build: no certificate is \
                 checked or used, and it ticks no \"sign\" item)"
                    .into(),
                "",
            )
        });
    }
    Preflight {
        platform: name.to_owned(),
        skipped: None,
        checks,
        skip_signing: opts.skip_signing,
    }
}

/// Reads the PFX's certificate in-process (the password never leaves this process) and checks
/// it is valid for 30 more days.
fn certificate_expiry(pfx: &Path, password: &str) -> (bool, String) {
    let id = match crate::verify::certs::read_identity(pfx, Some(password)) {
        Ok(id) => id,
        Err(e) => {
            return (
                false,
                format!(
                    "cannot read {}: {} (wrong password?)",
                    pfx.display(),
                    e.message
                ),
            );
        }
    };
    let end = id.expires();
    let shown = end.strftime("%b %e %H:%M:%S %Y GMT").to_string();
    if end > jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 30) {
        (true, format!("valid until {shown}"))
    } else {
        (false, format!("expires within 30 days (notAfter {shown})"))
    }
}

/// The builder command for `platform`, with placeholders filled in.
pub fn command(
    ws: &Workspace,
    release: &Release,
    def: &PlatformDef,
    out_dir: &Path,
    opts: &RunOptions,
) -> ProcessSpec {
    let fill = |a: &String| {
        a.replace("{version}", &release.version.to_string())
            .replace("{product}", &ws.config().product.name)
            .replace(
                "{payload_dir}",
                &ws.root()
                    .join(&ws.config().pipeline.payload_dir)
                    .display()
                    .to_string(),
            )
            .replace("{out_dir}", &out_dir.display().to_string())
            .replace(
                "{app_dir}",
                &ws.root()
                    .join(&ws.config().pipeline.app_dir)
                    .display()
                    .to_string(),
            )
    };
    let mut argv: Vec<String> = def.builder.iter().map(&fill).collect();
    if let Some(script) = argv.get_mut(if def.builder.len() > 1 {
        def.builder.len() - 1
    } else {
        0
    }) {
        let p = ws.root().join(script.as_str());
        if p.exists() {
            *script = p.display().to_string();
        }
    }
    argv.extend(def.args.iter().map(&fill));
    if opts.skip_signing {
        argv.extend(def.skip_signing_args.iter().map(&fill));
    }
    if opts.dry_run {
        argv.extend(def.dry_run_args.iter().map(&fill));
    } else if opts.resume {
        argv.extend(def.resume_args.iter().map(&fill));
    }
    let mut spec = ProcessSpec::new(argv.first().cloned().unwrap_or_default())
        .args(argv.iter().skip(1).cloned());
    spec.cwd = Some(ws.root().to_owned());
    spec.inherit_only = Some(def.inherited_env());
    if def.signs_with_pfx && !opts.skip_signing {
        let signing = &ws.config().signing;
        if let Some(demo) = demo_pfx(ws) {
            spec.env
                .push((PFX_PATH_VAR.to_owned(), demo.display().to_string()));
            spec.env.push((
                PFX_PASSWORD_VAR.to_owned(),
                crate::workspace::config::DEMO_PFX_PASSWORD.to_owned(),
            ));
        } else {
            if let Ok(v) = std::env::var(&signing.windows_pfx_path_env) {
                spec.env.push((PFX_PATH_VAR.to_owned(), v));
            }
            // From its source (a variable, the keyring, AWS Secrets Manager), into the
            // builder's environment only; the redactor already knows the value.
            match ws.config().windows_pfx_password() {
                Ok(Some(p)) => spec
                    .env
                    .push((PFX_PASSWORD_VAR.to_owned(), p.expose().to_owned())),
                Ok(None) => {}
                Err(e) => tracing::warn!("the PFX password: {e}"),
            }
        }
    }
    spec
}

/// The demo certificate to sign with: `[signing] demo_certificate`, when set and no PFX is in
/// the environment (a real one always wins).
fn demo_pfx(ws: &Workspace) -> Option<PathBuf> {
    let signing = &ws.config().signing;
    let real = std::env::var_os(&signing.windows_pfx_path_env).is_some_and(|v| !v.is_empty());
    (!signing.demo_certificate.trim().is_empty() && !real)
        .then(|| ws.root().join(signing.demo_certificate.trim()))
}

/// Saved progress of a release's pipeline, for `--resume`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PipelineState {
    pub platforms: BTreeMap<String, PlatformState>,
}

vendor_enum! {
    /// How a platform's last build stands in `pipeline.json`, spelled as the console has always
    /// written it.
    pub enum BuildStatus {
        /// Running, or a CI run saved as soon as it is known and not seen finishing.
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
        Cancelled = "cancelled",
    }
}

/// One platform's last run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlatformState {
    pub status: BuildStatus,
    pub message: String,
    pub steps: Vec<StepState>,
    pub artifacts: Vec<String>,
    /// What the builder itself printed for each artifact at its Checksums step
    /// (`NAME.sha256` beside it), by file name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub builder_sha256: BTreeMap<String, Sha256>,
    /// The CI run of a remote platform (saved as soon as it is known, status `running`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<crate::remote::RemoteRun>,
    /// The file name of its build's task log in the release's logs folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// Built with signing skipped: its installers are UNSIGNED test builds.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unsigned: bool,
    /// When it finished (or, while `running`, when the state was last saved).
    pub finished_at: jiff::Timestamp,
    /// The `pipeline.platform` entry of its last change (0: saved before they were kept).
    #[serde(default, skip_serializing_if = "crate::runbook::is_zero")]
    pub audit_seq: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepState {
    pub name: String,
    pub seconds: f64,
}

pub fn state_path(ws: &Workspace, release: &Release) -> PathBuf {
    ws.release_dir(&release.version).join("pipeline.json")
}

pub fn load_state(ws: &Workspace, release: &Release) -> Result<PipelineState, PipelineError> {
    Ok(store::read_json(&state_path(ws, release))?.unwrap_or_default())
}

/// One platform's build: the workspace, the release, the platform (name and definition) and
/// how.
#[derive(Debug, Clone)]
pub struct Build {
    pub ws: Workspace,
    pub release: Release,
    pub name: String,
    pub def: PlatformDef,
    pub opts: RunOptions,
}

impl Build {
    /// Its fields, for a function that uses them all.
    fn into_parts(self) -> (Workspace, Release, String, PlatformDef, RunOptions) {
        (self.ws, self.release, self.name, self.def, self.opts)
    }
}

/// What the lease on building `platform` of `version` is called: `build 1.2.0 macos`.
pub fn build_lease(version: &str, platform: &str) -> String {
    format!("build {version} {platform}")
}

/// Why a build was not started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Another console holds the lease on this build: refused before anything was started or
    /// recorded (not a failure of the build).
    #[error(
        "{what} is in progress by {}: refused, nothing was started or recorded here",
        holder.describe()
    )]
    Busy {
        what: String,
        holder: Box<crate::workspace::LeaseInfo>,
    },
    /// The lease could not be taken (the bucket cannot be reached, the workspace is offline).
    #[error("{0}")]
    Lease(crate::workspace::WorkspaceError),
    #[error(transparent)]
    Runner(#[from] crate::runner::RunnerError),
}

/// Starts one platform's build as a task of `runner`: on a shared workspace, the lease on it
/// is taken first (a dry run changes nothing and takes none), so a second console's attempt
/// is refused naming the holder before any task starts, and so before anything is recorded
/// (no `task.start`, no run state, no failure). The lease lives as long as the task's work.
/// Blocks on the bucket: call it off the GUI's thread. The one way the CLI and the GUI start
/// a build.
pub fn start_build(runner: &crate::runner::Runner, build: Build) -> Result<TaskId, StartError> {
    let lease = if build.opts.dry_run {
        None
    } else {
        let what = build_lease(&build.release.version.to_string(), &build.name);
        match build.ws.lease(&what) {
            Ok(l) => Some(l),
            Err(crate::workspace::WorkspaceError::LeaseHeld { what, holder, .. }) => {
                return Err(StartError::Busy { what, holder });
            }
            Err(e) => return Err(StartError::Lease(e)),
        }
    };
    let spec = build_task_spec(
        &build.ws,
        &build.release,
        &build.name,
        &build.def,
        &build.opts,
    );
    Ok(runner.start(spec, move |ctx| build_platform(ctx, build, lease))?)
}

/// Runs one platform's builder as the task `ctx` belongs to (on this host, or on its CI
/// engine); collects its artifacts into the release's artifacts folder and saves the
/// platform's state (success or failure). `lease` is the build's, held until it ends
/// ([`start_build`] takes it).
///
/// With signing skipped, the saved state says UNSIGNED, and an item a signed build of this
/// platform ticked is unticked (audited): the signed installer it stood for was replaced.
async fn build_platform(
    ctx: TaskContext,
    build: Build,
    lease: Option<crate::workspace::Lease>,
) -> TaskResult {
    let unsigned = build.opts.skip_signing && !build.opts.dry_run;
    let started = jiff::Timestamp::now();
    let kind = build.def.checklist_kind.clone();
    let Build {
        ws, release, name, ..
    } = build.clone();
    // Taken by `start_build` before the task began (none for a dry run); one taken over
    // from a console whose lease ran out says so in the task's log.
    if let Some(words) = lease.as_ref().and_then(crate::workspace::Lease::took_over) {
        ctx.log_line(words);
    }
    let result = if build.def.is_remote() {
        remote::build(ctx.clone(), build, lease.as_ref()).await
    } else {
        build_here(ctx.clone(), build, lease.as_ref()).await
    };
    drop(lease);
    if !unsigned {
        return result;
    }
    let task_name = ctx.snapshot().map(|t| t.info.name).unwrap_or_default();
    let (m_ws, m_release, m_name) = (ws, release, name);
    let marked = tokio::task::spawn_blocking(move || {
        mark_unsigned(&m_ws, &m_release, &m_name, started, &kind, &task_name)
    })
    .await
    .map_err(|e| TaskError::Failed(crate::runner::panic_message(e)))?;
    match marked {
        Ok(unticked) => {
            for title in unticked {
                ctx.log_line(&format!(
                    "unticked \"{title}\": this build is UNSIGNED and replaced the signed one"
                ));
            }
        }
        Err(e) => ctx.log_line(&format!("cannot mark the build UNSIGNED: {e}")),
    }
    result.map(|m| format!("{m} (UNSIGNED: signing skipped)"))
}

/// Marks the state a build started at `since` saved as UNSIGNED, and, when it succeeded,
/// unticks the items a signed build of `kind` ticks; returns their titles.
fn mark_unsigned(
    ws: &Workspace,
    release: &Release,
    name: &str,
    since: jiff::Timestamp,
    kind: &str,
    task_name: &str,
) -> Result<Vec<String>, String> {
    let marked = projection::change_platform(ws, release, name, |saved| {
        let p = saved.filter(|p| p.finished_at >= since)?;
        Some(PlatformState {
            unsigned: true,
            ..p.clone()
        })
    })
    .map_err(|e| e.to_string())?;
    let succeeded = marked.is_some_and(|p| p.status == BuildStatus::Succeeded);
    if !succeeded {
        return Ok(Vec::new());
    }
    ws.auto_untick(
        release,
        kind,
        task_name,
        "the installer was rebuilt UNSIGNED (signing skipped): the signed build this tick \
         stood for was replaced",
    )
    .map_err(|e| e.to_string())
}

/// [`build_platform`] on this host.
async fn build_here(
    ctx: TaskContext,
    build: Build,
    lease: Option<&crate::workspace::Lease>,
) -> TaskResult {
    let (ws, release, name, def, opts) = build.into_parts();
    let out_dir = ws.release_dir(&release.version).join("build").join(&name);
    let spec = command(&ws, &release, &def, &out_dir, &opts);
    // The commit this build starts from, read before the builder runs (the branch may move
    // meanwhile); recorded once it succeeded, for `release tag`.
    let source = if opts.dry_run {
        None
    } else {
        built_from(&ctx, &ws, &release).await
    };
    let result = ctx.run_process(&spec).await;
    if opts.dry_run {
        return result.map(|()| format!("dry run of {name}: nothing was built or signed"));
    }
    let artifacts = if result.is_ok() {
        ctx.artifacts()
    } else {
        Vec::new()
    };
    let no_artifacts = result.is_ok() && artifacts.is_empty();
    let (status, message) = match &result {
        Ok(()) if no_artifacts => (
            BuildStatus::Failed,
            format!("{name}: the builder reported no artifacts"),
        ),
        Ok(()) => (BuildStatus::Succeeded, artifacts_phrase(artifacts.len())),
        Err(TaskError::Cancelled) => (BuildStatus::Cancelled, "cancelled".to_owned()),
        Err(e) => (BuildStatus::Failed, e.to_string()),
    };
    let outcome = Outcome {
        status,
        message: message.clone(),
        steps: step_durations(&ctx),
        artifacts,
        remote: None,
    };
    save_outcome(&ctx, &ws, &release, &name, outcome, lease).await?;
    if no_artifacts {
        return Err(TaskError::Failed(message));
    }
    if result.is_ok()
        && let Some(commit) = source
    {
        record_built(&ctx, &ws, &release, commit).await;
    }
    result.map(|()| format!("{name}: {message}"))
}

/// The commit a build of `release` starts from (`[source]`), said in the task's log; `None`
/// without `[source]`, or when the repository cannot say (then `release tag` falls back to the
/// branch's head, and says so).
async fn built_from(ctx: &TaskContext, ws: &Workspace, release: &Release) -> Option<String> {
    match crate::source::build_commit(ws, release).await {
        Ok(Some((commit, branch))) => {
            ctx.log_line(&format!("source: building {branch} at {commit}"));
            Some(commit)
        }
        Ok(None) => None,
        Err(e) => {
            ctx.log_line(&format!(
                "source: cannot tell which commit this builds ({e}); `release tag` will tag \
                 the branch's head"
            ));
            None
        }
    }
}

/// Records `commit` as the one `release` was built from (audited, off the async threads). A
/// failure is said in the log; the build itself succeeded.
async fn record_built(ctx: &TaskContext, ws: &Workspace, release: &Release, commit: String) {
    let (task_ws, task_release, task_commit) = (ws.clone(), release.clone(), commit.clone());
    let recorded = tokio::task::spawn_blocking(move || {
        let before = crate::source::source_record(&task_ws, &task_release)?.built_commit;
        crate::source::record_built_commit(&task_ws, &task_release, &task_commit)?;
        Ok::<_, crate::source::SourceError>(before)
    })
    .await;
    match recorded {
        Ok(Ok(before)) => ctx.log_line(&match before {
            Some(b) if b != commit => format!(
                "source: recorded {commit} as the built commit (was {b}); `release tag` tags it"
            ),
            _ => format!("source: recorded {commit} as the built commit; `release tag` tags it"),
        }),
        Ok(Err(e)) => ctx.log_line(&format!(
            "source: the built commit {commit} was not recorded: {e}"
        )),
        Err(e) => ctx.log_line(&format!(
            "source: the built commit {commit} was not recorded: {}",
            crate::runner::panic_message(e)
        )),
    }
}

/// `1 artifact`, `3 artifacts`.
pub(crate) fn artifacts_phrase(n: usize) -> String {
    format!("{n} artifact{}", if n == 1 { "" } else { "s" })
}

/// How a platform's build ended, to be saved.
pub(crate) struct Outcome {
    pub status: BuildStatus,
    pub message: String,
    pub steps: Vec<StepState>,
    /// Files to collect into the release (each checked against its `NAME.sha256`).
    pub artifacts: Vec<PathBuf>,
    pub remote: Option<crate::remote::RemoteRun>,
}

/// Collects the outcome's artifacts into the release and saves the platform's state, off the
/// async threads: the artifacts are streamed into the release (never read whole), each checked
/// against the hash its builder printed, then the state is saved under the state file's lock,
/// so a GUI build and a CLI build of the same release keep each other's platforms.
/// Collects a build's artifacts and saves its outcome. Under `lease` (a shared workspace's
/// build), the lease is read back from the bucket before the artifacts are collected and again
/// right before the outcome is recorded (collecting copies and hashes every file: minutes for
/// big installers): another console may have taken the build over meanwhile (forced, or after
/// this one slept past it), and then its result is the release's and this one's is not
/// recorded.
pub(crate) async fn save_outcome(
    log: &TaskContext,
    ws: &Workspace,
    release: &Release,
    name: &str,
    outcome: Outcome,
    lease: Option<&crate::workspace::Lease>,
) -> Result<(), TaskError> {
    if let Some(lease) = lease {
        lease
            .confirm()
            .await
            .map_err(|e| TaskError::Failed(e.to_string()))?;
    }
    // The task's log file, by name: a shared workspace stores it with the artifacts (a
    // folder's state stays as it was).
    let log_file = ws
        .shared()
        .and_then(|_| log.snapshot())
        .and_then(|s| s.log_file)
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
    let log = log.clone();
    let (task_ws, task_release) = (ws.clone(), release.clone());
    let platform = tokio::task::spawn_blocking(move || -> Result<PlatformState, TaskError> {
        let artifacts_dir = task_ws.artifacts_dir(&task_release.version);
        let mut collected = Vec::new();
        let mut builder_sha256 = BTreeMap::new();
        for path in outcome.artifacts {
            let file_name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let into = artifacts_dir.join(&file_name);
            store::copy_atomic(&path, &into).map_err(|e| TaskError::Failed(e.to_string()))?;
            // The hash the builder printed at its Checksums step, checked against the copy.
            match builder_hash(&path) {
                Some(Ok(printed)) => {
                    let now = hash_one(&into).map_err(|e| TaskError::Failed(e.to_string()))?;
                    if now != printed {
                        let _ = std::fs::remove_file(&into);
                        return Err(TaskError::Failed(
                            PipelineError::ChangedSinceBuilt {
                                name: file_name,
                                builder: printed.to_string(),
                                now: now.to_string(),
                            }
                            .to_string(),
                        ));
                    }
                    log.log_line(&format!(
                        "collected {file_name} (SHA-256 {now}, as its builder printed)"
                    ));
                    builder_sha256.insert(file_name.clone(), printed);
                }
                Some(Err(bad)) => log.log_line(&format!(
                    "collected {file_name}, not checked against its builder's \
                     {file_name}.sha256: {bad}"
                )),
                None => log.log_line(&format!(
                    "collected {file_name} (its builder printed no checksum for it)"
                )),
            }
            collected.push(file_name);
        }
        Ok(PlatformState {
            status: outcome.status,
            message: outcome.message,
            steps: outcome.steps,
            artifacts: collected,
            builder_sha256,
            remote: outcome.remote,
            log: log_file,
            unsigned: false,
            finished_at: jiff::Timestamp::now(),
            audit_seq: 0,
        })
    })
    .await
    .map_err(|e| TaskError::Failed(crate::runner::panic_message(e)))??;
    // Read back again: the build may have been taken over while the files were collected.
    if let Some(lease) = lease {
        lease
            .confirm()
            .await
            .map_err(|e| TaskError::Failed(e.to_string()))?;
    }
    let (ws, release, name) = (ws.clone(), release.clone(), name.to_owned());
    tokio::task::spawn_blocking(move || {
        save_platform(&ws, &release, &name, platform).map_err(|e| TaskError::Failed(e.to_string()))
    })
    .await
    .map_err(|e| TaskError::Failed(crate::runner::panic_message(e)))?
}

/// Saves one platform's state: its entry, then the file (blocking; see
/// [`projection::change_platform`]).
pub(crate) fn save_platform(
    ws: &Workspace,
    release: &Release,
    name: &str,
    platform: PlatformState,
) -> Result<(), crate::workspace::WorkspaceError> {
    projection::change_platform(ws, release, name, |_| Some(platform)).map(|_| ())
}

fn step_durations(ctx: &TaskContext) -> Vec<StepState> {
    let Some(snap) = ctx.snapshot() else {
        return Vec::new();
    };
    let end = snap.elapsed;
    snap.steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let next = snap.steps.get(i + 1).map_or(end, |n| n.started_after);
            StepState {
                name: s.name.clone(),
                seconds: next.saturating_sub(s.started_after).as_secs_f64(),
            }
        })
        .collect()
}

/// One file in a release's artifacts folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArtifactFile {
    pub name: String,
    pub path: PathBuf,
    pub size_bytes: u64,
    /// What SHA256SUMS records for it, if it lists it.
    pub listed_sha256: Option<Sha256>,
    /// When the file was last modified.
    pub modified: Option<jiff::Timestamp>,
    /// When SHA256SUMS was last written (its modification time), if there is one.
    pub listed_at: Option<jiff::Timestamp>,
}

impl ArtifactFile {
    /// Whether the file changed after SHA256SUMS was written, so what SHA256SUMS records for it
    /// is no longer known to be its own hash.
    pub fn changed_after_sums(&self) -> bool {
        matches!((self.modified, self.listed_at), (Some(m), Some(l)) if m > l)
    }
}

fn modified_time(meta: &std::fs::Metadata) -> Option<jiff::Timestamp> {
    meta.modified()
        .ok()
        .and_then(|m| jiff::Timestamp::try_from(m).ok())
}

/// The release's artifacts (files that pass [`crate::verify::sums::is_artifact`]), sorted by
/// name, with what SHA256SUMS records for each. No folder yet means no artifacts.
pub fn list_artifacts(
    ws: &Workspace,
    release: &Release,
) -> Result<Vec<ArtifactFile>, PipelineError> {
    let dir = ws.artifacts_dir(&release.version);
    let io = |cause| PipelineError::Io {
        path: dir.clone(),
        cause,
    };
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(e)),
    };
    let sums_path = dir.join(crate::verify::sums::SUMS_FILE);
    let sums = match crate::verify::sums::read(&sums_path) {
        Ok(sums) => sums,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => crate::verify::sums::Sums::default(),
        Err(cause) => {
            return Err(PipelineError::Io {
                path: sums_path,
                cause,
            });
        }
    };
    let by_name = sums.by_name();
    let listed_at = std::fs::metadata(&sums_path)
        .ok()
        .and_then(|m| modified_time(&m));
    let mut out = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        if !path.is_file() || !crate::verify::sums::is_artifact(&name) {
            continue;
        }
        let meta = e.metadata().map_err(io)?;
        let listed_sha256 = by_name.get(name.as_str()).map(|s| s.sha256);
        out.push(ArtifactFile {
            listed_at: listed_sha256.as_ref().and(listed_at),
            listed_sha256,
            modified: modified_time(&meta),
            size_bytes: meta.len(),
            name,
            path,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The SHA-256 a builder wrote beside `artifact` at its Checksums step (`NAME.sha256`, in
/// `sha256sum`/`shasum`/`Get-FileHash` form), if it did.
fn builder_hash(artifact: &Path) -> Option<Result<Sha256, String>> {
    let mut side = artifact.as_os_str().to_owned();
    side.push(".sha256");
    let text = match std::fs::read_to_string(PathBuf::from(side)) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        // There but not read (not UTF-8, as PowerShell's UTF-16 `>` writes it; unreadable):
        // said, not taken for none printed.
        Err(e) => return Some(Err(format!("cannot read it: {e}"))),
    };
    // A byte-order mark, as Windows editors and PowerShell's UTF-8 write it, is no digit.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    Some(
        text.split_whitespace()
            .next()?
            .parse()
            .map_err(|e: crate::digest::BadSha256| e.to_string()),
    )
}

fn hash_one(path: &Path) -> Result<Sha256, PipelineError> {
    let done = [std::sync::atomic::AtomicU64::new(0)];
    let mut digests = crate::verify::hash::hash_files(
        &[path.to_owned()],
        1,
        &done,
        &tokio_util::sync::CancellationToken::new(),
    );
    digests
        .pop()
        .ok_or_else(|| PipelineError::Io {
            path: path.to_owned(),
            cause: std::io::Error::other("not hashed"),
        })?
        .map(Sha256::from)
        .map_err(|err| PipelineError::Io {
            path: path.to_owned(),
            cause: std::io::Error::other(err.to_string()),
        })
}

/// SHA256SUMS as written: where, and the artifacts no builder vouched for (added by hand, e.g.
/// the DMG built on a Mac and copied here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SumsWritten {
    pub path: PathBuf,
    pub unvouched: Vec<String>,
}

/// Writes SHA256SUMS for every artifact in the release's artifacts folder, after checking each
/// against the hash its builder printed at its Checksums step: a file that changed since it was
/// built is refused (nothing is written), so the verification that follows compares against
/// the builder's word, not against a sums file made from the same bytes a moment before.
pub fn write_sums(ws: &Workspace, release: &Release) -> Result<SumsWritten, PipelineError> {
    let dir = ws.artifacts_dir(&release.version);
    if !dir.is_dir() {
        return Err(PipelineError::Io {
            path: dir,
            cause: std::io::Error::new(std::io::ErrorKind::NotFound, "no artifacts folder yet"),
        });
    }
    let files = list_artifacts(ws, release)?;
    // The same parallel engine Verify uses.
    let paths: Vec<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
    let done: Vec<_> = paths
        .iter()
        .map(|_| std::sync::atomic::AtomicU64::new(0))
        .collect();
    let threads = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let digests = crate::verify::hash::hash_files(
        &paths,
        threads,
        &done,
        &tokio_util::sync::CancellationToken::new(),
    );
    let state = load_state(ws, release)?;
    let vouched: BTreeMap<&str, Sha256> = state
        .platforms
        .values()
        .flat_map(|p| p.builder_sha256.iter())
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    let mut entries = Vec::new();
    let mut unvouched = Vec::new();
    for (file, digest) in files.into_iter().zip(digests) {
        let digest = Sha256::from(digest.map_err(|err| PipelineError::Io {
            path: file.path,
            cause: std::io::Error::other(err.to_string()),
        })?);
        match vouched.get(file.name.as_str()) {
            Some(printed) if *printed != digest => {
                return Err(PipelineError::ChangedSinceBuilt {
                    name: file.name,
                    builder: printed.to_string(),
                    now: digest.to_string(),
                });
            }
            Some(_) => {}
            None => unvouched.push(file.name.clone()),
        }
        entries.push((file.name, digest));
    }
    let path = dir.join(crate::verify::sums::SUMS_FILE);
    store::write_atomic(&path, crate::verify::sums::render(&entries).as_bytes())?;
    Ok(SumsWritten { path, unvouched })
}

/// What storing a build's files in a shared workspace's bucket did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredBuild {
    /// The `release.artifacts` entry that records them.
    pub entry: u64,
    /// Files recorded (artifacts, SHA256SUMS, logs).
    pub files: usize,
    /// Of them, those whose bytes were sent (the others the bucket held already).
    pub uploaded: u64,
}

impl StoredBuild {
    /// `stored 4 files in s3://... as blobs (2 sent, 2 there already), entry #12`.
    pub fn describe(&self, location: &str) -> String {
        format!(
            "stored {} files in {location} by SHA-256 ({} sent, {} there already), recorded \
             in entry #{}",
            self.files,
            self.uploaded,
            self.files as u64 - self.uploaded,
            self.entry
        )
    }
}

/// A build's end on any workspace: SHA256SUMS written ([`write_sums`]); then, on a shared
/// workspace, the artifacts, SHA256SUMS and each built platform's last task log stored in the
/// bucket by SHA-256 (each only when the bucket lacks it) and recorded in one
/// `release.artifacts` entry, which every console rolls forward into the release's list
/// (`verify::shared`). `pipeline run` and the Builds panel call it. Blocks.
pub fn write_sums_and_store(
    ws: &Workspace,
    release: &Release,
) -> Result<(SumsWritten, Option<StoredBuild>), PipelineError> {
    let sums = write_sums(ws, release)?;
    if ws.shared().is_none() {
        return Ok((sums, None));
    }
    let stored = store_build(ws, release, &sums.path)?;
    Ok((sums, stored))
}

fn store_build(
    ws: &Workspace,
    release: &Release,
    sums_path: &Path,
) -> Result<Option<StoredBuild>, PipelineError> {
    use crate::audit::event::{BlobFile, BlobKind};
    use crate::workspace::blobs::Blob;
    let state = load_state(ws, release)?;
    let built: Vec<(&String, &PlatformState)> = state
        .platforms
        .iter()
        .filter(|(_, p)| p.status == BuildStatus::Succeeded)
        .collect();
    let blob_of = |path: &Path| {
        Blob::of_file(path).map_err(|e| PipelineError::Io {
            path: path.to_owned(),
            cause: std::io::Error::other(e.to_string()),
        })
    };
    let mut files = crate::verify::shared::ToStore::default();
    for a in list_artifacts(ws, release)? {
        let platform = built
            .iter()
            .find(|(_, p)| p.artifacts.contains(&a.name))
            .map(|(name, _)| (*name).clone());
        // SHA256SUMS was written from these bytes a moment ago; the bucket is told the SHA-256
        // and refuses others.
        let blob = match a.listed_sha256 {
            Some(sha256) => Blob {
                sha256,
                size: a.size_bytes,
            },
            None => blob_of(&a.path)?,
        };
        files.files.push((
            BlobFile {
                name: a.name,
                size: blob.size,
                sha256: blob.sha256,
                kind: BlobKind::Artifact,
                platform,
            },
            a.path,
        ));
    }
    let sums = blob_of(sums_path)?;
    files.files.push((
        BlobFile {
            name: crate::verify::sums::SUMS_FILE.to_owned(),
            size: sums.size,
            sha256: sums.sha256,
            kind: BlobKind::Sums,
            platform: None,
        },
        sums_path.to_owned(),
    ));
    for (name, p) in &built {
        let Some(log) = &p.log else { continue };
        // Only a file of the logs folder (a state edited or forged could name any other).
        if let Some(why) = crate::verify::shared::bad_name(log) {
            tracing::warn!("{name}'s task log {log:?} is not stored in the bucket: {why}");
            continue;
        }
        let path = ws.logs_dir(&release.version).join(log);
        if !path.is_file() {
            continue;
        }
        let blob = blob_of(&path)?;
        files.files.push((
            BlobFile {
                name: log.clone(),
                size: blob.size,
                sha256: blob.sha256,
                kind: BlobKind::Log,
                platform: Some((*name).clone()),
            },
            path,
        ));
    }
    let count = files.files.len();
    let platforms = built.iter().map(|(n, _)| (*n).clone()).collect();
    let stored = crate::verify::shared::store(ws, release, platforms, files)
        .map_err(|e| PipelineError::Shared(e.to_string()))?;
    Ok(stored.map(|(record, uploaded)| StoredBuild {
        entry: record.audit_seq,
        files: count,
        uploaded,
    }))
}

#[cfg(test)]
mod tests {
    use super::{BuildStatus, PipelineState, builder_hash, version_line};

    #[test]
    fn a_builders_checksum_file_is_read_as_a_digest_and_a_bad_one_is_named() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("app.msi");
        assert!(
            builder_hash(&file).is_none(),
            "no NAME.sha256: none printed"
        );
        let digest = "AB".repeat(32);
        std::fs::write(
            dir.path().join("app.msi.sha256"),
            format!("{digest}  app.msi\n"),
        )
        .expect("write");
        assert_eq!(
            builder_hash(&file)
                .expect("printed")
                .expect("a digest")
                .to_string(),
            "ab".repeat(32)
        );
        std::fs::write(dir.path().join("app.msi.sha256"), "n/a  app.msi\n").expect("write");
        let bad = builder_hash(&file)
            .expect("printed")
            .expect_err("not a digest");
        assert!(bad.starts_with("\"n/a\" is not a SHA-256 digest"), "{bad}");
        // With a byte-order mark and CRLF, as Windows tools write it: the same digest.
        std::fs::write(
            dir.path().join("app.msi.sha256"),
            format!("\u{feff}{digest} *app.msi\r\n"),
        )
        .expect("write");
        assert_eq!(
            builder_hash(&file).expect("printed").expect("a digest"),
            digest.parse().expect("digest")
        );
        // UTF-16 (PowerShell's `>`): printed, but not read; said so, not taken for none.
        let utf16: Vec<u8> = [0xfeff_u16]
            .into_iter()
            .chain(format!("{digest}  app.msi\r\n").encode_utf16())
            .flat_map(u16::to_le_bytes)
            .collect();
        std::fs::write(dir.path().join("app.msi.sha256"), utf16).expect("write");
        let bad = builder_hash(&file).expect("printed").expect_err("not read");
        assert!(bad.starts_with("cannot read it: "), "{bad}");
    }

    #[test]
    fn a_pipeline_json_an_older_console_wrote_still_reads_and_writes_back_the_same() {
        let old = serde_json::json!({"platforms": {
            "macos": {"status": "succeeded", "message": "2 artifacts", "steps": [],
                      "artifacts": ["a.dmg"], "finished_at": "2026-12-01T10:00:00Z"},
            "windows": {"status": "running", "message": "", "steps": [], "artifacts": [],
                        "finished_at": "2026-12-01T10:00:00Z"},
            "linux": {"status": "stalled", "message": "", "steps": [], "artifacts": [],
                      "finished_at": "2026-12-01T10:00:00Z"}
        }});
        let state: PipelineState = serde_json::from_value(old.clone()).expect("reads");
        assert_eq!(state.platforms["macos"].status, BuildStatus::Succeeded);
        assert_eq!(state.platforms["windows"].status, BuildStatus::Running);
        assert_eq!(
            state.platforms["linux"].status,
            BuildStatus::Other("stalled".into())
        );
        assert_eq!(serde_json::to_value(&state).expect("json"), old);
    }

    #[test]
    fn a_version_line_drops_the_clause_that_introduces_the_next_lines() {
        assert_eq!(
            version_line(
                "osslsigncode 2.9, using:\n\tOpenSSL 3.0.13 30 Jan 2024 (Library: OpenSSL 3.0.19)\n"
            ),
            "osslsigncode 2.9"
        );
        assert_eq!(version_line("\n  wixl 0.103\n"), "wixl 0.103");
        assert_eq!(
            version_line(
                "Flutter 3.24.0 • channel stable • https://github.com/flutter/flutter.git"
            ),
            "Flutter 3.24.0 • channel stable • https://github.com/flutter/flutter.git"
        );
        assert_eq!(version_line("Tools:\nx 1"), "Tools");
        assert_eq!(version_line(""), "");
    }
}
