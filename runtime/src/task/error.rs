//! `JoinError`: why a task produced no output.

use super::Id;
use std::any::Any;
use std::fmt;
use std::io;
use std::sync::Mutex;

/// The task failed to run to completion: it was cancelled (aborted, or its
/// runtime shut down) or it panicked. As `tokio::task::JoinError`.
pub struct JoinError {
    id: Id,
    repr: Repr,
}

enum Repr {
    /// With why, if the runtime chose it as a deadlock victim
    /// (`DeadlockAction::AbortVictim`).
    Cancelled(Option<std::sync::Arc<str>>),
    // The mutex only makes the payload `Sync`; it is never contended.
    Panic(Mutex<Box<dyn Any + Send + 'static>>),
}

impl JoinError {
    pub(crate) fn cancelled(id: Id) -> JoinError {
        JoinError {
            id,
            repr: Repr::Cancelled(crate::validation::take_victim_reason(id.as_u64())),
        }
    }

    pub(crate) fn panic(id: Id, payload: Box<dyn Any + Send + 'static>) -> JoinError {
        JoinError {
            id,
            repr: Repr::Panic(Mutex::new(payload)),
        }
    }

    /// True if the task was cancelled: aborted, or dropped by its runtime's
    /// shutdown.
    ///
    /// ```
    /// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
    /// let task = perf_runtime::spawn(std::future::pending::<()>());
    /// task.abort();
    /// let err = task.await.unwrap_err();
    /// assert!(err.is_cancelled() && !err.is_panic());
    /// # });
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled(_))
    }

    /// True if the task panicked. The worker caught the panic and goes on;
    /// the payload is in [`into_panic`](Self::into_panic).
    ///
    /// ```
    /// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
    /// let task = perf_runtime::spawn(async { panic!("boom") });
    /// let err = task.await.unwrap_err();
    /// assert!(err.is_panic() && !err.is_cancelled());
    /// # });
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// The panic payload, to re-raise it with `std::panic::resume_unwind`.
    ///
    /// # Panics
    /// If the task was cancelled rather than panicking; check with
    /// [`is_panic`](Self::is_panic) or use [`try_into_panic`](Self::try_into_panic).
    ///
    /// ```
    /// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
    /// let task = perf_runtime::spawn(async { panic!("boom") });
    /// let err = task.await.unwrap_err();
    /// if err.is_panic() {
    ///     let payload = err.into_panic();
    ///     assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
    ///     // Or carry the panic on into this task:
    ///     // std::panic::resume_unwind(payload);
    /// }
    /// # });
    /// ```
    #[track_caller]
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        self.try_into_panic().expect(
            "JoinError::into_panic called on a cancelled task's error; check is_panic() first",
        )
    }

    /// The panic payload, or the error back if the task was cancelled.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panic(p) => Ok(p.into_inner().unwrap_or_else(|e| e.into_inner())),
            Repr::Cancelled(_) => Err(self),
        }
    }

    /// The id of the task that failed.
    pub fn id(&self) -> Id {
        self.id
    }

    fn panic_message(&self) -> Option<String> {
        let Repr::Panic(p) = &self.repr else {
            return None;
        };
        let p = p.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = p.downcast_ref::<&'static str>() {
            Some((*s).to_owned())
        } else {
            p.downcast_ref::<String>().cloned()
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled(None) => write!(f, "task {} was cancelled", self.id),
            Repr::Cancelled(Some(why)) => write!(f, "task {} was cancelled: {why}", self.id),
            Repr::Panic(_) => match self.panic_message() {
                Some(msg) => write!(f, "task {} panicked with message {:?}", self.id, msg),
                None => write!(f, "task {} panicked", self.id),
            },
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled(None) => write!(f, "JoinError::Cancelled({:?})", self.id),
            Repr::Cancelled(Some(why)) => {
                write!(f, "JoinError::Cancelled({:?}, {why:?})", self.id)
            }
            Repr::Panic(_) => match self.panic_message() {
                Some(msg) => write!(f, "JoinError::Panic({:?}, {:?}, ...)", self.id, msg),
                None => write!(f, "JoinError::Panic({:?}, ...)", self.id),
            },
        }
    }
}

impl std::error::Error for JoinError {}

impl From<JoinError> for io::Error {
    fn from(src: JoinError) -> io::Error {
        io::Error::other(src.to_string())
    }
}
