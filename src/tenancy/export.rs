//! Offboarding, part one: a school's whole data as one zip, for a school that leaves or asks
//! for its data.
//!
//! What is in it (README.txt inside says the same):
//! - `tables/<table>.csv`: every table of the school's schema, found in the catalogue
//!   (sorted by name; partitions come with their parent), columns in their table order,
//!   rows by primary key, with a header line. PostgreSQL writes the CSV (`COPY … TO
//!   STDOUT`), so values read exactly as the database prints them (timestamps in UTC, ISO).
//! - `files/<table>/<column>/<row key><ext>`: the content of each binary column of a table
//!   that holds files (one with a content type or file name column: pupils' photos, the
//!   logo, report-card PDFs, notice attachments), one file per row; the CSV cell holds that
//!   path. The row key is the primary key (joined with `-`). Other binary values (migration
//!   checksums) stay in the CSV in PostgreSQL's hex form (`\x…`).
//! - `school.json`: the platform's rows about the school: the school, its domains and
//!   set-up, its users (no password hashes), API keys (no secrets), its WhatsApp number
//!   (no access token) and contacts.
//! - `manifest.json`: the school, when and by whom, the schema's migration version, and
//!   for every file its name, rows (tables), size and SHA-256.
//!
//! Never exported: password hashes, refresh tokens, API-key secret hashes, the sealed
//! WhatsApp access token, link-code and upload-token hashes. In the school's tables a
//! column is left out when its name marks it as a credential (`is_secret`); the manifest
//! lists what was left out per table.
//!
//! Memory stays flat: the CSV streams from PostgreSQL through the zip writer into the
//! response a piece at a time, a binary file is read one row at a time (at most one photo
//! or one class's PDF in memory). Everything is read in one REPEATABLE READ, READ ONLY
//! transaction, so the export is one consistent moment of the school; its connection is
//! held while the download runs and let go when it ends, fails, or the client leaves (or
//! stops reading for a minute). The platform trail records the start (`export_started`)
//! and the end (`exported`: outcome and counts).

use std::{collections::BTreeMap, io, time::Duration};

use axum::{
    body::{Body, Bytes},
    http::header,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tokio::sync::mpsc;

use super::schools::{self, SchoolOut};
use crate::{
    audit::trail::{self, Actor, Entry, Trail},
    context::PlatformCtx,
    db::{SchemaName, Tx},
    error::{AppError, AppResult},
    http::{
        RequestMeta,
        download::disposition,
        zip::{Packing, ZipStream},
    },
};

/// How long the download may stall (the client reading nothing) before it is given up and
/// its database connection let go.
const STALL_LIMIT: Duration = Duration::from_secs(60);

/// Whether a column of a school table holds a credential and stays out of exports:
/// `*_hash`, `*_sealed`, or a name with the word password, secret or token.
pub fn is_secret(column: &str) -> bool {
    let c = column.to_ascii_lowercase();
    c.ends_with("_hash")
        || c.ends_with("_sealed")
        || c.split('_')
            .any(|word| matches!(word, "password" | "secret" | "token"))
}

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

struct Column {
    name: String,
    bytea: bool,
}

struct Table {
    name: String,
    /// `"schema"."table"`, quoted by PostgreSQL.
    qualified: String,
    columns: Vec<Column>,
    primary_key: Vec<String>,
}

impl Table {
    fn has_column(&self, name: &str) -> bool {
        self.columns.iter().any(|c| c.name == name)
    }

    /// Whether the table holds files (it names their type or name): its binary columns
    /// are written as files. Other binary values (migration checksums) stay in the CSV as
    /// PostgreSQL prints them (`\x` and hex).
    fn holds_files(&self) -> bool {
        ["content_type", "file_name", "filename"]
            .into_iter()
            .any(|c| self.has_column(c))
    }

    fn as_file(&self, column: &Column) -> bool {
        column.bytea && self.holds_files()
    }

    fn exported(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| !is_secret(&c.name))
    }

    fn excluded(&self) -> Vec<String> {
        self.columns
            .iter()
            .filter(|c| is_secret(&c.name))
            .map(|c| c.name.clone())
            .collect()
    }

    fn order_by(&self) -> String {
        if self.primary_key.is_empty() {
            "ctid".to_owned()
        } else {
            let key: Vec<String> = self.primary_key.iter().map(|k| ident(k)).collect();
            key.join(", ")
        }
    }

    /// A row's name in `files/`: its primary key (a secret key, or none: its place in
    /// this snapshot), kept to letters, digits, `.`, `_` and `-`.
    fn row_key(&self) -> String {
        let raw = if self.primary_key.is_empty() || self.primary_key.iter().any(|k| is_secret(k)) {
            "ctid::text".to_owned()
        } else {
            let parts: Vec<String> = self
                .primary_key
                .iter()
                .map(|k| format!("{}::text", ident(k)))
                .collect();
            format!("concat_ws('-', {})", parts.join(", "))
        };
        format!("regexp_replace({raw}, '[^A-Za-z0-9._-]+', '_', 'g')")
    }

    /// The file extension, from the row's content type or file name where the table has one.
    fn extension(&self) -> String {
        if self.has_column("content_type") {
            "coalesce(CASE \"content_type\" WHEN 'image/jpeg' THEN '.jpg' WHEN 'image/png' THEN '.png'
                       WHEN 'image/webp' THEN '.webp' WHEN 'image/gif' THEN '.gif'
                       WHEN 'application/pdf' THEN '.pdf' END, '')"
                .to_owned()
        } else if let Some(col) = ["file_name", "filename"]
            .into_iter()
            .find(|c| self.has_column(c))
        {
            format!(
                "coalesce(lower(substring({} from '(\\.[A-Za-z0-9]{{1,5}})$')), '')",
                ident(col)
            )
        } else {
            "''".to_owned()
        }
    }

    fn file_path(&self, column: &Column) -> String {
        format!(
            "{} || {} || {}",
            literal(&format!("files/{}/{}/", self.name, column.name)),
            self.row_key(),
            self.extension()
        )
    }

    fn copy_sql(&self) -> String {
        let list: Vec<String> = self
            .exported()
            .map(|c| {
                let q = ident(&c.name);
                if self.as_file(c) {
                    format!(
                        "CASE WHEN {q} IS NULL THEN NULL ELSE {} END AS {q}",
                        self.file_path(c)
                    )
                } else {
                    q
                }
            })
            .collect();
        format!(
            "COPY (SELECT {} FROM {} ORDER BY {}) TO STDOUT WITH (FORMAT csv, HEADER true)",
            list.join(", "),
            self.qualified,
            self.order_by()
        )
    }

    fn files_sql(&self, column: &Column) -> String {
        let q = ident(&column.name);
        format!(
            "SELECT {} AS path, {q} AS content FROM {} WHERE {q} IS NOT NULL ORDER BY {}",
            self.file_path(column),
            self.qualified,
            self.order_by()
        )
    }
}

/// A table as the catalogue describes it: name, qualified name, columns, which of them
/// are binary, primary key.
type CatalogRow = (String, String, Vec<String>, Vec<bool>, Vec<String>);

async fn tables(tx: &mut Tx, schema: &SchemaName) -> Result<Vec<Table>, sqlx::Error> {
    let rows: Vec<CatalogRow> = sqlx::query_as(
        "SELECT c.relname::text,
                quote_ident(n.nspname) || '.' || quote_ident(c.relname),
                ARRAY(SELECT a.attname::text FROM pg_attribute a
                       WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                       ORDER BY a.attnum),
                ARRAY(SELECT a.atttypid = 'bytea'::regtype FROM pg_attribute a
                       WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                       ORDER BY a.attnum),
                ARRAY(SELECT a.attname::text
                        FROM pg_index i
                       CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                       WHERE i.indrelid = c.oid AND i.indisprimary
                       ORDER BY k.ord)
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition
          ORDER BY c.relname",
    )
    .bind(schema.as_str())
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(name, qualified, names, bytea, primary_key)| Table {
            name,
            qualified,
            columns: names
                .into_iter()
                .zip(bytea)
                .map(|(name, bytea)| Column { name, bytea })
                .collect(),
            primary_key,
        })
        .collect())
}

/// The platform's rows about the school, without a credential among them.
async fn school_json(tx: &mut Tx, id: i64) -> Result<Value, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT jsonb_build_object(
           'school', (SELECT to_jsonb(c) FROM public.clients c WHERE c.id = $1),
           'domains', (SELECT coalesce(jsonb_agg(to_jsonb(d) ORDER BY d.id), '[]')
                         FROM public.domains d WHERE d.client_id = $1),
           'setup', (SELECT to_jsonb(s) FROM public.school_setups s WHERE s.client_id = $1),
           'users', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                              'id', u.id, 'email', u.email, 'full_name', u.full_name,
                              'is_active', u.is_active, 'last_login', u.last_login,
                              'created_at', u.created_at, 'updated_at', u.updated_at,
                              'api_key_account', EXISTS (SELECT 1 FROM public.api_keys k WHERE k.user_id = u.id))
                            ORDER BY u.id), '[]')
                       FROM public.users u WHERE u.client_id = $1),
           'api_keys', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                 'id', k.id, 'name', k.name, 'prefix', k.prefix, 'user_id', k.user_id,
                                 'scopes', k.scopes, 'permissions', k.permissions,
                                 'created_at', k.created_at, 'last_used_at', k.last_used_at,
                                 'revoked_at', k.revoked_at)
                               ORDER BY k.id), '[]')
                          FROM public.api_keys k WHERE k.client_id = $1),
           'whatsapp_number', (SELECT jsonb_build_object(
                                  'phone_number_id', w.phone_number_id, 'display_phone', w.display_phone,
                                  'created_at', w.created_at, 'updated_at', w.updated_at)
                                 FROM public.whatsapp_numbers w WHERE w.school_id = $1),
           'whatsapp_contacts', (SELECT coalesce(jsonb_agg(to_jsonb(w) ORDER BY w.id), '[]')
                                   FROM public.whatsapp_contacts w WHERE w.school_id = $1))",
    )
    .bind(id)
    .fetch_one(&mut **tx)
    .await
}

const README: &str = "A school's data, exported from Schoolyard.

manifest.json      the school, when and by whom, the schema's migration version, and for
                   every file: name, rows (tables), bytes and SHA-256.
school.json        the platform's records of the school: the school, its domains and
                   set-up, its users, API keys, WhatsApp number and contacts.
tables/*.csv       every table of the school, one CSV each (UTF-8, comma separated, header
                   line, rows by primary key; timestamps in UTC). An empty cell is NULL.
files/...          the content of files kept in tables (photos, logo, report-card PDFs,
                   notice attachments): files/<table>/<column>/<row key>; the CSV cell
                   holds that path. Other binary values are hex in the CSV (\\x...).

Passwords, tokens, API-key secrets and their hashes are never exported; the manifest
lists the columns left out.
";

#[derive(Serialize)]
struct ManifestFile {
    name: String,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rows: Option<i64>,
    bytes: u64,
    sha256: String,
}

/// Why the stream stopped early.
enum Stop {
    /// The client went away or stopped reading.
    Gone,
    Failed(String),
}

impl From<sqlx::Error> for Stop {
    fn from(e: sqlx::Error) -> Self {
        Stop::Failed(e.to_string())
    }
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Self {
        Stop::Failed(e.to_string())
    }
}

/// The zip on its way to the client, and what the manifest will say.
struct Out {
    zip: ZipStream,
    body: mpsc::Sender<io::Result<Bytes>>,
    files: Vec<ManifestFile>,
    sent: u64,
}

impl Out {
    async fn send(&mut self, bytes: Vec<u8>) -> Result<(), Stop> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.sent += bytes.len() as u64;
        match tokio::time::timeout(STALL_LIMIT, self.body.send(Ok(Bytes::from(bytes)))).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(Stop::Gone),
        }
    }

    /// A whole file as one entry, listed in the manifest.
    async fn file(
        &mut self,
        name: &str,
        kind: &'static str,
        data: &[u8],
        packing: Packing,
    ) -> Result<(), Stop> {
        let bytes = self.zip.entry(name, data, packing)?;
        self.send(bytes).await?;
        self.files.push(ManifestFile {
            name: name.to_owned(),
            kind,
            rows: None,
            bytes: data.len() as u64,
            sha256: hex::encode(Sha256::digest(data)),
        });
        Ok(())
    }

    /// One table as CSV, straight from PostgreSQL, then its binary columns as files.
    async fn table(&mut self, tx: &mut Tx, table: &Table) -> Result<i64, Stop> {
        let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {}",
            table.qualified
        )))
        .fetch_one(&mut **tx)
        .await?;
        let name = format!("tables/{}.csv", table.name);
        let start = self.zip.start(&name, Packing::Deflated)?;
        self.send(start).await?;
        let mut hash = Sha256::new();
        let mut size = 0u64;
        {
            let mut copy = tx.copy_out_raw(&table.copy_sql()).await?;
            while let Some(chunk) = copy.try_next().await? {
                hash.update(&chunk);
                size += chunk.len() as u64;
                let bytes = self.zip.write(&chunk)?;
                self.send(bytes).await?;
            }
        }
        self.files.push(ManifestFile {
            name,
            kind: "table",
            rows: Some(rows),
            bytes: size,
            sha256: hex::encode(hash.finalize()),
        });
        for column in table.exported().filter(|c| table.as_file(c)) {
            let sql = table.files_sql(column);
            let mut files =
                sqlx::query_as::<_, (String, Vec<u8>)>(sqlx::AssertSqlSafe(sql)).fetch(&mut **tx);
            while let Some((path, content)) = files.try_next().await? {
                self.file(&path, "file", &content, Packing::Stored).await?;
            }
        }
        Ok(rows)
    }
}

/// What the export is about, read before the first byte goes out.
struct Plan {
    school: SchoolOut,
    tables: Vec<Table>,
    school_json: Value,
    migration_version: Option<i64>,
    exported_at: DateTime<Utc>,
    exported_by: String,
}

async fn plan(
    tx: &mut Tx,
    school: SchoolOut,
    exported_by: String,
    exported_at: DateTime<Utc>,
) -> AppResult<Plan> {
    let schema = SchemaName::parse(&school.schema_name)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("stored schema name invalid: {e}")))?;
    // The whole export reads one snapshot, prints times in UTC and ISO dates, and is not
    // cut off by the request's statement limit (a big table takes a while); a stalled
    // client is let go by the stall limit instead.
    sqlx::query(
        "SELECT set_config('search_path', 'public', true),
                set_config('TimeZone', 'UTC', true),
                set_config('DateStyle', 'ISO, YMD', true),
                set_config('IntervalStyle', 'iso_8601', true),
                set_config('statement_timeout', '0', true),
                set_config('idle_in_transaction_session_timeout', '120s', true)",
    )
    .execute(&mut **tx)
    .await?;
    let tables = tables(tx, &schema).await?;
    if tables.is_empty() {
        return Err(AppError::Conflict(
            "This school has no schema to export.".into(),
        ));
    }
    let migration_version = if tables.iter().any(|t| t.name == "_sqlx_migrations") {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT max(version) FROM {}._sqlx_migrations WHERE success",
            schema.quoted()
        )))
        .fetch_one(&mut **tx)
        .await?
    } else {
        None
    };
    let school_json = school_json(tx, school.id).await?;
    Ok(Plan {
        school,
        tables,
        school_json,
        migration_version,
        exported_at,
        exported_by,
    })
}

/// Writes the whole zip; returns rows per table.
async fn write_all(out: &mut Out, tx: &mut Tx, plan: &Plan) -> Result<BTreeMap<String, i64>, Stop> {
    out.file("README.txt", "readme", README.as_bytes(), Packing::Deflated)
        .await?;
    let school_json =
        serde_json::to_vec_pretty(&plan.school_json).map_err(|e| Stop::Failed(e.to_string()))?;
    out.file("school.json", "json", &school_json, Packing::Deflated)
        .await?;
    let mut counts = BTreeMap::new();
    for table in &plan.tables {
        let rows = out.table(tx, table).await?;
        counts.insert(table.name.clone(), rows);
    }
    let excluded: BTreeMap<&str, Vec<String>> = plan
        .tables
        .iter()
        .map(|t| (t.name.as_str(), t.excluded()))
        .filter(|(_, cols)| !cols.is_empty())
        .collect();
    let manifest = json!({
        "format": "schoolyard-school-export",
        "format_version": 1,
        "school": {
            "id": plan.school.id,
            "code": plan.school.code,
            "name": plan.school.name,
            "schema_name": plan.school.schema_name,
            "is_active": plan.school.is_active,
        },
        "exported_at": plan.exported_at,
        "exported_by": plan.exported_by,
        "schema_migration_version": plan.migration_version,
        "excluded_columns": excluded,
        "files": out.files,
    });
    let manifest = serde_json::to_vec_pretty(&manifest).map_err(|e| Stop::Failed(e.to_string()))?;
    let bytes = out
        .zip
        .entry("manifest.json", &manifest, Packing::Deflated)?;
    out.send(bytes).await?;
    Ok(counts)
}

/// Streams the school's export as the response, audited on the platform trail. The
/// request's own transaction records the start and is committed before the first byte.
pub async fn start(pool: &PgPool, mut ctx: PlatformCtx, id: i64) -> AppResult<Response> {
    let school = schools::get(&mut ctx.tx, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    ctx.audit(
        "export_started",
        "school",
        id,
        json!({"code": school.code, "schema_name": school.schema_name}),
    )
    .await?;
    let actor = Actor {
        id: Some(ctx.user.id),
        email: Some(ctx.user.email.clone()),
    };
    let (meta, now) = (ctx.meta.clone(), ctx.now);
    ctx.commit().await?;

    let mut tx = pool
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .await?;
    let file_name = format!("{}-export-{}.zip", school.code, now.format("%Y-%m-%d"));
    let plan = match plan(
        &mut tx,
        school,
        actor.email.clone().unwrap_or_default(),
        now,
    )
    .await
    {
        Ok(plan) => plan,
        Err(e) => {
            drop(tx);
            let outcome = json!({"outcome": "failed", "error": e.to_string()});
            audit_end(pool, &actor, &meta, id, outcome).await;
            return Err(e);
        }
    };

    // A few pieces in flight at most: the client's pace sets the database's.
    let (body, pieces) = mpsc::channel::<io::Result<Bytes>>(4);
    let pool = pool.clone();
    tokio::spawn(async move {
        let mut out = Out {
            zip: ZipStream::new(plan.exported_at.naive_utc()),
            body,
            files: Vec::new(),
            sent: 0,
        };
        let result = write_all(&mut out, &mut tx, &plan).await;
        // The snapshot ends before anything else: the connection goes back now.
        drop(tx);
        let Out {
            zip, body, files, ..
        } = out;
        let mut changes = json!({
            "tables": plan.tables.len(),
            "files": files.iter().filter(|f| f.kind == "file").count(),
            "bytes": 0,
        });
        match result {
            Ok(counts) => match zip.finish() {
                Ok(end) => {
                    let sent = out.sent + end.len() as u64;
                    changes["outcome"] = json!("complete");
                    changes["bytes"] = json!(sent);
                    changes["rows"] = json!(counts.values().sum::<i64>());
                    changes["row_counts"] = json!(counts);
                    let delivered =
                        tokio::time::timeout(STALL_LIMIT, body.send(Ok(Bytes::from(end)))).await;
                    if !matches!(delivered, Ok(Ok(()))) {
                        changes["outcome"] = json!("aborted");
                    }
                    // Recorded before the body ends: a client that has the whole zip
                    // finds the export on the trail.
                    audit_end(&pool, &actor, &meta, id, changes).await;
                }
                Err(e) => {
                    tracing::error!(school_id = id, error = %e, "school export failed");
                    changes["outcome"] = json!("failed");
                    changes["error"] = json!(e.to_string());
                    let _ = body.send(Err(e)).await;
                    audit_end(&pool, &actor, &meta, id, changes).await;
                }
            },
            Err(Stop::Gone) => {
                tracing::info!(school_id = id, "school export abandoned by the client");
                changes["outcome"] = json!("aborted");
                changes["bytes"] = json!(out.sent);
                audit_end(&pool, &actor, &meta, id, changes).await;
            }
            Err(Stop::Failed(error)) => {
                tracing::error!(school_id = id, %error, "school export failed");
                changes["outcome"] = json!("failed");
                changes["error"] = json!(error);
                changes["bytes"] = json!(out.sent);
                // The client sees a broken download, never a zip that looks whole.
                let _ = body.send(Err(io::Error::other("export failed"))).await;
                audit_end(&pool, &actor, &meta, id, changes).await;
            }
        }
    });

    let stream = futures::stream::unfold(pieces, |mut pieces| async move {
        pieces.recv().await.map(|piece| (piece, pieces))
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                disposition("attachment", &file_name),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// The `exported` row on the platform trail. Logged, not raised, when it cannot be written:
/// the download is already under way or over.
async fn audit_end(pool: &PgPool, actor: &Actor, meta: &RequestMeta, id: i64, changes: Value) {
    let result = async {
        let mut tx = pool.begin().await?;
        trail::record(
            &mut tx,
            Trail::Platform,
            actor,
            meta,
            Entry {
                action: "exported",
                entity: "school",
                entity_id: Some(id.to_string()),
                changes,
            },
            Utc::now(),
        )
        .await?;
        tx.commit().await
    }
    .await;
    if let Err(error) = result {
        tracing::error!(school_id = id, %error, "the end of a school export could not be audited");
    }
}

#[cfg(test)]
mod tests {
    use crate::tenancy::export::is_secret;

    #[test]
    fn credentials_are_secret_and_ordinary_columns_are_not() {
        for c in [
            "password_hash",
            "token_hash",
            "code_hash",
            "secret_hash",
            "access_token_sealed",
            "refresh_token",
            "api_secret",
        ] {
            assert!(is_secret(c), "{c}");
        }
        for c in [
            "first_name",
            "results_template",
            "content",
            "bytes",
            "wa_user_id",
            "tokens_used_count_x",
        ] {
            assert!(!is_secret(c), "{c}");
        }
    }
}
