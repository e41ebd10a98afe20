"""Deliberate faults in the code issues 15, 16, 17 and 19 added (number checks, overflow refusals, the
engine's stack, source weights, the verification deadline, the schema check, tp checks, the
Argonne mapping; the dive, its windows' offer, auto's order, the baselines' build estimate, the
diagnosis out of time; the simulator's tournament trees and finishing buckets, the streamed sweep,
the per-run caches, floor and ceil, the name encoding, the trace check; node limits on the
decomposition's windows and dive; paged attention's reads and kernels; vLLM's memory reserve; a run's tokens per forward pass and
Argonne's llama.cpp rows; the MI250(X) and Gaudi 2, stacks without a fitted build; MI250 modules and their
CDNA2 build, rows past the memory bound, leave-one-model-out; PagedAttention for a quantized KV cache), each run against the
tests that should catch it; prints KILLED or SURVIVED (a fault in a .rs file rebuilds the extension):

    .venv/bin/python scripts/change_mutants.py [N ...]     # from the repository root; N: only these

Each fault is put in, its tests run, and the file restored (scripts/faults.py)."""

import subprocess
import sys

import faults

DIVE = "python/gpuopt/planning/decompose/dive.py"
DIVE_TESTS = "tests/test_dive.py"
SIMULATE, SWEEP = "python/gpuopt/estimation/simulate.py", "python/gpuopt/estimation/sweep.py"
SIM_TESTS = "tests/test_simulate.py"
KEEP_TESTS = "tests/test_sweep.py"
GAP_SCRIPT, GAP_TESTS = "scripts/small_fleet_gap.py", "tests/test_small_fleet_gap.py"
ESTIMATE_TESTS = ["tests/test_estimate.py", "tests/test_sweep.py", "tests/test_differential.py"]
PLANNER_TESTS = ["tests/test_dive.py", "tests/test_planner.py", "-k",
                 "dive or outlast or diagnosis or auto or infeasib or windows"]
M = [
 ("python/gpuopt/cost.py", "return numerator / denominator if denominator > 0 else math.inf", "return numerator / denominator", "tests/test_cost.py"),
 ("python/gpuopt/cost.py", 'number(name, v, above=True, hi=100)', 'number(name, v, above=False, hi=100)', "tests/test_cost.py"),
 ("python/gpuopt/estimation/columns.py", '    p.columns["engine"] = rows.reshape(-1)[p.columns["engine"] * len(gpus) + p.columns["gpu"]]', '    pass', "tests/test_public_data.py -k stack"),
 ("python/gpuopt/catalog.py", '    if stack == "cuda" or e.id in _user_engines', '    if stack == "rocm" or e.id in _user_engines', "tests/test_public_data.py -k stack"),
 ("python/gpuopt/estimation/calibration.py", '    return np.array([len(rows) / (len(counts) * counts[r.source]) for r in rows])', '    return np.ones(len(rows))', "tests/test_calibration.py -k fit_script"),
 ("python/gpuopt/planning/verify.py", '        if deadline is not None and time.perf_counter() >= deadline:', '        if False:', "tests/test_planner.py -k simulate_plan_covers"),
 ("python/gpuopt/planning/planner.py", '        if check.unchecked:   # the time limit came first: no round after this one', '        if False:', "tests/test_planner.py -k went_unchecked"),
 ("python/gpuopt/estimation/sweep.py", '    slot_engine = np.ascontiguousarray(builds.T)', '    slot_engine = np.zeros_like(builds.T)', "tests/test_public_data.py -k stack"),
 ("python/gpuopt/estimation/public.py", 'value=batch * length / latency_s', 'value=2 * batch * length / latency_s', "tests/test_public_data.py -k mapped"),
 ("python/gpuopt/errors.py", '            ok = math.isfinite(x) and (x > lo if above else x >= lo) and x <= hi', '            ok = math.isfinite(x) and (x >= lo) and x <= hi', "tests/test_cost.py"),
 ("python/gpuopt/schema_check.py", '        if not any(_TYPES[k](v) for k in kinds):', '        if False:', "tests/test_schema_agreement.py"),
 ("python/gpuopt/estimation/fit.py", '    if not model.splits(tp):', '    if False:', "tests/test_reproducers.py -k crashed"),
 (DIVE, "buy[key] += int(round(v))", "buy[key] += 0", DIVE_TESTS),
 (DIVE, "breakdown[item] += part[item]", "breakdown[item] += 0", DIVE_TESTS),
 (DIVE, "int(math.floor(v + 1.0 - ROUND_FROM))", "int(math.floor(v))", DIVE_TESTS),
 (DIVE, "keep |= set(counts)", "pass", DIVE_TESTS),
 (DIVE, "x.burst[j] = x.burst.get(j, 0.0) + v", "x.burst[j] = v", DIVE_TESTS),
 (DIVE, 'breakdown["training burst"] += coord.burst[j] * v', "pass", DIVE_TESTS),
 ("python/gpuopt/planning/baselines.py", "if budget.left() < rate[0] * size:", "if False:", PLANNER_TESTS),
 ("python/gpuopt/planning/baselines.py", "rate[0] = max(time.perf_counter() - t - given[0], 0.0) / size", "pass", PLANNER_TESTS),
 ("python/gpuopt/planning/baselines.py", "return len(scn.periods) * len(scn.sites) * sum(", "return len(scn.sites) * sum(", PLANNER_TESTS),
 ("python/gpuopt/planning/diagnose.py", "if time_left is not None and time_left() <= 0:", "if False:", PLANNER_TESTS),
 ("python/gpuopt/planning/diagnose.py", ').status == "infeasible":', ').status != "optimal":', PLANNER_TESTS),
 ("python/gpuopt/planning/diagnose.py", "unchecked = len(scn.services) - k", "unchecked = len(scn.services)", PLANNER_TESTS),
 ("python/gpuopt/planning/planner.py", "mip_first = len(scn.periods) <= MIP_FIRST_UP_TO", "mip_first = True", PLANNER_TESTS),
 ("python/gpuopt/planning/planner.py",
  'if first.solved.status == "optimal" or (mip_first and first.solved.status == "infeasible"):',
  'if first.solved.status in ("optimal", "infeasible"):', PLANNER_TESTS),
 ("python/gpuopt/planning/decompose/improve.py", "            level, improved = level + 1, True\n",
  "            improved = False\n", PLANNER_TESTS),
 # issue 15
 (SIMULATE, "and bool not in set(map(type, itertools.chain.from_iterable(rows)))", "", SIM_TESTS),
 (SIMULATE, "(sizes != np.floor(sizes))", "(sizes != sizes)", SIM_TESTS),
 ("python/gpuopt/estimation/columns.py", "codes = (self.index // math.prod(self.sizes[k + 1:])) % self.sizes[k]",
  "codes = self.index % self.sizes[k]", KEEP_TESTS),
 (SWEEP, 'return 1.0 if sense == "min" else -1.0', "return 1.0", KEEP_TESTS),
 ("python/gpuopt/estimation/columns.py", "return [resolve(v) for v in distinct], codes", "return [resolve(v) for v in sorted(distinct)], codes",
  "tests/test_estimate.py -k names"),
 ("rust/gpuopt-core/src/tournament.rs", "if right.0 < left.0 {", "if right.0 <= left.0 {", SIM_TESTS),
 ("rust/gpuopt-core/src/sim.rs", "        into.sort_unstable();\n        self.len -= into.len();", "        self.len -= into.len();", SIM_TESTS),
 ("rust/gpuopt-core/src/sweep.rs", "                        key += 1;", "                        key += 2;", KEEP_TESTS),
 ("rust/gpuopt-core/src/sweep.rs", "let infeasible = |i: usize| feasible_only &&", "let infeasible = |i: usize| false &&", KEEP_TESTS),
 ("rust/gpuopt-core/src/estimate.rs", "q.precision, q.kv_precision, c.tp[i]);", "q.precision, q.kv_precision, 0);", ESTIMATE_TESTS),
 ("rust/gpuopt-core/src/fit.rs", "MemoryTerms { kv_per_seq: self.kv_per_seq * cached, context, ..*self }",
  "MemoryTerms { kv_per_seq: self.kv_per_seq * context, context, ..*self }", ESTIMATE_TESTS),
 ("rust/gpuopt-core/src/round.rs", "    if t > x {", "    if t >= x {", ESTIMATE_TESTS),
 ("rust/gpuopt-py/src/names.rs", "            by_object.insert(address, code);", "            by_object.insert(address, 0);",
  "tests/test_estimate.py -k names"),
 # issue 19: work limits (node limits) on the heuristic's solves
 ("python/gpuopt/planning/linear.py", "            params += effort.scip_params()", "            pass", "tests/test_linear.py -k node_limit"),
 ("python/gpuopt/planning/linear.py", r'out += f"separating/maxroundsroot = {int(self.cut_rounds)}\n"', "pass", "tests/test_linear.py -k effort"),
 ("python/gpuopt/planning/decompose/improve.py", "relative_gap=max(relative_gap, WINDOW_GAP), effort=WINDOW_EFFORT)",
  "relative_gap=relative_gap, effort=WINDOW_EFFORT)", f"{DIVE_TESTS} -k work_not_proof"),
 ("python/gpuopt/planning/decompose/improve.py", "relative_gap=max(relative_gap, WINDOW_GAP), effort=WINDOW_EFFORT)",
  "relative_gap=max(relative_gap, WINDOW_GAP))", f"{DIVE_TESTS} -k work_not_proof"),
 ("python/gpuopt/planning/decompose/improve.py", "                 effort=effort)", "                 )", f"{DIVE_TESTS} -k work_not_proof"),
 (DIVE, "                     effort=DIVE_EFFORT)", "                     )", f"{DIVE_TESTS} -k work_not_proof"),
 ("python/gpuopt/planning/model.py", "hint=hint, effort=effort)", "hint=hint)", f"{DIVE_TESTS} -k work_not_proof"),
 ("python/gpuopt/planning/decompose/improve.py", "for size in (2, 3) for c in", "for size in (2,) for c in",
  ["tests/test_decompose_exact.py", "-k", "triple or job_moved"]),
 # issue 16: paged attention (KV read once per query head; v1 past its work-item limit)
 ("rust/gpuopt-core/src/estimate.rs", "kv_read_per_token: if paged {", "kv_read_per_token: if false {", "tests/test_estimate.py -k paged"),
 ("rust/gpuopt-core/src/estimate.rs", "&& seqs * self.heads_per_rank > self.paged_split_items", "&& seqs * self.heads_per_rank >= self.paged_split_items",
  "tests/test_estimate.py -k paged"),
 ("rust/gpuopt-core/src/estimate.rs", "let q1 = self.kv_read_per_token / self.kv_read_bw(batch) * 1e3;", "let q1 = self.kv_per_token / self.kv_bw * 1e3;",
  SIM_TESTS),
 ("rust/gpuopt-core/src/estimate.rs", "self.kv_read_per_token * kv_read / self.kv_read_bw(seqs)", "self.kv_read_per_token * kv_read / self.kv_bw",
  "tests/test_estimate.py -k paged"),
 ("python/gpuopt/estimation/estimate.py", "if items > limit else", "if items >= limit else", "tests/test_estimate.py -k paged"),
 ("python/gpuopt/estimation/calibration.py", "return tuple(f for f in fit if profile.paged_attention_split_items > 0 or f not in PAGED_ONLY)",
  "return tuple(fit)", "tests/test_calibration.py -k fit_script"),
 ("python/gpuopt/data/engines.yaml", "  paged_attention_split_items: 512", "  paged_attention_split_items: 0", "tests/test_public_data.py -k paged"),
 ("python/gpuopt/schema.py", '"unsplit_attention_efficiency": data["attention_efficiency"]}', '"unsplit_attention_efficiency": 0.8}',
  "tests/test_estimate.py -k paged"),
 # issue 16: vLLM's memory reserve (communicator buffers at tp > 1, activations reserved up front)
 ("rust/gpuopt-core/src/fit.rs", "overhead: e.overhead_bytes + if tp > 1.0 { e.comm_buffer_bytes } else { 0.0 },",
  "overhead: e.overhead_bytes,", "tests/test_fit.py -k tensor_parallel_kv"),
 ("rust/gpuopt-core/src/fit.rs", "        if self.reserved_seqs > 0.0 {\n            self.prefill_tokens",
  "        if false {\n            self.prefill_tokens", "tests/test_fit.py -k reserves"),
 ("rust/gpuopt-core/src/fit.rs", "batch.max(self.reserved_seqs) * self.logits_per_seq", "self.reserved_seqs * self.logits_per_seq",
  "tests/test_fit.py -k reserves"),
 ("rust/gpuopt-core/src/sim.rs", "terms.overhead - terms.activation_floor();", "terms.overhead - terms.prefill_tokens * terms.act_per_token;",
  SIM_TESTS),
 ("python/gpuopt/data/engines.yaml", "vllm:\n  memory_utilization: 0.90\n  overhead_gb: 0.8\n  max_batched_tokens: 2048\n  logits_bytes_per_entry: 8\n  comm_buffer_gib: 1.79",
  "vllm:\n  memory_utilization: 0.90\n  overhead_gb: 0.8\n  max_batched_tokens: 2048\n  logits_bytes_per_entry: 8\n  comm_buffer_gib: 0",
  "tests/test_fit.py -k tensor_parallel_kv"),
 ("python/gpuopt/catalog.py", 'spec.pop("comm_buffer_gib", 0.0) * GiB', 'spec.pop("comm_buffer_gib", 0.0) * GB',
  "tests/test_fit.py -k tensor_parallel_kv"),
 # issue 16: a run's own tokens per forward pass (llama-bench's -b), Argonne's llama.cpp rows
 ("python/gpuopt/estimation/calibration.py", "        if r.max_batched_tokens is not None:", "        if False:",
  "tests/test_calibration.py -k forward_pass"),
 ("python/gpuopt/estimation/calibration.py", "            engine=[engines[i] for i in idx],",
  "            engine=engine if engine is not None else [engines[i] for i in idx],", "tests/test_calibration.py -k forward_pass"),
 ("python/gpuopt/estimation/calibration.py", "built = catalog.engine_on(catalog.engine(e), catalog.gpu(r.gpu))",
  "built = catalog.engine(e)", "tests/test_calibration.py -k forward_pass"),
 ("python/gpuopt/estimation/public.py", "batch, chunk = 1, min(batch, LLAMA_CPP_UBATCH)", "chunk = min(batch, LLAMA_CPP_UBATCH)",
  "tests/test_public_data.py -k chunks"),
 ("python/gpuopt/estimation/public.py", "            if n_gpu > 1:", "            if False:", "tests/test_public_data.py -k chunks"),
 # issue 16: the accelerators beside the MI300X (MI250X, MI250, Gaudi 2) and the stacks without a fitted build
 ("python/gpuopt/catalog.py", '("INTEL GAUDI", "gaudi"), ', "", "tests/test_catalog.py -k gpu_fields"),
 ("python/gpuopt/catalog.py", " or any(getattr(e, f) != getattr(shipped, f) for f in FITTED):", ":",
  "tests/test_catalog.py -k gpu_fields"),
 ("python/gpuopt/estimation/estimate.py", "    borrowed = timing_borrowed(e, gpu)   #", "    borrowed = None   #",
  "tests/test_catalog.py -k gpu_fields"),
 # issue 16, 2026-12-07 (fourth session): MI250 modules of two GCDs and their CDNA2 build, rows past the
 # memory bound, leave-one-model-out
 ("python/gpuopt/estimation/public.py", 'int(r["Num of Hardware"]) * GCDS.get(r["Hardware"], 1)', 'int(r["Num of Hardware"])',
  "tests/test_public_data.py -k mi250"),
 ("python/gpuopt/catalog.py", 'return (target and builds.get(f"{e.id}-{stack}-{target}")) or builds.get(',
  "return builds.get(", "tests/test_public_data.py -k mi250"),
 ("python/gpuopt/catalog.py", ' and (target is None or e.id.endswith(f"-{target}")):', ":",
  "tests/test_public_data.py -k mi250"),
 ("python/gpuopt/estimation/public.py", "        if row.value > memory_bound_tok_s(row):", "        if False:",
  "tests/test_public_data.py -k memory"),
 ("python/gpuopt/estimation/public.py", "    step_bytes = BYTES[row.precision] * m.active_params + row.batch * row.isl * kv_bytes",
  "    step_bytes = BYTES[row.precision] * m.active_params", "tests/test_public_data.py -k memory"),
 ("python/gpuopt/estimation/calibration.py", 'key = (lambda r: r.source) if mode == "source" else (lambda r: r.model)',
  "key = lambda r: r.source", "tests/test_public_data.py -k holds_out_models"),
 # issue 16: vLLM's PagedAttention for a quantized KV cache, Argonne's quantization rows
 ("rust/gpuopt-core/src/engine.rs", "        if kv_bytes < 2.0 && self.quantized_kv_split_items > 0.0 {",
  "        if false {", "tests/test_public_data.py -k quantized"),
 ("rust/gpuopt-core/src/estimate.rs", "            paged_split_items: split_items,",
  "            paged_split_items: t.paged_attention_split_items,", "tests/test_public_data.py -k quantized"),
 ("python/gpuopt/schema.py", "            return self.quantized_kv_split_items\n", "            pass\n",
  "tests/test_public_data.py -k quantized"),
 ("python/gpuopt/estimation/public.py", '        if kv == "fp8" and not catalog.gpu(gpu).fp8_tflops:', "        if False:",
  "tests/test_public_data.py -k quantized"),
 ("python/gpuopt/estimation/estimate.py", '    if kv == "fp8" and not g.fp8_tflops:', "    if False:",
  "tests/test_public_data.py -k quantized"),
 ("python/gpuopt/estimation/calibration.py",
  "    paged = profile.paged_attention_split_items > 0 or profile.quantized_kv_split_items > 0",
  "    paged = profile.paged_attention_split_items > 0", "tests/test_calibration.py -k shipped_profiles"),
 # issue 19, 2026-12-08: scripts/small_fleet_gap.py, where a small fleet's gap lies
 (GAP_SCRIPT, "        mip = r.bound - sum(fm.offset.values())", "        mip = r.bound", GAP_TESTS),
 (GAP_SCRIPT, "work_targets={}, buy_more=False)\n        fm.add_services", "work_targets={})\n        fm.add_services",
  GAP_TESTS),
 (GAP_SCRIPT, "                total += share * rented * rent_cost_per_hour(site, o)", "                pass", GAP_TESTS),
 (GAP_SCRIPT, "    share = next(p.hours_per_day for p in scn.periods if p.name == period) / scn.cycle_hours",
  "    share = 1.0", GAP_TESTS),
 (GAP_SCRIPT, "        lp_sum += gen.lagrange", "        lp_sum += gen.lagrange / 2", GAP_TESTS),
 (GAP_SCRIPT, "    trained = {p for job in scn.training for p in (job.periods or [q.name for q in scn.periods])}",
  "    trained = set()", GAP_TESTS),
]


def rebuild(path: str) -> None:
    if path.endswith(".rs"):
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "."], check=True, capture_output=True)


if __name__ == "__main__":   # tests: pytest's arguments, as a list or split from a string
    sys.exit(faults.run([(path, old, new, tests if isinstance(tests, list) else tests.split())
                         for path, old, new, tests in M], sys.argv[1:], after_edit=rebuild))
