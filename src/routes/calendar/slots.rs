//! `/api/slots`: seed 001's mentorship calendar, its API kept as written,
//! plus recurring availability, waitlists, agendas and the mentor's view of
//! who booked. Every change goes through the mentor's Calendar actor.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use lyceum_actors::calendar::store::{NewOffering, Op, Outcome, OFFERING_COLUMNS};
use lyceum_actors::{Role, UserId};
use lyceum_protocol::ErrorCode;
use lyceum_protocol::OfferingId;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::infra::ratelimit::Limit;
use crate::routes::json::Json;
use crate::state::AppState;

pub const MAX_CAPACITY: i32 = 10_000;
pub const MIN_MINUTES: i64 = 5;
pub const MAX_MINUTES: i64 = 12 * 60;
/// How far ahead a slot or session may start.
pub const MAX_DAYS_AHEAD: i64 = 730;
pub const MAX_WEEKS: u32 = 52;

/// Runs an operation on a mentor's calendar and waits for its outcome.
pub async fn exec(state: &AppState, mentor: UserId, op: Op) -> Result<Outcome, ApiError> {
    state.realtime.calendars.exec(mentor, op).await.map_err(ApiError::from)
}

pub async fn offering(state: &AppState, id: OfferingId) -> Result<Value, ApiError> {
    let client = state.pool.get().await?;
    let r = client
        .query_opt(
            &format!("SELECT {OFFERING_COLUMNS} FROM offerings o JOIN users u ON u.id = o.mentor_id WHERE o.id = $1"),
            &[&id],
        )
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::OfferingNotFound, "no such slot or session"))?;
    Ok(lyceum_actors::calendar::store::offering_json(&r))
}

pub async fn owner_of(state: &AppState, id: OfferingId, kind: &str) -> Result<UserId, ApiError> {
    let client = state.pool.get().await?;
    client
        .query_opt(
            "SELECT mentor_id FROM offerings WHERE id = $1 AND kind = $2",
            &[&id, &kind],
        )
        .await?
        .map(|r| r.get(0))
        .ok_or_else(|| ApiError::new(ErrorCode::OfferingNotFound, "no such slot or session"))
}

pub fn require_mentor(user: &AuthUser) -> Result<(), ApiError> {
    if matches!(user.role, Role::Mentor | Role::Admin) {
        Ok(())
    } else {
        Err(ApiError::forbidden("only mentors offer slots and sessions"))
    }
}

pub fn require_mentee(user: &AuthUser) -> Result<(), ApiError> {
    if user.role == Role::Mentee {
        Ok(())
    } else {
        Err(ApiError::forbidden("only mentees book"))
    }
}

pub async fn user_time_zone(state: &AppState, user: UserId) -> Result<String, ApiError> {
    let client = state.pool.get().await?;
    Ok(client
        .query_opt("SELECT time_zone FROM profiles WHERE user_id = $1", &[&user])
        .await?
        .map(|r| r.get(0))
        .unwrap_or_else(|| "UTC".to_owned()))
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidSlot, message)
}

/// A calendar date from the client must lie between yesterday and
/// `MAX_DAYS_AHEAD` days ahead (checked before any arithmetic on it; the
/// start instant is then checked again by `check_window`).
fn check_date(field: &str, d: NaiveDate) -> Result<(), ApiError> {
    let today = Utc::now().date_naive();
    let earliest = today.pred_opt().unwrap_or(today);
    let latest = today
        .checked_add_signed(Duration::days(MAX_DAYS_AHEAD))
        .unwrap_or(today);
    if d < earliest || d > latest {
        return Err(bad(format!(
            "{field} must be between today and {MAX_DAYS_AHEAD} days ahead"
        )));
    }
    Ok(())
}

pub fn parse_tz(s: &str) -> Result<chrono_tz::Tz, ApiError> {
    s.parse::<chrono_tz::Tz>()
        .map_err(|_| bad("timeZone must be an IANA time zone such as Europe/Berlin"))
}

pub fn parse_time(field: &str, s: &str) -> Result<NaiveTime, ApiError> {
    NaiveTime::parse_from_str(s, "%H:%M").map_err(|_| bad(format!("{field} must look like HH:MM")))
}

/// A wall-clock time in a zone as an instant. In the autumn hour that
/// happens twice the earlier is meant; a spring-forward gap has no such
/// time and is an error naming the date.
pub fn local_instant(tz: chrono_tz::Tz, date: NaiveDate, time: NaiveTime) -> Result<DateTime<Utc>, ApiError> {
    tz.from_local_datetime(&date.and_time(time))
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| bad(format!("{date} {time} does not exist in {tz} (clocks skip it)")))
}

pub fn check_window(starts_at: DateTime<Utc>, ends_at: DateTime<Utc>) -> Result<(), ApiError> {
    let now = Utc::now();
    if starts_at <= now {
        return Err(bad("a slot must start in the future"));
    }
    if starts_at > now + Duration::days(MAX_DAYS_AHEAD) {
        return Err(bad(format!("a slot starts at most {MAX_DAYS_AHEAD} days ahead")));
    }
    let minutes = ends_at.signed_duration_since(starts_at).num_minutes();
    if !(MIN_MINUTES..=MAX_MINUTES).contains(&minutes) {
        return Err(bad(format!(
            "a slot lasts {MIN_MINUTES} minutes to {} hours",
            MAX_MINUTES / 60
        )));
    }
    Ok(())
}

pub fn check_text(field: &str, s: &str, max: usize) -> Result<String, ApiError> {
    let t = s.trim();
    if t.chars().count() > max || t.chars().any(|c| c.is_control() && c != '\n') {
        return Err(bad(format!("{field}: at most {max} characters, no control characters")));
    }
    Ok(t.to_owned())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSlot {
    starts_at: Option<DateTime<Utc>>,
    ends_at: Option<DateTime<Utc>>,
    /// Seed 001's form: a date and HH:MM times in `timeZone` (default: the mentor's).
    date: Option<NaiveDate>,
    start_time: Option<String>,
    end_time: Option<String>,
    time_zone: Option<String>,
    max_participants: i32,
    #[serde(default)]
    description: String,
    #[serde(default)]
    title: String,
}

pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<CreateSlot>,
) -> Result<HttpResponse, ApiError> {
    require_mentor(&user)?;
    let b = body.into_inner();
    let tz_name = match &b.time_zone {
        Some(t) => t.clone(),
        None => user_time_zone(&state, user.id).await?,
    };
    let tz = parse_tz(&tz_name)?;
    let (starts_at, ends_at) = match (b.starts_at, b.ends_at, b.date, &b.start_time, &b.end_time) {
        (Some(s), Some(e), None, None, None) => (s, e),
        (None, None, Some(d), Some(st), Some(et)) => {
            check_date("date", d)?;
            let s = local_instant(tz, d, parse_time("startTime", st)?)?;
            let mut end_date = d;
            let et = parse_time("endTime", et)?;
            if et <= parse_time("startTime", st)? {
                end_date = d.succ_opt().ok_or_else(|| bad("date out of range"))?;
            }
            (s, local_instant(tz, end_date, et)?)
        }
        _ => return Err(bad("give startsAt and endsAt, or date, startTime and endTime")),
    };
    check_window(starts_at, ends_at)?;
    if !(1..=MAX_CAPACITY).contains(&b.max_participants) {
        return Err(bad(format!("maxParticipants must be between 1 and {MAX_CAPACITY}")));
    }
    let new = NewOffering {
        kind: "slot",
        title: check_text("title", &b.title, 120)?,
        description: check_text("description", &b.description, 2000)?,
        category: None,
        tags: vec![],
        starts_at,
        ends_at,
        capacity: b.max_participants,
        price_credits: 0,
        time_zone: tz.name().to_owned(),
        recurrence_id: None,
    };
    create_one(&state, user.id, new).await
}

/// Creates one slot or session through the mentor's calendar: 201 with it.
pub async fn create_one(state: &AppState, mentor: UserId, new: NewOffering) -> Result<HttpResponse, ApiError> {
    let Outcome::Created { ids } = exec(state, mentor, Op::Create(vec![new])).await? else {
        return Err(ApiError::Internal(anyhow::anyhow!("unexpected outcome")));
    };
    let id = ids
        .first()
        .copied()
        .map(OfferingId)
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no id")))?;
    Ok(HttpResponse::Created().json(offering(state, id).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Recurring {
    /// 1 = Monday … 7 = Sunday (ISO 8601).
    weekday: u32,
    start_time: String,
    end_time: String,
    /// Default: the mentor's profile time zone.
    time_zone: Option<String>,
    /// The first week: the first `weekday` on or after this date.
    start_date: NaiveDate,
    weeks: u32,
    max_participants: i32,
    #[serde(default)]
    description: String,
    #[serde(default)]
    title: String,
}

/// Weekly availability (for example Tuesdays 18:00–20:00 Europe/Berlin for
/// eight weeks), expanded in the mentor's zone so 18:00 stays 18:00 across
/// daylight-saving changes. All slots are created or none.
pub async fn create_recurring(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<Recurring>,
) -> Result<HttpResponse, ApiError> {
    require_mentor(&user)?;
    let b = body.into_inner();
    if !(1..=7).contains(&b.weekday) {
        return Err(bad("weekday must be 1 (Monday) to 7 (Sunday)"));
    }
    if !(1..=MAX_WEEKS).contains(&b.weeks) {
        return Err(bad(format!("weeks must be between 1 and {MAX_WEEKS}")));
    }
    if !(1..=MAX_CAPACITY).contains(&b.max_participants) {
        return Err(bad(format!("maxParticipants must be between 1 and {MAX_CAPACITY}")));
    }
    let tz_name = match &b.time_zone {
        Some(t) => t.clone(),
        None => user_time_zone(&state, user.id).await?,
    };
    let tz = parse_tz(&tz_name)?;
    let (st, et) = (
        parse_time("startTime", &b.start_time)?,
        parse_time("endTime", &b.end_time)?,
    );
    check_date("startDate", b.start_date)?;
    let mut first = b.start_date;
    while first.weekday().number_from_monday() != b.weekday {
        first = first.succ_opt().ok_or_else(|| bad("date out of range"))?;
    }
    let recurrence = Uuid::new_v4();
    let (title, description) = (
        check_text("title", &b.title, 120)?,
        check_text("description", &b.description, 2000)?,
    );
    let mut list = Vec::new();
    for w in 0..b.weeks {
        let d = first
            .checked_add_signed(Duration::weeks(i64::from(w)))
            .ok_or_else(|| bad("date out of range"))?;
        let s = local_instant(tz, d, st)?;
        let e = local_instant(tz, if et <= st { d.succ_opt().unwrap_or(d) } else { d }, et)?;
        check_window(s, e)?;
        list.push(NewOffering {
            kind: "slot",
            title: title.clone(),
            description: description.clone(),
            category: None,
            tags: vec![],
            starts_at: s,
            ends_at: e,
            capacity: b.max_participants,
            price_credits: 0,
            time_zone: tz.name().to_owned(),
            recurrence_id: Some(recurrence),
        });
    }
    let Outcome::Created { ids } = exec(&state, user.id, Op::Create(list)).await? else {
        return Err(ApiError::Internal(anyhow::anyhow!("unexpected outcome")));
    };
    let mut slots = Vec::new();
    for id in ids {
        slots.push(offering(&state, OfferingId(id)).await?);
    }
    Ok(HttpResponse::Created().json(json!({"recurrenceId": recurrence, "items": slots})))
}

async fn list(state: &AppState, filter: &str, arg: UserId) -> Result<Vec<Value>, ApiError> {
    let client = state.pool.get().await?;
    let rows = client
        .query(
            &format!(
                "SELECT {OFFERING_COLUMNS} FROM offerings o JOIN users u ON u.id = o.mentor_id
                  WHERE {filter} AND o.kind = 'slot' AND o.state <> 'cancelled' AND o.ends_at > now()
                  ORDER BY o.starts_at LIMIT 500"
            ),
            &[&arg],
        )
        .await?;
    Ok(rows.iter().map(lyceum_actors::calendar::store::offering_json).collect())
}

/// A mentor's own slots and sessions (not cancelled) that overlap
/// `[from, to)`, earliest first: the mentor's calendar page reads its month
/// with this.
pub async fn mentor_window(
    state: &AppState,
    mentor: UserId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Value>, ApiError> {
    let client = state.pool.get().await?;
    let rows = client
        .query(
            &format!(
                "SELECT {OFFERING_COLUMNS} FROM offerings o JOIN users u ON u.id = o.mentor_id
                  WHERE o.mentor_id = $1 AND o.state <> 'cancelled' AND o.starts_at < $3 AND o.ends_at > $2
                  ORDER BY o.starts_at LIMIT 1000"
            ),
            &[&mentor, &from, &to],
        )
        .await?;
    Ok(rows.iter().map(lyceum_actors::calendar::store::offering_json).collect())
}

/// Upcoming slots of a mentor: public, no sign-in needed (seed 001).
pub async fn of_mentor(state: web::Data<AppState>, path: web::Path<UserId>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(json!({"items": list(&state, "o.mentor_id = $1", path.into_inner()).await?})))
}

pub async fn my_slots(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    require_mentor(&user)?;
    Ok(HttpResponse::Ok().json(json!({"items": list(&state, "o.mentor_id = $1", user.id).await?})))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Agenda {
    #[serde(default)]
    goals: String,
    #[serde(default)]
    questions: Vec<String>,
}

pub fn agenda_json(a: Option<Agenda>) -> Result<Option<Value>, ApiError> {
    let Some(a) = a else { return Ok(None) };
    if a.questions.len() > 20 {
        return Err(ApiError::new(ErrorCode::InvalidAgenda, "at most 20 questions"));
    }
    let goals = check_text("goals", &a.goals, 2000)
        .map_err(|_| ApiError::new(ErrorCode::InvalidAgenda, "goals: at most 2000 characters"))?;
    let mut qs = Vec::new();
    for q in &a.questions {
        qs.push(
            check_text("questions", q, 500)
                .map_err(|_| ApiError::new(ErrorCode::InvalidAgenda, "a question has at most 500 characters"))?,
        );
    }
    Ok(Some(json!({"goals": goals, "questions": qs})))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BookBody {
    slot_id: OfferingId,
    agenda: Option<Agenda>,
}

pub fn booked_json(outcome: Outcome, slot: Value) -> Result<HttpResponse, ApiError> {
    let Outcome::Booked {
        booking,
        status,
        position,
        ..
    } = outcome
    else {
        return Err(ApiError::Internal(anyhow::anyhow!("unexpected outcome")));
    };
    Ok(HttpResponse::Created().json(json!({
        "booking": {"id": booking, "slotId": slot["id"], "status": status, "waitlistPosition": position},
        "slot": slot,
    })))
}

/// Every booking change (book, cancel, register, unregister) counts toward
/// the user's `rate_limit.bookings_per_user_per_minute`, refused or not.
pub async fn booking_limit(state: &AppState, user: &AuthUser) -> Result<(), ApiError> {
    state.limiter.check(Limit::BookingPerUser, &user.id.to_string()).await
}

pub async fn book(state: web::Data<AppState>, user: AuthUser, body: Json<BookBody>) -> Result<HttpResponse, ApiError> {
    require_mentee(&user)?;
    booking_limit(&state, &user).await?;
    let b = body.into_inner();
    let agenda = agenda_json(b.agenda)?;
    let mentor = owner_of(&state, b.slot_id, "slot").await?;
    let outcome = exec(
        &state,
        mentor,
        Op::Book {
            offering: b.slot_id.0,
            mentee: user.id,
            agenda,
        },
    )
    .await?;
    booked_json(outcome, offering(&state, b.slot_id).await?)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CancelBody {
    slot_id: OfferingId,
}

pub async fn cancel(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<CancelBody>,
) -> Result<HttpResponse, ApiError> {
    require_mentee(&user)?;
    booking_limit(&state, &user).await?;
    let mentor = owner_of(&state, body.slot_id, "slot").await?;
    let outcome = exec(
        &state,
        mentor,
        Op::Cancel {
            offering: body.slot_id.0,
            mentee: user.id,
        },
    )
    .await?;
    let Outcome::Cancelled { booking, .. } = outcome else {
        return Err(ApiError::Internal(anyhow::anyhow!("unexpected outcome")));
    };
    Ok(HttpResponse::Ok().json(json!({
        "booking": {"id": booking, "status": "cancelled"}, "slot": offering(&state, body.slot_id).await?
    })))
}

/// The caller's bookings (slots and sessions), upcoming first.
pub async fn my_bookings(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await?;
    let rows = client
        .query(
            &format!(
                "SELECT {OFFERING_COLUMNS}, b.id AS booking_id, b.status AS booking_status, b.agenda, b.booked_at, b.cancelled_at,
                        b.attended_at,
                        (SELECT r.id FROM reviews r WHERE r.booking_id = b.id AND r.subject_role = 'mentor') AS review_id,
                        CASE WHEN b.status = 'waitlisted' THEN
                          (SELECT count(*) FROM bookings w WHERE w.offering_id = b.offering_id AND w.status = 'waitlisted'
                              AND w.waitlist_seq <= b.waitlist_seq) END AS position
                   FROM bookings b JOIN offerings o ON o.id = b.offering_id JOIN users u ON u.id = o.mentor_id
                  WHERE b.mentee_id = $1 ORDER BY o.starts_at DESC LIMIT 500"
            ),
            &[&user.id],
        )
        .await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "id": r.get::<_, Uuid>("booking_id"),
                "slotId": r.get::<_, Uuid>("id"),
                "studentId": user.id,
                "status": r.get::<_, String>("booking_status"),
                "waitlistPosition": r.get::<_, Option<i64>>("position"),
                "agenda": r.get::<_, Option<Value>>("agenda"),
                "bookedAt": r.get::<_, DateTime<Utc>>("booked_at"),
                "cancelledAt": r.get::<_, Option<DateTime<Utc>>>("cancelled_at"),
                "attendedAt": r.get::<_, Option<DateTime<Utc>>>("attended_at"),
                "reviewId": r.get::<_, Option<Uuid>>("review_id"),
                "slot": lyceum_actors::calendar::store::offering_json(r),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"items": items})))
}

/// Who booked a slot or session, with their agendas: its mentor only.
pub async fn bookings_of(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<OfferingId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let client = state.pool.get().await?;
    let mentor: UserId = client
        .query_opt("SELECT mentor_id FROM offerings WHERE id = $1", &[&id])
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::OfferingNotFound, "no such slot or session"))?
        .get(0);
    if mentor != user.id && user.role != Role::Admin {
        return Err(ApiError::forbidden("only the mentor sees who booked"));
    }
    let rows = client
        .query(
            "SELECT b.id, b.mentee_id, u.display_name, b.status, b.agenda, b.booked_at,
                    CASE WHEN b.status = 'waitlisted' THEN
                      (SELECT count(*) FROM bookings w WHERE w.offering_id = b.offering_id AND w.status = 'waitlisted'
                          AND w.waitlist_seq <= b.waitlist_seq) END,
                    b.attended_at,
                    (SELECT r.id FROM reviews r WHERE r.booking_id = b.id AND r.subject_role = 'mentee')
               FROM bookings b JOIN users u ON u.id = b.mentee_id
              WHERE b.offering_id = $1 AND b.status <> 'cancelled' ORDER BY b.status, b.waitlist_seq NULLS FIRST, b.booked_at",
            &[&id],
        )
        .await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({"id": r.get::<_, Uuid>(0), "menteeId": r.get::<_, Uuid>(1), "menteeName": r.get::<_, String>(2),
                        "status": r.get::<_, String>(3), "agenda": r.get::<_, Option<Value>>(4),
                        "bookedAt": r.get::<_, DateTime<Utc>>(5), "waitlistPosition": r.get::<_, Option<i64>>(6),
                        "attendedAt": r.get::<_, Option<DateTime<Utc>>>(7), "reviewId": r.get::<_, Option<Uuid>>(8)})
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"items": items})))
}

pub async fn delete(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<OfferingId>,
) -> Result<HttpResponse, ApiError> {
    require_mentor(&user)?;
    let id = path.into_inner();
    let mentor = owner_of(&state, id, "slot").await?;
    if mentor != user.id {
        return Err(ApiError::forbidden("only the slot's mentor may delete it"));
    }
    let Outcome::Deleted { cancelled_bookings } = exec(&state, mentor, Op::Delete { offering: id.0 }).await? else {
        return Err(ApiError::Internal(anyhow::anyhow!("unexpected outcome")));
    };
    Ok(HttpResponse::Ok()
        .json(json!({"slot": offering(&state, id).await?, "cancelledBookings": cancelled_bookings.len()})))
}
