//! Mentor matching (seed 002, issue 17): a questionnaire (skills wanted
//! with a target level, goals in words and categories, preferred weekly
//! times in the mentee's zone) ranks mentors by an explainable score. The
//! database gathers each candidate's facts in two queries (profiles with
//! the goal words their search document contains; free slots in the next
//! 14 days); `score` turns one candidate's facts into points and sentences
//! with no I/O and no clock of its own (`now` is passed in), so the rules
//! are unit-tested here.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Datelike, NaiveTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use lyceum_protocol::{ErrorCode, UserId};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::auth::AuthUser;
use crate::domain::profile::SkillLevel;
use crate::error::ApiError;
use crate::routes::json::Json;
use crate::state::AppState;

/// The most candidates scored per request: those sharing a wanted skill
/// and a category, then either, each group best rated first. Bounds the work
/// per request whatever the directory's size.
const MAX_CANDIDATES: i64 = 500;
const MAX_SKILLS: usize = 20;
const MAX_CATEGORIES: usize = 20;
const MAX_TIMES: usize = 28;
const MAX_GOALS: usize = 2000;
/// Free slots counted toward the full availability points.
const SLOTS_FOR_FULL: usize = 3;
/// Years of experience counted toward the full experience points.
const YEARS_FOR_FULL: i32 = 20;
/// The window free slots are looked for in.
const HORIZON_DAYS: i64 = 14;

/// Each factor's weight: the points it gives at its best.
const W_SKILLS: f64 = 35.0;
const W_AVAILABILITY: f64 = 20.0;
const W_RATING: f64 = 15.0;
const W_EXPERIENCE: f64 = 10.0;
const W_TIME_ZONE: f64 = 10.0;
const W_GOALS: f64 = 10.0;

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidQuestionnaire, message)
}

fn level_index(l: SkillLevel) -> usize {
    match l {
        SkillLevel::Beginner => 0,
        SkillLevel::Intermediate => 1,
        SkillLevel::Advanced => 2,
        SkillLevel::Expert => 3,
    }
}

fn level_name(l: SkillLevel) -> &'static str {
    match l {
        SkillLevel::Beginner => "beginner",
        SkillLevel::Intermediate => "intermediate",
        SkillLevel::Advanced => "advanced",
        SkillLevel::Expert => "expert",
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WantedSkill {
    pub name: String,
    /// The level the mentee wants to reach.
    pub level: SkillLevel,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreferredTime {
    /// 1 = Monday … 7 = Sunday, in the mentee's zone.
    pub weekday: u32,
    pub start_time: String,
    pub end_time: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Questionnaire {
    #[serde(default)]
    pub skills: Vec<WantedSkill>,
    #[serde(default)]
    pub goals: Option<String>,
    /// Goal categories: matched against the mentors' tags.
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub preferred_times: Vec<PreferredTime>,
    pub time_zone: String,
    #[serde(default)]
    pub limit: Option<i64>,
}

/// A weekly window in the mentee's zone.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    weekday: u32,
    start: NaiveTime,
    end: NaiveTime,
}

/// The questionnaire, checked.
#[derive(Debug, Clone)]
pub struct Wanted {
    pub skills: Vec<(String, SkillLevel)>,
    pub categories: Vec<String>,
    pub windows: Vec<Window>,
    pub tz: Tz,
    /// Whether goals were given (the goal factor applies).
    pub goals: bool,
}

fn check(q: &Questionnaire) -> Result<(Wanted, i64), ApiError> {
    let limit = q.limit.unwrap_or(10);
    if !(1..=50).contains(&limit) {
        return Err(invalid("limit is 1 to 50"));
    }
    if q.skills.len() > MAX_SKILLS {
        return Err(invalid(format!("at most {MAX_SKILLS} skills")));
    }
    let mut skills = Vec::new();
    for s in &q.skills {
        let name = s.name.trim().to_lowercase();
        if name.is_empty() || name.chars().count() > 60 {
            return Err(invalid("a skill name has 1 to 60 characters"));
        }
        skills.push((name, s.level));
    }
    if q.categories.len() > MAX_CATEGORIES {
        return Err(invalid(format!("at most {MAX_CATEGORIES} categories")));
    }
    let mut categories = Vec::new();
    for c in &q.categories {
        let c = c.trim().to_lowercase();
        if c.is_empty() || c.chars().count() > 60 {
            return Err(invalid("a category has 1 to 60 characters"));
        }
        categories.push(c);
    }
    let goals = q.goals.as_deref().unwrap_or("").trim();
    if goals.chars().count() > MAX_GOALS {
        return Err(invalid(format!("goals have at most {MAX_GOALS} characters")));
    }
    let tz: Tz = q
        .time_zone
        .parse()
        .map_err(|_| invalid("timeZone must be an IANA time zone such as Europe/Berlin"))?;
    if q.preferred_times.len() > MAX_TIMES {
        return Err(invalid(format!("at most {MAX_TIMES} preferred times")));
    }
    let mut windows = Vec::new();
    for t in &q.preferred_times {
        let parse = |s: &str| {
            NaiveTime::parse_from_str(s, "%H:%M").map_err(|_| invalid("startTime and endTime look like HH:MM"))
        };
        let (start, end) = (parse(&t.start_time)?, parse(&t.end_time)?);
        if !(1..=7).contains(&t.weekday) || end <= start {
            return Err(invalid(
                "a preferred time has a weekday from 1 (Monday) to 7 and ends after it starts",
            ));
        }
        windows.push(Window {
            weekday: t.weekday,
            start,
            end,
        });
    }
    Ok((
        Wanted {
            skills,
            categories,
            windows,
            tz,
            goals: !goals.is_empty(),
        },
        limit,
    ))
}

/// A free slot: its start and end.
pub type Span = (DateTime<Utc>, DateTime<Utc>);

/// What the database knows about one candidate.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: UserId,
    pub display_name: String,
    pub headline: String,
    pub skills: Vec<(String, SkillLevel)>,
    pub tags: Vec<String>,
    pub years: i32,
    pub rating_avg: f64,
    pub rating_count: i32,
    pub time_zone: String,
    /// The mentee's goal words (as written) the mentor's profile contains,
    /// and how many distinct goal words there were.
    pub goal_words: Vec<String>,
    pub goal_total: usize,
    /// Free slots (start, end) in the next 14 days.
    pub free_slots: Vec<Span>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Factor {
    pub factor: &'static str,
    pub weight: f64,
    /// 0 to 1: how well this factor is met.
    pub value: f64,
    pub points: f64,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct Scored {
    pub score: f64,
    pub factors: Vec<Factor>,
    pub fitting_slots: usize,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn factor(factor: &'static str, weight: f64, value: f64, reason: String) -> Factor {
    let value = value.clamp(0.0, 1.0);
    Factor {
        factor,
        weight,
        value: round2(value),
        points: round2(weight * value),
        reason,
    }
}

/// Whether a slot falls inside one of the windows, in the mentee's zone
/// (any free slot fits when no window was given).
fn fits(w: &Wanted, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
    if w.windows.is_empty() {
        return true;
    }
    let (s, e) = (start.with_timezone(&w.tz), end.with_timezone(&w.tz));
    w.windows.iter().any(|win| {
        s.weekday().number_from_monday() == win.weekday
            && s.date_naive() == e.date_naive()
            && s.time() >= win.start
            && e.time() <= win.end
    })
}

/// Hours between the two zones' offsets from UTC at `now`.
fn hours_apart(a: Tz, b: Tz, now: DateTime<Utc>) -> f64 {
    let off = |tz: Tz| f64::from(tz.offset_from_utc_datetime(&now.naive_utc()).fix().local_minus_utc());
    ((off(a) - off(b)).abs() / 3600.0).min(24.0)
}

fn list(words: &[String]) -> String {
    words.join(", ")
}

/// One candidate's score out of 100 over the factors that apply (skills
/// only when skills were asked for, goals only when goals or categories
/// were given), each with its reason in words.
pub fn score(w: &Wanted, c: &Candidate, now: DateTime<Utc>) -> Scored {
    let mut factors = Vec::new();

    if !w.skills.is_empty() {
        // Each wanted skill counts by its target level (an expert target
        // weighs 4, a beginner 1); a mentor below the target earns a share.
        let (mut got, mut total) = (0.0, 0.0);
        let (mut met, mut below, mut missing) = (Vec::new(), Vec::new(), Vec::new());
        for (name, target) in &w.skills {
            let t = level_index(*target) as f64 + 1.0;
            total += t;
            match c.skills.iter().find(|(n, _)| n.to_lowercase() == *name) {
                Some((n, lvl)) => {
                    let m = level_index(*lvl) as f64 + 1.0;
                    got += t * (m / t).min(1.0);
                    if m >= t {
                        met.push(format!("{n} ({})", level_name(*lvl)));
                    } else {
                        below.push(format!("{n} ({}, you want {})", level_name(*lvl), level_name(*target)));
                    }
                }
                None => missing.push(name.clone()),
            }
        }
        let mut parts = Vec::new();
        if !met.is_empty() {
            parts.push(format!("knows {} at your target level or above", list(&met)));
        }
        if !below.is_empty() {
            parts.push(format!("knows {} below it", list(&below)));
        }
        if !missing.is_empty() {
            parts.push(format!("does not list {}", list(&missing)));
        }
        let reason = format!("Skills: {}.", parts.join("; "));
        factors.push(factor(
            "skills",
            W_SKILLS,
            if total > 0.0 { got / total } else { 0.0 },
            reason,
        ));
    }

    let fitting = c.free_slots.iter().filter(|(s, e)| fits(w, *s, *e)).count();
    let when = if w.windows.is_empty() {
        ""
    } else {
        " at your preferred times"
    };
    let reason = match fitting {
        0 => format!("No free slot in the next {HORIZON_DAYS} days{when}."),
        1 => format!("1 free slot in the next {HORIZON_DAYS} days{when}."),
        n => format!("{n} free slots in the next {HORIZON_DAYS} days{when}."),
    };
    factors.push(factor(
        "availability",
        W_AVAILABILITY,
        fitting.min(SLOTS_FOR_FULL) as f64 / SLOTS_FOR_FULL as f64,
        reason,
    ));

    // Few reviews say little: the average is pulled toward 3 stars by two
    // phantom reviews, so one 5-star review does not beat twenty 4.8s.
    let n = f64::from(c.rating_count);
    let shrunk = (c.rating_avg * n + 3.0 * 2.0) / (n + 2.0);
    let reason = if c.rating_count == 0 {
        "No reviews yet.".to_owned()
    } else {
        format!(
            "Rated {:.1} of 5 from {} review{}.",
            c.rating_avg,
            c.rating_count,
            if c.rating_count == 1 { "" } else { "s" }
        )
    };
    factors.push(factor("rating", W_RATING, (shrunk - 1.0) / 4.0, reason));

    factors.push(factor(
        "experience",
        W_EXPERIENCE,
        f64::from(c.years.clamp(0, YEARS_FOR_FULL)) / f64::from(YEARS_FOR_FULL),
        format!("{} years of experience.", c.years),
    ));

    let theirs: Tz = c.time_zone.parse().unwrap_or(Tz::UTC);
    let apart = hours_apart(w.tz, theirs, now);
    let reason = if apart < 0.5 {
        format!("Same time of day as you ({}).", c.time_zone)
    } else {
        format!("{apart:.0} hours from your time zone ({}).", c.time_zone)
    };
    factors.push(factor("timeZone", W_TIME_ZONE, 1.0 - apart.min(12.0) / 12.0, reason));

    if w.goals || !w.categories.is_empty() {
        let tags: Vec<String> = w
            .categories
            .iter()
            .filter(|cat| c.tags.iter().any(|t| t == *cat))
            .cloned()
            .collect();
        let total = c.goal_total + w.categories.len();
        let hit = c.goal_words.len() + tags.len();
        let mut parts = Vec::new();
        if !c.goal_words.is_empty() {
            parts.push(format!("their profile mentions {}", list(&c.goal_words)));
        }
        if !tags.is_empty() {
            parts.push(format!("they mentor in {}", list(&tags)));
        }
        let reason = if parts.is_empty() {
            "Goals: nothing in their profile matches your goals.".to_owned()
        } else {
            format!("Goals: {}.", parts.join("; "))
        };
        let value = if total == 0 { 0.0 } else { hit as f64 / total as f64 };
        factors.push(factor("goals", W_GOALS, value, reason));
    }

    let weight: f64 = factors.iter().map(|f| f.weight).sum();
    let points: f64 = factors.iter().map(|f| f.weight * f.value).sum();
    Scored {
        score: if weight > 0.0 {
            round2(100.0 * points / weight)
        } else {
            0.0
        },
        factors,
        fitting_slots: fitting,
    }
}

/// `POST /api/matching`: the best `limit` mentors for the questionnaire.
pub async fn matching(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<Questionnaire>,
) -> Result<HttpResponse, ApiError> {
    let q = body.into_inner();
    let (wanted, limit) = check(&q)?;
    let goals = q.goals.unwrap_or_default();
    let now = Utc::now();
    let client = state.pool.get().await?;

    // The goal words as written, each with its English stems (a word may
    // have none: a stop word), so a reason can quote the mentee's words.
    let stems = client
        .query(
            "SELECT w, tsvector_to_array(to_tsvector('english', w))
               FROM (SELECT DISTINCT lower(w) AS w FROM regexp_split_to_table($1, '[^[:alnum:]]+') w WHERE w <> '') x
              LIMIT 200",
            &[&goals],
        )
        .await?;
    let words: Vec<(String, Vec<String>)> = stems
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, Vec<String>>(1)))
        .filter(|(_, s)| !s.is_empty())
        .collect();
    let all_stems: Vec<String> = words.iter().flat_map(|(_, s)| s.clone()).collect();
    let skill_names: Vec<String> = wanted.skills.iter().map(|(n, _)| n.clone()).collect();

    // Candidates: every mentor but the caller; those sharing a wanted skill
    // and a category, then either, then the rest, each best rated first,
    // the first MAX_CANDIDATES of them. Each group is read on its own from
    // the narrow directory copy, a group only while candidates are still
    // wanted (the first two through its skill and tag indexes, the rest
    // down its rating index, V12), so a request reads a few hundred to a
    // few thousand rows, not every mentor; only the chosen rows are joined
    // to their profiles. The chosen rows carry their search
    // document, and the goal stems are made into one-word queries once,
    // each a lookup in a document (docs/benchmarks.md "Matching").
    let tiers = [
        "d.skill_names && $3::text[] AND d.tags && $4::text[]",
        "(d.skill_names && $3::text[] OR d.tags && $4::text[]) AND NOT (d.skill_names && $3::text[] AND d.tags && $4::text[])",
        "NOT d.skill_names && $3::text[] AND NOT d.tags && $4::text[]",
    ];
    let mut rows = Vec::new();
    for tier in tiers {
        let left = MAX_CANDIDATES - rows.len() as i64;
        if left == 0 {
            break;
        }
        rows.extend(
            client
                .query(
                    &format!(
                        "WITH c AS (
                           SELECT d.user_id, d.search FROM directory_search d
                            WHERE d.user_id <> $1 AND {tier}
                            ORDER BY d.rating_avg DESC, d.user_id LIMIT $5),
                         q AS MATERIALIZED (SELECT DISTINCT s, quote_literal(s)::tsquery AS tq FROM unnest($2::text[]) s)
                         SELECT p.user_id, p.display_name, p.headline, p.skills, p.tags, p.years_experience,
                                p.rating_avg, p.rating_count, p.time_zone,
                                ARRAY(SELECT q.s FROM q WHERE c.search @@ q.tq) AS hits
                           FROM c JOIN profiles p ON p.user_id = c.user_id"
                    ),
                    &[&user.id, &all_stems, &skill_names, &wanted.categories, &left],
                )
                .await?,
        );
    }
    let ids: Vec<UserId> = rows.iter().map(|r| r.get(0)).collect();
    let slots = client
        .query(
            "SELECT mentor_id, starts_at, ends_at FROM offerings
              WHERE kind = 'slot' AND state = 'scheduled' AND booked_count < capacity
                AND mentor_id = ANY($1) AND starts_at >= $2 AND starts_at < $2 + make_interval(days => $3)",
            &[&ids, &now, &(HORIZON_DAYS as i32)],
        )
        .await?;
    let mut free: HashMap<UserId, Vec<Span>> = HashMap::new();
    for s in &slots {
        free.entry(s.get(0)).or_default().push((s.get(1), s.get(2)));
    }

    let mut scored: Vec<(Scored, Candidate)> = rows
        .iter()
        .map(|r| {
            let id: UserId = r.get(0);
            let skills: Vec<crate::domain::profile::Skill> =
                serde_json::from_value(r.get::<_, Value>(3)).unwrap_or_default();
            let hits: Vec<String> = r.get(9);
            let c = Candidate {
                id,
                display_name: r.get(1),
                headline: r.get(2),
                skills: skills.into_iter().map(|s| (s.name, s.level)).collect(),
                tags: r.get(4),
                years: r.get(5),
                rating_avg: r.get(6),
                rating_count: r.get(7),
                time_zone: r.get(8),
                goal_words: words
                    .iter()
                    .filter(|(_, st)| st.iter().any(|s| hits.contains(s)))
                    .map(|(w, _)| w.clone())
                    .collect(),
                goal_total: words.len(),
                free_slots: free.remove(&id).unwrap_or_default(),
            };
            (score(&wanted, &c, now), c)
        })
        .collect();
    scored.sort_by(|(a, ca), (b, cb)| b.score.total_cmp(&a.score).then(ca.id.cmp(&cb.id)));
    let items: Vec<Value> = scored
        .into_iter()
        .take(limit as usize)
        .map(|(s, c)| {
            let mut reasons: Vec<&Factor> = s.factors.iter().collect();
            reasons.sort_by(|a, b| b.points.total_cmp(&a.points));
            json!({
                "mentor": {
                    "userId": c.id, "displayName": c.display_name, "headline": c.headline,
                    "yearsOfExperience": c.years, "timeZone": c.time_zone,
                    "rating": {"average": round2(c.rating_avg), "count": c.rating_count},
                },
                "score": s.score,
                "freeSlots": s.fitting_slots,
                "reasons": reasons.iter().map(|f| f.reason.clone()).collect::<Vec<_>>(),
                "factors": s.factors,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn wanted(skills: &[(&str, SkillLevel)], tz: &str) -> Wanted {
        Wanted {
            skills: skills.iter().map(|(n, l)| (n.to_string(), *l)).collect(),
            categories: vec![],
            windows: vec![],
            tz: tz.parse().unwrap(),
            goals: false,
        }
    }

    fn candidate(skills: &[(&str, SkillLevel)]) -> Candidate {
        Candidate {
            id: UserId(uuid::Uuid::nil()),
            display_name: "M".into(),
            headline: String::new(),
            skills: skills.iter().map(|(n, l)| (n.to_string(), *l)).collect(),
            tags: vec![],
            years: 10,
            rating_avg: 0.0,
            rating_count: 0,
            time_zone: "UTC".into(),
            goal_words: vec![],
            goal_total: 0,
            free_slots: vec![],
        }
    }

    fn f<'a>(s: &'a Scored, name: &str) -> &'a Factor {
        s.factors.iter().find(|x| x.factor == name).unwrap()
    }

    #[test]
    fn skills_count_by_target_level_and_a_lower_level_earns_a_share() {
        use SkillLevel::*;
        let w = wanted(&[("rust", Expert), ("sql", Beginner)], "UTC");
        let now = Utc::now();
        let all = score(&w, &candidate(&[("Rust", Expert), ("SQL", Advanced)]), now);
        assert_eq!(f(&all, "skills").value, 1.0);
        let half = score(&w, &candidate(&[("Rust", Intermediate)]), now);
        // Rust: 4 * (2/4) = 2 of 5 weight points; SQL missing.
        assert_eq!(f(&half, "skills").value, 0.4);
        assert!(
            f(&half, "skills").reason.contains("does not list sql"),
            "{:?}",
            f(&half, "skills")
        );
        assert!(f(&half, "skills")
            .reason
            .contains("Rust (intermediate, you want expert)"));
        assert!(all.score > half.score);
    }

    #[test]
    fn factors_not_asked_for_do_not_count() {
        let w = wanted(&[], "UTC");
        let s = score(&w, &candidate(&[]), Utc::now());
        assert!(s.factors.iter().all(|x| x.factor != "skills" && x.factor != "goals"));
        let weight: f64 = s.factors.iter().map(|x| x.weight).sum();
        assert_eq!(weight, W_AVAILABILITY + W_RATING + W_EXPERIENCE + W_TIME_ZONE);
    }

    #[test]
    fn slots_fit_the_preferred_times_in_the_mentees_zone() {
        let mut w = wanted(&[], "Asia/Kolkata");
        // Monday evenings 18:00-21:00 in Kolkata (12:30-15:30 UTC).
        w.windows.push(Window {
            weekday: 1,
            start: NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(21, 0, 0).unwrap(),
        });
        let monday = Utc.with_ymd_and_hms(2026, 12, 7, 13, 0, 0).unwrap();
        let mut c = candidate(&[]);
        c.free_slots = vec![
            (monday, monday + Duration::hours(1)),
            // 09:00 UTC is 14:30 in Kolkata: outside the window.
            (monday - Duration::hours(4), monday - Duration::hours(3)),
        ];
        let s = score(&w, &c, monday - Duration::days(2));
        assert_eq!(s.fitting_slots, 1);
        assert!(f(&s, "availability").reason.contains("1 free slot"));
        assert!(f(&s, "availability").reason.contains("preferred times"));
    }

    #[test]
    fn time_zone_distance_and_rating_shrinkage() {
        let now = Utc.with_ymd_and_hms(2026, 1, 15, 12, 0, 0).unwrap();
        let w = wanted(&[], "Europe/Berlin");
        let mut c = candidate(&[]);
        c.time_zone = "America/New_York".into();
        let s = score(&w, &c, now);
        assert_eq!(f(&s, "timeZone").value, 0.5, "6 hours apart in January");
        assert!(f(&s, "timeZone").reason.starts_with("6 hours"));
        let mut one = candidate(&[]);
        (one.rating_avg, one.rating_count) = (5.0, 1);
        let mut many = candidate(&[]);
        (many.rating_avg, many.rating_count) = (4.8, 20);
        assert!(f(&score(&w, &many, now), "rating").value > f(&score(&w, &one, now), "rating").value);
    }
}
