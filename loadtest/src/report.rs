//! Results: percentiles, a per-second timeline, the summary table, JSON for
//! machines and a self-contained HTML chart (inline SVG, no scripts, no CDN).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

/// One second of a run: (second, events, p50 ms, p99 ms).
pub type Point = (u64, usize, f64, f64);

/// Latency samples in milliseconds, with the second of the run they fell in.
#[derive(Default)]
pub struct Samples {
    pub values: Vec<f64>,
    pub by_second: BTreeMap<u64, Vec<f64>>,
}

impl Samples {
    pub fn push(&mut self, second: u64, ms: f64) {
        self.values.push(ms);
        self.by_second.entry(second).or_default().push(ms);
    }

    pub fn extend(&mut self, other: Samples) {
        self.values.extend(other.values);
        for (s, v) in other.by_second {
            self.by_second.entry(s).or_default().extend(v);
        }
    }

    pub fn summary(&mut self) -> Percentiles {
        percentiles(&mut self.values)
    }

    /// Per second: (second, count, p50, p99).
    pub fn timeline(&mut self) -> Vec<Point> {
        self.by_second
            .iter_mut()
            .map(|(s, v)| {
                let p = percentiles(v);
                (*s, v.len(), p.p50, p.p99)
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, Serialize, Default)]
pub struct Percentiles {
    pub count: usize,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

pub fn percentiles(v: &mut [f64]) -> Percentiles {
    v.sort_by(f64::total_cmp);
    let at = |p: f64| {
        v.get(((v.len() as f64 * p) as usize).min(v.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    Percentiles {
        count: v.len(),
        p50: at(0.50),
        p90: at(0.90),
        p95: at(0.95),
        p99: at(0.99),
        max: v.last().copied().unwrap_or(0.0),
    }
}

/// A two-column table for the terminal.
pub fn table(title: &str, rows: &[(String, String)]) -> String {
    let w = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = format!("\n{title}\n{}\n", "-".repeat(title.len()));
    for (k, v) in rows {
        let _ = writeln!(out, "{k:<w$}  {v}");
    }
    out
}

/// A self-contained HTML page with two charts: throughput per second and
/// latency p50/p99 per second.
pub fn html_chart(title: &str, timeline: &[Point]) -> String {
    let (w, h, pad) = (800.0, 240.0, 40.0);
    let max_t = timeline.last().map(|t| t.0).unwrap_or(1).max(1) as f64;
    let series = |f: &dyn Fn(&Point) -> f64| {
        let max = timeline.iter().map(f).fold(1e-9, f64::max);
        let pts: Vec<String> = timeline
            .iter()
            .map(|t| {
                format!(
                    "{:.1},{:.1}",
                    pad + (t.0 as f64 / max_t) * (w - 2.0 * pad),
                    h - pad - f(t) / max * (h - 2.0 * pad)
                )
            })
            .collect();
        (pts.join(" "), max)
    };
    let (thr, thr_max) = series(&|t| t.1 as f64);
    let (p99, lat_max) = series(&|t| t.3);
    let p50_pts: Vec<String> = timeline
        .iter()
        .map(|t| {
            format!(
                "{:.1},{:.1}",
                pad + (t.0 as f64 / max_t) * (w - 2.0 * pad),
                h - pad - t.2 / lat_max * (h - 2.0 * pad)
            )
        })
        .collect();
    let svg = |body: String, label: String| {
        format!(
            r##"<svg width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg" style="border:1px solid #ccc;margin:8px 0">
<line x1="{pad}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="#999"/><line x1="{pad}" y1="{pad}" x2="{pad}" y2="{y0}" stroke="#999"/>
<text x="{pad}" y="20" font-family="sans-serif" font-size="13">{label}</text>
<text x="{x1}" y="{yl}" font-family="sans-serif" font-size="11" text-anchor="end">{max_t:.0} s</text>{body}</svg>"##,
            y0 = h - pad,
            x1 = w - pad,
            yl = h - pad + 15.0
        )
    };
    let thr_svg = svg(
        format!(r##"<polyline fill="none" stroke="#4285F4" stroke-width="2" points="{thr}"/>"##),
        format!("events per second (max {thr_max:.0})"),
    );
    let lat_svg = svg(
        format!(
            r##"<polyline fill="none" stroke="#34A853" stroke-width="2" points="{}"/><polyline fill="none" stroke="#EA4335" stroke-width="2" points="{p99}"/>"##,
            p50_pts.join(" ")
        ),
        format!("latency per second: p50 (green), p99 (red), max {lat_max:.1} ms"),
    );
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body style=\"font-family:sans-serif\"><h1>{title}</h1>{thr_svg}<br>{lat_svg}</body></html>\n"
    )
}

/// What every scenario hands back: the JSON for `--json`, the summary table,
/// the per-second timeline for the chart, and whether the run passed.
pub struct Outcome {
    pub json: serde_json::Value,
    pub table: String,
    pub timeline: Vec<Point>,
    pub ok: bool,
}
