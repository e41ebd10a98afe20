"""`vllm serve` arguments that run a replica the way the plan modelled it: its tensor-parallel size,
the longest request it must hold, its share of GPU memory, the batch budget the capacity model
assumed, and weights in the planned precision from a checkpoint that is in that precision.

Flag names and choices are vLLM v0.6.3.post1's (docs.vllm.ai/en/v0.6.3.post1/models/engine_args.html),
the version of the images in data/k8s_devices.csv; tests check them against that list."""

from __future__ import annotations

import re
import shlex

from gpuopt.catalog import engine as get_engine, model as get_model
from gpuopt.errors import InvalidInputError

VLLM_VERSION = "v0.6.3.post1"
PORT = 8000
# vLLM quantizes 16-bit weights to fp8 when it loads them (--quantization fp8); int8 and int4 exist
# only as checkpoints quantized ahead (AWQ, GPTQ, compressed-tensors), whose config vLLM reads.
DTYPE = {"fp16": "float16", "bf16": "bfloat16"}
NEEDS_CHECKPOINT = ("int8", "int4")


def checkpoint(service, precision: str) -> tuple[str, str | None]:
    """(Hugging Face repository, revision or None) of the weights a replica loads."""
    named = service.checkpoints.get(precision)
    if named is None:
        if precision in NEEDS_CHECKPOINT:
            raise InvalidInputError(
                f"service {service.name!r} is planned at {precision}, which vLLM serves only from a checkpoint "
                f"quantized ahead (AWQ, GPTQ or compressed-tensors); name one: checkpoints: {{{precision}: "
                f"<huggingface repo>[@revision]}}, or leave {precision} out of its precisions")
        src = get_model(service.model).source
        m = re.match(r"https://huggingface.co/([^/]+/[^/]+)/", src)
        return (m.group(1) if m else service.model), None
    repo, _, revision = named.partition("@")
    return repo, (revision or None)


def memory_utilization(service, slot_share: float) -> float:
    """vLLM's --gpu-memory-utilization is a share of the whole device it sees: the engine's share
    for a whole GPU or MIG instance (vLLM sees only the instance), that share / n for a 1/n time
    share (n engines on one GPU's memory, as the planner sized each one)."""
    return round(get_engine(service.engine).memory_utilization * slot_share, 4)


def check_service(service, precision: str) -> None:
    """A clear error where a replica of `service` at `precision` cannot be written as vLLM flags."""
    if service.engine != "vllm":
        raise InvalidInputError(f"service {service.name!r} runs on engine {service.engine!r}; the export writes "
                                "vLLM servers only (set engine: vllm, or deploy it by hand from the plan)")
    checkpoint(service, precision)


def vllm_args(service, group, port: int = PORT) -> list[str]:
    """The arguments after `vllm serve` for one replica of `group` (a plans.ReplicaGroup)."""
    check_service(service, group.precision)
    repo, revision = checkpoint(service, group.precision)
    eng = get_engine(service.engine)
    share = 1.0 / group.fraction if group.kind == "fraction" else 1.0
    args = [repo, "--served-model-name", service.name, "--port", str(port),
            "--tensor-parallel-size", str(group.tp),
            "--max-model-len", str(service.longest_request_tokens),
            "--gpu-memory-utilization", f"{memory_utilization(service, share):g}",
            "--enable-chunked-prefill", "--max-num-batched-tokens", str(eng.max_batched_tokens)]
    if revision:
        args += ["--revision", revision]
    if group.precision in DTYPE:
        args += ["--dtype", DTYPE[group.precision]]
    elif group.precision == "fp8" and group.precision not in service.checkpoints:
        args += ["--quantization", "fp8"]
    return args


def environment(service) -> dict[str, str]:
    """Variables the server needs beyond its flags."""
    if service.longest_request_tokens > get_model(service.model).max_context:
        # the scenario chose beyond_context: vLLM refuses a longer --max-model-len without this
        return {"VLLM_ALLOW_LONG_MAX_MODEL_LEN": "1"}
    return {}


def command_line(service, group, devices: str, port: int) -> str:
    """One replica as a shell command (for users without Kubernetes); `devices` is spelled as the
    shell should see it (a list of indices, or a command substitution that finds a MIG instance)."""
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in environment(service).items())
    args = " ".join(shlex.quote(a) for a in vllm_args(service, group, port))
    return f"CUDA_VISIBLE_DEVICES={devices} {env + ' ' if env else ''}vllm serve {args}"


__all__ = ["PORT", "VLLM_VERSION", "check_service", "checkpoint", "command_line", "environment", "memory_utilization", "vllm_args"]
