//! Per-address request limits (governor's GCRA), and which address a request
//! comes from.

use std::net::IpAddr;
use std::num::NonZeroU32;

use actix_web::HttpRequest;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;

use crate::config::RateLimitConfig;
use crate::error::ApiError;

/// The limits of one process.
pub struct Limits {
    init: DefaultKeyedRateLimiter<IpAddr>,
    score: DefaultKeyedRateLimiter<IpAddr>,
    soft: DefaultKeyedRateLimiter<IpAddr>,
    site: DefaultKeyedRateLimiter<String>,
    generate: DefaultKeyedRateLimiter<String>,
    validate: DefaultKeyedRateLimiter<String>,
    captchetat: DefaultKeyedRateLimiter<IpAddr>,
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

fn per_hour(n: u32) -> Quota {
    Quota::per_hour(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

fn check<K: Clone + Eq + std::hash::Hash>(limiter: &DefaultKeyedRateLimiter<K>, key: &K) -> Result<(), ApiError> {
    limiter.check_key(key).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        ApiError::rate_limited(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
    })
}

impl Limits {
    /// Limits as configured.
    pub fn new(c: &RateLimitConfig) -> Self {
        Self {
            init: RateLimiter::keyed(per_minute(c.init_per_min)),
            score: RateLimiter::keyed(per_minute(c.score_per_min)),
            soft: RateLimiter::keyed(per_minute(c.soft_per_min)),
            site: RateLimiter::keyed(per_minute(c.site_soft_per_min)),
            generate: RateLimiter::keyed(per_hour(c.generate_per_hour)),
            validate: RateLimiter::keyed(per_hour(c.validate_per_hour)),
            captchetat: RateLimiter::keyed(per_minute(c.captchetat_per_min)),
        }
    }

    /// Counts an `/init`; `Ok(flooded)` says whether the address is past its
    /// soft rate (harder proof of work, `rate` in the score).
    pub fn init(&self, ip: &IpAddr) -> Result<bool, ApiError> {
        check(&self.init, ip)?;
        Ok(self.soft.check_key(ip).is_err())
    }

    /// Counts a session opened for a registered site; `true` when the site
    /// as a whole is past its soft rate (a flood from many addresses), which
    /// makes the proof of work harder for everyone on it without counting
    /// against anyone's score.
    pub fn site_flooded(&self, site_key: &str) -> bool {
        self.site.check_key(&site_key.to_owned()).is_err()
    }

    /// Counts a `/score`.
    pub fn score(&self, ip: &IpAddr) -> Result<(), ApiError> {
        check(&self.score, ip)
    }

    /// Counts an `/api/generate` for a site key.
    pub fn generate(&self, site_key: &str) -> Result<(), ApiError> {
        check(&self.generate, &site_key.to_owned())
    }

    /// Counts an `/api/validate` for a site key, whatever its outcome.
    pub fn validate(&self, site_key: &str) -> Result<(), ApiError> {
        check(&self.validate, &site_key.to_owned())
    }

    /// Counts a CaptchEtat-style call from an address.
    pub fn captchetat(&self, ip: &IpAddr) -> Result<(), ApiError> {
        check(&self.captchetat, ip)
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

    #[test]
    fn limits_answer_429_with_a_wait() {
        let l = Limits::new(&RateLimitConfig {
            init_per_min: 2,
            score_per_min: 1,
            soft_per_min: 1,
            site_soft_per_min: 1,
            ..Default::default()
        });
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(!l.init(&ip).unwrap());
        assert!(l.init(&ip).unwrap(), "past the soft rate");
        let e = l.init(&ip).unwrap_err();
        assert!(e.retry_after.unwrap() >= 1);
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(l.init(&other).is_ok(), "limits are per address");
    }
}
