//! From a chart to a file: the format from the extension, the bundled font, the backends.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use crate::PlotError;

/// DejaVu Sans (Bitstream Vera license, see `assets/LICENSE-DejaVu.txt`).
static REGULAR: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
/// DejaVu Sans Bold, for titles.
static BOLD: &[u8] = include_bytes!("../assets/DejaVuSans-Bold.ttf");

/// The width and height in pixels of every chart but [`crate::predicted_vs_observed`], whose
/// height grows with its rows (see [`crate::predicted_vs_observed_size`]).
pub const SIZE: (u32, u32) = (1200, 700);

/// The output formats. [`Format::from_path`] picks one from the file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Scalable vector graphics; text is `<text>` naming the `sans-serif` family.
    Svg,
    /// A 24-bit RGB PNG; text is rasterized from the bundled DejaVu Sans.
    Png,
}

impl Format {
    /// `.svg` (or no extension) gives SVG, `.png` gives PNG, case-insensitively; any other
    /// extension is [`PlotError::UnsupportedFormat`].
    pub fn from_path(path: &Path) -> Result<Format, PlotError> {
        let Some(ext) = path.extension() else {
            return Ok(Format::Svg);
        };
        match ext.to_string_lossy().to_ascii_lowercase().as_str() {
            "svg" => Ok(Format::Svg),
            "png" => Ok(Format::Png),
            _ => Err(PlotError::UnsupportedFormat {
                path: path.to_path_buf(),
                extension: ext.to_string_lossy().into_owned(),
            }),
        }
    }
}

/// The result of drawing on a backend.
pub(crate) type DrawResult<DB> =
    Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// A chart that can draw itself on any plotters backend.
pub(crate) trait Chart {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32) {
        SIZE
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB>;
}

/// Registers the bundled font under the family names plotters asks for. The SVG backend needs it
/// too: it measures text with the font to lay out labels.
fn register_fonts() -> Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        let fail = |_| "the bundled DejaVu Sans font did not parse".to_string();
        for family in ["sans-serif", "serif", "monospace"] {
            register_font(family, FontStyle::Normal, REGULAR).map_err(fail)?;
            register_font(family, FontStyle::Bold, BOLD).map_err(fail)?;
        }
        Ok(())
    })
    .clone()
}

/// Draws `chart` and writes it to `out`, in the format its extension names.
pub(crate) fn render<C: Chart>(chart: &C, out: &Path) -> Result<(), PlotError> {
    let format = Format::from_path(out)?;
    let render_err = |reason: String| PlotError::Render {
        path: out.to_path_buf(),
        reason,
    };
    register_fonts().map_err(render_err)?;
    let (w, h) = chart.size();
    // plotters can panic on inputs it does not expect; a chart is never worth a crash.
    let drawn = catch_unwind(AssertUnwindSafe(|| match format {
        Format::Svg => draw_svg(chart, (w, h)),
        Format::Png => draw_png(chart, (w, h)),
    }));
    let bytes = match drawn {
        Ok(result) => result.map_err(render_err)?,
        Err(panic) => {
            let reason = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            return Err(render_err(format!("plotters panicked: {reason}")));
        }
    };
    std::fs::write(out, bytes).map_err(|source| PlotError::Io {
        path: out.to_path_buf(),
        source,
    })
}

fn draw_svg<C: Chart>(chart: &C, size: (u32, u32)) -> Result<Vec<u8>, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        chart.draw(&root).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg.into_bytes())
}

fn draw_png<C: Chart>(chart: &C, (w, h): (u32, u32)) -> Result<Vec<u8>, String> {
    let mut rgb = vec![255u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        chart.draw(&root).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    let mut png_bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut png_bytes, w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
        writer.write_image_data(&rgb).map_err(|e| e.to_string())?;
        writer.finish().map_err(|e| e.to_string())?;
    }
    Ok(png_bytes)
}
