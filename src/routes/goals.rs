//! Goals (seed 002, issue 17): a mentee's goal with milestones and a due
//! date, progress updates over time by its owner, and feedback from the
//! mentors the owner has an accepted mentorship with, who alone (with the
//! owner) see it.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use lyceum_actors::Role;
use lyceum_protocol::{ErrorCode, GoalId, UserId};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::routes::json::Json;
use crate::state::AppState;

const MAX_TITLE: usize = 200;
const MAX_TEXT: usize = 4000;
const MAX_MILESTONES: usize = 20;

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidGoal, message)
}

fn not_found() -> ApiError {
    ApiError::new(ErrorCode::GoalNotFound, "no such goal you can see")
}

fn bounded(t: &str, what: &str, min: usize, max: usize) -> Result<String, ApiError> {
    let t = t.trim();
    let n = t.chars().count();
    if n < min || n > max {
        return Err(invalid(format!("{what} has {min} to {max} characters")));
    }
    Ok(t.to_owned())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Milestone {
    title: String,
    #[serde(default)]
    due_date: Option<NaiveDate>,
    #[serde(default)]
    done: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewGoal {
    title: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    due_date: Option<NaiveDate>,
    #[serde(default)]
    milestones: Vec<Milestone>,
}

/// Whether `viewer` is a mentor with an accepted mentorship with `owner`.
async fn mentors(
    client: &impl deadpool_postgres::GenericClient,
    viewer: UserId,
    owner: UserId,
) -> Result<bool, ApiError> {
    Ok(client
        .query_opt(
            "SELECT 1 FROM mentorships WHERE mentor_id = $1 AND mentee_id = $2 AND status = 'accepted'",
            &[&viewer, &owner],
        )
        .await?
        .is_some())
}

async fn goal_json(client: &impl deadpool_postgres::GenericClient, r: &tokio_postgres::Row) -> Result<Value, ApiError> {
    let id: GoalId = r.get("id");
    let updates = client
        .query(
            "SELECT g.id, g.kind, g.author_id, u.display_name, g.percent, g.body, g.created_at
               FROM goal_updates g JOIN users u ON u.id = g.author_id WHERE g.goal_id = $1 ORDER BY g.created_at, g.id",
            &[&id],
        )
        .await?;
    let updates: Vec<Value> = updates
        .iter()
        .map(|u| {
            json!({
                "id": u.get::<_, Uuid>(0), "kind": u.get::<_, String>(1),
                "author": {"id": u.get::<_, UserId>(2), "displayName": u.get::<_, String>(3)},
                "percent": u.get::<_, Option<i16>>(4), "text": u.get::<_, String>(5),
                "createdAt": u.get::<_, DateTime<Utc>>(6),
            })
        })
        .collect();
    Ok(json!({
        "id": id,
        "ownerId": r.get::<_, UserId>("owner_id"),
        "title": r.get::<_, String>("title"),
        "description": r.get::<_, String>("description"),
        "dueDate": r.get::<_, Option<NaiveDate>>("due_date"),
        "milestones": r.get::<_, Value>("milestones"),
        "progress": r.get::<_, i16>("progress"),
        "createdAt": r.get::<_, DateTime<Utc>>("created_at"),
        "updates": updates,
    }))
}

const COLUMNS: &str = "id, owner_id, title, description, due_date, milestones, progress, created_at";

/// The goal if `user` may see it (its owner, or a mentor of an accepted
/// mentorship with the owner); `goal_not_found` otherwise.
async fn visible(
    client: &impl deadpool_postgres::GenericClient,
    user: UserId,
    id: GoalId,
) -> Result<tokio_postgres::Row, ApiError> {
    let r = client
        .query_opt(&format!("SELECT {COLUMNS} FROM goals WHERE id = $1"), &[&id])
        .await?
        .ok_or_else(not_found)?;
    let owner: UserId = r.get("owner_id");
    if owner == user || mentors(client, user, owner).await? {
        Ok(r)
    } else {
        Err(not_found())
    }
}

/// `POST /api/goals`: a mentee sets a goal.
pub async fn create(state: web::Data<AppState>, user: AuthUser, body: Json<NewGoal>) -> Result<HttpResponse, ApiError> {
    if user.role != Role::Mentee {
        return Err(ApiError::forbidden("goals are a mentee's"));
    }
    let b = body.into_inner();
    let title = bounded(&b.title, "a title", 1, MAX_TITLE)?;
    let description = bounded(b.description.as_deref().unwrap_or(""), "a description", 0, MAX_TEXT)?;
    if b.milestones.len() > MAX_MILESTONES {
        return Err(invalid(format!("at most {MAX_MILESTONES} milestones")));
    }
    let mut milestones = Vec::new();
    for m in &b.milestones {
        milestones.push(json!({
            "title": bounded(&m.title, "a milestone", 1, MAX_TITLE)?,
            "dueDate": m.due_date, "done": m.done,
        }));
    }
    let id = GoalId::new_random();
    let client = state.pool.get().await?;
    let r = client
        .query_one(
            &format!(
                "INSERT INTO goals (id, owner_id, title, description, due_date, milestones)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
            ),
            &[
                &id,
                &user.id,
                &title,
                &description,
                &b.due_date,
                &Value::Array(milestones),
            ],
        )
        .await?;
    Ok(HttpResponse::Created().json(goal_json(&client, &r).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    user_id: Option<UserId>,
}

/// `GET /api/goals?userId=`: the caller's goals, or a mentee's for a mentor
/// of an accepted mentorship with them; newest first.
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let owner = q.user_id.unwrap_or(user.id);
    let client = state.pool.get().await?;
    if owner != user.id && !mentors(&client, user.id, owner).await? {
        return Err(ApiError::forbidden(
            "only their mentors (an accepted mentorship) see a mentee's goals",
        ));
    }
    let rows = client
        .query(
            &format!("SELECT {COLUMNS} FROM goals WHERE owner_id = $1 ORDER BY created_at DESC, id DESC LIMIT 100"),
            &[&owner],
        )
        .await?;
    let mut items = Vec::new();
    for r in &rows {
        items.push(goal_json(&client, r).await?);
    }
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

/// `GET /api/goals/{id}`.
pub async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<GoalId>,
) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await?;
    let r = visible(&client, user.id, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(goal_json(&client, &r).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateBody {
    #[serde(default)]
    percent: Option<i64>,
    #[serde(default)]
    text: Option<String>,
}

/// `POST /api/goals/{id}/progress` (its owner, with a percent) and
/// `POST /api/goals/{id}/feedback` (its owner's mentors, with text).
pub async fn update(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(GoalId, String)>,
    body: Json<UpdateBody>,
) -> Result<HttpResponse, ApiError> {
    let (id, kind) = path.into_inner();
    if kind != "progress" && kind != "feedback" {
        return Err(ApiError::new(ErrorCode::NotFound, "no such action"));
    }
    let b = body.into_inner();
    let client = state.pool.get().await?;
    let r = visible(&client, user.id, id).await?;
    let owner: UserId = r.get("owner_id");
    let (percent, text) = if kind == "progress" {
        if owner != user.id {
            return Err(ApiError::forbidden("only its owner records progress"));
        }
        let p = b
            .percent
            .and_then(|p| i16::try_from(p).ok())
            .filter(|p| (0..=100).contains(p))
            .ok_or_else(|| invalid("progress is a percent from 0 to 100"))?;
        (
            Some(p),
            bounded(b.text.as_deref().unwrap_or(""), "a note", 0, MAX_TEXT)?,
        )
    } else {
        if owner == user.id {
            return Err(ApiError::forbidden("feedback on a goal comes from its owner's mentors"));
        }
        if b.percent.is_some() {
            return Err(invalid("feedback has text, not a percent"));
        }
        (None, bounded(b.text.as_deref().unwrap_or(""), "feedback", 1, MAX_TEXT)?)
    };
    client
        .execute(
            "INSERT INTO goal_updates (id, goal_id, kind, author_id, percent, body) VALUES ($1, $2, $3, $4, $5, $6)",
            &[&Uuid::new_v4(), &id, &kind, &user.id, &percent, &text],
        )
        .await?;
    if let Some(p) = percent {
        client
            .execute("UPDATE goals SET progress = $2 WHERE id = $1", &[&id, &p])
            .await?;
    }
    let r = visible(&client, user.id, id).await?;
    Ok(HttpResponse::Created().json(goal_json(&client, &r).await?))
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The chart's size and inner margin, in SVG user units.
const CHART_W: f64 = 480.0;
const CHART_H: f64 = 200.0;
const CHART_PAD: f64 = 32.0;

/// Progress over time as an SVG line chart: (when, percent) from the goal's
/// creation (0 %) through each progress update, on a time axis ending at the
/// later of now and the due date.
pub fn progress_svg(
    title: &str,
    created: DateTime<Utc>,
    due: Option<DateTime<Utc>>,
    points: &[(DateTime<Utc>, i16)],
    now: DateTime<Utc>,
) -> String {
    let end = due
        .map_or(now, |d| d.max(now))
        .max(created + chrono::Duration::hours(1));
    let span = (end - created).num_seconds().max(1) as f64;
    let x = |t: DateTime<Utc>| CHART_PAD + (CHART_W - 2.0 * CHART_PAD) * ((t - created).num_seconds() as f64 / span);
    let y = |p: i16| CHART_H - CHART_PAD - (CHART_H - 2.0 * CHART_PAD) * f64::from(p) / 100.0;
    let mut line = vec![format!("{:.1},{:.1}", x(created), y(0))];
    line.extend(points.iter().map(|(t, p)| format!("{:.1},{:.1}", x(*t), y(*p))));
    let last = points.last().map_or(0, |(_, p)| *p);
    let label = xml_escape(&format!("Progress of {title}: {last} % now"));
    let dots: String = points
        .iter()
        .map(|(t, p)| format!(r#"<circle cx="{:.1}" cy="{:.1}" r="3"/>"#, x(*t), y(*p)))
        .collect();
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{label}"><title>{label}</title><rect width="{w}" height="{h}" fill="#fff"/><line x1="{p}" y1="{b}" x2="{r}" y2="{b}" stroke="#555"/><line x1="{p}" y1="{p}" x2="{p}" y2="{b}" stroke="#555"/><text x="4" y="{t}" font-size="10">100 %</text><text x="10" y="{b}" font-size="10">0 %</text><text x="{p}" y="{d}" font-size="10">{from}</text><text x="{r}" y="{d}" font-size="10" text-anchor="end">{to}</text><polyline fill="none" stroke="#1a5fb4" stroke-width="2" points="{line}"/><g fill="#1a5fb4">{dots}</g></svg>"##,
        w = CHART_W,
        h = CHART_H,
        p = CHART_PAD,
        r = CHART_W - CHART_PAD,
        b = CHART_H - CHART_PAD,
        t = CHART_PAD + 4.0,
        d = CHART_H - CHART_PAD + 14.0,
        from = created.date_naive(),
        to = end.date_naive(),
        line = line.join(" "),
    )
}

/// `GET /api/goals/{id}/chart.svg`: the goal's progress over time, for
/// whoever may see the goal.
pub async fn chart(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(GoalId, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, file) = path.into_inner();
    if file != "chart.svg" {
        return Err(ApiError::new(ErrorCode::NotFound, "no such file"));
    }
    let client = state.pool.get().await?;
    let r = visible(&client, user.id, id).await?;
    let rows = client
        .query(
            "SELECT created_at, percent FROM goal_updates WHERE goal_id = $1 AND kind = 'progress' ORDER BY created_at, id",
            &[&id],
        )
        .await?;
    let points: Vec<(DateTime<Utc>, i16)> = rows.iter().map(|p| (p.get(0), p.get(1))).collect();
    let due = r
        .get::<_, Option<NaiveDate>>("due_date")
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc());
    let svg = progress_svg(
        &r.get::<_, String>("title"),
        r.get("created_at"),
        due,
        &points,
        Utc::now(),
    );
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; sandbox",
        ))
        .body(svg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_chart_draws_each_update_and_escapes_the_title() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let pts = [
            (t0 + chrono::Duration::days(5), 40),
            (t0 + chrono::Duration::days(10), 100),
        ];
        let svg = progress_svg("<b>&", t0, None, &pts, t0 + chrono::Duration::days(10));
        assert!(svg.contains("Progress of &lt;b&gt;&amp;: 100 % now"));
        assert!(!svg.contains("<b>"));
        // From (32, 168) at 0 % to the right edge at 100 % (y = 32).
        assert!(svg.contains(r#"points="32.0,168.0 240.0,113.6 448.0,32.0""#), "{svg}");
        assert_eq!(svg.matches("<circle").count(), 2);
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Assessment {
    skill: String,
    level: crate::domain::profile::SkillLevel,
    #[serde(default)]
    note: Option<String>,
}

/// The skills of `owner` with their history, oldest assessment first.
async fn skills_json(client: &impl deadpool_postgres::GenericClient, owner: UserId) -> Result<Value, ApiError> {
    let rows = client
        .query(
            "SELECT skill, level, note, assessed_at FROM skill_assessments WHERE user_id = $1
              ORDER BY skill, assessed_at, id",
            &[&owner],
        )
        .await?;
    let mut items: Vec<Value> = Vec::new();
    for r in &rows {
        let skill: String = r.get(0);
        let entry = json!({"level": r.get::<_, String>(1), "note": r.get::<_, String>(2),
                           "assessedAt": r.get::<_, DateTime<Utc>>(3)});
        match items.last_mut() {
            Some(last) if last["skill"] == json!(skill) => {
                last["current"] = entry["level"].clone();
                if let Some(h) = last["history"].as_array_mut() {
                    h.push(entry);
                }
            }
            _ => items.push(json!({"skill": skill, "current": entry["level"].clone(), "history": [entry]})),
        }
    }
    Ok(json!({"userId": owner, "items": items}))
}

/// `POST /api/me/skills`: a mentee assesses one skill; earlier assessments stay.
pub async fn assess(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<Assessment>,
) -> Result<HttpResponse, ApiError> {
    if user.role != Role::Mentee {
        return Err(ApiError::forbidden("self-assessments are a mentee's"));
    }
    let b = body.into_inner();
    let skill = bounded(&b.skill, "a skill", 1, 60)?.to_lowercase();
    let note = bounded(b.note.as_deref().unwrap_or(""), "a note", 0, MAX_TEXT)?;
    let level = serde_json::to_value(b.level)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let client = state.pool.get().await?;
    client
        .execute(
            "INSERT INTO skill_assessments (id, user_id, skill, level, note) VALUES ($1, $2, $3, $4, $5)",
            &[&Uuid::new_v4(), &user.id, &skill, &level, &note],
        )
        .await?;
    Ok(HttpResponse::Created().json(skills_json(&client, user.id).await?))
}

/// `GET /api/users/{id}/skills`: the self-assessments over time, for the
/// user and their mentors of an accepted mentorship.
pub async fn skills_of(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    let owner = path.into_inner();
    let client = state.pool.get().await?;
    if owner != user.id && !mentors(&client, user.id, owner).await? {
        return Err(ApiError::forbidden(
            "only the mentee and their mentors (an accepted mentorship) see self-assessments",
        ));
    }
    Ok(HttpResponse::Ok().json(skills_json(&client, owner).await?))
}
