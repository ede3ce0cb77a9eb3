//! Draws [`plots::predicted_vs_observed`] from a CSV of rows, for results whose predicted and
//! observed figures a results folder's own script has gathered (for example the jitter-window
//! sizing: one row per window and figure).
//!
//! ```sh
//! cargo run -p plots --example predicted_observed_rows -- ROWS.csv OUT.svg
//! ```
//!
//! `ROWS.csv` has the header `scenario,figure,mean,lo,hi,observed`: the prediction's mean and
//! interval, and the observations separated by `;` (empty: none).

use std::process::ExitCode;

use measure::Stat;
use plots::PredictedObserved;

fn read_rows(path: &str) -> Result<Vec<PredictedObserved>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let mut lines = text.lines();
    let head = lines.next().unwrap_or("");
    if head != "scenario,figure,mean,lo,hi,observed" {
        return Err(format!(
            "{path}: the header must be scenario,figure,mean,lo,hi,observed (got {head:?})"
        ));
    }
    let num = |line: &str, what: &str, v: &str| -> Result<f64, String> {
        v.parse::<f64>()
            .map_err(|e| format!("{path}: {line}: {what} {v:?}: {e}"))
    };
    let mut rows = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 6 {
            return Err(format!(
                "{path}: {line}: 6 fields expected, got {}",
                f.len()
            ));
        }
        let observed = f[5]
            .split(';')
            .filter(|v| !v.is_empty())
            .map(|v| num(line, "observed", v))
            .collect::<Result<Vec<f64>, String>>()?;
        rows.push(PredictedObserved {
            scenario: f[0].to_string(),
            figure: f[1].to_string(),
            predicted: Stat {
                mean: num(line, "mean", f[2])?,
                lo: num(line, "lo", f[3])?,
                hi: num(line, "hi", f[4])?,
            },
            observed,
        });
    }
    Ok(rows)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [rows, out] = args.as_slice() else {
        eprintln!("usage: predicted_observed_rows ROWS.csv OUT.svg");
        return ExitCode::from(2);
    };
    match read_rows(rows)
        .and_then(|r| plots::predicted_vs_observed(&r, out).map_err(|e| format!("{out}: {e}")))
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("predicted_observed_rows: {e}");
            ExitCode::FAILURE
        }
    }
}
