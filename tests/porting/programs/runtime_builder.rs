// A service that builds its runtimes by hand, as a tokio user writes it:
// Builder with worker threads and a thread name, block_on, Handle::current
// and Handle::spawn from a plain thread, Runtime::enter, spawn_blocking and
// block_in_place, a LocalSet with !Send state, interval and sleep_until
// (timers never fire early), a panicking task seen as JoinError::is_panic,
// and shutdown_timeout with a task that never ends.

use std::rc::Rc;
use std::time::Duration;
use tokio::runtime::{Builder, Handle};
use tokio::task::LocalSet;
use tokio::time::{interval, sleep_until, Instant};

pub fn run() -> Vec<String> {
    let mut out = Vec::new();
    out.push(format!(
        "handle outside a runtime: {}",
        Handle::try_current().is_err()
    ));

    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("porting-worker")
        .enable_all()
        .build()
        .unwrap();

    let lines = rt.block_on(async {
        let mut lines = Vec::new();
        let name = tokio::spawn(async { std::thread::current().name().map(str::to_owned) })
            .await
            .unwrap();
        lines.push(format!("spawned task runs on a named worker: {name:?}"));

        let sum = tokio::task::spawn_blocking(|| (1..=10u64).sum::<u64>())
            .await
            .unwrap();
        lines.push(format!("spawn_blocking sum: {sum}"));
        let product = tokio::task::block_in_place(|| (1..=5u64).product::<u64>());
        lines.push(format!("block_in_place product: {product}"));

        // A plain thread reaches the runtime through a Handle.
        let handle = Handle::current();
        let from_thread = std::thread::spawn(move || {
            let task = handle.spawn(async { "spawned from a thread" });
            handle.block_on(task).unwrap()
        })
        .join()
        .unwrap();
        lines.push(from_thread.to_string());

        let start = Instant::now();
        let mut ticks = interval(Duration::from_millis(5));
        for _ in 0..3 {
            ticks.tick().await;
        }
        lines.push(format!(
            "three ticks of 5 ms took at least 10 ms: {}",
            start.elapsed() >= Duration::from_millis(10)
        ));
        let deadline = Instant::now() + Duration::from_millis(7);
        sleep_until(deadline).await;
        lines.push(format!(
            "sleep_until not early: {}",
            Instant::now() >= deadline
        ));

        let panicked = tokio::spawn(async {
            if std::hint::black_box(true) {
                panic!("a task panics (expected by the porting suite)");
            }
        })
        .await
        .unwrap_err();
        lines.push(format!(
            "panicking task: is_panic {}, is_cancelled {}",
            panicked.is_panic(),
            panicked.is_cancelled()
        ));
        lines
    });
    out.extend(lines);

    // Runtime::enter: spawn from synchronous code, await in block_on later.
    let task = {
        let _guard = rt.enter();
        tokio::spawn(async { 6 * 7 })
    };
    out.push(format!(
        "spawned under enter: {}",
        rt.block_on(task).unwrap()
    ));

    // A task that never ends does not hold shutdown up past its timeout.
    rt.spawn(std::future::pending::<()>());
    let start = std::time::Instant::now();
    rt.shutdown_timeout(Duration::from_secs(5));
    out.push(format!(
        "shutdown_timeout returned well before 5 s: {}",
        start.elapsed() < Duration::from_secs(4)
    ));

    // !Send state on a LocalSet of a current-thread runtime.
    let local_rt = Builder::new_current_thread().enable_all().build().unwrap();
    let local = LocalSet::new();
    let counted = local.block_on(&local_rt, async {
        let shared = Rc::new(std::cell::Cell::new(0));
        let mut tasks = Vec::new();
        for i in 1..=3 {
            let shared = shared.clone();
            tasks.push(tokio::task::spawn_local(async move {
                tokio::task::yield_now().await;
                shared.set(shared.get() + i);
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        shared.get()
    });
    out.push(format!("spawn_local tasks summed: {counted}"));
    out
}
