//! The reports waiting to be sent: [`Queue`], bounded in number and in bytes; a push over either bound
//! drops the oldest reports and says how many.
//!
//! Plain data, no I/O and no locking (the sender holds it under its mutex).

use std::collections::VecDeque;

/// Anything queued, with its size in bytes.
pub trait Weighed {
    /// Bytes it holds.
    fn bytes(&self) -> usize;
}

/// A FIFO of at most `max_items` items and `max_bytes` bytes (an item larger than `max_bytes` alone is
/// still kept, as the only item).
#[derive(Debug)]
pub struct Queue<T> {
    items: VecDeque<T>,
    bytes: usize,
    max_items: usize,
    max_bytes: usize,
}

impl<T: Weighed> Queue<T> {
    /// An empty queue with these bounds (`max_items` at least 1).
    pub fn new(max_items: usize, max_bytes: usize) -> Queue<T> {
        Queue {
            items: VecDeque::new(),
            bytes: 0,
            max_items: max_items.max(1),
            max_bytes,
        }
    }

    /// Adds `item` at the back; returns how many of the oldest were dropped to make room.
    pub fn push(&mut self, item: T) -> usize {
        let mut dropped = 0;
        while !self.items.is_empty()
            && (self.items.len() >= self.max_items
                || self.bytes.saturating_add(item.bytes()) > self.max_bytes)
        {
            if let Some(old) = self.items.pop_front() {
                self.bytes -= old.bytes();
                dropped += 1;
            }
        }
        self.bytes += item.bytes();
        self.items.push_back(item);
        dropped
    }

    /// Takes the oldest item.
    pub fn pop(&mut self) -> Option<T> {
        let item = self.items.pop_front()?;
        self.bytes -= item.bytes();
        Some(item)
    }

    /// Items waiting.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Bytes waiting.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Item(u32, usize);

    impl Weighed for Item {
        fn bytes(&self) -> usize {
            self.1
        }
    }

    #[test]
    fn a_full_queue_drops_the_oldest() {
        let mut q = Queue::new(3, 1000);
        assert_eq!(q.push(Item(1, 10)), 0);
        assert_eq!(q.push(Item(2, 10)), 0);
        assert_eq!(q.push(Item(3, 10)), 0);
        assert_eq!(q.push(Item(4, 10)), 1);
        assert_eq!(q.len(), 3);
        assert_eq!(q.pop(), Some(Item(2, 10)));
        assert_eq!(q.bytes(), 20);
    }

    #[test]
    fn the_byte_bound_drops_as_many_as_needed() {
        let mut q = Queue::new(100, 100);
        for i in 0..5 {
            assert_eq!(q.push(Item(i, 20)), 0);
        }
        assert_eq!(q.push(Item(9, 50)), 3, "three of 20 bytes make room for 50");
        assert_eq!(q.bytes(), 90);
        assert_eq!(q.pop(), Some(Item(3, 20)));
        // An item over the byte bound alone is kept as the only item.
        assert_eq!(q.push(Item(10, 500)), 2);
        assert_eq!(q.len(), 1);
        assert_eq!(q.pop(), Some(Item(10, 500)));
        assert!(q.is_empty());
        assert_eq!(q.bytes(), 0);
    }
}
