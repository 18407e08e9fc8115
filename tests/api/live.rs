//! The SFU with real WebRTC peers (str0m, from `lyceum-peer`): ICE, DTLS and
//! SRTP against the server's shards, media forwarded frame by frame, and the
//! signalling of docs/live.md around it.

use std::time::Duration;

use chrono::{Duration as Dur, Utc};
use lyceum_peer::{Participant, PublishOpts, Signaller};
use lyceum_protocol::frames::{Command, Event};
use lyceum_protocol::{LiveId, LiveRole, MediaKind, UserId};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, Session, TestApp};

const WAIT: Duration = Duration::from_secs(20);

/// A group session of `mentor` with `mentees` registered (confirmed).
async fn group_session(app: &TestApp, mentor: &Session, mentees: &[&Session]) -> LiveId {
    let res = app
        .post_auth(
            "/api/sessions",
            &mentor.access,
            &json!({"title": "Live Q&A", "startsAt": Utc::now() + Dur::hours(1),
              "durationMinutes": 60, "capacity": 10}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let id: LiveId = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    for m in mentees {
        let res = app
            .post_auth(&format!("/api/sessions/{id}/register"), &m.access, &json!({}))
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    id
}

async fn metrics(app: &TestApp) -> String {
    app.http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn series(text: &str, name: &str, room: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l.contains(room))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[actix_web::test]
async fn one_publisher_two_subscribers_receive_audio_and_video_and_a_rejoin_receives_again() {
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Host").await;
    let a = app.register("mentee", "Ann").await;
    let b = app.register("mentee", "Bo").await;
    let id = group_session(&app, &mentor, &[&a, &b]).await;
    let base = app.address.clone();

    // A scheduled session: mentees wait for the host to start it.
    let sa = Signaller::connect(&base, &a.access).await.unwrap();
    let early = Participant::join(&sa, id).await.err().expect("join should fail");
    assert_eq!(early.code(), Some("session_not_live"), "{early}");

    let sh = Signaller::connect(&base, &mentor.access).await.unwrap();
    let mut host = Participant::join(&sh, id).await.unwrap();
    assert_eq!(host.info().role, LiveRole::Host);
    assert_eq!(host.start().await.unwrap()["state"], "live");
    host.publish(PublishOpts {
        simulcast: true,
        ..Default::default()
    })
    .await
    .unwrap();

    let mut pa = Participant::join(&sa, id).await.unwrap();
    assert_eq!(pa.info().role, LiveRole::Attendee);
    let sb = Signaller::connect(&base, &b.access).await.unwrap();
    let mut pb = Participant::join(&sb, id).await.unwrap();
    pa.subscribe().await.unwrap();
    pb.subscribe().await.unwrap();

    let host_id = UserId(mentor.id);
    for p in [&pa, &pb] {
        let tracks = p.wait_for_frames(host_id, 2, 30, WAIT).await.unwrap();
        assert!(
            tracks.iter().any(|t| t.kind == MediaKind::Audio && t.frames >= 30),
            "{tracks:?}"
        );
        assert!(
            tracks
                .iter()
                .any(|t| t.kind == MediaKind::Video && t.frames >= 30 && t.keyframes >= 1),
            "{tracks:?}"
        );
    }

    // The host talks (audio level -20 dBov): the active speaker.
    let speaker = sa
        .wait_for(WAIT, |e| matches!(e, Event::ActiveSpeaker { user_id: Some(_), .. }))
        .await
        .unwrap();
    assert!(
        matches!(speaker, Event::ActiveSpeaker { user_id: Some(u), .. } if u == host_id),
        "{speaker:?}"
    );

    // An ICE restart of A's subscribe connection: media keeps coming.
    pa.restart_subscribe().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = pa.stats().tracks.iter().map(|t| t.frames).sum::<u64>();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(
        pa.stats().tracks.iter().map(|t| t.frames).sum::<u64>() > before + 20,
        "no media after the ICE restart"
    );

    // Attendees only receive.
    let denied = pa
        .publish(PublishOpts::default())
        .await
        .err()
        .expect("publish should fail");
    assert_eq!(denied.code(), Some("forbidden"), "{denied}");

    // B leaves; A keeps receiving; B comes back and receives again.
    pb.leave().await.unwrap();
    let left = sa.wait_event("participant_left", WAIT).await.unwrap();
    assert_eq!(left["userId"], b.id.to_string());
    let before = pa.stats().tracks.iter().map(|t| t.frames).sum::<u64>();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(pa.stats().tracks.iter().map(|t| t.frames).sum::<u64>() > before);
    let mut pb = Participant::join(&sb, id).await.unwrap();
    pb.subscribe().await.unwrap();
    pb.wait_for_frames(host_id, 2, 30, WAIT).await.unwrap();

    // The room's figures are exported.
    let m = metrics(&app).await;
    let room = id.to_string();
    assert_eq!(series(&m, "lyceum_room_participants{", &room), 3.0, "{m}");
    assert!(series(&m, "lyceum_room_tracks{", &room) >= 2.0);
    assert!(series(&m, "lyceum_room_frames_forwarded_total{", &room) > 100.0);
    assert!(series(&m, "lyceum_room_forward_latency_seconds_count{", &room) > 100.0);

    // The host ends it: everyone is out and the live room is gone.
    host.end().await.unwrap();
    let ended = sb.wait_event("session_ended", WAIT).await.unwrap();
    assert_eq!(ended["reason"], "ended");
    // Every frame the peers got read as the typed protocol.
    for s in [&sa, &sb, &sh] {
        assert_eq!(s.unknown_frames(), 0);
    }
}

#[actix_web::test]
async fn the_host_promotes_mutes_and_removes_and_only_registrants_get_in() {
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Host").await;
    let a = app.register("mentee", "Speaker-to-be").await;
    let outsider = app.register("mentee", "Outsider").await;
    let id = group_session(&app, &mentor, &[&a]).await;
    let base = app.address.clone();

    let sh = Signaller::connect(&base, &mentor.access).await.unwrap();
    let mut host = Participant::join(&sh, id).await.unwrap();
    host.start().await.unwrap();
    host.subscribe().await.unwrap();

    let so = Signaller::connect(&base, &outsider.access).await.unwrap();
    let e = Participant::join(&so, id).await.err().expect("join should fail");
    assert_eq!(e.code(), Some("not_registered"), "{e}");

    let sa = Signaller::connect(&base, &a.access).await.unwrap();
    let mut pa = Participant::join(&sa, id).await.unwrap();
    // A non-host cannot moderate.
    let a_id = UserId(a.id);
    let e = pa.set_role(a_id, LiveRole::Speaker).await.unwrap_err();
    assert_eq!(e.code(), Some("forbidden"));

    pa.raise_hand(true).await.unwrap();
    let up = sh
        .wait_for(
            WAIT,
            |e| matches!(e, Event::ParticipantUpdated { participant, .. } if participant.hand_raised),
        )
        .await
        .unwrap();
    assert!(
        matches!(&up, Event::ParticipantUpdated { participant, .. } if participant.user_id == a_id),
        "{up:?}"
    );
    host.set_role(a_id, LiveRole::Speaker).await.unwrap();
    sa.wait_event_where(WAIT, |e| {
        e["type"] == "participant_updated" && e["participant"]["role"] == "speaker"
    })
    .await
    .unwrap();
    pa.publish(PublishOpts::default()).await.unwrap();
    host.wait_for_frames(a_id, 2, 20, WAIT).await.unwrap();

    // A server-side mute: the audio stops reaching the host, video goes on.
    host.mute(a_id, MediaKind::Audio).await.unwrap();
    let muted = sa.wait_event("muted", WAIT).await.unwrap();
    assert_eq!(muted["kind"], "audio");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let frames = |kind: MediaKind| {
        host.stats()
            .tracks
            .iter()
            .filter(|t| t.kind == kind)
            .map(|t| t.frames)
            .sum::<u64>()
    };
    let (audio0, video0) = (frames(MediaKind::Audio), frames(MediaKind::Video));
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(frames(MediaKind::Audio), audio0, "muted audio still forwarded");
    assert!(frames(MediaKind::Video) > video0);
    // Unmuting oneself lifts it.
    pa.media_state(true, true, false).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(frames(MediaKind::Audio) > audio0);

    // Back to attendee: the tracks go away; then removal keeps them out.
    host.set_role(a_id, LiveRole::Attendee).await.unwrap();
    host.wait_for_no_tracks(a_id, WAIT).await.unwrap();
    host.remove(a_id).await.unwrap();
    let ended = sa.wait_event("session_ended", WAIT).await.unwrap();
    assert_eq!(ended["reason"], "removed");
    let e = Participant::join(&sa, id).await.err().expect("join should fail");
    assert_eq!(e.code(), Some("forbidden"), "{e}");
}

/// A subscriber that joins when there is media to receive gets no data
/// channel (an idle SCTP association costs the server every round), so its
/// first media m-line heads the BUNDLE group. When every track it receives
/// goes, that m-line is set inactive rather than stopped, and the tracks of a
/// later publisher still arrive on new m-lines of the same connection.
#[actix_web::test]
async fn a_subscriber_without_a_data_channel_whose_every_track_goes_receives_the_next_ones() {
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Host").await;
    let a = app.register("mentee", "Ann").await;
    let id = group_session(&app, &mentor, &[&a]).await;
    let base = app.address.clone();
    let sh = Signaller::connect(&base, &mentor.access).await.unwrap();
    let mut host = Participant::join(&sh, id).await.unwrap();
    host.start().await.unwrap();
    let sa = Signaller::connect(&base, &a.access).await.unwrap();
    let mut pa = Participant::join(&sa, id).await.unwrap();
    let a_id = UserId(a.id);
    host.set_role(a_id, LiveRole::Speaker).await.unwrap();
    sa.wait_event_where(WAIT, |e| {
        e["type"] == "participant_updated" && e["participant"]["role"] == "speaker"
    })
    .await
    .unwrap();
    pa.publish(PublishOpts::default()).await.unwrap();

    // The host subscribes once Ann's two tracks are in the room.
    host.subscribe().await.unwrap();
    host.wait_for_frames(a_id, 2, 20, WAIT).await.unwrap();
    let first = host.subscriber().unwrap().offer_sdp();
    assert!(first.contains("m=audio") && first.contains("m=video"), "{first}");
    assert!(!first.contains("m=application"), "a data channel was offered: {first}");

    // Ann goes back to the audience: both her tracks leave the host's
    // connection, the first m-line parked (inactive), the other stopped.
    host.set_role(a_id, LiveRole::Attendee).await.unwrap();
    host.wait_for_no_tracks(a_id, WAIT).await.unwrap();
    let parked = host.subscriber().unwrap().offer_sdp();
    assert!(parked.contains("a=inactive"), "{parked}");
    assert!(parked.contains("a=group:BUNDLE"), "{parked}");
    assert!(host.tracks().is_empty(), "{:?}", host.tracks());

    // Promoted again, she publishes anew: the same subscribe connection
    // receives both new tracks.
    pa.unpublish().await;
    host.set_role(a_id, LiveRole::Speaker).await.unwrap();
    pa.publish(PublishOpts::default()).await.unwrap();
    let tracks = host.wait_for_frames(a_id, 2, 20, WAIT).await.unwrap();
    assert!(
        tracks.iter().any(|t| t.kind == MediaKind::Video && t.keyframes >= 1),
        "{tracks:?}"
    );
    assert_eq!(host.tracks().len(), 2, "{:?}", host.tracks());
    let again = host.subscriber().unwrap().offer_sdp();
    assert!(!again.contains("m=application"), "{again}");
}

#[actix_web::test]
async fn a_removed_attendee_stays_out_after_the_live_room_stops() {
    // No grace: the live room stops as soon as it stands empty.
    let app = spawn_app_with(|s| s.sfu.empty_room_grace_secs = 0).await;
    let mentor = app.register("mentor", "Host").await;
    let a = app.register("mentee", "Removed").await;
    let id = group_session(&app, &mentor, &[&a]).await;
    let base = app.address.clone();

    let sh = Signaller::connect(&base, &mentor.access).await.unwrap();
    let host = Participant::join(&sh, id).await.unwrap();
    host.start().await.unwrap();
    let sa = Signaller::connect(&base, &a.access).await.unwrap();
    Participant::join(&sa, id).await.unwrap();
    host.remove(UserId(a.id)).await.unwrap();
    sa.wait_event("session_ended", WAIT).await.unwrap();
    host.leave().await.unwrap();

    // The room's actor stops and closes its SFU room.
    let deadline = std::time::Instant::now() + WAIT;
    while series(&metrics(&app).await, "lyceum_sfu_rooms{", "") > 0.0 {
        assert!(std::time::Instant::now() < deadline, "the live room did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A fresh actor for the same session still refuses them.
    let e = Participant::join(&sa, id).await.err().expect("join should fail");
    assert_eq!(e.code(), Some("forbidden"), "{e}");
    assert!(e.to_string().contains("the host removed you"), "{e}");
    // The host gets back in.
    Participant::join(&sh, id).await.unwrap();
}

#[actix_web::test]
async fn a_call_rings_is_accepted_carries_media_both_ways_and_hangs_up() {
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Caller").await;
    let mentee = app.register("mentee", "Callee").await;
    let other = app.register("mentee", "Other").await;
    let base = app.address.clone();
    let sm = Signaller::connect(&base, &mentor.access).await.unwrap();
    let se = Signaller::connect(&base, &mentee.access).await.unwrap();
    let so = Signaller::connect(&base, &other.access).await.unwrap();

    // Mentee to mentee is not allowed (the chat rules).
    let (mentor_id, mentee_id) = (UserId(mentor.id), UserId(mentee.id));
    let e = so.call_invite(mentee_id, true).await.unwrap_err();
    assert_eq!(e.code(), Some("call_not_allowed"), "{e}");

    // Declined.
    let call = sm.call_invite(mentee_id, true).await.unwrap();
    let (incoming, _) = se.wait_call_incoming(Some(mentor_id), WAIT).await.unwrap();
    assert_eq!(incoming, call);
    se.call_decline(call).await.unwrap();
    assert_eq!(sm.wait_call_ended(call, WAIT).await.unwrap(), "declined");

    // Accepted: both publish and subscribe through the SFU.
    let call = sm.call_invite(mentee_id, true).await.unwrap();
    se.wait_call_incoming(None, WAIT).await.unwrap();
    // Busy while this one rings.
    let busy_call = so.call_invite(mentor_id, false).await;
    if let Ok(c) = busy_call {
        assert_eq!(so.wait_call_ended(c, WAIT).await.unwrap(), "busy");
    }
    let session = se.call_accept(call).await.unwrap();
    sm.wait_call_accepted(call, WAIT).await.unwrap();
    let mut pm = Participant::join(&sm, session).await.unwrap();
    let mut pe = Participant::join(&se, session).await.unwrap();
    assert_eq!(pm.info().role, LiveRole::Speaker);
    pm.publish(PublishOpts::default()).await.unwrap();
    pe.publish(PublishOpts::default()).await.unwrap();
    pm.subscribe().await.unwrap();
    pe.subscribe().await.unwrap();
    pm.wait_for_frames(mentee_id, 2, 30, WAIT).await.unwrap();
    pe.wait_for_frames(mentor_id, 2, 30, WAIT).await.unwrap();
    // A third person cannot join the call.
    let e = Participant::join(&so, session).await.err().expect("join should fail");
    assert_eq!(e.code(), Some("forbidden"), "{e}");

    sm.call_hangup(call).await.unwrap();
    assert_eq!(se.wait_call_ended(call, WAIT).await.unwrap(), "hangup");
    se.wait_event("session_ended", WAIT).await.unwrap();
    let e = sm.call_hangup(call).await.unwrap_err();
    assert_eq!(e.code(), Some("call_not_found"));
    // Every frame of the call (call_*, participant_*, rtc_offer, …) read as the typed protocol.
    for s in [&sm, &se, &so] {
        assert_eq!(s.unknown_frames(), 0);
    }
}

#[actix_web::test]
async fn bad_sdp_and_strangers_get_clear_errors() {
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Host").await;
    let id = group_session(&app, &mentor, &[]).await;
    let sh = Signaller::connect(&app.address, &mentor.access).await.unwrap();
    // Commands before joining.
    let e = sh.command(&Command::RtcSubscribe { session_id: id }).await.unwrap_err();
    assert_eq!(e.code(), Some("not_in_session"));
    let _host = Participant::join(&sh, id).await.unwrap();
    let e = sh
        .command(&Command::RtcPublish {
            session_id: id,
            sdp: "v=0 garbage".into(),
            sources: Default::default(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("invalid_sdp"), "{e}");
    let e = sh
        .command(&Command::RtcAnswer {
            session_id: id,
            sdp: "nonsense".into(),
        })
        .await
        .unwrap_err();
    assert!(matches!(e.code(), Some("invalid_sdp") | Some("not_in_session")), "{e}");
    let e = sh
        .command(&Command::SessionJoin {
            session_id: LiveId::new_random(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("session_not_found"));

    // Datagrams from nowhere are dropped and counted, and the server lives.
    let m0 = metrics(&app).await;
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for addr in app_sfu_addrs(&m0) {
        for _ in 0..100 {
            sock.send_to(&[0x80, 0x60, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], addr)
                .unwrap();
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let m1 = metrics(&app).await;
    assert!(
        series(&m1, "lyceum_sfu_unknown_datagrams_total", "")
            >= series(&m0, "lyceum_sfu_unknown_datagrams_total", "") + 100.0
    );
    assert_eq!(
        app.http.get(app.url("/healthz")).send().await.unwrap().status(),
        StatusCode::OK
    );
}

/// The shards' UDP addresses, from `lyceum_sfu_shard_info{addr="…"}`.
fn app_sfu_addrs(metrics: &str) -> Vec<std::net::SocketAddr> {
    let addrs: Vec<std::net::SocketAddr> = metrics
        .lines()
        .filter(|l| l.starts_with("lyceum_sfu_shard_info{"))
        .filter_map(|l| l.split("addr=\"").nth(1)?.split('"').next()?.parse().ok())
        .collect();
    assert!(!addrs.is_empty(), "{metrics}");
    addrs
}

/// A live session (fail timeout 1 s) whose host publishes to one subscribed
/// mentee who already receives both tracks.
struct OneToOne {
    _app: TestApp,
    mentor: Session,
    sh: Signaller,
    host: Participant,
    sa: Signaller,
    pa: Participant,
}

async fn host_publishing_to_one_mentee() -> OneToOne {
    let app = crate::helpers::spawn_app_with(|s| s.sfu.fail_timeout_secs = 1).await;
    let mentor = app.register("mentor", "Host").await;
    let a = app.register("mentee", "Watcher").await;
    let id = group_session(&app, &mentor, &[&a]).await;
    let sh = Signaller::connect(&app.address, &mentor.access).await.unwrap();
    let mut host = Participant::join(&sh, id).await.unwrap();
    host.start().await.unwrap();
    host.publish(PublishOpts::default()).await.unwrap();
    let sa = Signaller::connect(&app.address, &a.access).await.unwrap();
    let mut pa = Participant::join(&sa, id).await.unwrap();
    pa.subscribe().await.unwrap();
    pa.wait_for_frames(UserId(mentor.id), 2, 10, WAIT).await.unwrap();
    OneToOne {
        _app: app,
        mentor,
        sh,
        host,
        sa,
        pa,
    }
}

#[actix_web::test]
async fn a_participant_whose_connection_dies_is_removed_and_everyone_is_told() {
    let OneToOne {
        _app,
        mentor,
        sh,
        mut host,
        sa,
        pa,
    } = host_publishing_to_one_mentee().await;

    // The host's media connection closes (its WebSocket stays up).
    let t = std::time::Instant::now();
    host.unpublish().await;
    let left = sa
        .wait_event_where(Duration::from_secs(60), |e| {
            e["type"] == "participant_left" && e["reason"] == "connection_lost"
        })
        .await
        .unwrap();
    assert_eq!(left["userId"], mentor.id.to_string());
    assert_eq!(
        sh.wait_event("session_ended", WAIT).await.unwrap()["reason"],
        "connection_lost"
    );
    eprintln!("connection loss noticed after {:?}", t.elapsed());
    pa.wait_for_no_tracks(UserId(mentor.id), WAIT).await.unwrap();
}

#[actix_web::test]
async fn a_publisher_that_falls_silent_is_removed_after_the_timeout() {
    // No goodbye at all (no BYE, no close_notify): only the silence of ICE
    // consent tells the server, and `sfu.fail_timeout_secs` after that it
    // gives the peer up.
    let OneToOne {
        _app,
        mentor,
        sh: _sh,
        mut host,
        sa,
        pa,
    } = host_publishing_to_one_mentee().await;

    let t = std::time::Instant::now();
    host.vanish_publisher().await;
    let left = sa
        .wait_event_where(Duration::from_secs(60), |e| {
            e["type"] == "participant_left" && e["reason"] == "connection_lost"
        })
        .await
        .unwrap();
    assert_eq!(left["userId"], mentor.id.to_string());
    let noticed = t.elapsed();
    eprintln!("silence noticed after {noticed:?}");
    // Not at once (nothing was said), and not never.
    assert!(
        noticed >= Duration::from_secs(1),
        "removed after {noticed:?}, before the fail timeout could run"
    );
    pa.wait_for_no_tracks(UserId(mentor.id), WAIT).await.unwrap();
    // The subscriber's own connection is unaffected.
    assert!(pa.subscriber().is_some());
}

/// The video track a participant receives from `from`.
fn video_of(p: &Participant, from: UserId) -> lyceum_peer::TrackStats {
    p.stats()
        .tracks_of(from)
        .find(|t| t.kind == MediaKind::Video)
        .cloned()
        .expect("a video track")
}

/// Waits until the video from `from` has `n` more frames of `layer`.
async fn frames_of_layer(p: &Participant, from: UserId, layer: &str, n: u64) -> lyceum_peer::TrackStats {
    let start = video_of(p, from).layers.get(layer).copied().unwrap_or(0);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let v = video_of(p, from);
        if v.layers.get(layer).copied().unwrap_or(0) >= start + n {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {n} frames of layer {layer}: {v:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[actix_web::test]
async fn layer_switches_keep_one_continuous_stream_and_nacks_are_answered_after_them() {
    // Without the estimate, the quality asked for is the layer sent.
    let app = spawn_app_with(|s| s.sfu.bwe = false).await;
    let mentor = app.register("mentor", "Host").await;
    let a = app.register("mentee", "Ann").await;
    let id = group_session(&app, &mentor, &[&a]).await;
    let sh = Signaller::connect(&app.address, &mentor.access).await.unwrap();
    let mut host = Participant::join(&sh, id).await.unwrap();
    host.start().await.unwrap();
    host.publish(PublishOpts {
        simulcast: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let sa = Signaller::connect(&app.address, &a.access).await.unwrap();
    let mut pa = Participant::join(&sa, id).await.unwrap();
    pa.subscribe().await.unwrap();
    let host_id = UserId(mentor.id);
    pa.wait_for_frames(host_id, 2, 30, WAIT).await.unwrap();

    // Down to the lowest layer, up to the top, down again: three switches,
    // each on a keyframe of the layer switched to.
    pa.set_quality(lyceum_protocol::Quality::Low).await.unwrap();
    frames_of_layer(&pa, host_id, "l", 30).await;
    pa.set_quality(lyceum_protocol::Quality::High).await.unwrap();
    frames_of_layer(&pa, host_id, "h", 30).await;
    pa.set_quality(lyceum_protocol::Quality::Low).await.unwrap();
    let v = frames_of_layer(&pa, host_id, "l", 30).await;
    // One stream to the subscriber throughout: no gap and no jump in its
    // sequence numbers (a jump back would stop the frames above), every
    // frame whole.
    assert_eq!(v.packets_lost, 0, "{v:?}");
    assert_eq!(v.non_contiguous, 0, "{v:?}");
    assert!(v.keyframes >= 3, "a keyframe at each switch: {v:?}");

    // Loss on the subscriber's side after the switches: str0m NACKs the
    // missing packets and the server answers from its send cache (the
    // publisher never lost them, so only the server can resend them).
    let sub = pa.subscriber().expect("subscribed");
    sub.lose_every(15);
    let before = video_of(&pa, host_id);
    let after = frames_of_layer(&pa, host_id, "l", 60).await;
    sub.lose_every(0);
    let nacks: u64 = after.ingress.iter().map(|c| c.nacks).sum();
    assert!(nacks > 0, "the subscriber asked for resends: {after:?}");
    assert_eq!(
        after.non_contiguous, before.non_contiguous,
        "every lost packet was resent: {after:?}"
    );
    assert_eq!(after.packets_lost, 0, "{after:?}");
    let m = metrics(&app).await;
    assert!(series(&m, "lyceum_room_frames_forwarded_total{", &id.to_string()) > 100.0);
}

/// The series of a metric for one shard.
fn shard_series(text: &str, name: &str, shard: usize) -> f64 {
    series(text, &format!("{name}{{shard=\"{shard}\"}}"), "")
}

#[actix_web::test]
async fn a_room_spread_over_two_shards_reaches_every_subscriber_with_every_frame() {
    // Two shards, and every room's subscribers spread from the first: the
    // host's publish peer is on the room's home shard, the attendees go to
    // whichever shard has fewer peers, so both shards hold some.
    let app = spawn_app_with(|s| {
        s.sfu.shards = 2;
        s.sfu.spread_at = 0;
        s.sfu.bwe = false;
    })
    .await;
    let mentor = app.register("mentor", "Host").await;
    let names = ["Ann", "Bo", "Cy", "Di"];
    let mut mentees = vec![];
    for n in names {
        mentees.push(app.register("mentee", n).await);
    }
    let refs: Vec<&Session> = mentees.iter().collect();
    let id = group_session(&app, &mentor, &refs).await;
    let sh = Signaller::connect(&app.address, &mentor.access).await.unwrap();
    let mut host = Participant::join(&sh, id).await.unwrap();
    host.start().await.unwrap();

    // The attendees subscribe before anything is published: the mirrors
    // learn of the host's tracks when they come (and offer them then).
    let mut sigs = vec![];
    let mut parts = vec![];
    for m in &mentees {
        let s = Signaller::connect(&app.address, &m.access).await.unwrap();
        let mut p = Participant::join(&s, id).await.unwrap();
        p.subscribe().await.unwrap();
        sigs.push(s);
        parts.push(p);
    }
    host.publish(PublishOpts {
        simulcast: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let m = metrics(&app).await;
    let peers = [
        shard_series(&m, "lyceum_sfu_peers", 0),
        shard_series(&m, "lyceum_sfu_peers", 1),
    ];
    assert_eq!(peers[0] + peers[1], 5.0, "one publisher, four subscribers: {peers:?}");
    assert!(
        peers[0] >= 2.0 && peers[1] >= 2.0,
        "both shards hold subscribers: {peers:?}"
    );
    let rooms = [
        shard_series(&m, "lyceum_sfu_rooms", 0),
        shard_series(&m, "lyceum_sfu_rooms", 1),
    ];
    assert_eq!(rooms, [1.0, 1.0], "the room and its mirror");

    let host_id = UserId(mentor.id);
    for p in &parts {
        // Every frame the publisher sent since the first, on both shards.
        for t in p.wait_for_frames(host_id, 2, 60, WAIT).await.unwrap() {
            assert_eq!((t.frames_lost, t.frames_late, t.packets_lost), (0, 0, 0), "{t:?}");
        }
    }
    // A layer switch on every subscriber, wherever it is: down to the
    // lowest layer, on its keyframe (asked for through the home shard).
    for p in &parts {
        p.set_quality(lyceum_protocol::Quality::Low).await.unwrap();
    }
    for p in &parts {
        let v = frames_of_layer(p, host_id, "l", 30).await;
        // One continuous stream across the switch, every frame whole.
        assert_eq!(v.packets_lost, 0, "{v:?}");
        assert_eq!(v.non_contiguous, 0, "{v:?}");
        let audio = p
            .stats()
            .tracks_of(host_id)
            .find(|t| t.kind == MediaKind::Audio)
            .cloned()
            .expect("audio");
        assert_eq!(audio.frames_lost, 0, "{audio:?}");
        assert!(audio.frames >= 60, "{audio:?}");
    }
    let m = metrics(&app).await;
    assert_eq!(
        shard_series(&m, "lyceum_sfu_relay_dropped_total", 0) + shard_series(&m, "lyceum_sfu_relay_dropped_total", 1),
        0.0
    );

    // The host stops publishing: every subscriber, here and on the mirror,
    // loses the tracks.
    host.unpublish().await;
    for p in &parts {
        p.wait_for_no_tracks(host_id, WAIT).await.unwrap();
    }
    // Attendees leaving empty the mirror; ending the session closes it.
    for p in parts {
        p.leave().await.unwrap();
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let m = metrics(&app).await;
        let rooms = [
            shard_series(&m, "lyceum_sfu_rooms", 0),
            shard_series(&m, "lyceum_sfu_rooms", 1),
        ];
        if rooms[0] + rooms[1] == 1.0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the mirror stays open: {rooms:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
