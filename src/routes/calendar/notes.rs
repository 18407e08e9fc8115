//! After the session: each participant's private notes. (Notifications
//! moved to `routes::notifications`.)

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use lyceum_protocol::{ErrorCode, OfferingId, UserId};
use serde::Deserialize;
use serde_json::json;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::routes::json::Json;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NoteBody {
    body: String,
}

/// Whether the user took part (the mentor, or a confirmed mentee), and
/// from when notes may be kept: the start, or now for a session its mentor
/// started early.
async fn participant(
    client: &deadpool_postgres::Client,
    offering: OfferingId,
    user: UserId,
) -> Result<DateTime<Utc>, ApiError> {
    client
        .query_opt(
            "SELECT CASE WHEN o.state = 'scheduled' THEN o.starts_at ELSE least(o.starts_at, now()) END
               FROM offerings o WHERE o.id = $1 AND (o.mentor_id = $2 OR EXISTS (
                SELECT 1 FROM bookings b WHERE b.offering_id = o.id AND b.mentee_id = $2 AND b.status = 'confirmed'))",
            &[&offering, &user],
        )
        .await?
        .map(|r| r.get(0))
        .ok_or_else(|| ApiError::forbidden("only the mentor and confirmed participants keep notes"))
}

/// Private notes after the session: each participant's own.
pub async fn put_note(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<OfferingId>,
    body: Json<NoteBody>,
) -> Result<HttpResponse, ApiError> {
    let offering = path.into_inner();
    if body.body.chars().count() > 20_000 {
        return Err(ApiError::new(
            ErrorCode::InvalidNote,
            "a note has at most 20000 characters",
        ));
    }
    let client = state.pool.get().await?;
    let starts = participant(&client, offering, user.id).await?;
    if starts > Utc::now() {
        return Err(ApiError::new(
            ErrorCode::TooEarly,
            "notes are kept once the session has started",
        ));
    }
    client
        .execute(
            "INSERT INTO offering_notes (offering_id, user_id, body) VALUES ($1, $2, $3)
             ON CONFLICT (offering_id, user_id) DO UPDATE SET body = EXCLUDED.body, updated_at = now()",
            &[&offering, &user.id, &body.body],
        )
        .await?;
    Ok(HttpResponse::Ok().json(json!({"offeringId": offering, "body": body.body})))
}

pub async fn get_note(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<OfferingId>,
) -> Result<HttpResponse, ApiError> {
    let offering = path.into_inner();
    let client = state.pool.get().await?;
    participant(&client, offering, user.id).await?;
    let body: Option<String> = client
        .query_opt(
            "SELECT body FROM offering_notes WHERE offering_id = $1 AND user_id = $2",
            &[&offering, &user.id],
        )
        .await?
        .map(|r| r.get(0));
    Ok(HttpResponse::Ok().json(json!({"offeringId": offering, "body": body})))
}
