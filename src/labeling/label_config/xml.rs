//! The XML layer: the limits, checked on a streaming pass, then the tree, built by roxmltree
//! (namespaces resolved, DTDs refused, no entities but XML's predefined ones and character
//! references), and the few rules of libxml2 (Label Studio parses with lxml) that roxmltree
//! does not apply.
//!
//! Why two passes: roxmltree builds the whole tree, and it checks an element's attributes
//! for duplicates pairwise (quadratic in attributes per element). The streaming pass
//! (quick-xml, linear, nothing kept) refuses a config over the limits before any of that.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use roxmltree::{Document, Node, ParsingOptions};

use super::{LabelConfigError, Limits};

/// Namespace declarations (`xmlns`, `xmlns:p`) allowed in one config. Label Studio's
/// templates declare none; roxmltree finds a prefix by scanning the declarations in scope,
/// so this keeps every lookup short. Not a setting: no real config comes near it.
pub(super) const MAX_NAMESPACE_DECLARATIONS: usize = 100;

/// Parses `src` into a tree after checking it against `limits`.
pub(super) fn parse<'i>(src: &'i str, limits: &Limits) -> Result<Document<'i>, LabelConfigError> {
    if src.len() > limits.max_bytes {
        return Err(LabelConfigError::TooLarge {
            bytes: src.len(),
            limit: limits.max_bytes,
        });
    }
    prescan(src, limits)?;
    let options = ParsingOptions {
        allow_dtd: false,
        ..ParsingOptions::default()
    };
    Document::parse_with_options(src, options).map_err(|error| match error {
        // The streaming pass reports DOCTYPEs with their position; this is a fallback.
        roxmltree::Error::DtdDetected => LabelConfigError::Doctype {
            position: src.find("<!DOCTYPE").unwrap_or(0),
        },
        error => {
            let pos = error.pos();
            // roxmltree writes the position into its message; ours adds it at the end.
            let message = error
                .to_string()
                .replace(&format!(" at {}:{}", pos.row, pos.col), "");
            xml_error(src, offset_of(src, pos.row, pos.col), message)
        }
    })
}

/// One pass over the tokens: the limits, the DOCTYPE (with its position), and the checks
/// libxml2 makes that roxmltree does not (declaration version, processing-instruction
/// targets, namespace names).
fn prescan(src: &str, limits: &Limits) -> Result<(), LabelConfigError> {
    let body = src.strip_prefix('\u{feff}').unwrap_or(src);
    let base = src.len() - body.len();
    let mut reader = Reader::from_str(body);
    // roxmltree checks the structure; this pass only counts.
    reader.config_mut().check_end_names = false;
    let mut depth = 0usize;
    let mut tags = 0usize;
    let mut namespaces = 0usize;
    loop {
        let at = base + usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = reader.read_event().map_err(|e| {
            let error_at = usize::try_from(reader.error_position()).unwrap_or(usize::MAX);
            xml_error(src, base.saturating_add(error_at), e.to_string())
        })?;
        match event {
            Event::Start(ref tag) | Event::Empty(ref tag) => {
                tags += 1;
                if tags > limits.max_tags {
                    return Err(LabelConfigError::TooManyTags {
                        limit: limits.max_tags,
                    });
                }
                // An empty element is one level deeper too, it just closes at once.
                if depth + 1 > limits.max_depth {
                    return Err(LabelConfigError::TooDeep {
                        limit: limits.max_depth,
                        line: line_of(src, at),
                    });
                }
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                }
                namespaces += count_attributes(src, tag, at, limits)?;
                if namespaces > MAX_NAMESPACE_DECLARATIONS {
                    return Err(xml_error(
                        src,
                        at,
                        format!(
                            "more than {MAX_NAMESPACE_DECLARATIONS} namespace declarations (xmlns)"
                        ),
                    ));
                }
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::DocType(_) => return Err(LabelConfigError::Doctype { position: at }),
            Event::Decl(decl) => {
                let version = decl.version().unwrap_or_default();
                let valid = version
                    .strip_prefix(b"1.")
                    .is_some_and(|minor| !minor.is_empty() && minor.iter().all(u8::is_ascii_digit));
                if !valid {
                    return Err(xml_error(
                        src,
                        at,
                        "the XML declaration's version must be 1.0 (or 1.x)",
                    ));
                }
            }
            // Namespaces in XML: a target is a name without a colon.
            Event::PI(pi) if pi.target().contains(&b':') => {
                let target = String::from_utf8_lossy(pi.target()).into_owned();
                return Err(xml_error(
                    src,
                    at,
                    format!("'{target}' is not a valid processing instruction target"),
                ));
            }
            Event::Eof => return Ok(()),
            _ => {}
        }
    }
}

/// Counts a start tag's attributes against the limit (stopping at the first one over it)
/// and checks its namespace declarations; returns how many it declares.
fn count_attributes(
    src: &str,
    tag: &BytesStart<'_>,
    at: usize,
    limits: &Limits,
) -> Result<usize, LabelConfigError> {
    let name = String::from_utf8_lossy(tag.name().into_inner()).into_owned();
    let mut count = 0;
    let mut declarations = 0;
    // Without checks: quick-xml's duplicate check is pairwise too (roxmltree's catches them).
    for attribute in tag.attributes().with_checks(false) {
        let attribute = attribute
            .map_err(|e| xml_error(src, at, format!("malformed attributes in <{name}>: {e}")))?;
        count += 1;
        if count > limits.max_attributes {
            return Err(LabelConfigError::TooManyAttributes {
                tag: name,
                line: line_of(src, at),
                limit: limits.max_attributes,
            });
        }
        let key = attribute.key.into_inner();
        let prefixed = key.starts_with(b"xmlns:");
        if key != b"xmlns" && !prefixed {
            continue;
        }
        declarations += 1;
        let value = attribute
            .unescape_value()
            .map(|v| v.into_owned())
            .unwrap_or_default();
        // libxml2 refuses an unprefixing (`xmlns:p=""`, XML 1.0 has none) and a name that is
        // not a URI reference.
        if !is_namespace_uri(&value) || (prefixed && value.is_empty()) {
            let key = String::from_utf8_lossy(key);
            return Err(xml_error(
                src,
                at,
                format!("{key}=\"{value}\" is not a valid namespace URI"),
            ));
        }
    }
    Ok(declarations)
}

/// A rough RFC 3986 check of a namespace name, as libxml2 (lxml) applies it.
fn is_namespace_uri(uri: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-._~:/?#@!$&'()*+,;=%".contains(c);
    if !uri.chars().all(allowed) {
        return false;
    }
    // A colon before any '/', '?' or '#' ends a scheme: ALPHA *(ALPHA / DIGIT / "+" / "-" / ".").
    let head = &uri[..uri.find(['/', '?', '#']).unwrap_or(uri.len())];
    match head.split_once(':') {
        Some((scheme, _)) => {
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => true,
    }
}

/// An XML error at byte offset `position` of the config.
fn xml_error(src: &str, position: usize, message: impl Into<String>) -> LabelConfigError {
    let position = floor_char_boundary(src, position);
    let before = &src[..position];
    LabelConfigError::Xml {
        message: message.into(),
        position,
        line: line_of(src, position),
        column: before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1,
    }
}

/// The 1-based line of byte offset `position`.
fn line_of(src: &str, position: usize) -> usize {
    let position = floor_char_boundary(src, position);
    src.as_bytes()[..position]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn floor_char_boundary(src: &str, position: usize) -> usize {
    let mut at = position.min(src.len());
    while !src.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// The byte offset of a 1-based line and column (in characters), as roxmltree reports them.
fn offset_of(src: &str, row: u32, col: u32) -> usize {
    let line_start = match row {
        0 | 1 => 0,
        row => src
            .match_indices('\n')
            .nth(row as usize - 2)
            .map_or(src.len(), |(at, _)| at + 1),
    };
    src[line_start..]
        .char_indices()
        .nth(col.saturating_sub(1) as usize)
        .map_or(src.len(), |(at, _)| line_start + at)
}

/// lxml's name of an element: `{uri}local` in a namespace, else `local`.
pub(super) fn tag_name(node: Node<'_, '_>) -> String {
    let name = node.tag_name();
    match name.namespace() {
        Some(uri) => format!("{{{uri}}}{}", name.name()),
        None => name.name().to_owned(),
    }
}

/// An element's attributes with lxml's names (`{uri}local` in a namespace), in document
/// order. Namespace declarations are not attributes.
pub(super) fn attributes<'a>(node: Node<'a, '_>) -> impl Iterator<Item = (String, &'a str)> {
    node.attributes().map(|attribute| {
        let name = match attribute.namespace() {
            Some(uri) => format!("{{{uri}}}{}", attribute.name()),
            None => attribute.name().to_owned(),
        };
        (name, attribute.value())
    })
}

/// The elements and text of a tree in document order, with each element's end: what a
/// streaming parser would report, without recursion.
pub(super) enum Edge<'a, 'i> {
    Open(Node<'a, 'i>),
    Text(&'a str),
    Close(Node<'a, 'i>),
}

/// Calls `visit` for every edge below (and including) `root`.
pub(super) fn walk<'a, 'i>(root: Node<'a, 'i>, mut visit: impl FnMut(Edge<'a, 'i>)) {
    let mut open: Vec<Node<'a, 'i>> = Vec::new();
    for node in root.descendants() {
        if !(node.is_element() || node.is_text()) {
            continue;
        }
        let parent = node.parent().map(|p| p.id());
        while let Some(top) = open.last()
            && Some(top.id()) != parent
        {
            visit(Edge::Close(*top));
            open.pop();
        }
        if node.is_element() {
            visit(Edge::Open(node));
            open.push(node);
        } else if let Some(text) = node.text() {
            visit(Edge::Text(text));
        }
    }
    while let Some(top) = open.pop() {
        visit(Edge::Close(top));
    }
}

/// The config as lxml's `tostring` writes the root element (comments left out), which Label
/// Studio searches with the regexes `name="([^"]*)"` and `toName="([^"]*)"` for its name
/// checks; and for each start tag, where it starts and ends in that text.
pub(super) fn serialize<'a, 'i>(root: Node<'a, 'i>) -> (String, Vec<(usize, usize, Node<'a, 'i>)>) {
    let src = root.document().input_text();
    let mut out = String::new();
    let mut spans = Vec::new();
    walk(root, |edge| match edge {
        Edge::Open(node) => {
            let start = out.len();
            out.push('<');
            out.push_str(raw_tag(src, node));
            for attribute in node.attributes() {
                out.push(' ');
                out.push_str(&src[attribute.range_qname()]);
                out.push_str("=\"");
                escape_into(&mut out, attribute.value(), true);
                out.push('"');
            }
            out.push('>');
            spans.push((start, out.len(), node));
        }
        Edge::Text(text) => escape_into(&mut out, text, false),
        Edge::Close(node) => {
            out.push_str("</");
            out.push_str(raw_tag(src, node));
            out.push('>');
        }
    });
    (out, spans)
}

/// An element's name as written (`p:Tag`).
fn raw_tag<'i>(src: &'i str, node: Node<'_, 'i>) -> &'i str {
    let after_lt = &src[node.range().start + 1..];
    let end = after_lt
        .find(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>')
        .unwrap_or(after_lt.len());
    &after_lt[..end]
}

/// Appends `text` escaped as lxml escapes attribute values (`attribute`) or text.
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
