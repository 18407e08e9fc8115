//! Attachments (seed 004's file sharing): uploaded into a room, kept under
//! the data directory, served only to that room's members.

use std::path::PathBuf;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use lyceum_actors::RoomId;
use lyceum_protocol::AttachmentId;
use lyceum_protocol::ErrorCode;
use serde_json::json;

use crate::auth::extract::confine_guest;
use crate::auth::AnyUser;
use crate::error::ApiError;
use crate::routes::chat::ws::principal;
use crate::state::AppState;

pub fn dir(state: &AppState) -> PathBuf {
    state.realtime.services.limits.attachments_dir.clone()
}

fn file_name(req: &HttpRequest) -> Result<String, ApiError> {
    let raw = req
        .headers()
        .get("x-file-name")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidAttachment,
                "send the file name in the X-File-Name header",
            )
        })?;
    // Only the last path component, printable, bounded.
    let name = raw.rsplit(['/', '\\']).next().unwrap_or("").trim();
    if name.is_empty() || name.len() > 200 || name.chars().any(|c| c.is_control() || c == '"') {
        return Err(ApiError::new(
            ErrorCode::InvalidAttachment,
            "the file name is empty, too long or has odd characters",
        ));
    }
    Ok(name.to_owned())
}

pub async fn upload(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: AnyUser,
    path: web::Path<RoomId>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let room = path.into_inner();
    let me = principal(&state, user.0).await?;
    confine_guest(&me, room)?;
    // Only members may upload (admins read group rooms but do not post in them).
    if lyceum_actors::chat::store::load_member(&state.pool, room, me.user)
        .await?
        .is_none()
    {
        return Err(ApiError::new(
            ErrorCode::NotAMember,
            "you are not a member of this room",
        ));
    }
    let limits = &state.realtime.services.limits;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_lowercase())
        .unwrap_or_default();
    if !limits.attachment_types.contains(&content_type) {
        return Err(ApiError::new(
            ErrorCode::UnsupportedAttachmentType,
            format!("allowed types: {}", limits.attachment_types.join(", ")),
        ));
    }
    if body.len() > limits.max_attachment_bytes {
        return Err(ApiError::new(
            ErrorCode::AttachmentTooLarge,
            format!("an attachment may have at most {} bytes", limits.max_attachment_bytes),
        ));
    }
    if body.is_empty() {
        return Err(ApiError::new(ErrorCode::InvalidAttachment, "the file is empty"));
    }
    let name = file_name(&req)?;
    let id = AttachmentId::new_random();
    let dir = dir(&state);
    let path = dir.join(id.to_string());
    let size = body.len() as i64;
    web::block(move || {
        std::fs::create_dir_all(&dir)?;
        std::fs::write(&path, &body)
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("{e}")))?
    .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("writing attachment")))?;
    let client = state.pool.get().await?;
    client
        .execute(
            "INSERT INTO attachments (id, room_id, uploader_id, file_name, content_type, size_bytes) VALUES ($1, $2, $3, $4, $5, $6)",
            &[&id, &room, &me.user, &name, &content_type, &size],
        )
        .await?;
    Ok(HttpResponse::Created().json(json!({
        "id": id, "fileName": name, "contentType": content_type, "size": size, "url": format!("/api/attachments/{id}")
    })))
}

pub async fn download(
    state: web::Data<AppState>,
    user: AnyUser,
    path: web::Path<AttachmentId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let client = state.pool.get().await?;
    let row = client
        .query_opt(
            "SELECT a.file_name, a.content_type, a.room_id FROM attachments a
               JOIN room_members m ON m.room_id = a.room_id AND m.user_id = $2
              WHERE a.id = $1",
            &[&id, &user.0.id],
        )
        .await?
        // Not found and not yours look the same: no probing for ids.
        .ok_or_else(|| ApiError::new(ErrorCode::AttachmentNotFound, "no such attachment"))?;
    let (name, content_type): (String, String) = (row.get(0), row.get(1));
    let file = dir(&state).join(id.to_string());
    let bytes = web::block(move || std::fs::read(file))
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("{e}")))?
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("reading attachment")))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(bytes))
}
