//! What Label Studio derives from a project's labeling config (XML), and the checks it applies
//! when a config is saved.
//!
//! This reimplements the behaviour of label-studio 1.23.2 and of label-studio-sdk 2.1.2 (the
//! version 1.23.2 pins):
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
//! * Validation is `validate_label_config`: well-formed XML without a DTD, the subset of
//!   Label Studio's JSON schema that its (badgerfish) conversion of the XML is checked against,
//!   unique names, and every `toName` naming some tag's `name`.
//!
//! One check is stricter than Label Studio: the root element must be `<View>` (Label Studio
//! accepts any root, and its editor then fails to render the config).
//!
//! The parser never recurses (nesting depth is bounded only by memory), never expands entities
//! other than XML's predefined ones and character references, and rejects any `<!DOCTYPE`.

use std::collections::{HashMap, HashSet};

use quick_xml::Reader;
use quick_xml::events::{BytesRef, BytesStart, Event};
use serde_json::{Map, Value};

/// What Label Studio derives from a project's label config.
#[derive(Debug, Clone)]
pub struct LabelConfig {
    /// `parsed_label_config`: {control_name: {type, to_name, inputs, labels, labels_attrs}} (serde_json::Value object)
    pub parsed: serde_json::Value,
    /// `control_weights`: {control_name: {overall: 1.0, type, labels: {label: 1.0}}}
    pub control_weights: serde_json::Value,
    /// `data_types`: {object_value_without_dollar: ObjectTagType}
    pub data_types: serde_json::Value,
    /// `config_has_control_tags`
    pub has_control_tags: bool,
    /// `config_suitable_for_bulk_annotation`
    ///
    /// As Label Studio 1.23.2 computes it: false if any control tag is a `Labels`, `Brush`,
    /// `BrushLabels`, `MagicWand`, `Ellipse`, `EllipseLabels`, `KeyPoint`, `KeyPointLabels`,
    /// `Polygon`, `PolygonLabels`, `Rectangle`, `RectangleLabels`, `HyperTextLabels`,
    /// `ParagraphLabels`, `TimeSeriesLabels` or `VideoRectangle` (tag names compared
    /// case-insensitively); false if a `Choices`, `Taxonomy`, `DateTime`, `Number`, `Rating` or
    /// `TextArea` control has `perRegion="true"` or `perItem="true"`; false if a `Choices` or
    /// `Taxonomy` control has a `value` attribute at all; false if a `Taxonomy` control has
    /// `labeling="true"` or an `apiUrl` attribute; true otherwise — including for a config
    /// without any control tag, as in Label Studio.
    pub suitable_for_bulk_annotation: bool,
    /// the data keys the config reads ($text -> "text"), in document order, deduplicated
    ///
    /// Every `value` or `valueList` attribute of any element (object tags, `<Header>`,
    /// `<Choices value="$options">`, ...) of the form `$key` contributes `key`, the text after
    /// the `$`.
    pub data_keys: Vec<String>,
}

/// Why a label config is rejected. Each message is meant for the API user who sent it.
#[derive(Debug, thiserror::Error)]
pub enum LabelConfigError {
    /// The text is not well-formed XML. `position` is a byte offset into the config.
    #[error(
        "label_config is not valid XML: {message} at position {position} (line {line}, column {column})"
    )]
    Xml {
        message: String,
        position: usize,
        line: usize,
        column: usize,
    },
    /// A `<!DOCTYPE ...>` declaration: Label Studio forbids DTDs (and so custom entities).
    #[error(
        "label_config must not contain a DOCTYPE declaration (found at position {position}): DTDs and custom entities are not allowed"
    )]
    Doctype { position: usize },
    /// The root element is not `<View>`.
    #[error("the root tag must be <View>, found <{found}>")]
    RootNotView { found: String },
    /// A `<Choices>` or `<Labels>` tag with nothing to choose from: no `<Choice>`/`<Label>`
    /// child, no `value` attribute (labels from task data) and no nested `<View>`.
    #[error(
        "{element} has no <{child}> tags: add at least one <{child} value=\"...\"/>, a value=\"$field\" attribute to take them from task data, or a nested <View> holding them"
    )]
    NoLabels { element: String, child: String },
    /// Another part of the structure Label Studio's config schema requires. `path` lists the
    /// tags from the root down to the offending one.
    #[error("Validation failed on {path}: {message}")]
    Schema { path: String, message: String },
    /// Two tags share a `name`.
    #[error("Label config contains non-unique names: name=\"{name}\" is used by more than one tag")]
    DuplicateName { name: String },
    /// A `toName` entry that is not the `name` of any tag.
    #[error("toName=\"{to_name}\" of {element} names no tag in the config (known names: {known})")]
    UnknownToName {
        to_name: String,
        element: String,
        known: String,
    },
}

/// Parses and validates a label config. An empty or whitespace-only config is `<View></View>`.
pub fn parse(xml: &str) -> Result<LabelConfig, LabelConfigError> {
    if xml.trim_start_matches('\u{feff}').trim().is_empty() {
        return Walker::new("<View></View>").run();
    }
    Walker::new(xml).run()
}

const LABEL_TAGS: [&str; 3] = ["Label", "Choice", "Relation"];
const XML_NAMESPACE: &str = "http://www.w3.org/XML/1998/namespace";
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
/// At most this many names are listed in an [`LabelConfigError::UnknownToName`] message.
const MAX_KNOWN_NAMES: usize = 30;
/// At most this many tags are shown in an [`LabelConfigError::Schema`] path.
const MAX_PATH_TAGS: usize = 12;

/// The part of Label Studio's config schema an element is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Not checked (neither are its descendants).
    None,
    /// The root `<View>`.
    RootView,
    /// A `<View>` reached from the root through `<View>`s only (`fixed`: Label Studio wraps a
    /// single `<Choice>` of its `<Choices>` children in a list), or through a
    /// `<Choices>`/`<Labels>` (not `fixed`).
    View {
        fixed: bool,
    },
    Choices,
    Labels,
    /// `<Label>`/`<Choice>`: needs a `value`.
    WithValue,
    /// `<Image>`/`<Text>`/`<HyperText>`: needs a `name` and exactly one of `value`/`valueList`.
    Object,
    /// `<TextArea>`/`<Number>`: needs a `name` and a `toName`.
    NameToName,
}

impl Check {
    fn for_child(self, tag: &str) -> Check {
        match self {
            Check::RootView | Check::View { .. } => {
                let fixed = matches!(self, Check::RootView | Check::View { fixed: true });
                match tag {
                    "View" => Check::View { fixed },
                    "Choices" => Check::Choices,
                    "Labels" => Check::Labels,
                    // The schema's root View lists no Label/Choice; nested Views do.
                    "Label" | "Choice" if self != Check::RootView => Check::WithValue,
                    "Image" | "Text" | "HyperText" => Check::Object,
                    "TextArea" | "Number" => Check::NameToName,
                    _ => Check::None,
                }
            }
            Check::Choices => match tag {
                "Choice" => Check::WithValue,
                "View" => Check::View { fixed: false },
                _ => Check::None,
            },
            Check::Labels => match tag {
                "Label" => Check::WithValue,
                "View" => Check::View { fixed: false },
                _ => Check::None,
            },
            _ => Check::None,
        }
    }

    /// Whether the schema constrains the element's text (`$` in badgerfish) to a string.
    fn checks_text(self) -> bool {
        !matches!(self, Check::None | Check::RootView | Check::View { .. })
    }
}

/// A `<Choices>` child of a `fixed` `<View>`, kept until the `<View>` closes.
struct ChoicesChild {
    choices: usize,
    element: String,
    path: String,
}

/// An open element.
struct Frame {
    tag: String,
    raw_tag: String,
    name: Option<String>,
    /// Namespace prefixes this element binds (popped when it closes).
    ns_bound: Vec<String>,
    /// Index of the nearest control tag among this element and its ancestors.
    control: Option<usize>,
    check: Check,
    has_name: bool,
    has_to_name: bool,
    has_value: bool,
    /// Text before the first child element (badgerfish's `$`), when `check.checks_text()`.
    text: String,
    saw_child: bool,
    choice_children: usize,
    label_children: usize,
    view_children: usize,
    choices_children: Vec<ChoicesChild>,
}

impl Frame {
    fn element(&self) -> String {
        describe(&self.tag, self.name.as_deref())
    }
}

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

struct Walker<'a> {
    src: &'a str,
    stack: Vec<Frame>,
    /// In-scope namespace bindings, innermost last; "" is the default namespace.
    namespaces: HashMap<String, Vec<String>>,
    root_tag: Option<String>,
    root_closed: bool,
    controls: Vec<Control>,
    inputs: HashMap<String, Value>,
    variables: Vec<String>,
    variables_seen: HashSet<String>,
    data_types: Map<String, Value>,
    data_keys: Vec<String>,
    data_keys_seen: HashSet<String>,
    /// The document re-serialized as Python's ElementTree writes it, which Label Studio
    /// searches with the regexes `name="([^"]*)"` and `toName="([^"]*)"` for its name checks.
    serialized: String,
    /// For each start tag in `serialized`: where it starts and ends, and the element.
    tag_spans: Vec<(usize, usize, String)>,
    schema_error: Option<LabelConfigError>,
}

impl<'a> Walker<'a> {
    fn new(src: &'a str) -> Self {
        Walker {
            src,
            stack: Vec::new(),
            namespaces: HashMap::new(),
            root_tag: None,
            root_closed: false,
            controls: Vec::new(),
            inputs: HashMap::new(),
            variables: Vec::new(),
            variables_seen: HashSet::new(),
            data_types: Map::new(),
            data_keys: Vec::new(),
            data_keys_seen: HashSet::new(),
            serialized: String::new(),
            tag_spans: Vec::new(),
            schema_error: None,
        }
    }

    fn xml_error(&self, position: usize, message: impl Into<String>) -> LabelConfigError {
        let position = position.min(self.src.len());
        let mut at = position;
        while !self.src.is_char_boundary(at) {
            at -= 1;
        }
        let before = &self.src[..at];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        LabelConfigError::Xml {
            message: message.into(),
            position,
            line,
            column,
        }
    }

    fn run(mut self) -> Result<LabelConfig, LabelConfigError> {
        if let Some((at, c)) = self.src.char_indices().find(|&(_, c)| !is_xml_char(c)) {
            return Err(self.xml_error(
                at,
                format!("character U+{:04X} is not allowed in XML", u32::from(c)),
            ));
        }
        let body = self.src.strip_prefix('\u{feff}').unwrap_or(self.src);
        let base = self.src.len() - body.len();
        let mut reader = Reader::from_str(body);
        let config = reader.config_mut();
        config.expand_empty_elements = true;
        config.check_comments = true;
        config.check_end_names = true;
        config.trim_text(false);
        let mut first_event = true;
        loop {
            let pos = base + usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
            let event = match reader.read_event() {
                Ok(event) => event,
                Err(e) => {
                    let at = usize::try_from(reader.error_position()).unwrap_or(usize::MAX);
                    return Err(self.xml_error(base.saturating_add(at), e.to_string()));
                }
            };
            let was_first = std::mem::replace(&mut first_event, false);
            match event {
                Event::Start(e) => self.open(&e, pos)?,
                Event::End(_) => self.close(),
                Event::Empty(e) => {
                    // Not produced with expand_empty_elements, handled for completeness.
                    self.open(&e, pos)?;
                    self.close();
                }
                Event::Text(t) => {
                    let text = t.decode().map_err(|e| self.xml_error(pos, e.to_string()))?;
                    if self.stack.is_empty() {
                        if !text.chars().all(is_xml_space) {
                            return Err(
                                self.xml_error(pos, "text is not allowed outside the root element")
                            );
                        }
                    } else {
                        if text.contains("]]>") {
                            return Err(self.xml_error(
                                pos,
                                "the sequence ']]>' is not allowed in text content",
                            ));
                        }
                        self.add_text(&text);
                    }
                }
                Event::CData(c) => {
                    if self.stack.is_empty() {
                        return Err(
                            self.xml_error(pos, "CDATA is not allowed outside the root element")
                        );
                    }
                    let text = c.decode().map_err(|e| self.xml_error(pos, e.to_string()))?;
                    self.add_text(&text);
                }
                Event::GeneralRef(r) => {
                    if self.stack.is_empty() {
                        return Err(self.xml_error(
                            pos,
                            "entity references are not allowed outside the root element",
                        ));
                    }
                    let c = resolve_reference(&r).map_err(|m| self.xml_error(pos, m))?;
                    let mut buf = [0u8; 4];
                    self.add_text(c.encode_utf8(&mut buf));
                }
                Event::Decl(_) => {
                    if !was_first || pos != base {
                        return Err(self.xml_error(
                            pos,
                            "the XML declaration is allowed only at the start of the document",
                        ));
                    }
                    if !is_xml_declaration(body) {
                        return Err(self.xml_error(pos, "malformed XML declaration"));
                    }
                }
                Event::PI(pi) => {
                    let target = std::str::from_utf8(pi.target()).unwrap_or("");
                    if !is_qname(target) || target.contains(':') {
                        return Err(self.xml_error(
                            pos,
                            format!("'{target}' is not a valid processing instruction target"),
                        ));
                    }
                    if target.eq_ignore_ascii_case("xml") {
                        return Err(self.xml_error(
                            pos,
                            "the XML declaration is allowed only at the start of the document",
                        ));
                    }
                }
                Event::DocType(_) => return Err(LabelConfigError::Doctype { position: pos }),
                Event::Comment(_) => {}
                Event::Eof => {
                    let end = self.src.len();
                    if let Some(frame) = self.stack.last() {
                        return Err(
                            self.xml_error(end, format!("tag <{}> is never closed", frame.raw_tag))
                        );
                    }
                    if self.root_tag.is_none() {
                        return Err(self.xml_error(end, "the document has no root element"));
                    }
                    break;
                }
            }
        }
        self.finish()
    }

    fn add_text(&mut self, text: &str) {
        escape_into(&mut self.serialized, text, false);
        if let Some(frame) = self.stack.last_mut()
            && frame.check.checks_text()
            && !frame.saw_child
        {
            frame.text.push_str(text);
        }
    }

    /// Resolves a qualified element (`element`) or attribute name to lxml's `{uri}local` form.
    fn resolve(&self, qname: &str, element: bool, pos: usize) -> Result<String, LabelConfigError> {
        match qname.split_once(':') {
            Some((prefix, local)) => {
                let uri = if prefix == "xml" {
                    Some(XML_NAMESPACE)
                } else {
                    self.namespaces
                        .get(prefix)
                        .and_then(|uris| uris.last())
                        .map(String::as_str)
                        .filter(|uri| !uri.is_empty())
                };
                match uri {
                    Some(uri) => Ok(format!("{{{uri}}}{local}")),
                    None => Err(self.xml_error(
                        pos,
                        format!("namespace prefix '{prefix}' of '{qname}' is not declared"),
                    )),
                }
            }
            None if element => match self.namespaces.get("").and_then(|uris| uris.last()) {
                Some(uri) if !uri.is_empty() => Ok(format!("{{{uri}}}{qname}")),
                _ => Ok(qname.to_owned()),
            },
            None => Ok(qname.to_owned()),
        }
    }

    fn open(&mut self, e: &BytesStart<'_>, pos: usize) -> Result<(), LabelConfigError> {
        if self.root_closed {
            return Err(self.xml_error(
                pos,
                "only one root element is allowed (extra content after the root element)",
            ));
        }
        let raw_tag = std::str::from_utf8(e.name().into_inner())
            .map_err(|err| self.xml_error(pos, err.to_string()))?;
        if !is_qname(raw_tag) {
            return Err(self.xml_error(pos, format!("'{raw_tag}' is not a valid tag name")));
        }

        if !attributes_separated(e.attributes_raw()) {
            return Err(self.xml_error(
                pos,
                format!("attributes of <{raw_tag}> must be separated by whitespace"),
            ));
        }
        // Attributes, unescaped, with XML's attribute-value normalization.
        let mut raw_attrs: Vec<(&str, String)> = Vec::new();
        for attr in e.attributes() {
            let attr = attr.map_err(|err| {
                self.xml_error(pos, format!("malformed attributes in <{raw_tag}>: {err}"))
            })?;
            let key = std::str::from_utf8(attr.key.into_inner())
                .map_err(|err| self.xml_error(pos, err.to_string()))?;
            if !is_qname(key) {
                return Err(self.xml_error(
                    pos,
                    format!("'{key}' is not a valid attribute name in <{raw_tag}>"),
                ));
            }
            let raw = std::str::from_utf8(&attr.value)
                .map_err(|err| self.xml_error(pos, err.to_string()))?;
            if raw.contains('<') {
                return Err(self.xml_error(
                    pos,
                    format!("'<' is not allowed in the value of attribute {key} of <{raw_tag}>"),
                ));
            }
            let value = quick_xml::escape::unescape(&normalize_attribute(raw))
                .map_err(|err| {
                    self.xml_error(
                        pos,
                        format!(
                            "bad reference in the value of attribute {key} of <{raw_tag}>: {err}"
                        ),
                    )
                })?
                .into_owned();
            if let Some(c) = value.chars().find(|&c| !is_xml_char(c)) {
                return Err(self.xml_error(
                    pos,
                    format!(
                        "attribute {key} of <{raw_tag}> refers to character U+{:04X}, which is not allowed in XML",
                        u32::from(c)
                    ),
                ));
            }
            raw_attrs.push((key, value));
        }

        // Namespaces, as lxml resolves them.
        let mut ns_bound = Vec::new();
        for (key, value) in &raw_attrs {
            let prefix = if *key == "xmlns" {
                ""
            } else if let Some(prefix) = key.strip_prefix("xmlns:") {
                prefix
            } else {
                continue;
            };
            if !is_namespace_uri(value) || (value.is_empty() && !prefix.is_empty()) {
                return Err(self.xml_error(
                    pos,
                    format!("{key}=\"{value}\" is not a valid namespace URI"),
                ));
            }
            self.namespaces
                .entry(prefix.to_owned())
                .or_default()
                .push(value.clone());
            ns_bound.push(prefix.to_owned());
        }
        let mut frame = Frame {
            tag: String::new(),
            raw_tag: raw_tag.to_owned(),
            name: None,
            ns_bound,
            control: None,
            check: Check::None,
            has_name: false,
            has_to_name: false,
            has_value: false,
            text: String::new(),
            saw_child: false,
            choice_children: 0,
            label_children: 0,
            view_children: 0,
            choices_children: Vec::new(),
        };
        // An error ends the walk, so the bindings above need no unwinding on the way out.
        let tag = self.resolve(raw_tag, true, pos)?;
        let mut attrs: Vec<(String, String)> = Vec::with_capacity(raw_attrs.len());
        let tag_start = self.serialized.len();
        self.serialized.push('<');
        self.serialized.push_str(raw_tag);
        for (key, value) in raw_attrs {
            if key == "xmlns" || key.starts_with("xmlns:") {
                continue;
            }
            let resolved = self.resolve(key, false, pos)?;
            self.serialized.push(' ');
            self.serialized.push_str(key);
            self.serialized.push_str("=\"");
            escape_into(&mut self.serialized, &value, true);
            self.serialized.push('"');
            attrs.push((resolved, value));
        }
        self.serialized.push('>');
        let get = |key: &str| {
            attrs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        let non_empty = |key: &str| get(key).filter(|v| !v.is_empty());

        frame.tag = tag;
        frame.name = get("name").map(str::to_owned);
        let element = frame.element();
        self.tag_spans
            .push((tag_start, self.serialized.len(), element.clone()));

        // Schema role, derived from the parent's.
        let is_root = self.stack.is_empty();
        frame.check = match self.stack.last_mut() {
            None if frame.tag == "View" => Check::RootView,
            None => Check::None,
            Some(parent) => {
                parent.saw_child = true;
                match frame.tag.as_str() {
                    "Choice" => parent.choice_children += 1,
                    "Label" => parent.label_children += 1,
                    "View" => parent.view_children += 1,
                    _ => {}
                }
                parent.check.for_child(&frame.tag)
            }
        };
        frame.has_name = get("name").is_some();
        frame.has_to_name = get("toName").is_some();
        frame.has_value = get("value").is_some();
        if is_root {
            self.root_tag = Some(frame.tag.clone());
        }

        // `extract_data_types` (elements below the root) and the data keys.
        if !is_root
            && let Some(value) = get("value")
            && non_empty("name").is_some()
            && let Some(key) = data_type_key(value)
            && self.data_types.get(key).and_then(Value::as_str) != Some("Video")
        {
            self.data_types
                .insert(key.to_owned(), Value::String(frame.tag.clone()));
        }
        for key in ["value", "valueList"] {
            if let Some(value) = get(key)
                && let Some(data_key) = value.strip_prefix('$')
                && !data_key.is_empty()
                && self.data_keys_seen.insert(data_key.to_owned())
            {
                self.data_keys.push(data_key.to_owned());
            }
        }

        // `parse_config`.
        if let Some(flag) = get("indexFlag")
            && self.variables_seen.insert(flag.to_owned())
        {
            self.variables.push(flag.to_owned());
        }
        let parent_control = self.stack.last().and_then(|parent| parent.control);
        let mut own_control = None;
        if let (Some(name), Some(to_name)) = (non_empty("name"), non_empty("toName"))
            && frame.tag != "Filter"
        {
            let to_name: Vec<String> = to_name.split(',').map(str::to_owned).collect();
            let mut entry = Map::new();
            entry.insert("type".into(), Value::String(frame.tag.clone()));
            entry.insert(
                "to_name".into(),
                Value::Array(to_name.iter().cloned().map(Value::String).collect()),
            );
            let mut regex = Map::new();
            for variable in &self.variables {
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
            self.controls.push(Control {
                name: name.to_owned(),
                entry,
                to_name,
                labels: Map::new(),
                tag_lower: frame.tag.to_lowercase(),
                per_region: is_true("perRegion"),
                per_item: is_true("perItem"),
                has_value: get("value").is_some(),
                labeling: is_true("labeling"),
                has_api_url: get("apiUrl").is_some(),
            });
            own_control = Some(self.controls.len() - 1);
        } else if let Some(name) = non_empty("name")
            && (non_empty("value").is_some() || non_empty("valueList").is_some())
        {
            let mut input = Map::new();
            input.insert("type".into(), Value::String(frame.tag.clone()));
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
            self.inputs.insert(name.to_owned(), Value::Object(input));
        }
        if LABEL_TAGS.contains(&frame.tag.as_str())
            && let Some(index) = parent_control
            && let Some(key) = non_empty("alias")
                .or_else(|| non_empty("value"))
                .or_else(|| non_empty("valueList"))
        {
            let all: Map<String, Value> = attrs
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            self.controls[index]
                .labels
                .insert(key.to_owned(), Value::Object(all));
        }
        frame.control = own_control.or(parent_control);

        // Schema checks that need only the attributes.
        let mut problem: Option<String> = None;
        let not_string = |key: &str| get(key).is_some_and(badgerfish_not_string);
        match frame.check {
            Check::WithValue if get("value").is_none() => {
                problem = Some(format!("{element} needs a value attribute"));
            }
            Check::Object => {
                let value = get("value").is_some();
                let value_list = get("valueList").is_some();
                if !frame.has_name {
                    problem = Some(format!("{element} needs a name attribute"));
                } else if !value && !value_list {
                    problem = Some(format!("{element} needs a value (or valueList) attribute"));
                } else if value && value_list {
                    problem = Some(format!(
                        "{element} must not have both a value and a valueList attribute"
                    ));
                } else if not_string("valueList") {
                    problem = Some(format!(
                        "valueList of {element} must be a string, not a number or boolean"
                    ));
                }
            }
            Check::NameToName | Check::Choices | Check::Labels => {
                if frame.check == Check::NameToName && !(frame.has_name && frame.has_to_name) {
                    problem = Some(format!(
                        "{element} needs both a name and a toName attribute"
                    ));
                } else if let Some(key) = ["name", "toName"].into_iter().find(|k| not_string(k)) {
                    problem = Some(format!(
                        "{key} of {element} must be a string, not a number or boolean"
                    ));
                }
            }
            _ => {}
        }
        self.stack.push(frame);
        if let Some(message) = problem {
            self.schema_problem(message);
        }
        Ok(())
    }

    /// Records a schema violation of the top element (the first one found wins).
    fn schema_problem(&mut self, message: String) {
        if self.schema_error.is_none() {
            self.schema_error = Some(LabelConfigError::Schema {
                path: self.path(),
                message,
            });
        }
    }

    fn path(&self) -> String {
        let skip = self.stack.len().saturating_sub(MAX_PATH_TAGS);
        let tags: Vec<&str> = self.stack[skip..].iter().map(|f| f.tag.as_str()).collect();
        if skip > 0 {
            format!(".../{}", tags.join("/"))
        } else {
            tags.join("/")
        }
    }

    fn unbind(&mut self, prefixes: &[String]) {
        for prefix in prefixes {
            if let Some(uris) = self.namespaces.get_mut(prefix) {
                uris.pop();
            }
        }
    }

    fn close(&mut self) {
        // Schema checks that need the element's content, while it is still on the stack.
        if let Some(frame) = self.stack.last() {
            let element = frame.element();
            let check = frame.check;
            let mut problem = None;
            // badgerfish converts the unstripped text when its stripped form is not empty.
            let text = frame.text.as_str();
            if check.checks_text() && !text.trim().is_empty() && badgerfish_not_string(text) {
                problem = Some(format!(
                    "the text inside {element} must not be a number or boolean"
                ));
            }
            if problem.is_none() && matches!(check, Check::Choices | Check::Labels) {
                let (child, children) = if check == Check::Choices {
                    ("Choice", frame.choice_children)
                } else {
                    ("Label", frame.label_children)
                };
                if !(frame.has_name && frame.has_to_name) {
                    problem = Some(format!(
                        "{element} needs both a name and a toName attribute"
                    ));
                } else if children == 0
                    && !frame.has_value
                    && frame.view_children == 0
                    && self.schema_error.is_none()
                {
                    self.schema_error = Some(LabelConfigError::NoLabels {
                        element: element.clone(),
                        child: child.into(),
                    });
                }
            }
            let mut single_choice = None;
            if check == Check::Choices {
                let parent_fixed = self.stack.len() >= 2
                    && matches!(
                        self.stack[self.stack.len() - 2].check,
                        Check::RootView | Check::View { fixed: true }
                    );
                if parent_fixed {
                    let path = self.path();
                    let choices = frame.choice_children;
                    let len = self.stack.len();
                    self.stack[len - 2].choices_children.push(ChoicesChild {
                        choices,
                        element: element.clone(),
                        path,
                    });
                } else if frame.choice_children == 1 {
                    single_choice = Some((self.path(), element.clone()));
                }
            }
            if let Some(frame) = self.stack.last()
                && matches!(frame.check, Check::RootView | Check::View { fixed: true })
                && frame.choices_children.len() > 1
                && frame.choices_children.iter().any(|c| c.choices == 0)
                && let Some(child) = frame.choices_children.iter().find(|c| c.choices == 1)
            {
                single_choice = Some((child.path.clone(), child.element.clone()));
            }
            if let Some(message) = problem {
                self.schema_problem(message);
            }
            if let Some((path, element)) = single_choice
                && self.schema_error.is_none()
            {
                self.schema_error = Some(LabelConfigError::Schema {
                    path,
                    message: format!(
                        "{element} has a single <Choice>, which Label Studio rejects here (it \
                         expects a list): add another <Choice>; this happens inside a <View> \
                         nested in a <Choices>/<Labels>, or next to a sibling <Choices> \
                         without <Choice> tags"
                    ),
                });
            }
        }
        if let Some(frame) = self.stack.pop() {
            self.serialized.push_str("</");
            self.serialized.push_str(&frame.raw_tag);
            self.serialized.push('>');
            self.unbind(&frame.ns_bound);
            if self.stack.is_empty() {
                self.root_closed = true;
            }
        }
    }

    /// The element whose start tag holds offset `at` of `serialized`, or whose text does.
    fn element_at(&self, at: usize) -> String {
        let index = self.tag_spans.partition_point(|&(start, _, _)| start <= at);
        match index.checked_sub(1).map(|i| &self.tag_spans[i]) {
            Some((_, end, element)) if at < *end => element.clone(),
            Some((_, _, element)) => format!("the text following {element}"),
            None => "the config".into(),
        }
    }

    fn finish(self) -> Result<LabelConfig, LabelConfigError> {
        if let Some(root) = &self.root_tag
            && root != "View"
        {
            return Err(LabelConfigError::RootNotView {
                found: root.clone(),
            });
        }
        if let Some(err) = self.schema_error {
            return Err(err);
        }
        let mut known: HashSet<&str> = HashSet::new();
        for (_, name) in regex_captures(&self.serialized, "name=\"") {
            if !known.insert(name) {
                return Err(LabelConfigError::DuplicateName {
                    name: name.to_owned(),
                });
            }
        }
        for (at, to_name) in regex_captures(&self.serialized, "toName=\"") {
            for part in to_name.split(',') {
                if !known.contains(part) {
                    let mut sorted: Vec<&str> = known.iter().copied().collect();
                    sorted.sort_unstable();
                    let mut listed = sorted
                        .iter()
                        .take(MAX_KNOWN_NAMES)
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ");
                    if sorted.is_empty() {
                        listed = "none".into();
                    } else if sorted.len() > MAX_KNOWN_NAMES {
                        listed.push_str(", ...");
                    }
                    return Err(LabelConfigError::UnknownToName {
                        to_name: part.to_owned(),
                        element: self.element_at(at),
                        known: listed,
                    });
                }
            }
        }

        let suitable_for_bulk_annotation = self.controls.iter().all(|c| {
            let tag = c.tag_lower.as_str();
            if BULK_DISALLOWED.contains(&tag) {
                return false;
            }
            if BULK_CHECKED.contains(&tag) && (c.per_region || c.per_item) {
                return false;
            }
            if matches!(tag, "choices" | "taxonomy") && c.has_value {
                return false;
            }
            !(tag == "taxonomy" && (c.labeling || c.has_api_url))
        });

        let mut parsed = Map::new();
        let mut weights = Map::new();
        for control in self.controls {
            let mut entry = control.entry;
            let inputs: Vec<Value> = control
                .to_name
                .iter()
                .filter_map(|name| self.inputs.get(name).cloned())
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
            data_types: Value::Object(self.data_types),
            suitable_for_bulk_annotation,
            data_keys: self.data_keys,
        })
    }
}

/// The values Python's `re.findall(prefix + '([^"]*)"', text)` returns, with their offsets.
fn regex_captures<'t>(text: &'t str, prefix: &str) -> Vec<(usize, &'t str)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find(prefix) {
        let start = from + at + prefix.len();
        let Some(len) = text[start..].find('"') else {
            break;
        };
        found.push((from + at, &text[start..start + len]));
        from = start + len + 1;
    }
    found
}

/// Whether `doc` starts with a well-formed XML declaration
/// (`<?xml version="1.x" encoding="..." standalone="yes|no"?>`, the last two optional).
fn is_xml_declaration(doc: &str) -> bool {
    let Some(rest) = doc.strip_prefix("<?xml") else {
        return false;
    };
    let Some(end) = rest.find("?>") else {
        return false;
    };
    let mut rest = &rest[..end];
    let mut seen = Vec::new();
    loop {
        let trimmed = rest.trim_start_matches(is_xml_space);
        if trimmed.is_empty() {
            break;
        }
        if trimmed.len() == rest.len() {
            return false; // pseudo-attributes must be preceded by whitespace
        }
        let Some(eq) = trimmed.find('=') else {
            return false;
        };
        let key = trimmed[..eq].trim_end_matches(is_xml_space);
        let after = trimmed[eq + 1..].trim_start_matches(is_xml_space);
        let Some(quote) = after.chars().next().filter(|&q| q == '"' || q == '\'') else {
            return false;
        };
        let Some(len) = after[1..].find(quote) else {
            return false;
        };
        let value = &after[1..1 + len];
        let valid = match key {
            "version" => {
                seen.is_empty()
                    && value.strip_prefix("1.").is_some_and(|minor| {
                        !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit())
                    })
            }
            "encoding" => {
                seen == ["version"]
                    && value
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_alphabetic())
                    && value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            }
            "standalone" => {
                matches!(seen.last(), Some(&"version" | &"encoding"))
                    && matches!(value, "yes" | "no")
            }
            _ => false,
        };
        if !valid {
            return false;
        }
        seen.push(key);
        rest = &after[1 + len + 1..];
    }
    seen.first() == Some(&"version")
}

/// A rough RFC 3986 check of a namespace name, as libxml2 (lxml) applies it.
fn is_namespace_uri(uri: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-._~:/?#@!$&'()*+,;=%".contains(c);
    if !uri.chars().all(allowed) {
        return false;
    }
    // A colon before any '/', '?' or '#' ends a scheme, which must be ALPHA *(ALPHA / DIGIT / "+" / "-" / ".").
    let head = &uri[..uri.find(['/', '?', '#']).unwrap_or(uri.len())];
    match head.split_once(':') {
        Some((scheme, _)) => {
            scheme
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => true,
    }
}

/// Whether every quoted attribute value in a start tag is followed by whitespace or the end.
fn attributes_separated(raw: &[u8]) -> bool {
    let mut quote = None;
    for (i, &b) in raw.iter().enumerate() {
        match quote {
            None if b == b'"' || b == b'\'' => quote = Some(b),
            Some(q) if b == q => {
                quote = None;
                if raw
                    .get(i + 1)
                    .is_some_and(|next| !matches!(next, b' ' | b'\t' | b'\n' | b'\r' | b'/'))
                {
                    return false;
                }
            }
            _ => {}
        }
    }
    true
}

/// Appends `text` escaped as ElementTree escapes attribute values (`attribute`) or text.
fn escape_into(out: &mut String, text: &str, attribute: bool) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\r' if attribute => out.push_str("&#13;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\t' if attribute => out.push_str("&#09;"),
            c => out.push(c),
        }
    }
}

/// `<Tag name="x">`, or `<Tag>` without a name.
fn describe(tag: &str, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("<{tag} name=\"{name}\">"),
        None => format!("<{tag}>"),
    }
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

/// Whether xmljson's badgerfish conversion turns `value` into a boolean or a number (so that a
/// schema property typed `string` rejects it): `true`/`false` in any case, or what Python's
/// `int()` or a finite `float()` accepts.
fn badgerfish_not_string(value: &str) -> bool {
    let lower = value.to_lowercase();
    if lower == "true" || lower == "false" {
        return true;
    }
    let trimmed = value.trim();
    let unsigned = trimmed.strip_prefix(['+', '-']).unwrap_or(trimmed);
    if unsigned.is_empty() {
        return false;
    }
    // Underscores are allowed only between two digits (PEP 515).
    let bytes = unsigned.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'_' {
            let before = i > 0 && bytes[i - 1].is_ascii_digit();
            let after = bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
            if !(before && after) {
                return false;
            }
        }
    }
    let plain: String = unsigned.chars().filter(|&c| c != '_').collect();
    if plain.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    // Python's float() grammar, without inf/nan (not finite) and with digits required.
    let lower = plain.to_ascii_lowercase();
    let (mantissa, exponent) = match lower.split_once('e') {
        Some((m, e)) => (m, Some(e)),
        None => (lower.as_str(), None),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(int_part) && digits(frac_part)) || (int_part.is_empty() && frac_part.is_empty()) {
        return false;
    }
    if let Some(exponent) = exponent {
        let exponent = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
        if exponent.is_empty() || !digits(exponent) {
            return false;
        }
    }
    plain.parse::<f64>().is_ok_and(f64::is_finite)
}

/// XML's attribute-value normalization: each literal tab, newline or carriage return (a CR LF
/// pair counting as one) becomes a space. Character references are not affected.
fn normalize_attribute(raw: &str) -> String {
    raw.replace("\r\n", " ").replace(['\r', '\n', '\t'], " ")
}

/// The character an entity or character reference in text stands for.
fn resolve_reference(reference: &BytesRef<'_>) -> Result<char, String> {
    let name = reference.decode().map_err(|e| e.to_string())?;
    if reference.is_char_ref() {
        return match reference.resolve_char_ref() {
            Ok(Some(c)) if is_xml_char(c) => Ok(c),
            Ok(Some(c)) => Err(format!(
                "character reference &{name}; refers to U+{:04X}, which is not allowed in XML",
                u32::from(c)
            )),
            Ok(None) | Err(_) => Err(format!("invalid character reference &{name};")),
        };
    }
    match name.as_ref() {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        _ => Err(format!("entity &{name}; is not defined")),
    }
}

/// XML 1.0's `Char` production.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn is_name_start_char(c: char) -> bool {
    c == '_'
        || c.is_ascii_alphabetic()
        || matches!(c,
            '\u{C0}'..='\u{D6}'
            | '\u{D8}'..='\u{F6}'
            | '\u{F8}'..='\u{2FF}'
            | '\u{370}'..='\u{37D}'
            | '\u{37F}'..='\u{1FFF}'
            | '\u{200C}'..='\u{200D}'
            | '\u{2070}'..='\u{218F}'
            | '\u{2C00}'..='\u{2FEF}'
            | '\u{3001}'..='\u{D7FF}'
            | '\u{F900}'..='\u{FDCF}'
            | '\u{FDF0}'..='\u{FFFD}'
            | '\u{10000}'..='\u{EFFFF}')
}

fn is_name_char(c: char) -> bool {
    is_name_start_char(c)
        || c.is_ascii_digit()
        || matches!(c, '-' | '.' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// A namespace-aware XML name: `local` or `prefix:local`, each an XML name without colons.
fn is_qname(name: &str) -> bool {
    let ncname = |s: &str| {
        let mut chars = s.chars();
        chars.next().is_some_and(is_name_start_char) && chars.all(is_name_char)
    };
    match name.split_once(':') {
        Some((prefix, local)) => ncname(prefix) && ncname(local),
        None => ncname(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(xml: &str) -> LabelConfig {
        match parse(xml) {
            Ok(config) => config,
            Err(err) => panic!("{xml} was rejected: {err}"),
        }
    }

    fn err(xml: &str) -> LabelConfigError {
        match parse(xml) {
            Ok(config) => panic!("{xml} was accepted: {config:?}"),
            Err(err) => err,
        }
    }

    #[test]
    fn reference_choices_config_matches_label_studio_exactly() {
        let c = ok(
            r#"<View><Text name="text" value="$text"/><Choices name="label" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices></View>"#,
        );
        assert_eq!(
            serde_json::to_string(&c.parsed).unwrap(),
            r#"{"label":{"type":"Choices","to_name":["text"],"inputs":[{"type":"Text","valueType":null,"value":"text"}],"labels":["pos","neg"],"labels_attrs":{"pos":{"value":"pos"},"neg":{"value":"neg"}}}}"#
        );
        assert_eq!(
            serde_json::to_string(&c.control_weights).unwrap(),
            r#"{"label":{"overall":1.0,"type":"Choices","labels":{"pos":1.0,"neg":1.0}}}"#
        );
        assert_eq!(
            serde_json::to_string(&c.data_types).unwrap(),
            r#"{"text":"Text"}"#
        );
        assert!(c.has_control_tags);
        assert!(c.suitable_for_bulk_annotation);
        assert_eq!(c.data_keys, ["text"]);
    }

    #[test]
    fn image_rectangle_labels_with_alias_and_background() {
        let c = ok(r##"<View>
  <Image name="img" value="$image" valueType="url" zoom="true"/>
  <RectangleLabels name="box" toName="img">
    <Label value="Airplane" alias="plane" background="#FF0000"/>
    <Label value="Car" background="green"/>
    <Label alias="" value="Boat"/>
    <Label background="blue"/>
  </RectangleLabels>
</View>"##);
        assert_eq!(
            c.parsed,
            json!({"box": {
                "type": "RectangleLabels",
                "to_name": ["img"],
                "inputs": [{"type": "Image", "valueType": "url", "value": "image"}],
                "labels": ["plane", "Car", "Boat"],
                "labels_attrs": {
                    "plane": {"value": "Airplane", "alias": "plane", "background": "#FF0000"},
                    "Car": {"value": "Car", "background": "green"},
                    "Boat": {"alias": "", "value": "Boat"}
                }
            }})
        );
        assert_eq!(
            serde_json::to_string(&c.parsed["box"]["labels_attrs"]["plane"]).unwrap(),
            r##"{"value":"Airplane","alias":"plane","background":"#FF0000"}"##
        );
        assert_eq!(
            c.control_weights,
            json!({"box": {"overall": 1.0, "type": "RectangleLabels",
                           "labels": {"plane": 1.0, "Car": 1.0, "Boat": 1.0}}})
        );
        assert_eq!(c.data_types, json!({"image": "Image"}));
        assert!(!c.suitable_for_bulk_annotation);
    }

    #[test]
    fn nested_views_inside_choices() {
        let c = ok(r#"<View>
  <Text name="t" value="$text"/>
  <Choices name="c" toName="t" choice="multiple">
    <View style="display:flex"><Choice value="A"/><View><Choice value="B" hint="b"/></View></View>
    <Choice value="C"/>
  </Choices>
</View>"#);
        assert_eq!(c.parsed["c"]["labels"], json!(["A", "B", "C"]));
        assert_eq!(
            c.parsed["c"]["labels_attrs"]["B"],
            json!({"value": "B", "hint": "b"})
        );
        assert!(c.suitable_for_bulk_annotation);
    }

    #[test]
    fn textarea_has_empty_labels() {
        let c = ok(
            r#"<View><Audio name="audio" value="$url"/><TextArea name="transcript" toName="audio" rows="4" editable="true"/></View>"#,
        );
        assert_eq!(
            serde_json::to_string(&c.parsed).unwrap(),
            r#"{"transcript":{"type":"TextArea","to_name":["audio"],"inputs":[{"type":"Audio","valueType":null,"value":"url"}],"labels":[],"labels_attrs":{}}}"#
        );
        assert_eq!(
            serde_json::to_string(&c.control_weights).unwrap(),
            r#"{"transcript":{"overall":1.0,"type":"TextArea","labels":{}}}"#
        );
        assert!(c.suitable_for_bulk_annotation);
    }

    #[test]
    fn rating() {
        let c = ok(
            r#"<View><Image name="image" value="$img"/><Rating name="rating" toName="image" maxRating="10" icon="star"/></View>"#,
        );
        assert_eq!(c.parsed["rating"]["type"], "Rating");
        assert_eq!(c.parsed["rating"]["labels"], json!([]));
        assert!(c.suitable_for_bulk_annotation);
        let per_item = ok(
            r#"<View><Image name="image" value="$img"/><Rating name="rating" toName="image" perItem="TRUE"/></View>"#,
        );
        assert!(!per_item.suitable_for_bulk_annotation);
    }

    #[test]
    fn multiple_controls_over_audio_and_hypertext() {
        let c = ok(r#"<View>
  <Audio name="audio" value="$audio"/>
  <Labels name="speaker" toName="audio"><Label value="A"/><Label value="B"/></Labels>
  <HyperText name="html" value="$html" valueType="text"/>
  <HyperTextLabels name="ner" toName="html"><Label value="PER"/></HyperTextLabels>
  <Choices name="quality" toName="audio,html" perRegion="true" whenLabelValue="A"><Choice value="good"/><Choice value="bad"/></Choices>
</View>"#);
        let names: Vec<&String> = c.parsed.as_object().unwrap().keys().collect();
        assert_eq!(names, ["speaker", "ner", "quality"]);
        assert_eq!(
            c.parsed["ner"]["inputs"],
            json!([{"type": "HyperText", "valueType": "text", "value": "html"}])
        );
        assert_eq!(
            serde_json::to_string(&c.parsed["quality"]).unwrap(),
            r#"{"type":"Choices","to_name":["audio","html"],"conditionals":{"type":"label","name":"A"},"inputs":[{"type":"Audio","valueType":null,"value":"audio"},{"type":"HyperText","valueType":"text","value":"html"}],"labels":["good","bad"],"labels_attrs":{"good":{"value":"good"},"bad":{"value":"bad"}}}"#
        );
        assert_eq!(c.data_types, json!({"audio": "Audio", "html": "HyperText"}));
        assert_eq!(c.data_keys, ["audio", "html"]);
        assert!(!c.suitable_for_bulk_annotation);
    }

    #[test]
    fn to_name_with_two_names() {
        let c = ok(
            r#"<View><Image name="a" value="$left"/><Image name="b" value="$right"/><Choices name="same" toName="a,b"><Choice value="yes"/><Choice value="no"/></Choices></View>"#,
        );
        assert_eq!(c.parsed["same"]["to_name"], json!(["a", "b"]));
        assert_eq!(
            c.parsed["same"]["inputs"],
            json!([
                {"type": "Image", "valueType": null, "value": "left"},
                {"type": "Image", "valueType": null, "value": "right"}
            ])
        );
    }

    #[test]
    fn empty_and_whitespace_configs_are_an_empty_view() {
        for xml in ["", "   \n\t ", "\u{feff}"] {
            let c = ok(xml);
            assert_eq!(c.parsed, json!({}));
            assert_eq!(c.control_weights, json!({}));
            assert_eq!(c.data_types, json!({}));
            assert!(!c.has_control_tags);
            // Label Studio: no disallowed control tag, so suitable.
            assert!(c.suitable_for_bulk_annotation);
            assert!(c.data_keys.is_empty());
        }
    }

    #[test]
    fn attribute_values_are_unescaped_and_normalized() {
        let c = ok(
            "<View><Text name=\"t\" value=\"$text\"/><Choices name=\"c\" toName=\"t\"><Choice value=\"&quot;a&quot; &amp; b\" hint=\"x&#10;y\tz\nw\"/></Choices></View>",
        );
        assert_eq!(
            c.parsed["c"]["labels_attrs"],
            json!({"\"a\" & b": {"value": "\"a\" & b", "hint": "x\ny z w"}})
        );
    }

    #[test]
    fn data_types_follow_extract_data_types() {
        let c = ok(r#"<View>
  <Header value="$title"/>
  <Video name="v" value="$media"/>
  <Audio name="a" value="$media"/>
  <Text name="t" value="Say: $greeting and $other"/>
  <Choices name="c" toName="t" value="$options"/>
  <Image name="i" valueList="$pages"/>
</View>"#);
        assert_eq!(
            c.data_types,
            json!({"media": "Video", "greeting": "Text", "options": "Choices"})
        );
        assert_eq!(c.data_keys, ["title", "media", "options", "pages"]);
        assert_eq!(c.parsed["c"]["dynamic_labels"], json!(true));
        assert_eq!(
            c.parsed["c"]["inputs"],
            json!([{"type": "Text", "valueType": null, "value": "Say: $greeting and $other"}])
        );
        assert!(!c.suitable_for_bulk_annotation, "Choices with value");
        let list = ok(
            r#"<View><Image name="i" valueList="$pages"/><Rectangle name="r" toName="i"/></View>"#,
        );
        assert_eq!(
            list.parsed["r"]["inputs"],
            json!([{"type": "Image", "valueType": null, "valueList": "pages"}])
        );
    }

    #[test]
    fn repeater_index_flag_adds_regex() {
        let c = ok(
            r#"<View><Repeater on="$images" indexFlag="{{idx}}"><Image name="image_{{idx}}" value="$images[{{idx}}].url"/><Labels name="label_{{idx}}" toName="image_{{idx}}"><Label value="A"/></Labels></Repeater></View>"#,
        );
        assert_eq!(
            serde_json::to_string(&c.parsed["label_{{idx}}"]).unwrap(),
            r#"{"type":"Labels","to_name":["image_{{idx}}"],"regex":{"{{idx}}":".*"},"inputs":[{"type":"Image","valueType":null,"value":"images[{{idx}}].url"}],"labels":["A"],"labels_attrs":{"A":{"value":"A"}}}"#
        );
    }

    #[test]
    fn labels_outside_controls_and_filter_are_ignored() {
        let c = ok(
            r#"<View><Text name="t" value="$t"/><Label value="stray"/><Filter name="f" toName="c"/><Taxonomy name="c" toName="t"><Choice value="A"><Choice value="A1"/></Choice></Taxonomy><Relations><Relation value="rel"/></Relations></View>"#,
        );
        assert_eq!(c.parsed.as_object().unwrap().len(), 1);
        assert_eq!(c.parsed["c"]["labels"], json!(["A", "A1"]));
        assert!(c.suitable_for_bulk_annotation);
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let depth = 10_000;
        let xml = format!(
            "<View><Text name=\"t\" value=\"$t\"/><Choices name=\"c\" toName=\"t\">{}<Choice value=\"deep\"/>{}</Choices></View>",
            "<View>".repeat(depth),
            "</View>".repeat(depth)
        );
        let c = ok(&xml);
        assert_eq!(c.parsed["c"]["labels"], json!(["deep"]));
        let unclosed = format!("<View>{}", "<View>".repeat(depth));
        assert!(matches!(
            parse(&unclosed),
            Err(LabelConfigError::Xml { .. })
        ));
        let other = format!(
            "<View>{}{}</View>",
            "<a>".repeat(depth),
            "</a>".repeat(depth)
        );
        ok(&other);
    }

    #[test]
    fn not_well_formed_xml() {
        for xml in [
            "<View>",
            "<View><Text></View>",
            "<View></View><View></View>",
            "<View></View>junk",
            "junk",
            "<View a=\"1\" a=\"2\"></View>",
            "<View a></View>",
            "<View a=\"<\"></View>",
            "<View>&nbsp;</View>",
            "<View>a & b</View>",
            "<View a=\"&foo;\"/>",
            "<View a=\"&#1;\"/>",
            "<View>&#0;</View>",
            "<View><!-- a -- b --></View>",
            "<View>]]></View>",
            "<View><1a/></View>",
            "<View><p:a/></View>",
            "<View>\u{1}</View>",
            "<View/><?xml version=\"1.0\"?>",
            "<?xml version=\"1.0\" encodng=\"UTF-8\"?><View/>",
            "<?xml version=\"\"?><View/>",
            "<View><?a:b x?></View>",
            "<View a=\"1\"b=\"2\"/>",
            "<View xmlns:x=\"u rn\"/>",
            "<!-- only a comment -->",
            "<",
        ] {
            match err(xml) {
                LabelConfigError::Xml { .. } => {}
                other => panic!("{xml}: expected an XML error, got {other:?}"),
            }
        }
        let e = err("<View>\n  <Text name=\"t\" value=\"$t\">\n</View>");
        let message = e.to_string();
        assert!(
            message.starts_with("label_config is not valid XML: "),
            "{message}"
        );
        assert!(
            message.contains("at position 36 (line 3, column 1)"),
            "{message}"
        );
    }

    #[test]
    fn declaration_comments_and_namespaces_are_accepted() {
        let c = ok(
            "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- c --><View xmlns:x=\"urn:x\"><Text name=\"t\" value=\"$t\" x:note=\"n\"/><Choices name=\"c\" toName=\"t\"><Choice value=\"a\" x:hint=\"h\"/><Choice value=\"b\"/></Choices></View><!-- after -->",
        );
        assert_eq!(
            c.parsed["c"]["labels_attrs"]["a"],
            json!({"value": "a", "{urn:x}hint": "h"})
        );
        let namespaced = err("<View xmlns=\"urn:v\"/>");
        assert!(
            matches!(namespaced, LabelConfigError::RootNotView { ref found } if found == "{urn:v}View")
        );
    }

    #[test]
    fn doctype_is_rejected() {
        let xml = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><View><Header value="&lol2;"/></View>"#;
        let e = err(xml);
        assert!(
            matches!(e, LabelConfigError::Doctype { position: 21 }),
            "{e:?}"
        );
        assert!(e.to_string().contains("DOCTYPE"));
    }

    #[test]
    fn root_must_be_view() {
        let e = err(r#"<Foo><Text name="t" value="$t"/></Foo>"#);
        assert!(matches!(e, LabelConfigError::RootNotView { .. }));
        assert_eq!(e.to_string(), "the root tag must be <View>, found <Foo>");
    }

    #[test]
    fn unknown_to_name() {
        let e = err(
            r#"<View><Text name="text" value="$t"/><Image name="image" value="$i"/><Choices name="label" toName="x"><Choice value="a"/></Choices></View>"#,
        );
        assert_eq!(
            e.to_string(),
            r#"toName="x" of <Choices name="label"> names no tag in the config (known names: image, label, text)"#
        );
        let second = err(
            r#"<View><Text name="a" value="$t"/><Labels name="l" toName="a,b"><Label value="x"/></Labels></View>"#,
        );
        assert!(
            matches!(second, LabelConfigError::UnknownToName { ref to_name, .. } if to_name == "b")
        );
    }

    #[test]
    fn duplicate_names() {
        let e = err(r#"<View><Text name="x" value="$a"/><Image name="x" value="$b"/></View>"#);
        assert!(matches!(e, LabelConfigError::DuplicateName { ref name } if name == "x"));
        assert_eq!(
            e.to_string(),
            r#"Label config contains non-unique names: name="x" is used by more than one tag"#
        );
        let control =
            err(r#"<View><Text name="t" value="$a"/><TextArea name="t" toName="t"/></View>"#);
        assert!(matches!(control, LabelConfigError::DuplicateName { .. }));
    }

    #[test]
    fn names_are_found_like_label_studio_does() {
        // Label Studio applies the regexes name="..." and toName="..." to the re-serialized
        // XML, so text (CSS attribute selectors, say) and any *name attribute count.
        let e = err(
            r#"<View><Style>.lsf [name="t"] { color: red }</Style><Text name="t" value="$t"/></View>"#,
        );
        assert!(
            matches!(e, LabelConfigError::DuplicateName { ref name } if name == "t"),
            "{e:?}"
        );
        let e =
            err(r#"<View><Text name="t" value="$t"/><Header>use toName="nope"</Header></View>"#);
        assert_eq!(
            e.to_string(),
            r#"toName="nope" of the text following <Header> names no tag in the config (known names: t)"#
        );
        let e = err(r#"<View><Text name="t" value="$t" filename="t"/></View>"#);
        assert!(matches!(e, LabelConfigError::DuplicateName { .. }));
        // Escaped quotes do not end a value: ElementTree writes them as &quot;.
        ok(r#"<View><Text name="t" value="$t" hint="name=&quot;t&quot;"/></View>"#);
    }

    #[test]
    fn choices_or_labels_without_labels() {
        let e = err(
            r#"<View><Text name="t" value="$t"/><Choices name="c" toName="t"></Choices></View>"#,
        );
        assert!(matches!(e, LabelConfigError::NoLabels { ref child, .. } if child == "Choice"));
        assert!(
            e.to_string()
                .starts_with(r#"<Choices name="c"> has no <Choice> tags"#),
            "{e}"
        );
        let labels = err(
            r#"<View><Text name="t" value="$t"/><View><Labels name="l" toName="t"/></View></View>"#,
        );
        assert!(matches!(labels, LabelConfigError::NoLabels { ref child, .. } if child == "Label"));
        // Dynamic labels or a nested View satisfy Label Studio's schema.
        ok(
            r#"<View><Text name="t" value="$t"/><Labels name="l" toName="t" value="$labels"/></View>"#,
        );
        ok(
            r#"<View><Text name="t" value="$t"/><Labels name="l" toName="t"><View/></Labels></View>"#,
        );
        // Label Studio's schema does not cover the other *Labels tags.
        ok(r#"<View><Image name="i" value="$i"/><RectangleLabels name="r" toName="i"/></View>"#);
    }

    #[test]
    fn other_schema_violations() {
        for xml in [
            r#"<View><Text name="t" value="$t"/><Choices name="c" toName="t"><Choice alias="a"/><Choice value="b"/></Choices></View>"#,
            r#"<View><Text name="t"/></View>"#,
            r#"<View><Image value="$i"/></View>"#,
            r#"<View><Text name="t" value="$t" valueList="$u"/></View>"#,
            r#"<View><Text name="t" value="$t"/><TextArea name="ta"/></View>"#,
            r#"<View><Text name="1" value="$t"/><Choices name="c" toName="1"><Choice value="a"/><Choice value="b"/></Choices></View>"#,
            r#"<View><Text name="t" value="$t"/><Choices name="c" toName="t"><Choice value="a">1</Choice><Choice value="b"/></Choices></View>"#,
            r#"<View><Text name="t" value="$t"/><Choices name="c" toName="t"><Choice value="a"/></Choices><Choices name="d" toName="t" value="$o"/></View>"#,
            r#"<View><Text name="t" value="$t"/><Labels name="l" toName="t"><View><Choices name="c" toName="t"><Choice value="a"/></Choices></View></Labels></View>"#,
        ] {
            match err(xml) {
                LabelConfigError::Schema { .. } => {}
                other => panic!("{xml}: expected a schema error, got {other:?}"),
            }
        }
        let e = err(r#"<View><View><Text name="t"/></View></View>"#);
        assert_eq!(
            e.to_string(),
            r#"Validation failed on View/View/Text: <Text name="t"> needs a value (or valueList) attribute"#
        );
        // A single Choice is fine in the common layouts.
        ok(
            r#"<View><Text name="t" value="$t"/><Choices name="c" toName="t"><Choice value="a"/></Choices><Choices name="d" toName="t"><Choice value="b"/></Choices></View>"#,
        );
        // Tags outside the schema's reach are not checked.
        ok(
            r#"<View><Collapse><Panel value="p"><Text name="t" value="$t"/><Choices name="c" toName="t"><Choice value="a"/></Choices></Panel></Collapse></View>"#,
        );
    }

    #[test]
    fn error_precedence() {
        // XML errors first, then the root, then the schema, then names.
        assert!(matches!(
            err("<Foo><a></b></Foo>"),
            LabelConfigError::Xml { .. }
        ));
        assert!(matches!(
            err(r#"<Foo><Choices name="c" toName="c"/></Foo>"#),
            LabelConfigError::RootNotView { .. }
        ));
        assert!(matches!(
            err(r#"<View><Choices name="c" toName="zz"/><Text name="c" value="$t"/></View>"#),
            LabelConfigError::NoLabels { .. }
        ));
        assert!(matches!(
            err(
                r#"<View><Text name="c" value="$t"/><Text name="c" value="$u"/><TextArea name="x" toName="nope"/></View>"#
            ),
            LabelConfigError::DuplicateName { .. }
        ));
    }

    #[test]
    fn bulk_annotation_rules() {
        let text = r#"<Text name="t" value="$t"/>"#;
        let suits = |controls: &str| {
            ok(&format!("<View>{text}{controls}</View>")).suitable_for_bulk_annotation
        };
        assert!(suits(
            r#"<Choices name="c" toName="t"><Choice value="a"/><Choice value="b"/></Choices><TextArea name="ta" toName="t"/><Number name="n" toName="t"/>"#
        ));
        assert!(!suits(
            r#"<Choices name="c" toName="t" perRegion="true"><Choice value="a"/><Choice value="b"/></Choices>"#
        ));
        assert!(!suits(r#"<TextArea name="ta" toName="t" perItem="true"/>"#));
        assert!(!suits(
            r#"<Labels name="l" toName="t"><Label value="a"/></Labels>"#
        ));
        assert!(!suits(
            r#"<Taxonomy name="x" toName="t" apiUrl="http://x"/>"#
        ));
        assert!(!suits(
            r#"<Taxonomy name="x" toName="t" labeling="true"><Choice value="a"/></Taxonomy>"#
        ));
        assert!(suits(
            r#"<Relations name="r" toName="t"/><Pairwise name="p" toName="t"/>"#
        ));
        assert!(suits(""));
    }

    #[test]
    fn conditionals_need_per_region() {
        let c = ok(
            r#"<View><Text name="t" value="$t"/><TextArea name="a" toName="t" visibleWhen="region-selected" whenTagName="l"/><TextArea name="b" toName="t" perRegion="true" whenTagName="l"/><Labels name="l" toName="t"><Label value="x"/></Labels></View>"#,
        );
        assert!(c.parsed["a"].get("conditionals").is_none());
        assert_eq!(
            c.parsed["b"]["conditionals"],
            json!({"type": "tag", "name": "l"})
        );
    }

    #[test]
    fn garbage_never_panics() {
        let samples = [
            "<<<<>>>>",
            "<View",
            "<View><",
            "</View>",
            "<View></Vie",
            "<![CDATA[x]]>",
            "<View><![CDATA[",
            "<?xml",
            "<!DOCTYPE",
            "<View x='",
            "<View>&",
            "<View>&#xFFFFFFFF;</View>",
            "<View>&#;</View>",
            "\u{0}",
            "<View>\u{FFFF}</View>",
            "<:a/>",
            "<a:/>",
            "<View xmlns:p=\"\"><p:a/></View>",
            "{\"json\": true}",
            "<View><Choices name=\"c\" toName=\"c\"><Choice/></Choices></View>",
        ];
        for xml in samples {
            let _ = parse(xml);
        }
        // Pseudo-random byte soup built from XML-ish fragments.
        let pieces = [
            "<",
            ">",
            "/",
            "View",
            "Text",
            "Choices",
            "Choice",
            "Label",
            " name=\"a\"",
            " toName=\"a\"",
            " value=\"$v\"",
            "=",
            "\"",
            "'",
            "&amp;",
            "&",
            ";",
            "<!--",
            "-->",
            "<![CDATA[",
            "]]>",
            "<?",
            "?>",
            "é",
            "\u{1F600}",
            " ",
            "\n",
            "x",
            ":",
            "#",
        ];
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..3000 {
            let mut xml = String::new();
            let len = (state % 40) as usize;
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                xml.push_str(pieces[(state % pieces.len() as u64) as usize]);
            }
            let _ = parse(&xml);
            let _ = parse(&format!("<View>{xml}</View>"));
        }
    }

    #[test]
    fn badgerfish_conversion() {
        for v in [
            "1", "-2", " 3 ", "1_000", "1.5", ".5", "5.", "1e5", "-1E-3", "true", "FALSE",
        ] {
            assert!(badgerfish_not_string(v), "{v}");
        }
        for v in [
            "", " ", "a1", "1_", "_1", "1__0", "inf", "nan", "1e999", "e5", "0x10", "1.2.3", "--1",
        ] {
            assert!(!badgerfish_not_string(v), "{v}");
        }
    }
}
