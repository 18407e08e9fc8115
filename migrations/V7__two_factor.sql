-- Issue 12: optional two-factor sign-in (RFC 6238 TOTP) per account.

-- One row per account that started enrolment. The secret is sealed with
-- ChaCha20-Poly1305 (nonce || ciphertext, the user id as associated data)
-- under a key from auth.totp_key / data_dir/totp_key, never stored in clear.
CREATE TABLE two_factor (
    user_id         uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret_sealed   bytea NOT NULL,
    -- Null: enrolment pending (not yet confirmed with a code).
    enabled_at      timestamptz,
    -- The latest time step a TOTP code was accepted at; a code of this or
    -- an earlier step is refused (no replay within its window).
    last_used_step  bigint,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- One-time recovery codes: SHA-256 of the normalised code (about 79 random
-- bits, so no salt is needed). A used code keeps its row with used_at set.
CREATE TABLE two_factor_recovery_codes (
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash   bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    used_at     timestamptz,
    PRIMARY KEY (user_id, code_hash)
);
