//! Notices of mentorship and review events (issue 17), through the one
//! notification path (`crate::notify`: stored once per user and event,
//! pushed live after the change commits, and emailed through the outbox
//! when the server sends email and the user's preference for the kind
//! allows). Best effort: the change they tell of has committed already, so
//! a notice that cannot be stored is logged, not turned into a failed
//! request.

use lyceum_protocol::UserId;
use serde_json::Value;

use crate::state::AppState;

/// Tells `user` of `kind`; `key` names the event (with `user`, unique), and
/// `payload` carries a `title` in words and ids.
pub async fn notify(state: &AppState, user: UserId, kind: &'static str, key: String, payload: Value) {
    let stored = async {
        let client = state.pool.get().await?;
        let note = crate::notify::Note {
            user,
            kind,
            key,
            payload,
            mail: state.email_notifications,
        };
        Ok::<_, crate::error::ApiError>(crate::notify::store(&client, note).await?)
    };
    match stored.await {
        Ok(s) => crate::notify::push(state.realtime.services.fanout.as_ref(), s.into_iter().collect()),
        Err(e) => tracing::warn!(error = %e, kind, "a notice was not stored"),
    }
}
