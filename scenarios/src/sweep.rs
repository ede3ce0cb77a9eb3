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
use std::path::Path;
use std::str::FromStr;

use measure::figure::{HEADLINE, LOSS};
use measure::{Aggregate, Figure, Summary};
use serde::{Deserialize, Serialize};
use sim_core::SimDuration;
use toml::Value;

use crate::error::{ScenarioError, SweepError, VaryError};
use crate::load::Source;
use crate::runner::{SeedRun, par_map};
use crate::table::Table;

/// Most levels one `--vary` may have, and most points a sweep may have.
const MAX_LEVELS: u64 = 10_000;
const MAX_POINTS: usize = 1_000_000;

/// `schema` of `sweep.json`.
pub(crate) const SWEEP_SCHEMA: &str = "fleetsim.sweep/1";

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
    /// The dotted field path varied (`lifecycle.prestop`).
    pub path: String,
    /// The whole argument as given, `path=SPEC`.
    pub spec: String,
    /// The values, in the order given.
    pub levels: Vec<Level>,
}

impl FromStr for Vary {
    type Err = VaryError;

    fn from_str(s: &str) -> Result<Vary, VaryError> {
        let (path, spec) = s
            .split_once('=')
            .ok_or_else(|| VaryError::NoEquals { arg: s.to_string() })?;
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
            return Err(VaryError::BadPath {
                path: path.to_string(),
            });
        }
        if spec.is_empty() {
            return Err(VaryError::NoValues {
                path: path.to_string(),
            });
        }
        let levels = if let Some((from, rest)) = spec.split_once("..") {
            let (to, step) = rest.rsplit_once('/').ok_or_else(|| VaryError::NoStep {
                path: path.to_string(),
                range: format!("{from}..{rest}"),
            })?;
            range(from.trim(), to.trim(), step.trim()).map_err(|reason| VaryError::BadRange {
                path: path.to_string(),
                reason,
            })?
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
pub(crate) fn fmt_duration(ns: u64) -> String {
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

/// `--shard K/N`: the points `i` with `i % N == K` (the one shard type, in `measure`).
pub(crate) use measure::Shard;

/// The grid of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Every `--vary`, in the order given (the first is the outermost loop).
    pub varies: Vec<Vary>,
}

impl Grid {
    /// The grid of `varies`; an error when there is none, a path is varied twice or the product is too large.
    pub fn new(varies: Vec<Vary>) -> Result<Grid, SweepError> {
        if varies.is_empty() {
            return Err(SweepError::NoVary);
        }
        for (i, v) in varies.iter().enumerate() {
            if varies[..i].iter().any(|w| w.path == v.path) {
                return Err(SweepError::VaryTwice {
                    path: v.path.clone(),
                });
            }
        }
        let total = varies
            .iter()
            .try_fold(1usize, |acc, v| acc.checked_mul(v.levels.len()));
        match total {
            Some(n) if n <= MAX_POINTS => Ok(Grid { varies }),
            _ => Err(SweepError::TooManyPoints { max: MAX_POINTS }),
        }
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.varies.iter().map(|v| v.levels.len()).product()
    }

    /// True for a grid with no point (a `--vary` with no level).
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
        let (k, n) = shard.map_or((0, 1), |s| (s.k as usize, s.n as usize));
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
    /// Always `SWEEP_SCHEMA` (`fleetsim.sweep/1`).
    pub schema: String,
    /// The scenario's name.
    pub scenario: String,
    /// The first seed; each point runs `seeds` consecutive seeds from it.
    pub first_seed: u64,
    /// Seeds per point.
    pub seeds: usize,
    /// Every `--vary` as given.
    pub vary: Vec<String>,
    /// Points in the whole grid (all shards).
    pub points: usize,
    /// The figures, one column each (mean over seeds).
    pub figures: Vec<Figure>,
    /// `null` for a whole sweep (unsharded or merged).
    pub shard: Option<Shard>,
}

impl SweepMeta {
    /// The metadata of a sweep of `grid` (the headline figures as columns).
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
            figures: HEADLINE.to_vec(),
            shard,
        }
    }

    /// The grid, parsed back from `vary` (to check and merge shards).
    pub fn grid(&self) -> Result<Grid, SweepError> {
        Grid::new(
            self.vary
                .iter()
                .map(|s| s.parse())
                .collect::<Result<_, _>>()?,
        )
    }
}

/// One CSV row: a point, its settings (from the grid), the mean over seeds of each headline
/// figure, whether it reached zero loss, and why it is invalid when it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The point's index in the grid.
    pub point: usize,
    /// The mean over seeds of each figure of [`HEADLINE`], in that order; `None` when no seed
    /// had the figure, or the point is invalid.
    pub means: Vec<Option<f64>>,
    /// `None` when the point's scenario was invalid.
    pub zero_loss: Option<bool>,
    /// Why the point's scenario is invalid (empty for a valid point).
    pub note: String,
}

impl Row {
    /// The mean over seeds of one headline figure.
    pub fn mean(&self, figure: Figure) -> Option<f64> {
        let i = HEADLINE.iter().position(|&f| f == figure)?;
        self.means.get(i).copied().flatten()
    }

    /// The row's CSV fields.
    fn record(&self, grid: &Grid) -> Vec<String> {
        let mut cols = vec![self.point.to_string()];
        cols.extend(
            grid.varies
                .iter()
                .zip(grid.levels_of(self.point))
                .map(|(v, l)| one_line(&v.levels[l].label)),
        );
        cols.extend(
            self.means
                .iter()
                .map(|m| m.map(|m| m.to_string()).unwrap_or_default()),
        );
        cols.push(self.zero_loss.map(|z| z.to_string()).unwrap_or_default());
        cols.push(one_line(&self.note));
        cols
    }
}

/// A CSV field on one line: line breaks become spaces (the writer quotes commas and quotes).
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// Writes CSV records with the `csv` crate: fields with a comma or a quote are quoted.
fn write_csv(records: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in records {
        w.write_record(&r).expect("writing to memory cannot fail");
    }
    let bytes = w.into_inner().expect("writing to memory cannot fail");
    String::from_utf8(bytes).expect("the fields are UTF-8")
}

/// The CSV header's fields.
pub(crate) fn header(grid: &Grid) -> Vec<String> {
    let mut cols = vec!["point".to_string()];
    cols.extend(grid.varies.iter().map(|v| one_line(&v.path)));
    cols.extend(HEADLINE.iter().map(|f| f.path().to_string()));
    cols.push("zero_loss".into());
    cols.push("note".into());
    cols
}

/// A point's row from its seeds' summaries (or the reason its scenario is invalid).
pub(crate) fn row(point: usize, result: Result<&[Summary], &str>) -> Row {
    match result {
        Ok(summaries) => {
            let agg = Aggregate::of(summaries);
            let mean = |f: Figure| agg.stat(f).map(|s| s.mean);
            let zero = LOSS.iter().all(|&f| mean(f) == Some(0.0));
            Row {
                point,
                means: HEADLINE.iter().map(|&f| mean(f)).collect(),
                zero_loss: Some(zero),
                note: String::new(),
            }
        }
        Err(note) => Row {
            point,
            means: vec![None; HEADLINE.len()],
            zero_loss: None,
            note: note.to_string(),
        },
    }
}

/// The zero-loss points no other zero-loss point is smaller than or equal to in every varied
/// field (the "smallest settings that reach zero loss"), ascending by point.
pub(crate) fn smallest_zero_loss(grid: &Grid, rows: &[Row]) -> Vec<usize> {
    let zero: Vec<usize> = rows
        .iter()
        .filter(|r| r.zero_loss == Some(true))
        .map(|r| r.point)
        .collect();
    pareto_smallest(grid, &zero)
}

/// The points of `points` that no other point of `points` is smaller than or equal to in every
/// varied field, ascending.
pub(crate) fn pareto_smallest(grid: &Grid, points: &[usize]) -> Vec<usize> {
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
    /// What was swept (`sweep.json`).
    pub meta: SweepMeta,
    /// The grid, parsed from the `--vary` arguments.
    pub grid: Grid,
    /// One row per point run, in point order (this shard's points only).
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
    /// The scenario every point starts from.
    pub source: &'a Source,
    /// The points to run.
    pub grid: Grid,
    /// The seeds each point runs.
    pub seeds: Vec<u64>,
    /// `Some`: run only this shard's points (`--shard K/N`).
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
) -> Result<SweepResult, SweepError>
where
    C: Sync,
    P: Fn(&Source) -> Result<C, ScenarioError>,
    F: Fn(&C, u64) -> Result<SeedRun, models::SimError> + Sync,
{
    let grid = &spec.grid;
    // A --vary naming no field is an error of the sweep, not of each point.
    for v in &grid.varies {
        let mut s = spec.source.clone();
        s.set(&v.path, v.levels[0].value.clone())
            .map_err(|e| SweepError::UnknownField {
                path: v.path.clone(),
                reason: e.to_string(),
            })?;
        if let Err(e) = prepare(&s) {
            let unknown = e.fields().iter().find(|f| {
                (v.path == f.path || v.path.starts_with(&format!("{}.", f.path)))
                    && f.reason.contains("unknown field")
            });
            if let Some(f) = unknown {
                return Err(SweepError::UnknownField {
                    path: v.path.clone(),
                    reason: format!("{}: {}", f.path, f.reason),
                });
            }
        }
    }
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
    if valid.is_empty()
        && spec.shard.is_none()
        && let Some(Err(reason)) = configs.first()
    {
        return Err(SweepError::NoValidPoint {
            point: points[0],
            settings: grid.describe(points[0]),
            reason: reason.clone(),
        });
    }
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
        let (summary, ev, rollout_complete) = r.map_err(|source| SweepError::Simulation {
            point: points[idx],
            settings: grid.describe(points[idx]),
            seed: spec.seeds[u % nseeds],
            source,
        })?;
        events += ev;
        cut_by_time_cap += usize::from(!rollout_complete);
        per_point.entry(idx).or_default().push(summary);
    }
    let rows = points
        .iter()
        .enumerate()
        .map(|(idx, &p)| match &configs[idx] {
            Ok(_) => row(p, Ok(per_point.get(&idx).map_or(&[][..], Vec::as_slice))),
            Err(e) => row(p, Err(e)),
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
        write_csv(
            std::iter::once(header(&self.grid))
                .chain(self.rows.iter().map(|r| r.record(&self.grid))),
        )
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
        let mut head = vec!["point".to_string()];
        head.extend(self.grid.varies.iter().map(|v| one_line(&v.path)));
        let rows = self.smallest().into_iter().map(|p| {
            let mut r = vec![p.to_string()];
            r.extend(
                self.grid
                    .varies
                    .iter()
                    .zip(self.grid.levels_of(p))
                    .map(|(v, l)| one_line(&v.levels[l].label)),
            );
            r
        });
        write_csv(std::iter::once(head).chain(rows))
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
    /// an invalid point).
    pub fn losses(&self) -> Vec<(usize, Option<f64>)> {
        self.rows
            .iter()
            .map(|r| (r.point, LOSS.iter().map(|&f| r.mean(f)).sum()))
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
    pub fn read(dir: &Path) -> Result<SweepResult, SweepError> {
        let meta_file = dir.join("sweep.json");
        let text = std::fs::read_to_string(&meta_file).map_err(|source| SweepError::Read {
            file: meta_file.clone(),
            source,
        })?;
        let meta: SweepMeta =
            serde_json::from_str(&text).map_err(|source| SweepError::NotASweep {
                file: meta_file.clone(),
                source,
            })?;
        let grid = meta.grid().map_err(|e| SweepError::InFile {
            file: meta_file.clone(),
            source: Box::new(e),
        })?;
        let csv_file = dir.join("sweep.csv");
        let text = std::fs::read_to_string(&csv_file).map_err(|source| SweepError::Read {
            file: csv_file.clone(),
            source,
        })?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        let mut records = reader.records();
        let expected = header(&grid);
        let header_ok = match records.next() {
            Some(Ok(h)) => h.iter().eq(expected.iter().map(String::as_str)),
            _ => false,
        };
        if !header_ok {
            return Err(SweepError::Header {
                file: csv_file,
                expected: write_csv([expected]).trim_end().to_string(),
            });
        }
        let rows = records
            .enumerate()
            .map(|(n, record)| {
                let bad = || SweepError::MalformedRow {
                    file: csv_file.clone(),
                    line: n as u64 + 2,
                };
                let record = record.map_err(|_| bad())?;
                parse_row(&grid, &record).ok_or_else(bad)
            })
            .collect::<Result<Vec<_>, _>>()?;
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

/// A row from its CSV record; `None` when the record does not fit the grid.
fn parse_row(grid: &Grid, record: &csv::StringRecord) -> Option<Row> {
    let fields: Vec<&str> = record.iter().collect();
    let nv = grid.varies.len();
    if fields.len() != 1 + nv + HEADLINE.len() + 2 {
        return None;
    }
    let point: usize = fields[0].parse().ok()?;
    if point >= grid.len() {
        return None;
    }
    let labels_match = grid
        .varies
        .iter()
        .zip(grid.levels_of(point))
        .zip(&fields[1..=nv])
        .all(|((v, l), f)| one_line(&v.levels[l].label) == *f);
    if !labels_match {
        return None;
    }
    let means = fields[1 + nv..1 + nv + HEADLINE.len()]
        .iter()
        .map(|f| match *f {
            "" => Some(None),
            v => v.parse::<f64>().ok().map(Some),
        })
        .collect::<Option<Vec<_>>>()?;
    let zero_loss = match fields[fields.len() - 2] {
        "true" => Some(true),
        "false" => Some(false),
        "" => None,
        _ => return None,
    };
    Some(Row {
        point,
        means,
        zero_loss,
        note: fields[fields.len() - 1].to_string(),
    })
}

/// Joins shard folders into one whole sweep, identical to an unsharded run of the same sweep.
pub fn merge(dirs: &[&Path]) -> Result<SweepResult, SweepError> {
    let parts = dirs
        .iter()
        .map(|d| SweepResult::read(d))
        .collect::<Result<Vec<_>, _>>()?;
    let first = parts.first().ok_or(SweepError::NoShards)?;
    let unsharded = SweepMeta {
        shard: None,
        ..first.meta.clone()
    };
    let n = first.meta.shard.map_or(1, |s| s.n as usize);
    let mut seen = vec![false; n];
    for (p, d) in parts.iter().zip(dirs) {
        if (SweepMeta {
            shard: None,
            ..p.meta.clone()
        }) != unsharded
        {
            return Err(SweepError::DifferentSweep {
                dir: d.to_path_buf(),
                first: dirs[0].to_path_buf(),
            });
        }
        let s = p.meta.shard.unwrap_or(Shard::ALL);
        if s.n as usize != n {
            return Err(SweepError::ShardCount {
                dir: d.to_path_buf(),
                shard: s.to_string(),
                n,
            });
        }
        if std::mem::replace(&mut seen[s.k as usize], true) {
            return Err(SweepError::ShardTwice {
                dir: d.to_path_buf(),
                shard: s.to_string(),
            });
        }
    }
    let missing: Vec<String> = (0..n)
        .filter(|&k| !seen[k])
        .map(|k| format!("{k}/{n}"))
        .collect();
    if !missing.is_empty() {
        return Err(SweepError::MissingShards { shards: missing });
    }
    let mut rows: Vec<Row> = parts.into_iter().flat_map(|p| p.rows).collect();
    rows.sort_by_key(|r| r.point);
    let grid = unsharded.grid()?;
    if rows.len() != grid.len() || rows.iter().enumerate().any(|(i, r)| r.point != i) {
        return Err(SweepError::RowCount {
            rows: rows.len(),
            points: grid.len(),
        });
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
            let e = spec.parse::<Vary>().unwrap_err().to_string();
            assert!(e.contains(needle), "{spec}: {e}");
        }
        for (bad, why) in [("3/2", "below N"), ("1/0", "at least 1")] {
            let e = bad.parse::<Shard>().unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
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
                    means: Vec::new(),
                    zero_loss: Some(l[0] + l[1] >= 3 && l != [3, 0]),
                    note: String::new(),
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
            |x, seed| Ok(fake_run("t", seed * 100 + x).expect("the stand-in never fails")),
        )
        .unwrap()
    }

    #[test]
    fn shards_merge_byte_identically_to_an_unsharded_sweep() {
        let source = crate::load::parse_str("t.toml", "[a]\nx = 1\n").unwrap();
        let whole = sweep(&source, None, 2);
        assert_eq!(whole.rows.len(), 12);
        assert!(
            whole
                .csv()
                .lines()
                .nth(7)
                .unwrap()
                .ends_with(",\"--vary: a.x: three, is, right out\""),
            "{}",
            whole.csv()
        );
        let d = tempfile::tempdir().unwrap();
        whole.write(&d.path().join("whole")).unwrap();
        let mut shard_dirs = Vec::new();
        for k in [2, 0, 1] {
            let part = sweep(&source, Some(Shard { k, n: 3 }), 1 + k as usize);
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
        let e = merge(&refs[..2]).unwrap_err().to_string();
        assert!(e.contains("missing shards: 1/3"), "{e}");
        let e = merge(&[refs[0], refs[0]]).unwrap_err().to_string();
        assert!(e.contains("given twice"), "{e}");
    }
}
