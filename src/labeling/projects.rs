//! Projects: the label config, the Label Studio settings and the statistics.

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::StoredJson;
use super::label_config;
use crate::events::{self, Action};
use crate::shared::{Actor, Error, Patch, Result, Scope, not_null};
use crate::store::counters::Counters;
use crate::store::time;
use crate::store::{self, Conn, Row};

pub const DEFAULT_LABEL_CONFIG: &str = "<View></View>";
const TITLE_MAX_CHARS: usize = 50;

/// The Label Studio project fields labelhook keeps and returns but does not act on.
/// Stored as one JSON document; the defaults are Label Studio's.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ProjectSettings {
    pub expert_instruction: String,
    pub show_instruction: bool,
    pub show_skip_button: bool,
    pub enable_empty_annotation: bool,
    pub show_annotation_history: bool,
    pub color: String,
    pub is_published: bool,
    pub model_version: String,
    pub is_draft: bool,
    pub min_annotations_to_start_training: i64,
    pub start_training_on_annotation_update: bool,
    pub show_collab_predictions: bool,
    pub sampling: String,
    pub show_ground_truth_first: bool,
    pub annotator_evaluation_enabled: bool,
    pub show_overlap_first: bool,
    pub overlap_cohort_percentage: i64,
    pub task_data_login: Option<String>,
    pub task_data_password: Option<String>,
    pub reveal_preannotations_interactively: bool,
    pub evaluate_predictions_automatically: bool,
    pub pinned_at: Option<String>,
    pub custom_task_lock_ttl: Option<i64>,
    /// labelhook (Label Studio Enterprise keeps it in its review settings): a task counts
    /// as finished only once reviews accepted enough of its annotations.
    pub review_required: bool,
}

impl Default for ProjectSettings {
    fn default() -> Self {
        ProjectSettings {
            expert_instruction: String::new(),
            show_instruction: false,
            show_skip_button: true,
            enable_empty_annotation: true,
            show_annotation_history: false,
            color: "#FFFFFF".into(),
            is_published: false,
            model_version: String::new(),
            is_draft: false,
            min_annotations_to_start_training: 0,
            start_training_on_annotation_update: false,
            show_collab_predictions: true,
            sampling: "Sequential sampling".into(),
            show_ground_truth_first: false,
            annotator_evaluation_enabled: false,
            show_overlap_first: false,
            overlap_cohort_percentage: 100,
            task_data_login: None,
            task_data_password: None,
            reveal_preannotations_interactively: false,
            evaluate_predictions_automatically: false,
            pinned_at: None,
            custom_task_lock_ttl: None,
            review_required: false,
        }
    }
}

/// Project statistics as SPEC section 2 defines them.
#[derive(Debug, Clone, Default)]
pub struct ProjectStats {
    pub task_number: i64,
    pub finished_task_number: i64,
    pub total_annotations_number: i64,
    pub useful_annotation_number: i64,
    pub num_tasks_with_annotations: i64,
    pub ground_truth_number: i64,
    pub skipped_annotations_number: i64,
    pub total_predictions_number: i64,
}

#[derive(Debug, Clone)]
pub struct Creator {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

#[derive(Debug, Clone)]
pub struct Project {
    pub id: i64,
    pub organization_id: i64,
    pub created_by: Creator,
    pub title: String,
    pub description: String,
    pub label_config: String,
    /// The JSON documents derived from `label_config` when it was saved, as stored: reads
    /// copy them into answers unparsed.
    pub parsed_label_config: StoredJson,
    pub control_weights: StoredJson,
    pub data_types: StoredJson,
    /// `config_suitable_for_bulk_annotation`, derived when the config was saved.
    pub suitable_for_bulk_annotation: bool,
    pub settings: ProjectSettings,
    pub maximum_annotations: i64,
    pub skip_queue: String,
    pub token: String,
    pub stats: ProjectStats,
    /// Who last changed it (a user id; `None` for rows older than the audit).
    pub updated_by: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Project {
    /// The data keys the label config reads, for plain-text imports.
    pub fn text_key(&self) -> String {
        match self.data_types.value().as_object() {
            Some(types) if types.len() == 1 => types.keys().next().cloned().unwrap_or_default(),
            _ => "text".into(),
        }
    }

    /// Where the project's events happen.
    pub fn scope(&self) -> Scope {
        Scope {
            organization_id: self.organization_id,
            project_id: Some(self.id),
            acted_by: None,
        }
    }

    /// A stable hash of the label config (Label Studio sends one in webhook payloads).
    pub fn label_config_hash(&self) -> i64 {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(self.label_config.as_bytes());
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&digest[..8]);
        i64::from_be_bytes(bytes) & i64::MAX
    }
}

/// The projects query, with the statistics as of now (`store::counters`: on PostgreSQL
/// the row's plus the deltas not yet folded into it, read in the same statement).
fn select(conn: &Conn) -> String {
    let (columns, joins) = select_parts(conn);
    format!("SELECT {columns} FROM projects p{joins}")
}

/// The columns of [`select`], and the joins after `projects p` they need.
fn select_parts(conn: &Conn) -> (String, String) {
    let counters = Counters::of(conn.backend());
    (
        format!(
            "p.id, p.organization_id, p.title, p.description, p.label_config, \
             p.parsed_label_config, p.control_weights, p.data_types, \
             p.config_suitable_for_bulk_annotation, p.settings, p.maximum_annotations, \
             p.skip_queue, p.token, p.updated_by, p.created_at, p.updated_at, \
             u.id AS creator_id, u.email, u.first_name, u.last_name, {}",
            counters.columns
        ),
        format!(" JOIN users u ON u.id = p.created_by{}", counters.join),
    )
}

/// A task of the actor's organization (404 otherwise) and its project, in one
/// statement: the task's `task_columns` (of `t`, plain names separated by commas) as a
/// row of their own, and the project. The task's row stays locked until commit
/// (PostgreSQL), for a change that moves its counters: what is read here is what the
/// change starts from.
pub(super) async fn locked_task_with_project(
    conn: &mut Conn,
    actor: &Actor,
    task_id: i64,
    task_columns: &str,
) -> Result<(Row, Project)> {
    let (columns, joins) = select_parts(conn);
    let sql = format!(
        "SELECT {task_columns}, {columns} FROM tasks t JOIN projects p ON p.id = t.project_id{joins} \
         WHERE t.id = $1 AND p.organization_id = $2{}",
        conn.backend().for_update_of("t")
    );
    let row = store::query(&sql)
        .bind(task_id)
        .bind(actor.organization_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(Error::NotFound("Task"))?;
    let (task, project) = row.split(task_columns.split(',').count());
    Ok((task, from_row(&project)?))
}

fn from_row(row: &Row) -> store::Result<Project> {
    let settings: String = row.try_get("settings")?;
    Ok(Project {
        id: row.try_get("id")?,
        organization_id: row.try_get("organization_id")?,
        created_by: Creator {
            id: row.try_get("creator_id")?,
            email: row.try_get("email")?,
            first_name: row.try_get("first_name")?,
            last_name: row.try_get("last_name")?,
        },
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        label_config: row.try_get("label_config")?,
        parsed_label_config: StoredJson::new(row.try_get("parsed_label_config")?),
        control_weights: StoredJson::new(row.try_get("control_weights")?),
        data_types: StoredJson::new(row.try_get("data_types")?),
        // NULL only until `derive_missing` has run (rows older than the column).
        suitable_for_bulk_annotation: row
            .try_get::<Option<i64>, _>("config_suitable_for_bulk_annotation")?
            .is_some_and(|suitable| suitable != 0),
        settings: serde_json::from_str(&settings).unwrap_or_default(),
        maximum_annotations: row.try_get("maximum_annotations")?,
        skip_queue: row.try_get("skip_queue")?,
        token: row.try_get("token")?,
        stats: ProjectStats {
            task_number: row.try_get("task_number")?,
            finished_task_number: row.try_get("finished_task_number")?,
            total_annotations_number: row.try_get("total_annotations_number")?,
            useful_annotation_number: row.try_get("useful_annotation_number")?,
            num_tasks_with_annotations: row.try_get("num_tasks_with_annotations")?,
            ground_truth_number: row.try_get("ground_truth_number")?,
            skipped_annotations_number: row.try_get("skipped_annotations_number")?,
            total_predictions_number: row.try_get("total_predictions_number")?,
        },
        updated_by: row.try_get("updated_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Loads a project of the actor's organization (404 otherwise).
pub async fn get(conn: &mut Conn, actor: &Actor, id: i64) -> Result<Project> {
    let sql = format!(
        "{} WHERE p.id = $1 AND p.organization_id = $2",
        select(conn)
    );
    store::query(&sql)
        .bind(id)
        .bind(actor.organization_id)
        .fetch_found(&mut *conn, "Project", from_row)
        .await
}

/// Loads a project by id alone (for code that already checked the organization).
pub async fn get_unchecked(conn: &mut Conn, id: i64) -> Result<Project> {
    let sql = format!("{} WHERE p.id = $1", select(conn));
    store::query(&sql)
        .bind(id)
        .fetch_found(&mut *conn, "Project", from_row)
        .await
}

#[derive(Debug, Default, Deserialize)]
pub struct ListFilter {
    pub title: Option<String>,
    pub ids: Option<Vec<i64>>,
}

/// One page of the organization's projects, newest first, with the total count.
pub async fn list(
    conn: &mut Conn,
    actor: &Actor,
    filter: &ListFilter,
    offset: i64,
    limit: i64,
) -> Result<(Vec<Project>, i64)> {
    let mut condition = String::from("p.organization_id = $1");
    if filter.title.is_some() {
        condition.push_str(" AND LOWER(p.title) LIKE $2");
    }
    let title_pattern = filter
        .title
        .as_deref()
        .map(|t| format!("%{}%", t.to_lowercase()));
    let ids_clause = match &filter.ids {
        Some(ids) if !ids.is_empty() => format!(
            " AND p.id IN ({})",
            ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
        ),
        Some(_) => " AND 1 = 0".to_string(),
        None => String::new(),
    };
    let count_sql = format!("SELECT COUNT(*) FROM projects p WHERE {condition}{ids_clause}");
    let mut count = store::query_scalar::<i64>(&count_sql).bind(actor.organization_id);
    if let Some(pattern) = &title_pattern {
        count = count.bind(pattern.clone());
    }
    let total = count.fetch_one(&mut *conn).await?;
    let page_sql = format!(
        "{} WHERE {condition}{ids_clause} ORDER BY p.id DESC LIMIT {limit} OFFSET {offset}",
        select(conn)
    );
    let mut query = store::query(&page_sql).bind(actor.organization_id);
    if let Some(pattern) = &title_pattern {
        query = query.bind(pattern.clone());
    }
    let rows = query.fetch_all(&mut *conn).await?;
    let projects = rows.iter().map(from_row).collect::<store::Result<_>>()?;
    Ok((projects, total))
}

/// What happens to a user's skipped task (`skip_queue`).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
pub enum SkipQueue {
    #[serde(rename = "REQUEUE_FOR_ME")]
    RequeueForMe,
    #[serde(rename = "REQUEUE_FOR_OTHERS")]
    RequeueForOthers,
    #[serde(rename = "IGNORE_SKIPPED")]
    IgnoreSkipped,
}

impl SkipQueue {
    fn as_str(self) -> &'static str {
        match self {
            SkipQueue::RequeueForMe => "REQUEUE_FOR_ME",
            SkipQueue::RequeueForOthers => "REQUEUE_FOR_OTHERS",
            SkipQueue::IgnoreSkipped => "IGNORE_SKIPPED",
        }
    }
}

/// In which order the label stream hands out tasks (`sampling`).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
pub enum Sampling {
    #[serde(rename = "Sequential sampling")]
    Sequential,
    #[serde(rename = "Uniform sampling")]
    Uniform,
    #[serde(rename = "Uncertainty sampling")]
    Uncertainty,
}

impl Sampling {
    fn as_str(self) -> &'static str {
        match self {
            Sampling::Sequential => "Sequential sampling",
            Sampling::Uniform => "Uniform sampling",
            Sampling::Uncertainty => "Uncertainty sampling",
        }
    }
}

/// A project as a client sends it: `POST /api/projects/`, `PATCH`/`PUT
/// /api/projects/{id}/`. Every key is optional; the keys sent change, the others are kept
/// (Label Studio's defaults on create); unknown keys are ignored. A wrong type is serde's
/// error (`api::extract` words it as Label Studio does); this type checks by hand only the
/// ranges serde cannot say.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
#[schema(example = json!({"title": "Reviews", "label_config": "<View><Text name=\"text\" value=\"$text\"/><Choices name=\"label\" toName=\"text\"><Choice value=\"pos\"/><Choice value=\"neg\"/></Choices></View>"}))]
pub struct ProjectInput {
    /// `null` empties it.
    #[schema(value_type = Option<String>, max_length = 50)]
    pub title: Patch<String>,
    /// `null` empties it.
    #[schema(value_type = Option<String>)]
    pub description: Patch<String>,
    /// The labeling interface (XML); empty or `null` means Label Studio's default.
    #[schema(
        value_type = Option<String>,
        example = "<View><Text name=\"text\" value=\"$text\"/><Choices name=\"label\" toName=\"text\"><Choice value=\"pos\"/><Choice value=\"neg\"/></Choices></View>"
    )]
    pub label_config: Patch<String>,
    #[serde(deserialize_with = "not_null")]
    #[schema(nullable = false, minimum = 1, maximum = 2147483647)]
    pub maximum_annotations: Option<i64>,
    /// `null` keeps it.
    #[schema(value_type = Option<SkipQueue>)]
    pub skip_queue: Patch<SkipQueue>,
    #[serde(deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub sampling: Option<Sampling>,
    #[serde(deserialize_with = "not_null")]
    #[schema(nullable = false, minimum = 0, maximum = 100)]
    pub overlap_cohort_percentage: Option<i64>,
    #[serde(deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub expert_instruction: Option<String>,
    #[serde(deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub show_instruction: Option<bool>,
    #[serde(deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub show_skip_button: Option<bool>,
    #[serde(deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub enable_empty_annotation: Option<bool>,
    #[serde(deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub show_annotation_history: Option<bool>,
    #[serde(deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub color: Option<String>,
    #[serde(deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub is_published: Option<bool>,
    #[serde(deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub model_version: Option<String>,
    #[serde(deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub is_draft: Option<bool>,
    #[serde(deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub min_annotations_to_start_training: Option<i64>,
    #[serde(deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub start_training_on_annotation_update: Option<bool>,
    #[serde(deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub show_collab_predictions: Option<bool>,
    #[serde(deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub show_ground_truth_first: Option<bool>,
    #[serde(deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub annotator_evaluation_enabled: Option<bool>,
    #[serde(deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub show_overlap_first: Option<bool>,
    #[schema(value_type = Option<String>)]
    pub task_data_login: Patch<String>,
    #[schema(value_type = Option<String>)]
    pub task_data_password: Patch<String>,
    #[serde(deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub reveal_preannotations_interactively: Option<bool>,
    #[serde(deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub evaluate_predictions_automatically: Option<bool>,
    #[schema(value_type = Option<String>)]
    pub pinned_at: Patch<String>,
    #[schema(value_type = Option<i64>)]
    pub custom_task_lock_ttl: Patch<i64>,
    /// labelhook: a task counts as finished only once reviews accepted enough of its
    /// annotations.
    #[serde(deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub review_required: Option<bool>,
}

/// A create or update request, its `label_config` (if sent) already parsed.
pub struct ProjectChange {
    input: ProjectInput,
    label_config: Option<NewLabelConfig>,
}

/// A label config as it is stored: the text and what Label Studio derives from it, the JSON
/// documents serialized, ready to bind.
struct NewLabelConfig {
    text: String,
    parsed_label_config: String,
    control_weights: String,
    data_types: String,
    suitable_for_bulk_annotation: bool,
}

impl NewLabelConfig {
    fn parse(text: String, limits: &label_config::Limits) -> Result<NewLabelConfig> {
        let derived = label_config::parse(&text, limits)
            .map_err(|e| Error::invalid("label_config", e.to_string()))?;
        Ok(NewLabelConfig {
            text,
            parsed_label_config: derived.parsed.to_string(),
            control_weights: derived.control_weights.to_string(),
            data_types: derived.data_types.to_string(),
            suitable_for_bulk_annotation: derived.suitable_for_bulk_annotation,
        })
    }
}

impl ProjectChange {
    /// Parses the input's `label_config`, if it has one, on a blocking thread. Call it
    /// before opening the write transaction: a config costs up to the limits' worth of
    /// parsing, which must delay no one else's write.
    pub async fn parse(
        mut input: ProjectInput,
        limits: label_config::Limits,
    ) -> Result<ProjectChange> {
        // `null` or empty text is Label Studio's default config.
        let text = match std::mem::take(&mut input.label_config) {
            Patch::Absent => None,
            Patch::Null => Some(DEFAULT_LABEL_CONFIG.to_owned()),
            Patch::Value(text) if text.trim().is_empty() => Some(DEFAULT_LABEL_CONFIG.to_owned()),
            Patch::Value(text) => Some(text),
        };
        let label_config = match text {
            None => None,
            Some(text) => Some(
                tokio::task::spawn_blocking(move || NewLabelConfig::parse(text, &limits))
                    .await
                    .map_err(anyhow::Error::from)??,
            ),
        };
        Ok(ProjectChange {
            input,
            label_config,
        })
    }
}

/// The fields of a project a client may set besides the label config, after validation.
struct ProjectFields {
    title: String,
    description: String,
    settings: ProjectSettings,
    maximum_annotations: i64,
    skip_queue: String,
}

/// Validates `input` applied on top of `base` (none on create).
fn apply_input(base: Option<&Project>, input: ProjectInput) -> Result<ProjectFields> {
    let title = input
        .title
        .nullable(base.map(|p| p.title.clone()))
        .unwrap_or_default();
    if title.chars().count() > TITLE_MAX_CHARS {
        return Err(Error::invalid(
            "title",
            format!("Ensure this field has no more than {TITLE_MAX_CHARS} characters."),
        ));
    }
    let description = input
        .description
        .nullable(base.map(|p| p.description.clone()))
        .unwrap_or_default();
    let maximum_annotations = match input.maximum_annotations {
        None => base.map_or(1, |p| p.maximum_annotations),
        Some(n) if n < 1 => {
            return Err(Error::invalid(
                "maximum_annotations",
                "Ensure this value is greater than or equal to 1.",
            ));
        }
        Some(n) if n > i64::from(i32::MAX) => {
            return Err(Error::invalid(
                "maximum_annotations",
                format!("Ensure this value is less than or equal to {}.", i32::MAX),
            ));
        }
        Some(n) => n,
    };
    let skip_queue = match input.skip_queue.value() {
        Some(queue) => queue.as_str().to_string(),
        None => base.map_or("REQUEUE_FOR_OTHERS".into(), |p| p.skip_queue.clone()),
    };
    if let Some(percentage) = input.overlap_cohort_percentage
        && !(0..=100).contains(&percentage)
    {
        return Err(Error::invalid(
            "overlap_cohort_percentage",
            "Ensure this value is between 0 and 100.",
        ));
    }
    let mut s = base.map(|p| p.settings.clone()).unwrap_or_default();
    // The keys sent replace the current values (each field has the same name in both).
    macro_rules! replace_sent {
        ($($field:ident),* $(,)?) => {
            $(if let Some(value) = input.$field {
                s.$field = value;
            })*
        };
    }
    replace_sent!(
        overlap_cohort_percentage,
        expert_instruction,
        show_instruction,
        show_skip_button,
        enable_empty_annotation,
        show_annotation_history,
        color,
        is_published,
        model_version,
        is_draft,
        min_annotations_to_start_training,
        start_training_on_annotation_update,
        show_collab_predictions,
        show_ground_truth_first,
        annotator_evaluation_enabled,
        show_overlap_first,
        reveal_preannotations_interactively,
        evaluate_predictions_automatically,
        review_required,
    );
    if let Some(sampling) = input.sampling {
        s.sampling = sampling.as_str().into();
    }
    s.task_data_login = input.task_data_login.nullable(s.task_data_login);
    s.task_data_password = input.task_data_password.nullable(s.task_data_password);
    s.pinned_at = input.pinned_at.nullable(s.pinned_at);
    s.custom_task_lock_ttl = input.custom_task_lock_ttl.nullable(s.custom_task_lock_ttl);
    Ok(ProjectFields {
        title,
        description,
        settings: s,
        maximum_annotations,
        skip_queue,
    })
}

/// Creates a project and emits PROJECT_CREATED.
pub async fn create(tx: &mut Conn, actor: &Actor, change: ProjectChange) -> Result<Project> {
    let fields = apply_input(None, change.input)?;
    let config = match change.label_config {
        Some(config) => config,
        None => NewLabelConfig::parse(DEFAULT_LABEL_CONFIG.into(), &Default::default())?,
    };
    let now = time::now();
    let token = crate::auth::random_token(20);
    let id: i64 = store::query_scalar(
        "INSERT INTO projects (organization_id, created_by, title, description, label_config, \
         parsed_label_config, control_weights, data_types, config_suitable_for_bulk_annotation, \
         settings, maximum_annotations, skip_queue, token, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) RETURNING id",
    )
    .bind(actor.organization_id)
    .bind(actor.user_id)
    .bind(&fields.title)
    .bind(&fields.description)
    .bind(&config.text)
    .bind(&config.parsed_label_config)
    .bind(&config.control_weights)
    .bind(&config.data_types)
    .bind(i64::from(config.suitable_for_bulk_annotation))
    .bind(serde_json::to_string(&fields.settings).map_err(anyhow::Error::from)?)
    .bind(fields.maximum_annotations)
    .bind(&fields.skip_queue)
    .bind(token)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let project = get(tx, actor, id).await?;
    events::emit(
        tx,
        project.scope().by(actor.user_id),
        Action::ProjectCreated,
        async |_| Ok(vec![events::body([("project", project.snapshot())])]),
    )
    .await?;
    Ok(project)
}

/// Applies a partial (PATCH) or full (PUT) update and emits PROJECT_UPDATED.
pub async fn update(
    tx: &mut Conn,
    actor: &Actor,
    id: i64,
    change: ProjectChange,
) -> Result<Project> {
    let before = get(tx, actor, id).await?;
    let fields = apply_input(Some(&before), change.input)?;
    let now = time::now();
    store::query(
        "UPDATE projects SET title = $1, description = $2, settings = $3, \
         maximum_annotations = $4, skip_queue = $5, updated_at = $6, updated_by = $8 WHERE id = $7",
    )
    .bind(&fields.title)
    .bind(&fields.description)
    .bind(serde_json::to_string(&fields.settings).map_err(anyhow::Error::from)?)
    .bind(fields.maximum_annotations)
    .bind(&fields.skip_queue)
    .bind(now)
    .bind(id)
    .bind(actor.user_id)
    .execute(&mut *tx)
    .await?;
    // The config's columns are written only when a new one was sent (they may be large).
    if let Some(config) = &change.label_config {
        store::query(
            "UPDATE projects SET label_config = $1, parsed_label_config = $2, \
             control_weights = $3, data_types = $4, config_suitable_for_bulk_annotation = $5 \
             WHERE id = $6",
        )
        .bind(&config.text)
        .bind(&config.parsed_label_config)
        .bind(&config.control_weights)
        .bind(&config.data_types)
        .bind(i64::from(config.suitable_for_bulk_annotation))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    }
    // Overlap, the skip rule and required review decide which tasks are finished: recount
    // when they change.
    if fields.maximum_annotations != before.maximum_annotations {
        store::query("UPDATE tasks SET overlap = $1 WHERE project_id = $2")
            .bind(fields.maximum_annotations)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    if fields.maximum_annotations != before.maximum_annotations
        || fields.skip_queue != before.skip_queue
        || fields.settings.review_required != before.settings.review_required
    {
        let finishing = super::stats::Finishing {
            skip_queue: &fields.skip_queue,
            review_required: fields.settings.review_required,
        };
        super::stats::recount_project(tx, id, finishing).await?;
    }
    let project = get(tx, actor, id).await?;
    events::emit(
        tx,
        project.scope().by(actor.user_id),
        Action::ProjectUpdated,
        async |_| Ok(vec![events::body([("project", project.snapshot())])]),
    )
    .await?;
    Ok(project)
}

/// Derives `config_suitable_for_bulk_annotation` for the projects saved before it was
/// stored (migration 11), so that no read parses a config. A start-up task, outside any
/// request (each project in its own transaction); finds nothing to do once done.
pub async fn derive_missing(db: &store::Db, limits: &label_config::Limits) -> Result<()> {
    let mut reader = db.reader().acquire().await?;
    let ids: Vec<i64> = store::query_scalar(
        "SELECT id FROM projects WHERE config_suitable_for_bulk_annotation IS NULL",
    )
    .fetch_all(&mut reader)
    .await?;
    for id in ids {
        let text: Option<String> =
            store::query_scalar("SELECT label_config FROM projects WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut reader)
                .await?;
        let Some(text) = text else {
            continue; // deleted meanwhile
        };
        // As reads used to answer: a config that does not parse (now) is not suitable.
        let suitable = label_config::parse(&text, limits)
            .is_ok_and(|derived| derived.suitable_for_bulk_annotation);
        let mut tx = db.begin().await?;
        store::query(
            "UPDATE projects SET config_suitable_for_bulk_annotation = $1 \
             WHERE id = $2 AND config_suitable_for_bulk_annotation IS NULL",
        )
        .bind(i64::from(suitable))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        db.commit(tx).await?;
    }
    Ok(())
}

/// Deletes a project with everything in it and emits PROJECT_DELETED.
pub async fn delete(tx: &mut Conn, actor: &Actor, id: i64) -> Result<()> {
    let project = get(tx, actor, id).await?;
    // Emit first: the event's deliveries must not reference the project's own webhooks,
    // which go with it (PROJECT_DELETED is organization-only anyway).
    events::emit(
        tx,
        project.scope().by(actor.user_id),
        Action::ProjectDeleted,
        async |_| Ok(vec![events::body([("project", json!({"id": id}))])]),
    )
    .await?;
    store::query("DELETE FROM annotations WHERE project_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    store::query("DELETE FROM predictions WHERE project_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    store::query("DELETE FROM tasks WHERE project_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    store::query("DELETE FROM webhooks WHERE project_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    store::query("DELETE FROM projects WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
