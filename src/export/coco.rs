//! COCO: a zip with `result.json` (`images`, `categories`, `annotations`, `info`) and an
//! empty `images/` folder (labelhook does not download task media).
//!
//! As in Label Studio's converter, every annotation item adds an image entry (a task
//! annotated twice has two), sized by the first labeled region's `original_width` and
//! `original_height`; rectangles become `bbox` in pixels (rotated ones their enclosing
//! box), polygons `segmentation` with their bounding box and shoelace area; categories
//! are the config's labels, then any other label in order of appearance.
//!
//! `images` comes before `annotations` in the file and categories can grow while
//! annotations are read, so the tasks are read twice: once for images and categories,
//! once to write the annotations. Only the image list is held in memory.

use serde_json::{Map, Value, json};

use super::items::{self, Item};
use super::media;
use super::output::{Out, ZipBuffer};
use super::pyjson::{self, UJSON_INDENTED};
use super::schema::{Categories, Schema};
use super::{ExportError, Tasks, zip_options};

pub async fn write(tasks: &mut Tasks, schema: &Schema, out: &mut Out) -> Result<(), ExportError> {
    let data_key = schema.data_key().unwrap_or_default().to_string();
    // First pass: the images and every category.
    let mut walk = Walk::new(schema);
    tasks.rewind();
    while let Some(page) = tasks.next().await? {
        for task in &page {
            for item in items::items(task, schema) {
                walk.item(&item, &data_key, &mut |_| {});
            }
        }
    }
    let images = std::mem::take(&mut walk.images);
    let categories = walk.categories.list.clone();

    let buffer = ZipBuffer::default();
    let mut zip = zip::ZipWriter::new_stream(buffer.clone());
    let options = zip_options();
    zip.add_directory("images/", options)?;
    zip.start_file("result.json", options)?;
    let mut text = Vec::new();
    text.extend_from_slice(b"{\n  \"images\": ");
    pyjson::write(&mut text, &Value::Array(images), &UJSON_INDENTED, 1);
    text.extend_from_slice(b",\n  \"categories\": ");
    let categories: Vec<Value> = categories
        .iter()
        .map(|(id, name)| json!({"id": id, "name": name}))
        .collect();
    pyjson::write(&mut text, &Value::Array(categories), &UJSON_INDENTED, 1);
    text.extend_from_slice(b",\n  \"annotations\": [");
    write_part(&mut zip, &mut text)?;
    buffer.drain_into(out).await?;

    // Second pass: the same walk again, writing each annotation as it is made.
    let mut walk = Walk::new(schema);
    let mut count = 0usize;
    tasks.rewind();
    while let Some(page) = tasks.next().await? {
        for task in &page {
            for item in items::items(task, schema) {
                walk.item(&item, &data_key, &mut |annotation| {
                    text.extend_from_slice(if count == 0 { b"\n    " } else { b",\n    " });
                    pyjson::write(&mut text, &annotation, &UJSON_INDENTED, 2);
                    count += 1;
                });
            }
        }
        write_part(&mut zip, &mut text)?;
        buffer.drain_into(out).await?;
    }
    text.extend_from_slice(if count == 0 { b"]" } else { b"\n  ]" });
    text.extend_from_slice(b",\n  \"info\": ");
    let now = chrono::Utc::now();
    let info = json!({
        "year": chrono::Datelike::year(&now),
        "version": "1.0",
        "description": "",
        "contributor": "Label Studio",
        "url": "",
        "date_created": python_datetime(now),
    });
    pyjson::write(&mut text, &info, &UJSON_INDENTED, 1);
    text.extend_from_slice(b"\n}");
    write_part(&mut zip, &mut text)?;
    zip.finish()?;
    buffer.drain_into(out).await?;
    Ok(())
}

fn write_part<W: std::io::Write>(
    zip: &mut zip::ZipWriter<zip::write::StreamWriter<W>>,
    text: &mut Vec<u8>,
) -> Result<(), ExportError> {
    use std::io::Write;
    zip.write_all(text)?;
    text.clear();
    Ok(())
}

/// `str(datetime.now())`: `2026-12-03 09:24:54.317724` (no fraction when it is zero).
pub fn python_datetime(now: chrono::DateTime<chrono::Utc>) -> String {
    if now.timestamp_subsec_micros() == 0 {
        now.format("%Y-%m-%d %H:%M:%S").to_string()
    } else {
        now.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
    }
}

/// The converter's walk over items: the images and categories so far, and a count of
/// annotations (their ids).
struct Walk {
    images: Vec<Value>,
    image_count: usize,
    categories: Categories,
    annotation_count: usize,
}

impl Walk {
    fn new(schema: &Schema) -> Walk {
        Walk {
            images: Vec::new(),
            image_count: 0,
            categories: schema.categories(),
            annotation_count: 0,
        }
    }

    fn add_image(&mut self, width: &Value, height: &Value, id: usize, path: &str) {
        self.images.push(json!({
            "width": width,
            "height": height,
            "id": id,
            "file_name": path,
        }));
        self.image_count += 1;
    }

    /// One item: maybe an image entry, and its annotations handed to `emit`.
    fn item(&mut self, item: &Item, data_key: &str, emit: &mut dyn FnMut(Value)) {
        let Some(url) = item.input.get(data_key).and_then(Value::as_str) else {
            return;
        };
        let path = media::image_path(url);
        let image_id = self.image_count;
        // The image's size, once a labeled region tells it.
        let mut size: Option<(Value, Value)> = None;
        if item.output.is_empty() {
            self.add_image(&Value::Null, &Value::Null, image_id, &path);
            return;
        }
        let labels: Vec<&Map<String, Value>> = item
            .output
            .iter()
            .flat_map(|(_, regions)| regions)
            .collect();
        for label in labels {
            let category = [
                "rectanglelabels",
                "polygonlabels",
                "keypointlabels",
                "labels",
            ]
            .iter()
            .find_map(|key| {
                label
                    .get(*key)
                    .and_then(Value::as_array)
                    .and_then(|names| names.first())
            });
            let Some(category) = category else { continue };
            let category = match category {
                Value::String(name) => name.clone(),
                other => other.to_string(),
            };
            let known = size.as_ref().is_some_and(|(w, h)| truthy(w) && truthy(h));
            if !known {
                let (Some(width), Some(height)) =
                    (label.get("original_width"), label.get("original_height"))
                else {
                    continue;
                };
                self.add_image(width, height, image_id, &path);
                size = Some((width.clone(), height.clone()));
            }
            let category_id = self.categories.id(&category);
            let id = self.annotation_count;
            let annotation =
                if label.contains_key("rectanglelabels") || label.contains_key("labels") {
                    let Some((x, y, w, h)) = rotated_rectangle(label) else {
                        continue;
                    };
                    let (Some(ow), Some(oh)) = (
                        number(label, "original_width"),
                        number(label, "original_height"),
                    ) else {
                        continue;
                    };
                    let (x, y, w, h) = (
                        x * ow / 100.0,
                        y * oh / 100.0,
                        w * ow / 100.0,
                        h * oh / 100.0,
                    );
                    json!({
                        "id": id,
                        "image_id": image_id,
                        "category_id": category_id,
                        "segmentation": [],
                        "bbox": [x, y, w, h],
                        "ignore": 0,
                        "iscrowd": 0,
                        "area": w * h,
                    })
                } else if label.contains_key("polygonlabels") {
                    let (width, height) = match &size {
                        Some((w, h)) => (
                            w.as_f64().unwrap_or(f64::NAN),
                            h.as_f64().unwrap_or(f64::NAN),
                        ),
                        None => continue,
                    };
                    let points: Vec<(f64, f64)> = label
                        .get("points")
                        .and_then(Value::as_array)
                        .map(|points| {
                            points
                                .iter()
                                .filter_map(|p| {
                                    let p = p.as_array()?;
                                    Some((p.first()?.as_f64()?, p.get(1)?.as_f64()?))
                                })
                                .map(|(x, y)| (x / 100.0 * width, y / 100.0 * height))
                                .collect()
                        })
                        .unwrap_or_default();
                    if points.is_empty() {
                        continue;
                    }
                    let flat: Vec<f64> = points.iter().flat_map(|&(x, y)| [x, y]).collect();
                    json!({
                        "id": id,
                        "image_id": image_id,
                        "category_id": category_id,
                        "segmentation": [flat],
                        "bbox": bounding_box(&points),
                        "ignore": 0,
                        "iscrowd": 0,
                        "area": polygon_area(&points),
                    })
                } else {
                    // Key points (they need the config's key point order) are not written.
                    continue;
                };
            self.annotation_count += 1;
            emit(annotation);
        }
    }
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.as_f64().is_some_and(|x| x != 0.0),
        Value::Null | Value::Bool(false) => false,
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

fn number(label: &Map<String, Value>, key: &str) -> Option<f64> {
    label.get(key).and_then(Value::as_f64)
}

/// A rectangle's `x, y, width, height` in percent; a rotated one's enclosing box (Label
/// Studio stores the top-left corner after rotating around it).
pub fn rotated_rectangle(label: &Map<String, Value>) -> Option<(f64, f64, f64, f64)> {
    let x = number(label, "x")?;
    let y = number(label, "y")?;
    let w = number(label, "width")?;
    let h = number(label, "height")?;
    let r = number(label, "rotation").unwrap_or(0.0);
    if r.abs() == 0.0 {
        return Some((x, y, w, h));
    }
    use std::f64::consts::PI;
    let alpha = (h / w).atan();
    let beta = PI * (r / 180.0);
    // `**` is C's `pow` in Python; `powf` calls the same.
    let radius = ((w / 2.0).powf(2.0) + (h / 2.0).powf(2.0)).sqrt();
    let x0 = x - radius * ((PI - alpha - beta).cos() - (PI - alpha).cos()) + w / 2.0;
    let y0 = y + radius * ((PI - alpha - beta).sin() - (PI - alpha).sin()) + h / 2.0;
    let thetas = [
        alpha + beta,
        PI - alpha + beta,
        PI + alpha + beta,
        2.0 * PI - alpha + beta,
    ];
    let xs = thetas.map(|t| x0 + radius * t.cos());
    let ys = thetas.map(|t| y0 + radius * t.sin());
    let min = |v: [f64; 4]| v.into_iter().fold(f64::INFINITY, f64::min);
    let max = |v: [f64; 4]| v.into_iter().fold(f64::NEG_INFINITY, f64::max);
    let (left, top) = (min(xs), min(ys));
    Some((left, top, max(xs) - left, max(ys) - top))
}

fn bounding_box(points: &[(f64, f64)]) -> [f64; 4] {
    let fold = |pick: fn(&(f64, f64)) -> f64, f: fn(f64, f64) -> f64, start: f64| {
        points.iter().map(pick).fold(start, f)
    };
    let (x1, y1) = (
        fold(|p| p.0, f64::min, f64::INFINITY),
        fold(|p| p.1, f64::min, f64::INFINITY),
    );
    let (x2, y2) = (
        fold(|p| p.0, f64::max, f64::NEG_INFINITY),
        fold(|p| p.1, f64::max, f64::NEG_INFINITY),
    );
    [x1, y1, x2 - x1, y2 - y1]
}

/// The shoelace formula, summed in the order NumPy's `dot` sums short vectors.
fn polygon_area(points: &[(f64, f64)]) -> f64 {
    let n = points.len();
    let mut forward = 0.0;
    let mut backward = 0.0;
    for i in 0..n {
        let previous = points[(i + n - 1) % n];
        forward += points[i].0 * previous.1;
        backward += points[i].1 * previous.0;
    }
    0.5 * (forward - backward).abs()
}
