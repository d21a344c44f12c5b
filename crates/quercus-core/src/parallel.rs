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
    /// `(threads, pool)`, least recently used first; at most [`MAX_POOLS`].
    recent: Vec<(usize, Arc<ThreadPool>)>,
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
            recent: Vec::with_capacity(MAX_POOLS + 1),
        })
    });
    let mut guard = pools.lock().unwrap_or_else(|p| p.into_inner());
    let pid = std::process::id();
    if guard.pid != pid {
        // We are a forked child: the parent's worker threads do not exist here.
        // Forget (do not drop) the stale pools; dropping would signal threads
        // that are gone.
        for (_, p) in guard.recent.drain(..) {
            std::mem::forget(p);
        }
        guard.pid = pid;
    }
    if let Some(i) = guard.recent.iter().position(|(n, _)| *n == threads) {
        // Most recently used: to the end.
        let entry = guard.recent.remove(i);
        let p = Arc::clone(&entry.1);
        guard.recent.push(entry);
        return Ok(p);
    }
    let p = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("quercus-{i}"))
        .build()
        .map_err(|e| Error::option(format!("cannot start {threads} threads: {e}")))?;
    let p = Arc::new(p);
    guard.recent.push((threads, Arc::clone(&p)));
    if guard.recent.len() > MAX_POOLS {
        // The least recently used. Dropped outside the lock: dropping the
        // last handle of a pool tells its threads to stop.
        let (_, old) = guard.recent.remove(0);
        drop(guard);
        drop(old);
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The thread counts cached, least recently used first.
    fn cached() -> Vec<usize> {
        let pools = POOLS.get().expect("a pool was made");
        let guard = pools.lock().unwrap_or_else(|p| p.into_inner());
        guard.recent.iter().map(|(n, _)| *n).collect()
    }

    /// Only this test makes pools in this test binary with these (odd)
    /// sizes; other tests may add their own pools concurrently, so the
    /// checks look only at these.
    #[test]
    fn at_most_a_few_pools_are_kept_least_recently_used_first_out() {
        let sizes = [3usize, 5, 7, 9, 11, 13];
        let mine =
            |c: Vec<usize>| -> Vec<usize> { c.into_iter().filter(|n| sizes.contains(n)).collect() };
        // Many distinct sizes (each a different pool; a pool is usable).
        for (k, &n) in sizes.iter().enumerate() {
            let p = pool(n).unwrap();
            assert_eq!(p.current_num_threads(), n);
            assert!(cached().len() <= MAX_POOLS);
            assert_eq!(mine(cached()).last(), Some(&n), "after {k}");
        }
        let p11 = pool(11).unwrap();
        // 11 was reused (the same pool) and is now the most recent.
        assert!(Arc::ptr_eq(&p11, &pool(11).unwrap()));
        assert_eq!(mine(cached()).last(), Some(&11));
        // A pool evicted while held stays usable by its holder.
        let p3 = pool(3).unwrap();
        for &n in &sizes[1..] {
            pool(n).unwrap();
        }
        assert!(!mine(cached()).contains(&3));
        assert_eq!(p3.install(rayon::current_num_threads), 3);
        assert!(cached().len() <= MAX_POOLS);
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
