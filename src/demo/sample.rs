//! The demo's archive: sample files of the demo origin with sizes (so the download has a Content-Length, a
//! progress bar and resumes), CRCs on half of them, UTF-8 names, an empty file and an empty folder.

use serde_json::{json, Value};

use super::content::generated_crc32;
use super::origin::DemoOrigin;

/// The sample files: (archive path, size, seed, compression).
pub(super) const SAMPLES: &[(&str, u64, u64, &str)] = &[
    ("README.txt", 1_200, 1, "store"),
    ("photos/2019/beach.jpg", 2_500_000, 2, "store"),
    ("photos/2019/sunset.jpg", 1_800_000, 3, "store"),
    ("photos/été/café ☕.jpg", 750_000, 4, "store"),
    ("videos/clip.mp4", 12_000_000, 5, "store"),
    ("docs/日本語.pdf", 320_000, 6, "store"),
    ("empty.txt", 0, 7, "store"),
];

/// The demo manifest: stored sample files with sizes (so the download has a Content-Length, a progress
/// bar and resumes), CRCs on half of them, UTF-8 names, an empty file and an empty folder.
pub fn sample_manifest(origin: &DemoOrigin) -> Value {
    let mut files: Vec<Value> = SAMPLES
        .iter()
        .enumerate()
        .map(|(i, (path, size, seed, compression))| {
            let name = path.rsplit('/').next().unwrap_or("file");
            let mut f = json!({
                "url": origin.file_url(*size, *seed, name),
                "path": path,
                "size": size,
                "compression": compression,
            });
            if i % 2 == 0 {
                f["crc32"] = json!(format!("{:08x}", generated_crc32(*seed, *size)));
            }
            f
        })
        .collect();
    files.push(json!({ "path": "empty-folder/" }));
    json!({ "filename": "zipper-demo.zip", "files": files })
}
