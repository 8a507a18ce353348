//! Where sites, signing keys, sessions, used tokens and counters live.
//!
//! `Sqlite` (embedded, one file) is the default; `Redis` (feature `redis`,
//! on by default) is shared by several verifier nodes. Every method is one
//! round trip to the backend (on a Redis Cluster, a method that touches
//! keys of several slots takes two: see `redis`), and every backend passes
//! the one conformance suite in `tests` below.

#[cfg(feature = "redis")]
pub mod redis;
pub mod sqlite;

use oculto_shared::api::{Classification, Distribution, RecentVerification, StatsDistribution, UsageMonth};
use serde::{Deserialize, Serialize};

use crate::challenge::{Check, Lang};

/// A store failure: the store cannot be reached or refused to work. Never a
/// reason to answer "valid".
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The backend is down, locked, full or overloaded.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// A registered site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteRecord {
    /// Public site key, `site_...`.
    pub site_key: String,
    /// A name for people.
    pub name: String,
    /// Origins allowed to open sessions, `scheme://host[:port]`.
    pub origins: Vec<String>,
    /// Scores above this are not `valid`.
    pub threshold: u8,
    /// When the widget shows a step-up challenge.
    pub step_up: StepUpPolicy,
    /// SHA-256 of the API key.
    pub api_key_hash: [u8; 32],
    /// Seconds since the epoch.
    pub created_at: u64,
}

/// When a site's visitors get a step-up challenge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum StepUpPolicy {
    /// Never: every session gets its verdict at once.
    Never,
    /// When the score is `suspicious`, or the proof of work ran over the
    /// widget's energy budget.
    #[default]
    Suspicious,
    /// Every session.
    Always,
}

impl StepUpPolicy {
    /// The policy's name, as stored and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Never => "never",
            Self::Suspicious => "suspicious",
            Self::Always => "always",
        }
    }

    /// The policy named `s`; an unknown name is the default.
    pub fn parse(s: &str) -> Self {
        match s {
            "never" => Self::Never,
            "always" => Self::Always,
            _ => Self::Suspicious,
        }
    }
}

/// A challenge waiting for its answer, stored whole and taken once: every
/// answer, right or wrong, uses it up. The answer never leaves the verifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeRecord {
    /// `ch_...`.
    pub id: String,
    /// The site it was made for; `None` for the CaptchEtat endpoints, which
    /// take no site key.
    pub site_key: Option<String>,
    /// The expected answer, as [`Check::matches`] compares it.
    pub answer: String,
    /// How the answer is compared.
    pub check: Check,
    /// The language of its audio.
    pub lang: Lang,
    /// Seconds since the epoch.
    pub expires_at: u64,
    /// For a step-up: the verdict waiting on the answer.
    pub step_up: Option<PendingVerdict>,
}

/// What a step-up session carries from challenge to challenge until it gets
/// its verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingVerdict {
    /// The session, `co_...`.
    pub session_id: String,
    /// The session's binding, checked again on each answer.
    pub binding: Option<String>,
    /// Hostname of the page.
    pub hostname: String,
    /// The page's action.
    pub action: Option<String>,
    /// The page's customer data.
    pub cdata: Option<String>,
    /// The score before the challenge.
    pub score: u8,
    /// Its reasons.
    pub reasons: Vec<String>,
    /// Answers left, this challenge's included.
    pub attempts_left: u8,
    /// New challenges the session may still ask for.
    pub refreshes_left: u8,
}

/// A signing key, private part included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// RFC 7638 thumbprint of the public key.
    pub kid: String,
    /// The ed25519 secret.
    pub secret: [u8; 32],
    /// Seconds since the epoch.
    pub created_at: u64,
    /// When a newer key replaced it; it stays published for a token lifetime.
    pub retired_at: Option<u64>,
}

/// An issued, not yet scored session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// `co_...`.
    pub id: String,
    /// The site it was opened for.
    pub site_key: String,
    /// Proof of work salt.
    pub salt: String,
    /// Proof of work difficulty.
    pub difficulty: u8,
    /// Milliseconds since the epoch.
    pub created_ms: u64,
    /// Seconds since the epoch.
    pub expires_at: u64,
    /// Hostname of the page's origin.
    pub hostname: String,
    /// The page's action.
    pub action: Option<String>,
    /// The page's customer data.
    pub cdata: Option<String>,
    /// Whether the address was over its soft rate when it opened the session.
    pub flooded: bool,
    /// Hex SHA-256 of the page's binding secret, if the page gave one.
    pub binding: Option<String>,
}

/// Why a session cannot be scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimError {
    /// Never issued, or purged.
    NotFound,
    /// Scored before.
    Used,
    /// Past its expiry.
    Expired,
}

/// A verdict given for a session, remembered for `/verify`'s reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerdictRecord {
    /// The session.
    pub session_id: String,
    /// The site.
    pub site_key: String,
    /// Score given.
    pub score: u8,
    /// Reason codes.
    pub reasons: Vec<String>,
    /// When the row may go: after the token's expiry.
    pub purge_after: u64,
}

/// A token to accept once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumption {
    /// The token id.
    pub jti: String,
    /// The site.
    pub site_key: String,
    /// The token's expiry; the id is remembered until then.
    pub exp: u64,
    /// A retry key chosen by the backend.
    pub idempotency_key: Option<String>,
    /// The session.
    pub session_id: String,
    /// The score in the token.
    pub score: u8,
    /// Its class.
    pub classification: Classification,
    /// The page's hostname.
    pub hostname: String,
    /// The page's action.
    pub action: Option<String>,
    /// Now, seconds since the epoch.
    pub now: u64,
}

/// What happened when a token was presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Consumed {
    /// First use: accepted and recorded.
    First {
        /// The reasons stored with the session.
        reasons: Vec<String>,
    },
    /// Used before, and presented again with the same idempotency key.
    Retry {
        /// The reasons stored with the session.
        reasons: Vec<String>,
    },
    /// Used before.
    Replay,
}

/// A counter of `/stats` usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// A session opened.
    Init,
    /// A session scored.
    Score,
}

/// One rate limit to count a request against in a shared store (GCRA):
/// `n` requests at once, then one more every `period / n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateCheck {
    /// What is counted: `init`, `site`...
    pub limit: &'static str,
    /// For whom: `192.0.2.1`, `site_...`. Every check of one call counts
    /// against the same one (Redis Cluster counts them in one slot).
    pub who: String,
    /// Requests allowed per period.
    pub n: u32,
    /// The period.
    pub period: std::time::Duration,
    /// Whether going over refuses the request (and stops the count there)
    /// rather than only being reported.
    pub hard: bool,
}

/// What a shared store answered for a list of [`RateCheck`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rated {
    /// A hard limit refused: how long until it lets a request through.
    pub refused: Option<std::time::Duration>,
    /// For each check counted, whether it is past its rate.
    pub over: Vec<bool>,
}

/// How a store is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// SQLite: fsync every commit (survives a power loss), not only WAL.
    pub synchronous_full: bool,
    /// How many recent verifications each site keeps for `/stats`.
    pub recent_keep: u32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self { synchronous_full: false, recent_keep: 1000 }
    }
}

/// The store, one variant per backend.
pub enum Store {
    /// Embedded SQLite, the default.
    Sqlite(sqlite::SqliteStore),
    /// Redis or Valkey, shared by several nodes.
    #[cfg(feature = "redis")]
    Redis(redis::RedisStore),
}

/// Runs `$e` on whichever backend this is; a failure is counted in the
/// metrics under `$op`.
macro_rules! each {
    ($self:ident, $op:literal, $s:ident => $e:expr) => {{
        let result = match $self {
            Store::Sqlite($s) => $e,
            #[cfg(feature = "redis")]
            Store::Redis($s) => $e,
        };
        if result.is_err() {
            crate::metrics::store_error($op);
        }
        result
    }};
}

impl Store {
    /// Opens the store named by a URL: `sqlite://PATH` (created if missing),
    /// or Redis (connected on first use, inside a Tokio runtime):
    /// `redis://HOST:PORT[/DB]`, `redis+sentinel://HOST:PORT[,...]/MASTER[/DB]`
    /// or `redis+cluster://HOST:PORT[,...]`.
    pub fn open(url: &str, options: StoreOptions) -> Result<Self, StoreError> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            return Ok(Self::Sqlite(sqlite::SqliteStore::open(path, options)?));
        }
        if ["redis://", "redis+sentinel://", "redis+cluster://"].iter().any(|s| url.starts_with(s)) {
            #[cfg(feature = "redis")]
            return Ok(Self::Redis(redis::RedisStore::open(url, options)?));
            #[cfg(not(feature = "redis"))]
            return Err(StoreError::Unavailable(
                "redis storage is not enabled in this build of oculto-verifier (build it with --features redis)".into(),
            ));
        }
        Err(StoreError::Unavailable(format!("unknown store URL {url:?}")))
    }

    /// The backend's name, as `/health` reports it.
    pub fn architecture(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            #[cfg(feature = "redis")]
            Store::Redis(_) => "redis",
        }
    }

    /// Checks that the backend answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        each!(self, "ping", s => s.ping().await)
    }

    /// Adds a site. Fails if the site key or API key hash exists.
    pub async fn add_site(&self, site: SiteRecord) -> Result<(), StoreError> {
        each!(self, "add_site", s => s.add_site(site).await)
    }

    /// Every site.
    pub async fn sites(&self) -> Result<Vec<SiteRecord>, StoreError> {
        each!(self, "sites", s => s.sites().await)
    }

    /// Replaces a site's API key hash; `false` if there is no such site.
    pub async fn set_api_key_hash(&self, site_key: &str, hash: [u8; 32]) -> Result<bool, StoreError> {
        each!(self, "set_api_key_hash", s => s.set_api_key_hash(site_key.to_owned(), hash).await)
    }

    /// Every signing key, newest first.
    pub async fn keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        each!(self, "keys", s => s.keys().await)
    }

    /// Adds a signing key and retires every other active one at `now`.
    pub async fn rotate_key(&self, key: KeyRecord, now: u64) -> Result<(), StoreError> {
        each!(self, "rotate_key", s => s.rotate_key(key, now).await)
    }

    /// Adds a signing key only if there is no active one; returns the keys.
    pub async fn ensure_key(&self, key: KeyRecord) -> Result<Vec<KeyRecord>, StoreError> {
        each!(self, "ensure_key", s => s.ensure_key(key).await)
    }

    /// Records a new session and counts an init.
    pub async fn create_session(&self, session: SessionRecord, purge_after: u64) -> Result<(), StoreError> {
        each!(self, "create_session", s => s.create_session(session, purge_after).await)
    }

    /// A session as stored, without claiming it.
    pub async fn peek_session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        each!(self, "peek_session", s => s.peek_session(id.to_owned()).await)
    }

    /// Marks a session as being scored and returns it; each session can be
    /// claimed once.
    pub async fn claim_session(&self, id: &str, now: u64) -> Result<Result<SessionRecord, ClaimError>, StoreError> {
        each!(self, "claim_session", s => s.claim_session(id.to_owned(), now).await)
    }

    /// Remembers the verdict given to a session and counts a score.
    pub async fn record_verdict(&self, verdict: VerdictRecord, now: u64) -> Result<(), StoreError> {
        each!(self, "record_verdict", s => s.record_verdict(verdict, now).await)
    }

    /// Accepts a token id once, durably.
    pub async fn consume(&self, c: Consumption) -> Result<Consumed, StoreError> {
        each!(self, "consume", s => s.consume(c).await)
    }

    /// All-time distribution and month-by-month usage of a site.
    pub async fn summary(&self, site_key: &str) -> Result<(Distribution, Vec<UsageMonth>), StoreError> {
        each!(self, "summary", s => s.summary(site_key.to_owned()).await)
    }

    /// The newest verifications of a site.
    pub async fn recent(&self, site_key: &str, limit: u32) -> Result<Vec<RecentVerification>, StoreError> {
        each!(self, "recent", s => s.recent(site_key.to_owned(), limit).await)
    }

    /// One month's distribution and histogram.
    pub async fn distribution(&self, site_key: &str, month: &str) -> Result<StatsDistribution, StoreError> {
        each!(self, "distribution", s => s.distribution(site_key.to_owned(), month.to_owned()).await)
    }

    /// Records a challenge until its expiry.
    pub async fn put_challenge(&self, challenge: ChallengeRecord) -> Result<(), StoreError> {
        each!(self, "put_challenge", s => s.put_challenge(challenge).await)
    }

    /// A challenge as stored, without using it up (expired ones included).
    pub async fn peek_challenge(&self, id: &str) -> Result<Option<ChallengeRecord>, StoreError> {
        each!(self, "peek_challenge", s => s.peek_challenge(id.to_owned()).await)
    }

    /// Removes a challenge and returns it; each challenge is taken once.
    pub async fn take_challenge(&self, id: &str) -> Result<Option<ChallengeRecord>, StoreError> {
        each!(self, "take_challenge", s => s.take_challenge(id.to_owned()).await)
    }

    /// Whether rate limits are counted in the store, shared by every node
    /// (Redis), rather than in each process (SQLite).
    pub fn shares_limits(&self) -> bool {
        self.architecture() != "sqlite"
    }

    /// Counts a request against `checks` in order, in one step; `None` when
    /// the store does not keep rate limits (SQLite: each process counts its
    /// own).
    pub async fn rate(&self, checks: Vec<RateCheck>) -> Result<Option<Rated>, StoreError> {
        match self {
            Store::Sqlite(_) => {
                drop(checks);
                Ok(None)
            }
            #[cfg(feature = "redis")]
            Store::Redis(s) => s.rate(checks).await.map(Some),
        }
    }

    /// Deletes expired sessions, token ids and challenges; returns how many.
    /// Redis needs no purge (its keys carry TTLs) and returns 0.
    pub async fn purge(&self, now: u64) -> Result<u64, StoreError> {
        each!(self, "purge", s => s.purge(now).await)
    }
}

/// A store URL fit for messages and logs: a Redis password is masked.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://").filter(|(s, _)| s.starts_with("redis")) else {
        return url.to_owned();
    };
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    match authority.rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

/// The mean of `n` scores adding up to `sum`, to one decimal; 0 for none.
fn average(sum: u64, n: u64) -> f64 {
    if n == 0 {
        0.0
    } else {
        (sum as f64 / n as f64 * 10.0).round() / 10.0
    }
}

/// `YYYY-MM` of a Unix time.
pub fn year_month(secs: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(secs as i64).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!("{:04}-{:02}", t.year(), u8::from(t.month()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A session of `site` opened at `now`, for tests.
    pub(crate) fn session(id: &str, site: &str, now: u64) -> SessionRecord {
        SessionRecord {
            id: id.into(),
            site_key: site.into(),
            salt: "00".into(),
            difficulty: 4,
            created_ms: now * 1000,
            expires_at: now + 600,
            hostname: "example.com".into(),
            action: Some("login".into()),
            cdata: None,
            flooded: false,
            binding: Some("ab".repeat(32)),
        }
    }

    /// A human verdict's token `jti` of `site`, presented at `now`, for tests.
    pub(crate) fn consumption(jti: &str, site: &str, now: u64, idem: Option<&str>) -> Consumption {
        Consumption {
            jti: jti.into(),
            site_key: site.into(),
            exp: now + 300,
            idempotency_key: idem.map(Into::into),
            session_id: "co_1".into(),
            score: 10,
            classification: Classification::Human,
            hostname: "example.com".into(),
            action: None,
            now,
        }
    }

    #[test]
    fn passwords_stay_out_of_messages() {
        for (url, shown) in [
            ("redis://:s3cret@10.0.0.5:6379/2", "redis://***@10.0.0.5:6379/2"),
            ("redis://user:s3cret@host", "redis://***@host"),
            ("redis://host:6379/a@b", "redis://host:6379/a@b"),
            ("redis+cluster://:pw@h1:7000,h2:7001", "redis+cluster://***@h1:7000,h2:7001"),
            ("redis+sentinel://:pw@h1:26379/mymaster/2", "redis+sentinel://***@h1:26379/mymaster/2"),
            ("sqlite://we@ird.db", "sqlite://we@ird.db"),
        ] {
            assert_eq!(redacted(url), shown);
        }
    }

    /// The conformance suite every backend must pass.
    pub(crate) async fn store_works(store: &Store) {
        // The real clock: Redis expires keys on it.
        let now = crate::clock::now_secs();
        store.ping().await.unwrap();

        let site = SiteRecord {
            site_key: "site_a".into(),
            name: "A".into(),
            origins: vec!["https://a.example".into()],
            threshold: 50,
            step_up: StepUpPolicy::Always,
            api_key_hash: [1; 32],
            created_at: now,
        };
        store.add_site(site.clone()).await.unwrap();
        assert!(store.add_site(site.clone()).await.is_err(), "duplicate site key refused");
        assert_eq!(store.sites().await.unwrap(), vec![site.clone()]);
        assert!(store.set_api_key_hash("site_a", [2; 32]).await.unwrap());
        assert!(!store.set_api_key_hash("site_missing", [2; 32]).await.unwrap());
        assert_eq!(store.sites().await.unwrap()[0].api_key_hash, [2; 32]);

        let k1 = KeyRecord { kid: "k1".into(), secret: [7; 32], created_at: now, retired_at: None };
        let keys = store.ensure_key(k1.clone()).await.unwrap();
        assert_eq!(keys, vec![k1.clone()]);
        let k1b = KeyRecord { kid: "k1b".into(), ..k1.clone() };
        assert_eq!(store.ensure_key(k1b).await.unwrap(), vec![k1.clone()], "an active key is kept");
        let k2 = KeyRecord { kid: "k2".into(), secret: [8; 32], created_at: now + 1, retired_at: None };
        store.rotate_key(k2.clone(), now + 1).await.unwrap();
        let keys = store.keys().await.unwrap();
        assert_eq!(keys[0], k2);
        assert_eq!(keys[1].retired_at, Some(now + 1));

        store.create_session(session("co_1", "site_a", now), now + 900).await.unwrap();
        assert_eq!(store.peek_session("co_1").await.unwrap(), Some(session("co_1", "site_a", now)));
        assert_eq!(store.peek_session("co_none").await.unwrap(), None);
        assert_eq!(store.claim_session("co_1", now).await.unwrap(), Ok(session("co_1", "site_a", now)));
        assert_eq!(store.claim_session("co_1", now).await.unwrap(), Err(ClaimError::Used));
        assert_eq!(store.claim_session("co_none", now).await.unwrap(), Err(ClaimError::NotFound));
        store.create_session(session("co_2", "site_a", now), now + 900).await.unwrap();
        assert_eq!(store.claim_session("co_2", now + 601).await.unwrap(), Err(ClaimError::Expired));

        let reasons = vec!["rate".to_string()];
        let v = VerdictRecord {
            session_id: "co_1".into(),
            site_key: "site_a".into(),
            score: 10,
            reasons: reasons.clone(),
            purge_after: now + 900,
        };
        store.record_verdict(v, now).await.unwrap();

        let c = consumption("j1", "site_a", now, Some("retry-1"));
        assert_eq!(store.consume(c.clone()).await.unwrap(), Consumed::First { reasons: reasons.clone() });
        assert_eq!(store.consume(c.clone()).await.unwrap(), Consumed::Retry { reasons });
        assert_eq!(store.consume(consumption("j1", "site_a", now, None)).await.unwrap(), Consumed::Replay);
        assert_eq!(store.consume(consumption("j1", "site_a", now, Some("other"))).await.unwrap(), Consumed::Replay);
        let mut bot = consumption("j2", "site_a", now, None);
        bot.score = 95;
        bot.classification = Classification::Bot;
        assert!(matches!(store.consume(bot).await.unwrap(), Consumed::First { .. }));

        let (dist, usage) = store.summary("site_a").await.unwrap();
        assert_eq!((dist.total, dist.human, dist.bot), (2, 1, 1));
        assert!((dist.avg_score - 52.5).abs() < 1e-9);
        assert_eq!(usage.len(), 1);
        assert_eq!((usage[0].total_inits, usage[0].total_scores, usage[0].total_verifications), (2, 1, 2));
        let recent = store.recent("site_a", 10).await.unwrap();
        assert_eq!(recent.len(), 2);
        assert_eq!(recent[0].score, 95, "newest first");
        assert_eq!(store.recent("site_a", 1).await.unwrap().len(), 1);
        let month = year_month(now);
        let d = store.distribution("site_a", &month).await.unwrap();
        assert_eq!(d.histogram[1], 1);
        assert_eq!(d.histogram[9], 1);
        assert_eq!(store.distribution("site_a", "1999-01").await.unwrap().distribution.total, 0);

        // The recent list is a ring of `recent_keep` (2 here): a third
        // verification replaces the oldest.
        let mut third = consumption("j3", "site_a", now, None);
        third.score = 40;
        third.classification = Classification::Suspicious;
        assert!(matches!(store.consume(third).await.unwrap(), Consumed::First { .. }));
        let scores: Vec<u8> = store.recent("site_a", 10).await.unwrap().iter().map(|r| r.score).collect();
        assert_eq!(scores, vec![40, 95], "newest first, the oldest replaced");

        // Challenges are taken once; purging forgets expired ones only.
        let challenge = |id: &str, expires_at| ChallengeRecord {
            id: id.into(),
            site_key: Some("site_a".into()),
            answer: "5K2P".into(),
            check: Check::Text(crate::challenge::Kind::Alphanumeric),
            lang: Lang::Fr,
            expires_at,
            step_up: Some(PendingVerdict {
                session_id: "co_1".into(),
                binding: None,
                hostname: "a.example".into(),
                action: None,
                cdata: Some("x".into()),
                score: 40,
                reasons: vec!["no_pointer".into()],
                attempts_left: 3,
                refreshes_left: 5,
            }),
        };
        store.put_challenge(challenge("ch_1", now + 300)).await.unwrap();
        store.put_challenge(challenge("ch_2", now + 5)).await.unwrap();
        assert_eq!(store.peek_challenge("ch_1").await.unwrap(), Some(challenge("ch_1", now + 300)));
        assert_eq!(store.peek_challenge("ch_1").await.unwrap(), Some(challenge("ch_1", now + 300)), "peek keeps it");
        assert_eq!(store.take_challenge("ch_1").await.unwrap(), Some(challenge("ch_1", now + 300)));
        assert_eq!(store.take_challenge("ch_1").await.unwrap(), None, "taken once");
        assert_eq!(store.peek_challenge("ch_1").await.unwrap(), None);
        assert_eq!(store.take_challenge("ch_none").await.unwrap(), None);

        // Purging never forgets a token id before its expiry.
        store.purge(now + 10).await.unwrap();
        assert_eq!(store.consume(consumption("j1", "site_a", now, None)).await.unwrap(), Consumed::Replay);
        // After expiry, SQLite's purge forgets challenges and sessions;
        // Redis's TTLs do that on the real clock (`redis::tests`).
        if store.architecture() == "sqlite" {
            assert_eq!(store.peek_challenge("ch_2").await.unwrap(), None, "expired challenge purged");
            store.purge(now + 10_000).await.unwrap();
            assert_eq!(store.claim_session("co_1", now).await.unwrap(), Err(ClaimError::NotFound));
        }
    }
}
