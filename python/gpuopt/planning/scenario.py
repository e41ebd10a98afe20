"""The planner's input: sites with GPUs to own, buy or rent; services with demand per period and
SLOs; training jobs with windows and deadlines. Loadable from YAML (safe) or JSON, validated by
pydantic; `Scenario.model_json_schema()` is what editors complete scenario files against."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
from typing import Annotated, Literal, Optional, Union

from pydantic import ConfigDict, Field, field_validator, model_validator

from gpuopt.estimation.capacity import MAX_TOKENS, SLO, RequestClass, _requests
from gpuopt.catalog import gpus, models, suggest
from gpuopt.cost import MAX_GPUS, price   # GPUs of one offer, replicas of one service
from gpuopt.errors import CheckedModel, InvalidInputError, ModelInputError
from gpuopt.schema_check import problems as schema_problems
from gpuopt.user_files import load_tree, read_bytes
from gpuopt.schema import Precision


class _Strict(CheckedModel):
    # every number finite: an infinite rate was planned "optimal" with 1.5e18 replicas, a NaN
    # capacity "optimal" with none, and infinite prices came back as "infeasible"
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


Name = Annotated[str, Field(min_length=1, max_length=200)]
MAX_TP = 1024  # GPUs of one tensor-parallel replica
MAX_USD = 1e9  # any one price: past any GPU's, short of sums that overflow
MAX_RATE = 1e7  # req/s of one service: far past any fleet, short of numbers that overflow replica counts
Rate = Annotated[float, Field(ge=0, le=MAX_RATE, allow_inf_nan=False)]
Tokens = Annotated[int, Field(ge=1, le=MAX_TOKENS)]
Weight = Annotated[float, Field(ge=0, allow_inf_nan=False)]
# what `requests:` takes: a RequestClass, (input, output) tokens, or [(input, output[, weight]), ...]
Requests = Union[RequestClass, tuple[Tokens, Tokens], list[Union[tuple[Tokens, Tokens], tuple[Tokens, Tokens, Weight]]]]
# an SLO a service states has at least one bound (an empty one would plan replicas at saturation)
SLO_BOUNDS = ("ttft_p95_ms", "tpot_p95_ms", "e2e_p95_ms")
SLO_GIVEN = {"anyOf": [{"required": [b], "properties": {b: {"type": "number"}}} for b in SLO_BOUNDS]}


class GpuOffer(_Strict):
    """GPUs of one type at a site: already owned (sunk), purchasable, and/or rentable by the hour."""

    type: str = Field(description="accelerator id, e.g. a100-sxm-80gb")
    owned: int = Field(0, ge=0, le=MAX_GPUS, description="GPUs already owned: no capex, still power and licences")
    max_purchase: Optional[int] = Field(None, ge=0, le=MAX_GPUS, description="most GPUs that may be bought (None: no limit)")
    capex_usd: Optional[float] = Field(None, ge=0, le=MAX_USD, description="price per GPU (default: the catalog's)")
    amortization_years: float = Field(3.0, gt=0, le=100)
    rent_usd_per_hour: Optional[float] = Field(None, ge=0, le=MAX_USD, description="cloud price per GPU-hour; None: not rentable")
    max_rent: Optional[int] = Field(None, ge=0, le=MAX_GPUS)
    gpus_per_node: int = Field(8, ge=1, le=64, description="GPUs in one server (node) of this type: how the export "
                                                           "lays MIG layouts, time shares and tensor-parallel "
                                                           "replicas onto nodes")


class Site(_Strict):
    name: Name
    kind: Literal["on-prem", "cloud"] = "on-prem"
    gpus: list[GpuOffer] = Field(min_length=1)
    usd_per_kwh: float = Field(0.12, ge=0, le=MAX_USD)
    pue: float = Field(1.4, ge=1, le=10)
    load: float = Field(0.7, ge=0, le=1, description="average power draw as a share of TDP")
    licence_usd_per_gpu_year: float = Field(0.0, ge=0, le=MAX_USD, description="per GPU owned or rented (e.g. an AI suite)")
    sharing_licence_usd_per_gpu_year: float = Field(0.0, ge=0, le=MAX_USD, description="extra per time-sliced GPU (e.g. Run:AI)")


class Period(_Strict):
    name: Name
    hours: float = Field(gt=0, le=24, description="hours of this period on each day it occurs")
    days_per_week: float = Field(7.0, gt=0, le=7, description="days a week it occurs (5: weekdays, 2: weekends); "
                                                              "its weight is hours x days_per_week / 7 per day")
    start: Optional[str] = Field(None, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
                                 description="local time it begins, 'HH:MM' in the scenario's timezone (what the "
                                             "exported schedule switches on; needed with more than one period)")
    days: Optional[str] = Field(None, pattern=r"^[0-6](-[0-6])?(,[0-6](-[0-6])?)*$",
                                description="cron days of the week it begins on (0 = Sunday), e.g. '1-5'; None: every "
                                            "day for 7 days a week, '1-5' for 5, '0,6' for 2")

    @property
    def hours_per_day(self) -> float:
        """Its average hours per day of the week: its weight in the cycle."""
        return self.hours * self.days_per_week / 7.0


class Service(_Strict):
    name: Name
    model: str
    precisions: list[Precision] = Field(default_factory=lambda: ["fp16"], min_length=1)
    engine: str = "vllm"
    rate: Union[Rate, dict[str, Rate]] = Field(description="requests/s, one figure or one per period")
    requests: Requests = Field((512, 128), validate_default=True,
                               description="(input, output) tokens or weighted buckets")
    slo: SLO = Field(SLO(), json_schema_extra=SLO_GIVEN,
                     description="p95 limits, at least one; left out: replicas are planned at saturation")
    sites: Optional[list[str]] = Field(None, description="sites allowed to serve it (data locality); None: any")
    min_replicas: int = Field(1, ge=0, le=MAX_GPUS, description="replicas kept in every period (availability)")
    redundancy: Literal["none", "n+1"] = Field("none", description="n+1: in every period the replicas left after "
                                                                  "losing any one of them still carry the demand")
    checkpoints: dict[Precision, str] = Field(
        default_factory=dict, description="Hugging Face repository of a checkpoint per precision, e.g. {int4: "
                                          "'hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4'}: int4 and int8 "
                                          "need one to be exported (vLLM reads its quantization from it)")
    beyond_context: bool = Field(False, description="plan requests longer than the model's trained context anyway "
                                                    "(e.g. with RoPE scaling); a warning says so")
    tps: Optional[list[Annotated[int, Field(ge=1, le=MAX_TP)]]] = Field(None, min_length=1, description="tensor-parallel degrees a replica may use; None: 1, 2, 4, 8")
    measured: Optional[dict[str, Annotated[float, Field(gt=0, le=MAX_RATE, allow_inf_nan=False)]]] = Field(
        None, description="req/s one replica sustains under the SLO, overriding the simulator: by GPU type (a "
                          "whole-GPU tp=1 replica; other slots of that GPU scale with it) or by slot id "
                          "(a100-sxm-80gb/3g.40gb, h100-sxm@tp2)")
    headroom: Optional[float] = Field(None, ge=0, lt=1, description="share of each replica's capacity kept free; "
                                                                     "None: the scenario's")

    @field_validator("requests")
    @classmethod
    def _request_class(cls, v):
        return _requests(v)

    @field_validator("slo")
    @classmethod
    def _some_bound(cls, v: SLO):
        if v.row() == (float("inf"),) * 3:
            raise ValueError(f"give at least one of {', '.join(SLO_BOUNDS)} (or leave slo out to plan replicas at "
                             "saturation)")
        return v

    @property
    def longest_request_tokens(self) -> int:
        """Input + output tokens of its longest request bucket (against the model's context)."""
        return max(b.input_tokens + b.output_tokens for b in self.requests.buckets)


class TrainingJob(_Strict):
    name: Name
    gpu_hours: float = Field(gt=0, le=1e9, description="GPU-hours on the reference GPU")
    reference_gpu: str = "a100-sxm-80gb"
    memory_gb: float = Field(0.0, ge=0, le=1e6, description="memory each GPU needs")
    min_gpus: int = Field(1, ge=1, le=MAX_GPUS)
    periods: Optional[list[str]] = Field(None, description="periods it may run in (e.g. nights); None: any")
    sites: Optional[list[str]] = None
    burst_usd_per_gpu_hour: Optional[float] = Field(None, ge=0, le=MAX_USD, description="cloud burst price per reference GPU-hour")
    rented_gpus: bool = Field(False, description="may also run on the sites' rented GPUs, each at its hourly price "
                                                 "(otherwise on GPUs owned or bought only)")
    deadline_days: float = Field(30.0, gt=0, le=3650, description="it must finish within this many days")
    image: Optional[str] = Field(None, description="container image that runs it (exported as a CronJob per window; "
                                                   "None: its GPUs are left free for it)")
    command: Optional[list[str]] = Field(None, description="the container's command; it must resume from its own "
                                                           "checkpoints, since each window ends it")


class Stability(_Strict):
    """What changing how services are served costs at a period change (docs/formulation.md,
    "Stability"): the planner then keeps replicas and MIG layouts in place where the saving of
    moving them is smaller than this."""

    usd_per_replica_start: float = Field(0.0, ge=0, le=1e6, description="$ per replica started when a period begins "
                                                                        "(model load, warm-up, lost cache)")
    usd_per_mig_repartition: float = Field(0.0, ge=0, le=1e6, description="$ per GPU put into a MIG layout it did not "
                                                                          "have in the period before (drain, "
                                                                          "repartition, reload)")


class Scenario(_Strict):
    name: Name = "scenario"
    periods: list[Period] = Field(default_factory=lambda: [Period(name="all", hours=24.0)], min_length=1)
    sites: list[Site] = Field(min_length=1)
    services: list[Service] = Field(default_factory=list)
    training: list[TrainingJob] = Field(default_factory=list)
    sharing: Literal["none", "mig", "all"] = "all"
    fractions: int = Field(3, ge=2, le=8, description="most replicas time-slicing one GPU")
    headroom: float = Field(0.0, ge=0, lt=1, description="share of each replica's capacity kept free (0.2: plan "
                                                          "replicas at 80 % of the rate they sustain under the SLO)")
    capacities: Literal["simulated", "closed-form"] = Field(
        "simulated", description="simulated: each replica's rate is the one the simulator confirms (plans that "
                                 "hold); closed-form: the queueing formula alone (fast, optimistic for long prompts "
                                 "and mixed sizes; for solver scale tests)")
    timezone: str = Field("UTC", description="IANA time zone of the periods' start times (e.g. Europe/Berlin)")
    stability: Optional[Stability] = Field(None, description="a price on replica starts and MIG repartitions between "
                                                             "consecutive periods (None: changes are free)")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v):
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}: give an IANA name such as UTC or Europe/Berlin") from None
        return v

    @model_validator(mode="after")
    def _references(self):
        known_gpus, known_models = gpus(), models()
        for i, site in enumerate(self.sites):
            for j, o in enumerate(site.gpus):
                if o.type not in known_gpus:
                    raise ValueError(f"sites.{i}.gpus.{j}.type: unknown gpu {o.type!r}; did you mean "
                                     f"{', '.join(suggest(o.type, known_gpus)) or 'one of ' + ', '.join(known_gpus)}?")
                if o.max_purchase != 0 and o.capex_usd is None and price(o.type, "capex") is None:
                    # buying it would otherwise look free
                    raise ValueError(f"sites.{i}.gpus.{j}.capex_usd: {o.type} may be bought at {site.name!r} but the "
                                     "catalog has no purchase price for it; give capex_usd, or max_purchase: 0")
        for i, sv in enumerate(self.services):
            if sv.model not in known_models:
                raise ValueError(f"services.{i}.model: unknown model {sv.model!r}; did you mean "
                                 f"{', '.join(suggest(sv.model, known_models)) or ', '.join(known_models)}?")
        for i, sv in enumerate(self.services):
            longest = sv.longest_request_tokens
            trained = known_models[sv.model].max_context
            if longest > trained and not sv.beyond_context:
                raise ValueError(f"services.{i}.requests: requests of up to {longest:,} tokens (input + output) exceed "
                                 f"{sv.model}'s trained context of {trained:,}; shorten them, choose a model with a "
                                 "longer context, or set beyond_context: true to plan them anyway")
        per_week = sum(p.hours * p.days_per_week for p in self.periods)
        if per_week > 7 * 24 * (1 + 1e-9):
            raise ValueError(f"periods: hours x days_per_week sum to {per_week:g} a week, more than 168 "
                             f"({per_week / 7:g} hours a day); shorten the periods or give days_per_week")
        periods = {p.name for p in self.periods}
        sites = {s.name for s in self.sites}
        for what, names in (("periods", [p.name for p in self.periods]), ("sites", [s.name for s in self.sites]),
                            ("services", [sv.name for sv in self.services]),
                            ("training", [j.name for j in self.training])):
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"{what}: names must be unique; {', '.join(map(repr, twice))} appear more than once")
        for sv in self.services:
            if isinstance(sv.rate, dict) and set(sv.rate) != periods:
                raise ValueError(f"service {sv.name!r}: rate must name every period ({', '.join(sorted(periods))})")
            for s in sv.sites or []:
                if s not in sites:
                    raise ValueError(f"service {sv.name!r}: unknown site {s!r} (sites: {', '.join(sorted(sites))})")
        for i, sv in enumerate(self.services):
            if sv.redundancy == "n+1":
                usable = [s for s in self.sites if not sv.sites or s.name in sv.sites]
                most = sum(_most_gpus(o) for s in usable for o in s.gpus)
                if most <= 1:
                    raise ValueError(f"services.{i}.redundancy: n+1 needs a second GPU to fail over to, but the sites "
                                     f"it may use ({', '.join(s.name for s in usable)}) hold at most one; allow "
                                     "another site, or more GPUs (max_purchase, max_rent)")
        for j in self.training:
            for p in j.periods or []:
                if p not in periods:
                    raise ValueError(f"training job {j.name!r}: unknown period {p!r}")
            for s in j.sites or []:
                if s not in sites:
                    raise ValueError(f"training job {j.name!r}: unknown site {s!r}")
        return self

    @property
    def cycle_hours(self) -> float:
        """Hours of one cycle of the periods: a day of the week on average."""
        return sum(p.hours_per_day for p in self.periods)

    def transitions_per_day(self) -> list[float]:
        """How often, per average day, each period begins right after the one listed before it
        (cyclically): once a day where both occur every day; min(days_per_week of the two) / 7
        where they do not (a weekday period after a weekend one: at most as often as the rarer)."""
        ps = self.periods
        return [min(ps[j - 1].days_per_week, ps[j].days_per_week) / 7.0 for j in range(len(ps))]

    def rate(self, service: Service, period: str) -> float:
        return float(service.rate[period] if isinstance(service.rate, dict) else service.rate)


def _most_gpus(o: GpuOffer) -> float:
    """The most GPUs of an offer a plan could use (inf: no limit)."""
    buy = float("inf") if o.max_purchase is None else o.max_purchase
    rent = 0.0 if o.rent_usd_per_hour is None else (float("inf") if o.max_rent is None else o.max_rent)
    return o.owned + buy + rent


@lru_cache(maxsize=1)
def scenario_schema() -> dict:
    """The JSON Schema of scenario files (`gpuopt schema`): the loader checks files against it."""
    return Scenario.model_json_schema()


def load_scenario(path: Union[str, Path]) -> Scenario:
    """A Scenario from a YAML or JSON file, with errors that name the key and what it expects."""
    return parse_scenario(read_bytes(path, "scenario"), str(path))


def parse_scenario(data: Union[bytes, str], source: str) -> Scenario:
    """A Scenario from the content of a file named `source` (JSON if it ends in .json, else YAML);
    errors name `source`, the key and what it expects."""
    tree = load_tree(data, source)
    if not isinstance(tree, dict):
        raise InvalidInputError(f"{source} must hold a mapping (sites:, services:, ...), got {type(tree).__name__}")
    # the published schema first (what editors check against), then the rules across keys
    found = schema_problems(tree, scenario_schema())
    if found:
        raise InvalidInputError(f"{source}: {'; '.join(found)}")
    try:
        return Scenario.model_validate(tree)
    except ModelInputError as e:
        raise InvalidInputError(f"{source}: {e.problems}") from None


__all__ = ["scenario_schema", "GpuOffer", "Period", "Scenario", "Service", "Site", "Stability", "TrainingJob", "load_scenario", "parse_scenario"]
