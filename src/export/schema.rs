//! The labeling config as Label Studio's converter sees it: the project's
//! `parsed_label_config` (`{control: {type, to_name, inputs, labels, labels_attrs}}`),
//! the data keys its objects read, and which formats fit it.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::{Map, Value};

use super::formats::Format;

#[derive(Debug, Clone, Default)]
pub struct Schema {
    /// Control name → its description, in the config's order.
    controls: Map<String, Value>,
    /// The task data keys the objects read (`value="$text"` → `text`), without repeats.
    data_keys: Vec<String>,
    /// Control tag types (`Choices`, `RectangleLabels`, ...).
    output_types: HashSet<String>,
    /// Object tag types (`Text`, `Image`, ...); a Text read from a URL does not count.
    input_types: HashSet<String>,
    /// An object reads a list of values (`valueList`): a multi-image config.
    reads_lists: bool,
}

impl Schema {
    pub fn new(parsed_label_config: &Value) -> Schema {
        let controls = parsed_label_config.as_object().cloned().unwrap_or_default();
        let mut schema = Schema {
            controls,
            ..Schema::default()
        };
        for control in schema.controls.values() {
            if let Some(kind) = control.get("type").and_then(Value::as_str) {
                schema.output_types.insert(kind.to_string());
            }
            for input in inputs(control) {
                for key in ["value", "valueList"] {
                    if let Some(name) = input.get(key).and_then(Value::as_str)
                        && !schema.data_keys.iter().any(|k| k == name)
                    {
                        schema.data_keys.push(name.to_string());
                    }
                }
                if input.get("valueList").is_some_and(|v| !v.is_null()) {
                    schema.reads_lists = true;
                }
                let kind = input.get("type").and_then(Value::as_str).unwrap_or("");
                let url_text =
                    kind == "Text" && input.get("valueType").and_then(Value::as_str) == Some("url");
                if !url_text {
                    schema.input_types.insert(kind.to_string());
                }
            }
        }
        schema
    }

    pub fn is_empty(&self) -> bool {
        self.controls.is_empty()
    }

    /// The control type of `from_name` (`Choices`, `Labels`, ...) when the config has it.
    pub fn control_type(&self, from_name: &str) -> Option<&str> {
        self.controls
            .get(from_name)
            .and_then(|c| c.get("type"))
            .and_then(Value::as_str)
    }

    /// The one data key formats such as CONLL2003, COCO and YOLO read.
    pub fn data_key(&self) -> Option<&str> {
        self.data_keys.first().map(String::as_str)
    }

    fn has_output(&self, kind: &str) -> bool {
        self.output_types.contains(kind)
    }

    fn has_input(&self, kind: &str) -> bool {
        self.input_types.contains(kind)
    }

    /// Why the converter's rules leave `format` out for this config (`needs ...`), or
    /// `None`.
    pub fn unsupported(&self, format: Format) -> Option<String> {
        use Format::*;
        if self.data_keys.len() > 1 {
            let tabular = matches!(format, Json | JsonMin | Csv | Tsv);
            let doclang = format == Doclang && self.supports_doclang();
            if tabular || doclang {
                return None;
            }
            return Some(format!(
                "needs one data field, and the labeling config reads {} (${}); Label Studio then offers only JSON, JSON-MIN, CSV and TSV",
                self.data_keys.len(),
                self.data_keys.join(", $")
            ));
        }
        let image = self.has_input("Image");
        let labels = self.has_output("Labels");
        let keypoints_only =
            self.has_output("KeyPointLabels") && !self.has_output("RectangleLabels");
        let detection = !self.reads_lists
            && ((image
                && (self.has_output("RectangleLabels")
                    || self.has_output("PolygonLabels")
                    || self.has_output("KeyPointLabels")))
                || (labels
                    && (self.has_output("Rectangle")
                        || self.has_output("PolygonLabels")
                        || self.has_output("KeyPointLabels"))));
        let needs_detection = "needs an Image labeled with RectangleLabels, PolygonLabels or KeyPointLabels (one image per task)";
        let reason: Option<&str> = match format {
            Json | JsonMin | Csv | Tsv => None,
            Conll2003 if !(self.has_input("Text") && labels) => {
                Some("needs a Text object labeled with Labels (named entities)")
            }
            Coco | CocoWithImages | Yolo | YoloWithImages if keypoints_only => {
                Some("needs RectangleLabels beside the KeyPointLabels")
            }
            Coco | CocoWithImages | Yolo | YoloWithImages | YoloObb | YoloObbWithImages
                if !detection =>
            {
                Some(needs_detection)
            }
            YoloObb | YoloObbWithImages
                if self.has_input("Video") && self.has_output("TimelineLabels") =>
            {
                Some("video timelines have no oriented boxes")
            }
            Voc if self.reads_lists
                || !(image
                    && (self.has_output("RectangleLabels")
                        || (self.has_output("Rectangle") && labels))) =>
            {
                Some("needs an Image labeled with RectangleLabels (one image per task)")
            }
            BrushToNumpy | BrushToPng | BrushToCoco
                if !(image
                    && (self.has_output("BrushLabels")
                        || self.has_output("brushlabels")
                        || (self.has_output("Brush") && labels))) =>
            {
                Some("needs an Image labeled with BrushLabels")
            }
            AsrManifest
                if !((self.has_input("Audio") || self.has_input("AudioPlus"))
                    && self.has_output("TextArea")) =>
            {
                Some("needs Audio transcribed with a TextArea")
            }
            Doclang if !self.supports_doclang() => {
                Some("needs a TextArea, ReactCode or CustomInterface")
            }
            _ => None,
        };
        reason.map(str::to_string)
    }

    fn supports_doclang(&self) -> bool {
        ["TextArea", "ReactCode", "CustomInterface"]
            .iter()
            .any(|t| self.has_output(t))
    }

    /// COCO and YOLO categories before any annotation is read: the labels of every control,
    /// those with a `category` attribute at that id, the others numbered in name order from
    /// the first free id.
    pub fn categories(&self) -> Categories {
        let mut labels = BTreeSet::new();
        let mut categories = Categories::default();
        for control in self.controls.values() {
            if let Some(names) = control.get("labels").and_then(Value::as_array) {
                labels.extend(names.iter().filter_map(Value::as_str).map(str::to_string));
            }
            let Some(attrs) = control.get("labels_attrs").and_then(Value::as_object) else {
                continue;
            };
            for (label, attributes) in attrs {
                let id = match attributes.get("category") {
                    Some(Value::String(text)) => text.trim().parse::<i64>().ok(),
                    Some(Value::Number(n)) => n.as_i64(),
                    _ => None,
                };
                if let Some(id) = id {
                    categories.list.push((id, label.clone()));
                    categories.ids.insert(label.clone(), id);
                }
            }
        }
        let used: HashSet<i64> = categories.ids.values().copied().collect();
        let mut free = (0..).filter(|id| !used.contains(id));
        for label in labels {
            if categories.ids.contains_key(&label) {
                continue;
            }
            let id = free.next().unwrap_or_default();
            categories.list.push((id, label.clone()));
            categories.ids.insert(label, id);
        }
        categories
    }
}

/// COCO and YOLO categories: `(id, name)` in the order they were added, and each name's id.
#[derive(Debug, Clone, Default)]
pub struct Categories {
    pub list: Vec<(i64, String)>,
    ids: HashMap<String, i64>,
}

impl Categories {
    /// The id of `name`, adding it (with the next id by count, as Label Studio does) when the
    /// config does not have it.
    pub fn id(&mut self, name: &str) -> i64 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = self.list.len() as i64;
        self.list.push((id, name.to_string()));
        self.ids.insert(name.to_string(), id);
        id
    }
}

fn inputs(control: &Value) -> impl Iterator<Item = &Value> {
    control
        .get("inputs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn explicit_categories_keep_their_ids_and_the_others_fill_the_gaps() {
        let schema = Schema::new(&json!({
            "box": {"type": "RectangleLabels", "to_name": ["image"], "inputs": [{"type": "Image", "value": "image"}],
                    "labels": ["cat", "dog"], "labels_attrs": {"cat": {"value": "cat"}, "dog": {"value": "dog"}}},
            "poly": {"type": "PolygonLabels", "to_name": ["image"], "inputs": [{"type": "Image", "value": "image"}],
                     "labels": ["cat", "bird"], "labels_attrs": {"cat": {"value": "cat"}, "bird": {"value": "bird", "category": "0"}}}
        }));
        let categories = schema.categories().list;
        assert_eq!(
            categories,
            vec![(0, "bird".into()), (1, "cat".into()), (2, "dog".into())]
        );
        assert!(schema.unsupported(Format::Coco).is_none());
        assert!(schema.unsupported(Format::Conll2003).is_some());
    }
}
