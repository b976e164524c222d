-- One file per tenant, so no schema prefix. STRICT makes SQLite enforce the column types.
-- Timestamps are fixed-width UTC RFC 3339 text with microseconds
-- ('2025-01-31T09:30:00.123456Z'): readable in the sqlite3 shell, and because every value
-- has the same width and zone, text order is time order, so created_at >= $1 and the
-- index work on plain strings.
-- members/admins are JSON arrays as text; is_recurrent is 0/1.
CREATE TABLE IF NOT EXISTS meetings (
    id           TEXT PRIMARY KEY NOT NULL,
    call_id      TEXT NOT NULL,
    creator      TEXT NOT NULL,
    name         TEXT,
    members      TEXT NOT NULL DEFAULT '[]',
    admins       TEXT NOT NULL DEFAULT '[]',
    start_at     TEXT,
    end_at       TEXT,
    link         TEXT NOT NULL,
    link_type    TEXT NOT NULL,
    access_code  TEXT,
    language     TEXT NOT NULL,
    is_recurrent INTEGER NOT NULL DEFAULT 0 CHECK (is_recurrent IN (0, 1)),
    status       TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'cancelled')),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
) STRICT;

-- For meetings_created_since (usage metrics / quotas).
CREATE INDEX IF NOT EXISTS meetings_created_at_idx ON meetings (created_at);
