//! The embedded store: one SQLite file in WAL mode, owned by one thread.
//!
//! Every request becomes a job on a bounded queue. The thread takes all jobs
//! waiting (up to `BATCH_MAX`), runs them in one transaction and answers
//! them only after the commit: a group commit. Under load many `/verify`
//! calls share one commit, which is what keeps single use durable without an
//! fsync or a lock per token. With `synchronous = normal` a commit survives a
//! crash or `SIGKILL` of the process; with `full` also a power loss.

use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;

use oculto_shared::api::{Classification, Distribution, RecentVerification, StatsDistribution, UsageMonth};
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::oneshot;

use super::{
    average, year_month, ChallengeRecord, ClaimError, Consumed, Consumption, KeyRecord, SessionRecord, SiteRecord,
    StepUpPolicy, StoreError, VerdictRecord,
};

/// Most jobs in one transaction.
const BATCH_MAX: usize = 1024;
/// Most jobs waiting; beyond, callers get `store_unavailable` at once.
const QUEUE_MAX: usize = 16 * 1024;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sites(
  site_key TEXT PRIMARY KEY, name TEXT NOT NULL, origins TEXT NOT NULL,
  threshold INTEGER NOT NULL, api_key_hash BLOB NOT NULL UNIQUE, created_at INTEGER NOT NULL,
  step_up TEXT NOT NULL DEFAULT 'suspicious');
CREATE TABLE IF NOT EXISTS signing_keys(
  kid TEXT PRIMARY KEY, secret BLOB NOT NULL, created_at INTEGER NOT NULL, retired_at INTEGER);
CREATE TABLE IF NOT EXISTS sessions(
  id TEXT PRIMARY KEY, site_key TEXT NOT NULL, salt TEXT NOT NULL, difficulty INTEGER NOT NULL,
  created_ms INTEGER NOT NULL, expires_at INTEGER NOT NULL, hostname TEXT NOT NULL,
  action TEXT, cdata TEXT, flooded INTEGER NOT NULL, state INTEGER NOT NULL DEFAULT 0,
  score INTEGER, reasons TEXT, purge_after INTEGER NOT NULL, binding TEXT);
CREATE INDEX IF NOT EXISTS sessions_purge ON sessions(purge_after);
-- Keyed by expiry first: tokens come back in about the order they were
-- made, so new ids land on the last pages of the tree and a group commit
-- writes a few pages, not one random page per token. A jti has one exp (both
-- are signed claims), so (exp, jti) is as unique as jti.
CREATE TABLE IF NOT EXISTS spent_tokens(
  exp INTEGER NOT NULL, jti TEXT NOT NULL, site_key TEXT NOT NULL, idem TEXT,
  PRIMARY KEY(exp, jti)) WITHOUT ROWID;
-- The last `recent_keep` verifications of each site, as a ring: entry `seq`
-- goes to slot `seq % recent_keep`, replacing the oldest. It never needs
-- trimming, so no mass delete ever stalls the store.
CREATE TABLE IF NOT EXISTS recent(
  site_key TEXT NOT NULL, slot INTEGER NOT NULL, seq INTEGER NOT NULL, verified_at INTEGER NOT NULL,
  session_id TEXT NOT NULL, score INTEGER NOT NULL, cls TEXT NOT NULL, hostname TEXT NOT NULL,
  action TEXT, reasons TEXT NOT NULL,
  PRIMARY KEY(site_key, slot)) WITHOUT ROWID;
-- Challenges waiting for an answer; `body` is a ChallengeRecord as JSON.
CREATE TABLE IF NOT EXISTS challenges(id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS challenges_expiry ON challenges(expires_at);
CREATE TABLE IF NOT EXISTS usage(
  site_key TEXT NOT NULL, ym TEXT NOT NULL,
  inits INTEGER NOT NULL DEFAULT 0, scores INTEGER NOT NULL DEFAULT 0,
  verifications INTEGER NOT NULL DEFAULT 0, human INTEGER NOT NULL DEFAULT 0,
  suspicious INTEGER NOT NULL DEFAULT 0, bot INTEGER NOT NULL DEFAULT 0,
  score_sum INTEGER NOT NULL DEFAULT 0,
  h0 INTEGER NOT NULL DEFAULT 0, h1 INTEGER NOT NULL DEFAULT 0, h2 INTEGER NOT NULL DEFAULT 0,
  h3 INTEGER NOT NULL DEFAULT 0, h4 INTEGER NOT NULL DEFAULT 0, h5 INTEGER NOT NULL DEFAULT 0,
  h6 INTEGER NOT NULL DEFAULT 0, h7 INTEGER NOT NULL DEFAULT 0, h8 INTEGER NOT NULL DEFAULT 0,
  h9 INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(site_key, ym)) WITHOUT ROWID;
";

type Reply = Box<dyn FnOnce(bool) + Send>;
type Job = Box<dyn FnOnce(&Connection, &mut Batch) -> Reply + Send>;

/// What the store thread keeps between jobs: the counters a batch adds up
/// before its commit, each site's next place in its `recent` ring, and the
/// reasons of recent verdicts.
struct Batch {
    usage: HashMap<(String, String), UsageDelta>,
    next_seq: HashMap<String, u64>,
    recent_keep: u64,
    reasons: ReasonCache,
}

/// Most verdicts whose reasons are held in memory.
const REASONS_HELD: usize = 100_000;

/// The reasons of verdicts given by this process, so that `/verify` need
/// not read each session's row back (a random page per token: a quarter of
/// the store thread's time under load). The database stays the truth: a
/// miss (another process, a restart, an evicted entry) reads it.
#[derive(Default)]
struct ReasonCache {
    by_session: HashMap<String, Vec<String>>,
    /// Sessions in the order they were added, with when they may go.
    order: std::collections::VecDeque<(u64, String)>,
}

impl ReasonCache {
    fn insert(&mut self, session_id: String, reasons: Vec<String>, purge_after: u64) {
        while self.order.len() >= REASONS_HELD {
            if let Some((_, old)) = self.order.pop_front() {
                self.by_session.remove(&old);
            }
        }
        self.order.push_back((purge_after, session_id.clone()));
        self.by_session.insert(session_id, reasons);
    }

    /// Forgets entries past their time.
    fn expire(&mut self, now: u64) {
        while self.order.front().is_some_and(|(t, _)| *t < now) {
            if let Some((_, old)) = self.order.pop_front() {
                self.by_session.remove(&old);
            }
        }
    }

    /// The reasons of a session: from memory, else from its row.
    fn get(&self, c: &Connection, session_id: &str) -> rusqlite::Result<Vec<String>> {
        match self.by_session.get(session_id) {
            Some(r) => Ok(r.clone()),
            None => session_reasons(c, session_id),
        }
    }
}

impl Batch {
    /// The next sequence number of a site's `recent` ring.
    fn next_seq(&mut self, c: &Connection, site_key: &str) -> rusqlite::Result<u64> {
        let seq = match self.next_seq.get(site_key) {
            Some(&s) => s,
            None => c
                .prepare_cached("SELECT coalesce(max(seq) + 1, 0) FROM recent WHERE site_key = ?")?
                .query_row([site_key], |r| r.get(0))?,
        };
        self.next_seq.insert(site_key.to_owned(), seq + 1);
        Ok(seq)
    }
}

#[derive(Default)]
struct UsageDelta {
    inits: u64,
    scores: u64,
    verifications: u64,
    classes: [u64; 3],
    score_sum: u64,
    histogram: [u64; 10],
}

/// The SQLite backend: a handle to the thread that owns the connection.
pub struct SqliteStore {
    jobs: Option<SyncSender<Job>>,
    thread: Option<JoinHandle<()>>,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn connect(path: &str, synchronous_full: bool) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", if synchronous_full { "FULL" } else { "NORMAL" })?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.execute_batch(SCHEMA)?;
    migrate(&conn)?;
    Ok(conn)
}

/// Brings a database made by an earlier version up to this schema.
fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let has_binding: i64 =
        conn.query_row("SELECT count(*) FROM pragma_table_info('sessions') WHERE name = 'binding'", [], |r| r.get(0))?;
    if has_binding == 0 {
        conn.execute_batch("ALTER TABLE sessions ADD COLUMN binding TEXT")?;
    }
    let has_step_up: i64 =
        conn.query_row("SELECT count(*) FROM pragma_table_info('sites') WHERE name = 'step_up'", [], |r| r.get(0))?;
    if has_step_up == 0 {
        conn.execute_batch("ALTER TABLE sites ADD COLUMN step_up TEXT NOT NULL DEFAULT 'suspicious'")?;
    }
    // Token ids were keyed by jti alone in `used_tokens`: move them, so that
    // they stay spent.
    let has_used_tokens: i64 =
        conn.query_row("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'used_tokens'", [], |r| {
            r.get(0)
        })?;
    // Recent verifications were a growing table trimmed every minute.
    conn.execute_batch("DROP TABLE IF EXISTS verifications")?;
    if has_used_tokens > 0 {
        conn.execute_batch(
            "BEGIN IMMEDIATE;
             INSERT OR IGNORE INTO spent_tokens(exp, jti, site_key, idem) SELECT exp, jti, site_key, idem FROM used_tokens;
             DROP TABLE used_tokens;
             COMMIT;",
        )?;
    }
    Ok(())
}

#[cfg(unix)]
fn restrict_permissions(path: &str) {
    use std::os::unix::fs::PermissionsExt;
    // The database holds the private signing keys: owner only.
    for p in [path.to_owned(), format!("{path}-wal"), format!("{path}-shm")] {
        if Path::new(&p).exists() {
            if let Err(e) = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)) {
                tracing::warn!(path = %p, error = %e, "cannot restrict permissions");
            }
        }
    }
}

#[cfg(not(unix))]
fn restrict_permissions(_path: &str) {}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and starts its
    /// thread.
    pub fn open(path: &str, options: super::StoreOptions) -> Result<Self, StoreError> {
        let synchronous_full = options.synchronous_full;
        let recent_keep = u64::from(options.recent_keep.max(1));
        if let Some(dir) = Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(unavailable)?;
        }
        let conn = connect(path, synchronous_full).map_err(unavailable)?;
        restrict_permissions(path);
        let (tx, rx) = sync_channel::<Job>(QUEUE_MAX);
        let thread = std::thread::Builder::new()
            .name("oculto-sqlite".into())
            .spawn(move || run(conn, rx, recent_keep))
            .map_err(unavailable)?;
        Ok(Self { jobs: Some(tx), thread: Some(thread) })
    }

    /// Runs `f` on the store's thread inside the current batch's
    /// transaction, and returns its result once that transaction committed.
    async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &mut Batch) -> rusqlite::Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn, batch| {
            let out = f(conn, batch).map_err(unavailable);
            Box::new(move |committed| {
                let out = if committed { out } else { Err(StoreError::Unavailable("commit failed".into())) };
                let _ = tx.send(out);
            })
        });
        let jobs = self.jobs.as_ref().ok_or_else(|| unavailable("store closed"))?;
        jobs.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => unavailable("store queue full"),
            TrySendError::Disconnected(_) => unavailable("store thread stopped"),
        })?;
        rx.await.map_err(|_| unavailable("store thread stopped"))?
    }

    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        self.call(|c, _| c.query_row("SELECT 1", [], |_| Ok(()))).await
    }

    pub(crate) async fn add_site(&self, s: SiteRecord) -> Result<(), StoreError> {
        self.call(move |c, _| {
            c.execute(
                "INSERT INTO sites(site_key, name, origins, threshold, step_up, api_key_hash, created_at)
                 VALUES(?,?,?,?,?,?,?)",
                params![
                    s.site_key,
                    s.name,
                    s.origins.join(" "),
                    s.threshold,
                    s.step_up.as_str(),
                    &s.api_key_hash[..],
                    s.created_at
                ],
            )
            .map(drop)
        })
        .await
    }

    pub(crate) async fn sites(&self) -> Result<Vec<SiteRecord>, StoreError> {
        self.call(|c, _| {
            let mut st = c.prepare_cached(
                "SELECT site_key, name, origins, threshold, api_key_hash, created_at, step_up FROM sites
                 ORDER BY created_at, site_key",
            )?;
            let rows = st.query_map([], |r| {
                let origins: String = r.get(2)?;
                let hash: Vec<u8> = r.get(4)?;
                let step_up: String = r.get(6)?;
                Ok(SiteRecord {
                    site_key: r.get(0)?,
                    name: r.get(1)?,
                    origins: origins.split_whitespace().map(String::from).collect(),
                    threshold: r.get(3)?,
                    step_up: StepUpPolicy::parse(&step_up),
                    api_key_hash: hash.try_into().unwrap_or([0; 32]),
                    created_at: r.get(5)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    pub(crate) async fn set_api_key_hash(&self, site_key: String, hash: [u8; 32]) -> Result<bool, StoreError> {
        self.call(move |c, _| {
            c.execute("UPDATE sites SET api_key_hash = ? WHERE site_key = ?", params![&hash[..], site_key])
                .map(|n| n == 1)
        })
        .await
    }

    pub(crate) async fn keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        self.call(|c, _| load_keys(c)).await
    }

    pub(crate) async fn rotate_key(&self, k: KeyRecord, now: u64) -> Result<(), StoreError> {
        self.call(move |c, _| {
            c.execute("UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NULL", [now])?;
            insert_key(c, &k)
        })
        .await
    }

    pub(crate) async fn ensure_key(&self, k: KeyRecord) -> Result<Vec<KeyRecord>, StoreError> {
        self.call(move |c, _| {
            let active: i64 =
                c.query_row("SELECT count(*) FROM signing_keys WHERE retired_at IS NULL", [], |r| r.get(0))?;
            if active == 0 {
                insert_key(c, &k)?;
            }
            load_keys(c)
        })
        .await
    }

    pub(crate) async fn create_session(&self, s: SessionRecord, purge_after: u64) -> Result<(), StoreError> {
        self.call(move |c, b| {
            c.prepare_cached(
                "INSERT INTO sessions(id, site_key, salt, difficulty, created_ms, expires_at, hostname, action, cdata, flooded, purge_after, binding)
                 VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
            )?
            .execute(params![
                s.id, s.site_key, s.salt, s.difficulty, s.created_ms, s.expires_at, s.hostname, s.action, s.cdata,
                s.flooded, purge_after, s.binding
            ])?;
            b.usage.entry((s.site_key, year_month(s.created_ms / 1000))).or_default().inits += 1;
            Ok(())
        })
        .await
    }

    pub(crate) async fn peek_session(&self, id: String) -> Result<Option<SessionRecord>, StoreError> {
        self.call(move |c, _| Ok(read_session(c, &id)?.map(|(s, _)| s))).await
    }

    pub(crate) async fn claim_session(
        &self,
        id: String,
        now: u64,
    ) -> Result<Result<SessionRecord, ClaimError>, StoreError> {
        self.call(move |c, _| {
            let Some((session, state)) = read_session(c, &id)? else { return Ok(Err(ClaimError::NotFound)) };
            if state != 0 {
                return Ok(Err(ClaimError::Used));
            }
            if session.expires_at <= now {
                return Ok(Err(ClaimError::Expired));
            }
            c.prepare_cached("UPDATE sessions SET state = 1 WHERE id = ?")?.execute([&id])?;
            Ok(Ok(session))
        })
        .await
    }

    pub(crate) async fn record_verdict(&self, v: VerdictRecord, now: u64) -> Result<(), StoreError> {
        self.call(move |c, b| {
            let reasons = serde_json::to_string(&v.reasons).unwrap_or_else(|_| "[]".into());
            c.prepare_cached(
                "UPDATE sessions SET state = 2, score = ?, reasons = ?, purge_after = max(purge_after, ?) WHERE id = ?",
            )?
            .execute(params![v.score, reasons, v.purge_after, v.session_id])?;
            b.usage.entry((v.site_key, year_month(now))).or_default().scores += 1;
            b.reasons.insert(v.session_id, v.reasons, v.purge_after);
            Ok(())
        })
        .await
    }

    pub(crate) async fn consume(&self, k: Consumption) -> Result<Consumed, StoreError> {
        self.call(move |c, b| {
            let inserted = c
                .prepare_cached(
                    "INSERT INTO spent_tokens(exp, jti, site_key, idem) VALUES(?,?,?,?) ON CONFLICT DO NOTHING",
                )?
                .execute(params![k.exp, k.jti, k.site_key, k.idempotency_key])?;
            if inserted == 0 {
                let idem: Option<String> = c
                    .prepare_cached("SELECT idem FROM spent_tokens WHERE exp = ? AND jti = ?")?
                    .query_row(params![k.exp, k.jti], |r| r.get(0))
                    .optional()?
                    .flatten();
                return match (idem, &k.idempotency_key) {
                    (Some(first), Some(again)) if first == *again => {
                        Ok(Consumed::Retry { reasons: b.reasons.get(c, &k.session_id)? })
                    }
                    _ => Ok(Consumed::Replay),
                };
            }
            let reasons = b.reasons.get(c, &k.session_id)?;
            let seq = b.next_seq(c, &k.site_key)?;
            c.prepare_cached(
                "INSERT OR REPLACE INTO recent(site_key, slot, seq, verified_at, session_id, score, cls, hostname, action, reasons)
                 VALUES(?,?,?,?,?,?,?,?,?,?)",
            )?
            .execute(params![
                k.site_key,
                seq % b.recent_keep,
                seq,
                k.now,
                k.session_id,
                k.score,
                k.classification.as_str(),
                k.hostname,
                k.action,
                serde_json::to_string(&reasons).unwrap_or_else(|_| "[]".into())
            ])?;
            let d = b.usage.entry((k.site_key, year_month(k.now))).or_default();
            d.verifications += 1;
            d.classes[class_index(k.classification)] += 1;
            d.score_sum += u64::from(k.score);
            d.histogram[usize::from(k.score.min(99) / 10)] += 1;
            Ok(Consumed::First { reasons })
        })
        .await
    }

    pub(crate) async fn summary(&self, site_key: String) -> Result<(Distribution, Vec<UsageMonth>), StoreError> {
        self.call(move |c, _| {
            let mut st = c.prepare_cached(
                "SELECT ym, inits, scores, verifications, human, suspicious, bot, score_sum FROM usage
                 WHERE site_key = ? ORDER BY ym DESC",
            )?;
            let mut dist = Distribution::default();
            let mut sum = 0u64;
            let usage = st
                .query_map([&site_key], |r| {
                    Ok((
                        UsageMonth {
                            year_month: r.get(0)?,
                            total_inits: r.get(1)?,
                            total_scores: r.get(2)?,
                            total_verifications: r.get(3)?,
                            total_human: r.get(4)?,
                            total_suspicious: r.get(5)?,
                            total_bot: r.get(6)?,
                        },
                        r.get::<_, u64>(7)?,
                    ))
                })?
                .map(|row| {
                    let (u, s) = row?;
                    dist.total += u.total_verifications;
                    dist.human += u.total_human;
                    dist.suspicious += u.total_suspicious;
                    dist.bot += u.total_bot;
                    sum += s;
                    Ok(u)
                })
                .collect::<rusqlite::Result<Vec<_>>>()?;
            dist.avg_score = average(sum, dist.total);
            Ok((dist, usage))
        })
        .await
    }

    pub(crate) async fn recent(&self, site_key: String, limit: u32) -> Result<Vec<RecentVerification>, StoreError> {
        self.call(move |c, _| {
            let mut st = c.prepare_cached(
                "SELECT verified_at, session_id, score, cls, hostname, action, reasons FROM recent
                 WHERE site_key = ? ORDER BY seq DESC LIMIT ?",
            )?;
            let rows = st.query_map(params![site_key, limit], |r| {
                let reasons: String = r.get(6)?;
                let cls: String = r.get(3)?;
                Ok(RecentVerification {
                    verified_at: crate::clock::rfc3339(r.get(0)?),
                    session_id: r.get(1)?,
                    score: r.get(2)?,
                    classification: parse_class(&cls),
                    hostname: r.get(4)?,
                    action: r.get(5)?,
                    reasons: serde_json::from_str(&reasons).unwrap_or_default(),
                })
            })?;
            rows.collect()
        })
        .await
    }

    pub(crate) async fn distribution(&self, site_key: String, month: String) -> Result<StatsDistribution, StoreError> {
        self.call(move |c, _| {
            let row = c
                .prepare_cached(
                    "SELECT verifications, human, suspicious, bot, score_sum, h0, h1, h2, h3, h4, h5, h6, h7, h8, h9
                     FROM usage WHERE site_key = ? AND ym = ?",
                )?
                .query_row(params![site_key, month], |r| {
                    let mut h = [0u64; 10];
                    for (i, slot) in h.iter_mut().enumerate() {
                        *slot = r.get(5 + i)?;
                    }
                    let total: u64 = r.get(0)?;
                    Ok((
                        Distribution {
                            total,
                            human: r.get(1)?,
                            suspicious: r.get(2)?,
                            bot: r.get(3)?,
                            avg_score: average(r.get(4)?, total),
                        },
                        h,
                    ))
                })
                .optional()?;
            let (distribution, histogram) = row.unwrap_or_default();
            Ok(StatsDistribution { month, distribution, histogram })
        })
        .await
    }

    pub(crate) async fn put_challenge(&self, ch: ChallengeRecord) -> Result<(), StoreError> {
        let body = serde_json::to_string(&ch).map_err(unavailable)?;
        self.call(move |c, _| {
            c.prepare_cached("INSERT INTO challenges(id, expires_at, body) VALUES(?,?,?)")?
                .execute(params![ch.id, ch.expires_at, body])
                .map(drop)
        })
        .await
    }

    pub(crate) async fn peek_challenge(&self, id: String) -> Result<Option<ChallengeRecord>, StoreError> {
        let body: Option<String> = self
            .call(move |c, _| {
                c.prepare_cached("SELECT body FROM challenges WHERE id = ?")?.query_row([id], |r| r.get(0)).optional()
            })
            .await?;
        parse_challenge(body)
    }

    pub(crate) async fn take_challenge(&self, id: String) -> Result<Option<ChallengeRecord>, StoreError> {
        let body: Option<String> = self
            .call(move |c, _| {
                c.prepare_cached("DELETE FROM challenges WHERE id = ? RETURNING body")?
                    .query_row([id], |r| r.get(0))
                    .optional()
            })
            .await?;
        parse_challenge(body)
    }

    pub(crate) async fn purge(&self, now: u64) -> Result<u64, StoreError> {
        self.call(move |c, b| {
            let mut n = c.execute("DELETE FROM spent_tokens WHERE exp < ?", [now.saturating_sub(60)])?;
            n += c.execute("DELETE FROM challenges WHERE expires_at < ?", [now])?;
            n += c.execute("DELETE FROM sessions WHERE purge_after < ?", [now])?;
            // Only after `recent_keep` was lowered: slots past the ring.
            n += c.execute("DELETE FROM recent WHERE slot >= ?", [b.recent_keep])?;
            b.reasons.expire(now);
            Ok(n as u64)
        })
        .await
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Closing the queue lets the thread finish the jobs it has, then stop.
        self.jobs.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn class_index(c: Classification) -> usize {
    match c {
        Classification::Human => 0,
        Classification::Suspicious => 1,
        Classification::Bot => 2,
    }
}

fn parse_class(s: &str) -> Classification {
    match s {
        "human" => Classification::Human,
        "suspicious" => Classification::Suspicious,
        _ => Classification::Bot,
    }
}

/// A session and its state (0 new, 1 being scored, 2 scored).
fn read_session(c: &Connection, id: &str) -> rusqlite::Result<Option<(SessionRecord, i64)>> {
    c.prepare_cached(
        "SELECT site_key, salt, difficulty, created_ms, expires_at, hostname, action, cdata, flooded, state, binding
         FROM sessions WHERE id = ?",
    )?
    .query_row([id], |r| {
        Ok((
            SessionRecord {
                id: id.to_owned(),
                site_key: r.get(0)?,
                salt: r.get(1)?,
                difficulty: r.get(2)?,
                created_ms: r.get(3)?,
                expires_at: r.get(4)?,
                hostname: r.get(5)?,
                action: r.get(6)?,
                cdata: r.get(7)?,
                flooded: r.get(8)?,
                binding: r.get(10)?,
            },
            r.get(9)?,
        ))
    })
    .optional()
}

/// A challenge's stored body, parsed.
fn parse_challenge(body: Option<String>) -> Result<Option<ChallengeRecord>, StoreError> {
    body.map(|b| serde_json::from_str(&b).map_err(unavailable)).transpose()
}

fn session_reasons(c: &Connection, session_id: &str) -> rusqlite::Result<Vec<String>> {
    let text: Option<String> = c
        .prepare_cached("SELECT reasons FROM sessions WHERE id = ?")?
        .query_row([session_id], |r| r.get(0))
        .optional()?
        .flatten();
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default())
}

fn insert_key(c: &Connection, k: &KeyRecord) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO signing_keys(kid, secret, created_at, retired_at) VALUES(?,?,?,?)",
        params![k.kid, &k.secret[..], k.created_at, k.retired_at],
    )
    .map(drop)
}

fn load_keys(c: &Connection) -> rusqlite::Result<Vec<KeyRecord>> {
    let mut st = c.prepare_cached(
        "SELECT kid, secret, created_at, retired_at FROM signing_keys ORDER BY created_at DESC, rowid DESC",
    )?;
    let rows = st.query_map([], |r| {
        let secret: Vec<u8> = r.get(1)?;
        Ok(KeyRecord {
            kid: r.get(0)?,
            secret: secret.try_into().unwrap_or([0; 32]),
            created_at: r.get(2)?,
            retired_at: r.get(3)?,
        })
    })?;
    rows.collect()
}

fn flush_usage(c: &Connection, batch: &mut Batch) -> rusqlite::Result<()> {
    let mut st = c.prepare_cached(
        "INSERT INTO usage(site_key, ym, inits, scores, verifications, human, suspicious, bot, score_sum,
                           h0, h1, h2, h3, h4, h5, h6, h7, h8, h9)
         VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
         ON CONFLICT(site_key, ym) DO UPDATE SET
           inits = inits + excluded.inits, scores = scores + excluded.scores,
           verifications = verifications + excluded.verifications, human = human + excluded.human,
           suspicious = suspicious + excluded.suspicious, bot = bot + excluded.bot,
           score_sum = score_sum + excluded.score_sum,
           h0 = h0 + excluded.h0, h1 = h1 + excluded.h1, h2 = h2 + excluded.h2, h3 = h3 + excluded.h3,
           h4 = h4 + excluded.h4, h5 = h5 + excluded.h5, h6 = h6 + excluded.h6, h7 = h7 + excluded.h7,
           h8 = h8 + excluded.h8, h9 = h9 + excluded.h9",
    )?;
    for ((site, ym), d) in batch.usage.drain() {
        let h = d.histogram;
        st.execute(params![
            site,
            ym,
            d.inits,
            d.scores,
            d.verifications,
            d.classes[0],
            d.classes[1],
            d.classes[2],
            d.score_sum,
            h[0],
            h[1],
            h[2],
            h[3],
            h[4],
            h[5],
            h[6],
            h[7],
            h[8],
            h[9]
        ])?;
    }
    Ok(())
}

/// The store thread: take every waiting job, run them in one transaction,
/// commit, then answer them.
fn run(conn: Connection, jobs: Receiver<Job>, recent_keep: u64) {
    let mut replies: Vec<Reply> = Vec::with_capacity(BATCH_MAX);
    let mut batch =
        Batch { usage: HashMap::new(), next_seq: HashMap::new(), recent_keep, reasons: ReasonCache::default() };
    while let Ok(first) = jobs.recv() {
        let began = conn.execute_batch("BEGIN IMMEDIATE");
        if let Err(e) = &began {
            tracing::error!(error = %e, "cannot begin a transaction");
        }
        replies.push(first(&conn, &mut batch));
        while replies.len() < BATCH_MAX {
            match jobs.try_recv() {
                Ok(job) => replies.push(job(&conn, &mut batch)),
                Err(_) => break,
            }
        }
        let committed = began.is_ok()
            && flush_usage(&conn, &mut batch)
                .and_then(|()| conn.execute_batch("COMMIT"))
                .map_err(|e| {
                    tracing::error!(error = %e, "commit failed");
                    let _ = conn.execute_batch("ROLLBACK");
                })
                .is_ok();
        for reply in replies.drain(..) {
            reply(committed);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::super::Store;

    /// A path for a new database named `name`, in a folder of this test run.
    fn fresh_db(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("oculto-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        let _ = std::fs::remove_file(&path);
        path
    }

    /// Reasons come from memory in the process that gave the verdict, and
    /// from the session's row in any other (here: after a restart).
    #[tokio::test]
    async fn reasons_survive_a_restart() {
        use crate::store::tests::{consumption, session};
        use crate::store::{Consumed, VerdictRecord};
        let url = format!("sqlite://{}", fresh_db("reasons.db").display());
        let now = 1_790_000_000;
        {
            let store = Store::open(&url, Default::default()).unwrap();
            store.create_session(session("co_r", "site_a", now), now + 900).await.unwrap();
            let reasons = vec!["no_pointer".to_string()];
            let v = VerdictRecord {
                session_id: "co_r".into(),
                site_key: "site_a".into(),
                score: 8,
                reasons,
                purge_after: now + 900,
            };
            store.record_verdict(v, now).await.unwrap();
        }
        let store = Store::open(&url, Default::default()).unwrap();
        let c = crate::store::Consumption { session_id: "co_r".into(), ..consumption("j_r", "site_a", now, None) };
        assert_eq!(store.consume(c).await.unwrap(), Consumed::First { reasons: vec!["no_pointer".into()] });
    }

    #[tokio::test]
    async fn sqlite_store_works() {
        let path = fresh_db("conformance.db");
        let options = super::super::StoreOptions { recent_keep: 2, ..Default::default() };
        let store = Store::open(&format!("sqlite://{}", path.display()), options).unwrap();
        super::super::tests::store_works(&store).await;
    }

    /// Token ids spent before `spent_tokens` existed stay spent (issue 2 moved
    /// them there).
    #[tokio::test]
    async fn old_spent_tokens_stay_spent() {
        use super::super::Consumed;

        let path = fresh_db("old.db");
        let old = rusqlite::Connection::open(&path).unwrap();
        old.execute_batch(
            "CREATE TABLE used_tokens(jti TEXT PRIMARY KEY, site_key TEXT NOT NULL, exp INTEGER NOT NULL, idem TEXT) WITHOUT ROWID;
             INSERT INTO used_tokens VALUES('j_old', 'site_a', 1790000300, NULL);",
        )
        .unwrap();
        drop(old);
        let store = Store::open(&format!("sqlite://{}", path.display()), Default::default()).unwrap();
        // Spent at exp 1_790_000_300 in the old table: still spent.
        let c = crate::store::tests::consumption("j_old", "site_a", 1_790_000_000, None);
        assert_eq!(store.consume(c).await.unwrap(), Consumed::Replay);
    }
}
