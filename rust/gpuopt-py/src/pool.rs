//! The engine's worker threads, one pool per process. Rayon's global pool does not survive
//! `fork()`: a child inherits the pool's bookkeeping but not its threads, so its first parallel
//! call waits forever. A pool tagged with the id of the process that built it is rebuilt in a
//! forked child on its first call. Pools are leaked, never freed: a child must not touch the
//! parent's (its locks may be held by threads that no longer exist), and one per process lives as
//! long as the process anyway. Lock-free, so a fork at any moment leaves nothing locked.

use std::sync::atomic::{AtomicPtr, Ordering};

use rayon::{ThreadPool, ThreadPoolBuilder};

struct Owned {
    pid: u32,
    pool: ThreadPool,
}

static CURRENT: AtomicPtr<Owned> = AtomicPtr::new(std::ptr::null_mut());

/// This process's pool (built on first use, RAYON_NUM_THREADS or one thread per core).
pub fn pool() -> Result<&'static ThreadPool, String> {
    let pid = std::process::id();
    let seen = CURRENT.load(Ordering::Acquire);
    // SAFETY: every pointer stored in CURRENT comes from Box::leak and is never freed.
    if let Some(owned) = unsafe { seen.as_ref() } {
        if owned.pid == pid {
            return Ok(&owned.pool);
        }
    }
    let built = ThreadPoolBuilder::new()
        .thread_name(|i| format!("gpuopt-{i}"))
        .build()
        .map_err(|e| format!("cannot start the engine's worker threads: {e}"))?;
    let fresh: *mut Owned = Box::leak(Box::new(Owned { pid, pool: built }));
    match CURRENT.compare_exchange(seen, fresh, Ordering::AcqRel, Ordering::Acquire) {
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
