//! A config tree on disk for the `xgate check` and `xgate migrate` commands: the main
//! file, included tenant files, the templates, and the command's exit and output.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::binaries;

pub struct ConfigTree {
    dir: tempfile::TempDir,
}

/// What a command printed and how it ended.
#[derive(Debug)]
pub struct Outcome {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// Both streams, for messages and for "never printed" checks.
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl Default for ConfigTree {
    fn default() -> Self {
        ConfigTree::new()
    }
}

impl ConfigTree {
    /// An empty tree with `templates/{test,default}` in place.
    pub fn new() -> ConfigTree {
        let dir = tempfile::tempdir().expect("tempdir for a config tree");
        crate::xgate::write_templates(dir.path());
        std::fs::create_dir_all(dir.path().join("tenants.d")).expect("tenants.d");
        ConfigTree { dir }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The main file, `xgate.toml`.
    pub fn main_path(&self) -> PathBuf {
        self.dir.path().join("xgate.toml")
    }

    /// Writes `xgate.toml`.
    pub fn main(&self, text: &str) -> &ConfigTree {
        self.write("xgate.toml", text)
    }

    /// Writes a file relative to the tree (e.g. `tenants.d/acme.toml`).
    pub fn write(&self, path: &str, text: &str) -> &ConfigTree {
        let path = self.dir.path().join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("config subdirectory");
        }
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        self
    }

    /// `xgate check --config xgate.toml` with exactly these extra environment variables.
    pub fn check(&self, env: &[(&str, &str)]) -> Outcome {
        run(&["check"], &self.main_path(), self.dir.path(), env)
    }

    /// `xgate migrate --config xgate.toml`.
    pub fn migrate(&self, env: &[(&str, &str)]) -> Outcome {
        run(&["migrate"], &self.main_path(), self.dir.path(), env)
    }
}

/// Runs `xgate <args> --config <config>` in `cwd` without the caller's xgate variables.
pub fn run(args: &[&str], config: &Path, cwd: &Path, env: &[(&str, &str)]) -> Outcome {
    let mut cmd = Command::new(binaries::xgate());
    cmd.args(args)
        .arg("--config")
        .arg(config)
        .current_dir(cwd)
        .env_remove("XGATE_CONFIG")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run xgate");
    Outcome {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
