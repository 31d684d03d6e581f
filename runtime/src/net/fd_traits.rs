//! The trait impls every registered socket type has, written once:
//! `TryFrom` its std type, `Debug`, `AsRawFd` and `AsFd`.

/// Implements, for a socket type `$ty` whose `io` field is (or derefs to)
/// a `PollEvented` of `$std`:
/// - `TryFrom<$std>` through `$ty::from_std`;
/// - `Debug`, named `$ty`, showing each `$field` (what the method `$get`
///   returns, `None` on error) and then the descriptor as `fd`;
/// - `AsRawFd` and `AsFd`, the std socket's descriptor.
macro_rules! socket_traits {
    ($ty:ident, $std:ty, debug: $($field:literal => $get:ident),+ $(,)?) => {
        impl TryFrom<$std> for $ty {
            type Error = std::io::Error;
            fn try_from(s: $std) -> std::io::Result<$ty> {
                $ty::from_std(s)
            }
        }

        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    $(.field($field, &self.$get().ok()))+
                    .field("fd", &std::os::fd::AsRawFd::as_raw_fd(self))
                    .finish()
            }
        }

        impl std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                std::os::fd::AsRawFd::as_raw_fd(self.io.get_ref())
            }
        }

        impl std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                std::os::fd::AsFd::as_fd(self.io.get_ref())
            }
        }
    };
}

pub(crate) use socket_traits;
