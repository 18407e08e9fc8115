//! Property tests of the HTTP edge (issue 12, "Input"): every request body
//! and query type gets generated input — control characters, NUL, very long
//! strings, huge, negative and fractional numbers, extreme and malformed
//! dates, wrong JSON types, unknown and missing fields, garbage in path
//! segments — and the server must answer every request, never with a 500.
//! proptest shrinks a failure to a minimal request, printed in the failure.
//!
//! The server runs on its own thread and actix system, so proptest's
//! synchronous runner can block on each request without stalling it.

use std::sync::mpsc;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Map, Value};

use crate::helpers::spawn_app_with;

/// What a field holds when the client means well; the generator also sends
/// every field as anything else.
#[derive(Clone, Copy, Debug)]
enum K {
    Str,
    Int,
    Num,
    Bool,
    Instant,
    Date,
    HhMm,
    Zone,
    Id,
    Strs,
    Ids,
    Agenda,
    Skills,
    Entries,
}

#[derive(Clone, Copy)]
enum Who {
    Anon,
    Mentee,
    Mentor,
    Admin,
}

#[derive(Clone, Copy)]
enum In {
    Body,
    Query,
    Nothing,
}

struct Route {
    method: &'static str,
    /// `{id}` segments are filled with a fixture id, a random UUID or garbage.
    path: &'static str,
    who: Who,
    input: In,
    fields: &'static [(&'static str, K)],
}

const ROUTES: &[Route] = &[
    Route {
        method: "POST",
        path: "/api/auth/register",
        who: Who::Anon,
        input: In::Body,
        fields: &[
            ("email", K::Str),
            ("password", K::Str),
            ("displayName", K::Str),
            ("role", K::Str),
        ],
    },
    Route {
        method: "POST",
        path: "/api/auth/login",
        who: Who::Anon,
        input: In::Body,
        fields: &[("email", K::Str), ("password", K::Str)],
    },
    Route {
        method: "POST",
        path: "/api/auth/refresh",
        who: Who::Anon,
        input: In::Body,
        fields: &[("refreshToken", K::Str)],
    },
    Route {
        method: "PATCH",
        path: "/api/me/profile",
        who: Who::Mentor,
        input: In::Body,
        fields: &[
            ("displayName", K::Str),
            ("headline", K::Str),
            ("bio", K::Str),
            ("skills", K::Skills),
            ("tags", K::Strs),
            ("yearsOfExperience", K::Int),
            ("experience", K::Entries),
            ("achievements", K::Entries),
            ("certifications", K::Entries),
            ("projects", K::Entries),
            ("avatarUrl", K::Str),
            ("linkedinUrl", K::Str),
            ("githubUrl", K::Str),
            ("timeZone", K::Zone),
            ("isAlumni", K::Bool),
            ("graduationYear", K::Int),
            ("employer", K::Str),
            ("acceptsMessages", K::Bool),
            ("phone", K::Str),
        ],
    },
    Route {
        method: "GET",
        path: "/api/mentors",
        who: Who::Mentee,
        input: In::Query,
        fields: &[
            ("q", K::Str),
            ("skill", K::Str),
            ("tag", K::Str),
            ("minYears", K::Int),
            ("minRating", K::Num),
            ("available", K::Bool),
            ("availableFrom", K::Instant),
            ("availableTo", K::Instant),
            ("sort", K::Str),
            ("cursor", K::Str),
            ("limit", K::Int),
        ],
    },
    Route {
        method: "GET",
        path: "/api/admin/audit",
        who: Who::Admin,
        input: In::Query,
        fields: &[
            ("action", K::Str),
            ("subjectId", K::Id),
            ("before", K::Int),
            ("limit", K::Int),
        ],
    },
    Route {
        method: "PUT",
        path: "/api/admin/users/{throwaway}/role",
        who: Who::Admin,
        input: In::Body,
        fields: &[("role", K::Str)],
    },
    Route {
        method: "PUT",
        path: "/api/me/public-key",
        who: Who::Mentee,
        input: In::Body,
        fields: &[("publicKey", K::Str)],
    },
    Route {
        method: "GET",
        path: "/api/users/{user}",
        who: Who::Mentee,
        input: In::Nothing,
        fields: &[],
    },
    Route {
        method: "POST",
        path: "/api/rooms",
        who: Who::Mentor,
        input: In::Body,
        fields: &[
            ("name", K::Str),
            ("visibility", K::Str),
            ("allowGuests", K::Bool),
            ("e2ee", K::Bool),
        ],
    },
    Route {
        method: "POST",
        path: "/api/rooms/direct",
        who: Who::Mentee,
        input: In::Body,
        fields: &[("userId", K::Id), ("e2ee", K::Bool)],
    },
    Route {
        method: "POST",
        path: "/api/rooms/{room}/members",
        who: Who::Mentor,
        input: In::Body,
        fields: &[("userId", K::Id)],
    },
    Route {
        method: "PUT",
        path: "/api/rooms/{room}/members/{user}/mute",
        who: Who::Mentor,
        input: In::Body,
        fields: &[("minutes", K::Int)],
    },
    Route {
        method: "PUT",
        path: "/api/rooms/{room}/members/{user}/role",
        who: Who::Mentor,
        input: In::Body,
        fields: &[("roomRole", K::Str)],
    },
    Route {
        method: "GET",
        path: "/api/rooms/{room}/messages",
        who: Who::Mentee,
        input: In::Query,
        fields: &[("before", K::Int), ("after", K::Int), ("limit", K::Int)],
    },
    Route {
        method: "POST",
        path: "/api/rooms/{room}/messages",
        who: Who::Mentee,
        input: In::Body,
        fields: &[
            ("clientMsgId", K::Str),
            ("body", K::Str),
            ("ciphertext", K::Str),
            ("attachments", K::Ids),
        ],
    },
    Route {
        method: "DELETE",
        path: "/api/rooms/{room}/messages/{seq}",
        who: Who::Mentee,
        input: In::Nothing,
        fields: &[],
    },
    Route {
        method: "POST",
        path: "/api/slots",
        who: Who::Mentor,
        input: In::Body,
        fields: &[
            ("startsAt", K::Instant),
            ("endsAt", K::Instant),
            ("date", K::Date),
            ("startTime", K::HhMm),
            ("endTime", K::HhMm),
            ("timeZone", K::Zone),
            ("maxParticipants", K::Int),
            ("description", K::Str),
            ("title", K::Str),
        ],
    },
    Route {
        method: "POST",
        path: "/api/slots/recurring",
        who: Who::Mentor,
        input: In::Body,
        fields: &[
            ("weekday", K::Int),
            ("startTime", K::HhMm),
            ("endTime", K::HhMm),
            ("timeZone", K::Zone),
            ("startDate", K::Date),
            ("weeks", K::Int),
            ("maxParticipants", K::Int),
            ("description", K::Str),
            ("title", K::Str),
        ],
    },
    Route {
        method: "POST",
        path: "/api/slots/book",
        who: Who::Mentee,
        input: In::Body,
        fields: &[("slotId", K::Id), ("agenda", K::Agenda)],
    },
    Route {
        method: "POST",
        path: "/api/slots/cancel",
        who: Who::Mentee,
        input: In::Body,
        fields: &[("slotId", K::Id)],
    },
    Route {
        method: "GET",
        path: "/api/slots/alumni/{user}",
        who: Who::Anon,
        input: In::Nothing,
        fields: &[],
    },
    Route {
        method: "POST",
        path: "/api/sessions",
        who: Who::Mentor,
        input: In::Body,
        fields: &[
            ("title", K::Str),
            ("description", K::Str),
            ("category", K::Str),
            ("tags", K::Strs),
            ("startsAt", K::Instant),
            ("durationMinutes", K::Int),
            ("capacity", K::Int),
            ("priceCredits", K::Int),
        ],
    },
    Route {
        method: "GET",
        path: "/api/sessions",
        who: Who::Mentee,
        input: In::Query,
        fields: &[
            ("q", K::Str),
            ("category", K::Str),
            ("tag", K::Str),
            ("from", K::Instant),
            ("to", K::Instant),
            ("minRating", K::Num),
            ("mentorId", K::Id),
            ("limit", K::Int),
            ("after", K::Instant),
            ("afterId", K::Id),
        ],
    },
    Route {
        method: "POST",
        path: "/api/sessions/{session}/register",
        who: Who::Mentee,
        input: In::Body,
        fields: &[("agenda", K::Agenda)],
    },
    Route {
        method: "POST",
        path: "/api/sessions/{session}/{action}",
        who: Who::Mentor,
        input: In::Nothing,
        fields: &[],
    },
    Route {
        method: "PUT",
        path: "/api/offerings/{slot}/notes",
        who: Who::Mentor,
        input: In::Body,
        fields: &[("body", K::Str)],
    },
    Route {
        method: "GET",
        path: "/api/bookings/{file}",
        who: Who::Mentee,
        input: In::Nothing,
        fields: &[],
    },
    Route {
        method: "GET",
        path: "/calendar/{file}",
        who: Who::Anon,
        input: In::Nothing,
        fields: &[],
    },
    Route {
        method: "POST",
        path: "/api/rooms/{room}/guests",
        who: Who::Anon,
        input: In::Nothing,
        fields: &[],
    },
];

struct Fixture {
    base: String,
    mentee: String,
    mentor: String,
    admin: String,
    /// Ids a path or an id field may name: a room, a slot, a session, users.
    ids: Vec<String>,
    room: String,
    slot: String,
    session: String,
    mentee_id: String,
    throwaway: String,
}

fn start_server() -> Fixture {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let app = spawn_app_with(|s| {
                s.chat.messages_per_second = 100_000;
                s.chat.message_burst = 100_000;
            })
            .await;
            let admin = app.admin().await;
            let mentor = app.register("mentor", "Prop Mentor").await;
            let mentee = app.register("mentee", "Prop Mentee").await;
            let throwaway = app.register("mentee", "Throwaway").await;
            let http = &app.http;
            let room: Value = http
                .post(app.url("/api/rooms"))
                .bearer_auth(&mentor.access)
                .json(&json!({"name": "Props", "visibility": "public", "allowGuests": true}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let room = room["id"].as_str().unwrap().to_owned();
            let _ = http
                .post(app.url(&format!("/api/rooms/{room}/join")))
                .bearer_auth(&mentee.access)
                .send()
                .await
                .unwrap();
            let starts = chrono::Utc::now() + chrono::Duration::days(2);
            let slot: Value = http
                .post(app.url("/api/slots"))
                .bearer_auth(&mentor.access)
                .json(&json!({"startsAt": starts, "endsAt": starts + chrono::Duration::hours(1), "maxParticipants": 3}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let session: Value = http
                .post(app.url("/api/sessions"))
                .bearer_auth(&mentor.access)
                .json(
                    &json!({"title": "Props", "startsAt": starts + chrono::Duration::hours(3),
                              "durationMinutes": 60, "capacity": 50}),
                )
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let slot = slot["id"].as_str().expect("slot created").to_owned();
            let session = session["id"].as_str().expect("session created").to_owned();
            tx.send(Fixture {
                base: app.address.clone(),
                ids: vec![
                    room.clone(),
                    slot.clone(),
                    session.clone(),
                    mentor.id.to_string(),
                    mentee.id.to_string(),
                    admin.id.to_string(),
                ],
                mentee: mentee.access,
                mentor: mentor.access,
                admin: admin.access,
                room,
                slot,
                session,
                mentee_id: mentee.id.to_string(),
                throwaway: throwaway.id.to_string(),
            })
            .unwrap();
            // Serve until the test process ends.
            std::future::pending::<()>().await;
        });
    });
    rx.recv_timeout(Duration::from_secs(120)).expect("the server starts")
}

/// Text a client might send, well meant or not.
fn nasty_string() -> BoxedStrategy<String> {
    prop_oneof![
        3 => Just(String::new()),
        3 => "[ -~]{1,40}",
        3 => "\\PC{0,60}",
        3 => any::<String>(),
        2 => proptest::collection::vec(prop_oneof![Just('\0'), Just('\u{7}'), Just('\u{1b}'), Just('\u{202e}'),
                 Just('\u{feff}'), Just('\u{ffff}'), Just('\n'), Just('\r'), Just('\t'), Just('%'), Just('\\'),
                 any::<char>()], 0..30)
            .prop_map(|cs| cs.into_iter().collect()),
        1 => (1usize..70_000).prop_map(|n| "x".repeat(n)),
        1 => (1usize..3_000).prop_map(|n| "é🎓".repeat(n)),
        2 => prop::sample::select(vec!["mentee", "mentor", "admin", "guest", "public", "private", "moderator",
                 "member", "owner", "rating", "experience", "relevance", "start", "cancel", "end",
                 "ada@example.org", "correct horse battery staple", "https://example.org/a.png",
                 "+49 30 1234567", "2026-12-24T18:00:00Z", "18:00", "Europe/Berlin"])
            .prop_map(str::to_owned),
    ]
    .boxed()
}

fn nasty_number() -> BoxedStrategy<Value> {
    prop_oneof![
        3 => (-3i64..100).prop_map(|n| json!(n)),
        2 => any::<i64>().prop_map(|n| json!(n)),
        1 => any::<u64>().prop_map(|n| json!(n)),
        1 => prop::sample::select(vec![i64::MAX, i64::MIN, i64::from(i32::MAX), i64::from(i32::MIN),
                 i64::from(i32::MAX) + 1, 0, -1, 525_601, 9_007_199_254_740_993]).prop_map(|n| json!(n)),
        1 => prop::sample::select(vec![1e14, -1e14, 1e300, -1e300, 0.5, -0.0, 4.9e-324, 1.7976931348623157e308])
            .prop_map(|f| json!(f)),
        1 => any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
    ]
    .boxed()
}

fn nasty_instant() -> BoxedStrategy<String> {
    prop_oneof![
        3 => (-400_000i64..400_000_000).prop_map(|m| (chrono::Utc::now() + chrono::Duration::minutes(m)).to_rfc3339()),
        2 => prop::sample::select(vec!["+262142-12-31T23:59:59Z", "-262143-01-01T00:00:00Z", "0000-01-01T00:00:00Z",
                 "9999-12-31T23:59:59.999999999Z", "1970-01-01T00:00:00Z", "2026-02-30T10:00:00Z",
                 "2026-12-24T24:00:00Z", "2026-12-24T18:00:00+25:00", "2026-12-24", "now", ""])
            .prop_map(str::to_owned),
        1 => nasty_string(),
    ]
    .boxed()
}

fn nasty_date() -> BoxedStrategy<String> {
    prop_oneof![
        3 => (-1000i64..2000).prop_map(|d| (chrono::Utc::now() + chrono::Duration::days(d)).date_naive().to_string()),
        2 => prop::sample::select(vec!["+262142-12-20", "+262143-12-31", "-262143-01-01", "0000-01-01",
                 "2026-02-29", "2028-02-29", "2026-13-01", "2026-1-1", ""])
            .prop_map(str::to_owned),
        1 => nasty_string(),
    ]
    .boxed()
}

fn id(fx_ids: Vec<String>) -> BoxedStrategy<String> {
    prop_oneof![
        3 => prop::sample::select(fx_ids),
        2 => any::<u128>().prop_map(|n| uuid::Uuid::from_u128(n).to_string()),
        1 => Just(uuid::Uuid::nil().to_string()),
        1 => nasty_string(),
    ]
    .boxed()
}

/// A value for a field of kind `k`: mostly of the right JSON type, with
/// nasty content, sometimes of any other type.
fn value(k: K, ids: &[String]) -> BoxedStrategy<Value> {
    let wrong = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        nasty_number(),
        nasty_string().prop_map(Value::String),
        Just(json!([])),
        Just(json!({})),
        Just(json!([[["deep"]]])),
    ];
    let strs = proptest::collection::vec(nasty_string().prop_map(Value::String), 0..25).prop_map(Value::Array);
    let right: BoxedStrategy<Value> = match k {
        K::Str => nasty_string().prop_map(Value::String).boxed(),
        K::Int | K::Num => nasty_number(),
        K::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        K::Instant => nasty_instant().prop_map(Value::String).boxed(),
        K::Date => nasty_date().prop_map(Value::String).boxed(),
        K::HhMm => prop_oneof![
            (0u32..30, 0u32..70).prop_map(|(h, m)| format!("{h:02}:{m:02}")),
            nasty_string()
        ]
        .prop_map(Value::String)
        .boxed(),
        K::Zone => prop_oneof![
            prop::sample::select(vec![
                "UTC",
                "Europe/Berlin",
                "Asia/Kolkata",
                "America/St_Johns",
                "Etc/GMT+14",
                "Nowhere/Atlantis",
                "utc",
                "../../etc/passwd"
            ])
            .prop_map(str::to_owned),
            nasty_string()
        ]
        .prop_map(Value::String)
        .boxed(),
        K::Id => id(ids.to_vec()).prop_map(Value::String).boxed(),
        K::Strs => strs.boxed(),
        K::Ids => proptest::collection::vec(id(ids.to_vec()).prop_map(Value::String), 0..12)
            .prop_map(Value::Array)
            .boxed(),
        K::Agenda => (nasty_string(), proptest::collection::vec(nasty_string(), 0..25))
            .prop_map(|(g, q)| json!({"goals": g, "questions": q}))
            .boxed(),
        K::Skills => proptest::collection::vec(
            (nasty_string(), nasty_number()).prop_map(|(n, l)| json!({"name": n, "level": l})),
            0..25,
        )
        .prop_map(Value::Array)
        .boxed(),
        K::Entries => proptest::collection::vec(
            (nasty_string(), nasty_string(), nasty_number(), nasty_date()).prop_map(|(a, b, n, d)| {
                json!({"title": a, "name": a, "company": b, "issuer": b, "description": b, "url": b,
                       "startYear": n, "endYear": n, "year": n, "date": d})
            }),
            0..12,
        )
        .prop_map(Value::Array)
        .boxed(),
    };
    prop_oneof![6 => right, 1 => wrong].boxed()
}

/// A request: its fields (each present or not) and an unknown extra field.
fn input(fields: &'static [(&'static str, K)], ids: &[String]) -> BoxedStrategy<Map<String, Value>> {
    let per_field: Vec<BoxedStrategy<Option<(String, Value)>>> = fields
        .iter()
        .map(|&(name, k)| {
            proptest::option::weighted(0.8, value(k, ids).prop_map(move |v| (name.to_owned(), v))).boxed()
        })
        .collect();
    (per_field, proptest::option::weighted(0.1, nasty_string()))
        .prop_map(|(fs, extra)| {
            let mut m: Map<String, Value> = fs.into_iter().flatten().collect();
            if let Some(k) = extra {
                m.insert(k, json!(1));
            }
            m
        })
        .boxed()
}

fn fill_path(path: &str, fx: &Fixture, picks: &[String]) -> String {
    let mut out = String::new();
    let mut picks = picks.iter();
    for seg in path.split('/').skip(1) {
        out.push('/');
        let pick = picks.next().cloned().unwrap_or_default();
        let fixture = match seg {
            "{room}" => Some(fx.room.clone()),
            "{slot}" => Some(fx.slot.clone()),
            "{session}" => Some(fx.session.clone()),
            "{user}" => Some(fx.mentee_id.clone()),
            "{throwaway}" => Some(fx.throwaway.clone()),
            "{seq}" | "{action}" | "{file}" => None,
            _ => {
                out.push_str(seg);
                continue;
            }
        };
        // Half the time the fixture's own id, else what the generator picked.
        let raw = match fixture {
            Some(f) if pick.len() % 2 == 0 => f,
            _ => pick,
        };
        let raw: String = raw.chars().take(300).collect();
        out.push_str(&percent(&raw));
    }
    out
}

/// Percent-encodes everything but unreserved characters (so a `/` or `?`
/// in generated text stays inside its segment).
fn percent(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    if o.is_empty() {
        o.push_str("%20");
    }
    o
}

/// The fields as a query string; values are cut to 300 characters so
/// the address stays one an HTTP client will send (the body routes get the
/// long strings).
fn query_text(m: &Map<String, Value>) -> String {
    m.iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.chars().take(300).collect(),
                other => other.to_string(),
            };
            let k: String = k.chars().take(300).collect();
            format!("{}={}", percent(&k), percent(&v))
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Long generated text cut for the failure report.
fn cut(s: &str) -> String {
    if s.chars().count() <= 300 {
        s.to_owned()
    } else {
        format!(
            "{}…({} chars)",
            s.chars().take(300).collect::<String>(),
            s.chars().count()
        )
    }
}

#[test]
fn no_request_gets_a_500_or_no_answer() {
    let fx = start_server();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _in_runtime = rt.enter();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let cases: u32 = std::env::var("LYCEUM_PROP_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48);
    let mut failures = Vec::new();
    let sent = std::cell::Cell::new(0u32);
    for route in ROUTES {
        let mut runner = TestRunner::new_with_rng(
            Config {
                cases,
                failure_persistence: None,
                max_shrink_iters: 200,
                ..Config::default()
            },
            proptest::test_runner::TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
        );
        let strategy = (
            input(route.fields, &fx.ids),
            proptest::collection::vec(
                prop_oneof![
                    id(fx.ids.clone()),
                    nasty_string(),
                    (-5i64..1000).prop_map(|n| n.to_string())
                ],
                3,
            ),
            proptest::bool::weighted(0.05),
        );
        let before = sent.get();
        let result = runner.run(&strategy, |(fields, picks, raw_garbage)| {
            sent.set(sent.get() + 1);
            let path = fill_path(route.path, &fx, &picks);
            let url = match route.input {
                In::Query if !fields.is_empty() => format!("{}{path}?{}", fx.base, query_text(&fields)),
                _ => format!("{}{path}", fx.base),
            };
            let method = reqwest::Method::from_bytes(route.method.as_bytes()).unwrap();
            let mut req = http.request(method, &url);
            req = match route.who {
                Who::Anon => req,
                Who::Mentee => req.bearer_auth(&fx.mentee),
                Who::Mentor => req.bearer_auth(&fx.mentor),
                Who::Admin => req.bearer_auth(&fx.admin),
            };
            if let In::Body = route.input {
                req = if raw_garbage {
                    // Not JSON at all, or JSON of the wrong shape.
                    req.header("content-type", "application/json").body(query_text(&fields))
                } else {
                    req.json(&Value::Object(fields.clone()))
                };
            }
            let res = rt
                .block_on(req.send())
                .map_err(|e| TestCaseError::fail(format!("{} {}: no answer: {e}", route.method, cut(&url))))?;
            let status = res.status().as_u16();
            let body = rt.block_on(res.text()).unwrap_or_default();
            if status >= 500 {
                return Err(TestCaseError::fail(format!(
                    "{} {} {} -> {status} {}",
                    route.method,
                    cut(&url),
                    cut(&format!("{fields:?}")),
                    cut(&body)
                )));
            }
            if status >= 400 {
                let v: Value = serde_json::from_str(&body).map_err(|_| {
                    TestCaseError::fail(format!(
                        "{} {}: error body not JSON: {}",
                        route.method,
                        cut(&url),
                        cut(&body)
                    ))
                })?;
                if !v["error"].is_string() {
                    return Err(TestCaseError::fail(format!(
                        "{} {url}: no error code: {body}",
                        route.method
                    )));
                }
            }
            Ok(())
        });
        if sent.get() == before {
            failures.push(format!("{} {}: no request was sent", route.method, route.path));
        }
        if let Err(e) = result {
            // The reason carries the shrunk request; the input dump is not repeated.
            let reason = match e {
                proptest::test_runner::TestError::Fail(reason, _) => reason.to_string(),
                other => cut(&other.to_string()),
            };
            failures.push(format!("{} {}: {reason}", route.method, route.path));
        }
    }
    // The server is still up after all of it.
    let health = rt.block_on(http.get(format!("{}/healthz", fx.base)).send()).unwrap();
    assert_eq!(health.status().as_u16(), 200);
    eprintln!("{} generated requests over {} routes", sent.get(), ROUTES.len());
    assert!(
        failures.is_empty(),
        "{} routes failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
