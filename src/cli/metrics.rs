//! `metrics`: the ops metrics of WireTuner's operations runbook from the workspace's own history.

use std::process::ExitCode;

use clap::Args;

use super::Cli;
use crate::metrics::{self, Metrics};

#[derive(Debug, Clone, Args)]
pub struct MetricsArgs {
    /// The window: `180d`, `12w` or `36h` before now.
    #[arg(long, default_value = "180d")]
    since: String,
}

fn verdict(meets: Option<bool>, records: usize) -> String {
    match metrics::verdict(meets, records) {
        metrics::Verdict::Meets => "meets target".to_owned(),
        metrics::Verdict::Misses => "MISSES TARGET".to_owned(),
        metrics::Verdict::TooFew(n) => format!(
            "too few to judge ({n} record; at least {} needed)",
            metrics::MIN_RECORDS_TO_JUDGE
        ),
        metrics::Verdict::NoData => "no data".to_owned(),
    }
}

fn print(m: &Metrics) {
    println!(
        "Ops metrics from {} to {}",
        crate::local_time(m.since, false),
        crate::local_time(m.until, false)
    );
    let f = &m.release_frequency;
    println!("\nRelease frequency (target: every {} days)", f.target_days);
    match f.mean_interval_days {
        Some(d) => println!(
            "  every {d:.1} days on average over {} releases: {}",
            f.releases.len(),
            verdict(f.meets_target, f.intervals_days.len())
        ),
        None => println!("  fewer than two releases: {}", verdict(None, 0)),
    }
    println!("  from {}", f.source);

    println!("\nIncident MTTR (target: < 2 h for P1)");
    for s in &m.mttr {
        let mean = s
            .mean_hours
            .map_or_else(|| "-".to_owned(), |h| format!("{h:.1} h"));
        let target = s.target_hours.map_or_else(String::new, |t| {
            format!(" (target < {t} h: {})", verdict(s.meets_target, s.resolved))
        });
        println!(
            "  {}  {mean:>8}  over {} resolved, {} open{target}",
            s.severity.as_str(),
            s.resolved,
            s.open
        );
    }
    println!("  from {}", m.mttr_source);

    let d = &m.deployment_success;
    println!(
        "\nDeployment success rate (target: > {:.0}%)",
        d.target * 100.0
    );
    match d.rate {
        Some(r) => println!(
            "  {:.1}% of {} releases: {}",
            r * 100.0,
            d.releases.len(),
            verdict(d.meets_target, d.releases.len())
        ),
        None => println!("  no releases: {}", verdict(None, 0)),
    }
    for o in d.releases.iter().filter(|o| !o.failures.is_empty()) {
        println!("  {}: {}", o.version, o.failures.join(", "));
    }
    println!("  from {}", d.source);

    let l = &m.flag_lifespan;
    println!("\nFeature flag lifespan (target: < {} days)", l.target_days);
    match l.mean_days {
        Some(days) => println!(
            "  {days:.1} days on average over {} retired flags: {}",
            l.retired.len(),
            verdict(l.meets_target, l.retired.len())
        ),
        None => println!("  no flag retired: {}", verdict(None, 0)),
    }
    for (key, days) in &l.live_over_target {
        println!("  {key}: live for {days:.0} days, over the target");
    }
    println!("  from {}", l.source);
}

pub fn run(cli: &Cli, args: &MetricsArgs) -> anyhow::Result<ExitCode> {
    let Some(window) = metrics::parse_window(&args.since) else {
        eprintln!(
            "error: --since {:?}: expected a length such as 180d, 12w or 36h",
            args.since
        );
        return Ok(ExitCode::from(2));
    };
    let ws = cli.open_workspace()?;
    let m = metrics::compute(&ws, window, jiff::Timestamp::now())?;
    if cli.json {
        cli.print_json(&m)?;
    } else {
        print(&m);
    }
    Ok(ExitCode::SUCCESS)
}
