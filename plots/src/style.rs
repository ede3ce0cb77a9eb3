//! What every chart shares: fonts, colours, the header, the legend panel, the empty state and
//! number formats.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use measure::Outcome;

use crate::render::DrawResult;

pub(crate) const FONT: &str = "sans-serif";
pub(crate) const HEADER_H: u32 = 70;
pub(crate) const LEGEND_W: u32 = 270;
pub(crate) const TEXT: RGBColor = RGBColor(33, 33, 33);
pub(crate) const MUTED: RGBColor = RGBColor(100, 100, 100);
pub(crate) const GRID: RGBColor = RGBColor(225, 225, 225);
/// The deploy window's shade.
pub(crate) const WINDOW_SHADE: RGBAColor = RGBAColor(255, 191, 0, 0.16);
pub(crate) const WINDOW_EDGE: RGBColor = RGBColor(214, 160, 0);

/// Tableau 10, the colours people read charts in.
pub(crate) const BLUE: RGBColor = RGBColor(31, 119, 180);
pub(crate) const ORANGE: RGBColor = RGBColor(255, 127, 14);
pub(crate) const GREEN: RGBColor = RGBColor(44, 160, 44);
pub(crate) const RED: RGBColor = RGBColor(214, 39, 40);
pub(crate) const PURPLE: RGBColor = RGBColor(148, 103, 189);
pub(crate) const BROWN: RGBColor = RGBColor(140, 86, 75);
pub(crate) const PINK: RGBColor = RGBColor(227, 119, 194);
pub(crate) const GREY: RGBColor = RGBColor(127, 127, 127);
pub(crate) const OLIVE: RGBColor = RGBColor(188, 189, 34);

/// The failure classes of the contract, in the order they stack, with their colours.
pub(crate) const FAILURE_CLASSES: [(Outcome, RGBColor); 8] = [
    (Outcome::Refused, RED),
    (Outcome::Reset, ORANGE),
    (Outcome::Http502, PURPLE),
    (Outcome::Http503, BROWN),
    (Outcome::Http504, PINK),
    (Outcome::Http5xxOther, OLIVE),
    (Outcome::Timeout, BLUE),
    (Outcome::Other, GREY),
];

/// A text style of the bundled font.
pub(crate) fn text(size: u32, color: &RGBColor) -> TextStyle<'static> {
    (FONT, size).into_font().color(color)
}

/// A bold text style. (`FontDesc::style` would keep the regular face's glyphs: the face is
/// chosen when the description is made.)
pub(crate) fn bold(size: u32, color: &RGBColor) -> TextStyle<'static> {
    (FONT, size, FontStyle::Bold).into_font().color(color)
}

pub(crate) fn anchored(style: TextStyle<'static>, h: HPos, v: VPos) -> TextStyle<'static> {
    style.pos(Pos::new(h, v))
}

/// Splits off the header strip, draws the title and a muted subtitle in it, and returns the rest.
pub(crate) fn header<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
) -> Result<DrawingArea<DB, Shift>, DrawingAreaErrorKind<DB::ErrorType>> {
    let (head, body) = root.split_vertically(HEADER_H);
    head.draw(&Text::new(
        title.to_string(),
        (24, 12),
        anchored(bold(26, &TEXT), HPos::Left, VPos::Top),
    ))?;
    if !subtitle.is_empty() {
        head.draw(&Text::new(
            subtitle.to_string(),
            (24, 46),
            anchored(text(16, &MUTED), HPos::Left, VPos::Top),
        ))?;
    }
    Ok(body)
}

/// How a legend entry is drawn.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Swatch {
    /// A filled box (bars, stacked counts).
    Box(RGBColor),
    /// A translucent band with an edge (the deploy window).
    Shade(RGBAColor, RGBColor),
    /// A line of the given width.
    Line(RGBColor, u32),
    /// A filled dot.
    Dot(RGBColor),
    /// A cross.
    Cross(RGBColor),
    /// An interval whisker with a mean tick.
    Whisker(RGBColor),
}

/// Draws a legend, one entry a row, from the top left of `area`.
pub(crate) fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(Swatch, String)],
) -> DrawResult<DB> {
    let x = 12;
    let mut y = 28;
    for (swatch, label) in entries {
        draw_swatch(area, *swatch, (x, y))?;
        area.draw(&Text::new(
            label.clone(),
            (x + 36, y),
            anchored(text(16, &TEXT), HPos::Left, VPos::Center),
        ))?;
        y += 28;
    }
    Ok(())
}

/// Draws one swatch, 28 x 14 pixels, centred vertically on `y`.
pub(crate) fn draw_swatch<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    swatch: Swatch,
    (x, y): (i32, i32),
) -> DrawResult<DB> {
    match swatch {
        Swatch::Box(c) => area.draw(&Rectangle::new([(x, y - 7), (x + 28, y + 7)], c.filled())),
        Swatch::Shade(fill, edge) => {
            area.draw(&Rectangle::new(
                [(x, y - 7), (x + 28, y + 7)],
                fill.filled(),
            ))?;
            area.draw(&Rectangle::new(
                [(x, y - 7), (x + 28, y + 7)],
                edge.stroke_width(1),
            ))
        }
        Swatch::Line(c, w) => area.draw(&PathElement::new(
            vec![(x, y), (x + 28, y)],
            c.stroke_width(w),
        )),
        Swatch::Dot(c) => area.draw(&Circle::new((x + 14, y), 5, c.filled())),
        Swatch::Cross(c) => area.draw(&Cross::new((x + 14, y), 5, c.stroke_width(2))),
        Swatch::Whisker(c) => {
            let s = c.stroke_width(2);
            area.draw(&PathElement::new(vec![(x, y), (x + 28, y)], s))?;
            area.draw(&PathElement::new(vec![(x, y - 6), (x, y + 6)], s))?;
            area.draw(&PathElement::new(vec![(x + 28, y - 6), (x + 28, y + 6)], s))?;
            area.draw(&PathElement::new(vec![(x + 14, y - 8), (x + 14, y + 8)], s))
        }
    }
}

/// The chart of an empty input: the title and a sentence saying what was missing.
pub(crate) fn empty_state<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    message: &str,
) -> DrawResult<DB> {
    let body = header(root, title, "")?;
    let (w, h) = body.dim_in_pixel();
    body.draw(&Rectangle::new(
        [(24, 10), (w as i32 - 24, h as i32 - 24)],
        GRID.stroke_width(2),
    ))?;
    body.draw(&Text::new(
        format!("no data: {message}"),
        (w as i32 / 2, h as i32 / 2),
        anchored(text(22, &MUTED), HPos::Center, VPos::Center),
    ))
}

/// A number for a label: integers as integers, otherwise three significant digits.
pub(crate) fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if a >= 1e7 {
        return format!("{v:.2e}");
    }
    if v.fract() == 0.0 {
        return format!("{v:.0}");
    }
    let decimals = if a >= 100.0 {
        0
    } else {
        (2 - a.log10().floor() as i32).clamp(0, 8) as usize
    };
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A fraction as a percentage with up to three significant digits (`0.0025` is `0.25%`).
pub(crate) fn fmt_percent(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    format!("{}%", fmt_num(v * 100.0))
}

/// Finite values only; the charts never feed NaN or infinities to plotters.
pub(crate) fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

/// A value range with room around it: never empty, never reversed.
pub(crate) fn padded(lo: f64, hi: f64, frac: f64) -> (f64, f64) {
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    let span = hi - lo;
    if span <= f64::EPSILON * hi.abs().max(1.0) {
        let pad = if hi.abs() > 0.0 { hi.abs() * 0.1 } else { 1.0 };
        return (lo - pad, hi + pad);
    }
    (lo - span * frac, hi + span * frac)
}

/// Checks a deploy window: finite and in order.
pub(crate) fn check_window(window_s: [f64; 2]) -> Result<(), String> {
    if !window_s.iter().all(|t| t.is_finite()) {
        return Err(format!("window_s {window_s:?} is not finite"));
    }
    if window_s[0] > window_s[1] {
        return Err(format!("window_s {window_s:?} ends before it starts"));
    }
    Ok(())
}

/// [`check_window`] for a chart meant for `out`: the error names the file.
pub(crate) fn check_window_for(
    window_s: [f64; 2],
    out: &std::path::Path,
) -> Result<(), crate::PlotError> {
    check_window(window_s).map_err(|reason| crate::PlotError::InvalidInput {
        path: out.to_path_buf(),
        reason,
    })
}

/// The deploy window's legend label.
pub(crate) fn window_label(window_s: [f64; 2]) -> String {
    format!(
        "deploy window {}–{} s",
        fmt_num(window_s[0]),
        fmt_num(window_s[1])
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(12.0), "12");
        assert_eq!(fmt_num(0.0025), "0.0025");
        assert_eq!(fmt_num(0.123456), "0.123");
        assert_eq!(fmt_num(12.345), "12.3");
        assert_eq!(fmt_num(1234.6), "1235");
        assert_eq!(fmt_num(f64::NAN), "n/a");
        assert_eq!(fmt_percent(0.0025), "0.25%");
    }

    #[test]
    fn padded_ranges_are_never_empty() {
        assert_eq!(padded(0.0, 0.0, 0.1), (-1.0, 1.0));
        let (lo, hi) = padded(5.0, 5.0, 0.1);
        assert!(lo < 5.0 && hi > 5.0);
        assert_eq!(padded(10.0, 0.0, 0.0), (0.0, 10.0));
    }
}
