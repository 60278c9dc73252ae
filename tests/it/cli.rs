//! The `zipper` binary's command line: help texts, and `serve` refusing a bad configuration with exit 64.

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
        stderr.contains("ZIPPER_KEYS: entry 2 has no ':'"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cr3t"), "{stderr}");
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
    for words in ["serve", "sign", "docs/signing.md", "ZIPPER_KEYS"] {
        assert!(help.contains(words), "{words}: {help}");
    }
    assert!(
        !help.contains("demo"),
        "no demo subcommand on this branch: {help}"
    );

    let out = zipper(
        &["sign", "--key-id", "0", "https://a.example/?timestamp=1"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "clap usage error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--secret-env"));
}
