//! Work the server does on its own, not in answer to a request: the
//! background jobs started with the server.

pub mod reminders;
