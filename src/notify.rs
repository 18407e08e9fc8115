//! The one notification path: every feature that tells a user something
//! (reminders, board replies, mentions, accepted answers, moderation) stores
//! it here, inside its own transaction, and pushes it after the commit.
//!
//! Exactly once per user and event: each notification carries a key naming
//! its event (`reminder:<job>`, `board_reply:<post>`, ...), and the unique
//! constraint `notifications_once (user_id, dedupe_key)` (migration V9)
//! makes a second store of the same event for the same user a no-op, so a
//! retried job or a repeated request never notifies twice. The live push
//! (`Event::Notification` to every open WebSocket connection of the user,
//! through the fan-out seam) goes only for rows this call inserted, and
//! only after the caller committed: a push for a rolled-back change would
//! be a lie, and a user who is offline reads it from `/api/notifications`.

use deadpool_postgres::GenericClient;
use lyceum_actors::core::FanOut;
use lyceum_actors::UserId;
use lyceum_protocol::frames::Event;
use serde_json::{json, Value};

/// A notification to store.
pub struct Note {
    pub user: UserId,
    /// What happened: one of `routes::notifications::KINDS`.
    pub kind: &'static str,
    /// Names the event; with `user`, unique.
    pub key: String,
    pub payload: Value,
    /// Also send it by email (through the outbox), if the user's
    /// preference for this kind allows. False where the feature sends its
    /// own email (reminders) or email is not configured.
    pub mail: bool,
}

/// A notification this call stored, to push after the commit.
pub struct Stored {
    pub id: i64,
    pub user: UserId,
    pub kind: &'static str,
    pub payload: Value,
}

/// Stores `note` unless this user was already notified of this event;
/// `Some` only when a row was inserted.
pub async fn store(client: &impl GenericClient, note: Note) -> Result<Option<Stored>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "INSERT INTO notifications (user_id, kind, payload, dedupe_key) VALUES ($1, $2, $3, $4)
             ON CONFLICT ON CONSTRAINT notifications_once DO NOTHING RETURNING id",
            &[&note.user, &note.kind, &note.payload, &note.key],
        )
        .await?;
    if row.is_some() && note.mail {
        // One email job per notification (the same key), unless the user
        // turned email off for this kind.
        let (subject, text, link) = email_text(note.kind, &note.payload);
        client
            .execute(
                "INSERT INTO outbox (kind, dedupe_key, user_id, payload, due_at)
                 SELECT 'email', $1, u.id,
                        jsonb_build_object('to', u.email, 'subject', $2::text,
                                           'body', 'Hello ' || u.display_name || E',\n\n' || $3::text,
                                           'kind', $5::text, 'link', $6::text),
                        now()
                   FROM users u
                  WHERE u.id = $4 AND email_wanted(u.id, $5)
                 ON CONFLICT (dedupe_key) DO NOTHING",
                &[
                    &format!("email:{}:{}", note.key, note.user),
                    &subject,
                    &text,
                    &note.user,
                    &note.kind,
                    &link,
                ],
            )
            .await?;
    }
    Ok(row.map(|r| Stored {
        id: r.get(0),
        user: note.user,
        kind: note.kind,
        payload: note.payload,
    }))
}

/// Stores many notifications in two statements whatever their number (the
/// calendar's batches): like [`store`] for each, `Stored` for the rows
/// inserted (a user already notified of an event gets nothing new), and one
/// email job per inserted note with `mail` whose kind the user wants by
/// email.
pub async fn store_all(client: &impl GenericClient, notes: Vec<Note>) -> Result<Vec<Stored>, tokio_postgres::Error> {
    if notes.is_empty() {
        return Ok(Vec::new());
    }
    let users: Vec<UserId> = notes.iter().map(|n| n.user).collect();
    let kinds: Vec<&str> = notes.iter().map(|n| n.kind).collect();
    let payloads: Vec<&Value> = notes.iter().map(|n| &n.payload).collect();
    let keys: Vec<&str> = notes.iter().map(|n| n.key.as_str()).collect();
    let rows = client
        .query(
            "INSERT INTO notifications (user_id, kind, payload, dedupe_key)
             SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::jsonb[], $4::text[])
             ON CONFLICT ON CONSTRAINT notifications_once DO NOTHING RETURNING id, user_id, dedupe_key",
            &[&users, &kinds, &payloads, &keys],
        )
        .await?;
    let mut inserted: std::collections::HashMap<(UserId, String), i64> = rows
        .iter()
        .map(|r| ((r.get::<_, UserId>(1), r.get::<_, String>(2)), r.get::<_, i64>(0)))
        .collect();
    let mut stored = Vec::with_capacity(inserted.len());
    let (mut m_keys, mut m_users, mut m_subjects, mut m_texts, mut m_kinds, mut m_links) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for n in notes {
        let Some(id) = inserted.remove(&(n.user, n.key.clone())) else {
            continue;
        };
        if n.mail {
            let (subject, text, link) = email_text(n.kind, &n.payload);
            m_keys.push(format!("email:{}:{}", n.key, n.user));
            m_users.push(n.user);
            m_subjects.push(subject);
            m_texts.push(text);
            m_kinds.push(n.kind);
            m_links.push(link);
        }
        stored.push(Stored {
            id,
            user: n.user,
            kind: n.kind,
            payload: n.payload,
        });
    }
    if !m_keys.is_empty() {
        client
            .execute(
                "INSERT INTO outbox (kind, dedupe_key, user_id, payload, due_at)
                 SELECT 'email', m.key, u.id,
                        jsonb_build_object('to', u.email, 'subject', m.subject,
                                           'body', 'Hello ' || u.display_name || E',\n\n' || m.text,
                                           'kind', m.kind, 'link', m.link),
                        now()
                   FROM UNNEST($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[])
                        AS m(key, user_id, subject, text, kind, link)
                   JOIN users u ON u.id = m.user_id
                  WHERE email_wanted(u.id, m.kind)
                 ON CONFLICT (dedupe_key) DO NOTHING",
                &[&m_keys, &m_users, &m_subjects, &m_texts, &m_kinds, &m_links],
            )
            .await?;
    }
    Ok(stored)
}

/// Where a booking notification leads on the site: the mentor's page of
/// that slot or session, the session's page, or My bookings.
pub fn booking_link(payload: &Value) -> String {
    let offering = payload["offeringId"].as_str().unwrap_or_default();
    if payload["to"] == "mentor" {
        format!("/calendar/manage/{offering}")
    } else if payload["offeringKind"] == "group" {
        format!("/sessions/{offering}")
    } else {
        "/bookings".to_owned()
    }
}

/// The subject, text and link (a path on the site, or "") of a
/// notification's email. The worker adds the site's address to the link,
/// the unsubscribe link and the signature when it sends it.
fn email_text(kind: &str, payload: &Value) -> (String, String, String) {
    let title = payload["title"].as_str().unwrap_or("a thread");
    let by = payload["by"]["displayName"].as_str().unwrap_or("Someone");
    let subject = match kind {
        "board_reply" => format!("{by} replied in \u{201c}{title}\u{201d}"),
        "board_mention" => format!("{by} mentioned you in \u{201c}{title}\u{201d}"),
        "board_answer_accepted" => format!("Your answer in \u{201c}{title}\u{201d} was accepted"),
        "board_moderation" => format!("A moderator acted on your post in \u{201c}{title}\u{201d}"),
        // Mentorships and reviews: their title says it in words already.
        k if k.starts_with("mentorship_") || k.starts_with("review_") || k.starts_with("booking_") => title.to_owned(),
        other => format!("Lyceum: {}", other.replace('_', " ")),
    };
    let link = if let Some(t) = payload["threadId"].as_str() {
        format!("/boards/threads/{t}")
    } else if kind.starts_with("booking_") {
        booking_link(payload)
    } else if kind.starts_with("mentorship_") {
        "/mentorships".to_owned()
    } else if payload["about"] == "mentor" {
        // A review of a mentor, and its reply, are on the mentor's page; a
        // review of a mentee is seen by that mentee only (no page links it).
        payload["mentorId"]
            .as_str()
            .map(|m| format!("/mentors/{m}"))
            .unwrap_or_default()
    } else {
        String::new()
    };
    (subject.clone(), format!("{subject}."), link)
}

/// Signed links in emails: an unsubscribe link per user and kind of email
/// that works without signing in. The signature is HMAC-SHA256 over the
/// user's id and the kind, keyed with a key derived from the server's JWT
/// secret (so it is never the secret itself, and a link for one user or
/// kind is no link for another).
pub struct MailLinks {
    /// The site's address, without a trailing slash.
    base: String,
    key: [u8; 32],
}

impl MailLinks {
    pub fn new(base: &str, jwt_secret: &[u8]) -> MailLinks {
        use sha2::Digest;
        let key = sha2::Sha256::new()
            .chain_update(b"lyceum unsubscribe v1\0")
            .chain_update(jwt_secret)
            .finalize();
        MailLinks {
            base: base.trim_end_matches('/').to_owned(),
            key: key.into(),
        }
    }

    /// The MAC of a user and kind (HMAC takes a key of any length: `None`
    /// never happens).
    fn mac(&self, user: uuid::Uuid, kind: &str) -> Option<hmac::Hmac<sha2::Sha256>> {
        use hmac::Mac;
        let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.key).ok()?;
        mac.update(user.as_bytes());
        mac.update(b"\0");
        mac.update(kind.as_bytes());
        Some(mac)
    }

    /// The signature of an unsubscribe link (64 hex digits).
    pub fn signature(&self, user: uuid::Uuid, kind: &str) -> String {
        use hmac::Mac;
        self.mac(user, kind)
            .map(|m| hex::encode(m.finalize().into_bytes()))
            .unwrap_or_default()
    }

    /// Whether `sig` is this user's and kind's signature (in constant time).
    pub fn verify(&self, user: uuid::Uuid, kind: &str, sig: &str) -> bool {
        use hmac::Mac;
        match (hex::decode(sig), self.mac(user, kind)) {
            (Ok(bytes), Some(mac)) => mac.verify_slice(&bytes).is_ok(),
            _ => false,
        }
    }

    /// `{base}/unsubscribe?u=<user>&k=<kind>&s=<signature>`.
    pub fn unsubscribe_url(&self, user: uuid::Uuid, kind: &str) -> String {
        format!(
            "{}/unsubscribe?u={user}&k={kind}&s={}",
            self.base,
            self.signature(user, kind)
        )
    }

    /// An absolute address for a path of the site.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// What an email says at its end: the link to what it is about, how to stop
/// this kind of email (signed, no sign-in needed), and the signature.
pub fn email_footer(links: &MailLinks, user: uuid::Uuid, kind: Option<&str>, link: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(l) = link.filter(|l| !l.is_empty()) {
        out.push_str(&format!("\n\nRead it at {}", links.url(l)));
    }
    if let Some(k) = kind.filter(|k| !k.is_empty()) {
        out.push_str(&format!(
            "\n\nTo stop emails like this one, open {}\nor choose which emails you get on your notifications page.",
            links.unsubscribe_url(user, k)
        ));
    }
    out.push_str("\n\n\u{2014} Lyceum\n");
    out
}

/// Direct messages received while offline (seed 003): each becomes a
/// stored notification (`direct_message`, once per recipient and message)
/// and, when email is on and the recipient's preference allows, joins the
/// one pending digest email of that recipient (an outbox `dm_digest` job
/// due `digest_delay` after the first message; the partial unique index
/// `outbox_one_pending_digest` keeps it one).
pub struct OfflineMessages {
    pub pool: deadpool_postgres::Pool,
    /// Who is connected (this node's open WebSockets).
    pub realtime: std::sync::Weak<lyceum_actors::Realtime>,
    pub digest_delay: std::time::Duration,
    pub email: bool,
}

impl lyceum_actors::core::seams::DirectMessages for OfflineMessages {
    fn committed(&self, m: lyceum_actors::core::seams::DirectMessage) {
        let Some(rt) = self.realtime.upgrade() else { return };
        let offline: Vec<UserId> = m.recipients.iter().copied().filter(|u| !rt.is_online(*u)).collect();
        if offline.is_empty() {
            return;
        }
        let (pool, delay, email) = (self.pool.clone(), self.digest_delay, self.email);
        let fanout = rt.services.fanout.clone();
        actix_web::rt::spawn(async move {
            match store_offline(&pool, &m, &offline, delay, email).await {
                Ok(stored) => push(fanout.as_ref(), stored),
                Err(e) => tracing::warn!(room = %m.room, seq = m.seq, error = %e, "offline message notification"),
            }
        });
    }
}

async fn store_offline(
    pool: &deadpool_postgres::Pool,
    m: &lyceum_actors::core::seams::DirectMessage,
    offline: &[UserId],
    delay: std::time::Duration,
    email: bool,
) -> anyhow::Result<Vec<Stored>> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let name: String = match &m.sender_name {
        Some(n) => n.clone(),
        None => tx
            .query_opt("SELECT display_name FROM users WHERE id = $1", &[&m.sender])
            .await?
            .map(|r| r.get(0))
            .unwrap_or_default(),
    };
    let mut out = Vec::new();
    for user in offline {
        let note = Note {
            user: *user,
            kind: "direct_message",
            key: format!("direct_message:{}:{}", m.room, m.seq),
            payload: json!({"roomId": m.room, "seq": m.seq, "by": {"id": m.sender, "displayName": name}}),
            mail: false,
        };
        let Some(stored) = store(&tx, note).await? else {
            continue;
        };
        if email {
            // Joins the pending digest if there is one (the partial unique
            // index refuses a second; DO NOTHING keeps the first).
            tx.execute(
                "INSERT INTO outbox (kind, dedupe_key, user_id, payload, due_at)
                 SELECT 'dm_digest', $1, $2, '{}'::jsonb, now() + make_interval(secs => $3)
                  WHERE email_wanted($2, 'direct_message')
                 ON CONFLICT DO NOTHING",
                &[
                    &format!("dm_digest:{}:{}", user, uuid::Uuid::new_v4()),
                    user,
                    &(delay.as_secs_f64()),
                ],
            )
            .await?;
        }
        out.push(stored);
    }
    tx.commit().await?;
    Ok(out)
}

/// Pushes what was stored to the users' open connections. Call after the
/// transaction that stored them committed.
pub fn push(fanout: &dyn FanOut, stored: Vec<Stored>) {
    for s in stored {
        let frame = Event::Notification {
            id: json!(s.id),
            kind: s.kind.to_owned(),
            payload: s.payload,
        }
        .frame();
        fanout.to_user(s.user, frame.into());
    }
}
