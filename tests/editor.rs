//! The editor in a real X11 window, hosted as a DAW hosts it (CLAP's GUI extension, embedded in
//! a host window), under Xvfb: it shows live pictures that change with the audio, says when the
//! weights are missing, and survives being opened and closed 50 times without keeping memory,
//! and two instances with their editors open at once.
//!
//! The test starts its own Xvfb when `DISPLAY` is not set (`.ci/run` installs `xvfb`). The
//! screenshots stay in `target/editor-screenshots/` to be looked at.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use clack_extensions::gui::{GuiApiType, GuiConfiguration, PluginGui, Window};
use clack_host::events::event_types::ParamValueEvent;
use clack_host::prelude::*;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{self, ConnectionExt};
use x11rb::rust_connection::RustConnection;

mod common;
use common::{
    decode_state, encode_state_like, load_entry, load_state, new_instance, param_id, save_state,
    session_of, tiny_weights, transport_at, TestHost,
};

/// The host window's size, the editor's default size.
const WIDTH: u16 = 960;
const HEIGHT: u16 = 640;
/// The controls panel on the right and the meters at the bottom, in pixels.
const CONTROLS_W: u16 = 340;
const METERS_H: u16 = 118;
const RATE_HZ: f64 = 48_000.0;

/// An X server for the test: the session's, or an Xvfb of our own.
struct Display {
    /// The display name, e.g. `:93`.
    name: String,
    /// Our Xvfb, when we started one.
    xvfb: Option<Child>,
}

impl Drop for Display {
    fn drop(&mut self) {
        // Xlib exits the whole process when its server goes away while a connection is open,
        // and the plugin library keeps one until the process ends: our Xvfb outlives the test.
        if let Some(xvfb) = self.xvfb.take() {
            eprintln!(
                "the Xvfb on {} (pid {}) is left running",
                self.name,
                xvfb.id()
            );
        }
    }
}

fn display() -> Display {
    if let Ok(name) = std::env::var("DISPLAY") {
        if !name.is_empty() {
            return Display { name, xvfb: None };
        }
    }
    let name = format!(":{}", 90 + std::process::id() % 9);
    // Without the Composite extension the editor's GL window is drawn into the screen, where a
    // screenshot sees it.
    let xvfb = Command::new("Xvfb")
        .args([
            &name,
            "-screen",
            "0",
            "1280x800x24",
            "-extension",
            "Composite",
            "-nolisten",
            "tcp",
        ])
        .spawn()
        .expect("Xvfb is needed for the editor test: `sudo apt install xvfb` (or set DISPLAY)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while x11rb::connect(Some(&name)).is_err() {
        assert!(Instant::now() < deadline, "Xvfb {name} did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The plugin's window code reads DISPLAY.
    std::env::set_var("DISPLAY", &name);
    Display {
        name,
        xvfb: Some(xvfb),
    }
}

/// A host window on `conn`.
fn host_window(conn: &RustConnection, screen_num: usize, x: i16) -> u32 {
    let screen = &conn.setup().roots[screen_num];
    let win = conn.generate_id().unwrap();
    conn.create_window(
        x11rb::COPY_DEPTH_FROM_PARENT,
        win,
        screen.root,
        x,
        0,
        WIDTH,
        HEIGHT,
        0,
        xproto::WindowClass::INPUT_OUTPUT,
        0,
        &xproto::CreateWindowAux::new().background_pixel(screen.black_pixel),
    )
    .unwrap();
    conn.map_window(win).unwrap();
    conn.flush().unwrap();
    win
}

/// The window's pixels as RGB8.
fn screenshot(conn: &RustConnection, win: u32) -> image::RgbImage {
    let reply = conn
        .get_image(xproto::ImageFormat::Z_PIXMAP, win, 0, 0, WIDTH, HEIGHT, !0)
        .unwrap()
        .reply()
        .unwrap();
    // 24-bit depth comes as 32 bits per pixel, blue first.
    image::RgbImage::from_fn(u32::from(WIDTH), u32::from(HEIGHT), |x, y| {
        let i = ((y * u32::from(WIDTH) + x) * 4) as usize;
        image::Rgb([reply.data[i + 2], reply.data[i + 1], reply.data[i]])
    })
}

fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/editor-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The picture area: left of the controls, above the meters.
fn picture_area(shot: &image::RgbImage) -> Vec<u8> {
    image::imageops::crop_imm(
        shot,
        0,
        0,
        u32::from(WIDTH - CONTROLS_W),
        u32::from(HEIGHT - METERS_H),
    )
    .to_image()
    .into_raw()
}

/// Opens the instance's editor in `win`.
fn open_editor(instance: &mut PluginInstance<TestHost>, win: u32) -> PluginGui {
    let handle = instance.plugin_handle();
    let gui: PluginGui = handle.get_extension().expect("the plugin has a GUI");
    let config = GuiConfiguration {
        api_type: GuiApiType::X11,
        is_floating: false,
    };
    assert!(gui.is_api_supported(&handle, config));
    gui.create(&handle, config).expect("the editor is created");
    let _ = gui.set_size(
        &handle,
        clack_extensions::gui::GuiSize {
            width: u32::from(WIDTH),
            height: u32::from(HEIGHT),
        },
    );
    // SAFETY: `win` lives until the end of the test, after the editor is destroyed.
    unsafe { gui.set_parent(&handle, Window::from_x11_handle(win.into())) }
        .expect("the editor embeds into the host window");
    gui.show(&handle).expect("the editor shows");
    gui
}

/// Where the Output folder's Browse button is in the window with one take listed (see
/// `takes.png`).
const BROWSE_OUTPUT_AT: (i16, i16) = (914, 614);
/// Escape in the X server's default keymap.
const ESCAPE_KEYCODE: u8 = 9;

/// A left click at window position `x`, `y` of the first host window (at the screen's origin),
/// through the XTEST extension, as a user's mouse.
fn click(conn: &RustConnection, screen_num: usize, x: i16, y: i16) {
    use x11rb::protocol::xtest::ConnectionExt as _;
    let root = conn.setup().roots[screen_num].root;
    for (kind, detail) in [
        (xproto::MOTION_NOTIFY_EVENT, 0),
        (xproto::BUTTON_PRESS_EVENT, 1),
        (xproto::BUTTON_RELEASE_EVENT, 1),
    ] {
        conn.xtest_fake_input(kind, detail, x11rb::CURRENT_TIME, root, x, y, 0)
            .unwrap();
        conn.flush().unwrap();
        std::thread::sleep(Duration::from_millis(80));
    }
}

/// Presses and releases the key `keycode`.
fn press_key(conn: &RustConnection, screen_num: usize, keycode: u8) {
    use x11rb::protocol::xtest::ConnectionExt as _;
    let root = conn.setup().roots[screen_num].root;
    for kind in [xproto::KEY_PRESS_EVENT, xproto::KEY_RELEASE_EVENT] {
        conn.xtest_fake_input(kind, keycode, x11rb::CURRENT_TIME, root, 0, 0, 0)
            .unwrap();
        conn.flush().unwrap();
        std::thread::sleep(Duration::from_millis(80));
    }
}

fn close_editor(instance: &mut PluginInstance<TestHost>, gui: &PluginGui) {
    let handle = instance.plugin_handle();
    let _ = gui.hide(&handle);
    gui.destroy(&handle);
}

/// A tone that grows from silence into a loud chord with a kick, over `seconds`.
fn song(seconds: f64) -> Vec<f32> {
    let n = (seconds * RATE_HZ) as usize;
    (0..n)
        .map(|i| {
            let t = i as f64 / RATE_HZ;
            if t < seconds / 2.0 {
                return 0.0;
            }
            let chord: f64 = [196.0, 246.94, 293.66]
                .iter()
                .map(|f| (t * f * std::f64::consts::TAU).sin())
                .sum();
            let since_kick = t % 0.5;
            (0.2 * chord
                + 0.6
                    * (-since_kick * 20.0).exp()
                    * (since_kick * 55.0 * std::f64::consts::TAU).sin()) as f32
        })
        .collect()
}

/// Plays `audio` (mono, duplicated to stereo) through the activated instance at real-time
/// pace on an audio thread, calling `during(seconds_played)` on this thread every 100 ms.
/// With `record`, the transport plays from 0 and the Record parameter is on, so the plugin
/// keeps the audio as a take.
fn play(
    instance: &mut PluginInstance<TestHost>,
    audio: &[f32],
    record: bool,
    mut during: impl FnMut(f64),
) {
    const BLOCK: usize = 512;
    let record_id = param_id(instance, "Record");
    let config = PluginAudioConfiguration {
        sample_rate: RATE_HZ,
        min_frames_count: 1,
        max_frames_count: BLOCK as u32,
    };
    let processor = instance.activate(|_, _| (), config).expect("activates");
    let played = std::sync::atomic::AtomicUsize::new(0);
    let processor = std::thread::scope(|scope| {
        let audio_thread = scope.spawn(|| {
            let mut processor = processor.start_processing().expect("processing starts");
            let mut input_ports = AudioPorts::with_capacity(4, 2);
            let mut output_ports = AudioPorts::with_capacity(2, 1);
            let mut events = EventBuffer::new();
            let started = Instant::now();
            for (block_idx, block) in audio.chunks(BLOCK).enumerate() {
                let mut main_in = [block.to_vec(), block.to_vec()];
                let mut main_out = [vec![0.0f32; block.len()], vec![0.0f32; block.len()]];
                let input = input_ports.with_input_buffers([AudioPortBuffer {
                    latency: 0,
                    channels: AudioPortBufferType::f32_input_only(
                        main_in
                            .iter_mut()
                            .map(|b| InputChannel::variable(&mut b[..])),
                    ),
                }]);
                let mut output = output_ports.with_output_buffers([AudioPortBuffer {
                    latency: 0,
                    channels: AudioPortBufferType::f32_output_only(
                        main_out.iter_mut().map(|b| &mut b[..]),
                    ),
                }]);
                let record_on: Vec<ParamValueEvent> = (record && block_idx == 0)
                    .then(|| ParamValueEvent::new(0, record_id, Pckn::match_all(), 1.0))
                    .into_iter()
                    .collect();
                let transport = transport_at((block_idx * BLOCK) as i64, RATE_HZ, record);
                processor
                    .process(
                        &input,
                        &mut output,
                        &InputEvents::from_buffer(&record_on),
                        &mut OutputEvents::from_buffer(&mut events),
                        None,
                        Some(&transport),
                    )
                    .expect("process() succeeds");
                assert_eq!(
                    main_out[0], block,
                    "audio passes through while the editor runs"
                );
                played.store(
                    (block_idx + 1) * BLOCK,
                    std::sync::atomic::Ordering::Relaxed,
                );
                let due = Duration::from_secs_f64(((block_idx + 1) * BLOCK) as f64 / RATE_HZ);
                std::thread::sleep(due.saturating_sub(started.elapsed()));
            }
            processor.stop_processing()
        });
        while !audio_thread.is_finished() {
            during(played.load(std::sync::atomic::Ordering::Relaxed) as f64 / RATE_HZ);
            std::thread::sleep(Duration::from_millis(100));
        }
        audio_thread
            .join()
            .expect("the audio thread does not panic")
    });
    instance.deactivate(processor);
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

// One test: the plugin reads its weights folder and display from the process environment.
#[test]
fn the_editor_shows_live_pictures_and_survives_reopening() {
    let display = display();
    let weights = tiny_weights();
    std::env::set_var("DEEP_VISUALIZER_WEIGHTS", weights.path());
    std::env::set_var("DEEP_VISUALIZER_DEVICE", "cpu");
    let takes = tempfile::tempdir().unwrap();
    std::env::set_var("DEEP_VISUALIZER_OUTPUT_DIR", takes.path());
    let (conn, screen_num) = x11rb::connect(Some(&display.name)).expect("X connection");
    let dir = screenshot_dir();
    let entry = load_entry();

    // Live pictures that follow the audio.
    let win = host_window(&conn, screen_num, 0);
    let mut instance = new_instance(&entry);
    let gui = open_editor(&mut instance, win);
    let mut shots: Vec<(f64, image::RgbImage)> = Vec::new();
    let audio = song(8.0);
    play(&mut instance, &audio, true, |played_s| {
        for at in [3.5, 7.5] {
            if played_s >= at && shots.iter().all(|(t, _)| *t != at) {
                shots.push((at, screenshot(&conn, win)));
            }
        }
    });
    assert_eq!(shots.len(), 2, "two screenshots while playing");
    for (at, shot) in &shots {
        shot.save(dir.join(format!("live_{at:.1}s.png"))).unwrap();
    }
    let (quiet, loud) = (picture_area(&shots[0].1), picture_area(&shots[1].1));
    let distinct = |a: &[u8]| {
        let mut colours: Vec<&[u8]> = a.chunks(3).collect();
        colours.sort_unstable();
        colours.dedup();
        colours.len()
    };
    assert!(
        distinct(&quiet) > 200,
        "the picture area shows no model frame during the quiet part ({} colours); see {}",
        distinct(&quiet),
        dir.display()
    );
    let differing = quiet.iter().zip(&loud).filter(|(a, b)| a != b).count();
    assert!(
        differing > quiet.len() / 20,
        "the picture did not change with the music ({differing} of {} bytes); see {}",
        quiet.len(),
        dir.display()
    );
    // The transport stopped: the take closes and renders; the panel lists it.
    let started = Instant::now();
    while !takes.path().read_dir().unwrap().flatten().any(|e| {
        e.path()
            .join(deep_visualizer::take::RENDER_RECORD_FILE)
            .is_file()
    }) {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the take did not render"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(500));
    let takes_shot = screenshot(&conn, win);
    takes_shot.save(dir.join("takes.png")).unwrap();

    // Browse next to the Output folder (the last row in view here) opens the file browser over
    // the window: its backdrop dims the picture; Escape closes it.
    click(&conn, screen_num, BROWSE_OUTPUT_AT.0, BROWSE_OUTPUT_AT.1);
    std::thread::sleep(Duration::from_millis(500));
    let picker_shot = screenshot(&conn, win);
    picker_shot.save(dir.join("file_browser.png")).unwrap();
    let brightness = |shot: &image::RgbImage| {
        let area = picture_area(shot);
        area.iter().map(|&c| f64::from(c)).sum::<f64>() / area.len() as f64
    };
    assert!(
        brightness(&picker_shot) < 0.8 * brightness(&takes_shot),
        "Browse did not open the file browser; see {}",
        dir.join("file_browser.png").display()
    );
    press_key(&conn, screen_num, ESCAPE_KEYCODE);
    std::thread::sleep(Duration::from_millis(300));
    close_editor(&mut instance, &gui);

    // Opening and closing the editor 50 times neither crashes nor leaks. Measured while open:
    // each window's software-GL threads come and go, and the plugin gives the memory they freed
    // back when the next window opens. Before that, glibc kept it (3.5 MB per opening, up to
    // about 270 MB more at 40 openings); what remains is the allocator settling (about 0.5 MB
    // per opening at first, less and less: 20 MB from the 10th to the 50th opening here).
    let mut rss_at_10 = 0;
    for round in 0..50 {
        let gui = open_editor(&mut instance, win);
        std::thread::sleep(Duration::from_millis(100));
        if round == 9 {
            rss_at_10 = rss_kib();
        }
        if round == 49 {
            let growth_kib = rss_kib().saturating_sub(rss_at_10);
            eprintln!("40 more editor openings grew the process by {growth_kib} KiB");
            assert!(
                growth_kib < 60 * 1024,
                "the editor keeps memory: {growth_kib} KiB over 40 openings"
            );
        }
        close_editor(&mut instance, &gui);
    }

    // Two instances with their editors open at once; the second has no weights.
    let empty = tempfile::tempdir().unwrap();
    std::env::set_var("DEEP_VISUALIZER_WEIGHTS", empty.path());
    let win_b = host_window(&conn, screen_num, 100);
    let mut instance_b = new_instance(&entry);
    let gui_a = open_editor(&mut instance, win);
    let gui_b = open_editor(&mut instance_b, win_b);
    play(&mut instance_b, &song(2.0), false, |_| {});
    let missing = screenshot(&conn, win_b);
    missing.save(dir.join("missing_weights.png")).unwrap();
    // The empty picture area (a line of text in it) instead of a frame filling it.
    let area = picture_area(&missing);
    let painted = area.chunks(3).filter(|p| p.iter().any(|&c| c > 40)).count();
    assert!(
        painted < area.len() / 3 / 20,
        "no model frame without weights ({painted} bright pixels); see {}",
        dir.display()
    );
    close_editor(&mut instance_b, &gui_b);
    close_editor(&mut instance, &gui_a);

    // A project's window size: the editor opens at it (the host created the editor before it
    // restored the project) and does not save its first size over it.
    let mut instance_c = new_instance(&entry);
    let saved = save_state(&mut instance_c);
    let mut json = decode_state(&saved);
    let mut session = session_of(&saved);
    session.editor_size = (800, 500);
    json["fields"]["session"] = serde_json::Value::String(serde_json::to_string(&session).unwrap());
    load_state(&mut instance_c, &encode_state_like(&saved, &json));
    let win_c = host_window(&conn, screen_num, 200);
    let gui_c = open_editor(&mut instance_c, win_c);
    std::thread::sleep(Duration::from_millis(1500));
    let children = conn.query_tree(win_c).unwrap().reply().unwrap().children;
    let geometry = conn.get_geometry(children[0]).unwrap().reply().unwrap();
    screenshot(&conn, win_c)
        .save(dir.join("restored_size.png"))
        .unwrap();
    assert_eq!(
        (geometry.width, geometry.height),
        (800, 500),
        "the editor opens at the project's size"
    );
    assert_eq!(
        session_of(&save_state(&mut instance_c)).editor_size,
        (800, 500)
    );
    close_editor(&mut instance_c, &gui_c);
}
