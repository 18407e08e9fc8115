//! The bounded queue between everything that talks to a WebSocket client and
//! the task that writes to its socket.
//!
//! Rooms serialise an event once and push the same bytes into every
//! subscriber's outbox. The queue has a fixed bound: when a client stops
//! reading, its socket buffers fill, the writer task blocks, the queue fills,
//! and the next push trips `overflow`, upon which the writer closes the
//! connection with `CLOSE_SLOW_CONSUMER`. Memory per connection stays bounded.
//!
//! Bulk senders (a room catching a subscriber up) do not push blindly: they
//! push a page, then wait with [`Outbox::room_for`] until the writer has
//! drained the queue below a watermark. A client that reads is therefore
//! never cut off by a catch-up, however far behind it starts; one that reads
//! nothing at all (the writer takes no frame for a stall time) is.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::web::Bytes;
use actix_ws::{CloseCode, CloseReason};
use bytestring::ByteString;
use tokio::sync::{mpsc, Notify};

/// Close code: the client did not read fast enough (private-use range).
pub const CLOSE_SLOW_CONSUMER: u16 = 4008;
/// Close code: no frame from the client within `CLIENT_TIMEOUT`.
pub const CLOSE_IDLE_TIMEOUT: u16 = 4001;
/// Close code: the access token behind the connection expired.
pub const CLOSE_TOKEN_EXPIRED: u16 = 4003;
/// Close code: the access token behind the connection was revoked (its
/// sign-in signed out, its user signed out everywhere or had their role
/// changed); a `session_revoked` event comes first.
pub const CLOSE_TOKEN_REVOKED: u16 = 4004;
/// Close code: too many malformed frames.
pub const CLOSE_POLICY: u16 = 1008;
/// Close code: a frame over the size limit (RFC 6455's "message too big").
pub const CLOSE_TOO_BIG: u16 = 1009;
/// How long a close frame may take to get out before the socket is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub enum Outbound {
    Text(ByteString),
    Ping,
    Pong(Bytes),
    Close(u16, String),
}

/// How often a waiting bulk sender looks at the queue again, should a
/// wake-up from the writer have been missed.
const FLOW_RECHECK: Duration = Duration::from_millis(25);

/// The writer's progress, for senders waiting for the queue to drain.
#[derive(Default)]
struct Flow {
    /// Frames the writer has taken off the queue.
    taken: AtomicU64,
    /// Bulk senders waiting in `room_for`.
    waiters: AtomicUsize,
    drained: Notify,
}

impl Flow {
    fn took_one(&self) {
        self.taken.fetch_add(1, Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) > 0 {
            self.drained.notify_waiters();
        }
    }
}

/// What a bulk sender waiting for room in the queue learns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drain {
    /// The frames fit below the watermark now.
    Ready,
    /// The connection is gone.
    Closed,
    /// The writer took no frame for the whole stall time: the client does
    /// not read.
    Stalled,
}

#[derive(Clone)]
pub struct Outbox {
    tx: mpsc::Sender<Outbound>,
    overflow: Arc<Notify>,
    flow: Arc<Flow>,
}

impl Outbox {
    /// Pushes without waiting. `false` when the queue is full (the writer is
    /// told to cut the client off) or the connection is gone.
    pub fn push(&self, item: Outbound) -> bool {
        match self.tx.try_send(item) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.overflow.notify_one();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    pub fn text(&self, s: impl Into<ByteString>) -> bool {
        self.push(Outbound::Text(s.into()))
    }

    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// The queue's bound, in frames.
    pub fn capacity(&self) -> usize {
        self.tx.max_capacity()
    }

    /// Frames queued and not yet taken by the writer.
    pub fn queued(&self) -> usize {
        self.tx.max_capacity().saturating_sub(self.tx.capacity())
    }

    /// Cuts the client off as a slow consumer (close 4008), as a full queue does.
    pub fn cut_off(&self) {
        self.overflow.notify_one();
    }

    /// Waits until `n` more frames fit with at most `watermark` queued.
    /// Ends `Stalled` when the writer takes no frame for `stall`, `Closed`
    /// when the connection is gone.
    pub async fn room_for(&self, n: usize, watermark: usize, stall: Duration) -> Drain {
        let mut taken = self.flow.taken.load(Ordering::SeqCst);
        let mut progress = Instant::now();
        loop {
            // Registered before the check, so a drain after it wakes us.
            let drained = self.flow.drained.notified();
            self.flow.waiters.fetch_add(1, Ordering::SeqCst);
            let ready = self.queued() + n <= watermark;
            if !ready && !self.tx.is_closed() {
                let _ = tokio::time::timeout(FLOW_RECHECK, drained).await;
            }
            self.flow.waiters.fetch_sub(1, Ordering::SeqCst);
            if self.tx.is_closed() {
                return Drain::Closed;
            }
            if ready || self.queued() + n <= watermark {
                return Drain::Ready;
            }
            let now = self.flow.taken.load(Ordering::SeqCst);
            if now != taken {
                taken = now;
                progress = Instant::now();
            } else if progress.elapsed() >= stall {
                return Drain::Stalled;
            }
        }
    }

    /// An outbox read by the caller instead of a socket: how HTTP handlers
    /// send a command down the same path as WebSocket clients and await the
    /// answer.
    pub fn detached(capacity: usize) -> (Outbox, mpsc::Receiver<Outbound>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (
            Outbox {
                tx,
                overflow: Arc::new(Notify::new()),
                flow: Arc::new(Flow::default()),
            },
            rx,
        )
    }
}

/// Creates an outbox of `capacity` frames and spawns its writer on the
/// current arbiter. The writer ends (dropping the socket) on close, overflow
/// or a dead connection.
pub fn spawn_writer(mut conn: actix_ws::Session, capacity: usize) -> Outbox {
    let (tx, mut rx) = mpsc::channel::<Outbound>(capacity.max(1));
    let overflow = Arc::new(Notify::new());
    let tripped = overflow.clone();
    let flow = Arc::new(Flow::default());
    let progress = flow.clone();
    actix_web::rt::spawn(async move {
        let _wake_waiters_on_exit = WakeOnDrop(progress.clone());
        loop {
            let item = tokio::select! {
                biased;
                _ = tripped.notified() => {
                    tracing::info!("closing a slow consumer");
                    close(conn, CLOSE_SLOW_CONSUMER, "slow consumer: outbound queue full").await;
                    return;
                }
                item = rx.recv() => item,
            };
            progress.took_one();
            let result = match item {
                None => {
                    close(conn, 1000, "").await;
                    return;
                }
                Some(Outbound::Text(t)) => conn.text(t).await,
                Some(Outbound::Ping) => conn.ping(b"").await,
                Some(Outbound::Pong(b)) => conn.pong(&b).await,
                Some(Outbound::Close(code, reason)) => {
                    close(conn, code, &reason).await;
                    return;
                }
            };
            if result.is_err() {
                return;
            }
        }
    });
    Outbox { tx, overflow, flow }
}

/// Wakes senders waiting for room when the writer ends (they then see the
/// connection closed at once).
struct WakeOnDrop(Arc<Flow>);

impl Drop for WakeOnDrop {
    fn drop(&mut self) {
        self.0.drained.notify_waiters();
    }
}

async fn close(conn: actix_ws::Session, code: u16, reason: &str) {
    let reason = CloseReason {
        code: CloseCode::from(code),
        description: Some(reason.to_owned()).filter(|r| !r.is_empty()),
    };
    // A client that does not read may never take the close frame either.
    let _ = tokio::time::timeout(CLOSE_GRACE, conn.close(Some(reason))).await;
}
