//! End to end against a running Lyceum: a mentor publishes audio and
//! simulcast video in a live group session, two mentees receive it, one
//! leaves and rejoins; then a one-on-one call (invite, accept, both publish
//! and subscribe, hang up).
//!
//! ```sh
//! cargo run -p lyceum-peer --example e2e -- http://127.0.0.1:8080
//! ```

use std::time::Duration;

use anyhow::{anyhow, Context};
use lyceum_peer::lyceum_protocol::{LiveId, UserId};
use lyceum_peer::{Participant, PublishOpts, Signaller};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(15);

async fn register(http: &reqwest::Client, base: &str, role: &str, name: &str) -> anyhow::Result<(String, UserId)> {
    let run = lyceum_peer::now_micros();
    let v: Value = http
        .post(format!("{base}/api/auth/register"))
        .json(&json!({"email": format!("e2e-{run}-{name}@peer.example"), "password": "correct horse battery staple", "displayName": name, "role": role}))
        .send()
        .await?
        .json()
        .await?;
    let token = v["accessToken"]
        .as_str()
        .ok_or_else(|| anyhow!("register: {v}"))?
        .to_owned();
    let id = v["user"]["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("register: no user id in {v}"))?;
    Ok((token, id))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let base = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let http = reqwest::Client::new();

    let (mt, mentor_id) = register(&http, &base, "mentor", "Mentor").await?;
    let (at, _) = register(&http, &base, "mentee", "Ada").await?;
    let (bt, _) = register(&http, &base, "mentee", "Bob").await?;
    let starts = chrono_like_in(600);
    let s: Value = http
        .post(format!("{base}/api/sessions"))
        .bearer_auth(&mt)
        .json(&json!({"title": "e2e", "startsAt": starts, "durationMinutes": 60, "capacity": 10}))
        .send()
        .await?
        .json()
        .await?;
    let sid: LiveId = s["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("create session: {s}"))?;
    for t in [&at, &bt] {
        let r = http
            .post(format!("{base}/api/sessions/{sid}/register"))
            .bearer_auth(t)
            .json(&json!({}))
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "register for session: {}", r.text().await?);
    }
    let r = http
        .post(format!("{base}/api/sessions/{sid}/start"))
        .bearer_auth(&mt)
        .send()
        .await?;
    anyhow::ensure!(r.status().is_success(), "start: {}", r.text().await?);

    let msig = Signaller::connect(&base, &mt).await?;
    let mut host = Participant::join(&msig, sid).await.context("host join")?;
    println!("host joined: role {:?} state {}", host.info().role, host.info().state);
    host.publish(PublishOpts {
        audio: true,
        video: true,
        simulcast: true,
        ..Default::default()
    })
    .await
    .context("publish")?;
    println!(
        "published; answer:\n{}",
        host.publisher().map(|p| p.sdp().1.to_owned()).unwrap_or_default()
    );

    let asig = Signaller::connect(&base, &at).await?;
    let bsig = Signaller::connect(&base, &bt).await?;
    let mut a = Participant::join(&asig, sid).await.context("ada join")?;
    let mut b = Participant::join(&bsig, sid).await.context("bob join")?;
    println!("ada tracks: {:?}", a.subscribe().await.context("ada subscribe")?);
    println!("bob tracks: {:?}", b.subscribe().await.context("bob subscribe")?);
    a.wait_for_frames(mentor_id, 2, 30, WAIT).await.context("ada frames")?;
    b.wait_for_frames(mentor_id, 2, 30, WAIT).await.context("bob frames")?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    println!("ada: {}", serde_json::to_string_pretty(&a.stats())?);
    println!("host sent: {:?}", host.publish_stats());

    b.leave().await.context("bob leave")?;
    let mut b = Participant::join(&bsig, sid).await.context("bob rejoin")?;
    b.subscribe().await.context("bob resubscribe")?;
    b.wait_for_frames(mentor_id, 2, 30, WAIT)
        .await
        .context("bob frames after rejoin")?;
    println!("bob after rejoin: {}", serde_json::to_string_pretty(&b.stats())?);

    // Ada replaces her subscribe connection; she stays in the room.
    msig.drain_events();
    a.subscribe().await.context("ada resubscribes")?;
    a.wait_for_frames(mentor_id, 2, 30, WAIT)
        .await
        .context("ada frames after resubscribing")?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let left: Vec<Value> = msig
        .drain_events()
        .into_iter()
        .filter(|v| v["type"] == "participant_left")
        .collect();
    anyhow::ensure!(left.is_empty(), "resubscribing made the server drop Ada: {left:?}");

    // A call between a second mentor and Ada.
    let (ct, caller_id) = register(&http, &base, "mentor", "Caller").await?;
    let csig = Signaller::connect(&base, &ct).await?;
    let call_id = csig.call_invite(asig.user_id(), true).await.context("invite")?;
    let (incoming, ev) = asig
        .wait_call_incoming(Some(caller_id), WAIT)
        .await
        .context("incoming")?;
    println!("call_incoming {ev:?}");
    anyhow::ensure!(incoming == call_id);
    let room = asig.call_accept(call_id).await.context("accept")?;
    csig.wait_call_accepted(call_id, WAIT).await.context("accepted")?;
    let mut c1 = Participant::join(&csig, room).await.context("caller join")?;
    let mut c2 = Participant::join(&asig, room).await.context("callee join")?;
    c1.publish(PublishOpts::default()).await?;
    c2.publish(PublishOpts::default()).await?;
    c1.subscribe().await?;
    c2.subscribe().await?;
    c1.wait_for_frames(asig.user_id(), 2, 30, WAIT)
        .await
        .context("caller frames")?;
    c2.wait_for_frames(caller_id, 2, 30, WAIT)
        .await
        .context("callee frames")?;
    println!(
        "call: caller got {:?}",
        c1.stats()
            .tracks
            .iter()
            .map(|t| (t.kind, t.frames, t.latency.p50))
            .collect::<Vec<_>>()
    );
    csig.call_hangup(call_id).await.context("hangup")?;
    let ended = asig.wait_call_ended(call_id, WAIT).await.context("call_ended")?;
    println!("call ended: {ended}");
    drop((c1, c2));
    a.leave().await?;
    b.leave().await?;
    host.leave().await?;
    println!("e2e: ok");
    Ok(())
}

/// RFC 3339 for now + secs (UTC), without a date crate.
fn chrono_like_in(secs: u64) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        + secs;
    let (days, rem) = (t / 86_400, t % 86_400);
    // Civil from days (Howard Hinnant).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
