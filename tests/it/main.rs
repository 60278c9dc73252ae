//! zipper's integration tests: one binary, themed modules.

// Shared harness: running real unzip tools on archives.
mod util;
// Archives written by the zip engine, checked by unzip, 7z, bsdtar, Python zipfile and Java.
mod zip_tools;
// Origin-side I/O against the in-process demo origin: file fetches, retries, resume, guard, manifests.
mod origin;
// The command line: help, exit codes, configuration errors.
mod cli;
// Links from the origin-app snippets and `zipper sign` are accepted.
mod link;
// The real server end to end with the demo origin: archives, headers, failures, memory.
mod server;
// Range, If-Range and resume against the real server.
mod range;
// Nothing leaks between origin apps: CRCs scoped by credentials and key, ETags stable across pre-signing.
mod isolation;
// The pure core imports no I/O, and no sibling modules import each other in a cycle.
mod layering;
// Range/resume with real clients: curl cut off and resumed with `curl -C -` (also the shared child-process
// harness for the browser test).
mod curl_resume;
// A real browser: headless Chromium follows a zipper link from a page and saves a valid zip.
mod browser;
// Descriptor-free small entries without CRCs: ZipInputStream from a pipe, ranges inside such entries.
mod inline_crc;
// The reader matrix: every archive kind through every reader (Go, lsar, yauzl, unzipper, stream-unzip,
// ZipInputStream, commons-compress, bsdtar from a pipe, and the five above).
mod readers;
// Process-wide bounds: the memory budget's admission, stalled and silent HTTP/2 clients, dripping origins,
// first-file failures as JSON, linear range planning.
mod limits;
// An origin written for nginx mod_zip (`X-Archive-Files: zip` and its file list) works unchanged.
mod mod_zip;
// The fleet's shared cache on a real redis-server, and the in-process caches alone: resumes on another
// instance fetch nothing, five resumes fetch the manifest once, a dead Redis fails no download.
mod shared_cache;
// `GET /metrics` after downloads of every outcome.
mod metrics;
// Request-scoped logs (the binary's JSON log line) and the client's traceparent passed on to origins.
mod logs;
// Completion reports through the real server: outcomes, retries, refusals, SIGTERM drain, the request id and
// the origin-side verification snippets (Python, Node, Ruby).
mod reports;
// The reverse-proxy snippets of config/deploy/ (nginx, Caddy) in front of a real zipper, and the systemd unit.
mod proxy;
// The README's walk-through from `zipper demo` to your own `zipper serve`, with the real binary.
mod walkthrough;
// The repository stands alone: Markdown links resolve inside it, nothing points at the workspace outside.
mod repo_links;
