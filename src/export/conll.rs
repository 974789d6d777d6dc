//! CONLL2003: every token of the text on its own line (`token -X- _ tag`), tagged
//! `B-`/`I-` + label inside a named entity and `O` outside, an empty line after each
//! annotation. Tokens and the tag rules are Label Studio's converter's, quirks included
//! (an entity that starts inside a token tags it; the spans of one annotation are read in
//! order of `start`).

use serde_json::{Map, Value};

use super::items;
use super::output::Out;
use super::schema::Schema;
use super::tokenize::tokens_with_starts;
use super::{ExportError, Tasks};

pub async fn write(tasks: &mut Tasks, schema: &Schema, out: &mut Out) -> Result<(), ExportError> {
    let data_key = schema.data_key().unwrap_or_default().to_string();
    out.buf.extend_from_slice(b"-DOCSTART- -X- O\n");
    while let Some(page) = tasks.next().await? {
        for task in &page {
            for item in items::items(task, schema) {
                // A task without the text has nothing to tokenize (Label Studio fails).
                let Some(text) = item.input.get(&data_key).and_then(Value::as_str) else {
                    continue;
                };
                let spans = item
                    .output
                    .iter()
                    .map(|(_, regions)| regions)
                    .find(|regions| {
                        regions
                            .first()
                            .and_then(|r| r.get("type"))
                            .and_then(Value::as_str)
                            .is_some_and(|t| t.eq_ignore_ascii_case("labels"))
                    });
                for (token, tag) in tokens_and_tags(text, spans.map(Vec::as_slice)) {
                    out.buf.extend_from_slice(token.as_bytes());
                    out.buf.extend_from_slice(b" -X- _ ");
                    out.buf.extend_from_slice(tag.as_bytes());
                    out.buf.push(b'\n');
                }
                out.buf.push(b'\n');
            }
        }
        out.flush().await?;
    }
    Ok(())
}

/// A span of text with its label, positions in characters (`end` exclusive).
struct Span {
    start: f64,
    /// The last character inside (Label Studio's `end - 1`).
    last: f64,
    label: Option<String>,
}

impl Span {
    fn of(region: &Map<String, Value>) -> Option<Span> {
        let start = region.get("start")?.as_f64()?;
        let end = region.get("end")?.as_f64()?;
        let label = region
            .get("labels")
            .and_then(Value::as_array)
            .and_then(|labels| labels.first())
            .map(|label| match label {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            });
        Some(Span {
            start,
            last: end - 1.0,
            label,
        })
    }
}

/// Each token of `text` with its tag.
fn tokens_and_tags(text: &str, regions: Option<&[Map<String, Value>]>) -> Vec<(String, String)> {
    let tokens = tokens_with_starts(text);
    let spans: Option<Vec<Span>> = regions
        .filter(|r| !r.is_empty())
        .and_then(|r| r.iter().map(Span::of).collect());
    let Some(mut spans) = spans else {
        return tokens.into_iter().map(|(t, _)| (t, "O".into())).collect();
    };
    spans.sort_by(|a, b| a.start.total_cmp(&b.start));
    let mut spans = spans.into_iter();
    let Some(mut span) = spans.next() else {
        return tokens.into_iter().map(|(t, _)| (t, "O".into())).collect();
    };
    let mut prefix = "B-";
    let mut tagged = Vec::with_capacity(tokens.len());
    for (token, start) in tokens {
        let start = start as f64;
        let end = start + token.chars().count() as f64 - 1.0;
        if start > span.last {
            for next in spans.by_ref() {
                span = next;
                prefix = "B-";
                if start <= span.last {
                    break;
                }
            }
        }
        let tag = match &span.label {
            Some(label) if span.start <= end && span.last >= start => {
                let tag = format!("{prefix}{label}");
                prefix = "I-";
                tag
            }
            _ => "O".to_string(),
        };
        tagged.push((token, tag));
    }
    tagged
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entities_get_begin_and_inside_tags() {
        let regions: Vec<Map<String, Value>> = [
            json!({"start": 21, "end": 26, "labels": ["LOC"]}),
            json!({"start": 0, "end": 12, "labels": ["PER"]}),
        ]
        .into_iter()
        .filter_map(|v| v.as_object().cloned())
        .collect();
        let tagged = tokens_and_tags("Barack Obama visited Paris, France", Some(&regions));
        let tags: Vec<&str> = tagged.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(tags, ["B-PER", "I-PER", "O", "B-LOC", "O", "O"]);
    }
}
