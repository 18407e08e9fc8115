//! Typed ids: a `UserId` can never be passed where a room or offering id is
//! meant. Each is a UUID on the wire (the bare string), parsed once at the
//! edge (a path segment, a JSON field) and carried typed from there on.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn new_random() -> Self {
                $name(Uuid::new_v4())
            }
            pub fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map($name)
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                $name(u)
            }
        }

        #[cfg(feature = "postgres")]
        impl postgres_types::ToSql for $name {
            fn to_sql(
                &self,
                ty: &postgres_types::Type,
                out: &mut bytes::BytesMut,
            ) -> Result<postgres_types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
                self.0.to_sql(ty, out)
            }
            fn accepts(ty: &postgres_types::Type) -> bool {
                <Uuid as postgres_types::ToSql>::accepts(ty)
            }
            postgres_types::to_sql_checked!();
        }

        #[cfg(feature = "postgres")]
        impl<'a> postgres_types::FromSql<'a> for $name {
            fn from_sql(
                ty: &postgres_types::Type,
                raw: &'a [u8],
            ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
                Uuid::from_sql(ty, raw).map($name)
            }
            fn accepts(ty: &postgres_types::Type) -> bool {
                <Uuid as postgres_types::FromSql>::accepts(ty)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }
    };
}

uuid_id!(
    /// A user account (mentee, mentor, admin or guest).
    UserId
);
uuid_id!(
    /// A chat room: a direct conversation or a group room.
    RoomId
);
uuid_id!(
    /// A bookable offering of a mentor's calendar: a one-on-one slot or a
    /// group session (webinar).
    OfferingId
);
uuid_id!(
    /// A one-on-one call (ringing, then a live room of its own).
    CallId
);
uuid_id!(
    /// A live room in the media sense: a group session that is on air, a
    /// call in a chat room, or a one-on-one call. Its UUID is the id of
    /// what it is the live room of (the offering, the room or the call),
    /// which is why the wire calls it `sessionId`.
    LiveId
);
uuid_id!(
    /// An uploaded attachment.
    AttachmentId
);
uuid_id!(
    /// A mentee's booking of an offering (confirmed, waitlisted or
    /// cancelled).
    BookingId
);
uuid_id!(
    /// A review of one booking, by its mentee (of the mentor) or its mentor
    /// (of the mentee).
    ReviewId
);
uuid_id!(
    /// A report of a review to the moderation queue.
    ReportId
);
uuid_id!(
    /// A mentee's goal (seed 002), with milestones and progress.
    GoalId
);
uuid_id!(
    /// Seed 002's Mentorship: a mentee's request to a mentor for a span of
    /// time, and what became of it.
    MentorshipId
);

impl From<OfferingId> for LiveId {
    fn from(id: OfferingId) -> LiveId {
        LiveId(id.0)
    }
}

impl From<RoomId> for LiveId {
    fn from(id: RoomId) -> LiveId {
        LiveId(id.0)
    }
}

impl From<CallId> for LiveId {
    fn from(id: CallId) -> LiveId {
        LiveId(id.0)
    }
}

#[cfg(all(test, feature = "json"))]
mod tests {
    use super::*;

    #[test]
    fn ids_are_bare_uuid_strings_on_the_wire() {
        let u = Uuid::new_v4();
        let id = OfferingId(u);
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{u}\""));
        assert_eq!(serde_json::from_str::<OfferingId>(&format!("\"{u}\"")).unwrap(), id);
        assert_eq!(id.to_string().parse::<OfferingId>().unwrap(), id);
        assert!("not-a-uuid".parse::<UserId>().is_err());
        assert_eq!(LiveId::from(id).0, u);
    }
}
