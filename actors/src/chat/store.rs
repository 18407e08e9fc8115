//! Chat persistence: loading a room, committing a batch of events in one
//! transaction (group commit), and reading the stream back.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::core::Error;
use crate::protocol::MessageEvent;
use lyceum_protocol::{ErrorCode, Role, RoomId, UserId};

/// How many stream events one catch-up or history read returns at most.
pub const PAGE_MAX: i64 = 500;

#[derive(Debug, Clone)]
pub struct RoomMeta {
    pub kind: String,
    pub visibility: String,
    pub allow_guests: bool,
    pub e2ee: bool,
    pub last_seq: i64,
    /// A group session's room: its members follow the bookings.
    pub session: bool,
}

#[derive(Debug, Clone)]
pub struct Member {
    pub room_role: String,
    pub platform_role: Role,
    pub display_name: String,
    pub muted_until: Option<DateTime<Utc>>,
    pub last_read_seq: i64,
}

impl Member {
    /// Room owners and moderators, and platform admins, may moderate.
    pub fn can_moderate(&self) -> bool {
        self.room_role != "member" || self.platform_role == Role::Admin
    }
}

pub async fn load_member(pool: &Pool, room: RoomId, user: UserId) -> Result<Option<Member>, Error> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT m.role, u.role, u.display_name, m.muted_until, m.last_read_seq
               FROM room_members m JOIN users u ON u.id = m.user_id
              WHERE m.room_id = $1 AND m.user_id = $2",
            &[&room.0, &user.0],
        )
        .await?;
    Ok(row.map(|r| Member {
        room_role: r.get(0),
        platform_role: r.get::<_, String>(1).parse().unwrap_or(Role::Mentee),
        display_name: r.get(2),
        muted_until: r.get(3),
        last_read_seq: r.get(4),
    }))
}

pub async fn load_room(pool: &Pool, room: RoomId) -> Result<Option<(RoomMeta, HashMap<UserId, Member>)>, Error> {
    let client = pool.get().await?;
    let Some(r) = client
        .query_opt(
            "SELECT kind, visibility, allow_guests, e2ee, last_seq, offering_id IS NOT NULL FROM rooms WHERE id = $1",
            &[&room.0],
        )
        .await?
    else {
        return Ok(None);
    };
    let meta = RoomMeta {
        kind: r.get(0),
        visibility: r.get(1),
        allow_guests: r.get(2),
        e2ee: r.get(3),
        last_seq: r.get(4),
        session: r.get(5),
    };
    let rows = client
        .query(
            "SELECT m.user_id, m.role, u.role, u.display_name, m.muted_until, m.last_read_seq
               FROM room_members m JOIN users u ON u.id = m.user_id WHERE m.room_id = $1",
            &[&room.0],
        )
        .await?;
    let members = rows
        .iter()
        .map(|r| {
            (
                UserId(r.get(0)),
                Member {
                    room_role: r.get(1),
                    platform_role: r.get::<_, String>(2).parse().unwrap_or(Role::Mentee),
                    display_name: r.get(3),
                    muted_until: r.get(4),
                    last_read_seq: r.get(5),
                },
            )
        })
        .collect();
    Ok(Some((meta, members)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Message,
    Edit,
    Delete,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Message => "message",
            Kind::Edit => "edit",
            Kind::Delete => "delete",
        }
    }
}

/// An event waiting for the next group commit.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub sender: UserId,
    /// May delete other people's messages.
    pub moderator: bool,
    pub client_msg_id: Option<String>,
    pub kind: Kind,
    pub body: Option<String>,
    pub ciphertext: Option<String>,
    pub attachments: Vec<Uuid>,
    pub target_seq: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct Committed {
    pub seq: i64,
    /// The send was a resend of an already committed message.
    pub duplicate: bool,
    /// The new event (None for a duplicate).
    pub event: Option<MessageEvent>,
}

/// Whether a text field of the event holds a NUL character.
fn has_nul(item: &NewEvent) -> bool {
    [&item.client_msg_id, &item.body, &item.ciphertext]
        .iter()
        .any(|f| f.as_deref().is_some_and(|t| t.contains('\0')))
}

/// Commits a batch in one transaction. The room row is locked first, so
/// concurrent writers (other nodes) take turns and seqs have no gaps. Each
/// item gets its own outcome; one bad item does not fail the others.
pub async fn commit_batch(
    pool: &Pool,
    room: RoomId,
    items: &[NewEvent],
) -> Result<Vec<Result<Committed, Error>>, Error> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    // The hot statements are prepared once per connection (no parse and
    // plan per batch: with many small rooms each batch is one message).
    let lock = tx
        .prepare_cached("SELECT last_seq FROM rooms WHERE id = $1 FOR UPDATE")
        .await?;
    let last_seq: i64 = tx
        .query_opt(&lock, &[&room.0])
        .await?
        .ok_or_else(|| Error::new(ErrorCode::RoomNotFound, "the room no longer exists"))?
        .get(0);
    let mut out: Vec<Option<Result<Committed, Error>>> = vec![None; items.len()];
    // Items repeating an earlier item's client message id in this batch.
    let mut dup_of: HashMap<usize, usize> = HashMap::new();

    // Postgres cannot store a NUL in text: such an item is refused on its
    // own (the edge refuses them first; this keeps the batch's promise).
    let bad_text: Vec<bool> = items.iter().map(has_nul).collect();
    // Idempotency: client message ids already committed, or repeated in this batch.
    let cmids: Vec<String> = items
        .iter()
        .zip(&bad_text)
        .filter(|(_, bad)| !**bad)
        .filter_map(|(i, _)| i.client_msg_id.clone())
        .collect();
    let mut known: HashMap<(Uuid, String), i64> = HashMap::new();
    if !cmids.is_empty() {
        let st = tx
            .prepare_cached(
                "SELECT sender_id, client_msg_id, seq FROM messages
                  WHERE room_id = $1 AND client_msg_id = ANY($2) AND sender_id IS NOT NULL",
            )
            .await?;
        for r in tx.query(&st, &[&room.0, &cmids]).await? {
            known.insert((r.get(0), r.get(1)), r.get(2));
        }
    }

    // Edits and deletions must name a live message the sender may change.
    let targets: Vec<i64> = items
        .iter()
        .zip(&bad_text)
        .filter(|(_, bad)| !**bad)
        .filter_map(|(i, _)| i.target_seq)
        .collect();
    let mut target_rows: HashMap<i64, (Option<Uuid>, String, bool)> = HashMap::new();
    if !targets.is_empty() {
        for r in tx
            .query(
                "SELECT seq, sender_id, kind, deleted_at IS NOT NULL FROM messages
                  WHERE room_id = $1 AND seq = ANY($2) FOR UPDATE",
                &[&room.0, &targets],
            )
            .await?
        {
            target_rows.insert(r.get(0), (r.get(1), r.get(2), r.get(3)));
        }
    }

    // Attachments must have been uploaded into this room.
    let att_ids: Vec<Uuid> = items.iter().flat_map(|i| i.attachments.iter().copied()).collect();
    let mut att_rows: HashMap<Uuid, Value> = HashMap::new();
    if !att_ids.is_empty() {
        for r in tx
            .query(
                "SELECT id, file_name, content_type, size_bytes FROM attachments WHERE room_id = $1 AND id = ANY($2)",
                &[&room.0, &att_ids],
            )
            .await?
        {
            let id: Uuid = r.get(0);
            att_rows.insert(
                id,
                json!({"id": id, "fileName": r.get::<_, String>(1), "contentType": r.get::<_, String>(2),
                       "size": r.get::<_, i64>(3), "url": format!("/api/attachments/{id}")}),
            );
        }
    }

    let now = Utc::now();
    let mut next = last_seq;
    let mut new_idx: Vec<usize> = Vec::new();
    let mut batch_cmids: HashMap<(Uuid, String), usize> = HashMap::new();
    let mut attachments_of: HashMap<usize, Value> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        if bad_text[i] {
            out[i] = Some(Err(Error::new(
                ErrorCode::InvalidText,
                "text must not contain NUL (U+0000) characters",
            )));
            continue;
        }
        if let Some(c) = &item.client_msg_id {
            let key = (item.sender.0, c.clone());
            if let Some(seq) = known.get(&key) {
                out[i] = Some(Ok(Committed {
                    seq: *seq,
                    duplicate: true,
                    event: None,
                }));
                continue;
            }
            if let Some(&j) = batch_cmids.get(&key) {
                // Answered below with item j's outcome.
                dup_of.insert(i, j);
                continue;
            }
        }
        if let Some(t) = item.target_seq {
            let verdict = match target_rows.get(&t) {
                None => Err(Error::new(
                    ErrorCode::MessageNotFound,
                    format!("no message {t} in this room"),
                )),
                Some((_, kind, _)) if kind != "message" => {
                    Err(Error::new(ErrorCode::MessageNotFound, format!("{t} is not a message")))
                }
                Some((_, _, true)) => Err(Error::new(
                    ErrorCode::MessageNotFound,
                    format!("message {t} was deleted"),
                )),
                Some((author, _, _)) => {
                    let own = *author == Some(item.sender.0);
                    let allowed = own || (item.kind == Kind::Delete && item.moderator);
                    if allowed {
                        Ok(())
                    } else {
                        Err(Error::new(
                            ErrorCode::Forbidden,
                            "only the author may change this message",
                        ))
                    }
                }
            };
            if let Err(e) = verdict {
                out[i] = Some(Err(e));
                continue;
            }
            if item.kind == Kind::Delete {
                // A deleted message cannot be edited or deleted again later in this batch.
                if let Some(row) = target_rows.get_mut(&t) {
                    row.2 = true;
                }
            }
        }
        let mut atts = Vec::new();
        for a in &item.attachments {
            match att_rows.get(a) {
                Some(v) => atts.push(v.clone()),
                None => {
                    out[i] = Some(Err(Error::new(
                        ErrorCode::InvalidCommand,
                        format!("attachment {a} is not in this room"),
                    )));
                    break;
                }
            }
        }
        if out[i].is_some() {
            continue;
        }
        attachments_of.insert(i, Value::Array(atts));
        if let Some(c) = &item.client_msg_id {
            batch_cmids.insert((item.sender.0, c.clone()), i);
        }
        next += 1;
        new_idx.push(i);
        out[i] = Some(Ok(Committed {
            seq: next,
            duplicate: false,
            event: Some(MessageEvent {
                room_id: room,
                seq: next,
                kind: item.kind.as_str().to_owned(),
                sender_id: Some(item.sender),
                sender_name: None,
                client_msg_id: item.client_msg_id.clone(),
                body: item.body.clone(),
                ciphertext: item.ciphertext.clone(),
                attachments: attachments_of.get(&i).cloned().unwrap_or(Value::Array(vec![])),
                target_seq: item.target_seq,
                created_at: now,
                edited_at: None,
                deleted_at: None,
            }),
        }));
    }

    if !new_idx.is_empty() {
        let seqs: Vec<i64> = new_idx
            .iter()
            .map(|&i| match &out[i] {
                Some(Ok(c)) => c.seq,
                _ => 0,
            })
            .collect();
        let senders: Vec<Uuid> = new_idx.iter().map(|&i| items[i].sender.0).collect();
        let cm: Vec<Option<String>> = new_idx.iter().map(|&i| items[i].client_msg_id.clone()).collect();
        let kinds: Vec<&str> = new_idx.iter().map(|&i| items[i].kind.as_str()).collect();
        let bodies: Vec<Option<String>> = new_idx.iter().map(|&i| items[i].body.clone()).collect();
        let ciphers: Vec<Option<String>> = new_idx.iter().map(|&i| items[i].ciphertext.clone()).collect();
        let atts: Vec<Value> = new_idx
            .iter()
            .map(|i| attachments_of.get(i).cloned().unwrap_or(Value::Array(vec![])))
            .collect();
        let tseqs: Vec<Option<i64>> = new_idx.iter().map(|&i| items[i].target_seq).collect();
        let insert = tx
            .prepare_cached(
                "INSERT INTO messages (room_id, seq, sender_id, client_msg_id, kind, body, ciphertext, attachments, target_seq, created_at)
                 SELECT $1, u.*, $10::timestamptz
                   FROM UNNEST($2::bigint[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::jsonb[], $9::bigint[]) AS u",
            )
            .await?;
        tx.execute(
            &insert,
            &[
                &room.0, &seqs, &senders, &cm, &kinds, &bodies, &ciphers, &atts, &tseqs, &now,
            ],
        )
        .await?;
        let advance = tx
            .prepare_cached("UPDATE rooms SET last_seq = $2 WHERE id = $1")
            .await?;
        tx.execute(&advance, &[&room.0, &next]).await?;
        for &i in &new_idx {
            let item = &items[i];
            match (item.kind, item.target_seq) {
                (Kind::Edit, Some(t)) => {
                    tx.execute(
                        "UPDATE messages SET body = $3, ciphertext = $4, edited_at = $5 WHERE room_id = $1 AND seq = $2",
                        &[&room.0, &t, &item.body, &item.ciphertext, &now],
                    )
                    .await?;
                }
                (Kind::Delete, Some(t)) => {
                    tx.execute(
                        "UPDATE messages SET body = NULL, ciphertext = NULL, attachments = '[]', deleted_at = $3
                          WHERE room_id = $1 AND seq = $2",
                        &[&room.0, &t, &now],
                    )
                    .await?;
                }
                _ => {}
            }
        }
    }
    tx.commit().await?;

    // Repeats inside the batch answer with their first occurrence's seq
    // (j < i, so it is already resolved).
    let mut done: Vec<Result<Committed, Error>> = Vec::with_capacity(items.len());
    for (i, slot) in out.into_iter().enumerate() {
        let r = match (slot, dup_of.get(&i)) {
            (Some(r), _) => r,
            (None, Some(&j)) => match &done[j] {
                Ok(c) => Ok(Committed {
                    seq: c.seq,
                    duplicate: true,
                    event: None,
                }),
                Err(e) => Err(e.clone()),
            },
            (None, None) => Err(Error::internal("batch item without outcome")),
        };
        done.push(r);
    }
    Ok(done)
}

fn event_from_row(room: RoomId, r: &tokio_postgres::Row) -> MessageEvent {
    MessageEvent {
        room_id: room,
        seq: r.get("seq"),
        kind: r.get("kind"),
        sender_id: r.get::<_, Option<Uuid>>("sender_id").map(UserId),
        sender_name: r.get("display_name"),
        client_msg_id: r.get("client_msg_id"),
        body: r.get("body"),
        ciphertext: r.get("ciphertext"),
        attachments: r.get("attachments"),
        target_seq: r.get("target_seq"),
        created_at: r.get("created_at"),
        edited_at: r.get("edited_at"),
        deleted_at: r.get("deleted_at"),
    }
}

const EVENT_COLUMNS: &str = "m.seq, m.kind, m.sender_id, u.display_name, m.client_msg_id, m.body, m.ciphertext,
     m.attachments, m.target_seq, m.created_at, m.edited_at, m.deleted_at";

/// Events with `after < seq <= upto`, oldest first, at most `limit`.
pub async fn range(pool: &Pool, room: RoomId, after: i64, upto: i64, limit: i64) -> Result<Vec<MessageEvent>, Error> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM messages m LEFT JOIN users u ON u.id = m.sender_id
              WHERE m.room_id = $1 AND m.seq > $2 AND m.seq <= $3 ORDER BY m.seq LIMIT $4"
        ))
        .await?;
    let rows = client.query(&stmt, &[&room.0, &after, &upto, &limit]).await?;
    Ok(rows.iter().map(|r| event_from_row(room, r)).collect())
}

/// A page of history: the `limit` events just before `before` (newest
/// last), or just after `after`; the latest page when neither is given.
pub async fn history(
    pool: &Pool,
    room: RoomId,
    before: Option<i64>,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<MessageEvent>, Error> {
    let limit = limit.clamp(1, PAGE_MAX);
    if let Some(after) = after {
        return range(pool, room, after, i64::MAX, limit).await;
    }
    let client = pool.get().await?;
    let before = before.unwrap_or(i64::MAX);
    let stmt = client
        .prepare_cached(&format!(
            "SELECT * FROM (SELECT {EVENT_COLUMNS} FROM messages m LEFT JOIN users u ON u.id = m.sender_id
              WHERE m.room_id = $1 AND m.seq < $2 ORDER BY m.seq DESC LIMIT $3) page ORDER BY seq"
        ))
        .await?;
    let rows = client.query(&stmt, &[&room.0, &before, &limit]).await?;
    Ok(rows.iter().map(|r| event_from_row(room, r)).collect())
}

/// Moves a read pointer forward (never back); returns the pointer now stored.
pub async fn mark_read(pool: &Pool, room: RoomId, user: UserId, seq: i64) -> Result<i64, Error> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "UPDATE room_members SET last_read_seq = GREATEST(last_read_seq, LEAST($3, r.last_seq))
               FROM rooms r
              WHERE room_members.room_id = $1 AND room_members.user_id = $2 AND r.id = $1
             RETURNING room_members.last_read_seq",
            &[&room.0, &user.0, &seq],
        )
        .await?;
    row.map(|r| r.get(0)).ok_or_else(Error::not_member)
}
