//! School pages for the student register: list with search-as-you-type, admission form,
//! profile (details, photo, guardians, class history), withdrawal, CSV import and exports.

use crate::http::Form;
use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Json, Router,
    extract::Multipart,
    http::{HeaderMap, StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use axum_messages::Messages;
use chrono::NaiveDate;
use serde::Deserialize;

use super::{
    db::{self, Student, StudentFilter, StudentInput},
    guardians::{self, Guardian, GuardianInput},
    import::{self, ImportPreview},
    photos,
    registrations::{self, ClassHistory},
    service::{self, ExportParams},
};
use crate::{
    academics::db as academics,
    audit::views::{self, RecordView},
    auth::csrf::CsrfToken,
    context::SchoolCtx,
    error::{AppError, AppResult},
    http::{ApiPath, ApiQuery, ListParams, Page},
    permissions::{access::guard_exact, catalogue::Action},
    state::AppState,
    web::{
        flash,
        htmx::{is_htmx, see_other},
        kit::{FormErrors, field_errors, with_status},
        layout::Layout,
    },
};

// ---- list ----

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    page: Option<String>,
    search: Option<String>,
    status: Option<String>,
    class: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/students.html")]
struct StudentsPage {
    layout: Layout,
    page: Page<Student>,
    search: String,
    filtered: bool,
    status: String,
    class: Option<i64>,
    classes: Vec<academics::ClassOption>,
    can_add: bool,
}

impl StudentsPage {
    fn is_class(&self, id: &i64) -> bool {
        self.class == Some(*id)
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "partials/student_rows.html")]
struct StudentRows {
    page: Page<Student>,
    search: String,
    filtered: bool,
}

async fn list(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    headers: HeaderMap,
    uri: Uri,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> AppResult<Response> {
    // A mistyped page number in the address bar shows page 1 rather than an error.
    let page = q
        .page
        .as_deref()
        .and_then(|p| p.parse().ok())
        .filter(|p: &i64| *p >= 1);
    let params = ListParams {
        page,
        page_size: Some(25),
        search: q.search.clone(),
        ordering: None,
    };
    let class = q.class.as_deref().and_then(|c| c.parse().ok());
    let status = q.status.clone().filter(|s| !s.is_empty());
    let filtered = class.is_some() || status.is_some();
    let filter = StudentFilter {
        status: status.clone(),
        class,
    };
    let (rows, count) = db::list(&mut ctx.tx, &params, &filter).await?;
    let page = Page::new(rows, count, &params, &uri)?;
    let search = q.search.unwrap_or_default();
    if is_htmx(&headers) {
        return Ok(StudentRows {
            page,
            search,
            filtered,
        }
        .into_response());
    }
    Ok(StudentsPage {
        layout: ctx.layout("Students", "students", &csrf),
        page,
        search,
        filtered,
        status: status.unwrap_or_default(),
        class,
        classes: academics::class_options(&mut ctx.tx).await?,
        can_add: ctx.perms.has("add_students"),
    }
    .into_response())
}

// ---- admission and edit form ----

#[derive(Debug, Default, Deserialize)]
struct StudentForm {
    #[serde(default)]
    admission_no: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    other_names: String,
    #[serde(default)]
    sex: String,
    #[serde(default)]
    date_of_birth: String,
    #[serde(default)]
    admission_date: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    class_id: String,
    #[serde(default)]
    guardian_name: String,
    #[serde(default)]
    guardian_relationship: String,
    #[serde(default)]
    guardian_phone: String,
    #[serde(default)]
    guardian_email: String,
}

impl StudentForm {
    fn from_student(s: &Student) -> Self {
        Self {
            admission_no: s.admission_no.clone(),
            first_name: s.first_name.clone(),
            last_name: s.last_name.clone(),
            other_names: s.other_names.clone(),
            sex: s.sex.clone(),
            date_of_birth: s.date_of_birth.map(|d| d.to_string()).unwrap_or_default(),
            admission_date: s.admission_date.to_string(),
            address: s.address.clone(),
            ..Default::default()
        }
    }

    fn to_input(&self, creating: bool) -> Result<StudentInput, FormErrors> {
        let (input, errors) = self.to_input_lenient(creating);
        if errors.is_empty() {
            Ok(input)
        } else {
            Err(errors)
        }
    }

    /// Dates are checked here so a typo is a field error, not a lost form; the input comes
    /// back with the bad dates left out, alongside their errors.
    fn to_input_lenient(&self, creating: bool) -> (StudentInput, FormErrors) {
        let mut errors = FormErrors::default();
        let mut date = |field: &str, raw: &str| -> Option<NaiveDate> {
            let raw = raw.trim();
            if raw.is_empty() {
                return None;
            }
            match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
                Ok(d) => Some(d),
                Err(_) => {
                    errors
                        .0
                        .entry(field.to_owned())
                        .or_default()
                        .push("Enter a valid date.".into());
                    None
                }
            }
        };
        let dob = date("date_of_birth", &self.date_of_birth);
        let admitted = date("admission_date", &self.admission_date);
        let has_guardian = !self.guardian_name.trim().is_empty()
            || !self.guardian_phone.trim().is_empty()
            || !self.guardian_email.trim().is_empty();
        let input = StudentInput {
            admission_no: Some(self.admission_no.clone()).filter(|s| !s.trim().is_empty()),
            first_name: Some(self.first_name.clone()),
            last_name: Some(self.last_name.clone()),
            other_names: Some(self.other_names.clone()),
            sex: Some(self.sex.clone()),
            date_of_birth: dob,
            address: Some(self.address.clone()),
            status: None,
            admission_date: admitted,
            guardians: (creating && has_guardian).then(|| {
                vec![GuardianInput {
                    student_id: None,
                    full_name: Some(self.guardian_name.clone()),
                    relationship: Some(self.guardian_relationship.clone()),
                    phone: Some(self.guardian_phone.clone()),
                    email: Some(self.guardian_email.clone()),
                    is_primary: Some(true),
                }]
            }),
            academic_class_id: if creating {
                self.class_id.parse().ok()
            } else {
                None
            },
        };
        (input, errors)
    }
}

/// Guardian errors come back as `guardians[0].phone`; show them on the form's fields.
fn form_errors(mut e: FormErrors) -> FormErrors {
    let keys: Vec<String> =
        e.0.keys()
            .filter(|k| k.starts_with("guardians[0]."))
            .cloned()
            .collect();
    for k in keys {
        if let Some(v) = e.0.remove(&k) {
            e.0.insert(
                format!(
                    "guardian_{}",
                    k.trim_start_matches("guardians[0].")
                        .replace("full_name", "name")
                ),
                v,
            );
        }
    }
    if let Some(v) = e.0.remove("academic_class_id") {
        e.0.insert("class_id".into(), v);
    }
    e
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/student_form.html")]
struct StudentFormPage {
    layout: Layout,
    form: StudentForm,
    errors: FormErrors,
    classes: Vec<academics::ClassOption>,
    /// None when admitting.
    student_id: Option<i64>,
    pattern_hint: String,
}

async fn form_page(
    ctx: &mut SchoolCtx,
    csrf: &str,
    form: StudentForm,
    errors: FormErrors,
    student_id: Option<i64>,
) -> AppResult<Response> {
    let classes = academics::class_options(&mut ctx.tx).await?;
    let pattern = crate::settings::db::load(&mut ctx.tx)
        .await?
        .admission_number_pattern;
    let title = if student_id.is_some() {
        "Edit student"
    } else {
        "Admit a student"
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(with_status(
        StudentFormPage {
            layout: ctx.layout(title, "students", csrf),
            form,
            errors,
            classes,
            student_id,
            pattern_hint: pattern,
        }
        .into_response(),
        status,
    ))
}

async fn new_form(mut ctx: SchoolCtx, CsrfToken(csrf): CsrfToken) -> AppResult<Response> {
    let form = StudentForm {
        admission_date: ctx.today().to_string(),
        ..Default::default()
    };
    form_page(&mut ctx, &csrf, form, FormErrors::default(), None).await
}

async fn create(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    messages: Messages,
    headers: HeaderMap,
    Form(form): Form<StudentForm>,
) -> AppResult<Response> {
    let (input, mut date_errors) = form.to_input_lenient(true);
    if !date_errors.is_empty() {
        // Report every problem at once: check the rest too, then throw the attempt away.
        if let Err(e) = service::admit(&mut ctx, &input).await {
            let more = form_errors(field_errors(e)?);
            for (k, v) in more.0 {
                date_errors.0.entry(k).or_insert(v);
            }
        }
        ctx.restart().await?;
        return form_page(&mut ctx, &csrf, form, date_errors, None).await;
    }
    match service::admit(&mut ctx, &input).await {
        Ok(s) => {
            ctx.commit().await?;
            flash::success(
                &messages,
                format!("{} admitted with number {}.", s.full_name(), s.admission_no),
            );
            Ok(see_other(&headers, &format!("/students/{}", s.id)))
        }
        Err(e) => {
            let errors = form_errors(field_errors(e)?);
            ctx.restart().await?;
            form_page(&mut ctx, &csrf, form, errors, None).await
        }
    }
}

async fn edit_form(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    let s = db::get(&mut ctx.tx, id).await?;
    form_page(
        &mut ctx,
        &csrf,
        StudentForm::from_student(&s),
        FormErrors::default(),
        Some(id),
    )
    .await
}

async fn update(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    messages: Messages,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    Form(form): Form<StudentForm>,
) -> AppResult<Response> {
    db::get(&mut ctx.tx, id).await?;
    let input = match form.to_input(false) {
        Ok(i) => i,
        Err(errors) => return form_page(&mut ctx, &csrf, form, errors, Some(id)).await,
    };
    match service::change(&mut ctx, id, &input).await {
        Ok(s) => {
            ctx.commit().await?;
            flash::success(&messages, format!("{}'s record was saved.", s.full_name()));
            Ok(see_other(&headers, &format!("/students/{id}")))
        }
        Err(e) => {
            let errors = field_errors(e)?;
            ctx.restart().await?;
            form_page(&mut ctx, &csrf, form, errors, Some(id)).await
        }
    }
}

// ---- profile ----

#[derive(Template, WebTemplate)]
#[template(path = "pages/student_profile.html")]
struct ProfilePage {
    layout: Layout,
    student: Student,
    guardians: Vec<Guardian>,
    history: Vec<ClassHistory>,
    age: Option<i32>,
    can_change: bool,
    can_delete: bool,
    can_edit_guardians: bool,
    can_view_guardians: bool,
    /// Who viewed their results or exported their data; for staff who may read the audit log.
    views: Option<Vec<RecordView>>,
    views_limit: i64,
    /// Staff who read attendance get a link to the pupil's attendance page.
    can_view_attendance: bool,
}

const VIEWS_SHOWN: i64 = 50;

pub fn age_on(dob: NaiveDate, today: NaiveDate) -> i32 {
    use chrono::Datelike;
    let mut age = today.year() - dob.year();
    if (today.month(), today.day()) < (dob.month(), dob.day()) {
        age -= 1;
    }
    age
}

async fn profile(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    let student = db::get(&mut ctx.tx, id).await?;
    // Parents' contact details only for staff allowed to see guardians.
    let can_view_guardians = ctx.perms.has("view_guardians");
    let guardians = if can_view_guardians {
        guardians::for_student(&mut ctx.tx, id).await?
    } else {
        Vec::new()
    };
    let history = registrations::history(&mut ctx.tx, id).await?;
    let views = if ctx.perms.has("view_audit") {
        Some(views::of_student(&mut ctx.tx, id, VIEWS_SHOWN, 0).await?.0)
    } else {
        None
    };
    Ok(ProfilePage {
        views,
        views_limit: VIEWS_SHOWN,
        can_view_attendance: ctx.perms.has("view_attendance") || ctx.perms.has("change_attendance"),
        can_view_guardians,
        layout: ctx.layout(&student.full_name(), "students", &csrf),
        age: student.date_of_birth.map(|d| age_on(d, ctx.today())),
        student,
        guardians,
        history,
        can_change: ctx.perms.has("change_students"),
        can_delete: ctx.perms.has("delete_students"),
        can_edit_guardians: ctx.perms.has("add_guardians"),
    }
    .into_response())
}

#[derive(Deserialize)]
struct StatusForm {
    status: String,
}

async fn set_status(
    mut ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    Form(f): Form<StatusForm>,
) -> AppResult<Response> {
    let s = service::change(
        &mut ctx,
        id,
        &StudentInput {
            status: Some(f.status),
            ..Default::default()
        },
    )
    .await?;
    ctx.commit().await?;
    let message = match s.status.as_str() {
        "withdrawn" => format!("{} was withdrawn. The record is kept.", s.full_name()),
        "graduated" => format!("{} is marked as graduated.", s.full_name()),
        _ if s.current_class.is_none() => format!(
            "{} is active again. Register them in a class from the Classes page.",
            s.full_name()
        ),
        _ => format!("{} is active again.", s.full_name()),
    };
    flash::success(&messages, message);
    Ok(see_other(&headers, &format!("/students/{id}")))
}

#[derive(Deserialize)]
struct ConfirmForm {
    #[serde(default)]
    confirm: String,
}

async fn delete(
    mut ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    Form(f): Form<ConfirmForm>,
) -> AppResult<Response> {
    let s = db::get(&mut ctx.tx, id).await?;
    if f.confirm.trim() != s.admission_no {
        flash::error(
            &messages,
            format!(
                "Type the admission number {} to delete this record.",
                s.admission_no
            ),
        );
        return Ok(see_other(&headers, &format!("/students/{id}")));
    }
    service::remove(&mut ctx, id).await?;
    ctx.commit().await?;
    flash::success(
        &messages,
        format!("The record of {} was deleted.", s.full_name()),
    );
    Ok(see_other(&headers, "/students"))
}

async fn photo(mut ctx: SchoolCtx, ApiPath(id): ApiPath<i64>) -> AppResult<Response> {
    photos::load(&mut ctx, id).await
}

async fn upload_photo(
    mut ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    multipart: Multipart,
) -> AppResult<Response> {
    match photos::read_photo(multipart).await {
        Ok((bytes, kind)) => {
            photos::save(&mut ctx, id, bytes, kind).await?;
            ctx.commit().await?;
            flash::success(&messages, "Photo saved.");
        }
        Err(e @ AppError::Validation { .. }) => {
            flash::error(&messages, field_errors(e)?.get("photo"));
        }
        Err(e) => return Err(e),
    }
    Ok(see_other(&headers, &format!("/students/{id}")))
}

#[derive(Deserialize)]
struct GuardianForm {
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    relationship: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    email: String,
    is_primary: Option<String>,
}

async fn add_guardian(
    mut ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    Form(f): Form<GuardianForm>,
) -> AppResult<Response> {
    db::get(&mut ctx.tx, id).await?;
    let input = GuardianInput {
        student_id: Some(id),
        full_name: Some(f.full_name),
        relationship: Some(f.relationship),
        phone: Some(f.phone),
        email: Some(f.email),
        is_primary: f.is_primary.map(|_| true),
    };
    let cc = guardians::country_code(&mut ctx.tx).await?;
    let problems = input.problems(&cc);
    if !problems.is_empty() {
        flash::error(&messages, FormErrors(problems).others(&[]).join(" "));
        return Ok(see_other(&headers, &format!("/students/{id}")));
    }
    let g = guardians::insert_guardian(&mut ctx.tx, id, &input, ctx.now).await?;
    ctx.audit_created("guardian", g.id, &g).await?;
    ctx.commit().await?;
    flash::success(&messages, format!("{} added as a guardian.", g.full_name));
    Ok(see_other(&headers, &format!("/students/{id}")))
}

async fn remove_guardian(
    mut ctx: SchoolCtx,
    messages: Messages,
    headers: HeaderMap,
    ApiPath((id, gid)): ApiPath<(i64, i64)>,
) -> AppResult<Response> {
    let g = guardians::get(&mut ctx.tx, gid).await?;
    if g.student_id != id {
        return Err(AppError::not_found());
    }
    service::delete_guardian(&mut ctx, gid).await?;
    ctx.commit().await?;
    flash::success(&messages, format!("{} removed.", g.full_name));
    Ok(see_other(&headers, &format!("/students/{id}")))
}

async fn record_json(mut ctx: SchoolCtx, ApiPath(id): ApiPath<i64>) -> AppResult<Response> {
    let record = service::record(&mut ctx, id).await?;
    ctx.commit().await?;
    let name = format!(
        "student-{}.json",
        record
            .student
            .admission_no
            .replace(|c: char| !c.is_ascii_alphanumeric(), "-")
    );
    Ok((
        [
            (
                axum::http::header::CONTENT_DISPOSITION,
                crate::http::download::disposition("attachment", &name),
            ),
            (
                axum::http::header::CACHE_CONTROL,
                "private, no-store".to_owned(),
            ),
        ],
        Json(record),
    )
        .into_response())
}

async fn export(mut ctx: SchoolCtx, ApiQuery(q): ApiQuery<ExportParams>) -> AppResult<Response> {
    let export = service::export_register(&mut ctx, &q).await?;
    ctx.commit().await?;
    Ok(export.into_response())
}

// ---- import ----

/// Rows shown on a preview whose rows are all fine (every row with a problem is always shown).
const FINE_ROWS_SHOWN: usize = 50;

#[derive(Template, WebTemplate)]
#[template(path = "pages/student_import.html")]
struct ImportPage {
    layout: Layout,
    preview: Option<ImportPreview>,
    /// The rows listed: every row with a problem, or the first fine ones.
    shown: Vec<import::ImportRow>,
    /// Fine rows not listed.
    more: usize,
    /// The checked upload the confirm form posts (empty when there is nothing to confirm).
    token: String,
    error: String,
    columns: String,
}

fn import_page(
    layout: Layout,
    preview: Option<ImportPreview>,
    token: String,
    error: String,
    status: StatusCode,
) -> Response {
    let (shown, more) = match &preview {
        Some(p) if p.error_rows > 0 => (
            p.rows
                .iter()
                .filter(|r| !r.errors.is_empty())
                .cloned()
                .collect(),
            0,
        ),
        Some(p) => (
            p.rows.iter().take(FINE_ROWS_SHOWN).cloned().collect(),
            p.rows.len().saturating_sub(FINE_ROWS_SHOWN),
        ),
        None => (Vec::new(), 0),
    };
    // The full rows are not needed once the shown ones are picked.
    let preview = preview.map(|p| ImportPreview {
        rows: Vec::new(),
        ..p
    });
    with_status(
        ImportPage {
            layout,
            preview,
            shown,
            more,
            token,
            error,
            columns: import::COLUMNS.join(", "),
        }
        .into_response(),
        status,
    )
}

/// The page for a file that could not be read or imported, with the reason.
fn import_refused(layout: Layout, preview: Option<ImportPreview>, error: String) -> Response {
    import_page(
        layout,
        preview,
        String::new(),
        error,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
}

async fn import_form(ctx: SchoolCtx, CsrfToken(csrf): CsrfToken) -> AppResult<Response> {
    Ok(import_page(
        ctx.layout("Import students", "students", &csrf),
        None,
        String::new(),
        String::new(),
        StatusCode::OK,
    ))
}

/// Step 1: the uploaded file is checked and every problem of every row shown. A file
/// without problems waits in the school's schema for the confirmation, which posts only
/// its token.
async fn import_preview(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    mut multipart: Multipart,
) -> AppResult<Response> {
    let mut text = None;
    while let Ok(Some(field)) = multipart.next_field().await {
        if field.name() == Some("file") {
            let bytes = field
                .bytes()
                .await
                .map_err(|_| AppError::BadRequest("The upload could not be read.".into()))?;
            // A CSV that is not UTF-8 is read as Windows-1252, as older Excel saves it.
            text = Some(match String::from_utf8(bytes.to_vec()) {
                Ok(t) => t,
                Err(_) => encoding_rs::WINDOWS_1252.decode(&bytes).0.into_owned(),
            });
        }
    }
    let layout = ctx.layout("Import students", "students", &csrf);
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(import_refused(
            layout,
            None,
            "Choose a CSV file to upload.".into(),
        ));
    };
    let today = ctx.today();
    let checked = match import::check(&mut ctx.tx, &text, today).await {
        Ok(c) => c,
        Err(e) => return Ok(import_refused(layout, None, field_errors(e)?.get("file"))),
    };
    if !checked.is_clean() {
        return Ok(import_refused(layout, Some(checked.preview), String::new()));
    }
    let token = import::stash(
        &mut ctx.tx,
        ctx.user.id,
        &text,
        checked.preview.total,
        ctx.now,
    )
    .await?;
    ctx.commit().await?;
    Ok(import_page(
        layout,
        Some(checked.preview),
        token,
        String::new(),
        StatusCode::OK,
    ))
}

#[derive(Deserialize)]
struct ConfirmImport {
    #[serde(default)]
    token: String,
}

/// Step 2: the waiting file, checked again by the same rules and created in one
/// transaction, or not at all. The upload is used up only when the import is saved.
async fn import_confirm(
    mut ctx: SchoolCtx,
    CsrfToken(csrf): CsrfToken,
    messages: Messages,
    headers: HeaderMap,
    Form(f): Form<ConfirmImport>,
) -> AppResult<Response> {
    let today = ctx.today();
    let layout = ctx.layout("Import students", "students", &csrf);
    let Some(text) = import::take(&mut ctx.tx, &f.token, ctx.user.id, ctx.now).await? else {
        return Ok(import_page(
            layout,
            None,
            String::new(),
            "This import is no longer waiting: it was already done, it has expired (after an hour), or it was uploaded by another account. Upload the file again.".into(),
            StatusCode::NOT_FOUND,
        ));
    };
    match import::commit(&mut ctx.tx, &text, today, ctx.now).await {
        Ok(import::Outcome::Imported(preview)) => {
            ctx.audit(
                "import",
                "student",
                "*",
                serde_json::json!({"created": preview.created}),
            )
            .await?;
            crate::tenancy::schools::step_done(&mut ctx.tx, ctx.school.id, "students", ctx.now)
                .await?;
            ctx.commit().await?;
            flash::success(&messages, format!("{} students imported.", preview.created));
            Ok(see_other(&headers, "/students"))
        }
        // Something changed since the preview (a class closed, a number taken): nothing is
        // written and every problem is listed; the upload stays for another try.
        Ok(import::Outcome::Refused(preview)) => Ok(import_refused(
            layout,
            Some(preview),
            "Nothing was imported: the school's records changed since the check.".into(),
        )),
        Err(e) => {
            let errors = field_errors(e)?;
            let message = errors
                .0
                .values()
                .flatten()
                .cloned()
                .collect::<Vec<_>>()
                .join(" ");
            Ok(import_refused(
                layout,
                None,
                format!("Nothing was imported. {message}"),
            ))
        }
    }
}

async fn import_template() -> Response {
    crate::http::download::csv(
        "students-template.csv",
        import::TEMPLATE.as_bytes().to_vec(),
    )
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/students",
            get(list).layer(guard_exact(Action::View, "students")),
        )
        .route(
            "/students",
            post(create).layer(guard_exact(Action::Add, "students")),
        )
        .route(
            "/students/new",
            get(new_form).layer(guard_exact(Action::Add, "students")),
        )
        .route(
            "/students/export.csv",
            get(export).layer(guard_exact(Action::View, "students")),
        )
        .route(
            "/students/import",
            get(import_form)
                .post(import_preview)
                .layer(guard_exact(Action::Add, "students")),
        )
        .route(
            "/students/import/confirm",
            post(import_confirm).layer(guard_exact(Action::Add, "students")),
        )
        .route("/students/import/template.csv", get(import_template))
        .route(
            "/students/{id}",
            get(profile).layer(guard_exact(Action::View, "students")),
        )
        .route(
            "/students/{id}",
            post(update).layer(guard_exact(Action::Change, "students")),
        )
        .route(
            "/students/{id}/edit",
            get(edit_form).layer(guard_exact(Action::Change, "students")),
        )
        .route(
            "/students/{id}/status",
            post(set_status).layer(guard_exact(Action::Change, "students")),
        )
        .route(
            "/students/{id}/delete",
            post(delete).layer(guard_exact(Action::Delete, "students")),
        )
        .route(
            "/students/{id}/photo",
            get(photo).layer(guard_exact(Action::View, "students")),
        )
        .route(
            "/students/{id}/photo",
            post(upload_photo).layer(guard_exact(Action::Change, "students")),
        )
        .route(
            "/students/{id}/record.json",
            get(record_json).layer(guard_exact(Action::View, "students")),
        )
        .route(
            "/students/{id}/guardians",
            post(add_guardian).layer(guard_exact(Action::Add, "guardians")),
        )
        .route(
            "/students/{id}/guardians/{gid}/delete",
            post(remove_guardian).layer(guard_exact(Action::Delete, "guardians")),
        )
}
