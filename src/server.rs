//! Start-up of `labelhook serve`: open the database, bootstrap, start the dispatcher, serve.

use std::sync::Arc;

use tower::Layer;
use tower_http::normalize_path::NormalizePathLayer;

use crate::api::{self, AppState};
use crate::config::Settings;
use crate::delivery::ssrf::Guard;
use crate::labeling::LabelingSettings;
use crate::store::Db;

pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    print_settings(&settings);
    // Before anything else: a delivery client that cannot be what the settings say stops
    // start-up (no fallback that would send past the guard or the proxy).
    let delivery_client = crate::delivery::send::client(&settings.webhooks)?;
    crate::api::metrics::handle();
    let connection_cap =
        crate::api::listener::connection_cap(&settings.http, settings.webhooks.max_in_flight);
    let db = Db::open_with(
        &settings.database_url,
        &crate::store::Options {
            sqlite_max_bytes: settings.sqlite_max_bytes,
        },
    )
    .await?;
    let first_user = crate::auth::FirstUser {
        email: settings
            .username
            .as_deref()
            .unwrap_or(&settings.admin_email),
        token: settings.admin_token.as_deref(),
        password: settings.password.as_deref(),
    };
    if let Some(token) = crate::auth::bootstrap(&db, &first_user).await? {
        println!(
            "created admin user {} with API token: {token}",
            first_user.email
        );
        println!("(shown once; use it as `Authorization: Token {token}`)");
    }
    let dispatcher = crate::delivery::spawn(
        db.clone(),
        settings.webhooks.clone(),
        delivery_client,
        std::sync::Arc::new(crate::events::alerts::AlertEvents),
    );
    let pruner = crate::delivery::prune::spawn(db.clone(), settings.webhooks.retention);
    crate::store::counters::spawn_folder(db.clone());
    let label_config = crate::labeling::label_config::Limits {
        max_bytes: settings.label_config.label_config_max_bytes,
        max_tags: settings.label_config.label_config_max_tags,
        max_attributes: settings.label_config.label_config_max_attributes,
        max_depth: settings.label_config.label_config_max_depth,
    };
    crate::labeling::projects::derive_missing(&db, &label_config).await?;
    let (exports, export_worker) = crate::export::snapshots::Exports::spawn(db.clone());
    let listener = crate::api::listener::bind(settings.bind)?;
    let address = listener.local_addr()?;
    let state = AppState {
        db: db.clone(),
        labeling: LabelingSettings {
            batch_size: settings.webhooks.webhook_batch_size as usize,
            label_config,
        },
        guard: Guard::from_settings(&settings.webhooks),
        tokens: Arc::default(),
        bad_tokens: Arc::new(crate::auth::BadTokenThrottle::new(
            settings.bad_tokens_per_minute,
        )),
        sign_ins: Arc::new(crate::auth::SignInThrottle::new(
            settings.signin_failures_per_account,
            settings.signin_failures_per_client,
        )),
        exports,
        settings: Arc::new(settings.clone()),
    };
    // Label Studio routes end in a slash; accept them with or without.
    let app =
        NormalizePathLayer::trim_trailing_slash().layer(api::router(state, crate::web::routes()));
    println!("labelhook listening on http://{address}");
    tracing::info!(%address, "listening");
    crate::api::listener::serve(
        listener,
        app,
        &settings.http,
        connection_cap,
        shutdown_signal(),
    )
    .await;
    dispatcher.abort();
    pruner.abort();
    export_worker.abort();
    db.close().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}

/// The effective configuration, secrets masked.
fn print_settings(settings: &Settings) {
    let w = &settings.webhooks;
    tracing::info!(
        bind = %settings.bind,
        database = %mask_password(&settings.database_url),
        admin_token = if settings.admin_token.is_some() { "(set)" } else { "(generated on first start)" },
        max_body_bytes = settings.max_body_bytes,
        max_upload_bytes = settings.max_upload_bytes,
        metrics_token = if settings.metrics_token.is_some() { "(set)" } else { "(none: /metrics is open)" },
        bad_tokens_per_minute = settings.bad_tokens_per_minute,
        sqlite_max_bytes = ?settings.sqlite_max_bytes,
        max_connections = settings.http.max_connections,
        header_timeout = ?settings.http.header_timeout,
        keep_alive_timeout = ?settings.http.keep_alive_timeout,
        webhook_timeout = w.webhook_timeout,
        webhook_batch_size = w.webhook_batch_size,
        webhook_max_consecutive_failures = w.webhook_max_consecutive_failures,
        allow_organization_webhooks = w.allow_organization_webhooks,
        retry_schedule = ?w.retry_schedule.0,
        max_in_flight = w.max_in_flight,
        max_in_flight_per_webhook = w.max_in_flight_per_webhook,
        label_config_limits = ?settings.label_config,
        "effective configuration"
    );
}

fn mask_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:****{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}
