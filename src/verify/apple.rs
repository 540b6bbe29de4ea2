//! Apple signatures (.dmg, .app, .pkg, Mach-O): read in-process on every host (`macho.rs`,
//! `dmg.rs`, `bundle.rs`, `pkg.rs`); on a macOS host `codesign --verify --deep --strict -vv`,
//! `codesign -dvv` (Authority chain, `TeamIdentifier`, Timestamp), `spctl -a -vv` (Gatekeeper:
//! notarized Developer ID) and `xcrun stapler validate` give a second opinion, and are the only
//! check of a file the console cannot read. Elsewhere such a file is "unverifiable here" (amber).
//!
//! The interpreters are pure functions of the tools' output, so they are tested on every host.

use std::ffi::OsStr;
use std::path::Path;
use tokio_util::sync::CancellationToken;

use super::signature::{Expected, Outcome, Signer, TOOL_TIMEOUT, Verdict};

/// What `codesign -dvv` says about a signature.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodesignDisplay {
    /// `Authority=` lines, leaf first.
    pub authorities: Vec<String>,
    pub team_id: Option<String>,
    /// `Timestamp=` (a secure timestamp); `Signed Time=` is not one.
    pub timestamp: Option<String>,
    pub adhoc: bool,
    pub identifier: Option<String>,
}

/// Parses `codesign -dvv` output (it prints to stderr; any order of lines).
pub fn parse_codesign_display(text: &str) -> CodesignDisplay {
    let mut d = CodesignDisplay::default();
    for line in text.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("Authority=") {
            d.authorities.push(v.trim().to_owned());
        } else if let Some(v) = line.strip_prefix("TeamIdentifier=") {
            let v = v.trim();
            if !v.is_empty() && v != "not set" {
                d.team_id = Some(v.to_owned());
            }
        } else if let Some(v) = line.strip_prefix("Timestamp=") {
            d.timestamp = Some(v.trim().to_owned());
        } else if line == "Signature=adhoc" {
            d.adhoc = true;
        } else if let Some(v) = line.strip_prefix("Identifier=") {
            d.identifier = Some(v.trim().to_owned());
        }
    }
    d
}

/// `WireTuner Inc` from `Developer ID Application: WireTuner Inc (ABCDE12345)`.
pub fn publisher_of(authority: &str) -> String {
    let name = authority
        .split_once(": ")
        .map_or(authority, |(_, rest)| rest)
        .trim();
    match name.rsplit_once(" (") {
        Some((n, team)) if team.ends_with(')') => n.trim().to_owned(),
        _ => name.to_owned(),
    }
}

/// The team id in parentheses at the end of a Developer ID authority, if any.
pub fn team_of(authority: &str) -> Option<String> {
    let (_, tail) = authority.rsplit_once(" (")?;
    let team = tail.strip_suffix(')')?;
    (team.len() == 10 && team.chars().all(|c| c.is_ascii_alphanumeric())).then(|| team.to_owned())
}

/// One run of a second tool: `None` when it does not apply (stapler on a bare Mach-O file),
/// `Some(Err(why))` when it did not run or timed out, else its success and output.
pub type ToolRun<'a> = Option<Result<(bool, &'a str), &'a str>>;

/// Turns the macOS tools' output into a verdict (identity is checked after, by [`check_team`]).
/// A tool that did not run, timed out or printed what cannot be read makes it
/// `unverifiable_here` with the reason: a check that never ran never reads as a pass.
pub fn interpret_codesign(
    verify: (bool, &str),
    display: &str,
    spctl: ToolRun<'_>,
    stapler: ToolRun<'_>,
) -> Outcome {
    let (verify_ok, verify_text) = verify;
    let first_problem = |t: &str| {
        t.lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("no output")
            .to_owned()
    };
    if verify_text.contains("code object is not signed at all") {
        return Outcome::new(Verdict::Unsigned, "no code signature (codesign)");
    }
    if !verify_ok {
        return Outcome::new(
            Verdict::Invalid,
            format!("codesign rejects it: {}", first_problem(verify_text)),
        );
    }
    let d = parse_codesign_display(display);
    if d.adhoc {
        return Outcome::new(
            Verdict::Untrusted,
            "ad-hoc signature: no certificate, so no publisher to trust",
        );
    }
    let leaf = d.authorities.first().cloned().unwrap_or_default();
    let signer = Signer {
        subject: leaf.clone(),
        publisher: publisher_of(&leaf),
        issuer: d.authorities.get(1).cloned().unwrap_or_default(),
        team_id: d.team_id.clone().or_else(|| team_of(&leaf)),
        timestamp: d.timestamp.clone(),
        timestamp_valid: d.timestamp.is_some(),
        chain: d.authorities.clone(),
        digest_match: true,
        ..Signer::default()
    };
    let mut outcome = Outcome::new(Verdict::Valid, "");
    outcome.signer = Some(signer);
    let root_is_apple = d.authorities.last().is_some_and(|a| a == "Apple Root CA");
    if !leaf.starts_with("Developer ID ") || !root_is_apple {
        outcome.verdict = Verdict::Untrusted;
        outcome.detail = format!(
            "signed by {leaf:?}, not a Developer ID certificate that chains to Apple Root CA"
        );
        return outcome;
    }
    if d.timestamp.is_none() {
        outcome.verdict = Verdict::Untrusted;
        outcome.detail =
            "no secure timestamp (sign with --timestamp): notarization requires one".into();
        return outcome;
    }
    let not_checked = |mut outcome: Outcome, why: String| {
        outcome.verdict = Verdict::UnverifiableHere;
        outcome.detail = why;
        outcome
    };
    match spctl {
        Some(Err(why)) => {
            return not_checked(
                outcome,
                format!("Gatekeeper's verdict is unknown: spctl did not run ({why})"),
            );
        }
        Some(Ok((ok, text))) if ok && !text.contains("source=") => {
            return not_checked(
                outcome,
                "Gatekeeper's verdict is unknown: spctl accepted it but printed no source= line"
                    .into(),
            );
        }
        _ => {}
    }
    if let Some(Ok((ok, text))) = spctl {
        let source = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("source="))
            .unwrap_or("unknown source")
            .to_owned();
        if !ok || text.contains(": rejected") {
            outcome.verdict = Verdict::Untrusted;
            outcome.detail = format!("Gatekeeper rejects it ({source})");
            return outcome;
        }
        if !source.contains("Notarized") {
            outcome.verdict = Verdict::Untrusted;
            outcome.detail = format!("Gatekeeper accepts it but it is not notarized ({source})");
            return outcome;
        }
    }
    match stapler {
        Some(Err(why)) => {
            return not_checked(
                outcome,
                format!("whether a ticket is stapled is unknown: stapler did not run ({why})"),
            );
        }
        Some(Ok((false, _))) => {
            outcome.verdict = Verdict::Untrusted;
            outcome.detail = "notarized, but no ticket is stapled (xcrun stapler staple): \
                              offline Macs will refuse it"
                .into();
        }
        Some(Ok((true, _))) => {
            outcome.detail = "Developer ID, notarized, ticket stapled".into();
        }
        None if spctl.is_some() => outcome.detail = "Developer ID, notarized".into(),
        None => {
            outcome.detail = "Developer ID, timestamped (notarization not checked here)".into();
        }
    }
    outcome
}

/// Pins the Apple team: a valid signature by another team (or with no team pinned) is red.
pub fn check_team(outcome: &mut Outcome, expected: &Expected) {
    if outcome.verdict != Verdict::Valid {
        return;
    }
    let got = outcome
        .signer
        .as_ref()
        .and_then(|s| s.team_id.clone())
        .unwrap_or_default();
    match expected
        .apple_team_id
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        None => {
            outcome.verdict = Verdict::IdentityMismatch;
            outcome.detail = format!(
                "signed by team {got:?}, but no expected team is pinned ([signing] apple_team_id or --expect-team-id)"
            );
        }
        Some(want) if want != got => {
            outcome.verdict = Verdict::IdentityMismatch;
            outcome.detail = format!("expected team {want}, got {got:?}");
        }
        Some(_) => {}
    }
}

async fn tool(program: &str, args: &[&OsStr]) -> Result<(bool, String), String> {
    crate::runner::process::capture(program, args, TOOL_TIMEOUT).await
}

/// Verifies an Apple artifact: a Mach-O or a disk image in-process on any host (on macOS
/// `codesign` and `spctl` give a second opinion, and a disagreement is red); bundles and
/// packages with the best tools this host has.
pub async fn verify(path: &Path, expected: &Expected, cancel: &CancellationToken) -> Outcome {
    let owned = path.to_owned();
    let exp = expected.clone();
    let cancel = cancel.clone();
    let native = tokio::task::spawn_blocking(move || -> Option<Outcome> {
        if super::bundle::is_bundle(&owned) {
            let (mut outcome, sig) = super::bundle::verify(&owned, &exp, &cancel);
            outcome.apple = Some(sig);
            return Some(outcome);
        }
        if super::bundle::is_zipped_app(&owned) {
            let (mut outcome, sig) = super::bundle::verify_zipped(&owned, &exp, &cancel);
            outcome.apple = Some(sig);
            return Some(outcome);
        }
        if super::pkg::is_pkg(&owned) {
            let (mut outcome, sig) = super::pkg::verify(&owned, &exp);
            outcome.apple = Some(sig);
            return Some(outcome);
        }
        if super::dmg::is_dmg(&owned) {
            let (mut outcome, sig) = super::dmg::verify(&owned, &exp);
            outcome.apple = Some(sig);
            return Some(outcome);
        }
        let data = std::fs::read(&owned).ok()?;
        if !super::macho::is_macho(&data) {
            return None;
        }
        let (mut outcome, sig) = super::macho::verify(&owned, &data, &exp);
        outcome.apple = Some(sig);
        Some(outcome)
    })
    .await
    .unwrap_or_else(|e| {
        Some(Outcome::new(
            Verdict::UnverifiableHere,
            format!(
                "the in-process Apple verifier failed: {}",
                crate::runner::panic_message(e)
            ),
        ))
    });
    if let Some(outcome) = native {
        if cfg!(target_os = "macos") {
            let tools = verify_native(path).await;
            return second_opinion(outcome, &tools);
        }
        return outcome;
    }
    // Not a Mach-O, disk image, app bundle or flat package this console can read. Another
    // tool's word is not taken off macOS: rcodesign's report names a Developer ID without
    // proving the chain, so it can never make a file green here.
    let mut outcome = if cfg!(target_os = "macos") {
        verify_native(path).await
    } else {
        Outcome::new(
            Verdict::UnverifiableHere,
            "not a Mach-O, disk image, app bundle or flat package the console can read; verify \
             it on macOS (codesign, spctl, stapler)",
        )
    };
    check_team(&mut outcome, expected);
    outcome
}

/// The in-process verdict, unless Apple's own tools disagree about the signature being good:
/// then it is red, with both answers.
pub fn second_opinion(ours: Outcome, tools: &Outcome) -> Outcome {
    let good = super::signature::good;
    if tools.verdict == Verdict::UnverifiableHere || good(ours.verdict) == good(tools.verdict) {
        let mut ours = ours;
        ours.raw_output.clone_from(&tools.raw_output);
        return ours;
    }
    let mut out = super::signature::disagreement(&ours, tools, "codesign/spctl");
    out.signer = ours.signer;
    out.apple = ours.apple;
    out.raw_output.clone_from(&tools.raw_output);
    out
}

/// A captured tool run as [`ToolRun`] borrows it.
fn view(r: &Result<(bool, String), String>) -> Result<(bool, &str), &str> {
    match r {
        Ok((ok, t)) => Ok((*ok, t.as_str())),
        Err(e) => Err(e.as_str()),
    }
}

async fn verify_native(path: &Path) -> Outcome {
    let p = path.as_os_str();
    let verify = match tool(
        "codesign",
        &[
            "--verify".as_ref(),
            "--deep".as_ref(),
            "--strict".as_ref(),
            "-vv".as_ref(),
            p,
        ],
    )
    .await
    {
        Ok(v) => v,
        Err(e) => return Outcome::new(Verdict::UnverifiableHere, e),
    };
    let display = match tool("codesign", &["-dvv".as_ref(), p]).await {
        Ok((_, t)) => t,
        Err(e) => {
            return Outcome::new(
                Verdict::UnverifiableHere,
                format!("the signer is unknown: codesign -dvv did not run ({e})"),
            );
        }
    };
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    // Installers are assessed as installs; apps and Mach-O binaries as executables.
    let assess = if matches!(ext.as_str(), "dmg" | "pkg") {
        "install"
    } else {
        "exec"
    };
    let spctl = tool(
        "spctl",
        &[
            "-a".as_ref(),
            "-vv".as_ref(),
            "-t".as_ref(),
            assess.as_ref(),
            p,
        ],
    )
    .await;
    // Tickets are stapled to bundles, disk images and packages, not to bare Mach-O files.
    let stapler = if matches!(ext.as_str(), "dmg" | "pkg" | "app") {
        Some(tool("xcrun", &["stapler".as_ref(), "validate".as_ref(), p]).await)
    } else {
        None
    };
    let mut outcome = interpret_codesign(
        (verify.0, &verify.1),
        &display,
        Some(view(&spctl)),
        stapler.as_ref().map(view),
    );
    let text = |r: &Result<(bool, String), String>| match r {
        Ok((_, t)) => t.clone(),
        Err(e) => format!("(did not run: {e})"),
    };
    outcome.raw_output = [
        verify.1,
        display,
        text(&spctl),
        stapler.as_ref().map(text).unwrap_or_default(),
    ]
    .join("\n");
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    // Output as codesign, spctl and stapler print it for a notarized Developer ID DMG.
    const VERIFY_OK: &str = "WireTuner-1.0.0.dmg: valid on disk\nWireTuner-1.0.0.dmg: satisfies its Designated Requirement\n";
    const DISPLAY: &str = "Executable=/tmp/WireTuner-1.0.0.dmg\nIdentifier=WireTuner-1.0.0\nFormat=disk image\nCodeDirectory v=20100 size=179 flags=0x0(none) hashes=1+2 location=embedded\nSignature size=9069\nAuthority=Developer ID Application: WireTuner Inc (ABCDE12345)\nAuthority=Developer ID Certification Authority\nAuthority=Apple Root CA\nTimestamp=28 Nov 2026 at 10:00:00\nInfo.plist=not bound\nTeamIdentifier=ABCDE12345\nSealed Resources=none\nInternal requirements count=1 size=180\n";
    const SPCTL_OK: &str = "WireTuner-1.0.0.dmg: accepted\nsource=Notarized Developer ID\norigin=Developer ID Application: WireTuner Inc (ABCDE12345)\n";
    const STAPLED: &str = "Processing: WireTuner-1.0.0.dmg\nThe validate action worked!\n";

    fn expected(team: &str) -> Expected {
        Expected {
            apple_team_id: Some(team.into()),
            ..Expected::default()
        }
    }

    fn full(team: &str) -> Outcome {
        let mut o = interpret_codesign(
            (true, VERIFY_OK),
            DISPLAY,
            Some(Ok((true, SPCTL_OK))),
            Some(Ok((true, STAPLED))),
        );
        check_team(&mut o, &expected(team));
        o
    }

    #[test]
    fn notarized_stapled_developer_id_with_the_pinned_team_is_valid() {
        let o = full("ABCDE12345");
        assert_eq!(o.verdict, Verdict::Valid, "{}", o.detail);
        let s = o.signer.expect("signer");
        assert_eq!(s.publisher, "WireTuner Inc");
        assert_eq!(s.team_id.as_deref(), Some("ABCDE12345"));
        assert_eq!(s.issuer, "Developer ID Certification Authority");
        assert_eq!(s.chain.len(), 3);
        assert_eq!(s.timestamp.as_deref(), Some("28 Nov 2026 at 10:00:00"));
    }

    #[test]
    fn another_team_or_no_pinned_team_is_an_identity_mismatch() {
        let o = full("ZZZZZ99999");
        assert_eq!(o.verdict, Verdict::IdentityMismatch);
        assert_eq!(o.detail, "expected team ZZZZZ99999, got \"ABCDE12345\"");
        let mut o = interpret_codesign((true, VERIFY_OK), DISPLAY, None, None);
        check_team(&mut o, &Expected::default());
        assert_eq!(o.verdict, Verdict::IdentityMismatch);
        assert!(
            o.detail.contains("no expected team is pinned"),
            "{}",
            o.detail
        );
    }

    #[test]
    fn unsigned_tampered_adhoc_unnotarized_and_unstapled_are_never_valid() {
        let o = interpret_codesign(
            (
                false,
                "WireTuner.app: code object is not signed at all\nIn architecture: arm64\n",
            ),
            "",
            None,
            None,
        );
        assert_eq!(o.verdict, Verdict::Unsigned);
        let o = interpret_codesign(
            (
                false,
                "WireTuner.app: a sealed resource is missing or invalid\nfile modified: WireTuner.app/Contents/Resources/x\n",
            ),
            DISPLAY,
            None,
            None,
        );
        assert_eq!(o.verdict, Verdict::Invalid);
        assert!(o.detail.contains("a sealed resource is missing or invalid"));
        let o = interpret_codesign(
            (true, VERIFY_OK),
            "Signature=adhoc\nTeamIdentifier=not set\n",
            None,
            None,
        );
        assert_eq!(o.verdict, Verdict::Untrusted);
        let o = interpret_codesign(
            (true, VERIFY_OK),
            DISPLAY,
            Some(Ok((
                false,
                "WireTuner-1.0.0.dmg: rejected\nsource=Unnotarized Developer ID\norigin=Developer ID Application: WireTuner Inc (ABCDE12345)\n",
            ))),
            Some(Ok((true, STAPLED))),
        );
        assert_eq!(o.verdict, Verdict::Untrusted);
        assert_eq!(o.detail, "Gatekeeper rejects it (Unnotarized Developer ID)");
        let o = interpret_codesign(
            (true, VERIFY_OK),
            DISPLAY,
            Some(Ok((true, SPCTL_OK))),
            Some(Ok((
                false,
                "Processing: WireTuner-1.0.0.dmg\nWireTuner-1.0.0.dmg does not have a ticket stapled to it.\n",
            ))),
        );
        assert_eq!(o.verdict, Verdict::Untrusted);
        assert!(o.detail.contains("no ticket is stapled"));
        let dev = DISPLAY.replace(
            "Developer ID Application: WireTuner Inc (ABCDE12345)",
            "Apple Development: dev@example.com (ABCDE12345)",
        );
        let o = interpret_codesign((true, VERIFY_OK), &dev, None, None);
        assert_eq!(o.verdict, Verdict::Untrusted);
        // A second opinion that never came is never a pass.
        for (spctl, stapler, needle) in [
            (
                Some(Err("timed out after 60 s")),
                Some(Ok((true, STAPLED))),
                "spctl did not run",
            ),
            (
                Some(Ok((true, "accepted\n"))),
                Some(Ok((true, STAPLED))),
                "printed no source= line",
            ),
            (
                Some(Ok((true, SPCTL_OK))),
                Some(Err("xcrun: error: unable to find utility \"stapler\"")),
                "stapler did not run",
            ),
        ] {
            let mut o = interpret_codesign((true, VERIFY_OK), DISPLAY, spctl, stapler);
            check_team(&mut o, &expected("ABCDE12345"));
            assert_eq!(
                o.verdict,
                Verdict::UnverifiableHere,
                "{needle}: {}",
                o.detail
            );
            assert!(o.detail.contains(needle), "{}", o.detail);
        }
        let no_ts = DISPLAY.replace("Timestamp=", "Signed Time=");
        let o = interpret_codesign((true, VERIFY_OK), &no_ts, None, None);
        assert_eq!(o.verdict, Verdict::Untrusted);
        assert!(o.detail.contains("no secure timestamp"));
    }

    #[test]
    fn a_second_opinion_that_disagrees_turns_the_verdict_red_with_both_answers() {
        let ours = Outcome::new(Verdict::Valid, "Developer ID Application: WireTuner Inc");
        let tools = Outcome::new(Verdict::Invalid, "a sealed resource is missing or invalid");
        let both = second_opinion(ours.clone(), &tools);
        assert_eq!(both.verdict, Verdict::Invalid);
        assert!(both.detail.contains("in-process valid (Developer ID"));
        assert!(
            both.detail
                .contains("codesign/spctl invalid (a sealed resource")
        );
        // Agreement, or tools that could not answer, keep ours.
        let agree = second_opinion(ours.clone(), &Outcome::new(Verdict::Valid, "ok"));
        assert_eq!(agree.verdict, Verdict::Valid);
        let silent = second_opinion(ours, &Outcome::new(Verdict::UnverifiableHere, "no spctl"));
        assert_eq!(silent.verdict, Verdict::Valid);
        // A red in-process verdict stays red whatever the tools say.
        let tampered = Outcome::new(Verdict::Invalid, "tampered: code page 3");
        let lenient = second_opinion(tampered, &Outcome::new(Verdict::Valid, "accepted"));
        assert_eq!(lenient.verdict, Verdict::Invalid);
    }

    #[test]
    fn publisher_and_team_from_authority() {
        assert_eq!(
            publisher_of("Developer ID Application: WireTuner Inc (ABCDE12345)"),
            "WireTuner Inc"
        );
        assert_eq!(
            team_of("Developer ID Installer: A (B) Corp (ABCDE12345)").as_deref(),
            Some("ABCDE12345")
        );
        assert_eq!(team_of("Apple Root CA"), None);
    }
}
