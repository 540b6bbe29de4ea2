//! Releases that know their source (issue 29), through the CLI against real git repositories
//! made here: a hotfix branch cut from the release tag (a missing tag, a branch with other
//! commits refused), the hotfix's commits with a `feat` commit and a big diff flagged, the
//! merge back by patch id (a cherry-pick and a merge), annotated tags, and release notes from
//! the history with merged pull requests from a GitHub fake that Prism checks against
//! `@octokit/openapi`.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use crate::common::{cli, cli_with, init, ok, text};
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// `git ARGS` in `dir`, which must succeed; its stdout.
pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Writes `file` in `repo` and commits it as `author` with `message`; returns the commit.
pub(crate) fn commit(
    repo: &Path,
    author: &str,
    file: &str,
    content: &str,
    message: &str,
) -> String {
    let path = repo.join(file);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("dir");
    }
    std::fs::write(&path, content).expect("write");
    git(repo, &["add", "--", file]);
    let email = format!("{}@wiretuner.test", author.to_lowercase().replace(' ', "."));
    git(
        repo,
        &[
            "-c",
            &format!("user.name={author}"),
            "-c",
            &format!("user.email={email}"),
            "commit",
            "-q",
            "-m",
            message,
        ],
    );
    git(repo, &["rev-parse", "HEAD"])
}

/// A workspace with `[source]` on a new repository `product/` that has release 0.1.0 tagged
/// `v0.1.0` (annotated) and two more commits on main; release 0.1.0 exists in the workspace.
fn setup(extra_config: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().expect("tmp");
    let ws = dir.path().join("ws");
    init(&ws);
    let repo = ws.join("product");
    std::fs::create_dir_all(&repo).expect("repo");
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["config", "user.name", "Release Manager"]);
    git(&repo, &["config", "user.email", "rm@wiretuner.test"]);
    commit(
        &repo,
        "Ann Lee",
        "src/app.txt",
        "app 0.1.0\n",
        "feat: pen tool",
    );
    git(&repo, &["tag", "-a", "v0.1.0", "-m", "WireTuner 0.1.0"]);
    commit(
        &repo,
        "Bob Ray",
        "src/export.txt",
        "svg\n",
        "feat(export): SVG layers",
    );
    commit(
        &repo,
        "Ann Lee",
        "docs/readme.txt",
        "docs\n",
        "docs: readme",
    );
    let cfg = ws.join("release-console.toml");
    let mut toml = std::fs::read_to_string(&cfg).expect("config");
    toml.push_str(&format!("\n[source]\nrepo = \"product\"\n{extra_config}"));
    std::fs::write(&cfg, toml).expect("config");
    let o = cli(&ws, &["release", "new", "0.1.0"]);
    ok(&o);
    (dir, ws, repo)
}

fn json_of(o: &std::process::Output) -> Value {
    assert!(o.status.success(), "{}", text(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

fn checklist_item(ws: &Path, version: &str, item: &str) -> Value {
    let path = ws.join("releases").join(version).join("checklist.json");
    let list: Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|_| "{}".into()))
            .expect("checklist");
    list["items"][item].clone()
}

fn audit_actions(ws: &Path) -> Vec<String> {
    let o = cli(ws, &["--json", "audit", "list"]);
    let v = json_of(&o);
    let entries = v
        .as_array()
        .cloned()
        .or_else(|| v["entries"].as_array().cloned());
    entries
        .unwrap_or_default()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["action"].as_str().unwrap_or(""),
                e["target"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[test]
fn source_config_errors_name_the_file_line_and_key() {
    let dir = tempfile::tempdir().expect("tmp");
    let ws = dir.path().join("ws");
    init(&ws);
    let cfg = ws.join("release-console.toml");
    let original = std::fs::read_to_string(&cfg).expect("config");
    for (extra, key) in [
        (
            "[source]\nrepo = \"p\"\ntag_format = \"release\"\n",
            "source.tag_format",
        ),
        (
            "[source]\nrepo = \"p\"\nmain_branch = \"-main\"\n",
            "source.main_branch",
        ),
        (
            "[source]\nrepo = \"p\"\nfeature_pattern = \"(feat\"\n",
            "source.feature_pattern",
        ),
        (
            "[source]\nrepo = \"p\"\n\n[source.github]\nrepo = \"nope\"\n",
            "source.github.repo",
        ),
        (
            "[source]\nrepo = \"p\"\n\n[source.github]\nrepo = \"o/r\"\ntoken_env = \"ghp_x\"\n",
            "source.github.token_env",
        ),
        ("[source]\nrepo = \"p\"\nbranch = \"x\"\n", "source.branch"),
    ] {
        std::fs::write(&cfg, format!("{original}\n{extra}")).expect("config");
        let o = cli(&ws, &["release", "list"]);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(2), "{out}");
        let line = original.lines().count() + 1 + extra.lines().count();
        assert!(
            out.contains(&format!("release-console.toml:{line}:")),
            "{key} at {line}: {out}"
        );
        assert!(out.contains(&format!("`{key}`")), "{key}: {out}");
        assert!(
            !out.contains("ghp_x"),
            "the value of a *_env key is not shown: {out}"
        );
    }
}

#[test]
fn a_hotfix_is_cut_from_the_tag_reviewed_merged_back_and_tagged() {
    let (_dir, ws, repo) = setup("max_hotfix_commit_lines = 100\n");
    let tag_commit = git(&repo, &["rev-parse", "v0.1.0^{commit}"]);

    // A hotfix of a release whose tag is missing is refused, naming the tag, and creates nothing.
    assert!(cli(&ws, &["release", "new", "0.2.0"]).status.success());
    let o = cli(&ws, &["release", "new", "0.2.1", "--hotfix-of", "0.2.0"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("tag v0.2.0 (of release 0.2.0) is not in"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("tags there: v0.1.0"), "{}", text(&o));
    assert!(!ws.join("releases/0.2.1").exists());

    // A branch that already exists with other commits is refused, naming them.
    git(&repo, &["branch", "hotfix/v0.1.2", "v0.1.0"]);
    git(&repo, &["checkout", "-q", "hotfix/v0.1.2"]);
    let stray = commit(&repo, "Cy Ng", "src/stray.txt", "x\n", "wip: stray work");
    git(&repo, &["checkout", "-q", "main"]);
    let o = cli(&ws, &["release", "new", "0.1.2", "--hotfix-of", "0.1.0"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("branch hotfix/v0.1.2 already exists with 1 commit(s) that are not on tag v0.1.0: {} wip: stray work", &stray[..10])),
        "{}",
        text(&o)
    );
    assert!(!ws.join("releases/0.1.2").exists());

    // The hotfix: branched from the tag's commit, not main's head, and ticked with it.
    let h = json_of(&cli(
        &ws,
        &["--json", "release", "new", "0.1.1", "--hotfix-of", "0.1.0"],
    ));
    assert_eq!(h["branch"], "hotfix/v0.1.1");
    assert_eq!(h["commit"], tag_commit.as_str());
    assert_eq!(h["ticks"]["ticked"], json!(["hotfix.branch"]));
    assert_eq!(git(&repo, &["rev-parse", "hotfix/v0.1.1"]), tag_commit);
    let item = checklist_item(&ws, "0.1.1", "hotfix.branch");
    assert_eq!(item["done"], true);
    assert!(
        item["note"].as_str().unwrap_or("").contains(&tag_commit),
        "{item}"
    );
    let actions = audit_actions(&ws);
    let branch_at = actions
        .iter()
        .position(|a| a == "source.branch 0.1.1")
        .expect("source.branch audited");
    let tick_at = actions
        .iter()
        .position(|a| a == "checklist.tick 0.1.1/hotfix.branch")
        .expect("tick audited");
    assert!(branch_at < tick_at, "{actions:?}");

    // Three commits on the branch: a fix, a `feat`, and a big diff.
    git(&repo, &["checkout", "-q", "hotfix/v0.1.1"]);
    let fix = commit(
        &repo,
        "Ann Lee",
        "src/app.txt",
        "app 0.1.1\nfixed crash\n",
        "fix: crash when opening an empty file",
    );
    let feat = commit(
        &repo,
        "Bob Ray",
        "src/brush.txt",
        "brush\n",
        "feat: brush tool",
    );
    let big = "line\n".repeat(150);
    let bulky = commit(
        &repo,
        "Ann Lee",
        "src/table.txt",
        &big,
        "fix: rebuild the lookup table",
    );
    git(&repo, &["checkout", "-q", "main"]);

    let r = json_of(&cli(&ws, &["--json", "release", "hotfix", "0.1.1"]));
    let commits = r["commits"].as_array().expect("commits");
    assert_eq!(commits.len(), 3, "{r}");
    assert_eq!(commits[0]["sha"], fix.as_str());
    assert_eq!(commits[0]["files"][0]["path"], "src/app.txt");
    assert_eq!(commits[0]["files"][0]["added"], 2);
    assert_eq!(commits[0]["files"][0]["deleted"], 1);
    assert_eq!(commits[0]["flags"], json!([]));
    assert!(
        commits[1]["flags"][0]
            .as_str()
            .unwrap_or("")
            .contains("feature pattern"),
        "{r}"
    );
    assert_eq!(commits[2]["lines"], 150);
    assert!(
        commits[2]["flags"][0]
            .as_str()
            .unwrap_or("")
            .contains("150 lines changed, over the 100"),
        "{r}"
    );
    assert_eq!(r["merged_back"], false);
    let o = cli(&ws, &["release", "hotfix", "0.1.1"]);
    let out = text(&o);
    assert!(
        out.contains("fast-track review must look at 2 commit(s)"),
        "{out}"
    );
    assert!(
        out.contains(&format!("{} feat: brush tool", &feat[..10])),
        "{out}"
    );
    assert!(out.contains("not merged back: 3 of 3"), "{out}");
    assert_eq!(
        checklist_item(&ws, "0.1.1", "hotfix.merge-back"),
        Value::Null
    );

    // The fix cherry-picked onto main (another commit, the same patch id): one on main.
    git(&repo, &["cherry-pick", "-x", &fix]);
    assert_ne!(git(&repo, &["rev-parse", "HEAD"]), fix);
    let r = json_of(&cli(&ws, &["--json", "release", "hotfix", "0.1.1"]));
    let on_main: Vec<bool> = r["commits"]
        .as_array()
        .expect("c")
        .iter()
        .map(|c| c["on_main"] == true)
        .collect();
    assert_eq!(on_main, [true, false, false], "{r}");
    assert_eq!(r["merged_back"], false);

    // The rest merged: every commit is on main, and the item ticks itself.
    git(
        &repo,
        &[
            "-c",
            "user.name=RM",
            "-c",
            "user.email=rm@x",
            "merge",
            "-q",
            "--no-ff",
            "-m",
            "Merge hotfix/v0.1.1",
            "hotfix/v0.1.1",
        ],
    );
    let r = json_of(&cli(&ws, &["--json", "release", "hotfix", "0.1.1"]));
    assert_eq!(r["merged_back"], true, "{r}");
    assert_eq!(r["ticks"]["ticked"], json!(["hotfix.merge-back"]));
    let item = checklist_item(&ws, "0.1.1", "hotfix.merge-back");
    assert!(
        item["note"]
            .as_str()
            .unwrap_or("")
            .contains("all 3 commit(s) of hotfix/v0.1.1 are on main"),
        "{item}"
    );

    // The tag: annotated, at the branch head since no build recorded a commit.
    let o = cli(&ws, &["release", "tag", "0.1.1"]);
    ok(&o);
    assert!(
        text(&o).contains("no build recorded its commit"),
        "{}",
        text(&o)
    );
    assert_eq!(git(&repo, &["cat-file", "-t", "v0.1.1"]), "tag");
    assert_eq!(git(&repo, &["rev-parse", "v0.1.1^{commit}"]), bulky);
    assert!(audit_actions(&ws).contains(&"source.tag 0.1.1".to_owned()));
    // Again: the tag is there at that commit; nothing changes.
    let o = cli(&ws, &["release", "tag", "0.1.1"]);
    assert!(text(&o).contains("already at"), "{}", text(&o));
    // The branch moves on: the tag at the old commit is refused, naming both.
    git(&repo, &["checkout", "-q", "hotfix/v0.1.1"]);
    let later = commit(&repo, "Ann Lee", "src/app.txt", "later\n", "fix: later");
    git(&repo, &["checkout", "-q", "main"]);
    let o = cli(&ws, &["release", "tag", "0.1.1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains(&format!(
            "tag v0.1.1 already exists at {bulky}, not at {later}"
        )),
        "{}",
        text(&o)
    );
}

/// `--push` sends the hotfix branch and the release tag to `[source] remote`, a bare
/// repository made here; without it nothing leaves the clone, and a remote that has the tag at
/// another commit refuses the push, audited as failed.
#[test]
fn the_hotfix_branch_and_the_tag_are_pushed_to_the_remote_only_when_asked() {
    let (dir, ws, repo) = setup("");
    let bare = dir.path().join("origin.git");
    git(dir.path(), &["init", "-q", "--bare", "origin.git"]);
    git(
        &repo,
        &["remote", "add", "origin", &bare.display().to_string()],
    );
    let tag_commit = git(&repo, &["rev-parse", "v0.1.0^{commit}"]);
    let remote_refs = || git(&bare, &["for-each-ref", "--format=%(refname)"]);

    // The hotfix branch, pushed as it is cut.
    let h = json_of(&cli(
        &ws,
        &[
            "--json",
            "release",
            "new",
            "0.1.1",
            "--hotfix-of",
            "0.1.0",
            "--push",
        ],
    ));
    assert_eq!(h["pushed"], "origin", "{h}");
    assert_eq!(
        git(&bare, &["rev-parse", "refs/heads/hotfix/v0.1.1"]),
        tag_commit
    );
    assert!(audit_actions(&ws).contains(&"source.push 0.1.1".to_owned()));
    git(&repo, &["checkout", "-q", "hotfix/v0.1.1"]);
    let fix = commit(&repo, "Ann Lee", "src/app.txt", "fixed\n", "fix: crash");
    git(&repo, &["checkout", "-q", "main"]);

    // A tag without --push stays in the clone.
    ok(&cli(&ws, &["release", "tag", "0.1.1"]));
    assert_eq!(git(&repo, &["rev-parse", "v0.1.1^{commit}"]), fix);
    assert!(
        !remote_refs().contains("refs/tags/v0.1.1"),
        "{}",
        remote_refs()
    );

    // The remote has v0.1.1 at another commit: the push is refused, in git's words, audited.
    git(&bare, &["tag", "v0.1.1", &tag_commit]);
    let o = cli(&ws, &["release", "tag", "0.1.1", "--push"]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("git push"), "{}", text(&o));
    assert!(text(&o).contains("v0.1.1"), "{}", text(&o));
    assert_eq!(git(&bare, &["rev-parse", "v0.1.1^{commit}"]), tag_commit);
    assert!(audit_actions(&ws).contains(&"source.push.failed 0.1.1".to_owned()));

    // That tag gone from the remote: the existing tag is pushed, annotated, at the fix.
    git(&bare, &["tag", "-d", "v0.1.1"]);
    let o = cli(&ws, &["release", "tag", "0.1.1", "--push"]);
    ok(&o);
    assert!(
        text(&o).contains(&format!("tag v0.1.1 already at {fix}"))
            && text(&o).contains("pushed to origin"),
        "{}",
        text(&o)
    );
    assert_eq!(git(&bare, &["cat-file", "-t", "refs/tags/v0.1.1"]), "tag");
    assert_eq!(git(&bare, &["rev-parse", "v0.1.1^{commit}"]), fix);
}

#[test]
fn git_in_the_callers_environment_does_not_redirect_the_console() {
    let (dir, ws, repo) = setup("");
    // GIT_DIR naming another repository must not make the console branch that one.
    let other = dir.path().join("other");
    std::fs::create_dir_all(&other).expect("other");
    git(&other, &["init", "-q", "-b", "main"]);
    let o = cli_with(
        &ws,
        &[("GIT_DIR", other.join(".git").to_str().expect("utf-8"))],
        &["release", "new", "0.1.1", "--hotfix-of", "0.1.0"],
    );
    ok(&o);
    assert!(!git(&repo, &["branch", "--list", "hotfix/v0.1.1"]).is_empty());
}

#[test]
fn notes_are_drafted_from_the_history_grouped_and_saved() {
    let (_dir, ws, repo) = setup("");
    commit(
        &repo,
        "Di Park",
        "src/render.txt",
        "fast\n",
        "perf(render): cache glyphs",
    );
    commit(
        &repo,
        "Ann Lee",
        "src/file.txt",
        "v2\n",
        "refactor: file format\n\nBREAKING CHANGE: files saved by 0.2 do not open in 0.1",
    );
    commit(
        &repo,
        "Cy Ng",
        "src/bug.txt",
        "ok\n",
        "fix: <b>crash</b> on [paste](javascript:alert(1))",
    );
    git(&repo, &["checkout", "-q", "-b", "topic"]);
    commit(
        &repo,
        "Eve Ito",
        "src/misc.txt",
        "misc\n",
        "Tidy the toolbar",
    );
    git(&repo, &["checkout", "-q", "main"]);
    git(
        &repo,
        &[
            "-c",
            "user.name=RM",
            "-c",
            "user.email=rm@x",
            "merge",
            "-q",
            "--no-ff",
            "-m",
            "Merge branch 'topic'",
            "topic",
        ],
    );
    assert!(cli(&ws, &["release", "new", "0.2.0"]).status.success());

    let o = cli(&ws, &["release", "notes", "--version", "0.2.0"]);
    ok(&o);
    let md = String::from_utf8_lossy(&o.stdout).into_owned();
    let pos = |s: &str| md.find(s).unwrap_or_else(|| panic!("{s:?} in\n{md}"));
    assert!(md.starts_with("# WireTuner 0.2.0\n"), "{md}");
    assert!(md.contains("Changes since v0.1.0."), "{md}");
    assert!(pos("## Breaking changes") < pos("## Features"));
    assert!(pos("## Features") < pos("## Fixes"));
    assert!(pos("## Fixes") < pos("## Performance"));
    assert!(pos("## Performance") < pos("## Other changes"));
    assert!(
        pos("file format") < pos("## Features"),
        "a breaking change comes first: {md}"
    );
    assert!(md.contains("- **export:** SVG layers ("), "{md}");
    assert!(md.contains("- **render:** cache glyphs"), "{md}");
    assert!(md.contains("Tidy the toolbar"), "{md}");
    assert!(!md.contains("Merge branch"), "merges are not notes: {md}");
    assert!(
        !md.contains("pen tool"),
        "0.1.0's commits are not in 0.2.0's notes: {md}"
    );
    assert!(
        md.contains("\\<b\\>crash\\</b\\> on \\[paste\\]"),
        "commit text is escaped: {md}"
    );
    let thanks = md
        .lines()
        .find(|l| l.starts_with("Thanks to "))
        .expect("authors credited");
    for who in ["Ann Lee", "Bob Ray", "Cy Ng", "Di Park", "Eve Ito"] {
        assert_eq!(thanks.matches(who).count(), 1, "{who} once: {thanks}");
    }

    // --from another tag; a missing one is refused.
    let o = cli(
        &ws,
        &["release", "notes", "--version", "0.2.0", "--from", "v0.0.9"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("tag v0.0.9 (of --from) is not in"),
        "{}",
        text(&o)
    );

    // --write saves notes.md, audited, and ticks "Draft release notes".
    assert!(!ws.join("releases/0.2.0/notes.md").exists());
    let o = cli(&ws, &["release", "notes", "--version", "0.2.0", "--write"]);
    ok(&o);
    assert!(
        text(&o).contains("ticked pre.release-notes"),
        "{}",
        text(&o)
    );
    let saved = std::fs::read_to_string(ws.join("releases/0.2.0/notes.md")).expect("notes.md");
    assert_eq!(saved, md);
    assert_eq!(
        checklist_item(&ws, "0.2.0", "pre.release-notes")["done"],
        true
    );
    assert!(audit_actions(&ws).contains(&"release.notes 0.2.0".to_owned()));
}

/// Pull requests the fake knows: commit → (number, title, merged).
type Pulls = Arc<Mutex<(Value, Vec<(String, u64, String, bool)>, Vec<String>)>>;

async fn pulls(State(state): State<Pulls>, uri: Uri, headers: axum::http::HeaderMap) -> Response {
    let mut s = state.lock().expect("fake");
    s.2.push(uri.path().to_owned());
    if headers.get("authorization").and_then(|v| v.to_str().ok())
        != Some(&format!("Bearer {}", common::github::TOKEN))
    {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}))).into_response();
    }
    let parts: Vec<&str> = uri.path().split('/').collect();
    let ["", "repos", _, _, "commits", sha, "pulls"] = parts.as_slice() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let example = s.0.clone();
    let list: Vec<Value> =
        s.1.iter()
            .filter(|(c, ..)| c == sha)
            .map(|(_, number, title, merged)| {
                let mut pr = example.clone();
                pr["number"] = json!(number);
                pr["title"] = json!(title);
                pr["html_url"] = json!(format!(
                    "https://github.com/wiretuner/wiretuner-app/pull/{number}"
                ));
                pr["merged_at"] = if *merged {
                    json!("2026-11-30T08:05:09Z")
                } else {
                    Value::Null
                };
                pr["state"] = json!(if *merged { "closed" } else { "open" });
                // The description's example team lacks `type`, which its own schema requires.
                pr["requested_teams"] = json!([]);
                pr
            })
            .collect();
    axum::Json(Value::Array(list)).into_response()
}

#[test]
fn notes_name_merged_pull_requests_from_github() {
    let (dir, ws, repo) = setup("");
    let a = commit(&repo, "Ann Lee", "src/a.txt", "a\n", "fix: snap to grid");
    let b = commit(&repo, "Bob Ray", "src/b.txt", "b\n", "fix: snap to guides");
    let c = commit(&repo, "Cy Ng", "src/c.txt", "c\n", "chore: bump deps");
    assert!(cli(&ws, &["release", "new", "0.2.0"]).status.success());

    let full = common::github::description();
    let example = full["components"]["examples"]["pull-request-simple-items"]["value"][0].clone();
    assert!(
        example.is_object(),
        "the description's example pull request"
    );
    let ops = [("get", "/repos/{owner}/{repo}/commits/{commit_sha}/pulls")];
    let spec = dir.path().join("github-pulls.json");
    std::fs::write(
        &spec,
        serde_json::to_vec(&common::github::pruned_to(&full, &ops)).expect("spec"),
    )
    .expect("spec");
    drop(full);
    let state: Pulls = Arc::new(Mutex::new((
        example,
        vec![
            (a.clone(), 17, "fix(canvas): snapping".to_owned(), true),
            (b.clone(), 17, "fix(canvas): snapping".to_owned(), true),
            (c.clone(), 18, "Draft: bump everything".to_owned(), false),
        ],
        Vec::new(),
    )));
    let api = common::serve(Router::new().fallback(pulls).with_state(state.clone()));
    let prism = common::Prism::proxy(spec.to_str().expect("utf-8"), &format!("http://{api}"));
    let cfg = ws.join("release-console.toml");
    let mut text_cfg = std::fs::read_to_string(&cfg).expect("config");
    text_cfg.push_str(&format!(
        "\n[source.github]\napi_base = \"{}\"\nrepo = \"{}/{}\"\ntoken_env = \"RC_TEST_GH_TOKEN\"\n",
        prism.url,
        common::github::OWNER,
        common::github::REPO
    ));
    std::fs::write(&cfg, text_cfg).expect("config");

    let o = cli_with(
        &ws,
        &[("RC_TEST_GH_TOKEN", common::github::TOKEN)],
        &["release", "notes", "--version", "0.2.0"],
    );
    assert!(o.status.success(), "{}\n{}", text(&o), prism.log());
    let md = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        md.contains(
            "- **canvas:** snapping ([#17](https://github.com/wiretuner/wiretuner-app/pull/17))"
        ),
        "two commits of one merged pull request are one entry: {md}"
    );
    assert_eq!(md.matches("#17").count(), 1, "{md}");
    assert!(
        !md.contains("#18"),
        "an open pull request is not named: {md}"
    );
    assert!(md.contains("bump deps"), "{md}");
    assert!(md.contains("Thanks to Bob Ray, Ann Lee, Cy Ng."), "{md}");
    let seen = state.lock().expect("fake").2.clone();
    assert!(
        seen.contains(&format!("/repos/wiretuner/wiretuner-app/commits/{a}/pulls")),
        "{seen:?}"
    );
    assert_eq!(prism.violations(), Vec::<String>::new(), "{}", prism.log());

    // Without the token GitHub answers 401: the draft fails naming GitHub's message.
    let o = cli(&ws, &["release", "notes", "--version", "0.2.0"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("Bad credentials"), "{}", text(&o));
}

#[test]
fn the_demo_ships_a_repository_of_its_own_with_tagged_releases() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path().join("demo");
    let ws = release_console::workspace::unpack_demo(&root).expect("demo");
    let r = release_console::demo::refresh(&ws, jiff::Timestamp::now());
    assert!(r.repository_made, "{:?}", r.repository_problem);
    let repo = root.join("product-repo");
    assert_eq!(git(&repo, &["tag", "--list"]), "v0.0.9\nv0.1.0");
    // The same history in every demo: fixed authors and dates.
    let head = git(&repo, &["rev-parse", "HEAD"]);
    let again = tempfile::tempdir().expect("tmp");
    let ws2 = release_console::workspace::unpack_demo(&again.path().join("demo")).expect("demo");
    release_console::demo::refresh(&ws2, jiff::Timestamp::now());
    assert_eq!(
        git(
            &again.path().join("demo/product-repo"),
            &["rev-parse", "HEAD"]
        ),
        head
    );

    // A hotfix of the demo's 0.1.0, and the notes of a 0.2.0, offline.
    let h = json_of(&cli(
        &root,
        &["--json", "release", "new", "0.1.1", "--hotfix-of", "0.1.0"],
    ));
    assert_eq!(
        h["commit"],
        git(&repo, &["rev-parse", "v0.1.0^{commit}"]).as_str()
    );
    assert!(cli(&root, &["release", "new", "0.2.0"]).status.success());
    let o = cli(
        &root,
        &["release", "notes", "--version", "0.2.0", "--write"],
    );
    let md = String::from_utf8_lossy(&o.stdout).into_owned();
    ok(&o);
    assert!(md.contains("Changes since v0.1.0."), "{md}");
    assert!(md.contains("- **layers:** layer panel"), "{md}");
    assert!(md.contains("- **export:** keep layer names in SVG"), "{md}");
    assert!(!md.contains("pen tool"), "{md}");
    assert!(md.contains("Thanks to Di Park, Cy Ng."), "{md}");
}
