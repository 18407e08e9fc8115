//! Where an actor's answer to one command goes: back to a WebSocket client
//! as an `ack` or `error` frame, or to a caller that awaits the typed result
//! (an HTTP handler). The actor answers once with a `Result`; it never
//! knows which it was, and nothing is serialised to be parsed back.

use serde_json::Value;
use tokio::sync::oneshot;

use super::outbox::Outbox;
use super::Error;
use crate::protocol;

/// A result that can be an `ack` frame: its fields join the frame's.
pub trait AckData {
    fn ack_data(&self) -> Value;
}

pub enum Reply<T> {
    /// Write the answer to this client, correlated by the command's id.
    Frame { outbox: Outbox, id: Option<Value> },
    /// Hand the typed result to whoever awaits it.
    Caller(oneshot::Sender<Result<T, Error>>),
}

impl<T: AckData> Reply<T> {
    pub fn frame(outbox: Outbox, id: Option<Value>) -> Reply<T> {
        Reply::Frame { outbox, id }
    }

    /// A reply for an awaiting caller, and the receiver it awaits.
    pub fn caller() -> (Reply<T>, oneshot::Receiver<Result<T, Error>>) {
        let (tx, rx) = oneshot::channel();
        (Reply::Caller(tx), rx)
    }

    pub fn send(self, result: Result<T, Error>) {
        match self {
            Reply::Frame { outbox, id } => {
                outbox.text(match result {
                    Ok(v) => protocol::ack(&id, v.ack_data()),
                    Err(e) => e.frame(&id),
                });
            }
            Reply::Caller(tx) => {
                // The caller may have given up (timed out): nothing to do.
                let _ = tx.send(result);
            }
        }
    }
}
