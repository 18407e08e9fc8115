//! What the server stands on, with no HTTP or domain rules of its own: the
//! database (and the embedded Postgres for development and tests), TLS,
//! the rate limiter, one-time WebSocket tickets and logging.

pub mod db;
pub mod embedded_pg;
pub mod ratelimit;
pub mod telemetry;
pub mod tickets;
pub mod tls;
