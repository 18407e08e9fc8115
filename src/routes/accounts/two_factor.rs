//! `/api/me/2fa`: the caller's optional two-factor sign-in (issue 12):
//! status, enrolment (secret, `otpauth://` URI, QR code), confirmation
//! (turns it on, hands out recovery codes once), disabling (password and a
//! code) and regenerating recovery codes (a code).

use actix_web::{web, HttpRequest, HttpResponse};
use lyceum_protocol::ErrorCode;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{self, action};
use crate::auth::two_factor::{self, Accept};
use crate::auth::{password, totp, AuthUser};
use crate::error::ApiError;
use crate::routes::json::Json;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CodeBody {
    code: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DisableBody {
    password: String,
    code: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    enabled: bool,
    pending: bool,
    enabled_at: Option<chrono::DateTime<chrono::Utc>>,
    recovery_codes_remaining: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Enrolment {
    secret: String,
    otpauth_uri: String,
    qr_svg: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RecoveryCodes {
    recovery_codes: Vec<String>,
}

fn no_store(mut b: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    b.insert_header(("Cache-Control", "no-store"));
    b
}

fn too_long(code: &str) -> Result<(), ApiError> {
    // Longer than any code (a recovery code with generous spacing).
    if code.len() > 64 {
        return Err(ApiError::new(ErrorCode::InvalidTwoFactorCode, "the code is too long"));
    }
    Ok(())
}

pub async fn status(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await?;
    let tf = two_factor::load(&client, user.id).await?;
    let remaining = match &tf {
        Some(t) if t.enabled => two_factor::recovery_codes_remaining(&client, user.id).await?,
        _ => 0,
    };
    Ok(no_store(HttpResponse::Ok()).json(Status {
        enabled: tf.as_ref().is_some_and(|t| t.enabled),
        pending: tf.as_ref().is_some_and(|t| !t.enabled),
        enabled_at: tf.and_then(|t| t.enabled_at),
        recovery_codes_remaining: remaining,
    }))
}

/// Starts (or restarts) enrolment: a new secret, pending until confirmed.
pub async fn enroll(state: web::Data<AppState>, req: HttpRequest, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await?;
    let email: String = client
        .query_opt("SELECT email FROM users WHERE id = $1", &[&user.id])
        .await?
        .map(|r| r.get(0))
        .ok_or_else(|| ApiError::new(ErrorCode::AccountNotFound, "this account no longer exists"))?;
    let secret = totp::new_secret();
    let sealed = state.totp.seal(&secret, user.id.0.as_bytes())?;
    let n = client
        .execute(
            "INSERT INTO two_factor (user_id, secret_sealed) VALUES ($1, $2)
             ON CONFLICT (user_id) DO UPDATE
                SET secret_sealed = EXCLUDED.secret_sealed, last_used_step = NULL, created_at = now()
              WHERE two_factor.enabled_at IS NULL",
            &[&user.id, &sealed],
        )
        .await?;
    if n == 0 {
        return Err(ApiError::new(
            ErrorCode::TwoFactorAlreadyEnabled,
            "two-factor sign-in is already on; disable it first to enrol a new authenticator",
        ));
    }
    let ip = state.client_ip(&req);
    audit::record(
        &client,
        audit::Entry {
            actor: Some(user.id),
            subject: Some(user.id),
            action: action::TWO_FACTOR_ENROLMENT_STARTED,
            ip: Some(&ip),
            details: json!({}),
        },
    )
    .await?;
    let otpauth_uri = totp::otpauth_uri(&secret, &email);
    let qr_svg = totp::qr_svg_data_uri(&otpauth_uri)?;
    Ok(no_store(HttpResponse::Ok()).json(Enrolment {
        secret: totp::base32(&secret),
        otpauth_uri,
        qr_svg,
    }))
}

/// Confirms enrolment with a TOTP code: turns two-factor sign-in on and
/// returns the recovery codes, once.
pub async fn confirm(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: AuthUser,
    body: Json<CodeBody>,
) -> Result<HttpResponse, ApiError> {
    too_long(&body.code)?;
    let ip = state.client_ip(&req);
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let tf = tx
        .query_opt(
            "SELECT secret_sealed, enabled_at FROM two_factor WHERE user_id = $1 FOR UPDATE",
            &[&user.id],
        )
        .await?;
    let Some(row) = tf else {
        return Err(ApiError::new(
            ErrorCode::TwoFactorNotPending,
            "no enrolment to confirm; start one with POST /api/me/2fa/enroll",
        ));
    };
    let enabled_at: Option<chrono::DateTime<chrono::Utc>> = row.get(1);
    if enabled_at.is_some() {
        return Err(ApiError::new(
            ErrorCode::TwoFactorAlreadyEnabled,
            "two-factor sign-in is already on",
        ));
    }
    let tf = two_factor::TwoFactor {
        sealed: row.get(0),
        enabled: false,
        enabled_at: None,
    };
    two_factor::limit_attempt(&state, user.id, &ip).await?;
    two_factor::check_code(&state, &tx, user.id, &tf, &body.code, Accept::Totp, &ip, "confirm").await?;
    tx.execute(
        "UPDATE two_factor SET enabled_at = now() WHERE user_id = $1",
        &[&user.id],
    )
    .await?;
    let codes = two_factor::replace_recovery_codes(&tx, user.id).await?;
    audit::record(
        &tx,
        audit::Entry {
            actor: Some(user.id),
            subject: Some(user.id),
            action: action::TWO_FACTOR_ENABLED,
            ip: Some(&ip),
            details: json!({"recoveryCodes": codes.len()}),
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user = %user.id, "two-factor sign-in enabled");
    Ok(no_store(HttpResponse::Ok()).json(RecoveryCodes { recovery_codes: codes }))
}

/// The enabled two-factor row, or `409 two_factor_not_enabled`.
async fn enabled(
    db: &impl deadpool_postgres::GenericClient,
    user: AuthUser,
) -> Result<two_factor::TwoFactor, ApiError> {
    match two_factor::load(db, user.id).await? {
        Some(t) if t.enabled => Ok(t),
        _ => Err(ApiError::new(
            ErrorCode::TwoFactorNotEnabled,
            "two-factor sign-in is not on for this account",
        )),
    }
}

/// Turns two-factor sign-in off: needs the password and a code (TOTP or
/// recovery code). Deletes the secret and every recovery code.
pub async fn disable(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: AuthUser,
    body: Json<DisableBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    too_long(&body.code)?;
    if body.password.len() > 4 * crate::domain::PASSWORD_MAX_LEN {
        return Err(ApiError::new(ErrorCode::InvalidCredentialsFormat, "password too long"));
    }
    let ip = state.client_ip(&req);
    let client = state.pool.get().await?;
    let tf = enabled(&client, user).await?;
    // One attempt, password and code together.
    two_factor::limit_attempt(&state, user.id, &ip).await?;
    let stored: Option<String> = client
        .query_opt("SELECT password_hash FROM users WHERE id = $1", &[&user.id])
        .await?
        .map(|r| r.get(0));
    if !password::verify(body.password, stored).await? {
        two_factor::audit_failure(&state, user.id, &ip, "disable", "wrong_password").await;
        return Err(ApiError::new(ErrorCode::InvalidCredentials, "the password is wrong"));
    }
    let used = two_factor::check_code(
        &state,
        &client,
        user.id,
        &tf,
        &body.code,
        Accept::Either,
        &ip,
        "disable",
    )
    .await?;
    let mut client = client;
    let tx = client.transaction().await?;
    tx.execute("DELETE FROM two_factor_recovery_codes WHERE user_id = $1", &[&user.id])
        .await?;
    tx.execute("DELETE FROM two_factor WHERE user_id = $1", &[&user.id])
        .await?;
    audit::record(
        &tx,
        audit::Entry {
            actor: Some(user.id),
            subject: Some(user.id),
            action: action::TWO_FACTOR_DISABLED,
            ip: Some(&ip),
            details: json!({"with": used.as_str()}),
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user = %user.id, "two-factor sign-in disabled");
    Ok(HttpResponse::NoContent().finish())
}

/// New recovery codes (the old ones stop working): needs a code.
pub async fn regenerate_recovery_codes(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: AuthUser,
    body: Json<CodeBody>,
) -> Result<HttpResponse, ApiError> {
    too_long(&body.code)?;
    let ip = state.client_ip(&req);
    let client = state.pool.get().await?;
    let tf = enabled(&client, user).await?;
    two_factor::limit_attempt(&state, user.id, &ip).await?;
    let used = two_factor::check_code(
        &state,
        &client,
        user.id,
        &tf,
        &body.code,
        Accept::Either,
        &ip,
        "recovery_codes",
    )
    .await?;
    let mut client = client;
    let tx = client.transaction().await?;
    let codes = two_factor::replace_recovery_codes(&tx, user.id).await?;
    audit::record(
        &tx,
        audit::Entry {
            actor: Some(user.id),
            subject: Some(user.id),
            action: action::TWO_FACTOR_RECOVERY_CODES_REGENERATED,
            ip: Some(&ip),
            details: json!({"with": used.as_str(), "recoveryCodes": codes.len()}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(no_store(HttpResponse::Ok()).json(RecoveryCodes { recovery_codes: codes }))
}
