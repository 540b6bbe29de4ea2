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
    verdict_from(meets, records, metrics::MIN_RECORDS_TO_JUDGE)
}

fn verdict_from(meets: Option<bool>, records: usize, needed: usize) -> String {
    match metrics::verdict_from(meets, records, needed) {
        metrics::Verdict::Meets => "meets target".to_owned(),
        metrics::Verdict::Misses => "MISSES TARGET".to_owned(),
        metrics::Verdict::TooFew { records, needed } => format!(
            "too few to judge ({records} record{}; at least {needed} needed)",
            if records == 1 { "" } else { "s" }
        ),
        metrics::Verdict::NoData => "no data".to_owned(),
    }
}

fn minutes(secs: f64) -> String {
    crate::human_duration(std::time::Duration::from_secs_f64(secs.max(0.0)))
}

fn print_quarterly(m: &Metrics) {
    println!("\nQuarterly review");
    let d = &m.drills;
    println!(
        "\nBackup and restore drills (target: every run within its RTO, every restore within \
         its RPO)"
    );
    println!(
        "  RTO: {} of {} completed runs within: {}",
        d.rto_within,
        d.rto_judged,
        verdict(d.rto_meets_target, d.rto_judged)
    );
    println!(
        "  RPO: {} of {} restores within{}: {}",
        d.rpo_within,
        d.rpo_judged,
        if d.rpo_unknown > 0 {
            format!(" ({} more with the snapshot's age unknown)", d.rpo_unknown)
        } else {
            String::new()
        },
        verdict(d.rpo_meets_target, d.rpo_judged)
    );
    for r in &d.runs {
        let rto = match (&r.outcome, r.took_secs(), r.rto_minutes) {
            (_, Some(took), Some(rto)) => format!(
                "took {} against an RTO of {rto} min: {}",
                minutes(took),
                if r.within_rto() == Some(true) {
                    "within"
                } else {
                    "OVER"
                }
            ),
            (Some(o), _, _) => o.summary(),
            (None, _, _) => "procedure no longer known: not judged".to_owned(),
        };
        println!(
            "  {} {} ({}{}): {rto}",
            crate::local_time(r.first_step, false),
            r.procedure,
            r.run,
            if r.stand_ins {
                ", against stand-ins"
            } else {
                ""
            }
        );
        if let Some(x) = &r.restore {
            let rpo = x
                .snapshot
                .rpo_minutes
                .map_or_else(|| "no RPO".to_owned(), |m| format!("the RPO of {m} min"));
            match x.age_secs {
                Some(age) => println!(
                    "    snapshot {} was {} old when the restore began, against {rpo}: {}",
                    x.snapshot.id,
                    minutes(age),
                    match x.within_rpo {
                        Some(true) => "within",
                        Some(false) => "OVER",
                        None => "not judged",
                    }
                ),
                None => println!(
                    "    snapshot {}: its age when the restore began is unknown (its name \
                     carries no time)",
                    x.snapshot.id
                ),
            }
        }
        if let Some(why) = &r.demo_history {
            println!("    ({why})");
        }
    }
    println!("  from {}", d.source);

    let f = &m.false_positives;
    println!(
        "\nFalse-positive rate of pages and incidents (target: at most {:.0}%, the console's; the runbook \
         sets none)",
        f.target * 100.0
    );
    match f.rate {
        Some(r) => println!(
            "  {:.1}%: {} of {} incidents resolved as no-impact or false-alarm: {}",
            r * 100.0,
            f.false_positives,
            f.with_resolution,
            verdict_from(f.meets_target, f.with_resolution, f.min_records)
        ),
        None => println!(
            "  no incident resolved with a resolution: {}",
            verdict_from(None, 0, f.min_records)
        ),
    }
    for p in f.pages.iter().filter(|p| {
        p.resolution
            .is_none_or(crate::status::Resolution::is_false_positive)
    }) {
        println!(
            "  {} {} {}: {}",
            p.id,
            p.severity,
            p.name,
            p.resolution
                .map_or("resolution not said (not counted)", |r| r.as_str())
        );
    }
    println!("  from {}", f.source);

    let r = &m.flag_retirement;
    println!(
        "\nFlags past their retirement date (target: none; retire {} days after 100%)",
        r.retire_after_days
    );
    println!(
        "  {} of {} live flags at 100% past their date: {}",
        r.past_due,
        r.flags.len(),
        verdict(r.meets_target, r.flags.len())
    );
    for f in &r.flags {
        if f.days_past >= 0.0 {
            println!(
                "  {}: {:.0} days past its retirement date ({})",
                f.key,
                f.days_past,
                crate::local_time(f.retire_by, false)
            );
        } else {
            println!(
                "  {}: due for retirement on {}",
                f.key,
                crate::local_time(f.retire_by, false)
            );
        }
    }
    println!("  from {}", r.source);
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
    print_quarterly(m);
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
