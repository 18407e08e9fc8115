//! The connection pool and the schema: one place decides where the database is
//! (a configured URL or the embedded private cluster) and brings its schema up
//! to date before anything else touches it.

use std::str::FromStr;

use anyhow::Context;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use secrecy::ExposeSecret;

use crate::configuration::Settings;
use crate::infra::embedded_pg::{self, EmbeddedPostgres};

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// How long a request waits for a free pooled connection.
pub const POOL_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
/// How long opening (or checking) one connection may take.
pub const POOL_CONNECT: std::time::Duration = std::time::Duration::from_secs(3);

/// Arbitrary, fixed key: several nodes starting at once migrate one at a time.
const MIGRATION_LOCK_KEY: i64 = 0x4c59_4345_554d; // "LYCEUM"

/// The database a running server uses, and the private cluster when it owns one.
pub struct Database {
    pub pool: Pool,
    /// Kept so the cluster is stopped when the server shuts down.
    pub embedded: Option<EmbeddedPostgres>,
}

impl Database {
    /// Connects (starting the embedded cluster when no URL is configured) and
    /// applies pending migrations.
    pub async fn open(settings: &Settings) -> anyhow::Result<Database> {
        let (pg_config, embedded) = match &settings.database.url {
            Some(url) => {
                let c = tokio_postgres::Config::from_str(url.expose_secret())
                    .context("database.url is not a valid Postgres URL")?;
                (c, None)
            }
            None => {
                let data_dir = settings.server.data_dir.clone();
                let bin_dir = settings.database.embedded_bin_dir.clone();
                let pg = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&data_dir, bin_dir.as_deref()))
                    .await??;
                embedded_pg::ensure_database(&pg).await?;
                (pg.config(embedded_pg::DATABASE_NAME), Some(pg))
            }
        };
        let pool = build_pool(pg_config, settings.database.max_connections)?;
        migrate(&pool).await?;
        Ok(Database { pool, embedded })
    }

    /// Closes the pool and stops the private cluster if this process started it.
    pub fn close(mut self) {
        self.pool.close();
        if let Some(mut pg) = self.embedded.take() {
            pg.stop();
        }
    }
}

pub fn build_pool(config: tokio_postgres::Config, max: usize) -> anyhow::Result<Pool> {
    let mgr = Manager::from_config(
        config,
        tokio_postgres::NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    // While the database is down a checkout fails at once (the connect is
    // refused); these bound the other cases, a saturated pool or a database
    // that accepts but does not answer, so a request gets its 503
    // `database_unavailable` within seconds rather than hanging.
    Pool::builder(mgr)
        .max_size(max)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(POOL_WAIT))
        .create_timeout(Some(POOL_CONNECT))
        .recycle_timeout(Some(POOL_CONNECT))
        .build()
        .context("building the connection pool")
}

/// Applies the migrations in `migrations/` under an advisory lock.
pub async fn migrate(pool: &Pool) -> anyhow::Result<()> {
    let mut obj = pool.get().await.context("connecting to the database")?;
    let client: &mut tokio_postgres::Client = &mut obj;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await?;
    let result = embedded::migrations::runner().run_async(client).await;
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY])
        .await?;
    let report = result.context("applying migrations")?;
    for m in report.applied_migrations() {
        tracing::info!(migration = %m, "applied");
    }
    Ok(())
}
