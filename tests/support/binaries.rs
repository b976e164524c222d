//! Where the binaries under test are: next to this test executable's directory
//! (`target/<profile>/deps/<test>-<hash>` → `target/<profile>/<bin>`). The tests never
//! build them: `scripts/test` runs `cargo build --workspace --bins` first.

use std::path::PathBuf;

/// The `xgate` binary.
pub fn xgate() -> PathBuf {
    locate("xgate")
}

/// The `xgate-bot-sim` binary.
pub fn bot_sim() -> PathBuf {
    locate("xgate-bot-sim")
}

fn locate(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let deps = exe.parent().expect("the test executable's directory");
    let profile = if deps.file_name().is_some_and(|n| n == "deps") {
        deps.parent().expect("the target profile directory")
    } else {
        deps
    };
    let bin = profile.join(name);
    if !bin.is_file() {
        panic!(
            "{} not found: run `cargo build --workspace --bins` first (scripts/test does)",
            bin.display()
        );
    }
    bin
}
