//! The bounded queue between everything that talks to a WebSocket client and
//! the task that writes to its socket.
//!
//! Rooms serialise an event once and push the same bytes into every
//! subscriber's outbox. The queue has a fixed bound: when a client stops
//! reading, its socket buffers fill, the writer task blocks, the queue fills,
//! and the next push trips `overflow`, upon which the writer closes the
//! connection with `CLOSE_SLOW_CONSUMER`. Memory per connection stays bounded.

use std::sync::Arc;
use std::time::Duration;

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

#[derive(Clone)]
pub struct Outbox {
    tx: mpsc::Sender<Outbound>,
    overflow: Arc<Notify>,
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

    /// An outbox read by the caller instead of a socket: how HTTP handlers
    /// send a command down the same path as WebSocket clients and await the
    /// answer.
    pub fn detached(capacity: usize) -> (Outbox, mpsc::Receiver<Outbound>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (
            Outbox {
                tx,
                overflow: Arc::new(Notify::new()),
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
    actix_web::rt::spawn(async move {
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
    Outbox { tx, overflow }
}

async fn close(conn: actix_ws::Session, code: u16, reason: &str) {
    let reason = CloseReason {
        code: CloseCode::from(code),
        description: Some(reason.to_owned()).filter(|r| !r.is_empty()),
    };
    // A client that does not read may never take the close frame either.
    let _ = tokio::time::timeout(CLOSE_GRACE, conn.close(Some(reason))).await;
}
