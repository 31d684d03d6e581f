//! Reports: what the engine found, naming both sides and what to change.
//!
//! - `kind.rs` — [`ViolationKind`], one per class of bug.
//! - this file — [`Violation`] and its parts ([`Side`], [`Event`],
//!   [`Scenario`]) and the crate-internal builder.
//! - `text.rs` — the lockdep-style `Display`.
//! - `json.rs` — [`Violation::to_json`].

pub(crate) mod json;
mod kind;
mod text;

pub use kind::ViolationKind;

use crate::context::ContextDesc;
use crate::site::Site;
use std::hash::{Hash, Hasher};

/// One violation: its kind, the sides involved (each a context and what it
/// did where), an optional two-column "unsafe scenario", and one line of
/// advice.
#[derive(Clone, Debug)]
pub struct Violation {
    kind: ViolationKind,
    summary: String,
    sides: Vec<Side>,
    chain: Vec<Event>,
    scenario: Option<Scenario>,
    advice: String,
    key: u64,
}

/// One party of a violation: a context (when known) and the events that put
/// it there, in order.
#[derive(Clone, Debug)]
pub struct Side {
    role: String,
    context: Option<ContextDesc>,
    events: Vec<Event>,
}

/// One step a side took: a sentence and, when known, its source site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    text: String,
    site: Option<Site>,
}

/// Which column of a [`Scenario`] a step belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    /// The first side.
    Left,
    /// The second side.
    Right,
}

/// The interleaving that turns a potential problem into a hang, printed in
/// two columns as lockdep does.
#[derive(Clone, Debug)]
pub struct Scenario {
    left: String,
    right: String,
    steps: Vec<(Column, String)>,
    outcome: String,
}

impl Violation {
    pub(crate) fn new(kind: ViolationKind, summary: impl Into<String>) -> Violation {
        Violation {
            kind,
            summary: summary.into(),
            sides: Vec::new(),
            chain: Vec::new(),
            scenario: None,
            advice: String::new(),
            key: 0,
        }
    }

    pub(crate) fn with_side(mut self, side: Side) -> Violation {
        self.sides.push(side);
        self
    }

    pub(crate) fn with_chain(mut self, chain: Vec<Event>) -> Violation {
        self.chain = chain;
        self
    }

    pub(crate) fn with_scenario(mut self, scenario: Scenario) -> Violation {
        self.scenario = Some(scenario);
        self
    }

    pub(crate) fn with_advice(mut self, advice: impl Into<String>) -> Violation {
        self.advice = advice.into();
        self
    }

    /// Sets what makes two reports "the same violation" for deduplication.
    /// Without it, the kind and every site mentioned are used.
    pub(crate) fn with_key(mut self, identity: impl Hash) -> Violation {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.kind.hash(&mut h);
        identity.hash(&mut h);
        self.key = h.finish() | 1;
        self
    }

    pub(crate) fn dedup_key(&self) -> u64 {
        if self.key != 0 {
            return self.key;
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.kind.hash(&mut h);
        for s in self.sites() {
            s.hash(&mut h);
        }
        h.finish() | 1
    }

    /// What kind of bug this is.
    pub fn kind(&self) -> ViolationKind {
        self.kind
    }

    /// One sentence: what happened, with the key names.
    pub fn summary(&self) -> &str {
        &self.summary
    }

    /// The parties involved; for a lock-order inversion the current
    /// acquisition first, then the side that established the other order.
    pub fn sides(&self) -> &[Side] {
        &self.sides
    }

    /// For lock-order inversions: the existing dependency chain the new
    /// acquisition closes into a cycle, one edge per event.
    pub fn dependency_chain(&self) -> &[Event] {
        &self.chain
    }

    /// The two-column unsafe scenario, when the violation has one.
    pub fn unsafe_scenario(&self) -> Option<&Scenario> {
        self.scenario.as_ref()
    }

    /// One line saying what to change.
    pub fn advice(&self) -> &str {
        &self.advice
    }

    /// Every source site the report mentions, in order, without repeats.
    pub fn sites(&self) -> Vec<Site> {
        let mut out: Vec<Site> = Vec::new();
        let all = self
            .sides
            .iter()
            .flat_map(|s| s.events.iter())
            .chain(self.chain.iter());
        for e in all {
            if let Some(s) = e.site {
                if !out.contains(&s) {
                    out.push(s);
                }
            }
        }
        out
    }

    /// Whether any site of the report is in `file` (a path suffix) at `line`.
    pub fn mentions(&self, file: &str, line: u32) -> bool {
        self.sites().iter().any(|s| s.is(file, line))
    }

    /// The contexts named by the sides, in order.
    pub fn contexts(&self) -> Vec<&ContextDesc> {
        self.sides
            .iter()
            .filter_map(|s| s.context.as_ref())
            .collect()
    }
}

impl Side {
    pub(crate) fn new(role: impl Into<String>, context: Option<ContextDesc>) -> Side {
        Side {
            role: role.into(),
            context,
            events: Vec::new(),
        }
    }

    pub(crate) fn event(mut self, text: impl Into<String>, site: Option<Site>) -> Side {
        self.events.push(Event::new(text, site));
        self
    }

    /// How this side takes part ("acquiring", "first took the other order",
    /// "waiting", ...).
    pub fn role(&self) -> &str {
        &self.role
    }

    /// The task or thread, when known.
    pub fn context(&self) -> Option<&ContextDesc> {
        self.context.as_ref()
    }

    /// What it did, in order.
    pub fn events(&self) -> &[Event] {
        &self.events
    }
}

impl Event {
    pub(crate) fn new(text: impl Into<String>, site: Option<Site>) -> Event {
        Event {
            text: text.into(),
            site,
        }
    }

    /// The sentence.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The source site, when known.
    pub fn site(&self) -> Option<Site> {
        self.site
    }
}

impl Scenario {
    pub(crate) fn new(left: impl Into<String>, right: impl Into<String>) -> Scenario {
        Scenario {
            left: left.into(),
            right: right.into(),
            steps: Vec::new(),
            outcome: String::new(),
        }
    }

    pub(crate) fn step(mut self, column: Column, text: impl Into<String>) -> Scenario {
        self.steps.push((column, text.into()));
        self
    }

    pub(crate) fn outcome(mut self, outcome: impl Into<String>) -> Scenario {
        self.outcome = outcome.into();
        self
    }

    /// The heading of the left column.
    pub fn left(&self) -> &str {
        &self.left
    }

    /// The heading of the right column.
    pub fn right(&self) -> &str {
        &self.right
    }

    /// The steps in time order, each in its column.
    pub fn steps(&self) -> &[(Column, String)] {
        &self.steps
    }

    /// What the interleaving ends in ("*** DEADLOCK ***").
    pub fn result(&self) -> &str {
        &self.outcome
    }
}
