//! The one board query the realtime core makes: whether a thread may be
//! watched (it exists, is not deleted and is not hidden). Every signed-in
//! account reads every category, so that is all a watch needs; guests are
//! refused before (they are confined to their room).

use deadpool_postgres::Pool;
use lyceum_protocol::ErrorCode;
use uuid::Uuid;

use crate::core::Error;

pub async fn watchable(pool: &Pool, thread: Uuid) -> Result<(), Error> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached("SELECT 1 FROM board_threads WHERE id = $1 AND deleted_at IS NULL AND NOT hidden")
        .await?;
    match client.query_opt(&stmt, &[&thread]).await? {
        Some(_) => Ok(()),
        None => Err(Error::new(ErrorCode::ThreadNotFound, "no such thread")),
    }
}
