//! Prometheus metrics, served at `GET /metrics` in Prometheus's text format.
//!
//! Code counts through the `metrics` facade (the functions below); `serve`
//! installs `metrics-exporter-prometheus` as the process's recorder when
//! `metrics.enabled` is on, and [`track`] wraps every request. With metrics
//! off nothing is installed, the counting calls do nothing, and `/metrics`
//! answers 404.
//!
//! No label carries a site key, an address or anything a visitor sent:
//! routes are the registered patterns (`/challenge/{id}/audio`), so the
//! number of series stays fixed.

use std::sync::OnceLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use ipnet::IpNet;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use oculto_shared::api::Classification;

/// HTTP requests answered, by `route`, `method` and `status`.
pub const REQUESTS: &str = "oculto_http_requests_total";
/// Time to answer, by `route` and `method`, seconds.
pub const DURATION: &str = "oculto_http_request_duration_seconds";
/// Verdict tokens signed (by `/score` and `/api/validate`), by
/// `classification`.
pub const VERDICTS: &str = "oculto_verdicts_issued_total";
/// Tokens refused by `/verify` or `/siteverify` because they were used
/// before (409 `already_verified`, `timeout-or-duplicate`).
pub const REPLAYS: &str = "oculto_replays_refused_total";
/// Store calls that failed, by `operation`: each is a 503
/// `store_unavailable` (or `internal-error`) for a request, or a failed
/// refresh or health check.
pub const STORE_ERRORS: &str = "oculto_store_errors_total";
/// Always 1, labelled with the `version` and the `store` in use.
pub const BUILD_INFO: &str = "oculto_build_info";

/// Bucket bounds of [`DURATION`], seconds: `/verify` answers in a few
/// milliseconds, `/score` with a challenge image in tens.
const BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// The route label of requests that matched no registered route.
const UNMATCHED: &str = "unmatched";

/// Installs the Prometheus recorder for this process (once; later calls
/// get the same handle) and describes the metrics.
pub fn install(store: &'static str) -> Result<PrometheusHandle, String> {
    static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(DURATION.into()), BUCKETS)
                .and_then(|b| b.install_recorder())
                .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
            describe(store);
            Ok(handle)
        })
        .clone()
}

fn describe(store: &'static str) {
    use ::metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(REQUESTS, "HTTP requests answered, by route pattern, method and status.");
    describe_histogram!(DURATION, Unit::Seconds, "Time to answer an HTTP request, by route pattern and method.");
    describe_counter!(VERDICTS, "Verdict tokens signed, by classification.");
    describe_counter!(REPLAYS, "Tokens refused because they were verified before (409 already_verified).");
    describe_counter!(STORE_ERRORS, "Store calls that failed (503 store_unavailable), by operation.");
    describe_gauge!(BUILD_INFO, "Always 1: the verifier's version and store.");
    ::metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION"), "store" => store).set(1.0);
    // Every series that dashboards and alerts divide by starts at 0 rather
    // than appearing with the first event.
    for cls in [Classification::Human, Classification::Suspicious, Classification::Bot] {
        ::metrics::counter!(VERDICTS, "classification" => cls.as_str()).absolute(0);
    }
    ::metrics::counter!(REPLAYS).absolute(0);
}

/// Counts a signed verdict.
pub fn verdict_issued(cls: Classification) {
    ::metrics::counter!(VERDICTS, "classification" => cls.as_str()).increment(1);
}

/// Counts a token refused as used before.
pub fn replay_refused() {
    ::metrics::counter!(REPLAYS).increment(1);
}

/// Counts a failed store call.
pub fn store_error(operation: &'static str) {
    ::metrics::counter!(STORE_ERRORS, "operation" => operation).increment(1);
}

/// Middleware: counts each request and times it, labelled with the route's
/// pattern.
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let route = req.match_pattern().unwrap_or_else(|| UNMATCHED.to_owned());
    let method = method_label(req.method());
    let res = next.call(req).await;
    let status = match &res {
        Ok(r) => r.status(),
        Err(e) => e.as_response_error().status_code(),
    };
    let seconds = start.elapsed().as_secs_f64();
    ::metrics::histogram!(DURATION, "route" => route.clone(), "method" => method).record(seconds);
    ::metrics::counter!(REQUESTS, "route" => route, "method" => method, "status" => status.as_str().to_owned())
        .increment(1);
    res
}

/// The method as a label: the ones HTTP defines, else `other`, so that made-up
/// methods cannot add series.
fn method_label(m: &actix_web::http::Method) -> &'static str {
    match m.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        _ => "other",
    }
}

/// Whether `ip` may read `/metrics`: anyone when `allow` is empty.
pub fn allowed(allow: &[IpNet], ip: &std::net::IpAddr) -> bool {
    allow.is_empty() || allow.iter().any(|n| n.contains(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_allow_list_lets_anyone_read() {
        let ip: std::net::IpAddr = "203.0.113.7".parse().unwrap();
        assert!(allowed(&[], &ip));
        let allow: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
        assert!(!allowed(&allow, &ip));
        assert!(allowed(&allow, &"10.2.3.4".parse().unwrap()));
        assert!(allowed(&allow, &"::1".parse().unwrap()));
    }
}
