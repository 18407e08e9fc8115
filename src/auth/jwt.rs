//! Short-lived access tokens: an HS256 JWT carrying the user id, role, the
//! refresh-token family it was issued from and the user's token version
//! (whether it still stands is `lyceum_actors::core::Credentials`' question).

use std::path::Path;

use anyhow::Context;
use jsonwebtoken::{decode, encode, errors::ErrorKind, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use lyceum_actors::core::Credential;
use lyceum_actors::{Role, UserId};
use lyceum_protocol::ErrorCode;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ApiError;

const ISSUER: &str = "lyceum";
/// Tolerated clock difference between nodes, in seconds.
const LEEWAY_SECS: u64 = 5;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub role: Role,
    /// The refresh-token family (one per sign-in).
    pub sid: Uuid,
    /// The user's `token_version` when the token was issued; a role change
    /// or "sign out everywhere" moves it on and so revokes the token.
    /// Tokens from before the claim existed count as version 0.
    #[serde(default)]
    pub ver: i32,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
}

#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    pub ttl_secs: u64,
}

impl JwtKeys {
    pub fn new(secret: &[u8], ttl_secs: u64) -> JwtKeys {
        JwtKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            ttl_secs,
        }
    }

    pub fn issue(&self, user: UserId, role: Role, family: Uuid, version: i32) -> anyhow::Result<String> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user.0,
            role,
            sid: family,
            ver: version,
            iat: now,
            exp: now + self.ttl_secs as i64,
            iss: ISSUER.to_owned(),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).context("signing token")
    }

    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = LEEWAY_SECS;
        v.set_issuer(&[ISSUER]);
        v.set_required_spec_claims(&["exp", "sub", "iss"]);
        decode::<Claims>(token, &self.decoding, &v)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => {
                    ApiError::new(ErrorCode::TokenExpired, "the access token has expired; refresh it")
                }
                _ => ApiError::new(ErrorCode::InvalidToken, "the access token is not valid"),
            })
    }
}

impl Claims {
    pub fn credential(&self) -> Credential {
        Credential {
            user: UserId(self.sub),
            role: self.role,
            sign_in: self.sid,
            version: self.ver,
            expires_at: self.exp,
        }
    }
}

/// The configured secret, or the one generated on first start and kept in
/// `data_dir/jwt_secret` (mode 0600) so tokens survive restarts.
pub fn load_or_create_secret(configured: Option<&SecretString>, data_dir: &Path) -> anyhow::Result<SecretString> {
    load_or_create_named_secret(configured, data_dir, "jwt_secret", "JWT signing secret")
}

/// The configured secret, or one generated on first start and kept in
/// `data_dir/<file>` (mode 0600); `what` names it in the log.
pub fn load_or_create_named_secret(
    configured: Option<&SecretString>,
    data_dir: &Path,
    file: &str,
    what: &str,
) -> anyhow::Result<SecretString> {
    if let Some(s) = configured {
        return Ok(s.clone());
    }
    use std::os::unix::fs::OpenOptionsExt;
    let path = data_dir.join(file);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim().to_owned();
        anyhow::ensure!(
            existing.len() >= 32,
            "{} is too short; delete it to regenerate",
            path.display()
        );
        return Ok(SecretString::from(existing));
    }
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let mut bytes = [0u8; 48];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = hex::encode(bytes);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    std::io::Write::write_all(&mut f, secret.as_bytes())?;
    tracing::info!(path = %path.display(), "generated a new {what}");
    Ok(SecretString::from(secret))
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys")
            .field("ttl_secs", &self.ttl_secs)
            .finish_non_exhaustive()
    }
}

pub fn secret_bytes(s: &SecretString) -> Vec<u8> {
    s.expose_secret().as_bytes().to_vec()
}
