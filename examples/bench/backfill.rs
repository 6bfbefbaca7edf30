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
}

/// Reads `backfill_bench`'s lines: a name padded to 44 columns, then `<secs> s <rate> rows/s`.
fn parse(stdout: &str) -> Vec<Variant> {
    stdout
        .lines()
        .filter_map(|line| {
            let (name, rest) = line.split_at_checked(44)?;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            match fields.as_slice() {
                [secs, "s", rate, "rows/s"] => Some(Variant {
                    name: name.trim().to_owned(),
                    took: Duration::from_secs_f64(secs.parse().ok()?),
                    rows_per_second: rate.parse().ok()?,
                }),
                _ => None,
            }
        })
        .collect()
}

/// Runs `backfill_bench --rows rows` (built in release mode) and returns its variants.
pub fn bench(rows: u64) -> Result<Vec<Variant>, String> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args(["run", "--release", "--quiet", "--example", "backfill_bench", "--", "--rows"])
        .arg(rows.to_string())
        .current_dir(workspace)
        .output()
        .map_err(|e| format!("running backfill_bench: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{}", stdout.lines().map(|l| format!("  {l}\n")).collect::<String>());
    if !out.status.success() {
        return Err(format!("backfill_bench failed:\n{}", String::from_utf8_lossy(&out.stderr)));
    }
    let variants = parse(&stdout);
    if variants.is_empty() {
        return Err(format!("backfill_bench printed no result this benchmark can read:\n{stdout}"));
    }
    Ok(variants)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_table() {
        let out = format!(
            "backfill of ... on 10 rows\n{:<44} {:>10} {:>19}\n{:<44} {:>8.2} s {:>12.0} rows/s\n",
            "variant", "time", "throughput", "single UPDATE (one transaction)", 1.5, 666_666.0
        );
        let v = parse(&out);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].name, "single UPDATE (one transaction)");
        assert_eq!(v[0].took, Duration::from_millis(1500));
        assert_eq!(v[0].rows_per_second, 666_666.0);
    }
}
