//! `ToSocketAddrs` and `lookup_host`: addresses given as values are used at
//! once; names are resolved on the blocking pool (getaddrinfo blocks).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Values that name one or more socket addresses, as in tokio: socket
/// addresses, `(ip, port)` pairs, and `"host:port"` strings (resolved on the
/// blocking pool when they are not literal addresses).
///
/// This trait is sealed: it cannot be implemented outside perf_runtime.
pub trait ToSocketAddrs: sealed::ToSocketAddrsPriv {}

pub(crate) mod sealed {
    use super::*;

    /// What an address value turns into.
    pub enum Resolved {
        /// Addresses known without a lookup.
        Ready(Vec<SocketAddr>),
        /// A host and port to resolve on the blocking pool.
        Lookup(String, u16),
        /// A `"host:port"` string to resolve on the blocking pool.
        LookupStr(String),
    }

    pub trait ToSocketAddrsPriv {
        fn resolve(&self) -> io::Result<Resolved>;
    }
}

use sealed::{Resolved, ToSocketAddrsPriv};

macro_rules! ready_addr {
    ($($t:ty),*) => {$(
        impl ToSocketAddrs for $t {}
        impl ToSocketAddrsPriv for $t {
            fn resolve(&self) -> io::Result<Resolved> {
                Ok(Resolved::Ready(vec![SocketAddr::from(*self)]))
            }
        }
    )*};
}

ready_addr!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16),
    ([u8; 4], u16),
    ([u16; 8], u16)
);

impl ToSocketAddrs for &[SocketAddr] {}
impl ToSocketAddrsPriv for &[SocketAddr] {
    fn resolve(&self) -> io::Result<Resolved> {
        Ok(Resolved::Ready(self.to_vec()))
    }
}

impl ToSocketAddrs for str {}
impl ToSocketAddrsPriv for str {
    fn resolve(&self) -> io::Result<Resolved> {
        match self.parse::<SocketAddr>() {
            Ok(a) => Ok(Resolved::Ready(vec![a])),
            Err(_) => Ok(Resolved::LookupStr(self.to_owned())),
        }
    }
}

impl ToSocketAddrs for String {}
impl ToSocketAddrsPriv for String {
    fn resolve(&self) -> io::Result<Resolved> {
        self.as_str().resolve()
    }
}

impl ToSocketAddrs for (&str, u16) {}
impl ToSocketAddrsPriv for (&str, u16) {
    fn resolve(&self) -> io::Result<Resolved> {
        match self.0.parse::<IpAddr>() {
            Ok(ip) => Ok(Resolved::Ready(vec![SocketAddr::new(ip, self.1)])),
            Err(_) => Ok(Resolved::Lookup(self.0.to_owned(), self.1)),
        }
    }
}

impl ToSocketAddrs for (String, u16) {}
impl ToSocketAddrsPriv for (String, u16) {
    fn resolve(&self) -> io::Result<Resolved> {
        (self.0.as_str(), self.1).resolve()
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}
impl<T: ToSocketAddrsPriv + ?Sized> ToSocketAddrsPriv for &T {
    fn resolve(&self) -> io::Result<Resolved> {
        (**self).resolve()
    }
}

/// Resolves `addr` into its socket addresses (name lookups run on the
/// blocking pool).
pub(crate) async fn to_socket_addrs<A: ToSocketAddrs>(addr: A) -> io::Result<Vec<SocketAddr>> {
    match addr.resolve()? {
        Resolved::Ready(v) => Ok(v),
        Resolved::Lookup(host, port) => {
            blocking_lookup(move || {
                std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
                    .map(Iterator::collect)
            })
            .await
        }
        Resolved::LookupStr(s) => {
            blocking_lookup(move || {
                std::net::ToSocketAddrs::to_socket_addrs(s.as_str()).map(Iterator::collect)
            })
            .await
        }
    }
}

async fn blocking_lookup(
    f: impl FnOnce() -> io::Result<Vec<SocketAddr>> + Send + 'static,
) -> io::Result<Vec<SocketAddr>> {
    crate::task::spawn_blocking(f)
        .await
        .map_err(|e| io::Error::other(format!("address lookup did not complete: {e}")))?
}

/// Runs `f` on each address of `addr` in turn until one succeeds; the last
/// error otherwise.
pub(crate) async fn each_addr<A, T, F, Fut>(addr: A, mut f: F) -> io::Result<T>
where
    A: ToSocketAddrs,
    F: FnMut(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = io::Result<T>>,
{
    let addrs = to_socket_addrs(addr).await?;
    let mut last = None;
    for a in addrs {
        match f(a).await {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to no socket addresses",
        )
    }))
}

/// Resolves a host name (`"host:port"`, or any [`ToSocketAddrs`]) into
/// socket addresses, as `tokio::net::lookup_host`.
///
/// ```
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let addrs: Vec<_> = perf_runtime::net::lookup_host("127.0.0.1:80").await.unwrap().collect();
/// assert_eq!(addrs, ["127.0.0.1:80".parse().unwrap()]);
/// # });
/// ```
pub async fn lookup_host<T: ToSocketAddrs>(
    host: T,
) -> io::Result<impl Iterator<Item = SocketAddr>> {
    Ok(to_socket_addrs(host).await?.into_iter())
}
