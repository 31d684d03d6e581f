//! The human-readable report, in the style of Linux lockdep: a headline,
//! each side with its sites, the dependency chain, a two-column unsafe
//! scenario, and one line saying what to change.

use super::{Column, Scenario, Side, Violation};
use std::fmt::{self, Write as _};

const RULE: &str = "======================================================================";
const THIN: &str = "----------------------------------------------------------------------";

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{RULE}")?;
        writeln!(f, "WARNING: {} [{}]", self.kind.title(), self.kind)?;
        writeln!(f, "{THIN}")?;
        writeln!(f, "{}", self.summary)?;
        for side in &self.sides {
            writeln!(f)?;
            write_side(f, side)?;
        }
        if !self.chain.is_empty() {
            writeln!(f)?;
            writeln!(f, "the existing dependency chain it closes:")?;
            for e in &self.chain {
                write_event(f, "  -> ", e.text(), e.site())?;
            }
        }
        if let Some(s) = &self.scenario {
            writeln!(f)?;
            write_scenario(f, s)?;
        }
        if !self.advice.is_empty() {
            writeln!(f)?;
            writeln!(f, "fix: {}", self.advice)?;
        }
        write!(f, "{RULE}")
    }
}

fn write_side(f: &mut fmt::Formatter<'_>, side: &Side) -> fmt::Result {
    match side.context() {
        Some(c) => writeln!(f, "{c} {}:", side.role())?,
        None => writeln!(f, "{}:", side.role())?,
    }
    for e in side.events() {
        write_event(f, "  ", e.text(), e.site())?;
    }
    Ok(())
}

fn write_event(
    f: &mut fmt::Formatter<'_>,
    indent: &str,
    text: &str,
    site: Option<crate::Site>,
) -> fmt::Result {
    match site {
        Some(s) => writeln!(f, "{indent}{text}, at {s}"),
        None => writeln!(f, "{indent}{text}"),
    }
}

fn write_scenario(f: &mut fmt::Formatter<'_>, s: &Scenario) -> fmt::Result {
    let width = s
        .steps()
        .iter()
        .filter(|(c, _)| *c == Column::Left)
        .map(|(_, t)| t.chars().count())
        .chain(std::iter::once(s.left().chars().count()))
        .max()
        .unwrap_or(0)
        .max(24)
        + 4;
    writeln!(f, "possible unsafe scenario:")?;
    writeln!(f)?;
    let mut line = String::new();
    let pad = |line: &mut String, left: &str, right: &str| {
        line.clear();
        let _ = write!(line, "       {left:<width$}{right}");
        line.trim_end().to_owned()
    };
    writeln!(f, "{}", pad(&mut line, s.left(), s.right()))?;
    let dashes = |t: &str| "-".repeat(t.chars().count().max(4));
    writeln!(
        f,
        "{}",
        pad(&mut line, &dashes(s.left()), &dashes(s.right()))
    )?;
    for (col, text) in s.steps() {
        let out = match col {
            Column::Left => pad(&mut line, text, ""),
            Column::Right => pad(&mut line, "", text),
        };
        writeln!(f, "{out}")?;
    }
    if !s.result().is_empty() {
        writeln!(f)?;
        writeln!(f, " *** {} ***", s.result())?;
    }
    Ok(())
}
