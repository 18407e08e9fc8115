//! Chat in two real browsers (issue 15): a mentee opens the conversation
//! with "Message Grace Hopper" on the mentor's page; the mentor sees her
//! typing, she sees "Seen", an image she attaches is previewed on the
//! mentor's side; then the mentor's browser drops off the network
//! (chromedriver's CDP `Network.emulateNetworkConditions` offline, and its
//! WebSocket closed as a drop does) while she sends, and once it is back the
//! mentor's page has every message exactly once.
//!
//! The harness is `browser.rs`'s (and `browser_pages.rs`'s page helpers);
//! without Chromium the test skips, unless `LYCEUM_REQUIRE_BROWSER=1`.

use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::browser::{browser_available, Driver, Page, ONE_AT_A_TIME};
use crate::browser_pages::seed_mentor;
use crate::helpers::*;

/// A 4x3 PNG (red), small and valid, so the other side can decode it.
const PNG: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAQAAAADCAIAAAA7ljmRAAAAEElEQVR4nGP4z8AARww4OQD1MQv1NXv7ggAAAABJRU5ErkJggg==";

/// The message texts on a conversation page, oldest first, with their seqs.
const MESSAGES: &str = "return [...document.querySelectorAll('#messages li.msg:not(.pending)')].map(li => [Number(li.dataset.seq), (li.querySelector('.body') || {}).textContent || '']);";

/// The conversation page's connection state (`data-conn` of `#conn`).
const CONN: &str = "const c = document.getElementById('conn'); return c ? [c.dataset.conn, c.textContent] : null;";

impl Page {
    /// A chromedriver CDP command on this browser's page.
    async fn cdp(&self, driver: &str, cmd: &str, params: Value) -> Value {
        let sid = self.client.session_id().await.unwrap().expect("a session id");
        let res = reqwest::Client::new()
            .post(format!("{driver}/session/{sid}/goog/cdp/execute"))
            .json(&json!({"cmd": cmd, "params": params}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: CDP {cmd}: {e}", self.name));
        let status = res.status();
        let v: Value = res.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{}: CDP {cmd}: {status} {v}", self.name);
        v
    }

    pub(crate) async fn offline(&self, driver: &str, offline: bool) {
        self.cdp(driver, "Network.enable", json!({})).await;
        self.cdp(
            driver,
            "Network.emulateNetworkConditions",
            json!({"offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}),
        )
        .await;
    }

    async fn wait_conn(&self, state: &str) -> Value {
        self.wait_for(&format!("the connection {state}"), CONN, vec![], |v| v[0] == state)
            .await
    }

    /// Types `text` in the composer and presses Enter; waits until it is
    /// stored (its "Sending…" copy has given way to the stored message).
    async fn say(&self, text: &str) {
        self.type_into("#text", text).await;
        self.enter("#text").await;
        self.wait_for(
            &format!("{text:?} stored"),
            "return [...document.querySelectorAll('#messages li.msg:not(.pending) .body')].some(b => b.textContent === arguments[0]) && !document.querySelector('#messages li.pending');",
            vec![json!(text)],
            |v| v == true,
        )
        .await;
    }
}

fn png_file(dir: &std::path::Path, name: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, base64::engine::general_purpose::STANDARD.decode(PNG).unwrap()).unwrap();
    path.display().to_string()
}

/// Grace Hopper (a mentor with a profile) and Sam Student (a mentee), each
/// signed in in a headless Chromium of their own; `names` names Sam's
/// browser, then Grace's.
pub(crate) struct SamAndGrace {
    pub(crate) mentor: Session,
    pub(crate) mentee: Session,
    pub(crate) driver: Driver,
    pub(crate) sam: Page,
    pub(crate) grace: Page,
}

pub(crate) async fn sam_and_grace(app: &TestApp, names: [&str; 2]) -> SamAndGrace {
    let mentor = seed_mentor(app, "Grace Hopper", "Compilers").await;
    let mentee = app.register("mentee", "Sam Student").await;
    let mut driver = Driver::start().await;
    let sam = driver.browser(names[0]).await;
    let grace = driver.browser(names[1]).await;
    sam.sign_in(app, &mentee.email).await;
    grace.sign_in(app, &mentor.email).await;
    SamAndGrace {
        mentor,
        mentee,
        driver,
        sam,
        grace,
    }
}

/// On `mentor`'s page, `who` clicks `button` (which must read `label`) and
/// lands in the conversation: its room id, once the page is titled with the
/// mentor's name.
pub(crate) async fn open_from_mentor_page(
    who: &Page,
    app: &TestApp,
    mentor: &Session,
    button: &str,
    label: &str,
) -> String {
    who.open(&app.url(&format!("/mentors/{}", mentor.id))).await;
    assert_eq!(who.text(button).await, label);
    who.click(button).await;
    who.wait_for(
        "the conversation page",
        "return location.pathname.startsWith('/chat/') && document.readyState === 'complete';",
        vec![],
        |v| v == true,
    )
    .await;
    let room = who
        .js("return location.pathname.split('/')[2];", vec![])
        .await
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        who.text("h1").await,
        "Grace Hopper",
        "a direct room is titled with the other person's name"
    );
    room
}

#[actix_web::test]
async fn a_mentor_and_a_mentee_chat_in_two_browsers_and_a_dropped_connection_catches_up_exactly_once() {
    let test = "a_mentor_and_a_mentee_chat_in_two_browsers_and_a_dropped_connection_catches_up_exactly_once";
    if !browser_available(test) {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().await;
    let t0 = Instant::now();
    let app = spawn_app().await;
    let files = std::env::temp_dir().join(format!("lyceum-chat-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&files).unwrap();
    let image = png_file(&files, "diagram.png");
    let zip = files.join("notes.zip");
    std::fs::write(&zip, b"PK\x03\x04 not really").unwrap();
    let SamAndGrace {
        mentor,
        mentee,
        driver,
        sam,
        grace,
    } = sam_and_grace(&app, ["mentee", "mentor"]).await;

    // Sam opens the conversation from Grace's page.
    let room = open_from_mentor_page(&sam, &app, &mentor, "#message-mentor", "Message Grace Hopper").await;
    // The limits are said before any upload.
    let limits = sam.text("#file-limits").await;
    assert!(
        limits.contains("up to 10 MB") && limits.contains("PNG") && limits.contains("PDF"),
        "limits explained: {limits}"
    );

    // Grace finds it on /chat (names, never ids) and opens it.
    grace.open(&app.url("/chat")).await;
    let listed = grace.text("#conversations").await;
    assert!(
        listed.contains("Sam Student"),
        "the conversation is listed by name: {listed}"
    );
    assert!(!listed.contains(&mentee.id.to_string()), "no ids: {listed}");
    grace.click(&format!("#conversations a[href='/chat/{room}']")).await;
    grace.wait_at(&format!("/chat/{room}"), "").await;
    assert_eq!(grace.text("h1").await, "Sam Student");
    sam.wait_conn("online").await;
    grace.wait_conn("online").await;

    // Typing shows on the other side, by name.
    sam.type_into("#text", "Hello Grace").await;
    grace
        .wait_text(
            "Sam typing",
            "return document.getElementById('typing').textContent;",
            "Sam Student is typing…",
        )
        .await;
    let typed_at = Instant::now();
    sam.enter("#text").await;
    grace
        .wait_for("Sam's message", MESSAGES, vec![], |v| {
            v.as_array().is_some_and(|a| a.iter().any(|m| m[1] == "Hello Grace"))
        })
        .await;
    println!(
        "  the message showed on the other side {:?} after Enter",
        typed_at.elapsed()
    );
    assert_eq!(
        grace.text("#typing").await,
        "",
        "the indicator goes when the message arrives"
    );
    // Grace's open page reads it: Sam sees "Seen" under her message.
    sam.wait_text(
        "the read receipt",
        "const r = document.querySelector('#messages li.mine .receipt'); return r ? r.textContent : '';",
        "Seen",
    )
    .await;

    // A file of a kind that may not be sent is refused in words before upload.
    sam.find("#file")
        .await
        .send_keys(&zip.display().to_string())
        .await
        .unwrap();
    let refusal = sam
        .wait_text(
            "the refusal of a zip file",
            "return document.getElementById('composer-error').textContent;",
            "cannot be sent",
        )
        .await;
    println!("  a zip file: {refusal}");
    sam.js("document.getElementById('file').value = ''; return true;", vec![])
        .await;

    // An image is previewed on Grace's side.
    sam.find("#file").await.send_keys(&image).await.unwrap();
    sam.type_into("#text", "Here is my diagram").await;
    sam.click("#send").await;
    let img = grace
        .wait_for(
            "the image previewed",
            "const i = document.querySelector('#messages img[alt=\"Image: diagram.png\"]'); return i && i.complete ? [i.naturalWidth, i.naturalHeight] : null;",
            vec![],
            |v| v[0].as_u64().unwrap_or(0) > 0,
        )
        .await;
    assert_eq!(img, json!([4, 3]), "the image decodes at its size on the other side");
    grace.screenshot("chat-image").await;
    sam.screenshot("chat-image").await;
    let caption = grace.text("#messages figure figcaption").await;
    assert!(caption.contains("diagram.png") && caption.contains("PNG"), "{caption}");

    // Grace's browser drops off the network while Sam sends.
    let before = grace.js(MESSAGES, vec![]).await;
    let driver_url = driver.url().to_owned();
    grace.offline(&driver_url, true).await;
    let dropped_by_offline = grace
        .js(
            "return new Promise(done => setTimeout(() => done(document.getElementById('conn').dataset.conn), 1500));",
            vec![],
        )
        .await;
    println!("  after going offline (CDP) for 1.5 s the page's connection is: {dropped_by_offline}");
    // A drop closes the socket without a goodbye; an offline emulation
    // leaves an open WebSocket alone, so close it as the network would.
    grace
        .js(
            "const s = window.lyceumChat.socket(); if (s) s.close(); return true;",
            vec![],
        )
        .await;
    let said = grace.wait_conn("reconnecting").await;
    grace.screenshot("chat-reconnecting").await;
    assert!(
        said[1].as_str().unwrap().contains("Reconnecting"),
        "the page says so: {said}"
    );
    let sent: Vec<String> = (1..=5).map(|i| format!("While you were away {i}")).collect();
    for text in &sent {
        sam.say(text).await;
    }
    // Grace writes while offline too: it waits, and goes out once back.
    grace.type_into("#text", "Written offline").await;
    grace.enter("#text").await;
    grace
        .wait_text(
            "the offline message waiting",
            "const p = document.querySelector('#messages li.pending .status'); return p ? p.textContent : '';",
            "Waiting for the connection",
        )
        .await;
    // Still offline a few seconds on (retries fail), then back.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(grace.js(CONN, vec![]).await[0], "reconnecting");
    let back_at = Instant::now();
    grace.offline(&driver_url, false).await;
    let said = grace.wait_conn("online").await;
    println!(
        "  back online and caught up {:?} after the network returned",
        back_at.elapsed()
    );
    assert!(said[1].as_str().unwrap().contains("Reconnected"), "{said}");
    let after = grace
        .wait_for("every message on Grace's page", MESSAGES, vec![], |v| {
            v.as_array()
                .is_some_and(|a| a.iter().any(|m| m[1] == "Written offline"))
        })
        .await;

    // Every message of the room, exactly once, in order, on both pages.
    let res = app
        .get_auth(&format!("/api/rooms/{room}/messages?limit=500"), &mentor.access)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let history: Value = res.json().await.unwrap();
    let stored: Vec<(i64, String)> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "message")
        .map(|m| (m["seq"].as_i64().unwrap(), m["body"].as_str().unwrap_or("").to_owned()))
        .collect();
    let shown = |v: &Value| -> Vec<(i64, String)> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|m| (m[0].as_i64().unwrap(), m[1].as_str().unwrap().to_owned()))
            .collect()
    };
    let bodies: Vec<&str> = stored.iter().map(|(_, b)| b.as_str()).collect();
    let mut want = vec!["Hello Grace", "Here is my diagram"];
    want.extend(sent.iter().map(String::as_str));
    want.push("Written offline");
    assert_eq!(bodies, want, "stored once each, in order (the offline send too)");
    assert_eq!(
        shown(&after),
        stored,
        "Grace's page after the drop: every message once, in order"
    );
    assert_eq!(
        shown(&before).len(),
        2,
        "before the drop Grace had the first two: {before}"
    );
    let sams = sam
        .wait_for("Grace's offline message on Sam's side", MESSAGES, vec![], |v| {
            v.as_array().is_some_and(|a| a.len() == stored.len())
        })
        .await;
    assert_eq!(shown(&sams), stored, "Sam's page: every message once, in order");

    // An edit and a deletion show on the other side.
    sam.js(
        "const li = [...document.querySelectorAll('#messages li.mine')].find(l => l.querySelector('.body')?.textContent === 'While you were away 1'); li.querySelector('button[data-action=edit]').click(); return true;",
        vec![],
    )
    .await;
    let field = sam.find("#messages form.edit textarea").await;
    field.clear().await.unwrap();
    field.send_keys("While you were away (edited)").await.unwrap();
    sam.click("#messages form.edit button[type=submit]").await;
    grace
        .wait_for(
            "the edit on Grace's side",
            "return [...document.querySelectorAll('#messages li.msg')].some(li => li.querySelector('.body')?.textContent === 'While you were away (edited)' && li.querySelector('.edited'));",
            vec![],
            |v| v == true,
        )
        .await;
    for _ in 0..2 {
        sam.js(
            "const li = [...document.querySelectorAll('#messages li.mine')].find(l => l.querySelector('.body')?.textContent === 'While you were away 2'); li.querySelector('button[data-action=delete]').click(); return true;",
            vec![],
        )
        .await;
    }
    grace
        .wait_for(
            "the deletion on Grace's side",
            "return [...document.querySelectorAll('#messages .body')].map(b => b.textContent);",
            vec![],
            |v| {
                v.as_array().is_some_and(|a| {
                    a.iter().any(|b| b == "This message was deleted.")
                        && !a.iter().any(|b| b == "While you were away 2")
                })
            },
        )
        .await;

    // Grace's /chat shows Sam, and his next message arrives there live:
    // the last message and the unread count change without a reload.
    grace.open(&app.url("/chat")).await;
    let listed = grace.text("#conversations li").await;
    assert!(listed.contains("Sam Student"), "{listed}");
    grace.screenshot("chat-list").await;
    grace
        .wait_for(
            "the list live",
            "return document.getElementById('conversations').dataset.live || null;",
            vec![],
            |v| v == "true",
        )
        .await;
    sam.say("One more thing").await;
    let item = grace
        .wait_for(
            "the new message in the list",
            "const li = document.querySelector('#conversations li'); return [li.querySelector('.last').textContent, (li.querySelector('.unread') || {}).textContent || ''];",
            vec![],
            |v| v[0] == "One more thing",
        )
        .await;
    assert_eq!(item, json!(["One more thing", "1 unread"]));

    driver.close(vec![sam, grace]).await;
    let _ = std::fs::remove_dir_all(&files);
    println!("  chat test took {:?}", t0.elapsed());
}

/// Conversations for the page checks (axe, the phone): a direct room of
/// `mentee` and `mentor` with messages, an image and a PDF; a public group
/// room of the mentor's that the mentee joined; another public room she has
/// not joined, which takes guests; and a direct room of the mentor with
/// `other` (so the group room's owner has someone to invite). Returns the
/// (direct, group, guests' room) ids.
pub(crate) async fn seed_chat(
    app: &TestApp,
    mentor: &Session,
    mentee: &Session,
    other: &Session,
) -> (String, String, String) {
    let post = |path: String, token: String, body: Value| async move {
        let res = app.post_auth(&path, &token, &body).await;
        assert!(res.status().is_success(), "{path}: {}", res.status());
        res.json::<Value>().await.unwrap()
    };
    let direct = post(
        "/api/rooms/direct".into(),
        mentee.access.clone(),
        json!({"userId": mentor.id}),
    )
    .await;
    let direct = direct["id"].as_str().unwrap().to_owned();
    post(
        "/api/rooms/direct".into(),
        mentor.access.clone(),
        json!({"userId": other.id}),
    )
    .await;
    let say = |who: &Session, text: &str, attachments: Vec<Value>| {
        post(
            format!("/api/rooms/{direct}/messages"),
            who.access.clone(),
            json!({"body": text, "attachments": attachments}),
        )
    };
    say(mentee, "Hello! Could we talk about my compiler project?", vec![]).await;
    say(mentor, "Of course. Send me what you have.", vec![]).await;
    let mut ids = Vec::new();
    for (name, ctype, bytes) in [
        (
            "diagram.png",
            "image/png",
            base64::engine::general_purpose::STANDARD.decode(PNG).unwrap(),
        ),
        ("plan.pdf", "application/pdf", b"%PDF-1.4\n%%EOF\n".to_vec()),
    ] {
        let res = app
            .http
            .post(app.url(&format!("/api/rooms/{direct}/attachments")))
            .bearer_auth(&mentee.access)
            .header("Content-Type", ctype)
            .header("X-File-Name", name)
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        ids.push(res.json::<Value>().await.unwrap()["id"].clone());
    }
    say(mentee, "Here is the diagram and the plan.", ids).await;
    let group = post(
        "/api/rooms".into(),
        mentor.access.clone(),
        json!({"name": "Rust study group", "visibility": "public"}),
    )
    .await;
    let group = group["id"].as_str().unwrap().to_owned();
    post(format!("/api/rooms/{group}/join"), mentee.access.clone(), json!({})).await;
    post(
        format!("/api/rooms/{group}/messages"),
        mentor.access.clone(),
        json!({"body": "Welcome! This week: lifetimes."}),
    )
    .await;
    let open = post(
        "/api/rooms".into(),
        mentor.access.clone(),
        json!({"name": "Compiler club", "visibility": "public", "allowGuests": true}),
    )
    .await;
    (direct, group, open["id"].as_str().unwrap().to_owned())
}

/// Posts a message over HTTP, waiting out the send rate limit (429) as a
/// client should.
async fn post_message(app: &TestApp, room: &str, who: &Session, body: &str) {
    loop {
        let res = app
            .post_auth(
                &format!("/api/rooms/{room}/messages"),
                &who.access,
                &json!({"body": body}),
            )
            .await;
        match res.status() {
            StatusCode::CREATED => return,
            StatusCode::TOO_MANY_REQUESTS => tokio::time::sleep(Duration::from_millis(300)).await,
            s => panic!("sending {body:?}: {s}"),
        }
    }
}

#[actix_web::test]
async fn earlier_messages_load_as_you_scroll_up_and_the_header_counts_unread() {
    let test = "earlier_messages_load_as_you_scroll_up_and_the_header_counts_unread";
    if !browser_available(test) {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().await;
    let t0 = Instant::now();
    let app = spawn_app().await;
    let mentor = seed_mentor(&app, "Grace Hopper", "Compilers").await;
    let mentee = app.register("mentee", "Sam Student").await;
    let res = app
        .post_auth("/api/rooms/direct", &mentee.access, &json!({"userId": mentor.id}))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let room = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    // 110 messages, taking turns: Grace's 55 are unread for Sam.
    for i in 1..=110 {
        let who = if i % 2 == 0 { &mentor } else { &mentee };
        post_message(&app, &room, who, &format!("Message {i}")).await;
    }

    let mut driver = Driver::start().await;
    let sam = driver.browser("mentee").await;
    sam.sign_in(&app, &mentee.email).await;
    sam.open(&app.url("/chat")).await;
    let header = sam
        .wait_for(
            "the header's unread count",
            "const c = document.getElementById('chat-unread'); return [c.textContent, c.parentElement.getAttribute('aria-label')];",
            vec![],
            |v| v[0] == "55",
        )
        .await;
    assert_eq!(header, json!(["55", "Messages, 55 unread"]));
    assert_eq!(sam.text("#conversations .unread").await, "55 unread");

    sam.open(&app.url(&format!("/chat/{room}"))).await;
    sam.wait_conn("online").await;
    let seqs = |v: &Value| -> Vec<i64> { v.as_array().unwrap().iter().map(|m| m[0].as_i64().unwrap()).collect() };
    let first = sam.js(MESSAGES, vec![]).await;
    assert_eq!(seqs(&first), (61..=110).collect::<Vec<i64>>(), "the newest 50 rendered");
    // Scrolling to the top of the log loads the 50 before.
    sam.js(
        "const l = document.getElementById('log'); l.scrollTop = 0; l.dispatchEvent(new Event('scroll')); return true;",
        vec![],
    )
    .await;
    let more = sam
        .wait_for("50 earlier messages", MESSAGES, vec![], |v| {
            v.as_array().is_some_and(|a| a.len() >= 100)
        })
        .await;
    assert_eq!(seqs(&more), (11..=110).collect::<Vec<i64>>());
    // The button loads the rest, and the start is said.
    sam.click_button("Load earlier messages").await;
    let all = sam
        .wait_for("every message", MESSAGES, vec![], |v| {
            v.as_array().is_some_and(|a| a.len() >= 110)
        })
        .await;
    assert_eq!(seqs(&all), (1..=110).collect::<Vec<i64>>(), "each once, in order");
    assert_eq!(all[0][1], "Message 1");
    sam.wait_text(
        "the start of the conversation",
        "return document.querySelector('.history-start').textContent;",
        "This is the start of the conversation.",
    )
    .await;

    // Reading it cleared the count.
    sam.open(&app.url("/chat")).await;
    sam.wait_for(
        "no unread",
        "const c = document.getElementById('chat-unread'); return [c.textContent, c.parentElement.getAttribute('aria-label')];",
        vec![],
        |v| *v == json!(["", "Messages"]),
    )
    .await;
    driver.close(vec![sam]).await;
    println!("  history test took {:?}", t0.elapsed());
}

#[actix_web::test]
async fn a_guest_joins_a_public_room_with_one_click_and_chats_with_a_member() {
    let test = "a_guest_joins_a_public_room_with_one_click_and_chats_with_a_member";
    if !browser_available(test) {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().await;
    let t0 = Instant::now();
    let app = spawn_app().await;
    let mentor = seed_mentor(&app, "Grace Hopper", "Compilers").await;
    let res = app
        .post_auth(
            "/api/rooms",
            &mentor.access,
            &json!({"name": "Open office hours", "visibility": "public", "allowGuests": true}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let room = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    post_message(&app, &room, &mentor, "Office hours are open: ask anything.").await;

    let mut driver = Driver::start().await;
    let grace = driver.browser("mentor").await;
    let guest = driver.browser("guest").await;
    grace.sign_in(&app, &mentor.email).await;
    grace.open(&app.url(&format!("/chat/{room}"))).await;
    grace.wait_conn("online").await;

    // A visitor, signed out, joins with one click and reads the history.
    guest.open(&app.url(&format!("/chat/{room}/guest"))).await;
    assert_eq!(guest.text("h1").await, "Open office hours");
    guest.click("#guest-join").await;
    guest.wait_conn("online").await;
    let who = guest.text("#guest-name").await;
    assert!(who.starts_with("You are guest-"), "{who}");
    let handle = who.trim_start_matches("You are ").split(',').next().unwrap().to_owned();
    let shown = guest.js(MESSAGES, vec![]).await;
    assert_eq!(
        shown,
        json!([[1, "Office hours are open: ask anything."]]),
        "the history"
    );
    assert_eq!(
        guest.text(".history-start").await,
        "This is the start of the conversation."
    );

    // They talk: the member sees the guest by its handle, and back.
    guest.say("Hello, how do I start with compilers?").await;
    grace
        .wait_for(
            "the guest's message",
            "return [...document.querySelectorAll('#messages li.msg')].map(li => li.querySelector('.from strong').textContent + ': ' + (li.querySelector('.body') || {}).textContent);",
            vec![],
            |v| {
                v.as_array()
                    .is_some_and(|a| a.iter().any(|m| m.as_str() == Some(&format!("{handle}: Hello, how do I start with compilers?"))))
            },
        )
        .await;
    grace.say("Start with Crafting Interpreters.").await;
    guest
        .wait_for("the reply", MESSAGES, vec![], |v| {
            v.as_array()
                .is_some_and(|a| a.iter().any(|m| m[1] == "Start with Crafting Interpreters."))
        })
        .await;
    // A room that takes no guests says so.
    let res = app
        .post_auth(
            "/api/rooms",
            &mentor.access,
            &json!({"name": "Members only", "visibility": "public"}),
        )
        .await;
    let closed = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    guest.open(&app.url(&format!("/chat/{closed}/guest"))).await;
    assert_eq!(guest.text("h1").await, "Guests cannot join this room");
    driver.close(vec![grace, guest]).await;
    println!("  guest test took {:?}", t0.elapsed());
}
