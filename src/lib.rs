//! Lyceum: a realtime mentorship server. This crate is the HTTP side: start-up,
//! configuration, accounts, profiles and the directory. The realtime actors
//! live in the `lyceum-actors` crate.

//!
//! - `startup`, `state`, `configuration`, `error`: the application itself,
//!   its shared state, its settings and its one error type.
//! - `routes`: the HTTP API by domain (accounts, chat, calendar, directory,
//!   ops, the web app).
//! - `auth`, `domain`, `audit`, `profiles`: who is calling, validated
//!   values, the audit log and profile storage, shared by the routes.
//! - `infra`: database, TLS, rate limiting, tickets, logging.
//! - `jobs`: background work (reminders).
//! - `boards`: the discussion boards' shared rules and Markdown rendering.
//! - `booking_notices`: booking changes as notifications (the calendar's
//!   seam, stored in its batch's transaction).
//! - `notify`: the one way a notification is stored (once per user and
//!   event) and pushed live.
//! - `web`: the web pages (server-rendered, with page sign-in and CSRF).
//! - `admin_cli`: `lyceum admin`.

pub mod admin_cli;
pub mod audit;
pub mod auth;
pub mod boards;
pub mod booking_notices;
pub mod configuration;
pub mod domain;
pub mod error;
pub mod infra;
pub mod jobs;
pub mod notices;
pub mod notify;
pub mod profiles;
pub mod routes;
pub mod startup;
pub mod state;
pub mod web;
