//! The words of input types: what a client may send and how serde's complaints about it
//! read in Label Studio's (Django REST framework's) terms.

/// One field of a partial update (PATCH/PUT): not sent, sent as `null`, or sent with a
/// value. `Option` cannot tell the first two apart; input types declare such fields as
/// `#[serde(default)] field: Patch<T>` (absent is the default; in the OpenAPI document
/// `#[schema(value_type = Option<T>)]`). A wrong type is serde's error, which the API turns
/// into Label Studio's `validation_errors` in one place (`api::extract`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Patch<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<T> Patch<T> {
    /// The value sent, if one was (absent and `null` are both `None`).
    pub fn value(&self) -> Option<&T> {
        match self {
            Patch::Value(value) => Some(value),
            _ => None,
        }
    }

    /// The new value of a field whose current value is `current`: the value sent, else
    /// the current one (absent, or `null` on a field that cannot be null: Label Studio's
    /// clients send `null` for "unchanged").
    pub fn or_keep(self, current: T) -> T {
        match self {
            Patch::Value(value) => value,
            Patch::Absent | Patch::Null => current,
        }
    }

    /// The new value of a field that may be empty: the value sent, none on `null`, the
    /// current one when absent.
    pub fn nullable(self, current: Option<T>) -> Option<T> {
        match self {
            Patch::Absent => current,
            Patch::Null => None,
            Patch::Value(value) => Some(value),
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Patch<U> {
        match self {
            Patch::Absent => Patch::Absent,
            Patch::Null => Patch::Null,
            Patch::Value(value) => Patch::Value(f(value)),
        }
    }
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Patch<T> {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        // Called only for a key that is present: `null` or a value.
        Option::<T>::deserialize(deserializer).map(|value| value.map_or(Patch::Null, Patch::Value))
    }
}

/// Written as `null` unless a value was sent (the OpenAPI derive reads input types'
/// defaults through this).
impl<T: serde::Serialize> serde::Serialize for Patch<T> {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        self.value().serialize(serializer)
    }
}

/// For a field that may be left out but never sent as `null` (Django REST framework's
/// `allow_null=False`): `#[serde(default, deserialize_with = "not_null")] field: Option<T>`.
/// Absent is `None`; `null` is serde's error, which reads "This field may not be null.".
pub fn not_null<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(
    deserializer: D,
) -> std::result::Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// A field of an update that cannot change (an object's project, fixed at creation):
/// whatever a client sends there is ignored, as Django REST framework ignores a read-only
/// field. Input types are generic over such a field: `WebhookInput<ReadOnly>`.
pub type ReadOnly = serde::de::IgnoredAny;

/// An object's id as Django REST framework's primary-key fields read it: a number, or a
/// string of digits (`"89"`), since Label Studio's clients send either. Anything else is
/// "Incorrect type. Expected pk value, received str." as in Label Studio.
/// (`#[schema(value_type = i64)]` in the OpenAPI document.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Pk(pub i64);

/// The Python type name Label Studio's messages use for a JSON value of this kind.
pub fn python_type_name(unexpected: &serde::de::Unexpected<'_>) -> &'static str {
    use serde::de::Unexpected;
    match unexpected {
        Unexpected::Str(_) | Unexpected::Char(_) => "str",
        Unexpected::Signed(_) | Unexpected::Unsigned(_) => "int",
        Unexpected::Float(_) => "float",
        Unexpected::Bool(_) => "bool",
        Unexpected::Seq => "list",
        Unexpected::Map => "dict",
        Unexpected::Unit | Unexpected::Option => "NoneType",
        _ => "object",
    }
}

impl<'de> serde::Deserialize<'de> for Pk {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        fn incorrect<E: serde::de::Error>(unexpected: serde::de::Unexpected<'_>) -> E {
            E::custom(format_args!(
                "Incorrect type. Expected pk value, received {}.",
                python_type_name(&unexpected)
            ))
        }
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Pk;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("pk value")
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<Pk, E> {
                Ok(Pk(v))
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Pk, E> {
                // Larger than any id: it names no object (Label Studio says the same).
                i64::try_from(v).map(Pk).map_err(|_| {
                    E::custom(format_args!("Invalid pk \"{v}\" - object does not exist."))
                })
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Pk, E> {
                let digits = v.trim();
                let numeric = !digits.is_empty()
                    && digits
                        .strip_prefix('-')
                        .unwrap_or(digits)
                        .bytes()
                        .all(|b| b.is_ascii_digit());
                match digits.parse::<i64>() {
                    Ok(id) => Ok(Pk(id)),
                    Err(_) if numeric => Err(E::custom(format_args!(
                        "Invalid pk \"{digits}\" - object does not exist."
                    ))),
                    Err(_) => Err(incorrect(serde::de::Unexpected::Str(v))),
                }
            }

            fn visit_f64<E: serde::de::Error>(self, v: f64) -> std::result::Result<Pk, E> {
                Err(incorrect(serde::de::Unexpected::Float(v)))
            }

            fn visit_bool<E: serde::de::Error>(self, v: bool) -> std::result::Result<Pk, E> {
                Err(incorrect(serde::de::Unexpected::Bool(v)))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                _: A,
            ) -> std::result::Result<Pk, A::Error> {
                Err(incorrect(serde::de::Unexpected::Seq))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                _: A,
            ) -> std::result::Result<Pk, A::Error> {
                Err(incorrect(serde::de::Unexpected::Map))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// serde's error about a client's input, in Label Studio's words: the path of the value at
/// fault (`["actions", "0"]`; empty for the body itself) and the message. The one place
/// where serde's wording becomes Django REST framework's (`Must be a valid boolean.`,
/// `This field is required.`, ...): input types check by hand only what serde cannot say,
/// and their own messages (`de::Error::custom`) pass through word for word.
pub fn input_error(error: &serde_path_to_error::Error<serde_json::Error>) -> (Vec<String>, String) {
    let mut path: Vec<String> = error
        .path()
        .iter()
        .filter_map(|segment| match segment {
            serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
            serde_path_to_error::Segment::Map { key } => Some(key.clone()),
            _ => None,
        })
        .collect();
    // serde_json's message ends with "at line L column C"; the path says more.
    let message = error.inner().to_string();
    let message = message
        .rsplit_once(" at line ")
        .map(|(head, _)| head.to_string())
        .unwrap_or(message);
    let message = match drf_message(&message, path.is_empty()) {
        Message::Field(field, text) => {
            path.push(field);
            text
        }
        Message::Text(text) => text,
    };
    (path, message)
}

enum Message {
    /// The message is about this field of the value at the path (a missing field).
    Field(String, String),
    Text(String),
}

/// serde's message in Django REST framework's words (the ones Label Studio answers with);
/// `body` when it is about the body itself (a serializer's input, not one of its fields).
fn drf_message(message: &str, body: bool) -> Message {
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        return Message::Field(field.to_string(), "This field is required.".into());
    }
    if let Some(variant) = message
        .strip_prefix("unknown variant `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(variant, _)| variant)
    {
        return Message::Text(format!("\"{variant}\" is not a valid choice."));
    }
    let Some((got, expected)) = message
        .strip_prefix("invalid type: ")
        .and_then(|rest| rest.rsplit_once(", expected "))
    else {
        return Message::Text(message.to_string());
    };
    if expected == "variant identifier" || expected == "string or map" {
        // A choice given as a number, a list...: DRF quotes what it got, as for a wrong string.
        return Message::Text(match got.split('`').nth(1) {
            Some(value) => format!("\"{value}\" is not a valid choice."),
            None => format!(
                "Not a valid choice: expected a string, got {}.",
                python_type(got)
            ),
        });
    }
    let got = python_type(got);
    let text = match expected {
        _ if got == "NoneType" && !body => "This field may not be null.".to_string(),
        "a boolean" => "Must be a valid boolean.".to_string(),
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "usize" | "isize" => {
            "A valid integer is required.".to_string()
        }
        "f32" | "f64" => "A valid number is required.".to_string(),
        "a string" | "a borrowed string" | "a character" => "Not a valid string.".to_string(),
        "pk value" => format!("Incorrect type. Expected pk value, received {got}."),
        "a map" if !body => format!("Expected a dictionary of items but got type \"{got}\"."),
        _ if expected == "a map" || expected.starts_with("struct ") => {
            format!("Invalid data. Expected a dictionary, but got {got}.")
        }
        _ if expected.starts_with("a sequence") || expected.starts_with("tuple") => {
            format!("Expected a list of items but got type \"{got}\".")
        }
        _ => message.to_string(),
    };
    Message::Text(text)
}

/// The Python type name of what serde_json describes as `string "x"`, `integer `5``, ...
fn python_type(described: &str) -> &'static str {
    let kinds = [
        ("string", "str"),
        ("integer", "int"),
        ("floating point", "float"),
        ("boolean", "bool"),
        ("sequence", "list"),
        ("map", "dict"),
        ("null", "NoneType"),
        ("unit", "NoneType"),
    ];
    kinds
        .iter()
        .find(|(prefix, _)| described.starts_with(prefix))
        .map_or("object", |(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Input {
        name: String,
        #[serde(default)]
        flag: Patch<bool>,
        #[serde(default)]
        owner: Patch<Pk>,
        #[serde(default)]
        items: Vec<i64>,
        #[serde(default)]
        extra: Option<serde_json::Map<String, serde_json::Value>>,
        #[serde(default)]
        mode: Option<Mode>,
    }

    #[derive(Debug, serde::Deserialize)]
    enum Mode {
        Fast,
    }

    fn error(body: &str) -> (Vec<String>, String) {
        let mut deserializer = serde_json::Deserializer::from_str(body);
        let error = serde_path_to_error::deserialize::<_, Input>(&mut deserializer)
            .expect_err("invalid input");
        input_error(&error)
    }

    #[test]
    fn a_choice_of_the_wrong_kind_is_not_a_valid_choice() {
        for (body, message) in [
            (
                r#"{"name": "n", "mode": 5}"#,
                "\"5\" is not a valid choice.",
            ),
            (
                r#"{"name": "n", "mode": "Slow"}"#,
                "\"Slow\" is not a valid choice.",
            ),
            (
                r#"{"name": "n", "mode": [1]}"#,
                "Not a valid choice: expected a string, got list.",
            ),
        ] {
            let value: serde_json::Value = serde_json::from_str(body).unwrap();
            let error = serde_path_to_error::deserialize::<_, Input>(value).expect_err(body);
            assert_eq!(
                input_error(&error),
                (vec!["mode".to_string()], message.to_string()),
                "{body}"
            );
        }
    }

    #[test]
    fn serde_errors_read_as_label_studio_says_them() {
        let cases = [
            (r#"{}"#, "name", "This field is required."),
            (r#"{"name": 5}"#, "name", "Not a valid string."),
            (r#"{"name": null}"#, "name", "This field may not be null."),
            (
                r#"{"name": "n", "flag": "yes"}"#,
                "flag",
                "Must be a valid boolean.",
            ),
            (
                r#"{"name": "n", "owner": "abc"}"#,
                "owner",
                "Incorrect type. Expected pk value, received str.",
            ),
            (
                r#"{"name": "n", "owner": "99999999999999999999"}"#,
                "owner",
                "Invalid pk \"99999999999999999999\" - object does not exist.",
            ),
            (
                r#"{"name": "n", "items": "1"}"#,
                "items",
                "Expected a list of items but got type \"str\".",
            ),
            (
                r#"{"name": "n", "items": [1, "x"]}"#,
                "items.1",
                "A valid integer is required.",
            ),
            (
                r#"{"name": "n", "extra": [1]}"#,
                "extra",
                "Expected a dictionary of items but got type \"list\".",
            ),
        ];
        for (body, path, message) in cases {
            let (got_path, got_message) = error(body);
            assert_eq!(
                (got_path.join("."), got_message.as_str()),
                (path.to_string(), message),
                "{body}"
            );
        }
    }

    #[test]
    fn patch_tells_absent_from_null() {
        #[derive(serde::Deserialize)]
        struct Update {
            #[serde(default)]
            title: Patch<String>,
        }
        let read = |body: &str| serde_json::from_str::<Update>(body).unwrap().title;
        assert_eq!(read("{}"), Patch::Absent);
        assert_eq!(read(r#"{"title": null}"#), Patch::Null);
        assert_eq!(read(r#"{"title": "t"}"#), Patch::Value("t".to_string()));
        assert_eq!(Patch::<i64>::Absent.nullable(Some(1)), Some(1));
        assert_eq!(Patch::<i64>::Null.nullable(Some(1)), None);
        assert_eq!(Patch::Value(2).or_keep(1), 2);
        assert_eq!(Patch::<i64>::Null.or_keep(1), 1);
    }

    #[test]
    fn ids_are_numbers_or_strings_of_digits() {
        let read = |body: &str| serde_json::from_str::<Pk>(body).map(|Pk(id)| id);
        assert_eq!(read("89").unwrap(), 89);
        assert_eq!(read(r#""89""#).unwrap(), 89);
        assert!(read("1.5").is_err());
        assert!(read("true").is_err());
    }
}
