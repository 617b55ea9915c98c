//! A binary heap that orders equal elements exactly as `java.util.PriorityQueue` does.
//!
//! Flink keeps runs and completed matches in priority queues ordered by their first event;
//! runs that started with the same event compare equal, and then the heap's own mechanics
//! (where an element was inserted and how it was sifted) decide the order in which they
//! are visited and matches are emitted. Matching Flink's output order, and the match a
//! skip strategy keeps among equal ones, therefore needs the same heap: the same array
//! layout, the same sift-up on insertion, sift-down on removal, and compaction plus
//! heapify on bulk removal, with iteration in array order.

use serde::{Deserialize, Serialize};

/// A min-heap over `T` by `key`, with `java.util.PriorityQueue`'s layout and tie order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct JavaHeap<T> {
    items: Vec<T>,
}

impl<T> Default for JavaHeap<T> {
    fn default() -> Self {
        JavaHeap { items: Vec::new() }
    }
}

impl<T: Copy> JavaHeap<T> {
    /// An empty heap.
    pub(crate) fn new() -> Self {
        JavaHeap { items: Vec::new() }
    }

    /// Number of elements.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether it is empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The smallest element.
    pub(crate) fn peek(&self) -> Option<&T> {
        self.items.first()
    }

    /// The elements in array order (Java's iteration order).
    pub(crate) fn iter(&self) -> std::slice::Iter<'_, T> {
        self.items.iter()
    }

    /// Take all elements out in array order, leaving the heap empty (capacity kept).
    pub(crate) fn drain(&mut self) -> std::vec::Drain<'_, T> {
        self.items.drain(..)
    }

    /// Remove everything.
    pub(crate) fn clear(&mut self) {
        self.items.clear();
    }

    /// `offer`: append and sift up.
    pub(crate) fn push(&mut self, x: T, key: impl Fn(&T) -> u64) {
        let mut k = self.items.len();
        self.items.push(x);
        let kx = key(&x);
        while k > 0 {
            let parent = (k - 1) >> 1;
            let p = self.items[parent];
            if kx >= key(&p) {
                break;
            }
            self.items[k] = p;
            k = parent;
        }
        self.items[k] = x;
    }

    /// `poll`: remove the first element, move the last one to the root and sift it down.
    pub(crate) fn pop(&mut self, key: impl Fn(&T) -> u64) -> Option<T> {
        let last = self.items.pop()?;
        if self.items.is_empty() {
            return Some(last);
        }
        let top = self.items[0];
        let n = self.items.len();
        self.sift_down(0, last, n, &key);
        Some(top)
    }

    fn sift_down(&mut self, mut k: usize, x: T, n: usize, key: &impl Fn(&T) -> u64) {
        let kx = key(&x);
        let half = n >> 1;
        while k < half {
            let mut child = 2 * k + 1;
            let mut c = self.items[child];
            let right = child + 1;
            if right < n && key(&c) > key(&self.items[right]) {
                child = right;
                c = self.items[child];
            }
            if kx <= key(&c) {
                break;
            }
            self.items[k] = c;
            k = child;
        }
        self.items[k] = x;
    }

    /// `removeIf`/`removeAll`: drop the elements `remove` selects, keep the others in array
    /// order and re-heapify (only when something was removed).
    pub(crate) fn remove_where(
        &mut self,
        mut remove: impl FnMut(&T) -> bool,
        key: impl Fn(&T) -> u64,
    ) {
        let before = self.items.len();
        self.items.retain(|x| !remove(x));
        if self.items.len() == before {
            return;
        }
        let n = self.items.len();
        for i in (0..n / 2).rev() {
            let x = self.items[i];
            self.sift_down(i, x, n, &key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::JavaHeap;

    /// Elements are (key, id); equal keys reveal the tie order.
    fn key(x: &(u64, u32)) -> u64 {
        x.0
    }

    #[test]
    fn ties_follow_java_priority_queue() {
        // Checked with jshell: java.util.PriorityQueue with comparingLong(x -> x.key),
        // offer (1,0) (1,1) (1,2) (0,3): iteration 3 0 2 1, polling 3 1 2 0.
        let mut h = JavaHeap::new();
        for x in [(1, 0), (1, 1), (1, 2), (0, 3)] {
            h.push(x, key);
        }
        assert_eq!(
            h.iter().copied().collect::<Vec<_>>(),
            vec![(0, 3), (1, 0), (1, 2), (1, 1)]
        );
        let mut order = Vec::new();
        while let Some(x) = h.pop(key) {
            order.push(x.1);
        }
        assert_eq!(order, vec![3, 1, 2, 0]);
    }

    #[test]
    fn bulk_removal_compacts_and_heapifies() {
        let mut h = JavaHeap::new();
        for x in [(5, 0), (3, 1), (4, 2), (1, 3), (2, 4)] {
            h.push(x, key);
        }
        h.remove_where(|x| x.0 == 1, key);
        // jshell: removeIf(x -> x.key == 1) leaves (2,4) (3,1) (5,0) (4,2).
        assert_eq!(
            h.iter().copied().collect::<Vec<_>>(),
            vec![(2, 4), (3, 1), (5, 0), (4, 2)]
        );
    }
}
