import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gpuopt
from gpuopt import InvalidInputError, _core
from tests import reference
from gpuopt.estimation.capacity import SLO, RequestClass, capacity, capacity_many
from tests.test_differential import archs, engines, row_of
from tests.test_estimate import gpu_rows

INF = math.inf


def test_capacity_report_on_a_whole_gpu():
    r = capacity("llama-3-8b", "a100-sxm-80gb", requests=(512, 128), slo={"ttft_p95_ms": 1000, "tpot_p95_ms": 50})
    assert r.status == "ok" and r.capacity_rps > 1
    assert r.tpot_p95_ms <= 50 and r.ttft_p95_ms <= 1000
    assert r.p95_batch == pytest.approx(r.mean_batch + 1.645 * math.sqrt(r.mean_batch))
    assert r.p95_batch <= r.max_batch
    assert r.output_tokens_per_s == pytest.approx(r.capacity_rps * 128)
    assert "req/s within the SLO" in r.explain()


def test_impossible_slo_names_the_best_latency():
    r = capacity("llama-3-8b", "l4", requests=(512, 128), slo={"ttft_p95_ms": 10})
    assert r.capacity_rps == 0 and r.status == "slo-unmet"
    assert r.ttft_p95_ms > 10 and "best it reaches is TTFT" in r.explain()


def test_no_fit_gives_zero():
    r = capacity("llama-2-70b", "l4", requests=(512, 128), slo={})
    assert r.capacity_rps == 0 and r.status == "no-fit"


def test_slices_and_fractions():
    slo = {"tpot_p95_ms": 60}
    whole = capacity("llama-3-8b", "a100-sxm-80gb", requests=(512, 128), slo=slo).capacity_rps
    caps = [capacity("llama-3-8b", gpuopt.mig_slice("a100-sxm-80gb", p), requests=(512, 128), slo=slo).capacity_rps
            for p in ("2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb")]
    assert caps == sorted(caps) and caps[-1] <= whole * 1.0001
    half = capacity("llama-3-8b", gpuopt.fraction("a100-sxm-80gb", 2), requests=(512, 128), slo=slo)
    assert 0 < half.capacity_rps < whole / 2  # a time share costs more than its share: interference
    assert half.slot_kind == "fraction" and half.ttft_p95_ms > 40


def test_histograms_weigh_their_buckets():
    short = capacity("llama-3-8b", "h100-sxm", requests=(256, 64), slo={"e2e_p95_ms": 20_000}).capacity_rps
    mixed = capacity("llama-3-8b", "h100-sxm", requests=[(256, 64, 9), (4000, 1000, 1)],
                     slo={"e2e_p95_ms": 20_000}).capacity_rps
    assert 0 < mixed < short


def test_bad_requests_and_slos():
    with pytest.raises(InvalidInputError, match="request class"):
        capacity("llama-3-8b", "l4", requests=[(0, 5)], slo={})
    with pytest.raises(InvalidInputError, match="SLO"):
        capacity("llama-3-8b", "l4", requests=(10, 10), slo={"ttft_p95_ms": -1})
    with pytest.raises(InvalidInputError, match="SLO"):
        capacity("llama-3-8b", "l4", requests=(10, 10), slo={"tpot": 5})
    with pytest.raises(InvalidInputError, match="requests must be"):
        capacity("llama-3-8b", "l4", requests="short", slo={})


def test_many_matches_scalar():
    res = capacity_many("mistral-7b", ["l4", "l40s"], requests=RequestClass.fixed(1000, 200),
                        slo=[SLO(tpot_p95_ms=80), SLO(e2e_p95_ms=30_000)])
    one = capacity("mistral-7b", "l40s", requests=(1000, 200), slo=SLO(e2e_p95_ms=30_000))
    assert res.row(1)["capacity_rps"] == one.capacity_rps and res.row(1)["gpu"] == "l40s"


# ---- differential and monotonicity properties -----------------------------------------------------

slo_values = st.sampled_from([INF, 50.0, 200.0, 1000.0, 5000.0, 30000.0])
classes = st.lists(st.tuples(st.integers(1, 8192), st.integers(1, 1024), st.floats(0.1, 10.0)), min_size=1,
                   max_size=4).map(lambda bs: [(float(i), float(o), w) for i, o, w in bs])


def _cap(arch, gpu, eng, prec, cls, slo, tp=1):
    z = np.zeros(1, dtype=np.int64)
    out = _core.capacity_many(np.array([row_of(arch)], dtype=np.int64), np.array([gpu]), np.array([eng]), [cls],
                              [slo], z, z, z, z + prec, z, z + tp, z, z)
    return dict(zip(_core.CAPACITY_COLUMNS, out[0]))


@settings(max_examples=100, deadline=None)
@given(archs(), gpu_rows, engines, st.integers(0, 4), classes, st.tuples(slo_values, slo_values, slo_values),
       st.sampled_from([1, 2, 4]))
def test_rust_capacity_matches_reference(arch, gpu, eng, prec, cls, slo, tp):
    z = np.zeros(1, dtype=np.int64)
    rust = _core.capacity_many(np.array([row_of(arch)], dtype=np.int64), np.array([gpu]), np.array([eng]), [cls],
                               [slo], z, z, z, z + prec, z, z + tp, z, z)
    ref = reference.capacity_many([row_of(arch)], [gpu], [eng], [cls], [slo], [0], [0], [0], [prec], [0], [tp], [0],
                                  [0])
    np.testing.assert_allclose(rust[0], np.array(ref[0], dtype=float), rtol=1e-12, equal_nan=True)


@settings(max_examples=100, deadline=None)
@given(archs(), gpu_rows, engines, st.integers(0, 4), classes, st.tuples(slo_values, slo_values, slo_values),
       st.floats(1.0, 4.0))
def test_looser_slo_never_lowers_capacity(arch, gpu, eng, prec, cls, slo, k):
    tight = _cap(arch, gpu, eng, prec, cls, slo)
    loose = _cap(arch, gpu, eng, prec, cls, tuple(v * k for v in slo))
    assert loose["capacity_rps"] >= tight["capacity_rps"] * (1 - 1e-9)


@settings(max_examples=100, deadline=None)
@given(archs(), gpu_rows, engines, st.integers(0, 4), classes, st.tuples(slo_values, slo_values, slo_values),
       st.sampled_from([(1, 1), (1, 2), (2, 2), (3, 4), (4, 4)]), st.sampled_from([(2, 2), (3, 4), (4, 4), (7, 8)]))
def test_a_larger_slice_never_lowers_capacity(arch, gpu, eng, prec, cls, slo, small, large):
    if small[0] > large[0] or small[1] > large[1]:
        return
    def slice_of(k, m):
        return [gpu[0] * m / 8, gpu[1] * k / 7, gpu[2] * k / 7, gpu[3] * m / 8, 0.0]
    a = _cap(arch, slice_of(*small), eng, prec, cls, slo)
    b = _cap(arch, slice_of(*large), eng, prec, cls, slo)
    assert b["capacity_rps"] >= a["capacity_rps"] * (1 - 1e-9)
