//! The fuzz targets on their corpus plus mutations, for a bounded count in CI (cargo-fuzz needs a
//! nightly toolchain this machine does not have; `scenarios/fuzz` holds the libFuzzer target for
//! machines that do). Inputs: the parser's corpus and the shipped scenario files. Each
//! mutant (byte flips, cuts, repeats, splices, extreme values and TOML fragments put in) goes
//! through the parser's fuzz function, [`scenarios::fuzz_parse`]: it may refuse the input, never
//! panic. Mutants the parser accepts are the simulator's fuzz target: each runs once, under caps,
//! to a result (requests and jobs conserved) or to a cap's [`SimError::Limit`].
//!
//! Deterministic: a fixed seed and count (`FUZZ_MUTATIONS=N FUZZ_SEED=S` hunt longer); a failure
//! prints the seed, the mutant's number and its bytes.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use models::{RunCaps, SimError, SimOptions, simulate_capped};

/// Values and fragments a mutation puts in.
const TOKENS: &[&str] = &[
    "0",
    "-1",
    "1e300",
    "nan",
    "inf",
    "4294967296",
    "18446744073709551616",
    "0.0000001",
    "\"0s\"",
    "\"1ns\"",
    "\"9999999h\"",
    "\"584y\"",
    "\"1ms\"",
    "\"25h\"",
    "\"\"",
    "[]",
    "{}",
    "[pod]",
    "[load]",
    "[queue]",
    "[rollout]",
    "[[x]]",
    "extends = [\"after\"]",
    "extends = [\"nosuch\"]",
    "rate = ",
    "replicas = 1000",
    "max_surge = \"100%\"",
    "kind = \"traefik\"",
    "= ",
    "\"",
    "\n",
    "#",
    ".",
    "'",
    "\\u0000",
    "é",
    "[pod.readiness]\nperiod = \"1ms\"\n",
];

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One to four mutations of `input` (`others` for splices).
fn mutate(rng: &mut Rng, input: &[u8], others: &[Vec<u8>]) -> Vec<u8> {
    let mut b = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(b.len() + 1);
        match rng.below(7) {
            0 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
            1 if !b.is_empty() => {
                let end = (at + 1 + rng.below(40)).min(b.len());
                b.drain(at.min(end)..end);
            }
            2 if at < b.len() => {
                let end = (at + 1 + rng.below(60)).min(b.len());
                let piece = b[at..end].to_vec();
                b.splice(at..at, piece);
            }
            3 => {
                let o = &others[rng.below(others.len())];
                let from = rng.below(o.len());
                let end = (from + rng.below(200)).min(o.len());
                b.splice(at..at, o[from..end].iter().copied());
            }
            4 => {
                // A value after an `=` replaced by a token.
                let Some(eq) = b[at..].iter().position(|&c| c == b'=').map(|p| at + p) else {
                    continue;
                };
                let end = b[eq..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |p| eq + p);
                let t = TOKENS[rng.below(TOKENS.len())];
                b.splice(eq + 1..end, format!(" {t}").into_bytes());
            }
            _ => {
                let t = TOKENS[rng.below(TOKENS.len())];
                b.splice(at..at, t.bytes());
            }
        }
    }
    b
}

fn inputs() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in [root.join("fuzz/corpus/parse"), root.join("files")] {
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        paths.sort();
        out.extend(paths.iter().map(|p| std::fs::read(p).unwrap()));
    }
    out
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v}: not a number"))
        })
        .unwrap_or(default)
}

#[test]
fn mutants_of_the_corpus_parse_or_fail_cleanly_and_accepted_ones_run() {
    let seed = env_u64("FUZZ_SEED", 13);
    let count = env_u64("FUZZ_MUTATIONS", 4_000);
    // At most this many accepted mutants are simulated (each is a whole run).
    let max_runs = env_u64("FUZZ_RUNS", 60);
    let corpus = inputs();
    assert!(corpus.len() >= 30, "{} inputs", corpus.len());
    let mut rng = Rng(seed | 1);
    let (mut accepted, mut refused, mut not_utf8, mut ran, mut capped) = (0u64, 0u64, 0, 0, 0);
    let caps = RunCaps {
        requests: 20_000,
        jobs: 5_000,
        events: 300_000,
    };
    for k in 0..count {
        let input = &corpus[rng.below(corpus.len())];
        let m = mutate(&mut rng, input, &corpus);
        let shown = || String::from_utf8_lossy(&m).into_owned();
        let parsed =
            catch_unwind(AssertUnwindSafe(|| scenarios::fuzz_parse(&m))).unwrap_or_else(|_| {
                panic!(
                    "seed {seed}, mutant {k}: the parser panicked on:\n{}",
                    shown()
                )
            });
        let scenario = match parsed {
            None => {
                not_utf8 += 1;
                continue;
            }
            Some(Err(e)) => {
                refused += 1;
                let msg = e.to_string();
                assert!(
                    !msg.is_empty() && !msg.contains("Error {"),
                    "seed {seed}, mutant {k}: unclear error {msg:?} for:\n{}",
                    shown()
                );
                continue;
            }
            Some(Ok(s)) => s,
        };
        accepted += 1;
        if ran >= max_runs {
            continue;
        }
        ran += 1;
        let run = catch_unwind(AssertUnwindSafe(|| {
            simulate_capped(
                "fuzz",
                &scenario.fleet,
                &SimOptions {
                    seed,
                    shuffle_ties: false,
                },
                &caps,
            )
        }))
        .unwrap_or_else(|_| {
            panic!(
                "seed {seed}, mutant {k}: the simulator panicked on:\n{}",
                shown()
            )
        });
        match run {
            Ok(r) => {
                let s = &r.analysis.summary;
                assert!(
                    s.requests.is_conserved() && s.jobs.is_conserved(),
                    "seed {seed}, mutant {k}: not conserved on:\n{}",
                    shown()
                );
            }
            Err(SimError::Limit { .. }) => capped += 1,
            Err(e) => panic!("seed {seed}, mutant {k}: {e} on:\n{}", shown()),
        }
    }
    eprintln!(
        "fuzz mutations (seed {seed}): {count} mutants, {accepted} accepted, {refused} refused, \
         {not_utf8} not UTF-8; {ran} simulated ({capped} stopped at a cap)"
    );
    // The mutations must reach the simulator, or the target fuzzes only the TOML parser.
    assert!(
        accepted >= count / 50,
        "seed {seed}: only {accepted} accepted"
    );
    assert!(ran >= max_runs.min(accepted), "seed {seed}");
}
