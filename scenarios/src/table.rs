//! Markdown tables with aligned columns, and how figures are printed in them.

use measure::{Figure, Unit};

/// A markdown table built row by row; columns are padded so it also reads well in a terminal.
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these column headings.
    pub fn new<I, S>(header: I) -> Table
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Table {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends one row (cells in column order).
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    /// True while no row has been added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table in GitHub markdown: numeric columns right-aligned, text columns left-aligned.
    pub fn markdown(&self) -> String {
        let cols = self
            .rows
            .iter()
            .map(Vec::len)
            .chain(std::iter::once(self.header.len()))
            .max()
            .unwrap_or(0);
        let cell = |row: &Vec<String>, i: usize| row.get(i).cloned().unwrap_or_default();
        let width: Vec<usize> = (0..cols)
            .map(|i| {
                self.rows
                    .iter()
                    .chain(std::iter::once(&self.header))
                    .map(|r| cell(r, i).chars().count())
                    .max()
                    .unwrap_or(0)
                    .max(3)
            })
            .collect();
        // Numeric columns (every cell starts like a number) align right, text columns left.
        let numeric: Vec<bool> = (0..cols)
            .map(|i| {
                i > 0
                    && self.rows.iter().all(|r| {
                        let c = cell(r, i);
                        c.is_empty()
                            || c.starts_with(|ch: char| {
                                ch.is_ascii_digit() || ch == '-' || ch == '+'
                            })
                    })
            })
            .collect();
        let line = |row: &Vec<String>| {
            let cells: Vec<String> = (0..cols)
                .map(|i| {
                    let c = cell(row, i);
                    let pad = width[i] - c.chars().count();
                    if !numeric[i] {
                        format!("{c}{}", " ".repeat(pad))
                    } else {
                        format!("{}{c}", " ".repeat(pad))
                    }
                })
                .collect();
            format!("| {} |\n", cells.join(" | "))
        };
        let mut out = line(&self.header);
        let rule: Vec<String> = (0..cols)
            .map(|i| {
                if !numeric[i] {
                    format!(":{}", "-".repeat(width[i] - 1))
                } else {
                    format!("{}:", "-".repeat(width[i] - 1))
                }
            })
            .collect();
        out.push_str(&format!("| {} |\n", rule.join(" | ")));
        for r in &self.rows {
            out.push_str(&line(r));
        }
        out
    }
}

/// A number for a table: a few significant digits, no exponent.
pub(crate) fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    let a = x.abs();
    let s = if a == 0.0 {
        return "0".into();
    } else if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else {
        let digits = (-a.log10()).floor() as usize + 3;
        format!("{x:.digits$}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A figure for a table: fractions (`error_rate`) as a percentage, everything else as a number.
pub(crate) fn fmt_figure(figure: Figure, x: f64) -> String {
    if figure.unit() == Unit::Fraction {
        if x == 0.0 {
            "0%".into()
        } else {
            format!("{}%", fmt_num(x * 100.0))
        }
    } else {
        fmt_num(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_three_significant_digits() {
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(1234.4), "1234");
        assert_eq!(fmt_num(12.34), "12.3");
        assert_eq!(fmt_num(1.5), "1.5");
        assert_eq!(fmt_num(0.002512), "0.00251");
        assert_eq!(fmt_num(0.05), "0.05");
        assert_eq!(fmt_figure(Figure::ErrorRate, 0.0025), "0.25%");
    }

    #[test]
    fn markdown_tables_align() {
        let mut t = Table::new(["a", "bb"]);
        t.row(["x", "1"]);
        t.row(["longer", "22"]);
        assert_eq!(
            t.markdown(),
            "| a      |  bb |\n| :----- | --: |\n| x      |   1 |\n| longer |  22 |\n"
        );
    }
}
