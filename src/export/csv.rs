//! CSV and TSV: one row per annotation, as Python's `csv.DictWriter` with
//! `QUOTE_NONNUMERIC` writes them (Label Studio's converter).
//!
//! - Columns are every key any row has, sorted: the task's data keys (those that collide
//!   with a control's name get a `_data_` prefix), `id`, one per control, and `annotator`,
//!   `annotation_id`, `created_at`, `updated_at`, `lead_time`.
//! - Text is quoted (a `"` doubled), numbers and booleans are not, a missing value or
//!   `null` is `""`; lists and objects are compact JSON as `ujson` writes it.
//! - Lines end in CRLF; a value's own line breaks stay inside its quotes.
//!
//! The columns must be known before the first row, so the tasks are read twice (as Label
//! Studio does): once for the keys, once for the rows. Neither pass keeps more than a page.
//!
//! The `csv` crate decides quoting by looking at a field's text (`"123"` would not be
//! quoted); Python quotes by the value's type, so the few lines here write the fields.

use std::collections::BTreeSet;

use serde_json::Value;

use super::items::{self, Item, annotator};
use super::output::Out;
use super::pyjson::{self, UJSON};
use super::schema::Schema;
use super::{ExportError, Tasks};

/// Writes CSV (`delimiter` `,`) or TSV (`\t`).
pub async fn write(
    tasks: &mut Tasks,
    schema: &Schema,
    delimiter: u8,
    out: &mut Out,
) -> Result<(), ExportError> {
    let columns = discover_columns(tasks, schema).await?;
    let colliding = &columns.colliding;
    let names: Vec<&str> = columns.names.iter().map(String::as_str).collect();
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            out.buf.push(delimiter);
        }
        write_cell(&mut out.buf, &Cell::Text(name));
    }
    out.buf.extend_from_slice(b"\r\n");
    tasks.rewind();
    while let Some(page) = tasks.next().await? {
        for task in &page {
            for item in items::items(task, schema) {
                let row = Row::of(&item, colliding);
                for (i, name) in names.iter().enumerate() {
                    if i > 0 {
                        out.buf.push(delimiter);
                    }
                    write_cell(&mut out.buf, &row.cell(name));
                }
                out.buf.extend_from_slice(b"\r\n");
            }
        }
        out.flush().await?;
    }
    Ok(())
}

struct Columns {
    /// Sorted column names.
    names: BTreeSet<String>,
    /// Data keys that are also control names (written as `_data_<key>`).
    colliding: BTreeSet<String>,
}

/// The first pass: every data key and control name of every row.
async fn discover_columns(tasks: &mut Tasks, schema: &Schema) -> Result<Columns, ExportError> {
    let mut inputs = BTreeSet::new();
    let mut outputs = BTreeSet::new();
    let mut transcripts = BTreeSet::new();
    let mut has_id = false;
    tasks.rewind();
    while let Some(page) = tasks.next().await? {
        for task in &page {
            for item in items::items(task, schema) {
                inputs.extend(item.input.keys().cloned());
                has_id |= !item.id.is_null();
                for (name, regions) in &item.output {
                    outputs.insert(name.clone());
                    if is_chat(regions) {
                        transcripts.insert(format!("{name}_transcript"));
                    }
                }
            }
        }
    }
    let colliding: BTreeSet<String> = inputs.intersection(&outputs).cloned().collect();
    let mut names: BTreeSet<String> = [
        "annotator",
        "annotation_id",
        "created_at",
        "updated_at",
        "lead_time",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    names.extend(inputs.iter().map(|k| data_column(k, &colliding)));
    names.extend(outputs);
    names.extend(transcripts);
    if has_id {
        names.insert("id".into());
    }
    Ok(Columns { names, colliding })
}

fn data_column(key: &str, colliding: &BTreeSet<String>) -> String {
    if colliding.contains(key) {
        format!("_data_{key}")
    } else {
        key.to_string()
    }
}

fn is_chat(regions: &[serde_json::Map<String, Value>]) -> bool {
    regions.iter().any(|r| {
        matches!(
            r.get("type").and_then(Value::as_str),
            Some("Chat" | "chatmessage")
        )
    })
}

/// One row's values by column.
struct Row<'a> {
    cells: Vec<(String, Owned<'a>)>,
}

/// A value as the row holds it: borrowed from the task, or made for the row.
enum Owned<'a> {
    Borrowed(&'a Value),
    Made(Value),
}

impl<'a> Row<'a> {
    fn of(item: &'a Item<'a>, colliding: &BTreeSet<String>) -> Row<'a> {
        let mut cells: Vec<(String, Owned<'a>)> = Vec::new();
        let set = |cells: &mut Vec<(String, Owned<'a>)>, name: String, value: Owned<'a>| match cells
            .iter_mut()
            .find(|(n, _)| *n == name)
        {
            Some(cell) => cell.1 = value,
            None => cells.push((name, value)),
        };
        if !item.id.is_null() {
            set(&mut cells, "id".into(), Owned::Borrowed(item.id));
        }
        for (name, regions) in &item.output {
            let pretty = items::prettify(regions);
            let shown = match &pretty {
                Value::String(_) => pretty.clone(),
                other => Value::String(pyjson::to_string(other, &UJSON)),
            };
            set(&mut cells, name.clone(), Owned::Made(shown));
            if is_chat(regions) {
                set(
                    &mut cells,
                    format!("{name}_transcript"),
                    Owned::Made(Value::String(transcript(&pretty))),
                );
            }
        }
        for (key, value) in item.input {
            let shown = match value {
                Value::Object(_) | Value::Array(_) => {
                    Owned::Made(Value::String(pyjson::to_string(value, &UJSON)))
                }
                _ => Owned::Borrowed(value),
            };
            set(&mut cells, data_column(key, colliding), shown);
        }
        set(
            &mut cells,
            "annotator".into(),
            Owned::Made(annotator(&item.completed_by, false)),
        );
        set(
            &mut cells,
            "annotation_id".into(),
            Owned::Borrowed(&item.annotation_id),
        );
        set(
            &mut cells,
            "created_at".into(),
            Owned::Borrowed(&item.created_at),
        );
        set(
            &mut cells,
            "updated_at".into(),
            Owned::Borrowed(&item.updated_at),
        );
        set(
            &mut cells,
            "lead_time".into(),
            Owned::Borrowed(&item.lead_time),
        );
        Row { cells }
    }

    fn cell(&self, name: &str) -> Cell<'_> {
        let value = self
            .cells
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| match v {
                Owned::Borrowed(value) => *value,
                Owned::Made(value) => value,
            });
        match value {
            None | Some(Value::Null) => Cell::Empty,
            Some(Value::String(text)) => Cell::Text(text),
            Some(Value::Bool(flag)) => Cell::Bare(if *flag { "True" } else { "False" }.into()),
            Some(Value::Number(n)) if n.is_f64() => {
                Cell::Bare(pyjson::python_float(n.as_f64().unwrap_or_default()))
            }
            Some(Value::Number(n)) => Cell::Bare(n.to_string()),
            Some(other) => Cell::Owned(pyjson::to_string(other, &UJSON)),
        }
    }
}

/// A chat transcript, `role: content` per message.
fn transcript(pretty: &Value) -> String {
    let Some(messages) = pretty.as_array() else {
        return String::new();
    };
    let text = |v: Option<&Value>| match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => pyjson::to_string(other, &pyjson::PYTHON),
    };
    messages
        .iter()
        .filter_map(Value::as_object)
        .map(|message| {
            let role = text(message.get("role"));
            let content = text(message.get("content"));
            match (role.is_empty(), content.is_empty()) {
                (true, _) => content,
                (false, true) => format!("{role}:"),
                (false, false) => format!("{role}: {content}"),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// How a field is written.
enum Cell<'a> {
    /// Quoted.
    Text(&'a str),
    Owned(String),
    /// As is (numbers, booleans).
    Bare(String),
    /// `""`.
    Empty,
}

fn write_cell(buf: &mut Vec<u8>, cell: &Cell) {
    let quoted = |buf: &mut Vec<u8>, text: &str| {
        buf.push(b'"');
        for part in text.split('"').enumerate() {
            if part.0 > 0 {
                buf.extend_from_slice(b"\"\"");
            }
            buf.extend_from_slice(part.1.as_bytes());
        }
        buf.push(b'"');
    };
    match cell {
        Cell::Text(text) => quoted(buf, text),
        Cell::Owned(text) => quoted(buf, text),
        Cell::Bare(text) => buf.extend_from_slice(text.as_bytes()),
        Cell::Empty => buf.extend_from_slice(b"\"\""),
    }
}
