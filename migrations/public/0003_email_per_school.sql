-- An email is unique within one scope (a school, or the platform), not across all of them:
-- a school admin adding staff must not learn that an address has an account at another
-- school (issue 13). Sign-in already looks an email up within the scope of the host.
DROP INDEX users_email_key;
CREATE UNIQUE INDEX users_email_scope_key ON users (client_id, lower(email)) NULLS NOT DISTINCT;
