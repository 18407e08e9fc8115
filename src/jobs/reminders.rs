//! The outbox worker: reminders 24 hours and 15 minutes before a slot or
//! session (seeds 001, 002), as in-app notifications over the WebSocket and,
//! when SMTP is configured, as email.
//!
//! Jobs live in the `outbox` table. A worker claims due jobs with
//! `FOR UPDATE SKIP LOCKED` and marks them sent in the same transaction, so
//! two workers (or two nodes) never send the same job and a restart resumes
//! where it stopped. A reminder becomes a notification row (kept, listed at
//! `/api/notifications`) plus a live push after the commit, and an `email`
//! job of its own, retried with backoff if the mail server is down.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use lyceum_actors::core::FanOut;
use lyceum_actors::UserId;
use serde_json::{json, Value};
use uuid::Uuid;

/// Jobs claimed per transaction.
const CLAIM: i64 = 100;
/// How long one email may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(15);
/// After this many failed attempts an email is given up (and logged).
const MAX_EMAIL_ATTEMPTS: i32 = 8;

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// Absolute links and signed unsubscribe links in the emails' footers.
    links: Option<Arc<crate::notify::MailLinks>>,
}

impl Mailer {
    pub fn new(url: &str, from: &str) -> anyhow::Result<Mailer> {
        Ok(Mailer {
            transport: AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                .context("smtp.url")?
                .timeout(Some(SMTP_TIMEOUT))
                .build(),
            from: from.parse().context("smtp.from is not a mailbox")?,
            links: None,
        })
    }

    /// Signs unsubscribe links and makes links absolute with `links`.
    pub fn with_links(mut self, links: Arc<crate::notify::MailLinks>) -> Mailer {
        self.links = Some(links);
        self
    }

    /// An email job's text with its footer: the link it is about, the
    /// signed unsubscribe link of its kind for its user, the signature.
    fn compose(&self, user: Option<Uuid>, p: &Value) -> String {
        let body = p["body"].as_str().unwrap_or_default();
        if p.get("kind").is_none() && p.get("link").is_none() {
            // A job queued before footers existed carries its own.
            return body.to_owned();
        }
        match (&self.links, user) {
            (Some(links), Some(user)) => {
                format!(
                    "{body}{}",
                    crate::notify::email_footer(links, user, p["kind"].as_str(), p["link"].as_str())
                )
            }
            _ => {
                let link = p["link"].as_str().filter(|l| !l.is_empty());
                format!(
                    "{body}{}\n\n\u{2014} Lyceum\n",
                    link.map(|l| format!("\n\nRead it at {l}")).unwrap_or_default()
                )
            }
        }
    }

    async fn send(&self, to: &str, subject: &str, body: &str) -> anyhow::Result<()> {
        let msg = Message::builder()
            .from(self.from.clone())
            .to(to.parse().context("recipient")?)
            .subject(subject)
            .body(body.to_owned())
            .context("building the email")?;
        self.transport.send(msg).await.context("sending the email")?;
        Ok(())
    }
}

pub struct Worker {
    pub pool: Pool,
    /// Where the in-app push of a reminder goes (the user's connections).
    pub fanout: Arc<dyn FanOut>,
    pub mailer: Option<Arc<Mailer>>,
}

impl Worker {
    /// Runs forever, polling every `poll`.
    pub fn spawn(self, poll: Duration) {
        actix_web::rt::spawn(async move {
            let mut tick = tokio::time::interval(poll);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = self.run_once().await {
                    tracing::warn!(error = %format!("{e:#}"), "outbox worker");
                }
            }
        });
    }

    /// One pass: reminders, digests, then emails. Returns how many jobs
    /// were done.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        Ok(self.reminders().await? + self.digests().await? + self.emails().await?)
    }

    /// Due digests of direct messages received while offline: one email
    /// per job listing who wrote how many messages, only those still
    /// unread (neither marked read as notifications nor read in the
    /// conversation) and not in an earlier digest; nothing when none are
    /// left or the user turned these emails off meanwhile.
    async fn digests(&self) -> anyhow::Result<usize> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let jobs = tx
            .query(
                "SELECT j.id, j.user_id, u.email, u.display_name, email_wanted(u.id, 'direct_message')
                   FROM outbox j JOIN users u ON u.id = j.user_id
                  WHERE j.kind = 'dm_digest' AND j.sent_at IS NULL AND j.due_at <= now()
                  ORDER BY j.due_at LIMIT $1
                  FOR UPDATE OF j SKIP LOCKED",
                &[&CLAIM],
            )
            .await?;
        let mut done = 0;
        for j in &jobs {
            let (job, user): (i64, Uuid) = (j.get(0), j.get(1));
            let (email, name, wanted): (Option<String>, String, bool) = (j.get(2), j.get(3), j.get(4));
            let notes = tx
                .query(
                    "SELECT n.id, n.payload->'by'->>'displayName'
                       FROM notifications n
                       LEFT JOIN room_members m ON m.user_id = n.user_id AND m.room_id = (n.payload->>'roomId')::uuid
                      WHERE n.user_id = $1 AND n.kind = 'direct_message' AND n.read_at IS NULL AND n.mailed_at IS NULL
                        AND (m.last_read_seq IS NULL OR (n.payload->>'seq')::bigint > m.last_read_seq)
                      ORDER BY n.id
                      FOR UPDATE OF n",
                    &[&user],
                )
                .await?;
            let outcome = match (email, wanted, notes.is_empty(), self.mailer.is_some()) {
                (Some(to), true, false, true) => {
                    let ids: Vec<i64> = notes.iter().map(|r| r.get(0)).collect();
                    // Who wrote, in the order they first wrote, with how many.
                    let mut senders: Vec<(String, usize)> = Vec::new();
                    for r in &notes {
                        let who: String = r.get::<_, Option<String>>(1).unwrap_or_else(|| "Someone".to_owned());
                        match senders.iter_mut().find(|(n, _)| *n == who) {
                            Some((_, c)) => *c += 1,
                            None => senders.push((who, 1)),
                        }
                    }
                    let subject = if ids.len() == 1 {
                        format!("{} sent you a message on Lyceum", senders[0].0)
                    } else {
                        format!("{} new messages on Lyceum", ids.len())
                    };
                    let lines: Vec<String> = senders
                        .iter()
                        .map(|(who, n)| format!("- {who}: {n} {}", if *n == 1 { "message" } else { "messages" }))
                        .collect();
                    let body = format!(
                        "Hello {name},\n\nwhile you were away you received {} in your direct conversations:\n\n{}\n\nSign in to read and answer them.",
                        if ids.len() == 1 { "a message".to_owned() } else { format!("{} messages", ids.len()) },
                        lines.join("\n")
                    );
                    tx.execute(
                        "INSERT INTO outbox (kind, dedupe_key, user_id, payload, due_at)
                         VALUES ('email', $1, $2, $3, now()) ON CONFLICT (dedupe_key) DO NOTHING",
                        &[
                            &format!("email:dm_digest:{job}"),
                            &user,
                            &json!({"to": to, "subject": subject, "body": body, "kind": "direct_message",
                                    "link": "/notifications"}),
                        ],
                    )
                    .await?;
                    tx.execute("UPDATE notifications SET mailed_at = now() WHERE id = ANY($1)", &[&ids])
                        .await?;
                    done += 1;
                    None
                }
                (_, false, _, _) => Some("email turned off"),
                (_, _, true, _) => Some("nothing unread"),
                _ => Some("no email address or no mailer"),
            };
            tx.execute(
                "UPDATE outbox SET sent_at = now(), attempts = attempts + 1, last_error = $2 WHERE id = $1",
                &[&job, &outcome],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(done)
    }

    async fn reminders(&self) -> anyhow::Result<usize> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let rows = tx
            .query(
                "SELECT j.id, j.user_id, j.payload, u.email, u.display_name
                   FROM outbox j JOIN users u ON u.id = j.user_id
                  WHERE j.kind = 'reminder' AND j.sent_at IS NULL AND j.due_at <= now()
                  ORDER BY j.due_at LIMIT $1
                  FOR UPDATE OF j SKIP LOCKED",
                &[&CLAIM],
            )
            .await?;
        let mut pushes = Vec::new();
        for r in &rows {
            let (job, user, payload): (i64, Uuid, Value) = (r.get(0), r.get(1), r.get(2));
            let (email, name): (Option<String>, String) = (r.get(3), r.get(4));
            let offering: Option<Uuid> = payload["offeringId"].as_str().and_then(|s| s.parse().ok());
            let booking: Option<Uuid> = payload["bookingId"].as_str().and_then(|s| s.parse().ok());
            let planned: Option<DateTime<Utc>> = payload["startsAt"].as_str().and_then(|s| s.parse().ok());
            // Still true? The slot may have moved or been cancelled, the booking too.
            let live = tx
                .query_opt(
                    "SELECT o.starts_at, o.title FROM offerings o
                      WHERE o.id = $1 AND o.state IN ('scheduled', 'live')
                        AND ($2::uuid IS NULL OR EXISTS (SELECT 1 FROM bookings b WHERE b.id = $2 AND b.status = 'confirmed'))",
                    &[&offering, &booking],
                )
                .await?
                .filter(|o| Some(o.get::<_, DateTime<Utc>>(0)) == planned);
            let Some(o) = live else {
                tx.execute(
                    "UPDATE outbox SET sent_at = now(), last_error = 'obsolete' WHERE id = $1",
                    &[&job],
                )
                .await?;
                continue;
            };
            let (starts, title): (DateTime<Utc>, String) = (o.get(0), o.get(1));
            let note = json!({"offeringId": offering, "bookingId": booking, "startsAt": starts, "title": title,
                              "before": payload["before"]});
            // Through the one notification path: the job's id is the event,
            // so a job run twice notifies once.
            let stored = crate::notify::store(
                &tx,
                crate::notify::Note {
                    user: UserId(user),
                    kind: "reminder",
                    key: format!("reminder:{job}"),
                    payload: note,
                    // The reminder's email is its own job (below).
                    mail: false,
                },
            )
            .await?;
            if let (Some(to), true) = (email, self.mailer.is_some()) {
                let subject = format!(
                    "Reminder: {} starts {}",
                    if title.is_empty() {
                        "your mentorship session"
                    } else {
                        &title
                    },
                    starts.format("%Y-%m-%d %H:%M UTC")
                );
                let body = format!("Hello {name},\n\nthis is a reminder: {subject}.");
                tx.execute(
                    "INSERT INTO outbox (kind, dedupe_key, user_id, payload, due_at)
                     SELECT 'email', $1, $2, $3, now() WHERE email_wanted($2, 'reminder')
                     ON CONFLICT (dedupe_key) DO NOTHING",
                    &[
                        &format!("email:reminder:{job}"),
                        &user,
                        &json!({"to": to, "subject": subject, "body": body, "kind": "reminder", "link": ""}),
                    ],
                )
                .await?;
            }
            tx.execute(
                "UPDATE outbox SET sent_at = now(), attempts = attempts + 1 WHERE id = $1",
                &[&job],
            )
            .await?;
            pushes.extend(stored);
        }
        tx.commit().await?;
        // After the commit: a push for a rolled-back job would be a lie.
        let n = pushes.len();
        crate::notify::push(self.fanout.as_ref(), pushes);
        Ok(n)
    }

    async fn emails(&self) -> anyhow::Result<usize> {
        let Some(mailer) = &self.mailer else { return Ok(0) };
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let rows = tx
            .query(
                "SELECT id, payload, attempts, user_id FROM outbox WHERE kind = 'email' AND sent_at IS NULL AND due_at <= now()
                  ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED",
                &[&CLAIM],
            )
            .await?;
        let mut sent = 0;
        for r in &rows {
            let (id, p, attempts, user): (i64, Value, i32, Option<Uuid>) = (r.get(0), r.get(1), r.get(2), r.get(3));
            let text = mailer.compose(user, &p);
            let result = mailer
                .send(
                    p["to"].as_str().unwrap_or_default(),
                    p["subject"].as_str().unwrap_or_default(),
                    &text,
                )
                .await;
            match result {
                Ok(()) => {
                    tx.execute(
                        "UPDATE outbox SET sent_at = now(), attempts = attempts + 1 WHERE id = $1",
                        &[&id],
                    )
                    .await?;
                    sent += 1;
                }
                Err(e) if attempts + 1 >= MAX_EMAIL_ATTEMPTS => {
                    tracing::error!(job = id, error = %format!("{e:#}"), "giving up on an email");
                    tx.execute(
                        "UPDATE outbox SET sent_at = now(), attempts = attempts + 1, last_error = $2 WHERE id = $1",
                        &[&id, &format!("gave up: {e:#}")],
                    )
                    .await?;
                }
                Err(e) => {
                    // Exponential backoff: 1, 2, 4 ... minutes.
                    let wait = format!("{} minutes", 1i64 << attempts.clamp(0, 10));
                    tx.execute(
                        "UPDATE outbox SET attempts = attempts + 1, last_error = $2, due_at = now() + $3::text::interval WHERE id = $1",
                        &[&id, &format!("{e:#}"), &wait],
                    )
                    .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(sent)
    }
}
