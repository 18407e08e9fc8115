//! The calendar: slots (seed 001's API), group sessions, waitlists that
//! never oversell, live updates to watchers, recurring availability across
//! a DST change, .ics output, and reminders sent exactly once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Duration as Dur, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::ws::Ws;
use lyceum_protocol::frames::{Command, Event};
use lyceum_protocol::UserId;

impl TestApp {
    pub async fn post_auth(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// A slot starting `in_minutes` from now, lasting an hour.
    pub async fn slot(&self, mentor: &Session, in_minutes: i64, seats: i32) -> Value {
        let starts = Utc::now() + Dur::minutes(in_minutes);
        let res = self
            .post_auth("/api/slots", &mentor.access, &json!({
                "startsAt": starts, "endsAt": starts + Dur::hours(1), "maxParticipants": seats, "description": "CV review"
            }))
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
        res.json().await.unwrap()
    }

    pub async fn book(&self, mentee: &Session, slot: &str) -> reqwest::Response {
        self.post_auth("/api/slots/book", &mentee.access, &json!({"slotId": slot}))
            .await
    }
}

#[actix_web::test]
async fn slot_endpoints_and_their_role_rules() {
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Alumna").await;
    let other_mentor = app.register("mentor", "Other").await;
    let mentee = app.register("mentee", "Student").await;
    let other_mentee = app.register("mentee", "Student2").await;

    // Only mentors create slots.
    let res = app
        .post_auth(
            "/api/slots",
            &mentee.access,
            &json!({"startsAt": Utc::now() + Dur::hours(1),
        "endsAt": Utc::now() + Dur::hours(2), "maxParticipants": 1}),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let slot = app.slot(&mentor, 120, 2).await;
    let id = slot["id"].as_str().unwrap().to_owned();
    assert_eq!(slot["remainingSeats"], 2);
    assert_eq!(slot["maxParticipants"], 2);
    assert_eq!(slot["status"], "available");
    assert_eq!(slot["alumniId"], json!(mentor.id));
    // The seed's form: a date and times in a zone.
    let d = (Utc::now() + Dur::days(3)).date_naive();
    let res = app
        .post_auth(
            "/api/slots",
            &mentor.access,
            &json!({"date": d, "startTime": "09:00", "endTime": "09:45",
        "timeZone": "Asia/Kolkata", "maxParticipants": 3}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let s: Value = res.json().await.unwrap();
    assert_eq!(
        (s["startTime"].as_str(), s["endTime"].as_str(), s["timeZone"].as_str()),
        (Some("09:00"), Some("09:45"), Some("Asia/Kolkata"))
    );
    assert_eq!(
        s["startsAt"].as_str().unwrap()[11..16].to_owned(),
        "03:30",
        "09:00 in Kolkata is 03:30 UTC"
    );
    // Bad input is a 400 with a code.
    for bad in [
        json!({"maxParticipants": 1}),
        json!({"startsAt": Utc::now() - Dur::hours(1), "endsAt": Utc::now(), "maxParticipants": 1}),
        json!({"startsAt": Utc::now() + Dur::hours(50), "endsAt": Utc::now() + Dur::hours(51), "maxParticipants": 0}),
    ] {
        assert_error(
            app.post_auth("/api/slots", &mentor.access, &bad).await,
            StatusCode::BAD_REQUEST,
            "invalid_slot",
        )
        .await;
    }

    // Upcoming slots of a mentor are public.
    let res = app
        .http
        .get(app.url(&format!("/api/slots/alumni/{}", mentor.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["items"].as_array().unwrap().len(), 2);
    let mine: Value = app
        .get_auth("/api/slots/my-slots", &mentor.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["items"].as_array().unwrap().len(), 2);
    assert_error(
        app.get_auth("/api/slots/my-slots", &mentee.access).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    // Only mentees book; a mentee books once.
    assert_error(app.book(&other_mentor, &id).await, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app
        .post_auth(
            "/api/slots/book",
            &mentee.access,
            &json!({"slotId": id,
        "agenda": {"goals": "Get my CV ready", "questions": ["One page or two?"]}}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let b: Value = res.json().await.unwrap();
    assert_eq!(b["booking"]["status"], "confirmed");
    assert_eq!(b["slot"]["remainingSeats"], 1);
    assert_error(app.book(&mentee, &id).await, StatusCode::CONFLICT, "already_booked").await;
    // The mentor sees the agenda; nobody else does.
    let list: Value = app
        .get_auth(&format!("/api/slots/{id}/bookings"), &mentor.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"][0]["agenda"]["questions"][0], "One page or two?");
    assert_error(
        app.get_auth(&format!("/api/slots/{id}/bookings"), &other_mentor.access)
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let mine: Value = app
        .get_auth("/api/slots/my-bookings", &mentee.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["items"][0]["status"], "confirmed");
    assert_eq!(mine["items"][0]["slot"]["id"], id);

    // Nobody cancels another's booking: the other mentee holds none here.
    assert_error(
        app.post_auth("/api/slots/cancel", &other_mentee.access, &json!({"slotId": id}))
            .await,
        StatusCode::NOT_FOUND,
        "not_booked",
    )
    .await;
    // A mentor cannot delete another's slot.
    let res = app
        .http
        .delete(app.url(&format!("/api/slots/{id}")))
        .bearer_auth(&other_mentor.access)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app
        .post_auth("/api/slots/cancel", &mentee.access, &json!({"slotId": id}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["slot"]["remainingSeats"], 2);
    // Unknown slots.
    assert_error(
        app.book(&mentee, &uuid::Uuid::new_v4().to_string()).await,
        StatusCode::NOT_FOUND,
        "slot_not_found",
    )
    .await;
}

#[actix_web::test]
async fn a_mentors_slots_never_overlap() {
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Busy").await;
    let t = Utc::now() + Dur::days(2);
    let mk = |s: DateTime<Utc>, e: DateTime<Utc>| json!({"startsAt": s, "endsAt": e, "maxParticipants": 1});
    assert_eq!(
        app.post_auth("/api/slots", &mentor.access, &mk(t, t + Dur::hours(1)))
            .await
            .status(),
        StatusCode::CREATED
    );
    let res = app
        .post_auth(
            "/api/slots",
            &mentor.access,
            &mk(t + Dur::minutes(30), t + Dur::minutes(90)),
        )
        .await;
    assert_error(res, StatusCode::CONFLICT, "slot_overlap").await;
    // Back to back is fine; another mentor at the same time too.
    assert_eq!(
        app.post_auth("/api/slots", &mentor.access, &mk(t + Dur::hours(1), t + Dur::hours(2)))
            .await
            .status(),
        StatusCode::CREATED
    );
    let other = app.register("mentor", "Free").await;
    assert_eq!(
        app.post_auth("/api/slots", &other.access, &mk(t, t + Dur::hours(1)))
            .await
            .status(),
        StatusCode::CREATED
    );
    // A group session counts too.
    let res = app
        .post_auth(
            "/api/sessions",
            &mentor.access,
            &json!({"title": "AMA", "startsAt": t + Dur::minutes(15),
        "durationMinutes": 30, "capacity": 50}),
        )
        .await;
    assert_error(res, StatusCode::CONFLICT, "slot_overlap").await;
}

#[actix_web::test]
async fn two_hundred_concurrent_bookings_for_five_seats() {
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Popular").await;
    let slot = app.slot(&mentor, 240, 5).await;
    let id = slot["id"].as_str().unwrap().to_owned();
    let mut mentees = Vec::new();
    for i in 0..200 {
        mentees.push(app.register("mentee", &format!("Racer{i}")).await);
    }
    let results = futures_util::future::join_all(mentees.iter().map(|m| async {
        let res = app.book(m, &id).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        res.json::<Value>().await.unwrap()
    }))
    .await;
    let confirmed = results.iter().filter(|r| r["booking"]["status"] == "confirmed").count();
    let mut positions: Vec<i64> = results
        .iter()
        .filter(|r| r["booking"]["status"] == "waitlisted")
        .map(|r| r["booking"]["waitlistPosition"].as_i64().unwrap())
        .collect();
    positions.sort_unstable();
    assert_eq!(confirmed, 5);
    assert_eq!(
        positions,
        (1..=195).collect::<Vec<_>>(),
        "unique, gapless waitlist positions"
    );
    let row = app
        .db
        .query_one(
            "SELECT booked_count, (SELECT count(*) FROM bookings WHERE status = 'confirmed') FROM offerings",
            &[],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, i32>(0), row.get::<_, i64>(1)), (5, 5));

    // A cancellation promotes the first in line at once, and tells them live.
    let first_in_line = results
        .iter()
        .position(|r| r["booking"]["waitlistPosition"] == 1)
        .unwrap();
    let mut ws = Ws::connect(&app, &mentees[first_in_line].access).await;
    let holder = results
        .iter()
        .position(|r| r["booking"]["status"] == "confirmed")
        .unwrap();
    let res = app
        .post_auth("/api/slots/cancel", &mentees[holder].access, &json!({"slotId": id}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.unwrap()["slot"]["remainingSeats"],
        0,
        "the freed seat went to the waitlist"
    );
    let ev = ws.next_of("booking_promoted").await;
    assert_eq!(ev["slot"]["id"], id);
    let mine: Value = app
        .get_auth("/api/slots/my-bookings", &mentees[first_in_line].access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["items"][0]["status"], "confirmed");
    // Positions moved up for everyone else.
    let second = results
        .iter()
        .position(|r| r["booking"]["waitlistPosition"] == 2)
        .unwrap();
    let mine: Value = app
        .get_auth("/api/slots/my-bookings", &mentees[second].access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["items"][0]["waitlistPosition"], 1);
}

#[actix_web::test]
async fn watchers_and_holders_receive_every_change() {
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Watched").await;
    let mentee = app.register("mentee", "Booker").await;
    let watcher = app.register("mentee", "Watcher").await;
    let mut w = Ws::connect(&app, &watcher.access).await;
    let mentor_id = UserId(mentor.id);
    w.acked(&Command::WatchCalendar { mentor_id }).await;

    let slot = app.slot(&mentor, 300, 1).await;
    let id = slot["id"].as_str().unwrap().to_owned();
    let e = w.next_of("slot_created").await;
    assert_eq!(
        (e["slot"]["id"].as_str(), e["slot"]["remainingSeats"].as_i64()),
        (Some(id.as_str()), Some(1))
    );

    let mut holder = Ws::connect(&app, &mentee.access).await;
    assert_eq!(app.book(&mentee, &id).await.status(), StatusCode::CREATED);
    let Event::SlotUpdated {
        reasons, slot: updated, ..
    } = w.event(|e| matches!(e, Event::SlotUpdated { .. })).await
    else {
        unreachable!()
    };
    assert_eq!(updated["remainingSeats"], 0);
    assert_eq!(updated["status"], "full");
    assert!(reasons.iter().any(|r| r == "booked") && reasons.iter().any(|r| r == "full"));
    assert_eq!(
        holder.next_of("slot_updated").await["slot"]["id"],
        id,
        "holders hear about their slot without watching"
    );

    // Deleting a slot cancels its bookings and tells every booked mentee.
    let res = app
        .http
        .delete(app.url(&format!("/api/slots/{id}")))
        .bearer_auth(&mentor.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(w.next_of("slot_deleted").await["slot"]["status"], "cancelled");
    assert_eq!(holder.next_of("booking_cancelled").await["slot"]["id"], id);
    let mine: Value = app
        .get_auth("/api/slots/my-bookings", &mentee.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["items"][0]["status"], "cancelled");
    // Unwatched: no more events.
    w.acked(&Command::UnwatchCalendar { mentor_id }).await;
    app.slot(&mentor, 600, 1).await;
    w.quiet("slot_created", Duration::from_millis(500)).await;
}

#[actix_web::test]
async fn recurring_availability_keeps_local_time_across_dst() {
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Berlin").await;
    app.patch_profile(&mentor.access, &json!({"timeZone": "Europe/Berlin"}))
        .await;
    // Europe switches to summer time on Sunday 2027-03-28.
    let res = app.post_auth("/api/slots/recurring", &mentor.access, &json!({
        "weekday": 2, "startTime": "18:00", "endTime": "20:00", "startDate": "2027-03-08", "weeks": 8, "maxParticipants": 4
    })).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 8);
    let utc: Vec<&str> = items.iter().map(|s| &s["startsAt"].as_str().unwrap()[..16]).collect();
    assert_eq!(
        utc,
        [
            "2027-03-09T17:00",
            "2027-03-16T17:00",
            "2027-03-23T17:00",
            "2027-03-30T16:00",
            "2027-04-06T16:00",
            "2027-04-13T16:00",
            "2027-04-20T16:00",
            "2027-04-27T16:00"
        ]
    );
    assert!(items
        .iter()
        .all(|s| s["startTime"] == "18:00" && s["endTime"] == "20:00" && s["timeZone"] == "Europe/Berlin"));
    // All or nothing: a series that overlaps an existing slot creates none.
    let res = app.post_auth("/api/slots/recurring", &mentor.access, &json!({
        "weekday": 2, "startTime": "19:00", "endTime": "19:30", "startDate": "2027-04-20", "weeks": 3, "maxParticipants": 1
    })).await;
    assert_error(res, StatusCode::CONFLICT, "slot_overlap").await;
    let n: i64 = app
        .db
        .query_one("SELECT count(*) FROM offerings", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 8);
    // A wall-clock time that does not exist that night is refused.
    let res = app.post_auth("/api/slots/recurring", &mentor.access, &json!({
        "weekday": 7, "startTime": "02:30", "endTime": "03:30", "startDate": "2027-03-28", "weeks": 1, "maxParticipants": 1
    })).await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_slot").await;
}

#[actix_web::test]
async fn ics_feed_and_confirmations_parse_back() {
    use icalendar::{CalendarDateTime, Component, DatePerhapsTime};
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Iris, the \"ICS\" mentor").await;
    let mentee = app.register("mentee", "Feed").await;
    let a = app.slot(&mentor, 200, 2).await;
    let b = app.slot(&mentor, 400, 2).await;
    let booked: Value = app.book(&mentee, a["id"].as_str().unwrap()).await.json().await.unwrap();
    app.book(&mentee, b["id"].as_str().unwrap()).await;

    let url: Value = app
        .get_auth("/api/calendar/feed", &mentee.access)
        .await
        .json()
        .await
        .unwrap();
    let url = url["url"].as_str().unwrap().to_owned();
    let again: Value = app
        .get_auth("/api/calendar/feed", &mentee.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["url"], url, "the feed URL is stable until rotated");
    let res = app.http.get(app.url(&url)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/calendar"));
    let text = res.text().await.unwrap();
    let cal: icalendar::Calendar = text.parse().expect("the feed parses as iCalendar");
    let events: Vec<&icalendar::Event> = cal.components.iter().filter_map(|c| c.as_event()).collect();
    assert_eq!(events.len(), 2);
    let start = |e: &icalendar::Event| match e.get_start() {
        Some(DatePerhapsTime::DateTime(CalendarDateTime::Utc(t))) => t,
        other => panic!("unexpected start {other:?}"),
    };
    let starts: Vec<String> = events.iter().map(|e| start(e).to_rfc3339()).collect();
    let expected: DateTime<Utc> = a["startsAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(start(events[0]).timestamp(), expected.timestamp(), "{starts:?}");
    assert!(events[0].get_summary().unwrap().contains("Iris, the \"ICS\" mentor"));

    // One confirmation as its own .ics, for its owner only.
    let bid = booked["booking"]["id"].as_str().unwrap();
    let res = app.get_auth(&format!("/api/bookings/{bid}.ics"), &mentee.access).await;
    assert_eq!(res.status(), StatusCode::OK);
    let one: icalendar::Calendar = res.text().await.unwrap().parse().unwrap();
    assert_eq!(one.components.iter().filter_map(|c| c.as_event()).count(), 1);
    let stranger = app.register("mentee", "Stranger").await;
    assert_error(
        app.get_auth(&format!("/api/bookings/{bid}.ics"), &stranger.access)
            .await,
        StatusCode::NOT_FOUND,
        "booking_not_found",
    )
    .await;
    // Rotating the secret kills the old URL.
    let rotated: Value = app
        .post_auth("/api/calendar/feed/rotate", &mentee.access, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(rotated["url"], url);
    assert_error(
        app.http.get(app.url(&url)).send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "feed_not_found",
    )
    .await;
}

#[actix_web::test]
async fn group_sessions_browse_register_and_move_through_their_states() {
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Host").await;
    let mentee = app.register("mentee", "Attendee").await;
    let t = Utc::now() + Dur::days(1);
    let res = app
        .post_auth(
            "/api/sessions",
            &mentor.access,
            &json!({
                "title": "System design interviews", "description": "How to approach them", "category": "Interviews",
                "tags": ["FAANG", "design"], "startsAt": t, "durationMinutes": 90, "capacity": 2, "priceCredits": 0
            }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let s: Value = res.json().await.unwrap();
    let id = s["id"].as_str().unwrap().to_owned();
    app.post_auth(
        "/api/sessions",
        &mentor.access,
        &json!({"title": "Negotiating offers", "category": "careers",
        "startsAt": t + Dur::days(7), "durationMinutes": 60, "capacity": 100}),
    )
    .await;
    let names = |v: Value| {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["title"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let all: Value = app
        .get_auth("/api/sessions", &mentee.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(names(all), ["System design interviews", "Negotiating offers"]);
    let q: Value = app
        .get_auth("/api/sessions?q=design&category=interviews&tag=faang", &mentee.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(names(q), ["System design interviews"]);
    let later: Value = app
        .get_auth(
            &format!("/api/sessions?from={}", (t + Dur::days(2)).format("%Y-%m-%dT%H:%M:%SZ")),
            &mentee.access,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(names(later), ["Negotiating offers"]);
    let rated: Value = app
        .get_auth("/api/sessions?minRating=4", &mentee.access)
        .await
        .json()
        .await
        .unwrap();
    assert!(names(rated).is_empty(), "the host has no rating yet");

    let res = app
        .post_auth(
            &format!("/api/sessions/{id}/register"),
            &mentee.access,
            &json!({"agenda": {"goals": "Pass the loop"}}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.json::<Value>().await.unwrap()["slot"]["remainingSeats"], 1);
    let regs: Value = app
        .get_auth(&format!("/api/sessions/{id}/registrations"), &mentor.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(regs["items"][0]["agenda"]["goals"], "Pass the loop");
    assert_eq!(
        app.post_auth(&format!("/api/sessions/{id}/unregister"), &mentee.access, &json!({}))
            .await
            .status(),
        StatusCode::OK
    );
    app.post_auth(&format!("/api/sessions/{id}/register"), &mentee.access, &json!({}))
        .await;

    // Only the host moves it along; a live session takes no new registrations.
    assert_error(
        app.post_auth(&format!("/api/sessions/{id}/start"), &mentee.access, &json!({}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let live: Value = app
        .post_auth(&format!("/api/sessions/{id}/start"), &mentor.access, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(live["state"], "live");
    let late = app.register("mentee", "Late").await;
    assert_error(
        app.post_auth(&format!("/api/sessions/{id}/register"), &late.access, &json!({}))
            .await,
        StatusCode::CONFLICT,
        "booking_closed",
    )
    .await;
    let done: Value = app
        .post_auth(&format!("/api/sessions/{id}/complete"), &mentor.access, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(done["state"], "completed");
    assert_error(
        app.post_auth(&format!("/api/sessions/{id}/start"), &mentor.access, &json!({}))
            .await,
        StatusCode::CONFLICT,
        "booking_closed",
    )
    .await;
}

#[actix_web::test]
async fn private_notes_after_a_session_are_each_participants_own() {
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Noter").await;
    let mentee = app.register("mentee", "Noted").await;
    let outsider = app.register("mentee", "Outsider").await;
    let slot = app.slot(&mentor, 60, 2).await;
    let id = slot["id"].as_str().unwrap().to_owned();
    app.book(&mentee, &id).await;
    let put = |token: String, body: &str| {
        let (app, id, body) = (&app, id.clone(), body.to_owned());
        async move {
            app.http
                .put(app.url(&format!("/api/offerings/{id}/notes")))
                .bearer_auth(token)
                .json(&json!({"body": body}))
                .send()
                .await
                .unwrap()
        }
    };
    assert_error(
        put(mentee.access.clone(), "too early").await,
        StatusCode::CONFLICT,
        "too_early",
    )
    .await;
    // The session has started (moved into the past directly in the database).
    app.db
        .execute(
            "UPDATE offerings SET starts_at = now() - interval '2 hours', ends_at = now() - interval '1 hour'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        put(mentee.access.clone(), "Ask about system design").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        put(mentor.access.clone(), "Strong on algorithms").await.status(),
        StatusCode::OK
    );
    assert_error(
        put(outsider.access.clone(), "snooping").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let mine: Value = app
        .get_auth(&format!("/api/offerings/{id}/notes"), &mentee.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["body"], "Ask about system design");
    let theirs: Value = app
        .get_auth(&format!("/api/offerings/{id}/notes"), &mentor.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["body"], "Strong on algorithms");
}

/// A minimal SMTP server that records every message it accepts.
pub(crate) async fn smtp_sink() -> (u16, Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mails = Arc::new(Mutex::new(Vec::new()));
    let store = mails.clone();
    actix_web::rt::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else { return };
            let store = store.clone();
            actix_web::rt::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = BufReader::new(r).lines();
                let _ = w.write_all(b"220 sink ESMTP\r\n").await;
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(d) = data.as_mut() {
                        if line == "." {
                            store.lock().unwrap().push(data.take().unwrap());
                            let _ = w.write_all(b"250 queued\r\n").await;
                        } else {
                            d.push_str(&line);
                            d.push('\n');
                        }
                        continue;
                    }
                    let verb = line.split_whitespace().next().unwrap_or("").to_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 sink\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go ahead\r\n"
                        }
                        "QUIT" => {
                            let _ = w.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        _ => b"250 ok\r\n",
                    };
                    let _ = w.write_all(reply).await;
                }
            });
        }
    });
    (port, mails)
}

/// Books a fresh slot that starts in 15 minutes and 2 seconds: its
/// 15-minute reminder is due at once (the 24-hour one is moot).
async fn book_soon(app: &TestApp, mentee: &Session) -> String {
    // A mentor of its own, so the slots do not overlap.
    let mentor = app.register("mentor", "Reminding").await;
    let starts = Utc::now() + Dur::minutes(15) + Dur::seconds(2);
    let slot: Value = app
        .post_auth(
            "/api/slots",
            &mentor.access,
            &json!({"startsAt": starts, "endsAt": starts + Dur::minutes(30), "maxParticipants": 1}),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = slot["id"].as_str().unwrap().to_owned();
    assert_eq!(app.book(mentee, &id).await.status(), StatusCode::CREATED);
    id
}

/// The reminder emails the sink holds for `address` (its bookings'
/// confirmations are emailed too).
fn reminder_mails(mails: &Mutex<Vec<String>>, address: &str) -> usize {
    mails
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m.contains(address) && m.contains("Subject: Reminder:"))
        .count()
}

async fn reminders_of(app: &TestApp, user: uuid::Uuid, slot: &str) -> i64 {
    app.db
        .query_one(
            "SELECT count(*) FROM notifications WHERE user_id = $1 AND kind = 'reminder' AND payload->>'offeringId' = $2",
            &[&user, &slot],
        )
        .await
        .unwrap()
        .get(0)
}

#[actix_web::test]
async fn a_reminder_is_sent_once_even_with_two_workers() {
    let (smtp_port, mails) = smtp_sink().await;
    let smtp = format!("smtp://127.0.0.1:{smtp_port}");
    let app = spawn_app_with(|s| {
        s.reminders.poll_ms = 100;
        s.smtp.url = Some(secrecy::SecretString::from(smtp.clone()));
    })
    .await;
    let mentee = app.register("mentee", "Reminded").await;
    let address = mentee.email.to_lowercase();
    let mut ws = Ws::connect(&app, &mentee.access).await;

    // One worker: the reminder arrives live over the WebSocket (after the
    // booking's confirmation, booking_notices.rs).
    let first = book_soon(&app, &mentee).await;
    let n = ws
        .next_where(|v| v["type"] == "notification" && v["kind"] == "reminder")
        .await;
    assert_eq!(
        (n["kind"].as_str(), n["payload"]["before"].as_str()),
        (Some("reminder"), Some("15m"))
    );
    assert_eq!(n["payload"]["offeringId"], first);

    // A second worker on the same database, as a second node would run. It
    // has no sockets of its own here: whichever worker claims a job sends it,
    // and the database says it was sent exactly once.
    let pool = lyceum::infra::db::build_pool(app.conn.parse().unwrap(), 2).unwrap();
    let hub = actix::Actor::start(lyceum_actors::presence::Hub::new(pool.clone()));
    let mailer = Arc::new(lyceum::jobs::reminders::Mailer::new(&smtp, "Lyceum <noreply@localhost>").unwrap());
    lyceum::jobs::reminders::Worker {
        pool,
        fanout: Arc::new(lyceum_actors::presence::HubFanOut::new(hub)),
        mailer: Some(mailer),
    }
    .spawn(Duration::from_millis(100));
    let mut later = Vec::new();
    for _ in 1..=5 {
        later.push(book_soon(&app, &mentee).await);
    }
    let mut waited = 0;
    while waited < 100 {
        let mut done = 0;
        for s in &later {
            done += reminders_of(&app, mentee.id, s).await;
        }
        let mailed = reminder_mails(&mails, &address);
        if done == 5 && mailed == 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }
    // Let any duplicate show itself, then count.
    tokio::time::sleep(Duration::from_millis(800)).await;
    for s in std::iter::once(&first).chain(&later) {
        assert_eq!(
            reminders_of(&app, mentee.id, s).await,
            1,
            "slot {s}: exactly one reminder"
        );
    }
    assert_eq!(reminder_mails(&mails, &address), 6, "exactly one email per reminder");
    let listed: Value = app
        .get_auth("/api/notifications", &mentee.access)
        .await
        .json()
        .await
        .unwrap();
    let reminders = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "reminder")
        .count();
    assert_eq!(reminders, 6);
    let left: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND due_at <= now()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
}

#[actix_web::test]
async fn booking_is_rate_limited_per_user_with_retry_after() {
    let app = spawn_app_with(|s| s.rate_limit.bookings_per_user_per_minute = 3).await;
    let mentor = app.register("mentor", "Busy").await;
    let eager = app.register("mentee", "Eager").await;
    let calm = app.register("mentee", "Calm").await;
    let mut slots = Vec::new();
    for i in 0..3 {
        slots.push(
            app.slot(&mentor, 60 + i * 90, 5).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    // Book, cancel, book again: three booking changes, all allowed.
    assert_eq!(app.book(&eager, &slots[0]).await.status(), StatusCode::CREATED);
    let res = app
        .post_auth("/api/slots/cancel", &eager.access, &json!({"slotId": slots[0]}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.book(&eager, &slots[1]).await.status(), StatusCode::CREATED);
    // The fourth, within the minute, is refused with a wait that fits the quota.
    let res = app.book(&eager, &slots[2]).await;
    let retry: u64 = res
        .headers()
        .get("retry-after")
        .expect("Retry-After on 429")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry), "{retry}");
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // Session registration counts toward the same limit.
    let t = Utc::now() + Dur::days(1);
    let res = app
        .post_auth(
            "/api/sessions",
            &mentor.access,
            &json!({"title": "Limits", "category": "careers", "startsAt": t, "durationMinutes": 60, "capacity": 10}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let session = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let path = format!("/api/sessions/{session}/register");
    let body = json!({});
    assert_error(
        app.post_auth(&path, &eager.access, &body).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;
    // Nothing was booked by the refused attempts, and another mentee is unaffected.
    let held: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM bookings WHERE mentee_id = $1 AND status <> 'cancelled'",
            &[&eager.id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(held, 1);
    assert_eq!(app.book(&calm, &slots[2]).await.status(), StatusCode::CREATED);
    assert_eq!(
        app.post_auth(&path, &calm.access, &body).await.status(),
        StatusCode::CREATED
    );
}

#[actix_web::test]
async fn watching_a_calendar_needs_a_mentor_and_stays_within_the_cap() {
    let app = spawn_app_with(|s| s.calendar.max_watches_per_connection = 3).await;
    let mentors = [
        app.register("mentor", "M1").await,
        app.register("mentor", "M2").await,
        app.register("mentor", "M3").await,
        app.register("mentor", "M4").await,
    ];
    let mentee = app.register("mentee", "Curious").await;
    let admin = app.admin().await;
    let mut w = Ws::connect(&app, &mentee.access).await;
    let actors = || gauge(&app.http, &app.address, "lyceum_calendar_actors");
    assert_eq!(actors().await, 0.0);

    // Not a mentor: no such user, or a mentee. No calendar actor is started.
    for id in [UserId(uuid::Uuid::new_v4()), UserId(mentee.id)] {
        let (code, _) = w.refused(&Command::WatchCalendar { mentor_id: id }).await;
        assert_eq!(code, "not_a_mentor");
    }
    assert_eq!(actors().await, 0.0, "a refused watch starts no actor");

    // Up to the cap; the same calendar again is no new watch.
    for m in &mentors[..3] {
        let ack = w
            .acked(&Command::WatchCalendar {
                mentor_id: UserId(m.id),
            })
            .await;
        assert_eq!(ack["mentorId"], m.id.to_string());
    }
    w.acked(&Command::WatchCalendar {
        mentor_id: UserId(mentors[0].id),
    })
    .await;
    let (code, message) = w
        .refused(&Command::WatchCalendar {
            mentor_id: UserId(mentors[3].id),
        })
        .await;
    assert_eq!(code, "too_many_watches", "{message}");
    // An admin may offer slots, so may be watched; but the cap holds first.
    let (code, _) = w
        .refused(&Command::WatchCalendar {
            mentor_id: UserId(admin.id),
        })
        .await;
    assert_eq!(code, "too_many_watches");
    assert_eq!(actors().await, 3.0);

    // Unwatching frees a place.
    w.acked(&Command::UnwatchCalendar {
        mentor_id: UserId(mentors[0].id),
    })
    .await;
    w.acked(&Command::WatchCalendar {
        mentor_id: UserId(mentors[3].id),
    })
    .await;
    // Another connection has its own cap.
    let mut other = Ws::connect(&app, &mentee.access).await;
    other
        .acked(&Command::WatchCalendar {
            mentor_id: UserId(admin.id),
        })
        .await;
}

#[actix_web::test]
async fn idle_calendar_actors_stop_and_come_back_without_losing_a_request() {
    let app = spawn_app_with(|s| s.calendar.idle_secs = 1).await;
    let mentor = app.register("mentor", "Idle").await;
    let mentee = app.register("mentee", "Watcher").await;
    let mentor_id = UserId(mentor.id);
    let actors = || gauge(&app.http, &app.address, "lyceum_calendar_actors");
    let mut w = Ws::connect(&app, &mentee.access).await;
    w.acked(&Command::WatchCalendar { mentor_id }).await;
    // Watched: it stays, however long.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(actors().await, 1.0);
    drop(w);
    wait_for_actors(&app, 0.0).await;

    // Requests arriving around the moment an idle actor stops: each is
    // answered (a watch acked and then told of the change, a slot created).
    for round in 0..6u64 {
        let mut w = Ws::connect(&app, &mentee.access).await;
        w.acked(&Command::WatchCalendar { mentor_id }).await;
        app.slot(&mentor, 60 * (round as i64 + 10), 1).await;
        w.next_of("slot_created").await;
        drop(w);
        // Land the next requests close to the idle stop (idle 1 s, checked
        // every 250 ms), a little earlier or later each round.
        tokio::time::sleep(Duration::from_millis(900 + 60 * round)).await;
        let res = app
            .post_auth("/api/slots", &mentor.access, &json!({
                "startsAt": Utc::now() + Dur::days(round as i64 + 2), "endsAt": Utc::now() + Dur::days(round as i64 + 2) + Dur::hours(1),
                "maxParticipants": 1, "description": "late"
            }))
            .await;
        assert_eq!(res.status(), StatusCode::CREATED, "round {round}");
    }
    wait_for_actors(&app, 0.0).await;
    let n: i64 = app
        .db
        .query_one("SELECT count(*) FROM offerings", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 12, "every change was made");
}

async fn wait_for_actors(app: &TestApp, n: f64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = gauge(&app.http, &app.address, "lyceum_calendar_actors").await;
        if now == n {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "calendar actors stayed at {now}, not {n}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
