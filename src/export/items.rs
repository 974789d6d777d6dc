//! Tasks as Label Studio's converter reads them: one *item* per annotation that was not
//! cancelled, newest first, with its regions grouped by control. Every format but JSON
//! is written from items, so this is where their shared rules live:
//! - a task without annotations gives one item with no output (its row in "all tasks");
//! - a task whose annotations were all cancelled (skipped) gives none;
//! - a region counts when its `from_name` is a control of the config; its `value` gets
//!   the control's type and the region's `original_width`/`original_height`.

use serde_json::{Map, Value};

use super::schema::Schema;

/// One annotation of one task, as the formats read it.
#[derive(Debug, Clone)]
pub struct Item<'a> {
    /// The task's `id`.
    pub id: &'a Value,
    /// The task's `data`.
    pub input: &'a Map<String, Value>,
    /// Control name → its regions, in the order the controls first appear in the result.
    pub output: Vec<(String, Vec<Map<String, Value>>)>,
    /// The annotation's `completed_by` (an id, an expanded user, or `{}` when there is no
    /// annotation).
    pub completed_by: Value,
    pub annotation_id: Value,
    pub created_at: Value,
    pub updated_at: Value,
    pub lead_time: Value,
}

static EMPTY_DATA: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

/// The items of one exported task (the JSON export's form of it).
pub fn items<'a>(task: &'a Value, schema: &Schema) -> Vec<Item<'a>> {
    let id = task.get("id").unwrap_or(&Value::Null);
    let input = task
        .get("data")
        .and_then(Value::as_object)
        .unwrap_or(&EMPTY_DATA);
    let annotations: &[Value] = task
        .get("annotations")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    if annotations.is_empty() {
        return vec![Item {
            id,
            input,
            output: Vec::new(),
            completed_by: Value::Object(Map::new()),
            annotation_id: Value::Null,
            created_at: Value::Null,
            updated_at: Value::Null,
            lead_time: Value::Null,
        }];
    }
    let mut kept: Vec<&Value> = annotations
        .iter()
        .filter(|a| !(truthy(a.get("skipped")) || truthy(a.get("was_cancelled"))))
        .collect();
    // Newest first by `created_at` (a stable sort: equal times keep their order). Label
    // Studio compares the rendered times as text, and so does this.
    kept.sort_by_key(|a| std::cmp::Reverse(created_at_key(a)));
    kept.into_iter()
        .map(|annotation| Item {
            id,
            input,
            output: outputs(annotation, schema),
            completed_by: annotation
                .get("completed_by")
                .cloned()
                .unwrap_or_else(|| Value::Object(Map::new())),
            annotation_id: field(annotation, "id"),
            created_at: field(annotation, "created_at"),
            updated_at: field(annotation, "updated_at"),
            lead_time: field(annotation, "lead_time"),
        })
        .collect()
}

fn field(annotation: &Value, key: &str) -> Value {
    annotation.get(key).cloned().unwrap_or(Value::Null)
}

/// Python's truthiness, for the flags the converter tests.
fn truthy(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
        Some(Value::Bool(true)) => true,
    }
}

/// Sort key standing in for Python's comparison of `created_at` values: rendered times
/// compare as text; a missing time sorts as the integer 0, before any text.
fn created_at_key(annotation: &Value) -> (u8, String) {
    match annotation.get("created_at") {
        Some(Value::String(text)) => (1, text.clone()),
        _ => (0, String::new()),
    }
}

/// The regions of one annotation grouped by control.
fn outputs(annotation: &Value, schema: &Schema) -> Vec<(String, Vec<Map<String, Value>>)> {
    let mut output: Vec<(String, Vec<Map<String, Value>>)> = Vec::new();
    let results = annotation
        .get("result")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    for region in results {
        let Some(from_name) = region.get("from_name").and_then(Value::as_str) else {
            continue;
        };
        if from_name.is_empty() {
            continue;
        }
        let value = region.get("value").and_then(Value::as_object);
        let kind = match schema.control_type(from_name) {
            Some(kind) => kind.to_string(),
            None if region.get("type").and_then(Value::as_str) == Some("chatmessage") => {
                "chatmessage".to_string()
            }
            // A config without controls (a custom interface): keep every region.
            None if schema.is_empty() => region
                .get("type")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .unwrap_or("unknown")
                .to_string(),
            None => continue,
        };
        // A region whose value is not an object cannot be read; Label Studio fails the
        // whole export on it, labelhook leaves the region out.
        let Some(value) = value else { continue };
        let mut v = value.clone();
        v.insert("type".into(), Value::String(kind.clone()));
        if kind != "chatmessage" {
            for key in ["original_width", "original_height"] {
                if let Some(size) = region.get(key) {
                    v.insert(key.into(), size.clone());
                }
            }
        }
        match output.iter_mut().find(|(name, _)| name == from_name) {
            Some((_, regions)) => regions.push(v),
            None => output.push((from_name.to_string(), vec![v])),
        }
    }
    output
}

/// A control's regions as JSON-MIN and CSV show them: one Choices or TextArea answer
/// alone as its text, otherwise the list of region values (without `type`).
pub fn prettify(regions: &[Map<String, Value>]) -> Value {
    let mut out = Vec::with_capacity(regions.len());
    let mut last_type = String::new();
    for region in regions {
        let mut region = region.clone();
        // `shift_remove` keeps the other keys in their order (`remove` would swap).
        let kind = match region.shift_remove("type") {
            Some(Value::String(kind)) => kind,
            _ => String::new(),
        };
        let single = |key: &str| {
            region
                .get(key)
                .and_then(Value::as_array)
                .filter(|list| list.len() == 1)
                .map(|list| list[0].clone())
        };
        let pretty = match kind.as_str() {
            "Choices" => single("choices"),
            "TextArea" => single("text"),
            "Chat" | "chatmessage" => Some(
                region
                    .get("chatmessage")
                    .cloned()
                    .unwrap_or_else(|| Value::Object(region.clone())),
            ),
            _ => None,
        };
        out.push(pretty.unwrap_or(Value::Object(region)));
        last_type = kind;
    }
    if matches!(last_type.as_str(), "Choices" | "TextArea") && out.len() == 1 {
        out.pop().unwrap_or(Value::Null)
    } else {
        Value::Array(out)
    }
}

/// The annotator as Label Studio's converter names it: an expanded user's email, an id
/// (as a number in JSON-MIN when `keep_id`), or Python's `str()` of anything else.
pub fn annotator(completed_by: &Value, keep_id: bool) -> Value {
    match completed_by {
        Value::Object(user) => user.get("email").cloned().unwrap_or(Value::Null),
        Value::Number(n) if keep_id && (n.is_i64() || n.is_u64()) => completed_by.clone(),
        Value::Number(n) if n.is_f64() => {
            Value::String(super::pyjson::python_float(n.as_f64().unwrap_or_default()))
        }
        Value::Number(n) => Value::String(n.to_string()),
        Value::Null => Value::String("None".into()),
        Value::Bool(true) => Value::String("True".into()),
        Value::Bool(false) => Value::String("False".into()),
        Value::String(s) => Value::String(s.clone()),
        Value::Array(_) => Value::String(super::pyjson::to_string(
            completed_by,
            &super::pyjson::PYTHON,
        )),
    }
}
