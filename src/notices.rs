//! In-app notices of mentorship and review events (issue 17): a row in
//! `notifications` (what `GET /api/notifications` and the bell read, next to
//! the reminders) and the same as a live `notification` event to the user's
//! open connections. Written after the change commits, and best effort: a
//! notice that cannot be stored is logged, and the change it tells of stands.

use lyceum_protocol::frames::Event;
use lyceum_protocol::UserId;
use serde_json::{json, Value};

use crate::state::AppState;

/// Tells `user` of `kind` (`payload` carries a `title` in words and ids).
pub async fn notify(state: &AppState, user: UserId, kind: &'static str, payload: Value) {
    let stored = async {
        let client = state.pool.get().await?;
        let row = client
            .query_one(
                "INSERT INTO notifications (user_id, kind, payload) VALUES ($1, $2, $3) RETURNING id",
                &[&user, &kind, &payload],
            )
            .await?;
        Ok::<i64, crate::error::ApiError>(row.get(0))
    };
    match stored.await {
        Ok(id) => state.realtime.services.fanout.to_user(
            user,
            Event::Notification {
                id: json!(id),
                kind: kind.to_owned(),
                payload,
            }
            .frame()
            .into(),
        ),
        Err(e) => tracing::warn!(error = %e, kind, "a notice was not stored"),
    }
}
