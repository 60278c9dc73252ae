//! The report sender: [`Reports`] takes finished reports without ever blocking the download that made them,
//! queues them within bounds ([`super::queue`]: the oldest dropped when full), and POSTs each to its
//! `notify_url` through the origin client (so the guard and the allowlists apply), signed at send time,
//! with retries and backoff on connect errors, timeouts and 5xx. [`Reports::drain`] lets the queue empty
//! on shutdown, until a deadline; what is left is dropped and counted.
//!
//! Counters: `reports_sent` (a 2xx answer), `reports_retried` (attempts repeated), `reports_failed` (given
//! up: retries spent, another status, or refused by the guard), `reports_dropped` (never finished: queue
//! full, or still waiting when shutdown's deadline came). It builds no report (that is
//! [`crate::core::report`]) and must not log a secret, a signature or a URL's query.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::HeaderMap;
use tokio::sync::{Notify, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::queue::{Queue, Weighed};
use crate::core::keys::Secret;
use crate::core::report::sign;
use crate::metrics::Metrics;
use crate::origin::client::TransportError;
use crate::origin::guard::HostKind;
use crate::origin::{redact_url, OriginClient, RetryPolicy};

/// Default [`ReportSettings::queue_max`].
pub const DEFAULT_QUEUE_MAX: usize = 1024;
/// The most bytes of reports queued at once.
pub const QUEUE_MAX_BYTES: usize = 16 * 1024 * 1024;
/// Default [`ReportSettings::retries`].
pub const DEFAULT_RETRIES: u32 = 3;
/// Default [`ReportSettings::timeout`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Reports being sent at once.
pub const SENDERS: usize = 8;

/// How reports are queued and sent.
#[derive(Debug, Clone, Copy)]
pub struct ReportSettings {
    /// Reports queued at most; a full queue drops the oldest.
    pub queue_max: usize,
    /// Bytes queued at most.
    pub queue_max_bytes: usize,
    /// Retries of one report after a connect error, a timeout or a 5xx.
    pub retries: u32,
    /// First backoff delay, doubled per retry (at most [`crate::origin::retry::MAX_BACKOFF`]).
    pub backoff: Duration,
    /// Longest wait per attempt for the connection and the response head.
    pub timeout: Duration,
}

impl Default for ReportSettings {
    fn default() -> Self {
        ReportSettings {
            queue_max: DEFAULT_QUEUE_MAX,
            queue_max_bytes: QUEUE_MAX_BYTES,
            retries: DEFAULT_RETRIES,
            backoff: crate::origin::retry::DEFAULT_BACKOFF_BASE,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// One report to send.
#[derive(Debug)]
pub struct Job {
    /// The manifest's `notify_url`.
    pub url: Url,
    /// The link's key, which signs the report.
    pub secret: Secret,
    /// The request id (`X-Request-Id`).
    pub request_id: String,
    /// The JSON body.
    pub body: Bytes,
}

impl Weighed for Job {
    fn bytes(&self) -> usize {
        // The body, the URL and id, and a little for the rest.
        self.body.len() + self.url.as_str().len() + self.request_id.len() + 256
    }
}

/// The sender; cheap to clone. Its task starts with the first report, on the runtime that submits it.
#[derive(Clone)]
pub struct Reports {
    inner: Arc<Inner>,
}

struct Inner {
    queue: Mutex<Queue<Job>>,
    /// Reports taken from the queue and not finished.
    in_flight: AtomicUsize,
    wake: Notify,
    stop: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
    client: OriginClient,
    metrics: Arc<Metrics>,
    settings: ReportSettings,
    clock: Arc<dyn Fn() -> i64 + Send + Sync>,
}

/// What [`Reports::drain`] left undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    /// Reports dropped because the deadline came first.
    pub dropped: usize,
}

impl Reports {
    /// A sender over `client`, counting in `metrics`, stamping `X-Zipper-Time` from `clock`.
    pub fn new(
        client: OriginClient,
        metrics: Arc<Metrics>,
        settings: ReportSettings,
        clock: Arc<dyn Fn() -> i64 + Send + Sync>,
    ) -> Reports {
        Reports {
            inner: Arc::new(Inner {
                queue: Mutex::new(Queue::new(settings.queue_max, settings.queue_max_bytes)),
                in_flight: AtomicUsize::new(0),
                wake: Notify::new(),
                stop: CancellationToken::new(),
                task: Mutex::new(None),
                client,
                metrics,
                settings,
                clock,
            }),
        }
    }

    /// Queues `job` (never waits). A full queue drops its oldest reports; after [`Reports::drain`], or
    /// outside a tokio runtime, the report itself is dropped. Either way it is counted.
    pub fn submit(&self, job: Job) {
        let inner = &self.inner;
        if inner.stop.is_cancelled() || !self.ensure_started() {
            Metrics::inc(&inner.metrics.reports_dropped);
            return;
        }
        let dropped = lock(&inner.queue).push(job);
        if dropped > 0 {
            inner.metrics.reports_dropped.inc_by(dropped as u64);
            tracing::warn!(dropped, "report queue full: oldest reports dropped");
        }
        inner.wake.notify_one();
    }

    /// Reports queued or being sent.
    pub fn pending(&self) -> usize {
        let queue = lock(&self.inner.queue);
        queue.len() + self.inner.in_flight.load(Ordering::SeqCst)
    }

    /// Waits until every report is finished or `deadline` has passed, then stops the sender: what is left
    /// (queued, or between retries) is dropped and counted. Later reports are dropped.
    pub async fn drain(&self, deadline: Instant) -> Drained {
        while self.pending() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10).min(deadline - Instant::now())).await;
        }
        self.inner.stop.cancel();
        let task = lock(&self.inner.task).take();
        if let Some(task) = task {
            let _ = task.await;
        }
        let mut queue = lock(&self.inner.queue);
        let mut dropped = self.inner.in_flight.swap(0, Ordering::SeqCst);
        while queue.pop().is_some() {
            dropped += 1;
        }
        self.inner.metrics.reports_dropped.inc_by(dropped as u64);
        Drained { dropped }
    }

    /// Starts the dispatcher once; false outside a tokio runtime.
    fn ensure_started(&self) -> bool {
        let mut task = lock(&self.inner.task);
        if task.is_some() {
            return true;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return false;
        };
        *task = Some(runtime.spawn(dispatch(Arc::clone(&self.inner))));
        true
    }
}

/// Takes reports from the queue and sends up to [`SENDERS`] at once, until stopped.
async fn dispatch(inner: Arc<Inner>) {
    let slots = Arc::new(Semaphore::new(SENDERS));
    let mut tasks = JoinSet::new();
    loop {
        let slot = tokio::select! {
            biased;
            () = inner.stop.cancelled() => break,
            slot = Arc::clone(&slots).acquire_owned() => slot,
        };
        let Ok(slot) = slot else { break };
        let job = loop {
            let next = {
                let mut queue = lock(&inner.queue);
                let job = queue.pop();
                if job.is_some() {
                    // Counted under the queue's lock, so `pending` never misses a report in between.
                    inner.in_flight.fetch_add(1, Ordering::SeqCst);
                }
                job
            };
            if let Some(job) = next {
                break Some(job);
            }
            tokio::select! {
                biased;
                () = inner.stop.cancelled() => break None,
                () = inner.wake.notified() => {}
            }
        };
        let Some(job) = job else { break };
        let inner2 = Arc::clone(&inner);
        tasks.spawn(async move {
            deliver(&inner2, job).await;
            // Not in a drop guard: a send aborted by shutdown stays counted, as dropped.
            inner2.in_flight.fetch_sub(1, Ordering::SeqCst);
            drop(slot);
        });
        while tasks.try_join_next().is_some() {}
    }
    tasks.shutdown().await;
}

/// What one attempt calls for.
enum Next {
    Done,
    Retry(String),
    GiveUp(String),
}

/// Sends one report, retrying as the settings say; counts the result.
async fn deliver(inner: &Inner, job: Job) {
    let settings = inner.settings;
    let mut retries = RetryPolicy {
        retries: settings.retries,
        backoff_base: settings.backoff,
        max_total: settings.retries,
    }
    .start();
    let shown = redact_url(&job.url);
    loop {
        let why = match attempt(inner, &job).await {
            Next::Done => {
                Metrics::inc(&inner.metrics.reports_sent);
                tracing::debug!(url = %shown, request_id = %job.request_id, "report sent");
                return;
            }
            Next::GiveUp(why) => why,
            Next::Retry(why) => match retries.failed(0) {
                Some(delay) => {
                    Metrics::inc(&inner.metrics.reports_retried);
                    tracing::debug!(url = %shown, request_id = %job.request_id, ?delay, reason = %why, "retrying report");
                    tokio::time::sleep(delay).await;
                    continue;
                }
                None => format!("{why} (after {} attempts)", retries.taken()),
            },
        };
        Metrics::inc(&inner.metrics.reports_failed);
        tracing::warn!(url = %shown, request_id = %job.request_id, reason = %why, "report not delivered");
        return;
    }
}

/// One signed POST of the report.
async fn attempt(inner: &Inner, job: &Job) -> Next {
    let time = (inner.clock)();
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let values = (
        HeaderValue::from_str(&time.to_string()),
        HeaderValue::from_str(&sign(&job.secret, time, &job.body)),
        HeaderValue::from_str(&job.request_id),
    );
    if let (Ok(t), Ok(s), Ok(id)) = values {
        headers.insert("x-zipper-time", t);
        headers.insert("x-zipper-signature", s);
        headers.insert(crate::request_id::HEADER, id);
    }
    let sent = inner
        .client
        .post(
            HostKind::Callback,
            &job.url,
            headers,
            job.body.clone(),
            inner.settings.timeout,
        )
        .await;
    match sent {
        Ok(status) if status.is_success() => Next::Done,
        Ok(status) if status.is_server_error() => {
            Next::Retry(format!("the origin answered {status}"))
        }
        Ok(status) => Next::GiveUp(format!("the origin answered {status}")),
        Err(e @ TransportError::NotAllowed(_)) => Next::GiveUp(e.to_string()),
        Err(e) if e.is_transient() => Next::Retry(e.to_string()),
        Err(e) => Next::GiveUp(e.to_string()),
    }
}

/// Locks `m`, recovering from a poisoned lock (a panicking sender must not wedge the queue).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::origin::OriginSettings;

    fn job(url: &str) -> Job {
        Job {
            url: Url::parse(url).expect("url"),
            secret: Secret::new("s").expect("secret"),
            request_id: "r".into(),
            body: Bytes::from_static(b"{}"),
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_full_queue_drops_the_oldest_and_shutdown_drops_the_rest_counted() {
        let client = OriginClient::new(OriginSettings::default()).expect("client");
        let metrics = Arc::new(Metrics::default());
        let settings = ReportSettings {
            queue_max: 2,
            ..ReportSettings::default()
        };
        let reports = Reports::new(client, Arc::clone(&metrics), settings, Arc::new(|| 0));
        // The dispatcher cannot run between these (one thread, no await): the queue keeps the last two.
        for _ in 0..5 {
            reports.submit(job("http://192.0.2.1/r"));
        }
        assert_eq!(metrics.reports_dropped.get(), 3);
        assert_eq!(reports.pending(), 2);
        // No time to send them: both dropped and counted; later reports are dropped too.
        let drained = reports.drain(Instant::now()).await;
        assert_eq!(drained.dropped, 2);
        reports.submit(job("http://192.0.2.1/r"));
        assert_eq!(metrics.reports_dropped.get(), 6);
        assert_eq!(reports.pending(), 0);
        assert_eq!(metrics.reports_sent.get(), 0);
    }

    #[test]
    fn outside_a_runtime_a_report_is_dropped_not_lost_silently() {
        let client = OriginClient::new(OriginSettings::default()).expect("client");
        let metrics = Arc::new(Metrics::default());
        let reports = Reports::new(
            client,
            Arc::clone(&metrics),
            ReportSettings::default(),
            Arc::new(|| 0),
        );
        reports.submit(job("http://192.0.2.1/r"));
        assert_eq!(metrics.reports_dropped.get(), 1);
    }
}
