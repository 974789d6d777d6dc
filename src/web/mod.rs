//! The web pages (the projects list and form, a project's task table, settings, webhooks
//! and export, organization webhooks, the delivery log), served by the same binary with
//! their assets embedded at build time.
//!
//! The pages are a small single-page app in plain HTML/CSS/JS under `web/` (no build step):
//! they sign in with an API token kept in the browser session, or with email and password
//! (`signin.rs`: a session cookie), and call the public REST API like any other client. The
//! app's addresses are Label Studio's (`/projects/3/data`): each of them answers the same
//! index page and the app draws the page the address names. Its files live under `/ui/`;
//! `/ui/` itself is the address of earlier versions, whose `#/...` links the app redirects.
//! The labeling page (`label.html`, at `/projects/{id}/data?labeling=1`, `?task=ID` or
//! `?review=1`, the review stream) is a
//! page of its own: Label Studio's editor (`editor.rs`) styles the whole document it runs in.

use axum::Router;
use axum::extract::{Path, RawQuery};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderName};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

mod editor;
mod signin;

use crate::api::AppState;
use crate::api::error::ApiError;

/// One embedded file: its path under `/ui/`, its Content-Type and its bytes.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $content_type:literal) => {
        Asset {
            path: $path,
            content_type: $content_type,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/", $path)),
        }
    };
}

const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("api.js", "text/javascript; charset=utf-8"),
    asset!("dom.js", "text/javascript; charset=utf-8"),
    asset!("webhooks.js", "text/javascript; charset=utf-8"),
    asset!("deliveries.js", "text/javascript; charset=utf-8"),
    asset!("export.js", "text/javascript; charset=utf-8"),
    asset!("events.js", "text/javascript; charset=utf-8"),
    asset!("projects.js", "text/javascript; charset=utf-8"),
    asset!("data.js", "text/javascript; charset=utf-8"),
    asset!("settings.js", "text/javascript; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("label.html", "text/html; charset=utf-8"),
    asset!("label.js", "text/javascript; charset=utf-8"),
    asset!("label.css", "text/css; charset=utf-8"),
];

/// Only our own scripts and styles run, and only our own API is called: API data that
/// slipped through unescaped could not load or send anything elsewhere.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; frame-src 'self'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// The app's own addresses: each answers the index page (and `/projects/{id}/data`, unless
/// its query asks for the labeling page: `project_data`). The server trims trailing slashes
/// before routing, so `/projects/` arrives as `/projects`.
const APP_PATHS: &[&str] = &[
    "/sign-in",
    "/projects",
    "/projects/new",
    "/projects/{id}",
    "/projects/{id}/settings",
    "/projects/{id}/settings/{*section}",
    "/projects/{id}/export",
    "/webhooks",
    "/webhooks/{*rest}",
    "/events",
    "/ui",
];

/// The labeling page runs Label Studio's editor, which needs more than the other pages, and
/// shows task data, which may hold HTML (HyperText) written by anyone who can import:
/// - scripts: only our files and the editor's, from this origin. No inline script, no
///   `on...` attributes, no `javascript:` URLs: HTML in task data is inert (docs/editor.md);
/// - styles: the editor sets inline styles and injects `<style>` elements;
/// - images, audio, video: task data names them on any host (sent without a referrer);
///   `connect-src` as wide, since the editor reads audio and text files with `fetch`;
/// - frames: the page may be framed by our own pages (the preview in project settings).
const LABEL_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src * data: blob:; media-src * data: blob:; \
    connect-src * data: blob:; font-src 'self' data:; worker-src 'self' blob:; \
    object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'";

pub fn routes() -> Router<AppState> {
    APP_PATHS
        .iter()
        .fold(Router::new(), |router, path| router.route(path, get(index)))
        .route("/", get(|| async { Redirect::temporary("/projects/") }))
        .route("/ui/{*path}", get(file))
        // The server trims trailing slashes before routing: `/user/login/` arrives here too.
        .route("/user/login", get(signin::login_page).post(signin::login))
        .route(
            "/user/signup",
            get(signin::signup_page).post(signin::signup),
        )
        .route(
            "/user/logout",
            get(signin::logout_page).post(signin::logout),
        )
        .route("/logout", get(signin::logout_page).post(signin::logout))
        .route("/editor/{version}/{file}", get(editor::serve))
        .route("/projects/{id}/data", get(project_data))
        // The labeling page in preview mode: a label config (posted by the page that frames
        // it) on sample data, nothing saved.
        .route("/projects/new/preview", get(label_preview))
}

/// `/projects/{id}/data`: the labeling page when the query asks to label (`?labeling=1`,
/// the label stream, or `?task=ID`, one task), else the single-page app.
async fn project_data(Path(_project): Path<String>, RawQuery(query): RawQuery) -> Response {
    let labeling = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .any(|(name, _)| name == "labeling" || name == "task" || name == "review");
    let page = if labeling { "label.html" } else { "index.html" };
    serve(page).unwrap_or_else(|| ApiError::not_found().into_response())
}

async fn label_preview() -> Response {
    serve("label.html").unwrap_or_else(|| ApiError::not_found().into_response())
}

async fn index() -> Response {
    serve("index.html").unwrap_or_else(|| ApiError::not_found().into_response())
}

async fn file(Path(path): Path<String>) -> Response {
    serve(&path).unwrap_or_else(|| ApiError::NotFound("No such page asset.".into()).into_response())
}

fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.path == path)
}

fn serve(path: &str) -> Option<Response> {
    let asset = find(path)?;
    let policy = if path.starts_with("label.") {
        LABEL_CONTENT_SECURITY_POLICY
    } else {
        CONTENT_SECURITY_POLICY
    };
    Some(
        (
            [
                (CONTENT_TYPE, asset.content_type),
                // Revalidate every time: a new build must not be hidden behind a stale cache.
                (CACHE_CONTROL, "no-cache"),
                (HeaderName::from_static("x-content-type-options"), "nosniff"),
                (HeaderName::from_static("referrer-policy"), "no-referrer"),
                (HeaderName::from_static("content-security-policy"), policy),
            ],
            asset.body,
        )
            .into_response(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_the_pages_import_is_embedded() {
        // A script imported by another but missing here would fail only in the browser.
        for asset in ASSETS.iter().filter(|a| a.path.ends_with(".js")) {
            let text = std::str::from_utf8(asset.body).expect("utf-8");
            for line in text.lines().filter(|l| l.starts_with("import ")) {
                let target = line
                    .split(['\'', '"'])
                    .nth(1)
                    .expect("import path in quotes");
                let name = target.trim_start_matches("./");
                assert!(
                    find(name).is_some(),
                    "{} imports {target}, which is not embedded",
                    asset.path
                );
            }
        }
        let index = std::str::from_utf8(find("index.html").expect("index").body).expect("utf-8");
        for referenced in ["/ui/style.css", "/ui/app.js", "/ui/icon.svg"] {
            assert!(
                index.contains(referenced),
                "index.html does not load {referenced}"
            );
        }
        let label = std::str::from_utf8(find("label.html").expect("label").body).expect("utf-8");
        for referenced in [
            "/ui/label.css".to_string(),
            "/ui/label.js".to_string(),
            format!("/editor/{}/main.js", editor::VERSION),
            format!("/editor/{}/main.css", editor::VERSION),
        ] {
            assert!(
                label.contains(&referenced),
                "label.html does not load {referenced}"
            );
        }
    }

    #[test]
    fn unknown_assets_are_not_found() {
        assert!(find("../Cargo.toml").is_none());
        assert!(serve("nope.js").is_none());
        assert!(serve("app.js").is_some());
    }
}
