//! Buffers for owned-buffer I/O (`read_owned`, `write_owned`, ...): the
//! buffer is moved into the operation and handed back with its result, so
//! the kernel can write into it after the call returned (io_uring) and a
//! cancelled operation never leaves the kernel writing into freed memory.

/// A buffer an operation reads from. Its memory must not move while the
/// operation owns it (a `Vec`'s heap block, a `Box<[u8]>`, a `&'static`).
///
/// # Safety
/// `stable_ptr` must point at `bytes_init` initialised bytes that stay
/// valid and unmoved for as long as the buffer value exists, even when the
/// value itself is moved.
pub unsafe trait IoBuf: Unpin + Send + 'static {
    /// The start of the buffer.
    fn stable_ptr(&self) -> *const u8;
    /// How many bytes are initialised (what a write sends).
    fn bytes_init(&self) -> usize;
    /// How many bytes the buffer can hold.
    fn bytes_total(&self) -> usize;
}

/// A buffer an operation writes into.
///
/// # Safety
/// As [`IoBuf`], and `stable_mut_ptr` must be valid for writes of
/// `bytes_total` bytes.
pub unsafe trait IoBufMut: IoBuf {
    /// The start of the buffer, for writing.
    fn stable_mut_ptr(&mut self) -> *mut u8;
    /// Records that the first `n` bytes are initialised.
    ///
    /// # Safety
    /// The first `n` bytes must have been written.
    unsafe fn set_init(&mut self, n: usize);
}

// SAFETY: a Vec's heap block does not move when the Vec value moves; `len`
// bytes are initialised and `capacity` bytes are allocated.
unsafe impl IoBuf for Vec<u8> {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.capacity()
    }
}

// SAFETY: the whole capacity is allocated and writable.
unsafe impl IoBufMut for Vec<u8> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
    unsafe fn set_init(&mut self, n: usize) {
        if self.len() < n {
            // SAFETY: the caller guarantees `n` bytes were written, and
            // `n <= capacity` because writes are bounded by `bytes_total`.
            unsafe { self.set_len(n) };
        }
    }
}

// SAFETY: a boxed slice's heap block does not move; all of it is initialised.
unsafe impl IoBuf for Box<[u8]> {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.len()
    }
}

// SAFETY: all of a boxed slice is initialised and writable.
unsafe impl IoBufMut for Box<[u8]> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
    unsafe fn set_init(&mut self, _: usize) {}
}

// SAFETY: static data never moves or dies.
unsafe impl IoBuf for &'static [u8] {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.len()
    }
}

// SAFETY: static data never moves or dies.
unsafe impl IoBuf for &'static str {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.len()
    }
}

// SAFETY: a String's heap block does not move with the value.
unsafe impl IoBuf for String {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.capacity()
    }
}
