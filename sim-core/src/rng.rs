//! Seeded randomness: one root seed, independent named streams.
//!
//! ## Derivation (stable: changing it changes every result)
//!
//! The stream named `name` under root seed `seed` is `ChaCha8Rng::seed_from_u64(seed)` with its
//! ChaCha stream number set to `FNV-1a-64(name as UTF-8)`. ChaCha gives 2^64 independent
//! streams per key, so each name has its own sequence, and adding, removing or reordering the
//! use of one stream never shifts another's draws.

use std::hash::Hasher;

use fnv::FnvHasher;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::trace::Trace;

/// The stream number of `name` (FNV-1a 64 of its UTF-8 bytes).
pub fn stream_id(name: &str) -> u64 {
    let mut h = FnvHasher::default();
    h.write(name.as_bytes());
    h.finish()
}

/// The root of a run's randomness: hands out named streams.
#[derive(Debug, Clone)]
pub struct Streams {
    seed: u64,
    trace: Trace,
}

impl Streams {
    /// The root for `seed`; every stream it hands out records its draws into `trace`.
    pub fn new(seed: u64, trace: Trace) -> Streams {
        Streams { seed, trace }
    }

    /// The root seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The stream named `name`. Asking twice for one name gives two handles that start at the
    /// same point: give each component its own name.
    pub fn stream(&mut self, name: &str) -> Stream {
        let id = stream_id(name);
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(id);
        Stream {
            rng,
            id,
            trace: self.trace.clone(),
        }
    }
}

/// One named random stream. It implements [`rand::Rng`], so `rand_distr` distributions sample
/// from it; every 64-bit word drawn is recorded in the run's trace.
#[derive(Debug, Clone)]
pub struct Stream {
    rng: ChaCha8Rng,
    id: u64,
    trace: Trace,
}

impl Stream {
    /// A uniform integer in `[0, n)` (Lemire's method, no modulo bias). `n` must be > 0.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Stream::below(0)");
        loop {
            let x = self.next_u64();
            let m = u128::from(x) * u128::from(n);
            let low = m as u64;
            if low >= n.wrapping_neg() % n {
                return (m >> 64) as u64;
            }
        }
    }

    /// A uniform float in `[0, 1)` with 53 random bits.
    #[inline]
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// `true` with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// This stream's number (see the module docs).
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl rand::TryRng for Stream {
    type Error = std::convert::Infallible;

    #[inline]
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.next_u64() as u32)
    }

    #[inline]
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let v = self.rng.next_u64();
        self.trace.draw(self.id, v);
        Ok(v)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }
}
