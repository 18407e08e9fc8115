//! Chat over HTTP: rooms and their membership, history and sending
//! (`rooms`), files (`attachments`), guest identities (`guests`) and the
//! WebSocket gateway with its tickets (`ws`). Live traffic is the chat
//! core's (`lyceum-actors`); these routes hand it their commands.

pub mod attachments;
pub mod guests;
pub mod rooms;
pub mod ws;
