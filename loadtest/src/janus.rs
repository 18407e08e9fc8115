//! `webinar --target janus`: the webinar's str0m publishers and subscribers
//! against Janus's VideoRoom plugin over its HTTP API (the Janus API, long
//! polling). Only the signalling is here; media, ramp, measurement and
//! report are the webinar's own.
//!
//! Per peer, as a browser with janus.js would do it: a Janus session
//! (`create`) with a keepalive every 15 s and one long-poll `GET` always
//! outstanding, and a VideoRoom handle (`attach`). The host's handle
//! creates the room; each publisher `join`s as a publisher and `publish`es
//! with our offer (Janus answers); each subscriber `join`s as a subscriber
//! to every publisher's feed, gets Janus's offer, answers it with `start`,
//! and asks for simulcast substream 2 (the top layer, `h`) and temporal
//! layer 2 on the video (`configure`): the same media Lyceum forwards with
//! `LYCEUM__SFU__BWE=false`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use lyceum_peer::{PeerError, Publisher, Subscriber, TrackInfo};
use lyceum_protocol::{MediaKind, UserId};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::live::Probe;
use crate::webinar::{self, Joined, WebinarArgs, WebinarReport};

/// How long a request waits for its plugin's event.
const EVENT_TIMEOUT: Duration = Duration::from_secs(20);

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Value>>>>;

/// One Janus session: its id, the long poll and the keepalives.
pub struct Session {
    http: reqwest::Client,
    url: String,
    id: u64,
    pending: Pending,
    next: std::sync::atomic::AtomicU64,
    tasks: Vec<JoinHandle<()>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn post(http: &reqwest::Client, url: &str, body: &Value) -> anyhow::Result<Value> {
    let v: Value = http
        .post(url)
        .json(body)
        .send()
        .await
        .with_context(|| format!("POST {url}"))?
        .json()
        .await
        .with_context(|| format!("POST {url}: not JSON"))?;
    anyhow::ensure!(v["janus"] != "error", "janus error: {}", v["error"]);
    Ok(v)
}

impl Session {
    pub async fn create(http: &reqwest::Client, url: &str) -> anyhow::Result<Session> {
        let v = post(http, url, &json!({"janus": "create", "transaction": "c"})).await?;
        let id = v["data"]["id"].as_u64().context("create: no session id")?;
        let pending: Pending = Arc::default();
        let poll = tokio::spawn({
            let (http, url, pending) = (http.clone(), format!("{url}/{id}?maxev=10"), pending.clone());
            async move {
                loop {
                    let r = http.get(&url).timeout(Duration::from_secs(70)).send().await;
                    let v: Value = match r {
                        Ok(r) => match r.json().await {
                            Ok(v) => v,
                            Err(_) => break,
                        },
                        Err(_) => {
                            tokio::time::sleep(Duration::from_millis(200)).await;
                            continue;
                        }
                    };
                    let events = match v {
                        Value::Array(a) => a,
                        v => vec![v],
                    };
                    for ev in events {
                        if ev["janus"] == "error" && ev["error"]["code"] == 458 {
                            return; // the session is gone
                        }
                        let Some(t) = ev["transaction"].as_str() else { continue };
                        if let Some(tx) = lock(&pending).remove(t) {
                            let _ = tx.send(ev);
                        }
                    }
                }
            }
        });
        let keepalive = tokio::spawn({
            let (http, url) = (http.clone(), format!("{url}/{id}"));
            async move {
                let mut n = 0u64;
                loop {
                    tokio::time::sleep(Duration::from_secs(15)).await;
                    n += 1;
                    let _ = post(
                        &http,
                        &url,
                        &json!({"janus": "keepalive", "transaction": format!("k{n}")}),
                    )
                    .await;
                }
            }
        });
        Ok(Session {
            http: http.clone(),
            url: url.to_owned(),
            id,
            pending,
            next: Default::default(),
            tasks: vec![poll, keepalive],
        })
    }

    /// A VideoRoom handle in this session.
    pub async fn attach(&self) -> anyhow::Result<u64> {
        let v = post(
            &self.http,
            &format!("{}/{}", self.url, self.id),
            &json!({"janus": "attach", "plugin": "janus.plugin.videoroom", "transaction": "a"}),
        )
        .await?;
        v["data"]["id"].as_u64().context("attach: no handle id")
    }

    /// A VideoRoom request: the plugin's synchronous reply, or (when Janus
    /// acks) the event with the same transaction from the long poll.
    pub async fn message(&self, handle: u64, body: Value, jsep: Option<Value>) -> anyhow::Result<Value> {
        let t = format!("m{}", self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(t.clone(), tx);
        let mut msg = json!({"janus": "message", "transaction": t, "body": body});
        if let Some(j) = jsep {
            msg["jsep"] = j;
        }
        let r = post(&self.http, &format!("{}/{}/{handle}", self.url, self.id), &msg).await;
        let v = match r {
            Ok(v) if v["janus"] == "ack" => match tokio::time::timeout(EVENT_TIMEOUT, rx).await {
                Ok(Ok(ev)) => ev,
                _ => {
                    lock(&self.pending).remove(&t);
                    anyhow::bail!("janus: no event for {}", msg["body"]["request"]);
                }
            },
            Ok(v) => {
                lock(&self.pending).remove(&t);
                v
            }
            Err(e) => {
                lock(&self.pending).remove(&t);
                return Err(e);
            }
        };
        let data = &v["plugindata"]["data"];
        anyhow::ensure!(
            data["error"].is_null(),
            "videoroom {}: {} {}",
            msg["body"]["request"],
            data["error_code"],
            data["error"]
        );
        Ok(v)
    }

    /// Destroys the session (its handles hang up and detach).
    pub async fn destroy(self) {
        for t in &self.tasks {
            t.abort();
        }
        let _ = post(
            &self.http,
            &format!("{}/{}", self.url, self.id),
            &json!({"janus": "destroy", "transaction": "d"}),
        )
        .await;
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// A publisher's session, handle, feed id and stand-in user id.
struct Feed {
    session: Session,
    publisher: Publisher,
    feed: u64,
    user: UserId,
}

async fn publish(http: &reqwest::Client, a: &WebinarArgs, room: u64, n: usize) -> anyhow::Result<Feed> {
    let session = Session::create(http, &a.janus_url).await?;
    let handle = session.attach().await?;
    let v = session
        .message(
            handle,
            json!({"request": "join", "ptype": "publisher", "room": room, "display": format!("publisher {n}")}),
            None,
        )
        .await?;
    let feed = v["plugindata"]["data"]["id"].as_u64().context("join: no feed id")?;
    let opts = webinar::publish_opts(a);
    let timeout = opts.connect_timeout;
    let s = &session;
    let publisher = Publisher::start_signalled(opts, |sdp, _sources| async move {
        let v = s
            .message(
                handle,
                json!({"request": "publish", "audio": true, "video": true}),
                Some(json!({"type": "offer", "sdp": sdp})),
            )
            .await
            .map_err(|e| PeerError::Protocol(format!("{e:#}")))?;
        v["jsep"]["sdp"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| PeerError::Protocol(format!("publish: no answer in {v}")))
    })
    .await?;
    publisher.wait_connected(timeout).await?;
    Ok(Feed {
        session,
        publisher,
        feed,
        user: UserId::new_random(),
    })
}

/// Joins as a subscriber to every feed, answers Janus's offer, starts, and
/// asks for the top substream of every video stream.
async fn subscribe(
    http: reqwest::Client,
    url: String,
    room: u64,
    feeds: Arc<Vec<(u64, UserId)>>,
) -> anyhow::Result<(Session, Subscriber)> {
    let session = Session::create(&http, &url).await?;
    let handle = session.attach().await?;
    let streams: Vec<Value> = feeds.iter().map(|(f, _)| json!({"feed": f})).collect();
    let join = json!({"request": "join", "ptype": "subscriber", "room": room, "streams": streams});
    // A feed is "no such feed" (428) until Janus has set up the publisher's
    // media, a moment after our side of its connection is up: the first
    // subscribers of the ramp try again (a browser would wait for the
    // room's "publishers" event instead).
    let mut tries = 0;
    let v = loop {
        match session.message(handle, join.clone(), None).await {
            Err(e) if tries < 20 && format!("{e}").contains(" 428 ") => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            r => break r?,
        }
    };
    let offer = v["jsep"]["sdp"].as_str().context("join: no offer")?;
    let mut tracks = Vec::new();
    let mut video_mids = Vec::new();
    for s in v["plugindata"]["data"]["streams"].as_array().into_iter().flatten() {
        let (Some(mid), Some(feed)) = (s["mid"].as_str(), s["feed_id"].as_u64()) else {
            continue;
        };
        let Some(&(_, user)) = feeds.iter().find(|(f, _)| *f == feed) else {
            continue;
        };
        let kind = match s["type"].as_str() {
            Some("audio") => MediaKind::Audio,
            Some("video") => {
                video_mids.push(mid.to_owned());
                MediaKind::Video
            }
            _ => continue,
        };
        tracks.push(TrackInfo {
            mid: mid.to_owned(),
            user_id: user,
            kind,
            source: if kind == MediaKind::Audio {
                "microphone"
            } else {
                "camera"
            }
            .into(),
            track_id: feed.wrapping_mul(16).wrapping_add(s["mindex"].as_u64().unwrap_or(0)),
        });
    }
    let (sub, answer) = Subscriber::from_offer(offer, tracks, IpAddr::V4(Ipv4Addr::LOCALHOST)).await?;
    session
        .message(
            handle,
            json!({"request": "start"}),
            Some(json!({"type": "answer", "sdp": answer})),
        )
        .await?;
    if !video_mids.is_empty() {
        let streams: Vec<Value> = video_mids
            .iter()
            .map(|m| json!({"mid": m, "substream": 2, "temporal": 2}))
            .collect();
        session
            .message(handle, json!({"request": "configure", "streams": streams}), None)
            .await?;
    }
    sub.wait_connected(Duration::from_secs(10)).await?;
    Ok((session, sub))
}

pub async fn run(a: &WebinarArgs, progress: &indicatif::ProgressBar) -> anyhow::Result<WebinarReport> {
    crate::check_target(&a.janus_url, false)?;
    let url = a.janus_url.trim_end_matches('/').to_owned();
    let a = &WebinarArgs {
        janus_url: url.clone(),
        ..a.clone()
    };
    let http = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
    progress.set_message("creating the room");
    let admin = Session::create(&http, &url).await?;
    let admin_handle = admin.attach().await?;
    let room = lyceum_peer::now_micros() % 1_000_000_000;
    admin
        .message(
            admin_handle,
            json!({"request": "create", "room": room, "description": "loadtest webinar", "publishers": a.publishers,
                   "audiocodec": "opus", "videocodec": "vp8", "bitrate": 0, "fir_freq": 0, "permanent": false}),
            None,
        )
        .await?;

    progress.set_message("publishing");
    let mut feeds = Vec::new();
    for n in 0..a.publishers {
        feeds.push(publish(&http, a, room, n).await?);
    }
    let ids: Arc<Vec<(u64, UserId)>> = Arc::new(feeds.iter().map(|f| (f.feed, f.user)).collect());

    let probe = Probe::process(a.server_pid);
    let (subs, join_ms, errors, ramp_secs, epoch_unix) = webinar::ramp(a.subscribers, a.ramp, progress, |_| {
        let (http, url, ids) = (http.clone(), url.clone(), ids.clone());
        async move { subscribe(http, url, room, ids).await.map_err(|e| format!("{e:#}")) }
    })
    .await;
    let joined = Joined {
        publisher_ids: feeds.iter().map(|f| f.user).collect(),
        join_ms,
        errors,
        ramp_secs,
        epoch_unix,
    };
    let viewers: Vec<&Subscriber> = subs.iter().map(|(_, s)| s).collect();
    let m = webinar::measure(a, &viewers, &joined, &probe, progress).await;
    let sent: Vec<_> = feeds.iter().map(|f| f.publisher.stats()).collect();

    progress.set_message("leaving");
    futures_util::future::join_all(subs.into_iter().map(|(session, sub)| async move {
        sub.close().await;
        session.destroy().await;
    }))
    .await;
    for f in feeds {
        f.publisher.close().await;
        f.session.destroy().await;
    }
    let _ = admin
        .message(admin_handle, json!({"request": "destroy", "room": room}), None)
        .await;
    admin.destroy().await;
    Ok(webinar::report(a, "janus", joined, m, &sent))
}
