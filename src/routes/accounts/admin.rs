//! `/api/admin`: the audit log, the user list and role changes. Every handler takes
//! `AdminUser`, so a non-admin gets 403 before any work is done.

use actix_web::{web, HttpRequest, HttpResponse};
use lyceum_actors::core::{Revocation, RevokeReason};
use lyceum_actors::{Role, UserId};
use lyceum_protocol::ErrorCode;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{self, action};
use crate::auth::AdminUser;
use crate::error::ApiError;
use crate::routes::json::Json;
use crate::routes::paging::page_limit;
use crate::state::AppState;

const MAX_AUDIT_PAGE: i64 = 200;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditQuery {
    action: Option<String>,
    subject_id: Option<UserId>,
    /// Return entries older than this id (the previous page's `nextBefore`).
    before: Option<i64>,
    limit: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuditEntry {
    id: i64,
    at: chrono::DateTime<chrono::Utc>,
    actor_id: Option<UserId>,
    subject_id: Option<UserId>,
    action: String,
    ip: Option<String>,
    details: serde_json::Value,
}

pub async fn audit(
    state: web::Data<AppState>,
    _admin: AdminUser,
    q: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_limit(q.limit, 50, MAX_AUDIT_PAGE)?;
    let client = state.pool.get().await?;
    let rows = client
        .query(
            "SELECT id, at, actor_id, subject_id, action, ip, details FROM audit_log
              WHERE ($1::text IS NULL OR action = $1)
                AND ($2::uuid IS NULL OR subject_id = $2)
                AND ($3::bigint IS NULL OR id < $3)
              ORDER BY id DESC LIMIT $4",
            &[&q.action, &q.subject_id, &q.before, &limit],
        )
        .await?;
    let items: Vec<AuditEntry> = rows
        .iter()
        .map(|r| AuditEntry {
            id: r.get(0),
            at: r.get(1),
            actor_id: r.get(2),
            subject_id: r.get(3),
            action: r.get(4),
            ip: r.get(5),
            details: r.get(6),
        })
        .collect();
    let next_before = if items.len() as i64 == limit {
        items.last().map(|e| e.id)
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(json!({ "items": items, "nextBefore": next_before })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UsersQuery {
    /// Part of a display name, or a whole email address (matched, never shown).
    q: Option<String>,
    role: Option<Role>,
    /// Users created before this one (the previous page's `nextAfter`).
    after: Option<UserId>,
    limit: Option<i64>,
}

/// `GET /api/admin/users`: newest first. Contact details are not part of
/// the answer, not even for admins; an exact email finds its account.
pub async fn users(
    state: web::Data<AppState>,
    _admin: AdminUser,
    q: web::Query<UsersQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_limit(q.limit, 50, MAX_AUDIT_PAGE)?;
    let text = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty());
    if text.is_some_and(|t| t.chars().count() > 200) {
        return Err(ApiError::new(ErrorCode::InvalidQuery, "q: at most 200 characters"));
    }
    let like = text.map(|t| format!("%{}%", t.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
    let client = state.pool.get().await?;
    let rows = client
        .query(
            "SELECT u.id, u.display_name, u.role, u.created_at FROM users u
              WHERE ($1::text IS NULL OR u.display_name ILIKE $1 OR lower(u.email) = lower($2))
                AND ($3::text IS NULL OR u.role = $3)
                AND ($4::uuid IS NULL OR (u.created_at, u.id) < (SELECT created_at, id FROM users WHERE id = $4))
              ORDER BY u.created_at DESC, u.id DESC LIMIT $5",
            &[&like, &text, &q.role.map(|r| r.as_str()), &q.after, &limit],
        )
        .await?;
    let items: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            json!({"id": r.get::<_, UserId>(0), "displayName": r.get::<_, String>(1),
                   "role": r.get::<_, String>(2), "createdAt": r.get::<_, chrono::DateTime<chrono::Utc>>(3)})
        })
        .collect();
    let next_after = if items.len() as i64 == limit {
        items.last().map(|u| u["id"].clone())
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(json!({ "items": items, "nextAfter": next_after })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleBody {
    role: Role,
}

/// Changes a user's role. In the same transaction their token version moves
/// on and their refresh-token families are revoked: every token they hold
/// stops working at once, their WebSocket connections close (after the
/// commit), and the new role is what their next sign-in carries.
pub async fn set_role(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: AdminUser,
    id: web::Path<UserId>,
    body: Json<RoleBody>,
) -> Result<HttpResponse, ApiError> {
    let target = id.into_inner();
    if target == admin.0.id {
        return Err(ApiError::new(
            ErrorCode::CannotChangeOwnRole,
            "ask another admin to change your role",
        ));
    }
    let new_role = body.role;
    if new_role == Role::Guest {
        return Err(ApiError::new(
            ErrorCode::InvalidRole,
            "accounts cannot be turned into guests",
        ));
    }
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let old: String = tx
        .query_opt("SELECT role FROM users WHERE id = $1 FOR UPDATE", &[&target])
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::UserNotFound, "no such user"))?
        .get(0);
    let mut revocation = None;
    if old != new_role.as_str() {
        let version: i32 = tx
            .query_one(
                "UPDATE users SET role = $2, token_version = token_version + 1, updated_at = now()
                  WHERE id = $1 RETURNING token_version",
                &[&target, &new_role.as_str()],
            )
            .await?
            .get(0);
        revocation = Some(Revocation::User {
            user: target,
            version,
            role: new_role,
            reason: RevokeReason::RoleChanged,
        });
        tx.execute(
            "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
            &[&target],
        )
        .await?;
        let ip = state.client_ip(&req);
        audit::record(
            &tx,
            audit::Entry {
                actor: Some(admin.0.id),
                subject: Some(target),
                action: action::ROLE_CHANGED,
                ip: Some(&ip),
                details: json!({"from": old, "to": new_role}),
            },
        )
        .await?;
    }
    tx.commit().await?;
    if let Some(r) = revocation {
        state.realtime.revoke(r);
    }
    Ok(HttpResponse::Ok().json(json!({"userId": target, "role": new_role})))
}
