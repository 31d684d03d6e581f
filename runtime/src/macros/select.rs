/// Waits on several async expressions at once and runs the handler of the
/// first one to complete, dropping the others — as `tokio::select!`.
///
/// ```text
/// select! {
///     [biased;]
///     <pattern> = <async expression> [, if <precondition>] => <handler>,
///     ...
///     [else => <expression>]
/// }
/// ```
///
/// How one `select!` runs:
///
/// 1. Every `, if` precondition is evaluated; a branch whose precondition is
///    `false` is **disabled**. Its async expression is still evaluated (the
///    future is created) but never polled.
/// 2. All async expressions are evaluated into futures, which are polled
///    together on the current task.
/// 3. When a future completes, its output is matched against the branch's
///    pattern. If it matches, every other future is dropped and that
///    branch's handler runs with the pattern's bindings. If it does not
///    match (`Some(v) = rx.recv()` when the channel is closed), the branch is
///    disabled and the others keep running.
/// 4. If every branch is disabled, the `else` expression runs; without an
///    `else`, `select!` panics.
///
/// Without `biased;`, each poll starts at a randomly chosen branch so that
/// no branch is favoured; with `biased;` branches are polled in the order
/// written (useful when one branch, such as a shutdown signal, must win
/// ties). The `select!` also checks the task's cooperative budget
/// ([`task::coop`](crate::task::coop)) before polling: a task whose branches
/// are always ready still yields to its worker's other tasks.
///
/// The handler runs outside the polling: it can `.await`, `return`, `break`
/// or `continue` an enclosing loop, and use `?`. The futures are dropped
/// before it runs, so it can use what they borrowed. `select!` is an
/// expression: all handlers (and `else`) have the same type.
///
/// # Cancellation safety
///
/// When one branch wins, the other futures are dropped. In a loop this
/// happens every iteration, so use methods that are cancellation safe
/// (`mpsc::Receiver::recv`, `broadcast::Receiver::recv`,
/// `watch::Receiver::changed`, `sleep`, a `JoinSet::join_next`), or pin a
/// future outside the loop with [`pin!`](crate::pin!) and select on
/// `&mut future` so it is resumed rather than restarted.
///
/// # Examples
///
/// A worker loop that stops on a shutdown signal or when every job sender
/// is gone; `biased;` makes shutdown win when both are ready:
///
/// ```
/// use perf_runtime::sync::{mpsc, oneshot};
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let (jobs_tx, mut jobs) = mpsc::channel::<u32>(8);
/// let (_stop_tx, mut stop) = oneshot::channel::<()>();
/// jobs_tx.send(1).await.unwrap();
/// jobs_tx.send(2).await.unwrap();
/// drop(jobs_tx);
///
/// let mut done = Vec::new();
/// loop {
///     perf_runtime::select! {
///         biased;
///         _ = &mut stop => break,
///         job = jobs.recv() => match job {
///             Some(job) => done.push(job),
///             None => break, // every sender is gone
///         },
///     }
/// }
/// assert_eq!(done, [1, 2]);
/// # });
/// ```
///
/// Refutable patterns: `Some(v) = rx.recv()` disables its branch once the
/// channel is closed, and `else` runs when no branch is left:
///
/// ```
/// use perf_runtime::sync::mpsc;
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let (a_tx, mut a) = mpsc::unbounded_channel();
/// let (b_tx, mut b) = mpsc::unbounded_channel();
/// a_tx.send("a").unwrap();
/// b_tx.send("b").unwrap();
/// drop((a_tx, b_tx));
///
/// let mut got = Vec::new();
/// loop {
///     perf_runtime::select! {
///         Some(v) = a.recv() => got.push(v),
///         Some(v) = b.recv() => got.push(v),
///         else => break,
///     }
/// }
/// got.sort();
/// assert_eq!(got, ["a", "b"]);
/// # });
/// ```
///
/// A pinned future that survives loop iterations (resumed, not restarted),
/// and a precondition that disables a branch:
///
/// ```
/// use perf_runtime::sync::oneshot;
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let (done_tx, done) = oneshot::channel::<&str>();
/// perf_runtime::pin!(done);
/// let mut done_tx = Some(done_tx);
/// let mut ticks = 0;
/// let outcome = loop {
///     perf_runtime::select! {
///         biased;
///         r = &mut done => break r.unwrap(),
///         () = perf_runtime::task::yield_now(), if ticks < 3 => {
///             ticks += 1;
///             if ticks == 3 {
///                 done_tx.take().unwrap().send("finished").unwrap();
///             }
///         }
///     }
/// };
/// assert_eq!((outcome, ticks), ("finished", 3));
/// # });
/// ```
#[macro_export]
macro_rules! select {
    ($($input:tt)*) => {
        $crate::__select_internal!(($crate) $($input)*)
    };
}
