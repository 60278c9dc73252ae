//! The command line (docs/contract.md, Operations): `zipper serve` and `zipper sign`, parsed with clap, and
//! their exit codes.
//!
//! Owns the flags and help texts, reading the `sign` command's secret, starting the tokio runtime and tracing
//! for `serve`, and mapping failures to exit codes ([`CliError::exit_code`]: 64 for a bad configuration or
//! bad arguments). It must not re-implement link or configuration rules: it calls [`crate::core::link`] and
//! [`crate::config`], and it never takes a secret as an argument (other users can read arguments in `ps`).

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand};

use crate::config::{Config, ConfigErrors, Env, LogFormat, ProcessEnv};
use crate::core::keys::{KeyId, Secret};
use crate::core::link::{build_link_path, parse_path};

/// Exit code for a bad configuration or bad arguments (`EX_USAGE` of sysexits.h).
pub const EXIT_USAGE: u8 = 64;

/// Exit code for a failure while running.
pub const EXIT_FAILURE: u8 = 1;

/// The base URL `zipper sign` prefixes to links by default: the default `listen` address.
pub const DEFAULT_BASE: &str = "http://127.0.0.1:8080";

/// zipper: a streaming zip proxy.
#[derive(Debug, Parser)]
#[command(
    name = "zipper",
    version,
    about = "A streaming zip proxy: signed links in, zip archives of origin files out.",
    long_about = "A streaming zip proxy: signed links in, zip archives of origin files out.\n\n\
        An origin app signs a link /{key_id}/{callback}/{signature}/{filename} with a secret it shares \
        with zipper. When a browser follows the link, zipper checks the signature, fetches the JSON \
        manifest from the callback URL, and streams a zip of the listed files.\n\n\
        Quick start:\n  \
        ZIPPER_KEYS=main:change-me zipper serve\n  \
        ZIPPER_SECRET=change-me zipper sign --key-id main --secret-env ZIPPER_SECRET --now \\\n    \
        https://app.example/downloads/42/manifest\n\n\
        Logging: set ZIPPER_LOG (e.g. ZIPPER_LOG=debug; default info) and ZIPPER_LOG_FORMAT (pretty or json). \
        Signing recipe for origin apps: docs/signing.md."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (refuses to start without a signing key).
    #[command(long_about = "Run the server.\n\n\
        Settings come from the TOML file given with --config (see config/zipper.toml, which documents \
        every setting) and from ZIPPER_* environment variables, which win over the file: `listen` is \
        ZIPPER_LISTEN, `max_concurrent_downloads` is ZIPPER_MAX_CONCURRENT_DOWNLOADS, and so on. At least \
        one signing key is required, in the file's [keys] table or as ZIPPER_KEYS=id:secret,id2:secret2.\n\n\
        A bad configuration is reported setting by setting, and zipper exits with status 64. \
        SIGTERM or SIGINT drains running downloads (shutdown_grace_secs) and exits 0.")]
    Serve(ServeArgs),
    /// Print a signed download link for a callback URL.
    #[command(
        long_about = "Print a signed download link for a callback URL.\n\n\
        The callback URL is where zipper will GET the JSON manifest; its query must carry \
        timestamp=<unix seconds> (links expire link_max_age_secs after it). Use --now or --timestamp to \
        add one. The secret is read from an environment variable or a file, never from an argument.",
        after_help = "Examples:\n  \
        export ZIPPER_SECRET=zipper-test-secret\n  \
        zipper sign --key-id 0 --secret-env ZIPPER_SECRET --filename zip.zip \\\n    \
        'https://localhost:5001/api/v1/downloads/92870627-ed07-4a13-a020-51e9c0a9f3e1/zip?timestamp=1554674400'\n\n  \
        zipper sign --key-id main --secret-file /run/secrets/zipper --now \\\n    \
        --base https://zip.example.com https://app.example/downloads/42/manifest"
    )]
    Sign(SignArgs),
    /// Run zipper against an embedded demo origin and print a ready download link (no setup).
    #[command(
        long_about = "Run zipper against an embedded demo origin, with a generated key, and print a \
        ready download link and the curl command that fetches it. Serves until Ctrl-C.\n\n\
        With --check, downloads the link itself, verifies every file of the archive byte for byte, \
        prints what it found and exits 0 (valid) or 1."
    )]
    Demo(DemoArgs),
}

/// Flags of `zipper demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Download the link, verify the archive, and exit 0 if it is valid, 1 if not.
    #[arg(long)]
    pub check: bool,
    /// Public address for the demo server (port 0 picks a free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
}

/// Flags of `zipper serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML configuration file; without it, settings come from ZIPPER_* environment variables only.
    #[arg(long, short, value_name = "FILE", env = "ZIPPER_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Flags of `zipper sign`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("secret").required(true).args(["secret_env", "secret_file"])))]
pub struct SignArgs {
    /// Key id naming the secret in zipper's key set (1-32 characters of A-Z a-z 0-9 _ -).
    #[arg(long, value_name = "ID")]
    pub key_id: String,
    /// Read the secret from this environment variable.
    #[arg(long, value_name = "VAR")]
    pub secret_env: Option<String>,
    /// Read the secret from this file (one trailing newline is removed).
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// Where zipper is reachable; the link path is appended to it.
    #[arg(long, value_name = "URL", default_value = DEFAULT_BASE)]
    pub base: String,
    /// Name of the downloaded file; must end in .zip.
    #[arg(long, value_name = "NAME", default_value = "download.zip")]
    pub filename: String,
    /// Add timestamp=<now> to the callback URL's query (it must not have one).
    #[arg(long, conflicts_with = "timestamp")]
    pub now: bool,
    /// Add timestamp=<UNIX_SECONDS> to the callback URL's query (it must not have one).
    #[arg(long, value_name = "UNIX_SECONDS")]
    pub timestamp: Option<u64>,
    /// The callback URL serving the manifest, e.g. https://app.example/downloads/42?timestamp=1554674400
    #[arg(value_name = "CALLBACK_URL")]
    pub callback: String,
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigErrors),
    /// The arguments are invalid.
    #[error("{0}")]
    Usage(String),
    /// The server failed while running.
    #[error("{0:#}")]
    Server(anyhow::Error),
}

impl CliError {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Config(_) | CliError::Usage(_) => EXIT_USAGE,
            CliError::Server(_) => EXIT_FAILURE,
        }
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Serve(args) => serve(&args),
        Command::Demo(args) => {
            init_tracing(demo_log_format(&ProcessEnv)?);
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| CliError::Server(e.into()))?;
            runtime
                .block_on(crate::demo::run(args.listen, args.check))
                .map_err(CliError::Server)
        }
        Command::Sign(args) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            println!("{}", sign_link(&args, &ProcessEnv, now)?);
            Ok(())
        }
    }
}

/// Loads and validates the configuration (before anything is bound), then runs the server.
fn serve(args: &ServeArgs) -> Result<(), CliError> {
    let config = Config::load(args.config.as_deref(), &ProcessEnv)?;
    init_tracing(config.log_format);
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    tracing::info!(
        listen = %config.listen,
        admin_listen = %config.admin_listen,
        key_ids = ?config.keys.ids().collect::<Vec<_>>(),
        "starting zipper {}",
        env!("CARGO_PKG_VERSION"),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Server(e.into()))?;
    runtime
        .block_on(crate::server::serve(config))
        .map_err(CliError::Server)
}

/// Logs to stderr in `format`, filtered by `ZIPPER_LOG` (default `info`).
fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ZIPPER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let lines = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A subscriber may already be installed (e.g. by a test); keep it.
    let _ = match format {
        LogFormat::Json => lines
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => lines
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
    };
}

/// `zipper demo` has no configuration file: it reads `ZIPPER_LOG_FORMAT` alone.
fn demo_log_format(env: &dyn Env) -> Result<LogFormat, CliError> {
    match env.var("ZIPPER_LOG_FORMAT") {
        None => Ok(LogFormat::default()),
        Some(text) => {
            LogFormat::parse(&text).map_err(|e| CliError::Usage(format!("ZIPPER_LOG_FORMAT: {e}")))
        }
    }
}

/// The full link `zipper sign` prints: reads the secret, adds a timestamp if asked, and refuses to print a
/// link that zipper would reject as malformed.
pub fn sign_link(args: &SignArgs, env: &dyn Env, now_unix: i64) -> Result<String, CliError> {
    let usage = CliError::Usage;
    let key_id = KeyId::parse(&args.key_id).map_err(|e| usage(format!("--key-id: {e}")))?;
    let secret = read_secret(args, env)?;
    let base = check_base(&args.base)?;
    let callback = match (args.now, args.timestamp) {
        (true, _) => add_timestamp(&args.callback, now_unix)?,
        (false, Some(ts)) => add_timestamp(&args.callback, i64::try_from(ts).unwrap_or(i64::MAX))?,
        (false, None) => args.callback.clone(),
    };
    let path = build_link_path(&key_id, &secret, &callback, &args.filename);
    parse_path(&path).map_err(|e| usage(format!("zipper would refuse this link: {e}")))?;
    Ok(format!("{base}{path}"))
}

fn read_secret(args: &SignArgs, env: &dyn Env) -> Result<Secret, CliError> {
    let (what, bytes) = match (&args.secret_env, &args.secret_file) {
        (Some(var), _) => (
            format!("environment variable {var}"),
            env.var(var)
                .ok_or_else(|| {
                    CliError::Usage(format!(
                        "--secret-env: environment variable {var} is not set"
                    ))
                })?
                .into_bytes(),
        ),
        (None, Some(path)) => (
            format!("file {}", path.display()),
            std::fs::read(path).map_err(|e| {
                CliError::Usage(format!(
                    "--secret-file: cannot read {}: {e}",
                    path.display()
                ))
            })?,
        ),
        (None, None) => {
            return Err(CliError::Usage(
                "give --secret-env VAR or --secret-file FILE".into(),
            ))
        }
    };
    Secret::from_file_contents(bytes)
        .ok_or_else(|| CliError::Usage(format!("the secret in {what} is empty")))
}

/// The base URL without a trailing `/`; it must be http(s) with no query or fragment.
fn check_base(base: &str) -> Result<&str, CliError> {
    let bad = |why: &str| CliError::Usage(format!("--base {base:?}: {why}"));
    let url = url::Url::parse(base).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("must be an http:// or https:// URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not have a query or a fragment"));
    }
    Ok(base.trim_end_matches('/'))
}

/// Appends `timestamp=<ts>` to the callback's query, before any fragment, keeping the rest of the string.
fn add_timestamp(callback: &str, ts: i64) -> Result<String, CliError> {
    if let Ok(url) = url::Url::parse(callback) {
        if url.query_pairs().any(|(name, _)| name == "timestamp") {
            return Err(CliError::Usage(
                "the callback URL already has a timestamp; drop --now/--timestamp or the parameter"
                    .into(),
            ));
        }
    }
    let (main, fragment) = callback.split_at(callback.find('#').unwrap_or(callback.len()));
    let separator = match main.find('?') {
        None => "?",
        Some(_) if main.ends_with('?') || main.ends_with('&') => "",
        Some(_) => "&",
    };
    Ok(format!("{main}{separator}timestamp={ts}{fragment}"))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use clap::CommandFactory;

    use super::*;

    const VECTOR_CALLBACK: &str = "https://localhost:5001/api/v1/downloads/92870627-ed07-4a13-a020-51e9c0a9f3e1/zip?timestamp=1554674400";
    const VECTOR_LINK: &str = "/0/https%3A%2F%2Flocalhost%3A5001%2Fapi%2Fv1%2Fdownloads%2F92870627-ed07-4a13-a020-51e9c0a9f3e1%2Fzip%3Ftimestamp%3D1554674400/yEEhWeZZ1BxbU90HbZrMuPTgn42iCrG7pZpi9MB7cEo/zip.zip";

    fn sign(args: &[&str]) -> Result<String, CliError> {
        let cli = Cli::try_parse_from([&["zipper", "sign"], args].concat())
            .map_err(|e| CliError::Usage(e.to_string()))?;
        let Command::Sign(args) = cli.command else {
            panic!("parsed as sign")
        };
        let env: HashMap<String, String> =
            [("S".to_string(), "zipper-test-secret\n".to_string())].into();
        sign_link(&args, &env, 1_554_674_400)
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn sign_prints_the_test_vector() {
        let link = sign(&[
            "--key-id",
            "0",
            "--secret-env",
            "S",
            "--filename",
            "zip.zip",
            VECTOR_CALLBACK,
        ])
        .unwrap();
        assert_eq!(link, format!("http://127.0.0.1:8080{VECTOR_LINK}"));
        let link = sign(&[
            "--key-id=0",
            "--secret-env=S",
            "--filename=zip.zip",
            "--base=https://z.example/dl/",
            VECTOR_CALLBACK,
        ])
        .unwrap();
        assert_eq!(link, format!("https://z.example/dl{VECTOR_LINK}"));
    }

    #[test]
    fn now_and_timestamp_add_the_parameter() {
        let without = VECTOR_CALLBACK.trim_end_matches("?timestamp=1554674400");
        let link = sign(&[
            "--key-id",
            "0",
            "--secret-env",
            "S",
            "--filename",
            "zip.zip",
            "--now",
            without,
        ])
        .unwrap();
        assert_eq!(link, format!("http://127.0.0.1:8080{VECTOR_LINK}"));
        let link = sign(&[
            "--key-id",
            "0",
            "--secret-env",
            "S",
            "--timestamp",
            "7",
            "https://a.example/m?x=1#f",
        ])
        .unwrap();
        assert_eq!(
            parse_path(link.trim_start_matches(DEFAULT_BASE))
                .unwrap()
                .callback(),
            "https://a.example/m?x=1&timestamp=7#f"
        );
        assert_eq!(
            add_timestamp("https://a.example/m?", 7).unwrap(),
            "https://a.example/m?timestamp=7"
        );
    }

    #[test]
    fn sign_refuses_what_zipper_would_refuse() {
        let cases: [(&[&str], &str); 8] = [
            (
                &["--key-id", "a b", "--secret-env", "S", VECTOR_CALLBACK],
                "--key-id: invalid key id",
            ),
            (
                &["--key-id", "0", "--secret-env", "NOPE", VECTOR_CALLBACK],
                "environment variable NOPE is not set",
            ),
            (
                &[
                    "--key-id",
                    "0",
                    "--secret-file",
                    "/nonexistent/secret",
                    VECTOR_CALLBACK,
                ],
                "--secret-file: cannot read",
            ),
            (
                &["--key-id", "0", "--secret-env", "S", "https://a.example/m"],
                "no timestamp",
            ),
            (
                &[
                    "--key-id",
                    "0",
                    "--secret-env",
                    "S",
                    "--now",
                    VECTOR_CALLBACK,
                ],
                "already has a timestamp",
            ),
            (
                &[
                    "--key-id",
                    "0",
                    "--secret-env",
                    "S",
                    "--filename",
                    "a.tar",
                    VECTOR_CALLBACK,
                ],
                "does not end in .zip",
            ),
            (
                &[
                    "--key-id",
                    "0",
                    "--secret-env",
                    "S",
                    "--base",
                    "ftp://x",
                    VECTOR_CALLBACK,
                ],
                "--base",
            ),
            (&["--key-id", "0", VECTOR_CALLBACK], "--secret-env"),
        ];
        for (args, words) in cases {
            let err = sign(args).unwrap_err();
            assert!(err.to_string().contains(words), "{args:?}: {err}");
            assert_eq!(err.exit_code(), EXIT_USAGE);
            assert!(!err.to_string().contains("zipper-test-secret"));
        }
    }
}
