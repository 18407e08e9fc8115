//! Test harness: a real server on port 0 with a fresh database per test, and
//! one helper per endpoint.
//!
//! The Postgres used is `LYCEUM_TEST_DATABASE_URL` if set, else the one on
//! 127.0.0.1:5432, else a private cluster started under `target/test-pg`
//! with the same embedded-Postgres code the server uses.

use std::str::FromStr;
use std::sync::OnceLock;

use lyceum::configuration::Settings;
use lyceum::infra::embedded_pg::EmbeddedPostgres;
use lyceum::startup::Application;
use reqwest::{Response, StatusCode};
use secrecy::SecretString;
use serde_json::{json, Value};
use uuid::Uuid;

pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123456789";
pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub http: reqwest::Client,
    pub settings: Settings,
    pub db: tokio_postgres::Client,
    pub server: actix_web::dev::ServerHandle,
    /// The database's connection string, to start another server on it.
    pub conn: String,
}

pub struct Session {
    pub id: Uuid,
    pub access: String,
    pub refresh: String,
    pub email: String,
}

/// The server database tests create their databases in, as a key=value
/// connection string (which also works for Unix-socket hosts).
fn admin_conn_string() -> &'static str {
    static CONN: OnceLock<String> = OnceLock::new();
    CONN.get_or_init(|| {
        if let Ok(url) = std::env::var("LYCEUM_TEST_DATABASE_URL") {
            return url;
        }
        let local = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=2";
        if can_connect(local) {
            return local.to_owned();
        }
        // Kept in a static: it outlives the tests and is reused by the next run.
        static PG: OnceLock<EmbeddedPostgres> = OnceLock::new();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-pg");
        let pg =
            PG.get_or_init(|| EmbeddedPostgres::start(&dir, None).expect("starting a private Postgres for the tests"));
        format!(
            "host={} port=5432 user=postgres dbname=postgres",
            pg.socket_dir().display()
        )
    })
}

/// A connection to the test server's maintenance database (not the app's).
pub async fn maintenance_client() -> tokio_postgres::Client {
    connect(admin_conn_string()).await
}

/// Whether a server answers and lets us in (a fresh distribution cluster may
/// want a password we do not have; then the private cluster is used).
fn can_connect(conn: &str) -> bool {
    let conn = conn.to_owned();
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
            return false;
        };
        rt.block_on(async {
            let Ok(cfg) = tokio_postgres::Config::from_str(&conn) else {
                return false;
            };
            match tokio::time::timeout(std::time::Duration::from_secs(3), cfg.connect(tokio_postgres::NoTls)).await {
                Ok(Ok((client, connection))) => {
                    tokio::spawn(connection);
                    client.simple_query("SELECT 1").await.is_ok()
                }
                _ => false,
            }
        })
    })
    .join()
    .unwrap_or(false)
}

async fn connect(conn: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::Config::from_str(conn)
        .expect("valid connection string")
        .connect(tokio_postgres::NoTls)
        .await
        .expect("connecting to the test Postgres");
    actix_web::rt::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// A fresh, empty database; returns its connection string.
pub async fn fresh_database() -> String {
    let base = admin_conn_string();
    let name = format!("lyceum_test_{}", Uuid::new_v4().simple());
    connect(base)
        .await
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    let mut cfg = tokio_postgres::Config::from_str(base).expect("valid");
    cfg.dbname(&name);
    // Re-render as key=value (Config has no Display).
    let mut parts = vec![format!("dbname={name}")];
    for h in cfg.get_hosts() {
        match h {
            tokio_postgres::config::Host::Tcp(h) => parts.push(format!("host={h}")),
            tokio_postgres::config::Host::Unix(p) => parts.push(format!("host={}", p.display())),
        }
    }
    if let Some(p) = cfg.get_ports().first() {
        parts.push(format!("port={p}"));
    }
    if let Some(u) = cfg.get_user() {
        parts.push(format!("user={u}"));
    }
    parts.join(" ")
}

pub fn test_settings(db_conn: &str) -> Settings {
    let mut s = Settings::embedded_defaults().expect("defaults parse");
    s.server.port = 0;
    s.server.workers = 1;
    s.server.shutdown_timeout_secs = 1;
    s.server.data_dir = std::env::temp_dir().join(format!("lyceum-test-{}", Uuid::new_v4()));
    s.database.url = Some(SecretString::from(db_conn.to_owned()));
    s.database.max_connections = 4;
    s.auth.jwt_secret = Some(SecretString::from(JWT_SECRET.to_owned()));
    // Generous so only the rate-limit test trips them.
    s.rate_limit.login_per_ip_per_minute = 1000;
    s.rate_limit.login_per_account_per_minute = 1000;
    s.rate_limit.register_per_ip_per_hour = 1000;
    s.rate_limit.bookings_per_user_per_minute = 1000;
    s.rate_limit.two_factor_per_account_per_minute = 1000;
    s.rate_limit.two_factor_per_ip_per_minute = 1000;
    s.rate_limit.board_posts_per_user_per_minute = 1000;
    s
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    lyceum::infra::telemetry::init(&lyceum::configuration::LogSettings {
        filter: std::env::var("TEST_LOG").unwrap_or_else(|_| "error".to_owned()),
        format: lyceum::configuration::LogFormat::Pretty,
    });
    let conn = fresh_database().await;
    let mut settings = test_settings(&conn);
    tweak(&mut settings);
    start_on(conn, settings).await
}

/// Starts a server with these settings on an existing database.
pub async fn start_on(conn: String, settings: Settings) -> TestApp {
    let app = Application::build(settings.clone()).await.expect("application builds");
    let port = app.port();
    let server = app.handle();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        settings,
        db: connect(&conn).await,
        server,
        conn,
    }
}

pub fn unique_email(prefix: &str) -> String {
    let slug: String = prefix.chars().filter(char::is_ascii_alphanumeric).collect();
    format!("{slug}-{}@example.org", &Uuid::new_v4().simple().to_string()[..12])
}

impl TestApp {
    /// Every URL of the sitemap: `/sitemap.xml` is an index; each file it
    /// lists is fetched (as a visitor) and the files' text joined.
    pub async fn sitemap(&self) -> String {
        let get = |url: String| async move {
            let res = reqwest::get(url).await.unwrap();
            assert_eq!(res.status(), 200);
            res.text().await.unwrap()
        };
        let index = get(self.url("/sitemap.xml")).await;
        assert!(index.contains("<sitemapindex"), "{index}");
        let mut all = String::new();
        for part in index.split("<loc>").skip(1) {
            let url = part.split("</loc>").next().unwrap().replace("&amp;", "&");
            all.push_str(&get(url).await);
        }
        all
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.http.post(self.url(path)).json(body).send().await.expect("request")
    }

    pub async fn get_auth(&self, path: &str, token: &str) -> Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    pub async fn register_raw(&self, email: &str, password: &str, name: &str, role: &str) -> Response {
        self.post_json(
            "/api/auth/register",
            &json!({"email": email, "password": password, "displayName": name, "role": role}),
        )
        .await
    }

    pub async fn login_raw(&self, email: &str, password: &str) -> Response {
        self.post_json("/api/auth/login", &json!({"email": email, "password": password}))
            .await
    }

    pub async fn refresh_raw(&self, token: &str) -> Response {
        self.post_json("/api/auth/refresh", &json!({"refreshToken": token}))
            .await
    }

    /// Registers a user and returns its session.
    pub async fn register(&self, role: &str, name: &str) -> Session {
        let email = unique_email(name);
        let res = self.register_raw(&email, PASSWORD, name, role).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        session_from(res.json().await.expect("json"), email)
    }

    pub async fn login(&self, email: &str) -> Session {
        let res = self.login_raw(email, PASSWORD).await;
        assert_eq!(res.status(), StatusCode::OK);
        session_from(res.json().await.expect("json"), email.to_owned())
    }

    pub async fn patch_profile(&self, token: &str, body: &Value) -> Response {
        self.http
            .patch(self.url("/api/me/profile"))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// Creates an admin through the same code path as `lyceum admin create`.
    pub async fn admin(&self) -> Session {
        let email = unique_email("admin");
        lyceum::admin_cli::create_admin(
            &self.settings,
            lyceum::admin_cli::CreateAdmin {
                email: email.clone(),
                display_name: "Admin".to_owned(),
                password: Some(PASSWORD.to_owned()),
            },
        )
        .await
        .expect("admin created");
        self.login(&email).await
    }
}

fn session_from(v: Value, email: String) -> Session {
    Session {
        id: v["user"]["id"].as_str().expect("user id").parse().expect("uuid"),
        access: v["accessToken"].as_str().expect("access token").to_owned(),
        refresh: v["refreshToken"].as_str().expect("refresh token").to_owned(),
        email,
    }
}

/// Asserts the API's error shape and returns the body.
pub async fn assert_error(res: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(res.status(), status, "status for expected `{code}`");
    assert!(
        res.headers()
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap_or("").starts_with("application/json")),
        "error bodies are JSON"
    );
    let body: Value = res.json().await.expect("json error body");
    assert_eq!(body["error"], code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    body
}

/// One unlabelled series of the server's `/metrics` at `base` (a loopback
/// address, so no token is needed).
pub async fn gauge(http: &reqwest::Client, base: &str, name: &str) -> f64 {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} is not in /metrics"))
}
