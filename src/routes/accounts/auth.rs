//! `/api/auth`: register, sign in, refresh (with rotation and reuse
//! detection) and sign out. Signing out revokes the sign-in's access tokens
//! and closes its WebSocket connections too (`Realtime::revoke`); signing
//! out everywhere moves the user's token version on, which revokes all.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::{web, HttpRequest, HttpResponse};
use lyceum_actors::core::{Revocation, RevokeReason};
use lyceum_actors::{Role, UserId};
use lyceum_protocol::ErrorCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::audit::{self, action};
use crate::auth::{password, refresh, two_factor, AuthUser};
use crate::domain::{DisplayName, Email, Password};
use crate::error::{is_unique_violation, ApiError};
use crate::infra::ratelimit::Limit;
use crate::routes::json::Json;
use crate::state::AppState;

pub const REFRESH_COOKIE: &str = "lyceum_refresh";
const COOKIE_PATH: &str = "/api/auth";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterBody {
    email: String,
    password: String,
    display_name: String,
    role: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginBody {
    email: String,
    password: String,
    /// The authenticator's current code, for accounts with two-factor
    /// sign-in (ignored for others). Null or empty: not sent.
    #[serde(default)]
    totp_code: Option<String>,
    /// A one-time recovery code instead of `totpCode`.
    #[serde(default)]
    recovery_code: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RefreshBody {
    refresh_token: Option<String>,
}

/// The account as its owner sees it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub id: UserId,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub phone: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl Account {
    pub fn from_row(r: &tokio_postgres::Row) -> Account {
        Account {
            id: r.get("id"),
            email: r.get("email"),
            display_name: r.get("display_name"),
            role: r.get::<_, String>("role").parse().unwrap_or(Role::Mentee),
            phone: r.get("phone"),
            created_at: r.get("created_at"),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Session {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    /// Also set as an HttpOnly cookie; returned for non-browser clients.
    refresh_token: String,
    /// The account on register and login; null on refresh.
    user: Option<Account>,
}

fn refresh_cookie(token: &str, ttl_days: u64) -> Cookie<'static> {
    Cookie::build(REFRESH_COOKIE, token.to_owned())
        .path(COOKIE_PATH)
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .max_age(CookieDuration::days(ttl_days as i64))
        .finish()
}

fn clear_cookie() -> Cookie<'static> {
    let mut c = refresh_cookie("", 1);
    c.make_removal();
    c
}

/// What an access token is issued for: the user, their role and token
/// version, and the sign-in (refresh family).
struct Grant {
    user: UserId,
    role: Role,
    version: i32,
    family: Uuid,
}

fn session_response(
    state: &AppState,
    status: actix_web::http::StatusCode,
    grant: Grant,
    refresh_token: String,
    account: Option<Account>,
) -> Result<HttpResponse, ApiError> {
    let access_token = state.jwt.issue(grant.user, grant.role, grant.family, grant.version)?;
    Ok(HttpResponse::build(status)
        .cookie(refresh_cookie(&refresh_token, state.refresh_ttl_days))
        .insert_header(("Cache-Control", "no-store"))
        .json(Session {
            access_token,
            token_type: "Bearer",
            expires_in: state.jwt.ttl_secs,
            refresh_token,
            user: account,
        }))
}

pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<RegisterBody>,
) -> Result<HttpResponse, ApiError> {
    let ip = state.client_ip(&req);
    state.limiter.check(Limit::RegisterPerIp, &ip).await?;
    let body = body.into_inner();
    let email = Email::parse(&body.email)?;
    state.limiter.check(Limit::PerAccount, email.as_str()).await?;
    let role = match body.role.as_str() {
        "mentee" => Role::Mentee,
        "mentor" => Role::Mentor,
        _ => {
            return Err(ApiError::new(
                ErrorCode::InvalidRole,
                "role must be \"mentee\" or \"mentor\"",
            ))
        }
    };
    let display_name = DisplayName::parse(&body.display_name)?;
    let pw = Password::parse(&body.password, email.as_str())?;
    let hash = password::hash(pw.expose().to_owned()).await?;

    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let id = UserId::new_random();
    let row = tx
        .query_one(
            "INSERT INTO users (id, email, password_hash, display_name, role)
             VALUES ($1, $2, $3, $4, $5)
             RETURNING id, email, display_name, role, phone, created_at, token_version",
            &[&id, &email.as_str(), &hash, &display_name.as_str(), &role.as_str()],
        )
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                ApiError::new(ErrorCode::EmailTaken, "an account with this email already exists")
            } else {
                e.into()
            }
        })?;
    tx.execute(
        "INSERT INTO profiles (user_id, display_name, is_mentor) VALUES ($1, $2, $3)",
        &[&id, &display_name.as_str(), &(role == Role::Mentor)],
    )
    .await?;
    let (token, family) = refresh::start_family(&tx, id, state.refresh_ttl_days).await?;
    audit::record(
        &tx,
        audit::Entry {
            actor: Some(id),
            subject: Some(id),
            action: action::REGISTER,
            ip: Some(&ip),
            details: json!({"role": role}),
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user = %id, %role, "registered");
    session_response(
        &state,
        actix_web::http::StatusCode::CREATED,
        Grant {
            user: id,
            role,
            version: row.get("token_version"),
            family,
        },
        token,
        Some(Account::from_row(&row)),
    )
}

pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    let ip = state.client_ip(&req);
    state.limiter.check(Limit::LoginPerIp, &ip).await?;
    let body = body.into_inner();
    let email_key = body.email.trim().to_lowercase();
    state.limiter.check(Limit::PerAccount, &email_key).await?;
    if body.password.len() > 4 * crate::domain::PASSWORD_MAX_LEN {
        return Err(ApiError::new(ErrorCode::InvalidCredentialsFormat, "password too long"));
    }
    let totp_code = body.totp_code.filter(|c| !c.trim().is_empty());
    let recovery_code = body.recovery_code.filter(|c| !c.trim().is_empty());
    if totp_code.is_some() && recovery_code.is_some() {
        return Err(ApiError::new(
            ErrorCode::InvalidCredentialsFormat,
            "send totpCode or recoveryCode, not both",
        ));
    }

    let client = state.pool.get().await?;
    let row = client
        .query_opt(
            "SELECT id, email, display_name, role, phone, created_at, password_hash, token_version
               FROM users WHERE lower(email) = $1",
            &[&email_key],
        )
        .await?;
    let stored = row.as_ref().and_then(|r| r.get::<_, Option<String>>("password_hash"));
    let ok = password::verify(body.password, stored).await?;
    let Some(row) = row.filter(|_| ok) else {
        let subject: Option<UserId> = client
            .query_opt("SELECT id FROM users WHERE lower(email) = $1", &[&email_key])
            .await?
            .map(|r| r.get(0));
        audit::record(
            &client,
            audit::Entry {
                actor: None,
                subject,
                action: action::SIGN_IN_FAILED,
                ip: Some(&ip),
                details: json!({"email": email_key}),
            },
        )
        .await?;
        return Err(ApiError::new(ErrorCode::InvalidCredentials, "wrong email or password"));
    };
    let account = Account::from_row(&row);
    let version: i32 = row.get("token_version");
    // Two-factor sign-in: the password was right; now the second factor.
    let mut second_factor = None;
    if let Some(tf) = two_factor::load(&client, account.id).await?.filter(|t| t.enabled) {
        let (code, accept) = match (totp_code, recovery_code) {
            (None, None) => {
                return Err(ApiError::new(
                    ErrorCode::TwoFactorRequired,
                    "this account has two-factor sign-in: send the same request with totpCode (or recoveryCode)",
                ))
            }
            // Both at once was refused above.
            (Some(c), _) => (c, two_factor::Accept::Totp),
            (None, Some(c)) => (c, two_factor::Accept::Recovery),
        };
        if code.len() > 64 {
            return Err(ApiError::new(ErrorCode::InvalidTwoFactorCode, "the code is too long"));
        }
        two_factor::limit_attempt(&state, account.id, &ip).await?;
        let used = two_factor::check_code(&state, &client, account.id, &tf, &code, accept, &ip, "sign_in").await?;
        second_factor = Some(used.as_str());
    }
    let (token, family) = refresh::start_family(&client, account.id, state.refresh_ttl_days).await?;
    let details = match second_factor {
        Some(f) => json!({"family": family, "twoFactor": f}),
        None => json!({"family": family}),
    };
    audit::record(
        &client,
        audit::Entry {
            actor: Some(account.id),
            subject: Some(account.id),
            action: action::SIGN_IN,
            ip: Some(&ip),
            details,
        },
    )
    .await?;
    let (id, role) = (account.id, account.role);
    session_response(
        &state,
        actix_web::http::StatusCode::OK,
        Grant {
            user: id,
            role,
            version,
            family,
        },
        token,
        Some(account),
    )
}

/// The refresh token from the JSON body (programs) or the cookie (browsers).
fn presented_refresh_token(req: &HttpRequest, body: &web::Bytes) -> Result<Option<String>, ApiError> {
    if !body.iter().all(u8::is_ascii_whitespace) {
        let parsed: RefreshBody =
            serde_json::from_slice(body).map_err(|e| ApiError::new(ErrorCode::InvalidJson, e.to_string()))?;
        if let Some(t) = parsed.refresh_token.filter(|t| !t.is_empty()) {
            return Ok(Some(t));
        }
    }
    Ok(req
        .cookie(REFRESH_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|t| !t.is_empty()))
}

fn rejected(code: ErrorCode, message: &str) -> HttpResponse {
    let mut res = HttpResponse::from_error(ApiError::new(code, message));
    let _ = res.add_cookie(&clear_cookie());
    res
}

pub async fn refresh(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let Some(token) = presented_refresh_token(&req, &body)? else {
        return Ok(rejected(
            ErrorCode::MissingRefreshToken,
            "no refresh token in the body or cookie",
        ));
    };
    let mut client = state.pool.get().await?;
    match refresh::rotate(&mut client, &token, state.refresh_ttl_days).await? {
        refresh::Rotation::Rotated {
            user,
            role,
            version,
            family,
            token,
        } => session_response(
            &state,
            actix_web::http::StatusCode::OK,
            Grant {
                user,
                role,
                version,
                family,
            },
            token,
            None,
        ),
        refresh::Rotation::Reused { user, family } => {
            let ip = state.client_ip(&req);
            tracing::warn!(%user, %family, "refresh token reused: family revoked");
            audit::record(
                &client,
                audit::Entry {
                    actor: None,
                    subject: Some(user),
                    action: action::TOKEN_FAMILY_REVOKED,
                    ip: Some(&ip),
                    details: json!({"family": family, "reason": "refresh_token_reuse"}),
                },
            )
            .await?;
            state.realtime.revoke(Revocation::SignIn {
                user,
                sign_in: family,
                reason: RevokeReason::RefreshTokenReused,
            });
            Ok(rejected(
                ErrorCode::RefreshTokenReused,
                "this refresh token was already used; every session from that sign-in is revoked, sign in again",
            ))
        }
        refresh::Rotation::Rejected { code } => Ok(rejected(code, "the refresh token is not valid; sign in again")),
    }
}

pub async fn logout(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    if let Some(token) = presented_refresh_token(&req, &body)? {
        let client = state.pool.get().await?;
        if let Some((user, family)) = refresh::revoke_by_token(&client, &token).await? {
            signed_out(&state, &client, user, family, &state.client_ip(&req)).await?;
        }
    }
    // Signing out is idempotent: an unknown or already revoked token is fine.
    Ok(HttpResponse::NoContent().cookie(clear_cookie()).finish())
}

/// Signs out one sign-in (`family`): its refresh tokens, then the audit
/// entry and the revocation of its access tokens and connections. The API's
/// `logout` and the pages' "Sign out" both end here.
pub async fn sign_out(state: &AppState, user: UserId, family: Uuid, ip: &str) -> Result<(), ApiError> {
    let client = state.pool.get().await?;
    refresh::revoke_family(&client, family).await?;
    signed_out(state, &client, user, family, ip).await
}

async fn signed_out(
    state: &AppState,
    client: &impl deadpool_postgres::GenericClient,
    user: UserId,
    family: Uuid,
    ip: &str,
) -> Result<(), ApiError> {
    audit::record(
        client,
        audit::Entry {
            actor: Some(user),
            subject: Some(user),
            action: action::TOKEN_FAMILY_REVOKED,
            ip: Some(ip),
            details: json!({"family": family, "reason": "sign_out"}),
        },
    )
    .await?;
    state.realtime.revoke(Revocation::SignIn {
        user,
        sign_in: family,
        reason: RevokeReason::SignedOut,
    });
    Ok(())
}

/// Signs out every sign-in of the caller: every refresh-token family is
/// revoked and the token version moves on (every access token is revoked,
/// every WebSocket connection closes), in one transaction.
pub async fn logout_all(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let row = tx
        .query_opt(
            "UPDATE users SET token_version = token_version + 1 WHERE id = $1 RETURNING token_version, role",
            &[&user.id],
        )
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::AccountNotFound, "the account of this token no longer exists"))?;
    let version: i32 = row.get(0);
    let role: Role = row.get::<_, String>(1).parse().unwrap_or(user.role);
    let n = tx
        .execute(
            "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
            &[&user.id],
        )
        .await?;
    let ip = state.client_ip(&req);
    audit::record(
        &tx,
        audit::Entry {
            actor: Some(user.id),
            subject: Some(user.id),
            action: action::TOKEN_FAMILY_REVOKED,
            ip: Some(&ip),
            details: json!({"reason": "sign_out_everywhere", "tokens": n}),
        },
    )
    .await?;
    tx.commit().await?;
    state.realtime.revoke(Revocation::User {
        user: user.id,
        version,
        role,
        reason: RevokeReason::SignedOutEverywhere,
    });
    Ok(HttpResponse::NoContent().cookie(clear_cookie()).finish())
}
