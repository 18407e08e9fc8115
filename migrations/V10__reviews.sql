-- Issue 17: attendance, reviews both ways with the mentor's rating aggregate,
-- reports to a moderation queue, and mentorships (seed 002).

-- Attendance: a booking (a slot's or a group session's registration) counts
-- as attended once its mentee joined the live room or its mentor marked it.
-- The first time wins; reviews require it.
ALTER TABLE bookings
    ADD COLUMN attended_at     timestamptz,
    ADD COLUMN attended_source text CHECK (attended_source IN ('live', 'mentor')),
    ADD CONSTRAINT bookings_attended_both CHECK ((attended_at IS NULL) = (attended_source IS NULL));

-- One review per booking and direction: the mentee of the mentor
-- ('mentor': the mentor is reviewed) and the mentor of the mentee
-- ('mentee'). A group session has one booking per attendee, so one per
-- attendee falls out of the same key.
CREATE TABLE reviews (
    id           uuid PRIMARY KEY,
    booking_id   uuid NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    offering_id  uuid NOT NULL REFERENCES offerings (id) ON DELETE CASCADE,
    -- Who is reviewed: 'mentor' (written by the mentee) or 'mentee'.
    subject_role text NOT NULL CHECK (subject_role IN ('mentor', 'mentee')),
    reviewer_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    subject_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    rating       smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
    body         text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    -- The mentor's one public reply (reviews of mentors only).
    reply        text,
    replied_at   timestamptz,
    UNIQUE (booking_id, subject_role),
    CHECK (reviewer_id <> subject_id),
    CHECK ((reply IS NULL) = (replied_at IS NULL)),
    CHECK (reply IS NULL OR subject_role = 'mentor')
);
CREATE INDEX reviews_subject ON reviews (subject_id, subject_role, created_at DESC, id DESC);
CREATE INDEX reviews_reviewer ON reviews (reviewer_id, created_at DESC);

-- The mentor's rating: count and distribution next to the average and count
-- the directory already reads (profiles.rating_avg feeds directory_search
-- through its trigger). All three are recomputed from `reviews` in the
-- transaction that writes a review, under the profile's row lock (taken
-- before the review is written, so two reviews of one mentor at once
-- cannot each miss the other). rating_dist[i] counts the reviews of i stars.
ALTER TABLE profiles
    ADD COLUMN rating_dist integer[] NOT NULL DEFAULT '{0,0,0,0,0}' CHECK (cardinality(rating_dist) = 5);

-- Reports: the moderation queue admins read. One per reporter and review.
CREATE TABLE review_reports (
    id           uuid PRIMARY KEY,
    review_id    uuid NOT NULL REFERENCES reviews (id) ON DELETE CASCADE,
    reporter_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reason       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (review_id, reporter_id)
);
CREATE INDEX review_reports_queue ON review_reports (created_at, id);

-- Seed 002's Mentorship: a mentee asks a mentor for a span of time with goals.
CREATE TABLE mentorships (
    id          uuid PRIMARY KEY,
    mentor_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    mentee_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'declined', 'ended')),
    start_date  date NOT NULL,
    end_date    date NOT NULL,
    goals       text NOT NULL,
    -- Their direct conversation, opened on accept.
    room_id     uuid REFERENCES rooms (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    decided_at  timestamptz,
    ended_at    timestamptz,
    ended_by    uuid REFERENCES users (id) ON DELETE SET NULL,
    CHECK (end_date >= start_date),
    CHECK (mentor_id <> mentee_id)
);
-- One open (pending or accepted) mentorship per pair, however requests race.
CREATE UNIQUE INDEX mentorships_one_open ON mentorships (mentor_id, mentee_id) WHERE status IN ('pending', 'accepted');
CREATE INDEX mentorships_mentor ON mentorships (mentor_id, created_at DESC);
CREATE INDEX mentorships_mentee ON mentorships (mentee_id, created_at DESC);

-- Seed 002's goals: a mentee's goal with milestones and a due date, progress
-- updates over time, and feedback from the mentors of an accepted mentorship.
CREATE TABLE goals (
    id           uuid PRIMARY KEY,
    owner_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title        text NOT NULL,
    description  text NOT NULL DEFAULT '',
    due_date     date,
    -- [{"title": "...", "dueDate": "YYYY-MM-DD" | null, "done": false}]
    milestones   jsonb NOT NULL DEFAULT '[]'::jsonb,
    -- The latest progress update's percent (0 until one).
    progress     smallint NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX goals_owner ON goals (owner_id, created_at DESC);

CREATE TABLE goal_updates (
    id          uuid PRIMARY KEY,
    goal_id     uuid NOT NULL REFERENCES goals (id) ON DELETE CASCADE,
    -- 'progress' (by the owner, with a percent) or 'feedback' (by a mentor).
    kind        text NOT NULL CHECK (kind IN ('progress', 'feedback')),
    author_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    percent     smallint CHECK (percent BETWEEN 0 AND 100),
    body        text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'progress') = (percent IS NOT NULL))
);
CREATE INDEX goal_updates_goal ON goal_updates (goal_id, created_at);

-- Seed 002's self-assessment: a mentee's level per skill, kept over time
-- (every assessment is a row; the latest is the current level).
CREATE TABLE skill_assessments (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Lower-cased, as the directory's skill names.
    skill        text NOT NULL,
    level        text NOT NULL CHECK (level IN ('beginner', 'intermediate', 'advanced', 'expert')),
    note         text NOT NULL DEFAULT '',
    assessed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX skill_assessments_user ON skill_assessments (user_id, skill, assessed_at);
