"""Refits the shipped engines' timing figures on the shipped measurements and writes
python/gpuopt/data/engine_timing.yaml. Run after changing the estimator or the measurements:

    python scripts/fit_engine_profiles.py

tests/test_calibrate.py checks that the shipped file is what this script writes (within rounding).
"""

from pathlib import Path

import yaml

from gpuopt.estimation.calibration import FITTED, calibrate, load_measurements

OUT = Path(__file__).resolve().parents[1] / "python" / "gpuopt" / "data" / "engine_timing.yaml"


def fitted_profiles() -> dict[str, dict]:
    rows = load_measurements()
    out = {}
    for name in sorted({r.engine for r in rows}):
        group = [r for r in rows if r.engine == name]
        cal = calibrate(group, engine=name)
        figures = {f: float(f"{getattr(cal.profile, f):.4g}") for f in FITTED}
        sources = sorted({r.source.split()[0] for r in group})
        figures["calibration"] = (f"fitted on {cal.rows} rows of measured_calibration.csv ({', '.join(sources)}); "
                                  f"in-sample MAPE {cal.mape:.1%}")
        out[name] = figures
    return out


def main() -> None:
    header = ("# Written by scripts/fit_engine_profiles.py: timing figures fitted by least squares on\n"
              "# data/measured_calibration.csv (see gpuopt.estimation.calibration). Do not edit by hand.\n")
    OUT.write_text(header + yaml.safe_dump(fitted_profiles(), sort_keys=True, width=120))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
