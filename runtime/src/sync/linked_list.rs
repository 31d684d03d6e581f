//! An intrusive, doubly linked FIFO of pinned waiter nodes.
//!
//! The nodes live inside the futures that wait (`Acquire`, `Notified`,
//! broadcast's `Recv`), so queueing never allocates and a dropped future
//! unlinks itself in O(1).
//!
//! Invariants (every caller keeps them; the list cannot check them):
//! - A node is linked in at most one list, and only while it is pinned: its
//!   address does not change until it is unlinked.
//! - The list and the links of every node in it are read and written only
//!   under the one lock that guards the list (each primitive's waiter mutex).
//! - A node is unlinked before its memory is freed: the owning future's
//!   `Drop` takes the lock and removes it if it is still linked.
//! - An unlinked node has `prev == None` and `next == None`; a linked node
//!   with `prev == None` is the head. [`LinkedList::remove`] uses this to tell
//!   "already unlinked" from "linked at the head".
//!
//! Links sit in a `std::cell::UnsafeCell` and are only touched through raw
//! pointers, so the owner may hold a `Pin<&mut _>` to the (`!Unpin`) node's
//! future while a notifier on another thread follows a link to it.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::{PhantomData, PhantomPinned};
use std::ptr::NonNull;

/// A type whose values can be linked into a [`LinkedList`].
///
/// # Safety
/// `pointers` must return a pointer to a [`Pointers`] field inside `target`
/// that is valid for as long as `target` is, and every node must follow the
/// module invariants.
pub(crate) unsafe trait Link {
    /// The links inside `target`.
    ///
    /// # Safety
    /// `target` points to a live node.
    unsafe fn pointers(target: NonNull<Self>) -> NonNull<Pointers<Self>>;
}

/// The `prev`/`next` links embedded in a node.
pub(crate) struct Pointers<T: ?Sized> {
    inner: UnsafeCell<PointersInner<T>>,
}

struct PointersInner<T: ?Sized> {
    prev: Option<NonNull<T>>,
    next: Option<NonNull<T>>,
    /// A node's address is part of the list: it must not move.
    _pin: PhantomPinned,
}

impl<T: ?Sized> Pointers<T> {
    /// Links of a node that is in no list.
    pub(crate) const fn new() -> Pointers<T> {
        Pointers {
            inner: UnsafeCell::new(PointersInner {
                prev: None,
                next: None,
                _pin: PhantomPinned,
            }),
        }
    }
}

/// # Safety
/// `p` points to live links and the caller holds the list's lock.
unsafe fn prev<T: ?Sized>(p: NonNull<Pointers<T>>) -> Option<NonNull<T>> {
    // SAFETY: forwarded to the caller; the read goes through the cell's raw pointer, so no reference to the links is created.
    unsafe { (*(*p.as_ptr()).inner.get()).prev }
}

/// # Safety
/// As [`prev`].
unsafe fn next<T: ?Sized>(p: NonNull<Pointers<T>>) -> Option<NonNull<T>> {
    // SAFETY: as in `prev`.
    unsafe { (*(*p.as_ptr()).inner.get()).next }
}

/// # Safety
/// As [`prev`].
unsafe fn set_prev<T: ?Sized>(p: NonNull<Pointers<T>>, v: Option<NonNull<T>>) {
    // SAFETY: as in `prev`; the lock makes the write exclusive.
    unsafe { (*(*p.as_ptr()).inner.get()).prev = v }
}

/// # Safety
/// As [`prev`].
unsafe fn set_next<T: ?Sized>(p: NonNull<Pointers<T>>, v: Option<NonNull<T>>) {
    // SAFETY: as in `set_prev`.
    unsafe { (*(*p.as_ptr()).inner.get()).next = v }
}

/// A FIFO of nodes: push at the back, pop at the front, remove anywhere.
pub(crate) struct LinkedList<T: Link + ?Sized> {
    head: Option<NonNull<T>>,
    tail: Option<NonNull<T>>,
    _marker: PhantomData<*const T>,
}

impl<T: Link + ?Sized> LinkedList<T> {
    /// An empty list.
    pub(crate) const fn new() -> LinkedList<T> {
        LinkedList {
            head: None,
            tail: None,
            _marker: PhantomData,
        }
    }

    /// True if no node is linked.
    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    /// The oldest node, if any.
    pub(crate) fn front(&self) -> Option<NonNull<T>> {
        self.head
    }

    /// The node after `node`, if any (a walk from [`front`](Self::front)).
    ///
    /// # Safety
    /// `node` is linked in this list; the caller holds the list's lock.
    pub(crate) unsafe fn next(&self, node: NonNull<T>) -> Option<NonNull<T>> {
        // SAFETY: `node` is linked, hence live (caller); the lock is held.
        unsafe { next(T::pointers(node)) }
    }

    /// Links `node` at the back.
    ///
    /// # Safety
    /// `node` is live, pinned, in no list, and stays live until it is
    /// unlinked; the caller holds the list's lock.
    pub(crate) unsafe fn push_back(&mut self, node: NonNull<T>) {
        debug_assert!(self.head != Some(node), "node linked twice");
        // SAFETY: `node` is live (caller); we hold the lock.
        unsafe {
            let links = T::pointers(node);
            set_next(links, None);
            set_prev(links, self.tail);
            match self.tail {
                Some(tail) => set_next(T::pointers(tail), Some(node)),
                None => self.head = Some(node),
            }
        }
        self.tail = Some(node);
    }

    /// Unlinks and returns the oldest node.
    ///
    /// # Safety
    /// The caller holds the list's lock.
    pub(crate) unsafe fn pop_front(&mut self) -> Option<NonNull<T>> {
        let head = self.head?;
        // SAFETY: linked nodes are live (module invariants); we hold the lock.
        unsafe {
            let links = T::pointers(head);
            self.head = next(links);
            match self.head {
                Some(new_head) => set_prev(T::pointers(new_head), None),
                None => self.tail = None,
            }
            set_next(links, None);
            set_prev(links, None);
        }
        Some(head)
    }

    /// Unlinks `node` if it is linked in this list; returns whether it was.
    ///
    /// # Safety
    /// `node` is live and is either unlinked or linked in this list; the
    /// caller holds the list's lock.
    pub(crate) unsafe fn remove(&mut self, node: NonNull<T>) -> bool {
        // SAFETY: `node` and its neighbours are live (caller, invariants).
        unsafe {
            let links = T::pointers(node);
            let (p, n) = (prev(links), next(links));
            match p {
                Some(p) => set_next(T::pointers(p), n),
                None if self.head == Some(node) => self.head = n,
                // Not linked: an unlinked node has no `prev` and is not the head.
                None => return false,
            }
            match n {
                Some(n) => set_prev(T::pointers(n), p),
                None => self.tail = p,
            }
            set_next(links, None);
            set_prev(links, None);
        }
        true
    }
}

impl<T: Link + ?Sized> fmt::Debug for LinkedList<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkedList")
            .field("empty", &self.is_empty())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Node {
        links: Pointers<Node>,
        value: u32,
    }

    // SAFETY: `links` is a field of the node, valid as long as the node.
    unsafe impl Link for Node {
        unsafe fn pointers(target: NonNull<Node>) -> NonNull<Pointers<Node>> {
            // SAFETY: `target` is live (caller); no reference is created.
            unsafe { NonNull::new_unchecked(std::ptr::addr_of_mut!((*target.as_ptr()).links)) }
        }
    }

    fn node(value: u32) -> Box<Node> {
        Box::new(Node {
            links: Pointers::new(),
            value,
        })
    }

    fn values(list: &mut LinkedList<Node>) -> Vec<u32> {
        let mut out = Vec::new();
        // SAFETY: single-threaded test; all nodes outlive the list.
        while let Some(n) = unsafe { list.pop_front() } {
            // SAFETY: the boxes are alive until the end of the test.
            out.push(unsafe { n.as_ref() }.value);
        }
        out
    }

    #[test]
    fn fifo_order_and_removal_anywhere() {
        let nodes: Vec<Box<Node>> = (0..5).map(node).collect();
        let ptrs: Vec<NonNull<Node>> = nodes.iter().map(|n| NonNull::from(&**n)).collect();
        let mut list = LinkedList::new();
        assert!(list.is_empty());
        for &p in &ptrs {
            // SAFETY: nodes are boxed (stable) and outlive the list.
            unsafe { list.push_back(p) };
        }
        // SAFETY: every node is live and linked in `list` (or unlinked).
        unsafe {
            assert!(list.remove(ptrs[0])); // head
            assert!(list.remove(ptrs[2])); // middle
            assert!(list.remove(ptrs[4])); // tail
            assert!(!list.remove(ptrs[2]), "second removal reports unlinked");
        }
        assert_eq!(list.front(), Some(ptrs[1]));
        assert_eq!(values(&mut list), vec![1, 3]);
        assert!(list.is_empty());
        // A node can be relinked after removal.
        // SAFETY: as above.
        unsafe {
            list.push_back(ptrs[4]);
            list.push_back(ptrs[0]);
            assert!(list.remove(ptrs[0]));
            assert!(list.remove(ptrs[4]));
        }
        assert!(list.is_empty());
        assert_eq!(values(&mut list), Vec::<u32>::new());
    }
}
