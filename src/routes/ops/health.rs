//! Liveness (`/healthz`: the process answers) and readiness (`/readyz`: the
//! database answers too), for load balancers and orchestrators.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

/// A readiness probe that hangs is as bad as one that fails.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let check = async {
        let client = state.pool.get().await?;
        client.query_one("SELECT 1", &[]).await?;
        Ok::<_, ApiError>(())
    };
    match tokio::time::timeout(READY_TIMEOUT, check).await {
        Ok(Ok(())) => Ok(HttpResponse::Ok().json(json!({"status": "ready", "database": "ok"}))),
        Ok(Err(e)) => Err(ApiError::DatabaseUnavailable(format!("database not ready: {e}"))),
        Err(_) => Err(ApiError::DatabaseUnavailable("database check timed out".to_owned())),
    }
}
