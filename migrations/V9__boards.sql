-- Discussion boards (issue 16; seed 002's forum with `parent_post`) and the
-- one notification path: categories, their moderators and bans, threads,
-- posts with their edit history, votes, flags; and an idempotency key on
-- notifications so one event notifies one user at most once.

CREATE TABLE board_categories (
    id          uuid PRIMARY KEY,
    -- Unique, lowercase: what a URL names the category by.
    slug        text NOT NULL UNIQUE,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    -- 'public': readable without signing in; 'members': signed-in accounts only.
    visibility  text NOT NULL CHECK (visibility IN ('public', 'members')),
    created_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Per-category moderators, appointed by admins (admins moderate every category).
CREATE TABLE board_moderators (
    category_id uuid NOT NULL REFERENCES board_categories (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    appointed_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (category_id, user_id)
);
CREATE INDEX board_moderators_user ON board_moderators (user_id);

-- A banned user may not post, reply, edit or vote in that category.
CREATE TABLE board_bans (
    category_id uuid NOT NULL REFERENCES board_categories (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reason      text NOT NULL DEFAULT '',
    banned_by   uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (category_id, user_id)
);

CREATE TABLE board_threads (
    id               uuid PRIMARY KEY,
    category_id      uuid NOT NULL REFERENCES board_categories (id) ON DELETE CASCADE,
    author_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title            text NOT NULL,
    tags             text[] NOT NULL DEFAULT '{}',
    -- Set in the transaction that creates the thread, right after its first post.
    first_post_id    uuid,
    accepted_post_id uuid,
    locked           boolean NOT NULL DEFAULT false,
    hidden           boolean NOT NULL DEFAULT false,
    deleted_at       timestamptz,
    reply_count      integer NOT NULL DEFAULT 0,
    -- The first post's score (votes on the question), for the `top` sort.
    score            integer NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_activity_at timestamptz NOT NULL DEFAULT now(),
    -- Title (A), tags (B) and the first post's Markdown (C), written by the
    -- server whenever one of them changes.
    search           tsvector NOT NULL DEFAULT ''::tsvector
);
-- Lists show only standing threads: every list index is partial.
CREATE INDEX board_threads_latest ON board_threads (last_activity_at DESC, id DESC)
    WHERE deleted_at IS NULL AND NOT hidden;
CREATE INDEX board_threads_category_latest ON board_threads (category_id, last_activity_at DESC, id DESC)
    WHERE deleted_at IS NULL AND NOT hidden;
CREATE INDEX board_threads_top ON board_threads (score DESC, id DESC)
    WHERE deleted_at IS NULL AND NOT hidden;
CREATE INDEX board_threads_search ON board_threads USING gin (search)
    WHERE deleted_at IS NULL AND NOT hidden;
CREATE INDEX board_threads_tags ON board_threads USING gin (tags)
    WHERE deleted_at IS NULL AND NOT hidden;

CREATE TABLE board_posts (
    id          uuid PRIMARY KEY,
    -- The order posts are shown in within a thread (and the page cursor).
    n           bigserial NOT NULL UNIQUE,
    thread_id   uuid NOT NULL REFERENCES board_threads (id) ON DELETE CASCADE,
    author_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The post this one answers (seed 002's parent_post); null: the thread.
    parent_id   uuid REFERENCES board_posts (id) ON DELETE SET NULL,
    body        text NOT NULL,
    -- `body` rendered and cleaned (boards::render), stored so reads never render.
    body_html   text NOT NULL,
    score       integer NOT NULL DEFAULT 0,
    hidden      boolean NOT NULL DEFAULT false,
    deleted_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    edited_at   timestamptz
);
CREATE INDEX board_posts_thread ON board_posts (thread_id, n);

ALTER TABLE board_threads ADD FOREIGN KEY (first_post_id) REFERENCES board_posts (id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE board_threads ADD FOREIGN KEY (accepted_post_id) REFERENCES board_posts (id) ON DELETE SET NULL;

-- Every earlier version of an edited post: what it said before each edit.
CREATE TABLE board_post_revisions (
    id         bigserial PRIMARY KEY,
    post_id    uuid NOT NULL REFERENCES board_posts (id) ON DELETE CASCADE,
    -- The thread's title before the edit (first posts only; null otherwise).
    title      text,
    body       text NOT NULL,
    -- When the replaced version was written (created or last edited).
    written_at timestamptz NOT NULL,
    edited_by  uuid REFERENCES users (id) ON DELETE SET NULL
);
CREATE INDEX board_post_revisions_post ON board_post_revisions (post_id, id);

-- One vote per user per post: the primary key is the rule.
CREATE TABLE board_votes (
    post_id  uuid NOT NULL REFERENCES board_posts (id) ON DELETE CASCADE,
    user_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    value    smallint NOT NULL CHECK (value IN (-1, 1)),
    voted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (post_id, user_id)
);

-- The moderation queue: open flags are those with resolved_at null.
CREATE TABLE board_flags (
    id          bigserial PRIMARY KEY,
    post_id     uuid NOT NULL REFERENCES board_posts (id) ON DELETE CASCADE,
    flagged_by  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reason      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz,
    resolved_by uuid REFERENCES users (id) ON DELETE SET NULL,
    -- 'dismissed', 'hidden' or 'deleted'.
    resolution  text
);
-- One open flag per user per post.
CREATE UNIQUE INDEX board_flags_open_once ON board_flags (post_id, flagged_by) WHERE resolved_at IS NULL;
CREATE INDEX board_flags_open ON board_flags (id) WHERE resolved_at IS NULL;

-- Notifications: one per (user, event). The key names the event
-- (`reply:<post id>`, `reminder:<job id>`, ...); rows from before this
-- migration have none.
ALTER TABLE notifications ADD COLUMN dedupe_key text;
ALTER TABLE notifications ADD CONSTRAINT notifications_once UNIQUE (user_id, dedupe_key);
CREATE INDEX notifications_unread ON notifications (user_id) WHERE read_at IS NULL;

-- Email per kind of notification: a row turns one kind's email off (or on
-- again); no row means on.
CREATE TABLE notification_preferences (
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind    text NOT NULL,
    email   boolean NOT NULL,
    PRIMARY KEY (user_id, kind)
);

-- Whether a user wants this kind of notification by email.
CREATE FUNCTION email_wanted(u uuid, k text) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT email FROM notification_preferences WHERE user_id = u AND kind = k), true)
$$;
