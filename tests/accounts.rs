//! People sign in with email and password (issue 15): the first user from Label Studio's
//! `LABEL_STUDIO_USERNAME` / `LABEL_STUDIO_PASSWORD`, session cookies with CSRF checks on
//! writes, sign-out, and failed sign-ins that tell nothing and are slowed down. API tokens
//! keep working beside them.

mod common;

use common::{Server, TOKEN};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

const EMAIL: &str = "owner@example.com";
const PASSWORD: &str = "pass12345-owner";

fn start(extra: &[(&str, &str)]) -> Server {
    let mut env = vec![
        ("LABEL_STUDIO_USERNAME", EMAIL),
        ("LABEL_STUDIO_PASSWORD", PASSWORD),
    ];
    env.extend_from_slice(extra);
    Server::start_with(&env)
}

/// A client that shows redirects instead of following them.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The answer to a sign-in form.
struct Answer {
    status: StatusCode,
    location: String,
    cookies: Vec<String>,
    body: String,
}

impl Answer {
    fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(String::as_str)
    }

    fn value(&self, name: &str) -> String {
        let cookie = self
            .cookie(name)
            .unwrap_or_else(|| panic!("no {name} cookie: {:?}", self.cookies));
        cookie[name.len() + 1..]
            .split(';')
            .next()
            .unwrap()
            .to_string()
    }
}

async fn sign_in(server: &Server, form: &[(&str, &str)], headers: &[(&str, &str)]) -> Answer {
    let mut request = browser().post(server.url("/user/login")).form(form);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("sign in");
    let status = response.status();
    let location = response
        .headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let cookies = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let body = response.text().await.unwrap();
    Answer {
        status,
        location,
        cookies,
        body,
    }
}

/// A request with the session cookies of `session` (and `headers`).
/// GET /api/current-user/whoami with the session's cookies.
async fn whoami_by_cookie(server: &Server, session: &Answer) -> (u16, Value) {
    with_session(
        server,
        session,
        "GET",
        "/api/current-user/whoami",
        None,
        &[],
    )
    .await
}

/// Creates the project "by cookie" with the session's cookies and `headers`.
async fn create_by_cookie(
    server: &Server,
    session: &Answer,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let project = Some(json!({"title": "by cookie"}));
    with_session(server, session, "POST", "/api/projects/", project, headers).await
}

async fn with_session(
    server: &Server,
    session: &Answer,
    method: &str,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let cookies = format!(
        "sessionid={}; csrftoken={}",
        session.value("sessionid"),
        session.value("csrftoken")
    );
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = browser()
        .request(method, server.url(path))
        .header(COOKIE, cookies);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn the_first_user_signs_in_with_the_environments_password_and_works_by_cookie() {
    let server = start(&[]);
    // The form page is there, with no secret in it.
    let page = browser()
        .get(server.url("/user/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains(r#"name="email""#) && html.contains(r#"name="password""#),
        "{html}"
    );

    let session = sign_in(
        &server,
        &[
            ("email", "Owner@Example.com"),
            ("password", PASSWORD),
            ("next", "/ui/#/projects"),
        ],
        &[],
    )
    .await;
    assert_eq!(session.status, StatusCode::FOUND, "{}", session.body);
    assert_eq!(session.location, "/ui/#/projects");
    let cookie = session.cookie("sessionid").unwrap().to_lowercase();
    assert!(
        cookie.contains("httponly") && cookie.contains("samesite=lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("secure"),
        "plain HTTP: not Secure ({cookie})"
    );
    assert!(
        !cookie.contains("max-age"),
        "not kept: ends with the browser ({cookie})"
    );
    let csrf = session.cookie("csrftoken").unwrap().to_lowercase();
    assert!(!csrf.contains("httponly"), "the pages read it: {csrf}");

    let (status, me) = whoami_by_cookie(&server, &session).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["email"], EMAIL);

    // A write by cookie needs the CSRF secret, and not from another site.
    let (status, body) = create_by_cookie(&server, &session, &[]).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("CSRF"), "{body}");
    let wrong_secret = [("X-CSRFToken", "wrong")];
    let (status, _) = create_by_cookie(&server, &session, &wrong_secret).await;
    assert_eq!(status, 403);
    let secret = session.value("csrftoken");
    let another_site = [
        ("X-CSRFToken", secret.as_str()),
        ("Origin", "http://evil.example"),
    ];
    let (status, _) = create_by_cookie(&server, &session, &another_site).await;
    assert_eq!(status, 403, "another site's page");
    server.expect(200, "GET /api/projects/", None).await;
    assert_eq!(
        server.get("/api/projects/").await["count"],
        0,
        "nothing was created"
    );
    let with_secret = [("X-CSRFToken", secret.as_str())];
    let (status, created) = create_by_cookie(&server, &session, &with_secret).await;
    assert_eq!(status, 201, "{created}");

    // The API token works as before, with no CSRF secret.
    server
        .expect(
            201,
            "POST /api/projects/",
            Some(json!({"title": "by token"})),
        )
        .await;

    // Signing out needs the secret too; then the cookie opens nothing.
    let cookies = format!(
        "sessionid={}; csrftoken={secret}",
        session.value("sessionid")
    );
    let refused = browser()
        .post(server.url("/user/logout"))
        .header(COOKIE, &cookies)
        .form(&[("csrfmiddlewaretoken", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let out = browser()
        .post(server.url("/user/logout"))
        .header(COOKIE, &cookies)
        .form(&[("csrfmiddlewaretoken", secret.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 302);
    assert_eq!(out.headers()[LOCATION], "/user/login");
    let cleared: Vec<_> = out
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(
        cleared.iter().any(|c| c.starts_with("sessionid=;")),
        "{cleared:?}"
    );
    let (status, _) = whoami_by_cookie(&server, &session).await;
    assert_eq!(status, 401, "the session is over");
}

#[tokio::test]
async fn kept_sessions_last_and_cookies_are_secure_behind_tls() {
    let server = start(&[]);
    let session = sign_in(
        &server,
        &[
            ("email", EMAIL),
            ("password", PASSWORD),
            ("persist_session", "on"),
            ("next", "https://evil.example/"),
        ],
        &[("X-Forwarded-Proto", "https")],
    )
    .await;
    assert_eq!(session.status, StatusCode::FOUND);
    assert_eq!(session.location, "/projects", "never to another site");
    let cookie = session.cookie("sessionid").unwrap().to_lowercase();
    assert!(cookie.contains("secure"), "{cookie}");
    assert!(cookie.contains("max-age=1209600"), "two weeks: {cookie}");
    // Signed in, the form page sends you on.
    let again = browser()
        .get(server.url("/user/login?next=/ui/%23/webhooks"))
        .header(COOKIE, format!("sessionid={}", session.value("sessionid")))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 302);
    assert_eq!(again.headers()[LOCATION], "/ui/#/webhooks");
}

#[tokio::test]
async fn failed_sign_ins_say_nothing_about_the_email_and_are_slowed_down() {
    let server = start(&[
        ("LABELHOOK_SIGNIN_FAILURES_PER_ACCOUNT", "3"),
        ("LABELHOOK_SIGNIN_FAILURES_PER_CLIENT", "100"),
    ]);
    let wrong = sign_in(
        &server,
        &[("email", EMAIL), ("password", "not-the-password")],
        &[],
    )
    .await;
    let unknown = sign_in(
        &server,
        &[
            ("email", "nobody@example.com"),
            ("password", "not-the-password"),
        ],
        &[],
    )
    .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    let message = "The email and password you entered don&#39;t match.";
    assert!(
        wrong.body.contains(message) && unknown.body.contains(message),
        "{}",
        wrong.body
    );
    assert_eq!(
        wrong.body.replace(EMAIL, "x"),
        unknown.body.replace("nobody@example.com", "x"),
        "the same page either way"
    );
    assert!(wrong.cookies.is_empty(), "no session");
    // A form from another site is refused before any password is checked.
    let foreign = sign_in(
        &server,
        &[("email", EMAIL), ("password", PASSWORD)],
        &[("Origin", "http://evil.example")],
    )
    .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    assert!(foreign.cookies.is_empty());
    // Empty fields.
    let empty = sign_in(&server, &[("email", EMAIL)], &[]).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);

    // Two more failures for the account (3 allowed), then even the right password waits.
    for _ in 0..2 {
        let again = sign_in(
            &server,
            &[("email", EMAIL), ("password", "still-wrong")],
            &[],
        )
        .await;
        assert_eq!(again.status, StatusCode::BAD_REQUEST);
    }
    let locked = sign_in(
        &server,
        &[("email", EMAIL), ("password", "still-wrong")],
        &[],
    )
    .await;
    assert_eq!(
        locked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        locked.body
    );
    let right = sign_in(&server, &[("email", EMAIL), ("password", PASSWORD)], &[]).await;
    assert_eq!(
        right.status,
        StatusCode::TOO_MANY_REQUESTS,
        "a right guess looks the same"
    );
    assert!(right.cookies.is_empty());
    // An unknown email is locked out the same way (a lockout tells nothing either).
    for _ in 0..4 {
        sign_in(
            &server,
            &[("email", "nobody@example.com"), ("password", "x-wrong-x")],
            &[],
        )
        .await;
    }
    let other = sign_in(
        &server,
        &[("email", "nobody@example.com"), ("password", "x-wrong-x")],
        &[],
    )
    .await;
    assert_eq!(other.status, StatusCode::TOO_MANY_REQUESTS);
    // The token still works: API tokens are not sign-ins.
    server
        .expect_as(TOKEN, 200, "GET /api/current-user/whoami", None)
        .await;
}

#[tokio::test]
async fn too_many_failures_from_one_client_lock_it_out_for_every_account() {
    let server = start(&[
        ("LABELHOOK_SIGNIN_FAILURES_PER_ACCOUNT", "100"),
        ("LABELHOOK_SIGNIN_FAILURES_PER_CLIENT", "3"),
    ]);
    for n in 0..3 {
        let email = format!("guess{n}@example.com");
        let answer = sign_in(
            &server,
            &[("email", &email), ("password", "wrong-guess")],
            &[],
        )
        .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    }
    let fourth = sign_in(
        &server,
        &[("email", "guess3@example.com"), ("password", "wrong-guess")],
        &[],
    )
    .await;
    assert_eq!(fourth.status, StatusCode::TOO_MANY_REQUESTS);
    let owner = sign_in(&server, &[("email", EMAIL), ("password", PASSWORD)], &[]).await;
    assert_eq!(
        owner.status,
        StatusCode::TOO_MANY_REQUESTS,
        "this client waits"
    );
}

#[tokio::test]
async fn an_existing_server_gains_the_password_once_and_keeps_it() {
    // Started without a password (as before this feature), then with one.
    let mut server = Server::start_with(&[("LABELHOOK_ADMIN_EMAIL", EMAIL)]);
    let none = sign_in(&server, &[("email", EMAIL), ("password", PASSWORD)], &[]).await;
    assert_eq!(none.status, StatusCode::BAD_REQUEST, "no password yet");
    server.restart_with(&[("LABEL_STUDIO_PASSWORD", PASSWORD)]);
    let first = sign_in(&server, &[("email", EMAIL), ("password", PASSWORD)], &[]).await;
    assert_eq!(first.status, StatusCode::FOUND, "{}", first.body);
    server.restart_with(&[("LABEL_STUDIO_PASSWORD", "another-pass-123")]);
    let kept = sign_in(&server, &[("email", EMAIL), ("password", PASSWORD)], &[]).await;
    assert_eq!(
        kept.status,
        StatusCode::FOUND,
        "the environment does not overwrite it"
    );
}

#[tokio::test]
async fn the_action_catalogue_lists_custom_types_for_a_session_too() {
    let server = start(&[]);
    server
        .create(
            "/api/webhooks/event-types/",
            json!({"name": "MY_PIPELINE_DONE", "description": "The pipeline finished."}),
        )
        .await;
    let session = sign_in(&server, &[("email", EMAIL), ("password", PASSWORD)], &[]).await;
    let (status, info) =
        with_session(&server, &session, "GET", "/api/webhooks/info/", None, &[]).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(
        info["MY_PIPELINE_DONE"]["description"],
        "The pipeline finished."
    );
    // Without credentials, the catalogue alone.
    let anonymous: Value = browser()
        .get(server.url("/api/webhooks/info/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(anonymous.get("MY_PIPELINE_DONE").is_none());
}
