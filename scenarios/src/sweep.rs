//! Sweeps: a grid of settings (`--vary path=range`), every point run over the same seeds, one
//! CSV row per point; shards (`--shard K/N`) and `merge`, byte-identical to an unsharded run.
//!
//! A `--vary` is `dotted.path=SPEC` where SPEC is
//! - a range of durations `0s..20s/1s` or of numbers `1..5/1`, `0.5..1.5/0.25` (both ends
//!   included), or
//! - a comma list `1,2,4` / `100ms,1s` / `true,false` / `poisson,constant`.
//!
//! Points are the cartesian product, the first `--vary` outermost; point `i` belongs to shard
//! `i % N`, so every shard gets a spread of the grid.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::str::FromStr;

use measure::{Aggregate, HEADLINE_FIGURES, Summary};
use serde::{Deserialize, Serialize};
use sim_core::SimDuration;
use toml::Value;

use crate::error::ScenarioError;
use crate::load::Source;
use crate::runner::{SeedRun, par_map};
use crate::table::Table;

/// Most levels one `--vary` may have, and most points a sweep may have.
const MAX_LEVELS: u64 = 10_000;
const MAX_POINTS: usize = 1_000_000;

/// `schema` of `sweep.json`.
pub const SWEEP_SCHEMA: &str = "fleetsim.sweep/1";

/// One setting of a varied field.
#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    /// As written in the CSV.
    pub label: String,
    /// As set in the scenario's TOML.
    pub value: Value,
    /// Order for "smallest": the number, the duration in ns, or the list position.
    pub key: f64,
}

/// One `--vary path=SPEC`.
#[derive(Debug, Clone, PartialEq)]
pub struct Vary {
    pub path: String,
    /// The whole argument as given, `path=SPEC`.
    pub spec: String,
    pub levels: Vec<Level>,
}

impl FromStr for Vary {
    type Err = String;

    fn from_str(s: &str) -> Result<Vary, String> {
        let (path, spec) = s.split_once('=').ok_or_else(|| {
            format!("{s:?}: expected path=values, like lifecycle.prestop=0s..20s/1s")
        })?;
        let path = path.trim();
        let spec = spec.trim();
        if path.is_empty()
            || path.split('.').any(|k| {
                k.is_empty()
                    || !k
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            })
        {
            return Err(format!(
                "{path:?} is not a dotted field path like lifecycle.prestop"
            ));
        }
        if spec.is_empty() {
            return Err(format!("{path}: no values after '='"));
        }
        let levels = if let Some((from, rest)) = spec.split_once("..") {
            let (to, step) = rest
                .rsplit_once('/')
                .ok_or_else(|| format!("{path}: a range needs a step: {from}..{rest}/STEP"))?;
            range(from.trim(), to.trim(), step.trim()).map_err(|e| format!("{path}: {e}"))?
        } else {
            list(spec)
        };
        Ok(Vary {
            path: path.to_string(),
            spec: format!("{path}={spec}"),
            levels,
        })
    }
}

fn has_unit(s: &str) -> bool {
    s.ends_with(|c: char| c.is_ascii_alphabetic())
}

/// A duration as short as it reads back exactly: `1500ms`, `2s`, `250us`.
pub fn fmt_duration(ns: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1_000_000_000, "s"), (1_000_000, "ms"), (1_000, "us")];
    if ns == 0 {
        return "0s".into();
    }
    for (per, unit) in UNITS {
        if ns.is_multiple_of(per) {
            return format!("{}{unit}", ns / per);
        }
    }
    format!("{ns}ns")
}

fn range(from: &str, to: &str, step: &str) -> Result<Vec<Level>, String> {
    if has_unit(from) || has_unit(to) || has_unit(step) {
        let d = |s: &str| {
            s.parse::<SimDuration>()
                .map(SimDuration::as_nanos)
                .map_err(|e| e.to_string())
        };
        let (a, b, st) = (d(from)?, d(to)?, d(step)?);
        let n = count(a as f64, b as f64, st as f64)?;
        return Ok((0..n)
            .map(|i| {
                let ns = a + i * st;
                Level {
                    label: fmt_duration(ns),
                    value: Value::String(fmt_duration(ns)),
                    key: ns as f64,
                }
            })
            .collect());
    }
    if let (Ok(a), Ok(b), Ok(st)) = (from.parse::<i64>(), to.parse::<i64>(), step.parse::<i64>()) {
        let n = count(a as f64, b as f64, st as f64)?;
        return Ok((0..n as i64)
            .map(|i| {
                let v = a + i * st;
                Level {
                    label: v.to_string(),
                    value: Value::Integer(v),
                    key: v as f64,
                }
            })
            .collect());
    }
    let f = |s: &str| {
        s.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| format!("{s:?} is neither a number nor a duration like 250ms"))
    };
    let (a, b, st) = (f(from)?, f(to)?, f(step)?);
    let decimals = [from, to, step]
        .iter()
        .map(|s| s.split_once('.').map_or(0, |(_, frac)| frac.len()))
        .max()
        .unwrap_or(0);
    let n = count(a, b, st)?;
    Ok((0..n)
        .map(|i| {
            let label = format!("{:.decimals$}", a + i as f64 * st);
            let v: f64 = label.parse().expect("a formatted float parses");
            Level {
                label,
                value: Value::Float(v),
                key: v,
            }
        })
        .collect())
}

fn count(a: f64, b: f64, step: f64) -> Result<u64, String> {
    if step.is_nan() || step <= 0.0 {
        return Err("the step must be greater than zero".into());
    }
    if b < a {
        return Err("the range ends before it starts".into());
    }
    let n = ((b - a) / step + 1e-9).floor() + 1.0;
    if n > MAX_LEVELS as f64 {
        return Err(format!("{n} levels, more than {MAX_LEVELS}"));
    }
    Ok(n as u64)
}

fn list(spec: &str) -> Vec<Level> {
    let items: Vec<&str> = spec.split(',').map(str::trim).collect();
    let values: Vec<Value> = items
        .iter()
        .map(|item| {
            toml::from_str::<toml::Table>(&format!("v = {item}"))
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or_else(|| Value::String(item.to_string()))
        })
        .collect();
    let numeric: Option<Vec<f64>> = values
        .iter()
        .map(|v| match v {
            Value::Integer(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        })
        .collect();
    let durations: Option<Vec<f64>> = values
        .iter()
        .map(|v| {
            v.as_str()
                .and_then(|s| s.parse::<SimDuration>().ok())
                .map(|d| d.as_nanos() as f64)
        })
        .collect();
    let keys = numeric
        .or(durations)
        .unwrap_or_else(|| (0..items.len()).map(|i| i as f64).collect());
    items
        .iter()
        .zip(values)
        .zip(keys)
        .map(|((label, value), key)| Level {
            label: label.to_string(),
            value,
            key,
        })
        .collect()
}

/// `--shard K/N`: the points `i` with `i % N == K`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub k: usize,
    pub n: usize,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Shard, String> {
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?}: expected K/N, like 0/4"))?;
        let k: usize = k
            .trim()
            .parse()
            .map_err(|_| format!("{s:?}: K must be a whole number"))?;
        let n: usize = n
            .trim()
            .parse()
            .map_err(|_| format!("{s:?}: N must be a whole number"))?;
        if n == 0 {
            return Err(format!("{s:?}: N must be at least 1"));
        }
        if k >= n {
            return Err(format!(
                "{s:?}: K must be below N (shards are numbered 0..N-1)"
            ));
        }
        Ok(Shard { k, n })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

/// The grid of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    pub varies: Vec<Vary>,
}

impl Grid {
    pub fn new(varies: Vec<Vary>) -> Result<Grid, String> {
        if varies.is_empty() {
            return Err("a sweep needs at least one --vary".into());
        }
        for (i, v) in varies.iter().enumerate() {
            if varies[..i].iter().any(|w| w.path == v.path) {
                return Err(format!("--vary {} is given twice", v.path));
            }
        }
        let total = varies
            .iter()
            .try_fold(1usize, |acc, v| acc.checked_mul(v.levels.len()));
        match total {
            Some(n) if n <= MAX_POINTS => Ok(Grid { varies }),
            _ => Err(format!("the sweep has more than {MAX_POINTS} points")),
        }
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.varies.iter().map(|v| v.levels.len()).product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The level index of each vary at point `i` (first vary outermost).
    pub fn levels_of(&self, mut i: usize) -> Vec<usize> {
        let mut out = vec![0; self.varies.len()];
        for (d, v) in self.varies.iter().enumerate().rev() {
            out[d] = i % v.levels.len();
            i /= v.levels.len();
        }
        out
    }

    /// The points of one shard (all points without one), ascending.
    pub fn points(&self, shard: Option<Shard>) -> Vec<usize> {
        let (k, n) = shard.map_or((0, 1), |s| (s.k, s.n));
        (k..self.len()).step_by(n).collect()
    }

    /// The scenario at point `i`.
    pub fn apply(&self, source: &Source, i: usize) -> Result<Source, ScenarioError> {
        let mut s = source.clone();
        for (v, l) in self.varies.iter().zip(self.levels_of(i)) {
            s.set(&v.path, v.levels[l].value.clone())?;
        }
        Ok(s)
    }

    /// `path=label` of every vary at point `i`.
    pub fn describe(&self, i: usize) -> String {
        self.varies
            .iter()
            .zip(self.levels_of(i))
            .map(|(v, l)| format!("{}={}", v.path, v.levels[l].label))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// `sweep.json`: what was swept, so shards can be checked and merged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepMeta {
    pub schema: String,
    pub scenario: String,
    pub first_seed: u64,
    pub seeds: usize,
    /// Every `--vary` as given.
    pub vary: Vec<String>,
    pub points: usize,
    /// The figures, one column each (mean over seeds).
    pub figures: Vec<String>,
    /// `null` for a whole sweep (unsharded or merged).
    pub shard: Option<Shard>,
}

impl SweepMeta {
    pub fn new(
        scenario: &str,
        grid: &Grid,
        first_seed: u64,
        seeds: usize,
        shard: Option<Shard>,
    ) -> SweepMeta {
        SweepMeta {
            schema: SWEEP_SCHEMA.into(),
            scenario: scenario.into(),
            first_seed,
            seeds,
            vary: grid.varies.iter().map(|v| v.spec.clone()).collect(),
            points: grid.len(),
            figures: HEADLINE_FIGURES.iter().map(|s| s.to_string()).collect(),
            shard,
        }
    }

    pub fn grid(&self) -> Result<Grid, String> {
        Grid::new(
            self.vary
                .iter()
                .map(|s| s.parse())
                .collect::<Result<_, _>>()?,
        )
    }
}

/// One CSV row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub point: usize,
    /// The CSV line, no newline.
    pub line: String,
    /// `None` when the point's scenario was invalid.
    pub zero_loss: Option<bool>,
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"").replace(['\n', '\r'], " "))
    } else {
        s.to_string()
    }
}

/// Splits one CSV line into fields, honouring double quotes.
pub fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// The CSV header.
pub fn header(grid: &Grid) -> String {
    let mut cols = vec!["point".to_string()];
    cols.extend(grid.varies.iter().map(|v| csv_field(&v.path)));
    cols.extend(HEADLINE_FIGURES.iter().map(|s| s.to_string()));
    cols.push("zero_loss".into());
    cols.push("note".into());
    cols.join(",")
}

/// A point's row from its seeds' summaries.
pub fn row(grid: &Grid, point: usize, result: Result<&[Summary], &str>) -> Row {
    let mut cols = vec![point.to_string()];
    cols.extend(
        grid.varies
            .iter()
            .zip(grid.levels_of(point))
            .map(|(v, l)| csv_field(&v.levels[l].label)),
    );
    let zero_loss = match result {
        Ok(summaries) => {
            let agg = Aggregate::of(summaries);
            let mean = |f: &str| agg.figure(f).map(|s| s.mean);
            cols.extend(
                HEADLINE_FIGURES
                    .iter()
                    .map(|f| mean(f).map(|m| m.to_string()).unwrap_or_default()),
            );
            let zero = ["failed", "jobs.lost", "jobs.duplicated"]
                .iter()
                .all(|f| mean(f) == Some(0.0));
            cols.push(zero.to_string());
            cols.push(String::new());
            Some(zero)
        }
        Err(note) => {
            cols.extend(HEADLINE_FIGURES.iter().map(|_| String::new()));
            cols.push(String::new());
            cols.push(csv_field(note));
            None
        }
    };
    Row {
        point,
        line: cols.join(","),
        zero_loss,
    }
}

/// The zero-loss points no other zero-loss point is smaller than or equal to in every varied
/// field (the "smallest settings that reach zero loss"), ascending by point.
pub fn smallest_zero_loss(grid: &Grid, rows: &[Row]) -> Vec<usize> {
    let zero: Vec<usize> = rows
        .iter()
        .filter(|r| r.zero_loss == Some(true))
        .map(|r| r.point)
        .collect();
    pareto_smallest(grid, &zero)
}

/// The points of `points` that no other point of `points` is smaller than or equal to in every
/// varied field, ascending.
pub fn pareto_smallest(grid: &Grid, points: &[usize]) -> Vec<usize> {
    let keys = |p: usize| -> Vec<f64> {
        grid.varies
            .iter()
            .zip(grid.levels_of(p))
            .map(|(v, l)| v.levels[l].key)
            .collect()
    };
    let keyed: Vec<(usize, Vec<f64>)> = points.iter().map(|&p| (p, keys(p))).collect();
    let dominated = |a: &[f64]| {
        keyed.iter().any(|(_, b)| {
            b.iter().zip(a).all(|(x, y)| x <= y) && b.iter().zip(a).any(|(x, y)| x < y)
        })
    };
    let mut out: Vec<usize> = keyed
        .iter()
        .filter(|(_, k)| !dominated(k))
        .map(|(p, _)| *p)
        .collect();
    out.sort_unstable();
    out
}

/// The result of a sweep (or of one shard).
#[derive(Debug, Clone, PartialEq)]
pub struct SweepResult {
    pub meta: SweepMeta,
    pub grid: Grid,
    pub rows: Vec<Row>,
    /// Simulated events over every point and seed (0 after a merge).
    pub events: u64,
    /// Simulations run.
    pub simulations: usize,
    /// Simulations whose rollout had not finished by the simulated time cap (0 after a merge).
    pub cut_by_time_cap: usize,
}

/// A sweep's work, described: the scenario, the grid, the seeds and the slice.
pub struct SweepSpec<'a> {
    pub source: &'a Source,
    pub grid: Grid,
    pub seeds: Vec<u64>,
    pub shard: Option<Shard>,
}

/// Runs every point of the slice over every seed. `prepare` turns a point's scenario into a
/// configuration (deserialize and validate); an invalid point gets a row with the reason.
/// `simulate` runs one seed. Units `(point, seed)` are spread over `threads`.
pub fn run_sweep<C, P, F>(
    spec: &SweepSpec<'_>,
    threads: usize,
    on_done: &(dyn Fn() + Sync),
    prepare: P,
    simulate: F,
) -> Result<SweepResult, String>
where
    C: Sync,
    P: Fn(&Source) -> Result<C, ScenarioError>,
    F: Fn(&C, u64) -> Result<SeedRun, String> + Sync,
{
    let grid = &spec.grid;
    let points = grid.points(spec.shard);
    let configs: Vec<Result<C, String>> = points
        .iter()
        .map(|&p| {
            grid.apply(spec.source, p)
                .and_then(|s| prepare(&s))
                .map_err(|e| e.to_string().replace('\n', "; "))
        })
        .collect();
    let valid: Vec<usize> = (0..points.len()).filter(|&i| configs[i].is_ok()).collect();
    let nseeds = spec.seeds.len();
    let units = valid.len() * nseeds;
    let results = par_map(units, threads, on_done, |u| {
        let idx = valid[u / nseeds];
        let seed = spec.seeds[u % nseeds];
        let config = configs[idx].as_ref().expect("only valid points are run");
        simulate(config, seed).map(|r| (r.analysis.summary, r.events, r.rollout_complete))
    });
    let mut per_point: BTreeMap<usize, Vec<Summary>> = BTreeMap::new();
    let mut events = 0;
    let mut cut_by_time_cap = 0;
    for (u, r) in results.into_iter().enumerate() {
        let idx = valid[u / nseeds];
        let (summary, ev, rollout_complete) = r.map_err(|e| {
            format!(
                "point {} ({}), seed {}: {e}",
                points[idx],
                grid.describe(points[idx]),
                spec.seeds[u % nseeds]
            )
        })?;
        events += ev;
        cut_by_time_cap += usize::from(!rollout_complete);
        per_point.entry(idx).or_default().push(summary);
    }
    let rows = points
        .iter()
        .enumerate()
        .map(|(idx, &p)| match &configs[idx] {
            Ok(_) => row(
                grid,
                p,
                Ok(per_point.get(&idx).map_or(&[][..], Vec::as_slice)),
            ),
            Err(e) => row(grid, p, Err(e)),
        })
        .collect();
    Ok(SweepResult {
        meta: SweepMeta::new(
            &spec.source.name,
            grid,
            spec.seeds.first().copied().unwrap_or(0),
            nseeds,
            spec.shard,
        ),
        grid: grid.clone(),
        rows,
        events,
        simulations: units,
        cut_by_time_cap,
    })
}

impl SweepResult {
    /// The CSV: header and one row per point.
    pub fn csv(&self) -> String {
        let mut out = header(&self.grid);
        out.push('\n');
        for r in &self.rows {
            out.push_str(&r.line);
            out.push('\n');
        }
        out
    }

    /// Whether this holds every point (unsharded, or merged).
    pub fn is_whole(&self) -> bool {
        self.meta.shard.is_none()
    }

    /// The smallest settings that reach zero loss (whole sweeps only).
    pub fn smallest(&self) -> Vec<usize> {
        smallest_zero_loss(&self.grid, &self.rows)
    }

    /// `zero-loss.csv`: the point and its settings, one row per smallest zero-loss point.
    pub fn zero_loss_csv(&self) -> String {
        let mut out = String::from("point");
        for v in &self.grid.varies {
            out.push(',');
            out.push_str(&csv_field(&v.path));
        }
        out.push('\n');
        for p in self.smallest() {
            let _ = write!(out, "{p}");
            for (v, l) in self.grid.varies.iter().zip(self.grid.levels_of(p)) {
                let _ = write!(out, ",{}", csv_field(&v.levels[l].label));
            }
            out.push('\n');
        }
        out
    }

    /// The smallest zero-loss settings as a markdown table, or a sentence when there are none.
    pub fn zero_loss_table(&self) -> String {
        let smallest = self.smallest();
        if smallest.is_empty() {
            return self.lowest_loss_table();
        }
        let mut header = vec!["point".to_string()];
        header.extend(self.grid.varies.iter().map(|v| v.path.clone()));
        let mut t = Table::new(header);
        for p in smallest {
            let mut row = vec![p.to_string()];
            row.extend(
                self.grid
                    .varies
                    .iter()
                    .zip(self.grid.levels_of(p))
                    .map(|(v, l)| v.levels[l].label.clone()),
            );
            t.row(row);
        }
        format!(
            "Smallest settings that reach zero loss (no failed request, lost or duplicated job in \
             any seed; no other zero-loss point is as small in every field):\n\n{}",
            t.markdown()
        )
    }

    /// Loss per point: mean failed requests + lost jobs + duplicated jobs per seed (`None` for
    /// an invalid point), read back from the CSV rows.
    pub fn losses(&self) -> Vec<(usize, Option<f64>)> {
        let header = header(&self.grid);
        let cols: Vec<&str> = header.split(',').collect();
        let at = |name: &str| cols.iter().position(|c| *c == name);
        let idx: Vec<usize> = ["failed", "jobs.lost", "jobs.duplicated"]
            .iter()
            .filter_map(|f| at(f))
            .collect();
        self.rows
            .iter()
            .map(|r| {
                let fields = split_csv(&r.line);
                let loss = idx
                    .iter()
                    .map(|&i| fields.get(i).and_then(|v| v.parse::<f64>().ok()))
                    .sum::<Option<f64>>();
                (r.point, loss)
            })
            .collect()
    }

    /// When no point reaches zero loss: the points with the lowest loss, as a table.
    fn lowest_loss_table(&self) -> String {
        let losses = self.losses();
        let Some(min) = losses.iter().filter_map(|(_, l)| *l).min_by(f64::total_cmp) else {
            return "No valid point in the sweep.\n".into();
        };
        let at_min: Vec<usize> = losses
            .iter()
            .filter(|(_, l)| *l == Some(min))
            .map(|(p, _)| *p)
            .collect();
        let best = pareto_smallest(&self.grid, &at_min);
        let mut header = vec!["point".to_string()];
        header.extend(self.grid.varies.iter().map(|v| v.path.clone()));
        let mut t = Table::new(header);
        for &p in &best {
            let mut row = vec![p.to_string()];
            row.extend(
                self.grid
                    .varies
                    .iter()
                    .zip(self.grid.levels_of(p))
                    .map(|(v, l)| v.levels[l].label.clone()),
            );
            t.row(row);
        }
        format!(
            "No point of the sweep reached zero loss (failed = lost jobs = duplicated jobs = 0 in \
             every seed). The lowest loss is {} per seed (failed requests + lost + duplicated jobs, \
             mean over seeds); the smallest settings that reach it:\n\n{}",
            crate::table::fmt_num(min),
            t.markdown()
        )
    }

    /// Writes `sweep.json`, `sweep.csv` and, for a whole sweep, `zero-loss.csv`.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        crate::runner::write_json(&dir.join("sweep.json"), &self.meta)?;
        std::fs::write(dir.join("sweep.csv"), self.csv())?;
        if self.is_whole() {
            std::fs::write(dir.join("zero-loss.csv"), self.zero_loss_csv())?;
        }
        Ok(())
    }

    /// Reads a sweep folder written by [`SweepResult::write`].
    pub fn read(dir: &Path) -> Result<SweepResult, String> {
        let meta_file = dir.join("sweep.json");
        let meta: SweepMeta = serde_json::from_str(
            &std::fs::read_to_string(&meta_file)
                .map_err(|e| format!("{}: cannot read: {e}", meta_file.display()))?,
        )
        .map_err(|e| format!("{}: not a sweep description: {e}", meta_file.display()))?;
        let grid = meta
            .grid()
            .map_err(|e| format!("{}: {e}", meta_file.display()))?;
        let csv_file = dir.join("sweep.csv");
        let text = std::fs::read_to_string(&csv_file)
            .map_err(|e| format!("{}: cannot read: {e}", csv_file.display()))?;
        let mut lines = text.lines();
        let expected = header(&grid);
        if lines.next() != Some(expected.as_str()) {
            return Err(format!(
                "{}: the header does not match sweep.json (expected {expected})",
                csv_file.display()
            ));
        }
        let zero_col = expected.split(',').count() - 2;
        let rows = lines
            .enumerate()
            .map(|(n, line)| {
                let cols = split_csv(line);
                let bad = || format!("{}:{}: malformed row", csv_file.display(), n + 2);
                let point: usize = cols.first().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
                let zero_loss = match cols.get(zero_col).map(String::as_str) {
                    Some("true") => Some(true),
                    Some("false") => Some(false),
                    Some("") => None,
                    _ => return Err(bad()),
                };
                Ok(Row {
                    point,
                    line: line.to_string(),
                    zero_loss,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(SweepResult {
            meta,
            grid,
            rows,
            events: 0,
            simulations: 0,
            cut_by_time_cap: 0,
        })
    }
}

/// Joins shard folders into one whole sweep, identical to an unsharded run of the same sweep.
pub fn merge(dirs: &[&Path]) -> Result<SweepResult, String> {
    let parts = dirs
        .iter()
        .map(|d| SweepResult::read(d))
        .collect::<Result<Vec<_>, _>>()?;
    let first = parts
        .first()
        .ok_or("merge needs at least one shard folder")?;
    let unsharded = SweepMeta {
        shard: None,
        ..first.meta.clone()
    };
    let n = first.meta.shard.map_or(1, |s| s.n);
    let mut seen = vec![false; n];
    for (p, d) in parts.iter().zip(dirs) {
        if (SweepMeta {
            shard: None,
            ..p.meta.clone()
        }) != unsharded
        {
            return Err(format!(
                "{}: a different sweep (scenario, seeds or --vary differ from {})",
                d.display(),
                dirs[0].display()
            ));
        }
        let s = p.meta.shard.unwrap_or(Shard { k: 0, n: 1 });
        if s.n != n {
            return Err(format!(
                "{}: shard {s}, but the others are out of {n}",
                d.display()
            ));
        }
        if std::mem::replace(&mut seen[s.k], true) {
            return Err(format!("{}: shard {s} given twice", d.display()));
        }
    }
    let missing: Vec<String> = (0..n)
        .filter(|&k| !seen[k])
        .map(|k| format!("{k}/{n}"))
        .collect();
    if !missing.is_empty() {
        return Err(format!("missing shards: {}", missing.join(", ")));
    }
    let mut rows: Vec<Row> = parts.into_iter().flat_map(|p| p.rows).collect();
    rows.sort_by_key(|r| r.point);
    let grid = unsharded.grid()?;
    if rows.len() != grid.len() || rows.iter().enumerate().any(|(i, r)| r.point != i) {
        return Err(format!(
            "the shards hold {} rows, not the {} points 0..{} once each",
            rows.len(),
            grid.len(),
            grid.len()
        ));
    }
    Ok(SweepResult {
        meta: unsharded,
        grid,
        rows,
        events: 0,
        simulations: 0,
        cut_by_time_cap: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::tests::fake_run;

    fn labels(v: &Vary) -> Vec<&str> {
        v.levels.iter().map(|l| l.label.as_str()).collect()
    }

    #[test]
    fn ranges_of_durations_numbers_and_lists() {
        let v: Vary = "lifecycle.prestop=0s..2s/500ms".parse().unwrap();
        assert_eq!(labels(&v), ["0s", "500ms", "1s", "1500ms", "2s"]);
        assert_eq!(v.levels[1].value, Value::String("500ms".into()));
        let v: Vary = "rollout.max_surge=0..3/1".parse().unwrap();
        assert_eq!(v.levels[3].value, Value::Integer(3));
        let v: Vary = "load.rate=0.1..0.3/0.1".parse().unwrap();
        assert_eq!(labels(&v), ["0.1", "0.2", "0.3"]);
        assert_eq!(v.levels[2].value, Value::Float(0.3));
        let v: Vary = "levers.pid1=true,false".parse().unwrap();
        assert_eq!(v.levels[0].value, Value::Boolean(true));
        let v: Vary = "drain.timeout=5s,1s".parse().unwrap();
        assert_eq!(v.levels[1].key, 1e9);
        let v: Vary = "client.style=keepalive,new".parse().unwrap();
        assert_eq!(v.levels[1].value, Value::String("new".into()));
        assert_eq!(v.levels[1].key, 1.0);
    }

    #[test]
    fn bad_varies_say_what_is_wrong() {
        for (spec, needle) in [
            ("prestop", "expected path=values"),
            ("a..b=1", "dotted field path"),
            ("a.b=", "no values"),
            ("a.b=0s..2s", "needs a step"),
            ("a.b=0s..2s/0s", "greater than zero"),
            ("a.b=5..1/1", "ends before it starts"),
            ("a.b=0s..2x/1s", "invalid duration"),
            ("a.b=0..1000000/1", "more than"),
        ] {
            let e = spec.parse::<Vary>().unwrap_err();
            assert!(e.contains(needle), "{spec}: {e}");
        }
        assert!("3/2".parse::<Shard>().unwrap_err().contains("below N"));
        assert!("1/0".parse::<Shard>().unwrap_err().contains("at least 1"));
        assert_eq!("1/4".parse::<Shard>().unwrap(), Shard { k: 1, n: 4 });
    }

    #[test]
    fn grid_points_are_row_major_and_shards_partition_them() {
        let g = Grid::new(vec![
            "a.x=1,2,3".parse().unwrap(),
            "a.y=1..2/1".parse().unwrap(),
        ])
        .unwrap();
        assert_eq!(g.len(), 6);
        assert_eq!(g.levels_of(0), [0, 0]);
        assert_eq!(g.levels_of(1), [0, 1]);
        assert_eq!(g.levels_of(5), [2, 1]);
        let mut all: Vec<usize> = (0..4)
            .flat_map(|k| g.points(Some(Shard { k, n: 4 })))
            .collect();
        all.sort_unstable();
        assert_eq!(all, g.points(None));
        assert!(Grid::new(vec!["a.x=1".parse().unwrap(), "a.x=2".parse().unwrap()]).is_err());
    }

    #[test]
    fn smallest_zero_loss_is_the_pareto_front() {
        let g = Grid::new(vec![
            "a.x=0..3/1".parse().unwrap(),
            "a.y=0..3/1".parse().unwrap(),
        ])
        .unwrap();
        // zero loss when x + y >= 3, except (3, 0)
        let rows: Vec<Row> = (0..g.len())
            .map(|p| {
                let l = g.levels_of(p);
                Row {
                    point: p,
                    line: String::new(),
                    zero_loss: Some(l[0] + l[1] >= 3 && l != [3, 0]),
                }
            })
            .collect();
        let s = smallest_zero_loss(&g, &rows);
        let got: Vec<Vec<usize>> = s.iter().map(|&p| g.levels_of(p)).collect();
        assert_eq!(got, [vec![0, 3], vec![1, 2], vec![2, 1]]);
    }

    fn sweep(source: &Source, shard: Option<Shard>, threads: usize) -> SweepResult {
        let grid = Grid::new(vec![
            "a.x=1..4/1".parse().unwrap(),
            "a.y=0s..1s/500ms".parse().unwrap(),
        ])
        .unwrap();
        let spec = SweepSpec {
            source,
            grid,
            seeds: vec![1, 2, 3],
            shard,
        };
        run_sweep(
            &spec,
            threads,
            &|| {},
            |s| {
                let x = s.get("a.x").and_then(Value::as_integer).unwrap();
                if x == 3 {
                    Err(s.field_errors([("a.x".to_string(), "three, is, right out".to_string())]))
                } else {
                    Ok(x as u64)
                }
            },
            |x, seed| fake_run("t", seed * 100 + x),
        )
        .unwrap()
    }

    #[test]
    fn shards_merge_byte_identically_to_an_unsharded_sweep() {
        let source = crate::load::parse_str("t.toml", "[a]\nx = 1\n").unwrap();
        let whole = sweep(&source, None, 2);
        assert_eq!(whole.rows.len(), 12);
        assert!(
            whole.rows[6]
                .line
                .ends_with(",\"--vary: a.x: three, is, right out\""),
            "{}",
            whole.rows[6].line
        );
        let d = tempfile::tempdir().unwrap();
        whole.write(&d.path().join("whole")).unwrap();
        let mut shard_dirs = Vec::new();
        for k in [2, 0, 1] {
            let part = sweep(&source, Some(Shard { k, n: 3 }), 1 + k);
            let dir = d.path().join(format!("s{k}"));
            part.write(&dir).unwrap();
            assert!(!dir.join("zero-loss.csv").exists());
            shard_dirs.push(dir);
        }
        let refs: Vec<&Path> = shard_dirs.iter().map(|p| p.as_path()).collect();
        let merged = merge(&refs).unwrap();
        merged.write(&d.path().join("merged")).unwrap();
        for f in ["sweep.json", "sweep.csv", "zero-loss.csv"] {
            assert_eq!(
                std::fs::read(d.path().join("whole").join(f)).unwrap(),
                std::fs::read(d.path().join("merged").join(f)).unwrap(),
                "{f}"
            );
        }
        let t = merged.zero_loss_table();
        assert!(
            t.contains("lowest loss") || t.contains("reach zero loss"),
            "{t}"
        );
        assert!(merged.losses().iter().filter(|(_, l)| l.is_none()).count() == 3);
        let e = merge(&refs[..2]).unwrap_err();
        assert!(e.contains("missing shards: 1/3"), "{e}");
        let e = merge(&[refs[0], refs[0]]).unwrap_err();
        assert!(e.contains("given twice"), "{e}");
    }
}
