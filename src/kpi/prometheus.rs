//! Prometheus HTTP API: `GET /api/v1/query_range?query=..&start=..&end=..&step=..`, answers
//! `{"status": "success", "data": {"resultType": "matrix", "result": [{"values": [[t, "v"]]}]}}`.
//! Several series are reduced to the worst value at each time.

use jiff::Timestamp;
use serde_json::Value;

use super::{Direction, KpiDef, KpiError, KpiSource, Series, Window};

#[derive(Debug, Clone)]
pub struct Prometheus {
    base: String,
    http: reqwest::Client,
}

impl Prometheus {
    pub fn new(base: &str) -> Result<Self, KpiError> {
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            http: crate::net::client().map_err(KpiError::Invalid)?,
        })
    }
}

/// About 120 points per window, never finer than 1 s.
fn step_secs(start: Timestamp, end: Timestamp) -> u64 {
    let span = end.duration_since(start).as_secs().max(1);
    u64::try_from(span / 120).unwrap_or(1).max(1)
}

/// Reduces a `matrix` result to one series: the worst value at each timestamp.
pub fn parse_matrix(v: &Value, direction: Direction) -> Series {
    let mut by_time: std::collections::BTreeMap<i64, f64> = std::collections::BTreeMap::new();
    for series in v["data"]["result"].as_array().into_iter().flatten() {
        for pair in series["values"].as_array().into_iter().flatten() {
            let t = pair[0].as_f64();
            let x = pair[1].as_str().and_then(|s| s.parse::<f64>().ok());
            // NaN and ±Inf are kept: an error rate of x/0 during an outage is a breach, not a
            // gap (the gate judges them).
            if let (Some(t), Some(x)) = (t, x) {
                #[expect(
                    clippy::cast_possible_truncation,
                    reason = "unix milliseconds fit an i64 for 292 million years"
                )]
                let key = (t * 1000.0).round() as i64;
                by_time
                    .entry(key)
                    .and_modify(|old| {
                        *old = if !old.is_finite() {
                            *old
                        } else if !x.is_finite() {
                            x
                        } else {
                            match direction {
                                Direction::Below => old.max(x),
                                Direction::Above => old.min(x),
                            }
                        }
                    })
                    .or_insert(x);
            }
        }
    }
    by_time
        .into_iter()
        .map(|(k, v)| (k as f64 / 1000.0, v))
        .collect()
}

impl KpiSource for Prometheus {
    async fn range(&self, def: &KpiDef, window: Window) -> Result<Series, KpiError> {
        let (start, end) = window.seconds();
        let url = format!("{}/api/v1/query_range", self.base);
        let resp = self
            .http
            .get(&url)
            .query(&[
                ("query", def.query.clone()),
                ("start", format!("{start:.3}")),
                ("end", format!("{end:.3}")),
                ("step", step_secs(window.start, window.end).to_string()),
            ])
            .send()
            .await
            .map_err(|e| KpiError::Network {
                url: url.clone(),
                message: crate::net::describe(&e),
            })?;
        let status = resp.status();
        let text = crate::net::read_body(resp, crate::net::MAX_BODY_BYTES)
            .await
            .map_err(|e| KpiError::Network {
                url: url.clone(),
                message: e.to_string(),
            })?;
        let body: Value = serde_json::from_str(&text).map_err(|e| KpiError::Network {
            url: url.clone(),
            message: format!("unreadable answer ({status}): {e}"),
        })?;
        if body["status"] != "success" {
            return Err(KpiError::Query {
                query: def.query.clone(),
                message: body["error"].as_str().unwrap_or("unknown error").to_owned(),
            });
        }
        Ok(parse_matrix(&body, def.direction))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrices_reduce_to_the_worst_series() {
        let v: Value = serde_json::from_str(
            r#"{"status":"success","data":{"resultType":"matrix","result":[
                {"metric":{"instance":"a"},"values":[[1700000000,"0.1"],[1700000001,"0.7"]]},
                {"metric":{"instance":"b"},"values":[[1700000000,"0.3"],[1700000001,"NaN"]]}]}}"#,
        )
        .expect("json");
        let worst = parse_matrix(&v, Direction::Below);
        assert_eq!(worst[0], (1_700_000_000.0, 0.3));
        // A NaN sample is kept as the worst value (a breach), not dropped as a gap.
        assert!((worst[1].0 - 1_700_000_001.0).abs() < 1e-6);
        assert!(worst[1].1.is_nan(), "{worst:?}");
        assert_eq!(
            parse_matrix(&v, Direction::Above)[0],
            (1_700_000_000.0, 0.1)
        );
    }
}
