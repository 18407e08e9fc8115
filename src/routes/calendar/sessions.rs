//! `/api/sessions`: group sessions, workshops and webinars (seeds 000, 002,
//! 003). Mentors schedule them; mentees browse, search, filter, register
//! (with the same seat and waitlist guarantees as slots, through the same
//! Calendar actor) and unregister. A session moves scheduled → live →
//! completed, or to cancelled.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Duration, Utc};
use lyceum_actors::calendar::store::{NewOffering, Op, OFFERING_COLUMNS};
use lyceum_actors::UserId;
use lyceum_protocol::ErrorCode;
use lyceum_protocol::OfferingId;
use serde::Deserialize;
use serde_json::json;
use tokio_postgres::types::ToSql;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::routes::calendar::slots::{
    self, agenda_json, booked_json, check_text, check_window, exec, offering, owner_of, require_mentee, require_mentor,
    Agenda,
};
use crate::routes::json::Json;
use crate::routes::paging::page_limit;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSession {
    title: String,
    #[serde(default)]
    description: String,
    category: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    starts_at: DateTime<Utc>,
    duration_minutes: i64,
    capacity: i32,
    #[serde(default)]
    price_credits: i32,
}

pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<CreateSession>,
) -> Result<HttpResponse, ApiError> {
    require_mentor(&user)?;
    let b = body.into_inner();
    let title = check_text("title", &b.title, 120)?;
    if title.is_empty() {
        return Err(ApiError::new(ErrorCode::InvalidSlot, "a session needs a title"));
    }
    if !(slots::MIN_MINUTES..=slots::MAX_MINUTES).contains(&b.duration_minutes) {
        return Err(ApiError::new(
            ErrorCode::InvalidSlot,
            format!(
                "durationMinutes must be between {} and {}",
                slots::MIN_MINUTES,
                slots::MAX_MINUTES
            ),
        ));
    }
    let ends_at = b
        .starts_at
        .checked_add_signed(Duration::minutes(b.duration_minutes))
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidSlot, "startsAt is out of range"))?;
    check_window(b.starts_at, ends_at)?;
    if !(1..=slots::MAX_CAPACITY).contains(&b.capacity) {
        return Err(ApiError::new(
            ErrorCode::InvalidSlot,
            format!("capacity must be between 1 and {}", slots::MAX_CAPACITY),
        ));
    }
    if !(0..=1_000_000).contains(&b.price_credits) {
        return Err(ApiError::new(
            ErrorCode::InvalidSlot,
            "priceCredits must be between 0 and 1000000",
        ));
    }
    if b.tags.len() > 10 {
        return Err(ApiError::new(ErrorCode::InvalidSlot, "at most 10 tags"));
    }
    let tags = b
        .tags
        .iter()
        .map(|t| check_text("tags", t, 40).map(|t| t.to_lowercase()))
        .collect::<Result<Vec<_>, _>>()?;
    let category = b
        .category
        .map(|c| check_text("category", &c, 60).map(|c| c.to_lowercase()))
        .transpose()?;
    let tz = slots::user_time_zone(&state, user.id).await?;
    let new = NewOffering {
        kind: "group",
        title,
        description: check_text("description", &b.description, 4000)?,
        category,
        tags,
        starts_at: b.starts_at,
        ends_at,
        capacity: b.capacity,
        price_credits: b.price_credits,
        time_zone: tz,
        recurrence_id: None,
    };
    slots::create_one(&state, user.id, new).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Browse {
    q: Option<String>,
    category: Option<String>,
    tag: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    min_rating: Option<f64>,
    mentor_id: Option<UserId>,
    limit: Option<i64>,
    /// `startsAt` of the last item of the previous page, with `afterId`.
    after: Option<DateTime<Utc>>,
    after_id: Option<OfferingId>,
}

/// Upcoming (scheduled or live) sessions, soonest first, with live seat counts.
pub async fn browse(
    state: web::Data<AppState>,
    _user: AuthUser,
    q: web::Query<Browse>,
) -> Result<HttpResponse, ApiError> {
    let items = browse_items(&state, q.into_inner()).await?;
    Ok(HttpResponse::Ok().json(json!({"items": items})))
}

/// The search behind `GET /api/sessions` (and the public `/sessions` page).
pub async fn browse_items(state: &AppState, q: Browse) -> Result<Vec<serde_json::Value>, ApiError> {
    let limit = page_limit(q.limit, 20, 100)?;
    if q.min_rating.is_some_and(|r| !(0.0..=5.0).contains(&r)) {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            "minRating must be between 0 and 5",
        ));
    }
    if q.q.as_ref().is_some_and(|s| s.chars().count() > 200) {
        return Err(ApiError::new(ErrorCode::InvalidQuery, "q: at most 200 characters"));
    }
    let mut params: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
    let mut add = |v: Box<dyn ToSql + Sync + Send>| {
        params.push(v);
        format!("${}", params.len())
    };
    let mut sql = format!(
        "SELECT {OFFERING_COLUMNS} FROM offerings o JOIN users u ON u.id = o.mentor_id
          JOIN profiles p ON p.user_id = o.mentor_id
         WHERE o.kind = 'group' AND o.state IN ('scheduled', 'live')"
    );
    let from = q.from.unwrap_or_else(Utc::now);
    sql.push_str(&format!(" AND o.ends_at > {}", add(Box::new(from))));
    if let Some(to) = q.to {
        sql.push_str(&format!(" AND o.starts_at < {}", add(Box::new(to))));
    }
    if let Some(t) = q.q.filter(|s| !s.trim().is_empty()) {
        sql.push_str(&format!(
            " AND o.search @@ websearch_to_tsquery('english', {})",
            add(Box::new(t))
        ));
    }
    if let Some(c) = q.category {
        sql.push_str(&format!(" AND o.category = {}", add(Box::new(c.trim().to_lowercase()))));
    }
    if let Some(t) = q.tag {
        sql.push_str(&format!(
            " AND o.tags @> ARRAY[{}]::text[]",
            add(Box::new(t.trim().to_lowercase()))
        ));
    }
    if let Some(r) = q.min_rating {
        sql.push_str(&format!(" AND p.rating_avg >= {}", add(Box::new(r))));
    }
    if let Some(m) = q.mentor_id {
        sql.push_str(&format!(" AND o.mentor_id = {}", add(Box::new(m))));
    }
    match (q.after, q.after_id) {
        (Some(a), Some(id)) => {
            let (a, id) = (add(Box::new(a)), add(Box::new(id)));
            sql.push_str(&format!(" AND (o.starts_at, o.id) > ({a}, {id})"));
        }
        (None, None) => {}
        _ => {
            return Err(ApiError::new(
                ErrorCode::InvalidQuery,
                "give after and afterId together",
            ))
        }
    }
    sql.push_str(&format!(" ORDER BY o.starts_at, o.id LIMIT {}", add(Box::new(limit))));
    let client = state.pool.get().await?;
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
    let rows = client.query(&sql, &refs).await?;
    Ok(rows.iter().map(lyceum_actors::calendar::store::offering_json).collect())
}

pub async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<OfferingId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let mut body = offering(&state, id).await?;
    // The session's chat room, for its members (the host and confirmed
    // registrants) only; null for everyone else.
    let room = crate::routes::chat::rooms::session_room_of(&state, id, user.id).await?;
    body["roomId"] = json!(room);
    Ok(HttpResponse::Ok().json(body))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Register {
    agenda: Option<Agenda>,
}

pub async fn register(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<OfferingId>,
    body: Option<Json<Register>>,
) -> Result<HttpResponse, ApiError> {
    require_mentee(&user)?;
    super::slots::booking_limit(&state, &user).await?;
    let id = path.into_inner();
    let agenda = agenda_json(body.map(|b| b.into_inner()).unwrap_or_default().agenda)?;
    let mentor = owner_of(&state, id, "group").await?;
    let outcome = exec(
        &state,
        mentor,
        Op::Book {
            offering: id.0,
            mentee: user.id,
            agenda,
        },
    )
    .await?;
    crate::routes::chat::rooms::session_membership_changed(&state, id, user.id).await?;
    booked_json(outcome, offering(&state, id).await?)
}

pub async fn unregister(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<OfferingId>,
) -> Result<HttpResponse, ApiError> {
    super::slots::booking_limit(&state, &user).await?;
    let id = path.into_inner();
    let mentor = owner_of(&state, id, "group").await?;
    exec(
        &state,
        mentor,
        Op::Cancel {
            offering: id.0,
            mentee: user.id,
        },
    )
    .await?;
    crate::routes::chat::rooms::session_membership_changed(&state, id, user.id).await?;
    Ok(HttpResponse::Ok().json(offering(&state, id).await?))
}

/// start / complete / cancel: the session's mentor only.
pub async fn transition(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(OfferingId, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, action) = path.into_inner();
    let to = match action.as_str() {
        "start" => "live",
        "complete" => "completed",
        "cancel" => "cancelled",
        _ => return Err(ApiError::new(ErrorCode::NotFound, "no such action")),
    };
    let mentor = owner_of(&state, id, "group").await?;
    if mentor != user.id {
        return Err(ApiError::forbidden("only the session's mentor may do this"));
    }
    exec(
        &state,
        mentor,
        Op::SetState {
            offering: id.0,
            state: to,
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(offering(&state, id).await?))
}
