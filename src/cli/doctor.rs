//! `doctor`: where each program the console runs was found (its configured path, `PATH`, or
//! nowhere, with how to install it), where each secret is looked for (the variable, the OS
//! keyring, AWS Secrets Manager), never a value, and this console's signing key: the Settings
//! panel's Tools and Secrets tables and its Signing key line, from the same functions, one
//! aligned line each and a summary line.

use std::process::ExitCode;

use super::Cli;
use crate::workspace::secrets::SecretState;

pub fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    let ws = cli.open_workspace()?;
    let tools = crate::pipeline::tools::check(&ws);
    let secrets = crate::workspace::secrets::where_looked(ws.config());
    let keys = ws.keys_view().map_err(|e| e.to_string());
    let missing_tool = tools.iter().any(|t| !t.ok());
    let missing_secret = secrets.iter().any(|s| s.state() == SecretState::Missing);
    if cli.json {
        let key = match &keys {
            Ok(v) => serde_json::json!({
                "person": v.person,
                "signing": v.signing(),
                "fingerprint": v.fingerprint(),
                "on_this_machine": v.local_key.is_some(),
                "registered": v.registered,
                "summary": v.summary,
            }),
            Err(e) => serde_json::json!({ "error": e }),
        };
        cli.print_json(&serde_json::json!({
            "tools": tools,
            "secrets": secrets,
            "signing_key": key,
        }))?;
    } else {
        print!("{}", render(&tools, &secrets, &keys));
    }
    Ok(if missing_tool || missing_secret {
        ExitCode::from(super::EXIT_CHECK_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

/// The report as text: a section per kind, one line per item (state, name, where), the
/// columns aligned across sections, and a summary line.
fn render(
    tools: &[crate::pipeline::tools::ToolCheck],
    secrets: &[crate::workspace::secrets::SecretCheck],
    keys: &Result<crate::workspace::KeysView, String>,
) -> String {
    use std::fmt::Write as _;
    // (state, name, detail) per line, by section.
    let tool_rows: Vec<(&str, &str, String)> = tools
        .iter()
        .map(|t| {
            let detail = match (&t.configured, &t.found) {
                (_, Some(f)) => f.clone(),
                (Some(c), None) => format!(
                    "{c} is not a program this system can run: correct or clear it in Settings \
                     > Tools ([tools] in {})",
                    crate::workspace::CONFIG_FILE
                ),
                (None, None) => format!("{} (for {})", t.install, t.used_for.join("; ")),
            };
            (t.state(), t.name.as_str(), detail)
        })
        .collect();
    // A place that cannot be asked at all (no keyring here) says why once, below the section,
    // not on every secret's line.
    let mut unavailable: Vec<&str> = Vec::new();
    let secret_rows: Vec<(&str, &str, String)> = secrets
        .iter()
        .map(|s| {
            let looked = s
                .looked
                .iter()
                .map(|l| {
                    if l.answer.starts_with("not available") {
                        if !unavailable.contains(&l.answer.as_str()) {
                            unavailable.push(&l.answer);
                        }
                        format!("{}: not available (see below)", l.place)
                    } else {
                        format!("{}: {}", l.place, l.answer)
                    }
                })
                .collect::<Vec<_>>()
                .join("; ");
            let detail = match s.state() {
                SecretState::Missing => format!("{looked} (needed for {})", s.needed_for),
                _ => looked,
            };
            (s.state().as_str(), s.source.as_str(), detail)
        })
        .collect();
    let key_row: (&str, &str, String) = match keys {
        Ok(v) => (
            v.signing().as_str(),
            v.person.as_str(),
            match v.fingerprint() {
                Some(f) if !v.summary.contains(f) => format!("{} (key {f})", v.summary),
                _ => v.summary.clone(),
            },
        ),
        Err(e) => ("UNREADABLE", "", e.clone()),
    };
    let all = || {
        tool_rows
            .iter()
            .chain(&secret_rows)
            .chain(std::iter::once(&key_row))
    };
    let state_w = all().map(|r| r.0.len()).max().unwrap_or(0);
    let name_w = all().map(|r| r.1.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    let section = |out: &mut String, title: &str, rows: &[&(&str, &str, String)]| {
        let _ = writeln!(out, "{title}");
        for (state, name, detail) in rows {
            let _ = writeln!(out, "  {state:<state_w$}  {name:<name_w$}  {detail}");
        }
    };
    section(
        &mut out,
        &format!(
            "Tools (set a path in Settings > Tools, or [tools] in {})",
            crate::workspace::CONFIG_FILE
        ),
        &tool_rows.iter().collect::<Vec<_>>(),
    );
    section(
        &mut out,
        "Secrets (values are never shown)",
        &secret_rows.iter().collect::<Vec<_>>(),
    );
    for why in &unavailable {
        let _ = writeln!(out, "  (OS keyring {why})");
    }
    section(
        &mut out,
        "Signing key (this console's Ed25519 key, which signs its audit entries)",
        &[&key_row],
    );
    let found = tools.iter().filter(|t| t.ok()).count();
    let count = |state: SecretState| secrets.iter().filter(|s| s.state() == state).count();
    let mut summary = format!("{found} of {} tools found", tools.len());
    let broken = tools.iter().filter(|t| t.state() == "BROKEN PATH").count();
    if broken > 0 {
        let _ = write!(summary, " ({broken} BROKEN PATH)");
    }
    let _ = write!(
        summary,
        "; secrets: {} set, {} missing, {} not set, {} fetched when used",
        count(SecretState::Set),
        count(SecretState::Missing),
        count(SecretState::NotSet),
        count(SecretState::FetchedWhenUsed)
    );
    let _ = match keys {
        Ok(v) => write!(
            summary,
            "; signing key: {}{}",
            v.signing().as_str(),
            v.fingerprint()
                .map(|f| format!(" ({f})"))
                .unwrap_or_default()
        ),
        Err(_) => write!(summary, "; signing key: UNREADABLE"),
    };
    let _ = writeln!(out, "{summary}");
    out
}
