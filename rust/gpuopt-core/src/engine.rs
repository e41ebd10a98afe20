//! A serving engine's profile: how it uses memory and how close it gets to the hardware's peaks.

use crate::error::{invalid, CoreError};

/// Column order of an engine row as it crosses the Python boundary.
pub const ENGINE_FIELDS: [&str; 18] = [
    "memory_utilization",
    "overhead_bytes",
    "max_batched_tokens",
    "logits_bytes_per_entry",
    "comm_buffer_bytes",
    "reserved_seqs",
    "compute_efficiency",
    "memory_efficiency",
    "activation_traffic",
    "step_overhead_ms",
    "request_overhead_ms",
    "comm_efficiency",
    "allreduce_latency_us",
    "attention_efficiency",
    "seq_overhead_us",
    "paged_attention_split_items",
    "unsplit_attention_efficiency",
    "quantized_kv_split_items",
];

/// How a serving engine spends memory beyond weights and KV cache.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EngineMemory {
    /// Share of the GPU's memory the engine lets itself use (vLLM's gpu_memory_utilization).
    pub memory_utilization: f64,
    /// CUDA context, kernels' workspaces, graphs, communicator buffers: bytes per GPU.
    pub overhead_bytes: f64,
    /// Most tokens one forward pass processes (chunked-prefill budget): bounds activations and
    /// splits long prefills into several steps.
    pub max_batched_tokens: f64,
    /// Bytes per (sequence, vocabulary entry) for logits and sampling buffers.
    pub logits_bytes_per_entry: f64,
    /// Communicator buffers per GPU of a tensor-parallel group (tp > 1): NCCL's and the engine's
    /// own all-reduce buffers, held outside the KV cache.
    pub comm_buffer_bytes: f64,
    /// 0: activations grow with the batch. > 0: the engine reserves its worst step's activations
    /// up front, whatever the batch (vLLM's memory profile: a forward pass of max_batched_tokens
    /// tokens and the logits of this many sequences, max_num_seqs).
    pub reserved_seqs: f64,
}

/// How fast an engine runs, as fractions of the roofline and fixed costs (fitted to measurements).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EngineTiming {
    /// Share of the tensor peak its matrix products reach.
    pub compute_efficiency: f64,
    /// Share of the memory bandwidth its weight and KV reads reach.
    pub memory_efficiency: f64,
    /// Memory traffic of the elementwise work (norms, rotary, activations, residuals) per token
    /// and layer, in units of `hidden` 16-bit values: it runs beside the matrix products.
    pub activation_traffic: f64,
    /// Fixed cost of one forward step (launches, scheduling, sampling), ms.
    pub step_overhead_ms: f64,
    /// Fixed cost added once to a request's first token (admission, tokenisation), ms.
    pub request_overhead_ms: f64,
    /// Share of the interconnect bandwidth its all-reduces reach.
    pub comm_efficiency: f64,
    /// Latency of one all-reduce, µs.
    pub allreduce_latency_us: f64,
    /// Share of the memory bandwidth its attention kernels reach reading (and writing) the KV
    /// cache: paged attention gathers scattered blocks, so it falls short of the weight reads'
    /// share, most of all at long contexts and large batches, where KV reads dominate a step.
    pub attention_efficiency: f64,
    /// Host-side cost per sequence in every step (scheduling, sampling, detokenising, block
    /// tables), µs: what makes a large batch's step slower than its kernels alone.
    pub seq_overhead_us: f64,
    /// 0: the engine decodes with GQA-aware kernels that split contexts (FlashAttention's split-KV
    /// decoding, TensorRT-LLM's XQA). > 0: with vLLM's PagedAttention kernels, one work item per
    /// (sequence, query head), so a GQA group's KV is read once per query head; and past this
    /// many work items (sequences x query heads per GPU; 512 in vLLM) the v1 kernel, which walks
    /// a whole context per work item, instead of v2's 512-token partitions.
    pub paged_attention_split_items: f64,
    /// Share of the memory bandwidth paged attention's unsplit (v1) kernel reaches reading the KV
    /// cache: a work item walks its whole context alone, so long contexts read slower.
    pub unsplit_attention_efficiency: f64,
    /// 0: a quantized (under 16 bits) KV cache is read by the same decode kernels. > 0: the engine decodes
    /// a quantized KV cache with PagedAttention, whose v1/v2 switch is this many work items (vLLM
    /// 0.6 on CUDA: FlashAttention-2 takes no fp8 KV cache, so it selects XFormers' backend,
    /// whose decode is PagedAttention).
    pub quantized_kv_split_items: f64,
}

impl EngineTiming {
    /// PagedAttention's v1/v2 switch (work items) for a KV cache of `kv_bytes` per element, 0 where
    /// the engine decodes it with a GQA-aware split kernel.
    pub fn paged_split_items(&self, kv_bytes: f64) -> f64 {
        if kv_bytes < 2.0 && self.quantized_kv_split_items > 0.0 {
            self.quantized_kv_split_items
        } else {
            self.paged_attention_split_items
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EngineProfile {
    pub memory: EngineMemory,
    pub timing: EngineTiming,
}

fn share(name: &str, v: f64) -> Result<f64, CoreError> {
    if v > 0.0 && v <= 1.0 {
        Ok(v)
    } else {
        invalid(format!("{name} = {v} must be in (0, 1]"))
    }
}

fn non_negative(name: &str, v: f64) -> Result<f64, CoreError> {
    if v >= 0.0 && v.is_finite() {
        Ok(v)
    } else {
        invalid(format!("{name} = {v} must be finite and >= 0"))
    }
}

impl EngineProfile {
    pub fn from_row(row: &[f64]) -> Result<Self, CoreError> {
        if row.len() != ENGINE_FIELDS.len() {
            return invalid(format!(
                "an engine row has {} fields, expected {} ({})",
                row.len(),
                ENGINE_FIELDS.len(),
                ENGINE_FIELDS.join(", ")
            ));
        }
        // each field checked under its own name: a share in (0, 1], or a finite count >= 0
        let share_at = |i: usize| share(ENGINE_FIELDS[i], row[i]);
        let non_negative_at = |i: usize| non_negative(ENGINE_FIELDS[i], row[i]);
        let memory = EngineMemory {
            memory_utilization: share_at(0)?,
            overhead_bytes: non_negative_at(1)?,
            max_batched_tokens: non_negative_at(2)?,
            logits_bytes_per_entry: non_negative_at(3)?,
            comm_buffer_bytes: non_negative_at(4)?,
            reserved_seqs: non_negative_at(5)?,
        };
        if memory.max_batched_tokens < 1.0 {
            return invalid(format!("max_batched_tokens = {} must be >= 1", row[2]));
        }
        let timing = EngineTiming {
            compute_efficiency: share_at(6)?,
            memory_efficiency: share_at(7)?,
            activation_traffic: non_negative_at(8)?,
            step_overhead_ms: non_negative_at(9)?,
            request_overhead_ms: non_negative_at(10)?,
            comm_efficiency: share_at(11)?,
            allreduce_latency_us: non_negative_at(12)?,
            attention_efficiency: share_at(13)?,
            seq_overhead_us: non_negative_at(14)?,
            paged_attention_split_items: non_negative_at(15)?,
            unsplit_attention_efficiency: share_at(16)?,
            quantized_kv_split_items: non_negative_at(17)?,
        };
        Ok(EngineProfile { memory, timing })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub const ROW: [f64; 18] = [0.9, 0.8e9, 2048.0, 8.0, 1.5e9, 256.0, 0.6, 0.8, 40.0, 0.5, 3.0, 0.7, 10.0, 0.6, 20.0, 0.0, 0.6, 0.0];

    #[test]
    fn parses_and_validates() {
        let e = EngineProfile::from_row(&ROW).unwrap();
        assert_eq!(e.memory.max_batched_tokens, 2048.0);
        assert_eq!(e.timing.request_overhead_ms, 3.0);
        assert_eq!((e.memory.comm_buffer_bytes, e.memory.reserved_seqs), (1.5e9, 256.0));
        for (i, bad) in [(0, 1.5), (1, -1.0), (2, 0.5), (4, -1.0), (5, -1.0), (6, 0.0), (8, f64::NAN), (11, 2.0), (13, 0.0), (13, 1.5), (14, -1.0), (15, -1.0), (16, 0.0), (16, 1.5), (17, -1.0), (17, f64::INFINITY)] {
            let mut row = ROW;
            row[i] = bad;
            let err = EngineProfile::from_row(&row).unwrap_err().to_string();
            assert!(err.contains(ENGINE_FIELDS[i]), "{err}");
        }
        assert!(EngineProfile::from_row(&ROW[..4]).is_err());
    }
}
