//! Issue 17: attendance (the live room's join, the mentor's mark), reviews
//! both ways with their refusals, the mentor's rating aggregate and the
//! directory reading it, replies, reports and the moderation queue, and
//! mentorships (request, accept opening the conversation, decline, end).

use chrono::{Duration as Dur, Utc};
use lyceum_protocol::frames::Command;
use lyceum_protocol::LiveId;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;
use crate::ws::Ws;

async fn patch(app: &TestApp, path: &str, token: &str, body: &Value) -> reqwest::Response {
    app.http
        .patch(app.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn json_of(res: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(res.status(), status);
    res.json().await.unwrap()
}

/// A booked slot of `mentor` moved into the past: (offering id, booking id).
async fn past_booking(app: &TestApp, mentor: &Session, mentee: &Session, hours_ago: i64) -> (String, String) {
    let slot = app.slot(mentor, 60 * 24 * 3 + hours_ago * 60, 5).await;
    let slot_id = slot["id"].as_str().unwrap().to_owned();
    let b = json_of(app.book(mentee, &slot_id).await, StatusCode::CREATED).await;
    let booking = b["booking"]["id"].as_str().unwrap().to_owned();
    let id: Uuid = slot_id.parse().unwrap();
    app.db
        .execute(
            "UPDATE offerings SET starts_at = now() - make_interval(hours => $2), \
             ends_at = now() - make_interval(hours => $2) + interval '1 hour' WHERE id = $1",
            &[&id, &(hours_ago as i32)],
        )
        .await
        .unwrap();
    (slot_id, booking)
}

async fn mark(app: &TestApp, mentor: &Session, offering: &str, mentee: &Session) -> reqwest::Response {
    app.post_auth(
        &format!("/api/offerings/{offering}/attendance"),
        &mentor.access,
        &json!({"menteeId": mentee.id}),
    )
    .await
}

/// A past booking its mentor marked attended: the booking id.
async fn attended(app: &TestApp, mentor: &Session, mentee: &Session, hours_ago: i64) -> String {
    let (offering, booking) = past_booking(app, mentor, mentee, hours_ago).await;
    assert_eq!(mark(app, mentor, &offering, mentee).await.status(), StatusCode::OK);
    booking
}

async fn review(app: &TestApp, who: &Session, booking: &str, rating: Value, text: &str) -> reqwest::Response {
    app.post_auth(
        "/api/reviews",
        &who.access,
        &json!({"bookingId": booking, "rating": rating, "text": text}),
    )
    .await
}

async fn reply(app: &TestApp, id: String, who: &Session, text: &str) -> reqwest::Response {
    app.post_auth(&format!("/api/reviews/{id}/reply"), &who.access, &json!({"text": text}))
        .await
}

async fn report(app: &TestApp, id: String, who: &Session, reason: &str) -> reqwest::Response {
    app.post_auth(
        &format!("/api/reviews/{id}/report"),
        &who.access,
        &json!({"reason": reason}),
    )
    .await
}

async fn reviews_of(app: &TestApp, user: Uuid) -> Value {
    let res = app
        .http
        .get(app.url(&format!("/api/users/{user}/reviews")))
        .send()
        .await
        .unwrap();
    json_of(res, StatusCode::OK).await
}

/// Whether the directory lists `mentor` with `minRating`.
async fn directory_has(app: &TestApp, token: &str, mentor: Uuid, min_rating: f64) -> bool {
    let v = json_of(
        app.get_auth(&format!("/api/mentors?minRating={min_rating}&sort=rating"), token)
            .await,
        StatusCode::OK,
    )
    .await;
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["userId"] == json!(mentor))
}

#[actix_web::test]
async fn a_review_needs_attendance_and_there_is_one_per_booking_and_direction() {
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Grace").await;
    let other_mentor = app.register("mentor", "Other").await;
    let ada = app.register("mentee", "Ada").await;
    let stranger = app.register("mentee", "Stranger").await;

    // A future slot: not attended, and attendance cannot be marked yet.
    let slot = app.slot(&mentor, 120, 2).await;
    let slot_id = slot["id"].as_str().unwrap().to_owned();
    let b = json_of(app.book(&ada, &slot_id).await, StatusCode::CREATED).await;
    let early = b["booking"]["id"].as_str().unwrap().to_owned();
    assert_error(
        review(&app, &ada, &early, json!(5), "").await,
        StatusCode::CONFLICT,
        "not_attended",
    )
    .await;
    assert_error(
        mark(&app, &mentor, &slot_id, &ada).await,
        StatusCode::CONFLICT,
        "too_early",
    )
    .await;

    let (offering, booking) = past_booking(&app, &mentor, &ada, 3).await;
    assert_error(
        review(&app, &ada, &booking, json!(5), "").await,
        StatusCode::CONFLICT,
        "not_attended",
    )
    .await;
    assert_error(
        review(&app, &mentor, &booking, json!(5), "").await,
        StatusCode::CONFLICT,
        "not_attended",
    )
    .await;
    // Only its mentor marks, and only a mentee who booked it.
    assert_error(
        mark(&app, &other_mentor, &offering, &ada).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        mark(&app, &ada, &offering, &ada).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        mark(&app, &mentor, &offering, &stranger).await,
        StatusCode::NOT_FOUND,
        "not_booked",
    )
    .await;
    assert_error(
        mark(&app, &mentor, &Uuid::new_v4().to_string(), &ada).await,
        StatusCode::NOT_FOUND,
        "slot_not_found",
    )
    .await;
    let m1 = json_of(mark(&app, &mentor, &offering, &ada).await, StatusCode::OK).await;
    assert_eq!(m1["source"], "mentor");
    assert_eq!(m1["bookingId"], json!(booking));
    let m2 = json_of(mark(&app, &mentor, &offering, &ada).await, StatusCode::OK).await;
    assert_eq!(m1["attendedAt"], m2["attendedAt"], "the first mark stands");

    // Strangers to the booking: as if it did not exist.
    for who in [&stranger, &other_mentor] {
        assert_error(
            review(&app, who, &booking, json!(4), "").await,
            StatusCode::NOT_FOUND,
            "booking_not_found",
        )
        .await;
    }
    // Bad input: 4xx with a code, never a 500.
    for bad in [json!(0), json!(6), json!(-1), json!(100000)] {
        assert_error(
            review(&app, &ada, &booking, bad, "").await,
            StatusCode::BAD_REQUEST,
            "invalid_review",
        )
        .await;
    }
    assert_error(
        review(&app, &ada, &booking, json!(4.5), "").await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    )
    .await;
    assert_error(
        review(&app, &ada, &booking, json!(4), &"x".repeat(4001)).await,
        StatusCode::BAD_REQUEST,
        "invalid_review",
    )
    .await;
    assert_error(
        app.post_auth("/api/reviews", &ada.access, &json!({"bookingId": "nope", "rating": 4}))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    )
    .await;

    let r = json_of(
        review(&app, &ada, &booking, json!(4), "  Clear and kind.  ").await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(r["about"], "mentor");
    assert_eq!(r["rating"], 4);
    assert_eq!(r["text"], "Clear and kind.");
    assert_eq!(r["reviewer"], json!({"id": ada.id, "displayName": "Ada"}));
    assert_eq!(r["reviewee"], json!({"id": mentor.id, "displayName": "Grace"}));
    assert_eq!(r["reply"], Value::Null);
    assert!(!r.to_string().contains("@example.org"), "no email in a review: {r}");
    assert_eq!(
        notices(&app, &mentor).await,
        [("review_received".to_owned(), "Ada reviewed you: 4 of 5".to_owned())]
    );
    assert_error(
        review(&app, &ada, &booking, json!(5), "again").await,
        StatusCode::CONFLICT,
        "already_reviewed",
    )
    .await;
    // The other direction is its own review, once too.
    let back = json_of(
        review(&app, &mentor, &booking, json!(5), "Came prepared").await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(back["about"], "mentee");
    assert_eq!(back["reviewee"]["id"], json!(ada.id));
    assert_error(
        review(&app, &mentor, &booking, json!(3), "").await,
        StatusCode::CONFLICT,
        "already_reviewed",
    )
    .await;

    // The mentor's public list (no sign-in) carries the aggregate; the
    // mentor's review of the mentee is not public.
    let list = reviews_of(&app, mentor.id).await;
    assert_eq!(list["rating"]["average"], 4.0);
    assert_eq!(list["rating"]["count"], 1);
    assert_eq!(
        list["rating"]["distribution"],
        json!({"1": 0, "2": 0, "3": 0, "4": 1, "5": 0})
    );
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["id"], r["id"]);
    assert_eq!(list["nextBefore"], Value::Null);
    assert!(!list.to_string().contains("@example.org"));
    let of_ada = reviews_of(&app, ada.id).await;
    assert_eq!(of_ada["items"], json!([]));
    let res = app
        .http
        .get(app.url(&format!("/api/users/{}/reviews", Uuid::new_v4())))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "user_not_found").await;
    let res = app
        .http
        .get(app.url(&format!("/api/users/{}/reviews?limit=0", mentor.id)))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_query").await;
    // The booking lists show attendance and the review.
    let mine = json_of(
        app.get_auth("/api/slots/my-bookings", &ada.access).await,
        StatusCode::OK,
    )
    .await;
    let item = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == json!(booking))
        .unwrap()
        .clone();
    assert!(item["attendedAt"].is_string());
    assert_eq!(item["reviewId"], r["id"]);
    let early_item = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == json!(early))
        .unwrap()
        .clone();
    assert_eq!(
        (early_item["attendedAt"].clone(), early_item["reviewId"].clone()),
        (Value::Null, Value::Null)
    );
    let who = json_of(
        app.get_auth(&format!("/api/slots/{offering}/bookings"), &mentor.access)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(who["items"][0]["reviewId"], back["id"]);
    assert!(who["items"][0]["attendedAt"].is_string());
    // Ada sees the review of her in her own list.
    let mine = json_of(app.get_auth("/api/me/reviews", &ada.access).await, StatusCode::OK).await;
    assert_eq!(mine["received"][0]["id"], back["id"]);
    assert_eq!(mine["written"][0]["id"], r["id"]);
    // The profile shows the same figures.
    let p = json_of(
        app.get_auth(&format!("/api/users/{}", mentor.id), &ada.access).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(p["rating"]["count"], 1, "{p}");
}

#[actix_web::test]
async fn edits_last_fourteen_days_and_the_rating_and_directory_follow() {
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Grace").await;
    let ada = app.register("mentee", "Ada").await;
    let cy = app.register("mentee", "Cy").await;
    let b1 = attended(&app, &mentor, &ada, 3).await;
    let b2 = attended(&app, &mentor, &cy, 6).await;
    assert!(!directory_has(&app, &ada.access, mentor.id, 3.5).await, "no rating yet");

    let r1 = json_of(review(&app, &ada, &b1, json!(5), "").await, StatusCode::CREATED).await;
    json_of(review(&app, &cy, &b2, json!(3), "").await, StatusCode::CREATED).await;
    let list = reviews_of(&app, mentor.id).await;
    assert_eq!(list["rating"]["average"], 4.0);
    assert_eq!(list["rating"]["count"], 2);
    assert_eq!(
        list["rating"]["distribution"],
        json!({"1": 0, "2": 0, "3": 1, "4": 0, "5": 1})
    );
    assert!(directory_has(&app, &ada.access, mentor.id, 3.5).await);
    assert!(!directory_has(&app, &ada.access, mentor.id, 4.5).await);

    // The mentor's public page: the reviews by display name, and JSON-LD.
    let html = app
        .http
        .get(app.url(&format!("/mentors/{}", mentor.id)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#""@type":"AggregateRating""#), "{html}");
    assert!(html.contains(r#""reviewCount":2"#) && html.contains(r#""ratingValue":4.0"#));
    assert!(html.contains("5 of 5") && html.contains("from Ada") && html.contains("from Cy"));
    assert!(
        !html.contains(&ada.email) && !html.contains(&cy.email),
        "no contact details"
    );

    let id = r1["id"].as_str().unwrap().to_owned();
    // Only its author edits; an empty edit says nothing.
    assert_error(
        patch(
            &app,
            &format!("/api/reviews/{id}"),
            &mentor.access,
            &json!({"rating": 1}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        patch(&app, &format!("/api/reviews/{id}"), &ada.access, &json!({})).await,
        StatusCode::BAD_REQUEST,
        "invalid_review",
    )
    .await;
    assert_error(
        patch(&app, &format!("/api/reviews/{id}"), &ada.access, &json!({"rating": 9})).await,
        StatusCode::BAD_REQUEST,
        "invalid_review",
    )
    .await;
    assert_error(
        patch(
            &app,
            &format!("/api/reviews/{}", Uuid::new_v4()),
            &ada.access,
            &json!({"rating": 2}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "review_not_found",
    )
    .await;
    let e = json_of(
        patch(
            &app,
            &format!("/api/reviews/{id}"),
            &ada.access,
            &json!({"rating": 1, "text": "On reflection, no."}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (e["rating"].as_i64(), e["text"].as_str()),
        (Some(1), Some("On reflection, no."))
    );
    let list = reviews_of(&app, mentor.id).await;
    assert_eq!(list["rating"]["average"], 2.0);
    assert_eq!(
        list["rating"]["distribution"],
        json!({"1": 1, "2": 0, "3": 1, "4": 0, "5": 0})
    );
    assert!(
        !directory_has(&app, &ada.access, mentor.id, 3.5).await,
        "the directory reads the new rating"
    );
    assert!(directory_has(&app, &ada.access, mentor.id, 2.0).await);

    // Fifteen days on: locked, and nothing moves.
    let uid: Uuid = id.parse().unwrap();
    app.db
        .execute(
            "UPDATE reviews SET created_at = now() - interval '15 days' WHERE id = $1",
            &[&uid],
        )
        .await
        .unwrap();
    assert_error(
        patch(&app, &format!("/api/reviews/{id}"), &ada.access, &json!({"rating": 5})).await,
        StatusCode::CONFLICT,
        "review_locked",
    )
    .await;
    assert_eq!(reviews_of(&app, mentor.id).await["rating"]["average"], 2.0);
    // The aggregate is what the reviews say (the same transaction wrote both).
    let row = app
        .db
        .query_one(
            "SELECT p.rating_avg, p.rating_count, d.rating_avg,
                    (SELECT avg(rating)::float8 FROM reviews WHERE subject_id = p.user_id AND subject_role = 'mentor')
               FROM profiles p JOIN directory_search d ON d.user_id = p.user_id WHERE p.user_id = $1",
            &[&mentor.id],
        )
        .await
        .unwrap();
    let (avg, count, dir, truth): (f64, i32, f64, f64) = (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!((avg, count, dir), (truth, 2, truth));

    // The other direction locks too: the mentor's review of Cy, edited on
    // day 13, refused on day 14 (text unchanged).
    let back = json_of(
        review(&app, &mentor, &b2, json!(4), "Good questions").await,
        StatusCode::CREATED,
    )
    .await;
    let bid = back["id"].as_str().unwrap().to_owned();
    let buid: Uuid = bid.parse().unwrap();
    let age = |days: i32| {
        let db = &app.db;
        async move {
            db.execute(
                "UPDATE reviews SET created_at = now() - make_interval(days => $2) WHERE id = $1",
                &[&buid, &days],
            )
            .await
            .unwrap();
        }
    };
    age(13).await;
    json_of(
        patch(
            &app,
            &format!("/api/reviews/{bid}"),
            &mentor.access,
            &json!({"text": "Very good questions"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    age(14).await;
    assert_error(
        patch(
            &app,
            &format!("/api/reviews/{bid}"),
            &mentor.access,
            &json!({"text": "Changed"}),
        )
        .await,
        StatusCode::CONFLICT,
        "review_locked",
    )
    .await;
    let mine = json_of(app.get_auth("/api/me/reviews", &cy.access).await, StatusCode::OK).await;
    assert_eq!(mine["received"][0]["text"], "Very good questions");
}

#[actix_web::test]
async fn the_mentor_replies_once_and_reports_reach_the_moderation_queue() {
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Grace").await;
    let other_mentor = app.register("mentor", "Other").await;
    let ada = app.register("mentee", "Ada").await;
    let bystander = app.register("mentee", "Bystander").await;
    let booking = attended(&app, &mentor, &ada, 3).await;
    let r = json_of(
        review(&app, &ada, &booking, json!(2), "Late").await,
        StatusCode::CREATED,
    )
    .await;
    let of_ada = json_of(review(&app, &mentor, &booking, json!(4), "").await, StatusCode::CREATED).await;
    let id = r["id"].as_str().unwrap().to_owned();

    for who in [&ada, &other_mentor, &bystander] {
        assert_error(
            reply(&app, id.clone(), who, "hi").await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
    }
    assert_error(
        reply(&app, id.clone(), &mentor, "   ").await,
        StatusCode::BAD_REQUEST,
        "invalid_review",
    )
    .await;
    let v = json_of(
        reply(&app, id.clone(), &mentor, "Sorry, my train.").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(v["reply"]["text"], "Sorry, my train.");
    assert!(v["reply"]["repliedAt"].is_string());
    assert_error(
        reply(&app, id.clone(), &mentor, "Again").await,
        StatusCode::CONFLICT,
        "already_replied",
    )
    .await;
    assert_eq!(
        reviews_of(&app, mentor.id).await["items"][0]["reply"]["text"],
        "Sorry, my train."
    );
    // No replies to a review of a mentee.
    let of_ada_id = of_ada["id"].as_str().unwrap().to_owned();
    assert_error(
        reply(&app, of_ada_id.clone(), &ada, "hi").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        reply(&app, Uuid::new_v4().to_string(), &mentor, "hi").await,
        StatusCode::NOT_FOUND,
        "review_not_found",
    )
    .await;

    let rep = json_of(report(&app, id.clone(), &bystander, "Rude").await, StatusCode::CREATED).await;
    assert_eq!(rep["reviewId"], json!(id));
    assert_error(
        report(&app, id.clone(), &bystander, "Rude!").await,
        StatusCode::CONFLICT,
        "already_reported",
    )
    .await;
    assert_error(
        report(&app, id.clone(), &ada, "mine").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        report(&app, id.clone(), &mentor, "").await,
        StatusCode::BAD_REQUEST,
        "invalid_review",
    )
    .await;
    // A review of a mentee: hidden from everyone but its two people.
    assert_error(
        report(&app, of_ada_id.clone(), &bystander, "?").await,
        StatusCode::NOT_FOUND,
        "review_not_found",
    )
    .await;
    json_of(
        report(&app, of_ada_id.clone(), &ada, "Unfair").await,
        StatusCode::CREATED,
    )
    .await;
    json_of(report(&app, id.clone(), &mentor, "Not true").await, StatusCode::CREATED).await;

    let admin = app.admin().await;
    let q = json_of(
        app.get_auth("/api/admin/review-reports", &admin.access).await,
        StatusCode::OK,
    )
    .await;
    let items = q["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["reason"], "Rude");
    assert_eq!(
        items[0]["reporter"],
        json!({"id": bystander.id, "displayName": "Bystander"})
    );
    assert_eq!(items[0]["review"]["id"], json!(id));
    assert!(!q.to_string().contains("@example.org"), "no emails in the queue");
    assert_error(
        app.get_auth("/api/admin/review-reports", &mentor.access).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    // Resolving: dismiss one report, then remove the review another reports.
    let resolve = |id: &Value| format!("/api/admin/review-reports/{}/resolve", id.as_str().unwrap());
    assert_error(
        app.post_auth(&resolve(&items[0]["id"]), &mentor.access, &json!({"action": "dismiss"}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        app.post_auth(&resolve(&items[0]["id"]), &admin.access, &json!({"action": "ban"}))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    )
    .await;
    assert_error(
        app.post_auth(
            &resolve(&json!(Uuid::new_v4())),
            &admin.access,
            &json!({"action": "dismiss"}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "report_not_found",
    )
    .await;
    let d = json_of(
        app.post_auth(&resolve(&items[0]["id"]), &admin.access, &json!({"action": "dismiss"}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(d["action"], "report_dismissed");
    assert_error(
        app.post_auth(&resolve(&items[0]["id"]), &admin.access, &json!({"action": "dismiss"}))
            .await,
        StatusCode::NOT_FOUND,
        "report_not_found",
    )
    .await;
    assert_eq!(
        reviews_of(&app, mentor.id).await["rating"]["count"],
        1,
        "dismissing keeps the review"
    );
    let q = json_of(
        app.get_auth("/api/admin/review-reports", &admin.access).await,
        StatusCode::OK,
    )
    .await;
    let grace_report = q["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["review"]["id"] == json!(id))
        .unwrap()
        .clone();
    let d = json_of(
        app.post_auth(
            &resolve(&grace_report["id"]),
            &admin.access,
            &json!({"action": "remove_review"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (d["action"].as_str(), d["reviewId"].as_str()),
        (Some("review_removed"), Some(id.as_str()))
    );
    let list = reviews_of(&app, mentor.id).await;
    assert_eq!(list["items"], json!([]));
    assert_eq!(
        list["rating"],
        json!({"average": 0.0, "count": 0, "distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}})
    );
    let q = json_of(
        app.get_auth("/api/admin/review-reports", &admin.access).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(q["items"].as_array().unwrap().len(), 1, "its reports went with it: {q}");
    let audit = json_of(
        app.get_auth("/api/admin/audit?action=review_removed", &admin.access)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(audit["items"][0]["subjectId"], json!(ada.id), "{audit}");
}

#[actix_web::test]
async fn joining_the_live_room_is_attendance_one_review_per_attendee() {
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Host").await;
    let ada = app.register("mentee", "Ada").await;
    let bo = app.register("mentee", "Bo").await;
    let res = app
        .post_auth(
            "/api/sessions",
            &mentor.access,
            &json!({"title": "Live Q&A", "startsAt": Utc::now() + Dur::hours(1), "durationMinutes": 60, "capacity": 10}),
        )
        .await;
    let session = json_of(res, StatusCode::CREATED).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut bookings = Vec::new();
    for m in [&ada, &bo] {
        let v = json_of(
            app.post_auth(&format!("/api/sessions/{session}/register"), &m.access, &json!({}))
                .await,
            StatusCode::CREATED,
        )
        .await;
        bookings.push(v["booking"]["id"].as_str().unwrap().to_owned());
    }
    json_of(
        app.post_auth(&format!("/api/sessions/{session}/start"), &mentor.access, &json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    // Ada joins the live room; Bo never does.
    let mut ws = Ws::connect(&app, &ada.access).await;
    let id: LiveId = session.parse().unwrap();
    ws.acked(&Command::SessionJoin { session_id: id }).await;
    let sid: Uuid = session.parse().unwrap();
    let src: Option<String> = app
        .db
        .query_one(
            "SELECT attended_source FROM bookings WHERE offering_id = $1 AND mentee_id = $2",
            &[&sid, &ada.id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(src.as_deref(), Some("live"));

    json_of(
        review(&app, &ada, &bookings[0], json!(5), "").await,
        StatusCode::CREATED,
    )
    .await;
    assert_error(
        review(&app, &bo, &bookings[1], json!(1), "").await,
        StatusCode::CONFLICT,
        "not_attended",
    )
    .await;
    json_of(
        review(&app, &mentor, &bookings[0], json!(4), "").await,
        StatusCode::CREATED,
    )
    .await;
    assert_error(
        review(&app, &mentor, &bookings[1], json!(4), "").await,
        StatusCode::CONFLICT,
        "not_attended",
    )
    .await;
    // Marked by the mentor, Bo may review too: one review per attendee.
    json_of(mark(&app, &mentor, &session, &bo).await, StatusCode::OK).await;
    json_of(review(&app, &bo, &bookings[1], json!(3), "").await, StatusCode::CREATED).await;
    let list = reviews_of(&app, mentor.id).await;
    assert_eq!(list["rating"]["count"], 2);
    assert_eq!(list["rating"]["average"], 4.0);
}

/// The kinds and titles of a user's notifications, newest first.
/// `(kind, title)` of a user's mentorship and review notifications, newest
/// first (the bookings these tests make notify too: booking_notices.rs
/// tests those).
async fn notices(app: &TestApp, who: &Session) -> Vec<(String, String)> {
    let v = json_of(app.get_auth("/api/notifications", &who.access).await, StatusCode::OK).await;
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| !n["kind"].as_str().unwrap().starts_with("booking_"))
        .map(|n| {
            (
                n["kind"].as_str().unwrap().to_owned(),
                n["payload"]["title"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

async fn request(app: &TestApp, mentee: &Session, mentor: Uuid, goals: &str) -> reqwest::Response {
    let start = Utc::now().date_naive();
    app.post_auth(
        "/api/mentorships",
        &mentee.access,
        &json!({"mentorId": mentor, "startDate": start, "endDate": start + Dur::days(90), "goals": goals}),
    )
    .await
}

async fn act(app: &TestApp, who: &Session, id: &str, action: &str) -> reqwest::Response {
    app.post_auth(&format!("/api/mentorships/{id}/{action}"), &who.access, &json!({}))
        .await
}

#[actix_web::test]
async fn a_mentorship_is_requested_and_accepting_opens_the_conversation() {
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Grace").await;
    let other_mentor = app.register("mentor", "Other").await;
    let ada = app.register("mentee", "Ada").await;
    let cy = app.register("mentee", "Cy").await;
    // Grace takes no messages from strangers: the mentorship opens the way.
    let res = app
        .patch_profile(&mentor.access, &json!({"acceptsMessages": false}))
        .await;
    assert!(res.status().is_success());

    // Refusals first.
    assert_error(
        request(&app, &ada, Uuid::new_v4(), "Rust").await,
        StatusCode::NOT_FOUND,
        "user_not_found",
    )
    .await;
    assert_error(
        request(&app, &ada, cy.id, "Rust").await,
        StatusCode::NOT_FOUND,
        "not_a_mentor",
    )
    .await;
    assert_error(
        request(&app, &mentor, other_mentor.id, "Rust").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        request(&app, &ada, mentor.id, "   ").await,
        StatusCode::BAD_REQUEST,
        "invalid_mentorship",
    )
    .await;
    let today = Utc::now().date_naive();
    for (s, e) in [
        (today - Dur::days(1), today + Dur::days(10)),
        (today + Dur::days(10), today + Dur::days(9)),
        (today, today + Dur::days(800)),
    ] {
        assert_error(
            app.post_auth(
                "/api/mentorships",
                &ada.access,
                &json!({"mentorId": mentor.id, "startDate": s, "endDate": e, "goals": "Rust"}),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "invalid_mentorship",
        )
        .await;
    }
    assert_error(
        app.post_auth(
            "/api/mentorships",
            &ada.access,
            &json!({"mentorId": mentor.id, "startDate": "tomorrow", "endDate": today, "goals": "Rust"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    )
    .await;

    let m = json_of(
        request(&app, &ada, mentor.id, "Ship a Rust service").await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(m["status"], "pending");
    assert_eq!(m["mentor"], json!({"id": mentor.id, "displayName": "Grace"}));
    assert_eq!(m["mentee"], json!({"id": ada.id, "displayName": "Ada"}));
    assert_eq!(m["roomId"], Value::Null);
    assert!(!m.to_string().contains("@example.org"));
    let id = m["id"].as_str().unwrap().to_owned();
    assert_error(
        request(&app, &ada, mentor.id, "again").await,
        StatusCode::CONFLICT,
        "mentorship_exists",
    )
    .await;

    // Someone else's request: strangers do not see it; the mentee may not accept it.
    for who in [&other_mentor, &cy] {
        assert_error(
            act(&app, who, &id, "accept").await,
            StatusCode::NOT_FOUND,
            "mentorship_not_found",
        )
        .await;
    }
    assert_error(act(&app, &ada, &id, "accept").await, StatusCode::FORBIDDEN, "forbidden").await;
    assert_error(
        act(&app, &ada, &id, "decline").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        act(&app, &mentor, &id, "approve").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        act(&app, &mentor, &Uuid::new_v4().to_string(), "accept").await,
        StatusCode::NOT_FOUND,
        "mentorship_not_found",
    )
    .await;

    assert_eq!(
        notices(&app, &mentor).await,
        [(
            "mentorship_requested".to_owned(),
            "Ada asks you for a mentorship".to_owned()
        )]
    );
    let a = json_of(act(&app, &mentor, &id, "accept").await, StatusCode::OK).await;
    assert_eq!(
        notices(&app, &ada).await[0],
        (
            "mentorship_accepted".to_owned(),
            "Grace accepted your mentorship request".to_owned()
        )
    );
    assert_eq!(a["status"], "accepted");
    assert!(a["decidedAt"].is_string());
    let room = a["roomId"].as_str().expect("a room").to_owned();
    // Their direct conversation, open to both.
    let r = json_of(
        app.get_auth(&format!("/api/rooms/{room}"), &ada.access).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(r["kind"], "direct");
    assert_eq!(r["members"].as_array().unwrap().len(), 2);
    let sent = app
        .post_auth(
            &format!("/api/rooms/{room}/messages"),
            &ada.access,
            &json!({"body": "Hello!"}),
        )
        .await;
    assert_eq!(sent.status(), StatusCode::CREATED);
    // The same room as opening it directly.
    let d = json_of(
        app.post_auth("/api/rooms/direct", &mentor.access, &json!({"userId": ada.id}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(d["id"], json!(room));
    assert_error(
        act(&app, &mentor, &id, "accept").await,
        StatusCode::CONFLICT,
        "mentorship_closed",
    )
    .await;
    assert_error(
        act(&app, &mentor, &id, "decline").await,
        StatusCode::CONFLICT,
        "mentorship_closed",
    )
    .await;

    // Lists: each party sees it, nobody else.
    for who in [&ada, &mentor] {
        let l = json_of(app.get_auth("/api/mentorships", &who.access).await, StatusCode::OK).await;
        assert_eq!(l["items"].as_array().unwrap().len(), 1);
        assert_eq!(l["items"][0]["id"], json!(id));
    }
    let l = json_of(app.get_auth("/api/mentorships", &cy.access).await, StatusCode::OK).await;
    assert_eq!(l["items"], json!([]));

    // Either side ends it, once.
    let e = json_of(act(&app, &ada, &id, "end").await, StatusCode::OK).await;
    assert_eq!(e["status"], "ended");
    assert_eq!(e["endedBy"], json!(ada.id));
    assert_eq!(
        notices(&app, &mentor).await[0],
        ("mentorship_ended".to_owned(), "Ada ended your mentorship".to_owned())
    );
    assert_error(
        act(&app, &mentor, &id, "end").await,
        StatusCode::CONFLICT,
        "mentorship_closed",
    )
    .await;

    // A new request after the end; the mentor declines it; then none is open.
    let m2 = json_of(request(&app, &ada, mentor.id, "Round two").await, StatusCode::CREATED).await;
    let id2 = m2["id"].as_str().unwrap().to_owned();
    let d = json_of(act(&app, &mentor, &id2, "decline").await, StatusCode::OK).await;
    assert_eq!((d["status"].as_str(), d["roomId"].as_str()), (Some("declined"), None));
    assert_error(
        act(&app, &ada, &id2, "end").await,
        StatusCode::CONFLICT,
        "mentorship_closed",
    )
    .await;
    // A pending one the mentee withdraws (ends).
    let m3 = json_of(request(&app, &ada, mentor.id, "Third").await, StatusCode::CREATED).await;
    let e = json_of(act(&app, &ada, m3["id"].as_str().unwrap(), "end").await, StatusCode::OK).await;
    assert_eq!(e["status"], "ended");
}

#[actix_web::test]
async fn matching_ranks_mentors_with_their_reasons_in_words() {
    use chrono::{Datelike, TimeZone};
    let app = spawn_app().await;
    let rusty = app.register("mentor", "Rusty").await;
    let py = app.register("mentor", "Pythonista").await;
    let ada = app.register("mentee", "Ada").await;
    let res = app
        .patch_profile(
            &rusty.access,
            &json!({"skills": [{"name": "Rust", "level": "expert"}], "yearsOfExperience": 12,
                    "timeZone": "Europe/Berlin", "tags": ["interviews"],
                    "bio": "I coach Kubernetes and systems interviews."}),
        )
        .await;
    assert!(res.status().is_success());
    let res = app
        .patch_profile(
            &py.access,
            &json!({"skills": [{"name": "Python", "level": "expert"}], "yearsOfExperience": 3,
                    "timeZone": "America/Los_Angeles", "bio": "Data science."}),
        )
        .await;
    assert!(res.status().is_success());
    // A free slot of Rusty's tomorrow at 12:00 in Berlin; Ada wants that
    // weekday from 10:00 to 14:00 Berlin time.
    let berlin: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
    let tomorrow = (Utc::now().with_timezone(&berlin) + Dur::days(1)).date_naive();
    let noon = berlin
        .from_local_datetime(&tomorrow.and_hms_opt(12, 0, 0).unwrap())
        .earliest()
        .unwrap()
        .with_timezone(&Utc);
    app.slot(&rusty, (noon - Utc::now()).num_minutes() + 1, 1).await;
    let weekday = tomorrow.weekday().number_from_monday();
    let q = json!({
        "skills": [{"name": "rust", "level": "advanced"}],
        "goals": "Pass Kubernetes interviews",
        "categories": ["Interviews"],
        "preferredTimes": [{"weekday": weekday, "startTime": "10:00", "endTime": "14:00"}],
        "timeZone": "Europe/Berlin",
    });
    let v = json_of(app.post_auth("/api/matching", &ada.access, &q).await, StatusCode::OK).await;
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let first = &items[0];
    assert_eq!(first["mentor"]["userId"], json!(rusty.id));
    assert_eq!(items[1]["mentor"]["userId"], json!(py.id));
    assert!(first["score"].as_f64().unwrap() > items[1]["score"].as_f64().unwrap());
    assert_eq!(first["freeSlots"], 1);
    let reasons: Vec<&str> = first["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    let has = |needle: &str| reasons.iter().any(|r| r.contains(needle));
    assert!(has("knows Rust (expert) at your target level"), "{reasons:?}");
    assert!(
        has("1 free slot in the next 14 days at your preferred times"),
        "{reasons:?}"
    );
    assert!(
        has("their profile mentions") && has("kubernetes") && has("interviews"),
        "{reasons:?}"
    );
    assert!(has("they mentor in interviews"), "{reasons:?}");
    assert!(has("Same time of day as you"), "{reasons:?}");
    assert!(has("12 years of experience"), "{reasons:?}");
    let factors = first["factors"].as_array().unwrap();
    let names: Vec<&str> = factors.iter().map(|f| f["factor"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["skills", "availability", "rating", "experience", "timeZone", "goals"]
    );
    let py_reasons = items[1]["reasons"].to_string();
    assert!(py_reasons.contains("does not list rust"), "{py_reasons}");
    assert!(
        py_reasons.contains("hours from your time zone (America/Los_Angeles)"),
        "{py_reasons}"
    );

    // A review moves the rating factor.
    let booking = attended(&app, &rusty, &ada, 3).await;
    json_of(review(&app, &ada, &booking, json!(5), "").await, StatusCode::CREATED).await;
    let v = json_of(app.post_auth("/api/matching", &ada.access, &q).await, StatusCode::OK).await;
    assert!(v["items"][0]["reasons"]
        .to_string()
        .contains("Rated 5.0 of 5 from 1 review."));

    for (bad, code) in [
        (json!({"timeZone": "Mars/Base"}), "invalid_questionnaire"),
        (json!({"timeZone": "UTC", "limit": 0}), "invalid_questionnaire"),
        (
            json!({"timeZone": "UTC", "preferredTimes": [{"weekday": 8, "startTime": "10:00", "endTime": "11:00"}]}),
            "invalid_questionnaire",
        ),
        (
            json!({"timeZone": "UTC", "preferredTimes": [{"weekday": 1, "startTime": "11:00", "endTime": "10:00"}]}),
            "invalid_questionnaire",
        ),
        (
            json!({"timeZone": "UTC", "preferredTimes": [{"weekday": 1, "startTime": "9am", "endTime": "10:00"}]}),
            "invalid_questionnaire",
        ),
        (
            json!({"timeZone": "UTC", "skills": [{"name": " ", "level": "expert"}]}),
            "invalid_questionnaire",
        ),
        (
            json!({"timeZone": "UTC", "goals": "x".repeat(2001)}),
            "invalid_questionnaire",
        ),
        (
            json!({"timeZone": "UTC", "skills": [{"name": "rust", "level": "guru"}]}),
            "invalid_json",
        ),
        (json!({"skills": []}), "invalid_json"),
    ] {
        assert_error(
            app.post_auth("/api/matching", &ada.access, &bad).await,
            StatusCode::BAD_REQUEST,
            code,
        )
        .await;
    }
}

#[actix_web::test]
async fn a_call_during_a_booked_slot_is_its_attendance() {
    use lyceum_peer::Signaller;
    use lyceum_protocol::UserId;
    use std::time::Duration;
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Grace").await;
    let ada = app.register("mentee", "Ada").await;
    // A slot starting in 5 minutes (on from 15 minutes before), one in 3 days.
    let soon = app.slot(&mentor, 5, 1).await;
    let later = app.slot(&mentor, 60 * 24 * 3, 1).await;
    let mut bookings = Vec::new();
    for s in [&soon, &later] {
        let b = json_of(app.book(&ada, s["id"].as_str().unwrap()).await, StatusCode::CREATED).await;
        bookings.push(b["booking"]["id"].as_str().unwrap().to_owned());
    }
    assert_error(
        review(&app, &ada, &bookings[0], json!(5), "").await,
        StatusCode::CONFLICT,
        "not_attended",
    )
    .await;
    let sm = Signaller::connect(&app.address, &mentor.access).await.unwrap();
    let se = Signaller::connect(&app.address, &ada.access).await.unwrap();
    let call = sm.call_invite(UserId(ada.id), false).await.unwrap();
    se.wait_call_incoming(Some(UserId(mentor.id)), Duration::from_secs(10))
        .await
        .unwrap();
    let session = se.call_accept(call).await.unwrap();
    se.command(&Command::SessionJoin { session_id: session }).await.unwrap();

    let attended = |b: &str| {
        let id: Uuid = b.parse().unwrap();
        let db = &app.db;
        async move {
            db.query_one("SELECT attended_source FROM bookings WHERE id = $1", &[&id])
                .await
                .unwrap()
                .get::<_, Option<String>>(0)
        }
    };
    assert_eq!(attended(&bookings[0]).await.as_deref(), Some("live"));
    assert_eq!(attended(&bookings[1]).await, None, "a slot not on now is not attended");
    json_of(
        review(&app, &ada, &bookings[0], json!(5), "").await,
        StatusCode::CREATED,
    )
    .await;
}

#[actix_web::test]
async fn reviews_written_at_once_leave_the_rating_consistent() {
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Grace").await;
    let mut mentees = Vec::new();
    for i in 0..8 {
        let m = app.register("mentee", &format!("Mentee{i}")).await;
        let b = attended(&app, &mentor, &m, 2 + 2 * i).await;
        mentees.push((m, b));
    }
    // All at once: each recount must see every review committed before it.
    let posts = mentees
        .iter()
        .enumerate()
        .map(|(i, (m, b))| review(&app, m, b, json!(1 + (i % 5)), ""));
    for res in futures_util::future::join_all(posts).await {
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let list = reviews_of(&app, mentor.id).await;
    // Ratings 1,2,3,4,5,1,2,3: 21 / 8.
    assert_eq!(list["rating"]["count"], 8);
    assert_eq!(list["rating"]["average"], 2.63);
    assert_eq!(
        list["rating"]["distribution"],
        json!({"1": 2, "2": 2, "3": 2, "4": 1, "5": 1})
    );
}

#[actix_web::test]
async fn a_mentee_reviews_on_my_bookings_and_the_directory_and_the_mentor_page_show_it() {
    use crate::pages::{browser, csrf_of, get_page, sign_up};
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Grace").await;
    let b = browser();
    let email = sign_up(&b, &app, "mentee", "Mia").await;
    let mia = app.login(&email).await;
    let (offering, booking) = past_booking(&app, &mentor, &mia, 3).await;
    let (_, html) = get_page(&b, &app, "/bookings").await;
    assert!(!html.contains("Send my review"), "no review before attendance");
    json_of(mark(&app, &mentor, &offering, &mia).await, StatusCode::OK).await;
    let (_, html) = get_page(&b, &app, "/bookings").await;
    assert!(html.contains("Send my review") && html.contains(&format!(r#"for="rating-{booking}""#)));

    // A bad rating comes back in words; a good one lands.
    let post = |rating: &'static str, html: String| {
        let b = &b;
        let app = &app;
        let booking = booking.clone();
        async move {
            b.post(app.url("/bookings/review"))
                .form(&[
                    ("csrf", csrf_of(&html).as_str()),
                    ("bookingId", booking.as_str()),
                    ("rating", rating),
                    ("text", "Patient and precise."),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let res = post("9", html.clone()).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.contains("error="), "{to}");
    let (_, page) = get_page(&b, &app, &to).await;
    assert!(page.contains("Choose a rating from 1 to 5"), "the error in words");
    let res = post("5", html).await;
    assert_eq!(res.headers()["location"], "/bookings?reviewed=1");
    let (_, html) = get_page(&b, &app, "/bookings?reviewed=1").await;
    assert!(html.contains("Thank you!") && html.contains("You reviewed Grace"));
    assert!(!html.contains("Send my review"));

    assert!(
        directory_has(&app, &mia.access, mentor.id, 4.5).await,
        "the directory sees the rating"
    );
    let (_, page) = get_page(&b, &app, &format!("/mentors/{}", mentor.id)).await;
    assert!(page.contains("5 of 5") && page.contains("from Mia") && page.contains("Patient and precise."));
    assert!(!page.contains(&email));
}

#[actix_web::test]
async fn the_questionnaire_page_shows_reasons_and_a_requested_mentorship_is_accepted_by_form() {
    use crate::pages::{browser, csrf_of, get_page, sign_up};
    let app = spawn_app().await;
    let mb = browser();
    let mentor_email = sign_up(&mb, &app, "mentor", "Grace").await;
    let grace = app.login(&mentor_email).await;
    let res = app
        .patch_profile(
            &grace.access,
            &json!({"skills": [{"name": "Rust", "level": "expert"}], "bio": "Compilers and interviews."}),
        )
        .await;
    assert!(res.status().is_success());
    let b = browser();
    let email = sign_up(&b, &app, "mentee", "Mia").await;
    let mia = app.login(&email).await;

    let (status, html) = get_page(
        &b,
        &app,
        "/matching?skill1=Rust&level1=advanced&goals=Prepare+for+compiler+interviews&weekday=&timeZone=UTC",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Grace") && html.contains("knows Rust (expert) at your target level"),
        "{html}"
    );
    assert!(html.contains("their profile mentions"), "goal words in words");
    assert!(html.contains("Request mentorship with Grace"));
    let (_, bad) = get_page(&b, &app, "/matching?skill1=Rust&level1=advanced&timeZone=Mars%2FBase").await;
    assert!(bad.contains("time zone (such as Europe/Berlin)"), "the error in words");

    let today = Utc::now().date_naive();
    let res = b
        .post(app.url("/mentorships"))
        .form(&[
            ("csrf", csrf_of(&html).as_str()),
            ("mentorId", &grace.id.to_string()),
            ("startDate", &today.to_string()),
            ("endDate", &(today + Dur::days(60)).to_string()),
            ("goals", "Prepare for compiler interviews"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["location"], "/mentorships?done=requested");
    let (_, html) = get_page(&b, &app, "/mentorships?done=requested").await;
    assert!(html.contains("Mentor: Grace") && html.contains("pending"));

    let (_, html) = get_page(&mb, &app, "/mentorships").await;
    assert!(html.contains("Mentee: Mia") && html.contains("Accept Mia"));
    let marker = r#"data-mentorship=""#;
    let at = html.find(marker).unwrap() + marker.len();
    let id = html[at..at + 36].to_owned();
    let res = mb
        .post(app.url(&format!("/mentorships/{id}/accept")))
        .form(&[("csrf", csrf_of(&html).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["location"], "/mentorships?done=accept");
    let (_, html) = get_page(&b, &app, "/mentorships").await;
    assert!(
        html.contains("accepted") && html.contains("Your conversation is open"),
        "{html}"
    );
    // Their conversation: a direct room of the two.
    let rooms = json_of(app.get_auth("/api/rooms", &mia.access).await, StatusCode::OK).await;
    assert!(
        rooms["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["kind"] == "direct" && r["peer"]["userId"] == json!(grace.id)),
        "{rooms}"
    );
    // Accepting again says why not, in words.
    let (_, html) = get_page(&mb, &app, "/mentorships").await;
    assert!(!html.contains("Accept Mia"), "no accept button once accepted");
    let res = mb
        .post(app.url(&format!("/mentorships/{id}/accept")))
        .form(&[("csrf", csrf_of(&html).as_str())])
        .send()
        .await
        .unwrap();
    let to = res.headers()["location"].to_str().unwrap().to_owned();
    let (_, html) = get_page(&mb, &app, &to).await;
    assert!(html.contains("has moved on already"), "{html}");
}

#[actix_web::test]
async fn goals_take_progress_from_their_owner_and_feedback_only_from_their_mentors() {
    let app = spawn_app().await;
    let grace = app.register("mentor", "Grace").await;
    let stranger = app.register("mentor", "Stranger").await;
    let ada = app.register("mentee", "Ada").await;
    let other = app.register("mentee", "Other").await;
    let res = app
        .post_auth(
            "/api/goals",
            &ada.access,
            &json!({"title": "Land a compiler job", "dueDate": "2027-06-30",
                    "milestones": [{"title": "Write a parser", "dueDate": "2027-01-31"}, {"title": "Apply", "done": false}]}),
        )
        .await;
    let g = json_of(res, StatusCode::CREATED).await;
    let id = g["id"].as_str().unwrap().to_owned();
    assert_eq!(g["progress"], 0);
    assert_eq!(
        g["milestones"][0],
        json!({"title": "Write a parser", "dueDate": "2027-01-31", "done": false})
    );
    assert_error(
        app.post_auth("/api/goals", &grace.access, &json!({"title": "x"})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        app.post_auth("/api/goals", &ada.access, &json!({"title": "  "})).await,
        StatusCode::BAD_REQUEST,
        "invalid_goal",
    )
    .await;
    let up = |who: &Session, action: &str, body: Value| {
        let (path, token) = (format!("/api/goals/{id}/{action}"), who.access.clone());
        let app = &app;
        async move { app.post_auth(&path, &token, &body).await }
    };
    let p = json_of(
        up(&ada, "progress", json!({"percent": 40, "text": "Parser done"})).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(p["progress"], 40);
    assert_eq!(p["updates"][0]["kind"], "progress");
    assert_error(
        up(&ada, "progress", json!({"percent": 101})).await,
        StatusCode::BAD_REQUEST,
        "invalid_goal",
    )
    .await;
    assert_error(
        up(&ada, "feedback", json!({"text": "me"})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    // Feedback on a stranger's goals: refused, as if the goal did not exist.
    for who in [&grace, &stranger, &other] {
        assert_error(
            up(who, "feedback", json!({"text": "Nice"})).await,
            StatusCode::NOT_FOUND,
            "goal_not_found",
        )
        .await;
        assert_error(
            app.get_auth(&format!("/api/goals/{id}"), &who.access).await,
            StatusCode::NOT_FOUND,
            "goal_not_found",
        )
        .await;
    }
    assert_error(
        app.get_auth(&format!("/api/goals?userId={}", ada.id), &grace.access)
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // A pending mentorship is not enough; an accepted one is.
    let m = json_of(request(&app, &ada, grace.id, "Compilers").await, StatusCode::CREATED).await;
    let mid = m["id"].as_str().unwrap().to_owned();
    assert_error(
        up(&grace, "feedback", json!({"text": "Nice"})).await,
        StatusCode::NOT_FOUND,
        "goal_not_found",
    )
    .await;
    json_of(act(&app, &grace, &mid, "accept").await, StatusCode::OK).await;
    let f = json_of(
        up(
            &grace,
            "feedback",
            json!({"text": "Good parser; now the type checker."}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(
        f["updates"][1]["author"],
        json!({"id": grace.id, "displayName": "Grace"})
    );
    assert_eq!(f["updates"][1]["percent"], Value::Null);
    assert_error(
        up(&grace, "progress", json!({"percent": 90})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        up(&grace, "feedback", json!({"text": ""})).await,
        StatusCode::BAD_REQUEST,
        "invalid_goal",
    )
    .await;
    assert_error(
        up(&stranger, "feedback", json!({"text": "Nice"})).await,
        StatusCode::NOT_FOUND,
        "goal_not_found",
    )
    .await;
    let l = json_of(
        app.get_auth(&format!("/api/goals?userId={}", ada.id), &grace.access)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(l["items"][0]["id"], json!(id));
    assert!(!l.to_string().contains("@example.org"));
    // The progress chart, drawn by the server, for whoever sees the goal.
    let res = app.get_auth(&format!("/api/goals/{id}/chart.svg"), &grace.access).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/svg+xml");
    let svg = res.text().await.unwrap();
    assert!(
        svg.starts_with("<svg")
            && svg.contains("<polyline")
            && svg.contains("Progress of Land a compiler job: 40 % now")
    );
    assert_eq!(svg.matches("<circle").count(), 1, "one progress update");
    assert_error(
        app.get_auth(&format!("/api/goals/{id}/chart.svg"), &stranger.access)
            .await,
        StatusCode::NOT_FOUND,
        "goal_not_found",
    )
    .await;
    assert_error(
        app.get_auth(&format!("/api/goals/{id}/chart.png"), &ada.access).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // Self-assessments over time: the mentee's, seen by their mentor.
    for (level, note) in [("beginner", "Just started"), ("intermediate", "Wrote a parser")] {
        json_of(
            app.post_auth(
                "/api/me/skills",
                &ada.access,
                &json!({"skill": "Rust", "level": level, "note": note}),
            )
            .await,
            StatusCode::CREATED,
        )
        .await;
    }
    assert_error(
        app.post_auth("/api/me/skills", &ada.access, &json!({"skill": "", "level": "expert"}))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_goal",
    )
    .await;
    assert_error(
        app.post_auth(
            "/api/me/skills",
            &grace.access,
            &json!({"skill": "Rust", "level": "expert"}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let sk = json_of(
        app.get_auth(&format!("/api/users/{}/skills", ada.id), &grace.access)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(sk["items"][0]["skill"], "rust");
    assert_eq!(sk["items"][0]["current"], "intermediate");
    assert_eq!(sk["items"][0]["history"].as_array().unwrap().len(), 2);
    assert_eq!(sk["items"][0]["history"][0]["note"], "Just started");
    assert_error(
        app.get_auth(&format!("/api/users/{}/skills", ada.id), &stranger.access)
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // Once the mentorship ends, so does the mentor's view.
    json_of(act(&app, &ada, &mid, "end").await, StatusCode::OK).await;
    assert_error(
        up(&grace, "feedback", json!({"text": "Bye"})).await,
        StatusCode::NOT_FOUND,
        "goal_not_found",
    )
    .await;
    assert_error(
        app.get_auth(&format!("/api/users/{}/skills", ada.id), &grace.access)
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

#[actix_web::test]
async fn the_dashboard_shows_sessions_attendance_figures_ratings_and_requests() {
    let app = spawn_app().await;
    let grace = app.register("mentor", "Grace").await;
    let ada = app.register("mentee", "Ada").await;
    let bo = app.register("mentee", "Bo").await;
    // One past slot: Ada attended, Bo booked but did not come.
    let (offering, booking) = past_booking(&app, &grace, &ada, 3).await;
    let b = json_of(app.book(&bo, &offering).await, StatusCode::CONFLICT).await;
    assert_eq!(b["error"], "booking_closed", "a past slot takes no booking");
    let bo_booking = Uuid::new_v4();
    let oid: Uuid = offering.parse().unwrap();
    app.db
        .execute(
            "INSERT INTO bookings (id, offering_id, mentee_id, status, confirmed_at) VALUES ($1, $2, $3, 'confirmed', now())",
            &[&bo_booking, &oid, &bo.id],
        )
        .await
        .unwrap();
    json_of(mark(&app, &grace, &offering, &ada).await, StatusCode::OK).await;
    json_of(review(&app, &ada, &booking, json!(4), "").await, StatusCode::CREATED).await;
    app.slot(&grace, 600, 3).await;
    json_of(request(&app, &bo, grace.id, "Interviews").await, StatusCode::CREATED).await;

    let d = json_of(app.get_auth("/api/me/dashboard", &grace.access).await, StatusCode::OK).await;
    assert_eq!(d["upcoming"].as_array().unwrap().len(), 1);
    assert_eq!(d["past"][0]["id"], json!(offering));
    assert_eq!(
        (d["past"][0]["confirmed"].as_i64(), d["past"][0]["attended"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        d["figures"],
        json!({"sessionsHeld": 1, "hours": 1.0, "confirmedBookings": 2, "attendedBookings": 1, "attendanceRate": 0.5})
    );
    assert_eq!(d["rating"]["average"], 4.0);
    assert_eq!(d["ratingTrend"].as_array().unwrap().len(), 1);
    assert_eq!(d["ratingTrend"][0]["count"], 1);
    assert_eq!(
        d["mentorshipRequests"][0]["mentee"],
        json!({"id": bo.id, "displayName": "Bo"})
    );
    assert!(!d.to_string().contains("@example.org"));
    assert_error(
        app.get_auth("/api/me/dashboard", &ada.access).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // A mentor with nothing yet: zeros and nulls, not errors.
    let fresh = app.register("mentor", "Fresh").await;
    let d = json_of(app.get_auth("/api/me/dashboard", &fresh.access).await, StatusCode::OK).await;
    assert_eq!(d["figures"]["attendanceRate"], Value::Null);
    assert_eq!(d["figures"]["sessionsHeld"], 0);
}

#[actix_web::test]
async fn the_dashboard_page_shows_the_session_just_held() {
    use crate::pages::{browser, get_page, sign_up};
    let app = spawn_app().await;
    let b = browser();
    let email = sign_up(&b, &app, "mentor", "Grace").await;
    let grace = app.login(&email).await;
    let ada = app.register("mentee", "Ada").await;
    let booking = attended(&app, &grace, &ada, 2).await;
    json_of(review(&app, &ada, &booking, json!(5), "").await, StatusCode::CREATED).await;
    let (status, html) = get_page(&b, &app, "/dashboard").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Sessions held") && html.contains("100 % (1 of 1 booked)"),
        "{html}"
    );
    assert!(html.contains("Average rating by month: ") && html.contains("5.0 from 1 reviews"));
    let mb = browser();
    sign_up(&mb, &app, "mentee", "Mia").await;
    let (status, html) = get_page(&mb, &app, "/dashboard").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("Your account cannot do this"));
}

/// The emails the sink holds for `to`.
fn mails_to(mails: &std::sync::Mutex<Vec<String>>, to: &str) -> Vec<String> {
    let to = to.to_lowercase();
    mails
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m.to_lowercase().contains(&to))
        .cloned()
        .collect()
}

#[actix_web::test]
async fn mentorship_and_review_notices_are_emailed_when_the_preference_allows() {
    let (smtp_port, mails) = crate::calendar::smtp_sink().await;
    let smtp = format!("smtp://127.0.0.1:{smtp_port}");
    let app = spawn_app_with(|s| {
        s.reminders.poll_ms = 100;
        s.smtp.url = Some(secrecy::SecretString::from(smtp.clone()));
    })
    .await;
    let grace = app.register("mentor", "Grace").await;
    let ada = app.register("mentee", "Ada").await;
    let bo = app.register("mentee", "Bo").await;

    // The preferences list the six new kinds after the boards', email on.
    let p = json_of(
        app.get_auth("/api/me/notification-preferences", &bo.access).await,
        StatusCode::OK,
    )
    .await;
    let kinds: Vec<&str> = p["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "reminder",
            "board_reply",
            "board_mention",
            "board_answer_accepted",
            "board_moderation",
            "direct_message",
            "mentorship_requested",
            "mentorship_accepted",
            "mentorship_declined",
            "mentorship_ended",
            "review_received",
            "review_replied",
            "booking_confirmed",
            "booking_promoted",
            "booking_cancelled",
            "booking_received"
        ]
    );
    assert!(p["items"].as_array().unwrap().iter().all(|i| i["email"] == true), "{p}");
    // Bo wants no email when declined.
    let res = app
        .http
        .put(app.url("/api/me/notification-preferences"))
        .bearer_auth(&bo.access)
        .json(&json!({"email": {"mentorship_declined": false}}))
        .send()
        .await
        .unwrap();
    let p = json_of(res, StatusCode::OK).await;
    let declined = p["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "mentorship_declined")
        .unwrap()
        .clone();
    assert_eq!(declined["email"], false);

    // Requested (to Grace, twice), accepted (to Ada), declined (to Bo: in
    // the app only).
    let m = json_of(request(&app, &ada, grace.id, "Rust").await, StatusCode::CREATED).await;
    let ada_m = m["id"].as_str().unwrap().to_owned();
    let m = json_of(request(&app, &bo, grace.id, "Go").await, StatusCode::CREATED).await;
    let bo_m = m["id"].as_str().unwrap().to_owned();
    json_of(act(&app, &grace, &ada_m, "accept").await, StatusCode::OK).await;
    json_of(act(&app, &grace, &bo_m, "decline").await, StatusCode::OK).await;
    // A review (to Grace) and its reply (to Ada); Ada ends it (to Grace).
    // Its booking emails Ada its confirmation and Grace the booking.
    let booking = attended(&app, &grace, &ada, 3).await;
    let r = json_of(
        review(&app, &ada, &booking, json!(5), "Sharp.").await,
        StatusCode::CREATED,
    )
    .await;
    let rid = r["id"].as_str().unwrap().to_owned();
    json_of(reply(&app, rid.clone(), &grace, "Thank you!").await, StatusCode::OK).await;
    json_of(act(&app, &ada, &ada_m, "end").await, StatusCode::OK).await;

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let (g, a) = (mails_to(&mails, &grace.email).len(), mails_to(&mails, &ada.email).len());
        if g >= 5 && a >= 3 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "Grace has {g} of 5 emails, Ada {a} of 3: {:?}",
            mails.lock().unwrap()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Give a stray email a moment to show, then count exactly.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let to_grace = mails_to(&mails, &grace.email);
    let to_ada = mails_to(&mails, &ada.email);
    assert_eq!(to_grace.len(), 5, "{to_grace:?}");
    assert_eq!(to_ada.len(), 3, "{to_ada:?}");
    // The body is quoted-printable: a long link is wrapped with soft breaks.
    let has = |list: &[String], subject: &str, path: &str| {
        list.iter().any(|m| {
            let body = m.replace("=\n", "").replace("=3D", "=");
            body.contains(&format!("Subject: {subject}")) && body.contains(path)
        })
    };
    let grace_page = format!("/mentors/{}", grace.id);
    assert!(
        has(&to_grace, "Ada asks you for a mentorship", "/mentorships"),
        "{to_grace:?}"
    );
    assert!(
        has(&to_grace, "Bo asks you for a mentorship", "/mentorships"),
        "{to_grace:?}"
    );
    assert!(has(&to_grace, "Ada reviewed you: 5 of 5", &grace_page), "{to_grace:?}");
    assert!(
        has(&to_grace, "Ada ended your mentorship", "/mentorships"),
        "{to_grace:?}"
    );
    assert!(
        has(&to_ada, "Grace accepted your mentorship request", "/mentorships"),
        "{to_ada:?}"
    );
    assert!(has(&to_ada, "Grace replied to your review", &grace_page), "{to_ada:?}");
    // Bo: told in the app, not by email, as he chose.
    assert!(mails_to(&mails, &bo.email).is_empty(), "{:?}", mails.lock().unwrap());
    assert_eq!(
        notices(&app, &bo).await,
        [(
            "mentorship_declined".to_owned(),
            "Grace declined your mentorship request".to_owned()
        )]
    );
    assert_eq!(
        notices(&app, &ada).await[..2],
        [
            ("review_replied".to_owned(), "Grace replied to your review".to_owned()),
            (
                "mentorship_accepted".to_owned(),
                "Grace accepted your mentorship request".to_owned()
            ),
        ]
    );
    // One email job per notification emailed (none for Bo's), each to its
    // own account's address only.
    let jobs: i64 = app
        .db
        .query_one("SELECT count(*) FROM outbox WHERE kind = 'email'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(jobs, 8, "six notices and the booking's two");
    for m in to_grace.iter().chain(&to_ada) {
        assert!(!m.contains(&bo.email), "{m}");
    }
    // A second reply is refused, and notifies nobody again.
    let before = notices(&app, &ada).await.len();
    assert_error(
        reply(&app, rid, &grace, "Again").await,
        StatusCode::CONFLICT,
        "already_replied",
    )
    .await;
    assert_eq!(notices(&app, &ada).await.len(), before);
}

#[actix_web::test]
async fn the_notifications_page_lists_mentorship_notices_and_sets_the_email_choices() {
    use crate::pages::{browser, csrf_of, get_page, sign_up};
    let app = spawn_app().await;
    let grace = app.register("mentor", "Grace").await;
    let b = browser();
    let email = sign_up(&b, &app, "mentee", "Mia").await;
    let mia = app.login(&email).await;
    let m = json_of(request(&app, &mia, grace.id, "Rust").await, StatusCode::CREATED).await;
    json_of(
        act(&app, &grace, m["id"].as_str().unwrap(), "accept").await,
        StatusCode::OK,
    )
    .await;

    let (status, html) = get_page(&b, &app, "/notifications").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(r#"<a href="/mentorships">Grace accepted your mentorship request</a>"#),
        "{html}"
    );
    // Every kind, in words, checked until turned off.
    for words in [
        "reminders before your sessions",
        "replies to your posts on the boards",
        "requests for a mentorship with you",
        "your mentorship requests being accepted",
        "your mentorship requests being declined",
        "a mentorship ended by the other person",
        "reviews of you",
        "a mentor's reply to your review",
        "your bookings and registrations being confirmed",
        "a seat opening for you from a waitlist",
        "bookings cancelled by the other side",
        "mentees booking your slots",
    ] {
        assert!(html.contains(words), "{words}: {html}");
    }
    assert_eq!(html.matches(r#"type="checkbox""#).count(), 16);
    assert_eq!(html.matches(" checked").count(), 16);
    assert!(html.contains("This server sends no email at the moment"));

    // Unchecking two: only the checked kinds are sent, the rest go off.
    let mut fields: Vec<(&str, &str)> = vec![("csrf", "")];
    let csrf = csrf_of(&html);
    fields[0].1 = &csrf;
    let kinds = [
        "reminder",
        "board_reply",
        "board_mention",
        "board_answer_accepted",
        "board_moderation",
        "direct_message",
        "mentorship_requested",
        "mentorship_declined",
        "mentorship_ended",
        "review_received",
        "booking_confirmed",
        "booking_promoted",
        "booking_cancelled",
        "booking_received",
    ];
    fields.extend(kinds.iter().map(|k| ("email", *k)));
    let res = b
        .post(app.url("/notifications/preferences"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/notifications?saved=1#preferences");
    let p = json_of(
        app.get_auth("/api/me/notification-preferences", &mia.access).await,
        StatusCode::OK,
    )
    .await;
    let off: Vec<&str> = p["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["email"] == false)
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(off, ["mentorship_accepted", "review_replied"]);
    let (_, html) = get_page(&b, &app, "/notifications?saved=1").await;
    assert!(html.contains("Your email choices are saved."));
    assert_eq!(html.matches(" checked").count(), 14);
    assert!(html.contains(r#"name="email" value="review_replied">"#), "unchecked");
    assert!(
        html.contains(r#"name="email" value="review_received" checked>"#),
        "checked"
    );

    // Without the CSRF token: refused, nothing changes.
    let res = b
        .post(app.url("/notifications/preferences"))
        .form(&[("email", "reminder")])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    let again = json_of(
        app.get_auth("/api/me/notification-preferences", &mia.access).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again, p);
}
