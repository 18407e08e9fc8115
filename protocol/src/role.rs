//! The roles of seed 003's role-based access control, plus seed 004's guests.

use serde::{Deserialize, Serialize};

/// What a user may do. Mentees (students) book and ask; mentors (alumni and
/// experts) offer time and host sessions; admins moderate and are never
/// self-registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Mentee,
    Mentor,
    Admin,
    /// An anonymous participant confined to one public room (seed 004).
    Guest,
}

#[derive(Debug, thiserror::Error)]
#[error("unknown role `{0}`: expected mentee, mentor, admin or guest")]
pub struct ParseRoleError(pub String);

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Mentee => "mentee",
            Role::Mentor => "mentor",
            Role::Admin => "admin",
            Role::Guest => "guest",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = ParseRoleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "mentee" => Ok(Role::Mentee),
            "mentor" => Ok(Role::Mentor),
            "admin" => Ok(Role::Admin),
            "guest" => Ok(Role::Guest),
            other => Err(ParseRoleError(other.to_owned())),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_reject_unknown() {
        for r in [Role::Mentee, Role::Mentor, Role::Admin, Role::Guest] {
            assert_eq!(r.as_str().parse::<Role>().ok(), Some(r));
        }
        assert!("root".parse::<Role>().is_err());
        assert!("Admin".parse::<Role>().is_err());
    }
}
