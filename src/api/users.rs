//! People over the API, as Label Studio and its SDK call it: `/api/current-user` (and
//! `whoami`, the token routes), `/api/users/` and the organization's memberships and
//! invites (`organizations.rs`). What each role may do is decided in `auth::people`.

use axum::Json;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult};
use super::extract::{Caller, Id, LsJson};
use super::route::{Route, delete, get, patch_or_put, post, tagged};
use crate::auth::passwords;
use crate::auth::people::{self, NameChange, NewPerson, Person};
use crate::shared::{ReadOnly, Role};
use crate::store::{self, time};

pub(super) fn routes() -> Vec<Route> {
    let current = tagged(
        "users",
        [
            get("/api/current-user/whoami", whoami)
                .doc("whoami", "The user the token belongs to")
                .needs(Role::Annotator)
                .ok::<UserView>("The user"),
            get("/api/current-user", current_user)
                .doc("current_user_read", "The signed-in user")
                .needs(Role::Annotator)
                .ok::<UserView>("The user"),
            patch_or_put("/api/current-user", update_current_user)
                .doc("current_user_update", "Change your names")
                .needs(Role::Annotator)
                .json::<UserUpdateInput>("The names to change.")
                .ok::<UserView>("The user"),
            get("/api/current-user/token", token)
                .doc("current_user_token", "Your API token (not shown: see reset-token)")
                .needs(Role::Annotator)
                .about("Tokens are stored as digests and shown only when made, so this answers `{detail}` saying so; `POST /api/current-user/reset-token/` makes a new token (the old one stops working) and shows it once.")
                .ok::<TokenNotShown>("Why the token is not shown"),
            post("/api/current-user/reset-token", reset_token)
                .doc("current_user_reset_token", "Make a new API token")
                .needs(Role::Annotator)
                .about("The previous token stops working at once in this process (within 30 s in others).")
                .created::<NewToken>("The new token, shown this once"),
        ],
    );
    let users = tagged(
        "users",
        [
            get("/api/users", list)
                .doc("users_list", "List the organization's users")
                .needs(Role::Annotator)
                .ok_list::<UserView>("The users, active ones first"),
            post("/api/users", create)
                .doc("users_create", "Add a user to the organization")
                .needs(Role::Administrator)
                .about("Administrators and the owner. `role` defaults to `AN` (annotator); only the owner adds owners. With `password` the user can sign in at /user/login.")
                .json::<UserCreateInput>("The user.")
                .created::<UserView>("The new user"),
            get("/api/users/{id}", read)
                .doc("users_read", "Read a user")
                .needs(Role::Annotator)
                .ok::<UserView>("The user"),
            patch_or_put("/api/users/{id}", update)
                .doc("users_update", "Change a user's names")
                .needs(Role::Annotator)
                .about("Your own, or anyone's for administrators and the owner.")
                .json::<UserUpdateInput>("The names to change.")
                .ok::<UserView>("The user"),
            delete("/api/users/{id}", remove)
                .doc("users_delete", "Remove a user from the organization")
                .needs(Role::Administrator)
                .about("Deactivates the user (role `DI`): they can no longer sign in or use their token; their annotations stay. Administrators and the owner; not yourself; not the last owner.")
                .no_content("Deactivated"),
        ],
    );
    current.into_iter().chain(users).collect()
}

/// A user as Label Studio shows one (`whoami`, `/api/users/`, memberships).
#[derive(Serialize, ToSchema)]
pub struct UserView {
    id: i64,
    first_name: String,
    last_name: String,
    username: String,
    email: String,
    /// The last sign-in with email and password.
    last_activity: Option<String>,
    #[schema(value_type = Object)]
    custom_hotkeys: serde_json::Value,
    avatar: Option<String>,
    initials: String,
    phone: String,
    active_organization: i64,
    active_organization_meta: OrganizationMeta,
    allow_newsletters: Option<bool>,
    date_joined: String,
    organization_membership: MembershipRole,
}

#[derive(Serialize, ToSchema)]
pub struct OrganizationMeta {
    title: String,
    /// The owner's email.
    email: String,
}

/// The user's membership of their organization.
#[derive(Serialize, ToSchema)]
pub struct MembershipRole {
    /// `OW` owner, `AD` administrator, `MA` manager, `RE` reviewer, `AN` annotator, `DI`
    /// deactivated.
    #[schema(example = "AN")]
    pub role: &'static str,
    pub active: bool,
    pub organization_id: i64,
}

impl UserView {
    pub(super) fn new(person: Person, owner_email: &str) -> UserView {
        let initials: String = [&person.first_name, &person.last_name]
            .iter()
            .filter_map(|n| n.chars().next())
            .collect();
        let initials = if initials.is_empty() {
            person.email.chars().take(2).collect()
        } else {
            initials
        };
        UserView {
            id: person.id,
            first_name: person.first_name,
            last_name: person.last_name,
            username: person.email.clone(),
            last_activity: time::render_opt(person.last_login),
            custom_hotkeys: serde_json::json!({}),
            avatar: None,
            initials,
            phone: String::new(),
            active_organization: person.organization_id,
            active_organization_meta: OrganizationMeta {
                title: person.organization_title,
                email: owner_email.to_string(),
            },
            allow_newsletters: None,
            date_joined: time::render(person.date_joined),
            organization_membership: MembershipRole {
                role: person.role.code(),
                active: person.active,
                organization_id: person.organization_id,
            },
            email: person.email,
        }
    }
}

/// `POST /api/users/`.
#[derive(Deserialize, ToSchema)]
pub struct UserCreateInput {
    email: String,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    /// Ignored: the username is the email.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    #[allow(dead_code)]
    username: Option<ReadOnly>,
    /// For email + password sign-in (at least 8 characters, not all digits).
    #[serde(default)]
    password: Option<String>,
    /// `OW`, `AD`, `MA`, `RE` or `AN` (default).
    #[serde(default)]
    role: Option<String>,
}

/// `PATCH /api/users/{id}/`, `/api/current-user`: only the keys sent change.
#[derive(Deserialize, ToSchema)]
pub struct UserUpdateInput {
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
}

/// `GET /api/current-user/token`.
#[derive(Serialize, ToSchema)]
pub struct TokenNotShown {
    detail: &'static str,
}

/// A token shown the one time it exists in clear.
#[derive(Serialize, ToSchema)]
pub struct NewToken {
    token: String,
}

/// A role code from input: 400 naming `field` for anything but the five roles, and `DI`
/// (deactivated) where `deactivate` allows it.
pub(super) fn role_input(field: &str, code: &str, deactivate: bool) -> Result<Role, ApiError> {
    match Role::from_code(code) {
        Some(role) if role != Role::Deactivated || deactivate => Ok(role),
        _ => {
            let choices = if deactivate {
                "OW, AD, MA, RE, AN, DI"
            } else {
                "OW, AD, MA, RE, AN"
            };
            Err(ApiError::field(
                field,
                format!("\"{code}\" is not a valid choice: one of {choices}."),
            ))
        }
    }
}

/// The view of `person`, with their organization's owner.
async fn view(conn: &mut store::Conn, person: Person) -> ApiResult<UserView> {
    let owner = people::owner_email(conn, person.organization_id).await?;
    Ok(UserView::new(person, &owner))
}

async fn whoami(caller: Caller) -> ApiResult<Json<UserView>> {
    current_user(caller).await
}

async fn current_user(caller: Caller) -> ApiResult<Json<UserView>> {
    let mut conn = caller.reader().await?;
    let person = people::get(&mut conn, &caller.actor, caller.actor.user_id).await?;
    Ok(Json(view(&mut conn, person).await?))
}

async fn update_current_user(
    caller: Caller,
    LsJson(input): LsJson<UserUpdateInput>,
) -> ApiResult<Json<UserView>> {
    let user_id = caller.actor.user_id;
    rename(caller, user_id, input).await
}

async fn token() -> Json<TokenNotShown> {
    Json(TokenNotShown {
        detail: "API tokens are stored as digests and shown only when made. POST /api/current-user/reset-token/ makes a new one (the old one stops working) and shows it once.",
    })
}

async fn reset_token(Caller { state, actor }: Caller) -> ApiResult<(StatusCode, Json<NewToken>)> {
    let token = state
        .db
        .write(async |tx| people::reset_token(tx, &actor).await)
        .await?;
    state.tokens.clear();
    Ok((StatusCode::CREATED, Json(NewToken { token })))
}

async fn list(caller: Caller) -> ApiResult<Json<Vec<UserView>>> {
    let mut conn = caller.reader().await?;
    let members = people::list(&mut conn, &caller.actor).await?;
    let owner = people::owner_email(&mut conn, caller.actor.organization_id).await?;
    Ok(Json(
        members
            .into_iter()
            .map(|p| UserView::new(p, &owner))
            .collect(),
    ))
}

async fn create(
    Caller { state, actor }: Caller,
    LsJson(input): LsJson<UserCreateInput>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    people::require(&actor, Role::Administrator)?;
    let role = match input.role.as_deref() {
        Some(code) => role_input("role", code, false)?,
        None => Role::Annotator,
    };
    let password_hash = match input.password.as_deref() {
        Some(password) => {
            passwords::check("password", password)?;
            Some(passwords::hash(password).await?)
        }
        None => None,
    };
    let new = NewPerson {
        email: input.email,
        first_name: input.first_name.unwrap_or_default(),
        last_name: input.last_name.unwrap_or_default(),
        password_hash,
        role,
    };
    let mut tx = state.db.begin().await?;
    let person = people::create(&mut tx, &actor, new).await?;
    let view = view(&mut tx, person).await?;
    state.db.commit(tx).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

async fn read(caller: Caller, Id(id): Id) -> ApiResult<Json<UserView>> {
    let mut conn = caller.reader().await?;
    let person = people::get(&mut conn, &caller.actor, id).await?;
    Ok(Json(view(&mut conn, person).await?))
}

async fn update(
    caller: Caller,
    Id(id): Id,
    LsJson(input): LsJson<UserUpdateInput>,
) -> ApiResult<Json<UserView>> {
    rename(caller, id, input).await
}

async fn rename(caller: Caller, user_id: i64, input: UserUpdateInput) -> ApiResult<Json<UserView>> {
    let change = NameChange {
        first_name: input.first_name,
        last_name: input.last_name,
    };
    let user = caller
        .write(async |tx, actor| {
            let person = people::rename(tx, actor, user_id, change).await?;
            view(tx, person).await
        })
        .await?;
    Ok(Json(user))
}

async fn remove(Caller { state, actor }: Caller, Id(id): Id) -> ApiResult<StatusCode> {
    state
        .db
        .write(async |tx| people::deactivate(tx, &actor, id).await)
        .await?;
    state.tokens.clear();
    Ok(StatusCode::NO_CONTENT)
}
