//! The one retry rule of every origin fetch (CONTRACT.md §5): [`RetryPolicy`] says how many times and how
//! long to wait, [`Retries`] counts one fetch's failures against it.
//!
//! A failure right after progress (new bytes delivered since the previous failure) starts the consecutive
//! count again, so a long file on a flaky link still completes; an overall cap per fetch (`max_total`)
//! stops an origin that breaks after every few bytes. The manifest fetch never makes progress between
//! attempts, so for it the two counts are the same. This module only counts and computes delays: it does no
//! I/O and never sleeps.

use std::time::Duration;

/// Default number of consecutive retries after a failure (CONTRACT.md §5).
pub const DEFAULT_RETRIES: u32 = 3;
/// Default first backoff delay; each further retry doubles it (CONTRACT.md §5).
pub const DEFAULT_BACKOFF_BASE: Duration = Duration::from_millis(100);
/// Default cap on all retries of one fetch, progress or not.
pub const DEFAULT_MAX_TOTAL: u32 = 10;
/// The longest single backoff delay, whatever the retry count.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// How failed origin requests are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after consecutive transient failures without progress.
    pub retries: u32,
    /// First backoff delay; retry `n` of a run waits `backoff_base * 2^(n-1)`, at most [`MAX_BACKOFF`].
    pub backoff_base: Duration,
    /// Retries of one fetch in all, even when each made progress.
    pub max_total: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: DEFAULT_RETRIES,
            backoff_base: DEFAULT_BACKOFF_BASE,
            max_total: DEFAULT_MAX_TOTAL,
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `retry` (1-based) of a run: `backoff_base * 2^(retry-1)`, capped at
    /// [`MAX_BACKOFF`].
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u32
            .checked_shl(retry.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.backoff_base
            .checked_mul(factor)
            .unwrap_or(MAX_BACKOFF)
            .min(MAX_BACKOFF)
    }

    /// A fresh counter for one fetch.
    pub fn start(&self) -> Retries {
        Retries {
            policy: *self,
            run: 0,
            total: 0,
            progress_mark: 0,
        }
    }
}

/// One fetch's failures so far.
#[derive(Debug, Clone)]
pub struct Retries {
    policy: RetryPolicy,
    run: u32,
    total: u32,
    progress_mark: u64,
}

impl Retries {
    /// Records a transient failure at `progress` (bytes delivered so far; 0 for requests without a body
    /// position) and returns the delay before the next attempt, or `None` when the fetch must give up.
    pub fn failed(&mut self, progress: u64) -> Option<Duration> {
        if progress > self.progress_mark {
            self.run = 0;
            self.progress_mark = progress;
        }
        self.run += 1;
        self.total += 1;
        if self.run > self.policy.retries || self.total > self.policy.max_total {
            return None;
        }
        Some(self.policy.backoff(self.run))
    }

    /// Retries taken so far.
    pub fn taken(&self) -> u32 {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(1), Duration::from_millis(100));
        assert_eq!(p.backoff(2), Duration::from_millis(200));
        assert_eq!(p.backoff(3), Duration::from_millis(400));
        assert_eq!(p.backoff(40), MAX_BACKOFF);
    }

    #[test]
    fn consecutive_failures_give_up_after_the_retries() {
        let mut r = RetryPolicy::default().start();
        assert!(r.failed(0).is_some());
        assert!(r.failed(0).is_some());
        assert!(r.failed(0).is_some());
        assert_eq!(r.failed(0), None);
    }

    #[test]
    fn progress_restarts_the_run_but_not_the_total() {
        let policy = RetryPolicy {
            retries: 2,
            backoff_base: Duration::from_millis(1),
            max_total: 5,
        };
        let mut r = policy.start();
        for pos in 1..=5 {
            assert_eq!(r.failed(pos), Some(Duration::from_millis(1)), "retry {pos}");
        }
        assert_eq!(
            r.failed(6),
            None,
            "the overall cap holds even with progress"
        );
        assert_eq!(r.taken(), 6);
    }
}
