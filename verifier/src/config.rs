//! The verifier's settings, read in order from built-in defaults, an optional
//! TOML file (`--config`), environment variables (`OCULTO_ADDR`,
//! `OCULTO_STORE`, and `OCULTO_<SECTION>__<KEY>` for nested keys, e.g.
//! `OCULTO_RATE_LIMIT__INIT_PER_MIN`), then command-line flags. Every key is
//! described in `verifier.example.toml`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// The longest `issuer`, bytes. It goes into every verdict, which must stay
/// within [`oculto_shared::token::MAX_TOKEN_LEN`].
pub const MAX_ISSUER: usize = 255;

/// All settings, validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub addr: SocketAddr,
    /// `sqlite://PATH` (default), `redis://HOST:PORT[/DB]`,
    /// `redis+sentinel://HOST:PORT[,...]/MASTER[/DB]` or
    /// `redis+cluster://HOST:PORT[,...]`.
    pub store: String,
    /// The `iss` claim of verdicts.
    pub issuer: String,
    /// Lifetime of verdict tokens, seconds.
    pub token_ttl_secs: u64,
    /// Lifetime of an unscored session, seconds.
    pub session_ttl_secs: u64,
    /// Proof of work settings.
    pub pow: PowConfig,
    /// Per-IP and per-site request limits.
    pub rate_limit: RateLimitConfig,
    /// Step-up and compatibility-API challenges.
    pub challenge: ChallengeConfig,
    /// Peers whose `X-Forwarded-For` is believed (IPs or CIDRs).
    pub trusted_proxies: Vec<IpNet>,
    /// Largest request body, bytes.
    pub body_limit: usize,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// SQLite settings.
    pub sqlite: SqliteConfig,
    /// How many recent verifications `/stats?action=recent` keeps per site.
    pub recent_keep: u32,
    /// Serve the demo site from `www_dir` and register a demo site.
    pub demo: bool,
    /// Folder of the demo pages.
    pub www_dir: PathBuf,
    /// Folder of the built widget, served at `/widget/`.
    pub widget_dir: PathBuf,
    /// Log filter, as `RUST_LOG` takes it.
    pub log: String,
    /// Prometheus metrics at `/metrics`.
    pub metrics: MetricsConfig,
}

/// Prometheus metrics at `/metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Count and serve metrics; when off, `/metrics` answers 404.
    pub enabled: bool,
    /// Client networks (CIDRs, `127.0.0.1/32` for one address) that may
    /// read `/metrics`; others get 404. Empty: anyone.
    pub allow: Vec<IpNet>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self { enabled: true, allow: Vec::new() }
    }
}

/// Proof of work settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PowConfig {
    /// Leading zero bits asked of a normal visitor.
    pub difficulty: u8,
    /// Extra bits asked of an address that opens sessions faster than
    /// `rate_limit.soft_per_min`.
    pub flood_extra: u8,
}

/// Per-IP request limits, per minute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// `/init` calls per minute per address before 429.
    pub init_per_min: u32,
    /// `/score` calls per minute per address before 429.
    pub score_per_min: u32,
    /// `/init` calls per minute per address beyond which the proof of work
    /// gets harder and the score notes `rate`.
    pub soft_per_min: u32,
    /// `/init` calls per minute for one site, from all addresses, beyond
    /// which its proof of work gets harder (half of `pow.flood_extra`).
    pub site_soft_per_min: u32,
    /// `/api/generate` calls per hour per site key before 429.
    pub generate_per_hour: u32,
    /// `/api/validate` calls per hour per site key before 429, failed ones
    /// included.
    pub validate_per_hour: u32,
    /// `/simple-captcha-endpoint` and `/valider-captcha` calls per minute per
    /// address before 429.
    pub captchetat_per_min: u32,
}

/// Challenges: the step-up the widget shows, and the compatibility APIs'.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChallengeConfig {
    /// Lifetime of a challenge, seconds.
    pub ttl_secs: u64,
    /// Answers a step-up session may give before it gets its verdict anyway
    /// (with the score raised).
    pub attempts: u8,
    /// New challenges a step-up session may ask for without answering.
    pub refreshes: u8,
    /// The CaptchEtat type of the widget's step-up challenge, less its
    /// language suffix (the audio comes in both languages).
    pub step_up_type: String,
    /// Points a right step-up answer takes off the score.
    pub right_bonus: u8,
    /// Points each wrong step-up answer adds to the score.
    pub wrong_penalty: u8,
}

/// SQLite settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SqliteConfig {
    /// `normal`: every commit survives a crash or kill of the process (WAL).
    /// `full`: also a power loss, at the cost of an fsync per group commit.
    pub synchronous: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8787)),
            store: "sqlite://oculto.db".into(),
            issuer: "oculto".into(),
            token_ttl_secs: oculto_shared::TOKEN_TTL_SECS,
            session_ttl_secs: 600,
            pow: PowConfig::default(),
            rate_limit: RateLimitConfig::default(),
            challenge: ChallengeConfig::default(),
            trusted_proxies: Vec::new(),
            body_limit: 64 * 1024,
            workers: 0,
            sqlite: SqliteConfig::default(),
            recent_keep: 1000,
            demo: false,
            www_dir: PathBuf::from("www"),
            widget_dir: PathBuf::from("pkg/dist"),
            log: "info".into(),
            metrics: MetricsConfig::default(),
        }
    }
}

impl Default for PowConfig {
    fn default() -> Self {
        Self { difficulty: 18, flood_extra: 4 }
    }
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            init_per_min: 30,
            score_per_min: 20,
            soft_per_min: 10,
            site_soft_per_min: 600,
            generate_per_hour: 100,
            validate_per_hour: 200,
            captchetat_per_min: 60,
        }
    }
}

impl Default for ChallengeConfig {
    fn default() -> Self {
        Self {
            ttl_secs: 300,
            attempts: 3,
            refreshes: 5,
            step_up_type: "alphanumerique4to6LightCaptcha".into(),
            right_bonus: 30,
            wrong_penalty: 20,
        }
    }
}

impl Default for SqliteConfig {
    fn default() -> Self {
        Self { synchronous: "normal".into() }
    }
}

/// Settings given on the command line; `None` leaves the lower layers' value.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    /// `--addr`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addr: Option<SocketAddr>,
    /// `--store`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// `--demo`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demo: Option<bool>,
}

impl Config {
    /// Reads defaults, then `file`, then the environment, then `overrides`,
    /// and validates the result. Errors name the offending key.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, String> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(f) = file {
            if !f.exists() {
                return Err(format!("config file {} does not exist", f.display()));
            }
            fig = fig.merge(Toml::file(f));
        }
        // OCULTO_CONFIG names the file; OCULTO_BIN is the tests' (which
        // binary to run), not a setting.
        let env = Env::prefixed("OCULTO_").split("__").filter(|k| k != "config" && k != "bin");
        let cfg: Config = fig.merge(env).merge(Serialized::defaults(overrides)).extract().map_err(|e| e.to_string())?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// How to open the store.
    pub fn store_options(&self) -> crate::store::StoreOptions {
        crate::store::StoreOptions {
            synchronous_full: self.sqlite.synchronous == "full",
            recent_keep: self.recent_keep,
        }
    }

    fn validate(&self) -> Result<(), String> {
        if self.issuer.is_empty() || self.issuer.len() > MAX_ISSUER || self.issuer.chars().any(char::is_control) {
            return Err(format!("issuer must be 1 to {MAX_ISSUER} bytes with no control characters"));
        }
        if !(1..=100_000).contains(&self.recent_keep) {
            return Err("recent_keep must be between 1 and 100000".into());
        }
        let schemes = ["sqlite://", "redis://", "redis+sentinel://", "redis+cluster://"];
        if !schemes.iter().any(|s| self.store.starts_with(s)) {
            return Err(format!(
                "store: expected sqlite://PATH, redis://HOST:PORT, redis+sentinel://HOST:PORT/MASTER or \
                 redis+cluster://HOST:PORT[,HOST:PORT...], got {:?}",
                self.store
            ));
        }
        if self.pow.difficulty > oculto_shared::pow::MAX_DIFFICULTY
            || self.pow.difficulty.saturating_add(self.pow.flood_extra) > oculto_shared::pow::MAX_DIFFICULTY
        {
            return Err(format!(
                "pow.difficulty + pow.flood_extra must be at most {}",
                oculto_shared::pow::MAX_DIFFICULTY
            ));
        }
        for (key, v) in [
            ("rate_limit.init_per_min", self.rate_limit.init_per_min),
            ("rate_limit.score_per_min", self.rate_limit.score_per_min),
            ("rate_limit.soft_per_min", self.rate_limit.soft_per_min),
            ("rate_limit.site_soft_per_min", self.rate_limit.site_soft_per_min),
            ("rate_limit.generate_per_hour", self.rate_limit.generate_per_hour),
            ("rate_limit.validate_per_hour", self.rate_limit.validate_per_hour),
            ("rate_limit.captchetat_per_min", self.rate_limit.captchetat_per_min),
            ("challenge.attempts", u32::from(self.challenge.attempts)),
        ] {
            if v == 0 {
                return Err(format!("{key} must be at least 1"));
            }
        }
        if !(2..=3600).contains(&self.token_ttl_secs) {
            return Err("token_ttl_secs must be between 2 and 3600".into());
        }
        if !(2..=86_400).contains(&self.session_ttl_secs) {
            return Err("session_ttl_secs must be between 2 and 86400".into());
        }
        if !(1024..=16 * 1024 * 1024).contains(&self.body_limit) {
            return Err("body_limit must be between 1024 and 16777216".into());
        }
        if !(2..=3600).contains(&self.challenge.ttl_secs) {
            return Err("challenge.ttl_secs must be between 2 and 3600".into());
        }
        if crate::challenge::captchetat_spec(&format!("{}EN", self.challenge.step_up_type)).is_none() {
            return Err(format!(
                "challenge.step_up_type: {:?} is not a CaptchEtat type without its FR/EN suffix, \
                 e.g. alphanumerique4to6LightCaptcha",
                self.challenge.step_up_type
            ));
        }
        if self.challenge.right_bonus > 100 || self.challenge.wrong_penalty > 100 {
            return Err("challenge.right_bonus and challenge.wrong_penalty must be at most 100".into());
        }
        if !matches!(self.sqlite.synchronous.as_str(), "normal" | "full") {
            return Err("sqlite.synchronous must be \"normal\" or \"full\"".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert!(Config::default().validate().is_ok());
    }

    /// Issue 6 (fuzzing): a long issuer made verdicts longer than any token
    /// `/verify` accepts.
    #[test]
    fn issuer_is_bounded() {
        let with = |issuer: String| Config { issuer, ..Config::default() }.validate();
        assert!(with("https://captcha.example.com".into()).is_ok());
        assert!(with("i".repeat(MAX_ISSUER)).is_ok());
        assert!(with("i".repeat(MAX_ISSUER + 1)).unwrap_err().contains("issuer"));
        assert!(with(String::new()).is_err());
        assert!(with("oculto\n".into()).is_err());
    }

    /// The sample config documents every key with its default value.
    #[test]
    fn the_example_file_holds_the_defaults() {
        let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("../verifier.example.toml");
        let from_file: Config = Figment::from(Toml::file(&f)).extract().unwrap();
        assert_eq!(from_file, Config::default());
        let keys = |fig: Figment| {
            fn walk(prefix: String, v: &figment::value::Value, out: &mut Vec<String>) {
                match v.as_dict() {
                    Some(d) => d.iter().for_each(|(k, v)| walk(format!("{prefix}{k}."), v, out)),
                    None => out.push(prefix.trim_end_matches('.').to_owned()),
                }
            }
            let mut out = Vec::new();
            walk(String::new(), &fig.extract::<figment::value::Value>().unwrap(), &mut out);
            out.sort();
            out
        };
        let written = keys(Figment::from(Toml::file(&f)));
        assert_eq!(written, keys(Figment::from(Serialized::defaults(Config::default()))), "in {}", f.display());
    }

    #[test]
    fn flags_override_a_file() {
        let dir = std::env::temp_dir().join(format!("oculto-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("v.toml");
        std::fs::write(&f, "addr = \"127.0.0.1:9000\"\n[rate_limit]\ninit_per_min = 5\n").unwrap();
        let c = Config::load(Some(&f), &Overrides::default()).unwrap();
        assert_eq!(c.addr.port(), 9000);
        assert_eq!(c.rate_limit.init_per_min, 5);
        let o = Overrides { addr: Some("127.0.0.1:9001".parse().unwrap()), ..Default::default() };
        assert_eq!(Config::load(Some(&f), &o).unwrap().addr.port(), 9001);
        std::fs::write(&f, "[rate_limit]\ninit_per_min = 0\n").unwrap();
        assert!(Config::load(Some(&f), &Overrides::default()).unwrap_err().contains("rate_limit.init_per_min"));
        std::fs::write(&f, "[metrics]\nenabled = false\nallow = [\"10.0.0.0/8\", \"::1/128\"]\n").unwrap();
        let c = Config::load(Some(&f), &Overrides::default()).unwrap();
        assert!(!c.metrics.enabled);
        assert_eq!(c.metrics.allow.len(), 2);
    }
}
