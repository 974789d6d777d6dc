//! Results: rows of named figures, medians over repeats, a table on stdout and JSON in
//! bench/results/.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::util::{median, round};

/// One line of a result table: a label (the configuration) and its figures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    pub label: String,
    pub figures: Vec<(String, f64)>,
}

impl Row {
    pub fn new(label: impl Into<String>) -> Row {
        Row {
            label: label.into(),
            figures: Vec::new(),
        }
    }

    pub fn set(mut self, name: &str, value: f64) -> Row {
        self.figures.push((name.to_string(), value));
        self
    }
}

/// A scenario's outcome over its repeats.
pub struct Report {
    pub scenario: String,
    pub backend: String,
    pub quick: bool,
    pub runs: Vec<Vec<Row>>,
    pub notes: Vec<String>,
    pub extra: BTreeMap<String, Value>,
    pub load_before: String,
    pub started: std::time::Instant,
}

impl Report {
    pub fn new(scenario: &str, backend: &str, quick: bool) -> Report {
        Report {
            scenario: scenario.into(),
            backend: backend.into(),
            quick,
            runs: Vec::new(),
            notes: Vec::new(),
            extra: BTreeMap::new(),
            load_before: crate::util::loadavg(),
            started: std::time::Instant::now(),
        }
    }

    /// Median of each figure over the repeats, rows in first-run order.
    pub fn medians(&self) -> Vec<Row> {
        let Some(first) = self.runs.first() else {
            return vec![];
        };
        first
            .iter()
            .map(|row| {
                let mut out = Row::new(row.label.clone());
                for (name, _) in &row.figures {
                    let values: Vec<f64> = self
                        .runs
                        .iter()
                        .filter_map(|run| run.iter().find(|r| r.label == row.label))
                        .filter_map(|r| r.figures.iter().find(|(n, _)| n == name).map(|(_, v)| *v))
                        .collect();
                    out.figures.push((name.clone(), median(&values)));
                }
                out
            })
            .collect()
    }

    pub fn table(&self) -> String {
        let rows = self.medians();
        let mut names: Vec<String> = Vec::new();
        for row in &rows {
            for (n, _) in &row.figures {
                if !names.contains(n) {
                    names.push(n.clone());
                }
            }
        }
        let mut cells: Vec<Vec<String>> = vec![];
        let mut header = vec![format!("{} [{}]", self.scenario, self.backend)];
        header.extend(names.iter().cloned());
        cells.push(header);
        for row in &rows {
            let mut line = vec![row.label.clone()];
            for n in &names {
                line.push(
                    row.figures
                        .iter()
                        .find(|(m, _)| m == n)
                        .map_or(String::new(), |(_, v)| fmt(*v)),
                );
            }
            cells.push(line);
        }
        let widths: Vec<usize> = (0..cells[0].len())
            .map(|i| {
                cells
                    .iter()
                    .map(|c| c[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for (j, line) in cells.iter().enumerate() {
            let parts: Vec<String> = line
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    if i == 0 {
                        format!("{c:<w$}", w = widths[i])
                    } else {
                        format!("{c:>w$}", w = widths[i])
                    }
                })
                .collect();
            out.push_str(&format!("| {} |\n", parts.join(" | ")));
            if j == 0 {
                let seps: Vec<String> = widths
                    .iter()
                    .enumerate()
                    .map(|(i, w)| {
                        if i == 0 {
                            "-".repeat(w + 2)
                        } else {
                            format!("{}:", "-".repeat(w + 1))
                        }
                    })
                    .collect();
                out.push_str(&format!("|{}|\n", seps.join("|")));
            }
        }
        if self.runs.len() > 1 {
            out.push_str(&format!("(medians of {} runs)\n", self.runs.len()));
        }
        for note in &self.notes {
            out.push_str(&format!("note: {note}\n"));
        }
        out
    }

    pub fn write(&self) -> anyhow::Result<PathBuf> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("results");
        std::fs::create_dir_all(&dir)?;
        let suffix = if self.backend == "sqlite" {
            String::new()
        } else {
            format!(".{}", self.backend)
        };
        let quick = if self.quick { ".quick" } else { "" };
        // A run with a non-default rate or server settings gets a file of its own, so it
        // never overwrites the default run's figures.
        let mut variant = String::new();
        for (name, tag) in [
            ("LHB_RATE", "rate"),
            ("LHB_ISOLATION_RATE", "rate"),
            ("LHB_DELIVERY_RATE", "rate"),
            ("LHB_API_WEBHOOKS", "webhooks"),
            ("LHB_PROCESSES", "procs"),
        ] {
            if let Ok(value) = std::env::var(name) {
                variant.push_str(&format!(".{tag}{value}"));
            }
        }
        if std::env::var_os("LHB_SERVER_ENV").is_some() {
            variant.push_str(".env");
        }
        let path = dir.join(format!("{}{suffix}{variant}{quick}.json", self.scenario));
        let to_json = |rows: &[Row]| -> Value {
            Value::Array(
                rows.iter()
                    .map(|r| {
                        let mut m = serde_json::Map::new();
                        m.insert("label".into(), json!(r.label));
                        for (n, v) in &r.figures {
                            m.insert(n.clone(), json!(round(*v, 3)));
                        }
                        Value::Object(m)
                    })
                    .collect(),
            )
        };
        let overrides: serde_json::Map<String, Value> = [
            "LHB_SERVER_ENV",
            "LHB_RATE",
            "LHB_ISOLATION_RATE",
            "LHB_DELIVERY_RATE",
            "LHB_API_WEBHOOKS",
            "LHB_PROCESSES",
        ]
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), json!(v))))
        .collect();
        let doc = json!({
            "scenario": self.scenario,
            "backend": self.backend,
            "quick": self.quick,
            "finished_at_unix": crate::util::now_us() / 1_000_000,
            "seconds": round(self.started.elapsed().as_secs_f64(), 1),
            "machine": crate::util::machine(),
            "loadavg_before": self.load_before,
            "loadavg_after": crate::util::loadavg(),
            "server_binary": crate::server::binary().display().to_string(),
            "overrides": overrides,
            "repeats": self.runs.len(),
            "medians": to_json(&self.medians()),
            "runs": self.runs.iter().map(|r| to_json(r)).collect::<Vec<_>>(),
            "notes": self.notes,
            "extra": self.extra,
        });
        std::fs::write(&path, serde_json::to_string_pretty(&doc)? + "\n")?;
        Ok(path)
    }
}

fn fmt(v: f64) -> String {
    if !v.is_finite() {
        "-".into()
    } else if v.abs() >= 1000.0 {
        format!("{:.0}", v)
    } else if v.abs() >= 100.0 {
        format!("{:.1}", v)
    } else if v.abs() >= 1.0 {
        format!("{:.2}", v)
    } else {
        format!("{:.3}", v)
    }
}
