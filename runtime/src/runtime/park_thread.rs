//! `block_on` for a thread that is not a worker: poll, then park until woken.

use crate::scheduler::park::{Parker, Unparker};
use crate::task::coop;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

struct ThreadWaker(Unparker);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

thread_local! {
    static PARKER: (Parker, Waker) = {
        let parker = Parker::new();
        let waker = Waker::from(Arc::new(ThreadWaker(parker.unparker())));
        (parker, waker)
    };
}

pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let (parker, waker) = PARKER
        .try_with(|(p, w)| (p.clone(), w.clone()))
        .unwrap_or_else(|_| {
            let p = Parker::new();
            let w = Waker::from(Arc::new(ThreadWaker(p.unparker())));
            (p, w)
        });
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = coop::with_budget(|| future.as_mut().poll(&mut cx)) {
            return out;
        }
        parker.park(None);
    }
}
