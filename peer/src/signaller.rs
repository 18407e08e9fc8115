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
use lyceum_protocol::frames::{command_frame, Command, Event, ServerFrame, PROTOCOL_VERSION};
use lyceum_protocol::{CallId, LiveId, UserId};
use serde::de::DeserializeOwned;
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
    user_id: UserId,
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

/// The answer to one command: the ack frame, or the refusal.
type Reply = Result<Value, PeerError>;

/// A queued frame: as sent (for callers that look at fields by name) and,
/// parsed once on arrival, as a typed event when it is one.
struct Queued {
    raw: Value,
    event: Option<Event>,
}

struct Shared {
    pending: Mutex<HashMap<u64, oneshot::Sender<Reply>>>,
    queue: Mutex<VecDeque<Queued>>,
    notify: Notify,
    routes: Mutex<HashMap<LiveId, (u64, mpsc::UnboundedSender<Event>)>>,
    all: broadcast::Sender<Value>,
    closed: AtomicBool,
    dropped: AtomicU64,
    /// Frames that were neither an ack, an error, a message nor a known event.
    unknown: AtomicU64,
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

/// A command's `type`, for error messages.
fn command_type(cmd: &Command) -> String {
    serde_json::to_value(cmd)
        .ok()
        .and_then(|v| v["type"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "command".to_owned())
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
        let (hello, user_id) = loop {
            match tokio::time::timeout_at(deadline, stream.next()).await {
                Err(_) => return Err(PeerError::Timeout("hello".into())),
                Ok(None) => return Err(PeerError::Closed),
                Ok(Some(Err(e))) => return Err(PeerError::WebSocket(e.to_string())),
                Ok(Some(Ok(Message::Text(t)))) => {
                    let v: Value =
                        serde_json::from_str(&t).map_err(|e| PeerError::Protocol(format!("non-JSON frame: {e}")))?;
                    match ServerFrame::from_value(v.clone()) {
                        ServerFrame::Event(Event::Hello { protocol, user_id, .. }) => {
                            // A server of another version may mean other things by the same frames.
                            if protocol != PROTOCOL_VERSION {
                                return Err(PeerError::Protocol(format!(
                                    "the server speaks protocol {protocol}, we speak {PROTOCOL_VERSION}"
                                )));
                            }
                            break (v, user_id);
                        }
                        _ => return Err(PeerError::Protocol(format!("expected hello, got {v}"))),
                    }
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
            unknown: AtomicU64::new(0),
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
    pub fn user_id(&self) -> UserId {
        self.inner.user_id
    }

    /// The server's `hello` frame.
    pub fn hello(&self) -> &Value {
        &self.inner.hello
    }

    pub fn is_closed(&self) -> bool {
        self.inner.shared.closed.load(Ordering::Relaxed)
    }

    /// Sends a command (an `id` is added) and waits up to 10 s for its ack
    /// (the whole `ack` frame). An `error` frame becomes [`PeerError::Server`].
    pub async fn command(&self, cmd: &Command) -> Result<Value, PeerError> {
        self.command_timeout(cmd, COMMAND_TIMEOUT).await
    }

    pub async fn command_timeout(&self, cmd: &Command, timeout: Duration) -> Result<Value, PeerError> {
        self.request(|id| command_frame(Some(json!(id)), cmd), timeout)
            .await
            .map_err(|e| match e {
                PeerError::Timeout(_) => PeerError::Timeout(format!("the ack of {}", command_type(cmd))),
                e => e,
            })
    }

    /// Sends a frame that is not a [`Command`] (a test of how the server
    /// reads what it does not know) with an `id`, and waits for its answer.
    pub async fn command_raw(&self, mut frame: Value, timeout: Duration) -> Result<Value, PeerError> {
        let what = frame["type"].as_str().unwrap_or("frame").to_owned();
        self.request(
            |id| {
                frame["id"] = json!(id);
                frame.to_string()
            },
            timeout,
        )
        .await
        .map_err(|e| match e {
            PeerError::Timeout(_) => PeerError::Timeout(format!("the answer to {what}")),
            e => e,
        })
    }

    async fn request(&self, frame: impl FnOnce(u64) -> String, timeout: Duration) -> Result<Value, PeerError> {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let text = frame(id);
        let (tx, rx) = oneshot::channel();
        lock(&self.inner.shared.pending).insert(id, tx);
        if self.is_closed() || self.inner.out.send(Message::Text(text.into())).is_err() {
            lock(&self.inner.shared.pending).remove(&id);
            return Err(PeerError::Closed);
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => Err(PeerError::Closed),
            Err(_) => {
                lock(&self.inner.shared.pending).remove(&id);
                Err(PeerError::Timeout("an ack".into()))
            }
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
        self.take_where(timeout, |_| true)
            .await
            .map(|q| q.raw)
            .map_err(|e| match e {
                PeerError::Timeout(_) => PeerError::Timeout("an event".into()),
                e => e,
            })
    }

    /// The oldest queued event of this type (others stay queued), as sent.
    pub async fn wait_event(&self, ty: &str, timeout: Duration) -> Result<Value, PeerError> {
        self.wait_event_where(timeout, |v| v["type"] == ty)
            .await
            .map_err(|e| match e {
                PeerError::Timeout(_) => PeerError::Timeout(format!("a {ty} event")),
                e => e,
            })
    }

    /// The oldest queued event matching `f` (others stay queued), as sent.
    pub async fn wait_event_where(&self, timeout: Duration, f: impl Fn(&Value) -> bool) -> Result<Value, PeerError> {
        self.take_where(timeout, |q| f(&q.raw)).await.map(|q| q.raw)
    }

    /// The oldest queued typed event matching `f` (others stay queued).
    /// Frames this version of the protocol does not know never match.
    pub async fn wait_for(&self, timeout: Duration, f: impl Fn(&Event) -> bool) -> Result<Event, PeerError> {
        let q = self.take_where(timeout, |q| q.event.as_ref().is_some_and(&f)).await?;
        q.event
            .ok_or_else(|| PeerError::Protocol(format!("not an event: {}", q.raw)))
    }

    async fn take_where(&self, timeout: Duration, f: impl Fn(&Queued) -> bool) -> Result<Queued, PeerError> {
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
        let i = q.iter().position(|q| q.raw["type"] == ty)?;
        q.remove(i).map(|q| q.raw)
    }

    /// Takes every queued event, as sent.
    pub fn drain_events(&self) -> Vec<Value> {
        lock(&self.inner.shared.queue).drain(..).map(|q| q.raw).collect()
    }

    /// Events dropped because nobody took them (the queue holds 10,000).
    pub fn dropped_events(&self) -> u64 {
        self.inner.shared.dropped.load(Ordering::Relaxed)
    }

    /// Frames this version of the protocol could not read as an ack, an
    /// error, a message or a typed event (a newer server's events, or a
    /// disagreement between the server and `lyceum_protocol`).
    pub fn unknown_frames(&self) -> u64 {
        self.inner.shared.unknown.load(Ordering::Relaxed)
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
    pub async fn call_invite(&self, user_id: UserId, video: bool) -> Result<CallId, PeerError> {
        let ack = self.command(&Command::CallInvite { user_id, video }).await?;
        field(&ack, "callId")
    }

    /// `call_accept` → the call's live room (its `sessionId`, the `callId`).
    pub async fn call_accept(&self, call_id: CallId) -> Result<LiveId, PeerError> {
        let ack = self.command(&Command::CallAccept { call_id }).await?;
        Ok(field(&ack, "sessionId").unwrap_or(LiveId::from(call_id)))
    }

    pub async fn call_decline(&self, call_id: CallId) -> Result<(), PeerError> {
        self.command(&Command::CallDecline { call_id }).await.map(drop)
    }

    pub async fn call_cancel(&self, call_id: CallId) -> Result<(), PeerError> {
        self.command(&Command::CallCancel { call_id }).await.map(drop)
    }

    pub async fn call_hangup(&self, call_id: CallId) -> Result<(), PeerError> {
        self.command(&Command::CallHangup { call_id }).await.map(drop)
    }

    /// Waits for `call_incoming` (optionally from this user) → (callId, the event).
    pub async fn wait_call_incoming(
        &self,
        from: Option<UserId>,
        timeout: Duration,
    ) -> Result<(CallId, Event), PeerError> {
        let e = self
            .wait_for(
                timeout,
                |e| matches!(e, Event::CallIncoming { from: caller, .. } if from.is_none_or(|f| caller.user_id == f)),
            )
            .await
            .map_err(|e| match e {
                PeerError::Timeout(_) => PeerError::Timeout("call_incoming".into()),
                e => e,
            })?;
        match e {
            Event::CallIncoming { call_id, .. } => Ok((call_id, e)),
            e => Err(PeerError::Protocol(format!("expected call_incoming, got {e:?}"))),
        }
    }

    /// Waits for an event of this type about this call (`call_ringing`,
    /// `call_accepted`, `call_ended`).
    pub async fn wait_call_event(&self, ty: &str, call_id: CallId, timeout: Duration) -> Result<Event, PeerError> {
        self.wait_for(timeout, |e| call_event(e) == Some((ty, call_id)))
            .await
            .map_err(|e| match e {
                PeerError::Timeout(_) => PeerError::Timeout(format!("{ty} for call {call_id}")),
                e => e,
            })
    }

    /// Waits for `call_accepted` of this call → the live room to join.
    pub async fn wait_call_accepted(&self, call_id: CallId, timeout: Duration) -> Result<LiveId, PeerError> {
        match self.wait_call_event("call_accepted", call_id, timeout).await? {
            Event::CallAccepted { session_id, .. } => Ok(session_id),
            e => Err(PeerError::Protocol(format!("expected call_accepted, got {e:?}"))),
        }
    }

    /// Waits for `call_ended` of this call → its `reason`.
    pub async fn wait_call_ended(&self, call_id: CallId, timeout: Duration) -> Result<String, PeerError> {
        match self.wait_call_event("call_ended", call_id, timeout).await? {
            Event::CallEnded { reason, .. } => Ok(reason),
            e => Err(PeerError::Protocol(format!("expected call_ended, got {e:?}"))),
        }
    }

    // ---- routing for subscribers ----

    /// Routes this session's `rtc_offer` events to the returned receiver
    /// (replacing an earlier route); the id is for [`Signaller::unroute`].
    pub(crate) fn route(&self, session_id: LiveId) -> (u64, mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&self.inner.shared.routes).insert(session_id, (id, tx));
        (id, rx)
    }

    /// Removes the route if it is still this one.
    pub(crate) fn unroute(&self, session_id: LiveId, id: u64) {
        let mut routes = lock(&self.inner.shared.routes);
        if routes.get(&session_id).is_some_and(|r| r.0 == id) {
            routes.remove(&session_id);
        }
    }
}

/// The type and call of a call event.
fn call_event(e: &Event) -> Option<(&'static str, CallId)> {
    match e {
        Event::CallRinging { call_id } => Some(("call_ringing", *call_id)),
        Event::CallAccepted { call_id, .. } => Some(("call_accepted", *call_id)),
        Event::CallEnded { call_id, .. } => Some(("call_ended", *call_id)),
        Event::CallIncoming { call_id, .. } => Some(("call_incoming", *call_id)),
        _ => None,
    }
}

/// A typed field of an ack.
pub(crate) fn field<T: DeserializeOwned>(v: &Value, name: &str) -> Result<T, PeerError> {
    serde_json::from_value(v[name].clone()).map_err(|e| PeerError::Protocol(format!("{name} in {v}: {e}")))
}

impl Shared {
    fn dispatch(&self, v: Value) {
        let event = match ServerFrame::from_value(v.clone()) {
            ServerFrame::Ack { id, .. } => {
                if self.answer(id, Ok(v.clone())) {
                    return;
                }
                None
            }
            ServerFrame::Error { id, code, message } => {
                let e = PeerError::Server {
                    code,
                    message,
                    frame: v.clone(),
                };
                if self.answer(id, Err(e)) {
                    return;
                }
                tracing::debug!("lyceum-peer: unsolicited error {v}");
                None
            }
            ServerFrame::Event(e) => Some(e),
            ServerFrame::Message(_) => None,
            ServerFrame::Other(_) => {
                self.unknown.fetch_add(1, Ordering::Relaxed);
                tracing::debug!("lyceum-peer: a frame this protocol version does not know: {v}");
                None
            }
        };
        let _ = self.all.send(v.clone());
        let event = match event {
            Some(e @ Event::RtcOffer { .. }) => match self.route_offer(e) {
                None => return,
                Some(e) => Some(e),
            },
            e => e,
        };
        {
            let mut q = lock(&self.queue);
            q.push_back(Queued { raw: v, event });
            while q.len() > QUEUE_LIMIT {
                q.pop_front();
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.notify.notify_waiters();
    }

    /// Hands an `rtc_offer` to its session's subscriber; gives it back when
    /// no subscriber takes it (it is queued like any event then).
    fn route_offer(&self, e: Event) -> Option<Event> {
        let Event::RtcOffer { session_id, .. } = &e else {
            return Some(e);
        };
        let routes = lock(&self.routes);
        match routes.get(session_id) {
            Some((_, tx)) => tx.send(e).err().map(|back| back.0),
            None => Some(e),
        }
    }

    /// Completes the command `id`, if one waits for it. An answer nobody
    /// waits for is queued like an event (an error to a frame without an id).
    fn answer(&self, id: Option<Value>, reply: Reply) -> bool {
        let waiter = id
            .as_ref()
            .and_then(Value::as_u64)
            .and_then(|id| lock(&self.pending).remove(&id));
        match waiter {
            Some(tx) => {
                let _ = tx.send(reply);
                true
            }
            None => false,
        }
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
