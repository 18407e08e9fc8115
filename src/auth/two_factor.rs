//! Two-factor state in the database (`two_factor`,
//! `two_factor_recovery_codes`, migration V7) and the one code check that
//! sign-in and every `/api/me/2fa` route go through: rate limit, TOTP with
//! ±1 step and no replay, or a one-time recovery code; failures audited.

use deadpool_postgres::GenericClient;
use lyceum_actors::UserId;
use lyceum_protocol::ErrorCode;
use serde_json::json;

use crate::audit::{self, action};
use crate::auth::totp;
use crate::error::ApiError;
use crate::infra::ratelimit::Limit;
use crate::state::AppState;

/// An account's two-factor row.
pub struct TwoFactor {
    pub sealed: Vec<u8>,
    pub enabled: bool,
    pub enabled_at: Option<chrono::DateTime<chrono::Utc>>,
}

pub async fn load(db: &impl GenericClient, user: UserId) -> Result<Option<TwoFactor>, ApiError> {
    Ok(db
        .query_opt(
            "SELECT secret_sealed, enabled_at FROM two_factor WHERE user_id = $1",
            &[&user],
        )
        .await?
        .map(|r| {
            let enabled_at: Option<chrono::DateTime<chrono::Utc>> = r.get(1);
            TwoFactor {
                sealed: r.get(0),
                enabled: enabled_at.is_some(),
                enabled_at,
            }
        }))
}

/// Which kinds of code a check accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    /// A TOTP code only (confirming enrolment).
    Totp,
    /// A recovery code only (sign-in's `recoveryCode`).
    Recovery,
    /// Either, told apart by shape: six digits are a TOTP code.
    Either,
}

/// What a successful check used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Used {
    Totp,
    RecoveryCode,
}

impl Used {
    pub fn as_str(self) -> &'static str {
        match self {
            Used::Totp => "totp",
            Used::RecoveryCode => "recovery_code",
        }
    }
}

/// Counts one code attempt against the per-account and per-address limits
/// (`429 rate_limited` with `Retry-After` when over).
pub async fn limit_attempt(state: &AppState, user: UserId, ip: &str) -> Result<(), ApiError> {
    state
        .limiter
        .check(Limit::TwoFactorPerAccount, &user.to_string())
        .await?;
    state.limiter.check(Limit::TwoFactorPerIp, ip).await
}

/// Records a failed attempt on a connection of its own, so that it stays
/// in the log whatever the caller's transaction does.
pub async fn audit_failure(state: &AppState, user: UserId, ip: &str, purpose: &str, reason: &str) {
    let result = async {
        let client = state.pool.get().await.map_err(anyhow::Error::from)?;
        audit::record(
            &client,
            audit::Entry {
                actor: Some(user),
                subject: Some(user),
                action: action::TWO_FACTOR_FAILED,
                ip: Some(ip),
                details: json!({"purpose": purpose, "reason": reason}),
            },
        )
        .await
        .map_err(anyhow::Error::from)
    }
    .await;
    if let Err(e) = result {
        tracing::error!(error = ?e, %user, "could not audit a failed two-factor code");
    }
}

fn invalid(message: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidTwoFactorCode, message)
}

/// Checks `input` for the account whose two-factor row is `tf` (the caller
/// has already counted the attempt with [`limit_attempt`]). A TOTP code is
/// accepted one step either side of now and only at a step later than the
/// last accepted one, which is then stored; a recovery code is spent.
/// A failure is audited (`two_factor_failed`, `details.purpose`,
/// `details.reason`: `wrong_code` or `replayed`) and answered
/// `401 invalid_two_factor_code`.
#[allow(clippy::too_many_arguments)]
pub async fn check_code(
    state: &AppState,
    db: &impl GenericClient,
    user: UserId,
    tf: &TwoFactor,
    input: &str,
    accept: Accept,
    ip: &str,
    purpose: &str,
) -> Result<Used, ApiError> {
    let totp_code = match accept {
        Accept::Recovery => None,
        Accept::Totp => Some(input.chars().filter(|c| !c.is_whitespace()).collect::<String>()),
        Accept::Either => totp::as_totp_code(input),
    };
    if let Some(code) = totp_code {
        let secret = state.totp.open(&tf.sealed, user.0.as_bytes())?;
        let now = totp::step_at(chrono::Utc::now().timestamp());
        let Some(step) = totp::matching_step(&secret, &code, now) else {
            audit_failure(state, user, ip, purpose, "wrong_code").await;
            return Err(invalid("the two-factor code is wrong or has expired"));
        };
        let n = db
            .execute(
                "UPDATE two_factor SET last_used_step = $2
                  WHERE user_id = $1 AND (last_used_step IS NULL OR last_used_step < $2)",
                &[&user, &step],
            )
            .await?;
        if n == 0 {
            audit_failure(state, user, ip, purpose, "replayed").await;
            return Err(invalid("this two-factor code was already used; wait for the next one"));
        }
        return Ok(Used::Totp);
    }
    if !tf.enabled {
        // Recovery codes exist only once two-factor sign-in is on.
        audit_failure(state, user, ip, purpose, "wrong_code").await;
        return Err(invalid("the two-factor code is wrong or has expired"));
    }
    let hash = totp::recovery_code_hash(input);
    let n = db
        .execute(
            "UPDATE two_factor_recovery_codes SET used_at = now()
              WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
            &[&user, &hash],
        )
        .await?;
    if n == 0 {
        audit_failure(state, user, ip, purpose, "wrong_code").await;
        return Err(invalid("the recovery code is wrong or was already used"));
    }
    let remaining = recovery_codes_remaining(db, user).await?;
    audit::record(
        db,
        audit::Entry {
            actor: Some(user),
            subject: Some(user),
            action: action::TWO_FACTOR_RECOVERY_CODE_USED,
            ip: Some(ip),
            details: json!({"purpose": purpose, "remaining": remaining}),
        },
    )
    .await?;
    Ok(Used::RecoveryCode)
}

pub async fn recovery_codes_remaining(db: &impl GenericClient, user: UserId) -> Result<i64, ApiError> {
    Ok(db
        .query_one(
            "SELECT count(*) FROM two_factor_recovery_codes WHERE user_id = $1 AND used_at IS NULL",
            &[&user],
        )
        .await?
        .get(0))
}

/// Replaces the account's recovery codes with [`totp::RECOVERY_CODES`] new
/// ones and returns them (the only time they are ever shown).
pub async fn replace_recovery_codes(db: &impl GenericClient, user: UserId) -> Result<Vec<String>, ApiError> {
    db.execute("DELETE FROM two_factor_recovery_codes WHERE user_id = $1", &[&user])
        .await?;
    let codes: Vec<String> = (0..totp::RECOVERY_CODES).map(|_| totp::new_recovery_code()).collect();
    let hashes: Vec<Vec<u8>> = codes.iter().map(|c| totp::recovery_code_hash(c)).collect();
    db.execute(
        "INSERT INTO two_factor_recovery_codes (user_id, code_hash)
         SELECT $1, h FROM unnest($2::bytea[]) AS h ON CONFLICT DO NOTHING",
        &[&user, &hashes],
    )
    .await?;
    Ok(codes)
}
