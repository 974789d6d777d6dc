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

/// Where an event happened: its organization and, for most actions, its project; and who
/// acted, when a user did (the event's `acted_by`).
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    pub organization_id: i64,
    pub project_id: Option<i64>,
    pub acted_by: Option<i64>,
}

impl Scope {
    /// The same place, acted on by `user`.
    pub fn by(self, user: i64) -> Scope {
        Scope {
            acted_by: Some(user),
            ..self
        }
    }
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

mod input;
pub use input::{Patch, Pk, ReadOnly, input_error, not_null};

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}
