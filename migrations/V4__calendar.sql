-- Calendar (issue 4): bookable offerings (one-on-one availability slots and
-- group sessions share seats, waitlists and the no-overlap rule), bookings
-- with agendas, private notes, calendar feeds, reminders (outbox) and
-- in-app notifications.

CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE offerings (
    id             uuid PRIMARY KEY,
    mentor_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- 'slot': seed 001's availability slot; 'group': a group session or webinar.
    kind           text NOT NULL CHECK (kind IN ('slot', 'group')),
    title          text NOT NULL DEFAULT '',
    description    text NOT NULL DEFAULT '',
    category       text,
    tags           text[] NOT NULL DEFAULT '{}',
    starts_at      timestamptz NOT NULL,
    ends_at        timestamptz NOT NULL,
    capacity       integer NOT NULL CHECK (capacity BETWEEN 1 AND 100000),
    -- Confirmed bookings; the CHECK makes overselling impossible whatever
    -- the code does.
    booked_count   integer NOT NULL DEFAULT 0,
    -- The next waitlist ticket, handed out under the row lock.
    waitlist_next  bigint NOT NULL DEFAULT 0,
    price_credits  integer NOT NULL DEFAULT 0 CHECK (price_credits >= 0),
    state          text NOT NULL DEFAULT 'scheduled' CHECK (state IN ('scheduled', 'live', 'completed', 'cancelled')),
    -- The mentor's zone when created: how dates and times are shown.
    time_zone      text NOT NULL DEFAULT 'UTC',
    -- Slots expanded from one recurring availability share this id.
    recurrence_id  uuid,
    search         tsvector GENERATED ALWAYS AS (
                       setweight(to_tsvector('english', title), 'A') ||
                       setweight(to_tsvector('english', coalesce(category, '')), 'A') ||
                       setweight(to_tsvector('english', description), 'B')) STORED,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at),
    CHECK (booked_count BETWEEN 0 AND capacity),
    -- A mentor is never in two places at once.
    CONSTRAINT offerings_no_overlap EXCLUDE USING gist (mentor_id WITH =, tstzrange(starts_at, ends_at) WITH &&)
        WHERE (state <> 'cancelled')
);
CREATE INDEX offerings_mentor_time ON offerings (mentor_id, starts_at);
CREATE INDEX offerings_browse ON offerings (kind, starts_at) WHERE state IN ('scheduled', 'live');
CREATE INDEX offerings_search ON offerings USING gin (search);
CREATE INDEX offerings_tags ON offerings USING gin (tags);

CREATE TABLE bookings (
    id            uuid PRIMARY KEY,
    offering_id   uuid NOT NULL REFERENCES offerings (id) ON DELETE CASCADE,
    mentee_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status        text NOT NULL CHECK (status IN ('confirmed', 'waitlisted', 'cancelled')),
    -- Order on the waitlist (from offerings.waitlist_next).
    waitlist_seq  bigint,
    -- Seed 003's pre-session form: {"goals": "...", "questions": ["..."]}.
    agenda        jsonb,
    booked_at     timestamptz NOT NULL DEFAULT now(),
    confirmed_at  timestamptz,
    cancelled_at  timestamptz
);
-- One active booking per mentee and offering, however many requests race.
CREATE UNIQUE INDEX bookings_one_active ON bookings (offering_id, mentee_id) WHERE status <> 'cancelled';
CREATE INDEX bookings_waitlist ON bookings (offering_id, waitlist_seq) WHERE status = 'waitlisted';
CREATE INDEX bookings_mentee ON bookings (mentee_id);

-- Private notes after a session: each participant's own, never shown to others.
CREATE TABLE offering_notes (
    offering_id  uuid NOT NULL REFERENCES offerings (id) ON DELETE CASCADE,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    body         text NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (offering_id, user_id)
);

-- The secret of a user's .ics feed URL.
ALTER TABLE users ADD COLUMN calendar_token text UNIQUE;

-- Work that must not be lost or done twice (reminders, emails): claimed with
-- FOR UPDATE SKIP LOCKED, marked sent in the same transaction.
CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    kind        text NOT NULL,
    -- One job per reminder whatever re-bookings or retries happen.
    dedupe_key  text NOT NULL UNIQUE,
    user_id     uuid REFERENCES users (id) ON DELETE CASCADE,
    payload     jsonb NOT NULL,
    due_at      timestamptz NOT NULL,
    attempts    integer NOT NULL DEFAULT 0,
    sent_at     timestamptz,
    last_error  text
);
CREATE INDEX outbox_due ON outbox (due_at) WHERE sent_at IS NULL;

CREATE TABLE notifications (
    id          bigserial PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        text NOT NULL,
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    read_at     timestamptz
);
CREATE INDEX notifications_user ON notifications (user_id, id DESC);
