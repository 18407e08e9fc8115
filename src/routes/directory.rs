//! `/api/mentors`: the mentor directory. Full-text search (Postgres
//! `websearch_to_tsquery`, ranked by `ts_rank`, over name, headline, skills, tags, employer and bio,
//! GIN-indexed), filters, three sort orders and keyset (cursor) pagination,
//! which stays fast and stable however deep a client pages.

use actix_web::{web, HttpResponse};
use base64::Engine;
use lyceum_protocol::ErrorCode;
use lyceum_protocol::UserId;
use serde::{Deserialize, Serialize};
use tokio_postgres::types::ToSql;

use crate::auth::AuthUser;
use crate::domain::profile::{normalise_term, Rating, Skill};
use crate::error::ApiError;
use crate::routes::paging::page_limit;
use crate::state::AppState;

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;
const MAX_QUERY_CHARS: usize = 200;
const MAX_FILTER_TERMS: usize = 10;

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    /// Best text match first; only meaningful with `q` (falls back to rating).
    Relevance,
    Rating,
    Experience,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DirectoryQuery {
    q: Option<String>,
    /// Comma-separated; a mentor must have every one.
    skill: Option<String>,
    /// Comma-separated; a mentor must have every one.
    tag: Option<String>,
    min_years: Option<i32>,
    min_rating: Option<f64>,
    /// Only mentors with an upcoming slot that still has a free seat
    /// (optionally starting within [availableFrom, availableTo)).
    available: Option<bool>,
    available_from: Option<chrono::DateTime<chrono::Utc>>,
    available_to: Option<chrono::DateTime<chrono::Utc>>,
    sort: Option<Sort>,
    cursor: Option<String>,
    limit: Option<i64>,
}

/// Where the previous page ended: the sort key and the id of its last row.
#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    s: Sort,
    k: f64,
    id: UserId,
}

impl Cursor {
    fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    fn decode(s: &str, sort: Sort) -> Result<Cursor, ApiError> {
        let bad = || {
            ApiError::new(
                ErrorCode::InvalidCursor,
                "the cursor is not one this endpoint returned for this sort",
            )
        };
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| bad())?;
        let c: Cursor = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        if c.s != sort || !c.k.is_finite() {
            return Err(bad());
        }
        Ok(c)
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    user_id: UserId,
    display_name: String,
    headline: String,
    skills: Vec<Skill>,
    tags: Vec<String>,
    years_of_experience: i32,
    rating: Rating,
    avatar_url: Option<String>,
    employer: Option<String>,
    is_alumni: bool,
    graduation_year: Option<i32>,
    time_zone: String,
    accepts_messages: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    items: Vec<Entry>,
    next_cursor: Option<String>,
}

fn terms(field: &str, raw: Option<String>) -> Result<Vec<String>, ApiError> {
    let v: Vec<String> = raw
        .unwrap_or_default()
        .split(',')
        .map(normalise_term)
        .filter(|t| !t.is_empty())
        .collect();
    if v.len() > MAX_FILTER_TERMS || v.iter().any(|t| t.chars().count() > 50) {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            format!("{field}: at most {MAX_FILTER_TERMS} terms of 50 characters"),
        ));
    }
    Ok(v)
}

pub async fn search(
    state: web::Data<AppState>,
    _viewer: AuthUser,
    query: web::Query<DirectoryQuery>,
) -> Result<HttpResponse, ApiError> {
    run(&state, query.into_inner()).await
}

/// The directory's answer for a query (`GET /api/mentors`, and the
/// directory page, which anyone may read).
pub async fn run(state: &AppState, q: DirectoryQuery) -> Result<HttpResponse, ApiError> {
    let text = q.q.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    if text.as_ref().is_some_and(|t| t.chars().count() > MAX_QUERY_CHARS) {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            format!("q: at most {MAX_QUERY_CHARS} characters"),
        ));
    }
    let skills = terms("skill", q.skill)?;
    let tags = terms("tag", q.tag)?;
    if q.min_years.is_some_and(|y| !(0..=80).contains(&y)) {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            "minYears must be between 0 and 80",
        ));
    }
    if q.min_rating.is_some_and(|r| !(0.0..=5.0).contains(&r)) {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            "minRating must be between 0 and 5",
        ));
    }
    let limit = page_limit(q.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let sort = match (q.sort, &text) {
        (Some(Sort::Relevance) | None, Some(_)) => Sort::Relevance,
        (Some(Sort::Relevance) | None, None) => Sort::Rating,
        (Some(s), _) => s,
    };
    let cursor = q.cursor.as_deref().map(|c| Cursor::decode(c, sort)).transpose()?;

    // Built from fixed fragments only; every value travels as a parameter.
    let mut params: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
    let next = |v: Box<dyn ToSql + Sync + Send>, params: &mut Vec<Box<dyn ToSql + Sync + Send>>| {
        params.push(v);
        format!("${}", params.len())
    };
    const COLUMNS: &str = "p.user_id, p.display_name, p.headline, p.skills, p.tags, p.years_experience,
                p.rating_avg, p.rating_count, p.avatar_url, p.employer, p.is_alumni,
                p.graduation_year, p.time_zone, p.accepts_messages";
    let rank = if let Some(t) = &text {
        let n = next(Box::new(t.clone()), &mut params);
        format!("ts_rank(p.search, websearch_to_tsquery('english', {n}))::float8")
    } else {
        "0::float8".to_owned()
    };
    let key_expr = match sort {
        Sort::Relevance => rank.clone(),
        Sort::Rating => "p.rating_avg".to_owned(),
        Sort::Experience => "p.years_experience".to_owned(),
    };
    // A search ranks every match, so it reads every matching row: it runs
    // on the narrow `directory_search` (only mentors, only what it filters,
    // ranks and sorts on; migration V8) and reads the page's rows from
    // `profiles` afterwards. The filter fragments below name either as `p`.
    let mut sql = if text.is_some() {
        format!("SELECT p.user_id, {rank} AS rank, {key_expr} AS key FROM directory_search p WHERE true")
    } else {
        format!("SELECT {COLUMNS}, {rank} AS rank FROM profiles p WHERE p.is_mentor")
    };
    if text.is_some() {
        // $1 is the text query.
        sql.push_str(" AND p.search @@ websearch_to_tsquery('english', $1)");
    }
    if !skills.is_empty() {
        let n = next(Box::new(skills), &mut params);
        sql.push_str(&format!(" AND p.skill_names @> {n}"));
    }
    if !tags.is_empty() {
        let n = next(Box::new(tags), &mut params);
        sql.push_str(&format!(" AND p.tags @> {n}"));
    }
    if let Some(y) = q.min_years {
        let n = next(Box::new(y), &mut params);
        sql.push_str(&format!(" AND p.years_experience >= {n}"));
    }
    if q.available == Some(true) || q.available_from.is_some() || q.available_to.is_some() {
        let from = next(
            Box::new(
                q.available_from
                    .unwrap_or_else(chrono::Utc::now)
                    .max(chrono::Utc::now()),
            ),
            &mut params,
        );
        let to = next(Box::new(q.available_to), &mut params);
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM offerings o WHERE o.mentor_id = p.user_id AND o.kind = 'slot'
                 AND o.state = 'scheduled' AND o.booked_count < o.capacity AND o.starts_at > {from}
                 AND ({to}::timestamptz IS NULL OR o.starts_at < {to}))"
        ));
    }
    if let Some(r) = q.min_rating {
        let n = next(Box::new(r), &mut params);
        sql.push_str(&format!(" AND p.rating_avg >= {n}"));
    }
    if let Some(c) = &cursor {
        let k = match sort {
            Sort::Experience => next(Box::new(c.k as i32), &mut params),
            _ => next(Box::new(c.k), &mut params),
        };
        let id = next(Box::new(c.id), &mut params);
        sql.push_str(&format!(" AND ({key_expr}, p.user_id) < ({k}, {id})"));
    }
    let lim = next(Box::new(limit + 1), &mut params);
    sql.push_str(&format!(" ORDER BY {key_expr} DESC, p.user_id DESC LIMIT {lim}"));
    if text.is_some() {
        sql = format!(
            "SELECT {COLUMNS}, d.rank FROM ({}) d JOIN profiles p ON p.user_id = d.user_id
              ORDER BY d.key DESC, d.user_id DESC",
            sql
        );
    }

    let client = state.pool.get().await?;
    let stmt = client.prepare_cached(&sql).await?;
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
    let rows = client.query(&stmt, &refs).await?;

    let has_more = rows.len() as i64 > limit;
    let mut items = Vec::with_capacity(limit as usize);
    let mut last: Option<Cursor> = None;
    for r in rows.iter().take(limit as usize) {
        let e = Entry {
            user_id: r.get("user_id"),
            display_name: r.get("display_name"),
            headline: r.get("headline"),
            skills: serde_json::from_value(r.get("skills")).unwrap_or_default(),
            tags: r.get("tags"),
            years_of_experience: r.get("years_experience"),
            rating: Rating {
                average: r.get("rating_avg"),
                count: r.get("rating_count"),
            },
            avatar_url: r.get("avatar_url"),
            employer: r.get("employer"),
            is_alumni: r.get("is_alumni"),
            graduation_year: r.get("graduation_year"),
            time_zone: r.get("time_zone"),
            accepts_messages: r.get("accepts_messages"),
        };
        let k = match sort {
            Sort::Relevance => r.get::<_, f64>("rank"),
            Sort::Rating => e.rating.average,
            Sort::Experience => f64::from(e.years_of_experience),
        };
        last = Some(Cursor {
            s: sort,
            k,
            id: e.user_id,
        });
        items.push(e);
    }
    let next_cursor = if has_more { last.map(|c| c.encode()) } else { None };
    Ok(HttpResponse::Ok().json(Page { items, next_cursor }))
}
