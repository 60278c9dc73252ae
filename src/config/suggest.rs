//! "Did you mean …?": the known name closest to a misspelt one (an unknown file key, an unknown `ZIPPER_*`
//! variable, a setting written under `[keys]`). Pure string math; it knows no setting names itself.

/// The Levenshtein distance between `a` and `b` (insertions, deletions and substitutions of characters),
/// and the smallest distance between `a` and any prefix of `b` (so an abbreviation such as
/// `max_concurent` is close to `max_concurrent_downloads`).
fn distances(a: &str, b: &str) -> (usize, usize) {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Column j of the table is the distance between the first i characters of `a` and b[..j]; after the
    // last row, `row[j]` is the distance between all of `a` and b[..j].
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    let full = row[b.len()];
    let prefix = row.iter().copied().min().unwrap_or(full);
    (full, prefix)
}

/// The Levenshtein distance between `a` and `b`.
#[cfg(test)]
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    distances(a, b).0
}

/// The candidate closest to `word` (case-insensitive), if any is close enough to be a likely typo: at most
/// a third of the word's length in edits (at least 2), counting a prefix of the candidate as one edit more
/// than a whole match. Ties go to the whole-word distance, then to the earlier candidate.
pub(super) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| {
            let (full, prefix) = distances(&word, &c.to_ascii_lowercase());
            ((full.min(prefix + 1), full), c)
        })
        .filter(|((score, _), _)| *score <= limit)
        .min_by_key(|(score, _)| *score)
        .map(|(_, c)| c)
}
