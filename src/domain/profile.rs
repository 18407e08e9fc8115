//! The profile a user shows (seeds 002 and 003): who they are, what they know
//! and how to reach their public pages. `ProfilePatch` is the validated change
//! a user asks for; `Profile` is what is stored and shown.

use lyceum_protocol::ErrorCode;
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::ApiError;

pub const MAX_HEADLINE: usize = 160;
pub const MAX_BIO: usize = 4000;
pub const MAX_LIST: usize = 50;
pub const MAX_TAGS: usize = 20;
pub const MAX_SHORT: usize = 100;
pub const MAX_TEXT: usize = 2000;
pub const MAX_URL: usize = 2048;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SkillLevel {
    Beginner,
    Intermediate,
    Advanced,
    Expert,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Skill {
    pub name: String,
    pub level: SkillLevel,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExperienceEntry {
    pub title: String,
    pub organization: String,
    /// "YYYY-MM"
    #[serde(default)]
    pub start: Option<String>,
    /// "YYYY-MM"; absent while current.
    #[serde(default)]
    pub end: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Achievement {
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub year: Option<i32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Certification {
    pub name: String,
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default)]
    pub year: Option<i32>,
    #[serde(default)]
    pub url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Project {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
}

/// What anyone signed in may see about a user. There is deliberately no email
/// or phone field here, so no code path can leak them through this type.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub user_id: lyceum_protocol::UserId,
    pub display_name: String,
    pub role: lyceum_actors::Role,
    pub headline: String,
    pub bio: String,
    pub skills: Vec<Skill>,
    pub tags: Vec<String>,
    pub years_of_experience: i32,
    pub experience: Vec<ExperienceEntry>,
    pub achievements: Vec<Achievement>,
    pub certifications: Vec<Certification>,
    pub projects: Vec<Project>,
    pub avatar_url: Option<String>,
    pub linkedin_url: Option<String>,
    pub github_url: Option<String>,
    pub time_zone: String,
    pub is_alumni: bool,
    pub graduation_year: Option<i32>,
    pub employer: Option<String>,
    pub accepts_messages: bool,
    pub rating: Rating,
}

#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rating {
    pub average: f64,
    pub count: i32,
}

/// The owner's own view: the public profile plus their private details.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnProfile {
    #[serde(flatten)]
    pub profile: Profile,
    pub phone: Option<String>,
}

/// A partial update: an absent field is left alone, `null` clears an optional one.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfilePatch {
    pub display_name: Option<String>,
    pub headline: Option<String>,
    pub bio: Option<String>,
    pub skills: Option<Vec<Skill>>,
    pub tags: Option<Vec<String>>,
    pub years_of_experience: Option<i32>,
    pub experience: Option<Vec<ExperienceEntry>>,
    pub achievements: Option<Vec<Achievement>>,
    pub certifications: Option<Vec<Certification>>,
    pub projects: Option<Vec<Project>>,
    #[serde(default, deserialize_with = "present")]
    pub avatar_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub linkedin_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub github_url: Option<Option<String>>,
    pub time_zone: Option<String>,
    pub is_alumni: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    pub graduation_year: Option<Option<i32>>,
    #[serde(default, deserialize_with = "present")]
    pub employer: Option<Option<String>>,
    pub accepts_messages: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    pub phone: Option<Option<String>>,
}

/// Distinguishes a field sent as `null` (Some(None)) from one not sent (None).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

fn bad(field: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorCode::InvalidProfile, format!("{field}: {why}"))
}

fn text(field: &str, s: &str, max: usize, required: bool) -> Result<String, ApiError> {
    let t = s.trim();
    if required && t.is_empty() {
        return Err(bad(field, "must not be empty"));
    }
    if t.chars().count() > max {
        return Err(bad(field, format!("at most {max} characters")));
    }
    if t.chars().any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r') {
        return Err(bad(field, "contains control characters"));
    }
    Ok(t.to_owned())
}

fn opt_text(field: &str, s: Option<String>, max: usize) -> Result<Option<String>, ApiError> {
    s.map(|s| text(field, &s, max, false))
        .transpose()
        .map(|o| o.filter(|s| !s.is_empty()))
}

/// Only http(s) links: a `javascript:` URL in a profile is an XSS waiting to happen.
pub fn url(field: &str, s: &str) -> Result<String, ApiError> {
    let t = s.trim();
    let rest = t
        .strip_prefix("https://")
        .or_else(|| t.strip_prefix("http://"))
        .ok_or_else(|| bad(field, "must be an http(s) URL"))?;
    if rest.is_empty() || t.len() > MAX_URL || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad(field, "must be an http(s) URL"));
    }
    Ok(t.to_owned())
}

fn opt_url(field: &str, s: Option<String>) -> Result<Option<String>, ApiError> {
    match s {
        Some(s) if !s.trim().is_empty() => url(field, &s).map(Some),
        _ => Ok(None),
    }
}

fn year(field: &str, y: i32) -> Result<i32, ApiError> {
    if (1900..=2100).contains(&y) {
        Ok(y)
    } else {
        Err(bad(field, "must be a year between 1900 and 2100"))
    }
}

fn month(field: &str, s: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(s) = s.filter(|s| !s.trim().is_empty()) else {
        return Ok(None);
    };
    let ok = chrono::NaiveDate::parse_from_str(&format!("{}-01", s.trim()), "%Y-%m-%d").is_ok() && s.trim().len() == 7;
    if ok {
        Ok(Some(s.trim().to_owned()))
    } else {
        Err(bad(field, "must look like YYYY-MM"))
    }
}

fn list_len<T>(field: &str, v: &[T], max: usize) -> Result<(), ApiError> {
    if v.len() > max {
        Err(bad(field, format!("at most {max} entries")))
    } else {
        Ok(())
    }
}

pub fn time_zone(s: &str) -> Result<String, ApiError> {
    s.trim()
        .parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_owned())
        .map_err(|_| bad("timeZone", "must be an IANA time zone such as Europe/Berlin"))
}

/// A tag or skill name as it is matched: trimmed and lower-cased.
pub fn normalise_term(s: &str) -> String {
    s.trim().to_lowercase()
}

fn phone(s: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(s) = s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let digits = s.chars().filter(|c| c.is_ascii_digit()).count();
    let allowed = s.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c));
    if allowed && (5..=20).contains(&digits) && s.len() <= 30 {
        Ok(Some(s))
    } else {
        Err(bad("phone", "must be a phone number of 5 to 20 digits"))
    }
}

impl ProfilePatch {
    /// Validates every present field and normalises it in place.
    pub fn validate(mut self) -> Result<ProfilePatch, ApiError> {
        if let Some(h) = self.headline.take() {
            self.headline = Some(text("headline", &h, MAX_HEADLINE, false)?);
        }
        if let Some(b) = self.bio.take() {
            self.bio = Some(text("bio", &b, MAX_BIO, false)?);
        }
        if let Some(skills) = self.skills.take() {
            list_len("skills", &skills, MAX_LIST)?;
            let mut seen = std::collections::HashSet::new();
            let mut out = Vec::with_capacity(skills.len());
            for s in skills {
                let name = text("skills.name", &s.name, MAX_SHORT / 2, true)?;
                if !seen.insert(normalise_term(&name)) {
                    return Err(bad("skills", format!("`{name}` is listed twice")));
                }
                out.push(Skill { name, level: s.level });
            }
            self.skills = Some(out);
        }
        if let Some(tags) = self.tags.take() {
            list_len("tags", &tags, MAX_TAGS)?;
            let mut out: Vec<String> = Vec::new();
            for t in tags {
                let t = normalise_term(&text("tags", &t, 40, true)?);
                if !out.contains(&t) {
                    out.push(t);
                }
            }
            self.tags = Some(out);
        }
        if let Some(y) = self.years_of_experience {
            if !(0..=80).contains(&y) {
                return Err(bad("yearsOfExperience", "must be between 0 and 80"));
            }
        }
        if let Some(list) = self.experience.take() {
            list_len("experience", &list, MAX_LIST)?;
            self.experience = Some(
                list.into_iter()
                    .map(|e| {
                        Ok(ExperienceEntry {
                            title: text("experience.title", &e.title, MAX_SHORT, true)?,
                            organization: text("experience.organization", &e.organization, MAX_SHORT, true)?,
                            start: month("experience.start", e.start)?,
                            end: month("experience.end", e.end)?,
                            description: opt_text("experience.description", e.description, MAX_TEXT)?,
                        })
                    })
                    .collect::<Result<_, ApiError>>()?,
            );
        }
        if let Some(list) = self.achievements.take() {
            list_len("achievements", &list, MAX_LIST)?;
            self.achievements = Some(
                list.into_iter()
                    .map(|a| {
                        Ok(Achievement {
                            title: text("achievements.title", &a.title, MAX_SHORT * 2, true)?,
                            description: opt_text("achievements.description", a.description, MAX_TEXT)?,
                            year: a.year.map(|y| year("achievements.year", y)).transpose()?,
                        })
                    })
                    .collect::<Result<_, ApiError>>()?,
            );
        }
        if let Some(list) = self.certifications.take() {
            list_len("certifications", &list, MAX_LIST)?;
            self.certifications = Some(
                list.into_iter()
                    .map(|c| {
                        Ok(Certification {
                            name: text("certifications.name", &c.name, MAX_SHORT * 2, true)?,
                            issuer: opt_text("certifications.issuer", c.issuer, MAX_SHORT)?,
                            year: c.year.map(|y| year("certifications.year", y)).transpose()?,
                            url: opt_url("certifications.url", c.url)?,
                        })
                    })
                    .collect::<Result<_, ApiError>>()?,
            );
        }
        if let Some(list) = self.projects.take() {
            list_len("projects", &list, MAX_LIST)?;
            self.projects = Some(
                list.into_iter()
                    .map(|p| {
                        Ok(Project {
                            name: text("projects.name", &p.name, MAX_SHORT * 2, true)?,
                            description: opt_text("projects.description", p.description, MAX_TEXT)?,
                            url: opt_url("projects.url", p.url)?,
                        })
                    })
                    .collect::<Result<_, ApiError>>()?,
            );
        }
        if let Some(v) = self.avatar_url.take() {
            self.avatar_url = Some(opt_url("avatarUrl", v)?);
        }
        if let Some(v) = self.linkedin_url.take() {
            self.linkedin_url = Some(opt_url("linkedinUrl", v)?);
        }
        if let Some(v) = self.github_url.take() {
            self.github_url = Some(opt_url("githubUrl", v)?);
        }
        if let Some(tz) = self.time_zone.take() {
            self.time_zone = Some(time_zone(&tz)?);
        }
        if let Some(Some(y)) = self.graduation_year {
            year("graduationYear", y)?;
        }
        if let Some(v) = self.employer.take() {
            self.employer = Some(opt_text("employer", v, MAX_SHORT)?);
        }
        if let Some(v) = self.phone.take() {
            self.phone = Some(phone(v)?);
        }
        Ok(self)
    }

    /// Applies a validated patch onto the stored profile.
    pub fn apply(self, p: &mut Profile, phone: &mut Option<String>) {
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = self.$f { p.$f = v; } )* };
        }
        set!(
            headline,
            bio,
            skills,
            tags,
            experience,
            achievements,
            certifications,
            projects,
            avatar_url,
            linkedin_url,
            github_url,
            time_zone,
            is_alumni,
            graduation_year,
            employer,
            accepts_messages
        );
        if let Some(y) = self.years_of_experience {
            p.years_of_experience = y;
        }
        if let Some(v) = self.phone {
            *phone = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(json: &str) -> Result<ProfilePatch, ApiError> {
        serde_json::from_str::<ProfilePatch>(json)
            .map_err(|e| bad("body", e))?
            .validate()
    }

    #[test]
    fn null_clears_and_absent_keeps() {
        let p = patch(r#"{"avatarUrl": null}"#).unwrap();
        assert_eq!(p.avatar_url, Some(None));
        assert_eq!(p.github_url, None);
    }

    #[test]
    fn rejects_bad_values() {
        assert!(patch(r#"{"avatarUrl": "javascript:alert(1)"}"#).is_err());
        assert!(patch(r#"{"timeZone": "Mars/Olympus"}"#).is_err());
        assert!(patch(r#"{"yearsOfExperience": 99}"#).is_err());
        assert!(patch(r#"{"skills": [{"name": "Rust", "level": "guru"}]}"#).is_err());
        assert!(
            patch(r#"{"skills": [{"name": "Rust", "level": "expert"}, {"name": "rust", "level": "beginner"}]}"#)
                .is_err()
        );
        assert!(patch(r#"{"phone": "call me"}"#).is_err());
        assert!(patch(r#"{"experience": [{"title": "SWE", "organization": "X", "start": "2020-13"}]}"#).is_err());
        assert!(patch(r#"{"nickname": "x"}"#).is_err());
    }

    #[test]
    fn normalises_tags_and_time_zones() {
        let p = patch(r#"{"tags": [" Interviews ", "interviews", "FAANG"], "timeZone": "Europe/Berlin"}"#).unwrap();
        assert_eq!(p.tags.unwrap(), vec!["interviews", "faang"]);
        assert_eq!(p.time_zone.unwrap(), "Europe/Berlin");
    }
}
