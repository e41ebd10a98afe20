"""Measurements from the result files real benchmarks write, as their tools define them:

- `vllm bench serve` / benchmarks/benchmark_serving.py with `--save-result`: one JSON object with
  `completed`, `total_input_tokens`, `total_output_tokens`, `output_throughput` (output tok/s),
  `median_ttft_ms`, `median_tpot_ms`, `request_rate` ("inf" or req/s), `max_concurrency` and any
  `--metadata KEY=VALUE` pairs.
- GenAI-Perf's profile_export_genai_perf.csv: a statistics table (`Metric,avg,min,max,p99,...,p50,...`
  with rows such as `Time To First Token (ms)`, `Inter Token Latency (ms)`, `Input Sequence
  Length`, `Output Sequence Length`) and a `Metric,Value` table with `Output Token Throughput (per
  sec)`. The concurrency is GenAI-Perf's `--concurrency`, which its artifact folder names
  (`...-concurrency8/`).

Both measure N concurrent clients, each sending its next request when one completes: gpuopt
reads that as a static batch of N (out_tok_s_static = the output tok/s), and with N = 1 also as
TTFT and TPOT at batch 1. What the files do not say (the GPU, tp, precision, engine, and the model
where its id is not a catalog model's) comes from `defaults` or, for vLLM, from `--metadata`
keys of the same names (gpu=h100-sxm tp=2 ...). A Poisson-rate run measures a queue, which
gpuopt's simulator models, not its estimator: it is refused with how to rerun it.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path
from typing import Any, Mapping, Optional

from gpuopt import catalog
from gpuopt.errors import InvalidInputError

SETTINGS = ("model", "gpu", "n_gpu", "precision", "engine")


def is_vllm_result(data: Any) -> bool:
    return isinstance(data, dict) and {"completed", "output_throughput", "total_output_tokens"} <= set(data)


def is_genai_perf_csv(text: str) -> bool:
    first = text.lstrip().split("\n", 1)[0]
    return first.replace(" ", "").lower().startswith("metric,")


def _model_id(hf_id: Any) -> Optional[str]:
    """The catalog model whose Hugging Face repository is `hf_id` (its source URL names it)."""
    if not isinstance(hf_id, str):
        return None
    name = hf_id.strip().rstrip("/")
    for mid, spec in catalog.models().items():
        if mid == name or f"huggingface.co/{name}/" in (spec.source or ""):
            return mid
    return None


def _settings(found: Mapping[str, Any], defaults: Mapping[str, Any], origin: str) -> dict:
    unknown = set(defaults) - set(SETTINGS)
    if unknown:
        raise InvalidInputError(f"unknown settings {', '.join(sorted(unknown))} for {origin}; give {', '.join(SETTINGS)}")
    out = {k: found[k] for k in SETTINGS if found.get(k) is not None}
    out.update({k: v for k, v in defaults.items() if v is not None})
    missing = [k for k in ("model", "gpu") if k not in out]
    if missing:
        raise InvalidInputError(f"{origin} does not say which {' or '.join(missing)} it measured: give "
                                f"{', '.join(f'{k}=...' for k in missing)} (the CLI's --{' and --'.join(missing)})")
    out.setdefault("engine", "vllm")   # ids are checked against the catalog with every row (calibration._parse)
    return out


def _positive(origin: str, name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and v > 0):
        raise InvalidInputError(f"{origin}: {name} must be a positive number, got {v!r}")
    return float(v)


def _rows(origin: str, s: dict, concurrency: int, isl: float, osl: float, tok_s: float,
          ttft_ms: Optional[float], tpot_ms: Optional[float]) -> list[dict]:
    base = dict(model=s["model"], gpu=s["gpu"], n_gpu=int(s.get("n_gpu", 1)), precision=s.get("precision", "fp16"),
                engine=s["engine"], isl=max(1, round(isl)), osl=max(1, round(osl)), source=origin)
    rows = [dict(base, batch=concurrency, metric="out_tok_s_static", value=tok_s)]
    if concurrency == 1:
        if ttft_ms is not None:
            rows.append(dict(base, batch=1, metric="ttft_ms", value=ttft_ms))
        if tpot_ms is not None:
            rows.append(dict(base, batch=1, metric="tpot_ms", value=tpot_ms))
    return rows


def from_vllm_result(data: dict, origin: str, defaults: Mapping[str, Any]) -> list[dict]:
    """Measurement rows from one `vllm bench serve --save-result` JSON object."""
    rate = data.get("request_rate")
    if rate not in ("inf", None) and not (isinstance(rate, (int, float)) and math.isinf(rate)):
        raise InvalidInputError(f"{origin} is a Poisson run at {rate} req/s: it measures a queue, which "
                                "gpuopt.simulate models; for calibration run `vllm bench serve --request-rate inf "
                                "--max-concurrency N` (one file per N)")
    concurrency = data.get("max_concurrency")
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise InvalidInputError(f"{origin}: max_concurrency is {concurrency!r}; calibration needs a run with "
                                "--max-concurrency N (N concurrent clients)")
    done = _positive(origin, "completed", data.get("completed"))
    found = {k: data.get(k) for k in SETTINGS}
    found["n_gpu"] = data.get("tp", data.get("n_gpu"))
    found["model"] = data.get("model") if _model_id(data.get("model")) else _model_id(data.get("model_id"))
    s = _settings(found, defaults, origin)
    ttft = data.get("median_ttft_ms")
    tpot = data.get("median_tpot_ms")
    return _rows(origin, s, concurrency, _positive(origin, "total_input_tokens", data.get("total_input_tokens")) / done,
                 _positive(origin, "total_output_tokens", data.get("total_output_tokens")) / done,
                 _positive(origin, "output_throughput", data.get("output_throughput")),
                 None if ttft is None else _positive(origin, "median_ttft_ms", ttft),
                 None if tpot is None else _positive(origin, "median_tpot_ms", tpot))


_STAT = re.compile(r"[^a-z]+")


def _key(name: str) -> str:
    """'Time To First Token (ms)' -> 'time to first token' (GenAI-Perf's capitalisation varies)."""
    return _STAT.sub(" ", re.sub(r"\(.*?\)", "", name.lower())).strip()


def from_genai_perf_csv(text: str, origin: str, defaults: Mapping[str, Any]) -> list[dict]:
    """Measurement rows from a GenAI-Perf profile_export_genai_perf.csv."""
    stats: dict[str, dict[str, str]] = {}
    values: dict[str, str] = {}
    header: list[str] = []
    for row in csv.reader(io.StringIO(text)):
        if not row or not any(c.strip() for c in row):
            continue
        if row[0].strip().lower() == "metric":
            header = [c.strip().lower() for c in row]
            continue
        if header[1:2] == ["value"]:
            values[_key(row[0])] = row[1].strip() if len(row) > 1 else ""
        elif header:
            stats[_key(row[0])] = dict(zip(header[1:], (c.strip() for c in row[1:])))
    need = {"time to first token", "input sequence length", "output sequence length"}
    if not need <= set(stats) or "output token throughput" not in values:
        raise InvalidInputError(f"{origin} is not a GenAI-Perf profile export: it lacks "
                                f"{', '.join(sorted(need - set(stats)) or ['output token throughput'])}")

    def number(table: dict, key: str, col: str) -> float:
        raw = (table[key].get(col) if isinstance(table[key], dict) else table[key]) or ""
        try:
            return _positive(origin, f"{key} ({col})", float(raw.replace(",", "")))
        except ValueError:
            raise InvalidInputError(f"{origin}: {key} ({col}) is {raw!r}, not a number") from None

    concurrency = defaults.get("concurrency")
    if concurrency is None:
        m = re.search(r"concurrency(\d+)", origin)
        concurrency = int(m.group(1)) if m else None
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise InvalidInputError(f"{origin} does not say how many concurrent clients ran: give concurrency=N "
                                "(GenAI-Perf's --concurrency; the CLI's --concurrency)")
    s = _settings({}, {k: v for k, v in defaults.items() if k != "concurrency"}, origin)
    itl = "inter token latency" if "inter token latency" in stats else None
    return _rows(origin, s, concurrency, number(stats, "input sequence length", "avg"),
                 number(stats, "output sequence length", "avg"),
                 number({"output token throughput": {"value": values["output token throughput"]}},
                        "output token throughput", "value"),
                 number(stats, "time to first token", "p50"), number(stats, itl, "p50") if itl else None)


def read_bench_file(path: Path, text: str, defaults: Mapping[str, Any]) -> Optional[list[dict]]:
    """Measurement rows if `text` is a vLLM result JSON or a GenAI-Perf CSV; None otherwise."""
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return None
        return from_vllm_result(data, str(path), defaults) if is_vllm_result(data) else None
    if path.suffix.lower() == ".csv" and is_genai_perf_csv(text):
        return from_genai_perf_csv(text, str(path), defaults)
    return None


__all__ = ["from_genai_perf_csv", "from_vllm_result", "read_bench_file"]
