//! Mentorships (seed 002, issue 17): a mentee asks a mentor for a span of
//! dates with goals; that mentor accepts or declines; accepting opens
//! their direct conversation (the same code path as `POST
//! /api/rooms/direct`); either side may end it. Only its two parties see a
//! mentorship.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use lyceum_actors::Role;
use lyceum_protocol::{ErrorCode, MentorshipId, RoomId, UserId};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::AuthUser;
use crate::error::{is_unique_violation, ApiError};
use crate::routes::chat::rooms::direct_room;
use crate::routes::json::Json;
use crate::state::AppState;

const MAX_GOALS: usize = 4000;
/// How far ahead a mentorship may start, and how long it may run.
const MAX_START_AHEAD_DAYS: i64 = 365;
const MAX_SPAN_DAYS: i64 = 730;

const COLUMNS: &str = "m.id, m.mentor_id, m.mentee_id, m.status, m.start_date, m.end_date, m.goals, m.room_id,
     m.created_at, m.decided_at, m.ended_at, m.ended_by, mu.display_name AS mentor_name, eu.display_name AS mentee_name";
const FROM: &str = "mentorships m JOIN users mu ON mu.id = m.mentor_id JOIN users eu ON eu.id = m.mentee_id";

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidMentorship, message)
}

fn not_found() -> ApiError {
    ApiError::new(ErrorCode::MentorshipNotFound, "no such mentorship of yours")
}

fn mentorship_json(r: &tokio_postgres::Row) -> Value {
    json!({
        "id": r.get::<_, MentorshipId>("id"),
        "mentor": {"id": r.get::<_, UserId>("mentor_id"), "displayName": r.get::<_, String>("mentor_name")},
        "mentee": {"id": r.get::<_, UserId>("mentee_id"), "displayName": r.get::<_, String>("mentee_name")},
        "status": r.get::<_, String>("status"),
        "startDate": r.get::<_, NaiveDate>("start_date"),
        "endDate": r.get::<_, NaiveDate>("end_date"),
        "goals": r.get::<_, String>("goals"),
        "roomId": r.get::<_, Option<RoomId>>("room_id"),
        "createdAt": r.get::<_, DateTime<Utc>>("created_at"),
        "decidedAt": r.get::<_, Option<DateTime<Utc>>>("decided_at"),
        "endedAt": r.get::<_, Option<DateTime<Utc>>>("ended_at"),
        "endedBy": r.get::<_, Option<UserId>>("ended_by"),
    })
}

async fn load(
    client: &impl deadpool_postgres::GenericClient,
    id: MentorshipId,
) -> Result<tokio_postgres::Row, ApiError> {
    client
        .query_opt(&format!("SELECT {COLUMNS} FROM {FROM} WHERE m.id = $1"), &[&id])
        .await?
        .ok_or_else(not_found)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Request {
    mentor_id: UserId,
    start_date: NaiveDate,
    end_date: NaiveDate,
    goals: String,
}

/// `POST /api/mentorships`: a mentee asks a mentor.
pub async fn request(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<Request>,
) -> Result<HttpResponse, ApiError> {
    if user.role != Role::Mentee {
        return Err(ApiError::forbidden("only mentees request mentorships"));
    }
    let b = body.into_inner();
    let goals = b.goals.trim().to_owned();
    if goals.is_empty() || goals.chars().count() > MAX_GOALS {
        return Err(invalid(format!("goals have 1 to {MAX_GOALS} characters")));
    }
    let today = Utc::now().date_naive();
    if b.start_date < today || b.start_date > today + Duration::days(MAX_START_AHEAD_DAYS) {
        return Err(invalid(format!(
            "startDate is between today (UTC) and {MAX_START_AHEAD_DAYS} days ahead"
        )));
    }
    if b.end_date < b.start_date || b.end_date > b.start_date + Duration::days(MAX_SPAN_DAYS) {
        return Err(invalid(format!(
            "endDate is on or after startDate, at most {MAX_SPAN_DAYS} days later"
        )));
    }
    let client = state.pool.get().await?;
    let role: String = client
        .query_opt("SELECT role FROM users WHERE id = $1", &[&b.mentor_id])
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::UserNotFound, "no such user"))?
        .get(0);
    if role != "mentor" {
        return Err(ApiError::new(ErrorCode::NotAMentor, "that user is not a mentor"));
    }
    let id = MentorshipId::new_random();
    let res = client
        .execute(
            "INSERT INTO mentorships (id, mentor_id, mentee_id, start_date, end_date, goals) VALUES ($1, $2, $3, $4, $5, $6)",
            &[&id, &b.mentor_id, &user.id, &b.start_date, &b.end_date, &goals],
        )
        .await;
    match res {
        Err(e) if is_unique_violation(&e) => {
            return Err(ApiError::new(
                ErrorCode::MentorshipExists,
                "you have a pending or accepted mentorship with this mentor already",
            ))
        }
        Err(e) => return Err(e.into()),
        Ok(_) => {}
    }
    let m = mentorship_json(&load(&client, id).await?);
    drop(client);
    let title = format!(
        "{} asks you for a mentorship",
        m["mentee"]["displayName"].as_str().unwrap_or("")
    );
    crate::notices::notify(
        &state,
        b.mentor_id,
        "mentorship_requested",
        format!("mentorship_requested:{id}"),
        json!({"title": title, "mentorshipId": id}),
    )
    .await;
    Ok(HttpResponse::Created().json(m))
}

/// `GET /api/mentorships`: the caller's, as mentor or mentee, newest first.
pub async fn list(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await?;
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM {FROM} WHERE m.mentor_id = $1 OR m.mentee_id = $1
                  ORDER BY m.created_at DESC, m.id DESC LIMIT 200"
            ),
            &[&user.id],
        )
        .await?;
    Ok(HttpResponse::Ok().json(json!({"items": rows.iter().map(mentorship_json).collect::<Vec<_>>()})))
}

/// `POST /api/mentorships/{id}/{action}`: `accept` and `decline` by its
/// mentor while pending; `end` by either party while pending or accepted.
pub async fn act(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(MentorshipId, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, action) = path.into_inner();
    if !matches!(action.as_str(), "accept" | "decline" | "end") {
        return Err(ApiError::new(ErrorCode::NotFound, "no such action"));
    }
    let client = state.pool.get().await?;
    let m = load(&client, id).await?;
    let (mentor, mentee): (UserId, UserId) = (m.get("mentor_id"), m.get("mentee_id"));
    if user.id != mentor && user.id != mentee {
        return Err(not_found());
    }
    let changed = match action.as_str() {
        "accept" | "decline" => {
            if user.id != mentor {
                return Err(ApiError::forbidden("only the mentor asked accepts or declines"));
            }
            let room = if action == "accept" {
                // Opened before the status changes, so an accepted
                // mentorship always has its room; find-or-open, so a lost
                // race leaves nothing behind but the two's conversation.
                drop(client);
                Some(direct_room(&state, mentor, mentee, false).await?.0)
            } else {
                None
            };
            let client = state.pool.get().await?;
            let to = if action == "accept" { "accepted" } else { "declined" };
            let n = client
                .execute(
                    "UPDATE mentorships SET status = $2, decided_at = now(), room_id = $3
                      WHERE id = $1 AND status = 'pending'",
                    &[&id, &to, &room],
                )
                .await?;
            (n, client)
        }
        _ => {
            let n = client
                .execute(
                    "UPDATE mentorships SET status = 'ended', ended_at = now(), ended_by = $2
                      WHERE id = $1 AND status IN ('pending', 'accepted')",
                    &[&id, &user.id],
                )
                .await?;
            (n, client)
        }
    };
    let (n, client) = changed;
    if n == 0 {
        return Err(ApiError::new(
            ErrorCode::MentorshipClosed,
            match action.as_str() {
                "end" => "this mentorship is declined or ended already",
                _ => "this mentorship is no longer pending",
            },
        ));
    }
    let m = mentorship_json(&load(&client, id).await?);
    drop(client);
    // The other party hears of it.
    let (to, kind, title) = match action.as_str() {
        "accept" => (
            mentee,
            "mentorship_accepted",
            format!("{} accepted your mentorship request", name_of(&m, "mentor")),
        ),
        "decline" => (
            mentee,
            "mentorship_declined",
            format!("{} declined your mentorship request", name_of(&m, "mentor")),
        ),
        _ if user.id == mentor => (
            mentee,
            "mentorship_ended",
            format!("{} ended your mentorship", name_of(&m, "mentor")),
        ),
        _ => (
            mentor,
            "mentorship_ended",
            format!("{} ended your mentorship", name_of(&m, "mentee")),
        ),
    };
    crate::notices::notify(
        &state,
        to,
        kind,
        format!("{kind}:{id}"),
        json!({"title": title, "mentorshipId": id, "roomId": m["roomId"]}),
    )
    .await;
    Ok(HttpResponse::Ok().json(m))
}

fn name_of(m: &Value, side: &str) -> String {
    m[side]["displayName"].as_str().unwrap_or("").to_owned()
}
