//! GPU mixes: every multiset of GPU types up to a count (and a budget), with its totals, reduced
//! to the Pareto front of cost (min) against throughput capacity (max) as it is enumerated, so
//! memory stays bounded by the front however many mixes there are.

use rayon::prelude::*;

use crate::error::{invalid, CoreError};
use crate::interrupt::Poll;

/// Most mixes one call enumerates (C(max_gpus + types, types) - 1, within the budget's reach):
/// about 10-30 s on two cores. Past it the call is refused before it starts.
pub const MAX_MIXES: u128 = 20_000_000_000;

/// Per-GPU figures of one type.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MixType {
    pub usd_per_hour: f64,
    pub memory_bytes: f64,
    pub throughput: f64,
    pub power_w: f64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MixLimits {
    pub max_gpus: u32,
    /// Most $/hour a mix may cost (infinity: no budget).
    pub budget: f64,
    pub min_memory_bytes: f64,
    pub min_throughput: f64,
}

impl MixLimits {
    /// No budget and no minimums: every mix is feasible, so dominated runs can be counted unseen.
    fn unconstrained(&self) -> bool {
        self.budget == f64::INFINITY && self.min_memory_bytes <= 0.0 && self.min_throughput <= 0.0
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Mix {
    pub counts: Vec<u32>,
    pub usd_per_hour: f64,
    pub memory_bytes: f64,
    pub throughput: f64,
    pub power_w: f64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct MixFront {
    /// Non-dominated mixes, cheapest first.
    pub front: Vec<Mix>,
    /// Mixes within max_gpus and the budget (the empty mix excluded).
    pub enumerated: u64,
    /// Of those, mixes that also met min_memory and min_throughput.
    pub feasible: u64,
}

/// Staircase of (cost, throughput), sorted by cost: cheaper entries have strictly less
/// throughput. A sorted vector: the front is small and most offers are rejected by one binary search.
#[derive(Default)]
struct Staircase {
    costs: Vec<f64>,
    tputs: Vec<f64>,
    mixes: Vec<Mix>,
}

impl Staircase {
    fn offer(&mut self, cost: f64, throughput: f64, make: impl FnOnce() -> Mix) {
        let pos = self.costs.partition_point(|&c| c <= cost);
        if pos > 0 && self.tputs[pos - 1] >= throughput {
            return; // as cheap or cheaper, and as fast or faster
        }
        let start = if pos > 0 && self.costs[pos - 1] == cost { pos - 1 } else { pos };
        let mut end = pos;
        while end < self.costs.len() && self.tputs[end] <= throughput {
            end += 1;
        }
        self.costs.splice(start..end, [cost]);
        self.tputs.splice(start..end, [throughput]);
        self.mixes.splice(start..end, [make()]);
    }
}

struct Walk<'a> {
    types: &'a [MixType],
    limits: MixLimits,
    counts: Vec<u32>,
    front: Staircase,
    enumerated: u64,
    feasible: u64,
    poll: Poll,
    /// Set once a stop was requested: the walk unwinds without visiting more.
    stopped: bool,
}

impl Walk<'_> {
    /// Counts `leaves` mixes of a dominated run without walking it (unconstrained: all feasible).
    fn count_unseen(&mut self, leaves: u64) {
        self.enumerated += leaves;
        self.feasible += leaves;
    }

    /// Chooses the count of type `t` onwards, `left` GPUs still allowed, with running totals.
    fn go(&mut self, t: usize, left: u32, cost: f64, memory: f64, tput: f64, power: f64) {
        if t + 1 == self.types.len() {
            let mut pos = self.front.costs.partition_point(|&c| c <= cost);
            return self.last(t, left, cost, memory, tput, power, &mut pos);
        }
        if t + 2 == self.types.len() {
            return self.last_two(t, left, cost, memory, tput, power);
        }
        let ty = self.types[t];
        let mut c = 0u32;
        while !self.stopped {
            let k = c as f64;
            let cost_k = cost + k * ty.usd_per_hour;
            if cost_k > self.limits.budget {
                break;
            }
            self.counts[t] = c;
            self.go(t + 1, left - c, cost_k, memory + k * ty.memory_bytes, tput + k * ty.throughput, power + k * ty.power_w);
            if c == left {
                break;
            }
            c += 1;
        }
        self.counts[t] = 0;
    }

    /// The innermost type: its counts give the leaves. Cost never falls as the count rises, so
    /// the staircase position only moves forward: one binary search, then a walk.
    /// `pos` is the staircase position of `cost` (entries costing at most it), kept up to date.
    #[allow(clippy::too_many_arguments)]
    fn last(&mut self, t: usize, left: u32, cost: f64, memory: f64, tput: f64, power: f64, pos_at: &mut usize) {
        if self.stopped || self.poll.step().is_err() {
            self.stopped = true;
            return;
        }
        let ty = self.types[t];
        let empty_prefix = left == self.limits.max_gpus;
        let mut pos = *pos_at;
        // Without a budget or minimums, a run whose fastest leaf is already beaten at its cheapest
        // cost is dominated whole (the staircase only rises): count it and move on.
        if self.limits.unconstrained() && pos > 0 && self.front.tputs[pos - 1] >= tput + left as f64 * ty.throughput {
            return self.count_unseen(left as u64 + 1 - empty_prefix as u64);
        }
        for c in 0..=left {
            let k = c as f64;
            let cost_k = cost + k * ty.usd_per_hour;
            if cost_k > self.limits.budget {
                break;
            }
            if c == 0 && empty_prefix {
                continue; // the empty mix
            }
            let (memory_k, tput_k) = (memory + k * ty.memory_bytes, tput + k * ty.throughput);
            self.enumerated += 1;
            if memory_k < self.limits.min_memory_bytes || tput_k < self.limits.min_throughput {
                continue;
            }
            self.feasible += 1;
            while pos < self.front.costs.len() && self.front.costs[pos] <= cost_k {
                pos += 1;
            }
            if pos > 0 && self.front.tputs[pos - 1] >= tput_k {
                continue; // dominated: the common case
            }
            self.counts[t] = c;
            let counts = &self.counts;
            let power_k = power + k * ty.power_w;
            self.front.offer(cost_k, tput_k, || Mix { counts: counts.clone(), usd_per_hour: cost_k, memory_bytes: memory_k, throughput: tput_k, power_w: power_k });
            pos = self.front.costs.partition_point(|&x| x <= cost_k);
            *pos_at = self.front.costs.partition_point(|&x| x <= cost); // the front changed under it
        }
        self.counts[t] = 0;
    }

    /// The two innermost types: as the second-to-last count rises, its cost rises too, so the
    /// staircase position of each run of leaves is walked forward rather than searched.
    fn last_two(&mut self, t: usize, left: u32, cost: f64, memory: f64, tput: f64, power: f64) {
        let ty = self.types[t];
        let mut base = self.front.costs.partition_point(|&c| c <= cost);
        // As in `last`: a subtree whose fastest leaf is clearly beaten at its cheapest cost is
        // counted, not walked (the margin keeps rounding from deciding a tie).
        let fastest = tput + left as f64 * ty.throughput.max(self.types[t + 1].throughput);
        if self.limits.unconstrained() && base > 0 && self.front.tputs[base - 1] > fastest * (1.0 + 1e-9) + 1e-9 {
            let l = left as u64;
            return self.count_unseen((l + 1) * (l + 2) / 2 - (left == self.limits.max_gpus) as u64);
        }
        for c in 0..=left {
            let k = c as f64;
            let cost_k = cost + k * ty.usd_per_hour;
            if cost_k > self.limits.budget {
                break;
            }
            while base < self.front.costs.len() && self.front.costs[base] <= cost_k {
                base += 1;
            }
            self.counts[t] = c;
            self.last(t + 1, left - c, cost_k, memory + k * ty.memory_bytes, tput + k * ty.throughput, power + k * ty.power_w, &mut base);
        }
        self.counts[t] = 0;
    }
}

pub fn mixes(types: &[MixType], limits: MixLimits) -> Result<MixFront, CoreError> {
    if types.is_empty() {
        return invalid("mixes need at least one GPU type");
    }
    if limits.max_gpus == 0 {
        return invalid("max_gpus must be at least 1");
    }
    for (i, t) in types.iter().enumerate() {
        for (name, v) in [("usd_per_hour", t.usd_per_hour), ("memory_bytes", t.memory_bytes), ("throughput", t.throughput), ("power_w", t.power_w)] {
            if !(v >= 0.0 && v.is_finite()) {
                return invalid(format!("type {i}: {name} = {v} must be finite and >= 0"));
            }
        }
    }
    if limits.budget.is_nan() || limits.budget < 0.0 {
        return invalid(format!("budget = {} must be >= 0 (infinity for none)", limits.budget));
    }
    let reach = within_budget(types, limits);
    let count = count_mixes(types.len() as u64, reach as u64);
    if count > MAX_MIXES {
        return invalid(format!(
            "{} GPU types with up to {reach} GPUs make {} mixes, more than the {MAX_MIXES} one call enumerates: \
             lower max_gpus, give a budget or fewer types",
            types.len(),
            if count == u128::MAX { "over 2^128".to_string() } else { count.to_string() }
        ));
    }
    // Split the walk by the counts of the first two types (balanced enough for any core count),
    // one front per task, then merge them in enumeration order.
    let m = limits.max_gpus;
    let prefixes: Vec<(u32, u32)> = (0..=m)
        .flat_map(|c0| (0..=if types.len() > 1 { m - c0 } else { 0 }).map(move |c1| (c0, c1)))
        .collect();
    let parts: Vec<(Staircase, u64, u64)> = prefixes
        .into_par_iter()
        .filter_map(|(c0, c1)| {
            let mut w = Walk {
                types, limits, counts: vec![0; types.len()], front: Staircase::default(), enumerated: 0, feasible: 0,
                poll: Poll::default(), stopped: false,
            };
            let (mut cost, mut memory, mut tput, mut power) = (0.0, 0.0, 0.0, 0.0);
            for (t, c) in [(0usize, c0), (1, c1)].into_iter().take(types.len()) {
                let (k, ty) = (c as f64, types[t]);
                cost += k * ty.usd_per_hour;
                if cost > limits.budget {
                    return None;
                }
                memory += k * ty.memory_bytes;
                tput += k * ty.throughput;
                power += k * ty.power_w;
                w.counts[t] = c;
            }
            if types.len() <= 2 {
                // Both counts are fixed: this task is one leaf (unless it is the empty mix).
                let (c0, c1) = (c0, if types.len() > 1 { c1 } else { 0 });
                if c0 + c1 > 0 {
                    w.enumerated += 1;
                    if memory >= limits.min_memory_bytes && tput >= limits.min_throughput {
                        w.feasible += 1;
                        let counts = w.counts.clone();
                        w.front.offer(cost, tput, || Mix { counts, usd_per_hour: cost, memory_bytes: memory, throughput: tput, power_w: power });
                    }
                }
            } else {
                w.go(2, m - c0 - c1, cost, memory, tput, power);
            }
            Some((w.front, w.enumerated, w.feasible))
        })
        .collect();
    crate::interrupt::check()?;
    let mut merged = Staircase::default();
    let (mut enumerated, mut feasible) = (0, 0);
    for (front, e, f) in parts {
        enumerated += e;
        feasible += f;
        for m in front.mixes {
            let (cost, tput) = (m.usd_per_hour, m.throughput);
            merged.offer(cost, tput, || m);
        }
    }
    Ok(MixFront { front: merged.mixes, enumerated, feasible })
}

/// Most GPUs a mix can hold: max_gpus, or fewer where the budget buys fewer of the cheapest type.
fn within_budget(types: &[MixType], limits: MixLimits) -> u32 {
    let cheapest = types.iter().map(|t| t.usd_per_hour).fold(f64::INFINITY, f64::min);
    let affordable = limits.budget / cheapest; // inf (or NaN for 0/0) when nothing limits the count
    if affordable < limits.max_gpus as f64 {
        affordable.floor() as u32
    } else {
        limits.max_gpus
    }
}

/// Number of non-empty multisets of `types` kinds with at most `max_gpus` items: C(max+types, types) - 1,
/// u128::MAX where that overflows.
pub fn count_mixes(types: u64, max_gpus: u64) -> u128 {
    // C(n, k) = C(n, n - k): the smaller side keeps the product short
    let n = max_gpus as u128 + types as u128;
    let k = (types as u128).min(max_gpus as u128);
    let mut c: u128 = 1;
    for i in 0..k {
        // c * (n - i) is divisible by i + 1 (it is (i + 1) * C(n, i + 1))
        match c.checked_mul(n - i) {
            Some(x) => c = x / (i + 1),
            None => return u128::MAX,
        }
    }
    c - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(cost: f64, tput: f64) -> MixType {
        MixType { usd_per_hour: cost, memory_bytes: 24e9, throughput: tput, power_w: 100.0 }
    }

    const NONE: MixLimits = MixLimits { max_gpus: 4, budget: f64::INFINITY, min_memory_bytes: 0.0, min_throughput: 0.0 };

    #[test]
    fn enumerates_every_multiset() {
        let types: Vec<MixType> = (0..10).map(|i| t(1.0 + i as f64, 1.0)).collect();
        let r = mixes(&types, MixLimits { max_gpus: 16, ..NONE }).unwrap();
        assert_eq!(r.enumerated as u128, count_mixes(10, 16));
        assert_eq!(count_mixes(10, 16), 5_311_734); // C(26, 10) - 1
    }

    #[test]
    fn refuses_more_mixes_than_the_cap_before_walking() {
        let types: Vec<MixType> = (0..6).map(|i| t(1.0 + i as f64, 1.0)).collect();
        let e = mixes(&types, MixLimits { max_gpus: 1024, ..NONE }).unwrap_err().to_string();
        assert!(e.contains("6 GPU types with up to 1024 GPUs make 1634386955681024 mixes"), "{e}");
        assert_eq!(count_mixes(6, 1024), 1_634_386_955_681_024); // C(1030, 6) - 1
        // a budget that buys at most 40 GPUs of the cheapest type bounds the walk: C(46, 6) - 1 mixes at most
        let r = mixes(&types, MixLimits { max_gpus: 1024, budget: 40.0, ..NONE }).unwrap();
        assert!(r.enumerated as u128 <= count_mixes(6, 40));
        assert_eq!(within_budget(&types, MixLimits { max_gpus: 1024, budget: 40.5, ..NONE }), 40);
        assert_eq!(within_budget(&types, MixLimits { max_gpus: 16, budget: 40.5, ..NONE }), 16);
        assert_eq!(within_budget(&[t(0.0, 1.0)], MixLimits { max_gpus: 16, budget: 0.0, ..NONE }), 16);
        assert_eq!(count_mixes(1 << 40, 1 << 31), u128::MAX);
    }

    #[test]
    fn front_is_the_cost_throughput_staircase() {
        // cheap-slow and dear-fast types: the front holds the best throughput at each cost
        let types = [t(1.0, 1.0), t(3.0, 4.0)];
        let r = mixes(&types, NONE).unwrap();
        let pts: Vec<(f64, f64)> = r.front.iter().map(|m| (m.usd_per_hour, m.throughput)).collect();
        let expected = [(1.0, 1.0), (2.0, 2.0), (3.0, 4.0), (4.0, 5.0), (5.0, 6.0), (6.0, 8.0), (7.0, 9.0), (8.0, 10.0), (9.0, 12.0), (10.0, 13.0), (12.0, 16.0)];
        assert_eq!(pts, expected.to_vec());
        assert!(pts.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1));
    }

    #[test]
    fn budget_and_minimums() {
        let types = [t(1.0, 1.0), t(3.0, 4.0)];
        let r = mixes(&types, MixLimits { budget: 5.0, min_throughput: 2.0, ..NONE }).unwrap();
        assert!(r.front.iter().all(|m| m.usd_per_hour <= 5.0 && m.throughput >= 2.0));
        assert!(r.feasible < r.enumerated);
        assert!(mixes(&[], NONE).is_err());
        assert!(mixes(&[t(f64::NAN, 1.0)], NONE).is_err());
    }
}
