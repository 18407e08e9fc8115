//! Keys per device for end-to-end encrypted direct messages (issue 15):
//! publishing, listing, removing, the checks on the key and the device, the
//! limit, the `device_added` event to direct-conversation peers; and the
//! chat room every group session has (its members follow the bookings).

use std::time::Duration;

use base64::Engine;
use chrono::{Duration as Dur, Utc};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::ws::Ws;

/// The public key of the secret scalar `k`: the uncompressed point in
/// standard base64, as the browser publishes it.
pub fn device_key(k: u64) -> String {
    let p = (p256::ProjectivePoint::GENERATOR * p256::Scalar::from(k)).to_affine();
    base64::engine::general_purpose::STANDARD.encode(p.to_encoded_point(false).as_bytes())
}

/// The documented fingerprint, computed here independently of the server.
fn fingerprint_of(key_b64: &str) -> String {
    use sha2::{Digest, Sha256};
    let bytes = base64::engine::general_purpose::STANDARD.decode(key_b64).unwrap();
    let h = Sha256::digest(&bytes);
    (0..6)
        .map(|i| {
            let mut n: u64 = 0;
            for b in &h[i * 5..i * 5 + 5] {
                n = n * 256 + u64::from(*b);
            }
            format!("{:05}", n % 100_000)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl TestApp {
    pub async fn put_device(&self, token: &str, device: &str, key: &str) -> reqwest::Response {
        self.http
            .put(self.url(&format!("/api/me/devices/{device}/key")))
            .bearer_auth(token)
            .json(&json!({"publicKey": key}))
            .send()
            .await
            .unwrap()
    }
}

#[actix_web::test]
async fn devices_are_published_listed_and_removed() {
    let app = spawn_app().await;
    let sam = app.register("mentor", "Sam").await;
    let ada = app.register("mentee", "Ada").await;

    let res = app.put_device(&sam.access, "laptop-0001", &device_key(7)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let d: Value = res.json().await.unwrap();
    assert_eq!(d["deviceId"], "laptop-0001");
    assert_eq!(d["publicKey"], device_key(7));
    assert_eq!(d["fingerprint"], fingerprint_of(&device_key(7)));
    assert!(d["createdAt"].is_string());
    // The same key again changes nothing.
    let res = app.put_device(&sam.access, "laptop-0001", &device_key(7)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.put_device(&sam.access, "phone-00002", &device_key(8)).await;
    assert_eq!(res.status(), StatusCode::CREATED);

    let list: Value = app
        .get_auth(&format!("/api/users/{}/devices", sam.id), &ada.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["userId"], sam.id.to_string());
    let devices = list["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 2);
    assert_eq!(devices[0]["deviceId"], "laptop-0001");
    assert_eq!(devices[1]["deviceId"], "phone-00002");
    assert_eq!(devices[1]["fingerprint"], fingerprint_of(&device_key(8)));
    let fp = devices[1]["fingerprint"].as_str().unwrap();
    assert!(
        fp.len() == 35
            && fp
                .split(' ')
                .all(|g| g.len() == 5 && g.bytes().all(|b| b.is_ascii_digit()))
    );

    // Someone else's device: neither replaced nor removed.
    let res = app.put_device(&ada.access, "laptop-0001", &device_key(9)).await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app
        .http
        .delete(app.url("/api/me/devices/laptop-0001"))
        .bearer_auth(&ada.access)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app
        .http
        .delete(app.url("/api/me/devices/never-seen-1"))
        .bearer_auth(&sam.access)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "device_not_found").await;
    let res = app
        .http
        .delete(app.url("/api/me/devices/phone-00002"))
        .bearer_auth(&sam.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let list: Value = app
        .get_auth(&format!("/api/users/{}/devices", sam.id), &sam.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["devices"].as_array().unwrap().len(), 1);
    assert_eq!(list["devices"][0]["publicKey"], device_key(7));
    let res = app
        .get_auth(&format!("/api/users/{}/devices", uuid::Uuid::new_v4()), &sam.access)
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "user_not_found").await;
    // Ada has no device: an empty list, not an error.
    let list: Value = app
        .get_auth(&format!("/api/users/{}/devices", ada.id), &sam.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["devices"], json!([]));
}

#[actix_web::test]
async fn malformed_keys_and_device_ids_are_refused() {
    let app = spawn_app().await;
    let sam = app.register("mentee", "Sam").await;
    let good = device_key(12345);
    let raw = base64::engine::general_purpose::STANDARD.decode(&good).unwrap();
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    // A point off the curve: the same x with y + 1.
    let mut off = raw.clone();
    off[64] ^= 1;
    // The compressed form (33 bytes), a SPKI-sized blob, the wrong prefix.
    let compressed = {
        let p = (p256::ProjectivePoint::GENERATOR * p256::Scalar::from(12345u64)).to_affine();
        b64(p.to_encoded_point(true).as_bytes())
    };
    let mut prefix = raw.clone();
    prefix[0] = 3;
    let not_b64 = format!("{}!", &good[..87]);
    for bad in [
        String::new(),
        "not a key".to_owned(),
        not_b64,
        b64(&off),
        compressed,
        b64(&prefix),
        b64(&[4u8; 65]),
        b64(&[0u8; 91]),
        format!("{good}AAAA"),
    ] {
        let res = app.put_device(&sam.access, "device-0001", &bad).await;
        assert_error(res, StatusCode::BAD_REQUEST, "invalid_key").await;
    }
    for bad_id in ["short", "has space in it", "semi;colon!", &"x".repeat(65)] {
        let res = app
            .http
            .put(app.url(&format!("/api/me/devices/{}/key", urlencoding(bad_id))))
            .bearer_auth(&sam.access)
            .json(&json!({"publicKey": good}))
            .send()
            .await
            .unwrap();
        assert_error(res, StatusCode::BAD_REQUEST, "invalid_device").await;
    }
    let res = app
        .http
        .put(app.url("/api/me/devices/device-0001/key"))
        .bearer_auth(&sam.access)
        .json(&json!({"key": good}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let n: i64 = app
        .db
        .query_one("SELECT count(*) FROM device_keys", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "nothing refused was stored");
}

fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[actix_web::test]
async fn an_account_has_at_most_ten_devices() {
    let app = spawn_app().await;
    let sam = app.register("mentee", "Sam").await;
    for i in 0..10u64 {
        let res = app
            .put_device(&sam.access, &format!("device-{i:04}"), &device_key(100 + i))
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let res = app.put_device(&sam.access, "device-0010", &device_key(200)).await;
    assert_error(res, StatusCode::CONFLICT, "too_many_devices").await;
    // Replacing the key of a device it has is not a new device.
    let res = app.put_device(&sam.access, "device-0003", &device_key(201)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = app
        .http
        .delete(app.url("/api/me/devices/device-0000"))
        .bearer_auth(&sam.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app.put_device(&sam.access, "device-0010", &device_key(200)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
}

#[actix_web::test]
async fn direct_peers_online_hear_of_a_new_device() {
    let app = spawn_app().await;
    let sam = app.register("mentor", "Sam").await;
    let ada = app.register("mentee", "Ada").await;
    let eve = app.register("mentee", "Eve").await;
    app.open_e2ee_dm(&sam, &ada).await;
    let mut a = Ws::connect(&app, &ada.access).await;
    let mut e = Ws::connect(&app, &eve.access).await;
    let mut s2 = Ws::connect(&app, &sam.access).await;
    let res = app.put_device(&sam.access, "sams-phone-1", &device_key(77)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    for ws in [&mut a, &mut s2] {
        let ev = ws.next_of("device_added").await;
        assert_eq!(ev["userId"], sam.id.to_string());
        assert_eq!(ev["deviceId"], "sams-phone-1");
        assert_eq!(ev["fingerprint"], fingerprint_of(&device_key(77)));
    }
    // Eve shares no conversation with Sam: she is told nothing.
    e.quiet("device_added", Duration::from_millis(500)).await;
    // Publishing the same key again is no news.
    let res = app.put_device(&sam.access, "sams-phone-1", &device_key(77)).await;
    assert_eq!(res.status(), StatusCode::OK);
    a.quiet("device_added", Duration::from_millis(500)).await;
}

#[actix_web::test]
async fn a_group_session_has_a_chat_room_for_its_host_and_registrants() {
    let app = spawn_app().await;
    let host = app.register("mentor", "Hana Host").await;
    let ada = app.register("mentee", "Ada").await;
    let bob = app.register("mentee", "Bob").await;
    let res = app
        .post_auth("/api/sessions", &host.access, &json!({
            "title": "Rust in production", "startsAt": Utc::now() + Dur::hours(1), "durationMinutes": 60, "capacity": 1
        }))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let session = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let get = |token: String| {
        let app = &app;
        let session = session.clone();
        async move {
            app.get_auth(&format!("/api/sessions/{session}"), &token)
                .await
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let room = get(host.access.clone()).await["roomId"].as_str().unwrap().to_owned();
    assert_eq!(get(ada.access.clone()).await["roomId"], Value::Null);
    let r: Value = app
        .get_auth(&format!("/api/rooms/{room}"), &host.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["name"], "Rust in production");
    assert_eq!(r["visibility"], "private");

    // The host is in the room with the actor running; Ada registers.
    let mut h = Ws::connect(&app, &host.access).await;
    h.subscribe(&room, None).await;
    let res = app
        .post_auth(&format!("/api/sessions/{session}/register"), &ada.access, &json!({}))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(get(ada.access.clone()).await["roomId"], room.as_str());
    let mut a = Ws::connect(&app, &ada.access).await;
    a.subscribe(&room, None).await;
    a.say(&room, "Can you show the flame graph again?").await;
    let m = h.message(&room).await;
    assert_eq!(m["body"], "Can you show the flame graph again?");
    assert_eq!(m["senderName"], "Ada");

    // Bob is waitlisted (one seat): not a member.
    let res = app
        .post_auth(&format!("/api/sessions/{session}/register"), &bob.access, &json!({}))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(get(bob.access.clone()).await["roomId"], Value::Null);
    let mut b = Ws::connect(&app, &bob.access).await;
    let refused = b.cmd(json!({"type": "subscribe", "roomId": room})).await;
    assert_eq!(refused["code"], "not_a_member", "{refused}");

    // Ada unregisters: she is out of the room; Bob, promoted, is in.
    let res = app
        .post_auth(&format!("/api/sessions/{session}/unregister"), &ada.access, &json!({}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    a.next_of("removed").await;
    assert_eq!(get(ada.access.clone()).await["roomId"], Value::Null);
    assert_eq!(get(bob.access.clone()).await["roomId"], room.as_str());
    b.subscribe(&room, None).await;
    b.say(&room, "Thanks for the seat").await;
    let m = h.message(&room).await;
    assert_eq!(m["body"], "Thanks for the seat");
}
