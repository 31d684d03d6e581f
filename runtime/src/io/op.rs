//! `Op<T>`: the future of one io_uring operation that owns its data `T`
//! (see `driver/op.rs` for what happens when it is dropped early).

use super::driver::op::{OpSlot, Produces};
use super::driver::uring::op_user_data;
use super::driver::Driver;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

pub(crate) struct Op<T: Send + 'static> {
    driver: Arc<Driver>,
    slot: Arc<OpSlot>,
    ring: usize,
    /// `None` once the result was taken.
    data: Option<T>,
}

/// The current runtime's driver, if it runs io_uring.
pub(crate) fn current_uring() -> Option<(Arc<Driver>, crate::scheduler::Handle)> {
    let handle = crate::runtime::context::current_handle()?;
    let driver = handle.common().io.clone()?;
    (driver.backend() == crate::runtime::IoBackend::Uring).then_some((driver, handle))
}

impl<T: Send + 'static> Op<T> {
    /// Submits the entry `build` makes from the data (which then lives in
    /// the operation until its completion). `None` if the current runtime
    /// does not run io_uring: the caller uses its readiness path.
    pub(crate) fn submit(
        mut data: T,
        produces: Produces,
        build: impl FnOnce(&mut T) -> io_uring::squeue::Entry,
    ) -> Result<Op<T>, T> {
        let Some((driver, handle)) = current_uring() else {
            return Err(data);
        };
        let entry = build(&mut data);
        let slot = Arc::new(OpSlot::new(produces));
        let ring = handle
            .with_local_io(|local| driver.submit_op(entry, slot.clone(), local))
            .expect("the driver runs io_uring");
        Ok(Op {
            driver,
            slot,
            ring,
            data: Some(data),
        })
    }
}

impl<T: Send + Unpin + 'static> Future for Op<T> {
    /// The kernel's result (a count, or `-errno`) and the data back.
    type Output = (io::Result<u32>, T);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let coop = ready!(crate::task::coop::poll_proceed(cx));
        let (res, _flags) = ready!(self.slot.poll(cx));
        coop.made_progress();
        let data = self
            .data
            .take()
            .expect("an Op is not polled after it completed");
        let res = if res < 0 {
            Err(io::Error::from_raw_os_error(-res))
        } else {
            Ok(res as u32)
        };
        Poll::Ready((res, data))
    }
}

impl<T: Send + 'static> Drop for Op<T> {
    fn drop(&mut self) {
        let data = self.data.take();
        let keep = data.map(|d| Box::new(d) as Box<dyn std::any::Any + Send>);
        let in_flight = match keep {
            Some(k) => self.slot.abandon(Some(k)),
            None => false,
        };
        if in_flight {
            let ud = op_user_data(&self.slot);
            let driver = self.driver.clone();
            let ring = self.ring;
            match crate::runtime::context::current_handle() {
                Some(h) => h.with_local_io(|local| driver.cancel_op(ring, ud, local)),
                None => driver.cancel_op(ring, ud, None),
            }
        }
    }
}
