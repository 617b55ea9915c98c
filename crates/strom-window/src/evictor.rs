//! Evictors remove elements from a window before or after the window function runs
//! (Flink's `Evictor`s). A window with an evictor keeps all its elements.

use crate::window::Window;
use std::time::Duration;
use strom_types::Record;

/// Removes elements from a window's contents around an evaluation.
///
/// Contract: the element vector is in insertion order; removals are permanent (the next
/// evaluation sees what is left).
pub trait Evictor<T, W: Window>: Send {
    /// Called before the window function.
    fn evict_before(&mut self, elements: &mut Vec<Record<T>>, window: &W);
    /// Called after the window function.
    fn evict_after(&mut self, elements: &mut Vec<Record<T>>, window: &W);
}

/// Keeps at most `max_count` elements: the most recent ones.
#[derive(Clone, Copy, Debug)]
pub struct CountEvictor {
    max_count: usize,
    after: bool,
}

impl CountEvictor {
    /// Keep the last `max_count` elements, evicting before evaluation.
    pub fn of(max_count: usize) -> Self {
        CountEvictor {
            max_count,
            after: false,
        }
    }
    /// Evict after evaluation instead.
    pub fn evict_after_evaluation(mut self) -> Self {
        self.after = true;
        self
    }
    fn evict<T>(&self, elements: &mut Vec<Record<T>>) {
        if elements.len() > self.max_count {
            let n = elements.len() - self.max_count;
            elements.drain(..n);
        }
    }
}

impl<T, W: Window> Evictor<T, W> for CountEvictor {
    fn evict_before(&mut self, elements: &mut Vec<Record<T>>, _: &W) {
        if !self.after {
            self.evict(elements);
        }
    }
    fn evict_after(&mut self, elements: &mut Vec<Record<T>>, _: &W) {
        if self.after {
            self.evict(elements);
        }
    }
}

/// Keeps only elements within `size` of the newest element's timestamp
/// (removes those with `timestamp <= max_timestamp - size`).
#[derive(Clone, Copy, Debug)]
pub struct TimeEvictor {
    size: i64,
    after: bool,
}

impl TimeEvictor {
    /// Keep the last `size` of event time, evicting before evaluation.
    pub fn of(size: Duration) -> Self {
        TimeEvictor {
            size: size.as_millis() as i64,
            after: false,
        }
    }
    /// Evict after evaluation instead.
    pub fn evict_after_evaluation(mut self) -> Self {
        self.after = true;
        self
    }
    fn evict<T>(&self, elements: &mut Vec<Record<T>>) {
        let Some(max) = elements.iter().map(|r| r.timestamp).max() else {
            return;
        };
        let cutoff = max - self.size;
        elements.retain(|r| r.timestamp > cutoff);
    }
}

impl<T, W: Window> Evictor<T, W> for TimeEvictor {
    fn evict_before(&mut self, elements: &mut Vec<Record<T>>, _: &W) {
        if !self.after {
            self.evict(elements);
        }
    }
    fn evict_after(&mut self, elements: &mut Vec<Record<T>>, _: &W) {
        if self.after {
            self.evict(elements);
        }
    }
}

/// No eviction (the default).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoEvictor;

impl<T, W: Window> Evictor<T, W> for NoEvictor {
    fn evict_before(&mut self, _: &mut Vec<Record<T>>, _: &W) {}
    fn evict_after(&mut self, _: &mut Vec<Record<T>>, _: &W) {}
}
