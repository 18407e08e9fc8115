//! A profile picture (seed 002's `profile_picture`): uploaded as the raw
//! bytes of a PNG, JPEG or WebP image (at most 1 MiB), checked by its first
//! bytes, stored under `data_dir/avatars/` with a fresh name, and served
//! from `/avatars/{file}` to anyone (it is on public pages). Setting a new
//! one or removing it deletes the old file.

use actix_web::http::header::{self, CACHE_CONTROL, CONTENT_SECURITY_POLICY, X_CONTENT_TYPE_OPTIONS};
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use lyceum_protocol::ErrorCode;
use serde_json::json;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::state::AppState;

pub const MAX_AVATAR_BYTES: usize = 1024 * 1024;
const TYPES: [(&str, &str); 3] = [("image/png", "png"), ("image/jpeg", "jpg"), ("image/webp", "webp")];

fn dir(state: &AppState) -> std::path::PathBuf {
    state.avatars_dir.clone()
}

fn io(e: std::io::Error, what: &str) -> ApiError {
    ApiError::Internal(anyhow::Error::new(e).context(what.to_owned()))
}

/// Whether the bytes are what the type says.
fn magic_ok(ext: &str, b: &[u8]) -> bool {
    match ext {
        "png" => b.starts_with(b"\x89PNG\r\n\x1a\n"),
        "jpg" => b.starts_with(&[0xFF, 0xD8, 0xFF]),
        "webp" => b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP",
        _ => false,
    }
}

/// The file an `avatar_url` of ours points at, if it is one.
fn our_file(url: Option<&str>) -> Option<&str> {
    url.and_then(|u| u.strip_prefix("/avatars/")).filter(|f| valid_name(f))
}

fn valid_name(f: &str) -> bool {
    f.len() <= 80
        && !f.is_empty()
        && f.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && !f.starts_with('.')
}

async fn set_url(state: &AppState, user: &AuthUser, url: Option<String>) -> Result<(), ApiError> {
    let client = state.pool.get().await?;
    let old: Option<String> = client
        .query_opt(
            "UPDATE profiles p SET avatar_url = $2, updated_at = now() FROM profiles o
              WHERE p.user_id = $1 AND o.user_id = p.user_id RETURNING o.avatar_url",
            &[&user.id, &url],
        )
        .await?
        .and_then(|r| r.get(0));
    if let Some(f) = our_file(old.as_deref()) {
        if url.as_deref() != old.as_deref() {
            let _ = tokio::fs::remove_file(dir(state).join(f)).await;
        }
    }
    Ok(())
}

/// `PUT /api/me/avatar`: the body is the image.
pub async fn put(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: AuthUser,
    mut body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let ctype = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_lowercase())
        .unwrap_or_default();
    let Some((_, ext)) = TYPES.iter().find(|(t, _)| *t == ctype) else {
        return Err(ApiError::new(
            ErrorCode::InvalidAvatar,
            "an avatar is a PNG, JPEG or WebP image (Content-Type image/png, image/jpeg or image/webp)",
        ));
    };
    let too_large = || {
        ApiError::new(
            ErrorCode::AvatarTooLarge,
            format!("an avatar may have at most {MAX_AVATAR_BYTES} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_AVATAR_BYTES as u64) {
        return Err(too_large());
    }
    let mut bytes = web::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| ApiError::new(ErrorCode::InvalidAvatar, format!("reading the upload: {e}")))?;
        if bytes.len() + chunk.len() > MAX_AVATAR_BYTES {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    if bytes.is_empty() || !magic_ok(ext, &bytes) {
        return Err(ApiError::new(
            ErrorCode::InvalidAvatar,
            format!("the file is not a {ctype} image"),
        ));
    }
    let d = dir(&state);
    tokio::fs::create_dir_all(&d)
        .await
        .map_err(|e| io(e, "creating the avatars directory"))?;
    let name = format!("{}-{}.{ext}", user.id, Uuid::new_v4().simple());
    let partial = d.join(format!("{name}.part"));
    tokio::fs::write(&partial, &bytes)
        .await
        .map_err(|e| io(e, "writing an avatar"))?;
    tokio::fs::rename(&partial, d.join(&name))
        .await
        .map_err(|e| io(e, "writing an avatar"))?;
    let url = format!("/avatars/{name}");
    if let Err(e) = set_url(&state, &user, Some(url.clone())).await {
        let _ = tokio::fs::remove_file(d.join(&name)).await;
        return Err(e);
    }
    Ok(HttpResponse::Ok().json(json!({"avatarUrl": url, "bytes": bytes.len()})))
}

/// `DELETE /api/me/avatar`: no picture.
pub async fn delete(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    set_url(&state, &user, None).await?;
    Ok(HttpResponse::Ok().json(json!({"avatarUrl": null})))
}

/// `GET /avatars/{file}`: public, immutable (every upload has a new name).
pub async fn serve(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let name = path.into_inner();
    let not_found = || ApiError::new(ErrorCode::NotFound, "no such avatar");
    if !valid_name(&name) || name.ends_with(".part") {
        return Err(not_found());
    }
    let ext = name.rsplit('.').next().unwrap_or("");
    let (ctype, _) = TYPES.iter().find(|(_, e)| *e == ext).ok_or_else(not_found)?;
    let bytes = tokio::fs::read(dir(&state).join(&name))
        .await
        .map_err(|_| not_found())?;
    Ok(HttpResponse::Ok()
        .content_type(*ctype)
        .insert_header((X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((CONTENT_SECURITY_POLICY, "default-src 'none'; sandbox"))
        .insert_header((CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(bytes))
}
