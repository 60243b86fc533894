//! Run progress: an indicatif bar on a terminal, plain lines otherwise (CI logs, pipes).

use std::sync::Mutex;

use compbench_runner::{Event, Observer};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::ui;

pub struct Progress {
    bar: Option<ProgressBar>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    total: usize,
    finished: usize,
}

impl Progress {
    pub fn new() -> Progress {
        let bar = ui::interactive().then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{spinner:.cyan} [{elapsed_precise}] {bar:28.cyan/blue} {pos}/{len} {wide_msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("█▉▊▋▌▍▎▏ ");
            bar.set_style(style);
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        Progress {
            bar,
            state: Mutex::new(State::default()),
        }
    }

    fn line(&self, s: &str) {
        match &self.bar {
            Some(b) => b.println(s),
            None => eprintln!("{s}"),
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Observer for Progress {
    fn event(&self, event: &Event) {
        match *event {
            Event::Planned {
                total,
                cached,
                baselines,
                hw_configs,
                hw_batches,
            } => {
                let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
                st.total = total;
                st.finished = cached;
                if let Some(b) = &self.bar {
                    b.set_length(total as u64);
                    b.set_position(cached as u64);
                }
                let todo = total - cached;
                let cached_note = if cached > 0 {
                    format!(", {cached} already done (resuming)")
                } else {
                    String::new()
                };
                let batches = if hw_configs > 0 && hw_batches != [1] {
                    let list: Vec<String> = hw_batches.iter().map(u64::to_string).collect();
                    format!(" at batch {}", list.join(", "))
                } else {
                    String::new()
                };
                self.line(&format!(
                    "{total} experiments{cached_note}: {todo} to run, {baselines} baseline(s) to train or load, {hw_configs} hardware configuration(s){batches}"
                ));
            }
            Event::DataLoaded {
                dataset,
                train,
                test,
            } => {
                self.line(&format!(
                    "loaded {dataset}: {train} train / {test} test images"
                ));
            }
            Event::BaselineStarted { name } => match &self.bar {
                Some(b) => b.set_message(format!("baseline {name}")),
                None => eprintln!("baseline {name} ..."),
            },
            Event::BaselineFinished {
                name,
                accuracy,
                error,
                seconds,
            } => match error {
                Some(e) => self.line(&format!("✗ baseline {name}: {e}")),
                None => self.line(&format!(
                    "  baseline {name}: {} ({})",
                    ui::percent(accuracy),
                    ui::duration(seconds)
                )),
            },
            Event::ExperimentStarted { name } => {
                if let Some(b) = &self.bar {
                    b.set_message(name.to_string());
                }
            }
            Event::ExperimentFinished {
                name,
                accuracy,
                error,
                seconds,
            } => {
                let (finished, total) = {
                    let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
                    st.finished += 1;
                    (st.finished, st.total)
                };
                if let Some(b) = &self.bar {
                    b.inc(1);
                }
                let w = total.to_string().len();
                let head = format!("[{finished:>w$}/{total}]");
                match error {
                    Some(e) => self.line(&format!("{head} ✗ {name}: {e}")),
                    None => self.line(&format!(
                        "{head} ✓ {name}: accuracy {} ({})",
                        ui::percent(accuracy),
                        ui::duration(seconds)
                    )),
                }
            }
            Event::Log { scope, message } => match &self.bar {
                Some(b) => b.set_message(format!("{scope}: {message}")),
                None => tracing::info!("{scope}: {message}"),
            },
        }
    }
}
