//! The pure core stays pure: nothing under `src/core/` may import the runtime, the HTTP stacks, the
//! filesystem, the network or the clock (the module doc of `core` promises it; this checks it).

#[test]
fn core_does_no_io_and_reads_no_clock() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/core");
    let forbidden = [
        "tokio",
        "hyper",
        "reqwest",
        "std::fs",
        "std::net",
        "SystemTime",
        "Instant::now",
        "std::env",
        "std::process",
    ];
    let mut stack = vec![root];
    let mut checked = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src/core") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read source");
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for word in forbidden {
                    assert!(
                        !code.contains(word),
                        "{}:{}: `{word}` in the pure core: {line}",
                        path.display(),
                        n + 1
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} files found under src/core");
}
