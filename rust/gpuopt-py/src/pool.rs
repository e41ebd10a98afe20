//! The engine's worker threads: one pool per process and thread count. Rayon's global pool does
//! not survive `fork()`: a child inherits the pool's bookkeeping but not its threads, so its first
//! parallel call waits forever. A pool tagged with the id of the process that built it is rebuilt
//! in a forked child on its first call. Pools are leaked, never freed: a child must not touch the
//! parent's (its locks may be held by threads that no longer exist), and at most one per thread
//! count lives as long as the process anyway. Lock-free, so a fork at any moment leaves nothing locked.

use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use pyo3::prelude::*;
use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::errors::invalid_input;

/// Most worker threads a caller may ask for; 0 (the default) is RAYON_NUM_THREADS or one per core.
pub const MAX_THREADS: usize = 256;

struct Owned {
    pid: u32,
    pool: ThreadPool,
}

/// Slot n holds the pool of n threads (slot 0: the default count).
static POOLS: [AtomicPtr<Owned>; MAX_THREADS + 1] = [const { AtomicPtr::new(std::ptr::null_mut()) }; MAX_THREADS + 1];
/// The thread count engine calls run on now (0: the default).
static WANTED: AtomicUsize = AtomicUsize::new(0);

/// Sets how many worker threads later engine calls use (0: RAYON_NUM_THREADS or one per core)
/// and returns the previous setting. Results do not depend on it, only the time they take.
#[pyfunction]
pub fn set_threads(threads: usize) -> PyResult<usize> {
    if threads > MAX_THREADS {
        return Err(invalid_input(format!("threads = {threads}: at most {MAX_THREADS} (0: one per core)")));
    }
    Ok(WANTED.swap(threads, Ordering::AcqRel))
}

/// This process's pool for the thread count set now (built on first use).
pub fn pool() -> Result<&'static ThreadPool, String> {
    let threads = WANTED.load(Ordering::Acquire);
    let slot = &POOLS[threads];
    let pid = std::process::id();
    let seen = slot.load(Ordering::Acquire);
    // SAFETY: every pointer stored in a slot comes from Box::leak and is never freed.
    if let Some(owned) = unsafe { seen.as_ref() } {
        if owned.pid == pid {
            return Ok(&owned.pool);
        }
    }
    let built = ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("gpuopt-{i}"))
        .build()
        .map_err(|e| format!("cannot start the engine's worker threads: {e}"))?;
    let fresh: *mut Owned = Box::leak(Box::new(Owned { pid, pool: built }));
    match slot.compare_exchange(seen, fresh, Ordering::AcqRel, Ordering::Acquire) {
        // SAFETY: as above; `fresh` was leaked just now.
        Ok(_) => Ok(unsafe { &(*fresh).pool }),
        Err(winner) => {
            // Another thread of this process (the only threads a child has) published one first:
            // use it and drop ours, whose threads are this process's own.
            // SAFETY: `fresh` was never published, so this is its only owner.
            drop(unsafe { Box::from_raw(fresh) });
            // SAFETY: `winner` came from Box::leak and is never freed.
            Ok(unsafe { &(*winner).pool })
        }
    }
}
