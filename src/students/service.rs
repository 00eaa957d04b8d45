//! The rules of the register: admit, change, remove, registrations, guardians, exports;
//! each validates, writes through the domain's SQL and records the audit row. The JSON and
//! HTML adapters call these and only render.

use axum::{
    Json,
    http::header,
    response::{IntoResponse, Response},
};
use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::{
    db::{self, Student, StudentFilter, StudentInput},
    guardians::{self, Guardian},
    registrations::{self, ClassHistory, Registration},
};
use crate::{
    academics::db::AcademicClass,
    audit::{
        self,
        views::{Pupils, ViewKind},
    },
    context::SchoolCtx,
    error::{AppError, AppResult},
    http::{ListParams, csv_file::CsvFile, download},
};

pub async fn admit(ctx: &mut SchoolCtx, input: &StudentInput) -> AppResult<Student> {
    if input.guardians.as_ref().is_some_and(|g| !g.is_empty()) && !ctx.perms.has("add_guardians") {
        return Err(AppError::Forbidden(
            "Adding guardians needs permission to add guardians; admit the student without them."
                .into(),
        ));
    }
    let today = ctx.today();
    let s = db::create(&mut ctx.tx, input, today, ctx.now).await?;
    let mut changes = audit::trail::created(&db::audit_view(&s));
    if let (Some(obj), Some(guardians)) = (changes.as_object_mut(), &input.guardians) {
        obj.insert("guardians".into(), json!({"to": guardians.len()}));
    }
    ctx.audit("create", "student", s.id, changes).await?;
    crate::tenancy::schools::step_done(&mut ctx.tx, ctx.school.id, "students", ctx.now).await?;
    Ok(s)
}

pub async fn change(ctx: &mut SchoolCtx, id: i64, input: &StudentInput) -> AppResult<Student> {
    let today = ctx.today();
    let (before, after) = db::update(&mut ctx.tx, id, input, today, ctx.now).await?;
    let action = match (before.status.as_str(), after.status.as_str()) {
        ("active", "withdrawn") => "withdraw",
        ("active", "graduated") => "graduate",
        (b, "active") if b != "active" => "reinstate",
        _ => "update",
    };
    ctx.audit(
        action,
        "student",
        id,
        audit::trail::diff(&db::audit_view(&before), &db::audit_view(&after)),
    )
    .await?;
    Ok(after)
}

pub async fn remove(ctx: &mut SchoolCtx, id: i64) -> AppResult<Student> {
    let before = db::get(&mut ctx.tx, id).await?;
    // Deleting is for records entered by mistake: a pupil with results is withdrawn instead,
    // so their marks and report comments are never lost with the record.
    if db::has_results(&mut ctx.tx, id).await? {
        return Err(AppError::Conflict(
            "This pupil has marks, report comments or attendance; set their status to withdrawn instead of deleting the record."
                .into(),
        ));
    }
    // Erasure reaches the audit trail too: the rows about this pupil and their guardians
    // keep who did what and when, but no longer their names, dates or phone numbers.
    let guardian_ids = guardians::ids_ever_of(&mut ctx.tx, id).await?;
    db::delete(&mut ctx.tx, id).await?;
    audit::erasure::redact_rows(&mut ctx.tx, "student", &[id]).await?;
    audit::erasure::redact_rows(&mut ctx.tx, "subjects_taken", &[id]).await?;
    audit::erasure::redact_rows(&mut ctx.tx, "guardian", &guardian_ids).await?;
    // Rows about many pupils (a mark sheet save) name each by admission number.
    audit::erasure::redact_mentions(&mut ctx.tx, "marks", "admission_no", &before.admission_no)
        .await?;
    ctx.audit(
        "delete",
        "student",
        id,
        json!({"deleted": audit::erasure::redact(&db::audit_view(&before))}),
    )
    .await?;
    Ok(before)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StudentRecord {
    pub student: Student,
    /// Null for a user without `view_guardians`: parents' names, phones and emails are shown
    /// only to staff allowed to see guardians.
    pub guardians: Option<Vec<Guardian>>,
    pub class_history: Vec<ClassHistory>,
    pub school: String,
    pub exported_at: chrono::DateTime<chrono::Utc>,
}

pub async fn record(ctx: &mut SchoolCtx, id: i64) -> AppResult<StudentRecord> {
    ctx.record_view(ViewKind::Export, "Full record", Pupils::Students(&[id]))
        .await?;
    Ok(StudentRecord {
        student: db::get(&mut ctx.tx, id).await?,
        guardians: if ctx.perms.has("view_guardians") {
            Some(guardians::for_student(&mut ctx.tx, id).await?)
        } else {
            None
        },
        class_history: registrations::history(&mut ctx.tx, id).await?,
        school: ctx.school.name.to_string(),
        exported_at: ctx.now,
    })
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `csv` (default) or `json`
    #[param(pattern = "^(csv|json)$")]
    pub format: Option<String>,
    #[param(value_type = Option<db::StudentStatus>)]
    pub status: Option<String>,
    /// Academic class id (blank for every class: the page's class picker sends "").
    #[param(pattern = "^[0-9]{0,18}$")]
    pub class: Option<String>,
    #[param(max_length = 100)]
    pub search: Option<String>,
}

/// Empty form fields mean "no filter".
fn given(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The register as a file.
pub enum RegisterExport {
    Csv(Vec<u8>),
    Json(Vec<Student>),
}

impl IntoResponse for RegisterExport {
    fn into_response(self) -> Response {
        match self {
            RegisterExport::Csv(bytes) => download::csv("register.csv", bytes),
            RegisterExport::Json(rows) => (
                [(
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"register.json\"",
                )],
                Json(rows),
            )
                .into_response(),
        }
    }
}

/// The register (all matching students) as CSV or JSON.
pub async fn export_register(ctx: &mut SchoolCtx, q: &ExportParams) -> AppResult<RegisterExport> {
    let params = ListParams {
        page: Some(1),
        page_size: None,
        search: given(&q.search),
        ordering: None,
    };
    let class = match given(&q.class) {
        Some(c) => Some(
            c.parse::<i64>()
                .map_err(|_| AppError::field("class", "Choose a class."))?,
        ),
        None => None,
    };
    let filter = StudentFilter {
        status: given(&q.status),
        class,
    };
    let rows = db::list_all(&mut ctx.tx, &params, &filter).await?;
    let ids: Vec<i64> = rows.iter().map(|s| s.id).collect();
    ctx.record_view(ViewKind::Export, "Register export", Pupils::Students(&ids))
        .await?;
    match q.format.as_deref().unwrap_or("csv") {
        "json" => Ok(RegisterExport::Json(rows)),
        "csv" => {
            // The import template's columns (so export → edit → import round-trips), the
            // primary guardian for staff allowed to see guardians, then the status.
            let with_guardians = ctx.perms.has("view_guardians");
            let guardians: HashMap<i64, Guardian> = if with_guardians {
                let ids: Vec<i64> = rows.iter().map(|s| s.id).collect();
                guardians::primary_of(&mut ctx.tx, &ids).await?
            } else {
                HashMap::new()
            };
            let mut header = vec![
                "admission_no",
                "first_name",
                "last_name",
                "other_names",
                "sex",
                "date_of_birth",
                "admission_date",
                "address",
                "class",
            ];
            if with_guardians {
                header.extend([
                    "guardian_name",
                    "guardian_relationship",
                    "guardian_phone",
                    "guardian_email",
                ]);
            }
            header.push("status");
            let mut file = CsvFile::new(header)?;
            for s in &rows {
                let mut cells = vec![
                    s.admission_no.clone(),
                    s.first_name.clone(),
                    s.last_name.clone(),
                    s.other_names.clone(),
                    s.sex.clone(),
                    s.date_of_birth.map(|d| d.to_string()).unwrap_or_default(),
                    s.admission_date.to_string(),
                    s.address.clone(),
                    s.current_class.clone().unwrap_or_default(),
                ];
                if with_guardians {
                    let g = guardians.get(&s.id);
                    cells.extend([
                        g.map(|g| g.full_name.clone()).unwrap_or_default(),
                        g.map(|g| g.relationship.clone()).unwrap_or_default(),
                        g.map(|g| g.phone.clone()).unwrap_or_default(),
                        g.map(|g| g.email.clone()).unwrap_or_default(),
                    ]);
                }
                cells.push(s.status.as_str().to_owned());
                file.row(cells)?;
            }
            Ok(RegisterExport::Csv(file.finish()?))
        }
        _ => Err(AppError::field("format", "Use csv or json.")),
    }
}

/// A pupil registered in a class, and the class they were in before (if any).
pub struct Registered {
    pub registration: Registration,
    pub moved_from: Option<String>,
}

/// Registers an active pupil in `class`, moving them from another class of the session.
pub async fn register_pupil(
    ctx: &mut SchoolCtx,
    class: &AcademicClass,
    student_id: i64,
) -> AppResult<Registered> {
    let student = match db::get(&mut ctx.tx, student_id).await {
        Ok(s) => s,
        Err(AppError::NotFound(_)) => {
            return Err(AppError::field("student_id", "There is no such student."));
        }
        Err(e) => return Err(e),
    };
    if student.status != "active" {
        return Err(AppError::field(
            "student_id",
            format!(
                "{} is {}; only active students can be registered.",
                student.full_name(),
                student.status
            ),
        ));
    }
    let today = ctx.today();
    let id = registrations::register(
        &mut ctx.tx,
        student_id,
        class.session_id,
        class.id,
        today,
        ctx.now,
    )
    .await?;
    ctx.audit("register", "student", student_id, json!({"class": {"from": student.current_class, "to": class.class_name}, "registration_id": id})).await?;
    let registration = registrations::get(&mut ctx.tx, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    Ok(Registered {
        registration,
        moved_from: student.current_class,
    })
}

/// Ends a registration (the pupil leaves the class; the record stays in their history).
pub async fn end_registration(
    ctx: &mut SchoolCtx,
    class: &AcademicClass,
    registration_id: i64,
) -> AppResult<()> {
    let today = ctx.today();
    let student = registrations::end(&mut ctx.tx, registration_id, class.id, today)
        .await?
        .ok_or_else(AppError::not_found)?;
    ctx.audit(
        "unregister",
        "student",
        student,
        json!({"class": {"from": class.class_name, "to": null}}),
    )
    .await
}

/// The class list as a CSV download.
/// The class list as CSV; recorded as an export of each pupil on it.
pub async fn class_list_csv(
    ctx: &mut SchoolCtx,
    class: &AcademicClass,
    rows: &[Registration],
) -> AppResult<Response> {
    let ids: Vec<i64> = rows.iter().map(|r| r.student_id).collect();
    ctx.record_view(
        ViewKind::Export,
        "Class list export",
        Pupils::Students(&ids),
    )
    .await?;
    let mut file = CsvFile::new([
        "admission_no",
        "last_name",
        "first_name",
        "other_names",
        "sex",
        "class",
        "registered_on",
    ])?;
    for r in rows {
        let date = r.registered_on.to_string();
        file.row([
            &r.admission_no,
            &r.last_name,
            &r.first_name,
            &r.other_names,
            &r.sex,
            &class.class_name,
            &date,
        ])?;
    }
    let bytes = file.finish()?;
    let filename = format!(
        "class-list-{}.csv",
        class
            .class_name
            .replace(|c: char| !c.is_ascii_alphanumeric(), "-")
    );
    Ok(download::csv(&filename, bytes))
}

pub async fn delete_guardian(ctx: &mut SchoolCtx, id: i64) -> AppResult<Guardian> {
    let before = guardians::get(&mut ctx.tx, id).await?;
    guardians::delete(&mut ctx.tx, &before).await?;
    ctx.audit(
        "delete",
        "guardian",
        id,
        json!({"deleted": guardians::view(&before)}),
    )
    .await?;
    Ok(before)
}
