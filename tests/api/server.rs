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
    assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "database_unavailable").await;
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
    // A raw body over the framework's limit (the refresh route reads bytes)
    // is the same code with the same status, not a bare 413.
    let res = app
        .http
        .post(app.url("/api/auth/refresh"))
        .header("content-type", "application/json")
        .body("x".repeat(300_000))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "payload_too_large").await;
}

#[actix_web::test]
async fn an_id_that_is_not_a_uuid_is_invalid_path_or_invalid_json() {
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Typed").await;
    let admin = app.admin().await;
    let room = uuid::Uuid::new_v4();
    // Every kind of id in a path: users, rooms, offerings, attachments, a
    // pair (room, user), and bookings' `{id}.ics`.
    for (path, token) in [
        ("/api/users/nope".to_owned(), &mentor.access),
        ("/api/users/nope/public-key".to_owned(), &mentor.access),
        ("/api/rooms/nope".to_owned(), &mentor.access),
        ("/api/rooms/nope/messages".to_owned(), &mentor.access),
        ("/api/sessions/nope".to_owned(), &mentor.access),
        ("/api/slots/nope/bookings".to_owned(), &mentor.access),
        ("/api/slots/alumni/nope".to_owned(), &mentor.access),
        ("/api/offerings/nope/notes".to_owned(), &mentor.access),
        ("/api/attachments/nope".to_owned(), &mentor.access),
        ("/api/bookings/nope.ics".to_owned(), &mentor.access),
    ] {
        let res = app.get_auth(&path, token).await;
        assert_error(res, StatusCode::BAD_REQUEST, "invalid_path").await;
    }
    let res = app
        .http
        .delete(app.url(&format!("/api/rooms/{room}/members/nope")))
        .bearer_auth(&mentor.access)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_path").await;
    let res = app
        .http
        .put(app.url("/api/admin/users/nope/role"))
        .bearer_auth(&admin.access)
        .json(&serde_json::json!({"role": "mentor"}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_path").await;
    // In a JSON body an id is a field like any other.
    let res = app
        .http
        .post(app.url("/api/rooms/direct"))
        .bearer_auth(&mentor.access)
        .json(&serde_json::json!({"userId": "nope"}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_json").await;
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

/// A private cluster under a scratch directory, so the test may stop and
/// start it without touching the machine's shared Postgres.
async fn private_postgres(dir: &std::path::Path) -> lyceum::infra::embedded_pg::EmbeddedPostgres {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || lyceum::infra::embedded_pg::EmbeddedPostgres::start(&dir, None))
        .await
        .unwrap()
        .expect("a private Postgres starts")
}

#[actix_web::test]
async fn a_stopped_database_gets_quick_503s_and_the_server_recovers_by_itself() {
    use crate::ws::{send, Ws};
    use lyceum::infra::embedded_pg;
    use std::time::{Duration, Instant};

    let dir = std::env::temp_dir().join(format!(
        "lyceum-outage-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    ));
    let pg = private_postgres(&dir).await;
    embedded_pg::ensure_database(&pg).await.unwrap();
    let conn = format!(
        "host={} port=5432 user=postgres dbname={}",
        pg.socket_dir().display(),
        embedded_pg::DATABASE_NAME
    );
    let app = start_on(conn.clone(), test_settings(&conn)).await;
    let s = app.register("mentor", "Host").await;
    let room = app
        .create_room(
            &s.access,
            serde_json::json!({"name": "Outage", "visibility": "private"}),
        )
        .await;
    let mut ws = Ws::connect(&app, &s.access).await;
    ws.subscribe(&room, None).await;
    assert_eq!(ws.say(&room, "before").await, 1);

    // Postgres goes away (a fast shutdown ends every connection).
    tokio::task::spawn_blocking(move || drop(pg)).await.unwrap();
    for _ in 0..5 {
        let t = Instant::now();
        let res = app.get_auth("/api/rooms", &s.access).await;
        assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "database_unavailable").await;
        assert!(t.elapsed() < Duration::from_secs(2), "refused in {:?}", t.elapsed());
    }
    let t = Instant::now();
    assert_error(
        app.http.get(app.url("/readyz")).send().await.unwrap(),
        StatusCode::SERVICE_UNAVAILABLE,
        "database_unavailable",
    )
    .await;
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert_eq!(
        app.http.get(app.url("/healthz")).send().await.unwrap().status(),
        StatusCode::OK
    );
    // The WebSocket stays up: a send is refused with the same code, a ping answered.
    let t = Instant::now();
    assert_eq!(ws.refused(&send(&room, "during")).await.0, "database_unavailable");
    assert!(t.elapsed() < Duration::from_secs(2), "refused in {:?}", t.elapsed());
    assert_eq!(ws.acked(&lyceum_protocol::frames::Command::Ping).await["pong"], true);

    // Postgres comes back: so does the server, without a restart.
    let pg = private_postgres(&dir).await;
    let t = Instant::now();
    loop {
        let res = app.get_auth("/api/rooms", &s.access).await;
        if res.status() == StatusCode::OK {
            break;
        }
        assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "database_unavailable").await;
        assert!(t.elapsed() < Duration::from_secs(10), "not recovered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        app.http.get(app.url("/readyz")).send().await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(ws.say(&room, "after").await, 2, "the refused send was not stored");
    let history: Value = app
        .get_auth(&format!("/api/rooms/{room}/messages"), &s.access)
        .await
        .json()
        .await
        .unwrap();
    let bodies: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["before", "after"]);
    app.server.stop(false).await;
    tokio::task::spawn_blocking(move || drop(pg)).await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
