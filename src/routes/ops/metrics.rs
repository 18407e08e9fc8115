//! `/metrics`: Prometheus text for scrapers — the process, the chat core
//! and every live room's SFU figures (participants, tracks, bytes and
//! packets in and out, losses, the SFU-added latency histogram).
//!
//! Open to loopback scrapers, or to anyone with `metrics.token` as a bearer
//! token; the figures name rooms by id and never name users.

use std::fmt::Write;

use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, HttpRequest, HttpResponse};
use secrecy::ExposeSecret;

use crate::error::ApiError;
use crate::state::AppState;

pub async fn metrics(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let allowed = match &state.metrics_token {
        Some(token) => req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .is_some_and(|t| constant_time_eq(t.as_bytes(), token.expose_secret().as_bytes())),
        None => req.peer_addr().is_some_and(|a| a.ip().is_loopback()),
    };
    if !allowed {
        return Err(ApiError::forbidden(
            "metrics are for loopback scrapers or holders of metrics.token",
        ));
    }
    let mut out = String::with_capacity(16 * 1024);
    if let Some((cpu, rss)) = process_figures() {
        let _ = writeln!(out, "# HELP lyceum_process_cpu_seconds_total CPU time used by the process.\n# TYPE lyceum_process_cpu_seconds_total counter\nlyceum_process_cpu_seconds_total {cpu}");
        let _ = writeln!(out, "# HELP lyceum_process_resident_memory_bytes Resident memory.\n# TYPE lyceum_process_resident_memory_bytes gauge\nlyceum_process_resident_memory_bytes {rss}");
    }
    let _ = writeln!(
        out,
        "# HELP lyceum_chat_rooms_running Chat room actors in memory.\n# TYPE lyceum_chat_rooms_running gauge\nlyceum_chat_rooms_running {}",
        state.realtime.chat.running_rooms()
    );
    let _ = writeln!(
        out,
        "# HELP lyceum_calendar_actors Mentor calendar actors in memory.\n# TYPE lyceum_calendar_actors gauge\nlyceum_calendar_actors {}",
        state.realtime.calendars.running_calendars()
    );
    if let Some(sfu) = state.realtime.live.sfu() {
        sfu.metrics.render(&mut out);
    }
    Ok(HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(out))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// CPU seconds and resident bytes from /proc (Linux), if readable.
fn process_figures() -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    let cpu = (f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / ticks;
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some((cpu, pages * 4096))
}
