//! Building and running the application: the database, the shared state, the
//! HTTP(S) listener and the shutdown sequence. `main` and the tests both go
//! through `Application::build`, so tests exercise the real start-up.

use std::net::{IpAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::{ErrorHandlers, NormalizePath, TrailingSlash};
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use tracing_actix_web::TracingLogger;

use crate::auth::{jwt, JwtKeys};
use crate::configuration::Settings;
use crate::infra::db::Database;
use crate::infra::ratelimit::{InMemoryRateLimiter, RateLimiter};
use crate::routes;
use crate::state::AppState;

pub struct Application {
    port: u16,
    server: Server,
    db: Database,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        if settings.redis.url.is_some() {
            tracing::info!("redis.url is set; this build still fans out and rate-limits in process");
        }
        // Configuration mistakes first, before any database work.
        let host: IpAddr = settings
            .server
            .host
            .parse()
            .with_context(|| format!("server.host `{}` is not an IP address", settings.server.host))?;
        if !settings.tls_enabled() && !host.is_loopback() && !settings.server.allow_plain_http_non_loopback {
            anyhow::bail!(
                "refusing to serve plain HTTP on {host}: configure server.tls_cert and server.tls_key, \
                 or bind 127.0.0.1, or set server.allow_plain_http_non_loopback behind a TLS proxy"
            );
        }
        let db = Database::open(&settings).await?;
        let secret = jwt::load_or_create_secret(settings.auth.jwt_secret.as_ref(), &settings.server.data_dir)?;
        let totp_key = jwt::load_or_create_named_secret(
            settings.auth.totp_key.as_ref(),
            &settings.server.data_dir,
            "totp_key",
            "key for sealing TOTP secrets",
        )?;
        let totp = crate::auth::totp::SecretBox::new(&jwt::secret_bytes(&totp_key));
        let limiter: Arc<dyn RateLimiter> = InMemoryRateLimiter::new(&settings.rate_limit);
        let c = &settings.chat;
        let keys = JwtKeys::new(&jwt::secret_bytes(&secret), settings.auth.access_token_ttl_secs);
        let verifier_keys = keys.clone();
        let verify_token: lyceum_actors::TokenVerifier = Arc::new(move |token: &str| {
            verifier_keys
                .verify(token)
                .map(|c| c.credential())
                .map_err(|e| e.to_string())
        });
        let realtime = lyceum_actors::Realtime::new(
            db.pool.clone(),
            lyceum_actors::Limits {
                max_message_bytes: c.max_message_bytes,
                max_frame_bytes: c.max_frame_bytes,
                outbound_queue: c.outbound_queue,
                catch_up_stall: Duration::from_secs(c.catch_up_stall_secs),
                max_calendar_watches: settings.calendar.max_watches_per_connection,
                calendar_idle: Duration::from_secs(settings.calendar.idle_secs),
                messages_per_second: c.messages_per_second,
                message_burst: c.message_burst,
                guest_messages_per_second: c.guest_messages_per_second,
                guest_message_burst: c.guest_message_burst,
                attachments_dir: settings.server.data_dir.join("attachments"),
                max_attachment_bytes: c.max_attachment_bytes.min(routes::MAX_ATTACHMENT_PAYLOAD),
                attachment_types: c.attachment_types.iter().map(|t| t.to_lowercase()).collect(),
                live_empty_grace: Duration::from_secs(settings.sfu.empty_room_grace_secs),
            },
            verify_token,
        );
        if settings.sfu.enabled {
            let f = &settings.sfu;
            let sfu = lyceum_sfu::Sfu::start(lyceum_sfu::SfuConfig {
                shards: f.shards,
                bind: f.bind.parse().context("sfu.bind")?,
                port: f.port,
                advertise: if f.advertise.is_empty() {
                    None
                } else {
                    Some(f.advertise.parse().context("sfu.advertise")?)
                },
                fail_timeout: Duration::from_secs(f.fail_timeout_secs),
                bwe: f.bwe,
                initial_bitrate: f.initial_bitrate,
                spread_at: f.spread_at,
                gso: f.gso,
            })
            .context("starting the SFU (UDP sockets)")?;
            realtime.live.set_sfu(sfu);
        }
        let email_notifications = settings.reminders.enabled && settings.smtp.url.is_some();
        // Direct messages to someone offline become notifications (and a
        // digest email): the chat domain tells the edge through its seam.
        realtime
            .chat
            .tell_direct_messages_to(Arc::new(crate::notify::OfflineMessages {
                pool: db.pool.clone(),
                realtime: Arc::downgrade(&realtime),
                digest_delay: Duration::from_secs(settings.notifications.digest_delay_secs),
                email: email_notifications,
            }));
        // Booking changes become notifications, stored in the calendar's
        // batch transaction (its seam) and pushed after the commit.
        realtime
            .calendars
            .tell_bookings_to(Arc::new(crate::booking_notices::BookingNotices {
                fanout: realtime.services.fanout.clone(),
                email: email_notifications,
            }));
        let listener = TcpListener::bind((host, settings.server.port))
            .with_context(|| format!("binding {host}:{}", settings.server.port))?;
        let port = listener.local_addr()?.port();
        let public_url = if settings.notifications.public_url.is_empty() {
            let scheme = if settings.tls_enabled() { "https" } else { "http" };
            match host {
                IpAddr::V6(h) => format!("{scheme}://[{h}]:{port}"),
                IpAddr::V4(h) => format!("{scheme}://{h}:{port}"),
            }
        } else {
            settings.notifications.public_url.clone()
        };
        let mail_links = Arc::new(crate::notify::MailLinks::new(&public_url, &jwt::secret_bytes(&secret)));
        if settings.reminders.enabled {
            let mailer = match &settings.smtp.url {
                Some(url) => Some(Arc::new(
                    crate::jobs::reminders::Mailer::new(
                        secrecy::ExposeSecret::expose_secret(url),
                        &settings.smtp.from,
                    )?
                    .with_links(mail_links.clone()),
                )),
                None => None,
            };
            crate::jobs::reminders::Worker {
                pool: db.pool.clone(),
                fanout: realtime.services.fanout.clone(),
                mailer,
            }
            .spawn(Duration::from_millis(settings.reminders.poll_ms));
        }
        let state = web::Data::new(AppState {
            pool: db.pool.clone(),
            jwt: keys,
            limiter,
            refresh_ttl_days: settings.auth.refresh_token_ttl_days,
            trust_forwarded_for: settings.server.trust_forwarded_for,
            realtime,
            tickets: Default::default(),
            metrics_token: settings.metrics.token.clone(),
            totp,
            web: crate::web::WebKeys::new(
                &jwt::secret_bytes(&secret),
                settings.auth.refresh_token_ttl_days * 86_400,
                settings.tls_enabled() || settings.server.allow_plain_http_non_loopback,
            ),
            avatars_dir: settings.server.data_dir.join("avatars"),
            turn: crate::auth::turn::TurnIssuer::from_settings(&settings.turn),
            email_notifications,
            hold_first_posts: settings.boards.hold_first_posts,
            mail_links,
        });

        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(ErrorHandlers::new().default_handler(routes::json_errors))
                .wrap(actix_web::middleware::from_fn(routes::refuse_nul))
                .wrap(NormalizePath::new(TrailingSlash::Trim))
                .wrap(TracingLogger::default())
                .app_data(state.clone())
                .configure(routes::configure)
        })
        // Realtime frames are small: without TCP_NODELAY, Nagle's algorithm
        // and delayed ACKs hold some of them back ~40 ms (we measured it).
        .on_connect(|conn, _| {
            if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
                let _ = tcp.set_nodelay(true);
            } else if let Some(tls) =
                conn.downcast_ref::<actix_tls::accept::rustls_0_23::TlsStream<actix_web::rt::net::TcpStream>>()
            {
                let _ = tls.get_ref().0.set_nodelay(true);
            }
        })
        .shutdown_timeout(settings.server.shutdown_timeout_secs)
        .client_request_timeout(Duration::from_secs(10));
        if settings.server.workers > 0 {
            server = server.workers(settings.server.workers);
        }
        let server = match (&settings.server.tls_cert, &settings.server.tls_key) {
            (Some(cert), Some(key)) => {
                let tls = crate::infra::tls::server_config(cert, key)?;
                tracing::info!(%host, port, "serving HTTPS (and WSS)");
                server.listen_rustls_0_23(listener, tls)?
            }
            _ => {
                tracing::warn!(%host, port, "no TLS certificate configured: serving plain HTTP on loopback only");
                server.listen(listener)?
            }
        };
        Ok(Application {
            port,
            server: server.run(),
            db,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server from elsewhere (tests restart servers with it).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Runs until SIGINT/SIGTERM: stop accepting, let in-flight requests
    /// finish (up to server.shutdown_timeout_secs), then close the pool and
    /// stop the private Postgres.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let result = self.server.await;
        tracing::info!("HTTP server stopped");
        let db = self.db;
        tokio::task::spawn_blocking(move || db.close()).await?;
        result.context("HTTP server")
    }
}
