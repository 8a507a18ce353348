//! Request limits (GCRA), and which address a request comes from.
//!
//! Each limit lets `n` requests through at once and one more every
//! `period / n`, per address or per site key. On SQLite (one node) they are
//! counted in this process with governor. On Redis they are counted in Redis
//! by one script per request ([`Store::rate`]), so every node sharing the
//! store shares the allowance: 30 `/init` a minute from an address means 30
//! across the whole cluster, not 30 per node.
//!
//! When Redis cannot count (down, stuck, or slower than the limiter's own
//! short timeout, 0.5 s), a node falls back to its own in-memory limits for
//! a second ([`FALLBACK`]) instead of answering 5xx or letting everything
//! through: limits hold per node meanwhile, and the request goes on to the
//! store, which answers 503 `store_unavailable` if Redis is really away.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::HttpRequest;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;

use crate::config::RateLimitConfig;
use crate::error::ApiError;
use crate::store::{RateCheck, Store};

/// How long a node counts on its own after Redis failed to count.
pub const FALLBACK: Duration = Duration::from_secs(1);

/// The limits, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Limit {
    /// `/init` per address: 429.
    Init,
    /// `/score` per address: 429.
    Score,
    /// `/init` per address: harder proof of work, `rate` in the score.
    Soft,
    /// `/init` per site: harder proof of work.
    Site,
    /// `/api/generate` per site key: 429.
    Generate,
    /// `/api/validate` per site key: 429.
    Validate,
    /// The CaptchEtat-style endpoints per address: 429.
    Captchetat,
}

impl Limit {
    /// Its name in Redis keys.
    fn name(self) -> &'static str {
        match self {
            Limit::Init => "init",
            Limit::Score => "score",
            Limit::Soft => "soft",
            Limit::Site => "site",
            Limit::Generate => "generate",
            Limit::Validate => "validate",
            Limit::Captchetat => "captchetat",
        }
    }

    /// Requests allowed per period, and the period.
    fn quota(self, c: &RateLimitConfig) -> (u32, Duration) {
        const MINUTE: Duration = Duration::from_secs(60);
        const HOUR: Duration = Duration::from_secs(3600);
        match self {
            Limit::Init => (c.init_per_min, MINUTE),
            Limit::Score => (c.score_per_min, MINUTE),
            Limit::Soft => (c.soft_per_min, MINUTE),
            Limit::Site => (c.site_soft_per_min, MINUTE),
            Limit::Generate => (c.generate_per_hour, HOUR),
            Limit::Validate => (c.validate_per_hour, HOUR),
            Limit::Captchetat => (c.captchetat_per_min, MINUTE),
        }
    }

    /// Whether going over it refuses the request (429) rather than only
    /// being reported.
    fn hard(self) -> bool {
        !matches!(self, Limit::Soft | Limit::Site)
    }
}

/// Who a request is counted against.
#[derive(Debug, Clone, Copy)]
enum Who<'a> {
    Ip(IpAddr),
    Site(&'a str),
}

impl std::fmt::Display for Who<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Who::Ip(ip) => write!(f, "{ip}"),
            Who::Site(s) => f.write_str(s),
        }
    }
}

/// The limits of one node, and where they are counted.
pub struct Limits {
    config: RateLimitConfig,
    init: DefaultKeyedRateLimiter<IpAddr>,
    score: DefaultKeyedRateLimiter<IpAddr>,
    soft: DefaultKeyedRateLimiter<IpAddr>,
    site: DefaultKeyedRateLimiter<String>,
    generate: DefaultKeyedRateLimiter<String>,
    validate: DefaultKeyedRateLimiter<String>,
    captchetat: DefaultKeyedRateLimiter<IpAddr>,
    /// Until when (ms since the epoch) this node counts on its own because
    /// the shared store failed to.
    local_until_ms: AtomicU64,
}

fn quota(limit: Limit, c: &RateLimitConfig) -> Quota {
    let (n, period) = limit.quota(c);
    let n = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(period / n.get()).map_or_else(|| Quota::per_second(NonZeroU32::MAX), |q| q.allow_burst(n))
}

fn seconds_up(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

impl Limits {
    /// Limits as configured.
    pub fn new(c: &RateLimitConfig) -> Self {
        Self {
            init: RateLimiter::keyed(quota(Limit::Init, c)),
            score: RateLimiter::keyed(quota(Limit::Score, c)),
            soft: RateLimiter::keyed(quota(Limit::Soft, c)),
            site: RateLimiter::keyed(quota(Limit::Site, c)),
            generate: RateLimiter::keyed(quota(Limit::Generate, c)),
            validate: RateLimiter::keyed(quota(Limit::Validate, c)),
            captchetat: RateLimiter::keyed(quota(Limit::Captchetat, c)),
            config: c.clone(),
            local_until_ms: AtomicU64::new(0),
        }
    }

    /// Counts an `/init`; `Ok(flooded)` says whether the address is past its
    /// soft rate (harder proof of work, `rate` in the score).
    pub async fn init(&self, store: &Store, ip: &IpAddr) -> Result<bool, ApiError> {
        let over = self.count(store, &[(Limit::Init, Who::Ip(*ip)), (Limit::Soft, Who::Ip(*ip))]).await?;
        Ok(over[1])
    }

    /// Counts a session opened for a registered site; `true` when the site
    /// as a whole is past its soft rate (a flood from many addresses), which
    /// makes the proof of work harder for everyone on it without counting
    /// against anyone's score.
    pub async fn site_flooded(&self, store: &Store, site_key: &str) -> Result<bool, ApiError> {
        Ok(self.count(store, &[(Limit::Site, Who::Site(site_key))]).await?[0])
    }

    /// Counts a `/score`.
    pub async fn score(&self, store: &Store, ip: &IpAddr) -> Result<(), ApiError> {
        self.count(store, &[(Limit::Score, Who::Ip(*ip))]).await.map(drop)
    }

    /// Counts an `/api/generate` for a site key.
    pub async fn generate(&self, store: &Store, site_key: &str) -> Result<(), ApiError> {
        self.count(store, &[(Limit::Generate, Who::Site(site_key))]).await.map(drop)
    }

    /// Counts an `/api/validate` for a site key, whatever its outcome.
    pub async fn validate(&self, store: &Store, site_key: &str) -> Result<(), ApiError> {
        self.count(store, &[(Limit::Validate, Who::Site(site_key))]).await.map(drop)
    }

    /// Counts a CaptchEtat-style call from an address.
    pub async fn captchetat(&self, store: &Store, ip: &IpAddr) -> Result<(), ApiError> {
        self.count(store, &[(Limit::Captchetat, Who::Ip(*ip))]).await.map(drop)
    }

    /// Counts a request against `limits` in order, in the shared store if
    /// there is one: a hard limit that refuses stops the count there and
    /// answers 429; for the others, whether each is past its rate.
    async fn count(&self, store: &Store, limits: &[(Limit, Who<'_>)]) -> Result<Vec<bool>, ApiError> {
        let now_ms = crate::clock::now_ms();
        if store.shares_limits() && self.local_until_ms.load(Ordering::Relaxed) <= now_ms {
            let checks: Vec<RateCheck> = limits
                .iter()
                .map(|&(limit, who)| {
                    let (n, period) = limit.quota(&self.config);
                    RateCheck { limit: limit.name(), who: who.to_string(), n, period, hard: limit.hard() }
                })
                .collect();
            match store.rate(checks).await {
                Ok(Some(rated)) => {
                    return match rated.refused {
                        Some(wait) => Err(ApiError::rate_limited(seconds_up(wait))),
                        None => Ok(rated.over),
                    };
                }
                Ok(None) => {}
                Err(e) => {
                    let until = now_ms + FALLBACK.as_millis() as u64;
                    if self.local_until_ms.swap(until, Ordering::Relaxed) <= now_ms {
                        tracing::warn!(error = %e, "the store cannot count rate limits; counting on this node for now");
                    }
                }
            }
        }
        let mut over = Vec::with_capacity(limits.len());
        for &(limit, who) in limits {
            match self.check_locally(limit, who) {
                Ok(()) => over.push(false),
                Err(wait) if limit.hard() => return Err(ApiError::rate_limited(seconds_up(wait))),
                Err(_) => over.push(true),
            }
        }
        Ok(over)
    }

    /// Counts one request in this process; `Err(wait)` if over the limit.
    fn check_locally(&self, limit: Limit, who: Who<'_>) -> Result<(), Duration> {
        let by_ip = |l: &DefaultKeyedRateLimiter<IpAddr>| match who {
            Who::Ip(ip) => l.check_key(&ip).map_err(|n| n.wait_time_from(DefaultClock::default().now())),
            Who::Site(_) => Ok(()),
        };
        let by_site = |l: &DefaultKeyedRateLimiter<String>| match who {
            Who::Site(s) => l.check_key(&s.to_owned()).map_err(|n| n.wait_time_from(DefaultClock::default().now())),
            Who::Ip(_) => Ok(()),
        };
        match limit {
            Limit::Init => by_ip(&self.init),
            Limit::Score => by_ip(&self.score),
            Limit::Soft => by_ip(&self.soft),
            Limit::Captchetat => by_ip(&self.captchetat),
            Limit::Site => by_site(&self.site),
            Limit::Generate => by_site(&self.generate),
            Limit::Validate => by_site(&self.validate),
        }
    }

    /// Forgets addresses that are back to a full allowance, so memory stays
    /// bounded by the addresses of the last minute.
    pub fn forget_idle(&self) {
        for l in [&self.init, &self.score, &self.soft, &self.captchetat] {
            l.retain_recent();
            l.shrink_to_fit();
        }
        for l in [&self.site, &self.generate, &self.validate] {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

/// The client's address for rate limits: [`client_addr`], with IPv6
/// addresses cut to their /64, which one subscriber usually holds whole.
pub fn client_ip(req: &HttpRequest, trusted: &[IpNet]) -> IpAddr {
    match client_addr(req, trusted) {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::from([s[0], s[1], s[2], s[3], 0, 0, 0, 0])
        }
        v4 => v4,
    }
}

/// The client's address: the peer, or, when the peer is a trusted proxy, the
/// last address in `X-Forwarded-For` that is not a trusted proxy.
pub fn client_addr(req: &HttpRequest, trusted: &[IpNet]) -> IpAddr {
    let peer = req.peer_addr().map(|a| a.ip()).unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    let mut ip = peer;
    if is_trusted(&peer) {
        let forwarded = req.headers().get_all("x-forwarded-for").filter_map(|v| v.to_str().ok());
        let hops: Vec<IpAddr> =
            forwarded.flat_map(|v| v.split(',')).filter_map(|s| s.trim().parse::<IpAddr>().ok()).collect();
        if let Some(first_untrusted) = hops.iter().rev().find(|h| !is_trusted(h)) {
            ip = *first_untrusted;
        }
    }
    ip
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let req = TestRequest::default()
            .peer_addr("10.1.2.3:5000".parse().unwrap())
            .insert_header(("X-Forwarded-For", "6.6.6.6, 203.0.113.9, 10.9.9.9"))
            .to_http_request();
        assert_eq!(client_ip(&req, &trusted), "203.0.113.9".parse::<IpAddr>().unwrap());
        let req = TestRequest::default()
            .peer_addr("198.51.100.7:5000".parse().unwrap())
            .insert_header(("X-Forwarded-For", "203.0.113.9"))
            .to_http_request();
        assert_eq!(client_ip(&req, &trusted), "198.51.100.7".parse::<IpAddr>().unwrap());
    }

    fn tight() -> RateLimitConfig {
        RateLimitConfig {
            init_per_min: 2,
            score_per_min: 1,
            soft_per_min: 1,
            site_soft_per_min: 1,
            ..Default::default()
        }
    }

    /// The checks every backend must count the same way.
    async fn limits_answer_429_with_a_wait(l: &Limits, store: &Store) {
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(!l.init(store, &ip).await.unwrap());
        assert!(l.init(store, &ip).await.unwrap(), "past the soft rate");
        let e = l.init(store, &ip).await.unwrap_err();
        assert!(e.retry_after.unwrap() >= 1);
        assert!((1..=30).contains(&e.retry_after.unwrap()), "one /init every 30 s: {:?}", e.retry_after);
        let other: IpAddr = "2001:db8::".parse().unwrap();
        assert!(l.init(store, &other).await.is_ok(), "limits are per address");
        assert!(!l.site_flooded(store, "site_a").await.unwrap());
        assert!(l.site_flooded(store, "site_a").await.unwrap());
        assert!(!l.site_flooded(store, "site_b").await.unwrap(), "and per site");
        l.score(store, &ip).await.unwrap();
        assert!(l.score(store, &ip).await.is_err());
    }

    #[actix_web::test]
    async fn limits_in_memory_answer_429_with_a_wait() {
        let dir = std::env::temp_dir().join(format!("oculto-limits-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open(&format!("sqlite://{}/l.db", dir.display()), Default::default()).unwrap();
        assert!(!store.shares_limits());
        limits_answer_429_with_a_wait(&Limits::new(&tight()), &store).await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Issue 6: on Redis, two nodes (two `Limits`, two connections) share
    /// one allowance; when Redis goes away each counts on its own.
    #[cfg(feature = "redis")]
    #[actix_web::test]
    async fn limits_in_redis_are_shared_and_fall_back_per_node() {
        let mut server = oculto_tests::redis::RedisServer::start();
        let a = Store::open(&server.url(), Default::default()).unwrap();
        let b = Store::open(&server.url(), Default::default()).unwrap();
        assert!(a.shares_limits());
        let (la, lb) = (Limits::new(&tight()), Limits::new(&tight()));
        limits_answer_429_with_a_wait(&la, &a).await;
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(lb.init(&b, &ip).await.is_err(), "node A spent the address's allowance for node B too");
        assert!(lb.score(&b, &ip).await.is_err());
        assert!(lb.site_flooded(&b, "site_a").await.unwrap());
        let fresh: IpAddr = "192.0.2.9".parse().unwrap();
        assert!(!lb.init(&b, &fresh).await.unwrap());
        assert!(la.init(&a, &fresh).await.unwrap(), "soft counts are shared too");

        server.kill();
        let started = std::time::Instant::now();
        let gone: IpAddr = "192.0.2.20".parse().unwrap();
        assert!(!la.init(&a, &gone).await.unwrap(), "counted on the node, not refused or failed");
        assert!(la.init(&a, &gone).await.unwrap());
        assert!(la.init(&a, &gone).await.is_err(), "the node's own limit holds");
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    }
}
