//! The cheapest integer cover of a demand: column generation's pricing problem.
//!
//!   min sum w_i x_i  s.t.  sum a_i x_i >= r,  sum x_i >= m,  x_i in {0, 1, 2, ...}
//!
//! Item i is one way to run a replica (a slot at a site) with price w_i (the resources it uses at
//! the LP's prices) and capacity a_i (req/s); r is the demand and m the minimum replicas. Exact
//! branch and bound: items another is no dearer and no smaller than are dropped, the rest are
//! branched on from the largest capacity down, and a node is cut when its cost plus the cheapest
//! completion (the better of price per req/s x demand left and cheapest item x replicas left)
//! cannot beat the best cover found.

use crate::error::{invalid, CoreError};
use rayon::prelude::*;

/// One block's answer: cost, a lower bound (equal to the cost unless the node limit stopped the
/// search) and the count of each item.
#[derive(Debug, Clone, PartialEq)]
pub struct Cover {
    pub cost: f64,
    pub lower: f64,
    pub counts: Vec<u64>,
}

struct Search<'a> {
    w: &'a [f64],
    a: &'a [f64],
    items: Vec<usize>,
    min_ratio: Vec<f64>,
    tol: f64,
    node_limit: u64,
    nodes: u64,
    hit: bool,
    best: f64,
    x: Vec<u64>,
    best_x: Vec<u64>,
}

impl Search<'_> {
    fn bound(&self, t: usize, r_rem: f64, m_rem: f64) -> f64 {
        let k = self.items.len();
        if t == k {
            return f64::INFINITY;
        }
        (r_rem.max(0.0) * self.min_ratio[t]).max(m_rem.max(0.0) * self.w[self.items[k - 1]])
    }

    fn dfs(&mut self, t: usize, r_rem: f64, m_rem: f64, cost: f64) {
        self.nodes += 1;
        if self.nodes > self.node_limit {
            self.hit = true;
            return;
        }
        if r_rem <= self.tol && m_rem <= 0.0 {
            if cost < self.best {
                self.best = cost;
                self.best_x.clone_from(&self.x);
            }
            return;
        }
        if cost + self.bound(t, r_rem, m_rem) >= self.best {
            return;
        }
        let i = self.items[t];
        let x_max = m_rem.max(((r_rem - self.tol) / self.a[i]).ceil()).max(0.0) as i64;
        let x_min = if t == self.items.len() - 1 { x_max } else { 0 };
        let mut c = x_max;
        while c >= x_min {
            self.x[i] = c as u64;
            let cf = c as f64;
            self.dfs(t + 1, r_rem - cf * self.a[i], m_rem - cf, cost + cf * self.w[i]);
            if self.hit {
                break;
            }
            c -= 1;
        }
        self.x[i] = 0;
    }
}

/// The cheapest cover of one block (see the module comment).
pub fn cover_min(w: &[f64], a: &[f64], r: f64, m: f64, node_limit: u64) -> Cover {
    let n = w.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| w[i].total_cmp(&w[j]).then(a[j].total_cmp(&a[i])).then(i.cmp(&j)));
    let mut keep = Vec::new();
    let mut best_a = f64::NEG_INFINITY;
    for i in order {
        if a[i] > best_a {
            keep.push(i);
            best_a = a[i];
        }
    }
    keep.reverse();
    let k = keep.len();
    let mut min_ratio = vec![f64::INFINITY; k + 1];
    for t in (0..k).rev() {
        min_ratio[t] = min_ratio[t + 1].min(w[keep[t]] / a[keep[t]]);
    }
    let mut s = Search {
        w,
        a,
        items: keep,
        min_ratio,
        tol: 1e-9 * r.max(1.0),
        node_limit,
        nodes: 0,
        hit: false,
        best: f64::INFINITY,
        x: vec![0; n],
        best_x: vec![0; n],
    };
    s.dfs(0, r, m, 0.0);
    let lower = if s.hit { s.best.min(s.bound(0, r, m)) } else { s.best };
    Cover { cost: s.best, lower, counts: s.best_x }
}

/// cover_min for many blocks: block b holds items offsets[b] .. offsets[b+1] of `w` and `a`.
pub fn cover_min_many(offsets: &[usize], w: &[f64], a: &[f64], r: &[f64], m: &[f64], node_limit: u64) -> Result<Vec<Cover>, CoreError> {
    if offsets.is_empty() || offsets[0] != 0 || offsets[offsets.len() - 1] != w.len() || offsets.windows(2).any(|p| p[0] > p[1]) {
        return invalid("offsets must start at 0, never decrease, and end at the number of items");
    }
    if w.len() != a.len() {
        return invalid(format!("w has {} items but a has {}", w.len(), a.len()));
    }
    let blocks = offsets.len() - 1;
    if r.len() != blocks || m.len() != blocks {
        return invalid(format!("{blocks} blocks but {} demands and {} minimum replica counts", r.len(), m.len()));
    }
    if let Some(i) = w.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
        return invalid(format!("item {i}: price must be finite and >= 0, got {}", w[i]));
    }
    if let Some(i) = a.iter().position(|v| !(v.is_finite() && *v > 0.0)) {
        return invalid(format!("item {i}: capacity must be finite and > 0, got {}", a[i]));
    }
    if let Some(b) = (0..blocks).find(|&b| !(r[b].is_finite() && m[b].is_finite() && m[b] >= 0.0 && m[b] <= 1e6)) {
        return invalid(format!("block {b}: demand must be finite and minimum replicas from 0 to 1e6, got {} and {}", r[b], m[b]));
    }
    Ok((0..blocks)
        .into_par_iter()
        .map(|b| {
            let (lo, hi) = (offsets[b], offsets[b + 1]);
            cover_min(&w[lo..hi], &a[lo..hi], r[b], m[b], node_limit)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cheapest_cover_by_hand() {
        // three items (price, req/s): (1, 2), (3.5, 8), (0.5, 0.6)
        let (w, a) = ([1.0, 3.5, 0.5], [2.0, 8.0, 0.6]);
        assert_eq!(cover_min(&w, &a, 5.0, 1.0, 1000), Cover { cost: 3.0, lower: 3.0, counts: vec![3, 0, 0] });
        assert_eq!(cover_min(&w, &a, 9.0, 1.0, 1000), Cover { cost: 4.5, lower: 4.5, counts: vec![1, 1, 0] });
        // two replicas wanted, little demand: the two cheapest
        assert_eq!(cover_min(&w, &a, 0.1, 2.0, 1000).counts, vec![0, 0, 2]);
    }

    #[test]
    fn nothing_to_cover_costs_nothing_and_no_items_cannot_cover() {
        assert_eq!(cover_min(&[1.0], &[1.0], 0.0, 0.0, 10).cost, 0.0);
        assert_eq!(cover_min(&[], &[], 1.0, 1.0, 10).cost, f64::INFINITY);
    }

    #[test]
    fn node_limit_gives_a_valid_lower_bound() {
        let w: Vec<f64> = (1..=12).map(|i| 1.0 + 0.37 * i as f64).collect();
        let a: Vec<f64> = (1..=12).map(|i| 0.9 * i as f64 + 0.013 * (i * i) as f64).collect();
        let exact = cover_min(&w, &a, 57.3, 3.0, u64::MAX);
        let cut = cover_min(&w, &a, 57.3, 3.0, 5);
        assert!(cut.lower <= exact.cost && cut.cost >= exact.cost);
        assert_eq!(exact.lower, exact.cost);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(cover_min_many(&[0, 2], &[1.0], &[1.0], &[1.0], &[1.0], 10).is_err());
        assert!(cover_min_many(&[0, 1], &[f64::NAN], &[1.0], &[1.0], &[1.0], 10).is_err());
        assert!(cover_min_many(&[0, 1], &[1.0], &[0.0], &[1.0], &[1.0], 10).is_err());
        assert!(cover_min_many(&[0, 1], &[1.0], &[1.0], &[1.0], &[], 10).is_err());
    }
}
