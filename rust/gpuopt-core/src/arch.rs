//! Transformer architecture -> parameter counts and KV-cache size.
//!
//! Counts are exact for Llama-style decoders (RMSNorm, gated SiLU MLP, no linear biases except an
//! optional q/k/v bias) and Mixtral-style MoE (every layer's MLP replaced by `experts` gated MLPs
//! and a router). Counts are kept in f64: exact up to 2^53 parameters, and never overflows.

use crate::error::{invalid, CoreError};
use crate::precision::Precision;

/// Column order of a model row as it crosses the Python boundary (one i64 per field; booleans 0/1,
/// `sliding_window` 0 for none).
pub const MODEL_FIELDS: [&str; 13] = [
    "layers",
    "hidden",
    "heads",
    "kv_heads",
    "head_dim",
    "ffn",
    "vocab",
    "tied_embeddings",
    "experts",
    "experts_per_token",
    "max_context",
    "sliding_window",
    "attention_bias",
];

/// Largest value accepted for any dimension: far beyond any real model, small enough that every
/// product stays exact in f64.
pub const MAX_DIM: i64 = 1 << 31;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModelArch {
    pub layers: f64,
    pub hidden: f64,
    pub heads: f64,
    pub kv_heads: f64,
    pub head_dim: f64,
    pub ffn: f64,
    pub vocab: f64,
    pub tied_embeddings: bool,
    pub experts: f64,
    pub experts_per_token: f64,
    pub max_context: f64,
    /// 0 when attention is global.
    pub sliding_window: f64,
    pub attention_bias: bool,
}

/// Parameters by role; `mlp` counts every expert, `mlp_active` only those a token uses.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParamCounts {
    pub embedding: f64,
    pub lm_head: f64,
    pub attention: f64,
    pub attention_bias: f64,
    pub mlp: f64,
    pub mlp_active: f64,
    pub router: f64,
    pub norms: f64,
}

impl ParamCounts {
    pub fn total(&self) -> f64 {
        self.embedding
            + self.lm_head
            + self.attention
            + self.attention_bias
            + self.mlp
            + self.router
            + self.norms
    }

    /// Parameters one token touches (the published "active parameters" of MoE models).
    pub fn active(&self) -> f64 {
        self.embedding
            + self.lm_head
            + self.attention
            + self.attention_bias
            + self.mlp_active
            + self.router
            + self.norms
    }

    /// Linear-layer weights inside the blocks: what weight quantisation shrinks.
    pub fn quantizable(&self) -> f64 {
        self.attention + self.mlp
    }

    /// Embeddings, LM head and biases stay at 16 bits and are sharded by tensor parallelism.
    pub fn sharded_16bit(&self) -> f64 {
        self.embedding + self.lm_head + self.attention_bias
    }

    /// Norm and router weights are small and replicated on every tensor-parallel rank.
    pub fn replicated_16bit(&self) -> f64 {
        self.router + self.norms
    }
}

fn field(row: &[i64], i: usize, min: i64) -> Result<f64, CoreError> {
    let v = row[i];
    if v < min || v > MAX_DIM {
        return invalid(format!(
            "model field {} = {v} is out of range (expected {min}..={MAX_DIM})",
            MODEL_FIELDS[i]
        ));
    }
    Ok(v as f64)
}

fn flag(row: &[i64], i: usize) -> Result<bool, CoreError> {
    match row[i] {
        0 => Ok(false),
        1 => Ok(true),
        v => invalid(format!("model field {} = {v} must be 0 or 1", MODEL_FIELDS[i])),
    }
}

impl ModelArch {
    /// Builds and validates an architecture from a row in `MODEL_FIELDS` order.
    pub fn from_row(row: &[i64]) -> Result<Self, CoreError> {
        if row.len() != MODEL_FIELDS.len() {
            return invalid(format!(
                "a model row has {} fields, expected {} ({})",
                row.len(),
                MODEL_FIELDS.len(),
                MODEL_FIELDS.join(", ")
            ));
        }
        let arch = ModelArch {
            layers: field(row, 0, 1)?,
            hidden: field(row, 1, 1)?,
            heads: field(row, 2, 1)?,
            kv_heads: field(row, 3, 1)?,
            head_dim: field(row, 4, 1)?,
            ffn: field(row, 5, 1)?,
            vocab: field(row, 6, 1)?,
            tied_embeddings: flag(row, 7)?,
            experts: field(row, 8, 1)?,
            experts_per_token: field(row, 9, 1)?,
            max_context: field(row, 10, 1)?,
            sliding_window: field(row, 11, 0)?,
            attention_bias: flag(row, 12)?,
        };
        if row[2] % row[3] != 0 {
            return invalid(format!(
                "heads = {} is not a multiple of kv_heads = {} (grouped-query attention needs whole groups)",
                row[2], row[3]
            ));
        }
        if row[9] > row[8] {
            return invalid(format!(
                "experts_per_token = {} exceeds experts = {}",
                row[9], row[8]
            ));
        }
        Ok(arch)
    }

    pub fn is_moe(&self) -> bool {
        self.experts > 1.0
    }

    pub fn params(&self) -> ParamCounts {
        let q_dim = self.heads * self.head_dim;
        let kv_dim = self.kv_heads * self.head_dim;
        let l = self.layers;
        let per_expert = 3.0 * self.hidden * self.ffn; // gate, up and down projections
        ParamCounts {
            embedding: self.vocab * self.hidden,
            lm_head: if self.tied_embeddings { 0.0 } else { self.vocab * self.hidden },
            attention: l * (self.hidden * (q_dim + 2.0 * kv_dim) + q_dim * self.hidden),
            attention_bias: if self.attention_bias { l * (q_dim + 2.0 * kv_dim) } else { 0.0 },
            mlp: l * self.experts * per_expert,
            mlp_active: l * self.experts_per_token * per_expert,
            router: if self.is_moe() { l * self.hidden * self.experts } else { 0.0 },
            norms: (2.0 * l + 1.0) * self.hidden,
        }
    }

    /// KV-cache bytes one token adds over all layers (keys and values), before tensor parallelism.
    pub fn kv_bytes_per_token(&self, kv: Precision) -> f64 {
        2.0 * self.layers * self.kv_heads * self.head_dim * kv.kv_bytes()
    }

    /// KV heads each of `tp` ranks stores: sharded when tp divides them, one replicated head
    /// per rank when tp exceeds them (vLLM's rule).
    pub fn kv_heads_per_rank(&self, tp: f64) -> f64 {
        (self.kv_heads / tp).ceil().max(1.0)
    }

    /// Whether `tp` ranks can split this model (vLLM's checks on attention and KV heads).
    pub fn tp_is_valid(&self, tp: f64) -> bool {
        let heads_ok = self.heads % tp == 0.0;
        let kv_ok = if self.kv_heads >= tp { self.kv_heads % tp == 0.0 } else { tp % self.kv_heads == 0.0 };
        heads_ok && kv_ok
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn llama2_7b() -> ModelArch {
        ModelArch::from_row(&[32, 4096, 32, 32, 128, 11008, 32000, 0, 1, 1, 4096, 0, 0]).unwrap()
    }

    pub fn mixtral() -> ModelArch {
        ModelArch::from_row(&[32, 4096, 32, 8, 128, 14336, 32000, 0, 8, 2, 32768, 0, 0]).unwrap()
    }

    #[test]
    fn llama2_7b_counts() {
        let p = llama2_7b().params();
        assert_eq!(p.total(), 6_738_415_616.0);
        assert_eq!(p.active(), p.total());
        assert_eq!(llama2_7b().kv_bytes_per_token(Precision::Fp16), 524_288.0);
    }

    #[test]
    fn mixtral_counts() {
        let p = mixtral().params();
        assert!((p.total() / 46.703e9 - 1.0).abs() < 0.005);
        assert!((p.active() / 12.879e9 - 1.0).abs() < 0.005);
    }

    #[test]
    fn rejects_bad_rows() {
        assert!(ModelArch::from_row(&[0, 4096, 32, 32, 128, 11008, 32000, 0, 1, 1, 4096, 0, 0]).is_err());
        assert!(ModelArch::from_row(&[32, 4096, 32, 5, 128, 11008, 32000, 0, 1, 1, 4096, 0, 0]).is_err());
        assert!(ModelArch::from_row(&[32, 4096, 32, 8, 128, 11008, 32000, 2, 1, 1, 4096, 0, 0]).is_err());
        assert!(ModelArch::from_row(&[32, 4096, 32, 8, 128, 11008, 32000, 0, 2, 3, 4096, 0, 0]).is_err());
        assert!(ModelArch::from_row(&[32, 4096]).is_err());
    }

    #[test]
    fn tensor_parallel_rules() {
        let m = mixtral(); // 32 heads, 8 KV heads
        assert!(m.tp_is_valid(8.0));
        assert!(m.tp_is_valid(16.0));
        assert!(!m.tp_is_valid(3.0));
        assert_eq!(m.kv_heads_per_rank(2.0), 4.0);
        assert_eq!(m.kv_heads_per_rank(16.0), 1.0);
    }
}
