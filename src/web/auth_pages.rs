//! Sign up, sign in (with the second factor when it is on) and sign out for
//! pages. Each form goes through the API's own handler (`auth::register`,
//! `auth::login`), so the rules, limits and audit entries are the API's; the
//! sign-in it starts is then held in the page cookie (`session`).

use actix_web::http::header::{LOCATION, SET_COOKIE};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use lyceum_protocol::ErrorCode;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::json;

use super::bridge;
use super::layout::{csrf_field, notice, page, render, Page};
use super::session::Viewer;
use super::words::explain;
use crate::auth::AuthUser;
use crate::error::{status_of, ApiError};
use crate::routes::accounts::auth;
use crate::state::AppState;

/// Where to go after signing in: a path on this site, never another site.
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') && !n.contains("\n") => n,
        _ => "/",
    }
}

/// 303 to `to`.
pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, to.to_owned()))
        .finish()
}

/// The sign-in page for a page that needs one, coming back to `back`.
pub fn to_sign_in(back: &str) -> HttpResponse {
    let q: String = url_escape(back);
    see_other(&format!("/signin?next={q}"))
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Deserialize, Default)]
pub struct NextQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct SignInForm {
    csrf: Option<String>,
    email: String,
    password: String,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct SignUpForm {
    csrf: Option<String>,
    email: String,
    password: String,
    #[serde(rename = "displayName")]
    display_name: String,
    role: String,
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

const PASSWORD_RULES: &str = "10 to 128 characters; not a well-known password and not your email address.";

struct SignInState<'a> {
    email: &'a str,
    next: &'a str,
    /// The password was right and a code is needed: ask for it.
    code_step: Option<&'a str>,
    error: Option<String>,
}

fn sign_in_body(viewer: &Viewer, s: SignInState<'_>) -> Markup {
    html! {
        section class="narrow" {
            h1 { "Sign in" }
            @if let Some(e) = &s.error { (notice("error", e)) }
            form method="post" action="/signin" class="stack" {
                (csrf_field(viewer))
                input type="hidden" name="next" value=(s.next);
                @if let Some(password) = s.code_step {
                    input type="hidden" name="email" value=(s.email);
                    input type="hidden" name="password" value=(password);
                    p { "Your account has two-factor sign-in. Enter the six-digit code from your authenticator app, or one of your recovery codes." }
                    label for="code" { "Code" }
                    input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required autofocus;
                } @else {
                    label for="email" { "Email" }
                    input id="email" name="email" type="email" autocomplete="username" required value=(s.email);
                    label for="password" { "Password" }
                    input id="password" name="password" type="password" autocomplete="current-password" required;
                }
                button type="submit" { "Sign in" }
            }
            p { "New here? " a href="/signup" { "Create an account" } }
        }
    }
}

pub async fn sign_in_page(
    state: web::Data<AppState>,
    viewer: Viewer,
    q: web::Query<NextQuery>,
) -> Result<HttpResponse, ApiError> {
    let next = safe_next(q.next.as_deref());
    if viewer.user.is_some() {
        return Ok(see_other(next));
    }
    let body = sign_in_body(
        &viewer,
        SignInState {
            email: "",
            next,
            code_step: None,
            error: None,
        },
    );
    let p = Page {
        title: "Sign in",
        description: Some("Sign in to Lyceum to book mentors, join sessions and chat."),
        ..Default::default()
    };
    Ok(render(&state, &viewer, StatusCode::OK, page(&viewer, p, body)))
}

/// Turns a session answer of the API (login or register) into the page
/// cookie, keeping the API's refresh cookie too (the live page uses it).
async fn start_page_session(
    state: &AppState,
    res: HttpResponse,
    status: StatusCode,
    to: &str,
) -> Result<HttpResponse, ApiError> {
    let api_cookies: Vec<_> = res.headers().get_all(SET_COOKIE).cloned().collect();
    let v = bridge::json_of(Ok(res)).await?;
    let claims = state.jwt.verify(bridge::s(&v, "accessToken"))?;
    let user = AuthUser::from_claims(&claims);
    let mut out = HttpResponse::build(status);
    out.insert_header((LOCATION, to.to_owned()))
        .cookie(state.web.session_cookie(&user)?);
    for c in api_cookies {
        out.append_header((SET_COOKIE, c));
    }
    Ok(out.finish())
}

pub async fn sign_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    viewer: Viewer,
    form: web::Form<SignInForm>,
) -> Result<HttpResponse, ApiError> {
    let form = form.into_inner();
    viewer.check_csrf(&req, form.csrf.as_deref())?;
    let next = safe_next(form.next.as_deref()).to_owned();
    let code = form.code.as_deref().map(str::trim).filter(|c| !c.is_empty());
    let mut body = json!({"email": form.email, "password": form.password});
    if let Some(c) = code {
        // Six digits (spaces allowed) is an authenticator code; anything
        // else is a recovery code.
        let digits: String = c.chars().filter(|ch| !ch.is_whitespace()).collect();
        let key = if digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()) {
            "totpCode"
        } else {
            "recoveryCode"
        };
        body[key] = json!(c);
    }
    let res = auth::login(state.clone(), req.clone(), bridge::body(body)?).await;
    match res {
        Ok(res) => start_page_session(&state, res, StatusCode::SEE_OTHER, &next).await,
        Err(e) => {
            let code_step = matches!(e.code(), ErrorCode::TwoFactorRequired | ErrorCode::InvalidTwoFactorCode);
            let error = (e.code() != ErrorCode::TwoFactorRequired).then(|| explain(&e));
            let status = status_of(e.code());
            let body = sign_in_body(
                &viewer,
                SignInState {
                    email: &form.email,
                    next: &next,
                    code_step: code_step.then_some(form.password.as_str()),
                    error,
                },
            );
            let p = Page {
                title: "Sign in",
                ..Default::default()
            };
            let mut r = render(&state, &viewer, status, page(&viewer, p, body));
            if let ApiError::TooManyRequests { retry_after_secs } = e {
                r.headers_mut().insert(
                    actix_web::http::header::RETRY_AFTER,
                    actix_web::http::header::HeaderValue::from(retry_after_secs),
                );
            }
            Ok(r)
        }
    }
}

struct SignUpState<'a> {
    email: &'a str,
    display_name: &'a str,
    role: &'a str,
    error: Option<(ErrorCode, String)>,
}

fn sign_up_body(viewer: &Viewer, s: SignUpState<'_>) -> Markup {
    let err_on = |codes: &[ErrorCode]| s.error.as_ref().is_some_and(|(c, _)| codes.contains(c));
    let email_bad = err_on(&[ErrorCode::InvalidEmail, ErrorCode::EmailTaken]);
    let name_bad = err_on(&[ErrorCode::InvalidDisplayName]);
    let pw_bad = err_on(&[ErrorCode::WeakPassword, ErrorCode::InvalidCredentialsFormat]);
    html! {
        section class="narrow" {
            h1 { "Create your account" }
            @if let Some((_, e)) = &s.error { (notice("error", e)) }
            form method="post" action="/signup" class="stack" {
                (csrf_field(viewer))
                fieldset {
                    legend { "I am joining as" }
                    label class="choice" {
                        input type="radio" name="role" value="mentee" checked[s.role != "mentor"];
                        " a mentee: I want to learn from mentors"
                    }
                    label class="choice" {
                        input type="radio" name="role" value="mentor" checked[s.role == "mentor"];
                        " a mentor: I want to offer my time"
                    }
                }
                label for="displayName" { "Your name" }
                input id="displayName" name="displayName" type="text" autocomplete="name" required maxlength="80"
                    value=(s.display_name) aria-invalid=[name_bad.then_some("true")];
                label for="email" { "Email" }
                input id="email" name="email" type="email" autocomplete="email" required value=(s.email)
                    aria-describedby="email-hint" aria-invalid=[email_bad.then_some("true")];
                p id="email-hint" class="hint" { "Only you and the administrators see it." }
                label for="password" { "Password" }
                input id="password" name="password" type="password" autocomplete="new-password" required minlength="10" maxlength="128"
                    aria-describedby="password-rules" aria-invalid=[pw_bad.then_some("true")];
                p id="password-rules" class="hint" { "Password: " (PASSWORD_RULES) }
                button type="submit" { "Create account" }
            }
            p { "Already have an account? " a href="/signin" { "Sign in" } }
        }
    }
}

pub async fn sign_up_page(state: web::Data<AppState>, viewer: Viewer) -> Result<HttpResponse, ApiError> {
    if viewer.user.is_some() {
        return Ok(see_other("/"));
    }
    let body = sign_up_body(
        &viewer,
        SignUpState {
            email: "",
            display_name: "",
            role: "mentee",
            error: None,
        },
    );
    let p = Page {
        title: "Sign up",
        description: Some("Create a Lyceum account as a mentee or a mentor."),
        ..Default::default()
    };
    Ok(render(&state, &viewer, StatusCode::OK, page(&viewer, p, body)))
}

pub async fn sign_up(
    state: web::Data<AppState>,
    req: HttpRequest,
    viewer: Viewer,
    form: web::Form<SignUpForm>,
) -> Result<HttpResponse, ApiError> {
    let form = form.into_inner();
    viewer.check_csrf(&req, form.csrf.as_deref())?;
    let body = json!({
        "email": form.email, "password": form.password,
        "displayName": form.display_name, "role": form.role,
    });
    match auth::register(state.clone(), req.clone(), bridge::body(body)?).await {
        Ok(res) => start_page_session(&state, res, StatusCode::SEE_OTHER, "/mentors?welcome=1").await,
        Err(e) => {
            let status = status_of(e.code());
            let body = sign_up_body(
                &viewer,
                SignUpState {
                    email: &form.email,
                    display_name: &form.display_name,
                    role: &form.role,
                    error: Some((e.code(), explain(&e))),
                },
            );
            let p = Page {
                title: "Sign up",
                ..Default::default()
            };
            Ok(render(&state, &viewer, status, page(&viewer, p, body)))
        }
    }
}

pub async fn sign_out(
    state: web::Data<AppState>,
    req: HttpRequest,
    viewer: Viewer,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ApiError> {
    viewer.check_csrf(&req, form.csrf.as_deref())?;
    if let Some(u) = &viewer.user {
        auth::sign_out(&state, u.id(), u.auth.session, &state.client_ip(&req)).await?;
    }
    Ok(HttpResponse::SeeOther()
        .insert_header((LOCATION, "/"))
        .cookie(state.web.clear_session_cookie())
        .finish())
}

/// `POST /web/token`: an access token of the page's sign-in for the page's
/// scripts (the JSON API and the WebSocket ticket), with the CSRF header.
pub async fn token(state: web::Data<AppState>, req: HttpRequest, viewer: Viewer) -> Result<HttpResponse, ApiError> {
    viewer.check_csrf(&req, None)?;
    let Some(u) = &viewer.user else {
        return Err(ApiError::new(ErrorCode::MissingToken, "sign in first"));
    };
    let token = state.jwt.issue(u.id(), u.role(), u.auth.session, u.auth.version)?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({"accessToken": token, "expiresIn": state.jwt.ttl_secs, "userId": u.id(), "role": u.role(), "displayName": u.name})))
}
