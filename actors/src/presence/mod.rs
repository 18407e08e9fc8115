//! The Hub: which users are connected, through which connections. It owns
//! presence (online while any of a user's connections is, last seen
//! otherwise), tells it to the people who share a room with the user, and
//! delivers events addressed to a user rather than to a room: on one node
//! it is the [`FanOut`](crate::core::FanOut) (see [`HubFanOut`]).

use std::collections::HashMap;

use actix::prelude::*;
use chrono::Utc;
use deadpool_postgres::Pool;
use uuid::Uuid;

use bytestring::ByteString;

use crate::core::outbox::Outbox;
use crate::core::FanOut;
use crate::protocol;
use lyceum_protocol::UserId;

/// Messages queued for the Hub. Connects and disconnects (one each per
/// connection) always go in; frames for users ([`ToUser`]) are dropped when
/// the Hub is this far behind, and counted, like any frame for a user who
/// is not connected: what must not be lost was stored first.
pub const MAILBOX: usize = 65_536;

pub struct Hub {
    pool: Pool,
    sessions: HashMap<UserId, Vec<(u64, Outbox)>>,
}

impl Hub {
    pub fn new(pool: Pool) -> Hub {
        Hub {
            pool,
            sessions: HashMap::new(),
        }
    }

    fn push_to(&self, user: UserId, frame: &ByteString) {
        if let Some(list) = self.sessions.get(&user) {
            for (_, o) in list {
                o.text(frame.clone());
            }
        }
    }
}

impl Actor for Hub {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(MAILBOX);
    }
}

/// The in-process fan-out: frames for a user go to this node's Hub.
pub struct HubFanOut {
    hub: Addr<Hub>,
    /// Frames dropped because the Hub's mailbox was full.
    pub dropped: std::sync::atomic::AtomicU64,
}

impl HubFanOut {
    pub fn new(hub: Addr<Hub>) -> HubFanOut {
        HubFanOut {
            hub,
            dropped: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl FanOut for HubFanOut {
    fn to_user(&self, user: UserId, frame: ByteString) {
        if self.hub.try_send(ToUser { user, frame }).is_err() {
            self.dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::warn!(user = %user, "hub mailbox full: a frame for a user was dropped");
        }
    }
}

/// A connection opened.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Connect {
    pub user: UserId,
    pub conn: u64,
    pub outbox: Outbox,
}

/// A connection closed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Disconnect {
    pub user: UserId,
    pub conn: u64,
}

/// Deliver a frame to every connection of a user.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ToUser {
    pub user: UserId,
    pub frame: ByteString,
}

/// Which of these users are online now.
#[derive(Message)]
#[rtype(result = "Vec<UserId>")]
pub struct Online(pub Vec<UserId>);

/// Everyone who shares at least one room with `user`.
async fn co_members(pool: Pool, user: UserId) -> Vec<UserId> {
    let Ok(client) = pool.get().await else { return vec![] };
    client
        .query(
            "SELECT DISTINCT b.user_id FROM room_members a JOIN room_members b ON a.room_id = b.room_id
              WHERE a.user_id = $1 AND b.user_id <> $1",
            &[&user.0],
        )
        .await
        .map(|rows| rows.iter().map(|r| UserId(r.get::<_, Uuid>(0))).collect())
        .unwrap_or_default()
}

impl Handler<Connect> for Hub {
    type Result = ();

    fn handle(&mut self, msg: Connect, ctx: &mut Context<Self>) {
        let list = self.sessions.entry(msg.user).or_default();
        let first = list.is_empty();
        list.push((msg.conn, msg.outbox.clone()));
        let pool = self.pool.clone();
        let user = msg.user;
        let outbox = msg.outbox;
        ctx.spawn(
            actix::fut::wrap_future(co_members(pool, user)).map(move |peers, hub: &mut Hub, _| {
                // The new connection learns who of its contacts is online...
                for p in &peers {
                    if hub.sessions.contains_key(p) {
                        outbox.text(
                            protocol::Event::Presence {
                                user_id: *p,
                                online: true,
                                last_seen: None,
                            }
                            .frame(),
                        );
                    }
                }
                // ...and they learn that this user came online.
                if first && hub.sessions.contains_key(&user) {
                    let frame = ByteString::from(
                        protocol::Event::Presence {
                            user_id: user,
                            online: true,
                            last_seen: None,
                        }
                        .frame(),
                    );
                    for p in &peers {
                        hub.push_to(*p, &frame);
                    }
                }
            }),
        );
    }
}

impl Handler<Disconnect> for Hub {
    type Result = ();

    fn handle(&mut self, msg: Disconnect, ctx: &mut Context<Self>) {
        let Some(list) = self.sessions.get_mut(&msg.user) else {
            return;
        };
        list.retain(|(s, _)| *s != msg.conn);
        if !list.is_empty() {
            return;
        }
        self.sessions.remove(&msg.user);
        let pool = self.pool.clone();
        let user = msg.user;
        let now = Utc::now();
        let fut = async move {
            if let Ok(c) = pool.get().await {
                let _ = c
                    .execute("UPDATE users SET last_seen_at = $2 WHERE id = $1", &[&user.0, &now])
                    .await;
            }
            co_members(pool, user).await
        };
        ctx.spawn(actix::fut::wrap_future(fut).map(move |peers, hub: &mut Hub, _| {
            // Reconnected in the meantime: still online, nothing to say.
            if hub.sessions.contains_key(&user) {
                return;
            }
            let frame = ByteString::from(
                protocol::Event::Presence {
                    user_id: user,
                    online: false,
                    last_seen: Some(now),
                }
                .frame(),
            );
            for p in &peers {
                hub.push_to(*p, &frame);
            }
        }));
    }
}

impl Handler<ToUser> for Hub {
    type Result = ();

    fn handle(&mut self, msg: ToUser, _: &mut Context<Self>) {
        self.push_to(msg.user, &msg.frame);
    }
}

impl Handler<Online> for Hub {
    type Result = MessageResult<Online>;

    fn handle(&mut self, msg: Online, _: &mut Context<Self>) -> Self::Result {
        MessageResult(msg.0.into_iter().filter(|u| self.sessions.contains_key(u)).collect())
    }
}
