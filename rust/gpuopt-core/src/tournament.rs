//! A tournament tree: the smallest of n keys (the lowest index among equal keys) in O(1), one
//! key changed in O(log n). The simulator keeps one over its replicas' next event times and one
//! over their outstanding requests, so neither scans every replica on every event.

pub struct Tournament<K> {
    /// Node k holds (key, index) of its subtree's winner: node 1 is the root, leaf i is node
    /// leaves + i. Padding leaves hold `worst` and, having the highest indices, never win a tie.
    nodes: Vec<(K, usize)>,
    leaves: usize,
}

impl<K: Copy + PartialOrd> Tournament<K> {
    /// `n` keys, all `init`; `worst` is a key no real key exceeds (padding).
    pub fn new(n: usize, init: K, worst: K) -> Self {
        let leaves = n.max(2).next_power_of_two();
        let mut nodes = vec![(worst, 0); 2 * leaves];
        for (i, leaf) in nodes[leaves..].iter_mut().enumerate() {
            *leaf = (if i < n { init } else { worst }, i);
        }
        for node in (1..leaves).rev() {
            nodes[node] = Self::play(nodes[2 * node], nodes[2 * node + 1]);
        }
        Tournament { nodes, leaves }
    }

    /// The left child (lower indices) wins unless the right one is strictly smaller.
    #[inline]
    fn play(left: (K, usize), right: (K, usize)) -> (K, usize) {
        if right.0 < left.0 {
            right
        } else {
            left
        }
    }

    #[inline]
    pub fn set(&mut self, i: usize, key: K) {
        let mut node = self.leaves + i;
        if self.nodes[node].0 == key {
            return;
        }
        self.nodes[node].0 = key;
        while node > 1 {
            let sibling = node ^ 1;
            let (left, right) = if node & 1 == 0 { (node, sibling) } else { (sibling, node) };
            node /= 2;
            let won = Self::play(self.nodes[left], self.nodes[right]);
            // an unchanged node leaves every ancestor unchanged
            if self.nodes[node] == won {
                return;
            }
            self.nodes[node] = won;
        }
    }

    /// (index, key) of the smallest key; the lowest index among equals.
    #[inline]
    pub fn min(&self) -> (usize, K) {
        let (k, i) = self.nodes[1];
        (i, k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_scan_with_ties_to_the_lowest_index() {
        let mut rng = crate::sim::Rng::new(3);
        for n in [1usize, 2, 3, 5, 8, 13, 64, 100] {
            let mut t = Tournament::new(n, f64::INFINITY, f64::INFINITY);
            let mut keys = vec![f64::INFINITY; n];
            assert_eq!(t.min(), (0, f64::INFINITY));
            for _ in 0..500 {
                let i = (rng.next_u64() % n as u64) as usize;
                let k = (rng.next_u64() % 4) as f64; // few values: many ties
                keys[i] = k;
                t.set(i, k);
                let scan = keys.iter().enumerate().fold((0, f64::INFINITY), |b, (j, &x)| if x < b.1 { (j, x) } else { b });
                assert_eq!(t.min(), scan, "n = {n}");
            }
        }
    }
}
