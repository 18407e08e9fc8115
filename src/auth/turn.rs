//! Time-limited TURN credentials in the scheme coturn's `use-auth-secret`
//! expects (the "TURN REST API" draft, draft-uberti-behave-turn-rest-00):
//! the username is `<unix expiry>:<user id>` and the password (the
//! credential) is `base64(HMAC-SHA1(static-auth-secret, username))`. coturn
//! recomputes the HMAC from the same shared secret and refuses a username
//! whose expiry has passed, so nothing is stored and nothing needs revoking:
//! a credential simply runs out (`turn.ttl_secs`).

use base64::Engine as _;
use chrono::{DateTime, TimeZone, Utc};
use hmac::{Hmac, Mac};
use lyceum_actors::UserId;
use secrecy::{ExposeSecret, SecretString};

use crate::configuration::TurnSettings;

/// The relay's URLs and the secret shared with it, from `[turn]`.
pub struct TurnIssuer {
    urls: Vec<String>,
    secret: SecretString,
    ttl_secs: u64,
}

/// One handed-out credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnCredential {
    pub urls: Vec<String>,
    pub username: String,
    pub credential: String,
    pub expires_at: DateTime<Utc>,
}

impl TurnIssuer {
    /// None when no TURN is configured (`turn.urls` empty). The settings
    /// were validated: with URLs there is a secret.
    pub fn from_settings(s: &TurnSettings) -> Option<TurnIssuer> {
        if s.urls.is_empty() {
            return None;
        }
        Some(TurnIssuer {
            urls: s.urls.clone(),
            secret: s.secret.clone()?,
            ttl_secs: s.ttl_secs,
        })
    }

    /// A credential for `user`, valid from `now` for `turn.ttl_secs`.
    pub fn issue(&self, user: UserId, now: DateTime<Utc>) -> TurnCredential {
        let expiry = now
            .timestamp()
            .saturating_add(i64::try_from(self.ttl_secs).unwrap_or(i64::MAX));
        let username = format!("{expiry}:{}", user.0);
        TurnCredential {
            urls: self.urls.clone(),
            credential: sign(self.secret.expose_secret().as_bytes(), &username),
            username,
            expires_at: Utc.timestamp_opt(expiry, 0).single().unwrap_or(now),
        }
    }
}

/// `base64(HMAC-SHA1(secret, username))`, standard alphabet with padding, as
/// coturn computes it.
pub fn sign(secret: &[u8], username: &str) -> String {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let Ok(mut mac) = <Hmac<sha1::Sha1> as Mac>::new_from_slice(secret) else {
        unreachable!("HMAC accepts keys of every length")
    };
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer() {
        // RFC 2202 test case 2 (HMAC-SHA1, key "Jefe"): the digest
        // effcdf6ae5eb2fa2d27416d5f184df9c259a7c79, base64-encoded.
        assert_eq!(
            sign(b"Jefe", "what do ya want for nothing?"),
            "7/zfauXrL6LSdBbV8YTfnCWafHk="
        );
    }

    #[test]
    fn username_carries_the_expiry_and_the_user() {
        let issuer = TurnIssuer::from_settings(&TurnSettings {
            urls: vec!["turn:127.0.0.1:3478?transport=udp".to_owned()],
            secret: Some(SecretString::from("0123456789abcdef")),
            ttl_secs: 600,
        })
        .unwrap();
        let user = UserId(uuid::Uuid::new_v4());
        let now = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let c = issuer.issue(user, now);
        assert_eq!(c.username, format!("1700000600:{}", user.0));
        assert_eq!(c.expires_at.timestamp(), 1_700_000_600);
        assert_eq!(c.credential, sign(b"0123456789abcdef", &c.username));
        assert_eq!(c.urls, ["turn:127.0.0.1:3478?transport=udp"]);
    }

    #[test]
    fn no_urls_no_issuer() {
        let s = TurnSettings {
            urls: vec![],
            secret: Some(SecretString::from("0123456789abcdef")),
            ttl_secs: 600,
        };
        assert!(TurnIssuer::from_settings(&s).is_none());
    }
}
