//! `[tools]`: where a program is, for a console that must not (or cannot) find it on `PATH`:
//! a window started from the Finder or the Start menu has no shell `PATH`, so
//! `osslsigncode = "/opt/homebrew/bin/osslsigncode"` says where it is. Every place that runs a
//! program by name (preflight, verify, builders, git) runs the configured one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The longest program name `[tools]` takes.
pub const MAX_TOOL_NAME: usize = 64;
/// The longest path `[tools]` takes.
pub const MAX_TOOL_PATH: usize = 4096;

/// What is wrong with `name = "path"` in `[tools]`, if anything.
pub fn problem(name: &str, path: &str) -> Option<String> {
    if name.is_empty()
        || name.len() > MAX_TOOL_NAME
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+'))
        || name.starts_with('.')
    {
        return Some(format!(
            "{name:?} is not a program name (letters, digits, `-`, `_`, `.` and `+`, at most \
             {MAX_TOOL_NAME} characters)"
        ));
    }
    if path.trim().is_empty() {
        return Some(
            "the path is empty: give the program's absolute path, or remove the key".into(),
        );
    }
    if path.len() > MAX_TOOL_PATH || path.chars().any(char::is_control) {
        return Some(format!(
            "not a path (at most {MAX_TOOL_PATH} bytes, no control characters)"
        ));
    }
    if !Path::new(path).is_absolute() {
        return Some(format!(
            "{path:?} is not an absolute path: a program is looked for wherever the console \
             runs, so give its full path (e.g. /opt/homebrew/bin/{name})"
        ));
    }
    None
}

/// The configured paths as the OS layer takes them.
pub fn paths(tools: &BTreeMap<String, String>) -> BTreeMap<String, PathBuf> {
    tools
        .iter()
        .map(|(k, v)| (k.clone(), PathBuf::from(v)))
        .collect()
}

/// `text` (a `release-console.toml`) with `name = "path"` set in `[tools]`, or that key
/// removed when `path` is `None`: its line under `[tools]` replaced, else a line added at the
/// end of that table, else a `[tools]` table added at the end. Every other line stays as it
/// was (comments included). The caller parses the result and checks it says what was meant: a
/// `[tools]` written in another form (an inline table, dotted keys) is left to the editor.
pub fn with_tool(text: &str, name: &str, path: Option<&str>) -> String {
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let line_for = |p: &str| format!("{name} = {}{newline}", toml::Value::String(p.to_owned()));
    let mut out: Vec<String> = Vec::new();
    let mut in_tools = false;
    let mut seen_tools = false;
    let mut done = false;
    // Where a new key goes: after the last key line of `[tools]` (index into `out`).
    let mut insert_at = None;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            in_tools = trimmed
                .trim_start_matches('[')
                .split(']')
                .next()
                .is_some_and(|h| h.trim() == "tools")
                && !trimmed.starts_with("[[");
            if in_tools {
                seen_tools = true;
                out.push(line.to_owned());
                insert_at = Some(out.len());
                continue;
            }
        }
        if in_tools && !done {
            let key = trimmed
                .split_once('=')
                .map(|(k, _)| k.trim().trim_matches(['"', '\'']));
            if key == Some(name) {
                if let Some(p) = path {
                    out.push(line_for(p));
                }
                done = true;
                continue;
            }
            if !trimmed.is_empty() && !trimmed.starts_with('#') {
                out.push(line.to_owned());
                insert_at = Some(out.len());
                continue;
            }
        }
        out.push(line.to_owned());
    }
    if !done && let Some(p) = path {
        match insert_at {
            Some(at) if seen_tools => out.insert(at, line_for(p)),
            _ => {
                if let Some(last) = out.last_mut()
                    && !last.ends_with('\n')
                {
                    last.push_str(newline);
                }
                out.push(format!("{newline}[tools]{newline}"));
                out.push(line_for(p));
            }
        }
    }
    out.concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_path_must_be_an_absolute_path_of_a_plain_name() {
        let abs = if cfg!(windows) {
            r"C:\Tools\osslsigncode.exe"
        } else {
            "/opt/homebrew/bin/osslsigncode"
        };
        assert_eq!(problem("osslsigncode", abs), None);
        assert!(
            problem("osslsigncode", "bin/osslsigncode").is_some_and(|e| e.contains("absolute"))
        );
        assert!(problem("osslsigncode", " ").is_some_and(|e| e.contains("empty")));
        assert!(problem("../sh", abs).is_some_and(|e| e.contains("not a program name")));
        assert!(problem("a/b", abs).is_some());
        assert!(problem(&"x".repeat(65), abs).is_some());
    }

    #[test]
    fn a_tool_line_is_set_in_place_added_to_the_table_or_removed() {
        let text = "# top\nactor = \"x\"\n\n[tools]\n# mine\ngit = \"/usr/bin/git\"\n\n[dr]\nstand_ins = \"\"\n";
        let set = with_tool(text, "git", Some("/opt/git"));
        assert_eq!(set, text.replace("/usr/bin/git", "/opt/git"));
        let added = with_tool(text, "osslsigncode", Some("/opt/o \"q\""));
        assert!(
            added.contains("git = \"/usr/bin/git\"\nosslsigncode = "),
            "added at the end of [tools]: {added}"
        );
        let table: toml::Table = toml::from_str(&added).expect("toml");
        assert_eq!(
            table["tools"]["osslsigncode"].as_str(),
            Some("/opt/o \"q\"")
        );
        assert_eq!(table["dr"]["stand_ins"].as_str(), Some(""));
        let removed = with_tool(text, "git", None);
        assert_eq!(removed, text.replace("git = \"/usr/bin/git\"\n", ""));
        let fresh = with_tool("actor = \"x\"", "git", Some("/g"));
        assert_eq!(fresh, "actor = \"x\"\n\n[tools]\ngit = \"/g\"\n");
        assert_eq!(with_tool(text, "none", None), text);
    }
}
