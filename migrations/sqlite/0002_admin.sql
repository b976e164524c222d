-- The tenant admin UI: its admins, invitation templates with their images, the audit log.
-- Timestamps as in 0001 (fixed-width RFC 3339 UTC text); booleans are 0/1.

-- password_hash NULL: the login exists but has no password yet; it may only set one.
-- token_version: every JWT carries it; bumping it (logout, new password) revokes them all.
CREATE TABLE IF NOT EXISTS admins (
    login         TEXT PRIMARY KEY NOT NULL,
    full_name     TEXT NOT NULL DEFAULT '',
    password_hash TEXT,
    token_version INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
) STRICT;

CREATE TABLE IF NOT EXISTS templates (
    id         TEXT PRIMARY KEY NOT NULL,
    language   TEXT NOT NULL CHECK (language IN ('ru', 'en')),
    name       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    html       TEXT NOT NULL,
    is_default INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    updated_by TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

-- At most one default per language.
CREATE UNIQUE INDEX IF NOT EXISTS templates_one_default ON templates (language) WHERE is_default = 1;

CREATE TABLE IF NOT EXISTS template_images (
    template_id  TEXT NOT NULL REFERENCES templates (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('logo', 'signature')),
    content_type TEXT NOT NULL,
    data         BLOB NOT NULL,
    PRIMARY KEY (template_id, kind)
) STRICT;

CREATE TABLE IF NOT EXISTS audit_log (
    id     INTEGER PRIMARY KEY,
    at     TEXT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
) STRICT;

-- One-time facts ('bootstrapped': the first admin and the config's templates were created).
CREATE TABLE IF NOT EXISTS admin_meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;
