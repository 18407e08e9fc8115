//! Attachments (seed 004's file sharing): uploaded into a room, kept under
//! the data directory, served only to that room's members.

use std::path::PathBuf;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use lyceum_actors::RoomId;
use lyceum_protocol::AttachmentId;
use lyceum_protocol::ErrorCode;
use serde_json::json;
use tokio::io::AsyncWriteExt;

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

/// Checks who is asking and what they send before reading a byte of the
/// body; then streams it to a temporary file under the attachments directory,
/// stopping with 413 `attachment_too_large` (and removing the partial file)
/// the moment the configured limit is passed. A refusal is answered without
/// reading the rest of the body (actix then closes the connection).
pub async fn upload(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: AnyUser,
    path: web::Path<RoomId>,
    mut body: web::Payload,
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
    let name = file_name(&req)?;
    let max = limits.max_attachment_bytes;
    let too_large = || {
        ApiError::new(
            ErrorCode::AttachmentTooLarge,
            format!("an attachment may have at most {max} bytes"),
        )
    };
    // A declared length over the limit is refused before anything is read.
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }

    let id = AttachmentId::new_random();
    let dir = dir(&state);
    let path = dir.join(id.to_string());
    let partial = dir.join(format!("{id}.part"));
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("creating the attachments directory")))?;
    let mut file = tokio::fs::File::create(&partial)
        .await
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("creating attachment file")))?;
    let written = stream_to(&mut body, &mut file, max).await;
    drop(file);
    let size = match written {
        Ok(Some(n)) if n > 0 => n,
        other => {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(match other {
                Ok(Some(_)) => ApiError::new(ErrorCode::InvalidAttachment, "the file is empty"),
                Ok(None) => too_large(),
                Err(e) => e,
            });
        }
    };
    if let Err(e) = tokio::fs::rename(&partial, &path).await {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(ApiError::Internal(anyhow::Error::new(e).context("storing attachment")));
    }
    let size = size as i64;
    let stored = async {
        let client = state.pool.get().await?;
        client
            .execute(
                "INSERT INTO attachments (id, room_id, uploader_id, file_name, content_type, size_bytes) VALUES ($1, $2, $3, $4, $5, $6)",
                &[&id, &room, &me.user, &name, &content_type, &size],
            )
            .await?;
        Ok::<_, ApiError>(())
    }
    .await;
    if let Err(e) = stored {
        let _ = tokio::fs::remove_file(&path).await;
        return Err(e);
    }
    Ok(HttpResponse::Created().json(json!({
        "id": id, "fileName": name, "contentType": content_type, "size": size, "url": format!("/api/attachments/{id}")
    })))
}

/// Copies the body into `file` chunk by chunk; `Ok(None)` as soon as more
/// than `max` bytes arrived (the rest is never read), else the byte count.
async fn stream_to(body: &mut web::Payload, file: &mut tokio::fs::File, max: usize) -> Result<Option<usize>, ApiError> {
    let mut total = 0usize;
    while let Some(chunk) = body.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::new(ErrorCode::InvalidAttachment, format!("reading the upload: {e}")))?;
        total = total.saturating_add(chunk.len());
        if total > max {
            return Ok(None);
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("writing attachment")))?;
    }
    file.flush()
        .await
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("writing attachment")))?;
    Ok(Some(total))
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
