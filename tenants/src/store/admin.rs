//! The admin UI's rows: admins, invitation templates and their images, the audit log.
//!
//! Same rules as the meetings (see `store/mod.rs`): one SQL text for both backends with the
//! tenant's schema baked in on PostgreSQL, nothing here knows HTTP, passwords arrive
//! already hashed. Multi-row invariants (one default template per language, never zero
//! admins) are kept inside a transaction, so two admins racing cannot break them.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;
use sqlx::Row as _;

use super::{StoreError, Target, TenantStore};

/// A tenant's admin. `password_hash` is `None` until the first password is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminRow {
    pub login: String,
    pub full_name: String,
    pub password_hash: Option<String>,
    pub token_version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTemplate {
    pub id: String,
    /// `ru` or `en`.
    pub language: String,
    pub name: String,
    pub subject: String,
    pub html: String,
    pub is_default: bool,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
    /// Kinds of the images stored with it (`logo`, `signature`).
    pub images: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTemplate {
    pub language: String,
    pub name: String,
    pub subject: String,
    pub html: String,
    pub is_default: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateImage {
    pub kind: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub detail: String,
}

/// What [`TenantStore::delete_admin`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteAdmin {
    Deleted,
    NotFound,
    /// Refused: it is the tenant's only admin.
    LastAdmin,
}

/// Table names with the tenant's schema prefix (`"acme".` on PostgreSQL, empty on SQLite).
/// Statements are formatted per call from these: the admin UI is not a hot path.
#[derive(Clone)]
pub(super) struct AdminSql {
    admins: Arc<str>,
    templates: Arc<str>,
    images: Arc<str>,
    audit: Arc<str>,
    meta: Arc<str>,
}

impl AdminSql {
    /// `prefix` is already safe SQL (a validated, quoted schema and a dot, or empty).
    pub(super) fn with_prefix(prefix: &str) -> AdminSql {
        let t = |name: &str| -> Arc<str> { format!("{prefix}{name}").into() };
        AdminSql {
            admins: t("admins"),
            templates: t("templates"),
            images: t("template_images"),
            audit: t("audit_log"),
            meta: t("admin_meta"),
        }
    }
}

const ADMIN_COLUMNS: &str =
    "login, full_name, password_hash, token_version, created_at, updated_at";
const TEMPLATE_COLUMNS: &str =
    "id, language, name, subject, html, is_default, updated_by, updated_at";

/// `on_backend!` for statements that encode no id or timestamp.
macro_rules! on_pool {
    ($store:expr, |$pool:ident, $sql:ident| $body:block) => {
        on_backend!($store, |$pool, $sql, _codec| $body)
    };
}

macro_rules! admin_from_row {
    ($row:expr, $codec:ident) => {{
        let row = $row;
        AdminRow {
            login: row.try_get("login")?,
            full_name: row.try_get("full_name")?,
            password_hash: row.try_get("password_hash")?,
            token_version: row.try_get("token_version")?,
            created_at: $codec::ts_from(row.try_get("created_at")?, "created_at")?,
            updated_at: $codec::ts_from(row.try_get("updated_at")?, "updated_at")?,
        }
    }};
}

macro_rules! template_from_row {
    ($row:expr, $codec:ident) => {{
        let row = $row;
        StoredTemplate {
            id: row.try_get("id")?,
            language: row.try_get("language")?,
            name: row.try_get("name")?,
            subject: row.try_get("subject")?,
            html: row.try_get("html")?,
            is_default: row.try_get("is_default")?,
            updated_by: row.try_get("updated_by")?,
            updated_at: $codec::ts_from(row.try_get("updated_at")?, "updated_at")?,
            images: Vec::new(),
        }
    }};
}

impl TenantStore {
    /// Once per tenant: creates the login `admin` without a password and stores `seed`
    /// (the config's template set) as the first templates. Returns whether it ran now;
    /// later calls do nothing, even after every seeded template was deleted.
    pub async fn bootstrap_admin(
        &self,
        seed: &[NewTemplate],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        on_backend!(self, |pool, sql, codec| {
            let a = &sql.admin;
            let mut tx = pool.begin().await?;
            let first = sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO {} (key, value) VALUES ('bootstrapped', $1) ON CONFLICT (key) DO NOTHING",
                a.meta
            )))
            .bind(now.to_rfc3339())
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if !first {
                return Ok(false);
            }
            sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO {} ({ADMIN_COLUMNS}) VALUES ('admin', '', NULL, 0, $1, $1) \
                 ON CONFLICT (login) DO NOTHING",
                a.admins
            )))
            .bind(codec::ts(now, "created_at")?)
            .execute(&mut *tx)
            .await?;
            for t in seed {
                sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO {} ({TEMPLATE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, 'config', $7)",
                    a.templates
                )))
                .bind(uuid::Uuid::new_v4().simple().to_string())
                .bind(t.language.as_str())
                .bind(t.name.as_str())
                .bind(t.subject.as_str())
                .bind(t.html.as_str())
                .bind(t.is_default)
                .bind(codec::ts(now, "updated_at")?)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    pub async fn admins(&self) -> Result<Vec<AdminRow>, StoreError> {
        on_backend!(self, |pool, sql, codec| {
            let rows = sqlx::query(AssertSqlSafe(format!(
                "SELECT {ADMIN_COLUMNS} FROM {} ORDER BY login",
                sql.admin.admins
            )))
            .fetch_all(pool)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push(admin_from_row!(row, codec));
            }
            Ok(out)
        })
    }

    pub async fn admin(&self, login: &str) -> Result<Option<AdminRow>, StoreError> {
        on_backend!(self, |pool, sql, codec| {
            let row = sqlx::query(AssertSqlSafe(format!(
                "SELECT {ADMIN_COLUMNS} FROM {} WHERE login = $1",
                sql.admin.admins
            )))
            .bind(login)
            .fetch_optional(pool)
            .await?;
            Ok(match row {
                Some(row) => Some(admin_from_row!(&row, codec)),
                None => None,
            })
        })
    }

    /// Adds an admin; false when the login is taken.
    pub async fn insert_admin(
        &self,
        login: &str,
        full_name: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        on_backend!(self, |pool, sql, codec| {
            let done = sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO {} ({ADMIN_COLUMNS}) VALUES ($1, $2, $3, 0, $4, $4) \
                 ON CONFLICT (login) DO NOTHING",
                sql.admin.admins
            )))
            .bind(login)
            .bind(full_name)
            .bind(password_hash)
            .bind(codec::ts(now, "created_at")?)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// Changes the full name and, when given, the password (which also revokes every
    /// token of that admin). False when there is no such admin.
    pub async fn update_admin(
        &self,
        login: &str,
        full_name: &str,
        password_hash: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        on_backend!(self, |pool, sql, codec| {
            let done = sqlx::query(AssertSqlSafe(format!(
                "UPDATE {} SET full_name = $2, \
                 password_hash = COALESCE($3, password_hash), \
                 token_version = token_version + CASE WHEN $3 IS NULL THEN 0 ELSE 1 END, \
                 updated_at = $4 WHERE login = $1",
                sql.admin.admins
            )))
            .bind(login)
            .bind(full_name)
            .bind(password_hash)
            .bind(codec::ts(now, "updated_at")?)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// Revokes every token issued to `login` so far. False when there is no such admin.
    pub async fn revoke_tokens(&self, login: &str) -> Result<bool, StoreError> {
        on_pool!(self, |pool, sql| {
            let done = sqlx::query(AssertSqlSafe(format!(
                "UPDATE {} SET token_version = token_version + 1 WHERE login = $1",
                sql.admin.admins
            )))
            .bind(login)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// Deletes an admin unless it is the last one (checked in the same transaction).
    pub async fn delete_admin(&self, login: &str) -> Result<DeleteAdmin, StoreError> {
        on_pool!(self, |pool, sql| {
            let a = &sql.admin;
            let mut tx = pool.begin().await?;
            // Deleting first takes the row lock; counting after it sees the result.
            let deleted = sqlx::query(AssertSqlSafe(format!(
                "DELETE FROM {} WHERE login = $1",
                a.admins
            )))
            .bind(login)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if deleted == 0 {
                return Ok(DeleteAdmin::NotFound);
            }
            let left: i64 =
                sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {}", a.admins)))
                    .fetch_one(&mut *tx)
                    .await?;
            if left == 0 {
                tx.rollback().await?;
                return Ok(DeleteAdmin::LastAdmin);
            }
            tx.commit().await?;
            Ok(DeleteAdmin::Deleted)
        })
    }

    /// Every template with the kinds of its images, defaults first per language.
    pub async fn templates(&self) -> Result<Vec<StoredTemplate>, StoreError> {
        let mut list = on_backend!(self, |pool, sql, codec| {
            let rows = sqlx::query(AssertSqlSafe(format!(
                "SELECT {TEMPLATE_COLUMNS} FROM {} ORDER BY language, is_default DESC, name, id",
                sql.admin.templates
            )))
            .fetch_all(pool)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push(template_from_row!(row, codec));
            }
            Ok::<_, StoreError>(out)
        })?;
        let kinds = self.image_kinds(None).await?;
        for t in &mut list {
            t.images = kinds
                .iter()
                .filter(|(id, _)| *id == t.id)
                .map(|(_, k)| k.clone())
                .collect();
        }
        Ok(list)
    }

    pub async fn template(&self, id: &str) -> Result<Option<StoredTemplate>, StoreError> {
        let found = on_backend!(self, |pool, sql, codec| {
            let row = sqlx::query(AssertSqlSafe(format!(
                "SELECT {TEMPLATE_COLUMNS} FROM {} WHERE id = $1",
                sql.admin.templates
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?;
            Ok::<_, StoreError>(match row {
                Some(row) => Some(template_from_row!(&row, codec)),
                None => None,
            })
        })?;
        let Some(mut t) = found else { return Ok(None) };
        t.images = self
            .image_kinds(Some(id))
            .await?
            .into_iter()
            .map(|(_, k)| k)
            .collect();
        Ok(Some(t))
    }

    /// The default template of a language, if the tenant has one.
    pub async fn default_template(
        &self,
        language: &str,
    ) -> Result<Option<StoredTemplate>, StoreError> {
        let id = on_pool!(self, |pool, sql| {
            let id: Option<String> = sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT id FROM {} WHERE language = $1 AND is_default",
                sql.admin.templates
            )))
            .bind(language)
            .fetch_optional(pool)
            .await?;
            Ok::<_, StoreError>(id)
        })?;
        match id {
            Some(id) => self.template(&id).await,
            None => Ok(None),
        }
    }

    async fn image_kinds(&self, id: Option<&str>) -> Result<Vec<(String, String)>, StoreError> {
        on_pool!(self, |pool, sql| {
            let rows: Vec<(String, String)> = sqlx::query_as(AssertSqlSafe(format!(
                "SELECT template_id, kind FROM {} WHERE $1 IS NULL OR template_id = $1 ORDER BY kind",
                sql.admin.images
            )))
            .bind(id)
            .fetch_all(pool)
            .await?;
            Ok(rows)
        })
    }

    /// Inserts (`id` new) or overwrites a template. Making it the default clears the
    /// language's previous default in the same transaction. False when `update` names
    /// no existing template.
    pub async fn save_template(
        &self,
        id: &str,
        t: &NewTemplate,
        update: bool,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        on_backend!(self, |pool, sql, codec| {
            let a = &sql.admin;
            let mut tx = pool.begin().await?;
            if t.is_default {
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE {} SET is_default = FALSE WHERE language = $1 AND id <> $2 AND is_default",
                    a.templates
                )))
                .bind(t.language.as_str())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            let statement = if update {
                format!(
                    "UPDATE {} SET language = $2, name = $3, subject = $4, html = $5, \
                     is_default = $6, updated_by = $7, updated_at = $8 WHERE id = $1",
                    a.templates
                )
            } else {
                format!(
                    "INSERT INTO {} ({TEMPLATE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    a.templates
                )
            };
            let done = sqlx::query(AssertSqlSafe(statement))
                .bind(id)
                .bind(t.language.as_str())
                .bind(t.name.as_str())
                .bind(t.subject.as_str())
                .bind(t.html.as_str())
                .bind(t.is_default)
                .bind(by)
                .bind(codec::ts(now, "updated_at")?)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Deletes a template and its images. False when there is no such template.
    pub async fn delete_template(&self, id: &str) -> Result<bool, StoreError> {
        on_pool!(self, |pool, sql| {
            let a = &sql.admin;
            let mut tx = pool.begin().await?;
            sqlx::query(AssertSqlSafe(format!(
                "DELETE FROM {} WHERE template_id = $1",
                a.images
            )))
            .bind(id)
            .execute(&mut *tx)
            .await?;
            let done = sqlx::query(AssertSqlSafe(format!(
                "DELETE FROM {} WHERE id = $1",
                a.templates
            )))
            .bind(id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// Stores (or replaces) one image of a template.
    pub async fn put_template_image(
        &self,
        id: &str,
        image: &TemplateImage,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool, sql| {
            sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO {} (template_id, kind, content_type, data) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (template_id, kind) DO UPDATE SET \
                 content_type = excluded.content_type, data = excluded.data",
                sql.admin.images
            )))
            .bind(id)
            .bind(image.kind.as_str())
            .bind(image.content_type.as_str())
            .bind(image.data.as_slice())
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    pub async fn delete_template_image(&self, id: &str, kind: &str) -> Result<bool, StoreError> {
        on_pool!(self, |pool, sql| {
            let done = sqlx::query(AssertSqlSafe(format!(
                "DELETE FROM {} WHERE template_id = $1 AND kind = $2",
                sql.admin.images
            )))
            .bind(id)
            .bind(kind)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// Every image of a template.
    pub async fn template_images(&self, id: &str) -> Result<Vec<TemplateImage>, StoreError> {
        on_pool!(self, |pool, sql| {
            let rows = sqlx::query(AssertSqlSafe(format!(
                "SELECT kind, content_type, data FROM {} WHERE template_id = $1 ORDER BY kind",
                sql.admin.images
            )))
            .bind(id)
            .fetch_all(pool)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push(TemplateImage {
                    kind: row.try_get("kind")?,
                    content_type: row.try_get("content_type")?,
                    data: row.try_get("data")?,
                });
            }
            Ok(out)
        })
    }

    /// Appends to the tenant's audit log.
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        detail: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_backend!(self, |pool, sql, codec| {
            sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO {} (at, actor, action, detail) VALUES ($1, $2, $3, $4)",
                sql.admin.audit
            )))
            .bind(codec::ts(at, "at")?)
            .bind(actor)
            .bind(action)
            .bind(detail)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// The newest `limit` audit entries, newest first.
    pub async fn audit_log(&self, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        on_backend!(self, |pool, sql, codec| {
            let rows = sqlx::query(AssertSqlSafe(format!(
                "SELECT id, at, actor, action, detail FROM {} ORDER BY id DESC LIMIT $1",
                sql.admin.audit
            )))
            .bind(limit)
            .fetch_all(pool)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push(AuditEntry {
                    id: row.try_get("id")?,
                    at: codec::ts_from(row.try_get("at")?, "at")?,
                    actor: row.try_get("actor")?,
                    action: row.try_get("action")?,
                    detail: row.try_get("detail")?,
                });
            }
            Ok(out)
        })
    }
}
