//! Files at sample rates the Analyzer does not take (under 16 kHz: old game, phone and voice
//! recordings; over 768 kHz) are resampled before analysis to 22 050 Hz, the rate the original
//! tool analyses every file at (librosa's default), so their features are the original's.

use rubato::audioadapter_buffers::direct::SequentialSliceOfVecs;
use rubato::{Fft, FixedSync, Resampler};

use super::decode::{DecodeError, DecodedAudio};
use super::{MAX_SAMPLE_RATE_HZ, MIN_SAMPLE_RATE_HZ};

/// The rate a file the Analyzer cannot take is resampled to.
pub const RESAMPLE_RATE_HZ: u32 = 22_050;

/// Frames the resampler takes per step.
const CHUNK_FRAMES: usize = 1024;

/// `audio` unchanged when the Analyzer takes its rate, else resampled to [`RESAMPLE_RATE_HZ`]
/// (band-limited, FFT-based, the resampler's start-up delay trimmed, the length
/// `round(frames × ratio)`). The second value says what was done, for the user.
pub fn for_analysis(
    audio: DecodedAudio,
    path: &std::path::Path,
) -> Result<(DecodedAudio, Option<String>), DecodeError> {
    let rate_hz = audio.sample_rate_hz;
    if (MIN_SAMPLE_RATE_HZ..=MAX_SAMPLE_RATE_HZ).contains(&(rate_hz as f32)) {
        return Ok((audio, None));
    }
    let failed = |reason: String| DecodeError::Undecodable {
        path: path.to_owned(),
        reason: format!("resampling it from {rate_hz} Hz failed: {reason}"),
    };
    let num_channels = audio.channels.len();
    let num_frames = audio.num_frames();
    let mut resampler = Fft::<f32>::new(
        rate_hz as usize,
        RESAMPLE_RATE_HZ as usize,
        CHUNK_FRAMES,
        num_channels,
        FixedSync::Input,
    )
    .map_err(|e| failed(e.to_string()))?;
    let input = SequentialSliceOfVecs::new(&audio.channels, num_channels, num_frames)
        .map_err(|e| failed(e.to_string()))?;
    let capacity = resampler.process_all_needed_output_len(num_frames);
    let mut output = vec![vec![0.0f32; capacity]; num_channels];
    let mut output_adapter = SequentialSliceOfVecs::new_mut(&mut output, num_channels, capacity)
        .map_err(|e| failed(e.to_string()))?;
    let (_, produced) = resampler
        .process_all_into_buffer(&input, &mut output_adapter, num_frames, None)
        .map_err(|e| failed(e.to_string()))?;
    let wanted =
        (num_frames as f64 * f64::from(RESAMPLE_RATE_HZ) / f64::from(rate_hz)).round() as usize;
    for channel in &mut output {
        channel.truncate(produced.min(wanted));
    }
    let note = format!(
        "resampled {} from {rate_hz} Hz to {RESAMPLE_RATE_HZ} Hz for analysis",
        path.display()
    );
    Ok((
        DecodedAudio {
            sample_rate_hz: RESAMPLE_RATE_HZ,
            channels: output,
            ..audio
        },
        Some(note),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::decode::Decoder;

    fn sine(rate_hz: u32, freq_hz: f32, seconds: f32) -> DecodedAudio {
        let n = (rate_hz as f32 * seconds) as usize;
        DecodedAudio {
            sample_rate_hz: rate_hz,
            channels: vec![(0..n)
                .map(|i| (i as f32 / rate_hz as f32 * freq_hz * std::f32::consts::TAU).sin())
                .collect()],
            num_corrupt_packets: 0,
            decoder: Decoder::Symphonia,
            damage: None,
        }
    }

    #[test]
    fn supported_rates_pass_untouched() {
        let audio = sine(48_000, 440.0, 0.1);
        let (out, note) = for_analysis(audio.clone(), std::path::Path::new("a.wav")).unwrap();
        assert_eq!(out, audio);
        assert_eq!(note, None);
    }

    #[test]
    fn a_low_rate_file_is_resampled_to_the_same_tone_and_length() {
        for rate_hz in [8_000, 11_025] {
            let (out, note) =
                for_analysis(sine(rate_hz, 440.0, 2.0), std::path::Path::new("old.wav")).unwrap();
            assert_eq!(out.sample_rate_hz, RESAMPLE_RATE_HZ);
            assert_eq!(out.num_frames(), 44_100, "2 s at 22 050 Hz");
            assert!(note.unwrap().contains(&format!("from {rate_hz} Hz")));
            // The same 440 Hz tone: compare with the ideal sine away from the edges.
            let x = &out.channels[0];
            let err = (2_000..40_000)
                .map(|i| {
                    let t = i as f32 / RESAMPLE_RATE_HZ as f32;
                    (x[i] - (t * 440.0 * std::f32::consts::TAU).sin()).abs()
                })
                .fold(0.0f32, f32::max);
            assert!(err < 0.02, "{rate_hz} Hz: max error {err}");
        }
    }
}
