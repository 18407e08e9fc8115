//! The core every domain stands on: the [`Services`] (the database pool,
//! the limits, the token check and the [`credentials`] cache behind it, the
//! send rate limits and the fan-out), who
//! is asking ([`Principal`]), the bounded [`outbox`] to a client, the
//! actor [`registry`], the [`fanout`] seam where delivery leaves a node, the
//! [`seams`] through which one domain tells another, and the rules every
//! path shares ([`rules`], [`policy`]). Nothing here names a domain.

pub mod credentials;
pub mod error;
pub mod fanout;
pub mod outbox;
pub mod policy;
pub mod registry;
pub mod reply;
pub mod rules;
pub mod seams;

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use governor::{DefaultKeyedRateLimiter, Quota};
use lyceum_protocol::{Role, RoomId, UserId};

pub use credentials::{Credential, Credentials, Revocation, RevokeReason};
pub use error::Error;
pub use fanout::FanOut;

/// Hands a client's command to an actor without waiting, refusing it with
/// `overloaded` when the actor's mailbox is at the bound it set (actix's
/// `do_send` would queue it regardless). Every client command enters a
/// domain actor through here; the server's own notices (a connection
/// closing, a membership change) use `do_send`, a few per connection.
pub fn offer<A, M>(addr: &actix::Addr<A>, msg: M) -> Result<(), Error>
where
    A: actix::Actor<Context = actix::Context<A>> + actix::Handler<M>,
    M: actix::Message + Send + 'static,
    M::Result: Send,
{
    addr.try_send(msg).map_err(|e| match e {
        actix::dev::SendError::Full(_) => Error::new(
            lyceum_protocol::ErrorCode::Overloaded,
            "the server is busy with this; retry shortly",
        ),
        actix::dev::SendError::Closed(_) => Error::new(
            lyceum_protocol::ErrorCode::Unavailable,
            "this stopped on the server; retry",
        ),
    })
}

/// Who is on the other end of a connection: established at upgrade. Its
/// role is the one [`Credentials::check`] allowed; a role change closes the
/// connection (the gateway), so it never acts with a role it lost.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: UserId,
    pub role: Role,
    pub display_name: String,
    /// Guests may only ever touch this room.
    pub guest_room: Option<RoomId>,
    /// When the credential behind a WebSocket connection expires (Unix
    /// seconds); the connection ends then unless the client re-authenticates.
    /// None for commands the server issues itself.
    pub expires_at: Option<i64>,
}

/// Verifies an access token's signature, issuer and expiry (for `reauth`):
/// what it says, or why not. Whether it still stands is
/// [`Credentials::check`]'s question.
pub type TokenVerifier = Arc<dyn Fn(&str) -> Result<Credential, String> + Send + Sync>;

#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest message body or ciphertext, in bytes.
    pub max_message_bytes: usize,
    /// Largest WebSocket frame accepted from a client.
    pub max_frame_bytes: usize,
    /// Frames queued for one client before it is cut off as a slow consumer.
    pub outbound_queue: usize,
    /// A subscriber being caught up that reads nothing for this long is cut
    /// off as a slow consumer.
    pub catch_up_stall: Duration,
    /// Calendars one connection may watch at once.
    pub max_calendar_watches: usize,
    /// A calendar actor with no watchers and no pending change stops after this long.
    pub calendar_idle: Duration,
    /// Sends per user per second, and the burst allowed above it.
    pub messages_per_second: u32,
    pub message_burst: u32,
    pub guest_messages_per_second: u32,
    pub guest_message_burst: u32,
    /// Where uploaded attachments are kept.
    pub attachments_dir: PathBuf,
    pub max_attachment_bytes: usize,
    pub attachment_types: Vec<String>,
    /// How long an empty live room stays up (a page reload, a flaky network).
    pub live_empty_grace: Duration,
}

/// What every domain of the realtime core shares. Built once at start-up;
/// the domains hold an `Arc` of it. It owns no actor of any domain: the
/// registries of rooms, calendars and live rooms belong to their domains.
pub struct Services {
    pub pool: Pool,
    pub verify_token: TokenVerifier,
    /// Token versions and revoked sign-ins: whether a token still stands.
    pub credentials: Credentials,
    pub limits: Limits,
    /// Where a frame for a user goes to reach every connection of theirs.
    pub fanout: Arc<dyn FanOut>,
    send_limit: DefaultKeyedRateLimiter<UserId>,
    guest_send_limit: DefaultKeyedRateLimiter<UserId>,
}

fn quota(per_second: u32, burst: u32) -> Quota {
    let rate = NonZeroU32::new(per_second.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(rate).allow_burst(burst)
}

impl Services {
    pub fn new(pool: Pool, limits: Limits, verify_token: TokenVerifier, fanout: Arc<dyn FanOut>) -> Arc<Services> {
        Arc::new(Services {
            send_limit: DefaultKeyedRateLimiter::keyed(quota(limits.messages_per_second, limits.message_burst)),
            guest_send_limit: DefaultKeyedRateLimiter::keyed(quota(
                limits.guest_messages_per_second,
                limits.guest_message_burst,
            )),
            credentials: Credentials::new(pool.clone()),
            pool,
            verify_token,
            limits,
            fanout,
        })
    }

    /// Counts one send; `Err(wait)` when over the user's rate.
    pub fn check_send_rate(&self, who: &Principal) -> Result<(), Duration> {
        let limiter = if who.role == Role::Guest {
            &self.guest_send_limit
        } else {
            &self.send_limit
        };
        limiter.check_key(&who.user).map_err(|nu| {
            use governor::clock::Clock;
            nu.wait_time_from(governor::clock::DefaultClock::default().now())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix::prelude::*;

    /// An actor that never gets to its mailbox (it waits forever).
    struct Stuck;

    impl Actor for Stuck {
        type Context = Context<Self>;

        fn started(&mut self, ctx: &mut Context<Self>) {
            ctx.wait(actix::fut::wrap_future(std::future::pending::<()>()));
        }
    }

    #[derive(Message)]
    #[rtype(result = "()")]
    struct Ping;

    impl Handler<Ping> for Stuck {
        type Result = ();
        fn handle(&mut self, _: Ping, _: &mut Context<Self>) {}
    }

    #[actix::test]
    async fn a_full_mailbox_refuses_with_overloaded() {
        let addr = Stuck::create(|ctx| {
            ctx.set_mailbox_capacity(4);
            Stuck
        });
        let mut accepted = 0;
        let refusal = loop {
            match offer(&addr, Ping) {
                Ok(()) => accepted += 1,
                Err(e) => break e,
            }
            assert!(accepted < 100, "the mailbox bound was not enforced");
        };
        assert_eq!(refusal.code, lyceum_protocol::ErrorCode::Overloaded);
        assert!((4..=5).contains(&accepted), "accepted {accepted} into a mailbox of 4");
    }
}
