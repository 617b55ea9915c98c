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
}
