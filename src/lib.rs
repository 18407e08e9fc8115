//! Lyceum: a realtime mentorship server. This crate is the HTTP side: start-up,
//! configuration, accounts, profiles and the directory. The realtime actors
//! live in the `lyceum-actors` crate.

pub mod admin_cli;
pub mod audit;
pub mod auth;
pub mod configuration;
pub mod db;
pub mod domain;
pub mod embedded_pg;
pub mod error;
pub mod ics;
pub mod profiles;
pub mod ratelimit;
pub mod reminders;
pub mod routes;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod tickets;
pub mod tls;
