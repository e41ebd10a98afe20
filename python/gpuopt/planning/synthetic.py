"""Realistic synthetic fleets for scale tests and benchmarks: services with diurnal demand, mixed
request shapes and SLO tiers, some bound to the premises; an on-premises site that owns GPUs and
may buy more, and a cloud that rents them; training jobs that want nights or bursts."""

from __future__ import annotations

import math

import numpy as np

from gpuopt.catalog import models
from gpuopt.cost import price
from gpuopt.errors import InvalidInputError
from gpuopt.planning.scenario import GpuOffer, Period, Scenario, Service, Site, TrainingJob

GPU_ORDER = ["l4", "a10g", "t4", "l40s", "a100-40gb", "a100-sxm-80gb", "a100-pcie-80gb", "h100-sxm", "h100-pcie",
             "h200", "rtx-4090", "mi300x"]
CLOUD_PRICE = {"l4": 0.70, "a10g": 1.01, "t4": 0.35, "l40s": 1.90, "a100-40gb": 3.00, "a100-sxm-80gb": 3.67,
               "a100-pcie-80gb": 3.40, "h100-sxm": 7.516, "h100-pcie": 6.50, "h200": 9.00, "rtx-4090": 0.50,
               "mi300x": 6.00}
MODELS = [("llama-3-8b", ["fp16", "fp8"]), ("mistral-7b", ["fp16", "int8"]), ("llama-2-13b", ["fp16", "int8"]),
          ("llama-3-70b", ["fp8", "int4"]), ("mixtral-8x7b", ["fp8", "int4"]), ("llama-2-7b", ["fp16", "int4"])]
SHAPES = [(256, 128), (512, 256), (2048, 256), (4000, 400), (1024, 64)]
# Types the catalog has no purchase price for are priced at this many years of their cloud rent, the
# ratio of the catalog's own prices (l4 2.4, t4 2.6, a100-sxm-80gb 2.3, h100-sxm 1.8 years).
CAPEX_YEARS_OF_RENT = 2.2
TIERS = [{"ttft_p95_ms": 1000, "tpot_p95_ms": 50}, {"ttft_p95_ms": 2500, "tpot_p95_ms": 100},
         {"e2e_p95_ms": 60_000}]


def _capex(gpu: str) -> float:
    known = price(gpu, "capex")
    return known if known is not None else round(CLOUD_PRICE[gpu] * CAPEX_YEARS_OF_RENT * 8760, -2)


def synthetic_fleet(services: int = 100, gpu_types: int = 6, periods: int = 24, training_jobs: int = 4,
                    seed: int = 0, capacities: str = "closed-form", demand: float = 1.0) -> Scenario:
    """A scenario of `services` services over `gpu_types` GPU types (from the catalog, cheapest
    first) and `periods` equal periods of a day, with `training_jobs` jobs. Deterministic in `seed`.
    Its capacities are the closed form's (the solver's scale is what these fleets test);
    `capacities="simulated"` gives the simulator-confirmed ones (Scenario.capacities). `demand`
    scales every rate (0.05: tiny services, each a small part of its smallest replica)."""
    if isinstance(demand, bool) or not isinstance(demand, (int, float)) or not 0 < demand <= 1000:
        raise InvalidInputError(f"demand must be a rate multiplier in (0, 1000], got {demand!r}")
    for name, v, hi in (("services", services, 100_000), ("gpu_types", gpu_types, len(GPU_ORDER)),
                        ("periods", periods, 24 * 7), ("training_jobs", training_jobs, 10_000)):
        if isinstance(v, bool) or not isinstance(v, int) or not (0 <= v <= hi) or (v == 0 and name != "training_jobs"):
            raise InvalidInputError(f"{name} must be a whole number from {0 if name == 'training_jobs' else 1} to {hi}")
    rng = np.random.default_rng(seed)
    types = GPU_ORDER[:gpu_types]
    hours = 24.0 / periods
    names = [f"h{p:02d}" if periods == 24 else f"p{p}" for p in range(periods)]
    sites = [
        Site(name="dc", kind="on-prem", gpus=[GpuOffer(type=t, owned=int(rng.integers(0, 4)), max_purchase=64,
                                                        capex_usd=_capex(t)) for t in types]),
        Site(name="cloud", kind="cloud", gpus=[GpuOffer(type=t, max_purchase=0, rent_usd_per_hour=CLOUD_PRICE[t])
                                               for t in types]),
    ]
    # request shapes within each model's trained context
    shapes = {m: [sh for sh in SHAPES if sum(sh) <= models()[m].max_context] for m, _ in MODELS}
    svcs = []
    for k in range(services):
        model, precisions = MODELS[int(rng.integers(0, len(MODELS)))]
        peak = float(rng.lognormal(mean=0.5, sigma=1.0)) * demand
        phase = float(rng.uniform(0, 24))
        rate = {}
        for p, name in enumerate(names):
            t = (p + 0.5) * hours
            diurnal = 0.55 + 0.45 * math.cos(2 * math.pi * (t - 14 - phase / 6) / 24)
            rate[name] = round(peak * diurnal, 4)
        svcs.append(Service(name=f"svc{k:04d}", model=model, precisions=precisions, rate=rate,
                            requests=shapes[model][int(rng.integers(0, len(shapes[model])))], slo=TIERS[int(rng.integers(0, 3))],
                            sites=["dc"] if rng.random() < 0.2 else None, min_replicas=int(rng.integers(1, 3))))
    night = [n for p, n in enumerate(names) if (p + 0.5) * hours < 7 or (p + 0.5) * hours > 22]
    jobs = [TrainingJob(name=f"train{j:02d}", gpu_hours=float(rng.uniform(50, 800)), memory_gb=float(rng.choice([0, 40])),
                        periods=night, sites=["dc"], burst_usd_per_gpu_hour=float(rng.uniform(3, 6)),
                        deadline_days=30.0)
            for j in range(training_jobs)]
    return Scenario(name=f"synthetic-{services}x{gpu_types}x{periods}", periods=[Period(name=n, hours=hours) for n in names],
                    sites=sites, services=svcs, training=jobs, sharing="all", capacities=capacities)


SMALL_GPUS = ["l4", "a10g", "t4", "l40s", "a100-40gb", "a100-sxm-80gb", "h100-sxm"]   # MIG on the A100s and H100
SMALL_MODELS = [("llama-3-8b", ["fp16", "fp8"]), ("mistral-7b", ["fp16", "int8"]), ("llama-2-13b", ["fp16", "int8"]),
                ("llama-2-7b", ["fp16", "int4"])]


def small_scenario(seed: int) -> Scenario:
    """A random small scenario for checking the decomposition against the whole MIP: 2-4 services,
    2-3 GPU types (MIG and time-sliced fractions where the types allow), 2-4 periods, some services
    bound to the premises, purchase and rental limits, 0-2 training jobs (some needing two GPUs at
    once, some with no cloud burst). Deterministic in `seed`; closed-form capacities. Not every
    draw is feasible: the limits can be too tight, as they can in a real scenario."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidInputError(f"seed must be a whole number of at least 0, got {seed!r}")
    rng = np.random.default_rng(seed)
    types = [str(t) for t in rng.choice(SMALL_GPUS, size=int(rng.integers(2, 4)), replace=False)]
    n_periods = int(rng.integers(2, 5))
    hours = rng.dirichlet(np.ones(n_periods)) * 18 + 6 / n_periods     # every period at least 1.5 h
    names = [f"p{p}" for p in range(n_periods)]
    dc = []
    for t in types:
        limit = int(rng.integers(0, 9)) if rng.random() < 0.6 else None
        dc.append(GpuOffer(type=t, owned=int(rng.integers(0, 3)), max_purchase=limit, capex_usd=_capex(t)))
    rented = [t for t in types if rng.random() < 0.7] or types[:1]
    cloud = [GpuOffer(type=t, max_purchase=0, rent_usd_per_hour=CLOUD_PRICE[t],
                      max_rent=int(rng.integers(1, 7)) if rng.random() < 0.4 else None) for t in rented]
    sites = [Site(name="dc", kind="on-prem", gpus=dc, sharing_licence_usd_per_gpu_year=float(rng.choice([0, 500]))),
             Site(name="cloud", kind="cloud", gpus=cloud)]
    shapes = {m: [sh for sh in SHAPES if sum(sh) <= models()[m].max_context] for m, _ in SMALL_MODELS}
    svcs = []
    for k in range(int(rng.integers(2, 5))):
        model, precisions = SMALL_MODELS[int(rng.integers(0, len(SMALL_MODELS)))]
        peak = float(rng.lognormal(mean=0.0, sigma=1.2))
        rate = {n: round(peak * float(rng.uniform(0.1, 1.0)), 4) for n in names}
        svcs.append(Service(name=f"s{k}", model=model, precisions=precisions, rate=rate,
                            requests=shapes[model][int(rng.integers(0, len(shapes[model])))],
                            slo=TIERS[int(rng.integers(0, 3))], sites=["dc"] if rng.random() < 0.3 else None,
                            min_replicas=int(rng.integers(0, 3))))
    jobs = []
    for j in range(int(rng.integers(0, 3))):
        jobs.append(TrainingJob(name=f"t{j}", gpu_hours=float(rng.uniform(20, 400)), min_gpus=int(rng.integers(1, 3)),
                                periods=[str(p) for p in rng.choice(names, size=int(rng.integers(1, n_periods + 1)),
                                                                     replace=False)],
                                sites=["dc"], deadline_days=float(rng.choice([7.0, 30.0])),
                                burst_usd_per_gpu_hour=float(rng.uniform(3, 6)) if rng.random() < 0.5 else None))
    return Scenario(name=f"small-{seed}", periods=[Period(name=n, hours=float(h)) for n, h in zip(names, hours)],
                    sites=sites, services=svcs, training=jobs, sharing="all", fractions=int(rng.integers(2, 5)),
                    capacities="closed-form")


__all__ = ["small_scenario", "synthetic_fleet"]
