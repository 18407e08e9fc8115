//! `/api/live/…`: what a browser needs besides the WebSocket to take part
//! in live rooms. `GET /api/live/ice-servers` hands a signed-in user the
//! TURN relay (`[turn]`) with a time-limited credential of its own
//! (`auth::turn`), for networks that block UDP to the SFU (docs/live.md
//! "TURN"). Guests are refused: they never join a live room.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::state::AppState;

/// One entry of `iceServers`, shaped as the browser's `RTCIceServer`.
#[derive(Serialize)]
struct IceServer {
    urls: Vec<String>,
    username: String,
    credential: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IceServers {
    /// Ready for `new RTCPeerConnection({iceServers})`; empty without TURN.
    ice_servers: Vec<IceServer>,
    /// When the credential stops working; null without TURN.
    expires_at: Option<DateTime<Utc>>,
}

pub async fn ice_servers(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let body = match &state.turn {
        None => IceServers {
            ice_servers: Vec::new(),
            expires_at: None,
        },
        Some(turn) => {
            let c = turn.issue(user.id, Utc::now());
            IceServers {
                ice_servers: vec![IceServer {
                    urls: c.urls,
                    username: c.username,
                    credential: c.credential,
                }],
                expires_at: Some(c.expires_at),
            }
        }
    };
    // A credential is personal and short-lived: no cache may keep it.
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(body))
}
