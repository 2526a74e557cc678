// Tests of the elementwise layer: broadcasting binary ops and strided copies against a
// multi-index loop written here, the unary maps against libm (softplus and sigmoid at extreme
// inputs), affine and lerp (in place too), reduce_sum against its reference over many axis
// subsets, and the whole-array helpers.
import CKernels
import CKernelsReference
import Foundation
import Testing

/// Contiguous (row-major) strides of `dims`.
private func contiguousStrides(_ dims: [Int]) -> [Int] {
    var s = [Int](repeating: 1, count: dims.count)
    for d in stride(from: dims.count - 2, through: 0, by: -1) { s[d] = s[d + 1] * dims[d + 1] }
    return s
}

/// Strides reading an array of shape `shape` broadcast to `dims` (0 where shape has a 1).
private func broadcastStrides(_ shape: [Int], to dims: [Int]) -> [Int] {
    let s = contiguousStrides(shape)
    return shape.indices.map { shape[$0] == 1 && dims[$0] != 1 ? 0 : s[$0] }
}

/// Every multi-index of `dims` in row-major order, as its offset through each stride set:
/// result[k][flat] is the offset into operand k.
private func offsets(_ dims: [Int], _ strides: [[Int]]) -> [[Int]] {
    let total = dims.reduce(1, *)
    var result = [[Int]](repeating: [Int](repeating: 0, count: total), count: strides.count)
    var idx = [Int](repeating: 0, count: dims.count)
    for flat in 0..<total {
        for k in strides.indices {
            var o = 0
            for d in dims.indices { o += idx[d] * strides[k][d] }
            result[k][flat] = o
        }
        var d = dims.count - 1 // odometer step
        while d >= 0 {
            idx[d] += 1
            if idx[d] < dims[d] { break }
            idx[d] = 0
            d -= 1
        }
    }
    return result
}

private let binaryOps: [(Int32, (Float, Float) -> Float)] = [
    (Int32(CK_ADD), (+)), (Int32(CK_SUB), (-)), (Int32(CK_MUL), (*)), (Int32(CK_DIV), (/)),
]

/// (output dims, shape of a, shape of b); a and b are contiguous in their own shapes.
private let broadcastCases: [([Int], [Int], [Int])] = [
    ([7], [7], [7]),                                  // same shape
    ([2, 3, 5, 4], [2, 3, 5, 4], [2, 3, 5, 4]),
    ([3, 4, 5], [3, 4, 5], [1, 1, 1]),                // scalar
    ([3, 4, 5], [1, 1, 1], [3, 4, 5]),
    ([2, 3, 4, 5], [2, 3, 4, 5], [1, 3, 1, 1]),       // per channel
    ([1, 3, 4, 5], [1, 3, 4, 5], [1, 3, 1, 1]),       // batch 1
    ([6, 9], [6, 9], [1, 9]),                         // per row vector
    ([6, 9], [6, 1], [6, 9]),                         // per row scalar
    ([6, 9], [6, 1], [1, 9]),                         // outer broadcast on both sides
    ([2, 3, 4, 5], [2, 1, 4, 1], [1, 3, 1, 5]),
    ([2, 1, 3, 1, 2, 3], [2, 1, 3, 1, 2, 3], [1, 1, 3, 1, 1, 3]),
    ([5, 64, 16, 16], [5, 64, 16, 16], [1, 64, 1, 1]), // parallel paths
    ([100_000], [100_000], [1]),
]

@Test func binaryBroadcastMatchesLoop() {
    var worst = 0.0
    for (k, (dims, sa, sb)) in broadcastCases.enumerated() {
        let a = randomArray(count: sa.reduce(1, *), seed: UInt64(k))
        let b = randomArray(count: sb.reduce(1, *), seed: UInt64(100 + k), lo: 0.5, hi: 2)
        let stA = broadcastStrides(sa, to: dims), stB = broadcastStrides(sb, to: dims)
        let offs = offsets(dims, [stA, stB])
        for (op, f) in binaryOps {
            var out = [Float](repeating: .nan, count: dims.reduce(1, *))
            ew_binary(op, &out, a, stA, b, stB, dims, Int32(dims.count))
            let want = (0..<out.count).map { f(a[offs[0][$0]], b[offs[1][$0]]) }
            let d = maxAbsDifference(out, want)
            #expect(d == 0, "case \(k) \(dims) op \(op)")
            worst = max(worst, d)
        }
    }
    print("ew_binary vs multi-index loop: max |diff| = \(worst) over \(broadcastCases.count) shapes x 4 ops (tol 0)")
}

@Test func binaryWithPermutedStrides() {
    // a is a transposed view: (3, 4) read from a contiguous (4, 3) array.
    let a = randomArray(count: 12, seed: 1), b = randomArray(count: 12, seed: 2)
    let dims = [3, 4], stA = [1, 3], stB = [4, 1]
    var out = [Float](repeating: .nan, count: 12)
    ew_binary(Int32(CK_SUB), &out, a, stA, b, stB, dims, 2)
    let o = offsets(dims, [stA, stB])
    let want = (0..<12).map { a[o[0][$0]] - b[o[1][$0]] }
    #expect(out == want)
}

@Test func copyStridedMatchesLoop() {
    // permutations, expands and a plain copy; the last one big enough for the parallel path
    let cases: [([Int], [Int])] = [
        ([2, 3, 4], [1, 2, 6]), ([4, 3], [1, 4]), ([5, 1, 3], [3, 0, 1]), ([3, 4, 5], [0, 5, 1]),
        ([2, 3, 4, 5], [60, 20, 5, 1]), ([1], [0]), ([40, 128, 16], [16, 640, 1]),
    ]
    for (k, (dims, st)) in cases.enumerated() {
        let span = zip(dims, st).reduce(1) { $0 + ($1.0 - 1) * $1.1 }
        let x = randomArray(count: span, seed: UInt64(k))
        var out = [Float](repeating: .nan, count: dims.reduce(1, *))
        ew_copy_strided(&out, x, st, dims, Int32(dims.count))
        #expect(out == offsets(dims, [st])[0].map { x[$0] }, "case \(k) \(dims) \(st)")
    }
}

@Test func unaryMapsMatchLibm() {
    let n = 1001
    let x = randomArray(count: n, seed: 5, lo: -6, hi: 6)
    let pos = randomArray(count: n, seed: 6, lo: 0.01, hi: 10)
    func softplus(_ v: Float) -> Float { Float(log1p(exp(Double(v)))) }
    func sigmoid(_ v: Float) -> Float { Float(1 / (1 + exp(-Double(v)))) }
    let ops: [(Int32, [Float], (Float) -> Float, String)] = [
        (Int32(CK_NEG), x, { -$0 }, "neg"), (Int32(CK_EXP), x, { Foundation.exp($0) }, "exp"),
        (Int32(CK_LOG), pos, { Foundation.log($0) }, "log"), (Int32(CK_SQRT), pos, { $0.squareRoot() }, "sqrt"),
        (Int32(CK_SOFTPLUS), x, softplus, "softplus"), (Int32(CK_SIGMOID), x, sigmoid, "sigmoid"),
        (Int32(CK_RELU), x, { max($0, 0) }, "relu"), (Int32(CK_SQUARE), x, { $0 * $0 }, "square"),
        (Int32(CK_RSQRT), pos, { 1 / $0.squareRoot() }, "rsqrt"), (Int32(CK_ABS), x, { abs($0) }, "abs"),
        (Int32(CK_STEP), x, { $0 > 0 ? 1 : 0 }, "step"),
    ]
    var report: [String] = []
    for (op, input, f, name) in ops {
        var out = [Float](repeating: .nan, count: n)
        ew_unary(op, &out, input, n)
        let want = input.map(f)
        let rel = zip(out, want).map { abs(Double($0) - Double($1)) / max(abs(Double($1)), 1e-3) }.max()!
        #expect(rel <= 1e-6, "\(name)")
        report.append("\(name) \(rel)")
    }
    print("ew_unary vs libm: max rel diff per op (tol 1e-6): " + report.joined(separator: ", "))

    // Extremes: no overflow to inf or NaN.
    let big: [Float] = [-1000, -100, -20, 0, 20, 100, 1000]
    var sp = [Float](repeating: .nan, count: big.count), sg = sp
    ew_unary(Int32(CK_SOFTPLUS), &sp, big, big.count)
    ew_unary(Int32(CK_SIGMOID), &sg, big, big.count)
    #expect(sp[0] == 0 && sp[6] == 1000 && sp[5] == 100 && abs(sp[3] - Float(log(2.0))) < 1e-7)
    #expect(sg[0] == 0 && sg[6] == 1 && sg[3] == 0.5)
    #expect(!sp.contains { !$0.isFinite } && !sg.contains { !$0.isFinite })
}

@Test func affineAndLerp() {
    for n in [1, 13, 200_001] {
        let x = randomArray(count: n, seed: 7), y = randomArray(count: n, seed: 8)
        // 1e-6: a fused multiply-add, if the compiler forms one, may round once less
        var out = [Float](repeating: .nan, count: n)
        ew_affine(&out, x, 1.5, -0.25, n)
        #expect(maxAbsDifference(out, x.map { 1.5 * $0 - 0.25 }) <= 1e-6)
        ew_lerp(&out, x, y, 0.3, n)
        let want = zip(x, y).map { $0 + 0.3 * ($1 - $0) }
        #expect(maxAbsDifference(out, want) <= 1e-6)
        var a = x // in place, as the EMA update uses it
        a.withUnsafeMutableBufferPointer { p in ew_lerp(p.baseAddress, p.baseAddress, y, 0.3, n) }
        #expect(maxAbsDifference(a, want) <= 1e-6)
    }
}

@Test func reduceSumMatchesReference() {
    // The reductions the autograd needs, then every axis subset of a few 4-D and 3-D shapes.
    var cases: [([Int], [Int])] = [
        ([4, 8, 5, 5], [1, 8, 1, 1]), ([4, 8, 5, 5], [4, 8, 1, 1]), ([4, 8, 5, 5], [1, 1, 1, 1]),
        ([6, 11], [1, 11]), ([6, 11], [6, 1]), ([1, 3, 7, 7], [1, 3, 1, 1]), ([5], [1]),
        ([16, 64, 16, 16], [1, 64, 1, 1]), ([16, 64, 16, 16], [16, 64, 1, 1]), ([64, 4096], [1, 4096]),
        ([1, 1, 1], [1, 1, 1]), ([3, 4], [3, 4]),
    ]
    for shape in [[2, 3, 4, 5], [3, 1, 7], [1, 5, 2, 3, 2]] {
        for mask in 0..<(1 << shape.count) {
            cases.append((shape, shape.indices.map { mask >> $0 & 1 == 1 ? 1 : shape[$0] }))
        }
    }
    var worst = 0.0
    for (k, (xd, od)) in cases.enumerated() {
        let x = randomArray(count: xd.reduce(1, *), seed: UInt64(k))
        var out = [Float](repeating: .nan, count: od.reduce(1, *)), ref = out
        reduce_sum(&out, od, x, xd, Int32(xd.count))
        reduce_sum_ref(&ref, od, x, xd, Int32(xd.count))
        let scale = Double(xd.reduce(1, *) / od.reduce(1, *)).squareRoot()
        let d = maxAbsDifference(out, ref) / scale
        #expect(d <= 1e-6, "case \(k): \(xd) -> \(od)")
        worst = max(worst, d)
    }
    // Known answer: column and row sums of [[1, 2, 3], [4, 5, 6]].
    var cols: [Float] = [0, 0, 0], rows: [Float] = [0, 0]
    reduce_sum(&cols, [1, 3], [1, 2, 3, 4, 5, 6], [2, 3], 2)
    reduce_sum(&rows, [2, 1], [1, 2, 3, 4, 5, 6], [2, 3], 2)
    #expect(cols == [5, 7, 9] && rows == [6, 15])
    print("reduce_sum fast vs ref: max |diff| / sqrt(terms) = \(worst) over \(cases.count) cases (tol 1e-6)")
}

@Test func wholeArrayHelpers() {
    let n = 100_003
    let x = randomArray(count: n, seed: 9)
    let want = x.reduce(0.0) { $0 + Double($1) }
    // The whole-array sum (reduce_sum to one element) is the double sum rounded once.
    var s: Float = 0
    reduce_sum(&s, [1], x, [n], 1)
    print("reduce_sum to a scalar vs double loop: |diff| = \(abs(Double(s) - want)) (tol: one float ulp)")
    #expect(abs(Double(s) - want) <= Double(Float(want).ulp))
    var y = x
    y[77_777] += 0.5
    #expect(abs(max_abs_diff(x, y, n) - Double(abs(y[77_777] - x[77_777]))) < 1e-12)
    #expect(max_abs_diff(x, x, n) == 0)
    y[5] = .nan
    #expect(max_abs_diff(x, y, n).isNaN)
    #expect(has_nonfinite(x, n) == 0)
    #expect(has_nonfinite(y, n) == 1)
    var z = x
    z[n - 1] = -.infinity
    #expect(has_nonfinite(z, n) == 1)
}
