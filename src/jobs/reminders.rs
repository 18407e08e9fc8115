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
}

impl Mailer {
    pub fn new(url: &str, from: &str) -> anyhow::Result<Mailer> {
        Ok(Mailer {
            transport: AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                .context("smtp.url")?
                .timeout(Some(SMTP_TIMEOUT))
                .build(),
            from: from.parse().context("smtp.from is not a mailbox")?,
        })
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

    /// One pass: reminders, then emails. Returns how many jobs were done.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        Ok(self.reminders().await? + self.emails().await?)
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
                let body = format!("Hello {name},\n\nthis is a reminder: {subject}.\n\n— Lyceum\n");
                tx.execute(
                    "INSERT INTO outbox (kind, dedupe_key, user_id, payload, due_at)
                     SELECT 'email', $1, $2, $3, now() WHERE email_wanted($2, 'reminder')
                     ON CONFLICT (dedupe_key) DO NOTHING",
                    &[
                        &format!("email:reminder:{job}"),
                        &user,
                        &json!({"to": to, "subject": subject, "body": body}),
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
                "SELECT id, payload, attempts FROM outbox WHERE kind = 'email' AND sent_at IS NULL AND due_at <= now()
                  ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED",
                &[&CLAIM],
            )
            .await?;
        let mut sent = 0;
        for r in &rows {
            let (id, p, attempts): (i64, Value, i32) = (r.get(0), r.get(1), r.get(2));
            let result = mailer
                .send(
                    p["to"].as_str().unwrap_or_default(),
                    p["subject"].as_str().unwrap_or_default(),
                    p["body"].as_str().unwrap_or_default(),
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
