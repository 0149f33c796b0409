//! DeepDream against PyTorch: torchvision's GoogLeNet (narrowed 8×, seeded random weights) and
//! the dream steps, from `tests/make_dream_fixtures.py`; checkpoint errors; the static and
//! flowing modes; the `dream` command.

use std::path::{Path, PathBuf};
use std::process::Command;

use burn::tensor::{Device, Tensor, TensorData};
use deep_visualizer::director::dream_depth::dream_depths;
use deep_visualizer::dream::picture::{rgb8_to_tensor, tensor_to_rgb8, tensor_values};
use deep_visualizer::dream::{
    dream_rng, gaussian_blur, normalised_update, objective_gradient, warp_zoom_rotate, DreamEngine,
    DreamSettings, Dreamer, EngineSettings, FlowSettings, FlowingDream, GradientNorm, Objective,
    StaticDream,
};
use deep_visualizer::models::checkpoint::{Checkpoint, CheckpointError, FloatTensor};
use deep_visualizer::models::inception::{
    expected_tensors, InceptionError, InceptionV1, Layer, Preprocess,
};
use deep_visualizer::settings::DreamMode;

/// Largest error allowed on the CPU backend, relative to the reference's largest magnitude.
const CPU_TOL: f32 = 1e-4;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/deepdream")
        .join(name)
}

fn reference(key: &str) -> FloatTensor {
    Checkpoint::open(&fixture("reference.safetensors"))
        .and_then(|file| file.tensor_any_shape(key))
        .unwrap_or_else(|err| panic!("reference {key}: {err}"))
}

fn to_tensor(reference: &FloatTensor, device: &Device) -> Tensor<4> {
    let shape: [usize; 4] = reference.shape.clone().try_into().expect("a 4-d reference");
    Tensor::from_data(TensorData::new(reference.values.clone(), shape), device)
}

fn model(file: &str, preprocess: Preprocess) -> InceptionV1 {
    InceptionV1::load(&fixture(file), preprocess, &Device::flex())
        .unwrap_or_else(|err| panic!("loading {file}: {err}"))
}

/// Asserts `actual` matches `expected` in shape and to `tol` times the reference's largest
/// magnitude, naming the worst element on failure.
fn assert_close(what: &str, actual: Tensor<4>, expected: &FloatTensor, tol: f32) {
    assert_eq!(
        actual.dims().to_vec(),
        expected.shape,
        "{what}: shape differs from PyTorch's"
    );
    let actual = tensor_values(actual);
    let scale = expected
        .values
        .iter()
        .fold(0.0f32, |m, v| m.max(v.abs()))
        .max(f32::MIN_POSITIVE);
    let (worst_idx, worst_err) = actual
        .iter()
        .zip(&expected.values)
        .map(|(a, e)| (a - e).abs())
        .enumerate()
        .fold((0, 0.0f32), |best, (i, err)| {
            if err > best.1 || err.is_nan() {
                (i, err)
            } else {
                best
            }
        });
    // Shown with --nocapture, to see the margin.
    eprintln!("{what}: worst error {:.2e} of max |ref|", worst_err / scale);
    assert!(
        worst_err <= tol * scale,
        "{what}: element {worst_idx} is {} but PyTorch has {} (error {worst_err:.3e}, allowed \
         {tol:.0e} × max |ref| {scale:.3e})",
        actual[worst_idx],
        expected.values[worst_idx],
    );
}

fn plain_settings(layer: Layer, num_octaves: usize, step_size: f32) -> DreamSettings {
    DreamSettings {
        layer,
        objective: Objective::Mean,
        num_octaves,
        octave_scale: 1.4,
        step_size,
        norm: GradientNorm::MeanAbs,
        jitter_px: 0,
    }
}

#[test]
fn activations_match_pytorch_at_every_layer() {
    let net = model("googlenet_w8.pth", Preprocess::Identity);
    assert_eq!(net.width_divisor(), 8);
    let x = to_tensor(&reference("x37x45"), &Device::flex());
    for layer in Layer::ALL {
        let expected = reference(&format!("act.{}", layer.name()));
        assert_close(
            layer.name(),
            net.forward_to(x.clone(), layer),
            &expected,
            CPU_TOL,
        );
    }
}

#[test]
fn smallest_input_reaches_the_last_layer_through_ceil_mode_pools() {
    let net = model("googlenet_w8.pth", Preprocess::Identity);
    let x = to_tensor(&reference("x15x17"), &Device::flex());
    for layer in [
        Layer::Conv1,
        Layer::Inception3b,
        Layer::Inception4e,
        Layer::Inception5b,
    ] {
        let expected = reference(&format!("small.act.{}", layer.name()));
        assert_close(
            layer.name(),
            net.forward_to(x.clone(), layer),
            &expected,
            CPU_TOL,
        );
    }
    let grad = objective_gradient(&net, x, Layer::Inception5b, Objective::L2);
    assert_close(
        "gradient at 15×17",
        grad,
        &reference("grad.l2.inception5b.small"),
        CPU_TOL,
    );
}

#[test]
fn f16_safetensors_and_f32_pth_give_the_same_network() {
    // The fixture rounded every weight to f16 before saving, so both files hold equal values.
    let from_pth = model("googlenet_w8.pth", Preprocess::Identity);
    let from_safetensors = model("googlenet_w8_f16.safetensors", Preprocess::Identity);
    let x = to_tensor(&reference("x37x45"), &Device::flex());
    let a = tensor_values(from_pth.forward_to(x.clone(), Layer::Inception5b));
    let b = from_safetensors.forward_to(x, Layer::Inception5b);
    let expected = reference("act.inception5b");
    assert_close(
        "inception5b from safetensors",
        b.clone(),
        &expected,
        CPU_TOL,
    );
    assert_eq!(
        a,
        tensor_values(b),
        "the two files load to different weights"
    );
}

#[test]
fn input_gradients_match_pytorch_autograd() {
    let net = model("googlenet_w8.pth", Preprocess::Identity);
    let x = to_tensor(&reference("x37x45"), &Device::flex());
    for (layer, objective, key) in [
        (Layer::Inception4c, Objective::Mean, "grad.mean.inception4c"),
        (Layer::Inception3b, Objective::L2, "grad.l2.inception3b"),
        (Layer::Conv1, Objective::L2, "grad.l2.conv1"),
        (Layer::Inception5b, Objective::Mean, "grad.mean.inception5b"),
    ] {
        let grad = objective_gradient(&net, x.clone(), layer, objective);
        assert_close(key, grad, &reference(key), CPU_TOL);
    }
}

#[test]
fn pretrained_preprocessing_matches_torchvision_transform_input() {
    // PyTorch: ImageNet-normalise the pixels, then a model with transform_input=True.
    let net = model("googlenet_w8.pth", Preprocess::Pretrained);
    let x = to_tensor(&reference("x37x45"), &Device::flex());
    let act = net.forward_to(x.clone(), Layer::Inception4c);
    assert_close(
        "activations",
        act,
        &reference("pretrained.act.inception4c"),
        CPU_TOL,
    );
    let grad = objective_gradient(&net, x, Layer::Inception4c, Objective::Mean);
    let expected = reference("pretrained.grad.mean.inception4c");
    assert_close("pixel gradient", grad, &expected, CPU_TOL);
}

#[test]
fn one_plain_step_matches_pytorch() {
    // x + 0.05 g / (mean|g| + 1e-8), clamped to [0, 1].
    let net = model("googlenet_w8.pth", Preprocess::Identity);
    let dreamer = Dreamer::new(net, plain_settings(Layer::Inception4c, 1, 0.05)).unwrap();
    let x = to_tensor(&reference("x37x45"), &Device::flex());
    let stepped = dreamer.step(x, 0, 1, &mut dream_rng(0)).unwrap();
    assert_close(
        "step",
        stepped,
        &reference("step.plain.inception4c"),
        CPU_TOL,
    );
}

#[test]
fn gaussian_blur_matches_scipy_including_reach_beyond_the_image() {
    let grad = to_tensor(&reference("grad.mean.inception4c"), &Device::flex());
    // sigma 9 reaches 36 px, most of the 37×45 image: scipy's reflect folds repeatedly.
    for sigma in [0.5, 2.0, 9.0] {
        let blurred = gaussian_blur(grad.clone(), sigma, true);
        assert_close(
            &format!("sigma {sigma}"),
            blurred,
            &reference(&format!("blur.sigma{sigma:?}")),
            CPU_TOL,
        );
    }
}

#[test]
fn seed_gradient_normalisation_matches_the_seed_formula() {
    let grad = to_tensor(&reference("grad.mean.inception4c"), &Device::flex());
    for (step_idx, num_steps) in [(0, 10), (7, 10)] {
        let norm = GradientNorm::SeedBlur { blur_colour: true };
        let update = normalised_update(grad.clone(), norm, step_idx, num_steps);
        let key = format!("seednorm.i{step_idx}n{num_steps}");
        assert_close(&key, update, &reference(&key), CPU_TOL);
    }
}

#[test]
fn octave_dream_matches_pytorch() {
    // Two octaves (26×32 then 37×45), three mean-|g| steps each, no jitter.
    let net = model("googlenet_w8.pth", Preprocess::Identity);
    let dreamer = Dreamer::new(net, plain_settings(Layer::Inception4c, 2, 0.05)).unwrap();
    assert_eq!(dreamer.octave_sizes([37, 45]), vec![[26, 32], [37, 45]]);
    let x = to_tensor(&reference("x37x45"), &Device::flex());
    let dreamed = dreamer.dream(x, 3, &mut dream_rng(0)).unwrap();
    assert_close(
        "dream",
        dreamed,
        &reference("dream.octaves2.steps3"),
        CPU_TOL,
    );
}

#[test]
fn flow_warp_matches_torch_affine_grid_sample() {
    let x = to_tensor(&reference("x37x45"), &Device::flex());
    let warped = warp_zoom_rotate(x, 1.1, 10.0);
    assert_close(
        "zoom 1.1, 10°",
        warped,
        &reference("warp.zoom1.1.rot10"),
        CPU_TOL,
    );
}

/// A deterministic, textured RGB picture of odd size.
fn test_picture(width: u32, height: u32) -> image::RgbImage {
    image::RgbImage::from_fn(width, height, |x, y| {
        let v = (x * 37 + y * 91 + x * y * 7) % 256;
        image::Rgb([v as u8, (255 - v) as u8, ((x * 13 + y * 5) % 256) as u8])
    })
}

fn seed_dreamer(num_octaves: usize, jitter_px: usize) -> Dreamer {
    let net = model("googlenet_w8.pth", Preprocess::Pretrained);
    let settings = DreamSettings {
        num_octaves,
        jitter_px,
        ..DreamSettings::default()
    };
    Dreamer::new(net, settings).unwrap()
}

#[test]
fn jittered_dreams_are_seeded_and_keep_the_size() {
    let dreamer = seed_dreamer(2, 8);
    let picture = test_picture(45, 37);
    let device = Device::flex();
    let run = |seed| {
        let x = rgb8_to_tensor(&picture, &device);
        tensor_to_rgb8(dreamer.dream(x, 2, &mut dream_rng(seed)).unwrap())
    };
    let (a, b, c) = (run(3), run(3), run(4));
    assert_eq!(a.dimensions(), (45, 37));
    assert_eq!(a, b, "the same seed gave different pictures");
    assert_ne!(a, c, "different seeds gave the same picture");
    assert_ne!(a, picture, "dreaming changed nothing");
}

#[test]
fn static_mode_dreams_each_depth_once_and_picks_it() {
    let dreamer = seed_dreamer(2, 4);
    let device = Device::flex();
    let picture = test_picture(40, 33);
    let mut frames = StaticDream::new(&picture, 3, 11, &device);
    assert_eq!(frames.frame(&dreamer, 0).unwrap(), &picture);
    assert_eq!(frames.num_dreams_run(), 0);

    let depth2 = frames.frame(&dreamer, 2).unwrap().clone();
    let direct = dreamer
        .dream(rgb8_to_tensor(&picture, &device), 2, &mut dream_rng(11))
        .unwrap();
    assert_eq!(
        depth2,
        tensor_to_rgb8(direct),
        "depth 2 is not the base dreamed 2 steps"
    );
    assert_eq!(frames.num_dreams_run(), 1);
    // Asked again (as every frame of a kick's decay does), it is not dreamed again.
    assert_eq!(frames.frame(&dreamer, 2).unwrap(), &depth2);
    assert_eq!(frames.num_dreams_run(), 1);
    assert!(!frames.is_ready(3));
    let deepest = frames.frame(&dreamer, 99).unwrap().clone();
    assert!(frames.is_ready(3), "depths beyond max_depth show max_depth");
    assert_ne!(deepest, depth2);
    assert_eq!(frames.num_dreams_run(), 2);
}

#[test]
fn static_engine_shows_the_depth_of_the_kick_envelope() {
    let picture = test_picture(36, 31);
    let settings = EngineSettings {
        mode: DreamMode::Static,
        kick_decay: 0.5,
        max_depth: 3,
        seed: 2,
        ..EngineSettings::default()
    };
    let kicks = [1.0, 0.0, 0.0, 0.0, 0.6, 0.0];
    // Levels 1, .5, .25, .125, .6, .3 → depths round(1 + 2 level).
    assert_eq!(dream_depths(&kicks, 0.5, 3), vec![3, 2, 2, 1, 2, 2]);
    let mut engine = DreamEngine::new(seed_dreamer(1, 4), &picture, settings);
    let mut reference = StaticDream::new(&picture, 3, 2, &Device::flex());
    let mut depths = Vec::new();
    for (frame_idx, &kick) in kicks.iter().enumerate() {
        let (frame, depth) = engine.next_frame(kick).unwrap();
        let expected = reference.frame(engine.dreamer(), depth as usize).unwrap();
        assert_eq!(&frame, expected, "frame {frame_idx} (depth {depth})");
        depths.push(depth);
    }
    assert_eq!(depths, vec![3, 2, 2, 1, 2, 2]);
}

#[test]
fn flowing_mode_feeds_each_frame_the_previous_one_moved() {
    let dreamer = seed_dreamer(1, 4);
    let device = Device::flex();
    let picture = test_picture(41, 35);
    let flow = FlowSettings {
        zoom_per_frame: 1.05,
        rotation_deg_per_frame: 3.0,
    };
    // With no dream steps, frame k is the base moved k times: the frames chain.
    let mut moving = FlowingDream::new(&picture, flow, 5, &device);
    let frames: Vec<_> = (0..3)
        .map(|_| moving.next_frame(&dreamer, 0).unwrap())
        .collect();
    let mut expected = rgb8_to_tensor(&picture, &device);
    assert_eq!(frames[0], tensor_to_rgb8(expected.clone()));
    for frame in &frames[1..] {
        expected = warp_zoom_rotate(expected, 1.05, 3.0);
        assert_eq!(frame, &tensor_to_rgb8(expected.clone()));
    }
    // Dreaming: deterministic, and each frame differs from a plain move of the last.
    let dreamed = |seed| {
        let mut flowing = FlowingDream::new(&picture, flow, seed, &device);
        (0..3)
            .map(|_| flowing.next_frame(&dreamer, 2).unwrap())
            .collect::<Vec<_>>()
    };
    let (a, b) = (dreamed(9), dreamed(9));
    assert_eq!(a, b);
    let moved = tensor_to_rgb8(warp_zoom_rotate(rgb8_to_tensor(&a[1], &device), 1.05, 3.0));
    assert_eq!(a[2].dimensions(), (41, 35));
    assert_ne!(a[2], moved);
}

/// Writes a modified copy of the f16 safetensors fixture: `edit` may drop or replace tensors.
fn edited_checkpoint(
    dir: &Path,
    name: &str,
    edit: impl Fn(&str, Vec<usize>, Vec<u8>) -> Option<(Vec<usize>, Vec<u8>)>,
) -> PathBuf {
    let bytes = std::fs::read(fixture("googlenet_w8_f16.safetensors")).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut kept = Vec::new();
    for (key, view) in file.tensors() {
        if let Some((shape, data)) = edit(&key, view.shape().to_vec(), view.data().to_vec()) {
            kept.push((key, view.dtype(), shape, data));
        }
    }
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = kept
        .iter()
        .map(|(key, dtype, shape, data)| {
            let view = safetensors::tensor::TensorView::new(*dtype, shape.clone(), data).unwrap();
            (key.clone(), view)
        })
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();
    path
}

fn load_error(path: &Path) -> InceptionError {
    match InceptionV1::load(path, Preprocess::Pretrained, &Device::flex()) {
        Ok(_) => panic!("{} loaded, but it is broken", path.display()),
        Err(err) => err,
    }
}

#[test]
fn broken_checkpoints_get_errors_naming_file_key_and_shape() {
    let dir = tempfile::tempdir().unwrap();

    let missing = dir.path().join("nowhere.pth");
    let err = load_error(&missing);
    assert!(matches!(
        err,
        InceptionError::Checkpoint(CheckpointError::Io { .. })
    ));
    assert!(err.to_string().contains("nowhere.pth"), "{err}");

    for file in ["googlenet_w8.pth", "googlenet_w8_f16.safetensors"] {
        let bytes = std::fs::read(fixture(file)).unwrap();
        let truncated = dir.path().join(format!("truncated_{file}"));
        std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
        let err = load_error(&truncated).to_string();
        assert!(
            err.contains("truncated") || err.contains("not a readable checkpoint"),
            "{file} cut in half: {err}"
        );
        assert!(
            err.contains("truncated_"),
            "the message names the file: {err}"
        );
    }

    let key = "inception4c.branch3.1.bn.running_var";
    let no_key = edited_checkpoint(dir.path(), "no_key.safetensors", |k, shape, data| {
        (k != key).then_some((shape, data))
    });
    let err = load_error(&no_key);
    assert!(
        matches!(&err, InceptionError::Checkpoint(CheckpointError::MissingKey { key: k, .. }) if k == key),
        "{err}"
    );

    let wrong_shape = edited_checkpoint(dir.path(), "wrong_shape.safetensors", |k, shape, data| {
        if k == "inception3a.branch2.1.conv.weight" {
            // [16, 12, 3, 3] as [16, 12, 9, 1]: the right size, the wrong shape.
            Some((vec![shape[0], shape[1], 9, 1], data))
        } else {
            Some((shape, data))
        }
    });
    let err = load_error(&wrong_shape);
    assert!(
        matches!(&err, InceptionError::Checkpoint(CheckpointError::ShapeMismatch { key, .. }) if key == "inception3a.branch2.1.conv.weight"),
        "{err}"
    );
    assert!(err.to_string().contains("[16, 12, 9, 1]"), "{err}");

    let not_googlenet =
        edited_checkpoint(dir.path(), "resnet_like.safetensors", |k, shape, data| {
            if k == "conv1.conv.weight" {
                Some((vec![8, 3, 49, 1], data))
            } else {
                Some((shape, data))
            }
        });
    let err = load_error(&not_googlenet);
    assert!(matches!(err, InceptionError::NotGoogLeNet { .. }), "{err}");
}

/// `key<TAB>dtype<TAB>[shape]` lines of torchvision's full GoogLeNet state dict.
fn full_key_table() -> Vec<(String, String, Vec<usize>)> {
    std::fs::read_to_string(fixture("googlenet_full_keys.txt"))
        .unwrap()
        .lines()
        .map(|line| {
            let mut fields = line.split('\t');
            let key = fields.next().unwrap().to_owned();
            let dtype = fields.next().unwrap().to_owned();
            let shape = fields
                .next()
                .unwrap()
                .trim_matches(['[', ']'])
                .split(", ")
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().unwrap())
                .collect();
            (key, dtype, shape)
        })
        .collect()
}

#[test]
fn full_width_torchvision_layout_is_what_the_loader_reads() {
    let table = full_key_table();
    let expected = expected_tensors(1);
    for (key, shape) in &expected {
        let found = table.iter().find(|(k, _, _)| k == key);
        assert!(
            matches!(found, Some((_, dtype, s)) if s == shape && dtype == "float32"),
            "torchvision has {key} as {found:?}, the loader expects {shape:?}"
        );
    }
    // Everything else is the classifier, the auxiliary heads or BN's step counters.
    for (key, _, _) in &table {
        let read = expected.iter().any(|(k, _)| k == key);
        let ignored = key.starts_with("fc.")
            || key.starts_with("aux1.")
            || key.starts_with("aux2.")
            || key.ends_with(".num_batches_tracked");
        assert!(read != ignored, "{key}: read {read}, ignored {ignored}");
    }

    // A checkpoint with every tensor of that table loads as the full-width network.
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<(String, Vec<usize>, Vec<u8>)> = table
        .iter()
        .filter(|(_, dtype, _)| dtype == "float32")
        .map(|(key, _, shape)| {
            // BN variances of 1 and weights of 1/64 keep the activations finite and non-zero.
            let value = if key.ends_with("running_var") {
                1.0f32
            } else {
                1.0 / 64.0
            };
            let bytes = std::iter::repeat_n(value.to_le_bytes(), shape.iter().product())
                .flatten()
                .collect();
            (key.clone(), shape.clone(), bytes)
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = data
        .iter()
        .map(|(key, shape, bytes)| {
            let view =
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                    .unwrap();
            (key.clone(), view)
        })
        .collect();
    let path = dir.path().join("googlenet_full.safetensors");
    std::fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();
    let net = InceptionV1::load(&path, Preprocess::Pretrained, &Device::flex()).unwrap();
    assert_eq!(net.width_divisor(), 1);
    let x = Tensor::<4>::ones([1, 3, 64, 64], &Device::flex()) * 0.5;
    let out = net.forward_to(x, Layer::Inception5b);
    assert_eq!(out.dims(), [1, 1024, 2, 2]);
    assert!(tensor_values(out).iter().all(|v| v.is_finite()));
}

#[test]
fn wgpu_gradient_matches_pytorch() {
    // SAFETY: set before this test touches wgpu; no other test reads this variable, and the
    // value only trims cubecl's kernel autotuning (minutes on lavapipe in a debug build).
    unsafe { std::env::set_var("CUBECL_AUTOTUNE_LEVEL", "minimal") };
    let device = Device::wgpu(burn::tensor::DeviceKind::DefaultDevice);
    let net =
        InceptionV1::load(&fixture("googlenet_w8.pth"), Preprocess::Identity, &device).unwrap();
    let x = to_tensor(&reference("x37x45"), &device);
    let grad = objective_gradient(&net, x, Layer::Inception4c, Objective::Mean);
    assert_close(
        "wgpu gradient",
        grad,
        &reference("grad.mean.inception4c"),
        1e-3,
    );
}

fn cli() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_deep-visualizer"));
    // The references are CPU results; keep the command off lavapipe.
    cmd.env("DEEP_VISUALIZER_DEVICE", "cpu");
    cmd
}

#[test]
fn dream_command_is_reproducible_and_keeps_the_size() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.png");
    test_picture(45, 37).save(&input).unwrap();
    let run = |seed: &str, out: &str| {
        let out = dir.path().join(out);
        let status = cli()
            .args(["dream", "--weights"])
            .arg(fixture("googlenet_w8.pth"))
            .arg("--image")
            .arg(&input)
            .args([
                "--layer",
                "inception4c",
                "--iterations",
                "2",
                "--octaves",
                "2",
            ])
            .args(["--jitter", "6", "--seed", seed, "--quiet", "--out"])
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success(), "dream failed: {status}");
        std::fs::read(&out).unwrap()
    };
    let (a, b, c) = (run("7", "a.png"), run("7", "b.png"), run("8", "c.png"));
    assert_eq!(a, b, "the same seed gave different files");
    assert_ne!(a, c, "another seed gave the same file");
    let decoded = image::load_from_memory(&a).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (45, 37));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn dream_command_explains_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.png");
    test_picture(20, 20).save(&input).unwrap();
    let not_weights = dir.path().join("weights.pth");
    std::fs::write(&not_weights, b"certainly not a checkpoint").unwrap();
    let output = cli()
        .args(["dream", "--weights"])
        .arg(&not_weights)
        .arg("--image")
        .arg(&input)
        .arg("--out")
        .arg(dir.path().join("out.png"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("weights.pth") && stderr.contains("checkpoint"),
        "{stderr}"
    );
    assert!(!dir.path().join("out.png").exists());

    let output = cli()
        .args([
            "dream",
            "--layer",
            "inception9z",
            "--weights",
            "w",
            "--image",
            "i",
            "--out",
            "o",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("inception4c"));
}
