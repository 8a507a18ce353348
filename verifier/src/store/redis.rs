//! The distributed store: one Redis (or Valkey) shared by every verifier
//! node, so that a token made on one node verifies on any other, and only
//! once. Redis is reached in one of three ways ([`RedisStore::open`]):
//!
//! - `redis://HOST:PORT[/DB]`: one server;
//! - `redis+sentinel://HOST:PORT[,HOST:PORT...]/MASTER[/DB][?wait_replicas=N]`:
//!   the master that Sentinel names, asked again whenever a command fails,
//!   so that a node follows a failover by itself; a spent token id is
//!   confirmed by `N` replicas (1 unless said) before its token is accepted;
//! - `redis+cluster://HOST:PORT[,HOST:PORT...]`: a Redis Cluster, from
//!   these seed nodes.
//!
//! # Keys
//!
//! What scripts touch together shares the hash tag `{oculto}`, so that a
//! Cluster keeps it on one slot; what is looked up by its own id lives
//! under `oculto:` on any slot:
//!
//! | key | type | what |
//! |---|---|---|
//! | `{oculto}:sites` | set | every site key |
//! | `{oculto}:site:{site_key}` | hash | name, origins, threshold, step_up, api_key_hash (hex), created_at |
//! | `{oculto}:api_key:{hash}` | string | the site owning an API key hash (keeps hashes unique) |
//! | `{oculto}:keys` | list | signing key ids, newest first |
//! | `{oculto}:key:{kid}` | hash | secret (hex), created_at, retired_at (absent while active) |
//! | `{oculto}:usage:{site_key}:{YYYY-MM}` | hash | the month's counters and score histogram |
//! | `{oculto}:months:{site_key}` | set | the months a site has counters for |
//! | `{oculto}:recent:{site_key}` | list | newest verifications first, capped at `recent_keep` |
//! | `{oculto}:counted:{jti}` | string | a verification already counted in the stats |
//! | `{oculto}:layout` | string | `2` once keys of the first layout (`oculto:sites`...) were renamed |
//! | `oculto:session:{id}` | hash | body (JSON), expires_at, state (0 new, 1 being scored, 2 scored), score, reasons |
//! | `oculto:spent:{jti}` | string | a spent token id: `-`, or `=` and its idempotency key |
//! | `oculto:challenge:{id}` | string | a challenge as JSON |
//! | `oculto:rate:{{who}}:{limit}` | string | a rate limit's theoretical arrival time (GCRA), µs on Redis's clock; tagged by who is counted |
//!
//! On one server (or behind Sentinel), every step that the SQLite store
//! does in one transaction is one Lua script or one command here (`SET NX`
//! for a spent token, `GETDEL` for a challenge), so two nodes racing see one
//! winner. On a Cluster, a step that touches a session or a token id and
//! the stats is two: the session or the token id first (single use is
//! still one `SET NX`), then the counters, each verification counted once
//! by its `counted:` marker, also when a replay of a token comes to count
//! what a node that died between the two steps did not. Sessions, spent
//! token ids and challenges carry TTLs and go by themselves:
//! [`Store::purge`](super::Store::purge) does nothing.
//!
//! Every command waits at most [`COMMAND_TIMEOUT`]; when Redis is down or
//! stuck, every method returns [`StoreError::Unavailable`] (so `/verify`
//! answers 503), and the connection comes back by itself once Redis does.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use oculto_shared::api::{Classification, Distribution, RecentVerification, StatsDistribution, UsageMonth};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{RedisResult, Script};

use super::{
    average, year_month, ChallengeRecord, ClaimError, Consumed, Consumption, KeyRecord, RateCheck, Rated,
    SessionRecord, SiteRecord, StepUpPolicy, StoreError, StoreOptions, VerdictRecord,
};

/// Longest wait for one store call, reconnecting included.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// Longest wait for counting rate limits: past it, the node counts on its
/// own for a moment (`limits::FALLBACK`) rather than hold requests up.
pub const RATE_TIMEOUT: Duration = Duration::from_millis(500);

/// How long a spent token id is kept after the token's expiry: clock skew
/// between nodes (the SQLite store keeps the same margin).
const SPENT_MARGIN_SECS: u64 = 60;

/// The prefix of keys looked up by their own id, on any Cluster slot.
const PREFIX: &str = "oculto:";

/// The prefix of keys that scripts touch together: one Cluster slot.
const SHARED: &str = "{oculto}:";

/// The layout written in `{oculto}:layout`: 2 since the hash tag.
const LAYOUT: &str = "2";

/// Behind Sentinel, how long a verification waits for a replica to
/// confirm its spent token id (`WAIT`) before answering 503.
const REPLICA_WAIT: Duration = Duration::from_millis(500);

/// Longest wait for renaming the keys of the first layout, once.
const MIGRATION_TIMEOUT: Duration = Duration::from_secs(60);

/// Sentinel is asked for the master at most this often.
const SENTINEL_EVERY: Duration = Duration::from_millis(200);

/// `oculto:` and the parts, joined by `:`.
fn key(parts: &[&str]) -> String {
    format!("{PREFIX}{}", parts.join(":"))
}

/// `{oculto}:` and the parts, joined by `:`.
fn shared(parts: &[&str]) -> String {
    format!("{SHARED}{}", parts.join(":"))
}

/// The prefix of a kind of shared key: `{oculto}:site:`.
fn shared_prefix(kind: &str) -> String {
    format!("{SHARED}{kind}:")
}

/// A rate limit's key, tagged by who is counted, so that the limits of one
/// request share a Cluster slot.
fn rate_key(check: &RateCheck) -> String {
    format!("{PREFIX}rate:{{{}}}:{}", check.who, check.limit)
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// A command's error, as a store error.
fn failed(e: redis::RedisError) -> StoreError {
    unavailable(format!("redis: {e}"))
}

/// `run`, or an error once `timeout` is over.
async fn within<T>(timeout: Duration, run: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
    tokio::time::timeout(timeout, run)
        .await
        .unwrap_or_else(|_| Err(unavailable(format!("redis did not answer within {} ms", timeout.as_millis()))))
}

/// Lua shared by the scripts: reading hashes named by a set or a list,
/// counters, signing keys, sessions and spent token ids.
const LUA_PRELUDE: &str = r#"
-- {member, field, value, ...} for each member of the set or list `index`
-- whose hash `prefix .. member` exists.
local function hashes(index, prefix)
  local members
  if redis.call('TYPE', index).ok == 'list' then
    members = redis.call('LRANGE', index, 0, -1)
  else
    members = redis.call('SMEMBERS', index)
  end
  local out = {}
  for _, m in ipairs(members) do
    local h = redis.call('HGETALL', prefix .. m)
    if #h > 0 then
      table.insert(h, 1, m)
      table.insert(out, h)
    end
  end
  return out
end

-- Adds `by` to a counter of a site's month, and notes the month.
local function count(usage, months, month, field, by)
  redis.call('HINCRBY', usage, field, by)
  redis.call('SADD', months, month)
end

local function key_is_active(prefix, kid)
  return redis.call('EXISTS', prefix .. kid) == 1 and redis.call('HEXISTS', prefix .. kid, 'retired_at') == 0
end

local function insert_key(list, prefix, kid, secret, created_at, retired_at)
  redis.call('HSET', prefix .. kid, 'secret', secret, 'created_at', created_at)
  if retired_at ~= '' then
    redis.call('HSET', prefix .. kid, 'retired_at', retired_at)
  end
  redis.call('LPUSH', list, kid)
end

-- 0 if the session exists, else adds it and 1.
local function new_session(session, body, expires_at, ttl)
  if redis.call('EXISTS', session) == 1 then return 0 end
  redis.call('HSET', session, 'body', body, 'expires_at', expires_at, 'state', '0')
  redis.call('EXPIRE', session, ttl)
  return 1
end

local function set_verdict(session, score, reasons, ttl)
  if redis.call('EXISTS', session) == 1 then
    redis.call('HSET', session, 'state', '2', 'score', score, 'reasons', reasons)
    if redis.call('TTL', session) < tonumber(ttl) then redis.call('EXPIRE', session, ttl) end
  end
end

-- 0 first use, 1 a retry with the same idempotency key, 2 a replay.
local function spend(spent, marker, ttl)
  if redis.call('SET', spent, marker, 'NX', 'EX', ttl) then return 0 end
  if string.sub(marker, 1, 1) == '=' and redis.call('GET', spent) == marker then return 1 end
  return 2
end

-- Counts a verification in its site's stats, once per token id (`counted`).
local function count_verification(counted, usage, months, recent, ttl, class, score, bucket, row, reasons, keep, month)
  if not redis.call('SET', counted, '1', 'NX', 'EX', ttl) then return end
  count(usage, months, month, 'verifications', 1)
  redis.call('HINCRBY', usage, class, 1)
  redis.call('HINCRBY', usage, 'score_sum', score)
  redis.call('HINCRBY', usage, bucket, 1)
  redis.call('LPUSH', recent, row .. "\n" .. reasons)
  redis.call('LTRIM', recent, 0, tonumber(keep) - 1)
end
"#;

/// A script: [`LUA_PRELUDE`] and a body, hashed on first use.
struct Lua {
    body: &'static str,
    script: OnceLock<Script>,
}

impl Lua {
    const fn new(body: &'static str) -> Self {
        Self { body, script: OnceLock::new() }
    }

    fn get(&self) -> &Script {
        self.script.get_or_init(|| Script::new(&format!("{LUA_PRELUDE}{}", self.body)))
    }
}

/// KEYS: index; ARGV: prefix of the hashes.
static HASHES: Lua = Lua::new("return hashes(KEYS[1], ARGV[1])");

/// KEYS: site, api key, sites; ARGV: site key, name, origins, threshold,
/// step-up, API key hash, created_at. 0 if the site key or hash exists.
static ADD_SITE: Lua = Lua::new(
    r#"
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'name', ARGV[2], 'origins', ARGV[3], 'threshold', ARGV[4], 'step_up', ARGV[5],
  'api_key_hash', ARGV[6], 'created_at', ARGV[7])
redis.call('SET', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
return 1
"#,
);

/// KEYS: site, new api key; ARGV: site key, new hash, api key prefix. 0 if
/// there is no such site, -1 if another site has the hash.
static SET_API_KEY: Lua = Lua::new(
    r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local owner = redis.call('GET', KEYS[2])
if owner and owner ~= ARGV[1] then return -1 end
local old = redis.call('HGET', KEYS[1], 'api_key_hash')
if old then redis.call('DEL', ARGV[3] .. old) end
redis.call('SET', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[1], 'api_key_hash', ARGV[2])
return 1
"#,
);

/// KEYS: key list; ARGV: key prefix, kid, secret, created_at, retired_at or
/// "". Adds the key unless one is active; returns every key.
static ENSURE_KEY: Lua = Lua::new(
    r#"
local active = false
for _, kid in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if key_is_active(ARGV[1], kid) then active = true end
end
if not active then
  if redis.call('EXISTS', ARGV[1] .. ARGV[2]) == 1 then return redis.error_reply('signing key exists') end
  insert_key(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
end
return hashes(KEYS[1], ARGV[1])
"#,
);

/// KEYS: key list; ARGV: key prefix, kid, secret, created_at, retired_at or
/// "", now. Retires every active key at `now`, then adds the new one.
static ROTATE_KEY: Lua = Lua::new(
    r#"
if redis.call('EXISTS', ARGV[1] .. ARGV[2]) == 1 then return redis.error_reply('signing key exists') end
for _, kid in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if key_is_active(ARGV[1], kid) then redis.call('HSET', ARGV[1] .. kid, 'retired_at', ARGV[6]) end
end
insert_key(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
return 1
"#,
);

/// One server: KEYS: session, usage, months; ARGV: body, expires_at, ttl,
/// month. 0 if the session exists.
static CREATE_SESSION: Lua = Lua::new(
    r#"
if new_session(KEYS[1], ARGV[1], ARGV[2], ARGV[3]) == 0 then return 0 end
count(KEYS[2], KEYS[3], ARGV[4], 'inits', 1)
return 1
"#,
);

/// Cluster, first step of [`CREATE_SESSION`]: KEYS: session; ARGV: body,
/// expires_at, ttl. 0 if the session exists.
static NEW_SESSION: Lua = Lua::new("return new_session(KEYS[1], ARGV[1], ARGV[2], ARGV[3])");

/// Cluster, the counting step: KEYS: usage, months; ARGV: month, counter.
static COUNT: Lua = Lua::new("count(KEYS[1], KEYS[2], ARGV[1], ARGV[2], 1) return 1");

/// KEYS: session; ARGV: now. {0} not found, {1} used, {2} expired, {3, body}
/// claimed.
static CLAIM_SESSION: Lua = Lua::new(
    r#"
local v = redis.call('HMGET', KEYS[1], 'body', 'state', 'expires_at')
if not v[1] then return {0, ''} end
if v[2] ~= '0' then return {1, ''} end
if (tonumber(v[3]) or 0) <= tonumber(ARGV[1]) then return {2, ''} end
redis.call('HSET', KEYS[1], 'state', '1')
return {3, v[1]}
"#,
);

/// One server: KEYS: session, usage, months; ARGV: score, reasons, ttl,
/// month.
static RECORD_VERDICT: Lua = Lua::new(
    r#"
set_verdict(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
count(KEYS[2], KEYS[3], ARGV[4], 'scores', 1)
return 1
"#,
);

/// Cluster, first step of [`RECORD_VERDICT`]: KEYS: session; ARGV: score,
/// reasons, ttl.
static SET_VERDICT: Lua = Lua::new("set_verdict(KEYS[1], ARGV[1], ARGV[2], ARGV[3]) return 1");

/// One server: KEYS: spent, session, counted, usage, months, recent; ARGV:
/// marker (`-`, or `=` and the idempotency key), ttl, class field, score,
/// histogram field, recent row, recent_keep, month. {0, reasons} first
/// use, {1, reasons} a retry with the same idempotency key, {2, ''} a
/// replay.
static CONSUME: Lua = Lua::new(
    r#"
local status = spend(KEYS[1], ARGV[1], ARGV[2])
if status == 2 then return {2, ''} end
local reasons = redis.call('HGET', KEYS[2], 'reasons') or '[]'
count_verification(KEYS[3], KEYS[4], KEYS[5], KEYS[6], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], reasons,
  ARGV[7], ARGV[8])
return {status, reasons}
"#,
);

/// Cluster, first step of [`CONSUME`]: KEYS: spent; ARGV: marker, ttl. 0
/// first use, 1 a retry, 2 a replay.
static SPEND: Lua = Lua::new("return spend(KEYS[1], ARGV[1], ARGV[2])");

/// Cluster, the counting step of [`CONSUME`]: KEYS: counted, usage,
/// months, recent; ARGV: ttl, class field, score, histogram field, recent
/// row, reasons, recent_keep, month.
static COUNT_VERIFICATION: Lua = Lua::new(
    r#"
count_verification(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6],
  ARGV[7], ARGV[8])
return 1
"#,
);

/// One server, once: KEYS: keys of the first layout (`oculto:sites`...);
/// ARGV: the old prefix. Renames each to its `{oculto}:` name unless that
/// exists, then notes the layout; returns how many were renamed.
static MIGRATE: Lua = Lua::new(
    r#"
local moved = 0
for _, old in ipairs(KEYS) do
  local new = '{oculto}:' .. string.sub(old, #ARGV[1] + 1)
  if redis.call('EXISTS', old) == 1 and redis.call('EXISTS', new) == 0 then
    redis.call('RENAME', old, new)
    moved = moved + 1
  end
end
redis.call('SET', '{oculto}:layout', '2')
return moved
"#,
);

/// KEYS: one per limit; ARGV: for each, its emission interval (µs, may have
/// a fraction), its burst, and 1 if it is hard. GCRA on Redis's clock, so
/// that nodes whose clocks disagree still share one allowance: a request is
/// let through when its theoretical arrival time, less the burst's worth of
/// intervals, is not in the future. Counts in order; a hard limit that
/// refuses stops there. {0, {over...}} (1 for each limit past its rate), or
/// {µs to wait, {...}} when a hard limit refused.
static RATE: Lua = Lua::new(
    r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local over = {}
for i, k in ipairs(KEYS) do
  local interval = tonumber(ARGV[3 * i - 2])
  local burst = tonumber(ARGV[3 * i - 1])
  local tat = tonumber(redis.call('GET', k) or '') or now
  if tat < now then tat = now end
  local allow_at = tat + interval - burst * interval
  if allow_at > now then
    if ARGV[3 * i] == '1' then return {math.max(1, math.ceil(allow_at - now)), over} end
    over[i] = 1
  else
    over[i] = 0
    local next_tat = tat + interval
    redis.call('SET', k, string.format('%.0f', next_tat), 'PX', math.max(1, math.ceil((next_tat - now) / 1000)))
  end
end
return {0, over}
"#,
);

/// The kinds of key that [`MIGRATE`] renames: the first layout named them
/// `oculto:KIND...`, with no hash tag.
const OLD_SHARED_KINDS: [&str; 8] = ["sites", "site:", "api_key:", "keys", "key:", "usage:", "months:", "recent:"];

/// Where Redis is, as the store URL says.
enum Target {
    /// One server, or the master Sentinel names: a connection per thread.
    Node(Node),
    /// A Redis Cluster: a connection (to every node) per thread.
    Cluster(ClusterClient),
}

/// One server to connect to, fixed or named by Sentinel.
struct Node {
    config: ConnectionManagerConfig,
    /// The server, and how many times it changed (threads whose connection
    /// is older connect again).
    client: Mutex<Option<(u64, redis::Client)>>,
    /// Boxed: only Sentinel's nodes have it.
    sentinel: Option<Box<Sentinel>>,
}

/// The Sentinel side of a [`Node`].
struct Sentinel {
    client: tokio::sync::Mutex<SentinelClient>,
    /// How many replicas must confirm a spent token id (`WAIT`).
    wait_replicas: i64,
    /// Set when a command failed: the master may have changed.
    stale: AtomicBool,
    /// When Sentinel was last asked.
    asked: Mutex<Option<Instant>>,
}

/// One connection of either kind, as the redis crate's commands take it.
#[derive(Clone)]
enum Conn {
    Node(ConnectionManager),
    Cluster(ClusterConnection),
}

impl redis::aio::ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a redis::Cmd) -> redis::RedisFuture<'a, redis::Value> {
        match self {
            Conn::Node(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        match self {
            Conn::Node(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Node(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// The Redis backend: on each thread that uses it, a connection that
/// reconnects by itself.
pub struct RedisStore {
    /// Tells this store's connections from other stores' in [`CONNECTIONS`].
    id: u64,
    /// Boxed: it is large, and the store enum holds this or a SQLite store.
    target: Box<Target>,
    recent_keep: u32,
    /// Set once keys of the first layout were renamed ([`MIGRATE`]).
    migrated: tokio::sync::OnceCell<()>,
}

thread_local! {
    /// This thread's connection to each Redis store, by store id, and the
    /// [`Node`] generation it was made for.
    ///
    /// One connection per thread rather than one per process: each HTTP
    /// worker runs its own single-threaded runtime, and a connection shared
    /// by all of them is driven by one task on one thread, so every command
    /// would cross threads twice (there and back). That was about a tenth
    /// of the verifier's time under load, mostly in context switches
    /// (issue 6). A store dropped leaves its entries behind on the threads
    /// that used it; a process opens one store for its life.
    static CONNECTIONS: std::cell::RefCell<HashMap<u64, (u64, Conn)>> = std::cell::RefCell::default();
}

/// The parts of a `redis+cluster://` or `redis+sentinel://` URL: the
/// password, the `HOST:PORT`s, and the path.
fn split_multi(rest: &str) -> Result<(Option<&str>, Vec<&str>, &str), StoreError> {
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (password, hosts) = match authority.rsplit_once('@') {
        Some((user_info, hosts)) => {
            let password = user_info.split_once(':').map_or(user_info, |(_, p)| p);
            (Some(password).filter(|p| !p.is_empty()), hosts)
        }
        None => (None, authority),
    };
    let hosts: Vec<&str> = hosts.split(',').filter(|h| !h.is_empty()).collect();
    if hosts.is_empty() || hosts.iter().any(|h| h.rsplit_once(':').is_none_or(|(_, p)| p.parse::<u16>().is_err())) {
        return Err(unavailable(format!("bad redis URL: expected HOST:PORT[,HOST:PORT...], got {hosts:?}")));
    }
    Ok((password, hosts, path))
}

/// `redis://[:PASSWORD@]HOST:PORT`.
fn node_url(password: Option<&str>, host: &str) -> String {
    match password {
        Some(p) => format!("redis://:{p}@{host}"),
        None => format!("redis://{host}"),
    }
}

/// A Redis Cluster from `HOST:PORT[,...]` (a `redis+cluster://` URL's rest).
fn cluster_target(rest: &str) -> Result<Target, StoreError> {
    let bad = |e: redis::RedisError| unavailable(format!("bad redis URL: {e}"));
    let (password, hosts, path) = split_multi(rest)?;
    if !path.is_empty() {
        return Err(unavailable("bad redis URL: a Redis Cluster has one database, so no /DB"));
    }
    let seeds: Vec<String> = hosts.iter().map(|h| node_url(password, h)).collect();
    let client = ClusterClient::builder(seeds)
        .connection_timeout(Duration::from_secs(1))
        .response_timeout(Duration::from_millis(1500))
        .retries(2)
        .min_retry_wait(50)
        .max_retry_wait(500)
        .build()
        .map_err(bad)?;
    Ok(Target::Cluster(client))
}

/// Sentinel's master from `HOST:PORT[,...]/MASTER[/DB][?wait_replicas=N]`
/// (a `redis+sentinel://` URL's rest).
fn sentinel_target(rest: &str, config: ConnectionManagerConfig) -> Result<Target, StoreError> {
    let bad = |e: redis::RedisError| unavailable(format!("bad redis URL: {e}"));
    let (password, hosts, path) = split_multi(rest)?;
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let wait_replicas = match query.strip_prefix("wait_replicas=") {
        Some(n) => n.parse().map_err(|_| unavailable(format!("bad redis URL: wait_replicas={n:?}")))?,
        None if query.is_empty() => 1,
        None => return Err(unavailable(format!("bad redis URL: unknown option {query:?}"))),
    };
    let (master, db) = path.split_once('/').unwrap_or((path, "0"));
    let db: i64 = db.parse().map_err(|_| unavailable(format!("bad redis URL: database {db:?}")))?;
    if master.is_empty() {
        return Err(unavailable("bad redis URL: redis+sentinel://HOST:PORT[,...]/MASTER[/DB] needs MASTER"));
    }
    let mut info = redis::RedisConnectionInfo::default().set_db(db);
    if let Some(p) = password {
        info = info.set_password(p);
    }
    // The password is the master's; the sentinels are asked without one.
    let sentinels: Vec<String> = hosts.iter().map(|h| node_url(None, h)).collect();
    let node_info = SentinelNodeConnectionInfo::default().set_redis_connection_info(info);
    let client = SentinelClient::build(sentinels, master.to_owned(), Some(node_info), SentinelServerType::Master)
        .map_err(bad)?;
    let sentinel = Sentinel {
        client: tokio::sync::Mutex::new(client),
        wait_replicas,
        stale: AtomicBool::new(true),
        asked: Mutex::new(None),
    };
    Ok(Target::Node(Node { config, client: Mutex::new(None), sentinel: Some(Box::new(sentinel)) }))
}

impl RedisStore {
    /// Prepares the connections to the Redis that `url` names
    /// (`redis://HOST:PORT[/DB]`, `redis+sentinel://HOST:PORT[,...]/MASTER[/DB]`
    /// or `redis+cluster://HOST:PORT[,...]`); they are made on first use,
    /// and made again whenever they break. Must be called inside a Tokio
    /// runtime.
    pub fn open(url: &str, options: StoreOptions) -> Result<Self, StoreError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(unavailable("the redis store must be opened inside a Tokio runtime"));
        }
        let bad = |e: redis::RedisError| unavailable(format!("bad redis URL: {e}"));
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_millis(1500)))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let target = if let Some(rest) = url.strip_prefix("redis+cluster://") {
            cluster_target(rest)?
        } else if let Some(rest) = url.strip_prefix("redis+sentinel://") {
            sentinel_target(rest, config)?
        } else {
            let client = redis::Client::open(url).map_err(bad)?;
            Target::Node(Node { config, client: Mutex::new(Some((0, client))), sentinel: None })
        };
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        Ok(Self {
            id,
            target: Box::new(target),
            recent_keep: options.recent_keep.max(1),
            migrated: tokio::sync::OnceCell::new(),
        })
    }

    /// Behind Sentinel, 1 unless the URL says `?wait_replicas=N`: a token
    /// is accepted only once a replica has its spent id, so that a failover
    /// cannot forget it (replication is asynchronous); else 0.
    fn replicas_to_wait_for(&self) -> i64 {
        match &*self.target {
            Target::Node(Node { sentinel: Some(s), .. }) => s.wait_replicas,
            _ => 0,
        }
    }

    /// Whether this is a Redis Cluster, where a step that touches keys of
    /// several slots is split in two.
    fn is_cluster(&self) -> bool {
        matches!(*self.target, Target::Cluster(_))
    }

    /// This thread's connection, prepared on first use (it connects when a
    /// command first needs it); behind Sentinel, to the master it names.
    async fn conn(&self) -> Result<Conn, StoreError> {
        let node = match &*self.target {
            Target::Cluster(client) => {
                return CONNECTIONS.with(|all| {
                    let mut all = all.borrow_mut();
                    let c = all.entry(self.id).or_insert_with(|| {
                        let config = redis::cluster::ClusterConfig::new()
                            .set_connection_timeout(Duration::from_secs(1))
                            .set_response_timeout(Duration::from_millis(1500));
                        (0, Conn::Cluster(client.get_pending_async_connection_with_config(config)))
                    });
                    Ok(c.1.clone())
                });
            }
            Target::Node(node) => node,
        };
        if let Some(sentinel) = &node.sentinel {
            sentinel.ask(node).await?;
        }
        let (generation, client) = node
            .client
            .lock()
            .expect("not poisoned")
            .clone()
            .ok_or_else(|| unavailable("sentinel has not named a master yet"))?;
        CONNECTIONS.with(|all| {
            let mut all = all.borrow_mut();
            if let Some((made_for, c)) = all.get(&self.id) {
                if *made_for == generation {
                    return Ok(c.clone());
                }
            }
            let c =
                Conn::Node(ConnectionManager::new_lazy_with_config(client, node.config.clone()).map_err(unavailable)?);
            all.insert(self.id, (generation, c.clone()));
            Ok(c)
        })
    }

    /// Runs `f` on the connection, for at most [`COMMAND_TIMEOUT`].
    async fn call<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        self.call_within(COMMAND_TIMEOUT, f).await
    }

    /// Runs `f` on the connection, for at most `timeout`, once keys of the
    /// first layout were renamed.
    async fn call_within<T, F, Fut>(&self, timeout: Duration, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let run = async {
            // Outside `timeout`: a migration that takes longer must not start over on every call.
            self.migrated.get_or_try_init(|| self.migrate(timeout)).await?;
            let run = async { f(self.conn().await?).await.map_err(failed) };
            within(timeout, run).await
        };
        let result = run.await;
        if result.is_err() {
            if let Target::Node(Node { sentinel: Some(s), .. }) = &*self.target {
                s.stale.store(true, Ordering::Relaxed);
            }
        }
        result
    }

    /// Renames the keys of the first layout (before `{oculto}`) on one
    /// server, once: whether it was done is read within `timeout`; the
    /// renaming itself may take up to [`MIGRATION_TIMEOUT`] (every caller
    /// waits for it). A Cluster never had them.
    async fn migrate(&self, timeout: Duration) -> Result<(), StoreError> {
        if self.is_cluster() {
            return Ok(());
        }
        let layout = within(timeout, async {
            let mut c = self.conn().await?;
            let layout: Option<String> =
                redis::cmd("GET").arg(shared(&["layout"])).query_async(&mut c).await.map_err(failed)?;
            Ok(layout)
        })
        .await?;
        if layout.as_deref() == Some(LAYOUT) {
            return Ok(());
        }
        let moved = within(MIGRATION_TIMEOUT, self.rename_first_layout()).await?;
        if moved > 0 {
            tracing::info!(moved, "renamed the redis keys of sites, signing keys and stats to the {{oculto}} layout");
        }
        Ok(())
    }

    /// Finds the shared keys of the first layout with `SCAN`, then renames
    /// them in one script ([`MIGRATE`]); returns how many it renamed.
    async fn rename_first_layout(&self) -> Result<u64, StoreError> {
        let mut c = self.conn().await?;
        let mut old = Vec::new();
        let mut cursor = 0u64;
        loop {
            let (next, found): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{PREFIX}*"))
                .arg("COUNT")
                .arg(10_000)
                .query_async(&mut c)
                .await
                .map_err(failed)?;
            old.extend(found.into_iter().filter(|k| {
                let kind = &k[PREFIX.len()..];
                OLD_SHARED_KINDS.iter().any(|o| if o.ends_with(':') { kind.starts_with(o) } else { kind == *o })
            }));
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        let mut inv = MIGRATE.get().prepare_invoke();
        for k in &old {
            inv.key(k);
        }
        inv.arg(PREFIX).invoke_async(&mut c).await.map_err(failed)
    }

    /// Every hash named by the set or list `index`, as (member, fields).
    async fn hashes(&self, index: String, prefix: String) -> Result<Vec<(String, Fields)>, StoreError> {
        let rows: Vec<Vec<String>> =
            self.call(|mut c| async move { HASHES.get().key(index).arg(prefix).invoke_async(&mut c).await }).await?;
        Ok(rows.into_iter().filter_map(Fields::row).collect())
    }

    /// `PING`; on a Cluster, a read on the `{oculto}` slot's node and
    /// `CLUSTER INFO`, which says `cluster_state:fail` once the nodes
    /// agree that one of them is down.
    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        if self.is_cluster() {
            let state: String = self
                .call(|mut c| async move {
                    let _: i64 = redis::cmd("EXISTS").arg(shared(&["layout"])).query_async(&mut c).await?;
                    redis::cmd("CLUSTER").arg("INFO").query_async(&mut c).await
                })
                .await?;
            return match state.lines().find(|l| l.starts_with("cluster_state:")) {
                Some("cluster_state:ok") => Ok(()),
                other => Err(unavailable(format!("redis cluster: {}", other.unwrap_or("no cluster_state")))),
            };
        }
        let pong: String = self.call(|mut c| async move { redis::cmd("PING").query_async(&mut c).await }).await?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(unavailable(format!("redis answered PING with {pong:?}")))
        }
    }

    pub(crate) async fn add_site(&self, s: SiteRecord) -> Result<(), StoreError> {
        let hash = hex::encode(s.api_key_hash);
        let added: i64 = self
            .call(|mut c| async move {
                let mut inv = ADD_SITE.get().key(shared(&["site", &s.site_key]));
                inv.key(shared(&["api_key", &hash])).key(shared(&["sites"]));
                inv.arg(&s.site_key).arg(&s.name).arg(s.origins.join(" ")).arg(u32::from(s.threshold));
                inv.arg(s.step_up.as_str()).arg(&hash).arg(s.created_at);
                inv.invoke_async(&mut c).await
            })
            .await?;
        inserted(added == 1, "a site with this site key or API key")
    }

    pub(crate) async fn sites(&self) -> Result<Vec<SiteRecord>, StoreError> {
        let rows = self.hashes(shared(&["sites"]), shared_prefix("site")).await?;
        let mut sites: Vec<SiteRecord> = rows.into_iter().filter_map(|(k, f)| f.site(k)).collect();
        sites.sort_by(|a, b| (a.created_at, &a.site_key).cmp(&(b.created_at, &b.site_key)));
        Ok(sites)
    }

    pub(crate) async fn set_api_key_hash(&self, site_key: String, hash: [u8; 32]) -> Result<bool, StoreError> {
        let hash = hex::encode(hash);
        let done: i64 = self
            .call(|mut c| async move {
                let mut inv = SET_API_KEY.get().key(shared(&["site", &site_key]));
                inv.key(shared(&["api_key", &hash])).arg(&site_key).arg(&hash).arg(shared_prefix("api_key"));
                inv.invoke_async(&mut c).await
            })
            .await?;
        match done {
            1 => Ok(true),
            0 => Ok(false),
            _ => Err(unavailable("another site has this API key")),
        }
    }

    pub(crate) async fn keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        Ok(key_records(self.hashes(shared(&["keys"]), shared_prefix("key")).await?))
    }

    pub(crate) async fn rotate_key(&self, k: KeyRecord, now: u64) -> Result<(), StoreError> {
        let _: i64 = self
            .call(|mut c| async move {
                let mut inv = ROTATE_KEY.get().key(shared(&["keys"]));
                key_args(&mut inv, &k).arg(now);
                inv.invoke_async(&mut c).await
            })
            .await?;
        Ok(())
    }

    pub(crate) async fn ensure_key(&self, k: KeyRecord) -> Result<Vec<KeyRecord>, StoreError> {
        let rows: Vec<Vec<String>> = self
            .call(|mut c| async move {
                let mut inv = ENSURE_KEY.get().key(shared(&["keys"]));
                key_args(&mut inv, &k);
                inv.invoke_async(&mut c).await
            })
            .await?;
        Ok(key_records(rows.into_iter().filter_map(Fields::row).collect()))
    }

    pub(crate) async fn create_session(&self, s: SessionRecord, purge_after: u64) -> Result<(), StoreError> {
        let body = serde_json::to_string(&s).map_err(unavailable)?;
        let created = s.created_ms / 1000;
        let ttl = ttl_secs(purge_after.max(s.expires_at), created);
        let ym = year_month(created);
        let session = key(&["session", &s.id]);
        let (usage, months) = (shared(&["usage", &s.site_key, &ym]), shared(&["months", &s.site_key]));
        if self.is_cluster() {
            let added: i64 = self
                .call(|mut c| async move {
                    let mut inv = NEW_SESSION.get().key(session);
                    inv.arg(body).arg(s.expires_at).arg(ttl).invoke_async(&mut c).await
                })
                .await?;
            inserted(added == 1, "a session with this id")?;
            return self.count(usage, months, ym, "inits").await;
        }
        let added: i64 = self
            .call(|mut c| async move {
                let mut inv = CREATE_SESSION.get().key(session);
                inv.key(usage).key(months).arg(body).arg(s.expires_at).arg(ttl).arg(ym);
                inv.invoke_async(&mut c).await
            })
            .await?;
        inserted(added == 1, "a session with this id")
    }

    /// Cluster: adds one to a counter of a site's month.
    async fn count(&self, usage: String, months: String, ym: String, counter: &str) -> Result<(), StoreError> {
        let _: i64 =
            self.call(|mut c| async move {
                COUNT.get().key(usage).key(months).arg(ym).arg(counter).invoke_async(&mut c).await
            })
            .await?;
        Ok(())
    }

    pub(crate) async fn peek_session(&self, id: String) -> Result<Option<SessionRecord>, StoreError> {
        let body: Option<String> = self
            .call(|mut c| async move {
                redis::cmd("HGET").arg(key(&["session", &id])).arg("body").query_async(&mut c).await
            })
            .await?;
        body.map(|b| parse_session(&b)).transpose()
    }

    pub(crate) async fn claim_session(
        &self,
        id: String,
        now: u64,
    ) -> Result<Result<SessionRecord, ClaimError>, StoreError> {
        let (status, body): (i64, String) =
            self.call(|mut c| async move {
                CLAIM_SESSION.get().key(key(&["session", &id])).arg(now).invoke_async(&mut c).await
            })
            .await?;
        match status {
            0 => Ok(Err(ClaimError::NotFound)),
            1 => Ok(Err(ClaimError::Used)),
            2 => Ok(Err(ClaimError::Expired)),
            _ => parse_session(&body).map(Ok),
        }
    }

    pub(crate) async fn record_verdict(&self, v: VerdictRecord, now: u64) -> Result<(), StoreError> {
        let reasons = serde_json::to_string(&v.reasons).map_err(unavailable)?;
        let ym = year_month(now);
        let session = key(&["session", &v.session_id]);
        let (usage, months) = (shared(&["usage", &v.site_key, &ym]), shared(&["months", &v.site_key]));
        let (score, ttl) = (u32::from(v.score), ttl_secs(v.purge_after, now));
        if self.is_cluster() {
            let _: i64 = self
                .call(|mut c| async move {
                    SET_VERDICT.get().key(session).arg(score).arg(reasons).arg(ttl).invoke_async(&mut c).await
                })
                .await?;
            return self.count(usage, months, ym, "scores").await;
        }
        let _: i64 = self
            .call(|mut c| async move {
                let mut inv = RECORD_VERDICT.get().key(session);
                inv.key(usage).key(months).arg(score).arg(reasons).arg(ttl).arg(&ym);
                inv.invoke_async(&mut c).await
            })
            .await?;
        Ok(())
    }

    pub(crate) async fn consume(&self, k: Consumption) -> Result<Consumed, StoreError> {
        let marker = match &k.idempotency_key {
            Some(idem) => format!("={idem}"),
            None => "-".to_owned(),
        };
        let row = RecentVerification {
            verified_at: crate::clock::rfc3339(k.now),
            session_id: k.session_id.clone(),
            score: k.score,
            classification: k.classification,
            hostname: k.hostname.clone(),
            action: k.action.clone(),
            reasons: Vec::new(),
        };
        let row = serde_json::to_string(&row).map_err(unavailable)?;
        let ym = year_month(k.now);
        let ttl = k.exp.saturating_sub(k.now) + SPENT_MARGIN_SECS;
        let (spent, session) = (key(&["spent", &k.jti]), key(&["session", &k.session_id]));
        let counted = shared(&["counted", &k.jti]);
        let (usage, months) = (shared(&["usage", &k.site_key, &ym]), shared(&["months", &k.site_key]));
        let recent = shared(&["recent", &k.site_key]);
        let (class, score) = (k.classification.as_str(), u32::from(k.score));
        let bucket = format!("h{}", k.score.min(99) / 10);
        let recent_keep = self.recent_keep;
        let (status, reasons): (i64, String) = if self.is_cluster() {
            // The token id and the session live on their own slots, the
            // stats on `{oculto}`'s: spend, then count (also on a replay,
            // in case the node that spent it died before counting).
            let spend = self.call(|mut c| async move {
                SPEND.get().key(spent).arg(marker).arg(ttl).invoke_async::<i64>(&mut c).await
            });
            let reasons = self.call(|mut c| async move {
                redis::cmd("HGET").arg(session).arg("reasons").query_async::<Option<String>>(&mut c).await
            });
            let (status, reasons) = tokio::join!(spend, reasons);
            let (status, reasons) = (status?, reasons?.unwrap_or_else(|| "[]".to_owned()));
            let counting = reasons.clone();
            let _: i64 = self
                .call(|mut c| async move {
                    let mut inv = COUNT_VERIFICATION.get().key(counted);
                    inv.key(usage).key(months).key(recent).arg(ttl).arg(class).arg(score).arg(bucket);
                    inv.arg(row).arg(counting).arg(recent_keep).arg(&ym);
                    inv.invoke_async(&mut c).await
                })
                .await?;
            (status, reasons)
        } else {
            let replicas = self.replicas_to_wait_for();
            let (status, reasons, acked): (i64, String, i64) = self
                .call(|mut c| async move {
                    let mut inv = CONSUME.get().key(spent);
                    inv.key(session).key(counted).key(usage).key(months).key(recent);
                    inv.arg(marker).arg(ttl).arg(class).arg(score).arg(bucket);
                    inv.arg(row).arg(recent_keep).arg(&ym);
                    let (status, reasons): (i64, String) = inv.invoke_async(&mut c).await?;
                    if replicas == 0 || status == 2 {
                        return Ok((status, reasons, replicas));
                    }
                    // The same connection: WAIT counts the replicas that have our writes.
                    let mut wait = redis::cmd("WAIT");
                    wait.arg(replicas).arg(REPLICA_WAIT.as_millis() as u64);
                    Ok((status, reasons, wait.query_async(&mut c).await?))
                })
                .await?;
            if acked < replicas {
                return Err(unavailable(format!(
                    "no replica confirmed the spent token id within {} ms",
                    REPLICA_WAIT.as_millis()
                )));
            }
            (status, reasons)
        };
        let reasons = || serde_json::from_str(&reasons).unwrap_or_default();
        Ok(match status {
            0 => Consumed::First { reasons: reasons() },
            1 => Consumed::Retry { reasons: reasons() },
            _ => Consumed::Replay,
        })
    }

    pub(crate) async fn summary(&self, site_key: String) -> Result<(Distribution, Vec<UsageMonth>), StoreError> {
        let rows = self.hashes(shared(&["months", &site_key]), shared_prefix(&format!("usage:{site_key}"))).await?;
        let mut dist = Distribution::default();
        let mut sum = 0;
        let mut usage: Vec<UsageMonth> = rows
            .into_iter()
            .map(|(ym, f)| {
                let (month, _) = f.distribution();
                sum += f.count("score_sum");
                dist.total += month.total;
                dist.human += month.human;
                dist.suspicious += month.suspicious;
                dist.bot += month.bot;
                f.usage(ym)
            })
            .collect();
        usage.sort_by(|a, b| b.year_month.cmp(&a.year_month));
        dist.avg_score = average(sum, dist.total);
        Ok((dist, usage))
    }

    pub(crate) async fn recent(&self, site_key: String, limit: u32) -> Result<Vec<RecentVerification>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rows: Vec<String> = self
            .call(|mut c| async move {
                let stop = i64::from(limit) - 1;
                redis::cmd("LRANGE").arg(shared(&["recent", &site_key])).arg(0).arg(stop).query_async(&mut c).await
            })
            .await?;
        Ok(rows.iter().filter_map(|r| parse_recent(r)).collect())
    }

    pub(crate) async fn distribution(&self, site_key: String, month: String) -> Result<StatsDistribution, StoreError> {
        let k = shared(&["usage", &site_key, &month]);
        let fields: HashMap<String, String> =
            self.call(|mut c| async move { redis::cmd("HGETALL").arg(k).query_async(&mut c).await }).await?;
        let (distribution, histogram) = Fields(fields).distribution();
        Ok(StatsDistribution { month, distribution, histogram })
    }

    pub(crate) async fn put_challenge(&self, ch: ChallengeRecord) -> Result<(), StoreError> {
        let body = serde_json::to_string(&ch).map_err(unavailable)?;
        // TTLs are relative: Redis's clock need not agree with ours.
        let ttl = ttl_secs(ch.expires_at, crate::clock::now_secs());
        let set: Option<String> = self
            .call(|mut c| async move {
                let mut cmd = redis::cmd("SET");
                cmd.arg(key(&["challenge", &ch.id])).arg(body).arg("NX").arg("EX").arg(ttl);
                cmd.query_async(&mut c).await
            })
            .await?;
        inserted(set.is_some(), "a challenge with this id")
    }

    pub(crate) async fn peek_challenge(&self, id: String) -> Result<Option<ChallengeRecord>, StoreError> {
        self.challenge("GET", id).await
    }

    pub(crate) async fn take_challenge(&self, id: String) -> Result<Option<ChallengeRecord>, StoreError> {
        self.challenge("GETDEL", id).await
    }

    /// A challenge read with `GET` or taken with `GETDEL`.
    async fn challenge(&self, command: &'static str, id: String) -> Result<Option<ChallengeRecord>, StoreError> {
        let body: Option<String> = self
            .call(|mut c| async move { redis::cmd(command).arg(key(&["challenge", &id])).query_async(&mut c).await })
            .await?;
        body.map(|b| serde_json::from_str(&b).map_err(|e| unavailable(format!("stored challenge: {e}")))).transpose()
    }

    /// Counts a request against rate limits shared by every node, in one
    /// script, waiting at most [`RATE_TIMEOUT`].
    pub(crate) async fn rate(&self, checks: Vec<RateCheck>) -> Result<Rated, StoreError> {
        let (wait_us, over): (u64, Vec<u8>) = self
            .call_within(RATE_TIMEOUT, |mut c| async move {
                let mut inv = RATE.get().prepare_invoke();
                for check in &checks {
                    let interval_us = check.period.as_micros() as f64 / f64::from(check.n.max(1));
                    inv.key(rate_key(check));
                    inv.arg(format!("{interval_us:.3}")).arg(check.n.max(1)).arg(u8::from(check.hard));
                }
                inv.invoke_async(&mut c).await
            })
            .await?;
        Ok(Rated {
            refused: (wait_us > 0).then(|| Duration::from_micros(wait_us)),
            over: over.into_iter().map(|o| o == 1).collect(),
        })
    }

    /// Does nothing: sessions, spent token ids and challenges expire through
    /// their Redis TTLs.
    pub(crate) async fn purge(&self, _now: u64) -> Result<u64, StoreError> {
        Ok(0)
    }
}

impl Sentinel {
    /// After a failed command (or before the first), asks Sentinel which
    /// server is the master, at most every [`SENTINEL_EVERY`]; when it is
    /// another, every thread connects to it.
    async fn ask(&self, node: &Node) -> Result<(), StoreError> {
        if !self.stale.load(Ordering::Relaxed) {
            return Ok(());
        }
        let mut client = self.client.lock().await;
        let known = node.client.lock().expect("not poisoned").is_some();
        {
            let mut asked = self.asked.lock().expect("not poisoned");
            // Another task asked meanwhile, or a moment ago.
            if known && (!self.stale.load(Ordering::Relaxed) || asked.is_some_and(|t| t.elapsed() < SENTINEL_EVERY)) {
                return Ok(());
            }
            *asked = Some(Instant::now());
        }
        let master = client.async_get_client().await.map_err(|e| unavailable(format!("redis sentinel: {e}")))?;
        self.stale.store(false, Ordering::Relaxed);
        let mut current = node.client.lock().expect("not poisoned");
        let addr = master.get_connection_info().addr().clone();
        if current.as_ref().is_none_or(|(_, c)| *c.get_connection_info().addr() != addr) {
            tracing::info!(master = %addr, "redis sentinel names the master");
            let generation = current.as_ref().map_or(0, |(g, _)| g + 1);
            *current = Some((generation, master));
        }
        Ok(())
    }
}

/// `Ok` if a record was added, else the error for `what` existing already
/// (as SQLite's unique keys refuse it).
fn inserted(added: bool, what: &str) -> Result<(), StoreError> {
    if added {
        Ok(())
    } else {
        Err(unavailable(format!("{what} exists")))
    }
}

/// Seconds from `now` until `until`, at least 1 (Redis refuses a TTL of 0).
fn ttl_secs(until: u64, now: u64) -> u64 {
    until.saturating_sub(now).max(1)
}

/// A signing key's arguments: key prefix, kid, secret, created_at,
/// retired_at or "".
fn key_args<'a, 'b>(inv: &'b mut redis::ScriptInvocation<'a>, k: &KeyRecord) -> &'b mut redis::ScriptInvocation<'a> {
    inv.arg(shared_prefix("key")).arg(&k.kid).arg(hex::encode(k.secret)).arg(k.created_at);
    inv.arg(k.retired_at.map(|r| r.to_string()).unwrap_or_default())
}

/// Signing keys from their hashes (newest pushed first), newest first.
fn key_records(rows: Vec<(String, Fields)>) -> Vec<KeyRecord> {
    let mut keys: Vec<KeyRecord> = rows.into_iter().filter_map(|(kid, f)| f.key(kid)).collect();
    // Stable: keys made in the same second stay newest pushed first.
    keys.sort_by_key(|k| std::cmp::Reverse(k.created_at));
    keys
}

fn parse_session(body: &str) -> Result<SessionRecord, StoreError> {
    serde_json::from_str(body).map_err(|e| unavailable(format!("stored session: {e}")))
}

/// A `recent` entry: the verification as JSON, a newline, its reasons as
/// JSON.
fn parse_recent(entry: &str) -> Option<RecentVerification> {
    let (row, reasons) = entry.split_once('\n')?;
    let mut r: RecentVerification = serde_json::from_str(row).ok()?;
    r.reasons = serde_json::from_str(reasons).unwrap_or_default();
    Some(r)
}

/// The fields of a hash.
struct Fields(HashMap<String, String>);

impl Fields {
    /// `{member, field, value, ...}` as the scripts return it.
    fn row(mut row: Vec<String>) -> Option<(String, Self)> {
        if row.is_empty() {
            return None;
        }
        let member = row.remove(0);
        let mut fields = HashMap::new();
        for pair in row.chunks_exact(2) {
            fields.insert(pair[0].clone(), pair[1].clone());
        }
        Some((member, Self(fields)))
    }

    fn get<T: std::str::FromStr>(&self, name: &str) -> Option<T> {
        self.0.get(name)?.parse().ok()
    }

    /// A counter; 0 if absent.
    fn count(&self, name: &str) -> u64 {
        self.get(name).unwrap_or(0)
    }

    fn hash(&self, name: &str) -> Option<[u8; 32]> {
        hex::decode(self.0.get(name)?).ok()?.try_into().ok()
    }

    /// The site of a `site:` hash; `None`, logged, if a field is missing or
    /// bad (a hand-edited key must not stop the other sites).
    fn site(&self, site_key: String) -> Option<SiteRecord> {
        let site = (|| {
            Some(SiteRecord {
                site_key: site_key.clone(),
                name: self.0.get("name")?.clone(),
                origins: self.0.get("origins")?.split_whitespace().map(String::from).collect(),
                threshold: self.get("threshold")?,
                step_up: StepUpPolicy::parse(self.0.get("step_up").map_or("", String::as_str)),
                api_key_hash: self.hash("api_key_hash")?,
                created_at: self.get("created_at")?,
            })
        })();
        if site.is_none() {
            tracing::warn!(%site_key, "a site in redis is unreadable; skipped");
        }
        site
    }

    /// The signing key of a `key:` hash; `None`, logged, if unreadable.
    fn key(&self, kid: String) -> Option<KeyRecord> {
        let record = (|| {
            let retired_at = match self.0.get("retired_at") {
                None => None,
                Some(r) => Some(r.parse().ok()?),
            };
            Some(KeyRecord {
                kid: kid.clone(),
                secret: self.hash("secret")?,
                created_at: self.get("created_at")?,
                retired_at,
            })
        })();
        if record.is_none() {
            tracing::warn!(%kid, "a signing key in redis is unreadable; skipped");
        }
        record
    }

    fn usage(&self, year_month: String) -> UsageMonth {
        UsageMonth {
            year_month,
            total_inits: self.count("inits"),
            total_scores: self.count("scores"),
            total_verifications: self.count("verifications"),
            total_human: self.count(Classification::Human.as_str()),
            total_suspicious: self.count(Classification::Suspicious.as_str()),
            total_bot: self.count(Classification::Bot.as_str()),
        }
    }

    fn distribution(&self) -> (Distribution, [u64; 10]) {
        let total = self.count("verifications");
        let d = Distribution {
            total,
            human: self.count(Classification::Human.as_str()),
            suspicious: self.count(Classification::Suspicious.as_str()),
            bot: self.count(Classification::Bot.as_str()),
            avg_score: average(self.count("score_sum"), total),
        };
        (d, std::array::from_fn(|i| self.count(&format!("h{i}"))))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use oculto_tests::redis::{RedisCluster, RedisServer, Replicated};

    use super::super::tests::{consumption, session, store_works};
    use super::super::{Consumed, Store, StoreOptions};
    use super::*;

    fn open(server: &RedisServer) -> Store {
        let options = StoreOptions { recent_keep: 2, ..Default::default() };
        Store::open(&server.url(), options).unwrap()
    }

    #[tokio::test]
    async fn redis_store_works() {
        let server = RedisServer::start();
        store_works(&open(&server)).await;
    }

    /// Issue 6: the suite on a Redis Cluster of three masters, where every
    /// script's keys must share a slot; then rate limits (two checks of one
    /// request in one script), and a bounded error while the node holding
    /// `{oculto}` is down, until it is back.
    #[tokio::test]
    async fn cluster_store_works() {
        let mut cluster = RedisCluster::start(3);
        let options = StoreOptions { recent_keep: 2, ..Default::default() };
        let store = Store::open(&cluster.url(), options).unwrap();
        store_works(&store).await;
        let checks = |n| {
            let check =
                |limit| RateCheck { limit, who: "192.0.2.1".into(), n, period: Duration::from_secs(60), hard: true };
            vec![check("init"), check("soft")]
        };
        let first = store.rate(checks(1)).await.unwrap().unwrap();
        assert_eq!((first.refused, first.over), (None, vec![false, false]));
        assert!(store.rate(checks(1)).await.unwrap().unwrap().refused.is_some(), "the allowance is spent");

        let node = cluster.node_of("{oculto}");
        node.kill();
        let started = Instant::now();
        assert!(store.ping().await.is_err());
        assert!(store.sites().await.is_err());
        assert!(started.elapsed() < 3 * COMMAND_TIMEOUT, "bounded waits: {:?}", started.elapsed());
        node.restart();
        cluster.wait_ok();
        let started = Instant::now();
        while store.sites().await.is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "the store did not come back");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(store.sites().await.unwrap().len(), 1, "kept by its append-only file");
    }

    /// Spends `jti` again until the store answers, within `limit`: while it
    /// is unavailable it retries, as a caller would; its first answer must
    /// be `Replay`.
    async fn replay_within(store: &Store, jti: &str, now: u64, limit: Duration) {
        let started = Instant::now();
        loop {
            match store.consume(consumption(jti, "site_a", now, None)).await {
                Ok(c) => {
                    assert_eq!(c, Consumed::Replay, "{jti} was spent already");
                    return;
                }
                Err(e) => assert!(started.elapsed() < limit, "{jti}: still unavailable: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Issue 6: the suite through Sentinel; after a failover, the store
    /// follows the new master by itself, and spent token ids are there
    /// (each waited for the replica).
    #[tokio::test]
    async fn sentinel_store_works_and_follows_a_failover() {
        let servers = Replicated::start();
        let options = StoreOptions { recent_keep: 2, ..Default::default() };
        let store = Store::open(&servers.url(), options).unwrap();
        store_works(&store).await;
        let now = crate::clock::now_secs();
        assert!(matches!(
            store.consume(consumption("j_before", "site_a", now, None)).await.unwrap(),
            Consumed::First { .. }
        ));
        servers.fail_over();
        replay_within(&store, "j_before", now, Duration::from_secs(20)).await;
        // Until the old master replicates the new one, no replica confirms
        // a spent id, and this store answers 503 (tests/tests/redis.rs
        // waits that out); one that does not wait spends it on the new
        // master at once.
        let unconfirmed = Store::open(&format!("{}?wait_replicas=0", servers.url()), options).unwrap();
        assert!(matches!(
            unconfirmed.consume(consumption("j_after", "site_a", now, None)).await.unwrap(),
            Consumed::First { .. }
        ));
        // Until this store has found the new master and its replica has
        // caught up, it answers unavailable, never a second `First`.
        replay_within(&store, "j_after", now, Duration::from_secs(30)).await;
        let role = servers.replica.info("replication");
        assert!(role.contains("role:master"), "{role}");
    }

    /// Sessions, spent token ids and challenges go by their TTLs, counted
    /// from the verifier's clock.
    #[tokio::test]
    async fn expiries_are_ttls() {
        let server = RedisServer::start();
        let store = open(&server);
        let now = crate::clock::now_secs();
        store.create_session(session("co_t", "site_a", now), now + 900).await.unwrap();
        assert!(matches!(
            store.consume(consumption("j_t", "site_a", now, None)).await.unwrap(),
            Consumed::First { .. }
        ));
        let ttl = |k: &str| {
            let reply = server.command(&["TTL", k]).unwrap();
            reply.trim_start_matches(':').trim_end().parse::<i64>().unwrap()
        };
        assert!((899..=900).contains(&ttl("oculto:session:co_t")), "session lives until purge_after");
        assert!((359..=360).contains(&ttl("oculto:spent:j_t")), "a spent id lives until exp + 60 s");
        assert_eq!(ttl("{oculto}:sites"), -2, "no such key");

        let mut ch = challenge("ch_t", now + 1);
        store.put_challenge(ch.clone()).await.unwrap();
        assert_eq!(store.peek_challenge("ch_t").await.unwrap(), Some(ch.clone()));
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert_eq!(store.peek_challenge("ch_t").await.unwrap(), None, "gone after its expiry");
        ch.id = "ch_u".into();
        store.put_challenge(ch.clone()).await.unwrap();
        assert!(store.put_challenge(ch).await.is_err(), "a challenge id is put once");
        assert_eq!(store.purge(now + 10_000).await.unwrap(), 0, "purge has nothing to do");
    }

    fn challenge(id: &str, expires_at: u64) -> ChallengeRecord {
        ChallengeRecord {
            id: id.into(),
            site_key: None,
            answer: "42".into(),
            check: crate::challenge::Check::Text(crate::challenge::Kind::Numeric),
            lang: crate::challenge::Lang::En,
            expires_at,
            step_up: None,
        }
    }

    /// Two nodes starting at once on an empty Redis agree on one signing
    /// key: the first one's.
    #[tokio::test]
    async fn the_first_signing_key_wins() {
        let server = RedisServer::start();
        let (a, b) = (open(&server), open(&server));
        let now = crate::clock::now_secs();
        let ka = KeyRecord { kid: "ka".into(), secret: [1; 32], created_at: now, retired_at: None };
        let kb = KeyRecord { kid: "kb".into(), secret: [2; 32], created_at: now, retired_at: None };
        let (ra, rb) = tokio::join!(a.ensure_key(ka), b.ensure_key(kb));
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        assert_eq!(ra.len(), 1, "{ra:?}");
        assert_eq!(ra, rb);
        assert_eq!(b.keys().await.unwrap(), ra);
    }

    /// With Redis down, every method fails within the timeout (never a
    /// "valid"); once Redis is back, the same store works again.
    #[tokio::test]
    async fn unavailable_then_back() {
        let mut server = RedisServer::start();
        let store = open(&server);
        store.ping().await.unwrap();
        let now = crate::clock::now_secs();
        server.kill();
        let started = Instant::now();
        assert!(store.ping().await.is_err());
        assert!(store.consume(consumption("j_d", "site_a", now, None)).await.is_err());
        assert!(store.claim_session("co_d", now).await.is_err());
        assert!(store.sites().await.is_err());
        assert!(store.take_challenge("ch_d").await.is_err());
        assert!(started.elapsed() < 5 * COMMAND_TIMEOUT, "bounded waits: {:?}", started.elapsed());

        server.restart();
        let started = Instant::now();
        while store.ping().await.is_err() {
            assert!(started.elapsed() < Duration::from_secs(10), "the store did not reconnect");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(matches!(
            store.consume(consumption("j_d", "site_a", now, None)).await.unwrap(),
            Consumed::First { .. }
        ));
    }

    /// A stuck Redis (stopped, connections open) costs a bounded wait too.
    #[tokio::test]
    async fn a_stuck_redis_times_out() {
        let server = RedisServer::start();
        let store = open(&server);
        store.ping().await.unwrap();
        server.pause();
        let started = Instant::now();
        let err = store.peek_session("co_s").await.unwrap_err();
        let waited = started.elapsed();
        server.resume();
        assert!(waited < COMMAND_TIMEOUT + Duration::from_secs(1), "waited {waited:?}: {err}");
        let started = Instant::now();
        while store.ping().await.is_err() {
            assert!(started.elapsed() < Duration::from_secs(10), "the store did not come back");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Data written by hand or by another program never panics the store:
    /// unreadable sites and keys are skipped, other bad values are errors.
    #[tokio::test]
    async fn bad_data_is_not_a_panic() {
        let server = RedisServer::start();
        let store = open(&server);
        for cmd in [
            &["SADD", "{oculto}:sites", "site_bad", "site_half"][..],
            &["HSET", "{oculto}:site:site_bad", "name", "x", "origins", "", "threshold", "300"],
            &["HSET", "{oculto}:site:site_half", "name", "y"],
            &["LPUSH", "{oculto}:keys", "kid_bad"],
            &["HSET", "{oculto}:key:kid_bad", "secret", "zz", "created_at", "1"],
            &["HSET", "oculto:session:co_bad", "body", "{", "state", "0", "expires_at", "x"],
            &["SET", "oculto:challenge:ch_bad", "not json"],
            &["LPUSH", "{oculto}:recent:site_bad", "no newline", "{\n[]"],
            &["HSET", "{oculto}:usage:site_bad:2026-01", "verifications", "many"],
            &["SADD", "{oculto}:months:site_bad", "2026-01"],
            &["SET", "oculto:session:co_string", "a string, not a hash"],
        ] {
            let reply = server.command(cmd).unwrap();
            assert!(!reply.starts_with('-'), "{cmd:?}: {reply}");
        }
        assert_eq!(store.sites().await.unwrap(), vec![]);
        assert_eq!(store.keys().await.unwrap(), vec![]);
        assert!(store.peek_session("co_bad").await.is_err());
        assert!(store.claim_session("co_bad", 1).await.is_ok(), "expires_at unreadable: expired, not a panic");
        assert!(store.peek_session("co_string").await.is_err());
        assert!(store.claim_session("co_string", 1).await.is_err());
        assert!(store.peek_challenge("ch_bad").await.is_err());
        assert!(store.take_challenge("ch_bad").await.is_err());
        assert_eq!(store.recent("site_bad", 10).await.unwrap(), vec![]);
        assert_eq!(store.summary("site_bad").await.unwrap().0.total, 0);
        assert_eq!(store.distribution("site_bad", "2026-01").await.unwrap().distribution.total, 0);
    }

    /// Issue 6: a Redis written by a version before the `{oculto}` hash tag
    /// keeps its sites, signing keys and stats: the first store call renames
    /// them, once; sessions and spent token ids kept their names.
    #[tokio::test]
    async fn keys_of_the_first_layout_are_renamed() {
        let server = RedisServer::start();
        let old = open(&server);
        let now = crate::clock::now_secs();
        let site = SiteRecord {
            site_key: "site_old".into(),
            name: "Old".into(),
            origins: vec!["https://old.example".into()],
            threshold: 50,
            step_up: StepUpPolicy::Never,
            api_key_hash: [7; 32],
            created_at: now,
        };
        old.add_site(site.clone()).await.unwrap();
        let kid = KeyRecord { kid: "k_old".into(), secret: [3; 32], created_at: now, retired_at: None };
        old.ensure_key(kid.clone()).await.unwrap();
        old.create_session(session("co_old", "site_old", now), now + 900).await.unwrap();
        old.consume(consumption("j_old", "site_old", now, None)).await.unwrap();
        // Back to the first layout, as that version wrote it.
        let keys = server.command(&["KEYS", "{oculto}:*"]).unwrap();
        for k in keys.split("\r\n").filter(|l| l.starts_with("{oculto}:")) {
            let first = k.replacen("{oculto}:", "oculto:", 1);
            assert!(server.command(&["RENAME", k, &first]).unwrap().starts_with('+'));
        }
        server.command(&["DEL", "oculto:layout", "oculto:counted:j_old"]).unwrap();

        let new = open(&server);
        assert_eq!(new.sites().await.unwrap(), vec![site]);
        assert_eq!(new.keys().await.unwrap(), vec![kid]);
        assert_eq!(new.summary("site_old").await.unwrap().0.total, 1);
        assert_eq!(new.recent("site_old", 5).await.unwrap().len(), 1);
        assert!(new.peek_session("co_old").await.unwrap().is_some());
        assert_eq!(new.consume(consumption("j_old", "site_old", now, None)).await.unwrap(), Consumed::Replay);
        assert_eq!(server.command(&["EXISTS", "oculto:sites"]).unwrap(), ":0\r\n");
        assert_eq!(server.command(&["GET", "{oculto}:layout"]).unwrap(), "$1\r\n2\r\n");
    }

    #[test]
    fn bad_urls_are_errors() {
        assert!(Store::open("redis://127.0.0.1:6379", StoreOptions::default()).is_err(), "no runtime");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            assert!(Store::open("redis://[::1", StoreOptions::default()).is_err());
            assert!(Store::open("redis://127.0.0.1:notaport", StoreOptions::default()).is_err());
            for bad in [
                "redis+cluster://",
                "redis+cluster://127.0.0.1",
                "redis+cluster://127.0.0.1:7000,h:x",
                "redis+cluster://127.0.0.1:7000/2",
                "redis+sentinel://127.0.0.1:26379",
                "redis+sentinel://127.0.0.1:26379/m/x",
                "redis+sentinel://127.0.0.1:26379/m?wait_replicas=many",
                "redis+sentinel://127.0.0.1:26379/m?other=1",
            ] {
                assert!(Store::open(bad, StoreOptions::default()).is_err(), "{bad}");
            }
            for good in [
                "redis+cluster://127.0.0.1:7000,127.0.0.1:7001",
                "redis+cluster://:pw@127.0.0.1:7000",
                "redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/mymaster/2",
                "redis+sentinel://:pw@127.0.0.1:26379/mymaster?wait_replicas=0",
            ] {
                assert!(Store::open(good, StoreOptions::default()).is_ok(), "{good}");
            }
        });
    }
}
