"""The sweep against its limit: benches/limit/sweep_row.c, the same per-row arithmetic in plain C
over per-run constants computed once, built here with the system C compiler (-O3) and checked to
give gpuopt's numbers. gpuopt's public sweep (Python included, one thread) must cost at most
LIMIT_GATE x the C loop per configuration; both ns/row figures are in the README."""

import ctypes
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import gpuopt
from gpuopt import _core
from tests import reference
from gpuopt.catalog import engine_on
from gpuopt.estimation.sweep import _slot_row, expand_slots, sweep
from benches.bench_sweep import AXES, BENCH_GPUS, BENCH_MODELS

LIMIT_GATE = 1.5   # measured about 1.0x (33 against 33 ns/row); a 2x slower sweep fails it
SOURCE = Path(__file__).parent / "limit" / "sweep_row.c"


@pytest.fixture(scope="module")
def limit(tmp_path_factory):
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        pytest.skip("no C compiler to build the limit with")
    lib = tmp_path_factory.mktemp("limit") / "sweep_row.so"
    subprocess.run([cc, "-O3", "-shared", "-fPIC", "-o", str(lib), str(SOURCE), "-lm"], check=True)
    fn = ctypes.CDLL(str(lib)).sweep_rows
    fn.restype = None
    return fn


def _run_constants(models: list, slots: list, precisions: list, tps: list) -> np.ndarray:
    """One row of sweep_row.c's constants per run (model, slot, precision, tp), in the sweep's
    order, from the reference's roofline and memory terms (vllm, as each slot's stack builds it)."""
    rows = []
    for m in models:
        arch = reference.Arch.from_row(gpuopt.model(m).row())
        for slot in slots:
            srow = _slot_row(slot, None)
            gpu = reference.Gpu.from_row(srow[:5])
            e = reference.Engine.from_row(engine_on(gpuopt.engine("vllm"), slot).row())
            e = e._replace(request_overhead_ms=e.request_overhead_ms + float(srow[6]))
            for p in precisions:
                for tp in map(float, tps):
                    usd = float(srow[5]) * tp
                    if not reference._buildable(arch, gpu, tp):
                        rows.append([0.0] * 25 + [usd, 0.0] + [0.0] * 5)
                        continue
                    r = reference.Roofline(arch, gpu, e, p, "fp16", tp)
                    t = reference.memory_terms(arch, e.memory, p, "fp16", 1.0, tp)
                    rows.append([r.flops_per_token, r.flops_per_seq, r.flops_per_pair, r.peak, r.dense_bytes,
                                 r.expert_bytes, r.experts, r.experts_per_token, r.kv_per_token, r.act_per_token,
                                 r.comm_per_token, r.comm_fixed, r.bw, r.kv_bw, r.step_overhead_ms, r.seq_overhead_us,
                                 t.weights, t.overhead, arch.sliding_window, t.act_per_token, t.logits_per_seq,
                                 t.prefill_tokens, e.memory[2], e.request_overhead_ms,
                                 gpu.memory_bytes * e.memory[0], usd, 1.0, r.kv_read_per_token, r.kv_bw_unsplit,
                                 r.heads_per_rank, r.paged_split_items, t.reserved_seqs])
    return np.ascontiguousarray(rows, dtype=np.float64)


def _limit_call(fn, constants: np.ndarray, rows: int):
    """A call of the C loop into a fresh result array, as gpuopt's sweep returns one: the limit
    pays for its output's memory as gpuopt does, and nothing else."""
    axes = [np.ascontiguousarray(AXES[k], dtype=np.float64) for k in ("batches", "input_tokens", "output_tokens")]
    ptr = ctypes.POINTER(ctypes.c_double)
    args = [constants.ctypes.data_as(ptr), ctypes.c_size_t(len(constants))]
    for a in axes:
        args += [a.ctypes.data_as(ptr), ctypes.c_size_t(len(a))]

    def call():
        out = np.empty((rows, len(_core.SWEEP_COLUMNS)))
        fn(*args, out.ctypes.data_as(ptr))
        return out

    return call


def _sweep():
    return sweep(BENCH_MODELS, BENCH_GPUS, **AXES)


@pytest.mark.parametrize("side", ["limit", "gpuopt"])
def test_sweep_within_its_limit(gate, limit, side):
    slots = expand_slots(BENCH_GPUS, "mig", 4)
    # the C loop writes this many rows: sized from the axes, never assumed (a larger catalog overran it once)
    rows = (len(BENCH_MODELS) * len(slots) * len(AXES["precisions"]) * len(AXES["tps"]) * len(AXES["batches"])
            * len(AXES["input_tokens"]) * len(AXES["output_tokens"]))
    assert rows == 1_280_000
    g = gate("sweep_limit", side)
    if side == "limit":
        constants = _run_constants(BENCH_MODELS, slots, AXES["precisions"], AXES["tps"])
        out = g.run(_limit_call(limit, constants, rows), work=rows)
        got = _sweep()
        for j, name in enumerate(_core.SWEEP_COLUMNS):   # the limit computes gpuopt's numbers, not others
            np.testing.assert_allclose(out[:, j], got[name], rtol=1e-12, err_msg=name)
    else:
        with gpuopt.threads(1):
            assert g.run(_sweep, work=rows).size == rows
    ratio = g.ratio("limit", "gpuopt")
    assert ratio is None or ratio <= LIMIT_GATE, f"the sweep costs {ratio:.2f}x its C limit per row (gate {LIMIT_GATE}x)"
