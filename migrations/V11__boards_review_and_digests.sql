-- Issue 16, the rest: a new account's first posts held for review, and the
-- digest email of direct messages received while offline.

-- A post's review: null when it was never held; 'held' while it waits for a
-- moderator (it is also `hidden`, so lists and pages skip it, and its author
-- still sees it); 'approved' or 'rejected' once decided (a rejected post is
-- also deleted).
ALTER TABLE board_posts ADD COLUMN review text CHECK (review IN ('held', 'approved', 'rejected'));
-- The review queue, oldest first.
CREATE INDEX board_posts_held ON board_posts (n) WHERE review = 'held';
-- How many of an author's posts were published (the hold rule counts them).
CREATE INDEX board_posts_author ON board_posts (author_id);
-- A thread whose question is held: hidden too, and shown to its author.
ALTER TABLE board_threads ADD COLUMN held boolean NOT NULL DEFAULT false;

-- When a notification went out in a digest email (direct messages).
ALTER TABLE notifications ADD COLUMN mailed_at timestamptz;
-- At most one digest waiting per user: several messages in the window join it.
CREATE UNIQUE INDEX outbox_one_pending_digest ON outbox (user_id) WHERE kind = 'dm_digest' AND sent_at IS NULL;
