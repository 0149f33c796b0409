//! The manifest: which files each model needs, where they come from and what is known about
//! them, parsed and validated from the compiled-in `weights/manifest.toml`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Deserialize;

use super::WeightsError;

/// The manifest, as committed in `weights/manifest.toml`.
pub const MANIFEST_TOML: &str = include_str!("../../weights/manifest.toml");

/// The manifest schema this build understands.
const SCHEMA_VERSION: u32 = 1;

/// What the program does with a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileRole {
    /// Tensors, read by [`Checkpoint`].
    Checkpoint,
    /// A JSON object describing the network's shape.
    Config,
}

impl std::fmt::Display for FileRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Checkpoint => "checkpoint",
            Self::Config => "config",
        })
    }
}

/// Which engine a model serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// BigGAN-deep generators.
    Biggan,
    /// The DeepDream classifier.
    Deepdream,
}

/// What the manifest knows about a file's SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedSha256<'a> {
    /// The whole hash, lowercase hex.
    Full(&'a str),
    /// Only its first hex digits (e.g. from torch.hub's file name convention).
    Prefix(&'a str),
    /// Nothing.
    Unknown,
}

/// One file of a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// The model it belongs to, which names its folder.
    pub model_id: String,
    /// What the program does with it.
    pub role: FileRole,
    /// Its name in the model's folder (the names the original loaders use, e.g. `config.json`).
    pub name: String,
    /// Where to get it, tried in order.
    pub urls: Vec<String>,
    /// Its exact length, when a source states it.
    pub size_bytes: Option<u64>,
    /// Its full SHA-256 in lowercase hex, when a source states it.
    pub sha256: Option<String>,
    /// The start of its SHA-256 in lowercase hex, when only that is known.
    pub sha256_prefix: Option<String>,
}

impl FileEntry {
    /// The strongest hash knowledge the manifest has for this file.
    pub fn expected_sha256(&self) -> ExpectedSha256<'_> {
        match (&self.sha256, &self.sha256_prefix) {
            (Some(full), _) => ExpectedSha256::Full(full),
            (None, Some(prefix)) => ExpectedSha256::Prefix(prefix),
            (None, None) => ExpectedSha256::Unknown,
        }
    }

    /// Where this file lives: `<weights_dir>/<model id>/<name>`.
    pub fn path_in(&self, weights_dir: &Path) -> PathBuf {
        weights_dir.join(&self.model_id).join(&self.name)
    }
}

/// One model: the files it needs and where they come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelEntry {
    /// Its name on the command line, e.g. `biggan-deep-128`.
    pub id: String,
    /// The engine that uses it.
    pub engine: Engine,
    /// One line for listings.
    pub description: String,
    /// The licence situation as far as the sources state it.
    pub licence: String,
    /// Its files, at most one per role.
    pub files: Vec<FileEntry>,
}

impl ModelEntry {
    /// The model's folder: `<weights_dir>/<model id>`, holding all its files (and whatever a
    /// loader derives from them, such as a converted checkpoint).
    pub fn dir_in(&self, weights_dir: &Path) -> PathBuf {
        weights_dir.join(&self.id)
    }

    /// The file with `role`, if the model has one.
    pub fn file(&self, role: FileRole) -> Option<&FileEntry> {
        self.files.iter().find(|file| file.role == role)
    }
}

/// The list of model files this build knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The models, in manifest order.
    models: Vec<ModelEntry>,
}

/// `manifest.toml` as written, before validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    /// Must equal [`SCHEMA_VERSION`].
    schema: u32,
    /// The `[[models]]` tables.
    models: Vec<RawModel>,
}

/// One `[[models]]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    /// See [`ModelEntry::id`].
    id: String,
    /// See [`ModelEntry::engine`].
    engine: Engine,
    /// See [`ModelEntry::description`].
    description: String,
    /// See [`ModelEntry::licence`].
    licence: String,
    /// The `[[models.files]]` tables.
    files: Vec<RawFile>,
}

/// One `[[models.files]]` table as written; empty strings mean "unknown".
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    /// See [`FileEntry::role`].
    role: FileRole,
    /// See [`FileEntry::name`].
    name: String,
    /// See [`FileEntry::urls`].
    urls: Vec<String>,
    /// See [`FileEntry::size_bytes`].
    size_bytes: Option<u64>,
    /// See [`FileEntry::sha256`]; "" when unknown.
    sha256: String,
    /// See [`FileEntry::sha256_prefix`]; "" when unknown.
    sha256_prefix: String,
}

/// Whether `text` is non-empty lowercase hex of at most `max_len` digits.
fn is_lower_hex(text: &str, max_len: usize) -> bool {
    !text.is_empty()
        && text.len() <= max_len
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A file or folder name that cannot escape the weights folder or hide in it.
fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.contains(['/', '\\', ':'])
        && name.chars().all(|c| !c.is_control())
}

impl Manifest {
    /// The manifest compiled into this build.
    pub fn embedded() -> Result<&'static Manifest, WeightsError> {
        static EMBEDDED: OnceLock<Result<Manifest, String>> = OnceLock::new();
        EMBEDDED
            .get_or_init(|| Manifest::parse(MANIFEST_TOML).map_err(|err| err.to_string()))
            .as_ref()
            .map_err(|reason| WeightsError::InvalidManifest {
                reason: reason.clone(),
            })
    }

    /// Parses and validates manifest text.
    pub fn parse(text: &str) -> Result<Manifest, WeightsError> {
        let invalid = |reason: String| WeightsError::InvalidManifest { reason };
        let raw: RawManifest = toml::from_str(text).map_err(|err| invalid(err.to_string()))?;
        if raw.schema != SCHEMA_VERSION {
            return Err(invalid(format!(
                "schema {} is not supported (this build reads schema {SCHEMA_VERSION})",
                raw.schema
            )));
        }
        let mut models = Vec::with_capacity(raw.models.len());
        for raw_model in raw.models {
            let id = raw_model.id;
            if !is_plain_file_name(&id) || models.iter().any(|model: &ModelEntry| model.id == id) {
                return Err(invalid(format!(
                    "model id `{id}` is repeated or not usable as a folder name"
                )));
            }
            if raw_model.files.is_empty() {
                return Err(invalid(format!("model `{id}` lists no files")));
            }
            let mut files: Vec<FileEntry> = Vec::with_capacity(raw_model.files.len());
            for raw_file in raw_model.files {
                let name = raw_file.name;
                let context = format!("file `{name}` of model `{id}`");
                if !is_plain_file_name(&name) {
                    return Err(invalid(format!("{context}: not a plain file name")));
                }
                if files.iter().any(|file| file.name == name) {
                    return Err(invalid(format!("{context}: the name is used twice")));
                }
                if files.iter().any(|file| file.role == raw_file.role) {
                    return Err(invalid(format!(
                        "{context}: a second {} file for the model",
                        raw_file.role
                    )));
                }
                if raw_file.urls.is_empty() {
                    return Err(invalid(format!("{context}: no urls")));
                }
                if let Some(url) = raw_file
                    .urls
                    .iter()
                    .find(|url| !url.starts_with("https://") && !url.starts_with("http://"))
                {
                    return Err(invalid(format!("{context}: `{url}` is not an HTTP(S) URL")));
                }
                let sha256 = (!raw_file.sha256.is_empty()).then_some(raw_file.sha256);
                let sha256_prefix =
                    (!raw_file.sha256_prefix.is_empty()).then_some(raw_file.sha256_prefix);
                if let Some(full) = &sha256 {
                    if full.len() != 64 || !is_lower_hex(full, 64) {
                        return Err(invalid(format!(
                            "{context}: sha256 must be 64 lowercase hex digits"
                        )));
                    }
                }
                if let Some(prefix) = &sha256_prefix {
                    if !is_lower_hex(prefix, 64) {
                        return Err(invalid(format!(
                            "{context}: sha256_prefix must be lowercase hex digits"
                        )));
                    }
                    if sha256
                        .as_ref()
                        .is_some_and(|full| !full.starts_with(prefix))
                    {
                        return Err(invalid(format!(
                            "{context}: sha256 does not start with sha256_prefix"
                        )));
                    }
                }
                files.push(FileEntry {
                    model_id: id.clone(),
                    role: raw_file.role,
                    name,
                    urls: raw_file.urls,
                    size_bytes: raw_file.size_bytes,
                    sha256,
                    sha256_prefix,
                });
            }
            models.push(ModelEntry {
                id,
                engine: raw_model.engine,
                description: raw_model.description,
                licence: raw_model.licence,
                files,
            });
        }
        Ok(Manifest { models })
    }

    /// Every model, in manifest order.
    pub fn models(&self) -> &[ModelEntry] {
        &self.models
    }

    /// The model called `id`.
    pub fn model(&self, id: &str) -> Result<&ModelEntry, WeightsError> {
        self.models
            .iter()
            .find(|model| model.id == id)
            .ok_or_else(|| WeightsError::UnknownModel {
                name: id.to_owned(),
                known: self
                    .models
                    .iter()
                    .map(|model| model.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_validation_names_the_problem() {
        let file = |extra: &str| {
            format!(
                "schema = 1\n[[models]]\nid = \"m\"\nengine = \"biggan\"\ndescription = \"d\"\n\
                 licence = \"l\"\n[[models.files]]\nrole = \"config\"\nname = \"m.json\"\n\
                 urls = [\"https://example.invalid/m.json\"]\n{extra}"
            )
        };
        assert!(Manifest::parse(&file("sha256 = \"\"\nsha256_prefix = \"\"")).is_ok());
        let cases = [
            ("sha256 = \"ABC\"\nsha256_prefix = \"\"", "64 lowercase hex"),
            ("sha256 = \"\"\nsha256_prefix = \"xyz\"", "lowercase hex"),
            (
                "sha256 = \"b86146a8cfcde4cda135adba4b2806f78b3abe2dac9d0fd090cc3ab318604ad9\"\n\
                 sha256_prefix = \"1378be20\"",
                "does not start with",
            ),
            ("sha256 = \"\"\nsha256_prefix = \"\"\ncolour = 1", "colour"),
        ];
        for (extra, expected) in cases {
            let err = Manifest::parse(&file(extra)).unwrap_err().to_string();
            assert!(err.contains(expected), "{extra:?}: {err}");
        }
        let escaping = file("sha256 = \"\"\nsha256_prefix = \"\"").replace("m.json", "../m.json");
        let err = Manifest::parse(&escaping).unwrap_err().to_string();
        assert!(err.contains("plain file name"), "{err}");
    }

    #[test]
    fn unknown_model_lists_the_known_ones() {
        let manifest = Manifest::embedded().unwrap();
        let err = manifest.model("biggan-deep-1024").unwrap_err().to_string();
        assert!(
            err.contains("biggan-deep-128") && err.contains("googlenet"),
            "{err}"
        );
    }
}
