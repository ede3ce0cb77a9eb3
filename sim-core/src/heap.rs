//! The scheduler's min-heap of event entries: a 4-ary heap in two parallel `Vec`s.
//!
//! Like `std::collections::BinaryHeap` but 4-ary, and with two things std does not offer:
//! [`EventHeap::replace_top`], which puts a new entry where the root was in one sift (the
//! scheduler uses it when a handler schedules right after its event was popped, the common case:
//! a pop and a push then cost one sift instead of two), and a branch-free `(time, key)` compare
//! on a `u128`.
//!
//! The order keys (`time << 64 | key`, 16 bytes) are kept apart from what the entries point to
//! (slot and generation, 8 bytes): a sift reads only keys, so the four children of a node are
//! 64 bytes, one cache line when aligned, instead of 96 bytes over two or three, and picking
//! their minimum works on values in registers with no second load.

/// One heap entry, ordered by `(time, key)`; `key` is unique among live entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    pub time: u64,
    pub key: u64,
    pub slot: u32,
    pub generation: u32,
}

impl Entry {
    #[inline(always)]
    fn rank(&self) -> u128 {
        (u128::from(self.time) << 64) | u128::from(self.key)
    }

    #[inline(always)]
    fn target(&self) -> Target {
        Target {
            slot: self.slot,
            generation: self.generation,
        }
    }

    #[inline(always)]
    fn from_parts(rank: u128, target: Target) -> Entry {
        Entry {
            time: (rank >> 64) as u64,
            key: rank as u64,
            slot: target.slot,
            generation: target.generation,
        }
    }
}

/// What an entry points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Target {
    slot: u32,
    generation: u32,
}

/// Children per node. Four halves the depth of a binary heap; the four children's keys are
/// adjacent (64 bytes), and picking their minimum takes three compares, two of them independent,
/// so a sift has fewer dependent steps and cache lines to wait for.
const ARITY: usize = 4;

/// Unused slots before the root, so that every group of four siblings (`4i + 1 ..= 4i + 4`)
/// starts at a multiple of four in the `ranks` buffer: 64 bytes, one cache line when the buffer
/// is 64-byte aligned.
const PAD: usize = 3;

/// A 4-ary min-heap. Node `i` (root 0) is at `ranks[PAD + i]` / `targets[i]`.
#[derive(Debug)]
pub(crate) struct EventHeap {
    /// `PAD` unused keys, then the nodes' keys.
    ranks: Vec<u128>,
    targets: Vec<Target>,
}

impl Default for EventHeap {
    fn default() -> Self {
        EventHeap {
            ranks: vec![0; PAD],
            targets: Vec::new(),
        }
    }
}

impl EventHeap {
    #[inline]
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    #[inline]
    pub fn peek(&self) -> Option<Entry> {
        let target = *self.targets.first()?;
        Some(Entry::from_parts(self.ranks[PAD], target))
    }

    #[inline]
    pub fn push(&mut self, e: Entry) {
        self.ranks.push(e.rank());
        self.targets.push(e.target());
        self.sift_up(self.targets.len() - 1, e.rank(), e.target());
    }

    /// Removes the root.
    #[inline]
    pub fn pop(&mut self) -> Option<Entry> {
        let target = self.targets.pop()?;
        let rank = self
            .ranks
            .pop()
            .expect("ranks and targets have the same length");
        let last = Entry::from_parts(rank, target);
        if self.targets.is_empty() {
            return Some(last);
        }
        let top = Entry::from_parts(self.ranks[PAD], self.targets[0]);
        self.replace_top(last);
        Some(top)
    }

    /// Replaces the root with `e` (the heap must not be empty) and sifts it down: at each level
    /// the smallest of the (up to four) children moves up until none is earlier than `e`.
    ///
    /// Not Floyd's bottom-up variant (all the way down without comparing against `e`, then back
    /// up): models often schedule the next event soon (the next arrival, a short timer), and then
    /// stopping near the root wins; in a 4-ary heap the compare against `e` is one in four.
    #[inline]
    pub fn replace_top(&mut self, e: Entry) {
        let len = self.targets.len();
        assert!(
            len > 0 && self.ranks.len() == len + PAD,
            "replace_top on an empty heap"
        );
        let r = &mut self.ranks[PAD..];
        let t = &mut self.targets[..];
        let rank = e.rank();
        let mut pos = 0;
        let mut child = 1;
        // SAFETY: `r` and `t` both have `len` elements (asserted); every index read is below
        // `len` (checked by the loop conditions: `child + 3 < len` for a full group of four,
        // `i < len` in the partial one), and `pos` is always 0 or a former `child`.
        unsafe {
            while child + 3 < len {
                let (r0, r1) = (*r.get_unchecked(child), *r.get_unchecked(child + 1));
                let (r2, r3) = (*r.get_unchecked(child + 2), *r.get_unchecked(child + 3));
                let (a, ra) = select_min(child, r0, child + 1, r1);
                let (b, rb) = select_min(child + 2, r2, child + 3, r3);
                let (m, rm) = select_min(a, ra, b, rb);
                if rm >= rank {
                    break;
                }
                *r.get_unchecked_mut(pos) = rm;
                *t.get_unchecked_mut(pos) = *t.get_unchecked(m);
                pos = m;
                child = ARITY * pos + 1;
            }
            if child + 3 >= len && child < len {
                let mut m = child;
                let mut rm = *r.get_unchecked(child);
                for i in child + 1..len {
                    let ri = *r.get_unchecked(i);
                    if ri < rm {
                        m = i;
                        rm = ri;
                    }
                }
                if rm < rank {
                    *r.get_unchecked_mut(pos) = rm;
                    *t.get_unchecked_mut(pos) = *t.get_unchecked(m);
                    pos = m;
                }
            }
            *r.get_unchecked_mut(pos) = rank;
            *t.get_unchecked_mut(pos) = e.target();
        }
    }

    /// Places `(rank, target)` at the hole `pos` (`< len`) or above it, moving later parents
    /// down.
    #[inline(always)]
    fn sift_up(&mut self, mut pos: usize, rank: u128, target: Target) {
        let r = &mut self.ranks[PAD..];
        let t = &mut self.targets[..];
        assert!(pos < t.len() && r.len() == t.len());
        // SAFETY: `pos < len` (asserted) and parents of valid indices are valid.
        unsafe {
            while pos > 0 {
                let parent = (pos - 1) / ARITY;
                let rp = *r.get_unchecked(parent);
                if rank >= rp {
                    break;
                }
                *r.get_unchecked_mut(pos) = rp;
                *t.get_unchecked_mut(pos) = *t.get_unchecked(parent);
                pos = parent;
            }
            *r.get_unchecked_mut(pos) = rank;
            *t.get_unchecked_mut(pos) = target;
        }
    }

    /// Keeps the entries for which `keep` holds and restores the heap order (O(n)).
    pub fn retain(&mut self, mut keep: impl FnMut(&Entry) -> bool) {
        let mut kept = 0;
        for i in 0..self.targets.len() {
            let e = Entry::from_parts(self.ranks[PAD + i], self.targets[i]);
            if keep(&e) {
                self.ranks[PAD + kept] = self.ranks[PAD + i];
                self.targets[kept] = self.targets[i];
                kept += 1;
            }
        }
        self.ranks.truncate(PAD + kept);
        self.targets.truncate(kept);
        if kept > 1 {
            for start in (0..=(kept - 2) / ARITY).rev() {
                self.sift_down(start);
            }
        }
    }

    fn sift_down(&mut self, mut pos: usize) {
        let r = &mut self.ranks[PAD..];
        let t = &mut self.targets[..];
        let len = t.len();
        let (rank, target) = (r[pos], t[pos]);
        loop {
            let first = ARITY * pos + 1;
            if first >= len {
                break;
            }
            let mut m = first;
            for i in first + 1..(first + ARITY).min(len) {
                if r[i] < r[m] {
                    m = i;
                }
            }
            if r[m] >= rank {
                break;
            }
            r[pos] = r[m];
            t[pos] = t[m];
            pos = m;
        }
        r[pos] = rank;
        t[pos] = target;
    }
}

/// The index and key of the smaller of two keys (the first on a tie, which cannot happen
/// between live entries), without a branch.
#[inline(always)]
fn select_min(i: usize, ri: u128, j: usize, rj: u128) -> (usize, u128) {
    let j_first = rj < ri;
    // Written as arithmetic on the compare's result so that it compiles to flag-driven moves,
    // not to a branch the predictor would miss half the time.
    let mask = u128::from(j_first).wrapping_neg();
    (
        i + usize::from(j_first) * (j - i),
        (ri & !mask) | (rj & mask),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(time: u64, key: u64) -> Entry {
        Entry {
            time,
            key,
            slot: key as u32,
            generation: 0,
        }
    }

    /// A tiny deterministic generator so this test needs no RNG crate (splitmix64).
    fn splitmix(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    #[test]
    fn pops_in_time_then_key_order_through_every_operation() {
        let mut state = 5u64;
        let mut heap = EventHeap::default();
        let mut model: Vec<(u64, u64)> = Vec::new();
        let mut key = 0;
        for step in 0..20_000 {
            let r = splitmix(&mut state);
            let time = splitmix(&mut state) % 50;
            match r % 5 {
                0 | 1 => {
                    heap.push(entry(time, key));
                    model.push((time, key));
                    key += 1;
                }
                2 => {
                    let got = heap.pop().map(|e| (e.time, e.key));
                    model.sort_unstable();
                    let want = (!model.is_empty()).then(|| model.remove(0));
                    assert_eq!(got, want, "step {step}");
                }
                3 if !model.is_empty() => {
                    model.sort_unstable();
                    model.remove(0);
                    heap.replace_top(entry(time, key));
                    model.push((time, key));
                    key += 1;
                }
                _ => {
                    let cut = splitmix(&mut state) % 50;
                    heap.retain(|e| e.time != cut);
                    model.retain(|&(t, _)| t != cut);
                }
            }
            assert_eq!(heap.len(), model.len());
            let min = model.iter().min().copied();
            assert_eq!(heap.peek().map(|e| (e.time, e.key)), min, "step {step}");
        }
    }
}
