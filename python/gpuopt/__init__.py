"""gpuopt: which GPUs to buy or rent, how to split them, and where each LLM service runs.

    >>> import gpuopt
    >>> gpuopt.fit("llama-2-7b", "a100-40gb", batch=4, context=2048).verdict
    'fits'
"""

from . import _core
from .catalog import (
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
from .errors import GpuoptError, InternalError, InvalidInputError, UnknownNameError
from .fit import VERDICTS, Categorical, FitResults, fit, fit_grid, fit_many
from .schema import PRECISIONS, Accelerator, EngineProfile, FitReport, ModelSpec, Price

__version__ = _core.__version__

__all__ = [
    "Accelerator", "Categorical", "EngineProfile", "FitResults", "FitReport", "GpuoptError", "InternalError",
    "InvalidInputError", "ModelSpec", "PRECISIONS", "Price", "UnknownNameError", "VERDICTS",
    "engine", "engines", "fit", "fit_grid", "fit_many", "gpu", "gpus", "mig_profiles", "model",
    "model_from_hf_config", "models", "prices", "register_engine", "register_gpu", "register_model",
]
