//! Booking notifications (issue 16): a booking confirmed, promoted off the
//! waitlist or cancelled by the mentor becomes a stored notification, once
//! per user and booking, pushed live to the user's open connections and
//! emailed through the outbox when the user's preference allows; the
//! mentor of a slot hears of its bookings and cancels; nobody is told of
//! their own cancel, and nobody else sees any of it.

use std::time::Duration;

use chrono::{DateTime, Duration as Dur, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::ws::Ws;

/// `(kind, title)` of a user's notifications, newest first.
async fn notices(app: &TestApp, who: &Session) -> Vec<(String, String)> {
    items(app, who)
        .await
        .iter()
        .map(|n| {
            (
                n["kind"].as_str().unwrap().to_owned(),
                n["payload"]["title"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

async fn items(app: &TestApp, who: &Session) -> Vec<Value> {
    let res = app.get_auth("/api/notifications", &who.access).await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    v["items"].as_array().unwrap().clone()
}

/// How many notifications of `kind` for `booking` the user has.
async fn stored(app: &TestApp, user: uuid::Uuid, kind: &str, booking: &str) -> i64 {
    app.db
        .query_one(
            "SELECT count(*) FROM notifications WHERE user_id = $1 AND kind = $2 AND payload->>'bookingId' = $3",
            &[&user, &kind, &booking],
        )
        .await
        .unwrap()
        .get(0)
}

/// The start of a slot or session in words, as the titles say it.
fn at(v: &Value) -> String {
    let t: DateTime<Utc> = v["startsAt"].as_str().unwrap().parse().unwrap();
    t.format("%a %-d %b %H:%M UTC").to_string()
}

async fn booked(app: &TestApp, mentee: &Session, slot: &str) -> Value {
    let res = app.book(mentee, slot).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json().await.unwrap()
}

async fn session(app: &TestApp, mentor: &Session, title: &str, in_minutes: i64, seats: i32) -> Value {
    let res = app
        .post_auth(
            "/api/sessions",
            &mentor.access,
            &json!({"title": title, "startsAt": Utc::now() + Dur::minutes(in_minutes),
                    "durationMinutes": 60, "capacity": seats}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json().await.unwrap()
}

#[actix_web::test]
async fn booking_a_slot_notifies_the_mentee_once_live_and_the_mentor() {
    let app = spawn_app().await;
    let grace = app.register("mentor", "Grace Mentor").await;
    let ada = app.register("mentee", "Ada Mentee").await;
    let eve = app.register("mentee", "Eve Other").await;
    let mut ada_ws = Ws::connect(&app, &ada.access).await;
    let mut eve_ws = Ws::connect(&app, &eve.access).await;

    let slot = app.slot(&grace, 300, 2).await;
    let id = slot["id"].as_str().unwrap().to_owned();
    let b = booked(&app, &ada, &id).await;
    let booking = b["booking"]["id"].as_str().unwrap().to_owned();
    assert_eq!(b["booking"]["status"], "confirmed");

    // Live, on Ada's open connection, with the title in words and the ids.
    let title = format!("Your booking with Grace Mentor on {} is confirmed", at(&slot));
    let n = ada_ws.next_of("notification").await;
    assert_eq!(n["kind"], "booking_confirmed", "{n}");
    let p = &n["payload"];
    assert_eq!(p["title"], title.as_str());
    assert_eq!(p["bookingId"], booking.as_str());
    assert_eq!(p["offeringId"], id.as_str());
    assert_eq!(p["offeringKind"], "slot");
    assert_eq!(p["mentorId"], grace.id.to_string());
    assert_eq!(p["to"], "mentee");
    let starts: DateTime<Utc> = p["startsAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        starts,
        slot["startsAt"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap()
    );
    // Stored, with the same id as pushed.
    let listed = items(&app, &ada).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], n["id"]);
    assert_eq!(listed[0]["payload"], n["payload"]);

    // Booking again is refused and notifies no one again.
    let res = app.book(&ada, &id).await;
    assert_error(res, StatusCode::CONFLICT, "already_booked").await;
    assert_eq!(stored(&app, ada.id, "booking_confirmed", &booking).await, 1);
    assert_eq!(notices(&app, &ada).await.len(), 1);
    ada_ws.quiet("notification", Duration::from_millis(300)).await;

    // The mentor hears of the booking.
    assert_eq!(
        notices(&app, &grace).await,
        [(
            "booking_received".to_owned(),
            format!("Ada Mentee booked your slot on {}", at(&slot))
        )]
    );
    let g = &items(&app, &grace).await[0]["payload"];
    assert_eq!(
        (g["to"].as_str(), g["by"]["id"].as_str()),
        (Some("mentor"), Some(ada.id.to_string().as_str()))
    );

    // Nobody else sees any of it, live or listed.
    eve_ws.quiet("notification", Duration::from_millis(300)).await;
    assert!(notices(&app, &eve).await.is_empty());
    let res = app
        .http
        .post(app.url(&format!("/api/notifications/{}/read", n["id"])))
        .bearer_auth(&eve.access)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "notification_not_found").await;

    // A waitlisted booking notifies no one (Eve's answer says it).
    let full = app.slot(&grace, 600, 1).await;
    let full_id = full["id"].as_str().unwrap();
    booked(&app, &ada, full_id).await;
    let w = booked(&app, &eve, full_id).await;
    assert_eq!(w["booking"]["status"], "waitlisted");
    eve_ws.quiet("notification", Duration::from_millis(300)).await;
    assert!(notices(&app, &eve).await.is_empty());
    assert_eq!(notices(&app, &grace).await.len(), 2, "Ada's second booking only");
}

#[actix_web::test]
async fn a_cancel_promotes_the_waitlisted_mentee_who_is_told_and_the_canceller_is_not() {
    let app = spawn_app().await;
    let grace = app.register("mentor", "Grace Mentor").await;
    let ada = app.register("mentee", "Ada Mentee").await;
    let bo = app.register("mentee", "Bo Mentee").await;
    let slot = app.slot(&grace, 300, 1).await;
    let id = slot["id"].as_str().unwrap().to_owned();
    booked(&app, &ada, &id).await;
    let w = booked(&app, &bo, &id).await;
    assert_eq!(w["booking"]["status"], "waitlisted");
    let bo_booking = w["booking"]["id"].as_str().unwrap().to_owned();
    let mut bo_ws = Ws::connect(&app, &bo.access).await;
    let mut ada_ws = Ws::connect(&app, &ada.access).await;

    let res = app
        .post_auth("/api/slots/cancel", &ada.access, &json!({"slotId": id}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    let n = bo_ws.next_of("notification").await;
    assert_eq!(n["kind"], "booking_promoted", "{n}");
    assert_eq!(
        n["payload"]["title"],
        format!(
            "A seat opened: your booking with Grace Mentor on {} is confirmed",
            at(&slot)
        )
        .as_str()
    );
    assert_eq!(n["payload"]["bookingId"], bo_booking.as_str());
    assert_eq!(stored(&app, bo.id, "booking_promoted", &bo_booking).await, 1);
    // Ada cancelled: she is not told of her own cancel.
    ada_ws.quiet("notification", Duration::from_millis(300)).await;
    assert_eq!(
        notices(&app, &ada)
            .await
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>(),
        ["booking_confirmed"]
    );
    // The mentor: Ada's booking, her cancel (by her, in words), Bo's promotion.
    let when = at(&slot);
    assert_eq!(
        notices(&app, &grace).await,
        [
            (
                "booking_received".to_owned(),
                format!("Bo Mentee moved up from the waitlist and booked your slot on {when}")
            ),
            (
                "booking_cancelled".to_owned(),
                format!("Ada Mentee cancelled their booking of your slot on {when}")
            ),
            (
                "booking_received".to_owned(),
                format!("Ada Mentee booked your slot on {when}")
            ),
        ]
    );
    let cancel = &items(&app, &grace).await[1]["payload"];
    assert_eq!(cancel["by"]["displayName"], "Ada Mentee");
    assert_eq!(cancel["reason"], "mentee_cancelled");

    // Bo gives the seat up in turn: nobody is waiting, nobody promoted.
    let res = app
        .post_auth("/api/slots/cancel", &bo.access, &json!({"slotId": id}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    bo_ws.quiet("notification", Duration::from_millis(300)).await;
    assert_eq!(notices(&app, &bo).await.len(), 1);
    assert_eq!(notices(&app, &grace).await.len(), 4);
}

#[actix_web::test]
async fn a_mentor_cancelling_a_slot_or_a_session_tells_every_booked_mentee() {
    let app = spawn_app().await;
    let grace = app.register("mentor", "Grace Mentor").await;
    let ada = app.register("mentee", "Ada Mentee").await;
    let bo = app.register("mentee", "Bo Mentee").await;

    // A slot with Ada confirmed and Bo waitlisted, deleted by Grace.
    let slot = app.slot(&grace, 300, 1).await;
    let id = slot["id"].as_str().unwrap().to_owned();
    let a = booked(&app, &ada, &id).await;
    let b = booked(&app, &bo, &id).await;
    let mut ada_ws = Ws::connect(&app, &ada.access).await;
    let mut bo_ws = Ws::connect(&app, &bo.access).await;
    let mut grace_ws = Ws::connect(&app, &grace.access).await;
    let res = app
        .http
        .delete(app.url(&format!("/api/slots/{id}")))
        .bearer_auth(&grace.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let title = format!(
        "Grace Mentor cancelled the slot on {}, so your booking is cancelled",
        at(&slot)
    );
    for (ws, who, booking) in [(&mut ada_ws, &ada, &a), (&mut bo_ws, &bo, &b)] {
        let n = ws
            .next_where(|v| v["type"] == "notification" && v["kind"] == "booking_cancelled")
            .await;
        let p = &n["payload"];
        assert_eq!(p["title"], title.as_str(), "{n}");
        assert_eq!(p["bookingId"], booking["booking"]["id"]);
        assert_eq!(p["by"]["id"], grace.id.to_string());
        assert_eq!(p["by"]["displayName"], "Grace Mentor");
        assert_eq!(p["reason"], "mentor_cancelled");
        let bid = booking["booking"]["id"].as_str().unwrap();
        assert_eq!(stored(&app, who.id, "booking_cancelled", bid).await, 1);
    }
    // Grace cancelled: no notice of her own action.
    grace_ws.quiet("notification", Duration::from_millis(300)).await;
    assert!(!notices(&app, &grace)
        .await
        .iter()
        .any(|(k, _)| k == "booking_cancelled"));

    // A group session: registrations are not told to the mentor one by one;
    // a promotion and the mentor's cancel are told to the mentee.
    let s = session(&app, &grace, "Mock interviews", 600, 1).await;
    let sid = s["id"].as_str().unwrap().to_owned();
    let before_grace = notices(&app, &grace).await.len();
    let r = app
        .post_auth(&format!("/api/sessions/{sid}/register"), &ada.access, &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let n = ada_ws
        .next_where(|v| v["type"] == "notification" && v["kind"] == "booking_confirmed")
        .await;
    assert_eq!(
        n["payload"]["title"],
        format!(
            "Your seat at \u{201c}Mock interviews\u{201d} with Grace Mentor on {} is confirmed",
            at(&s)
        )
        .as_str()
    );
    assert_eq!(n["payload"]["offeringKind"], "group");
    let r = app
        .post_auth(&format!("/api/sessions/{sid}/register"), &bo.access, &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app
        .post_auth(&format!("/api/sessions/{sid}/unregister"), &ada.access, &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let n = bo_ws
        .next_where(|v| v["type"] == "notification" && v["kind"] == "booking_promoted")
        .await;
    assert!(
        n["payload"]["title"]
            .as_str()
            .unwrap()
            .starts_with("A seat opened: your seat at \u{201c}Mock interviews\u{201d}"),
        "{n}"
    );
    let r = app
        .post_auth(&format!("/api/sessions/{sid}/cancel"), &grace.access, &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let n = bo_ws
        .next_where(|v| v["type"] == "notification" && v["kind"] == "booking_cancelled")
        .await;
    assert_eq!(
        n["payload"]["title"],
        format!(
            "Grace Mentor cancelled the session \u{201c}Mock interviews\u{201d} on {}, so your registration is cancelled",
            at(&s)
        )
        .as_str()
    );
    // Ada had unregistered: nothing about the session's cancel for her.
    ada_ws.quiet("notification", Duration::from_millis(300)).await;
    assert_eq!(
        notices(&app, &ada)
            .await
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>(),
        ["booking_confirmed", "booking_cancelled", "booking_confirmed"]
    );
    assert_eq!(
        notices(&app, &grace).await.len(),
        before_grace,
        "the session told the mentor nothing"
    );
}

#[actix_web::test]
async fn booking_notices_are_emailed_only_when_the_preference_allows() {
    let (smtp_port, mails) = crate::calendar::smtp_sink().await;
    let smtp = format!("smtp://127.0.0.1:{smtp_port}");
    let app = spawn_app_with(|s| {
        s.reminders.poll_ms = 100;
        s.smtp.url = Some(secrecy::SecretString::from(smtp.clone()));
    })
    .await;
    let grace = app.register("mentor", "Grace Mentor").await;
    let ada = app.register("mentee", "Ada Mentee").await;
    let bo = app.register("mentee", "Bo Mentee").await;

    // The four booking kinds are listed last in the preferences, email on.
    let p: Value = app
        .get_auth("/api/me/notification-preferences", &ada.access)
        .await
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = p["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds[kinds.len() - 4..],
        [
            "booking_confirmed",
            "booking_promoted",
            "booking_cancelled",
            "booking_received"
        ]
    );
    assert!(p["items"].as_array().unwrap().iter().all(|i| i["email"] == true), "{p}");
    // Ada wants no confirmation emails.
    let res = app
        .http
        .put(app.url("/api/me/notification-preferences"))
        .bearer_auth(&ada.access)
        .json(&json!({"email": {"booking_confirmed": false}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let s1 = app.slot(&grace, 300, 1).await;
    let s2 = app.slot(&grace, 600, 1).await;
    let a = booked(&app, &ada, s1["id"].as_str().unwrap()).await;
    let b = booked(&app, &bo, s2["id"].as_str().unwrap()).await;
    let (a_id, b_id) = (
        a["booking"]["id"].as_str().unwrap().to_owned(),
        b["booking"]["id"].as_str().unwrap().to_owned(),
    );

    let jobs = |user: uuid::Uuid| {
        let db = &app.db;
        async move {
            db.query(
                "SELECT dedupe_key FROM outbox WHERE kind = 'email' AND user_id = $1 ORDER BY id",
                &[&user],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect::<Vec<_>>()
        }
    };
    // Both are told in the app; only Bo's confirmation is queued as an email.
    assert_eq!(stored(&app, ada.id, "booking_confirmed", &a_id).await, 1);
    assert_eq!(stored(&app, bo.id, "booking_confirmed", &b_id).await, 1);
    assert!(jobs(ada.id).await.is_empty(), "{:?}", jobs(ada.id).await);
    assert_eq!(jobs(bo.id).await, [format!("email:booking_confirmed:{b_id}:{}", bo.id)]);
    assert_eq!(
        jobs(grace.id).await,
        [
            format!("email:booking_received:{a_id}:{}", grace.id),
            format!("email:booking_received:{b_id}:{}", grace.id)
        ]
    );

    // The email goes out, its subject the title, linking to My bookings.
    let bo_to = bo.email.to_lowercase();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mail = loop {
        let got = mails
            .lock()
            .unwrap()
            .iter()
            .find(|m| m.to_lowercase().contains(&bo_to))
            .cloned();
        if let Some(m) = got {
            break m;
        }
        assert!(std::time::Instant::now() < deadline, "no email for Bo");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let body = mail.replace("=\n", "").replace("=3D", "=");
    assert!(body.contains("Subject: Your booking with Grace Mentor on"), "{body}");
    assert!(body.contains("/bookings"), "{body}");

    // Ada's cancel is emailed to Grace; Ada's own preference is unchanged
    // for other kinds: Grace deleting Bo's slot emails Bo.
    let res = app
        .post_auth("/api/slots/cancel", &ada.access, &json!({"slotId": s1["id"]}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .http
        .delete(app.url(&format!("/api/slots/{}", s2["id"].as_str().unwrap())))
        .bearer_auth(&grace.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(jobs(ada.id).await.is_empty());
    assert_eq!(
        jobs(bo.id).await[1],
        format!("email:booking_cancelled:{b_id}:{}", bo.id)
    );
    assert_eq!(
        jobs(grace.id).await[2],
        format!("email:booking_cancelled:{a_id}:{}", grace.id)
    );
    assert_eq!(jobs(grace.id).await.len(), 3);
}

#[actix_web::test]
async fn the_notifications_page_links_booking_notices_to_bookings_and_the_session() {
    use crate::pages::{browser, get_page, sign_up};
    let app = spawn_app().await;
    let grace = app.register("mentor", "Grace Mentor").await;
    let b = browser();
    let email = sign_up(&b, &app, "mentee", "Ada Mentee").await;
    let ada = app.login(&email).await;
    let slot = app.slot(&grace, 300, 1).await;
    booked(&app, &ada, slot["id"].as_str().unwrap()).await;
    let s = session(&app, &grace, "Mock interviews", 600, 5).await;
    let sid = s["id"].as_str().unwrap();
    let r = app
        .post_auth(&format!("/api/sessions/{sid}/register"), &ada.access, &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let (status, html) = get_page(&b, &app, "/notifications").await;
    assert_eq!(status, 200);
    assert!(
        html.contains(&format!(
            r#"<a href="/bookings">Your booking with Grace Mentor on {} is confirmed</a>"#,
            at(&slot)
        )),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            r#"<a href="/sessions/{sid}">Your seat at “Mock interviews” with Grace Mentor on {} is confirmed</a>"#,
            at(&s)
        )),
        "{html}"
    );
    assert!(
        html.contains("your bookings and registrations being confirmed"),
        "the email choice in words"
    );
}

#[actix_web::test]
async fn each_reader_gets_the_start_in_their_own_time_zone() {
    let app = spawn_app().await;
    let grace = app.register("mentor", "Grace Mentor").await;
    let ada = app.register("mentee", "Ada Mentee").await;
    // Zones without daylight saving, so the offsets are fixed.
    for (who, zone) in [(&grace, "Asia/Kolkata"), (&ada, "Asia/Tokyo")] {
        let res = app.patch_profile(&who.access, &json!({"timeZone": zone})).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let slot = app.slot(&grace, 300, 1).await;
    booked(&app, &ada, slot["id"].as_str().unwrap()).await;
    let start: DateTime<Utc> = slot["startsAt"].as_str().unwrap().parse().unwrap();
    let in_tokyo = (start + Dur::hours(9)).format("%a %-d %b %H:%M JST");
    let in_kolkata = (start + Dur::minutes(330)).format("%a %-d %b %H:%M IST");
    assert_eq!(
        notices(&app, &ada).await,
        [(
            "booking_confirmed".to_owned(),
            format!("Your booking with Grace Mentor on {in_tokyo} is confirmed")
        )]
    );
    assert_eq!(
        notices(&app, &grace).await,
        [(
            "booking_received".to_owned(),
            format!("Ada Mentee booked your slot on {in_kolkata}")
        )]
    );
    // The payload's instant stays the one instant, in UTC.
    let p = &items(&app, &ada).await[0]["payload"];
    assert_eq!(p["startsAt"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap(), start);
}
