//! The mentorship calendar over HTTP: one-on-one slots and bookings
//! (`slots`), group sessions (`sessions`), and around them the `.ics`
//! feeds (`feeds`, written with `ics`), and private notes (`notes`).
//! Every change of seats goes through the mentor's Calendar actor.

pub mod feeds;
pub mod ics;
pub mod notes;
pub mod sessions;
pub mod slots;
