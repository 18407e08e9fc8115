//! Profiles: the owner edits and sees everything; others see the public
//! profile, never an email or phone number.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

fn full_profile() -> Value {
    json!({
        "displayName": "Dr. Mentor",
        "headline": "Staff engineer, distributed systems",
        "bio": "I help students prepare for systems interviews.",
        "skills": [{"name": "Rust", "level": "expert"}, {"name": "Postgres", "level": "advanced"}],
        "tags": ["Interviews", "Careers"],
        "yearsOfExperience": 12,
        "experience": [{"title": "Staff Engineer", "organization": "Acme", "start": "2019-04", "description": "Storage"}],
        "achievements": [{"title": "Best paper", "year": 2021}],
        "certifications": [{"name": "CKA", "issuer": "CNCF", "year": 2022, "url": "https://cncf.io/cka"}],
        "projects": [{"name": "tinydb", "url": "https://github.com/example/tinydb"}],
        "avatarUrl": "https://example.org/a.png",
        "linkedinUrl": "https://www.linkedin.com/in/example",
        "githubUrl": "https://github.com/example",
        "timeZone": "Europe/Berlin",
        "isAlumni": true,
        "graduationYear": 2010,
        "employer": "Acme",
        "acceptsMessages": true,
        "phone": "+49 30 1234567"
    })
}

#[actix_web::test]
async fn owner_updates_and_reads_the_full_profile() {
    let app = spawn_app().await;
    let s = app.register("mentor", "Mentor").await;
    let res = app.patch_profile(&s.access, &full_profile()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let p: Value = app.get_auth("/api/me/profile", &s.access).await.json().await.unwrap();
    assert_eq!(p["displayName"], "Dr. Mentor");
    assert_eq!(p["skills"][0]["name"], "Rust");
    assert_eq!(p["tags"], json!(["interviews", "careers"]));
    assert_eq!(p["yearsOfExperience"], 12);
    assert_eq!(p["experience"][0]["organization"], "Acme");
    assert_eq!(p["certifications"][0]["issuer"], "CNCF");
    assert_eq!(p["timeZone"], "Europe/Berlin");
    assert_eq!(p["graduationYear"], 2010);
    assert_eq!(p["phone"], "+49 30 1234567");
    assert_eq!(p["role"], "mentor");

    // A partial patch leaves the rest alone; null clears an optional field.
    let res = app
        .patch_profile(&s.access, &json!({"headline": "New headline", "avatarUrl": null}))
        .await;
    let p: Value = res.json().await.unwrap();
    assert_eq!(p["headline"], "New headline");
    assert_eq!(p["avatarUrl"], Value::Null);
    assert_eq!(p["bio"], "I help students prepare for systems interviews.");
    assert_eq!(p["skills"].as_array().unwrap().len(), 2);
}

#[actix_web::test]
async fn public_profile_never_shows_email_or_phone() {
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Public").await;
    app.patch_profile(&mentor.access, &full_profile()).await;
    let viewer = app.register("mentee", "Viewer").await;

    let res = app.get_auth(&format!("/api/users/{}", mentor.id), &viewer.access).await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["displayName"], "Dr. Mentor");
    assert_eq!(body["headline"], "Staff engineer, distributed systems");
    assert!(body.get("email").is_none() && body.get("phone").is_none(), "{body}");
    assert!(!text.contains(&mentor.email), "email leaked: {text}");
    assert!(!text.contains("1234567"), "phone leaked: {text}");

    // The directory entry is just as clean.
    let text = app.get_auth("/api/mentors", &viewer.access).await.text().await.unwrap();
    assert!(text.contains("Dr. Mentor"));
    assert!(!text.contains(&mentor.email) && !text.contains("1234567"), "{text}");

    // Anonymous callers get nothing; unknown and malformed ids are clear errors.
    let res = app
        .http
        .get(app.url(&format!("/api/users/{}", mentor.id)))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "missing_token").await;
    let res = app
        .get_auth(&format!("/api/users/{}", uuid::Uuid::new_v4()), &viewer.access)
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "user_not_found").await;
    let res = app.get_auth("/api/users/not-a-uuid", &viewer.access).await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_path").await;
}

#[actix_web::test]
async fn invalid_profile_changes_are_rejected_and_nothing_is_written() {
    let app = spawn_app().await;
    let s = app.register("mentor", "Strict").await;
    app.patch_profile(&s.access, &json!({"headline": "Kept"})).await;
    let bad = [
        json!({"avatarUrl": "javascript:alert(1)"}),
        json!({"timeZone": "Mars/Olympus_Mons"}),
        json!({"yearsOfExperience": -1}),
        json!({"skills": [{"name": "Rust", "level": "wizard"}]}),
        json!({"headline": "x".repeat(500)}),
        json!({"phone": "call me maybe"}),
        json!({"displayName": "me@example.org"}),
        json!({"email": "new@example.org"}),
        json!({"role": "admin"}),
    ];
    for body in bad {
        let res = app.patch_profile(&s.access, &body).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{body}");
        let err: Value = res.json().await.unwrap();
        assert!(
            ["invalid_profile", "invalid_json", "invalid_display_name"].contains(&err["error"].as_str().unwrap()),
            "{err}"
        );
    }
    let p: Value = app.get_auth("/api/me/profile", &s.access).await.json().await.unwrap();
    assert_eq!(p["headline"], "Kept");
    assert_eq!(p["role"], "mentor");
}
