//! The server-rendered pages (`src/web/`, docs/web.md) in a real browser:
//! headless Chromium over WebDriver, with the harness of `browser.rs`.
//!
//! - axe-core (tests/browser, `npm ci --prefix tests/browser`) on every page,
//!   signed out and signed in (mentee, mentor, admin): no "serious" or
//!   "critical" violation.
//! - Flows by keyboard and clicks, as people use the pages: sign up, find a
//!   mentor by skill, book with an agenda while a second browser sees the
//!   seats drop (≤ 1 s, measured); the waitlist promoted live on My
//!   bookings; registering for a webinar and joining it when it goes live;
//!   weekly availability on the calendar and a booking arriving there live.
//! - A phone's viewport (390 × 844): no horizontal scrolling, a usable nav.
//!
//! The API is used only to seed what another actor would do (a mentor, their
//! slots and sessions, starting a session). Without Chromium the tests skip
//! (or fail with `LYCEUM_REQUIRE_BROWSER=1`, as in CI); without
//! tests/browser/node_modules the axe test does the same.

use std::time::{Duration, Instant};

use chrono::{Duration as Dur, Utc};
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::Locator;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::browser::{browser_available, Driver, Page, ONE_AT_A_TIME, POLL, WAIT};
use crate::helpers::*;

const AXE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/browser/node_modules/axe-core/axe.min.js"
);
/// The longest a watcher may wait to see a seat go (issue 14).
const SEAT_LATENCY: Duration = Duration::from_secs(1);

/// axe-core's source; `None` means skip (and it says so).
pub(crate) fn axe_source(test: &str) -> Option<String> {
    match std::fs::read_to_string(AXE) {
        Ok(s) => Some(s),
        Err(e) => {
            let msg = format!("{test}: {AXE} not readable ({e}): run `npm ci --prefix tests/browser`");
            if std::env::var("LYCEUM_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
                panic!("{msg} (LYCEUM_REQUIRE_BROWSER=1 makes this a failure)");
            }
            println!("{msg}; skipped");
            None
        }
    }
}

impl Page {
    pub(crate) async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match tokio::time::timeout(WAIT, self.client.wait().at_most(WAIT).for_element(Locator::Css(css))).await {
            Ok(Ok(el)) => el,
            other => panic!(
                "{}: no {css} within {WAIT:?}: {other:?}\n{}",
                self.name,
                self.page_log().await
            ),
        }
    }

    /// A real click (WebDriver scrolls to it and clicks where it is, so a
    /// hidden or covered element fails).
    pub(crate) async fn click(&self, css: &str) {
        let el = self.find(css).await;
        tokio::time::timeout(WAIT, el.click())
            .await
            .unwrap_or_else(|_| panic!("{}: clicking {css} timed out", self.name))
            .unwrap_or_else(|e| panic!("{}: clicking {css}: {e}", self.name));
    }

    /// Presses Enter in a field (submits its form).
    pub(crate) async fn enter(&self, css: &str) {
        let el = self.find(css).await;
        el.send_keys(&Key::Enter.to_string())
            .await
            .unwrap_or_else(|e| panic!("{}: Enter in {css}: {e}", self.name));
    }

    /// Waits until the loaded page is `path` (and `search` contains `query`).
    pub(crate) async fn wait_at(&self, path: &str, query: &str) {
        self.wait_for(
            &format!("the page {path}?…{query}…"),
            "return document.readyState === 'complete' && location.pathname === arguments[0] && location.search.includes(arguments[1]);",
            vec![json!(path), json!(query)],
            |v| v == true,
        )
        .await;
    }

    pub(crate) async fn text(&self, css: &str) -> String {
        self.js(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent.trim() : null;",
            vec![json!(css)],
        )
        .await
        .as_str()
        .unwrap_or_else(|| panic!("{}: no {css}", self.name))
        .to_owned()
    }

    /// Signs in with the form, typing and pressing Enter.
    pub(crate) async fn sign_in(&self, app: &TestApp, email: &str) {
        self.open(&app.url("/signin")).await;
        self.type_into("#email", email).await;
        self.type_into("#password", PASSWORD).await;
        self.enter("#password").await;
        self.wait_for(
            "signed in",
            "return document.readyState === 'complete' && document.body.dataset.signedIn === 'true';",
            vec![],
            |v| v == true,
        )
        .await;
    }

    /// Injects axe-core and runs it on the page as it is; returns the
    /// serious and critical violations, one line each.
    pub(crate) async fn axe(&self, axe: &str, label: &str) -> Vec<String> {
        // The pages allow no inline script; WebDriver's execute is not
        // subject to the page's CSP, and this checks it really is there.
        let injected = self
            .js(
                &format!("{axe}\n;return typeof window.axe === 'object' && typeof window.axe.run === 'function';"),
                vec![],
            )
            .await;
        assert_eq!(injected, true, "{}: axe-core injected on {label}", self.name);
        let res = self
            .call(
                "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' ') + (n.failureSummary ? ' [' + n.failureSummary.replace(/\\s+/g, ' ') + ']' : ''))})))",
                vec![],
            )
            .await;
        let all = res.as_array().expect("violations");
        let lesser: Vec<String> = all
            .iter()
            .filter(|v| v["impact"] != "serious" && v["impact"] != "critical")
            .map(|v| {
                format!(
                    "{} ({})",
                    v["id"].as_str().unwrap_or(""),
                    v["impact"].as_str().unwrap_or("")
                )
            })
            .collect();
        if !lesser.is_empty() {
            println!("  axe on {label} ({}), not failing: {}", self.name, lesser.join(", "));
        }
        all.iter()
            .filter(|v| v["impact"] == "serious" || v["impact"] == "critical")
            .map(|v| {
                let nodes: Vec<&str> = v["nodes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                format!(
                    "{label} ({}): {} [{}] {}: {}",
                    self.name,
                    v["id"].as_str().unwrap_or(""),
                    v["impact"].as_str().unwrap_or(""),
                    v["help"].as_str().unwrap_or(""),
                    nodes.join(" | ")
                )
            })
            .collect()
    }
}

/// One press of the Tab key, on whatever has focus.
fn tab_key() -> KeyActions {
    KeyActions::new("keyboard".to_owned())
        .then(KeyAction::Down {
            value: char::from(Key::Tab),
        })
        .then(KeyAction::Up {
            value: char::from(Key::Tab),
        })
}

/// A mentor (seeded through the API, as the mentor would) with a headline and
/// skills.
/// `n` unread board-reply notifications for `user` ("Marco replied in
/// Thread 1" … "Thread n"), stored as the server stores them; their ids,
/// oldest first.
pub(crate) async fn seed_unread(app: &TestApp, user: uuid::Uuid, n: i32) -> Vec<i64> {
    app.db
        .query(
            "INSERT INTO notifications (user_id, kind, payload, dedupe_key)
             SELECT $1, 'board_reply',
                    jsonb_build_object('title', 'Thread ' || i, 'threadId', gen_random_uuid(),
                                       'by', jsonb_build_object('displayName', 'Marco')),
                    'seeded:' || i
               FROM generate_series(1, $2) AS i ORDER BY i
             RETURNING id",
            &[&user, &n],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, i64>(0))
        .collect()
}

pub(crate) async fn seed_mentor(app: &TestApp, name: &str, skill: &str) -> Session {
    let mentor = app.register("mentor", name).await;
    let res = app
        .patch_profile(
            &mentor.access,
            &json!({"headline": "Compilers and careers", "bio": "Twenty years of shipping compilers.",
                    "yearsOfExperience": 20, "skills": [{"name": skill, "level": "expert"}]}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    mentor
}

pub(crate) async fn seed_session(app: &TestApp, mentor: &Session, title: &str, capacity: i32) -> String {
    let res = app
        .post_auth(
            "/api/sessions",
            &mentor.access,
            &json!({
                "title": title, "description": "Questions welcome.", "startsAt": Utc::now() + Dur::minutes(30),
                "durationMinutes": 60, "capacity": capacity
            }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_owned()
}

#[actix_web::test]
async fn axe_finds_no_serious_or_critical_violation_on_any_page() {
    let test = "axe_finds_no_serious_or_critical_violation_on_any_page";
    if !browser_available(test) {
        return;
    }
    let Some(axe) = axe_source(test) else { return };
    let _one = ONE_AT_A_TIME.lock().await;
    let t0 = Instant::now();
    let app = spawn_app().await;
    let mentor = seed_mentor(&app, "Grace Hopper", "Rust").await;
    let slot = app.slot(&mentor, 120, 1).await;
    let full = app.slot(&mentor, 240, 1).await;
    let session = seed_session(&app, &mentor, "Interview prep webinar", 50).await;
    let mentee = app.register("mentee", "Mia Mentee").await;
    let other = app.register("mentee", "Otto Other").await;
    // Mia holds a confirmed booking and a place on a waitlist, and a session.
    assert_eq!(app.book(&other, &id_of(&full)).await.status(), StatusCode::CREATED);
    for s in [id_of(&slot), id_of(&full)] {
        assert_eq!(app.book(&mentee, &s).await.status(), StatusCode::CREATED);
    }
    let res = app
        .post_auth(&format!("/api/sessions/{session}/register"), &mentee.access, &json!({}))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);

    // A board thread with an answer (the boards' pages, issue 16).
    let admin = app.admin().await;
    let res = app
        .post_auth(
            "/api/boards/categories",
            &admin.access,
            &json!({"slug": "placements", "name": "Placements", "visibility": "public"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let category: Value = res.json().await.unwrap();
    let res = app
        .post_auth(
            "/api/boards/threads",
            &mentee.access,
            &json!({"categoryId": category["id"], "title": "How do I prepare?", "body": "Any **tips**?", "tags": ["interview"]}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let thread: Value = res.json().await.unwrap();
    let thread_id = thread["thread"]["id"].as_str().unwrap().to_owned();
    let res = app
        .post_auth(
            &format!("/api/boards/threads/{thread_id}/replies"),
            &mentor.access,
            &json!({"body": "Practise *out loud*."}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);

    // A locked thread (its readers are told why they cannot answer), a
    // forms' outcome and error, and the unsubscribe link of an email (good
    // and tampered): the boards' page states (issue 16).
    let res = app
        .post_auth(
            "/api/boards/threads",
            &other.access,
            &json!({"categoryId": category["id"], "title": "A locked question", "body": "Closed."}),
        )
        .await;
    let locked: Value = res.json().await.unwrap();
    let locked_id = locked["thread"]["id"].as_str().unwrap().to_owned();
    let res = app
        .post_auth(
            &format!("/api/boards/threads/{locked_id}/moderate"),
            &admin.access,
            &json!({"action": "lock"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let links = lyceum::notify::MailLinks::new(&app.address, JWT_SECRET.as_bytes());
    let unsubscribe = links
        .unsubscribe_url(mentee.id, "board_reply")
        .trim_start_matches(&app.address)
        .to_owned();
    let thread_page = format!("/boards/threads/{thread_id}");
    // A reply held for review (as `boards.hold_first_posts` would hold it),
    // which the admin sees with Approve and Reject.
    let res = app
        .post_auth(
            &format!("/api/boards/threads/{thread_id}/replies"),
            &other.access,
            &json!({"body": "A reply waiting for review."}),
        )
        .await;
    let held: Value = res.json().await.unwrap();
    let held_id: uuid::Uuid = held["id"].as_str().unwrap().parse().unwrap();
    app.db
        .execute(
            "UPDATE board_posts SET review = 'held', hidden = true WHERE id = $1",
            &[&held_id],
        )
        .await
        .unwrap();
    // More unread notifications than a page holds (each with "Mark as
    // read", "Mark all as read", "Older notifications"), and an older page.
    let seeded = seed_unread(&app, mentee.id, 60).await;
    let older_notifications = format!("/notifications?cursor={}", seeded[10]);
    // Issue 17's states: Mia's request to Grace waits; Grace accepted
    // Otto's (its Message and Call links); a session Grace held, Mia marked
    // attended (the review form on My bookings, the dashboard's Past row),
    // and Grace's review of Mia (a review notice).
    let res = app
        .post_auth(
            "/api/sessions",
            &mentor.access,
            &json!({"title": "Held office hours", "startsAt": Utc::now() + Dur::hours(8), "durationMinutes": 60, "capacity": 10}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let held = id_of(&res.json::<Value>().await.unwrap());
    let res = app
        .post_auth(&format!("/api/sessions/{held}/register"), &mentee.access, &json!({}))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let held_booking = res.json::<Value>().await.unwrap()["booking"]["id"].clone();
    for (path, body) in [
        (format!("/api/sessions/{held}/start"), json!({})),
        (
            format!("/api/offerings/{held}/attendance"),
            json!({"menteeId": mentee.id}),
        ),
        (format!("/api/sessions/{held}/complete"), json!({})),
        (
            "/api/reviews".to_owned(),
            json!({"bookingId": held_booking, "rating": 4, "text": "Came prepared."}),
        ),
    ] {
        let res = app.post_auth(&path, &mentor.access, &body).await;
        assert!(res.status().is_success(), "{path}: {}", res.status());
    }
    let today = Utc::now().date_naive();
    let mut requests = Vec::new();
    for who in [&mentee, &other] {
        let res = app
            .post_auth(
                "/api/mentorships",
                &who.access,
                &json!({"mentorId": mentor.id, "startDate": today, "endDate": today + Dur::days(90), "goals": "Compilers"}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
        requests.push(id_of(&res.json::<Value>().await.unwrap()));
    }
    let res = app
        .post_auth(
            &format!("/api/mentorships/{}/accept", requests[1]),
            &mentor.access,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    // Conversations: direct (with an image and a PDF) and group rooms.
    let (direct, group, open_room) = crate::browser_chat::seed_chat(&app, &mentor, &mentee, &other).await;
    let chat_pages = ["/chat".to_owned(), format!("/chat/{direct}"), format!("/chat/{group}")];

    let mentor_page = format!("/mentors/{}", mentor.id);
    let session_page = format!("/sessions/{session}");
    let public: Vec<String> = vec![
        "/boards".into(),
        format!("/boards/threads/{thread_id}"),
        "/".into(),
        "/mentors".into(),
        "/mentors?skill=rust".into(),
        "/mentors?skill=haskell".into(),
        "/mentors?minYears=lots".into(),
        mentor_page.clone(),
        "/sessions".into(),
        session_page.clone(),
        format!("/mentors/{}", uuid::Uuid::new_v4()),
        "/sessions?from=someday".into(),
        "/no-such-page".into(),
        unsubscribe.clone(),
        format!("{unsubscribe}0"),
    ];

    let mut driver = Driver::start().await;
    let visitor = driver.browser("visitor").await;
    let mia = driver.browser("mentee").await;
    let host = driver.browser("mentor").await;
    let mut violations = Vec::new();
    let mut checked = 0;

    // The CSP stands (an inline script does not run) while axe, injected
    // over WebDriver, does.
    visitor.open(&app.url("/")).await;
    let inline_ran = visitor
        .js(
            "return new Promise(done => { let blocked = false; document.addEventListener('securitypolicyviolation', () => { blocked = true; }); \
             const s = document.createElement('script'); s.textContent = 'window.__inline = 1;'; document.head.append(s); \
             setTimeout(() => done({ran: window.__inline === 1, blocked}), 200); });",
            vec![],
        )
        .await;
    assert_eq!(
        inline_ran,
        json!({"ran": false, "blocked": true}),
        "the page's CSP blocks inline script"
    );

    // axe finds what it should: a page spoiled on purpose fails.
    visitor
        .js(
            "const m = document.querySelector('main'); const i = document.createElement('img'); i.src = 'data:,'; \
             const b = document.createElement('button'); const p = document.createElement('p'); p.textContent = 'faint'; \
             p.style.color = '#eeeeee'; m.append(i, b, p); return true;",
            vec![],
        )
        .await;
    let spoiled = visitor.axe(&axe, "/ (spoiled on purpose)").await;
    for rule in ["image-alt", "button-name", "color-contrast"] {
        assert!(
            spoiled.iter().any(|v| v.contains(&format!(": {rule} ["))),
            "axe-core reports {rule} on a spoiled page: {spoiled:?}"
        );
    }

    // Signed out: every public page, the sign-in and sign-up forms (also
    // with their errors shown).
    let mut signed_out = public.clone();
    signed_out.extend(["/signin".into(), "/signup".into(), "/signin?next=/bookings".into()]);
    // A room that takes guests, before joining, and one that takes none.
    signed_out.extend([format!("/chat/{open_room}/guest"), format!("/chat/{group}/guest")]);
    for path in &signed_out {
        visitor.open(&app.url(path)).await;
        violations.extend(visitor.axe(&axe, path).await);
        checked += 1;
    }
    // A guest in the room, chatting.
    visitor.open(&app.url(&format!("/chat/{open_room}/guest"))).await;
    visitor.click("#guest-join").await;
    visitor
        .wait_for(
            "the guest in the room",
            "return document.getElementById('conn').dataset.conn;",
            vec![],
            |v| v == "online",
        )
        .await;
    violations.extend(visitor.axe(&axe, "/chat/{open}/guest (joined as a guest)").await);
    checked += 1;
    visitor.open(&app.url("/signup")).await;
    visitor.type_into("#displayName", "Weak Password").await;
    visitor.type_into("#email", &unique_email("weak")).await;
    visitor.type_into("#password", "short1").await;
    // The browser's own minlength check would stop the form; the server's
    // answer is what is checked here.
    visitor
        .js(
            "document.querySelector('#password').removeAttribute('minlength'); return true;",
            vec![],
        )
        .await;
    visitor.enter("#password").await;
    visitor
        .wait_for(
            "the sign-up error",
            "return !!document.querySelector('[role=alert]');",
            vec![],
            |v| v == true,
        )
        .await;
    violations.extend(visitor.axe(&axe, "/signup (with an error)").await);
    visitor.open(&app.url("/signin")).await;
    visitor.type_into("#email", &mentee.email).await;
    visitor.type_into("#password", "not the password").await;
    visitor.enter("#password").await;
    visitor
        .wait_for(
            "the sign-in error",
            "return !!document.querySelector('[role=alert]');",
            vec![],
            |v| v == true,
        )
        .await;
    violations.extend(visitor.axe(&axe, "/signin (with an error)").await);
    checked += 2;

    // Signed in as a mentee: the same pages (booking forms open), my
    // bookings, notifications, and a booking's outcome.
    mia.sign_in(&app, &mentee.email).await;
    let mut as_mentee = public.clone();
    as_mentee.extend([
        "/bookings".into(),
        "/notifications".into(),
        "/profile".into(),
        "/calendar".into(),
        "/mentorships".into(),
        "/mentorships?done=requested".into(),
        "/notifications?saved=1".into(),
        older_notifications.clone(),
        "/notifications?done=read".into(),
        "/matching".into(),
        "/matching?skill1=Rust&level1=advanced&goals=compilers&weekday=1&startTime=18%3A00&endTime=21%3A00&timeZone=UTC"
            .into(),
        "/matching?timeZone=Mars%2FBase".into(),
        format!("{mentor_page}?booked=waitlisted&position=1"),
        format!("{session_page}?registered=confirmed&position=0"),
        format!("{thread_page}?done=accepted"),
        format!("{thread_page}?error=Only+the+thread%27s+author+chooses+its+accepted+answer."),
        format!("/boards/threads/{locked_id}"),
        "/boards?error=A+title+has+3+to+200+characters.#ask".into(),
    ]);
    as_mentee.extend(chat_pages.iter().cloned());
    for path in &as_mentee {
        mia.open(&app.url(path)).await;
        mia.js(
            "document.querySelectorAll('details').forEach(d => { d.open = true; }); return true;",
            vec![],
        )
        .await;
        violations.extend(mia.axe(&axe, path).await);
        checked += 1;
    }
    // A conversation's live states: an error in words under the composer,
    // and "Reconnecting…" while the network is down.
    let chat_url = app.url(&format!("/chat/{direct}"));
    mia.open(&chat_url).await;
    mia.wait_for(
        "the conversation live",
        "return document.getElementById('conn').dataset.conn;",
        vec![],
        |v| v == "online",
    )
    .await;
    mia.click("#send").await;
    mia.wait_for(
        "the empty-message error",
        "return document.getElementById('composer-error').textContent;",
        vec![],
        |v| v.as_str().is_some_and(|t| !t.is_empty()),
    )
    .await;
    violations.extend(mia.axe(&axe, "/chat/{direct} (an error under the composer)").await);
    mia.offline(driver.url(), true).await;
    mia.js(
        "const s = window.lyceumChat.socket(); if (s) s.close(); return true;",
        vec![],
    )
    .await;
    mia.wait_for(
        "the page reconnecting",
        "return document.getElementById('conn').dataset.conn;",
        vec![],
        |v| v == "reconnecting",
    )
    .await;
    violations.extend(mia.axe(&axe, "/chat/{direct} (reconnecting)").await);
    mia.offline(driver.url(), false).await;
    checked += 2;
    // Signed in as the mentor: their own page and session, the directory,
    // their calendar, managing a slot and a session, the profile editor.
    host.sign_in(&app, &mentor.email).await;
    let manage_slot = format!("/calendar/manage/{}", id_of(&full));
    let manage_session = format!("/calendar/manage/{session}");
    for path in [
        mentor_page.as_str(),
        session_page.as_str(),
        "/",
        "/mentors",
        "/notifications",
        "/calendar",
        "/mentorships",
        "/mentorships?done=accept",
        "/dashboard",
        manage_slot.as_str(),
        manage_session.as_str(),
        "/profile",
        "/boards",
        thread_page.as_str(),
    ] {
        host.open(&app.url(path)).await;
        host.js(
            "document.querySelectorAll('details').forEach(d => { d.open = true; }); return true;",
            vec![],
        )
        .await;
        violations.extend(host.axe(&axe, path).await);
        checked += 1;
    }
    // The mentor's conversations, and the group room as its owner (members
    // with mute and remove, the invite list).
    for path in &chat_pages {
        host.open(&app.url(path)).await;
        violations.extend(host.axe(&axe, &format!("{path} (the mentor)")).await);
        checked += 1;
    }
    // Signed in as an admin: the users and the audit log.
    let admin_account = app.admin().await;
    let admin = driver.browser("admin").await;
    admin.sign_in(&app, &admin_account.email).await;
    for path in [
        "/admin",
        "/admin?role=mentee",
        "/admin/audit",
        "/calendar",
        thread_page.as_str(),
    ] {
        admin.open(&app.url(path)).await;
        admin
            .js(
                "document.querySelectorAll('details').forEach(d => { d.open = true; }); return true;",
                vec![],
            )
            .await;
        violations.extend(admin.axe(&axe, path).await);
        checked += 1;
    }
    driver.close(vec![visitor, mia, host, admin]).await;
    println!("  axe-core checked {checked} pages in {:?}", t0.elapsed());
    assert!(
        violations.is_empty(),
        "{} serious or critical axe-core violations:\n{}",
        violations.len(),
        violations.join("\n")
    );
}

#[actix_web::test]
async fn a_mentee_signs_up_finds_a_mentor_by_skill_and_books_while_another_sees_the_seats_drop() {
    let test = "a_mentee_signs_up_finds_a_mentor_by_skill_and_books_while_another_sees_the_seats_drop";
    if !browser_available(test) {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().await;
    let t0 = Instant::now();
    let app = spawn_app().await;
    let mentor = seed_mentor(&app, "Grace Hopper", "Rust").await;
    let _decoy = seed_mentor(&app, "Haskell Curry", "Haskell").await;
    let slot = app.slot(&mentor, 120, 2).await;
    let slot_id = id_of(&slot);
    let watcher_account = app.register("mentee", "Noor Watcher").await;
    let mentor_path = format!("/mentors/{}", mentor.id);

    let mut driver = Driver::start().await;
    let mia = driver.browser("mia").await;
    let noor = driver.browser("noor").await;

    // Noor, signed in, sits on the mentor's page watching the calendar.
    noor.sign_in(&app, &watcher_account.email).await;
    noor.open(&app.url(&mentor_path)).await;
    noor.wait_for(
        "the page watching the calendar",
        "return document.body.dataset.watching === 'true';",
        vec![],
        |v| v == true,
    )
    .await;
    let seats = format!("[data-seats=\"{slot_id}\"]");
    assert_eq!(noor.text(&seats).await, "2 of 2 seats left");
    noor.js(
        "const el = document.querySelector(arguments[0]); window.__seats = null; \
         new MutationObserver(() => { if (!window.__seats) window.__seats = {at: Date.now(), text: el.textContent.trim()}; }) \
           .observe(el, {childList: true, characterData: true, subtree: true}); return true;",
        vec![json!(seats)],
    )
    .await;

    // Mia signs up with the form (a mentee is the default role).
    mia.open(&app.url("/")).await;
    mia.click("header a[href='/signup']").await;
    mia.wait_at("/signup", "").await;
    assert_eq!(
        mia.js(
            "return document.querySelector('input[name=role]:checked').value;",
            vec![]
        )
        .await,
        "mentee"
    );
    let email = unique_email("mia");
    mia.type_into("#displayName", "Mia Mentee").await;
    mia.type_into("#email", &email).await;
    mia.type_into("#password", PASSWORD).await;
    mia.enter("#password").await;
    mia.wait_at("/mentors", "welcome").await;
    assert_eq!(mia.text("header .who").await, "Mia Mentee");

    // Finds the mentor by skill.
    mia.type_into("#skill", "rust").await;
    mia.enter("#skill").await;
    mia.wait_at("/mentors", "skill=rust").await;
    let found = mia
        .js(
            "return [...document.querySelectorAll('ul.cards .card h2 a')].map(a => a.textContent.trim());",
            vec![],
        )
        .await;
    assert_eq!(found, json!(["Grace Hopper"]), "only the Rust mentor matches");
    mia.click(&format!("ul.cards a[href='{mentor_path}']")).await;
    mia.wait_at(&mentor_path, "").await;

    // Opens the slot's booking form, types an agenda and books.
    let card = format!("li[data-slot=\"{slot_id}\"]");
    mia.click(&format!("{card} summary")).await;
    mia.type_into(&format!("#goals-{slot_id}"), "Land a compiler job").await;
    mia.type_into(&format!("#questions-{slot_id}"), "How to start?").await;
    mia.find(&format!("#questions-{slot_id}"))
        .await
        .send_keys(&format!("{}Which books?", Key::Enter))
        .await
        .unwrap();
    let clicked = Instant::now();
    mia.click(&format!("{card} button[type=submit]")).await;
    mia.wait_at(&mentor_path, "booked=confirmed").await;
    let confirmed_after = clicked.elapsed();
    assert!(mia.text(".notice.ok").await.contains("Your seat is confirmed"));
    assert_eq!(mia.text(&seats).await, "1 of 2 seats left");

    // Noor's page changes without a reload, within a second of the
    // booking's response (the 303 the form's POST got, from Mia's
    // navigation timing; both browsers share this machine's clock).
    let seen = noor
        .wait_for("the seats to drop", "return window.__seats;", vec![], |v| !v.is_null())
        .await;
    assert_eq!(seen["text"], "1 of 2 seats left");
    let response_at = mia
        .js(
            "const n = performance.getEntriesByType('navigation')[0]; \
             return {redirects: n.redirectCount, at: performance.timeOrigin + n.redirectEnd};",
            vec![],
        )
        .await;
    assert_eq!(response_at["redirects"], 1, "the booking POST answered with a redirect");
    let latency_ms = seen["at"].as_f64().unwrap() - response_at["at"].as_f64().unwrap();
    println!(
        "  seat drop seen by the watcher {latency_ms:.0} ms after the booking's response (click to confirmed page: {confirmed_after:?})"
    );
    assert!(
        latency_ms <= SEAT_LATENCY.as_millis() as f64,
        "the watcher saw the seat go {latency_ms:.0} ms after the booking's response (limit {SEAT_LATENCY:?})"
    );
    noor.wait_for(
        "the change announced politely",
        "return document.getElementById('announce').textContent;",
        vec![],
        |v| v.as_str().is_some_and(|t| t.contains("1 seats left")),
    )
    .await;

    // The agenda reached the mentor; the booking is in Mia's bookings.
    let bookings: Value = app
        .get_auth(&format!("/api/slots/{slot_id}/bookings"), &mentor.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(bookings["items"][0]["agenda"]["goals"], "Land a compiler job");
    assert_eq!(
        bookings["items"][0]["agenda"]["questions"],
        json!(["How to start?", "Which books?"])
    );
    mia.click("header nav a[href='/bookings']").await;
    mia.wait_at("/bookings", "").await;
    assert!(mia.text("tbody [data-status]").await.starts_with("Confirmed"));

    driver.close(vec![mia, noor]).await;
    println!("  sign-up and booking test took {:?}", t0.elapsed());
}

/// Books `slot_id` on the mentor's page with its form; returns the outcome
/// notice.
async fn book_by_form(page: &Page, app: &TestApp, mentor_path: &str, slot_id: &str, outcome: &str) -> String {
    page.open(&app.url(mentor_path)).await;
    let card = format!("li[data-slot=\"{slot_id}\"]");
    page.click(&format!("{card} summary")).await;
    page.type_into(&format!("#goals-{slot_id}"), "Review my CV").await;
    page.click(&format!("{card} button[type=submit]")).await;
    page.wait_at(mentor_path, outcome).await;
    page.text(".notice").await
}

#[actix_web::test]
async fn the_waitlist_promotion_shows_live_on_my_bookings() {
    let test = "the_waitlist_promotion_shows_live_on_my_bookings";
    if !browser_available(test) {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().await;
    let t0 = Instant::now();
    let app = spawn_app().await;
    let mentor = seed_mentor(&app, "Lin Mentor", "Go").await;
    let slot = app.slot(&mentor, 90, 1).await;
    let slot_id = id_of(&slot);
    let mentor_path = format!("/mentors/{}", mentor.id);
    let (ada, bob) = (app.register("mentee", "Ada").await, app.register("mentee", "Bob").await);

    let mut driver = Driver::start().await;
    let pa = driver.browser("ada").await;
    let pb = driver.browser("bob").await;
    pa.sign_in(&app, &ada.email).await;
    pb.sign_in(&app, &bob.email).await;

    let a = book_by_form(&pa, &app, &mentor_path, &slot_id, "booked=confirmed").await;
    assert!(a.contains("Your seat is confirmed"), "{a}");
    // The button says what it does when the slot is full.
    pb.open(&app.url(&mentor_path)).await;
    assert_eq!(
        pb.text(&format!("li[data-slot=\"{slot_id}\"] button[type=submit]"))
            .await,
        "Join the waitlist"
    );
    let b = book_by_form(&pb, &app, &mentor_path, &slot_id, "booked=waitlisted").await;
    assert!(b.contains("waitlist, number 1"), "{b}");

    pb.click("header nav a[href='/bookings']").await;
    pb.wait_at("/bookings", "").await;
    let status = "tbody [data-status]";
    assert_eq!(pb.text(status).await, "Waitlist, number 1");
    // A marker that a reload would lose.
    pb.js("window.__sameDocument = true; return true;", vec![]).await;

    pa.click("header nav a[href='/bookings']").await;
    pa.wait_at("/bookings", "").await;
    assert_eq!(pa.text(status).await, "Confirmed");
    pa.click("tbody button.danger").await;
    let cancelled = Instant::now();
    pa.wait_at("/bookings", "cancelled=1").await;
    assert_eq!(pa.text(status).await, "Cancelled");

    pb.wait_for(
        "Bob's booking shown confirmed without a reload",
        "return document.querySelector(arguments[0]).textContent.trim();",
        vec![json!(status)],
        |v| v == "Confirmed",
    )
    .await;
    println!(
        "  the promotion showed on Bob's open page {:?} after Ada's cancel",
        cancelled.elapsed()
    );
    assert_eq!(
        pb.js("return window.__sameDocument === true;", vec![]).await,
        true,
        "the same page, not a reload"
    );
    pb.wait_for(
        "the promotion announced",
        "return document.getElementById('announce').textContent;",
        vec![],
        |v| v.as_str().is_some_and(|t| t.contains("confirmed")),
    )
    .await;
    // And a reload agrees.
    pb.open(&app.url("/bookings")).await;
    assert_eq!(pb.text(status).await, "Confirmed");

    driver.close(vec![pa, pb]).await;
    println!("  waitlist test took {:?}", t0.elapsed());
}

#[actix_web::test]
async fn a_webinar_attendee_registers_by_click_and_joins_in_one_click_when_it_starts() {
    let test = "a_webinar_attendee_registers_by_click_and_joins_in_one_click_when_it_starts";
    if !browser_available(test) {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().await;
    let t0 = Instant::now();
    let app = spawn_app().await;
    let mentor = seed_mentor(&app, "Ada Host", "Interviews").await;
    let session = seed_session(&app, &mentor, "Interview prep webinar", 50).await;
    let attendee = app.register("mentee", "Reg Attendee").await;
    let path = format!("/sessions/{session}");

    let mut driver = Driver::start().await;
    let page = driver.browser("attendee").await;
    page.sign_in(&app, &attendee.email).await;
    page.click("header nav a[href='/sessions']").await;
    page.wait_at("/sessions", "").await;
    page.click(&format!("main a[href='{path}']")).await;
    page.wait_at(&path, "").await;
    assert_eq!(
        page.text(&format!("[data-seats=\"{session}\"]")).await,
        "50 of 50 seats left"
    );
    assert!(
        page.js("return document.getElementById('join');", vec![])
            .await
            .is_null(),
        "no join link before it is live"
    );
    page.type_into("#goals", "Practise system design answers").await;
    page.click("main form button[type=submit]").await;
    page.wait_at(&path, "registered=confirmed").await;
    assert!(page.text(".notice.ok").await.contains("You are registered"));
    assert_eq!(
        page.text(&format!("[data-seats=\"{session}\"]")).await,
        "49 of 50 seats left"
    );

    // The host starts it (from the live page or the API).
    let res = app
        .post_auth(&format!("/api/sessions/{session}/start"), &mentor.access, &json!({}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let started = Instant::now();
    // The open page offers "Join" by itself (sessions.js), within seconds.
    let mut live = false;
    while started.elapsed() < Duration::from_secs(5) {
        if page.js("return !!document.getElementById('join');", vec![]).await == true {
            live = true;
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    assert!(
        live,
        "the Join link appears on the open page when the host starts the session, without a reload"
    );
    println!("  the Join link appeared live {:?} after the start", started.elapsed());
    let join = page.find("#join").await;
    assert_eq!(
        join.attr("href").await.unwrap().as_deref(),
        Some(&*format!("/app/#session={session}"))
    );
    assert!(page.text("main").await.contains("Live now"));
    page.click("#join").await;
    page.wait_for(
        "the live page",
        "return location.pathname === '/app/' && !!document.body.dataset.state;",
        vec![],
        |v| v == true,
    )
    .await;
    page.wait_state("joined").await;
    assert_eq!(page.js("return window.lyceum.state.role;", vec![]).await, "attendee");
    println!(
        "  the attendee was in the live room {:?} after the start",
        started.elapsed()
    );

    driver.close(vec![page]).await;
    println!("  webinar test took {:?}", t0.elapsed());
}

#[actix_web::test]
async fn the_pages_fit_a_phone_with_no_horizontal_scrolling_and_a_usable_nav() {
    let test = "the_pages_fit_a_phone_with_no_horizontal_scrolling_and_a_usable_nav";
    if !browser_available(test) {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().await;
    let t0 = Instant::now();
    let app = spawn_app().await;
    let mentor = seed_mentor(&app, "Bartholomew Longname-Featherstonehaugh", "Distributed systems").await;
    app.slot(&mentor, 120, 3).await;
    seed_session(&app, &mentor, "A webinar with a rather long title about careers", 20).await;
    let mentee = app.register("mentee", "Maximiliana Mentee").await;
    let other = app.register("mentee", "Otto Other").await;
    let (direct, group, open_room) = crate::browser_chat::seed_chat(&app, &mentor, &mentee, &other).await;
    let mentor_path = format!("/mentors/{}", mentor.id);
    // Notifications with their "Mark as read" buttons.
    seed_unread(&app, mentee.id, 3).await;
    // A board thread with its forms (issue 16): long names, a long answer.
    let admin = app.admin().await;
    let res = app
        .post_auth(
            "/api/boards/categories",
            &admin.access,
            &json!({"slug": "placements", "name": "Placements and internships", "visibility": "public"}),
        )
        .await;
    let category: Value = res.json().await.unwrap();
    let res = app
        .post_auth(
            "/api/boards/threads",
            &mentee.access,
            &json!({"categoryId": category["id"], "title": "How do I prepare for a distributed systems interview at a large company?",
                    "body": "Any tips? `a_rather_long_identifier_without_any_spaces_in_it_at_all`", "tags": ["interviews", "system-design"]}),
        )
        .await;
    let thread: Value = res.json().await.unwrap();
    let thread_path = format!("/boards/threads/{}", thread["thread"]["id"].as_str().unwrap());
    let res = app
        .post_auth(
            &format!("{}/replies", thread_path.replace("/boards/", "/api/boards/")),
            &mentor.access,
            &json!({"body": "Practise *out loud*: draw the boxes, then talk through the trade-offs, every day for two weeks."}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    // An accepted mentorship (its Message and Call links carry the long
    // name) and its notice, for the mentee's pages below.
    let today = Utc::now().date_naive();
    let res = app
        .post_auth(
            "/api/mentorships",
            &mentee.access,
            &json!({"mentorId": mentor.id, "startDate": today, "endDate": today + Dur::days(90), "goals": "Distributed systems interviews"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let mentorship = id_of(&res.json::<Value>().await.unwrap());
    let res = app
        .post_auth(
            &format!("/api/mentorships/{mentorship}/accept"),
            &mentor.access,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    let mut driver = Driver::start().await;
    let visitor = driver.browser("phone-visitor").await;
    let signed_in = driver.browser("phone-mentee").await;
    signed_in.sign_in(&app, &mentee.email).await;
    for p in [&visitor, &signed_in] {
        tokio::time::timeout(WAIT, p.client.set_window_size(390, 844))
            .await
            .expect("resizing in time")
            .expect("resizing the window");
    }
    // The measure can fail: a page made too wide on purpose scrolls.
    visitor.open(&app.url("/")).await;
    let spoiled = visitor
        .js(
            "const d = document.createElement('div'); d.style.width = '600px'; d.textContent = 'wide'; \
             document.querySelector('main').append(d); return document.documentElement.scrollWidth > innerWidth;",
            vec![],
        )
        .await;
    assert_eq!(spoiled, true, "a 600 px element makes a 390 px page scroll sideways");
    let mut failures = Vec::new();
    let mentee_only = [
        "/bookings".to_owned(),
        "/notifications".to_owned(),
        "/mentorships".to_owned(),
        "/matching?skill1=Distributed+systems&level1=expert&goals=interviews&timeZone=UTC".to_owned(),
    ];
    for p in [&visitor, &signed_in] {
        let mut paths = vec![
            "/".to_owned(),
            "/mentors".to_owned(),
            mentor_path.clone(),
            "/sessions".to_owned(),
            "/boards".to_owned(),
            thread_path.clone(),
        ];
        if p.name == "phone-mentee" {
            // The conversations, a direct one (with an image) and a group room.
            paths.extend(["/chat".to_owned(), format!("/chat/{direct}"), format!("/chat/{group}")]);
            // Issue 17's pages of a mentee.
            paths.extend(mentee_only.iter().cloned());
        } else {
            // A room that takes guests.
            paths.push(format!("/chat/{open_room}/guest"));
        }
        for path in &paths {
            p.open(&app.url(path)).await;
            p.js(
                "document.querySelectorAll('details').forEach(d => { d.open = true; }); return true;",
                vec![],
            )
            .await;
            let m = p
                .js(
                    "const d = document.documentElement; \
                     const wide = [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth + 0.5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : '')).slice(0, 5); \
                     return {innerWidth, scrollWidth: d.scrollWidth, wide};",
                    vec![],
                )
                .await;
            assert_eq!(m["innerWidth"], 390, "{}: the viewport is a phone's", p.name);
            if m["scrollWidth"].as_u64().unwrap() > m["innerWidth"].as_u64().unwrap() {
                failures.push(format!(
                    "{} {path}: scrollWidth {} > innerWidth {}, too wide: {}",
                    p.name, m["scrollWidth"], m["innerWidth"], m["wide"]
                ));
            }
            // Every link and button of the header is on screen, big enough
            // to tap (WCAG 2.2 target size, 24 px) and clear of the others.
            let header = p
                .js(
                    "const els = [...document.querySelectorAll('header.site a:not(.skip), header.site button')]; \
                     const r = els.map(e => { const b = e.getBoundingClientRect(); return {name: e.textContent.trim() || e.getAttribute('aria-label'), left: b.left, right: b.right, top: b.top, bottom: b.bottom, h: b.height, w: b.width}; }); \
                     const bad = []; \
                     r.forEach((a, i) => { \
                       if (a.left < 0 || a.right > innerWidth || a.bottom > innerHeight) bad.push(a.name + ' off screen'); \
                       if (a.h < 24 || a.w < 24) bad.push(a.name + ' smaller than 24 px: ' + Math.round(a.w) + 'x' + Math.round(a.h)); \
                       r.forEach((b, j) => { if (j > i && a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) bad.push(a.name + ' overlaps ' + b.name); }); \
                     }); \
                     return {count: r.length, bad};",
                    vec![],
                )
                .await;
            assert!(
                header["count"].as_u64().unwrap() >= 4,
                "{}: the header's links: {header}",
                p.name
            );
            for b in header["bad"].as_array().unwrap() {
                failures.push(format!("{} {path}: header: {}", p.name, b.as_str().unwrap()));
            }
        }
        // The nav works by touch and by keyboard: the skip link comes first
        // and is on screen when focused; tapping "Mentors" goes there.
        p.open(&app.url("/")).await;
        tokio::time::timeout(WAIT, p.client.perform_actions(tab_key()))
            .await
            .expect("pressing Tab in time")
            .expect("pressing Tab");
        let skip = p
            .js(
                "const a = document.activeElement; const b = a.getBoundingClientRect(); return {skip: a.classList.contains('skip'), visible: b.left >= 0 && b.right <= innerWidth && b.top >= 0};",
                vec![],
            )
            .await;
        assert_eq!(
            skip,
            json!({"skip": true, "visible": true}),
            "{}: the skip link",
            p.name
        );
        // Tab on: the skip link goes back out of sight, the brand has focus.
        tokio::time::timeout(WAIT, p.client.perform_actions(tab_key()))
            .await
            .expect("pressing Tab in time")
            .expect("pressing Tab");
        assert_eq!(
            p.js("return document.activeElement.className;", vec![]).await,
            "brand",
            "{}: the brand comes after the skip link",
            p.name
        );
        p.click("header nav a[href='/mentors']").await;
        p.wait_at("/mentors", "").await;
        p.screenshot("phone-mentors").await;
    }
    driver.close(vec![visitor, signed_in]).await;
    println!("  phone viewport test took {:?}", t0.elapsed());
    assert!(failures.is_empty(), "on a 390 px phone:\n{}", failures.join("\n"));
}

#[actix_web::test]
async fn a_mentor_adds_weekly_availability_and_sees_a_booking_arrive_live_on_the_calendar() {
    let test = "a_mentor_adds_weekly_availability_and_sees_a_booking_arrive_live_on_the_calendar";
    if !browser_available(test) {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().await;
    let t0 = Instant::now();
    let app = spawn_app().await;
    let mentor = seed_mentor(&app, "Cal Mentor", "Kotlin").await;
    let mentee = app.register("mentee", "Bea Booker").await;
    let mut driver = Driver::start().await;
    let pm = driver.browser("mentor").await;
    let pe = driver.browser("mentee").await;
    pm.sign_in(&app, &mentor.email).await;
    pe.sign_in(&app, &mentee.email).await;

    // Weekly availability from tomorrow: the day of the week, the first
    // week and the times set in the form (date and time widgets take
    // locale-shaped typing, so their values are set; the rest is clicked).
    pm.click("header nav a[href='/calendar']").await;
    pm.wait_at("/calendar", "").await;
    let tomorrow = (Utc::now() + Dur::days(1)).date_naive();
    let weekday = chrono::Datelike::weekday(&tomorrow).number_from_monday();
    pm.js(
        "document.getElementById('w-day').value = arguments[0];
         document.getElementById('w-from').value = arguments[1];
         document.getElementById('w-start').value = '10:00';
         document.getElementById('w-end').value = '11:00';
         document.getElementById('w-weeks').value = '3';
         document.getElementById('w-seats').value = '2';",
        vec![
            json!(weekday.to_string()),
            json!(tomorrow.format("%Y-%m-%d").to_string()),
        ],
    )
    .await;
    pm.type_into("#w-title", "Kotlin office hours").await;
    pm.click("form[action='/calendar/availability/weekly'] button[type=submit]")
        .await;
    pm.wait_at("/calendar", "added=3").await;
    assert!(pm.text(".notice.ok").await.contains("Added 3 weekly slots"));
    let day = pm.text("#day-items").await;
    assert!(
        day.contains("Kotlin office hours") && day.contains("10:00–11:00") && day.contains("0 of 2 booked"),
        "{day}"
    );
    let marked = pm
        .js(
            "return document.querySelectorAll('.month-grid td.busy').length;",
            vec![],
        )
        .await;
    assert!(
        marked.as_i64().unwrap_or(0) >= 1,
        "the month marks the days with slots: {marked}"
    );
    let v: Value = app
        .get_auth("/api/slots/my-slots", &mentor.access)
        .await
        .json()
        .await
        .unwrap();
    let slots: Vec<&Value> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["startTime"] == "10:00")
        .collect();
    assert_eq!(slots.len(), 3, "three weekly slots");
    let first = id_of(slots[0]);
    assert_eq!(slots[0]["date"], tomorrow.format("%Y-%m-%d").to_string());

    // The mentor's calendar stays open (a marker a reload would lose) while
    // the mentee books the first one.
    pm.wait_for(
        "the calendar watching",
        "return document.body.dataset.watching === 'true';",
        vec![],
        |v| v == true,
    )
    .await;
    pm.js("document.body.dataset.marker = 'kept';", vec![]).await;
    let booked = book_by_form(
        &pe,
        &app,
        &format!("/mentors/{}", mentor.id),
        &first,
        "booked=confirmed",
    )
    .await;
    assert!(booked.contains("Your seat is confirmed"), "{booked}");
    let at = Instant::now();
    pm.wait_for(
        "the booking on the mentor's calendar",
        "return document.querySelector(`[data-seats=\"${arguments[0]}\"]`)?.textContent;",
        vec![json!(first)],
        |v| v.as_str().is_some_and(|t| t.contains("1 of 2 booked")),
    )
    .await;
    println!(
        "  the booking showed on the open calendar {:?} after the booking page",
        at.elapsed()
    );
    assert_eq!(
        pm.js("return document.body.dataset.marker;", vec![]).await,
        "kept",
        "no reload"
    );
    pm.wait_for(
        "the change announced",
        "return document.getElementById('announce').textContent;",
        vec![],
        |v| v.as_str().is_some_and(|t| t.contains("1 of 2 booked")),
    )
    .await;

    // The slot's page lists who booked, with the agenda.
    pm.open(&app.url(&format!("/calendar/manage/{first}"))).await;
    let people = pm.text("#people").await;
    assert!(
        people.contains("Bea Booker") && people.contains("Review my CV"),
        "{people}"
    );

    driver.close(vec![pm, pe]).await;
    println!("  calendar test took {:?}", t0.elapsed());
}

/// axe-core on the live room (`/app/`) as each role meets it: signed out,
/// the host in a scheduled session, an attendee waiting and then in the
/// room, the host with an attendee's raised hand (per-person buttons, the
/// queue), the attendee's notice once the host ends it, and an incoming
/// call. No serious or critical violation.
#[actix_web::test]
async fn axe_finds_no_serious_or_critical_violation_in_the_live_room() {
    let test = "axe_finds_no_serious_or_critical_violation_in_the_live_room";
    if !browser_available(test) {
        return;
    }
    let Some(axe) = axe_source(test) else { return };
    let _one = ONE_AT_A_TIME.lock().await;
    let t0 = Instant::now();
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Grace Hopper").await;
    let mentee = app.register("mentee", "Mia Mentee").await;
    let session = crate::browser::webinar_with(&app, &mentor, "Accessible webinar", &[&mentee]).await;
    let live = |who: &Session, extra: &str| format!("{}/app/#token={}{extra}", app.address, who.access);

    let mut driver = Driver::start().await;
    let host = driver.browser("live-host").await;
    let mia = driver.browser("live-mia").await;
    let mut found = Vec::new();

    mia.open(&format!("{}/app/", app.address)).await;
    mia.wait_state("signed-out").await;
    found.extend(mia.axe(&axe, "/app/ signed out").await);

    host.open(&live(&mentor, &format!("&session={session}"))).await;
    host.wait_state("joined").await;
    found.extend(host.axe(&axe, "the host in a scheduled session").await);

    // Only the fragment differs: a fresh load, not a hash change.
    mia.open("about:blank").await;
    mia.open(&live(&mentee, &format!("&session={session}"))).await;
    mia.wait_for(
        "the not-started alert",
        "return document.querySelector('#error').textContent;",
        vec![],
        |v| v.as_str().is_some_and(|s| s.contains("has not started")),
    )
    .await;
    found.extend(mia.axe(&axe, "an attendee waiting for the start").await);

    host.click("#start").await;
    mia.wait_state("joined").await;
    mia.click("#hand").await;
    host.wait_for(
        "Mia's raised hand",
        "return document.querySelector('#hands').textContent;",
        vec![],
        |v| v.as_str().is_some_and(|s| s.contains("Mia Mentee")),
    )
    .await;
    // Mia asks in the session's chat; the host reads it beside the video.
    mia.type_into("#chat-input", "Is there a recording?").await;
    mia.click("#chat-send").await;
    host.wait_for(
        "Mia's question in the host's chat",
        "return document.querySelector('#chat-log').textContent;",
        vec![],
        |v| {
            v.as_str()
                .is_some_and(|s| s.contains("Mia Mentee said: Is there a recording?"))
        },
    )
    .await;
    found.extend(mia.axe(&axe, "an attendee in the room").await);
    found.extend(
        host.axe(&axe, "the host with a raised hand and a question in the chat")
            .await,
    );

    // On a phone (390 x 844) neither room scrolls sideways.
    let too_wide = "const wide = [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth + 0.5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')).slice(0, 5); \
                    return document.documentElement.scrollWidth > innerWidth ? [innerWidth, document.documentElement.scrollWidth, wide] : null;";
    for p in [&host, &mia] {
        tokio::time::timeout(WAIT, p.client.set_window_size(390, 844))
            .await
            .expect("resizing in time")
            .expect("resizing the window");
        let m = p
            .wait_for("the phone's width", "return innerWidth;", vec![], |v| v == 390)
            .await;
        assert_eq!(m, 390);
        let wide = p.js(too_wide, vec![]).await;
        assert!(
            wide.is_null(),
            "{}: the live room scrolls sideways on a phone: {wide}",
            p.name
        );
        // The chat goes under the video on a phone.
        let under = p
            .js(
                "const g = document.querySelector('.stage').getBoundingClientRect(), c = document.querySelector('#chat-panel').getBoundingClientRect(); \
                 return c.top >= g.bottom - 1 && c.width > 0;",
                vec![],
            )
            .await;
        assert_eq!(under, true, "{}: the chat panel is under the video on a phone", p.name);
        p.screenshot("live-phone").await;
    }
    found.extend(host.axe(&axe, "the host's room on a phone").await);

    host.click("#end-session").await;
    mia.wait_for(
        "the end notice",
        "return document.querySelector('#notice').hidden ? null : document.querySelector('#notice-text').textContent;",
        vec![],
        |v| v.as_str().is_some_and(|s| s.contains("The host ended")),
    )
    .await;
    found.extend(mia.axe(&axe, "the attendee after the end").await);
    let wide = mia.js(too_wide, vec![]).await;
    assert!(wide.is_null(), "the lobby scrolls sideways on a phone: {wide}");

    // An incoming call: Mia calls the mentor from the mentor's page.
    mia.sign_in(&app, &mentee.email).await;
    mia.open(&app.url(&format!("/mentors/{}", mentor.id))).await;
    assert_eq!(mia.text("#call-mentor").await, "Call Grace Hopper");
    mia.click("#call-mentor").await;
    mia.wait_for(
        "the live room's call button",
        "return location.pathname === '/app/' && document.querySelector('#call')?.textContent;",
        vec![],
        |v| v == "Call Grace Hopper",
    )
    .await;
    mia.click("#call").await;
    host.wait_state("ringing").await;
    found.extend(host.axe(&axe, "an incoming call").await);
    found.extend(mia.axe(&axe, "calling").await);
    mia.call("window.lyceum.cancelCall()", vec![]).await;

    assert!(
        found.is_empty(),
        "serious or critical violations in the live room:\n{}",
        found.join("\n")
    );
    driver.close(vec![host, mia]).await;
    println!("  live room axe test took {:?}", t0.elapsed());
}
