//! Mentorship beyond one booking (issue 17) as people do it, in headless
//! Chromium with the harness of `browser.rs` and `browser_pages.rs`:
//!
//! - a mentee reviews a mentor on My bookings after a session she attended
//!   (the live room's join), then sees the new rating on the mentor's page
//!   and in the directory, found with its rating filter;
//! - a mentee fills in the matching questionnaire by typing and choosing,
//!   reads the reasons in words, requests a mentorship; the mentor accepts
//!   it on /mentorships; both then have a "Message <name>" link to the
//!   conversation the accept opened (`/chat/{room}`), which opens it;
//! - a mentor starts and ends a group session on its calendar page and the
//!   dashboard then shows it held, with its booked and attended counts.
//!
//! The API is used only for what another actor does (seeding mentors and
//! sessions, an attendee joining the live room over the WebSocket) and to
//! check the outcome. Without Chromium the tests skip, unless
//! `LYCEUM_REQUIRE_BROWSER=1`.

use std::time::Instant;

use fantoccini::Locator;
use lyceum_protocol::frames::Command;
use lyceum_protocol::LiveId;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::browser::{browser_available, Driver, Page, ONE_AT_A_TIME, WAIT};
use crate::browser_pages::{seed_mentor, seed_session};
use crate::helpers::*;
use crate::ws::Ws;

impl Page {
    /// A real WebDriver click on the button whose text is `name` (what a
    /// screen reader announces for these buttons, which carry no
    /// aria-label).
    async fn click_named(&self, name: &str) {
        let xpath = format!("//button[normalize-space(.)='{name}']");
        let el = match tokio::time::timeout(
            WAIT,
            self.client.wait().at_most(WAIT).for_element(Locator::XPath(&xpath)),
        )
        .await
        {
            Ok(Ok(el)) => el,
            other => panic!("{}: no button named {name:?}: {other:?}", self.name),
        };
        tokio::time::timeout(WAIT, el.click())
            .await
            .unwrap_or_else(|_| panic!("{}: clicking {name:?} timed out", self.name))
            .unwrap_or_else(|e| panic!("{}: clicking {name:?}: {e}", self.name));
    }

    /// Chooses the option of value `value` in the select `css`.
    async fn choose(&self, css: &str, value: &str) {
        self.find(css)
            .await
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("{}: choosing {value} in {css}: {e}", self.name));
    }

    /// The text of every element matching `css`, trimmed, in order.
    async fn texts(&self, css: &str) -> Vec<String> {
        let v = self
            .js(
                "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent.replace(/\\s+/g, ' ').trim());",
                vec![json!(css)],
            )
            .await;
        v.as_array()
            .into_iter()
            .flatten()
            .map(|s| s.as_str().unwrap_or("").to_owned())
            .collect()
    }
}

/// The href and text of the "Message <name>" link on /mentorships.
async fn message_link(page: &Page) -> Value {
    page.js(
        "const a = [...document.querySelectorAll('#mentorships a')].find(a => a.textContent.trim().startsWith('Message ')); \
         return a ? [a.getAttribute('href'), a.textContent.trim()] : null;",
        vec![],
    )
    .await
}

/// The dashboard's figures as read aloud: `Sessions held 1 Hours 1 …`.
async fn figures(page: &Page) -> String {
    let v = page
        .js("return document.querySelector('dl.figures').innerText;", vec![])
        .await;
    v.as_str()
        .unwrap_or("")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

async fn ok_json(res: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(res.status(), status);
    res.json().await.unwrap()
}

/// A seeded group session the mentor started, with `mentees` registered;
/// the first joins its live room (that is attendance): (session id, the
/// first mentee's booking id).
async fn started_session(app: &TestApp, mentor: &Session, title: &str, mentees: &[&Session]) -> (String, String) {
    let session = seed_session(app, mentor, title, 10).await;
    let mut first = None;
    for m in mentees {
        let v = ok_json(
            app.post_auth(&format!("/api/sessions/{session}/register"), &m.access, &json!({}))
                .await,
            StatusCode::CREATED,
        )
        .await;
        first.get_or_insert_with(|| v["booking"]["id"].as_str().unwrap().to_owned());
    }
    (session, first.expect("a mentee"))
}

/// `who` joins the live room of a started session over the WebSocket, as
/// the live page does; the connection is returned to keep it open.
async fn join_live(app: &TestApp, who: &Session, session: &str) -> Ws {
    let mut ws = Ws::connect(app, &who.access).await;
    let id: LiveId = session.parse().unwrap();
    ws.acked(&Command::SessionJoin { session_id: id }).await;
    ws
}

#[actix_web::test]
async fn a_mentee_reviews_a_mentor_on_my_bookings_and_sees_the_rating_in_the_directory() {
    let test = "a_mentee_reviews_a_mentor_on_my_bookings_and_sees_the_rating_in_the_directory";
    if !browser_available(test) {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().await;
    let t0 = Instant::now();
    let app = spawn_app().await;
    let mentor = seed_mentor(&app, "Grace Hopper", "Rust").await;
    let _decoy = seed_mentor(&app, "Haskell Curry", "Haskell").await;
    let mia = app.register("mentee", "Mia Mentee").await;
    let title = "Rust career Q&A";
    let (session, booking) = started_session(&app, &mentor, title, &[&mia]).await;
    ok_json(
        app.post_auth(&format!("/api/sessions/{session}/start"), &mentor.access, &json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    // Mia attends: she joins the live room; then the mentor ends it.
    let ws = join_live(&app, &mia, &session).await;
    ok_json(
        app.post_auth(&format!("/api/sessions/{session}/complete"), &mentor.access, &json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    drop(ws);
    let mentor_path = format!("/mentors/{}", mentor.id);

    let mut driver = Driver::start().await;
    let page = driver.browser("mia").await;
    page.sign_in(&app, &mia.email).await;
    // No rating before the review.
    page.open(&app.url(&mentor_path)).await;
    assert!(
        page.text("section[aria-labelledby=reviews]")
            .await
            .contains("No reviews yet."),
        "no rating yet"
    );

    // My bookings: the review form of the attended session.
    page.click("header nav a[href='/bookings']").await;
    page.wait_at("/bookings", "").await;
    let row = format!("tr[data-booking=\"{booking}\"]");
    assert!(page.text(&row).await.contains(title));
    assert!(
        !page.text(&row).await.contains("Cancel"),
        "an ended session is not cancelled: {}",
        page.text(&row).await
    );
    page.choose(&format!("#rating-{booking}"), "5").await;
    page.type_into(&format!("#text-{booking}"), "Clear answers, and a reading list.")
        .await;
    page.click(&format!("{row} form.review button[type=submit]")).await;
    page.wait_at("/bookings", "reviewed=1").await;
    assert!(page.text(".notice.ok").await.contains("Thank you!"));
    assert!(
        page.text(&row).await.contains("You reviewed Grace Hopper for this."),
        "{}",
        page.text(&row).await
    );
    assert!(
        !page.shown(&format!("{row} form.review")).await,
        "no second review form"
    );

    // The mentor's page: the rating and the review, by display name.
    page.click(&format!("{row} a[href='{mentor_path}']")).await;
    page.wait_at(&mentor_path, "").await;
    let reviews = page.text("section[aria-labelledby=reviews]").await;
    assert!(reviews.contains("5.0 ★ (1 reviews)"), "{reviews}");
    assert!(reviews.contains("5 of 5 from Mia Mentee"), "{reviews}");
    assert!(reviews.contains("Clear answers, and a reading list."), "{reviews}");
    assert!(!reviews.contains(&mia.email));

    // The directory: filtered by rating, only Grace, with her rating.
    page.click("header nav a[href='/mentors']").await;
    page.wait_at("/mentors", "").await;
    page.type_into("#minRating", "4.5").await;
    page.enter("#minRating").await;
    page.wait_at("/mentors", "minRating=4.5").await;
    let found = page.texts("ul.cards .card h2 a").await;
    assert_eq!(found, ["Grace Hopper"], "only the rated mentor");
    let card = page.text("ul.cards .card").await;
    assert!(card.contains("5.0 ★ (1 reviews)"), "{card}");

    driver.close(vec![page]).await;
    println!("  review test took {:?}", t0.elapsed());
}

#[actix_web::test]
async fn a_mentee_matches_requests_a_mentorship_the_mentor_accepts_and_their_conversation_opens() {
    let test = "a_mentee_matches_requests_a_mentorship_the_mentor_accepts_and_their_conversation_opens";
    if !browser_available(test) {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().await;
    let t0 = Instant::now();
    let app = spawn_app().await;
    let grace = seed_mentor(&app, "Grace Hopper", "Rust").await;
    let _decoy = seed_mentor(&app, "Haskell Curry", "Haskell").await;
    let mia = app.register("mentee", "Mia Mentee").await;

    let mut driver = Driver::start().await;
    let mentee = driver.browser("mia").await;
    let mentor = driver.browser("grace").await;

    // Grace has her notifications open (connected for live ones).
    mentor.sign_in(&app, &grace.email).await;
    mentor.open(&app.url("/notifications")).await;
    mentor
        .wait_for(
            "the notifications page connected",
            "return document.getElementById('notifications').dataset.live === 'true';",
            vec![],
            |v| v == true,
        )
        .await;

    // The questionnaire, from My bookings, by typing and choosing.
    mentee.sign_in(&app, &mia.email).await;
    mentee.open(&app.url("/bookings")).await;
    mentee.click("main a[href='/matching']").await;
    mentee.wait_at("/matching", "").await;
    mentee.type_into("#skill1", "Rust").await;
    mentee.choose("#level1", "advanced").await;
    mentee.type_into("#goals", "Ship compilers at work").await;
    mentee.type_into("#categories", "career").await;
    mentee.click("form[action='/matching'] button[type=submit]").await;
    mentee.wait_at("/matching", "timeZone=").await;
    let names = mentee.texts("#matches > li h3 a").await;
    assert_eq!(names.first().map(String::as_str), Some("Grace Hopper"), "{names:?}");
    let reasons = mentee.texts("#matches > li:first-child ul.reasons li").await;
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("knows Rust (expert) at your target level")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("their profile mentions")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().all(|r| !r.is_empty() && !r.contains('{')),
        "reasons in words: {reasons:?}"
    );

    // Requests a mentorship with Grace (the goals come along).
    mentee.click_named("Request mentorship with Grace Hopper").await;
    mentee.wait_at("/mentorships", "done=requested").await;
    let card = mentee.text("#mentorships li").await;
    assert!(
        card.contains("Mentor: Grace Hopper") && card.contains("pending"),
        "{card}"
    );
    assert!(card.contains("Goals: Ship compilers at work"), "{card}");

    // The request reaches Grace's open page without a reload, in words,
    // linking to /mentorships, where she accepts it.
    mentor
        .wait_text(
            "the request on the notifications page",
            "return document.querySelector('#notifications li a[href=\"/mentorships\"]')?.textContent ?? null;",
            "Mia Mentee asks you for a mentorship",
        )
        .await;
    mentor.click("#notifications li a[href='/mentorships']").await;
    mentor.wait_at("/mentorships", "").await;
    mentor.click_named("Accept Mia Mentee").await;
    mentor.wait_at("/mentorships", "done=accept").await;
    assert!(mentor
        .text(".notice.ok")
        .await
        .contains("your conversation with the mentee is open"));

    // The room the accept opened, as the API reports it: both are members.
    let list = ok_json(app.get_auth("/api/mentorships", &mia.access).await, StatusCode::OK).await;
    let m = &list["items"][0];
    assert_eq!(m["status"], "accepted");
    let room = m["roomId"].as_str().expect("the accepted mentorship's room").to_owned();
    let r = ok_json(
        app.get_auth(&format!("/api/rooms/{room}"), &mia.access).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(r["kind"], "direct");
    let mut members: Vec<String> = r["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["userId"].as_str().unwrap().to_owned())
        .collect();
    members.sort();
    let mut both = vec![grace.id.to_string(), mia.id.to_string()];
    both.sort();
    assert_eq!(members, both);

    // Each sees "Message <the other>" to that room.
    let chat = format!("/chat/{room}");
    assert_eq!(
        message_link(&mentor).await,
        json!([chat, "Message Mia Mentee"]),
        "the mentor's link"
    );
    mentee.open(&app.url("/mentorships")).await;
    let card = mentee.text("#mentorships li").await;
    assert!(
        card.contains("accepted") && card.contains("Your conversation is open."),
        "{card}"
    );
    assert_eq!(
        message_link(&mentee).await,
        json!([chat, "Message Grace Hopper"]),
        "the mentee's link"
    );
    // Following it opens their conversation, headed by the other's name.
    mentee.click(&format!("#mentorships a[href='{chat}']")).await;
    mentee.wait_at(&chat, "").await;
    assert_eq!(mentee.text("main h1").await, "Grace Hopper");
    mentor.click(&format!("#mentorships a[href='{chat}']")).await;
    mentor.wait_at(&chat, "").await;
    assert_eq!(mentor.text("main h1").await, "Mia Mentee");

    driver.close(vec![mentee, mentor]).await;
    println!("  matching and mentorship test took {:?}", t0.elapsed());
}

#[actix_web::test]
async fn a_mentors_dashboard_shows_the_session_just_held() {
    let test = "a_mentors_dashboard_shows_the_session_just_held";
    if !browser_available(test) {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().await;
    let t0 = Instant::now();
    let app = spawn_app().await;
    let grace = seed_mentor(&app, "Grace Hopper", "Rust").await;
    let ada = app.register("mentee", "Ada Attendee").await;
    let bo = app.register("mentee", "Bo Absent").await;
    let title = "Compiler office hours";
    let (session, _) = started_session(&app, &grace, title, &[&ada, &bo]).await;

    let mut driver = Driver::start().await;
    let page = driver.browser("grace").await;
    page.sign_in(&app, &grace.email).await;
    // Before: upcoming, nothing held.
    page.open(&app.url("/dashboard")).await;
    let before = figures(&page).await;
    assert!(before.contains("Sessions held 0"), "{before}");

    // Grace starts it on its calendar page; Ada joins the live room, Bo
    // never comes; Grace ends it.
    let manage = format!("/calendar/manage/{session}");
    page.open(&app.url(&manage)).await;
    page.click_named(&format!("Start {title}")).await;
    page.wait_at(&manage, "").await;
    page.wait_text(
        "the session live",
        "return document.querySelector('main').textContent;",
        "live now",
    )
    .await;
    let ws = join_live(&app, &ada, &session).await;
    page.click_named(&format!("End {title}")).await;
    page.wait_at(&manage, "").await;
    page.wait_text(
        "the session ended",
        "return document.querySelector('main').textContent;",
        "The session has ended.",
    )
    .await;
    drop(ws);

    // The dashboard, from My calendar: held, under Past, 2 booked, 1 came.
    page.open(&app.url("/calendar")).await;
    page.click("main a[href='/dashboard']").await;
    page.wait_at("/dashboard", "").await;
    let figures = figures(&page).await;
    assert!(figures.contains("Sessions held 1"), "{figures}");
    assert!(figures.contains("Attendance 50 % (1 of 2 booked)"), "{figures}");
    let past = page
        .js(
            "const h = [...document.querySelectorAll('main h2')].find(h => h.textContent.trim() === arguments[0]); \
             const t = h && h.nextElementSibling; \
             return t ? [...t.querySelectorAll('tbody tr')].map(r => [...r.cells].map(c => c.textContent.trim())) : null;",
            vec![json!("Past")],
        )
        .await;
    let rows = past.as_array().expect("a Past table");
    let row = rows
        .iter()
        .find(|r| r[0] == title)
        .unwrap_or_else(|| panic!("the session under Past: {past}"));
    assert_eq!(
        (row[2].as_str(), row[3].as_str()),
        (Some("2 of 10"), Some("1")),
        "{row}"
    );
    let upcoming = page
        .js(
            "const h = [...document.querySelectorAll('main h2')].find(h => h.textContent.trim() === 'Upcoming'); \
             return h ? h.nextElementSibling.textContent : null;",
            vec![],
        )
        .await;
    assert!(
        !upcoming.as_str().unwrap_or("").contains(title),
        "no longer upcoming: {upcoming}"
    );

    driver.close(vec![page]).await;
    println!("  dashboard test took {:?}", t0.elapsed());
}
