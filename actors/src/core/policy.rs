//! Platform policy that more than one domain applies: who may talk to whom
//! (a direct conversation, a call). Chat and live both ask here, so the
//! answer is the same whichever way a user reaches another.

use deadpool_postgres::Pool;
use lyceum_protocol::{Role, UserId};

use super::Error;

/// Why two users may not talk (seed 004's rules for direct conversations,
/// which calls share).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    NoSuchUser,
    /// A mentor who does not accept messages, from a mentee who never booked them.
    NotAccepted,
    Forbidden,
}

/// May `me` open a conversation (or place a call) with `other`? A mentor or
/// admin may reach anyone; a mentee a mentor who accepts messages or whom
/// they booked, or an admin; never mentee to mentee; guests nobody.
pub async fn may_talk(pool: &Pool, me: UserId, my_role: Role, other: UserId) -> Result<Result<(), Refusal>, Error> {
    let client = pool.get().await?;
    let Some(row) = client
        .query_opt(
            "SELECT u.role, coalesce(p.accepts_messages, true) FROM users u LEFT JOIN profiles p ON p.user_id = u.id WHERE u.id = $1",
            &[&other.0],
        )
        .await?
    else {
        return Ok(Err(Refusal::NoSuchUser));
    };
    let their_role: Role = row.get::<_, String>(0).parse().unwrap_or(Role::Guest);
    let accepts: bool = row.get(1);
    Ok(match (my_role, their_role) {
        _ if me == other => Err(Refusal::Forbidden),
        (_, Role::Guest) | (Role::Guest, _) => Err(Refusal::Forbidden),
        (Role::Mentor | Role::Admin, _) => Ok(()),
        (Role::Mentee, Role::Admin) => Ok(()),
        (Role::Mentee, Role::Mentor) => {
            if accepts {
                Ok(())
            } else {
                let booked = client
                    .query_opt(
                        "SELECT 1 FROM bookings b JOIN offerings o ON o.id = b.offering_id
                          WHERE o.mentor_id = $1 AND b.mentee_id = $2 AND b.status <> 'cancelled' LIMIT 1",
                        &[&other.0, &me.0],
                    )
                    .await?
                    .is_some();
                if booked {
                    Ok(())
                } else {
                    Err(Refusal::NotAccepted)
                }
            }
        }
        (Role::Mentee, Role::Mentee) => Err(Refusal::Forbidden),
    })
}
