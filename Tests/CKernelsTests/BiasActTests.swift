// Tests of bias + leaky ReLU: fast kernels against their references over dense (S = 1) and
// conv shapes, with and without a bias, and the backward against finite differences.
import CKernels
import CKernelsReference
import Testing

private let shapes: [(N: Int, C: Int, S: Int)] = [
    (1, 1, 1), (1, 3, 5), (2, 7, 9), (4, 512, 1), (3, 16, 64), (8, 32, 1024),
]

@Test func biasLeakyReluForwardMatchesReference() {
    var worst = 0.0
    for (k, s) in shapes.enumerated() {
        let n = s.N * s.C * s.S
        let x = randomArray(count: n, seed: UInt64(k))
        let b = randomArray(count: s.C, seed: UInt64(50 + k))
        for slope: Float in [0.2, 1] {
            for bias in [b, nil] as [[Float]?] {
                var y = [Float](repeating: .nan, count: n), r = y
                if let bias {
                    bias_leaky_relu_forward(&y, x, bias, Int32(s.N), Int32(s.C), s.S, slope)
                    bias_leaky_relu_forward_ref(&r, x, bias, Int32(s.N), Int32(s.C), s.S, slope)
                } else {
                    bias_leaky_relu_forward(&y, x, nil, Int32(s.N), Int32(s.C), s.S, slope)
                    bias_leaky_relu_forward_ref(&r, x, nil, Int32(s.N), Int32(s.C), s.S, slope)
                }
                let d = maxAbsDifference(y, r)
                #expect(d == 0, "shape \(s) slope \(slope) bias \(bias != nil)")
                worst = max(worst, d)
            }
        }
    }
    // Known values: x + b = [-1, 2] with slope 0.2.
    var y: [Float] = [0, 0]
    bias_leaky_relu_forward(&y, [-1.5, 1.5], [0.5], 1, 1, 2, 0.2)
    #expect(y == [-0.2, 2])
    print("bias_leaky_relu_forward fast vs ref: max |diff| = \(worst) (tol 0: same float ops)")
}

/// Noise injection fused with bias + leaky ReLU: against its reference, and bit for bit against
/// the separate steps (noise * strength, added to x, then bias_leaky_relu_forward), with noise per
/// sample and one map for the batch.
@Test func noiseBiasLeakyReluMatchesReferenceAndTheSeparateSteps() {
    for (k, s) in shapes.enumerated() {
        let n = s.N * s.C * s.S
        let x = randomArray(count: n, seed: UInt64(k))
        let b = randomArray(count: s.C, seed: UInt64(50 + k)), st = randomArray(count: s.C, seed: UInt64(60 + k))
        for perSample in [true, false] {
            let noise = randomArray(count: (perSample ? s.N : 1) * s.S, seed: UInt64(70 + k))
            var y = [Float](repeating: .nan, count: n), r = y, separate = y
            noise_bias_leaky_relu_forward(&y, x, noise, perSample ? 1 : 0, st, b, Int32(s.N), Int32(s.C), s.S, 0.2)
            noise_bias_leaky_relu_forward_ref(&r, x, noise, perSample ? 1 : 0, st, b, Int32(s.N), Int32(s.C), s.S, 0.2)
            var sum = x
            for i in 0..<n {
                let (plane, p) = (i / s.S, i % s.S)
                let product = noise[(perSample ? plane / s.C * s.S : 0) + p] * st[plane % s.C]
                sum[i] = x[i] + product
            }
            bias_leaky_relu_forward(&separate, sum, b, Int32(s.N), Int32(s.C), s.S, 0.2)
            #expect(y == r && y == separate, "shape \(s) noise per sample \(perSample)")
        }
    }
}

@Test func leakyReluBackwardMatchesReference() {
    var worst = 0.0
    for n in [1, 7, 1000, 200_003] {
        let y = randomArray(count: n, seed: UInt64(n)), dy = randomArray(count: n, seed: UInt64(n + 1))
        var dx = [Float](repeating: .nan, count: n), r = dx
        leaky_relu_backward(&dx, dy, y, n, 0.2)
        leaky_relu_backward_ref(&r, dy, y, n, 0.2)
        worst = max(worst, maxAbsDifference(dx, r))
    }
    print("leaky_relu_backward fast vs ref: max |diff| = \(worst) (tol 0)")
    #expect(worst == 0)
}

@Test func leakyReluBackwardMatchesFiniteDifferences() {
    // L = sum(w * lrelu(x + b)); inputs kept away from the kink so the difference quotient is exact
    // up to rounding.
    let (N, C, S) = (2, 3, 5), n = N * C * S
    let b = randomArray(count: C, seed: 9)
    var x = randomArray(count: n, seed: 8)
    for i in 0..<n where abs(x[i] + b[i / S % C]) < 0.05 { x[i] += 0.1 }
    let w = randomArray(count: n, seed: 10)
    func loss(_ x: [Float]) -> Double {
        var y = [Float](repeating: 0, count: n)
        bias_leaky_relu_forward(&y, x, b, Int32(N), Int32(C), S, 0.2)
        return dot(w, y)
    }
    var y = [Float](repeating: 0, count: n), dx = y
    bias_leaky_relu_forward(&y, x, b, Int32(N), Int32(C), S, 0.2)
    leaky_relu_backward(&dx, w, y, n, 0.2)
    var fd = [Float](repeating: 0, count: n)
    let h: Float = 1e-2
    for i in 0..<n {
        var xp = x, xm = x
        xp[i] += h; xm[i] -= h
        fd[i] = Float((loss(xp) - loss(xm)) / Double(2 * h))
    }
    let rel = maxRelDifference(dx, fd)
    print("leaky_relu_backward vs finite differences: max rel diff = \(rel) (tol 1e-3)")
    #expect(rel <= 1e-3)
}
