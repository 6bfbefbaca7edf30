//! The picture: application latency over time, one panel per run, with the migration steps and the
//! long read marked. Hand-written SVG, no dependency.

use std::fmt::Write;
use std::time::Duration;

use crate::stats::Series;
use crate::steps::StepMark;

/// One run's panel.
pub struct Panel<'a> {
    pub title: String,
    /// Key figures, shown under the title.
    pub figures: String,
    pub series: &'a Series,
    pub marks: &'a [StepMark],
    /// Colour of the step marks.
    pub color: &'static str,
    /// When the long read held its transaction open.
    pub long_read: (Duration, Duration),
    /// The end of the run: each panel's time axis is its own run's (runs differ a lot in length).
    pub end: Duration,
}

/// The whole picture.
pub struct Chart<'a> {
    pub title: String,
    /// A line under the title: parameters and how to read the lines.
    pub subtitle: String,
    pub panels: Vec<Panel<'a>>,
    /// A dashed line on the latency plots (the target: lock timeout + 100 ms).
    pub threshold: Duration,
    pub threshold_label: String,
    /// The paced request rate, dashed on the throughput strips.
    pub rate: f64,
}

const WIDTH: f64 = 1000.0;
const LEFT: f64 = 78.0;
const RIGHT: f64 = 24.0;
const BAND: f64 = 38.0;
const PLOT: f64 = 170.0;
const STRIP: f64 = 46.0;
const LINE: f64 = 14.0;
/// Latency axis, log scale, in seconds.
const Y_MIN: f64 = 1e-4;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `0.1 ms`, `10 ms`, `1 s`.
fn seconds_label(s: f64) -> String {
    if s < 1e-3 {
        format!("{} ms", s * 1e3)
    } else if s < 1.0 {
        format!("{:.0} ms", s * 1e3)
    } else {
        format!("{s:.0} s")
    }
}

/// A tick step giving at most about 12 ticks.
fn tick_step(max: f64) -> f64 {
    [1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0]
        .into_iter()
        .find(|s| max / s <= 12.0)
        .unwrap_or(600.0)
}

impl Chart<'_> {
    fn y_max(&self) -> f64 {
        let slowest = self
            .panels
            .iter()
            .flat_map(|p| p.series.max_latency.iter().flatten())
            .map(Duration::as_secs_f64)
            .fold(self.threshold.as_secs_f64(), f64::max);
        // Up to the next power of ten, so the axis has round labels.
        10f64.powf(slowest.log10().ceil()).max(1.0)
    }

    /// Renders the SVG document.
    pub fn render(&self) -> String {
        let y_max = self.y_max();
        let panel_heights: Vec<f64> = self
            .panels
            .iter()
            .map(|p| {
                2.0 * LINE
                    + 8.0
                    + BAND
                    + PLOT
                    + 22.0
                    + STRIP
                    + 26.0
                    + LINE * p.marks.len() as f64
                    + 24.0
            })
            .collect();
        let subtitle_lines: Vec<&str> = self.subtitle.lines().collect();
        let header = 42.0 + LINE * subtitle_lines.len() as f64;
        let height = header + panel_heights.iter().sum::<f64>();

        let mut s = String::new();
        let _ = writeln!(
            s,
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0}" viewBox="0 0 {WIDTH} {height:.0}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11">"##
        );
        let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
        let _ = writeln!(
            s,
            r##"<text x="{LEFT}" y="22" font-size="15" font-weight="bold">{}</text>"##,
            esc(&self.title)
        );
        for (i, line) in subtitle_lines.iter().enumerate() {
            let _ = writeln!(
                s,
                r##"<text x="{LEFT}" y="{:.1}" fill="#333">{}</text>"##,
                40.0 + LINE * i as f64,
                esc(line)
            );
        }

        let mut top = header;
        for (panel, h) in self.panels.iter().zip(&panel_heights) {
            let x_max = panel.end.as_secs_f64().max(1.0);
            let plot_w = WIDTH - LEFT - RIGHT;
            let x = |t: f64| LEFT + plot_w * (t / x_max).clamp(0.0, 1.0);
            self.panel(&mut s, panel, top, y_max, x_max, &x);
            top += h;
        }
        s.push_str("</svg>\n");
        s
    }

    fn panel(
        &self,
        s: &mut String,
        p: &Panel<'_>,
        top: f64,
        y_max: f64,
        x_max: f64,
        x: &dyn Fn(f64) -> f64,
    ) {
        let right = WIDTH - RIGHT;
        let _ = writeln!(
            s,
            r##"<text x="{LEFT}" y="{:.1}" font-size="13" font-weight="bold">{}</text>"##,
            top + LINE,
            esc(&p.title)
        );
        let _ = writeln!(
            s,
            r##"<text x="{LEFT}" y="{:.1}" fill="#333">{}</text>"##,
            top + 2.0 * LINE + 2.0,
            esc(&p.figures)
        );

        // Band: the long read and the steps.
        let band = top + 2.0 * LINE + 8.0;
        let (lr0, lr1) = (p.long_read.0.as_secs_f64(), p.long_read.1.as_secs_f64());
        let _ = writeln!(
            s,
            r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="9" fill="#9e9e9e"/><text x="{:.1}" y="{:.1}" fill="#555" text-anchor="end">long read</text>"##,
            x(lr0),
            band + 2.0,
            (x(lr1) - x(lr0)).max(1.0),
            LEFT - 6.0,
            band + 10.0
        );
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" fill="#555" text-anchor="end">steps</text>"##,
            LEFT - 6.0,
            band + 25.0
        );
        let plot_top = band + BAND;
        for (i, m) in p.marks.iter().enumerate() {
            let (a, b) = (
                x(m.start.as_secs_f64()),
                x(m.end.as_secs_f64()).max(x(m.start.as_secs_f64()) + 1.5),
            );
            let fill = if m.ok { p.color } else { "#b71c1c" };
            let _ = writeln!(
                s,
                r##"<rect x="{a:.1}" y="{:.1}" width="{:.1}" height="12" fill="{fill}" opacity="0.85"><title>{}</title></rect>"##,
                band + 15.0,
                b - a,
                esc(&m.label)
            );
            // Light shading down through the plots, so latency can be read against the steps.
            let _ = writeln!(
                s,
                r##"<rect x="{a:.1}" y="{plot_top:.1}" width="{:.1}" height="{:.1}" fill="{fill}" opacity="{}"/>"##,
                b - a,
                PLOT + 22.0 + STRIP,
                if i % 2 == 0 { "0.10" } else { "0.16" }
            );
            if b - a > 9.0 {
                let _ = writeln!(
                    s,
                    r##"<text x="{:.1}" y="{:.1}" fill="#fff" font-size="9" text-anchor="middle">{}</text>"##,
                    (a + b) / 2.0,
                    band + 24.5,
                    i + 1
                );
            }
            for r in &m.retries {
                let rx = x(r.as_secs_f64());
                let _ = writeln!(
                    s,
                    r##"<line x1="{rx:.1}" y1="{:.1}" x2="{rx:.1}" y2="{:.1}" stroke="#000" stroke-width="1.2"/>"##,
                    band + 13.0,
                    band + 29.0
                );
            }
        }

        // Latency plot, log scale.
        let y = |secs: f64| {
            let f = (secs.max(Y_MIN).log10() - Y_MIN.log10()) / (y_max.log10() - Y_MIN.log10());
            plot_top + PLOT * (1.0 - f.clamp(0.0, 1.0))
        };
        let _ = writeln!(
            s,
            r##"<rect x="{LEFT}" y="{plot_top:.1}" width="{:.1}" height="{PLOT}" fill="none" stroke="#888"/>"##,
            right - LEFT
        );
        let mut decade = Y_MIN;
        while decade <= y_max * 1.0001 {
            let yy = y(decade);
            let _ = writeln!(
                s,
                r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{right}" y2="{yy:.1}" stroke="#e0e0e0"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#555">{}</text>"##,
                LEFT - 6.0,
                yy + 4.0,
                seconds_label(decade)
            );
            decade *= 10.0;
        }
        let _ = writeln!(
            s,
            r##"<text x="14" y="{:.1}" transform="rotate(-90 14 {:.1})" text-anchor="middle" fill="#333">latency</text>"##,
            plot_top + PLOT / 2.0,
            plot_top + PLOT / 2.0
        );
        let ty = y(self.threshold.as_secs_f64());
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{ty:.1}" x2="{right}" y2="{ty:.1}" stroke="#2e7d32" stroke-dasharray="5,4"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#2e7d32">{}</text>"##,
            right - 4.0,
            ty - 4.0,
            esc(&self.threshold_label)
        );
        let bucket = p.series.bucket.as_secs_f64();
        for (values, color, width) in [
            (&p.series.median_latency, "#1f77b4", 1.2),
            (&p.series.max_latency, "#d62728", 1.4),
        ] {
            for run in polyline_runs(values, bucket, x, &y) {
                let _ = writeln!(
                    s,
                    r##"<polyline points="{run}" fill="none" stroke="{color}" stroke-width="{width}"/>"##
                );
            }
        }
        for (i, &n) in p.series.failures.iter().enumerate() {
            if n > 0 {
                let fx = x((i as f64 + 0.5) * bucket);
                let _ = writeln!(
                    s,
                    r##"<line x1="{fx:.1}" y1="{:.1}" x2="{fx:.1}" y2="{:.1}" stroke="#000" stroke-width="2"><title>{n} failed</title></line>"##,
                    plot_top,
                    plot_top + 7.0
                );
            }
        }

        // Throughput strip.
        let strip_top = plot_top + PLOT + 22.0;
        // Up to twice the paced rate: the burst that drains a backlog is clipped, the dip stays visible.
        let t_max = self.rate * 2.0;
        let ys = |v: f64| strip_top + STRIP * (1.0 - (v / t_max).clamp(0.0, 1.0));
        let _ = writeln!(
            s,
            r##"<rect x="{LEFT}" y="{strip_top:.1}" width="{:.1}" height="{STRIP}" fill="none" stroke="#888"/>"##,
            right - LEFT
        );
        let mut area = format!("{:.1},{:.1}", x(0.0), ys(0.0));
        for (i, v) in p.series.throughput.iter().enumerate() {
            let _ = write!(
                area,
                " {:.1},{:.1} {:.1},{:.1}",
                x(i as f64 * bucket),
                ys(*v),
                x((i + 1) as f64 * bucket),
                ys(*v)
            );
        }
        let _ = write!(
            area,
            " {:.1},{:.1}",
            x(p.series.throughput.len() as f64 * bucket),
            ys(0.0)
        );
        let _ = writeln!(
            s,
            r##"<polygon points="{area}" fill="#90a4ae" opacity="0.8"/>"##
        );
        let ry = ys(self.rate);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{ry:.1}" x2="{right}" y2="{ry:.1}" stroke="#37474f" stroke-dasharray="3,3"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#555">{:.0}/s</text><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#333">answered</text>"##,
            LEFT - 6.0,
            ry + 4.0,
            self.rate,
            LEFT - 6.0,
            strip_top + STRIP - 3.0
        );

        // Time axis.
        let axis = strip_top + STRIP;
        let step = tick_step(x_max);
        let mut t = 0.0;
        while t <= x_max + 1e-9 {
            let tx = x(t);
            let _ = writeln!(
                s,
                r##"<line x1="{tx:.1}" y1="{axis:.1}" x2="{tx:.1}" y2="{:.1}" stroke="#888"/><text x="{tx:.1}" y="{:.1}" text-anchor="middle" fill="#555">{t:.0} s</text>"##,
                axis + 4.0,
                axis + 15.0
            );
            t += step;
        }

        // Legend: the steps, numbered as in the band.
        let mut ly = axis + 26.0 + LINE;
        for (i, m) in p.marks.iter().enumerate() {
            let secs = (m.end - m.start).as_secs_f64();
            let attempts = if m.attempts > 1 {
                format!(", {} attempts", m.attempts)
            } else {
                String::new()
            };
            let failed = if m.ok { "" } else { ", FAILED" };
            // The full label is in the step's tooltip; the legend keeps one line.
            let label: String = if m.label.chars().count() > 100 {
                m.label
                    .chars()
                    .take(99)
                    .chain(std::iter::once('…'))
                    .collect()
            } else {
                m.label.clone()
            };
            let _ = writeln!(
                s,
                r##"<text x="{LEFT}" y="{ly:.1}" fill="#333"><tspan font-weight="bold">{}.</tspan> {} <tspan fill="#777">({:.2} s, lock {}{attempts}{failed})</tspan></text>"##,
                i + 1,
                esc(&label),
                secs,
                esc(&m.lock)
            );
            ly += LINE;
        }
    }
}

/// Consecutive buckets with a value, as SVG `points` strings (a gap breaks the line).
fn polyline_runs(
    values: &[Option<Duration>],
    bucket: f64,
    x: &dyn Fn(f64) -> f64,
    y: &dyn Fn(f64) -> f64,
) -> Vec<String> {
    let mut runs = Vec::new();
    let mut current = String::new();
    for (i, v) in values.iter().enumerate() {
        match v {
            Some(d) => {
                let _ = write!(
                    current,
                    "{:.1},{:.1} ",
                    x((i as f64 + 0.5) * bucket),
                    y(d.as_secs_f64())
                );
            }
            None if !current.is_empty() => runs.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_axes_have_round_ticks() {
        assert_eq!(
            esc(r#"a < b & "c" > d"#),
            "a &lt; b &amp; &quot;c&quot; &gt; d"
        );
        assert_eq!(tick_step(9.0), 1.0);
        assert_eq!(tick_step(140.0), 20.0);
        assert_eq!(seconds_label(1e-4), "0.1 ms");
        assert_eq!(seconds_label(0.01), "10 ms");
        assert_eq!(seconds_label(10.0), "10 s");
    }

    #[test]
    fn a_gap_breaks_the_line() {
        let ms = |n| Some(Duration::from_millis(n));
        let runs = polyline_runs(&[ms(1), ms(2), None, ms(3)], 0.1, &|t| t * 10.0, &|s| {
            s * 1000.0
        });
        assert_eq!(runs, ["0.5,1.0 1.5,2.0 ", "3.5,3.0 "]);
    }
}
