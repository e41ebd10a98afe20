//! A stop request for long engine loops (the simulator's events, the mix walk): the bindings set
//! it when Ctrl-C reaches Python while engine work runs, and the loops poll it every few thousand
//! steps and return [`CoreError::Interrupted`]. One flag for the process: Ctrl-C stops all of the
//! engine work under way, and the flag clears once none is left.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::CoreError;

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Steps between two polls of the flag (a relaxed load: free next to a simulated event).
pub const POLL_EVERY: u64 = 4096;

pub fn request() {
    REQUESTED.store(true, Ordering::Relaxed);
}

pub fn clear() {
    REQUESTED.store(false, Ordering::Relaxed);
}

pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}

/// `Err(Interrupted)` once a stop has been requested.
pub fn check() -> Result<(), CoreError> {
    if requested() {
        Err(CoreError::Interrupted)
    } else {
        Ok(())
    }
}

/// Counts steps and polls a flag (the process's, by default) every [`POLL_EVERY`] of them.
#[derive(Debug)]
pub struct Poll {
    steps: u64,
    flag: &'static AtomicBool,
}

impl Default for Poll {
    fn default() -> Self {
        Poll { steps: 0, flag: &REQUESTED }
    }
}

impl Poll {
    pub fn step(&mut self) -> Result<(), CoreError> {
        self.steps += 1;
        if self.steps % POLL_EVERY == 0 && self.flag.load(Ordering::Relaxed) {
            Err(CoreError::Interrupted)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_reports_a_request_within_poll_every_steps() {
        // a flag of its own: the process's would stop the simulator tests running beside this one
        static FLAG: AtomicBool = AtomicBool::new(false);
        let mut p = Poll { steps: 0, flag: &FLAG };
        assert!((0..POLL_EVERY).all(|_| p.step().is_ok()));
        FLAG.store(true, Ordering::Relaxed);
        let stopped = (0..POLL_EVERY).map(|_| p.step()).position(|r| r == Err(CoreError::Interrupted));
        assert_eq!(stopped, Some(POLL_EVERY as usize - 1));
        assert!(check().is_ok(), "the process's flag is untouched");
    }
}
