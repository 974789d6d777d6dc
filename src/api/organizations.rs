//! `/api/organizations/...` (the user's organization and its memberships) and the invite
//! links (`/api/invite`), as Label Studio and its SDK call them.

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::extract::{Caller, Id, Ids, LsJson, LsQuery};
use super::pagination::{Envelope, PageQuery, envelope};
use super::route::{Route, delete, get, patch_or_put, post, tagged};
use super::users::{UserView, role_input};
use crate::auth::people::Person;
use crate::auth::{invites, people};
use crate::shared::{Actor, Pk, Role};
use crate::store::{self, time};

pub(super) fn routes() -> Vec<Route> {
    let organizations = tagged(
        "organizations",
        [
            get("/api/organizations", list)
                .doc("organizations_list", "Your organizations")
                .needs(Role::Annotator)
                .ok_list::<OrganizationView>("The user's organization"),
            get("/api/organizations/{id}", read)
                .doc("organizations_read", "Read your organization")
                .needs(Role::Annotator)
                .ok::<OrganizationView>("The organization"),
            patch_or_put("/api/organizations/{id}", update)
                .doc("organizations_update", "Rename your organization")
                .needs(Role::Administrator)
                .about("Administrators and the owner.")
                .json::<OrganizationInput>("The title.")
                .ok::<OrganizationView>("The organization"),
            get("/api/organizations/{id}/memberships", memberships)
                .doc("memberships_list", "List the members")
                .needs(Role::Annotator)
                .about("Active members first, by email; paged (default page size 20).")
                .query::<PageQuery>()
                .ok_page::<MembershipView>("MembershipPage", "A page of members"),
            patch_or_put("/api/organizations/{id}/memberships", set_role)
                .doc("memberships_update", "Change a member's role")
                .needs(Role::Administrator)
                .about("`{user_id, role}`; `DI` deactivates. Administrators and the owner; only the owner makes or unmakes owners; the last owner and your own role stay.")
                .json::<MembershipInput>("The member and the role.")
                .may_be_missing()
                .ok::<MembershipView>("The membership"),
            get("/api/organizations/{id}/memberships/{user_pk}", membership)
                .doc("memberships_read", "Read a membership")
                .needs(Role::Annotator)
                .ok::<MembershipView>("The membership"),
            delete("/api/organizations/{id}/memberships/{user_pk}", remove_member)
                .doc("memberships_delete", "Remove a member")
                .needs(Role::Administrator)
                .about("Deactivates the member (Label Studio's soft delete): no more sign-in nor token; their annotations stay. Not yourself; not the last owner.")
                .no_content("Removed"),
        ],
    );
    let invites = tagged(
        "invites",
        [
            get("/api/invite", invite)
                .doc("invite_link", "Make an invite link")
                .needs(Role::Administrator)
                .about("Each call makes a new link: it signs up one person with `role` (default `AN`) and works for 7 days. The token is stored as a digest, so a link is shown only now. Administrators and the owner.")
                .query::<InviteQuery>()
                .ok::<InviteView>("The link"),
            post("/api/invite/reset-token", reset_invites)
                .doc("invite_reset", "Revoke every open invite link and make a new one")
                .needs(Role::Administrator)
                .query::<InviteQuery>()
                .created::<InviteView>("The new link"),
        ],
    );
    organizations.into_iter().chain(invites).collect()
}

/// An organization as Label Studio lists it.
#[derive(Serialize, ToSchema)]
pub struct OrganizationView {
    id: i64,
    title: String,
    contact_info: Option<String>,
    created_at: String,
    /// The role an invite gives unless it says otherwise.
    #[schema(example = "AN")]
    default_role: &'static str,
}

/// `PATCH /api/organizations/{id}`.
#[derive(Deserialize, ToSchema)]
pub struct OrganizationInput {
    title: String,
}

/// A member of the organization.
#[derive(Serialize, ToSchema)]
pub struct MembershipView {
    /// The membership's id (the user's: a user belongs to one organization).
    id: i64,
    organization: i64,
    user: UserView,
    #[schema(example = "AN")]
    role: &'static str,
    active: bool,
    created_at: String,
}

/// `PATCH /api/organizations/{id}/memberships`.
#[derive(Deserialize, ToSchema)]
pub struct MembershipInput {
    #[schema(value_type = i64)]
    user_id: Pk,
    /// `OW`, `AD`, `MA`, `RE`, `AN` or `DI` (deactivate).
    role: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct InviteQuery {
    /// The role the link gives: `AD`, `MA`, `RE` or `AN` (default); `OW` by the owner only.
    role: Option<String>,
}

/// An invite link.
#[derive(Serialize, ToSchema)]
pub struct InviteView {
    token: String,
    /// `/user/signup?token=...`
    invite_url: String,
}

async fn organization(
    conn: &mut store::Conn,
    actor: &Actor,
    id: i64,
) -> ApiResult<OrganizationView> {
    let row =
        store::query("SELECT id, title, created_at FROM organizations WHERE id = $1 AND id = $2")
            .bind(id)
            .bind(actor.organization_id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(row) = row else {
        return Err(ApiError::NotFound("Organization not found.".into()));
    };
    Ok(OrganizationView {
        id: row.try_get("id")?,
        title: row.try_get("title")?,
        contact_info: None,
        created_at: time::render(row.try_get("created_at")?),
        default_role: Role::Annotator.code(),
    })
}

async fn list(caller: Caller) -> ApiResult<Json<Vec<OrganizationView>>> {
    let mut conn = caller.reader().await?;
    Ok(Json(vec![
        organization(&mut conn, &caller.actor, caller.actor.organization_id).await?,
    ]))
}

async fn read(caller: Caller, Id(id): Id) -> ApiResult<Json<OrganizationView>> {
    let mut conn = caller.reader().await?;
    Ok(Json(organization(&mut conn, &caller.actor, id).await?))
}

async fn update(
    Caller { state, actor }: Caller,
    Id(id): Id,
    LsJson(input): LsJson<OrganizationInput>,
) -> ApiResult<Json<OrganizationView>> {
    let mut tx = state.db.begin().await?;
    people::rename_organization(&mut tx, &actor, id, &input.title).await?;
    let view = organization(&mut tx, &actor, id).await?;
    state.db.commit(tx).await?;
    Ok(Json(view))
}

impl MembershipView {
    /// `person`'s membership (`owner_email`: their organization's owner's).
    fn new(person: Person, owner_email: &str) -> MembershipView {
        MembershipView {
            id: person.id,
            organization: person.organization_id,
            role: person.role.code(),
            active: person.active,
            created_at: time::render(person.date_joined),
            user: UserView::new(person, owner_email),
        }
    }
}

async fn member(conn: &mut store::Conn, actor: &Actor, user_id: i64) -> ApiResult<MembershipView> {
    let person = people::get(conn, actor, user_id).await?;
    let owner = people::owner_email(conn, person.organization_id).await?;
    Ok(MembershipView::new(person, &owner))
}

/// 404 unless `id` is the actor's organization.
fn own_organization(actor: &Actor, id: i64) -> ApiResult<()> {
    if id == actor.organization_id {
        Ok(())
    } else {
        Err(ApiError::NotFound("Organization not found.".into()))
    }
}

async fn memberships(
    Caller { state, actor }: Caller,
    Id(id): Id,
    headers: HeaderMap,
    LsQuery(query): LsQuery<PageQuery>,
) -> ApiResult<Json<Envelope<MembershipView>>> {
    own_organization(&actor, id)?;
    let page = query.page(20)?;
    let mut conn = state.db.reader().acquire().await?;
    let everyone = people::list(&mut conn, &actor).await?;
    let owner = people::owner_email(&mut conn, actor.organization_id).await?;
    let count = everyone.len() as i64;
    let results = everyone
        .into_iter()
        .skip(page.offset() as usize)
        .take(page.size as usize)
        .map(|person| MembershipView::new(person, &owner))
        .collect();
    let path = format!("/api/organizations/{id}/memberships");
    Ok(Json(envelope(&headers, &path, &page, count, results)))
}

async fn set_role(
    Caller { state, actor }: Caller,
    Id(id): Id,
    LsJson(input): LsJson<MembershipInput>,
) -> ApiResult<Json<MembershipView>> {
    own_organization(&actor, id)?;
    let role = role_input("role", &input.role, true)?;
    let mut tx = state.db.begin().await?;
    people::set_role(&mut tx, &actor, input.user_id.0, role).await?;
    let view = member(&mut tx, &actor, input.user_id.0).await?;
    state.db.commit(tx).await?;
    state.tokens.clear();
    Ok(Json(view))
}

async fn membership(caller: Caller, Ids(id, user_id): Ids) -> ApiResult<Json<MembershipView>> {
    own_organization(&caller.actor, id)?;
    let mut conn = caller.reader().await?;
    Ok(Json(member(&mut conn, &caller.actor, user_id).await?))
}

async fn remove_member(
    Caller { state, actor }: Caller,
    Ids(id, user_id): Ids,
) -> ApiResult<StatusCode> {
    own_organization(&actor, id)?;
    state
        .db
        .write(async |tx| people::deactivate(tx, &actor, user_id).await)
        .await?;
    state.tokens.clear();
    Ok(StatusCode::NO_CONTENT)
}

async fn make_invite(
    state: &AppState,
    actor: &Actor,
    query: InviteQuery,
    reset: bool,
) -> ApiResult<InviteView> {
    let role = match query.role.as_deref() {
        Some(code) => role_input("role", code, false)?,
        None => Role::Annotator,
    };
    let mut tx = state.db.begin().await?;
    if reset {
        invites::revoke_all(&mut tx, actor).await?;
    }
    let token = invites::create(&mut tx, actor, role).await?;
    state.db.commit(tx).await?;
    Ok(InviteView {
        invite_url: format!("/user/signup?token={token}"),
        token,
    })
}

async fn invite(
    caller: Caller,
    LsQuery(query): LsQuery<InviteQuery>,
) -> ApiResult<Json<InviteView>> {
    Ok(Json(
        make_invite(&caller.state, &caller.actor, query, false).await?,
    ))
}

async fn reset_invites(
    caller: Caller,
    LsQuery(query): LsQuery<InviteQuery>,
) -> ApiResult<(StatusCode, Json<InviteView>)> {
    Ok((
        StatusCode::CREATED,
        Json(make_invite(&caller.state, &caller.actor, query, true).await?),
    ))
}
