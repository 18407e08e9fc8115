//! Attendance (issue 17): a booking counts as attended once its mentee
//! joined the live room (recorded by the live domain when it lets them in)
//! or its mentor marked it here. Reviews are refused without it.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use lyceum_protocol::{BookingId, ErrorCode, OfferingId, UserId};
use serde::Deserialize;
use serde_json::json;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::routes::json::Json;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MarkBody {
    mentee_id: UserId,
}

/// `POST /api/offerings/{id}/attendance`: the offering's mentor marks a
/// confirmed mentee as attended, once the offering has started. Marking
/// again changes nothing (the first mark, or the live join, stands).
pub async fn mark(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<OfferingId>,
    body: Json<MarkBody>,
) -> Result<HttpResponse, ApiError> {
    let offering = path.into_inner();
    let mentee = body.into_inner().mentee_id;
    let client = state.pool.get().await?;
    let o = client
        .query_opt(
            "SELECT mentor_id, state, starts_at <= now() OR state IN ('live', 'completed') FROM offerings WHERE id = $1",
            &[&offering],
        )
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::OfferingNotFound, "no such slot or session"))?;
    let (mentor, offering_state, started): (UserId, String, bool) = (o.get(0), o.get(1), o.get(2));
    if mentor != user.id {
        return Err(ApiError::forbidden("only its mentor marks attendance"));
    }
    if offering_state == "cancelled" {
        return Err(ApiError::new(ErrorCode::BookingClosed, "this offering was cancelled"));
    }
    if !started {
        return Err(ApiError::new(
            ErrorCode::TooEarly,
            "attendance is marked once the offering has started",
        ));
    }
    // COALESCE keeps the first mark (or the live join) and its source.
    let r = client
        .query_opt(
            "UPDATE bookings SET attended_at = coalesce(attended_at, now()),
                                 attended_source = coalesce(attended_source, 'mentor')
              WHERE offering_id = $1 AND mentee_id = $2 AND status = 'confirmed'
              RETURNING id, attended_at, attended_source",
            &[&offering, &mentee],
        )
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotBooked, "this mentee holds no confirmed booking of it"))?;
    let (booking, at, source): (BookingId, DateTime<Utc>, String) = (r.get(0), r.get(1), r.get(2));
    Ok(HttpResponse::Ok().json(json!({
        "bookingId": booking, "offeringId": offering, "menteeId": mentee,
        "attendedAt": at, "source": source,
    })))
}
