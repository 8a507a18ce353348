//! Oculto's verifier: issues sessions with a proof of work, scores them from
//! 0 (human) to 100 (bot), signs verdicts with ed25519 and checks them once
//! for the sites' backends.
//!
//! # Organisation
//!
//! - [`routes`]: the HTTP handlers, one short function per route, registered
//!   by [`routes::configure`] for `main` and tests alike.
//! - [`session`] (`/init`, `/score`) and [`verdict`] (`/verify`,
//!   `/siteverify`): the domain steps behind the handlers.
//! - [`score`]: the pure scorer.
//! - [`challenge`] (pure: answers, images, audio), [`captcha`] (challenges
//!   kept in the store, answered once) and [`compat`] (the CaptchEtat-style
//!   and generate/validate APIs).
//! - [`store`]: sites, keys, sessions, used tokens and counters, behind one
//!   enum of backends (SQLite by default).
//! - [`keys`] and [`sites`]: in-memory snapshots of the store's signing keys
//!   and sites, refreshed every second so that `oculto site add` and
//!   `oculto keys rotate` take effect on a running server.
//! - [`health`] (what `/health` checks), [`metrics`] (Prometheus counters
//!   at `/metrics`) and [`openapi`] (`/openapi.json`, generated from the
//!   handlers and the wire types): for operators.
//! - [`limits`], [`body`], [`error`], [`config`]: the edges.
//!
//! A request flows handler → domain function → one store call, and the
//! answer or the [`error::ApiError`] goes back in the contract's shape.

// The store futures nest deep enough (Redis Cluster and Sentinel behind one
// enum) for the compiler's default query depth to run out in their layout.
#![recursion_limit = "256"]

pub mod body;
pub mod captcha;
pub mod challenge;
pub mod clock;
pub mod compat;
pub mod config;
pub mod demo;
pub mod error;
pub mod eval;
pub mod features;
pub mod health;
pub mod keys;
pub mod limits;
pub mod metrics;
pub mod model;
pub mod openapi;
pub mod random;
pub mod routes;
pub mod score;
pub mod session;
pub mod sites;
pub mod store;
pub mod verdict;
pub mod widget;

use std::time::Duration;

use actix_web::middleware::{from_fn, Condition};
use actix_web::{web, App, HttpServer};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::config::Config;
use crate::keys::KeyRing;
use crate::limits::Limits;
use crate::sites::SiteCache;
use crate::store::{Store, StoreError};

/// Everything a request needs.
pub struct State {
    /// The validated settings.
    pub config: Config,
    /// The store.
    pub store: Store,
    /// The signing keys.
    pub keys: KeyRing,
    /// The registered sites.
    pub sites: SiteCache,
    /// Request limits (counted in the store when it is shared).
    pub limits: Limits,
    /// The demo site, in demo mode.
    pub demo: Option<demo::DemoSite>,
    /// The Prometheus recorder, when `serve` installed one
    /// (`metrics.enabled`).
    pub metrics: Option<PrometheusHandle>,
}

impl State {
    /// Opens the store and loads keys and sites (creating the first signing
    /// key on first start).
    pub async fn new(config: Config) -> Result<Self, StoreError> {
        let store = Store::open(&config.store, config.store_options())?;
        let keys = KeyRing::load(&store, config.token_ttl_secs, clock::now_secs()).await?;
        let sites = SiteCache::default();
        sites.refresh(&store).await?;
        let limits = Limits::new(&config.rate_limit);
        Ok(Self { config, store, keys, sites, limits, demo: None, metrics: None })
    }

    /// Reloads sites and keys from the store.
    pub async fn refresh(&self) -> Result<(), StoreError> {
        self.sites.refresh(&self.store).await?;
        self.keys.refresh(&self.store, self.config.token_ttl_secs, clock::now_secs()).await
    }
}

/// Keeps the snapshots fresh and the store trim, until the server stops.
async fn housekeeping(state: web::Data<State>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut n: u64 = 0;
    loop {
        tick.tick().await;
        if let Some(m) = &state.metrics {
            // Drains histogram samples into their buckets between scrapes.
            m.run_upkeep();
        }
        if let Err(e) = state.refresh().await {
            tracing::warn!(error = %e, "cannot refresh sites and keys");
        }
        if n % 60 == 0 {
            state.limits.forget_idle();
            match state.store.purge(clock::now_secs()).await {
                Ok(k) if k > 0 => tracing::debug!(rows = k, "purged expired rows"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "purge failed"),
            }
        }
        n += 1;
    }
}

/// Runs the verifier until SIGINT or SIGTERM, then stops gracefully:
/// requests in flight finish, and the store commits what it has.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let listener = std::net::TcpListener::bind(config.addr)?;
    let addr = listener.local_addr()?;
    let mut state = State::new(config).await?;
    if state.config.demo {
        let d = demo::prepare(&state.store, addr.port()).await?;
        state.refresh().await?;
        tracing::info!(site_key = %d.main.site_key, step_up_site_key = %d.step_up.site_key, "demo sites ready");
        state.demo = Some(d);
    }
    if state.config.metrics.enabled {
        state.metrics = Some(metrics::install(state.store.architecture()).map_err(anyhow::Error::msg)?);
    }
    let state = web::Data::new(state);
    let workers = match state.config.workers {
        0 => std::thread::available_parallelism().map_or(2, usize::from),
        n => n,
    };
    let app_state = state.clone();
    let server = HttpServer::new(move || {
        let demo = app_state.demo.is_some();
        let www = app_state.config.www_dir.clone();
        App::new()
            .wrap(Condition::new(app_state.metrics.is_some(), from_fn(metrics::track)))
            .app_data(app_state.clone())
            .configure(routes::configure)
            .configure(widget::configure)
            .configure(|cfg| {
                if demo {
                    demo::configure(cfg, &www);
                }
            })
            .default_service(routes::fallback())
    })
    .workers(workers)
    .shutdown_timeout(10)
    .listen(listener)?
    .run();
    // Tests and scripts read this line to learn the port.
    println!("oculto listening on http://{addr}");
    tracing::info!(%addr, store = state.store.architecture(), "listening");
    let keeper = actix_web::rt::spawn(housekeeping(state.clone()));
    server.await?;
    keeper.abort();
    tracing::info!("stopped");
    Ok(())
}
