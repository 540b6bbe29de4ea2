//! A release's builds on a shared workspace as a teammate sees them: who ran a platform's last
//! build, where and when (the `pipeline.platform` entry that saved its run state), and who is
//! building it now (a live lease on it, [`super::build_lease`]).

use std::collections::BTreeMap;

use serde::Serialize;

use super::{BuildStatus, PipelineState, PlatformState};
use crate::audit::AuditIndex;
use crate::workspace::{LeaseInfo, Workspace};

/// Who saved a platform's run state: the entry's actor, host and time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunBy {
    pub actor: String,
    pub host: Option<String>,
    pub at: jiff::Timestamp,
    /// The entry (`pipeline.platform`).
    pub seq: u64,
}

/// Who saved each platform's run state in `state`, from the entries it names (`audit_seq`);
/// a platform saved before run states kept their entry, or whose entry cannot be read, is
/// left out. Reads one line of the log per platform. Blocks.
pub fn run_authors(
    ws: &Workspace,
    index: &AuditIndex,
    state: &PipelineState,
) -> BTreeMap<String, RunBy> {
    let mut out = BTreeMap::new();
    for (name, p) in &state.platforms {
        let Some(at) = usize::try_from(p.audit_seq)
            .ok()
            .and_then(|s| s.checked_sub(1))
        else {
            continue;
        };
        let Ok(read) = ws.audit().read_range(index, at..at + 1) else {
            continue;
        };
        if let Some(Ok(e)) = read.into_iter().next()
            && e.seq == p.audit_seq
            && e.action == "pipeline.platform"
        {
            out.insert(
                name.clone(),
                RunBy {
                    actor: e.actor,
                    host: e.host,
                    at: e.time,
                    seq: e.seq,
                },
            );
        }
    }
    out
}

/// The live lease on building `platform` of `version` among `leases`, at `now`.
pub fn building_now<'a>(
    leases: &'a [LeaseInfo],
    version: &str,
    platform: &str,
    now: jiff::Timestamp,
) -> Option<&'a LeaseInfo> {
    let what = super::build_lease(version, platform);
    leases.iter().find(|l| l.what == what && l.is_live(now))
}

fn hm(t: jiff::Timestamp) -> String {
    t.to_zoned_datetime(jiff::tz::TimeZone::system())
        .strftime("%H:%M")
        .to_string()
}

/// `busy: ben is building since 03:20 (lease until 03:30)`.
pub fn busy_phrase(l: &LeaseInfo) -> String {
    format!(
        "busy: {} is building since {} (lease until {})",
        l.holder,
        hm(l.since),
        hm(l.ends())
    )
}

/// `built by ben at 03:19 on ben-host, 1 file in the bucket`: a platform's last run as its
/// entry says it, with the artifacts of it the bucket holds (`in_bucket`, when the workspace
/// is shared).
pub fn run_phrase(p: &PlatformState, by: &RunBy, in_bucket: Option<usize>) -> String {
    let what = match p.status {
        BuildStatus::Succeeded if p.unsigned => "built UNSIGNED by",
        BuildStatus::Succeeded => "built by",
        BuildStatus::Running => "building by",
        BuildStatus::Failed => "failed for",
        BuildStatus::Cancelled => "cancelled by",
        BuildStatus::Other(_) => "last run by",
    };
    let host = by
        .host
        .as_deref()
        .map(|h| format!(" on {h}"))
        .unwrap_or_default();
    let files = match in_bucket {
        Some(n) if p.status == BuildStatus::Succeeded => {
            format!(", {n} file{} in the bucket", if n == 1 { "" } else { "s" })
        }
        _ => String::new(),
    };
    format!("{what} {} at {}{host}{files}", by.actor, hm(by.at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(what: &str, released: bool, until_in: i64) -> LeaseInfo {
        let now = jiff::Timestamp::now();
        LeaseInfo {
            what: what.to_owned(),
            holder: "ben".to_owned(),
            host: "ben-host".to_owned(),
            since: now,
            until: now + jiff::SignedDuration::from_secs(until_in),
            released,
            nonce: "n".to_owned(),
            ttl_secs: 0,
            ends_here: None,
        }
    }

    #[test]
    fn only_a_live_lease_on_that_platforms_build_is_someone_building_it() {
        let now = jiff::Timestamp::now();
        let leases = vec![
            lease("build 0.1.0 macos", false, 600),
            lease("build 0.1.0 linux", true, 600),
            lease("build 0.2.0 linux", false, -5),
            lease("publish 0.1.0", false, 600),
        ];
        assert!(building_now(&leases, "0.1.0", "macos", now).is_some());
        // Given back, run out, or another operation: nobody builds it.
        assert!(building_now(&leases, "0.1.0", "linux", now).is_none());
        assert!(building_now(&leases, "0.2.0", "linux", now).is_none());
        assert!(building_now(&leases, "0.1.0", "windows", now).is_none());
        let phrase = busy_phrase(&leases[0]);
        assert!(
            phrase.starts_with("busy: ben is building since ") && phrase.contains("(lease until "),
            "{phrase}"
        );
    }

    #[test]
    fn a_run_says_who_ran_it_where_and_what_the_bucket_holds_only_when_it_succeeded() {
        let by = RunBy {
            actor: "ben".to_owned(),
            host: Some("ben-host".to_owned()),
            at: jiff::Timestamp::now(),
            seq: 4,
        };
        let mut p = PlatformState {
            status: BuildStatus::Succeeded,
            message: "1 artifact".to_owned(),
            steps: Vec::new(),
            artifacts: Vec::new(),
            builder_sha256: BTreeMap::new(),
            remote: None,
            log: None,
            unsigned: false,
            finished_at: jiff::Timestamp::now(),
            audit_seq: 4,
        };
        let said = run_phrase(&p, &by, Some(1));
        assert!(
            said.starts_with("built by ben at ")
                && said.ends_with(" on ben-host, 1 file in the bucket"),
            "{said}"
        );
        assert!(run_phrase(&p, &by, Some(3)).ends_with(", 3 files in the bucket"));
        // A local workspace has no bucket to count.
        assert!(run_phrase(&p, &by, None).ends_with(" on ben-host"));
        p.status = BuildStatus::Failed;
        let said = run_phrase(&p, &by, Some(1));
        assert!(
            said.starts_with("failed for ben at ") && !said.contains("bucket"),
            "{said}"
        );
    }
}
