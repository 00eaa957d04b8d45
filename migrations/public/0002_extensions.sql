-- Trigram indexes make name search in every school's register fast. The extension lives in
-- public so every school schema (search_path = school, public) sees its operators.
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
