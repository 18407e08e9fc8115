//! Revocation takes effect at once (issue 12, defect 4): a role change, a
//! sign-out and "sign out everywhere" stop the access tokens they cover
//! over HTTP (`401 token_revoked`) and close the WebSocket connections
//! standing on them (`session_revoked`, then close code 4004).

use lyceum_protocol::frames::Command;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::ws::{room_id, try_connect, Ws};

const CLOSE_TOKEN_REVOKED: u16 = 4004;

impl TestApp {
    async fn set_role(&self, admin: &str, user: uuid::Uuid, role: &str) -> reqwest::Response {
        self.http
            .put(self.url(&format!("/api/admin/users/{user}/role")))
            .bearer_auth(admin)
            .json(&json!({"role": role}))
            .send()
            .await
            .unwrap()
    }
}

/// The connection was revoked for `reason`: the event, then close 4004.
async fn assert_revoked(ws: &mut Ws, reason: &str) {
    let close = ws.closed_with().await;
    let event = ws.next_of("session_revoked").await;
    assert_eq!(event["reason"], reason, "{event}");
    let (code, why) = close.expect("a close frame");
    assert_eq!(code, CLOSE_TOKEN_REVOKED, "{why}");
    assert!(why.contains(reason), "{why}");
}

fn subscribe(room: &str) -> Command {
    Command::Subscribe {
        room_id: room_id(room),
        after_seq: None,
    }
}

#[actix_web::test]
async fn a_demoted_admin_loses_admin_powers_on_open_connections_and_tokens_at_once() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let other_admin = app.admin().await;
    let mentor = app.register("mentor", "Owner").await;
    let private = app
        .create_room(&mentor.access, json!({"name": "Staff only", "visibility": "private"}))
        .await;

    // As an admin: the private group room (not theirs) may be read and followed.
    let mut ws = Ws::connect(&app, &admin.access).await;
    let mut second = Ws::connect(&app, &admin.access).await;
    ws.subscribe(&private, None).await;
    assert_eq!(
        app.get_auth(&format!("/api/rooms/{private}"), &admin.access)
            .await
            .status(),
        StatusCode::OK
    );

    let res = app.set_role(&other_admin.access, admin.id, "mentor").await;
    assert_eq!(res.status(), StatusCode::OK);

    // Every open connection is told and closed at once, without a frame from
    // the client (well before the 15-minute token would have expired).
    assert_revoked(&mut ws, "role_changed").await;
    assert_revoked(&mut second, "role_changed").await;

    // The old access token no longer works anywhere: HTTP, admin routes, upgrade.
    assert_error(
        app.get_auth("/api/me", &admin.access).await,
        StatusCode::UNAUTHORIZED,
        "token_revoked",
    )
    .await;
    assert_error(
        app.get_auth(&format!("/api/rooms/{private}"), &admin.access).await,
        StatusCode::UNAUTHORIZED,
        "token_revoked",
    )
    .await;
    assert_error(
        app.get_auth("/api/admin/audit", &admin.access).await,
        StatusCode::UNAUTHORIZED,
        "token_revoked",
    )
    .await;
    assert_eq!(try_connect(&app, Some(&admin.access), "").await.err(), Some(401));

    // Signed in again: a mentor, over HTTP and over the WebSocket alike.
    let again = app.login(&admin.email).await;
    let me: Value = app.get_auth("/api/me", &again.access).await.json().await.unwrap();
    assert_eq!(me["role"], "mentor");
    assert_error(
        app.get_auth(&format!("/api/rooms/{private}"), &again.access).await,
        StatusCode::FORBIDDEN,
        "not_a_member",
    )
    .await;
    assert_error(
        app.get_auth("/api/admin/audit", &again.access).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let mut ws = Ws::connect(&app, &again.access).await;
    assert_eq!(ws.refused(&subscribe(&private)).await.0, "not_a_member");
    // `reauth` with the old admin token is refused; with a fresh token of the
    // new role it is accepted, and the connection stays mentor-level.
    assert_eq!(
        ws.refused(&Command::Reauth {
            token: admin.access.clone()
        })
        .await
        .0,
        "token_revoked"
    );
    let fresh = app.login(&admin.email).await;
    let ack = ws.acked(&Command::Reauth { token: fresh.access }).await;
    assert!(ack["expiresAt"].as_i64().unwrap() > chrono::Utc::now().timestamp());
    assert_eq!(ws.refused(&subscribe(&private)).await.0, "not_a_member");

    // The other admin's tokens and connections are untouched.
    let mut theirs = Ws::connect(&app, &other_admin.access).await;
    theirs.subscribe(&private, None).await;
    assert_eq!(
        app.get_auth("/api/admin/audit", &other_admin.access).await.status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn signing_out_revokes_that_sign_ins_tokens_and_connections_only() {
    let app = spawn_app().await;
    let first = app.register("mentee", "Twice").await;
    let second = app.login(&first.email).await;
    let mut ws_first = Ws::connect(&app, &first.access).await;
    let mut ws_second = Ws::connect(&app, &second.access).await;
    // A ticket issued to the first sign-in before it signs out.
    let ticket: Value = app
        .post_auth("/api/ws/ticket", &first.access, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let ticket = ticket["ticket"].as_str().unwrap().to_owned();

    let res = app
        .post_json("/api/auth/logout", &json!({"refreshToken": first.refresh}))
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    assert_revoked(&mut ws_first, "signed_out").await;
    assert_error(
        app.get_auth("/api/me", &first.access).await,
        StatusCode::UNAUTHORIZED,
        "token_revoked",
    )
    .await;
    assert_eq!(try_connect(&app, Some(&first.access), "").await.err(), Some(401));
    assert_eq!(
        try_connect(&app, None, &format!("?ticket={ticket}")).await.err(),
        Some(401),
        "a ticket of the signed-out sign-in"
    );

    // The other sign-in lives on: its socket, its token, its refresh token.
    assert_eq!(ws_second.acked(&Command::Ping).await["pong"], true);
    assert_eq!(app.get_auth("/api/me", &second.access).await.status(), StatusCode::OK);
    assert_eq!(app.refresh_raw(&second.refresh).await.status(), StatusCode::OK);
    assert_eq!(ws_second.acked(&Command::Ping).await["pong"], true);
}

#[actix_web::test]
async fn a_reused_refresh_token_revokes_its_sign_ins_access_tokens_and_connections() {
    let app = spawn_app().await;
    let s = app.register("mentee", "Stolen").await;
    let other = app.login(&s.email).await;
    let rotated: Value = app.refresh_raw(&s.refresh).await.json().await.unwrap();
    let new_access = rotated["accessToken"].as_str().unwrap().to_owned();
    let mut ws = Ws::connect(&app, &new_access).await;
    let mut ws_other = Ws::connect(&app, &other.access).await;

    // The spent token presented again: the whole family goes.
    assert_error(
        app.refresh_raw(&s.refresh).await,
        StatusCode::UNAUTHORIZED,
        "refresh_token_reused",
    )
    .await;
    assert_revoked(&mut ws, "refresh_token_reused").await;
    for token in [&s.access, &new_access] {
        assert_error(
            app.get_auth("/api/me", token).await,
            StatusCode::UNAUTHORIZED,
            "token_revoked",
        )
        .await;
    }
    assert_eq!(app.get_auth("/api/me", &other.access).await.status(), StatusCode::OK);
    assert_eq!(ws_other.acked(&Command::Ping).await["pong"], true);
}

#[actix_web::test]
async fn signing_out_everywhere_revokes_every_token_and_connection() {
    let app = spawn_app().await;
    let first = app.register("mentor", "Everywhere").await;
    let second = app.login(&first.email).await;
    let mut ws_first = Ws::connect(&app, &first.access).await;
    let mut ws_second = Ws::connect(&app, &second.access).await;
    let bystander = app.register("mentee", "Bystander").await;
    let mut ws_bystander = Ws::connect(&app, &bystander.access).await;

    let res = app.post_auth("/api/auth/logout-all", &first.access, &json!({})).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    assert_revoked(&mut ws_first, "signed_out_everywhere").await;
    assert_revoked(&mut ws_second, "signed_out_everywhere").await;
    for token in [&first.access, &second.access] {
        assert_error(
            app.get_auth("/api/me", token).await,
            StatusCode::UNAUTHORIZED,
            "token_revoked",
        )
        .await;
        assert_eq!(try_connect(&app, Some(token), "").await.err(), Some(401));
    }
    assert_error(
        app.post_auth("/api/auth/logout-all", &first.access, &json!({})).await,
        StatusCode::UNAUTHORIZED,
        "token_revoked",
    )
    .await;
    for t in [&first.refresh, &second.refresh] {
        assert_error(
            app.refresh_raw(t).await,
            StatusCode::UNAUTHORIZED,
            "refresh_token_revoked",
        )
        .await;
    }
    // Someone else is untouched, and a new sign-in works at once.
    assert_eq!(ws_bystander.acked(&Command::Ping).await["pong"], true);
    let again = app.login(&first.email).await;
    assert_eq!(app.get_auth("/api/me", &again.access).await.status(), StatusCode::OK);
    let mut ws = Ws::connect(&app, &again.access).await;
    assert_eq!(ws.acked(&Command::Ping).await["pong"], true);
}
