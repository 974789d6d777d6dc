//! Uploaded import files → raw task items, as Label Studio's import reads them.
//!
//! Each item is a JSON object: either `{"data": {...}, ...}` or a flat object that is the
//! task data itself (the caller tells them apart). Formats, by extension:
//! - `.json`: an array of objects, or one object;
//! - `.jsonl` / `.ndjson`: one object per non-blank line;
//! - `.csv` / `.tsv`: a header row, then one task per row; cells that are plain integers or
//!   decimals become numbers (Label Studio reads these files with pandas, which does the
//!   same), except numbers with leading zeros such as `007`, which stay strings so nothing
//!   is lost;
//! - `.txt`: one task per non-empty line, under the project's data key.

use serde_json::{Map, Number, Value};

#[derive(Debug, thiserror::Error)]
pub enum ImportFileError {
    #[error("{file}: unsupported file type; use .json, .jsonl, .csv, .tsv or .txt")]
    Unsupported { file: String },
    #[error("{file}: the file is not UTF-8 text")]
    NotUtf8 { file: String },
    #[error("{file}: the file is empty")]
    Empty { file: String },
    #[error("{file}: not valid JSON: {message}")]
    Json { file: String, message: String },
    #[error("{file}: item {index} is {found}, expected an object")]
    NotAnObject {
        file: String,
        index: usize,
        found: &'static str,
    },
    #[error("{file}: line {line}: {message}")]
    Line {
        file: String,
        line: u64,
        message: String,
    },
    #[error("{file}: the header {message}")]
    Header { file: String, message: String },
}

/// Parses one uploaded file into raw task items. `text_key` is the data key used for
/// plain-text lines.
pub fn parse_file(
    file_name: &str,
    bytes: &[u8],
    text_key: &str,
) -> Result<Vec<Value>, ImportFileError> {
    let file = file_name.to_string();
    let extension = file_name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    let text =
        std::str::from_utf8(bytes).map_err(|_| ImportFileError::NotUtf8 { file: file.clone() })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match extension.as_str() {
        "json" => parse_json(file, text),
        "jsonl" | "ndjson" => parse_json_lines(file, text),
        "csv" => parse_table(file, text, b','),
        "tsv" => parse_table(file, text, b'\t'),
        "txt" => Ok(text
            .lines()
            .map(|line| line.trim_end_matches('\r'))
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                let mut data = Map::new();
                data.insert(text_key.to_string(), Value::String(line.to_string()));
                Value::Object(data)
            })
            .collect()),
        _ => Err(ImportFileError::Unsupported { file }),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn parse_json(file: String, text: &str) -> Result<Vec<Value>, ImportFileError> {
    if text.trim().is_empty() {
        return Err(ImportFileError::Empty { file });
    }
    let value: Value = serde_json::from_str(text).map_err(|e| ImportFileError::Json {
        file: file.clone(),
        message: e.to_string(),
    })?;
    let items = match value {
        Value::Array(items) => items,
        object @ Value::Object(_) => vec![object],
        other => {
            return Err(ImportFileError::NotAnObject {
                file,
                index: 0,
                found: kind(&other),
            });
        }
    };
    for (index, item) in items.iter().enumerate() {
        if !item.is_object() {
            return Err(ImportFileError::NotAnObject {
                file,
                index,
                found: kind(item),
            });
        }
    }
    Ok(items)
}

fn parse_json_lines(file: String, text: &str) -> Result<Vec<Value>, ImportFileError> {
    let mut items = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(line).map_err(|e| ImportFileError::Line {
            file: file.clone(),
            line: number as u64 + 1,
            message: format!("not valid JSON: {e}"),
        })?;
        if !value.is_object() {
            return Err(ImportFileError::Line {
                file,
                line: number as u64 + 1,
                message: format!("{} where an object was expected", kind(&value)),
            });
        }
        items.push(value);
    }
    Ok(items)
}

fn parse_table(file: String, text: &str, delimiter: u8) -> Result<Vec<Value>, ImportFileError> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| ImportFileError::Header {
            file: file.clone(),
            message: format!("cannot be read: {e}"),
        })?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if headers.iter().all(String::is_empty) {
        return Ok(vec![]);
    }
    for (i, name) in headers.iter().enumerate() {
        if name.is_empty() {
            return Err(ImportFileError::Header {
                file,
                message: format!("column {} has no name", i + 1),
            });
        }
        if headers[..i].contains(name) {
            return Err(ImportFileError::Header {
                file,
                message: format!("names the column \"{name}\" twice"),
            });
        }
    }
    let mut items = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            let message = match e.kind() {
                csv::ErrorKind::UnequalLengths {
                    expected_len, len, ..
                } => {
                    format!("has {len} fields, the header has {expected_len}")
                }
                _ => e.to_string(),
            };
            ImportFileError::Line {
                file: file.clone(),
                line,
                message,
            }
        })?;
        let row: Map<String, Value> = headers
            .iter()
            .zip(record.iter())
            .map(|(name, cell)| (name.clone(), cell_value(cell)))
            .collect();
        items.push(Value::Object(row));
    }
    Ok(items)
}

/// A cell as pandas would type it: integers and finite decimals become numbers.
fn cell_value(cell: &str) -> Value {
    let trimmed = cell.trim();
    let digits = trimmed.trim_start_matches('-');
    let leading_zero = digits.len() > 1 && digits.starts_with('0') && !digits.starts_with("0.");
    if !trimmed.is_empty() && !leading_zero {
        if let Ok(n) = trimmed.parse::<i64>() {
            return Value::Number(n.into());
        }
        if trimmed
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | 'e' | 'E' | '+'))
            && let Some(n) = trimmed.parse::<f64>().ok().and_then(Number::from_f64)
        {
            return Value::Number(n);
        }
    }
    Value::String(cell.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(name: &str, text: &str) -> Result<Vec<Value>, ImportFileError> {
        parse_file(name, text.as_bytes(), "text")
    }

    #[test]
    fn json_list_or_object() {
        assert_eq!(
            parse("a.json", r#"[{"text": "x"}, {"data": {"text": "y"}}]"#)
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            parse("a.JSON", "\u{feff}{\"text\": \"x\"}").unwrap(),
            vec![json!({"text": "x"})]
        );
        let error = parse("a.json", r#"[{"a": 1}, "b"]"#)
            .unwrap_err()
            .to_string();
        assert_eq!(error, "a.json: item 1 is a string, expected an object");
        assert!(
            parse("a.json", "[1,")
                .unwrap_err()
                .to_string()
                .starts_with("a.json: not valid JSON")
        );
        assert!(matches!(
            parse("a.json", " "),
            Err(ImportFileError::Empty { .. })
        ));
    }

    #[test]
    fn json_lines() {
        assert_eq!(
            parse("a.jsonl", "{\"text\": 1}\n\n{\"text\": 2}\r\n")
                .unwrap()
                .len(),
            2
        );
        let error = parse("a.ndjson", "{\"a\": 1}\n[1]\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "a.ndjson: line 2: a list where an object was expected"
        );
        assert!(
            parse("a.jsonl", "{\"a\": 1}\n{bad\n")
                .unwrap_err()
                .to_string()
                .contains("line 2")
        );
    }

    #[test]
    fn csv_and_tsv() {
        let rows = parse(
            "a.csv",
            "\u{feff}text,n,f,code\r\n\"x, \"\"quoted\"\"\",1,2.5,007\n\"multi\nline\",-3,,x\n",
        )
        .unwrap();
        assert_eq!(
            rows[0],
            json!({"text": "x, \"quoted\"", "n": 1, "f": 2.5, "code": "007"})
        );
        assert_eq!(
            rows[1],
            json!({"text": "multi\nline", "n": -3, "f": "", "code": "x"})
        );
        assert_eq!(
            parse("a.tsv", "a\tb\n1\tz\n").unwrap(),
            vec![json!({"a": 1, "b": "z"})]
        );
        assert!(parse("a.csv", "a,b\n").unwrap().is_empty());
        assert!(parse("a.csv", "").unwrap().is_empty());
        let error = parse("a.csv", "a,b,c\n1,2\n").unwrap_err().to_string();
        assert!(
            error.contains("line 2") && error.contains("has 2 fields, the header has 3"),
            "{error}"
        );
        assert!(
            parse("a.csv", "a,a\n1,2\n")
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
        assert!(
            parse("a.csv", "a,\n1,2\n")
                .unwrap_err()
                .to_string()
                .contains("no name")
        );
    }

    #[test]
    fn text_lines_and_other_files() {
        let rows = parse_file("a.txt", b"one\r\n\n  \ntwo", "review").unwrap();
        assert_eq!(
            rows,
            vec![json!({"review": "one"}), json!({"review": "two"})]
        );
        assert!(parse("a.txt", "").unwrap().is_empty());
        assert_eq!(
            parse("doc.pdf", "x").unwrap_err().to_string(),
            "doc.pdf: unsupported file type; use .json, .jsonl, .csv, .tsv or .txt"
        );
        assert!(matches!(
            parse_file("a.txt", &[0xff, 0xfe], "t"),
            Err(ImportFileError::NotUtf8 { .. })
        ));
        assert!(parse("noextension", "x").is_err());
    }

    #[test]
    fn numbers_like_pandas() {
        assert_eq!(cell_value("12"), json!(12));
        assert_eq!(cell_value("-0.5"), json!(-0.5));
        assert_eq!(cell_value("1e3"), json!(1000.0));
        assert_eq!(cell_value("0"), json!(0));
        assert_eq!(cell_value("0.25"), json!(0.25));
        assert_eq!(cell_value("007"), json!("007"));
        assert_eq!(cell_value("nan"), json!("nan"));
        assert_eq!(cell_value("1-2"), json!("1-2"));
    }
}
