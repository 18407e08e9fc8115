-- Access tokens carry their user's token version (the `ver` claim); a role
-- change and "sign out everywhere" move it on in the transaction that makes
-- the change, so every access token issued before stops working at once
-- (src/auth/extract.rs, actors/src/core/credentials.rs). Issue 12.

ALTER TABLE users ADD COLUMN token_version integer NOT NULL DEFAULT 0;
