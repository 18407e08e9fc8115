//! End-to-end encrypted direct messages in real browsers (issue 15): two
//! people, each in their own headless Chromium (their own IndexedDB, so
//! their own device), with web/assets/e2ee.js and WebCrypto only; the
//! server relays and stores what they send, and the test reads Postgres to
//! check that it holds ciphertext that does not contain the text.

use serde_json::{json, Value};

use crate::browser::{browser_available, Driver, Page, ONE_AT_A_TIME, WAIT};
use crate::browser_chat::{open_from_mentor_page, sam_and_grace, SamAndGrace};
use crate::helpers::*;

/// Loads the module into the page and makes `window.e2` for `token`'s user.
const SETUP: &str = "const [token, userId] = arguments; \
    const api = async (method, path, body) => { \
      const r = await fetch(path, {method, headers: {'content-type': 'application/json', authorization: 'Bearer ' + token}, \
        body: body === undefined ? undefined : JSON.stringify(body)}); \
      const t = await r.text(); const d = t ? JSON.parse(t) : null; \
      if (!r.ok) throw Object.assign(new Error(d && d.message), {code: d && d.error}); return d; }; \
    window.api = api; \
    return import('/assets/e2ee.js').then(async (m) => { window.e2m = m; window.e2 = new m.E2ee({api, userId}); \
      const d = await window.e2.ensureDevice(); return [d.deviceId, d.fingerprint]; });";

/// Encrypts `arguments[2]` in room `arguments[0]` for user `arguments[1]`
/// and sends it over HTTP: the seq.
const SEND: &str = "const [room, peer, text] = arguments; \
    return window.e2.encrypt(room, [peer], text).then(ct => \
      window.api('POST', '/api/rooms/' + room + '/messages', {ciphertext: ct, clientMsgId: crypto.randomUUID()})).then(r => r.seq);";

/// Reads the room's history and decrypts every message: [[seq, text or error code]].
const READ: &str = "const [room] = arguments; \
    return window.api('GET', '/api/rooms/' + room + '/messages').then(h => Promise.all(h.items.map(m => \
      window.e2.decrypt(room, m.senderId, m.ciphertext).then(t => [m.seq, t], e => [m.seq, 'error:' + e.code]))));";

async fn setup(page: &Page, app: &TestApp, who: &Session) -> (String, String) {
    page.open(&app.url("/")).await;
    let v = page.call(&fn_body(SETUP), vec![json!(who.access), json!(who.id)]).await;
    (v[0].as_str().unwrap().to_owned(), v[1].as_str().unwrap().to_owned())
}

#[actix_web::test]
async fn the_e2ee_module_exchanges_direct_messages_between_two_browsers() {
    let test = "the_e2ee_module_exchanges_direct_messages_between_two_browsers";
    if !browser_available(test) {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().await;
    let app = spawn_app().await;
    let sam = app.register("mentor", "Sam Mentor").await;
    let ada = app.register("mentee", "Ada Mentee").await;
    let room = app.open_e2ee_dm(&sam, &ada).await;

    let mut driver = Driver::start().await;
    let ps = driver.browser("sam").await;
    let pa = driver.browser("ada").await;
    let (sam_dev, sam_fp) = setup(&ps, &app, &sam).await;
    let (ada_dev, ada_fp) = setup(&pa, &app, &ada).await;
    assert_ne!(sam_dev, ada_dev);

    // The private key is stored non-extractable, the public one published.
    let extractable = ps
        .call("window.e2.ensureDevice().then(d => d.privateKey.extractable)", vec![])
        .await;
    assert_eq!(extractable, false);
    let listed: Value = app
        .get_auth(&format!("/api/users/{}/devices", ada.id), &sam.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["devices"][0]["deviceId"], ada_dev.as_str());
    assert_eq!(
        listed["devices"][0]["fingerprint"],
        ada_fp.as_str(),
        "the page's fingerprint is the server's"
    );
    // Each side computes the other's fingerprint from the key itself.
    let seen_by_sam = ps
        .call(
            "window.e2.devicesOf(arguments[0]).then(ds => ds.map(d => d.fingerprint))",
            vec![json!(ada.id)],
        )
        .await;
    assert_eq!(seen_by_sam, json!([ada_fp]));

    // Sam writes, Ada reads; Ada answers, Sam reads; each reads their own.
    let hello = "Meet at the library at 5? The code is 4711.";
    let answer = "Yes, see you there — bring the slides.";
    let args = |from_peer: &Session, text: &str| vec![json!(room), json!(from_peer.id), json!(text)];
    let s1 = ps.call(&fn_body(SEND), args(&ada, hello)).await;
    let s2 = pa.call(&fn_body(SEND), args(&sam, answer)).await;
    assert_eq!((s1.as_i64(), s2.as_i64()), (Some(1), Some(2)));
    for p in [&ps, &pa] {
        let read = p.call(&fn_body(READ), vec![json!(room)]).await;
        assert_eq!(read, json!([[1, hello], [2, answer]]), "{} decrypts both", p.name);
    }

    // What the server stored: ciphertext only, without the text.
    let rows = app
        .db
        .query(
            "SELECT body, ciphertext FROM messages WHERE room_id = $1::text::uuid ORDER BY seq",
            &[&room],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    for (r, text) in rows.iter().zip([hello, answer]) {
        assert_eq!(r.get::<_, Option<String>>(0), None);
        let ct = r.get::<_, Option<String>>(1).unwrap();
        assert!(!ct.contains(text) && !ct.contains("4711") && !ct.contains("library") && !ct.contains("slides"));
        let env: Value = serde_json::from_str(&ct).unwrap();
        assert_eq!(env["v"], 1);
        let keys = env["keys"].as_object().unwrap();
        assert!(keys.contains_key(&sam_dev) && keys.contains_key(&ada_dev), "{ct}");
    }
    assert_ne!(sam_fp, ada_fp);

    // Tampering is detected: the same envelope claimed in another room.
    let moved = pa
        .call(
            "window.api('GET', '/api/rooms/' + arguments[0] + '/messages').then(h => \
             window.e2.decrypt(crypto.randomUUID(), h.items[0].senderId, h.items[0].ciphertext).then(() => 'read', e => e.code))",
            vec![json!(room)],
        )
        .await;
    assert_eq!(moved, "undecryptable");
    driver.close(vec![ps, pa]).await;
}

/// A script's body as an expression taking `arguments`.
fn fn_body(script: &str) -> String {
    format!("(function(){{ {script} }}).apply(null, arguments)")
}

/// The message texts of a conversation page, oldest first: [[seq, text]].
const MESSAGES: &str = "return [...document.querySelectorAll('#messages li.msg:not(.pending)')].map(li => [Number(li.dataset.seq), (li.querySelector('.body') || {}).textContent || '']);";

async fn say(page: &Page, text: &str) {
    page.type_into("#text", text).await;
    page.enter("#text").await;
    page.wait_for(
        &format!("{text:?} stored"),
        "return [...document.querySelectorAll('#messages li.msg:not(.pending) .body')].some(b => b.textContent === arguments[0]) && !document.querySelector('#messages li.pending');",
        vec![json!(text)],
        |v| v == true,
    )
    .await;
}

/// The page's own fingerprint, once shown.
async fn my_fingerprint(page: &Page) -> String {
    let v = page
        .wait_for(
            "this device's fingerprint",
            "const c = document.querySelector('#my-fingerprint code'); return c ? c.textContent : null;",
            vec![],
            |v| v.as_str().is_some_and(|s| s.len() == 35),
        )
        .await;
    v.as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn two_people_exchange_an_encrypted_direct_message_in_the_chat_page() {
    let test = "two_people_exchange_an_encrypted_direct_message_in_the_chat_page";
    if !browser_available(test) {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().await;
    let app = spawn_app().await;
    let SamAndGrace {
        mentor,
        mentee: _,
        driver,
        sam,
        grace,
    } = sam_and_grace(&app, ["sam", "grace"]).await;

    // Sam starts the encrypted conversation from Grace's page.
    let room = open_from_mentor_page(&sam, &app, &mentor, "#e2ee-mentor", "Encrypted message to Grace Hopper").await;
    let e2ee: bool = app
        .db
        .query_one("SELECT e2ee FROM rooms WHERE id = $1::text::uuid", &[&room])
        .await
        .unwrap()
        .get(0);
    assert!(e2ee, "the conversation is the encrypted one");
    let sam_fp = my_fingerprint(&sam).await;
    sam.wait_for(
        "Grace has no device yet",
        "return document.querySelector('#peer-fingerprints').textContent;",
        vec![],
        |v| {
            v.as_str()
                .is_some_and(|s| s.contains("Grace Hopper has no device with a key yet"))
        },
    )
    .await;

    // Grace opens it: her browser makes its device; Sam's page announces it
    // with the fingerprint Grace's page shows for itself.
    grace.open(&app.url(&format!("/chat/{room}"))).await;
    let grace_fp = my_fingerprint(&grace).await;
    assert_ne!(sam_fp, grace_fp);
    let said = sam
        .wait_for(
            "the new device announced",
            "return document.querySelector('#e2ee-status').textContent;",
            vec![],
            |v| {
                v.as_str()
                    .is_some_and(|s| s.starts_with("Grace Hopper added a new device"))
            },
        )
        .await;
    assert!(said.as_str().unwrap().contains(&grace_fp), "{said}");
    assert_eq!(
        sam.js(
            "return document.querySelector('#e2ee-status').getAttribute('role');",
            vec![]
        )
        .await,
        "status"
    );
    // Each sees the other's fingerprint, computed from the key.
    sam.wait_for(
        "Grace's fingerprint at Sam",
        "return document.querySelector('#peer-fingerprints').textContent;",
        vec![],
        |v| v.as_str().is_some_and(|s| s.contains(&grace_fp)),
    )
    .await;
    grace
        .wait_for(
            "Sam's fingerprint at Grace",
            "return document.querySelector('#peer-fingerprints').textContent;",
            vec![],
            |v| {
                v.as_str()
                    .is_some_and(|s| s.contains(&sam_fp) && s.contains("Sam Student"))
            },
        )
        .await;

    // Both directions, each read in the other's page.
    let question = "Could we meet at 5? The door code is 4711.";
    let answer = "Yes — see you at the library.";
    say(&sam, question).await;
    grace
        .wait_for("Sam's message decrypted at Grace", MESSAGES, vec![], |v| {
            v == &json!([[1, question]])
        })
        .await;
    say(&grace, answer).await;
    sam.wait_for("Grace's answer decrypted at Sam", MESSAGES, vec![], |v| {
        v == &json!([[1, question], [2, answer]])
    })
    .await;

    // Stored: ciphertext only, without the text.
    let rows = app
        .db
        .query(
            "SELECT body, ciphertext FROM messages WHERE room_id = $1::text::uuid ORDER BY seq",
            &[&room],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    for (r, text) in rows.iter().zip([question, answer]) {
        assert_eq!(r.get::<_, Option<String>>(0), None, "no plaintext body");
        let ct = r.get::<_, Option<String>>(1).expect("a ciphertext");
        for needle in [text, "4711", "library", "meet"] {
            assert!(!ct.contains(needle), "the stored form contains {needle:?}: {ct}");
        }
        assert_eq!(serde_json::from_str::<Value>(&ct).unwrap()["v"], 1);
    }

    // axe-core on the encrypted conversation (keys, messages, the
    // announcement), and on a phone it does not scroll sideways.
    if let Some(axe) = crate::browser_pages::axe_source(test) {
        let found = sam.axe(&axe, "an encrypted conversation with its keys").await;
        assert!(
            found.is_empty(),
            "serious or critical violations:\n{}",
            found.join("\n")
        );
    }
    tokio::time::timeout(WAIT, sam.client.set_window_size(390, 844))
        .await
        .expect("resizing in time")
        .expect("resizing the window");
    sam.wait_for("the phone's width", "return innerWidth;", vec![], |v| v == 390)
        .await;
    let wide = sam
        .js(
            "return document.documentElement.scrollWidth > innerWidth ? document.documentElement.scrollWidth : null;",
            vec![],
        )
        .await;
    assert!(
        wide.is_null(),
        "the encrypted conversation scrolls sideways on a phone: {wide}"
    );

    // A reload renders the history on the server as placeholders; the page
    // decrypts them.
    grace.open(&app.url(&format!("/chat/{room}"))).await;
    grace
        .wait_for("the history decrypted after a reload", MESSAGES, vec![], |v| {
            v == &json!([[1, question], [2, answer]])
        })
        .await;
    assert_eq!(my_fingerprint(&grace).await, grace_fp, "the same device after a reload");
    driver.close(vec![sam, grace]).await;
}
