//! Accounts: register, login, refresh rotation and reuse detection, logout,
//! token checks and rate limits.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

#[actix_web::test]
async fn register_returns_a_session_and_a_strict_refresh_cookie() {
    let app = spawn_app().await;
    let email = unique_email("ada");
    let res = app.register_raw(&email, PASSWORD, "Ada", "mentee").await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let cookie = res
        .headers()
        .get("set-cookie")
        .expect("cookie")
        .to_str()
        .unwrap()
        .to_owned();
    for attr in [
        "lyceum_refresh=",
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/api/auth",
    ] {
        assert!(cookie.contains(attr), "{attr} missing from {cookie}");
    }
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["tokenType"], "Bearer");
    assert!(body["expiresIn"].as_u64().unwrap() <= 900);
    assert_eq!(body["user"]["email"], email);
    assert_eq!(body["user"]["role"], "mentee");
    assert!(cookie.contains(body["refreshToken"].as_str().unwrap()));

    let me: Value = app
        .get_auth("/api/me", body["accessToken"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], email);
    assert_eq!(me["displayName"], "Ada");

    // Nothing but the hash of the password and of the refresh token is stored.
    let row = app
        .db
        .query_one("SELECT password_hash FROM users WHERE email = $1", &[&email])
        .await
        .unwrap();
    let hash: String = row.get(0);
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
    let n: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM refresh_tokens WHERE token_hash = convert_to($1, 'UTF8')",
            &[&body["refreshToken"].as_str().unwrap()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
}

#[actix_web::test]
async fn duplicate_email_is_409_whatever_the_case() {
    let app = spawn_app().await;
    let email = unique_email("dup");
    assert_eq!(
        app.register_raw(&email, PASSWORD, "One", "mentee").await.status(),
        StatusCode::CREATED
    );
    let res = app.register_raw(&email.to_uppercase(), PASSWORD, "Two", "mentor").await;
    assert_error(res, StatusCode::CONFLICT, "email_taken").await;
}

#[actix_web::test]
async fn bad_registrations_get_400_with_a_code() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"email": "not-an-email", "password": PASSWORD, "displayName": "X", "role": "mentee"}),
            "invalid_email",
        ),
        (
            json!({"email": unique_email("w"), "password": "short", "displayName": "X", "role": "mentee"}),
            "weak_password",
        ),
        (
            json!({"email": unique_email("w"), "password": "password123", "displayName": "X", "role": "mentee"}),
            "weak_password",
        ),
        (
            json!({"email": unique_email("w"), "password": PASSWORD, "displayName": "X", "role": "admin"}),
            "invalid_role",
        ),
        (
            json!({"email": unique_email("w"), "password": PASSWORD, "displayName": "  ", "role": "mentee"}),
            "invalid_display_name",
        ),
        (
            json!({"email": unique_email("w"), "password": PASSWORD, "role": "mentee"}),
            "invalid_json",
        ),
        (
            json!({"email": unique_email("w"), "password": PASSWORD, "displayName": "X", "role": "mentee", "isAdmin": true}),
            "invalid_json",
        ),
    ];
    for (body, code) in cases {
        let res = app.post_json("/api/auth/register", &body).await;
        assert_error(res, StatusCode::BAD_REQUEST, code).await;
    }
    let res = app
        .http
        .post(app.url("/api/auth/register"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_json").await;
    let n: i64 = app
        .db
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "no bad registration created an account");
}

#[actix_web::test]
async fn login_and_wrong_password() {
    let app = spawn_app().await;
    let s = app.register("mentor", "Grace").await;
    let ok = app.login(&s.email.to_uppercase()).await;
    assert_eq!(ok.id, s.id);
    assert_error(
        app.login_raw(&s.email, "wrong password here").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    // An unknown account answers exactly like a wrong password.
    assert_error(
        app.login_raw("nobody@example.org", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let failed: i64 = app
        .db
        .query_one("SELECT count(*) FROM audit_log WHERE action = 'sign_in_failed'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(failed, 2);
    let signed_in: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM audit_log WHERE action = 'sign_in' AND subject_id = $1",
            &[&s.id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(signed_in, 1);
}

#[actix_web::test]
async fn refresh_rotates_and_reuse_revokes_the_whole_family() {
    let app = spawn_app().await;
    let s = app.register("mentee", "Alan").await;
    let other_login = app.login(&s.email).await;

    // A -> B: a new pair; B is different from A.
    let res = app.refresh_raw(&s.refresh).await;
    assert_eq!(res.status(), StatusCode::OK);
    let b: Value = res.json().await.unwrap();
    let token_b = b["refreshToken"].as_str().unwrap().to_owned();
    assert_ne!(token_b, s.refresh);
    assert_eq!(
        app.get_auth("/api/me", b["accessToken"].as_str().unwrap())
            .await
            .status(),
        StatusCode::OK
    );

    // B -> C.
    let c: Value = app.refresh_raw(&token_b).await.json().await.unwrap();
    let token_c = c["refreshToken"].as_str().unwrap().to_owned();

    // Presenting A again is theft: 401, and C (the live descendant) dies too.
    assert_error(
        app.refresh_raw(&s.refresh).await,
        StatusCode::UNAUTHORIZED,
        "refresh_token_reused",
    )
    .await;
    assert_error(
        app.refresh_raw(&token_c).await,
        StatusCode::UNAUTHORIZED,
        "refresh_token_revoked",
    )
    .await;

    // The other sign-in is another family and is untouched.
    assert_eq!(app.refresh_raw(&other_login.refresh).await.status(), StatusCode::OK);

    let revoked: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM audit_log WHERE action = 'token_family_revoked' AND subject_id = $1
               AND details->>'reason' = 'refresh_token_reuse'",
            &[&s.id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(revoked, 1);
}

#[actix_web::test]
async fn refresh_accepts_the_cookie_and_rejects_garbage() {
    let app = spawn_app().await;
    let s = app.register("mentee", "Cookie").await;
    let res = app
        .http
        .post(app.url("/api/auth/refresh"))
        .header("cookie", format!("lyceum_refresh={}", s.refresh))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let set = res.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    assert!(
        set.contains(body["refreshToken"].as_str().unwrap()),
        "the cookie carries the rotated token"
    );

    assert_error(
        app.refresh_raw("not-a-token").await,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
    let res = app.http.post(app.url("/api/auth/refresh")).send().await.unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "missing_refresh_token").await;
}

#[actix_web::test]
async fn logout_revokes_the_family_and_clears_the_cookie() {
    let app = spawn_app().await;
    let s = app.register("mentee", "Bye").await;
    let res = app
        .post_json("/api/auth/logout", &json!({"refreshToken": s.refresh}))
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let cookie = res.headers().get("set-cookie").unwrap().to_str().unwrap();
    assert!(
        cookie.contains("lyceum_refresh=;") && cookie.contains("Max-Age=0"),
        "{cookie}"
    );
    assert_error(
        app.refresh_raw(&s.refresh).await,
        StatusCode::UNAUTHORIZED,
        "refresh_token_revoked",
    )
    .await;
    // Logging out twice is harmless.
    assert_eq!(
        app.post_json("/api/auth/logout", &json!({"refreshToken": s.refresh}))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
}

#[actix_web::test]
async fn logout_everywhere_revokes_every_session() {
    let app = spawn_app().await;
    let s = app.register("mentee", "All").await;
    let second = app.login(&s.email).await;
    let res = app
        .http
        .post(app.url("/api/auth/logout-all"))
        .bearer_auth(&s.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    for t in [&s.refresh, &second.refresh] {
        assert_error(
            app.refresh_raw(t).await,
            StatusCode::UNAUTHORIZED,
            "refresh_token_revoked",
        )
        .await;
    }
}

fn mint(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[actix_web::test]
async fn missing_expired_and_tampered_tokens_are_401() {
    let app = spawn_app().await;
    let s = app.register("mentee", "Eve").await;

    let res = app.http.get(app.url("/api/me")).send().await.unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "missing_token").await;
    let res = app
        .http
        .get(app.url("/api/me"))
        .header("authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_token").await;

    // Flip one character of the signature.
    let mut tampered = s.access.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_error(
        app.get_auth("/api/me", &tampered).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;

    // A self-promoted role in the payload breaks the signature.
    let parts: Vec<&str> = s.access.split('.').collect();
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut payload: Value = serde_json::from_slice(&engine.decode(parts[1]).unwrap()).unwrap();
    payload["role"] = json!("admin");
    let forged = format!("{}.{}.{}", parts[0], engine.encode(payload.to_string()), parts[2]);
    assert_error(
        app.get_auth("/api/admin/audit", &forged).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;

    // Signed with our key but expired an hour ago.
    let now = chrono::Utc::now().timestamp();
    let expired = mint(
        &json!({"sub": s.id, "role": "mentee", "sid": s.id, "iat": now - 4000, "exp": now - 3600, "iss": "lyceum"}),
        JWT_SECRET,
    );
    assert_error(
        app.get_auth("/api/me", &expired).await,
        StatusCode::UNAUTHORIZED,
        "token_expired",
    )
    .await;

    // Signed with another key.
    let foreign = mint(
        &json!({"sub": s.id, "role": "admin", "sid": s.id, "iat": now, "exp": now + 600, "iss": "lyceum"}),
        "some-other-secret-some-other-secret-0000",
    );
    assert_error(
        app.get_auth("/api/me", &foreign).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;

    // The unsigned `alg: none` trick.
    let none = format!("{}.{}.", engine.encode(r#"{"alg":"none","typ":"JWT"}"#), parts[1]);
    assert_error(
        app.get_auth("/api/me", &none).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
}

#[actix_web::test]
async fn login_is_rate_limited_per_address_and_per_account() {
    let app = spawn_app_with(|s| {
        s.rate_limit.login_per_ip_per_minute = 1000;
        s.rate_limit.login_per_account_per_minute = 3;
    })
    .await;
    let s = app.register("mentee", "Limited").await;
    for _ in 0..2 {
        assert_eq!(
            app.login_raw(&s.email, "wrong password!!").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // Register counted once against the account, so this is the fourth attempt.
    let res = app.login_raw(&s.email, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res
        .headers()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // Another account from the same address is not affected.
    let other = app.register("mentee", "Other").await;
    assert_eq!(app.login_raw(&other.email, PASSWORD).await.status(), StatusCode::OK);

    let app = spawn_app_with(|s| s.rate_limit.login_per_ip_per_minute = 2).await;
    for _ in 0..2 {
        assert_eq!(
            app.login_raw("x@example.org", PASSWORD).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_error(
        app.login_raw("y@example.org", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;

    let app = spawn_app_with(|s| s.rate_limit.register_per_ip_per_hour = 1).await;
    app.register("mentee", "First").await;
    let res = app
        .register_raw(&unique_email("second"), PASSWORD, "Second", "mentee")
        .await;
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}
