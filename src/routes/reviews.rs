//! Reviews both ways (issue 17): after an attended booking its mentee
//! reviews the mentor and its mentor reviews the mentee, one each per
//! booking, editable for 14 days; the mentor replies publicly once; anyone
//! may report a review they can see to the admins' moderation queue. The
//! mentor's rating (average, count, distribution in `profiles`, which the
//! directory reads) is recomputed in the transaction that writes a review.
//!
//! Who sees what: reviews of mentors are public (`GET
//! /api/users/{id}/reviews`, the mentor's page); a review of a mentee only
//! its mentee, its author and admins (`GET /api/me/reviews`, the queue). A
//! reviewer is shown by display name, never by email or phone.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Duration, Utc};
use lyceum_protocol::{BookingId, ErrorCode, OfferingId, ReportId, ReviewId, UserId};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{AdminUser, AuthUser};
use crate::error::{is_unique_violation, ApiError};
use crate::routes::json::Json;
use crate::state::AppState;

/// How long a review stays editable after it was written.
pub const EDITABLE_DAYS: i64 = 14;
/// The longest review text, reply and report reason, in characters.
const MAX_TEXT: usize = 4000;
const MAX_REASON: usize = 1000;

/// The columns `review_json` reads, with the two names joined in.
const REVIEW_COLUMNS: &str = "r.id, r.booking_id, r.offering_id, r.subject_role, r.reviewer_id, r.subject_id, r.rating,
     r.body, r.created_at, r.updated_at, r.reply, r.replied_at, ru.display_name AS reviewer_name,
     su.display_name AS subject_name";
const REVIEW_FROM: &str = "reviews r JOIN users ru ON ru.id = r.reviewer_id JOIN users su ON su.id = r.subject_id";

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidReview, message)
}

fn rating_of(n: i64) -> Result<i16, ApiError> {
    match i16::try_from(n) {
        Ok(r) if (1..=5).contains(&r) => Ok(r),
        _ => Err(invalid("a rating is an integer from 1 to 5")),
    }
}

/// Review text: trimmed, at most `MAX_TEXT` characters (may be empty).
fn text_of(t: Option<String>) -> Result<String, ApiError> {
    let t = t.unwrap_or_default().trim().to_owned();
    if t.chars().count() > MAX_TEXT {
        return Err(invalid(format!("a review has at most {MAX_TEXT} characters")));
    }
    Ok(t)
}

/// Text that must say something: trimmed, 1 to `max` characters.
fn required_text(t: &str, what: &str, max: usize) -> Result<String, ApiError> {
    let t = t.trim();
    if t.is_empty() || t.chars().count() > max {
        return Err(invalid(format!("{what} has 1 to {max} characters")));
    }
    Ok(t.to_owned())
}

pub fn review_json(r: &tokio_postgres::Row) -> Value {
    let created: DateTime<Utc> = r.get("created_at");
    let reply: Option<String> = r.get("reply");
    let replied: Option<DateTime<Utc>> = r.get("replied_at");
    json!({
        "id": r.get::<_, ReviewId>("id"),
        "bookingId": r.get::<_, BookingId>("booking_id"),
        "offeringId": r.get::<_, OfferingId>("offering_id"),
        "about": r.get::<_, String>("subject_role"),
        "reviewer": {"id": r.get::<_, UserId>("reviewer_id"), "displayName": r.get::<_, String>("reviewer_name")},
        "reviewee": {"id": r.get::<_, UserId>("subject_id"), "displayName": r.get::<_, String>("subject_name")},
        "rating": r.get::<_, i16>("rating"),
        "text": r.get::<_, String>("body"),
        "createdAt": created,
        "updatedAt": r.get::<_, DateTime<Utc>>("updated_at"),
        "editableUntil": created + Duration::days(EDITABLE_DAYS),
        "reply": match (reply, replied) {
            (Some(text), Some(at)) => json!({"text": text, "repliedAt": at}),
            _ => Value::Null,
        },
    })
}

async fn load(client: &impl deadpool_postgres::GenericClient, id: ReviewId) -> Result<tokio_postgres::Row, ApiError> {
    client
        .query_opt(
            &format!("SELECT {REVIEW_COLUMNS} FROM {REVIEW_FROM} WHERE r.id = $1"),
            &[&id],
        )
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::ReviewNotFound, "no such review"))
}

/// Takes the mentor's profile row lock. Called before a review of them is
/// written, so the recount that follows sees every committed review.
async fn lock_rating(tx: &deadpool_postgres::Transaction<'_>, mentor: UserId) -> Result<(), ApiError> {
    tx.execute("SELECT 1 FROM profiles WHERE user_id = $1 FOR UPDATE", &[&mentor])
        .await?;
    Ok(())
}

/// Recomputes the mentor's rating from their reviews, inside the writing
/// transaction (the lock is `lock_rating`'s). `profiles.rating_avg` reaches
/// the directory's copy through its trigger.
async fn recount(tx: &deadpool_postgres::Transaction<'_>, mentor: UserId) -> Result<(), ApiError> {
    tx.execute(
        "UPDATE profiles p SET rating_count = a.n, rating_avg = a.avg, rating_dist = a.dist
           FROM (SELECT count(*)::int AS n, coalesce(avg(rating), 0)::float8 AS avg,
                        ARRAY[count(*) FILTER (WHERE rating = 1), count(*) FILTER (WHERE rating = 2),
                              count(*) FILTER (WHERE rating = 3), count(*) FILTER (WHERE rating = 4),
                              count(*) FILTER (WHERE rating = 5)]::int[] AS dist
                   FROM reviews WHERE subject_id = $1 AND subject_role = 'mentor') a
          WHERE p.user_id = $1",
        &[&mentor],
    )
    .await?;
    Ok(())
}

/// The stored rating of a user, as the API shows it.
pub async fn rating_json(client: &impl deadpool_postgres::GenericClient, user: UserId) -> Result<Value, ApiError> {
    let r = client
        .query_opt(
            "SELECT rating_avg, rating_count, rating_dist FROM profiles WHERE user_id = $1",
            &[&user],
        )
        .await?;
    let (avg, count, dist) = match r {
        Some(r) => (r.get::<_, f64>(0), r.get::<_, i32>(1), r.get::<_, Vec<i32>>(2)),
        None => (0.0, 0, vec![0; 5]),
    };
    let d = |i: usize| dist.get(i).copied().unwrap_or(0);
    Ok(json!({
        "average": (avg * 100.0).round() / 100.0,
        "count": count,
        "distribution": {"1": d(0), "2": d(1), "3": d(2), "4": d(3), "5": d(4)},
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewReview {
    booking_id: BookingId,
    rating: i64,
    #[serde(default)]
    text: Option<String>,
}

/// `POST /api/reviews`: the booking's mentee reviews its mentor, or its
/// mentor its mentee; the caller's place in the booking decides which.
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<NewReview>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let rating = rating_of(b.rating)?;
    let text = text_of(b.text)?;
    let mut client = state.pool.get().await?;
    let row = client
        .query_opt(
            "SELECT b.mentee_id, o.mentor_id, b.offering_id, b.attended_at IS NOT NULL
               FROM bookings b JOIN offerings o ON o.id = b.offering_id WHERE b.id = $1",
            &[&b.booking_id],
        )
        .await?;
    let not_found = || ApiError::new(ErrorCode::BookingNotFound, "no such booking of yours");
    let row = row.ok_or_else(not_found)?;
    let (mentee, mentor, offering, attended): (UserId, UserId, OfferingId, bool) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    let (about, subject) = if user.id == mentee {
        ("mentor", mentor)
    } else if user.id == mentor {
        ("mentee", mentee)
    } else {
        return Err(not_found());
    };
    if !attended {
        return Err(ApiError::new(
            ErrorCode::NotAttended,
            "a review needs an attended session: join the live room, or ask the mentor to mark attendance",
        ));
    }
    let id = ReviewId::new_random();
    let tx = client.transaction().await?;
    if about == "mentor" {
        lock_rating(&tx, mentor).await?;
    }
    let inserted = tx
        .execute(
            "INSERT INTO reviews (id, booking_id, offering_id, subject_role, reviewer_id, subject_id, rating, body)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (booking_id, subject_role) DO NOTHING",
            &[
                &id,
                &b.booking_id,
                &offering,
                &about,
                &user.id,
                &subject,
                &rating,
                &text,
            ],
        )
        .await?;
    if inserted == 0 {
        return Err(ApiError::new(
            ErrorCode::AlreadyReviewed,
            "you have reviewed this booking already; edit that review instead",
        ));
    }
    if about == "mentor" {
        recount(&tx, mentor).await?;
    }
    let r = load(&tx, id).await?;
    tx.commit().await?;
    drop(client);
    let review = review_json(&r);
    let title = format!(
        "{} reviewed you: {} of 5",
        review["reviewer"]["displayName"].as_str().unwrap_or(""),
        rating
    );
    crate::notices::notify(
        &state,
        subject,
        "review_received",
        format!("review_received:{id}"),
        json!({"title": title, "reviewId": id, "about": about, "mentorId": mentor}),
    )
    .await;
    Ok(HttpResponse::Created().json(review))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EditReview {
    #[serde(default)]
    rating: Option<i64>,
    #[serde(default)]
    text: Option<String>,
}

/// `PATCH /api/reviews/{id}`: its author changes the rating or the text,
/// within 14 days of writing it.
pub async fn edit(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<ReviewId>,
    body: Json<EditReview>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let b = body.into_inner();
    if b.rating.is_none() && b.text.is_none() {
        return Err(invalid("send a rating, a text or both"));
    }
    let rating = b.rating.map(rating_of).transpose()?;
    let text = match b.text {
        Some(t) => Some(text_of(Some(t))?),
        None => None,
    };
    let mut client = state.pool.get().await?;
    let r = load(&client, id).await?;
    let (author, subject, about): (UserId, UserId, String) =
        (r.get("reviewer_id"), r.get("subject_id"), r.get("subject_role"));
    if author != user.id {
        return Err(ApiError::forbidden("only its author edits a review"));
    }
    let tx = client.transaction().await?;
    if about == "mentor" {
        lock_rating(&tx, subject).await?;
    }
    // The window is checked by the statement that writes, so a review
    // cannot be changed a moment after it locked.
    let changed = tx
        .execute(
            "UPDATE reviews SET rating = coalesce($2, rating), body = coalesce($3, body), updated_at = now()
              WHERE id = $1 AND created_at > now() - make_interval(days => $4)",
            &[&id, &rating, &text, &(EDITABLE_DAYS as i32)],
        )
        .await?;
    if changed == 0 {
        return Err(ApiError::new(
            ErrorCode::ReviewLocked,
            format!("a review can be edited for {EDITABLE_DAYS} days after it was written"),
        ));
    }
    if about == "mentor" {
        recount(&tx, subject).await?;
    }
    let r = load(&tx, id).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(review_json(&r)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReplyBody {
    text: String,
}

/// `POST /api/reviews/{id}/reply`: the reviewed mentor answers publicly, once.
pub async fn reply(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<ReviewId>,
    body: Json<ReplyBody>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let text = required_text(&body.text, "a reply", MAX_TEXT)?;
    let client = state.pool.get().await?;
    let r = load(&client, id).await?;
    let (subject, about): (UserId, String) = (r.get("subject_id"), r.get("subject_role"));
    if subject != user.id || about != "mentor" {
        return Err(ApiError::forbidden("only the reviewed mentor replies to a review"));
    }
    let changed = client
        .execute(
            "UPDATE reviews SET reply = $2, replied_at = now() WHERE id = $1 AND reply IS NULL",
            &[&id, &text],
        )
        .await?;
    if changed == 0 {
        return Err(ApiError::new(
            ErrorCode::AlreadyReplied,
            "you have replied to this review already",
        ));
    }
    let r = load(&client, id).await?;
    drop(client);
    let review = review_json(&r);
    let title = format!(
        "{} replied to your review",
        review["reviewee"]["displayName"].as_str().unwrap_or("")
    );
    crate::notices::notify(
        &state,
        r.get("reviewer_id"),
        "review_replied",
        format!("review_replied:{id}"),
        json!({"title": title, "reviewId": id, "about": "mentor", "mentorId": subject}),
    )
    .await;
    Ok(HttpResponse::Ok().json(review))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReportBody {
    reason: String,
}

/// `POST /api/reviews/{id}/report`: to the moderation queue, once per
/// reporter. A review of a mentor anyone may report; a review of a mentee
/// only that mentee (nobody else can see it). Not one's own review.
pub async fn report(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<ReviewId>,
    body: Json<ReportBody>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let reason = required_text(&body.reason, "a reason", MAX_REASON)?;
    let client = state.pool.get().await?;
    let r = load(&client, id).await?;
    let (author, subject, about): (UserId, UserId, String) =
        (r.get("reviewer_id"), r.get("subject_id"), r.get("subject_role"));
    if about == "mentee" && subject != user.id && author != user.id {
        return Err(ApiError::new(ErrorCode::ReviewNotFound, "no such review"));
    }
    if author == user.id {
        return Err(ApiError::forbidden("you wrote this review; edit it instead"));
    }
    let report = ReportId::new_random();
    let res = client
        .query_one(
            "INSERT INTO review_reports (id, review_id, reporter_id, reason) VALUES ($1, $2, $3, $4) RETURNING created_at",
            &[&report, &id, &user.id, &reason],
        )
        .await;
    let created: DateTime<Utc> = match res {
        Ok(row) => row.get(0),
        Err(e) if is_unique_violation(&e) => {
            return Err(ApiError::new(
                ErrorCode::AlreadyReported,
                "you have reported this review already",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    Ok(HttpResponse::Created().json(json!({
        "id": report, "reviewId": id, "reason": reason, "createdAt": created,
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    before: Option<ReviewId>,
}

/// The public reviews of a mentor, newest first, `limit` (1-100, 20) at a
/// time from after the review `before`; for the API and the mentor's page.
pub async fn public_of(
    state: &AppState,
    user: UserId,
    limit: i64,
    before: Option<ReviewId>,
) -> Result<Value, ApiError> {
    let client = state.pool.get().await?;
    if client
        .query_opt("SELECT 1 FROM users WHERE id = $1", &[&user])
        .await?
        .is_none()
    {
        return Err(ApiError::new(ErrorCode::UserNotFound, "no such user"));
    }
    let cursor: Option<(DateTime<Utc>, ReviewId)> = match before {
        None => None,
        Some(b) => {
            let row = client
                .query_opt(
                    "SELECT created_at FROM reviews WHERE id = $1 AND subject_id = $2 AND subject_role = 'mentor'",
                    &[&b, &user],
                )
                .await?
                .ok_or_else(|| ApiError::new(ErrorCode::InvalidCursor, "`before` is not a review in this list"))?;
            Some((row.get(0), b))
        }
    };
    let (at, after_id) = match cursor {
        Some((t, id)) => (Some(t), Some(id)),
        None => (None, None),
    };
    let rows = client
        .query(
            &format!(
                "SELECT {REVIEW_COLUMNS} FROM {REVIEW_FROM}
                  WHERE r.subject_id = $1 AND r.subject_role = 'mentor'
                    AND ($2::timestamptz IS NULL OR (r.created_at, r.id) < ($2, $3))
                  ORDER BY r.created_at DESC, r.id DESC LIMIT $4"
            ),
            &[&user, &at, &after_id, &(limit + 1)],
        )
        .await?;
    let more = rows.len() as i64 > limit;
    let items: Vec<Value> = rows.iter().take(limit as usize).map(review_json).collect();
    let next = if more {
        items.last().map(|v| v["id"].clone())
    } else {
        None
    };
    Ok(json!({
        "userId": user,
        "rating": rating_json(&client, user).await?,
        "items": items,
        "nextBefore": next,
    }))
}

/// `GET /api/users/{id}/reviews`: public, no sign-in needed.
pub async fn of_user(
    state: web::Data<AppState>,
    path: web::Path<UserId>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::new(ErrorCode::InvalidQuery, "limit is 1 to 100"));
    }
    Ok(HttpResponse::Ok().json(public_of(&state, path.into_inner(), limit, q.before).await?))
}

/// `GET /api/me/reviews`: the reviews of the caller (both directions) and
/// the ones they wrote, newest first, at most 100 each.
pub async fn mine(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await?;
    let list = |col: &'static str| {
        format!("SELECT {REVIEW_COLUMNS} FROM {REVIEW_FROM} WHERE r.{col} = $1 ORDER BY r.created_at DESC, r.id DESC LIMIT 100")
    };
    let received = client.query(&list("subject_id"), &[&user.id]).await?;
    let written = client.query(&list("reviewer_id"), &[&user.id]).await?;
    Ok(HttpResponse::Ok().json(json!({
        "rating": rating_json(&client, user.id).await?,
        "received": received.iter().map(review_json).collect::<Vec<_>>(),
        "written": written.iter().map(review_json).collect::<Vec<_>>(),
    })))
}

/// `GET /api/admin/review-reports`: the moderation queue, oldest first, at
/// most 200.
pub async fn reports(state: web::Data<AppState>, _admin: AdminUser) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await?;
    let rows = client
        .query(
            &format!(
                "SELECT rr.id AS report_id, rr.reason, rr.created_at AS reported_at, rr.reporter_id,
                        pu.display_name AS reporter_name, {REVIEW_COLUMNS}
                   FROM review_reports rr JOIN users pu ON pu.id = rr.reporter_id
                   JOIN reviews r ON r.id = rr.review_id JOIN users ru ON ru.id = r.reviewer_id
                   JOIN users su ON su.id = r.subject_id
                  ORDER BY rr.created_at, rr.id LIMIT 200"
            ),
            &[],
        )
        .await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "id": r.get::<_, ReportId>("report_id"),
                "reason": r.get::<_, String>("reason"),
                "createdAt": r.get::<_, DateTime<Utc>>("reported_at"),
                "reporter": {"id": r.get::<_, UserId>("reporter_id"), "displayName": r.get::<_, String>("reporter_name")},
                "review": review_json(r),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// The review stays; the report leaves the queue.
    Dismiss,
    /// The review goes (with every report of it), and the rating with it.
    RemoveReview,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResolveBody {
    action: Resolution,
}

/// `POST /api/admin/review-reports/{id}/resolve`: an admin dismisses the
/// report or removes the review it reports; audited either way.
pub async fn resolve(
    state: web::Data<AppState>,
    admin: AdminUser,
    path: web::Path<ReportId>,
    body: Json<ResolveBody>,
) -> Result<HttpResponse, ApiError> {
    let report = path.into_inner();
    let mut client = state.pool.get().await?;
    let r = client
        .query_opt(
            "SELECT rr.review_id, rr.reporter_id, r.subject_id, r.subject_role, r.reviewer_id, r.rating
               FROM review_reports rr JOIN reviews r ON r.id = rr.review_id WHERE rr.id = $1",
            &[&report],
        )
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::ReportNotFound, "no such report in the queue"))?;
    let (review, reporter, subject, about, author, rating): (ReviewId, UserId, UserId, String, UserId, i16) =
        (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5));
    let tx = client.transaction().await?;
    let (action, audit_subject) = match body.action {
        Resolution::Dismiss => {
            let n = tx
                .execute("DELETE FROM review_reports WHERE id = $1", &[&report])
                .await?;
            if n == 0 {
                return Err(ApiError::new(ErrorCode::ReportNotFound, "no such report in the queue"));
            }
            (crate::audit::action::REPORT_DISMISSED, reporter)
        }
        Resolution::RemoveReview => {
            if about == "mentor" {
                lock_rating(&tx, subject).await?;
            }
            let n = tx.execute("DELETE FROM reviews WHERE id = $1", &[&review]).await?;
            if n == 0 {
                return Err(ApiError::new(ErrorCode::ReportNotFound, "no such report in the queue"));
            }
            if about == "mentor" {
                recount(&tx, subject).await?;
            }
            (crate::audit::action::REVIEW_REMOVED, author)
        }
    };
    crate::audit::record(
        &tx,
        crate::audit::Entry {
            actor: Some(admin.0.id),
            subject: Some(audit_subject),
            action,
            ip: None,
            details: json!({"reportId": report, "reviewId": review, "reviewee": subject, "rating": rating}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(json!({"reportId": report, "reviewId": review, "action": action})))
}
