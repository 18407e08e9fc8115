//! End to end in real browsers: headless Chromium driven over WebDriver
//! (chromedriver + fantoccini) loads the web client at `/app/`, joins live
//! rooms through the SFU and must decode everyone else's video.
//!
//! Needs Debian's `chromium` and `chromium-driver`. Without them the tests
//! print a line and pass, unless `LYCEUM_REQUIRE_BROWSER=1` (CI), which
//! makes a missing browser a failure. `LYCEUM_BROWSER_LOG=1` prints each
//! page's event log at the end; `LYCEUM_BROWSER_SCREENSHOTS=<dir>` saves
//! screenshots of the pages there.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{Duration as Dur, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The longest any single wait may take; no failure hangs longer.
pub(crate) const WAIT: Duration = Duration::from_secs(60);
pub(crate) const POLL: Duration = Duration::from_millis(250);

/// Browser tests run one at a time: a few Chromium instances encoding and
/// decoding video are plenty for a small machine.
pub(crate) static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Whether the browser is there; false means skip (and it says so).
pub(crate) fn browser_available(test: &str) -> bool {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var("LYCEUM_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
        panic!("{test}: LYCEUM_REQUIRE_BROWSER=1 but {missing:?} missing (apt-get install chromium chromium-driver)");
    }
    println!("{test}: skipped, {missing:?} not installed (apt-get install chromium chromium-driver)");
    false
}

/// A webinar of `host`'s an hour from now (60 minutes, 10 seats) with
/// `attendees` registered: its id.
pub(crate) async fn webinar_with(app: &TestApp, host: &Session, title: &str, attendees: &[&Session]) -> String {
    let res = app
        .post_auth(
            "/api/sessions",
            &host.access,
            &json!({"title": title, "startsAt": Utc::now() + Dur::hours(1), "durationMinutes": 60, "capacity": 10}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let session = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    for a in attendees {
        let res = app
            .post_auth(&format!("/api/sessions/{session}/register"), &a.access, &json!({}))
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    session
}

/// A chromedriver of our own on a free port, and the profile directories of
/// the browsers it started. Dropping it kills all of them, also on panic.
pub(crate) struct Driver {
    child: Child,
    url: String,
    dir: PathBuf,
    profiles: Vec<PathBuf>,
}

impl Driver {
    pub(crate) async fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("lyceum-browser-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("chromedriver.log");
        let child = {
            use std::os::unix::process::CommandExt;
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .arg(format!("--log-path={}", log.display()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .expect("starting chromedriver")
        };
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
            profiles: Vec::new(),
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(res) = http.get(format!("{}/status", driver.url)).send().await {
                if res.json::<Value>().await.is_ok_and(|v| v["value"]["ready"] == true) {
                    return driver;
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready (log: {})",
                log.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The chromedriver's address (for its vendor endpoints, e.g. CDP).
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// A fresh headless Chromium with fake camera and microphone.
    pub(crate) async fn browser(&mut self, name: &str) -> Page {
        let profile = self.dir.join(format!("profile-{name}"));
        std::fs::create_dir_all(&profile).unwrap();
        self.profiles.push(profile.clone());
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            "--allow-loopback-in-peer-connection",
            "--disable-features=WebRtcHideLocalIpsWithMdns",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--autoplay-policy=no-user-gesture-required",
            "--window-size=1024,768",
        ]
        .into_iter()
        .map(str::to_owned)
        .chain([format!("--user-data-dir={}", profile.display())])
        .collect::<Vec<_>>();
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        });
        let Value::Object(caps) = caps else { unreachable!() };
        let client = tokio::time::timeout(
            WAIT,
            fantoccini::ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps)
                .connect(&self.url),
        )
        .await
        .unwrap_or_else(|_| panic!("{name}: no browser session within {WAIT:?}"))
        .unwrap_or_else(|e| panic!("{name}: starting a browser session: {e}"));
        Page {
            name: name.to_owned(),
            client,
        }
    }

    /// Ends the browser sessions politely (Drop kills whatever is left).
    /// With `LYCEUM_BROWSER_LOG=1`, prints every page's event log first.
    pub(crate) async fn close(self, pages: Vec<Page>) {
        for p in pages {
            if std::env::var("LYCEUM_BROWSER_LOG").is_ok_and(|v| v == "1") {
                println!("{}", p.page_log().await);
            }
            let _ = tokio::time::timeout(Duration::from_secs(10), p.client.close()).await;
        }
        drop(self);
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Browsers whose command line names one of our profiles, then the
        // driver's process group.
        if let Ok(procs) = std::fs::read_dir("/proc") {
            for p in procs.flatten() {
                let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                    continue;
                };
                let Ok(cmdline) = std::fs::read(p.path().join("cmdline")) else {
                    continue;
                };
                let cmdline = String::from_utf8_lossy(&cmdline);
                if self.profiles.iter().any(|d| cmdline.contains(&*d.to_string_lossy())) {
                    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
                }
            }
        }
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!(
                "browser test failed; chromedriver log and profiles kept in {}",
                self.dir.display()
            );
        }
    }
}

pub(crate) struct Page {
    pub(crate) name: String,
    pub(crate) client: fantoccini::Client,
}

impl Page {
    /// Runs a script (its `return` value, awaited if a promise).
    pub(crate) async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        match tokio::time::timeout(WAIT, self.client.execute(script, args)).await {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => panic!(
                "{}: script `{script}` failed: {e}\n{}",
                self.name,
                self.page_log().await
            ),
            Err(_) => panic!(
                "{}: script `{script}` did not return within {WAIT:?}\n{}",
                self.name,
                self.page_log().await
            ),
        }
    }

    /// Calls the page's JavaScript expression `expr` (a promise is awaited)
    /// and returns its value; a rejection fails the test with the page log.
    pub(crate) async fn call(&self, expr: &str, args: Vec<Value>) -> Value {
        let script = format!(
            "return Promise.resolve().then(() => {expr}).then(v => ({{ok: v === undefined ? null : v}}), e => ({{err: String((e && e.message) || e)}}));"
        );
        let v = self.js(&script, args).await;
        if let Some(err) = v.get("err") {
            panic!("{}: `{expr}` failed: {err}\n{}", self.name, self.page_log().await);
        }
        v["ok"].clone()
    }

    /// With `LYCEUM_BROWSER_SCREENSHOTS=<dir>`, saves a PNG of the page there.
    pub(crate) async fn screenshot(&self, label: &str) {
        let Ok(dir) = std::env::var("LYCEUM_BROWSER_SCREENSHOTS") else {
            return;
        };
        if let Ok(Ok(png)) = tokio::time::timeout(Duration::from_secs(10), self.client.screenshot()).await {
            let _ = std::fs::create_dir_all(&dir);
            let _ = std::fs::write(Path::new(&dir).join(format!("{label}-{}.png", self.name)), png);
        }
    }

    /// The page's state and event log, for failure messages.
    pub(crate) async fn page_log(&self) -> String {
        let script = "return `state=${document.body.dataset.state}\\n` + (window.lyceum ? window.lyceum.logText() : document.documentElement.outerHTML.slice(0, 2000));";
        match tokio::time::timeout(Duration::from_secs(5), self.client.execute(script, vec![])).await {
            Ok(Ok(Value::String(s))) => format!("---- {} page log ----\n{s}---- end of {} ----", self.name, self.name),
            other => format!("({}: no page log: {other:?})", self.name),
        }
    }

    pub(crate) async fn type_into(&self, css: &str, text: &str) {
        let el = self
            .client
            .find(fantoccini::Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{}: no {css}: {e}", self.name));
        el.send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("{}: typing into {css}: {e}", self.name));
    }

    pub(crate) async fn open(&self, url: &str) {
        tokio::time::timeout(WAIT, self.client.goto(url))
            .await
            .unwrap_or_else(|_| panic!("{}: loading {url} timed out", self.name))
            .unwrap_or_else(|e| panic!("{}: loading {url}: {e}", self.name));
    }

    /// Polls `script` until `done` holds for its value; returns that value.
    pub(crate) async fn wait_for(
        &self,
        what: &str,
        script: &str,
        args: Vec<Value>,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + WAIT;
        let mut last = Value::Null;
        while Instant::now() < deadline {
            last = self.js(script, args.clone()).await;
            if done(&last) {
                return last;
            }
            tokio::time::sleep(POLL).await;
        }
        panic!(
            "{}: waited {WAIT:?} for {what}; last value {last}\n{}",
            self.name,
            self.page_log().await
        );
    }

    pub(crate) async fn wait_state(&self, state: &str) {
        self.wait_for(
            &format!("data-state={state}"),
            "return document.body.dataset.state || null;",
            vec![],
            |v| v == state,
        )
        .await;
    }

    /// Decoded frames per user of one source (`camera`, `screen`) on the
    /// subscribe connection.
    pub(crate) async fn frames(&self, source: &str) -> HashMap<String, u64> {
        let stats = self.js("return window.lyceum.stats();", vec![]).await;
        let mut out = HashMap::new();
        for s in stats.as_array().into_iter().flatten() {
            let (Some(user), Some(n)) = (s["userId"].as_str(), s["framesDecoded"].as_u64()) else {
                continue;
            };
            if s["source"] != source {
                continue;
            }
            let e = out.entry(user.to_owned()).or_insert(0);
            *e = (*e).max(n);
        }
        out
    }

    /// Waits until camera video from every one of `from` is being decoded:
    /// more than zero frames, and more again a second later.
    pub(crate) async fn wait_decoding(&self, from: &[(&str, Uuid)]) {
        self.wait_decoding_of("camera", from).await;
    }

    pub(crate) async fn wait_decoding_of(&self, source: &str, from: &[(&str, Uuid)]) {
        let deadline = Instant::now() + WAIT;
        let mut prev = self.frames(source).await;
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let cur = self.frames(source).await;
            let rising = from.iter().all(|(_, id)| {
                let id = id.to_string();
                let (p, c) = (prev.get(&id).copied().unwrap_or(0), cur.get(&id).copied().unwrap_or(0));
                p > 0 && c > p
            });
            if rising {
                let summary: Vec<String> = from
                    .iter()
                    .map(|(n, id)| format!("{n}: {}", cur[&id.to_string()]))
                    .collect();
                println!("  {} decodes {source} of {}", self.name, summary.join(", "));
                return;
            }
            if Instant::now() > deadline {
                let stats = self.js("return window.lyceum.stats();", vec![]).await;
                let names: Vec<String> = from.iter().map(|(n, id)| format!("{n}={id}")).collect();
                panic!(
                    "{}: no rising framesDecoded of {source} from all of [{}] within {WAIT:?}: before {prev:?}, now {cur:?}\nstats: {stats}\n{}",
                    self.name,
                    names.join(", "),
                    self.page_log().await
                );
            }
            prev = cur;
        }
    }
}

fn app_url(app: &TestApp, fragment: &str) -> String {
    format!("{}/app/#{fragment}", app.address)
}

/// Whether the element `arguments[0]` (a CSS selector) is on the page and
/// shown (not `hidden`, not inside something hidden).
pub(crate) const SHOWN: &str =
    "const e = document.querySelector(arguments[0]); return !!e && e.getClientRects().length > 0;";

/// The accessible names (`aria-label`, else the text) of the buttons under
/// `arguments[0]`.
const BUTTON_NAMES: &str = "return [...document.querySelectorAll(`${arguments[0]} button`)].map(b => b.getAttribute('aria-label') || b.textContent.replace(/\\s+/g, ' ').trim());";

/// The text of the page's alert regions (`role="alert"`), joined.
pub(crate) const ALERTS: &str =
    "return [...document.querySelectorAll('[role=alert]')].filter(e => e.getClientRects().length > 0).map(e => e.textContent.trim()).join(' | ');";

impl Page {
    pub(crate) async fn shown(&self, css: &str) -> bool {
        self.js(SHOWN, vec![json!(css)]).await == true
    }

    /// Clicks the button whose accessible name is `name` (as a screen
    /// reader user would pick it), waiting for it to appear.
    pub(crate) async fn click_button(&self, name: &str) {
        self.wait_for(
            &format!("a button named {name:?}"),
            "const b = [...document.querySelectorAll('button')].find(b => (b.getAttribute('aria-label') || b.textContent.replace(/\\s+/g, ' ').trim()) === arguments[0] && b.getClientRects().length > 0); if (!b) return false; b.click(); return true;",
            vec![json!(name)],
            |v| v == true,
        )
        .await;
    }

    pub(crate) async fn wait_text(&self, what: &str, script: &str, needle: &str) -> Value {
        self.wait_for(what, script, vec![], |v| v.as_str().is_some_and(|s| s.contains(needle)))
            .await
    }
}

#[actix_web::test]
async fn three_browsers_see_each_other_in_a_group_session() {
    if !browser_available("three_browsers_see_each_other_in_a_group_session") {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().await;
    let t0 = Instant::now();
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Host").await;
    let ada = app.register("mentee", "Ada").await;
    let bob = app.register("mentee", "Bob").await;

    let session = webinar_with(&app, &mentor, "Live in the browser", &[&ada, &bob]).await;

    let mut driver = Driver::start().await;
    let host = driver.browser("host").await;
    let pa = driver.browser("ada").await;
    let pb = driver.browser("bob").await;
    println!("  browsers up after {:?}", t0.elapsed());
    let t1 = Instant::now();
    // The host may enter the scheduled session; the mentees wait (their
    // page retries) until the host presses "Start session".
    host.open(&app_url(&app, &format!("token={}&session={session}", mentor.access)))
        .await;
    host.wait_state("joined").await;
    assert_eq!(
        host.js("return window.lyceum.state.roomState;", vec![]).await,
        "scheduled"
    );
    // The room is headed by the session's title, never its id; the host
    // has "Start session" and no "Raise hand"; no event log without ?debug=1.
    let title = host
        .wait_text(
            "the session's title",
            "return document.querySelector('#room-title').textContent;",
            "Live in the browser",
        )
        .await;
    assert!(!title.as_str().unwrap_or("").contains(&session), "{title}");
    assert!(host.shown("#start").await, "the host sees Start session");
    assert!(!host.shown("#hand").await, "the host has no Raise hand");
    assert!(!host.shown("#log-panel").await, "no event log without ?debug=1");
    for (page, who) in [(&pa, &ada), (&pb, &bob)] {
        page.open(&app_url(&app, &format!("token={}&session={session}", who.access)))
            .await;
    }
    for page in [&pa, &pb] {
        page.wait_for(
            "session_not_live",
            "return window.lyceum.logText().includes('session_not_live');",
            vec![],
            |v| v == true,
        )
        .await;
        // Said in words, in an alert region, not as a code.
        let alert = page
            .wait_text(
                "the not-started alert",
                ALERTS,
                "The host has not started this session yet.",
            )
            .await;
        assert!(!alert.as_str().unwrap_or("").contains("session_not_live"), "{alert}");
    }
    host.js("document.querySelector('#start').click(); return true;", vec![])
        .await;
    host.wait_for(
        "the session to be live",
        "return window.lyceum.state.roomState;",
        vec![],
        |v| v == "live",
    )
    .await;
    for page in [&pa, &pb] {
        page.wait_state("joined").await;
    }
    assert_eq!(host.js("return window.lyceum.state.role;", vec![]).await, "host");
    assert_eq!(pa.js("return window.lyceum.state.role;", vec![]).await, "attendee");
    println!("  all three joined after {:?}", t1.elapsed());

    // What an attendee sees: the title, no Start session, no host controls,
    // no microphone or camera buttons, Raise hand; names, never ids.
    for page in [&pa, &pb] {
        page.wait_text(
            "the title",
            "return document.querySelector('#room-title').textContent;",
            "Live in the browser",
        )
        .await;
        assert!(
            !page.shown("#start").await,
            "{}: an attendee has no Start session",
            page.name
        );
        assert!(!page.shown("#end-session").await, "{}: nor End session", page.name);
        assert!(!page.shown("#mic").await, "{}: nor a microphone button", page.name);
        assert!(page.shown("#hand").await, "{}: an attendee may raise a hand", page.name);
        assert!(!page.shown("#log-panel").await, "{}: no event log", page.name);
        assert_eq!(
            page.js(BUTTON_NAMES, vec![json!("#people")]).await,
            json!([]),
            "{}",
            page.name
        );
        let people = page
            .wait_text(
                "the host's name",
                "return document.querySelector('#people').textContent;",
                "Host",
            )
            .await;
        for id in [mentor.id, ada.id, bob.id] {
            assert!(
                !people.as_str().unwrap_or("").contains(&id.to_string()),
                "{}: no ids: {people}",
                page.name
            );
        }
    }
    // The host's per-person buttons name the person.
    let names = host
        .wait_for(
            "the host's buttons for Ada and Bob",
            BUTTON_NAMES,
            vec![json!("#people")],
            |v| {
                let a = v.as_array().cloned().unwrap_or_default();
                a.contains(&json!("Make Ada a speaker")) && a.contains(&json!("Make Bob a speaker"))
            },
        )
        .await;
    for n in ["Remove Ada", "Remove Bob"] {
        assert!(names.as_array().unwrap().contains(&json!(n)), "{n} in {names}");
    }
    assert!(!host.shown("#start").await, "Start session goes once it is live");

    // The host makes both mentees speakers with those buttons; they start
    // publishing.
    for name in ["Make Ada a speaker", "Make Bob a speaker"] {
        host.click_button(name).await;
    }
    host.wait_for("the speakers' buttons", BUTTON_NAMES, vec![json!("#people")], |v| {
        let a = v.as_array().cloned().unwrap_or_default();
        [
            "Mute Ada",
            "Stop video of Ada",
            "Make Ada an attendee",
            "Mute Bob",
            "Remove Bob",
        ]
        .iter()
        .all(|n| a.contains(&json!(n)))
    })
    .await;
    for page in [&pa, &pb] {
        page.wait_for("role speaker", "return window.lyceum.state.role;", vec![], |v| {
            v == "speaker"
        })
        .await;
    }

    let t2 = Instant::now();
    host.wait_decoding(&[("ada", ada.id), ("bob", bob.id)]).await;
    pa.wait_decoding(&[("host", mentor.id), ("bob", bob.id)]).await;
    pb.wait_decoding(&[("host", mentor.id), ("ada", ada.id)]).await;
    println!(
        "  everyone decodes everyone after {:?} (total {:?})",
        t2.elapsed(),
        t0.elapsed()
    );
    for page in [&host, &pa, &pb] {
        page.screenshot("group").await;
    }

    // A raised hand shows on the host's page.
    let ada_id = ada.id.to_string();
    let bob_id = bob.id.to_string();
    pa.call("window.lyceum.raiseHand(true)", vec![]).await;
    host.wait_for(
        "ada's raised hand",
        "return window.lyceum.state.participants.get(arguments[0])?.handRaised ?? null;",
        vec![json!(ada_id)],
        |v| v == true,
    )
    .await;
    // ...in the host's queue of raised hands, by name.
    host.wait_text(
        "Ada in the raised hands",
        "return document.querySelector('#hands').textContent;",
        "Ada",
    )
    .await;
    assert!(host.shown("#hands-panel").await);

    // The host mutes bob: bob's microphone goes off, and he is told.
    host.click_button("Mute Bob").await;
    pb.wait_for("bob muted", "return window.lyceum.state.audioOn;", vec![], |v| {
        v == false
    })
    .await;
    pb.wait_text("bob told", ALERTS, "The host muted your microphone").await;
    host.wait_for(
        "bob shown muted",
        "return window.lyceum.state.participants.get(arguments[0])?.audio ?? null;",
        vec![json!(bob_id)],
        |v| v == false,
    )
    .await;

    // Screen sharing adds a track the others decode; stopping removes it.
    let t3 = Instant::now();
    host.call("window.lyceum.toggleScreen()", vec![]).await;
    pa.wait_decoding_of("screen", &[("host", mentor.id)]).await;
    pa.screenshot("screen").await;
    host.call("window.lyceum.toggleScreen()", vec![]).await;
    let host_id = mentor.id.to_string();
    pa.wait_for(
        "the host's screen to go",
        "const t = document.querySelector(`.tile[data-user-id=\"${arguments[0]}\"] video.screen`); return t ? t.hidden : null;",
        vec![json!(host_id)],
        |v| v == true,
    )
    .await;
    println!("  screen share on and off in {:?}", t3.elapsed());

    // Back to attendee: ada stops publishing and her tile goes from the others.
    let tiles = "return [...document.querySelectorAll('.tile')].map(t => t.dataset.userId);";
    host.call("window.lyceum.setRole(arguments[0], 'attendee')", vec![json!(ada_id)])
        .await;
    pa.wait_for(
        "ada stops publishing",
        "return window.lyceum.state.pubPc === null;",
        vec![],
        |v| v == true,
    )
    .await;
    pb.wait_for("ada's tile to go", tiles, vec![], |v| {
        v.as_array().is_some_and(|a| !a.iter().any(|u| u == ada_id.as_str()))
    })
    .await;

    // Leaving: the others lose that tile.
    pb.call("window.lyceum.leave()", vec![]).await;
    pb.wait_state("idle").await;
    host.wait_for("bob's tile to go", tiles, vec![], |v| {
        v.as_array().is_some_and(|a| !a.iter().any(|u| u == bob_id.as_str()))
    })
    .await;

    // Bob comes back (an attendee now) for the end.
    pb.call("window.lyceum.join(arguments[0])", vec![json!(session)]).await;
    pb.wait_state("joined").await;

    // Bob's WebSocket drops: the page says so, stays in the room (never
    // back to the lobby) and rejoins by itself.
    pb.js(
        "window.__states = []; new MutationObserver(() => window.__states.push(document.body.dataset.state)).observe(document.body, {attributes: true, attributeFilter: ['data-state']}); window.lyceum.state.ws.close(); return true;",
        vec![],
    )
    .await;
    pb.wait_text("the reconnecting notice", ALERTS, "Reconnecting and rejoining the room")
        .await;
    pb.wait_for(
        "bob back in the room",
        "return window.__states.at(-1) === 'joined' && window.lyceum.state.sessionId;",
        vec![],
        |v| v == session.as_str(),
    )
    .await;
    let states = pb.js("return window.__states;", vec![]).await;
    assert!(
        states
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s == "joining" || s == "joined"),
        "bob's page stayed in the room while reconnecting: {states}"
    );
    pb.wait_for("the notice to go", SHOWN, vec![json!("#notice")], |v| v == false)
        .await;
    pb.wait_decoding(&[("host", mentor.id)]).await;
    host.wait_text(
        "bob back on the host's list",
        "return document.querySelector('#people').textContent;",
        "Bob",
    )
    .await;

    // The host removes ada, then ends the session: both pages go back idle.
    host.click_button("Remove Ada").await;
    pa.wait_state("idle").await;
    assert_eq!(
        pa.js("return window.lyceum.state.lastSessionEnded?.reason;", vec![])
            .await,
        "removed"
    );
    pa.wait_text(
        "ada's notice",
        ALERTS,
        "The host removed you from “Live in the browser”",
    )
    .await;
    host.wait_for(
        "ada gone",
        "return window.lyceum.state.participants.has(arguments[0]);",
        vec![json!(ada_id)],
        |v| v == false,
    )
    .await;
    host.js("document.querySelector('#end-session').click(); return true;", vec![])
        .await;
    host.wait_state("idle").await;
    assert_eq!(
        host.js("return window.lyceum.state.lastSessionEnded?.reason;", vec![])
            .await,
        "ended"
    );
    // The attendee still in the room is told, not dropped back in silence.
    pb.wait_state("idle").await;
    let notice = pb
        .wait_text("bob's notice", ALERTS, "The host ended “Live in the browser”")
        .await;
    println!("  bob sees: {notice}");
    pb.screenshot("ended").await;

    driver.close(vec![host, pa, pb]).await;
    println!("  group session test took {:?}", t0.elapsed());
}

#[actix_web::test]
async fn a_one_on_one_call_between_two_browsers() {
    if !browser_available("a_one_on_one_call_between_two_browsers") {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().await;
    let t0 = Instant::now();
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Caller").await;
    let mentee = app.register("mentee", "Callee").await;

    let mut driver = Driver::start().await;
    let caller = driver.browser("caller").await;
    let callee = driver.browser("callee").await;
    // The caller comes from a link naming the person to call.
    caller
        .open(&app_url(&app, &format!("token={}&call={}", mentor.access, mentee.id)))
        .await;
    // The callee signs in with the form.
    callee.open(&format!("{}/app/", app.address)).await;
    callee.wait_state("signed-out").await;
    callee.type_into("#email", &mentee.email).await;
    callee.type_into("#password", PASSWORD).await;
    callee
        .js(
            "document.querySelector('#login-form button[type=submit]').click(); return true;",
            vec![],
        )
        .await;
    caller.wait_state("idle").await;
    callee.wait_state("idle").await;
    println!("  both browsers online after {:?}", t0.elapsed());

    // Declined: the caller hears so.
    let last_end = "return window.lyceum.state.lastCallEnded;";
    caller
        .wait_text(
            "the call button",
            "return document.querySelector('#call').textContent;",
            "Call Callee",
        )
        .await;
    caller.click_button("Call Callee").await;
    let declined = caller
        .wait_for(
            "the call's id",
            "return window.lyceum.state.call?.callId ?? null;",
            vec![],
            |v| v.is_string(),
        )
        .await;
    caller.wait_state("calling").await;
    callee.wait_state("ringing").await;
    assert_eq!(callee.js("return window.lyceum.state.ringing;", vec![]).await, true);
    // Announced to screen readers with the caller's name; the caller sees
    // whom they are calling.
    callee
        .wait_text(
            "the announcement",
            "return document.querySelector('#announce').textContent;",
            "Caller is calling you (video call)",
        )
        .await;
    assert_eq!(
        callee
            .js(
                "return document.querySelector('#announce').getAttribute('aria-live');",
                vec![]
            )
            .await,
        "assertive"
    );
    caller
        .wait_text(
            "calling whom",
            "return document.querySelector('#call-status').textContent;",
            "Callee",
        )
        .await;
    callee
        .js("document.querySelector('#decline').click(); return true;", vec![])
        .await;
    let ended = caller
        .wait_for("call_ended (declined)", last_end, vec![], |v| v["callId"] == declined)
        .await;
    assert_eq!(ended["reason"], "declined");
    caller
        .wait_text(
            "the reason in words",
            "return document.querySelector('#call-status').textContent;",
            "Callee declined the call.",
        )
        .await;
    caller.wait_state("idle").await;
    callee.wait_state("idle").await;
    // Cancelled while ringing: the banner goes away.
    let cancelled = caller
        .call("window.lyceum.callInvite(arguments[0], true)", vec![json!(mentee.id)])
        .await;
    callee.wait_state("ringing").await;
    assert_eq!(
        callee
            .js("return document.querySelector('#incoming').hidden;", vec![])
            .await,
        false
    );
    caller.call("window.lyceum.cancelCall()", vec![]).await;
    let ended = callee
        .wait_for("call_ended (cancelled)", last_end, vec![], |v| v["callId"] == cancelled)
        .await;
    assert_eq!(ended["reason"], "cancelled");
    callee.wait_state("idle").await;
    assert_eq!(
        callee
            .js("return document.querySelector('#incoming').hidden;", vec![])
            .await,
        true
    );

    let t1 = Instant::now();
    let call_id = caller
        .call("window.lyceum.callInvite(arguments[0], true)", vec![json!(mentee.id)])
        .await;
    assert!(call_id.is_string(), "callInvite returns the callId: {call_id}");
    callee.wait_state("ringing").await;
    let incoming = callee.js("return window.lyceum.state.call;", vec![]).await;
    assert_eq!(incoming["callId"], call_id);
    assert_eq!(incoming["from"]["userId"], json!(mentor.id));
    // Accept with the banner's button, as a user would.
    callee
        .js("document.querySelector('#accept').click(); return true;", vec![])
        .await;
    caller.wait_state("in-call").await;
    callee.wait_state("in-call").await;
    callee
        .wait_text(
            "the call's header",
            "return document.querySelector('#room-title').textContent;",
            "Call with Caller",
        )
        .await;
    assert_eq!(
        caller.js("return window.lyceum.state.sessionId;", vec![]).await,
        call_id
    );
    assert_eq!(callee.js("return window.lyceum.state.role;", vec![]).await, "speaker");

    caller.wait_decoding(&[("callee", mentee.id)]).await;
    callee.wait_decoding(&[("caller", mentor.id)]).await;
    println!("  both decode each other {:?} after the invite", t1.elapsed());

    // ICE restarts of both connections keep the media flowing.
    let t2 = Instant::now();
    let offers = "return window.lyceum.state.events.filter(e => e.type === 'rtc_offer').length;";
    let before = caller.js(offers, vec![]).await.as_u64().unwrap();
    let ufrags = "const u = (d) => (d && d.sdp.match(/a=ice-ufrag:(\\S+)/) || [])[1] || null; const s = window.lyceum.state; \
                  return [u(s.pubPc.localDescription), u(s.pubPc.remoteDescription), u(s.subPc.localDescription), u(s.subPc.remoteDescription)];";
    let ufrags_before = caller.js(ufrags, vec![]).await;
    caller.call("window.lyceum.restartIce('publish')", vec![]).await;
    caller.call("window.lyceum.restartIce('subscribe')", vec![]).await;
    caller
        .wait_for("the restart offer", offers, vec![], |v| {
            v.as_u64().unwrap_or(0) > before
        })
        .await;
    callee.wait_decoding(&[("caller", mentor.id)]).await;
    caller.wait_decoding(&[("callee", mentee.id)]).await;
    let ufrags_after = caller.js(ufrags, vec![]).await;
    let (b, a) = (ufrags_before.as_array().unwrap(), ufrags_after.as_array().unwrap());
    assert!(
        b.iter().zip(a).all(|(b, a)| b.is_string() && a.is_string() && b != a),
        "both sides of both connections take new ICE credentials (publish local, remote, subscribe local, remote): before {ufrags_before}, after {ufrags_after}"
    );
    let failed = caller
        .js(
            "const l = window.lyceum.logText(); return l.includes('! restart') || l.includes('! negotiation');",
            vec![],
        )
        .await;
    assert_eq!(
        failed,
        false,
        "no failed restart or negotiation in the caller's log\n{}",
        caller.page_log().await
    );
    println!("  ICE restarts done, still decoding, in {:?}", t2.elapsed());

    // Hanging up ends the call for the other side too.
    caller.call("window.lyceum.hangup()", vec![]).await;
    caller.wait_state("idle").await;
    let ended = callee
        .wait_for("call_ended", "return window.lyceum.state.lastCallEnded;", vec![], |v| {
            !v.is_null()
        })
        .await;
    assert_eq!(ended["callId"], call_id);
    assert_eq!(ended["reason"], "hangup");
    callee.wait_state("idle").await;
    callee
        .wait_text(
            "the hang-up in words",
            "return document.querySelector('#call-status').textContent;",
            "Caller hung up.",
        )
        .await;

    driver.close(vec![caller, callee]).await;
    println!("  call test took {:?}", t0.elapsed());
}

/// A call as a person starts it (issue 15): a mentee signed in to the pages
/// opens a mentor's page, clicks "Call <name>", lands in the live room with
/// the call form naming the mentor, and calls; the mentor's page rings and
/// names the caller; accepted, both decode each other; the mentor hangs up
/// and the mentee is told so in words.
#[actix_web::test]
async fn a_call_starts_from_a_mentors_page() {
    if !browser_available("a_call_starts_from_a_mentors_page") {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().await;
    let t0 = Instant::now();
    let app = spawn_app().await;
    let mentor = crate::browser_pages::seed_mentor(&app, "Grace Mentor", "Compilers").await;
    let mentee = app.register("mentee", "Sam Student").await;

    let mut driver = Driver::start().await;
    let callee = driver.browser("mentor").await;
    let caller = driver.browser("mentee").await;
    callee.open(&app_url(&app, &format!("token={}", mentor.access))).await;
    callee.wait_state("idle").await;

    // The mentee signs in to the pages and starts the call from the profile.
    caller.sign_in(&app, &mentee.email).await;
    caller.open(&app.url(&format!("/mentors/{}", mentor.id))).await;
    assert_eq!(caller.text("#call-mentor").await, "Call Grace Mentor");
    caller.click("#call-mentor").await;
    caller.wait_at("/app/", "").await;
    caller.wait_state("idle").await;
    caller
        .wait_text(
            "the call button names the mentor",
            "return document.querySelector('#call').textContent;",
            "Call Grace Mentor",
        )
        .await;
    caller.click_button("Call Grace Mentor").await;
    caller.wait_state("calling").await;
    callee.wait_state("ringing").await;
    callee
        .wait_text(
            "the announcement",
            "return document.querySelector('#announce').textContent;",
            "Sam Student is calling you",
        )
        .await;
    callee.click("#accept").await;
    caller.wait_state("in-call").await;
    callee.wait_state("in-call").await;
    caller.wait_decoding(&[("mentor", mentor.id)]).await;
    callee.wait_decoding(&[("mentee", mentee.id)]).await;
    println!("  both decode each other {:?} after the start", t0.elapsed());

    // The mentor hangs up with the button; the mentee reads why it ended.
    callee.click("#hangup").await;
    callee.wait_state("idle").await;
    caller.wait_state("idle").await;
    caller
        .wait_text(
            "the hang-up in words",
            "return document.querySelector('#call-status').textContent;",
            "Grace Mentor hung up.",
        )
        .await;

    driver.close(vec![callee, caller]).await;
    println!("  call from a profile took {:?}", t0.elapsed());
}

/// Steady top quality: the host's 1280x720 camera (Chromium's fake device
/// at the size the page asks for) is sent as three simulcast layers with the
/// top one at 1280x720; an attendee who enlarges the host's tile receives
/// that top layer through the SFU, with its bandwidth estimate on (the
/// default), and keeps it for 10 s without a single layer change.
#[actix_web::test]
async fn an_attendee_gets_the_top_layer_and_keeps_it() {
    if !browser_available("an_attendee_gets_the_top_layer_and_keeps_it") {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().await;
    let t0 = Instant::now();
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Host").await;
    let ada = app.register("mentee", "Ada").await;
    let session = webinar_with(&app, &mentor, "Top quality", &[&ada]).await;

    let mut driver = Driver::start().await;
    let host = driver.browser("host").await;
    let pa = driver.browser("ada").await;
    host.open(&app_url(&app, &format!("token={}&session={session}", mentor.access)))
        .await;
    host.wait_state("joined").await;
    host.call("window.lyceum.startSession()", vec![]).await;
    pa.open(&app_url(&app, &format!("token={}&session={session}", ada.access)))
        .await;
    pa.wait_state("joined").await;

    // The publisher sends all three layers, the top one at 1280x720.
    let sent = host
        .wait_for(
            "three simulcast layers, h at 1280x720",
            "return window.lyceum.outbound();",
            vec![],
            |v| {
                let layers = v.as_array().cloned().unwrap_or_default();
                let size = |rid: &str| {
                    layers.iter().find(|l| l["rid"] == rid).map(|l| {
                        (
                            l["frameWidth"].as_u64().unwrap_or(0),
                            l["frameHeight"].as_u64().unwrap_or(0),
                        )
                    })
                };
                size("h") == Some((1280, 720)) && size("m") == Some((640, 360)) && size("l") == Some((320, 180))
            },
        )
        .await;
    println!("  host sends {sent}");

    // The attendee enlarges the host's tile: the page asks for high.
    pa.wait_decoding(&[("host", mentor.id)]).await;
    let host_id = mentor.id.to_string();
    pa.js(
        "document.querySelector(`.tile[data-user-id=\"${arguments[0]}\"] video.camera`).click(); return true;",
        vec![json!(host_id)],
    )
    .await;
    pa.wait_for(
        "the high quality hint",
        "return window.lyceum.state.quality;",
        vec![],
        |v| v == "high",
    )
    .await;
    let size =
        "return window.lyceum.stats().then(s => s.filter(x => x.userId === arguments[0] && x.source === 'camera')\
                .map(x => [x.frameWidth, x.frameHeight, x.framesDecoded])[0] || null);";
    let t1 = Instant::now();
    let top = pa
        .wait_for("the host's video at 1280x720", size, vec![json!(host_id)], |v| {
            v[0].as_u64().unwrap_or(0) >= 1280 && v[1].as_u64().unwrap_or(0) >= 720
        })
        .await;
    println!("  ada decodes the host at {top} after {:?}", t1.elapsed());

    // Then 10 s sampled every 400 ms: the frame size never changes and
    // frames keep being decoded.
    let start = Instant::now();
    let mut samples = vec![top.clone()];
    while start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(400)).await;
        samples.push(pa.js(size, vec![json!(host_id)]).await);
    }
    let changed: Vec<&Value> = samples.iter().filter(|s| s[0] != top[0] || s[1] != top[1]).collect();
    let sending = host.js("return window.lyceum.outbound();", vec![]).await;
    assert!(
        changed.is_empty(),
        "the frame size changed within 10 s ({} samples): {samples:?}\nthe host sends {sending}\n{}",
        samples.len(),
        pa.page_log().await
    );
    let decoded = |v: &Value| v[2].as_u64().unwrap_or(0);
    let (first, last) = (decoded(&samples[0]), decoded(&samples[samples.len() - 1]));
    assert!(
        last > first + 100,
        "frames kept coming at 1280x720 for 10 s: {first} then {last}; the host sends {sending}"
    );
    println!(
        "  {} samples over {:?} all at {}x{}, {} frames decoded",
        samples.len(),
        start.elapsed(),
        top[0],
        top[1],
        last - first
    );
    driver.close(vec![host, pa]).await;
    println!("  top layer test took {:?}", t0.elapsed());
}

/// An attendee who joins while the host is publishing gets a subscribe
/// connection without a data channel (docs/live.md). When the host leaves,
/// every track on it goes (the m-line heading its BUNDLE group is set
/// inactive, not stopped); when the host comes back, the same connection
/// decodes the host's new tracks.
#[actix_web::test]
async fn an_attendee_keeps_one_connection_while_every_track_goes_and_comes_back() {
    if !browser_available("an_attendee_keeps_one_connection_while_every_track_goes_and_comes_back") {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().await;
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Host").await;
    let ada = app.register("mentee", "Ada").await;
    let session = webinar_with(&app, &mentor, "Come and go", &[&ada]).await;

    let mut driver = Driver::start().await;
    let host = driver.browser("host").await;
    let pa = driver.browser("ada").await;
    let host_url = app_url(&app, &format!("token={}&session={session}", mentor.access));
    host.open(&host_url).await;
    host.wait_state("joined").await;
    host.call("window.lyceum.startSession()", vec![]).await;
    host.wait_for(
        "the host sending video",
        "return window.lyceum.outbound().then(o => o.some(l => l.bytesSent > 0));",
        vec![],
        |v| v == true,
    )
    .await;

    pa.open(&app_url(&app, &format!("token={}&session={session}", ada.access)))
        .await;
    pa.wait_state("joined").await;
    pa.wait_decoding(&[("host", mentor.id)]).await;
    let sdp = "return window.lyceum.state.subPc ? window.lyceum.state.subPc.remoteDescription.sdp : null;";
    let first = pa.js(sdp, vec![]).await;
    let first = first.as_str().unwrap_or_default().to_owned();
    assert!(first.contains("m=video"), "{first}");
    assert!(!first.contains("m=application"), "a data channel was offered: {first}");
    pa.js("window.lyceum.state.subPc.lyceumFirst = true; return true;", vec![])
        .await;

    // The host leaves: ada's page loses the host's tracks, and the offer that
    // took them parks the first m-line instead of stopping it.
    host.call("window.lyceum.leave()", vec![]).await;
    pa.wait_for(
        "the host's tracks gone",
        "return window.lyceum.state.tracks.size;",
        vec![],
        |v| v == 0,
    )
    .await;
    let parked = pa.js(sdp, vec![]).await;
    let parked = parked.as_str().unwrap_or_default().to_owned();
    assert!(parked.contains("a=inactive"), "{parked}");

    // The host comes back and publishes anew: the same connection decodes it.
    host.call("window.lyceum.join(arguments[0])", vec![json!(session)])
        .await;
    host.wait_state("joined").await;
    pa.wait_decoding(&[("host", mentor.id)]).await;
    let same = pa
        .js(
            "return window.lyceum.state.subPc && window.lyceum.state.subPc.lyceumFirst === true;",
            vec![],
        )
        .await;
    assert_eq!(
        same,
        true,
        "ada's subscribe connection was replaced\n{}",
        pa.page_log().await
    );
    let state = pa.js("return window.lyceum.state.subPc.connectionState;", vec![]).await;
    assert_eq!(state, "connected");
    driver.close(vec![host, pa]).await;
}

const TURNSERVER: &str = "turnserver";

/// Whether coturn's `turnserver` is on PATH; false means skip (and it says
/// so), unless `LYCEUM_REQUIRE_BROWSER=1`.
fn turnserver_available(test: &str) -> bool {
    let found =
        std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(TURNSERVER).is_file()));
    if found {
        return true;
    }
    if std::env::var("LYCEUM_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
        panic!("{test}: LYCEUM_REQUIRE_BROWSER=1 but {TURNSERVER} is missing (apt-get install coturn)");
    }
    println!("{test}: skipped, {TURNSERVER} not installed (apt-get install coturn)");
    false
}

/// coturn on 127.0.0.1 from the shipped `deploy/coturn/turnserver.conf`,
/// with this test's secret, free ports, log, pid file and user database.
/// Dropping it kills it (also on panic).
struct Coturn {
    child: Child,
    dir: PathBuf,
    port: u16,
    relay_ports: (u16, u16),
    secret: String,
}

impl Coturn {
    async fn start() -> Coturn {
        let shipped =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/coturn/turnserver.conf"))
                .unwrap();
        for line in [
            "listening-ip=127.0.0.1",
            "relay-ip=127.0.0.1",
            "use-auth-secret",
            "allow-loopback-peers",
            "no-tls",
            "no-dtls",
            "no-cli",
            "fingerprint",
        ] {
            assert!(
                shipped.lines().any(|l| l.trim() == line),
                "deploy/coturn/turnserver.conf has `{line}`"
            );
        }
        let dir = std::env::temp_dir().join(format!("lyceum-coturn-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_tcp_and_udp_port();
        let relay_ports = free_udp_range(20);
        let secret = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
        let ours = [
            "listening-port",
            "min-port",
            "max-port",
            "static-auth-secret",
            "log-file",
            "pidfile",
            "userdb",
        ];
        let mut conf: String = shipped
            .lines()
            .filter(|l| !ours.iter().any(|k| l.trim().starts_with(&format!("{k}="))))
            .map(|l| format!("{l}\n"))
            .collect();
        conf.push_str(&format!(
            "listening-port={port}\nmin-port={}\nmax-port={}\nstatic-auth-secret={secret}\nlog-file={}\npidfile={}\nuserdb={}\n",
            relay_ports.0,
            relay_ports.1,
            dir.join("turn.log").display(),
            dir.join("turnserver.pid").display(),
            dir.join("turndb").display(),
        ));
        let conf_path = dir.join("turnserver.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = {
            use std::os::unix::process::CommandExt;
            Command::new(TURNSERVER)
                .arg("-c")
                .arg(&conf_path)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .expect("starting turnserver")
        };
        let mut turn = Coturn {
            child,
            dir,
            port,
            relay_ports,
            secret,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            if let Ok(Some(status)) = turn.child.try_wait() {
                panic!("turnserver exited ({status}):\n{}", turn.log());
            }
            assert!(Instant::now() < deadline, "turnserver did not listen:\n{}", turn.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        turn
    }

    fn log(&self) -> String {
        // coturn may add a date to the log file's name.
        let mut out = String::new();
        for e in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            if e.file_name().to_string_lossy().starts_with("turn") && e.file_name().to_string_lossy().ends_with(".log")
            {
                out.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
            }
        }
        out
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "relay test failed; coturn's config and log kept in {}",
                self.dir.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A port free on 127.0.0.1 for both TCP and UDP (coturn listens on both).
fn free_tcp_and_udp_port() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// `n` consecutive UDP ports free on 127.0.0.1, below the ephemeral range
/// (so that ports the OS hands out meanwhile do not land in it).
fn free_udp_range(n: u16) -> (u16, u16) {
    for _ in 0..200 {
        let base = 20_000 + (rand::random::<u16>() % 10_000);
        let held: Vec<_> = (base..base + n)
            .map_while(|p| std::net::UdpSocket::bind(("127.0.0.1", p)).ok())
            .collect();
        if held.len() == usize::from(n) {
            return (base, base + n - 1);
        }
    }
    panic!("no {n} consecutive free UDP ports");
}

/// The selected candidate pair of one of the page's peer connections
/// (`pubPc`, `subPc`): its local and remote candidates.
const SELECTED_PAIR: &str = "(async () => {
  const pc = window.lyceum.state[arguments[0]];
  if (!pc || pc.connectionState !== 'connected') return null;
  const stats = await pc.getStats();
  let pair = null;
  stats.forEach((r) => { if (r.type === 'transport' && r.selectedCandidatePairId) pair = stats.get(r.selectedCandidatePairId); });
  if (!pair) return null;
  const c = (id) => { const x = stats.get(id); return x ? { type: x.candidateType, protocol: x.protocol, relayProtocol: x.relayProtocol ?? null, address: x.address ?? x.ip ?? null, port: x.port } : null; };
  return { state: pair.state, local: c(pair.localCandidateId), remote: c(pair.remoteCandidateId), bytesReceived: pair.bytesReceived };
})()";

#[actix_web::test]
async fn a_relay_only_browser_decodes_video_through_coturn() {
    let test = "a_relay_only_browser_decodes_video_through_coturn";
    if !browser_available(test) || !turnserver_available(test) {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().await;
    let t0 = Instant::now();
    let turn = Coturn::start().await;
    // TURN over TCP: the browsers send no UDP at all (a network that
    // blocks it); coturn relays to the SFU over UDP on loopback.
    let url = format!("turn:127.0.0.1:{}?transport=tcp", turn.port);
    let app = spawn_app_with(|s| {
        s.turn.urls = vec![url.clone()];
        s.turn.secret = Some(secrecy::SecretString::from(turn.secret.clone()));
    })
    .await;
    let mentor = app.register("mentor", "Relay host").await;
    let mentee = app.register("mentee", "Relay viewer").await;
    let session = webinar_with(&app, &mentor, "Through the relay", &[&mentee]).await;

    let mut driver = Driver::start().await;
    let host = driver.browser("relay-host").await;
    let viewer = driver.browser("relay-viewer").await;
    let relay_url = |who: &Session| format!("{}/app/?relay=1#token={}&session={session}", app.address, who.access);
    host.open(&relay_url(&mentor)).await;
    host.wait_state("joined").await;
    host.js("document.querySelector('#start').click(); return true;", vec![])
        .await;
    host.wait_for(
        "the session to be live",
        "return window.lyceum.state.roomState;",
        vec![],
        |v| v == "live",
    )
    .await;
    viewer.open(&relay_url(&mentee)).await;
    viewer.wait_state("joined").await;
    assert_eq!(viewer.js("return window.lyceum.state.role;", vec![]).await, "attendee");
    for page in [&host, &viewer] {
        assert_eq!(
            page.js(
                "const c = window.lyceum.state[arguments[0]].getConfiguration(); return [c.iceTransportPolicy, c.iceServers.flatMap(s => s.urls)];",
                vec![json!(if page.name == "relay-host" { "pubPc" } else { "subPc" })]
            )
            .await,
            json!(["relay", [url]]),
            "{}: relay-only with the server's TURN URL",
            page.name
        );
    }

    // The viewer decodes the host's camera, at a real size.
    viewer.wait_decoding(&[("host", mentor.id)]).await;
    let stats = viewer.js("return window.lyceum.stats();", vec![]).await;
    let width = stats
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["userId"] == json!(mentor.id))
        .filter_map(|s| s["frameWidth"].as_u64())
        .max()
        .unwrap_or(0);
    assert!(width > 0, "frameWidth > 0: {stats}");

    // Both ends go through coturn: the selected pair's local candidate is a
    // relay candidate from its port range, reached over TCP.
    for (page, pc) in [(&viewer, "subPc"), (&host, "pubPc")] {
        let pair = page
            .wait_for(
                &format!("{pc}'s selected pair"),
                &format!("return {SELECTED_PAIR};"),
                vec![json!(pc)],
                |v| !v.is_null(),
            )
            .await;
        println!("  {} {pc}: {pair}", page.name);
        assert_eq!(pair["local"]["type"], "relay", "{}: {pair}", page.name);
        assert_eq!(pair["local"]["relayProtocol"], "tcp", "{}: {pair}", page.name);
        let port = pair["local"]["port"].as_u64().unwrap_or(0);
        assert!(
            (u64::from(turn.relay_ports.0)..=u64::from(turn.relay_ports.1)).contains(&port),
            "{}: the relay port {port} is from coturn's range {:?}: {pair}",
            page.name,
            turn.relay_ports
        );
    }
    println!("  relayed video decoded after {:?}", t0.elapsed());
    driver.close(vec![host, viewer]).await;
    drop(turn);
}
