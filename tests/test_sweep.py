import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gpuopt
from gpuopt import InvalidInputError, _core
from tests import reference
from gpuopt.estimation.sweep import expand_slots, gpu_usd_per_hour, mixes, pareto, sweep, _slot_row


def test_sweep_covers_slots_and_prices_them():
    r = sweep(["llama-3-8b"], ["a100-sxm-80gb", "l4"], precisions=["fp16", "int4"], batches=[1, 32], sharing="all",
              fractions=3)
    slots = r["slot"].values
    assert "a100-sxm-80gb/3g.40gb" in slots and "l4/2x" in slots and "l4/3x" in slots
    assert r.size == len(slots) * 2 * 2
    for i in range(r.size):
        row = r.row(i)
        parent = row["slot"].split("/")[0]
        share = [s for s in expand_slots([parent], "all", 3) if s.id == row["slot"]][0].share
        assert row["usd_per_hour"] == pytest.approx(gpu_usd_per_hour(gpuopt.gpu(parent)) * share)
        if row["verdict"] in ("fits", "tight"):
            assert row["tokens_per_usd"] == pytest.approx(row["output_tokens_per_s"] * 3600 / row["usd_per_hour"])
    # rows match the scalar estimate (a whole GPU, so no sharing delay)
    i = next(i for i in range(r.size) if r.row(i)["slot"] == "l4" and r.row(i)["batch"] == 32)
    row = r.row(i)
    one = gpuopt.estimate("llama-3-8b", "l4", precision=row["precision"], batch=32, input_tokens=512, output_tokens=128)
    assert row["e2e_ms"] == one.e2e_ms and row["total_bytes"] == one.fit.total_bytes


def test_prices_prefer_overrides_then_cloud_then_amortised_capex():
    assert gpu_usd_per_hour(gpuopt.gpu("l4")) == 0.70
    assert gpu_usd_per_hour(gpuopt.gpu("l4"), {"l4": 0.5}) == 0.5
    l40s = gpu_usd_per_hour(gpuopt.gpu("l40s"))  # capex only: $40K over 3 years + 350 W
    assert l40s == pytest.approx(40_000 / 3 / 8760 + 0.350 * 0.12)
    assert math.isnan(gpu_usd_per_hour(gpuopt.gpu("tpu-v5e")))
    with pytest.raises(InvalidInputError, match="usd_per_hour"):
        gpu_usd_per_hour(gpuopt.gpu("l4"), {"l4": -1})


def test_pareto_front_of_a_sweep():
    r = sweep(["llama-2-7b", "llama-3-8b"], ["a100-40gb", "l4", "h100-sxm"], precisions=["fp16", "fp8", "int4"],
              batches=[1, 8, 64])
    front = r.pareto({"usd_per_hour": "min", "e2e_ms": "min", "output_tokens_per_s": "max"})
    assert len(front) > 0
    v = np.asarray(r["verdict"])
    assert all(v[i] <= 1 for i in front)  # only configurations that fit
    cost, e2e, tput = (np.asarray(r[c]) for c in ("usd_per_hour", "e2e_ms", "output_tokens_per_s"))
    ok = np.flatnonzero(v <= 1)
    for i in front:  # nothing feasible dominates a front row
        better = (cost[ok] <= cost[i]) & (e2e[ok] <= e2e[i]) & (tput[ok] >= tput[i])
        strictly = (cost[ok] < cost[i]) | (e2e[ok] < e2e[i]) | (tput[ok] > tput[i])
        assert not np.any(better & strictly)


def test_pareto_errors():
    r = sweep(["llama-2-7b"], ["l4"])
    with pytest.raises(InvalidInputError, match="no column"):
        pareto(r, {"speed": "max"})
    with pytest.raises(InvalidInputError, match="sense"):
        pareto(r, {"e2e_ms": "smallest"})
    with pytest.raises(InvalidInputError, match="sharing"):
        sweep(["llama-2-7b"], ["l4"], sharing="some")
    with pytest.raises(InvalidInputError, match="at least one value"):
        sweep(["llama-2-7b"], [])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 10), st.floats(0, 10), st.sampled_from([0.0, 1.0, 2.0, math.nan])),
                min_size=1, max_size=40), st.integers(1, 3))
def test_pareto_matches_definition(points, k):
    cols = [np.array([p[j] for p in points]) for j in range(k)]
    assert sorted(_core.pareto_front(cols).tolist()) == reference.pareto([c.tolist() for c in cols])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 4096), st.integers(1, 1024), st.integers(1, 64)), min_size=1, max_size=3),
       st.sampled_from([1, 2, 4]), st.integers(0, 4))
def test_sweep_matches_reference(shapes, tp, prec):
    ms = [gpuopt.model(m).row() for m in ("llama-2-7b", "mixtral-8x7b")]
    slots = [_slot_row(s, None) for s in expand_slots(["a100-sxm-80gb", "l4", "inferentia2"], "all", 3)]
    es = [gpuopt.engine(e).row() for e in ("vllm", "trtllm")]
    axes = [[0, 1], list(range(len(slots))), [0, 1], [prec], [0], [tp], sorted({s[2] for s in shapes}),
            sorted({s[0] for s in shapes}), sorted({s[1] for s in shapes})]
    rust = _core.sweep_grid(np.array(ms), np.array(slots), np.array(es), *[np.array(a, dtype=np.int64) for a in axes])
    ref = np.array(reference.sweep_grid(ms, slots, es, *axes), dtype=float)
    np.testing.assert_array_equal(rust, ref)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0.1, 10), st.floats(1e9, 1e11), st.floats(0, 1000), st.floats(0, 700)),
                min_size=1, max_size=4), st.integers(1, 6), st.sampled_from([math.inf, 5.0, 12.0]),
       st.sampled_from([0.0, 50e9]), st.sampled_from([0.0, 500.0]))
def test_mixes_match_reference(types, max_gpus, budget, min_mem, min_tput):
    counts, totals, enumerated, feasible = _core.mix_front(types, max_gpus, budget, min_mem, min_tput)
    front, e2, f2 = reference.mix_front(types, max_gpus, budget, min_mem, min_tput)
    assert (enumerated, feasible) == (e2, f2)
    assert [(c, t) for c, t, _ in front] == [(row[0], row[2]) for row in totals.tolist()]
    for cs, row in zip(counts.tolist(), totals.tolist()):  # totals are the counts' sums
        assert sum(cs) <= max_gpus and row[0] == pytest.approx(sum(c * t[0] for c, t in zip(cs, types)))


def test_mixes_api():
    m = mixes(["l4", "a10g", "a100-sxm-80gb"], max_gpus=6, model="llama-3-8b", requests=(512, 128),
              slo={"tpot_p95_ms": 60})
    assert m.throughput_unit.startswith("requests/s") and m.enumerated == math.comb(6 + 3, 3) - 1
    costs = [x.usd_per_hour for x in m.mixes]
    assert costs == sorted(costs) and all(sum(x.counts.values()) <= 6 for x in m.mixes)
    need = m.mixes[len(m.mixes) // 2].throughput
    best = m.cheapest(need)
    assert best is not None and best.throughput >= need
    budget = mixes(["l4", "a10g"], max_gpus=8, throughput={"l4": 1, "a10g": 2}, budget_usd_per_hour=3.0,
                   min_memory_gb=40)
    assert all(x.usd_per_hour <= 3.0 and x.memory_gb >= 40 for x in budget.mixes)


def test_mixes_errors():
    with pytest.raises(InvalidInputError, match="throughput"):
        mixes(["l4"])
    with pytest.raises(InvalidInputError, match="no figure for a10g"):
        mixes(["l4", "a10g"], throughput={"l4": 1})
    with pytest.raises(InvalidInputError, match="no price for tpu-v5e"):
        mixes(["tpu-v5e"], throughput={"tpu-v5e": 1})
    with pytest.raises(InvalidInputError, match="max_gpus"):
        mixes(["l4"], throughput={"l4": 1}, max_gpus=0)
    with pytest.raises(InvalidInputError, match="once"):
        mixes(["l4", "l4"], throughput={"l4": 1})


KEEP_AXES = dict(precisions=["fp16", "fp8"], tps=[1, 2], batches=list(range(1, 40)), input_tokens=[256, 2048],
                 output_tokens=[64, 512], sharing="mig")
# mi300x runs vllm-rocm: two engine groups, each streamed alone, then merged
KEEP_MODELS, KEEP_GPUS = ["llama-3-8b", "mixtral-8x7b"], ["h100-sxm", "mi300x", "l4"]


@pytest.mark.parametrize("objectives", [None, {"usd_per_hour": "min", "tpot_ms": "min"}, {"ttft_ms": "min"}])
def test_a_streamed_pareto_sweep_keeps_the_full_sweeps_front(objectives):
    full = sweep(KEEP_MODELS, KEEP_GPUS, **KEEP_AXES)
    front = np.sort(full.pareto(objectives))
    kept = sweep(KEEP_MODELS, KEEP_GPUS, keep="pareto", objectives=objectives, **KEEP_AXES)
    assert kept.size == len(front) > 0
    for col in [*_core.SWEEP_COLUMNS, "batch", "tp", "input_tokens", "output_tokens"]:
        np.testing.assert_array_equal(np.asarray(kept[col]), np.asarray(full[col])[front], err_msg=col)
    for col in ("model", "slot", "precision"):
        assert [kept[col].values[c] for c in kept[col].codes] == [full[col].values[c] for c in full[col].codes[front]]


@pytest.mark.parametrize("column, sense, k", [("tokens_per_usd", "max", 7), ("e2e_ms", "min", 1), ("ttft_ms", "max", 50)])
def test_a_streamed_top_k_sweep_keeps_the_k_best_rows(column, sense, k):
    full = sweep(KEEP_MODELS, KEEP_GPUS, **KEEP_AXES)
    key = np.where(full["verdict"] >= 2, np.nan, full[column] * (1 if sense == "min" else -1))
    order = np.lexsort((np.arange(full.size), key))
    best = np.sort(order[~np.isnan(key[order])][:k])
    kept = sweep(KEEP_MODELS, KEEP_GPUS, keep="top", objectives={column: sense}, top=k, **KEEP_AXES)
    np.testing.assert_array_equal(kept[column], full[column][best])
    np.testing.assert_array_equal(kept["batch"], full["batch"][best])


@pytest.mark.parametrize("kw, says", [
    ({"keep": "front"}, "keep must be"), ({"keep": "top"}, "top = how many"), ({"keep": "top", "top": 0}, "top = how many"),
    ({"keep": "pareto", "objectives": {"batch": "min"}}, "not a result column"),
    ({"keep": "pareto", "objectives": {"e2e_ms": "least"}}, "sense"),
    ({"keep": "top", "top": 3, "objectives": {"e2e_ms": "min", "ttft_ms": "min"}}, "one objective"),
    ({"objectives": {"e2e_ms": "min"}}, "give keep"),
])
def test_bad_keep_arguments_say_what_to_give(kw, says):
    with pytest.raises(InvalidInputError, match=says):
        sweep(["llama-3-8b"], ["l4"], **kw)


def test_a_pareto_sweep_of_18_million_configurations_stays_under_300_mb():
    """17.9 M configurations kept whole take 1.2 GB of results; streamed to their front, the
    process peaks well under 300 MB (measured in a fresh interpreter)."""
    import subprocess
    import sys

    # VmHWM, the peak of this process's own memory: ru_maxrss also counts the parent's (pytest's),
    # which the kernel carries over into the child across exec
    code = ("import sys; sys.path.insert(0, '.')\nimport gpuopt\nfrom benches.bench_sweep import BENCH_GPUS, BENCH_MODELS, AXES\n"
            "axes = dict(AXES, batches=list(range(1, 141)))\n"
            "r = gpuopt.sweep(BENCH_MODELS, BENCH_GPUS, keep='pareto', **axes)\n"
            "n = len(BENCH_MODELS) * len(gpuopt.estimation.sweep.expand_slots(BENCH_GPUS, 'mig', 4)) * 5 * 4 * 140 * 16\n"
            "peak = next(line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM'))\n"
            "print(n, r.size, peak)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-800:]
    n, kept, peak_kb = map(int, p.stdout.split())
    assert n == 17_920_000 and 0 < kept < 10_000
    assert peak_kb < 300 * 1024, f"peak RSS {peak_kb / 1024:.0f} MB"
