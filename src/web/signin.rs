//! Email + password sign-in for people (Label Studio's `/user/login`, `/user/logout`):
//! plain HTML forms rendered here, so they work without scripts, and a session cookie
//! once signed in. The pages under `/ui/` then call the API with that cookie (and its
//! CSRF secret) instead of an API token.
//!
//! A failed sign-in says the same whether or not the email exists, takes as long
//! (`auth::passwords::verify`), and is counted per account and per client
//! (`auth::SignInThrottle`): past the limit the form is refused with 429 until the
//! window is over.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use cookie::{Cookie, SameSite};
use serde::Deserialize;

use crate::api::AppState;
use crate::api::error::ApiError;
use crate::auth::sessions::{self, CSRF_COOKIE, CSRF_FIELD, SESSION_COOKIE};
use crate::auth::{invites, passwords};

/// Where a signed-in person goes when the form names no page.
const HOME: &str = "/projects";
/// Forms are a few short fields; anything longer is not one.
const MAX_FORM_BYTES: usize = 16 * 1024;
/// A sign-in or sign-up form posted by another site's page.
const FROM_ANOTHER_SITE: &str = "This form was sent from another site and was not accepted.";
/// The message for every failed sign-in (Label Studio's words).
pub const NO_MATCH: &str = "The email and password you entered don't match.";

#[derive(Deserialize)]
pub(super) struct Next {
    next: Option<String>,
}

/// `next` if it is a page of this server (a path, not `//host` nor a URL): a sign-in
/// link must not be able to send people elsewhere afterwards.
fn local_page(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control) =>
        {
            path.to_string()
        }
        _ => HOME.to_string(),
    }
}

/// `GET /user/login`: the form, or straight on when already signed in.
pub(super) async fn login_page(
    State(state): State<AppState>,
    Query(query): Query<Next>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let next = local_page(query.next.as_deref());
    if signed_in(&state, &headers).await?.is_some() {
        return Ok(redirect(&next, Vec::new()));
    }
    Ok(page(StatusCode::OK, &login_form("", &next, None)))
}

/// `POST /user/login` (a form: `email`, `password`, `persist_session`, `next`).
pub(super) async fn login(
    State(state): State<AppState>,
    Query(query): Query<Next>,
    request: Request,
) -> Result<Response, ApiError> {
    if !crate::api::same_origin(request.headers()) {
        return Ok(refused("Sign in", FROM_ANOTHER_SITE));
    }
    let client = crate::api::client_address(&request);
    let secure = secure(&state, request.headers());
    let form = read_form(request.into_body()).await?;
    let email = form.get("email").map(|e| e.trim()).unwrap_or_default();
    let password = form.get("password").unwrap_or_default();
    let next = local_page(form.get("next").or(query.next.as_deref()));
    let persist = form
        .get("persist_session")
        .is_some_and(|v| !v.is_empty() && v != "false");
    if email.is_empty() || password.is_empty() {
        let error = "Enter your email and your password.";
        return Ok(page(
            StatusCode::BAD_REQUEST,
            &login_form(email, &next, Some(error)),
        ));
    }
    if let Some(wait) = state.sign_ins.locked_out(email, client) {
        return Ok(throttled(email, &next, wait));
    }
    let Some(user_id) = crate::auth::sign_in(&state.db, email, password).await? else {
        state.sign_ins.failed(email, client);
        if let Some(wait) = state.sign_ins.locked_out(email, client) {
            return Ok(throttled(email, &next, wait));
        }
        return Ok(page(
            StatusCode::BAD_REQUEST,
            &login_form(email, &next, Some(NO_MATCH)),
        ));
    };
    let session = sessions::start(&state.db, user_id).await?;
    // Without "keep me signed in" the cookie ends with the browser (the session row still
    // ends after its lifetime).
    let max_age = persist.then_some(sessions::LIFETIME);
    Ok(redirect(&next, session_cookies(&session, secure, max_age)))
}

#[derive(Deserialize)]
pub(super) struct Invite {
    token: Option<String>,
}

/// `GET /user/signup?token=...`: the form for a live invite, else why not (403).
pub(super) async fn signup_page(
    State(state): State<AppState>,
    Query(query): Query<Invite>,
) -> Result<Response, ApiError> {
    let token = query.token.unwrap_or_default();
    let mut conn = state.db.reader().acquire().await?;
    if token.is_empty() || invites::find(&mut conn, &token).await?.is_none() {
        return Ok(refused("Sign up", invites::UNUSABLE));
    }
    Ok(page(StatusCode::OK, &signup_form(&token, "", None)))
}

/// `POST /user/signup?token=...` (a form: `email`, `password`): a new member with the
/// invite's role, signed in at once. The invite is used up in the same transaction.
pub(super) async fn signup(
    State(state): State<AppState>,
    Query(query): Query<Invite>,
    request: Request,
) -> Result<Response, ApiError> {
    if !crate::api::same_origin(request.headers()) {
        return Ok(refused("Sign up", FROM_ANOTHER_SITE));
    }
    let secure = secure(&state, request.headers());
    let form = read_form(request.into_body()).await?;
    let token = form
        .get("token")
        .or(query.token.as_deref())
        .unwrap_or_default()
        .to_string();
    let email = form
        .get("email")
        .map(str::trim)
        .unwrap_or_default()
        .to_string();
    let password = form.get("password").unwrap_or_default().to_string();
    let refuse = |status: StatusCode, message: &str| {
        page(status, &signup_form(&token, &email, Some(message)))
    };
    if let Err(crate::shared::Error::Invalid { message, .. }) =
        passwords::check("password", &password)
    {
        return Ok(refuse(StatusCode::BAD_REQUEST, &message));
    }
    let hash = passwords::hash(&password).await?;
    let mut tx = state.db.begin().await?;
    let user_id = match invites::redeem(&mut tx, &token, &email, hash).await {
        Ok(id) => id,
        Err(crate::shared::Error::Invalid { message, .. }) => {
            return Ok(refuse(StatusCode::BAD_REQUEST, &message));
        }
        Err(crate::shared::Error::Forbidden(message)) => {
            return Ok(refused("Sign up", &message));
        }
        Err(other) => return Err(other.into()),
    };
    state.db.commit(tx).await?;
    let session = sessions::start(&state.db, user_id).await?;
    Ok(redirect(HOME, session_cookies(&session, secure, None)))
}

fn signup_form(token: &str, email: &str, error: Option<&str>) -> String {
    let alert = error.map_or_else(String::new, |e| {
        format!(
            r#"<div class="notice notice-error" role="alert" id="signup-error"><p>{}</p></div>"#,
            escape(e)
        )
    });
    let body = format!(
        r#"<form method="post" action="/user/signup" class="card form" novalidate>
  {alert}
  <input type="hidden" name="token" value="{token}">
  <div class="field"><label for="email">Email</label>
    <input id="email" name="email" type="email" autocomplete="username" required value="{email}" autofocus></div>
  <div class="field"><label for="password">Password</label>
    <input id="password" name="password" type="password" autocomplete="new-password" required aria-describedby="password-hint">
    <p class="hint" id="password-hint">At least {min} characters, not only digits.</p></div>
  <div class="toolbar"><button type="submit" class="btn btn-primary">Create account</button></div>
</form>"#,
        token = escape(token),
        email = escape(email),
        min = passwords::MIN_LENGTH,
    );
    layout("Join your team", &body)
}

/// `GET /user/logout`: a button that signs out (a link alone must not: another site could
/// make the browser follow it).
pub(super) async fn logout_page(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(session) = signed_in(&state, &headers).await? else {
        return Ok(redirect("/user/login", Vec::new()));
    };
    let body = format!(
        r#"<form method="post" action="/user/logout" class="card form">
  <input type="hidden" name="{CSRF_FIELD}" value="{csrf}">
  <p>Signed in as <strong>{email}</strong>.</p>
  <div class="toolbar"><button type="submit" class="btn btn-primary">Sign out</button>
  <a class="btn btn-quiet" href="{HOME}">Cancel</a></div>
</form>"#,
        csrf = escape(&session.csrf),
        email = escape(&session.actor.email),
    );
    Ok(page(StatusCode::OK, &layout("Sign out", &body)))
}

/// `POST /user/logout`: ends the session (it must carry the session's CSRF secret, as a
/// form field or the `X-CSRFToken` header) and clears the cookies.
pub(super) async fn logout(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, ApiError> {
    let headers = request.headers().clone();
    let secure = secure(&state, &headers);
    let Some(key) = crate::api::session_key(&headers) else {
        return Ok(redirect("/user/login", Vec::new()));
    };
    let Some(session) = sessions::find(&state.db, &key).await? else {
        return Ok(redirect("/user/login", clear_cookies(secure)));
    };
    let form = read_form(request.into_body()).await?;
    let sent = headers
        .get(sessions::CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .or(form.get(CSRF_FIELD))
        .unwrap_or_default();
    if !crate::api::same_origin(&headers) || !crate::auth::same_secret(sent, &session.csrf) {
        return Err(ApiError::Forbidden(
            "CSRF Failed: CSRF token missing or incorrect.".into(),
        ));
    }
    sessions::end(&state.db, &key).await?;
    Ok(redirect("/user/login", clear_cookies(secure)))
}

/// The session of the request's cookie, if it is a live one.
async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<sessions::Session>, ApiError> {
    match crate::api::session_key(headers) {
        Some(key) => Ok(sessions::find(&state.db, &key).await?),
        None => Ok(None),
    }
}

/// The fields of a `application/x-www-form-urlencoded` body (the first of each name).
struct Form(Vec<(String, String)>);

impl Form {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

async fn read_form(body: Body) -> Result<Form, ApiError> {
    let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| ApiError::PayloadTooLarge {
            limit: MAX_FORM_BYTES,
            setting: "the sign-in form's limit",
        })?;
    Ok(Form(
        url::form_urlencoded::parse(&bytes)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
    ))
}

/// Whether cookies get `Secure`: the setting, or a proxy that says the request came over
/// TLS.
fn secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.settings.session_cookie_secure
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}

/// The cookies of a new session: its key (hidden from scripts) and its CSRF secret (which
/// the pages' scripts read and send back in `X-CSRFToken`).
fn session_cookies(
    session: &sessions::NewSession,
    secure: bool,
    max_age: Option<Duration>,
) -> Vec<String> {
    vec![
        set_cookie(SESSION_COOKIE, &session.key, true, secure, max_age),
        set_cookie(CSRF_COOKIE, &session.csrf, false, secure, max_age),
    ]
}

fn set_cookie(
    name: &str,
    value: &str,
    http_only: bool,
    secure: bool,
    max_age: Option<Duration>,
) -> String {
    let mut cookie = Cookie::build((name.to_string(), value.to_string()))
        .path("/")
        .http_only(http_only)
        .secure(secure)
        .same_site(SameSite::Lax);
    if let Some(age) = max_age {
        cookie = cookie.max_age(cookie::time::Duration::seconds(age.as_secs() as i64));
    }
    cookie.build().to_string()
}

fn clear_cookies(secure: bool) -> Vec<String> {
    [SESSION_COOKIE, CSRF_COOKIE]
        .into_iter()
        .map(|name| {
            let mut cookie = Cookie::build((name, ""))
                .path("/")
                .http_only(name == SESSION_COOKIE)
                .secure(secure)
                .same_site(SameSite::Lax)
                .build();
            cookie.make_removal();
            cookie.to_string()
        })
        .collect()
}

/// 302 to `to` (Django's redirect), setting `cookies`.
fn redirect(to: &str, cookies: Vec<String>) -> Response {
    let mut response = (StatusCode::FOUND, [(LOCATION, to.to_string())]).into_response();
    for cookie in cookies {
        if let Ok(value) = cookie.parse() {
            response.headers_mut().append(SET_COOKIE, value);
        }
    }
    response
}

fn throttled(email: &str, next: &str, wait: Duration) -> Response {
    let minutes = wait.as_secs().div_ceil(60).max(1);
    let error = format!(
        "Too many failed sign-ins. Try again in {minutes} minute{}.",
        if minutes == 1 { "" } else { "s" }
    );
    let mut response = page(
        StatusCode::TOO_MANY_REQUESTS,
        &login_form(email, next, Some(&error)),
    );
    response.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        wait.as_secs().max(1).into(),
    );
    response
}

fn login_form(email: &str, next: &str, error: Option<&str>) -> String {
    let alert = error.map_or_else(String::new, |e| {
        format!(
            r#"<div class="notice notice-error" role="alert" id="login-error"><p>{}</p></div>"#,
            escape(e)
        )
    });
    let described = if error.is_some() {
        r#" aria-describedby="login-error""#
    } else {
        ""
    };
    let body = format!(
        r#"<form method="post" action="/user/login" class="card form" novalidate>
  {alert}
  <input type="hidden" name="next" value="{next}">
  <div class="field"><label for="email">Email</label>
    <input id="email" name="email" type="email" autocomplete="username" required value="{email}" autofocus{described}></div>
  <div class="field"><label for="password">Password</label>
    <input id="password" name="password" type="password" autocomplete="current-password" required{described}></div>
  <div class="field"><label><input type="checkbox" name="persist_session" value="on"> Keep me signed in on this computer</label></div>
  <div class="toolbar"><button type="submit" class="btn btn-primary">Sign in</button></div>
</form>
<p class="hint">Scripts and the SDK use an API token instead: <a href="/sign-in">sign in with a token</a>.</p>"#,
        next = escape(next),
        email = escape(email),
    );
    layout("Sign in", &body)
}

/// 403 with a page saying why.
fn refused(title: &str, message: &str) -> Response {
    let body = format!(r#"<div class="card"><p>{}</p></div>"#, escape(message));
    page(StatusCode::FORBIDDEN, &layout(title, &body))
}

fn layout(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title} · labelhook</title>
  <link rel="icon" href="/ui/icon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="/ui/style.css">
</head>
<body>
  <header class="topbar"><div class="topbar-inner">
    <a class="brand" href="/ui/"><img src="/ui/icon.svg" alt="" width="24" height="24"><span>labelhook</span></a>
  </div></header>
  <main id="main" class="container">
    <div class="narrow">
      <div class="page-header"><h1>{title}</h1></div>
      {body}
    </div>
  </main>
</body>
</html>"#,
        title = escape(title),
    )
}

fn page(status: StatusCode, html: &str) -> Response {
    (
        status,
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CACHE_CONTROL, "no-store"),
            (HeaderName::from_static("x-content-type-options"), "nosniff"),
            (HeaderName::from_static("referrer-policy"), "same-origin"),
            (
                HeaderName::from_static("content-security-policy"),
                super::CONTENT_SECURITY_POLICY,
            ),
        ],
        html.to_string(),
    )
        .into_response()
}

/// Text for HTML (element content and quoted attributes).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_server() {
        assert_eq!(local_page(Some("/projects/3/data")), "/projects/3/data");
        for away in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "ui",
            "",
        ] {
            assert_eq!(local_page(Some(away)), HOME, "{away}");
        }
        assert_eq!(local_page(None), HOME);
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
