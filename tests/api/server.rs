//! The server itself: health, readiness, the error shape for unknown routes
//! and methods, body limits, and HTTPS with rustls.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

#[actix_web::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let res = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["database"], "ok");
}

#[actix_web::test]
async fn readiness_fails_cleanly_when_the_database_is_gone() {
    let app = spawn_app().await;
    let name: String = app.db.query_one("SELECT current_database()", &[]).await.unwrap().get(0);
    // Drop every connection of the app's database and refuse new ones.
    let admin = maintenance_client().await;
    admin
        .batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
        .await
        .unwrap();
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            &[&name],
        )
        .await
        .unwrap();
    let res = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    // Liveness does not depend on the database.
    assert_eq!(
        app.http.get(app.url("/healthz")).send().await.unwrap().status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn unknown_routes_methods_and_oversized_bodies_get_json_errors() {
    let app = spawn_app().await;
    assert_error(
        app.http.get(app.url("/api/nope")).send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.http.delete(app.url("/api/auth/login")).send().await.unwrap(),
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    let huge = format!(r#"{{"email": "{}", "password": "x"}}"#, "a".repeat(200_000));
    let res = app
        .http
        .post(app.url("/api/auth/login"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "payload_too_large").await;
    let res = app
        .http
        .post(app.url("/api/auth/login"))
        .header("content-type", "text/plain")
        .body("hi")
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "unsupported_media_type").await;
}

#[actix_web::test]
async fn serves_https_when_a_certificate_is_configured() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = std::env::temp_dir().join(format!("lyceum-tls-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), cert.key_pair.serialize_pem()).unwrap();
    let app = spawn_app_with(|s| {
        s.server.tls_cert = Some(dir.join("cert.pem"));
        s.server.tls_key = Some(dir.join("key.pem"));
    })
    .await;
    let root = reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap();
    let client = reqwest::Client::builder().add_root_certificate(root).build().unwrap();
    let res = client
        .get(format!("https://localhost:{}/healthz", app.port))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Plain HTTP on the TLS port does not get an answer.
    assert!(
        app.http
            .get(format!("http://127.0.0.1:{}/healthz", app.port))
            .send()
            .await
            .is_err()
            || app
                .http
                .get(format!("http://127.0.0.1:{}/healthz", app.port))
                .send()
                .await
                .map(|r| r.status() != StatusCode::OK)
                .unwrap_or(true)
    );
}
