-- Each school's clock (issue 14): the audit log, pages and "today" follow it. An IANA name,
-- checked by the application when a school sets it.
ALTER TABLE clients ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'Africa/Lagos';
