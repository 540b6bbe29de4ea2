//! What vendors answer: Prometheus query results and status page incidents decode or fail,
//! never panic (NaN and infinities included).
#![no_main]
use libfuzzer_sys::fuzz_target;
use release_console::workspace::config::Direction;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    for d in [Direction::Below, Direction::Above] {
        let _ = release_console::kpi::prometheus::parse_matrix(&v, d);
    }
    let _ = serde_json::from_value::<release_console::status::PageIncident>(v.clone());
    let _ = serde_json::from_value::<Vec<release_console::status::PageComponent>>(v);
});
