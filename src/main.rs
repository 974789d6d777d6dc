//! `labelhook`: argument parsing and start-up only; the work is in the library.

use clap::{Parser, Subcommand};
use labelhook::config::{Settings, env_flag};

/// jemalloc: per request the server makes and frees many small buffers on several
/// threads (rows, JSON, HTTP); glibc's malloc took ~14% of its CPU under load, and with
/// jemalloc annotation creates with a webhook went from ~3,800/s to ~5,100/s here.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "labelhook",
    version,
    about = "A Label Studio-compatible labeling server whose webhooks never lose an event"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (API, webhooks, delivery).
    Serve(Box<Settings>),
    /// A local receiver that prints each event, checks its signature and can forward it.
    Listen(labelhook::listen::ListenSettings),
    /// Upload task files to a running server in batches, with a progress bar.
    Import(labelhook::import_cli::ImportSettings),
    /// Manage organizations and users.
    Admin {
        /// Database: `sqlite://path` or `postgres://...`.
        #[arg(
            long = "db",
            env = "DATABASE_URL",
            default_value = "sqlite://labelhook.db",
            global = true
        )]
        database_url: String,
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an organization and its first user; prints the user's API token.
    CreateOrganization {
        #[arg(long)]
        title: String,
        /// Email of the organization's first user.
        #[arg(long)]
        email: String,
        /// Token to give that user (random if absent).
        #[arg(long)]
        token: Option<String>,
    },
    /// Create a user in an existing organization; prints the API token.
    CreateUser {
        #[arg(long)]
        organization: i64,
        #[arg(long)]
        email: String,
        #[arg(long)]
        token: Option<String>,
        /// The user's role: OW owner, AD administrator, MA manager, RE reviewer, AN annotator.
        #[arg(long, default_value = "AD")]
        role: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Logs go to stderr; LABELHOOK_LOG_FORMAT=json gives one JSON object per line. Colours
    // only on a terminal: a file or a pipe gets plain text.
    let filter = tracing_subscriber::EnvFilter::try_from_env("LABELHOOK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if std::env::var("LABELHOOK_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        logs.json().init();
    } else {
        logs.init();
    }
    match Cli::parse().command {
        Command::Serve(mut settings) => {
            // Label Studio reads this setting with or without its prefix.
            if std::env::var_os("LABEL_STUDIO_ALLOW_ORGANIZATION_WEBHOOKS").is_none()
                && let Some(allow) = env_flag(&["ALLOW_ORGANIZATION_WEBHOOKS"])
            {
                settings.webhooks.allow_organization_webhooks = allow;
            }
            labelhook::server::serve(*settings).await
        }
        Command::Listen(settings) => labelhook::listen::run(settings).await,
        Command::Import(settings) => labelhook::import_cli::run(settings).await,
        Command::Admin {
            database_url,
            command,
        } => {
            let db = labelhook::store::Db::open(&database_url).await?;
            let user = match command {
                AdminCommand::CreateOrganization {
                    title,
                    email,
                    token,
                } => {
                    let organization = labelhook::auth::create_organization(&db, &title).await?;
                    labelhook::auth::create_user(
                        &db,
                        organization,
                        &email,
                        token.as_deref(),
                        labelhook::shared::Role::Owner,
                        None,
                    )
                    .await?
                }
                AdminCommand::CreateUser {
                    organization,
                    email,
                    token,
                    role,
                } => {
                    let role = labelhook::shared::Role::from_code(&role).ok_or_else(|| {
                        anyhow::anyhow!("unknown role {role}: one of OW, AD, MA, RE, AN")
                    })?;
                    labelhook::auth::create_user(
                        &db,
                        organization,
                        &email,
                        token.as_deref(),
                        role,
                        None,
                    )
                    .await?
                }
            };
            println!(
                "organization {} user {} token {}",
                user.organization_id, user.user_id, user.token
            );
            db.close().await;
            Ok(())
        }
    }
}
