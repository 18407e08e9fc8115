//! A real WebSocket client (tokio-tungstenite) for the chat tests, with
//! helpers that keep frames they skipped for later.
//!
//! Two layers: `cmd`/`ok` send JSON as written (for frames the protocol
//! types cannot express: malformed, unknown, wrong field types), and
//! `command`/`acked`/`refused`/`event` speak `lyceum_protocol`'s typed
//! `Command`s and `Event`s. Every server frame read is also checked against
//! the typed protocol: one that is not an ack, an error, a message or a
//! known `Event` fails the test (the types and the server disagree).

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use lyceum_protocol::frames::{command_frame, Command, Event, ServerFrame};
use lyceum_protocol::RoomId;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::TestApp;

pub const WAIT: Duration = Duration::from_secs(10);

pub type Stream = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct Ws {
    pub stream: Stream,
    buffered: VecDeque<Value>,
    next_id: u64,
}

/// The outcome of an upgrade attempt: the socket or the HTTP status.
pub async fn try_connect(app: &TestApp, token: Option<&str>, query: &str) -> Result<Ws, u16> {
    try_connect_port(app.port, token, query).await
}

/// The same against a server on `port` (one the test started as a process).
pub async fn try_connect_port(port: u16, token: Option<&str>, query: &str) -> Result<Ws, u16> {
    let mut req = format!("ws://127.0.0.1:{port}/ws{query}")
        .into_client_request()
        .unwrap();
    if let Some(t) = token {
        req.headers_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    match tokio_tungstenite::connect_async_with_config(req, None, true).await {
        Ok((stream, _)) => Ok(Ws {
            stream,
            buffered: VecDeque::new(),
            next_id: 1,
        }),
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => Err(res.status().as_u16()),
        Err(e) => panic!("websocket connect: {e}"),
    }
}

impl Ws {
    pub async fn connect(app: &TestApp, token: &str) -> Ws {
        Ws::connect_port(app.port, token).await
    }

    pub async fn connect_port(port: u16, token: &str) -> Ws {
        let mut ws = try_connect_port(port, Some(token), "").await.expect("upgrade accepted");
        let hello = ws.next_of("hello").await;
        assert_eq!(hello["protocol"], 1);
        ws
    }

    pub async fn send(&mut self, v: Value) {
        self.stream
            .send(Message::Text(v.to_string().into()))
            .await
            .expect("send");
    }

    pub async fn send_raw(&mut self, m: Message) {
        self.stream.send(m).await.expect("send");
    }

    /// The next JSON frame from the socket (not the buffer); None when closed.
    pub async fn read(&mut self) -> Option<Value> {
        loop {
            let m = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("a frame within the wait")?;
            match m {
                Ok(Message::Text(t)) => return Some(typed(&t)),
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => continue,
            }
        }
    }

    /// The next frame of this type, keeping others for later.
    pub async fn next_of(&mut self, ty: &str) -> Value {
        if let Some(i) = self.buffered.iter().position(|v| v["type"] == ty) {
            return self.buffered.remove(i).unwrap();
        }
        loop {
            let v = self
                .read()
                .await
                .unwrap_or_else(|| panic!("closed while waiting for {ty}"));
            if v["type"] == ty {
                return v;
            }
            self.buffered.push_back(v);
        }
    }

    /// The next frame matching `f`, keeping others for later.
    pub async fn next_where(&mut self, f: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.buffered.iter().position(&f) {
            return self.buffered.remove(i).unwrap();
        }
        loop {
            let v = self.read().await.expect("closed while waiting");
            if f(&v) {
                return v;
            }
            self.buffered.push_back(v);
        }
    }

    /// Sends a command with a fresh id and returns its ack or error.
    pub async fn cmd(&mut self, mut v: Value) -> Value {
        let id = format!("c{}", self.next_id);
        self.next_id += 1;
        v["id"] = json!(id);
        self.send(v).await;
        self.next_where(|f| f["id"] == id && (f["type"] == "ack" || f["type"] == "error"))
            .await
    }

    pub async fn ok(&mut self, v: Value) -> Value {
        let r = self.cmd(v.clone()).await;
        assert_eq!(r["type"], "ack", "{v} -> {r}");
        r
    }

    /// Sends a typed command with a fresh id and returns its ack or error.
    pub async fn command(&mut self, c: &Command) -> ServerFrame {
        let id = format!("c{}", self.next_id);
        self.next_id += 1;
        self.stream
            .send(Message::Text(command_frame(Some(json!(id)), c).into()))
            .await
            .expect("send");
        let v = self
            .next_where(|f| f["id"] == id && (f["type"] == "ack" || f["type"] == "error"))
            .await;
        ServerFrame::from_value(v)
    }

    /// Sends a typed command without an id (nothing to wait for).
    pub async fn post(&mut self, c: &Command) {
        self.stream
            .send(Message::Text(command_frame(None, c).into()))
            .await
            .expect("send");
    }

    /// A typed command that must be acknowledged: the ack frame.
    pub async fn acked(&mut self, c: &Command) -> Value {
        match self.command(c).await {
            ServerFrame::Ack { data, .. } => data,
            other => panic!("{c:?} -> {other:?}"),
        }
    }

    /// A typed command that must be refused: the error's code and message.
    pub async fn refused(&mut self, c: &Command) -> (String, String) {
        match self.command(c).await {
            ServerFrame::Error { code, message, .. } => (code, message),
            other => panic!("{c:?} should be refused -> {other:?}"),
        }
    }

    /// The next typed event matching `f`, keeping other frames for later.
    pub async fn event(&mut self, f: impl Fn(&Event) -> bool) -> Event {
        let v = self
            .next_where(|v| match ServerFrame::from_value(v.clone()) {
                ServerFrame::Event(e) => f(&e),
                _ => false,
            })
            .await;
        match ServerFrame::from_value(v) {
            ServerFrame::Event(e) => e,
            other => panic!("not an event: {other:?}"),
        }
    }

    pub async fn subscribe(&mut self, room: &str, after: Option<i64>) -> Value {
        self.acked(&Command::Subscribe {
            room_id: room_id(room),
            after_seq: after,
        })
        .await
    }

    pub async fn say(&mut self, room: &str, body: &str) -> i64 {
        let r = self.acked(&send(room, body)).await;
        r["seq"].as_i64().unwrap()
    }

    /// The next `message` event of a room.
    pub async fn message(&mut self, room: &str) -> Value {
        self.next_where(|f| f["type"] == "message" && f["roomId"] == room).await
    }

    /// Reads until the server closes the connection: the close frame's code
    /// and reason (None if the socket ended without one). Text frames read
    /// on the way are kept.
    pub async fn closed_with(&mut self) -> Option<(u16, String)> {
        loop {
            let m = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("the server closes within the wait");
            match m {
                Some(Ok(Message::Text(t))) => self.buffered.push_back(typed(&t)),
                Some(Ok(Message::Close(c))) => return c.map(|c| (u16::from(c.code), c.reason.to_string())),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// Nothing of this type arrives within `d`.
    pub async fn quiet(&mut self, ty: &str, d: Duration) {
        assert!(!self.buffered.iter().any(|v| v["type"] == ty), "buffered {ty}");
        let deadline = tokio::time::Instant::now() + d;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => return,
                Ok(Some(Ok(Message::Text(t)))) => {
                    let v = typed(&t);
                    assert_ne!(v["type"], ty, "unexpected {v}");
                    self.buffered.push_back(v);
                }
                Ok(Some(Ok(_))) => {}
                Ok(_) => return,
            }
        }
    }
}

/// A room id as the tests carry it (a string from a JSON body).
pub fn room_id(room: &str) -> RoomId {
    room.parse()
        .unwrap_or_else(|e| panic!("{room:?} is not a room id: {e}"))
}

/// A plain `send` of `body` to `room`.
pub fn send(room: &str, body: &str) -> Command {
    Command::Send {
        room_id: room_id(room),
        client_msg_id: None,
        body: Some(body.to_owned()),
        ciphertext: None,
        attachments: Vec::new(),
    }
}

/// A server frame, checked against the typed protocol: an ack, an error, a
/// message or an `Event` (anything else means the types and the server
/// disagree about a frame).
fn typed(text: &str) -> Value {
    let v: Value = serde_json::from_str(text).expect("server frames are JSON");
    if let ServerFrame::Other(v) = ServerFrame::from_value(v.clone()) {
        panic!("a server frame lyceum_protocol::Event does not describe: {v}");
    }
    v
}
