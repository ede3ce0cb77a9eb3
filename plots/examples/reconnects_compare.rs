//! Draws reconnect curves of several runs on the same axes with [`plots::reconnect_curves`]:
//! a live run's `reconnects.csv` (`t_s,new_connections`, `fleetsim analyze`) beside a
//! simulator's (`seed,t_ms,new_connections`, `fleetsim run`; its first seed), both 10 ms buckets.
//!
//! ```sh
//! cargo run -p plots --example reconnects_compare -- OUT.svg "TITLE" WINDOW_FROM,WINDOW_TO \
//!     [RANGE_FROM,RANGE_TO|all] NAME=reconnects.csv [NAME=reconnects.csv ...]
//! ```

use std::process::ExitCode;

/// New connections per 10 ms bucket from either CSV shape.
fn read_curve(path: &str) -> Result<Vec<u64>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let col = |name: &str| head.iter().position(|h| *h == name);
    let n = col("new_connections").ok_or(format!("{path}: no new_connections column"))?;
    let (t, scale) = match (col("t_s"), col("t_ms")) {
        (Some(t), _) => (t, 100.0),
        (None, Some(t)) => (t, 0.1),
        _ => return Err(format!("{path}: no t_s or t_ms column")),
    };
    let seed = col("seed");
    let mut first_seed = None;
    let mut out = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        if let Some(s) = seed {
            let s = f[s];
            if *first_seed.get_or_insert(s.to_string()) != s {
                continue;
            }
        }
        let t: f64 = f[t].parse().map_err(|e| format!("{path}: {line}: {e}"))?;
        let v: u64 = f[n].parse().map_err(|e| format!("{path}: {line}: {e}"))?;
        let i = (t * scale).round() as usize;
        if out.len() <= i {
            out.resize(i + 1, 0);
        }
        out[i] += v;
    }
    Ok(out)
}

fn pair(s: &str) -> Result<[f64; 2], String> {
    let (a, b) = s.split_once(',').ok_or(format!("{s}: expected FROM,TO"))?;
    Ok([
        a.parse().map_err(|e| format!("{s}: {e}"))?,
        b.parse().map_err(|e| format!("{s}: {e}"))?,
    ])
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let run = || -> Result<(), String> {
        let [out, title, window, range, curves @ ..] = args.as_slice() else {
            return Err("usage: OUT TITLE FROM,TO RANGE|all NAME=CSV...".into());
        };
        let range = (range != "all").then(|| pair(range)).transpose()?;
        let mut named = Vec::new();
        for c in curves {
            let (name, path) = c.split_once('=').ok_or(format!("{c}: expected NAME=CSV"))?;
            named.push((name.to_string(), read_curve(path)?));
        }
        let list: Vec<plots::NamedCurve<'_>> = named
            .iter()
            .map(|(name, v)| plots::NamedCurve { name, per_10ms: v })
            .collect();
        plots::reconnect_curves(&list, pair(window)?, range, title, out).map_err(|e| e.to_string())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("reconnects_compare: {e}");
            ExitCode::FAILURE
        }
    }
}
