// The kernel table of `stylegan bench kernels`: conv2d forward / input gradient / weight gradient
// at StyleGAN's layer shapes, each next to a plain sgemm of the same GEMM size (the practical
// ceiling for conv-as-GEMM), and the memory-bound kernels in GB/s. Timings, not tests.
import CKernels
import Foundation

public struct BenchRow {
    public var name: String
    public var fields: [(String, any Encodable)]

    public init(name: String, fields: [(String, any Encodable)]) { (self.name, self.fields) = (name, fields) }

    /// One JSON object (keys in order), for `--json`.
    public var json: String { JSONLine([("bench", name)] + fields).text }
}

/// Peak resident memory of this process, in MB.
public func peakRSSMegabytes() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_maxrss) / 1024
}

/// Median wall time of `body` in seconds over `iters` runs after one warm-up.
public func medianSeconds(iters: Int, _ body: () -> Void) -> Double {
    body()
    var times: [Double] = []
    for _ in 0..<max(1, iters) {
        let t0 = DispatchTime.now().uptimeNanoseconds
        body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
    }
    return times.sorted()[times.count / 2]
}

public enum KernelBench {
    /// StyleGAN's 3x3 conv shapes at batch 8: (channels, resolution).
    public static let convShapes: [(channels: Int, resolution: Int)] = [(512, 4), (512, 8), (512, 16), (512, 32), (256, 64), (128, 128)]

    /// Conv rows for each shape at each thread count.
    public static func convRows(batch: Int = 8, threads: [Int], iters: Int) -> [BenchRow] {
        Kernels.ensure()
        var rows: [BenchRow] = []
        for (c, r) in convShapes {
            let x = Tensor(randomNormal: [batch, c, r, r], seed: 1), w = Tensor(randomNormal: [c, c, 3, 3], seed: 2)
            let dy = Tensor(randomNormal: [batch, c, r, r], seed: 3)
            let y = Tensor(uninitialized: dy.shape), dx = Tensor(uninitialized: x.shape), dw = Tensor(uninitialized: w.shape)
            let m = c, n = batch * r * r, k = c * 9
            let cols = Tensor(randomNormal: [k, n], seed: 4), gemmOut = Tensor(uninitialized: [m, n])
            let flops = 2.0 * Double(m) * Double(n) * Double(k)
            let (b32, c32, r32) = (Int32(batch), Int32(c), Int32(r))
            for t in threads {
                ck_set_num_threads(Int32(t))
                let gemm = medianSeconds(iters: iters) {
                    ck_sgemm(0, 0, Int32(m), Int32(n), Int32(k), 1, w.data, cols.data, 0, gemmOut.data)
                }
                let fwd = medianSeconds(iters: iters) { conv2d_forward(y.data, x.data, w.data, b32, c32, r32, r32, c32, 3, 3, 1, 1, 1) }
                let bin = medianSeconds(iters: iters) { conv2d_backward_input(dx.data, dy.data, w.data, b32, c32, r32, r32, c32, 3, 3, 1, 1, 1) }
                let bw = medianSeconds(iters: iters) { conv2d_backward_weight(dw.data, dy.data, x.data, b32, c32, r32, r32, c32, 3, 3, 1, 1, 1) }
                let g = { (s: Double) in flops / s * 1e-9 }
                rows.append(BenchRow(name: "conv3x3", fields: [
                    ("shape", "\(c)->\(c) \(r)x\(r) b\(batch)"), ("threads", t),
                    ("sgemm_gflops", g(gemm)), ("fwd_gflops", g(fwd)), ("bwd_input_gflops", g(bin)), ("bwd_weight_gflops", g(bw)),
                    ("fwd_vs_sgemm", gemm / fwd), ("bwd_input_vs_sgemm", gemm / bin), ("bwd_weight_vs_sgemm", gemm / bw),
                    ("fwd_ms", fwd * 1e3),
                ]))
            }
        }
        ck_set_num_threads(0)
        return rows
    }

    /// Memory-bound kernels on a (8, 512, 32, 32) activation: GB/s of bytes read + written.
    public static func elementwiseRows(iters: Int) -> [BenchRow] {
        Kernels.ensure()
        let (n, c, r) = (8, 512, 32)
        let count = n * c * r * r
        let x = Tensor(randomNormal: [n, c, r, r], seed: 1), y = Tensor(uninitialized: x.shape)
        let b = Tensor(randomNormal: [c], seed: 2), s = Tensor(randomNormal: [n * c], seed: 3)
        let norm = Tensor(uninitialized: x.shape), rstd = Tensor(uninitialized: [n * c])
        let m = Tensor(zeros: x.shape), v = Tensor(zeros: x.shape)
        let up = Tensor(uninitialized: [n, c, 2 * r, 2 * r])
        let blur = FIRFilter.blur121.values
        let bytes = Double(count * 4)
        var rows: [BenchRow] = []
        func row(_ name: String, traffic: Double, _ body: () -> Void) {
            let t = medianSeconds(iters: iters, body)
            rows.append(BenchRow(name: name, fields: [("shape", "8x512x32x32"), ("ms", t * 1e3), ("gb_per_s", traffic / t * 1e-9)]))
        }
        row("bias_leaky_relu", traffic: 2 * bytes) { bias_leaky_relu_forward(y.data, x.data, b.data, Int32(n), Int32(c), r * r, 0.2) }
        row("adain_forward", traffic: 3 * bytes) {
            adain_forward(y.data, norm.data, rstd.data, x.data, s.data, s.data, Int32(n * c), r * r, 1e-8)
        }
        row("blur121", traffic: 2 * bytes) {
            upfirdn2d(y.data, x.data, blur, Int32(n * c), Int32(r), Int32(r), 3, 3, 1, 1, 1, 1, 1, 1)
        }
        row("upsample2x_nearest", traffic: 5 * bytes) {
            upfirdn2d(up.data, x.data, FIRFilter.nearest2.values, Int32(n * c), Int32(r), Int32(r), 2, 2, 2, 1, 1, 0, 1, 0)
        }
        row("adam_update", traffic: 7 * bytes) { adam_update(y.data, m.data, v.data, x.data, count, 1e-3, 0, 0.99, 1e-8, 1) }
        return rows
    }
}
