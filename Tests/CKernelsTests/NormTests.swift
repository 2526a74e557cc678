// Tests of instance norm, AdaIN and pixel norm: fast kernels against their references (shapes
// with odd sizes, one plane, dense S = 1, pixel-norm blocks split across 256 positions), the
// normalised statistics, and every backward against central finite differences of its forward.
import CKernels
import CKernelsReference
import Testing

private let eps: Float = 1e-8

/// Central differences of `loss` at x, coordinate by coordinate.
private func finiteDifferences(_ x: [Float], h: Float = 5e-3, _ loss: ([Float]) -> Double) -> [Float] {
    (0..<x.count).map { i in
        var xp = x, xm = x
        xp[i] += h; xm[i] -= h
        return Float((loss(xp) - loss(xm)) / Double(2 * h))
    }
}

// MARK: - Instance norm

private let planeShapes: [(P: Int, S: Int)] = [(1, 1), (1, 7), (3, 16), (5, 33), (64, 64), (16, 4096)]

@Test func instanceNormForwardMatchesReference() {
    var worst = 0.0, worstStat = 0.0
    for (k, s) in planeShapes.enumerated() {
        let x = randomNormalArray(count: s.P * s.S, seed: UInt64(k), scale: 2, offset: 3)
        var y = [Float](repeating: .nan, count: x.count), yr = y
        var r = [Float](repeating: .nan, count: s.P), rr = r
        instance_norm_forward(&y, &r, x, Int32(s.P), s.S, eps)
        instance_norm_forward_ref(&yr, &rr, x, Int32(s.P), s.S, eps)
        worst = max(worst, maxAbsDifference(y, yr), maxRelDifference(r, rr))
        if s.S > 1 {
            for p in 0..<s.P { // each plane has mean 0, variance 1
                let plane = y[(p * s.S)..<((p + 1) * s.S)].map(Double.init)
                let mean = plane.reduce(0, +) / Double(s.S)
                let v = plane.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(s.S)
                worstStat = max(worstStat, abs(mean), abs(v - 1))
            }
        }
    }
    print("instance_norm_forward fast vs ref: max diff = \(worst) (tol 1e-5); |mean|, |var-1| <= \(worstStat) (tol 1e-4)")
    #expect(worst <= 1e-5)
    #expect(worstStat <= 1e-4)
}

@Test func instanceNormBackwardMatchesReference() {
    var worst = 0.0
    for (k, s) in planeShapes.enumerated() {
        let x = randomNormalArray(count: s.P * s.S, seed: UInt64(10 + k))
        let dy = randomNormalArray(count: x.count, seed: UInt64(20 + k))
        var y = [Float](repeating: 0, count: x.count), r = [Float](repeating: 0, count: s.P)
        instance_norm_forward(&y, &r, x, Int32(s.P), s.S, eps)
        var dx = [Float](repeating: .nan, count: x.count), dxr = dx
        instance_norm_backward(&dx, dy, y, r, Int32(s.P), s.S)
        instance_norm_backward_ref(&dxr, dy, y, r, Int32(s.P), s.S)
        worst = max(worst, maxRelDifference(dx, dxr))
    }
    print("instance_norm_backward fast vs ref: max rel diff = \(worst) (tol 1e-5)")
    #expect(worst <= 1e-5)
}

@Test func instanceNormBackwardMatchesFiniteDifferences() {
    let (P, S) = (2, 9)
    let x = randomNormalArray(count: P * S, seed: 31, offset: 0.5)
    let w = randomNormalArray(count: P * S, seed: 32)
    func loss(_ x: [Float]) -> Double {
        var y = [Float](repeating: 0, count: P * S), r = [Float](repeating: 0, count: P)
        instance_norm_forward(&y, &r, x, Int32(P), S, eps)
        return dot(w, y)
    }
    var y = [Float](repeating: 0, count: P * S), r = [Float](repeating: 0, count: P)
    instance_norm_forward(&y, &r, x, Int32(P), S, eps)
    var dx = [Float](repeating: 0, count: P * S)
    instance_norm_backward(&dx, w, y, r, Int32(P), S)
    let rel = maxRelDifference(dx, finiteDifferences(x, loss))
    print("instance_norm_backward vs finite differences: max rel diff = \(rel) (tol 1e-2)")
    #expect(rel <= 1e-2)
}

// MARK: - AdaIN

@Test func adainMatchesInstanceNormComposition() {
    var worstF = 0.0, worstB = 0.0
    for (k, s) in planeShapes.enumerated() {
        let x = randomNormalArray(count: s.P * s.S, seed: UInt64(40 + k))
        let ys = randomNormalArray(count: s.P, seed: UInt64(50 + k), scale: 0.5)
        let yb = randomNormalArray(count: s.P, seed: UInt64(60 + k))
        var out = [Float](repeating: .nan, count: x.count), y = out
        var r = [Float](repeating: .nan, count: s.P)
        adain_forward(&out, &y, &r, x, ys, yb, Int32(s.P), s.S, eps)
        var yr = [Float](repeating: 0, count: x.count), rr = [Float](repeating: 0, count: s.P)
        instance_norm_forward_ref(&yr, &rr, x, Int32(s.P), s.S, eps)
        let want = (0..<x.count).map { i in yr[i] * (1 + ys[i / s.S]) + yb[i / s.S] }
        worstF = max(worstF, maxAbsDifference(out, want), maxAbsDifference(y, yr), maxRelDifference(r, rr))

        let dout = randomNormalArray(count: x.count, seed: UInt64(70 + k))
        var dx = [Float](repeating: .nan, count: x.count), dxr = dx
        var dys = [Float](repeating: .nan, count: s.P), dysr = dys, dyb = dys, dybr = dys
        adain_backward(&dx, &dys, &dyb, dout, y, r, ys, Int32(s.P), s.S)
        adain_backward_ref(&dxr, &dysr, &dybr, dout, y, r, ys, Int32(s.P), s.S)
        worstB = max(worstB, maxRelDifference(dx, dxr), maxRelDifference(dys, dysr),
                     maxRelDifference(dyb, dybr))
    }
    print("adain_forward vs instance norm + style: max diff = \(worstF) (tol 1e-5); adain_backward fast vs ref: max rel diff = \(worstB) (tol 1e-5)")
    #expect(worstF <= 1e-5)
    #expect(worstB <= 1e-5)
}

@Test func adainBackwardMatchesFiniteDifferences() {
    let (P, S) = (3, 8)
    let x = randomNormalArray(count: P * S, seed: 81)
    let ys = randomNormalArray(count: P, seed: 82, scale: 0.5)
    let yb = randomNormalArray(count: P, seed: 83)
    let w = randomNormalArray(count: P * S, seed: 84)
    func loss(_ x: [Float], _ ys: [Float], _ yb: [Float]) -> Double {
        var out = [Float](repeating: 0, count: P * S), y = out, r = [Float](repeating: 0, count: P)
        adain_forward(&out, &y, &r, x, ys, yb, Int32(P), S, eps)
        return dot(w, out)
    }
    var out = [Float](repeating: 0, count: P * S), y = out, r = [Float](repeating: 0, count: P)
    adain_forward(&out, &y, &r, x, ys, yb, Int32(P), S, eps)
    var dx = [Float](repeating: 0, count: P * S)
    var dys = [Float](repeating: 0, count: P), dyb = dys
    adain_backward(&dx, &dys, &dyb, w, y, r, ys, Int32(P), S)
    let relX = maxRelDifference(dx, finiteDifferences(x) { loss($0, ys, yb) })
    let relS = maxRelDifference(dys, finiteDifferences(ys) { loss(x, $0, yb) })
    let relB = maxRelDifference(dyb, finiteDifferences(yb) { loss(x, ys, $0) })
    print("adain_backward vs finite differences: dx \(relX), dys \(relS), dyb \(relB) (tol 1e-2)")
    #expect(relX <= 1e-2)
    #expect(relS <= 1e-2)
    #expect(relB <= 1e-2)
}

// MARK: - Pixel norm

private let pixelShapes: [(N: Int, C: Int, S: Int)] = [
    (1, 1, 1), (2, 3, 5), (4, 512, 1), (2, 16, 300), (3, 7, 257), (8, 64, 1024),
]

@Test func pixelNormMatchesReference() {
    var worstF = 0.0, worstB = 0.0
    for (k, s) in pixelShapes.enumerated() {
        let n = s.N * s.C * s.S
        let x = randomNormalArray(count: n, seed: UInt64(90 + k), scale: 3)
        var y = [Float](repeating: .nan, count: n), yr = y
        var r = [Float](repeating: .nan, count: s.N * s.S), rr = r
        pixel_norm_forward(&y, &r, x, Int32(s.N), Int32(s.C), s.S, eps)
        pixel_norm_forward_ref(&yr, &rr, x, Int32(s.N), Int32(s.C), s.S, eps)
        worstF = max(worstF, maxAbsDifference(y, yr), maxRelDifference(r, rr))
        let dy = randomNormalArray(count: n, seed: UInt64(100 + k))
        var dx = [Float](repeating: .nan, count: n), dxr = dx
        pixel_norm_backward(&dx, dy, y, r, Int32(s.N), Int32(s.C), s.S)
        pixel_norm_backward_ref(&dxr, dy, y, r, Int32(s.N), Int32(s.C), s.S)
        worstB = max(worstB, maxRelDifference(dx, dxr))
    }
    print("pixel_norm fast vs ref: forward max diff = \(worstF), backward max rel diff = \(worstB) (tol 1e-5)")
    #expect(worstF <= 1e-5)
    #expect(worstB <= 1e-5)
}

@Test func pixelNormBackwardMatchesFiniteDifferences() {
    let (N, C, S) = (2, 5, 3), n = N * C * S
    let x = randomNormalArray(count: n, seed: 111)
    let w = randomNormalArray(count: n, seed: 112)
    func loss(_ x: [Float]) -> Double {
        var y = [Float](repeating: 0, count: n), r = [Float](repeating: 0, count: N * S)
        pixel_norm_forward(&y, &r, x, Int32(N), Int32(C), S, eps)
        return dot(w, y)
    }
    var y = [Float](repeating: 0, count: n), r = [Float](repeating: 0, count: N * S)
    pixel_norm_forward(&y, &r, x, Int32(N), Int32(C), S, eps)
    var dx = [Float](repeating: 0, count: n)
    pixel_norm_backward(&dx, w, y, r, Int32(N), Int32(C), S)
    let rel = maxRelDifference(dx, finiteDifferences(x, loss))
    print("pixel_norm_backward vs finite differences: max rel diff = \(rel) (tol 1e-2)")
    #expect(rel <= 1e-2)
}
