//! What can go wrong with a request to the SFU, typed, and the protocol's
//! error code for each: the live domain turns an `SfuError` into the error
//! frame a client gets (`code()` and the `Display` message are exactly what
//! the shard used to write itself).

use lyceum_protocol::ErrorCode;

/// Why a publish, subscribe, answer or restart failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SfuError {
    /// The room is not (or no longer) open on its shard.
    #[error("the live room is closed")]
    RoomClosed,
    /// An offer or answer that str0m could not parse or accept; the message
    /// says which and why.
    #[error("{0}")]
    InvalidSdp(String),
    /// An answer or ICE restart from a participant with no subscribe peer.
    #[error("subscribe first")]
    NotSubscribed,
    /// An answer when no offer of ours is outstanding.
    #[error("no offer is waiting for an answer")]
    NoPendingOffer,
    /// A new subscribe peer produced no offer (str0m found nothing to add).
    #[error("could not build an offer")]
    NoOffer,
    /// The shard's command queue is full: the request was refused rather
    /// than queued (see `COMMAND_QUEUE`); retry shortly.
    #[error("the media server is overloaded; try again shortly")]
    Overloaded,
    /// The shard is gone (its thread stopped), or it dropped the request
    /// without answering.
    #[error("the media server is not running")]
    Unavailable,
}

impl SfuError {
    /// The error code a client is sent for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            SfuError::RoomClosed => ErrorCode::SessionNotFound,
            SfuError::InvalidSdp(_) => ErrorCode::InvalidSdp,
            SfuError::NotSubscribed => ErrorCode::NotInSession,
            SfuError::NoPendingOffer => ErrorCode::InvalidCommand,
            SfuError::NoOffer => ErrorCode::Internal,
            SfuError::Overloaded => ErrorCode::Overloaded,
            SfuError::Unavailable => ErrorCode::SfuUnavailable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_messages_are_the_ones_clients_always_got() {
        let cases = [
            (SfuError::RoomClosed, "session_not_found", "the live room is closed"),
            (SfuError::NotSubscribed, "not_in_session", "subscribe first"),
            (
                SfuError::NoPendingOffer,
                "invalid_command",
                "no offer is waiting for an answer",
            ),
            (SfuError::NoOffer, "internal_error", "could not build an offer"),
            (
                SfuError::Unavailable,
                "sfu_unavailable",
                "the media server is not running",
            ),
            (SfuError::InvalidSdp("x: y".into()), "invalid_sdp", "x: y"),
        ];
        for (e, code, message) in cases {
            assert_eq!(e.code().as_str(), code);
            assert_eq!(e.to_string(), message);
        }
        assert_eq!(SfuError::Overloaded.code().as_str(), "overloaded");
    }
}
