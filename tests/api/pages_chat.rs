//! The chat pages with a real cookie jar (docs/web.md, "Chat"): every form
//! goes through the API's handler with the page's user, so the server's
//! rules hold on the pages too: who may open a direct conversation, who reads
//! a room and its files, who moderates; CSRF on every form.

use reqwest::header::LOCATION;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};
use crate::pages::{browser, csrf_of, get_page, page_token, sign_up};

/// Posts a page form with the client's CSRF token; returns status and Location.
async fn post_form(b: &Client, app: &TestApp, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let (_, html) = get_page(b, app, "/chat").await;
    let csrf = csrf_of(&html);
    let mut form: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    let res = b.post(app.url(path)).form(&form).send().await.unwrap();
    let status = res.status();
    let to = res
        .headers()
        .get(LOCATION)
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, to)
}

#[actix_web::test]
async fn chat_pages_keep_the_servers_rules_and_need_the_csrf_token() {
    let app = spawn_app().await;
    let (grace, sam, eve) = (browser(), browser(), browser());
    sign_up(&grace, &app, "mentor", "Grace Hopper").await;
    sign_up(&sam, &app, "mentee", "Sam Student").await;
    sign_up(&eve, &app, "mentee", "Eve Outsider").await;
    let grace_t = page_token(&grace, &app).await;
    let sam_t = page_token(&sam, &app).await;
    let eve_t = page_token(&eve, &app).await;
    let id = |t: &Value| t["userId"].as_str().unwrap().to_owned();
    let (grace_id, sam_id) = (id(&grace_t), id(&sam_t));
    let back = format!("/mentors/{grace_id}");

    // Without the CSRF token nothing is opened.
    let res = eve
        .post(app.url("/chat/direct"))
        .form(&[("userId", grace_id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let rooms: Value = app
        .get_auth("/api/rooms", eve_t["accessToken"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rooms["items"], json!([]), "a refused form opened nothing");

    // "Message Grace Hopper": opens the conversation, and finds it again.
    let (status, to) = post_form(&sam, &app, "/chat/direct", &[("userId", &grace_id), ("back", &back)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(to.starts_with("/chat/"), "{to}");
    let room = to.trim_start_matches("/chat/").to_owned();
    let (_, again) = post_form(&sam, &app, "/chat/direct", &[("userId", &grace_id), ("back", &back)]).await;
    assert_eq!(again, to, "the same conversation, found");
    // A mentee may not open one with another mentee: back, in words.
    let (status, to) = post_form(&eve, &app, "/chat/direct", &[("userId", &sam_id), ("back", &back)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(to.starts_with(&format!("{back}?error=")), "{to}");
    let (_, html) = get_page(&eve, &app, &to).await;
    assert!(
        html.contains("You may not open a conversation with this user."),
        "the refusal in words"
    );
    // An address off this site is not followed back.
    let (_, to) = post_form(
        &eve,
        &app,
        "/chat/direct",
        &[("userId", &sam_id), ("back", "//evil.example/")],
    )
    .await;
    assert!(to.starts_with("/chat?error="), "{to}");

    // A message with an attachment; the page shows it to the members only.
    let sam_access = sam_t["accessToken"].as_str().unwrap();
    let res = app
        .http
        .post(app.url(&format!("/api/rooms/{room}/attachments")))
        .bearer_auth(sam_access)
        .header("Content-Type", "text/plain")
        .header("X-File-Name", "notes.txt")
        .body("my notes")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let file = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let res = app
        .post_auth(
            &format!("/api/rooms/{room}/messages"),
            sam_access,
            &json!({"body": "Secret plans", "attachments": [file]}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let (status, html) = get_page(&grace, &app, &format!("/chat/{room}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("<h1 id=\"room-title\">Sam Student</h1>"),
        "titled by the other person's name"
    );
    assert!(html.contains("Secret plans") && html.contains(&format!("/chat/files/{file}")));
    assert!(!html.contains("@example.org"), "no email on the page");
    let res = grace.get(app.url(&format!("/chat/files/{file}"))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), "my notes");
    let (status, html) = get_page(&eve, &app, &format!("/chat/{room}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!html.contains("Secret plans"));
    let (status, html) = get_page(&eve, &app, &format!("/chat/files/{file}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!html.contains("my notes"));

    // Sending without JavaScript: the form posts through the API's send.
    let (status, to) = post_form(
        &grace,
        &app,
        &format!("/chat/{room}"),
        &[("action", "send"), ("body", "Plain form")],
    )
    .await;
    assert_eq!(
        (status, to.as_str()),
        (StatusCode::SEE_OTHER, format!("/chat/{room}").as_str())
    );
    let history: Value = app
        .get_auth(&format!("/api/rooms/{room}/messages"), sam_access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        history["items"].as_array().unwrap().last().unwrap()["body"],
        "Plain form"
    );
    // Direct conversations cannot be left.
    let (_, to) = post_form(&sam, &app, &format!("/chat/{room}"), &[("action", "leave")]).await;
    assert!(to.starts_with(&format!("/chat/{room}?error=")), "{to}");

    // A group room: created by the mentor, joined by Sam from /chat.
    let (status, to) = post_form(
        &grace,
        &app,
        "/chat",
        &[("name", "Study group"), ("visibility", "public")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let group = to.trim_start_matches("/chat/").to_owned();
    let (_, html) = get_page(&sam, &app, "/chat").await;
    assert!(html.contains("Join Study group"), "public rooms to join");
    let (_, to) = post_form(&sam, &app, &format!("/chat/{group}"), &[("action", "join")]).await;
    assert_eq!(to, format!("/chat/{group}"));
    let (_, html) = get_page(&sam, &app, "/chat").await;
    assert!(!html.contains("Join Study group") && html.contains("Study group"));
    // Sam may not moderate; Grace, the owner, may.
    let (_, to) = post_form(
        &sam,
        &app,
        &format!("/chat/{group}"),
        &[("action", "mute"), ("userId", &grace_id)],
    )
    .await;
    assert!(to.contains("?error="), "{to}");
    let (_, html) = get_page(&sam, &app, &format!("/chat/{group}")).await;
    assert!(
        !html.contains("Mute Grace Hopper"),
        "no moderation buttons for a member"
    );
    let (_, html) = get_page(&grace, &app, &format!("/chat/{group}")).await;
    assert!(html.contains("Mute Sam Student for an hour") && html.contains("Remove Sam Student"));
    let (_, to) = post_form(
        &grace,
        &app,
        &format!("/chat/{group}"),
        &[("action", "mute"), ("userId", &sam_id)],
    )
    .await;
    assert_eq!(to, format!("/chat/{group}?done=muted"));
    let res = app
        .post_auth(
            &format!("/api/rooms/{group}/messages"),
            sam_access,
            &json!({"body": "hi"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "muted");
    let (_, to) = post_form(
        &grace,
        &app,
        &format!("/chat/{group}"),
        &[("action", "remove"), ("userId", &sam_id)],
    )
    .await;
    assert_eq!(to, format!("/chat/{group}?done=removed"));
    let (status, _) = get_page(&sam, &app, &format!("/chat/{group}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "removed: no longer readable");
    // An end-to-end encrypted room: its ciphertext shows as "Encrypted
    // message" (the page cannot read it), the ciphertext kept for a client
    // that can.
    let grace_access = grace_t["accessToken"].as_str().unwrap();
    let res = app
        .post_auth(
            "/api/rooms",
            grace_access,
            &json!({"name": "Sealed", "visibility": "private", "e2ee": true}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let sealed = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let res = app
        .post_auth(
            &format!("/api/rooms/{sealed}/messages"),
            grace_access,
            &json!({"ciphertext": "c2VhbGVkIGJveA=="}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let (status, html) = get_page(&grace, &app, &format!("/chat/{sealed}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(r#"<p class="body encrypted" data-ciphertext="c2VhbGVkIGJveA==">Encrypted message</p>"#),
        "the placeholder"
    );
    // Joining again and leaving.
    post_form(&sam, &app, &format!("/chat/{group}"), &[("action", "join")]).await;
    let (_, to) = post_form(&sam, &app, &format!("/chat/{group}"), &[("action", "leave")]).await;
    assert_eq!(to, "/chat?done=left");
}
