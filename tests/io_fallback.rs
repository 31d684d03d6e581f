//! The io_uring → epoll fallback, proven for real: a child process installs
//! a seccomp filter (the mechanism Docker's default profile uses) that makes
//! `io_uring_setup` fail with EPERM, then builds a default runtime and
//! serves an echo round trip; the runtime must say it uses epoll, and
//! forcing io_uring must fail with an error that names the reason.

mod io_support;
mod support;

use perf_runtime::io::{AsyncReadExt, AsyncWriteExt};
use perf_runtime::net::{TcpListener, TcpStream};
use perf_runtime::runtime::{Builder, IoBackend, IoDriver, Runtime};

/// One echo round trip over loopback on `rt`.
fn echo_once(rt: &Runtime) {
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = perf_runtime::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(&buf).await.unwrap();
        });
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        c.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        server.await.unwrap();
    });
}

/// Installs a seccomp filter that fails `io_uring_setup` with EPERM and
/// allows everything else (x86_64 and aarch64; other architectures are
/// killed by nothing and simply allowed).
fn block_io_uring_setup() {
    const BPF_LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const BPF_JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const BPF_RET_K: u16 = 0x06; // BPF_RET | BPF_K
    const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
    const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
    const NR_IO_URING_SETUP: u32 = 425; // the same on x86_64 and aarch64
    let stmt = |code: u16, k: u32| libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    };
    let jump = |code: u16, k: u32, jt: u8, jf: u8| libc::sock_filter { code, jt, jf, k };
    let filter = [
        // Load the syscall number (offset 0 of struct seccomp_data).
        stmt(BPF_LD_W_ABS, 0),
        jump(BPF_JEQ_K, NR_IO_URING_SETUP, 0, 1),
        stmt(BPF_RET_K, SECCOMP_RET_ERRNO | libc::EPERM as u32),
        stmt(BPF_RET_K, SECCOMP_RET_ALLOW),
    ];
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: prctl with documented arguments; `prog` and `filter` outlive
    // the call (the kernel copies the program).
    unsafe {
        assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
        assert_eq!(
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &prog as *const libc::sock_fprog
            ),
            0,
            "installing the seccomp filter failed: {}",
            std::io::Error::last_os_error()
        );
    }
}

#[test]
#[ignore = "run in a child process by seccomp_eperm_falls_back_to_epoll"]
fn probe_seccomp() {
    if !support::in_child_probe() {
        return;
    }
    block_io_uring_setup();
    // The filter works: a raw io_uring_setup is refused with EPERM.
    let mut params = [0u8; 120];
    // SAFETY: io_uring_setup reads and writes a 120-byte io_uring_params.
    let r = unsafe { libc::syscall(libc::SYS_io_uring_setup, 8, params.as_mut_ptr()) };
    let err = std::io::Error::last_os_error();
    assert!(
        r < 0 && err.raw_os_error() == Some(libc::EPERM),
        "{r} {err}"
    );
    // Forcing io_uring is a build error that names the reason.
    let forced = Builder::new_multi_thread()
        .worker_threads(2)
        .io_driver(IoDriver::Uring)
        .build();
    let msg = match forced {
        Ok(_) => panic!("a forced io_uring driver built under a filter that blocks it"),
        Err(e) => e.to_string(),
    };
    assert!(
        msg.contains("io_uring_setup") && msg.contains("seccomp"),
        "{msg}"
    );
    // The default runtime falls back and serves.
    let rt = Runtime::new().unwrap();
    assert_eq!(rt.handle().io_backend(), Some(IoBackend::Epoll));
    echo_once(&rt);
    let ct = Builder::new_current_thread().enable_all().build().unwrap();
    assert_eq!(ct.handle().io_backend(), Some(IoBackend::Epoll));
    echo_once(&ct);
    support::child_result("epoll served");
}

#[test]
fn seccomp_eperm_falls_back_to_epoll() {
    let got = support::run_child_probe("probe_seccomp", &[("PERF_RUNTIME_IO", None)]);
    assert_eq!(got, "epoll served");
}

#[test]
#[ignore = "run in a child process by memlock_zero_still_serves"]
fn probe_memlock_zero() {
    if !support::in_child_probe() {
        return;
    }
    let lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit with a valid rlimit.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim) }, 0);
    // Since Linux 5.11 ring memory is not charged to RLIMIT_MEMLOCK, so
    // io_uring may still work; on older kernels ring setup fails with
    // ENOMEM and the runtime must fall back. Either way it serves.
    let rt = Runtime::new().unwrap();
    let backend = rt.handle().io_backend().unwrap();
    echo_once(&rt);
    support::child_result(&format!("{backend} served"));
}

#[test]
fn memlock_zero_still_serves() {
    let got = support::run_child_probe("probe_memlock_zero", &[("PERF_RUNTIME_IO", None)]);
    assert!(got == "io_uring served" || got == "epoll served", "{got}");
}

#[test]
fn a_bad_io_variable_is_a_build_error_naming_it() {
    let got = support::run_child_probe("probe_bad_env", &[("PERF_RUNTIME_IO", Some("kqueue"))]);
    assert_eq!(got, "refused");
}

#[test]
#[ignore = "run in a child process by a_bad_io_variable_is_a_build_error_naming_it"]
fn probe_bad_env() {
    if !support::in_child_probe() {
        return;
    }
    let err = match Builder::new_multi_thread().enable_all().build() {
        Ok(_) => panic!("built with PERF_RUNTIME_IO=kqueue"),
        Err(e) => e,
    };
    let msg = err.to_string();
    assert!(
        msg.contains("PERF_RUNTIME_IO") && msg.contains("kqueue") && msg.contains("epoll"),
        "{msg}"
    );
    support::child_result("refused");
}

#[test]
fn io_disabled_runtime_says_how_to_enable_it() {
    let rt = Builder::new_current_thread().build().unwrap();
    assert_eq!(rt.handle().io_backend(), None);
    let err = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap_err();
    assert!(err.to_string().contains("enable_io"), "{err}");
    let err = std::net::TcpListener::bind("127.0.0.1:0")
        .map(|l| {
            let _g = rt.enter();
            TcpListener::from_std(l)
        })
        .unwrap()
        .unwrap_err();
    assert!(err.to_string().contains("enable_io"), "{err}");
    // Outside any runtime.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let err = TcpListener::from_std(l).unwrap_err();
    assert!(err.to_string().contains("no perf_runtime runtime"), "{err}");
}
