// The tensor-buffer cache: large buffers come back for the next request of the same size,
// everything is 64-byte aligned, and it is safe from many threads.
import CKernels
import Foundation
import Testing

@Suite("Buffer pool", .serialized)
struct PoolTests {
    @Test func largeBuffersAreReusedBySize() {
        let size = (3 << 20) + 4 * 12345  // an odd size no other test allocates
        let a = ck_buffer_alloc(size)!
        #expect(Int(bitPattern: a) % 64 == 0)
        ck_buffer_free(a, size)
        let b = ck_buffer_alloc(size)!
        #expect(b == a)
        let c = ck_buffer_alloc(size)!  // the cached one is taken: a fresh buffer
        #expect(c != b && Int(bitPattern: c) % 64 == 0)
        ck_buffer_free(b, size)
        ck_buffer_free(c, size)
    }

    @Test func smallBuffersAreAlignedToo() {
        // (Not cached: other suites run at the same time, so the cache's size is not checked here.)
        for n in [1, 63, 1000, 200_000] {
            let p = ck_buffer_alloc(n)!
            #expect(Int(bitPattern: p) % 64 == 0)
            ck_buffer_free(p, n)
        }
    }

    @Test func concurrentUseKeepsBuffersDistinct() {
        let size = 1 << 20
        DispatchQueue.concurrentPerform(iterations: 8) { t in
            for i in 0..<50 {
                let p = ck_buffer_alloc(size)!.bindMemory(to: Int32.self, capacity: size / 4)
                // Each owner writes its mark through the whole buffer: a buffer handed to two
                // owners at once would show the other's mark.
                let mark = Int32(t * 1000 + i)
                for k in stride(from: 0, to: size / 4, by: 1024) { p[k] = mark }
                for k in stride(from: 0, to: size / 4, by: 1024) { precondition(p[k] == mark, "buffer shared between threads") }
                ck_buffer_free(p, size)
            }
        }
    }

    @Test func theFootprintStaysWithinThePeakPlusHeadroom() {
        // Buffers are never touched here, so these sizes cost address space, not memory.
        func footprint() -> (inUse: Int, cached: Int, allowed: Int) {
            var (u, c, p, a) = (0, 0, 0, 0)
            ck_buffer_footprint(&u, &c, &p, &a)
            return (u, c, a)
        }
        let mb = 1 << 20
        // Phase one holds six 300 MB buffers at once; phase two wants other sizes, one at a time,
        // so each of its requests is a miss that must make room.
        let first = (0..<6).map { 300 * mb + 64 * (7919 + $0) }
        let held = first.map { ck_buffer_alloc($0)! }
        for (p, n) in zip(held, first) { ck_buffer_free(p, n) }
        var last: UnsafeMutableRawPointer?
        for k in 0..<12 {
            let n = 700 * mb + 64 * (104_729 + k)
            let p = ck_buffer_alloc(n)!
            last = p
            let f = footprint()
            #expect(f.inUse + f.cached <= f.allowed, "footprint \((f.inUse + f.cached) / mb) MB over \(f.allowed / mb) MB")
            ck_buffer_free(p, n)
        }
        // The reuse itself: a size just freed comes back.
        let n = 700 * mb + 64 * (104_729 + 11)
        let p = ck_buffer_alloc(n)!
        #expect(p == last)
        ck_buffer_free(p, n)
    }
}
