-- Runs inside the tenant's schema: the migrator sets search_path to it, so names stay
-- unqualified here. IF NOT EXISTS keeps a re-run after a partial manual fix harmless.
CREATE TABLE IF NOT EXISTS meetings (
    id           UUID PRIMARY KEY,
    call_id      TEXT NOT NULL,
    creator      TEXT NOT NULL,
    name         TEXT,
    members      JSONB NOT NULL DEFAULT '[]',
    admins       JSONB NOT NULL DEFAULT '[]',
    start_at     TIMESTAMPTZ,
    end_at       TIMESTAMPTZ,
    link         TEXT NOT NULL,
    link_type    TEXT NOT NULL,
    access_code  TEXT,
    language     TEXT NOT NULL,
    is_recurrent BOOLEAN NOT NULL DEFAULT FALSE,
    status       TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'cancelled')),
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);

-- For meetings_created_since (usage metrics / quotas).
CREATE INDEX IF NOT EXISTS meetings_created_at_idx ON meetings (created_at);
