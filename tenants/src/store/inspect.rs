//! Where a tenant's storage stands, read without changing anything: for `xgate diagnose`,
//! which must tell an operator "not migrated" rather than quietly migrate (a check that
//! repairs hides the fault it was run to find, and may lack the rights to repair anyway).
//!
//! Nothing here creates a directory, a file, a schema or a catalog row: one connection of
//! its own (PostgreSQL) or a read-only open of an existing file (SQLite), closed after.

use sqlx::migrate::Migrator;

use super::Backend;

/// What [`inspect`](super::inspect) found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    pub backend: Backend,
    /// PostgreSQL's `server_version`.
    pub server_version: Option<String>,
    /// PostgreSQL's own `max_connections`: the pools of every xgate (and anything else)
    /// using the server share it.
    pub server_max_connections: Option<u32>,
    pub migrations: MigrationState,
}

/// The tenant's migrations against those this build of xgate carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MigrationState {
    /// Every migration applied.
    Current { version: i64 },
    /// No schema (PostgreSQL) or no file (SQLite): never migrated.
    Missing,
    /// The storage exists but lacks migrations (`applied`: the highest one it has).
    Behind { applied: Option<i64>, latest: i64 },
    /// A migration failed half-way, or its file changed after it was applied.
    Broken { version: i64, why: &'static str },
    /// Migrations this build does not know: a newer xgate migrated it.
    Ahead { applied: i64, latest: i64 },
}

/// One row of sqlx's `_sqlx_migrations`: version, success, checksum.
pub(super) type Applied = (i64, bool, Vec<u8>);

/// The verdict sqlx's own migrator would reach, in the order it checks: a dirty
/// (failed) migration, an applied migration it does not know, a changed checksum, then
/// what is left to apply.
pub(super) fn compare(applied: &[Applied], migrator: &Migrator) -> MigrationState {
    let known: Vec<_> = migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .collect();
    let latest = known.iter().map(|m| m.version).max().unwrap_or(0);
    if let Some((version, ..)) = applied.iter().find(|(_, success, _)| !success) {
        return MigrationState::Broken {
            version: *version,
            why: "failed half-way (recorded with success = false)",
        };
    }
    let highest = applied.iter().map(|(v, ..)| *v).max();
    for (version, _, checksum) in applied {
        match known.iter().find(|m| m.version == *version) {
            None => {
                return MigrationState::Ahead {
                    applied: highest.unwrap_or(*version),
                    latest,
                };
            }
            Some(m) if m.checksum.as_ref() != checksum.as_slice() => {
                return MigrationState::Broken {
                    version: *version,
                    why: "differs from this xgate's migration of that number (checksum)",
                };
            }
            Some(_) => {}
        }
    }
    if known
        .iter()
        .all(|m| applied.iter().any(|(v, ..)| *v == m.version))
    {
        MigrationState::Current { version: latest }
    } else {
        MigrationState::Behind {
            applied: highest,
            latest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static MIGRATOR: Migrator = sqlx::migrate!("../migrations/sqlite");

    fn applied(versions: &[i64]) -> Vec<Applied> {
        MIGRATOR
            .iter()
            .filter(|m| versions.contains(&m.version))
            .map(|m| (m.version, true, m.checksum.to_vec()))
            .collect()
    }

    #[test]
    fn verdicts() {
        let all: Vec<i64> = MIGRATOR.iter().map(|m| m.version).collect();
        let latest = *all.iter().max().unwrap();
        assert_eq!(
            compare(&applied(&all), &MIGRATOR),
            MigrationState::Current { version: latest }
        );
        assert_eq!(
            compare(&applied(&all[..1]), &MIGRATOR),
            MigrationState::Behind {
                applied: Some(all[0]),
                latest
            }
        );
        assert_eq!(
            compare(&[], &MIGRATOR),
            MigrationState::Behind {
                applied: None,
                latest
            }
        );
        let mut changed = applied(&all);
        changed[0].2 = vec![0; 4];
        assert!(matches!(
            compare(&changed, &MIGRATOR),
            MigrationState::Broken { version, .. } if version == all[0]
        ));
        let mut dirty = applied(&all);
        dirty[1].1 = false;
        assert!(matches!(
            compare(&dirty, &MIGRATOR),
            MigrationState::Broken { version, .. } if version == all[1]
        ));
        let mut newer = applied(&all);
        newer.push((latest + 1, true, vec![1]));
        assert_eq!(
            compare(&newer, &MIGRATOR),
            MigrationState::Ahead {
                applied: latest + 1,
                latest
            }
        );
    }
}
