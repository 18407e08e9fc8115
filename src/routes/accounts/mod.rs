//! Accounts over HTTP: signing up, in and out (`auth`), the caller's own
//! account and profile (`me`), other users' public profiles (`users`),
//! two-factor sign-in (`two_factor`), the profile picture (`avatar`), end-to-end encryption keys (`keys`) and the admin's audit log and role
//! changes (`admin`).

pub mod admin;
pub mod auth;
pub mod avatar;
pub mod keys;
pub mod me;
pub mod two_factor;
pub mod users;
