//! Webhook configuration: the Label Studio object, its validation rules (SPEC section 4),
//! secrets, and switching on and off (which releases or holds deliveries).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::delivery::{breaker, job, labelbox, secret, ssrf};
use crate::events::filter::Filter;
use crate::events::{Action, custom};
use crate::labeling::projects;
use crate::shared::{Actor, Error, Patch, Pk, ReadOnly, Result};
use crate::store::{self, Conn, Row};
use crate::store::{flag, time};

pub mod log;

const MAX_HEADERS: usize = 10;
/// Headers labelhook sets itself; a webhook may not override them.
const RESERVED_HEADERS: &[&str] = &[
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "labelhook-sequence",
    "content-length",
    "host",
    "transfer-encoding",
    "x-hub-signature",
    "x-hub-signature-256",
    "x-labelbox-id",
    "x-labelbox-event",
];

#[derive(Debug, Clone)]
pub struct Webhook {
    pub id: i64,
    pub organization_id: i64,
    pub project_id: Option<i64>,
    pub url: String,
    pub send_payload: bool,
    pub send_for_all_actions: bool,
    pub headers: Map<String, Value>,
    pub actions: Vec<String>,
    pub is_active: bool,
    pub disabled_reason: Option<String>,
    pub consecutive_failures: i64,
    pub secret: String,
    pub previous_secret_expires_at: Option<i64>,
    pub hub_signature: bool,
    pub format: WebhookFormat,
    /// A Labelbox-format webhook's topics.
    pub topics: Vec<String>,
    /// Its conditions on event bodies (`events::filter`), as a client sends them.
    pub filter: Option<Value>,
    pub last_success_at: Option<i64>,
    pub last_failure_at: Option<i64>,
    /// Since when it fails without a success (`None`: its last attempt succeeded).
    pub failing_since: Option<i64>,
    /// When its breaker opened (`None`: closed).
    pub breaker_opened_at: Option<i64>,
    /// When the open breaker sends its next probe; while one is under way, when the
    /// breaker would probe again if its outcome were never written (not shown).
    pub next_probe_at: Option<i64>,
    /// The delivery sent as a probe, while it is under way.
    pub probe_delivery_id: Option<i64>,
    /// The cause of its last failure.
    pub last_error: Option<String>,
    /// Deliveries waiting to be sent (filled by [`with_stats`]).
    pub pending_deliveries: i64,
    /// Deliveries kept while the webhook is off (filled by [`with_stats`]).
    pub held_deliveries: i64,
    /// Who made it and who last changed it (user ids; `None` for rows older than the
    /// audit, and for the webhooks made for ML backends before it).
    pub created_by: Option<i64>,
    pub updated_by: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const SELECT: &str = "SELECT id, organization_id, project_id, url, send_payload, \
    send_for_all_actions, headers, actions, is_active, disabled_reason, consecutive_failures, \
    secret, previous_secret_expires_at, hub_signature, last_success_at, last_failure_at, \
    failing_since, breaker_opened_at, next_probe_at, probe_delivery_id, last_error, created_at, \
    updated_at, format, topics, event_filter, created_by, updated_by FROM webhooks";

fn from_row(row: &Row) -> store::Result<Webhook> {
    let headers: String = row.try_get("headers")?;
    let actions: String = row.try_get("actions")?;
    Ok(Webhook {
        id: row.try_get("id")?,
        organization_id: row.try_get("organization_id")?,
        project_id: row.try_get("project_id")?,
        url: row.try_get("url")?,
        send_payload: row.try_get::<i64, _>("send_payload")? != 0,
        send_for_all_actions: row.try_get::<i64, _>("send_for_all_actions")? != 0,
        headers: serde_json::from_str(&headers).unwrap_or_default(),
        actions: serde_json::from_str(&actions).unwrap_or_default(),
        is_active: row.try_get::<i64, _>("is_active")? != 0,
        disabled_reason: row.try_get("disabled_reason")?,
        consecutive_failures: row.try_get("consecutive_failures")?,
        secret: row.try_get("secret")?,
        previous_secret_expires_at: row.try_get("previous_secret_expires_at")?,
        hub_signature: row.try_get::<i64, _>("hub_signature")? != 0,
        format: if row.try_get::<String, _>("format")? == job::LABELBOX {
            WebhookFormat::Labelbox
        } else {
            WebhookFormat::LabelStudio
        },
        topics: serde_json::from_str(&row.try_get::<String, _>("topics")?).unwrap_or_default(),
        filter: row
            .try_get::<Option<String>, _>("event_filter")?
            .and_then(|text| serde_json::from_str(&text).ok()),
        last_success_at: row.try_get("last_success_at")?,
        last_failure_at: row.try_get("last_failure_at")?,
        failing_since: row.try_get("failing_since")?,
        breaker_opened_at: row.try_get("breaker_opened_at")?,
        next_probe_at: row.try_get("next_probe_at")?,
        probe_delivery_id: row.try_get("probe_delivery_id")?,
        last_error: row.try_get("last_error")?,
        pending_deliveries: 0,
        held_deliveries: 0,
        created_by: row.try_get("created_by")?,
        updated_by: row.try_get("updated_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Webhook {
    /// The webhook as the API returns it: Label Studio's keys, then labelhook's.
    pub fn api(&self) -> WebhookView {
        WebhookView {
            id: self.id,
            organization: self.organization_id,
            project: self.project_id,
            url: self.url.clone(),
            send_payload: self.send_payload,
            send_for_all_actions: self.send_for_all_actions,
            headers: self.headers.clone(),
            is_active: self.is_active,
            consecutive_failures: self.consecutive_failures,
            actions: self.actions.clone(),
            created_at: time::render(self.created_at),
            updated_at: time::render(self.updated_at),
            disabled_reason: self.disabled_reason.clone(),
            hub_signature: self.hub_signature,
            format: self.format,
            topics: self.topics.clone(),
            filter: self.filter.clone(),
            delivery_stats: DeliveryStats {
                pending: self.pending_deliveries,
                held: self.held_deliveries,
                last_success_at: time::render_opt(self.last_success_at),
                last_failure_at: time::render_opt(self.last_failure_at),
                breaker: if self.breaker_opened_at.is_some() {
                    BreakerState::Open
                } else {
                    BreakerState::Closed
                },
                breaker_opened_at: time::render_opt(self.breaker_opened_at),
                next_probe_at: time::render_opt(
                    self.next_probe_at
                        .filter(|_| self.probe_delivery_id.is_none()),
                ),
                probing: self.breaker_opened_at.is_some() && self.probe_delivery_id.is_some(),
                failing_since: time::render_opt(self.failing_since),
                last_error: self
                    .last_error
                    .clone()
                    .filter(|_| self.failing_since.is_some()),
            },
            created_by: self.created_by,
            updated_by: self.updated_by,
        }
    }
}

/// A webhook as the API shows it: Label Studio's keys, then labelhook's
/// (`consecutive_failures`, `disabled_reason`, `hub_signature`, `delivery_stats`, ...).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Webhook)]
pub struct WebhookView {
    pub id: i64,
    pub organization: i64,
    /// `null` for an organization-level webhook.
    #[schema(required = true)]
    pub project: Option<i64>,
    pub url: String,
    pub send_payload: bool,
    pub send_for_all_actions: bool,
    /// Extra headers sent with every delivery.
    #[schema(value_type = BTreeMap<String, String>)]
    pub headers: Map<String, Value>,
    pub is_active: bool,
    /// Failed deliveries in a row (reset by a success).
    pub consecutive_failures: i64,
    pub actions: Vec<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// Why labelhook switched the webhook off, if it did.
    #[schema(required = true)]
    pub disabled_reason: Option<String>,
    /// Also sign with `X-Hub-Signature-256` (HMAC-SHA256 of the body).
    pub hub_signature: bool,
    /// What its requests look like: Label Studio's (Standard Webhooks signatures) or
    /// Labelbox's (`X-Hub-Signature`, `X-Labelbox-Event`, Labelbox's bodies).
    pub format: WebhookFormat,
    /// A Labelbox-format webhook's topics (empty for Label Studio's format).
    pub topics: Vec<String>,
    /// Conditions on the event body that must all hold for an event to be sent
    /// (`null`: every event of its actions). See docs/delivery.md.
    #[schema(required = true, value_type = Option<Vec<Object>>)]
    pub filter: Option<Value>,
    pub delivery_stats: DeliveryStats,
    /// labelhook: who made it and who last changed it (user ids; `null` when unknown).
    #[schema(required = true)]
    pub created_by: Option<i64>,
    #[schema(required = true)]
    pub updated_by: Option<i64>,
}

/// The requests a webhook sends; fixed at creation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    #[default]
    LabelStudio,
    Labelbox,
}

impl WebhookFormat {
    fn as_str(self) -> &'static str {
        match self {
            WebhookFormat::LabelStudio => "label_studio",
            WebhookFormat::Labelbox => job::LABELBOX,
        }
    }
}

/// A Labelbox topic (`labelbox::TOPICS`); anything else is `"X" is not a valid choice.`.
#[derive(Debug, Clone)]
pub struct TopicName(pub &'static str);

impl utoipa::PartialSchema for TopicName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .enum_values(Some(labelbox::TOPICS.iter().copied()))
            .into()
    }
}

impl ToSchema for TopicName {
    fn name() -> std::borrow::Cow<'static, str> {
        "LabelboxTopic".into()
    }
}

impl<'de> Deserialize<'de> for TopicName {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        labelbox::TOPICS
            .iter()
            .copied()
            .find(|topic| *topic == text)
            .map(TopicName)
            .ok_or_else(|| {
                serde::de::Error::custom(format_args!("\"{text}\" is not a valid choice."))
            })
    }
}

/// What labelhook knows about a webhook's deliveries.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryStats {
    /// Deliveries waiting to be sent.
    pub pending: i64,
    /// Deliveries kept while the breaker is open or the webhook is switched off after
    /// failures.
    pub held: i64,
    #[schema(required = true)]
    pub last_success_at: Option<String>,
    #[schema(required = true)]
    pub last_failure_at: Option<String>,
    /// `open`: the receiver kept failing, so deliveries are held and one probe at a time
    /// goes out; the first success sends everything at once.
    pub breaker: BreakerState,
    /// When the breaker opened (`null` while closed).
    #[schema(required = true)]
    pub breaker_opened_at: Option<String>,
    /// When the open breaker sends its next probe (`null` while closed, and while a
    /// probe is under way: the next one is set by its outcome).
    #[schema(required = true)]
    pub next_probe_at: Option<String>,
    /// A probe is under way (the breaker is open).
    pub probing: bool,
    /// Since when every attempt failed (`null` when the last one succeeded).
    #[schema(required = true)]
    pub failing_since: Option<String>,
    /// The cause of the last failure while failing (`null` otherwise).
    #[schema(required = true)]
    pub last_error: Option<String>,
}

/// A webhook's breaker.
#[derive(Debug, Clone, Copy, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BreakerState {
    Closed,
    Open,
}

/// The create response: the webhook and, this once, its signing secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookCreated {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// The Standard Webhooks signing secret (`whsec_...`).
    pub secret: String,
}

/// A webhook's signing secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookSecret {
    /// `whsec_...`.
    pub secret: String,
    /// Until when the previous secret still signs (after a rotation), or `null`.
    #[schema(required = true)]
    pub previous_secret_expires_at: Option<String>,
}

impl Webhook {
    /// The signing secret, and the previous one's end while it still signs.
    pub fn secret_view(&self) -> WebhookSecret {
        let expires = self
            .previous_secret_expires_at
            .filter(|at| *at > time::now());
        WebhookSecret {
            secret: self.secret.clone(),
            previous_secret_expires_at: time::render_opt(expires),
        }
    }
}

/// Fills the delivery counters and last results of the given webhooks (one snapshot).
pub async fn with_stats(conn: &mut Conn, webhooks: &mut [Webhook]) -> Result<()> {
    let ids: Vec<i64> = webhooks.iter().map(|w| w.id).collect();
    let stats = log::stats(conn, &ids).await?;
    for webhook in webhooks {
        if let Some(stats) = stats.get(&webhook.id) {
            webhook.pending_deliveries = stats.pending;
            webhook.held_deliveries = stats.held;
            webhook.last_success_at = stats.last_success_at;
            webhook.last_failure_at = stats.last_failure_at;
        }
    }
    Ok(())
}

/// Makes a new secret (`chosen`, or a random one); the previous one keeps signing for
/// `grace`, so receivers can switch without losing a delivery. Returns the webhook with
/// the new secret.
pub async fn rotate_secret(
    tx: &mut Conn,
    actor: &Actor,
    id: i64,
    grace: std::time::Duration,
    chosen: Option<ChosenSecret>,
) -> Result<Webhook> {
    let current = get(tx, actor, id).await?;
    let now = time::now();
    store::query(
        "UPDATE webhooks SET previous_secret = secret, previous_secret_expires_at = $1, secret = $2, \
         updated_at = $3 WHERE id = $4",
    )
    .bind(now + grace.as_micros() as i64)
    .bind(chosen.map_or_else(secret::generate, |c| c.0))
    .bind(now)
    .bind(current.id)
    .execute(&mut *tx)
    .await?;
    get(tx, actor, id).await
}

/// Settings that shape validation.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub allow_organization_webhooks: bool,
}

pub async fn get(conn: &mut Conn, actor: &Actor, id: i64) -> Result<Webhook> {
    let sql = format!("{SELECT} WHERE id = $1 AND organization_id = $2");
    store::query(&sql)
        .bind(id)
        .bind(actor.organization_id)
        .fetch_found(&mut *conn, "Webhook", from_row)
        .await
}

/// Which webhooks to list.
#[derive(Debug, Clone, Copy)]
pub enum ProjectFilter {
    All,
    /// Organization-level only (`?project=null`).
    OrganizationLevel,
    Project(i64),
}

pub async fn list(conn: &mut Conn, actor: &Actor, filter: ProjectFilter) -> Result<Vec<Webhook>> {
    let (condition, project) = match filter {
        ProjectFilter::All => ("", 0),
        ProjectFilter::OrganizationLevel => (" AND project_id IS NULL", 0),
        ProjectFilter::Project(id) => (" AND project_id = $2", id),
    };
    let sql = format!("{SELECT} WHERE organization_id = $1{condition} ORDER BY id");
    let mut query = store::query(&sql).bind(actor.organization_id);
    if let ProjectFilter::Project(_) = filter {
        query = query.bind(project);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    Ok(rows.iter().map(from_row).collect::<store::Result<_>>()?)
}

/// A webhook as a client sends it: `POST /api/webhooks/` (`WebhookInput`), and
/// `PATCH`/`PUT /api/webhooks/{id}/` (`WebhookInput<ReadOnly>`: `project` is read-only
/// after creation, so whatever is sent there is ignored, as Django REST framework ignores
/// a read-only field). Keys sent change; others are kept. Unknown keys are ignored.
/// (One schema in the OpenAPI document for both.)
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(bound = "")]
#[schema(example = json!({"url": "https://hooks.example.com/labeling", "project": 1, "send_for_all_actions": false, "actions": ["TASKS_CREATED", "ANNOTATION_CREATED"]}))]
pub struct WebhookInput<P = Patch<Pk>> {
    /// Required on create.
    #[serde(default)]
    #[schema(value_type = String, max_length = 2048, format = "uri")]
    pub url: Patch<String>,
    /// The project's id (a number or a string of digits); absent or `null` is
    /// organization-level (unless LABEL_STUDIO_ALLOW_ORGANIZATION_WEBHOOKS is false).
    /// Fixed at creation: ignored in an update.
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub project: P,
    #[serde(default)]
    #[schema(value_type = bool)]
    pub send_payload: Patch<bool>,
    #[serde(default)]
    #[schema(value_type = bool)]
    pub send_for_all_actions: Patch<bool>,
    /// Extra headers for every delivery: at most 10, names of letters, digits, `-` and
    /// `_`, string values (checked by `validate_headers`, which names the header at fault).
    #[serde(default)]
    #[schema(value_type = std::collections::BTreeMap<String, String>)]
    pub headers: Patch<Map<String, Value>>,
    /// The actions to send when `send_for_all_actions` is false.
    #[serde(default)]
    #[schema(value_type = Vec<ActionName>)]
    pub actions: Patch<Vec<ActionName>>,
    #[serde(default)]
    #[schema(value_type = bool)]
    pub is_active: Patch<bool>,
    #[serde(default)]
    #[schema(value_type = bool)]
    pub hub_signature: Patch<bool>,
    /// The signing secret, if the user chooses it (on create only; rotation changes it):
    /// at least 16 printable characters without spaces, `whsec_` + base64 or a plain
    /// secret signed with its own bytes. Absent or `null`: a random `whsec_` secret.
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 16, max_length = 256)]
    pub secret: Option<ChosenSecret>,
    /// `labelbox` for Labelbox's requests (then `topics`, not `actions`, and a `secret`
    /// are required); fixed at creation.
    #[serde(default)]
    #[schema(value_type = Option<WebhookFormat>)]
    pub format: Option<WebhookFormat>,
    /// A Labelbox-format webhook's topics (instead of `actions`).
    #[serde(default)]
    #[schema(value_type = Vec<TopicName>)]
    pub topics: Patch<Vec<TopicName>>,
    /// Conditions on the event body that must all hold for a delivery (at most 20):
    /// `{"path": "task.data.split", "equals": "train"}`, `{"path":
    /// "annotation.completed_by", "in": [1, 2]}`, `{"result_contains_label": "Cat"}`.
    /// `null` or `[]` removes the filter. Errors name the condition by its index.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub filter: Patch<Value>,
}

/// A signing secret a user chose (`secret::check_chosen`): shared with an existing
/// receiver, e.g. one written for Labelbox.
#[derive(Debug, Clone)]
pub struct ChosenSecret(pub String);

impl<'de> Deserialize<'de> for ChosenSecret {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        secret::check_chosen(&text).map_err(serde::de::Error::custom)?;
        Ok(ChosenSecret(text))
    }
}

/// An action id of the catalogue (`"TASKS_CREATED"`), or the name of a custom event type
/// (checked against the organization's registry by `check_custom_actions`); anything
/// else is `"X" is not a valid choice.`, at its index in the list.
#[derive(Debug, Clone)]
pub enum ActionName {
    Catalogue(&'static crate::events::ActionInfo),
    Custom(String),
}

/// In the OpenAPI document: the ids of `events::CATALOGUE`, or a custom type's name
/// (the organization registers its own: `^[A-Z][A-Z0-9_]*$`).
impl utoipa::PartialSchema for ActionName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::AnyOfBuilder;
        use utoipa::openapi::{ObjectBuilder, Type};
        let ids = crate::events::CATALOGUE.iter().map(|info| info.id);
        let catalogue = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(ids));
        let custom = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[A-Z][A-Z0-9_]*$"))
            .max_length(Some(crate::events::custom::MAX_NAME))
            .description(Some(
                "A custom event type registered with POST /api/webhooks/event-types/.",
            ));
        AnyOfBuilder::new()
            .item(catalogue)
            .item(custom)
            .description(Some(
                "An action of the catalogue (GET /api/webhooks/info/) or a registered custom \
                 event type's name.",
            ))
            .into()
    }
}

impl ToSchema for ActionName {
    fn name() -> std::borrow::Cow<'static, str> {
        "WebhookAction".into()
    }
}

impl<'de> Deserialize<'de> for ActionName {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let text = match &value {
            Value::String(text) => text.clone(),
            // Label Studio reads `1` as the choice "1".
            Value::Number(_) | Value::Bool(_) => value.to_string(),
            _ => {
                return Err(serde::de::Error::custom(format_args!(
                    "\"{value}\" is not a valid choice."
                )));
            }
        };
        match Action::from_id(&text) {
            Some(info) => Ok(ActionName::Catalogue(info)),
            None if custom::check_name(&text).is_ok() => Ok(ActionName::Custom(text)),
            None => Err(serde::de::Error::custom(format_args!(
                "\"{text}\" is not a valid choice."
            ))),
        }
    }
}

/// Validated fields of a create or update.
struct Fields {
    url: String,
    send_payload: bool,
    send_for_all_actions: bool,
    headers: Map<String, Value>,
    actions: Vec<String>,
    is_active: bool,
    hub_signature: bool,
    topics: Vec<String>,
    /// The filter as stored (`None`: none).
    filter: Option<String>,
}

/// A filter as sent: stored in its normalized form; errors nested by the condition's index
/// (`{"filter": {"1": [...]}}`).
fn validate_filter(value: &Value) -> std::result::Result<Option<String>, WebhookError> {
    if value.as_array().is_some_and(Vec::is_empty) {
        return Ok(None);
    }
    match Filter::parse(value) {
        Ok(filter) => Ok(Some(filter.to_value().to_string())),
        Err(problems) => {
            let mut by_index = Map::new();
            for (i, message) in problems {
                by_index.insert(i.to_string(), json!([message]));
            }
            let mut errors = Map::new();
            errors.insert("filter".into(), Value::Object(by_index));
            Err(WebhookError::Nested(errors))
        }
    }
}

/// A Labelbox-format webhook takes topics (and the events they are made from), never
/// `actions` or every action.
fn labelbox_subscription<P>(
    base: Option<&Webhook>,
    input: &WebhookInput<P>,
) -> Result<(Vec<String>, Vec<String>)> {
    if input.actions.value().is_some_and(|a| !a.is_empty()) {
        return Err(Error::invalid(
            "actions",
            "A Labelbox-format webhook takes topics, not actions.",
        ));
    }
    if input.send_for_all_actions.value() == Some(&true) {
        return Err(Error::invalid(
            "send_for_all_actions",
            "A Labelbox-format webhook sends only the topics it takes.",
        ));
    }
    let topics: Vec<String> = match &input.topics {
        Patch::Value(names) => {
            let mut topics: Vec<String> = Vec::new();
            for TopicName(name) in names {
                if !topics.iter().any(|t| t == name) {
                    topics.push(name.to_string());
                }
            }
            topics
        }
        _ => base.map(|w| w.topics.clone()).unwrap_or_default(),
    };
    if topics.is_empty() {
        return Err(Error::invalid(
            "topics",
            format!(
                "A Labelbox-format webhook needs at least one topic: {}.",
                labelbox::TOPICS.join(", ")
            ),
        ));
    }
    let mut actions: Vec<String> = Vec::new();
    for topic in &topics {
        for action in labelbox::actions_of(topic) {
            if !actions.iter().any(|a| a == action) {
                actions.push(action.to_string());
            }
        }
    }
    Ok((topics, actions))
}

fn validate_headers(headers: Map<String, Value>) -> Result<Map<String, Value>> {
    if headers.len() > MAX_HEADERS {
        return Err(Error::invalid(
            "headers",
            format!("At most {MAX_HEADERS} headers are allowed."),
        ));
    }
    for (name, value) in &headers {
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid_name {
            return Err(Error::invalid(
                "headers",
                format!("Header name {name:?} is invalid: use letters, digits, '-' and '_' only."),
            ));
        }
        if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(Error::invalid(
                "headers",
                format!("Header {name:?} is set by labelhook itself and cannot be overridden."),
            ));
        }
        let Value::String(text) = value else {
            return Err(Error::invalid(
                "headers",
                format!("The value of header {name:?} must be a string."),
            ));
        };
        if text.contains(['\r', '\n', '\0'])
            || reqwest::header::HeaderValue::from_str(text).is_err()
        {
            return Err(Error::invalid(
                "headers",
                format!(
                    "The value of header {name:?} contains characters not allowed in a header (such as a line break)."
                ),
            ));
        }
    }
    Ok(headers)
}

/// Organization-only actions need an organization-level webhook (the catalogue itself is
/// checked by `ActionName`). Errors name the list index, as Label Studio does.
fn validate_actions(
    names: Vec<ActionName>,
    project: Option<i64>,
) -> std::result::Result<Vec<String>, Map<String, Value>> {
    let mut actions: Vec<String> = Vec::new();
    let mut by_index = Map::new();
    for (i, name) in names.into_iter().enumerate() {
        let info = match name {
            ActionName::Catalogue(info) => info,
            ActionName::Custom(name) => {
                if !actions.contains(&name) {
                    actions.push(name);
                }
                continue;
            }
        };
        if info.organization_only && project.is_some() {
            by_index.insert(
                i.to_string(),
                json!([format!(
                    "\"{}\" is an organization-only action; it needs a webhook without a project.",
                    info.id
                )]),
            );
        } else if !actions.iter().any(|a| a == info.id) {
            actions.push(info.id.to_string());
        }
    }
    if by_index.is_empty() {
        Ok(actions)
    } else {
        let mut errors = Map::new();
        errors.insert("actions".into(), Value::Object(by_index));
        Err(errors)
    }
}

/// Custom actions in `actions` must be registered event types of the organization
/// (`"X" is not a valid choice.` at their index otherwise, as for an unknown action).
async fn check_custom_actions<P>(
    tx: &mut Conn,
    actor: &Actor,
    input: &WebhookInput<P>,
) -> std::result::Result<(), WebhookError> {
    let Patch::Value(names) = &input.actions else {
        return Ok(());
    };
    if !names.iter().any(|n| matches!(n, ActionName::Custom(_))) {
        return Ok(());
    }
    let known = custom::list_types(tx, actor.organization_id).await?;
    let mut by_index = Map::new();
    for (i, name) in names.iter().enumerate() {
        if let ActionName::Custom(name) = name
            && !known.iter().any(|t| &t.name == name)
        {
            by_index.insert(
                i.to_string(),
                json!([format!("\"{name}\" is not a valid choice.")]),
            );
        }
    }
    if by_index.is_empty() {
        return Ok(());
    }
    let mut errors = Map::new();
    errors.insert("actions".into(), Value::Object(by_index));
    Err(WebhookError::Nested(errors))
}

/// A validation failure with Label Studio's nested error shape (`{"actions": {"0": [...]}}`).
#[derive(Debug)]
pub enum WebhookError {
    Labeling(Error),
    Nested(Map<String, Value>),
}

impl From<Error> for WebhookError {
    fn from(e: Error) -> Self {
        WebhookError::Labeling(e)
    }
}

impl From<store::Error> for WebhookError {
    fn from(e: store::Error) -> Self {
        WebhookError::Labeling(e.into())
    }
}

fn apply<P>(
    base: Option<&Webhook>,
    input: WebhookInput<P>,
    project: Option<i64>,
) -> std::result::Result<Fields, WebhookError> {
    let format = base.map_or(input.format.unwrap_or_default(), |w| w.format);
    if let (Some(base), Some(sent)) = (base, input.format)
        && sent != base.format
    {
        return Err(Error::invalid(
            "format",
            "The format is fixed at creation: add another webhook for the other format.",
        )
        .into());
    }
    let labelbox = match format {
        WebhookFormat::Labelbox => Some(labelbox_subscription(base, &input)?),
        WebhookFormat::LabelStudio => {
            if input.topics.value().is_some_and(|t| !t.is_empty()) {
                return Err(Error::invalid(
                    "topics",
                    "Only a Labelbox-format webhook (\"format\": \"labelbox\") takes topics.",
                )
                .into());
            }
            None
        }
    };
    let url = match (input.url, base) {
        (Patch::Value(url), _) => {
            ssrf::validate_url(&url)?;
            url
        }
        (Patch::Absent, Some(base)) => base.url.clone(),
        (Patch::Null, _) => return Err(Error::invalid("url", "This field may not be null.").into()),
        (Patch::Absent, None) => {
            return Err(Error::invalid("url", "This field is required.").into());
        }
    };
    let headers = match input.headers {
        Patch::Absent => base.map(|w| w.headers.clone()).unwrap_or_default(),
        Patch::Null => Map::new(),
        Patch::Value(headers) => validate_headers(headers)?,
    };
    let filter = match &input.filter {
        Patch::Absent => base.and_then(|w| w.filter.as_ref()).map(Value::to_string),
        Patch::Null => None,
        Patch::Value(value) => validate_filter(value)?,
    };
    let (topics, actions) = match labelbox {
        Some((topics, actions)) => (topics, actions),
        None => (
            vec![],
            match input.actions {
                Patch::Absent => base.map(|w| w.actions.clone()).unwrap_or_default(),
                Patch::Null => vec![],
                Patch::Value(names) => {
                    validate_actions(names, project).map_err(WebhookError::Nested)?
                }
            },
        ),
    };
    // `null` keeps a boolean as it is (or its default on create).
    Ok(Fields {
        url,
        send_payload: input
            .send_payload
            .or_keep(base.is_none_or(|w| w.send_payload)),
        send_for_all_actions: topics.is_empty()
            && input
                .send_for_all_actions
                .or_keep(base.is_none_or(|w| w.send_for_all_actions)),
        headers,
        actions,
        is_active: input.is_active.or_keep(base.is_none_or(|w| w.is_active)),
        hub_signature: input
            .hub_signature
            .or_keep(base.is_some_and(|w| w.hub_signature)),
        topics,
        filter,
    })
}

pub async fn create(
    tx: &mut Conn,
    actor: &Actor,
    rules: Rules,
    input: WebhookInput,
) -> std::result::Result<Webhook, WebhookError> {
    let project = input.project.value().map(|pk| pk.0);
    match project {
        Some(id) => {
            projects::get(tx, actor, id).await?;
        }
        None if !rules.allow_organization_webhooks => {
            return Err(Error::invalid(
                "project",
                "Organization-level webhooks are disabled on this server \
                 (LABEL_STUDIO_ALLOW_ORGANIZATION_WEBHOOKS=false); give a project.",
            )
            .into());
        }
        None => {}
    }
    let chosen_secret = input.secret.clone();
    let format = input.format.unwrap_or_default();
    if format == WebhookFormat::Labelbox && chosen_secret.is_none() {
        return Err(Error::invalid(
            "secret",
            "A Labelbox-format webhook needs the secret its receiver checks X-Hub-Signature with.",
        )
        .into());
    }
    check_custom_actions(tx, actor, &input).await?;
    let fields = apply(None, input, project)?;
    let now = time::now();
    let id: i64 = store::query_scalar(
        "INSERT INTO webhooks (organization_id, project_id, url, send_payload, send_for_all_actions, \
         headers, actions, is_active, disabled_reason, secret, hub_signature, created_at, updated_at, \
         format, topics, event_filter, created_by, updated_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14, $15, $16, $16) \
         RETURNING id",
    )
    .bind(actor.organization_id)
    .bind(project)
    .bind(&fields.url)
    .bind(flag(fields.send_payload))
    .bind(flag(fields.send_for_all_actions))
    .bind(Value::Object(fields.headers).to_string())
    .bind(json!(fields.actions).to_string())
    .bind(flag(fields.is_active))
    .bind((!fields.is_active).then_some("user"))
    .bind(chosen_secret.map_or_else(secret::generate, |c| c.0))
    .bind(flag(fields.hub_signature))
    .bind(now)
    .bind(format.as_str())
    .bind(json!(fields.topics).to_string())
    .bind(fields.filter)
    .bind(actor.user_id)
    .fetch_one(&mut *tx)
    .await?;
    Ok(get(tx, actor, id).await?)
}

/// PATCH and PUT: fields present are applied, others kept (Label Studio clears `actions`
/// when they are omitted; labelhook keeps them). The project is fixed at creation.
pub async fn update(
    tx: &mut Conn,
    actor: &Actor,
    id: i64,
    input: WebhookInput<ReadOnly>,
) -> std::result::Result<Webhook, WebhookError> {
    let current = get(tx, actor, id).await?;
    if input.secret.is_some() {
        return Err(Error::invalid(
            "secret",
            "The secret changes with POST /api/webhooks/{id}/secret/rotate \
             (the previous one keeps signing meanwhile).",
        )
        .into());
    }
    check_custom_actions(tx, actor, &input).await?;
    let fields = apply(Some(&current), input, current.project_id)?;
    let switched_on = fields.is_active && !current.is_active;
    let switched_off = !fields.is_active && current.is_active;
    let endpoint_changed = fields.url != current.url || fields.headers != current.headers;
    let reset_failures = switched_on || endpoint_changed;
    let disabled_reason = if fields.is_active {
        None
    } else if switched_off {
        Some("user".to_string())
    } else {
        current.disabled_reason.clone()
    };
    store::query(
        "UPDATE webhooks SET url = $1, send_payload = $2, send_for_all_actions = $3, headers = $4, \
         actions = $5, is_active = $6, disabled_reason = $7, \
         consecutive_failures = CASE WHEN $8 = 1 THEN 0 ELSE consecutive_failures END, \
         updated_at = $9, hub_signature = $11, topics = $12, event_filter = $13, updated_by = $14 \
         WHERE id = $10",
    )
    .bind(&fields.url)
    .bind(flag(fields.send_payload))
    .bind(flag(fields.send_for_all_actions))
    .bind(Value::Object(fields.headers).to_string())
    .bind(json!(fields.actions).to_string())
    .bind(flag(fields.is_active))
    .bind(disabled_reason)
    .bind(flag(reset_failures))
    .bind(time::now())
    .bind(id)
    .bind(flag(fields.hub_signature))
    .bind(json!(fields.topics).to_string())
    .bind(fields.filter)
    .bind(actor.user_id)
    .execute(&mut *tx)
    .await?;
    if reset_failures {
        // A new start: the breaker closes, and what was held or waiting for a retry goes
        // out now (to the new address, if it changed).
        breaker::reset(tx, id).await?;
        if fields.is_active {
            breaker::release(tx, id, time::now()).await?;
        }
    }
    Ok(get(tx, actor, id).await?)
}

pub async fn delete(tx: &mut Conn, actor: &Actor, id: i64) -> Result<()> {
    get(tx, actor, id).await?;
    store::query("DELETE FROM webhooks WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
