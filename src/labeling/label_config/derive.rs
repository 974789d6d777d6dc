//! What Label Studio derives from a valid config:
//!
//! * `parsed_label_config` is the SDK's `parse_config`: every element, in document order, that
//!   has non-empty `name` and `toName` attributes (and is not a `<Filter>`) is a *control* tag;
//!   otherwise one with a non-empty `name` and a non-empty `value` or `valueList` is an *object*
//!   tag. `<Label>`, `<Choice>` and `<Relation>` elements belong to their nearest ancestor that
//!   is a control tag, keyed by `alias`, else `value`, else `valueList`.
//! * `control_weights` is what `Project.get_updated_weights` gives a new project (every weight
//!   1.0).
//! * `data_types` is `extract_data_types`: every element below the root with a `value`
//!   attribute and a non-empty `name` maps the data key of its value to its tag (a `Video` is
//!   never overwritten), whether or not a control tag points at it.
//! * `config_suitable_for_bulk_annotation` is the project serializer's check (see
//!   [`LabelConfig::suitable_for_bulk_annotation`]).

use std::collections::{HashMap, HashSet};

use roxmltree::{Node, NodeId};
use serde_json::{Map, Value};

use super::xml;
use super::{LabelConfig, LabelConfigError, Limits};

/// Distinct `indexFlag` values allowed: every control's `toName` is searched for each one.
pub(super) const MAX_INDEX_FLAGS: usize = 100;
/// `parsed_label_config` may be this many times the largest config allowed.
const DERIVED_BYTES_PER_CONFIG_BYTE: usize = 4;

const LABEL_TAGS: [&str; 3] = ["Label", "Choice", "Relation"];
/// Control tag classes whose presence makes a config unsuitable for bulk annotation
/// (lower-cased tag names, as the SDK maps tags to classes; `MagicWand` is a `Brush`).
const BULK_DISALLOWED: [&str; 16] = [
    "labels",
    "brush",
    "brushlabels",
    "magicwand",
    "ellipse",
    "ellipselabels",
    "keypoint",
    "keypointlabels",
    "polygon",
    "polygonlabels",
    "rectangle",
    "rectanglelabels",
    "hypertextlabels",
    "paragraphlabels",
    "timeserieslabels",
    "videorectangle",
];
const BULK_CHECKED: [&str; 6] = [
    "choices", "taxonomy", "datetime", "number", "rating", "textarea",
];

struct Control {
    name: String,
    /// type, to_name and the optional regex/conditionals/dynamic_labels, in Label Studio's order.
    entry: Map<String, Value>,
    to_name: Vec<String>,
    labels: Map<String, Value>,
    tag_lower: String,
    per_region: bool,
    per_item: bool,
    has_value: bool,
    labeling: bool,
    has_api_url: bool,
}

impl Control {
    /// Label Studio's rules for `config_suitable_for_bulk_annotation`, for one control.
    fn allows_bulk_annotation(&self) -> bool {
        let tag = self.tag_lower.as_str();
        if BULK_DISALLOWED.contains(&tag) {
            return false;
        }
        if BULK_CHECKED.contains(&tag) && (self.per_region || self.per_item) {
            return false;
        }
        if matches!(tag, "choices" | "taxonomy") && self.has_value {
            return false;
        }
        !(tag == "taxonomy" && (self.labeling || self.has_api_url))
    }
}

/// An object tag: its `parsed_label_config` entry and that entry's size in JSON.
struct Input {
    entry: Value,
    bytes: usize,
}

/// Derives everything from a valid config (see the module docs), elements in document order.
pub(super) fn derive(root: Node<'_, '_>, limits: &Limits) -> Result<LabelConfig, LabelConfigError> {
    let mut controls: Vec<Control> = Vec::new();
    // The control each element belongs to (its own or its nearest ancestor's).
    let mut control_of: HashMap<NodeId, usize> = HashMap::new();
    let mut inputs: HashMap<String, Input> = HashMap::new();
    let mut variables: Vec<String> = Vec::new();
    let mut data_types = Map::new();
    let mut data_keys = Vec::new();
    let mut data_keys_seen = HashSet::new();

    for node in root.descendants().filter(Node::is_element) {
        let tag = xml::tag_name(node);
        let get = |key: &str| node.attribute(key);
        let non_empty = |key: &str| get(key).filter(|v| !v.is_empty());

        // `extract_data_types` (elements below the root) and the data keys.
        if node != root
            && let Some(value) = get("value")
            && non_empty("name").is_some()
            && let Some(key) = data_type_key(value)
            && data_types.get(key).and_then(Value::as_str) != Some("Video")
        {
            data_types.insert(key.to_owned(), Value::String(tag.clone()));
        }
        for key in ["value", "valueList"] {
            if let Some(data_key) = get(key).and_then(|v| v.strip_prefix('$'))
                && !data_key.is_empty()
                && data_keys_seen.insert(data_key)
            {
                data_keys.push(data_key.to_owned());
            }
        }

        // `parse_config`.
        if let Some(flag) = get("indexFlag")
            && !variables.iter().any(|v| v == flag)
        {
            if variables.len() == MAX_INDEX_FLAGS {
                return Err(LabelConfigError::TooManyIndexFlags {
                    limit: MAX_INDEX_FLAGS,
                });
            }
            variables.push(flag.to_owned());
        }
        let parent_control = node
            .parent_element()
            .and_then(|parent| control_of.get(&parent.id()).copied());
        let mut own_control = None;
        if let (Some(name), Some(to_name)) = (non_empty("name"), non_empty("toName"))
            && tag != "Filter"
        {
            let to_name: Vec<String> = to_name.split(',').map(str::to_owned).collect();
            let mut entry = Map::new();
            entry.insert("type".into(), Value::String(tag.clone()));
            entry.insert(
                "to_name".into(),
                Value::Array(to_name.iter().cloned().map(Value::String).collect()),
            );
            let mut regex = Map::new();
            for variable in &variables {
                if to_name.iter().any(|n| n.contains(variable.as_str())) {
                    regex.insert(variable.clone(), Value::String(".*".into()));
                }
            }
            if !regex.is_empty() {
                entry.insert("regex".into(), Value::Object(regex));
            }
            if get("perRegion") == Some("true") {
                let conditional = [
                    ("whenTagName", "tag"),
                    ("whenLabelValue", "label"),
                    ("whenChoiceValue", "choice"),
                ]
                .into_iter()
                .find_map(|(attr, kind)| non_empty(attr).map(|v| (kind, v)));
                if let Some((kind, value)) = conditional {
                    let mut conditionals = Map::new();
                    conditionals.insert("type".into(), Value::String(kind.into()));
                    conditionals.insert("name".into(), Value::String(value.into()));
                    entry.insert("conditionals".into(), Value::Object(conditionals));
                }
            }
            if is_data_variable(get("value").unwrap_or("")) || non_empty("apiUrl").is_some() {
                entry.insert("dynamic_labels".into(), Value::Bool(true));
            }
            let is_true = |key: &str| get(key).is_some_and(|v| v.to_lowercase() == "true");
            controls.push(Control {
                name: name.to_owned(),
                entry,
                to_name,
                labels: Map::new(),
                tag_lower: tag.to_lowercase(),
                per_region: is_true("perRegion"),
                per_item: is_true("perItem"),
                has_value: get("value").is_some(),
                labeling: is_true("labeling"),
                has_api_url: get("apiUrl").is_some(),
            });
            own_control = Some(controls.len() - 1);
        } else if let Some(name) = non_empty("name")
            && (non_empty("value").is_some() || non_empty("valueList").is_some())
        {
            let mut input = Map::new();
            input.insert("type".into(), Value::String(tag.clone()));
            input.insert(
                "valueType".into(),
                get("valueType").map_or(Value::Null, |v| Value::String(v.into())),
            );
            if let Some(value) = get("value") {
                input.insert(
                    "value".into(),
                    Value::String(value.trim_start_matches('$').into()),
                );
            } else if let Some(value) = get("valueList") {
                input.insert(
                    "valueList".into(),
                    Value::String(value.trim_start_matches('$').into()),
                );
            }
            let entry = Value::Object(input);
            let bytes = entry.to_string().len();
            inputs.insert(name.to_owned(), Input { entry, bytes });
        }
        if LABEL_TAGS.contains(&tag.as_str())
            && let Some(index) = parent_control
            && let Some(key) = non_empty("alias")
                .or_else(|| non_empty("value"))
                .or_else(|| non_empty("valueList"))
        {
            let all: Map<String, Value> = xml::attributes(node)
                .map(|(k, v)| (k, Value::String(v.to_owned())))
                .collect();
            controls[index]
                .labels
                .insert(key.to_owned(), Value::Object(all));
        }
        if let Some(index) = own_control.or(parent_control) {
            control_of.insert(node.id(), index);
        }
    }

    // Each control lists the object tags its toName names, copies included: bound the copies
    // before making them (a long value named many times would multiply).
    let budget = limits
        .max_bytes
        .saturating_mul(DERIVED_BYTES_PER_CONFIG_BYTE);
    let copied: usize = controls
        .iter()
        .flat_map(|c| c.to_name.iter())
        .filter_map(|name| inputs.get(name))
        .map(|input| input.bytes)
        .fold(0, usize::saturating_add);
    if copied > budget {
        return Err(LabelConfigError::DerivedTooLarge { limit: budget });
    }

    let suitable_for_bulk_annotation = controls.iter().all(Control::allows_bulk_annotation);
    let mut parsed = Map::new();
    let mut weights = Map::new();
    for control in controls {
        let mut entry = control.entry;
        let inputs: Vec<Value> = control
            .to_name
            .iter()
            .filter_map(|name| inputs.get(name).map(|input| input.entry.clone()))
            .collect();
        let labels: Vec<Value> = control.labels.keys().cloned().map(Value::String).collect();
        let mut weight = Map::new();
        weight.insert("overall".into(), Value::from(1.0));
        weight.insert(
            "type".into(),
            entry.get("type").cloned().unwrap_or(Value::Null),
        );
        weight.insert(
            "labels".into(),
            Value::Object(
                control
                    .labels
                    .keys()
                    .map(|label| (label.clone(), Value::from(1.0)))
                    .collect(),
            ),
        );
        entry.insert("inputs".into(), Value::Array(inputs));
        entry.insert("labels".into(), Value::Array(labels));
        entry.insert("labels_attrs".into(), Value::Object(control.labels));
        weights.insert(control.name.clone(), Value::Object(weight));
        parsed.insert(control.name, Value::Object(entry));
    }
    Ok(LabelConfig {
        has_control_tags: !parsed.is_empty(),
        parsed: Value::Object(parsed),
        control_weights: Value::Object(weights),
        data_types: Value::Object(data_types),
        suitable_for_bulk_annotation,
        data_keys,
    })
}

/// The data key `extract_data_types` takes from a `value`: `$key`, else the first `$word`.
fn data_type_key(value: &str) -> Option<&str> {
    if value.len() > 1
        && let Some(key) = value.strip_prefix('$')
    {
        return Some(key);
    }
    value.match_indices('$').find_map(|(at, _)| {
        let rest = &value[at + 1..];
        let end = rest
            .char_indices()
            .find(|&(_, c)| !is_word_char(c))
            .map_or(rest.len(), |(i, _)| i);
        (end > 0).then(|| &rest[..end])
    })
}

/// Python's `\w` for `str` patterns.
fn is_word_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// The SDK's `has_variable`: `^\$[A-Za-z_]+$`.
fn is_data_variable(value: &str) -> bool {
    value.strip_prefix('$').is_some_and(|rest| {
        !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphabetic() || c == '_')
    })
}
