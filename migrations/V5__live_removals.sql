-- Issue 12 defect 5: whom a host removed from a live room. The LiveRoom
-- actor stops when its room stands empty; the removal must outlive it, so
-- every join checks this table. live_id names a group session, a chat room
-- or a call (three tables), hence no foreign key on it.
CREATE TABLE live_removals (
    live_id     uuid NOT NULL,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    removed_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    removed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (live_id, user_id)
);
