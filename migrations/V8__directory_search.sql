-- Issue 14: a free-text search ranks every matching mentor, so it reads every
-- matching row. In `profiles` a row is ~1.5 KB (bio, skills, experience, the
-- search document), and a word a fifth of all mentors have read nearly every
-- heap page (20-30 ms with 10,000 mentors, docs/benchmarks.md). This narrow
-- copy holds only what a search filters, ranks and sorts on (~0.5 KB a row,
-- a third of the pages); the directory ranks here and reads the 20 rows it
-- shows from `profiles`. Kept in step by a trigger: only mentors are in it.

CREATE TABLE directory_search (
    user_id           uuid PRIMARY KEY REFERENCES profiles (user_id) ON DELETE CASCADE,
    search            tsvector NOT NULL,
    skill_names       text[] NOT NULL,
    tags              text[] NOT NULL,
    years_experience  integer NOT NULL,
    rating_avg        double precision NOT NULL
);
CREATE INDEX directory_search_idx ON directory_search USING gin (search);

-- After the row is written, so `search` is the one profiles_search computed.
CREATE FUNCTION profiles_directory_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.is_mentor THEN
        INSERT INTO directory_search (user_id, search, skill_names, tags, years_experience, rating_avg)
        VALUES (NEW.user_id, NEW.search, NEW.skill_names, NEW.tags, NEW.years_experience, NEW.rating_avg)
        ON CONFLICT (user_id) DO UPDATE SET search = EXCLUDED.search, skill_names = EXCLUDED.skill_names,
            tags = EXCLUDED.tags, years_experience = EXCLUDED.years_experience, rating_avg = EXCLUDED.rating_avg;
    ELSE
        DELETE FROM directory_search WHERE user_id = NEW.user_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER profiles_directory_sync AFTER INSERT OR UPDATE ON profiles
    FOR EACH ROW EXECUTE FUNCTION profiles_directory_sync();

INSERT INTO directory_search (user_id, search, skill_names, tags, years_experience, rating_avg)
SELECT user_id, search, skill_names, tags, years_experience, rating_avg FROM profiles WHERE is_mentor;

-- "Has a free slot" (available=true) asks, for each candidate mentor, whether
-- one of their slots still has a seat; without this the probe went through
-- the no-overlap GiST index (~14 µs a mentor, 30 ms for a search matching
-- 1,500 mentors). A partial B-tree of exactly those slots answers in a few.
CREATE INDEX offerings_free_slots ON offerings (mentor_id, starts_at)
    WHERE kind = 'slot' AND state = 'scheduled' AND booked_count < capacity;
