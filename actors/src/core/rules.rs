//! Rules that several paths check, each in one function so that every path
//! (WebSocket command, HTTP route, actor) gives the same answer.

use lyceum_protocol::{ErrorCode, Role, RoomId};

use super::{Error, Limits, Principal};

/// Guests (seed 004's anonymous join) live in the one room they were let
/// into. `room` is the room a command touches, None for anything that is
/// not a chat room; `doing` names that in the refusal ("join live sessions").
pub fn guest_confined(who: &Principal, room: Option<RoomId>, doing: &str) -> Result<(), Error> {
    if who.role != Role::Guest || (room.is_some() && who.guest_room == room) {
        return Ok(());
    }
    Err(Error::new(
        ErrorCode::Forbidden,
        match room {
            Some(_) => "guests may only use the room they joined".to_owned(),
            None => format!("guests may not {doing}"),
        },
    ))
}

/// A message body or ciphertext fits the limit.
pub fn message_size(limits: &Limits, body: Option<&str>, ciphertext: Option<&str>) -> Result<(), Error> {
    let max = limits.max_message_bytes;
    if body.is_some_and(|b| b.len() > max) || ciphertext.is_some_and(|c| c.len() > max) {
        return Err(Error::new(
            ErrorCode::MessageTooLarge,
            format!("a message may have at most {max} bytes"),
        ));
    }
    Ok(())
}
