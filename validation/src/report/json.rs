//! JSON output for CI and log shippers, written by hand (one object, no
//! trailing newline) so the engine needs no serialisation crate.

use super::{Column, Event, Violation};
use std::fmt::Write as _;

impl Violation {
    /// The report as one JSON object:
    ///
    /// ```text
    /// {"kind":"LockOrderInversion","title":"…","summary":"…",
    ///  "sides":[{"role":"…","context":{"id":17,"task":true,"name":"…"},
    ///            "events":[{"text":"…","site":{"file":"…","line":4,"column":9}}]}],
    ///  "chain":[…events…],
    ///  "scenario":{"left":"…","right":"…","steps":[{"column":"left","text":"…"}],"result":"…"},
    ///  "advice":"…"}
    /// ```
    ///
    /// `context` and `site` are `null` when unknown, `scenario` when absent.
    pub fn to_json(&self) -> String {
        let mut o = String::with_capacity(512);
        o.push_str("{\"kind\":");
        string(&mut o, self.kind.as_str());
        o.push_str(",\"title\":");
        string(&mut o, self.kind.title());
        o.push_str(",\"summary\":");
        string(&mut o, &self.summary);
        o.push_str(",\"sides\":[");
        for (i, s) in self.sides.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            o.push_str("{\"role\":");
            string(&mut o, s.role());
            o.push_str(",\"context\":");
            match s.context() {
                Some(c) => {
                    let _ = write!(
                        o,
                        "{{\"id\":{},\"task\":{},\"name\":",
                        c.id().as_u64(),
                        c.id().is_task()
                    );
                    match c.name() {
                        Some(n) => string(&mut o, n),
                        None => o.push_str("null"),
                    }
                    o.push('}');
                }
                None => o.push_str("null"),
            }
            o.push_str(",\"events\":");
            events(&mut o, s.events());
            o.push('}');
        }
        o.push_str("],\"chain\":");
        events(&mut o, &self.chain);
        o.push_str(",\"scenario\":");
        match &self.scenario {
            Some(sc) => {
                o.push_str("{\"left\":");
                string(&mut o, sc.left());
                o.push_str(",\"right\":");
                string(&mut o, sc.right());
                o.push_str(",\"steps\":[");
                for (i, (col, text)) in sc.steps().iter().enumerate() {
                    if i > 0 {
                        o.push(',');
                    }
                    o.push_str("{\"column\":");
                    string(
                        &mut o,
                        match col {
                            Column::Left => "left",
                            Column::Right => "right",
                        },
                    );
                    o.push_str(",\"text\":");
                    string(&mut o, text);
                    o.push('}');
                }
                o.push_str("],\"result\":");
                string(&mut o, sc.result());
                o.push('}');
            }
            None => o.push_str("null"),
        }
        o.push_str(",\"advice\":");
        string(&mut o, &self.advice);
        o.push('}');
        o
    }
}

fn events(o: &mut String, list: &[Event]) {
    o.push('[');
    for (i, e) in list.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        o.push_str("{\"text\":");
        string(o, e.text());
        o.push_str(",\"site\":");
        match e.site() {
            Some(s) => {
                o.push_str("{\"file\":");
                string(o, s.file());
                let _ = write!(o, ",\"line\":{},\"column\":{}}}", s.line(), s.column());
            }
            None => o.push_str("null"),
        }
        o.push('}');
    }
    o.push(']');
}

/// Appends `s` as a JSON string literal (RFC 8259 escaping).
pub(crate) fn string(o: &mut String, s: &str) {
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
}
