//! What every chat actor shares: the database pool, the limits, the hub, the
//! registry of running rooms and the per-user send rate limiter.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::{Actor, Addr};
use deadpool_postgres::Pool;
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::calendar::Calendar;
use crate::calls::Calls;
use crate::hub::Hub;
use crate::ids::{LiveId, RoomId, UserId};
use crate::live::{GroupSession, LiveKind};
use crate::room::ChatRoom;
use lyceum_protocol::Role;
use lyceum_sfu::Sfu;

/// Who is on the other end of a session: established once, at upgrade.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: UserId,
    pub role: Role,
    pub display_name: String,
    /// Guests may only ever touch this room.
    pub guest_room: Option<RoomId>,
    /// When the credential behind a WebSocket session expires (Unix
    /// seconds); the session ends then unless the client re-authenticates.
    /// None for commands the server issues itself.
    pub expires_at: Option<i64>,
}

/// Checks a fresh access token for `reauth`: its user and expiry, or why not.
pub type TokenVerifier = Arc<dyn Fn(&str) -> Result<(UserId, i64), String> + Send + Sync>;

#[derive(Debug, Clone)]
pub struct ChatLimits {
    /// Largest message body or ciphertext, in bytes.
    pub max_message_bytes: usize,
    /// Largest WebSocket frame accepted from a client.
    pub max_frame_bytes: usize,
    /// Frames queued for one client before it is cut off as a slow consumer.
    pub outbound_queue: usize,
    /// Sends per user per second, and the burst allowed above it.
    pub messages_per_second: u32,
    pub message_burst: u32,
    pub guest_messages_per_second: u32,
    pub guest_message_burst: u32,
    /// Where uploaded attachments are kept.
    pub attachments_dir: PathBuf,
    pub max_attachment_bytes: usize,
    pub attachment_types: Vec<String>,
}

pub struct ChatContext {
    pub pool: Pool,
    pub verify_token: TokenVerifier,
    pub limits: ChatLimits,
    pub hub: Addr<Hub>,
    rooms: Mutex<HashMap<RoomId, (u64, Addr<ChatRoom>)>>,
    /// Calendar actors by mentor. They hold little (watchers, a queue) and
    /// stay for the life of the process.
    calendars: Mutex<HashMap<UserId, Addr<Calendar>>>,
    next_generation: std::sync::atomic::AtomicU64,
    send_limit: DefaultKeyedRateLimiter<UserId>,
    guest_send_limit: DefaultKeyedRateLimiter<UserId>,
    /// Live rooms (group sessions, room calls, one-on-one calls) by id.
    live: Mutex<HashMap<LiveId, (u64, Addr<GroupSession>)>>,
    sfu: std::sync::OnceLock<Arc<Sfu>>,
    calls: std::sync::OnceLock<Addr<Calls>>,
}

fn quota(per_second: u32, burst: u32) -> Quota {
    let rate = NonZeroU32::new(per_second.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(rate).allow_burst(burst)
}

impl ChatContext {
    /// Must be called inside an actix system (it starts the hub).
    pub fn new(pool: Pool, limits: ChatLimits, verify_token: TokenVerifier) -> Arc<ChatContext> {
        let hub = Hub::new(pool.clone()).start();
        Arc::new(ChatContext {
            send_limit: DefaultKeyedRateLimiter::keyed(quota(limits.messages_per_second, limits.message_burst)),
            guest_send_limit: DefaultKeyedRateLimiter::keyed(quota(
                limits.guest_messages_per_second,
                limits.guest_message_burst,
            )),
            pool,
            verify_token,
            limits,
            hub,
            rooms: Mutex::new(HashMap::new()),
            calendars: Mutex::new(HashMap::new()),
            live: Mutex::new(HashMap::new()),
            sfu: std::sync::OnceLock::new(),
            calls: std::sync::OnceLock::new(),
            next_generation: std::sync::atomic::AtomicU64::new(1),
        })
    }

    /// The running actor of a room, started (and loading itself) if needed.
    pub fn room(self: &Arc<Self>, id: RoomId) -> Addr<ChatRoom> {
        let mut rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, addr)) = rooms.get(&id) {
            if addr.connected() {
                return addr.clone();
            }
        }
        let generation = self.next_generation.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let addr = ChatRoom::new(id, generation, self.clone()).start();
        rooms.insert(id, (generation, addr.clone()));
        addr
    }

    /// The calendar actor of a mentor, started if needed.
    pub fn calendar(self: &Arc<Self>, mentor: UserId) -> Addr<Calendar> {
        let mut cals = self.calendars.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(a) = cals.get(&mentor).filter(|a| a.connected()) {
            return a.clone();
        }
        let addr = Calendar::new(mentor, self.clone()).start();
        cals.insert(mentor, addr.clone());
        addr
    }

    /// The room's actor only if it is already running (for notifications
    /// that need not wake a room).
    pub fn running_room(&self, id: RoomId) -> Option<Addr<ChatRoom>> {
        let rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
        rooms.get(&id).filter(|(_, a)| a.connected()).map(|(_, a)| a.clone())
    }

    /// A room forgets itself when it stops; a newer generation is left alone.
    pub(crate) fn forget_room(&self, id: RoomId, generation: u64) {
        let mut rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
        if rooms.get(&id).is_some_and(|(g, _)| *g == generation) {
            rooms.remove(&id);
        }
    }

    /// Gives the live rooms their media server (once, at start-up).
    pub fn set_sfu(&self, sfu: Arc<Sfu>) {
        let _ = self.sfu.set(sfu);
    }

    pub fn sfu(&self) -> Option<&Arc<Sfu>> {
        self.sfu.get()
    }

    /// The calls actor, started on first use (inside an actix system).
    pub fn calls(self: &Arc<Self>) -> Addr<Calls> {
        self.calls.get_or_init(|| Calls::new(self.clone()).start()).clone()
    }

    /// The live room with this id, started if needed; `kind` presets what
    /// it is (calls), otherwise it finds out from the database.
    pub fn live(self: &Arc<Self>, id: LiveId, kind: Option<LiveKind>) -> Addr<GroupSession> {
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, a)) = live.get(&id).filter(|(_, a)| a.connected()) {
            return a.clone();
        }
        let generation = self.next_generation.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let addr = GroupSession::new(id, generation, self.clone(), kind).start();
        live.insert(id, (generation, addr.clone()));
        addr
    }

    pub fn running_live(&self, id: LiveId) -> Option<Addr<GroupSession>> {
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.get(&id).filter(|(_, a)| a.connected()).map(|(_, a)| a.clone())
    }

    pub(crate) fn forget_live(&self, id: LiveId, generation: u64) {
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        if live.get(&id).is_some_and(|(g, _)| *g == generation) {
            live.remove(&id);
        }
    }

    pub fn running_rooms(&self) -> usize {
        self.rooms.lock().map(|r| r.len()).unwrap_or(0)
    }

    /// Counts one send; `Err(wait)` when over the user's rate.
    pub fn check_send_rate(&self, who: &Principal) -> Result<(), Duration> {
        let limiter = if who.role == Role::Guest {
            &self.guest_send_limit
        } else {
            &self.send_limit
        };
        limiter.check_key(&who.user).map_err(|nu| {
            use governor::clock::Clock;
            nu.wait_time_from(governor::clock::DefaultClock::default().now())
        })
    }
}
