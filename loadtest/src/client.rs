//! HTTP and WebSocket helpers shared by the scenarios.

use anyhow::{anyhow, Context};
use futures_util::{SinkExt, StreamExt};
use lyceum_protocol::frames::{command_frame, Command, ServerFrame};
use lyceum_protocol::UserId;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub const PASSWORD: &str = "correct horse battery staple";

/// Registers an account and returns (access token, user id).
pub async fn register(
    http: &reqwest::Client,
    base: &str,
    role: &str,
    name: &str,
    run: &str,
) -> anyhow::Result<(String, UserId)> {
    let res = http
        .post(format!("{base}/api/auth/register"))
        .json(&json!({"email": format!("lt-{run}-{name}@loadtest.example"), "password": PASSWORD, "displayName": name, "role": role}))
        .send()
        .await
        .context("register request")?;
    let status = res.status();
    let v: Value = res.json().await.unwrap_or_default();
    let token = v["accessToken"]
        .as_str()
        .ok_or_else(|| anyhow!("register {status}: {v}"))?;
    let id = v["user"]["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("register {status}: no user id in {v}"))?;
    Ok((token.to_owned(), id))
}

pub async fn connect(base: &str, token: &str) -> anyhow::Result<Ws> {
    let url = format!("{}/ws", base.replacen("http", "ws", 1));
    let mut req = url.into_client_request()?;
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    let (ws, _) = tokio_tungstenite::connect_async_with_config(req, None, true)
        .await
        .context("websocket upgrade")?;
    Ok(ws)
}

/// Sends a command and waits for its ack (other frames are dropped).
pub async fn command(ws: &mut Ws, cmd: &Command) -> anyhow::Result<Value> {
    let id = json!("lt");
    ws.send(Message::Text(command_frame(Some(id.clone()), cmd).into()))
        .await?;
    while let Some(m) = ws.next().await {
        if let Message::Text(t) = m? {
            match ServerFrame::parse(&t)? {
                ServerFrame::Ack { id: Some(i), data } if i == id => return Ok(data),
                ServerFrame::Error {
                    id: Some(i),
                    code,
                    message,
                } if i == id => return Err(anyhow!("{code}: {message}")),
                _ => {}
            }
        }
    }
    Err(anyhow!("connection closed"))
}

/// Resident memory of a process in KiB (Linux), for per-connection figures.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
