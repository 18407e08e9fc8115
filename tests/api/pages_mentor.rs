//! The mentor's and the admin's pages by form, as a browser sends them: the
//! calendar (one slot, weekly slots, a session scheduled, started, its
//! registrants with agendas, a private note), the profile editor with the
//! picture, and the admin's users, role changes and audit log. Each with
//! its refusals.

use chrono::{Duration as Dur, Utc};
use reqwest::header::LOCATION;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Session, TestApp};
use crate::pages::{browser, csrf_of, get_page, sign_up, PASSWORD};

/// A page session for an account that exists (signed in by the form).
async fn sign_in(b: &Client, app: &TestApp, email: &str) {
    let (_, html) = get_page(b, app, "/signin").await;
    let res = b
        .post(app.url("/signin"))
        .form(&[
            ("csrf", csrf_of(&html).as_str()),
            ("email", email),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", res.text().await.unwrap());
}

/// POSTs a form from the page at `from` (its CSRF token added); returns the
/// status and the Location (or the body when there is none).
async fn post_form(b: &Client, app: &TestApp, from: &str, to: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let (_, html) = get_page(b, app, from).await;
    let csrf = csrf_of(&html);
    let mut all: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    let res = b.post(app.url(to)).form(&all).send().await.unwrap();
    let status = res.status();
    let loc = res.headers().get(LOCATION).map(|v| v.to_str().unwrap().to_owned());
    (
        status,
        match loc {
            Some(l) => l,
            None => res.text().await.unwrap(),
        },
    )
}

/// A redirect's query, decoded (what the next page reads).
fn decoded(s: &str) -> String {
    let q = s.split_once('?').map_or("", |(_, q)| q);
    serde_urlencoded::from_str::<Vec<(String, String)>>(q)
        .unwrap()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

async fn my_slots(app: &TestApp, mentor: &Session) -> Vec<Value> {
    let v: Value = app
        .get_auth("/api/slots/my-slots", &mentor.access)
        .await
        .json()
        .await
        .unwrap();
    v["items"].as_array().unwrap().clone()
}

#[actix_web::test]
async fn a_mentor_adds_one_slot_and_weekly_slots_on_the_calendar_page() {
    let app = spawn_app().await;
    let b = browser();
    let email = sign_up(&b, &app, "mentor", "Maya Mentor").await;
    let mentor = app.login(&email).await;
    let (status, html) = get_page(&b, &app, "/calendar").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("My calendar") && html.contains(r#"class="month-grid""#));
    assert!(
        html.contains(r#"href="/calendar" aria-current="page""#),
        "the nav marks the calendar"
    );
    assert!(html.contains("Nothing on this day yet"));

    let day = (Utc::now() + Dur::days(2)).date_naive();
    let date = day.format("%Y-%m-%d").to_string();
    let (status, to) = post_form(
        &b,
        &app,
        "/calendar",
        "/calendar/availability",
        &[
            ("date", &date),
            ("startTime", "18:00"),
            ("endTime", "19:00"),
            ("maxParticipants", "3"),
            ("title", "CV clinic"),
            ("description", ""),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(to.contains("added=1") && to.contains(&format!("date={date}")), "{to}");
    let (_, html) = get_page(&b, &app, &to).await;
    assert!(html.contains("Added one slot"), "the page says what happened");
    assert!(
        html.contains("CV clinic") && html.contains("18:00–19:00"),
        "the day's availability lists it"
    );
    assert!(html.contains("0 of 3 booked"));
    assert!(
        html.contains(&format!("{}, 1 slot or session", day.format("%A %-d %B"))),
        "the day is marked in the month"
    );
    assert_eq!(my_slots(&app, &mentor).await.len(), 1);

    // Weekly: four Thursdays at 07:30 in the mentor's zone.
    let (status, to) = post_form(
        &b,
        &app,
        "/calendar",
        "/calendar/availability/weekly",
        &[
            ("weekday", "4"),
            ("startTime", "07:30"),
            ("endTime", "08:15"),
            ("startDate", &date),
            ("weeks", "4"),
            ("maxParticipants", "1"),
            ("title", ""),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(to.contains("added=4"), "{to}");
    let slots = my_slots(&app, &mentor).await;
    let weekly: Vec<&Value> = slots.iter().filter(|s| s["startTime"] == "07:30").collect();
    assert_eq!(weekly.len(), 4);
    for s in &weekly {
        let d = chrono::NaiveDate::parse_from_str(s["date"].as_str().unwrap(), "%Y-%m-%d").unwrap();
        assert_eq!(chrono::Datelike::weekday(&d), chrono::Weekday::Thu);
    }
    let first = weekly[0]["date"].as_str().unwrap();
    let (_, html) = get_page(&b, &app, &format!("/calendar?month={}&date={first}", &first[..7])).await;
    assert!(html.contains("07:30–08:15"), "a weekly slot shows on its day");

    // Mistakes come back in words, and nothing is created.
    let (status, to) = post_form(
        &b,
        &app,
        "/calendar",
        "/calendar/availability",
        &[
            ("date", "next week"),
            ("startTime", "18:00"),
            ("endTime", "19:00"),
            ("maxParticipants", "1"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(decoded(&to).contains("Date must be a date"), "{to}");
    let (_, to) = post_form(
        &b,
        &app,
        "/calendar",
        "/calendar/availability/weekly",
        &[
            ("weekday", "9"),
            ("startTime", "18:00"),
            ("endTime", "19:00"),
            ("startDate", &date),
            ("weeks", "2"),
            ("maxParticipants", "1"),
        ],
    )
    .await;
    assert!(
        decoded(&to).contains("Weekday must be 1 (Monday) to 7 (Sunday)"),
        "{to}"
    );
    let (_, html) = get_page(&b, &app, &to).await;
    assert!(html.contains(r#"role="alert""#));
    assert_eq!(my_slots(&app, &mentor).await.len(), 5);

    // A mentee has no calendar, and cannot add to one by posting the form.
    let m = browser();
    sign_up(&m, &app, "mentee", "Mo Mentee").await;
    let (status, html) = get_page(&m, &app, "/calendar").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("The calendar is for mentors"));
    let (status, to) = post_form(
        &m,
        &app,
        "/bookings",
        "/calendar/availability",
        &[
            ("date", &date),
            ("startTime", "18:00"),
            ("endTime", "19:00"),
            ("maxParticipants", "1"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(to.contains("error="), "{to}");
    assert_eq!(my_slots(&app, &mentor).await.len(), 5);
    // Without the CSRF token: refused.
    let res = m
        .post(app.url("/calendar/availability"))
        .form(&[
            ("date", date.as_str()),
            ("startTime", "18:00"),
            ("endTime", "19:00"),
            ("maxParticipants", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // A visitor is sent to sign in.
    let (status, _) = get_page(&browser(), &app, "/calendar").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
}

#[actix_web::test]
async fn a_mentor_schedules_a_session_sees_registrants_with_agendas_starts_it_and_keeps_a_note() {
    let app = spawn_app().await;
    let b = browser();
    let email = sign_up(&b, &app, "mentor", "Hana Host").await;
    let host = app.login(&email).await;
    let date = (Utc::now() + Dur::days(1)).date_naive().format("%Y-%m-%d").to_string();
    let (status, to) = post_form(
        &b,
        &app,
        "/calendar",
        "/calendar/sessions",
        &[
            ("title", "Placement prep webinar"),
            ("description", "How to pass interviews"),
            ("date", &date),
            ("startTime", "17:00"),
            ("durationMinutes", "90"),
            ("capacity", "50"),
            ("category", "Placements"),
            ("tags", "interviews, cv"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{to}");
    assert!(
        to.starts_with("/calendar/manage/") && to.ends_with("?done=scheduled"),
        "{to}"
    );
    let manage = to.split('?').next().unwrap().to_owned();
    let id = manage.rsplit('/').next().unwrap().to_owned();
    let s: Value = app
        .get_auth(&format!("/api/sessions/{id}"), &host.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s["title"], "Placement prep webinar");
    assert_eq!(s["durationMinutes"], 90);
    assert_eq!(s["category"], "placements");
    assert_eq!(s["tags"], json!(["interviews", "cv"]));
    assert_eq!(s["startTime"], "17:00");

    // A mentee registers with goals; the host sees them.
    let mentee = app.register("mentee", "Ravi Registrant").await;
    let res = app
        .post_auth(
            &format!("/api/sessions/{id}/register"),
            &mentee.access,
            &json!({"agenda": {"goals": "Crack the aptitude round", "questions": ["Which topics?"]}}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let (status, html) = get_page(&b, &app, &manage).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Registered (1)") && html.contains("Ravi Registrant"));
    assert!(html.contains("Crack the aptitude round") && html.contains("Which topics?"));
    assert!(html.contains("Start Placement prep webinar"));
    assert!(html.contains("once it has started"), "no note before it starts");

    // Someone else's session: not theirs to manage.
    let other = browser();
    sign_up(&other, &app, "mentor", "Olga Other").await;
    let (status, to) = get_page(&other, &app, &manage).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let _ = to;
    let (status, to) = post_form(&other, &app, "/calendar", &manage, &[("action", "start")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(decoded(&to).contains("error="), "{to}");
    let s: Value = app
        .get_auth(&format!("/api/sessions/{id}"), &host.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s["state"], "scheduled", "another mentor cannot start it");

    // The host starts it: the registrant gets the one-click join.
    let (status, to) = post_form(&b, &app, &manage, &manage, &[("action", "start")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(to.ends_with("done=start"), "{to}");
    let mb = browser();
    sign_in(&mb, &app, &mentee.email).await;
    let (_, html) = get_page(&mb, &app, &format!("/sessions/{id}")).await;
    assert!(
        html.contains(&format!(r#"href="/app/#session={id}""#)),
        "a live session has its join link"
    );
    let (_, html) = get_page(&b, &app, &manage).await;
    assert!(html.contains("Enter the live room") && html.contains("End Placement prep webinar"));

    // The private note, kept once it has started.
    let (status, to) = post_form(
        &b,
        &app,
        &manage,
        &manage,
        &[("action", "note"), ("note", "Ravi: strong on maths")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(to.ends_with("done=note"), "{to}");
    let n: Value = app
        .get_auth(&format!("/api/offerings/{id}/notes"), &host.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(n["body"], "Ravi: strong on maths");
    let (_, html) = get_page(&b, &app, &manage).await;
    assert!(html.contains("Ravi: strong on maths"));

    let (_, to) = post_form(&b, &app, &manage, &manage, &[("action", "complete")]).await;
    assert!(to.ends_with("done=complete"), "{to}");
    let s: Value = app
        .get_auth(&format!("/api/sessions/{id}"), &host.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s["state"], "completed");
    let (_, to) = post_form(&b, &app, &manage, &manage, &[("action", "explode")]).await;
    assert!(to.contains("error="), "an unknown action is refused in words: {to}");
}

#[actix_web::test]
async fn the_profile_editor_saves_every_field_keeps_typed_values_on_an_error_and_uploads_a_picture() {
    let app = spawn_app().await;
    let b = browser();
    let email = sign_up(&b, &app, "mentor", "Priya Profile").await;
    let me = app.login(&email).await;
    let (status, html) = get_page(&b, &app, "/profile").await;
    assert_eq!(status, StatusCode::OK);
    for label in [
        "Bio",
        "Skill 1",
        "LinkedIn profile",
        "GitHub profile",
        "Time zone",
        "Phone (only you see it)",
        "Certification (certifications 1)",
        "Project (projects 1)",
        "Achievement (achievements 1)",
        "Role (experience 1)",
    ] {
        assert!(html.contains(label), "the editor has {label}");
    }
    let fields = [
        ("displayName", "Priya P."),
        ("headline", "ML engineer, class of 2015"),
        ("bio", "I help with ML interviews."),
        ("tags", "Machine Learning, interviews"),
        ("yearsOfExperience", "9"),
        ("employer", "Acme"),
        ("isAlumni", "on"),
        ("graduationYear", "2015"),
        ("linkedinUrl", "https://www.linkedin.com/in/priya"),
        ("githubUrl", ""),
        ("timeZone", "Asia/Kolkata"),
        ("phone", "+91 98 7654 3210"),
        ("skills.0.name", "Python"),
        ("skills.0.level", "expert"),
        ("skills.1.name", ""),
        ("skills.1.level", "beginner"),
        ("skills.2.name", "PyTorch"),
        ("skills.2.level", "advanced"),
        ("experience.0.title", "ML engineer"),
        ("experience.0.organization", "Acme"),
        ("experience.0.start", "2019-04"),
        ("experience.0.end", ""),
        ("achievements.0.title", "Kaggle master"),
        ("achievements.0.year", "2021"),
        ("certifications.0.name", "AWS ML Specialty"),
        ("certifications.0.issuer", "AWS"),
        ("projects.0.name", "tinygrad fork"),
        ("projects.0.url", "https://github.com/priya/tinygrad"),
    ];
    let (status, to) = post_form(&b, &app, "/profile", "/profile", &fields).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{to}");
    assert_eq!(to, "/profile?saved=1");
    let p: Value = app.get_auth("/api/me/profile", &me.access).await.json().await.unwrap();
    assert_eq!(p["displayName"], "Priya P.");
    assert_eq!(
        p["skills"],
        json!([{"name": "Python", "level": "expert"}, {"name": "PyTorch", "level": "advanced"}])
    );
    assert_eq!(p["tags"], json!(["machine learning", "interviews"]));
    assert_eq!(p["yearsOfExperience"], 9);
    assert_eq!(p["isAlumni"], true);
    assert_eq!(p["graduationYear"], 2015);
    assert_eq!(p["timeZone"], "Asia/Kolkata");
    assert_eq!(p["phone"], "+91 98 7654 3210");
    assert_eq!(p["githubUrl"], Value::Null);
    assert_eq!(p["experience"][0]["organization"], "Acme");
    assert_eq!(p["achievements"][0]["year"], 2021);
    assert_eq!(p["certifications"][0]["issuer"], "AWS");
    assert_eq!(p["projects"][0]["url"], "https://github.com/priya/tinygrad");
    assert_eq!(p["acceptsMessages"], false, "an unticked box is off");
    let (_, html) = get_page(&b, &app, "/profile?saved=1").await;
    assert!(html.contains("Saved.") && html.contains(r#"value="PyTorch""#));

    // A bad link: the form again with the error in words and what was typed.
    let mut bad = fields.to_vec();
    bad[8] = ("linkedinUrl", "javascript:alert(1)");
    bad[2] = ("bio", "A changed bio that must not be lost");
    let (status, html) = post_form(&b, &app, "/profile", "/profile", &bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        html.contains(r#"role="alert""#) && html.contains("LinkedIn profile: must be an http(s) URL. Correct it"),
        "{html}"
    );
    assert!(
        html.contains(r#"id="linkedinUrl" name="linkedinUrl" aria-invalid="true" aria-describedby="form-error""#),
        "the field is marked"
    );
    assert!(
        html.contains("A changed bio that must not be lost"),
        "typed text is kept"
    );
    let p: Value = app.get_auth("/api/me/profile", &me.access).await.json().await.unwrap();
    assert_eq!(
        p["bio"], "I help with ML interviews.",
        "nothing saved from the refused form"
    );

    // The picture: bytes checked, served publicly, replaced, removed.
    let png: Vec<u8> = [b"\x89PNG\r\n\x1a\n".as_slice(), &[0u8; 64]].concat();
    let put = |body: Vec<u8>, ctype: &'static str| {
        app.http
            .put(app.url("/api/me/avatar"))
            .bearer_auth(&me.access)
            .header("content-type", ctype)
            .body(body)
            .send()
    };
    let res = put(png.clone(), "image/png").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let url = res.json::<Value>().await.unwrap()["avatarUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(url.starts_with("/avatars/") && url.ends_with(".png"));
    let got = app.http.get(app.url(&url)).send().await.unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.headers()["content-type"], "image/png");
    assert_eq!(got.headers()["x-content-type-options"], "nosniff");
    assert_eq!(got.bytes().await.unwrap().as_ref(), png.as_slice());
    let (_, public) = get_page(&browser(), &app, &format!("/mentors/{}", me.id)).await;
    assert!(
        public.contains(&format!(r#"src="{url}""#)),
        "the public page shows the picture"
    );
    assert!(!public.contains("98 7654"), "the phone stays private");

    let res = put(b"GIF89a not a png".to_vec(), "image/png").await.unwrap();
    crate::helpers::assert_error(res, StatusCode::BAD_REQUEST, "invalid_avatar").await;
    let res = put(png.clone(), "image/svg+xml").await.unwrap();
    crate::helpers::assert_error(res, StatusCode::BAD_REQUEST, "invalid_avatar").await;
    let big: Vec<u8> = [b"\x89PNG\r\n\x1a\n".as_slice(), &vec![0u8; 1024 * 1024]].concat();
    let res = put(big, "image/png").await.unwrap();
    crate::helpers::assert_error(res, StatusCode::PAYLOAD_TOO_LARGE, "avatar_too_large").await;
    let res = app
        .http
        .put(app.url("/api/me/avatar"))
        .header("content-type", "image/png")
        .body(png.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let p: Value = app.get_auth("/api/me/profile", &me.access).await.json().await.unwrap();
    assert_eq!(p["avatarUrl"], url.as_str(), "refused uploads change nothing");

    let jpeg: Vec<u8> = [[0xFFu8, 0xD8, 0xFF, 0xE0].as_slice(), &[1u8; 32]].concat();
    let res = put(jpeg, "image/jpeg").await.unwrap();
    let url2 = res.json::<Value>().await.unwrap()["avatarUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(url, url2);
    assert_eq!(
        app.http.get(app.url(&url)).send().await.unwrap().status(),
        StatusCode::NOT_FOUND,
        "the old file is gone"
    );
    let res = app
        .http
        .delete(app.url("/api/me/avatar"))
        .bearer_auth(&me.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        app.http.get(app.url(&url2)).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let p: Value = app.get_auth("/api/me/profile", &me.access).await.json().await.unwrap();
    assert_eq!(p["avatarUrl"], Value::Null);
    for evil in ["/avatars/..%2Fjwt_secret", "/avatars/.png", "/avatars/x.part"] {
        assert_eq!(
            app.http.get(app.url(evil)).send().await.unwrap().status(),
            StatusCode::NOT_FOUND,
            "{evil}"
        );
    }
}

#[actix_web::test]
async fn an_admin_finds_users_changes_a_role_by_form_and_reads_the_audit_log_with_names() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let b = browser();
    sign_in(&b, &app, &admin.email).await;
    let target = app.register("mentee", "Tara Target").await;
    let (status, html) = get_page(&b, &app, "/admin?q=tara").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Tara Target") && html.contains("Change the role of Tara Target"));
    assert!(!html.contains(&target.email), "no contact details, not even for admins");
    let (_, html) = get_page(&b, &app, &format!("/admin?q={}", target.email)).await;
    assert!(html.contains("Tara Target"), "an exact email finds the account");
    let (_, html) = get_page(&b, &app, "/admin?q=nobody-by-this-name").await;
    assert!(html.contains("No users match"));

    let (status, to) = post_form(
        &b,
        &app,
        "/admin",
        &format!("/admin/users/{}/role", target.id),
        &[("role", "mentor"), ("name", "Tara Target"), ("back", "/admin?q=tara")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(to.starts_with("/admin?q=tara") && to.contains("changed=Tara"), "{to}");
    let res = app.get_auth("/api/me", &target.access).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "the old token is revoked");
    let again = app.login(&target.email).await;
    let me: Value = app.get_auth("/api/me", &again.access).await.json().await.unwrap();
    assert_eq!(me["role"], "mentor");

    // Their own role: refused in words.
    let (_, to) = post_form(
        &b,
        &app,
        "/admin",
        &format!("/admin/users/{}/role", admin.id),
        &[("role", "mentee")],
    )
    .await;
    assert!(decoded(&to).contains("error="), "{to}");

    let (status, html) = get_page(&b, &app, "/admin/audit").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Role changed") && html.contains("Tara Target"),
        "names, not ids"
    );
    let (_, html) = get_page(&b, &app, "/admin/audit?action=role_changed").await;
    assert!(html.contains("Role changed") && !html.contains("Sign in failed"));

    // Not an admin: a 403 page, and the form does nothing.
    let m = browser();
    sign_up(&m, &app, "mentee", "Nosy Mentee").await;
    for path in ["/admin", "/admin/audit"] {
        let (status, html) = get_page(&m, &app, path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(html.contains("For admins only"));
    }
    let (status, _) = post_form(
        &m,
        &app,
        "/bookings",
        &format!("/admin/users/{}/role", again.id),
        &[("role", "mentee")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let me: Value = app.get_auth("/api/me", &again.access).await.json().await.unwrap();
    assert_eq!(me["role"], "mentor");

    // The admin API behind the page.
    let res = app
        .get_auth("/api/admin/users?role=mentor&limit=1", &admin.access)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    assert!(v["items"][0].get("email").is_none());
    let res = app.get_auth("/api/admin/users?limit=0", &admin.access).await;
    crate::helpers::assert_error(res, StatusCode::BAD_REQUEST, "invalid_query").await;
    let res = app.get_auth("/api/admin/users", &again.access).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn an_unknown_path_is_a_page_for_a_browser_and_json_for_a_program() {
    let app = spawn_app().await;
    let res = browser()
        .get(app.url("/no/such/page"))
        .header("accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(res.text().await.unwrap().contains("<h1>Not found</h1>"));
    for (path, accept) in [("/no/such/page", "*/*"), ("/api/nothing", "text/html")] {
        let res = app
            .http
            .get(app.url(path))
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        crate::helpers::assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    }
}

#[actix_web::test]
async fn anyone_searches_and_filters_sessions_on_the_sessions_page() {
    let app = spawn_app().await;
    let host = app.register("mentor", "Sara Sessions").await;
    let starts = Utc::now() + Dur::days(3);
    for (i, (title, category, tag)) in [
        ("Aptitude bootcamp", "placements", "aptitude"),
        ("Rust ownership clinic", "programming", "rust"),
    ]
    .into_iter()
    .enumerate()
    {
        let starts = starts + Dur::hours(2 * i as i64);
        let res = app
            .post_auth("/api/sessions", &host.access, &json!({"title": title, "startsAt": starts, "durationMinutes": 60, "capacity": 30, "category": category, "tags": [tag]}))
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let v = browser();
    let (status, html) = get_page(&v, &app, "/sessions").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Aptitude bootcamp") && html.contains("Rust ownership clinic"));
    let (_, html) = get_page(&v, &app, "/sessions?category=Placements").await;
    assert!(html.contains("Aptitude bootcamp") && !html.contains("Rust ownership clinic"));
    let (_, html) = get_page(&v, &app, "/sessions?tag=rust").await;
    assert!(!html.contains("Aptitude bootcamp") && html.contains("Rust ownership clinic"));
    let (_, html) = get_page(&v, &app, "/sessions?q=ownership").await;
    assert!(!html.contains("Aptitude bootcamp") && html.contains("Rust ownership clinic"));
    let day = (Utc::now() + Dur::days(1)).date_naive().format("%Y-%m-%d");
    let (_, html) = get_page(&v, &app, &format!("/sessions?to={day}")).await;
    assert!(!html.contains("Aptitude bootcamp") && html.contains("No session matches"));
    let (status, html) = get_page(&v, &app, "/sessions?from=soon").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains(r#"role="alert""#) && html.contains("From must be a date"));
}
