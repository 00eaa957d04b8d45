-- Create forms are sent once (issue 14): each rendered form carries a random key; the first
-- post with a key records where it led, a repeat (a double tap, a resend on a slow
-- connection) is sent there instead of creating the record twice. Purged after a day.
CREATE TABLE form_submissions (
    key        TEXT PRIMARY KEY,
    location   TEXT,
    created_at TIMESTAMPTZ NOT NULL
);
