//! `SocketAddr` of a Unix-domain socket, and the raw `sockaddr_un` a
//! non-blocking `connect` needs (std only connects blocking).

use std::fmt;
use std::io;
use std::mem;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The address of a Unix-domain socket (as `tokio::net::unix::SocketAddr`):
/// a path, or unnamed (an unbound socket, or one end of a `pair()`).
#[derive(Clone)]
pub struct SocketAddr(pub(crate) std::os::unix::net::SocketAddr);

impl SocketAddr {
    /// Whether the address is unnamed (no path).
    pub fn is_unnamed(&self) -> bool {
        self.0.is_unnamed()
    }

    /// The path of the socket, if it has one.
    pub fn as_pathname(&self) -> Option<&Path> {
        self.0.as_pathname()
    }

    /// The name in Linux's abstract namespace, if the address is one.
    pub fn as_abstract_name(&self) -> Option<&[u8]> {
        use std::os::linux::net::SocketAddrExt;
        self.0.as_abstract_name()
    }
}

impl fmt::Debug for SocketAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<std::os::unix::net::SocketAddr> for SocketAddr {
    fn from(a: std::os::unix::net::SocketAddr) -> SocketAddr {
        SocketAddr(a)
    }
}

impl From<SocketAddr> for std::os::unix::net::SocketAddr {
    fn from(a: SocketAddr) -> std::os::unix::net::SocketAddr {
        a.0
    }
}

/// The abstract-namespace name `path` stands for, if it starts with a NUL
/// byte (Linux; tokio reads such paths the same way).
pub(super) fn abstract_name(path: &Path) -> Option<&[u8]> {
    let bytes = path.as_os_str().as_bytes();
    (bytes.first() == Some(&0)).then(|| &bytes[1..])
}

/// `path` as a std address when it names an abstract socket (std's
/// path-taking calls reject the leading NUL), else `None`.
pub(super) fn abstract_addr(path: &Path) -> io::Result<Option<std::os::unix::net::SocketAddr>> {
    use std::os::linux::net::SocketAddrExt;
    abstract_name(path)
        .map(std::os::unix::net::SocketAddr::from_abstract_name)
        .transpose()
}

/// `path` as a `sockaddr_un` and its length; `InvalidInput` naming the
/// path when it cannot be one.
pub(super) fn sockaddr_un(path: &Path) -> io::Result<(libc::sockaddr_un, libc::socklen_t)> {
    // SAFETY: all-zero is a valid sockaddr_un.
    let mut addr: libc::sockaddr_un = unsafe { mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_bytes();
    let is_abstract = abstract_name(path).is_some();
    if !is_abstract && bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("the Unix socket path {path:?} contains a NUL byte: remove it"),
        ));
    }
    // A path keeps one byte for its terminating NUL; an abstract name
    // (length-delimited) does not need one.
    let room = addr.sun_path.len() - usize::from(!is_abstract);
    if bytes.len() > room {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "the Unix socket path {path:?} is {} bytes, longer than the {room} the kernel \
                 accepts: use a shorter (e.g. relative) path",
                bytes.len(),
            ),
        ));
    }
    for (dst, src) in addr.sun_path.iter_mut().zip(bytes) {
        *dst = *src as libc::c_char;
    }
    let base = mem::offset_of!(libc::sockaddr_un, sun_path);
    // An empty path would be an unnamed address: let the kernel reject it.
    let len = base + bytes.len() + usize::from(!is_abstract && !bytes.is_empty());
    Ok((addr, len as libc::socklen_t))
}

/// `e` with a sentence naming the operation and the path, keeping its kind.
/// Errors perf_runtime wrote itself already name the path and pass as they
/// are.
pub(super) fn with_path(e: io::Error, what: &str, path: &Path) -> io::Error {
    if e.raw_os_error().is_none() {
        return e;
    }
    let hint = match e.kind() {
        io::ErrorKind::NotFound => {
            ": check that the path is right and that a socket is bound there"
        }
        io::ErrorKind::ConnectionRefused => {
            ": the file exists but nothing listens on it (a stale socket file?)"
        }
        io::ErrorKind::AddrInUse => {
            ": a file already exists there; remove it (a stale socket from an earlier run?) or \
             choose another path"
        }
        io::ErrorKind::PermissionDenied => {
            ": check the permissions of the file and its directories"
        }
        _ => "",
    };
    io::Error::new(e.kind(), format!("{what} {path:?}: {e}{hint}"))
}
