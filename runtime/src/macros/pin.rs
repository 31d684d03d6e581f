/// Pins values on the stack, as `tokio::pin!`.
///
/// Each variable named is moved into a pinned slot on the stack and
/// shadowed by a `Pin<&mut T>` to it, so a `!Unpin` future (an `async`
/// block, a `Sleep`) can be polled by reference — in a loop of `select!`
/// for example — without boxing it. The second form declares and pins in
/// one step.
///
/// ```
/// use perf_runtime::time::{sleep, Duration};
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let work = async { 7 };
/// perf_runtime::pin!(work);
/// // `work` is now a `Pin<&mut impl Future>`: it can be polled by reference.
/// assert_eq!((&mut work).await, 7);
///
/// perf_runtime::pin! {
///     let timeout = sleep(Duration::from_millis(1));
/// }
/// timeout.as_mut().await;
/// # });
/// ```
#[macro_export]
macro_rules! pin {
    ($($x:ident),* $(,)?) => { $(
        #[allow(unused_mut)]
        let mut $x = $crate::macros::support::pin!($x);
    )* };
    ($(
        let $x:ident = $init:expr;
    )*) => { $(
        let $x = $init;
        $crate::pin!($x);
    )* };
}
