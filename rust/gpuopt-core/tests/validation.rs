//! Every row and column check at its edges: what is accepted exactly at a limit, what is refused
//! just past it, and that the error names the field or entry.

use gpuopt_core::columns::{check_count, check_index, check_lengths, precisions, Lookups, MAX_COUNT};
use gpuopt_core::engine::{EngineProfile, ENGINE_FIELDS};
use gpuopt_core::gpu::{GpuSpec, GPU_FIELDS};
use gpuopt_core::{Precision, PRECISION_NAMES};

const GPU: [f64; 5] = [80e9, 989.0, 1979.0, 3350.0, 900.0];
const ENGINE: [f64; 18] = [0.9, 0.8e9, 2048.0, 8.0, 1.5e9, 256.0, 0.6, 0.8, 40.0, 0.5, 3.0, 0.7, 10.0, 0.6, 20.0, 512.0, 0.3, 0.0];

fn err(r: Result<impl std::fmt::Debug, gpuopt_core::CoreError>) -> String {
    r.expect_err("refused").to_string()
}

#[test]
fn gpu_rows_take_zero_only_where_a_gpu_may_lack_the_feature() {
    let g = GpuSpec::from_row(&GPU).unwrap();
    assert_eq!((g.memory_bytes, g.fp16_flops, g.fp8_flops, g.mem_bw, g.link_bw), (80e9, 989e12, 1979e12, 3350e9, 900e9));
    for i in 0..5 {
        let mut row = GPU;
        row[i] = 0.0;
        let zero_ok = i == 2 || i == 4;   // no fp8 tensor cores, no known interconnect
        assert_eq!(GpuSpec::from_row(&row).is_ok(), zero_ok, "field {i} = 0");
        for bad in [-1.0, f64::INFINITY, f64::NAN] {
            row[i] = bad;
            assert!(err(GpuSpec::from_row(&row)).contains(GPU_FIELDS[i]));
        }
    }
    assert!(err(GpuSpec::from_row(&GPU[..4])).contains("expected 5"));
}

#[test]
fn fp8_peaks_only_where_the_gpu_has_fp8_tensor_cores() {
    let g = GpuSpec::from_row(&GPU).unwrap();
    assert_eq!(g.peak_flops(Precision::Fp8), 1979e12);
    for p in [Precision::Fp16, Precision::Bf16, Precision::Int8, Precision::Int4] {
        assert_eq!(g.peak_flops(p), 989e12);
    }
    let mut row = GPU;
    row[2] = 0.0;
    assert_eq!(GpuSpec::from_row(&row).unwrap().peak_flops(Precision::Fp8), 989e12);
}

#[test]
fn engine_rows_take_shares_in_zero_one_and_non_negative_amounts() {
    let e = EngineProfile::from_row(&ENGINE).unwrap();
    assert_eq!((e.memory.memory_utilization, e.memory.overhead_bytes, e.memory.logits_bytes_per_entry), (0.9, 0.8e9, 8.0));
    assert_eq!((e.timing.compute_efficiency, e.timing.memory_efficiency, e.timing.activation_traffic), (0.6, 0.8, 40.0));
    assert_eq!((e.timing.step_overhead_ms, e.timing.comm_efficiency, e.timing.allreduce_latency_us), (0.5, 0.7, 10.0));
    assert_eq!(e.timing.attention_efficiency, 0.6);
    let shares = [0usize, 6, 7, 11, 13, 16];
    for i in 0..ENGINE.len() {
        let mut row = ENGINE;
        if shares.contains(&i) {
            row[i] = 1.0;
            assert!(EngineProfile::from_row(&row).is_ok(), "{} = 1", ENGINE_FIELDS[i]);
            for bad in [0.0, 1.0 + 1e-9, f64::NAN] {
                row[i] = bad;
                assert!(err(EngineProfile::from_row(&row)).contains(ENGINE_FIELDS[i]));
            }
        } else if i != 2 {
            row[i] = 0.0;
            assert!(EngineProfile::from_row(&row).is_ok(), "{} = 0", ENGINE_FIELDS[i]);
            for bad in [-1e-9, f64::INFINITY, f64::NAN] {
                row[i] = bad;
                assert!(err(EngineProfile::from_row(&row)).contains(ENGINE_FIELDS[i]));
            }
        }
    }
    let mut row = ENGINE;
    row[2] = 1.0;   // one token per step is the least
    assert!(EngineProfile::from_row(&row).is_ok());
    row[2] = 0.999;
    assert!(err(EngineProfile::from_row(&row)).contains("max_batched_tokens"));
    assert!(err(EngineProfile::from_row(&ENGINE[..12])).contains("expected 18"));
}

#[test]
fn precisions_by_code_name_and_bytes() {
    let all: Vec<Precision> = (0..5).map(|c| Precision::from_code(c).unwrap()).collect();
    assert_eq!(all, [Precision::Fp16, Precision::Bf16, Precision::Fp8, Precision::Int8, Precision::Int4]);
    assert_eq!(all.iter().map(|p| p.name()).collect::<Vec<_>>(), PRECISION_NAMES);
    assert_eq!(all.iter().map(|p| p.weight_bytes()).collect::<Vec<_>>(), [2.0, 2.0, 1.0, 1.0, 0.5 + 4.0 / 128.0]);
    assert_eq!(all.iter().map(|p| p.kv_bytes()).collect::<Vec<_>>(), [2.0, 2.0, 1.0, 1.0, 0.5]);
    for bad in [-1, 5] {
        assert!(err(Precision::from_code(bad)).contains("0..4 (fp16, bf16, fp8, int8, int4)"));
    }
}

#[test]
fn columns_are_checked_entry_by_entry_at_their_limits() {
    assert!(check_index("model", &[0, 2], 3).is_ok());
    assert!(err(check_index("model", &[0, 3], 3)).contains("model[1] = 3 is not an index into a table of 3"));
    assert!(err(check_index("model", &[-1], 3)).contains("model[0] = -1"));
    assert!(check_count("batch", &[1, MAX_COUNT]).is_ok());
    assert!(err(check_count("batch", &[1, 0])).contains("batch[1] = 0"));
    assert!(err(check_count("batch", &[MAX_COUNT + 1])).contains(&format!("from 1 to {MAX_COUNT}")));
    assert_eq!(check_lengths(&[3, 3, 3]).unwrap(), 3);
    assert_eq!(check_lengths(&[]).unwrap(), 0);
    assert!(err(check_lengths(&[3, 2, 3])).contains("[3, 2, 3]"));
    assert_eq!(precisions("kv", &[0, 4]).unwrap(), [Precision::Fp16, Precision::Int4]);
    assert!(err(precisions("kv", &[0, 9])).starts_with("kv[1]: precision code 9"));
    let l = Lookups { model: &[0], gpu: &[1], engine: &[0], precision: &[2], kv_precision: &[3] };
    let d = l.check(1, 2, 1, "slot").unwrap();
    assert_eq!((d.precision[0], d.kv_precision[0]), (Precision::Fp8, Precision::Int8));
    assert!(err(l.check(1, 1, 1, "slot")).starts_with("slot[0] = 1"));
    assert!(err(l.check(0, 2, 1, "slot")).starts_with("model[0]"));
    assert!(err(l.check(1, 2, 0, "slot")).starts_with("engine[0]"));
}

#[test]
fn cover_inputs_are_checked_block_by_block() {
    use gpuopt_core::cover::cover_min_many;
    let ok = |offsets: &[usize], w: &[f64], a: &[f64], r: &[f64], m: &[f64]| cover_min_many(offsets, w, a, r, m, 1000);
    assert_eq!(ok(&[0, 1, 1], &[2.0], &[1.0], &[3.0, 0.0], &[0.0, 0.0]).unwrap().len(), 2);   // an empty block
    for offsets in [&[][..], &[1, 1][..], &[0, 2][..], &[0, 1, 0, 1][..]] {
        assert!(err(ok(offsets, &[2.0], &[1.0], &[1.0], &[0.0])).contains("offsets must start at 0"), "{offsets:?}");
    }
    assert!(err(ok(&[0, 1], &[2.0], &[1.0, 2.0], &[1.0], &[0.0])).contains("w has 1 items but a has 2"));
    assert!(err(ok(&[0, 1], &[2.0], &[1.0], &[1.0, 2.0], &[0.0])).contains("1 blocks but 2 demands"));
    assert!(err(ok(&[0, 1], &[2.0], &[1.0], &[1.0], &[0.0, 1.0])).contains("and 2 minimum replica counts"));
    assert!(ok(&[0, 1], &[0.0], &[1.0], &[1.0], &[0.0]).is_ok(), "a free item");
    for w in [-1.0, f64::INFINITY, f64::NAN] {
        assert!(err(ok(&[0, 1], &[w], &[1.0], &[1.0], &[0.0])).contains("item 0: price"));
    }
    for a in [0.0, f64::INFINITY, f64::NAN] {
        assert!(err(ok(&[0, 1], &[1.0], &[a], &[1.0], &[0.0])).contains("item 0: capacity"));
    }
    assert!(ok(&[0, 1], &[1.0], &[1.0], &[1.0], &[1e6]).is_ok(), "a million replicas at most");
    for (r, m) in [(f64::NAN, 0.0), (f64::INFINITY, 0.0), (1.0, -1.0), (1.0, 1e6 + 1.0), (1.0, f64::NAN)] {
        assert!(err(ok(&[0, 1], &[1.0], &[1.0], &[r], &[m])).starts_with("block 0: demand"), "{r} {m}");
    }
}

#[test]
fn fit_tables_refuse_gpus_without_memory_and_empty_columns_are_empty() {
    use gpuopt_core::arch::ModelArch;
    use gpuopt_core::{fit_many, FitColumns, FitTables};
    let m = ModelArch::from_row(&[32, 4096, 32, 8, 128, 11008, 32000, 0, 1, 1, 4096, 0, 0]).unwrap();
    let e = EngineProfile::from_row(&ENGINE).unwrap().memory;
    let one = [0i64];
    let c = FitColumns { model: &one, gpu: &one, engine: &one, precision: &one, kv_precision: &one, batch: &[1],
                         context: &[512], tp: &[1] };
    assert!(!c.is_empty() && c.len() == 1);
    for memory in [1.0, 80e9] {
        assert!(fit_many(&FitTables { models: &[m], gpu_memory_bytes: &[memory], engines: &[e] }, &c).is_ok());
    }
    for memory in [0.0, -1.0, f64::INFINITY, f64::NAN] {
        let t = FitTables { models: &[m], gpu_memory_bytes: &[memory], engines: &[e] };
        assert!(err(fit_many(&t, &c)).contains("gpu memory_bytes[0]"), "{memory}");
    }
    let none: [i64; 0] = [];
    let empty = FitColumns { model: &none, gpu: &none, engine: &none, precision: &none, kv_precision: &none,
                             batch: &none, context: &none, tp: &none };
    assert!(empty.is_empty() && empty.len() == 0);
}
