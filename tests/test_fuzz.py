"""Fuzzing every public entry point with random and adversarial inputs (hypothesis). On any input:
only gpuopt errors escape, each with a message that names what is wrong; every number returned is
finite and non-negative where it is a time, a size, a rate or a cost; a fit's items sum to its
total; capacity never falls as the SLO loosens; a plan never costs less than its bound; simulated
utilisation stays within [0, 1]; no call runs past CALL_LIMIT_S.

CI runs the `repeatable` profile (derandomized, FUZZ_EXAMPLES inputs per entry point); for a long
local run: `HYPOTHESIS_PROFILE=thorough pytest tests/test_fuzz.py` (THOROUGH_EXAMPLES per entry point,
over 20,000 in all, fresh inputs each run). Crashes and hangs of the reproducers the issue listed run
in subprocesses in tests/test_reproducers.py."""

from __future__ import annotations

import math
import os
import re
import time
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from pydantic import BaseModel

import gpuopt
from gpuopt.errors import GpuoptError
from gpuopt.planning.synthetic import small_scenario

THOROUGH = os.environ.get("HYPOTHESIS_PROFILE") == "thorough"
FUZZ_EXAMPLES = 30
THOROUGH_EXAMPLES = 1700  # 12 entry points (plan and the CLI have their own): over 20,000 inputs in all
CALL_LIMIT_S = 60.0  # a hang, not a slow answer: the slowest legitimate call here takes seconds
# numpy's overflow and invalid-value warnings are answers going non-finite: failures here
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")
fuzz = settings(max_examples=THOROUGH_EXAMPLES if THOROUGH else FUZZ_EXAMPLES,
                suppress_health_check=list(HealthCheck))

MODELS = sorted(gpuopt.models())
GPUS = sorted(gpuopt.gpus())
ENGINES = sorted(gpuopt.engines())
JUNK = st.sampled_from([None, "", " ", "llama[bold]-2-7b", "h100", "\x00", 3, -1, 2.5, float("nan"), [], {}, (),
                        True, object()])
HUGE_INTS = [0, -1, 2**31, 2**40, 2**40 + 1, 2**63, -2**63, 10**30]
ODD_FLOATS = [0.0, -0.0, -1.0, 5e-324, 1e-300, 1e300, float("inf"), float("-inf"), float("nan")]


def names(known) -> st.SearchStrategy:
    return st.one_of(st.sampled_from(sorted(known)), st.text(max_size=12), JUNK)


def counts(lo: int = 1, hi: int = 4096) -> st.SearchStrategy:
    return st.one_of(st.integers(lo, hi), st.sampled_from(HUGE_INTS), st.floats(allow_nan=True), JUNK)


def numbers(lo: float = 0.0, hi: float = 1e4) -> st.SearchStrategy:
    return st.one_of(st.floats(lo, hi), st.sampled_from(ODD_FLOATS), st.integers(-10, 10**6), JUNK)


MODEL, GPU, ENGINE = names(MODELS), names(GPUS), names(ENGINES)
PRECISION = st.one_of(st.sampled_from(list(gpuopt.PRECISIONS)), st.text(max_size=5), JUNK)
REQUESTS = st.one_of(st.tuples(counts(1, 8192), counts(1, 2048)),
                     st.lists(st.tuples(counts(1, 4096), counts(1, 1024), numbers(0, 10)), max_size=4), JUNK)
SLO = st.one_of(st.fixed_dictionaries({}, optional={"ttft_p95_ms": numbers(0, 1e5), "tpot_p95_ms": numbers(0, 1e3),
                                                    "e2e_p95_ms": numbers(0, 1e6)}), JUNK)


def call(fn, *args, **kwargs) -> Any:
    """Runs one call: returns its result, or None where it refused the input with a gpuopt error
    that says something. Any other exception, or a call past CALL_LIMIT_S, fails the test."""
    t = time.perf_counter()
    try:
        out = fn(*args, **kwargs)
    except GpuoptError as e:
        assert len(str(e)) >= 10, f"an error that says nothing: {e!r}"
        out = None
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # noqa: BLE001 - anything else escaping is the bug this suite looks for
        pytest.fail(f"{fn.__name__} raised {type(e).__name__}: {e}")
    elapsed = time.perf_counter() - t
    assert elapsed < CALL_LIMIT_S, f"{fn.__name__} ran {elapsed:.0f} s"
    return out


def finite_non_negative(report: BaseModel, fields: tuple[str, ...]) -> None:
    for f in fields:
        v = getattr(report, f)
        if v is not None:
            assert math.isfinite(v) and v >= 0, (f, v, report)


@given(MODEL, GPU, PRECISION, counts(1, 512), counts(1, 200_000), counts(1, 16), ENGINE)
@fuzz
def test_fit(model, gpu, precision, batch, context, tp, engine):
    r = call(gpuopt.fit, model, gpu, precision=precision, batch=batch, context=context, tp=tp, engine=engine)
    if r is not None:
        items = r.weights_bytes + r.kv_cache_bytes + r.activation_bytes + r.overhead_bytes
        assert r.total_bytes == pytest.approx(items, rel=1e-12)
        finite_non_negative(r, ("weights_bytes", "kv_cache_bytes", "activation_bytes", "overhead_bytes",
                                "total_bytes", "capacity_bytes", "utilization"))


@given(MODEL, GPU, PRECISION, counts(1, 512), counts(1, 32768), counts(1, 4096), counts(1, 16), ENGINE,
       st.booleans())
@fuzz
def test_estimate_and_max_throughput(model, gpu, precision, batch, inp, out, tp, engine, saturated):
    if saturated:
        r = call(gpuopt.max_throughput, model, gpu, precision=precision, input_tokens=inp, output_tokens=out, tp=tp,
                 engine=engine)
    else:
        r = call(gpuopt.estimate, model, gpu, precision=precision, batch=batch, input_tokens=inp, output_tokens=out,
                 tp=tp, engine=engine)
    if r is not None and r.fit.verdict != "invalid":
        finite_non_negative(r, ("ttft_ms", "tpot_ms", "e2e_ms", "output_tokens_per_s", "requests_per_s"))


@given(MODEL, st.one_of(GPU, st.builds(lambda g, n: ("share", g, n), st.sampled_from(GPUS), st.integers(2, 8))),
       PRECISION, REQUESTS, SLO, counts(1, 8), ENGINE)
@fuzz
def test_capacity_is_monotone_in_the_slo(model, gpu, precision, requests, slo, tp, engine):
    if isinstance(gpu, tuple) and gpu[:1] == ("share",):  # a time share of a GPU
        gpu = call(gpuopt.fraction, *gpu[1:])
    r = call(gpuopt.capacity, model, gpu, requests=requests, slo=slo, precision=precision, tp=tp, engine=engine)
    if r is None:
        return
    finite_non_negative(r, ("capacity_rps", "output_tokens_per_s", "mean_batch", "p95_batch", "utilization"))
    assert r.utilization <= 1 + 1e-9
    looser = {k: v * 2 for k, v in r.slo.model_dump().items() if v is not None}
    r2 = call(gpuopt.capacity, model, gpu, requests=requests, slo=looser, precision=precision, tp=tp, engine=engine)
    assert r2 is not None and r2.capacity_rps >= r.capacity_rps * (1 - 1e-9), (r.capacity_rps, r2.capacity_rps)


def columns(n: int) -> st.SearchStrategy:
    return st.one_of(st.lists(st.integers(-3, 70_000), min_size=n, max_size=n),
                     st.lists(st.sampled_from(HUGE_INTS + [1, 2, 4]), min_size=n, max_size=n),
                     st.lists(st.floats(allow_nan=True), min_size=n, max_size=n), counts(1, 4096))


@given(st.integers(1, 6).flatmap(lambda n: st.tuples(
    st.lists(st.sampled_from(sorted(MODELS)), min_size=n, max_size=n) | MODEL,
    st.lists(st.sampled_from(GPUS), min_size=n, max_size=n) | GPU,
    columns(n), columns(n), columns(n), st.lists(st.sampled_from([1, 2, 4, 3]), min_size=n, max_size=n) | counts(1, 8),
    st.sampled_from(["fit", "estimate", "max_throughput", "capacity"]))))
@fuzz
def test_many_forms(args):
    model, gpu, a, b, c, tp, kind = args
    if kind == "fit":
        r = call(gpuopt.fit_many, model, gpu, batch=a, context=b, tp=tp)
    elif kind == "estimate":
        r = call(gpuopt.estimate_many, model, gpu, batch=a, input_tokens=b, output_tokens=c, tp=tp)
    elif kind == "max_throughput":
        r = call(gpuopt.max_throughput_many, model, gpu, input_tokens=b, output_tokens=c, tp=tp)
    else:
        r = call(gpuopt.capacity_many, model, gpu, requests=(512, 128), slo={"ttft_p95_ms": 2000}, tp=tp)
    if r is None:
        return
    cols = {name: np.asarray(r[name]) for name in r}
    if "verdict" in cols:
        ok = cols["verdict"] != gpuopt.VERDICTS.index("invalid")
    else:   # a capacity's latencies are those of a replica that serves: none where its status says otherwise
        ok = cols["status"] == gpuopt.estimation.capacity.STATUS.index("ok")
    for name, col in cols.items():
        if col.dtype.kind == "f" and name != "utilization":
            assert np.all(np.isfinite(col[ok]) & (col[ok] >= 0)), (name, col)


@given(GPU, counts(1, 10_000), numbers(0, 1e6), numbers(0, 100), numbers(0, 10), numbers(0, 10), numbers(0, 2000),
       numbers(0, 3), numbers(0, 1), numbers(0, 1e6))
@fuzz
def test_tco(gpu, count, capex, cloud, years, pue, power, kwh, utilization, tokens):
    kw = dict(capex_usd=capex) if isinstance(capex, (int, float)) and capex == capex and capex % 2 < 1 else \
        dict(cloud_usd_per_hour=cloud)
    r = call(gpuopt.tco, gpu, count, amortization_years=years, pue=pue, power_w=power, usd_per_kwh=kwh,
             utilization=utilization, tokens_per_s=tokens, **kw)
    if r is not None:
        finite_non_negative(r, ("capex_usd", "usd_per_hour", "usd_per_year", "year1_usd", "total_usd",
                                "tokens_per_usd", "usd_per_million_tokens", "usd_per_request"))
        assert all(math.isfinite(v) and v >= 0 for v in r.yearly_usd.values())


@given(GPU, counts(1, 8), st.one_of(st.text(max_size=8), st.sampled_from(["1g.10gb", "3g.40gb", "7g.80gb"])),
       numbers(0, 1e3), numbers(0, 1), numbers(0, 1), numbers(0, 1e3))
@fuzz
def test_slots(gpu, n, profile, switch, contention, neighbour, busy):
    call(gpuopt.mig_slice, gpu, profile)
    interference = call(gpuopt.Interference, switch_ms_per_neighbour=switch, contention_per_neighbour=contention,
                        neighbour_utilization=neighbour, switch_busy_ms=busy)
    kw = {} if interference is None else {"interference": interference}
    s = call(gpuopt.fraction, gpu, n, **kw)
    if s is not None:
        assert 0 < s.share <= 1 and math.isfinite(s.request_delay_ms) and s.request_delay_ms >= 0
    for slot in call(gpuopt.slots, gpu, fractions=n) or []:
        assert 0 < slot.share <= 1 and math.isfinite(slot.request_delay_ms)


FIELD_VALUE = st.one_of(st.integers(-5, 2**40), st.floats(allow_nan=True), st.text(max_size=6), st.none(),
                        st.booleans())


@given(st.sampled_from(["gpu", "model", "engine"]), st.dictionaries(st.text(max_size=12), FIELD_VALUE, max_size=6),
       st.booleans(), st.one_of(FIELD_VALUE, JUNK))
@fuzz
def test_register(kind, extra, from_known, junk):
    fn = {"gpu": gpuopt.register_gpu, "model": gpuopt.register_model, "engine": gpuopt.register_engine}[kind]
    if from_known:
        known = {"gpu": gpuopt.gpu("l4"), "model": gpuopt.model("llama-3-8b"), "engine": gpuopt.engine("vllm")}[kind]
        spec = {**known.model_dump(exclude={"total_params", "active_params", "kv_bytes_per_token"}), "id": "fuzzed",
                **extra}
    else:
        spec = junk
    r = call(fn, spec)
    if r is not None and kind != "engine":
        # what registered must be usable (or refused) by every estimate, without anything else escaping
        use = {"gpu": dict(model="llama-3-8b", gpu=r), "model": dict(model=r, gpu="h100-sxm")}[kind]
        call(gpuopt.estimate, **use, input_tokens=512, output_tokens=64)
        call(gpuopt.capacity, **use, requests=(512, 64), slo={"ttft_p95_ms": 1000})
        call(gpuopt.simulate, **use, rate=1.0, duration_s=5)


@given(st.lists(MODEL, min_size=1, max_size=2), st.lists(GPU, min_size=1, max_size=2),
       st.lists(counts(1, 64), min_size=1, max_size=3), st.lists(counts(1, 8192), min_size=1, max_size=3),
       st.lists(counts(1, 8), min_size=1, max_size=2), st.sampled_from(["none", "mig", "all", "x"]),
       st.one_of(st.none(), st.dictionaries(st.sampled_from(GPUS), numbers(0, 100), max_size=2)), st.booleans())
@fuzz
def test_sweep_and_fit_grid(models, gpus, batches, tokens, tps, sharing, prices, grid):
    if grid:
        r = call(gpuopt.fit_grid, models, gpus, batches=batches, contexts=tokens, tps=tps)
    else:
        r = call(gpuopt.sweep, models, gpus, batches=batches, input_tokens=tokens, output_tokens=tokens, tps=tps,
                 sharing=sharing, usd_per_hour=prices)
    if r is None:
        return
    invalid = np.asarray(r["verdict"]) == gpuopt.VERDICTS.index("invalid")
    for name in r:
        col = np.asarray(r[name])
        if col.dtype.kind == "f" and name not in ("usd_per_hour", "tokens_per_usd"):
            assert np.all(np.isfinite(col[~invalid]) & (col[~invalid] >= 0)), (name, col)
    if not grid:
        front = call(gpuopt.pareto, {"ttft_ms": r["ttft_ms"], "output_tokens_per_s": r["output_tokens_per_s"]},
                     {"ttft_ms": "min", "output_tokens_per_s": "max"})
        assert front is None or len(front) <= len(r)


@given(st.lists(GPU, min_size=1, max_size=4), counts(1, 64), st.one_of(st.none(), numbers(0, 1e3)),
       st.dictionaries(st.sampled_from(GPUS), numbers(0, 100), max_size=4), numbers(0, 1e4))
@fuzz
def test_mixes(gpus, max_gpus, budget, throughput, min_throughput):
    r = call(gpuopt.mixes, gpus, max_gpus=max_gpus, budget_usd_per_hour=budget, throughput=throughput,
             min_throughput=min_throughput)
    if r is not None:
        costs = [m.usd_per_hour for m in r.mixes]
        assert costs == sorted(costs) and all(math.isfinite(c) and c >= 0 for c in costs)
        assert r.feasible <= r.enumerated


@given(MODEL, GPU, st.one_of(numbers(0, 50), st.lists(numbers(0, 20), min_size=1, max_size=3)),
       numbers(0, 120), counts(1, 8), REQUESTS, st.sampled_from(["rate", "rates", "clients", "trace"]),
       counts(1, 64), st.integers(0, 2**64 - 1) | JUNK)
@fuzz
def test_simulate(model, gpu, load, duration, replicas, requests, kind, clients, seed):
    kw: dict[str, Any] = {"duration_s": duration}
    if kind == "rate":
        kw["rate"] = load[0] if isinstance(load, list) and load else load
    elif kind == "rates":
        kw.update(rates=load if isinstance(load, list) else [load], period_s=duration)
    elif kind == "clients":
        kw = {"clients": clients, "total_requests": 200}
    else:
        kw = {"trace": [(i * 0.1, 256, 32) for i in range(50)] if isinstance(load, list) else [(load, -1, 5)]}
    r = call(gpuopt.simulate, model, gpu, replicas=replicas, requests=requests, seed=seed, **kw)
    if r is not None:
        finite_non_negative(r, ("makespan_s", "throughput_rps", "output_tokens_per_s", "queue_mean", "queue_max",
                                "kv_budget_gb"))
        assert 0 <= r.utilization <= 1 + 1e-9, r.utilization


@given(st.dictionaries(st.text(max_size=4), numbers(0, 10), min_size=1, max_size=3),
       st.lists(numbers(0, 100), min_size=1, max_size=4), numbers(0, 100), counts(1, 4),
       numbers(0, 2), numbers(0, 1))
@fuzz
def test_plan_mix(costs, caps, rate, slices, limit, gap):
    capacities = {k: caps for k in costs}
    r = call(gpuopt.plan_mix, costs, capacities, [1.0] * len(caps) if isinstance(caps, list) else caps, rate,
             slices, time_limit_s=limit, relative_gap=gap)
    if r is not None and r.status in ("optimal", "feasible"):
        assert math.isfinite(r.cost_per_hour) and r.cost_per_hour >= r.lower_bound_per_hour - 1e-6 * max(1, r.cost_per_hour)
        assert r.status != "optimal" or r.gap <= gap + 1e-9


@given(st.integers(0, 400), numbers(0, 3), numbers(0, 1), st.sampled_from(["auto", "mip", "decompose", "x"]),
       st.booleans())
@settings(max_examples=200 if THOROUGH else 6, suppress_health_check=list(HealthCheck))
def test_plan(seed, limit, gap, method, baselines):
    scn = small_scenario(seed)
    r = call(gpuopt.plan, scn, time_limit_s=limit, relative_gap=gap, method=method, baselines=baselines,
             verify=False, threads=1)
    if r is not None and r.status in ("optimal", "feasible"):
        assert math.isfinite(r.cost_per_hour) and r.cost_per_hour >= r.lower_bound_per_hour * (1 - 1e-6) - 1e-9
        assert r.status != "optimal" or r.gap <= gap + 1e-9
        for b in r.baselines.values():
            if b.status == "optimal":
                assert b.cost_per_hour >= r.cost_per_hour * (1 - 1e-6)


TREE = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-3, 2**41), st.floats(allow_nan=True),
                              st.text(max_size=10)),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                        st.sampled_from(["sites", "services", "periods", "name", "gpus", "type", "rate", "slo",
                                         "hours", "requests", "training", "owned", "model", "x"]), inner, max_size=5),
                    max_leaves=30)


@given(TREE)
@fuzz
def test_scenario_files(tree):
    import json
    try:
        text = json.dumps(tree)
    except (TypeError, ValueError):
        return
    call(gpuopt.planning.scenario.parse_scenario, text, "fuzz.json")


ARG = st.one_of(st.sampled_from(["1", "0", "-1", "2.5", "nan", "inf", "1e308", "1099511627776", "", "x", "[bold]",
                                 "llama-3-8b", "h100-sxm", "int4", "fp8", "all"]), st.text(max_size=6))
COMMANDS = {
    "fit": (["llama-3-8b", "h100-sxm"], ["--precision", "--kv-precision", "--batch", "--context", "--tp", "--engine"]),
    "estimate": (["llama-3-8b", "a100-40gb"], ["--input", "--output", "--batch", "--precision", "--tp", "--engine"]),
    "simulate": (["mistral-7b", "l4"], ["--rate", "--duration", "--input", "--output", "--replicas", "--router",
                                        "--tp", "--seed"]),
    "mixes": (["l4", "a10g"], ["--model", "--max-gpus", "--budget", "--precision"]),
    "sweep": ([], ["--models", "--gpus", "--batches", "--tps", "--input", "--output", "--sharing", "--top"]),
    "plan": (["examples/scenarios/seed004_three_pods.yaml"], ["--time-limit", "--threads", "--seed"]),
}


@given(st.sampled_from(sorted(COMMANDS)), st.lists(st.tuples(st.integers(0, 7), ARG), max_size=4),
       st.lists(ARG, max_size=2), st.booleans())
@settings(max_examples=400 if THOROUGH else 20, suppress_health_check=list(HealthCheck))
def test_cli(command, options, positional, as_json):
    """The CLI in-process, as typer runs it: an exit code of gpuopt's (0, 2 bad input, 3 infeasible,
    5 no plan yet) and never a traceback."""
    from typer.testing import CliRunner

    from gpuopt.cli import app

    base, flags = COMMANDS[command]
    args = [command, *(positional or base)]
    if command == "simulate":
        args += ["--rate", "1", "--duration", "5"]
    if command == "mixes":
        args += ["--model", "llama-3-8b"]
    if command == "sweep":
        args += ["--models", "llama-3-8b", "--gpus", "l4"]
    if command == "plan":
        args += ["--no-verify", "--time-limit", "2"]
    for i, value in options:
        args += [flags[i % len(flags)], value]
    args += ["--json"] if as_json else []
    t = time.perf_counter()
    result = CliRunner().invoke(app, args)
    assert time.perf_counter() - t < CALL_LIMIT_S
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        pytest.fail(f"gpuopt {' '.join(args)} raised {type(result.exception).__name__}: {result.exception}")
    assert result.exit_code in (0, 2, 3, 5), (args, result.exit_code, result.output[-500:])
    if not any("nan" in a.lower() for a in args):   # an error may echo the user's own 'nan'
        assert not re.search(r"\bnan\b", result.output, re.IGNORECASE), result.output[-500:]
    assert "Traceback" not in result.output
