//! ML backends (`/api/ml/`): a model server attached to a project. Each one gets a project
//! webhook to `<url>/webhook` (send payload, all actions), as Label Studio does, so models
//! built on `label-studio-ml` receive annotation events; `train` sends START_TRAINING there
//! through the same outbox.

use std::sync::OnceLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::projects;
use crate::delivery::ssrf::Guard;
use crate::events::{self, Action};
use crate::shared::{Actor, Error, Patch, Pk, ReadOnly, Result};
use crate::store::{self, Conn, Query, Row};
use crate::store::{flag, time};

#[derive(Debug, Clone)]
pub struct MlBackend {
    pub id: i64,
    pub project_id: i64,
    pub url: String,
    pub title: String,
    pub description: String,
    pub is_interactive: bool,
    pub timeout: f64,
    pub auth_method: String,
    pub basic_auth_user: Option<String>,
    pub basic_auth_pass_is_set: bool,
    pub extra_params: Value,
    pub model_version: String,
    /// Who attached it and who last changed it (user ids; `None` for rows older than the
    /// audit).
    pub created_by: Option<i64>,
    pub updated_by: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const SELECT: &str = "SELECT m.id, m.project_id, m.url, m.title, m.description, m.is_interactive, \
    m.timeout, m.auth_method, m.basic_auth_user, m.basic_auth_pass, m.extra_params, m.model_version, \
    m.created_by, m.updated_by, m.created_at, m.updated_at FROM ml_backends m JOIN projects p ON p.id = m.project_id";

fn from_row(row: &Row) -> store::Result<MlBackend> {
    let pass: Option<String> = row.try_get("basic_auth_pass")?;
    Ok(MlBackend {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        url: row.try_get("url")?,
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        is_interactive: row.try_get::<i64, _>("is_interactive")? != 0,
        timeout: row.try_get("timeout")?,
        auth_method: row.try_get("auth_method")?,
        basic_auth_user: row.try_get("basic_auth_user")?,
        basic_auth_pass_is_set: pass.is_some_and(|p| !p.is_empty()),
        extra_params: super::stored_json(row.try_get("extra_params")?),
        model_version: row.try_get("model_version")?,
        created_by: row.try_get("created_by")?,
        updated_by: row.try_get("updated_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl MlBackend {
    /// The backend as Label Studio's API shows it. labelhook does not probe the model
    /// server, so its state is reported as disconnected ("DI") rather than guessed.
    pub fn api(&self) -> MlBackendView {
        MlBackendView {
            id: self.id,
            state: "DI",
            readable_state: "Disconnected",
            is_interactive: self.is_interactive,
            url: self.url.clone(),
            error_message: None,
            title: self.title.clone(),
            auth_method: self.auth_method.clone(),
            basic_auth_user: self.basic_auth_user.clone(),
            basic_auth_pass_is_set: self.basic_auth_pass_is_set,
            description: self.description.clone(),
            extra_params: self.extra_params.clone(),
            model_version: self.model_version.clone(),
            timeout: self.timeout,
            created_at: time::render(self.created_at),
            updated_at: time::render(self.updated_at),
            auto_update: true,
            project: self.project_id,
            created_by: self.created_by,
            updated_by: self.updated_by,
        }
    }
}

/// An ML backend attached to a project, as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = MlBackend)]
pub struct MlBackendView {
    pub id: i64,
    /// Always `DI`.
    pub state: &'static str,
    pub readable_state: &'static str,
    pub is_interactive: bool,
    pub url: String,
    /// Always `null`.
    #[schema(required = true)]
    pub error_message: Option<String>,
    pub title: String,
    pub auth_method: String,
    #[schema(required = true)]
    pub basic_auth_user: Option<String>,
    pub basic_auth_pass_is_set: bool,
    pub description: String,
    #[schema(value_type = Object)]
    pub extra_params: Value,
    pub model_version: String,
    /// Seconds.
    pub timeout: f64,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    pub auto_update: bool,
    pub project: i64,
    /// labelhook: who made it and who last changed it (user ids; `null` when unknown).
    #[schema(required = true)]
    pub created_by: Option<i64>,
    #[schema(required = true)]
    pub updated_by: Option<i64>,
}

/// Where Label Studio ML backends receive events.
fn webhook_url(url: &str) -> String {
    format!("{}/webhook", url.trim_end_matches('/'))
}

pub async fn get(conn: &mut Conn, actor: &Actor, id: i64) -> Result<MlBackend> {
    let sql = format!("{SELECT} WHERE m.id = $1 AND p.organization_id = $2");
    store::query(&sql)
        .bind(id)
        .bind(actor.organization_id)
        .fetch_found(&mut *conn, "ML backend", from_row)
        .await
}

pub async fn list(conn: &mut Conn, actor: &Actor, project: Option<i64>) -> Result<Vec<MlBackend>> {
    let sql = format!(
        "{SELECT} WHERE p.organization_id = $1 AND ($2 = 0 OR m.project_id = $2) ORDER BY m.id"
    );
    let rows = store::query(&sql)
        .bind(actor.organization_id)
        .bind(project.unwrap_or(0))
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.iter().map(from_row).collect::<store::Result<_>>()?)
}

struct Fields {
    url: String,
    title: String,
    description: String,
    is_interactive: bool,
    timeout: f64,
    auth_method: String,
    basic_auth_user: Option<String>,
    basic_auth_pass: Option<String>,
    extra_params: Value,
}

impl Fields {
    /// `query` with the fields bound to `$1` … `$9` in the order they are declared, then
    /// the time (`$10`) and the acting user (`$11`): who changed the backend, when.
    fn bind<'q>(&self, query: Query<'q>, now: i64, actor: &Actor) -> Query<'q> {
        query
            .bind(&self.url)
            .bind(&self.title)
            .bind(&self.description)
            .bind(flag(self.is_interactive))
            .bind(self.timeout)
            .bind(&self.auth_method)
            .bind(&self.basic_auth_user)
            .bind(&self.basic_auth_pass)
            .bind(self.extra_params.to_string())
            .bind(now)
            .bind(actor.user_id)
    }
}

/// An ML backend as a client sends it: `POST /api/ml/` (`MlBackendInput`) and
/// `PATCH`/`PUT /api/ml/{id}` (`MlBackendInput<ReadOnly>`: the project is fixed). Keys sent
/// change; `null` clears a text field to its default.
/// (One schema in the OpenAPI document for both.)
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(bound = "")]
#[schema(example = json!({"project": 1, "url": "https://ml.example.com", "title": "model"}))]
pub struct MlBackendInput<P = Option<Pk>> {
    /// The project's id; required on create, fixed after it (ignored in an update).
    #[serde(default)]
    #[schema(value_type = i64)]
    pub project: P,
    /// The model server; events go to `<url>/webhook`. Required on create.
    #[serde(default)]
    #[schema(value_type = String, max_length = 2048, format = "uri")]
    pub url: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub title: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: Patch<String>,
    #[serde(default)]
    #[schema(value_type = bool)]
    pub is_interactive: Patch<bool>,
    /// Seconds.
    #[serde(default)]
    #[schema(value_type = Option<f64>, exclusive_minimum = 0)]
    pub timeout: Patch<f64>,
    #[serde(default)]
    #[schema(value_type = Option<AuthMethod>)]
    pub auth_method: Patch<AuthMethod>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub basic_auth_user: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, write_only)]
    pub basic_auth_pass: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub extra_params: Patch<Map<String, Value>>,
}

/// How the backend's server is authenticated (`auth_method`).
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuthMethod {
    None,
    BasicAuth,
}

impl AuthMethod {
    fn as_str(self) -> &'static str {
        match self {
            AuthMethod::None => "NONE",
            AuthMethod::BasicAuth => "BASIC_AUTH",
        }
    }
}

fn apply<P>(base: Option<&MlBackend>, input: MlBackendInput<P>) -> Result<Fields> {
    // A text field: the value sent, the current one when absent, none when `null`.
    let text = |sent: Patch<String>, current: Option<&str>| match sent {
        Patch::Absent => current.map(str::to_string),
        Patch::Null => None,
        Patch::Value(text) => Some(text),
    };
    let url = text(input.url, base.map(|b| b.url.as_str()))
        .ok_or_else(|| Error::invalid("url", "This field is required."))?;
    crate::delivery::ssrf::validate_url(&url)?;
    let auth_method = match input.auth_method {
        Patch::Absent => base.map_or("NONE", |b| b.auth_method.as_str()).to_string(),
        Patch::Null => "NONE".to_string(),
        Patch::Value(method) => method.as_str().to_string(),
    };
    let is_interactive = match input.is_interactive {
        Patch::Absent => base.is_some_and(|b| b.is_interactive),
        Patch::Null => {
            return Err(Error::invalid(
                "is_interactive",
                "This field may not be null.",
            ));
        }
        Patch::Value(b) => b,
    };
    let timeout = match input.timeout {
        Patch::Absent | Patch::Null => base.map_or(100.0, |b| b.timeout),
        Patch::Value(t) if t.is_finite() && t > 0.0 => t,
        Patch::Value(_) => {
            return Err(Error::invalid(
                "timeout",
                "A valid positive number is required.",
            ));
        }
    };
    let extra_params = match input.extra_params {
        Patch::Absent => base.map_or(json!({}), |b| b.extra_params.clone()),
        Patch::Null => json!({}),
        Patch::Value(params) => Value::Object(params),
    };
    Ok(Fields {
        url,
        title: text(input.title, base.map(|b| b.title.as_str()))
            .unwrap_or_else(|| "default".into()),
        description: text(input.description, base.map(|b| b.description.as_str()))
            .unwrap_or_default(),
        is_interactive,
        timeout,
        auth_method,
        basic_auth_user: text(
            input.basic_auth_user,
            base.and_then(|b| b.basic_auth_user.as_deref()),
        ),
        basic_auth_pass: text(input.basic_auth_pass, None),
        extra_params,
    })
}

/// Creates the project webhook `<url>/webhook` unless the project already has one there.
async fn ensure_webhook(
    tx: &mut Conn,
    organization_id: i64,
    project_id: i64,
    url: &str,
) -> Result<i64> {
    let target = webhook_url(url);
    let existing: Option<i64> = store::query_scalar(
        "SELECT id FROM webhooks WHERE project_id = $1 AND url = $2 ORDER BY id LIMIT 1",
    )
    .bind(project_id)
    .bind(&target)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(id) = existing {
        return Ok(id);
    }
    let now = time::now();
    Ok(store::query_scalar(
        "INSERT INTO webhooks (organization_id, project_id, url, send_payload, send_for_all_actions, \
         headers, actions, is_active, secret, created_at, updated_at) \
         VALUES ($1, $2, $3, 1, 1, '{}', '[]', 1, $4, $5, $5) RETURNING id",
    )
    .bind(organization_id)
    .bind(project_id)
    .bind(&target)
    .bind(crate::delivery::secret::generate())
    .bind(now)
    .fetch_one(&mut *tx)
    .await?)
}

/// Removes the backend's webhook unless another backend of the project still uses the URL.
async fn release_webhook(tx: &mut Conn, project_id: i64, url: &str) -> Result<()> {
    let others: i64 =
        store::query_scalar("SELECT COUNT(*) FROM ml_backends WHERE project_id = $1 AND url = $2")
            .bind(project_id)
            .bind(url)
            .fetch_one(&mut *tx)
            .await?;
    if others == 0 {
        store::query("DELETE FROM webhooks WHERE project_id = $1 AND url = $2")
            .bind(project_id)
            .bind(webhook_url(url))
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

pub async fn create(tx: &mut Conn, actor: &Actor, input: MlBackendInput) -> Result<MlBackend> {
    let Some(Pk(project_id)) = input.project else {
        return Err(Error::invalid("project", "This field is required."));
    };
    let project = projects::get(tx, actor, project_id).await?;
    let fields = apply(None, input)?;
    let insert = store::query(
        "INSERT INTO ml_backends (url, title, description, is_interactive, timeout, auth_method, \
         basic_auth_user, basic_auth_pass, extra_params, created_at, updated_at, created_by, updated_by, \
         project_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $11, $12) RETURNING id",
    );
    let id: i64 = fields
        .bind(insert, time::now(), actor)
        .bind(project.id)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
    ensure_webhook(tx, project.organization_id, project.id, &fields.url).await?;
    get(tx, actor, id).await
}

pub async fn update(
    tx: &mut Conn,
    actor: &Actor,
    id: i64,
    input: MlBackendInput<ReadOnly>,
) -> Result<MlBackend> {
    let current = get(tx, actor, id).await?;
    let fields = apply(Some(&current), input)?;
    let change = store::query(
        "UPDATE ml_backends SET url = $1, title = $2, description = $3, is_interactive = $4, timeout = $5, \
         auth_method = $6, basic_auth_user = $7, basic_auth_pass = COALESCE($8, basic_auth_pass), \
         extra_params = $9, updated_at = $10, updated_by = $11 WHERE id = $12",
    );
    fields
        .bind(change, time::now(), actor)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if fields.url != current.url {
        let project = projects::get_unchecked(tx, current.project_id).await?;
        release_webhook(tx, current.project_id, &current.url).await?;
        ensure_webhook(tx, project.organization_id, project.id, &fields.url).await?;
    }
    get(tx, actor, id).await
}

pub async fn delete(tx: &mut Conn, actor: &Actor, id: i64) -> Result<()> {
    let backend = get(tx, actor, id).await?;
    store::query("DELETE FROM ml_backends WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    release_webhook(tx, backend.project_id, &backend.url).await
}

/// Queues START_TRAINING (`{"action", "project"}`) to the backend's `/webhook`.
pub async fn train(tx: &mut Conn, actor: &Actor, id: i64) -> Result<()> {
    let backend = get(tx, actor, id).await?;
    let project = projects::get_unchecked(tx, backend.project_id).await?;
    send_start_training(tx, &project, &backend.url).await
}

async fn send_start_training(tx: &mut Conn, project: &projects::Project, url: &str) -> Result<()> {
    let webhook_id = ensure_webhook(tx, project.organization_id, project.id, url).await?;
    let body = events::body([("project", project.snapshot())]);
    events::emit_to(tx, project.scope(), Action::StartTraining, body, webhook_id).await?;
    Ok(())
}

async fn backend_urls(tx: &mut Conn, project_id: i64) -> Result<Vec<String>> {
    Ok(store::query_scalar(
        "SELECT DISTINCT url FROM ml_backends WHERE project_id = $1 ORDER BY url",
    )
    .bind(project_id)
    .fetch_all(&mut *tx)
    .await?)
}

/// Training on a threshold: counts `new` non-skipped annotations of the project and, each
/// time `min_annotations_to_start_training` (> 0) of them have accumulated, sends
/// START_TRAINING to every ML backend of the project (with none attached, the count still
/// starts over, so attaching a backend does not trigger training at once).
pub async fn count_new_annotations(
    tx: &mut Conn,
    project: &projects::Project,
    new: i64,
) -> Result<()> {
    let project_id = project.id;
    let threshold = project.settings.min_annotations_to_start_training;
    if new <= 0 || threshold <= 0 {
        return Ok(());
    }
    let count: i64 = store::query_scalar(
        "UPDATE projects SET annotations_since_training = annotations_since_training + $1 \
         WHERE id = $2 RETURNING annotations_since_training",
    )
    .bind(new)
    .bind(project_id)
    .fetch_one(&mut *tx)
    .await?;
    if count < threshold {
        return Ok(());
    }
    // The threshold was reached: train once, and keep what is beyond it for the next round
    // (a bulk import of 5 with a threshold of 2 trains once and carries 1).
    store::query("UPDATE projects SET annotations_since_training = $1 WHERE id = $2")
        .bind(count % threshold)
        .bind(project_id)
        .execute(&mut *tx)
        .await?;
    for url in backend_urls(tx, project_id).await? {
        send_start_training(tx, project, &url).await?;
    }
    Ok(())
}

/// `start_training_on_annotation_update`: an updated annotation also starts training.
pub async fn annotation_updated(tx: &mut Conn, project: &projects::Project) -> Result<()> {
    if !project.settings.start_training_on_annotation_update {
        return Ok(());
    }
    for url in backend_urls(tx, project.id).await? {
        send_start_training(tx, project, &url).await?;
    }
    Ok(())
}

/// The backend to ask for a prediction of `task` as it opens for labeling, and its basic
/// auth password, if Label Studio would ask one (`TaskAPI.get`): the task has no
/// predictions, the project uses predictions (`evaluate_predictions_automatically` or
/// `show_collab_predictions`) and has a backend (the first one, as `project.ml_backend`).
pub async fn to_ask_on_open(
    conn: &mut Conn,
    project: &projects::Project,
    task: &super::tasks::Task,
) -> Result<Option<(MlBackend, Option<String>)>> {
    let s = &project.settings;
    if task.total_predictions > 0
        || !(s.evaluate_predictions_automatically || s.show_collab_predictions)
    {
        return Ok(None);
    }
    let sql = format!("{SELECT} WHERE m.project_id = $1 ORDER BY m.id LIMIT 1");
    let Some(row) = store::query(&sql)
        .bind(project.id)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let pass: Option<String> = row.try_get("basic_auth_pass")?;
    Ok(Some((from_row(&row)?, pass)))
}

/// One HTTP client for every predict request: no redirects (one could lead past the SSRF
/// guard), no environment proxies, names resolved by the guard's resolver.
fn client(guard: &Guard) -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(guard.resolver())
            .build()
            .unwrap_or_else(|_| reqwest::Client::new())
    })
}

/// Asks `backend` to predict `task` (`POST <url>/predict`, Label Studio's request:
/// `{tasks, project: "<id>.<created at>", label_config, params: {login, password,
/// context}}`) within `timeout`, and returns the predictions its answer holds
/// (`{"results": [{result, score, model_version}, ...]}`), ready for
/// `predictions::create`. The error is a sentence for the labeling page and the log.
pub async fn predict(
    guard: &Guard,
    (backend, pass): &(MlBackend, Option<String>),
    project: &projects::Project,
    task: &super::tasks::Task,
    timeout: Duration,
) -> std::result::Result<Vec<Value>, String> {
    let url = format!("{}/predict", backend.url.trim_end_matches('/'));
    if guard.enabled() {
        let parsed = reqwest::Url::parse(&url).map_err(|_| format!("{url} is not a valid URL"))?;
        guard
            .check_url(&parsed)
            .await
            .map_err(|blocked| blocked.0)?;
    }
    let mut serialized = serde_json::to_value(task.api()).unwrap_or_else(|_| json!({}));
    if let Value::Object(fields) = &mut serialized {
        fields.insert("annotations".into(), json!([]));
        fields.insert("predictions".into(), json!([]));
    }
    let body = json!({
        "tasks": [serialized],
        "project": format!("{}.{}", project.id, project.created_at / 1_000_000),
        "label_config": project.label_config,
        "params": {
            "login": project.settings.task_data_login,
            "password": project.settings.task_data_password,
            "context": null,
        },
    });
    let mut request = client(guard).post(&url).timeout(timeout).json(&body);
    if backend.auth_method == "BASIC_AUTH" {
        request = request.basic_auth(
            backend.basic_auth_user.clone().unwrap_or_default(),
            pass.clone(),
        );
    }
    let response = request.send().await.map_err(|error| {
        if error.is_timeout() {
            format!("{url} did not answer within {:.1} s", timeout.as_secs_f64())
        } else {
            format!("{url} could not be reached ({})", root_cause(&error))
        }
    })?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("{url} answered HTTP {}", status.as_u16()));
    }
    let answer: Value = response
        .json()
        .await
        .map_err(|_| format!("{url} answered something other than JSON"))?;
    let Some(results) = answer
        .get("results")
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty())
    else {
        return Err(format!("{url} answered without a list of results"));
    };
    // One task was sent: its answer is one prediction or a list of them.
    let items = match &results[0] {
        Value::Array(many) => many.clone(),
        one => vec![one.clone()],
    };
    let predictions: Vec<Value> = items
        .into_iter()
        .filter_map(|item| {
            let result = item.get("result")?.clone();
            Some(json!({
                "task": task.id,
                "result": result,
                "score": item.get("score").cloned().unwrap_or(Value::Null),
                "model_version": item
                    .get("model_version")
                    .cloned()
                    .filter(|v| v.is_string())
                    .unwrap_or_else(|| json!(backend.model_version)),
            }))
        })
        .collect();
    if predictions.is_empty() {
        return Err(format!("{url} answered results without a `result`"));
    }
    Ok(predictions)
}

fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
