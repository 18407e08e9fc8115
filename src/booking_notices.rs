//! Notifications of booking changes (issue 16): the calendar tells the edge
//! every booking its batch confirmed, promoted or cancelled through the
//! `BookingNotices` seam, inside the batch's transaction, and they are
//! stored there through the one notification path (`crate::notify`), so a
//! committed change always has its notices, whichever path made it (a
//! booking, a registration, a cancel and the promotion it causes, a mentor
//! deleting a slot or cancelling a session). They are pushed live after
//! the commit and emailed through the outbox when the server sends email
//! and the user's preference for the kind allows.
//!
//! Who is told what:
//! - the mentee: `booking_confirmed` when a booking or registration gets a
//!   seat, `booking_promoted` when a freed seat goes to them from the
//!   waitlist, `booking_cancelled` when the mentor cancels the slot or
//!   session (confirmed and waitlisted alike). A mentee who cancels is not
//!   told of their own cancel, and a waitlisted booking notifies no one
//!   (the answer says it; the promotion will).
//! - the mentor, for one-on-one slots (`kind = slot`) only:
//!   `booking_received` when a mentee takes a seat (booked or promoted) and
//!   `booking_cancelled` when a mentee gives a seat up. Registrations for
//!   group sessions (up to 10,000 seats) are not told one by one: the
//!   mentor sees them on the session's page. The mentor is never told of
//!   their own cancellation.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use lyceum_actors::core::seams::{self, AfterCommit, BookingChange, BookingEvent};
use lyceum_actors::core::{Error, FanOut};
use lyceum_actors::UserId;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::notify::{self, Note};

/// The edge's side of the calendar's `BookingNotices` seam.
pub struct BookingNotices {
    pub fanout: Arc<dyn FanOut>,
    /// Whether this server sends email.
    pub email: bool,
}

struct Offering {
    kind: String,
    title: String,
    starts_at: DateTime<Utc>,
}

/// An instant in words, in the reader's time zone (their profile's; UTC
/// when it names none we know): `Tue 8 Dec 15:00 UTC`, `Tue 8 Dec 16:00 CET`.
pub fn when(t: DateTime<Utc>, zone: &str) -> String {
    let tz: chrono_tz::Tz = zone.parse().unwrap_or(chrono_tz::UTC);
    t.with_timezone(&tz).format("%a %-d %b %H:%M %Z").to_string()
}

/// A person as a notice names them, and the time zone they read it in.
struct Person {
    name: String,
    zone: String,
}

impl BookingNotices {
    async fn notes(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        mentor: UserId,
        changes: &[BookingChange],
    ) -> Result<Vec<Note>, tokio_postgres::Error> {
        let offerings: Vec<Uuid> = changes.iter().map(|c| c.offering).collect();
        let mut people: Vec<UserId> = changes.iter().map(|c| c.mentee).collect();
        people.push(mentor);
        // Both reads go out together (pipelined on the one connection): one
        // round trip per batch.
        let (o_params, p_params): (
            [&(dyn tokio_postgres::types::ToSql + Sync); 1],
            [&(dyn tokio_postgres::types::ToSql + Sync); 1],
        ) = ([&offerings], [&people]);
        let (offering_rows, people_rows) = futures_util::try_join!(
            tx.query(
                "SELECT id, kind, title, starts_at FROM offerings WHERE id = ANY($1)",
                &o_params,
            ),
            tx.query(
                "SELECT u.id, u.display_name, coalesce(p.time_zone, 'UTC')
                   FROM users u LEFT JOIN profiles p ON p.user_id = u.id WHERE u.id = ANY($1)",
                &p_params,
            ),
        )?;
        let of: HashMap<Uuid, Offering> = offering_rows
            .iter()
            .map(|r| {
                let o = Offering {
                    kind: r.get(1),
                    title: r.get(2),
                    starts_at: r.get(3),
                };
                (r.get(0), o)
            })
            .collect();
        let people: HashMap<UserId, Person> = people_rows
            .iter()
            .map(|r| {
                let p = Person {
                    name: r.get(1),
                    zone: r.get(2),
                };
                (r.get(0), p)
            })
            .collect();
        let name = |u: UserId| people.get(&u).map_or_else(|| "Someone".to_owned(), |p| p.name.clone());
        let zone = |u: UserId| people.get(&u).map_or("UTC", |p| p.zone.as_str());
        let mentor_name = name(mentor);
        let mut out = Vec::new();
        for c in changes {
            let Some(o) = of.get(&c.offering) else { continue };
            let group = o.kind == "group";
            // The start as each reader reads it: the mentee's and the mentor's
            // time zones.
            let at = when(o.starts_at, zone(c.mentee));
            let mentor_at = when(o.starts_at, zone(mentor));
            // "your booking with Grace on Tue 8 Dec 15:00 UTC" or "your seat
            // at “Title” with Grace on …".
            let yours = if group {
                format!("your seat at \u{201c}{}\u{201d} with {mentor_name} on {at}", o.title)
            } else {
                format!("your booking with {mentor_name} on {at}")
            };
            let payload = |to: &str, title: String, by: Option<(UserId, String)>, reason: Option<&str>| {
                let mut p = json!({
                    "title": title,
                    "bookingId": c.booking,
                    "offeringId": c.offering,
                    "offeringKind": o.kind,
                    "mentorId": mentor,
                    "menteeId": c.mentee,
                    "startsAt": o.starts_at,
                    "to": to,
                });
                if let Some((id, n)) = by {
                    p["by"] = json!({"id": id, "displayName": n});
                }
                if let Some(r) = reason {
                    p["reason"] = json!(r);
                }
                p
            };
            let note = |user: UserId, kind: &'static str, payload: Value| Note {
                user,
                kind,
                key: format!("{kind}:{}", c.booking),
                payload,
                mail: self.email,
            };
            let mentee_name = name(c.mentee);
            match c.event {
                BookingEvent::Confirmed | BookingEvent::Promoted => {
                    let promoted = c.event == BookingEvent::Promoted;
                    let (kind, title) = if promoted {
                        ("booking_promoted", format!("A seat opened: {yours} is confirmed"))
                    } else {
                        ("booking_confirmed", format!("{} is confirmed", capitalise(&yours)))
                    };
                    out.push(note(c.mentee, kind, payload("mentee", title, None, None)));
                    if !group {
                        let title = if promoted {
                            format!("{mentee_name} moved up from the waitlist and booked your slot on {mentor_at}")
                        } else {
                            format!("{mentee_name} booked your slot on {mentor_at}")
                        };
                        let by = Some((c.mentee, mentee_name.clone()));
                        out.push(note(mentor, "booking_received", payload("mentor", title, by, None)));
                    }
                }
                BookingEvent::CancelledByMentee { confirmed } => {
                    if confirmed && !group {
                        let title = format!("{mentee_name} cancelled their booking of your slot on {mentor_at}");
                        let by = Some((c.mentee, mentee_name.clone()));
                        out.push(note(
                            mentor,
                            "booking_cancelled",
                            payload("mentor", title, by, Some("mentee_cancelled")),
                        ));
                    }
                }
                BookingEvent::CancelledByMentor => {
                    let title = if group {
                        format!(
                            "{mentor_name} cancelled the session \u{201c}{}\u{201d} on {at}, so your registration is cancelled",
                            o.title
                        )
                    } else {
                        format!("{mentor_name} cancelled the slot on {at}, so your booking is cancelled")
                    };
                    let by = Some((mentor, mentor_name.clone()));
                    out.push(note(
                        c.mentee,
                        "booking_cancelled",
                        payload("mentee", title, by, Some("mentor_cancelled")),
                    ));
                }
            }
        }
        Ok(out)
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

impl seams::BookingNotices for BookingNotices {
    fn store<'a>(
        &'a self,
        tx: &'a deadpool_postgres::Transaction<'a>,
        mentor: UserId,
        changes: &'a [BookingChange],
    ) -> BoxFuture<'a, Result<AfterCommit, Error>> {
        Box::pin(async move {
            let notes = self.notes(tx, mentor, changes).await?;
            let stored = notify::store_all(tx, notes).await?;
            let fanout = self.fanout.clone();
            Ok(Box::new(move || notify::push(fanout.as_ref(), stored)) as AfterCommit)
        })
    }
}
