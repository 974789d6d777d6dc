//! One delivery attempt: sign, POST, classify what happened.

use std::time::{Duration, Instant};

use anyhow::Context;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, USER_AGENT};

use super::job::Job;
use super::secret;
use super::ssrf::{BLOCKED_MARKER, Guard};
use crate::config::WebhookSettings;
use crate::store::time;

/// How much of a response body the log keeps.
pub const RESPONSE_BODY_LIMIT: usize = 64 * 1024;

/// Why an attempt failed, as the delivery log classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    Timeout,
    Connect,
    Dns,
    Tls,
    /// The receiver answered, but not with 2xx (or the exchange broke mid-way).
    Http,
    /// Refused before sending (SSRF guard).
    Blocked,
}

impl ErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Timeout => "timeout",
            ErrorClass::Connect => "connect",
            ErrorClass::Dns => "dns",
            ErrorClass::Tls => "tls",
            ErrorClass::Http => "http",
            ErrorClass::Blocked => "blocked",
        }
    }
}

/// What one attempt gave.
#[derive(Debug)]
pub struct Attempt {
    pub job: Job,
    pub started_at: i64,
    pub duration: Duration,
    pub status_code: Option<u16>,
    pub response_headers: Option<String>,
    pub response_body: Option<String>,
    pub error: Option<(ErrorClass, String)>,
    /// `Retry-After` of a 429 or 503, if given.
    pub retry_after: Option<Duration>,
}

impl Attempt {
    pub fn succeeded(&self) -> bool {
        self.error.is_none() && self.status_code.is_some_and(|c| (200..300).contains(&c))
    }
}

/// The HTTP client all deliveries share: keep-alive connections per receiver, no
/// redirects (a redirect is a failure: it could lead past the SSRF guard), rustls.
///
/// Names are resolved by the guard's resolver, which hands reqwest only allowed
/// addresses, so the address checked is the address connected to. With a delivery proxy,
/// the proxy connects instead; the guard then checks each URL before the attempt and the
/// proxy is the place to filter egress.
///
/// An invalid proxy or a client that cannot be built stops start-up: any fallback (sending
/// directly, or reqwest's default client that follows redirects and reads `HTTP_PROXY`)
/// would deliver past the guard or the operator's egress point.
pub fn client(settings: &WebhookSettings) -> anyhow::Result<reqwest::Client> {
    let builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // Keep every connection for reuse (reqwest's default): capping idle ones below the
        // number in flight made most deliveries open a new connection.
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        // Header names go out Title-Cased (`X-Api`, `Webhook-Id`) instead of hyper's lower
        // case, so a custom header typed as `X-Api` arrives as typed (Label Studio sends
        // names as written, and some receivers compare raw names). hyper keeps no other
        // case for a client request: its map of original cases is not public.
        .http1_title_case_headers();
    let builder = match settings.delivery_proxy.as_deref() {
        Some(proxy) => {
            let invalid = || {
                format!(
                    "LABELHOOK_DELIVERY_PROXY={proxy:?} is not a valid proxy URL \
                     (http://host:port or https://host:port)"
                )
            };
            // reqwest takes any scheme here and fails only when sending (it is built
            // without SOCKS): check what it can use now.
            let scheme = proxy.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
            if !matches!(scheme.as_deref(), Some("http" | "https")) {
                anyhow::bail!(invalid());
            }
            builder.proxy(reqwest::Proxy::all(proxy).with_context(invalid)?)
        }
        // Environment proxies (HTTP_PROXY, ...) would route around the guard.
        None => builder
            .no_proxy()
            .dns_resolver(Guard::from_settings(settings).resolver()),
    };
    finish(builder)
}

fn finish(builder: reqwest::ClientBuilder) -> anyhow::Result<reqwest::Client> {
    builder
        .build()
        .context("cannot build the webhook delivery HTTP client")
}

/// Checks before sending what the resolver cannot see: IP literals (never resolved) and,
/// behind a proxy, every URL.
async fn preflight(guard: &Guard, url: &str, proxied: bool) -> Result<(), String> {
    if !guard.enabled() {
        return Ok(());
    }
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return Err(format!("{url} is not a valid URL"));
    };
    let literal = matches!(parsed.host(), Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)));
    if literal || proxied {
        guard
            .check_url(&parsed)
            .await
            .map_err(|blocked| blocked.0)?;
    }
    Ok(())
}

/// What a receiver written for Labelbox checks: `X-Hub-Signature` (HMAC-SHA1) and
/// `X-Hub-Signature-256` with the current secret, `X-Labelbox-Id` (the delivery's id) and
/// `X-Labelbox-Event` (the topic).
fn labelbox_headers(headers: &mut HeaderMap, job: &Job, topics: &[String]) {
    let secret = job.destination.secrets.first();
    let values = [
        (
            "x-hub-signature",
            secret.and_then(|s| secret::hub_signature_sha1(s, &job.body)),
        ),
        (
            "x-hub-signature-256",
            secret.and_then(|s| secret::hub_signature(s, &job.body)),
        ),
        ("x-labelbox-id", Some(job.message_id.clone())),
        (
            "x-labelbox-event",
            Some(super::labelbox::topic_of(&job.action, topics)),
        ),
    ];
    for (name, value) in values {
        if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
}

pub async fn attempt(
    client: &reqwest::Client,
    guard: &Guard,
    job: Job,
    timeout: Duration,
    proxied: bool,
) -> Attempt {
    let started_at = time::now();
    let clock = Instant::now();
    if let Err(reason) = preflight(guard, &job.destination.url, proxied).await {
        return Attempt {
            job,
            started_at,
            duration: clock.elapsed(),
            status_code: None,
            response_headers: None,
            response_body: None,
            error: Some((ErrorClass::Blocked, reason)),
            retry_after: None,
        };
    }
    let timestamp = started_at / 1_000_000;
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(USER_AGENT, HeaderValue::from_static(crate::USER_AGENT));
    for (name, value) in &job.destination.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.insert(name, value);
        }
    }
    let signatures: Vec<String> = job
        .destination
        .secrets
        .iter()
        .filter_map(|s| secret::sign(s, &job.message_id, timestamp, &job.body))
        .collect();
    let standard = [
        ("webhook-id", job.message_id.clone()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signatures.join(" ")),
        ("labelhook-sequence", job.sequence.to_string()),
    ];
    let hub = job
        .destination
        .hub_signature
        .then(|| {
            job.destination
                .secrets
                .first()
                .and_then(|s| secret::hub_signature(s, &job.body))
        })
        .flatten();
    if let Some(value) = hub.and_then(|v| HeaderValue::from_str(&v).ok()) {
        headers.insert(HeaderName::from_static("x-hub-signature-256"), value);
    }
    if let Some(topics) = &job.destination.labelbox_topics {
        labelbox_headers(&mut headers, &job, topics);
    }
    for (name, value) in standard {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    let request = client
        .post(&job.destination.url)
        .headers(headers)
        .timeout(timeout)
        .body(job.body.clone());
    let mut result = Attempt {
        job,
        started_at,
        duration: Duration::ZERO,
        status_code: None,
        response_headers: None,
        response_body: None,
        error: None,
        retry_after: None,
    };
    match request.send().await {
        Err(error) => result.error = Some(classify(&error)),
        Ok(mut response) => {
            let status = response.status();
            result.status_code = Some(status.as_u16());
            result.response_headers = Some(render_headers(response.headers()));
            if status.as_u16() == 429 || status.as_u16() == 503 {
                result.retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_retry_after);
            }
            let mut body = Vec::new();
            loop {
                match response.chunk().await {
                    Ok(Some(chunk)) => {
                        let room = RESPONSE_BODY_LIMIT.saturating_sub(body.len());
                        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                        if body.len() >= RESPONSE_BODY_LIMIT {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(error) => {
                        // The status counts; a body cut short is noted, not a failure of a 2xx.
                        if !status.is_success() {
                            result.error = Some(classify(&error));
                        }
                        break;
                    }
                }
            }
            result.response_body = Some(String::from_utf8_lossy(&body).into_owned());
            if !status.is_success() && result.error.is_none() {
                let reason = if status.is_redirection() {
                    format!("HTTP {status}: redirects are not followed")
                } else {
                    format!("HTTP {status}")
                };
                result.error = Some((ErrorClass::Http, reason));
            }
        }
    }
    result.duration = clock.elapsed();
    result
}

/// Sorts a transport error into the log's classes.
fn classify(error: &reqwest::Error) -> (ErrorClass, String) {
    let mut chain = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    let lower = chain.to_lowercase();
    let class = if chain.contains(BLOCKED_MARKER) {
        ErrorClass::Blocked
    } else if error.is_timeout() {
        ErrorClass::Timeout
    } else if lower.contains("dns") || lower.contains("failed to lookup address") {
        ErrorClass::Dns
    } else if lower.contains("tls") || lower.contains("certificate") || lower.contains("handshake")
    {
        ErrorClass::Tls
    } else if error.is_connect() {
        ErrorClass::Connect
    } else {
        ErrorClass::Http
    };
    (class, chain)
}

fn render_headers(headers: &reqwest::header::HeaderMap) -> String {
    let map: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                serde_json::Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned()),
            )
        })
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// `Retry-After` as seconds or an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = when.timestamp() - chrono::Utc::now().timestamp();
    Some(Duration::from_secs(wait.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_retry_after_in_both_forms() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn a_client_that_cannot_be_built_is_an_error_not_a_default_client() {
        // rustls has no TLS 1.0: a builder limited to it cannot be built.
        let builder = reqwest::Client::builder().max_tls_version(reqwest::tls::Version::TLS_1_0);
        let error = finish(builder).expect_err("no fallback client");
        assert!(
            format!("{error:#}").contains("cannot build the webhook delivery HTTP client"),
            "{error:#}"
        );
    }
}
