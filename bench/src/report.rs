//! What one tenant count measured, and the final table against issue 3's targets.

use std::time::Duration;

use crate::load::Summary;

/// Issue 3's targets.
pub const START_TARGET: Duration = Duration::from_secs(2);
pub const RSS_TARGET_MB: f64 = 300.0;
pub const EDIT_TARGET: Duration = Duration::from_millis(300);
pub const RELOAD_TARGET: Duration = Duration::from_secs(1);
/// "Requests keep their latency": our reading is p99 at most doubled, nothing failed.
pub const P99_RATIO_TARGET: f64 = 2.0;

#[derive(Default)]
pub struct Run {
    pub n: usize,
    pub start_no_migrate: Vec<Duration>,
    pub start_migrate_on: Vec<Duration>,
    pub rss_start_kib: Option<u64>,
    pub rss_after_kib: Option<u64>,
    pub hwm_kib: Option<u64>,
    pub edits: Vec<Duration>,
    pub edits_not_served: usize,
    pub reload_unchanged: Vec<Duration>,
    pub reload_all_changed: Option<Duration>,
    pub baseline: Option<Summary>,
    pub during_unchanged: Option<Summary>,
    pub during_changing: Option<Summary>,
    /// Why the run stopped early, if it did.
    pub aborted: Option<String>,
}

pub fn median(v: &[Duration]) -> Option<Duration> {
    let mut s = v.to_vec();
    s.sort();
    s.get(s.len().checked_sub(1)? / 2).copied()
}

pub fn max(v: &[Duration]) -> Option<Duration> {
    v.iter().max().copied()
}

pub fn dur(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

pub fn mb(kib: u64) -> f64 {
    kib as f64 * 1024.0 / 1e6
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "MISS" }
}

/// A table cell: the value and PASS/MISS, or "n/a" when it was not measured.
type Cell = Option<(String, bool)>;

fn time_cell(d: Option<Duration>, target: Duration) -> Cell {
    d.map(|d| (dur(d), d < target))
}

fn median_max_cell(v: &[Duration], target: Duration, extra_miss: bool) -> Cell {
    let (m, x) = (median(v)?, max(v)?);
    Some((
        format!("{} / {}", dur(m), dur(x)),
        x < target && !extra_miss,
    ))
}

fn rss_cell(kib: Option<u64>) -> Cell {
    kib.map(|k| (format!("{:.0} MB", mb(k)), mb(k) < RSS_TARGET_MB))
}

fn ratio_cell(base: Option<Summary>, during: Option<Summary>) -> Cell {
    let (b, d) = (base?, during?);
    let ratio = d.p99_us as f64 / (b.p99_us.max(1)) as f64;
    let failed = b.failed + d.failed;
    Some((
        format!(
            "{ratio:.2}x ({} → {}){}",
            crate::load::us(b.p99_us),
            crate::load::us(d.p99_us),
            if failed > 0 {
                format!(", {failed} failed")
            } else {
                String::new()
            }
        ),
        ratio <= P99_RATIO_TARGET && failed == 0,
    ))
}

pub fn print_table(runs: &[Run]) {
    type Row = (String, Box<dyn Fn(&Run) -> Cell>);
    let rows: Vec<Row> = vec![
        (
            format!("start, --no-migrate (median) < {}", dur(START_TARGET)),
            Box::new(|r: &Run| time_cell(median(&r.start_no_migrate), START_TARGET)),
        ),
        (
            format!(
                "start, migrations on, already migrated < {}",
                dur(START_TARGET)
            ),
            Box::new(|r: &Run| time_cell(median(&r.start_migrate_on), START_TARGET)),
        ),
        (
            format!("RSS after start < {RSS_TARGET_MB:.0} MB"),
            Box::new(|r: &Run| rss_cell(r.rss_start_kib)),
        ),
        (
            format!("RSS after the reloads < {RSS_TARGET_MB:.0} MB"),
            Box::new(|r: &Run| rss_cell(r.rss_after_kib)),
        ),
        (
            format!("peak RSS (VmHWM) < {RSS_TARGET_MB:.0} MB"),
            Box::new(|r: &Run| rss_cell(r.hwm_kib)),
        ),
        (
            format!(
                "one-tenant edit served, median / max < {}",
                dur(EDIT_TARGET)
            ),
            Box::new(|r: &Run| median_max_cell(&r.edits, EDIT_TARGET, r.edits_not_served > 0)),
        ),
        (
            format!(
                "full reload, unchanged, median / max < {}",
                dur(RELOAD_TARGET)
            ),
            Box::new(|r: &Run| median_max_cell(&r.reload_unchanged, RELOAD_TARGET, false)),
        ),
        (
            format!("full reload, all tenants changed < {}", dur(RELOAD_TARGET)),
            Box::new(|r: &Run| time_cell(r.reload_all_changed, RELOAD_TARGET)),
        ),
        (
            format!("p99 during unchanged reloads / baseline ≤ {P99_RATIO_TARGET:.0}x"),
            Box::new(|r: &Run| ratio_cell(r.baseline, r.during_unchanged)),
        ),
        (
            format!("p99 during changing reloads / baseline ≤ {P99_RATIO_TARGET:.0}x"),
            Box::new(|r: &Run| ratio_cell(r.baseline, r.during_changing)),
        ),
    ];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|(_, f)| {
            runs.iter()
                .map(|r| match f(r) {
                    Some((v, ok)) => format!("{v}  {}", verdict(ok)),
                    None => "n/a".to_string(),
                })
                .collect()
        })
        .collect();
    let label_w = rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    let col_w: Vec<usize> = (0..runs.len())
        .map(|c| {
            cells
                .iter()
                .map(|row| row[c].chars().count())
                .chain([format!("{} tenants", runs[c].n).len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w.saturating_sub(s.chars().count())));
    let mut header = pad("target", label_w);
    for (c, r) in runs.iter().enumerate() {
        header.push_str(" | ");
        header.push_str(&pad(&format!("{} tenants", r.n), col_w[c]));
    }
    println!("{header}");
    println!("{}", "-".repeat(header.chars().count()));
    for ((label, _), row) in rows.iter().zip(&cells) {
        let mut line = pad(label, label_w);
        for (c, cell) in row.iter().enumerate() {
            line.push_str(" | ");
            line.push_str(&pad(cell, col_w[c]));
        }
        println!("{}", line.trim_end());
    }
    for r in runs {
        if let Some(why) = &r.aborted {
            println!("{} tenants: stopped early: {why}", r.n);
        }
        if r.edits_not_served > 0 {
            println!(
                "{} tenants: {} edit(s) never served within the wait (counted as MISS)",
                r.n, r.edits_not_served
            );
        }
    }
}
