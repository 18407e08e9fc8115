//! The embedded default database: a private Postgres cluster under the data
//! directory, created with the machine's own `initdb` and run with `pg_ctl`.
//!
//! It listens only on a Unix socket inside its own directory (no TCP port), so
//! it never collides with another Postgres. Postgres refuses to run as root, so
//! when we are root the binaries run as the unprivileged `postgres` user, which
//! then owns the cluster directory.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// Unix sockets have a path limit of 107 bytes on Linux.
const MAX_SOCKET_PATH: usize = 107;
/// Postgres' default port only names the socket file; nothing listens on TCP.
const SOCKET_PORT: u16 = 5432;
/// The database Lyceum creates inside its private cluster.
pub const DATABASE_NAME: &str = "lyceum";
/// The superuser initdb creates.
pub const SUPERUSER: &str = "postgres";
/// How long a starting (or recovering) cluster may take to accept connections.
const READY_WAIT: Duration = Duration::from_secs(60);
/// How long the children of a dead postmaster get to exit.
const STALE_CHILDREN_WAIT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(100);

/// What a `postmaster.pid` in the cluster turned out to mean.
enum Existing {
    None,
    /// A live postmaster of this cluster.
    Running(i32),
    /// The recorded postmaster is gone (dead, a zombie, or the PID reused).
    Stale(i32),
}

#[derive(Debug)]
pub struct EmbeddedPostgres {
    bin_dir: PathBuf,
    /// `<data_dir>/postgres`: owned by the cluster's user, mode 0700.
    root: PathBuf,
    run_as: Option<(nix::unistd::Uid, nix::unistd::Gid)>,
    /// Whether this process started the server (and so must stop it).
    started_here: bool,
}

impl EmbeddedPostgres {
    /// Creates the cluster on first use and starts it unless it is already
    /// running (for example for `lyceum admin` next to a running server).
    pub fn start(data_dir: &Path, bin_dir: Option<&Path>) -> anyhow::Result<EmbeddedPostgres> {
        let bin_dir = find_bin_dir(bin_dir)?;
        std::fs::create_dir_all(data_dir).with_context(|| format!("creating data directory {}", data_dir.display()))?;
        let data_dir = data_dir
            .canonicalize()
            .with_context(|| format!("resolving {}", data_dir.display()))?;
        let root = data_dir.join("postgres");
        let run_as = unprivileged_user()?;

        let pg = EmbeddedPostgres {
            bin_dir,
            root,
            run_as,
            started_here: false,
        };
        let socket = pg.socket_dir().join(format!(".s.PGSQL.{SOCKET_PORT}"));
        if socket.as_os_str().len() > MAX_SOCKET_PATH {
            bail!(
                "the data directory path is too long for a Unix socket ({}); \
                 set LYCEUM__SERVER__DATA_DIR to a shorter path",
                socket.display()
            );
        }
        pg.prepare_dirs()?;
        if !pg.cluster_dir().join("PG_VERSION").exists() {
            pg.initdb()?;
        }
        pg.start_server()
    }

    pub fn cluster_dir(&self) -> PathBuf {
        self.root.join("cluster")
    }

    pub fn socket_dir(&self) -> PathBuf {
        self.root.join("run")
    }

    fn log_file(&self) -> PathBuf {
        self.root.join("server.log")
    }

    /// Connection settings for the given database over the private socket.
    pub fn config(&self, dbname: &str) -> tokio_postgres::Config {
        let mut c = tokio_postgres::Config::new();
        c.host_path(self.socket_dir())
            .port(SOCKET_PORT)
            .user(SUPERUSER)
            .dbname(dbname)
            .application_name("lyceum");
        c
    }

    fn prepare_dirs(&self) -> anyhow::Result<()> {
        for d in [&self.root, &self.socket_dir()] {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700))?;
        }
        if let Some((uid, gid)) = self.run_as {
            for d in [&self.root, &self.socket_dir()] {
                nix::unistd::chown(d.as_path(), Some(uid), Some(gid))
                    .with_context(|| format!("giving {} to the postgres user", d.display()))?;
            }
            make_parents_traversable(&self.root)?;
        }
        Ok(())
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin_dir.join(program));
        // The cluster user may not be able to enter our working directory.
        cmd.current_dir("/");
        cmd.env("LC_ALL", "C");
        if let Some((uid, gid)) = self.run_as {
            // std drops supplementary groups when root switches uid.
            cmd.uid(uid.as_raw()).gid(gid.as_raw());
        }
        cmd
    }

    fn run(&self, mut cmd: Command, what: &str) -> anyhow::Result<()> {
        let out = cmd.output().with_context(|| format!("running {what}"))?;
        if !out.status.success() {
            bail!(
                "{what} failed ({}):\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    fn initdb(&self) -> anyhow::Result<()> {
        tracing::info!(dir = %self.cluster_dir().display(), "creating the private Postgres cluster");
        let mut cmd = self.command("initdb");
        cmd.arg("-D")
            .arg(self.cluster_dir())
            .args(["-U", SUPERUSER, "-E", "UTF8", "--no-locale", "--auth=trust"]);
        self.run(cmd, "initdb")?;
        // Socket-only: the socket directory is private (0700), so trust is
        // limited to this machine's root and the cluster's own user.
        let extra = format!(
            "\n# Added by Lyceum: private, socket-only cluster.\n\
             listen_addresses = ''\n\
             unix_socket_directories = '{}'\n\
             port = {SOCKET_PORT}\n",
            self.socket_dir().display().to_string().replace('\'', "''")
        );
        let conf = self.cluster_dir().join("postgresql.conf");
        let mut body = std::fs::read_to_string(&conf).context("reading postgresql.conf")?;
        body.push_str(&extra);
        std::fs::write(&conf, body).context("writing postgresql.conf")?;
        Ok(())
    }

    /// The postmaster's PID from `postmaster.pid`, if the file is there.
    fn recorded_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.cluster_dir().join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok().filter(|p: &i32| *p > 0)
    }

    /// What `postmaster.pid` says and what is true: no cluster running, one
    /// we can use, or a stale lock left by a postmaster that died (`kill -9`,
    /// a crash, the machine's OOM killer).
    fn existing(&self) -> Existing {
        let Some(pid) = self.recorded_pid() else {
            return Existing::None;
        };
        // `pg_ctl status` (and Postgres itself) only ask kill(pid, 0), which
        // also succeeds for a zombie, or for an unrelated process that got
        // the PID since: ask /proc whether it is a live process of this cluster.
        if self.cluster_processes().contains(&pid) {
            Existing::Running(pid)
        } else {
            Existing::Stale(pid)
        }
    }

    /// Live (not zombie) processes working in this cluster's directory: the
    /// postmaster and its children all `chdir` there.
    fn cluster_processes(&self) -> Vec<i32> {
        let Ok(cluster) = self.cluster_dir().canonicalize() else {
            return Vec::new();
        };
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                let proc_dir = PathBuf::from(format!("/proc/{pid}"));
                let alive = std::fs::read_to_string(proc_dir.join("stat"))
                    .ok()
                    .and_then(|st| st.rsplit_once(')').map(|(_, rest)| rest.trim_start().chars().next()))
                    .is_some_and(|state| !matches!(state, Some('Z' | 'X' | 'x')));
                alive && std::fs::read_link(proc_dir.join("cwd")).is_ok_and(|cwd| cwd == cluster)
            })
            .collect()
    }

    /// Whether the cluster accepts connections now (`pg_isready` semantics:
    /// not while it starts up, recovers or shuts down).
    fn accepting(&self) -> bool {
        let isready = self.bin_dir.join("pg_isready");
        if isready.is_file() {
            let mut cmd = self.command("pg_isready");
            cmd.arg("-q")
                .arg("-h")
                .arg(self.socket_dir())
                .args(["-p", &SOCKET_PORT.to_string(), "-t", "2"]);
            return cmd.status().map(|s| s.success()).unwrap_or(false);
        }
        std::os::unix::net::UnixStream::connect(self.socket_dir().join(format!(".s.PGSQL.{SOCKET_PORT}"))).is_ok()
    }

    /// A postmaster died without cleaning up: waits for its children to
    /// notice (they exit on postmaster death) so two generations never share
    /// the data directory, then removes the lock files it left, as Postgres
    /// does itself when the recorded PID is plainly gone. Starting the
    /// cluster then runs crash recovery from the WAL: nothing committed is lost.
    fn clear_stale(&self, pid: i32) -> anyhow::Result<()> {
        tracing::warn!(
            pid,
            "the private Postgres did not shut down cleanly (its postmaster is gone); \
             clearing its lock files and starting it (crash recovery runs on start)"
        );
        let deadline = Instant::now() + STALE_CHILDREN_WAIT;
        loop {
            let left = self.cluster_processes();
            if left.is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                bail!(
                    "the private Postgres' postmaster (PID {pid}) is gone but processes {left:?} still run in {}; \
                     stop them and start again",
                    self.cluster_dir().display()
                );
            }
            std::thread::sleep(POLL);
        }
        let socket = self.socket_dir().join(format!(".s.PGSQL.{SOCKET_PORT}"));
        for f in [
            self.cluster_dir().join("postmaster.pid"),
            socket.with_file_name(format!(".s.PGSQL.{SOCKET_PORT}.lock")),
            socket,
        ] {
            match std::fs::remove_file(&f) {
                Ok(()) => tracing::info!(file = %f.display(), "removed stale lock file"),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("removing stale {}", f.display())),
            }
        }
        Ok(())
    }

    /// Waits until a running cluster accepts connections (it may be starting
    /// up or recovering); `false` if its postmaster died meanwhile.
    fn wait_ready(&self, pid: i32) -> anyhow::Result<bool> {
        let deadline = Instant::now() + READY_WAIT;
        loop {
            if self.accepting() {
                return Ok(true);
            }
            if !self.cluster_processes().contains(&pid) {
                return Ok(false);
            }
            if Instant::now() >= deadline {
                bail!(
                    "the private Postgres (PID {pid}) runs but has not accepted connections for {} s; \
                     see {}",
                    READY_WAIT.as_secs(),
                    self.log_file().display()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    fn start_server(mut self) -> anyhow::Result<Self> {
        match self.existing() {
            Existing::None => {}
            Existing::Running(pid) => {
                if self.wait_ready(pid)? {
                    tracing::info!("the private Postgres is already running; using it");
                    return Ok(self);
                }
                self.clear_stale(pid)?;
            }
            Existing::Stale(pid) => self.clear_stale(pid)?,
        }
        let mut cmd = self.command("pg_ctl");
        cmd.arg("-D")
            .arg(self.cluster_dir())
            .arg("-l")
            .arg(self.log_file())
            .args(["-w", "-t", &READY_WAIT.as_secs().to_string(), "start"]);
        self.run(cmd, "pg_ctl start")
            .with_context(|| format!("see {} for the Postgres log", self.log_file().display()))?;
        self.started_here = true;
        tracing::info!(socket = %self.socket_dir().display(), "private Postgres started");
        Ok(self)
    }

    /// Stops the cluster if this process started it; a fast shutdown rolls
    /// back open transactions and checkpoints, so nothing committed is lost.
    pub fn stop(&mut self) {
        if !self.started_here {
            return;
        }
        self.started_here = false;
        let mut cmd = self.command("pg_ctl");
        cmd.arg("-D").arg(self.cluster_dir()).args(["-m", "fast", "-w", "stop"]);
        match self.run(cmd, "pg_ctl stop") {
            Ok(()) => tracing::info!("private Postgres stopped"),
            Err(e) => tracing::warn!(error = %e, "stopping the private Postgres"),
        }
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Creates the application database inside the cluster if it is missing.
pub async fn ensure_database(pg: &EmbeddedPostgres) -> anyhow::Result<()> {
    let (client, conn) = pg
        .config(SUPERUSER)
        .connect(tokio_postgres::NoTls)
        .await
        .context("connecting to the private Postgres")?;
    let conn = tokio::spawn(conn);
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&DATABASE_NAME])
        .await?
        .is_some();
    if !exists {
        client
            .batch_execute(&format!("CREATE DATABASE {DATABASE_NAME}"))
            .await?;
    }
    drop(client);
    let _ = conn.await;
    Ok(())
}

/// Root runs the cluster as `postgres`; anyone else runs it as themselves.
fn unprivileged_user() -> anyhow::Result<Option<(nix::unistd::Uid, nix::unistd::Gid)>> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    let user = nix::unistd::User::from_name("postgres")
        .context("looking up the postgres user")?
        .context(
            "running as root, but there is no `postgres` system user to run the private \
             Postgres as (Postgres refuses to run as root). Install Postgres from your \
             distribution's packages (e.g. `apt-get install postgresql`), which creates it, \
             or set LYCEUM__DATABASE__URL to an existing database",
        )?;
    Ok(Some((user.uid, user.gid)))
}

/// The cluster user must be able to walk down to its directory; add only the
/// execute (search) bit for others where it is missing, never read or write.
fn make_parents_traversable(dir: &Path) -> anyhow::Result<()> {
    let mut p = dir.parent();
    while let Some(d) = p {
        let meta = std::fs::metadata(d)?;
        let mode = meta.permissions().mode();
        if mode & 0o001 == 0 {
            tracing::warn!(dir = %d.display(), "adding o+x so the postgres user can reach the data directory");
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(mode | 0o001))?;
        }
        p = d.parent();
    }
    Ok(())
}

/// Finds the directory holding both `initdb` and `pg_ctl`.
pub fn find_bin_dir(configured: Option<&Path>) -> anyhow::Result<PathBuf> {
    let has_both = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    if let Some(d) = configured {
        if has_both(d) {
            return Ok(d.to_path_buf());
        }
        bail!("database.embedded_bin_dir = {} holds no initdb and pg_ctl", d.display());
    }
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            // initdb finds `postgres` next to its real location, so follow symlinks.
            if let Ok(real) = d.join("initdb").canonicalize() {
                if let Some(parent) = real.parent() {
                    candidates.push(parent.to_path_buf());
                }
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        // Newest major version first.
        let mut versions: Vec<(u32, PathBuf)> = entries
            .flatten()
            .filter_map(|e| {
                let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
                Some((v, e.path().join("bin")))
            })
            .collect();
        versions.sort_by_key(|v| std::cmp::Reverse(v.0));
        candidates.extend(versions.into_iter().map(|(_, p)| p));
    }
    candidates.into_iter().find(|d| has_both(d)).context(
        "no database configured and no Postgres binaries (initdb, pg_ctl) found on PATH or \
         under /usr/lib/postgresql/*/bin. Install Postgres (e.g. `apt-get install postgresql`) \
         or set LYCEUM__DATABASE__URL=postgres://user@host/db",
    )
}
