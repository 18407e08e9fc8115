//! Regression tests for what an attacker and a flaky client found (issue 12):
//! NUL characters, arithmetic on client numbers and dates, fragmented and
//! oversized WebSocket frames, answers to commands without an id.

use futures_util::StreamExt;
use lyceum_actors::chat::store::{commit_batch, Kind, NewEvent};
use lyceum_protocol::{ErrorCode, RoomId, UserId};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{assert_error, spawn_app, TestApp};
use crate::ws::Ws;

async fn get(app: &TestApp, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = app.http.get(app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

#[actix_web::test]
async fn a_nul_character_is_refused_at_the_edge_with_invalid_text() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let mentor = app.register("mentor", "Nula Mentor").await;
    let mentee = app.register("mentee", "Nula Mentee").await;

    // Query parameters, everywhere one is read.
    for path in [
        "/api/mentors?q=a%00b",
        "/api/mentors?skill=%00",
        "/api/mentors?tag=rust%00",
        "/api/sessions?q=%00",
        "/api/sessions?category=%00",
        "/api/sessions?tag=%00",
        "/api/admin/audit?action=%00",
    ] {
        assert_error(
            get(&app, path, Some(&admin.access)).await,
            StatusCode::BAD_REQUEST,
            "invalid_text",
        )
        .await;
    }
    // Path segments, signed in or not.
    assert_error(
        get(&app, "/calendar/%00.ics", None).await,
        StatusCode::BAD_REQUEST,
        "invalid_text",
    )
    .await;
    assert_error(
        get(&app, "/api/users/%00", Some(&mentee.access)).await,
        StatusCode::BAD_REQUEST,
        "invalid_text",
    )
    .await;
    // An escaped percent sign is not a NUL.
    let res = get(&app, "/api/mentors?q=100%2500", Some(&mentee.access)).await;
    assert_eq!(res.status(), StatusCode::OK);

    // JSON bodies: in a value, in a key, nested.
    let res = app
        .post_json(
            "/api/auth/login",
            &json!({"email": "a\u{0}@example.com", "password": "x"}),
        )
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_text").await;
    let res = app
        .patch_profile(&mentor.access, &json!({"bio": "fine", "skills": ["ok", "bad\u{0}"]}))
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_text").await;
    let room = app
        .create_room(&mentor.access, json!({"name": "Nul room", "visibility": "public"}))
        .await;
    let res = app
        .http
        .post(app.url(&format!("/api/rooms/{room}/messages")))
        .bearer_auth(&mentor.access)
        .json(&json!({"body": "x", "clientMsgId": "\u{0}"}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_text").await;
    let res = app
        .http
        .put(app.url(&format!("/api/offerings/{}/notes", uuid::Uuid::new_v4())))
        .bearer_auth(&mentor.access)
        .json(&json!({"body": "notes\u{0}"}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_text").await;
    // Nothing was stored from the refused message; the room still works.
    let res = app
        .http
        .post(app.url(&format!("/api/rooms/{room}/messages")))
        .bearer_auth(&mentor.access)
        .json(&json!({"body": "after the NUL"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED, "{:?}", res.text().await);
}

#[actix_web::test]
async fn a_nul_over_the_websocket_fails_only_its_own_command() {
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Host").await;
    let mentee = app.register("mentee", "Guest Of Honour").await;
    let room = app.public_room(&mentor, &[&mentee]).await;
    let mut a = Ws::connect(&app, &mentor.access).await;
    let mut b = Ws::connect(&app, &mentee.access).await;
    a.subscribe(&room, None).await;
    b.subscribe(&room, None).await;
    // Both at once: the mentee's NUL and the mentor's ordinary message.
    a.send(json!({"id": "good", "type": "send", "roomId": room, "clientMsgId": "g1", "body": "innocent"}))
        .await;
    b.send(json!({"id": "bad", "type": "send", "roomId": room, "clientMsgId": "b1", "body": "evil\u{0}"}))
        .await;
    let bad = b.next_where(|f| f["id"] == "bad").await;
    assert_eq!(
        (bad["type"].as_str(), bad["code"].as_str()),
        (Some("error"), Some("invalid_text")),
        "{bad}"
    );
    let good = a.next_where(|f| f["id"] == "good").await;
    assert_eq!(good["type"], "ack", "{good}");
    let m = b.message(&room).await;
    assert_eq!(m["body"], "innocent");
    // The connection that sent the NUL still works.
    assert_eq!(b.say(&room, "sorry").await, good["seq"].as_i64().unwrap() + 1);
}

/// The store's promise: one bad item in a group commit gets its own error,
/// the others commit (checked below the edge, which refuses NULs first).
#[actix_web::test]
async fn one_bad_item_does_not_fail_the_group_commit() {
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Batcher").await;
    let room = app
        .create_room(&mentor.access, json!({"name": "Batch", "visibility": "public"}))
        .await;
    let mut cfg = deadpool_postgres::Config::new();
    cfg.url = Some(app.conn.clone());
    let pool = cfg
        .create_pool(Some(deadpool_postgres::Runtime::Tokio1), tokio_postgres::NoTls)
        .unwrap();
    let item = |cmid: &str, body: &str| NewEvent {
        sender: UserId(mentor.id),
        moderator: false,
        client_msg_id: Some(cmid.to_owned()),
        kind: Kind::Message,
        body: Some(body.to_owned()),
        ciphertext: None,
        attachments: vec![],
        target_seq: None,
    };
    let room_id = RoomId(room.parse().unwrap());
    let out = commit_batch(
        &pool,
        room_id,
        &[
            item("ok-1", "first"),
            item("bad\u{0}", "x"),
            item("ok-2", "nul\u{0}body"),
            item("ok-3", "third"),
        ],
    )
    .await
    .expect("the batch commits");
    assert_eq!(out.len(), 4);
    assert_eq!(out[0].as_ref().unwrap().seq, 1);
    assert_eq!(out[1].as_ref().unwrap_err().code, ErrorCode::InvalidText);
    assert_eq!(out[2].as_ref().unwrap_err().code, ErrorCode::InvalidText);
    assert_eq!(out[3].as_ref().unwrap().seq, 2);
    let hist: Value = get(&app, &format!("/api/rooms/{room}/messages"), Some(&mentor.access))
        .await
        .json()
        .await
        .unwrap();
    let bodies: Vec<&str> = hist["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["first", "third"], "{hist}");
}

#[actix_web::test]
async fn arithmetic_on_client_numbers_and_dates_is_checked() {
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Calc").await;
    let post = |path: &'static str, body: Value| {
        let app = &app;
        let token = mentor.access.clone();
        async move {
            app.http
                .post(app.url(path))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let starts = (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339();
    let session = |d: Value| json!({"title": "Big", "startsAt": starts, "durationMinutes": d, "capacity": 5});
    for d in [json!(i64::MAX), json!(i64::MIN), json!(-1), json!(0), json!(721)] {
        assert_error(
            post("/api/sessions", session(d)).await,
            StatusCode::BAD_REQUEST,
            "invalid_slot",
        )
        .await;
    }
    for d in [json!(1e14), json!(-1e14), json!(1e300)] {
        assert_error(
            post("/api/sessions", session(d)).await,
            StatusCode::BAD_REQUEST,
            "invalid_json",
        )
        .await;
    }
    // The latest instant chrono can hold, plus a duration.
    let far = json!({"title": "Far", "startsAt": "+262142-12-31T23:59:59Z", "durationMinutes": 60, "capacity": 5});
    assert_error(
        post("/api/sessions", far).await,
        StatusCode::BAD_REQUEST,
        "invalid_slot",
    )
    .await;
    for date in ["+262142-12-20", "-262143-01-01", "2500-01-01", "2001-01-01"] {
        let body = json!({"weekday": 2, "startTime": "18:00", "endTime": "19:00", "timeZone": "Europe/Berlin",
                          "startDate": date, "weeks": 52, "maxParticipants": 1});
        assert_error(
            post("/api/slots/recurring", body).await,
            StatusCode::BAD_REQUEST,
            "invalid_slot",
        )
        .await;
        let body =
            json!({"date": date, "startTime": "18:00", "endTime": "19:00", "timeZone": "UTC", "maxParticipants": 1});
        assert_error(post("/api/slots", body).await, StatusCode::BAD_REQUEST, "invalid_slot").await;
    }
    let body =
        json!({"startsAt": "+262142-12-31T23:00:00Z", "endsAt": "+262142-12-31T23:59:00Z", "maxParticipants": 1});
    assert_error(post("/api/slots", body).await, StatusCode::BAD_REQUEST, "invalid_slot").await;
    // Still serving, and ordinary requests still work.
    let ok = post("/api/sessions", session(json!(90))).await;
    assert_eq!(ok.status(), StatusCode::CREATED);
    let today = chrono::Utc::now().date_naive().to_string();
    let body = json!({"weekday": 2, "startTime": "18:00", "endTime": "19:00", "timeZone": "Europe/Berlin",
                      "startDate": today, "weeks": 52, "maxParticipants": 1});
    assert_eq!(post("/api/slots/recurring", body).await.status(), StatusCode::CREATED);
}

fn fragment(opcode: OpCode, last: bool, payload: &[u8]) -> Message {
    let header = FrameHeader {
        is_final: last,
        opcode,
        ..FrameHeader::default()
    };
    Message::Frame(Frame::from_payload(header, payload.to_vec().into()))
}

#[actix_web::test]
async fn a_fragmented_message_gets_one_binary_not_supported() {
    let app = spawn_app().await;
    let s = app.register("mentee", "Fragmenter").await;
    let mut ws = Ws::connect(&app, &s.access).await;
    // Three fragmented messages of 30 fragments each: more fragments than
    // the bad-frame budget (10), but only three errors.
    for _ in 0..3 {
        ws.send_raw(fragment(OpCode::Data(Data::Text), false, b"{\"type\":"))
            .await;
        for _ in 0..28 {
            ws.send_raw(fragment(OpCode::Data(Data::Continue), false, b" ")).await;
        }
        ws.send_raw(fragment(OpCode::Data(Data::Continue), true, b"\"ping\"}"))
            .await;
    }
    // An unfragmented ping: its ack comes after the three errors, and the
    // connection is still up.
    ws.send(json!({"id": "after", "type": "ping"})).await;
    let mut errors = 0;
    loop {
        let f = ws.read().await.expect("still connected");
        if f["id"] == "after" {
            assert_eq!(f["pong"], true);
            break;
        }
        assert_eq!(f["type"], "error", "{f}");
        assert_eq!(f["code"], "binary_not_supported", "{f}");
        assert_eq!(f["id"], Value::Null, "{f}");
        errors += 1;
    }
    assert_eq!(errors, 3);
}

#[actix_web::test]
async fn a_frame_over_the_limit_closes_with_1009() {
    let app = spawn_app().await;
    let s = app.register("mentee", "Verbose").await;
    let mut ws = Ws::connect(&app, &s.access).await;
    let limit = app.settings.chat.max_frame_bytes;
    let big = format!(r#"{{"type":"ping","pad":"{}"}}"#, "x".repeat(limit + 1));
    ws.send_raw(Message::Text(big.into())).await;
    let close = loop {
        match tokio::time::timeout(crate::ws::WAIT, ws.stream.next()).await.unwrap() {
            Some(Ok(Message::Close(c))) => break c.expect("a close reason"),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(u16::from(close.code), 1009);
}

#[actix_web::test]
async fn answers_carry_the_commands_id_or_none() {
    let app = spawn_app().await;
    let s = app.register("mentee", "Idless").await;
    let mut ws = Ws::connect(&app, &s.access).await;
    ws.send(json!({"type": "ping"})).await;
    let ack = ws.next_of("ack").await;
    assert!(
        ack.get("id").is_none(),
        "a command without an id is answered without one: {ack}"
    );
    assert_eq!(ack["pong"], true);
    ws.send(json!({"type": "subscribe", "roomId": uuid::Uuid::new_v4()}))
        .await;
    let err = ws.next_of("error").await;
    assert!(err.get("id").is_none(), "{err}");
    ws.send_raw(Message::Text("{".into())).await;
    let err = ws.next_of("error").await;
    assert_eq!(
        err["id"],
        Value::Null,
        "an unreadable frame's error carries id null: {err}"
    );
    assert_eq!(err["code"], "invalid_frame");
}

#[actix_web::test]
async fn the_docs_small_print_holds() {
    let app = spawn_app().await;
    let owner = app.register("mentor", "Owner").await;
    let helper = app.register("mentee", "Helper").await;
    let other = app.register("mentee", "Other").await;

    // A token in the URL is a 401, whatever it holds; other parameters 400.
    assert_eq!(
        crate::ws::try_connect(&app, None, &format!("?token={}", owner.access))
            .await
            .err(),
        Some(401)
    );
    assert_eq!(crate::ws::try_connect(&app, None, "?token=").await.err(), Some(401));
    assert_eq!(crate::ws::try_connect(&app, None, "?foo=1").await.err(), Some(400));

    // Mentee to mentee: 403 forbidden.
    let res = app
        .http
        .post(app.url("/api/rooms/direct"))
        .bearer_auth(&helper.access)
        .json(&json!({"userId": other.id}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;

    // Refresh answers with "user": null, not without the field.
    let v: Value = app.refresh_raw(&owner.refresh).await.json().await.unwrap();
    assert!(v.get("user").is_some_and(Value::is_null), "{v}");

    // Room roles: the owner appoints a moderator, who may then mute but
    // not appoint; the owner's role never changes.
    let room = app.public_room(&owner, &[&helper, &other]).await;
    let put = |token: String, path: String, body: Value| {
        let app = &app;
        async move {
            app.http
                .put(app.url(&path))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let role_path = |u: uuid::Uuid| format!("/api/rooms/{room}/members/{u}/role");
    let mute_path = format!("/api/rooms/{room}/members/{}/mute", other.id);
    assert_error(
        put(helper.access.clone(), mute_path.clone(), json!({"minutes": 5})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let res = put(
        owner.access.clone(),
        role_path(helper.id),
        json!({"roomRole": "moderator"}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let roomv: Value = get(&app, &format!("/api/rooms/{room}"), Some(&owner.access))
        .await
        .json()
        .await
        .unwrap();
    let m = roomv["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["userId"] == json!(helper.id))
        .cloned()
        .unwrap();
    assert_eq!(m["roomRole"], "moderator", "{roomv}");
    let res = put(helper.access.clone(), mute_path.clone(), json!({"minutes": 5})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_error(
        put(
            helper.access.clone(),
            role_path(other.id),
            json!({"roomRole": "moderator"}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        put(owner.access.clone(), role_path(owner.id), json!({"roomRole": "member"})).await,
        StatusCode::BAD_REQUEST,
        "invalid_member",
    )
    .await;
    assert_error(
        put(owner.access.clone(), role_path(other.id), json!({"roomRole": "owner"})).await,
        StatusCode::BAD_REQUEST,
        "invalid_member",
    )
    .await;
    let stranger = app.register("mentee", "Stranger").await;
    assert_error(
        put(
            owner.access.clone(),
            role_path(stranger.id),
            json!({"roomRole": "moderator"}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "member_not_found",
    )
    .await;
    // Made a member again, the helper can no longer mute.
    let res = put(
        owner.access.clone(),
        role_path(helper.id),
        json!({"roomRole": "member"}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_error(
        put(helper.access.clone(), mute_path, json!({"minutes": 0})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    // A negative afterSeq is refused; live events carry editedAt/deletedAt as null.
    let mut ws = Ws::connect(&app, &owner.access).await;
    let e = ws
        .cmd(json!({"type": "subscribe", "roomId": room, "afterSeq": -1}))
        .await;
    assert_eq!(
        (e["type"].as_str(), e["code"].as_str()),
        (Some("error"), Some("invalid_command")),
        "{e}"
    );
    let ack = ws.subscribe(&room, Some(0)).await;
    assert_eq!(ack["resumeFrom"], 0);
    ws.say(&room, "hello").await;
    let m = ws.message(&room).await;
    assert!(m.get("editedAt").is_some_and(Value::is_null), "{m}");
    assert!(m.get("deletedAt").is_some_and(Value::is_null), "{m}");
}
