//! The expert dashboard (seed 002, issue 17): for a mentor, their upcoming
//! and past slots and sessions with participants and attendance, pending
//! mentorship requests, and figures: sessions held, hours, attendance rate
//! and the rating by month. Read-only, from the tables that own the facts.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use futures_util::TryFutureExt;
use lyceum_actors::Role;
use lyceum_protocol::{MentorshipId, OfferingId, UserId};
use serde_json::{json, Value};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::routes::reviews::rating_json;
use crate::state::AppState;

/// How many offerings each list shows.
const LISTED: i64 = 20;

fn offering_row(r: &tokio_postgres::Row) -> Value {
    json!({
        "id": r.get::<_, OfferingId>("id"),
        "kind": r.get::<_, String>("kind"),
        "title": r.get::<_, String>("title"),
        "startsAt": r.get::<_, DateTime<Utc>>("starts_at"),
        "endsAt": r.get::<_, DateTime<Utc>>("ends_at"),
        "state": r.get::<_, String>("state"),
        "capacity": r.get::<_, i32>("capacity"),
        "confirmed": r.get::<_, i64>("confirmed"),
        "attended": r.get::<_, i64>("attended"),
    })
}

/// `GET /api/me/dashboard`: mentors and admins (for their own offerings).
pub async fn dashboard(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    if user.role == Role::Mentee {
        return Err(ApiError::forbidden("the dashboard is a mentor's"));
    }
    let client = state.pool.get().await?;
    // Each list takes its 20 offerings off the mentor's (mentor, start)
    // index and counts the bookings of those 20 only.
    let list = |upcoming: bool| {
        format!(
            "SELECT o.id, o.kind, o.title, o.starts_at, o.ends_at, o.state, o.capacity, b.confirmed, b.attended
               FROM offerings o CROSS JOIN LATERAL (
                    SELECT count(*) FILTER (WHERE b.status = 'confirmed') AS confirmed,
                           count(*) FILTER (WHERE b.status = 'confirmed' AND b.attended_at IS NOT NULL) AS attended
                      FROM bookings b WHERE b.offering_id = o.id) b
              WHERE o.mentor_id = $1 AND o.state <> 'cancelled' AND {}
              ORDER BY o.starts_at {} LIMIT {LISTED}",
            // A session its mentor ended early is past, not upcoming.
            if upcoming {
                "o.ends_at > now() AND o.state <> 'completed'"
            } else {
                "(o.ends_at <= now() OR o.state = 'completed')"
            },
            if upcoming { "ASC" } else { "DESC" },
        )
    };
    let (upcoming_sql, past_sql) = (list(true), list(false));
    let mentor: &[&(dyn tokio_postgres::types::ToSql + Sync)] = &[&user.id];
    // Held: a past offering someone attended (or its mentor completed).
    // The queries go out together on the one connection (pipelined): the
    // dashboard waits for the slowest, not for the sum.
    let figures = client.query_one(
        "SELECT count(*) FILTER (WHERE held) AS held,
                coalesce(sum(extract(epoch FROM ends_at - starts_at)) FILTER (WHERE held), 0)::float8 / 3600 AS hours,
                coalesce(sum(confirmed), 0)::bigint AS confirmed, coalesce(sum(attended), 0)::bigint AS attended
           FROM (SELECT o.starts_at, o.ends_at, b.confirmed, b.attended,
                        (o.state = 'completed' OR b.any_attended) AS held
                   FROM offerings o CROSS JOIN LATERAL (
                        SELECT count(*) FILTER (WHERE b.status = 'confirmed') AS confirmed,
                               count(*) FILTER (WHERE b.status = 'confirmed' AND b.attended_at IS NOT NULL) AS attended,
                               count(*) FILTER (WHERE b.attended_at IS NOT NULL) > 0 AS any_attended
                          FROM bookings b WHERE b.offering_id = o.id) b
                  WHERE o.mentor_id = $1 AND o.state <> 'cancelled' AND (o.ends_at <= now() OR o.state = 'completed')) x",
        mentor,
    );
    let trend = client.query(
        "SELECT to_char(date_trunc('month', created_at AT TIME ZONE 'UTC'), 'YYYY-MM'), avg(rating)::float8, count(*)
           FROM reviews WHERE subject_id = $1 AND subject_role = 'mentor' AND created_at > now() - interval '12 months'
          GROUP BY 1 ORDER BY 1",
        mentor,
    );
    let requests = client.query(
        "SELECT m.id, m.mentee_id, u.display_name, m.start_date, m.end_date, m.goals, m.created_at
           FROM mentorships m JOIN users u ON u.id = m.mentee_id
          WHERE m.mentor_id = $1 AND m.status = 'pending' ORDER BY m.created_at LIMIT 50",
        mentor,
    );
    let (upcoming, past, f, trend, requests, rating) = futures_util::try_join!(
        client.query(&upcoming_sql, mentor).map_err(ApiError::from),
        client.query(&past_sql, mentor).map_err(ApiError::from),
        figures.map_err(ApiError::from),
        trend.map_err(ApiError::from),
        requests.map_err(ApiError::from),
        rating_json(&client, user.id),
    )?;
    let (confirmed, attended): (i64, i64) = (f.get("confirmed"), f.get("attended"));
    Ok(HttpResponse::Ok().json(json!({
        "upcoming": upcoming.iter().map(offering_row).collect::<Vec<_>>(),
        "past": past.iter().map(offering_row).collect::<Vec<_>>(),
        "figures": {
            "sessionsHeld": f.get::<_, i64>("held"),
            "hours": (f.get::<_, f64>("hours") * 100.0).round() / 100.0,
            "confirmedBookings": confirmed,
            "attendedBookings": attended,
            "attendanceRate": if confirmed > 0 { json!(((attended as f64 / confirmed as f64) * 1000.0).round() / 1000.0) } else { Value::Null },
        },
        "rating": rating,
        "ratingTrend": trend.iter().map(|r| json!({
            "month": r.get::<_, String>(0),
            "average": (r.get::<_, f64>(1) * 100.0).round() / 100.0,
            "count": r.get::<_, i64>(2),
        })).collect::<Vec<_>>(),
        "mentorshipRequests": requests.iter().map(|r| json!({
            "id": r.get::<_, MentorshipId>(0),
            "mentee": {"id": r.get::<_, UserId>(1), "displayName": r.get::<_, String>(2)},
            "startDate": r.get::<_, chrono::NaiveDate>(3),
            "endDate": r.get::<_, chrono::NaiveDate>(4),
            "goals": r.get::<_, String>(5),
            "createdAt": r.get::<_, DateTime<Utc>>(6),
        })).collect::<Vec<_>>(),
    })))
}
