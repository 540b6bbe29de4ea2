//! Where a key is written in the file's text, for errors that name its line.

use std::path::Path;

use super::ConfigError;

/// An invalid value of key `name` in `[table]` (`nth`: which `[[table]]` entry, from 0): at
/// its line in `text` when it is written there, else naming the key only.
pub(super) fn config_error(
    path: &Path,
    text: &str,
    (table, nth, name): (&str, Option<usize>, &str),
    message: &str,
) -> ConfigError {
    let key = if table.is_empty() {
        name.to_owned()
    } else {
        format!("{table}.{name}")
    };
    match locate(text, table, nth, name) {
        Some((line, column)) => ConfigError::Invalid {
            path: path.to_owned(),
            line,
            column,
            key: format!("key `{key}`: "),
            message: message.to_owned(),
        },
        None => ConfigError::Semantic {
            path: path.to_owned(),
            message: format!("key `{key}`: {message}"),
        },
    }
}

/// A dotted key with its parts unquoted and trimmed (`a . "b"` is `a.b`).
fn normalized_key(key: &str) -> String {
    key.split('.')
        .map(|p| p.trim().trim_matches(['"', '\'']))
        .collect::<Vec<_>>()
        .join(".")
}

/// The 1-based line and column where key `name` of `[table]` (the `nth` `[[table]]`, from 0)
/// is written: under its header, or as a dotted key (`table.name = ...`) above.
fn locate(text: &str, table: &str, nth: Option<usize>, name: &str) -> Option<(usize, usize)> {
    let join = |t: &str, k: &str| {
        if t.is_empty() {
            k.to_owned()
        } else {
            format!("{t}.{k}")
        }
    };
    let wanted = join(table, name);
    let mut current = String::new();
    let mut entries: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(header) = trimmed.strip_prefix("[[") {
            current = normalized_key(header.split("]]").next().unwrap_or_default());
            *entries.entry(current.clone()).or_default() += 1;
            continue;
        }
        if let Some(header) = trimmed.strip_prefix('[') {
            current = normalized_key(header.split(']').next().unwrap_or_default());
            continue;
        }
        let Some((key, _)) = trimmed.split_once('=') else {
            continue;
        };
        if join(&current, &normalized_key(key)) != wanted {
            continue;
        }
        if nth.is_some_and(|n| entries.get(table) != Some(&(n + 1))) {
            continue;
        }
        return Some((i + 1, line.len() - line.trim_start().len() + 1));
    }
    None
}

/// 1-based line and column of a byte offset.
pub(super) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, column)
}

/// The dotted key whose line contains `offset`: the nearest `[table]` header above it plus the
/// key before `=` on that line.
pub(super) fn key_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let line = &text[line_start..line_end];
    let table = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned());
    let trimmed = line.trim();
    if trimmed.starts_with('[') {
        return Some(
            trimmed
                .trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_owned(),
        );
    }
    let key = line.split_once('=')?.0.trim().trim_matches('"');
    if key.is_empty() {
        return None;
    }
    Some(match table {
        Some(t) => format!("{t}.{key}"),
        None => key.to_owned(),
    })
}
