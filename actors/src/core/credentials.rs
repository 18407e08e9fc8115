//! Whether an access token still stands, for HTTP and the WebSocket alike.
//!
//! An access token is signed and short-lived, but its signature cannot say
//! that its user signed out or had their role changed since it was issued.
//! So every token carries its user's **token version** (`users.token_version`,
//! the `ver` claim) and the **sign-in** (refresh-token family, the `sid`
//! claim) it came from, and every use checks both against Postgres through
//! [`Credentials`], a small per-process cache:
//!
//! - a role change and "sign out everywhere" bump the user's version in the
//!   transaction that makes the change: every token issued before is stale;
//! - signing out (and a refresh-token reuse) revokes one sign-in's family:
//!   the tokens of that sign-in are stale, the user's other sign-ins live on.
//!
//! What this process changes it tells the cache at once ([`Credentials::observe_user`],
//! [`Credentials::observe_sign_in`]); what another process changes (another
//! node, `lyceum admin create` next to a running server) is seen once the
//! cached entry is older than [`FRESH_FOR`]. Versions only grow and a revoked
//! sign-in stays revoked, so a late database read can never undo a newer
//! observation.
//!
//! The role a token may act with is the role the database holds for the
//! current version: the same for an HTTP extractor and a WebSocket command.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use lyceum_protocol::{ErrorCode, Role, UserId};
use uuid::Uuid;

use super::Error;

/// How long a version or sign-in read from Postgres is trusted before it is
/// read again (bounds how late a change made by another process is seen).
pub const FRESH_FOR: Duration = Duration::from_secs(5);
/// Above this many entries, stale ones are swept on insert.
const SWEEP_ABOVE: usize = 8192;

/// What a verified access token says: signature, issuer and expiry are
/// checked; whether it still stands is [`Credentials::check`]'s question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credential {
    pub user: UserId,
    /// The role the token was issued with.
    pub role: Role,
    /// The sign-in (refresh-token family) it came from; a guest's names only
    /// its grant (there is no refresh token).
    pub sign_in: Uuid,
    /// The user's token version when it was issued.
    pub version: i32,
    /// Unix seconds.
    pub expires_at: i64,
}

/// Why a user's or a sign-in's tokens stopped standing; the `reason` of the
/// WebSocket's `session_revoked` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeReason {
    /// `POST /api/auth/logout`: this sign-in only.
    SignedOut,
    /// A spent refresh token was presented again: this sign-in only.
    RefreshTokenReused,
    /// `POST /api/auth/logout-all`: every sign-in.
    SignedOutEverywhere,
    /// An admin changed the user's role: every sign-in.
    RoleChanged,
}

impl RevokeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RevokeReason::SignedOut => "signed_out",
            RevokeReason::RefreshTokenReused => "refresh_token_reused",
            RevokeReason::SignedOutEverywhere => "signed_out_everywhere",
            RevokeReason::RoleChanged => "role_changed",
        }
    }
}

/// A change that has been committed: which tokens no longer stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// Every token of `user` with a version below `version`; `role` is the
    /// role from now on.
    User {
        user: UserId,
        version: i32,
        role: Role,
        reason: RevokeReason,
    },
    /// Every token of one sign-in.
    SignIn {
        user: UserId,
        sign_in: Uuid,
        reason: RevokeReason,
    },
}

impl Revocation {
    pub fn user(&self) -> UserId {
        match *self {
            Revocation::User { user, .. } | Revocation::SignIn { user, .. } => user,
        }
    }

    pub fn reason(&self) -> RevokeReason {
        match *self {
            Revocation::User { reason, .. } | Revocation::SignIn { reason, .. } => reason,
        }
    }

    /// Whether a token with this credential is one it revokes.
    pub fn covers(&self, c: &Credential) -> bool {
        match *self {
            Revocation::User { user, version, .. } => c.user == user && c.version < version,
            Revocation::SignIn { user, sign_in, .. } => c.user == user && c.sign_in == sign_in,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct UserState {
    version: i32,
    role: Role,
    seen: Instant,
    /// Why the version last moved, when this process moved it.
    reason: Option<RevokeReason>,
}

#[derive(Debug, Clone, Copy)]
struct SignInState {
    revoked: bool,
    seen: Instant,
    reason: Option<RevokeReason>,
}

/// The per-process cache of token versions and revoked sign-ins.
pub struct Credentials {
    pool: Pool,
    users: Mutex<HashMap<UserId, UserState>>,
    sign_ins: Mutex<HashMap<Uuid, SignInState>>,
}

/// The refusal for a token that no longer stands.
pub fn revoked() -> Error {
    Error::new(
        ErrorCode::TokenRevoked,
        "this token was revoked (signed out, or the account's role changed); sign in again",
    )
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Credentials {
    pub fn new(pool: Pool) -> Credentials {
        Credentials {
            pool,
            users: Mutex::new(HashMap::new()),
            sign_ins: Mutex::new(HashMap::new()),
        }
    }

    /// The role the token may act with, or why it may not: `token_revoked`
    /// when its version is behind its user's, its role is not its user's, or
    /// its sign-in was revoked; `account_not_found` when the user is gone.
    pub async fn check(&self, c: &Credential) -> Result<Role, Error> {
        let guest = c.role == Role::Guest;
        let now = Instant::now();
        let cached_user = lock(&self.users)
            .get(&c.user)
            .copied()
            .filter(|u| now.duration_since(u.seen) < FRESH_FOR);
        // A guest's sign-in names no refresh family: nothing to revoke.
        let cached_sign_in = if guest {
            Some(false)
        } else {
            lock(&self.sign_ins)
                .get(&c.sign_in)
                .copied()
                .filter(|s| s.revoked || now.duration_since(s.seen) < FRESH_FOR)
                .map(|s| s.revoked)
        };
        let (user, sign_in_revoked) = match (cached_user, cached_sign_in) {
            (Some(u), Some(r)) => (u, r),
            _ => self.load(c).await?,
        };
        if sign_in_revoked || user.version != c.version || user.role != c.role {
            return Err(revoked());
        }
        Ok(user.role)
    }

    /// Reads the user's version and role and whether the sign-in stands, and
    /// merges them into the cache; returns the merged state.
    async fn load(&self, c: &Credential) -> Result<(UserState, bool), Error> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                "SELECT u.token_version, u.role,
                        (SELECT t.revoked_at IS NOT NULL FROM refresh_tokens t
                          WHERE t.id = $2 AND t.user_id = u.id)
                   FROM users u WHERE u.id = $1",
                &[&c.user, &c.sign_in],
            )
            .await?
            .ok_or_else(|| Error::new(ErrorCode::AccountNotFound, "the account of this token no longer exists"))?;
        let version: i32 = row.get(0);
        let role: Role = row
            .get::<_, String>(1)
            .parse()
            .map_err(|_| Error::internal("a user with an unknown role"))?;
        // No family row at all: not a sign-in of this user's (guests aside).
        let revoked = match row.get::<_, Option<bool>>(2) {
            Some(r) => r,
            None => c.role != Role::Guest,
        };
        let user = self.observe_user(c.user, version, role, None);
        let revoked = if c.role == Role::Guest {
            revoked
        } else {
            self.observe_sign_in(c.sign_in, revoked, None)
        };
        Ok((user, revoked))
    }

    /// Records a user's version and role (read, or just committed). An older
    /// version than the one known is ignored. Returns the state now known.
    fn observe_user(&self, user: UserId, version: i32, role: Role, reason: Option<RevokeReason>) -> UserState {
        let now = Instant::now();
        let mut map = lock(&self.users);
        if map.len() > SWEEP_ABOVE {
            map.retain(|_, u| now.duration_since(u.seen) < FRESH_FOR);
        }
        let fresh = UserState {
            version,
            role,
            seen: now,
            reason,
        };
        let entry = map.entry(user).or_insert(fresh);
        if version > entry.version {
            *entry = fresh;
        } else if version == entry.version {
            entry.role = role;
            entry.seen = now;
            entry.reason = entry.reason.or(reason);
        }
        *entry
    }

    /// Records whether a sign-in stands; once revoked it stays revoked.
    /// Returns whether it is revoked.
    fn observe_sign_in(&self, sign_in: Uuid, revoked: bool, reason: Option<RevokeReason>) -> bool {
        let now = Instant::now();
        let mut map = lock(&self.sign_ins);
        if map.len() > SWEEP_ABOVE {
            map.retain(|_, s| now.duration_since(s.seen) < FRESH_FOR);
        }
        let entry = map.entry(sign_in).or_insert(SignInState {
            revoked,
            seen: now,
            reason,
        });
        entry.revoked |= revoked;
        entry.seen = now;
        entry.reason = entry.reason.or(reason);
        entry.revoked
    }

    /// Tells the cache of a committed revocation (before anyone is told).
    pub fn observe(&self, r: &Revocation) {
        match *r {
            Revocation::User {
                user,
                version,
                role,
                reason,
            } => {
                self.observe_user(user, version, role, Some(reason));
            }
            Revocation::SignIn { sign_in, reason, .. } => {
                self.observe_sign_in(sign_in, true, Some(reason));
            }
        }
    }

    /// Whether what this process already knows (however old) says the token
    /// no longer stands, and why; no database read. A connection asks this
    /// once it is registered for revocations, and after a `reauth`, so that
    /// a revocation told between its check and its registration is not lost
    /// (the cache learns of a revocation before connections are told).
    pub fn known_revoked(&self, c: &Credential) -> Option<RevokeReason> {
        if let Some(u) = lock(&self.users).get(&c.user) {
            if u.version > c.version || (u.version == c.version && u.role != c.role) {
                return Some(u.reason.unwrap_or(RevokeReason::RoleChanged));
            }
        }
        if c.role == Role::Guest {
            return None;
        }
        lock(&self.sign_ins)
            .get(&c.sign_in)
            .filter(|s| s.revoked)
            .map(|s| s.reason.unwrap_or(RevokeReason::SignedOut))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pool that is never connected: these tests stay in the cache.
    fn offline() -> Credentials {
        let manager = deadpool_postgres::Manager::new(tokio_postgres::Config::new(), tokio_postgres::NoTls);
        let pool = Pool::builder(manager).build().unwrap();
        Credentials::new(pool)
    }

    #[actix::test]
    async fn a_committed_bump_or_sign_out_refuses_older_tokens_without_a_read() {
        let creds = offline();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let user = UserId(Uuid::nil());
        // What a read of the database found: version 3, mentor, sign-ins live.
        creds.observe_user(user, 3, Role::Mentor, None);
        creds.observe_sign_in(a, false, None);
        creds.observe_sign_in(b, false, None);
        assert_eq!(creds.check(&cred(3, a)).await.unwrap(), Role::Mentor);
        assert_eq!(
            creds.check(&cred(2, a)).await.unwrap_err().code,
            ErrorCode::TokenRevoked
        );
        // A role claimed that the version does not carry.
        let mut admin = cred(3, a);
        admin.role = Role::Admin;
        assert_eq!(creds.check(&admin).await.unwrap_err().code, ErrorCode::TokenRevoked);

        creds.observe(&Revocation::SignIn {
            user,
            sign_in: a,
            reason: RevokeReason::SignedOut,
        });
        assert_eq!(
            creds.check(&cred(3, a)).await.unwrap_err().code,
            ErrorCode::TokenRevoked
        );
        assert_eq!(creds.known_revoked(&cred(3, a)), Some(RevokeReason::SignedOut));
        assert_eq!(
            creds.check(&cred(3, b)).await.unwrap(),
            Role::Mentor,
            "other sign-ins live on"
        );
        // A late read that still saw the sign-in live does not undo it.
        assert!(creds.observe_sign_in(a, false, None));

        creds.observe(&Revocation::User {
            user,
            version: 4,
            role: Role::Mentee,
            reason: RevokeReason::RoleChanged,
        });
        assert_eq!(
            creds.check(&cred(3, b)).await.unwrap_err().code,
            ErrorCode::TokenRevoked
        );
        assert_eq!(creds.known_revoked(&cred(3, b)), Some(RevokeReason::RoleChanged));
        // A late read of the old version does not bring it back.
        assert_eq!(creds.observe_user(user, 3, Role::Mentor, None).version, 4);
        let mut now_mentee = cred(4, b);
        now_mentee.role = Role::Mentee;
        assert_eq!(creds.check(&now_mentee).await.unwrap(), Role::Mentee);
        assert_eq!(creds.known_revoked(&now_mentee), None);
    }

    fn cred(version: i32, sign_in: Uuid) -> Credential {
        Credential {
            user: UserId(Uuid::nil()),
            role: Role::Mentor,
            sign_in,
            version,
            expires_at: 0,
        }
    }

    #[test]
    fn a_revocation_covers_older_versions_and_its_own_sign_in_only() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let bump = Revocation::User {
            user: UserId(Uuid::nil()),
            version: 2,
            role: Role::Mentor,
            reason: RevokeReason::RoleChanged,
        };
        assert!(bump.covers(&cred(1, a)));
        assert!(!bump.covers(&cred(2, a)));
        let out = Revocation::SignIn {
            user: UserId(Uuid::nil()),
            sign_in: a,
            reason: RevokeReason::SignedOut,
        };
        assert!(out.covers(&cred(2, a)));
        assert!(!out.covers(&cred(2, b)));
        let other = Revocation::SignIn {
            user: UserId::new_random(),
            sign_in: a,
            reason: RevokeReason::SignedOut,
        };
        assert!(!other.covers(&cred(2, a)), "another user's revocation");
    }
}
