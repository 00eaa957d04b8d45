//! How pupils' names are written in SQL lists, shared by the register and the class-based
//! pages (marks, results, comments). It imports nothing, so any students file may use it.

/// SQL over alias `s`: surname first, as class lists are read out.
pub const LIST_NAME: &str = "s.last_name || ' ' || s.first_name || CASE WHEN s.other_names <> '' THEN ' ' || s.other_names ELSE '' END";
