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
        let (subject, text) = email_text(note.kind, &note.payload);
        client
            .execute(
                "INSERT INTO outbox (kind, dedupe_key, user_id, payload, due_at)
                 SELECT 'email', $1, u.id,
                        jsonb_build_object('to', u.email, 'subject', $2::text,
                                           'body', 'Hello ' || u.display_name || E',\n\n' || $3::text || E'\n\n— Lyceum\n'),
                        now()
                   FROM users u
                  WHERE u.id = $4 AND email_wanted(u.id, $5)
                 ON CONFLICT (dedupe_key) DO NOTHING",
                &[&format!("email:{}:{}", note.key, note.user), &subject, &text, &note.user, &note.kind],
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

/// The subject and text of a notification's email.
fn email_text(kind: &str, payload: &Value) -> (String, String) {
    let title = payload["title"].as_str().unwrap_or("a thread");
    let by = payload["by"]["displayName"].as_str().unwrap_or("Someone");
    let subject = match kind {
        "board_reply" => format!("{by} replied in \u{201c}{title}\u{201d}"),
        "board_mention" => format!("{by} mentioned you in \u{201c}{title}\u{201d}"),
        "board_answer_accepted" => format!("Your answer in \u{201c}{title}\u{201d} was accepted"),
        "board_moderation" => format!("A moderator acted on your post in \u{201c}{title}\u{201d}"),
        // Mentorships and reviews: their title says it in words already.
        k if k.starts_with("mentorship_") || k.starts_with("review_") => title.to_owned(),
        other => format!("Lyceum: {}", other.replace('_', " ")),
    };
    let see = if let Some(t) = payload["threadId"].as_str() {
        Some(format!("Read it at /boards/threads/{t}"))
    } else if kind.starts_with("mentorship_") {
        Some("See it at /mentorships".to_owned())
    } else if payload["about"] == "mentor" {
        // A review of a mentor, and its reply, are on the mentor's page.
        payload["mentorId"].as_str().map(|m| format!("See it at /mentors/{m}"))
    } else {
        None
    };
    let link = see.map(|p| format!("\n\n{p}")).unwrap_or_default();
    (
        subject.clone(),
        format!("{subject}.{link}\n\nChoose which emails you get in your notification preferences."),
    )
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
