//! Backfill of 1M rows: zerodown's batched backfill against a single `UPDATE`.
//!
//! Measured by the `backfill_bench` example (which loads a fresh copy of the table per variant and
//! checks that every row was updated); this runs it and reads its table, so the measurement exists
//! once.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// One line of `backfill_bench`'s table.
#[derive(Debug, Clone)]
pub struct Variant {
    pub name: String,
    pub took: Duration,
    pub rows_per_second: f64,
    /// The ETA reported at 10% of the main pass against the time the rest actually took:
    /// `(predicted, actual)`, from the line `backfill_bench` prints after the variant's.
    pub eta_at_tenth: Option<(Duration, Duration)>,
    /// The median of the paired speed ratios against the single `UPDATE` (the defaults only),
    /// from the `speed of the defaults` line.
    pub paired_speed: Option<f64>,
}

/// Reads `backfill_bench`'s lines: a name padded to 44 columns, then `<secs> s <rate> rows/s`,
/// and the variant's `  eta at 10% of the main pass: <p> s predicted, <a> s actual (..)` line.
fn parse(stdout: &str) -> Vec<Variant> {
    let mut variants: Vec<Variant> = Vec::new();
    for line in stdout.lines() {
        if let Some(paired) = line
            .trim()
            .strip_prefix("speed of the defaults against the single UPDATE:")
        {
            let ratio = paired.split_whitespace().next().unwrap_or_default();
            if let (Ok(ratio), Some(last)) =
                (ratio.trim_end_matches('x').parse(), variants.last_mut())
            {
                last.paired_speed = Some(ratio);
            }
            continue;
        }
        if let Some(eta) = line.trim().strip_prefix("eta at 10% of the main pass:") {
            let fields: Vec<&str> = eta.split_whitespace().collect();
            if let ([predicted, "s", "predicted,", actual, "s", "actual", ..], Some(last)) =
                (fields.as_slice(), variants.last_mut())
            {
                let secs = |s: &str| s.parse().ok().map(Duration::from_secs_f64);
                last.eta_at_tenth = secs(predicted).zip(secs(actual));
            }
            continue;
        }
        let Some((name, rest)) = line.split_at_checked(44) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if let [secs, "s", rate, "rows/s"] = fields.as_slice() {
            if let (Ok(secs), Ok(rate)) = (secs.parse(), rate.parse()) {
                variants.push(Variant {
                    name: name.trim().to_owned(),
                    took: Duration::from_secs_f64(secs),
                    rows_per_second: rate,
                    eta_at_tenth: None,
                    paired_speed: None,
                });
            }
        }
    }
    variants
}

/// Runs `backfill_bench --rows rows --reps reps` (built in release mode) and returns its variants.
pub fn bench(rows: u64, reps: usize) -> Result<Vec<Variant>, String> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args([
            "run",
            "--release",
            "--quiet",
            "--example",
            "backfill_bench",
            "--",
            "--rows",
        ])
        .arg(rows.to_string())
        .arg("--reps")
        .arg(reps.to_string())
        .current_dir(workspace)
        .output()
        .map_err(|e| format!("running backfill_bench: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!(
        "{}",
        stdout
            .lines()
            .map(|l| format!("  {l}\n"))
            .collect::<String>()
    );
    if !out.status.success() {
        return Err(format!(
            "backfill_bench failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let variants = parse(&stdout);
    if variants.is_empty() {
        return Err(format!(
            "backfill_bench printed no result this benchmark can read:\n{stdout}"
        ));
    }
    Ok(variants)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_table() {
        let out = format!(
            "backfill of ... on 10 rows\n{:<44} {:>10} {:>19}\n{:<44} {:>8.2} s {:>12.0} rows/s\n{:<44} {:>8.2} s {:>12.0} rows/s\n  eta at 10% of the main pass: 2.70 s predicted, 3.00 s actual (-10%)\n",
            "variant", "time", "throughput", "single UPDATE (one transaction)", 1.5, 666_666.0,
            "zerodown, defaults (adaptive, 150 ms)", 3.5, 285_714.0
        ) + "  speed of the defaults against the single UPDATE: 0.43x (median of 3 paired runs; from 0.41x to 0.45x)\n";
        let v = parse(&out);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].name, "single UPDATE (one transaction)");
        assert_eq!(v[0].took, Duration::from_millis(1500));
        assert_eq!(v[0].rows_per_second, 666_666.0);
        assert_eq!(v[0].eta_at_tenth, None);
        assert_eq!((v[0].paired_speed, v[1].paired_speed), (None, Some(0.43)));
        assert_eq!(
            v[1].eta_at_tenth,
            Some((Duration::from_millis(2700), Duration::from_millis(3000)))
        );
    }
}
