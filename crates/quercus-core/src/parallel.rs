//! Quercus's own thread pools. Rayon's global pool is never used, so embedding
//! Quercus does not change an application's pool, and a process that forks after
//! predicting gets fresh pools in the child (a forked child has none of its
//! parent's threads, and a pool inherited across `fork` would hang).
//!
//! A pool is kept per thread count, but only the [`MAX_POOLS`] most recently
//! used ones: a caller that asks for many different counts does not keep
//! that many pools (and their threads) alive. Evicting a pool only drops
//! this cache's handle to it; a prediction still running on it keeps it
//! until it ends.

use std::sync::{Arc, Mutex, OnceLock};

use rayon::ThreadPool;

use crate::error::{Error, Result};

/// The most threads one call may use
/// ([`PredictOptions::n_threads`](crate::PredictOptions::n_threads)); asking
/// for more is an [`ErrorKind::Option`](crate::ErrorKind::Option) error, and
/// `QUERCUS_NUM_THREADS` is capped at it.
pub const MAX_THREADS: usize = 1024;

/// Thread pools kept between calls (the most recently used ones).
const MAX_POOLS: usize = 4;

struct Pools {
    pid: u32,
    /// By thread count.
    recent: Recent<Arc<ThreadPool>>,
}

/// The values of the [`MAX_POOLS`] most recently used keys.
struct Recent<T> {
    /// `(key, value)`, least recently used first.
    entries: Vec<(usize, T)>,
}

impl<T: Clone> Recent<T> {
    fn new() -> Recent<T> {
        Recent {
            entries: Vec::with_capacity(MAX_POOLS + 1),
        }
    }

    /// The value of `key`, which becomes the most recently used.
    fn get(&mut self, key: usize) -> Option<T> {
        let i = self.entries.iter().position(|(k, _)| *k == key)?;
        let entry = self.entries.remove(i);
        let v = entry.1.clone();
        self.entries.push(entry);
        Some(v)
    }

    /// Adds `key` (not present) as the most recently used; returns the
    /// value evicted to keep at most [`MAX_POOLS`].
    fn insert(&mut self, key: usize, value: T) -> Option<T> {
        self.entries.push((key, value));
        (self.entries.len() > MAX_POOLS).then(|| self.entries.remove(0).1)
    }

    /// Removes every entry.
    fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        self.entries.drain(..).map(|(_, v)| v)
    }
}

static POOLS: OnceLock<Mutex<Pools>> = OnceLock::new();

/// The number of threads used when the caller does not say: the available
/// parallelism, or `QUERCUS_NUM_THREADS` when set to a positive integer, at
/// most [`MAX_THREADS`]. Read once per process (finding the available
/// parallelism reads cgroup files, which would cost more than predicting one
/// row).
pub fn default_threads() -> usize {
    static N: OnceLock<usize> = OnceLock::new();
    *N.get_or_init(|| {
        std::env::var("QUERCUS_NUM_THREADS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .filter(|&n: &usize| n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .min(MAX_THREADS)
    })
}

/// An error unless `threads <= MAX_THREADS`.
pub(crate) fn check_threads(threads: usize) -> Result<()> {
    if threads > MAX_THREADS {
        return Err(Error::option(format!(
            "n_threads={threads} is more than the {MAX_THREADS} threads a call may use"
        )));
    }
    Ok(())
}

/// A pool of exactly `threads` threads (`threads <= MAX_THREADS`, else an
/// error), created on first use and reused while it is among the
/// [`MAX_POOLS`] most recently used.
pub(crate) fn pool(threads: usize) -> Result<Arc<ThreadPool>> {
    check_threads(threads)?;
    let pools = POOLS.get_or_init(|| {
        Mutex::new(Pools {
            pid: std::process::id(),
            recent: Recent::new(),
        })
    });
    let mut guard = pools.lock().unwrap_or_else(|p| p.into_inner());
    let pid = std::process::id();
    if guard.pid != pid {
        // We are a forked child: the parent's worker threads do not exist here.
        // Forget (do not drop) the stale pools; dropping would signal threads
        // that are gone.
        for p in guard.recent.drain() {
            std::mem::forget(p);
        }
        guard.pid = pid;
    }
    if let Some(p) = guard.recent.get(threads) {
        return Ok(p);
    }
    let p = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("quercus-{i}"))
        .build()
        .map_err(|e| Error::option(format!("cannot start {threads} threads: {e}")))?;
    let p = Arc::new(p);
    let evicted = guard.recent.insert(threads, Arc::clone(&p));
    // Dropped outside the lock: dropping the last handle of a pool tells its
    // threads to stop.
    drop(guard);
    drop(evicted);
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys of `r`, least recently used first.
    fn keys<T>(r: &Recent<T>) -> Vec<usize> {
        r.entries.iter().map(|(k, _)| *k).collect()
    }

    #[test]
    fn at_most_a_few_values_are_kept_least_recently_used_first_out() {
        let mut r = Recent::new();
        for k in 0..6 {
            assert_eq!(r.get(k), None);
            let evicted = r.insert(k, 10 * k);
            assert_eq!(evicted, k.checked_sub(MAX_POOLS).map(|old| 10 * old));
            assert!(r.entries.len() <= MAX_POOLS);
        }
        assert_eq!(keys(&r), [2, 3, 4, 5]);
        // A use makes a key the most recent, so another one goes first.
        assert_eq!(r.get(2), Some(20));
        assert_eq!(keys(&r), [3, 4, 5, 2]);
        assert_eq!(r.insert(6, 60), Some(30));
        assert_eq!(keys(&r), [4, 5, 2, 6]);
        assert_eq!(r.drain().count(), 4);
        assert!(r.entries.is_empty());
    }

    /// Many thread counts: each pool has its count, a count still cached
    /// gives the same pool, and a pool evicted while a caller holds it still
    /// runs. (Other tests of this binary make pools of their own, so this
    /// does not look at which counts are cached.)
    #[test]
    fn pools_are_reused_and_evicted_pools_stay_usable() {
        let first = pool(1).unwrap();
        assert!(Arc::ptr_eq(&first, &pool(1).unwrap()));
        for n in 3..3 + MAX_POOLS + 1 {
            assert_eq!(pool(n).unwrap().current_num_threads(), n);
        }
        assert_eq!(first.install(rayon::current_num_threads), 1);
    }

    #[test]
    fn more_than_the_maximum_threads_is_an_option_error() {
        for n in [MAX_THREADS + 1, usize::MAX] {
            let e = pool(n).unwrap_err();
            assert!(matches!(e.kind(), crate::ErrorKind::Option(_)), "{e}");
            assert!(e.to_string().contains("1024"), "{e}");
        }
        assert!(check_threads(MAX_THREADS).is_ok());
        assert!(default_threads() >= 1 && default_threads() <= MAX_THREADS);
    }
}
