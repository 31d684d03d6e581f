/// Waits for several async expressions concurrently, on the current task,
/// and returns all their outputs as a tuple — as `tokio::join!`.
///
/// The futures run concurrently but not in parallel: they are all polled by
/// the task that awaits the `join!`. To run work in parallel, `spawn` it and
/// join the handles. `join!(a, b)` returns `(a_output, b_output)`;
/// `join!()` returns `()`.
///
/// Each poll starts one future further along than the previous poll, so a
/// future that keeps spending the cooperative budget cannot starve the
/// others; `biased;` as the first token polls them in the order written.
/// A future is dropped as soon as it completes.
///
/// ```
/// use perf_runtime::sync::oneshot;
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let (tx, rx) = oneshot::channel();
/// let produce = async move {
///     tx.send(21).unwrap();
///     "sent"
/// };
/// let consume = async move { rx.await.unwrap() * 2 };
/// let (a, b) = perf_runtime::join!(produce, consume);
/// assert_eq!((a, b), ("sent", 42));
/// # });
/// ```
#[macro_export]
macro_rules! join {
    ($($input:tt)*) => {
        $crate::__join_internal!(($crate) $($input)*)
    };
}

/// Waits for several async expressions that return `Result`, concurrently
/// on the current task, as `tokio::try_join!`: `Ok` with a tuple of all the
/// values once every one succeeds, or the first `Err` as soon as one fails —
/// the others are then dropped without being polled again.
///
/// All the expressions must have the same error type. `biased;` as the first
/// token polls them in the order written, as for [`join!`](crate::join!).
///
/// ```
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// async fn parse(s: &str) -> Result<u32, std::num::ParseIntError> {
///     s.parse()
/// }
///
/// let ok = perf_runtime::try_join!(parse("1"), parse("2"));
/// assert_eq!(ok, Ok((1, 2)));
///
/// let never = std::future::pending::<Result<u32, _>>();
/// let failed = perf_runtime::try_join!(parse("1"), parse("two"), never);
/// assert!(failed.is_err()); // no need to wait for the pending one
/// # });
/// ```
#[macro_export]
macro_rules! try_join {
    ($($input:tt)*) => {
        $crate::__try_join_internal!(($crate) $($input)*)
    };
}
