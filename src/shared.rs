//! The vocabulary every layer speaks: who is acting, where an event happened, and the
//! error a request can end in.
//!
//! This module is the bottom of the dependency graph (ARCHITECTURE.md, "Dependencies point
//! one way"): it names no other module of the crate, so any module may use it.

/// Who is acting: every operation is confined to the actor's organization.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: i64,
    pub organization_id: i64,
    pub email: String,
    /// The user's role in the organization (their membership).
    pub role: Role,
}

/// A member's role, with Label Studio Enterprise's codes. Each role can do what the roles
/// after it can ([`Role::at_least`]); `Deactivated` can do nothing (a removed member).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Role {
    #[serde(rename = "OW")]
    Owner,
    #[serde(rename = "AD")]
    Administrator,
    #[serde(rename = "MA")]
    Manager,
    #[serde(rename = "RE")]
    Reviewer,
    #[serde(rename = "AN")]
    Annotator,
    #[serde(rename = "DI")]
    Deactivated,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Owner,
        Role::Administrator,
        Role::Manager,
        Role::Reviewer,
        Role::Annotator,
        Role::Deactivated,
    ];

    /// The two-letter code stored and shown (`OW`, `AD`, `MA`, `RE`, `AN`, `DI`).
    pub fn code(self) -> &'static str {
        match self {
            Role::Owner => "OW",
            Role::Administrator => "AD",
            Role::Manager => "MA",
            Role::Reviewer => "RE",
            Role::Annotator => "AN",
            Role::Deactivated => "DI",
        }
    }

    pub fn from_code(code: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.code() == code)
    }

    /// The role's name in messages ("manager").
    pub fn name(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Administrator => "administrator",
            Role::Manager => "manager",
            Role::Reviewer => "reviewer",
            Role::Annotator => "annotator",
            Role::Deactivated => "deactivated",
        }
    }

    /// Whether this role may do what `needed` may (roles are ordered, owner first).
    pub fn at_least(self, needed: Role) -> bool {
        self != Role::Deactivated && self <= needed
    }
}

/// Where an event happened: its organization and, for most actions, its project.
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    pub organization_id: i64,
    pub project_id: Option<i64>,
}

/// Why an operation on the organization's objects failed. The API renders each variant in
/// Label Studio's error shape (404, 400 naming the field, 500).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The object does not exist or belongs to another organization (both are 404).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Input that cannot be accepted; `field` names it for the client.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// Not allowed for this user (their role, or a rule such as "the last owner stays"):
    /// a 403 with the reason.
    #[error("{0}")]
    Forbidden(String),
    /// Anything else (the database, a bug): a 500, with the details in the server log.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

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
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Patch<T> {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        // Called only for a key that is present: `null` or a value.
        Option::<T>::deserialize(deserializer).map(|value| value.map_or(Patch::Null, Patch::Value))
    }
}

/// A field of an update that cannot change (an object's project, fixed at creation):
/// whatever a client sends there is ignored, as Django REST framework ignores a read-only
/// field. Input types are generic over such a field: `WebhookInput<ReadOnly>`.
pub type ReadOnly = serde::de::IgnoredAny;

/// An object's id as Django REST framework's primary-key fields read it: a number, or a
/// string of digits (`"89"`), since Label Studio's clients send either. Anything else is
/// "Incorrect type. Expected pk value, received str." as in Label Studio.
/// (`#[schema(value_type = i64)]` in the OpenAPI document.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
