//! `perf_runtime::fs`: files and directories on the blocking pool, with
//! tokio's buffering and cancellation semantics.

mod io_support;
mod support;

use io_support::{current, multi};
use perf_runtime::fs::{self, File, OpenOptions};
use perf_runtime::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, SeekFrom};
use std::future::{poll_fn, Future};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::task::Poll;

/// A fresh directory for one test, removed when dropped (also on panic).
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("perf_runtime_io_fs_{}_{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Bytes that differ at every offset of interest (not a repeating pattern
/// shorter than the reads).
fn pattern(len: usize) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect()
}

/// Polls `fut` once and drops it: the shape of a `select!` whose other
/// branch won.
async fn poll_once<F: Future>(fut: F) -> Poll<F::Output> {
    let mut fut = pin!(fut);
    poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await
}

fn round_trip(rt: perf_runtime::runtime::Runtime, dir: &Path) {
    let path = dir.join("data.bin");
    rt.block_on(async {
        // Larger than one blocking-pool operation (2 MiB): several writes
        // and several reads.
        let data = pattern(5 * 1024 * 1024 + 17);
        let mut f = File::create(&path).await.unwrap();
        f.write_all(&data).await.unwrap();
        f.flush().await.unwrap();
        drop(f);

        let mut back = Vec::new();
        File::open(&path)
            .await
            .unwrap()
            .read_to_end(&mut back)
            .await
            .unwrap();
        assert!(back == data, "read_to_end differs from what was written");
        assert!(fs::read(&path).await.unwrap() == data, "fs::read differs");

        fs::write(&path, "text").await.unwrap();
        assert_eq!(fs::read_to_string(&path).await.unwrap(), "text");
    });
}

#[test]
fn write_then_read_round_trip_multi_thread() {
    let dir = Scratch::new("round_trip_mt");
    let p = dir.0.clone();
    support::within(move || round_trip(multi(2), &p));
}

#[test]
fn write_then_read_round_trip_current_thread() {
    let dir = Scratch::new("round_trip_ct");
    let p = dir.0.clone();
    support::within(move || round_trip(current(), &p));
}

#[test]
fn seek_reads_from_the_position_asked_for() {
    let dir = Scratch::new("seek");
    let path = dir.path("f");
    support::within(move || {
        multi(2).block_on(async {
            let data = pattern(4096);
            fs::write(&path, &data).await.unwrap();
            let mut f = File::open(&path).await.unwrap();
            let mut buf = [0u8; 10];

            assert_eq!(f.seek(SeekFrom::Start(100)).await.unwrap(), 100);
            f.read_exact(&mut buf).await.unwrap();
            assert_eq!(buf, data[100..110]);

            assert_eq!(f.seek(SeekFrom::Current(-5)).await.unwrap(), 105);
            f.read_exact(&mut buf).await.unwrap();
            assert_eq!(buf, data[105..115]);

            assert_eq!(f.seek(SeekFrom::End(-10)).await.unwrap(), 4086);
            f.read_exact(&mut buf).await.unwrap();
            assert_eq!(buf, data[4086..]);
            assert_eq!(
                f.read(&mut buf).await.unwrap(),
                0,
                "EOF after the last byte"
            );
        })
    });
}

#[test]
fn cancelled_read_loses_no_byte_and_does_not_move_the_reader() {
    let dir = Scratch::new("cancel");
    let path = dir.path("f");
    support::within(move || {
        multi(2).block_on(async {
            let data = pattern(1000);
            fs::write(&path, &data).await.unwrap();
            let mut f = File::open(&path).await.unwrap();

            // A 64-byte read, abandoned after one poll: it keeps running on
            // the blocking pool (tokio's semantics) and its bytes wait in
            // the file's buffer.
            let mut big = [0u8; 64];
            let consumed = match poll_once(f.read(&mut big)).await {
                Poll::Ready(n) => {
                    let n = n.unwrap();
                    assert_eq!(big[..n], data[..n]);
                    n
                }
                Poll::Pending => 0,
            };

            // The next read continues exactly where the reader was.
            let mut two = [0u8; 2];
            f.read_exact(&mut two).await.unwrap();
            assert_eq!(two, data[consumed..consumed + 2]);
            // The position is the reader's, not the file cursor's (which the
            // abandoned read moved 64 bytes ahead).
            assert_eq!(f.stream_position().await.unwrap(), consumed as u64 + 2);

            let mut rest = Vec::new();
            f.read_to_end(&mut rest).await.unwrap();
            assert!(
                rest == data[consumed + 2..],
                "bytes after the cancelled read differ"
            );
        })
    });
}

#[test]
fn write_after_a_cancelled_read_lands_at_the_reader_position() {
    let dir = Scratch::new("cancel_write");
    let path = dir.path("f");
    support::within(move || {
        multi(2).block_on(async {
            let data = pattern(256);
            fs::write(&path, &data).await.unwrap();
            let mut f = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .await
                .unwrap();
            let mut big = [0u8; 64];
            let consumed = match poll_once(f.read(&mut big)).await {
                Poll::Ready(n) => n.unwrap(),
                Poll::Pending => 0,
            };
            // The read-ahead is discarded: the write goes where the reader
            // is, not 64 bytes further.
            f.write_all(b"XY").await.unwrap();
            f.flush().await.unwrap();
            let mut want = data.clone();
            want[consumed..consumed + 2].copy_from_slice(b"XY");
            assert!(
                fs::read(&path).await.unwrap() == want,
                "the write landed elsewhere"
            );
        })
    });
}

#[test]
fn flush_waits_for_the_write_and_reports_its_error() {
    let dir = Scratch::new("flush_err");
    let path = dir.path("f");
    support::within(move || {
        current().block_on(async {
            fs::write(&path, b"x").await.unwrap();
            // Opened for reading only: the write is accepted into the
            // buffer, then fails on the blocking pool (EBADF).
            let mut f = File::open(&path).await.unwrap();
            assert_eq!(f.write(b"data").await.unwrap(), 4);
            let err = f.flush().await.unwrap_err();
            assert!(err.to_string().contains("write"), "{err}");
            // Reported once: the file is usable for reading afterwards.
            f.flush().await.unwrap();
            let mut s = String::new();
            f.read_to_string(&mut s).await.unwrap();
            assert_eq!(s, "x");
        })
    });
}

#[test]
fn read_at_and_write_at_do_not_move_the_cursor() {
    let dir = Scratch::new("positional");
    let path = dir.path("f");
    support::within(move || {
        multi(2).block_on(async {
            let f = File::create_new(&path).await.unwrap();
            let (res, buf) = f.write_at(b"world".to_vec(), 6).await;
            assert_eq!(res.unwrap(), 5);
            assert_eq!(buf, b"world", "the buffer comes back");
            let (res, _) = f.write_all_at(b"hello ".to_vec(), 0).await;
            res.unwrap();

            let (n, buf) = f.read_at(vec![0; 5], 6).await;
            assert_eq!(n.unwrap(), 5);
            assert_eq!(buf, b"world");
            let (n, _) = f.read_at(vec![0; 8], 11).await;
            assert_eq!(n.unwrap(), 0, "read_at at the end reads nothing");

            // The cursor is still at 0.
            let mut f = f;
            let mut all = String::new();
            f.read_to_string(&mut all).await.unwrap();
            assert_eq!(all, "hello world");

            // A buffered write is visible to a following read_at.
            f.seek(SeekFrom::Start(0)).await.unwrap();
            f.write_all(b"HELLO").await.unwrap();
            let (n, buf) = f.read_at(vec![0; 11], 0).await;
            assert_eq!(n.unwrap(), 11);
            assert_eq!(buf, b"HELLO world");

            // A positional operation abandoned mid-flight does not keep
            // into_std from getting the file.
            let _ = poll_once(f.read_at(vec![0; 4], 0)).await;
            let std = f.into_std().await;
            assert_eq!(std.metadata().unwrap().len(), 11);
        })
    });
}

#[test]
fn metadata_set_len_sync_and_clone() {
    let dir = Scratch::new("metadata");
    let path = dir.path("f");
    support::within(move || {
        multi(2).block_on(async {
            let mut f = File::options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)
                .await
                .unwrap();
            f.write_all(&[7u8; 1000]).await.unwrap();
            // sync_all waits for the buffered write.
            f.sync_all().await.unwrap();
            assert_eq!(f.metadata().await.unwrap().len(), 1000);
            let m = fs::metadata(&path).await.unwrap();
            assert!(m.is_file() && m.len() == 1000);

            f.set_len(10).await.unwrap();
            f.sync_data().await.unwrap();
            assert_eq!(fs::metadata(&path).await.unwrap().len(), 10);

            // A clone shares the cursor.
            let mut g = f.try_clone().await.unwrap();
            g.seek(SeekFrom::Start(3)).await.unwrap();
            let mut rest = Vec::new();
            f.read_to_end(&mut rest).await.unwrap();
            assert_eq!(rest.len(), 7, "f reads from the shared cursor at 3");

            let mut perms = fs::metadata(&path).await.unwrap().permissions();
            perms.set_readonly(true);
            fs::set_permissions(&path, perms).await.unwrap();
            assert!(fs::metadata(&path).await.unwrap().permissions().readonly());
        })
    });
}

#[test]
fn directories_rename_copy_link_and_remove() {
    let dir = Scratch::new("dirs");
    let root = dir.0.clone();
    support::within(move || {
        multi(2).block_on(async {
            let d = root.join("d");
            fs::create_dir(&d).await.unwrap();
            fs::create_dir_all(d.join("sub/deeper")).await.unwrap();
            // Enough entries for several chunks of the blocking reader.
            for i in 0..70 {
                fs::write(d.join(format!("f{i:02}")), [i as u8])
                    .await
                    .unwrap();
            }

            let mut rd = fs::read_dir(&d).await.unwrap();
            let mut names = Vec::new();
            while let Some(e) = rd.next_entry().await.unwrap() {
                let name = e.file_name().into_string().unwrap();
                assert_eq!(e.path(), d.join(&name));
                let is_dir = e.file_type().await.unwrap().is_dir();
                assert_eq!(is_dir, name == "sub", "{name}");
                assert_eq!(e.metadata().await.unwrap().is_dir(), is_dir);
                names.push(name);
            }
            assert!(rd.next_entry().await.unwrap().is_none(), "stays at the end");
            names.sort();
            let mut want: Vec<String> = (0..70).map(|i| format!("f{i:02}")).collect();
            want.push("sub".into());
            assert_eq!(names, want);

            fs::rename(d.join("f00"), d.join("renamed")).await.unwrap();
            assert!(!fs::try_exists(d.join("f00")).await.unwrap());
            assert_eq!(fs::read(d.join("renamed")).await.unwrap(), [0]);

            assert_eq!(fs::copy(d.join("f01"), d.join("copy")).await.unwrap(), 1);
            assert_eq!(fs::read(d.join("copy")).await.unwrap(), [1]);
            fs::hard_link(d.join("f02"), d.join("hard")).await.unwrap();
            assert_eq!(fs::read(d.join("hard")).await.unwrap(), [2]);
            fs::symlink(d.join("f03"), d.join("soft")).await.unwrap();
            assert_eq!(fs::read_link(d.join("soft")).await.unwrap(), d.join("f03"));
            assert!(fs::symlink_metadata(d.join("soft"))
                .await
                .unwrap()
                .is_symlink());
            assert_eq!(
                fs::canonicalize(d.join("sub/../soft")).await.unwrap(),
                fs::canonicalize(d.join("f03")).await.unwrap()
            );

            fs::remove_file(d.join("copy")).await.unwrap();
            assert!(!fs::try_exists(d.join("copy")).await.unwrap());
            fs::remove_dir(d.join("sub/deeper")).await.unwrap();
            let not_empty = fs::remove_dir(&d).await.unwrap_err();
            assert_eq!(not_empty.kind(), ErrorKind::DirectoryNotEmpty);
            fs::remove_dir_all(&d).await.unwrap();
            assert!(!fs::try_exists(&d).await.unwrap());
        })
    });
}

#[test]
fn a_missing_path_is_not_found_and_named() {
    let dir = Scratch::new("missing");
    let missing = dir.path("no-such-file");
    support::within(move || {
        current().block_on(async {
            let shown = missing.display().to_string();
            let check = |what: &str, e: std::io::Error| {
                assert_eq!(e.kind(), ErrorKind::NotFound, "{what}: {e}");
                assert!(
                    e.to_string().contains(&shown),
                    "{what} does not name the path: {e}"
                );
            };
            check("File::open", File::open(&missing).await.unwrap_err());
            check("fs::read", fs::read(&missing).await.unwrap_err());
            check(
                "read_to_string",
                fs::read_to_string(&missing).await.unwrap_err(),
            );
            check("metadata", fs::metadata(&missing).await.unwrap_err());
            check("read_dir", fs::read_dir(&missing).await.unwrap_err());
            check("remove_file", fs::remove_file(&missing).await.unwrap_err());
            check(
                "rename",
                fs::rename(&missing, dir_of(&missing).join("x"))
                    .await
                    .unwrap_err(),
            );
            check(
                "canonicalize",
                fs::canonicalize(&missing).await.unwrap_err(),
            );
            assert!(!fs::try_exists(&missing).await.unwrap());

            let open_err = File::open(&missing).await.unwrap_err();
            assert!(open_err.to_string().contains("for reading"), "{open_err}");

            fs::write(&missing, [0xff, 0xfe]).await.unwrap();
            let e = File::create_new(&missing).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::AlreadyExists);
            let e = fs::read_to_string(&missing).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidData, "not UTF-8: {e}");
        })
    });
}

fn dir_of(p: &Path) -> &Path {
    p.parent().unwrap()
}

#[test]
fn an_unflushed_write_lands_even_if_the_runtime_is_dropped() {
    let dir = Scratch::new("unflushed");
    let path = dir.path("f");
    let p = path.clone();
    let data = pattern(3 * 1024 * 1024);
    let want = data.clone();
    support::within(move || {
        let rt = multi(2);
        rt.block_on(async {
            let mut f = File::create(&p).await.unwrap();
            // `write_all` returns once the last chunk is buffered; the
            // file is dropped without a flush, and then the runtime.
            f.write_all(&data).await.unwrap();
        });
        drop(rt);
    });
    assert!(
        std::fs::read(&path).unwrap() == want,
        "the buffered write was lost"
    );
}

#[test]
fn the_fs_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync + 'static>() {}
    fn send_future<F: Future + Send>(_: &F) {}
    send_sync::<File>();
    send_sync::<OpenOptions>();
    send_sync::<fs::ReadDir>();
    send_sync::<fs::DirEntry>();
    // The futures of the async methods can be spawned.
    let rt = current();
    let _enter = rt.enter();
    let f = File::from_std(tempfile_std());
    send_future(&f.read_at(Vec::new(), 0));
    send_future(&f.write_at(Vec::new(), 0));
    send_future(&f.sync_all());
    send_future(&fs::read("x"));
    send_future(&fs::read_dir("x"));
}

/// An anonymous std file (unlinked at once).
fn tempfile_std() -> std::fs::File {
    let p = std::env::temp_dir().join(format!("perf_runtime_io_fs_anon_{}", std::process::id()));
    let f = std::fs::File::create(&p).unwrap();
    std::fs::remove_file(&p).unwrap();
    f
}

/// Every combination of read/write/append/truncate/create/create_new, on a
/// file that exists and on one that does not, opens (or fails, with the
/// same kind) exactly as std does — on io_uring the flags are built by
/// perf_runtime for OPENAT, so this pins them to std's rules.
#[test]
fn open_options_match_std_for_every_combination() {
    support::within(|| {
        let dir = io_support::TempDir::new("open-matrix");
        multi(1).block_on(async {
            for bits in 0u32..64 {
                let flag = |i: u32| bits & (1 << i) != 0;
                for exists in [false, true] {
                    let ours_path = dir.path(&format!("ours-{bits}-{exists}"));
                    let std_path = dir.path(&format!("std-{bits}-{exists}"));
                    if exists {
                        std::fs::write(&ours_path, b"abc").unwrap();
                        std::fs::write(&std_path, b"abc").unwrap();
                    }
                    let ours = OpenOptions::new()
                        .read(flag(0))
                        .write(flag(1))
                        .append(flag(2))
                        .truncate(flag(3))
                        .create(flag(4))
                        .create_new(flag(5))
                        .open(&ours_path)
                        .await;
                    let theirs = std::fs::OpenOptions::new()
                        .read(flag(0))
                        .write(flag(1))
                        .append(flag(2))
                        .truncate(flag(3))
                        .create(flag(4))
                        .create_new(flag(5))
                        .open(&std_path);
                    let case = format!("bits {bits:06b}, file exists: {exists}");
                    match (&ours, &theirs) {
                        (Ok(_), Ok(_)) => {}
                        (Err(a), Err(b)) => assert_eq!(a.kind(), b.kind(), "{case}: {a} vs {b}"),
                        _ => panic!(
                            "{case}: ours {:?}, std {:?}",
                            ours.map(drop),
                            theirs.map(drop)
                        ),
                    }
                    let len = |p: &Path| std::fs::metadata(p).map(|m| m.len()).ok();
                    assert_eq!(len(&ours_path), len(&std_path), "{case}: file after open");
                }
            }
        });
    });
}
