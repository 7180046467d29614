//! The results: a table on stdout and `{"workload": {"engine": value}}` JSON.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use crate::engines::{Kind, Res};

/// Engine columns, in print and JSON order.
pub const ENGINES: [&str; 4] = ["mappedpages", "lmdb", "redb", "raw"];
/// Peers that mappedpages is compared with.
pub const PEERS: [&str; 3] = ["lmdb", "redb", "raw"];

pub struct Row {
    /// JSON key: W1..W6, W5_empty, W5_ratio.
    pub key: &'static str,
    pub label: &'static str,
    pub unit: &'static str,
    /// One value per entry of `ENGINES`; `None` = not run / not applicable.
    pub values: [Option<f64>; 4],
}

impl Row {
    pub fn new(key: &'static str, label: &'static str, unit: &'static str) -> Self {
        Row { key, label, unit, values: [None; 4] }
    }

    pub fn set(&mut self, kind: Kind, v: f64) {
        let i = ENGINES.iter().position(|e| *e == kind.name()).unwrap();
        self.values[i] = Some(v);
    }

    pub fn get(&self, engine: &str) -> Option<f64> {
        let i = ENGINES.iter().position(|e| *e == engine)?;
        self.values[i]
    }

    /// mappedpages / peer, where both were measured.
    pub fn ratio(&self, peer: &str) -> Option<f64> {
        match (self.get("mappedpages"), self.get(peer)) {
            (Some(a), Some(b)) if b != 0.0 => Some(a / b),
            _ => None,
        }
    }
}

fn fmt_value(v: Option<f64>) -> String {
    match v {
        None => "n/a".into(),
        Some(v) if v >= 1000.0 => format!("{v:.0}"),
        Some(v) if v >= 10.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.3}"),
    }
}

fn fmt_ratio(v: Option<f64>) -> String {
    match v {
        None => "n/a".into(),
        Some(v) => format!("{v:.2}x"),
    }
}

pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<34} {:<13} {:>12} {:>12} {:>12} {:>12} {:>9} {:>9} {:>9}",
        "workload", "unit", "mappedpages", "lmdb", "redb", "raw", "mp/lmdb", "mp/redb", "mp/raw"
    );
    let _ = writeln!(out, "{}", "-".repeat(34 + 13 + 4 * 13 + 3 * 10 + 1));
    for r in rows {
        let _ = write!(out, "{:<34} {:<13}", r.label, r.unit);
        for v in r.values {
            let _ = write!(out, " {:>12}", fmt_value(v));
        }
        for p in PEERS {
            let _ = write!(out, " {:>9}", fmt_ratio(r.ratio(p)));
        }
        out.push('\n');
    }
    out
}

fn json_num(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => {
            let s = format!("{v:.6}");
            let s = s.trim_end_matches('0').trim_end_matches('.');
            if s.is_empty() || s == "-" { "0".into() } else { s.to_string() }
        }
        _ => "null".into(),
    }
}

/// `{"W1": {"mappedpages": .., "lmdb": .., "redb": .., "raw": ..,
///          "mappedpages/lmdb": .., "mappedpages/redb": .., "mappedpages/raw": ..}, ...}`;
/// `null` where a value was not measured or does not apply.
pub fn json(rows: &[Row]) -> String {
    let mut out = String::from("{\n");
    for (n, r) in rows.iter().enumerate() {
        let _ = write!(out, "  \"{}\": {{", r.key);
        let mut first = true;
        for (e, v) in ENGINES.iter().zip(r.values) {
            let _ = write!(out, "{}\"{e}\": {}", if first { "" } else { ", " }, json_num(v));
            first = false;
        }
        for p in PEERS {
            let _ = write!(out, ", \"mappedpages/{p}\": {}", json_num(r.ratio(p)));
        }
        out.push('}');
        out.push_str(if n + 1 < rows.len() { ",\n" } else { "\n" });
    }
    out.push_str("}\n");
    out
}

pub fn write_json(path: &Path, rows: &[Row]) -> Res<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(path, json(rows))?;
    Ok(())
}

/// Median of the runs (mean of the middle two for an even count).
pub fn median(mut xs: Vec<f64>) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(|a, b| a.total_cmp(b));
    let n = xs.len();
    Some(if n % 2 == 1 { xs[n / 2] } else { (xs[n / 2 - 1] + xs[n / 2]) / 2.0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_even() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }

    #[test]
    fn json_shape() {
        let mut r = Row::new("W1", "x", "y");
        r.set(Kind::Mappedpages, 200.0);
        r.set(Kind::Lmdb, 100.0);
        let j = json(&[r]);
        assert!(j.contains("\"W1\": {\"mappedpages\": 200, \"lmdb\": 100, \"redb\": null"));
        assert!(j.contains("\"mappedpages/lmdb\": 2,"));
        assert!(j.contains("\"mappedpages/raw\": null}"));
    }
}
