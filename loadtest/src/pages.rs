//! The `pages` scenario: anonymous visitors reading the server-rendered
//! directory (`/mentors`, with and without a search, filters and later
//! pages) and mentors' pages (`/mentors/{id}`), at a constant offered rate;
//! or, with `--site boards`, the boards: a thread of 500 replies (its page
//! and its API), other threads' pages, board searches and the latest list.
//!
//! Open loop: request n is issued at `start + n / rate` whether or not the
//! earlier ones have been answered, and its latency is counted from that
//! scheduled time to the last byte of the body, so a stalled server shows
//! as latency instead of as fewer requests (no coordinated omission).
//! Mentors are drawn at random from `/sitemap.xml` (every mentor's page);
//! later pages come from the directory's own "More mentors" links.
//! Fails on any answer other than 200 and, with `--max-p99-ms`, on a page
//! kind whose p99 is above it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::report::{self, Samples};

#[derive(Debug, Clone, Serialize, Deserialize, clap::Args)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct PagesArgs {
    /// Requests per second, issued on schedule whatever the answers (open loop).
    #[arg(long, default_value_t = 100)]
    pub rate: u64,
    /// Seconds of measured load.
    #[arg(long, default_value_t = 30)]
    pub duration: u64,
    /// Seconds of the same load before the measured part (not counted).
    #[arg(long, default_value_t = 5)]
    pub warmup: u64,
    /// Fail when any page kind's p99 is above this many milliseconds.
    #[arg(long)]
    pub max_p99_ms: Option<f64>,
    /// Seconds a request may take before it counts as failed.
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
    /// Seed of the request mix (the same seed sends the same requests).
    #[arg(long, default_value_t = 14)]
    pub seed: u64,
    /// What is read: the mentor directory and pages, the boards, or
    /// matching and the dashboard.
    #[arg(long, value_enum, default_value_t = Site::Directory)]
    pub site: Site,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Site {
    Directory,
    Boards,
    /// Mentor matching as a signed-in mentee, and a busy mentor's dashboard
    /// (its API and its page), after scripts/seed-pages.sql and
    /// scripts/seed-dashboard.sql.
    Mentoring,
}

impl Default for PagesArgs {
    fn default() -> Self {
        PagesArgs {
            rate: 100,
            duration: 30,
            warmup: 5,
            max_p99_ms: None,
            timeout: 10,
            seed: 14,
            site: Site::Directory,
        }
    }
}

impl PagesArgs {
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!((1..=5_000).contains(&self.rate), "rate: 1 to 5000 requests per second");
        anyhow::ensure!((1..=600).contains(&self.duration), "duration: 1 to 600 seconds");
        anyhow::ensure!(self.warmup <= 120, "warmup: at most 120 seconds");
        anyhow::ensure!((1..=60).contains(&self.timeout), "timeout: 1 to 60 seconds");
        anyhow::ensure!(
            self.max_p99_ms.is_none_or(|m| m > 0.0 && m.is_finite()),
            "max-p99-ms: a positive number"
        );
        Ok(())
    }
}

/// What a request is, for the per-kind figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `/mentors` as the navigation links it: no query.
    Directory,
    /// `/mentors?q=…` (some with filters too), first page.
    Search,
    /// `/mentors` with filters (skill, tag, years, rating, free slot, sort), first page.
    Filter,
    /// A later page of any of these (`cursor=…`).
    LaterPage,
    /// `/mentors/{id}`.
    Mentor,
    /// The thread of 500 replies as `/api/boards/threads/{id}` (its first
    /// 50 posts).
    LongThreadApi,
    /// The same thread's server-rendered page, `/boards/threads/{id}`.
    LongThreadPage,
    /// Other threads' pages, from the sitemap.
    ThreadPage,
    /// `/api/boards/threads?q=…`: ranked full-text search.
    BoardSearch,
    /// `/api/boards/threads` (latest activity first).
    BoardLatest,
    /// `POST /api/matching` as a mentee (a questionnaire of the mix).
    Matching,
    /// `GET /api/me/dashboard` as the busy mentor.
    DashboardApi,
    /// `/dashboard` as the busy mentor (the page cookie).
    DashboardPage,
}

impl Kind {
    pub const ALL: [Kind; 13] = [
        Kind::Directory,
        Kind::Search,
        Kind::Filter,
        Kind::LaterPage,
        Kind::Mentor,
        Kind::LongThreadApi,
        Kind::LongThreadPage,
        Kind::ThreadPage,
        Kind::BoardSearch,
        Kind::BoardLatest,
        Kind::Matching,
        Kind::DashboardApi,
        Kind::DashboardPage,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Directory => "directory",
            Kind::Search => "search",
            Kind::Filter => "filter",
            Kind::LaterPage => "later page",
            Kind::Mentor => "mentor page",
            Kind::LongThreadApi => "500-reply thread (API)",
            Kind::LongThreadPage => "500-reply thread (page)",
            Kind::ThreadPage => "thread page",
            Kind::BoardSearch => "board search",
            Kind::BoardLatest => "board latest",
            Kind::Matching => "matching",
            Kind::DashboardApi => "dashboard (API)",
            Kind::DashboardPage => "dashboard (page)",
        }
    }

    /// Share of the mix, in percent: the kinds of one site add up to 100.
    fn weight(self, site: Site) -> u64 {
        match (site, self) {
            (Site::Directory, Kind::Directory) => 20,
            (Site::Directory, Kind::Search) => 20,
            (Site::Directory, Kind::Filter) => 20,
            (Site::Directory, Kind::LaterPage) => 10,
            (Site::Directory, Kind::Mentor) => 30,
            (Site::Boards, Kind::LongThreadApi) => 20,
            (Site::Boards, Kind::LongThreadPage) => 20,
            (Site::Boards, Kind::ThreadPage) => 20,
            (Site::Boards, Kind::BoardSearch) => 30,
            (Site::Boards, Kind::BoardLatest) => 10,
            (Site::Mentoring, Kind::Matching) => 50,
            (Site::Mentoring, Kind::DashboardApi) => 25,
            (Site::Mentoring, Kind::DashboardPage) => 25,
            _ => 0,
        }
    }
}

/// Free-text searches, as visitors type them (words from the seeded
/// profiles: skills, roles, employers, names, tags), some with filters.
pub const SEARCHES: &[&str] = &[
    "/mentors?q=rust",
    "/mentors?q=distributed+systems",
    "/mentors?q=machine+learning+interviews",
    "/mentors?q=senior+engineer",
    "/mentors?q=Hooli",
    "/mentors?q=Grace+Hopper",
    "/mentors?q=kubernetes+aws",
    "/mentors?q=data",
    "/mentors?q=career+switch",
    "/mentors?q=security&minRating=4",
    "/mentors?q=python&sort=experience",
    "/mentors?q=product+manager&available=true",
];

/// The form's filters without a search.
pub const FILTERS: &[&str] = &[
    "/mentors?skill=python",
    "/mentors?skill=go%2C+kubernetes",
    "/mentors?tag=interviews&minYears=10",
    "/mentors?minRating=4.5&sort=rating",
    "/mentors?available=true",
    "/mentors?available=true&skill=rust",
    "/mentors?minYears=20&sort=experience",
    "/mentors?tag=startups&sort=experience",
    "/mentors?skill=machine+learning&minRating=4&available=true",
    // As the form sends it: every field, the empty ones too.
    "/mentors?q=&skill=&tag=resume&minYears=&minRating=3.5&sort=",
];

/// Listings whose later pages are read (followed from "More mentors").
const PAGED: &[(&str, usize)] = &[
    ("/mentors", 5),
    ("/mentors?q=data", 3),
    ("/mentors?skill=python&sort=experience", 3),
    ("/mentors?available=true", 3),
    ("/mentors?minRating=4&sort=rating", 2),
];

/// A small, fast, seeded generator (xorshift64*): the mix needs no
/// cryptographic randomness, only the same sequence for the same seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

/// The mentors' page paths listed in a sitemap.
pub fn mentor_paths(sitemap: &str) -> Vec<String> {
    sitemap
        .split("<loc>")
        .skip(1)
        .filter_map(|s| s.split("</loc>").next())
        .filter_map(|loc| loc.find("/mentors/").map(|i| loc[i..].to_owned()))
        .collect()
}

/// The "More mentors" link of a directory page, unescaped.
pub fn next_link(html: &str) -> Option<String> {
    let pager = &html[html.find(r#"class="pager""#)?..];
    let start = pager.find(r#"href=""#)? + 6;
    let end = pager[start..].find('"')?;
    Some(pager[start..start + end].replace("&amp;", "&"))
}

/// Mentors listed on a directory page.
pub fn cards(html: &str) -> usize {
    html.matches(r#"<li class="card""#).count()
}

/// Board searches, as members type them: employers, topics, stages of a
/// placement process, alone or together, a phrase, a tag, a sort. Over
/// scripts/seed-boards.sql's 100,001 threads they match from 19 threads
/// (`aws kubernetes`) to 63,846 (`interview`); docs/benchmarks.md lists
/// each one's count.
pub const BOARD_SEARCHES: &[&str] = &[
    "/api/boards/threads?q=hooli+interview",
    "/api/boards/threads?q=system+design+round",
    "/api/boards/threads?q=sliding+window",
    "/api/boards/threads?q=negotiate+stipend",
    "/api/boards/threads?q=%22online+assessment%22+initech",
    "/api/boards/threads?q=kafka",
    "/api/boards/threads?q=take-home&tag=interviews",
    "/api/boards/threads?q=cgpa+cutoff",
    "/api/boards/threads?q=offer&sort=latest",
    "/api/boards/threads?q=data+scientist+globex",
    "/api/boards/threads?q=dynamic+programming",
    "/api/boards/threads?q=interview",
    "/api/boards/threads?q=nakatomi",
    "/api/boards/threads?q=aws+kubernetes",
    "/api/boards/threads?q=visa+sponsorship",
    "/api/boards/threads?q=react+hooks",
];

/// One request of the mix: a GET of `path`, or a POST of `body` as JSON;
/// with `auth`, an `Authorization` header, with `cookie`, a `Cookie` one.
#[derive(Debug, Clone, Default)]
pub struct Req {
    pub path: String,
    pub body: Option<String>,
    pub auth: Option<String>,
    pub cookie: Option<String>,
}

impl Req {
    fn get(path: impl Into<String>) -> Req {
        Req {
            path: path.into(),
            ..Default::default()
        }
    }
}

/// The requests to draw from, by kind.
pub struct Mix {
    site: Site,
    paths: BTreeMap<Kind, Vec<Req>>,
}

impl Mix {
    /// One request: its kind and what to send.
    pub fn draw(&self, rng: &mut Rng) -> (Kind, &Req) {
        let mut roll = rng.below(100);
        let mut kind = Kind::Mentor;
        for k in Kind::ALL {
            let w = k.weight(self.site);
            if roll < w {
                kind = k;
                break;
            }
            roll -= w;
        }
        let list = &self.paths[&kind];
        (kind, &list[rng.below(list.len() as u64) as usize])
    }
}

async fn get_text(http: &reqwest::Client, base: &str, path: &str) -> anyhow::Result<String> {
    let res = http
        .get(format!("{base}{path}"))
        .send()
        .await
        .with_context(|| format!("GET {path}"))?;
    let status = res.status();
    let body = res.text().await?;
    anyhow::ensure!(status.is_success(), "GET {path}: {status}");
    Ok(body)
}

/// Reads the sitemap and follows the pagers; checks every listing finds
/// mentors, so the mix measures real result pages, not empty ones.
async fn prepare(
    http: &reqwest::Client,
    base: &str,
    site: Site,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<Mix> {
    match site {
        Site::Boards => return prepare_boards(http, base, progress).await,
        Site::Mentoring => return prepare_mentoring(http, base, progress).await,
        Site::Directory => {}
    }
    progress.set_message("reading the sitemap");
    let mentors = mentor_paths(&get_text(http, base, "/sitemap.xml").await?);
    anyhow::ensure!(
        !mentors.is_empty(),
        "no mentor in /sitemap.xml: seed mentors first (scripts/seed-pages.sql)"
    );
    progress.set_message("checking the listings");
    for p in SEARCHES.iter().chain(FILTERS) {
        let html = get_text(http, base, p).await?;
        anyhow::ensure!(cards(&html) > 0, "{p} lists no mentor: is the database seeded?");
    }
    let mut later = Vec::new();
    for (first, pages) in PAGED {
        let mut path = (*first).to_owned();
        for _ in 0..*pages {
            let html = get_text(http, base, &path).await?;
            match next_link(&html) {
                Some(next) => {
                    later.push(next.clone());
                    path = next;
                }
                None => break,
            }
        }
    }
    anyhow::ensure!(!later.is_empty(), "no listing has a second page");
    let owned = |v: &[&str]| v.iter().map(|s| Req::get(*s)).collect::<Vec<_>>();
    let paths = BTreeMap::from([
        (Kind::Directory, vec![Req::get("/mentors")]),
        (Kind::Search, owned(SEARCHES)),
        (Kind::Filter, owned(FILTERS)),
        (Kind::LaterPage, later.into_iter().map(Req::get).collect()),
        (Kind::Mentor, mentors.into_iter().map(Req::get).collect()),
    ]);
    Ok(Mix {
        site: Site::Directory,
        paths,
    })
}

/// The boards' requests: the longest thread (found by its title), other
/// threads from the sitemap; checks every search finds threads.
async fn prepare_boards(http: &reqwest::Client, base: &str, progress: &indicatif::ProgressBar) -> anyhow::Result<Mix> {
    progress.set_message("finding the threads");
    let found: serde_json::Value =
        serde_json::from_str(&get_text(http, base, "/api/boards/threads?q=%22long+thread%22").await?)?;
    let long = found["items"]
        .as_array()
        .and_then(|items| items.iter().max_by_key(|t| t["replyCount"].as_i64().unwrap_or(0)))
        .and_then(|t| t["id"].as_str())
        .context("no long thread: seed the boards first (scripts/seed-boards.sql)")?
        .to_owned();
    let sitemap = get_text(http, base, "/sitemap.xml").await?;
    let threads: Vec<String> = sitemap
        .split("<loc>")
        .skip(1)
        .filter_map(|s| s.split("</loc>").next())
        .filter_map(|loc| loc.find("/boards/threads/").map(|i| loc[i..].to_owned()))
        .collect();
    anyhow::ensure!(!threads.is_empty(), "no thread in /sitemap.xml");
    for p in BOARD_SEARCHES {
        let v: serde_json::Value = serde_json::from_str(&get_text(http, base, p).await?)?;
        anyhow::ensure!(
            v["items"].as_array().is_some_and(|a| !a.is_empty()),
            "{p} finds no thread: are the boards seeded?"
        );
    }
    let owned = |v: &[&str]| v.iter().map(|s| Req::get(*s)).collect::<Vec<_>>();
    let paths = BTreeMap::from([
        (
            Kind::LongThreadApi,
            vec![Req::get(format!("/api/boards/threads/{long}"))],
        ),
        (Kind::LongThreadPage, vec![Req::get(format!("/boards/threads/{long}"))]),
        (Kind::ThreadPage, threads.into_iter().map(Req::get).collect()),
        (Kind::BoardSearch, owned(BOARD_SEARCHES)),
        (Kind::BoardLatest, vec![Req::get("/api/boards/threads")]),
    ]);
    Ok(Mix {
        site: Site::Boards,
        paths,
    })
}

/// The accounts `--site mentoring` signs in as (scripts/bench-mentoring.sh
/// registers the first and seeds the second with its password).
pub const MENTEE_EMAIL: &str = "seed-template@bench.example";
pub const MENTOR_EMAIL: &str = "busy.mentor@bench.example";

/// Matching questionnaires, as mentees fill them in (skills and tags of
/// the seeded mentors, goals in words, weekly windows, zones).
pub fn questionnaires() -> Vec<serde_json::Value> {
    vec![
        json!({"skills": [{"name": "Rust", "level": "advanced"}, {"name": "System Design", "level": "intermediate"}],
               "goals": "Get ready for backend interviews and learn to design distributed systems",
               "categories": ["interviews"], "timeZone": "Europe/Berlin",
               "preferredTimes": [{"weekday": 2, "startTime": "18:00", "endTime": "21:00"},
                                  {"weekday": 4, "startTime": "18:00", "endTime": "21:00"}]}),
        json!({"skills": [{"name": "Python", "level": "intermediate"}, {"name": "Machine Learning", "level": "advanced"},
                          {"name": "Statistics", "level": "intermediate"}],
               "goals": "Switch from analytics to machine learning engineering", "categories": ["career-switch"],
               "timeZone": "Asia/Kolkata"}),
        json!({"skills": [{"name": "Product Management", "level": "expert"}], "goals": "",
               "categories": ["leadership", "promotion"], "timeZone": "America/New_York",
               "preferredTimes": [{"weekday": 6, "startTime": "09:00", "endTime": "13:00"}]}),
        json!({"skills": [], "goals": "first job after graduation, resume review and mock interviews",
               "categories": ["first-job", "resume"], "timeZone": "Africa/Lagos"}),
        json!({"skills": [{"name": "Kubernetes", "level": "advanced"}, {"name": "AWS", "level": "advanced"},
                          {"name": "Terraform", "level": "intermediate"}, {"name": "Go", "level": "beginner"}],
               "goals": "Become a site reliability engineer", "categories": [], "timeZone": "UTC", "limit": 20}),
        json!({"skills": [{"name": "TypeScript", "level": "advanced"}, {"name": "React", "level": "expert"}],
               "goals": "Grow from junior to senior frontend engineer at a startup", "categories": ["startups"],
               "timeZone": "America/Los_Angeles",
               "preferredTimes": [{"weekday": 1, "startTime": "17:00", "endTime": "20:00"},
                                  {"weekday": 3, "startTime": "17:00", "endTime": "20:00"},
                                  {"weekday": 5, "startTime": "12:00", "endTime": "14:00"}]}),
        json!({"skills": [{"name": "Security", "level": "intermediate"}, {"name": "Networking", "level": "beginner"}],
               "goals": "security engineering career, certifications", "categories": ["careers"],
               "timeZone": "Asia/Singapore"}),
        json!({"skills": [{"name": "Data Engineering", "level": "advanced"}, {"name": "SQL", "level": "expert"},
                          {"name": "Spark", "level": "intermediate"}],
               "goals": "Negotiate my first data engineering offer", "categories": ["negotiation", "interviews"],
               "timeZone": "Europe/London", "limit": 5}),
    ]
}

/// Signs in through the API: the access token.
async fn api_token(http: &reqwest::Client, base: &str, email: &str) -> anyhow::Result<String> {
    let res = http
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"email": email, "password": crate::client::PASSWORD}))
        .send()
        .await?;
    let status = res.status();
    let v: serde_json::Value = res.json().await.unwrap_or_default();
    v["accessToken"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("sign in as {email}: {status} {v}"))
}

/// A `name=value` cookie of a response's `Set-Cookie` headers.
fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|h| h.to_str().ok())
        .filter_map(|h| h.split(';').next())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

fn form_encode(pairs: &[(&str, &str)]) -> String {
    let enc = |v: &str| {
        v.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Signs in through the sign-in form, as a browser does: the page cookie
/// (`lyceum_page=…`).
async fn page_cookie(http: &reqwest::Client, base: &str, email: &str) -> anyhow::Result<String> {
    let res = http.get(format!("{base}/signin")).send().await?;
    let csrf_cookie = set_cookie(&res, "lyceum_csrf").context("/signin set no CSRF cookie")?;
    let html = res.text().await?;
    let field = html
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .context("/signin has no CSRF field")?
        .to_owned();
    let res = http
        .post(format!("{base}/signin"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", &csrf_cookie)
        .header("origin", base)
        .body(form_encode(&[
            ("csrf", &field),
            ("email", email),
            ("password", crate::client::PASSWORD),
            ("next", "/dashboard"),
        ]))
        .send()
        .await?;
    let status = res.status();
    let page = set_cookie(&res, "lyceum_page").with_context(|| format!("sign in as {email} by the form: {status}"))?;
    Ok(format!("{page}; {csrf_cookie}"))
}

/// Matching as the seeded mentee, the busy mentor's dashboard (API and
/// page); checks each answers with results before measuring.
async fn prepare_mentoring(
    http: &reqwest::Client,
    base: &str,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<Mix> {
    progress.set_message("signing in");
    let mentee = format!("Bearer {}", api_token(http, base, MENTEE_EMAIL).await?);
    let mentor = format!("Bearer {}", api_token(http, base, MENTOR_EMAIL).await?);
    let cookie = page_cookie(http, base, MENTOR_EMAIL).await?;
    let matching: Vec<Req> = questionnaires()
        .into_iter()
        .map(|q| Req {
            path: "/api/matching".to_owned(),
            body: Some(q.to_string()),
            auth: Some(mentee.clone()),
            cookie: None,
        })
        .collect();
    progress.set_message("checking the answers");
    for r in &matching {
        let res = http
            .post(format!("{base}{}", r.path))
            .header("authorization", &mentee)
            .header("content-type", "application/json")
            .body(r.body.clone().unwrap_or_default())
            .send()
            .await?;
        let status = res.status();
        let v: serde_json::Value = res.json().await.unwrap_or_default();
        anyhow::ensure!(
            status.is_success() && v["items"].as_array().is_some_and(|a| !a.is_empty()),
            "matching found no mentor ({status}): seed the mentors first (scripts/seed-pages.sql)"
        );
    }
    let d: serde_json::Value = http
        .get(format!("{base}/api/me/dashboard"))
        .header("authorization", &mentor)
        .send()
        .await?
        .json()
        .await?;
    let held = d["figures"]["sessionsHeld"].as_i64().unwrap_or(0);
    anyhow::ensure!(
        held >= 500,
        "the busy mentor has held {held} sessions: seed scripts/seed-dashboard.sql first"
    );
    let page = http
        .get(format!("{base}/dashboard"))
        .header("cookie", &cookie)
        .send()
        .await?;
    anyhow::ensure!(page.status() == 200, "/dashboard as the busy mentor: {}", page.status());
    let paths = BTreeMap::from([
        (Kind::Matching, matching),
        (
            Kind::DashboardApi,
            vec![Req {
                path: "/api/me/dashboard".to_owned(),
                auth: Some(mentor),
                ..Default::default()
            }],
        ),
        (
            Kind::DashboardPage,
            vec![Req {
                path: "/dashboard".to_owned(),
                cookie: Some(cookie),
                ..Default::default()
            }],
        ),
    ]);
    Ok(Mix {
        site: Site::Mentoring,
        paths,
    })
}

/// One answer: kind, latency from the scheduled time (ms), status (0: no
/// answer in time or a transport error), body bytes, second of the run,
/// and the path asked for.
type Answer = (Kind, f64, u16, usize, u64, String);

/// Sends `rate × secs` requests on schedule; returns every answer and the
/// largest lag of the schedule itself (how late the tester issued one).
async fn offer(
    http: &reqwest::Client,
    base: &str,
    mix: &Arc<Mix>,
    rng: &mut Rng,
    rate: u64,
    secs: u64,
) -> (Vec<Answer>, f64) {
    let total = rate * secs;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Answer>();
    let start = Instant::now() + Duration::from_millis(20);
    let mut lag: f64 = 0.0;
    for n in 0..total {
        let at = start + interval.mul_f64(n as f64);
        tokio::time::sleep_until(at.into()).await;
        lag = lag.max(at.elapsed().as_secs_f64() * 1000.0);
        let (kind, req) = mix.draw(rng);
        let (http, url, tx, path) = (
            http.clone(),
            format!("{base}{}", req.path),
            tx.clone(),
            req.path.clone(),
        );
        let mut rb = match &req.body {
            Some(b) => http
                .post(url)
                .header("content-type", "application/json")
                .body(b.clone()),
            None => http.get(url),
        };
        if let Some(a) = &req.auth {
            rb = rb.header("authorization", a.as_str());
        }
        if let Some(c) = &req.cookie {
            rb = rb.header("cookie", c.as_str());
        }
        tokio::spawn(async move {
            let (status, bytes) = match rb.send().await {
                Ok(res) => {
                    let status = res.status().as_u16();
                    match res.bytes().await {
                        Ok(b) => (status, b.len()),
                        Err(_) => (0, 0),
                    }
                }
                Err(_) => (0, 0),
            };
            let ms = at.elapsed().as_secs_f64() * 1000.0;
            let _ = tx.send((kind, ms, status, bytes, at.duration_since(start).as_secs(), path));
        });
    }
    drop(tx);
    let mut answers = Vec::with_capacity(total as usize);
    while let Some(a) = rx.recv().await {
        answers.push(a);
    }
    (answers, lag)
}

pub async fn run(base: &str, a: &PagesArgs, progress: &indicatif::ProgressBar) -> anyhow::Result<report::Outcome> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(a.timeout))
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(256)
        .tcp_nodelay(true)
        .build()?;
    let mix = Arc::new(prepare(&http, base, a.site, progress).await?);
    let mut rng = Rng::new(a.seed);
    if a.warmup > 0 {
        progress.set_message(format!("warming up: {} req/s for {} s", a.rate, a.warmup));
        offer(&http, base, &mix, &mut rng, a.rate, a.warmup).await;
    }
    progress.set_message(format!("measuring: {} req/s for {} s", a.rate, a.duration));
    let (answers, lag) = offer(&http, base, &mix, &mut rng, a.rate, a.duration).await;

    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    let mut by_kind: BTreeMap<Kind, (Vec<f64>, usize)> = BTreeMap::new();
    let mut all = Samples::default();
    // Searches one by one: which of them are slow.
    let mut by_search: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for (kind, ms, status, bytes, second, path) in &answers {
        if *kind == Kind::BoardSearch {
            by_search.entry(path.as_str()).or_default().push(*ms);
        }
        *statuses.entry(*status).or_default() += 1;
        let e = by_kind.entry(*kind).or_default();
        e.0.push(*ms);
        e.1 += bytes;
        all.push(*second, *ms);
    }
    let non_ok = answers.iter().filter(|x| x.2 != 200).count();
    let mut kinds_json = serde_json::Map::new();
    let mut rows = vec![
        (
            "offered".to_owned(),
            format!(
                "{} req/s for {} s, open loop (after {} s of warm-up); {} answers",
                a.rate,
                a.duration,
                a.warmup,
                answers.len()
            ),
        ),
        (
            "statuses".to_owned(),
            statuses
                .iter()
                .map(|(s, n)| format!("{}: {n}", if *s == 0 { "failed".to_owned() } else { s.to_string() }))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        ("schedule".to_owned(), format!("issued at most {lag:.2} ms late")),
    ];
    let mut over = Vec::new();
    for k in Kind::ALL {
        let Some((lat, bytes)) = by_kind.get_mut(&k) else {
            continue;
        };
        let p = report::percentiles(lat);
        let avg_bytes = *bytes / p.count.max(1);
        if a.max_p99_ms.is_some_and(|m| p.p99 > m) {
            over.push(k.name());
        }
        kinds_json.insert(k.name().to_owned(), json!({"latencyMs": p, "avgBytes": avg_bytes}));
        rows.push((
            k.name().to_owned(),
            format!(
                "{:>5} req  p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms  ({} B)",
                p.count, p.p50, p.p90, p.p99, p.max, avg_bytes
            ),
        ));
    }
    let mut searches_json = serde_json::Map::new();
    for (path, lat) in by_search.iter_mut() {
        let p = report::percentiles(lat);
        let q = path.split("q=").nth(1).unwrap_or(path);
        rows.push((
            format!("  {q}"),
            format!(
                "{:>5} req  p50 {:.2} ms  p90 {:.2} ms  max {:.2} ms",
                p.count, p.p50, p.p90, p.max
            ),
        ));
        searches_json.insert((*path).to_owned(), json!(p));
    }
    let overall = all.summary();
    rows.push((
        "all".to_owned(),
        format!(
            "{:>5} req  p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
            overall.count, overall.p50, overall.p90, overall.p99, overall.max
        ),
    ));
    let ok = non_ok == 0 && over.is_empty() && answers.len() as u64 == a.rate * a.duration;
    if non_ok > 0 {
        rows.push(("FAILED".to_owned(), format!("{non_ok} answers were not 200")));
    }
    if let Some(m) = a.max_p99_ms {
        rows.push((
            "p99 limit".to_owned(),
            if over.is_empty() {
                format!("{m} ms: every kind within it")
            } else {
                format!("{m} ms: FAILED for {}", over.join(", "))
            },
        ));
    }
    let json = json!({
        "scenario": "pages", "site": a.site,
        "rate": a.rate, "durationSecs": a.duration, "warmupSecs": a.warmup,
        "requests": answers.len(),
        "statuses": statuses.iter().map(|(s, n)| (s.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "scheduleLagMaxMs": lag,
        "kinds": kinds_json,
        "searches": searches_json,
        "latencyMs": overall,
        "maxP99Ms": a.max_p99_ms,
        "ok": ok,
    });
    Ok(report::Outcome {
        json,
        table: report::table("pages", &rows),
        timeline: all.timeline(),
        ok,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sitemap_gives_the_mentor_pages() {
        let xml = "<urlset><url><loc>http://127.0.0.1:1/</loc></url>\
                   <url><loc>http://127.0.0.1:1/mentors</loc></url>\
                   <url><loc>http://127.0.0.1:1/mentors/0b1c</loc><lastmod>2026-01-01</lastmod></url></urlset>";
        assert_eq!(mentor_paths(xml), vec!["/mentors/0b1c"]);
    }

    #[test]
    fn the_pager_link_is_unescaped() {
        let html = r#"<ul class="cards"><li class="card">a</li><li class="card">b</li></ul>
            <nav class="pager" aria-label="Pages"><a href="/mentors?q=data&amp;cursor=eyJz">More mentors</a></nav>"#;
        assert_eq!(next_link(html).as_deref(), Some("/mentors?q=data&cursor=eyJz"));
        assert_eq!(cards(html), 2);
        assert_eq!(next_link("<p>no pager</p>"), None);
    }

    #[test]
    fn the_mix_follows_the_weights_and_the_seed() {
        for site in [Site::Directory, Site::Boards, Site::Mentoring] {
            assert_eq!(Kind::ALL.iter().map(|k| k.weight(site)).sum::<u64>(), 100);
            let paths = Kind::ALL.iter().map(|k| (*k, vec![Req::get(k.name())])).collect();
            let mix = Mix { site, paths };
            let mut counts: BTreeMap<Kind, u64> = BTreeMap::new();
            let mut rng = Rng::new(14);
            for _ in 0..100_000 {
                *counts.entry(mix.draw(&mut rng).0).or_default() += 1;
            }
            for k in Kind::ALL {
                let share = counts.get(&k).copied().unwrap_or(0) as f64 / 1000.0;
                assert!((share - k.weight(site) as f64).abs() < 1.0, "{k:?}: {share} %");
            }
        }
        let (mut a, mut b) = (Rng::new(3), Rng::new(3));
        assert!((0..100).all(|_| a.below(1000) == b.below(1000)));
    }
}
