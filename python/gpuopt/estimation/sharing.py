"""Sharing one GPU: MIG slices (isolated) and time-sliced / MPS fractions (with interference).

A *slot* is what one replica runs on: a whole GPU, a MIG instance, or a 1/n time share. Each slot
is described by the Accelerator one replica sees, so fit and estimate work on slots unchanged.

- MIG (data/mig_profiles.csv): an instance of k compute and m memory slices gets k/7 of the tensor
  peaks and m/8 of the memory and its bandwidth, with no interference. Legal layouts come from the
  Rust core's enumeration of placements (8 memory slices, 7 compute slices, allowed starts).
- Time-slicing: n replicas share a GPU; each gets memory/n, and while its neighbours are busy a
  1/n share of time, slowed by contention, plus a context-switch delay per request. The two
  interference figures are fitted to seed 004 (one A100, three pods: p50 800 -> 920 ms).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gpuopt import _core
from gpuopt.catalog import GpuLike, gpu as get_gpu, gpus, mig_profiles
from gpuopt.errors import CheckedModel, InvalidInputError, UnknownNameError
from gpuopt.schema import Accelerator

MAX_FRACTIONS = 8


class Interference(CheckedModel):
    """What time-slicing n replicas on one GPU costs each of them.

    - time share: with neighbours busy a fraction u of the time, a replica gets the GPU
      1 / (1 + (n-1) u) of the time (processor sharing); planning assumes u = 1, i.e. 1/n.
    - contention: while sharing, its kernels run slower by 1 + c (n-1) u (bandwidth, caches).
    - switching: each request waits `switch_ms_per_neighbour` per neighbour for its slice.

    Fitted to seed 004 (A100 40GB; one pod at 60 req/min keeps the GPU 18 % busy with p50 800 ms;
    three pods at 60 req/min each: 180 req/min, 72 % busy, p50 920 ms). Its +120 ms splits into
    30 ms context switching + 50 ms waiting for a slice (80 ms over two neighbours: 40 ms each) and
    40 ms bandwidth contention (40 / 800 = 5 % with neighbours busy 2 x 24 %: c = 0.104). The
    utilization 18 % -> 72 % then leaves 50.9 ms of GPU-busy switching per request (3 x (0.18 x
    1.05 + 1 req/s x 0.0509 s) = 0.72), more than the seed's own 30 ms estimate of switching.
    """

    # finite and within reach of a real GPU: an infinite switch time gave infinite request delays
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
    switch_ms_per_neighbour: float = Field(40.0, ge=0, le=1e5, description="slice wait + context switch per request, ms")
    contention_per_neighbour: float = Field(0.104, ge=0, le=100, description="slowdown per fully busy neighbour")
    neighbour_utilization: float = Field(1.0, ge=0, le=1, description="how busy the neighbours are (planning: 1)")
    switch_busy_ms: float = Field(50.9, ge=0, le=1e5, description="GPU-busy switching per request while shared, ms")

    def time_share(self, n: int) -> float:
        """Share of GPU time a replica gets."""
        return 1.0 / (1.0 + (n - 1) * self.neighbour_utilization)

    def contention(self, n: int) -> float:
        return 1.0 + self.contention_per_neighbour * (n - 1) * self.neighbour_utilization

    def slowdown(self, n: int) -> float:
        """Factor on a replica's compute and memory time."""
        return self.contention(n) / self.time_share(n)

    def request_delay_ms(self, n: int) -> float:
        return self.switch_ms_per_neighbour * (n - 1)

    def gpu_utilization(self, n: int, alone_utilization: float, requests_per_s: float) -> float:
        """Busy share of a GPU shared by n replicas, each of which alone would keep it
        `alone_utilization` busy at `requests_per_s`: their work slowed by contention, plus switching."""
        if n == 1:
            return alone_utilization
        return min(1.0, n * (alone_utilization * self.contention(n) + requests_per_s * self.switch_busy_ms / 1e3))


SEED_004 = Interference()


class Slot(BaseModel):
    """What one replica runs on."""

    model_config = ConfigDict(frozen=True)
    id: str
    kind: Literal["gpu", "mig", "fraction"]
    parent: str = Field(description="the physical GPU's id")
    share: float = Field(description="share of the physical GPU this slot occupies (for cost)")
    per_gpu: int = Field(description="slots of this kind one GPU holds at most")
    gpu: Accelerator = Field(description="the accelerator one replica sees")
    request_delay_ms: float = Field(0.0, description="added to every request by sharing")
    profile: str | None = Field(None, description="MIG profile name")


def _names_column(g: Accelerator) -> str:
    if g.id == "a100-40gb" or g.memory_bytes < 60e9:
        return "a100-40gb"
    if g.id == "h200" or g.memory_bytes > 120e9:
        return "h200"
    return "a100-80gb/h100"


def _mig_gpu(spec: GpuLike) -> Accelerator:
    g = get_gpu(spec)
    if not g.mig:
        capable = ", ".join(k for k, v in gpus().items() if v.mig)
        raise InvalidInputError(f"{g.id} has no MIG partitioning; MIG-capable: {capable}")
    return g


def mig_profile_names(spec: GpuLike) -> list[str]:
    g = _mig_gpu(spec)
    column = _names_column(g)
    return [p["names"][column] for p in mig_profiles()]


def mig_layouts(spec: GpuLike, *, maximal: bool = False) -> list[tuple[str, ...]]:
    """Every legal MIG layout of `gpu` as a sorted tuple of profile names, e.g. ("3g.40gb", "4g.40gb");
    `maximal=True` keeps the layouts no further instance fits into."""
    names = mig_profile_names(spec)
    profiles = [(p["compute_slices"], p["memory_slices"], list(p["allowed_starts"]), p["max_per_gpu"])
                for p in mig_profiles()]
    out = []
    for counts in _core.mig_layouts(profiles, maximal):
        out.append(tuple(sorted(name for name, c in zip(names, counts) for _ in range(c))))
    return sorted(set(out), key=lambda t: (len(t), t))


def mig_profile(spec: GpuLike, profile: str) -> dict[str, Any]:
    """The catalog row of one MIG profile of `gpu` (compute slices of 7, memory slices of 8, ...)."""
    names = mig_profile_names(spec)
    if profile not in names:
        raise UnknownNameError("MIG profile", profile, names, [n for n in names if n.split(".")[0] == profile.split(".")[0]])
    return mig_profiles()[names.index(profile)]


def mig_slice(spec: GpuLike, profile: str) -> Slot:
    """The slot of one MIG instance: k/7 of the compute, m/8 of memory and bandwidth, isolated."""
    g = _mig_gpu(spec)
    p = mig_profile(g, profile)
    k, m = p["compute_slices"] / 7, p["memory_slices"] / 8
    acc = Accelerator(
        id=f"{g.id}/{profile}", name=f"{g.name} MIG {profile}", memory_bytes=g.memory_bytes * m,
        mem_bw_gb_s=g.mem_bw_gb_s * m, fp16_tflops=g.fp16_tflops * k,
        fp8_tflops=g.fp8_tflops * k if g.fp8_tflops else None, int8_tops=g.int8_tops * k if g.int8_tops else None,
        int4_tops=g.int4_tops * k if g.int4_tops else None, tdp_w=g.tdp_w * max(k, m) if g.tdp_w else None,
        interconnect=None, interconnect_gb_s=None, mig=False,
        source=f"{g.source}; MIG {profile}: {p['compute_slices']}/7 compute, {p['memory_slices']}/8 memory",
        unconfirmed=g.unconfirmed)
    return Slot(id=acc.id, kind="mig", parent=g.id, share=max(k, m), per_gpu=p["max_per_gpu"], gpu=acc,
                profile=profile)


def fraction(spec: GpuLike, n: int, interference: Interference = SEED_004) -> Slot:
    """The slot of one of `n` replicas time-slicing one GPU: memory/n, and compute and bandwidth
    divided by the interference slowdown; each request also waits for its time slice."""
    g = get_gpu(spec)
    if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= MAX_FRACTIONS:
        raise InvalidInputError(f"a GPU is time-sliced between 2 and {MAX_FRACTIONS} replicas, got {n!r}")
    slow = interference.slowdown(n)
    acc = Accelerator(
        id=f"{g.id}/{n}x", name=f"{g.name}, 1/{n} time share", memory_bytes=g.memory_bytes / n,
        mem_bw_gb_s=g.mem_bw_gb_s / slow, fp16_tflops=g.fp16_tflops / slow,
        fp8_tflops=g.fp8_tflops / slow if g.fp8_tflops else None,
        int8_tops=g.int8_tops / slow if g.int8_tops else None, int4_tops=g.int4_tops / slow if g.int4_tops else None,
        tdp_w=g.tdp_w / n if g.tdp_w else None, interconnect=None, interconnect_gb_s=None, mig=False,
        source=f"{g.source}; 1/{n} time share, interference fitted to seed 004", unconfirmed=g.unconfirmed)
    return Slot(id=acc.id, kind="fraction", parent=g.id, share=1.0 / n, per_gpu=n, gpu=acc,
                request_delay_ms=interference.request_delay_ms(n))


def whole(spec: GpuLike) -> Slot:
    g = get_gpu(spec)
    return Slot(id=g.id, kind="gpu", parent=g.id, share=1.0, per_gpu=1, gpu=g)


def slots(spec: GpuLike, *, fractions: int = 4, interference: Interference = SEED_004) -> list[Slot]:
    """The whole GPU, each MIG instance it offers, and time shares 1/2 .. 1/`fractions`."""
    g = get_gpu(spec)
    if isinstance(fractions, bool) or not isinstance(fractions, int) or not 1 <= fractions <= MAX_FRACTIONS:
        raise InvalidInputError(f"fractions must be a whole number from 1 (no time shares) to {MAX_FRACTIONS}, "
                                f"got {fractions!r}")
    out = [whole(g)]
    if g.mig:
        out += [mig_slice(g, name) for name in mig_profile_names(g)]
    out += [fraction(g, n, interference) for n in range(2, fractions + 1)]
    return out


__all__ = ["Interference", "SEED_004", "Slot", "fraction", "mig_layouts", "mig_profile_names", "mig_profile", "mig_slice", "slots",
           "whole"]
