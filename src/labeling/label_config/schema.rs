//! `validate_label_config`: the structure Label Studio's JSON schema requires of the
//! (badgerfish) conversion of the XML, then unique names and `toName`s that name tags.

use std::collections::HashSet;

use roxmltree::Node;

use super::LabelConfigError;
use super::xml::{self, Edge};

/// At most this many names are listed in an [`LabelConfigError::UnknownToName`] message.
const MAX_KNOWN_NAMES: usize = 30;
/// At most this many tags are shown in an [`LabelConfigError::Schema`] path.
const MAX_PATH_TAGS: usize = 12;

/// Checks a config whose root is `<View>`: the schema first, then the names.
pub(super) fn check(root: Node<'_, '_>) -> Result<(), LabelConfigError> {
    check_structure(root)?;
    check_names(root)
}

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

    /// A `<View>` whose single-`<Choice>` `<Choices>` children Label Studio wraps in a list.
    fn is_fixed_view(self) -> bool {
        matches!(self, Check::RootView | Check::View { fixed: true })
    }
}

/// A `<Choices>` child of a fixed `<View>`, kept until the `<View>` closes.
struct ChoicesChild {
    choices: usize,
    element: String,
    path: String,
}

/// An open element.
struct Frame {
    tag: String,
    element: String,
    check: Check,
    has_name: bool,
    has_to_name: bool,
    has_value: bool,
    choice_children: usize,
    label_children: usize,
    view_children: usize,
    choices_children: Vec<ChoicesChild>,
}

/// The elements from the root to the current one, and the first violation found. Elements
/// are checked when they open (attributes) and when they close (content), in document
/// order, as Label Studio's validator meets them.
#[derive(Default)]
struct Structure {
    stack: Vec<Frame>,
    error: Option<LabelConfigError>,
}

fn check_structure(root: Node<'_, '_>) -> Result<(), LabelConfigError> {
    let mut structure = Structure::default();
    xml::walk(root, |edge| match edge {
        Edge::Open(node) => structure.open(node),
        Edge::Close(node) => structure.close(node),
        Edge::Text(_) => {}
    });
    structure.error.map_or(Ok(()), Err)
}

impl Structure {
    fn open(&mut self, node: Node<'_, '_>) {
        let tag = xml::tag_name(node);
        let element = describe(&tag, node.attribute("name"));
        let check = match self.stack.last_mut() {
            None if tag == "View" => Check::RootView,
            None => Check::None,
            Some(parent) => {
                match tag.as_str() {
                    "Choice" => parent.choice_children += 1,
                    "Label" => parent.label_children += 1,
                    "View" => parent.view_children += 1,
                    _ => {}
                }
                parent.check.for_child(&tag)
            }
        };
        let get = |key: &str| node.attribute(key);
        let not_string = |key: &str| get(key).is_some_and(badgerfish_not_string);
        let has_name = get("name").is_some();
        let has_to_name = get("toName").is_some();
        let problem = match check {
            Check::WithValue if get("value").is_none() => {
                Some(format!("{element} needs a value attribute"))
            }
            Check::Object => {
                let value = get("value").is_some();
                let value_list = get("valueList").is_some();
                if !has_name {
                    Some(format!("{element} needs a name attribute"))
                } else if !value && !value_list {
                    Some(format!("{element} needs a value (or valueList) attribute"))
                } else if value && value_list {
                    Some(format!(
                        "{element} must not have both a value and a valueList attribute"
                    ))
                } else if not_string("valueList") {
                    Some(format!(
                        "valueList of {element} must be a string, not a number or boolean"
                    ))
                } else {
                    None
                }
            }
            Check::NameToName if !(has_name && has_to_name) => Some(format!(
                "{element} needs both a name and a toName attribute"
            )),
            Check::NameToName | Check::Choices | Check::Labels => ["name", "toName"]
                .into_iter()
                .find(|key| not_string(key))
                .map(|key| format!("{key} of {element} must be a string, not a number or boolean")),
            _ => None,
        };
        self.stack.push(Frame {
            tag,
            element,
            check,
            has_name,
            has_to_name,
            has_value: get("value").is_some(),
            choice_children: 0,
            label_children: 0,
            view_children: 0,
            choices_children: Vec::new(),
        });
        if let Some(message) = problem {
            self.problem(message);
        }
    }

    /// Checks that need the element's content, while it is still on the stack.
    fn close(&mut self, node: Node<'_, '_>) {
        let Some(frame) = self.stack.last() else {
            return;
        };
        let element = frame.element.clone();
        let check = frame.check;
        let mut problem = None;
        // badgerfish converts the unstripped text when its stripped form is not empty.
        let text = node.text().unwrap_or("");
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
                && self.error.is_none()
            {
                self.error = Some(LabelConfigError::NoLabels {
                    element: element.clone(),
                    child: child.into(),
                });
            }
        }
        let mut single_choice = None;
        if check == Check::Choices {
            let choices = frame.choice_children;
            let len = self.stack.len();
            if len >= 2 && self.stack[len - 2].check.is_fixed_view() {
                let path = self.path();
                self.stack[len - 2].choices_children.push(ChoicesChild {
                    choices,
                    element: element.clone(),
                    path,
                });
            } else if choices == 1 {
                single_choice = Some((self.path(), element.clone()));
            }
        }
        if let Some(frame) = self.stack.last()
            && frame.check.is_fixed_view()
            && frame.choices_children.len() > 1
            && frame.choices_children.iter().any(|c| c.choices == 0)
            && let Some(child) = frame.choices_children.iter().find(|c| c.choices == 1)
        {
            single_choice = Some((child.path.clone(), child.element.clone()));
        }
        if let Some(message) = problem {
            self.problem(message);
        }
        if let Some((path, element)) = single_choice
            && self.error.is_none()
        {
            self.error = Some(LabelConfigError::Schema {
                path,
                message: format!(
                    "{element} has a single <Choice>, which Label Studio rejects here (it \
                     expects a list): add another <Choice>; this happens inside a <View> \
                     nested in a <Choices>/<Labels>, or next to a sibling <Choices> \
                     without <Choice> tags"
                ),
            });
        }
        self.stack.pop();
    }

    /// Records a violation of the top element (the first one found wins).
    fn problem(&mut self, message: String) {
        if self.error.is_none() {
            self.error = Some(LabelConfigError::Schema {
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
}

/// Label Studio's name checks: the regexes `name="([^"]*)"` and `toName="([^"]*)"` over the
/// re-serialized config, so text (CSS attribute selectors, say) and any `*name` attribute
/// count too.
fn check_names(root: Node<'_, '_>) -> Result<(), LabelConfigError> {
    let (serialized, spans) = xml::serialize(root);
    let mut known: HashSet<&str> = HashSet::new();
    for (_, name) in regex_captures(&serialized, "name=\"") {
        if !known.insert(name) {
            return Err(LabelConfigError::DuplicateName {
                name: name.to_owned(),
            });
        }
    }
    for (at, to_name) in regex_captures(&serialized, "toName=\"") {
        let Some(unknown) = to_name.split(',').find(|part| !known.contains(part)) else {
            continue;
        };
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
        // The element whose start tag holds the match, or whose text does.
        let index = spans.partition_point(|&(start, _, _)| start <= at);
        let element = match index.checked_sub(1).map(|i| &spans[i]) {
            Some((_, end, node)) if at < *end => element_of(*node),
            Some((_, _, node)) => format!("the text following {}", element_of(*node)),
            None => "the config".into(),
        };
        return Err(LabelConfigError::UnknownToName {
            to_name: unknown.to_owned(),
            element,
            known: listed,
        });
    }
    Ok(())
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

fn element_of(node: Node<'_, '_>) -> String {
    describe(&xml::tag_name(node), node.attribute("name"))
}

/// `<Tag name="x">`, or `<Tag>` without a name.
pub(super) fn describe(tag: &str, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("<{tag} name=\"{name}\">"),
        None => format!("<{tag}>"),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
