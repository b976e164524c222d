-- The tenant admin UI: its admins, invitation templates with their images, the audit log.
-- Runs inside the tenant's schema (see 0001).

-- password_hash NULL: the login exists but has no password yet; it may only set one.
-- token_version: every JWT carries it; bumping it (logout, new password) revokes them all.
CREATE TABLE IF NOT EXISTS admins (
    login         TEXT PRIMARY KEY,
    full_name     TEXT NOT NULL DEFAULT '',
    password_hash TEXT,
    token_version BIGINT NOT NULL DEFAULT 0,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS templates (
    id         TEXT PRIMARY KEY,
    language   TEXT NOT NULL CHECK (language IN ('ru', 'en')),
    name       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    html       TEXT NOT NULL,
    is_default BOOLEAN NOT NULL DEFAULT FALSE,
    updated_by TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- At most one default per language.
CREATE UNIQUE INDEX IF NOT EXISTS templates_one_default ON templates (language) WHERE is_default;

CREATE TABLE IF NOT EXISTS template_images (
    template_id  TEXT NOT NULL REFERENCES templates (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('logo', 'signature')),
    content_type TEXT NOT NULL,
    data         BYTEA NOT NULL,
    PRIMARY KEY (template_id, kind)
);

CREATE TABLE IF NOT EXISTS audit_log (
    id     BIGSERIAL PRIMARY KEY,
    at     TIMESTAMPTZ NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);

-- One-time facts ('bootstrapped': the first admin and the config's templates were created).
CREATE TABLE IF NOT EXISTS admin_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
