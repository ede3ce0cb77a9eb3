//! The scheduler's min-heap of event entries: a 4-ary heap in a `Vec`.
//!
//! Like `std::collections::BinaryHeap` but 4-ary, and with two things std does not offer:
//! [`EventHeap::replace_top`], which puts a new entry where the root was in one sift (the
//! scheduler uses it when a handler schedules right after its event was popped, the common case:
//! a pop and a push then cost one sift instead of two), and a branch-free `(time, key)` compare
//! on a `u128`.

/// One heap entry: 24 bytes, ordered by `(time, key)`; `key` is unique among live entries.
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
    fn before(&self, other: &Entry) -> bool {
        self.rank() < other.rank()
    }
}

/// Children per node. Four halves the depth of a binary heap; the four children of a node are
/// adjacent (96 bytes), and picking their minimum takes three compares that do not depend on
/// each other, so a sift has fewer dependent steps and cache lines to wait for.
const ARITY: usize = 4;

#[derive(Debug, Default)]
pub(crate) struct EventHeap {
    v: Vec<Entry>,
}

impl EventHeap {
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.v.len()
    }

    #[inline]
    pub(crate) fn peek(&self) -> Option<&Entry> {
        self.v.first()
    }

    #[inline]
    pub(crate) fn push(&mut self, e: Entry) {
        self.v.push(e);
        self.sift_up(self.v.len() - 1, e);
    }

    /// Removes the root.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<Entry> {
        let last = self.v.pop()?;
        if self.v.is_empty() {
            return Some(last);
        }
        let top = self.v[0];
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
    pub(crate) fn replace_top(&mut self, e: Entry) {
        let v = &mut self.v[..];
        let len = v.len();
        assert!(len > 0, "replace_top on an empty heap");
        let mut pos = 0;
        let mut child = 1;
        // SAFETY: every index read is below `len` (checked by the loop conditions: `child + 3 <
        // len` for a full group of four, `i < len` in the partial one), and `pos` is always 0 or
        // a former `child`.
        unsafe {
            while child + 3 < len {
                let a =
                    child + usize::from(v.get_unchecked(child + 1).before(v.get_unchecked(child)));
                let b = child
                    + 2
                    + usize::from(
                        v.get_unchecked(child + 3)
                            .before(v.get_unchecked(child + 2)),
                    );
                let m = if v.get_unchecked(b).before(v.get_unchecked(a)) {
                    b
                } else {
                    a
                };
                if !v.get_unchecked(m).before(&e) {
                    *v.get_unchecked_mut(pos) = e;
                    return;
                }
                *v.get_unchecked_mut(pos) = *v.get_unchecked(m);
                pos = m;
                child = ARITY * pos + 1;
            }
            if child < len {
                let mut m = child;
                for i in child + 1..len {
                    if v.get_unchecked(i).before(v.get_unchecked(m)) {
                        m = i;
                    }
                }
                if v.get_unchecked(m).before(&e) {
                    *v.get_unchecked_mut(pos) = *v.get_unchecked(m);
                    pos = m;
                }
            }
            *v.get_unchecked_mut(pos) = e;
        }
    }

    /// Places `e` at the hole `pos` (`< len`) or above it, moving later parents down.
    #[inline(always)]
    fn sift_up(&mut self, mut pos: usize, e: Entry) {
        let v = &mut self.v[..];
        assert!(pos < v.len());
        // SAFETY: `pos < len` (asserted) and parents of valid indices are valid.
        unsafe {
            while pos > 0 {
                let parent = (pos - 1) / ARITY;
                if !e.before(v.get_unchecked(parent)) {
                    break;
                }
                *v.get_unchecked_mut(pos) = *v.get_unchecked(parent);
                pos = parent;
            }
            *v.get_unchecked_mut(pos) = e;
        }
    }

    /// Keeps the entries for which `keep` holds and restores the heap order (O(n)).
    pub(crate) fn retain(&mut self, keep: impl FnMut(&Entry) -> bool) {
        self.v.retain(keep);
        let len = self.v.len();
        if len > 1 {
            for start in (0..=(len - 2) / ARITY).rev() {
                self.sift_down(start);
            }
        }
    }

    fn sift_down(&mut self, mut pos: usize) {
        let v = &mut self.v[..];
        let len = v.len();
        let e = v[pos];
        loop {
            let first = ARITY * pos + 1;
            if first >= len {
                break;
            }
            let mut m = first;
            for i in first + 1..(first + ARITY).min(len) {
                if v[i].before(&v[m]) {
                    m = i;
                }
            }
            if !v[m].before(&e) {
                break;
            }
            v[pos] = v[m];
            pos = m;
        }
        v[pos] = e;
    }
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
