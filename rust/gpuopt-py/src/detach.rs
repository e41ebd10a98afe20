//! Long engine calls run without the GIL on this process's worker threads (pool.rs); an engine
//! error becomes a gpuopt exception and a panic gpuopt.errors.InternalError, never an abort.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use gpuopt_core::error::CoreError;
use gpuopt_core::interrupt;
use numpy::{PyArray2, PyArrayMethods};
use pyo3::prelude::*;

use crate::errors::{internal, IntoPyResult};
use crate::pool;

pub fn run_detached<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> Result<T, CoreError> + Send,
{
    let workers = pool::pool().map_err(internal)?;
    match py.detach(|| workers.install(|| catch_unwind(AssertUnwindSafe(f)))) {
        Ok(result) => result.py(),
        Err(panic) => Err(panicked(panic)),
    }
}

/// A fresh rows x cols float64 array in numpy's own memory, filled by `fill` as [`run_detached`]
/// runs it. numpy backs large arrays with huge pages (a fresh Vec takes a page fault per 4 KiB), and
/// a failed allocation is a MemoryError rather than an abort.
pub fn filled_array<'py, F>(py: Python<'py>, rows: usize, cols: usize, fill: F) -> PyResult<Bound<'py, PyArray2<f64>>>
where
    F: FnOnce(&mut [f64]) -> Result<(), CoreError> + Send,
{
    // SAFETY: `fill` writes every element before the array is returned; on an error the array is
    // dropped unread.
    let out = unsafe { PyArray2::<f64>::new(py, [rows, cols], false) };
    {
        let mut view = out.readwrite();
        let flat = view.as_slice_mut().map_err(|e| internal(e.to_string()))?;
        run_detached(py, || fill(flat))?;
    }
    Ok(out)
}

/// As [`run_detached`], on the calling thread: for single-threaded work short enough that handing
/// it to a worker (and, on a busy machine, waiting for that worker to be scheduled) would cost more
/// than the work itself.
pub fn run_here<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> Result<T, CoreError> + Send,
{
    match py.detach(|| catch_unwind(AssertUnwindSafe(f))) {
        Ok(result) => result.py(),
        Err(panic) => Err(panicked(panic)),
    }
}

fn panicked(panic: Box<dyn Any + Send>) -> PyErr {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    internal(format!("gpuopt engine failed: {what}"))
}

/// Engine work in flight in this process; the last one to finish clears a stop request.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// How often the waiting caller looks for a signal (Ctrl-C) while the engine works.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// As [`run_detached`], for work that may run long (the simulator, capacity confirmation, mixes):
/// it runs on a scoped thread while the caller checks for signals every [`SIGNAL_POLL`]. On
/// Ctrl-C the engine's loops are asked to stop (`gpuopt_core::interrupt`) and the caller gets
/// KeyboardInterrupt once they have.
pub fn run_interruptible<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> Result<T, CoreError> + Send,
{
    let workers = pool::pool().map_err(internal)?;
    IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
    let mut signal: Option<PyErr> = None;
    let outcome = py.detach(|| {
        std::thread::scope(|scope| {
            let (done_tx, done_rx) = mpsc::channel::<()>();
            let work = scope.spawn(move || {
                let out = workers.install(|| catch_unwind(AssertUnwindSafe(f)));
                let _ = done_tx.send(());
                out
            });
            while let Err(RecvTimeoutError::Timeout) = done_rx.recv_timeout(SIGNAL_POLL) {
                if signal.is_none() {
                    if let Err(e) = Python::attach(|py| py.check_signals()) {
                        signal = Some(e);
                        interrupt::request();
                    }
                }
            }
            work.join().unwrap_or_else(Err)
        })
    });
    if IN_FLIGHT.fetch_sub(1, Ordering::SeqCst) == 1 {
        interrupt::clear();
    }
    match (outcome, signal) {
        (_, Some(e)) => Err(e),
        (Ok(result), None) => result.py(),
        (Err(panic), None) => Err(panicked(panic)),
    }
}

