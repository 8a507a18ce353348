//! Registered sites as the request path sees them: an in-memory snapshot of
//! the store's sites, refreshed every second, looked up by site key or by API
//! key; and the documented test keys.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::store::{SiteRecord, Store, StoreError};

/// SHA-256 of an API key, the only form in which API keys are stored.
///
/// API keys carry 256 random bits, so a fast hash is enough: there is no
/// dictionary to guess from.
pub fn hash_api_key(api_key: &str) -> [u8; 32] {
    Sha256::digest(api_key.as_bytes()).into()
}

/// The longest host name: the longest DNS name (RFC 1035). The hostname
/// goes into every verdict, which must stay within
/// [`oculto_shared::token::MAX_TOKEN_LEN`].
pub const MAX_HOST: usize = 253;

/// `scheme://host[:port]` of a URL or origin, lowercased, default port
/// dropped; `None` for anything that is not an http(s) origin, or whose host
/// is longer than [`MAX_HOST`].
pub fn normalize_origin(s: &str) -> Option<String> {
    let u = url::Url::parse(s.trim()).ok()?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none_or(|h| h.len() > MAX_HOST) {
        return None;
    }
    Some(u.origin().ascii_serialization())
}

/// The hostname of a normalized origin.
pub fn hostname_of(origin: &str) -> String {
    url::Url::parse(origin).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default()
}

#[derive(Default)]
struct Snapshot {
    by_key: HashMap<String, Arc<SiteRecord>>,
    by_hash: HashMap<[u8; 32], Arc<SiteRecord>>,
}

/// The sites, swapped as a whole on refresh.
#[derive(Default)]
pub struct SiteCache {
    current: RwLock<Arc<Snapshot>>,
}

impl SiteCache {
    /// Reloads every site from the store.
    pub async fn refresh(&self, store: &Store) -> Result<(), StoreError> {
        let mut snap = Snapshot::default();
        for site in store.sites().await? {
            let site = Arc::new(site);
            snap.by_hash.insert(site.api_key_hash, site.clone());
            snap.by_key.insert(site.site_key.clone(), site);
        }
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(snap);
        Ok(())
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The site with this public key.
    pub fn by_site_key(&self, site_key: &str) -> Option<Arc<SiteRecord>> {
        self.snapshot().by_key.get(site_key).cloned()
    }

    /// The site whose API key this is, compared in constant time.
    pub fn by_api_key(&self, api_key: &str) -> Option<Arc<SiteRecord>> {
        let hash = hash_api_key(api_key);
        let site = self.snapshot().by_hash.get(&hash).cloned()?;
        bool::from(site.api_key_hash.ct_eq(&hash)).then_some(site)
    }
}

/// The documented test keys, like Turnstile's: they need no registration,
/// work from any origin, and give known answers, for people's own CI.
pub mod test_keys {
    /// A token that every test API key accepts, for backend tests that have
    /// no browser.
    pub const DUMMY_TOKEN: &str = "XXXX.DUMMY.TOKEN.XXXX";

    /// What a test key forces.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Behaviour {
        /// Score 0, `valid: true`.
        Pass,
        /// Score 100, `valid: false`.
        Fail,
        /// Every token is already spent: `409 already_verified`.
        Spent,
        /// This score.
        Score(u8),
    }

    impl Behaviour {
        /// The score a verdict under this key gets.
        pub fn score(self) -> u8 {
            match self {
                Self::Pass | Self::Spent => 0,
                Self::Fail => 100,
                Self::Score(s) => s,
            }
        }
    }

    fn parse(rest: &str) -> Option<Behaviour> {
        match rest {
            "always_pass" => Some(Behaviour::Pass),
            "always_fail" => Some(Behaviour::Fail),
            "already_spent" => Some(Behaviour::Spent),
            _ => {
                let n = rest.strip_prefix("score_")?;
                if n.is_empty() || n.len() > 3 || !n.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                n.parse().ok().filter(|&s| s <= 100).map(Behaviour::Score)
            }
        }
    }

    /// `site_test_always_pass`, `site_test_always_fail`,
    /// `site_test_already_spent`, `site_test_score_NN`.
    pub fn site(site_key: &str) -> Option<Behaviour> {
        parse(site_key.strip_prefix("site_test_")?)
    }

    /// `ak_test_always_pass`, `ak_test_always_fail`, `ak_test_already_spent`,
    /// `ak_test_score_NN`.
    pub fn secret(api_key: &str) -> Option<Behaviour> {
        parse(api_key.strip_prefix("ak_test_")?)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn parses_the_documented_names_only() {
            assert_eq!(site("site_test_always_pass"), Some(Behaviour::Pass));
            assert_eq!(secret("ak_test_score_73"), Some(Behaviour::Score(73)));
            assert_eq!(secret("ak_test_score_100"), Some(Behaviour::Score(100)));
            assert_eq!(secret("ak_test_score_101"), None);
            assert_eq!(secret("ak_test_score_+1"), None);
            assert_eq!(secret("ak_test_whatever"), None);
            assert_eq!(site("ak_test_always_pass"), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalized() {
        assert_eq!(normalize_origin("https://Example.COM/path?q").as_deref(), Some("https://example.com"));
        assert_eq!(normalize_origin("http://127.0.0.1:80").as_deref(), Some("http://127.0.0.1"));
        assert_eq!(normalize_origin("http://localhost:3000/").as_deref(), Some("http://localhost:3000"));
        assert_eq!(normalize_origin("null"), None);
        assert_eq!(normalize_origin("file:///etc/passwd"), None);
        assert_eq!(hostname_of("https://example.com:8443"), "example.com");
    }

    /// Issue 6 (fuzzing): a test site key takes any Origin, and a 4000-byte
    /// host made a verdict longer than any token `/verify` accepts.
    #[test]
    fn hosts_longer_than_a_dns_name_are_not_origins() {
        let label = "a".repeat(63);
        let longest = [&label[..], &label, &label, &label[..61]].join(".");
        assert_eq!(longest.len(), MAX_HOST);
        assert!(normalize_origin(&format!("https://{longest}")).is_some());
        assert_eq!(normalize_origin(&format!("https://{longest}a")), None);
        assert_eq!(normalize_origin(&format!("https://{}.example", "a".repeat(4000))), None);
    }
}
