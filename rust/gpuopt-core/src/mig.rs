//! NVIDIA MIG: the legal layouts of GPU instances on one GPU.
//!
//! A GPU has 8 memory slices and 7 compute slices. A profile takes `memory_slices` contiguous
//! memory slices starting at one of its allowed starts and `compute_slices` compute slices; instances
//! may not overlap in memory, compute slices may not exceed 7, and each profile has a per-GPU cap.
//! A layout is a multiset of profiles that can be placed together; enumeration is a depth-first
//! search over placements in start order, so each set of placements is visited once.

use std::collections::BTreeSet;

use crate::error::{invalid, CoreError};

pub const MEMORY_SLICES: u32 = 8;
pub const COMPUTE_SLICES: u32 = 7;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigProfile {
    pub compute_slices: u32,
    pub memory_slices: u32,
    /// Bit s set: the instance may start at memory slice s.
    pub allowed_starts: u8,
    pub max_per_gpu: u32,
}

impl MigProfile {
    pub fn new(compute_slices: u32, memory_slices: u32, starts: &[u32], max_per_gpu: u32) -> Result<Self, CoreError> {
        if !(1..=COMPUTE_SLICES).contains(&compute_slices) || !(1..=MEMORY_SLICES).contains(&memory_slices) {
            return invalid(format!(
                "a MIG profile takes 1..={COMPUTE_SLICES} compute and 1..={MEMORY_SLICES} memory slices, \
                 got {compute_slices} and {memory_slices}"
            ));
        }
        let mut mask = 0u8;
        for &s in starts {
            if s + memory_slices > MEMORY_SLICES {
                return invalid(format!("a {memory_slices}-slice instance cannot start at slice {s}"));
            }
            mask |= 1 << s;
        }
        Ok(MigProfile { compute_slices, memory_slices, allowed_starts: mask, max_per_gpu })
    }

    fn span(&self, start: u32) -> u8 {
        (((1u16 << self.memory_slices) - 1) << start) as u8
    }
}

/// Every legal layout (non-empty) as counts per profile, in profile order; sorted, no repeats.
pub fn layouts(profiles: &[MigProfile]) -> Vec<Vec<u32>> {
    let mut found = BTreeSet::new();
    let mut counts = vec![0u32; profiles.len()];
    place(profiles, 0, 0, 0, &mut counts, &mut found);
    found.into_iter().collect()
}

/// Places instances whose start is at or after `from` (so each set of placements is built once).
fn place(profiles: &[MigProfile], from: u32, used: u8, compute: u32, counts: &mut Vec<u32>, found: &mut BTreeSet<Vec<u32>>) {
    if counts.iter().any(|&c| c > 0) {
        found.insert(counts.clone());
    }
    for start in from..MEMORY_SLICES {
        for (i, p) in profiles.iter().enumerate() {
            let span = if start + p.memory_slices <= MEMORY_SLICES { p.span(start) } else { continue };
            if p.allowed_starts & (1 << start) == 0
                || used & span != 0
                || compute + p.compute_slices > COMPUTE_SLICES
                || counts[i] >= p.max_per_gpu
            {
                continue;
            }
            counts[i] += 1;
            place(profiles, start + 1, used | span, compute + p.compute_slices, counts, found);
            counts[i] -= 1;
        }
    }
}

/// Layouts no profile can be added to (the ones worth deploying).
pub fn maximal_layouts(profiles: &[MigProfile]) -> Vec<Vec<u32>> {
    let all = layouts(profiles);
    let set: BTreeSet<&Vec<u32>> = all.iter().collect();
    all.iter()
        .filter(|l| {
            (0..profiles.len()).all(|i| {
                let mut more = (*l).clone();
                more[i] += 1;
                !set.contains(&more)
            })
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A100-80GB / H100 geometry: 1g.10gb, 1g.20gb, 2g.20gb, 3g.40gb, 4g.40gb, 7g.80gb.
    pub fn a100() -> Vec<MigProfile> {
        vec![
            MigProfile::new(1, 1, &[0, 1, 2, 3, 4, 5, 6], 7).unwrap(),
            MigProfile::new(1, 2, &[0, 2, 4, 6], 4).unwrap(),
            MigProfile::new(2, 2, &[0, 2, 4], 3).unwrap(),
            MigProfile::new(3, 4, &[0, 4], 2).unwrap(),
            MigProfile::new(4, 4, &[0], 1).unwrap(),
            MigProfile::new(7, 8, &[0], 1).unwrap(),
        ]
    }

    #[test]
    fn known_layouts() {
        let all = layouts(&a100());
        let has = |c: [u32; 6]| all.contains(&c.to_vec());
        assert!(has([0, 0, 0, 1, 1, 0])); // 3g + 4g
        assert!(has([7, 0, 0, 0, 0, 0])); // 7 x 1g
        assert!(has([0, 0, 0, 2, 0, 0])); // 3g + 3g
        assert!(has([1, 0, 3, 0, 0, 0])); // 1g + 3 x 2g
        assert!(has([0, 0, 0, 0, 0, 1])); // 7g
        assert!(!has([0, 0, 0, 0, 2, 0])); // 4g + 4g
        assert!(!has([8, 0, 0, 0, 0, 0]));
        assert!(!has([0, 0, 0, 0, 1, 1]));
    }

    #[test]
    fn maximal_layouts_cannot_grow() {
        let max = maximal_layouts(&a100());
        assert!(max.contains(&vec![0, 0, 0, 1, 1, 0]));
        assert!(max.contains(&vec![7, 0, 0, 0, 0, 0]));
        assert!(!max.contains(&vec![0, 0, 0, 1, 0, 0])); // a 3g alone leaves room for another
    }

    #[test]
    fn rejects_bad_profiles() {
        assert!(MigProfile::new(8, 1, &[0], 1).is_err());
        assert!(MigProfile::new(1, 4, &[6], 1).is_err());
    }
}
