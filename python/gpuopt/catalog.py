"""The catalog: accelerators, models, engines and prices shipped with gpuopt, plus the user's own.

Every shipped figure carries its source. Users add or override entries with `register_gpu`,
`register_model` and `register_engine`; an override wins over the shipped default.
"""

from __future__ import annotations

import csv
import difflib
import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Union

import yaml

from gpuopt.errors import InvalidInputError, ModelInputError, UnknownNameError
from gpuopt.schema import PRECISIONS, Accelerator, EngineProfile, ModelSpec, Price
from gpuopt.units import GB, GiB
from gpuopt.user_files import load_yaml, read_text

GpuLike = Union[str, Accelerator, Mapping[str, Any]]
ModelLike = Union[str, ModelSpec, Mapping[str, Any]]
EngineLike = Union[str, EngineProfile, Mapping[str, Any]]


def _data_text(name: str) -> str:
    return resources.files("gpuopt").joinpath("data", name).read_text(encoding="utf-8")


def _csv_rows(name: str) -> list[dict[str, str]]:
    lines = [ln for ln in _data_text(name).splitlines() if ln.strip() and not ln.startswith("#")]
    return list(csv.DictReader(lines))


def _number(text: str) -> tuple[float | None, bool]:
    """A datasheet cell: (value or None, whether it is marked unconfirmed with '?')."""
    text = text.strip()
    unconfirmed = text.endswith("?")
    text = text.rstrip("?").strip()
    return (float(text) if text else None), unconfirmed


def _gpu_from_csv(row: dict[str, str]) -> Accelerator:
    numeric = ["mem_gb", "memory_mib", "mem_bw_gb_s", "fp16_tflops", "fp8_tflops", "int8_tops",
               "int4_tops", "tdp_w", "interconnect_gb_s"]
    values, unconfirmed = {}, []
    for key in numeric:
        values[key], doubt = _number(row[key])
        if doubt:
            unconfirmed.append(key)
    memory = values["memory_mib"] * 2**20 if values["memory_mib"] else values["mem_gb"] * GB
    return Accelerator(
        id=row["id"], name=row["name"], memory_bytes=memory, memory_gb=values["mem_gb"],
        mem_bw_gb_s=values["mem_bw_gb_s"], fp16_tflops=values["fp16_tflops"],
        fp8_tflops=values["fp8_tflops"], int8_tops=values["int8_tops"], int4_tops=values["int4_tops"],
        tdp_w=values["tdp_w"], interconnect=row["interconnect"] or None,
        interconnect_gb_s=values["interconnect_gb_s"], mig=row["mig"].strip().lower() == "yes",
        source=row["source"], unconfirmed=tuple(unconfirmed),
    )


@cache
def _shipped_gpus() -> dict[str, Accelerator]:
    return {row["id"]: _gpu_from_csv(row) for row in _csv_rows("gpus.csv")}


@cache
def _shipped_models() -> dict[str, ModelSpec]:
    return {mid: ModelSpec(id=mid, **spec) for mid, spec in yaml.safe_load(_data_text("models.yaml")).items()}


@cache
def engine_priors() -> dict[str, EngineProfile]:
    """Shipped engines with their hand-set timing figures (engines.yaml): the starting point and
    prior of calibration, before the fitted figures of engine_timing.yaml replace them."""
    out = {}
    for eid, spec in yaml.safe_load(_data_text("engines.yaml")).items():
        spec = dict(spec)
        spec["overhead_bytes"] = spec.pop("overhead_gb") * GB
        spec["comm_buffer_bytes"] = spec.pop("comm_buffer_gib", 0.0) * GiB
        spec.pop("timing_from", None)
        spec.setdefault("calibration", "hand-set prior (engines.yaml), not fitted to measurements")
        out[eid] = EngineProfile(id=eid, **spec)
    return out


@cache
def _shipped_engines() -> dict[str, EngineProfile]:
    fitted = yaml.safe_load(_data_text("engine_timing.yaml")) or {}
    specs = yaml.safe_load(_data_text("engines.yaml"))
    out = {}
    for eid, prior in engine_priors().items():
        donor = specs[eid].get("timing_from", eid)  # engines without public measurements borrow a fit
        timing = fitted.get(donor)
        if timing is None:
            out[eid] = prior
            continue
        calibration = timing["calibration"] if donor == eid else f"borrowed from {donor}: {timing['calibration']}"
        figures = {k: v for k, v in timing.items() if k != "calibration"}
        out[eid] = EngineProfile.model_validate({**prior.model_dump(), **figures, "calibration": calibration})
    return out


_user_gpus: dict[str, Accelerator] = {}
_user_models: dict[str, ModelSpec] = {}
_user_engines: dict[str, EngineProfile] = {}


def gpus() -> dict[str, Accelerator]:
    """Every known accelerator by id, the user's overrides included."""
    return {**_shipped_gpus(), **_user_gpus}


def models() -> dict[str, ModelSpec]:
    return {**_shipped_models(), **_user_models}


def engines() -> dict[str, EngineProfile]:
    return {**_shipped_engines(), **_user_engines}


@cache
def prices() -> tuple[Price, ...]:
    """Example prices, each with its source; they go stale, so every use lets users override them."""
    return tuple(Price(id=r["id"], kind=r["kind"], usd=float(r["usd"]), source=r["source"])
                 for r in _csv_rows("prices.csv"))


@cache
def mig_profiles() -> tuple[dict[str, Any], ...]:
    """NVIDIA MIG GPU-instance profiles: compute and memory slices, allowed starts, names."""
    out = []
    for r in _csv_rows("mig_profiles.csv"):
        out.append({
            "profile_id": int(r["profile_id"]),
            "compute_slices": int(r["compute_slices"]),
            "memory_slices": int(r["memory_slices"]),
            "allowed_starts": tuple(int(s) for s in r["allowed_starts"].split(";")),
            "max_per_gpu": int(r["max_per_gpu"]),
            "names": {"a100-40gb": r["a100_40gb"], "a100-80gb/h100": r["a100_80gb_h100"], "h200": r["h200"]},
        })
    return tuple(out)


def suggest(name: str, known: Iterable[str], n: int = 3) -> list[str]:
    """Closest known ids: those extending what was typed first ("h100" -> h100-sxm, h100-pcie),
    then by spelling."""
    known = sorted(known)
    key = name.strip().lower()
    prefixed = [k for k in known if k.startswith(key) or key in k] if key else []
    close = difflib.get_close_matches(key, known, n=n, cutoff=0.5)
    return list(dict.fromkeys(prefixed + close))[: max(n, len(prefixed))]


def _lookup(kind: str, name: str, table: dict[str, Any]):
    if not isinstance(name, str):
        raise InvalidInputError(f"{kind} must be an id (string) or a {kind} object, got {type(name).__name__}")
    hit = table.get(name) or table.get(name.strip().lower())
    if hit is None:
        raise UnknownNameError(kind, name, sorted(table), suggest(name, table))
    return hit


def _validated(kind: str, cls, data: Mapping[str, Any]):
    try:
        return cls.model_validate(dict(data))
    except ModelInputError as e:
        raise InvalidInputError(f"invalid {kind} definition: {e.problems}") from None


def gpu(spec: GpuLike) -> Accelerator:
    """An accelerator from its id, an Accelerator, or a dict of its fields."""
    if isinstance(spec, Accelerator):
        return spec
    if isinstance(spec, Mapping):
        return _validated("gpu", Accelerator, spec)
    return _lookup("gpu", spec, gpus())


def model(spec: ModelLike) -> ModelSpec:
    """A model from its id, a ModelSpec, or a dict of its architecture."""
    if isinstance(spec, ModelSpec):
        return spec
    if isinstance(spec, Mapping):
        return _validated("model", ModelSpec, spec)
    return _lookup("model", spec, models())


def engine(spec: EngineLike) -> EngineProfile:
    if isinstance(spec, EngineProfile):
        return spec
    if isinstance(spec, Mapping):
        return _validated("engine", EngineProfile, spec)
    return _lookup("engine", spec, engines())


# accelerators' names (their vendor's first words) -> the software stack engines run on there
STACKS = (("AMD", "rocm"), ("INTEL GAUDI", "gaudi"), ("GOOGLE CLOUD TPU", "tpu"), ("AWS INFERENTIA", "neuron"))
FITTED_STACKS = ("cuda", "rocm")   # stacks with engine builds fitted to public measurements
# GPU families whose builds compile for a target of their own, with their own kernels and their own
# shares of the peaks: the MI200 series (gfx90a; the ROCm builds' default fits are the MI300X's, gfx942)
BUILD_TARGETS = (("AMD INSTINCT MI2", "cdna2"),)


def stack_of(gpu: Accelerator) -> str:
    """The software stack engines run on `gpu`: 'rocm' on AMD Instinct GPUs, 'gaudi', 'tpu' or
    'neuron' on Intel's, Google's and AWS's accelerators, else 'cuda'."""
    name = gpu.name.upper()
    return next((stack for vendor, stack in STACKS if name.startswith(vendor)), "cuda")


def build_target(gpu: Accelerator) -> Optional[str]:
    """The architecture a build for `gpu` is compiled for where it has builds of its own ('cdna2'
    for the MI200 series), else None."""
    name = gpu.name.upper()
    return next((target for family, target in BUILD_TARGETS if name.startswith(family)), None)


def _stack_at(where: Any) -> tuple[str, Optional[str]]:
    """The stack and build target of a GPU, or of a slot of one (its physical GPU decides)."""
    g = gpu(where.parent if hasattr(where, "parent") else where)
    return stack_of(g), build_target(g)


def timing_borrowed(e: EngineProfile, where: Any) -> Optional[str]:
    """Why a shipped engine's timing on `where` (a GPU, or a slot of one) is borrowed, else None: its
    stack has no fitted build (the CUDA build's figures are used), or its GPU's build target has none
    (llama.cpp on an MI250: the ROCm build's MI300X figures). Figures the user gave or fitted are the
    user's word."""
    from gpuopt.estimation.calibration import FITTED   # calibration reads the catalog: imported when asked

    stack, target = _stack_at(where)
    if stack in FITTED_STACKS and (target is None or e.id.endswith(f"-{target}")):
        return None   # the engine's build for this GPU is a fitted one
    shipped = _shipped_engines().get(e.id)
    if e.id in _user_engines or shipped is None or any(getattr(e, f) != getattr(shipped, f) for f in FITTED):
        return None
    if stack not in FITTED_STACKS:
        return f"{stack}: the timing uses the efficiencies fitted on NVIDIA GPUs"
    return f"{stack} for {target}: the timing uses the efficiencies its {stack} build reached on other GPUs"


def engine_on(e: EngineProfile, where: Any) -> EngineProfile:
    """`e` as it runs on the software stack of `where` (a GPU, or a slot of one: its physical GPU
    decides): a shipped engine with a build of its own for that stack (vllm on an AMD GPU:
    vllm-rocm, its kernels and its fitted timing) becomes that build. A profile the user gave or
    registered is kept as it is. A build for the GPU's target comes first (vllm on an MI250:
    vllm-rocm-cdna2), then the stack's."""
    stack, target = _stack_at(where)
    builds = _shipped_engines()
    if stack == "cuda" or e.id in _user_engines or builds.get(e.id) != e:
        return e
    return (target and builds.get(f"{e.id}-{stack}-{target}")) or builds.get(f"{e.id}-{stack}", e)


def precision(name: str, *, what: str = "precision") -> str:
    if isinstance(name, str) and name.strip().lower() in PRECISIONS:
        return name.strip().lower()
    raise InvalidInputError(f"unknown {what} {name!r}: valid precisions are {', '.join(PRECISIONS)}")


def _load_mapping(source: Union[str, Path, Mapping[str, Any]], kind: str) -> dict[str, Any]:
    if isinstance(source, Mapping):
        return dict(source)
    if not isinstance(source, (str, Path)):
        raise InvalidInputError(f"a {kind} definition must be a mapping of {kind} fields, a YAML/JSON file path "
                                f"or a {kind} object, got {type(source).__name__}")
    path = Path(source)
    data = load_yaml(read_text(path, f"{kind} file"), str(path))
    if not isinstance(data, dict):
        raise InvalidInputError(f"{path} must hold a mapping of {kind} fields, got {type(data).__name__}")
    return data


def register_gpu(spec: Union[str, Path, Mapping[str, Any], Accelerator]) -> Accelerator:
    """Adds (or overrides) an accelerator from a dict, a YAML/JSON file path or an Accelerator."""
    acc = spec if isinstance(spec, Accelerator) else gpu(_load_mapping(spec, "gpu"))
    _user_gpus[acc.id] = acc
    return acc


def register_model(spec: Union[str, Path, Mapping[str, Any], ModelSpec]) -> ModelSpec:
    """Adds (or overrides) a model from a dict, a YAML/JSON file of ModelSpec fields, or a ModelSpec.
    For a Hugging Face config.json use `model_from_hf_config`."""
    m = spec if isinstance(spec, ModelSpec) else model(_load_mapping(spec, "model"))
    _user_models[m.id] = m
    return m


def register_engine(spec: Union[str, Path, Mapping[str, Any], EngineProfile]) -> EngineProfile:
    """Adds (or overrides) an engine profile from a dict, an EngineProfile, a shipped engine's id,
    or a YAML/JSON file of its fields (what `gpuopt calibrate --out` writes)."""
    if isinstance(spec, Path) or (isinstance(spec, str) and spec.lower().endswith((".yaml", ".yml", ".json"))):
        spec = _load_mapping(spec, "engine")
    e = engine(spec)
    _user_engines[e.id] = e
    return e


# config.json model types whose architecture ModelSpec describes exactly.
HF_SUPPORTED = ("llama", "mistral", "mixtral", "qwen2")
# gpuopt field <- config.json key
HF_KEYS = {
    "layers": "num_hidden_layers",
    "hidden": "hidden_size",
    "heads": "num_attention_heads",
    "kv_heads": "num_key_value_heads",
    "head_dim": "head_dim",
    "ffn": "intermediate_size",
    "vocab": "vocab_size",
    "tied_embeddings": "tie_word_embeddings",
    "experts": "num_local_experts",
    "experts_per_token": "num_experts_per_tok",
    "max_context": "max_position_embeddings",
    "sliding_window": "sliding_window",
    "attention_bias": "attention_bias",
}


def model_from_hf_config(path: Union[str, Path], *, id: str | None = None, register: bool = True) -> ModelSpec:
    """A model from a local Hugging Face config.json (a file, or the folder holding it); no network."""
    path = Path(path)
    if path.is_dir():
        path = path / "config.json"
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InvalidInputError(f"cannot read {path}: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise InvalidInputError(f"{path} is not valid JSON: {e}") from None
    kind = cfg.get("model_type")
    if kind not in HF_SUPPORTED:
        raise InvalidInputError(
            f"{path}: model_type {kind!r} is not supported (supported: {', '.join(HF_SUPPORTED)}); "
            "describe the model with gpuopt.register_model({...}) instead"
        )
    missing = [HF_KEYS[f] for f in ("layers", "hidden", "heads", "ffn", "vocab") if HF_KEYS[f] not in cfg]
    if missing:
        raise InvalidInputError(f"{path}: config.json lacks {', '.join(missing)}")
    spec: dict[str, Any] = {f: cfg.get(k) for f, k in HF_KEYS.items() if cfg.get(k) is not None}
    spec.setdefault("tied_embeddings", False)  # Llama/Mistral/Qwen2 configs default to untied
    spec.setdefault("max_context", 4096)
    if kind == "qwen2":
        spec["attention_bias"] = True  # Qwen2 always has q/k/v biases
        if not cfg.get("use_sliding_window", False):
            spec.pop("sliding_window", None)
    name = id or cfg.get("_name_or_path") or path.parent.name
    spec["id"] = str(name).split("/")[-1].lower()
    spec["name"] = str(name)
    spec["source"] = str(path)
    m = model(spec)
    if register:
        _user_models[m.id] = m
    return m
