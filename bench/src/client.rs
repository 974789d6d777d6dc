//! The load generator's HTTP client: one keep-alive HTTP/1.1 connection per simulated
//! client (hyper, no pool, no middleware), plus helpers for the labelhook API.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use crate::server::TOKEN;

pub struct Conn {
    pub addr: SocketAddr,
    sender: Option<SendRequest<Full<Bytes>>>,
    host: String,
    token: String,
}

impl Conn {
    pub fn new(addr: SocketAddr) -> Conn {
        Conn::with_token(addr, TOKEN)
    }

    /// A connection acting as another user (another organization's).
    pub fn with_token(addr: SocketAddr, token: &str) -> Conn {
        Conn {
            addr,
            sender: None,
            host: addr.to_string(),
            token: token.to_string(),
        }
    }

    /// Points the connection at another address (a restarted server).
    pub fn retarget(&mut self, addr: SocketAddr) {
        if addr != self.addr {
            self.addr = addr;
            self.host = addr.to_string();
            self.sender = None;
        }
    }

    async fn connect(&mut self) -> anyhow::Result<()> {
        let stream = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::net::TcpStream::connect(self.addr),
        )
        .await
        .context("connect timed out")??;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        self.sender = Some(sender);
        Ok(())
    }

    /// One request; returns the status and the body. A broken connection is reopened on
    /// the next call (never retried here: the caller decides).
    pub async fn call(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> anyhow::Result<(u16, Bytes)> {
        let token = self.token.clone();
        self.send(&token, method, path, body, "application/json")
            .await
    }

    /// [`Conn::call`] with another token.
    pub async fn call_with_token(
        &mut self,
        method: Method,
        path: &str,
        token: &str,
    ) -> anyhow::Result<(u16, Bytes)> {
        self.send(token, method, path, None, "application/json")
            .await
    }

    /// [`Conn::call`] with a body of another content type (multipart uploads).
    pub async fn call_typed(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
        content_type: &str,
    ) -> anyhow::Result<(u16, Bytes)> {
        let token = self.token.clone();
        self.send(&token, method, path, body, content_type).await
    }

    async fn send(
        &mut self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Bytes>,
        content_type: &str,
    ) -> anyhow::Result<(u16, Bytes)> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            self.connect().await?;
        }
        let sender = self.sender.as_mut().unwrap();
        sender.ready().await?;
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.host)
            .header("authorization", format!("Token {token}"));
        if body.is_some() {
            builder = builder.header("content-type", content_type);
        }
        let request = builder.body(Full::new(body.unwrap_or_default()))?;
        let result = async {
            let response = sender.send_request(request).await?;
            let status = response.status().as_u16();
            let bytes = response.into_body().collect().await?.to_bytes();
            anyhow::Ok((status, bytes))
        }
        .await;
        if result.is_err() {
            self.sender = None;
        }
        result
    }

    /// A call that must answer 2xx with JSON.
    pub async fn json(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let body = body.map(|b| Bytes::from(b.to_string()));
        let (status, bytes) = self.call(method.clone(), path, body).await?;
        if !(200..300).contains(&status) {
            bail!(
                "{method} {path}: {status} {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(500)])
            );
        }
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        Ok(serde_json::from_slice(&bytes)?)
    }

    // --- labelhook API helpers -------------------------------------------------------

    pub async fn create_project(&mut self, title: &str) -> anyhow::Result<i64> {
        let v = self
            .json(
                Method::POST,
                "/api/projects/",
                Some(json!({"title": title, "label_config": LABEL_CONFIG})),
            )
            .await?;
        v["id"].as_i64().context("project id")
    }

    /// A webhook for every action; `project: None` is organization-level.
    pub async fn create_webhook(&mut self, url: &str, project: Option<i64>) -> anyhow::Result<i64> {
        let mut body = json!({"url": url, "send_payload": true, "send_for_all_actions": true});
        if let Some(p) = project {
            body["project"] = json!(p);
        }
        let v = self
            .json(Method::POST, "/api/webhooks/", Some(body))
            .await?;
        v["id"].as_i64().context("webhook id")
    }

    /// Imports `n` tasks; `key0` numbers them (data.k) so receivers can tell them apart.
    pub async fn import(&mut self, project: i64, key0: u64, n: u64) -> anyhow::Result<()> {
        self.post_import(project, import_body(key0, n)).await
    }

    /// Imports `n` tasks, 5,000 per request; `task(k)` is the JSON of task `k` (from 0).
    pub async fn import_each(
        &mut self,
        project: i64,
        n: u64,
        task: impl Fn(u64) -> String,
    ) -> anyhow::Result<()> {
        let mut done = 0;
        while done < n {
            let chunk = (n - done).min(5000);
            let tasks: Vec<String> = (done..done + chunk).map(&task).collect();
            let body = format!("[{}]", tasks.join(","));
            self.post_import(project, Bytes::from(body)).await?;
            done += chunk;
        }
        Ok(())
    }

    async fn post_import(&mut self, project: i64, body: Bytes) -> anyhow::Result<()> {
        let path = format!("/api/projects/{project}/import");
        let (status, bytes) = self.call(Method::POST, &path, Some(body)).await?;
        if status != 201 {
            bail!("import: {status} {}", String::from_utf8_lossy(&bytes));
        }
        Ok(())
    }

    /// Every task id of a project, by pages of 10,000.
    pub async fn task_ids(&mut self, project: i64) -> anyhow::Result<Vec<i64>> {
        let mut ids = Vec::new();
        for page in 1..=10_000 {
            let (status, bytes) = self
                .call(
                    Method::GET,
                    &format!("/api/tasks/?project={project}&page={page}&page_size=10000"),
                    None,
                )
                .await?;
            if status == 404 {
                break;
            }
            if status != 200 {
                bail!("task list: {status}");
            }
            let v: Value = serde_json::from_slice(&bytes)?;
            let tasks = v["tasks"].as_array().cloned().unwrap_or_default();
            if tasks.is_empty() {
                break;
            }
            ids.extend(tasks.iter().filter_map(|t| t["id"].as_i64()));
            if ids.len() as i64 >= v["total"].as_i64().unwrap_or(0) {
                break;
            }
        }
        Ok(ids)
    }

    /// Pending deliveries of one webhook.
    pub async fn pending(&mut self, webhook: i64) -> anyhow::Result<i64> {
        let v = self
            .json(
                Method::GET,
                &format!("/api/webhooks/{webhook}/deliveries?status=pending&page_size=1"),
                None,
            )
            .await?;
        v["count"].as_i64().context("count")
    }
}

pub const LABEL_CONFIG: &str = r#"<View><Text name="text" value="$text"/><Choices name="label" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices></View>"#;

pub fn import_body(key0: u64, n: u64) -> Bytes {
    let mut s = String::with_capacity(n as usize * 40 + 2);
    s.push('[');
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!(
            r#"{{"text":"benchmark task {}","k":{}}}"#,
            key0 + i,
            key0 + i
        ));
    }
    s.push(']');
    Bytes::from(s)
}

pub fn task_body(project: i64, k: u64) -> Bytes {
    Bytes::from(format!(
        r#"{{"project":{project},"data":{{"text":"benchmark task {k}","k":{k}}}}}"#
    ))
}

pub const ANNOTATION_BODY: &str = r#"{"result":[{"from_name":"label","to_name":"text","type":"choices","value":{"choices":["pos"]}}]}"#;
