//! Settings: one struct, filled from flags or environment variables.
//!
//! Label Studio's variable names are honoured where they exist (`WEBHOOK_TIMEOUT`,
//! `WEBHOOK_BATCH_SIZE`, `WEBHOOK_MAX_CONSECUTIVE_FAILURES`, `SSRF_PROTECTION_ENABLED`,
//! `LABEL_STUDIO_ALLOW_ORGANIZATION_WEBHOOKS`), so an existing deployment's environment
//! carries over.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Address to listen on; port 0 picks a free port (the chosen one is printed).
    #[arg(long, env = "LABELHOOK_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Database: `sqlite://path` (created if missing) or `postgres://...`.
    #[arg(
        long = "db",
        env = "DATABASE_URL",
        default_value = "sqlite://labelhook.db"
    )]
    pub database_url: String,

    /// API token of the admin user created on first start. Without it a random token is
    /// generated and printed once.
    #[arg(long, env = "LABELHOOK_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// Email of the admin user created on first start.
    #[arg(
        long,
        env = "LABELHOOK_ADMIN_EMAIL",
        default_value = "admin@example.com"
    )]
    pub admin_email: String,

    /// Email of the first user (Label Studio's name; takes the place of
    /// `LABELHOOK_ADMIN_EMAIL` when set).
    #[arg(long, env = "LABEL_STUDIO_USERNAME")]
    pub username: Option<String>,

    /// Password of the first user, for email + password sign-in (Label Studio's name). Set
    /// once: a user who already has a password keeps it.
    #[arg(long, env = "LABEL_STUDIO_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,

    /// Failed sign-ins allowed per account (email) within 15 minutes; past that, sign-ins
    /// as that email are refused (429) until the 15 minutes are over. 0: no limit.
    #[arg(
        long,
        env = "LABELHOOK_SIGNIN_FAILURES_PER_ACCOUNT",
        default_value_t = 10
    )]
    pub signin_failures_per_account: u32,

    /// Failed sign-ins allowed per client (IP address) within 15 minutes. 0: no limit.
    #[arg(
        long,
        env = "LABELHOOK_SIGNIN_FAILURES_PER_CLIENT",
        default_value_t = 30
    )]
    pub signin_failures_per_client: u32,

    /// Mark session cookies `Secure` (sent over HTTPS only) even when the request did not
    /// say it came over TLS (`X-Forwarded-Proto: https`, which always marks them).
    #[arg(
        long,
        env = "SESSION_COOKIE_SECURE",
        default_value_t = false,
        action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub session_cookie_secure: bool,

    /// Largest JSON request body accepted, in bytes (larger ones get 413, refused on their
    /// `Content-Length` before any of it is read).
    #[arg(long, env = "LABELHOOK_MAX_BODY_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Largest file upload (multipart import) accepted, in bytes.
    #[arg(long, env = "LABELHOOK_MAX_UPLOAD_BYTES", default_value_t = 256 * 1024 * 1024)]
    pub max_upload_bytes: usize,

    /// Token that `/metrics` asks for (`Authorization: Bearer <token>`); unset, it is open.
    #[arg(long, env = "LABELHOOK_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// Bad tokens one client (IP address) may send within a minute; past that, its
    /// authenticated requests get 429 until the minute is over. 0: no limit.
    #[arg(long, env = "LABELHOOK_BAD_TOKENS_PER_MINUTE", default_value_t = 30)]
    pub bad_tokens_per_minute: u32,

    /// SQLite: the size the database file may reach, in bytes; writes past it get 503
    /// (database full), as on a full disk. Unset: the disk is the limit.
    #[arg(long, env = "LABELHOOK_SQLITE_MAX_BYTES")]
    pub sqlite_max_bytes: Option<u64>,

    /// Seconds a task of the label stream stays locked for the annotator who got it
    /// (Label Studio's `TASK_LOCK_TTL`), unless they submit, skip or leave it first. A
    /// project's `custom_task_lock_ttl` overrides it.
    #[arg(long, env = "TASK_LOCK_TTL", default_value_t = 86400, value_parser = clap::value_parser!(i64).range(1..))]
    pub task_lock_ttl: i64,

    /// Seconds a task that opens for labeling waits for the project's ML backend to
    /// predict it (at most the backend's own `timeout`); a slower backend is given up on
    /// and the task opens without pre-annotations.
    #[arg(long, env = "LABELHOOK_PREDICT_ON_OPEN_TIMEOUT", default_value_t = 3.0)]
    pub predict_on_open_timeout: f64,

    #[command(flatten)]
    pub http: HttpSettings,

    #[command(flatten)]
    pub webhooks: WebhookSettings,

    #[command(flatten)]
    pub label_config: LabelConfigSettings,
}

/// How large a project's label config may be (a larger one gets a 400 naming
/// `label_config`). The defaults are far above Label Studio's templates (the largest: 10 KB,
/// 70 tags, 9 attributes on a tag, 8 levels deep); the depth is Label Studio's own limit.
#[derive(Debug, Clone, Args)]
pub struct LabelConfigSettings {
    /// Largest label config, in bytes.
    #[arg(long, env = "LABELHOOK_LABEL_CONFIG_MAX_BYTES", default_value_t = 1024 * 1024)]
    pub label_config_max_bytes: usize,

    /// Most tags (elements) in a label config.
    #[arg(
        long,
        env = "LABELHOOK_LABEL_CONFIG_MAX_TAGS",
        default_value_t = 50_000
    )]
    pub label_config_max_tags: usize,

    /// Most attributes on one tag of a label config.
    #[arg(
        long,
        env = "LABELHOOK_LABEL_CONFIG_MAX_ATTRIBUTES",
        default_value_t = 100
    )]
    pub label_config_max_attributes: usize,

    /// Deepest nesting of tags in a label config (the root is level 1).
    #[arg(long, env = "LABELHOOK_LABEL_CONFIG_MAX_DEPTH", default_value_t = 256)]
    pub label_config_max_depth: usize,
}

/// How the HTTP listener treats connections (see `crate::api::listener`).
#[derive(Debug, Clone, Args)]
pub struct HttpSettings {
    /// Connections open at once. At the cap a new connection still gets in: the oldest
    /// connection that has not completed a request is closed for it.
    #[arg(long, env = "LABELHOOK_MAX_CONNECTIONS", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// A new connection must send a complete request header within this.
    #[arg(long, env = "LABELHOOK_HEADER_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_timeout: Duration,

    /// After a response, a connection is closed if no complete request header follows
    /// within this.
    #[arg(long, env = "LABELHOOK_KEEP_ALIVE_TIMEOUT", default_value = "60s", value_parser = humantime::parse_duration)]
    pub keep_alive_timeout: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct WebhookSettings {
    /// Seconds one delivery attempt may take before it counts as a timeout.
    #[arg(long, env = "WEBHOOK_TIMEOUT", default_value_t = 10.0)]
    pub webhook_timeout: f64,

    /// Objects per bulk event (TASKS_CREATED, ANNOTATIONS_CREATED, ...); larger batches are
    /// cut into several events.
    #[arg(long, env = "WEBHOOK_BATCH_SIZE", default_value_t = 5000, value_parser = clap::value_parser!(u32).range(1..))]
    pub webhook_batch_size: u32,

    /// Failed attempts in a row a webhook needs, besides failing for
    /// `LABELHOOK_DISABLE_AFTER`, before it is switched off (0: never switched off).
    #[arg(long, env = "WEBHOOK_MAX_CONSECUTIVE_FAILURES", default_value_t = 50)]
    pub webhook_max_consecutive_failures: u32,

    /// How long a webhook must have failed without a single success before it is
    /// switched off (with at least `WEBHOOK_MAX_CONSECUTIVE_FAILURES` failed attempts in
    /// a row). Until then its breaker keeps probing. `0s`: at the attempt count alone.
    #[arg(long, env = "LABELHOOK_DISABLE_AFTER", default_value = "5days", value_parser = humantime::parse_duration)]
    pub disable_after: Duration,

    /// Failed attempts in a row that open a webhook's breaker: its deliveries are held and
    /// one probe at a time goes out until one succeeds (0: never open).
    #[arg(long, env = "LABELHOOK_BREAKER_FAILURES", default_value_t = 5)]
    pub breaker_failures: u32,

    /// The longest wait between two probes of an open breaker (the retry schedule's steps
    /// are used up to this), so a receiver that is back is found within it.
    #[arg(long, env = "LABELHOOK_BREAKER_PROBE_MAX", default_value = "15s", value_parser = humantime::parse_duration)]
    pub breaker_probe_max: Duration,

    /// Whether webhooks without a project (organization-level) may be created.
    #[arg(
        long,
        env = "LABEL_STUDIO_ALLOW_ORGANIZATION_WEBHOOKS",
        default_value_t = true,
        action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub allow_organization_webhooks: bool,

    /// Pause between attempts of one delivery: the first retry waits the first value, and
    /// so on; after the last one the delivery is marked failed. Jitter of ±20% is added.
    /// `none`: no retries.
    #[arg(
        long,
        env = "LABELHOOK_RETRY_SCHEDULE",
        default_value = "5s,5m,30m,2h,5h,10h,14h,20h,24h",
        value_parser = parse_schedule
    )]
    pub retry_schedule: RetrySchedule,

    /// How long the previous secret keeps signing after a rotation.
    #[arg(long, env = "LABELHOOK_SECRET_ROTATION_GRACE", default_value = "24h", value_parser = humantime::parse_duration)]
    pub secret_rotation_grace: Duration,

    /// How long finished deliveries, their attempts and payloads are kept.
    #[arg(long, env = "LABELHOOK_RETENTION", default_value = "30days", value_parser = humantime::parse_duration)]
    pub retention: Duration,

    /// Refuse deliveries to private, loopback, link-local and other reserved addresses.
    #[arg(
        long,
        env = "SSRF_PROTECTION_ENABLED",
        default_value_t = true,
        action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub ssrf_protection_enabled: bool,

    /// Extra subnets deliveries may reach despite the SSRF guard (comma-separated CIDRs).
    #[arg(long, env = "LABELHOOK_SSRF_ALLOW", value_delimiter = ',', num_args = 0..)]
    pub ssrf_allow: Vec<ipnet::IpNet>,

    /// Extra subnets deliveries may never reach (comma-separated CIDRs; wins over allow).
    #[arg(long, env = "LABELHOOK_SSRF_DENY", value_delimiter = ',', num_args = 0..)]
    pub ssrf_deny: Vec<ipnet::IpNet>,

    /// Send every delivery through this HTTP(S) proxy (one egress point to filter).
    #[arg(long, env = "LABELHOOK_DELIVERY_PROXY")]
    pub delivery_proxy: Option<String>,

    /// Deliveries in flight at once, over all webhooks.
    #[arg(long, env = "LABELHOOK_MAX_IN_FLIGHT", default_value_t = 512)]
    pub max_in_flight: usize,

    /// Deliveries in flight at once to one webhook, so one slow receiver cannot take every
    /// slot.
    #[arg(
        long,
        env = "LABELHOOK_MAX_IN_FLIGHT_PER_WEBHOOK",
        default_value_t = 32
    )]
    pub max_in_flight_per_webhook: usize,
}

impl WebhookSettings {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.webhook_timeout.clamp(0.001, 3600.0))
    }
}

/// The waits between attempts of one delivery.
#[derive(Debug, Clone)]
pub struct RetrySchedule(pub Vec<Duration>);

fn parse_schedule(text: &str) -> Result<RetrySchedule, String> {
    let mut waits = Vec::new();
    if text.trim().eq_ignore_ascii_case("none") {
        return Ok(RetrySchedule(waits));
    }
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let wait = humantime::parse_duration(part)
            .map_err(|e| format!("`{part}` is not a duration like 5s, 5m or 2h: {e}"))?;
        waits.push(wait);
    }
    Ok(RetrySchedule(waits))
}

/// Reads a boolean environment variable the way Label Studio does (`true`, `1`, `yes`).
pub fn env_flag(names: &[&str]) -> Option<bool> {
    names.iter().find_map(|name| {
        std::env::var(name).ok().map(|value| {
            matches!(
                value.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        })
    })
}
