//! Signing in for pages. A page sign-in is an ordinary sign-in (a refresh
//! family started by `POST /api/auth/login`'s own code); the browser holds
//! it in an HttpOnly cookie, `lyceum_page`: a token signed with a key of its
//! own (derived from the JWT secret, so it is never accepted as a bearer
//! token) carrying the user, the sign-in, the token version and an expiry.
//! Every page request checks it against the same `Credentials` the API and
//! the WebSocket use, so signing out (here or through the API), "sign out
//! everywhere" and a role change end the page session at once, and the role
//! a page acts with is the one that check returns.
//!
//! Forms are protected against cross-site request forgery twice: the cookie
//! is `SameSite=Lax` (a cross-site POST does not carry it), and every POST
//! carries a `csrf` field (or `X-CSRF-Token` header) equal to the
//! `lyceum_csrf` cookie (double submit; the cookie is HttpOnly and
//! `SameSite=Strict`, so another site can neither read nor send it). A POST
//! whose `Origin` names another site is refused before that.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::header;
use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use lyceum_actors::{Role, UserId};
use lyceum_protocol::ErrorCode;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::auth::{extract, AuthUser, JwtKeys};
use crate::error::ApiError;
use crate::state::AppState;

pub const PAGE_COOKIE: &str = "lyceum_page";
pub const CSRF_COOKIE: &str = "lyceum_csrf";

/// The page-session keys and cookie settings.
#[derive(Clone)]
pub struct WebKeys {
    keys: JwtKeys,
    /// `Secure` on the cookies: when the server speaks TLS, or sits behind a
    /// TLS proxy (`server.allow_plain_http_non_loopback`).
    pub secure: bool,
}

impl WebKeys {
    pub fn new(jwt_secret: &[u8], ttl_secs: u64, secure: bool) -> WebKeys {
        // A key of its own: a page cookie is never a bearer token.
        let key = Sha256::new()
            .chain_update(b"lyceum page session v1\0")
            .chain_update(jwt_secret)
            .finalize();
        WebKeys {
            keys: JwtKeys::new(&key, ttl_secs),
            secure,
        }
    }

    pub fn ttl_secs(&self) -> u64 {
        self.keys.ttl_secs
    }

    /// The cookie for a sign-in whose access token is `claims`.
    pub fn session_cookie(&self, user: &AuthUser) -> Result<Cookie<'static>, ApiError> {
        let token = self.keys.issue(user.id, user.role, user.session, user.version)?;
        Ok(Cookie::build(PAGE_COOKIE, token)
            .path("/")
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .max_age(CookieDuration::seconds(self.keys.ttl_secs as i64))
            .finish())
    }

    pub fn clear_session_cookie(&self) -> Cookie<'static> {
        let mut c = Cookie::build(PAGE_COOKIE, "")
            .path("/")
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .finish();
        c.make_removal();
        c
    }

    fn csrf_cookie(&self, value: &str) -> Cookie<'static> {
        Cookie::build(CSRF_COOKIE, value.to_owned())
            .path("/")
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Strict)
            .finish()
    }
}

/// Who is looking at a page: signed in (with the name the header shows) or
/// not, and the CSRF token the page's forms carry.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user: Option<SignedIn>,
    pub csrf: String,
    /// Set when the request had no CSRF cookie yet: the page response sets it.
    new_csrf: bool,
    /// Set when the request carried a page cookie that no longer stands: the
    /// response clears it.
    stale_session: bool,
}

#[derive(Debug, Clone)]
pub struct SignedIn {
    pub auth: AuthUser,
    pub name: String,
    /// How many of their notifications are unread (the header's bell).
    pub unread: i64,
}

impl SignedIn {
    pub fn id(&self) -> UserId {
        self.auth.id
    }
    pub fn role(&self) -> Role {
        self.auth.role
    }
}

impl Viewer {
    pub fn role(&self) -> Option<Role> {
        self.user.as_ref().map(|u| u.auth.role)
    }

    /// The cookies a page response must carry for this viewer.
    pub fn cookies(&self, keys: &WebKeys) -> Vec<Cookie<'static>> {
        let mut out = Vec::new();
        if self.new_csrf {
            out.push(keys.csrf_cookie(&self.csrf));
        }
        if self.stale_session {
            out.push(keys.clear_session_cookie());
        }
        out
    }

    /// Who posted a form: `Ok(None)` when no one is signed in (the page
    /// sends them to sign in; nothing else is checked), else the signed-in
    /// user once the form's CSRF token (and `Origin`) passes `check_csrf`.
    pub fn form_user(&self, req: &HttpRequest, csrf: Option<&str>) -> Result<Option<AuthUser>, ApiError> {
        let Some(user) = &self.user else {
            return Ok(None);
        };
        self.check_csrf(req, csrf)?;
        Ok(Some(user.auth))
    }

    /// Checks a form's CSRF token (and the request's `Origin`).
    pub fn check_csrf(&self, req: &HttpRequest, presented: Option<&str>) -> Result<(), ApiError> {
        check_origin(req)?;
        let presented = presented
            .map(str::to_owned)
            .or_else(|| {
                req.headers()
                    .get("x-csrf-token")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        // The cookie must have come with the request (a freshly made one
        // proves nothing).
        if self.new_csrf || presented.is_empty() || !constant_eq(presented.as_bytes(), self.csrf.as_bytes()) {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "this form has expired or did not come from this site: reload the page and try again",
            ));
        }
        Ok(())
    }
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// A POST from a page of another site is refused, whatever it carries.
fn check_origin(req: &HttpRequest) -> Result<(), ApiError> {
    let Some(origin) = req.headers().get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return Ok(());
    };
    let host = req.connection_info().host().to_owned();
    let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or(origin);
    if origin == "null" || !origin_host.eq_ignore_ascii_case(&host) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "this form was sent from another site and was refused",
        ));
    }
    Ok(())
}

fn new_csrf() -> String {
    let mut b = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// The page session of a request, if it still stands.
async fn signed_in(state: &AppState, req: &HttpRequest) -> Result<Option<AuthUser>, ApiError> {
    let Some(cookie) = req.cookie(PAGE_COOKIE) else {
        return Ok(None);
    };
    let Ok(claims) = state.web.keys.verify(cookie.value()) else {
        return Ok(None);
    };
    match extract::still_stands(state, AuthUser::from_claims(&claims)).await {
        Ok(u) if u.role != Role::Guest => Ok(Some(u)),
        Ok(_) => Ok(None),
        Err(e) if matches!(e.code(), ErrorCode::TokenRevoked | ErrorCode::AccountNotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The header's name and the bell's unread count (the count the API's
/// `GET /api/notifications/unread-count` answers, by the same query).
async fn header_of(state: &AppState, user: &AuthUser) -> Result<SignedIn, ApiError> {
    let client = state.pool.get().await?;
    let row = client
        .query_opt("SELECT display_name FROM users WHERE id = $1", &[&user.id])
        .await?;
    let name = row.map(|r| r.get(0)).unwrap_or_default();
    let unread = crate::routes::notifications::unread_count(&client, user).await?;
    Ok(SignedIn {
        auth: *user,
        name,
        unread,
    })
}

pub async fn viewer(req: &HttpRequest) -> Result<Viewer, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("AppState not registered")))?;
    let had_cookie = req.cookie(PAGE_COOKIE).is_some();
    let auth = signed_in(state, req).await?;
    let user = match auth {
        Some(auth) => Some(header_of(state, &auth).await?),
        None => None,
    };
    let (csrf, new_csrf) = match req.cookie(CSRF_COOKIE).map(|c| c.value().to_owned()) {
        Some(v) if v.len() == 48 && v.bytes().all(|b| b.is_ascii_hexdigit()) => (v, false),
        _ => (new_csrf(), true),
    };
    Ok(Viewer {
        stale_session: had_cookie && user.is_none(),
        user,
        csrf,
        new_csrf,
    })
}

impl FromRequest for Viewer {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { viewer(&req).await })
    }
}
