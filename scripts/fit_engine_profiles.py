"""Refits the shipped engines' timing figures on the shipped public measurements and writes
python/gpuopt/data/engine_timing.yaml. Run after changing the estimator or the measurements:

    python scripts/fit_engine_profiles.py

The rows: data/measured_calibration.csv (each with its source) and the rows of Argonne's
LLM-Inference-Bench gpuopt can model (gpuopt.estimation.public.argonne). Each engine is fitted on
its own rows only: no engine borrows another's timing. tests/test_calibration.py checks that the
shipped file is what this script writes.
"""

from pathlib import Path

import yaml

from gpuopt.estimation.calibration import calibrate, figures_of
from gpuopt.estimation.public import shipped

OUT = Path(__file__).resolve().parents[1] / "python" / "gpuopt" / "data" / "engine_timing.yaml"


def fitted_profiles() -> dict[str, dict]:
    rows = shipped()
    out = {}
    for name in sorted({r.engine for r in rows}):
        group = [r for r in rows if r.engine == name]
        cal = calibrate(group, engine=name)
        figures = {f: float(f"{getattr(cal.profile, f):.4g}") for f in figures_of(cal.profile)}
        sources = sorted({r.source.split(" (")[0] for r in group})
        figures["calibration"] = (f"fitted on {cal.rows} public rows ({'; '.join(sources)}); "
                                  f"in-sample MAPE {cal.mape:.1%}")
        out[name] = figures
    return out


def main() -> None:
    header = ("# Written by scripts/fit_engine_profiles.py: timing figures fitted by least squares on\n"
              "# data/measured_calibration.csv and Argonne's LLM-Inference-Bench (data/argonne_llm_inference_bench.csv,\n"
              "# see gpuopt.estimation.public). Do not edit by hand.\n")
    OUT.write_text(header + yaml.safe_dump(fitted_profiles(), sort_keys=True, width=120))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
