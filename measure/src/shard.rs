//! A slice of a numbered sequence, `K/N`: the items `i` with `i % N == K`. N runs with the same
//! inputs, K = 0..N-1, together cover the sequence once. The load generator shards its request
//! schedule this way (`fleetsim load --shard`), and a sweep its grid points (`fleetsim sweep
//! --shard`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Shard `K` of `N`: the items `i` with `i % N == K` (always `K < N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// Which slice, `0..N`.
    pub k: u64,
    /// How many slices.
    pub n: u64,
}

impl Shard {
    /// The whole sequence: `0/1`.
    pub const ALL: Shard = Shard { k: 0, n: 1 };

    /// Whether item `i` belongs to this shard.
    #[inline]
    pub fn contains(&self, i: u64) -> bool {
        i % self.n == self.k
    }
}

/// A `K/N` that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?}: {reason}")]
pub struct ParseShardError {
    /// The text as given.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl FromStr for Shard {
    type Err = ParseShardError;

    fn from_str(s: &str) -> Result<Shard, ParseShardError> {
        let err = |reason| ParseShardError {
            input: s.to_string(),
            reason,
        };
        let (k, n) = s.split_once('/').ok_or(err("expected K/N, like 0/4"))?;
        let k: u64 = k
            .trim()
            .parse()
            .map_err(|_| err("K must be a whole number"))?;
        let n: u64 = n
            .trim()
            .parse()
            .map_err(|_| err("N must be a whole number"))?;
        if n == 0 {
            return Err(err("N must be at least 1"));
        }
        if k >= n {
            return Err(err("K must be below N (shards are numbered 0..N-1)"));
        }
        Ok(Shard { k, n })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_checks_and_partitions() {
        assert_eq!("1/4".parse::<Shard>().unwrap(), Shard { k: 1, n: 4 });
        assert_eq!(" 0 / 1 ".parse::<Shard>().unwrap(), Shard::ALL);
        for (bad, why) in [
            ("4/4", "below N"),
            ("0/0", "at least 1"),
            ("x/2", "K must"),
            ("1/y", "N must"),
            ("3", "K/N"),
        ] {
            let e = bad.parse::<Shard>().unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
        let shards: Vec<Shard> = (0..3).map(|k| Shard { k, n: 3 }).collect();
        for i in 0..30 {
            assert_eq!(shards.iter().filter(|s| s.contains(i)).count(), 1);
        }
        assert_eq!(Shard { k: 2, n: 5 }.to_string(), "2/5");
    }
}
