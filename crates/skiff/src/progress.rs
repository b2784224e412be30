//! Pull progress: a bar per layer when stderr is a terminal, plain lines in
//! Docker's words otherwise.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use skiff_image::pull::{Progress, PullEvent};

/// Shows a pull's progress on stderr.
pub enum PullProgress {
    /// Bars, one per layer.
    Bars {
        /// The bars' owner.
        multi: MultiProgress,
        /// Each layer's bar, by digest.
        bars: Mutex<HashMap<String, ProgressBar>>,
    },
    /// A line per layer step.
    Lines,
    /// Nothing (`-q`).
    Quiet,
}

impl PullProgress {
    /// Bars on a terminal, lines elsewhere, nothing when `quiet`.
    pub fn new(quiet: bool) -> PullProgress {
        match () {
            _ if quiet => PullProgress::Quiet,
            _ if std::io::stderr().is_terminal() => PullProgress::Bars {
                multi: MultiProgress::new(),
                bars: Mutex::new(HashMap::new()),
            },
            _ => PullProgress::Lines,
        }
    }
}

fn short(digest: &skiff_image::Digest) -> &str {
    &digest.hex()[..12]
}

impl Progress for PullProgress {
    fn event(&self, event: PullEvent<'_>) {
        match self {
            PullProgress::Quiet => {}
            PullProgress::Lines => match event {
                PullEvent::Resolved { .. } | PullEvent::Downloading(..) => {}
                PullEvent::LayerExists(d) => eprintln!("{}: Already exists", short(&d.digest)),
                PullEvent::Extracting(d) => eprintln!("{}: Download complete", short(&d.digest)),
                PullEvent::LayerDone(d) => eprintln!("{}: Pull complete", short(&d.digest)),
            },
            PullProgress::Bars { multi, bars } => {
                let mut bars = bars.lock().unwrap_or_else(|p| p.into_inner());
                let mut bar = |d: &skiff_image::manifest::Descriptor| {
                    bars.entry(d.digest.to_string())
                        .or_insert_with(|| {
                            let bar = multi.add(ProgressBar::new(d.size));
                            let style = ProgressStyle::with_template(
                                "{prefix}: {msg:<18} [{bar:30}] {bytes}/{total_bytes}",
                            )
                            .unwrap_or_else(|_| ProgressStyle::default_bar())
                            .progress_chars("=> ");
                            bar.set_style(style);
                            bar.set_prefix(short(&d.digest).to_string());
                            bar
                        })
                        .clone()
                };
                match event {
                    PullEvent::Resolved { layers, .. } => {
                        for d in layers {
                            bar(d).set_message("Waiting");
                        }
                    }
                    PullEvent::LayerExists(d) => bar(d).finish_with_message("Already exists"),
                    PullEvent::Downloading(d, n) => {
                        let b = bar(d);
                        b.set_message("Downloading");
                        b.set_position(n);
                    }
                    PullEvent::Extracting(d) => bar(d).set_message("Extracting"),
                    PullEvent::LayerDone(d) => bar(d).finish_with_message("Pull complete"),
                }
            }
        }
    }
}
