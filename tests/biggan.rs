//! BigGAN-deep against the original PyTorch code (`pytorch_pretrained_biggan` 0.1.1), on the
//! tiny random-initialised fixtures of `tests/make_biggan_fixtures.py`: every block's output
//! and the final images, both checkpoint formats and safetensors, burn's format, the errors
//! for wrong files, and the `generate` / `weights convert` CLI end to end.

use std::path::{Path, PathBuf};
use std::process::Command;

use burn::tensor::{Device, Tensor, TensorData};
use deep_visualizer::models::biggan::exec::ExecOptions;
use deep_visualizer::models::biggan::{pixel_value, BigGan, BigGanConfig, BigGanError};
use deep_visualizer::models::checkpoint::Checkpoint;
use deep_visualizer::models::device::{ComputeDevice, DevicePreference};

/// Max abs error allowed against PyTorch on the CPU backend.
const CPU_TOLERANCE: f32 = 1e-4;
/// Max abs error allowed against PyTorch on wgpu (lavapipe in CI).
const WGPU_TOLERANCE: f32 = 1e-3;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/biggan")
}

/// One entry of `cases.json`.
#[derive(serde::Deserialize, Debug, Clone)]
struct Case {
    /// `tiny128` or `tiny256`.
    model: String,
    /// Prefix of the case's tensors in `<model>_io.safetensors`.
    name: String,
    /// Exactly the Python float the reference used.
    truncation: f64,
    /// Whether per-block outputs were stored.
    traced: bool,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(fixtures().join("cases.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The reference tensors of one model's cases.
struct Reference {
    /// `<model>_io.safetensors`.
    file: Checkpoint,
}

impl Reference {
    fn open(model: &str) -> Self {
        Self {
            file: Checkpoint::open(&fixtures().join(format!("{model}_io.safetensors"))).unwrap(),
        }
    }

    fn get(&self, key: &str) -> (Vec<usize>, Vec<f32>) {
        let tensor = self.file.tensor_any_shape(key).unwrap();
        (tensor.shape, tensor.values)
    }

    fn tensor<const D: usize>(&self, key: &str, device: &Device) -> Tensor<D> {
        let (shape, values) = self.get(key);
        Tensor::from_data(TensorData::new(values, shape), device)
    }
}

fn values<const D: usize>(tensor: Tensor<D>) -> (Vec<usize>, Vec<f32>) {
    let data = tensor.into_data();
    (data.shape().to_vec(), data.try_into_vec::<f32>().unwrap())
}

/// Asserts `|got - want| <= tolerance` everywhere, naming the worst element on failure.
fn assert_close(
    what: &str,
    got: (Vec<usize>, Vec<f32>),
    want: (Vec<usize>, Vec<f32>),
    tolerance: f32,
) {
    assert_eq!(got.0, want.0, "{what}: shape");
    let (worst_idx, worst) = got
        .1
        .iter()
        .zip(&want.1)
        .map(|(g, w)| {
            if g.is_nan() || w.is_nan() {
                f32::INFINITY
            } else {
                (g - w).abs()
            }
        })
        .enumerate()
        .fold(
            (0, 0.0f32),
            |best, (idx, err)| if err > best.1 { (idx, err) } else { best },
        );
    // Unravel the flat index for the message.
    let mut position = vec![0; want.0.len()];
    let mut rest = worst_idx;
    for (dim, &extent) in want.0.iter().enumerate().rev() {
        position[dim] = rest % extent;
        rest /= extent;
    }
    assert!(
        worst <= tolerance,
        "{what}: max abs error {worst:e} > {tolerance:e} at {position:?}: got {}, PyTorch {}",
        got.1[worst_idx],
        want.1[worst_idx]
    );
    eprintln!("{what}: max abs error {worst:.2e}");
}

fn cpu() -> Device {
    ComputeDevice::cpu().device().clone()
}

fn load_tiny128(file: &str, device: &Device) -> BigGan {
    let config = std::fs::read_to_string(fixtures().join("tiny128/config.json")).unwrap();
    let config = BigGanConfig::from_json(&config).unwrap();
    BigGan::load_checkpoint(&fixtures().join(file), config, device).unwrap()
}

/// Runs every case of `model_name` through `model` and compares the images (and, for traced
/// cases, every stage) with PyTorch's.
fn check_cases(model_name: &str, model: &BigGan, tolerance: f32, traced_only: bool) {
    let reference = Reference::open(model_name);
    let device = model.device().clone();
    for case in cases().into_iter().filter(|c| c.model == model_name) {
        if traced_only && !case.traced {
            continue;
        }
        let key = |stage: &str| format!("{}/{stage}", case.name);
        let z = reference.tensor::<2>(&key("z"), &device);
        let y = reference.tensor::<2>(&key("y"), &device);
        let (images, trace) = model.generate_traced(z, y, case.truncation).unwrap();
        if case.traced {
            for (stage, value) in trace {
                assert_close(
                    &format!("{model_name} {} {stage}", case.name),
                    values(value),
                    reference.get(&key(&stage)),
                    tolerance,
                );
            }
        }
        assert_close(
            &format!("{model_name} {} image", case.name),
            values(images),
            reference.get(&key("image")),
            tolerance,
        );
    }
}

#[test]
fn tiny128_every_block_and_image_matches_pytorch_on_cpu_legacy_format() {
    let model = load_tiny128("tiny128/pytorch_model.bin", &cpu());
    check_cases("tiny128", &model, CPU_TOLERANCE, false);
}

/// Every way of computing the convolutions (burn's conv2d or matrix products, whole or in
/// bands, or each by feature-map size; sub-pixel or explicit up-sampling) matches PyTorch block
/// by block.
#[test]
fn tiny128_every_convolution_formulation_matches_pytorch() {
    let mut variants = Vec::new();
    for matmul_convs in [false, true] {
        for subpixel_upsampling in [false, true] {
            variants.push(ExecOptions {
                matmul_convs,
                // Matrix products at every size, not only on small maps.
                matmul_max_pixels: usize::MAX,
                subpixel_upsampling,
                ..ExecOptions::default()
            });
        }
    }
    // The batch in parts on their own threads.
    variants.push(ExecOptions {
        parallel_samples: 2,
        ..ExecOptions::default()
    });
    // im2col in bands of a few rows, one sample at a time.
    variants.push(ExecOptions {
        matmul_max_pixels: usize::MAX,
        max_im2col_elements: 4096,
        ..ExecOptions::default()
    });
    for options in variants {
        eprintln!("{options:?}");
        let model = load_tiny128("tiny128.safetensors", &cpu()).with_exec_options(options);
        // The banded and threaded paths split the batch: include the batch-2 case there.
        let traced_only = options.max_im2col_elements == ExecOptions::default().max_im2col_elements
            && options.parallel_samples == 1;
        check_cases("tiny128", &model, CPU_TOLERANCE, traced_only);
    }
}

#[test]
fn tiny128_zip_format_and_safetensors_match_pytorch() {
    for file in ["tiny128_zip.bin", "tiny128.safetensors"] {
        let model = load_tiny128(file, &cpu());
        let reference = Reference::open("tiny128");
        let device = model.device().clone();
        let case = "t0p4";
        let z = reference.tensor::<2>(&format!("{case}/z"), &device);
        let y = reference.tensor::<2>(&format!("{case}/y"), &device);
        let images = model.generate(z, y, 0.4).unwrap();
        assert_close(
            &format!("{file} {case}"),
            values(images),
            reference.get(&format!("{case}/image")),
            CPU_TOLERANCE,
        );
    }
}

#[test]
fn tiny256_matches_pytorch_on_cpu() {
    let model = BigGan::load(&fixtures().join("tiny256"), &cpu()).unwrap();
    assert_eq!(model.resolution(), 256);
    check_cases("tiny256", &model, CPU_TOLERANCE, false);
}

#[test]
fn burnpack_round_trip_is_exact_and_preferred_when_present() {
    let source = load_tiny128("tiny128/pytorch_model.bin", &cpu());
    let dir = tempfile::tempdir().unwrap();
    let bpk = dir.path().join("biggan.bpk");
    source.save_burnpack(&bpk).unwrap();
    // A directory with only the burnpack file loads it (config inside), and so does the file.
    for path in [dir.path(), bpk.as_path()] {
        let loaded = BigGan::load(path, &cpu()).unwrap();
        assert_eq!(loaded.config(), source.config());
        let reference = Reference::open("tiny128");
        let z = reference.tensor::<2>("t0p123/z", &cpu());
        let y = reference.tensor::<2>("t0p123/y", &cpu());
        let want = values(source.generate(z.clone(), y.clone(), 0.123).unwrap());
        // The second call reuses the cached batch-norm normalisations.
        let again = values(source.generate(z.clone(), y.clone(), 0.123).unwrap());
        assert_eq!(again, want, "a repeated call gives other images");
        let got = values(loaded.generate(z, y, 0.123).unwrap());
        assert_eq!(got, want, "burnpack from {}", path.display());
    }
}

/// Asserts that loading fails with an error whose message contains every `needle`.
fn assert_load_error(result: Result<BigGan, BigGanError>, needles: &[&str]) {
    let err = result.expect_err("loading should fail");
    let message = err.to_string();
    for needle in needles {
        assert!(
            message.contains(needle),
            "error {message:?} does not mention {needle:?}"
        );
    }
    eprintln!("ok: {message}");
}

#[test]
fn wrong_files_are_refused_with_the_file_key_and_shape() {
    let device = cpu();
    let fx = fixtures();
    let tiny128_config = || {
        BigGanConfig::from_json(&std::fs::read_to_string(fx.join("tiny128/config.json")).unwrap())
            .unwrap()
    };
    let dir = tempfile::tempdir().unwrap();

    // Another model's weights with this config: the first tensor has the wrong shape.
    let other = fx.join("tiny256/pytorch_model.bin");
    assert_load_error(
        BigGan::load_checkpoint(&other, tiny128_config(), &device),
        &[
            "embeddings.weight",
            "[8, 100]",
            "[8, 1000]",
            "tiny256/pytorch_model.bin",
        ],
    );
    // A different network altogether.
    assert_load_error(
        BigGan::load_checkpoint(&fx.join("other_model.bin"), tiny128_config(), &device),
        &["embeddings.weight", "other_model.bin", "another model"],
    );
    // A checkpoint missing one tensor.
    let complete = std::fs::read(fx.join("tiny128.safetensors")).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&complete).unwrap();
    let kept: Vec<_> = tensors
        .tensors()
        .into_iter()
        .filter(|(name, _)| name != "generator.layers.8.snconv1x1_g.weight_u")
        .collect();
    let missing = dir.path().join("missing.safetensors");
    safetensors::serialize_to_file(kept, None, &missing).unwrap();
    assert_load_error(
        BigGan::load_checkpoint(&missing, tiny128_config(), &device),
        &[
            "generator.layers.8.snconv1x1_g.weight_u",
            "missing.safetensors",
        ],
    );
    // Truncated files, in both torch formats and safetensors.
    for (name, file) in [
        ("legacy", "tiny128/pytorch_model.bin"),
        ("zip", "tiny128_zip.bin"),
        ("safetensors", "tiny128.safetensors"),
    ] {
        let bytes = std::fs::read(fx.join(file)).unwrap();
        let truncated = dir.path().join(format!("truncated_{name}.bin"));
        std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();
        assert_load_error(
            BigGan::load_checkpoint(&truncated, tiny128_config(), &device),
            &[&format!("truncated_{name}.bin")],
        );
    }
    // Not a checkpoint at all, and an empty file.
    let text = dir.path().join("notes.bin");
    std::fs::write(&text, "these are not the weights you are looking for").unwrap();
    assert_load_error(
        BigGan::load_checkpoint(&text, tiny128_config(), &device),
        &["notes.bin", "not a readable checkpoint"],
    );
    let empty = dir.path().join("empty.bin");
    std::fs::write(&empty, "").unwrap();
    assert_load_error(
        BigGan::load_checkpoint(&empty, tiny128_config(), &device),
        &["empty.bin", "empty"],
    );
    // A directory without config.json, and one without weights.
    let no_config = dir.path().join("no_config");
    std::fs::create_dir(&no_config).unwrap();
    std::fs::copy(
        fx.join("tiny128/pytorch_model.bin"),
        no_config.join("pytorch_model.bin"),
    )
    .unwrap();
    assert_load_error(BigGan::load(&no_config, &device), &["config.json"]);
    let no_weights = dir.path().join("no_weights");
    std::fs::create_dir(&no_weights).unwrap();
    assert_load_error(
        BigGan::load(&no_weights, &device),
        &["no_weights", "pytorch_model.bin"],
    );
    // A config that does not describe a generator.
    std::fs::write(
        no_config.join("config.json"),
        r#"{"layers": [[false, 16, 8]], "output_dim": 4}"#,
    )
    .unwrap();
    assert_load_error(
        BigGan::load(&no_config, &device),
        &["config.json", "last layer"],
    );
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let model = load_tiny128("tiny128.safetensors", &cpu());
    let (z_dim, classes) = (model.config().z_dim, model.config().num_classes);
    let z = vec![0.0; z_dim];
    let mut y = vec![0.0; classes];
    y[1] = 1.0;
    for truncation in [0.0, -0.5, 1.5, f64::NAN] {
        let err = model
            .generate_from_slices(&z, &y, 1, truncation)
            .unwrap_err();
        assert!(err.to_string().contains("truncation"), "{err}");
    }
    assert!(model.generate_from_slices(&z, &y, 2, 0.5).is_err());
    let wide = Tensor::<2>::zeros([1, z_dim + 1], &cpu());
    let y_tensor = Tensor::<2>::zeros([1, classes], &cpu());
    assert!(model.generate(wide, y_tensor, 0.5).is_err());
}

/// Reads a uint8 `.npy` written by numpy (version 1 header), returning shape and bytes.
fn read_u8_npy(path: &Path) -> (Vec<usize>, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
    assert!(header.contains("'|u1'"), "{header}");
    let shape_text = header
        .split("'shape': (")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap();
    let shape: Vec<usize> = shape_text
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    (shape, bytes[10 + header_len..].to_vec())
}

fn run_cli(args: &[&str]) -> std::process::Output {
    let output = Command::new(env!("CARGO_BIN_EXE_deep-visualizer"))
        .args(args)
        .env("DEEP_VISUALIZER_DEVICE", "cpu")
        .output()
        .unwrap();
    eprintln!(
        "deep-visualizer {}\nstdout: {}\nstderr: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Compares PNGs with the pixels of the original's `convert_to_images`. Where PyTorch's value
/// sits within float noise of a byte boundary (`(x+1)/2*256` within 0.02 of an integer, i.e.
/// x within 1.6e-4) the truncation may go either way, so ±1 is accepted there only.
fn assert_pixels_match(
    pngs: &[PathBuf],
    reference_pixels: &(Vec<usize>, Vec<u8>),
    reference_float: &(Vec<usize>, Vec<f32>),
) {
    let (shape, expected) = reference_pixels;
    let [_, height, width, _] = shape[..] else {
        panic!("pixels shape {shape:?}")
    };
    let plane = height * width;
    let mut num_boundary = 0;
    for (b, png) in pngs.iter().enumerate() {
        let image = image::open(png).unwrap().to_rgb8();
        assert_eq!(
            (image.width() as usize, image.height() as usize),
            (width, height)
        );
        for (idx, (got, want)) in image
            .as_raw()
            .iter()
            .zip(&expected[b * plane * 3..(b + 1) * plane * 3])
            .enumerate()
        {
            let (pixel, channel) = (idx / 3, idx % 3);
            let x = reference_float.1[b * 3 * plane + channel * plane + pixel];
            assert_eq!(
                pixel_value(x),
                *want,
                "our mapping of PyTorch's float differs at image {b} pixel {pixel}"
            );
            if got != want {
                let scaled = (x + 1.0) / 2.0 * 256.0;
                let near_boundary = (scaled - scaled.round()).abs() < 0.02;
                assert!(
                    near_boundary && got.abs_diff(*want) == 1,
                    "{}: pixel {pixel} channel {channel}: {got} vs PyTorch {want} (x = {x})",
                    png.display()
                );
                num_boundary += 1;
            }
        }
    }
    eprintln!("{num_boundary} bytes off by one at a rounding boundary");
}

#[test]
fn generate_cli_writes_the_original_pixels_and_convert_keeps_them() {
    let fx = fixtures();
    let dir = tempfile::tempdir().unwrap();
    let reference_pixels = read_u8_npy(&fx.join("cli_pixels.npy"));
    let reference_float = Reference::open("tiny128").get("t0p4/image");
    let pattern = dir.path().join("out_%03d.png");
    let weights = fx.join("tiny128");
    let (z, y) = (fx.join("cli_z.npy"), fx.join("cli_y.npy"));
    let output = run_cli(&[
        "generate",
        "--weights",
        weights.to_str().unwrap(),
        "--z",
        z.to_str().unwrap(),
        "--y",
        y.to_str().unwrap(),
        "--truncation",
        "0.4",
        "--out",
        pattern.to_str().unwrap(),
    ]);
    assert!(output.status.success());
    let pngs: Vec<PathBuf> = (0..2)
        .map(|i| dir.path().join(format!("out_{i:03}.png")))
        .collect();
    assert_pixels_match(&pngs, &reference_pixels, &reference_float);

    // The first reference image is class 3: --class gives the same one-hot vector.
    let single = dir.path().join("class3.png");
    let z_first = dir.path().join("z_first.npy");
    write_f32_npy(&z_first, &[8], &read_f32_npy_rows(&z)[..8]);
    let output = run_cli(&[
        "generate",
        "--weights",
        weights.to_str().unwrap(),
        "--z",
        z_first.to_str().unwrap(),
        "--class",
        "3",
        "--truncation",
        "0.4",
        "--out",
        single.to_str().unwrap(),
    ]);
    assert!(output.status.success());
    assert_pixels_match(
        std::slice::from_ref(&single),
        &reference_pixels,
        &reference_float,
    );

    // Convert into burn's format in a copy of the directory; generating from it is identical.
    let copy = dir.path().join("weights");
    std::fs::create_dir(&copy).unwrap();
    for name in ["config.json", "pytorch_model.bin"] {
        std::fs::copy(weights.join(name), copy.join(name)).unwrap();
    }
    assert!(run_cli(&["weights", "convert", copy.to_str().unwrap()])
        .status
        .success());
    assert!(copy.join("biggan.bpk").is_file());
    std::fs::remove_file(copy.join("pytorch_model.bin")).unwrap();
    let converted = dir.path().join("converted_%d.png");
    let output = run_cli(&[
        "generate",
        "--weights",
        copy.to_str().unwrap(),
        "--z",
        z.to_str().unwrap(),
        "--y",
        y.to_str().unwrap(),
        "--truncation",
        "0.4",
        "--out",
        converted.to_str().unwrap(),
    ]);
    assert!(output.status.success());
    for (i, png) in pngs.iter().enumerate() {
        let a = image::open(dir.path().join(format!("converted_{i}.png")))
            .unwrap()
            .to_rgb8();
        let b = image::open(png).unwrap().to_rgb8();
        assert_eq!(a.as_raw(), b.as_raw(), "image {i} after conversion");
    }

    // Seeded noise: deterministic, and the batch size follows --batch.
    let seeded = dir.path().join("seeded_%d.png");
    for _ in 0..2 {
        let output = run_cli(&[
            "generate",
            "--weights",
            weights.to_str().unwrap(),
            "--class",
            "7",
            "--seed",
            "42",
            "--truncation",
            "0.5",
            "--batch",
            "2",
            "--out",
            seeded.to_str().unwrap(),
            "--quiet",
        ]);
        assert!(output.status.success());
    }
    let first = std::fs::read(dir.path().join("seeded_0.png")).unwrap();
    let second = std::fs::read(dir.path().join("seeded_1.png")).unwrap();
    assert_ne!(first, second, "two seeded images of one batch must differ");

    // Wrong input: a class out of range and a z of the wrong width fail with a message.
    let output = run_cli(&[
        "generate",
        "--weights",
        weights.to_str().unwrap(),
        "--class",
        "1000",
        "--seed",
        "1",
        "--truncation",
        "0.5",
        "--out",
        single.to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--class 1000"));
    let output = run_cli(&[
        "generate",
        "--weights",
        weights.to_str().unwrap(),
        "--class",
        "1",
        "--z",
        y.to_str().unwrap(),
        "--truncation",
        "0.5",
        "--out",
        single.to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("z must be"));
}

/// The values of a float32 `.npy` written by numpy.
fn read_f32_npy_rows(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap();
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    bytes[10 + header_len..]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Writes a float32 `.npy` (version 1) the way numpy does.
fn write_f32_npy(path: &Path, shape: &[usize], values: &[f32]) {
    let shape_text = match shape {
        [n] => format!("({n},)"),
        dims => format!(
            "({})",
            dims.iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_text}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    std::fs::write(path, bytes).unwrap();
}

/// The one wgpu test (lavapipe in CI is slow): the traced case, every stage within 1e-3.
/// Without any wgpu adapter it fails, unless DEEP_VISUALIZER_NO_GPU_TESTS=1 says the machine
/// has none on purpose.
#[test]
fn tiny128_matches_pytorch_on_wgpu() {
    // Small kernels autotune quickly with the minimal level; set before wgpu starts.
    if std::env::var_os("CUBECL_AUTOTUNE_LEVEL").is_none() {
        std::env::set_var("CUBECL_AUTOTUNE_LEVEL", "minimal");
    }
    let device = match ComputeDevice::select(DevicePreference::Gpu) {
        Ok(device) => device,
        Err(err) if std::env::var_os("DEEP_VISUALIZER_NO_GPU_TESTS").is_some() => {
            eprintln!("skipped: {err}");
            return;
        }
        Err(err) => {
            panic!("{err} (set DEEP_VISUALIZER_NO_GPU_TESTS=1 to skip on a machine without Vulkan)")
        }
    };
    eprintln!("device: {device}");
    // Through burn's format, as the Director loads converted weights.
    let dir = tempfile::tempdir().unwrap();
    let bpk = dir.path().join("biggan.bpk");
    load_tiny128("tiny128/pytorch_model.bin", &cpu())
        .save_burnpack(&bpk)
        .unwrap();
    let model = BigGan::load(&bpk, device.device()).unwrap();
    check_cases("tiny128", &model, WGPU_TOLERANCE, true);
}

#[test]
fn the_model_can_move_to_and_be_shared_with_a_render_thread() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<BigGan>();
}

#[test]
fn generate_refuses_vectors_that_are_not_finite() {
    let dir = tempfile::tempdir().unwrap();
    let weights = fixtures().join("tiny128");
    let mut y = vec![0.0f32; 1000];
    y[3] = f32::NAN;
    let y_path = dir.path().join("y.npy");
    write_f32_npy(&y_path, &[1, 1000], &y);
    let out = dir.path().join("nan.png");
    let output = run_cli(&[
        "generate",
        "--weights",
        weights.to_str().unwrap(),
        "--y",
        y_path.to_str().unwrap(),
        "--seed",
        "1",
        "--truncation",
        "0.5",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "a NaN class vector is an error");
    assert!(
        stderr.contains("NaN at row 0, column 3") && stderr.contains("finite"),
        "{stderr}"
    );
    assert!(!out.exists(), "no picture is written");
}
