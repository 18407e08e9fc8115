//! A webinar as people run it, in four real browsers (issue 15): the host
//! and three attendees sign in with the form and join by clicking; every
//! attendee decodes the host's camera at 1280x720 for 10 s; the host
//! promotes one attendee with the per-person button, and the others decode
//! them; the host ends it and every attendee is told.
//!
//! The harness is `browser.rs`'s (and `browser_pages.rs`'s page helpers);
//! without Chromium the test skips, unless `LYCEUM_REQUIRE_BROWSER=1`.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::browser::{browser_available, Driver, Page, ALERTS, ONE_AT_A_TIME};
use crate::browser_pages::{seed_mentor, seed_session};
use crate::helpers::*;

/// The decoded size and frame count of `arguments[0]`'s camera.
const CAMERA: &str =
    "return window.lyceum.stats().then(s => s.filter(x => x.userId === arguments[0] && x.source === 'camera')\
     .map(x => [x.frameWidth || 0, x.frameHeight || 0, x.framesDecoded || 0])[0] || null);";

fn at_least_720p(v: &Value) -> bool {
    v[0].as_u64().unwrap_or(0) >= 1280 && v[1].as_u64().unwrap_or(0) >= 720
}

#[actix_web::test]
async fn a_host_and_three_attendees_run_a_webinar_by_clicking_at_720p() {
    let test = "a_host_and_three_attendees_run_a_webinar_by_clicking_at_720p";
    if !browser_available(test) {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().await;
    let t0 = Instant::now();
    let app = spawn_app().await;
    let title = "System design webinar";
    let mentor = seed_mentor(&app, "Hana Host", "System design").await;
    let session = seed_session(&app, &mentor, title, 10).await;
    let names = ["Ari Attendee", "Bea Attendee", "Cy Attendee"];
    let mut attendees = Vec::new();
    for n in names {
        let s = app.register("mentee", n).await;
        let res = app
            .post_auth(&format!("/api/sessions/{session}/register"), &s.access, &json!({}))
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
        attendees.push(s);
    }

    let mut driver = Driver::start().await;
    let host = driver.browser("host").await;
    let mut pages: Vec<Page> = Vec::new();
    for (i, _) in names.iter().enumerate() {
        pages.push(driver.browser(&format!("attendee{}", i + 1)).await);
    }

    // The host starts the webinar from its page on the calendar and enters
    // the live room, all by clicking.
    host.sign_in(&app, &mentor.email).await;
    let manage = format!("/calendar/manage/{session}");
    host.open(&app.url(&manage)).await;
    host.click_button(&format!("Start {title}")).await;
    host.wait_at(&manage, "").await;
    host.wait_for(
        "the manage page to say it is live",
        "return document.querySelector('main').textContent;",
        vec![],
        |v| v.as_str().is_some_and(|s| s.contains("live now")),
    )
    .await;
    host.click("main a[href^='/app/']").await;
    host.wait_state("joined").await;
    assert_eq!(host.js("return window.lyceum.state.role;", vec![]).await, "host");
    let sending = host
        .wait_for(
            "three simulcast layers, the top at 1280x720",
            "return window.lyceum.outbound();",
            vec![],
            |v| {
                v.as_array().is_some_and(|ls| {
                    ls.iter().any(|l| {
                        l["rid"] == "h"
                            && l["frameWidth"].as_u64() == Some(1280)
                            && l["frameHeight"].as_u64() == Some(720)
                    }) && ls.len() == 3
                })
            },
        )
        .await;
    println!("  host sends {sending} after {:?}", t0.elapsed());

    // Each attendee signs in, opens the session's page and clicks Join.
    let path = format!("/sessions/{session}");
    for (page, who) in pages.iter().zip(&attendees) {
        page.sign_in(&app, &who.email).await;
        page.open(&app.url(&path)).await;
        page.click("#join").await;
        page.wait_state("joined").await;
        assert_eq!(page.js("return window.lyceum.state.role;", vec![]).await, "attendee");
        page.wait_text(
            "the webinar's title",
            "return document.querySelector('#room-title').textContent;",
            title,
        )
        .await;
    }
    println!("  three attendees joined after {:?}", t0.elapsed());

    // Each clicks the host's video to enlarge it, and gets 1280x720.
    let host_id = mentor.id.to_string();
    let tile = format!(".tile[data-user-id=\"{host_id}\"] video.camera");
    for page in &pages {
        page.wait_decoding(&[("host", mentor.id)]).await;
        page.click(&tile).await;
        page.wait_for(
            "the high quality hint",
            "return window.lyceum.state.quality;",
            vec![],
            |v| v == "high",
        )
        .await;
    }
    let t1 = Instant::now();
    let mut firsts = Vec::new();
    for page in &pages {
        let top = page
            .wait_for(
                "the host's camera at 1280x720",
                CAMERA,
                vec![json!(host_id)],
                at_least_720p,
            )
            .await;
        firsts.push(top);
    }
    println!(
        "  all three decode the host at 720p {:?} after the clicks",
        t1.elapsed()
    );

    // For 10 s, sampled every 500 ms on every attendee: never below 720p,
    // and frames keep coming.
    let start = Instant::now();
    let mut lasts = firsts.clone();
    let mut samples = 0;
    while start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        for (i, page) in pages.iter().enumerate() {
            let v = page.js(CAMERA, vec![json!(host_id)]).await;
            assert!(
                at_least_720p(&v),
                "{}: the host's camera fell below 1280x720 after {:?}: {v}\n{}",
                page.name,
                start.elapsed(),
                page.page_log().await
            );
            lasts[i] = v;
        }
        samples += 1;
    }
    for (i, page) in pages.iter().enumerate() {
        let (first, last) = (firsts[i][2].as_u64().unwrap_or(0), lasts[i][2].as_u64().unwrap_or(0));
        // The fake camera sends 30 fps: 10 s is ~300 frames; 100 leaves
        // room for a busy machine and still fails a frozen picture.
        assert!(
            last > first + 100,
            "{}: frames kept coming at 720p for 10 s: {first} then {last}",
            page.name
        );
        println!(
            "  {}: {} frames at {}x{} over 10 s ({samples} samples)",
            page.name,
            last - first,
            lasts[i][0],
            lasts[i][1]
        );
    }

    // The host makes Ari a speaker with the button named for her; Ari
    // publishes and Bea, Cy and the host decode her.
    host.click_button(&format!("Make {} a speaker", names[0])).await;
    pages[0]
        .wait_for("Ari a speaker", "return window.lyceum.state.role;", vec![], |v| {
            v == "speaker"
        })
        .await;
    let ari = [("ari", attendees[0].id)];
    host.wait_decoding(&ari).await;
    pages[1].wait_decoding(&ari).await;
    pages[2].wait_decoding(&ari).await;

    // Bea asks a question in the session's chat beside the video, without
    // a microphone: the host (and the other attendees) read it under her
    // name; the host's answer reaches her.
    let question = "Could you go over the sharding slide again?";
    pages[1].type_into("#chat-input", question).await;
    pages[1].click("#chat-send").await;
    let chat_log = "return document.querySelector('#chat-log').textContent;";
    host.wait_text(
        "Bea's question at the host",
        chat_log,
        &format!("{} said: {question}", names[1]),
    )
    .await;
    pages[2].wait_text("Bea's question at Cy", chat_log, question).await;
    assert_eq!(
        pages[1]
            .js("return document.querySelector('#chat-input').value;", vec![])
            .await,
        "",
        "the send box is emptied once the message is sent"
    );
    host.type_into("#chat-input", "Sure, one moment.").await;
    host.click("#chat-send").await;
    pages[1]
        .wait_text(
            "the host's answer at Bea",
            chat_log,
            "Hana Host said: Sure, one moment.",
        )
        .await;
    // Stored once each, in the session's room.
    let n: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM messages m JOIN rooms r ON r.id = m.room_id WHERE r.offering_id = $1::text::uuid",
            &[&session],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2);

    // The host ends it: every attendee's page says so, in words.
    host.click("#end-session").await;
    host.wait_state("idle").await;
    for page in &pages {
        page.wait_state("idle").await;
        page.wait_text("the end notice", ALERTS, &format!("The host ended “{title}”"))
            .await;
    }
    let res = app.get_auth(&format!("/api/sessions/{session}"), &mentor.access).await;
    assert_eq!(res.json::<Value>().await.unwrap()["state"], "completed");

    let mut all = vec![host];
    all.extend(pages);
    driver.close(all).await;
    println!("  webinar test took {:?}", t0.elapsed());
}
