//! Rate limits for security-sensitive routes (seed 003: login, booking; issue
//! 12: two-factor code attempts; issue 16: board posts).
//!
//! Handlers depend on the `RateLimiter` trait only. One node uses the in-process
//! GCRA limiter here; a cluster will plug in a Redis-backed one behind the same
//! trait so that the limits hold across nodes.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::configuration::RateLimitSettings;
use crate::error::ApiError;

/// Each limit counts attempts per key (a client address or an account).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    LoginPerIp,
    /// Login and register attempts for one email address.
    PerAccount,
    RegisterPerIp,
    /// Booking changes (book, cancel, register, unregister) by one user.
    BookingPerUser,
    /// Two-factor code attempts for one account (keyed by user id).
    TwoFactorPerAccount,
    /// Two-factor code attempts from one client address.
    TwoFactorPerIp,
    /// New board threads and replies by one user.
    BoardPostPerUser,
}

pub trait RateLimiter: Send + Sync + 'static {
    /// Counts one attempt; `Err(TooManyRequests)` with the wait when over the limit.
    fn check<'a>(&'a self, limit: Limit, key: &'a str) -> BoxFuture<'a, Result<(), ApiError>>;
}

pub struct InMemoryRateLimiter {
    login_ip: DefaultKeyedRateLimiter<String>,
    login_account: DefaultKeyedRateLimiter<String>,
    register_ip: DefaultKeyedRateLimiter<String>,
    booking_user: DefaultKeyedRateLimiter<String>,
    two_factor_account: DefaultKeyedRateLimiter<String>,
    two_factor_ip: DefaultKeyedRateLimiter<String>,
    board_post_user: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

fn per(n: u32, period: Duration) -> Quota {
    let n = NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
    // A burst of n, refilled evenly over the period.
    Quota::with_period(period / n.get())
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(n)
}

impl InMemoryRateLimiter {
    pub fn new(s: &RateLimitSettings) -> Arc<InMemoryRateLimiter> {
        let minute = Duration::from_secs(60);
        let l = Arc::new(InMemoryRateLimiter {
            login_ip: DefaultKeyedRateLimiter::keyed(per(s.login_per_ip_per_minute, minute)),
            login_account: DefaultKeyedRateLimiter::keyed(per(s.login_per_account_per_minute, minute)),
            register_ip: DefaultKeyedRateLimiter::keyed(per(s.register_per_ip_per_hour, minute * 60)),
            booking_user: DefaultKeyedRateLimiter::keyed(per(s.bookings_per_user_per_minute, minute)),
            two_factor_account: DefaultKeyedRateLimiter::keyed(per(s.two_factor_per_account_per_minute, minute)),
            two_factor_ip: DefaultKeyedRateLimiter::keyed(per(s.two_factor_per_ip_per_minute, minute)),
            board_post_user: DefaultKeyedRateLimiter::keyed(per(s.board_posts_per_user_per_minute, minute)),
            clock: DefaultClock::default(),
        });
        // Forget keys whose buckets are full again, so memory follows the
        // number of recently active clients, not every client ever seen.
        let weak = Arc::downgrade(&l);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                let Some(l) = weak.upgrade() else { break };
                for lim in [
                    &l.login_ip,
                    &l.login_account,
                    &l.register_ip,
                    &l.booking_user,
                    &l.two_factor_account,
                    &l.two_factor_ip,
                    &l.board_post_user,
                ] {
                    lim.retain_recent();
                    lim.shrink_to_fit();
                }
            }
        });
        l
    }
}

impl RateLimiter for InMemoryRateLimiter {
    fn check<'a>(&'a self, limit: Limit, key: &'a str) -> BoxFuture<'a, Result<(), ApiError>> {
        let lim = match limit {
            Limit::LoginPerIp => &self.login_ip,
            Limit::PerAccount => &self.login_account,
            Limit::RegisterPerIp => &self.register_ip,
            Limit::BookingPerUser => &self.booking_user,
            Limit::TwoFactorPerAccount => &self.two_factor_account,
            Limit::TwoFactorPerIp => &self.two_factor_ip,
            Limit::BoardPostPerUser => &self.board_post_user,
        };
        let result = lim.check_key(&key.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            ApiError::TooManyRequests {
                retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            }
        });
        Box::pin(std::future::ready(result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn burst_then_retry_after() {
        let l = InMemoryRateLimiter::new(&RateLimitSettings {
            login_per_ip_per_minute: 3,
            login_per_account_per_minute: 100,
            register_per_ip_per_hour: 100,
            bookings_per_user_per_minute: 100,
            two_factor_per_account_per_minute: 100,
            two_factor_per_ip_per_minute: 100,
            board_posts_per_user_per_minute: 100,
        });
        for _ in 0..3 {
            l.check(Limit::LoginPerIp, "10.0.0.1").await.unwrap();
        }
        match l.check(Limit::LoginPerIp, "10.0.0.1").await {
            Err(ApiError::TooManyRequests { retry_after_secs }) => assert!((1..=20).contains(&retry_after_secs)),
            other => panic!("expected 429, got {other:?}"),
        }
        // Another key and another limit are unaffected.
        l.check(Limit::LoginPerIp, "10.0.0.2").await.unwrap();
        l.check(Limit::PerAccount, "10.0.0.1").await.unwrap();
    }
}
