//! The `zipper` binary's command line: help texts, `serve` refusing a bad configuration with exit 64 (every
//! problem at once), and warning at start-up about unknown `ZIPPER_*` variables.

use std::process::{Command, Output};

fn zipper(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zipper"))
        .env_clear()
        .envs(env.iter().copied())
        .args(args)
        .output()
        .expect("run zipper")
}

#[test]
fn serve_reports_every_config_problem_and_exits_64_without_secrets() {
    let out = zipper(
        &["serve"],
        &[
            ("ZIPPER_LISTEN", "x"),
            ("ZIPPER_KEYS", "k:s3cr3t-value,no-colon-s3cr3t"),
        ],
    );
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ZIPPER_LISTEN: invalid socket address \"x\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("ZIPPER_KEYS: entry 2 is not id:secret (no ':')"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cr3t"), "{stderr}");
}

/// The file's type errors all at once, each with its key; a setting under [keys] named as such; an
/// unknown ZIPPER_* variable warned about with the closest setting. No value is repeated.
#[test]
fn serve_reports_file_type_errors_misplaced_settings_and_unknown_variables() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("zipper.toml");
    std::fs::write(
        &file,
        "max_entries = \"many\"\nlink_max_age_secs = \"one day\"\n[keys]\nmain = \"s3cr3t-h\"\n\
         listen = \"0.0.0.0:8080\"\n",
    )
    .expect("write config");
    let out = zipper(
        &["serve", "--config", &file.display().to_string()],
        &[("ZIPPER_MAX_CONCURENT", "3")],
    );
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let name = file.display();
    for line in [
        format!("{name}: max_entries: line 1: expected a whole number"),
        format!("{name}: link_max_age_secs: line 2: expected a whole number"),
        format!("{name}: keys.listen: `listen` under [keys] looks like a setting, not a signing key: move it above the [keys] line"),
        "warning: ZIPPER_MAX_CONCURENT is set but is not a zipper setting, so it is ignored; did you mean ZIPPER_MAX_CONCURRENT_DOWNLOADS?".to_owned(),
    ] {
        assert!(stderr.contains(&line), "{line}\n{stderr}");
    }
    for value in ["many", "one day", "s3cr3t", "0.0.0.0"] {
        assert!(!stderr.contains(value), "repeats {value}: {stderr}");
    }
}

#[test]
fn serve_refuses_to_start_without_keys_or_with_a_missing_file() {
    let out = zipper(&["serve"], &[]);
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no signing keys configured"));

    let out = zipper(
        &["serve", "--config", "/nonexistent/zipper.toml"],
        &[("ZIPPER_KEYS", "k:s")],
    );
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/nonexistent/zipper.toml: cannot read the config file"),
        "{stderr}"
    );
}

#[test]
fn help_names_the_subcommands_and_sign_needs_a_secret_source() {
    let out = zipper(&["--help"], &[]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for words in ["serve", "sign", "demo", "docs/signing.md", "ZIPPER_KEYS"] {
        assert!(help.contains(words), "{words}: {help}");
    }

    let out = zipper(
        &["sign", "--key-id", "0", "https://a.example/?timestamp=1"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "clap usage error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--secret-env"));
}

fn free_port() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

#[test]
fn serve_answers_then_exits_0_on_sigterm() {
    let (public, admin) = (free_port(), free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_zipper"))
        .arg("serve")
        .env_clear()
        .env("ZIPPER_KEYS", "main:a-secret-value")
        .env("ZIPPER_LISTEN", public.to_string())
        .env("ZIPPER_ADMIN_LISTEN", admin.to_string())
        .env("ZIPPER_MAX_CONCURENT", "3")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("zipper serve starts");
    // Wait (bounded) for the admin listener, then ask /healthz over a raw socket.
    let mut answered = String::new();
    for _ in 0..200 {
        if let Ok(mut s) = std::net::TcpStream::connect(admin) {
            use std::io::{Read, Write};
            let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let _ = s.read_to_string(&mut answered);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    assert!(
        answered.starts_with("HTTP/1.1 200"),
        "healthz: {answered:?}"
    );
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(kill.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "zipper did not exit after SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(25));
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
    }
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert!(
        stderr.contains("ZIPPER_MAX_CONCURENT is set but is not a zipper setting, so it is ignored; did you mean ZIPPER_MAX_CONCURRENT_DOWNLOADS?"),
        "no start-up warning: {stderr}"
    );
    assert!(
        !stderr.contains("a-secret-value"),
        "the secret leaked into the logs"
    );
}
