//! Sweeps of every configuration, Pareto fronts, and mixes of GPU types.

use gpuopt_core::gpu::GPU_FIELDS;
use gpuopt_core::mixes;
use gpuopt_core::sweep;
use numpy::{IntoPyArray, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;

use crate::detach::{filled_array, run_detached, run_interruptible};
use crate::errors::IntoPyResult;
use crate::tables::{engine_table, model_table, rows, slice};

/// The sweep's inputs, checked and borrowed.
#[allow(clippy::too_many_arguments)]
fn sweep_inputs<'py, 'a>(
    models: &PyReadonlyArray2<'py, i64>,
    slots: &PyReadonlyArray2<'py, f64>,
    engines: &PyReadonlyArray2<'py, f64>,
    axes: [&'a PyReadonlyArray1<'py, i64>; 9],
    slot_engine: Option<&'a PyReadonlyArray2<'py, i64>>,
) -> PyResult<(Vec<gpuopt_core::ModelArch>, Vec<sweep::SweepSlot>, Vec<gpuopt_core::EngineProfile>, sweep::SweepAxes<'a>)> {
    let models = model_table(models)?;
    let slots = rows("slots", slots, GPU_FIELDS.len() + sweep::SLOT_EXTRA_FIELDS.len())?
        .map(sweep::SweepSlot::from_row)
        .collect::<Result<Vec<_>, _>>()
        .py()?;
    let engines = engine_table(engines)?;
    let [model, slot, engine, precision, kv_precision, tp, batch, input, output] = axes;
    let axes = sweep::SweepAxes {
        model: slice("model", model)?,
        slot: slice("slot", slot)?,
        engine: slice("engine", engine)?,
        precision: slice("precision", precision)?,
        kv_precision: slice("kv_precision", kv_precision)?,
        tp: slice("tp", tp)?,
        batch: slice("batch", batch)?,
        input: slice("input", input)?,
        output: slice("output", output)?,
        slot_engine: match slot_engine {
            Some(table) => Some(table.as_slice().map_err(|_| crate::errors::invalid_input("slot_engine must be a contiguous int64 array"))?),
            None => None,
        },
    };
    Ok((models, slots, engines, axes))
}

/// Full-factorial sweep: tables (slots are GPU rows plus $/hour and request delay), then one
/// axis per input; an n x len(SWEEP_COLUMNS) array, last axis fastest. `slot_engine` (slots x
/// engine axis, engine rows): each slot's own build of each engine, in one call.
#[pyfunction]
#[pyo3(signature = (models, slots, engines, model, slot, engine, precision, kv_precision, tp, batch, input, output, slot_engine=None))]
#[allow(clippy::too_many_arguments)]
pub fn sweep_grid<'py>(
    py: Python<'py>,
    models: PyReadonlyArray2<'py, i64>,
    slots: PyReadonlyArray2<'py, f64>,
    engines: PyReadonlyArray2<'py, f64>,
    model: PyReadonlyArray1<'py, i64>,
    slot: PyReadonlyArray1<'py, i64>,
    engine: PyReadonlyArray1<'py, i64>,
    precision: PyReadonlyArray1<'py, i64>,
    kv_precision: PyReadonlyArray1<'py, i64>,
    tp: PyReadonlyArray1<'py, i64>,
    batch: PyReadonlyArray1<'py, i64>,
    input: PyReadonlyArray1<'py, i64>,
    output: PyReadonlyArray1<'py, i64>,
    slot_engine: Option<PyReadonlyArray2<'py, i64>>,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let axes = [&model, &slot, &engine, &precision, &kv_precision, &tp, &batch, &input, &output];
    let (models, slots, engines, axes) = sweep_inputs(&models, &slots, &engines, axes, slot_engine.as_ref())?;
    let n = sweep::sweep_rows(&axes).py()?;
    filled_array(py, n, sweep::SWEEP_COLUMNS.len(), |flat| sweep::sweep_grid_into(&models, &slots, &engines, &axes, flat))
}

/// As sweep_grid, reduced while evaluated so memory stays flat; `axes` are sweep_grid's nine axis
/// arrays, in its order. `keep` is ("pareto", [(column, sign), ...]) or ("top", column, sign, k)
/// (sign 1 minimises, -1 maximises). Returns (row indices ascending, their n x
/// len(SWEEP_COLUMNS) values).
#[pyfunction]
#[pyo3(signature = (models, slots, engines, axes, keep, feasible_only, slot_engine=None))]
pub fn sweep_keep<'py>(
    py: Python<'py>,
    models: PyReadonlyArray2<'py, i64>,
    slots: PyReadonlyArray2<'py, f64>,
    engines: PyReadonlyArray2<'py, f64>,
    axes: Vec<PyReadonlyArray1<'py, i64>>,
    keep: &Bound<'py, pyo3::types::PyTuple>,
    feasible_only: bool,
    slot_engine: Option<PyReadonlyArray2<'py, i64>>,
) -> PyResult<(Bound<'py, numpy::PyArray1<i64>>, Bound<'py, PyArray2<f64>>)> {
    let kind: String = keep.get_item(0)?.extract()?;
    let keep = match kind.as_str() {
        "pareto" => sweep::Keep::Pareto(keep.get_item(1)?.extract()?),
        "top" => sweep::Keep::Top { column: keep.get_item(1)?.extract()?, sign: keep.get_item(2)?.extract()?, k: keep.get_item(3)?.extract()? },
        other => return Err(crate::errors::invalid_input(format!("keep {other:?} is not pareto or top"))),
    };
    let [model, slot, engine, precision, kv_precision, tp, batch, input, output] = &axes[..] else {
        return Err(crate::errors::invalid_input(format!("a sweep has 9 axes, got {}", axes.len())));
    };
    let axes = [model, slot, engine, precision, kv_precision, tp, batch, input, output];
    let (models, slots, engines, axes) = sweep_inputs(&models, &slots, &engines, axes, slot_engine.as_ref())?;
    let (index, flat) = run_interruptible(py, || sweep::sweep_keep(&models, &slots, &engines, &axes, &keep, feasible_only))?;
    let n = index.len();
    let index: Vec<i64> = index.into_iter().map(|i| i as i64).collect();
    Ok((index.into_pyarray(py), flat.into_pyarray(py).reshape([n, sweep::SWEEP_COLUMNS.len()])?))
}

/// Indices of the non-dominated rows; every column is minimised (negate to maximise).
#[pyfunction]
pub fn pareto_front<'py>(py: Python<'py>, objectives: Vec<PyReadonlyArray1<'py, f64>>) -> PyResult<Bound<'py, numpy::PyArray1<i64>>> {
    let cols: Vec<&[f64]> = objectives.iter().map(|c| slice("objective", c)).collect::<PyResult<_>>()?;
    let front = run_detached(py, || sweep::pareto(&cols))?;
    Ok(front.into_iter().map(|i| i as i64).collect::<Vec<i64>>().into_pyarray(py))
}

/// Pareto front (min $/hour, max throughput) of every mix of GPU types. `types` rows are
/// (usd_per_hour, memory_bytes, throughput, power_w). Returns (counts, totals, enumerated, feasible)
/// with totals rows (usd_per_hour, memory_bytes, throughput, power_w).
#[pyfunction]
#[allow(clippy::type_complexity)]
pub fn mix_front<'py>(
    py: Python<'py>,
    types: Vec<(f64, f64, f64, f64)>,
    max_gpus: u32,
    budget: f64,
    min_memory_bytes: f64,
    min_throughput: f64,
) -> PyResult<(Bound<'py, PyArray2<u32>>, Bound<'py, PyArray2<f64>>, u64, u64)> {
    let types: Vec<mixes::MixType> = types
        .into_iter()
        .map(|(usd_per_hour, memory_bytes, throughput, power_w)| mixes::MixType { usd_per_hour, memory_bytes, throughput, power_w })
        .collect();
    let limits = mixes::MixLimits { max_gpus, budget, min_memory_bytes, min_throughput };
    let k = types.len();
    let r = run_interruptible(py, || mixes::mixes(&types, limits))?;
    let n = r.front.len();
    let counts: Vec<u32> = r.front.iter().flat_map(|m| m.counts.iter().copied()).collect();
    let totals: Vec<f64> = r.front.iter().flat_map(|m| [m.usd_per_hour, m.memory_bytes, m.throughput, m.power_w]).collect();
    Ok((counts.into_pyarray(py).reshape([n, k])?, totals.into_pyarray(py).reshape([n, 4])?, r.enumerated, r.feasible))
}
