-- Names as people type them: Ọlákúnlé is searched as "olakunle" and sorts with the O's.
--
-- name_key(): lower case, Unicode NFD, combining marks dropped. Yoruba's dot below (Ọ, Ẹ, Ṣ =
-- O, E, S + U+0323) and tone marks (U+0300 grave, U+0301 acute, U+0304 macron) are combining
-- marks once decomposed, as are the accents of other Latin names (é, ñ, ü). Built only from
-- IMMUTABLE pg_catalog functions (normalize, regexp_replace, lower), so no extension is needed
-- (unaccent() is not IMMUTABLE) and it may feed generated columns and indexes. The body is
-- SQL-standard (RETURN …): parsed once here and bound to those functions, whatever the
-- search_path when it runs. It lives in the school's schema like the tables that use it;
-- queries call it unqualified under the school's search_path.
--
-- The generated columns hold the keys, so every insert and update (the app, the CSV import,
-- fixtures) fills them, and adding them here fills the existing rows. Changing name_key later
-- means a migration that rewrites the columns (drop and add them again).
CREATE FUNCTION name_key(name TEXT) RETURNS TEXT
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN lower(regexp_replace(normalize(name, NFD),
                                '[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]', '', 'g'));

ALTER TABLE students
    ADD COLUMN search_key TEXT NOT NULL GENERATED ALWAYS AS (
        name_key(admission_no || ' ' || first_name || ' ' || last_name || ' ' || other_names)) STORED,
    ADD COLUMN last_name_key TEXT NOT NULL GENERATED ALWAYS AS (name_key(last_name)) STORED,
    ADD COLUMN first_name_key TEXT NOT NULL GENERATED ALWAYS AS (name_key(first_name)) STORED;

-- They replace the indexes on lower(…) of 0002, which nothing queries any more.
DROP INDEX students_search_idx;
DROP INDEX students_name_order_idx;
-- Search by any name or the admission number (LIKE '%…%', trigrams).
CREATE INDEX students_search_key_idx ON students USING gin (search_key public.gin_trgm_ops);
-- The register's order, surname first; read backward for descending.
CREATE INDEX students_name_key_order_idx ON students (last_name_key, first_name_key, id);
