//! `doctor`: where each program the console runs was found (its configured path, `PATH`, or
//! nowhere, with how to install it) and where each secret is looked for (the variable, the OS
//! keyring, AWS Secrets Manager), never a value: the Settings panel's Tools and Secrets tables.

use std::process::ExitCode;

use super::Cli;

pub fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    let ws = cli.open_workspace()?;
    let tools = crate::pipeline::tools::check(&ws);
    let secrets = crate::workspace::secrets::where_looked(ws.config());
    let missing_tool = tools.iter().any(|t| !t.ok());
    let missing_secret = secrets
        .iter()
        .any(|s| s.in_use && !s.found() && !aws_only(s));
    if cli.json {
        cli.print_json(&serde_json::json!({ "tools": tools, "secrets": secrets }))?;
    } else {
        println!("Tools (set a path with [tools] in release-console.toml, or in Settings > Tools)");
        for t in &tools {
            println!(
                "  {:<8} {:<14} {}  [{}]",
                if t.ok() { "ok" } else { "MISSING" },
                t.name,
                t.where_found(),
                t.used_for.join("; ")
            );
        }
        println!("Secrets (values are never shown)");
        for s in &secrets {
            let state = if s.found() {
                "ok"
            } else if aws_only(s) {
                "remote"
            } else if s.in_use {
                "MISSING"
            } else {
                "not set"
            };
            println!(
                "  {state:<8} {} ({}): {}",
                s.source,
                s.purpose,
                s.looked
                    .iter()
                    .map(|l| format!("{}: {}", l.place, l.answer))
                    .collect::<Vec<_>>()
                    .join("; ")
            );
        }
    }
    Ok(if missing_tool || missing_secret {
        ExitCode::from(super::EXIT_CHECK_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

/// A secret read from AWS Secrets Manager only: fetched when used, so not checked here.
fn aws_only(s: &crate::workspace::secrets::SecretCheck) -> bool {
    s.source.starts_with("aws-sm:")
}
