//! The lines `xgate diagnose` prints: one per step, `OK`/`FAIL`/`SKIP`, a `fix:` under
//! every failure, and the count at the end.
//!
//! Every line passes through `redact` before it is written: the steps never format a
//! secret on purpose, but a directory's or a driver's error text is not ours to trust,
//! and an operator pastes this output into tickets.

use std::fmt::Display;
use std::io::Write;

/// What one step found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok(String),
    Fail { reason: String, fix: String },
    Skip(String),
}

impl Outcome {
    pub fn ok(detail: impl Display) -> Outcome {
        Outcome::Ok(detail.to_string())
    }

    pub fn fail(reason: impl Display, fix: impl Display) -> Outcome {
        Outcome::Fail {
            reason: reason.to_string(),
            fix: fix.to_string(),
        }
    }

    pub fn skip(why: impl Display) -> Outcome {
        Outcome::Skip(why.to_string())
    }
}

pub struct Report<W: Write> {
    out: W,
    /// Values that must never be printed, longest first (so a secret containing
    /// another is replaced whole).
    secrets: Vec<String>,
    ok: usize,
    failed: usize,
    skipped: usize,
}

/// Where continuation lines start: under the step name.
const INDENT: &str = "     ";

impl<W: Write> Report<W> {
    pub fn new(out: W) -> Report<W> {
        Report {
            out,
            secrets: Vec::new(),
            ok: 0,
            failed: 0,
            skipped: 0,
        }
    }

    /// Values to replace with `***` wherever they would appear. Very short values are
    /// left alone: replacing every "a" would garble the report and protect nothing.
    pub fn hide(&mut self, secrets: impl IntoIterator<Item = String>) {
        self.secrets
            .extend(secrets.into_iter().filter(|s| s.chars().count() >= 4));
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        self.secrets.dedup();
    }

    /// Prints the step's line(s); true when it passed.
    pub fn step(&mut self, name: &str, outcome: Outcome) -> bool {
        let (text, passed) = match outcome {
            Outcome::Ok(detail) => {
                self.ok += 1;
                (format!("OK   {name}: {}", indent(&detail)), true)
            }
            Outcome::Fail { reason, fix } => {
                self.failed += 1;
                (
                    format!(
                        "FAIL {name}: {}\n{INDENT}fix: {}",
                        indent(&reason),
                        indent(&fix)
                    ),
                    false,
                )
            }
            Outcome::Skip(why) => {
                self.skipped += 1;
                (format!("SKIP {name}: {}", indent(&why)), false)
            }
        };
        let text = redact(&text, &self.secrets);
        // Written (and flushed) step by step: a slow step shows where it hangs.
        let _ = writeln!(self.out, "{text}");
        let _ = self.out.flush();
        passed
    }

    /// A line that is no step (the heading).
    pub fn note(&mut self, text: &str) {
        let text = redact(text, &self.secrets);
        let _ = writeln!(self.out, "{text}");
    }

    /// Prints the count; the number of failed steps.
    pub fn finish(mut self) -> usize {
        let verdict = if self.failed == 0 {
            "no step failed"
        } else {
            "some steps failed: see `fix:` under each FAIL"
        };
        let _ = writeln!(
            self.out,
            "{} ok, {} failed, {} skipped: {verdict}",
            self.ok, self.failed, self.skipped
        );
        let _ = self.out.flush();
        self.failed
    }
}

/// Continuation lines of a multi-line text start under the step name.
fn indent(text: &str) -> String {
    text.trim_end().replace('\n', &format!("\n{INDENT}"))
}

fn redact(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .fold(text.to_string(), |t, s| t.replace(s.as_str(), "***"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_shaped_counted_and_redacted() {
        let mut out = Vec::new();
        let mut r = Report::new(&mut out);
        r.hide(["sup3rSecretToken".to_string(), "ab".to_string()]);
        assert!(r.step("bot", Outcome::ok("up")));
        assert!(!r.step(
            "database",
            Outcome::fail("said sup3rSecretToken\nand more", "do this\nthen that")
        ));
        assert!(!r.step("directory", Outcome::skip("mode none")));
        assert_eq!(r.finish(), 1);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "OK   bot: up\n\
             FAIL database: said ***\n     and more\n     fix: do this\n     then that\n\
             SKIP directory: mode none\n\
             1 ok, 1 failed, 1 skipped: some steps failed: see `fix:` under each FAIL\n"
        );
    }
}
