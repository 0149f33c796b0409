//! Weights: the embedded manifest, checking files, and downloading over real HTTP from a loopback
//! server (no network needed: the server runs in the test process and serves bytes the tests
//! make up).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use deep_visualizer::weights::{
    check_file, ensure_model_installed_in, locate_in, Assurance, CheckDepth, DownloadPolicy,
    Downloader, FetchError, FileRole, FileStatus, InstallProgress, Manifest, Mismatch,
    NotInstalledReason, Progress, WeightsError,
};
use sha2::{Digest, Sha256};

/// What the loopback server does for one path.
#[derive(Clone)]
enum Route {
    /// 200 with a `Content-Length`.
    Serve(Vec<u8>),
    /// 200 without a length: the body ends when the connection closes.
    ServeUntilClose(Vec<u8>),
    /// 200 announcing `announced_bytes` but sending only `body`, then closing.
    Truncated {
        /// The `Content-Length` sent.
        announced_bytes: usize,
        /// What is actually sent.
        body: Vec<u8>,
    },
    /// A bare status with an HTML body, like real servers' error pages.
    Status(u16),
    /// 302 to another path on the same server.
    Redirect(String),
}

/// A tiny HTTP/1.1 server on 127.0.0.1 that records which paths were asked for.
struct Server {
    /// `http://127.0.0.1:PORT`.
    base_url: String,
    /// Requested paths, in order.
    requests: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts serving `routes` (path -> behaviour); unknown paths get 404.
    fn start(routes: &[(&str, Route)]) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let routes: HashMap<String, Route> = routes
            .iter()
            .map(|(path, route)| ((*path).to_owned(), route.clone()))
            .collect();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        // The thread lives until the test binary exits; each test has its own port.
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let path = serve_one(stream, &routes);
                log.lock().unwrap().push(path);
            }
        });
        Server { base_url, requests }
    }

    /// The URL of `path` on this server.
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Paths requested so far.
    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// Answers one request on `stream` and returns its path. Every answer closes the connection.
fn serve_one(mut stream: TcpStream, routes: &HashMap<String, Route>) -> String {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    reader.read_line(&mut request_line).unwrap();
    // Read the headers to the blank line; the client does not send a body with GET.
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
            break;
        }
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_owned();
    let route = routes.get(&path).cloned().unwrap_or(Route::Status(404));
    let (head, body): (String, Vec<u8>) = match route {
        Route::Serve(body) => (
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            ),
            body,
        ),
        Route::ServeUntilClose(body) => {
            ("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".into(), body)
        }
        Route::Truncated {
            announced_bytes,
            body,
        } => (
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {announced_bytes}\r\nConnection: close\r\n\r\n"
            ),
            body,
        ),
        Route::Status(status) => {
            let body = format!("<html><body>error {status}</body></html>").into_bytes();
            (
                format!(
                    "HTTP/1.1 {status} Whatever\r\nContent-Type: text/html\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                ),
                body,
            )
        }
        Route::Redirect(to) => (
            format!(
                "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\n\
                 Connection: close\r\n\r\n"
            ),
            Vec::new(),
        ),
    };
    // A client that gave up early makes these fail; that is its business, not the server's.
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
    let _ = stream.flush();
    path
}

/// Deterministic, incompressible-looking bytes (a 64-bit LCG), several download chunks long.
fn pseudo_random_bytes(num_bytes: usize, seed: u64) -> Vec<u8> {
    let mut state = seed;
    (0..num_bytes)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 56) as u8
        })
        .collect()
}

/// SHA-256 in lowercase hex.
fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A one-model manifest with one file whose pins are given as TOML lines.
fn manifest_with(role: &str, name: &str, urls: &[String], pins: &str) -> Manifest {
    let urls = urls
        .iter()
        .map(|url| format!("\"{url}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let text = format!(
        "schema = 1\n[[models]]\nid = \"test-model\"\nengine = \"biggan\"\n\
         description = \"test\"\nlicence = \"test\"\n[[models.files]]\nrole = \"{role}\"\n\
         name = \"{name}\"\nurls = [{urls}]\n{pins}\n"
    );
    Manifest::parse(&text).unwrap()
}

/// Names of everything in `dir`, hidden files included, sorted.
fn dir_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A real safetensors checkpoint with one small tensor.
fn tiny_safetensors() -> Vec<u8> {
    let values: Vec<u8> = [1.0f32, -2.0, 0.5, 4.0]
        .iter()
        .flat_map(|value| value.to_le_bytes())
        .collect();
    let view =
        safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![2, 2], &values).unwrap();
    safetensors::tensor::serialize([("weight", view)], None).unwrap()
}

/// Runs a download, returning the result and the progress events' final byte count.
fn download(
    manifest: &Manifest,
    dir: &Path,
) -> (
    Result<deep_visualizer::weights::Downloaded, WeightsError>,
    Vec<Option<u64>>,
    u64,
) {
    let file = &manifest.models()[0].files[0];
    let mut announced = Vec::new();
    let mut last_done_bytes = 0;
    let result = Downloader::new().download(file, dir, &mut |progress| match progress {
        Progress::Started { total_bytes, .. } => announced.push(total_bytes),
        Progress::Received { done_bytes } => last_done_bytes = done_bytes,
    });
    (result, announced, last_done_bytes)
}

/// The only failed attempt's error, or a panic that shows the whole result.
fn single_failure(
    result: Result<deep_visualizer::weights::Downloaded, WeightsError>,
) -> (FetchError, String) {
    match result {
        Err(err @ WeightsError::DownloadFailed { .. }) => {
            let message = err.to_string();
            let WeightsError::DownloadFailed { mut attempts, .. } = err else {
                unreachable!()
            };
            assert_eq!(attempts.len(), 1, "{message}");
            (attempts.remove(0).error, message)
        }
        other => panic!("expected DownloadFailed, got {other:?}"),
    }
}

#[test]
fn embedded_manifest_lists_every_model_file_with_https_sources() {
    let manifest = Manifest::embedded().unwrap();
    let ids: Vec<&str> = manifest.models().iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "biggan-deep-128",
            "biggan-deep-256",
            "biggan-deep-512",
            "googlenet"
        ]
    );
    // Each model in its own folder, under the names the original loaders use.
    let paths: Vec<PathBuf> = manifest
        .models()
        .iter()
        .flat_map(|model| model.files.iter().map(|file| file.path_in(Path::new("W"))))
        .collect();
    assert_eq!(
        paths,
        [
            "W/biggan-deep-128/config.json",
            "W/biggan-deep-128/pytorch_model.bin",
            "W/biggan-deep-256/config.json",
            "W/biggan-deep-256/pytorch_model.bin",
            "W/biggan-deep-512/config.json",
            "W/biggan-deep-512/pytorch_model.bin",
            "W/googlenet/googlenet-1378be20.pth",
        ]
        .map(PathBuf::from)
    );
    for model in manifest.models() {
        assert!(model.file(FileRole::Checkpoint).is_some(), "{}", model.id);
        for file in &model.files {
            assert!(!file.urls.is_empty(), "{}", file.name);
            for url in &file.urls {
                assert!(url.starts_with("https://"), "{}: {url}", file.name);
            }
        }
    }
    // The pins the sources state (see the comments in weights/manifest.toml).
    let biggan_128 = manifest.model("biggan-deep-128").unwrap();
    let checkpoint = biggan_128.file(FileRole::Checkpoint).unwrap();
    assert_eq!(
        checkpoint.sha256.as_deref(),
        Some("b86146a8cfcde4cda135adba4b2806f78b3abe2dac9d0fd090cc3ab318604ad9")
    );
    assert_eq!(
        biggan_128.file(FileRole::Config).unwrap().size_bytes,
        Some(630)
    );
    let googlenet = manifest.model("googlenet").unwrap().files[0].clone();
    assert_eq!(googlenet.sha256, None);
    // torch.hub's convention: the file name carries the hash's first 8 hex digits.
    assert_eq!(googlenet.sha256_prefix.as_deref(), Some("1378be20"));
    assert!(googlenet.name.contains("1378be20"));
    assert_eq!(
        googlenet.urls,
        ["https://download.pytorch.org/models/googlenet-1378be20.pth"]
    );
}

#[test]
fn download_streams_verifies_and_renames_into_place() {
    // 1 MB + a bit: several read chunks, and a length that is no power of two.
    let body = pseudo_random_bytes(1_000_003, 7);
    let server = Server::start(&[("/model.bin", Route::Serve(body.clone()))]);
    let manifest = manifest_with(
        "config",
        "model.bin",
        &[server.url("/model.bin")],
        &format!(
            "size_bytes = {}\nsha256 = \"{}\"\nsha256_prefix = \"\"",
            body.len(),
            sha256_hex(&body)
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let weights_dir = dir.path().join("not/yet/there");
    let (result, announced, last_done_bytes) = download(&manifest, &weights_dir);
    let downloaded = result.unwrap();
    assert_eq!(downloaded.assurance, Assurance::Pinned);
    assert_eq!(downloaded.num_bytes, body.len() as u64);
    assert_eq!(downloaded.sha256, sha256_hex(&body));
    assert_eq!(downloaded.path, weights_dir.join("test-model/model.bin"));
    assert_eq!(std::fs::read(&downloaded.path).unwrap(), body);
    // No temporary file is left next to it.
    assert_eq!(dir_entries(&weights_dir), ["test-model"]);
    assert_eq!(dir_entries(&weights_dir.join("test-model")), ["model.bin"]);
    assert_eq!(announced, [Some(body.len() as u64)]);
    assert_eq!(last_done_bytes, body.len() as u64);
}

#[test]
fn pinned_hash_is_checked_against_an_independent_known_value() {
    // FIPS 180-2's example: SHA-256("abc").
    let server = Server::start(&[("/abc", Route::Serve(b"abc".to_vec()))]);
    let manifest = manifest_with(
        "checkpoint",
        "abc.bin",
        &[server.url("/abc")],
        "sha256 = \"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"\n\
         sha256_prefix = \"\"",
    );
    let dir = tempfile::tempdir().unwrap();
    // A pinned full hash vouches for the bytes; "abc" is no checkpoint, but need not parse.
    let downloaded = download(&manifest, dir.path()).0.unwrap();
    assert_eq!(downloaded.assurance, Assurance::Pinned);
}

#[test]
fn wrong_hash_fails_and_leaves_an_older_copy_untouched() {
    let body = pseudo_random_bytes(300_000, 1);
    let server = Server::start(&[("/model.bin", Route::Serve(body.clone()))]);
    let pinned = sha256_hex(b"the file the manifest means");
    let manifest = manifest_with(
        "checkpoint",
        "model.bin",
        &[server.url("/model.bin")],
        &format!("sha256 = \"{pinned}\"\nsha256_prefix = \"\""),
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("test-model")).unwrap();
    std::fs::write(dir.path().join("test-model/model.bin"), b"older copy").unwrap();
    let (error, message) = single_failure(download(&manifest, dir.path()).0);
    match error {
        FetchError::Mismatch(Mismatch::Sha256 { expected, actual }) => {
            assert_eq!(expected, pinned);
            assert_eq!(actual, sha256_hex(&body));
        }
        other => panic!("expected a SHA-256 mismatch, got {other:?}"),
    }
    assert!(message.contains("Nothing was written"), "{message}");
    assert!(message.contains("weights/README.md"), "{message}");
    assert_eq!(dir_entries(&dir.path().join("test-model")), ["model.bin"]);
    assert_eq!(
        std::fs::read(dir.path().join("test-model/model.bin")).unwrap(),
        b"older copy"
    );
}

#[test]
fn connection_closed_before_the_announced_length_fails_and_leaves_nothing() {
    let body = pseudo_random_bytes(200_000, 2);
    let server = Server::start(&[(
        "/model.bin",
        Route::Truncated {
            announced_bytes: body.len(),
            body: body[..150_000].to_vec(),
        },
    )]);
    // Nothing pinned: only the transport can notice the missing bytes.
    let manifest = manifest_with(
        "checkpoint",
        "model.bin",
        &[server.url("/model.bin")],
        "sha256 = \"\"\nsha256_prefix = \"\"",
    );
    let dir = tempfile::tempdir().unwrap();
    let (error, message) = single_failure(download(&manifest, dir.path()).0);
    match error {
        FetchError::Interrupted { received_bytes, .. } => {
            assert!(received_bytes <= 150_000, "{received_bytes}")
        }
        other => panic!("expected an interrupted transfer, got {other:?}"),
    }
    assert!(message.contains("broke off"), "{message}");
    assert!(
        dir_entries(&dir.path().join("test-model")).is_empty(),
        "{:?}",
        dir_entries(&dir.path().join("test-model"))
    );
}

#[test]
fn short_body_without_a_length_fails_the_pinned_size_and_leaves_nothing() {
    let body = pseudo_random_bytes(100_000, 3);
    let server = Server::start(&[(
        "/model.bin",
        Route::ServeUntilClose(body[..60_000].to_vec()),
    )]);
    let manifest = manifest_with(
        "checkpoint",
        "model.bin",
        &[server.url("/model.bin")],
        &format!(
            "size_bytes = {}\nsha256 = \"{}\"\nsha256_prefix = \"\"",
            body.len(),
            sha256_hex(&body)
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let (error, _) = single_failure(download(&manifest, dir.path()).0);
    assert_eq!(
        format!("{error:?}"),
        format!(
            "{:?}",
            FetchError::Mismatch(Mismatch::Size {
                expected_bytes: 100_000,
                actual_bytes: 60_000
            })
        )
    );
    assert!(
        dir_entries(&dir.path().join("test-model")).is_empty(),
        "{:?}",
        dir_entries(&dir.path().join("test-model"))
    );
}

#[test]
fn announced_length_that_contradicts_the_pinned_size_fails_before_the_body() {
    let body = pseudo_random_bytes(50_000, 4);
    let server = Server::start(&[("/model.bin", Route::Serve(body))]);
    let manifest = manifest_with(
        "checkpoint",
        "model.bin",
        &[server.url("/model.bin")],
        "size_bytes = 12345\nsha256 = \"\"\nsha256_prefix = \"\"",
    );
    let dir = tempfile::tempdir().unwrap();
    let (result, announced, _) = download(&manifest, dir.path());
    let (error, _) = single_failure(result);
    assert!(
        matches!(
            error,
            FetchError::Mismatch(Mismatch::Size {
                expected_bytes: 12345,
                actual_bytes: 50_000
            })
        ),
        "{error:?}"
    );
    // It never started receiving the body.
    assert!(announced.is_empty());
    assert!(dir_entries(&dir.path().join("test-model")).is_empty());
}

#[test]
fn not_found_is_a_clear_error() {
    let server = Server::start(&[]);
    let manifest = manifest_with(
        "config",
        "config.json",
        &[server.url("/gone.json")],
        "sha256 = \"\"\nsha256_prefix = \"\"",
    );
    let dir = tempfile::tempdir().unwrap();
    let (error, message) = single_failure(download(&manifest, dir.path()).0);
    assert!(
        matches!(error, FetchError::HttpStatus { status: 404 }),
        "{error:?}"
    );
    assert!(message.contains("HTTP 404"), "{message}");
    assert!(message.contains("not found"), "{message}");
    assert!(message.contains(&server.url("/gone.json")), "{message}");
    assert!(message.contains("config.json"), "{message}");
    assert!(dir_entries(&dir.path().join("test-model")).is_empty());
}

#[test]
fn later_sources_are_tried_when_earlier_ones_fail_and_redirects_are_followed() {
    let body = br#"{"z_dim": 128}"#.to_vec();
    let server = Server::start(&[
        ("/forbidden.json", Route::Status(403)),
        ("/wrong.json", Route::Serve(br#"{"z_dim": 7}"#.to_vec())),
        ("/moved.json", Route::Redirect("/real.json".into())),
        ("/real.json", Route::Serve(body.clone())),
    ]);
    let urls = [
        server.url("/forbidden.json"),
        server.url("/wrong.json"),
        server.url("/moved.json"),
    ];
    let manifest = manifest_with(
        "config",
        "config.json",
        &urls,
        &format!(
            "sha256 = \"\"\nsha256_prefix = \"{}\"",
            &sha256_hex(&body)[..8]
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let downloaded = download(&manifest, dir.path()).0.unwrap();
    assert_eq!(downloaded.url, urls[2]);
    assert_eq!(downloaded.assurance, Assurance::Prefix);
    assert_eq!(downloaded.sha256, sha256_hex(&body));
    assert_eq!(
        std::fs::read(dir.path().join("test-model/config.json")).unwrap(),
        body
    );
    assert_eq!(
        server.requests(),
        [
            "/forbidden.json",
            "/wrong.json",
            "/moved.json",
            "/real.json"
        ]
    );
}

#[test]
fn unpinned_files_must_at_least_parse_as_their_role() {
    let html = b"<html><body>Sign in to continue</body></html>".to_vec();
    let checkpoint = tiny_safetensors();
    let server = Server::start(&[
        ("/login.html", Route::Serve(html)),
        ("/model.safetensors", Route::Serve(checkpoint.clone())),
    ]);
    let dir = tempfile::tempdir().unwrap();
    for role in ["checkpoint", "config"] {
        let manifest = manifest_with(
            role,
            "file",
            &[server.url("/login.html")],
            "sha256 = \"\"\nsha256_prefix = \"\"",
        );
        let (error, message) = single_failure(download(&manifest, dir.path()).0);
        assert!(
            matches!(error, FetchError::Mismatch(Mismatch::Format { .. })),
            "{role}: {error:?}"
        );
        assert!(message.contains("not a valid"), "{message}");
        assert!(dir_entries(&dir.path().join("test-model")).is_empty());
    }
    let manifest = manifest_with(
        "checkpoint",
        "model.safetensors",
        &[server.url("/model.safetensors")],
        "sha256 = \"\"\nsha256_prefix = \"\"",
    );
    let downloaded = download(&manifest, dir.path()).0.unwrap();
    assert_eq!(downloaded.assurance, Assurance::Unpinned);
    assert_eq!(downloaded.sha256, sha256_hex(&checkpoint));
}

#[test]
fn check_reports_missing_verified_and_wrong_files() {
    let body = pseudo_random_bytes(10_000, 5);
    let pins = format!(
        "size_bytes = {}\nsha256 = \"{}\"\nsha256_prefix = \"\"",
        body.len(),
        sha256_hex(&body)
    );
    let manifest = manifest_with(
        "checkpoint",
        "model.bin",
        &["https://example.invalid/m".into()],
        &pins,
    );
    let file = &manifest.models()[0].files[0];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test-model/model.bin");

    assert_eq!(
        check_file(file, dir.path(), CheckDepth::Full).unwrap(),
        FileStatus::Missing
    );
    assert_eq!(
        check_file(file, dir.path(), CheckDepth::Quick).unwrap(),
        FileStatus::Missing
    );
    let err = locate_in(&manifest.models()[0], FileRole::Checkpoint, dir.path()).unwrap_err();
    assert!(
        err.to_string()
            .contains("deep-visualizer weights download test-model"),
        "{err}"
    );

    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &body).unwrap();
    assert_eq!(
        check_file(file, dir.path(), CheckDepth::Full).unwrap(),
        FileStatus::Verified {
            sha256: sha256_hex(&body)
        }
    );
    assert_eq!(
        check_file(file, dir.path(), CheckDepth::Quick).unwrap(),
        FileStatus::Present
    );
    assert_eq!(
        locate_in(&manifest.models()[0], FileRole::Checkpoint, dir.path()).unwrap(),
        path
    );

    // Same length, one byte changed: only the hash can tell.
    let mut flipped = body.clone();
    flipped[5_000] ^= 1;
    std::fs::write(&path, &flipped).unwrap();
    assert_eq!(
        check_file(file, dir.path(), CheckDepth::Full).unwrap(),
        FileStatus::Corrupt(Mismatch::Sha256 {
            expected: sha256_hex(&body),
            actual: sha256_hex(&flipped)
        })
    );
    assert_eq!(
        check_file(file, dir.path(), CheckDepth::Quick).unwrap(),
        FileStatus::Present
    );

    // Cut short: the size tells, even in a quick check.
    std::fs::write(&path, &body[..9_000]).unwrap();
    let short = FileStatus::Corrupt(Mismatch::Size {
        expected_bytes: 10_000,
        actual_bytes: 9_000,
    });
    assert_eq!(
        check_file(file, dir.path(), CheckDepth::Full).unwrap(),
        short
    );
    assert_eq!(
        check_file(file, dir.path(), CheckDepth::Quick).unwrap(),
        short
    );
}

#[test]
fn check_uses_a_hash_prefix_and_parses_what_it_cannot_pin() {
    let checkpoint = tiny_safetensors();
    let sha256 = sha256_hex(&checkpoint);
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("test-model")).unwrap();
    std::fs::write(dir.path().join("test-model/model.safetensors"), &checkpoint).unwrap();
    let check = |pins: &str| {
        let manifest = manifest_with(
            "checkpoint",
            "model.safetensors",
            &["https://example.invalid/m".into()],
            pins,
        );
        check_file(&manifest.models()[0].files[0], dir.path(), CheckDepth::Full).unwrap()
    };
    assert_eq!(
        check(&format!(
            "sha256 = \"\"\nsha256_prefix = \"{}\"",
            &sha256[..8]
        )),
        FileStatus::PrefixVerified {
            sha256: sha256.clone()
        }
    );
    let other_prefix = if sha256.starts_with('0') { "1" } else { "0" };
    assert_eq!(
        check(&format!(
            "sha256 = \"\"\nsha256_prefix = \"{other_prefix}\""
        )),
        FileStatus::Corrupt(Mismatch::Sha256Prefix {
            expected_prefix: other_prefix.into(),
            actual: sha256.clone()
        })
    );
    assert_eq!(
        check("sha256 = \"\"\nsha256_prefix = \"\""),
        FileStatus::Unpinned {
            sha256: sha256.clone()
        }
    );
    std::fs::write(
        dir.path().join("test-model/model.safetensors"),
        b"<html>oops</html>",
    )
    .unwrap();
    assert!(matches!(
        check("sha256 = \"\"\nsha256_prefix = \"\""),
        FileStatus::Corrupt(Mismatch::Format { .. })
    ));
}

#[test]
fn cli_downloads_lists_and_reports_failures() {
    let body = br#"{"layers": []}"#.to_vec();
    let server = Server::start(&[("/config.json", Route::Serve(body.clone()))]);
    let dir = tempfile::tempdir().unwrap();
    let manifest_path = dir.path().join("mirror.toml");
    let weights_dir = dir.path().join("weights");
    let manifest_text = format!(
        "schema = 1\n\
         [[models]]\nid = \"good\"\nengine = \"biggan\"\ndescription = \"served\"\nlicence = \"-\"\n\
         [[models.files]]\nrole = \"config\"\nname = \"good.json\"\nurls = [\"{}\"]\n\
         sha256 = \"{}\"\nsha256_prefix = \"\"\n\
         [[models]]\nid = \"gone\"\nengine = \"biggan\"\ndescription = \"not served\"\nlicence = \"-\"\n\
         [[models.files]]\nrole = \"config\"\nname = \"gone.json\"\nurls = [\"{}\"]\n\
         sha256 = \"\"\nsha256_prefix = \"\"\n",
        server.url("/config.json"),
        sha256_hex(&body),
        server.url("/gone.json"),
    );
    std::fs::write(&manifest_path, manifest_text).unwrap();
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_deep-visualizer"))
            .arg("weights")
            .args(args)
            .arg("--manifest")
            .arg(&manifest_path)
            .arg("--dir")
            .arg(&weights_dir)
            // The loopback server must not be reached through a proxy from the environment.
            .env("NO_PROXY", "127.0.0.1")
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("http_proxy")
            .env_remove("ALL_PROXY")
            .env_remove("all_proxy")
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };

    let (ok, stdout, stderr) = run(&["download", "good", "-q"]);
    assert!(ok, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("SHA-256 matches the manifest"), "{stdout}");
    assert_eq!(
        std::fs::read(weights_dir.join("good/good.json")).unwrap(),
        body
    );

    let (ok, stdout, stderr) = run(&["download", "gone", "-q"]);
    assert!(!ok, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("HTTP 404"), "{stderr}");
    assert!(stderr.contains("gone.json"), "{stderr}");

    let (ok, _, stderr) = run(&["download", "nonsense"]);
    assert!(!ok);
    assert!(stderr.contains("good, gone"), "{stderr}");

    std::fs::create_dir_all(weights_dir.join("gone")).unwrap();
    std::fs::write(weights_dir.join("gone/gone.json"), b"not json").unwrap();
    let (ok, stdout, stderr) = run(&["list"]);
    assert!(ok, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains(&weights_dir.display().to_string()),
        "{stdout}"
    );
    assert!(stdout.contains("good: served [ready]"), "{stdout}");
    assert!(stdout.contains("verified"), "{stdout}");
    assert!(stdout.contains("gone: not served [damaged]"), "{stdout}");
    assert!(stdout.contains("WRONG FILE"), "{stdout}");

    // Present and verified files are not fetched again.
    let num_requests = server.requests().len();
    let (ok, stdout, _) = run(&["download", "good"]);
    assert!(ok);
    assert!(stdout.contains("already here"), "{stdout}");
    assert_eq!(server.requests().len(), num_requests);
}

/// A model `tiny` of two pinned files, `config.json` and `model.bin`, with the given URLs.
fn tiny_model_manifest(config: (&[u8], &str), checkpoint: (&[u8], &str)) -> Manifest {
    let file = |role: &str, name: &str, (body, url): (&[u8], &str)| {
        format!(
            "[[models.files]]\nrole = \"{role}\"\nname = \"{name}\"\nurls = [\"{url}\"]\n\
             size_bytes = {}\nsha256 = \"{}\"\nsha256_prefix = \"\"\n",
            body.len(),
            sha256_hex(body)
        )
    };
    let text = format!(
        "schema = 1\n[[models]]\nid = \"tiny\"\nengine = \"biggan\"\ndescription = \"tiny\"\n\
         licence = \"-\"\n{}{}",
        file("config", "config.json", config),
        file("checkpoint", "model.bin", checkpoint),
    );
    Manifest::parse(&text).unwrap()
}

/// A progress event as a test records it: `(file, event, done bytes, total bytes)`.
type Event = (String, &'static str, u64, Option<u64>);

/// Runs [`ensure_model_installed_in`] for `tiny`, returning its result and the progress events.
fn ensure_tiny(
    manifest: &Manifest,
    weights_dir: &Path,
    policy: DownloadPolicy,
) -> (Result<PathBuf, WeightsError>, Vec<Event>) {
    let mut events = Vec::new();
    let result = ensure_model_installed_in(
        manifest,
        weights_dir,
        "tiny",
        policy,
        &Downloader::new(),
        &mut |event| {
            let (file, kind, done_bytes, total_bytes) = match event {
                InstallProgress::Kept { file, .. } => (file, "kept", 0, None),
                InstallProgress::Replacing { file, .. } => (file, "replacing", 0, None),
                InstallProgress::Started {
                    file, total_bytes, ..
                } => (file, "started", 0, total_bytes),
                InstallProgress::Received {
                    file,
                    done_bytes,
                    total_bytes,
                } => (file, "received", done_bytes, total_bytes),
                InstallProgress::Installed { file, downloaded } => {
                    (file, "installed", downloaded.num_bytes, None)
                }
            };
            events.push((file.name.clone(), kind, done_bytes, total_bytes));
        },
    );
    (result, events)
}

/// The `tiny` model served from a loopback server, and a weights folder that does not exist yet.
struct ServedTinyModel {
    /// The config's bytes.
    config: Vec<u8>,
    /// The checkpoint's bytes.
    checkpoint: Vec<u8>,
    /// Serves both at `/config.json` and `/model.bin`.
    server: Server,
    /// Lists `tiny` with the server's URLs.
    manifest: Manifest,
    /// Holds the weights folder; deleted on drop, so a test keeps it bound to the end.
    _temp_dir: tempfile::TempDir,
    /// The weights folder.
    weights_dir: PathBuf,
}

impl ServedTinyModel {
    /// Serves a checkpoint of `num_checkpoint_bytes` pseudo-random bytes from `seed`.
    fn start(num_checkpoint_bytes: usize, seed: u64) -> Self {
        let config = br#"{"z_dim": 8}"#.to_vec();
        let checkpoint = pseudo_random_bytes(num_checkpoint_bytes, seed);
        let server = Server::start(&[
            ("/config.json", Route::Serve(config.clone())),
            ("/model.bin", Route::Serve(checkpoint.clone())),
        ]);
        let manifest = tiny_model_manifest(
            (&config, &server.url("/config.json")),
            (&checkpoint, &server.url("/model.bin")),
        );
        let temp_dir = tempfile::tempdir().unwrap();
        let weights_dir = temp_dir.path().join("weights");
        Self {
            config,
            checkpoint,
            server,
            manifest,
            _temp_dir: temp_dir,
            weights_dir,
        }
    }
}

#[test]
fn first_use_downloads_a_missing_model_once() {
    let ServedTinyModel {
        config,
        checkpoint,
        server,
        manifest,
        weights_dir,
        _temp_dir,
        ..
    } = ServedTinyModel::start(600_000, 11);

    let (result, events) = ensure_tiny(&manifest, &weights_dir, DownloadPolicy::Allowed);
    let model_dir = result.unwrap();
    assert_eq!(model_dir, weights_dir.join("tiny"));
    assert_eq!(
        std::fs::read(model_dir.join("config.json")).unwrap(),
        config
    );
    assert_eq!(
        std::fs::read(model_dir.join("model.bin")).unwrap(),
        checkpoint
    );
    assert_eq!(dir_entries(&model_dir), ["config.json", "model.bin"]);
    assert_eq!(server.requests(), ["/config.json", "/model.bin"]);
    // Each file: announced, its bytes counted up to the total, then installed.
    for (name, body) in [("config.json", &config), ("model.bin", &checkpoint)] {
        let total_bytes = Some(body.len() as u64);
        let file_events: Vec<_> = events.iter().filter(|event| event.0 == name).collect();
        assert_eq!(file_events[0].1, "started", "{events:?}");
        assert_eq!(file_events[0].3, total_bytes);
        let received = &file_events[file_events.len() - 2];
        assert_eq!(
            (received.1, received.2, received.3),
            ("received", body.len() as u64, total_bytes)
        );
        assert_eq!(file_events.last().unwrap().1, "installed");
    }
    let num_received = events.iter().filter(|event| event.1 == "received").count();
    assert!(num_received > 2, "one event per chunk: {num_received}");

    // Installed now: neither policy goes to the network again.
    for policy in [DownloadPolicy::Allowed, DownloadPolicy::Forbidden] {
        let (result, events) = ensure_tiny(&manifest, &weights_dir, policy);
        assert_eq!(result.unwrap(), model_dir);
        assert!(events.is_empty(), "{events:?}");
    }
    assert_eq!(server.requests().len(), 2);

    // A file cut short is fetched again, and only that one.
    std::fs::write(model_dir.join("model.bin"), &checkpoint[..1000]).unwrap();
    let (result, events) = ensure_tiny(&manifest, &weights_dir, DownloadPolicy::Allowed);
    assert_eq!(result.unwrap(), model_dir);
    assert_eq!(events[0].1, "replacing");
    assert_eq!(
        std::fs::read(model_dir.join("model.bin")).unwrap(),
        checkpoint
    );
    assert_eq!(
        server.requests(),
        ["/config.json", "/model.bin", "/model.bin"]
    );
}

#[test]
fn first_use_with_downloads_forbidden_says_what_to_run_and_where_the_files_go() {
    let ServedTinyModel {
        config,
        server,
        manifest,
        weights_dir,
        _temp_dir,
        ..
    } = ServedTinyModel::start(1000, 12);
    let model_dir = weights_dir.join("tiny");

    let (result, events) = ensure_tiny(&manifest, &weights_dir, DownloadPolicy::Forbidden);
    let err = result.unwrap_err();
    assert!(
        matches!(
            err,
            WeightsError::NotInstalled {
                reason: NotInstalledReason::DownloadForbidden,
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    for expected in [
        "deep-visualizer weights download tiny",
        &model_dir.display().to_string(),
        &weights_dir.display().to_string(),
        "config.json (missing)",
        "model.bin (missing)",
        "--weights",
        "--no-download",
        "DEEP_VISUALIZER_NO_DOWNLOAD",
    ] {
        assert!(message.contains(expected), "{expected:?} in:\n{message}");
    }
    assert!(events.is_empty(), "{events:?}");
    assert!(server.requests().is_empty());
    assert!(!weights_dir.exists());

    // Only what is missing or wrong is listed.
    std::fs::create_dir_all(&model_dir).unwrap();
    std::fs::write(model_dir.join("config.json"), &config).unwrap();
    std::fs::write(model_dir.join("model.bin"), b"short").unwrap();
    let message = ensure_tiny(&manifest, &weights_dir, DownloadPolicy::Forbidden)
        .0
        .unwrap_err()
        .to_string();
    assert!(!message.contains("config.json"), "{message}");
    assert!(
        message.contains("model.bin (the present copy is wrong: it is 5 bytes long"),
        "{message}"
    );
}

#[test]
fn first_use_offline_says_what_to_run() {
    // A port nothing listens on: connections are refused, as when offline.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let config = br#"{"z_dim": 8}"#.to_vec();
    let checkpoint = pseudo_random_bytes(1000, 13);
    let manifest = tiny_model_manifest(
        (&config, &format!("{base_url}/config.json")),
        (&checkpoint, &format!("{base_url}/model.bin")),
    );
    let dir = tempfile::tempdir().unwrap();
    let weights_dir = dir.path().join("weights");

    let err = ensure_tiny(&manifest, &weights_dir, DownloadPolicy::Allowed)
        .0
        .unwrap_err();
    assert!(
        matches!(
            err,
            WeightsError::NotInstalled {
                reason: NotInstalledReason::DownloadFailed(_),
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    for expected in [
        "downloading it failed",
        "no usable answer",
        "deep-visualizer weights download tiny",
        &weights_dir.join("tiny").display().to_string(),
        "config.json (missing)",
        "--weights",
    ] {
        assert!(message.contains(expected), "{expected:?} in:\n{message}");
    }
    // Nothing half-downloaded is left behind.
    assert!(dir_entries(&weights_dir.join("tiny")).is_empty());
}
