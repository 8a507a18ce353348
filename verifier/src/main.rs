//! The `oculto` command: run the verifier, manage sites and signing keys.

// As in the library: the store futures nest deeper than the default.
#![recursion_limit = "256"]

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use clap::{Parser, Subcommand};
use oculto_verifier::config::{Config, Overrides};
use oculto_verifier::sites::{hash_api_key, normalize_origin};
use oculto_verifier::store::{self, SiteRecord, StepUpPolicy, Store};
use oculto_verifier::{clock, keys, random};
use serde::Serialize;

/// Oculto: a self-hosted CAPTCHA verifier.
#[derive(Parser)]
#[command(name = "oculto", version, about)]
struct Cli {
    /// A TOML configuration file (see verifier.example.toml).
    #[arg(long, global = true, env = "OCULTO_CONFIG")]
    config: Option<PathBuf>,
    /// The store: sqlite://PATH, redis://HOST:PORT[/DB], redis+sentinel://HOST:PORT[,...]/MASTER[/DB]
    /// or redis+cluster://HOST:PORT[,...] [env: OCULTO_STORE].
    #[arg(long, global = true)]
    store: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the verifier.
    Serve {
        /// Address to listen on [env: OCULTO_ADDR] [default: 127.0.0.1:8787].
        #[arg(long)]
        addr: Option<SocketAddr>,
        /// Register a demo site and serve the demo pages from www/.
        #[arg(long)]
        demo: bool,
    },
    /// Manage sites.
    Site {
        #[command(subcommand)]
        command: SiteCommand,
    },
    /// Manage signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Measure the step-up challenges.
    Challenge {
        #[command(subcommand)]
        command: ChallengeCommand,
    },
    /// Measure the scorer on human and bot traces (ROC AUC, TPR at 1% FPR,
    /// classes per group), or prepare traces for it.
    Eval(oculto_verifier::eval::EvalArgs),
    /// Solve a proof of work challenge from /init (for curl walkthroughs and
    /// clients without the widget); prints the nonce.
    Pow {
        /// The session id from /init.
        #[arg(long)]
        session_id: String,
        /// The site key.
        #[arg(long)]
        site_key: String,
        /// challenge.salt from /init.
        #[arg(long)]
        salt: String,
        /// challenge.difficulty from /init.
        #[arg(long, value_parser = clap::value_parser!(u8).range(0..=32))]
        difficulty: u8,
    },
}

#[derive(Subcommand)]
enum SiteCommand {
    /// Register a site; prints its site key and API key (shown only once).
    Add {
        /// A name for people.
        #[arg(long)]
        name: String,
        /// An origin allowed to use the site key, e.g. `https://example.com` (repeatable).
        #[arg(long = "origin", required = true)]
        origins: Vec<String>,
        /// Scores above this are not valid.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u8).range(0..=100))]
        threshold: u8,
        /// When visitors get a step-up challenge (image and audio).
        #[arg(long, value_enum, default_value_t = StepUpPolicy::Suspicious)]
        step_up: StepUpPolicy,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the registered sites (API keys are never shown).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Replace a site's API key; prints the new one (shown only once).
    RotateKey {
        /// The site key.
        site_key: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ChallengeCommand {
    /// Time and size of image and audio challenges of every kind.
    Bench(oculto_verifier::challenge::measure::BenchArgs),
    /// Tesseract OCR against image challenges of every kind: exact solves
    /// and per-character accuracy (needs Debian's tesseract-ocr).
    Ocr(oculto_verifier::challenge::ocr::OcrArgs),
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Make a new signing key; the old one stays published until its tokens expire.
    Rotate {
        /// Seconds the new key is published and accepted by every node
        /// before it signs (and the old one stops signing). 0 switches at
        /// once: nodes that have not reloaded their keys yet (up to a
        /// second) refuse tokens signed with the new key.
        #[arg(long, default_value_t = keys::ROTATION_DELAY_SECS)]
        delay: u64,
    },
}

#[derive(Serialize)]
struct SiteOut<'a> {
    name: &'a str,
    site_key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    api_key: Option<&'a str>,
    origins: &'a [String],
    threshold: u8,
    step_up: &'static str,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let overrides = Overrides {
        store: cli.store.clone(),
        addr: match &cli.command {
            Command::Serve { addr, .. } => *addr,
            _ => None,
        },
        demo: matches!(cli.command, Command::Serve { demo: true, .. }).then_some(true),
    };
    let config =
        Config::load(cli.config.as_deref(), &overrides).map_err(anyhow::Error::msg).context("configuration")?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    if let Command::Pow { session_id, site_key, salt, difficulty } = &cli.command {
        let prefix = oculto_shared::pow::Prefix::new(session_id, site_key, salt);
        let nonce = prefix.solve_range(*difficulty, 0, u64::MAX).context("no nonce found")?;
        println!("{nonce}");
        return Ok(());
    }
    if let Command::Challenge { command } = &cli.command {
        return match command {
            ChallengeCommand::Bench(args) => oculto_verifier::challenge::measure::run(args),
            ChallengeCommand::Ocr(args) => oculto_verifier::challenge::ocr::run(args),
        };
    }
    if let Command::Eval(args) = &cli.command {
        return oculto_verifier::eval::run(args);
    }
    let rt = actix_web::rt::System::new();
    match cli.command {
        Command::Serve { .. } => rt.block_on(oculto_verifier::serve(config)),
        Command::Site { command } => rt.block_on(site(config, command)),
        Command::Keys { command: KeysCommand::Rotate { delay } } => rt.block_on(async {
            let store = open(&config)?;
            let delay = delay.min(3600);
            let from = clock::now_secs() + delay;
            let k = keys::generate(from);
            store.rotate_key(k.clone(), from).await?;
            println!(
                "new signing key {}; it signs from {} (in {delay} s), and the previous one stays published for {} s \
                 after that",
                k.kid,
                clock::rfc3339(from),
                config.token_ttl_secs + 120
            );
            println!("running verifiers publish and accept it within a second");
            Ok(())
        }),
        Command::Pow { .. } | Command::Challenge { .. } | Command::Eval(_) => Ok(()),
    }
}

fn open(config: &Config) -> anyhow::Result<Store> {
    let url = &config.store;
    Store::open(url, config.store_options()).with_context(|| format!("opening {}", store::redacted(url)))
}

async fn site(config: Config, command: SiteCommand) -> anyhow::Result<()> {
    let store = open(&config)?;
    match command {
        SiteCommand::Add { name, origins, threshold, step_up, json } => {
            let mut normalized = Vec::new();
            for o in &origins {
                match normalize_origin(o) {
                    Some(n) => normalized.push(n),
                    None => bail!("--origin {o:?} is not an http(s) origin like https://example.com"),
                }
            }
            let name = name.trim();
            if name.is_empty() || name.len() > 100 {
                bail!("--name must be 1 to 100 characters");
            }
            let site_key = random::id(oculto_shared::SITE_KEY_PREFIX);
            let api_key = random::secret(oculto_shared::API_KEY_PREFIX);
            let record = SiteRecord {
                site_key: site_key.clone(),
                name: name.to_owned(),
                origins: normalized,
                threshold,
                step_up,
                api_key_hash: hash_api_key(&api_key),
                created_at: clock::now_secs(),
            };
            store.add_site(record.clone()).await?;
            print_site(&record, Some(&api_key), json);
        }
        SiteCommand::List { json } => {
            let sites = store.sites().await?;
            if json {
                let out: Vec<_> = sites.iter().map(|s| site_out(s, None)).collect();
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                for s in &sites {
                    println!(
                        "{}\t{}\tthreshold {}\tstep-up {}\t{}",
                        s.site_key,
                        s.name,
                        s.threshold,
                        s.step_up.as_str(),
                        s.origins.join(" ")
                    );
                }
            }
        }
        SiteCommand::RotateKey { site_key, json } => {
            let api_key = random::secret(oculto_shared::API_KEY_PREFIX);
            if !store.set_api_key_hash(&site_key, hash_api_key(&api_key)).await? {
                bail!("no site with site key {site_key}");
            }
            let site = store.sites().await?.into_iter().find(|s| s.site_key == site_key).context("site vanished")?;
            print_site(&site, Some(&api_key), json);
        }
    }
    Ok(())
}

fn site_out<'a>(s: &'a SiteRecord, api_key: Option<&'a str>) -> SiteOut<'a> {
    SiteOut {
        name: &s.name,
        site_key: &s.site_key,
        api_key,
        origins: &s.origins,
        threshold: s.threshold,
        step_up: s.step_up.as_str(),
    }
}

fn print_site(s: &SiteRecord, api_key: Option<&str>, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(&site_out(s, api_key)).unwrap_or_default());
        return;
    }
    println!("site:      {}", s.name);
    println!("site key:  {}", s.site_key);
    if let Some(k) = api_key {
        println!("API key:   {k}   (shown once: store it now)");
    }
    println!("origins:   {}", s.origins.join(" "));
    println!("threshold: {}", s.threshold);
    println!("step-up:   {}", s.step_up.as_str());
}
