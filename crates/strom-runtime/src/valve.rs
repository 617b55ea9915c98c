//! Combines the watermarks and idleness of a task's input channels into the task's own
//! watermark, following Flink's `StatusWatermarkValve`.
//!
//! The task's watermark is the minimum over the *active and aligned* channels; an idle
//! channel does not hold it back, and a channel that becomes active again only counts once
//! its watermark has caught up with the task's. The output never goes backwards.

use strom_types::{Watermark, WatermarkStatus};

#[derive(Clone, Debug)]
struct Channel {
    watermark: i64,
    idle: bool,
    aligned: bool,
}

/// What the valve asks the task to forward after an input event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ValveOutput {
    /// A new, larger task watermark.
    pub watermark: Option<Watermark>,
    /// A change of the task's own status.
    pub status: Option<WatermarkStatus>,
}

/// The watermark valve of one task.
#[derive(Clone, Debug)]
pub struct WatermarkValve {
    channels: Vec<Channel>,
    last_output: i64,
    idle: bool,
}

impl WatermarkValve {
    /// A valve over `n` channels, all active, none with a watermark yet.
    pub fn new(n: usize) -> Self {
        WatermarkValve {
            channels: vec![
                Channel {
                    watermark: i64::MIN,
                    idle: false,
                    aligned: true,
                };
                n
            ],
            last_output: i64::MIN,
            idle: false,
        }
    }

    /// The task's current watermark.
    pub fn current(&self) -> Watermark {
        Watermark(self.last_output)
    }

    /// A watermark arrived on `channel`.
    pub fn on_watermark(&mut self, channel: usize, watermark: Watermark) -> ValveOutput {
        let last = self.last_output;
        let c = &mut self.channels[channel];
        if c.idle || watermark.0 <= c.watermark {
            return ValveOutput::default();
        }
        c.watermark = watermark.0;
        if !c.aligned && c.watermark >= last {
            c.aligned = true;
        }
        ValveOutput {
            watermark: self.advance_to_min_of_aligned(),
            status: None,
        }
    }

    /// `channel` became idle or active.
    pub fn on_status(&mut self, channel: usize, status: WatermarkStatus) -> ValveOutput {
        let mut out = ValveOutput::default();
        match status {
            WatermarkStatus::Idle => {
                if self.channels[channel].idle {
                    return out;
                }
                self.channels[channel].idle = true;
                self.channels[channel].aligned = false;
                if self.channels.iter().all(|c| c.idle) {
                    // The last active channel went idle: release the largest watermark.
                    let max = self
                        .channels
                        .iter()
                        .map(|c| c.watermark)
                        .max()
                        .unwrap_or(i64::MIN);
                    if self.channels[channel].watermark == self.last_output
                        && max > self.last_output
                    {
                        self.last_output = max;
                        out.watermark = Some(Watermark(max));
                    }
                    self.idle = true;
                    out.status = Some(WatermarkStatus::Idle);
                } else if self.channels[channel].watermark == self.last_output {
                    out.watermark = self.advance_to_min_of_aligned();
                }
            }
            WatermarkStatus::Active => {
                let c = &mut self.channels[channel];
                if !c.idle {
                    return out;
                }
                c.idle = false;
                if c.watermark >= self.last_output {
                    c.aligned = true;
                }
                if self.idle {
                    self.idle = false;
                    out.status = Some(WatermarkStatus::Active);
                }
            }
        }
        out
    }

    fn advance_to_min_of_aligned(&mut self) -> Option<Watermark> {
        let min = self
            .channels
            .iter()
            .filter(|c| c.aligned && !c.idle)
            .map(|c| c.watermark)
            .min()?;
        if min > self.last_output {
            self.last_output = min;
            Some(Watermark(min))
        } else {
            None
        }
    }
}

/// The watermark of a task with one or more logical inputs (Flink's `TwoInputStreamTask`
/// with its `CombinedWatermarkStatus`): a [`WatermarkValve`] per input over that input's
/// channels, and the operator's watermark the minimum over the inputs that are not idle.
/// With one input it is exactly that input's valve.
#[derive(Clone, Debug)]
pub struct InputValves {
    valves: Vec<WatermarkValve>,
    /// Per channel: its input and its index among that input's channels.
    channels: Vec<(usize, usize)>,
    /// Per input: its last watermark and whether it is idle.
    partial: Vec<(i64, bool)>,
    combined: i64,
    idle: bool,
}

impl InputValves {
    /// Valves for channels whose inputs are `inputs` (one entry per channel).
    pub fn new(inputs: &[usize]) -> Self {
        let n = inputs.iter().max().map_or(1, |m| m + 1);
        let mut counts = vec![0usize; n];
        let channels = inputs
            .iter()
            .map(|&i| {
                counts[i] += 1;
                (i, counts[i] - 1)
            })
            .collect();
        InputValves {
            valves: counts.iter().map(|&c| WatermarkValve::new(c)).collect(),
            channels,
            // An input without channels never holds the others back.
            partial: counts.iter().map(|&c| (i64::MIN, c == 0)).collect(),
            combined: i64::MIN,
            idle: false,
        }
    }

    /// The input of `channel`.
    pub fn input_of(&self, channel: usize) -> usize {
        self.channels[channel].0
    }

    /// The watermark of `input` so far.
    pub fn input_watermark(&self, input: usize) -> Watermark {
        Watermark(self.partial[input].0)
    }

    /// A watermark arrived on `channel`.
    pub fn on_watermark(&mut self, channel: usize, watermark: Watermark) -> ValveOutput {
        let (input, c) = self.channels[channel];
        let out = self.valves[input].on_watermark(c, watermark);
        self.combine(input, out)
    }

    /// `channel` became idle or active.
    pub fn on_status(&mut self, channel: usize, status: WatermarkStatus) -> ValveOutput {
        let (input, c) = self.channels[channel];
        let out = self.valves[input].on_status(c, status);
        self.combine(input, out)
    }

    fn combine(&mut self, input: usize, out: ValveOutput) -> ValveOutput {
        if let Some(w) = out.watermark {
            self.partial[input].0 = w.0;
        }
        if let Some(s) = out.status {
            self.partial[input].1 = s == WatermarkStatus::Idle;
        }
        if self.valves.len() == 1 {
            return out;
        }
        let mut result = ValveOutput::default();
        let active = self.partial.iter().filter(|p| !p.1);
        let min = active.clone().map(|p| p.0).min();
        let all_idle = min.is_none();
        if let Some(min) = min
            && min > self.combined
        {
            self.combined = min;
            result.watermark = Some(Watermark(min));
        }
        if all_idle != self.idle {
            self.idle = all_idle;
            result.status = Some(if all_idle {
                WatermarkStatus::Idle
            } else {
                WatermarkStatus::Active
            });
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wm(v: i64) -> Watermark {
        Watermark(v)
    }

    #[test]
    fn minimum_over_channels_and_monotonic() {
        let mut v = WatermarkValve::new(2);
        assert_eq!(v.on_watermark(0, wm(10)).watermark, None);
        assert_eq!(v.on_watermark(1, wm(5)).watermark, Some(wm(5)));
        assert_eq!(v.on_watermark(1, wm(20)).watermark, Some(wm(10)));
        assert_eq!(
            v.on_watermark(0, wm(8)).watermark,
            None,
            "channel went backwards"
        );
        assert_eq!(v.on_watermark(0, wm(30)).watermark, Some(wm(20)));
    }

    #[test]
    fn idle_channel_does_not_hold_back_and_realigns() {
        let mut v = WatermarkValve::new(2);
        v.on_watermark(0, wm(10));
        assert_eq!(
            v.on_status(1, WatermarkStatus::Idle).watermark,
            Some(wm(10))
        );
        assert_eq!(v.on_watermark(0, wm(15)).watermark, Some(wm(15)));
        // channel 1 comes back behind: not aligned, does not hold back
        assert_eq!(
            v.on_status(1, WatermarkStatus::Active),
            ValveOutput::default()
        );
        assert_eq!(v.on_watermark(0, wm(17)).watermark, Some(wm(17)));
        // once it catches up it counts again
        assert_eq!(v.on_watermark(1, wm(20)).watermark, None);
        assert_eq!(v.on_watermark(0, wm(25)).watermark, Some(wm(20)));
    }

    #[test]
    fn all_idle_forwards_idle_and_max() {
        let mut v = WatermarkValve::new(2);
        v.on_watermark(0, wm(10));
        v.on_watermark(1, wm(12));
        let o = v.on_status(0, WatermarkStatus::Idle);
        assert_eq!(o.watermark, Some(wm(12)));
        let o = v.on_status(1, WatermarkStatus::Idle);
        assert_eq!(o.status, Some(WatermarkStatus::Idle));
        let o = v.on_status(1, WatermarkStatus::Active);
        assert_eq!(o.status, Some(WatermarkStatus::Active));
    }

    #[test]
    fn two_inputs_take_the_minimum_of_their_watermarks() {
        // Channels 0 and 1 belong to input 0, channel 2 to input 1.
        let mut v = InputValves::new(&[0, 0, 1]);
        assert_eq!(v.input_of(2), 1);
        assert_eq!(v.on_watermark(0, wm(10)).watermark, None);
        assert_eq!(
            v.on_watermark(2, wm(50)).watermark,
            None,
            "input 0 is at MIN"
        );
        assert_eq!(v.on_watermark(1, wm(20)).watermark, Some(wm(10)));
        assert_eq!(v.input_watermark(0), wm(10));
        assert_eq!(v.input_watermark(1), wm(50));
        assert_eq!(v.on_watermark(0, wm(70)).watermark, Some(wm(20)));
        assert_eq!(v.on_watermark(1, wm(80)).watermark, Some(wm(50)));
    }

    #[test]
    fn an_idle_input_does_not_hold_the_other_back() {
        let mut v = InputValves::new(&[0, 1]);
        v.on_watermark(0, wm(5));
        let o = v.on_status(1, WatermarkStatus::Idle);
        assert_eq!(
            o.watermark,
            Some(wm(5)),
            "input 1 idle: input 0 alone counts"
        );
        assert_eq!(
            o.status, None,
            "the operator is not idle while input 0 is active"
        );
        assert_eq!(v.on_watermark(0, wm(9)).watermark, Some(wm(9)));
        let o = v.on_status(0, WatermarkStatus::Idle);
        assert_eq!(o.status, Some(WatermarkStatus::Idle));
        let o = v.on_status(1, WatermarkStatus::Active);
        assert_eq!(o.status, Some(WatermarkStatus::Active));
        // Input 1 is active again but behind: the combined watermark never goes back.
        assert_eq!(v.on_watermark(1, wm(7)).watermark, None);
        assert_eq!(v.on_watermark(1, wm(12)).watermark, Some(wm(12)));
    }

    #[test]
    fn one_input_is_exactly_its_valve() {
        // A deterministic pseudo-random sequence of events over three channels.
        let mut single = WatermarkValve::new(3);
        let mut combined = InputValves::new(&[0, 0, 0]);
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..2_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let ch = (x % 3) as usize;
            let (a, b) = match (x >> 8) % 10 {
                0 => (
                    single.on_status(ch, WatermarkStatus::Idle),
                    combined.on_status(ch, WatermarkStatus::Idle),
                ),
                1 => (
                    single.on_status(ch, WatermarkStatus::Active),
                    combined.on_status(ch, WatermarkStatus::Active),
                ),
                _ => {
                    let w = wm(((x >> 16) % 1_000) as i64);
                    (single.on_watermark(ch, w), combined.on_watermark(ch, w))
                }
            };
            assert_eq!(a, b);
        }
    }
}
