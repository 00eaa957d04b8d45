//! The dashboard's reads. They span several domains' tables by design: one round trip per
//! panel, read-only.

use sqlx::PgConnection;

#[derive(sqlx::FromRow, Default)]
pub struct DashboardCounts {
    pub active_students: i64,
    pub withdrawn_students: i64,
    pub staff: i64,
    pub classes: i64,
    pub unregistered: i64,
}

pub async fn role_names(conn: &mut PgConnection, user_id: i64) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT r.name FROM roles r JOIN user_roles ur ON ur.role_id = r.id WHERE ur.user_id = $1 ORDER BY r.name",
    )
    .bind(user_id)
    .fetch_all(conn)
    .await
}

/// Every figure on the page in one round trip.
pub async fn counts(conn: &mut PgConnection, school_id: i64) -> sqlx::Result<DashboardCounts> {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM students WHERE status = 'active') AS active_students,
                (SELECT count(*) FROM students WHERE status = 'withdrawn') AS withdrawn_students,
                (SELECT count(*) FROM public.users WHERE client_id = $1 AND is_active) AS staff,
                (SELECT count(*) FROM academic_classes ac JOIN academic_sessions s ON s.id = ac.session_id AND s.is_current) AS classes,
                (SELECT count(*) FROM students st WHERE st.status = 'active' AND NOT EXISTS (
                    SELECT 1 FROM registrations r JOIN academic_sessions s ON s.id = r.session_id AND s.is_current
                     WHERE r.student_id = st.id AND r.is_current)) AS unregistered",
    )
    .bind(school_id)
    .fetch_one(conn)
    .await
}

/// Exam sessions open for marks, newest first.
pub async fn open_exam_sessions(conn: &mut PgConnection) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar(
        "SELECT id FROM exam_sessions WHERE status = 'open' ORDER BY created_at DESC",
    )
    .fetch_all(conn)
    .await
}

/// Classes this user is class teacher of, in the newest exam session not yet published:
/// (exam session id, academic class id, class name, exam session name).
pub async fn my_classes(
    conn: &mut PgConnection,
    user_id: i64,
) -> sqlx::Result<Vec<(i64, i64, String, String)>> {
    sqlx::query_as(
        "SELECT es.id, ac.id, c.name, es.name
           FROM academic_classes ac
           JOIN classes c ON c.id = ac.class_id
           JOIN LATERAL (SELECT es.id, es.name FROM exam_sessions es JOIN terms t ON t.id = es.term_id
                          WHERE es.session_id = ac.session_id AND es.status <> 'published'
                          ORDER BY t.ordinal DESC LIMIT 1) es ON TRUE
          WHERE ac.class_teacher_id = $1
          ORDER BY lower(c.name)",
    )
    .bind(user_id)
    .fetch_all(conn)
    .await
}
