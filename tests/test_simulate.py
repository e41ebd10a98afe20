import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gpuopt
from gpuopt import InvalidInputError, _core
from tests import reference
from gpuopt.estimation.simulate import percentiles, simulate


def _service_s(**kw) -> float:
    one = simulate("llama-2-7b", "a100-sxm-80gb", trace=[(0.0, 128, 32)], max_batch=1, **kw)
    return one.e2e_ms.p50 / 1e3 - gpuopt.engine("vllm").request_overhead_ms / 1e3


@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_batch_one_poisson_waits_match_m_d_1(rho):
    d = _service_s()
    rate = rho / d
    r = simulate("llama-2-7b", "a100-sxm-80gb", requests=(128, 32), rate=rate, duration_s=300_000 / rate, max_batch=1,
                 seed=3)
    md1_ms = rho / (2 * (1 / d) * (1 - rho)) * 1e3
    assert r.wait_ms.mean == pytest.approx(md1_ms, rel=0.03)
    assert r.utilization == pytest.approx(rho, rel=0.02)


@pytest.mark.parametrize("model,gpu,precision,inp,out,engine", [
    ("llama-2-7b", "a100-sxm-80gb", "fp16", 512, 128, "vllm"),
    ("llama-3-8b", "h100-sxm", "fp8", 128, 512, "trtllm"),
    ("mixtral-8x7b", "h200", "fp8", 256, 256, "vllm"),
])
def test_saturated_throughput_matches_max_throughput(model, gpu, precision, inp, out, engine):
    best = gpuopt.max_throughput(model, gpu, precision=precision, input_tokens=inp, output_tokens=out, engine=engine)
    rps = best.output_tokens_per_s / out
    r = simulate(model, gpu, precision=precision, requests=(inp, out), rate=3 * rps, duration_s=20_000 / (3 * rps),
                 max_batch=best.batch, engine=engine)
    assert r.output_tokens_per_s == pytest.approx(best.output_tokens_per_s, rel=0.05)
    assert r.queue_max > 100  # it really was saturated


def test_light_load_latency_is_the_estimate():
    r = simulate("llama-3-8b", "l40s", requests=(256, 64), rate=0.05, duration_s=2000, seed=1)
    e = gpuopt.estimate("llama-3-8b", "l40s", input_tokens=256, output_tokens=64)
    assert r.ttft_ms.p50 == pytest.approx(e.ttft_ms, rel=0.01)
    assert r.e2e_ms.p50 == pytest.approx(e.e2e_ms, rel=0.01)


def test_replicas_routers_and_periods():
    kw = dict(requests=(512, 128), duration_s=120, seed=2)
    one = simulate("llama-3-8b", "a100-sxm-80gb", rate=30, **kw)
    four = simulate("llama-3-8b", "a100-sxm-80gb", rate=30, replicas=4, **kw)
    assert four.e2e_ms.p95 < one.e2e_ms.p95
    rr = simulate("llama-3-8b", "a100-sxm-80gb", rate=30, replicas=4, router="round-robin", **kw)
    assert rr.requests_completed == four.requests_completed
    day = simulate("llama-3-8b", "a100-sxm-80gb", rates=[2, 20], period_s=60, **kw)
    assert 2 * 120 < day.requests_completed < 20 * 120


def test_slo_verdicts_and_reproducibility():
    kw = dict(requests=[(256, 64, 3), (2048, 256, 1)], rate=8, duration_s=60, seed=5)
    a = simulate("mistral-7b", "l40s", slo={"ttft_p95_ms": 2000, "tpot_p95_ms": 10}, **kw)
    b = simulate("mistral-7b", "l40s", slo={"ttft_p95_ms": 2000, "tpot_p95_ms": 10}, **kw)
    assert a == b
    assert a.slo_met == {"ttft": True, "tpot": False} and not a.meets_slo
    c = simulate("mistral-7b", "l40s", **{**kw, "seed": 6})
    assert c.e2e_ms.p95 != a.e2e_ms.p95


def test_kv_cache_bounds_admission_and_rejects_what_never_fits():
    # 11.6 GB of KV cache: a 32k-token request never fits; 576-token ones (0.47 GB) fit ~24 at a time
    r = simulate("llama-2-13b", "a100-40gb", trace=[(0.0, 16000, 16000)] + [(0.001 * i, 512, 64) for i in range(50)])
    assert r.requests_rejected == 1 and r.requests_completed == 50
    assert r.queue_max >= 50 - r.kv_budget_gb // (576 * 819_200 / 1e9) - 1
    # the budget is what vLLM's memory profile leaves: capacity - weights - overhead - the reserve of its
    # worst step (2,048 tokens and 256 sequences' logits), the same as the memory fit's at batch 1
    f = gpuopt.fit("llama-2-13b", "a100-40gb", batch=1, context=1)
    assert r.kv_budget_gb * 1e9 == pytest.approx(
        f.capacity_bytes - f.weights_bytes - f.overhead_bytes - f.activation_bytes, rel=1e-12)


def test_time_sliced_fraction_adds_interference():
    kw = dict(requests=(20, 100), clients=5, total_requests=50, precision="int8")
    whole = simulate("llama-2-7b", "a100-40gb", **kw)
    shared = simulate("llama-2-7b", gpuopt.fraction("a100-40gb", 3), **kw)
    assert shared.e2e_ms.p50 > whole.e2e_ms.p50 + 80


@pytest.mark.parametrize("kwargs,match", [
    ({}, "exactly one"), ({"rate": 1, "clients": 2}, "exactly one"), ({"rate": -1}, "rate \\(req/s\\) must be a finite number >= 0"),
    ({"rate": 1, "duration_s": 0}, "duration_s"), ({"clients": 3}, "total_requests"),
    ({"trace": [(0, "x", 1)]}, r"trace\[0\]"), ({"trace": [(1.0, 10, 10), (0.5, 10, 10)]}, "ascending"),
    ({"rate": 1, "router": "random"}, "router"), ({"rate": 1, "replicas": 0}, "replicas"),
    ({"rate": 1, "seed": -1}, "seed"), ({"trace": []}, "empty"), ({"trace": [(0.0, 10)]}, r"trace\[0\] must be"),
    ({"trace": [(0.0, 10, 10), (0.1, True, 10)]}, r"trace\[1\] input_tokens"),
    ({"trace": [(0.0, 10, 10), (0.1, 10, 10), (-1.0, 10, 10)]}, r"trace\[2\] arrival_s"),
    ({"trace": np.array([[0.0, 10, 10], [0.1, 10, 2.5]])}, r"trace\[1\] output_tokens"),
    ({"trace": np.array([[0.0, 10, 10], [np.nan, 10, 2]])}, r"trace\[1\] arrival_s"),
    ({"trace": np.ones((4, 2))}, "n x 3"), ({"trace": np.ones((4, 3), dtype=bool)}, "numbers"),
    ({"trace": [(0.0, 10, 10), (2e9, 10, 10)]}, r"trace\[1\] arrival_s"),
])
def test_bad_simulation_inputs(kwargs, match):
    args = {"duration_s": 10, **kwargs} if "duration_s" not in kwargs else kwargs
    if "rate" not in args and "rates" not in args and "trace" not in args and "clients" not in args:
        args.pop("duration_s", None)
    with pytest.raises(InvalidInputError, match=match):
        simulate("llama-2-7b", "l4", **args)


def test_a_trace_given_as_an_array_or_as_rows_simulates_the_same():
    """An n x 3 array goes to the simulator without a Python loop over its rows; rows of tuples,
    a column-major copy and a generator of rows give the same run."""
    rng = np.random.default_rng(3)
    table = np.column_stack([np.sort(rng.uniform(0, 20, 300)), rng.integers(1, 2000, 300), rng.integers(1, 300, 300)])
    runs = [simulate("llama-3-8b", "h100-sxm", trace=t, replicas=2) for t in
            (table, [tuple(r) for r in table.tolist()], table.copy(order="F"),
             (tuple(r) for r in table.tolist()))]
    assert runs[0].requests_completed == 300
    assert all(r.model_dump() == runs[0].model_dump() for r in runs[1:])


def test_percentiles_nearest_rank():
    p = percentiles(np.arange(1, 101))
    assert (p.p50, p.p95, p.p99, p.mean) == (50, 95, 99, 50.5)
    assert percentiles(np.array([])) == percentiles([])
    assert percentiles(np.array([])).model_dump() == {"p50": None, "p95": None, "p99": None, "mean": None}


def test_nothing_completed_reports_no_latencies_and_a_model_that_does_not_fit_is_refused():
    idle = simulate("llama-3-8b", "l4", rate=0.0, duration_s=10)
    assert idle.requests_completed == 0 and idle.ttft_ms.p95 is None and idle.throughput_rps == 0.0
    with pytest.raises(InvalidInputError, match="llama-2-13b at fp16 over 1 GPU.s. does not fit on a10g"):
        simulate("llama-2-13b", "a10g", rate=1.0, duration_s=10)


@settings(max_examples=25, deadline=None)
@given(st.sampled_from([("poisson", [2.0, 9.0], 20.0, 60.0), ("closed", 7, 60),
                        # staggered starts: later clients' first requests arrive after earlier
                        # clients' next ones, so ids finish out of arrival order
                        ("closed", 12, 80, 0.4, 0.0), ("closed", 5, 40, 0.3, 0.2),
                        ("trace", [0.0, 0.0, 0.3, 1.0, 1.1], [(100, 10), (3000, 200), (5, 1), (60, 60), (1, 400)])]),
       st.sampled_from(["least-loaded", "round-robin"]), st.integers(1, 3), st.integers(1, 300),
       st.integers(0, 2**32), st.sampled_from(["llama-2-7b", "mistral-7b", "mixtral-8x7b"]),
       st.sampled_from(["vllm", "vllm-rocm"]))   # vllm-rocm: paged attention, v1 past 16 sequences
def test_rust_simulator_matches_python_event_loop(arrivals, router, replicas, max_batch, seed, model, engine):
    args = (list(gpuopt.model(model).row()), list(gpuopt.gpu("h200").row()), list(gpuopt.engine(engine).row()), 2, 0, 1,
            replicas, router, arrivals, [(512.0, 128.0, 3.0), (2000.0, 50.0, 1.0)], float(max_batch), 3.0, seed)
    a, b = _core.simulate(*args), reference.simulate(*args)
    for k in ("arrival", "admitted", "first_token", "finish", "output_tokens", "busy_s", "queue_area", "queue_max"):
        np.testing.assert_array_equal(np.asarray(a[k]), np.asarray(b[k]), err_msg=k)
    assert (a["rejected"], a["makespan_s"]) == (b["rejected"], b["makespan_s"])


@pytest.mark.parametrize("call, says", [
    ('simulate("llama-3-8b", "h100-sxm", replicas=2**40, rate=1)', "GiB"),
    ('simulate("llama-3-8b", "h100-sxm", rate=1e5, duration_s=1000)', "requests"),
    ('simulate("llama-3-8b", "h100-sxm", clients=1, total_requests=10**9, duration_s=None)', "requests"),
    ('simulate("llama-3-8b", "h100-sxm", rates=[1, 2], period_s=1e-300)', "periods"),
])
def test_sizes_that_aborted_or_hung_are_refused(call, says):
    """Each of these aborted the interpreter or looped forever; run in a subprocess under a 3 GiB
    address-space cap and a time limit, so a crash or a hang fails this test, not the run."""
    import subprocess
    import sys

    code = ("import resource, sys\nresource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n"
            "import gpuopt\nfrom gpuopt import simulate\n"
            f"try:\n    {call}\nexcept gpuopt.InvalidInputError as e:\n    print(e); sys.exit(2)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2, (p.returncode, p.stderr[-800:])
    assert says in p.stdout, p.stdout


def test_long_outputs_on_many_replicas_run_in_little_memory():
    """Outputs of 100,000 tokens on 2,000 replicas took a ring of 2^17 buckets per replica (~6 GiB;
    a million tokens aborted the interpreter, then was refused); a heap per replica now holds only
    its running requests, so the run peaks under 1 GiB."""
    import subprocess
    import sys

    code = ("import gpuopt\nr = gpuopt.simulate('llama-3-8b', 'h100-sxm', replicas=2000, "
            "requests=(16, 100_000), rate=1, duration_s=10)\n"   # VmHWM: this process's own peak, not pytest's
            "print(r.requests_completed, next(line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM')))\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-800:]
    done, peak_kb = map(int, p.stdout.split())
    assert done >= 1 and peak_kb < 1 << 20, (done, peak_kb)


def test_an_overloaded_run_says_so_and_by_how_much():
    # an L40S serves about 13 req/s of llama-3-8b at 512/128 tokens; 1,000 req/s is ~75x that
    over = gpuopt.simulate("llama-3-8b", "l40s", rate=1000, duration_s=60, seed=0)
    assert over.offered_rps == pytest.approx(1000, rel=0.05)
    assert over.overload is not None and "overloaded" in over.overload
    assert over.offered_rps / over.throughput_rps > 50
    # a stable load, even a heavy one, is not flagged
    for rate in (1.0, 0.8 * over.throughput_rps):
        ok = gpuopt.simulate("llama-3-8b", "l40s", rate=rate, duration_s=600, seed=0)
        assert ok.overload is None, (rate, ok.overload)
        assert ok.offered_rps == pytest.approx(rate, rel=0.1)
    # closed-loop clients never pile up beyond their number
    assert gpuopt.simulate("llama-3-8b", "l40s", clients=8, total_requests=400).overload is None


def test_closed_loop_clients_drift_apart_like_a_benchmarks():
    """Identical clients that all start at once stay in lock-step, every prompt queued behind the
    others' prefills; a benchmark's clients drift apart. The default stagger spreads them over one
    cycle of the loop: TTFT near one prefill's, the same throughput."""
    kw = dict(clients=20, total_requests=400, requests=(5000, 200))
    lock = simulate("llama-3-8b", "h100-sxm", stagger_s=0.0, **kw)
    spread = simulate("llama-3-8b", "h100-sxm", **kw)
    assert spread.ttft_ms.p50 < lock.ttft_ms.p50 / 3
    assert spread.throughput_rps == pytest.approx(lock.throughput_rps, rel=0.1)
    # a think time between a client's requests leaves the replica idle part of the time
    thinking = simulate("llama-3-8b", "h100-sxm", think_time_s=5.0, **kw)
    assert thinking.throughput_rps < spread.throughput_rps and thinking.utilization < spread.utilization
    for bad in (dict(stagger_s=-1.0), dict(think_time_s=float("nan")), dict(stagger_s=1e9)):
        with pytest.raises(InvalidInputError, match="stagger_s|think_time_s"):
            simulate("llama-3-8b", "h100-sxm", **kw, **bad)


@pytest.mark.parametrize("arrivals, max_batch, replicas", [(("closed", 12, 80, 0.4, 0.0), 6, 2),
                                                           (("closed", 16, 120, 1.0, 0.0), 6, 1)])
def test_staggered_clients_match_the_python_event_loop(arrivals, max_batch, replicas):
    """Late clients' first requests arrive after early clients' next ones, so requests finishing at
    the same step were admitted out of id order: the simulator reports them in id order, as the
    reference does (found by a fault that dropped that sort, which the random cases missed)."""
    args = (list(gpuopt.model("llama-2-7b").row()), list(gpuopt.gpu("h200").row()), list(gpuopt.engine("vllm").row()),
            2, 0, 1, replicas, "least-loaded", arrivals, [(512.0, 128.0, 3.0), (2000.0, 50.0, 1.0)], float(max_batch),
            3.0, 1)
    a, b = _core.simulate(*args), reference.simulate(*args)
    for k in ("arrival", "admitted", "first_token", "finish", "output_tokens", "busy_s", "queue_area", "queue_max"):
        np.testing.assert_array_equal(np.asarray(a[k]), np.asarray(b[k]), err_msg=k)
