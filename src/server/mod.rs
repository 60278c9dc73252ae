//! The HTTP server (docs/contract.md, Responses to Operations): the public listener (download links), the admin listener (health,
//! readiness, metrics), and shutdown (readiness turns 503, stop accepting, let downloads finish within the
//! grace period, send the completion reports still queued within the same period, drop the rest, exit 0).
//!
//! [`start`] binds both listeners and returns a [`ServerHandle`] (tests and `zipper demo` use it in-process);
//! [`serve`] is `zipper serve`: start, wait for SIGTERM/SIGINT, drain. This module wires settings to parts;
//! it must not parse links, manifests or zip records itself.

pub mod admin;
pub mod archive;
pub mod body;
pub mod download;
pub mod listener;
pub mod manifest_load;
pub mod ranged;
pub mod record;
pub mod reporting;
pub mod request_error;
pub mod service;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

use crate::budget::Budget;
use crate::config::Config;
use crate::core::keys::KeySet;
use crate::core::keys::Secret;
use crate::core::layout::PlanOptions;
use crate::core::link::{LinkPolicy, PathPrefix};
use crate::core::manifest::ManifestLimits;
use crate::crc_cache::{CrcCache, CrcKey, CrcReads};
use crate::manifest_cache::ManifestCache;
use crate::metrics::{CacheFigures, Metrics, Sampled};
use crate::origin::{OriginClient, OriginSettings};
use crate::prefetch::PrefetchLimits;
use crate::report::{ReportSettings, Reports};
use crate::shared_cache::SharedCache;

/// What every request of the public listener shares.
pub struct AppState {
    /// The signing keys.
    pub keys: KeySet,
    /// Link age window.
    pub link_policy: LinkPolicy,
    /// The path links live under (`path_prefix`).
    pub path_prefix: PathPrefix,
    /// The origin client (connection pools, guard, retries).
    pub origin: OriginClient,
    /// Manifest bounds.
    pub manifest_limits: ManifestLimits,
    /// Per-download read-ahead bounds.
    pub prefetch: PrefetchLimits,
    /// The planner's settings (the inline CRC threshold, within the whole-file buffer pool).
    pub plan_options: PlanOptions,
    /// Concurrent download slots.
    pub downloads: Arc<Semaphore>,
    /// The process-wide memory budget every download's buffers count against.
    pub budget: Budget,
    /// The metrics registry.
    pub metrics: Arc<Metrics>,
    /// CRCs learnt from full reads, for cheap resumes.
    pub crc_cache: Arc<CrcCache>,
    /// Reads in progress that fill the CRC cache for resumes (one per file, bounded).
    pub crc_reads: Arc<CrcReads>,
    /// Validated manifests for resumes, by signed link.
    pub manifest_cache: ManifestCache,
    /// The fleet's shared cache behind the in-process ones (`cache_url`; disabled without it).
    pub shared_cache: SharedCache,
    /// The clock (Unix seconds); injected so tests can check link ages.
    pub clock: Arc<dyn Fn() -> i64 + Send + Sync>,
    /// Longest time a download's data may wait for its client.
    pub client_write_timeout: Duration,
    /// The completion report sender.
    pub reports: Reports,
}

/// Whole-file reads for missing CRCs running at once, across all downloads.
const CRC_READS_AT_ONCE: usize = 16;

/// Whole-file reads for missing CRCs registered at once (running or waiting); more are refused.
const CRC_READS_PENDING: usize = 1024;

/// The system clock in Unix seconds.
pub fn system_clock() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl AppState {
    /// Builds the shared state from a validated configuration.
    pub fn from_config(config: &Config) -> anyhow::Result<AppState> {
        let budget = if config.inline_crc_max_bytes > 0 {
            Budget::with_file_buffers(config.memory_budget_bytes)
        } else {
            Budget::new(config.memory_budget_bytes)
        };
        // A file is read whole only if its buffer fits the pool (an eighth of the budget).
        let plan_options = PlanOptions {
            inline_crc_max_bytes: config
                .inline_crc_max_bytes
                .min(budget.file_buffer_bytes() as u64),
        };
        let crc_cache = Arc::new(CrcCache::new(config.crc_cache_entries));
        let metrics = Arc::new(Metrics::new(sampled(&budget, &crc_cache)));
        let origin = OriginClient::with_metrics(origin_settings(config)?, Arc::clone(&metrics))
            .context("building the origin client")?;
        let clock: Arc<dyn Fn() -> i64 + Send + Sync> = Arc::new(system_clock);
        let reports = Reports::new(
            origin.clone(),
            Arc::clone(&metrics),
            report_settings(config),
            Arc::clone(&clock),
        );
        let shared_cache = match &config.cache_url {
            Some(url) => SharedCache::new(url, Arc::clone(&metrics)),
            None => SharedCache::disabled(),
        };
        Ok(AppState {
            plan_options,
            keys: config.keys.clone(),
            link_policy: config.link,
            path_prefix: config.path_prefix.clone(),
            origin,
            manifest_limits: ManifestLimits {
                max_entries: config.max_entries,
                max_total_bytes: config.max_total_bytes,
            },
            prefetch: PrefetchLimits {
                files: config.prefetch_files.max(1),
                bytes: usize::try_from(config.prefetch_bytes)
                    .unwrap_or(usize::MAX)
                    .min(Semaphore::MAX_PERMITS),
            },
            downloads: Arc::new(Semaphore::new(
                config.max_concurrent_downloads.min(Semaphore::MAX_PERMITS),
            )),
            budget,
            metrics,
            crc_cache,
            crc_reads: CrcReads::new(CRC_READS_AT_ONCE, CRC_READS_PENDING),
            manifest_cache: ManifestCache::new(),
            shared_cache,
            clock,
            client_write_timeout: config.client_write_timeout,
            reports,
        })
    }
}

impl AppState {
    /// Records a CRC learnt by reading a file whole: in-process, and in the shared cache under the link's
    /// secret (`None`: in-process only) for as long as a link lives.
    pub fn remember_crc(&self, key: CrcKey, secret: Option<&Secret>, crc: u32) {
        self.crc_cache.put(key, crc);
        if let Some(secret) = secret {
            let ttl = self.link_policy.max_age_secs;
            self.shared_cache.put_crc(&key, secret, crc, ttl);
        }
    }

    /// A fresh stall guard for one download on connection `conn`.
    pub fn stall_guard(&self, conn: Option<Arc<listener::ConnState>>) -> body::StallGuard {
        body::StallGuard {
            timeout: self.client_write_timeout,
            cancel: tokio_util::sync::CancellationToken::new(),
            conn,
        }
    }
}

/// What the metrics read when scraped: the budget's bytes and the CRC cache's figures.
fn sampled(budget: &Budget, crc_cache: &Arc<CrcCache>) -> Sampled {
    let (in_use, limit, cache) = (budget.clone(), budget.clone(), Arc::clone(crc_cache));
    Sampled {
        budget_in_use: Box::new(move || in_use.in_use() as u64),
        budget_limit: Box::new(move || limit.limit() as u64),
        crc_cache: Box::new(move || {
            let s = cache.stats();
            CacheFigures {
                entries: s.entries,
                hits: s.hits,
                misses: s.misses,
                evictions: s.evictions,
            }
        }),
    }
}

/// The origin client's settings from the configuration.
pub fn origin_settings(config: &Config) -> anyhow::Result<OriginSettings> {
    Ok(OriginSettings {
        connect_timeout: config.origin_connect_timeout,
        read_timeout: config.origin_read_timeout,
        manifest_timeout: config.manifest_timeout,
        manifest_max_bytes: config.manifest_max_bytes,
        min_rate_bytes_per_sec: config.origin_min_rate_bytes_per_sec,
        retry: crate::origin::RetryPolicy {
            retries: config.origin_retries,
            backoff_base: config.origin_retry_backoff,
            max_total: config.max_file_retries,
        },
        max_redirects: config.max_redirects,
        allow_private_networks: config.allow_private_networks,
        callback_hosts: config.callback_hosts.clone(),
        file_hosts: config.file_hosts.clone(),
    })
}

/// The report sender's settings from the configuration.
pub fn report_settings(config: &Config) -> ReportSettings {
    ReportSettings {
        queue_max: config.report_queue_max,
        retries: config.report_retries,
        backoff: config.origin_retry_backoff,
        timeout: config.report_timeout,
        ..ReportSettings::default()
    }
}

/// A running server.
pub struct ServerHandle {
    /// Where the public listener is bound.
    pub public_addr: SocketAddr,
    /// Where the admin listener is bound.
    pub admin_addr: SocketAddr,
    /// The shared state (metrics, cache) for inspection.
    pub state: Arc<AppState>,
    ready: Arc<AtomicBool>,
    grace: Duration,
    shutdown: watch::Sender<bool>,
    admin_shutdown: watch::Sender<bool>,
    public_task: JoinHandle<()>,
    admin_done: tokio::sync::oneshot::Receiver<()>,
}

impl ServerHandle {
    /// Turns readiness off, stops accepting downloads, and waits (up to the grace period) for open ones and
    /// then for the completion reports still queued (within the same period); the admin listener keeps
    /// answering (`/readyz` 503) until then.
    pub async fn shutdown(self) {
        let deadline = tokio::time::Instant::now() + self.grace;
        self.ready.store(false, Ordering::SeqCst);
        let _ = self.shutdown.send(true);
        let _ = self.public_task.await;
        let pending = self.state.reports.pending();
        let drained = self.state.reports.drain(deadline).await;
        if pending > 0 || drained.dropped > 0 {
            tracing::info!(
                pending,
                dropped = drained.dropped,
                "completion reports drained"
            );
        }
        let _ = self.admin_shutdown.send(true);
        let _ = self.admin_done.await;
    }

    /// Whether `/readyz` answers 200.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
}

/// Binds the listeners of `config` and starts serving; `state` is usually [`AppState::from_config`]. The
/// admin listener runs on a thread and runtime of its own, so health checks answer while the public
/// listener is saturated.
pub async fn start(config: &Config, state: AppState) -> anyhow::Result<ServerHandle> {
    let public = bind_public(config.listen, config.listen_backlog)
        .with_context(|| format!("binding listen address {}", config.listen))?;
    let admin = std::net::TcpListener::bind(config.admin_listen)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .with_context(|| format!("binding admin_listen address {}", config.admin_listen))?;
    let public_addr = public.local_addr()?;
    let admin_addr = admin.local_addr()?;
    let state = Arc::new(state);
    let ready = Arc::new(AtomicBool::new(true));
    let (shutdown, rx) = watch::channel(false);
    let (admin_shutdown, admin_rx) = watch::channel(false);
    let limits = listener::ListenerLimits {
        header_timeout: config.request_header_timeout,
        write_timeout: config.client_write_timeout,
        max_connections: config.max_client_connections,
        h2_max_streams: config.h2_max_streams,
    };
    let grace = config.shutdown_grace;
    let st = Arc::clone(&state);
    let public_task = tokio::spawn(listener::run(
        public,
        limits,
        move |req| service::handle(Arc::clone(&st), req),
        rx,
        grace,
    ));
    let admin_state = admin::AdminState {
        metrics: Arc::clone(&state.metrics),
        ready: Arc::clone(&ready),
    };
    let admin_done = spawn_admin(admin, limits, admin_state, admin_rx)?;
    tracing::info!(%public_addr, %admin_addr, "zipper listening");
    Ok(ServerHandle {
        public_addr,
        admin_addr,
        state,
        ready,
        grace,
        shutdown,
        admin_shutdown,
        public_task,
        admin_done,
    })
}

/// The public listener, with a listen queue of `backlog`.
fn bind_public(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// Serves the admin routes on a thread with a single-threaded runtime of its own; the receiver resolves
/// when it has stopped.
fn spawn_admin(
    listener: std::net::TcpListener,
    limits: listener::ListenerLimits,
    state: admin::AdminState,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<tokio::sync::oneshot::Receiver<()>> {
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the admin runtime")?;
    std::thread::Builder::new()
        .name("zipper-admin".into())
        .spawn(move || {
            runtime.block_on(async move {
                match TcpListener::from_std(listener) {
                    Ok(listener) => {
                        listener::run(
                            listener,
                            limits,
                            move |req| admin::handle(state.clone(), req),
                            shutdown,
                            Duration::from_secs(1),
                        )
                        .await;
                    }
                    Err(e) => tracing::error!(error = %e, "admin listener failed"),
                }
            });
            let _ = done_tx.send(());
        })
        .context("starting the admin thread")?;
    Ok(done_rx)
}

/// `zipper serve`: runs until SIGTERM or SIGINT, then drains and returns.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let state = AppState::from_config(&config)?;
    let handle = start(&config, state).await?;
    wait_for_signal().await;
    tracing::info!(
        grace_secs = config.shutdown_grace.as_secs(),
        "shutting down: draining downloads"
    );
    handle.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
