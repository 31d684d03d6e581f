//! The hand-built waker: the data pointer is the task header, each waker owns
//! one reference count.

use super::core::Header;
use super::state::{TransitionToNotifiedByRef, TransitionToNotifiedByVal};
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::ptr::NonNull;
use std::task::{RawWaker, RawWakerVTable, Waker};

static WAKER_VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);

/// A waker borrowed from a reference the caller holds; never dropped.
pub(crate) struct WakerRef<'a> {
    waker: ManuallyDrop<Waker>,
    _p: PhantomData<&'a Header>,
}

impl Deref for WakerRef<'_> {
    type Target = Waker;
    fn deref(&self) -> &Waker {
        &self.waker
    }
}

/// # Safety
/// The caller holds a reference to the task for the life of the result.
pub(crate) unsafe fn waker_ref<'a>(ptr: NonNull<Header>) -> WakerRef<'a> {
    // SAFETY: the vtable's functions uphold `RawWaker`'s contract for a task
    // header pointer; the `ManuallyDrop` keeps us from releasing a reference
    // we do not own.
    let waker = unsafe { Waker::from_raw(RawWaker::new(ptr.as_ptr() as *const (), &WAKER_VTABLE)) };
    WakerRef {
        waker: ManuallyDrop::new(waker),
        _p: PhantomData,
    }
}

fn header<'a>(data: *const ()) -> &'a Header {
    // SAFETY: every waker built from `WAKER_VTABLE` carries a live header
    // pointer (the waker owns or borrows a reference).
    unsafe { &*(data as *const Header) }
}

fn header_ptr(data: *const ()) -> NonNull<Header> {
    // SAFETY: as above, non-null.
    unsafe { NonNull::new_unchecked(data as *mut Header) }
}

unsafe fn clone(data: *const ()) -> RawWaker {
    header(data).state.ref_inc();
    RawWaker::new(data, &WAKER_VTABLE)
}

unsafe fn wake(data: *const ()) {
    let h = header(data);
    match h.state.transition_to_notified_by_val() {
        // SAFETY: the waker's reference becomes the Notified's.
        TransitionToNotifiedByVal::Submit => unsafe { (h.vtable.schedule)(header_ptr(data)) },
        // SAFETY: last reference.
        TransitionToNotifiedByVal::Dealloc => unsafe { (h.vtable.dealloc)(header_ptr(data)) },
        TransitionToNotifiedByVal::DoNothing => {}
    }
}

unsafe fn wake_by_ref(data: *const ()) {
    let h = header(data);
    if let TransitionToNotifiedByRef::Submit = h.state.transition_to_notified_by_ref() {
        // SAFETY: a reference was added for the Notified.
        unsafe { (h.vtable.schedule)(header_ptr(data)) }
    }
}

unsafe fn drop_waker(data: *const ()) {
    let h = header(data);
    if h.state.ref_dec() {
        // SAFETY: last reference.
        unsafe { (h.vtable.dealloc)(header_ptr(data)) }
    }
}
