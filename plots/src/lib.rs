//! # plots: charts of fleetsim results
//!
//! Every chart is drawn only from the result structs of [`measure`] that the caller hands over
//! (a timeline of [`measure::Bucket`]s, an [`measure::Analysis`]'s reconnect curve,
//! [`measure::Aggregate`]s over seeds, predicted [`measure::Stat`]s against observed values).
//! Nothing here reads the network or any file; the only I/O is writing the chart.
//!
//! | chart | function | from |
//! |---|---|---|
//! | failed requests per bucket by outcome, deploy window shaded, ready endpoints | [`error_timeline`] | `Analysis::timeline`, `Summary::window_s` |
//! | p99 and p50 per bucket | [`p99_timeline`] | `Analysis::timeline` |
//! | one headline figure across scenarios, mean and interval | [`before_after_bars`] | one `Aggregate` per scenario |
//! | one figure over a two-parameter sweep | [`sweep_heatmap`] | a [`Heatmap`] |
//! | new connections per 10 ms | [`reconnect_curve`] | `Analysis::reconnects` |
//! | several reconnect curves on the same axes (predicted beside live) | [`reconnect_curves`] | `Analysis::reconnects` of each run |
//! | predicted interval against observed values, inside or outside | [`predicted_vs_observed`] | [`PredictedObserved`] rows |
//!
//! The output format follows the file extension ([`Format::from_path`]): `.svg` (and no
//! extension) writes SVG, `.png` writes PNG, anything else is [`PlotError::UnsupportedFormat`].
//! PNG text is drawn from DejaVu Sans, bundled in the crate (`assets/`, Bitstream Vera license),
//! so no system font, fontconfig or freetype is needed; SVG names the `sans-serif` family and
//! lets the viewer pick its own. Charts are [`SIZE`] pixels, except [`predicted_vs_observed`],
//! which grows with its figures ([`predicted_vs_observed_size`]).
//!
//! Empty input never panics: it gives a chart that says what was missing. Input that cannot be
//! drawn as given (a reversed deploy window, a heatmap whose rows do not match its labels) is
//! [`PlotError::InvalidInput`]. Every error names the output path.
//!
//! ```
//! use measure::{Bucket, OutcomeCounts};
//!
//! let buckets: Vec<Bucket> = (0..30)
//!     .map(|i| {
//!         let refused = if (10..14).contains(&i) { 12 } else { 0 };
//!         Bucket {
//!             t_s: f64::from(i),
//!             counts: OutcomeCounts { sent: 100, ok: 100 - refused, refused, ..Default::default() },
//!             completed: 100,
//!             p50_ms: Some(100.0),
//!             p99_ms: Some(if refused > 0 { 400.0 } else { 130.0 }),
//!             ready_endpoints: Some(if refused > 0 { 2 } else { 3 }),
//!             new_connections: 100,
//!         }
//!     })
//!     .collect();
//! let dir = std::env::temp_dir().join(format!("plots-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! plots::error_timeline(&buckets, [10.0, 20.0], "before", dir.join("errors.svg"))?;
//! plots::p99_timeline(&buckets, [10.0, 20.0], "before", dir.join("p99.png"))?;
//!
//! let err = plots::error_timeline(&buckets, [10.0, 20.0], "before", dir.join("errors.jpg"));
//! assert!(matches!(err, Err(plots::PlotError::UnsupportedFormat { .. })));
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bars;
mod error;
mod error_timeline;
mod figures;
mod heatmap;
mod p99_timeline;
mod predicted;
mod reconnect;
mod render;
mod style;
mod timeline;

pub use bars::before_after_bars;
pub use error::PlotError;
pub use error_timeline::error_timeline;
pub use heatmap::{Heatmap, sweep_heatmap};
pub use p99_timeline::p99_timeline;
pub use predicted::{PredictedObserved, predicted_vs_observed, predicted_vs_observed_size};
pub use reconnect::{
    NamedCurve, RECONNECT_TITLE, reconnect_curve, reconnect_curve_titled, reconnect_curves,
};
pub use render::{Format, SIZE};
