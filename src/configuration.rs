//! Typed settings: the embedded `config/default.toml`, then `config/default.toml`
//! and `config/$LYCEUM_ENV.toml` on disk when present, then `LYCEUM__SECTION__KEY`
//! environment variables. Unknown keys anywhere are an error, and secrets are
//! wrapped so that `Debug` and logs never show them.

use std::path::{Path, PathBuf};

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The defaults compiled into the binary, so `lyceum` runs from any directory.
const EMBEDDED_DEFAULTS: &str = include_str!("../config/default.toml");

/// The longest an access token may live (issue 2: at most 15 minutes).
pub const MAX_ACCESS_TOKEN_TTL_SECS: u64 = 15 * 60;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub auth: AuthSettings,
    pub rate_limit: RateLimitSettings,
    pub log: LogSettings,
    pub chat: ChatSettings,
    pub calendar: CalendarSettings,
    pub reminders: ReminderSettings,
    pub smtp: SmtpSettings,
    pub sfu: SfuSettings,
    pub turn: TurnSettings,
    pub metrics: MetricsSettings,
    pub boards: BoardSettings,
    pub notifications: NotificationSettings,
}

/// The TURN relay the browsers are told about (`GET /api/live/ice-servers`,
/// docs/live.md "TURN"): coturn with `use-auth-secret`, which takes the
/// time-limited credentials the server mints from the shared secret.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TurnSettings {
    /// `turn:` / `turns:` URLs of the relay; empty: no TURN is handed out.
    pub urls: Vec<String>,
    /// coturn's `static-auth-secret`; required when `urls` is not empty.
    #[serde(deserialize_with = "empty_secret_is_none")]
    pub secret: Option<SecretString>,
    /// How long a handed-out credential is valid, in seconds.
    pub ttl_secs: u64,
}

/// The longest `turn.ttl_secs` may be: a leaked credential is a relay for
/// anyone until it expires.
pub const MAX_TURN_TTL_SECS: u64 = 7 * 86_400;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SfuSettings {
    pub enabled: bool,
    /// Shard threads; 0 means one per core.
    pub shards: usize,
    /// Address the UDP sockets bind to.
    pub bind: String,
    /// First UDP port (shard i uses port + i); 0 lets the OS choose.
    pub port: u16,
    /// Address announced in ICE candidates (for servers behind NAT); empty: the bound address.
    pub advertise: String,
    /// A participant whose connection stays down this long is removed.
    pub fail_timeout_secs: u64,
    /// An empty live room stays up this long before its actor stops.
    pub empty_room_grace_secs: u64,
    /// Pick simulcast layers from each subscriber's estimated bandwidth.
    pub bwe: bool,
    pub initial_bitrate: u64,
    /// A room's subscribers stay on its shard until that shard has this many
    /// peers; later ones go to the shard with the fewest (0: from the first).
    pub spread_at: usize,
    /// Coalesce a subscriber's datagrams with UDP GSO (Linux).
    pub gso: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// Empty: `/metrics` answers loopback clients only. Otherwise scrapers
    /// send `Authorization: Bearer <token>`.
    #[serde(deserialize_with = "empty_secret_is_none")]
    pub token: Option<SecretString>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoardSettings {
    /// Hold an account's posts for a moderator's review until this many of
    /// its posts were published (0: never hold).
    pub hold_first_posts: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationSettings {
    /// How long after the first direct message received while offline the
    /// one digest email goes out (later ones in the window join it).
    pub digest_delay_secs: u64,
    /// The site's address for links in emails (unsubscribe, threads), e.g.
    /// "https://lyceum.example.org"; empty: `http(s)://server.host:server.port`.
    pub public_url: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReminderSettings {
    pub enabled: bool,
    pub poll_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    /// May carry credentials, hence secret.
    #[serde(deserialize_with = "empty_secret_is_none")]
    pub url: Option<SecretString>,
    pub from: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarSettings {
    /// Calendars one connection may watch at once.
    pub max_watches_per_connection: usize,
    /// A calendar actor with no watchers and no pending change stops after this long.
    pub idle_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatSettings {
    pub max_message_bytes: usize,
    pub max_frame_bytes: usize,
    pub outbound_queue: usize,
    pub catch_up_stall_secs: u64,
    pub messages_per_second: u32,
    pub message_burst: u32,
    pub guest_messages_per_second: u32,
    pub guest_message_burst: u32,
    pub max_attachment_bytes: usize,
    pub attachment_types: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub data_dir: PathBuf,
    #[serde(deserialize_with = "empty_path_is_none")]
    pub tls_cert: Option<PathBuf>,
    #[serde(deserialize_with = "empty_path_is_none")]
    pub tls_key: Option<PathBuf>,
    pub allow_plain_http_non_loopback: bool,
    pub shutdown_timeout_secs: u64,
    pub workers: usize,
    pub trust_forwarded_for: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// May carry a password, hence secret.
    #[serde(deserialize_with = "empty_secret_is_none")]
    pub url: Option<SecretString>,
    pub max_connections: usize,
    #[serde(deserialize_with = "empty_path_is_none")]
    pub embedded_bin_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    #[serde(deserialize_with = "empty_secret_is_none")]
    pub url: Option<SecretString>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    #[serde(deserialize_with = "empty_secret_is_none")]
    pub jwt_secret: Option<SecretString>,
    /// Key material that TOTP secrets are sealed with at rest; empty: one is
    /// generated once and kept in `data_dir/totp_key`. Every node of a
    /// cluster needs the same value.
    #[serde(deserialize_with = "empty_secret_is_none")]
    pub totp_key: Option<SecretString>,
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_days: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    pub login_per_ip_per_minute: u32,
    pub login_per_account_per_minute: u32,
    pub register_per_ip_per_hour: u32,
    /// Booking changes (book, cancel, session register/unregister) per user.
    pub bookings_per_user_per_minute: u32,
    /// Two-factor code attempts (sign-in and /api/me/2fa) per account.
    pub two_factor_per_account_per_minute: u32,
    /// Two-factor code attempts per client address.
    pub two_factor_per_ip_per_minute: u32,
    /// New board threads and replies per user.
    pub board_posts_per_user_per_minute: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub filter: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

impl Settings {
    /// Loads the layered configuration from the process environment.
    pub fn load() -> anyhow::Result<Settings> {
        let dir = std::env::var("LYCEUM_CONFIG_DIR").unwrap_or_else(|_| "config".to_owned());
        let env = std::env::var("LYCEUM_ENV").ok().filter(|e| !e.is_empty());
        Self::load_from(Path::new(&dir), env.as_deref(), true)
    }

    /// Only the compiled-in defaults: what tests start from before overriding.
    pub fn embedded_defaults() -> anyhow::Result<Settings> {
        let s = config::Config::builder()
            .add_source(config::File::from_str(EMBEDDED_DEFAULTS, config::FileFormat::Toml))
            .build()?;
        Self::finish(s)
    }

    fn load_from(dir: &Path, env: Option<&str>, read_env_vars: bool) -> anyhow::Result<Settings> {
        let mut b = config::Config::builder()
            .add_source(config::File::from_str(EMBEDDED_DEFAULTS, config::FileFormat::Toml))
            .add_source(config::File::from(dir.join("default.toml")).required(false));
        if let Some(env) = env {
            let file = dir.join(format!("{env}.toml"));
            anyhow::ensure!(file.exists(), "LYCEUM_ENV={env} but {} does not exist", file.display());
            b = b.add_source(config::File::from(file));
        }
        if read_env_vars {
            b = b.add_source(
                config::Environment::with_prefix("LYCEUM")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true)
                    .list_separator(",")
                    .with_list_parse_key("chat.attachment_types")
                    .with_list_parse_key("turn.urls"),
            );
        }
        Self::finish(b.build().context("reading configuration")?)
    }

    fn finish(c: config::Config) -> anyhow::Result<Settings> {
        let s: Settings = c
            .try_deserialize()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        s.validate()?;
        Ok(s)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.auth.access_token_ttl_secs > 0 && self.auth.access_token_ttl_secs <= MAX_ACCESS_TOKEN_TTL_SECS,
            "auth.access_token_ttl_secs must be between 1 and {MAX_ACCESS_TOKEN_TTL_SECS}"
        );
        anyhow::ensure!(
            self.auth.refresh_token_ttl_days > 0,
            "auth.refresh_token_ttl_days must be positive"
        );
        anyhow::ensure!(
            self.server.tls_cert.is_some() == self.server.tls_key.is_some(),
            "server.tls_cert and server.tls_key must be set together"
        );
        anyhow::ensure!(
            self.database.max_connections > 0,
            "database.max_connections must be positive"
        );
        anyhow::ensure!(
            self.chat.max_message_bytes > 0 && self.chat.max_message_bytes < self.chat.max_frame_bytes,
            "chat.max_message_bytes must be positive and below chat.max_frame_bytes"
        );
        anyhow::ensure!(self.chat.outbound_queue > 0, "chat.outbound_queue must be positive");
        anyhow::ensure!(
            self.chat.catch_up_stall_secs > 0,
            "chat.catch_up_stall_secs must be positive"
        );
        anyhow::ensure!(
            self.calendar.max_watches_per_connection > 0,
            "calendar.max_watches_per_connection must be positive"
        );
        anyhow::ensure!(self.calendar.idle_secs > 0, "calendar.idle_secs must be positive");
        anyhow::ensure!(self.reminders.poll_ms >= 10, "reminders.poll_ms must be at least 10");
        anyhow::ensure!(
            self.notifications.public_url.is_empty()
                || ((self.notifications.public_url.starts_with("http://")
                    || self.notifications.public_url.starts_with("https://"))
                    && !self.notifications.public_url.contains(char::is_whitespace)),
            "notifications.public_url must be empty or an http:// or https:// address"
        );
        anyhow::ensure!(
            self.sfu.bind.parse::<std::net::IpAddr>().is_ok(),
            "sfu.bind must be an IP address"
        );
        anyhow::ensure!(
            self.sfu.advertise.is_empty() || self.sfu.advertise.parse::<std::net::IpAddr>().is_ok(),
            "sfu.advertise must be empty or an IP address"
        );
        anyhow::ensure!(self.sfu.shards <= 256, "sfu.shards must be at most 256");
        anyhow::ensure!(self.sfu.fail_timeout_secs > 0, "sfu.fail_timeout_secs must be positive");
        self.validate_turn()?;
        if let Some(secret) = &self.auth.jwt_secret {
            anyhow::ensure!(
                secret.expose_secret().len() >= 32,
                "auth.jwt_secret must be at least 32 characters"
            );
        }
        if let Some(key) = &self.auth.totp_key {
            anyhow::ensure!(
                key.expose_secret().len() >= 32,
                "auth.totp_key must be at least 32 characters"
            );
        }
        Ok(())
    }

    fn validate_turn(&self) -> anyhow::Result<()> {
        let turn = &self.turn;
        anyhow::ensure!(
            turn.ttl_secs > 0 && turn.ttl_secs <= MAX_TURN_TTL_SECS,
            "turn.ttl_secs must be between 1 and {MAX_TURN_TTL_SECS}"
        );
        for url in &turn.urls {
            let rest = url.strip_prefix("turn:").or_else(|| url.strip_prefix("turns:"));
            anyhow::ensure!(
                rest.is_some_and(|r| !r.trim().is_empty() && !r.contains(char::is_whitespace)),
                "turn.urls: {url:?} is not a turn: or turns: URL (for example \"turn:127.0.0.1:3478?transport=udp\")"
            );
        }
        if !turn.urls.is_empty() {
            let secret = turn.secret.as_ref().map(|s| s.expose_secret().len()).unwrap_or(0);
            anyhow::ensure!(
                secret >= 16,
                "turn.secret (coturn's static-auth-secret, at least 16 characters) must be set when turn.urls is"
            );
        }
        Ok(())
    }

    pub fn tls_enabled(&self) -> bool {
        self.server.tls_cert.is_some()
    }
}

fn empty_path_is_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    Ok(s.filter(|s| !s.trim().is_empty()).map(PathBuf::from))
}

fn empty_secret_is_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    Ok(s.filter(|s| !s.trim().is_empty()).map(SecretString::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, body: &str) {
        std::fs::write(dir.join(name), body).unwrap();
    }

    #[test]
    fn defaults_parse_and_have_no_database_url() {
        let s = Settings::embedded_defaults().unwrap();
        assert_eq!(s.server.port, 8080);
        assert!(s.database.url.is_none());
        assert!(s.server.tls_cert.is_none());
    }

    #[test]
    fn environment_file_overrides_and_unknown_keys_are_rejected() {
        let dir = std::env::temp_dir().join(format!("lyceum-cfg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        write(&dir, "staging.toml", "[server]\nport = 9999\n");
        let s = Settings::load_from(&dir, Some("staging"), false).unwrap();
        assert_eq!(s.server.port, 9999);

        write(&dir, "typo.toml", "[server]\nprot = 1\n");
        let err = Settings::load_from(&dir, Some("typo"), false).unwrap_err().to_string();
        assert!(err.contains("prot"), "{err}");

        write(&dir, "long.toml", "[auth]\naccess_token_ttl_secs = 3600\n");
        assert!(Settings::load_from(&dir, Some("long"), false).is_err());
        assert!(Settings::load_from(&dir, Some("missing"), false).is_err());
    }

    #[test]
    fn turn_needs_a_secret_and_turn_urls() {
        let dir = std::env::temp_dir().join(format!("lyceum-cfg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let s = Settings::load_from(&dir, None, false).unwrap();
        assert!(s.turn.urls.is_empty() && s.turn.secret.is_none());
        assert_eq!(s.turn.ttl_secs, 3600);

        write(&dir, "nosecret.toml", "[turn]\nurls = [\"turn:127.0.0.1:3478\"]\n");
        let err = Settings::load_from(&dir, Some("nosecret"), false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("turn.secret"), "{err}");

        write(
            &dir,
            "stun.toml",
            "[turn]\nurls = [\"stun:127.0.0.1:3478\"]\nsecret = \"0123456789abcdef\"\n",
        );
        let err = Settings::load_from(&dir, Some("stun"), false).unwrap_err().to_string();
        assert!(err.contains("turn.urls"), "{err}");

        write(&dir, "ttl.toml", "[turn]\nttl_secs = 0\n");
        let err = Settings::load_from(&dir, Some("ttl"), false).unwrap_err().to_string();
        assert!(err.contains("turn.ttl_secs"), "{err}");

        write(
            &dir,
            "ok.toml",
            "[turn]\nurls = [\"turn:127.0.0.1:3478?transport=udp\", \"turns:turn.example.org:5349\"]\nsecret = \"0123456789abcdef\"\nttl_secs = 600\n",
        );
        let s = Settings::load_from(&dir, Some("ok"), false).unwrap();
        assert_eq!(s.turn.urls.len(), 2);
        assert_eq!(s.turn.ttl_secs, 600);
        assert!(!format!("{s:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn turn_urls_come_from_one_comma_separated_variable() {
        // Only this test sets LYCEUM__TURN__* (no other reads the environment).
        std::env::set_var(
            "LYCEUM__TURN__URLS",
            "turn:127.0.0.1:3478?transport=udp,turn:127.0.0.1:3478?transport=tcp",
        );
        std::env::set_var("LYCEUM__TURN__SECRET", "0123456789abcdef");
        std::env::set_var("LYCEUM__TURN__TTL_SECS", "120");
        let dir = std::env::temp_dir().join(format!("lyceum-cfg-{}", uuid::Uuid::new_v4()));
        let s = Settings::load_from(&dir, None, true);
        for k in ["URLS", "SECRET", "TTL_SECS"] {
            std::env::remove_var(format!("LYCEUM__TURN__{k}"));
        }
        let s = s.unwrap();
        assert_eq!(
            s.turn.urls,
            ["turn:127.0.0.1:3478?transport=udp", "turn:127.0.0.1:3478?transport=tcp"]
        );
        assert_eq!(s.turn.ttl_secs, 120);
        assert_eq!(s.turn.secret.unwrap().expose_secret(), "0123456789abcdef");
    }

    #[test]
    fn secrets_are_not_in_debug_output() {
        let mut s = Settings::embedded_defaults().unwrap();
        s.database.url = Some(SecretString::from("postgres://u:hunter2@db/x"));
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
