//! The hot path: once a worker's scratch is warm, input without credentials is scanned and
//! written without a single heap allocation.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use tokenscrub::RedactorBuilder;
use tokenscrub::pipe::{PipeConfig, StreamRedactor};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const CLEAN: &str = concat!(
    "{\"ts\":\"2026-11-22T00:00:01Z\",\"level\":\"info\",\"msg\":\"done\",\"trace_id\":\"7cbe6900040c74c025eff77a2bdd3e37\",\"status\":200}\n",
    "10.0.0.1 - - [22/Nov/2026:00:00:12 +0000] \"GET /api/v1/orders/42?page=2 HTTP/1.1\" 200 512 \"-\" \"curl/8.5.0\"\n",
    "time=2026-11-22T00:00:10Z level=info msg=\"cache hit\" component=billing duration=12ms\n",
    "Nov 22 00:00:00 web-01 app[7]: processed job 75eb5e4e-a1da-4093-bc02-091edcd8640d in 3ms\n",
);

#[test]
fn clean_input_allocates_nothing() {
    let redactor = RedactorBuilder::new()
        .build(b"alloc test key: 0123456789abcdef0123")
        .unwrap();
    let input = CLEAN.repeat(500);

    // Slice path.
    let mut scratch = redactor.scratch();
    let mut out = Vec::with_capacity(input.len());
    redactor.redact_into(input.as_bytes(), &mut scratch, &mut out); // warm up
    out.clear();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let n = redactor.redact_into(input.as_bytes(), &mut scratch, &mut out);
    let allocated = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert_eq!(n, 0);
    assert_eq!(out, input.as_bytes());
    assert_eq!(allocated, 0, "slice path allocated {allocated} times on clean input");

    // Streaming path: the buffer is allocated once per stream redactor, not per run or line.
    let mut stream = StreamRedactor::new(
        &redactor,
        PipeConfig {
            read_size: 4096,
            ..PipeConfig::default()
        },
    );
    let mut sink = Vec::with_capacity(input.len() * 2);
    stream.run(input.as_bytes(), &mut sink).unwrap();
    sink.clear();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    stream.run(input.as_bytes(), &mut sink).unwrap();
    let allocated = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert_eq!(sink, input.as_bytes());
    assert_eq!(
        allocated, 0,
        "streaming path allocated {allocated} times on clean input"
    );
}
