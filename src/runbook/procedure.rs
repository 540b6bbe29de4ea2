//! Procedures as data (`assets/runbooks/dr_*.toml`): the disaster-recovery runbooks. Each step
//! is one command (a program and its arguments, never a shell line) with `{param}` placeholders;
//! a destructive step names what the operator must type to confirm it; a step may run only when
//! a parameter says so. Rendering fills the parameters in and refuses anything left unset.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::RunbookError;

/// The built-in procedures: id, file name, text. A workspace may override one with
/// `runbooks/<file>`.
pub const BUILTIN: &[(&str, &str, &str)] = &[
    (
        "db-restore",
        "dr_database_restore.toml",
        include_str!("../../assets/runbooks/dr_database_restore.toml"),
    ),
    (
        "collab-drain",
        "dr_collaboration_drain.toml",
        include_str!("../../assets/runbooks/dr_collaboration_drain.toml"),
    ),
];

/// A procedure: parameters and the steps that use them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Procedure {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// Recovery time objective: the whole procedure, from its first step, should take less.
    pub rto_minutes: u64,
    /// Recovery point objective, for a procedure that restores a snapshot (a step with
    /// `restores_snapshot`): the snapshot should be younger than this when the restore begins.
    #[serde(default)]
    pub rpo_minutes: Option<u64>,
    #[serde(default)]
    pub params: Vec<Param>,
    pub steps: Vec<ProcStep>,
}

/// A parameter a step's command uses as `{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Param {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The value when none is given; it may use other parameters (`{instance}-restored`).
    /// No default: the operator must give one.
    pub default: Option<String>,
}

/// One step: a command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcStep {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub detail: String,
    /// The program and its arguments, each may hold `{param}` placeholders.
    pub run: Vec<String>,
    /// What the operator types to confirm a destructive step (e.g. `{deployment}`); `None`:
    /// the step changes nothing and needs no confirmation.
    pub confirm: Option<String>,
    /// Runs only when this parameter is `true` (e.g. a forced drain).
    pub only_if: Option<String>,
    /// The parameter naming the snapshot this step restores (`snapshot`): the snapshot's age
    /// when this step begins is measured against the procedure's RPO.
    #[serde(default)]
    pub restores_snapshot: Option<String>,
}

/// A step with its parameters filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rendered {
    pub id: String,
    pub title: String,
    pub detail: String,
    pub argv: Vec<String>,
    /// The text to type before it runs, for destructive steps.
    pub confirm: Option<String>,
    /// Why it is skipped (its `only_if` parameter is not `true`), if it is.
    pub skipped: Option<String>,
    /// The snapshot it restores (its `restores_snapshot` parameter's value), if it restores
    /// one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
}

impl Rendered {
    /// The command as a person would type it.
    pub fn command_line(&self) -> String {
        self.argv
            .iter()
            .map(|a| {
                if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "\"'$`\\".contains(c))
                {
                    format!("'{}'", a.replace('\'', r"'\''"))
                } else {
                    a.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn placeholders(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        out.push(&rest[open + 1..open + close]);
        rest = &rest[open + close + 1..];
    }
    out
}

fn fill(s: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = s.to_owned();
    for (k, v) in values {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

/// A parameter's value goes into a command's arguments as data: one that starts with `-`
/// would be read as an option (`--all` for a deployment's name drains every deployment),
/// control characters (a newline, NUL) have no place in a name, and `{`/`}` would make a
/// placeholder of it, so all are refused, naming the parameter.
pub fn check_value(name: &str, value: &str) -> Result<(), String> {
    if value.starts_with('-') {
        return Err(format!(
            "parameter {name:?} is {value:?}, which starts with `-`: the command would read it \
             as an option, so it is refused (give the {name} itself)"
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(format!(
            "parameter {name:?} holds a control character (a newline, tab or NUL): give it on \
             one line, as plain text"
        ));
    }
    // Filled in one parameter after another, a value holding `{other}` would become the other
    // parameter's value (or stay a placeholder): what runs would not be what was given.
    if value.contains(['{', '}']) {
        return Err(format!(
            "parameter {name:?} is {value:?}, which holds `{{` or `}}`: placeholders belong to \
             the procedure, not to a value (give the {name} itself)"
        ));
    }
    Ok(())
}

/// Whether a parameter's value turns an `only_if` step on.
fn is_true(v: &str) -> bool {
    matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "yes" | "1")
}

impl Procedure {
    /// Parses and validates procedure TOML; `source_name` names it in errors.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, RunbookError> {
        let err = |message: String| RunbookError {
            source_name: source_name.to_owned(),
            message,
        };
        let p: Procedure = super::parse_toml(text, source_name)?;
        if p.steps.is_empty() {
            return Err(err("a procedure needs at least one step".into()));
        }
        let known: Vec<&str> = p.params.iter().map(|x| x.name.as_str()).collect();
        for (i, param) in p.params.iter().enumerate() {
            if known[..i].contains(&param.name.as_str()) {
                return Err(err(format!("parameter {:?} is declared twice", param.name)));
            }
        }
        let check = |what: &str, text: &str| -> Result<(), RunbookError> {
            match placeholders(text).into_iter().find(|n| !known.contains(n)) {
                Some(unknown) => Err(err(format!(
                    "{what} uses {{{unknown}}}, which is not a parameter (known: {})",
                    known.join(", ")
                ))),
                None => Ok(()),
            }
        };
        for param in &p.params {
            if let Some(d) = &param.default {
                check(&format!("parameter {:?}'s default", param.name), d)?;
            }
        }
        let file_safe = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        if !file_safe(&p.id) {
            return Err(err(format!("id {:?}: use letters, digits, - and _", p.id)));
        }
        let mut ids: Vec<&str> = Vec::new();
        for step in &p.steps {
            if !file_safe(&step.id) {
                return Err(err(format!(
                    "step id {:?}: use letters, digits, - and _",
                    step.id
                )));
            }
            if ids.contains(&step.id.as_str()) {
                return Err(err(format!("step id {:?} is used twice", step.id)));
            }
            ids.push(&step.id);
            if step.run.is_empty() || step.run[0].trim().is_empty() {
                return Err(err(format!("step {:?} has no command", step.id)));
            }
            for a in &step.run {
                check(&format!("step {:?}", step.id), a)?;
            }
            if let Some(c) = &step.confirm {
                check(&format!("step {:?}'s confirm", step.id), c)?;
            }
            check(&format!("step {:?}'s detail", step.id), &step.detail)?;
            if let Some(o) = &step.only_if
                && !known.contains(&o.as_str())
            {
                return Err(err(format!(
                    "step {:?}: only_if names {o:?}, which is not a parameter",
                    step.id
                )));
            }
            if let Some(o) = &step.restores_snapshot
                && !known.contains(&o.as_str())
            {
                return Err(err(format!(
                    "step {:?}: restores_snapshot names {o:?}, which is not a parameter",
                    step.id
                )));
            }
        }
        Ok(p)
    }

    /// Loads procedure `id`: `<workspace>/runbooks/<file>` when present, else the built-in one.
    pub fn load(id: &str, workspace_root: &std::path::Path) -> Result<Self, RunbookError> {
        let (text, source) = super::builtin_or_own("procedure", id, BUILTIN, workspace_root)?;
        Self::parse(&text, &source)
    }

    /// Every parameter's value: `given`, else its default (defaults may use other values).
    /// Unknown names, parameters without a value and values [`check_value`] refuses are
    /// errors naming them.
    pub fn values(
        &self,
        given: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, String> {
        self.check_given(given)?;
        let values = self.known_values(given);
        let missing: Vec<&str> = self
            .params
            .iter()
            .filter(|p| !values.contains_key(&p.name))
            .map(|p| p.name.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "{}: give {} (--param NAME=VALUE)",
                self.id,
                missing
                    .iter()
                    .map(|m| format!("{m:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for (name, value) in &values {
            check_value(name, value).map_err(|e| format!("{}: {e}", self.id))?;
        }
        Ok(values)
    }

    /// Whether every name in `given` is a parameter and every value one [`check_value`]
    /// accepts (missing values are not checked: a preview shows where they go).
    pub fn check_given(&self, given: &BTreeMap<String, String>) -> Result<(), String> {
        if let Some(unknown) = given
            .keys()
            .find(|k| !self.params.iter().any(|p| &p.name == *k))
        {
            return Err(format!(
                "{}: no parameter {unknown:?} (parameters: {})",
                self.id,
                self.params
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for (name, value) in given {
            check_value(name, value.trim()).map_err(|e| format!("{}: {e}", self.id))?;
        }
        Ok(())
    }

    /// The values that are known so far: `given` and every default that can be filled in. A
    /// step rendered with them keeps `{name}` for what is still missing (for a preview); a
    /// value [`check_value`] refuses is missing too, so no step can run with it.
    pub fn known_values(&self, given: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let (mut values, refused): (BTreeMap<String, String>, BTreeMap<String, String>) = given
            .iter()
            .filter(|(k, v)| !v.trim().is_empty() && self.params.iter().any(|p| &p.name == *k))
            .map(|(k, v)| (k.clone(), v.trim().to_owned()))
            .partition(|(k, v)| check_value(k, v).is_ok());
        // Defaults may refer to each other; fill them in until nothing changes.
        for _ in 0..=self.params.len() {
            for p in &self.params {
                // A refused value does not fall back to the default: the operator meant another.
                if values.contains_key(&p.name) || refused.contains_key(&p.name) {
                    continue;
                }
                if let Some(d) = &p.default
                    && placeholders(d).iter().all(|n| values.contains_key(*n))
                {
                    let value = fill(d, &values);
                    if check_value(&p.name, &value).is_ok() {
                        values.insert(p.name.clone(), value);
                    }
                }
            }
        }
        values
    }

    /// Every step with `values` filled in.
    pub fn render(&self, values: &BTreeMap<String, String>) -> Vec<Rendered> {
        self.steps
            .iter()
            .map(|s| Rendered {
                id: s.id.clone(),
                title: s.title.clone(),
                detail: fill(&s.detail, values),
                argv: s.run.iter().map(|a| fill(a, values)).collect(),
                confirm: s.confirm.as_ref().map(|c| fill(c, values)),
                skipped: s.only_if.as_ref().and_then(|p| {
                    (!values.get(p).is_some_and(|v| is_true(v)))
                        .then(|| format!("runs only with {p}=true"))
                }),
                snapshot: s
                    .restores_snapshot
                    .as_ref()
                    .map(|p| fill(&format!("{{{p}}}"), values)),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_procedures_parse_and_render_with_their_defaults() {
        for (id, file, text) in BUILTIN {
            let p = Procedure::parse(text, file).expect("parses");
            assert_eq!(&p.id, id);
        }
        let drain = Procedure::parse(BUILTIN[1].2, "drain").expect("drain");
        let values = drain.values(&BTreeMap::new()).expect("defaults");
        let steps = drain.render(&values);
        assert_eq!(
            steps[0].command_line(),
            "kubectl --namespace default scale deployment wiretuner-collaboration --replicas=0"
        );
        assert_eq!(steps[0].confirm.as_deref(), Some("wiretuner-collaboration"));
        assert!(steps.iter().any(|s| s.skipped.is_some()));
    }

    #[test]
    fn a_missing_parameter_an_unknown_one_and_a_bad_placeholder_are_named() {
        let restore = Procedure::parse(BUILTIN[0].2, "restore").expect("restore");
        let e = restore
            .values(&BTreeMap::new())
            .expect_err("snapshot has no default");
        assert!(e.contains("\"snapshot\""), "{e}");
        let mut given = BTreeMap::new();
        given.insert("snapshots".to_owned(), "x".to_owned());
        let e = restore.values(&given).expect_err("unknown");
        assert!(e.contains("no parameter \"snapshots\""), "{e}");
        let bad = "id='x'\ntitle='X'\nrto_minutes=1\n[[steps]]\nid='a'\ntitle='A'\nrun=['echo','{nope}']\n";
        let e = Procedure::parse(bad, "bad.toml").expect_err("bad placeholder");
        assert!(e.to_string().contains("{nope}"), "{e}");
    }

    #[test]
    fn a_value_that_would_be_read_as_an_option_is_refused_naming_the_parameter() {
        let drain = Procedure::parse(BUILTIN[1].2, "drain").expect("drain");
        for bad in ["--all", "-A", "-"] {
            let mut given = BTreeMap::new();
            given.insert("deployment".to_owned(), bad.to_owned());
            let e = drain.values(&given).expect_err("refused");
            assert!(e.contains("parameter \"deployment\""), "{e}");
            assert!(e.contains("starts with `-`"), "{e}");
        }
        let mut given = BTreeMap::new();
        given.insert("namespace".to_owned(), "prod\nkube-system".to_owned());
        let e = drain.values(&given).expect_err("refused");
        assert!(e.contains("parameter \"namespace\""), "{e}");
        // A placeholder inside a value is refused: filled in after it, `{namespace}` would
        // become the namespace (and `{deployment}` stay as it is, or not, by the names' order).
        for bad in ["{namespace}", "collab-{force}", "}"] {
            let mut given = BTreeMap::new();
            given.insert("deployment".to_owned(), bad.to_owned());
            let e = drain.values(&given).expect_err("refused");
            assert!(
                e.contains("parameter \"deployment\"") && e.contains("`{`"),
                "{e}"
            );
        }
        // A dash inside a name is fine.
        let mut given = BTreeMap::new();
        given.insert("deployment".to_owned(), "collab-v2".to_owned());
        let steps = drain.render(&drain.values(&given).expect("fine"));
        assert!(steps[0].argv.contains(&"collab-v2".to_owned()));
        // The preview (the Runbooks view) leaves a refused value unset, so its step cannot run.
        let mut given = BTreeMap::new();
        given.insert("deployment".to_owned(), "--all".to_owned());
        let steps = drain.render(&drain.known_values(&given));
        assert!(
            steps[0].argv.contains(&"{deployment}".to_owned()),
            "{steps:?}"
        );
    }

    #[test]
    fn quoting_shows_the_exact_arguments() {
        let r = Rendered {
            id: "a".into(),
            title: "A".into(),
            detail: String::new(),
            argv: vec!["echo".into(), "two words".into(), "it's".into()],
            confirm: None,
            skipped: None,
            snapshot: None,
        };
        assert_eq!(r.command_line(), r"echo 'two words' 'it'\''s'");
    }
}
