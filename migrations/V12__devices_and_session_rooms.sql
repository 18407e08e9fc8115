-- Issue 15: end-to-end encryption keys per device, and a chat room per group
-- session.

-- A device's ECDH P-256 public key (the 65-byte uncompressed point, stored
-- as standard base64, checked on the curve by the server before it is
-- stored). The private key never leaves the browser. A device id is the
-- client's own random name for it, unique across users, so no one can
-- publish under another's device.
CREATE TABLE device_keys (
    device_id    text PRIMARY KEY CHECK (device_id ~ '^[A-Za-z0-9_-]{8,64}$'),
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    public_key   text NOT NULL,
    -- SHA-256 of the 65 key bytes, as 6 groups of 5 digits (docs/api.md).
    fingerprint  text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX device_keys_user ON device_keys (user_id, created_at);

-- The session's room: every group session has one chat room, created with
-- it, named after it; its host (the mentor) owns it and its confirmed
-- registrants are its members while they are registered. Triggers keep the
-- membership in step with the bookings whatever path changes them (register,
-- unregister, waitlist promotion, cancellation).
ALTER TABLE rooms ADD COLUMN offering_id uuid UNIQUE REFERENCES offerings (id) ON DELETE CASCADE;

CREATE FUNCTION session_room_create() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    rid uuid := gen_random_uuid();
BEGIN
    INSERT INTO rooms (id, kind, name, visibility, created_by, offering_id)
    VALUES (rid, 'group', left(coalesce(nullif(NEW.title, ''), 'Group session'), 100), 'private', NEW.mentor_id, NEW.id);
    INSERT INTO room_members (room_id, user_id, role) VALUES (rid, NEW.mentor_id, 'owner');
    RETURN NULL;
END $$;

CREATE TRIGGER offerings_session_room AFTER INSERT ON offerings
    FOR EACH ROW WHEN (NEW.kind = 'group') EXECUTE FUNCTION session_room_create();

CREATE FUNCTION session_room_title() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE rooms SET name = left(coalesce(nullif(NEW.title, ''), 'Group session'), 100) WHERE offering_id = NEW.id;
    RETURN NULL;
END $$;

CREATE TRIGGER offerings_session_room_title AFTER UPDATE OF title ON offerings
    FOR EACH ROW WHEN (NEW.kind = 'group' AND NEW.title IS DISTINCT FROM OLD.title)
    EXECUTE FUNCTION session_room_title();

CREATE FUNCTION session_room_members() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    rid uuid;
    host uuid;
BEGIN
    SELECT r.id, o.mentor_id INTO rid, host
      FROM rooms r JOIN offerings o ON o.id = r.offering_id
     WHERE r.offering_id = NEW.offering_id;
    IF rid IS NULL OR NEW.mentee_id = host THEN
        RETURN NULL;
    END IF;
    IF NEW.status = 'confirmed' THEN
        INSERT INTO room_members (room_id, user_id) VALUES (rid, NEW.mentee_id) ON CONFLICT DO NOTHING;
    ELSIF TG_OP = 'UPDATE' AND OLD.status = 'confirmed' THEN
        DELETE FROM room_members WHERE room_id = rid AND user_id = NEW.mentee_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER bookings_session_room AFTER INSERT OR UPDATE OF status ON bookings
    FOR EACH ROW EXECUTE FUNCTION session_room_members();

-- Sessions that exist already get their room and members.
INSERT INTO rooms (id, kind, name, visibility, created_by, offering_id)
SELECT gen_random_uuid(), 'group', left(coalesce(nullif(o.title, ''), 'Group session'), 100), 'private', o.mentor_id, o.id
  FROM offerings o WHERE o.kind = 'group';
INSERT INTO room_members (room_id, user_id, role)
SELECT r.id, r.created_by, 'owner' FROM rooms r WHERE r.offering_id IS NOT NULL AND r.created_by IS NOT NULL;
INSERT INTO room_members (room_id, user_id)
SELECT r.id, b.mentee_id FROM rooms r JOIN bookings b ON b.offering_id = r.offering_id
 WHERE b.status = 'confirmed' AND b.mentee_id <> r.created_by
ON CONFLICT DO NOTHING;
