//! Tests of configuration loading: defaults, file, environment precedence, key sources, error collection.

use std::collections::HashMap;
use std::path::Path;

use super::*;
use crate::origin::HostAllowlist;

const EXAMPLE: &str = include_str!("../../config/zipper.toml");

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn from_file(text: &str, env_pairs: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
    Config::from_sources(Some((Path::new("zipper.toml"), text)), &env(env_pairs))
}

fn messages(result: Result<Config, ConfigErrors>) -> Vec<String> {
    match result {
        Ok(config) => panic!("expected errors, got {config:?}"),
        Err(errors) => errors.errors().iter().map(ToString::to_string).collect(),
    }
}

/// Every field of two configs, as text (`KeySet` has no `PartialEq`; its Debug lists the ids).
fn same(a: &Config, b: &Config) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

#[test]
fn defaults_with_keys_from_the_environment() {
    let config = Config::from_sources(None, &env(&[("ZIPPER_KEYS", "a:s1,b:s2")])).unwrap();
    let expected = Config::with_keys(KeySet::from_pairs([("a", "s1"), ("b", "s2")]).unwrap());
    assert!(same(&config, &expected), "{config:#?}");
    assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(config.admin_listen.to_string(), "127.0.0.1:9090");
    assert_eq!(config.path_prefix.as_str(), "", "links at the root");
    assert_eq!(config.link.max_age_secs, 86_400);
    assert_eq!(config.link.skew_secs, 300);
    assert!(!config.allow_private_networks);
    assert!(config.callback_hosts.is_any() && config.file_hosts.is_any());
    assert_eq!(config.max_concurrent_downloads, 1024);
    assert_eq!(config.shutdown_grace, Duration::from_secs(30));
    assert_eq!(config.manifest_timeout, Duration::from_secs(30));
    assert_eq!(config.manifest_max_bytes, 33_554_432);
    assert_eq!(config.max_entries, 100_000);
    assert_eq!(config.max_total_bytes, 1_099_511_627_776);
    assert_eq!(config.origin_connect_timeout, Duration::from_secs(10));
    assert_eq!(config.origin_read_timeout, Duration::from_secs(30));
    assert_eq!(config.origin_retries, 3);
    assert_eq!(config.origin_retry_backoff, Duration::from_millis(100));
    assert_eq!(config.max_redirects, 5);
    assert_eq!(config.prefetch_files, 8);
    assert_eq!(config.prefetch_bytes, 8 * 1024 * 1024);
    assert_eq!(config.client_write_timeout, Duration::from_secs(60));
    assert_eq!(config.request_header_timeout, Duration::from_secs(10));
    assert_eq!(config.crc_cache_entries, 100_000);
    assert_eq!(config.memory_budget_bytes, 268_435_456);
    assert_eq!(config.origin_min_rate_bytes_per_sec, 1024);
    assert_eq!(config.h2_max_streams, 100);
    assert_eq!(config.max_client_connections, 10_000);
    assert_eq!(config.listen_backlog, 4096);
    assert_eq!(config.max_file_retries, 10);
    assert_eq!(config.log_format, crate::config::LogFormat::Pretty);
    assert_eq!(config.report_queue_max, 1024);
    assert_eq!(config.report_retries, 3);
    assert_eq!(config.report_timeout, Duration::from_secs(10));
    assert_eq!(config.inline_crc_max_bytes, 1_048_576);
    assert_eq!(config.keys.get("b").unwrap().expose(), b"s2");
}

#[test]
fn log_format_is_json_or_pretty() {
    use crate::config::LogFormat;
    let keys = "[keys]\nk = \"s\"\n";
    let json = from_file(keys, &[("ZIPPER_LOG_FORMAT", "json")]).unwrap();
    assert_eq!(json.log_format, LogFormat::Json);
    let file = from_file(&format!("log_format = \"json\"\n{keys}"), &[]).unwrap();
    assert_eq!(file.log_format, LogFormat::Json);
    let errors = messages(from_file(&format!("log_format = \"xml\"\n{keys}"), &[]));
    assert_eq!(
        errors,
        ["zipper.toml: log_format: expected \"json\" or \"pretty\", got \"xml\""]
    );
}

#[test]
fn the_example_file_documents_every_setting_at_its_default() {
    let config = from_file(EXAMPLE, &[("ZIPPER_SECRET_MAIN", "example-secret")]).unwrap();
    let expected = Config::with_keys(KeySet::from_pairs([("main", "example-secret")]).unwrap());
    assert!(same(&config, &expected), "{config:#?}");
    // Every file key the loader knows appears, uncommented, in the example.
    let debug = format!("{:?}", RawFile::default());
    for field in debug
        .trim_start_matches("RawFile { ")
        .trim_end_matches(" }")
        .split(", ")
        .map(|f| f.split(':').next().unwrap())
    {
        let line = if field == "keys" {
            "[keys]".to_owned()
        } else {
            format!("\n{field} = ")
        };
        assert!(EXAMPLE.contains(&line), "config/zipper.toml lacks {field}");
    }
}

#[test]
fn environment_wins_over_the_file() {
    let file = r#"
        listen = "0.0.0.0:80"
        max_redirects = 2
        allow_private_networks = false
        file_hosts = ["cdn.example.com"]
        [keys]
        file-key = "from-file"
    "#;
    let config = from_file(
        file,
        &[
            ("ZIPPER_LISTEN", "[::1]:8000"),
            ("ZIPPER_ALLOW_PRIVATE_NETWORKS", "true"),
            ("ZIPPER_FILE_HOSTS", "a.example, *.b.example"),
            ("ZIPPER_KEYS", "env-key:from-env"),
        ],
    )
    .unwrap();
    assert_eq!(config.listen.to_string(), "[::1]:8000");
    assert_eq!(config.max_redirects, 2, "file value kept where no env var");
    assert!(config.allow_private_networks);
    assert!(config.file_hosts.allows("a.example"));
    assert!(!config.file_hosts.allows("cdn.example.com"));
    assert_eq!(
        config.keys.ids().collect::<Vec<_>>(),
        ["env-key"],
        "ZIPPER_KEYS replaces [keys]"
    );
}

#[test]
fn all_errors_are_collected_and_name_their_setting() {
    let file = "max_concurrent_downloads = 0\nadmin_listen = \"localhost\"\n[keys]\nk = \"s\"\n";
    let errors = messages(from_file(
        file,
        &[
            ("ZIPPER_LISTEN", "x"),
            ("ZIPPER_MAX_ENTRIES", "12k"),
            ("ZIPPER_ALLOW_PRIVATE_NETWORKS", "yes"),
            ("ZIPPER_ORIGIN_RETRIES", ""),
            ("ZIPPER_CALLBACK_HOSTS", "https://cb.example/"),
        ],
    ));
    assert_eq!(
        errors,
        [
            "ZIPPER_LISTEN: invalid socket address \"x\" (expected IP:PORT, e.g. 127.0.0.1:8080 or [::]:8080)",
            "zipper.toml: admin_listen: invalid socket address \"localhost\" (expected IP:PORT, e.g. 127.0.0.1:8080 or [::]:8080)",
            "ZIPPER_ALLOW_PRIVATE_NETWORKS: expected true or false, got \"yes\"",
            "ZIPPER_CALLBACK_HOSTS: host allowlist entry \"https://cb.example/\": not a host name (no scheme, path, port or wildcard other than a leading *.)",
            "zipper.toml: max_concurrent_downloads: must be at least 1, got 0",
            "ZIPPER_MAX_ENTRIES: expected a whole number, got \"12k\"",
            "ZIPPER_ORIGIN_RETRIES: expected a whole number, got \"\"",
        ]
    );
}

#[test]
fn same_listen_and_admin_address_is_refused() {
    let errors = messages(from_file(
        "listen = \"127.0.0.1:7000\"\n[keys]\nk = \"s\"\n",
        &[("ZIPPER_ADMIN_LISTEN", "127.0.0.1:7000")],
    ));
    assert_eq!(
        errors,
        ["ZIPPER_ADMIN_LISTEN: is the same address as listen (127.0.0.1:7000)"]
    );
}

#[test]
fn file_type_errors_and_unknown_keys_name_the_key_and_line() {
    let errors = messages(from_file(
        "listen = \"127.0.0.1:1\"\nmax_entrys = 5\n[keys]\nk = \"s\"\n",
        &[],
    ));
    assert_eq!(
        errors,
        ["zipper.toml: max_entrys: line 2: unknown setting (did you mean max_entries?)"]
    );
    let errors = messages(from_file(
        "\n\nmax_entries = \"many\"\n[keys]\nk = \"s\"\n",
        &[],
    ));
    assert_eq!(
        errors,
        ["zipper.toml: max_entries: line 3: expected a whole number (0 or more, no quotes or units), got a string"]
    );
}

/// Every type error and unknown key of the file at once, in file order, each with its key and line, and
/// never the value.
#[test]
fn all_file_type_errors_are_reported_at_once() {
    let file = "listen = 8080\nmax_entries = \"many\"\nlink_max_age_secs = \"one day\"\n\
                allow_private_networks = \"yes\"\nfile_hosts = \"cdn.example.com\"\norigin_retries = -1\n\
                prefetch_bytes = 1.5\nmax_entrys = 5\ncallback_hosts = [\"a.example\", 7]\n\
                shutdown_grace_secs = 5\n[keys]\nk = \"s\"\n";
    let whole = "expected a whole number (0 or more, no quotes or units)";
    let errors = messages(from_file(file, &[("ZIPPER_LISTEN", "nowhere")]));
    assert_eq!(
        errors,
        [
            "zipper.toml: listen: line 1: expected a string in quotes, got a whole number".to_owned(),
            format!("zipper.toml: max_entries: line 2: {whole}, got a string"),
            format!("zipper.toml: link_max_age_secs: line 3: {whole}, got a string"),
            "zipper.toml: allow_private_networks: line 4: expected true or false (no quotes), got a string"
                .to_owned(),
            "zipper.toml: file_hosts: line 5: expected a list of strings, e.g. [\"cdn.example.com\"], got a string"
                .to_owned(),
            format!("zipper.toml: origin_retries: line 6: {whole}, got a negative number"),
            format!("zipper.toml: prefetch_bytes: line 7: {whole}, got a decimal number"),
            "zipper.toml: max_entrys: line 8: unknown setting (did you mean max_entries?)".to_owned(),
            "zipper.toml: callback_hosts: line 9: expected a list of strings, e.g. [\"cdn.example.com\"], got a list with a value that is not a string"
                .to_owned(),
            // The settings that passed are still read and checked.
            "ZIPPER_LISTEN: invalid socket address \"nowhere\" (expected IP:PORT, e.g. 127.0.0.1:8080 or [::]:8080)"
                .to_owned(),
        ]
    );
    assert!(errors
        .iter()
        .all(|e| !e.contains("one day") && !e.contains("many")));
    // An unknown key far from every setting gets no guess.
    assert_eq!(
        messages(from_file("colour = \"blue\"\n[keys]\nk = \"s\"\n", &[])),
        ["zipper.toml: colour: line 1: unknown setting (config/zipper.toml lists every setting)"]
    );
    // A misspelt table header is an unknown setting too.
    assert_eq!(
        messages(from_file("[key]\nk = \"s\"\n", &[("ZIPPER_KEYS", "a:b")])),
        ["zipper.toml: key: line 1: unknown setting (did you mean keys?)"]
    );
}

/// A setting written after `[keys]` becomes a key in TOML: refused, naming the mistake.
#[test]
fn a_setting_under_keys_is_refused_as_a_misplaced_setting() {
    let file = "[keys]\nmain = \"a-real-secret\"\nlisten = \"0.0.0.0:8080\"\nmax_entrys = 5\n\
                allow_private_networks = true\nmain2 = { env = \"S2\" }\n";
    let errors = messages(from_file(file, &[("S2", "second-secret")]));
    let moved =
        "move it above the [keys] line (in TOML every line after [keys] belongs to that table, \
                 so settings go before it)";
    assert_eq!(
        errors,
        [
            format!("zipper.toml: keys.allow_private_networks: `allow_private_networks` under [keys] looks like a setting, not a signing key: {moved}"),
            format!("zipper.toml: keys.listen: `listen` under [keys] looks like a setting, not a signing key: {moved}"),
            format!("zipper.toml: keys.max_entrys: is not a secret (expected \"secret\", {{ env = \"VARIABLE\" }} or {{ file = \"/path\" }}); it looks like the setting max_entries: {moved}"),
        ]
    );
    assert!(errors
        .iter()
        .all(|e| !e.contains("0.0.0.0") && !e.contains("a-real-secret")));
    // Secrets by the documented forms under ids that are not setting names stay keys.
    let config = from_file(
        "[keys]\nmain = \"a\"\nlistener = { env = \"S2\" }\n",
        &[("S2", "b")],
    )
    .unwrap();
    assert_eq!(config.keys.ids().collect::<Vec<_>>(), ["listener", "main"]);
}

#[test]
fn unknown_zipper_variables_are_warned_about_naming_the_closest_setting() {
    let vars = [
        ("ZIPPER_KEYS", "k:s"),
        ("ZIPPER_MAX_CONCURENT", "3"),
        ("ZIPPER_PATH_PREFX", "/zip"),
        ("ZIPPER_WHATEVER_THING", "x"),
        ("ZIPPER_LOG", "debug"),
        ("ZIPPER_CONFIG", "/etc/zipper.toml"),
        ("ZIPPER_SECRET_MAIN", "read through [keys]"),
        ("ZIPPER_LISTEN", "127.0.0.1:0"),
        ("OTHER_VARIABLE", "x"),
    ];
    let config = from_file("[keys]\nmain = { env = \"ZIPPER_SECRET_MAIN\" }\n", &vars).unwrap();
    let ignored = "is set but is not a zipper setting, so it is ignored";
    assert_eq!(
        config.warnings,
        [
            format!(
                "ZIPPER_MAX_CONCURENT {ignored}; did you mean ZIPPER_MAX_CONCURRENT_DOWNLOADS?"
            ),
            format!("ZIPPER_PATH_PREFX {ignored}; did you mean ZIPPER_PATH_PREFIX?"),
            format!("ZIPPER_WHATEVER_THING {ignored}"),
        ]
    );
    assert!(config.warnings.iter().all(|w| !w.contains("/zip")));
    // With errors, the warnings follow them (one may be the cause: ZIPPER_KEY for ZIPPER_KEYS).
    let err = Config::from_sources(None, &env(&[("ZIPPER_KEY", "k:s")])).unwrap_err();
    assert_eq!(
        err.warnings(),
        [format!("ZIPPER_KEY {ignored}; did you mean ZIPPER_KEYS?")]
    );
    assert!(err
        .to_string()
        .ends_with("\nwarning: ZIPPER_KEY is set but is not a zipper setting, so it is ignored; did you mean ZIPPER_KEYS?"));
}

#[test]
fn edit_distance_and_closest_name() {
    use super::suggest::{closest, edit_distance};
    assert_eq!(edit_distance("kitten", "sitting"), 3);
    assert_eq!(edit_distance("", "abc"), 3);
    assert_eq!(edit_distance("abc", ""), 3);
    assert_eq!(edit_distance("abc", "abc"), 0);
    assert_eq!(edit_distance("café", "cafe"), 1);
    let names = || super::setting_names();
    assert_eq!(
        closest("max_concurent", names()),
        Some("max_concurrent_downloads")
    );
    assert_eq!(closest("listn", names()), Some("listen"));
    assert_eq!(closest("LISTEN_BACKLOG", names()), Some("listen_backlog"));
    assert_eq!(closest("admin_listen", names()), Some("admin_listen"));
    assert_eq!(closest("max_entrys", names()), Some("max_entries"));
    assert_eq!(closest("origin_retrys", names()), Some("origin_retries"));
    assert_eq!(
        closest("origin_retry", names()),
        Some("origin_retry_backoff_ms"),
        "a prefix is one edit more than a whole match"
    );
    assert_eq!(closest("colour", names()), None);
    assert_eq!(closest("secret_main", names()), None);
    assert_eq!(closest("x", ["y"]), Some("y"), "short words allow 2 edits");
    assert_eq!(closest("abc", std::iter::empty()), None);
}

/// The type table and `RawFile` list the same keys, and each type in the table is what `RawFile` reads
/// (so a setting added to one and not the other fails here, not in production).
#[test]
fn the_type_table_and_the_file_shape_agree() {
    let debug = format!("{:?}", RawFile::default());
    let mut fields: Vec<&str> = debug
        .trim_start_matches("RawFile { ")
        .trim_end_matches(" }")
        .split(", ")
        .map(|f| f.split(':').next().unwrap())
        .collect();
    let mut table: Vec<&str> = super::setting_names().collect();
    fields.sort_unstable();
    table.sort_unstable();
    assert_eq!(fields, table);
    for (name, kind) in FILE_SETTINGS {
        let sample = match kind {
            Kind::Text => toml::Value::String("x".into()),
            Kind::Whole => toml::Value::Integer(1),
            Kind::Bool => toml::Value::Boolean(true),
            Kind::TextList => toml::Value::Array(vec![toml::Value::String("a".into())]),
            Kind::Keys => toml::Value::Table(toml::Table::new()),
        };
        let mut file = toml::Table::new();
        file.insert((*name).to_owned(), sample);
        let read = toml::Value::Table(file).try_into::<RawFile>();
        assert!(read.is_ok(), "{name}: {read:?}");
    }
}

#[test]
fn missing_keys_are_refused() {
    assert_eq!(
        messages(Config::from_sources(None, &env(&[]))),
        ["keys: no signing keys configured: add a [keys] table (id = \"secret\") to the config file or set ZIPPER_KEYS=id:secret"]
    );
    assert_eq!(messages(from_file("[keys]\n", &[])).len(), 1);
}

#[test]
fn secrets_come_inline_from_env_or_from_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("k3.key"), "from-relative-file\n").unwrap();
    let absolute = dir.path().join("k4.key");
    std::fs::write(&absolute, b"from-absolute-file").unwrap();
    let text = format!(
        "[keys]\nk1 = \"inline\"\nk2 = {{ env = \"MY_SECRET\" }}\nk3 = {{ file = \"k3.key\" }}\nk4 = {{ file = {:?} }}\n",
        absolute.display().to_string()
    );
    let config_path = dir.path().join("zipper.toml");
    let config = Config::from_sources(
        Some((&config_path, &text)),
        &env(&[("MY_SECRET", "from-env")]),
    )
    .unwrap();
    let secret = |id| config.keys.get(id).unwrap().expose().to_vec();
    assert_eq!(secret("k1"), b"inline");
    assert_eq!(secret("k2"), b"from-env");
    assert_eq!(secret("k3"), b"from-relative-file");
    assert_eq!(secret("k4"), b"from-absolute-file");
}

#[test]
fn bad_key_entries_are_reported_without_their_secrets() {
    let file = "[keys]\n\"bad id\" = \"s3cr3t-a\"\nk2 = { env = \"UNSET\" }\nk3 = { file = \"/nonexistent/zipper.key\" }\nk4 = 5\nk5 = { env = \"A\", file = \"b\" }\nk6 = \"\"\n";
    let errors = messages(from_file(file, &[]));
    assert_eq!(errors.len(), 6, "{errors:#?}");
    assert!(errors[0].starts_with("zipper.toml: keys.bad id: invalid key id \"bad id\""));
    assert_eq!(
        errors[1],
        "zipper.toml: keys.k2: environment variable UNSET is not set"
    );
    assert!(errors[2]
        .starts_with("zipper.toml: keys.k3: cannot read secret file \"/nonexistent/zipper.key\""));
    assert!(errors[3].starts_with("zipper.toml: keys.k4: expected \"secret\""));
    assert!(errors[4].starts_with("zipper.toml: keys.k5: expected \"secret\""));
    assert_eq!(
        errors[5],
        "zipper.toml: keys.k6: the secret of key id \"k6\" is empty"
    );

    let errors = messages(Config::from_sources(
        None,
        &env(&[(
            "ZIPPER_KEYS",
            "ok:s3cr3t-b,nocolon-s3cr3t-c,a b:s3cr3t-d,ok:s3cr3t-e,e:",
        )]),
    ));
    // Positions only: no key id or secret byte of a refused entry is repeated.
    assert_eq!(errors.len(), 4, "{errors:?}");
    for (e, (n, what)) in errors.iter().zip([
        (2, "is not id:secret (no ':')"),
        (3, "does not start with a key id"),
        (4, "repeats the key id of an earlier entry"),
        (5, "has an empty secret"),
    ]) {
        assert!(
            e.starts_with(&format!("ZIPPER_KEYS: entry {n} {what}")),
            "{e}"
        );
        assert!(
            e.contains("{ env = \"VARIABLE\" }") && e.contains("{ file = "),
            "{e}"
        );
        for leaked in ["s3cr3t", "nocolon", "a b", "\"ok\"", "\"e\""] {
            assert!(!e.contains(leaked), "{e} repeats {leaked}");
        }
    }
    // A TOML syntax error on a secret's line must not quote the line.
    let errors = messages(from_file("[keys]\nk = \"s3cr3t-f\n", &[]));
    assert!(errors[0].starts_with("zipper.toml: line 2: "), "{errors:?}");
    assert!(errors.iter().all(|e| !e.contains("s3cr3t")), "{errors:?}");
}

/// A secret containing ',' is cut into another entry: refused, with no byte of the secret in the message,
/// pointing to the forms that carry any secret; and those forms do carry it.
#[test]
fn a_secret_with_a_comma_in_zipper_keys_is_refused_without_echoing_it() {
    for value in ["a:pa55,w/rd", "a:pa55,w/rd:x", "a:x,,b:y", "a:pa55,"] {
        let errors = messages(Config::from_sources(None, &env(&[("ZIPPER_KEYS", value)])));
        assert_eq!(errors.len(), 1, "{value}: {errors:?}");
        let e = &errors[0];
        assert!(e.starts_with("ZIPPER_KEYS: entry "), "{e}");
        assert!(e.contains("a secret containing ','"), "{e}");
        assert!(e.contains("{ env = \"VARIABLE\" }"), "{e}");
        for leaked in ["pa55", "w/rd", "rd:x"] {
            assert!(!e.contains(leaked), "{value}: {e} repeats {leaked}");
        }
    }
    let config = from_file(
        "[keys]\na = { env = \"ZIPPER_TEST_SECRET_A\" }\n",
        &[("ZIPPER_TEST_SECRET_A", "pa55,w/rd:x")],
    )
    .unwrap();
    assert_eq!(
        config.keys.get("a").map(|s| s.expose().to_vec()),
        Some(b"pa55,w/rd:x".to_vec())
    );
}

#[test]
fn config_debug_never_shows_secrets() {
    let config = Config::from_sources(None, &env(&[("ZIPPER_KEYS", "main:s3cr3t-g")])).unwrap();
    let debug = format!("{config:?}");
    assert!(
        debug.contains("main") && !debug.contains("s3cr3t"),
        "{debug}"
    );
}

#[test]
fn host_lists_match_exact_hosts_and_subdomains() {
    let list =
        HostAllowlist::new(["CDN.example.com.", "*.Files.example", "10.0.0.1", "[::1]"]).unwrap();
    assert!(list.allows("cdn.example.com"));
    assert!(list.allows("CDN.EXAMPLE.COM."));
    assert!(!list.allows("x.cdn.example.com"));
    assert!(list.allows("a.files.example"));
    assert!(list.allows("a.b.files.example"));
    assert!(!list.allows("files.example"));
    assert!(!list.allows("evilfiles.example"));
    assert!(list.allows("10.0.0.1"));
    assert!(list.allows("[::1]"));
    assert!(!list.allows("10.0.0.2"));
    assert!(HostAllowlist::any().allows("anything.example"));
    for bad in ["", "*.", "*.10.0.0.1", "a.example:443", "a b", "http://a"] {
        assert!(HostAllowlist::new([bad]).is_err(), "{bad:?}");
    }
}

#[test]
fn env_names_follow_the_file_keys() {
    assert_eq!(env_name("link_max_age_secs"), "ZIPPER_LINK_MAX_AGE_SECS");
    let config = Config::from_sources(
        None,
        &env(&[
            ("ZIPPER_KEYS", "k:s"),
            ("ZIPPER_LINK_MAX_AGE_SECS", "60"),
            ("ZIPPER_LINK_SKEW_SECS", "0"),
            ("ZIPPER_MAX_CONCURRENT_DOWNLOADS", "7"),
            ("ZIPPER_ORIGIN_RETRY_BACKOFF_MS", "250"),
            ("ZIPPER_PREFETCH_BYTES", "1"),
            ("ZIPPER_CRC_CACHE_ENTRIES", "0"),
            ("ZIPPER_MEMORY_BUDGET_BYTES", "1048576"),
            ("ZIPPER_ORIGIN_MIN_RATE_BYTES_PER_SEC", "0"),
            ("ZIPPER_H2_MAX_STREAMS", "1"),
            ("ZIPPER_MAX_CLIENT_CONNECTIONS", "3"),
            ("ZIPPER_LISTEN_BACKLOG", "16"),
            ("ZIPPER_MAX_FILE_RETRIES", "0"),
            ("ZIPPER_REPORT_QUEUE_MAX", "5"),
            ("ZIPPER_REPORT_RETRIES", "0"),
            ("ZIPPER_REPORT_TIMEOUT_SECS", "2"),
            ("ZIPPER_INLINE_CRC_MAX_BYTES", "0"),
        ]),
    )
    .unwrap();
    assert_eq!(config.report_queue_max, 5);
    assert_eq!(config.report_retries, 0);
    assert_eq!(config.report_timeout, Duration::from_secs(2));
    assert_eq!(
        config.link,
        LinkPolicy {
            max_age_secs: 60,
            skew_secs: 0
        }
    );
    assert_eq!(config.max_concurrent_downloads, 7);
    assert_eq!(config.origin_retry_backoff, Duration::from_millis(250));
    assert_eq!(config.prefetch_bytes, 1);
    assert_eq!(config.crc_cache_entries, 0);
    assert_eq!(config.memory_budget_bytes, 1_048_576);
    assert_eq!(
        config.origin_min_rate_bytes_per_sec, 0,
        "0 disables the minimum"
    );
    assert_eq!(config.h2_max_streams, 1);
    assert_eq!(config.max_client_connections, 3);
    assert_eq!(config.listen_backlog, 16);
    assert_eq!(config.max_file_retries, 0);
    assert_eq!(config.inline_crc_max_bytes, 0, "0 disables inline CRC mode");
}

#[test]
fn the_budget_and_connection_settings_have_minimums() {
    let file = "memory_budget_bytes = 1048575\nh2_max_streams = 0\nmax_client_connections = 0\n\
                listen_backlog = 0\n[keys]\nk = \"s\"\n";
    let errors = messages(from_file(file, &[("ZIPPER_MAX_FILE_RETRIES", "-1")]));
    assert_eq!(
        errors,
        [
            "zipper.toml: memory_budget_bytes: must be at least 1048576, got 1048575",
            "zipper.toml: h2_max_streams: must be at least 1, got 0",
            "zipper.toml: max_client_connections: must be at least 1, got 0",
            "zipper.toml: listen_backlog: must be at least 1, got 0",
            "ZIPPER_MAX_FILE_RETRIES: expected a whole number, got \"-1\"",
        ]
    );
    // A u32 setting past u32::MAX is taken as u32::MAX, like origin_retries.
    let config = from_file(
        "[keys]\nk = \"s\"\n",
        &[("ZIPPER_H2_MAX_STREAMS", "99999999999")],
    )
    .unwrap();
    assert_eq!(config.h2_max_streams, u32::MAX);
}

#[test]
fn cache_url_is_optional_and_read_from_the_file_or_the_environment() {
    let keys = "[keys]\nk = \"s\"\n";
    let none = from_file(keys, &[]).unwrap();
    assert!(none.cache_url.is_none());
    let file = from_file(
        &format!("cache_url = \"redis://cache:6379/1\"\n{keys}"),
        &[],
    )
    .unwrap();
    assert_eq!(
        file.cache_url.as_ref().map(|u| u.expose()),
        Some("redis://cache:6379/1")
    );
    let env = from_file(
        &format!("cache_url = \"redis://cache:6379/1\"\n{keys}"),
        &[("ZIPPER_CACHE_URL", "redis://:pw@other:6380")],
    )
    .unwrap();
    assert_eq!(
        env.cache_url.as_ref().map(|u| u.expose()),
        Some("redis://:pw@other:6380")
    );
    assert!(
        !format!("{env:?}").contains("pw@"),
        "Debug hides the password"
    );
    // An empty value turns it off.
    let off = from_file(
        &format!("cache_url = \"redis://cache\"\n{keys}"),
        &[("ZIPPER_CACHE_URL", "")],
    )
    .unwrap();
    assert!(off.cache_url.is_none());
}

#[test]
fn a_bad_cache_url_is_named_without_its_value() {
    let errors = messages(from_file(
        "[keys]\nk = \"s\"\n",
        &[("ZIPPER_CACHE_URL", "http://user:hunter2@cache:6379")],
    ));
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("ZIPPER_CACHE_URL: expected a redis://"),
        "{errors:?}"
    );
    assert!(!errors[0].contains("hunter2"), "{errors:?}");
}

#[test]
fn the_path_prefix_is_validated_at_load() {
    let config = from_file("path_prefix = \"/zip\"\n[keys]\nk = \"s\"\n", &[]).unwrap();
    assert_eq!(config.path_prefix.as_str(), "/zip");
    let config = from_file(
        "path_prefix = \"/zip\"\n[keys]\nk = \"s\"\n",
        &[("ZIPPER_PATH_PREFIX", "/dl/zip")],
    )
    .unwrap();
    assert_eq!(config.path_prefix.as_str(), "/dl/zip", "environment wins");
    let errors = messages(from_file(
        "path_prefix = \"/zip/\"\n[keys]\nk = \"s\"\n",
        &[],
    ));
    assert_eq!(
        errors,
        ["zipper.toml: path_prefix: must not end with '/' (write \"/zip\")"]
    );
    let errors = messages(Config::from_sources(
        None,
        &env(&[("ZIPPER_KEYS", "k:s"), ("ZIPPER_PATH_PREFIX", "zip")]),
    ));
    assert_eq!(
        errors,
        ["ZIPPER_PATH_PREFIX: must start with '/' (e.g. \"/zip\")"]
    );
    let errors = messages(Config::from_sources(
        None,
        &env(&[("ZIPPER_KEYS", "k:s"), ("ZIPPER_PATH_PREFIX", "/a/../zip")]),
    ));
    assert_eq!(
        errors,
        ["ZIPPER_PATH_PREFIX: must be a normalised path: no empty, '.' or '..' segment (write \"/zip\")"]
    );
}
