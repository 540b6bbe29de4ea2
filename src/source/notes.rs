//! Release notes drafted from the history: each commit's conventional-commit type
//! (`feat(scope)!: ...`, `BREAKING CHANGE:` in the body), grouped breaking changes first, then
//! features, fixes, performance and the rest, with pull requests' titles and numbers when GitHub
//! knows them, and the authors credited.

use serde::Serialize;

/// A commit as the notes read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoteCommit {
    pub sha: String,
    pub author: String,
    pub subject: String,
    pub body: String,
}

/// A merged pull request a commit came in with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PullRequest {
    pub number: u64,
    pub title: String,
    pub url: String,
}

/// The groups of the notes, in the order they are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    Breaking,
    Features,
    Fixes,
    Performance,
    Other,
}

impl Group {
    pub const ALL: [Group; 5] = [
        Group::Breaking,
        Group::Features,
        Group::Fixes,
        Group::Performance,
        Group::Other,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Group::Breaking => "Breaking changes",
            Group::Features => "Features",
            Group::Fixes => "Fixes",
            Group::Performance => "Performance",
            Group::Other => "Other changes",
        }
    }
}

/// A subject read as a conventional commit: `type(scope)!: description`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conventional<'a> {
    pub kind: &'a str,
    pub scope: Option<&'a str>,
    pub breaking: bool,
    pub description: &'a str,
}

/// Reads `subject` as a conventional commit, or `None` when it is not one.
pub fn parse_conventional(subject: &str) -> Option<Conventional<'_>> {
    let (head, description) = subject.split_once(':')?;
    let description = description.trim();
    let (head, breaking) = match head.strip_suffix('!') {
        Some(h) => (h, true),
        None => (head, false),
    };
    let (kind, scope) = match head.split_once('(') {
        Some((k, rest)) => (k, Some(rest.strip_suffix(')')?.trim())),
        None => (head, None),
    };
    let kind_ok = !kind.is_empty() && kind.chars().all(|c| c.is_ascii_alphanumeric());
    (kind_ok && !description.is_empty()).then_some(Conventional {
        kind,
        scope: scope.filter(|s| !s.is_empty()),
        breaking,
        description,
    })
}

/// One line of the notes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub group: Group,
    pub scope: Option<String>,
    pub text: String,
    /// The commits it stands for (short hashes).
    pub commits: Vec<String>,
    pub pull_request: Option<PullRequest>,
    pub authors: Vec<String>,
}

fn group_of(c: Option<&Conventional<'_>>, body: &str) -> Group {
    let breaking_body = body
        .lines()
        .any(|l| l.starts_with("BREAKING CHANGE:") || l.starts_with("BREAKING-CHANGE:"));
    match c {
        _ if breaking_body => Group::Breaking,
        Some(c) if c.breaking => Group::Breaking,
        Some(c) => match c.kind.to_ascii_lowercase().as_str() {
            "feat" | "feature" => Group::Features,
            "fix" | "bugfix" | "hotfix" => Group::Fixes,
            "perf" => Group::Performance,
            _ => Group::Other,
        },
        None => Group::Other,
    }
}

fn short(sha: &str) -> String {
    sha.chars().take(7).collect()
}

/// The entries of the notes: one per merged pull request (its title, typed by its own
/// conventional prefix or its first commit's), one per commit that came in without one.
/// `prs[i]` is what GitHub said of `commits[i]`.
pub fn entries(commits: &[NoteCommit], prs: &[Option<PullRequest>]) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    for (i, c) in commits.iter().enumerate() {
        let pr = prs.get(i).cloned().flatten();
        if let Some(pr) = &pr
            && let Some(e) = out.iter_mut().find(|e| {
                e.pull_request
                    .as_ref()
                    .is_some_and(|p| p.number == pr.number)
            })
        {
            e.commits.push(short(&c.sha));
            if !e.authors.contains(&c.author) {
                e.authors.push(c.author.clone());
            }
            let g = group_of(parse_conventional(&c.subject).as_ref(), &c.body);
            e.group = e.group.min(g);
            continue;
        }
        let commit_conv = parse_conventional(&c.subject);
        let (group, scope, text) = match &pr {
            Some(pr) => {
                let pr_conv = parse_conventional(&pr.title);
                let group =
                    group_of(pr_conv.as_ref(), "").min(group_of(commit_conv.as_ref(), &c.body));
                let group = if pr_conv.is_none() && commit_conv.is_none() {
                    Group::Other.min(group_of(None, &c.body))
                } else {
                    group
                };
                let scope = pr_conv
                    .as_ref()
                    .and_then(|p| p.scope)
                    .or(commit_conv.as_ref().and_then(|p| p.scope));
                let text = pr_conv
                    .as_ref()
                    .map_or(pr.title.as_str(), |p| p.description);
                (group, scope.map(str::to_owned), text.to_owned())
            }
            None => (
                group_of(commit_conv.as_ref(), &c.body),
                commit_conv
                    .as_ref()
                    .and_then(|p| p.scope)
                    .map(str::to_owned),
                commit_conv
                    .as_ref()
                    .map_or(c.subject.as_str(), |p| p.description)
                    .to_owned(),
            ),
        };
        out.push(Entry {
            group,
            scope,
            text,
            commits: vec![short(&c.sha)],
            pull_request: pr,
            authors: vec![c.author.clone()],
        });
    }
    out
}

/// Markdown-escapes text taken from commits, so a subject cannot add links, images or HTML.
pub fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if "\\`*_[]<>|~&".contains(ch) {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// The draft's Markdown.
pub fn render(product: &str, version: &str, from: &str, entries: &[Entry]) -> String {
    let mut md = format!(
        "# {} {}\n\n",
        escape_markdown(product),
        escape_markdown(version)
    );
    if entries.is_empty() {
        md.push_str(&format!("No changes since {}.\n", escape_markdown(from)));
        return md;
    }
    md.push_str(&format!("Changes since {}.\n", escape_markdown(from)));
    for group in Group::ALL {
        let mine: Vec<&Entry> = entries.iter().filter(|e| e.group == group).collect();
        if mine.is_empty() {
            continue;
        }
        md.push_str(&format!("\n## {}\n\n", group.title()));
        for e in mine {
            let scope = e
                .scope
                .as_ref()
                .map_or_else(String::new, |s| format!("**{}:** ", escape_markdown(s)));
            let reference = match &e.pull_request {
                Some(pr) if pr.url.starts_with("https://") || pr.url.starts_with("http://") => {
                    format!("[#{}]({})", pr.number, pr.url.replace(['(', ')', ' '], ""))
                }
                Some(pr) => format!("#{}", pr.number),
                None => e.commits.join(", "),
            };
            md.push_str(&format!(
                "- {scope}{} ({reference})\n",
                escape_markdown(&e.text)
            ));
        }
    }
    let mut authors: Vec<&str> = Vec::new();
    for a in entries.iter().flat_map(|e| &e.authors) {
        if !authors.contains(&a.as_str()) {
            authors.push(a);
        }
    }
    md.push_str(&format!(
        "\nThanks to {}.\n",
        authors
            .iter()
            .map(|a| escape_markdown(a))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(sha: &str, author: &str, subject: &str, body: &str) -> NoteCommit {
        NoteCommit {
            sha: sha.repeat(40 / sha.len()),
            author: author.into(),
            subject: subject.into(),
            body: body.into(),
        }
    }

    #[test]
    fn conventional_subjects_are_read_and_others_are_not() {
        let c = parse_conventional("feat(export)!: SVG layers").expect("conventional");
        assert_eq!(
            (c.kind, c.scope, c.breaking, c.description),
            ("feat", Some("export"), true, "SVG layers")
        );
        assert!(parse_conventional("Merge branch 'x': y").is_none());
        assert!(parse_conventional("fix:").is_none());
        assert_eq!(parse_conventional("fix: a").map(|c| c.kind), Some("fix"));
    }

    #[test]
    fn breaking_changes_come_first_then_features_fixes_performance_other() {
        let commits = [
            commit("a", "Ann", "chore: bump", ""),
            commit("b", "Bob", "perf: faster paths", ""),
            commit("c", "Cy", "fix(ui): crash on <script>", ""),
            commit("d", "Ann", "feat: pen tool", ""),
            commit(
                "e",
                "Di",
                "refactor: storage",
                "BREAKING CHANGE: file format 2",
            ),
        ];
        let md = render("WireTuner", "0.2.0", "v0.1.0", &entries(&commits, &[]));
        let pos = |s: &str| md.find(s).unwrap_or_else(|| panic!("{s} in {md}"));
        assert!(pos("## Breaking") < pos("## Features"));
        assert!(pos("## Features") < pos("## Fixes"));
        assert!(pos("## Fixes") < pos("## Performance"));
        assert!(pos("## Performance") < pos("## Other"));
        assert!(md.contains("**ui:** crash on \\<script\\>"), "{md}");
        assert!(md.contains("Thanks to Ann, Bob, Cy, Di."), "{md}");
    }

    #[test]
    fn commits_of_one_pull_request_are_one_entry_with_its_title() {
        let commits = [
            commit("a", "Ann", "fix: part one", ""),
            commit("b", "Bob", "fix: part two", ""),
        ];
        let pr = PullRequest {
            number: 42,
            title: "fix(export): PDF margins".into(),
            url: "https://github.com/o/r/pull/42".into(),
        };
        let e = entries(&commits, &[Some(pr.clone()), Some(pr)]);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].text, "PDF margins");
        assert_eq!(e[0].authors, ["Ann", "Bob"]);
        let md = render("W", "1.0.1", "v1.0.0", &e);
        assert!(
            md.contains("- **export:** PDF margins ([#42](https://github.com/o/r/pull/42))"),
            "{md}"
        );
    }
}
