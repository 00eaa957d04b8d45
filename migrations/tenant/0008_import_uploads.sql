-- CSV imports through the page (issue 14): the checked file waits here between the preview
-- and the confirmation, so the confirm form posts a short token instead of the whole file.
-- Only a hash of the token is kept; the row belongs to the user who uploaded it, is used
-- once (deleted in the import's transaction) and expires after an hour (purged at the next
-- upload).
CREATE TABLE import_uploads (
    token_hash BYTEA PRIMARY KEY,
    user_id    BIGINT NOT NULL,
    csv_text   TEXT NOT NULL,
    row_count  INTEGER NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX import_uploads_expires_idx ON import_uploads (expires_at);
