//! What an audit entry changed, field by field: its `before` and `after` flattened to paths
//! (`done`, `artifacts[0].path`), each path changed, added, removed or unchanged. The Audit
//! panel shows it as a table and `audit show` prints it.
//!
//! Objects are flattened key by key; an array is flattened item by item when it holds objects
//! or arrays (a list of records), and is one value otherwise (`["a", "b"]`). A `null` at the
//! top is no value at all (an entry that creates or removes something), so everything on the
//! other side is added or removed.

use serde::Serialize;
use serde_json::Value;

/// What happened to one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Changed,
    Added,
    Removed,
    Unchanged,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Changed => "changed",
            Self::Added => "added",
            Self::Removed => "removed",
            Self::Unchanged => "unchanged",
        }
    }
}

/// One field of an entry's values, before and after.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// Keys joined by dots, array items as `[i]` (`artifacts[0].path`); a key that is not a
    /// plain word is quoted (`["a.b"]`). Empty when the value itself is not an object or a
    /// list of records.
    pub path: String,
    pub kind: Kind,
    /// `None`: the field was not there.
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl FieldChange {
    /// The path as shown: `(value)` for the value itself.
    pub fn label(&self) -> &str {
        if self.path.is_empty() {
            "(value)"
        } else {
            &self.path
        }
    }

    /// One line: `done: false -> true`, `+ note: looks good`, `- reason: gone`, `id: x`.
    pub fn line(&self, max_chars: usize) -> String {
        let v = |v: &Option<Value>| shorten(&v.as_ref().map(show).unwrap_or_default(), max_chars);
        match self.kind {
            Kind::Changed => format!(
                "{}: {} -> {}",
                self.label(),
                v(&self.before),
                v(&self.after)
            ),
            Kind::Added => format!("+ {}: {}", self.label(), v(&self.after)),
            Kind::Removed => format!("- {}: {}", self.label(), v(&self.before)),
            Kind::Unchanged => format!("{}: {}", self.label(), v(&self.after)),
        }
    }
}

/// Every field of `before` and `after`, in path order (keys sorted, items by index), with
/// what happened to it.
pub fn diff(before: &Value, after: &Value) -> Vec<FieldChange> {
    let mut out = Vec::new();
    walk(String::new(), present(before), present(after), &mut out);
    out
}

/// A value that is there: `null` at the top is none.
fn present(v: &Value) -> Option<&Value> {
    (!v.is_null()).then_some(v)
}

/// The changed, added and removed fields only.
pub fn changes(before: &Value, after: &Value) -> Vec<FieldChange> {
    let mut all = diff(before, after);
    all.retain(|c| c.kind != Kind::Unchanged);
    all
}

/// The changes on one line (`done: false -> true · + note: ok`), each value cut at
/// `max_chars`; empty when nothing changed. Changed fields come first, then added, then
/// removed, and the shortest first within each, so that a cut line shows as many as fit (a
/// tick's `done: false -> true` before its timestamps).
pub fn summary(changes: &[FieldChange], max_chars: usize) -> String {
    let mut lines: Vec<(u8, String)> = changes
        .iter()
        .filter_map(|c| {
            let rank = match c.kind {
                Kind::Changed => 0,
                Kind::Added => 1,
                Kind::Removed => 2,
                Kind::Unchanged => return None,
            };
            Some((rank, c.line(max_chars)))
        })
        .collect();
    lines.sort_by_key(|(rank, line)| (*rank, line.chars().count()));
    lines
        .into_iter()
        .map(|(_, line)| line)
        .collect::<Vec<_>>()
        .join(" · ")
}

/// A value on one line, as people read it: a string without quotes (`""` when empty, line
/// breaks as `\n`), anything else as compact JSON.
pub fn show(v: &Value) -> String {
    match v {
        Value::String(s) if s.is_empty() => "\"\"".to_owned(),
        Value::String(s) => s.replace('\r', "\\r").replace('\n', "\\n"),
        other => other.to_string(),
    }
}

/// `s` cut to at most `max_chars` characters, the last of them an ellipsis when it was cut.
pub fn shorten(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        return s.to_owned();
    }
    let mut cut: String = s.chars().take(max_chars.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// How a value is flattened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// A non-empty object: key by key.
    Object,
    /// A non-empty array holding an object or an array: item by item.
    Records,
    /// Anything else: one value.
    Value,
}

fn shape(v: &Value) -> Shape {
    match v {
        Value::Object(m) if !m.is_empty() => Shape::Object,
        Value::Array(items) if items.iter().any(|i| i.is_object() || i.is_array()) => {
            Shape::Records
        }
        _ => Shape::Value,
    }
}

fn key_path(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | ':' | '/' | '@'));
    match (plain, path.is_empty()) {
        (true, true) => key.to_owned(),
        (true, false) => format!("{path}.{key}"),
        (false, _) => format!("{path}[{}]", Value::String(key.to_owned())),
    }
}

fn walk(path: String, before: Option<&Value>, after: Option<&Value>, out: &mut Vec<FieldChange>) {
    let (b, a) = (before.map(shape), after.map(shape));
    if let (Some(b), Some(a)) = (b, a)
        && b != a
    {
        // A value that became a record (or the other way): what was there is removed, what is
        // there now added.
        walk(path.clone(), before, None, out);
        walk(path, None, after, out);
        return;
    }
    match b.or(a) {
        None => {}
        Some(Shape::Value) => {
            let kind = match (before, after) {
                (Some(x), Some(y)) if x == y => Kind::Unchanged,
                (Some(_), Some(_)) => Kind::Changed,
                (None, _) => Kind::Added,
                (_, None) => Kind::Removed,
            };
            out.push(FieldChange {
                path,
                kind,
                before: before.cloned(),
                after: after.cloned(),
            });
        }
        Some(Shape::Object) => {
            let all: std::collections::BTreeSet<&String> = [before, after]
                .into_iter()
                .flatten()
                .filter_map(Value::as_object)
                .flat_map(serde_json::Map::keys)
                .collect();
            for k in all {
                walk(
                    key_path(&path, k),
                    before.and_then(|v| v.get(k)),
                    after.and_then(|v| v.get(k)),
                    out,
                );
            }
        }
        Some(Shape::Records) => {
            let len = |v: Option<&Value>| v.and_then(Value::as_array).map_or(0, Vec::len);
            for i in 0..len(before).max(len(after)) {
                walk(
                    format!("{path}[{i}]"),
                    before.and_then(|v| v.get(i)),
                    after.and_then(|v| v.get(i)),
                    out,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn lines(before: &Value, after: &Value) -> Vec<String> {
        diff(before, after).iter().map(|c| c.line(80)).collect()
    }

    #[test]
    fn a_tick_after_an_untick_changes_done_and_who() {
        let before = json!({"done": false, "by": "alice", "note": "", "audit_seq": 3});
        let after = json!({"done": true, "by": "bob", "note": "staging is green", "audit_seq": 0});
        assert_eq!(
            lines(&before, &after),
            [
                "audit_seq: 3 -> 0",
                "by: alice -> bob",
                "done: false -> true",
                "note: \"\" -> staging is green",
            ]
        );
        // The summary puts the short changes first.
        assert_eq!(
            summary(&changes(&before, &after), 80),
            "by: alice -> bob · audit_seq: 3 -> 0 · done: false -> true · note: \"\" -> staging is \
             green"
        );
        let with_time = json!({"at": "2026-12-04T12:52:20.123456Z", "done": false});
        let now = json!({"at": "2026-12-05T09:00:01.654321Z", "done": true, "note": "ok"});
        assert_eq!(
            summary(&changes(&with_time, &now), 80),
            "done: false -> true · at: 2026-12-04T12:52:20.123456Z -> 2026-12-05T09:00:01.654321Z \
             · + note: ok"
        );
    }

    #[test]
    fn nothing_before_is_every_field_added_and_nothing_after_every_field_removed() {
        let state = json!({"done": true, "by": "alice"});
        let added = diff(&Value::Null, &state);
        assert!(added.iter().all(|c| c.kind == Kind::Added), "{added:?}");
        assert_eq!(lines(&Value::Null, &state), ["+ by: alice", "+ done: true"]);
        assert_eq!(lines(&state, &Value::Null), ["- by: alice", "- done: true"]);
        assert!(diff(&Value::Null, &Value::Null).is_empty());
    }

    #[test]
    fn nested_objects_are_dotted_paths_and_unchanged_fields_are_left_out_of_changes() {
        let before = json!({"gate": {"state": "open", "why": {"count": 2}}, "id": "x"});
        let after = json!({"gate": {"state": "blocked", "why": {"count": 2, "new": 1}}, "id": "x"});
        let all = diff(&before, &after);
        assert_eq!(
            all.iter()
                .map(|c| (c.path.as_str(), c.kind))
                .collect::<Vec<_>>(),
            [
                ("gate.state", Kind::Changed),
                ("gate.why.count", Kind::Unchanged),
                ("gate.why.new", Kind::Added),
                ("id", Kind::Unchanged),
            ]
        );
        assert_eq!(
            changes(&before, &after)
                .iter()
                .map(|c| c.line(80))
                .collect::<Vec<_>>(),
            ["gate.state: open -> blocked", "+ gate.why.new: 1"]
        );
    }

    #[test]
    fn lists_of_records_go_item_by_item_and_lists_of_values_are_one_value() {
        let before = json!({"files": [["a.json", "trivy", 3]], "tags": ["x"]});
        let after =
            json!({"files": [["a.json", "trivy", 3], ["b.json", "grype", 1]], "tags": ["x", "y"]});
        assert_eq!(
            lines(&before, &after),
            [
                "files[0]: [\"a.json\",\"trivy\",3]",
                "+ files[1]: [\"b.json\",\"grype\",1]",
                "tags: [\"x\"] -> [\"x\",\"y\"]",
            ]
        );
        // A revoked acceptance: a list of records before, nothing after.
        let gone = json!([{"id": "CVE-1", "reason": "not reachable"}]);
        assert_eq!(
            lines(&gone, &Value::Null),
            ["- [0].id: CVE-1", "- [0].reason: not reachable"]
        );
    }

    #[test]
    fn a_value_that_becomes_an_object_is_removed_and_its_fields_added() {
        assert_eq!(
            lines(&json!({"a": 5}), &json!({"a": {"x": 1}})),
            ["- a: 5", "+ a.x: 1"]
        );
        // Empty containers are values, not nothing.
        assert_eq!(lines(&json!({"a": {}}), &json!({"a": []})), ["a: {} -> []"]);
        // A plain value at the top.
        assert_eq!(lines(&json!("old"), &json!("new")), ["(value): old -> new"]);
    }

    #[test]
    fn odd_keys_are_quoted_and_strings_stay_on_one_line() {
        assert_eq!(
            lines(
                &Value::Null,
                &json!({"a.b": {"c d": "x\ny"}, "ok_key": null})
            ),
            ["+ [\"a.b\"][\"c d\"]: x\\ny", "+ ok_key: null"]
        );
    }

    #[test]
    fn long_values_are_cut_with_an_ellipsis() {
        assert_eq!(shorten("abcdef", 6), "abcdef");
        assert_eq!(shorten("abcdefg", 6), "abcde…");
        assert_eq!(shorten("ééééééé", 3), "éé…");
        let long = "x".repeat(200);
        let line = changes(&Value::Null, &json!({ "note": long }))[0].line(10);
        assert_eq!(line, "+ note: xxxxxxxxx…");
    }
}
