//! Results tables, rendered three ways: markdown (results.md and stdout), HTML (results.html)
//! and long-format CSV (results.csv: one `section,case,metric,value` record per cell, so every
//! table fits one file and a spreadsheet can pivot it).

use std::fmt::Write as _;

/// One table of results.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// Short id, the CSV `section`.
    pub id: String,
    /// Heading.
    pub title: String,
    /// A sentence under the heading: what was run, how to read it.
    pub note: String,
    /// Column headers (units in them, so cells stay numbers).
    pub headers: Vec<String>,
    /// How many leading columns identify a row (the CSV `case`).
    pub key_cols: usize,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table.
    pub fn new(id: &str, title: &str, note: &str, headers: &[&str]) -> Self {
        Self {
            id: id.to_owned(),
            title: title.to_owned(),
            note: note.to_owned(),
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            key_cols: 1,
            rows: Vec::new(),
        }
    }

    /// Identify rows by the first `n` columns.
    pub fn keyed_by(mut self, n: usize) -> Self {
        self.key_cols = n.clamp(1, self.headers.len().max(1));
        self
    }

    /// Add a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Markdown: a heading, the note, a pipe table.
    pub fn markdown(&self) -> String {
        let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
        let mut s = format!("## {}\n\n", self.title);
        if !self.note.is_empty() {
            s += &format!("{}\n\n", self.note);
        }
        let _ = writeln!(
            s,
            "| {} |",
            self.headers
                .iter()
                .map(|h| cell(h))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let _ = writeln!(
            s,
            "|{}",
            self.headers
                .iter()
                .enumerate()
                .map(|(i, _)| if i < self.key_cols { "---|" } else { "---:|" })
                .collect::<String>()
        );
        for r in &self.rows {
            let _ = writeln!(
                s,
                "| {} |",
                r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
            );
        }
        s
    }

    /// HTML: a heading, the note, a table.
    pub fn html(&self) -> String {
        let mut s = format!("<h2>{}</h2>", esc(&self.title));
        if !self.note.is_empty() {
            let _ = write!(s, "<p>{}</p>", esc(&self.note));
        }
        s += "<table><tr>";
        for h in &self.headers {
            let _ = write!(s, "<th>{}</th>", esc(h));
        }
        s += "</tr>";
        for r in &self.rows {
            s += "<tr>";
            for c in r {
                let _ = write!(s, "<td>{}</td>", esc(c));
            }
            s += "</tr>";
        }
        s += "</table>";
        s
    }

    /// Long-format records: (section, case, metric, value).
    pub fn csv_records(&self) -> Vec<[String; 4]> {
        let mut out = Vec::new();
        for r in &self.rows {
            let case = r
                .iter()
                .take(self.key_cols)
                .cloned()
                .collect::<Vec<_>>()
                .join(" / ");
            for (h, v) in self.headers.iter().zip(r).skip(self.key_cols) {
                out.push([self.id.clone(), case.clone(), h.clone(), v.clone()]);
            }
        }
        out
    }
}

/// Every table as one CSV text with a header line.
pub fn csv(tables: &[Table]) -> String {
    let mut s = String::from("section,case,metric,value\n");
    for t in tables {
        for rec in t.csv_records() {
            let _ = writeln!(
                s,
                "{}",
                rec.iter()
                    .map(|f| csv_field(f))
                    .collect::<Vec<_>>()
                    .join(",")
            );
        }
    }
    s
}

/// A CSV field, quoted when it needs to be.
pub fn csv_field(f: &str) -> String {
    if f.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f.to_owned()
    }
}

/// HTML-escape text.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        let mut t = Table::new(
            "tp",
            "Throughput",
            "closed loop",
            &["case", "ops/s", "p99 ms"],
        );
        t.row(vec!["echo".into(), "50000".into(), "2.1".into()]);
        t.row(vec!["put, 1|2".into(), "40000".into(), "2.5".into()]);
        t
    }

    #[test]
    fn markdown_has_a_header_separator_and_escaped_cells() {
        let md = sample().markdown();
        assert!(md.starts_with("## Throughput\n\nclosed loop\n\n"));
        assert!(md.contains("| case | ops/s | p99 ms |\n|---|---:|---:|\n"));
        assert!(md.contains("| put, 1\\|2 | 40000 | 2.5 |"));
    }

    #[test]
    fn csv_is_long_format_with_quoting() {
        let text = csv(&[sample()]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "section,case,metric,value");
        assert_eq!(lines[1], "tp,echo,ops/s,50000");
        assert_eq!(lines[3], "tp,\"put, 1|2\",ops/s,40000");
        assert_eq!(lines.len(), 5);
        let keyed = Table::new("m", "M", "", &["a", "b", "x"]).keyed_by(2);
        let mut keyed = keyed;
        keyed.row(vec!["1".into(), "2".into(), "3".into()]);
        assert_eq!(keyed.csv_records()[0][1], "1 / 2");
    }

    #[test]
    fn html_escapes() {
        let mut t = Table::new("x", "a<b", "", &["h"]);
        t.row(vec!["<td>".into()]);
        let h = t.html();
        assert!(h.contains("a&lt;b") && h.contains("&lt;td&gt;"));
    }
}
