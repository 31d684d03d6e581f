//! Child processes, on whichever backend `PERF_RUNTIME_IO` selects (and,
//! with `PERF_RUNTIME_PROCESS_EXIT=sigchld`, with SIGCHLD instead of
//! pidfds).

mod io_support;
mod support;

use io_support::*;
use perf_runtime::io::{AsyncReadExt, AsyncWriteExt};
use perf_runtime::process::Command;
use std::io::ErrorKind;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::Duration;

/// Whether `pid` is a child of this process that was not reaped (running,
/// or a zombie), read from `/proc/<pid>/stat`.
fn is_our_child(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false; // gone: reaped
    };
    // "pid (comm) state ppid ...": comm may hold spaces, so split after ')'.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let ppid: u32 = rest.split(' ').nth(1).unwrap().parse().unwrap();
    ppid == std::process::id()
}

/// Waits (bounded by `support::within`) until `pid` is no longer an
/// unreaped child of ours: reaping a dropped child happens on another task.
async fn until_reaped(pid: u32) {
    while is_our_child(pid) {
        perf_runtime::time::sleep(Duration::from_millis(2)).await;
    }
}

#[test]
fn echo_through_cat() {
    support::within(|| {
        multi(2).block_on(async {
            let mut cat = Command::new("cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let pid = cat.id().unwrap();
            let mut stdin = cat.stdin.take().unwrap();
            let mut stdout = cat.stdout.take().unwrap();
            // Larger than a pipe buffer (64 KiB): writer and reader must run
            // together or both block.
            let data: Vec<u8> = (0..1024 * 1024u32).map(|i| (i % 253) as u8).collect();
            let expect = data.clone();
            let writer = perf_runtime::spawn(async move {
                stdin.write_all(&data).await.unwrap();
                // Dropping stdin closes the pipe: `cat` reads end of file.
            });
            let mut got = Vec::new();
            stdout.read_to_end(&mut got).await.unwrap();
            writer.await.unwrap();
            assert_eq!(got.len(), expect.len());
            assert!(got == expect, "cat echoed different bytes");
            let status = cat.wait().await.unwrap();
            assert!(status.success(), "{status}");
            assert_eq!(cat.id(), None, "a reaped child has no id");
            assert!(!is_our_child(pid), "cat left a zombie");
        })
    });
}

#[test]
fn output_collects_stdout_stderr_and_the_exit_code() {
    support::within(|| {
        multi(2).block_on(async {
            let out = Command::new("sh")
                .arg("-c")
                .arg("echo out; echo err >&2; exit 3")
                .output()
                .await
                .unwrap();
            assert_eq!(out.stdout, b"out\n");
            assert_eq!(out.stderr, b"err\n");
            assert_eq!(out.status.code(), Some(3));
            // More output than a pipe holds, on both streams at once.
            let out = Command::new("sh")
                .arg("-c")
                .arg("head -c 300000 /dev/zero; head -c 200000 /dev/zero >&2")
                .output()
                .await
                .unwrap();
            assert!(out.status.success());
            assert_eq!((out.stdout.len(), out.stderr.len()), (300_000, 200_000));
        })
    });
}

#[test]
fn status_codes_and_signals() {
    support::within(|| {
        current().block_on(async {
            let st = Command::new("sh")
                .args(["-c", "exit 0"])
                .status()
                .await
                .unwrap();
            assert!(st.success());
            let st = Command::new("sh")
                .args(["-c", "exit 7"])
                .status()
                .await
                .unwrap();
            assert_eq!(st.code(), Some(7));
            let st = Command::new("sh")
                .args(["-c", "kill -TERM $$"])
                .status()
                .await
                .unwrap();
            assert_eq!((st.code(), st.signal()), (None, Some(libc::SIGTERM)));
            // A piped stdin is closed by `status`, so `cat` ends.
            let st = Command::new("cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .status()
                .await
                .unwrap();
            assert!(st.success());
        })
    });
}

#[test]
fn kill_a_long_sleep() {
    support::within(|| {
        multi(2).block_on(async {
            let mut child = Command::new("sleep").arg("100").spawn().unwrap();
            let pid = child.id().unwrap();
            assert!(child.try_wait().unwrap().is_none(), "sleep 100 is running");
            child.kill().await.unwrap();
            let st = child.wait().await.unwrap();
            assert_eq!(st.signal(), Some(libc::SIGKILL));
            assert!(!is_our_child(pid), "the killed child was not reaped");
            let err = child.start_kill().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        })
    });
}

#[test]
fn a_cancelled_wait_loses_nothing() {
    support::within(|| {
        multi(2).block_on(async {
            let mut child = Command::new("sleep").arg("100").spawn().unwrap();
            let pid = child.id().unwrap();
            let r = perf_runtime::time::timeout(Duration::from_millis(10), child.wait()).await;
            assert!(r.is_err(), "sleep 100 cannot have exited");
            child.start_kill().unwrap();
            assert_eq!(child.wait().await.unwrap().signal(), Some(libc::SIGKILL));
            assert_eq!(
                child.try_wait().unwrap().unwrap().signal(),
                Some(libc::SIGKILL)
            );
            assert!(!is_our_child(pid));
        })
    });
}

#[test]
fn many_children_waited_concurrently() {
    support::within(|| {
        multi(2).block_on(async {
            let mut tasks = Vec::new();
            for code in 0..24 {
                tasks.push(perf_runtime::spawn(async move {
                    let mut child = Command::new("sh")
                        .arg("-c")
                        .arg(format!("exit {code}"))
                        .spawn()
                        .unwrap();
                    let pid = child.id().unwrap();
                    let st = child.wait().await.unwrap();
                    (code, st.code(), pid)
                }));
            }
            for t in tasks {
                let (code, got, pid) = t.await.unwrap();
                assert_eq!(got, Some(code));
                assert!(!is_our_child(pid));
            }
        })
    });
}

#[test]
fn dropped_children_are_reaped_not_left_as_zombies() {
    support::within(|| {
        multi(2).block_on(async {
            // kill_on_drop: dropping kills it, and it is reaped.
            let child = Command::new("sleep")
                .arg("100")
                .kill_on_drop(true)
                .spawn()
                .unwrap();
            let killed = child.id().unwrap();
            drop(child);
            // Without kill_on_drop: it runs to its end, then is reaped.
            let child = Command::new("sh").args(["-c", "exit 0"]).spawn().unwrap();
            let finished = child.id().unwrap();
            drop(child);
            until_reaped(killed).await;
            until_reaped(finished).await;
        })
    });
}

#[test]
fn one_childs_stdout_feeds_the_next_ones_stdin() {
    support::within(|| {
        multi(2).block_on(async {
            let mut first = Command::new("sh")
                .args(["-c", "echo piped along"])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let stdout: Stdio = first.stdout.take().unwrap().try_into().unwrap();
            let out = Command::new("cat").stdin(stdout).output().await.unwrap();
            assert_eq!(out.stdout, b"piped along\n");
            assert!(first.wait().await.unwrap().success());
        })
    });
}

#[test]
fn a_missing_program_is_not_found_and_named() {
    support::within(|| {
        multi(1).block_on(async {
            let err = Command::new("perf-runtime-no-such-program")
                .spawn()
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
            assert!(
                err.to_string().contains("perf-runtime-no-such-program"),
                "{err}"
            );
            let err = Command::new("/nonexistent/dir/prog")
                .output()
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        })
    });
}

#[test]
fn spawning_outside_a_runtime_is_an_error_and_starts_nothing() {
    let err = Command::new("sh")
        .args(["-c", "exit 0"])
        .spawn()
        .unwrap_err();
    assert!(err.to_string().contains("runtime"), "{err}");
}

/// Children of this process whose command line has `marker` as an
/// argument, from `/proc/*/stat` and `/proc/*/cmdline`.
fn children_with_arg(marker: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        if cmdline.split(|&b| b == 0).any(|a| a == marker.as_bytes()) && is_our_child(pid) {
            found.push(pid);
        }
    }
    found
}

#[test]
fn spawning_on_a_runtime_without_io_is_an_error_and_leaves_no_child() {
    support::within(|| {
        let rt = perf_runtime::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            let marker = "987.654";
            let err = Command::new("sleep").arg(marker).spawn().unwrap_err();
            assert!(err.to_string().contains("enable_io"), "{err}");
            assert_eq!(
                children_with_arg(marker),
                Vec::<u32>::new(),
                "the child was left running"
            );
        })
    });
}
