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

/// The task header a waker's data pointer names.
///
/// # Safety
/// `data` must be the data pointer of a waker built on `WAKER_VTABLE` (a task
/// header), and the caller must hold a reference to that task (the waker's
/// own, or a borrowed one) for all of `'a`: the header is freed when the last
/// reference goes.
unsafe fn header<'a>(data: *const ()) -> &'a Header {
    // SAFETY: the caller promises `data` is a live task header for `'a`.
    unsafe { &*(data as *const Header) }
}

/// `data` as a header pointer, to hand to the task's vtable.
///
/// # Safety
/// `data` must be the data pointer of a waker built on `WAKER_VTABLE`, which
/// is never null (it comes from a `NonNull<Header>`).
unsafe fn header_ptr(data: *const ()) -> NonNull<Header> {
    // SAFETY: the caller promises `data` came from a `NonNull<Header>`.
    unsafe { NonNull::new_unchecked(data as *mut Header) }
}

unsafe fn clone(data: *const ()) -> RawWaker {
    // SAFETY: `RawWaker`'s contract: `data` is this vtable's, and the waker
    // being cloned holds a reference for the call.
    unsafe { header(data) }.state.ref_inc();
    RawWaker::new(data, &WAKER_VTABLE)
}

unsafe fn wake(data: *const ()) {
    // SAFETY: `data` is this vtable's; the waker's own reference keeps the
    // header alive until it is handed on or released below.
    let h = unsafe { header(data) };
    match h.state.transition_to_notified_by_val() {
        // SAFETY: the waker's reference becomes the Notified's; `data` is
        // this vtable's, so non-null.
        TransitionToNotifiedByVal::Submit => unsafe { (h.vtable.schedule)(header_ptr(data)) },
        // SAFETY: last reference; `data` is this vtable's, so non-null.
        TransitionToNotifiedByVal::Dealloc => unsafe { (h.vtable.dealloc)(header_ptr(data)) },
        TransitionToNotifiedByVal::DoNothing => {}
    }
}

unsafe fn wake_by_ref(data: *const ()) {
    // SAFETY: `data` is this vtable's; the borrowed waker holds a reference.
    let h = unsafe { header(data) };
    if let TransitionToNotifiedByRef::Submit = h.state.transition_to_notified_by_ref() {
        // SAFETY: a reference was added for the Notified; `data` is this
        // vtable's, so non-null.
        unsafe { (h.vtable.schedule)(header_ptr(data)) }
    }
}

unsafe fn drop_waker(data: *const ()) {
    // SAFETY: `data` is this vtable's; the waker's reference is released
    // only by the `ref_dec` below, the last use of `h` before the dealloc.
    let h = unsafe { header(data) };
    if h.state.ref_dec() {
        // SAFETY: last reference; `data` is this vtable's, so non-null.
        unsafe { (h.vtable.dealloc)(header_ptr(data)) }
    }
}
