//! Charts as SVG, drawn on the server: no chart library, nothing to load, and readable without script. Each
//! chart has a `<title>` and a `<desc>` and a table of the same figures beside it on its page, so a screen reader
//! gets the numbers.

use maud::{html, Markup};

/// A horizontal bar chart: one bar per `(label, value)`, scaled to the largest.
pub fn bars(title: &str, rows: &[(String, f64)], unit: &str) -> Markup {
    let max = rows.iter().map(|r| r.1).fold(0.0_f64, f64::max).max(1.0);
    let row_h = 28.0;
    let label_w = 170.0;
    let bar_w = 300.0;
    let height = (rows.len().max(1) as f64) * row_h + 8.0;
    html! {
        svg class="chart" role="img" viewBox=(format!("0 0 {} {}", label_w + bar_w + 90.0, height)) xmlns="http://www.w3.org/2000/svg" {
            title { (title) }
            desc { @for (l, v) in rows { (l) ": " (fmt(*v)) " " (unit) "; " } }
            @for (i, (label, value)) in rows.iter().enumerate() {
                @let y = i as f64 * row_h + 4.0;
                text x=(label_w - 8.0) y=(y + 18.0) text-anchor="end" class="label" { (label) }
                rect x=(label_w) y=(y + 4.0) width=(format!("{:.1}", value / max * bar_w)) height=(row_h - 10.0) class="bar" {}
                text x=(label_w + value / max * bar_w + 6.0) y=(y + 18.0) class="value" { (fmt(*value)) " " (unit) }
            }
        }
    }
}

/// A line chart of `(x label, value)` points with optional lower and upper limits drawn as lines; points outside
/// the limits are marked.
pub fn line(title: &str, points: &[(String, f64)], min: Option<f64>, max: Option<f64>) -> Markup {
    let w = 640.0;
    let h = 240.0;
    let pad = 40.0;
    let mut lo = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let mut hi = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    for l in [min, max].into_iter().flatten() {
        lo = lo.min(l);
        hi = hi.max(l);
    }
    if !lo.is_finite() || !hi.is_finite() {
        lo = 0.0;
        hi = 1.0;
    }
    if (hi - lo).abs() < f64::EPSILON {
        hi = lo + 1.0;
    }
    let margin = (hi - lo) * 0.1;
    let (lo, hi) = (lo - margin, hi + margin);
    let n = points.len().max(2) as f64 - 1.0;
    let x = |i: usize| pad + (i as f64) / n * (w - 2.0 * pad);
    let y = |v: f64| h - pad - (v - lo) / (hi - lo) * (h - 2.0 * pad);
    let path: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!(
                "{}{:.1},{:.1}",
                if i == 0 { "M" } else { "L" },
                x(i),
                y(p.1)
            )
        })
        .collect();
    let out = |v: f64| min.is_some_and(|m| v < m) || max.is_some_and(|m| v > m);
    html! {
        svg class="chart" role="img" viewBox=(format!("0 0 {w} {h}")) xmlns="http://www.w3.org/2000/svg" {
            title { (title) }
            desc { (points.len()) " points" @if let Some(m) = min { "; lower limit " (fmt(m)) } @if let Some(m) = max { "; upper limit " (fmt(m)) } }
            line x1=(pad) y1=(h - pad) x2=(w - pad) y2=(h - pad) class="axis" {}
            line x1=(pad) y1=(pad) x2=(pad) y2=(h - pad) class="axis" {}
            text x=(pad - 4.0) y=(y(hi - margin) + 4.0) text-anchor="end" class="tick" { (fmt(hi - margin)) }
            text x=(pad - 4.0) y=(y(lo + margin) + 4.0) text-anchor="end" class="tick" { (fmt(lo + margin)) }
            @for (limit, class) in [(min, "limit"), (max, "limit")] {
                @if let Some(l) = limit {
                    line x1=(pad) y1=(format!("{:.1}", y(l))) x2=(w - pad) y2=(format!("{:.1}", y(l))) class=(class) {}
                    text x=(w - pad + 4.0) y=(y(l) + 4.0) class="tick" { (fmt(l)) }
                }
            }
            @if !points.is_empty() {
                path d=(path.join(" ")) class="series" {}
            }
            @for (i, p) in points.iter().enumerate() {
                circle cx=(format!("{:.1}", x(i))) cy=(format!("{:.1}", y(p.1))) r="4" class=(if out(p.1) { "point out" } else { "point" }) {
                    title { (p.0) ": " (fmt(p.1)) }
                }
            }
        }
    }
}

/// A number as people read it: integers without decimals, others with up to three.
pub fn fmt(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_naturally() {
        assert_eq!(fmt(12.0), "12");
        assert_eq!(fmt(2.71234), "2.712");
        assert_eq!(fmt(0.5), "0.5");
    }

    #[test]
    fn out_of_limit_points_are_marked() {
        let pts = vec![("a".to_string(), 5.0), ("b".to_string(), 11.0)];
        let s = line("t", &pts, Some(0.0), Some(10.0)).into_string();
        assert_eq!(s.matches("point out").count(), 1, "{s}");
        let b = bars("t", &[("x".into(), 2.0)], "u").into_string();
        assert!(
            b.contains("<title>t</title>") && b.contains("class=\"bar\""),
            "{b}"
        );
    }
}
