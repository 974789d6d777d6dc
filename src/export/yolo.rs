//! YOLO: a zip with one `labels/<image>.txt` per image (`class x_center y_center width
//! height` per box, `class x1 y1 x2 y2 ...` per polygon, all as fractions of the image),
//! `classes.txt` (one category name per line) and `notes.json` (the categories), plus an
//! empty `images/` folder.
//!
//! Label Studio writes one label file per annotation item, over the previous one of the
//! same image: the file that remains is the one of the last item that had regions (with
//! newest-first items, a task's oldest annotation), or an empty one when no item of that
//! image had any. To stream the zip (which cannot overwrite an entry), a first pass finds
//! which item wins each file; the second writes only those. Categories grow as labels
//! outside the config appear, so `classes.txt` and `notes.json` come last.

use std::collections::HashMap;

use md5::{Digest, Md5};
use serde_json::{Map, Value, json};

use super::items::{self, Item};
use super::media;
use super::output::{Out, ZipBuffer};
use super::pyjson::{self, UJSON_INDENTED, python_float};
use super::schema::{Categories, Schema};
use super::{ExportError, Tasks, zip_options};

/// What an item does to its label file.
enum Action {
    /// Writes it (over any earlier one) with these lines.
    Overwrite(String),
    /// Creates it empty unless it exists.
    Touch,
}

pub async fn write(tasks: &mut Tasks, schema: &Schema, out: &mut Out) -> Result<(), ExportError> {
    let data_key = schema.data_key().unwrap_or_default().to_string();
    // First pass: for each label file (by the hash of its path), the item that decides it.
    let mut winners: HashMap<[u8; 16], (u64, bool)> = HashMap::new();
    let mut labels = Labels::new(schema);
    let mut sequence = 0u64;
    tasks.rewind();
    while let Some(page) = tasks.next().await? {
        for task in &page {
            for item in items::items(task, schema) {
                if let Some((path, action)) = labels.item(&item, &data_key) {
                    let overwrite = matches!(action, Action::Overwrite(_));
                    let key: [u8; 16] = Md5::digest(path.as_bytes()).into();
                    match winners.get_mut(&key) {
                        Some(winner) if overwrite => *winner = (sequence, true),
                        Some(_) => {}
                        None => {
                            winners.insert(key, (sequence, overwrite));
                        }
                    }
                }
                sequence += 1;
            }
        }
    }

    let buffer = ZipBuffer::default();
    let mut zip = zip::ZipWriter::new_stream(buffer.clone());
    let options = zip_options();
    zip.add_directory("images/", options)?;
    zip.add_directory("labels/", options)?;
    // Second pass: the same walk, writing each winning item's file.
    let mut labels = Labels::new(schema);
    let mut sequence = 0u64;
    tasks.rewind();
    while let Some(page) = tasks.next().await? {
        for task in &page {
            for item in items::items(task, schema) {
                if let Some((path, action)) = labels.item(&item, &data_key) {
                    let key: [u8; 16] = Md5::digest(path.as_bytes()).into();
                    if winners
                        .get(&key)
                        .is_some_and(|(winner, _)| *winner == sequence)
                    {
                        zip.start_file(path, options)?;
                        if let Action::Overwrite(lines) = action {
                            std::io::Write::write_all(&mut zip, lines.as_bytes())?;
                        }
                    }
                }
                sequence += 1;
            }
        }
        buffer.drain_into(out).await?;
    }
    zip.start_file("classes.txt", options)?;
    let mut classes = String::new();
    for (_, name) in &labels.categories.list {
        classes.push_str(name);
        classes.push('\n');
    }
    std::io::Write::write_all(&mut zip, classes.as_bytes())?;
    zip.start_file("notes.json", options)?;
    let categories: Vec<Value> = labels
        .categories
        .list
        .iter()
        .map(|(id, name)| json!({"id": id, "name": name}))
        .collect();
    let notes = json!({
        "categories": categories,
        "info": {
            "year": chrono::Datelike::year(&chrono::Utc::now()),
            "version": "1.0",
            "contributor": "Label Studio",
        },
    });
    std::io::Write::write_all(&mut zip, &pyjson::to_vec(&notes, &UJSON_INDENTED))?;
    zip.finish()?;
    buffer.drain_into(out).await?;
    Ok(())
}

/// The converter's walk: categories so far, and each item's label file.
struct Labels {
    categories: Categories,
}

impl Labels {
    fn new(schema: &Schema) -> Labels {
        Labels {
            categories: schema.categories(),
        }
    }

    /// The label file of `item` and what the item does to it; `None` when the task has no
    /// image.
    fn item(&mut self, item: &Item, data_key: &str) -> Option<(String, Action)> {
        // A list of images: Label Studio takes the last one.
        let url = match item.input.get(data_key)? {
            Value::String(url) => url.as_str(),
            Value::Array(urls) => urls.iter().rev().find_map(Value::as_str)?,
            _ => return None,
        };
        let stem: String = media::stem(&media::image_path(url))
            .chars()
            .take(251)
            .collect();
        let path = format!("labels/{stem}.txt");
        let regions: Vec<&Map<String, Value>> = item
            .output
            .iter()
            .flat_map(|(_, regions)| regions)
            .collect();
        if regions.is_empty() {
            return Some((path, Action::Touch));
        }
        let mut lines = String::new();
        for region in regions {
            let names: Vec<String> = ["rectanglelabels", "polygonlabels", "labels"]
                .iter()
                .filter_map(|key| region.get(*key).and_then(Value::as_array))
                .flatten()
                .map(|name| match name {
                    Value::String(name) => name.clone(),
                    other => other.to_string(),
                })
                .collect();
            for name in names {
                let category = self.categories.id(&name);
                let values = if ["rectanglelabels", "rectangle", "labels"]
                    .iter()
                    .any(|k| region.contains_key(*k))
                {
                    let Some(values) = box_values(region) else {
                        continue;
                    };
                    values
                } else if ["polygonlabels", "polygon"]
                    .iter()
                    .any(|k| region.contains_key(*k))
                {
                    let Some(points) = region.get("points").and_then(Value::as_array) else {
                        continue;
                    };
                    points
                        .iter()
                        .filter_map(Value::as_array)
                        .flat_map(|p| p.iter().take(2))
                        .filter_map(Value::as_f64)
                        .map(|v| v / 100.0)
                        .collect()
                } else {
                    continue;
                };
                lines.push_str(&category.to_string());
                for value in values {
                    lines.push(' ');
                    lines.push_str(&python_float(value));
                }
                lines.push('\n');
            }
        }
        Some((path, Action::Overwrite(lines)))
    }
}

/// `x_center y_center width height` as fractions.
fn box_values(region: &Map<String, Value>) -> Option<Vec<f64>> {
    let get = |key: &str| region.get(key).and_then(Value::as_f64);
    let (x, y, w, h) = (get("x")?, get("y")?, get("width")?, get("height")?);
    Some(vec![
        (x + w / 2.0) / 100.0,
        (y + h / 2.0) / 100.0,
        w / 100.0,
        h / 100.0,
    ])
}
