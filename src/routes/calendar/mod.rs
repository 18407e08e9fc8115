//! The mentorship calendar over HTTP: one-on-one slots and bookings
//! (`slots`), group sessions (`sessions`), and around them the `.ics`
//! feeds (`feeds`, written with `ics`), private notes (`notes`) and
//! attendance (`attendance`).
//! Every change of seats goes through the mentor's Calendar actor.

pub mod attendance;
pub mod feeds;
pub mod ics;
pub mod notes;
pub mod sessions;
pub mod slots;
