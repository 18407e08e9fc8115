//! The signalling client: one WebSocket (`docs/protocol.md`), commands with
//! ids answered by exactly one `ack` or `error`, and events.
//!
//! Events go three ways: every event to [`Signaller::subscribe_events`]
//! (a broadcast), `rtc_offer` events of a session whose subscriber is
//! registered to that subscriber, and everything else to a queue that
//! [`Signaller::wait_event`] and friends take from (oldest dropped beyond
//! 10,000 unread events).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc, oneshot, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::error::PeerError;

/// How long a command waits for its ack by default.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
const QUEUE_LIMIT: usize = 10_000;

/// Event types that are routed to a session's subscriber when one is registered.
const ROUTED: &[&str] = &["rtc_offer"];

/// A signalling connection. Cheap to clone; the connection closes when the
/// last clone is dropped (or on [`Signaller::close`]).
#[derive(Clone)]
pub struct Signaller {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    out: mpsc::UnboundedSender<Message>,
    next_id: AtomicU64,
    hello: Value,
    user_id: String,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.out.send(Message::Close(None));
        // The writer ends by itself after the close frame; the reader does not.
        if let Some(reader) = self.tasks.first() {
            reader.abort();
        }
    }
}

struct Shared {
    pending: Mutex<HashMap<u64, oneshot::Sender<Value>>>,
    queue: Mutex<VecDeque<Value>>,
    notify: Notify,
    routes: Mutex<HashMap<String, (u64, mpsc::UnboundedSender<Value>)>>,
    all: broadcast::Sender<Value>,
    closed: AtomicBool,
    dropped: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `http://host:port`, `ws://host:port` or a full `…/ws` URL → the `ws(s)://…/ws` URL.
fn ws_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    let base = if let Some(rest) = base.strip_prefix("http") {
        format!("ws{rest}")
    } else {
        base.to_owned()
    };
    if base.ends_with("/ws") {
        base
    } else {
        format!("{base}/ws")
    }
}

impl Signaller {
    /// Connects with `Authorization: Bearer <token>` and waits for `hello`.
    /// `base` is the server's HTTP base (`http://127.0.0.1:8080`) or a
    /// `ws://…` URL.
    pub async fn connect(base: &str, token: &str) -> Result<Signaller, PeerError> {
        let mut req = ws_url(base)
            .into_client_request()
            .map_err(|e| PeerError::WebSocket(e.to_string()))?;
        let auth = format!("Bearer {token}")
            .parse()
            .map_err(|_| PeerError::WebSocket("token is not a header value".into()))?;
        req.headers_mut().insert("authorization", auth);
        let (ws, _) = tokio::time::timeout(
            COMMAND_TIMEOUT,
            tokio_tungstenite::connect_async_with_config(req, None, true),
        )
        .await
        .map_err(|_| PeerError::Timeout("websocket upgrade".into()))?
        .map_err(|e| PeerError::WebSocket(e.to_string()))?;
        let (mut sink, mut stream) = ws.split();

        // The server speaks first.
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        let hello = loop {
            match tokio::time::timeout_at(deadline, stream.next()).await {
                Err(_) => return Err(PeerError::Timeout("hello".into())),
                Ok(None) => return Err(PeerError::Closed),
                Ok(Some(Err(e))) => return Err(PeerError::WebSocket(e.to_string())),
                Ok(Some(Ok(Message::Text(t)))) => {
                    let v: Value =
                        serde_json::from_str(&t).map_err(|e| PeerError::Protocol(format!("non-JSON frame: {e}")))?;
                    if v["type"] == "hello" {
                        break v;
                    }
                    return Err(PeerError::Protocol(format!("expected hello, got {v}")));
                }
                Ok(Some(Ok(Message::Close(_)))) => return Err(PeerError::Closed),
                Ok(Some(Ok(_))) => {}
            }
        };

        let (all, _) = broadcast::channel(4096);
        let shared = Arc::new(Shared {
            pending: Mutex::new(HashMap::new()),
            queue: Mutex::new(VecDeque::new()),
            notify: Notify::new(),
            routes: Mutex::new(HashMap::new()),
            all,
            closed: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
        });
        let (out, mut out_rx) = mpsc::unbounded_channel::<Message>();

        let reader = tokio::spawn({
            let shared = shared.clone();
            async move {
                while let Some(m) = stream.next().await {
                    match m {
                        Ok(Message::Text(t)) => match serde_json::from_str::<Value>(&t) {
                            Ok(v) => shared.dispatch(v),
                            Err(e) => tracing::warn!("lyceum-peer: non-JSON frame from the server: {e}"),
                        },
                        Ok(Message::Close(frame)) => {
                            tracing::debug!("lyceum-peer: server closed the websocket: {frame:?}");
                            break;
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::debug!("lyceum-peer: websocket read: {e}");
                            break;
                        }
                    }
                }
                shared.close();
            }
        });
        let writer = tokio::spawn(async move {
            while let Some(m) = out_rx.recv().await {
                let close = matches!(m, Message::Close(_));
                if sink.send(m).await.is_err() || close {
                    break;
                }
            }
            let _ = sink.close().await;
        });

        let user_id = hello["userId"].as_str().unwrap_or_default().to_owned();
        Ok(Signaller {
            inner: Arc::new(Inner {
                shared,
                out,
                next_id: AtomicU64::new(1),
                hello,
                user_id,
                tasks: vec![reader, writer],
            }),
        })
    }

    /// The caller's user id (from `hello`).
    pub fn user_id(&self) -> &str {
        &self.inner.user_id
    }

    /// The server's `hello` frame.
    pub fn hello(&self) -> &Value {
        &self.inner.hello
    }

    pub fn is_closed(&self) -> bool {
        self.inner.shared.closed.load(Ordering::Relaxed)
    }

    /// Sends a command (an `id` is added) and waits up to 10 s for its ack.
    /// An `error` frame becomes [`PeerError::Server`].
    pub async fn command(&self, cmd: Value) -> Result<Value, PeerError> {
        self.command_timeout(cmd, COMMAND_TIMEOUT).await
    }

    pub async fn command_timeout(&self, mut cmd: Value, timeout: Duration) -> Result<Value, PeerError> {
        let what = cmd["type"].as_str().unwrap_or("command").to_owned();
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        cmd["id"] = json!(id);
        let (tx, rx) = oneshot::channel();
        lock(&self.inner.shared.pending).insert(id, tx);
        if self.is_closed() || self.inner.out.send(Message::Text(cmd.to_string().into())).is_err() {
            lock(&self.inner.shared.pending).remove(&id);
            return Err(PeerError::Closed);
        }
        let reply = match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(v)) => v,
            Ok(Err(_)) => return Err(PeerError::Closed),
            Err(_) => {
                lock(&self.inner.shared.pending).remove(&id);
                return Err(PeerError::Timeout(format!("the ack of {what}")));
            }
        };
        if reply["type"] == "ack" {
            Ok(reply)
        } else {
            Err(PeerError::Server {
                code: reply["code"].as_str().unwrap_or("?").to_owned(),
                message: reply["message"].as_str().unwrap_or_default().to_owned(),
                frame: reply,
            })
        }
    }

    /// Sends a frame as is (no id, no ack awaited).
    pub fn send_raw(&self, frame: Value) -> Result<(), PeerError> {
        self.inner
            .out
            .send(Message::Text(frame.to_string().into()))
            .map_err(|_| PeerError::Closed)
    }

    /// Every event from now on (a broadcast of 4,096; slow readers lose the oldest).
    pub fn subscribe_events(&self) -> broadcast::Receiver<Value> {
        self.inner.shared.all.subscribe()
    }

    /// The next queued event of any type.
    pub async fn next_event(&self, timeout: Duration) -> Result<Value, PeerError> {
        self.wait_event_where(timeout, |_| true).await.map_err(|e| match e {
            PeerError::Timeout(_) => PeerError::Timeout("an event".into()),
            e => e,
        })
    }

    /// The oldest queued event of this type (others stay queued).
    pub async fn wait_event(&self, ty: &str, timeout: Duration) -> Result<Value, PeerError> {
        self.wait_event_where(timeout, |v| v["type"] == ty)
            .await
            .map_err(|e| match e {
                PeerError::Timeout(_) => PeerError::Timeout(format!("a {ty} event")),
                e => e,
            })
    }

    /// The oldest queued event matching `f` (others stay queued).
    pub async fn wait_event_where(&self, timeout: Duration, f: impl Fn(&Value) -> bool) -> Result<Value, PeerError> {
        let deadline = Instant::now() + timeout;
        let shared = &self.inner.shared;
        loop {
            let notified = shared.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut q = lock(&shared.queue);
                if let Some(i) = q.iter().position(&f) {
                    if let Some(v) = q.remove(i) {
                        return Ok(v);
                    }
                }
            }
            if self.is_closed() {
                return Err(PeerError::Closed);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(PeerError::Timeout("a matching event".into()));
            }
        }
    }

    /// Takes the oldest queued event of this type, if there is one.
    pub fn try_event(&self, ty: &str) -> Option<Value> {
        let mut q = lock(&self.inner.shared.queue);
        let i = q.iter().position(|v| v["type"] == ty)?;
        q.remove(i)
    }

    /// Takes every queued event.
    pub fn drain_events(&self) -> Vec<Value> {
        lock(&self.inner.shared.queue).drain(..).collect()
    }

    /// Events dropped because nobody took them (the queue holds 10,000).
    pub fn dropped_events(&self) -> u64 {
        self.inner.shared.dropped.load(Ordering::Relaxed)
    }

    /// Sends a close frame; the connection ends once the server answers.
    pub fn close(&self) {
        let _ = self.inner.out.send(Message::Close(None));
    }

    /// Sends a close frame and waits (at most 2 s) for the server to close.
    pub async fn close_and_wait(&self) {
        self.close();
        let deadline = Instant::now() + Duration::from_secs(2);
        while !self.is_closed() {
            let notified = self.inner.shared.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_closed() || tokio::time::timeout_at(deadline, notified).await.is_err() {
                break;
            }
        }
    }

    // ---- calls (docs/live.md) ----

    /// `call_invite` → the `callId`.
    pub async fn call_invite(&self, user_id: &str, video: bool) -> Result<String, PeerError> {
        let ack = self
            .command(json!({"type": "call_invite", "userId": user_id, "video": video}))
            .await?;
        str_field(&ack, "callId")
    }

    /// `call_accept` → the room's `sessionId` (= the `callId`).
    pub async fn call_accept(&self, call_id: &str) -> Result<String, PeerError> {
        let ack = self.command(json!({"type": "call_accept", "callId": call_id})).await?;
        str_field(&ack, "sessionId").or_else(|_| Ok(call_id.to_owned()))
    }

    pub async fn call_decline(&self, call_id: &str) -> Result<(), PeerError> {
        self.command(json!({"type": "call_decline", "callId": call_id}))
            .await
            .map(drop)
    }

    pub async fn call_cancel(&self, call_id: &str) -> Result<(), PeerError> {
        self.command(json!({"type": "call_cancel", "callId": call_id}))
            .await
            .map(drop)
    }

    pub async fn call_hangup(&self, call_id: &str) -> Result<(), PeerError> {
        self.command(json!({"type": "call_hangup", "callId": call_id}))
            .await
            .map(drop)
    }

    /// Waits for `call_incoming` (optionally from this user) → (callId, the event).
    pub async fn wait_call_incoming(
        &self,
        from: Option<&str>,
        timeout: Duration,
    ) -> Result<(String, Value), PeerError> {
        let v = self
            .wait_event_where(timeout, |v| {
                v["type"] == "call_incoming" && from.is_none_or(|f| v["from"]["userId"] == f)
            })
            .await
            .map_err(|e| match e {
                PeerError::Timeout(_) => PeerError::Timeout("call_incoming".into()),
                e => e,
            })?;
        Ok((str_field(&v, "callId")?, v))
    }

    /// Waits for an event of this type about this call (`call_ringing`, `call_accepted`, `call_ended`).
    pub async fn wait_call_event(&self, ty: &str, call_id: &str, timeout: Duration) -> Result<Value, PeerError> {
        self.wait_event_where(timeout, |v| v["type"] == ty && v["callId"] == call_id)
            .await
            .map_err(|e| match e {
                PeerError::Timeout(_) => PeerError::Timeout(format!("{ty} for call {call_id}")),
                e => e,
            })
    }

    // ---- routing for subscribers ----

    /// Routes this session's `rtc_offer` events to the returned receiver
    /// (replacing an earlier route); the id is for [`Signaller::unroute`].
    pub(crate) fn route(&self, session_id: &str) -> (u64, mpsc::UnboundedReceiver<Value>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&self.inner.shared.routes).insert(session_id.to_owned(), (id, tx));
        (id, rx)
    }

    /// Removes the route if it is still this one.
    pub(crate) fn unroute(&self, session_id: &str, id: u64) {
        let mut routes = lock(&self.inner.shared.routes);
        if routes.get(session_id).is_some_and(|r| r.0 == id) {
            routes.remove(session_id);
        }
    }
}

pub(crate) fn str_field(v: &Value, field: &str) -> Result<String, PeerError> {
    match &v[field] {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(PeerError::Protocol(format!("no {field} in {v}"))),
    }
}

impl Shared {
    fn dispatch(&self, v: Value) {
        let ty = v["type"].as_str().unwrap_or_default();
        if ty == "ack" || ty == "error" {
            if let Some(id) = v["id"].as_u64() {
                if let Some(tx) = lock(&self.pending).remove(&id) {
                    let _ = tx.send(v);
                    return;
                }
            }
            if ty == "error" {
                tracing::debug!("lyceum-peer: unsolicited error {v}");
            }
        }
        let _ = self.all.send(v.clone());
        if ROUTED.contains(&ty) {
            if let Some(session) = v["sessionId"].as_str() {
                let routes = lock(&self.routes);
                if let Some((_, tx)) = routes.get(session) {
                    if tx.send(v.clone()).is_ok() {
                        return;
                    }
                }
            }
        }
        {
            let mut q = lock(&self.queue);
            q.push_back(v);
            while q.len() > QUEUE_LIMIT {
                q.pop_front();
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.notify.notify_waiters();
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        // Dropping the senders fails every outstanding command with Closed.
        lock(&self.pending).clear();
        lock(&self.routes).clear();
        self.notify.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::ws_url;

    #[test]
    fn urls() {
        assert_eq!(ws_url("http://127.0.0.1:8080"), "ws://127.0.0.1:8080/ws");
        assert_eq!(ws_url("https://x.org/"), "wss://x.org/ws");
        assert_eq!(ws_url("ws://127.0.0.1:1/ws"), "ws://127.0.0.1:1/ws");
    }
}
