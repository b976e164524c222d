//! What an import did, for the operator: the files written, the variables to set (names
//! only, never values), and every old key with what it became or why it did not.

use std::fmt;
use std::path::PathBuf;

use super::mapping::{KeyReport, Outcome, Role};
use super::render::EnvVar;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub tenants: Vec<TenantReport>,
    /// Every input file, core files first, in the order given.
    pub files: Vec<FileReport>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantReport {
    pub id: String,
    /// The core service settings it came from.
    pub source: PathBuf,
    pub config_file: PathBuf,
    pub env_example: PathBuf,
    pub env_vars: Vec<EnvVar>,
    /// Things to do by hand before the tenant serves (name, mail domains...).
    pub todo: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    pub path: PathBuf,
    pub role: Role,
    /// The tenant a core file became.
    pub tenant: Option<String>,
    pub keys: Vec<KeyReport>,
}

impl ImportReport {
    /// Every variable to set, over all tenants.
    pub fn env_vars(&self) -> impl Iterator<Item = &EnvVar> {
        self.tenants.iter().flat_map(|t| t.env_vars.iter())
    }

    /// Keys that were not carried over, over all files.
    pub fn not_mapped(&self) -> impl Iterator<Item = &KeyReport> {
        self.files
            .iter()
            .flat_map(|f| f.keys.iter())
            .filter(|k| !matches!(k.outcome, Outcome::Mapped(_)))
    }
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Tenants written:")?;
        for t in &self.tenants {
            writeln!(
                f,
                "  {}: {} (from {})",
                t.id,
                t.config_file.display(),
                t.source.display()
            )?;
            for todo in &t.todo {
                writeln!(f, "    to do: {todo}")?;
            }
        }
        let vars: Vec<&EnvVar> = self.env_vars().collect();
        if vars.is_empty() {
            writeln!(f, "\nNo secret to move: no environment variable to set.")?;
        } else {
            writeln!(
                f,
                "\nSet these environment variables for xgate (names are also in the \
                 .env.example files; the values are not printed anywhere):"
            )?;
            for v in vars {
                writeln!(f, "  {}: {}", v.name, v.what)?;
            }
        }
        for file in &self.files {
            let role = match file.role {
                Role::Core => "core service",
                Role::Template => "template service",
            };
            write!(f, "\n{} ({role}", file.path.display())?;
            if let Some(t) = &file.tenant {
                write!(f, ", tenant {t}")?;
            }
            writeln!(f, "):")?;
            for k in &file.keys {
                let value = match &k.value {
                    Some(v) => format!(" = {v:?}"),
                    None => String::new(),
                };
                match &k.outcome {
                    Outcome::Mapped(to) => writeln!(f, "  {}{value}\n    -> {to}", k.key)?,
                    Outcome::NotMapped(why) => {
                        writeln!(f, "  {}{value}\n    not mapped: {why}", k.key)?
                    }
                }
            }
        }
        writeln!(
            f,
            "\nNext: set the variables above, then run `xgate check`."
        )
    }
}
