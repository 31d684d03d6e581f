//! The harness of the detection corpus (`validation_corpus`): what a kernel
//! is, how one is run, and how its reports are judged and scored.
//!
//! # A kernel
//!
//! A [`Kernel`] is a small blocking bug written as a tokio user would write
//! it (its `buggy` body) and the same code with the bug removed (its `fixed`
//! twin), plus what the engine must say about the buggy body: one or more
//! [`Expect`]s, each a [`ViolationKind`] and the source lines the report must
//! name. Lines are named by markers — a trailing `// @name` comment on the
//! line (or alone on the line below it) — so that the expectations survive
//! edits and `rustfmt`; the harness reads the kernel's own source
//! ([`Source`]) to turn markers into lines.
//!
//! # A run
//!
//! Every body runs alone (kernels run one after another, never in
//! parallel: the engine's state is global) in a fresh multi-thread runtime in
//! [`Mode::Report`], with a short stall threshold ([`STALL`]) so stalls are
//! reported within a second. The body is spawned as a task; the harness
//! thread polls `take_reports()` until
//!
//! - buggy: every expectation is met, or the body finished and a stall
//!   window ([`LINGER`]) passed (tasks it leaked may still stall), or
//!   [`PATIENCE`] passed — a kernel that truly deadlocks is never joined, it
//!   must be reported before the deadline;
//! - fixed: the body finished (or [`PATIENCE`] passed: the twin hung).
//!
//! The runtime is then shut down with a bounded wait (a deadlocked task is
//! dropped with it; a thread stuck in a blocking lock is left behind), and
//! the reports made meanwhile are added. Reports that show up before the
//! next run starts are added to the previous run: nothing is lost.
//!
//! The twin runs before its bug. The engine records each distinct violation
//! once (same kind and sites), and a twin shares code with its bug; run
//! second, a false report of the twin that repeated one of the bug's would
//! be swallowed. Run first, it is recorded (and a bug report it swallows
//! fails the kernel anyway). Locks are ordered by class, so each body
//! creates its locks on lines of its own: the twin's lock orders never
//! stand in for the bug's.
//!
//! # The verdict
//!
//! A buggy body is *detected* when every expectation is met by a report of
//! its kind naming all its lines; any report of a kind neither expected nor
//! listed in the kernel's `allow` is noise and fails the kernel (reports
//! made while tearing down an abandoned, stuck body are shown but not
//! judged: the harness caused them). A fixed twin must produce no report at
//! all, and must finish. A kernel marked as a known gap counts as missed
//! without failing the run, and fails it once detected, so the mark cannot
//! outlive the gap. The summary prints one line per kernel and the score:
//! detected / kernels, false reports / twins.

// `PATIENCE` and `panic_message` are the ones every behaviour test shares.
#[path = "../support/mod.rs"]
mod support;
pub use support::{panic_message, PATIENCE};

use perf_runtime::runtime::Builder;
use perf_runtime::validation::{self, Mode, Violation, ViolationKind};
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// The stall threshold of every run: a wait without progress for longer is
/// reported (`ChannelStall`, `WaitStall`). Short, so stall kernels take under
/// a second; long enough that a fixed twin's waits (microseconds) never get
/// near it even on a loaded machine.
pub const STALL: Duration = Duration::from_millis(500);

/// How long after a buggy body finished the harness keeps collecting
/// reports: the stall threshold plus two scans of the watchdog (every
/// 250 ms) and some slack.
pub const LINGER: Duration = Duration::from_millis(1_500);

/// How often the harness thread drains the report sink.
const POLL: Duration = Duration::from_millis(5);

/// How long shutting a runtime down may wait for its threads.
const SHUTDOWN: Duration = Duration::from_millis(500);

/// A kernel body, ready to spawn.
pub type Body = fn() -> Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Boxes a body's future (kernels write `buggy: || body(m::buggy())`).
pub fn body<F: Future<Output = ()> + Send + 'static>(
    f: F,
) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
    Box::pin(f)
}

/// The blocking-bug categories of the GoKer benchmark, plus the
/// async-specific ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    /// A lock (or permit) taken again by its holder, or never released.
    DoubleLocking,
    /// Locks taken in orders that form a cycle (two or more locks), or a
    /// lock and a semaphore waiting on each other.
    AbBa,
    /// A read lock taken again by its holder (deadlocks once a writer
    /// queues).
    Rwr,
    /// A channel nobody will send on, receive from, or close.
    Channel,
    /// A channel wait tied to a cancellation signal or a deadline (Go's
    /// `context`; here a watch, a oneshot or `time::timeout`).
    ChannelContext,
    /// A condition variable's wait with no matching signal (`Notify`).
    CondVar,
    /// A channel wait and a lock that block each other.
    ChannelLock,
    /// A channel wait and a WaitGroup (`Barrier`) that block each other.
    ChannelWaitGroup,
    /// A WaitGroup with the wrong count or a missing `Done` (`Barrier`,
    /// `Semaphore`).
    WaitGroupMisuse,
    /// Bugs that exist because of `async`: a guard held across `.await`, a
    /// thread lock and a task lock in opposite orders.
    Async,
}

impl Category {
    /// Every category, in report order.
    pub const ALL: [Category; 10] = [
        Category::DoubleLocking,
        Category::AbBa,
        Category::Rwr,
        Category::Channel,
        Category::ChannelContext,
        Category::CondVar,
        Category::ChannelLock,
        Category::ChannelWaitGroup,
        Category::WaitGroupMisuse,
        Category::Async,
    ];

    /// The category's name, as GoKer spells it where it has one.
    pub const fn name(self) -> &'static str {
        match self {
            Category::DoubleLocking => "double locking",
            Category::AbBa => "AB-BA",
            Category::Rwr => "RWR",
            Category::Channel => "channel",
            Category::ChannelContext => "channel & context",
            Category::CondVar => "condition variable",
            Category::ChannelLock => "channel & lock",
            Category::ChannelWaitGroup => "channel & WaitGroup",
            Category::WaitGroupMisuse => "WaitGroup misuse",
            Category::Async => "async-specific",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A kernel file's own source text, for resolving `// @marker` comments to
/// lines. Each kernel file declares one:
/// `const SRC: Source = Source { file: file!(), text: include_str!("its_name.rs") };`
pub struct Source {
    /// The path the compiler gives the file (what `Location`s carry).
    pub file: &'static str,
    /// The file's text.
    pub text: &'static str,
}

impl Source {
    /// The 1-based line the marker `// @name` marks: the line it ends, or,
    /// for a comment alone on its line (where `rustfmt` puts a comment that
    /// followed an opening brace), the nearest line of code above it.
    ///
    /// # Panics
    /// If no line or more than one line carries it (a corpus bug).
    pub fn line(&self, name: &str) -> u32 {
        let mut found = None;
        let mut last_code = 0;
        for (i, text) in self.text.lines().enumerate() {
            let line = i as u32 + 1;
            let trimmed = text.trim_start();
            let alone = trimmed.starts_with("//");
            if !alone && !trimmed.is_empty() {
                last_code = line;
            }
            let Some(at) = text.find("// @") else {
                continue;
            };
            let mut names = text[at + 3..].split_whitespace();
            if names.any(|m| m.strip_prefix('@') == Some(name)) {
                assert!(
                    found.is_none(),
                    "marker `@{name}` appears twice in {}",
                    self.file
                );
                found = Some(if alone { last_code } else { line });
            }
        }
        found.unwrap_or_else(|| panic!("marker `@{name}` not found in {}", self.file))
    }
}

/// What the engine must report about a buggy body: a report of `kind`
/// naming every line marked with one of `sites`.
#[derive(Clone, Copy, Debug)]
pub struct Expect {
    /// The kind of the report.
    pub kind: ViolationKind,
    /// Markers of the lines the report must name.
    pub sites: &'static [&'static str],
}

/// Shorthand for an [`Expect`].
pub const fn expect(kind: ViolationKind, sites: &'static [&'static str]) -> Expect {
    Expect { kind, sites }
}

/// One bug kernel and its fixed twin.
pub struct Kernel {
    /// A short unique name (the filter the command line matches).
    pub name: &'static str,
    /// Its GoKer category.
    pub category: Category,
    /// The real bug it is shaped after (`project#pr`), or what it models.
    pub shape: &'static str,
    /// The file the kernel lives in.
    pub src: &'static Source,
    /// Worker threads of its runtime (1 where the kernel needs tasks to run
    /// in spawn order, e.g. "this task is already waiting when that one
    /// runs").
    pub workers: usize,
    /// The body with the bug.
    pub buggy: Body,
    /// The same body with the bug removed.
    pub fixed: Body,
    /// What the buggy body must be reported as.
    pub expect: Vec<Expect>,
    /// Further kinds the buggy body may also be reported as (e.g.
    /// `AllTasksBlocked` once everything hangs).
    pub allow: &'static [ViolationKind],
    /// A known gap: why the bug is not detected yet. The kernel still runs
    /// and counts as missed in the score, but does not fail the run; once
    /// it is detected, the run fails until the mark is removed.
    pub gap: Option<&'static str>,
}

/// The extra kinds a body that hangs may also be reported as: once every
/// task is stuck, the runtime says so.
pub const HANGS: &[ViolationKind] = &[ViolationKind::AllTasksBlocked];

/// What one run of a body produced.
struct Run {
    reports: Vec<Violation>,
    /// Reports made while the harness tore down a body it abandoned (one
    /// that never finished): dropping its stuck tasks drops their channels
    /// with messages still queued, or a oneshot sender while its receiver
    /// waits. Printed, not judged: the harness caused them.
    teardown: Vec<Violation>,
    /// When the body's task finished, if it did.
    finished: Option<Duration>,
    /// When every expectation was first met, if it was.
    met: Option<Duration>,
    /// The body's panic, if it panicked.
    panic: Option<String>,
}

/// The outcome of one kernel: its buggy run and its twin's.
struct Outcome<'k> {
    kernel: &'k Kernel,
    buggy: Run,
    fixed: Run,
}

/// Lines of `e` in `src`.
fn lines(src: &Source, e: &Expect) -> Vec<u32> {
    e.sites.iter().map(|m| src.line(m)).collect()
}

fn meets(src: &Source, e: &Expect, v: &Violation) -> bool {
    v.kind() == e.kind && lines(src, e).iter().all(|&l| v.mentions(src.file, l))
}

fn all_met(k: &Kernel, reports: &[Violation]) -> bool {
    k.expect
        .iter()
        .all(|e| reports.iter().any(|v| meets(k.src, e, v)))
}

/// Runs one body of `k`; `judge` is `Some(k)` for the buggy body (stop once
/// its expectations are met), `None` for the twin (stop once it finished).
fn run(k: &Kernel, body: Body, judge: Option<&Kernel>) -> Run {
    let rt = Builder::new_multi_thread()
        .worker_threads(k.workers)
        .thread_name(format!("corpus-{}", k.name))
        .validation(Mode::Report)
        .stall_threshold(STALL)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("building the runtime of kernel {}: {e}", k.name));
    let start = Instant::now();
    let handle = rt.spawn(body());
    let mut out = Run {
        reports: Vec::new(),
        teardown: Vec::new(),
        finished: None,
        met: None,
        panic: None,
    };
    loop {
        out.reports.extend(validation::take_reports());
        if let Some(k) = judge {
            if all_met(k, &out.reports) {
                out.met = Some(start.elapsed());
                break;
            }
        }
        if out.finished.is_none() && handle.is_finished() {
            out.finished = Some(start.elapsed());
            if judge.is_none() {
                break;
            }
        }
        let deadline = match out.finished {
            Some(at) => at + LINGER,
            None => PATIENCE,
        };
        if start.elapsed() >= deadline {
            break;
        }
        std::thread::sleep(POLL);
    }
    if out.finished.is_none() && handle.is_finished() {
        out.finished = Some(start.elapsed());
    }
    if out.finished.is_some() {
        if let Err(e) = rt.block_on(handle) {
            if e.is_panic() {
                out.panic = Some(panic_message(&*e.into_panic()));
            }
        }
    }
    rt.shutdown_timeout(SHUTDOWN);
    out.add_late(validation::take_reports());
    out
}

impl Run {
    /// Adds reports that arrived after the body was finished with.
    fn add_late(&mut self, late: Vec<Violation>) {
        if self.finished.is_some() {
            self.reports.extend(late);
        } else {
            self.teardown.extend(late);
        }
    }
}

impl Outcome<'_> {
    fn detected(&self) -> bool {
        self.buggy.panic.is_none() && all_met(self.kernel, &self.buggy.reports)
    }

    /// Reports of the buggy run whose kind is neither expected nor allowed.
    fn noise(&self) -> Vec<&Violation> {
        let k = self.kernel;
        self.buggy
            .reports
            .iter()
            .filter(|v| {
                !k.expect.iter().any(|e| e.kind == v.kind()) && !k.allow.contains(&v.kind())
            })
            .collect()
    }

    fn twin_clean(&self) -> bool {
        self.fixed.reports.is_empty() && self.fixed.finished.is_some() && self.fixed.panic.is_none()
    }

    /// Whether the kernel passes: detected without noise and a clean twin;
    /// for a known gap, still missed (and a clean twin).
    fn ok(&self) -> bool {
        let detection = match self.kernel.gap {
            None => self.detected() && self.noise().is_empty(),
            Some(_) => !self.detected(),
        };
        detection && self.twin_clean()
    }

    fn buggy_summary(&self) -> String {
        let k = self.kernel;
        let kinds: Vec<&str> = k.expect.iter().map(|e| e.kind.as_str()).collect();
        let kinds = kinds.join("+");
        if let Some(p) = &self.buggy.panic {
            return format!("{kinds}: the body panicked: {p}");
        }
        if self.detected() && self.kernel.gap.is_some() {
            return format!("{kinds} DETECTED, but marked as a known gap: remove the mark");
        }
        if self.detected() {
            let at = self.buggy.met.map_or("at shutdown".to_string(), |d| {
                format!("in {} ms", d.as_millis())
            });
            let noise = self.noise();
            if noise.is_empty() {
                format!("{kinds} {at}")
            } else {
                let n: Vec<&str> = noise.iter().map(|v| v.kind().as_str()).collect();
                format!("{kinds} {at}, but also unexpected {}", n.join(", "))
            }
        } else {
            let missing: Vec<String> = k
                .expect
                .iter()
                .filter(|e| !self.buggy.reports.iter().any(|v| meets(k.src, e, v)))
                .map(|e| {
                    let l: Vec<String> = lines(k.src, e).iter().map(|l| l.to_string()).collect();
                    format!("{} at lines {}", e.kind, l.join(","))
                })
                .collect();
            let got: Vec<&str> = self
                .buggy
                .reports
                .iter()
                .map(|v| v.kind().as_str())
                .collect();
            let gap = k
                .gap
                .map_or(String::new(), |g| format!(" [known gap: {g}]"));
            format!(
                "MISSED {} (got: {}){gap}",
                missing.join("; "),
                if got.is_empty() {
                    "nothing".to_string()
                } else {
                    got.join(", ")
                }
            )
        }
    }

    /// What the teardown of an abandoned buggy body reported, if anything.
    fn teardown_summary(&self) -> String {
        if self.buggy.teardown.is_empty() {
            return String::new();
        }
        let kinds: Vec<&str> = self
            .buggy
            .teardown
            .iter()
            .map(|v| v.kind().as_str())
            .collect();
        format!(" (dropping its stuck tasks: {})", kinds.join(", "))
    }

    fn twin_summary(&self) -> String {
        if let Some(p) = &self.fixed.panic {
            return format!("twin panicked: {p}");
        }
        if self.fixed.finished.is_none() {
            return format!("twin HUNG for {} s", PATIENCE.as_secs());
        }
        if self.fixed.reports.is_empty() {
            "twin clean".to_string()
        } else {
            let got: Vec<&str> = self
                .fixed
                .reports
                .iter()
                .map(|v| v.kind().as_str())
                .collect();
            format!("twin FALSE REPORT: {}", got.join(", "))
        }
    }

    /// The reports worth printing in full when the kernel failed.
    fn details(&self) -> Vec<(&'static str, &Violation)> {
        let mut out = Vec::new();
        if self.kernel.gap.is_some() {
            // A known gap: the summary line says it all.
        } else if !self.detected() {
            out.extend(self.buggy.reports.iter().map(|v| ("buggy", v)));
        } else {
            out.extend(self.noise().into_iter().map(|v| ("buggy, unexpected", v)));
        }
        out.extend(self.fixed.reports.iter().map(|v| ("fixed twin", v)));
        out
    }
}

/// The command line, as libtest would read it (so `cargo test` flags do
/// what they say): names (substrings) select kernels, `--skip NAME` leaves
/// some out, `--exact` matches whole names, `--list` lists, `--ignored`
/// selects nothing (no kernel is ignored); other flags are accepted and
/// ignored, with their values.
struct Args {
    filters: Vec<String>,
    skip: Vec<String>,
    exact: bool,
    list: bool,
    ignored_only: bool,
}

impl Args {
    fn parse(mut it: impl Iterator<Item = String>) -> Args {
        let mut a = Args {
            filters: Vec::new(),
            skip: Vec::new(),
            exact: false,
            list: false,
            ignored_only: false,
        };
        // libtest's flags that take a separate value.
        const VALUED: [&str; 6] = [
            "--test-threads",
            "--format",
            "--color",
            "--logfile",
            "--shuffle-seed",
            "-Z",
        ];
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--list" => a.list = true,
                "--exact" => a.exact = true,
                "--ignored" => a.ignored_only = true,
                "--skip" => a.skip.extend(it.next()),
                v if VALUED.contains(&v) => {
                    it.next();
                }
                v if v.starts_with("--skip=") => a.skip.push(v["--skip=".len()..].to_string()),
                v if v.starts_with('-') => {}
                _ => a.filters.push(arg),
            }
        }
        a
    }

    fn matches(&self, pattern: &str, name: &str) -> bool {
        if self.exact {
            pattern == name
        } else {
            name.contains(pattern)
        }
    }

    fn selects(&self, name: &str) -> bool {
        !self.ignored_only
            && (self.filters.is_empty() || self.filters.iter().any(|f| self.matches(f, name)))
            && !self.skip.iter().any(|s| self.matches(s, name))
    }
}

/// Runs the kernels selected by the command line (see [`Args`]) and prints
/// the table and the score; exits with status 1 if any kernel was missed,
/// made noise, or has a twin that was reported, hung or panicked.
pub fn main(kernels: Vec<Kernel>) {
    let args = Args::parse(std::env::args().skip(1));
    check_unique(&kernels);
    if args.list {
        for k in kernels.iter().filter(|k| args.selects(k.name)) {
            println!("{}: test", k.name);
        }
        return;
    }
    let selected: Vec<&Kernel> = kernels.iter().filter(|k| args.selects(k.name)).collect();
    println!(
        "\nrunning {} corpus kernel(s) (each: the bug, then its fixed twin)",
        selected.len()
    );
    // Whatever an earlier run left (none should exist) is not ours.
    let _ = validation::take_reports();
    let mut outcomes: Vec<Outcome> = Vec::new();
    for k in selected {
        // Reports that arrive after a run ended (none should) belong to it.
        if let Some(prev) = outcomes.last_mut() {
            prev.buggy.add_late(validation::take_reports());
        }
        // The twin runs first: the engine records each distinct violation
        // once, so a false report of the twin that repeats one of the bug's
        // reports could otherwise be hidden by the bug's.
        let mut fixed = run_caught(k, k.fixed, false);
        fixed.add_late(validation::take_reports());
        let buggy = run_caught(k, k.buggy, true);
        let o = Outcome {
            kernel: k,
            buggy,
            fixed,
        };
        println!(
            "  {:<4} {:<20} {:<44} {}{} | {}",
            match (o.ok(), k.gap) {
                (false, _) => "FAIL",
                (true, Some(_)) => "gap",
                (true, None) => "ok",
            },
            k.category.name(),
            k.name,
            o.buggy_summary(),
            o.teardown_summary(),
            o.twin_summary()
        );
        outcomes.push(o);
    }
    if let Some(last) = outcomes.last_mut() {
        last.buggy.add_late(validation::take_reports());
    }
    print_summary(&outcomes);
    if outcomes.iter().any(|o| !o.ok()) {
        std::process::exit(1);
    }
}

/// Runs a body, turning a panic of the harness itself into a failed run.
fn run_caught(k: &Kernel, body: Body, buggy: bool) -> Run {
    let judge = buggy.then_some(k);
    let r = std::panic::catch_unwind(AssertUnwindSafe(|| run(k, body, judge)));
    r.unwrap_or_else(|p| Run {
        reports: validation::take_reports(),
        teardown: Vec::new(),
        finished: None,
        met: None,
        panic: Some(format!("the harness panicked: {}", panic_message(&*p))),
    })
}

fn check_unique(kernels: &[Kernel]) {
    for (i, k) in kernels.iter().enumerate() {
        assert!(
            !kernels[..i].iter().any(|o| o.name == k.name),
            "two kernels are named {}",
            k.name
        );
        for e in &k.expect {
            let _ = lines(k.src, e); // every marker resolves, or panics here
        }
    }
}

fn print_summary(outcomes: &[Outcome]) {
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| !o.ok()).collect();
    for o in &failed {
        println!("\n---- {} ({}) ----", o.kernel.name, o.kernel.shape);
        for (which, v) in o.details() {
            println!("[{which}] {v}");
        }
    }
    println!("\nper category (detected / kernels, false reports / twins):");
    for c in Category::ALL {
        let of: Vec<&Outcome> = outcomes.iter().filter(|o| o.kernel.category == c).collect();
        if of.is_empty() {
            continue;
        }
        let det = of.iter().filter(|o| o.detected()).count();
        let fp = of.iter().filter(|o| !o.twin_clean()).count();
        println!("  {:<20} {det}/{}  {fp}/{}", c.name(), of.len(), of.len());
    }
    let n = outcomes.len();
    let det = outcomes.iter().filter(|o| o.detected()).count();
    let fp = outcomes
        .iter()
        .filter(|o| !o.fixed.reports.is_empty())
        .count();
    let bad_twins = outcomes.iter().filter(|o| !o.twin_clean()).count();
    let gaps: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.kernel.gap.is_some() && !o.detected())
        .map(|o| o.kernel.name)
        .collect();
    println!(
        "\ncorpus score: detected {det}/{n} kernels, false reports {fp}/{n} fixed twins \
         ({bad_twins} twin(s) reported, hung or panicked); {} kernel(s) failed",
        failed.len()
    );
    if !gaps.is_empty() {
        println!("known gaps (missed, not failing): {}", gaps.join(", "));
    }
    println!();
}
