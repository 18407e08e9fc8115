//! `GET /api/live/ice-servers` (docs/api.md "Live media"): the TURN relay
//! with a credential in coturn's `use-auth-secret` scheme, checked here
//! against an HMAC-SHA1 computed independently of the server's code. The
//! relay itself is exercised by `browser::a_relay_only_browser_decodes_video_through_coturn`.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::helpers::*;

const URLS: [&str; 2] = ["turn:127.0.0.1:3478?transport=udp", "turn:127.0.0.1:3478?transport=tcp"];

fn hmac_sha1_base64(secret: &str, msg: &str) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(msg.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[actix_web::test]
async fn ice_servers_hand_out_a_time_limited_turn_credential() {
    let secret = format!("turn-secret-{}", uuid::Uuid::new_v4().simple());
    let ttl = 600_i64;
    let app = spawn_app_with(|s| {
        s.turn.urls = URLS.iter().map(|u| (*u).to_owned()).collect();
        s.turn.secret = Some(SecretString::from(secret.clone()));
        s.turn.ttl_secs = ttl as u64;
    })
    .await;

    // Signed out: refused with the house's 401.
    let res = app.http.get(app.url("/api/live/ice-servers")).send().await.unwrap();
    assert_eq!(
        res.headers().get("www-authenticate").and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );
    assert_error(res, StatusCode::UNAUTHORIZED, "missing_token").await;
    let res = app.get_auth("/api/live/ice-servers", "not-a-token").await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_token").await;

    let mentee = app.register("mentee", "Relayed").await;
    let mentor = app.register("mentor", "Relaying").await;
    let before = Utc::now().timestamp();
    let res = app.get_auth("/api/live/ice-servers", &mentee.access).await;
    let after = Utc::now().timestamp();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers().get("cache-control").and_then(|v| v.to_str().ok()),
        Some("no-store"),
        "a personal credential is not cached"
    );
    let body: Value = res.json().await.unwrap();
    let servers = body["iceServers"].as_array().unwrap();
    assert_eq!(servers.len(), 1, "{body}");
    let server = &servers[0];
    assert_eq!(server["urls"], json!(URLS), "{body}");

    // username = "<unix expiry>:<user id>", the expiry now + ttl.
    let username = server["username"].as_str().unwrap();
    let (expiry, user) = username.split_once(':').unwrap();
    let expiry: i64 = expiry.parse().unwrap();
    assert_eq!(user, mentee.id.to_string());
    assert!(
        (before + ttl..=after + ttl).contains(&expiry),
        "expiry {expiry} is now + {ttl} (now between {before} and {after})"
    );
    let expires_at: DateTime<Utc> = body["expiresAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(expires_at.timestamp(), expiry, "{body}");

    // credential = base64(HMAC-SHA1(secret, username)), as coturn checks it.
    let credential = server["credential"].as_str().unwrap();
    assert_eq!(credential, hmac_sha1_base64(&secret, username));
    assert_ne!(
        credential,
        hmac_sha1_base64("some other secret", username),
        "the credential depends on the secret"
    );

    // Each user gets a credential of their own.
    let res = app.get_auth("/api/live/ice-servers", &mentor.access).await;
    assert_eq!(res.status(), StatusCode::OK);
    let other: Value = res.json().await.unwrap();
    let other_name = other["iceServers"][0]["username"].as_str().unwrap();
    assert!(other_name.ends_with(&format!(":{}", mentor.id)), "{other}");
    assert_eq!(
        other["iceServers"][0]["credential"].as_str().unwrap(),
        hmac_sha1_base64(&secret, other_name)
    );

    // A revoked sign-in gets none.
    let res = app
        .http
        .post(app.url("/api/auth/logout-all"))
        .bearer_auth(&mentee.access)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let res = app.get_auth("/api/live/ice-servers", &mentee.access).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "token_revoked").await;
}

#[actix_web::test]
async fn without_turn_the_list_is_empty() {
    let app = spawn_app().await;
    let user = app.register("mentee", "Direct").await;
    let res = app.get_auth("/api/live/ice-servers", &user.access).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, json!({"iceServers": [], "expiresAt": null}));
}
