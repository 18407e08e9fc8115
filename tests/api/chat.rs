//! Chat over real WebSockets: direct and group rooms, fan-out, resume (after
//! a disconnect and across a server restart), idempotent sends, typing, read
//! receipts, presence, permissions, guests, slow readers and bad frames.

use std::time::Duration;

use lyceum_protocol::frames::{Command, Event, MessageEvent};
use lyceum_protocol::UserId;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;
use crate::ws::{room_id, send, try_connect, Ws};

impl TestApp {
    pub async fn create_room(&self, token: &str, body: Value) -> String {
        let res = self
            .http
            .post(self.url("/api/rooms"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
    }

    pub async fn open_dm(&self, token: &str, other: uuid::Uuid) -> reqwest::Response {
        self.http
            .post(self.url("/api/rooms/direct"))
            .bearer_auth(token)
            .json(&json!({"userId": other}))
            .send()
            .await
            .unwrap()
    }

    /// A new end-to-end encrypted direct room, `from` to `to` (201): its id.
    pub async fn open_e2ee_dm(&self, from: &Session, to: &Session) -> String {
        let res = self
            .http
            .post(self.url("/api/rooms/direct"))
            .bearer_auth(&from.access)
            .json(&json!({"userId": to.id, "e2ee": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
    }

    pub async fn join_room(&self, token: &str, room: &str) -> reqwest::Response {
        self.http
            .post(self.url(&format!("/api/rooms/{room}/join")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn public_room(&self, owner: &Session, members: &[&Session]) -> String {
        let room = self
            .create_room(
                &owner.access,
                json!({"name": "Placements 2026", "visibility": "public"}),
            )
            .await;
        for m in members {
            assert_eq!(self.join_room(&m.access, &room).await.status(), StatusCode::OK);
        }
        room
    }
}

#[actix_web::test]
async fn upgrade_needs_a_valid_token_or_ticket() {
    let app = spawn_app().await;
    let s = app.register("mentee", "Sock").await;
    assert_eq!(try_connect(&app, None, "").await.err(), Some(401));
    assert_eq!(try_connect(&app, Some("garbage"), "").await.err(), Some(401));
    // Browsers: a one-time ticket in the URL instead of a header.
    let t: Value = app
        .http
        .post(app.url("/api/ws/ticket"))
        .bearer_auth(&s.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ticket = t["ticket"].as_str().unwrap();
    let mut ws = try_connect(&app, None, &format!("?ticket={ticket}"))
        .await
        .expect("ticket accepted");
    assert_eq!(ws.next_of("hello").await["userId"], json!(s.id));
    assert_eq!(
        try_connect(&app, None, &format!("?ticket={ticket}")).await.err(),
        Some(401),
        "a ticket works once"
    );
}

#[actix_web::test]
async fn direct_conversation_between_mentor_and_mentee() {
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Mentor").await;
    let mentee = app.register("mentee", "Mentee").await;
    let res = app.open_dm(&mentor.access, mentee.id).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let room = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    // Opening it again (from either side) finds the same room.
    let again: Value = app.open_dm(&mentee.access, mentor.id).await.json().await.unwrap();
    assert_eq!(again["id"], room);

    let mut a = Ws::connect(&app, &mentor.access).await;
    let mut b = Ws::connect(&app, &mentee.access).await;
    a.subscribe(&room, None).await;
    b.subscribe(&room, None).await;
    assert_eq!(a.say(&room, "Hello! How is the job search going?").await, 1);
    let m = b.message(&room).await;
    assert_eq!(m["seq"], 1);
    assert_eq!(m["body"], "Hello! How is the job search going?");
    assert_eq!(m["senderId"], json!(mentor.id));
    assert_eq!(m["senderName"], "Mentor");
    assert_eq!(b.say(&room, "Two interviews next week").await, 2);
    assert_eq!(a.message(&room).await["seq"], 1, "the sender sees its own message too");
    assert_eq!(a.message(&room).await["body"], "Two interviews next week");

    // History over HTTP, in order, with paging cursors.
    let h: Value = app
        .get_auth(&format!("/api/rooms/{room}/messages"), &mentee.access)
        .await
        .json()
        .await
        .unwrap();
    let bodies: Vec<&str> = h["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies,
        ["Hello! How is the job search going?", "Two interviews next week"]
    );
    let h: Value = app
        .get_auth(&format!("/api/rooms/{room}/messages?before=2&limit=1"), &mentee.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(h["items"][0]["seq"], 1);
    // And over the socket.
    let h = b
        .acked(&Command::History {
            room_id: room_id(&room),
            before: None,
            after: Some(1),
            limit: None,
        })
        .await;
    assert_eq!(h["messages"][0]["seq"], 2);
    // History entries read as the protocol's MessageEvent too.
    let _: Vec<MessageEvent> = serde_json::from_value(h["messages"].clone()).unwrap();

    // The room list shows the peer, the last message and unread counts.
    let list: Value = app.get_auth("/api/rooms", &mentee.access).await.json().await.unwrap();
    let r = &list["items"][0];
    assert_eq!(r["peer"]["displayName"], "Mentor");
    assert_eq!(r["lastMessage"]["body"], "Two interviews next week");
    assert_eq!(
        r["unread"], 1,
        "the mentor's message is unread; the mentee's own is not counted"
    );
    let text = list.to_string();
    assert!(!text.contains(&mentor.email), "no emails in room listings");
}

#[actix_web::test]
async fn group_room_fans_out_to_every_member_in_order() {
    let app = spawn_app().await;
    let owner = app.register("mentor", "Host").await;
    let mut members = Vec::new();
    for i in 0..6 {
        members.push(app.register("mentee", &format!("Student{i}")).await);
    }
    let refs: Vec<&Session> = members.iter().collect();
    let room = app.public_room(&owner, &refs).await;
    let mut sockets = Vec::new();
    for m in &members {
        let mut ws = Ws::connect(&app, &m.access).await;
        ws.subscribe(&room, None).await;
        sockets.push(ws);
    }
    let mut host = Ws::connect(&app, &owner.access).await;
    host.subscribe(&room, None).await;
    // Concurrent sends from two members land in one gapless order.
    for i in 0..10 {
        host.post(&send(&room, &format!("host {i}"))).await;
        sockets[0].post(&send(&room, &format!("s0 {i}"))).await;
    }
    let mut orders = Vec::new();
    for ws in sockets.iter_mut().chain(std::iter::once(&mut host)) {
        let mut seqs = Vec::new();
        let mut bodies = Vec::new();
        for _ in 0..20 {
            let m = ws.message(&room).await;
            seqs.push(m["seq"].as_i64().unwrap());
            bodies.push(m["body"].as_str().unwrap().to_owned());
        }
        assert_eq!(seqs, (1..=20).collect::<Vec<_>>(), "every member gets 1..=20 in order");
        orders.push(bodies);
    }
    assert!(orders.windows(2).all(|w| w[0] == w[1]), "everyone sees the same order");
    let host_order: Vec<&String> = orders[0].iter().filter(|b| b.starts_with("host")).collect();
    assert_eq!(
        host_order,
        (0..10)
            .map(|i| format!("host {i}"))
            .collect::<Vec<_>>()
            .iter()
            .collect::<Vec<_>>(),
        "a sender's messages keep their order"
    );
}

#[actix_web::test]
async fn resume_after_a_forced_disconnect_misses_nothing_and_repeats_nothing() {
    let app = spawn_app().await;
    let owner = app.register("mentor", "Owner").await;
    let reader = app.register("mentee", "Reader").await;
    let room = app.public_room(&owner, &[&reader]).await;
    let mut w = Ws::connect(&app, &owner.access).await;
    let mut r = Ws::connect(&app, &reader.access).await;
    r.subscribe(&room, None).await;
    for i in 1..=3 {
        w.say(&room, &format!("m{i}")).await;
    }
    for i in 1..=3 {
        assert_eq!(r.message(&room).await["seq"], i);
    }
    // Cut the connection without a goodbye.
    drop(r);
    for i in 4..=8 {
        w.say(&room, &format!("m{i}")).await;
    }
    let mut r = Ws::connect(&app, &reader.access).await;
    let ack = r.subscribe(&room, Some(3)).await;
    assert_eq!(ack["lastSeq"], 8);
    // Live traffic continues while the reader catches up.
    w.post(&send(&room, "m9")).await;
    let mut got = Vec::new();
    for _ in 4..=9 {
        got.push(r.message(&room).await["seq"].as_i64().unwrap());
    }
    assert_eq!(got, vec![4, 5, 6, 7, 8, 9]);
    r.quiet("message", Duration::from_millis(300)).await;

    // A resume from far back (beyond the in-memory ring) comes from Postgres.
    let mut r2 = Ws::connect(&app, &reader.access).await;
    r2.subscribe(&room, Some(0)).await;
    for i in 1..=9 {
        assert_eq!(r2.message(&room).await["seq"], i);
    }
}

#[actix_web::test]
async fn a_resent_message_is_not_duplicated() {
    let app = spawn_app().await;
    let owner = app.register("mentor", "Owner").await;
    let room = app
        .create_room(&owner.access, json!({"name": "Solo", "visibility": "private"}))
        .await;
    let mut w = Ws::connect(&app, &owner.access).await;
    let once = Command::Send {
        room_id: room_id(&room),
        client_msg_id: Some("m-1".into()),
        body: Some("once".into()),
        ciphertext: None,
        attachments: vec![],
    };
    let first = w.acked(&once).await;
    assert_eq!(first["seq"], 1);
    assert_eq!(first["duplicate"], false);
    // The ack was "lost": the client resends, also on a new connection.
    let mut w2 = Ws::connect(&app, &owner.access).await;
    let again = w2.acked(&once).await;
    assert_eq!(again["seq"], 1);
    assert_eq!(again["duplicate"], true);
    // Two copies in one burst (one group commit) are one message too.
    w.send(json!({"id": "x", "type": "send", "roomId": room, "clientMsgId": "m-2", "body": "twice"}))
        .await;
    w.send(json!({"id": "y", "type": "send", "roomId": room, "clientMsgId": "m-2", "body": "twice"}))
        .await;
    let x = w.next_where(|f| f["id"] == "x").await;
    let y = w.next_where(|f| f["id"] == "y").await;
    assert_eq!(x["seq"], y["seq"]);
    // Over HTTP too.
    let res = app
        .http
        .post(app.url(&format!("/api/rooms/{room}/messages")))
        .bearer_auth(&owner.access)
        .json(&json!({"clientMsgId": "m-1", "body": "once"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["seq"], 1);
    let n: i64 = app
        .db
        .query_one("SELECT count(*) FROM messages", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2);
}

#[actix_web::test]
async fn resume_works_across_a_server_restart() {
    let app = spawn_app().await;
    let owner = app.register("mentor", "Owner").await;
    let reader = app.register("mentee", "Reader").await;
    let room = app.public_room(&owner, &[&reader]).await;
    let mut w = Ws::connect(&app, &owner.access).await;
    for i in 1..=5 {
        w.say(&room, &format!("before {i}")).await;
    }
    drop(w);
    app.server.stop(true).await;

    let app2 = start_on(app.conn.clone(), app.settings.clone()).await;
    let mut w = Ws::connect(&app2, &owner.access).await;
    assert_eq!(w.say(&room, "after restart").await, 6, "seqs continue with no gap");
    let mut r = Ws::connect(&app2, &reader.access).await;
    r.subscribe(&room, Some(2)).await;
    for i in 3..=6 {
        assert_eq!(r.message(&room).await["seq"], i);
    }
}

#[actix_web::test]
async fn typing_read_receipts_and_presence() {
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Mentor").await;
    let mentee = app.register("mentee", "Mentee").await;
    let room: Value = app.open_dm(&mentor.access, mentee.id).await.json().await.unwrap();
    let room = room["id"].as_str().unwrap().to_owned();

    let mut a = Ws::connect(&app, &mentor.access).await;
    a.subscribe(&room, None).await;
    let mut b = Ws::connect(&app, &mentee.access).await;
    // A learns that B came online; B learns that A is online.
    let p = a
        .next_where(|f| f["type"] == "presence" && f["userId"] == json!(mentee.id))
        .await;
    assert_eq!(p["online"], true);
    let p = b
        .next_where(|f| f["type"] == "presence" && f["userId"] == json!(mentor.id))
        .await;
    assert_eq!(p["online"], true);
    b.subscribe(&room, None).await;

    // Typing: shown to the other side, not echoed; expires by itself.
    let typing = |typing| Command::Typing {
        room_id: room_id(&room),
        typing,
    };
    b.post(&typing(true)).await;
    let t = a.next_of("typing").await;
    assert_eq!(
        (t["userId"].clone(), t["typing"].clone()),
        (json!(mentee.id), json!(true))
    );
    let t = a.next_of("typing").await;
    assert_eq!(t["typing"], false, "expired after the TTL without a refresh");
    b.quiet("typing", Duration::from_millis(100)).await;
    // An explicit stop is shown; a stop without a start is not news.
    b.post(&typing(true)).await;
    assert_eq!(a.next_of("typing").await["typing"], true);
    b.post(&typing(false)).await;
    assert_eq!(a.next_of("typing").await["typing"], false);
    b.post(&typing(false)).await;
    a.quiet("typing", Duration::from_millis(300)).await;

    // Read receipts: a pointer per user, shown to the room.
    a.say(&room, "one").await;
    a.say(&room, "two").await;
    let list: Value = app.get_auth("/api/rooms", &mentee.access).await.json().await.unwrap();
    assert_eq!(list["items"][0]["unread"], 2);
    let read = |seq| Command::Read {
        room_id: room_id(&room),
        seq,
    };
    let ack = b.acked(&read(2)).await;
    assert_eq!(ack["seq"], 2);
    let r = a.event(|e| matches!(e, Event::Read { .. })).await;
    let Event::Read { user_id, seq, .. } = r else {
        unreachable!()
    };
    assert_eq!((user_id, seq), (UserId(mentee.id), 2));
    // A pointer never moves back, nor past the end.
    assert_eq!(b.acked(&read(1)).await["seq"], 2);
    assert_eq!(b.acked(&read(99)).await["seq"], 2);
    let list: Value = app.get_auth("/api/rooms", &mentee.access).await.json().await.unwrap();
    assert_eq!(list["items"][0]["unread"], 0);
    let details: Value = app
        .get_auth(&format!("/api/rooms/{room}"), &mentor.access)
        .await
        .json()
        .await
        .unwrap();
    let them = details["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["userId"] == json!(mentee.id))
        .unwrap()
        .clone();
    assert_eq!(them["lastReadSeq"], 2);
    assert_eq!(them["online"], true);

    // B goes away: A sees B offline with a last-seen time.
    drop(b);
    let p = a
        .next_where(|f| f["type"] == "presence" && f["userId"] == json!(mentee.id) && f["online"] == false)
        .await;
    assert!(p["lastSeen"].is_string());
}

#[actix_web::test]
async fn membership_and_role_rules() {
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Mentor").await;
    let closed = app.register("mentor", "Closed").await;
    let mentee = app.register("mentee", "Mentee").await;
    let other = app.register("mentee", "Other").await;
    app.patch_profile(&closed.access, &json!({"acceptsMessages": false}))
        .await;

    // A mentee cannot open a conversation with a mentor who does not accept messages...
    assert_error(
        app.open_dm(&mentee.access, closed.id).await,
        StatusCode::FORBIDDEN,
        "messages_not_accepted",
    )
    .await;
    // ...unless they have booked that mentor.
    let other_open_slot = {
        let starts = chrono::Utc::now() + chrono::Duration::days(3);
        let res = app
            .http
            .post(app.url("/api/slots"))
            .bearer_auth(&closed.access)
            .json(&json!({"startsAt": starts, "endsAt": starts + chrono::Duration::hours(1), "maxParticipants": 3}))
            .send()
            .await
            .unwrap();
        res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
    };
    let res = app
        .http
        .post(app.url("/api/slots/book"))
        .bearer_auth(&other.access)
        .json(&json!({"slotId": other_open_slot}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(
        app.open_dm(&other.access, closed.id).await.status(),
        StatusCode::CREATED,
        "booked mentees may write"
    );
    // ...nor with another mentee; but a mentor may open one with any mentee.
    assert_error(
        app.open_dm(&mentee.access, other.id).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_eq!(
        app.open_dm(&closed.access, mentee.id).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        app.open_dm(&mentee.access, mentor.id).await.status(),
        StatusCode::CREATED
    );
    // Mentees do not create group rooms.
    let res = app
        .http
        .post(app.url("/api/rooms"))
        .bearer_auth(&mentee.access)
        .json(&json!({"name": "x", "visibility": "public"}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;

    // A private room: non-members can neither read nor send nor join.
    let room = app
        .create_room(&mentor.access, json!({"name": "Inner circle", "visibility": "private"}))
        .await;
    let mut ws = Ws::connect(&app, &other.access).await;
    let subscribe = Command::Subscribe {
        room_id: room_id(&room),
        after_seq: None,
    };
    assert_eq!(ws.refused(&subscribe).await.0, "not_a_member");
    assert_eq!(ws.refused(&send(&room, "let me in")).await.0, "not_a_member");
    let history = Command::History {
        room_id: room_id(&room),
        before: None,
        after: None,
        limit: None,
    };
    assert_eq!(ws.refused(&history).await.0, "not_a_member");
    assert_error(
        app.get_auth(&format!("/api/rooms/{room}/messages"), &other.access)
            .await,
        StatusCode::FORBIDDEN,
        "not_a_member",
    )
    .await;
    assert_error(
        app.join_room(&other.access, &room).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // Only the owner (or a moderator or admin) invites.
    let invite = |by: &str, who: uuid::Uuid| {
        app.http
            .post(app.url(&format!("/api/rooms/{room}/members")))
            .bearer_auth(by)
            .json(&json!({"userId": who}))
            .send()
    };
    assert_error(
        invite(&other.access, other.id).await.unwrap(),
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_eq!(invite(&mentor.access, other.id).await.unwrap().status(), StatusCode::OK);
    let added = ws.next_of("room_added").await;
    assert_eq!(added["roomId"], room);
    ws.subscribe(&room, None).await;
    assert_eq!(ws.say(&room, "thanks for the invite").await, 1);

    // A member cannot edit or delete someone else's message; the author can.
    let mut m = Ws::connect(&app, &mentor.access).await;
    m.subscribe(&room, None).await;
    let edit = |body: &str| Command::Edit {
        room_id: room_id(&room),
        seq: 1,
        body: Some(body.to_owned()),
        ciphertext: None,
    };
    assert_eq!(m.refused(&edit("hijacked")).await.0, "forbidden");
    let e = ws.acked(&edit("thanks!")).await;
    let edit = m.next_where(|f| f["type"] == "message" && f["kind"] == "edit").await;
    // The frame reads as the protocol's MessageEvent.
    let edit: MessageEvent = serde_json::from_value(edit).unwrap();
    assert_eq!(
        (edit.target_seq, edit.body.as_deref(), json!(edit.seq)),
        (Some(1), Some("thanks!"), e["seq"].clone())
    );
    // The owner mutes a member; a muted member cannot send.
    let res = app
        .http
        .put(app.url(&format!("/api/rooms/{room}/members/{}/mute", other.id)))
        .bearer_auth(&mentor.access)
        .json(&json!({"minutes": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(ws.refused(&send(&room, "hello?")).await.0, "muted");
    // An admin moderates: removes the message and then the member.
    let admin = app.admin().await;
    let res = app
        .http
        .delete(app.url(&format!("/api/rooms/{room}/messages/1")))
        .bearer_auth(&admin.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let del = m.next_where(|f| f["type"] == "message" && f["kind"] == "delete").await;
    assert_eq!(del["targetSeq"], 1);
    let h: Value = app
        .get_auth(&format!("/api/rooms/{room}/messages"), &mentor.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(h["items"][0]["body"], Value::Null);
    assert!(h["items"][0]["deletedAt"].is_string());
    let res = app
        .http
        .delete(app.url(&format!("/api/rooms/{room}/members/{}", other.id)))
        .bearer_auth(&admin.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let removed = ws.event(|e| matches!(e, Event::Removed { .. })).await;
    // Removing or muting someone who is not in the room is a 404 about the
    // member, not the 403 `not_a_member` that refuses the caller.
    let res = app
        .http
        .delete(app.url(&format!("/api/rooms/{room}/members/{}", other.id)))
        .bearer_auth(&admin.access)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "member_not_found").await;
    let res = app
        .http
        .put(app.url(&format!("/api/rooms/{room}/members/{}/mute", other.id)))
        .bearer_auth(&mentor.access)
        .json(&json!({"minutes": 10}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "member_not_found").await;
    assert_eq!(
        removed,
        Event::Removed {
            room_id: room_id(&room)
        }
    );
    assert_eq!(ws.refused(&send(&room, "still here?")).await.0, "not_a_member");
    // A direct conversation stays between its two.
    let dm: Value = app.open_dm(&mentor.access, mentee.id).await.json().await.unwrap();
    let dm = dm["id"].as_str().unwrap();
    let subscribe = Command::Subscribe {
        room_id: room_id(dm),
        after_seq: None,
    };
    assert_eq!(ws.refused(&subscribe).await.0, "not_a_member");
    assert_eq!(
        admin_ws(&app, &admin)
            .await
            .cmd(json!({"type": "subscribe", "roomId": dm}))
            .await["code"],
        "not_a_member",
        "admins do not read direct conversations"
    );
}

async fn admin_ws(app: &TestApp, admin: &Session) -> Ws {
    Ws::connect(app, &admin.access).await
}

#[actix_web::test]
async fn a_guest_stays_in_its_room() {
    let app = spawn_app().await;
    let host = app.register("mentor", "Host").await;
    let open = app
        .create_room(
            &host.access,
            json!({"name": "Open Q&A", "visibility": "public", "allowGuests": true}),
        )
        .await;
    let members_only = app
        .create_room(&host.access, json!({"name": "Members", "visibility": "public"}))
        .await;
    let res = app
        .http
        .post(app.url(&format!("/api/rooms/{members_only}/guests")))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app
        .http
        .post(app.url(&format!("/api/rooms/{open}/guests")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let g: Value = res.json().await.unwrap();
    let token = g["accessToken"].as_str().unwrap().to_owned();
    assert!(g["user"]["displayName"].as_str().unwrap().starts_with("guest-"));
    assert!(g.get("refreshToken").is_none());

    let mut hws = Ws::connect(&app, &host.access).await;
    hws.subscribe(&open, None).await;
    let mut gws = Ws::connect(&app, &token).await;
    gws.subscribe(&open, None).await;
    assert_eq!(gws.say(&open, "hi from a guest").await, 1);
    let m = hws.message(&open).await;
    assert!(m["senderName"].as_str().unwrap().starts_with("guest-"));
    // Nowhere else: not another room, not the directory, not profiles, not DMs.
    let subscribe = Command::Subscribe {
        room_id: room_id(&members_only),
        after_seq: None,
    };
    assert_eq!(gws.refused(&subscribe).await.0, "forbidden");
    assert_eq!(gws.refused(&send(&members_only, "x")).await.0, "forbidden");
    assert_error(
        app.get_auth("/api/mentors", &token).await,
        StatusCode::FORBIDDEN,
        "guest_not_allowed",
    )
    .await;
    assert_error(
        app.get_auth(&format!("/api/users/{}", host.id), &token).await,
        StatusCode::FORBIDDEN,
        "guest_not_allowed",
    )
    .await;
    assert_error(
        app.open_dm(&token, host.id).await,
        StatusCode::FORBIDDEN,
        "guest_not_allowed",
    )
    .await;
    assert_error(
        app.join_room(&token, &members_only).await,
        StatusCode::FORBIDDEN,
        "guest_not_allowed",
    )
    .await;
    // Over HTTP every route says `guest_not_allowed` for another room, the
    // room routes that guests may use included (the WebSocket says
    // `forbidden`, above).
    assert_error(
        app.get_auth(&format!("/api/rooms/{members_only}/messages"), &token)
            .await,
        StatusCode::FORBIDDEN,
        "guest_not_allowed",
    )
    .await;
    assert_error(
        app.get_auth(&format!("/api/rooms/{members_only}"), &token).await,
        StatusCode::FORBIDDEN,
        "guest_not_allowed",
    )
    .await;
    let res = app
        .http
        .post(app.url(&format!("/api/rooms/{members_only}/messages")))
        .bearer_auth(&token)
        .json(&json!({"body": "x"}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "guest_not_allowed").await;
    let res = app
        .http
        .post(app.url(&format!("/api/rooms/{open}/messages")))
        .bearer_auth(&token)
        .json(&json!({"body": "over HTTP"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED, "its own room is fine");
    // And under a stricter rate limit (burst 5 by default).
    let mut limited = false;
    for i in 0..10 {
        let r = gws
            .cmd(json!({"type": "send", "roomId": open, "body": format!("spam {i}")}))
            .await;
        if r["code"] == "rate_limited" {
            limited = true;
            break;
        }
    }
    assert!(limited, "a guest hits the rate limit within ten messages");
}

#[actix_web::test]
async fn malformed_frames_get_errors_and_persistent_garbage_is_cut_off() {
    let app = spawn_app().await;
    let s = app.register("mentee", "Noisy").await;
    let mut ws = Ws::connect(&app, &s.access).await;
    ws.send_raw(Message::Text("this is not json".into())).await;
    assert_eq!(ws.next_of("error").await["code"], "invalid_frame");
    let e = ws.cmd(json!({"type": "fly"})).await;
    assert_eq!(e["code"], "invalid_frame", "{e}");
    let e = ws
        .cmd(json!({"type": "send", "roomId": "not-a-uuid", "body": "x"}))
        .await;
    assert_eq!(e["code"], "invalid_frame");
    ws.send_raw(Message::Binary(vec![1, 2, 3].into())).await;
    assert_eq!(ws.next_of("error").await["code"], "binary_not_supported");
    // Still connected and serving.
    assert_eq!(ws.acked(&Command::Ping).await["pong"], true);
    for _ in 0..12 {
        ws.send_raw(Message::Text("{".into())).await;
    }
    let close = loop {
        match tokio::time::timeout(crate::ws::WAIT, futures_util::StreamExt::next(&mut ws.stream))
            .await
            .unwrap()
        {
            Some(Ok(Message::Close(c))) => break c,
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    let close = close.expect("a close reason");
    assert_eq!(u16::from(close.code), 1008);
    assert!(close.reason.contains("invalid frames"));
}

#[actix_web::test]
async fn message_size_and_rate_limits() {
    let app = spawn_app_with(|s| {
        s.chat.max_message_bytes = 100;
        s.chat.messages_per_second = 1;
        s.chat.message_burst = 3;
    })
    .await;
    let owner = app.register("mentor", "Owner").await;
    let room = app
        .create_room(&owner.access, json!({"name": "Limits", "visibility": "private"}))
        .await;
    let mut ws = Ws::connect(&app, &owner.access).await;
    let (code, _) = ws.refused(&send(&room, &"x".repeat(101))).await;
    assert_eq!(code, "message_too_large");
    for i in 0..3 {
        ws.say(&room, &format!("ok {i}")).await;
    }
    let (code, _) = ws.refused(&send(&room, "one too many")).await;
    assert_eq!(code, "rate_limited");
    let n: i64 = app
        .db
        .query_one("SELECT count(*) FROM messages", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 3, "nothing rejected was stored, nothing accepted was lost");
}

#[actix_web::test]
async fn a_slow_reader_is_cut_off_while_the_room_serves_the_others() {
    let app = spawn_app_with(|s| {
        s.chat.outbound_queue = 32;
        s.chat.messages_per_second = 10_000;
        s.chat.message_burst = 10_000;
    })
    .await;
    let owner = app.register("mentor", "Owner").await;
    let slow = app.register("mentee", "Slow").await;
    let fast = app.register("mentee", "Fast").await;
    let room = app.public_room(&owner, &[&slow, &fast]).await;
    let mut s = Ws::connect(&app, &slow.access).await;
    s.subscribe(&room, None).await;
    let mut f = Ws::connect(&app, &fast.access).await;
    f.subscribe(&room, None).await;
    let mut w = Ws::connect(&app, &owner.access).await;

    // The slow client stops reading. 2,000 messages of 6 KB (12 MB) are far
    // more than its socket buffers and its 32-frame queue can hold.
    let body = "x".repeat(6000);
    let total = 2000;
    let sender = async {
        // Each send waits for its ack, which paces the sender to the
        // commit rate and lets the fast reader keep up.
        for i in 0..total {
            w.ok(json!({"type": "send", "roomId": room, "body": body, "clientMsgId": format!("{i}")}))
                .await;
        }
        w
    };
    let reader = async {
        let mut n = 0;
        while n < total {
            f.message(&room).await;
            n += 1;
        }
        (f, n)
    };
    let (_w, (_f, got)) = futures_util::join!(sender, reader);
    assert_eq!(got, total, "the fast reader got everything");

    // The slow reader finds, after what was buffered, a 4008 close.
    let code = loop {
        match tokio::time::timeout(crate::ws::WAIT, futures_util::StreamExt::next(&mut s.stream))
            .await
            .unwrap()
        {
            Some(Ok(Message::Close(c))) => break c.map(|c| u16::from(c.code)),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => break None,
        }
    };
    assert_eq!(code, Some(4008));
    let n: i64 = app
        .db
        .query_one("SELECT count(*) FROM messages", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, total as i64);
}

#[actix_web::test]
async fn end_to_end_encrypted_rooms_carry_only_ciphertext() {
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Alice").await;
    let mentee = app.register("mentee", "Bob").await;
    for s in [&mentor, &mentee] {
        let res = app
            .http
            .put(app.url("/api/me/public-key"))
            .bearer_auth(&s.access)
            .json(&json!({"publicKey": format!("pk-{}", s.id)}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    let k: Value = app
        .get_auth(&format!("/api/users/{}/public-key", mentor.id), &mentee.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(k["publicKey"], format!("pk-{}", mentor.id));
    let room = app.open_e2ee_dm(&mentor, &mentee).await;
    let mut a = Ws::connect(&app, &mentor.access).await;
    let mut b = Ws::connect(&app, &mentee.access).await;
    b.subscribe(&room, None).await;
    assert_eq!(a.refused(&send(&room, "plaintext")).await.0, "e2ee_mismatch");
    a.acked(&Command::Send {
        room_id: room_id(&room),
        client_msg_id: None,
        body: None,
        ciphertext: Some("b64:AAECAwQ=".into()),
        attachments: vec![],
    })
    .await;
    let m = b.message(&room).await;
    assert_eq!(m["ciphertext"], "b64:AAECAwQ=");
    assert_eq!(m["body"], Value::Null);
    let row = app
        .db
        .query_one("SELECT body, ciphertext FROM messages", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, Option<String>>(0), None);
    assert_eq!(row.get::<_, Option<String>>(1).as_deref(), Some("b64:AAECAwQ="));
}

#[actix_web::test]
async fn attachments_are_served_only_to_members() {
    let app = spawn_app().await;
    let owner = app.register("mentor", "Owner").await;
    let outsider = app.register("mentee", "Outsider").await;
    let room = app
        .create_room(&owner.access, json!({"name": "Files", "visibility": "private"}))
        .await;
    let upload = |token: &str, ct: &str, body: Vec<u8>| {
        app.http
            .post(app.url(&format!("/api/rooms/{room}/attachments")))
            .bearer_auth(token)
            .header("content-type", ct)
            .header("x-file-name", "cv.pdf")
            .body(body)
            .send()
    };
    let res = upload(&owner.access, "application/pdf", b"%PDF-1.4 test".to_vec())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let a: Value = res.json().await.unwrap();
    assert_error(
        upload(&owner.access, "application/x-msdownload", b"MZ".to_vec())
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "unsupported_attachment_type",
    )
    .await;
    assert_error(
        upload(&outsider.access, "application/pdf", b"%PDF".to_vec())
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
        "not_a_member",
    )
    .await;

    let mut ws = Ws::connect(&app, &owner.access).await;
    ws.subscribe(&room, None).await;
    ws.acked(&Command::Send {
        room_id: room_id(&room),
        client_msg_id: None,
        body: Some("my CV".into()),
        ciphertext: None,
        attachments: vec![a["id"].as_str().unwrap().parse().unwrap()],
    })
    .await;
    let m = ws.message(&room).await;
    assert_eq!(m["attachments"][0]["fileName"], "cv.pdf");
    let url = a["url"].as_str().unwrap();
    let res = app.get_auth(url, &owner.access).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"%PDF-1.4 test");
    assert_error(
        app.get_auth(url, &outsider.access).await,
        StatusCode::NOT_FOUND,
        "attachment_not_found",
    )
    .await;
}

#[actix_web::test]
async fn a_session_ends_with_its_token_unless_reauthenticated() {
    let app = spawn_app_with(|s| s.auth.access_token_ttl_secs = 6).await;
    let s = app.register("mentee", "Short").await;
    let mut ws = Ws::connect(&app, &s.access).await;
    let mut renewed = Ws::connect(&app, &s.access).await;
    let t0 = tokio::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    // A fresh token (here from a new sign-in) extends the second session...
    let fresh = app.login(&s.email).await;
    let ack = renewed.acked(&Command::Reauth { token: fresh.access }).await;
    assert!(ack["expiresAt"].as_i64().unwrap() > chrono::Utc::now().timestamp());
    // ...but another user's token does not, and garbage is refused.
    let other = app.register("mentee", "Other").await;
    let reauth = |token: &str| Command::Reauth {
        token: token.to_owned(),
    };
    assert_eq!(renewed.refused(&reauth(&other.access)).await.0, "forbidden");
    assert_eq!(renewed.refused(&reauth("nope")).await.0, "invalid_command");
    // The first token expires at 6 s, the fresh one at 9 s or later.
    tokio::time::sleep_until(t0 + Duration::from_millis(7000)).await;
    // The first session's token has expired: the next frame ends it with 4003.
    ws.send(json!({"id": 1, "type": "ping"})).await;
    assert_eq!(ws.next_of("session_expired").await["type"], "session_expired");
    let code = loop {
        match tokio::time::timeout(crate::ws::WAIT, futures_util::StreamExt::next(&mut ws.stream))
            .await
            .unwrap()
        {
            Some(Ok(Message::Close(c))) => break c.map(|c| u16::from(c.code)),
            Some(Ok(_)) => continue,
            _ => break None,
        }
    };
    assert_eq!(code, Some(4003));
    assert_eq!(
        renewed.acked(&Command::Ping).await["pong"],
        true,
        "the renewed session lives on"
    );
}

/// Sends a request head (and any first bytes of its body) on a raw
/// connection and returns the status line and body of the answer, or None if
/// the server has not answered within `wait` (it is still reading the body).
async fn raw_answer(app: &TestApp, head: String, first: &[u8], wait: Duration) -> Option<(String, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    // The server may answer and close before it takes all of this.
    let _ = s.write_all(first).await;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                got.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&got);
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().to_owned())
                        })
                        .and_then(|v| v.parse::<usize>().ok());
                    if len.is_some_and(|n| body.len() >= n) {
                        break;
                    }
                }
            }
        }
    }
    let text = String::from_utf8_lossy(&got).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    Some((head.lines().next()?.to_owned(), body.to_owned()))
}

fn upload_head(app: &TestApp, room: &str, token: &str, framing: &str) -> String {
    format!(
        "POST /api/rooms/{room}/attachments HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/pdf\r\nX-File-Name: big.pdf\r\n{framing}\r\n",
        app.port
    )
}

#[actix_web::test]
async fn uploads_are_checked_before_the_body_is_read_and_streamed_within_the_limit() {
    const LIMIT: usize = 256 * 1024;
    let app = spawn_app_with(|s| s.chat.max_attachment_bytes = LIMIT).await;
    let owner = app.register("mentor", "Owner").await;
    let outsider = app.register("mentee", "Outsider").await;
    let room = app
        .create_room(&owner.access, json!({"name": "Files", "visibility": "private"}))
        .await;
    let files = app.settings.server.data_dir.join("attachments");
    let wait = Duration::from_secs(5);

    // A non-member announces a body within the limit and sends 1 KiB of it:
    // the refusal comes without the server waiting for the rest.
    let head = upload_head(
        &app,
        &room,
        &outsider.access,
        &format!("Content-Length: {}\r\n", LIMIT - 1),
    );
    let (status, body) = raw_answer(&app, head, &[b'x'; 1024], wait)
        .await
        .expect("a non-member is refused before the body is complete");
    assert!(status.contains(" 403 "), "{status}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"], "not_a_member");

    // A member declaring more than the limit is refused on the head alone.
    let head = upload_head(
        &app,
        &room,
        &owner.access,
        &format!("Content-Length: {}\r\n", 64 * 1024 * 1024),
    );
    let (status, body) = raw_answer(&app, head, b"", wait)
        .await
        .expect("413 on the declared length");
    assert!(status.contains(" 413 "), "{status}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"],
        "attachment_too_large"
    );

    // A chunked body (no declared length) that passes the limit is cut off as
    // soon as it does, though it never ends; the partial file is removed.
    let mut chunked = Vec::new();
    for _ in 0..(LIMIT / 16384 + 2) {
        chunked.extend_from_slice(format!("{:x}\r\n", 16384).as_bytes());
        chunked.extend_from_slice(&[b'y'; 16384]);
        chunked.extend_from_slice(b"\r\n");
    }
    let head = upload_head(&app, &room, &owner.access, "Transfer-Encoding: chunked\r\n");
    let (status, body) = raw_answer(&app, head, &chunked, wait)
        .await
        .expect("413 while the body is still coming");
    assert!(status.contains(" 413 "), "{status}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"],
        "attachment_too_large"
    );
    let left: Vec<_> = std::fs::read_dir(&files)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "no partial file is kept: {left:?}");

    let upload = |body: Vec<u8>| {
        app.http
            .post(app.url(&format!("/api/rooms/{room}/attachments")))
            .bearer_auth(&owner.access)
            .header("content-type", "application/pdf")
            .header("x-file-name", "cv.pdf")
            .body(body)
            .send()
    };
    assert_error(
        upload(Vec::new()).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_attachment",
    )
    .await;

    // Exactly at the limit, many chunks: stored and served back byte for byte.
    let data: Vec<u8> = (0..LIMIT).map(|i| (i * 31 % 251) as u8).collect();
    let res = upload(data.clone()).await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let a: Value = res.json().await.unwrap();
    assert_eq!(a["size"], LIMIT as u64);
    let res = app.get_auth(a["url"].as_str().unwrap(), &owner.access).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap().as_ref(), data.as_slice());
    let kept: Vec<_> = std::fs::read_dir(&files)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
}

/// Sends `n` messages to `room` in windows of `window` unanswered sends (the
/// room commits each window in a few group commits; the window must fit the
/// sender's outbound queue, which holds the acks) and waits for every ack.
async fn pipeline_sends(w: &mut Ws, room: &str, n: usize, window: usize, body: &str) {
    let mut sent = 0;
    while sent < n {
        let window = (n - sent).min(window);
        for i in 0..window {
            w.send(json!({"id": format!("p{}", sent + i), "type": "send", "roomId": room, "body": body}))
                .await;
        }
        let mut acks = 0;
        while acks < window {
            let f = w.read().await.expect("the sender stays connected");
            assert_ne!(f["type"], "error", "{f}");
            if f["type"] == "ack" {
                acks += 1;
            }
        }
        sent += window;
    }
}

#[actix_web::test]
async fn a_resume_from_far_behind_in_a_busy_room_gets_everything_once_and_is_not_cut_off() {
    let app = spawn_app_with(|s| {
        s.chat.messages_per_second = 100_000;
        s.chat.message_burst = 100_000;
    })
    .await;
    let owner = app.register("mentor", "Owner").await;
    let talker = app.register("mentee", "Talker").await;
    let reader = app.register("mentee", "Reader").await;
    let room = app.public_room(&owner, &[&talker, &reader]).await;
    // 5,000 messages: the room's actor is loaded and its ring full.
    let mut w = Ws::connect(&app, &owner.access).await;
    pipeline_sends(&mut w, &room, 5000, 200, "backlog").await;

    // Meanwhile the room stays busy: 600 more, while the reader catches up.
    let busy = 600;
    let total = 5000 + busy;
    let mut t = Ws::connect(&app, &talker.access).await;
    let talking = async {
        for i in 0..busy {
            t.send(json!({"type": "send", "roomId": room, "body": format!("live {i}")}))
                .await;
            if i % 50 == 49 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        t
    };
    let mut r = Ws::connect(&app, &reader.access).await;
    let reading = async {
        let ack = r.subscribe(&room, Some(0)).await;
        assert_eq!(ack["resumeFrom"], 0);
        let mut seqs = Vec::with_capacity(total);
        while seqs.len() < total {
            // Panics ("closed while waiting") if the server cuts the reader off.
            let m = r.message(&room).await;
            seqs.push(m["seq"].as_i64().unwrap());
        }
        (r, seqs)
    };
    let (_t, (mut r, seqs)) = futures_util::join!(talking, reading);
    assert_eq!(
        seqs,
        (1..=total as i64).collect::<Vec<_>>(),
        "every seq once, in order, no gap"
    );
    // Still connected and live.
    r.ok(json!({"type": "ping"})).await;
    let next = w.say(&room, "after").await;
    assert_eq!(r.message(&room).await["seq"], next);
    r.quiet("message", Duration::from_millis(300)).await;
}

#[actix_web::test]
async fn a_resuming_client_that_reads_nothing_is_still_cut_off() {
    let app = spawn_app_with(|s| {
        s.chat.outbound_queue = 32;
        s.chat.catch_up_stall_secs = 2;
        s.chat.messages_per_second = 100_000;
        s.chat.message_burst = 100_000;
    })
    .await;
    let owner = app.register("mentor", "Owner").await;
    let dead = app.register("mentee", "Dead").await;
    let room = app.public_room(&owner, &[&dead]).await;
    let mut w = Ws::connect(&app, &owner.access).await;
    // 2,000 messages of 6 KB: far more than socket buffers hold.
    let total = 2000;
    pipeline_sends(&mut w, &room, total, 16, &"x".repeat(6000)).await;

    let mut d = Ws::connect(&app, &dead.access).await;
    d.subscribe(&room, Some(0)).await;
    // It reads nothing for longer than the stall time...
    tokio::time::sleep(Duration::from_secs(5)).await;
    // ...and then finds, after what was buffered, a 4008 close.
    let mut got = 0;
    let code = loop {
        match tokio::time::timeout(crate::ws::WAIT, futures_util::StreamExt::next(&mut d.stream))
            .await
            .unwrap()
        {
            Some(Ok(Message::Close(c))) => break c.map(|c| u16::from(c.code)),
            Some(Ok(Message::Text(_))) => got += 1,
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => break None,
        }
    };
    assert_eq!(code, Some(4008));
    assert!(got < total, "cut off before the catch-up ended ({got} frames)");
}
