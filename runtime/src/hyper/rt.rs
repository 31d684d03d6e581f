//! [`Executor`], [`Timer`] and [`Sleep`]: the runtime half of
//! `hyper::rt`.

use crate::runtime::Handle;
use crate::task::raw::TaskMeta;
use crate::task::Qos;
use crate::time::Instant;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Spawns the tasks hyper hands it (`hyper::rt::Executor`): on the runtime
/// current when they are spawned, or on the one given to
/// [`with_handle`](Executor::with_handle), in class `Normal` unless
/// [`qos`](Executor::qos) says otherwise.
///
/// hyper spawns a task per HTTP/2 stream and per client connection; giving
/// a server's executor `Qos::Critical` keeps its streams ahead of batch
/// work on the same workers.
#[derive(Clone, Default)]
pub struct Executor {
    handle: Option<Handle>,
    qos: Qos,
}

impl Executor {
    /// Spawns on the current runtime, in class `Normal`.
    pub fn new() -> Executor {
        Executor::default()
    }

    /// Spawns on `handle`'s runtime, from any thread.
    pub fn with_handle(handle: Handle) -> Executor {
        Executor {
            handle: Some(handle),
            qos: Qos::default(),
        }
    }

    /// Spawns in class `qos`.
    #[must_use]
    pub fn qos(mut self, qos: Qos) -> Executor {
        self.qos = qos;
        self
    }

    /// Spawns `fut` and detaches it (what `hyper::rt::Executor::execute`
    /// does), also usable directly, e.g. for a client connection's driver.
    ///
    /// # Panics
    /// If this executor has no handle and the calling thread is outside a
    /// perf_runtime runtime (hyper calls it from its own tasks, which are
    /// inside one).
    #[track_caller]
    pub fn spawn<F>(&self, fut: F)
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let meta = TaskMeta::new(self.qos, None, Location::caller());
        match &self.handle {
            Some(h) => drop(h.spawn_with_meta(fut, meta)),
            None => drop(crate::task::spawn_inner(fut, meta)),
        }
    }
}

impl<F> hyper::rt::Executor<F> for Executor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        self.spawn(fut);
    }
}

impl fmt::Debug for Executor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("perf_runtime::hyper::Executor")
            .field("qos", &self.qos)
            .field("bound_to_handle", &self.handle.is_some())
            .finish()
    }
}

/// hyper's timer (`hyper::rt::Timer`) on perf_runtime's timer wheel: the
/// [`Sleep`]s it returns never fire early, follow a paused clock
/// ([`time::pause`](crate::time::pause)), and are
/// [reset](hyper::rt::Timer::reset) in place without a new allocation.
///
/// Set it on a server builder for `header_read_timeout` and keep-alive
/// (`http1::Builder::timer`, `http2::Builder::timer`), and on a client for
/// its pool's idle timeout.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timer(());

impl Timer {
    /// The timer of the current runtime (the one a sleep is created in).
    pub fn new() -> Timer {
        Timer(())
    }
}

impl hyper::rt::Timer for Timer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(Sleep {
            inner: crate::time::sleep(duration),
        })
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(Sleep {
            inner: crate::time::sleep_until(Instant::from_std(deadline)),
        })
    }

    fn now(&self) -> std::time::Instant {
        Instant::now().into_std()
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: std::time::Instant) {
        match sleep.as_mut().downcast_mut_pin::<Sleep>() {
            Some(ours) => ours.get_mut().reset(new_deadline),
            // Another timer's sleep: replace it.
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// The sleep a [`Timer`] returns (`hyper::rt::Sleep`: `Send + Sync`,
/// completes at its deadline).
#[must_use = "futures do nothing unless you `.await` or poll them"]
#[derive(Debug)]
pub struct Sleep {
    inner: crate::time::Sleep,
}

impl Sleep {
    /// Moves the deadline, keeping the timer entry (no allocation).
    pub fn reset(&mut self, deadline: std::time::Instant) {
        Pin::new(&mut self.inner).reset(Instant::from_std(deadline));
    }

    /// When this sleep completes.
    pub fn deadline(&self) -> std::time::Instant {
        self.inner.deadline().into_std()
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.inner).poll(cx)
    }
}

impl hyper::rt::Sleep for Sleep {}
