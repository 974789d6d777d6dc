//! Uploaded import files → raw task items, as Label Studio's `/api/projects/{id}/import`
//! reads them.
//!
//! Each item is a JSON object: either `{"data": {...}, ...}` or a flat object that is the
//! task data itself (the caller tells them apart). Formats, by extension (any case):
//! - `.json`: an array of objects, or one object (one task);
//! - `.jsonl` / `.ndjson`: one object per non-blank line;
//! - `.csv` / `.tsv`: a header row, then one flat task per row. Label Studio reads these
//!   with pandas, which infers numbers, so a cell that is exactly an integer or a finite
//!   decimal (`12`, `-3`, `2.5`, `.5`, `1e3`) becomes a JSON number. To stay lossless, other
//!   cells stay strings exactly as written: numbers with leading zeros (`007`, `-01.5`),
//!   a leading `+`, surrounding spaces, integers too big for 64 bits, `NaN`/`inf` and
//!   pandas' missing-value markers such as `NA` or `null`. An empty cell is `""`.
//!   Header names are kept verbatim; empty or duplicate names are errors.
//! - `.txt`: one task `{text_key: line}` per line that is not blank (blank or
//!   whitespace-only lines are skipped; a trailing `\r` is dropped).
//!
//! A UTF-8 byte-order mark is skipped in every format; other encodings are rejected.

use std::collections::HashSet;

use serde_json::{Map, Number, Value};

/// Why an uploaded file cannot be imported. Every message starts with the file's name.
#[derive(Debug, thiserror::Error)]
pub enum ImportFileError {
    #[error("{file}: unsupported file type; use .json, .jsonl, .csv, .tsv or .txt")]
    UnsupportedType { file: String },
    #[error("{file}: not UTF-8 text ({reason}); save the file as UTF-8")]
    NotUtf8 { file: String, reason: String },
    #[error("{file}: empty file")]
    Empty { file: String },
    #[error("{file}: not valid JSON: {message}")]
    InvalidJson { file: String, message: String },
    #[error("{file}: expected a list of task objects or one task object, found {found}")]
    NotATaskList { file: String, found: &'static str },
    /// `index` counts from 0, like the array's own indices.
    #[error("{file}: item {index} is {found}, expected an object")]
    ItemNotAnObject {
        file: String,
        index: usize,
        found: &'static str,
    },
    #[error("{file}: line {line} is not valid JSON: {message}")]
    InvalidJsonLine {
        file: String,
        line: u64,
        message: String,
    },
    #[error("{file}: line {line} is {found}, expected an object")]
    LineNotAnObject {
        file: String,
        line: u64,
        found: &'static str,
    },
    #[error(
        "{file}: line {line} has {found} field{}, the header has {expected}",
        if *.found == 1 { "" } else { "s" }
    )]
    FieldCount {
        file: String,
        line: u64,
        found: u64,
        expected: u64,
    },
    #[error("{file}: column {column} of the header has no name")]
    EmptyHeader { file: String, column: usize },
    #[error("{file}: the header names the column \"{name}\" more than once")]
    DuplicateHeader { file: String, name: String },
    #[error("{file}: line {line}: {message}")]
    Table {
        file: String,
        line: u64,
        message: String,
    },
}

/// Parses one uploaded file into raw task items, each a JSON object: either
/// `{"data": {...}, ...}` or a flat object that is itself the task data.
/// `text_key` is the data key used for plain-text lines (the project's single data key, or "text").
pub fn parse_file(
    file_name: &str,
    bytes: &[u8],
    text_key: &str,
) -> Result<Vec<Value>, ImportFileError> {
    let file = if file_name.is_empty() {
        "(unnamed file)"
    } else {
        file_name
    };
    let format = match extension(file_name).as_str() {
        "json" => Format::Json,
        "jsonl" | "ndjson" => Format::JsonLines,
        "csv" => Format::Table(b','),
        "tsv" => Format::Table(b'\t'),
        "txt" => Format::Text,
        _ => return Err(ImportFileError::UnsupportedType { file: file.into() }),
    };
    let text = decode(file, bytes)?;
    match format {
        Format::Json => parse_json(file, text),
        Format::JsonLines => parse_json_lines(file, text),
        Format::Table(delimiter) => parse_table(file, text, delimiter),
        Format::Text => Ok(parse_text(text, text_key)),
    }
}

enum Format {
    Json,
    JsonLines,
    Table(u8),
    Text,
}

/// The lower-cased extension of the name's last path component, or "" when it has none.
fn extension(file_name: &str) -> String {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    base.rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default()
}

/// The file as UTF-8 text without a byte-order mark.
fn decode<'a>(file: &str, bytes: &'a [u8]) -> Result<&'a str, ImportFileError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let reason = if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
            "it looks like UTF-16".to_string()
        } else {
            let valid = &bytes[..e.valid_up_to()];
            let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
            format!("invalid byte on line {line}")
        };
        ImportFileError::NotUtf8 {
            file: file.into(),
            reason,
        }
    })
}

/// "a string", "a list", ... for error messages.
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

fn parse_json(file: &str, text: &str) -> Result<Vec<Value>, ImportFileError> {
    if text.trim().is_empty() {
        return Err(ImportFileError::Empty { file: file.into() });
    }
    let value: Value = serde_json::from_str(text).map_err(|e| {
        let mut message = e.to_string();
        if message.starts_with("trailing characters") {
            message.push_str("; for one task object per line, name the file .jsonl");
        }
        ImportFileError::InvalidJson {
            file: file.into(),
            message,
        }
    })?;
    let items = match value {
        Value::Array(items) => items,
        object @ Value::Object(_) => return Ok(vec![object]),
        other => {
            return Err(ImportFileError::NotATaskList {
                file: file.into(),
                found: kind(&other),
            });
        }
    };
    if let Some((index, item)) = items.iter().enumerate().find(|(_, item)| !item.is_object()) {
        return Err(ImportFileError::ItemNotAnObject {
            file: file.into(),
            index,
            found: kind(item),
        });
    }
    Ok(items)
}

fn parse_json_lines(file: &str, text: &str) -> Result<Vec<Value>, ImportFileError> {
    let mut items = Vec::new();
    for (line, content) in (1u64..).zip(text.lines()) {
        let content = content.trim();
        if content.is_empty() {
            continue;
        }
        let value: Value =
            serde_json::from_str(content).map_err(|e| ImportFileError::InvalidJsonLine {
                file: file.into(),
                line,
                message: json_line_message(&e),
            })?;
        if !value.is_object() {
            return Err(ImportFileError::LineNotAnObject {
                file: file.into(),
                line,
                found: kind(&value),
            });
        }
        items.push(value);
    }
    Ok(items)
}

/// serde_json's message for one line of a file: "… at column 5" rather than "… at line 1
/// column 5", since the line is named separately.
fn json_line_message(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    match message.strip_suffix(&suffix) {
        Some(head) => format!("{head} at column {}", error.column()),
        None => message,
    }
}

fn parse_table(file: &str, text: &str, delimiter: u8) -> Result<Vec<Value>, ImportFileError> {
    if text.trim().is_empty() {
        return Err(ImportFileError::Empty { file: file.into() });
    }
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| table_error(file, &e))?
        .iter()
        .map(str::to_string)
        .collect();
    let mut seen = HashSet::with_capacity(headers.len());
    for (i, name) in headers.iter().enumerate() {
        if name.trim().is_empty() {
            return Err(ImportFileError::EmptyHeader {
                file: file.into(),
                column: i + 1,
            });
        }
        if !seen.insert(name.as_str()) {
            return Err(ImportFileError::DuplicateHeader {
                file: file.into(),
                name: name.clone(),
            });
        }
    }
    let mut items = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| table_error(file, &e))?;
        let row: Map<String, Value> = headers
            .iter()
            .zip(record.iter())
            .map(|(name, cell)| (name.clone(), cell_value(cell)))
            .collect();
        items.push(Value::Object(row));
    }
    Ok(items)
}

fn table_error(file: &str, error: &csv::Error) -> ImportFileError {
    let line = error.position().map_or(0, |p| p.line());
    match error.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => ImportFileError::FieldCount {
            file: file.into(),
            line,
            found: *len,
            expected: *expected_len,
        },
        _ => ImportFileError::Table {
            file: file.into(),
            line,
            message: error.to_string(),
        },
    }
}

/// A CSV/TSV cell as pandas would type it, kept lossless: see the module docs.
fn cell_value(cell: &str) -> Value {
    if is_plain_number(cell) {
        if !cell.contains(['.', 'e', 'E']) {
            if let Ok(n) = cell.parse::<i64>() {
                return Value::Number(n.into());
            }
            if let Ok(n) = cell.parse::<u64>() {
                return Value::Number(n.into());
            }
        } else if let Some(n) = cell
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .and_then(Number::from_f64)
        {
            return Value::Number(n);
        }
    }
    Value::String(cell.to_string())
}

/// `-?(D+(.D*)?|.D+)([eE][+-]?D+)?` where the integer digits have no leading zero
/// (a lone `0` is fine).
fn is_plain_number(cell: &str) -> bool {
    let digits = |s: &[u8]| s.iter().take_while(|b| b.is_ascii_digit()).count();
    let s = cell.as_bytes();
    let s = s.strip_prefix(b"-").unwrap_or(s);
    let whole = digits(s);
    if whole > 1 && s[0] == b'0' {
        return false;
    }
    let mut rest = &s[whole..];
    let mut fraction = 0;
    if let Some(after) = rest.strip_prefix(b".") {
        fraction = digits(after);
        rest = &after[fraction..];
    }
    if whole == 0 && fraction == 0 {
        return false;
    }
    if let Some(after) = rest.strip_prefix(b"e").or_else(|| rest.strip_prefix(b"E")) {
        let after = after
            .strip_prefix(b"+")
            .or_else(|| after.strip_prefix(b"-"))
            .unwrap_or(after);
        let exponent = digits(after);
        if exponent == 0 {
            return false;
        }
        rest = &after[exponent..];
    }
    rest.is_empty()
}

fn parse_text(text: &str, text_key: &str) -> Vec<Value> {
    text.lines()
        .map(|line| line.trim_end_matches('\r'))
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let mut data = Map::new();
            data.insert(text_key.to_string(), Value::String(line.to_string()));
            Value::Object(data)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(name: &str, text: &str) -> Result<Vec<Value>, ImportFileError> {
        parse_file(name, text.as_bytes(), "text")
    }

    fn error(name: &str, text: &str) -> String {
        parse(name, text).unwrap_err().to_string()
    }

    // ---- .json

    #[test]
    fn json_array_of_objects() {
        let items = parse(
            "tasks.json",
            r#"[{"text": "x"}, {"data": {"text": "y"}, "id": 3}]"#,
        );
        assert_eq!(
            items.unwrap(),
            vec![
                json!({"text": "x"}),
                json!({"data": {"text": "y"}, "id": 3})
            ]
        );
        assert!(parse("tasks.json", "[]").unwrap().is_empty());
    }

    #[test]
    fn json_keeps_key_order() {
        let items = parse("tasks.json", r#"{"z": 1, "a": 2, "m": 3}"#).unwrap();
        let keys: Vec<&String> = items[0].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["z", "a", "m"]);
    }

    #[test]
    fn json_single_object_with_bom_and_crlf() {
        assert_eq!(
            parse("Tasks.JSON", "\u{feff}{\r\n\"text\": \"x\"\r\n}\r\n").unwrap(),
            vec![json!({"text": "x"})]
        );
    }

    #[test]
    fn json_item_not_an_object_names_index() {
        assert_eq!(
            error("tasks.json", r#"[{"a": 1}, {"a": 2}, "b"]"#),
            "tasks.json: item 2 is a string, expected an object"
        );
        assert_eq!(
            error("tasks.json", r#"[[1]]"#),
            "tasks.json: item 0 is a list, expected an object"
        );
    }

    #[test]
    fn json_top_level_scalar_is_an_error() {
        assert_eq!(
            error("tasks.json", "42"),
            "tasks.json: expected a list of task objects or one task object, found a number"
        );
        assert!(matches!(
            parse("tasks.json", "null"),
            Err(ImportFileError::NotATaskList { found: "null", .. })
        ));
    }

    #[test]
    fn json_syntax_error() {
        assert_eq!(
            error("tasks.json", "[1, ]"),
            "tasks.json: not valid JSON: trailing comma at line 1 column 5"
        );
        assert_eq!(
            error("tasks.json", "[{\"a\": 1}"),
            "tasks.json: not valid JSON: EOF while parsing a list at line 1 column 9"
        );
    }

    #[test]
    fn json_with_several_objects_hints_at_jsonl() {
        let message = error("tasks.json", "{\"a\": 1}\n{\"a\": 2}\n");
        assert!(message.starts_with("tasks.json: not valid JSON: trailing characters"));
        assert!(message.ends_with("name the file .jsonl"), "{message}");
    }

    #[test]
    fn json_empty_file() {
        for text in ["", "  \r\n", "\u{feff}"] {
            assert_eq!(error("tasks.json", text), "tasks.json: empty file");
        }
    }

    // ---- .jsonl / .ndjson

    #[test]
    fn jsonl_objects_skipping_blank_lines() {
        let items = parse(
            "t.jsonl",
            "\u{feff}{\"text\": 1}\r\n\r\n  \n{\"text\": \"b\"}",
        )
        .unwrap();
        assert_eq!(items, vec![json!({"text": 1}), json!({"text": "b"})]);
        assert_eq!(
            parse("t.NDJSON", "{\"a\": true}\n").unwrap(),
            vec![json!({"a": true})]
        );
        assert!(parse("t.jsonl", "").unwrap().is_empty());
    }

    #[test]
    fn jsonl_invalid_line_names_line() {
        assert_eq!(
            error("t.jsonl", "{\"a\": 1}\n\n{bad}\n"),
            "t.jsonl: line 3 is not valid JSON: key must be a string at column 2"
        );
    }

    #[test]
    fn jsonl_non_object_line_names_line() {
        assert_eq!(
            error("t.ndjson", "{\"a\": 1}\n[1]\n"),
            "t.ndjson: line 2 is a list, expected an object"
        );
    }

    // ---- .csv / .tsv

    #[test]
    fn csv_rows_become_flat_objects() {
        let items = parse("data.csv", "text,n,f,code,empty\nhello,1,2.5,007,\n").unwrap();
        assert_eq!(
            items,
            vec![json!({"text": "hello", "n": 1, "f": 2.5, "code": "007", "empty": ""})]
        );
        let keys: Vec<&String> = items[0].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["text", "n", "f", "code", "empty"]);
    }

    #[test]
    fn csv_quoted_fields_newlines_bom_and_crlf() {
        let text = "\u{feff}text,n\r\n\"x, \"\"quoted\"\"\",1\r\n\"multi\r\nline\",-3\r\n\r\n";
        assert_eq!(
            parse("data.csv", text).unwrap(),
            vec![
                json!({"text": "x, \"quoted\"", "n": 1}),
                json!({"text": "multi\r\nline", "n": -3}),
            ]
        );
    }

    #[test]
    fn csv_header_only_gives_no_items() {
        assert!(parse("data.csv", "a,b\n").unwrap().is_empty());
        assert!(parse("data.csv", "\u{feff}a,b").unwrap().is_empty());
    }

    #[test]
    fn csv_empty_file() {
        assert_eq!(error("data.csv", ""), "data.csv: empty file");
        assert_eq!(error("data.tsv", "\u{feff}\n\n"), "data.tsv: empty file");
    }

    #[test]
    fn csv_wrong_field_count_names_line() {
        assert_eq!(
            error("data.csv", "a,b,c\n1,2,3\n4,5\n"),
            "data.csv: line 3 has 2 fields, the header has 3"
        );
        // The line is the physical line the row starts on.
        assert_eq!(
            error("data.csv", "a,b\n\"x\ny\",1\n1,2,3\n"),
            "data.csv: line 4 has 3 fields, the header has 2"
        );
    }

    #[test]
    fn csv_duplicate_header() {
        assert_eq!(
            error("data.csv", "a,b,a\n1,2,3\n"),
            "data.csv: the header names the column \"a\" more than once"
        );
    }

    #[test]
    fn csv_empty_header() {
        assert_eq!(
            error("data.csv", "a,,b\n1,2,3\n"),
            "data.csv: column 2 of the header has no name"
        );
        assert_eq!(
            error("data.csv", "a, \n1,2\n"),
            "data.csv: column 2 of the header has no name"
        );
    }

    #[test]
    fn tsv_uses_tabs() {
        assert_eq!(
            parse(
                "data.TSV",
                "text\tscore\r\nhello, world\t0.5\r\n\"a\tb\"\t3\r\n"
            )
            .unwrap(),
            vec![
                json!({"text": "hello, world", "score": 0.5}),
                json!({"text": "a\tb", "score": 3}),
            ]
        );
        assert_eq!(
            error("data.tsv", "a\tb\n1\n"),
            "data.tsv: line 2 has 1 field, the header has 2"
        );
    }

    #[test]
    fn cells_numbers_versus_strings() {
        let numbers = [
            ("0", json!(0)),
            ("12", json!(12)),
            ("-3", json!(-3)),
            ("18446744073709551615", json!(18446744073709551615u64)),
            ("2.5", json!(2.5)),
            ("-0.5", json!(-0.5)),
            ("0.25", json!(0.25)),
            (".5", json!(0.5)),
            ("5.", json!(5.0)),
            ("1e3", json!(1000.0)),
            ("1.5E-2", json!(0.015)),
            ("1.0", json!(1.0)),
        ];
        for (cell, expected) in numbers {
            assert_eq!(cell_value(cell), expected, "{cell}");
        }
        let strings = [
            "",
            " ",
            "007",
            "-01",
            "00.5",
            "+5",
            " 12",
            "12 ",
            "1,000",
            "1_000",
            "1e",
            "e5",
            ".",
            "-",
            "-.",
            "1.2.3",
            "1-2",
            "0x10",
            "nan",
            "NaN",
            "inf",
            "-Infinity",
            "NA",
            "null",
            "1e999",
            "99999999999999999999999",
            "١٢",
        ];
        for cell in strings {
            assert_eq!(cell_value(cell), json!(cell), "{cell:?}");
        }
    }

    // ---- .txt

    #[test]
    fn txt_lines_under_text_key() {
        let items = parse_file(
            "notes.txt",
            b"\xEF\xBB\xBFone\r\n\r\n  \n two \ntwo\r",
            "review",
        );
        assert_eq!(
            items.unwrap(),
            vec![
                json!({"review": "one"}),
                json!({"review": " two "}),
                json!({"review": "two"}),
            ]
        );
    }

    #[test]
    fn txt_empty_file_gives_no_items() {
        assert!(parse("notes.txt", "").unwrap().is_empty());
        assert!(parse("notes.txt", "\n\r\n").unwrap().is_empty());
    }

    // ---- anything else

    #[test]
    fn unsupported_extensions() {
        assert_eq!(
            error("notes.pdf", "x"),
            "notes.pdf: unsupported file type; use .json, .jsonl, .csv, .tsv or .txt"
        );
        for name in ["README", "archive.csv.gz", "dir.csv/file", "", "csv"] {
            assert!(
                matches!(
                    parse(name, "x"),
                    Err(ImportFileError::UnsupportedType { .. })
                ),
                "{name:?}"
            );
        }
        assert_eq!(
            error("", "x"),
            "(unnamed file): unsupported file type; use .json, .jsonl, .csv, .tsv or .txt"
        );
        assert!(parse("uploads/2024/data.CSV", "a\n1\n").is_ok());
    }

    #[test]
    fn invalid_utf8_names_the_file() {
        assert_eq!(
            parse_file("data.csv", b"a,b\n1,\xff\n", "text")
                .unwrap_err()
                .to_string(),
            "data.csv: not UTF-8 text (invalid byte on line 2); save the file as UTF-8"
        );
        assert_eq!(
            parse_file("notes.txt", b"\xFF\xFEh\0i\0", "text")
                .unwrap_err()
                .to_string(),
            "notes.txt: not UTF-8 text (it looks like UTF-16); save the file as UTF-8"
        );
    }

    #[test]
    fn never_panics_on_arbitrary_input() {
        let names = [
            "a.json", "a.jsonl", "a.ndjson", "a.csv", "a.tsv", "a.txt", "a.bin",
        ];
        let alphabet = b"{}[]\",:\t\r\n ab01.-e\\\xEF\xBB\xBF\xFF";
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..3000 {
            let len = (next() % 40) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            for name in names {
                if let Ok(items) = parse_file(name, &bytes, "text") {
                    assert!(items.iter().all(Value::is_object));
                }
            }
        }
        let deep = "[".repeat(100_000);
        assert!(parse("deep.json", &deep).is_err());
        assert!(parse("deep.jsonl", &deep).is_err());
    }
}
