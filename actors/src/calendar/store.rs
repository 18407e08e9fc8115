//! Calendar persistence: offerings (slots and group sessions), bookings with
//! waitlists, and the reminders they schedule. A batch of operations runs in
//! one transaction with a savepoint per operation, so one refused booking
//! does not undo the others and the batch costs one commit.
//!
//! Postgres has the final word on seats: `booked_count` is only changed under
//! the offering's row lock and a CHECK keeps it within capacity; a unique
//! index allows one active booking per mentee and offering; an exclusion
//! constraint keeps a mentor's offerings from overlapping.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use deadpool_postgres::{GenericClient, Pool, Transaction};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::core::seams::{AfterCommit, BookingChange, BookingEvent, BookingNotices};
use crate::core::Error;
use lyceum_protocol::{ErrorCode, UserId};

/// Reminders go out this long before an offering starts (seeds 001, 002),
/// longest lead first.
pub const REMINDERS: [(&str, i64); 2] = [("24h", 24 * 60), ("15m", 15)];

/// A new offering, validated by the HTTP side.
#[derive(Debug, Clone)]
pub struct NewOffering {
    pub kind: &'static str,
    pub title: String,
    pub description: String,
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub capacity: i32,
    pub price_credits: i32,
    pub time_zone: String,
    pub recurrence_id: Option<Uuid>,
}

#[derive(Debug, Clone)]
pub enum Op {
    /// Create one or more offerings, all or none (recurring availability).
    Create(Vec<NewOffering>),
    /// Book a seat, or join the waitlist when full.
    Book {
        offering: Uuid,
        mentee: UserId,
        agenda: Option<Value>,
    },
    /// Cancel the mentee's booking; a freed seat goes to the first in line.
    Cancel { offering: Uuid, mentee: UserId },
    /// Cancel an offering and every booking on it (DELETE /slots/{id}).
    Delete { offering: Uuid },
    /// scheduled → live → completed, or → cancelled.
    SetState { offering: Uuid, state: &'static str },
}

impl Op {
    pub fn offering(&self) -> Option<Uuid> {
        match self {
            Op::Create(_) => None,
            Op::Book { offering, .. }
            | Op::Cancel { offering, .. }
            | Op::Delete { offering }
            | Op::SetState { offering, .. } => Some(*offering),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Outcome {
    Created {
        ids: Vec<Uuid>,
    },
    Booked {
        booking: Uuid,
        status: &'static str,
        position: Option<i64>,
        full: bool,
    },
    Cancelled {
        booking: Uuid,
        /// It held a seat (not only a waitlist place).
        confirmed: bool,
        /// The first in line, given the freed seat: (mentee, booking).
        promoted: Option<(UserId, Uuid)>,
    },
    Deleted {
        /// (mentee, booking) of every booking it cancelled.
        cancelled_bookings: Vec<(UserId, Uuid)>,
    },
    StateSet {
        cancelled_bookings: Vec<(UserId, Uuid)>,
    },
}

fn closed(why: &str) -> Error {
    Error::new(ErrorCode::BookingClosed, why.to_owned())
}

#[derive(Clone)]
struct Locked {
    mentor: Uuid,
    state: String,
    starts_at: DateTime<Utc>,
    capacity: i32,
    booked: i32,
    title: String,
}

/// What a batch already knows: offerings it has locked (the lock holds
/// until the commit, so their state is only changed by this batch), and
/// waitlist lengths. Saves a query per booking in a storm.
#[derive(Default)]
struct BatchCache {
    locked: HashMap<Uuid, Locked>,
    waitlisted: HashMap<Uuid, i64>,
}

async fn lock(tx: &Transaction<'_>, cache: &mut BatchCache, offering: Uuid, mentor: UserId) -> Result<Locked, Error> {
    if let Some(l) = cache.locked.get(&offering) {
        return Ok(l.clone());
    }
    let l = lock_row(tx, offering, mentor).await?;
    cache.locked.insert(offering, l.clone());
    Ok(l)
}

async fn lock_row(tx: &Transaction<'_>, offering: Uuid, mentor: UserId) -> Result<Locked, Error> {
    let r = tx
        .query_opt(
            "SELECT mentor_id, state, starts_at, capacity, booked_count, title FROM offerings WHERE id = $1 FOR UPDATE",
            &[&offering],
        )
        .await?
        .ok_or_else(|| Error::new(ErrorCode::OfferingNotFound, "no such slot or session"))?;
    let l = Locked {
        mentor: r.get(0),
        state: r.get(1),
        starts_at: r.get(2),
        capacity: r.get(3),
        booked: r.get(4),
        title: r.get(5),
    };
    if l.mentor != mentor.0 {
        // The actor of another mentor was asked: treat as unknown.
        return Err(Error::new(ErrorCode::OfferingNotFound, "no such slot or session"));
    }
    Ok(l)
}

/// Queues the reminders of one participant; idempotent by dedupe key.
pub async fn schedule_reminders(
    tx: &impl GenericClient,
    user: Uuid,
    offering: Uuid,
    booking: Option<Uuid>,
    starts_at: DateTime<Utc>,
    title: &str,
    now: DateTime<Utc>,
) -> Result<(), tokio_postgres::Error> {
    for (i, (label, minutes)) in REMINDERS.into_iter().enumerate() {
        let mut due = starts_at - Duration::minutes(minutes);
        if due <= now {
            // Booked inside a reminder's window: earlier reminders are moot,
            // but the last one still goes out, at once, if the start is ahead.
            if i + 1 == REMINDERS.len() && starts_at > now {
                due = now;
            } else {
                continue;
            }
        }
        let key = match booking {
            Some(b) => format!("reminder:{b}:{label}"),
            None => format!("reminder:{offering}:host:{label}"),
        };
        let payload = json!({"offeringId": offering, "bookingId": booking, "startsAt": starts_at, "title": title, "before": label});
        tx.execute(
            "INSERT INTO outbox (kind, dedupe_key, user_id, payload, due_at) VALUES ('reminder', $1, $2, $3, $4)
             ON CONFLICT (dedupe_key) DO NOTHING",
            &[&key, &user, &payload, &due],
        )
        .await?;
    }
    Ok(())
}

async fn confirm_effects(
    tx: &Transaction<'_>,
    offering: Uuid,
    l: &Locked,
    mentee: Uuid,
    booking: Uuid,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    schedule_reminders(tx, mentee, offering, Some(booking), l.starts_at, &l.title, now).await?;
    Ok(())
}

async fn apply(
    tx: &Transaction<'_>,
    cache: &mut BatchCache,
    mentor: UserId,
    op: &Op,
    now: DateTime<Utc>,
) -> Result<Outcome, Error> {
    match op {
        Op::Create(list) => {
            let mut ids = Vec::with_capacity(list.len());
            for o in list {
                let id = Uuid::new_v4();
                let r = tx
                    .execute(
                        "INSERT INTO offerings (id, mentor_id, kind, title, description, category, tags, starts_at, ends_at,
                                                capacity, price_credits, time_zone, recurrence_id)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                        &[&id, &mentor.0, &o.kind, &o.title, &o.description, &o.category, &o.tags, &o.starts_at, &o.ends_at,
                          &o.capacity, &o.price_credits, &o.time_zone, &o.recurrence_id],
                    )
                    .await;
                if let Err(e) = r {
                    if e.code() == Some(&tokio_postgres::error::SqlState::EXCLUSION_VIOLATION) {
                        return Err(Error::new(
                            ErrorCode::Overlap,
                            format!(
                                "{} overlaps another of your slots or sessions",
                                o.starts_at.to_rfc3339()
                            ),
                        ));
                    }
                    return Err(e.into());
                }
                schedule_reminders(tx, mentor.0, id, None, o.starts_at, &o.title, now).await?;
                ids.push(id);
            }
            Ok(Outcome::Created { ids })
        }
        Op::Book {
            offering,
            mentee,
            agenda,
        } => {
            let l = lock(tx, cache, *offering, mentor).await?;
            if l.mentor == mentee.0 {
                return Err(Error::new(ErrorCode::Forbidden, "you cannot book your own slot"));
            }
            if l.state != "scheduled" || l.starts_at <= now {
                return Err(closed("this slot has started, ended or been cancelled"));
            }
            let existing = tx
                .query_opt(
                    "SELECT status FROM bookings WHERE offering_id = $1 AND mentee_id = $2 AND status <> 'cancelled'",
                    &[offering, &mentee.0],
                )
                .await?;
            if let Some(r) = existing {
                return Err(Error::new(
                    ErrorCode::AlreadyBooked,
                    format!("you already hold a {} booking here", r.get::<_, String>(0)),
                ));
            }
            let id = Uuid::new_v4();
            if l.booked < l.capacity {
                tx.execute(
                    "UPDATE offerings SET booked_count = booked_count + 1, updated_at = now() WHERE id = $1",
                    &[offering],
                )
                .await?;
                tx.execute(
                    "INSERT INTO bookings (id, offering_id, mentee_id, status, agenda, confirmed_at) VALUES ($1, $2, $3, 'confirmed', $4, now())",
                    &[&id, offering, &mentee.0, agenda],
                )
                .await?;
                confirm_effects(tx, *offering, &l, mentee.0, id, now).await?;
                if let Some(c) = cache.locked.get_mut(offering) {
                    c.booked += 1;
                }
                Ok(Outcome::Booked {
                    booking: id,
                    status: "confirmed",
                    position: None,
                    full: l.booked + 1 == l.capacity,
                })
            } else {
                let seq: i64 = tx
                    .query_one(
                        "UPDATE offerings SET waitlist_next = waitlist_next + 1 WHERE id = $1 RETURNING waitlist_next",
                        &[offering],
                    )
                    .await?
                    .get(0);
                tx.execute(
                    "INSERT INTO bookings (id, offering_id, mentee_id, status, waitlist_seq, agenda) VALUES ($1, $2, $3, 'waitlisted', $4, $5)",
                    &[&id, offering, &mentee.0, &seq, agenda],
                )
                .await?;
                // New entries go to the end: position = length before + 1.
                let before = match cache.waitlisted.get(offering) {
                    Some(n) => *n,
                    None => tx
                        .query_one(
                            "SELECT count(*) FROM bookings WHERE offering_id = $1 AND status = 'waitlisted' AND waitlist_seq < $2",
                            &[offering, &seq],
                        )
                        .await?
                        .get(0),
                };
                let position = before + 1;
                cache.waitlisted.insert(*offering, position);
                Ok(Outcome::Booked {
                    booking: id,
                    status: "waitlisted",
                    position: Some(position),
                    full: true,
                })
            }
        }
        Op::Cancel { offering, mentee } => {
            let l = lock(tx, cache, *offering, mentor).await?;
            let b = tx
                .query_opt(
                    "SELECT id, status FROM bookings WHERE offering_id = $1 AND mentee_id = $2 AND status <> 'cancelled' FOR UPDATE",
                    &[offering, &mentee.0],
                )
                .await?
                .ok_or_else(|| Error::new(ErrorCode::NotBooked, "you hold no booking on this slot"))?;
            if l.starts_at <= now {
                return Err(closed("this slot has already started"));
            }
            let (id, status): (Uuid, String) = (b.get(0), b.get(1));
            tx.execute(
                "UPDATE bookings SET status = 'cancelled', cancelled_at = now() WHERE id = $1",
                &[&id],
            )
            .await?;
            // Counts change below; the next op re-reads them.
            cache.locked.remove(offering);
            cache.waitlisted.remove(offering);
            let mut promoted = None;
            if status == "confirmed" {
                tx.execute(
                    "UPDATE offerings SET booked_count = booked_count - 1, updated_at = now() WHERE id = $1",
                    &[offering],
                )
                .await?;
                if l.state == "scheduled" {
                    if let Some(next) = tx
                        .query_opt(
                            "SELECT id, mentee_id FROM bookings WHERE offering_id = $1 AND status = 'waitlisted'
                              ORDER BY waitlist_seq LIMIT 1 FOR UPDATE",
                            &[offering],
                        )
                        .await?
                    {
                        let (nid, who): (Uuid, Uuid) = (next.get(0), next.get(1));
                        tx.execute(
                            "UPDATE bookings SET status = 'confirmed', confirmed_at = now() WHERE id = $1",
                            &[&nid],
                        )
                        .await?;
                        tx.execute(
                            "UPDATE offerings SET booked_count = booked_count + 1 WHERE id = $1",
                            &[offering],
                        )
                        .await?;
                        confirm_effects(tx, *offering, &l, who, nid, now).await?;
                        promoted = Some((UserId(who), nid));
                    }
                }
            }
            Ok(Outcome::Cancelled {
                booking: id,
                confirmed: status == "confirmed",
                promoted,
            })
        }
        Op::Delete { offering }
        | Op::SetState {
            offering,
            state: "cancelled",
        } => {
            let l = lock(tx, cache, *offering, mentor).await?;
            if l.state == "cancelled" || l.state == "completed" {
                return Err(closed("this slot is already over or cancelled"));
            }
            tx.execute(
                "UPDATE offerings SET state = 'cancelled', updated_at = now() WHERE id = $1",
                &[offering],
            )
            .await?;
            cache.locked.remove(offering);
            cache.waitlisted.remove(offering);
            let rows = tx
                .query(
                    "UPDATE bookings SET status = 'cancelled', cancelled_at = now()
                      WHERE offering_id = $1 AND status <> 'cancelled' RETURNING mentee_id, id",
                    &[offering],
                )
                .await?;
            tx.execute("UPDATE offerings SET booked_count = 0 WHERE id = $1", &[offering])
                .await?;
            let users = rows.iter().map(|r| (UserId(r.get(0)), r.get(1))).collect();
            Ok(if matches!(op, Op::Delete { .. }) {
                Outcome::Deleted {
                    cancelled_bookings: users,
                }
            } else {
                Outcome::StateSet {
                    cancelled_bookings: users,
                }
            })
        }
        Op::SetState { offering, state } => {
            let l = lock(tx, cache, *offering, mentor).await?;
            let ok = matches!(
                (l.state.as_str(), *state),
                ("scheduled", "live") | ("live", "completed") | ("scheduled", "completed")
            );
            if !ok {
                return Err(closed(&format!("a {} session cannot become {state}", l.state)));
            }
            tx.execute(
                "UPDATE offerings SET state = $2, updated_at = now() WHERE id = $1",
                &[offering, state],
            )
            .await?;
            cache.locked.remove(offering);
            Ok(Outcome::StateSet {
                cancelled_bookings: vec![],
            })
        }
    }
}

/// Books a run of requests for one offering with a handful of set-based
/// statements instead of several per request: the same outcomes, in order,
/// as booking them one by one. Errors only on a database failure (then the
/// caller falls back to one savepoint per request).
async fn book_run(
    tx: &Transaction<'_>,
    cache: &mut BatchCache,
    mentor: UserId,
    offering: Uuid,
    reqs: &[(UserId, Option<Value>)],
    now: DateTime<Utc>,
) -> Result<Result<Vec<Result<Outcome, Error>>, Error>, tokio_postgres::Error> {
    let l = match lock(tx, cache, offering, mentor).await {
        Ok(l) => l,
        Err(e) => return Ok(Err(e)),
    };
    if l.state != "scheduled" || l.starts_at <= now {
        return Ok(Ok(reqs
            .iter()
            .map(|_| Err(closed("this slot has started, ended or been cancelled")))
            .collect()));
    }
    let mentees: Vec<Uuid> = reqs.iter().map(|(m, _)| m.0).collect();
    let mut active: HashMap<Uuid, String> = HashMap::new();
    for r in tx
        .query(
            "SELECT mentee_id, status FROM bookings WHERE offering_id = $1 AND mentee_id = ANY($2) AND status <> 'cancelled'",
            &[&offering, &mentees],
        )
        .await?
    {
        active.insert(r.get(0), r.get(1));
    }
    let next_seq: i64 = tx
        .query_one("SELECT waitlist_next FROM offerings WHERE id = $1", &[&offering])
        .await?
        .get(0);
    let mut waitlisted_before = match cache.waitlisted.get(&offering) {
        Some(n) => *n,
        None => tx
            .query_one(
                "SELECT count(*) FROM bookings WHERE offering_id = $1 AND status = 'waitlisted'",
                &[&offering],
            )
            .await?
            .get(0),
    };
    let mut free = i64::from(l.capacity - l.booked);
    let (mut ids, mut who, mut statuses, mut seqs, mut agendas, mut confirmed_at) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut out = Vec::with_capacity(reqs.len());
    let mut confirmed = Vec::new();
    let mut seq = next_seq;
    for (m, agenda) in reqs {
        if m.0 == l.mentor {
            out.push(Err(Error::new(ErrorCode::Forbidden, "you cannot book your own slot")));
            continue;
        }
        if let Some(st) = active.get(&m.0) {
            out.push(Err(Error::new(
                ErrorCode::AlreadyBooked,
                format!("you already hold a {st} booking here"),
            )));
            continue;
        }
        let id = Uuid::new_v4();
        ids.push(id);
        who.push(m.0);
        agendas.push(agenda.clone().unwrap_or(Value::Null));
        if free > 0 {
            free -= 1;
            active.insert(m.0, "confirmed".to_owned());
            statuses.push("confirmed");
            seqs.push(None);
            confirmed_at.push(Some(now));
            confirmed.push((m.0, id));
            out.push(Ok(Outcome::Booked {
                booking: id,
                status: "confirmed",
                position: None,
                full: free == 0,
            }));
        } else {
            seq += 1;
            waitlisted_before += 1;
            active.insert(m.0, "waitlisted".to_owned());
            statuses.push("waitlisted");
            seqs.push(Some(seq));
            confirmed_at.push(None);
            out.push(Ok(Outcome::Booked {
                booking: id,
                status: "waitlisted",
                position: Some(waitlisted_before),
                full: true,
            }));
        }
    }
    if !ids.is_empty() {
        tx.execute(
            "INSERT INTO bookings (id, offering_id, mentee_id, status, waitlist_seq, agenda, confirmed_at)
             SELECT b.id, $1, b.mentee, b.status, b.seq, NULLIF(b.agenda, 'null'::jsonb), b.confirmed_at
               FROM UNNEST($2::uuid[], $3::uuid[], $4::text[], $5::bigint[], $6::jsonb[], $7::timestamptz[])
                    AS b(id, mentee, status, seq, agenda, confirmed_at)",
            &[&offering, &ids, &who, &statuses, &seqs, &agendas, &confirmed_at],
        )
        .await?;
        let added = confirmed.len() as i32;
        tx.execute(
            "UPDATE offerings SET booked_count = booked_count + $2, waitlist_next = $3, updated_at = now() WHERE id = $1",
            &[&offering, &added, &seq],
        )
        .await?;
        for (m, b) in &confirmed {
            schedule_reminders(tx, *m, offering, Some(*b), l.starts_at, &l.title, now).await?;
        }
        if let Some(c) = cache.locked.get_mut(&offering) {
            c.booked += added;
        }
        cache.waitlisted.insert(offering, waitlisted_before);
    }
    Ok(Ok(out))
}

/// The booking changes a batch's outcomes made, to be told (notifications).
pub fn booking_changes(ops: &[Op], outcomes: &[Result<Outcome, Error>]) -> Vec<BookingChange> {
    let mut out = Vec::new();
    for (op, r) in ops.iter().zip(outcomes) {
        let (Some(offering), Ok(outcome)) = (op.offering(), r) else {
            continue;
        };
        let change = |event, booking, mentee| BookingChange {
            event,
            booking,
            offering,
            mentee,
        };
        match (op, outcome) {
            (Op::Book { mentee, .. }, Outcome::Booked { booking, status, .. }) if *status == "confirmed" => {
                out.push(change(BookingEvent::Confirmed, *booking, *mentee));
            }
            (
                Op::Cancel { mentee, .. },
                Outcome::Cancelled {
                    booking,
                    confirmed,
                    promoted,
                },
            ) => {
                out.push(change(
                    BookingEvent::CancelledByMentee { confirmed: *confirmed },
                    *booking,
                    *mentee,
                ));
                if let Some((who, b)) = promoted {
                    out.push(change(BookingEvent::Promoted, *b, *who));
                }
            }
            (_, Outcome::Deleted { cancelled_bookings } | Outcome::StateSet { cancelled_bookings }) => {
                for (who, b) in cancelled_bookings {
                    out.push(change(BookingEvent::CancelledByMentor, *b, *who));
                }
            }
            _ => {}
        }
    }
    out
}

/// Runs a batch for one mentor in one transaction; each op gets its outcome.
/// The booking changes it made are told to `notices` inside the
/// transaction (so they commit with it); what it answers runs once the
/// batch has committed (the live push).
pub async fn run_batch(
    pool: &Pool,
    mentor: UserId,
    ops: &[Op],
    notices: Option<&dyn BookingNotices>,
) -> Result<(Vec<Result<Outcome, Error>>, Option<AfterCommit>), Error> {
    let mut client = pool.get().await?;
    let mut tx = client.transaction().await?;
    let now = Utc::now();
    let mut out = Vec::with_capacity(ops.len());
    let mut cache = BatchCache::default();
    let mut i = 0;
    // After a failed set-based run, its requests go one by one up to here.
    let mut singly_until = 0;
    while i < ops.len() {
        // Consecutive bookings of one offering go together (a storm).
        if let (Op::Book { offering, .. }, true) = (&ops[i], i >= singly_until) {
            let mut j = i;
            let mut reqs = Vec::new();
            while let Some(Op::Book {
                offering: o,
                mentee,
                agenda,
            }) = ops.get(j)
            {
                if o != offering {
                    break;
                }
                reqs.push((*mentee, agenda.clone()));
                j += 1;
            }
            if reqs.len() > 1 {
                let sp = tx.savepoint("run").await?;
                let saved = (cache.locked.clone(), cache.waitlisted.clone());
                match book_run(&sp, &mut cache, mentor, *offering, &reqs, now).await {
                    Ok(Ok(outcomes)) => {
                        sp.commit().await?;
                        out.extend(outcomes);
                        i = j;
                        continue;
                    }
                    Ok(Err(e)) => {
                        sp.commit().await?;
                        out.extend(reqs.iter().map(|_| Err(e.clone())));
                        i = j;
                        continue;
                    }
                    Err(e) => {
                        // For example a booking raced in from another node:
                        // redo this run one request at a time.
                        tracing::debug!(error = %e, "set-based booking fell back");
                        sp.rollback().await?;
                        (cache.locked, cache.waitlisted) = saved;
                        singly_until = j;
                    }
                }
            }
        }
        let op = &ops[i];
        i += 1;
        let sp = tx.savepoint("op").await?;
        // A failed op rolls back its savepoint, which may have changed what
        // the cache assumed: keep a copy to restore.
        let saved = (cache.locked.clone(), cache.waitlisted.clone());
        match apply(&sp, &mut cache, mentor, op, now).await {
            Ok(o) => {
                sp.commit().await?;
                out.push(Ok(o));
            }
            Err(e) => {
                sp.rollback().await?;
                (cache.locked, cache.waitlisted) = saved;
                out.push(Err(e));
            }
        }
    }
    let mut after = None;
    if let Some(n) = notices {
        let changes = booking_changes(ops, &out);
        if !changes.is_empty() {
            after = Some(n.store(&tx, mentor, &changes).await?);
        }
    }
    tx.commit().await?;
    Ok((out, after))
}

/// The JSON every client sees for an offering (seed 001's slot fields plus
/// instants, seats and the waitlist).
pub const OFFERING_COLUMNS: &str =
    "o.id, o.mentor_id, o.kind, o.title, o.description, o.category, o.tags, o.starts_at, o.ends_at,
     o.capacity, o.booked_count, o.price_credits, o.state, o.time_zone, o.created_at, o.updated_at,
     (SELECT count(*) FROM bookings w WHERE w.offering_id = o.id AND w.status = 'waitlisted') AS waitlist_count,
     u.display_name AS mentor_name";

pub fn offering_json(r: &tokio_postgres::Row) -> Value {
    let starts: DateTime<Utc> = r.get("starts_at");
    let ends: DateTime<Utc> = r.get("ends_at");
    let tz_name: String = r.get("time_zone");
    let tz: chrono_tz::Tz = tz_name.parse().unwrap_or(chrono_tz::UTC);
    let (ls, le) = (starts.with_timezone(&tz), ends.with_timezone(&tz));
    let capacity: i32 = r.get("capacity");
    let booked: i32 = r.get("booked_count");
    let state: String = r.get("state");
    let status = match state.as_str() {
        "cancelled" => "cancelled",
        "completed" => "completed",
        _ if ends <= Utc::now() => "completed",
        _ if booked >= capacity => "full",
        _ => "available",
    };
    json!({
        "id": r.get::<_, Uuid>("id"),
        "kind": r.get::<_, String>("kind"),
        "mentorId": r.get::<_, Uuid>("mentor_id"),
        "alumniId": r.get::<_, Uuid>("mentor_id"),
        "mentorName": r.get::<_, String>("mentor_name"),
        "title": r.get::<_, String>("title"),
        "description": r.get::<_, String>("description"),
        "category": r.get::<_, Option<String>>("category"),
        "tags": r.get::<_, Vec<String>>("tags"),
        "startsAt": starts,
        "endsAt": ends,
        "durationMinutes": (ends - starts).num_minutes(),
        "timeZone": tz_name,
        "date": ls.format("%Y-%m-%d").to_string(),
        "startTime": ls.format("%H:%M").to_string(),
        "endTime": le.format("%H:%M").to_string(),
        "maxParticipants": capacity,
        "capacity": capacity,
        "bookedCount": booked,
        "remainingSeats": (capacity - booked).max(0),
        "waitlistCount": r.get::<_, i64>("waitlist_count"),
        "priceCredits": r.get::<_, i32>("price_credits"),
        "state": state,
        "status": status,
        "createdAt": r.get::<_, DateTime<Utc>>("created_at"),
        "updatedAt": r.get::<_, DateTime<Utc>>("updated_at"),
    })
}

pub async fn load_offerings(pool: &Pool, ids: &BTreeSet<Uuid>) -> Result<Vec<Value>, Error> {
    let ids: Vec<Uuid> = ids.iter().copied().collect();
    let client = pool.get().await?;
    let rows = client
        .query(
            &format!(
                "SELECT {OFFERING_COLUMNS} FROM offerings o JOIN users u ON u.id = o.mentor_id WHERE o.id = ANY($1)"
            ),
            &[&ids],
        )
        .await?;
    Ok(rows.iter().map(offering_json).collect())
}

/// Everyone holding an active booking on an offering.
pub async fn holders(pool: &Pool, offering: Uuid) -> Result<Vec<UserId>, Error> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT mentee_id FROM bookings WHERE offering_id = $1 AND status <> 'cancelled'",
            &[&offering],
        )
        .await?;
    Ok(rows.iter().map(|r| UserId(r.get(0))).collect())
}

/// Whether `user` may own a calendar (a mentor, or an admin, who may offer
/// slots too). One primary-key lookup; starts no actor.
pub async fn owns_calendar(pool: &Pool, user: UserId) -> Result<bool, Error> {
    let client = pool.get().await?;
    let stmt = client.prepare_cached("SELECT role FROM users WHERE id = $1").await?;
    let row = client.query_opt(&stmt, &[&user]).await?;
    Ok(row.is_some_and(|r| matches!(r.get::<_, &str>(0), "mentor" | "admin")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booking_changes_are_read_from_committed_outcomes_only() {
        let (slot, a, b) = (Uuid::new_v4(), UserId(Uuid::new_v4()), UserId(Uuid::new_v4()));
        let (b1, b2, b3) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let ops = vec![
            Op::Book {
                offering: slot,
                mentee: a,
                agenda: None,
            },
            Op::Book {
                offering: slot,
                mentee: b,
                agenda: None,
            },
            Op::Book {
                offering: slot,
                mentee: b,
                agenda: None,
            },
            Op::Cancel {
                offering: slot,
                mentee: a,
            },
            Op::Delete { offering: slot },
            Op::SetState {
                offering: slot,
                state: "live",
            },
        ];
        let outcomes = vec![
            Ok(Outcome::Booked {
                booking: b1,
                status: "confirmed",
                position: None,
                full: true,
            }),
            // Waitlisted: nobody is told.
            Ok(Outcome::Booked {
                booking: b2,
                status: "waitlisted",
                position: Some(1),
                full: true,
            }),
            // Refused (rolled back): nobody is told.
            Err(Error::new(ErrorCode::AlreadyBooked, "again")),
            Ok(Outcome::Cancelled {
                booking: b1,
                confirmed: true,
                promoted: Some((b, b2)),
            }),
            Ok(Outcome::Deleted {
                cancelled_bookings: vec![(b, b2), (a, b3)],
            }),
            Ok(Outcome::StateSet {
                cancelled_bookings: vec![],
            }),
        ];
        let change = |event, booking, mentee| BookingChange {
            event,
            booking,
            offering: slot,
            mentee,
        };
        assert_eq!(
            booking_changes(&ops, &outcomes),
            vec![
                change(BookingEvent::Confirmed, b1, a),
                change(BookingEvent::CancelledByMentee { confirmed: true }, b1, a),
                change(BookingEvent::Promoted, b2, b),
                change(BookingEvent::CancelledByMentor, b2, b),
                change(BookingEvent::CancelledByMentor, b3, a),
            ]
        );
    }
}
