-- Profiles and the mentor directory (issue 2; seeds 001, 002, 003).

CREATE TABLE profiles (
    user_id           uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    -- Mirrors users.display_name so directory queries need no join.
    display_name      text NOT NULL DEFAULT '',
    headline          text NOT NULL DEFAULT '',
    bio               text NOT NULL DEFAULT '',
    -- [{"name": "Rust", "level": "expert"}]
    skills            jsonb NOT NULL DEFAULT '[]'::jsonb,
    -- Lower-cased skill names, kept in step with `skills`, for the skill filter.
    skill_names       text[] NOT NULL DEFAULT '{}',
    tags              text[] NOT NULL DEFAULT '{}',
    years_experience  integer NOT NULL DEFAULT 0 CHECK (years_experience BETWEEN 0 AND 80),
    experience        jsonb NOT NULL DEFAULT '[]'::jsonb,
    achievements      jsonb NOT NULL DEFAULT '[]'::jsonb,
    certifications    jsonb NOT NULL DEFAULT '[]'::jsonb,
    projects          jsonb NOT NULL DEFAULT '[]'::jsonb,
    avatar_url        text,
    linkedin_url      text,
    github_url        text,
    time_zone         text NOT NULL DEFAULT 'UTC',
    is_alumni         boolean NOT NULL DEFAULT false,
    graduation_year   integer,
    employer          text,
    -- Seed 004: a mentee may message a mentor who accepts messages.
    accepts_messages  boolean NOT NULL DEFAULT true,
    -- Filled by the review system (a later issue); the directory filters on it now.
    rating_avg        double precision NOT NULL DEFAULT 0,
    rating_count      integer NOT NULL DEFAULT 0,
    -- Mirrors users.role = 'mentor' so directory indexes can be partial.
    is_mentor         boolean NOT NULL DEFAULT false,
    search            tsvector NOT NULL DEFAULT ''::tsvector,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- The search document: name, headline and skills weigh most, tags next, bio last.
CREATE FUNCTION profiles_search_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search :=
        setweight(to_tsvector('english', NEW.display_name), 'A') ||
        setweight(to_tsvector('english', NEW.headline), 'A') ||
        setweight(to_tsvector('english', array_to_string(NEW.skill_names, ' ')), 'A') ||
        setweight(to_tsvector('english', array_to_string(NEW.tags, ' ')), 'B') ||
        setweight(to_tsvector('english', coalesce(NEW.employer, '')), 'B') ||
        setweight(to_tsvector('english', NEW.bio), 'C');
    RETURN NEW;
END $$;

CREATE TRIGGER profiles_search BEFORE INSERT OR UPDATE ON profiles
    FOR EACH ROW EXECUTE FUNCTION profiles_search_update();

-- A new name or role reaches the directory through the profile row.
-- (Inserts set both columns themselves.)
CREATE FUNCTION users_sync_profile() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE profiles SET is_mentor = (NEW.role = 'mentor'), display_name = NEW.display_name,
                        updated_at = now()
     WHERE user_id = NEW.id;
    RETURN NEW;
END $$;

CREATE TRIGGER users_sync_profile AFTER UPDATE OF role, display_name ON users
    FOR EACH ROW EXECUTE FUNCTION users_sync_profile();

CREATE INDEX profiles_search_idx ON profiles USING gin (search) WHERE is_mentor;
CREATE INDEX profiles_skills_idx ON profiles USING gin (skill_names) WHERE is_mentor;
CREATE INDEX profiles_tags_idx ON profiles USING gin (tags) WHERE is_mentor;
CREATE INDEX profiles_rating_idx ON profiles (rating_avg DESC, user_id DESC) WHERE is_mentor;
CREATE INDEX profiles_experience_idx ON profiles (years_experience DESC, user_id DESC) WHERE is_mentor;
