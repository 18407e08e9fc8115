#![allow(clippy::unwrap_used, clippy::expect_used)]
//! One integration-test binary: every test gets its own database on a real
//! Postgres and its own server on port 0 (see `helpers::spawn_app`).

mod admin;
mod auth;
mod authz;
mod boards;
mod booking_notices;
mod browser;
mod browser_boards;
mod browser_chat;
mod browser_e2ee;
mod browser_mentorship;
mod browser_pages;
mod browser_webinar;
mod calendar;
mod chat;
mod directory;
mod e2ee;
mod floods;
mod hardening;
mod helpers;
mod live;
mod page_weight;
mod pages;
mod pages_chat;
mod pages_mentor;
mod process;
mod profile;
mod props;
mod reviews;
mod revocation;
mod server;
mod turn;
mod two_factor;
mod ws;
