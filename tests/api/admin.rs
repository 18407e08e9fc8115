//! Admin routes: only admins, the audit log, role changes.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

#[actix_web::test]
async fn mentees_and_mentors_get_403_on_admin_routes() {
    let app = spawn_app().await;
    for role in ["mentee", "mentor"] {
        let s = app.register(role, "Nosy").await;
        assert_error(
            app.get_auth("/api/admin/audit", &s.access).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
        let res = app
            .http
            .put(app.url(&format!("/api/admin/users/{}/role", s.id)))
            .bearer_auth(&s.access)
            .json(&json!({"role": "admin"}))
            .send()
            .await
            .unwrap();
        assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let res = app.http.get(app.url("/api/admin/audit")).send().await.unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "missing_token").await;
}

#[actix_web::test]
async fn admins_read_the_audit_log() {
    let app = spawn_app().await;
    let s = app.register("mentee", "Audited").await;
    assert_eq!(
        app.login_raw(&s.email, "not the password").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let b: Value = app.refresh_raw(&s.refresh).await.json().await.unwrap();
    assert!(b["refreshToken"].is_string());
    assert_eq!(app.refresh_raw(&s.refresh).await.status(), StatusCode::UNAUTHORIZED);

    let admin = app.admin().await;
    let res = app
        .get_auth(&format!("/api/admin/audit?subjectId={}", s.id), &admin.access)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    let actions: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    // Newest first.
    assert_eq!(actions, ["token_family_revoked", "sign_in_failed", "register"]);
    assert_eq!(body["items"][0]["details"]["reason"], "refresh_token_reuse");
    assert_eq!(body["items"][1]["ip"], "127.0.0.1");

    // Filter by action and page with `before`.
    let body: Value = app
        .get_auth("/api/admin/audit?action=sign_in&limit=1", &admin.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    let before = body["nextBefore"].as_i64().unwrap();
    let body: Value = app
        .get_auth(
            &format!("/api/admin/audit?action=sign_in&limit=50&before={before}"),
            &admin.access,
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(body["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["id"].as_i64().unwrap() < before && e["action"] == "sign_in"));
    // The CLI's creation of the admin is itself recorded.
    let body: Value = app
        .get_auth("/api/admin/audit?action=role_changed", &admin.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["items"][0]["subjectId"], json!(admin.id));
    assert_eq!(body["items"][0]["details"]["via"], "cli");
}

#[actix_web::test]
async fn admin_changes_a_role_which_is_audited_and_takes_effect() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let s = app.register("mentee", "Promoted").await;
    app.patch_profile(&s.access, &json!({"headline": "Now teaching Elixir"}))
        .await;
    let empty: Value = app
        .get_auth("/api/mentors?q=elixir", &admin.access)
        .await
        .json()
        .await
        .unwrap();
    assert!(empty["items"].as_array().unwrap().is_empty());

    let res = app
        .http
        .put(app.url(&format!("/api/admin/users/{}/role", s.id)))
        .bearer_auth(&admin.access)
        .json(&json!({"role": "mentor"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // The new mentor is in the directory, the old sessions are gone, a new
    // sign-in carries the new role.
    let found: Value = app
        .get_auth("/api/mentors?q=elixir", &admin.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found["items"][0]["userId"], json!(s.id));
    assert_error(
        app.refresh_raw(&s.refresh).await,
        StatusCode::UNAUTHORIZED,
        "refresh_token_revoked",
    )
    .await;
    let again = app.login(&s.email).await;
    let me: Value = app.get_auth("/api/me", &again.access).await.json().await.unwrap();
    assert_eq!(me["role"], "mentor");

    let log: Value = app
        .get_auth("/api/admin/audit?action=role_changed", &admin.access)
        .await
        .json()
        .await
        .unwrap();
    let e = &log["items"][0];
    assert_eq!(e["subjectId"], json!(s.id));
    assert_eq!(e["actorId"], json!(admin.id));
    assert_eq!(e["details"], json!({"from": "mentee", "to": "mentor"}));

    // Unknown users, bad roles and self-demotion are clear errors.
    let put = |id: String, body: Value| {
        app.http
            .put(app.url(&format!("/api/admin/users/{id}/role")))
            .bearer_auth(&admin.access)
            .json(&body)
            .send()
    };
    assert_error(
        put(uuid::Uuid::new_v4().to_string(), json!({"role": "mentor"}))
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "user_not_found",
    )
    .await;
    assert_error(
        put(s.id.to_string(), json!({"role": "root"})).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_json",
    )
    .await;
    assert_error(
        put(admin.id.to_string(), json!({"role": "mentee"})).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "cannot_change_own_role",
    )
    .await;
}
