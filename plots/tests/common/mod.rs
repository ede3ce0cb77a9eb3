//! Hand-built results and checks of the files the charts write.
#![allow(dead_code)] // each test binary uses its own part

use std::path::Path;

use measure::{Aggregate, Bucket, OutcomeCounts, Stat};
use plots::PredictedObserved;
use serde_json::json;

/// Colours the charts use, as SVG writes them.
pub(crate) const REFUSED: &str = "#D62728";
pub(crate) const RESET: &str = "#FF7F0E";
pub(crate) const HTTP_502: &str = "#9467BD";
pub(crate) const READY: &str = "#2CA02C";
pub(crate) const P50: &str = "#1F77B4";
pub(crate) const NO_VALUE: &str = "#DEDEDE";

pub(crate) fn bucket(t_s: f64, refused: u64, reset: u64, ready: Option<u32>) -> Bucket {
    let ok = 100 - refused - reset;
    Bucket {
        t_s,
        counts: OutcomeCounts {
            sent: 100,
            ok,
            refused,
            reset,
            ..OutcomeCounts::default()
        },
        completed: 100,
        p50_ms: Some(100.0),
        p99_ms: Some(130.0 + 10.0 * refused as f64),
        ready_endpoints: ready,
        new_connections: 10,
    }
}

/// Ten 1 s buckets; refused in buckets 3, 4, 5, reset in 5 and 6; ready 3, 2 during 3..=6.
pub(crate) fn timeline() -> Vec<Bucket> {
    (0..10)
        .map(|i| {
            let refused = if (3..=5).contains(&i) { 10 } else { 0 };
            let reset = if (5..=6).contains(&i) { 4 } else { 0 };
            let ready = if (3..=6).contains(&i) { 2 } else { 3 };
            bucket(f64::from(i), refused, reset, Some(ready))
        })
        .collect()
}

pub(crate) fn aggregate(scenario: &str, refused: Option<(f64, f64, f64)>) -> (String, Aggregate) {
    let mut value = json!({"scenario": scenario, "seeds": 20});
    if let Some((mean, lo, hi)) = refused {
        value["requests"] = json!({"refused": {"mean": mean, "lo": lo, "hi": hi}});
    }
    (scenario.to_string(), Aggregate(value))
}

pub(crate) fn comparison(
    scenario: &str,
    figure: &str,
    stat: (f64, f64, f64),
    observed: &[f64],
) -> PredictedObserved {
    PredictedObserved {
        scenario: scenario.into(),
        figure: figure.into(),
        predicted: Stat {
            mean: stat.0,
            lo: stat.1,
            hi: stat.2,
        },
        observed: observed.to_vec(),
    }
}

/// Reads an SVG the crate wrote and checks that it is a non-trivial SVG naming `title`.
pub(crate) fn read_svg(path: &Path, title: &str) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(text.starts_with("<svg"), "{} is not an SVG", path.display());
    assert!(
        text.trim_end().ends_with("</svg>"),
        "{} is cut short",
        path.display()
    );
    assert!(
        text.len() > 500,
        "{} has only {} bytes",
        path.display(),
        text.len()
    );
    assert!(
        text.contains(title),
        "{} lacks the title {title:?}",
        path.display()
    );
    text
}

/// How many elements of `tag` (`"rect"`, `"polyline"`, `"circle"`, `"line"`) carry `attr="value"`.
pub(crate) fn count(svg: &str, tag: &str, attr: &str, value: &str) -> usize {
    let open = format!("<{tag} ");
    let needle = format!("{attr}=\"{value}\"");
    svg.split(&open)
        .skip(1)
        .filter(|element| {
            let end = element.find('>').unwrap_or(element.len());
            element[..end].contains(&needle)
        })
        .count()
}

/// A decoded PNG: width, height and RGB pixels.
pub(crate) struct Image {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

impl Image {
    pub(crate) fn pixel(&self, x: u32, y: u32) -> (u8, u8, u8) {
        let i = (y * self.width + x) as usize * 3;
        (self.rgb[i], self.rgb[i + 1], self.rgb[i + 2])
    }

    /// Pixels of exactly this colour.
    pub(crate) fn count(&self, color: (u8, u8, u8)) -> usize {
        self.rgb
            .chunks_exact(3)
            .filter(|p| (p[0], p[1], p[2]) == color)
            .count()
    }

    /// Dark pixels (text, axes) in a rectangle.
    pub(crate) fn dark_in(&self, x0: u32, y0: u32, x1: u32, y1: u32) -> usize {
        let mut n = 0;
        for y in y0..y1.min(self.height) {
            for x in x0..x1.min(self.width) {
                let (r, g, b) = self.pixel(x, y);
                if u32::from(r) + u32::from(g) + u32::from(b) < 3 * 110 {
                    n += 1;
                }
            }
        }
        n
    }
}

/// Decodes a PNG the crate wrote, checks its size and that it is not one flat colour, and that
/// the title was drawn (dark pixels in the header, where only the title's glyphs are dark).
pub(crate) fn read_png(path: &Path, size: (u32, u32)) -> Image {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let decoder = png::Decoder::new(std::io::BufReader::new(file));
    let mut reader = decoder.read_info().expect("a valid PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("a sane PNG size")];
    let info = reader.next_frame(&mut buf).expect("a decodable PNG frame");
    assert_eq!((info.width, info.height), size, "{} size", path.display());
    assert_eq!(info.color_type, png::ColorType::Rgb);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    buf.truncate(info.buffer_size());
    let image = Image {
        width: info.width,
        height: info.height,
        rgb: buf,
    };
    let first = image.pixel(0, 0);
    let differing = image
        .rgb
        .chunks_exact(3)
        .filter(|p| (p[0], p[1], p[2]) != first)
        .count();
    assert!(
        differing > (size.0 * size.1 / 100) as usize,
        "{} is nearly one flat colour ({differing} pixels differ)",
        path.display()
    );
    assert!(
        image.dark_in(0, 0, size.0, 40) > 300,
        "{}: no title text in the header",
        path.display()
    );
    image
}

/// The RGB of an SVG colour `#RRGGBB`.
pub(crate) fn rgb(hex: &str) -> (u8, u8, u8) {
    let v = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex colour");
    (v(1), v(3), v(5))
}
