//! The fast path of a reload: the file watcher names the files that changed and they
//! are all included tenant files, so only they are read again. Every other tenant keeps
//! its definition in force: already checked, with its secrets as they were last read.
//! At 10,000 tenants this turns a reload from reading 10,000 files into reading one.
//!
//! Invariant: the result is what `load_cached` followed by `merge` gives for the same
//! tree, except that the untouched tenants' secrets, CA files and template sets are not
//! read again. That is why only the file watcher takes this path: SIGHUP and
//! `POST /reload` read the whole tree and every secret (token rotation), and a change to
//! a watched secret or template file is not a tenant file, so it is a full reload too.
//!
//! Why it holds: a tenant's definition depends on its own entry, its secrets and
//! templates, and the claims (ports, mail domains, schema) of the tenants it collides
//! with. The tenants outside the changed files are exactly what the last load made of
//! their unchanged files (none of them is refused: no stale or rejected tenant outside
//! the changed files), and they are conflict-free among themselves. So every conflict
//! involves a changed tenant, and a check over the changed tenants plus the tenants
//! holding one of their claims finds what a check over the whole tree finds; the same
//! `conflicts` and `merge` code runs over that scope.
//!
//! Where the argument does not apply the fast path declines and the caller reads the
//! whole tree: no successful full load yet (or the last one failed), the main file or a
//! file that is not exactly one include's changed, a changed file does not parse, a
//! tenant id is defined twice or moves in from a file that did not change, or a tenant
//! outside the changed files is refused.

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;

use super::cache::{LoadCache, stamp_of};
use super::tenant::{Built, Context, conflicts, conflicts_of_refused, holders_of_claims};
use super::{Config, ConfigError, Loaded, Merged, TenantConfig, include_glob, merge};

/// Why the fast path does not apply; the caller reads the whole tree instead.
#[derive(Debug)]
pub struct Declined(pub String);

impl fmt::Display for Declined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn declined<T>(why: impl Into<String>) -> Result<T, Declined> {
    Err(Declined(why.into()))
}

/// Reads only `changed` (paths as the watcher reported them) over `current`, the config
/// in force. `refused` are the errors of the tenants in force that are stale or rejected.
/// On success the files read are remembered in `cache`; a `Declined` leaves it as it was.
pub fn load_changed<'e>(
    current: &Config,
    refused: impl IntoIterator<Item = &'e ConfigError>,
    cache: &LoadCache,
    changed: &BTreeSet<PathBuf>,
) -> Result<Merged, Declined> {
    let Some(tree) = cache.tree() else {
        return declined("no successful load of the whole tree to build on");
    };
    check_paths(current, &tree.server.include, changed)?;
    let refused: Vec<&ConfigError> = refused.into_iter().collect();
    if let Some(e) = refused.iter().find(|e| !changed.contains(&e.file)) {
        // Its refusal may hinge on a changed tenant (a claim just given up).
        return declined(format!(
            "tenant `{}` is refused in `{}`, which did not change",
            e.tenant.as_deref().unwrap_or("?"),
            e.file.display()
        ));
    }

    // What the changed files held as last applied: taken from the state in force, which
    // only applied reloads change (the cache may hold a read that was not applied).
    let mut touched: BTreeSet<String> = current
        .tenants
        .values()
        .filter(|t| changed.contains(&t.file))
        .map(|t| t.id.clone())
        .chain(refused.iter().filter_map(|e| e.tenant.clone()))
        .collect();
    let mut reads = Vec::new();
    let mut entries = Vec::new();
    for path in changed {
        if !path.is_file() {
            reads.push((path, None));
            continue;
        }
        let before = stamp_of(path);
        let (file_entries, errors) = super::parse_included(path);
        if !errors.is_empty() {
            // The whole reload fails: let the full path list every error of the tree.
            return declined(format!("`{}` has errors", path.display()));
        }
        entries.extend(file_entries.iter().cloned());
        // Remembered for the full path only if nothing wrote the file while it was read.
        let stable = before.filter(|b| stamp_of(path).as_ref() == Some(b));
        reads.push((path, stable.map(|s| (s, file_entries))));
    }
    let mut new_ids = BTreeSet::new();
    for e in &entries {
        if !new_ids.insert(e.id.clone()) {
            return declined(format!("tenant `{}` is defined twice", e.id));
        }
    }
    touched.extend(new_ids);
    for id in &touched {
        if let Some(t) = current.tenants.get(id)
            && !changed.contains(&t.file)
        {
            return declined(format!(
                "tenant `{id}` is defined in `{}` as well",
                t.file.display()
            ));
        }
    }

    // From here on, the same steps as `load_cached`, over the changed tenants.
    let ctx = Context::new(&current.dir, &tree.server);
    let mut built = Built::default();
    for entry in &entries {
        ctx.build_into(entry, &mut built);
    }
    let Built {
        mut tenants,
        errors: mut tenant_errors,
        refused_claims,
    } = built;
    for t in tenants.values_mut() {
        share_templates(t, current);
    }
    let mut scope = touched.clone();
    for t in holders_of_claims(&current.tenants, &touched, &tenants, &refused_claims) {
        scope.insert(t.id.clone());
        tenants.insert(t.id.clone(), t.clone());
    }
    for (loser, err) in conflicts(&tree.server, &tenants, Some(&current.tenants)) {
        tenants.remove(&loser);
        tenant_errors.entry(loser).or_default().push(err);
    }
    for (id, err) in conflicts_of_refused(&tenants, &refused_claims) {
        tenant_errors.entry(id).or_default().push(err);
    }

    for (path, read) in reads {
        cache.store(path, read);
    }
    let loaded = Loaded {
        config: Config {
            path: current.path.clone(),
            dir: current.dir.clone(),
            server: tree.server,
            database: tree.database,
            tenants,
        },
        tenant_errors,
    };
    let mut merged = merge(current, loaded);
    merged.scope = Some(scope);
    Ok(merged)
}

/// Every changed path must be an included tenant file (present or removed), matched by
/// exactly one include pattern, as the full load's glob expansion would list it.
fn check_paths(
    current: &Config,
    includes: &[String],
    changed: &BTreeSet<PathBuf>,
) -> Result<(), Declined> {
    let mut patterns = Vec::new();
    for p in includes {
        match glob::Pattern::new(&include_glob(&current.dir, p)) {
            Ok(p) => patterns.push(p),
            Err(_) => return declined(format!("include pattern `{p}` is not a glob")),
        }
    }
    // As `glob::glob` walks: `*` never spans a `/`; a leading dot needs no literal dot.
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    };
    if changed.is_empty() {
        return declined("no path named");
    }
    for path in changed {
        if *path == current.path {
            return declined("the main file changed");
        }
        let matching = patterns
            .iter()
            .filter(|p| p.matches_path_with(path, options))
            .count();
        if matching != 1 {
            return declined(format!(
                "`{}` is not the file of exactly one include",
                path.display()
            ));
        }
    }
    Ok(())
}

/// A template set read again for a changed tenant is, unless its files changed, equal to
/// the one in force: use that `Arc`, so that tenants keep sharing one copy.
fn share_templates(t: &mut TenantConfig, current: &Config) {
    let same = current
        .tenants
        .get(&t.id)
        .into_iter()
        .chain(current.tenants.values())
        .map(|c| &c.templates)
        .find(|s| s.name == t.templates.name);
    if let Some(same) = same
        && **same == *t.templates
    {
        t.templates = same.clone();
    }
}

#[cfg(test)]
mod tests;
