//! A webhook's `filter`: conditions on an event's body, all of which must hold for the
//! event to make a delivery. Checked when the webhook is saved ([`Filter::parse`], whose
//! errors name the condition at fault) and evaluated when the event is written.
//!
//! A condition is one of
//! - `{"path": "task.data.split", "equals": "train"}`
//! - `{"path": "annotation.completed_by", "in": [1, 2]}`
//! - `{"result_contains_label": "Cat"}`: some region of the annotation's result (or of
//!   any annotation of a bulk body) has the label or choice `Cat`.
//!
//! A path is dot-separated keys of the body; where it meets a list (a bulk body's
//! `annotation`, a task's `annotations`) the condition holds if it holds for some item.

use serde_json::{Map, Value};

/// At most this many conditions per filter.
pub const MAX_CONDITIONS: usize = 20;

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Equals(Vec<String>, Value),
    In(Vec<String>, Vec<Value>),
    ResultContainsLabel(String),
}

/// Conditions that must all hold (none: every event passes).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter(pub Vec<Condition>);

/// A problem with one condition: its index and the message.
pub type ConditionError = (usize, String);

impl Filter {
    /// Reads a filter as a client sends it: a list of conditions.
    pub fn parse(value: &Value) -> Result<Filter, Vec<ConditionError>> {
        let Value::Array(items) = value else {
            return Err(vec![(
                0,
                "Expected a list of conditions, such as [{\"path\": \"task.data.split\", \"equals\": \"train\"}].".into(),
            )]);
        };
        if items.len() > MAX_CONDITIONS {
            return Err(vec![(
                MAX_CONDITIONS,
                format!("At most {MAX_CONDITIONS} conditions are allowed."),
            )]);
        }
        let mut conditions = Vec::new();
        let mut errors = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match condition(item) {
                Ok(c) => conditions.push(c),
                Err(message) => errors.push((i, message)),
            }
        }
        if errors.is_empty() {
            Ok(Filter(conditions))
        } else {
            Err(errors)
        }
    }

    /// The filter as stored and shown: the list a client sends.
    pub fn to_value(&self) -> Value {
        Value::Array(
            self.0
                .iter()
                .map(|c| match c {
                    Condition::Equals(path, value) => {
                        serde_json::json!({"path": path.join("."), "equals": value})
                    }
                    Condition::In(path, values) => {
                        serde_json::json!({"path": path.join("."), "in": values})
                    }
                    Condition::ResultContainsLabel(label) => {
                        serde_json::json!({"result_contains_label": label})
                    }
                })
                .collect(),
        )
    }

    /// Whether an event with this body passes.
    pub fn matches(&self, body: &Map<String, Value>) -> bool {
        self.0.iter().all(|condition| match condition {
            Condition::Equals(path, expected) => {
                any_at(body, path, &mut |found| equal(found, expected))
            }
            Condition::In(path, values) => any_at(body, path, &mut |found| {
                values.iter().any(|expected| equal(found, expected))
            }),
            Condition::ResultContainsLabel(label) => {
                let path = ["annotation".to_string(), "result".to_string()];
                any_at(body, &path, &mut |region| region_has_label(region, label))
            }
        })
    }
}

fn condition(item: &Value) -> Result<Condition, String> {
    let Value::Object(fields) = item else {
        return Err("Expected a condition object.".into());
    };
    if let Some(label) = fields.get("result_contains_label") {
        if fields.len() > 1 {
            return Err("A result_contains_label condition has no other keys.".into());
        }
        return match label {
            Value::String(text) if !text.is_empty() => {
                Ok(Condition::ResultContainsLabel(text.clone()))
            }
            _ => Err("result_contains_label must be a label's name (a non-empty string).".into()),
        };
    }
    let path = match fields.get("path") {
        Some(Value::String(path))
            if !path.is_empty() && path.split('.').all(|key| !key.is_empty()) =>
        {
            path.split('.').map(str::to_string).collect::<Vec<_>>()
        }
        Some(_) => {
            return Err("path must be keys separated by dots, such as \"task.data.split\".".into());
        }
        None => {
            return Err(
                "A condition needs a path (with equals or in) or result_contains_label.".into(),
            );
        }
    };
    let unknown: Vec<&str> = fields
        .keys()
        .map(String::as_str)
        .filter(|k| !matches!(*k, "path" | "equals" | "in"))
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "Unknown key {:?}: a condition has path with equals or in, or result_contains_label.",
            unknown[0]
        ));
    }
    match (fields.get("equals"), fields.get("in")) {
        (Some(value), None) => Ok(Condition::Equals(path, value.clone())),
        (None, Some(Value::Array(values))) if !values.is_empty() => {
            Ok(Condition::In(path, values.clone()))
        }
        (None, Some(_)) => Err("in must be a non-empty list of values.".into()),
        (Some(_), Some(_)) => Err("Give equals or in, not both.".into()),
        (None, None) => Err(format!(
            "The condition on {:?} needs equals or in.",
            path.join(".")
        )),
    }
}

/// Calls `check` on what `path` leads to from `value` (every item where it meets a list);
/// true if some call is.
fn any_at(
    body: &Map<String, Value>,
    path: &[String],
    check: &mut dyn FnMut(&Value) -> bool,
) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    body.get(first)
        .is_some_and(|value| any_in(value, rest, check))
}

fn any_in(value: &Value, path: &[String], check: &mut dyn FnMut(&Value) -> bool) -> bool {
    match (value, path.split_first()) {
        (Value::Array(items), _) => items.iter().any(|item| any_in(item, path, check)),
        (_, None) => check(value),
        (Value::Object(fields), Some((key, rest))) => fields
            .get(key)
            .is_some_and(|value| any_in(value, rest, check)),
        _ => false,
    }
}

/// Equality as a client means it: numbers by value (`1` is `1.0`).
fn equal(found: &Value, expected: &Value) -> bool {
    match (found, expected) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => found == expected,
    }
}

/// A region has the label if a list in its `value` (`choices`, `labels`,
/// `rectanglelabels`, ...) names it.
fn region_has_label(region: &Value, label: &str) -> bool {
    region["value"].as_object().is_some_and(|value| {
        value.values().any(|v| {
            v.as_array()
                .is_some_and(|items| items.iter().any(|item| item.as_str() == Some(label)))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn conditions_match_paths_lists_and_labels() {
        let filter = Filter::parse(&json!([
            {"path": "task.data.split", "in": ["train", "val"]},
            {"path": "annotation.was_cancelled", "equals": false},
            {"result_contains_label": "Cat"},
        ]))
        .unwrap();
        let cat = json!([{"type": "choices", "value": {"choices": ["Cat"]}}]);
        let event = body(json!({
            "annotation": {"was_cancelled": false, "result": cat},
            "task": {"data": {"split": "train"}},
        }));
        assert!(filter.matches(&event));
        let mut dog = event.clone();
        dog["annotation"]["result"][0]["value"]["choices"] = json!(["Dog"]);
        assert!(!filter.matches(&dog));
        let mut test = event.clone();
        test["task"]["data"]["split"] = json!("test");
        assert!(!filter.matches(&test));
        // A bulk body: some annotation of the list.
        let bulk = body(json!({
            "annotation": [{"was_cancelled": true, "result": []}, {"was_cancelled": false, "result": cat}],
            "task": {"data": {"split": "val"}},
        }));
        assert!(filter.matches(&bulk));
        assert_eq!(Filter::parse(&filter.to_value()).unwrap(), filter);
    }

    #[test]
    fn errors_name_the_condition() {
        let errors = Filter::parse(&json!([
            {"path": "task.data.split", "equals": "train"},
            {"path": "task..x", "equals": 1},
            {"path": "a", "in": []},
            {"equals": 1},
        ]))
        .unwrap_err();
        let indexes: Vec<usize> = errors.iter().map(|(i, _)| *i).collect();
        assert_eq!(indexes, [1, 2, 3]);
    }
}
