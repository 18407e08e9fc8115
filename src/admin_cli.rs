//! `lyceum admin create`: the only way an admin account comes to be.

use anyhow::Context;
use lyceum_actors::Role;
use lyceum_protocol::UserId;
use rand::RngCore;
use serde_json::json;

use crate::audit::{self, action};
use crate::auth::password;
use crate::configuration::Settings;
use crate::domain::{DisplayName, Email, Password};
use crate::infra::db::Database;

pub struct CreateAdmin {
    pub email: String,
    pub display_name: String,
    /// None: generate one and print it once.
    pub password: Option<String>,
}

/// Creates the admin, or promotes an existing account with that email.
pub async fn create_admin(settings: &Settings, args: CreateAdmin) -> anyhow::Result<()> {
    let email = Email::parse(&args.email).map_err(|e| anyhow::anyhow!("{e}"))?;
    let name = DisplayName::parse(&args.display_name).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (password, generated) = match args.password {
        Some(p) => (p, false),
        None => {
            let mut b = [0u8; 18];
            rand::rngs::OsRng.fill_bytes(&mut b);
            (hex::encode(b), true)
        }
    };
    let pw = Password::parse(&password, email.as_str()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let hash = password::hash(pw.expose().to_owned()).await?;

    let db = Database::open(settings).await?;
    let result = async {
        let mut client = db.pool.get().await.context("connecting")?;
        let tx = client.transaction().await?;
        let existing = tx
            .query_opt(
                "SELECT id, role FROM users WHERE lower(email) = $1 FOR UPDATE",
                &[&email.as_str()],
            )
            .await?;
        let (id, from) = match existing {
            Some(r) => {
                let id: UserId = r.get(0);
                tx.execute(
                    // A role change moves the token version on: tokens
                    // carrying the old role stop working (a running server
                    // sees it within `core::credentials::FRESH_FOR`).
                    "UPDATE users SET role = 'admin', updated_at = now(),
                            token_version = token_version + (role <> 'admin')::int
                      WHERE id = $1",
                    &[&id],
                )
                .await?;
                (id, Some(r.get::<_, String>(1)))
            }
            None => {
                let id = UserId::new_random();
                tx.execute(
                    "INSERT INTO users (id, email, password_hash, display_name, role) VALUES ($1, $2, $3, $4, 'admin')",
                    &[&id, &email.as_str(), &hash, &name.as_str()],
                )
                .await?;
                tx.execute(
                    "INSERT INTO profiles (user_id, display_name) VALUES ($1, $2)",
                    &[&id, &name.as_str()],
                )
                .await?;
                (id, None)
            }
        };
        audit::record(
            &tx,
            audit::Entry {
                actor: None,
                subject: Some(id),
                action: action::ROLE_CHANGED,
                ip: None,
                details: json!({"from": from, "to": Role::Admin, "via": "cli"}),
            },
        )
        .await?;
        tx.commit().await?;
        match from {
            Some(old) => println!(
                "promoted {} ({id}) from {old} to admin; their password is unchanged",
                email.as_str()
            ),
            None => {
                println!("created admin {} ({id})", email.as_str());
                if generated {
                    println!("password (shown once): {password}");
                }
            }
        }
        anyhow::Ok(())
    }
    .await;
    tokio::task::spawn_blocking(move || db.close()).await?;
    result
}
