//! Reading and writing profiles: the one place that maps the `profiles` and
//! `users` rows to `Profile`.

use deadpool_postgres::GenericClient;
use lyceum_actors::Role;
use lyceum_protocol::UserId;
use serde::de::DeserializeOwned;

use crate::domain::profile::{normalise_term, Profile, Rating};

const SELECT: &str = "SELECT u.id, u.display_name, u.role, u.phone,
        p.headline, p.bio, p.skills, p.tags, p.years_experience, p.experience,
        p.achievements, p.certifications, p.projects, p.avatar_url, p.linkedin_url,
        p.github_url, p.time_zone, p.is_alumni, p.graduation_year, p.employer,
        p.accepts_messages, p.rating_avg, p.rating_count
   FROM users u JOIN profiles p ON p.user_id = u.id
  WHERE u.id = $1";

fn json<T: DeserializeOwned + Default>(r: &tokio_postgres::Row, col: &str) -> T {
    // Written only by this module from validated types; an unreadable value
    // would be a bug, and an empty list is the safe face to show for it.
    serde_json::from_value(r.get::<_, serde_json::Value>(col)).unwrap_or_default()
}

/// The profile and the owner's private phone number.
pub async fn load(
    client: &impl GenericClient,
    id: UserId,
    for_update: bool,
) -> Result<Option<(Profile, Option<String>)>, tokio_postgres::Error> {
    let sql = if for_update {
        format!("{SELECT} FOR UPDATE OF u, p")
    } else {
        SELECT.to_owned()
    };
    let Some(r) = client.query_opt(&sql, &[&id]).await? else {
        return Ok(None);
    };
    let profile = Profile {
        user_id: r.get("id"),
        display_name: r.get("display_name"),
        role: r.get::<_, String>("role").parse().unwrap_or(Role::Mentee),
        headline: r.get("headline"),
        bio: r.get("bio"),
        skills: json(&r, "skills"),
        tags: r.get("tags"),
        years_of_experience: r.get("years_experience"),
        experience: json(&r, "experience"),
        achievements: json(&r, "achievements"),
        certifications: json(&r, "certifications"),
        projects: json(&r, "projects"),
        avatar_url: r.get("avatar_url"),
        linkedin_url: r.get("linkedin_url"),
        github_url: r.get("github_url"),
        time_zone: r.get("time_zone"),
        is_alumni: r.get("is_alumni"),
        graduation_year: r.get("graduation_year"),
        employer: r.get("employer"),
        accepts_messages: r.get("accepts_messages"),
        rating: Rating {
            average: r.get("rating_avg"),
            count: r.get("rating_count"),
        },
    };
    Ok(Some((profile, r.get("phone"))))
}

pub async fn save(
    client: &impl GenericClient,
    p: &Profile,
    phone: &Option<String>,
) -> Result<(), tokio_postgres::Error> {
    let to_json = |v: serde_json::Result<serde_json::Value>| v.unwrap_or(serde_json::Value::Array(vec![]));
    let skill_names: Vec<String> = p.skills.iter().map(|s| normalise_term(&s.name)).collect();
    // The user row first: the profile trigger reads the display name from it.
    client
        .execute(
            "UPDATE users SET display_name = $2, phone = $3, updated_at = now() WHERE id = $1",
            &[&p.user_id, &p.display_name, phone],
        )
        .await?;
    client
        .execute(
            "UPDATE profiles SET headline = $2, bio = $3, skills = $4, skill_names = $5, tags = $6,
                    years_experience = $7, experience = $8, achievements = $9, certifications = $10,
                    projects = $11, avatar_url = $12, linkedin_url = $13, github_url = $14,
                    time_zone = $15, is_alumni = $16, graduation_year = $17, employer = $18,
                    accepts_messages = $19, updated_at = now()
              WHERE user_id = $1",
            &[
                &p.user_id,
                &p.headline,
                &p.bio,
                &to_json(serde_json::to_value(&p.skills)),
                &skill_names,
                &p.tags,
                &p.years_of_experience,
                &to_json(serde_json::to_value(&p.experience)),
                &to_json(serde_json::to_value(&p.achievements)),
                &to_json(serde_json::to_value(&p.certifications)),
                &to_json(serde_json::to_value(&p.projects)),
                &p.avatar_url,
                &p.linkedin_url,
                &p.github_url,
                &p.time_zone,
                &p.is_alumni,
                &p.graduation_year,
                &p.employer,
                &p.accepts_messages,
            ],
        )
        .await?;
    Ok(())
}
