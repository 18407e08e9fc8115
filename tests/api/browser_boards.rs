//! The boards in a real browser (issue 16): a mentee asks a question by
//! clicking on the board page, a mentor answers by clicking, the mentee's
//! open thread shows the answer arrive live (no reload) and she accepts it,
//! and the mentor's open page gets the notification live (the bell's count)
//! while the email arrives in a local SMTP sink. Headless Chromium with the
//! harness of `browser.rs` and `browser_pages.rs`; the API only seeds what
//! an admin would do (the category).

use std::time::{Duration, Instant};

use serde_json::json;

use crate::browser::{browser_available, Driver, ONE_AT_A_TIME};
use crate::helpers::*;

/// The longest a reader's open thread may take to show a new answer.
const LIVE_LATENCY: Duration = Duration::from_secs(2);

#[actix_web::test]
async fn a_mentee_asks_a_mentor_answers_live_the_mentee_accepts_and_the_mentor_is_told_live_and_by_email() {
    let test = "a_mentee_asks_a_mentor_answers_live_the_mentee_accepts_and_the_mentor_is_told_live_and_by_email";
    if !browser_available(test) {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().await;
    let t0 = Instant::now();
    let (smtp_port, mails) = crate::calendar::smtp_sink().await;
    let smtp = format!("smtp://127.0.0.1:{smtp_port}");
    let app = spawn_app_with(|s| {
        s.reminders.poll_ms = 100;
        s.smtp.url = Some(secrecy::SecretString::from(smtp.clone()));
    })
    .await;
    let admin = app.admin().await;
    let res = app
        .post_auth(
            "/api/boards/categories",
            &admin.access,
            &json!({"slug": "interviews", "name": "Interview preparation", "visibility": "public"}),
        )
        .await;
    assert_eq!(res.status(), reqwest::StatusCode::CREATED);
    let asha = app.register("mentee", "Asha Asker").await;
    let mark = app.register("mentor", "Mark Mentor").await;

    let mut driver = Driver::start().await;
    let mentee = driver.browser("mentee").await;
    let mentor = driver.browser("mentor").await;
    mentee.sign_in(&app, &asha.email).await;
    mentor.sign_in(&app, &mark.email).await;

    // The mentee asks on the board page, by typing and clicking.
    mentee.open(&app.url("/boards")).await;
    mentee
        .type_into("#ask-title", "How do I prepare for a system design round?")
        .await;
    mentee
        .type_into("#ask-body", "I have one in two weeks. Any **tips**?")
        .await;
    mentee.type_into("#ask-tags", "interviews, system-design").await;
    mentee.click_button("Ask the question").await;
    mentee
        .wait_for(
            "the new thread's page",
            "return document.readyState === 'complete' && location.pathname.startsWith('/boards/threads/') && location.search.includes('done=asked');",
            vec![],
            |v| v == true,
        )
        .await;
    let path = mentee
        .js("return location.pathname;", vec![])
        .await
        .as_str()
        .unwrap()
        .to_owned();
    assert!(mentee.text("main").await.contains("Your question is on the board."));
    // Her open page watches the thread; a marker a reload would lose.
    mentee
        .wait_for(
            "the thread watched",
            "return document.body.dataset.watching || null;",
            vec![],
            |v| v == "true",
        )
        .await;
    mentee.js("window.__sameDocument = true; return true;", vec![]).await;

    // The mentor finds it in the board's list and answers by clicking.
    mentor.open(&app.url("/boards")).await;
    mentor.click(&format!("#threads a[href='{path}']")).await;
    mentor.wait_at(&path, "").await;
    mentor
        .type_into(
            "#answer-body",
            "Practise *out loud*: draw the boxes, then talk through the trade-offs.",
        )
        .await;
    mentor.click_button("Post my answer").await;
    let posted = Instant::now();
    mentor.wait_at(&path, "done=answered").await;
    mentor
        .wait_for(
            "the mentor's page connected",
            "return document.body.dataset.watching || null;",
            vec![],
            |v| v == "true",
        )
        .await;
    mentor.js("window.__sameDocument = true; return true;", vec![]).await;
    assert_eq!(
        mentor.text("#unread-count").await,
        "",
        "no notification for the mentor yet"
    );

    // The answer arrives on the mentee's open page, announced, no reload.
    mentee
        .wait_for(
            "the answer shown live",
            "const a = document.querySelector('#answers article[data-author=\"Mark Mentor\"] .post'); return a ? a.textContent : null;",
            vec![],
            |v| v.as_str().is_some_and(|t| t.contains("draw the boxes")),
        )
        .await;
    let latency = posted.elapsed();
    println!("  the answer showed on the mentee's open page {latency:?} after the click");
    assert!(latency < LIVE_LATENCY, "{latency:?}");
    assert_eq!(mentee.js("return window.__sameDocument === true;", vec![]).await, true);
    assert_eq!(mentee.text("#answers-heading").await, "1 answer");
    mentee
        .wait_text(
            "the answer announced",
            "return document.getElementById('announce').textContent;",
            "New answer from Mark Mentor, a mentor",
        )
        .await;
    // The mentor mark (a "Mentor" badge) came with it.
    assert!(mentee.text("#answers article").await.contains("Mentor"));

    // She accepts it with the button named for whose answer it is.
    mentee.click_button("Accept Mark Mentor's answer").await;
    let accepted = Instant::now();
    mentee.wait_at(&path, "done=accepted").await;
    assert!(mentee.text("#answers article").await.contains("Accepted answer"));
    assert!(mentee.text("main").await.contains("You accepted the answer."));

    // The mentor's open page: the bell counts it, the badge appears, no reload.
    mentor
        .wait_for(
            "the bell's count on the mentor's page",
            "return document.getElementById('unread-count').textContent;",
            vec![],
            |v| v == "1",
        )
        .await;
    println!(
        "  the mentor's bell counted it {:?} after the accept",
        accepted.elapsed()
    );
    mentor
        .wait_for(
            "the accepted answer marked live",
            "return document.querySelector('#answers [data-accepted]').textContent;",
            vec![],
            |v| v.as_str().is_some_and(|t| t.contains("Accepted answer")),
        )
        .await;
    assert_eq!(mentor.js("return window.__sameDocument === true;", vec![]).await, true);
    let bell = mentor
        .js(
            "return document.querySelector('#unread-count').parentElement.getAttribute('aria-label');",
            vec![],
        )
        .await;
    assert_eq!(bell, json!("Notifications, 1 unread"));

    // And by email, through the outbox.
    let to = mark.email.to_lowercase();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mail = loop {
        let got = mails
            .lock()
            .unwrap()
            .iter()
            .find(|m| m.to_lowercase().contains(&to))
            .cloned();
        if let Some(m) = got {
            break m;
        }
        assert!(Instant::now() < deadline, "no email to the mentor");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let text = crate::boards::unfold(&mail);
    assert!(text.contains("was accepted"), "{text}");
    assert!(text.contains(&format!("{}{path}", app.address)), "{text}");
    assert!(text.contains("/unsubscribe?u="), "{text}");

    driver.close(vec![mentee, mentor]).await;
    println!("  boards browser test took {:?}", t0.elapsed());
}

/// The bell in a browser (issue 16): the server's unread count on every
/// page, one lower at once when the user marks one read on
/// `/notifications` (in place, no reload, focus on to the next one), none
/// after "Mark all as read", and still none on the next load.
#[actix_web::test]
async fn the_bell_counts_unread_notifications_and_goes_down_as_they_are_marked_read() {
    let test = "the_bell_counts_unread_notifications_and_goes_down_as_they_are_marked_read";
    if !browser_available(test) {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().await;
    let app = spawn_app().await;
    let una = app.register("mentee", "Una Unread").await;
    crate::browser_pages::seed_unread(&app, una.id, 3).await;
    let bell = "const c = document.getElementById('unread-count'); \
                return [c.textContent, c.parentElement.getAttribute('aria-label')];";
    let mut driver = Driver::start().await;
    let page = driver.browser("mentee").await;
    page.sign_in(&app, &una.email).await;

    // Any page: three unread, said in words.
    page.open(&app.url("/mentors")).await;
    assert_eq!(page.js(bell, vec![]).await, json!(["3", "Notifications, 3 unread"]));

    // On /notifications: each unread one says so; marking one read lowers the bell at once.
    page.open(&app.url("/notifications")).await;
    page.wait_for(
        "the page live",
        "return document.getElementById('notifications').dataset.live || null;",
        vec![],
        |v| v == "true",
    )
    .await;
    page.js("window.__sameDocument = true; return true;", vec![]).await;
    assert_eq!(
        page.js(
            "return document.querySelectorAll('#notifications li.unread .badge.unread').length;",
            vec![]
        )
        .await,
        json!(3)
    );
    assert_eq!(page.text("#unread-total").await, "3 unread notifications.");
    page.click_button("Mark as read: Marco replied in Thread 3").await;
    page.wait_for("the bell at 2", bell, vec![], |v| {
        v == &json!(["2", "Notifications, 2 unread"])
    })
    .await;
    assert_eq!(page.text("#unread-total").await, "2 unread notifications.");
    assert_eq!(
        page.js(
            "const li = document.querySelector('#notifications li'); \
             return [li.classList.contains('unread'), !!li.querySelector('.badge, form')];",
            vec![]
        )
        .await,
        json!([false, false]),
        "the newest is read: no badge, no button"
    );
    assert_eq!(
        page.js("return document.activeElement.textContent;", vec![]).await,
        json!("Mark as read: Marco replied in Thread 2"),
        "focus goes on to the next unread one"
    );
    page.wait_text(
        "announced",
        "return document.getElementById('announce').textContent;",
        "Marked as read.",
    )
    .await;
    assert_eq!(page.js("return window.__sameDocument === true;", vec![]).await, true);
    let api = |token: String| {
        let app = &app;
        async move {
            let res = app
                .http
                .get(app.url("/api/notifications/unread-count"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            res.json::<serde_json::Value>().await.unwrap()["unread"].clone()
        }
    };
    assert_eq!(api(una.access.clone()).await, json!(2));

    // Mark all: the bell has no count, the button goes.
    page.click_button("Mark all as read").await;
    page.wait_for("the bell empty", bell, vec![], |v| v == &json!(["", "Notifications"]))
        .await;
    assert_eq!(page.text("#unread-total").await, "No unread notifications.");
    assert_eq!(
        page.js(
            "return [document.getElementById('mark-all').hidden, document.querySelectorAll('#notifications .unread').length];",
            vec![]
        )
        .await,
        json!([true, 0])
    );
    assert_eq!(page.js("return window.__sameDocument === true;", vec![]).await, true);
    assert_eq!(api(una.access.clone()).await, json!(0));
    // And so on the next load, anywhere.
    page.open(&app.url("/mentors")).await;
    assert_eq!(page.js(bell, vec![]).await, json!(["", "Notifications"]));
    driver.close(vec![page]).await;
}
