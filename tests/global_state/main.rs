//! Tests that change or measure state the whole process shares, in a binary of their own so no
//! other test runs beside them: a counting global allocator measures the heap (`backscan`,
//! `runc`), and `partial` lowers the file-size limit (`RLIMIT_FSIZE`) for one write. Each of
//! them holds [`SERIAL`], as the harness runs tests on parallel threads.

mod backscan;
#[cfg(target_os = "linux")]
mod cap;
mod partial;
mod runc;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

struct Counting;

/// Bytes ever allocated (a growing realloc counts its growth).
static TOTAL: AtomicUsize = AtomicUsize::new(0);
/// Bytes allocated now, and the highest value since a test last reset it.
static CUR: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    /// Number of allocations and reallocations (growths) so far on this thread: the test
    /// harness allocates on its own threads while a test runs (its output), which a global
    /// count would blame on the decoder.
    static ALLOCS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn count_alloc() {
    // `try_with`: the thread-local may be gone while a thread is torn down.
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
}

fn allocs_so_far() -> usize {
    ALLOCS.with(|c| c.get())
}

/// Held by every test that reads the counters or changes a process-wide limit.
static SERIAL: Mutex<()> = Mutex::new(());

fn grew(by: usize) {
    TOTAL.fetch_add(by, Ordering::SeqCst);
    let now = CUR.fetch_add(by, Ordering::SeqCst) + by;
    PEAK.fetch_max(now, Ordering::SeqCst);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = System.alloc(l);
        count_alloc();
        if !p.is_null() {
            grew(l.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(l);
        count_alloc();
        if !p.is_null() {
            grew(l.size());
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l);
        CUR.fetch_sub(l.size(), Ordering::SeqCst);
    }
    // Counted as the size change: large blocks grow in place or by mremap, not by copying.
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
        let q = System.realloc(p, l, new_size);
        if !q.is_null() {
            if new_size >= l.size() {
                count_alloc();
                grew(new_size - l.size());
            } else {
                CUR.fetch_sub(l.size() - new_size, Ordering::SeqCst);
            }
        }
        q
    }
}

#[global_allocator]
static A: Counting = Counting;
