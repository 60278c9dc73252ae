//! The reader matrix (README, "Reader matrix"): every kind of archive zipper writes, read by every reader
//! the tests install, file readers from the archive file and sequential readers from a pipe. Each cell is
//! asserted: a reader reads every entry byte-exact (names, sizes, CRC-32s), or, where the matrix says it
//! cannot read a kind by its nature, it fails. The heavy kinds (ZIP64 by count and by offset) are tests of
//! their own in the heavy group.
//!
//! Readers beyond the five of [`crate::util`]: Go's archive/zip, The Unarchiver's `lsar`, Node's yauzl and
//! unzipper, Python's stream-unzip, Java's `ZipInputStream`, Apache commons-compress's
//! `ZipArchiveInputStream`, and `bsdtar` reading a pipe (installed by `tests/run.sh`).

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use zipper::core::layout::{Method, PlanOptions};

use crate::util::{parse_7z_slt, parse_listing, sorted, tools_dir, Expected};
use crate::zip_tools::{directory, generated_body, mem_file, write_archive_with, Item, MTIME};

/// What the server writes by default: small files without CRC in inline CRC mode.
const OPTIONS: PlanOptions = PlanOptions {
    inline_crc_max_bytes: 1 << 20,
};

/// The longest one reader may take on one archive.
const LIMIT: Duration = Duration::from_secs(240);

/// The kinds of archive, the matrix's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Store,
    Deflate,
    NoSizes,
    NoCrcSmall,
    NoCrcLarge,
    Utf8Names,
    EmptyFiles,
    Directories,
    Zip64Count,
    Zip64Offset,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Store => "store",
            Kind::Deflate => "deflate",
            Kind::NoSizes => "no sizes",
            Kind::NoCrcSmall => "no CRCs, ≤ 1 MiB",
            Kind::NoCrcLarge => "no CRCs, > 1 MiB",
            Kind::Utf8Names => "UTF-8 names",
            Kind::EmptyFiles => "empty files",
            Kind::Directories => "directories",
            Kind::Zip64Count => "ZIP64 by count",
            Kind::Zip64Offset => "ZIP64 by offset",
        }
    }

    fn items(self) -> Vec<Item> {
        let bytes = |n: usize, seed: u32| -> Vec<u8> {
            (0..n as u32)
                .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 24) as u8)
                .collect()
        };
        let text = b"the quick brown fox jumps over the lazy dog\n".repeat(2_000);
        match self {
            Kind::Store => vec![
                mem_file("a.txt", b"hello, world\n", true, true, Method::Store),
                mem_file("b.bin", &bytes(70_000, 1), true, true, Method::Store),
                mem_file("c.bin", &bytes(2 << 20, 2), true, true, Method::Store),
            ],
            Kind::Deflate => vec![
                mem_file("text.txt", &text, true, false, Method::Deflate),
                mem_file("crc.txt", &text[..5000], true, true, Method::Deflate),
                mem_file("unknown.txt", &text[..777], false, false, Method::Deflate),
            ],
            Kind::NoSizes => vec![
                mem_file(
                    "streamed.bin",
                    &bytes(50_000, 3),
                    false,
                    false,
                    Method::Store,
                ),
                mem_file("after.txt", b"after", true, true, Method::Store),
            ],
            Kind::NoCrcSmall => vec![
                mem_file("one.bin", &bytes(1, 4), true, false, Method::Store),
                mem_file("small.bin", &bytes(70_000, 5), true, false, Method::Store),
                mem_file("mib.bin", &bytes(1 << 20, 6), true, false, Method::Store),
            ],
            Kind::NoCrcLarge => vec![
                mem_file(
                    "large.bin",
                    &bytes((1 << 20) + 1, 7),
                    true,
                    false,
                    Method::Store,
                ),
                mem_file("after.txt", b"after", true, true, Method::Store),
            ],
            Kind::Utf8Names => vec![
                mem_file("été/日本語.txt", b"konnichiwa\n", true, true, Method::Store),
                mem_file("café ☕.bin", &bytes(3000, 8), true, false, Method::Store),
                mem_file("emoji/🎉.txt", b"party", true, true, Method::Store),
            ],
            Kind::EmptyFiles => vec![
                mem_file("empty.txt", b"", true, false, Method::Store),
                mem_file("empty-crc.txt", b"", true, true, Method::Store),
                mem_file("empty.deflated", b"", true, false, Method::Deflate),
                mem_file("last.txt", b"x", true, true, Method::Store),
            ],
            Kind::Directories => vec![
                directory("photos/"),
                directory("photos/2019/"),
                mem_file("photos/2019/a.txt", b"a", true, true, Method::Store),
                directory("empty-folder/"),
            ],
            Kind::Zip64Count => (0..70_000u32)
                .map(|i| {
                    let data = format!("file {i}\n");
                    // Half without CRC: inline CRC mode at this count too.
                    mem_file(
                        &format!("d{}/f{i}.txt", i % 50),
                        data.as_bytes(),
                        true,
                        i % 2 == 0,
                        Method::Store,
                    )
                })
                .collect(),
            Kind::Zip64Offset => {
                // Two entries under 4 GiB each (no ZIP64 sizes): the entries after them start past 4 GiB.
                let big: u64 = (2 << 30) + (64 << 20);
                let mut items: Vec<Item> = (0..2)
                    .map(|i| {
                        let (body, crc) = generated_body(big);
                        let mut body = Some(body);
                        let name = format!("big{i}.bin");
                        Item {
                            spec: zipper::core::layout::EntrySpec {
                                name: name.clone(),
                                modified_unix: MTIME,
                                kind: zipper::core::layout::EntryKind::File {
                                    size: Some(big),
                                    crc32: Some(crc),
                                    method: Method::Store,
                                },
                            },
                            body: Some(Box::new(move || body.take().expect("body once"))),
                            expected: Expected {
                                name,
                                size: big,
                                crc32: crc,
                            },
                        }
                    })
                    .collect();
                items.push(mem_file(
                    "after/known.txt",
                    b"after, crc known",
                    true,
                    true,
                    Method::Store,
                ));
                items.push(mem_file(
                    "after/no-crc.txt",
                    b"after, no crc",
                    true,
                    false,
                    Method::Store,
                ));
                items.push(directory("after/dir/"));
                items
            }
        }
    }
}

/// A reader, one row of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reader {
    Unzip,
    SevenZip,
    Bsdtar,
    BsdtarPipe,
    PythonZipfile,
    StreamUnzip,
    JavaZipFile,
    JavaZipInputStream,
    CommonsCompress,
    CommonsCompressAllow,
    GoArchiveZip,
    Lsar,
    Yauzl,
    Unzipper,
}

const READERS: [Reader; 14] = [
    Reader::Unzip,
    Reader::SevenZip,
    Reader::Bsdtar,
    Reader::BsdtarPipe,
    Reader::PythonZipfile,
    Reader::StreamUnzip,
    Reader::JavaZipFile,
    Reader::JavaZipInputStream,
    Reader::CommonsCompress,
    Reader::CommonsCompressAllow,
    Reader::GoArchiveZip,
    Reader::Lsar,
    Reader::Yauzl,
    Reader::Unzipper,
];

impl Reader {
    fn label(self) -> &'static str {
        match self {
            Reader::Unzip => "Info-ZIP `unzip` (file)",
            Reader::SevenZip => "7-Zip `7z` (file)",
            Reader::Bsdtar => "`bsdtar` (file)",
            Reader::BsdtarPipe => "`bsdtar` (pipe)",
            Reader::PythonZipfile => "Python `zipfile` (file)",
            Reader::StreamUnzip => "Python `stream-unzip` (pipe)",
            Reader::JavaZipFile => "Java `ZipFile` (file)",
            Reader::JavaZipInputStream => "Java `ZipInputStream` (pipe)",
            Reader::CommonsCompress => "commons-compress `ZipArchiveInputStream` (pipe)",
            Reader::CommonsCompressAllow => "… with `allowStoredEntriesWithDataDescriptor` (pipe)",
            Reader::GoArchiveZip => "Go `archive/zip` (file)",
            Reader::Lsar => "The Unarchiver `lsar -t` (file)",
            Reader::Yauzl => "Node `yauzl` (file)",
            Reader::Unzipper => "Node `unzipper` (pipe)",
        }
    }

    /// The cells this reader cannot read by its nature: what the matrix says instead of "ok". The test
    /// asserts that the reader fails on them.
    fn cannot(self, kind: Kind) -> Option<&'static str> {
        match (self, kind) {
            (Reader::StreamUnzip, Kind::NoSizes) => Some(
                "no: a stored entry of unknown size has no end it can find (`NotStreamUnzippable`); give `size`",
            ),
            (Reader::JavaZipInputStream, Kind::NoSizes | Kind::NoCrcLarge) => Some(
                "no: refuses a stored entry with a data descriptor (\"only DEFLATED entries can have EXT descriptor\"); give `size` and `crc32`",
            ),
            (Reader::CommonsCompress, Kind::NoSizes | Kind::NoCrcLarge) => Some(
                "no by default: refuses a stored entry with a data descriptor; set `allowStoredEntriesWithDataDescriptor` (next row) or give `size` and `crc32`",
            ),
            (Reader::Unzipper, Kind::NoCrcLarge) => Some(
                "no: takes the header's sizes and then trips on the data descriptor (\"invalid signature: 0x8074b50\"); give `crc32`",
            ),
            _ => None,
        }
    }

    /// Reads the archive: what the reader saw, or why it failed.
    fn read(self, archive: &Path, expected: &[Expected]) -> Result<(), String> {
        let readers = tools_dir().join("readers");
        let t = tools();
        let node = |script: &str| {
            let mut c = Command::new("node");
            c.arg(readers.join("node").join(script));
            c
        };
        let java = |class: &str| {
            let mut c = Command::new("java");
            c.arg("-cp").arg(&t.java_cp).arg(class);
            c
        };
        let listing = match self {
            Reader::Unzip => {
                let test = run(Command::new("unzip").arg("-tq").arg(archive), None, false)?;
                if !test.text.contains("No errors detected") {
                    return Err(format!("unzip -t: {}", test.text));
                }
                let v = run(
                    Command::new("unzip")
                        .env("LC_ALL", "C.UTF-8")
                        .arg("-v")
                        .arg(archive),
                    None,
                    false,
                )?;
                parse_unzip_v(&v.text)
            }
            Reader::SevenZip => {
                let test = run(Command::new("7z").arg("t").arg(archive), None, false)?;
                if !test.text.contains("Everything is Ok") {
                    return Err(format!("7z t: {}", test.text));
                }
                let l = run(
                    Command::new("7z")
                        .args(["l", "-slt", "-sccUTF-8"])
                        .arg(archive),
                    None,
                    false,
                )?;
                parse_7z_slt(&l.text)
            }
            Reader::Bsdtar | Reader::BsdtarPipe => {
                let pipe = self == Reader::BsdtarPipe;
                let (arg, input) = if pipe {
                    ("-", Some(archive))
                } else {
                    (archive.to_str().unwrap_or_default(), None)
                };
                let names = run(
                    Command::new("bsdtar")
                        .env("LC_ALL", "C.UTF-8")
                        .arg("-tf")
                        .arg(arg),
                    input,
                    false,
                )?;
                let data = run(
                    Command::new("bsdtar")
                        .env("LC_ALL", "C.UTF-8")
                        .arg("-xOf")
                        .arg(arg),
                    input,
                    true,
                )?;
                return check_names_and_concatenation(&names.text, data.hashed, expected);
            }
            Reader::PythonZipfile => {
                let out = run(
                    Command::new("python3")
                        .arg(tools_dir().join("zipcheck.py"))
                        .arg(archive),
                    None,
                    false,
                )?;
                parse_listing(&out.text)
            }
            Reader::StreamUnzip => {
                let out = run(
                    Command::new(readers.join(".venv/bin/python"))
                        .arg(readers.join("stream_unzip_check.py")),
                    Some(archive),
                    false,
                )?;
                parse_listing(&out.text)
            }
            Reader::JavaZipFile => {
                parse_listing(&run(java("ZipCheck").arg(archive), None, false)?.text)
            }
            Reader::JavaZipInputStream => {
                parse_listing(&run(&mut java("JavaZipInputStream"), Some(archive), false)?.text)
            }
            Reader::CommonsCompress => {
                parse_listing(&run(&mut java("CommonsCompressStream"), Some(archive), false)?.text)
            }
            Reader::CommonsCompressAllow => parse_listing(
                &run(
                    java("CommonsCompressStream").arg("allow-stored-descriptor"),
                    Some(archive),
                    false,
                )?
                .text,
            ),
            Reader::GoArchiveZip => {
                parse_listing(&run(Command::new(&t.go).arg(archive), None, false)?.text)
            }
            Reader::Lsar => {
                let test = run(Command::new("lsar").arg("-t").arg(archive), None, false)?;
                if !test.text.contains(" 0 failed") {
                    return Err(format!("lsar -t: {}", tail(&test.text)));
                }
                parse_lsar_json(
                    &run(Command::new("lsar").arg("-j").arg(archive), None, false)?.text,
                )?
            }
            Reader::Yauzl => {
                parse_listing(&run(node("yauzl-check.js").arg(archive), None, false)?.text)
            }
            Reader::Unzipper => {
                parse_listing(&run(&mut node("unzipper-check.js"), Some(archive), false)?.text)
            }
        };
        if listing == sorted(expected) {
            Ok(())
        } else {
            Err(format!(
                "read something else: {:?}",
                first_difference(&listing, &sorted(expected))
            ))
        }
    }
}

fn first_difference(got: &[Expected], want: &[Expected]) -> String {
    if got.len() != want.len() {
        return format!("{} entries, {} expected", got.len(), want.len());
    }
    got.iter()
        .zip(want)
        .find(|(g, w)| g != w)
        .map(|(g, w)| format!("{g:?} instead of {w:?}"))
        .unwrap_or_default()
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(6)..].join("\n")
}

/// `unzip -v`: Length, Method, Size, Cmpr, Date, Time, CRC-32, Name.
fn parse_unzip_v(text: &str) -> Vec<Expected> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("--------") {
            if inside {
                break;
            }
            inside = true;
            continue;
        }
        if !inside {
            continue;
        }
        let mut rest = line.trim_start();
        let mut fields = Vec::new();
        for _ in 0..7 {
            let end = rest.find(' ').unwrap_or(rest.len());
            fields.push(&rest[..end]);
            rest = rest[end..].trim_start();
        }
        let (Ok(size), Ok(crc)) = (fields[0].parse(), u32::from_str_radix(fields[6], 16)) else {
            continue;
        };
        out.push(Expected {
            name: rest.to_string(),
            size,
            crc32: crc,
        });
    }
    out.sort();
    out
}

/// `lsar -j`: names (directories get their `/` back), sizes and the directory's CRC-32s (`lsar -t`
/// checked the data against them).
fn parse_lsar_json(text: &str) -> Result<Vec<Expected>, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("lsar -j: {e}"))?;
    let mut out: Vec<Expected> = v["lsarContents"]
        .as_array()
        .ok_or("lsar -j: no contents")?
        .iter()
        .map(|e| {
            let mut name = e["XADFileName"].as_str().unwrap_or_default().to_string();
            if e["XADIsDirectory"].as_u64() == Some(1) && !name.ends_with('/') {
                name.push('/');
            }
            Expected {
                name,
                size: e["XADFileSize"].as_u64().unwrap_or(0),
                crc32: e["ZipCRC32"].as_u64().unwrap_or(0) as u32,
            }
        })
        .collect();
    out.sort();
    Ok(out)
}

/// bsdtar lists names and extracts every file to stdout (checking CRCs): the names must match, and the
/// bytes must be the files' bytes in entry order.
fn check_names_and_concatenation(
    names: &str,
    (len, crc): (u64, u32),
    expected: &[Expected],
) -> Result<(), String> {
    let mut got: Vec<&str> = names.lines().collect();
    got.sort_unstable();
    let mut want: Vec<&str> = expected.iter().map(|e| e.name.as_str()).collect();
    want.sort_unstable();
    if got != want {
        return Err(format!(
            "listed {} names, {} expected",
            got.len(),
            want.len()
        ));
    }
    let mut all = crc32fast::Hasher::new();
    for e in expected {
        all.combine(&crc32fast::Hasher::new_with_initial_len(e.crc32, e.size));
    }
    let want_len: u64 = expected.iter().map(|e| e.size).sum();
    let want_crc = all.finalize();
    if (len, crc) == (want_len, want_crc) {
        Ok(())
    } else {
        Err(format!(
            "extracted {len} bytes (CRC {crc:08x}), {want_len} expected ({want_crc:08x})"
        ))
    }
}

/// What a reader printed (or, with `hash`, the length and CRC-32 of its standard output).
struct Ran {
    text: String,
    hashed: (u64, u32),
}

/// Runs a reader, feeding `pipe` into its standard input through a pipe when given; fails with its stderr.
fn run(cmd: &mut Command, pipe: Option<&Path>, hash: bool) -> Result<Ran, String> {
    let mut err = tempfile::tempfile().map_err(|e| e.to_string())?;
    let mut child = cmd
        .stdin(if pipe.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(err.try_clone().map_err(|e| e.to_string())?)
        .spawn()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    let feeder = match (pipe, child.stdin.take()) {
        (Some(path), Some(mut stdin)) => {
            let path = path.to_path_buf();
            Some(std::thread::spawn(move || {
                if let Ok(mut file) = File::open(path) {
                    // A reader that gives up early closes the pipe: not an error of the feeder.
                    let _ = std::io::copy(&mut file, &mut stdin);
                }
            }))
        }
        _ => None,
    };
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        let mut hasher = crc32fast::Hasher::new();
        let mut len = 0u64;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if hash {
                        hasher.update(&buf[..n]);
                        len += n as u64;
                    } else {
                        text.extend_from_slice(&buf[..n]);
                    }
                }
            }
        }
        (text, (len, hasher.finalize()))
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{cmd:?} still running after {LIMIT:?}, killed"));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    if let Some(f) = feeder {
        let _ = f.join();
    }
    let (text, hashed) = reader.join().map_err(|_| "reader thread panicked")?;
    let mut stderr = String::new();
    let _ = err.rewind();
    let _ = err.read_to_string(&mut stderr);
    if !status.success() {
        let said = if stderr.trim().is_empty() {
            String::from_utf8_lossy(&text).into_owned()
        } else {
            stderr
        };
        return Err(format!("{status}: {}", tail(&said)));
    }
    Ok(Ran {
        text: String::from_utf8_lossy(&text).into_owned(),
        hashed,
    })
}

/// The compiled reader programs: Go's, and the Java classes (one JVM start each, no compile per run).
struct Tools {
    go: PathBuf,
    java_cp: String,
}

static TOOLS: std::sync::OnceLock<Tools> = std::sync::OnceLock::new();

fn newer_than(out: &Path, sources: &[PathBuf]) -> bool {
    let mtime = |p: &Path| {
        p.metadata()
            .and_then(|m| m.modified())
            .unwrap_or(SystemTime::UNIX_EPOCH)
    };
    out.exists() && sources.iter().all(|s| mtime(s) <= mtime(out))
}

/// Builds the reader programs once into the target directory (rebuilt when a source changes); each build
/// goes to a fresh directory renamed into place, so test processes building at once do not collide.
fn tools() -> &'static Tools {
    TOOLS.get_or_init(|| {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("readers");
        std::fs::create_dir_all(&base).expect("tools dir");
        let readers = tools_dir().join("readers");
        let go = base.join("goreader");
        let go_src = vec![readers.join("go/main.go")];
        if !newer_than(&go, &go_src) {
            let tmp = base.join(format!("goreader.{}", std::process::id()));
            let ok = Command::new("go")
                .args(["build", "-o"])
                .arg(&tmp)
                .arg(".")
                .current_dir(readers.join("go"))
                .env("GOFLAGS", "-mod=mod")
                .env("GOPROXY", "off")
                .status()
                .expect("go runs")
                .success();
            assert!(ok, "go build of the archive/zip reader");
            std::fs::rename(&tmp, &go).expect("rename");
        }
        let classes = base.join("classes");
        let java_src = vec![
            readers.join("JavaZipInputStream.java"),
            readers.join("CommonsCompressStream.java"),
            tools_dir().join("ZipCheck.java"),
        ];
        let stamp = classes.join("built");
        let jar = "/usr/share/java/commons-compress.jar";
        if !newer_than(&stamp, &java_src) {
            let tmp = base.join(format!("classes.{}", std::process::id()));
            let ok = Command::new("javac")
                .arg("-d")
                .arg(&tmp)
                .args(["-cp", jar])
                .args(&java_src)
                .status()
                .expect("javac runs")
                .success();
            assert!(ok, "javac of the Java readers");
            File::create(tmp.join("built"))
                .and_then(|mut f| f.write_all(b"ok"))
                .expect("stamp");
            let _ = std::fs::remove_dir_all(&classes);
            // Another process may have won the race: its classes are as good.
            if std::fs::rename(&tmp, &classes).is_err() {
                let _ = std::fs::remove_dir_all(&tmp);
            }
        }
        Tools {
            go,
            java_cp: format!("{}:{jar}", classes.display()),
        }
    })
}

/// Writes `kind`'s archive and runs every reader on it (a thread each); returns the cells that disagree
/// with the matrix (printing every result).
async fn measure(kind: Kind) -> Vec<String> {
    let (file, expected, planned, written) = write_archive_with(kind.items(), OPTIONS).await;
    if let Some(planned) = planned {
        assert_eq!(planned, written, "{}: planned length", kind.label());
    }
    let path = file.path().to_path_buf();
    tools();
    let results: Vec<(Reader, Result<(), String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = READERS
            .iter()
            .map(|r| {
                let (path, expected) = (&path, &expected);
                (*r, s.spawn(move || r.read(path, expected)))
            })
            .collect();
        handles
            .into_iter()
            .map(|(r, h)| (r, h.join().unwrap_or_else(|_| Err("panicked".into()))))
            .collect()
    });
    let mut wrong = Vec::new();
    for (reader, result) in &results {
        println!("{} | {} | {:?}", kind.label(), reader.label(), result);
        match (reader.cannot(kind), result) {
            (None, Err(e)) => {
                wrong.push(format!("{}: should read it, failed: {e}", reader.label()))
            }
            (Some(why), Ok(())) => wrong.push(format!(
                "{}: the matrix says \"{why}\", but it read it",
                reader.label()
            )),
            _ => {}
        }
    }
    drop(file);
    wrong
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reader_reads_the_small_kinds_as_the_matrix_says() {
    let mut wrong = Vec::new();
    for kind in [
        Kind::Store,
        Kind::Deflate,
        Kind::NoSizes,
        Kind::NoCrcSmall,
        Kind::NoCrcLarge,
        Kind::Utf8Names,
        Kind::EmptyFiles,
        Kind::Directories,
    ] {
        wrong.extend(measure(kind).await);
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reader_reads_zip64_by_count_over_65535_entries_as_the_matrix_says() {
    let wrong = measure(Kind::Zip64Count).await;
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reader_reads_zip64_by_offset_over_4_gib_as_the_matrix_says() {
    let wrong = measure(Kind::Zip64Offset).await;
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
