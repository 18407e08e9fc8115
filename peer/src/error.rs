use serde_json::Value;

/// Everything that can go wrong for a peer.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The server answered a command with an `error` frame.
    #[error("server error {code}: {message}")]
    Server {
        code: String,
        message: String,
        frame: Value,
    },
    /// Nothing (or not the expected thing) arrived in time.
    #[error("timed out waiting for {0}")]
    Timeout(String),
    /// The signalling WebSocket is closed.
    #[error("signalling connection closed")]
    Closed,
    #[error("websocket: {0}")]
    WebSocket(String),
    /// str0m refused something (SDP negotiation, writing media).
    #[error("webrtc: {0}")]
    Rtc(String),
    /// The server sent something that does not follow `docs/live.md`.
    #[error("protocol: {0}")]
    Protocol(String),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

impl PeerError {
    /// The server's error code (`session_not_live`, `forbidden`, …), if any.
    pub fn code(&self) -> Option<&str> {
        match self {
            PeerError::Server { code, .. } => Some(code),
            _ => None,
        }
    }
}

impl From<str0m::RtcError> for PeerError {
    fn from(e: str0m::RtcError) -> Self {
        PeerError::Rtc(e.to_string())
    }
}
