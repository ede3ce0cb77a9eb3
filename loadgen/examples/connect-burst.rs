//! How fast the generator's eager reopening opens connections (issue 18): `N` keep-alive
//! clients, each with a full idle list, all reopen at once on the reopening thread, through the
//! generator's own reopen path ([`loadgen::connect_bursts`]); the time from the burst's start to
//! its last `open` record gives the rate; the rate between the 10th and the 90th percentile open
//! leaves out the burst's ramp-up and its stragglers (a SYN the listen backlog dropped is sent
//! again 1 s later). Several bursts, their medians printed last.
//!
//! ```sh
//! target/release/examples/trivial-server 127.0.0.1:18099 &
//! target/release/examples/connect-burst http://127.0.0.1:18099/ 2000 7
//! ```
//!
//! Arguments: the target URL, the clients per burst (default 2000), the bursts (default 7), the
//! record file (default `connect-burst.ndjson` in the temporary directory).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use loadgen::record::{ConnEv, Line, OPENED_AHEAD, parse_line};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let target = args
        .first()
        .cloned()
        .unwrap_or_else(|| "http://127.0.0.1:18080/".into());
    let clients: u64 = args.get(1).map_or(Ok(2000), |a| a.parse())?;
    let bursts: usize = args.get(2).map_or(Ok(7), |a| a.parse())?;
    let out = args.get(3).map_or_else(
        || std::env::temp_dir().join("connect-burst.ndjson"),
        PathBuf::from,
    );

    let mut plan = loadgen::LoadPlan::new(target.clone(), out.clone());
    plan.clients = clients;
    plan.signals = false;
    let starts = loadgen::connect_bursts(plan, bursts, Duration::from_millis(500))?;

    // Every open and close, by connection.
    let mut opened: BTreeMap<u64, (i64, String)> = BTreeMap::new();
    let mut closed: BTreeMap<u64, (i64, String)> = BTreeMap::new();
    let mut fails = 0u64;
    for line in std::fs::read_to_string(&out)?.lines() {
        if let Line::Conn(c) = parse_line(line)? {
            match c.ev {
                ConnEv::Open => drop(opened.insert(c.conn, (c.at, c.why))),
                ConnEv::Close => drop(closed.insert(c.conn, (c.at, c.why))),
                ConnEv::ConnectFail => fails += 1,
            }
        }
    }
    println!(
        "target {target}, {clients} reopens per burst, {bursts} bursts, failed connects {fails}"
    );
    println!(
        "burst  opened  last open (ms)  opens/ms  last close (ms)  cycles/ms  p10-p90 (ms)  \
         p10-p90 opens/ms  peak per 10 ms"
    );
    let (mut rates, mut cycles, mut mids, mut peaks) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, &start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(i64::MAX);
        let eager: Vec<(u64, i64)> = opened
            .iter()
            .filter(|(_, (at, why))| why == OPENED_AHEAD && (start..end).contains(at))
            .map(|(&c, &(at, _))| (c, at))
            .collect();
        let mut ats: Vec<i64> = eager.iter().map(|&(_, at)| at).collect();
        ats.sort_unstable();
        let last_open = ats.last().copied().unwrap_or(start);
        let pct = |q: usize| ats.get(ats.len() * q / 100).copied().unwrap_or(start);
        let (p10, p90) = (pct(10), pct(90));
        let mid_n = (ats.len() * 90 / 100 - ats.len() * 10 / 100) as f64;
        let mid_ms = (p90 - p10) as f64 / 1e6;
        let mid = mid_n / mid_ms;
        let last_close = eager
            .iter()
            .filter_map(|(c, _)| closed.get(c).map(|&(at, _)| at))
            .max()
            .unwrap_or(start);
        let mut buckets: BTreeMap<i64, u64> = BTreeMap::new();
        for &(_, at) in &eager {
            *buckets.entry((at - start) / 10_000_000).or_default() += 1;
        }
        let peak = buckets.values().copied().max().unwrap_or(0);
        let n = eager.len() as f64;
        let (open_ms, close_ms) = (
            (last_open - start) as f64 / 1e6,
            (last_close - start) as f64 / 1e6,
        );
        let (rate, cycle) = (n / open_ms, n / close_ms);
        println!(
            "{:>5}  {:>6}  {open_ms:>14.2}  {rate:>8.2}  {close_ms:>15.2}  {cycle:>9.2}  \
             {mid_ms:>12.2}  {mid:>16.2}  {peak:>14}",
            i + 1,
            eager.len(),
        );
        rates.push(rate);
        cycles.push(cycle);
        mids.push(mid);
        peaks.push(peak as f64);
    }
    println!(
        "median: {:.2} opens/ms (to the last open), {:.2} per ms (to the last client close), \
         {:.2} opens/ms (p10-p90), peak {:.1} opens per 10 ms",
        median(rates),
        median(cycles),
        median(mids),
        median(peaks)
    );
    Ok(())
}
