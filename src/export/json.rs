//! JSON: the tasks as they are, annotations, drafts and prediction ids included.
//! JSON-MIN: one object per annotation, the task's data with one key per control.

use serde_json::{Map, Value};

use super::items::{self, annotator};
use super::output::Out;
use super::pyjson::{self, Style, UJSON_INDENTED};
use super::schema::Schema;
use super::{ExportError, Tasks};

/// `[task, task, ...]` in `style` (the direct export writes with `ujson`, snapshots with
/// Python's `json`).
pub async fn write(tasks: &mut Tasks, style: &Style, out: &mut Out) -> Result<(), ExportError> {
    let separator = style.item_separator().as_bytes();
    out.buf.push(b'[');
    let mut first = true;
    while let Some(page) = tasks.next().await? {
        for task in &page {
            if !first {
                out.buf.extend_from_slice(separator);
            }
            first = false;
            pyjson::write(&mut out.buf, task, style, 0);
        }
        out.flush().await?;
    }
    out.buf.push(b']');
    Ok(())
}

/// JSON-MIN: `[\n` + records, each indented by 2, joined by `,\n` + `\n]`.
pub async fn write_min(
    tasks: &mut Tasks,
    schema: &Schema,
    out: &mut Out,
) -> Result<(), ExportError> {
    out.buf.extend_from_slice(b"[\n");
    let mut first = true;
    while let Some(page) = tasks.next().await? {
        for task in &page {
            for item in items::items(task, schema) {
                if !first {
                    out.buf.extend_from_slice(b",\n");
                }
                first = false;
                pyjson::write(
                    &mut out.buf,
                    &Value::Object(record(&item)),
                    &UJSON_INDENTED,
                    0,
                );
            }
        }
        out.flush().await?;
    }
    out.buf.extend_from_slice(b"\n]");
    Ok(())
}

/// One JSON-MIN record: the task's data, then its id, each control's answer (replacing a
/// data key of the same name where it stands), the annotator and the annotation's times.
fn record(item: &items::Item) -> Map<String, Value> {
    let mut record = item.input.clone();
    if !item.id.is_null() {
        record.insert("id".into(), item.id.clone());
    }
    for (name, regions) in &item.output {
        record.insert(name.clone(), items::prettify(regions));
    }
    record.insert("annotator".into(), annotator(&item.completed_by, true));
    record.insert("annotation_id".into(), item.annotation_id.clone());
    record.insert("created_at".into(), item.created_at.clone());
    record.insert("updated_at".into(), item.updated_at.clone());
    record.insert("lead_time".into(), item.lead_time.clone());
    record
}
