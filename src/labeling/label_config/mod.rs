//! What Label Studio derives from a project's labeling config (XML), and the checks it applies
//! when a config is saved.
//!
//! This reimplements the behaviour of label-studio 1.23.2 and of label-studio-sdk 2.1.2 (the
//! version 1.23.2 pins). A config is parsed once, when it is saved (before the write
//! transaction opens); what it yields is stored with the project, so reads never parse.
//!
//! * [`xml`]: the limits, then the tree (roxmltree: namespaces resolved, DTDs refused, no
//!   entities but XML's predefined ones); the root must be `<View>`.
//! * [`schema`]: `validate_label_config`: the subset of Label Studio's JSON schema that its
//!   (badgerfish) conversion of the XML is checked against, unique names, and every `toName`
//!   naming some tag's `name`.
//! * [`derive`]: `parsed_label_config`, `control_weights`, `data_types`,
//!   `config_suitable_for_bulk_annotation` and the data keys.
//!
//! One check is stricter than Label Studio: the root element must be `<View>` (Label Studio
//! accepts any root, and its editor then fails to render the config). The limits are
//! labelhook's (Label Studio has only libxml2's depth limit of 256); their defaults are far
//! above what Label Studio's templates need (the largest: 10 KB, 70 tags, 9 attributes on one
//! tag, 8 levels).
//!
//! Nothing here recurses: nesting depth costs no stack.

mod derive;
mod schema;
mod xml;

/// What Label Studio derives from a project's label config.
#[derive(Debug, Clone)]
pub struct LabelConfig {
    /// `parsed_label_config`: {control_name: {type, to_name, inputs, labels, labels_attrs}} (serde_json::Value object)
    pub parsed: serde_json::Value,
    /// `control_weights`: {control_name: {overall: 1.0, type, labels: {label: 1.0}}}
    pub control_weights: serde_json::Value,
    /// `data_types`: {object_value_without_dollar: ObjectTagType}
    pub data_types: serde_json::Value,
    /// `config_has_control_tags` (projects derive it from the stored `parsed_label_config`)
    #[cfg_attr(not(test), allow(dead_code))]
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
    /// the `$`. (Nothing but the tests reads them yet.)
    #[cfg_attr(not(test), allow(dead_code))]
    pub data_keys: Vec<String>,
}

/// How large a config may be. Each limit is checked before anything is built from the
/// config, so a config over one costs a single linear pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of the config text.
    pub max_bytes: usize,
    /// Elements in the config.
    pub max_tags: usize,
    /// Attributes of one element (namespace declarations included).
    pub max_attributes: usize,
    /// Nesting depth: the root `<View>` is level 1.
    pub max_depth: usize,
}

impl Default for Limits {
    /// The defaults of `labelhook serve` (see docs/settings.md).
    fn default() -> Self {
        Limits {
            max_bytes: 1024 * 1024,
            max_tags: 50_000,
            max_attributes: 100,
            max_depth: 256,
        }
    }
}

/// Why a label config is rejected. Each message is meant for the API user who sent it.
#[derive(Debug, thiserror::Error)]
pub enum LabelConfigError {
    #[error(
        "label_config is {bytes} bytes long; at most {limit} are allowed (LABELHOOK_LABEL_CONFIG_MAX_BYTES)"
    )]
    TooLarge { bytes: usize, limit: usize },
    #[error("label_config has more than {limit} tags (LABELHOOK_LABEL_CONFIG_MAX_TAGS)")]
    TooManyTags { limit: usize },
    #[error(
        "<{tag}> on line {line} of label_config has more than {limit} attributes (LABELHOOK_LABEL_CONFIG_MAX_ATTRIBUTES)"
    )]
    TooManyAttributes {
        tag: String,
        line: usize,
        limit: usize,
    },
    #[error(
        "label_config nests tags more than {limit} levels deep, on line {line} (LABELHOOK_LABEL_CONFIG_MAX_DEPTH)"
    )]
    TooDeep { limit: usize, line: usize },
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
    /// More distinct `indexFlag` values (`<Repeater>`) than [`derive::MAX_INDEX_FLAGS`]: each
    /// control tag is matched against every one of them.
    #[error("label_config has more than {limit} different indexFlag values")]
    TooManyIndexFlags { limit: usize },
    /// `parsed_label_config` copies the object tags a control names in `toName` into its
    /// `inputs`; this many copies would make it larger than `limit` bytes.
    #[error(
        "label_config's parsed_label_config would be larger than {limit} bytes: toName attributes name large object tags too many times"
    )]
    DerivedTooLarge { limit: usize },
}

/// Parses and validates a label config. An empty or whitespace-only config is `<View></View>`.
///
/// Checks come in this order, and the first failing one is reported: the limits and XML
/// well-formedness, the root, the schema, the names.
pub fn parse(xml: &str, limits: &Limits) -> Result<LabelConfig, LabelConfigError> {
    let xml = if xml.trim_start_matches('\u{feff}').trim().is_empty() {
        "<View></View>"
    } else {
        xml
    };
    let document = xml::parse(xml, limits)?;
    let root = document.root_element();
    let tag = xml::tag_name(root);
    if tag != "View" {
        return Err(LabelConfigError::RootNotView { found: tag });
    }
    schema::check(root)?;
    derive::derive(root, limits)
}

#[cfg(test)]
mod tests;
