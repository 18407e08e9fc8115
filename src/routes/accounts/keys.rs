//! Public keys for end-to-end encrypted conversations. The server stores and
//! hands out each user's public key; it never sees a private key, and rooms
//! marked e2ee carry only ciphertext (enforced by the room actor).

use actix_web::{web, HttpResponse};
use lyceum_protocol::ErrorCode;
use lyceum_protocol::UserId;
use serde::Deserialize;
use serde_json::json;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::routes::json::Json;
use crate::state::AppState;

/// Room for a JWK or a base64 SPKI of any common curve.
const MAX_KEY: usize = 4096;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PublishKey {
    public_key: String,
}

pub async fn publish(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<PublishKey>,
) -> Result<HttpResponse, ApiError> {
    let key = body.public_key.trim();
    if key.is_empty() || key.len() > MAX_KEY || key.chars().any(char::is_control) {
        return Err(ApiError::new(
            ErrorCode::InvalidKey,
            format!("a public key is 1 to {MAX_KEY} printable characters"),
        ));
    }
    let client = state.pool.get().await?;
    client
        .execute("UPDATE users SET public_key = $2 WHERE id = $1", &[&user.id, &key])
        .await?;
    Ok(HttpResponse::Ok().json(json!({"userId": user.id, "publicKey": key})))
}

pub async fn get(
    state: web::Data<AppState>,
    _user: AuthUser,
    path: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let client = state.pool.get().await?;
    let row = client
        .query_opt("SELECT public_key FROM users WHERE id = $1", &[&id])
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::UserNotFound, "no such user"))?;
    let key: Option<String> = row.get(0);
    let key = key.ok_or_else(|| ApiError::new(ErrorCode::KeyNotFound, "this user has not published a key"))?;
    Ok(HttpResponse::Ok().json(json!({"userId": id, "publicKey": key})))
}

// ---- keys per device (issue 15) ----
//
// Each browser (device) keeps its own ECDH P-256 key pair; the server holds
// the public halves, checked to be points on the curve, and tells a user's
// direct-conversation peers when a device is added (`device_added`).

/// The most devices one user may publish keys for.
pub const MAX_DEVICES: i64 = 10;

/// A device's public key as stored and sent: the 65-byte uncompressed P-256
/// point (`0x04 ‖ X ‖ Y`, what WebCrypto's `exportKey("raw")` gives), in
/// standard base64 with padding (88 characters).
pub fn parse_device_key(text: &str) -> Result<Vec<u8>, ApiError> {
    use base64::Engine;
    let bad = |why: &str| {
        ApiError::new(
            ErrorCode::InvalidKey,
            format!("a device key is a P-256 public key: the 65-byte uncompressed point in standard base64 ({why})"),
        )
    };
    if text.len() != 88 {
        return Err(bad("it must be 88 characters"));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| bad("it is not base64"))?;
    if bytes.len() != 65 || bytes[0] != 4 {
        return Err(bad("it is not an uncompressed point"));
    }
    p256::PublicKey::from_sec1_bytes(&bytes).map_err(|_| bad("the point is not on the curve"))?;
    Ok(bytes)
}

/// SHA-256 of the key's 65 bytes, its first 30 bytes read as six 5-byte
/// big-endian numbers, each shown as five digits (its value mod 100,000):
/// "12345 67890 …", 35 characters. The browser computes the same
/// (web/assets/e2ee.js) from the key itself.
pub fn fingerprint(key: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(key);
    hash[..30]
        .chunks(5)
        .map(|c| {
            let n = c.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
            format!("{:05}", n % 100_000)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn check_device_id(id: &str) -> Result<(), ApiError> {
    if (8..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::InvalidDevice,
            "a device id is 8 to 64 letters, digits, '-' or '_'",
        ))
    }
}

fn device_json(r: &tokio_postgres::Row) -> serde_json::Value {
    json!({
        "deviceId": r.get::<_, String>("device_id"),
        "publicKey": r.get::<_, String>("public_key"),
        "fingerprint": r.get::<_, String>("fingerprint"),
        "createdAt": r.get::<_, chrono::DateTime<chrono::Utc>>("created_at"),
    })
}

pub async fn put_device(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    body: Json<PublishKey>,
) -> Result<HttpResponse, ApiError> {
    let device = path.into_inner();
    check_device_id(&device)?;
    let key = body.public_key.trim();
    let bytes = parse_device_key(key)?;
    let print = fingerprint(&bytes);
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    // One user's device changes wait for each other, so the limit holds.
    tx.execute("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", &[&user.id])
        .await?;
    let existing = tx
        .query_opt(
            "SELECT user_id, public_key FROM device_keys WHERE device_id = $1",
            &[&device],
        )
        .await?;
    let changed = match existing {
        Some(r) if r.get::<_, UserId>(0) != user.id => {
            return Err(ApiError::forbidden("this device id belongs to another account"));
        }
        Some(r) if r.get::<_, String>(1) == key => false,
        Some(_) => {
            tx.execute(
                "UPDATE device_keys SET public_key = $2, fingerprint = $3, created_at = now() WHERE device_id = $1",
                &[&device, &key, &print],
            )
            .await?;
            true
        }
        None => {
            let n: i64 = tx
                .query_one("SELECT count(*) FROM device_keys WHERE user_id = $1", &[&user.id])
                .await?
                .get(0);
            if n >= MAX_DEVICES {
                return Err(ApiError::new(
                    ErrorCode::TooManyDevices,
                    format!("an account may have keys for at most {MAX_DEVICES} devices; remove one first"),
                ));
            }
            tx.execute(
                "INSERT INTO device_keys (device_id, user_id, public_key, fingerprint) VALUES ($1, $2, $3, $4)",
                &[&device, &user.id, &key, &print],
            )
            .await?;
            true
        }
    };
    let row = tx
        .query_one(
            "SELECT device_id, public_key, fingerprint, created_at FROM device_keys WHERE device_id = $1",
            &[&device],
        )
        .await?;
    let peers: Vec<UserId> = if changed {
        tx.query(
            "SELECT DISTINCT o.user_id FROM room_members me
               JOIN rooms r ON r.id = me.room_id AND r.kind = 'direct'
               JOIN room_members o ON o.room_id = r.id AND o.user_id <> me.user_id
              WHERE me.user_id = $1",
            &[&user.id],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect()
    } else {
        Vec::new()
    };
    tx.commit().await?;
    let body = device_json(&row);
    if changed {
        let frame = lyceum_protocol::frames::Event::DeviceAdded {
            user_id: user.id,
            device_id: device.clone(),
            fingerprint: print,
        }
        .frame();
        let fanout = &state.realtime.services.fanout;
        // The user's own other devices learn of it too (they encrypt to it).
        fanout.to_user(user.id, frame.clone().into());
        for p in peers {
            fanout.to_user(p, frame.clone().into());
        }
        Ok(HttpResponse::Created().json(body))
    } else {
        Ok(HttpResponse::Ok().json(body))
    }
}

pub async fn list_devices(
    state: web::Data<AppState>,
    _user: AuthUser,
    path: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let client = state.pool.get().await?;
    if client
        .query_opt("SELECT 1 FROM users WHERE id = $1", &[&id])
        .await?
        .is_none()
    {
        return Err(ApiError::new(ErrorCode::UserNotFound, "no such user"));
    }
    let rows = client
        .query(
            "SELECT device_id, public_key, fingerprint, created_at FROM device_keys
              WHERE user_id = $1 ORDER BY created_at, device_id",
            &[&id],
        )
        .await?;
    let devices: Vec<_> = rows.iter().map(device_json).collect();
    Ok(HttpResponse::Ok().json(json!({"userId": id, "devices": devices})))
}

pub async fn delete_device(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let device = path.into_inner();
    let client = state.pool.get().await?;
    let owner: Option<UserId> = client
        .query_opt("SELECT user_id FROM device_keys WHERE device_id = $1", &[&device])
        .await?
        .map(|r| r.get(0));
    match owner {
        None => Err(ApiError::new(ErrorCode::DeviceNotFound, "no such device")),
        Some(o) if o != user.id => Err(ApiError::forbidden("this device belongs to another account")),
        Some(_) => {
            client
                .execute(
                    "DELETE FROM device_keys WHERE device_id = $1 AND user_id = $2",
                    &[&device, &user.id],
                )
                .await?;
            Ok(HttpResponse::NoContent().finish())
        }
    }
}
