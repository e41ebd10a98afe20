"""The `gpuopt` command line: rich tables for people, --json for machines, exit code 2 on bad input."""

from __future__ import annotations

import functools
import json
import logging
import sys
from enum import Enum
from typing import Optional

import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from gpuopt import __version__, batch, catalog
from gpuopt.errors import GpuoptError, InvalidInputError, OutputError
from gpuopt.estimation.calibration import calibrate as run_calibrate, load_measurements, validate as run_validate
from gpuopt.estimation.estimate import estimate as run_estimate, max_throughput as run_max_throughput
from gpuopt.estimation.fit import fit as run_fit
from gpuopt.estimation.simulate import simulate as run_simulate
from gpuopt.estimation.sweep import mixes as run_mixes, sweep as run_sweep
from gpuopt.cost import price_rows
from gpuopt.files import write_atomic
from gpuopt.output.documents import write_report
from gpuopt.output.commands import export_commands
from gpuopt.output.k8s import KUBECTL_IMAGE, check_exportable, export_k8s
from gpuopt.output.plots import pareto_png, validation_png
from gpuopt.output.tables import estimate_table, fit_table, gpu_table, model_table, new_table, plan_tables, validation_table
from gpuopt.planning.planner import PlanProgress, plan as run_plan
from gpuopt.planning.scenario import Scenario, load_scenario
from gpuopt.schema import TIMING_FIELDS
from gpuopt.planning.sensitivity import cost_against_rate

app = typer.Typer(no_args_is_help=True, add_completion=True, pretty_exceptions_enable=False,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="Plan GPU fleets for LLM serving and training.")
out = Console()
err = Console(stderr=True)

EXIT_BAD_INPUT = 2
EXIT_INFEASIBLE = 3
EXIT_INCOMPLETE = 4  # output not written (disk full, refused path, output in use) or a batch with failed scenarios
EXIT_NO_PLAN_YET = 5  # the time limit ended before the solver found any plan


def _errors_to_exit(fn):
    """gpuopt's errors become a message and an exit code; under --json, a JSON object on stdout
    ({"error": {"type", "message", "exit_code"}}) so that machines never parse prose."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except GpuoptError as e:
            code = EXIT_INCOMPLETE if isinstance(e, OutputError) else EXIT_BAD_INPUT
            if kwargs.get("as_json"):
                _print_json({"error": {"type": type(e).__name__, "message": str(e), "exit_code": code}})
            else:
                err.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
            raise typer.Exit(code) from None
    return wrapper


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"gpuopt {__version__}\n")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="print the version"),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="say more of what is done (-vv: debug)"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="warnings and errors only"),
) -> None:
    """Plan GPU fleets for LLM serving and training.

    Exit codes: 0 done, 2 bad input, 3 infeasible plan, 4 output not written or a batch with failed
    scenarios, 5 the time limit ended before any plan was found."""
    level = logging.WARNING if quiet or not verbose else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", level=level, stream=sys.stderr)
    logging.getLogger("gpuopt").setLevel(level)


def _print_json(data) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


class Kind(str, Enum):
    gpus = "gpus"
    models = "models"
    engines = "engines"
    prices = "prices"
    mig = "mig"


@app.command("catalog")
@_errors_to_exit
def catalog_cmd(kind: Kind = typer.Argument(Kind.gpus, help="what to list"),
                as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table")) -> None:
    """List the shipped accelerators, models, engine profiles, prices or MIG profiles, with sources."""
    if kind is Kind.gpus:
        items = list(catalog.gpus().values())
        return _print_json([g.model_dump() for g in items]) if as_json else out.print(gpu_table(items))
    if kind is Kind.models:
        items = list(catalog.models().values())
        return _print_json([m.model_dump() for m in items]) if as_json else out.print(model_table(items))
    if kind is Kind.engines:
        rows = [e.model_dump() for e in catalog.engines().values()]
    elif kind is Kind.prices:
        # several sources price some GPUs: say which one plans use unless told otherwise
        rows = [{**r, "default": "default" if r["default"] else "alternative"} for r in price_rows()]
        if as_json:
            return _print_json(price_rows())
    else:
        rows = [{**p, "allowed_starts": ";".join(map(str, p["allowed_starts"])), "names": ", ".join(p["names"].values())}
                for p in catalog.mig_profiles()]
    if as_json:
        return _print_json(rows)
    t = new_table(kind.value)
    for col in rows[0]:
        t.add_column(col)
    for r in rows:
        t.add_row(*(str(v) for v in r.values()))
    out.print(t)


@app.command("fit")
@_errors_to_exit
def fit_cmd(
    model: str = typer.Argument(..., help="model id, e.g. llama-2-7b (see `gpuopt catalog models`)"),
    gpu: str = typer.Argument(..., help="accelerator id, e.g. a100-40gb (see `gpuopt catalog gpus`)"),
    precision: str = typer.Option("fp16", help="weight precision: fp16, bf16, fp8, int8, int4"),
    kv_precision: Optional[str] = typer.Option(None, help="KV-cache precision (default 16-bit)"),
    batch: int = typer.Option(1, help="concurrent sequences"),
    context: int = typer.Option(4096, help="tokens per sequence (prompt + output)"),
    tp: int = typer.Option(1, help="tensor-parallel GPUs"),
    engine: str = typer.Option("vllm", help="serving engine: vllm, trtllm, llama.cpp, hf"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """Does MODEL fit on GPU? Weights, KV cache, activations and overhead per GPU, itemised."""
    r = run_fit(model, gpu, precision=precision, kv_precision=kv_precision, batch=batch, context=context, tp=tp,
                engine=engine)
    if as_json:
        return _print_json(r.model_dump())
    out.print(fit_table(r))
    for w in r.warnings:
        err.print(f"[yellow]warning:[/] {w}", highlight=False)


@app.command("estimate")
@_errors_to_exit
def estimate_cmd(
    model: str = typer.Argument(..., help="model id (see `gpuopt catalog models`)"),
    gpu: str = typer.Argument(..., help="accelerator id (see `gpuopt catalog gpus`)"),
    input_tokens: int = typer.Option(512, "--input", help="prompt tokens per request"),
    output_tokens: int = typer.Option(128, "--output", help="generated tokens per request"),
    batch: int = typer.Option(1, help="concurrent requests (a static batch)"),
    max_throughput: bool = typer.Option(False, "--max-throughput", help="pick the batch with the most tokens/s"),
    precision: str = typer.Option("fp16", help="weight precision: fp16, bf16, fp8, int8, int4"),
    kv_precision: Optional[str] = typer.Option(None, help="KV-cache precision (default 16-bit)"),
    tp: int = typer.Option(1, help="tensor-parallel GPUs"),
    engine: str = typer.Option("vllm", help="serving engine: vllm, trtllm, llama.cpp, hf"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """TTFT, TPOT, end-to-end latency and tokens/s of MODEL on GPU, with where the time goes."""
    kw = dict(precision=precision, kv_precision=kv_precision, input_tokens=input_tokens, output_tokens=output_tokens,
              tp=tp, engine=engine)
    r = run_max_throughput(model, gpu, **kw) if max_throughput else run_estimate(model, gpu, batch=batch, **kw)
    if as_json:
        return _print_json(r.model_dump())
    out.print(estimate_table(r))
    for w in r.warnings:
        err.print(f"[yellow]warning:[/] {w}", highlight=False)


@app.command("calibrate")
@_errors_to_exit
def calibrate_cmd(
    files: list[str] = typer.Argument(..., help="measurement files: gpuopt's CSV/YAML/JSON columns, `vllm bench "
                                                "serve --save-result` JSON, or GenAI-Perf's "
                                                "profile_export_genai_perf.csv"),
    engine: str = typer.Option("vllm", help="the engine profile to start from and fit"),
    model: Optional[str] = typer.Option(None, help="model id, where a benchmark file does not say"),
    gpu: Optional[str] = typer.Option(None, help="accelerator id, where a benchmark file does not say"),
    tp: Optional[int] = typer.Option(None, help="tensor-parallel GPUs, where a benchmark file does not say"),
    precision: Optional[str] = typer.Option(None, help="weight precision, where a benchmark file does not say"),
    concurrency: Optional[int] = typer.Option(None, help="GenAI-Perf's --concurrency, where its folder name does "
                                                         "not say"),
    save: Optional[str] = typer.Option(None, "--out", help="write the fitted profile as YAML (gpuopt.register_engine "
                                                         "reads it)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Fit ENGINE's timing figures to measured results (yours or a benchmark's) and show how well
    they fit; --out writes the profile to register with gpuopt.register_engine."""
    settings = {"model": model, "gpu": gpu, "n_gpu": tp, "precision": precision, "engine": engine,
                "concurrency": concurrency}
    rows = [m for f in files for m in load_measurements(f, settings={k: v for k, v in settings.items()
                                                                        if v is not None})]
    with err.status(f"fitting {engine} on {len(rows)} measurements..."):
        cal = run_calibrate(rows, engine=engine)
    figures = {f: getattr(cal.profile, f) for f in TIMING_FIELDS}
    if save:
        write_atomic(save, yaml.safe_dump(cal.profile.model_dump(), sort_keys=False))
        err.print(f"wrote {save}", highlight=False)
    if as_json:
        return _print_json({"engine": engine, "rows": cal.rows, "mape": cal.mape, "figures": figures})
    t = new_table(f"{engine} fitted on {cal.rows} measurements: in-sample MAPE {cal.mape:.1%}")
    t.add_column("figure")
    t.add_column("value", justify="right")
    for k, v in figures.items():
        t.add_row(k, f"{v:.4g}")
    out.print(t)


@app.command("validate")
@_errors_to_exit
def validate_cmd(
    csv: Optional[str] = typer.Argument(None, help="measurements CSV/YAML/JSON (default: the shipped public ones)"),
    loo: str = typer.Option("source", help="held-out estimates: 'source' (fit without the row's source), "
                                           "'model' (without the row's model), 'row' (without the row; "
                                           "small files) or 'none'"),
    rows: bool = typer.Option(False, "--rows", help="every row, not only the engine x GPU x source summary"),
    plot: Optional[str] = typer.Option(None, help="write estimate against measured, log-log, as a PNG"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """gpuopt's estimates against measured rows (default: every shipped public row): MAPE per engine
    x GPU x source, in-sample and held out (leave-one-source-out by default)."""
    with err.status("fitting engine profiles (in-sample and held out)..."):
        v = run_validate(csv, loo=False if loo == "none" else loo)
    if plot:
        err.print(f"wrote {validation_png(v, plot)}", highlight=False)
    if as_json:
        return _print_json(v.model_dump(exclude={"profiles"}))
    out.print(validation_table(v, rows=rows))


@app.command("plan")
@_errors_to_exit
def plan_cmd(
    scenario: str = typer.Argument(..., help="scenario file (YAML or JSON), e.g. examples/enterprise.yaml"),
    time_limit: float = typer.Option(60.0, help="solver time limit, seconds"),
    threads: Optional[int] = typer.Option(None, help="solver threads (1 for deterministic plans)"),
    seed: int = typer.Option(0, help="solver seed"),
    verify: bool = typer.Option(True, "--verify/--no-verify",
                                help="simulate every service in every period and tighten misses (default: on)"),
    export: Optional[str] = typer.Option(None, help="write what implements the plan: 'k8s' (manifests, "
                                                    "schedule, GPU Operator configs) or 'commands' (vllm serve "
                                                    "per node and period)"),
    namespace: str = typer.Option("gpuopt", help="namespace of the exported objects"),
    kubectl_image: str = typer.Option(KUBECTL_IMAGE, help="image of the period-switching jobs"),
    report: Optional[str] = typer.Option(None, help="write a report: out.html (self-contained) or out.md"),
    out_dir: Optional[str] = typer.Option(None, "--out", help="directory for --export"),
    as_json: bool = typer.Option(False, "--json", help="print the plan as JSON"),
) -> None:
    """Plan the fleet for SCENARIO: GPUs, splits, replicas per period, training, cost, bound, baselines."""
    scn = load_scenario(scenario)
    if export is not None and (export not in ("k8s", "commands") or not out_dir):
        raise InvalidInputError("--export takes 'k8s' or 'commands' and needs --out DIR")
    if export is not None:
        check_exportable(scn)   # before minutes of solving
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err,
                  transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task(f"planning {scn.name}: capacities")

        def show(at: PlanProgress) -> None:
            bar.update(task, description=progress_line(scn.name, at))

        p = run_plan(scn, time_limit_s=time_limit, threads=threads, seed=seed, verify=verify, progress=show)
    if export == "k8s" and p.has_plan:
        paths = export_k8s(p, scn, out_dir, namespace=namespace, kubectl_image=kubectl_image)
        err.print(f"wrote {len(paths)} manifests and README.md to {out_dir} (kubectl apply -f {out_dir})",
                  highlight=False)
    elif export == "commands" and p.has_plan:
        err.print(f"wrote {export_commands(p, scn, out_dir)}", highlight=False)
    if report:
        points = cost_against_rate(scn) if p.has_plan and report.lower().endswith((".html", ".htm")) else None
        err.print(f"wrote {write_report(p, report, points)}", highlight=False)
    if as_json:
        sys.stdout.write(p.to_json() + "\n")
    elif p.has_plan:
        for t in plan_tables(p):
            out.print(t)
    if p.status == "unsolved":
        err.print(f"[bold red]no plan yet:[/] the solver found none within --time-limit {time_limit:g} s; "
                  "raise it", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_NO_PLAN_YET)
    if p.status == "infeasible":
        for reason in p.infeasibility:
            err.print(f"[bold red]infeasible:[/] {escape(reason)}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_INFEASIBLE)


def progress_line(name: str, at: PlanProgress) -> str:
    """The live line of `gpuopt plan`: phase, then the best plan so far, its bound and gap."""
    phase = {"capacities": "confirming replica capacities", "solving": "solving",
             "verifying": "simulating the plan", "baselines": "solving the baselines",
             "bill": "writing the bill"}.get(at.phase, at.phase)
    if at.round:
        phase += f" (round {at.round + 1})"
    line = f"planning {name}: {phase}"
    if at.cost_per_hour is not None:
        line += (f" | best ${at.cost_per_hour:,.2f}/h, bound ${at.lower_bound_per_hour:,.2f}/h, "
                 f"gap {at.gap:.2%}")
    return escape(line)


def _csv(text: str, cast=str) -> list:
    try:
        return [cast(x.strip()) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InvalidInputError(f"expected a comma-separated list of {cast.__name__} values, got {text!r}") from None


@app.command("sweep")
@_errors_to_exit
def sweep_cmd(
    models: str = typer.Option(..., help="comma-separated model ids"),
    gpus: str = typer.Option(..., help="comma-separated accelerator ids"),
    precisions: str = typer.Option("fp16", help="comma-separated precisions"),
    batches: str = typer.Option("1,8,32,128", help="comma-separated batch sizes"),
    tps: str = typer.Option("1", help="comma-separated tensor-parallel degrees"),
    input_tokens: str = typer.Option("512", "--input", help="comma-separated prompt lengths"),
    output_tokens: str = typer.Option("128", "--output", help="comma-separated output lengths"),
    sharing: str = typer.Option("none", help="none, mig or all (MIG slices and time shares too)"),
    top: int = typer.Option(20, help="rows of the Pareto front to print"),
    plot: Optional[str] = typer.Option(None, help="write the Pareto front as a PNG"),
    as_json: bool = typer.Option(False, "--json", help="print the Pareto front as JSON"),
    stream: bool = typer.Option(False, "--stream", help="keep only the front while evaluating: memory stays flat "
                                                        "however many configurations (no verdict counts)"),
) -> None:
    """Every configuration fitted, timed and priced; the Pareto front of $/hour, latency and tokens/s."""
    with err.status("sweeping..."):
        r = run_sweep(_csv(models), _csv(gpus), precisions=_csv(precisions), batches=_csv(batches, int),
                  tps=_csv(tps, int), input_tokens=_csv(input_tokens, int), output_tokens=_csv(output_tokens, int),
                  sharing=sharing, keep="pareto" if stream else "all")
    front = sorted(range(r.size) if stream else r.pareto(), key=lambda i: r["usd_per_hour"][i])
    rows = [r.row(int(i)) for i in front]
    if plot:
        err.print(f"wrote {pareto_png(r, front, plot)}", highlight=False)
    if as_json:
        return _print_json({"configurations": r.evaluated, "verdicts": None if stream else r.verdict_counts(),
                            "pareto": rows})
    t = new_table(f"Pareto front of {r.evaluated:,} configurations (min $/hour, min e2e, max tokens/s)")
    for col in ("model", "slot", "prec", "tp", "batch", "$/hour", "e2e ms", "tok/s", "tokens/$"):
        t.add_column(col, justify="left" if col in ("model", "slot", "prec") else "right")
    for row in rows[:top]:
        t.add_row(row["model"], row["slot"], row["precision"], str(row["tp"]), str(row["batch"]),
                  f"{row['usd_per_hour']:.2f}", f"{row['e2e_ms']:,.0f}", f"{row['output_tokens_per_s']:,.0f}",
                  f"{row['tokens_per_usd']:,.0f}")
    out.print(t)


@app.command("mixes")
@_errors_to_exit
def mixes_cmd(
    gpus: list[str] = typer.Argument(..., help="GPU types to mix"),
    model: str = typer.Option(..., help="model whose throughput each GPU type brings"),
    max_gpus: int = typer.Option(8, help="most GPUs in a mix"),
    budget: Optional[float] = typer.Option(None, help="most $/hour a mix may cost"),
    precision: str = typer.Option("fp16", help="weight precision"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Every mix of GPU types up to a count or budget: the cost / throughput Pareto front."""
    with err.status("enumerating mixes..."):
        m = run_mixes(gpus, max_gpus=max_gpus, budget_usd_per_hour=budget, model=model, precision=precision)
    if as_json:
        return _print_json(m.model_dump())
    t = new_table(f"{m.enumerated:,} mixes; Pareto front ({m.throughput_unit})")
    for col in ("mix", "$/hour", "throughput", "memory GB", "power W"):
        t.add_column(col, justify="left" if col == "mix" else "right")
    for row in m.mixes:
        t.add_row(" + ".join(f"{n}x {g}" for g, n in row.counts.items()), f"{row.usd_per_hour:.2f}",
                  f"{row.throughput:,.0f}", f"{row.memory_gb:,.0f}", f"{row.power_w:,.0f}")
    out.print(t)


@app.command("simulate")
@_errors_to_exit
def simulate_cmd(
    model: str = typer.Argument(..., help="model id"),
    gpu: str = typer.Argument(..., help="accelerator id"),
    rate: float = typer.Option(..., help="Poisson arrivals, requests/s"),
    duration: float = typer.Option(300.0, help="seconds of arrivals"),
    input_tokens: int = typer.Option(512, "--input", help="prompt tokens per request"),
    output_tokens: int = typer.Option(128, "--output", help="output tokens per request"),
    replicas: int = typer.Option(1, help="replicas behind the router"),
    router: str = typer.Option("least-loaded", help="least-loaded or round-robin"),
    precision: str = typer.Option("fp16", help="weight precision"),
    tp: int = typer.Option(1, help="tensor-parallel GPUs per replica"),
    engine: str = typer.Option("vllm", help="serving engine"),
    seed: int = typer.Option(0, help="random seed"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Discrete-event simulation of serving: p50/p95/p99 latency, throughput, utilization, queues."""
    with err.status("simulating..."):
        r = run_simulate(model, gpu, rate=rate, duration_s=duration, requests=(input_tokens, output_tokens),
                     replicas=replicas, router=router, precision=precision, tp=tp, engine=engine, seed=seed)
    if as_json:
        return _print_json(r.model_dump())
    t = new_table(f"{r.requests_completed:,} requests simulated: {r.throughput_rps:.2f} req/s, "
                  f"{r.output_tokens_per_s:,.0f} tokens/s, {r.utilization:.0%} busy")
    for col in ("ms", "p50", "p95", "p99", "mean"):
        t.add_column(col, justify="left" if col == "ms" else "right")
    for name, pct in (("TTFT", r.ttft_ms), ("TPOT", r.tpot_ms), ("end-to-end", r.e2e_ms), ("queue wait", r.wait_ms)):
        t.add_row(name, *("-" if getattr(pct, q) is None else f"{getattr(pct, q):,.1f}"
                          for q in ("p50", "p95", "p99", "mean")))
    out.print(t)
    if r.overload:
        err.print(f"warning: {r.overload}", markup=False)


@app.command("batch")
@_errors_to_exit
def batch_cmd(
    directory: str = typer.Argument(..., help="folder of scenario files (YAML or JSON)"),
    out_file: str = typer.Option("results.jsonl", "--out", help="JSON-lines file the results stream to"),
    workers: Optional[int] = typer.Option(None, help="local worker processes (default: one per core)"),
    scheduler: Optional[str] = typer.Option(None, help="Dask scheduler address, e.g. tcp://host:8786"),
    time_limit: float = typer.Option(60.0, help="solver time limit per scenario, seconds"),
    retries: int = typer.Option(2, help="attempts repeated for a scenario whose worker crashed or died"),
    job_timeout: Optional[float] = typer.Option(None, help="stop a local worker with no answer after this many "
                                                           "seconds (default: 10 x the time limit, >= limit + 120)"),
    verify: bool = typer.Option(True, "--verify/--no-verify", help="check each plan by simulation and tighten "
                                                                   "until it holds (the default)"),
) -> None:
    """Plan every scenario in DIRECTORY in parallel, each result recorded once in --out.

    Rerunning the same command resumes: scenarios already recorded are skipped, failed ones are
    retried. Exit code 0 when every scenario has a result, 4 when some failed every attempt (rerun
    to retry them) or the results could not be written."""
    files = batch.scenario_files(directory)
    executor, client = None, None
    if scheduler:
        try:
            from dask.distributed import Client
        except ImportError:
            raise InvalidInputError("--scheduler needs Dask: pip install 'gpuopt[dask]'") from None
        try:
            client = Client(scheduler, timeout=10)
        except (OSError, TimeoutError, ValueError) as e:
            raise InvalidInputError(f"--scheduler {scheduler}: cannot reach a Dask scheduler there ({e}); check the "
                                    "address (tcp://host:8786) and that the scheduler is running") from None
        executor = client.get_executor()
    try:
        with Progress(console=err, transient=True) as progress:
            task = progress.add_task("planning", total=None)

            def started(summary) -> None:
                for note in summary.notes:
                    err.print(f"[yellow]warning:[/] {escape(note)}", highlight=False, soft_wrap=True)
                progress.update(task, total=summary.todo)

            def finished(record) -> None:
                if record["outcome"] != batch.FAILED:
                    progress.advance(task)
                else:
                    retry = "retrying" if record["will_retry"] else "giving up for this run"
                    err.print(f"[yellow]failed:[/] {escape(record['source'])}: {escape(record['error'])} ({retry})",
                              highlight=False, soft_wrap=True)

            summary = batch.run(files, out=out_file, executor=executor, workers=workers, time_limit_s=time_limit,
                                retries=retries, job_timeout_s=job_timeout, verify=verify, on_start=started, on_result=finished)
    finally:
        if client is not None:
            client.close()
    err.print(escape(summary.line()), highlight=False, soft_wrap=True)
    if summary.failed:
        raise typer.Exit(EXIT_INCOMPLETE)


@app.command("schema")
@_errors_to_exit
def schema_cmd(out_file: Optional[str] = typer.Argument(None, help="file to write (default: standard output)")) -> None:
    """Write the JSON Schema of scenario files, for editors to complete and check them."""
    text = json.dumps(Scenario.model_json_schema(), indent=2) + "\n"
    if out_file:
        write_atomic(out_file, text)
    else:
        sys.stdout.write(text)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
