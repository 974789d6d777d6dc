//! Black-box test harness: the real `labelhook` binary on port 0 with a temporary database,
//! real receivers on loopback, and waits on conditions with deadlines (never fixed sleeps).
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use serde_json::Value;

pub const TOKEN: &str = "test-admin-token-0123456789";

/// A running labelhook process.
pub struct Server {
    pub base: String,
    pub client: reqwest::Client,
    child: Child,
    db_url: String,
    env: Vec<(String, String)>,
    dir: Arc<tempfile::TempDir>,
    /// Whether dropping this server drops its PostgreSQL database (the first process does).
    owns_db: bool,
}

impl Server {
    /// Starts a server with a fresh database and the given extra environment.
    pub fn start_with(env: &[(&str, &str)]) -> Server {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let db_url = match std::env::var("LABELHOOK_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => fresh_postgres_database(&url),
            _ => format!("sqlite://{}/labelhook.db", dir.path().display()),
        };
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (child, base) = spawn(&db_url, &env);
        Server {
            base,
            client: reqwest::Client::new(),
            child,
            db_url,
            env,
            dir,
            owns_db: true,
        }
    }

    /// Another process on the same database (PostgreSQL scale-out).
    pub fn another_process(&self) -> Server {
        self.process_at(&self.db_url)
    }

    /// Another process on this server's database, reached through `url`; it leaves the
    /// database to the first process.
    fn process_at(&self, url: &str) -> Server {
        let (child, base) = spawn(url, &self.env);
        Server {
            base,
            client: reqwest::Client::new(),
            child,
            db_url: self.db_url.clone(),
            env: self.env.clone(),
            dir: self.dir.clone(),
            owns_db: false,
        }
    }

    /// The database URL this server uses.
    pub fn db_url(&self) -> &str {
        &self.db_url
    }

    /// Another process on the same PostgreSQL database whose connections carry
    /// `application_name`, so a test can find (and terminate) them in `pg_stat_activity`.
    pub fn another_process_named(&self, application_name: &str) -> Server {
        self.process_at(&format!(
            "{}?application_name={application_name}",
            self.db_url
        ))
    }

    /// PostgreSQL: terminates every connection of `application_name` to this server's
    /// database (`pg_terminate_backend`); returns how many.
    pub fn terminate_connections(&self, application_name: &str) -> usize {
        let name = self.db_url.rsplit('/').next().unwrap_or_default();
        let admin = std::env::var("LABELHOOK_TEST_DATABASE_URL").expect("PostgreSQL tests");
        let sql = format!(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = '{name}' AND application_name = '{application_name}'"
        );
        let output = Command::new("psql")
            .args([admin.as_str(), "-At", "-c", &sql])
            .output()
            .expect("run psql");
        assert_succeeded(&output);
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .unwrap_or(0)
    }

    pub fn is_postgres(&self) -> bool {
        self.db_url.starts_with("postgres")
    }

    /// Runs SQL on the server's database from outside (psql, or the SQLite file itself),
    /// to set up what no API call can (a process that died half-way).
    pub fn run_sql(&self, sql: &str) {
        if self.is_postgres() {
            let status = Command::new("psql")
                .args([
                    self.db_url.as_str(),
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-q",
                    "-c",
                    sql,
                ])
                .status()
                .expect("run psql");
            assert!(status.success(), "psql failed on {sql}");
        } else {
            let path = self.dir.path().join("labelhook.db");
            let conn = rusqlite::Connection::open(path).expect("open the SQLite file");
            conn.busy_timeout(Duration::from_secs(10))
                .expect("busy timeout");
            conn.execute_batch(sql).expect("run SQL on SQLite");
        }
    }

    /// The first column of the first row of `sql` on the server's database, as text.
    pub fn sql_value(&self, sql: &str) -> String {
        if self.is_postgres() {
            let output = Command::new("psql")
                .args([self.db_url.as_str(), "-v", "ON_ERROR_STOP=1", "-tAc", sql])
                .output()
                .expect("run psql");
            assert!(output.status.success(), "psql failed on {sql}");
            String::from_utf8_lossy(&output.stdout).trim().to_string()
        } else {
            let path = self.dir.path().join("labelhook.db");
            let conn = rusqlite::Connection::open(path).expect("open the SQLite file");
            conn.busy_timeout(Duration::from_secs(10))
                .expect("busy timeout");
            conn.query_row(sql, [], |row| {
                let value: rusqlite::types::Value = row.get(0)?;
                Ok(match value {
                    rusqlite::types::Value::Integer(n) => n.to_string(),
                    rusqlite::types::Value::Real(x) => x.to_string(),
                    rusqlite::types::Value::Text(t) => t,
                    _ => String::new(),
                })
            })
            .expect("query SQLite")
        }
    }

    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Kills the process with SIGKILL (no chance to clean up).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the process again on the same database with changed settings.
    pub fn restart_with(&mut self, env: &[(&str, &str)]) {
        for (k, v) in env {
            self.env.retain(|(name, _)| name != k);
            self.env.push((k.to_string(), v.to_string()));
        }
        self.restart();
    }

    /// Starts the process again on the same database.
    pub fn restart(&mut self) {
        self.kill();
        let (child, base) = spawn(&self.db_url, &self.env);
        self.child = child;
        self.base = base;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_as(TOKEN, method, path, body).await
    }

    pub async fn call_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let body = body.map(|body| body.to_string());
        let (status, text) = self.call_text_as(token, method, path, body).await;
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    /// A request with a JSON body given as text, answered as text: for what a client
    /// sends or sees byte for byte.
    pub async fn call_text(&self, method: &str, path: &str, body: Option<String>) -> (u16, String) {
        self.call_text_as(TOKEN, method, path, body).await
    }

    async fn call_text_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<String>,
    ) -> (u16, String) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self
            .client
            .request(method, self.url(path))
            .header("Authorization", format!("Token {token}"));
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    /// Sends `request` ("METHOD /path") with `body` as the admin; panics unless the answer
    /// has `status`; returns the answer's body.
    pub async fn expect(&self, status: u16, request: &str, body: Option<Value>) -> Value {
        self.expect_as(TOKEN, status, request, body).await
    }

    /// [`Server::expect`] as the user with `token`.
    pub async fn expect_as(
        &self,
        token: &str,
        status: u16,
        request: &str,
        body: Option<Value>,
    ) -> Value {
        let (method, path) = request
            .split_once(' ')
            .unwrap_or_else(|| panic!("{request:?} is not \"METHOD /path\""));
        let sent = body.as_ref().map(Value::to_string).unwrap_or_default();
        let (got, answer) = self.call_as(token, method, path, body).await;
        assert_eq!(got, status, "{request} {sent} answered {got}: {answer}");
        answer
    }

    /// Sends `request` with `body` as the admin; panics unless the answer is a 400 whose
    /// `validation_errors` name `field` with a list of messages; the answer.
    pub async fn expect_field_error(
        &self,
        request: &str,
        body: Option<Value>,
        field: &str,
    ) -> Value {
        self.expect_error_on(request, body, field, Value::is_array)
            .await
    }

    /// Like [`Server::expect_field_error`], for a field whose errors may be nested: a list
    /// of messages or an object of them.
    pub async fn expect_nested_field_error(
        &self,
        request: &str,
        body: Option<Value>,
        field: &str,
    ) -> Value {
        let listed_or_nested = |errors: &Value| errors.is_array() || errors.is_object();
        self.expect_error_on(request, body, field, listed_or_nested)
            .await
    }

    async fn expect_error_on(
        &self,
        request: &str,
        body: Option<Value>,
        field: &str,
        named: impl Fn(&Value) -> bool,
    ) -> Value {
        let answer = self.expect(400, request, body).await;
        assert!(
            named(&answer["validation_errors"][field]),
            "{request}: no error on {field} in {answer}"
        );
        answer
    }

    /// Sends `body` with `request` as the admin; panics unless the answer is a 400 whose
    /// `validation_errors` are exactly `errors`.
    pub async fn expect_errors(&self, request: &str, body: Value, errors: &Value) {
        let sent = body.to_string();
        let answer = self.expect(400, request, Some(body)).await;
        assert_eq!(
            &answer["validation_errors"], errors,
            "{request} {sent}: {answer}"
        );
    }

    pub async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call("GET", path, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// POST expecting 201; returns the body.
    pub async fn create(&self, path: &str, body: Value) -> Value {
        let (status, answer) = self.call("POST", path, Some(body)).await;
        assert_eq!(status, 201, "POST {path}: {answer}");
        answer
    }

    /// Creates a webhook from `body` (POST /api/webhooks/ answering 201); the webhook.
    pub async fn webhook(&self, body: Value) -> Value {
        self.create("/api/webhooks/", body).await
    }

    /// GET `path` without a token.
    pub async fn get_public(&self, path: &str) -> reqwest::Response {
        let response = self.client.get(self.url(path)).send().await;
        response.unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// GET /metrics (no token needed), as text.
    pub async fn metrics(&self) -> String {
        let response = self.get_public("/metrics").await;
        response.text().await.expect("the body of /metrics")
    }

    /// Creates a task with the data `{"text": text}` in `project`; the task as answered.
    pub async fn task(&self, project: i64, text: &str) -> Value {
        self.create(
            "/api/tasks/",
            serde_json::json!({"project": project, "data": {"text": text}}),
        )
        .await
    }

    /// Annotates `task` with `body` as the admin (201); the annotation.
    pub async fn annotate(&self, task: impl std::fmt::Display, body: Value) -> Value {
        self.annotate_as(TOKEN, task, body).await
    }

    /// Annotates `task` with `body` as the user with `token` (201); the annotation.
    pub async fn annotate_as(
        &self,
        token: &str,
        task: impl std::fmt::Display,
        body: Value,
    ) -> Value {
        let request = format!("POST /api/tasks/{task}/annotations/");
        self.expect_as(token, 201, &request, Some(body)).await
    }

    /// The project's `task_number` (GET /api/projects/{project}/ as the admin).
    pub async fn task_number(&self, project: i64) -> Value {
        self.get_project(project).await["task_number"].clone()
    }

    /// GET /api/projects/{project}/ as the admin (200); the project with its counts.
    pub async fn get_project(&self, project: i64) -> Value {
        self.get(&format!("/api/projects/{project}/")).await
    }

    /// Imports `tasks` into `project` as the admin (201); the import's summary.
    pub async fn import(&self, project: i64, tasks: Value) -> Value {
        self.create(&format!("/api/projects/{project}/import"), tasks)
            .await
    }

    /// PATCHes `project` with `body` as the admin (200); the project.
    pub async fn patch_project(&self, project: i64, body: Value) -> Value {
        let request = format!("PATCH /api/projects/{project}/");
        self.expect(200, &request, Some(body)).await
    }

    /// Runs the data manager's `action` (`delete_tasks`, ...) on `project` as the admin with
    /// `body` (`{"selectedItems": ...}`), which must answer `status`; the answer.
    pub async fn dm_action(&self, status: u16, action: &str, project: i64, body: Value) -> Value {
        let request = format!("POST /api/dm/actions?id={action}&project={project}");
        self.expect(status, &request, Some(body)).await
    }

    /// DELETE `path` answers 204; then GET `path` answers 404.
    pub async fn assert_deleted(&self, path: &str) {
        let (status, body) = self.call("DELETE", path, None).await;
        assert_eq!(status, 204, "DELETE {path}: {body}");
        let (status, body) = self.call("GET", path, None).await;
        assert_eq!(status, 404, "GET {path} after DELETE: {body}");
    }

    pub async fn project(&self, title: &str) -> i64 {
        let config = r#"<View><Text name="text" value="$text"/><Choices name="label" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices></View>"#;
        let project = self
            .create(
                "/api/projects/",
                serde_json::json!({"title": title, "label_config": config}),
            )
            .await;
        project["id"].as_i64().expect("project id")
    }

    /// Creates a user with `role` (`OW`, `AD`, `MA`, `RE`, `AN`) in the first organization
    /// through the CLI; returns its token.
    pub fn member(&self, email: &str, role: &str) -> String {
        self.admin_token(&[
            "create-user",
            "--organization",
            "1",
            "--email",
            email,
            "--role",
            role,
        ])
    }

    /// Creates a second organization with its own user through the CLI; returns its token.
    pub fn other_organization(&self, email: &str) -> String {
        self.admin_token(&["create-organization", "--title", "other", "--email", email])
    }

    /// Runs `labelhook admin --db <this server's database> <args>`, which must succeed, and
    /// returns the last word it prints (the token of the user it creates).
    pub fn admin_token(&self, args: &[&str]) -> String {
        let output = Command::new(env!("CARGO_BIN_EXE_labelhook"))
            .args(["admin", "--db", &self.db_url])
            .args(args)
            .output()
            .expect("run labelhook admin");
        assert_succeeded(&output);
        let text = String::from_utf8_lossy(&output.stdout);
        text.split_whitespace().last().expect("token").to_string()
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Runs one SQL statement on the server's database, behind its back: to set up states
    /// the API cannot make (rows written by an older version, say). See [`Server::run_sql`].
    pub fn sql(&self, statement: &str) {
        self.run_sql(statement);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        // A PostgreSQL test database goes with its server.
        if self.owns_db
            && self.db_url.starts_with("postgres")
            && let Ok(admin) = std::env::var("LABELHOOK_TEST_DATABASE_URL")
        {
            drop_postgres_database(&admin, &self.db_url);
        }
    }
}

/// Drops the database at `db_url` (made by [`fresh_postgres_database`]), ending any
/// connection still open to it.
pub fn drop_postgres_database(admin_url: &str, db_url: &str) {
    let Some((_, name)) = db_url.rsplit_once('/') else {
        return;
    };
    let _ = Command::new("psql")
        .args([
            admin_url,
            "-q",
            "-c",
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn spawn(db_url: &str, env: &[(String, String)]) -> (Child, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_labelhook"));
    command
        .args(["serve", "--bind", "127.0.0.1:0", "--db", db_url])
        .env("LABELHOOK_ADMIN_TOKEN", TOKEN)
        .env("SSRF_PROTECTION_ENABLED", "false")
        .env("LABELHOOK_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("start labelhook");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if !sent && let Some(rest) = line.split("listening on ").nth(1) {
                let _ = tx.send(rest.trim().to_string());
                sent = true;
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("labelhook did not print its address within 60 s");
    (child, base)
}

/// With `LABELHOOK_TEST_DATABASE_URL=postgres://.../postgres`, each server gets its own
/// new database on that server.
pub fn fresh_postgres_database(admin_url: &str) -> String {
    let name = format!("labelhook_test_{}", uuid::Uuid::new_v4().simple());
    let status = Command::new("psql")
        .args([admin_url, "-q", "-c", &format!("CREATE DATABASE {name}")])
        .status()
        .expect("run psql");
    assert!(status.success(), "could not create test database");
    match admin_url.rfind('/') {
        Some(slash) => format!("{}/{name}", &admin_url[..slash]),
        None => panic!("LABELHOOK_TEST_DATABASE_URL needs a database path"),
    }
}

/// The ids of the objects in the JSON list `list`, in its order.
pub fn ids_of(list: &Value) -> Vec<i64> {
    let items = list
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"));
    items
        .iter()
        .map(|item| item["id"].as_i64().unwrap())
        .collect()
}

/// Panics unless `output` (of a command) says it succeeded; shows its stderr otherwise.
pub fn assert_succeeded(output: &std::process::Output) {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The data manager's selection of the tasks `ids`, as an action's body.
pub fn selected<T: serde::Serialize>(ids: &[T]) -> Value {
    serde_json::json!({"selectedItems": {"all": false, "included": ids}})
}

/// The result of choosing `label` in [`Server::project`]'s config.
pub fn choice(label: &str) -> Value {
    serde_json::json!([{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [label]}}])
}

/// A server and a project titled `title` (see [`Server::project`]).
pub async fn server_and_project(title: &str) -> (Server, i64) {
    let server = Server::start();
    let project = server.project(title).await;
    (server, project)
}

/// A server, a receiver on loopback and a project titled `title`: where most tests of
/// what reaches a receiver start.
pub async fn server_receiver_and_project(title: &str) -> (Server, Receiver, i64) {
    let server = Server::start();
    let receiver = Receiver::start().await;
    let project = server.project(title).await;
    (server, receiver, project)
}

/// One request a receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub raw: Vec<u8>,
    pub body: Value,
    pub at: Instant,
}

impl Received {
    pub fn action(&self) -> &str {
        self.body["action"].as_str().unwrap_or("")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }
}

/// How a receiver answers.
#[derive(Clone)]
pub enum Behaviour {
    /// Answer with this status.
    Status(u16),
    /// Never answer (until the client gives up).
    Hang,
    /// Answer with each status in turn, then 200.
    Script(Arc<Mutex<Vec<u16>>>),
    /// Answer with this status and these headers.
    WithHeaders(u16, Vec<(String, String)>),
    /// Answer 200 after this many milliseconds.
    Slow(u64),
}

#[derive(Clone)]
struct ReceiverState {
    got: Arc<Mutex<Vec<Received>>>,
    behaviour: Arc<Mutex<Behaviour>>,
}

/// An HTTP receiver on loopback that records every request.
pub struct Receiver {
    pub url: String,
    got: Arc<Mutex<Vec<Received>>>,
    behaviour: Arc<Mutex<Behaviour>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        Receiver::start_with(Behaviour::Status(200)).await
    }

    pub async fn start_with(behaviour: Behaviour) -> Receiver {
        let state = ReceiverState {
            got: Arc::new(Mutex::new(Vec::new())),
            behaviour: Arc::new(Mutex::new(behaviour)),
        };
        let app = axum::Router::new()
            .fallback(receive)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            url: format!("http://{address}"),
            got: state.got,
            behaviour: state.behaviour,
        }
    }

    pub fn set(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Requests whose body has this action.
    /// The requests of `action`, in the order the events happened: deliveries run in
    /// parallel and may arrive in any order, so this sorts by `labelhook-sequence`, as
    /// the spec tells receivers to.
    pub fn with_action(&self, action: &str) -> Vec<Received> {
        let mut found: Vec<Received> = self
            .received()
            .into_iter()
            .filter(|r| r.action() == action)
            .collect();
        found.sort_by_key(|r| {
            r.headers
                .get("labelhook-sequence")
                .and_then(|value| value.parse::<i64>().ok())
                .unwrap_or(i64::MAX)
        });
        found
    }

    /// Waits until `check` holds for what arrived, or panics after `seconds`.
    pub async fn wait_until(
        &self,
        seconds: u64,
        what: &str,
        check: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            let got = self.received();
            if check(&got) {
                return got;
            }
            if Instant::now() > deadline {
                let actions: Vec<&str> = got.iter().map(Received::action).collect();
                panic!("timed out after {seconds} s waiting for {what}; received {actions:?}");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits for `count` requests with `action`.
    pub async fn wait_for(&self, action: &str, count: usize) -> Vec<Received> {
        self.wait_until(20, &format!("{count} × {action}"), |got| {
            got.iter().filter(|r| r.action() == action).count() >= count
        })
        .await;
        self.with_action(action)
    }
}

async fn receive(
    State(state): State<ReceiverState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let received = Received {
        path: uri.path().to_string(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        raw: body.to_vec(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        at: Instant::now(),
    };
    state.got.lock().unwrap().push(received);
    let behaviour = state.behaviour.lock().unwrap().clone();
    let mut extra = HeaderMap::new();
    let status = match behaviour {
        Behaviour::Status(code) => code,
        Behaviour::WithHeaders(code, headers) => {
            for (name, value) in headers {
                if let (Ok(name), Ok(value)) = (
                    axum::http::HeaderName::from_bytes(name.as_bytes()),
                    value.parse(),
                ) {
                    extra.insert(name, value);
                }
            }
            code
        }
        Behaviour::Slow(ms) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            200
        }
        Behaviour::Hang => {
            std::future::pending::<()>().await;
            200
        }
        Behaviour::Script(codes) => {
            let mut codes = codes.lock().unwrap();
            if codes.is_empty() {
                200
            } else {
                codes.remove(0)
            }
        }
    };
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        extra,
        "received",
    )
}

/// Polls `check` until it returns Some, or panics after `seconds`.
pub async fn eventually<T, F, Fut>(seconds: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {seconds} s waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Loads a recorded Label Studio file from ../shared/reference/label-studio-1.23.2/.
pub fn reference(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/reference/label-studio-1.23.2")
        .join(name);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("reference JSON")
}

/// Panics unless `actual` has the same keys and JSON types as `expected`, recursively
/// (for arrays, the first elements are compared when both have one). `null` in the
/// reference accepts any type (Label Studio sends null for unset optional fields); `null`
/// here where the reference has a value is a difference.
pub fn assert_same_shape(expected: &Value, actual: &Value) {
    let mut problems = Vec::new();
    shape_diff("$", expected, actual, &mut problems);
    assert!(
        problems.is_empty(),
        "shape differs from the reference:\n{}",
        problems.join("\n")
    );
}

/// Like [`assert_same_shape`], but `actual` may carry extra top-level keys (labelhook's own
/// fields beside Label Studio's).
pub fn assert_shape_with_extras(expected: &Value, actual: &Value) {
    let mut problems = Vec::new();
    shape_diff("$", expected, actual, &mut problems);
    problems.retain(|p| !(p.ends_with("not in the reference") && p.matches('.').count() == 1));
    assert!(
        problems.is_empty(),
        "shape differs from the reference:\n{}",
        problems.join("\n")
    );
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn shape_diff(path: &str, expected: &Value, actual: &Value, problems: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Null, _) => {}
        (Value::Object(e), Value::Object(a)) => {
            for key in e.keys() {
                if !a.contains_key(key) {
                    problems.push(format!("{path}.{key}: missing"));
                }
            }
            for key in a.keys() {
                if !e.contains_key(key) {
                    problems.push(format!("{path}.{key}: not in the reference"));
                }
            }
            for (key, ev) in e {
                if let Some(av) = a.get(key) {
                    shape_diff(&format!("{path}.{key}"), ev, av, problems);
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if let (Some(ef), Some(af)) = (e.first(), a.first()) {
                shape_diff(&format!("{path}[0]"), ef, af, problems);
            }
        }
        (Value::Number(_), Value::Number(_)) => {
            // An integer where Label Studio sent a float (or back) is a type change.
            if type_name(expected) != type_name(actual) {
                problems.push(format!(
                    "{path}: {} in the reference, {} here",
                    type_name(expected),
                    type_name(actual)
                ));
            }
        }
        _ => {
            if type_name(expected) != type_name(actual) {
                problems.push(format!(
                    "{path}: {} in the reference, {} here",
                    type_name(expected),
                    type_name(actual)
                ));
            }
        }
    }
}
