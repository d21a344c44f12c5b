//! Quercus's own thread pools. Rayon's global pool is never used, so embedding
//! Quercus does not change an application's pool, and a process that forks after
//! predicting gets fresh pools in the child (a forked child has none of its
//! parent's threads, and a pool inherited across `fork` would hang).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rayon::ThreadPool;

use crate::error::{Error, Result};

struct Pools {
    pid: u32,
    by_size: HashMap<usize, Arc<ThreadPool>>,
}

static POOLS: OnceLock<Mutex<Pools>> = OnceLock::new();

/// The number of threads used when the caller does not say: the available
/// parallelism, or `QUERCUS_NUM_THREADS` when set to a positive integer. Read
/// once per process (finding the available parallelism reads cgroup files,
/// which would cost more than predicting one row).
pub fn default_threads() -> usize {
    static N: OnceLock<usize> = OnceLock::new();
    *N.get_or_init(|| {
        std::env::var("QUERCUS_NUM_THREADS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .filter(|&n: &usize| n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    })
}

/// A pool of exactly `threads` threads, created on first use and reused.
pub(crate) fn pool(threads: usize) -> Result<Arc<ThreadPool>> {
    let pools = POOLS.get_or_init(|| {
        Mutex::new(Pools {
            pid: std::process::id(),
            by_size: HashMap::new(),
        })
    });
    let mut guard = pools.lock().unwrap_or_else(|p| p.into_inner());
    let pid = std::process::id();
    if guard.pid != pid {
        // We are a forked child: the parent's worker threads do not exist here.
        // Forget (do not drop) the stale pools; dropping would signal threads
        // that are gone.
        for (_, p) in guard.by_size.drain() {
            std::mem::forget(p);
        }
        guard.pid = pid;
    }
    if let Some(p) = guard.by_size.get(&threads) {
        return Ok(Arc::clone(p));
    }
    let p = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("quercus-{i}"))
        .build()
        .map_err(|e| Error::option(format!("cannot start {threads} threads: {e}")))?;
    let p = Arc::new(p);
    guard.by_size.insert(threads, Arc::clone(&p));
    Ok(p)
}
