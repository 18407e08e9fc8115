//! Floods: a connection sending commands as fast as it can (watches of
//! random calendars, subscribes, typing) cannot grow the server's memory
//! beyond a stated bound (docs/architecture.md, "Bounds"), and what it made
//! the server hold is let go once it is gone.
//!
//! The server runs as its own process (the `lyceum` binary) so that its
//! resident memory, read from `/proc/<pid>/status`, is the server's alone.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{fresh_database, gauge, JWT_SECRET, PASSWORD};
use crate::ws::Ws;

/// The most the server's resident memory may grow while one connection
/// floods it with `FLOOD` commands (the bound stated in docs/architecture.md).
const RSS_BOUND_MIB: u64 = 64;
/// Commands in the flood.
const FLOOD: usize = 100_000;
/// Commands the flooder has sent and not yet had answered, at most: it
/// writes as fast as the server answers, and reads every answer, so it is
/// a fast client (one that did not read would be cut off as a slow
/// consumer, 4008, which bounds it too). Below `chat.outbound_queue`.
const WINDOW: usize = 512;

struct Server {
    child: Child,
    base: String,
    port: u16,
    http: reqwest::Client,
    dir: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Server {
    async fn start() -> Server {
        let conn = fresh_database().await;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let dir = std::env::temp_dir().join(format!("lyceum-flood-{}", uuid::Uuid::new_v4().simple()));
        let child = Command::new(env!("CARGO_BIN_EXE_lyceum"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("LYCEUM_CONFIG_DIR", "/nonexistent")
            .env("LYCEUM__SERVER__PORT", port.to_string())
            .env("LYCEUM__SERVER__DATA_DIR", &dir)
            .env("LYCEUM__SERVER__WORKERS", "1")
            .env("LYCEUM__DATABASE__URL", &conn)
            .env("LYCEUM__DATABASE__MAX_CONNECTIONS", "4")
            .env("LYCEUM__AUTH__JWT_SECRET", JWT_SECRET)
            .env("LYCEUM__RATE_LIMIT__REGISTER_PER_IP_PER_HOUR", "1000")
            .env("LYCEUM__CALENDAR__IDLE_SECS", "1")
            .env("LYCEUM__SFU__ENABLED", "false")
            .env("LYCEUM__REMINDERS__ENABLED", "false")
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the lyceum binary starts");
        let mut server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            port,
            http: reqwest::Client::new(),
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = server.http.get(format!("{}/readyz", server.base)).send().await {
                if r.status() == 200 {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "server did not become ready");
            assert!(server.child.try_wait().unwrap().is_none(), "server exited early");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server
    }

    /// Resident memory of the server process, in KiB.
    fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS:")
    }

    /// The highest resident memory since the last reset, in KiB.
    fn peak_rss_kib(&self) -> u64 {
        self.status_kib("VmHWM:")
    }

    fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{field} in /proc status"))
    }

    async fn register(&self, role: &str, name: &str) -> (String, String) {
        let email = crate::helpers::unique_email(name);
        let v: Value = self
            .http
            .post(format!("{}/api/auth/register", self.base))
            .json(&json!({"email": email, "password": PASSWORD, "displayName": name, "role": role}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            v["user"]["id"].as_str().unwrap().to_owned(),
            v["accessToken"].as_str().unwrap().to_owned(),
        )
    }

    async fn actors(&self) -> f64 {
        gauge(&self.http, &self.base, "lyceum_calendar_actors").await
    }
}

/// The `i`th command of the flood (each carries an id, so each is answered).
fn flood_command(i: usize, room: &str, mentors: &[String]) -> Value {
    let id = format!("f{i}");
    match i % 10 {
        0..=3 => json!({"id": id, "type": "watch_calendar", "mentorId": uuid::Uuid::new_v4()}),
        4 => json!({"id": id, "type": "watch_calendar", "mentorId": mentors[i % mentors.len()]}),
        5 | 6 => json!({"id": id, "type": "subscribe", "roomId": room}),
        7 => json!({"id": id, "type": "subscribe", "roomId": uuid::Uuid::new_v4()}),
        _ => json!({"id": id, "type": "typing", "roomId": room, "typing": i % 20 < 10}),
    }
}

#[actix_web::test]
async fn a_flooding_connection_stays_within_the_memory_bound_and_leaves_nothing_behind() {
    let server = Server::start().await;
    let mut mentors = Vec::new();
    for i in 0..3 {
        mentors.push(server.register("mentor", &format!("Mentor{i}")).await.0);
    }
    let (_, owner) = server.register("mentor", "Owner").await;
    let (_, flooder) = server.register("mentee", "Flooder").await;
    let room: Value = server
        .http
        .post(format!("{}/api/rooms", server.base))
        .bearer_auth(&owner)
        .json(&json!({"name": "Flooded", "visibility": "public"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let room = room["id"].as_str().unwrap().to_owned();
    let joined = server
        .http
        .post(format!("{}/api/rooms/{room}/join", server.base))
        .bearer_auth(&flooder)
        .send()
        .await
        .unwrap();
    assert_eq!(joined.status(), 200);

    // Warm up every path once, so the baseline includes what any first use
    // allocates (statement caches, pools, the room's actor).
    let warm = Ws::connect_port(server.port, &flooder).await;
    let (mut tx, mut rx) = warm.stream.split();
    for i in 0..200 {
        tx.send(Message::Text(flood_command(i, &room, &mentors).to_string().into()))
            .await
            .unwrap();
    }
    let mut answered = 0;
    while answered < 200 {
        if let Some(Ok(Message::Text(t))) = rx.next().await {
            answered += usize::from(serde_json::from_str::<Value>(&t).unwrap()["id"].is_string());
        }
    }
    drop((tx, rx));
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.actors().await != 0.0 {
        assert!(Instant::now() < deadline, "calendar actors of the warm-up stayed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let base_actors = server.actors().await;
    let base_rss = server.rss_kib();
    // From here VmHWM is the peak of the flood alone.
    std::fs::write(format!("/proc/{}/clear_refs", server.child.id()), "5").expect("reset the RSS peak");

    // The flood: one connection, commands as fast as it can write them,
    // answers read as fast as they come.
    let ws = Ws::connect_port(server.port, &flooder).await;
    let (mut tx, mut rx) = ws.stream.split();
    let answered_so_far = std::cell::Cell::new(0usize);
    let answered_so_far = &answered_so_far;
    let writing = async {
        // A write fails only when the server has closed the socket; the
        // reader then reports how it closed.
        for i in 0..FLOOD {
            while i - answered_so_far.get() >= WINDOW {
                if tx.flush().await.is_err() {
                    break;
                }
                tokio::task::yield_now().await;
            }
            if tx
                .feed(Message::Text(flood_command(i, &room, &mentors).to_string().into()))
                .await
                .is_err()
            {
                break;
            }
            if i % 256 == 255 && tx.flush().await.is_err() {
                break;
            }
        }
        let _ = tx.flush().await;
        tx
    };
    let reading = async {
        let mut codes = std::collections::BTreeMap::<String, usize>::new();
        let mut answered = 0;
        while answered < FLOOD {
            let m = tokio::time::timeout(Duration::from_secs(30), rx.next())
                .await
                .expect("answers keep coming");
            match m {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v["id"].is_string() {
                        answered += 1;
                        answered_so_far.set(answered);
                        let key = if v["type"] == "error" {
                            v["code"].as_str().unwrap().to_owned()
                        } else {
                            "ack".to_owned()
                        };
                        *codes.entry(key).or_default() += 1;
                    }
                }
                Some(Ok(Message::Close(c))) => {
                    panic!("the flooding reader was closed after {answered}: {c:?} {codes:?}")
                }
                Some(Ok(_)) => {}
                other => panic!("the socket ended: {other:?}"),
            }
        }
        (rx, codes)
    };
    let (tx, (rx, codes)) = futures_util::join!(writing, reading);
    let peak = server.peak_rss_kib();
    let grown_mib = peak.saturating_sub(base_rss) / 1024;
    eprintln!("flood answers {codes:?}; RSS base {base_rss} KiB, peak {peak} KiB, grown {grown_mib} MiB");
    let allowed = [
        "ack",
        "not_a_mentor",
        "too_many_watches",
        "room_not_found",
        "overloaded",
        "unavailable",
    ];
    assert!(codes.keys().all(|c| allowed.contains(&c.as_str())), "{codes:?}");
    assert!(codes.get("not_a_mentor").is_some_and(|n| *n > 0), "{codes:?}");
    assert!(codes.get("ack").is_some_and(|n| *n > 0), "{codes:?}");
    assert!(
        grown_mib <= RSS_BOUND_MIB,
        "the flood grew the server by {grown_mib} MiB (bound {RSS_BOUND_MIB} MiB)"
    );
    assert_eq!(
        server.actors().await,
        base_actors + 3.0,
        "only the real mentors' calendars run"
    );

    // Gone: the calendar actors it kept alive stop after the idle time.
    drop((tx, rx));
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let now = server.actors().await;
        if now == base_actors {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "calendar actors stayed at {now}, base {base_actors}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
