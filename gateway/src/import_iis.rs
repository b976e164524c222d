//! `xgate import-iis`: moves old IIS deployments of the add-in (one express-core-service
//! per CTS, plus express-template-service) to xgate tenant files.
//!
//! Reads the old `appsettings*.json` (comments and trailing commas allowed, keys
//! case-insensitive, as in .NET), writes `<out_dir>/<id>.toml` per core service with the
//! bot URL, its auth and the IIS site's port, and moves every secret out to an `env:`
//! reference whose name the report gives (values are never written or printed). Every
//! old key ends up in the report, mapped or with the reason it is not.
//!
//! All inputs are checked before anything is written: a problem in any input file or
//! argument means no file is written.

mod args;
mod credentials;
mod ids;
mod jsonc;
mod mapping;
mod npgsql;
mod render;
mod report;

use std::fmt;
use std::path::{Path, PathBuf};

pub use args::{ImportIisArgs, run};
pub use mapping::{KeyReport, Outcome, Role};
pub use render::EnvVar;
pub use report::{FileReport, ImportReport, TenantReport};

use jsonc::Settings;
use mapping::{BotAuth, Context};
use npgsql::Connection;
use render::TenantPlan;

/// What to import. `ports`, `tenant_ids` and `mail_domains` are either empty or hold one
/// item per `core_settings` file, in the same order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportRequest {
    pub core_settings: Vec<PathBuf>,
    pub template_settings: Vec<PathBuf>,
    /// The IIS site port each core service ran on.
    pub ports: Vec<u16>,
    /// Default: derived from the bot URL's host.
    pub tenant_ids: Vec<String>,
    pub out_dir: PathBuf,
    pub mail_domains: Vec<Vec<String>>,
    /// Replace `<id>.toml` / `<id>.env.example` that already exist.
    pub overwrite: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("no core service settings given (--core)")]
    NoCoreSettings,
    #[error(
        "{flag} was given {given} time(s) for {cores} core settings file(s): \
         give it once per --core, in the same order, or not at all"
    )]
    CountMismatch {
        flag: &'static str,
        given: usize,
        cores: usize,
    },
    #[error("nothing was written; fix these and run again:\n{}", Problem::list(.0))]
    Invalid(Vec<Problem>),
    #[error("cannot write `{}`: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One thing wrong with the inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub key: Option<String>,
    pub message: String,
}

impl Problem {
    fn new(file: &Path, key: Option<String>, message: impl Into<String>) -> Problem {
        Problem {
            file: file.to_path_buf(),
            key,
            message: message.into(),
        }
    }

    fn list(problems: &[Problem]) -> String {
        let lines: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
        lines.join("\n")
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.file.display())?;
        if let Some(k) = &self.key {
            write!(f, "key `{k}`: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Reads, checks, then writes. See the module docs.
pub fn import(req: &ImportRequest) -> Result<ImportReport, ImportError> {
    let cores = req.core_settings.len();
    if cores == 0 {
        return Err(ImportError::NoCoreSettings);
    }
    for (flag, given) in [
        ("--port", req.ports.len()),
        ("--tenant-id", req.tenant_ids.len()),
        ("--mail-domains", req.mail_domains.len()),
    ] {
        if given != 0 && given != cores {
            return Err(ImportError::CountMismatch { flag, given, cores });
        }
    }
    let mut problems = Vec::new();
    let mut core_files = Vec::new();
    for (i, path) in req.core_settings.iter().enumerate() {
        let Some(settings) = read(path, &mut problems) else {
            continue;
        };
        let taken: Vec<String> = core_files
            .iter()
            .map(|(_, _, p): &(PathBuf, Settings, TenantPlan)| p.id.clone())
            .collect();
        if let Some(plan) = plan_tenant(req, i, path, &settings, &taken, &mut problems) {
            core_files.push((path.clone(), settings, plan));
        }
    }
    check_claims(&core_files, &mut problems);
    let plans: Vec<&TenantPlan> = core_files.iter().map(|(_, _, p)| p).collect();
    check_outputs(req, &plans, &mut problems);
    let template_files: Vec<(PathBuf, Settings)> = req
        .template_settings
        .iter()
        .filter_map(|p| read(p, &mut problems).map(|s| (p.clone(), s)))
        .collect();
    if !problems.is_empty() {
        return Err(ImportError::Invalid(problems));
    }

    let sources = jwt_sources(template_files.len(), core_files.len());
    let mut jwt_tenants: Vec<Vec<String>> = vec![Vec::new(); template_files.len()];
    for ((_, _, plan), source) in core_files.iter_mut().zip(&sources) {
        if let Some(i) = *source {
            plan.jwt = jwt_plan(&template_files[i].1);
            if plan.jwt.is_some() {
                jwt_tenants[i].push(plan.id.clone());
            }
        }
    }
    let core_databases: Vec<(String, Connection)> = core_files
        .iter()
        .filter_map(|(_, s, p)| {
            let conn = Connection::parse(s.get("DatabaseOptions.Connection")?).ok()?;
            Some((p.id.clone(), conn))
        })
        .collect();
    std::fs::create_dir_all(&req.out_dir).map_err(|source| ImportError::Write {
        path: req.out_dir.clone(),
        source,
    })?;
    let mut report = ImportReport {
        tenants: Vec::new(),
        files: Vec::new(),
    };
    for (path, settings, plan) in &core_files {
        report.tenants.push(write_tenant(&req.out_dir, path, plan)?);
        let ctx = Context {
            role: Role::Core,
            tenant: Some(&plan.id),
            bot: Some(&plan.bot),
            core_databases: &[],
            jwt_tenants: &[],
        };
        report.files.push(FileReport {
            path: path.clone(),
            role: Role::Core,
            tenant: Some(plan.id.clone()),
            keys: mapping::keys(settings, &ctx),
        });
    }
    for (i, (path, settings)) in template_files.iter().enumerate() {
        let ctx = Context {
            role: Role::Template,
            tenant: None,
            bot: None,
            core_databases: &core_databases,
            jwt_tenants: &jwt_tenants[i],
        };
        report.files.push(FileReport {
            path: path.clone(),
            role: Role::Template,
            tenant: None,
            keys: mapping::keys(settings, &ctx),
        });
    }
    Ok(report)
}

fn read(path: &Path, problems: &mut Vec<Problem>) -> Option<Settings> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            problems.push(Problem::new(path, None, format!("cannot read: {e}")));
            return None;
        }
    };
    let text = match jsonc::decode(&bytes) {
        Ok(t) => t,
        Err(m) => {
            problems.push(Problem::new(path, None, m));
            return None;
        }
    };
    jsonc::parse(&text)
        .map_err(|e| problems.push(Problem::new(path, None, e.to_string())))
        .ok()
}

/// The tenant one core file becomes, or its problems.
fn plan_tenant(
    req: &ImportRequest,
    i: usize,
    path: &Path,
    settings: &Settings,
    taken: &[String],
    problems: &mut Vec<Problem>,
) -> Option<TenantPlan> {
    let bot = match mapping::bot(settings) {
        Ok(b) => b,
        Err(ps) => {
            problems.extend(ps.into_iter().map(|(k, m)| Problem::new(path, k, m)));
            return None;
        }
    };
    let before = problems.len();
    let id = match req.tenant_ids.get(i) {
        Some(id) => {
            if let Err(m) = ids::check(id) {
                problems.push(Problem::new(path, None, m));
            }
            id.clone()
        }
        None => ids::derive(&bot.host, taken),
    };
    if taken.contains(&id) {
        problems.push(Problem::new(
            path,
            None,
            format!("tenant id `{id}` is given to two core services"),
        ));
    }
    let mut mail_domains = Vec::new();
    for d in req.mail_domains.get(i).into_iter().flatten() {
        match xgate_tenants::config::mail_domain(d) {
            Ok(d) if !mail_domains.contains(&d) => mail_domains.push(d),
            Ok(_) => {}
            Err(m) => problems.push(Problem::new(path, None, m)),
        }
    }
    let ports: Vec<u16> = req.ports.get(i).copied().into_iter().collect();
    if ports.contains(&0) {
        problems.push(Problem::new(path, None, "port 0 is not a port"));
    }
    if ports.is_empty() && mail_domains.is_empty() {
        problems.push(Problem::new(
            path,
            None,
            "give its IIS site port (--port) or its users' mail domains (--mail-domains): \
             without either, no request can reach the tenant",
        ));
    }
    (problems.len() == before).then(|| TenantPlan {
        id,
        name: bot.host.clone(),
        mail_domains,
        ports,
        bot,
        jwt: None,
    })
}

/// One template service shared by every tenant, or one per core file in the same order:
/// which template file each tenant's `[jwt]` comes from (empty when neither).
fn jwt_sources(templates: usize, cores: usize) -> Vec<Option<usize>> {
    match templates {
        0 => vec![None; cores],
        1 => vec![Some(0); cores],
        n if n == cores => (0..n).map(Some).collect(),
        _ => vec![None; cores],
    }
}

fn jwt_plan(settings: &Settings) -> Option<render::JwtPlan> {
    settings.get("JWTOptions.Key")?;
    Some(render::JwtPlan {
        issuer: settings.get("JWTOptions.Issuer").map(str::to_string),
        lifetime_minutes: settings
            .get("JWTOptions.ExpiredMinutes")
            .and_then(|m| m.trim().parse().ok()),
    })
}

/// Ports and mail domains claimed by two imported tenants; xgate would refuse both.
fn check_claims(cores: &[(PathBuf, Settings, TenantPlan)], problems: &mut Vec<Problem>) {
    for (i, (path, _, a)) in cores.iter().enumerate() {
        for (_, _, b) in &cores[i + 1..] {
            let clash = |what: String| {
                Problem::new(
                    path,
                    None,
                    format!("{what} is claimed by tenants `{}` and `{}`", a.id, b.id),
                )
            };
            for p in a.ports.iter().filter(|p| b.ports.contains(p)) {
                problems.push(clash(format!("port {p}")));
            }
            for d in a.mail_domains.iter().filter(|d| b.mail_domains.contains(d)) {
                problems.push(clash(format!("mail domain `{d}`")));
            }
        }
    }
}

fn check_outputs(req: &ImportRequest, plans: &[&TenantPlan], problems: &mut Vec<Problem>) {
    if req.overwrite {
        return;
    }
    for p in plans {
        for file in [
            toml_path(&req.out_dir, &p.id),
            env_path(&req.out_dir, &p.id),
        ] {
            if file.exists() {
                problems.push(Problem::new(
                    &file,
                    None,
                    "already exists; pass --overwrite to replace it",
                ));
            }
        }
    }
}

fn toml_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.toml"))
}

fn env_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.env.example"))
}

fn write_tenant(dir: &Path, source: &Path, plan: &TenantPlan) -> Result<TenantReport, ImportError> {
    let config_file = toml_path(dir, &plan.id);
    write_atomically(&config_file, &plan.toml(source))?;
    let env_vars = plan.env_vars();
    let env_example = env_path(dir, &plan.id);
    write_atomically(&env_example, &plan.env_example())?;
    let mut todo = vec![format!(
        "name is the bot's host `{}`; it appears in invitations: set the organisation's name",
        plan.name
    )];
    if plan.mail_domains.is_empty() {
        todo.push(
            "no mail_domains: users reach the tenant only on its own port(s); \
             add their mail domains to serve them on the shared listeners"
                .into(),
        );
    }
    match &plan.bot.auth {
        BotAuth::None => todo.push(
            "the bot had no authentication; the vendor guide recommends a bearer token".into(),
        ),
        BotAuth::Basic { .. } => todo.push(
            "Basic auth is the guide's legacy scheme (add-in versions below 1.2.0); \
             consider a bearer token on the bot"
                .into(),
        ),
        BotAuth::Bearer => {}
    }
    if plan.bot.scheme_assumed {
        todo.push(
            "ExpressOptions.AuthenticationScheme was absent: StaticToken (the guide's default) \
             was assumed"
                .into(),
        );
    }
    Ok(TenantReport {
        id: plan.id.clone(),
        source: source.to_path_buf(),
        config_file,
        env_example,
        env_vars,
        todo,
    })
}

/// A running xgate reloads `tenants.d/*.toml` when files change: it must never see a
/// half-written one, so write beside it (a name the include glob does not match) and
/// rename over it.
fn write_atomically(path: &Path, text: &str) -> Result<(), ImportError> {
    let tmp = path.with_extension("tmp-import");
    let err = |source| ImportError::Write {
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(&tmp, text).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}
