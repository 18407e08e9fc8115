-- Chat (issue 3): rooms, members, the per-room ordered event stream,
-- attachments, public keys for end-to-end encryption, and guests.

-- Guests (seed 004's anonymous join) are accounts without email or password,
-- confined to one public room.
ALTER TABLE users ALTER COLUMN email DROP NOT NULL;
ALTER TABLE users ALTER COLUMN password_hash DROP NOT NULL;
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('mentee', 'mentor', 'admin', 'guest'));
ALTER TABLE users ADD CONSTRAINT users_credentials_check
    CHECK (role = 'guest' OR (email IS NOT NULL AND password_hash IS NOT NULL));
ALTER TABLE users ADD COLUMN last_seen_at timestamptz;
-- A user's published public key for end-to-end encrypted rooms (opaque to us).
ALTER TABLE users ADD COLUMN public_key text;

CREATE TABLE rooms (
    id            uuid PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('direct', 'group')),
    name          text,
    visibility    text NOT NULL CHECK (visibility IN ('public', 'private')),
    allow_guests  boolean NOT NULL DEFAULT false,
    -- Messages are ciphertext only; the server never sees plaintext.
    e2ee          boolean NOT NULL DEFAULT false,
    created_by    uuid REFERENCES users (id) ON DELETE SET NULL,
    -- "<smaller uuid>:<larger uuid>" for direct rooms: one room per pair.
    direct_key    text UNIQUE,
    -- The last sequence number handed out; advanced under the row lock, so
    -- seqs have no gaps even with several writers.
    last_seq      bigint NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (kind = 'group' OR direct_key IS NOT NULL),
    CHECK (NOT (allow_guests AND visibility = 'private'))
);

CREATE TABLE room_members (
    room_id        uuid NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role           text NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'moderator', 'member')),
    -- Read receipt: everything up to this seq has been read.
    last_read_seq  bigint NOT NULL DEFAULT 0,
    muted_until    timestamptz,
    joined_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_members_user ON room_members (user_id);

-- The room's ordered stream. Edits and deletions are events of their own
-- (kind edit/delete with target_seq) so a resuming client sees them in order;
-- the target row also carries the current state for history readers.
CREATE TABLE messages (
    room_id        uuid NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    seq            bigint NOT NULL,
    sender_id      uuid REFERENCES users (id) ON DELETE SET NULL,
    client_msg_id  text,
    kind           text NOT NULL CHECK (kind IN ('message', 'edit', 'delete')),
    body           text,
    ciphertext     text,
    attachments    jsonb NOT NULL DEFAULT '[]'::jsonb,
    target_seq     bigint,
    edited_at      timestamptz,
    deleted_at     timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, seq)
);
-- Idempotent sends: one row per (room, sender, client message id).
CREATE UNIQUE INDEX messages_idempotency ON messages (room_id, sender_id, client_msg_id)
    WHERE client_msg_id IS NOT NULL;

CREATE TABLE attachments (
    id            uuid PRIMARY KEY,
    room_id       uuid NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    uploader_id   uuid REFERENCES users (id) ON DELETE SET NULL,
    file_name     text NOT NULL,
    content_type  text NOT NULL,
    size_bytes    bigint NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
