//! Board categories: listed to whoever may read them, created and changed
//! by admins; admins appoint their moderators, and moderators (admins too)
//! ban users from them. Every change here is audited.

use actix_web::{web, HttpRequest, HttpResponse};
use lyceum_protocol::{ErrorCode, UserId};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::record_board_action;
use crate::audit::action;
use crate::auth::{AdminUser, AuthUser, MaybeUser};
use crate::boards;
use crate::error::ApiError;
use crate::routes::json::Json;
use crate::state::AppState;

const CATEGORY_COLUMNS: &str = "c.id, c.slug, c.name, c.description, c.visibility, c.created_at,
    (SELECT count(*) FROM board_threads t WHERE t.category_id = c.id AND t.deleted_at IS NULL AND NOT t.hidden),
    coalesce((SELECT json_agg(json_build_object('id', m.user_id, 'displayName', u.display_name) ORDER BY u.display_name, m.user_id)
                FROM board_moderators m JOIN users u ON u.id = m.user_id WHERE m.category_id = c.id), '[]'::json)";

fn category_json(r: &tokio_postgres::Row) -> Value {
    json!({
        "id": r.get::<_, Uuid>(0),
        "slug": r.get::<_, String>(1),
        "name": r.get::<_, String>(2),
        "description": r.get::<_, String>(3),
        "visibility": r.get::<_, String>(4),
        "createdAt": r.get::<_, chrono::DateTime<chrono::Utc>>(5),
        "threadCount": r.get::<_, i64>(6),
        "moderators": r.get::<_, Value>(7),
    })
}

/// `GET /api/boards/categories`: the categories the caller may read, by name.
pub async fn list(state: web::Data<AppState>, viewer: MaybeUser) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await?;
    let rows = client
        .query(
            &format!(
                "SELECT {CATEGORY_COLUMNS} FROM board_categories c
                  WHERE c.visibility = 'public' OR $1 ORDER BY c.name, c.id"
            ),
            &[&viewer.0.is_some()],
        )
        .await?;
    Ok(HttpResponse::Ok().json(json!({"items": rows.iter().map(category_json).collect::<Vec<_>>()})))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewCategory {
    slug: String,
    name: String,
    description: Option<String>,
    visibility: String,
}

fn invalid(message: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidCategory, message)
}

/// A category's name once trimmed, or `400 invalid_category`.
fn valid_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim().to_owned();
    if !(1..=80).contains(&name.chars().count()) || name.chars().any(char::is_control) {
        return Err(invalid("a name has 1 to 80 characters and no control characters"));
    }
    Ok(name)
}

/// A category's description once trimmed, or `400 invalid_category`.
fn valid_description(description: &str) -> Result<String, ApiError> {
    let description = description.trim().to_owned();
    if description.chars().count() > 500 || description.chars().any(|c| c.is_control() && c != '\n') {
        return Err(invalid("a description has at most 500 characters"));
    }
    Ok(description)
}

fn valid_visibility(visibility: &str) -> Result<(), ApiError> {
    if !matches!(visibility, "public" | "members") {
        return Err(invalid("visibility is `public` or `members`"));
    }
    Ok(())
}

/// `POST /api/boards/categories` (admins): `201` with the category.
pub async fn create(
    state: web::Data<AppState>,
    admin: AdminUser,
    req: HttpRequest,
    body: Json<NewCategory>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let slug = b.slug.trim().to_owned();
    let slug_ok = (2..=48).contains(&slug.len())
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if !slug_ok {
        return Err(invalid(
            "a slug has 2 to 48 of a-z, 0-9 and '-', and neither starts nor ends with '-'",
        ));
    }
    let name = valid_name(&b.name)?;
    let description = valid_description(&b.description.unwrap_or_default())?;
    valid_visibility(&b.visibility)?;
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let id = Uuid::new_v4();
    let inserted = tx
        .execute(
            "INSERT INTO board_categories (id, slug, name, description, visibility, created_by)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (slug) DO NOTHING",
            &[&id, &slug, &name, &description, &b.visibility, &admin.0.id],
        )
        .await?;
    if inserted == 0 {
        return Err(ApiError::new(
            ErrorCode::CategoryExists,
            "a category with this slug exists already",
        ));
    }
    record_board_action(
        &tx,
        &state,
        &req,
        admin.0.id,
        None,
        action::BOARD_CATEGORY_CREATED,
        json!({"categoryId": id, "slug": slug, "visibility": b.visibility}),
    )
    .await?;
    let row = tx
        .query_one(
            &format!("SELECT {CATEGORY_COLUMNS} FROM board_categories c WHERE c.id = $1"),
            &[&id],
        )
        .await?;
    tx.commit().await?;
    Ok(HttpResponse::Created().json(category_json(&row)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CategoryChange {
    name: Option<String>,
    description: Option<String>,
    visibility: Option<String>,
}

/// `PATCH /api/boards/categories/{id}` (admins): a new name, description or
/// visibility (the slug stays: it is in links); `200` with the category.
pub async fn update(
    state: web::Data<AppState>,
    admin: AdminUser,
    req: HttpRequest,
    path: web::Path<Uuid>,
    body: Json<CategoryChange>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let b = body.into_inner();
    if b.name.is_none() && b.description.is_none() && b.visibility.is_none() {
        return Err(invalid("nothing to change: give a name, a description or a visibility"));
    }
    let name = b.name.as_deref().map(valid_name).transpose()?;
    let description = b.description.as_deref().map(valid_description).transpose()?;
    if let Some(v) = &b.visibility {
        valid_visibility(v)?;
    }
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let before = tx
        .query_opt(
            "SELECT name, description, visibility FROM board_categories WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::CategoryNotFound, "no such category"))?;
    let (old_name, old_description, old_visibility): (String, String, String) =
        (before.get(0), before.get(1), before.get(2));
    tx.execute(
        "UPDATE board_categories SET name = coalesce($2, name), description = coalesce($3, description),
                visibility = coalesce($4, visibility) WHERE id = $1",
        &[&id, &name, &description, &b.visibility],
    )
    .await?;
    let mut changed = serde_json::Map::new();
    if name.as_ref().is_some_and(|n| *n != old_name) {
        changed.insert("name".into(), json!({"from": old_name, "to": name}));
    }
    if description.as_ref().is_some_and(|d| *d != old_description) {
        changed.insert("description".into(), json!(true));
    }
    if b.visibility.as_ref().is_some_and(|v| *v != old_visibility) {
        changed.insert("visibility".into(), json!({"from": old_visibility, "to": b.visibility}));
    }
    if !changed.is_empty() {
        record_board_action(
            &tx,
            &state,
            &req,
            admin.0.id,
            None,
            action::BOARD_CATEGORY_UPDATED,
            json!({"categoryId": id, "changed": changed}),
        )
        .await?;
    }
    let row = tx
        .query_one(
            &format!("SELECT {CATEGORY_COLUMNS} FROM board_categories c WHERE c.id = $1"),
            &[&id],
        )
        .await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(category_json(&row)))
}

async fn category_exists(client: &impl deadpool_postgres::GenericClient, id: Uuid) -> Result<(), ApiError> {
    client
        .query_opt("SELECT 1 FROM board_categories WHERE id = $1", &[&id])
        .await?
        .map(|_| ())
        .ok_or_else(|| ApiError::new(ErrorCode::CategoryNotFound, "no such category"))
}

/// The user's display name and role, or `404 user_not_found`.
async fn user_named(client: &impl deadpool_postgres::GenericClient, id: Uuid) -> Result<(String, String), ApiError> {
    client
        .query_opt("SELECT display_name, role FROM users WHERE id = $1", &[&id])
        .await?
        .map(|r| (r.get(0), r.get(1)))
        .ok_or_else(|| ApiError::new(ErrorCode::UserNotFound, "no such user"))
}

/// `PUT /api/boards/categories/{id}/moderators/{user}` (admins).
pub async fn appoint(
    state: web::Data<AppState>,
    admin: AdminUser,
    req: HttpRequest,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (category, user) = path.into_inner();
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    category_exists(&tx, category).await?;
    let (name, _) = user_named(&tx, user).await?;
    let added = tx
        .execute(
            "INSERT INTO board_moderators (category_id, user_id, appointed_by) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
            &[&category, &user, &admin.0.id],
        )
        .await?;
    if added > 0 {
        record_board_action(
            &tx,
            &state,
            &req,
            admin.0.id,
            Some(UserId(user)),
            action::BOARD_MODERATOR_APPOINTED,
            json!({"categoryId": category}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(json!({"categoryId": category, "userId": user, "displayName": name})))
}

/// `DELETE /api/boards/categories/{id}/moderators/{user}` (admins): `204`.
pub async fn dismiss(
    state: web::Data<AppState>,
    admin: AdminUser,
    req: HttpRequest,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (category, user) = path.into_inner();
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    category_exists(&tx, category).await?;
    let removed = tx
        .execute(
            "DELETE FROM board_moderators WHERE category_id = $1 AND user_id = $2",
            &[&category, &user],
        )
        .await?;
    if removed > 0 {
        record_board_action(
            &tx,
            &state,
            &req,
            admin.0.id,
            Some(UserId(user)),
            action::BOARD_MODERATOR_REMOVED,
            json!({"categoryId": category}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BanBody {
    reason: Option<String>,
}

/// `403 forbidden` unless the caller moderates the category (which must exist).
async fn moderator_of(
    client: &impl deadpool_postgres::GenericClient,
    user: &AuthUser,
    category: Uuid,
) -> Result<(), ApiError> {
    category_exists(client, category).await?;
    if !boards::moderates(client, user, category).await? {
        return Err(ApiError::forbidden(
            "only this category's moderators and admins may do this",
        ));
    }
    Ok(())
}

/// `PUT /api/boards/categories/{id}/bans/{user}` (its moderators, admins).
pub async fn ban(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    path: web::Path<(Uuid, Uuid)>,
    body: Json<BanBody>,
) -> Result<HttpResponse, ApiError> {
    let (category, target) = path.into_inner();
    let reason = boards::reason(body.reason.as_deref(), false)?;
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    moderator_of(&tx, &user, category).await?;
    let (name, role) = user_named(&tx, target).await?;
    if target == user.id.0 {
        return Err(ApiError::new(ErrorCode::InvalidModeration, "you cannot ban yourself"));
    }
    if role == "admin" {
        return Err(ApiError::new(ErrorCode::InvalidModeration, "admins cannot be banned"));
    }
    tx.execute(
        "INSERT INTO board_bans (category_id, user_id, reason, banned_by) VALUES ($1, $2, $3, $4)
         ON CONFLICT (category_id, user_id) DO UPDATE SET reason = EXCLUDED.reason",
        &[&category, &target, &reason, &user.id],
    )
    .await?;
    record_board_action(
        &tx,
        &state,
        &req,
        user.id,
        Some(UserId(target)),
        action::BOARD_USER_BANNED,
        json!({"categoryId": category, "reason": reason}),
    )
    .await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok()
        .json(json!({"categoryId": category, "userId": target, "displayName": name, "reason": reason})))
}

/// `DELETE /api/boards/categories/{id}/bans/{user}` (its moderators, admins): `204`.
pub async fn unban(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (category, target) = path.into_inner();
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    moderator_of(&tx, &user, category).await?;
    let removed = tx
        .execute(
            "DELETE FROM board_bans WHERE category_id = $1 AND user_id = $2",
            &[&category, &target],
        )
        .await?;
    if removed > 0 {
        record_board_action(
            &tx,
            &state,
            &req,
            user.id,
            Some(UserId(target)),
            action::BOARD_USER_UNBANNED,
            json!({"categoryId": category}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
