//! Panels whose capability arrives in a later issue: they say what they will do, and show no
//! invented data.

use super::app::Tab;
use super::theme;

fn description(tab: Tab) -> (&'static str, &'static [&'static str]) {
    match tab {
        Tab::Flags => (
            "Feature flags and KPIs",
            &[
                "Flags named {prefix}_{feature_name} on LaunchDarkly, Unleash or the local provider; default OFF in production; staged rollout 10% -> 50% -> 100% gated by KPIs; archive after 14+ days at 100%.",
                "CLI: release-console flags ...",
            ],
        ),
        _ => ("", &[]),
    }
}

pub fn ui(ui: &mut egui::Ui, tab: Tab) {
    let (title, lines) = description(tab);
    ui.label(theme::heading(title));
    ui.add_space(4.0);
    theme::badge(ui, "NOT AVAILABLE YET", theme::MUTED);
    ui.add_space(8.0);
    ui.label("This panel arrives in a later version of the console. It will:");
    for line in lines {
        ui.label(format!("• {line}"));
    }
}
