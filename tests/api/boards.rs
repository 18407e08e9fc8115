//! The discussion boards and board notifications (issue 16; docs/api.md
//! "Boards" and "Notifications"): every rule, the refusals included.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;
use crate::ws::Ws;

impl TestApp {
    async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> reqwest::Response {
        let mut r = self.http.request(method, self.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send().await.expect("request")
    }

    /// A request that must answer `status`; its JSON body.
    async fn expect(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>, status: u16) -> Value {
        let res = self.call(method.clone(), path, token, body).await;
        let got = res.status().as_u16();
        let text = res.text().await.expect("body");
        assert_eq!(got, status, "{method} {path}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn category(&self, admin: &str, slug: &str, visibility: &str) -> String {
        let v = self
            .expect(
                Method::POST,
                "/api/boards/categories",
                Some(admin),
                Some(json!({"slug": slug, "name": slug, "visibility": visibility})),
                201,
            )
            .await;
        v["id"].as_str().unwrap().to_owned()
    }

    /// A thread; returns (thread id, question post id).
    async fn thread(&self, token: &str, category: &str, title: &str, body: &str, tags: &[&str]) -> (String, String) {
        let v = self
            .expect(
                Method::POST,
                "/api/boards/threads",
                Some(token),
                Some(json!({"categoryId": category, "title": title, "body": body, "tags": tags})),
                201,
            )
            .await;
        (
            v["thread"]["id"].as_str().unwrap().to_owned(),
            v["posts"]["items"][0]["id"].as_str().unwrap().to_owned(),
        )
    }

    async fn reply(&self, token: &str, thread: &str, body: &str, parent: Option<&str>) -> Value {
        self.expect(
            Method::POST,
            &format!("/api/boards/threads/{thread}/replies"),
            Some(token),
            Some(json!({"body": body, "parentId": parent})),
            201,
        )
        .await
    }

    async fn notifications(&self, token: &str) -> Vec<Value> {
        let v = self
            .expect(Method::GET, "/api/notifications", Some(token), None, 200)
            .await;
        v["items"].as_array().unwrap().clone()
    }
}

fn kinds(items: &[Value]) -> Vec<String> {
    items.iter().map(|n| n["kind"].as_str().unwrap().to_owned()).collect()
}

#[actix_web::test]
async fn categories_are_made_by_admins_and_public_ones_are_readable_signed_out() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let mentee = app.register("mentee", "Mia").await;
    let public = app.category(&admin.access, "placements", "public").await;
    let members = app.category(&admin.access, "interviews", "members").await;

    // Only admins create; slugs are unique and checked.
    let body = json!({"slug": "x-y", "name": "X", "visibility": "public"});
    let res = app
        .call(Method::POST, "/api/boards/categories", Some(&mentee.access), Some(body))
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let dup = json!({"slug": "placements", "name": "Again", "visibility": "public"});
    let res = app
        .call(Method::POST, "/api/boards/categories", Some(&admin.access), Some(dup))
        .await;
    assert_error(res, StatusCode::CONFLICT, "category_exists").await;
    for bad in [
        json!({"slug": "Bad Slug", "name": "X", "visibility": "public"}),
        json!({"slug": "ok", "name": "", "visibility": "public"}),
        json!({"slug": "ok", "name": "X", "visibility": "secret"}),
    ] {
        let res = app
            .call(Method::POST, "/api/boards/categories", Some(&admin.access), Some(bad))
            .await;
        assert_error(res, StatusCode::BAD_REQUEST, "invalid_category").await;
    }

    // Admins rename, describe and change a category's visibility; the
    // slug stays. Others may not; bad values and unknown ids are refused.
    let renamed = json!({"name": "Placements and offers", "description": "Offers, **packages**"});
    let res = app
        .call(
            Method::PATCH,
            &format!("/api/boards/categories/{members}"),
            Some(&mentee.access),
            Some(renamed.clone()),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app
        .call(
            Method::PATCH,
            &format!("/api/boards/categories/{public}"),
            None,
            Some(renamed.clone()),
        )
        .await;
    assert_error(res, StatusCode::UNAUTHORIZED, "missing_token").await;
    let c = app
        .expect(
            Method::PATCH,
            &format!("/api/boards/categories/{public}"),
            Some(&admin.access),
            Some(renamed),
            200,
        )
        .await;
    assert_eq!(c["name"], "Placements and offers");
    assert_eq!(c["description"], "Offers, **packages**");
    assert_eq!(c["slug"], "placements");
    assert_eq!(c["visibility"], "public");
    for bad in [
        json!({}),
        json!({"name": "  "}),
        json!({"visibility": "secret"}),
        json!({"description": "x".repeat(501)}),
    ] {
        let res = app
            .call(
                Method::PATCH,
                &format!("/api/boards/categories/{public}"),
                Some(&admin.access),
                Some(bad),
            )
            .await;
        assert_error(res, StatusCode::BAD_REQUEST, "invalid_category").await;
    }
    // The slug is not a field of a change.
    let res = app
        .call(
            Method::PATCH,
            &format!("/api/boards/categories/{public}"),
            Some(&admin.access),
            Some(json!({"slug": "new-slug"})),
        )
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_json").await;
    let res = app
        .call(
            Method::PATCH,
            &format!("/api/boards/categories/{}", uuid::Uuid::new_v4()),
            Some(&admin.access),
            Some(json!({"name": "Nobody"})),
        )
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "category_not_found").await;
    // Made public and back: what a visitor may read follows it.
    let c = app
        .expect(
            Method::PATCH,
            &format!("/api/boards/categories/{members}"),
            Some(&admin.access),
            Some(json!({"visibility": "public"})),
            200,
        )
        .await;
    assert_eq!(c["visibility"], "public");
    let cats = app.expect(Method::GET, "/api/boards/categories", None, None, 200).await;
    assert_eq!(cats["items"].as_array().unwrap().len(), 2, "{cats}");
    app.expect(
        Method::PATCH,
        &format!("/api/boards/categories/{members}"),
        Some(&admin.access),
        Some(json!({"visibility": "members"})),
        200,
    )
    .await;
    let audit = app
        .expect(
            Method::GET,
            "/api/admin/audit?action=board_category_updated",
            Some(&admin.access),
            None,
            200,
        )
        .await;
    let items = audit["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{audit}");
    assert!(
        items
            .iter()
            .any(|e| e["details"]["changed"]["name"]["to"] == "Placements and offers"),
        "{audit}"
    );
    assert!(
        items
            .iter()
            .any(|e| e["details"]["changed"]["visibility"]["to"] == "public"),
        "{audit}"
    );

    let (open_thread, _) = app
        .thread(&mentee.access, &public, "Open question", "Anyone?", &[])
        .await;
    let (closed_thread, _) = app
        .thread(&mentee.access, &members, "Members question", "Members only?", &[])
        .await;

    // Signed out: the public category and its thread, nothing of the other.
    let cats = app.expect(Method::GET, "/api/boards/categories", None, None, 200).await;
    let slugs: Vec<&str> = cats["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, vec!["placements"]);
    let list = app.expect(Method::GET, "/api/boards/threads", None, None, 200).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["id"], open_thread.as_str());
    let t = app
        .expect(
            Method::GET,
            &format!("/api/boards/threads/{open_thread}"),
            None,
            None,
            200,
        )
        .await;
    assert_eq!(t["thread"]["title"], "Open question");
    assert_eq!(t["posts"]["items"][0]["myVote"], Value::Null);
    let res = app
        .call(Method::GET, &format!("/api/boards/threads/{closed_thread}"), None, None)
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "thread_not_found").await;
    // Posting needs a sign-in.
    let res = app
        .call(
            Method::POST,
            &format!("/api/boards/threads/{open_thread}/replies"),
            None,
            Some(json!({"body": "hi"})),
        )
        .await;
    assert_error(res, StatusCode::UNAUTHORIZED, "missing_token").await;

    // Signed in: both.
    let cats = app
        .expect(Method::GET, "/api/boards/categories", Some(&mentee.access), None, 200)
        .await;
    assert_eq!(cats["items"].as_array().unwrap().len(), 2);
    app.expect(
        Method::GET,
        &format!("/api/boards/threads/{closed_thread}"),
        Some(&mentee.access),
        None,
        200,
    )
    .await;
}

#[actix_web::test]
async fn replies_answer_replies_and_mentors_answers_are_marked_without_emails() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let mentee = app.register("mentee", "Mia").await;
    let mentor = app.register("mentor", "Marco").await;
    let cat = app.category(&admin.access, "placements", "public").await;
    let (thread, question) = app
        .thread(
            &mentee.access,
            &cat,
            "How do I prepare?",
            "For **Acme**",
            &["Interview", "acme"],
        )
        .await;
    let answer = app.reply(&mentor.access, &thread, "Practise.", None).await;
    assert_eq!(answer["byMentor"], true);
    assert_eq!(answer["author"]["role"], "mentor");
    assert_eq!(answer["author"]["displayName"], "Marco");
    let follow_up = app
        .reply(
            &mentee.access,
            &thread,
            "How much?",
            Some(answer["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(follow_up["parentId"], answer["id"]);
    assert_eq!(follow_up["byMentor"], false);

    // A parent from another thread, an empty body, a short title.
    let (other, other_q) = app.thread(&mentee.access, &cat, "Another one", "body", &[]).await;
    let res = app
        .call(
            Method::POST,
            &format!("/api/boards/threads/{thread}/replies"),
            Some(&mentor.access),
            Some(json!({"body": "x", "parentId": other_q})),
        )
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_post").await;
    let res = app
        .call(
            Method::POST,
            &format!("/api/boards/threads/{other}/replies"),
            Some(&mentor.access),
            Some(json!({"body": "   "})),
        )
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_post").await;
    let res = app
        .call(
            Method::POST,
            "/api/boards/threads",
            Some(&mentee.access),
            Some(json!({"categoryId": cat, "title": "Hi", "body": "x"})),
        )
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_post").await;
    let res = app
        .call(
            Method::POST,
            "/api/boards/threads",
            Some(&mentee.access),
            Some(json!({"categoryId": uuid::Uuid::new_v4(), "title": "Fine title", "body": "x"})),
        )
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "category_not_found").await;

    let res = app
        .call(
            Method::GET,
            &format!("/api/boards/threads/{thread}"),
            Some(&mentor.access),
            None,
        )
        .await;
    let text = res.text().await.unwrap();
    assert!(!text.contains(&mentee.email) && !text.contains(&mentor.email), "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["thread"]["tags"], json!(["interview", "acme"]));
    assert_eq!(v["thread"]["replyCount"], 2);
    let posts = v["posts"]["items"].as_array().unwrap();
    assert_eq!(posts.len(), 3);
    assert_eq!(posts[0]["id"], question.as_str());
    assert_eq!(posts[0]["isQuestion"], true);
    assert_eq!(posts[0]["bodyHtml"], "<p>For <strong>Acme</strong></p>\n");
    assert_eq!(posts[1]["byMentor"], true);
}

#[actix_web::test]
async fn script_and_event_handlers_in_markdown_are_inert_and_images_are_links() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let mentee = app.register("mentee", "Mia").await;
    let cat = app.category(&admin.access, "placements", "public").await;
    let body = "Hello <script>alert('x')</script>\n\n<img src=x onerror=\"alert(1)\">\n\n\
                <a href=\"#\" onclick=\"alert(2)\">click</a> [js](javascript:alert(3))\n\n\
                ![logo](https://tracker.example.org/pixel.png)";
    let (thread, _) = app.thread(&mentee.access, &cat, "Markdown test", body, &[]).await;
    let v = app
        .expect(Method::GET, &format!("/api/boards/threads/{thread}"), None, None, 200)
        .await;
    let html = v["posts"]["items"][0]["bodyHtml"].as_str().unwrap();
    // No real tag is a script or an image, none has an event handler or a
    // javascript: URL (the raw HTML shows as escaped text).
    for tag in html.split('<').skip(1).map(|t| t.split('>').next().unwrap_or("")) {
        let name = tag.split_whitespace().next().unwrap_or("");
        assert!(!["script", "img"].contains(&name), "<{tag}> in {html}");
        assert!(
            !tag.contains(" on") && !tag.contains("javascript:"),
            "<{tag}> in {html}"
        );
    }
    assert!(html.contains("&lt;img src=x onerror="), "{html}");
    assert!(html.contains("&lt;script&gt;"), "{html}");
    assert!(
        html.contains(
            r#"<a href="https://tracker.example.org/pixel.png" rel="nofollow noopener noreferrer ugc">image: logo</a>"#
        ),
        "{html}"
    );
    // The Markdown is kept as written, for editing.
    assert_eq!(v["posts"]["items"][0]["body"], body);
}

#[actix_web::test]
async fn one_vote_per_user_per_post() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let asker = app.register("mentee", "Asker").await;
    let voter = app.register("mentee", "Voter").await;
    let other = app.register("mentor", "Other").await;
    let cat = app.category(&admin.access, "placements", "public").await;
    let (thread, q) = app.thread(&asker.access, &cat, "Vote on me", "please", &[]).await;
    let vote = |token: String, value: Value| {
        let app = &app;
        let q = q.clone();
        async move {
            app.call(
                Method::POST,
                &format!("/api/boards/posts/{q}/vote"),
                Some(&token),
                Some(json!({"value": value})),
            )
            .await
        }
    };
    for _ in 0..2 {
        let v: Value = vote(voter.access.clone(), json!(1)).await.json().await.unwrap();
        assert_eq!(v["score"], 1, "voting twice counts once");
        assert_eq!(v["myVote"], 1);
    }
    let v: Value = vote(other.access.clone(), json!(1)).await.json().await.unwrap();
    assert_eq!(v["score"], 2);
    let v: Value = vote(voter.access.clone(), json!(-1)).await.json().await.unwrap();
    assert_eq!(v["score"], 0, "a down vote replaces the up vote");
    let v: Value = vote(voter.access.clone(), json!(0)).await.json().await.unwrap();
    assert_eq!(v["score"], 1, "0 clears it");
    assert_eq!(v["myVote"], Value::Null);
    for bad in [json!(2), json!(-5)] {
        assert_error(
            vote(voter.access.clone(), bad).await,
            StatusCode::BAD_REQUEST,
            "invalid_vote",
        )
        .await;
    }
    assert_error(
        vote(voter.access.clone(), json!("up")).await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    )
    .await;
    assert_error(
        vote(asker.access.clone(), json!(1)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // The question's score is the thread's, and what the viewer voted shows.
    let t = app
        .expect(
            Method::GET,
            &format!("/api/boards/threads/{thread}"),
            Some(&other.access),
            None,
            200,
        )
        .await;
    assert_eq!(t["thread"]["score"], 1);
    assert_eq!(t["posts"]["items"][0]["score"], 1);
    assert_eq!(t["posts"]["items"][0]["myVote"], 1);
    let n: i64 = app
        .db
        .query_one("SELECT count(*) FROM board_votes", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}

#[actix_web::test]
async fn only_the_thread_author_accepts_an_answer_and_its_author_is_told_once() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let asker = app.register("mentee", "Asker").await;
    let someone = app.register("mentee", "Someone").await;
    let mentor = app.register("mentor", "Marco").await;
    let cat = app.category(&admin.access, "placements", "public").await;
    let (thread, q) = app.thread(&asker.access, &cat, "Which offer?", "A or B", &[]).await;
    let answer = app.reply(&mentor.access, &thread, "Take B.", None).await;
    let a = answer["id"].as_str().unwrap();
    let path = format!("/api/boards/threads/{thread}/accept");
    for token in [&someone.access, &mentor.access, &admin.access] {
        let res = app
            .call(Method::POST, &path, Some(token), Some(json!({"postId": a})))
            .await;
        assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let res = app
        .call(Method::POST, &path, Some(&asker.access), Some(json!({"postId": q})))
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_post").await;
    let res = app
        .call(
            Method::POST,
            &path,
            Some(&asker.access),
            Some(json!({"postId": uuid::Uuid::new_v4()})),
        )
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "post_not_found").await;

    let mut ws = Ws::connect(&app, &mentor.access).await;
    let v = app
        .expect(
            Method::POST,
            &path,
            Some(&asker.access),
            Some(json!({"postId": a})),
            200,
        )
        .await;
    assert_eq!(v["acceptedPostId"], a);
    assert_eq!(v["answered"], true);
    let live = ws.next_of("notification").await;
    assert_eq!(live["kind"], "board_answer_accepted");
    assert_eq!(live["payload"]["postId"], a);
    // Unaccept, accept again: still one notification.
    app.expect(
        Method::POST,
        &path,
        Some(&asker.access),
        Some(json!({"postId": null})),
        200,
    )
    .await;
    app.expect(
        Method::POST,
        &path,
        Some(&asker.access),
        Some(json!({"postId": a})),
        200,
    )
    .await;
    let notes = app.notifications(&mentor.access).await;
    let accepted: Vec<_> = notes.iter().filter(|n| n["kind"] == "board_answer_accepted").collect();
    assert_eq!(accepted.len(), 1, "{notes:?}");
    let t = app
        .expect(Method::GET, &format!("/api/boards/threads/{thread}"), None, None, 200)
        .await;
    assert_eq!(t["posts"]["items"][1]["accepted"], true);
}

#[actix_web::test]
async fn moderators_lock_hide_move_and_ban_others_may_not_and_all_is_audited() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let asker = app.register("mentee", "Asker").await;
    let troll = app.register("mentee", "Troll").await;
    let moderator = app.register("mentor", "Moderator").await;
    let cat = app.category(&admin.access, "placements", "public").await;
    let elsewhere = app.category(&admin.access, "elsewhere", "public").await;
    let (thread, _) = app.thread(&asker.access, &cat, "Locked soon", "body", &[]).await;
    let moderate = format!("/api/boards/threads/{thread}/moderate");

    // Without the role: refused, for mentees, mentors and the author alike.
    for token in [&asker.access, &troll.access, &moderator.access] {
        let res = app
            .call(Method::POST, &moderate, Some(token), Some(json!({"action": "lock"})))
            .await;
        assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    }
    // Only admins appoint.
    let appoint = format!("/api/boards/categories/{cat}/moderators/{}", moderator.id);
    let res = app.call(Method::PUT, &appoint, Some(&moderator.access), None).await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let v = app.expect(Method::PUT, &appoint, Some(&admin.access), None, 200).await;
    assert_eq!(v["displayName"], "Moderator");
    let cats = app.expect(Method::GET, "/api/boards/categories", None, None, 200).await;
    let mine = cats["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == cat.as_str())
        .unwrap();
    assert_eq!(mine["moderators"][0]["displayName"], "Moderator");

    let res = app
        .call(
            Method::POST,
            &moderate,
            Some(&moderator.access),
            Some(json!({"action": "explode"})),
        )
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_moderation").await;
    let v = app
        .expect(
            Method::POST,
            &moderate,
            Some(&moderator.access),
            Some(json!({"action": "lock", "reason": "heated"})),
            200,
        )
        .await;
    assert_eq!(v["locked"], true);
    // Posting in a locked thread.
    let res = app
        .call(
            Method::POST,
            &format!("/api/boards/threads/{thread}/replies"),
            Some(&troll.access),
            Some(json!({"body": "me too"})),
        )
        .await;
    assert_error(res, StatusCode::CONFLICT, "thread_locked").await;
    let first = app
        .expect(Method::GET, &format!("/api/boards/threads/{thread}"), None, None, 200)
        .await["posts"]["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app
        .call(
            Method::PATCH,
            &format!("/api/boards/posts/{first}"),
            Some(&asker.access),
            Some(json!({"body": "edited"})),
        )
        .await;
    assert_error(res, StatusCode::CONFLICT, "thread_locked").await;
    app.expect(
        Method::POST,
        &moderate,
        Some(&moderator.access),
        Some(json!({"action": "unlock"})),
        200,
    )
    .await;

    // Banned from the board: no thread, no reply, no vote; then unbanned.
    let ban = format!("/api/boards/categories/{cat}/bans/{}", troll.id);
    let res = app.call(Method::PUT, &ban, Some(&asker.access), Some(json!({}))).await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app
        .call(
            Method::PUT,
            &format!("/api/boards/categories/{cat}/bans/{}", moderator.id),
            Some(&moderator.access),
            Some(json!({})),
        )
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_moderation").await;
    app.expect(
        Method::PUT,
        &ban,
        Some(&moderator.access),
        Some(json!({"reason": "spam"})),
        200,
    )
    .await;
    let res = app
        .call(
            Method::POST,
            &format!("/api/boards/threads/{thread}/replies"),
            Some(&troll.access),
            Some(json!({"body": "spam"})),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "banned_from_board").await;
    let res = app
        .call(
            Method::POST,
            "/api/boards/threads",
            Some(&troll.access),
            Some(json!({"categoryId": cat, "title": "Spam spam", "body": "spam"})),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "banned_from_board").await;
    let res = app
        .call(
            Method::POST,
            &format!("/api/boards/posts/{first}/vote"),
            Some(&troll.access),
            Some(json!({"value": -1})),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "banned_from_board").await;
    // Other boards are not affected.
    app.thread(&troll.access, &elsewhere, "Elsewhere fine", "ok", &[]).await;
    app.expect(Method::DELETE, &ban, Some(&moderator.access), None, 204)
        .await;
    app.reply(&troll.access, &thread, "sorry", None).await;

    // Hide: gone for others, shown to moderators.
    app.expect(
        Method::POST,
        &moderate,
        Some(&moderator.access),
        Some(json!({"action": "hide"})),
        200,
    )
    .await;
    let res = app
        .call(
            Method::GET,
            &format!("/api/boards/threads/{thread}"),
            Some(&troll.access),
            None,
        )
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "thread_not_found").await;
    let v = app
        .expect(
            Method::GET,
            &format!("/api/boards/threads/{thread}"),
            Some(&moderator.access),
            None,
            200,
        )
        .await;
    assert_eq!(v["thread"]["hidden"], true);
    assert_eq!(v["thread"]["youModerate"], true);
    app.expect(
        Method::POST,
        &moderate,
        Some(&moderator.access),
        Some(json!({"action": "unhide"})),
        200,
    )
    .await;
    // Move.
    let res = app
        .call(
            Method::POST,
            &moderate,
            Some(&moderator.access),
            Some(json!({"action": "move"})),
        )
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_moderation").await;
    let v = app
        .expect(
            Method::POST,
            &moderate,
            Some(&moderator.access),
            Some(json!({"action": "move", "categoryId": elsewhere})),
            200,
        )
        .await;
    assert_eq!(v["categoryId"], elsewhere.as_str());
    // Moderating the old category no longer reaches it.
    let res = app
        .call(
            Method::POST,
            &moderate,
            Some(&moderator.access),
            Some(json!({"action": "lock"})),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;

    // Every action in the audit log, and the author told of each.
    let audit = app
        .expect(
            Method::GET,
            "/api/admin/audit?limit=100",
            Some(&admin.access),
            None,
            200,
        )
        .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "board_category_created",
        "board_moderator_appointed",
        "board_thread_locked",
        "board_thread_unlocked",
        "board_user_banned",
        "board_user_unbanned",
        "board_thread_hidden",
        "board_thread_unhidden",
        "board_thread_moved",
    ] {
        assert!(actions.contains(&a), "{a} not in {actions:?}");
    }
    let notes = app.notifications(&asker.access).await;
    let moderation = notes.iter().filter(|n| n["kind"] == "board_moderation").count();
    assert_eq!(moderation, 5, "{notes:?}");
}

#[actix_web::test]
async fn flags_queue_for_moderators_and_hiding_answers_them() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let asker = app.register("mentee", "Asker").await;
    let troll = app.register("mentee", "Troll").await;
    let moderator = app.register("mentor", "Moderator").await;
    let cat = app.category(&admin.access, "placements", "public").await;
    app.expect(
        Method::PUT,
        &format!("/api/boards/categories/{cat}/moderators/{}", moderator.id),
        Some(&admin.access),
        None,
        200,
    )
    .await;
    let (thread, _) = app.thread(&asker.access, &cat, "Good question", "body", &[]).await;
    let bad = app.reply(&troll.access, &thread, "rude words", None).await;
    let bad = bad["id"].as_str().unwrap();
    let flag = format!("/api/boards/posts/{bad}/flag");
    let res = app
        .call(Method::POST, &flag, Some(&asker.access), Some(json!({"reason": " "})))
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_moderation").await;
    let first = app
        .expect(
            Method::POST,
            &flag,
            Some(&asker.access),
            Some(json!({"reason": "rude"})),
            201,
        )
        .await;
    let again = app
        .expect(
            Method::POST,
            &flag,
            Some(&asker.access),
            Some(json!({"reason": "very rude"})),
            200,
        )
        .await;
    assert_eq!(first["id"], again["id"], "one open flag per user per post");

    let res = app
        .call(Method::GET, "/api/boards/flags", Some(&asker.access), None)
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let q = app
        .expect(Method::GET, "/api/boards/flags", Some(&moderator.access), None, 200)
        .await;
    assert_eq!(q["items"].as_array().unwrap().len(), 1);
    assert_eq!(q["items"][0]["post"]["id"], bad);
    assert_eq!(q["items"][0]["flaggedBy"]["displayName"], "Asker");

    let res = app
        .call(
            Method::POST,
            &format!("/api/boards/posts/{bad}/moderate"),
            Some(&asker.access),
            Some(json!({"action": "hide"})),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let v = app
        .expect(
            Method::POST,
            &format!("/api/boards/posts/{bad}/moderate"),
            Some(&moderator.access),
            Some(json!({"action": "hide", "reason": "rude"})),
            200,
        )
        .await;
    assert_eq!(v["hidden"], true);
    let q = app
        .expect(Method::GET, "/api/boards/flags", Some(&moderator.access), None, 200)
        .await;
    assert!(q["items"].as_array().unwrap().is_empty(), "hiding answers the flag");
    // Hidden: no text for readers, a 404 to vote on; moderators see it.
    let t = app
        .expect(
            Method::GET,
            &format!("/api/boards/threads/{thread}"),
            Some(&asker.access),
            None,
            200,
        )
        .await;
    assert_eq!(t["posts"]["items"][1]["hidden"], true);
    assert_eq!(t["posts"]["items"][1]["body"], Value::Null);
    assert_eq!(t["posts"]["items"][1]["bodyHtml"], Value::Null);
    let res = app
        .call(
            Method::POST,
            &format!("/api/boards/posts/{bad}/vote"),
            Some(&asker.access),
            Some(json!({"value": -1})),
        )
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "post_not_found").await;
    let t = app
        .expect(
            Method::GET,
            &format!("/api/boards/threads/{thread}"),
            Some(&moderator.access),
            None,
            200,
        )
        .await;
    assert_eq!(t["posts"]["items"][1]["body"], "rude words");

    // A dismissed flag leaves the queue too; dismissing needs the role.
    let other = app.reply(&troll.access, &thread, "meh", None).await;
    let f = app
        .expect(
            Method::POST,
            &format!("/api/boards/posts/{}/flag", other["id"].as_str().unwrap()),
            Some(&asker.access),
            Some(json!({"reason": "meh"})),
            201,
        )
        .await;
    let dismiss = format!("/api/boards/flags/{}/dismiss", f["id"]);
    let res = app.call(Method::POST, &dismiss, Some(&troll.access), None).await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    app.expect(Method::POST, &dismiss, Some(&moderator.access), None, 200)
        .await;
    let res = app.call(Method::POST, &dismiss, Some(&moderator.access), None).await;
    assert_error(res, StatusCode::NOT_FOUND, "flag_not_found").await;

    // Deleting: the author their own, a moderator anyone's (audited).
    let res = app
        .call(
            Method::DELETE,
            &format!("/api/boards/posts/{}", other["id"].as_str().unwrap()),
            Some(&asker.access),
            None,
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    app.expect(
        Method::DELETE,
        &format!("/api/boards/posts/{}", other["id"].as_str().unwrap()),
        Some(&moderator.access),
        None,
        204,
    )
    .await;
    let t = app
        .expect(Method::GET, &format!("/api/boards/threads/{thread}"), None, None, 200)
        .await;
    assert_eq!(t["thread"]["replyCount"], 1);
    assert_eq!(t["posts"]["items"][2]["deleted"], true);
    assert_eq!(t["posts"]["items"][2]["body"], Value::Null);
    let audit = app
        .expect(
            Method::GET,
            "/api/admin/audit?action=board_post_deleted",
            Some(&admin.access),
            None,
            200,
        )
        .await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 1);
    let audit = app
        .expect(
            Method::GET,
            "/api/admin/audit?action=board_post_hidden",
            Some(&admin.access),
            None,
            200,
        )
        .await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 1);
    let first = t["posts"]["items"][0]["id"].as_str().unwrap();
    app.expect(
        Method::DELETE,
        &format!("/api/boards/posts/{first}"),
        Some(&asker.access),
        None,
        204,
    )
    .await;
    let res = app
        .call(Method::GET, &format!("/api/boards/threads/{thread}"), None, None)
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "thread_not_found").await;
}

#[actix_web::test]
async fn edits_keep_their_history_and_only_authors_edit() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let asker = app.register("mentee", "Asker").await;
    let other = app.register("mentee", "Other").await;
    let cat = app.category(&admin.access, "placements", "public").await;
    let (thread, q) = app
        .thread(&asker.access, &cat, "First title", "first body", &["a"])
        .await;
    let path = format!("/api/boards/posts/{q}");
    let res = app
        .call(
            Method::PATCH,
            &path,
            Some(&other.access),
            Some(json!({"body": "mine now"})),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app
        .call(Method::PATCH, &path, Some(&asker.access), Some(json!({})))
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_post").await;
    let v = app
        .expect(
            Method::PATCH,
            &path,
            Some(&asker.access),
            Some(json!({"body": "second *body*"})),
            200,
        )
        .await;
    assert_eq!(v["bodyHtml"], "<p>second <em>body</em></p>\n");
    assert!(v["editedAt"].is_string());
    assert_eq!(v["revisions"], 1);
    app.expect(
        Method::PATCH,
        &path,
        Some(&asker.access),
        Some(json!({"title": "Second title", "tags": ["b"]})),
        200,
    )
    .await;
    let r = app
        .expect(Method::GET, &format!("{path}/revisions"), None, None, 200)
        .await;
    let items = r["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["body"], "first body");
    assert_eq!(items[0]["title"], "First title");
    assert_eq!(items[1]["body"], "second *body*");
    assert_eq!(items[1]["replacedBy"]["displayName"], "Asker");
    let t = app
        .expect(Method::GET, &format!("/api/boards/threads/{thread}"), None, None, 200)
        .await;
    assert_eq!(t["thread"]["title"], "Second title");
    assert_eq!(t["thread"]["tags"], json!(["b"]));
    // A reply has no title.
    let reply = app.reply(&other.access, &thread, "an answer", None).await;
    let res = app
        .call(
            Method::PATCH,
            &format!("/api/boards/posts/{}", reply["id"].as_str().unwrap()),
            Some(&other.access),
            Some(json!({"title": "Nope nope"})),
        )
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_post").await;
    // The search follows the edit.
    let s = app
        .expect(Method::GET, "/api/boards/threads?q=second", None, None, 200)
        .await;
    assert_eq!(s["items"].as_array().unwrap().len(), 1);
    let s = app
        .expect(Method::GET, "/api/boards/threads?q=first", None, None, 200)
        .await;
    assert!(s["items"].as_array().unwrap().is_empty());
}

#[actix_web::test]
async fn search_finds_and_ranks_and_filters_by_tag() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let a = app.register("mentee", "Asker").await;
    let cat = app.category(&admin.access, "placements", "public").await;
    let other_cat = app.category(&admin.access, "other", "public").await;
    let (in_title, _) = app
        .thread(
            &a.access,
            &cat,
            "Kubernetes internship interviews",
            "What do they ask?",
            &["devops"],
        )
        .await;
    let (in_body, _) = app
        .thread(
            &a.access,
            &cat,
            "Summer placement advice",
            "I have a kubernetes question too",
            &[],
        )
        .await;
    let (_unrelated, _) = app
        .thread(
            &a.access,
            &other_cat,
            "Resume formatting",
            "Fonts and margins",
            &["devops"],
        )
        .await;
    let s = app
        .expect(Method::GET, "/api/boards/threads?q=kubernetes", None, None, 200)
        .await;
    let ids: Vec<&str> = s["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![in_title.as_str(), in_body.as_str()],
        "a title match ranks above a body match"
    );
    assert!(s["items"][0]["rank"].as_f64().unwrap() > s["items"][1]["rank"].as_f64().unwrap());
    // Paged by rank: the same order, one at a time.
    let p1 = app
        .expect(Method::GET, "/api/boards/threads?q=kubernetes&limit=1", None, None, 200)
        .await;
    assert_eq!(p1["items"][0]["id"], in_title.as_str());
    let c = p1["nextCursor"].as_str().unwrap();
    let p2 = app
        .expect(
            Method::GET,
            &format!("/api/boards/threads?q=kubernetes&limit=1&cursor={c}"),
            None,
            None,
            200,
        )
        .await;
    assert_eq!(p2["items"][0]["id"], in_body.as_str());
    assert_eq!(p2["nextCursor"], Value::Null);
    // A bad token is refused even where no sign-in is needed.
    let res = app
        .call(Method::GET, "/api/boards/threads", Some("not-a-token"), None)
        .await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
    // Stemming: "interview" finds "interviews".
    let s = app
        .expect(Method::GET, "/api/boards/threads?q=interview", None, None, 200)
        .await;
    assert_eq!(s["items"].as_array().unwrap().len(), 1);
    // Tags and categories.
    let s = app
        .expect(Method::GET, "/api/boards/threads?tag=DevOps", None, None, 200)
        .await;
    assert_eq!(s["items"].as_array().unwrap().len(), 2);
    let s = app
        .expect(
            Method::GET,
            &format!("/api/boards/threads?tag=devops&category={cat}"),
            None,
            None,
            200,
        )
        .await;
    assert_eq!(s["items"].as_array().unwrap().len(), 1);
    let res = app
        .call(Method::GET, "/api/boards/threads?sort=relevance", None, None)
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_query").await;
    let res = app.call(Method::GET, "/api/boards/threads?sort=hot", None, None).await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_query").await;
    let res = app.call(Method::GET, "/api/boards/threads?tag=a%20b", None, None).await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_query").await;
}

/// `sort=relevance` ranks the 1,000 most recently active matches the
/// caller may read (docs/api.md): an older match is not listed however well
/// it matches, a members-only match is listed only to members, a hidden or
/// deleted thread to no one; the other sorts still list every match.
#[actix_web::test]
async fn relevance_ranks_the_newest_thousand_matches_the_caller_may_read() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let a = app.register("mentee", "Asker").await;
    let public = app.category(&admin.access, "placements", "public").await;
    let members = app.category(&admin.access, "members", "members").await;
    let (public, members): (Uuid, Uuid) = (public.parse().unwrap(), members.parse().unwrap());
    // 1,000 recent matches in the body (rows as the server writes them;
    // no first post: the list reads none); a month-old one that matches in
    // its title (it would rank first); and, newer than all of them, title
    // matches in a members-only category, hidden and deleted.
    app.db
        .execute(
            "INSERT INTO board_threads (id, category_id, author_id, title, last_activity_at, search)
             SELECT gen_random_uuid(), $1, $2, 'Bulk question ' || i, now() - make_interval(mins => i),
                    setweight(to_tsvector('english', 'Bulk question'), 'A')
                    || setweight(to_tsvector('english', 'a kafka question in the body'), 'C')
               FROM generate_series(1, 1000) AS i",
            &[&public, &a.id],
        )
        .await
        .unwrap();
    let mut old = Vec::new();
    for (title, cat, hidden, deleted, mins) in [
        ("Kafka Kafka Kafka", public, false, false, 30 * 24 * 60),
        ("Kafka for members", members, false, false, 0),
        ("Kafka hidden", public, true, false, 0),
        ("Kafka deleted", public, false, true, 0),
    ] {
        let id = Uuid::new_v4();
        app.db
            .execute(
                "INSERT INTO board_threads (id, category_id, author_id, title, hidden, deleted_at, last_activity_at,
                                            created_at, search)
                 VALUES ($1, $2, $3, $4, $5, CASE WHEN $6 THEN now() END, now() - make_interval(mins => $7),
                         now() - make_interval(mins => $7), setweight(to_tsvector('english', $4), 'A'))",
                &[&id, &cat, &a.id, &title, &hidden, &deleted, &mins],
            )
            .await
            .unwrap();
        old.push(id.to_string());
    }
    let ids_of = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect()
    };
    // Signed out: 1,000 candidates, every one a body match of the same rank.
    let mut seen = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    let mut last_rank = f64::MAX;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/boards/threads?q=kafka&limit=100&cursor={c}"),
            None => "/api/boards/threads?q=kafka&limit=100".to_owned(),
        };
        let page = app.expect(Method::GET, &path, None, None, 200).await;
        for t in page["items"].as_array().unwrap() {
            let rank = t["rank"].as_f64().unwrap();
            assert!(rank <= last_rank, "ranked best first across pages");
            last_rank = rank;
            assert!(t["title"].as_str().unwrap().starts_with("Bulk question"), "{t}");
        }
        let ids = ids_of(&page);
        assert!(ids.iter().all(|id| seen.insert(id.clone())), "no thread twice");
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 1000, "the 1,000 newest matches, each once");
    // A member: the members-only match is the newest, and ranks first.
    let page = app
        .expect(
            Method::GET,
            "/api/boards/threads?q=kafka&limit=1",
            Some(&a.access),
            None,
            200,
        )
        .await;
    assert_eq!(ids_of(&page), vec![old[1].clone()], "a title match ranks first");
    // The other sorts list every standing match the caller may read.
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/boards/threads?q=kafka&sort=latest&limit=100&cursor={c}"),
            None => "/api/boards/threads?q=kafka&sort=latest&limit=100".to_owned(),
        };
        let page = app.expect(Method::GET, &path, None, None, 200).await;
        all.extend(ids_of(&page));
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(all.len(), 1001, "1,000 recent matches and the old public one");
    assert_eq!(all.last(), Some(&old[0]), "the oldest last");
    assert!(!all.contains(&old[1]) && !all.contains(&old[2]) && !all.contains(&old[3]));
}

#[actix_web::test]
async fn sorts_and_cursors_page_through_every_thread_once() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let a = app.register("mentee", "Asker").await;
    let b = app.register("mentor", "Voter").await;
    let cat = app.category(&admin.access, "placements", "public").await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let (t, q) = app
            .thread(&a.access, &cat, &format!("Thread number {i}"), "body", &[])
            .await;
        ids.push((t, q));
    }
    // Thread 2 gets a reply (latest activity, answered); thread 5 a vote (top).
    app.reply(&b.access, &ids[2].0, "answer", None).await;
    app.expect(
        Method::POST,
        &format!("/api/boards/posts/{}/vote", ids[5].1),
        Some(&b.access),
        Some(json!({"value": 1})),
        200,
    )
    .await;

    async fn all(app: &TestApp, query: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/boards/threads?limit=3&{query}&cursor={c}"),
                None => format!("/api/boards/threads?limit=3&{query}"),
            };
            let v = app.expect(Method::GET, &path, None, None, 200).await;
            let items = v["items"].as_array().unwrap();
            assert!(items.len() <= 3);
            out.extend(items.iter().map(|t| t["id"].as_str().unwrap().to_owned()));
            match v["nextCursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        out
    }
    let latest = all(&app, "sort=latest").await;
    assert_eq!(latest.len(), 7);
    assert_eq!(latest[0], ids[2].0, "the reply made it the latest");
    let mut seen = latest.clone();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 7, "no thread twice");
    let top = all(&app, "sort=top").await;
    assert_eq!(top.len(), 7);
    assert_eq!(top[0], ids[5].0);
    let unanswered = all(&app, "sort=unanswered").await;
    assert_eq!(unanswered.len(), 6);
    assert!(!unanswered.contains(&ids[2].0));

    // A cursor of another sort, or not one of ours.
    let v = app
        .expect(Method::GET, "/api/boards/threads?limit=3&sort=latest", None, None, 200)
        .await;
    let c = v["nextCursor"].as_str().unwrap();
    let res = app
        .call(
            Method::GET,
            &format!("/api/boards/threads?sort=top&cursor={c}"),
            None,
            None,
        )
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_cursor").await;
    let res = app
        .call(Method::GET, "/api/boards/threads?cursor=garbage", None, None)
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_cursor").await;
    let res = app.call(Method::GET, "/api/boards/threads?limit=0", None, None).await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_query").await;

    // A thread's posts page too.
    for i in 0..4 {
        app.reply(&b.access, &ids[0].0, &format!("reply {i}"), None).await;
    }
    let p1 = app
        .expect(
            Method::GET,
            &format!("/api/boards/threads/{}?limit=3", ids[0].0),
            None,
            None,
            200,
        )
        .await;
    assert_eq!(p1["posts"]["items"].as_array().unwrap().len(), 3);
    let c = p1["posts"]["nextCursor"].as_str().unwrap();
    let p2 = app
        .expect(
            Method::GET,
            &format!("/api/boards/threads/{}?limit=3&cursor={c}", ids[0].0),
            None,
            None,
            200,
        )
        .await;
    assert_eq!(p2["posts"]["items"].as_array().unwrap().len(), 2);
    assert_eq!(p2["posts"]["items"][1]["body"], "reply 3");
    assert_eq!(p2["posts"]["nextCursor"], Value::Null);
}

#[actix_web::test]
async fn replies_and_mentions_notify_exactly_once_live_and_stored() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let asker = app.register("mentee", "Ada Lovelace").await;
    let mentor = app.register("mentor", "Marco").await;
    let carol = app.register("mentee", "Carol").await;
    let cat = app.category(&admin.access, "placements", "public").await;
    let (thread, _) = app.thread(&asker.access, &cat, "Ask the mentors", "hello", &[]).await;

    let mut ws = Ws::connect(&app, &asker.access).await;
    // The asker is mentioned in a reply to their own thread: one
    // notification (the reply), not two. Carol is mentioned once.
    let answer = app
        .reply(
            &mentor.access,
            &thread,
            "@AdaLovelace ask @carol, or mail ada@example.org",
            None,
        )
        .await;
    let live = ws.next_of("notification").await;
    assert_eq!(live["kind"], "board_reply");
    assert_eq!(live["payload"]["threadId"], thread.as_str());
    assert_eq!(live["payload"]["by"]["displayName"], "Marco");
    assert_eq!(kinds(&app.notifications(&asker.access).await), vec!["board_reply"]);
    assert_eq!(kinds(&app.notifications(&carol.access).await), vec!["board_mention"]);
    assert!(
        app.notifications(&mentor.access).await.is_empty(),
        "nobody is told of their own post"
    );
    // Editing the reply to mention Carol again does not tell her again.
    let id = answer["id"].as_str().unwrap();
    app.expect(
        Method::PATCH,
        &format!("/api/boards/posts/{id}"),
        Some(&mentor.access),
        Some(json!({"body": "@carol see above, @carol"})),
        200,
    )
    .await;
    assert_eq!(app.notifications(&carol.access).await.len(), 1);
    // A reply to the mentor's reply tells the mentor and the asker, once each.
    app.reply(&carol.access, &thread, "thanks", Some(id)).await;
    assert_eq!(kinds(&app.notifications(&mentor.access).await), vec!["board_reply"]);
    assert_eq!(app.notifications(&asker.access).await.len(), 2);
    let n: i64 = app
        .db
        .query_one("SELECT count(*) FROM notifications", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 4);
}

#[actix_web::test]
async fn notifications_page_count_and_mark_read() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let asker = app.register("mentee", "Asker").await;
    let other = app.register("mentee", "Other").await;
    let cat = app.category(&admin.access, "placements", "public").await;
    let (thread, _) = app.thread(&asker.access, &cat, "Many replies", "hello", &[]).await;
    for i in 0..5 {
        app.reply(&other.access, &thread, &format!("reply {i}"), None).await;
    }
    let count = app
        .expect(
            Method::GET,
            "/api/notifications/unread-count",
            Some(&asker.access),
            None,
            200,
        )
        .await;
    assert_eq!(count["unread"], 5);
    let p1 = app
        .expect(
            Method::GET,
            "/api/notifications?limit=2",
            Some(&asker.access),
            None,
            200,
        )
        .await;
    assert_eq!(p1["items"].as_array().unwrap().len(), 2);
    assert_eq!(p1["unread"], 5);
    let mut seen: Vec<i64> = p1["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_i64().unwrap())
        .collect();
    let mut cursor = p1["nextCursor"].as_str().map(str::to_owned);
    while let Some(c) = cursor {
        let p = app
            .expect(
                Method::GET,
                &format!("/api/notifications?limit=2&cursor={c}"),
                Some(&asker.access),
                None,
                200,
            )
            .await;
        seen.extend(p["items"].as_array().unwrap().iter().map(|n| n["id"].as_i64().unwrap()));
        cursor = p["nextCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen.len(), 5);
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "newest first: {seen:?}");
    let res = app
        .call(Method::GET, "/api/notifications?cursor=x", Some(&asker.access), None)
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_cursor").await;

    // Mark one: only your own.
    let one = seen[0];
    let res = app
        .call(
            Method::POST,
            &format!("/api/notifications/{one}/read"),
            Some(&other.access),
            None,
        )
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "notification_not_found").await;
    let v = app
        .expect(
            Method::POST,
            &format!("/api/notifications/{one}/read"),
            Some(&asker.access),
            None,
            200,
        )
        .await;
    assert_eq!(v["unread"], 4);
    let read_at = v["readAt"].clone();
    let v = app
        .expect(
            Method::POST,
            &format!("/api/notifications/{one}/read"),
            Some(&asker.access),
            None,
            200,
        )
        .await;
    assert_eq!(v["readAt"], read_at, "reading again keeps the first time");
    let unread = app
        .expect(
            Method::GET,
            "/api/notifications?unread=true",
            Some(&asker.access),
            None,
            200,
        )
        .await;
    assert_eq!(unread["items"].as_array().unwrap().len(), 4);
    let v = app
        .expect(
            Method::POST,
            "/api/notifications/read-all",
            Some(&asker.access),
            None,
            200,
        )
        .await;
    assert_eq!(v["updated"], 4);
    let count = app
        .expect(
            Method::GET,
            "/api/notifications/unread-count",
            Some(&asker.access),
            None,
            200,
        )
        .await;
    assert_eq!(count["unread"], 0);
}

#[actix_web::test]
async fn posting_is_rate_limited_per_user() {
    let app = spawn_app_with(|s| s.rate_limit.board_posts_per_user_per_minute = 3).await;
    let admin = app.admin().await;
    let a = app.register("mentee", "Asker").await;
    let b = app.register("mentee", "Other").await;
    let cat = app.category(&admin.access, "placements", "public").await;
    let (thread, _) = app.thread(&a.access, &cat, "Rate limited", "hello", &[]).await;
    app.reply(&a.access, &thread, "one", None).await;
    app.reply(&a.access, &thread, "two", None).await;
    let res = app
        .call(
            Method::POST,
            &format!("/api/boards/threads/{thread}/replies"),
            Some(&a.access),
            Some(json!({"body": "three"})),
        )
        .await;
    assert!(res.headers().get("retry-after").is_some());
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // Another user is not affected.
    app.reply(&b.access, &thread, "mine", None).await;
}

#[actix_web::test]
async fn an_open_thread_updates_live_for_its_watchers() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let asker = app.register("mentee", "Asker").await;
    let mentor = app.register("mentor", "Marco").await;
    let cat = app.category(&admin.access, "placements", "public").await;
    let (thread, q) = app.thread(&asker.access, &cat, "Live question", "hello", &[]).await;

    let mut ws = Ws::connect(&app, &asker.access).await;
    let refused = ws
        .cmd(json!({"type": "watch_thread", "threadId": uuid::Uuid::new_v4()}))
        .await;
    assert_eq!(refused["code"], "thread_not_found", "{refused}");
    let ack = ws.cmd(json!({"type": "watch_thread", "threadId": thread})).await;
    assert_eq!(ack["type"], "ack", "{ack}");

    let answer = app.reply(&mentor.access, &thread, "Here is how.", None).await;
    let ev = ws.next_of("thread_updated").await;
    assert_eq!(ev["threadId"], thread.as_str());
    assert_eq!(ev["change"], "reply");
    assert_eq!(ev["payload"]["id"], answer["id"]);
    assert_eq!(ev["payload"]["byMentor"], true);
    assert_eq!(ev["payload"]["bodyHtml"], "<p>Here is how.</p>\n");

    app.expect(
        Method::POST,
        &format!("/api/boards/posts/{q}/vote"),
        Some(&mentor.access),
        Some(json!({"value": 1})),
        200,
    )
    .await;
    let ev = ws.next_of("thread_updated").await;
    assert_eq!(ev["change"], "vote");
    assert_eq!(ev["payload"], json!({"postId": q, "score": 1}));

    app.expect(
        Method::POST,
        &format!("/api/boards/threads/{thread}/accept"),
        Some(&asker.access),
        Some(json!({"postId": answer["id"]})),
        200,
    )
    .await;
    let ev = ws.next_of("thread_updated").await;
    assert_eq!(ev["change"], "accepted");
    assert_eq!(ev["payload"]["postId"], answer["id"]);
    assert_eq!(ev["payload"]["thread"]["answered"], true);

    // Unwatched: no more.
    let ack = ws.cmd(json!({"type": "unwatch_thread", "threadId": thread})).await;
    assert_eq!(ack["type"], "ack");
    app.reply(&mentor.access, &thread, "One more thing.", None).await;
    ws.quiet("thread_updated", std::time::Duration::from_millis(500)).await;

    // Guests may not watch.
    let room = app
        .expect(
            Method::POST,
            "/api/rooms",
            Some(&mentor.access),
            Some(json!({"name": "Open", "visibility": "public", "allowGuests": true})),
            201,
        )
        .await;
    let guest = app
        .expect(
            Method::POST,
            &format!("/api/rooms/{}/guests", room["id"].as_str().unwrap()),
            None,
            None,
            201,
        )
        .await;
    let mut gws = Ws::connect(&app, guest["accessToken"].as_str().unwrap()).await;
    let refused = gws.cmd(json!({"type": "watch_thread", "threadId": thread})).await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
}

#[actix_web::test]
async fn public_threads_are_server_rendered_pages_in_the_sitemap() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let asker = app.register("mentee", "Asker").await;
    let mentor = app.register("mentor", "Marco").await;
    let public = app.category(&admin.access, "placements", "public").await;
    let members = app.category(&admin.access, "private", "members").await;
    let (thread, _) = app
        .thread(
            &asker.access,
            &public,
            "How to ace the Acme interview?",
            "I have an **interview** next week <script>alert(1)</script>",
            &["acme"],
        )
        .await;
    let answer = app
        .reply(&mentor.access, &thread, "Practise *system design*.", None)
        .await;
    app.expect(
        Method::POST,
        &format!("/api/boards/threads/{thread}/accept"),
        Some(&asker.access),
        Some(json!({"postId": answer["id"]})),
        200,
    )
    .await;
    let (hidden_away, _) = app
        .thread(&asker.access, &members, "Members only thread", "secret", &[])
        .await;

    let res = app
        .http
        .get(app.url(&format!("/boards/threads/{thread}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("<title>How to ace the Acme interview? · Lyceum</title>"),
        "{html}"
    );
    assert!(
        html.contains(r#"<meta name="description" content="I have an interview next week"#),
        "{html}"
    );
    assert!(html.contains(&format!(r#"<link rel="canonical" href="/boards/threads/{thread}">"#)));
    assert!(
        html.contains(r#""@type":"QAPage""#) && html.contains(r#""acceptedAnswer""#),
        "{html}"
    );
    assert!(html.contains("<p>Practise <em>system design</em>.</p>"), "{html}");
    assert!(html.contains("Accepted answer") && html.contains("Mentor"));
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains(&asker.email) && !html.contains(&mentor.email));

    let list = app.http.get(app.url("/boards?q=acme")).send().await.unwrap();
    assert_eq!(list.status(), 200);
    let list = list.text().await.unwrap();
    assert!(list.contains(&format!("/boards/threads/{thread}")), "{list}");

    let res = app
        .http
        .get(app.url(&format!("/boards/threads/{hidden_away}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let sitemap = app.sitemap().await;
    assert!(
        sitemap.contains(&format!("/boards/threads/{thread}</loc>")),
        "{sitemap}"
    );
    assert!(!sitemap.contains(&hidden_away), "{sitemap}");
}

#[actix_web::test]
async fn board_notifications_are_emailed_when_the_preference_allows() {
    let (smtp_port, mails) = crate::calendar::smtp_sink().await;
    let smtp = format!("smtp://127.0.0.1:{smtp_port}");
    let app = spawn_app_with(|s| {
        s.reminders.poll_ms = 100;
        s.smtp.url = Some(secrecy::SecretString::from(smtp.clone()));
    })
    .await;
    let admin = app.admin().await;
    let asker = app.register("mentee", "Asker").await;
    let quiet = app.register("mentee", "Quiet").await;
    let mentor = app.register("mentor", "Marco").await;
    let cat = app.category(&admin.access, "placements", "public").await;

    // Preferences: every kind, email on until turned off; unknown kinds refused.
    let p = app
        .expect(
            Method::GET,
            "/api/me/notification-preferences",
            Some(&quiet.access),
            None,
            200,
        )
        .await;
    assert_eq!(
        p["items"].as_array().unwrap().len(),
        16,
        "the boards' kinds, direct messages, reminders, issue 17's and the bookings'"
    );
    assert!(p["items"].as_array().unwrap().iter().all(|i| i["email"] == true), "{p}");
    let res = app
        .call(
            Method::PUT,
            "/api/me/notification-preferences",
            Some(&quiet.access),
            Some(json!({"email": {"spam": false}})),
        )
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_preferences").await;
    let p = app
        .expect(
            Method::PUT,
            "/api/me/notification-preferences",
            Some(&quiet.access),
            Some(json!({"email": {"board_reply": false}})),
            200,
        )
        .await;
    let reply_pref = p["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "board_reply")
        .unwrap()
        .clone();
    assert_eq!(reply_pref["email"], false);

    let (t1, _) = app.thread(&asker.access, &cat, "Emailed question", "hello", &[]).await;
    let (t2, _) = app.thread(&quiet.access, &cat, "Quiet question", "hello", &[]).await;
    app.reply(&mentor.access, &t1, "An answer", None).await;
    app.reply(&mentor.access, &t2, "An answer", None).await;

    let asker_to = asker.email.to_lowercase();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let got = mails
            .lock()
            .unwrap()
            .iter()
            .any(|m| m.to_lowercase().contains(&asker_to));
        if got {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no email for the asker");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let all = mails.lock().unwrap().clone();
    let mine: Vec<&String> = all.iter().filter(|m| m.to_lowercase().contains(&asker_to)).collect();
    assert_eq!(mine.len(), 1, "{all:?}");
    assert!(mine[0].contains("Marco replied in"), "{}", mine[0]);
    // Both were notified in the app; only the asker by email.
    assert_eq!(app.notifications(&quiet.access).await.len(), 1);
    let quiet_to = quiet.email.to_lowercase();
    assert!(!all.iter().any(|m| m.to_lowercase().contains(&quiet_to)), "{all:?}");
    let jobs: i64 = app
        .db
        .query_one("SELECT count(*) FROM outbox WHERE kind = 'email'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(jobs, 1);
}

#[actix_web::test]
async fn the_notifications_page_says_board_events_in_words() {
    use crate::pages::{browser, get_page, sign_up};
    let app = spawn_app().await;
    let admin = app.admin().await;
    let mentor = app.register("mentor", "Marco").await;
    let cat = app.category(&admin.access, "placements", "public").await;
    // The asker signs up by form: the client holds the page session.
    let b = browser();
    let email = sign_up(&b, &app, "mentee", "Asker").await;
    let asker = app.login(&email).await;
    let (thread, _) = app.thread(&asker.access, &cat, "Worded question", "hello", &[]).await;
    app.reply(&mentor.access, &thread, "An answer", None).await;
    let (status, html) = get_page(&b, &app, "/notifications").await;
    assert_eq!(status, 200);
    assert!(
        html.contains(&format!(
            r#"Marco replied in <a href="/boards/threads/{thread}">Worded question</a>"#
        )),
        "{html}"
    );
}

#[actix_web::test]
async fn a_long_threads_page_links_to_its_later_replies() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let public = app.category(&admin.access, "placements", "public").await;
    let asker = app.register("mentee", "Asha Asker").await;
    let (thread, _) = app
        .thread(&asker.access, &public, "Placement stories", "Tell us yours.", &[])
        .await;
    // 150 replies, written as the server writes them (the posting rate limit
    // would take minutes through the API).
    let id: uuid::Uuid = thread.parse().unwrap();
    app.db
        .execute(
            "INSERT INTO board_posts (id, thread_id, author_id, body, body_html, created_at)
             SELECT gen_random_uuid(), $1, $2, 'Reply ' || i, '<p>Reply number ' || i || '</p>',
                    now() + make_interval(secs => i)
               FROM generate_series(1, 150) AS i ORDER BY i",
            &[&id, &asker.id],
        )
        .await
        .unwrap();
    app.db
        .execute("UPDATE board_threads SET reply_count = 150 WHERE id = $1", &[&id])
        .await
        .unwrap();
    let a = &app;
    let get = move |path: String| async move {
        let res = a.http.get(a.url(&path)).send().await.unwrap();
        (res.status(), res.text().await.unwrap())
    };
    let (status, first) = get(format!("/boards/threads/{thread}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(first.contains("Tell us yours."), "the question on the first page");
    assert!(first.contains("150 answers"), "the thread's count, not the page's");
    assert!(first.contains("Reply number 99<"), "the first 99 replies");
    assert!(!first.contains("Reply number 100<"));
    assert!(first.contains("application/ld+json"));
    let next = first
        .split(r#"<nav class="pager" aria-label="Replies"><a href=""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a Later replies link")
        .replace("&amp;", "&");
    let (status, later) = get(next).await;
    assert_eq!(status, StatusCode::OK);
    assert!(later.contains("Later replies"));
    assert!(later.contains("Reply number 100<") && later.contains("Reply number 150<"));
    assert!(!later.contains("Reply number 99<"));
    assert!(
        !later.contains("Tell us yours."),
        "the question is on the first page only"
    );
    assert!(later.contains("Back to the question"));
    assert!(!later.contains("application/ld+json"), "one QAPage per thread");
    assert!(!later.contains(r#"aria-label="Replies""#), "no link past the last page");
    // A cursor the page did not make: no such page.
    let (status, _) = get(format!("/boards/threads/{thread}?cursor=nonsense")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The audit log's actions with their subjects, newest last.
async fn audited(app: &TestApp, action: &str) -> i64 {
    app.db
        .query_one("SELECT count(*) FROM audit_log WHERE action = $1", &[&action])
        .await
        .unwrap()
        .get(0)
}

#[actix_web::test]
async fn a_new_accounts_first_posts_are_held_until_a_moderator_decides() {
    let app = spawn_app_with(|s| s.boards.hold_first_posts = 2).await;
    let admin = app.admin().await;
    let newbie = app.register("mentee", "Nina Newbie").await;
    let reader = app.register("mentee", "Rita Reader").await;
    let moe = app.register("mentor", "Moe Moderator").await;
    let cat = app.category(&admin.access, "placements", "public").await;
    app.expect(
        Method::PUT,
        &format!("/api/boards/categories/{cat}/moderators/{}", moe.id),
        Some(&admin.access),
        None,
        200,
    )
    .await;

    // Held: the author sees it, marked; nobody else does, nor any list.
    let v = app
        .expect(
            Method::POST,
            "/api/boards/threads",
            Some(&newbie.access),
            Some(json!({"categoryId": cat, "title": "Is my CV ok?", "body": "Hello @RitaReader", "tags": []})),
            201,
        )
        .await;
    assert_eq!(v["thread"]["held"], true, "{v}");
    assert_eq!(v["posts"]["items"][0]["held"], true, "{v}");
    assert_eq!(v["posts"]["items"][0]["body"], "Hello @RitaReader");
    let thread = v["thread"]["id"].as_str().unwrap().to_owned();
    let question = v["posts"]["items"][0]["id"].as_str().unwrap().to_owned();
    for token in [Some(reader.access.as_str()), None] {
        let res = app
            .call(Method::GET, &format!("/api/boards/threads/{thread}"), token, None)
            .await;
        assert_error(res, StatusCode::NOT_FOUND, "thread_not_found").await;
    }
    let list = app
        .expect(Method::GET, "/api/boards/threads", Some(&reader.access), None, 200)
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "{list}");
    let own = app
        .expect(
            Method::GET,
            &format!("/api/boards/threads/{thread}"),
            Some(&newbie.access),
            None,
            200,
        )
        .await;
    assert_eq!(own["thread"]["held"], true);
    // Nobody was told of the mention yet.
    assert!(app.notifications(&reader.access).await.is_empty());

    // The review queue: moderators and admins only.
    let res = app
        .call(Method::GET, "/api/boards/held", Some(&reader.access), None)
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let q = app
        .expect(Method::GET, "/api/boards/held", Some(&moe.access), None, 200)
        .await;
    let items = q["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{q}");
    assert_eq!(items[0]["id"], question.as_str());
    assert_eq!(items[0]["isQuestion"], true);
    assert_eq!(items[0]["author"]["displayName"], "Nina Newbie");
    let review = format!("/api/boards/posts/{question}/review");
    let res = app
        .call(
            Method::POST,
            &review,
            Some(&reader.access),
            Some(json!({"decision": "approve"})),
        )
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "post_not_found").await;
    let res = app
        .call(
            Method::POST,
            &review,
            Some(&newbie.access),
            Some(json!({"decision": "approve"})),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app
        .call(
            Method::POST,
            &review,
            Some(&moe.access),
            Some(json!({"decision": "maybe"})),
        )
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_moderation").await;

    // Approved: published, audited, the author and the mentioned told.
    let p = app
        .expect(
            Method::POST,
            &review,
            Some(&moe.access),
            Some(json!({"decision": "approve"})),
            200,
        )
        .await;
    assert_eq!(p["held"], false, "{p}");
    assert_eq!(audited(&app, "board_post_approved").await, 1);
    app.expect(Method::GET, &format!("/api/boards/threads/{thread}"), None, None, 200)
        .await;
    let list = app.expect(Method::GET, "/api/boards/threads", None, None, 200).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let told = app.notifications(&newbie.access).await;
    assert_eq!(kinds(&told), ["board_moderation"]);
    assert_eq!(told[0]["payload"]["action"], "board_post_approved");
    assert_eq!(kinds(&app.notifications(&reader.access).await), ["board_mention"]);
    let res = app
        .call(
            Method::POST,
            &review,
            Some(&moe.access),
            Some(json!({"decision": "approve"})),
        )
        .await;
    assert_error(res, StatusCode::CONFLICT, "post_not_held").await;

    // A moderator's own posts are never held; the newbie's reply still is
    // (one of two published), hidden from the others and not counted.
    let (other, _) = app.thread(&moe.access, &cat, "Moe's question", "Ask away", &[]).await;
    let held = app.reply(&newbie.access, &other, "A held reply", None).await;
    assert_eq!(held["held"], true, "{held}");
    let seen = app
        .expect(
            Method::GET,
            &format!("/api/boards/threads/{other}"),
            Some(&reader.access),
            None,
            200,
        )
        .await;
    assert_eq!(seen["posts"]["items"].as_array().unwrap().len(), 1, "{seen}");
    assert_eq!(seen["thread"]["replyCount"], 0);
    let mine = app
        .expect(
            Method::GET,
            &format!("/api/boards/threads/{other}"),
            Some(&newbie.access),
            None,
            200,
        )
        .await;
    assert_eq!(mine["posts"]["items"].as_array().unwrap().len(), 2, "{mine}");
    assert_eq!(mine["posts"]["items"][1]["held"], true);
    let res = app
        .call(
            Method::POST,
            &format!("/api/boards/posts/{}/vote", held["id"].as_str().unwrap()),
            Some(&reader.access),
            Some(json!({"value": 1})),
        )
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "post_not_found").await;
    assert!(
        app.notifications(&moe.access).await.is_empty(),
        "nobody is told of a held reply"
    );

    // Rejected: deleted, audited, the author told why.
    let r = app
        .expect(
            Method::POST,
            &format!("/api/boards/posts/{}/review", held["id"].as_str().unwrap()),
            Some(&moe.access),
            Some(json!({"decision": "reject", "reason": "Off topic"})),
            200,
        )
        .await;
    assert_eq!(r["deleted"], true, "{r}");
    assert_eq!(audited(&app, "board_post_rejected").await, 1);
    let told = app.notifications(&newbie.access).await;
    assert_eq!(told[0]["payload"]["action"], "board_post_rejected");
    assert_eq!(told[0]["payload"]["reason"], "Off topic");

    // Held again (a rejection publishes nothing); approved, it is counted
    // and the thread's author is told of the reply then.
    let again = app.reply(&newbie.access, &other, "A better reply", None).await;
    assert_eq!(again["held"], true);
    app.expect(
        Method::POST,
        &format!("/api/boards/posts/{}/review", again["id"].as_str().unwrap()),
        Some(&admin.access),
        Some(json!({"decision": "approve"})),
        200,
    )
    .await;
    let seen = app
        .expect(
            Method::GET,
            &format!("/api/boards/threads/{other}"),
            Some(&reader.access),
            None,
            200,
        )
        .await;
    assert_eq!(seen["thread"]["replyCount"], 1);
    assert_eq!(kinds(&app.notifications(&moe.access).await), ["board_reply"]);
    // Two published now: the next post goes straight out.
    let free = app.reply(&newbie.access, &other, "Straight out", None).await;
    assert_eq!(free["held"], false);
    let q = app
        .expect(Method::GET, "/api/boards/held", Some(&admin.access), None, 200)
        .await;
    assert!(q["items"].as_array().unwrap().is_empty(), "{q}");
}

/// An email's text as sent: quoted-printable decoded in one pass (soft
/// breaks dropped, `=XX` to its byte). One pass matters: replacing `=3D`
/// first and `=20` after turned `u=3D20…` (a link whose id starts with 20)
/// into `u= …`.
pub(crate) fn unfold(mail: &str) -> String {
    let b = mail.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' {
            if b[i + 1..].starts_with(b"\r\n") {
                i += 3;
                continue;
            }
            if b[i + 1..].starts_with(b"\n") {
                i += 2;
                continue;
            }
            if let (Some(h), Some(l)) = (b.get(i + 1).and_then(|&c| hex(c)), b.get(i + 2).and_then(|&c| hex(c))) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn unfold_decodes_quoted_printable_in_one_pass() {
    assert_eq!(
        unfold("a?u=3D20ab=\r\ncd =E2=80=94 x=20\r\ny"),
        "a?u=20abcd \u{2014} x \r\ny"
    );
    assert_eq!(unfold("end="), "end=");
}

/// The first `http…/unsubscribe?…` link in a text.
fn unsubscribe_link(text: &str) -> String {
    let start = text
        .find("http")
        .and_then(|_| text.find("/unsubscribe?"))
        .expect("an unsubscribe link");
    let begin = text[..start].rfind("http").unwrap();
    text[begin..]
        .split(|c: char| c.is_whitespace())
        .next()
        .unwrap()
        .to_owned()
}

async fn wait_mails(mails: &std::sync::Arc<std::sync::Mutex<Vec<String>>>, to: &str, n: usize) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let mine: Vec<String> = mails
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.to_lowercase().contains(&to.to_lowercase()))
            .cloned()
            .collect();
        if mine.len() >= n {
            return mine;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{n} email(s) to {to}: got {mine:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn say_over_http(app: &TestApp, token: &str, room: &str, body: &str) {
    let res = app
        .call(
            Method::POST,
            &format!("/api/rooms/{room}/messages"),
            Some(token),
            Some(json!({"body": body, "clientMsgId": uuid::Uuid::new_v4().to_string()})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text().await.unwrap());
}

#[actix_web::test]
async fn notifications_of_offline_direct_messages_are_one_digest_email_with_a_signed_unsubscribe_link() {
    let (smtp_port, mails) = crate::calendar::smtp_sink().await;
    let smtp = format!("smtp://127.0.0.1:{smtp_port}");
    let app = spawn_app_with(|s| {
        s.reminders.poll_ms = 100;
        s.smtp.url = Some(secrecy::SecretString::from(smtp.clone()));
        s.notifications.digest_delay_secs = 2;
    })
    .await;
    let mentor = app.register("mentor", "Marco Mentor").await;
    let away = app.register("mentee", "Ada Away").await;
    let here = app.register("mentee", "Hugo Here").await;
    let room: Value = app.open_dm(&mentor.access, away.id).await.json().await.unwrap();
    let room = room["id"].as_str().unwrap().to_owned();
    let room2: Value = app.open_dm(&mentor.access, here.id).await.json().await.unwrap();
    let room2 = room2["id"].as_str().unwrap().to_owned();

    // Hugo is connected: his message is no notification.
    let mut hugo = Ws::connect(&app, &here.access).await;
    say_over_http(&app, &mentor.access, &room2, "Hugo, you there?").await;
    // Ada is not: three messages, three notifications, one digest.
    for text in ["Hi Ada", "About your CV", "Call me"] {
        say_over_http(&app, &mentor.access, &room, text).await;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let told = loop {
        let told = app.notifications(&away.access).await;
        if told.len() == 3 || std::time::Instant::now() > deadline {
            break told;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(kinds(&told), ["direct_message"; 3], "{told:?}");
    assert_eq!(told[0]["payload"]["by"]["displayName"], "Marco Mentor");
    assert_eq!(told[0]["payload"]["roomId"], room.as_str());
    let digests: i64 = app
        .db
        .query_one("SELECT count(*) FROM outbox WHERE kind = 'dm_digest'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(digests, 1, "several messages in the window join one digest");

    let mine = wait_mails(&mails, &away.email, 1).await;
    // Nothing else comes for this window, and nothing for Hugo.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let all = mails.lock().unwrap().clone();
    let to_ada: Vec<&String> = all
        .iter()
        .filter(|m| m.to_lowercase().contains(&away.email.to_lowercase()))
        .collect();
    assert_eq!(to_ada.len(), 1, "{all:?}");
    assert!(
        !all.iter()
            .any(|m| m.to_lowercase().contains(&here.email.to_lowercase())),
        "{all:?}"
    );
    assert!(app.notifications(&here.access).await.is_empty());
    hugo.quiet("notification", std::time::Duration::from_millis(100)).await;
    let text = unfold(&mine[0]);
    assert!(text.contains("3 new messages on Lyceum"), "{text}");
    assert!(text.contains("- Marco Mentor: 3 messages"), "{text}");

    // A message read before its digest is due is not emailed: the digest
    // finds nothing unread and sends nothing.
    say_over_http(&app, &mentor.access, &room, "Still there?").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.notifications(&away.access).await.len() < 4 {
        assert!(std::time::Instant::now() < deadline, "the fourth notification");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    app.expect(
        Method::POST,
        "/api/notifications/read-all",
        Some(&away.access),
        None,
        200,
    )
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let done: Option<String> = app
            .db
            .query_opt(
                "SELECT last_error FROM outbox WHERE kind = 'dm_digest' AND sent_at IS NOT NULL ORDER BY id DESC LIMIT 1 OFFSET 0",
                &[],
            )
            .await
            .unwrap()
            .and_then(|r| r.get(0));
        if done.as_deref() == Some("nothing unread") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the second digest ran: {done:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let to_ada = mails
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m.to_lowercase().contains(&away.email.to_lowercase()))
        .count();
    assert_eq!(to_ada, 1, "nothing unread, nothing sent");

    // The signed link works without signing in.
    let link = unsubscribe_link(&text);
    assert!(link.starts_with(&app.address), "{link}");
    assert!(
        link.contains(&format!("u={}", away.id)) && link.contains("k=direct_message"),
        "{link}"
    );
    let anon = crate::pages::browser();
    let res = anon.get(&link).header("accept", "text/html").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("Stop emails about direct messages you receive while you are away"),
        "{page}"
    );

    // Tampered links are refused, whatever was changed, and change nothing.
    let sig_at = link.find("s=").unwrap() + 2;
    let mut flipped = link.clone().into_bytes();
    flipped[sig_at] = if flipped[sig_at] == b'0' { b'1' } else { b'0' };
    let flipped = String::from_utf8(flipped).unwrap();
    let other_kind = link.replace("k=direct_message", "k=board_reply");
    let other_user = link.replace(&away.id.to_string(), &here.id.to_string());
    let cut = link[..link.find("&s=").unwrap()].to_owned();
    for bad in [&flipped, &other_kind, &other_user, &cut] {
        for method in [Method::GET, Method::POST] {
            let res = anon
                .request(method.clone(), bad)
                .header("accept", "text/html")
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{method} {bad}");
            let page = res.text().await.unwrap();
            assert!(page.contains("This unsubscribe link is not valid"), "{page}");
            // A program (no text/html in Accept) gets the API's error.
            let res = anon.request(method.clone(), bad).send().await.unwrap();
            assert_error(res, StatusCode::BAD_REQUEST, "invalid_unsubscribe_link").await;
        }
    }
    let wanted = |v: &Value, kind: &str| {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["kind"] == kind)
            .unwrap()["email"]
            .clone()
    };
    let p = app
        .expect(
            Method::GET,
            "/api/me/notification-preferences",
            Some(&away.access),
            None,
            200,
        )
        .await;
    assert_eq!(wanted(&p, "direct_message"), true);

    // The good link's POST turns that kind off, and only that kind.
    let res = anon.post(&link).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("You will no longer get emails about direct messages"),
        "{page}"
    );
    let p = app
        .expect(
            Method::GET,
            "/api/me/notification-preferences",
            Some(&away.access),
            None,
            200,
        )
        .await;
    assert_eq!(wanted(&p, "direct_message"), false);
    assert_eq!(wanted(&p, "board_reply"), true);

    // Off: more offline messages are notifications, and no digest waits.
    say_over_http(&app, &mentor.access, &room, "One more").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.notifications(&away.access).await.len() < 5 {
        assert!(std::time::Instant::now() < deadline, "the fourth notification");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let pending: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM outbox WHERE kind = 'dm_digest' AND sent_at IS NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(pending, 0);

    // Board emails carry their own kind's signed link and an absolute address.
    let admin = app.admin().await;
    let cat = app.category(&admin.access, "placements", "public").await;
    let (thread, _) = app.thread(&away.access, &cat, "Emailed question", "hello", &[]).await;
    app.reply(&mentor.access, &thread, "An answer", None).await;
    let mine = wait_mails(&mails, &away.email, 2).await;
    let text = unfold(mine.iter().find(|m| m.contains("replied in")).unwrap());
    assert!(
        text.contains(&format!("{}/boards/threads/{thread}", app.address)),
        "{text}"
    );
    let link = unsubscribe_link(&text);
    assert!(link.contains("k=board_reply"), "{link}");
    assert_eq!(anon.get(&link).send().await.unwrap().status(), StatusCode::OK);
}

/// Where a form's answer sends the browser.
fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Posts a page form with the page's CSRF token; the answer (a redirect).
async fn form(
    b: &reqwest::Client,
    app: &TestApp,
    page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let (_, html) = crate::pages::get_page(b, app, page).await;
    let csrf = crate::pages::csrf_of(&html);
    let mut all: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    b.post(app.url(action)).form(&all).send().await.unwrap()
}

#[actix_web::test]
async fn the_board_pages_ask_answer_vote_accept_flag_and_edit_by_form_and_say_why_not() {
    use crate::pages::{browser, get_page, sign_up};
    let app = spawn_app().await;
    let admin = app.admin().await;
    let cat = app.category(&admin.access, "placements", "public").await;
    let asker_b = browser();
    let asker_email = sign_up(&asker_b, &app, "mentee", "Asha Asker").await;
    let asker = app.login(&asker_email).await;
    let mentor_b = browser();
    let mentor_email = sign_up(&mentor_b, &app, "mentor", "Mia Mentor").await;
    let mentor = app.login(&mentor_email).await;

    // Ask on /boards.
    let (_, html) = get_page(&asker_b, &app, "/boards").await;
    assert!(
        html.contains(r#"<form method="post" action="/boards/threads">"#),
        "{html}"
    );
    let res = form(
        &asker_b,
        &app,
        "/boards",
        "/boards/threads",
        &[
            ("categoryId", &cat),
            ("title", "How do I prepare for a system design round?"),
            ("body", "Any **tips**?"),
            ("tags", "interviews, system-design"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = location(&res);
    assert!(to.ends_with("?done=asked"), "{to}");
    let thread = to
        .trim_start_matches("/boards/threads/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let page = format!("/boards/threads/{thread}");
    let (status, html) = get_page(&asker_b, &app, &to).await;
    assert_eq!(status, 200);
    assert!(html.contains("Your question is on the board."), "{html}");
    let v = app
        .expect(Method::GET, &format!("/api/boards/threads/{thread}"), None, None, 200)
        .await;
    assert_eq!(v["thread"]["tags"], json!(["interviews", "system-design"]));
    // A refused question comes back in words, to the form.
    let res = form(
        &asker_b,
        &app,
        "/boards",
        "/boards/threads",
        &[("categoryId", &cat), ("title", "Hi"), ("body", "x")],
    )
    .await;
    let to = location(&res);
    assert!(to.starts_with("/boards?error=") && to.ends_with("#ask"), "{to}");
    let (_, html) = get_page(&asker_b, &app, &to).await;
    assert!(html.contains("A title has 3 to 200 characters"), "{html}");

    // The mentor answers on the thread's page.
    let res = form(
        &mentor_b,
        &app,
        &page,
        &format!("{page}/replies"),
        &[("body", "Practise *out loud*.")],
    )
    .await;
    let to = location(&res);
    assert!(to.contains("?done=answered#post-"), "{to}");
    let answer = to.split("#post-").nth(1).unwrap().to_owned();
    // An empty answer is refused in words, back at the answer form.
    let res = form(&mentor_b, &app, &page, &format!("{page}/replies"), &[("body", "   ")]).await;
    let to = location(&res);
    assert!(to.contains("?error=") && to.ends_with("#answer"), "{to}");
    // Without the CSRF field: refused.
    let res = mentor_b
        .post(app.url(&format!("{page}/replies")))
        .form(&[("body", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // The asker sees controls named for whose post they act on.
    let (_, html) = get_page(&asker_b, &app, &page).await;
    for name in [
        "Vote for Mia Mentor",
        "Vote against Mia Mentor",
        "Accept Mia Mentor",
        "Flag Mia Mentor",
        "Reply to Mia Mentor",
        "Edit your question",
    ] {
        assert!(html.contains(name), "{name}: {html}");
    }
    assert!(!html.contains("Vote for Asha Asker"), "no vote on one's own question");
    // Votes: twice counts once; accept.
    let vote = format!("{page}/posts/{answer}/vote");
    for _ in 0..2 {
        let res = form(&asker_b, &app, &page, &vote, &[("value", "1")]).await;
        assert!(location(&res).contains("done=voted"), "{}", location(&res));
    }
    let res = form(&asker_b, &app, &page, &format!("{page}/accept"), &[("postId", &answer)]).await;
    assert!(location(&res).contains("done=accepted"), "{}", location(&res));
    let v = app
        .expect(Method::GET, &format!("/api/boards/threads/{thread}"), None, None, 200)
        .await;
    assert_eq!(v["posts"]["items"][1]["score"], 1);
    assert_eq!(v["thread"]["acceptedPostId"], answer.as_str());
    let (_, html) = get_page(&asker_b, &app, &page).await;
    assert!(html.contains("Withdraw my vote for Mia Mentor"), "{html}");
    assert!(html.contains("Withdraw acceptance of Mia Mentor"), "{html}");
    // Only the thread's author accepts: the mentor's try is refused in words.
    let res = form(
        &mentor_b,
        &app,
        &page,
        &format!("{page}/accept"),
        &[("postId", &answer)],
    )
    .await;
    let to = location(&res);
    assert!(to.contains("error="), "{to}");
    let (_, html) = get_page(&mentor_b, &app, &to).await;
    assert!(
        html.contains("Only the thread") && html.contains("role=\"alert\""),
        "{html}"
    );

    // The mentor flags the question, replies to the asker's... and edits her answer.
    let question = v["posts"]["items"][0]["id"].as_str().unwrap().to_owned();
    let res = form(
        &mentor_b,
        &app,
        &page,
        &format!("{page}/posts/{question}/flag"),
        &[("reason", "Duplicate")],
    )
    .await;
    assert!(location(&res).contains("done=flagged"), "{}", location(&res));
    let flags: i64 = app
        .db
        .query_one("SELECT count(*) FROM board_flags", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(flags, 1);
    let res = form(
        &mentor_b,
        &app,
        &page,
        &format!("{page}/posts/{answer}/edit"),
        &[("body", "Practise *out loud*, daily.")],
    )
    .await;
    assert!(location(&res).contains("done=edited"), "{}", location(&res));
    let res = form(
        &asker_b,
        &app,
        &page,
        &format!("{page}/replies"),
        &[("body", "Thanks!"), ("parentId", &answer)],
    )
    .await;
    assert!(location(&res).contains("done=answered"), "{}", location(&res));
    let v = app
        .expect(Method::GET, &format!("/api/boards/threads/{thread}"), None, None, 200)
        .await;
    assert_eq!(v["posts"]["items"][1]["body"], "Practise *out loud*, daily.");
    assert_eq!(v["posts"]["items"][2]["parentId"], answer.as_str());
    let (_, html) = get_page(&asker_b, &app, &page).await;
    assert!(html.contains("in reply to Mia Mentor"), "{html}");
    // Someone else's post has no edit form; editing it anyway is refused.
    let res = form(
        &asker_b,
        &app,
        &page,
        &format!("{page}/posts/{answer}/edit"),
        &[("body", "mine now")],
    )
    .await;
    assert!(location(&res).contains("error="), "{}", location(&res));

    // Signed out: why not, and where to sign in.
    let anon = browser();
    let (_, html) = get_page(&anon, &app, &page).await;
    assert!(
        html.contains("Sign in to answer") && !html.contains("answer-body"),
        "{html}"
    );
    let (_, html) = get_page(&anon, &app, "/boards").await;
    assert!(html.contains("Sign in to ask a question"), "{html}");
    let res = form(&anon, &app, &page, &format!("{page}/replies"), &[("body", "hi")]).await;
    assert!(location(&res).starts_with("/signin?next="), "{}", location(&res));

    // Locked: the page says so instead of the form; a post is refused.
    app.expect(
        Method::POST,
        &format!("/api/boards/threads/{thread}/moderate"),
        Some(&admin.access),
        Some(json!({"action": "lock"})),
        200,
    )
    .await;
    let (_, html) = get_page(&mentor_b, &app, &page).await;
    assert!(
        html.contains("This thread is locked by a moderator") && !html.contains("answer-body"),
        "{html}"
    );
    // Votes and flags stay open in a locked thread, replies and edits do not.
    assert!(
        html.contains("Vote for Asha Asker") && html.contains("Flag Asha Asker"),
        "{html}"
    );
    assert!(
        !html.contains("Reply to Asha") && !html.contains("Edit your post"),
        "{html}"
    );
    let res = form(&mentor_b, &app, &page, &format!("{page}/replies"), &[("body", "late")]).await;
    assert!(location(&res).contains("error="), "{}", location(&res));
    app.expect(
        Method::POST,
        &format!("/api/boards/threads/{thread}/moderate"),
        Some(&admin.access),
        Some(json!({"action": "unlock"})),
        200,
    )
    .await;
    // Banned: the page says so instead of the form.
    app.expect(
        Method::PUT,
        &format!("/api/boards/categories/{cat}/bans/{}", mentor.id),
        Some(&admin.access),
        Some(json!({})),
        200,
    )
    .await;
    let (_, html) = get_page(&mentor_b, &app, &page).await;
    assert!(
        html.contains("You are banned from this board") && !html.contains("answer-body"),
        "{html}"
    );
    assert!(!html.contains("Vote for Asha"), "{html}");
    let _ = (asker, mentor);
}

#[actix_web::test]
async fn the_notifications_page_sets_which_notifications_come_by_email() {
    use crate::pages::{browser, csrf_of, get_page, sign_up};
    let app = spawn_app().await;
    let b = browser();
    let email = sign_up(&b, &app, "mentee", "Pia Prefers").await;
    let me = app.login(&email).await;
    let (_, html) = get_page(&b, &app, "/notifications").await;
    for kind in ["reminder", "board_reply", "direct_message"] {
        assert!(
            html.contains(&format!(r#"id="email-{kind}" name="email" value="{kind}" checked"#)),
            "{kind}: {html}"
        );
    }
    assert!(
        html.contains("direct messages you receive while you are away"),
        "{html}"
    );
    // Only replies and reminders checked: the other kinds go off.
    let csrf = csrf_of(&html);
    let res = b
        .post(app.url("/notifications/preferences"))
        .form(&[("csrf", csrf.as_str()), ("email", "reminder"), ("email", "board_reply")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/notifications?saved=1#preferences");
    let p = app
        .expect(
            Method::GET,
            "/api/me/notification-preferences",
            Some(&me.access),
            None,
            200,
        )
        .await;
    let on: Vec<&str> = p["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["email"] == true)
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(on, ["reminder", "board_reply"], "{p}");
    let (_, html) = get_page(&b, &app, "/notifications?saved=1").await;
    assert!(html.contains("Your email choices are saved."));
    assert!(html.contains(r#"value="direct_message">"#), "unchecked now: {html}");
    // A kind that does not exist is refused in words; without the CSRF field, 403.
    let res = b
        .post(app.url("/notifications/preferences"))
        .form(&[("csrf", csrf.as_str()), ("email", "spam")])
        .send()
        .await
        .unwrap();
    assert!(
        location(&res).starts_with("/notifications?error="),
        "{}",
        location(&res)
    );
    let res = b
        .post(app.url("/notifications/preferences"))
        .form(&[("email", "reminder")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn a_moderator_approves_and_rejects_held_posts_on_the_thread_page() {
    use crate::pages::{browser, get_page, sign_up};
    let app = spawn_app_with(|s| s.boards.hold_first_posts = 2).await;
    let admin = app.admin().await;
    let cat = app.category(&admin.access, "placements", "public").await;
    let moe_b = browser();
    let moe_email = sign_up(&moe_b, &app, "mentor", "Moe Moderator").await;
    let moe = app.login(&moe_email).await;
    app.expect(
        Method::PUT,
        &format!("/api/boards/categories/{cat}/moderators/{}", moe.id),
        Some(&admin.access),
        None,
        200,
    )
    .await;
    let newbie = app.register("mentee", "Nina Newbie").await;
    let (thread, _) = app.thread(&moe.access, &cat, "Moe's question", "Ask away", &[]).await;
    let page = format!("/boards/threads/{thread}");
    let first = app.reply(&newbie.access, &thread, "A held reply", None).await;
    let second = app.reply(&newbie.access, &thread, "Another held reply", None).await;
    assert_eq!(
        (first["held"].clone(), second["held"].clone()),
        (json!(true), json!(true))
    );

    // The moderator sees them marked, with buttons named for whose they are;
    // a visitor sees neither.
    let (_, html) = get_page(&moe_b, &app, &page).await;
    assert!(html.contains("Waiting for review"), "{html}");
    assert!(
        html.contains("Approve Nina Newbie&#39;s answer 1") || html.contains("Approve Nina Newbie's answer 1"),
        "{html}"
    );
    let (_, public) = get_page(&browser(), &app, &page).await;
    assert!(
        !public.contains("held reply") && !public.contains("Approve"),
        "{public}"
    );

    let res = form(
        &moe_b,
        &app,
        &page,
        &format!("{page}/posts/{}/review", first["id"].as_str().unwrap()),
        &[("decision", "approve")],
    )
    .await;
    assert!(location(&res).contains("done=approved"), "{}", location(&res));
    let res = form(
        &moe_b,
        &app,
        &page,
        &format!("{page}/posts/{}/review", second["id"].as_str().unwrap()),
        &[("decision", "reject"), ("reason", "Please write more")],
    )
    .await;
    assert!(location(&res).contains("done=rejected"), "{}", location(&res));
    let (_, html) = get_page(&moe_b, &app, &location(&res)).await;
    assert!(html.contains("Rejected: the post is deleted"), "{html}");
    let v = app
        .expect(Method::GET, &format!("/api/boards/threads/{thread}"), None, None, 200)
        .await;
    assert_eq!(v["thread"]["replyCount"], 1);
    assert_eq!(v["posts"]["items"][1]["body"], "A held reply");
    let told = app.notifications(&newbie.access).await;
    assert_eq!(told[0]["payload"]["action"], "board_post_rejected");
    assert_eq!(told[0]["payload"]["reason"], "Please write more");
    // Deciding again: refused in words.
    let res = form(
        &moe_b,
        &app,
        &page,
        &format!("{page}/posts/{}/review", first["id"].as_str().unwrap()),
        &[("decision", "approve")],
    )
    .await;
    let (_, html) = get_page(&moe_b, &app, &location(&res)).await;
    assert!(html.contains("This post is not waiting for review"), "{html}");
}

#[actix_web::test]
async fn the_notifications_page_shows_unread_ones_and_marks_them_read_by_form_and_the_bell_counts_them() {
    use crate::pages::{browser, csrf_of, get_page, sign_up};
    let app = spawn_app().await;
    let b = browser();
    let email = sign_up(&b, &app, "mentee", "Una Unread").await;
    let me = app.login(&email).await;
    let otto = app.register("mentee", "Otto Other").await;
    // 53 for her (more than a page of 50) and one for Otto, stored as the server stores them.
    crate::browser_pages::seed_unread(&app, me.id, 53).await;
    let theirs: i64 = app
        .db
        .query_one(
            "INSERT INTO notifications (user_id, kind, payload, dedupe_key)
             VALUES ($1, 'board_reply', '{\"title\": \"Otto thread\"}', 'test:otto') RETURNING id",
            &[&otto.id],
        )
        .await
        .unwrap()
        .get(0);
    let count = |token: String| {
        let app = &app;
        async move {
            app.expect(Method::GET, "/api/notifications/unread-count", Some(&token), None, 200)
                .await["unread"]
                .as_i64()
                .unwrap()
        }
    };
    let all = app
        .expect(Method::GET, "/api/notifications?limit=100", Some(&me.access), None, 200)
        .await;
    let ids: Vec<i64> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 53);
    assert_eq!(count(me.access.clone()).await, 53);

    // The bell says the server's count, in words, on any page; the list
    // marks each unread one in words with a button naming it.
    let (_, home) = get_page(&b, &app, "/").await;
    assert!(home.contains(r#"aria-label="Notifications, 53 unread""#), "{home}");
    assert!(
        home.contains(r#"id="unread-count" data-live="notifications" data-unread="53">53</span>"#),
        "{home}"
    );
    let (status, html) = get_page(&b, &app, "/notifications").await;
    assert_eq!(status, 200);
    assert!(html.contains("53 unread notifications."), "{html}");
    assert_eq!(
        html.matches(r#"<span class="badge unread">Unread</span>"#).count(),
        50,
        "a page of 50"
    );
    let newest = ids[0];
    assert!(
        html.contains(&format!(r#"<li id="n-{newest}" data-id="{newest}" class="unread"><span class="badge unread">Unread</span> Marco replied in"#)),
        "{html}"
    );
    assert!(
        html.contains(r#"Mark as read<span class="visually-hidden">: Marco replied in Thread 53</span>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<button type="submit" class="secondary">Mark all as read</button>"#),
        "{html}"
    );
    assert!(!html.contains("Thread 3<"), "the 51st is on the next page");
    let older = format!("/notifications?cursor={}", ids[49]);
    assert!(
        html.contains(&format!(r#"<a href="{older}" rel="next">Older notifications</a>"#)),
        "{html}"
    );
    let csrf = csrf_of(&html);

    // Mark one read: back with "Marked as read.", the count and the bell one lower.
    let post = |path: String, form: Vec<(&'static str, String)>| {
        let b = &b;
        let app = &app;
        async move { b.post(app.url(&path)).form(&form).send().await.unwrap() }
    };
    let res = post(format!("/notifications/{newest}/read"), vec![("csrf", csrf.clone())]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/notifications?done=read");
    assert_eq!(count(me.access.clone()).await, 52);
    let (_, html) = get_page(&b, &app, "/notifications?done=read").await;
    assert!(html.contains("Marked as read."), "{html}");
    assert!(
        html.contains(&format!(r#"<li id="n-{newest}" data-id="{newest}">Marco replied in"#)),
        "{html}"
    );
    assert!(html.contains(r#"aria-label="Notifications, 52 unread""#), "{html}");
    assert!(html.contains("52 unread notifications."), "{html}");

    // Without the CSRF token: refused, nothing read.
    let res = post(format!("/notifications/{}/read", ids[1]), vec![]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = post("/notifications/read-all".to_owned(), vec![]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(count(me.access.clone()).await, 52);

    // Someone else's: the API's 404, said in words; theirs stays unread.
    let res = post(format!("/notifications/{theirs}/read"), vec![("csrf", csrf.clone())]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = location(&res);
    assert!(to.starts_with("/notifications?error="), "{to}");
    let (status, html) = get_page(&b, &app, &to).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("You have no notification with this id. Nothing was marked read."),
        "{html}"
    );
    let read_at: Option<chrono::DateTime<chrono::Utc>> = app
        .db
        .query_one("SELECT read_at FROM notifications WHERE id = $1", &[&theirs])
        .await
        .unwrap()
        .get(0);
    assert!(read_at.is_none(), "Otto's notification is still unread");
    assert_eq!(count(otto.access.clone()).await, 1);
    assert_eq!(count(me.access.clone()).await, 52);
    // Not an id at all: a 400, not a 500.
    let res = post("/notifications/abc/read".to_owned(), vec![("csrf", csrf.clone())]).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // The older page: the last three, a way back, and its forms come back to it.
    let (_, html) = get_page(&b, &app, &older).await;
    assert!(html.contains("Thread 3<") && html.contains("Thread 1<"), "{html}");
    assert!(!html.contains("Thread 4<"), "{html}");
    assert!(
        html.contains(r#"<a href="/notifications">Newest notifications</a>"#),
        "{html}"
    );
    assert!(!html.contains("Older notifications"), "{html}");
    let res = post(
        format!("/notifications/{}/read", ids[52]),
        vec![("csrf", csrf.clone()), ("cursor", ids[49].to_string())],
    )
    .await;
    assert_eq!(location(&res), format!("{older}&done=read"));
    assert_eq!(count(me.access.clone()).await, 51);

    // A mangled cursor: the newest ones, and why in words.
    let (status, html) = get_page(&b, &app, "/notifications?cursor=x").await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"<div class="notice error" role="alert">"#), "{html}");
    assert!(html.contains("Thread 53<"), "{html}");

    // Mark all: none unread, no button, the bell without a count; Otto's untouched.
    let res = post("/notifications/read-all".to_owned(), vec![("csrf", csrf.clone())]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/notifications?done=all");
    assert_eq!(count(me.access.clone()).await, 0);
    assert_eq!(count(otto.access.clone()).await, 1);
    let (_, html) = get_page(&b, &app, "/notifications?done=all").await;
    assert!(html.contains("All your notifications are marked as read."), "{html}");
    assert!(html.contains("No unread notifications."), "{html}");
    assert!(!html.contains(r#"class="badge unread""#), "{html}");
    assert!(!html.contains(">Mark as read<"), "{html}");
    assert!(html.contains(r#"id="mark-all" hidden"#), "{html}");
    assert!(html.contains(r#"aria-label="Notifications""#), "{html}");
    assert!(html.contains(r#"data-unread="0"></span>"#), "{html}");
}
