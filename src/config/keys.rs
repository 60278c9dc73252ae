//! The `[keys]` table and `ZIPPER_KEYS`: the signing keys and where each secret comes from (inline,
//! `{ env = "VAR" }`, `{ file = "/path" }`). Errors name a key by its id or its position, never by its secret.

use super::load::Loader;
use super::setting_names;
use super::suggest::closest;
use super::ENV_KEYS;
use crate::core::keys::{truncate_for_message, KeyId, KeySet, Secret};

impl Loader<'_> {
    pub(super) fn keys(&mut self, file: Option<toml::Value>) -> KeySet {
        // Variables named by `{ env = … }` are zipper's to read, even when ZIPPER_KEYS replaces the table.
        if let Some(toml::Value::Table(table)) = &file {
            let named = table.values().filter_map(|v| v.get("env")?.as_str());
            self.referenced_env.extend(named.map(str::to_owned));
        }
        let keys = if let Some((name, text)) = self.env_value("keys") {
            self.keys_from_env(&name, &text)
        } else if let Some(value) = file {
            self.keys_from_file(value)
        } else {
            KeySet::new()
        };
        if keys.is_empty() && self.errors.iter().all(|e| !e.is_about_keys()) {
            self.error(
                "keys".into(),
                format!(
                    "no signing keys configured: add a [keys] table (id = \"secret\") to the config file \
                     or set {ENV_KEYS}=id:secret"
                ),
            );
        }
        keys
    }

    /// `id:secret,id2:secret2`. Entries are split at every `,`, so a secret containing `,` cannot be given
    /// here: what follows the comma would be read as another entry. An entry that is not `id:secret` is
    /// refused, and because any of its bytes may belong to a secret, errors name the entry by position only
    /// (never its id, never any of its bytes) and point to the config file's `{ env = … }` / `{ file = … }`
    /// forms, which carry any secret.
    fn keys_from_env(&mut self, name: &str, text: &str) -> KeySet {
        const ANY_SECRET: &str = "a secret containing ',' cannot be given in this variable: put it in \
             the config file's [keys] table as id = { env = \"VARIABLE\" } or id = { file = \"/path\" }";
        let mut keys = KeySet::new();
        for (i, entry) in text.split(',').enumerate() {
            let n = i + 1;
            let problem = match entry.split_once(':') {
                None => Some("is not id:secret (no ':')"),
                Some((id, secret)) => match (KeyId::parse(id), Secret::new(secret)) {
                    (Err(_), _) => Some(
                        "does not start with a key id (1 to 32 characters of A-Z, a-z, 0-9, '_' \
                         and '-') followed by ':'",
                    ),
                    (Ok(_), None) => Some("has an empty secret"),
                    (Ok(id), Some(secret)) => match keys.insert(id, secret) {
                        Ok(()) => None,
                        Err(_) => Some("repeats the key id of an earlier entry"),
                    },
                },
            };
            if let Some(problem) = problem {
                self.error(
                    name.to_owned(),
                    format!(
                        "entry {n} {problem} (expected id:secret,id2:secret2; entries are split at \
                         every ','; {ANY_SECRET})"
                    ),
                );
            }
        }
        keys
    }

    fn keys_from_file(&mut self, value: toml::Value) -> KeySet {
        let mut keys = KeySet::new();
        let toml::Value::Table(table) = value else {
            self.error(
                format!("{}: keys", self.file_name),
                "must be a table of key id = secret".into(),
            );
            return keys;
        };
        for (id, value) in table {
            let place = format!("{}: keys.{}", self.file_name, truncate_for_message(&id));
            if let Some(problem) = looks_like_a_setting(&id, &value) {
                self.error(place, problem);
                continue;
            }
            let result = KeyId::parse(&id)
                .map_err(|e| e.to_string())
                .and_then(|key_id| {
                    let secret = self.secret_from(&id, value)?;
                    keys.insert(key_id, secret).map_err(|e| e.to_string())
                });
            if let Err(message) = result {
                self.error(place, message);
            }
        }
        keys
    }

    /// A secret given inline, as `{ env = "VAR" }` or as `{ file = "/path" }`.
    fn secret_from(&self, id: &str, value: toml::Value) -> Result<Secret, String> {
        const SHAPES: &str =
            "expected \"secret\", { env = \"VARIABLE\" } or { file = \"/path/to/secret\" }";
        let empty = || format!("the secret of key id \"{id}\" is empty");
        let table = match value {
            toml::Value::String(s) => return Secret::new(s).ok_or_else(empty),
            toml::Value::Table(t) => t,
            _ => return Err(SHAPES.into()),
        };
        let mut fields = table.into_iter();
        match (fields.next(), fields.next()) {
            (Some((kind, toml::Value::String(target))), None) if kind == "env" => {
                let value = self
                    .env
                    .var(&target)
                    .ok_or_else(|| format!("environment variable {target} is not set"))?;
                Secret::from_file_contents(value.into_bytes()).ok_or_else(empty)
            }
            (Some((kind, toml::Value::String(target))), None) if kind == "file" => {
                let path = self.base_dir.join(&target);
                let bytes = std::fs::read(&path)
                    .map_err(|e| format!("cannot read secret file \"{}\": {e}", path.display()))?;
                Secret::from_file_contents(bytes).ok_or_else(empty)
            }
            _ => Err(SHAPES.into()),
        }
    }
}

/// A `[keys]` entry that is most likely a setting written after the `[keys]` line (in TOML every line
/// after a table header belongs to that table): its id is a setting's name, or it is not a secret by any
/// documented form (a string, `{ env = … }`, `{ file = … }`) and its id is close to a setting's name.
fn looks_like_a_setting(id: &str, value: &toml::Value) -> Option<String> {
    const MOVE: &str = "move it above the [keys] line (in TOML every line after [keys] belongs to \
                        that table, so settings go before it)";
    if id != "keys" && setting_names().any(|name| name == id) {
        return Some(format!(
            "`{id}` under [keys] looks like a setting, not a signing key: {MOVE}"
        ));
    }
    let is_secret_form = matches!(value, toml::Value::String(_) | toml::Value::Table(_));
    match closest(id, setting_names().filter(|name| *name != "keys")) {
        Some(name) if !is_secret_form => Some(format!(
            "is not a secret (expected \"secret\", {{ env = \"VARIABLE\" }} or {{ file = \"/path\" }}); it \
             looks like the setting {name}: {MOVE}"
        )),
        _ => None,
    }
}
