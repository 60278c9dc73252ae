use std::collections::HashSet;

use proptest::prelude::*;

use super::*;

fn norm(raw: &str) -> Result<String, NameError> {
    normalize_path(raw).map(|(name, _)| name)
}

fn deduped(names: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
    dedupe(&mut names).expect("dedupe");
    names
}

// === normalize_path ===

#[test]
fn backslashes_become_slashes() {
    assert_eq!(norm("2019\\april\\a.jpg"), Ok("2019/april/a.jpg".into()));
}

#[test]
fn empty_and_dot_segments_are_dropped() {
    assert_eq!(norm("a//b/./c/"), Ok("a/b/c/".into()));
    assert_eq!(norm("./a/."), Ok("a".into()));
    assert_eq!(norm("a\\.\\\\b"), Ok("a/b".into()));
}

#[test]
fn a_trailing_slash_makes_a_directory_with_exactly_one_slash() {
    assert_eq!(normalize_path("dir//"), Ok(("dir/".into(), true)));
    assert_eq!(normalize_path("dir\\"), Ok(("dir/".into(), true)));
    assert_eq!(normalize_path("dir/./"), Ok(("dir/".into(), true)));
    assert_eq!(normalize_path("dir"), Ok(("dir".into(), false)));
}

#[test]
fn parent_segments_are_refused_anywhere() {
    for raw in ["..", "../a", "a/../b", "a/..", "a\\..\\b", "a/./../b/"] {
        assert_eq!(norm(raw), Err(NameError::ParentSegment), "{raw}");
    }
    // Dots that are not a whole segment are ordinary names.
    assert_eq!(norm("..a/b.."), Ok("..a/b..".into()));
    assert_eq!(norm("..."), Ok("...".into()));
}

#[test]
fn absolute_paths_are_refused() {
    for raw in ["/a", "//a", "\\a", "\\\\server\\share\\a", "/"] {
        assert_eq!(norm(raw), Err(NameError::Absolute), "{raw}");
    }
}

#[test]
fn windows_drives_are_refused() {
    for raw in ["C:", "C:/a", "c:\\a", "z:foo", "./C:/a"] {
        assert_eq!(norm(raw), Err(NameError::DriveLetter), "{raw}");
    }
    // A colon elsewhere is an ordinary character.
    assert_eq!(norm("a/C:/b"), Ok("a/C:/b".into()));
    assert_eq!(norm("1:2"), Ok("1:2".into()));
}

#[test]
fn control_characters_are_refused() {
    for raw in [
        "a\0b", "a\nb", "a\rb", "\ta", "a\u{7f}", "a\u{85}b", "a\u{9b}",
    ] {
        assert_eq!(norm(raw), Err(NameError::ControlCharacter), "{raw:?}");
    }
}

#[test]
fn empty_paths_are_refused() {
    assert_eq!(norm(""), Err(NameError::Empty));
    assert_eq!(norm("./."), Err(NameError::Empty));
    assert_eq!(norm(".\\./"), Err(NameError::Empty));
}

#[test]
fn names_over_65535_bytes_are_refused() {
    let exact = "é".repeat(MAX_NAME_BYTES / 2) + "a"; // 65,535 bytes
    assert_eq!(norm(&exact).map(|n| n.len()), Ok(MAX_NAME_BYTES));
    let over = "a".repeat(MAX_NAME_BYTES + 1);
    assert_eq!(norm(&over), Err(NameError::TooLong { len: 65_536 }));
    // The limit counts the normalised name, trailing '/' included.
    let dir = "a".repeat(MAX_NAME_BYTES) + "/";
    assert_eq!(norm(&dir), Err(NameError::TooLong { len: 65_536 }));
    let padded = "./".repeat(10) + &"a".repeat(MAX_NAME_BYTES);
    assert!(norm(&padded).is_ok());
}

#[test]
fn unicode_names_pass_unchanged() {
    assert_eq!(norm("фото/日本語 ☃.jpg"), Ok("фото/日本語 ☃.jpg".into()));
}

// === dedupe ===

#[test]
fn the_contract_examples_are_renamed_before_the_last_extension() {
    assert_eq!(
        deduped(&["a.txt", "a.txt", "a.tar.gz", "a.tar.gz", "README", "README"]),
        [
            "a.txt",
            "a (1).txt",
            "a.tar.gz",
            "a.tar (1).gz",
            "README",
            "README (1)"
        ]
    );
}

#[test]
fn leading_and_trailing_dots_do_not_start_an_extension() {
    assert_eq!(
        deduped(&[
            ".bashrc",
            ".bashrc",
            ".config.json",
            ".config.json",
            "a.",
            "a."
        ]),
        [
            ".bashrc",
            ".bashrc (1)",
            ".config.json",
            ".config (1).json",
            "a.",
            "a. (1)"
        ]
    );
}

#[test]
fn only_the_last_segment_changes() {
    assert_eq!(
        deduped(&["x.y/a", "x.y/a", "x.y/b.c", "x.y/b.c"]),
        ["x.y/a", "x.y/a (1)", "x.y/b.c", "x.y/b (1).c"]
    );
}

#[test]
fn later_duplicates_count_up() {
    assert_eq!(
        deduped(&["a.txt", "a.txt", "a.txt", "a.txt"]),
        ["a.txt", "a (1).txt", "a (2).txt", "a (3).txt"]
    );
}

#[test]
fn taken_names_are_skipped_including_later_ones() {
    // "a (1).txt" comes later in the list but keeps its name: renames skip it.
    assert_eq!(
        deduped(&["a.txt", "a.txt", "a (1).txt", "a (3).txt", "a.txt"]),
        ["a.txt", "a (2).txt", "a (1).txt", "a (3).txt", "a (4).txt"]
    );
}

#[test]
fn a_rename_never_lands_on_a_directory() {
    // "a (1)" is a directory implied by "a (1)/x": the duplicate file "a" skips it.
    assert_eq!(deduped(&["a", "a", "a (1)/x"]), ["a", "a (2)", "a (1)/x"]);
}

#[test]
fn duplicate_directories_are_renamed_without_an_extension() {
    assert_eq!(
        deduped(&["d.v2/", "d.v2/", "d.v2/x"]),
        ["d.v2/", "d.v2 (1)/", "d.v2/x"]
    );
}

#[test]
fn a_file_clobbered_by_an_implied_directory_is_renamed() {
    // The file comes first, the directory is only implied by a later entry: the file still moves.
    assert_eq!(deduped(&["a", "a/b"]), ["a (1)", "a/b"]);
    assert_eq!(deduped(&["a/b/c", "a/b"]), ["a/b/c", "a/b (1)"]);
}

#[test]
fn a_file_clobbered_by_an_explicit_directory_is_renamed() {
    assert_eq!(deduped(&["a.d", "a.d/"]), ["a (1).d", "a.d/"]);
    assert_eq!(deduped(&["a.d/", "a.d"]), ["a.d/", "a (1).d"]);
}

#[test]
fn a_directory_entry_and_its_children_do_not_clash() {
    assert_eq!(deduped(&["a/", "a/b", "a/b/"]), ["a/", "a/b (1)", "a/b/"]);
    assert_eq!(deduped(&["a/", "a/x", "a/y/"]), ["a/", "a/x", "a/y/"]);
}

#[test]
fn names_are_compared_case_sensitively() {
    assert_eq!(deduped(&["A.txt", "a.txt"]), ["A.txt", "a.txt"]);
}

#[test]
fn a_rename_past_the_name_limit_is_an_error() {
    let long = "a".repeat(MAX_NAME_BYTES - 2);
    let mut names = vec![long.clone(), long.clone()];
    assert_eq!(dedupe(&mut names), Err(DedupeError { index: 1 }));
    // Four spare bytes are exactly enough for " (1)".
    let fits = "a".repeat(MAX_NAME_BYTES - 4);
    let mut names = vec![fits.clone(), fits.clone()];
    assert_eq!(dedupe(&mut names), Ok(()));
    assert_eq!(names[1].len(), MAX_NAME_BYTES);
}

#[test]
fn many_duplicates_of_one_name_are_renamed_in_linear_time() {
    let mut names = vec!["x.bin".to_owned(); 100_000];
    dedupe(&mut names).expect("dedupe");
    assert_eq!(names[99_999], "x (99999).bin");
    assert_eq!(names.iter().collect::<HashSet<_>>().len(), 100_000);
}

#[test]
fn deep_paths_are_checked_in_linear_time() {
    // 30,000 segments (59,999 bytes) each: a set of every prefix would hash ~900 MB per name.
    let deep = vec!["a"; 30_000].join("/");
    let shallower = vec!["a"; 29_999].join("/");
    let mut names = vec![
        deep.clone(),
        deep.clone(),
        format!("{shallower}/"),
        shallower.clone(),
        format!("{deep}/"),
    ];
    dedupe(&mut names).expect("dedupe");
    // The second file of the deepest name is a duplicate; the file at the directory above is clobbered by
    // the implied directory; the explicit directory of the deepest name clobbers its files.
    assert_eq!(names[0], format!("{deep} (1)"));
    assert_eq!(names[1], format!("{deep} (2)"));
    assert_eq!(names[2], format!("{shallower}/"));
    assert_eq!(names[3], format!("{shallower} (1)"));
    assert_eq!(names[4], format!("{deep}/"));
}

#[test]
fn many_renames_under_one_deep_directory_stay_linear() {
    let dir = vec!["d"; 500].join("/");
    let mut names = vec![format!("{dir}/x.txt"); 20_000];
    names.push(format!("{dir}/x (3).txt"));
    dedupe(&mut names).expect("dedupe");
    assert_eq!(names[0], format!("{dir}/x.txt"));
    assert_eq!(names[2], format!("{dir}/x (2).txt"));
    // `x (3).txt` is an original name, reserved for the entry that comes last.
    assert_eq!(names[3], format!("{dir}/x (4).txt"));
    assert_eq!(names[19_999], format!("{dir}/x (20000).txt"));
    assert_eq!(names[20_000], format!("{dir}/x (3).txt"));
    assert_eq!(names.iter().collect::<HashSet<_>>().len(), 20_001);
}

// === download names ===

#[test]
fn download_names_replace_quotes_slashes_and_controls() {
    assert_eq!(
        sanitize_download_name("a\"b/c\\d\ne\u{7f}f\u{85}.zip"),
        "a_b_c_d_e_f_.zip"
    );
    assert_eq!(sanitize_download_name("日本語.zip"), "日本語.zip");
}

#[test]
fn content_disposition_for_an_ascii_name() {
    assert_eq!(
        content_disposition("photos 2019.zip"),
        "attachment; filename=\"photos 2019.zip\"; filename*=UTF-8''photos%202019.zip"
    );
}

#[test]
fn content_disposition_for_a_unicode_name() {
    assert_eq!(
        content_disposition("Fotos für dich ☃.zip"),
        "attachment; filename=\"Fotos f_r dich _.zip\"; \
         filename*=UTF-8''Fotos%20f%C3%BCr%20dich%20%E2%98%83.zip"
    );
}

#[test]
fn content_disposition_sanitises_and_escapes() {
    assert_eq!(
        content_disposition("a\"b;c%41\\d.zip"),
        "attachment; filename=\"a_b;c_41_d.zip\"; filename*=UTF-8''a_b%3Bc%2541_d.zip"
    );
    // The attr-chars of RFC 5987 are kept as they are.
    assert!(content_disposition("!#$&+-.^_`|~.zip").ends_with("UTF-8''!#$&+-.^_`|~.zip"));
}

// === properties ===

/// Raw paths built from a small alphabet, so that '..', '.', separators, drives and duplicates are common.
fn raw_path() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("a".to_owned()),
            Just("b.txt".to_owned()),
            Just("a (1)".to_owned()),
            Just(".".to_owned()),
            Just("..".to_owned()),
            Just("".to_owned()),
            Just("C:".to_owned()),
            Just("é".to_owned()),
            "[a-c. ]{1,4}",
        ],
        1..5,
    )
    .prop_flat_map(|segments| {
        let joined = segments.join("/");
        prop_oneof![
            Just(joined.clone()),
            Just(joined.replace('/', "\\")),
            Just(format!("{joined}/")),
            Just(format!("/{joined}")),
        ]
    })
}

/// Checks what every deduped list must satisfy: unique, safe, no file/directory clobbering.
fn assert_clean(names: &[String]) {
    let stems: Vec<&str> = names
        .iter()
        .map(|n| n.strip_suffix('/').unwrap_or(n))
        .collect();
    let unique: HashSet<&str> = stems.iter().copied().collect();
    assert_eq!(unique.len(), names.len(), "not unique: {names:?}");
    for name in names {
        assert!(!name.starts_with('/'), "{name}");
        assert!(!name.split('/').any(|s| s == ".."), "{name}");
        assert!(!name.contains("//"), "{name}");
    }
    for (name, stem) in names.iter().zip(&stems) {
        if !name.ends_with('/') {
            let prefix = format!("{stem}/");
            assert!(
                !names.iter().any(|other| other.starts_with(&prefix)),
                "file {name} is also a directory in {names:?}"
            );
        }
    }
}

/// Every directory of a list of names, explicit or implied, without its trailing '/'.
fn implied_directories(names: &[String]) -> HashSet<&str> {
    let mut dirs = HashSet::new();
    for name in names {
        let stem = name.strip_suffix('/').unwrap_or(name);
        if name.ends_with('/') {
            dirs.insert(stem);
        }
        for (i, _) in stem.match_indices('/') {
            dirs.insert(&stem[..i]);
        }
    }
    dirs
}

/// The rename rule written the slow, obvious way: count from 1 for every rename.
fn naive_dedupe(names: &[String]) -> Vec<String> {
    let directories = implied_directories(names);
    let mut taken: HashSet<String> = names
        .iter()
        .map(|n| n.trim_end_matches('/').to_owned())
        .chain(directories.iter().map(|d| (*d).to_owned()))
        .collect();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for name in names {
        let is_dir = name.ends_with('/');
        let stem = name.trim_end_matches('/');
        let clobbered = !is_dir && directories.contains(stem);
        if !clobbered && seen.insert(name.clone()) {
            out.push(name.clone());
            continue;
        }
        let renamed = (1..)
            .map(|n| with_suffix(stem, is_dir, n))
            .find(|c| !taken.contains(c))
            .expect("some n is free");
        taken.insert(renamed.clone());
        out.push(if is_dir { renamed + "/" } else { renamed });
    }
    out
}

proptest! {
    #[test]
    fn normalised_names_are_safe(raw in raw_path()) {
        if let Ok((name, is_dir)) = normalize_path(&raw) {
            prop_assert!(!name.starts_with('/'));
            prop_assert!(!name.split('/').any(|s| s == ".." || s == "."));
            prop_assert!(!name.contains('\\'));
            prop_assert_eq!(name.ends_with('/'), is_dir);
            prop_assert!(!name.trim_end_matches('/').split('/').any(str::is_empty));
            // Normalising again changes nothing.
            prop_assert_eq!(normalize_path(&name), Ok((name.clone(), is_dir)));
        }
    }

    #[test]
    fn normalize_never_panics(raw in any::<String>()) {
        let _ = normalize_path(&raw);
    }

    #[test]
    fn deduped_names_are_unique_safe_and_deterministic(raws in prop::collection::vec(raw_path(), 0..40)) {
        let names: Vec<String> = raws.iter().filter_map(|r| normalize_path(r).ok()).map(|(n, _)| n).collect();
        let mut first = names.clone();
        dedupe(&mut first).expect("short names always fit");
        assert_clean(&first);
        let mut second = names.clone();
        dedupe(&mut second).expect("short names always fit");
        prop_assert_eq!(&first, &second);
        prop_assert_eq!(&first, &naive_dedupe(&names));
        // Deduping a clean list changes nothing.
        let mut again = first.clone();
        dedupe(&mut again).expect("short names always fit");
        prop_assert_eq!(&again, &first);
    }

    #[test]
    fn only_duplicates_and_clobbered_files_are_renamed(raws in prop::collection::vec(raw_path(), 0..40)) {
        let names: Vec<String> = raws.iter().filter_map(|r| normalize_path(r).ok()).map(|(n, _)| n).collect();
        let mut out = names.clone();
        dedupe(&mut out).expect("short names always fit");
        let directories = implied_directories(&names);
        let mut seen = HashSet::new();
        for (before, after) in names.iter().zip(&out) {
            let clobbered = !before.ends_with('/') && directories.contains(before.as_str());
            let keeps = !clobbered && seen.insert(before.clone());
            prop_assert_eq!(keeps, before == after, "{} -> {}", before, after);
            // A rename keeps the kind and the parent directory.
            let parent = |n: &str| n.trim_end_matches('/').rfind('/').map(|i| n[..i].to_owned());
            prop_assert_eq!(before.ends_with('/'), after.ends_with('/'));
            prop_assert_eq!(parent(before), parent(after));
        }
    }

    #[test]
    fn deep_paths_dedupe_like_the_obvious_rule(
        paths in prop::collection::vec(
            (prop::collection::vec(prop_oneof![Just("a"), Just("b"), Just("a.txt")], 1..40), any::<bool>()),
            0..30,
        )
    ) {
        let names: Vec<String> = paths
            .iter()
            .map(|(segments, dir)| segments.join("/") + if *dir { "/" } else { "" })
            .collect();
        let mut out = names.clone();
        dedupe(&mut out).expect("short names always fit");
        assert_clean(&out);
        prop_assert_eq!(&out, &naive_dedupe(&names));
    }

    #[test]
    fn content_disposition_is_always_a_valid_header_value(name in any::<String>()) {
        let value = content_disposition(&name);
        prop_assert!(http::HeaderValue::from_str(&value).is_ok(), "{}", value);
        prop_assert!(value.bytes().all(|b| (0x20..0x7f).contains(&b)));
    }
}
