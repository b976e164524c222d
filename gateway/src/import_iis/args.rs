//! `xgate import-iis` on the command line: the flags, and turning them into an
//! `ImportRequest` and an exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use super::{ImportRequest, import};

/// Move old IIS deployments (express-core-service, express-template-service) to xgate
/// tenant files.
#[derive(clap::Args, Debug, Clone)]
pub struct ImportIisArgs {
    /// appsettings(.Production).json of an express-core-service; repeat once per CTS.
    #[arg(long = "core", value_name = "FILE", required = true)]
    pub core: Vec<PathBuf>,
    /// appsettings of an express-template-service: one shared by every --core, or one
    /// per --core in the same order; its JWTOptions become each tenant's [jwt].
    #[arg(long = "template", value_name = "FILE")]
    pub template: Vec<PathBuf>,
    /// The IIS site port of each --core, in the same order (7100, 7300...): the port in
    /// the add-in's ExpressMeetingUrl, which xgate then also listens on.
    #[arg(long = "port", value_name = "PORT")]
    pub port: Vec<u16>,
    /// The tenant id of each --core, in the same order; default: from the bot's host.
    #[arg(long = "tenant-id", value_name = "ID")]
    pub tenant_id: Vec<String>,
    /// The users' mail domains of each --core, comma-separated, in the same order.
    #[arg(long = "mail-domains", value_name = "DOMAIN,...")]
    pub mail_domains: Vec<String>,
    /// Where to write `<id>.toml` and `<id>.env.example`.
    #[arg(long, short, value_name = "DIR", default_value = "config/tenants.d")]
    pub out: PathBuf,
    /// Replace `<id>.toml` files that already exist.
    #[arg(long)]
    pub overwrite: bool,
}

impl From<&ImportIisArgs> for ImportRequest {
    fn from(a: &ImportIisArgs) -> ImportRequest {
        ImportRequest {
            core_settings: a.core.clone(),
            template_settings: a.template.clone(),
            ports: a.port.clone(),
            tenant_ids: a.tenant_id.clone(),
            out_dir: a.out.clone(),
            mail_domains: a
                .mail_domains
                .iter()
                .map(|list| {
                    list.split(',')
                        .map(str::trim)
                        .filter(|d| !d.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .collect(),
            overwrite: a.overwrite,
        }
    }
}

/// Runs the import and prints the report (stdout) or what stopped it (stderr).
pub fn run(args: &ImportIisArgs) -> ExitCode {
    match import(&ImportRequest::from(args)) {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("import-iis: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: ImportIisArgs,
    }

    #[test]
    fn flags() {
        let cli = Cli::parse_from([
            "xgate",
            "--core",
            "a.json",
            "--core",
            "b.json",
            "--port",
            "7100",
            "--port",
            "7300",
            "--mail-domains",
            "a.test, corp.a.test",
            "--mail-domains",
            "",
            "--out",
            "/tmp/x",
        ]);
        let req = ImportRequest::from(&cli.args);
        assert_eq!(req.ports, [7100, 7300]);
        assert_eq!(
            req.mail_domains,
            vec![vec!["a.test".to_string(), "corp.a.test".into()], vec![]]
        );
        assert!(!req.overwrite);
    }
}
