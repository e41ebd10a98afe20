"""gpuopt: which GPUs to buy or rent, how to split them, and where each LLM service runs.

    >>> import gpuopt
    >>> gpuopt.fit("llama-2-7b", "a100-40gb", batch=4, context=2048).verdict
    'fits'
"""

from gpuopt import _core
from gpuopt.catalog import (
    engine,
    engines,
    gpu,
    gpus,
    mig_profiles,
    model,
    model_from_hf_config,
    models,
    prices,
    register_engine,
    register_gpu,
    register_model,
)
from gpuopt.estimation.calibration import Calibration, Measurement, Validation, calibrate, load_measurements, validate
from gpuopt.estimation.columns import VERDICTS, Categorical
from gpuopt.errors import GpuoptError, InternalError, InvalidInputError, UnknownNameError
from gpuopt.estimation.estimate import EstimateReport, EstimateResults, estimate, estimate_many, max_throughput, max_throughput_many
from gpuopt import batch
from gpuopt.output.commands import export_commands
from gpuopt.output.k8s import export_k8s
from gpuopt.estimation.fit import FitResults, fit, fit_grid, fit_many
from gpuopt.estimation.capacity import SLO, CapacityReport, CapacityResults, RequestClass, capacity, capacity_many
from gpuopt.cost import TCO, tco
from gpuopt.planning.melange import MixPlan, plan_mix
from gpuopt.planning.plans import Plan
from gpuopt.planning.planner import plan
from gpuopt.planning.scenario import GpuOffer, Period, Scenario, Service, Site, Stability, TrainingJob, load_scenario
from gpuopt.planning.synthetic import synthetic_fleet
from gpuopt.estimation.simulate import SimulationReport, simulate
from gpuopt.planning.verify import PlanCheck, simulate_plan
from gpuopt.estimation.sweep import MixFront, SweepResults, mixes, pareto, sweep
from gpuopt.estimation.sharing import Interference, Slot, fraction, mig_layouts, mig_slice, slots
from gpuopt.workers import set_threads, threads
from gpuopt.schema import PRECISIONS, Accelerator, EngineProfile, FitReport, ModelSpec, Price

__version__ = _core.__version__

__all__ = [
    "Accelerator", "Calibration", "Categorical", "EngineProfile", "EstimateReport", "EstimateResults", "FitReport",
    "FitResults", "GpuoptError", "InternalError", "InvalidInputError", "Measurement", "ModelSpec", "PRECISIONS",
    "Price", "UnknownNameError", "VERDICTS", "Validation", "Interference", "Slot", "fraction", "mig_layouts",
    "mig_slice", "slots", "TCO", "tco", "SLO", "CapacityReport", "CapacityResults", "RequestClass", "capacity",
    "capacity_many", "MixFront", "SweepResults", "mixes", "pareto", "sweep", "SimulationReport", "simulate", "PlanCheck", "simulate_plan", "MixPlan", "plan_mix", "Plan", "plan", "GpuOffer", "Period", "Scenario",
    "Service", "Site", "Stability", "TrainingJob", "load_scenario", "synthetic_fleet", "export_k8s", "export_commands", "batch",
    "calibrate", "engine", "engines", "estimate", "estimate_many", "fit", "fit_grid", "fit_many", "gpu", "gpus",
    "load_measurements", "max_throughput", "max_throughput_many", "mig_profiles", "model", "model_from_hf_config",
    "models", "prices", "register_engine", "register_gpu", "register_model", "set_threads", "threads", "validate",
]
