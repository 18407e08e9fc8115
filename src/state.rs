//! What every request handler shares: the pool, the token keys, the rate
//! limiter and the few settings handlers read.

use std::sync::Arc;

use actix_web::HttpRequest;
use deadpool_postgres::Pool;

use lyceum_actors::Realtime;

use crate::auth::JwtKeys;
use crate::infra::ratelimit::RateLimiter;
use crate::infra::tickets::TicketStore;

pub struct AppState {
    pub pool: Pool,
    pub jwt: JwtKeys,
    pub limiter: Arc<dyn RateLimiter>,
    pub refresh_ttl_days: u64,
    /// Take the client address from X-Forwarded-For (only behind our own proxy).
    pub trust_forwarded_for: bool,
    /// The realtime core: its services and every domain (chat, presence,
    /// calendars, live rooms).
    pub realtime: Arc<Realtime>,
    /// One-time WebSocket tickets for browsers.
    pub tickets: TicketStore,
    /// Bearer token for `/metrics`; None: loopback scrapers only.
    pub metrics_token: Option<secrecy::SecretString>,
    /// Seals and opens TOTP secrets (two-factor sign-in).
    pub totp: crate::auth::totp::SecretBox,
    /// Page sign-ins (the `lyceum_page` cookie) and their cookie settings.
    pub web: crate::web::WebKeys,
    /// Where profile pictures are kept (`data_dir/avatars`).
    pub avatars_dir: std::path::PathBuf,
    /// Mints TURN credentials (`GET /api/live/ice-servers`); None: no TURN
    /// configured.
    pub turn: Option<crate::auth::turn::TurnIssuer>,
    /// Whether notifications also go out by email (SMTP configured and the
    /// outbox worker running); each user's preferences decide per kind.
    pub email_notifications: bool,
    /// Hold an account's board posts for review until this many of its
    /// posts were published (`boards.hold_first_posts`; 0: never).
    pub hold_first_posts: u32,
    /// Signs and checks the unsubscribe links of emails.
    pub mail_links: std::sync::Arc<crate::notify::MailLinks>,
}

impl AppState {
    /// The client's address for rate limits and the audit log.
    pub fn client_ip(&self, req: &HttpRequest) -> String {
        if self.trust_forwarded_for {
            if let Some(ip) = req.connection_info().realip_remote_addr() {
                return ip.to_owned();
            }
        }
        req.peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|| "unknown".to_owned())
    }
}
