//! JSON text as Label Studio's Python writes it, byte for byte.
//!
//! Label Studio writes its export files with two encoders that disagree on details:
//! the standard library's `json` (snapshots: `", "` and `": "` between items, exponents
//! of at least two digits, `1e-05`) and `ujson` (the direct export, JSON-MIN, COCO, YOLO's
//! notes and the JSON inside CSV cells: no spaces or an indent of 2, `/` escaped as `\/`,
//! `1e-5`). Both write non-ASCII characters as they are and floats as Python's `repr`
//! does (shortest round-trip digits, fixed notation from 1e-4 to below 1e16). serde_json
//! agrees on the digits but not on the rest, so the export writes through this module.

use serde_json::{Map, Number, Value};

/// How one of the two encoders lays out a document.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Between two items of a list or object when not indenting.
    item_separator: &'static str,
    /// Between a key and its value.
    key_separator: &'static str,
    /// Spaces per level; `None` writes everything on one line.
    indent: Option<usize>,
    /// `ujson` writes `/` as `\/`.
    escape_slash: bool,
    /// Python pads exponents to two digits (`1e-05`); `ujson` does not (`1e-5`).
    pad_exponent: bool,
}

impl Style {
    /// What goes between two items of a list written on one line.
    pub fn item_separator(&self) -> &'static str {
        self.item_separator
    }
}

/// `json.dumps(value, ensure_ascii=False)`: what snapshots are written with.
pub const PYTHON: Style = Style {
    item_separator: ", ",
    key_separator: ": ",
    indent: None,
    escape_slash: false,
    pad_exponent: true,
};

/// `ujson.dumps(value, ensure_ascii=False)`: the direct JSON export and CSV cells.
pub const UJSON: Style = Style {
    item_separator: ",",
    key_separator: ":",
    indent: None,
    escape_slash: true,
    pad_exponent: false,
};

/// `ujson.dump(value, indent=2)`: JSON-MIN records, COCO and YOLO's `notes.json`.
pub const UJSON_INDENTED: Style = Style {
    item_separator: ",",
    key_separator: ": ",
    indent: Some(2),
    escape_slash: true,
    pad_exponent: false,
};

/// Appends `value` as `style` writes it; `depth` is the nesting level it starts at (for
/// indented documents written piece by piece).
pub fn write(out: &mut Vec<u8>, value: &Value, style: &Style, depth: usize) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => write_number(out, number, style),
        Value::String(text) => write_string(out, text, style),
        Value::Array(items) => {
            if items.is_empty() {
                out.extend_from_slice(b"[]");
                return;
            }
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                separate(out, style, i > 0, depth + 1);
                write(out, item, style, depth + 1);
            }
            close(out, style, depth);
            out.push(b']');
        }
        Value::Object(map) => write_object(out, map, style, depth),
    }
}

fn write_object(out: &mut Vec<u8>, map: &Map<String, Value>, style: &Style, depth: usize) {
    if map.is_empty() {
        out.extend_from_slice(b"{}");
        return;
    }
    out.push(b'{');
    for (i, (key, item)) in map.iter().enumerate() {
        separate(out, style, i > 0, depth + 1);
        write_string(out, key, style);
        out.extend_from_slice(style.key_separator.as_bytes());
        write(out, item, style, depth + 1);
    }
    close(out, style, depth);
    out.push(b'}');
}

/// What goes before an item: a separator after the first, and a new indented line.
fn separate(out: &mut Vec<u8>, style: &Style, not_first: bool, depth: usize) {
    match style.indent {
        Some(width) => {
            if not_first {
                out.push(b',');
            }
            out.push(b'\n');
            out.extend(std::iter::repeat_n(b' ', width * depth));
        }
        None if not_first => out.extend_from_slice(style.item_separator.as_bytes()),
        None => {}
    }
}

/// What goes before a closing bracket of a non-empty list or object.
fn close(out: &mut Vec<u8>, style: &Style, depth: usize) {
    if let Some(width) = style.indent {
        out.push(b'\n');
        out.extend(std::iter::repeat_n(b' ', width * depth));
    }
}

/// Appends `text` as a JSON string.
pub fn write_string(out: &mut Vec<u8>, text: &str, style: &Style) {
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'/' if style.escape_slash => b"\\/",
            0..0x20 => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            out.extend_from_slice(format!("\\u{byte:04x}").as_bytes());
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn write_number(out: &mut Vec<u8>, number: &Number, style: &Style) {
    match number.as_f64() {
        Some(float) if number.is_f64() => {
            out.extend_from_slice(float_repr(float, style.pad_exponent).as_bytes())
        }
        _ => out.extend_from_slice(number.to_string().as_bytes()),
    }
}

/// Python's `repr(float)` (what `str()` and the `csv` module write too).
pub fn python_float(value: f64) -> String {
    float_repr(value, true)
}

/// A float as Python's `repr` writes it: the shortest digits that read back as the same
/// number, in fixed notation when the decimal exponent is in -4..16, else as `d.ddde±XX`.
fn float_repr(value: f64, pad_exponent: bool) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    // Rust's `{:e}` gives the same shortest digits: "-1.2345e-5", "1e16", "0e0".
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut text = String::from(sign);
    if (-4..16).contains(&exponent) {
        let point = exponent + 1;
        if point <= 0 {
            text.push_str("0.");
            text.extend(std::iter::repeat_n('0', (-point) as usize));
            text.push_str(&digits);
        } else if point as usize >= digits.len() {
            text.push_str(&digits);
            text.extend(std::iter::repeat_n('0', point as usize - digits.len()));
            text.push_str(".0");
        } else {
            text.push_str(&digits[..point as usize]);
            text.push('.');
            text.push_str(&digits[point as usize..]);
        }
    } else {
        text.push_str(&digits[..1]);
        if digits.len() > 1 {
            text.push('.');
            text.push_str(&digits[1..]);
        }
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        let magnitude = exponent.unsigned_abs();
        if pad_exponent {
            text.push_str(&format!("e{exponent_sign}{magnitude:02}"));
        } else {
            text.push_str(&format!("e{exponent_sign}{magnitude}"));
        }
    }
    text
}

/// `value` as one line in `style`.
pub fn to_vec(value: &Value, style: &Style) -> Vec<u8> {
    let mut out = Vec::new();
    write(&mut out, value, style, 0);
    out
}

/// `value` as one line in `style`, as text.
pub fn to_string(value: &Value, style: &Style) -> String {
    String::from_utf8(to_vec(value, style)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_are_written_as_python_writes_them() {
        let cases = [
            (1e-4, "0.0001", "0.0001"),
            (0.00012, "0.00012", "0.00012"),
            (1e15, "1000000000000000.0", "1000000000000000.0"),
            (1e16, "1e+16", "1e+16"),
            (123456789012345.6, "123456789012345.6", "123456789012345.6"),
            (1.0, "1.0", "1.0"),
            (-0.0, "-0.0", "-0.0"),
            (5e-324, "5e-324", "5e-324"),
            (
                1.7976931348623157e308,
                "1.7976931348623157e+308",
                "1.7976931348623157e+308",
            ),
            (
                9007199254740992.0,
                "9007199254740992.0",
                "9007199254740992.0",
            ),
            (-1e-7, "-1e-07", "-1e-7"),
            (1.234e-5, "1.234e-05", "1.234e-5"),
            (100.0, "100.0", "100.0"),
            (33.33333333333333, "33.33333333333333", "33.33333333333333"),
            (
                243.60000000000002,
                "243.60000000000002",
                "243.60000000000002",
            ),
        ];
        for (value, python, ujson) in cases {
            assert_eq!(float_repr(value, true), python, "{value}");
            assert_eq!(float_repr(value, false), ujson, "{value}");
        }
    }

    #[test]
    fn the_two_encoders_lay_out_documents_as_python_does() {
        let value =
            json!({"a": "x/y", "b": [1, 2.5, null, true], "c": {}, "d": [], "e": "é\u{1}\n\"\\"});
        assert_eq!(
            to_string(&value, &PYTHON),
            r#"{"a": "x/y", "b": [1, 2.5, null, true], "c": {}, "d": [], "e": "é\u0001\n\"\\"}"#
        );
        assert_eq!(
            to_string(&value, &UJSON),
            r#"{"a":"x\/y","b":[1,2.5,null,true],"c":{},"d":[],"e":"é\u0001\n\"\\"}"#
        );
        assert_eq!(
            to_string(&json!({"a": [], "c": [{}], "z": [1, [2]]}), &UJSON_INDENTED),
            "{\n  \"a\": [],\n  \"c\": [\n    {}\n  ],\n  \"z\": [\n    1,\n    [\n      2\n    ]\n  ]\n}"
        );
    }
}
