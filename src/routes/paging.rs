//! The two checks every paged list makes of its query: `limit` within
//! 1..=max (`400 invalid_query`), and a numeric id cursor, the positive
//! integer a previous page returned as `nextCursor` (`400 invalid_cursor`).

use lyceum_protocol::ErrorCode;

use crate::error::ApiError;

/// `limit` given, or `default` when absent; anything outside 1..=`max` is
/// `invalid_query`.
pub fn page_limit(given: Option<i64>, default: i64, max: i64) -> Result<i64, ApiError> {
    let limit = given.unwrap_or(default);
    if !(1..=max).contains(&limit) {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            format!("limit must be between 1 and {max}"),
        ));
    }
    Ok(limit)
}

/// A cursor that is a row id (a positive integer); `None` when absent,
/// anything else `invalid_cursor`.
pub fn id_cursor(given: Option<&str>) -> Result<Option<i64>, ApiError> {
    given
        .map(|c| {
            c.parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| ApiError::new(ErrorCode::InvalidCursor, "the cursor is not one this endpoint returned"))
        })
        .transpose()
}
