//! The `lyceum` binary as a newcomer runs it: no configuration, a private
//! Postgres under the data directory, a clean stop on SIGTERM; and a
//! configuration mistake reported instead of ignored.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[actix_web::test]
async fn runs_with_its_embedded_postgres_and_stops_it_on_sigterm() {
    let dir = std::env::temp_dir().join(format!(
        "lyceum-e2e-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    ));
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_lyceum"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LYCEUM__SERVER__PORT", port.to_string())
        .env("LYCEUM__SERVER__DATA_DIR", &dir)
        .env("LYCEUM_CONFIG_DIR", "/nonexistent")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
            if r.status() == 200 {
                break;
            }
        }
        assert!(Instant::now() < deadline, "server did not become ready");
        assert!(child.try_wait().unwrap().is_none(), "server exited early");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // It is a working server: register and read back.
    let res = http
        .post(format!("{base}/api/auth/register"))
        .json(&serde_json::json!({"email": "first@example.org", "password": "correct horse battery", "displayName": "First", "role": "mentor"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let cluster = dir.join("postgres/cluster");
    assert!(cluster.join("postmaster.pid").exists(), "the private cluster runs");
    assert!(dir.join("jwt_secret").exists(), "a JWT secret was generated and kept");

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "{status}");
    assert!(
        !cluster.join("postmaster.pid").exists(),
        "the private Postgres was stopped"
    );

    // Restarting finds the same data.
    let mut child = Command::new(env!("CARGO_BIN_EXE_lyceum"))
        .env("LYCEUM__SERVER__PORT", port.to_string())
        .env("LYCEUM__SERVER__DATA_DIR", &dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let res = loop {
        if let Ok(r) = http
            .post(format!("{base}/api/auth/login"))
            .json(&serde_json::json!({"email": "first@example.org", "password": "correct horse battery"}))
            .send()
            .await
        {
            break r;
        }
        assert!(Instant::now() < deadline, "server did not come back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(res.status(), 200);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    assert!(child.wait().unwrap().success());
    assert!(!cluster.join("postmaster.pid").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unknown_configuration_keys_are_rejected_with_a_clear_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_lyceum"))
        .env("LYCEUM__SERVER__PROT", "9000")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("prot"), "{err}");

    let out = Command::new(env!("CARGO_BIN_EXE_lyceum"))
        .env("LYCEUM__AUTH__ACCESS_TOKEN_TTL_SECS", "86400")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("access_token_ttl_secs"));
}

#[test]
fn plain_http_is_refused_off_loopback() {
    let out = Command::new(env!("CARGO_BIN_EXE_lyceum"))
        .env("LYCEUM__SERVER__HOST", "0.0.0.0")
        .env("LYCEUM__DATABASE__URL", "host=/nonexistent user=postgres")
        .env("LYCEUM__SERVER__DATA_DIR", std::env::temp_dir().join("lyceum-refuse"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refusing to serve plain HTTP on 0.0.0.0"), "{err}");
}

fn spawn_server(dir: &std::path::Path, port: u16) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_lyceum"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LYCEUM__SERVER__PORT", port.to_string())
        .env("LYCEUM__SERVER__DATA_DIR", dir)
        .env("LYCEUM_CONFIG_DIR", "/nonexistent")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_ready(http: &reqwest::Client, base: &str, child: &mut std::process::Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
            if r.status() == 200 {
                return;
            }
        }
        assert!(Instant::now() < deadline, "{what}: server did not become ready");
        assert!(child.try_wait().unwrap().is_none(), "{what}: server exited");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[actix_web::test]
async fn restarts_at_once_after_its_postgres_was_killed() {
    let dir = std::env::temp_dir().join(format!(
        "lyceum-crash-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    ));
    let port = free_port();
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = spawn_server(&dir, port);
    wait_ready(&http, &base, &mut child, "first start").await;
    let res = http
        .post(format!("{base}/api/auth/register"))
        .json(&serde_json::json!({"email": "kept@example.org", "password": "correct horse battery", "displayName": "Kept", "role": "mentee"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);

    // The private postmaster dies hard, and so does the server.
    let pid_file = dir.join("postgres/cluster/postmaster.pid");
    let postmaster: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let kill = |pid: i32| nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
    kill(postmaster).unwrap();
    kill(child.id() as i32).unwrap();
    child.wait().unwrap();
    assert!(pid_file.exists(), "a killed postmaster leaves its lock file");

    // Restarted at once, it recovers the cluster and serves what was written.
    let mut child = spawn_server(&dir, port);
    wait_ready(&http, &base, &mut child, "restart after the crash").await;
    let res = http
        .post(format!("{base}/api/auth/login"))
        .json(&serde_json::json!({"email": "kept@example.org", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(child.wait().unwrap().success());
    assert!(!pid_file.exists(), "the recovered cluster was stopped cleanly");
    let _ = std::fs::remove_dir_all(&dir);
}
