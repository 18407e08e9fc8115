//! Refresh tokens: random, stored only as SHA-256 hashes, rotated on every use.
//!
//! A sign-in starts a family. Each refresh marks the presented token as rotated
//! and issues a child in the same family. A rotated token presented again means
//! two parties hold the family (the classic sign of theft), so the whole family
//! is revoked and both must sign in again.

use base64::Engine;
use chrono::{DateTime, Utc};
use lyceum_actors::{Role, UserId};
use lyceum_protocol::ErrorCode;
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// 256 bits: unguessable, and long enough that a fast hash is safe to store.
const TOKEN_BYTES: usize = 32;

pub fn generate() -> String {
    let mut b = [0u8; TOKEN_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

pub fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn expiry(ttl_days: u64) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::days(ttl_days as i64)
}

/// Starts a new family for a fresh sign-in and returns (token, family id).
pub async fn start_family(
    client: &impl deadpool_postgres::GenericClient,
    user: UserId,
    ttl_days: u64,
) -> Result<(String, Uuid), tokio_postgres::Error> {
    let token = generate();
    let family = Uuid::new_v4();
    client
        .execute(
            "INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at)
             VALUES ($1, $1, $2, $3, $4)",
            &[&family, &user, &hash(&token), &expiry(ttl_days)],
        )
        .await?;
    Ok((token, family))
}

#[derive(Debug)]
pub enum Rotation {
    /// The token was current: here is its successor.
    Rotated {
        user: UserId,
        role: Role,
        /// The user's token version, for the new access token.
        version: i32,
        family: Uuid,
        token: String,
    },
    /// The token had already been rotated: the family is now revoked.
    Reused { user: UserId, family: Uuid },
    /// Unknown, revoked or expired.
    Rejected { code: ErrorCode },
}

pub async fn rotate(
    client: &mut deadpool_postgres::Client,
    presented: &str,
    ttl_days: u64,
) -> Result<Rotation, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    // The row lock makes two concurrent uses of one token take turns: the
    // second sees `rotated_at` set and is treated as reuse.
    let row = tx
        .query_opt(
            "SELECT t.id, t.family_id, t.user_id, t.expires_at, t.rotated_at, t.revoked_at, u.role, u.token_version
               FROM refresh_tokens t JOIN users u ON u.id = t.user_id
              WHERE t.token_hash = $1
              FOR UPDATE OF t",
            &[&hash(presented)],
        )
        .await?;
    let Some(row) = row else {
        return Ok(Rotation::Rejected {
            code: ErrorCode::InvalidRefreshToken,
        });
    };
    let id: Uuid = row.get(0);
    let family: Uuid = row.get(1);
    let user: UserId = row.get(2);
    let expires_at: DateTime<Utc> = row.get(3);
    let rotated_at: Option<DateTime<Utc>> = row.get(4);
    let revoked_at: Option<DateTime<Utc>> = row.get(5);
    let role: String = row.get(6);
    let version: i32 = row.get(7);

    if revoked_at.is_some() {
        return Ok(Rotation::Rejected {
            code: ErrorCode::RefreshTokenRevoked,
        });
    }
    if rotated_at.is_some() {
        revoke_family(&tx, family).await?;
        tx.commit().await?;
        return Ok(Rotation::Reused { user, family });
    }
    if expires_at <= Utc::now() {
        return Ok(Rotation::Rejected {
            code: ErrorCode::RefreshTokenExpired,
        });
    }
    let role: Role = role.parse().unwrap_or(Role::Mentee);
    let token = generate();
    tx.execute("UPDATE refresh_tokens SET rotated_at = now() WHERE id = $1", &[&id])
        .await?;
    tx.execute(
        "INSERT INTO refresh_tokens (id, family_id, parent_id, user_id, token_hash, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[&Uuid::new_v4(), &family, &id, &user, &hash(&token), &expiry(ttl_days)],
    )
    .await?;
    tx.commit().await?;
    Ok(Rotation::Rotated {
        user,
        role,
        version,
        family,
        token,
    })
}

pub async fn revoke_family(
    client: &impl deadpool_postgres::GenericClient,
    family: Uuid,
) -> Result<u64, tokio_postgres::Error> {
    client
        .execute(
            "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL",
            &[&family],
        )
        .await
}

/// Revokes the family the presented token belongs to (sign-out). Returns the
/// user and family when the token was known and still live.
pub async fn revoke_by_token(
    client: &impl deadpool_postgres::GenericClient,
    presented: &str,
) -> Result<Option<(UserId, Uuid)>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT user_id, family_id FROM refresh_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
            &[&hash(presented)],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let (user, family): (UserId, Uuid) = (row.get(0), row.get(1));
    revoke_family(client, family).await?;
    Ok(Some((user, family)))
}
